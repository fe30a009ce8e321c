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

/// Seeds the demo data and serves on 127.0.0.1:0. Without a `public_url`
/// the server's own address is used (links in mail, message image URLs).
pub async fn spawn_app(test_db: TestDb, mut config: WebConfig) -> TestApp {
    hiroba::demo::seed(&test_db.db).await.expect("demo seed");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    if config.public_url.is_empty() {
        config.public_url = format!("http://{addr}");
    }
    let state = AppState::new(
        test_db.db.clone(),
        config,
        hiroba_store::SecretBox::random().expect("secret key"),
    )
    .await
    .expect("app state");
    let app = hiroba_web::app(state.clone());
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

    /// Registers an active resident directly in the store and signs in
    /// through the resident login form; returns the session and resident id.
    pub async fn resident(&self, email: &str, name: &str, category_id: i64) -> (Session, i64) {
        use hiroba_domain::resident::Profile;
        use hiroba_store::residents;
        let password = "Kunitomi-sumai 2026 hiroba";
        let hash = staff::hash_password(&NewPassword::parse(password, &[]).unwrap())
            .await
            .unwrap();
        let profile = Profile {
            email: email.to_owned(),
            name: name.to_owned(),
            kana: "くにとみ たろう".into(),
            postal_code: "880-1192".into(),
            address: "宮崎県東諸県郡国富町本庄4800".into(),
            phone: "0985-75-3111".into(),
            group_name: String::new(),
        };
        let mut tx = self.db().begin().await.unwrap();
        let id = residents::register(&mut tx, &profile, category_id, true, &hash)
            .await
            .unwrap();
        residents::activate(&mut tx, id).await.unwrap();
        tx.commit().await.unwrap();
        let session = Session {
            client: self.client(),
            base: self.base.clone(),
            csrf: String::new(),
        };
        let page = session.get("/account/login").await.text().await.unwrap();
        let csrf = meta_csrf(&page).expect("login page csrf");
        let res = session
            .post_raw(
                "/account/login",
                &[("_csrf", &csrf), ("email", email), ("password", password)],
            )
            .await;
        assert_eq!(res.status(), 303, "{}: resident login failed", self.label());
        let home = session.get("/account").await.text().await.unwrap();
        let csrf = meta_csrf(&home).expect("account csrf");
        (Session { csrf, ..session }, id)
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

    /// Posts a `multipart/form-data` form with this session's CSRF token
    /// first, as the browser sends a file-upload form; `files` are
    /// (field, file name, content type, bytes).
    pub async fn post_multipart(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &str, Vec<u8>)],
    ) -> reqwest::Response {
        let mut form = reqwest::multipart::Form::new().text("_csrf", self.csrf.clone());
        for (k, v) in fields {
            form = form.text((*k).to_owned(), (*v).to_owned());
        }
        for (field, name, kind, bytes) in files {
            let part = reqwest::multipart::Part::bytes(bytes.clone())
                .file_name((*name).to_owned())
                .mime_str(kind)
                .unwrap();
            form = form.part((*field).to_owned(), part);
        }
        self.client
            .post(format!("{}{}", self.base, path))
            .multipart(form)
            .send()
            .await
            .unwrap()
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
    reserve_for(db, combination, date, slot, None).await
}

