//! The message composer over HTTP (issue 6; M07, M12), on SQLite and
//! PostgreSQL: uploads become the renditions LINE fetches at /media without a
//! login, Flex templates and checks with the JSON path at the field, and the
//! test push to a friend of the test account through the LINE simulator (API
//! log, talk log, operation log), refused to a member without the send
//! permission.

use std::io::Cursor;

use hiroba_domain::permission::{FacilityScope, Permission};
use hiroba_line_sim::{SimConfig, SimHandle};
use hiroba_store::audit::{self, Filter};
use hiroba_store::line::{self, Channel, ChannelSettings, Direction};
use hiroba_testkit::{DEMO_STAFF, TestApp, hidden, spawn_all};
use image::{DynamicImage, ImageFormat, RgbaImage};

use super::line_webhook_http::{SECRET, TOKEN, process};

const PAGE: &str = "/admin/line/compose";
const PUSH: &str = "/admin/line/compose/test-push";

/// A real PNG: a gradient with a transparent stripe.
pub(crate) fn png(width: u32, height: u32) -> Vec<u8> {
    let img = RgbaImage::from_fn(width, height, |x, y| {
        image::Rgba([
            (x * 255 / width) as u8,
            (y * 255 / height) as u8,
            160,
            if y < 4 { 0 } else { 255 },
        ])
    });
    let mut bytes = Vec::new();
    DynamicImage::ImageRgba8(img)
        .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
        .unwrap();
    bytes
}

