//! Staff reports (A26, A27) and the counter screens in Chromium: the monthly
//! usage report on screen and as print-ready A4, the counts page, and the
//! reservation list, at 375 px and 1280 px. Screenshots in target/screenshots/.

use std::path::PathBuf;

use chrono::{Datelike, Duration};
use hiroba_testkit::browser::Browser;
use hiroba_testkit::{DEMO_STAFF, arena, open_days, reserve, spawn_all, today};

#[tokio::test]
async fn staff_read_reports_on_screen_and_on_paper() {
    let app = spawn_all().await.remove(0);
    let db = app.db();
    let a = arena(db).await;
    for (d, slots) in open_days(db, a.room, today() + Duration::days(1))
        .await
        .iter()
        .take(6)
    {
        let (s0, s1) = (slots[0].start.to_string(), slots[0].end.to_string());
        reserve(db, &a.full, *d, (&s0, &s1)).await;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    let month = (today() + Duration::days(1)).format("%Y-%m").to_string();
    let fy = if today().month() >= 4 {
        today().year()
    } else {
        today().year() - 1
    };
    for (width, height) in [(375u32, 812u32), (1280, 900)] {
        let browser = Browser::launch().await.unwrap();
        let page = browser.new_page(width, height).await.unwrap();
        page.goto(&app.url("/admin/login")).await.unwrap();
        page.fill("#login_id", DEMO_STAFF[0].login).await.unwrap();
        page.fill("#password", DEMO_STAFF[0].password)
            .await
            .unwrap();
        page.click_and_wait("form.stack button[type=submit]")
            .await
            .unwrap();
        page.goto(&app.url(&format!("/admin/reports/monthly?month={month}")))
            .await
            .unwrap();
        assert!(
            page.text("main")
                .await
                .unwrap()
                .contains("アリーナくにとみ")
        );
        page.screenshot(&dir.join(format!("report-monthly-{width}.png")))
            .await
            .unwrap();
        page.goto(&app.url(&format!(
            "/admin/reports/monthly?month={month}&format=print"
        )))
        .await
        .unwrap();
        page.screenshot(&dir.join(format!("report-monthly-print-{width}.png")))
            .await
            .unwrap();
        page.goto(&app.url(&format!("/admin/reports/counts?fy={fy}")))
            .await
            .unwrap();
        page.screenshot(&dir.join(format!("report-counts-{width}.png")))
            .await
            .unwrap();
        page.goto(&app.url("/admin/reservations")).await.unwrap();
        assert!(page.text("main").await.unwrap().contains("予約の管理"));
        page.screenshot(&dir.join(format!("reservations-{width}.png")))
            .await
            .unwrap();
    }
}
