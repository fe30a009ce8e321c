//! The demo's full configuration of Kunitomi's facilities (issue 3): user
//! categories, reductions, opening hours, closed days, booking slots, units and
//! half courts, fees, equipment, purposes, activities, booking windows and
//! terms. Fees and hours are invented but typical of a Japanese town.

use chrono::NaiveDate;
use hiroba_domain::calendar::DaySet;
use hiroba_domain::time_of_day::TimeOfDay;

use crate::catalogue::{
    self, ClosedRuleRow, EquipmentChange, FacilityCategory, FeeRuleRow, OpeningRow, SlotPatternRow,
};
use crate::facilities::{self, Facility, Room};
use crate::{Db, Result, Tx};

fn days(codes: &[&str]) -> i64 {
    i64::from(DaySet::from_codes(codes).unwrap_or(DaySet::ALL).bits())
}

fn min(t: &str) -> i64 {
    TimeOfDay::parse(t)
        .map(|t| i64::from(t.minutes()))
        .unwrap_or(0)
}

const WEEKDAYS: [&str; 5] = ["mon", "tue", "wed", "thu", "fri"];
const WEEKEND: [&str; 3] = ["sat", "sun", "hol"];
const ALL_DAYS: [&str; 8] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun", "hol"];

/// What kind of place a room is decides its slots, fees and equipment.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A gym floor split into halves A and B (片面).
    Court { full_fee: i64 },
    /// A room booked whole in three bands on weekdays, two-hour slots on weekends.
    Hall { fee: i64 },
    /// Booked by the hour (meeting rooms, tennis courts, dojo).
    Hourly {
        fee: i64,
        open: &'static str,
        close: &'static str,
    },
    /// Large fields with night lighting.
    Field { fee: i64 },
    /// Camp sites: a day-camp slot and an overnight slot.
    Camp { day_fee: i64, night_fee: i64 },
    /// Free admission in two slots a day (dog run).
    Free,
}

fn kind_of(facility: &str, room: &str) -> Kind {
    match (facility, room) {
        (_, "メインアリーナ") => Kind::Court { full_fee: 2400 },
        (_, "アリーナ") => Kind::Court { full_fee: 1200 },
        (_, "サブアリーナ") => Kind::Hall { fee: 900 },
        (f, _) if f.contains("武道館") => Kind::Hourly {
            fee: 400,
            open: "9:00",
            close: "21:00",
        },
        ("テニスコート", _) => Kind::Hourly {
            fee: 300,
            open: "8:00",
            close: "20:00",
        },
        ("キャンプ場", _) => Kind::Camp {
            day_fee: 1000,
            night_fee: 2500,
        },
        ("ドックラン施設", _) => Kind::Free,
        (_, r)
            if r.contains("野球場")
                || r.contains("競技場")
                || r.contains("グラウンド")
                || r.contains("球技場")
                || r.contains("広場") =>
        {
            Kind::Field { fee: 1500 }
        }
        (_, r)
            if r.contains("会議室")
                || r.contains("研修室")
                || r.contains("和室")
                || r.contains("室") =>
        {
            Kind::Hourly {
                fee: 200,
                open: "9:00",
                close: "21:00",
            }
        }
        _ => Kind::Hall { fee: 600 },
    }
}

fn slot(label: &str, a: &str, b: &str) -> (String, i64, i64) {
    (label.to_owned(), min(a), min(b))
}

fn hourly(open: &str, close: &str) -> Vec<(String, i64, i64)> {
    let (a, b) = (min(open), min(close));
    (a..b)
        .step_by(60)
        .filter(|s| s + 60 <= b)
        .map(|s| {
            let label = format!("{}時", s / 60);
            (label, s, s + 60)
        })
        .collect()
}

/// (label, start minute, end minute)
type SlotSpec = (String, i64, i64);
/// (name, stock, unit, fee)
type Lent = (&'static str, i64, &'static str, i64);

