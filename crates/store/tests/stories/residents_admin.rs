//! Staff administration of residents (A19) and erasure of a registration
//! (A30), on SQLite and PostgreSQL.

use chrono::{Duration, NaiveDate, Utc};
use hiroba_domain::datetime::JST;
use hiroba_domain::resident::Profile;
use hiroba_domain::time_of_day::TimeRange;
use hiroba_store::outbox::{self, Mail};
use hiroba_store::reservations::{self, NewReservation};
use hiroba_store::residents::{self, ERASED_NAME, ResidentQuery, TokenPurpose};
use hiroba_store::testing::backends;
use hiroba_store::{Db, StoreError, catalogue, facilities, on_pool, seed, staff};

fn profile(name: &str, kana: &str, email: &str, phone: &str) -> Profile {
    Profile {
        email: email.into(),
        name: name.into(),
        kana: kana.into(),
        postal_code: "880-1192".into(),
        address: "宮崎県東諸県郡国富町本庄4800".into(),
        phone: phone.into(),
        group_name: "本庄バドミントンクラブ".into(),
    }
}

async fn setup(db: &Db) {
    seed::kunitomi_facilities(db).await.unwrap();
    hiroba_store::kunitomi_catalogue(db).await.unwrap();
}

/// A self-registered, verified resident.
async fn registered(db: &Db, p: &Profile, category: i64, verified: bool) -> i64 {
    let mut tx = db.begin().await.unwrap();
    let id = residents::register(&mut tx, p, category, verified, "$argon2id$dummy")
        .await
        .unwrap();
    residents::activate(&mut tx, id).await.unwrap();
    tx.commit().await.unwrap();
    id
}

