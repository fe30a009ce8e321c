#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The simulator against real HTTP: auth, delivery, retry keys, rate limits, faults,
//! signed webhooks with redelivery, narrowcast progress and the api-data host (M03, M04, M20);
//! LIFF and ID tokens, delivery at scale, audiences and insight (issue 6). One test binary.

mod insight;
mod liff;
mod scale;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hiroba_line_sim::{RateLimit, RateLimits, SimConfig, SimHandle, sign, spawn};
use serde_json::{Value, json};

const TOKEN: &str = "test-token";
const SECRET: &str = "test-secret";
const ALICE: &str = "U0123456789abcdef0123456789abcdef";

async fn sim() -> SimHandle {
    sim_with(SimConfig::default()).await
}

async fn sim_with(config: SimConfig) -> SimHandle {
    let sim = spawn(config).await.unwrap();
    sim.add_user(ALICE, "国富 花子", Some("https://example.com/a.png"));
    sim
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn call(
    sim: &SimHandle,
    path: &str,
    body: &Value,
    key: Option<&str>,
) -> (u16, HeaderMap, Value) {
    let mut req = client()
        .post(format!("{}{path}", sim.api_base()))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(k) = key {
        req = req.header("x-line-retry-key", k);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

async fn get(sim: &SimHandle, path: &str) -> (u16, Value) {
    let r = client()
        .get(format!("{}{path}", sim.api_base()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (
        status,
        serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null),
    )
}

fn push_body(text: &str) -> Value {
    json!({ "to": ALICE, "messages": [{ "type": "text", "text": text }] })
}

#[tokio::test]
async fn refuses_missing_or_wrong_token() {
    let sim = sim().await;
    let url = format!("{}/v2/bot/info", sim.api_base());
    let r = client().get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("x-line-request-id"));
    let r = client()
        .get(&url)
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Authentication failed")
    );
    let (status, body) = get(&sim, "/v2/bot/info").await;
    assert_eq!(status, 200);
    assert_eq!(body["chatMode"], "bot");
    assert_eq!(sim.requests_to("GET /v2/bot/info"), 3);
}

#[tokio::test]
async fn push_delivers_and_counts() {
    let sim = sim().await;
    let (status, headers, body) =
        call(&sim, "/v2/bot/message/push", &push_body("こんにちは"), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["sentMessages"].as_array().unwrap().len(), 1);
    let rid = headers["x-line-request-id"].to_str().unwrap().to_owned();
    assert_eq!(sim.delivered_to(ALICE), 1);
    assert_eq!(sim.requests_to("POST /v2/bot/message/push"), 1);
    let inbox = sim.inbox(ALICE);
    assert_eq!(inbox[0].message["text"], "こんにちは");
    assert_eq!(inbox[0].request_id.as_deref(), Some(rid.as_str()));
    assert_eq!(sim.delivered_for_request(&rid), Some(1));

    // LINE-style 400 with details.
    let bad = json!({ "to": ALICE, "messages": [{ "type": "text", "text": "x".repeat(5001) }] });
    let (status, _, body) = call(&sim, "/v2/bot/message/push", &bad, None).await;
    assert_eq!(status, 400);
    assert_eq!(body["message"], "The request body has 1 error(s)");
    assert_eq!(body["details"][0]["property"], "messages[0].text");
    assert_eq!(sim.delivered_to(ALICE), 1);
}

#[tokio::test]
async fn retry_key_answers_409_and_does_not_deliver_twice() {
    let sim = sim().await;
    let key = "123e4567-e89b-12d3-a456-426614174000";
    let (status, h1, first) = call(
        &sim,
        "/v2/bot/message/push",
        &push_body("一回だけ"),
        Some(key),
    )
    .await;
    assert_eq!(status, 200);
    let (status, h2, again) = call(
        &sim,
        "/v2/bot/message/push",
        &push_body("一回だけ"),
        Some(key),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(h2["x-line-accepted-request-id"], h1["x-line-request-id"]);
    assert_eq!(again["message"], "The retry key is already accepted");
    assert_eq!(again["sentMessages"], first["sentMessages"]);
    assert_eq!(sim.delivered_to(ALICE), 1);
    assert_eq!(sim.duplicates_suppressed(), 1);

    let (status, _, _) = call(
        &sim,
        "/v2/bot/message/push",
        &push_body("x"),
        Some("not-a-uuid"),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn rate_limit_answers_429() {
    let config = SimConfig {
        rate_limits: RateLimits {
            push_reply: RateLimit::per_hour(2),
            ..RateLimits::default()
        },
        ..SimConfig::default()
    };
    let sim = sim_with(config).await;
    for _ in 0..2 {
        assert_eq!(
            call(&sim, "/v2/bot/message/push", &push_body("a"), None)
                .await
                .0,
            200
        );
    }
    let (status, _, body) = call(&sim, "/v2/bot/message/push", &push_body("a"), None).await;
    assert_eq!(status, 429);
    assert_eq!(
        body["message"],
        "The API rate limit has been exceeded. Try again later."
    );
    assert_eq!(sim.delivered_to(ALICE), 2);
    assert_eq!(sim.counters().rate_limited, 1);
}

#[tokio::test]
async fn injected_500_then_success_delivers_once() {
    let sim = sim().await;
    sim.fail_next("POST /v2/bot/message/push", 1);
    let key = "0d8c8a4f-8a55-4d43-9b1e-6f1f7c6c0a11";
    let (status, _, _) = call(
        &sim,
        "/v2/bot/message/push",
        &push_body("再試行"),
        Some(key),
    )
    .await;
    assert_eq!(status, 500);
    assert_eq!(sim.delivered_to(ALICE), 0);
    let (status, _, _) = call(
        &sim,
        "/v2/bot/message/push",
        &push_body("再試行"),
        Some(key),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(sim.delivered_to(ALICE), 1);
    assert_eq!(sim.counters().faults_injected, 1);
}

#[tokio::test]
async fn timed_out_response_then_retry_gets_409() {
    let sim = sim().await;
    sim.timeout_next("POST /v2/bot/message/push", 1, Duration::from_secs(5));
    let key = "5b1a0f0e-3f3e-4c2e-8d55-0123456789ab";
    let short = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let r = short
        .post(format!("{}/v2/bot/message/push", sim.api_base()))
        .bearer_auth(TOKEN)
        .header("x-line-retry-key", key)
        .header("content-type", "application/json")
        .body(push_body("遅い").to_string())
        .send()
        .await;
    assert!(r.is_err(), "the client should have timed out");
    let (status, headers, _) =
        call(&sim, "/v2/bot/message/push", &push_body("遅い"), Some(key)).await;
    assert_eq!(status, 409);
    assert!(headers.contains_key("x-line-accepted-request-id"));
    assert_eq!(sim.delivered_to(ALICE), 1);
}

/// A tiny "Hiroba webhook" capturing bodies; answers the queued statuses, then 200.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(String, Value)>>>,
    statuses: Arc<Mutex<Vec<u16>>>,
}

async fn receiver() -> (String, Receiver) {
    let rec = Receiver::default();
    let r2 = rec.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let rec = r2.clone();
            async move {
                let sig = headers["x-line-signature"].to_str().unwrap().to_owned();
                assert_eq!(sig, sign(SECRET, &body), "signature must verify");
                let v: Value = serde_json::from_slice(&body).unwrap();
                rec.got.lock().unwrap().push((sig, v));
                let next = {
                    let mut s = rec.statuses.lock().unwrap();
                    if s.is_empty() { 200 } else { s.remove(0) }
                };
                StatusCode::from_u16(next).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), rec)
}

#[test]
fn own_hmac_check() {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let body = br#"{"destination":"U1","events":[]}"#;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(sign(SECRET, body), expected);
}

#[tokio::test]
async fn webhooks_are_signed_and_line_shaped() {
    let (url, rec) = receiver().await;
    let sim = sim().await;
    sim.set_webhook_url(Some(&url));
    let out = sim.follow(ALICE).await.unwrap();
    assert!(out.delivered);
    assert_eq!(out.attempts, 1);
    sim.send_text(ALICE, "予約したい").await.unwrap();
    sim.send_location(ALICE, "国富町役場", 31.99, 131.32)
        .await
        .unwrap();
    sim.postback(ALICE, "action=menu").await.unwrap();
    sim.unfollow(ALICE).await.unwrap();
    let got = rec.got.lock().unwrap().clone();
    assert_eq!(got.len(), 5);
    let types: Vec<&str> = got
        .iter()
        .map(|(_, v)| v["events"][0]["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["follow", "message", "message", "postback", "unfollow"]
    );
    for (_, v) in &got {
        let e = &v["events"][0];
        assert_eq!(v["destination"], sim.config().bot_user_id);
        assert_eq!(e["source"], json!({ "type": "user", "userId": ALICE }));
        assert_eq!(e["webhookEventId"].as_str().unwrap().len(), 26);
        assert_eq!(e["deliveryContext"]["isRedelivery"], false);
        assert_eq!(e["mode"], "active");
        assert!(e["timestamp"].as_i64().unwrap() > 0);
        assert_eq!(e.get("replyToken").is_some(), e["type"] != "unfollow");
    }
    assert_eq!(got[1].1["events"][0]["message"]["text"], "予約したい");
    assert_eq!(got[2].1["events"][0]["message"]["latitude"], 31.99);
    assert_eq!(got[3].1["events"][0]["postback"]["data"], "action=menu");

    // The follow's reply token works once.
    let reply = json!({ "replyToken": out.reply_token, "messages": [{ "type": "text", "text": "ようこそ" }] });
    assert_eq!(
        call(&sim, "/v2/bot/message/reply", &reply, None).await.0,
        200
    );
    let (status, _, body) = call(&sim, "/v2/bot/message/reply", &reply, None).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (400, Some("Invalid reply token"))
    );
    assert_eq!(sim.counters().webhooks_sent, 5);
}

#[tokio::test]
async fn redelivers_with_same_event_id_when_receiver_fails() {
    let (url, rec) = receiver().await;
    rec.statuses.lock().unwrap().extend([500, 503]);
    let config = SimConfig {
        webhook_url: Some(url),
        webhook_backoff: Duration::from_millis(10),
        ..SimConfig::default()
    };
    let sim = sim_with(config).await;
    let out = sim.send_text(ALICE, "届きますか").await.unwrap();
    assert!(out.delivered);
    assert_eq!(out.attempts, 3);
    let got = rec.got.lock().unwrap().clone();
    assert_eq!(got.len(), 3);
    let ids: Vec<&Value> = got
        .iter()
        .map(|(_, v)| &v["events"][0]["webhookEventId"])
        .collect();
    assert!(ids.iter().all(|i| **i == json!(out.webhook_event_id)));
    let redelivery: Vec<bool> = got
        .iter()
        .map(|(_, v)| {
            v["events"][0]["deliveryContext"]["isRedelivery"]
                .as_bool()
                .unwrap()
        })
        .collect();
    assert_eq!(redelivery, [false, true, true]);
    let c = sim.counters();
    assert_eq!(
        (c.webhooks_sent, c.webhooks_redelivered, c.webhooks_failed),
        (1, 2, 0)
    );

    // Never 200: gives up after the configured redeliveries.
    rec.statuses.lock().unwrap().extend([500, 500, 500, 500]);
    let out = sim.postback(ALICE, "x").await.unwrap();
    assert!(!out.delivered);
    assert_eq!(out.attempts, 4);
    assert_eq!(out.last_status, Some(500));
    assert_eq!(sim.counters().webhooks_failed, 1);
}

#[tokio::test]
async fn narrowcast_progress_waits_then_succeeds() {
    let (url, _rec) = receiver().await;
    let config = SimConfig {
        webhook_url: Some(url),
        narrowcast_delay: Duration::from_millis(200),
        ..SimConfig::default()
    };
    let sim = sim_with(config).await;
    let bob = "Ufedcba9876543210fedcba9876543210";
    sim.add_user(bob, "国富 太郎", None);
    sim.follow(ALICE).await.unwrap();
    sim.follow(bob).await.unwrap();
    let body = json!({ "messages": [{ "type": "text", "text": "お知らせ" }] });
    let (status, headers, _) = call(
        &sim,
        "/v2/bot/message/narrowcast",
        &body,
        Some("9f1c2d3e-4b5a-4c6d-8e7f-001122334455"),
    )
    .await;
    assert_eq!(status, 202);
    let rid = headers["x-line-request-id"].to_str().unwrap().to_owned();
    let (_, p) = get(
        &sim,
        &format!("/v2/bot/message/progress/narrowcast?requestId={rid}"),
    )
    .await;
    assert_eq!(p["phase"], "waiting");
    tokio::time::sleep(Duration::from_millis(250)).await;
    let (_, p) = get(
        &sim,
        &format!("/v2/bot/message/progress/narrowcast?requestId={rid}"),
    )
    .await;
    assert_eq!(p["phase"], "succeeded");
    assert_eq!(p["successCount"], 2);
    assert_eq!(sim.delivered_to(bob), 1);
    let (_, ev) = get(
        &sim,
        &format!("/v2/bot/insight/message/event?requestId={rid}"),
    )
    .await;
    assert_eq!(ev["overview"]["delivered"], 2);
    let (_, f) = get(&sim, "/v2/bot/insight/followers?date=20250401").await;
    assert_eq!(f["followers"], 2);
    let (_, ids) = get(&sim, "/v2/bot/followers/ids?limit=1").await;
    assert_eq!(ids["userIds"], json!([ALICE]));
    assert_eq!(ids["next"], "1");
    let (status, prof) = get(&sim, &format!("/v2/bot/profile/{bob}")).await;
    assert_eq!(
        (status, prof["displayName"].as_str()),
        (200, Some("国富 太郎"))
    );
}

#[tokio::test]
async fn rich_menu_image_round_trip_on_api_data() {
    let sim = sim().await;
    let menu = json!({
        "size": { "width": 2500, "height": 843 },
        "selected": true,
        "name": "メイン",
        "chatBarText": "メニュー",
        "areas": [{ "bounds": { "x": 0, "y": 0, "width": 1250, "height": 843 },
                    "action": { "type": "postback", "data": "action=reserve" } }],
    });
    let (status, _, created) = call(&sim, "/v2/bot/richmenu", &menu, None).await;
    assert_eq!(status, 200);
    let id = created["richMenuId"].as_str().unwrap().to_owned();
    let png: Vec<u8> = (0..2048u32).map(|i| (i * 7 % 251) as u8).collect();
    // The image lives on api-data, not api.
    let on_api = client()
        .post(format!("{}/v2/bot/richmenu/{id}/content", sim.api_base()))
        .bearer_auth(TOKEN)
        .header("content-type", "image/png")
        .body(png.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(on_api.status(), 404);
    let up = client()
        .post(format!(
            "{}/v2/bot/richmenu/{id}/content",
            sim.api_data_base()
        ))
        .bearer_auth(TOKEN)
        .header("content-type", "image/png")
        .body(png.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(up.status(), 200);
    let down = client()
        .get(format!(
            "{}/v2/bot/richmenu/{id}/content",
            sim.api_data_base()
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(down.headers()["content-type"], "image/png");
    assert_eq!(down.bytes().await.unwrap().to_vec(), png);

    // Default menu, per-user link, alias.
    assert_eq!(
        call(
            &sim,
            &format!("/v2/bot/user/all/richmenu/{id}"),
            &json!({}),
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(
        call(
            &sim,
            &format!("/v2/bot/user/{ALICE}/richmenu/{id}"),
            &json!({}),
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(
        sim.user(ALICE).unwrap().rich_menu.as_deref(),
        Some(id.as_str())
    );
    let alias = json!({ "richMenuAliasId": "main", "richMenuId": id });
    assert_eq!(
        call(&sim, "/v2/bot/richmenu/alias", &alias, None).await.0,
        200
    );
    let (_, list) = get(&sim, "/v2/bot/richmenu/list").await;
    assert_eq!(list["richmenus"][0]["name"], "メイン");
    let (_, a) = get(&sim, "/v2/bot/richmenu/alias/main").await;
    assert_eq!(a["richMenuId"], json!(id));

    // On /sim the menu is an image button; a tap in the left half sends the area's postback.
    let (url, rec) = receiver().await;
    sim.set_webhook_url(Some(&url));
    let chat = client()
        .get(format!("{}/sim/u/{ALICE}", sim.api_base()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(chat.contains("type=\"image\" name=\"tap\""), "{chat}");
    let r = client()
        .post(format!("{}/sim/u/{ALICE}/tap", sim.api_base()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("menu={id}&tap.x=40&tap.y=20"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    for _ in 0..50 {
        if !rec.got.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        rec.got.lock().unwrap()[0].1["events"][0]["postback"]["data"],
        "action=reserve"
    );
}

#[tokio::test]
async fn sim_page_renders_chat_and_sends_webhooks_from_forms() {
    let (url, rec) = receiver().await;
    let sim = sim_with(SimConfig {
        webhook_url: Some(url),
        ..SimConfig::default()
    })
    .await;
    let page = client()
        .get(sim.page_url())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("国富 花子") && page.contains("友だち追加"));

    // A form on the page sends a signed follow webhook (in the background).
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_redirect
        .post(format!("{}/sim/u/{ALICE}/follow", sim.api_base()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    for _ in 0..50 {
        if !rec.got.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(rec.got.lock().unwrap()[0].1["events"][0]["type"], "follow");

    // Text with a LINE emoji, a flex bubble with a button, and quick replies.
    let body = json!({ "to": ALICE, "messages": [
        { "type": "text", "text": "$ ようこそ", "emojis": [{ "index": 0, "productId": "p1", "emojiId": "001" }] },
        { "type": "flex", "altText": "予約", "contents": { "type": "bubble", "body": { "type": "box", "layout": "vertical", "contents": [
            { "type": "text", "text": "体育館", "weight": "bold" },
            { "type": "button", "action": { "type": "postback", "label": "予約する", "data": "reserve=1" } }
        ] } } },
        { "type": "text", "text": "選んでください", "quickReply": { "items": [
            { "type": "action", "action": { "type": "message", "label": "はい", "text": "はい" } }
        ] } }
    ] });
    assert_eq!(call(&sim, "/v2/bot/message/push", &body, None).await.0, 200);
    let chat = client()
        .get(format!("{}/sim/u/{ALICE}", sim.api_base()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(chat.contains("class=\"lp-emoji\""), "{chat}");
    assert!(chat.contains("体育館") && chat.contains("予約する"));
    assert!(chat.contains("クイックリプライ") && chat.contains("はい"));
    assert!(!chat.contains("<script>"), "no inline script");

    // Tapping the quick reply sends a text message webhook.
    let r = no_redirect
        .post(format!("{}/sim/u/{ALICE}/action", sim.api_base()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("kind=message&text=%E3%81%AF%E3%81%84")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    for _ in 0..50 {
        if rec.got.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        rec.got.lock().unwrap()[1].1["events"][0]["message"]["text"],
        "はい"
    );
}