/// As [`reserve`], for a registered resident.
pub async fn reserve_for(
    db: &Db,
    combination: &hiroba_store::catalogue::Combination,
    date: chrono::NaiveDate,
    slot: (&str, &str),
    resident_id: Option<i64>,
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
        resident_id,
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

/// アリーナくにとみ's main arena as the demo seeds it: the place the booking
/// stories use (full court, half A, half B; lighting booked with the room).
pub struct Arena {
    pub facility: i64,
    pub room: i64,
    /// Full court, half A, half B, in the seed's order.
    pub full: hiroba_store::catalogue::Combination,
    pub half_a: hiroba_store::catalogue::Combination,
    pub half_b: hiroba_store::catalogue::Combination,
    pub lighting: i64,
    pub purpose: String,
    pub terms_version: i64,
    pub category: i64,
    pub phone: String,
}

pub async fn arena(db: &Db) -> Arena {
    use hiroba_store::{catalogue, facilities};
    let f = facilities::list(db)
        .await
        .unwrap()
        .into_iter()
        .find(|f| f.name.contains("アリーナくにとみ"))
        .unwrap();
    let room = facilities::rooms(db, f.id)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.name == "メインアリーナ")
        .unwrap();
    let combos = catalogue::combinations(db, room.id).await.unwrap();
    let pick = |n: &str| combos.iter().find(|c| c.name.contains(n)).cloned().unwrap();
    let full = combos
        .iter()
        .find(|c| c.unit_ids.len() > 1)
        .cloned()
        .unwrap();
    let lighting = catalogue::equipment(db, f.id)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.name.contains("照明") && e.room_id == Some(room.id))
        .unwrap()
        .id;
    let purpose = catalogue::purposes(db, f.id).await.unwrap()[0].name.clone();
    let today = chrono::Utc::now()
        .with_timezone(&hiroba_domain::datetime::JST)
        .date_naive();
    let terms_version = catalogue::terms_in_force(db, f.id, today)
        .await
        .unwrap()
        .map(|t| t.version)
        .unwrap_or(0);
    Arena {
        facility: f.id,
        room: room.id,
        half_a: pick("A"),
        half_b: pick("B"),
        full,
        lighting,
        purpose,
        terms_version,
        category: catalogue::categories(db).await.unwrap()[0].id,
        phone: f.phone,
    }
}

/// Open days of a room from `from` on (within two months), each with its open slots.
pub async fn open_days(
    db: &Db,
    room: i64,
    from: chrono::NaiveDate,
) -> Vec<(
    chrono::NaiveDate,
    Vec<hiroba_domain::time_of_day::TimeRange>,
)> {
    use chrono::Datelike;
    use hiroba_domain::calendar::{DayStatus, SlotState};
    let mut out = Vec::new();
    let mut month = from.with_day(1).unwrap();
    for _ in 0..3 {
        for d in hiroba_store::catalogue_domain::month_calendar(
            db,
            room,
            None,
            month.year(),
            month.month(),
        )
        .await
        .unwrap()
        {
            if d.date >= from && d.status == DayStatus::Open {
                let slots: Vec<_> = d
                    .slots
                    .iter()
                    .filter(|s| s.state == SlotState::Open)
                    .map(|s| s.range)
                    .collect();
                if !slots.is_empty() {
                    out.push((d.date, slots));
                }
            }
        }
        month = month.checked_add_months(chrono::Months::new(1)).unwrap();
    }
    out
}

/// The first open day of a room beyond every user category's booking window
/// at its facility, with its open slots: a date only the counter's override
/// may book. (A fixed offset such as "75 days ahead" is inside a
/// two-months-from-the-1st window early in a month.)
pub async fn beyond_window(
    db: &Db,
    facility: i64,
    room: i64,
) -> (
    chrono::NaiveDate,
    Vec<hiroba_domain::time_of_day::TimeRange>,
) {
    let last = hiroba_store::catalogue::facility_categories(db, facility)
        .await
        .unwrap()
        .iter()
        .filter_map(|r| r.window())
        .map(|w| w.last_bookable_date(today()))
        .max()
        .unwrap();
    open_days(db, room, last + chrono::Duration::days(1))
        .await
        .into_iter()
        .next()
        .unwrap()
}

/// Today in Japan time.
pub fn today() -> chrono::NaiveDate {
    chrono::Utc::now()
        .with_timezone(&hiroba_domain::datetime::JST)
        .date_naive()
}

/// "540-720": a slot as the booking form sends it.
pub fn slot_key(r: &hiroba_domain::time_of_day::TimeRange) -> String {
    format!("{}-{}", r.start.minutes(), r.end.minutes())
}

/// The value of a hidden input in a page.
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// Marks a resident's category as confirmed by staff or not.
pub async fn set_category_verified(db: &Db, resident_id: i64, verified: bool) {
    let mut tx = db.begin().await.unwrap();
    hiroba_store::residents::set_category_verified(&mut tx, resident_id, verified)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}
