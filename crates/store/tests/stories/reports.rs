//! Staff reports (A26 利用件数集計, A27 帳票) on SQLite and PostgreSQL, with
//! real figures: fiscal-year boundaries (March 31 vs April 1), filters,
//! facility scope, and the occupancy of アリーナくにとみ's main arena.

use chrono::NaiveDate;
use hiroba_domain::resident::Profile;
use hiroba_domain::time_of_day::TimeRange;
use hiroba_store::reports::{self, CountFilter, Figures, StatusFilter};
use hiroba_store::reservations::{self, NewReservation};
use hiroba_store::testing::backends;
use hiroba_store::{Db, catalogue, facilities, residents, seed};

struct Fixture {
    arena: i64,
    main_room: i64,
    other_facility: i64,
    other_room: i64,
    categories: Vec<i64>,
    resident: i64,
    cancelled: i64,
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

struct Booking {
    room: i64,
    combo: usize,
    date: NaiveDate,
    slot: (&'static str, &'static str),
    category: i64,
    purpose: &'static str,
    people: i64,
    fee: i64,
    resident: Option<i64>,
}

async fn book(db: &Db, b: Booking) -> i64 {
    let room = facilities::room(db, b.room).await.unwrap().unwrap();
    let combo = catalogue::combinations(db, b.room).await.unwrap()[b.combo].clone();
    let r = NewReservation {
        facility_id: room.facility_id,
        room_id: room.id,
        combination_id: combo.id,
        unit_ids: combo.unit_ids,
        date: b.date,
        slots: vec![TimeRange::parse(b.slot.0, b.slot.1).unwrap()],
        resident_id: b.resident,
        applicant_name: "国富 太郎".into(),
        applicant_phone: "0985-75-0000".into(),
        category_id: b.category,
        purpose: b.purpose.into(),
        activity: "練習".into(),
        people: b.people,
        fee_total: b.fee,
        reduction_id: None,
        terms_version: Some(1),
        equipment: Vec::new(),
        created_by_staff: None,
    };
    let mut tx = db.begin().await.unwrap();
    let (id, _) = reservations::create(&mut tx, &r).await.unwrap();
    tx.commit().await.unwrap();
    id
}

async fn fixture(db: &Db) -> Fixture {
    seed::kunitomi_facilities(db).await.unwrap();
    hiroba_store::kunitomi_catalogue(db).await.unwrap();
    let all = facilities::list(db).await.unwrap();
    let arena = all
        .iter()
        .find(|f| f.name.contains("アリーナくにとみ"))
        .unwrap();
    let main_room = facilities::rooms(db, arena.id)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.name == "メインアリーナ")
        .unwrap()
        .id;
    let mut other = None;
    for f in all.iter().filter(|f| f.id != arena.id) {
        if let Some(r) = facilities::rooms(db, f.id).await.unwrap().first() {
            other = Some((f.id, r.id));
            break;
        }
    }
    let (other_facility, other_room) = other.unwrap();
    let categories: Vec<i64> = catalogue::categories(db)
        .await
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    let profile = Profile {
        email: "hanako@example.jp".into(),
        name: "国富 花子".into(),
        kana: "クニトミ ハナコ".into(),
        postal_code: "880-1100".into(),
        address: "宮崎県東諸県郡国富町本庄".into(),
        phone: "0985-75-1111".into(),
        group_name: String::new(),
    };
    let mut tx = db.begin().await.unwrap();
    let resident = residents::register(&mut tx, &profile, categories[0], true, "x")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let c0 = categories[0];
    let b = |room, date, slot, purpose, people, fee| Booking {
        room,
        combo: 0,
        date,
        slot,
        category: c0,
        purpose,
        people,
        fee,
        resident: None,
    };
    // FY2025 (last day)
    book(
        db,
        Booking {
            resident: Some(resident),
            ..b(
                main_room,
                d(2026, 3, 31),
                ("9:00", "12:00"),
                "バレーボール",
                10,
                1000,
            )
        },
    )
    .await;
    // FY2026: April 1, June (three, one at another facility), March 31
    book(
        db,
        Booking {
            resident: Some(resident),
            ..b(
                main_room,
                d(2026, 4, 1),
                ("9:00", "12:00"),
                "バレーボール",
                12,
                2400,
            )
        },
    )
    .await;
    book(
        db,
        b(
            main_room,
            d(2026, 6, 2),
            ("13:00", "17:00"),
            "バスケットボール",
            20,
            3200,
        ),
    )
    .await;
    book(
        db,
        Booking {
            combo: 1,
            category: categories[1],
            ..b(
                main_room,
                d(2026, 6, 6),
                ("9:00", "11:00"),
                "バレーボール",
                8,
                1600,
            )
        },
    )
    .await;
    book(
        db,
        b(
            other_room,
            d(2026, 6, 2),
            ("9:00", "12:00"),
            "会議",
            30,
            900,
        ),
    )
    .await;
    book(
        db,
        Booking {
            resident: Some(resident),
            ..b(
                main_room,
                d(2027, 3, 31),
                ("18:00", "21:00"),
                "バレーボール",
                5,
                2400,
            )
        },
    )
    .await;
    // FY2027 (first day)
    book(
        db,
        b(
            main_room,
            d(2027, 4, 1),
            ("9:00", "12:00"),
            "バレーボール",
            7,
            2400,
        ),
    )
    .await;
    // Cancelled in June 2026
    let cancelled = book(
        db,
        Booking {
            resident: Some(resident),
            ..b(
                main_room,
                d(2026, 6, 9),
                ("9:00", "12:00"),
                "バレーボール",
                6,
                2400,
            )
        },
    )
    .await;
    let mut tx = db.begin().await.unwrap();
    reservations::cancel(&mut tx, cancelled, "都合により")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    Fixture {
        arena: arena.id,
        main_room,
        other_facility,
        other_room,
        categories,
        resident,
        cancelled,
    }
}

