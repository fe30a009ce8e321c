//! The client against a tiny in-test LINE stand-in (axum on port 0): chunking, retry keys,
//! backoff, 409, request ids, the api-data host, client-side rate limits (issue 5).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hiroba_line::client::{Client, ClientConfig, Error};
use hiroba_line::message::Message;
use hiroba_line::ratelimit::{EndpointGroup, RateLimit, RateLimits};
use serde_json::{Value, json};

#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Seen {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }
}

type Script = Arc<dyn Fn(&Seen, usize) -> Response + Send + Sync>;

struct Fake {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Fake {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn fake(script: Script) -> Fake {
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let seen2 = seen.clone();
    let app = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let seen = seen2.clone();
            let script = script.clone();
            async move {
                let s = Seen {
                    method,
                    path: uri.path().to_owned(),
                    headers,
                    body,
                };
                let n = {
                    let mut v = seen.lock().unwrap();
                    v.push(s.clone());
                    v.len()
                };
                // `/slow-once/...` is slow on the first request only, `/slow/...` always.
                if s.path.starts_with("/slow/") || (s.path.starts_with("/slow-once/") && n == 1) {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                script(&s, n)
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Fake {
        base: format!("http://{addr}"),
        seen,
    }
}

fn ok_json(body: Value, request_id: &str) -> Response {
    (
        StatusCode::OK,
        [("x-line-request-id", request_id.to_owned())],
        axum::Json(body),
    )
        .into_response()
}

fn config(api: &str, data: &str) -> ClientConfig {
    let mut c = ClientConfig::new("test-token");
    c.api_base = api.to_owned();
    c.api_data_base = data.to_owned();
    c.backoff_base = Duration::from_millis(1);
    c.backoff_cap = Duration::from_millis(5);
    c.timeout = Duration::from_secs(5);
    c.rate_limits = RateLimits::unlimited();
    c
}

fn client(api: &str) -> Client {
    Client::new(config(api, api)).unwrap()
}

#[tokio::test]
async fn multicast_of_1234_is_three_requests_of_at_most_500() {
    let f = fake(Arc::new(|_, n| ok_json(json!({}), &format!("req-{n}")))).await;
    let c = client(&f.base);
    let to: Vec<String> = (0..1234).map(|i| format!("U{i:032x}")).collect();
    let out = c
        .multicast(&to, &[Message::text("お知らせ")])
        .await
        .unwrap();
    assert!(out.all_ok());
    assert_eq!(out.accepted_recipients(), 1234);
    let seen = f.seen();
    assert_eq!(seen.len(), 3);
    let sizes: Vec<usize> = seen
        .iter()
        .map(|s| s.json()["to"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, vec![500, 500, 234]);
    let mut keys: Vec<String> = seen
        .iter()
        .map(|s| s.header("x-line-retry-key").unwrap())
        .collect();
    keys.dedup();
    assert_eq!(keys.len(), 3, "each chunk has its own retry key");
    assert!(seen.iter().all(|s| s.path == "/v2/bot/message/multicast"));
    assert_eq!(
        seen[0].header("authorization").as_deref(),
        Some("Bearer test-token")
    );
    let metas: Vec<_> = out
        .chunks
        .iter()
        .map(|c| c.result.as_ref().unwrap().request_id.clone().unwrap())
        .collect();
    assert_eq!(metas, vec!["req-1", "req-2", "req-3"]);
}

#[tokio::test]
async fn a_500_then_200_is_delivered_once_with_the_same_key() {
    let f = fake(Arc::new(|_, n| {
        if n == 1 {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(json!({"message":"boom"})),
            )
                .into_response()
        } else {
            ok_json(json!({"sentMessages":[{"id":"m1"}]}), "req-ok")
        }
    }))
    .await;
    let c = client(&f.base);
    let r = c.push("Uabc", &[Message::text("hi")]).await.unwrap();
    assert_eq!(r.meta.attempts, 2);
    assert_eq!(r.meta.request_id.as_deref(), Some("req-ok"));
    assert_eq!(r.data.sent_messages[0].id, "m1");
    let seen = f.seen();
    assert_eq!(seen.len(), 2);
    let k1 = seen[0].header("x-line-retry-key").unwrap();
    let k2 = seen[1].header("x-line-retry-key").unwrap();
    assert_eq!(k1, k2);
    assert_eq!(r.meta.retry_key.as_deref(), Some(k1.as_str()));
}

#[tokio::test]
async fn a_timeout_is_retried_with_the_same_key() {
    let f = fake(Arc::new(|_, _| ok_json(json!({}), "r"))).await;
    let mut cfg = config(&f.base, &f.base);
    cfg.timeout = Duration::from_millis(200);
    cfg.api_base = format!("{}/slow-once", f.base);
    let c = Client::new(cfg).unwrap();
    let r = c.broadcast(&[Message::text("x")]).await.unwrap();
    assert_eq!(r.meta.attempts, 2);
    let seen = f.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[0].header("x-line-retry-key"),
        seen[1].header("x-line-retry-key")
    );
    // Now a really slow server: every attempt times out, all with one key.
    let mut cfg = config(&format!("{}/slow", f.base), &f.base);
    cfg.timeout = Duration::from_millis(100);
    cfg.max_retries = 2;
    let c = Client::new(cfg).unwrap();
    let err = c.broadcast(&[Message::text("x")]).await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(err.meta().unwrap().attempts, 3);
    let keys: Vec<String> = f
        .seen()
        .iter()
        .filter(|s| s.path.starts_with("/slow/"))
        .map(|s| s.header("x-line-retry-key").unwrap())
        .collect();
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().all(|k| *k == keys[0]));
}

#[tokio::test]
async fn a_429_with_retry_after_backs_off_then_succeeds() {
    let f = fake(Arc::new(|_, n| {
        if n == 1 {
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "1")],
                axum::Json(
                    json!({"message":"The API rate limit has been exceeded. Try again later."}),
                ),
            )
                .into_response()
        } else {
            ok_json(json!({}), "req-2")
        }
    }))
    .await;
    let c = client(&f.base);
    let started = Instant::now();
    let r = c.broadcast(&[Message::text("x")]).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(950));
    assert_eq!(r.meta.attempts, 2);
    let seen = f.seen();
    assert_eq!(
        seen[0].header("x-line-retry-key"),
        seen[1].header("x-line-retry-key")
    );
}

