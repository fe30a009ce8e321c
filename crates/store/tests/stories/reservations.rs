//! No double booking, ever (A08), on SQLite and PostgreSQL: 200 simultaneous
//! attempts over 20 contested slots of アリーナくにとみ's main arena, mixing
//! the full court and both halves; and equipment stock under contention.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use hiroba_domain::time_of_day::TimeRange;
use hiroba_store::reservations::{self, BookingError, NewReservation};
use hiroba_store::testing::backends;
use hiroba_store::{catalogue, facilities, seed};

struct Arena {
    facility: i64,
    room: i64,
    /// (combination id, its units): full, A, B
    combos: Vec<(i64, Vec<i64>)>,
    category: i64,
}

async fn arena(db: &hiroba_store::Db) -> Arena {
    seed::kunitomi_facilities(db).await.unwrap();
    hiroba_store::kunitomi_catalogue(db).await.unwrap();
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
    let combos = catalogue::combinations(db, room.id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.id, c.unit_ids))
        .collect();
    Arena {
        facility: f.id,
        room: room.id,
        combos,
        category: catalogue::categories(db).await.unwrap()[0].id,
    }
}

fn request(
    a: &Arena,
    combo: usize,
    date: NaiveDate,
    slot: TimeRange,
    equipment: Vec<(i64, i64, i64)>,
) -> NewReservation {
    let (combination_id, unit_ids) = a.combos[combo].clone();
    NewReservation {
        facility_id: a.facility,
        room_id: a.room,
        combination_id,
        unit_ids,
        date,
        slots: vec![slot],
        resident_id: None,
        applicant_name: format!("申込者{combo}"),
        applicant_phone: "0985-00-0000".into(),
        category_id: a.category,
        purpose: "バレーボール".into(),
        activity: "練習".into(),
        people: 12,
        fee_total: 1000,
        reduction_id: None,
        terms_version: Some(1),
        equipment,
        created_by_staff: None,
    }
}

