//! Browser story in headless Chromium (issue 5; M20, M22, M23): on the LINE
//! simulator's /sim page a simulated resident follows the account and says
//! hello; the signed webhook reaches Hiroba, the job worker registers the
//! friend, and staff find the friend and the talk-log entries in the admin.
//! On SQLite and PostgreSQL; screenshots at 375 and 1280 px under
//! target/screenshots/.

use super::shot;
use std::time::Duration;

use hiroba_testkit::browser::Browser;
use hiroba_testkit::spawn_all;

use super::line_webhook_http::sim_for;

#[tokio::test]
async fn a_simulated_resident_follows_and_staff_see_the_talk_log() {
    for app in spawn_all().await {
        let label = app.label();
        let sim = sim_for(&app).await;
        let worker = hiroba_jobs::line_events::spawn(
            app.db().clone(),
            app.state.secrets().clone(),
            Duration::from_millis(100),
        );
        for (width, height) in [(375, 812), (1280, 800)] {
            let user = hiroba_line_sim::new_user_id();
            let name = format!("森永 かおり{width}");
            sim.add_user(&user, &name, None);
            let browser = Browser::launch().await.unwrap();
            let page = browser.new_page(width, height).await.unwrap();

            // The simulator's phone-like chat: follow, then say hello.
            page.goto(&format!("{}/u/{user}", sim.page_url()))
                .await
                .unwrap();
            page.click_and_wait(&format!("form[action=\"/sim/u/{user}/follow\"] button"))
                .await
                .unwrap();
            page.fill("#text", "こんにちは、体育館の予約について")
                .await
                .unwrap();
            page.click_and_wait("form.composer button[type=submit]")
                .await
                .unwrap();
            shot(&page, format!("{label}-sim-chat-{width}")).await;

            // Staff find the new friend (the worker runs in the background).
            crate::sign_in_admin(&page, &app.base).await;
            let mut found = false;
            for _ in 0..50 {
                page.goto(&format!("{}/admin/line/friends", app.base))
                    .await
                    .unwrap();
                let list = page.text("main").await.unwrap();
                if list.contains(&name) {
                    found = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(found, "{label}: {name} not in the friends list");
            shot(&page, format!("{label}-line-friends-{width}")).await;
            let mut logged = false;
            for _ in 0..50 {
                page.goto(&format!("{}/admin/line/friends", app.base))
                    .await
                    .unwrap();
                page.click_and_wait("a[href^=\"/admin/line/friends/\"]")
                    .await
                    .unwrap();
                let log = page.text("ol.talk-log").await.unwrap_or_default();
                if log.contains("友だち追加") && log.contains("こんにちは、体育館の予約について")
                {
                    logged = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(logged, "{label}: talk log entries missing");
            assert!(page.text("h1").await.unwrap().contains(&name), "{label}");
            shot(&page, format!("{label}-line-talk-{width}")).await;
            // The administrator sees the event worker has caught up.
            page.goto(&format!("{}/admin/line/channels", app.base))
                .await
                .unwrap();
            let panel = page.text("main").await.unwrap();
            assert!(
                panel.contains("Webhook イベントの処理状況") && panel.contains("0件"),
                "{label}: {panel}"
            );
            shot(&page, format!("{label}-line-channels-{width}")).await;
        }
        worker.abort();
        sim.shutdown();
    }
}
