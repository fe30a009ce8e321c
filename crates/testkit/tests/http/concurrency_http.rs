//! No double booking, ever (A08), through the running server: 200 residents'
//! "予約する" presses at once over 20 contested slots of アリーナくにとみ's
//! main arena, mixing the full court and both halves. On SQLite and
//! PostgreSQL exactly one booking holds each unit-slot, every loser reads a
//! Japanese reason, and nothing else is written.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Duration;
use hiroba_store::{outbox, reservations};
use hiroba_testkit::{arena, hidden, open_days, slot_key, spawn_all, today};

const RESIDENTS: usize = 40;
const SLOTS: usize = 20;
const ATTEMPTS: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_simultaneous_bookings_over_twenty_slots() {
    for app in spawn_all().await {
        let db = app.db();
        let a = arena(db).await;
        let mut sessions = Vec::new();
        for i in 0..RESIDENTS {
            let (s, _) = app
                .resident(&format!("race{i}@example.jp"), "競争 花子", a.category)
                .await;
            sessions.push(s);
        }
        // 20 slots on days within the window, two per day.
        let targets: Vec<(chrono::NaiveDate, String)> =
            open_days(db, a.room, today() + Duration::days(2))
                .await
                .into_iter()
                .flat_map(|(d, slots)| slots.into_iter().take(2).map(move |s| (d, slot_key(&s))))
                .take(SLOTS)
                .collect();
        assert_eq!(targets.len(), SLOTS);
        let combos = [&a.full, &a.half_a, &a.half_b];
        let terms = a.terms_version.to_string();

        // The fee each button press carries, from the confirmation page.
        let mut totals = BTreeMap::new();
        for (date, slot) in &targets {
            for c in combos {
                let page = sessions[0]
                    .post(
                        "/book/confirm",
                        &[
                            ("combination", &c.id.to_string()),
                            ("date", &date.to_string()),
                            ("slot", slot),
                            ("purpose", &a.purpose),
                            ("people", "6"),
                            ("terms", &terms),
                        ],
                    )
                    .await
                    .text()
                    .await
                    .unwrap();
                totals.insert((*date, slot.clone(), c.id), hidden(&page, "total").unwrap());
            }
        }

        // 200 presses at once: attempt i targets slot i % 20 with the full
        // court, half A or half B in turn, from resident i % 40.
        let mut tasks = Vec::new();
        for i in 0..ATTEMPTS {
            let (date, slot) = targets[i % SLOTS].clone();
            let combo = combos[(i / SLOTS) % 3].id;
            let s = &sessions[i % RESIDENTS];
            let (client, url, csrf) = (
                s.client.clone(),
                format!("{}/book/complete", s.base),
                s.csrf.clone(),
            );
            let total = totals[&(date, slot.clone(), combo)].clone();
            let (purpose, terms) = (a.purpose.clone(), terms.clone());
            tasks.push(tokio::spawn(async move {
                let res = client
                    .post(url)
                    .form(&[
                        ("_csrf", csrf.as_str()),
                        ("combination", &combo.to_string()),
                        ("date", &date.to_string()),
                        ("slot", &slot),
                        ("purpose", &purpose),
                        ("people", "6"),
                        ("terms", &terms),
                        ("total", &total),
                    ])
                    .send()
                    .await
                    .unwrap();
                let status = res.status().as_u16();
                (status, res.text().await.unwrap())
            }));
        }
        let mut wins = 0;
        for t in tasks {
            let (status, body) = t.await.unwrap();
            match status {
                303 => wins += 1,
                200 => assert!(
                    body.contains("ほかの方が先に予約しました")
                        || body.contains("すでに予約が入っています"),
                    "{}: a loser must read why",
                    app.label()
                ),
                other => panic!(
                    "{}: unexpected status {other}: {}",
                    app.label(),
                    &body[..body.len().min(600)]
                ),
            }
        }

        // Every unit-slot has exactly one holder and the holders are the winners.
        let from = targets.iter().map(|t| t.0).min().unwrap();
        let to = targets.iter().map(|t| t.0).max().unwrap();
        let confirmed = reservations::for_room(db, a.room, from, to).await.unwrap();
        assert_eq!(confirmed.len(), wins, "{}: one row per win", app.label());
        let mut holders: BTreeMap<(chrono::NaiveDate, i64, i64), BTreeSet<i64>> = BTreeMap::new();
        for r in &confirmed {
            let units = if r.combination_id == a.full.id {
                a.full.unit_ids.clone()
            } else if r.combination_id == a.half_a.id {
                a.half_a.unit_ids.clone()
            } else {
                a.half_b.unit_ids.clone()
            };
            for u in units {
                holders
                    .entry((r.use_date, r.start_min, u))
                    .or_default()
                    .insert(r.id);
            }
        }
        assert_eq!(
            holders.len(),
            SLOTS * 2,
            "{}: every unit-slot taken once",
            app.label()
        );
        assert!(
            holders.values().all(|h| h.len() == 1),
            "{}: no double booking",
            app.label()
        );
        let cells = reservations::held_cells(db, a.room, from, to)
            .await
            .unwrap();
        let distinct: BTreeSet<_> = cells.iter().collect();
        assert_eq!(distinct.len(), cells.len());
        // Mail only for the winners.
        let mails = outbox::recent(db, 500).await.unwrap();
        let booked_mails = mails
            .iter()
            .filter(|m| m.subject.contains("施設の予約を受け付けました"))
            .count();
        assert_eq!(booked_mails, wins, "{}: one mail per win", app.label());
        assert!((SLOTS..=SLOTS * 2).contains(&wins));
    }
}
