//! Browser walk through the facility catalogue (issue 3), on both databases:
//! the administrator opens アリーナくにとみ, its main arena, the slot and fee
//! tables and the month calendar, changes opening hours with a mistake and
//! sees the Japanese message at the row. Screenshots in target/screenshots/.

use std::path::PathBuf;

use hiroba_store::facilities;
use hiroba_testkit::browser::{Browser, Page};
use hiroba_testkit::spawn_all;

async fn shoot(page: &Page, name: &str, width: u32) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    page.screenshot(&dir.join(format!("{name}-{width}.png")))
        .await
        .unwrap();
}

#[tokio::test]
async fn staff_configure_and_preview_a_facility() {
    for app in spawn_all().await {
        let f = facilities::list(app.db())
            .await
            .unwrap()
            .into_iter()
            .find(|f| f.name.contains("アリーナくにとみ"))
            .unwrap();
        let room = facilities::rooms(app.db(), f.id)
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.name == "メインアリーナ")
            .unwrap();
        let base = format!("{}/admin/facilities/{}", app.base, f.id);
        let label = app.label();
        for (width, height) in [(375, 812), (1280, 800)] {
            let browser = Browser::launch().await.unwrap();
            let page = browser.new_page(width, height).await.unwrap();
            crate::sign_in_admin(&page, &app.base).await;

            page.goto(&base).await.unwrap();
            assert!(
                page.text("h1").await.unwrap().contains("アリーナくにとみ"),
                "{label}"
            );
            shoot(&page, &format!("{label}-facility"), width).await;

            page.goto(&format!("{base}/rooms/{}", room.id))
                .await
                .unwrap();
            let half = page
                .eval("document.querySelector('#combo-name-1').value")
                .await
                .unwrap();
            assert_eq!(half.as_str(), Some("A面（片面）"), "{label}");
            shoot(&page, &format!("{label}-room"), width).await;

            page.goto(&format!("{base}/rooms/{}/slots", room.id))
                .await
                .unwrap();
            shoot(&page, &format!("{label}-slots"), width).await;
            page.goto(&format!("{base}/rooms/{}/fees", room.id))
                .await
                .unwrap();
            shoot(&page, &format!("{label}-fees"), width).await;

            page.goto(&format!("{base}/rooms/{}/calendar?month=2027-01", room.id))
                .await
                .unwrap();
            let visible = if width < 600 {
                "ol.day-list"
            } else {
                "table.month-grid"
            };
            let text = page.text(visible).await.unwrap();
            assert!(
                text.contains("成人の日"),
                "{label}: {visible} shows the holiday"
            );
            shoot(&page, &format!("{label}-calendar"), width).await;

            // A mistake in the opening hours comes back with a message at its row.
            page.goto(&format!("{base}/opening")).await.unwrap();
            page.fill("#f-opening_0 input[name=end]", "8:00")
                .await
                .unwrap();
            page.click_and_wait("form.stack button[type=submit]")
                .await
                .unwrap();
            assert!(
                page.exists("#f-opening_0 .field-error").await.unwrap(),
                "{label}: error at the row"
            );
            shoot(&page, &format!("{label}-opening-error"), width).await;

            page.goto(&format!("{}/admin/holidays?year=2026", app.base))
                .await
                .unwrap();
            assert!(page.text("table.list").await.unwrap().contains("元日"));
            shoot(&page, &format!("{label}-holidays"), width).await;
        }
    }
}
