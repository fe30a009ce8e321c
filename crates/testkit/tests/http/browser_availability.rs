//! A resident without an account looks for a free slot on a phone and on a
//! desktop: home → facility → month view → week view. Screenshots in
//! target/screenshots/ (these also illustrate the residents' manual).

use std::path::PathBuf;

use hiroba_testkit::browser::Browser;
use hiroba_testkit::spawn_all;

#[tokio::test]
async fn a_resident_finds_availability_without_logging_in() {
    let app = spawn_all().await.remove(0);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    for (width, height) in [(375, 812), (1280, 800)] {
        let browser = Browser::launch().await.unwrap();
        let page = browser.new_page(width, height).await.unwrap();
        page.goto(&app.url("/")).await.unwrap();
        page.click_and_wait(".facility a.button").await.unwrap();
        assert!(page.text("h1").await.unwrap().contains("アリーナくにとみ"));
        page.screenshot(&dir.join(format!("public-facility-{width}.png")))
            .await
            .unwrap();
        page.click_and_wait("ul.cards.big a").await.unwrap();
        assert!(page.text("h1").await.unwrap().contains("空き状況"));
        let visible = if width < 600 {
            "ol.day-list"
        } else {
            "table.month-grid"
        };
        let text = page.text(visible).await.unwrap();
        assert!(
            text.contains("空き")
                || text.contains("○")
                || text.contains("受付期間外")
                || text.contains("−"),
            "{width}: states shown"
        );
        page.screenshot(&dir.join(format!("public-month-{width}.png")))
            .await
            .unwrap();
        page.click_and_wait(".legend a").await.unwrap();
        page.screenshot(&dir.join(format!("public-week-{width}.png")))
            .await
            .unwrap();
    }
}
