//! LIFF identity (issue 6): the simulator issues ID tokens as LINE does, the client in
//! crates/line verifies them at the simulator's `/oauth2/v2.1/verify`, and a simulated user
//! reaches a LIFF page through a single-use code, never a user id in the URL.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hiroba_line::client::{Client, ClientConfig};
use hiroba_line::{IdTokenError, IdTokenRefusal};
use hiroba_line_sim::{SimConfig, SimHandle};
use serde_json::{Value, json};

use super::{ALICE, call, client, sim_with};

const ENDPOINT: &str = "http://127.0.0.1:9/liff";
const ORIGIN: &str = "http://127.0.0.1:9";

fn liff_config() -> SimConfig {
    SimConfig {
        liff_endpoint_url: Some(ENDPOINT.to_owned()),
        ..SimConfig::default()
    }
}

/// A client for LINE Login: no channel access token needed.
fn login_client(sim: &SimHandle) -> Client {
    let mut c = ClientConfig::new("");
    c.api_base = sim.api_base();
    c.max_retries = 0;
    Client::new(c).unwrap()
}

fn refusal(r: Result<hiroba_line::IdTokenClaims, IdTokenError>) -> IdTokenRefusal {
    match r {
        Err(IdTokenError::Refused { reason, .. }) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn issued_tokens_verify_and_forged_ones_do_not() {
    let sim = sim_with(liff_config()).await;
    let channel = sim.config().login_channel_id.clone();
    let token = sim.issue_id_token(ALICE).unwrap();
    let c = login_client(&sim);
    let claims = c.verify_id_token(&token, &channel).await.unwrap();
    assert_eq!(claims.iss, "https://access.line.me");
    assert_eq!(claims.sub, ALICE);
    assert_eq!(claims.aud, channel);
    assert_eq!(claims.exp - claims.iat, 3600);
    assert_eq!(claims.name.as_deref(), Some("国富 花子"));
    assert_eq!(claims.picture.as_deref(), Some("https://example.com/a.png"));
    assert_eq!(sim.requests_to("POST /oauth2/v2.1/verify"), 1);

    // Tampered payload (another user), same signature.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    payload["sub"] = json!("Ufedcba9876543210fedcba9876543210");
    parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
    let forged = parts.join(".");
    assert_eq!(
        refusal(c.verify_id_token(&forged, &channel).await),
        IdTokenRefusal::Invalid
    );
    // Wrong channel.
    assert_eq!(
        refusal(c.verify_id_token(&token, "1999999999").await),
        IdTokenRefusal::Audience
    );
    // Garbage, and a token of another LINE (another signing secret).
    assert_eq!(
        refusal(c.verify_id_token("not.a.jwt", &channel).await),
        IdTokenRefusal::Invalid
    );
    let other = sim_with(SimConfig {
        login_channel_secret: "another-secret".into(),
        ..liff_config()
    })
    .await;
    let foreign = other.issue_id_token(ALICE).unwrap();
    assert_eq!(
        refusal(c.verify_id_token(&foreign, &channel).await),
        IdTokenRefusal::Invalid
    );
    // LINE-shaped 400 body.
    let r = client()
        .post(format!("{}/oauth2/v2.1/verify", sim.api_base()))
        .form(&[("id_token", token.as_str()), ("client_id", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error":"invalid_request","error_description":"Invalid IdToken Audience."})
    );
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let sim = sim_with(SimConfig {
        id_token_ttl: Duration::ZERO,
        ..liff_config()
    })
    .await;
    let token = sim.issue_id_token(ALICE).unwrap();
    let channel = sim.config().login_channel_id.clone();
    let e = login_client(&sim)
        .verify_id_token(&token, &channel)
        .await
        .unwrap_err();
    assert!(e.is_refused());
    match e {
        IdTokenError::Refused {
            reason,
            description,
            ..
        } => {
            assert_eq!(reason, IdTokenRefusal::Expired);
            assert_eq!(description, "IdToken expired.");
            assert!(!description.contains(&token));
        }
        other => panic!("{other:?}"),
    }
}

fn no_redirect() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn exchange(sim: &SimHandle, code: &str, origin: Option<&str>) -> reqwest::Response {
    let liff_id = sim.config().liff_id.clone();
    let mut req = client()
        .post(format!("{}/liff/token", sim.api_base()))
        .form(&[("code", code), ("liffId", liff_id.as_str())]);
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    req.send().await.unwrap()
}

fn code_of(location: &str) -> String {
    location.split("liff-sim-code=").nth(1).unwrap().to_owned()
}

#[tokio::test]
async fn a_tap_on_a_liff_link_opens_the_endpoint_with_a_single_use_code() {
    let sim = sim_with(liff_config()).await;
    let liff_id = sim.config().liff_id.clone();
    // The bot sends a LIFF link as a button and as text.
    let liff_url = format!("https://liff.line.me/{liff_id}/forms/1?from=greeting");
    let body = json!({ "to": ALICE, "messages": [
        { "type": "flex", "altText": "アンケート", "contents": { "type": "bubble",
          "footer": { "type": "box", "layout": "vertical", "contents": [
            { "type": "button", "action": { "type": "uri", "label": "回答する", "uri": liff_url } }
          ] } } },
        { "type": "text", "text": format!("こちらから {ENDPOINT}/forms/2 どうぞ") }
    ] });
    assert_eq!(call(&sim, "/v2/bot/message/push", &body, None).await.0, 200);
    let page = client()
        .get(format!("{}/sim/u/{ALICE}", sim.api_base()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let form = format!("action=\"/sim/u/{ALICE}/liff\"");
    assert_eq!(page.matches(&form).count(), 2, "{page}");
    assert!(page.contains("回答する ↗"));

    // Tapping opens the endpoint (LIFF URL mapped), the code in the fragment only.
    let r = no_redirect()
        .post(format!("{}/sim/u/{ALICE}/liff", sim.api_base()))
        .form(&[("url", liff_url.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("{ENDPOINT}/forms/1?from=greeting#liff-sim-code=")),
        "{location}"
    );
    assert!(!location.contains(ALICE), "no user id in the URL");
    let code = code_of(&location);

    // Preflight and exchange from the endpoint's origin.
    let pre = client()
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/liff/token", sim.api_base()),
        )
        .header("origin", ORIGIN)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 204);
    assert_eq!(pre.headers()["access-control-allow-origin"], ORIGIN);
    let r = exchange(&sim, &code, Some(ORIGIN)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], ORIGIN);
    let j: Value = r.json().await.unwrap();
    assert_eq!(j["context"]["type"], "utou");
    assert_eq!(j["context"]["liffId"], liff_id.as_str());
    assert_eq!(j["closePath"], format!("/sim/u/{ALICE}"));
    let token = j["idToken"].as_str().unwrap();
    let channel = sim.config().login_channel_id.clone();
    let claims = login_client(&sim)
        .verify_id_token(token, &channel)
        .await
        .unwrap();
    assert_eq!(claims.sub, ALICE);

    // Single use.
    let again = exchange(&sim, &code, Some(ORIGIN)).await;
    assert_eq!(again.status(), 400);
    let j: Value = again.json().await.unwrap();
    assert_eq!(j["error"], "invalid_grant");

    // Another origin may not exchange (and does not burn) a code.
    let url = sim.liff_open_url(ALICE, &format!("{ENDPOINT}/x")).unwrap();
    let code = code_of(&url);
    let evil = exchange(&sim, &code, Some("https://evil.example")).await;
    assert_eq!(evil.status(), 403);
    assert!(evil.headers().get("access-control-allow-origin").is_none());
    assert_eq!(exchange(&sim, &code, Some(ORIGIN)).await.status(), 200);

    // Not LIFF links: nothing to open.
    assert_eq!(sim.liff_open_url(ALICE, "https://example.com/"), None);
    assert_eq!(
        sim.liff_open_url(ALICE, "https://liff.line.me/1999999999-Other/x"),
        None
    );
}

#[tokio::test]
async fn codes_expire() {
    let sim = sim_with(SimConfig {
        liff_code_ttl: Duration::ZERO,
        ..liff_config()
    })
    .await;
    let url = sim.liff_open_url(ALICE, ENDPOINT).unwrap();
    let r = exchange(&sim, &code_of(&url), Some(ORIGIN)).await;
    assert_eq!(r.status(), 400);
    let j: Value = r.json().await.unwrap();
    assert_eq!(j["error_description"], "The code has expired.");
}

#[tokio::test]
async fn the_sdk_stand_in_and_the_login_page_are_served() {
    let sim = sim_with(liff_config()).await;
    let r = client().get(sim.liff_sdk_url()).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let js = r.text().await.unwrap();
    for api in [
        "window.liff",
        "init:",
        "isLoggedIn:",
        "isInClient:",
        "getIDToken:",
        "getDecodedIDToken:",
        "closeWindow:",
        "getContext:",
        "liff-sim-code",
        "/liff/token",
        "history.replaceState",
    ] {
        assert!(js.contains(api), "{api} missing");
    }
    assert!(js.len() < 8 * 1024, "small: {} bytes", js.len());

    // liff.login() outside the chat view: pick a user, come back with a code.
    let back = format!("{ENDPOINT}/forms/1");
    let page = client()
        .get(format!("{}/liff/login", sim.api_base()))
        .query(&[("redirectUri", back.as_str())])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("国富 花子"), "{page}");
    let r = no_redirect()
        .post(format!("{}/liff/login", sim.api_base()))
        .form(&[("redirectUri", back.as_str()), ("userId", ALICE)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap();
    assert!(location.starts_with(&format!("{back}#liff-sim-code=")));
    // Never to another site.
    let r = client()
        .get(format!("{}/liff/login", sim.api_base()))
        .query(&[("redirectUri", "https://evil.example/")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
