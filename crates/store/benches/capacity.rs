//! Capacity benchmark (C05) of the booking engine and the monthly report on
//! five years of synthetic history, on SQLite (SQLCipher) and, when
//! TEST_POSTGRES_URL is set, on PostgreSQL:
//!
//!   cargo bench -p hiroba-store --bench capacity
//!
//! For each database: seeds Kunitomi's catalogue and the history (18,000
//! residents, 300,000 reservations; BENCH_RESERVATIONS / BENCH_RESIDENTS
//! change it), then times BENCH_BOOKINGS bookings (default 2,000) through the
//! same path the web uses (`booking::prepare` with every check and the
//! quote, then `reservations::create` and commit) from BENCH_CONCURRENCY (4) tasks,
//! and the monthly usage report for all facilities (A27). Prints the figures
//! docs/PERFORMANCE.md records.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Instant;

use chrono::{Datelike, Duration, Utc};
use hiroba_domain::calendar::{DayStatus, SlotState};
use hiroba_domain::datetime::JST;
use hiroba_store::booking::{Applicant, BookingInput, Counter, prepare};
use hiroba_store::seed_history::{HistoryOptions, seed_history};
use hiroba_store::testing::{TestDb, postgres, sqlite};
use hiroba_store::{Db, catalogue, catalogue_domain, facilities, reports, reservations, seed};
use tokio::sync::Mutex;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Free (combination, date, slot) of full courts/rooms from tomorrow on.
async fn candidates(
    db: &Db,
    want: usize,
) -> Vec<(
    i64,
    chrono::NaiveDate,
    hiroba_domain::time_of_day::TimeRange,
)> {
    let today = Utc::now().with_timezone(&JST).date_naive();
    let mut out = Vec::new();
    let mut month = (today + Duration::days(1)).with_day(1).unwrap();
    for _ in 0..4 {
        for f in facilities::list(db).await.unwrap() {
            for room in facilities::rooms(db, f.id).await.unwrap() {
                let combos = catalogue::combinations(db, room.id).await.unwrap();
                let Some(full) = combos.iter().max_by_key(|c| c.unit_ids.len()) else {
                    continue;
                };
                let from = month;
                let to = month.checked_add_months(chrono::Months::new(1)).unwrap();
                let held: std::collections::BTreeSet<(chrono::NaiveDate, i64)> =
                    reservations::held_cells(db, room.id, from, to)
                        .await
                        .unwrap()
                        .into_iter()
                        .map(|(d, _, c)| (d, c))
                        .collect();
                for day in catalogue_domain::month_calendar(
                    db,
                    room.id,
                    Some(full.id),
                    month.year(),
                    month.month(),
                )
                .await
                .unwrap()
                {
                    if day.date <= today || day.status != DayStatus::Open {
                        continue;
                    }
                    // Slots of one day may overlap (e.g. a day camp and an overnight stay):
                    // take only slots whose cells no earlier candidate uses.
                    let mut used = std::collections::BTreeSet::new();
                    for s in &day.slots {
                        let cells: Vec<i64> = hiroba_domain::booking::cells(&s.range).collect();
                        let free = s.state == SlotState::Open
                            && !cells
                                .iter()
                                .any(|c| held.contains(&(day.date, *c)) || used.contains(c));
                        if free {
                            used.extend(cells);
                            out.push((full.id, day.date, s.range));
                        }
                    }
                }
            }
        }
        if out.len() >= want {
            break;
        }
        month = month.checked_add_months(chrono::Months::new(1)).unwrap();
    }
    out.truncate(want);
    out
}

