//! LINE administration over HTTP with the simulator (issue 5; M12, M22, M23,
//! S04), on SQLite and PostgreSQL: channel settings whose secret and token are
//! never shown again, the connection check, 1対1チャット (push, API log with the
//! request id, talk log), talk-log search and CSV, and the refusals.

use hiroba_domain::permission::{FacilityScope, Permission};
use hiroba_store::audit::{self, Filter};
use hiroba_store::line::{self, Channel, Direction};
use hiroba_testkit::spawn_all;

use super::line_webhook_http::{SECRET, TOKEN, process, sim_for};

#[tokio::test]
async fn channels_connection_check_chat_and_talk_search() {
    for app in spawn_all().await {
        let label = app.label();
        let sim = sim_for(&app).await;
        let admin = app.login_admin().await;

        // The overview and the edit page never show the secret or the token.
        let html = admin
            .get("/admin/line/channels")
            .await
            .text()
            .await
            .unwrap();
        assert!(html.contains("本番アカウント") && html.contains("テストアカウント"));
        assert!(html.contains("/line/webhook/production"), "{label}");
        // The event worker's backlog, for the administrator (issue 5).
        assert!(
            html.contains("Webhook イベントの処理状況")
                && html.contains("<dt>未処理</dt><dd>0件</dd>"),
            "{label}"
        );
        let html = admin
            .get("/admin/line/channels/production")
            .await
            .text()
            .await
            .unwrap();
        assert!(html.contains("設定済み"), "{label}");
        assert!(!html.contains(SECRET) && !html.contains(TOKEN), "{label}");

        // Connection check against the simulator's bot info.
        let res = admin
            .post("/admin/line/channels/production/check", &[])
            .await;
        assert_eq!(res.status().as_u16(), 200, "{label}");
        let html = res.text().await.unwrap();
        assert!(html.contains("接続できました"), "{label}: {html}");
        assert!(html.contains("@kunitomi"), "{label}");
        assert_eq!(sim.requests_to("GET /v2/bot/info"), 1);

        // Bad input: Japanese messages at the fields, nothing stored.
        let res = admin
            .post(
                "/admin/line/channels/production",
                &[
                    ("channel_id", "12ab"),
                    ("api_base", "ftp://api.example.jp"),
                    ("api_data_base", &sim.api_data_base()),
                    ("access_token", "short"),
                ],
            )
            .await;
        assert_eq!(res.status().as_u16(), 200, "{label}");
        let html = res.text().await.unwrap();
        assert!(html.contains("チャネルIDは LINE Developers に表示される半角数字"));
        assert!(html.contains("APIのアドレスは https:// で始まるアドレス"));
        assert!(html.contains("チャネルアクセストークンは LINE Developers からそのまま"));
        let kept = line::load_channel(app.db(), app.state.secrets(), Channel::Production)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(kept.api_base, sim.api_base(), "{label}");
        assert_eq!(kept.access_token, TOKEN);

        // A wrong token: saved (the secret kept), and the check says why it fails.
        let api_base = sim.api_base();
        let data_base = sim.api_data_base();
        let form = |token: &'static str| {
            vec![
                ("channel_id", "2000000001"),
                ("api_base", api_base.as_str()),
                ("api_data_base", data_base.as_str()),
                ("login_channel_id", "2000000002"),
                ("liff_id", "2000000002-hiroba"),
                ("access_token", token),
            ]
        };
        let res = admin
            .post(
                "/admin/line/channels/production",
                &form("wrong-token-0123456789"),
            )
            .await;
        assert_eq!(res.status().as_u16(), 303, "{label}");
        let html = admin
            .post("/admin/line/channels/production/check", &[])
            .await
            .text()
            .await
            .unwrap();
        assert!(html.contains("正しくありません（401）"), "{label}");
        admin
            .post("/admin/line/channels/production", &form(TOKEN))
            .await;
        let saved = line::load_channel(app.db(), app.state.secrets(), Channel::Production)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            saved.channel_secret, SECRET,
            "{label}: a blank secret is kept"
        );
        assert_eq!(saved.access_token, TOKEN);
        assert_eq!(saved.liff_id, "2000000002-hiroba");
        // The operation log names the change, never the values.
        let entries = audit::search(
            app.db(),
            &Filter {
                action: Some("line.channel_update".into()),
                ..Filter::default()
            },
            10,
            0,
        )
        .await
        .unwrap();
        assert_eq!(entries.len(), 2, "{label}");
        assert!(entries.iter().all(|e| !e.summary.contains("wrong-token")
            && !e.summary.contains(TOKEN)
            && !e.summary.contains(SECRET)));
        assert!(entries[0].summary.contains("アクセストークン: 変更"));

        // A follower, then 1対1チャット from the talk log.
        let user = hiroba_line_sim::new_user_id();
        sim.add_user(&user, "国富 花子", None);
        assert!(sim.follow(&user).await.unwrap().delivered);
        assert!(
            sim.send_text(&user, "体育館は空いていますか")
                .await
                .unwrap()
                .delivered
        );
        assert_eq!(process(&app).await, 2, "{label}");
        let friend = line::friend_by_user(app.db(), Channel::Production, &user)
            .await
            .unwrap()
            .unwrap();
        let page = format!("/admin/line/friends/{}", friend.id);
        let send = format!("/admin/line/friends/{}/send", friend.id);
        let html = admin.get(&page).await.text().await.unwrap();
        assert!(html.contains("メッセージを送る"), "{label}");
        let res = admin.post(&send, &[("text", "  ")]).await;
        assert_eq!(res.status().as_u16(), 200);
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("送る内容を入力してください")
        );
        assert_eq!(sim.delivered_to(&user), 0, "{label}");
        let res = admin
            .post(&send, &[("text", "明日の午前は空いています。")])
            .await;
        assert_eq!(res.status().as_u16(), 303, "{label}");
        assert_eq!(sim.delivered_to(&user), 1, "{label}");
        let log = line::talk_log(app.db(), Channel::Production, &user)
            .await
            .unwrap();
        let last = log.last().unwrap();
        assert_eq!(last.direction, Direction::Out);
        assert_eq!(last.text, "明日の午前は空いています。");
        let calls = line::recent_api_calls(app.db(), Some(Channel::Production), 10, 0)
            .await
            .unwrap();
        let push = calls
            .iter()
            .find(|c| c.endpoint == "POST /v2/bot/message/push")
            .expect("push logged");
        assert_eq!(push.status, Some(200), "{label}");
        assert!(!push.request_id.is_empty() && !push.retry_key.is_empty());
        assert!(
            calls
                .iter()
                .any(|c| c.endpoint == "GET /v2/bot/profile/{userId}")
        );
        let html = admin.get("/admin/line/api-log").await.text().await.unwrap();
        assert!(html.contains(&push.request_id), "{label}");

        // Talk-log search and CSV (M22).
        let html = admin
            .get("/admin/line/talk?friend=%E8%8A%B1%E5%AD%90")
            .await
            .text()
            .await
            .unwrap();
        assert!(
            html.contains("体育館は空いていますか") && html.contains("明日の午前は空いています。")
        );
        let html = admin
            .get("/admin/line/talk?from=2025-13-01")
            .await
            .text()
            .await
            .unwrap();
        assert!(html.contains("日付は 2025-04-01 の形で入力してください"));
        let csv = admin.get("/admin/line/talk.csv?channel=production").await;
        assert_eq!(csv.status().as_u16(), 200);
        let bytes = csv.bytes().await.unwrap();
        assert!(bytes.starts_with("\u{feff}".as_bytes()), "{label}: BOM");
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        assert!(text.contains("日時,アカウント,表示名"));
        assert!(text.contains("国富 花子") && text.contains("町から"));

        // 広報 (compose, no send) sees the log but cannot send.
        let (_, password) = app
            .create_staff(
                "koho2",
                &[Permission::MessagingCompose],
                FacilityScope::Only(Default::default()),
            )
            .await;
        let koho = app.login("koho2", &password).await;
        let html = koho.get(&page).await.text().await.unwrap();
        assert!(html.contains("明日の午前は空いています。") && !html.contains("メッセージを送る"));
        assert_eq!(
            koho.post(&send, &[("text", "x")]).await.status().as_u16(),
            403
        );
        assert_eq!(sim.delivered_to(&user), 1, "{label}");

        // A friend who blocked the account cannot be sent to.
        assert!(sim.unfollow(&user).await.unwrap().delivered);
        assert_eq!(process(&app).await, 1);
        let res = admin.post(&send, &[("text", "届きますか")]).await;
        assert_eq!(res.status().as_u16(), 200);
        assert!(res.text().await.unwrap().contains("ブロックしているため"));
        assert_eq!(sim.delivered_to(&user), 1, "{label}");
        sim.shutdown();
    }
}