fn fig(count: i64, minutes: i64, people: i64, fees: i64) -> Figures {
    Figures {
        count,
        minutes,
        people,
        fees,
    }
}

fn fy(year: i32) -> CountFilter {
    CountFilter {
        fiscal_year: year,
        ..CountFilter::default()
    }
}

#[tokio::test]
async fn counts_by_fiscal_year_room_and_month() {
    for t in backends().await {
        let db = &t.db;
        let f = fixture(db).await;
        let label = t.label();

        // FY2026 = 2026-04-01 .. 2027-03-31: April 1 in, March 31 2026 and April 1 2027 out.
        let r = reports::counts(db, &fy(2026)).await.unwrap();
        assert_eq!(r.from, d(2026, 4, 1), "{label}");
        assert_eq!(r.to, d(2027, 3, 31), "{label}");
        assert_eq!(r.total, fig(5, 900, 75, 10500), "{label}");
        assert_eq!(r.months[0], fig(1, 180, 12, 2400), "{label}: April");
        assert_eq!(r.months[2], fig(3, 540, 58, 5700), "{label}: June");
        assert_eq!(r.months[11], fig(1, 180, 5, 2400), "{label}: March");
        assert_eq!(r.months[1], Figures::default(), "{label}: May");
        assert_eq!(r.rows.len(), 2, "{label}");
        let main = r.rows.iter().find(|x| x.room_id == f.main_room).unwrap();
        assert_eq!(main.facility_id, f.arena);
        assert_eq!(main.room_name, "メインアリーナ");
        assert_eq!(main.total, fig(4, 720, 45, 9600), "{label}");
        assert_eq!(main.months[2], fig(2, 360, 28, 4800), "{label}");
        let other = r.rows.iter().find(|x| x.room_id == f.other_room).unwrap();
        assert_eq!(other.total, fig(1, 180, 30, 900), "{label}");

        // The neighbouring years get exactly their boundary day.
        let prev = reports::counts(db, &fy(2025)).await.unwrap();
        assert_eq!(prev.total, fig(1, 180, 10, 1000), "{label}");
        assert_eq!(
            prev.months[11].count, 1,
            "{label}: 2026-03-31 is FY2025's March"
        );
        let next = reports::counts(db, &fy(2027)).await.unwrap();
        assert_eq!(next.total.count, 1, "{label}");
        assert_eq!(
            next.months[0].count, 1,
            "{label}: 2027-04-01 is FY2027's April"
        );

        // Status
        let all = reports::counts(
            db,
            &CountFilter {
                status: StatusFilter::All,
                ..fy(2026)
            },
        )
        .await
        .unwrap();
        assert_eq!(all.total, fig(6, 1080, 81, 12900), "{label}");
        let cancelled = reports::counts(
            db,
            &CountFilter {
                status: StatusFilter::Cancelled,
                ..fy(2026)
            },
        )
        .await
        .unwrap();
        assert_eq!(cancelled.total, fig(1, 180, 6, 2400), "{label}");

        // Filters
        let purpose = reports::counts(
            db,
            &CountFilter {
                purpose: Some("バレーボール".into()),
                ..fy(2026)
            },
        )
        .await
        .unwrap();
        assert_eq!(purpose.total, fig(3, 480, 25, 6400), "{label}");
        let category = reports::counts(
            db,
            &CountFilter {
                category_id: Some(f.categories[1]),
                ..fy(2026)
            },
        )
        .await
        .unwrap();
        assert_eq!(category.total, fig(1, 120, 8, 1600), "{label}");
        let room = reports::counts(
            db,
            &CountFilter {
                room_id: Some(f.other_room),
                ..fy(2026)
            },
        )
        .await
        .unwrap();
        assert_eq!(room.total.count, 1, "{label}");
        let facility = reports::counts(
            db,
            &CountFilter {
                facility_id: Some(f.arena),
                ..fy(2026)
            },
        )
        .await
        .unwrap();
        assert_eq!(facility.total.count, 4, "{label}");

        // Scope
        let scoped = reports::counts(
            db,
            &CountFilter {
                scope: Some(vec![f.other_facility]),
                ..fy(2026)
            },
        )
        .await
        .unwrap();
        assert_eq!(scoped.total, fig(1, 180, 30, 900), "{label}");
        assert!(
            scoped
                .rows
                .iter()
                .all(|x| x.facility_id == f.other_facility)
        );
        let none = reports::counts(
            db,
            &CountFilter {
                scope: Some(Vec::new()),
                ..fy(2026)
            },
        )
        .await
        .unwrap();
        assert_eq!(none.total, Figures::default(), "{label}");
    }
}