fn slot_patterns(kind: Kind) -> Vec<(i64, Vec<SlotSpec>)> {
    let bands = vec![
        slot("午前", "9:00", "12:00"),
        slot("午後", "13:00", "17:00"),
        slot("夜間", "18:00", "21:00"),
    ];
    let two_hours = vec![
        slot("9時〜", "9:00", "11:00"),
        slot("11時〜", "11:00", "13:00"),
        slot("13時〜", "13:00", "15:00"),
        slot("15時〜", "15:00", "17:00"),
        slot("17時〜", "17:00", "19:00"),
        slot("19時〜", "19:00", "21:00"),
    ];
    match kind {
        Kind::Court { .. } | Kind::Hall { .. } => {
            vec![(days(&WEEKDAYS), bands), (days(&WEEKEND), two_hours)]
        }
        Kind::Field { .. } => vec![(
            days(&ALL_DAYS),
            vec![
                slot("午前", "8:00", "12:00"),
                slot("午後", "13:00", "17:00"),
                slot("夜間", "18:00", "21:00"),
            ],
        )],
        Kind::Hourly { open, close, .. } => vec![(days(&ALL_DAYS), hourly(open, close))],
        Kind::Camp { .. } => vec![(
            days(&ALL_DAYS),
            vec![
                slot("デイキャンプ", "10:00", "16:00"),
                slot("宿泊（翌10時まで）", "13:00", "24:00"),
            ],
        )],
        Kind::Free => vec![(
            days(&ALL_DAYS),
            vec![
                slot("午前", "8:30", "12:00"),
                slot("午後", "13:00", "17:00"),
            ],
        )],
    }
}

/// Fee rows for one combination: residents' price for every category, and
/// double for people from outside the town (町外).
fn fee_rows(kind: Kind, share_percent: i64, outside: i64) -> Vec<FeeRuleRow> {
    let row = |category_id: Option<i64>, d: i64, a: &str, b: &str, per_hour: bool, amount: i64| {
        FeeRuleRow {
            id: 0,
            combination_id: 0,
            category_id,
            days: d,
            start_min: min(a),
            end_min: min(b),
            per_hour,
            amount: amount * share_percent / 100,
        }
    };
    let mut rows = Vec::new();
    for (category, factor) in [(None, 1), (Some(outside), 2)] {
        match kind {
            Kind::Court { full_fee: fee } | Kind::Hall { fee } => {
                let hour = fee / 3;
                rows.push(row(
                    category,
                    days(&WEEKDAYS),
                    "9:00",
                    "12:00",
                    false,
                    fee * factor,
                ));
                rows.push(row(
                    category,
                    days(&WEEKDAYS),
                    "13:00",
                    "17:00",
                    false,
                    fee * 4 / 3 * factor,
                ));
                rows.push(row(
                    category,
                    days(&WEEKDAYS),
                    "18:00",
                    "21:00",
                    false,
                    fee * 3 / 2 * factor,
                ));
                rows.push(row(
                    category,
                    days(&WEEKEND),
                    "9:00",
                    "21:00",
                    true,
                    hour * 3 / 2 * factor,
                ));
            }
            Kind::Field { fee } => {
                rows.push(row(
                    category,
                    days(&ALL_DAYS),
                    "8:00",
                    "17:00",
                    true,
                    fee / 4 * factor,
                ));
                rows.push(row(
                    category,
                    days(&ALL_DAYS),
                    "18:00",
                    "21:00",
                    true,
                    fee / 3 * factor,
                ));
            }
            Kind::Hourly { fee, open, close } => rows.push(row(
                category,
                days(&ALL_DAYS),
                open,
                close,
                true,
                fee * factor,
            )),
            Kind::Camp { day_fee, night_fee } => {
                rows.push(row(
                    category,
                    days(&ALL_DAYS),
                    "10:00",
                    "16:00",
                    false,
                    day_fee * factor,
                ));
                rows.push(row(
                    category,
                    days(&ALL_DAYS),
                    "13:00",
                    "24:00",
                    false,
                    night_fee * factor,
                ));
            }
            Kind::Free => {
                rows.push(row(category, days(&ALL_DAYS), "8:30", "12:00", false, 0));
                rows.push(row(category, days(&ALL_DAYS), "13:00", "17:00", false, 0));
            }
        }
    }
    rows
}

