//! Forms over HTTP (issue 6; M05, M06, M08, M26), on SQLite and PostgreSQL:
//! staff build a form in the admin (audit, refusals without the permission or
//! the CSRF token), results and the CSV; a resident follows in the LINE
//! simulator, receives the greeting with the LIFF link, opens the form with
//! a simulator ID token and registers district and a child's birth date,
//! which land in the friend's attributes (a segment on the district finds
//! them); forged and expired tokens are refused, and a session of friend A
//! never writes friend B's answers.

use chrono::{NaiveDate, Utc};
use hiroba_domain::attributes::{AttributeKey, AttributeValue, OptionKey};
use hiroba_domain::permission::{FacilityScope, Permission};
use hiroba_domain::segment::{Condition, Predicate};
use hiroba_line_sim::{SimConfig, SimHandle};
use hiroba_store::audit::{self, Filter};
use hiroba_store::line::{self, Channel, ChannelSettings};
use hiroba_store::{attributes, forms, segments};
use hiroba_testkit::{TestApp, hidden, spawn_all};

use crate::line_webhook_http::{SECRET, TOKEN, process};

const PASSWORD: &str = "Tsuyoi-pasu 4821 waado";

pub(crate) async fn liff_sim(app: &TestApp) -> SimHandle {
    let sim = hiroba_line_sim::spawn(SimConfig {
        channel_secret: SECRET.into(),
        channel_token: TOKEN.into(),
        webhook_url: Some(app.url("/line/webhook/production")),
        webhook_redeliveries: 0,
        liff_endpoint_url: Some(app.url("/liff")),
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
            login_channel_id: sim.config().login_channel_id.clone(),
            liff_id: sim.config().liff_id.clone(),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    sim
}

fn action(a: &str) -> Filter {
    Filter {
        action: Some(a.into()),
        ..Default::default()
    }
}

fn key(s: &str) -> AttributeKey {
    AttributeKey::parse(s).unwrap()
}

/// A browser-like client for LIFF pages (cookies kept, no redirects followed).
fn phone(app: &TestApp) -> reqwest::Client {
    app.client()
}

/// Opens a LIFF session with an ID token, as the start page's script does.
async fn open_session(
    app: &TestApp,
    client: &reqwest::Client,
    form: i64,
    id_token: &str,
) -> reqwest::StatusCode {
    let start = client
        .get(app.url(&format!("/liff/forms/{form}")))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 200);
    let html = start.text().await.unwrap();
    let csrf = attr(&html, "data-csrf").expect("start page csrf");
    client
        .post(app.url("/liff/session"))
        .form(&[("id_token", id_token), ("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap()
        .status()
}

fn attr(html: &str, name: &str) -> Option<String> {
    let pat = format!("{name}=\"");
    let start = html.find(&pat)? + pat.len();
    let end = html[start..].find('"')? + start;
    Some(
        html[start..end]
            .replace("&#x2f;", "/")
            .replace("&#x2F;", "/"),
    )
}

#[tokio::test]
async fn forms_staff_build_a_form_with_audit_and_refusals() {
    for app in spawn_all().await {
        let label = app.label();
        let koho = app.login("koho", "oshirase-demo-2026").await;
        let list = koho.get("/admin/line/forms").await;
        assert_eq!(list.status(), 200, "{label}");
        assert!(list.text().await.unwrap().contains("フォームを作成"));

        // Errors are shown per field.
        let res = koho
            .post("/admin/line/forms", &[("title", " "), ("kind", "survey")])
            .await;
        assert_eq!(res.status(), 200);
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("フォーム名を入力してください")
        );

        let res = koho
            .post(
                "/admin/line/forms",
                &[
                    ("title", "子育て世帯の登録"),
                    ("description", ""),
                    ("kind", "preference"),
                ],
            )
            .await;
        assert_eq!(res.status(), 303, "{label}");
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        let id: i64 = location
            .trim_start_matches("/admin/line/forms/")
            .split('?')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let base = format!("/admin/line/forms/{id}");
        // An attribute item and a free question.
        let r = koho
            .post(
                &format!("{base}/items"),
                &[("source", "attr:area"), ("label", ""), ("required", "1")],
            )
            .await;
        assert_eq!(r.status(), 303, "{label}");
        let r = koho
            .post(
                &format!("{base}/items"),
                &[
                    ("source", "q:single_choice"),
                    ("label", "このフォームを知ったきっかけ"),
                    ("options", "広報\n知人\n"),
                ],
            )
            .await;
        assert_eq!(r.status(), 303);
        let r = koho
            .post(
                &format!("{base}/items"),
                &[("source", "q:multiple_choice"), ("label", "選択肢なし")],
            )
            .await;
        assert_eq!(r.status(), 200);
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("選択肢を1行に1つずつ入力してください")
        );
        let r = koho
            .post(&format!("{base}/items/i2/move"), &[("dir", "up")])
            .await;
        assert_eq!(r.status(), 303);
        let stored = forms::get(app.db(), id).await.unwrap();
        assert_eq!(
            stored
                .items
                .iter()
                .map(|i| i.key.as_str())
                .collect::<Vec<_>>(),
            ["i2", "i1"]
        );
        assert_eq!(stored.items[1].label, "お住まいの地区");
        // An item's wording and required flag are changed in place.
        assert_eq!(koho.get(&format!("{base}/items/i2")).await.status(), 200);
        let r = koho
            .post(
                &format!("{base}/items/i2"),
                &[
                    ("source", "q:single_choice"),
                    ("label", "知ったきっかけ"),
                    ("options", "広報\n知人\nその他"),
                    ("required", "1"),
                ],
            )
            .await;
        assert_eq!(r.status(), 303, "{label}");
        let item = forms::get(app.db(), id)
            .await
            .unwrap()
            .items
            .into_iter()
            .find(|i| i.key == "i2")
            .unwrap();
        assert!(item.required && item.label == "知ったきっかけ", "{label}");
        assert_eq!(
            audit::count(app.db(), &action("form.item_update"))
                .await
                .unwrap(),
            1
        );
        let r = koho.post(&format!("{base}/open"), &[("open", "1")]).await;
        assert_eq!(r.status(), 303);
        let r = koho
            .post(&format!("{base}/first-follow"), &[("on", "1")])
            .await;
        assert_eq!(r.status(), 303);
        assert_eq!(
            forms::first_follow_form(app.db())
                .await
                .unwrap()
                .map(|f| f.0),
            Some(id)
        );
        let page = koho.get(&base).await.text().await.unwrap();
        assert!(page.contains("受付中"), "{label}");
        assert!(
            page.contains(&format!("/liff/forms/{id}")),
            "{label}: the link to give out"
        );

        // Staff entry for nobody in particular is refused for a registration form.
        let r = koho
            .post(
                &format!("{base}/entry"),
                &[("friend", ""), ("f_i1", "honjo")],
            )
            .await;
        assert_eq!(r.status(), 200);
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("友だちの番号を入力してください")
        );

        for a in [
            "form.create",
            "form.item_add",
            "form.item_move",
            "form.open",
            "form.first_follow",
        ] {
            assert!(
                audit::count(app.db(), &action(a)).await.unwrap() >= 1,
                "{label}: {a} logged"
            );
        }

        // Without the permission: 403 and nothing changes.
        let uketsuke = app.login("uketsuke", "madoguchi-demo-2026").await;
        assert_eq!(uketsuke.get("/admin/line/forms").await.status(), 403);
        assert_eq!(
            uketsuke
                .post(&format!("{base}/open"), &[("open", "0")])
                .await
                .status(),
            403
        );
        assert_eq!(
            uketsuke.get(&format!("{base}/results")).await.status(),
            403,
            "{label}"
        );
        assert_eq!(
            uketsuke.get(&format!("{base}/results.csv")).await.status(),
            403
        );
        assert!(forms::get(app.db(), id).await.unwrap().is_open);
        // Statistics alone may read the results but not edit.
        app.create_staff("tokei", &[Permission::Statistics], FacilityScope::All)
            .await;
        let tokei = app.login("tokei", PASSWORD).await;
        assert_eq!(
            tokei.get(&format!("{base}/results")).await.status(),
            200,
            "{label}"
        );
        assert_eq!(tokei.get(&base).await.status(), 403);
        // ... and finds them from the statistics page.
        let stats = tokei.get("/admin/line/stats").await.text().await.unwrap();
        assert!(
            stats.contains(&format!("href=\"{base}/results\"")),
            "{label}: the statistics page links the form's results"
        );
        // Missing CSRF token: refused.
        let r = koho
            .post_raw(&format!("{base}/open"), &[("open", "0")])
            .await;
        assert_eq!(r.status(), 403, "{label}");
        assert!(forms::get(app.db(), id).await.unwrap().is_open);
    }
}

#[tokio::test]
async fn forms_a_new_friend_registers_through_liff() {
    for app in spawn_all().await {
        let label = app.label();
        let sim = liff_sim(&app).await;
        assert!(forms::seed_demo(app.db()).await.unwrap());
        let (form, title) = forms::first_follow_form(app.db()).await.unwrap().unwrap();
        assert_eq!(title, "はじめにご登録ください");

        let user = hiroba_line_sim::new_user_id();
        sim.add_user(&user, "国富 花子", None);
        assert!(sim.follow(&user).await.unwrap().delivered);
        assert_eq!(process(&app).await, 1, "{label}");
        // The greeting links the LIFF URL of the form.
        let inbox = sim.inbox(&user);
        let text = inbox
            .iter()
            .filter_map(|e| e.message["text"].as_str())
            .find(|t| t.contains("はじめにご登録ください"))
            .unwrap_or_else(|| panic!("{label}: greeting expected, got {inbox:?}"))
            .to_owned();
        let link = format!("https://liff.line.me/{}/forms/{form}", sim.config().liff_id);
        assert!(text.contains(&link), "{label}: {text}");
        // The simulator maps it to Hiroba's page with a one-time code.
        let opened = sim.liff_open_url(&user, &link).unwrap();
        assert!(
            opened.starts_with(&app.url(&format!("/liff/forms/{form}#"))),
            "{opened}"
        );

        // Without JavaScript/session: the start page, loading the SDK named by the settings.
        let client = phone(&app);
        let start = client
            .get(app.url(&format!("/liff/forms/{form}")))
            .send()
            .await
            .unwrap();
        let csp = start.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains(&sim.api_base()), "{csp}");
        assert!(!csp.contains("unsafe-inline"));
        let html = start.text().await.unwrap();
        assert!(html.contains(&sim.liff_sdk_url()), "{label}");
        assert!(html.contains("LINE公式アカウントのトーク画面にあるリンクから開いてください"));

        let token = sim.issue_id_token(&user).unwrap();
        assert_eq!(
            open_session(&app, &client, form, &token).await,
            200,
            "{label}"
        );
        let page = client
            .get(app.url(&format!("/liff/forms/{form}")))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(
            html.contains("お住まいの地区") && html.contains("<select"),
            "{label}"
        );
        let csrf = hidden(&html, "_csrf").unwrap();

        // Validation with Japanese messages per field.
        let res = client
            .post(app.url(&format!("/liff/forms/{form}")))
            .form(&[("_csrf", csrf.as_str()), ("f_i2", "2021-02-30")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let html = res.text().await.unwrap();
        assert!(
            html.contains("「お住まいの地区」を選んでください"),
            "{label}"
        );
        assert!(html.contains("日付の形式が正しくありません（例: 2025-04-01）"));

        let res = client
            .post(app.url(&format!("/liff/forms/{form}")))
            .form(&[
                ("_csrf", csrf.as_str()),
                ("f_i1", "kiwaki"),
                ("f_i2", "2022-06-15"),
                ("f_i2", ""),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{label}");
        let thanks = client
            .get(app.url(&format!("/liff/forms/{form}/thanks")))
            .send()
            .await
            .unwrap();
        assert!(thanks.text().await.unwrap().contains("登録しました"));

        let friend = line::friend_by_user(app.db(), Channel::Production, &user)
            .await
            .unwrap()
            .unwrap();
        let answers = attributes::answers(app.db(), friend.id).await.unwrap();
        assert_eq!(
            answers[&key("area")],
            AttributeValue::Choice(OptionKey::parse("kiwaki").unwrap()),
            "{label}"
        );
        assert_eq!(
            answers[&key("child_birth_dates")],
            AttributeValue::Dates(vec![NaiveDate::from_ymd_opt(2022, 6, 15).unwrap()])
        );
        let kiwaki = Condition::from(Predicate::ChoiceIn {
            attribute: key("area"),
            options: [OptionKey::parse("kiwaki").unwrap()].into_iter().collect(),
        });
        assert_eq!(
            segments::count(
                app.db(),
                Channel::Production,
                &kiwaki,
                Utc::now().date_naive()
            )
            .await
            .unwrap(),
            1,
            "{label}"
        );
        // Reopened: the current answers are shown (M08).
        let html = client
            .get(app.url(&format!("/liff/forms/{form}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            html.contains("value=\"kiwaki\" selected") && html.contains("2022-06-15"),
            "{label}"
        );
        assert!(html.contains("前回の回答"));

        // The results page counts it; the CSV has a BOM and Japanese headers.
        let koho = app.login("koho", "oshirase-demo-2026").await;
        let results = koho
            .get(&format!("/admin/line/forms/{form}/results"))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            results.contains("木脇") && results.contains("回答 1件"),
            "{label}"
        );
        let csv = koho
            .get(&format!("/admin/line/forms/{form}/results.csv"))
            .await
            .bytes()
            .await
            .unwrap();
        assert!(
            csv.starts_with("\u{feff}回答番号,回答日時,友だち,お住まいの地区".as_bytes()),
            "{label}"
        );
        let csv = String::from_utf8(csv.to_vec()).unwrap();
        assert!(csv.contains("国富 花子") && csv.contains("木脇") && csv.contains("2022-06-15"));
        // Staff reach the entry page for this friend from the friend's page.
        let page = koho
            .get(&format!("/admin/line/friends/{}", friend.id))
            .await
            .text()
            .await
            .unwrap();
        let entry = format!("/admin/line/forms/{form}/entry?friend={}", friend.id);
        assert!(page.contains(&entry), "{label}: entry link");
        assert_eq!(koho.get(&entry).await.status(), 200, "{label}");
    }
}

#[tokio::test]
async fn forms_liff_refuses_forged_tokens_and_never_writes_another_friend() {
    for app in spawn_all().await {
        let label = app.label();
        let sim = liff_sim(&app).await;
        forms::seed_demo(app.db()).await.unwrap();
        let (form, _) = forms::first_follow_form(app.db()).await.unwrap().unwrap();
        let (a, b) = (
            hiroba_line_sim::new_user_id(),
            hiroba_line_sim::new_user_id(),
        );
        sim.add_user(&a, "住民 A", None);
        sim.add_user(&b, "住民 B", None);
        sim.follow(&a).await.unwrap();
        sim.follow(&b).await.unwrap();
        process(&app).await;
        let friend_b = line::friend_by_user(app.db(), Channel::Production, &b)
            .await
            .unwrap()
            .unwrap();

        // Forged: signed with another secret, claiming to be B.
        let forger = hiroba_line_sim::spawn(SimConfig {
            login_channel_secret: "not-the-secret".into(),
            ..SimConfig::default()
        })
        .await
        .unwrap();
        forger.add_user(&b, "住民 B", None);
        let forged = forger.issue_id_token(&b).unwrap();
        let client = phone(&app);
        assert_eq!(
            open_session(&app, &client, form, &forged).await,
            401,
            "{label}"
        );
        assert_eq!(open_session(&app, &client, form, "not.a.token").await, 401);
        // Expired: issued with a lifetime of zero by the right secret.
        let old = hiroba_line_sim::spawn(SimConfig {
            id_token_ttl: std::time::Duration::ZERO,
            ..SimConfig::default()
        })
        .await
        .unwrap();
        old.add_user(&b, "住民 B", None);
        let expired = old.issue_id_token(&b).unwrap();
        assert_eq!(
            open_session(&app, &client, form, &expired).await,
            401,
            "{label}"
        );
        // No session was opened: the form page is still the start page.
        let html = client
            .get(app.url(&format!("/liff/forms/{form}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("data-liff-id"), "{label}");
        // A post without a session is refused.
        let res = client
            .post(app.url(&format!("/liff/forms/{form}")))
            .form(&[("f_i1", "honjo")])
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            403,
            "{label}: no CSRF token without a session"
        );

        // A's valid token; the page claims to be B in every way it can.
        let token_a = sim.issue_id_token(&a).unwrap();
        assert_eq!(open_session(&app, &client, form, &token_a).await, 200);
        let html = client
            .get(app.url(&format!("/liff/forms/{form}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = hidden(&html, "_csrf").unwrap();
        let b_id = friend_b.id.to_string();
        let res = client
            .post(app.url(&format!("/liff/forms/{form}")))
            .form(&[
                ("_csrf", csrf.as_str()),
                ("f_i1", "sanmyo"),
                ("friend_id", b_id.as_str()),
                ("friend", b_id.as_str()),
                ("user_id", b.as_str()),
                ("sub", b.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{label}");
        let friend_a = line::friend_by_user(app.db(), Channel::Production, &a)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            attributes::answers(app.db(), friend_a.id).await.unwrap()[&key("area")],
            AttributeValue::Choice(OptionKey::parse("sanmyo").unwrap())
        );
        assert!(
            attributes::answers(app.db(), friend_b.id)
                .await
                .unwrap()
                .is_empty(),
            "{label}: B untouched"
        );
        assert!(
            forms::latest_response(app.db(), form, friend_b.id)
                .await
                .unwrap()
                .is_none()
        );
        // A missing CSRF token with A's session is refused too.
        let res = client
            .post(app.url(&format!("/liff/forms/{form}")))
            .form(&[("f_i1", "honjo")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403);
    }
}
