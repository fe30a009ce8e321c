//! Every HTTP, TLS and browser story in one test binary: one link instead of
//! sixteen keeps CI's disk use and build time down.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin_http;
mod attributes_http;
mod availability_http;
mod booking_http;
mod browser_availability;
mod browser_booking;
mod browser_catalogue;
mod browser_composer;
mod browser_deliveries;
mod browser_forms;
mod browser_line;
mod browser_reports;
mod browser_staff;
mod catalogue_http;
mod change_http;
mod composer_http;
mod concurrency_http;
mod counter_http;
mod deliveries_http;
mod forms_http;
mod line_admin_http;
mod line_webhook_http;
mod reports_http;
mod resident_http;
mod residents_admin_http;
mod segments_http;
mod tls;

/// Saves a screenshot as target/screenshots/{name}.png (browser stories).
fn shot(page: &hiroba_testkit::browser::Page, name: String) -> impl Future<Output = ()> + '_ {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/screenshots")
        .join(format!("{name}.png"));
    async move { page.screenshot(&path).await.unwrap() }
}

/// Signs the first demo administrator in through the admin login page
/// (nothing to do when the page already has a session).
async fn sign_in_admin(page: &hiroba_testkit::browser::Page, base: &str) {
    let staff = &hiroba_testkit::DEMO_STAFF[0];
    page.goto(&format!("{base}/admin/login")).await.unwrap();
    if page.exists("#login_id").await.unwrap() {
        page.fill("#login_id", staff.login).await.unwrap();
        page.fill("#password", staff.password).await.unwrap();
        page.click_and_wait("form.stack button[type=submit]")
            .await
            .unwrap();
    }
}
