//! Browser story in headless Chromium (A01, A02, M21): an administrator creates
//! a member with only the "reservations" permission and one facility; the
//! member logs in, does not see staff administration in the navigation, and
//! is refused it with the Japanese 403 page. Screenshots go to
//! target/screenshots/ at phone (375x812) and desktop (1280x800) widths.

use std::path::PathBuf;

use hiroba_store::facilities;
use hiroba_testkit::browser::{Browser, Page};
use hiroba_testkit::{DEMO_STAFF, spawn_all};

fn shot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots")
}

async fn login(page: &Page, base: &str, login: &str, password: &str) {
    page.goto(&format!("{base}/admin/login")).await.unwrap();
    page.fill("#login_id", login).await.unwrap();
    page.fill("#password", password).await.unwrap();
    page.click_and_wait("form.stack button[type=submit]")
        .await
        .unwrap();
}

async fn shoot(page: &Page, name: &str, width: u32) {
    page.screenshot(&shot_dir().join(format!("{name}-{width}.png")))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_member_with_only_reservations_is_refused_staff_admin() {
    for app in spawn_all().await {
        let arena = facilities::list(app.db()).await.unwrap()[0].clone();
        for (width, height) in [(375, 812), (1280, 800)] {
            let login_id = format!("madoguchi{width}");
            let browser = Browser::launch().await.unwrap();
            let page = browser.new_page(width, height).await.unwrap();

            page.goto(&format!("{}/", app.base)).await.unwrap();
            assert!(page.text("h1").await.unwrap().contains("国富町"));
            shoot(&page, &format!("{}-home", app.label()), width).await;

            login(
                &page,
                &app.base,
                DEMO_STAFF[0].login,
                DEMO_STAFF[0].password,
            )
            .await;
            assert!(
                page.url().await.unwrap().ends_with("/admin"),
                "{}",
                app.label()
            );
            shoot(&page, &format!("{}-admin-home", app.label()), width).await;

            page.goto(&format!("{}/admin/staff/new", app.base))
                .await
                .unwrap();
            page.fill("#f-login_id", &login_id).await.unwrap();
            page.fill("#f-name", "窓口 次郎").await.unwrap();
            page.fill("#f-password", "Yoyaku-uketsuke 5521")
                .await
                .unwrap();
            page.set_checked("input[name=permission][value=reservations]", true)
                .await
                .unwrap();
            page.set_checked("input[name=scope][value=some]", true)
                .await
                .unwrap();
            page.set_checked(
                &format!("input[name=facility][value=\"{}\"]", arena.id),
                true,
            )
            .await
            .unwrap();
            shoot(&page, &format!("{}-staff-new", app.label()), width).await;
            page.click_and_wait("form.stack button[type=submit]")
                .await
                .unwrap();
            assert!(
                page.text(".notice").await.unwrap().contains("作成しました"),
                "{}",
                app.label()
            );
            assert!(page.text("table.list").await.unwrap().contains(&login_id));
            shoot(&page, &format!("{}-staff-list", app.label()), width).await;
            page.click_and_wait("form[action=\"/admin/logout\"] button")
                .await
                .unwrap();

            login(&page, &app.base, &login_id, "Yoyaku-uketsuke 5521").await;
            let nav = page.text(".admin-nav").await.unwrap();
            assert!(
                !nav.contains("職員アカウント"),
                "{}: nav shows staff admin: {nav}",
                app.label()
            );
            assert!(
                page.text("main").await.unwrap().contains(&arena.name),
                "scope shown on the home page"
            );
            shoot(&page, &format!("{}-member-home", app.label()), width).await;

            page.goto(&format!("{}/admin/staff", app.base))
                .await
                .unwrap();
            assert!(
                page.text("h1").await.unwrap().contains("権限がありません"),
                "{}",
                app.label()
            );
            let status = page
                .eval("document.querySelector('.status-code').innerText")
                .await
                .unwrap();
            assert_eq!(status.as_str(), Some("エラー 403"));
            shoot(&page, &format!("{}-forbidden", app.label()), width).await;
        }
    }
}
