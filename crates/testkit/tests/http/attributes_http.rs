//! Attributes and a friend's answers from the admin (issue 6; M09, M11, M12)
//! on SQLite and PostgreSQL: staff add an attribute with options, rename and
//! retire without losing answers; change a friend's answers (logged, Japanese
//! messages for bad input, nothing partial saved); mark a test account.

use chrono::{NaiveDate, Utc};
use hiroba_domain::attributes::{AttributeKey, AttributeValue, OptionKey};
use hiroba_store::attributes;
use hiroba_store::audit::{self, Filter};
use hiroba_store::line::{self, Channel};
use hiroba_testkit::spawn_all;

fn key(k: &str) -> AttributeKey {
    AttributeKey::parse(k).unwrap()
}

#[tokio::test]
async fn staff_define_attributes_and_change_a_friends_answers() {
    for app in spawn_all().await {
        let label = app.label();
        let admin = app.login_admin().await;
        let list = admin
            .get("/admin/line/attributes")
            .await
            .text()
            .await
            .unwrap();
        assert!(
            list.contains("お住まいの地区") && list.contains("お子さんの生年月日"),
            "{label}"
        );

        // Bad input: no options for a choice, a key in Japanese.
        let html = admin
            .post(
                "/admin/line/attributes",
                &[
                    ("name", "子育て支援センター"),
                    ("key", "子育て"),
                    ("kind", "single_choice"),
                    ("options", ""),
                ],
            )
            .await
            .text()
            .await
            .unwrap();
        assert!(
            html.contains("選択肢を1行に1つずつ入力してください"),
            "{label}"
        );
        assert!(html.contains("入力内容を確認してください"));
        let res = admin
            .post(
                "/admin/line/attributes",
                &[
                    ("name", "子育て支援センターの利用"),
                    ("key", "kosodate_center"),
                    ("kind", "single_choice"),
                    ("options", "よく使う\nときどき使う\n使わない"),
                ],
            )
            .await;
        assert_eq!(res.status().as_u16(), 303, "{label}");
        let catalog = attributes::catalog(app.db()).await.unwrap();
        let center = catalog.get(&key("kosodate_center")).expect("created");
        assert_eq!(center.active_options().count(), 3);

        // A friend, and staff change their answers from the friend page.
        let mut tx = app.db().begin().await.unwrap();
        let id = line::upsert_follow(
            &mut tx,
            Channel::Production,
            "Ufriend",
            "国富 花子",
            "",
            Utc::now(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let page = admin
            .get(&format!("/admin/line/friends/{id}"))
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains("まだ回答はありません"), "{label}");
        let form = admin
            .get(&format!("/admin/line/friends/{id}/attributes"))
            .await
            .text()
            .await
            .unwrap();
        assert!(form.contains("子育て支援センターの利用"));
        let bad = admin
            .post(
                &format!("/admin/line/friends/{id}/attributes"),
                &[("a_area", "honjo"), ("a_birth_year", "1850")],
            )
            .await
            .text()
            .await
            .unwrap();
        assert!(bad.contains("入力内容を確認してください"), "{label}");
        assert!(
            attributes::answers(app.db(), id).await.unwrap().is_empty(),
            "{label}: nothing partial is saved"
        );
        let center_option = center
            .active_options()
            .next()
            .unwrap()
            .key
            .as_str()
            .to_owned();
        let res = admin
            .post(
                &format!("/admin/line/friends/{id}/attributes"),
                &[
                    ("a_area", "honjo"),
                    ("a_child_birth_dates", "2026-08-15"),
                    ("a_child_birth_dates", "2023-04-02"),
                    ("a_child_birth_dates", ""),
                    ("a_kosodate_center", center_option.as_str()),
                ],
            )
            .await;
        assert_eq!(res.status().as_u16(), 303, "{label}");
        let answers = attributes::answers(app.db(), id).await.unwrap();
        assert_eq!(
            answers.get(&key("area")),
            Some(&AttributeValue::Choice(OptionKey::parse("honjo").unwrap()))
        );
        match answers.get(&key("child_birth_dates")) {
            Some(AttributeValue::Dates(ds)) => {
                assert!(ds.contains(&NaiveDate::from_ymd_opt(2026, 8, 15).unwrap()));
                assert_eq!(ds.len(), 2, "{label}");
            }
            other => panic!("{label}: {other:?}"),
        }
        let logged = audit::search(
            app.db(),
            &Filter {
                action: Some("friend.attributes".into()),
                ..Filter::default()
            },
            5,
            0,
        )
        .await
        .unwrap();
        assert_eq!(logged.len(), 1, "{label}");
        assert!(
            logged[0]
                .summary
                .contains("お住まいの地区: （未回答） → 本庄")
        );
        let page = admin
            .get(&format!("/admin/line/friends/{id}"))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("本庄") && page.contains("2026年8月15日"),
            "{label}"
        );

        // Retiring the option and the attribute keeps the answer.
        let res = admin
            .post(
                "/admin/line/attributes/kosodate_center",
                &[("action", &format!("retire_option:{center_option}"))],
            )
            .await;
        assert_eq!(res.status().as_u16(), 303, "{label}");
        admin
            .post(
                "/admin/line/attributes/kosodate_center",
                &[("action", "retire")],
            )
            .await;
        admin
            .post(
                "/admin/line/attributes/kosodate_center",
                &[("action", "rename"), ("name", "支援センターの利用")],
            )
            .await;
        let catalog = attributes::catalog(app.db()).await.unwrap();
        let center = catalog.get(&key("kosodate_center")).unwrap();
        assert!(center.is_retired());
        assert_eq!(center.name().as_str(), "支援センターの利用");
        assert!(
            attributes::answers(app.db(), id)
                .await
                .unwrap()
                .contains_key(&key("kosodate_center")),
            "{label}: the answer survives retirement"
        );

        // Test account (M12).
        assert!(!attributes::facts(app.db(), id).await.unwrap().is_test);
        admin
            .post(
                &format!("/admin/line/friends/{id}/tester"),
                &[("tester", "1")],
            )
            .await;
        assert!(
            attributes::facts(app.db(), id).await.unwrap().is_test,
            "{label}"
        );
    }
}