const TERMS: &str = "1. 利用の目的以外に使用しないでください。\n2. 施設・設備を壊したり汚したりしたときは、速やかに職員に申し出てください。損害は弁償していただく場合があります。\n3. 利用後は清掃し、原状に戻してください。ごみは持ち帰ってください。\n4. 火気の使用、飲酒、喫煙は指定の場所以外ではできません。\n5. 利用の権利を他人に譲ったり、転貸したりすることはできません。\n6. 職員の指示に従ってください。従わない場合は利用を中止していただくことがあります。\n7. 変更・取消は期限までにお手続きください。";

/// Seeds the shared lists and every facility's configuration, once.
pub async fn kunitomi_catalogue(db: &Db) -> Result<()> {
    if !catalogue::categories(db).await?.is_empty() {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    let mut category = Vec::new();
    for (order, (name, proof)) in (1_i64..).zip([
        ("町内在住", false),
        ("町内在学", true),
        ("町内在勤", true),
        ("町内の団体", false),
        ("町外", false),
    ]) {
        category.push(catalogue::insert_category(&mut tx, name, proof, order * 10).await?);
    }
    let outside = category[4];
    for (name, percent) in [
        ("町内小中学校の学校行事", 100),
        ("町・教育委員会の主催事業", 100),
        ("町内のスポーツ少年団", 50),
        ("障がい者団体の活動", 50),
    ] {
        catalogue::insert_reduction(&mut tx, name, percent, true).await?;
    }
    tx.commit().await?;

    for (index, f) in facilities::list(db).await?.into_iter().enumerate() {
        let mut tx = db.begin().await?;
        configure(&mut tx, db, &f, index, &category, outside).await?;
        tx.commit().await?;
    }
    Ok(())
}

async fn configure(
    tx: &mut Tx,
    db: &Db,
    f: &Facility,
    index: usize,
    category: &[i64],
    outside: i64,
) -> Result<()> {
    let outdoor = [
        "運動公園",
        "球技場",
        "運動広場",
        "多目的広場",
        "キャンプ場",
        "テニスコート",
        "ドックラン",
    ]
    .iter()
    .any(|k| f.name.contains(k));
    let mut change = facilities::FacilityChange::from(f);
    if let Some((lat, lon)) = super::seed::position(index) {
        change.latitude = Some(lat);
        change.longitude = Some(lon);
    }
    change.info_url = format!(
        "https://www.town.kunitomi.miyazaki.jp/shisetsu/{}.html",
        index + 1
    );
    change.change_days_before = if f.name.contains("キャンプ場") {
        7
    } else {
        3
    };
    facilities::update(tx, f.id, &change).await?;
    // Cancelling usually stays open longer than changing (the slot can still
    // go to someone else); camp sites need the food order cancelled, and the
    // fields of 運動公園 are prepared by the groundskeeper, so those ask for
    // more notice, the latter only by phone or at the counter.
    let (cancel_days, cancel_online) = if f.name.contains("キャンプ場") {
        (3, true)
    } else if f.name == "国富町運動公園" {
        (2, false)
    } else if f.name.contains("ドックラン") {
        (0, true)
    } else {
        (1, true)
    };
    facilities::set_cancel_deadline(tx, f.id, cancel_days, cancel_online).await?;

    // Opening hours and closed days (A03, A10, A11).
    let opening = if f.name.contains("キャンプ場") {
        vec![OpeningRow {
            id: 0,
            facility_id: f.id,
            days: days(&ALL_DAYS),
            season_from: Some("3/1".into()),
            season_to: Some("11/30".into()),
            start_min: min("9:00"),
            end_min: min("24:00"),
        }]
    } else if f.name.contains("テニスコート") || f.name.contains("ドックラン") {
        vec![OpeningRow {
            id: 0,
            facility_id: f.id,
            days: days(&ALL_DAYS),
            season_from: None,
            season_to: None,
            start_min: min("8:00"),
            end_min: min("20:00"),
        }]
    } else if outdoor {
        vec![OpeningRow {
            id: 0,
            facility_id: f.id,
            days: days(&ALL_DAYS),
            season_from: None,
            season_to: None,
            start_min: min("8:00"),
            end_min: min("21:00"),
        }]
    } else {
        vec![
            OpeningRow {
                id: 0,
                facility_id: f.id,
                days: days(&WEEKDAYS),
                season_from: None,
                season_to: None,
                start_min: min("9:00"),
                end_min: min("21:00"),
            },
            OpeningRow {
                id: 0,
                facility_id: f.id,
                days: days(&WEEKEND),
                season_from: None,
                season_to: None,
                start_min: min("9:00"),
                end_min: min("21:00"),
            },
        ]
    };
    catalogue::save_opening_rules(tx, f.id, &opening).await?;
    let weekly = |weekday: i64| ClosedRuleRow {
        id: 0,
        facility_id: f.id,
        kind: "weekly".into(),
        weekday: Some(weekday),
        n: None,
        shift_if_holiday: true,
        season_from: None,
        season_to: None,
    };
    catalogue::insert_closed_rule(tx, f.id, &weekly(if outdoor { 1 } else { 0 })).await?;
    catalogue::insert_closed_rule(
        tx,
        f.id,
        &ClosedRuleRow {
            id: 0,
            facility_id: f.id,
            kind: "annual".into(),
            weekday: None,
            n: None,
            shift_if_holiday: false,
            season_from: Some("12/29".into()),
            season_to: Some("1/3".into()),
        },
    )
    .await?;

    // Who may book and how far ahead (A14): residents 2 months ahead from the 1st, others 1 month.
    let windows: Vec<FacilityCategory> = category
        .iter()
        .map(|c| FacilityCategory {
            facility_id: f.id,
            category_id: *c,
            window_kind: "months".into(),
            window_n: if *c == outside { 1 } else { 2 },
            opens_on_day: 1,
            monthly_limit: if *c == outside { Some(4) } else { Some(8) },
        })
        .collect();
    catalogue::save_facility_categories(tx, f.id, &windows).await?;

    // Rooms: units, combinations, slots, fees.
    let rooms: Vec<Room> = facilities::rooms(db, f.id).await?;
    let mut has_court = false;
    for room in &rooms {
        let kind = kind_of(&f.name, &room.name);
        let combos: Vec<(String, Vec<i64>, i64)> = if matches!(kind, Kind::Court { .. }) {
            has_court = true;
            let a = catalogue::insert_unit(tx, room.id, "A面", 10).await?;
            let b = catalogue::insert_unit(tx, room.id, "B面", 20).await?;
            vec![
                ("全面".into(), vec![a, b], 100),
                ("A面（片面）".into(), vec![a], 60),
                ("B面（片面）".into(), vec![b], 60),
            ]
        } else {
            let u = catalogue::insert_unit(tx, room.id, "全面", 10).await?;
            vec![("全面".into(), vec![u], 100)]
        };
        let list: Vec<(String, Vec<i64>)> = combos
            .iter()
            .map(|(n, u, _)| (n.clone(), u.clone()))
            .collect();
        catalogue::save_combinations(tx, room.id, &list).await?;
        let patterns: Vec<SlotPatternRow> = slot_patterns(kind)
            .into_iter()
            .map(|(d, slots)| SlotPatternRow {
                id: 0,
                room_id: room.id,
                days: d,
                season_from: None,
                season_to: None,
                slots,
            })
            .collect();
        catalogue::save_slot_patterns(tx, room.id, &patterns).await?;
        let stored = combination_ids(tx, room.id).await?;
        for ((_, _, share), id) in combos.iter().zip(stored) {
            let rows: Vec<FeeRuleRow> = fee_rows(kind, *share, outside)
                .into_iter()
                .map(|r| FeeRuleRow {
                    combination_id: id,
                    ..r
                })
                .collect();
            catalogue::save_fee_rules(tx, id, &rows).await?;
        }
        if matches!(kind, Kind::Court { .. } | Kind::Field { .. })
            || f.name.contains("テニスコート")
        {
            let lighting = EquipmentChange {
                room_id: Some(room.id),
                name: format!("{} 照明", room.name),
                stock: 1,
                unit_label: "式".into(),
                fee: if matches!(kind, Kind::Field { .. }) {
                    1500
                } else {
                    400
                },
                per_hour: true,
                with_room: true,
            };
            catalogue::insert_equipment(tx, f.id, &lighting).await?;
        }
        // Gyms (アリーナ, サブアリーナ) have air conditioning as well as meeting
        // rooms; a big hall costs more per hour to cool or heat.
        if matches!(kind, Kind::Court { .. } | Kind::Hall { .. })
            || room.name.contains("会議室")
            || room.name == "研修室"
        {
            let air = EquipmentChange {
                room_id: Some(room.id),
                name: format!("{} 冷暖房", room.name),
                stock: 1,
                unit_label: "式".into(),
                fee: match kind {
                    _ if room.name == "メインアリーナ" => 1500,
                    Kind::Court { .. } => 1000,
                    Kind::Hall { .. } if room.name.contains("アリーナ") => 700,
                    _ => 200,
                },
                per_hour: true,
                with_room: true,
            };
            catalogue::insert_equipment(tx, f.id, &air).await?;
        }
    }

    // Equipment lent separately, purposes and activities (A12, A13, A15, A18).
    let (lent, purposes): (Vec<Lent>, Vec<&str>) = if has_court {
        (
            vec![
                ("バレーボール支柱", 2, "組", 200),
                ("バドミントン支柱", 6, "組", 100),
                ("卓球台", 8, "台", 100),
                ("得点板", 4, "台", 0),
            ],
            vec![
                "バレーボール",
                "バスケットボール",
                "バドミントン",
                "卓球",
                "ソフトテニス",
                "健康体操",
            ],
        )
    } else if f.name.contains("武道館") {
        (
            vec![("畳（予備）", 20, "枚", 0), ("的", 10, "個", 50)],
            vec!["柔道", "剣道", "弓道", "空手道", "合気道"],
        )
    } else if f.name.contains("キャンプ場") {
        (
            vec![
                ("バーベキューコンロ", 6, "台", 500),
                ("テント", 4, "張", 1000),
            ],
            vec!["キャンプ", "デイキャンプ", "野外活動"],
        )
    } else if f.name.contains("テニスコート") {
        (vec![("ネット", 4, "張", 0)], vec!["テニス", "ソフトテニス"])
    } else if f.name.contains("ドックラン") {
        (Vec::new(), vec!["ドッグラン"])
    } else {
        (
            vec![("ライン引き", 2, "台", 100), ("ボール籠", 4, "個", 0)],
            vec![
                "野球",
                "ソフトボール",
                "サッカー",
                "グラウンド・ゴルフ",
                "陸上競技",
            ],
        )
    };
    for (name, stock, unit, fee) in lent {
        catalogue::insert_equipment(
            tx,
            f.id,
            &EquipmentChange {
                room_id: None,
                name: name.into(),
                stock,
                unit_label: unit.into(),
                fee,
                per_hour: false,
                with_room: false,
            },
        )
        .await?;
    }
    for p in purposes {
        catalogue::insert_purpose(tx, f.id, None, None, p).await?;
    }
    if rooms
        .iter()
        .any(|r| r.name.contains("会議室") || r.name == "研修室" || r.name == "和室")
    {
        for p in ["会議", "研修", "サークル活動"] {
            catalogue::insert_purpose(tx, f.id, None, None, p).await?;
        }
    }
    for a in ["練習", "試合・大会", "教室・講座", "レクリエーション"] {
        catalogue::insert_activity(tx, f.id, a).await?;
    }
    let effective = NaiveDate::from_ymd_opt(2025, 4, 1).unwrap_or_default();
    catalogue::add_terms(tx, f.id, TERMS, effective).await?;
    Ok(())
}

async fn combination_ids(tx: &mut Tx, room_id: i64) -> Result<Vec<i64>> {
    Ok(
        crate::on_tx!(tx, conn => sqlx::query_scalar("SELECT id FROM combinations WHERE room_id = $1 ORDER BY sort_order, id")
        .bind(room_id)
        .fetch_all(conn)
        .await)?,
    )
}
