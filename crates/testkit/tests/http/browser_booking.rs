//! The booking story in Chromium at 375 px and 1280 px (U01-U12, A23):
//! a resident registers, opens the verification mail from the outbox, books
//! アリーナくにとみ half A with lighting, sees the fee on the confirmation page,
//! completes and finds it under "my reservations"; another resident who had
//! the full court's form open fails over it and reads why; the first resident
//! changes the number of people and then cancels; staff book a walk-in at the counter. The phone-width screenshots
//! illustrate the residents' manual at /help (crates/web/static/help/).

use std::path::PathBuf;

use chrono::Duration;
use hiroba_store::outbox;
use hiroba_testkit::browser::{Browser, Page};
use hiroba_testkit::{DEMO_STAFF, arena, open_days, slot_key, spawn_all, today};

fn shots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots")
}

fn help_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../web/static/help")
}

async fn shot(page: &Page, width: u32, name: &str) {
    page.screenshot(&shots().join(format!("booking-{name}-{width}.png")))
        .await
        .unwrap();
    if width < 600 {
        page.screenshot(&help_dir().join(format!("{name}.png")))
            .await
            .unwrap();
    }
}

async fn resident_login(page: &Page, base: &str, email: &str, password: &str) {
    page.goto(&format!("{base}/account/login")).await.unwrap();
    page.fill("#email", email).await.unwrap();
    page.fill("#password", password).await.unwrap();
    page.click_and_wait("form.stack button[type=submit]")
        .await
        .unwrap();
}

