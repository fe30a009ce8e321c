//! The LINE webhook over HTTP with the LINE simulator (issue 5; M20 webhook,
//! M22 talk log, M23 friends), on SQLite and PostgreSQL: signature refused or
//! accepted, bodies that are not webhooks refused, redelivery stored once, and
//! the job worker registering friends (with the profile), blocks and the talk log.

use chrono::Utc;
use hiroba_jobs::line_events::{ChannelClients, process_pending};
use hiroba_line::signature;
use hiroba_line_sim::{SimConfig, SimHandle};
use hiroba_store::line::{self, Channel, ChannelSettings, FriendStatus};
use hiroba_testkit::{TestApp, spawn_all};

pub(crate) const SECRET: &str = "kunitomi-channel-secret";
pub(crate) const TOKEN: &str = "kunitomi-access-token";

pub(crate) async fn sim_for(app: &TestApp) -> SimHandle {
    let sim = hiroba_line_sim::spawn(SimConfig {
        channel_secret: SECRET.into(),
        channel_token: TOKEN.into(),
        webhook_url: Some(app.url("/line/webhook/production")),
        webhook_redeliveries: 0,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut tx = app.db().begin().await.unwrap();
    line::save_channel(
        &mut tx,
        app.state.secrets(),
        &ChannelSettings {
            kind: Channel::Production,
            channel_id: "2000000001".into(),
            channel_secret: SECRET.into(),
            access_token: TOKEN.into(),
            api_base: sim.api_base(),
            api_data_base: sim.api_data_base(),
            login_channel_id: String::new(),
            liff_id: String::new(),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    sim
}

pub(crate) async fn process(app: &TestApp) -> usize {
    let mut clients = ChannelClients::new();
    clients
        .refresh(app.db(), app.state.secrets())
        .await
        .unwrap();
    process_pending(app.db(), &clients, Utc::now())
        .await
        .unwrap()
}

async fn post(app: &TestApp, path: &str, body: &str, sig: Option<&str>) -> u16 {
    let mut req = reqwest::Client::new()
        .post(app.url(path))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(sig) = sig {
        req = req.header("x-line-signature", sig);
    }
    req.send().await.unwrap().status().as_u16()
}

async fn stored(app: &TestApp) -> usize {
    line::events(app.db(), Channel::Production)
        .await
        .unwrap()
        .len()
}

fn text_webhook(event_id: &str, redelivery: bool) -> String {
    serde_json::json!({
        "destination": "Ub07000000000000000000000000000001",
        "events": [{
            "type": "message",
            "mode": "active",
            "timestamp": 1_743_465_600_000_i64,
            "source": { "type": "user", "userId": "U00000000000000000000000000000abc" },
            "webhookEventId": event_id,
            "deliveryContext": { "isRedelivery": redelivery },
            "replyToken": "0f3779fba3b349968c5d07db31eab56f",
            "message": { "id": "444573844083572737", "type": "text", "text": "体育館を予約したい", "quoteToken": "q" }
        }]
    })
    .to_string()
}

#[tokio::test]
async fn follow_message_unfollow_through_the_simulator() {
    for app in spawn_all().await {
        let label = app.label();
        let sim = sim_for(&app).await;
        let user = hiroba_line_sim::new_user_id();
        sim.add_user(&user, "国富 花子", Some("https://example.jp/hanako.png"));

        let outcome = sim.follow(&user).await.unwrap();
        assert!(outcome.delivered, "{label}: {outcome:?}");
        // Stored durably, not yet processed: the request did not do the work.
        assert!(
            line::friend_by_user(app.db(), Channel::Production, &user)
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(process(&app).await, 1, "{label}");
        let friend = line::friend_by_user(app.db(), Channel::Production, &user)
            .await
            .unwrap()
            .expect("friend registered");
        assert_eq!(friend.display_name, "国富 花子", "{label}");
        assert_eq!(friend.picture_url, "https://example.jp/hanako.png");
        assert_eq!(friend.status, FriendStatus::Friend);
        assert!(friend.followed_at.is_some());
        assert_eq!(
            sim.requests_to("GET /v2/bot/profile/{userId}"),
            1,
            "{label}"
        );

        assert!(sim.send_text(&user, "こんにちは").await.unwrap().delivered);
        assert!(
            sim.send_location(&user, "国富町役場", 31.99, 131.32)
                .await
                .unwrap()
                .delivered
        );
        assert!(
            sim.postback(&user, "action=reserve")
                .await
                .unwrap()
                .delivered
        );
        assert_eq!(process(&app).await, 3, "{label}");
        let log = line::talk_log(app.db(), Channel::Production, &user)
            .await
            .unwrap();
        let got: Vec<_> = log
            .iter()
            .map(|e| (e.kind.as_str(), e.text.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("follow", "友だち追加"),
                ("text", "こんにちは"),
                ("location", "位置情報: 国富町役場"),
                ("postback", "ポストバック: action=reserve"),
            ],
            "{label}"
        );

        // The admin's friends list and chat-like talk log (M22, M23).
        let admin = app.login_admin().await;
        let page = admin.get("/admin/line/friends").await;
        assert_eq!(page.status().as_u16(), 200, "{label}");
        let html = page.text().await.unwrap();
        assert!(html.contains("国富 花子"), "{label}");
        assert!(html.contains(&format!("/admin/line/friends/{}", friend.id)));
        let page = admin
            .get(&format!("/admin/line/friends/{}", friend.id))
            .await;
        assert_eq!(page.status().as_u16(), 200, "{label}");
        let html = page.text().await.unwrap();
        for text in [
            "友だち追加",
            "こんにちは",
            "位置情報: 国富町役場",
            "ポストバック: action=reserve",
        ] {
            assert!(html.contains(text), "{label}: {text}");
        }
        assert_eq!(
            admin
                .get("/admin/line/friends?channel=x")
                .await
                .status()
                .as_u16(),
            404
        );

        assert!(sim.unfollow(&user).await.unwrap().delivered);
        assert_eq!(process(&app).await, 1, "{label}");
        let friend = line::friend_by_user(app.db(), Channel::Production, &user)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(friend.status, FriendStatus::Blocked, "{label}");
        assert!(friend.blocked_at.is_some());
        assert_eq!(process(&app).await, 0);
        sim.shutdown();
    }
}

#[tokio::test]
async fn signature_and_body_checks() {
    for app in spawn_all().await {
        let label = app.label();
        let sim = sim_for(&app).await;
        let path = "/line/webhook/production";
        let body = text_webhook("01JQZ8Y7K0000000000000000A", false);

        assert_eq!(
            post(&app, path, &body, None).await,
            401,
            "{label}: no signature"
        );
        let wrong = signature::sign(b"another-secret", body.as_bytes());
        assert_eq!(
            post(&app, path, &body, Some(&wrong)).await,
            401,
            "{label}: wrong"
        );
        let garbage = "not-base64!";
        assert_eq!(post(&app, path, &body, Some(garbage)).await, 401, "{label}");
        // The test channel is not configured: nothing can be verified.
        let good = signature::sign(SECRET.as_bytes(), body.as_bytes());
        assert_eq!(
            post(&app, "/line/webhook/test", &body, Some(&good)).await,
            401
        );
        assert_eq!(
            post(&app, "/line/webhook/staging", &body, Some(&good)).await,
            404
        );
        assert_eq!(stored(&app).await, 0, "{label}: nothing stored");

        for bad in [
            "{not json",
            r#"{"events":[]}"#,
            r#"{"destination":"U1","events":[{"type":"follow"}]}"#,
        ] {
            let sig = signature::sign(SECRET.as_bytes(), bad.as_bytes());
            assert_eq!(
                post(&app, path, bad, Some(&sig)).await,
                400,
                "{label}: {bad}"
            );
        }
        assert_eq!(stored(&app).await, 0, "{label}: nothing stored");

        // No CSRF token needed: LINE authenticates by signature.
        assert_eq!(post(&app, path, &body, Some(&good)).await, 200, "{label}");
        assert_eq!(stored(&app).await, 1);
        // LINE's redelivery of the same event (same webhookEventId): still one row.
        assert_eq!(post(&app, path, &body, Some(&good)).await, 200);
        let redelivered = text_webhook("01JQZ8Y7K0000000000000000A", true);
        let sig = signature::sign(SECRET.as_bytes(), redelivered.as_bytes());
        assert_eq!(post(&app, path, &redelivered, Some(&sig)).await, 200);
        assert_eq!(stored(&app).await, 1, "{label}: deduplicated");
        assert_eq!(process(&app).await, 1, "{label}: processed once");
        assert_eq!(process(&app).await, 0);

        // LINE's connection check (no events) and an event type Hiroba ignores.
        let empty = r#"{"destination":"Ub07000000000000000000000000000001","events":[]}"#;
        let sig = signature::sign(SECRET.as_bytes(), empty.as_bytes());
        assert_eq!(post(&app, path, empty, Some(&sig)).await, 200);
        let other = serde_json::json!({
            "destination": "Ub07000000000000000000000000000001",
            "events": [{
                "type": "somethingNew", "mode": "active", "timestamp": 1_743_465_600_000_i64,
                "source": { "type": "user", "userId": "U00000000000000000000000000000abc" },
                "webhookEventId": "01JQZ8Y7K0000000000000000B",
                "deliveryContext": { "isRedelivery": false }
            }]
        })
        .to_string();
        let sig = signature::sign(SECRET.as_bytes(), other.as_bytes());
        assert_eq!(post(&app, path, &other, Some(&sig)).await, 200, "{label}");
        assert_eq!(process(&app).await, 1, "{label}: stored and ignored");
        let events = line::events(app.db(), Channel::Production).await.unwrap();
        assert!(events.iter().all(|e| e.processed_at.is_some()));
        assert_eq!(events[1].event_type, "somethingNew");

        // Larger than 1 MiB: refused before anything is read into the database.
        let big = format!(
            "{{\"destination\":\"x\",\"events\":[],\"pad\":\"{}\"}}",
            "a".repeat(1024 * 1024)
        );
        let sig = signature::sign(SECRET.as_bytes(), big.as_bytes());
        assert_eq!(post(&app, path, &big, Some(&sig)).await, 413, "{label}");
        sim.shutdown();
    }
}

#[tokio::test]
async fn follow_is_kept_when_the_profile_is_unavailable() {
    for app in spawn_all().await {
        let label = app.label();
        let sim = sim_for(&app).await;
        let user = hiroba_line_sim::new_user_id();
        sim.add_user(&user, "本庄 太郎", None);
        sim.fail_next("GET /v2/bot/profile/{userId}", 10);
        assert!(sim.follow(&user).await.unwrap().delivered);
        assert_eq!(process(&app).await, 1, "{label}");
        let friend = line::friend_by_user(app.db(), Channel::Production, &user)
            .await
            .unwrap()
            .expect("friend kept without a profile");
        assert_eq!(friend.display_name, "", "{label}");
        assert_eq!(friend.status, FriendStatus::Friend);
        let events = line::events(app.db(), Channel::Production).await.unwrap();
        assert!(events[0].processed_at.is_some(), "{label}: not retried");
        sim.shutdown();
    }
}

/// One worker run over a mix: the events before the first follow are claimed
/// and applied in one transaction, the follow (a profile call) and everything
/// after it once the call is done, still in order.
#[tokio::test]
async fn a_mixed_batch_is_applied_in_order_in_one_run() {
    for app in spawn_all().await {
        let label = app.label();
        let sim = sim_for(&app).await;
        let (a, b) = (
            hiroba_line_sim::new_user_id(),
            hiroba_line_sim::new_user_id(),
        );
        sim.add_user(&a, "綾 一郎", None);
        sim.add_user(&b, "八代 二郎", None);
        assert!(sim.follow(&a).await.unwrap().delivered);
        assert_eq!(process(&app).await, 1, "{label}");

        assert!(sim.send_text(&a, "こんにちは").await.unwrap().delivered);
        assert!(sim.follow(&b).await.unwrap().delivered);
        assert!(sim.send_text(&b, "はじめまして").await.unwrap().delivered);
        assert!(sim.unfollow(&a).await.unwrap().delivered);
        assert_eq!(process(&app).await, 4, "{label}: all in one run");

        let friend_a = line::friend_by_user(app.db(), Channel::Production, &a)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(friend_a.status, FriendStatus::Blocked, "{label}");
        let friend_b = line::friend_by_user(app.db(), Channel::Production, &b)
            .await
            .unwrap()
            .expect("registered with its profile");
        assert_eq!(friend_b.display_name, "八代 二郎", "{label}");
        let texts = |log: Vec<line::TalkEntry>| -> Vec<String> {
            log.into_iter().map(|e| e.text).collect()
        };
        assert_eq!(
            texts(
                line::talk_log(app.db(), Channel::Production, &a)
                    .await
                    .unwrap()
            ),
            ["友だち追加", "こんにちは", "ブロック"],
            "{label}"
        );
        assert_eq!(
            texts(
                line::talk_log(app.db(), Channel::Production, &b)
                    .await
                    .unwrap()
            ),
            ["友だち追加", "はじめまして"],
            "{label}"
        );
        let backlog = line::event_backlog(app.db()).await.unwrap();
        assert_eq!((backlog.received, backlog.pending), (5, 0), "{label}");
        assert_eq!(process(&app).await, 0, "{label}");
        sim.shutdown();
    }
}
