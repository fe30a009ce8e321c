//! The test kit: boots a real Hiroba server (the binary's own accept loop) on
//! port 0 against each test database, with HTTP helpers that behave like a
//! browser (cookies, CSRF tokens), and a minimal Chromium driver.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod browser;

use std::net::SocketAddr;

use hiroba_domain::permission::{FacilityScope, Permission};
use hiroba_domain::staff::{LoginId, NewPassword, StaffName};
use hiroba_store::Db;
use hiroba_store::staff::{self, StaffChange};
use hiroba_store::testing::{self, TestDb};
use hiroba_web::{AppState, WebConfig};
use reqwest::redirect::Policy;
use tokio::sync::oneshot;

pub use hiroba::demo::DEMO_STAFF;

/// A running server and the database behind it.
pub struct TestApp {
    pub base: String,
    pub addr: SocketAddr,
    pub state: AppState,
    pub test_db: TestDb,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// One app per backend: SQLite always, PostgreSQL when TEST_POSTGRES_URL is set.
pub async fn spawn_all() -> Vec<TestApp> {
    let mut apps = Vec::new();
    for db in testing::backends().await {
        apps.push(spawn_app(db, WebConfig::default()).await);
    }
    apps
}

/// Seeds the demo data and serves on 127.0.0.1:0.
pub async fn spawn_app(test_db: TestDb, config: WebConfig) -> TestApp {
    hiroba::demo::seed(&test_db.db).await.expect("demo seed");
    let state = AppState::new(test_db.db.clone(), config)
        .await
        .expect("app state");
    let app = hiroba_web::app(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(hiroba::server::serve(listener, app, None, async {
        let _ = stopped.await;
    }));
    TestApp {
        base: format!("http://{addr}"),
        addr,
        state,
        test_db,
        stop: Some(stop),
    }
}

impl TestApp {
    pub fn db(&self) -> &Db {
        &self.test_db.db
    }

    pub fn label(&self) -> &'static str {
        self.test_db.label()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A cookie-keeping client that does not follow redirects.
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .build()
            .unwrap()
    }

    /// Signs in through the login form, as a browser would.
    pub async fn login(&self, login: &str, password: &str) -> Session {
        let session = Session {
            client: self.client(),
            base: self.base.clone(),
            csrf: String::new(),
        };
        let page = session.get("/admin/login").await.text().await.unwrap();
        let csrf = meta_csrf(&page).expect("login page csrf");
        let res = session
            .client
            .post(self.url("/admin/login"))
            .form(&[
                ("_csrf", csrf.as_str()),
                ("login_id", login),
                ("password", password),
                ("next", "/admin"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            303,
            "{}: login of {login} failed",
            self.label()
        );
        let home = session.get("/admin").await;
        assert_eq!(home.status(), 200);
        let csrf = meta_csrf(&home.text().await.unwrap()).expect("admin csrf");
        Session { csrf, ..session }
    }

    pub async fn login_admin(&self) -> Session {
        self.login(DEMO_STAFF[0].login, DEMO_STAFF[0].password)
            .await
    }

    /// Creates a staff member directly in the store; returns (id, password).
    pub async fn create_staff(
        &self,
        login: &str,
        permissions: &[Permission],
        scope: FacilityScope,
    ) -> (i64, String) {
        let password = "Tsuyoi-pasu 4821 waado".to_owned();
        let parsed = NewPassword::parse(&password, &[]).unwrap();
        let hash = staff::hash_password(&parsed).await.unwrap();
        let change = StaffChange {
            name: StaffName::parse(&format!("テスト {login}")).unwrap(),
            permissions: permissions.iter().copied().collect(),
            scope,
        };
        let mut tx = self.db().begin().await.unwrap();
        let id = staff::create(&mut tx, &LoginId::parse(login).unwrap(), &change, &hash)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        (id, password)
    }
}

/// A signed-in browser-like client.
pub struct Session {
    pub client: reqwest::Client,
    pub base: String,
    pub csrf: String,
}

impl Session {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{}", self.base, path))
            .send()
            .await
            .unwrap()
    }

    /// Posts a form with this session's CSRF token.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut all = vec![("_csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// Posts exactly these fields (no CSRF token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(format!("{}{}", self.base, path))
            .form(fields)
            .send()
            .await
            .unwrap()
    }
}

/// The CSRF token every page carries in `<meta name="csrf-token">`.
pub fn meta_csrf(html: &str) -> Option<String> {
    let start =
        html.find("name=\"csrf-token\" content=\"")? + "name=\"csrf-token\" content=\"".len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// Books `combination` of a room for one slot directly in the store, as a
/// resident of the first user category would; returns the reservation id.
pub async fn reserve(
    db: &Db,
    combination: &hiroba_store::catalogue::Combination,
    date: chrono::NaiveDate,
    slot: (&str, &str),
) -> i64 {
    use hiroba_store::{catalogue, facilities, reservations};
    let room = facilities::room(db, combination.room_id)
        .await
        .unwrap()
        .unwrap();
    let request = reservations::NewReservation {
        facility_id: room.facility_id,
        room_id: room.id,
        combination_id: combination.id,
        unit_ids: combination.unit_ids.clone(),
        date,
        slots: vec![hiroba_domain::time_of_day::TimeRange::parse(slot.0, slot.1).unwrap()],
        resident_id: None,
        applicant_name: "国富 花子".into(),
        applicant_phone: String::new(),
        category_id: catalogue::categories(db).await.unwrap()[0].id,
        purpose: "バドミントン".into(),
        activity: "練習".into(),
        people: 8,
        fee_total: 1440,
        reduction_id: None,
        terms_version: Some(1),
        equipment: Vec::new(),
        created_by_staff: None,
    };
    let mut tx = db.begin().await.unwrap();
    let (id, _) = reservations::create(&mut tx, &request).await.unwrap();
    tx.commit().await.unwrap();
    id
}