#[tokio::test]
async fn two_hundred_simultaneous_attempts_never_double_book() {
    for t in backends().await {
        let a = std::sync::Arc::new(arena(&t.db).await);
        let bands = [
            TimeRange::parse("9:00", "12:00").unwrap(),
            TimeRange::parse("13:00", "17:00").unwrap(),
            TimeRange::parse("18:00", "21:00").unwrap(),
        ];
        let contested: Vec<(NaiveDate, TimeRange)> = (0..7)
            .flat_map(|d| {
                bands
                    .iter()
                    .map(move |b| (NaiveDate::from_ymd_opt(2027, 2, 2 + d).unwrap(), *b))
            })
            .take(20)
            .collect();
        let mut tasks = Vec::new();
        for (i, (date, slot)) in contested.iter().enumerate() {
            for attempt in 0..10 {
                let (db, a, date, slot) = (t.db.clone(), a.clone(), *date, *slot);
                // Full court, half A and half B in a different order per slot.
                let combo = (attempt + i) % 3;
                tasks.push(tokio::spawn(async move {
                    let mut tx = db.begin().await.unwrap();
                    match reservations::create(&mut tx, &request(&a, combo, date, slot, Vec::new()))
                        .await
                    {
                        Ok((id, _)) => {
                            tx.commit().await.unwrap();
                            (i, combo, Ok(id))
                        }
                        Err(e) => (i, combo, Err(e)),
                    }
                }));
            }
        }
        let mut winners: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        let mut losers = 0;
        for task in tasks {
            let (slot, combo, result) = task.await.unwrap();
            match result {
                Ok(_) => winners.entry(slot).or_default().push(combo),
                Err(BookingError::Taken) => losers += 1,
                Err(other) => panic!("{}: unexpected error {other:?}", t.label()),
            }
        }
        // Per contested slot: the winners' units never overlap, and every unit was won by someone.
        for i in 0..contested.len() {
            let won = winners.get(&i).cloned().unwrap_or_default();
            let mut held = BTreeSet::new();
            for combo in &won {
                for unit in &a.combos[*combo].1 {
                    assert!(
                        held.insert(*unit),
                        "{}: unit {unit} double booked at slot {i}",
                        t.label()
                    );
                }
            }
            let all: BTreeSet<i64> = a.combos[0].1.iter().copied().collect();
            assert_eq!(
                held,
                all,
                "{}: slot {i} left a unit unbooked despite 10 attempts",
                t.label()
            );
        }
        let won: usize = winners.values().map(Vec::len).sum();
        assert_eq!(won + losers, 200);
        // Nothing else was written: one reservation row per winner, cells only for winners.
        let rows = reservations::for_room(
            &t.db,
            a.room,
            NaiveDate::from_ymd_opt(2027, 2, 1).unwrap(),
            NaiveDate::from_ymd_opt(2027, 2, 28).unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(rows.len(), won, "{}", t.label());
        let cells = reservations::held_cells(
            &t.db,
            a.room,
            NaiveDate::from_ymd_opt(2027, 2, 1).unwrap(),
            NaiveDate::from_ymd_opt(2027, 2, 28).unwrap(),
        )
        .await
        .unwrap();
        let expected: usize = contested
            .iter()
            .map(|(_, s)| hiroba_domain::booking::cells(s).count() * 2)
            .sum();
        assert_eq!(
            cells.len(),
            expected,
            "{}: every unit-cell held exactly once",
            t.label()
        );
    }
}

#[tokio::test]
async fn equipment_stock_holds_under_contention_and_cancelling_frees_the_slot() {
    for t in backends().await {
        let a = std::sync::Arc::new(arena(&t.db).await);
        let date = NaiveDate::from_ymd_opt(2027, 3, 3).unwrap();
        let table = catalogue::equipment(&t.db, a.facility)
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.name == "卓球台")
            .unwrap();
        assert_eq!(table.stock, 8);

        // Four bookings each ask for 5 of the 8 tables: halves A and B in the
        // morning, and again in the afternoon. In each band only one fits.
        let bands = [
            ("9:00", "12:00", 1),
            ("9:00", "12:00", 2),
            ("13:00", "17:00", 1),
            ("13:00", "17:00", 2),
        ];
        let mut tasks = Vec::new();
        for (start, end, combo) in bands {
            let (db, a) = (t.db.clone(), a.clone());
            let slot = TimeRange::parse(start, end).unwrap();
            tasks.push(tokio::spawn(async move {
                let mut tx = db.begin().await.unwrap();
                let result = reservations::create(
                    &mut tx,
                    &request(&a, combo, date, slot, vec![(table.id, 5, 500)]),
                )
                .await;
                if result.is_ok() {
                    tx.commit().await.unwrap();
                }
                result.map(|(id, _)| id)
            }));
        }
        let (mut ok, mut short) = (0, 0);
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => ok += 1,
                Err(BookingError::EquipmentShort { available, .. }) => {
                    assert_eq!(available, 3, "{}", t.label());
                    short += 1;
                }
                Err(e) => panic!("{}: {e:?}", t.label()),
            }
        }
        assert_eq!((ok, short), (2, 2), "{}", t.label());

        // Cancelling frees the half court and its tables: the same booking succeeds again.
        let held = reservations::for_room(&t.db, a.room, date, date)
            .await
            .unwrap();
        assert_eq!(held.len(), 2);
        let first = &held[0];
        let mut tx = t.db.begin().await.unwrap();
        reservations::cancel(&mut tx, first.id, "利用者による取消")
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let combo = a
            .combos
            .iter()
            .position(|c| c.0 == first.combination_id)
            .unwrap();
        let slot = TimeRange::new(
            hiroba_domain::time_of_day::TimeOfDay::from_minutes(
                u16::try_from(first.start_min).unwrap(),
            )
            .unwrap(),
            hiroba_domain::time_of_day::TimeOfDay::from_minutes(
                u16::try_from(first.end_min).unwrap(),
            )
            .unwrap(),
        )
        .unwrap();
        let mut tx = t.db.begin().await.unwrap();
        let again = reservations::create(
            &mut tx,
            &request(&a, combo, date, slot, vec![(table.id, 5, 500)]),
        )
        .await;
        assert!(
            again.is_ok(),
            "{}: the cancelled slot is free again: {again:?}",
            t.label()
        );
        tx.commit().await.unwrap();
        let cancelled = reservations::get(&t.db, first.id).await.unwrap().unwrap();
        assert_eq!(cancelled.status, "cancelled");
        assert!(
            reservations::has_future(
                &t.db,
                a.facility,
                Some(a.room),
                NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()
            )
            .await
            .unwrap()
        );
    }
}