async fn run(test: TestDb) {
    let db = test.db.clone();
    let label = test.label();
    seed::kunitomi_facilities(&db).await.unwrap();
    hiroba_store::kunitomi_catalogue(&db).await.unwrap();
    let opts = HistoryOptions {
        residents: env_usize("BENCH_RESIDENTS", 18_000),
        reservations: env_usize("BENCH_RESERVATIONS", 300_000),
        ..HistoryOptions::default()
    };
    let t = Instant::now();
    let report = seed_history(&db, &opts).await.unwrap();
    println!(
        "[{label}] history: {} residents, {} reservations ({} cancelled), {} cells, {} to {} in {:.1} s",
        report.residents,
        report.reservations,
        report.cancelled,
        report.cells,
        report.from,
        report.to,
        t.elapsed().as_secs_f64()
    );

    // As in the server: the WAL is checkpointed in the background every second.
    let checkpointer = {
        let db = db.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                let _ = db.checkpoint().await;
            }
        })
    };
    // Bookings through the web's path.
    let bookings = env_usize("BENCH_BOOKINGS", 2_000);
    let queue = candidates(&db, bookings).await;
    let total = queue.len();
    let category = catalogue::categories(&db).await.unwrap()[0].id;
    let purpose_of = Arc::new(Mutex::new(std::collections::HashMap::<i64, String>::new()));
    let queue = Arc::new(Mutex::new(queue));
    let today = Utc::now().with_timezone(&JST).date_naive();
    let started = Instant::now();
    let concurrency = env_usize("BENCH_CONCURRENCY", 4).max(1);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (db, queue, purpose_of) = (db.clone(), queue.clone(), purpose_of.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let Some((combination_id, date, slot)) = queue.lock().await.pop() else {
                    break;
                };
                let began = Instant::now();
                let input = BookingInput {
                    combination_id,
                    date,
                    slots: vec![slot],
                    applicant: Applicant {
                        resident_id: None,
                        name: "性能 試験".into(),
                        phone: "0985-00-0000".into(),
                        category_id: category,
                    },
                    purpose: String::new(),
                    activity: String::new(),
                    people: 2,
                    equipment: Vec::new(),
                    reduction_id: None,
                    counter: Some(Counter {
                        staff_id: 1,
                        override_rules: true,
                    }),
                    accepted_terms: None,
                    replacing: None,
                };
                // The purpose list is per facility; learn it from the first refusal.
                let mut input = input;
                if let Some(p) = purpose_of.lock().await.get(&combination_id) {
                    input.purpose = p.clone();
                }
                let prepared = match prepare(&db, &input, today).await.unwrap() {
                    Ok(p) => p,
                    Err(_) => {
                        let place =
                            hiroba_store::booking::place(&db, combination_id, date, category)
                                .await
                                .unwrap()
                                .unwrap();
                        input.purpose = place
                            .purposes
                            .first()
                            .cloned()
                            .unwrap_or_else(|| "練習".into());
                        purpose_of
                            .lock()
                            .await
                            .insert(combination_id, input.purpose.clone());
                        match prepare(&db, &input, today).await.unwrap() {
                            Ok(p) => p,
                            Err(e) => panic!("{combination_id} {date} {slot}: {e:?}"),
                        }
                    }
                };
                let mut tx = db.begin().await.unwrap();
                reservations::create(&mut tx, &prepared.reservation)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
                latencies.push(began.elapsed().as_secs_f64() * 1000.0);
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    println!(
        "[{label}] booking (prepare + create + commit, {concurrency} concurrent): {total} in {elapsed:.1} s = {:.0}/s; p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        total as f64 / elapsed,
        percentile(&latencies, 50.0),
        percentile(&latencies, 90.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(0.0)
    );

    checkpointer.abort();
    // The monthly usage report for all facilities (A27): this month and a busy past month.
    for months_back in [0u32, 6] {
        let m = today
            .with_day(1)
            .unwrap()
            .checked_sub_months(chrono::Months::new(months_back))
            .unwrap();
        let mut times = Vec::new();
        let mut rows = 0;
        for _ in 0..5 {
            let t = Instant::now();
            rows = reports::monthly_usage(&db, m.year(), m.month(), None)
                .await
                .unwrap()
                .len();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "[{label}] monthly report {}-{:02} (all facilities, {rows} rooms): median {:.0} ms, max {:.0} ms",
            m.year(),
            m.month(),
            times[2],
            times[4]
        );
    }
}

#[tokio::main]
async fn main() {
    run(sqlite().await).await;
    if let Some(pg) = postgres().await {
        run(pg).await;
    } else {
        println!("(set TEST_POSTGRES_URL to repeat on PostgreSQL)");
    }
}