#[tokio::test]
async fn the_booking_story_on_a_phone_and_a_desktop() {
    let app = spawn_all().await.remove(0);
    let db = app.db();
    let a = arena(db).await;
    let days = open_days(db, a.room, today() + Duration::days(8)).await;
    for (round, (width, height)) in [(375u32, 812u32), (1280, 900)].into_iter().enumerate() {
        let (date, slots) = days[round].clone();
        let slot = slot_key(&slots[0]);
        let email = format!("story{width}@example.jp");
        let password = "Hiroba-yoyaku 2026 kunitomi";

        // Register, then open the verification mail from the outbox.
        let browser = Browser::launch().await.unwrap();
        let page = browser.new_page(width, height).await.unwrap();
        page.goto(&app.url("/account/register")).await.unwrap();
        for (field, value) in [
            ("#f-email", email.as_str()),
            ("#f-name", "国富 花子"),
            ("#f-kana", "くにとみ はなこ"),
            ("#f-postal_code", "880-1192"),
            ("#f-address", "宮崎県東諸県郡国富町本庄4800"),
            ("#f-phone", "090-1234-5678"),
            ("#f-password", password),
            ("#f-password_confirm", password),
        ] {
            page.fill(field, value).await.unwrap();
        }
        page.fill("#f-category", &a.category.to_string())
            .await
            .unwrap();
        page.set_checked("input[name=agree]", true).await.unwrap();
        shot(&page, width, "register").await;
        page.click_and_wait("form.stack button[type=submit]")
            .await
            .unwrap();
        let mail = outbox::recent(db, 50)
            .await
            .unwrap()
            .into_iter()
            .find(|m| m.to_address == email)
            .unwrap();
        let start = mail.body.find("/account/verify?token=").unwrap();
        let end = mail.body[start..]
            .find(char::is_whitespace)
            .map(|e| start + e)
            .unwrap_or(mail.body.len());
        page.goto(&app.url(&mail.body[start..end])).await.unwrap();
        assert!(
            page.text("main")
                .await
                .unwrap()
                .contains("登録が完了しました")
        );
        resident_login(&page, &app.base, &email, password).await;

        // Another resident opens the full court's form for the same slot now.
        app.resident(&format!("rival{width}@example.jp"), "国富 次郎", a.category)
            .await;
        let rival_browser = Browser::launch().await.unwrap();
        let rival = rival_browser.new_page(width, height).await.unwrap();
        resident_login(
            &rival,
            &app.base,
            &format!("rival{width}@example.jp"),
            "Kunitomi-sumai 2026 hiroba",
        )
        .await;
        rival
            .goto(&app.url(&format!(
                "/book?combination={}&date={date}&slot={slot}",
                a.full.id
            )))
            .await
            .unwrap();
        rival.fill("#f-purpose", &a.purpose).await.unwrap();
        rival.fill("#f-people", "20").await.unwrap();
        rival.set_checked("input[name=terms]", true).await.unwrap();

        // The resident picks the free slot of half A on the week view.
        page.goto(&app.url(&format!(
            "/facilities/{}/rooms/{}?week={date}&combination={}",
            a.facility, a.room, a.half_a.id
        )))
        .await
        .unwrap();
        shot(&page, width, "week").await;
        page.click_and_wait(&format!(
            "a[href=\"/book?combination={}&date={date}&slot={slot}\"]",
            a.half_a.id
        ))
        .await
        .unwrap();
        assert!(page.text("h1").await.unwrap().contains("予約の申し込み"));
        page.fill("#f-purpose", &a.purpose).await.unwrap();
        page.fill("#f-activity", "練習").await.unwrap();
        page.fill("#f-people", "12").await.unwrap();
        page.fill(&format!("#f-equipment-{}", a.lighting), "1")
            .await
            .unwrap();
        page.set_checked("input[name=terms]", true).await.unwrap();
        shot(&page, width, "form").await;
        page.click_and_wait("form.booking-form button[type=submit]")
            .await
            .unwrap();

        // The confirmation page shows the itemised fee with the lighting.
        let main = page.text("main").await.unwrap();
        assert!(main.contains("予約内容の確認") && main.contains("照明") && main.contains("合計"));
        shot(&page, width, "confirm").await;
        page.click_and_wait("form[action=\"/book/complete\"] button")
            .await
            .unwrap();
        let main = page.text("main").await.unwrap();
        assert!(main.contains("予約が完了しました"), "{width}: done");
        let reference = page.text(".reference").await.unwrap();
        shot(&page, width, "done").await;

        // The rival submits the stale form and reads why it failed.
        rival
            .click_and_wait("form.booking-form button[type=submit]")
            .await
            .unwrap();
        let refused = rival.text(".error-summary").await.unwrap();
        assert!(
            refused.contains("すでに予約が入っています"),
            "{width}: rival told why"
        );
        rival
            .screenshot(&shots().join(format!("booking-refused-{width}.png")))
            .await
            .unwrap();

        // My reservations lists it; the resident cancels.
        page.goto(&app.url("/account/reservations")).await.unwrap();
        assert!(page.text("main").await.unwrap().contains(reference.trim()));
        shot(&page, width, "mine").await;
        page.click_and_wait("ul.reservation-list a").await.unwrap();
        // U10: the resident changes the number of people, sees the change
        // and the fee on the confirmation page, and stores it.
        page.click_and_wait("a[href$='/change']").await.unwrap();
        page.fill("#f-people", "12").await.unwrap();
        shot(&page, width, "change").await;
        page.click_and_wait("button[value=confirm]").await.unwrap();
        assert!(
            page.text("main").await.unwrap().contains("変更内容の確認"),
            "{width}: change confirmation"
        );
        page.click_and_wait("button[value=change]").await.unwrap();
        assert!(
            page.text(".notice")
                .await
                .unwrap()
                .contains("予約の内容を変更しました"),
            "{width}: changed"
        );
        page.click_and_wait("a.button.danger").await.unwrap();
        shot(&page, width, "cancel").await;
        page.click_and_wait("form.stack button.danger")
            .await
            .unwrap();
        assert!(
            page.text(".notice")
                .await
                .unwrap()
                .contains("取り消しました")
        );

        // Staff book a walk-in at the counter from the desk calendar.
        let staff_browser = Browser::launch().await.unwrap();
        let desk = staff_browser.new_page(width, height).await.unwrap();
        desk.goto(&app.url("/admin/login")).await.unwrap();
        desk.fill("#login_id", DEMO_STAFF[0].login).await.unwrap();
        desk.fill("#password", DEMO_STAFF[0].password)
            .await
            .unwrap();
        desk.click_and_wait("form.stack button[type=submit]")
            .await
            .unwrap();
        desk.goto(&app.url(&format!("/admin/desk?date={date}&facility={}", a.facility)))
            .await
            .unwrap();
        desk.screenshot(&shots().join(format!("counter-desk-{width}.png")))
            .await
            .unwrap();
        desk.click_and_wait(&format!(
            "a[href=\"/admin/reservations/new?combination={}&date={date}&slot={slot}\"]",
            a.half_b.id
        ))
        .await
        .unwrap();
        desk.fill("#f-walkin_name", "窓口 一郎").await.unwrap();
        desk.fill("#f-walkin_phone", "0985-75-0000").await.unwrap();
        desk.fill("#f-purpose", &a.purpose).await.unwrap();
        desk.fill("#f-people", "8").await.unwrap();
        desk.screenshot(&shots().join(format!("counter-form-{width}.png")))
            .await
            .unwrap();
        desk.click_and_wait("button[value=book]").await.unwrap();
        assert!(
            desk.text(".notice")
                .await
                .unwrap()
                .contains("予約を登録しました"),
            "{width}: counter booking"
        );
        desk.screenshot(&shots().join(format!("counter-done-{width}.png")))
            .await
            .unwrap();

        // The week view lists the booking (applicant, people) and links free
        // slots to the counter form, for every room of the facility.
        desk.goto(&app.url(&format!(
            "/admin/desk?view=week&date={date}&facility={}",
            a.facility
        )))
        .await
        .unwrap();
        let week = desk.text("table.desk-week").await.unwrap();
        assert!(
            week.contains("窓口 一郎 8人"),
            "{width}: week lists the booking"
        );
        desk.screenshot(&shots().join(format!("counter-week-{width}.png")))
            .await
            .unwrap();
        if width >= 1280 {
            // The week fits a desktop screen without sideways scrolling.
            let fits = desk
                .eval("(() => { const t = document.querySelector('table.desk-week'); return t.getBoundingClientRect().right <= document.documentElement.clientWidth + 1; })()")
                .await
                .unwrap();
            assert_eq!(fits, serde_json::Value::Bool(true), "{width}: week fits");
        }
        desk.click_and_wait("table.desk-week .desk-free a")
            .await
            .unwrap();
        assert!(
            desk.text("h1").await.unwrap().contains("窓口での予約"),
            "{width}: a free slot opens the counter form"
        );

        // The manual (U12) shows these screenshots.
        page.goto(&app.url("/help")).await.unwrap();
        assert!(page.text("h1").await.unwrap().contains("使い方"));
        let srcs = page
            .eval("[...document.images].map(i => i.getAttribute('src'))")
            .await
            .unwrap();
        for src in srcs.as_array().unwrap() {
            let res = app
                .client()
                .get(app.url(src.as_str().unwrap()))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            assert!(
                res.bytes().await.unwrap().starts_with(b"\x89PNG"),
                "{width}: manual image"
            );
        }
        page.screenshot(&shots().join(format!("help-{width}.png")))
            .await
            .unwrap();
    }
}
