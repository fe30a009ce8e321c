//! Segments from the admin (issue 6; M05, M09) on SQLite and PostgreSQL:
//! condition rows become a saved segment with its plain-Japanese description,
//! the number of matching friends is counted (button and live JSON), bad rows
//! get Japanese messages and nothing is saved, deeper trees go through JSON,
//! and a segment still used by a delivery cannot be deleted.

use std::collections::BTreeMap;

use chrono::Utc;
use hiroba_domain::attributes::{AttributeKey, AttributeValue, OptionKey};
use hiroba_store::deliveries::{self, Audience, DeliveryDraft, Plan, Status};
use hiroba_store::line::{self, Channel};
use hiroba_store::{attributes, segments};
use hiroba_testkit::spawn_all;

async fn friend_in(app: &hiroba_testkit::TestApp, user: &str, area: &str) -> i64 {
    let mut tx = app.db().begin().await.unwrap();
    let id = line::upsert_follow(&mut tx, Channel::Production, user, user, "", Utc::now())
        .await
        .unwrap();
    attributes::write_answers(
        &mut tx,
        id,
        &BTreeMap::from([(
            AttributeKey::parse("area").unwrap(),
            Some(AttributeValue::Choice(OptionKey::parse(area).unwrap())),
        )]),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

#[tokio::test]
async fn staff_build_count_save_and_protect_a_segment() {
    for app in spawn_all().await {
        let label = app.label();
        for (i, area) in ["honjo", "honjo", "kiwaki", "honjo"].iter().enumerate() {
            friend_in(&app, &format!("U{i:032}"), area).await;
        }
        let admin = app.login_admin().await;
        let page = admin
            .get("/admin/line/segments/new")
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains("お住まいの地区"), "{label}");

        let rows = [
            ("name", "本庄地区"),
            ("combine", "and"),
            ("channel", "production"),
            ("c0_attr", "area"),
            ("c0_op", "in"),
            ("c0_opt", "honjo"),
        ];
        // The count button: 3 of 4 friends live in 本庄.
        let mut counted = rows.to_vec();
        counted.push(("action", "count"));
        let html = admin
            .post("/admin/line/segments/new", &counted)
            .await
            .text()
            .await
            .unwrap();
        assert!(html.contains("3名"), "{label}");
        assert!(html.contains("「本庄」"), "{label}: the description");
        // The live count (JSON, CSRF in the header like the page's script).
        let live: serde_json::Value = admin
            .client
            .post(app.url("/admin/line/segments/count"))
            .header("x-csrf-token", admin.csrf.clone())
            .form(&rows)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(live["count"], 3, "{label}: {live}");
        // Not: those outside 本庄.
        let mut not = rows.to_vec();
        not.push(("c0_not", "1"));
        let live: serde_json::Value = admin
            .client
            .post(app.url("/admin/line/segments/count"))
            .header("x-csrf-token", admin.csrf.clone())
            .form(&not)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(live["count"], 1, "{label}");

        // Bad rows: Japanese messages, nothing saved.
        let bad = [
            ("name", ""),
            ("combine", "and"),
            ("c0_attr", "area"),
            ("c0_op", "in"),
            ("c1_attr", "child_birth_dates"),
            ("c1_op", "age"),
            ("c1_unit", "months"),
            ("c1_min", "6"),
            ("c1_max", "3"),
            ("action", "save"),
        ];
        let html = admin
            .post("/admin/line/segments/new", &bad)
            .await
            .text()
            .await
            .unwrap();
        assert!(html.contains("選択肢を1つ以上選んでください"), "{label}");
        assert!(html.contains("入力内容を確認してください"));
        assert!(segments::list(app.db()).await.unwrap().is_empty());

        let mut save = rows.to_vec();
        save.push(("action", "save"));
        let res = admin.post("/admin/line/segments/new", &save).await;
        assert_eq!(res.status().as_u16(), 303, "{label}");
        let saved = segments::list(app.db()).await.unwrap();
        assert_eq!(saved.len(), 1);
        let id = saved[0].id;
        // The same name again is refused at the field.
        let html = admin
            .post("/admin/line/segments/new", &save)
            .await
            .text()
            .await
            .unwrap();
        assert!(
            html.contains("同じ名前のセグメントがすでにあります"),
            "{label}"
        );
        // The list and the edit page show it back as rows.
        let list = admin
            .get("/admin/line/segments")
            .await
            .text()
            .await
            .unwrap();
        assert!(list.contains("本庄地区") && list.contains("「本庄」"));
        let edit = admin
            .get(&format!("/admin/line/segments/{id}"))
            .await
            .text()
            .await
            .unwrap();
        assert!(edit.contains("value=\"honjo\" checked"), "{label}");

        // A deeper tree through JSON: 本庄 and not a test account.
        let json = r#"{"op":"and","of":[{"op":"choice_in","attribute":"area","options":["honjo"]},{"op":"not","of":{"op":"test_account"}}]}"#;
        let res = admin
            .post(
                &format!("/admin/line/segments/{id}"),
                &[("name", "本庄地区"), ("json", json), ("action", "save")],
            )
            .await;
        assert_eq!(res.status().as_u16(), 303, "{label}");
        let html = admin
            .post(
                &format!("/admin/line/segments/{id}"),
                &[
                    ("name", "本庄地区"),
                    ("json", "{\"op\":"),
                    ("action", "save"),
                ],
            )
            .await
            .text()
            .await
            .unwrap();
        assert!(html.contains("条件（JSON）を読めません"), "{label}");

        // In use by a delivery that has not gone out: deleting is refused.
        let mut tx = app.db().begin().await.unwrap();
        deliveries::create(
            &mut tx,
            &DeliveryDraft {
                title: "本庄地区のお知らせ".into(),
                channel: Channel::Production,
                audience: Audience::Segment(id),
                messages: vec![serde_json::json!({"type": "text", "text": "お知らせ"})],
                plan: Plan::Now,
                memo: String::new(),
                source: "manual".into(),
            },
            Status::Draft,
            None,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let res = admin
            .post(&format!("/admin/line/segments/{id}/delete"), &[])
            .await;
        assert_eq!(res.status().as_u16(), 403, "{label}");
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("まだ配信していない配信で使われている")
        );
        assert_eq!(segments::list(app.db()).await.unwrap().len(), 1);
    }
}