#[tokio::test]
async fn a_409_is_accepted() {
    let f = fake(Arc::new(|_, _| {
        (
            StatusCode::CONFLICT,
            [
                ("x-line-request-id", "req-new"),
                ("x-line-accepted-request-id", "req-original"),
            ],
            axum::Json(json!({"message":"The retry key is already accepted"})),
        )
            .into_response()
    }))
    .await;
    let c = client(&f.base);
    let r = c.push("Uabc", &[Message::text("hi")]).await.unwrap();
    assert!(r.meta.was_duplicate());
    assert_eq!(r.meta.accepted_request_id.as_deref(), Some("req-original"));
    assert_eq!(r.meta.request_id.as_deref(), Some("req-new"));
    assert_eq!(f.seen().len(), 1);
}

#[tokio::test]
async fn request_id_and_error_body_are_kept() {
    let f = fake(Arc::new(|s, _| {
        if s.path.starts_with("/v2/bot/profile/") {
            ok_json(
                json!({"displayName":"国富 太郎","userId":"Uabc","language":"ja"}),
                "req-profile",
            )
        } else {
            (
                StatusCode::BAD_REQUEST,
                [("x-line-request-id", "req-bad")],
                axum::Json(json!({"message":"The request body has 1 error(s)",
                    "details":[{"message":"May not be empty","property":"messages[0].text"}]})),
            )
                .into_response()
        }
    }))
    .await;
    let c = client(&f.base);
    let p = c.get_profile("Uabc").await.unwrap();
    assert_eq!(p.data.display_name, "国富 太郎");
    assert_eq!(p.meta.request_id.as_deref(), Some("req-profile"));
    let err = c
        .reply("token", &[Message::text("x")])
        .await
        .expect_err("400");
    match &err {
        Error::Api { status, body, meta } => {
            assert_eq!(*status, 400);
            let body = body.as_ref().unwrap();
            assert_eq!(
                body.details[0].property.as_deref(),
                Some("messages[0].text")
            );
            assert_eq!(meta.request_id.as_deref(), Some("req-bad"));
            assert_eq!(meta.attempts, 1, "a 400 is not retried");
            assert!(meta.retry_key.is_none(), "reply carries no retry key");
        }
        other => panic!("{other:?}"),
    }
    // Invalid messages never leave.
    let before = f.seen().len();
    let err = c.push("U", &[]).await.unwrap_err();
    assert!(matches!(err, Error::Invalid(_)));
    assert_eq!(f.seen().len(), before);
}

