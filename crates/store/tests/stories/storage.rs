//! Storage stories, each run on SQLite (SQLCipher) and on PostgreSQL when
//! TEST_POSTGRES_URL is set (.ci/run always sets it).

use chrono::{Duration, Utc};
use hiroba_domain::permission::{FacilityScope, Permission, PermissionSet};
use hiroba_domain::staff::{LoginId, NewPassword, StaffName};
use hiroba_store::audit::{self, Filter, NewEntry};
use hiroba_store::sessions::{self, SessionPolicy};
use hiroba_store::staff::{self, StaffChange};
use hiroba_store::testing::{self, backends};
use hiroba_store::throttle::{self, ThrottlePolicy};
use hiroba_store::{DbKey, DbTarget, StoreError, facilities, seed, settings};

fn entry(action: &str, object: &str, summary: &str) -> NewEntry {
    NewEntry {
        staff_id: Some(1),
        staff_login: "admin".into(),
        ip: "192.0.2.1".into(),
        action: action.into(),
        object: object.into(),
        summary: summary.into(),
    }
}

#[tokio::test]
async fn sqlite_file_holds_no_plaintext() {
    // S02: a facility name written through the app must not appear in the file.
    let t = testing::sqlite().await;
    let marker = "暗号化確認用の施設名ひろば";
    let mut tx = t.db.begin().await.unwrap();
    facilities::insert(
        &mut tx,
        &facilities::FacilityChange {
            name: marker.into(),
            ..Default::default()
        },
        1,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    t.db.close().await;
    let path = t.sqlite_path().unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    if let Ok(wal) = std::fs::read(path.with_extension("db-wal")) {
        bytes.extend(wal);
    }
    assert!(bytes.len() > 4096, "database file is unexpectedly small");
    let needle = marker.as_bytes();
    assert!(
        !bytes.windows(needle.len()).any(|w| w == needle),
        "plaintext found in the file"
    );
    assert!(
        !bytes.starts_with(b"SQLite format 3"),
        "the file has a plain SQLite header"
    );
}

#[tokio::test]
async fn wrong_key_is_a_clear_error() {
    let t = testing::sqlite().await;
    t.db.close().await;
    let target = DbTarget::Sqlite {
        path: t.sqlite_path().unwrap(),
        key: DbKey::generate().unwrap(),
    };
    let err = hiroba_store::open(&target)
        .await
        .expect_err("opened with the wrong key");
    assert!(
        matches!(err, StoreError::WrongKey),
        "unexpected error: {err:?}"
    );
    assert!(err.to_string().contains("暗号鍵"));
}

#[tokio::test]
async fn audit_chain_verifies_and_detects_an_edited_row() {
    for t in backends().await {
        let db = &t.db;
        for i in 0..5 {
            audit::record(
                db,
                &entry("staff.update", &format!("staff:{i}"), "氏名を変更"),
            )
            .await
            .unwrap();
        }
        let report = audit::verify(db).await.unwrap().expect("intact chain");
        assert_eq!(report.checked, 5, "{}", t.label());
        assert_eq!(report.head_seq, 5);

        testing::tamper_audit_summary(db, 3, "書き換え").await;
        let broken = audit::verify(db)
            .await
            .unwrap()
            .expect_err("tampering not detected");
        assert_eq!(broken.seq, 3, "{}", t.label());
    }
}

#[tokio::test]
async fn audit_log_refuses_updates_and_survives_pruning() {
    for t in backends().await {
        let db = &t.db;
        for i in 0..4 {
            audit::record(db, &entry("login", "staff:1", &format!("#{i}")))
                .await
                .unwrap();
        }
        // The append-only trigger refuses edits made through SQL.
        let edit = hiroba_store::on_pool!(db, pool => sqlx::query("UPDATE audit_log SET summary = 'x' WHERE seq = 1").execute(pool).await.map(|_| ()));
        assert!(edit.is_err(), "{}: update was allowed", t.label());

        // Pruning everything older than "now + 1s" removes all but keeps the chain valid.
        let removed = audit::prune(db, Utc::now() + Duration::seconds(1))
            .await
            .unwrap();
        assert_eq!(removed, 4, "{}", t.label());
        audit::record(db, &entry("login", "staff:1", "after prune"))
            .await
            .unwrap();
        let report = audit::verify(db)
            .await
            .unwrap()
            .expect("chain after pruning");
        assert_eq!(report.checked, 1);
        assert_eq!(report.head_seq, 5);
    }
}

#[tokio::test]
async fn audit_search_filters() {
    for t in backends().await {
        let db = &t.db;
        audit::record(db, &entry("staff.create", "staff:7", "作成"))
            .await
            .unwrap();
        audit::record(db, &entry("facility.update", "facility:3", "名称"))
            .await
            .unwrap();
        audit::record(db, &entry("staff.update", "staff:7", "権限"))
            .await
            .unwrap();
        let staff_only = Filter {
            action: Some("staff.".into()),
            ..Default::default()
        };
        let rows = audit::search(db, &staff_only, 50, 0).await.unwrap();
        assert_eq!(rows.len(), 2, "{}", t.label());
        assert!(rows[0].seq > rows[1].seq, "newest first");
        assert_eq!(audit::count(db, &staff_only).await.unwrap(), 2);
        let object = Filter {
            object: Some("facility:3".into()),
            ..Default::default()
        };
        assert_eq!(audit::count(db, &object).await.unwrap(), 1);
        let future = Filter {
            from: Some(Utc::now() + Duration::hours(1)),
            ..Default::default()
        };
        assert_eq!(audit::count(db, &future).await.unwrap(), 0);
        let wildcard = Filter {
            object: Some("%".into()),
            ..Default::default()
        };
        assert_eq!(
            audit::count(db, &wildcard).await.unwrap(),
            0,
            "LIKE wildcards are escaped"
        );
    }
}

#[tokio::test]
async fn concurrent_appends_keep_one_chain() {
    for t in backends().await {
        let mut tasks = Vec::new();
        for i in 0..20 {
            let db = t.db.clone();
            tasks.push(tokio::spawn(async move {
                audit::record(&db, &entry("login", "staff:1", &format!("{i}")))
                    .await
                    .unwrap()
            }));
        }
        let mut seqs = Vec::new();
        for task in tasks {
            seqs.push(task.await.unwrap());
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=20).collect::<Vec<_>>(), "{}", t.label());
        assert!(audit::verify(&t.db).await.unwrap().is_ok(), "{}", t.label());
    }
}

