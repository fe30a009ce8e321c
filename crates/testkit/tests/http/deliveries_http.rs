//! Delivery pages over HTTP (issue 6; M07, M12-M15) on SQLite and
//! PostgreSQL: a delivery composed and scheduled from the form, bad input at
//! the fields with nothing stored, the approval rule (another staff member
//! with the send permission), a test send, cancelling, the CSV bulk
//! registration (all or nothing, errors by row and column), the statistics
//! page and CSV, and the counting redirect of rewritten links.

use hiroba_domain::datetime::JST;
use hiroba_domain::permission::{FacilityScope, Permission};
use hiroba_store::deliveries::{self, Audience, Plan, RunStatus, Status};
use hiroba_testkit::spawn_all;

fn tomorrow() -> String {
    (chrono::Utc::now().with_timezone(&JST).date_naive() + chrono::Duration::days(1)).to_string()
}

#[tokio::test]
async fn staff_compose_schedule_approve_test_and_cancel_a_delivery() {
    for app in spawn_all().await {
        let label = app.label();
        let admin = app.login_admin().await;
        let page = admin
            .get("/admin/line/deliveries/new")
            .await
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("配信のタイミング") && page.contains("m0_"),
            "{label}"
        );

        // Bad input: no title, weekly without weekdays, an empty text.
        let day = tomorrow();
        let res = admin
            .post_multipart(
                "/admin/line/deliveries/new",
                &[
                    ("title", ""),
                    ("channel", "production"),
                    ("audience", "all"),
                    ("plan", "weekly"),
                    ("time", "09:00"),
                    ("start", &day),
                    ("m0_type", "text"),
                    ("m0_text", ""),
                    ("action", "save_draft"),
                ],
                &[],
            )
            .await;
        assert_eq!(res.status().as_u16(), 200, "{label}");
        let html = res.text().await.unwrap();
        assert!(html.contains("配信のタイトルを入力してください"), "{label}");
        assert!(html.contains("曜日を1つ以上"), "{label}");
        assert_eq!(
            deliveries::count(app.db(), None).await.unwrap(),
            0,
            "nothing stored"
        );

        // A delivery for tomorrow 9:00 with a link, waiting for approval.
        let fields = [
            ("title", "子育て広場のお知らせ"),
            ("channel", "production"),
            ("audience", "all"),
            ("plan", "once"),
            ("once_date", day.as_str()),
            ("time", "09:00"),
            ("m0_type", "text"),
            (
                "m0_text",
                "12月の子育て広場は https://town.example.jp/kosodate をご覧ください。",
            ),
        ];
        let mut request = fields.to_vec();
        request.push(("action", "request_approval"));
        let res = admin
            .post_multipart("/admin/line/deliveries/new", &request, &[])
            .await;
        assert_eq!(res.status().as_u16(), 303, "{label}");
        let id = deliveries::list(app.db(), None, 1, 0).await.unwrap()[0].id;
        let stored = deliveries::get(app.db(), id).await.unwrap();
        assert_eq!(stored.status, Status::PendingApproval, "{label}");
        assert_eq!(stored.draft.audience, Audience::All);
        assert!(matches!(stored.draft.plan, Plan::Scheduled(_)));
        let detail = admin
            .get(&format!("/admin/line/deliveries/{id}"))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            detail.contains("承認待ち") && detail.contains("子育て広場"),
            "{label}"
        );

        // The approval rule: the creator cannot approve their own delivery.
        admin
            .post(
                "/admin/line/deliveries/approval",
                &[("require_approval", "1")],
            )
            .await;
        let res = admin
            .post(&format!("/admin/line/deliveries/{id}/approve"), &[])
            .await;
        assert_eq!(res.status().as_u16(), 403, "{label}");
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("自分が作成した配信は承認できません")
        );
        // 広報 with compose only may not approve at all.
        let (_, password) = app
            .create_staff(
                "koho3",
                &[Permission::MessagingCompose],
                FacilityScope::Only(Default::default()),
            )
            .await;
        let koho = app.login("koho3", &password).await;
        assert_eq!(
            koho.post(&format!("/admin/line/deliveries/{id}/approve"), &[])
                .await
                .status()
                .as_u16(),
            403
        );
        // Another member with the send permission approves; links are rewritten.
        let (_, password) = app
            .create_staff(
                "shonin",
                &[Permission::MessagingCompose, Permission::MessagingSend],
                FacilityScope::Only(Default::default()),
            )
            .await;
        let approver = app.login("shonin", &password).await;
        let res = approver
            .post(&format!("/admin/line/deliveries/{id}/approve"), &[])
            .await;
        assert_eq!(res.status().as_u16(), 303, "{label}");
        let stored = deliveries::get(app.db(), id).await.unwrap();
        assert_eq!(stored.status, Status::Approved, "{label}");
        assert!(stored.next_run_at.is_some());
        let text = stored.draft.messages[0]["text"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            text.contains(&format!("{}/r/", app.base)),
            "{label}: {text}"
        );
        assert!(!text.contains("town.example.jp"));

        // The rewritten link counts each visitor once and redirects.
        let start = text.find("http").unwrap();
        let link = text[start..].split_whitespace().next().unwrap().to_owned();
        let visitor = app.client();
        for _ in 0..2 {
            let res = visitor.get(&link).send().await.unwrap();
            assert_eq!(res.status().as_u16(), 303, "{label}");
            assert_eq!(
                res.headers().get("location").unwrap(),
                "https://town.example.jp/kosodate"
            );
        }
        app.client().get(&link).send().await.unwrap();
        assert_eq!(
            deliveries::link_clicks(app.db(), id).await.unwrap(),
            [("https://town.example.jp/kosodate".to_owned(), 2)],
            "{label}: two visitors"
        );
        assert_eq!(
            app.client()
                .get(app.url("/r/unknown"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
            404
        );

        // A confirmed delivery is no longer edited; a test send is its own run.
        let res = admin
            .get(&format!("/admin/line/deliveries/{id}/edit"))
            .await;
        assert_eq!(res.status().as_u16(), 200, "{label}: not started yet");
        let res = admin
            .post(&format!("/admin/line/deliveries/{id}/test"), &[])
            .await;
        // The demo seed has no test channel in these tests: a clear refusal.
        assert_eq!(res.status().as_u16(), 403, "{label}");
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("テスト用のLINEアカウントが設定されていません")
        );

        // Cancel: nothing will be planned.
        let res = admin
            .post(&format!("/admin/line/deliveries/{id}/cancel"), &[])
            .await;
        assert_eq!(res.status().as_u16(), 303, "{label}");
        let stored = deliveries::get(app.db(), id).await.unwrap();
        assert_eq!(
            (stored.status, stored.next_run_at),
            (Status::Cancelled, None)
        );
        assert!(
            deliveries::runs_of(app.db(), id)
                .await
                .unwrap()
                .iter()
                .all(|r| r.status == RunStatus::Cancelled)
        );
        let list = admin
            .get("/admin/line/deliveries")
            .await
            .text()
            .await
            .unwrap();
        assert!(list.contains("子育て広場のお知らせ") && list.contains("取り消し"));
        // Statistics page and CSV answer (no production run went out).
        let stats = admin.get("/admin/line/stats").await;
        assert_eq!(stats.status().as_u16(), 200, "{label}");
        let csv = admin
            .get("/admin/line/stats.csv")
            .await
            .bytes()
            .await
            .unwrap();
        assert!(
            csv.starts_with("\u{feff}配信日,時刻,タイトル".as_bytes()),
            "{label}"
        );
        assert_eq!(
            koho.get("/admin/line/stats").await.status().as_u16(),
            403,
            "statistics need their permission"
        );
    }
}

