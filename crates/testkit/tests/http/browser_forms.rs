//! Browser story in headless Chromium (issue 6; M05, M06, M08): staff build a
//! form in the admin (an attribute item and a free question, then open it);
//! a simulated resident opens it from a LIFF link, the page's script gets the
//! ID token from the simulator's LIFF SDK and opens the session, and the
//! resident registers a district. On SQLite and PostgreSQL; screenshots at
//! 375 and 1280 px under target/screenshots/.

use super::shot;
use std::time::Duration;

use hiroba_domain::attributes::{AttributeKey, AttributeValue, OptionKey};
use hiroba_store::line::{self, Channel};
use hiroba_store::{attributes, forms};
use hiroba_testkit::browser::Browser;
use hiroba_testkit::spawn_all;

use super::forms_http::liff_sim;
use super::line_webhook_http::process;

#[tokio::test]
async fn forms_staff_build_a_form_and_a_resident_answers_in_liff() {
    for app in spawn_all().await {
        let label = app.label();
        let sim = liff_sim(&app).await;
        for (width, height) in [(375, 812), (1280, 800)] {
            let browser = Browser::launch().await.unwrap();
            let page = browser.new_page(width, height).await.unwrap();
            crate::sign_in_admin(&page, &app.base).await;

            page.goto(&format!("{}/admin/line/forms", app.base))
                .await
                .unwrap();
            let title = format!("地区の登録{width}");
            page.fill("#f-title", &title).await.unwrap();
            page.fill("#f-kind", "preference").await.unwrap();
            page.click_and_wait("form[action=\"/admin/line/forms\"] button[type=submit]")
                .await
                .unwrap();
            assert!(page.text("h1").await.unwrap().contains(&title), "{label}");
            // An attribute item (the district, shown as a select) ...
            page.fill("#f-source", "attr:area").await.unwrap();
            page.set_checked("input[name=required]", true)
                .await
                .unwrap();
            page.click_and_wait("form[action$=\"/items\"] button[type=submit]")
                .await
                .unwrap();
            // ... and a free question with options one per line.
            page.fill("#f-source", "q:single_choice").await.unwrap();
            page.fill("#f-label", "このアカウントを知ったきっかけ")
                .await
                .unwrap();
            page.fill("#f-options", "広報くにとみ\n家族・知人\nその他")
                .await
                .unwrap();
            page.click_and_wait("form[action$=\"/items\"] button[type=submit]")
                .await
                .unwrap();
            // ... and the children's birth dates (repeating date rows).
            page.fill("#f-source", "attr:child_birth_dates")
                .await
                .unwrap();
            page.click_and_wait("form[action$=\"/items\"] button[type=submit]")
                .await
                .unwrap();
            page.click_and_wait("#f-open").await.unwrap();
            let main = page.text("main").await.unwrap();
            assert!(main.contains("受付中"), "{label}: {main}");
            assert!(
                main.contains("お住まいの地区") && main.contains("このアカウントを知ったきっかけ")
            );
            shot(&page, format!("{label}-form-edit-{width}")).await;

            let form = forms::list(app.db())
                .await
                .unwrap()
                .into_iter()
                .find(|f| f.title == title)
                .unwrap()
                .id;

            // The resident: follows, then taps the LIFF link in the chat.
            let user = hiroba_line_sim::new_user_id();
            sim.add_user(&user, &format!("八代 みのり{width}"), None);
            sim.follow(&user).await.unwrap();
            process(&app).await;
            let link = format!("https://liff.line.me/{}/forms/{form}", sim.config().liff_id);
            let opened = sim.liff_open_url(&user, &link).unwrap();
            page.goto(&opened).await.unwrap();
            let mut shown = false;
            for _ in 0..100 {
                if page.exists("form.liff-form").await.unwrap_or(false) {
                    shown = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let status = page.text("main").await.unwrap_or_default();
            assert!(shown, "{label}: the LIFF form did not open: {status}");
            assert!(
                !page.url().await.unwrap().contains("liff-sim-code"),
                "code removed"
            );
            // Submitting empty shows the Japanese message at the field.
            page.click_and_wait(".liff-form button[type=submit]")
                .await
                .unwrap();
            assert!(
                page.text("main")
                    .await
                    .unwrap()
                    .contains("「お住まいの地区」を選んでください")
            );
            shot(&page, format!("{label}-liff-form-{width}")).await;
            page.fill("#f-f_i1", "yashiro_kitamata").await.unwrap();
            page.set_checked("input[name=f_i2][value=\"家族・知人\"]", true)
                .await
                .unwrap();
            page.fill("#f-f_i3-1", "2023-01-20").await.unwrap();
            page.click_and_wait(".liff-form button[type=submit]")
                .await
                .unwrap();
            assert!(
                page.text("h1")
                    .await
                    .unwrap()
                    .contains("ありがとうございました"),
                "{label}"
            );
            shot(&page, format!("{label}-liff-thanks-{width}")).await;

            let friend = line::friend_by_user(app.db(), Channel::Production, &user)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                attributes::answers(app.db(), friend.id).await.unwrap()
                    [&AttributeKey::parse("area").unwrap()],
                AttributeValue::Choice(OptionKey::parse("yashiro_kitamata").unwrap()),
                "{label}"
            );
            assert_eq!(
                attributes::answers(app.db(), friend.id).await.unwrap()
                    [&AttributeKey::parse("child_birth_dates").unwrap()],
                AttributeValue::Dates(vec![chrono::NaiveDate::from_ymd_opt(2023, 1, 20).unwrap()]),
                "{label}"
            );
        }
        sim.shutdown();
    }
}
