//! Segment counting at scale (issue 6, "Speed"): 1,000,000 friends with the
//! default attributes (28, every kind) answered, then a five-condition segment
//! counted the way the admin's live count and the delivery planner do
//! (`segments::count`), on SQLite (SQLCipher) or PostgreSQL:
//!
//!     cargo bench -p hiroba-store --bench segments
//!     BENCH_FRIENDS=100000 cargo bench -p hiroba-store --bench segments
//!     TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test BENCH_BACKEND=postgres \
//!         cargo bench -p hiroba-store --bench segments
//!
//! Answers are synthetic but spread like a town's: about one friend in ten
//! leaves an item unanswered, a third have children (one to three birth
//! dates over the last fifteen years), interests are several bits of the
//! mask. The segment: area in three districts AND born 1976-1995 AND
//! interested in 子育て or 防災 AND NOT preferring English AND a child aged
//! 3 to 5 months on the delivery date.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use chrono::{NaiveDate, Utc};
use hiroba_domain::attributes::{AttributeKey, AttributeKind, OptionKey};
use hiroba_domain::segment::{AgeRange, AgeUnit, Condition, FriendStatus, Predicate};
use hiroba_store::line::{self, Channel};
use hiroba_store::testing;
use hiroba_store::{Db, attributes, segments};

fn key(s: &str) -> AttributeKey {
    AttributeKey::parse(s).unwrap()
}

fn options(keys: &[&str]) -> Vec<OptionKey> {
    keys.iter().map(|k| OptionKey::parse(k).unwrap()).collect()
}

fn leaf(p: Predicate) -> Condition {
    Condition::Leaf(p)
}

async fn exec(db: &Db, sql: &str) {
    match db {
        Db::Sqlite(pool, _) => {
            sqlx::query(sql).execute(pool).await.unwrap();
        }
        Db::Postgres(pool) => {
            sqlx::query(sql).execute(pool).await.unwrap();
        }
    }
}

/// A pseudo-random number in 0..1,000,003 from the friend's id, different
/// for each `salt`: quadratic, so that two attributes' answers are not
/// correlated the way two multiples of the id would be.
fn mix(salt: usize) -> String {
    let salt = salt as i64;
    let a = 7 + 2 * salt;
    let b = 104_729 + 7_919 * salt;
    let c = 15_485_863 % (salt + 11);
    format!("((friend_id * friend_id * {a} + friend_id * {b} + {c}) % 1000003)")
}

/// One UPDATE giving every friend an answer to every attribute (or none),
/// derived from the friend's id so both databases hold the same answers.
async fn answer_everything(db: &Db, postgres: bool) {
    let stored = attributes::load(db).await.unwrap();
    let mut sets = Vec::new();
    let mut dates = Vec::new();
    for (n, attribute) in stored.catalog().iter().enumerate() {
        let (id, _) = stored.get(attribute.key()).unwrap();
        let h = mix(n);
        let column = attributes::answer_column(id);
        let unanswered = format!("{} % 10 = 0", mix(n + 50));
        let value = match attribute.kind() {
            AttributeKind::SingleChoice => {
                let count = attribute.options().len();
                format!("{h} % {count}")
            }
            AttributeKind::MultipleChoice => {
                let bits = attribute.options().len().min(20);
                // One to three options chosen.
                format!(
                    "((CAST(1 AS BIGINT) << CAST({h} % {bits} AS INTEGER)) \
                     | (CAST(1 AS BIGINT) << CAST({} % {bits} AS INTEGER)) \
                     | (CAST(1 AS BIGINT) << CAST({} % {bits} AS INTEGER)))",
                    mix(n + 100),
                    mix(n + 200)
                )
            }
            AttributeKind::Number => {
                let (min, max) = attribute
                    .number_range()
                    .map_or((0, 100), |r| (r.min(), r.max()));
                let span = (max - min + 1).min(120);
                let base = if min < 1900 && max > 2000 { 1930 } else { min };
                format!("{base} + {h} % {span}")
            }
            AttributeKind::Date => {
                let days = format!("{h} % 20000");
                if postgres {
                    format!("DATE '1950-01-01' + ({days})::int")
                } else {
                    format!("date('1950-01-01', '+' || ({days}) || ' days')")
                }
            }
            AttributeKind::DateList => {
                dates.push(id);
                continue;
            }
            AttributeKind::Text => "'メモ' || (friend_id % 100)".to_owned(),
        };
        sets.push(format!(
            "{column} = CASE WHEN {unanswered} THEN NULL ELSE {value} END"
        ));
    }
    exec(
        db,
        &format!("UPDATE friend_answers SET {}", sets.join(", ")),
    )
    .await;
    // A third of the friends have one to three children born in the last
    // fifteen years (5,475 days before 2026-12-01).
    let parent = format!("{} % 3 = 0", mix(400));
    for id in dates {
        for seq in 0..3 {
            let days = format!("{} % 5475", mix(300 + seq));
            let value = if postgres {
                format!("DATE '2026-12-01' - ({days})::int")
            } else {
                format!("date('2026-12-01', '-' || ({days}) || ' days')")
            };
            exec(
                db,
                &format!(
                    "INSERT INTO friend_answer_dates (friend_id, attribute_id, seq, value) \
                     SELECT friend_id, {id}, {seq}, {value} FROM friend_answers \
                     WHERE {parent} AND {} % 3 >= {seq}",
                    mix(401)
                ),
            )
            .await;
        }
        let column = attributes::answer_column(id);
        exec(
            db,
            &format!(
                "UPDATE friend_answers SET {column} = (SELECT COUNT(*) FROM friend_answer_dates d \
                 WHERE d.friend_id = friend_answers.friend_id AND d.attribute_id = {id}) \
                 WHERE {parent}"
            ),
        )
        .await;
    }
    if postgres {
        // The bulk UPDATE left a dead copy of every row; autovacuum would
        // have cleared it by the time a real town's answers were in.
        exec(db, "VACUUM friend_answers").await;
    }
    db.analyze().await.unwrap();
}