fn change(name: &str, permissions: &[Permission], scope: FacilityScope) -> StaffChange {
    StaffChange {
        name: StaffName::parse(name).unwrap(),
        permissions: permissions.iter().copied().collect::<PermissionSet>(),
        scope,
    }
}

#[tokio::test]
async fn staff_accounts_sessions_and_disable() {
    for t in backends().await {
        let db = &t.db;
        seed::kunitomi_facilities(db).await.unwrap();
        let arena = facilities::list(db).await.unwrap()[0].id;
        let password = NewPassword::parse("Kawa-mori 83 tsuki!", &[]).unwrap();
        let hash = staff::hash_password(&password).await.unwrap();
        let login = LoginId::parse("Suzuki").unwrap();
        let mut tx = db.begin().await.unwrap();
        let id = staff::create(
            &mut tx,
            &login,
            &change(
                "鈴木 花子",
                &[Permission::Reservations],
                FacilityScope::Only([arena].into()),
            ),
            &hash,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();

        let mut tx = db.begin().await.unwrap();
        let dup = staff::create(
            &mut tx,
            &login,
            &change("別人", &[], FacilityScope::All),
            &hash,
        )
        .await;
        assert!(
            matches!(dup, Err(StoreError::Duplicate("login_id"))),
            "{}",
            t.label()
        );
        drop(tx);

        let s = staff::get(db, id).await.unwrap().unwrap();
        assert_eq!(s.login_id, "suzuki");
        assert!(s.may(Permission::Reservations) && !s.may(Permission::StaffAdmin));
        assert!(s.scope.allows(arena) && !s.scope.allows(arena + 1));

        let record = staff::find_for_login(db, "SUZUKI").await.unwrap().unwrap();
        assert!(
            staff::verify_password(Some(record.password_hash.clone()), "Kawa-mori 83 tsuki!").await
        );
        assert!(!staff::verify_password(Some(record.password_hash), "wrong password").await);
        assert!(!staff::verify_password(None, "Kawa-mori 83 tsuki!").await);

        let policy = SessionPolicy::default();
        let token = sessions::create(db, id, "192.0.2.9", "test").await.unwrap();
        assert_eq!(
            sessions::resolve(db, &token, policy).await.unwrap(),
            Some(id)
        );
        assert_eq!(sessions::resolve(db, "forged", policy).await.unwrap(), None);

        // Disabling an account ends its sessions.
        let mut tx = db.begin().await.unwrap();
        staff::set_disabled(&mut tx, id, true).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            sessions::resolve(db, &token, policy).await.unwrap(),
            None,
            "{}",
            t.label()
        );
        assert_eq!(sessions::count_for_staff(db, id).await.unwrap(), 0);

        // An idle session expires.
        let mut tx = db.begin().await.unwrap();
        staff::set_disabled(&mut tx, id, false).await.unwrap();
        tx.commit().await.unwrap();
        let token = sessions::create(db, id, "192.0.2.9", "test").await.unwrap();
        let no_idle = SessionPolicy {
            idle: Duration::seconds(-1),
            absolute: Duration::hours(12),
        };
        assert_eq!(
            sessions::resolve(db, &token, no_idle).await.unwrap(),
            None,
            "{}",
            t.label()
        );

        let mut tx = db.begin().await.unwrap();
        staff::delete(&mut tx, id).await.unwrap();
        tx.commit().await.unwrap();
        assert!(staff::get(db, id).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn login_throttling_per_account_and_ip() {
    for t in backends().await {
        let db = &t.db;
        let policy = ThrottlePolicy {
            per_account: 3,
            per_ip: 5,
            ..Default::default()
        };
        for _ in 0..3 {
            throttle::record_failure(db, "tanaka", "192.0.2.1")
                .await
                .unwrap();
        }
        assert!(
            throttle::is_throttled(db, "TANAKA", "198.51.100.7", policy)
                .await
                .unwrap(),
            "{}",
            t.label()
        );
        assert!(
            !throttle::is_throttled(db, "sato", "198.51.100.7", policy)
                .await
                .unwrap()
        );
        for i in 0..2 {
            throttle::record_failure(db, &format!("guess{i}"), "192.0.2.1")
                .await
                .unwrap();
        }
        assert!(
            throttle::is_throttled(db, "sato", "192.0.2.1", policy)
                .await
                .unwrap(),
            "per-IP limit"
        );
        throttle::clear_account(db, "tanaka").await.unwrap();
        assert!(
            !throttle::is_throttled(db, "tanaka", "198.51.100.7", policy)
                .await
                .unwrap()
        );
        assert_eq!(
            throttle::purge(db, Utc::now() + Duration::seconds(1))
                .await
                .unwrap(),
            2
        );
    }
}

#[tokio::test]
async fn seed_and_settings() {
    for t in backends().await {
        let db = &t.db;
        assert!(seed::kunitomi_facilities(db).await.unwrap());
        assert!(
            !seed::kunitomi_facilities(db).await.unwrap(),
            "seeding twice"
        );
        let names: Vec<String> = facilities::list(db)
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(
            names,
            seed::kunitomi_facility_names().collect::<Vec<_>>(),
            "{}",
            t.label()
        );
        let tennis = facilities::list(db)
            .await
            .unwrap()
            .into_iter()
            .find(|f| f.name == "テニスコート")
            .unwrap();
        assert_eq!(facilities::rooms(db, tennis.id).await.unwrap().len(), 4);

        let mut s = settings::load(db).await.unwrap();
        s.town_name = "ひろば町".into();
        s.audit_retention = hiroba_domain::retention::AuditRetention::months(36).unwrap();
        let mut tx = db.begin().await.unwrap();
        settings::save(&mut tx, &s).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(settings::load(db).await.unwrap(), s, "{}", t.label());
    }
}

/// TLS to PostgreSQL (docs/OPERATIONS.md): with `sslmode=require` the session
/// is encrypted. Runs where the test server has TLS on (Debian's default).
#[tokio::test]
async fn postgres_connection_uses_tls_when_required() {
    let Ok(url) = std::env::var("TEST_POSTGRES_URL") else {
        return;
    };
    use std::str::FromStr;
    let plain = sqlx::PgPool::connect(&url).await.unwrap();
    let server_tls: String = sqlx::query_scalar("SHOW ssl")
        .fetch_one(&plain)
        .await
        .unwrap();
    plain.close().await;
    if server_tls != "on" {
        eprintln!("PostgreSQL has ssl = {server_tls}: TLS check skipped");
        return;
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    let options =
        sqlx::postgres::PgConnectOptions::from_str(&format!("{url}{sep}sslmode=require")).unwrap();
    let pool = sqlx::PgPool::connect_with(options).await.unwrap();
    let encrypted: bool =
        sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(encrypted, "sslmode=require must give an encrypted session");
    pool.close().await;
}