#[tokio::test]
async fn rich_menu_image_goes_to_the_data_host() {
    let api = fake(Arc::new(|_, _| ok_json(json!({}), "api"))).await;
    let data = fake(Arc::new(|s, _| {
        if s.method == Method::GET {
            (
                StatusCode::OK,
                [("content-type", "image/png"), ("x-line-request-id", "dl")],
                vec![0x89u8, b'P', b'N', b'G'],
            )
                .into_response()
        } else {
            ok_json(json!({}), "up")
        }
    }))
    .await;
    let c = Client::new(config(&api.base, &data.base)).unwrap();
    let png = vec![0x89u8, b'P', b'N', b'G', 0, 1, 2, 3];
    let r = c
        .upload_rich_menu_image("richmenu-1", "image/png", png.clone())
        .await
        .unwrap();
    assert_eq!(r.meta.request_id.as_deref(), Some("up"));
    let d = c.download_rich_menu_image("richmenu-1").await.unwrap();
    assert_eq!(d.data.bytes, vec![0x89u8, b'P', b'N', b'G']);
    assert_eq!(d.data.content_type.as_deref(), Some("image/png"));
    assert!(api.seen().is_empty());
    let seen = data.seen();
    assert_eq!(seen[0].path, "/v2/bot/richmenu/richmenu-1/content");
    assert_eq!(seen[0].method, Method::POST);
    assert_eq!(seen[0].body.to_vec(), png);
    assert_eq!(seen[0].header("content-type").as_deref(), Some("image/png"));
}

#[tokio::test]
async fn rate_limiter_delays_when_the_bucket_is_empty() {
    let f = fake(Arc::new(|_, _| ok_json(json!({"sentMessages":[]}), "r"))).await;
    let mut cfg = config(&f.base, &f.base);
    cfg.rate_limits = RateLimits::unlimited().set(
        EndpointGroup::Push,
        RateLimit::new(1, Duration::from_millis(200)),
    );
    let c = Client::new(cfg).unwrap();
    let started = Instant::now();
    for _ in 0..3 {
        c.push("U", &[Message::text("x")]).await.unwrap();
    }
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(380), "{elapsed:?}");
    // Other groups are not slowed.
    let started = Instant::now();
    for _ in 0..3 {
        c.get_bot_info_raw_ok().await;
    }
    assert!(started.elapsed() < Duration::from_millis(300));
    // Too long a wait fails fast instead of sleeping.
    let mut cfg = config(&f.base, &f.base);
    cfg.rate_limits = RateLimits::unlimited().set(EndpointGroup::Broadcast, RateLimit::per_hour(1));
    cfg.rate_limit_max_wait = Duration::from_millis(10);
    let c = Client::new(cfg).unwrap();
    c.broadcast(&[Message::text("x")]).await.unwrap();
    let err = c.broadcast(&[Message::text("x")]).await.unwrap_err();
    assert!(matches!(
        err,
        Error::RateLimited {
            group: EndpointGroup::Broadcast,
            ..
        }
    ));
}

trait BotInfoOk {
    async fn get_bot_info_raw_ok(&self);
}

impl BotInfoOk for Client {
    async fn get_bot_info_raw_ok(&self) {
        // The fake answers `{"sentMessages":[]}`, which is no bot info: a decode error is
        // fine here, the point is the call is not delayed.
        let _ = self.get_bot_info().await;
    }
}