fn main() {
    let friends: usize = std::env::var("BENCH_FRIENDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let backend = std::env::var("BENCH_BACKEND").unwrap_or_else(|_| "sqlite".into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let postgres = backend == "postgres";
        let t = if postgres {
            testing::postgres()
                .await
                .expect("TEST_POSTGRES_URL for the PostgreSQL run")
        } else {
            testing::sqlite().await
        };
        let db = &t.db;
        let created = attributes::seed_defaults(db).await.unwrap();
        println!("backend {} · {friends} friends · {created} attributes", t.label());

        let seeding = Instant::now();
        let mut at = 0;
        while at < friends {
            let end = (at + 50_000).min(friends);
            let ids: Vec<String> = (at..end).map(|i| format!("U{i:032x}")).collect();
            let mut tx = db.begin().await.unwrap();
            line::insert_friends_bulk(&mut tx, Channel::Production, &ids, Utc::now())
                .await
                .unwrap();
            tx.commit().await.unwrap();
            at = end;
        }
        answer_everything(db, postgres).await;
        println!("seeded in {:.1} s", seeding.elapsed().as_secs_f64());

        let segment = Condition::And(vec![
            leaf(Predicate::FriendStatus {
                status: FriendStatus::Friend,
            }),
            leaf(Predicate::ChoiceIn {
                attribute: key("area"),
                options: options(&["honjo", "morinaga", "kiwaki"]),
            }),
            leaf(Predicate::NumberBetween {
                attribute: key("birth_year"),
                min: Some(1976),
                max: Some(1995),
            }),
            leaf(Predicate::IncludesAny {
                attribute: key("interests"),
                options: options(&["kosodate", "bosai"]),
            }),
            Condition::Not(Box::new(leaf(Predicate::ChoiceIn {
                attribute: key("language"),
                options: options(&["en"]),
            }))),
            leaf(Predicate::AgeBetween {
                attribute: key("child_birth_dates"),
                age: AgeRange::new(AgeUnit::Months, Some(3), Some(5)).unwrap(),
            }),
        ]);
        let catalog = attributes::catalog(db).await.unwrap();
        segment.validate(&catalog).expect("a valid segment");
        let on = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();

        if let Condition::And(parts) = &segment {
            for part in parts {
                let n = segments::count(db, Channel::Production, part, on).await.unwrap();
                println!("  {n:>8} match {}", serde_json::to_string(part).unwrap());
            }
        }
        let mut times = Vec::new();
        let mut matched = 0;
        for _ in 0..11 {
            let started = Instant::now();
            matched = segments::count(db, Channel::Production, &segment, on)
                .await
                .unwrap();
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        // The first count warms the cache; the figures are of the ten after it.
        let mut warm = times.split_off(1);
        warm.sort_by(f64::total_cmp);
        println!(
            "five-condition segment: {matched} friends · first {:.0} ms · median {:.0} ms · max {:.0} ms",
            times[0],
            warm[warm.len() / 2],
            warm[warm.len() - 1]
        );
        let all = segments::count(db, Channel::Production, &Condition::And(vec![]), on)
            .await
            .unwrap();
        assert_eq!(all as usize, friends);
        assert!(matched > 0, "the segment matches somebody");
    });
}