#[tokio::test]
async fn the_csv_bulk_registration_is_all_or_nothing() {
    for app in spawn_all().await {
        let label = app.label();
        let admin = app.login_admin().await;
        let start = chrono::Utc::now().with_timezone(&JST).date_naive() + chrono::Duration::days(2);
        let ymd = start.format("%Y/%m/%d").to_string();
        let mut good =
            String::from("タイトル,配信方法,日付,終了日,時刻,曜日,日,第n週,セグメント,本文,メモ\n");
        for i in 0..600 {
            good.push_str(&format!(
                "定期{i},毎週,{ymd},,7:00,月・木,,,,\"明日は燃えるごみの日です。\n7時までに出してください。\",\n"
            ));
        }
        // One bad row and one unknown segment: nothing is stored.
        let bad = format!(
            "{good}壊れた行,毎週,{ymd},,25:00,,,,,本文,\n存在しない,一回,{ymd},,9:00,,,,未登録の地区,本文,\n"
        );
        let res = admin
            .post_multipart(
                "/admin/line/deliveries/import",
                &[],
                &[("file", "bad.csv", "text/csv", bad.into_bytes())],
            )
            .await;
        assert_eq!(res.status().as_u16(), 200, "{label}");
        let html = res.text().await.unwrap();
        assert!(html.contains("何も登録していません"), "{label}");
        assert!(
            html.contains("602 行目「時刻」"),
            "{label}: {}",
            &html[html.find("error-summary").unwrap_or(0)..]
                .chars()
                .take(600)
                .collect::<String>()
        );
        assert_eq!(
            deliveries::count(app.db(), None).await.unwrap(),
            0,
            "{label}"
        );
        // Shift_JIS is read too; 600 patterns land at once, confirmed.
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(&good);
        let res = admin
            .post_multipart(
                "/admin/line/deliveries/import",
                &[],
                &[("file", "good.csv", "text/csv", sjis.into_owned())],
            )
            .await;
        assert_eq!(res.status().as_u16(), 303, "{label}");
        assert_eq!(
            deliveries::count(app.db(), Some(Status::Approved))
                .await
                .unwrap(),
            600
        );
        let one = &deliveries::list(app.db(), None, 1, 0).await.unwrap()[0];
        assert_eq!(one.draft.source, "csv");
        assert_eq!(
            one.draft.messages[0]["text"],
            "明日は燃えるごみの日です。\n7時までに出してください。"
        );
    }
}