async fn book(db: &Db, resident: i64, p: &Profile, date: NaiveDate, start: &str) -> i64 {
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
    let combo = catalogue::combinations(db, room.id).await.unwrap()[0].clone();
    let end = format!(
        "{}:00",
        start[..start.find(':').unwrap()].parse::<u32>().unwrap() + 1
    );
    let request = NewReservation {
        facility_id: f.id,
        room_id: room.id,
        combination_id: combo.id,
        unit_ids: combo.unit_ids.clone(),
        date,
        slots: vec![TimeRange::parse(start, &end).unwrap()],
        resident_id: Some(resident),
        applicant_name: p.name.clone(),
        applicant_phone: p.phone.clone(),
        category_id: catalogue::categories(db).await.unwrap()[0].id,
        purpose: "バドミントン".into(),
        activity: "練習".into(),
        people: 6,
        fee_total: 720,
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

fn query(text: &str) -> ResidentQuery {
    ResidentQuery {
        text: Some(text.into()),
        limit: 50,
        ..ResidentQuery::default()
    }
}

#[tokio::test]
async fn search_filters_by_text_status_category_and_verification() {
    for t in backends().await {
        let db = &t.db;
        setup(db).await;
        let categories = catalogue::categories(db).await.unwrap();
        let (plain, proof) = (
            categories.iter().find(|c| !c.needs_proof).unwrap().id,
            categories.iter().find(|c| c.needs_proof).unwrap().id,
        );
        let hanako = registered(
            db,
            &profile(
                "国富 花子",
                "くにとみ はなこ",
                "hanako@example.jp",
                "090-1234-5678",
            ),
            plain,
            true,
        )
        .await;
        let jiro = registered(
            db,
            &profile(
                "本庄 次郎",
                "ホンジョウ ジロウ",
                "jiro@example.jp",
                "0985-75-1111",
            ),
            proof,
            false,
        )
        .await;
        let mut tx = db.begin().await.unwrap();
        let counter = residents::create_by_staff(
            &mut tx,
            &profile("森永 三郎", "もりなが さぶろう", "", "0985-75-2222"),
            None,
            plain,
            true,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();

        let ids = |rows: Vec<residents::ResidentSummary>| -> Vec<i64> {
            rows.into_iter().map(|r| r.id).collect()
        };
        // Newest first.
        assert_eq!(
            ids(residents::search(
                db,
                &ResidentQuery {
                    limit: 50,
                    ..Default::default()
                }
            )
            .await
            .unwrap()),
            vec![counter, jiro, hanako],
            "{}",
            t.label()
        );
        // Name, kana (either script), e-mail, phone with or without hyphens, group.
        for (text, expected) in [
            ("花子", vec![hanako]),
            ("はなこ", vec![hanako]),
            ("ハナコ", vec![hanako]),
            ("ほんじょう", vec![jiro]),
            ("JIRO@EXAMPLE", vec![jiro]),
            ("09012345678", vec![hanako]),
            ("75-2222", vec![counter]),
            ("バドミントン", vec![counter, jiro, hanako]),
            ("100%", vec![]),
        ] {
            assert_eq!(
                ids(residents::search(db, &query(text)).await.unwrap()),
                expected,
                "{}: {text}",
                t.label()
            );
        }
        let unverified = ResidentQuery {
            unverified_only: true,
            limit: 50,
            ..Default::default()
        };
        assert_eq!(
            ids(residents::search(db, &unverified).await.unwrap()),
            vec![jiro]
        );
        let by_category = ResidentQuery {
            category_id: Some(proof),
            limit: 50,
            ..Default::default()
        };
        assert_eq!(
            ids(residents::search(db, &by_category).await.unwrap()),
            vec![jiro]
        );

        // Paging and counting.
        let page2 = ResidentQuery {
            limit: 2,
            offset: 2,
            ..Default::default()
        };
        assert_eq!(
            ids(residents::search(db, &page2).await.unwrap()),
            vec![hanako]
        );
        assert_eq!(residents::count(db, &page2).await.unwrap(), 3);

        // Verification, suspension.
        let mut tx = db.begin().await.unwrap();
        residents::set_category_verified(&mut tx, jiro, true)
            .await
            .unwrap();
        residents::suspend(&mut tx, hanako).await.unwrap();
        tx.commit().await.unwrap();
        assert!(residents::search(db, &unverified).await.unwrap().is_empty());
        let suspended = ResidentQuery {
            status: Some("suspended".into()),
            limit: 50,
            ..Default::default()
        };
        assert_eq!(
            ids(residents::search(db, &suspended).await.unwrap()),
            vec![hanako]
        );

        // Erased registrations only when asked for.
        let mut tx = db.begin().await.unwrap();
        residents::erase(&mut tx, counter).await.unwrap();
        tx.commit().await.unwrap();
        let all = ResidentQuery {
            limit: 50,
            ..Default::default()
        };
        assert_eq!(
            ids(residents::search(db, &all).await.unwrap()),
            vec![jiro, hanako]
        );
        let with_erased = ResidentQuery {
            include_erased: true,
            limit: 50,
            ..Default::default()
        };
        assert_eq!(residents::count(db, &with_erased).await.unwrap(), 3);
        let erased = ResidentQuery {
            status: Some("erased".into()),
            limit: 50,
            ..Default::default()
        };
        assert_eq!(
            ids(residents::search(db, &erased).await.unwrap()),
            vec![counter]
        );
    }
}

#[tokio::test]
async fn counter_registration_update_suspend_and_reactivate() {
    for t in backends().await {
        let db = &t.db;
        setup(db).await;
        let category = catalogue::categories(db).await.unwrap()[0].id;
        let mut tx = db.begin().await.unwrap();
        let id = residents::create_by_staff(
            &mut tx,
            &profile(
                "国富 一郎",
                "くにとみ いちろう",
                "ignored@example.jp",
                "0985-75-3111",
            ),
            Some(" Ichiro@Example.JP "),
            category,
            true,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let r = residents::get(db, id).await.unwrap().unwrap();
        assert_eq!(r.status, "active", "{}", t.label());
        assert_eq!(r.email.as_deref(), Some("ichiro@example.jp"));
        // Nobody knows the password: not even an empty one matches.
        for attempt in ["", "!", &r.password_hash] {
            assert!(!staff::verify_password(Some(r.password_hash.clone()), attempt).await);
        }

        // A taken address is reported as a duplicate.
        let mut tx = db.begin().await.unwrap();
        let dup = residents::create_by_staff(
            &mut tx,
            &profile("別人", "べつじん", "", "0985-75-0000"),
            Some("ichiro@example.jp"),
            category,
            true,
        )
        .await;
        assert!(
            matches!(dup, Err(StoreError::Duplicate("email"))),
            "{}",
            t.label()
        );
        drop(tx);

        // Two counter registrations without any address do not collide.
        let mut tx = db.begin().await.unwrap();
        for n in 0..2 {
            residents::create_by_staff(
                &mut tx,
                &profile(&format!("窓口 {n}"), "まどぐち", "", "0985-75-0000"),
                None,
                category,
                true,
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();

        let mut tx = db.begin().await.unwrap();
        let mut changed = profile("国富 一郎", "くにとみ いちろう", "", "090-0000-1111");
        changed.group_name = String::new();
        residents::update_by_staff(&mut tx, id, &changed, None, category, false)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let r = residents::get(db, id).await.unwrap().unwrap();
        assert_eq!(
            (r.email, r.phone.as_str(), r.category_verified),
            (None, "090-0000-1111", false)
        );

        // Suspension ends sessions; a suspended resident's session does not resolve.
        let token = residents::create_session(db, id).await.unwrap();
        assert!(
            residents::resolve_session(db, &token)
                .await
                .unwrap()
                .is_some()
        );
        let mut tx = db.begin().await.unwrap();
        residents::suspend(&mut tx, id).await.unwrap();
        tx.commit().await.unwrap();
        assert!(
            residents::resolve_session(db, &token)
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(
            residents::get(db, id).await.unwrap().unwrap().status,
            "suspended"
        );
        let mut tx = db.begin().await.unwrap();
        assert!(matches!(
            residents::suspend(&mut tx, id).await,
            Err(StoreError::NotFound)
        ));
        residents::reactivate(&mut tx, id).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            residents::get(db, id).await.unwrap().unwrap().status,
            "active"
        );
    }
}

/// Every stored text about a resident, across the tables erasure must clean.
async fn stored_text(db: &Db, id: i64) -> String {
    let residents: Vec<(String,)> = on_pool!(db, pool => sqlx::query_as(
        "SELECT COALESCE(email, '') || '|' || COALESCE(login_id, '') || '|' || name || '|' || kana || '|' || postal_code \
         || '|' || address || '|' || phone || '|' || group_name || '|' || password_hash FROM residents WHERE id = $1"
    ).bind(id).fetch_all(pool).await).unwrap();
    let reservations: Vec<(String,)> = on_pool!(db, pool => sqlx::query_as(
        "SELECT applicant_name || '|' || applicant_phone || '|' || purpose || '|' || activity || '|' || cancel_reason \
         FROM reservations WHERE resident_id = $1"
    ).bind(id).fetch_all(pool).await).unwrap();
    let sessions: Vec<(String,)> = on_pool!(db, pool => sqlx::query_as(
        "SELECT token_hash FROM resident_sessions WHERE resident_id = $1 UNION ALL SELECT token_hash FROM resident_tokens WHERE resident_id = $1"
    ).bind(id).fetch_all(pool).await).unwrap();
    let mails: Vec<(String,)> = on_pool!(db, pool => sqlx::query_as(
        "SELECT to_address || '|' || subject || '|' || body FROM mail_outbox"
    ).fetch_all(pool).await)
    .unwrap();
    let failures: Vec<(String,)> = on_pool!(db, pool => sqlx::query_as(
        "SELECT login_id FROM login_failures"
    ).fetch_all(pool).await)
    .unwrap();
    let mut all = vec![format!("sessions+tokens: {}", sessions.len())];
    for rows in [residents, reservations, mails, failures] {
        all.extend(rows.into_iter().map(|(s,)| s));
    }
    all.join("\n")
}

#[tokio::test]
async fn erasure_leaves_no_personal_data_and_keeps_statistics() {
    for t in backends().await {
        let db = &t.db;
        setup(db).await;
        let category = catalogue::categories(db).await.unwrap()[0].id;
        let p = profile(
            "国富 花子",
            "くにとみ はなこ",
            "hanako@example.jp",
            "090-1234-5678",
        );
        let id = registered(db, &p, category, true).await;
        let other = registered(
            db,
            &profile(
                "本庄 次郎",
                "ほんじょう じろう",
                "jiro@example.jp",
                "0985-75-1111",
            ),
            category,
            true,
        )
        .await;
        let today = Utc::now().with_timezone(&JST).date_naive();
        let past = book(db, id, &p, today - Duration::days(30), "9:00").await;
        let future = book(db, id, &p, today + Duration::days(10), "10:00").await;
        let theirs = book(
            db,
            other,
            &profile("本庄 次郎", "ほんじょう じろう", "", "0985-75-1111"),
            today + Duration::days(10),
            "13:00",
        )
        .await;
        let token = residents::create_session(db, id).await.unwrap();
        let mut tx = db.begin().await.unwrap();
        residents::issue_token(&mut tx, id, TokenPurpose::Reset)
            .await
            .unwrap();
        outbox::enqueue(
            &mut tx,
            &Mail {
                to: "hanako@example.jp".into(),
                subject: "【国富町】利用者登録が完了しました".into(),
                body: "国富 花子 様 090-1234-5678".into(),
            },
        )
        .await
        .unwrap();
        outbox::enqueue(
            &mut tx,
            &Mail {
                to: "jiro@example.jp".into(),
                subject: "予約".into(),
                body: "本庄 次郎 様".into(),
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        hiroba_store::throttle::record_failure(db, "resident:hanako@example.jp", "192.0.2.1")
            .await
            .unwrap();

        let before = stored_text(db, id).await;
        assert!(before.contains("国富 花子") && before.contains("hanako@example.jp"));

        let mut tx = db.begin().await.unwrap();
        let erasure = residents::erase(&mut tx, id).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(erasure.cancelled, vec![future], "{}", t.label());
        assert_eq!(erasure.anonymised, 2);

        let after = stored_text(db, id).await;
        for personal in [
            "国富",
            "花子",
            "くにとみ",
            "はなこ",
            "hanako",
            "090-1234-5678",
            "09012345678",
            "本庄4800",
            "880-1192",
            "バドミントンクラブ",
        ] {
            assert!(
                !after.contains(personal),
                "{}: {personal} left in\n{after}",
                t.label()
            );
        }
        assert!(after.starts_with("sessions+tokens: 0"), "{after}");
        assert!(
            residents::resolve_session(db, &token)
                .await
                .unwrap()
                .is_none()
        );
        let r = residents::get(db, id).await.unwrap().unwrap();
        assert_eq!(
            (r.status.as_str(), r.name.as_str(), r.email),
            ("erased", ERASED_NAME, None)
        );
        assert!(!staff::verify_password(Some(r.password_hash), "").await);
        assert!(
            residents::find_by_email(db, "hanako@example.jp")
                .await
                .unwrap()
                .is_none()
        );

        // History kept for the statistics; the future booking freed.
        let old = reservations::get(db, past).await.unwrap().unwrap();
        assert_eq!(
            (
                old.status.as_str(),
                old.applicant_name.as_str(),
                old.applicant_phone.as_str()
            ),
            ("confirmed", ERASED_NAME, "")
        );
        assert_eq!(
            (old.people, old.fee_total, old.resident_id),
            (6, 720, Some(id))
        );
        let freed = reservations::get(db, future).await.unwrap().unwrap();
        assert_eq!(
            (freed.status.as_str(), freed.cancel_reason.as_str()),
            ("cancelled", "利用者登録の削除")
        );
        let cells: i64 = on_pool!(db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM reservation_cells WHERE reservation_id = $1")
            .bind(future).fetch_one(pool).await).unwrap();
        assert_eq!(cells, 0);

        // Nobody else is touched.
        let kept = reservations::get(db, theirs).await.unwrap().unwrap();
        assert_eq!(
            (kept.status.as_str(), kept.applicant_name.as_str()),
            ("confirmed", "本庄 次郎")
        );
        assert!(after.contains("jiro@example.jp"));
        assert_eq!(
            residents::get(db, other).await.unwrap().unwrap().name,
            "本庄 次郎"
        );

        // Erasing again changes nothing; an unknown id is not found; an erased
        // registration cannot be edited or reactivated.
        let mut tx = db.begin().await.unwrap();
        assert_eq!(
            residents::erase(&mut tx, id).await.unwrap(),
            Default::default()
        );
        assert!(matches!(
            residents::erase(&mut tx, 999_999).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            residents::update_by_staff(&mut tx, id, &p, None, category, true).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            residents::reactivate(&mut tx, id).await,
            Err(StoreError::NotFound)
        ));
        tx.commit().await.unwrap();
        assert_eq!(
            residents::get(db, id).await.unwrap().unwrap().name,
            ERASED_NAME
        );
    }
}