#[tokio::test]
async fn daily_list_and_resident_history() {
    for t in backends().await {
        let db = &t.db;
        let f = fixture(db).await;
        let label = t.label();

        let day = reports::daily_list(db, d(2026, 6, 2), None).await.unwrap();
        assert_eq!(day.len(), 2, "{label}");
        let rooms: Vec<&str> = day.iter().map(|r| r.room_name.as_str()).collect();
        assert!(rooms.contains(&"メインアリーナ"), "{label}: {rooms:?}");
        let main = day
            .iter()
            .find(|r| r.room_name == "メインアリーナ")
            .unwrap();
        assert_eq!((main.start_min, main.end_min), (13 * 60, 17 * 60));
        assert_eq!(main.applicant_phone, "0985-75-0000");
        assert_eq!(main.purpose, "バスケットボール");
        assert_eq!(main.payment_status, "unpaid");
        let scoped = reports::daily_list(db, d(2026, 6, 2), Some(&[f.arena]))
            .await
            .unwrap();
        assert_eq!(scoped.len(), 1, "{label}");
        // The cancelled booking of June 9 is not on the day's list.
        assert!(
            reports::daily_list(db, d(2026, 6, 9), None)
                .await
                .unwrap()
                .is_empty()
        );

        let history = reports::resident_history(db, f.resident, None)
            .await
            .unwrap();
        let dates: Vec<NaiveDate> = history.iter().map(|h| h.use_date).collect();
        assert_eq!(
            dates,
            vec![d(2027, 3, 31), d(2026, 6, 9), d(2026, 4, 1), d(2026, 3, 31)],
            "{label}: newest first"
        );
        let cancelled = history.iter().find(|h| h.id == f.cancelled).unwrap();
        assert_eq!(cancelled.status, "cancelled");
        assert!(cancelled.cancelled_at.is_some());
        assert!(history[0].facility_name.contains("アリーナくにとみ"));
        assert!(
            reports::resident_history(db, f.resident, Some(&[f.other_facility]))
                .await
                .unwrap()
                .is_empty(),
            "{label}: outside the scope"
        );
    }
}

#[tokio::test]
async fn monthly_usage_and_occupancy() {
    for t in backends().await {
        let db = &t.db;
        let f = fixture(db).await;
        let label = t.label();

        let rows = reports::monthly_usage(db, 2026, 6, Some(&[f.arena]))
            .await
            .unwrap();
        assert!(rows.iter().all(|r| r.facility_id == f.arena), "{label}");
        let main = rows.iter().find(|r| r.room_id == f.main_room).unwrap();
        // June 2-(Tue) 13-17 full court and June 6 (Sat) 9-11 half court; June 9 was cancelled.
        assert_eq!(
            (main.count, main.minutes, main.people, main.fees),
            (2, 360, 28, 4800),
            "{label}"
        );
        // June 2026 has no holiday: 5 Mondays closed, 17 weekdays of 9-12/13-17/18-21
        // (600 min) and 8 weekend days of six 2-hour slots (720 min).
        assert_eq!(main.available_minutes, 17 * 600 + 8 * 720, "{label}");
        let occupancy = main.occupancy().unwrap();
        assert!((occupancy - 360.0 / 15960.0).abs() < 1e-9, "{label}");
        // Rooms without reservations are listed with zero.
        assert!(rows.iter().any(|r| r.count == 0), "{label}");

        let everywhere = reports::monthly_usage(db, 2026, 6, None).await.unwrap();
        let other = everywhere
            .iter()
            .find(|r| r.room_id == f.other_room)
            .unwrap();
        assert_eq!(
            (other.count, other.people, other.fees),
            (1, 30, 900),
            "{label}"
        );
        let total: i64 = everywhere.iter().map(|r| r.count).sum();
        assert_eq!(total, 3, "{label}");
        // A month with nothing booked.
        let may = reports::monthly_usage(db, 2026, 5, None).await.unwrap();
        assert!(may.iter().all(|r| r.count == 0 && r.minutes == 0));
        assert!(reports::monthly_usage(db, 2026, 13, None).await.is_err());
    }
}