#[tokio::test]
async fn followers_are_paged_with_start() {
    let f = fake(Arc::new(|s, n| {
        assert_eq!(s.path, "/v2/bot/followers/ids");
        if n == 1 {
            ok_json(json!({"userIds":["U1","U2"],"next":"tok"}), "a")
        } else {
            ok_json(json!({"userIds":["U3"]}), "b")
        }
    }))
    .await;
    let c = client(&f.base);
    let ids = c.get_all_followers().await.unwrap();
    assert_eq!(ids, vec!["U1", "U2", "U3"]);
    assert_eq!(f.seen().len(), 2);
}

#[tokio::test]
async fn narrowcast_progress_is_polled_until_finished() {
    let f = fake(Arc::new(|s, n| {
        if s.path == "/v2/bot/message/narrowcast" {
            (StatusCode::ACCEPTED, [("x-line-request-id", "nc-1")], axum::Json(json!({})))
                .into_response()
        } else {
            let phase = if n < 4 { "sending" } else { "succeeded" };
            ok_json(
                json!({"phase": phase, "acceptedTime": "2025-04-01T00:00:00.000Z", "successCount": 3}),
                "p",
            )
        }
    }))
    .await;
    let c = client(&f.base);
    let req = hiroba_line::request::NarrowcastRequest {
        messages: vec![Message::text("x")],
        recipient: Some(hiroba_line::request::Recipient::Audience {
            audience_group_id: 42,
        }),
        filter: None,
        limit: None,
        notification_disabled: None,
    };
    let sent = c.narrowcast(&req).await.unwrap();
    let request_id = sent.meta.request_id.unwrap();
    assert_eq!(request_id, "nc-1");
    let p = c
        .wait_narrowcast(&request_id, Duration::from_millis(1), 10)
        .await
        .unwrap();
    assert!(p.data.is_finished());
    let polls: Vec<_> = f
        .seen()
        .into_iter()
        .filter(|s| s.path == "/v2/bot/message/progress/narrowcast")
        .collect();
    assert_eq!(polls.len(), 3);
}

#[tokio::test]
async fn id_tokens_are_verified_by_form_without_the_access_token() {
    let f = fake(Arc::new(|s: &Seen, _| {
        let body = String::from_utf8(s.body.to_vec()).unwrap();
        if body.contains("id_token=good") {
            ok_json(
                json!({"iss":"https://access.line.me","sub":"U1234","aud":"1234567890",
                       "exp":1_900_000_000,"iat":1_800_000_000,"amr":["linesso"],
                       "name":"国富 花子","picture":"https://example.com/p.png"}),
                "req-v",
            )
        } else {
            let d = if body.contains("id_token=old") {
                "IdToken expired."
            } else {
                "Invalid IdToken."
            };
            (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"error":"invalid_request","error_description":d})),
            )
                .into_response()
        }
    }))
    .await;
    let c = Client::new(config(&f.base, &f.base)).unwrap();
    let claims = c.verify_id_token("good", "1234567890").await.unwrap();
    assert_eq!(claims.sub, "U1234");
    assert_eq!(claims.aud, "1234567890");
    assert_eq!(claims.name.as_deref(), Some("国富 花子"));
    let seen = f.seen();
    assert_eq!(seen[0].path, "/oauth2/v2.1/verify");
    assert_eq!(seen[0].header("authorization"), None);
    assert_eq!(
        seen[0].header("content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(seen[0].body, "id_token=good&client_id=1234567890");

    use hiroba_line::{IdTokenError, IdTokenRefusal};
    match c.verify_id_token("old", "1234567890").await {
        Err(IdTokenError::Refused {
            reason,
            description,
            meta,
        }) => {
            assert_eq!(reason, IdTokenRefusal::Expired);
            assert_eq!(description, "IdToken expired.");
            assert_eq!(meta.status, 400);
        }
        other => panic!("{other:?}"),
    }
    let e = c.verify_id_token("forged", "1234567890").await.unwrap_err();
    assert!(e.is_refused());
    assert!(
        !format!("{e:?}").contains("forged"),
        "the token is never in errors"
    );
    // Refusals are not retried.
    assert_eq!(f.seen().len(), 3);
}