/// A22/U10: a change rewrites the held cells and equipment in one transaction,
/// keeping the id and reference; when the new slot is taken or the equipment
/// short, the reservation stays exactly as it was (A08 decides here too).
#[tokio::test]
async fn a_change_moves_cells_and_equipment_or_changes_nothing() {
    for t in backends().await {
        let a = arena(&t.db).await;
        let db = &t.db;
        let date = NaiveDate::from_ymd_opt(2027, 4, 7).unwrap();
        let morning = TimeRange::parse("9:00", "12:00").unwrap();
        let afternoon = TimeRange::parse("13:00", "17:00").unwrap();
        let table = catalogue::equipment(db, a.facility)
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.name == "卓球台")
            .unwrap();
        let store = move |r: NewReservation| async move {
            let mut tx = db.begin().await.unwrap();
            let id = reservations::create(&mut tx, &r).await.unwrap().0;
            tx.commit().await.unwrap();
            id
        };
        // Half A in the morning with 5 tables; half B in the afternoon with 3.
        let mine = store(request(&a, 1, date, morning, vec![(table.id, 5, 500)])).await;
        store(request(&a, 2, date, afternoon, vec![(table.id, 3, 300)])).await;
        let before = reservations::get(db, mine).await.unwrap().unwrap();
        let change = move |r: NewReservation| async move {
            let mut tx = db.begin().await.unwrap();
            let result = reservations::change(&mut tx, mine, &r).await;
            if result.is_ok() {
                tx.commit().await.unwrap();
            }
            result
        };
        let held = move || async move {
            let mut cells = reservations::cells_of(db, mine).await.unwrap();
            cells.sort_unstable();
            cells
        };

        // To the full court at the same hour: its own half A is no clash.
        let mut full = request(&a, 0, date, morning, vec![(table.id, 8, 800)]);
        full.fee_total = 4000;
        change(full).await.unwrap();
        let after = reservations::get(db, mine).await.unwrap().unwrap();
        assert_eq!(
            (
                after.reference.as_str(),
                after.combination_id,
                after.fee_total
            ),
            (before.reference.as_str(), a.combos[0].0, 4000),
            "{}",
            t.label()
        );
        assert_eq!(
            held().await.len(),
            hiroba_domain::booking::cells(&morning).count() * 2
        );
        assert_eq!(
            reservations::equipment_quantities(db, mine).await.unwrap(),
            vec![(table.id, 8)]
        );
        let settled = (after.clone(), held().await);

        // To the full court in the afternoon: half B is held there. Nothing changes.
        let taken = change(request(&a, 0, date, afternoon, Vec::new())).await;
        assert!(
            matches!(taken, Err(BookingError::Taken)),
            "{}: {taken:?}",
            t.label()
        );
        // To half A in the afternoon with 6 tables: only 5 are left then.
        let short = change(request(&a, 1, date, afternoon, vec![(table.id, 6, 600)])).await;
        assert!(
            matches!(
                short,
                Err(BookingError::EquipmentShort { available: 5, .. })
            ),
            "{}: {short:?}",
            t.label()
        );
        assert_eq!(
            (
                reservations::get(db, mine).await.unwrap().unwrap(),
                held().await
            ),
            settled,
            "{}: a refused change leaves the reservation as it was",
            t.label()
        );
        assert_eq!(
            reservations::equipment_quantities(db, mine).await.unwrap(),
            vec![(table.id, 8)]
        );

        // With 5 tables it fits; the morning is free again.
        change(request(&a, 1, date, afternoon, vec![(table.id, 5, 500)]))
            .await
            .unwrap();
        let cells = reservations::held_cells(db, a.room, date, date)
            .await
            .unwrap();
        assert!(
            cells
                .iter()
                .all(|(_, _, cell)| !hiroba_domain::booking::cells(&morning).contains(cell)),
            "{}: the morning was freed",
            t.label()
        );
        assert_eq!(
            reservations::for_room(db, a.room, date, date)
                .await
                .unwrap()
                .len(),
            2
        );

        // A cancelled reservation cannot be changed.
        let mut tx = db.begin().await.unwrap();
        reservations::cancel(&mut tx, mine, "取消").await.unwrap();
        tx.commit().await.unwrap();
        let gone = change(request(&a, 1, date, morning, Vec::new())).await;
        assert!(
            matches!(
                gone,
                Err(BookingError::Store(hiroba_store::StoreError::NotFound))
            ),
            "{}",
            t.label()
        );
    }
}