/// A LINE simulator for the test account, its settings saved in the app.
pub(crate) async fn test_sim_for(app: &TestApp) -> SimHandle {
    let sim = hiroba_line_sim::spawn(SimConfig {
        channel_secret: SECRET.into(),
        channel_token: TOKEN.into(),
        webhook_url: Some(app.url("/line/webhook/test")),
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
            kind: Channel::Test,
            channel_id: "2000000009".into(),
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

async fn get_image(url: &str) -> (u16, String, String, Option<DynamicImage>) {
    // No cookies: LINE's servers have no login.
    let res = reqwest::get(url).await.unwrap();
    let status = res.status().as_u16();
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (kind, cache) = (header("content-type"), header("cache-control"));
    let bytes = res.bytes().await.unwrap();
    let img = (status == 200).then(|| image::load_from_memory(&bytes).unwrap());
    (status, kind, cache, img)
}

#[tokio::test]
async fn uploads_are_served_in_the_sizes_line_fetches() {
    for app in spawn_all().await {
        let label = app.label();
        let admin = app.login_admin().await;
        let html = admin.get(PAGE).await.text().await.unwrap();
        assert!(html.contains("メッセージの作成・プレビュー"), "{label}");
        assert!(html.contains("href=\"/admin/line/compose\" aria-current=\"page\""));
        // The test server's public address is http: built anyway, with the notice.
        assert!(html.contains("実際の LINE では https"), "{label}");

        // An image message: the original and a preview within 240×240.
        let res = admin
            .post_multipart(
                PAGE,
                &[("m0_type", "image"), ("action", "upload:0")],
                &[("m0_file", "お知らせ.png", "image/png", png(1300, 650))],
            )
            .await;
        assert_eq!(res.status().as_u16(), 200, "{label}");
        let html = res.text().await.unwrap();
        let token = hidden(&html, "m0_media").unwrap();
        assert_eq!(token.len(), 43, "{label}: {token}");
        let original = hidden(&html, "m0_original").unwrap();
        assert_eq!(original, app.url(&format!("/media/{token}/original")));
        assert!(html.contains(&format!("src=\"/media/{token}/preview\"")));
        assert!(
            html.contains("class=\"lp-photo\""),
            "{label}: the preview shows it"
        );
        let (status, kind, cache, img) = get_image(&original).await;
        assert_eq!((status, kind.as_str()), (200, "image/png"), "{label}");
        assert!(cache.contains("max-age=31536000"), "{cache}");
        let img = img.unwrap();
        assert_eq!((img.width(), img.height()), (1300, 650));
        let (_, _, _, img) = get_image(&app.url(&format!("/media/{token}/preview"))).await;
        let img = img.unwrap();
        assert_eq!((img.width(), img.height()), (240, 120), "{label}");
        // Nothing else: no other rendition, no other token, never the row id.
        for path in [
            format!("/media/{token}/1040"),
            format!("/media/{}/original", "A".repeat(43)),
            "/media/1/original".to_owned(),
            format!("/media/{token}"),
        ] {
            assert_eq!(get_image(&app.url(&path)).await.0, 404, "{label}: {path}");
        }

        // An imagemap's base image: every width LINE requests, aspect kept.
        let res = admin
            .post_multipart(
                PAGE,
                &[
                    ("m0_type", "imagemap"),
                    ("m0_alt", "施設マップ"),
                    ("action", "upload:0"),
                ],
                &[("m0_file", "map.png", "image/png", png(520, 390))],
            )
            .await;
        let html = res.text().await.unwrap();
        let map = hidden(&html, "m0_media").unwrap();
        assert_ne!(map, token);
        assert_eq!(
            hidden(&html, "m0_base").unwrap(),
            app.url(&format!("/media/{map}"))
        );
        assert_eq!(hidden(&html, "m0_base_h").as_deref(), Some("780"));
        assert!(
            html.contains("viewBox=\"0 0 1040 780\""),
            "{label}: the drawing area"
        );
        for (width, height) in [(240, 180), (300, 225), (460, 345), (700, 525), (1040, 780)] {
            let (status, kind, _, img) =
                get_image(&app.url(&format!("/media/{map}/{width}"))).await;
            assert_eq!(
                (status, kind.as_str()),
                (200, "image/png"),
                "{label}: {width}"
            );
            let img = img.unwrap();
            assert_eq!((img.width(), img.height()), (width, height), "{label}");
        }

        // Not JPEG or PNG: refused at the field, nothing stored.
        let res = admin
            .post_multipart(
                PAGE,
                &[("m0_type", "image"), ("action", "upload:0")],
                &[(
                    "m0_file",
                    "anim.gif",
                    "image/gif",
                    b"GIF89a\x01\x00".to_vec(),
                )],
            )
            .await;
        let html = res.text().await.unwrap();
        assert!(
            html.contains("JPEG または PNG のファイルにしてください"),
            "{label}"
        );
        assert!(html.contains("id=\"f-m0_file-error\""));
        assert_eq!(
            hiroba_store::media::list(app.db(), 10, 0)
                .await
                .unwrap()
                .len(),
            2,
            "{label}"
        );
        let logged = audit::search(
            app.db(),
            &Filter {
                action: Some("line.media_upload".into()),
                ..Filter::default()
            },
            10,
            0,
        )
        .await
        .unwrap();
        assert_eq!(logged.len(), 2, "{label}");
        assert!(logged.iter().any(|e| e.summary.contains("お知らせ.png")));
    }
}

#[tokio::test]
async fn flex_checks_and_a_test_push_to_the_test_account() {
    for app in spawn_all().await {
        let label = app.label();
        let sim = test_sim_for(&app).await;
        let user = hiroba_line_sim::new_user_id();
        sim.add_user(&user, "試験 はなこ", None);
        assert!(sim.follow(&user).await.unwrap().delivered, "{label}");
        assert_eq!(process(&app).await, 1, "{label}");
        let friend = line::friend_by_user(app.db(), Channel::Test, &user)
            .await
            .unwrap()
            .unwrap();
        let friend_id = friend.id.to_string();
        let admin = app.login_admin().await;
        let html = admin.get(PAGE).await.text().await.unwrap();
        assert!(
            html.contains("試験 はなこ") && html.contains("テスト送信する"),
            "{label}"
        );

        // A template fills the JSON; as a whole it passes the checks.
        let html = admin
            .post(PAGE, &[("m0_type", "flex"), ("action", "template:0:event")])
            .await
            .text()
            .await
            .unwrap();
        assert!(html.contains("くにとみ夏まつり") && html.contains("natsumatsuri.jpg"));
        assert!(!html.contains("field-error"), "{label}");
        let (_, alt, event) = hiroba_web::composer::template("event").unwrap();
        let event = event.to_string();
        let html = admin
            .post(
                PAGE,
                &[
                    ("m0_type", "flex"),
                    ("m0_alt", alt),
                    ("m0_flex", &event),
                    ("action", "check"),
                ],
            )
            .await
            .text()
            .await
            .unwrap();
        assert!(!html.contains("field-error"), "{label}: {html}");
        assert!(html.contains("class=\"lp-flex\""), "{label}: the preview");

        // A bad Flex JSON: the Japanese message with its path at the field, nothing sent.
        let bad = r#"{"type":"bubble","body":{"type":"box","layout":"vertical","contents":[{"type":"text","text":"a","size":"huge"}]}}"#;
        let res = admin
            .post(
                PUSH,
                &[
                    ("m0_type", "flex"),
                    ("m0_alt", "お知らせ"),
                    ("m0_flex", bad),
                    ("push_to", &friend_id),
                ],
            )
            .await;
        assert_eq!(res.status().as_u16(), 200, "{label}");
        let html = res.text().await.unwrap();
        let at = html
            .find("id=\"f-m0_flex-error\"")
            .expect("error at the field");
        assert!(
            html[at..].starts_with("id=\"f-m0_flex-error\">contents.body.contents[0].size"),
            "{label}: {}",
            &html[at..at + 200]
        );
        assert_eq!(sim.delivered_to(&user), 0, "{label}");

        // Text with an emoji, an uploaded image and a template: sent to the test friend.
        let res = admin
            .post_multipart(
                PAGE,
                &[("m0_type", "image"), ("action", "upload:0")],
                &[("m0_file", "photo.png", "image/png", png(640, 480))],
            )
            .await;
        let html = res.text().await.unwrap();
        let (media, original, preview) = (
            hidden(&html, "m0_media").unwrap(),
            hidden(&html, "m0_original").unwrap(),
            hidden(&html, "m0_preview").unwrap(),
        );
        let (_, notice_alt, notice) = hiroba_web::composer::template("notice").unwrap();
        let notice = notice.to_string();
        let res = admin
            .post_multipart(
                PUSH,
                &[
                    ("m0_type", "text"),
                    ("m0_text", "体育館からのお知らせです[絵文字001]"),
                    ("m1_type", "image"),
                    ("m1_media", &media),
                    ("m1_original", &original),
                    ("m1_preview", &preview),
                    ("m2_type", "flex"),
                    ("m2_alt", notice_alt),
                    ("m2_flex", &notice),
                    ("push_to", &friend_id),
                ],
                &[],
            )
            .await;
        assert_eq!(res.status().as_u16(), 200, "{label}");
        let html = res.text().await.unwrap();
        assert!(
            html.contains("3件のメッセージを送りました"),
            "{label}: {html}"
        );
        let inbox = sim.inbox(&user);
        let got: Vec<_> = inbox
            .iter()
            .map(|e| e.message["type"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(got, ["text", "image", "flex"], "{label}");
        assert!(inbox.iter().all(|e| e.via == "push"));
        assert_eq!(inbox[0].message["text"], "体育館からのお知らせです$");
        assert_eq!(inbox[0].message["emojis"][0]["emojiId"], "001");
        assert_eq!(inbox[1].message["originalContentUrl"], original.as_str());
        assert_eq!(sim.copies_to(&user), 1, "{label}: one push");

        let log = line::talk_log(app.db(), Channel::Test, &user)
            .await
            .unwrap();
        let out: Vec<_> = log
            .iter()
            .filter(|e| e.direction == Direction::Out)
            .map(|e| (e.kind.as_str(), e.text.as_str()))
            .collect();
        assert_eq!(
            out,
            [
                ("text", "体育館からのお知らせです[絵文字001]"),
                ("image", "［画像］"),
                ("flex", "［Flex］お知らせ: 総合体育館の床の改修工事"),
            ],
            "{label}"
        );
        let calls = line::recent_api_calls(app.db(), Some(Channel::Test), 10, 0)
            .await
            .unwrap();
        let push = calls
            .iter()
            .find(|c| c.endpoint == "POST /v2/bot/message/push")
            .expect("push logged");
        assert_eq!(push.status, Some(200), "{label}");
        assert!(!push.request_id.is_empty());
        let entries = audit::search(
            app.db(),
            &Filter {
                action: Some("line.test_push".into()),
                ..Filter::default()
            },
            10,
            0,
        )
        .await
        .unwrap();
        assert_eq!(entries.len(), 1, "{label}");
        assert!(entries[0].summary.contains("試験 はなこ に3件"));
        // Production friends are never offered.
        assert!(
            line::list_friends(app.db(), Channel::Production)
                .await
                .unwrap()
                .is_empty()
        );

        // Without a friend chosen: the message at the field.
        let html = admin
            .post(PUSH, &[("m0_type", "text"), ("m0_text", "こんにちは")])
            .await
            .text()
            .await
            .unwrap();
        assert!(
            html.contains("送信先のテスト用の友だちを選んでください"),
            "{label}"
        );

        // 広報 composes but may not send.
        let koho = app.login(DEMO_STAFF[2].login, DEMO_STAFF[2].password).await;
        let html = koho.get(PAGE).await.text().await.unwrap();
        assert!(html.contains("メッセージの作成・プレビュー"), "{label}");
        assert!(!html.contains("テスト送信する") && html.contains("権限が必要です"));
        let res = koho
            .post(
                PUSH,
                &[
                    ("m0_type", "text"),
                    ("m0_text", "送れますか"),
                    ("push_to", &friend_id),
                ],
            )
            .await;
        assert_eq!(res.status().as_u16(), 403, "{label}");
        assert_eq!(sim.copies_to(&user), 1, "{label}");
        // Someone without the compose permission does not see the composer at all.
        let (_, password) = app
            .create_staff(
                "madoguchi9",
                &[Permission::Reservations],
                FacilityScope::All,
            )
            .await;
        let desk = app.login("madoguchi9", &password).await;
        assert_eq!(desk.get(PAGE).await.status().as_u16(), 403, "{label}");
        sim.shutdown();
    }
}
