//! Synthetic history for capacity tests (C05): thousands of residents and
//! hundreds of thousands of reservations over several years, on a database
//! that already holds the demo catalogue. Every confirmed reservation holds
//! its `reservation_cells` rows exactly as [`crate::reservations::create`]
//! writes them, so the no-double-booking invariant (A08) holds over the
//! whole history. Deterministic: the same options give the same data.
//!
//! Rows go in with multi-row `INSERT`s inside a few large transactions.
//! Batches stay near a thousand bound parameters, far below SQLite's 32,766
//! and PostgreSQL's 65,535: SQLite resolves `$N` parameters by name, which
//! costs time quadratic in their number per statement (a 20,000-parameter
//! statement made the full seed ten times slower).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveTime, TimeZone, Utc};
use hiroba_domain::booking::cells;
use hiroba_domain::calendar::{DayStatus, SlotState};
use hiroba_domain::datetime::JST;
use hiroba_domain::fees::{self, FeeRule, QuoteRequest};
use hiroba_domain::time_of_day::TimeRange;

use crate::{Db, Result, StoreError, Tx, catalogue, catalogue_domain, facilities, on_pool, on_tx};

/// The settings key that marks a database as holding synthetic history.
pub const MARKER_KEY: &str = "seed_history";

/// More residents than this means the database is not a fresh demo.
const RESIDENTS_LIMIT: i64 = 1000;

#[derive(Debug, Clone)]
pub struct HistoryOptions {
    pub residents: usize,
    pub reservations: usize,
    /// Years of history ending `today`.
    pub years: u32,
    /// Days after `today` that also get (fewer, still unpaid) reservations.
    pub future_days: i64,
    pub today: NaiveDate,
    /// Seed of the random generator.
    pub seed: u64,
}

impl Default for HistoryOptions {
    fn default() -> Self {
        Self {
            residents: 18_000,
            reservations: 300_000,
            years: 5,
            future_days: 90,
            today: Utc::now().with_timezone(&JST).date_naive(),
            seed: 0x4b55_4e49_544f_4d49, // "KUNITOMI"
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryReport {
    pub residents: usize,
    pub reservations: usize,
    pub cancelled: usize,
    pub cells: usize,
    /// Free slots that existed; fewer than asked means the rooms were full.
    pub capacity: usize,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// Why the history cannot be seeded, if it cannot.
pub async fn refusal(db: &Db) -> Result<Option<String>> {
    let marker: Option<String> = on_pool!(db, pool => sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
        .bind(MARKER_KEY)
        .fetch_optional(pool)
        .await)?;
    if let Some(when) = marker {
        return Ok(Some(format!(
            "このデータベースには合成履歴がすでに入っています ({when})。新しいデータディレクトリで実行してください / synthetic history was already seeded"
        )));
    }
    let residents: i64 = on_pool!(db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM residents").fetch_one(pool).await)?;
    if residents > RESIDENTS_LIMIT {
        return Ok(Some(format!(
            "利用者が{residents}人登録されています。合成履歴は試験用の新しいデータベースにだけ入れられます / the database already has real-looking data"
        )));
    }
    if facilities::count(db).await? == 0 || catalogue::categories(db).await?.is_empty() {
        return Ok(Some(
            "施設と利用者区分がありません。先にデモのデータを入れてください / seed the demo catalogue first".into(),
        ));
    }
    Ok(None)
}

/// xorshift64*: small, fast and good enough for synthetic data.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// 0..n (n > 0).
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n.max(1) as u64)).unwrap_or(0)
    }

    /// True with probability percent / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            items.get(self.below(items.len()))
        }
    }
}

/// (kanji, katakana)
const FAMILY: [(&str, &str); 40] = [
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
    ("吉田", "ヨシダ"),
    ("山田", "ヤマダ"),
    ("松本", "マツモト"),
    ("井上", "イノウエ"),
    ("木村", "キムラ"),
    ("河野", "カワノ"),
    ("黒木", "クロギ"),
    ("甲斐", "カイ"),
    ("日高", "ヒダカ"),
    ("長友", "ナガトモ"),
    ("押川", "オシカワ"),
    ("矢野", "ヤノ"),
    ("児玉", "コダマ"),
    ("那須", "ナス"),
    ("坂本", "サカモト"),
    ("岩切", "イワキリ"),
    ("外山", "トヤマ"),
    ("新名", "ニイナ"),
    ("川越", "カワゴエ"),
    ("椎葉", "シイバ"),
    ("松田", "マツダ"),
    ("森", "モリ"),
    ("池田", "イケダ"),
    ("橋口", "ハシグチ"),
    ("安藤", "アンドウ"),
    ("清水", "シミズ"),
    ("谷口", "タニグチ"),
    ("横山", "ヨコヤマ"),
    ("福田", "フクダ"),
    ("上田", "ウエダ"),
];

const GIVEN: [(&str, &str); 40] = [
    ("太郎", "タロウ"),
    ("一郎", "イチロウ"),
    ("健太", "ケンタ"),
    ("翔太", "ショウタ"),
    ("大輔", "ダイスケ"),
    ("拓也", "タクヤ"),
    ("直樹", "ナオキ"),
    ("浩二", "コウジ"),
    ("誠", "マコト"),
    ("隆", "タカシ"),
    ("蓮", "レン"),
    ("悠真", "ユウマ"),
    ("陽翔", "ハルト"),
    ("湊", "ミナト"),
    ("大和", "ヤマト"),
    ("茂", "シゲル"),
    ("勝", "マサル"),
    ("修", "オサム"),
    ("豊", "ユタカ"),
    ("弘", "ヒロシ"),
    ("花子", "ハナコ"),
    ("美咲", "ミサキ"),
    ("陽菜", "ヒナ"),
    ("結衣", "ユイ"),
    ("さくら", "サクラ"),
    ("葵", "アオイ"),
    ("彩", "アヤ"),
    ("真由美", "マユミ"),
    ("恵子", "ケイコ"),
    ("幸子", "サチコ"),
    ("和子", "カズコ"),
    ("久美子", "クミコ"),
    ("由美", "ユミ"),
    ("愛", "アイ"),
    ("芽依", "メイ"),
    ("凛", "リン"),
    ("結菜", "ユイナ"),
    ("千尋", "チヒロ"),
    ("優子", "ユウコ"),
    ("明美", "アケミ"),
];

const AREAS: [(&str, &str); 8] = [
    ("大字本庄", "880-1101"),
    ("大字木脇", "880-1111"),
    ("大字八代北俣", "880-1104"),
    ("大字八代南俣", "880-1105"),
    ("大字三名", "880-1112"),
    ("大字須志田", "880-1113"),
    ("大字深年", "880-1102"),
    ("大字田尻", "880-1103"),
];

const GROUPS: [&str; 10] = [
    "くにとみバレーボールクラブ",
    "本庄ミニバス少年団",
    "国富剣友会",
    "木脇グラウンド・ゴルフ愛好会",
    "八代卓球サークル",
    "国富町バドミントン協会",
    "須志田太極拳の会",
    "深年ソフトボール部",
    "三名ヨガ教室",
    "国富町子ども会連合会",
];

const TOWN: &str = "宮崎県東諸県郡国富町";

/// A password hash no password verifies against (not a PHC string): seeded
/// residents cannot sign in.
pub const UNUSABLE_PASSWORD_HASH: &str = "!synthetic-history-no-login";

struct SeedResident {
    id: i64,
    name: String,
    phone: String,
    category_id: i64,
    group: bool,
}

/// One bookable room with what the history needs of it.
struct RoomInfo {
    facility_id: i64,
    room_id: i64,
    capacity: i64,
    /// (combination id, its units, its fee rules)
    combos: Vec<(i64, Vec<i64>, Vec<FeeRule>)>,
    purposes: Vec<String>,
    activities: Vec<String>,
}

/// An open day of a room and its open slots.
struct OpenDay {
    room: usize,
    date: NaiveDate,
    holiday: bool,
    slots: Vec<TimeRange>,
}

struct Planned {
    room: usize,
    combo: usize,
    date: NaiveDate,
    slots: Vec<TimeRange>,
    resident: Option<usize>,
    cancelled: bool,
    fee: i64,
    created_at: DateTime<Utc>,
    payment: &'static str,
}

/// Seeds the synthetic history. Refuses (`Duplicate`) a database that already
/// has it or looks like real data; see [`refusal`].
pub async fn seed_history(db: &Db, opts: &HistoryOptions) -> Result<HistoryReport> {
    if refusal(db).await?.is_some() {
        return Err(StoreError::Duplicate("synthetic history"));
    }
    let mut rng = Rng::new(opts.seed);
    let from = opts
        .today
        .checked_sub_months(Months::new(opts.years.saturating_mul(12)))
        .unwrap_or(opts.today);
    let to = opts.today + Duration::days(opts.future_days.max(0));

    let categories: Vec<i64> = catalogue::categories(db)
        .await?
        .iter()
        .map(|c| c.id)
        .collect();
    let rooms = load_rooms(db).await?;
    let days = open_days(db, &rooms, from, to).await?;

    let mut tx = db.begin().await?;
    let residents = insert_residents(&mut tx, &mut rng, opts, &categories, from).await?;
    tx.commit().await?;

    let (planned, capacity) = plan(db, &mut rng, opts, &rooms, &days, &residents, from).await?;
    let mut report = HistoryReport {
        residents: residents.len(),
        reservations: planned.len(),
        cancelled: planned.iter().filter(|p| p.cancelled).count(),
        cells: 0,
        capacity,
        from,
        to,
    };
    report.cells = insert_reservations(db, &mut rng, &rooms, &residents, &planned).await?;

    let mut tx = db.begin().await?;
    on_tx!(&mut tx, conn => sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2)")
        .bind(MARKER_KEY)
        .bind(format!(
            "{} residents, {} reservations, {from}..{to}, seeded {}",
            report.residents,
            report.reservations,
            Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
        ))
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    tx.commit().await?;
    Ok(report)
}

async fn load_rooms(db: &Db) -> Result<Vec<RoomInfo>> {
    let mut rooms = Vec::new();
    for f in facilities::list(db).await? {
        let purposes: Vec<String> = catalogue::purposes(db, f.id)
            .await?
            .into_iter()
            .map(|p| p.name)
            .collect();
        let activities: Vec<String> = catalogue::activities(db, f.id)
            .await?
            .into_iter()
            .map(|a| a.name)
            .collect();
        for room in facilities::rooms(db, f.id).await? {
            let mut combos = Vec::new();
            for c in catalogue::combinations(db, room.id).await? {
                if c.unit_ids.is_empty() {
                    continue;
                }
                let rules = catalogue_domain::fee_rules(db, c.id).await?;
                combos.push((c.id, c.unit_ids, rules));
            }
            if combos.is_empty() {
                continue;
            }
            rooms.push(RoomInfo {
                facility_id: f.id,
                room_id: room.id,
                capacity: room.capacity.unwrap_or(30).clamp(1, 60),
                combos,
                purposes: purposes.clone(),
                activities: activities.clone(),
            });
        }
    }
    Ok(rooms)
}

/// Every open day of every room between two dates, with its open slots, from
/// the same calendar the public pages show.
async fn open_days(
    db: &Db,
    rooms: &[RoomInfo],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<OpenDay>> {
    let mut days = Vec::new();
    for (index, room) in rooms.iter().enumerate() {
        let mut month = from.with_day(1).unwrap_or(from);
        while month <= to {
            let calendar = catalogue_domain::month_calendar(
                db,
                room.room_id,
                None,
                month.year(),
                month.month(),
            )
            .await?;
            for day in calendar {
                if day.date < from || day.date > to || day.status != DayStatus::Open {
                    continue;
                }
                let slots: Vec<TimeRange> = day
                    .slots
                    .iter()
                    .filter(|s| s.state == SlotState::Open)
                    .map(|s| s.range)
                    .collect();
                if !slots.is_empty() {
                    days.push(OpenDay {
                        room: index,
                        date: day.date,
                        holiday: day.holiday.is_some(),
                        slots,
                    });
                }
            }
            month = month
                .checked_add_months(Months::new(1))
                .unwrap_or(to + Duration::days(1));
        }
    }
    Ok(days)
}

/// Multi-row INSERT text: `INSERT INTO t (cols) VALUES ($1, $2), ($3, $4)...`.
fn insert_sql(head: &str, columns: usize, rows: usize, tail: &str) -> String {
    let mut sql = String::with_capacity(head.len() + rows * columns * 6 + tail.len());
    sql.push_str(head);
    sql.push_str(" VALUES ");
    let mut n = 1;
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for col in 0..columns {
            if col > 0 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&n.to_string());
            n += 1;
        }
        sql.push(')');
    }
    sql.push_str(tail);
    sql
}

fn at_jst(date: NaiveDate, minutes: i64) -> DateTime<Utc> {
    let time = NaiveTime::from_hms_opt(0, 0, 0).unwrap_or_default();
    JST.from_local_datetime(&date.and_time(time))
        .single()
        .map(|t| t.with_timezone(&Utc) + Duration::minutes(minutes))
        .unwrap_or_default()
}

const RESIDENT_COLUMNS: usize = 14;
const RESIDENT_BATCH: usize = 100;

async fn insert_residents(
    tx: &mut Tx,
    rng: &mut Rng,
    opts: &HistoryOptions,
    categories: &[i64],
    from: NaiveDate,
) -> Result<Vec<SeedResident>> {
    // Numbering continues after any resident already there, so e-mails never clash.
    let start: i64 = on_tx!(tx, conn => sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM residents").fetch_one(conn).await)?;
    let mut out = Vec::with_capacity(opts.residents);
    let mut number = start;
    let mut left = opts.residents;
    while left > 0 {
        let rows = left.min(RESIDENT_BATCH);
        left -= rows;
        let sql = insert_sql(
            "INSERT INTO residents (email, password_hash, name, kana, postal_code, address, phone, category_id, \
             category_verified, group_name, email_verified_at, status, created_at, updated_at)",
            RESIDENT_COLUMNS,
            rows,
            " RETURNING id, email",
        );
        let mut batch = Vec::with_capacity(rows);
        for _ in 0..rows {
            number += 1;
            let (family, family_kana) = FAMILY[rng.below(FAMILY.len())];
            let (given, given_kana) = GIVEN[rng.below(GIVEN.len())];
            let (area, postal) = AREAS[rng.below(AREAS.len())];
            // Most are town residents; some from outside, schools, workplaces, groups.
            let category = match rng.below(100) {
                0..=74 => categories.first(),
                75..=79 => categories.get(1),
                80..=84 => categories.get(2),
                85..=91 => categories.get(3),
                _ => categories.last(),
            }
            .or(categories.first())
            .copied()
            .unwrap_or(1);
            let group = rng.chance(20);
            let created = at_jst(
                from - Duration::days(i64::try_from(rng.below(365)).unwrap_or(0)),
                9 * 60 + i64::try_from(rng.below(600)).unwrap_or(0),
            );
            batch.push((
                format!("user{number:05}@example.jp"),
                format!("{family} {given}"),
                format!("{family_kana} {given_kana}"),
                postal,
                format!("{TOWN}{area}{}番地", 100 + rng.below(5000)),
                format!("090-{:04}-{:04}", rng.below(10_000), rng.below(10_000)),
                category,
                if group {
                    GROUPS[rng.below(GROUPS.len())]
                } else {
                    ""
                },
                created,
            ));
        }
        // RETURNING promises no order: rows are matched back by e-mail.
        let ids: Vec<(i64, String)> = on_tx!(tx, conn => {
            let mut query = sqlx::query_as::<_, (i64, String)>(&sql);
            for r in &batch {
                query = query
                    .bind(&r.0)
                    .bind(UNUSABLE_PASSWORD_HASH)
                    .bind(&r.1)
                    .bind(&r.2)
                    .bind(r.3)
                    .bind(&r.4)
                    .bind(&r.5)
                    .bind(r.6)
                    .bind(true)
                    .bind(r.7)
                    .bind(r.8)
                    .bind("active")
                    .bind(r.8)
                    .bind(r.8);
            }
            query.fetch_all(conn).await
        })?;
        let ids: HashMap<String, i64> = ids.into_iter().map(|(id, email)| (email, id)).collect();
        for r in batch {
            let Some(&id) = ids.get(&r.0) else {
                return Err(StoreError::NotFound);
            };
            out.push(SeedResident {
                id,
                name: r.1,
                phone: r.5,
                category_id: r.6,
                group: !r.7.is_empty(),
            });
        }
    }
    Ok(out)
}

/// The 15-minute cells of a range as a bit mask.
fn mask(range: &TimeRange) -> u128 {
    cells(range).fold(0u128, |m, c| m | (1u128 << c))
}

type Occupancy = HashMap<(i64, NaiveDate), u128>;

fn free(occupied: &Occupancy, units: &[i64], date: NaiveDate, m: u128) -> bool {
    units
        .iter()
        .all(|u| occupied.get(&(*u, date)).is_none_or(|held| held & m == 0))
}

fn hold(occupied: &mut Occupancy, units: &[i64], date: NaiveDate, m: u128) {
    for u in units {
        *occupied.entry((*u, date)).or_default() |= m;
    }
}

/// Chooses the reservations: every (open day, slot, combination) in random
/// order, taken when its units are free at that time, until enough.
async fn plan(
    db: &Db,
    rng: &mut Rng,
    opts: &HistoryOptions,
    rooms: &[RoomInfo],
    days: &[OpenDay],
    residents: &[SeedResident],
    from: NaiveDate,
) -> Result<(Vec<Planned>, usize)> {
    let to = days.iter().map(|d| d.date).max().unwrap_or(from);
    let held: Vec<(i64, NaiveDate, i64)> = on_pool!(db, pool => sqlx::query_as(
        "SELECT unit_id, use_date, cell FROM reservation_cells WHERE use_date >= $1 AND use_date <= $2"
    )
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await)?;
    let mut occupied: Occupancy = HashMap::new();
    for (unit, date, cell) in held {
        if (0..128).contains(&cell) {
            *occupied.entry((unit, date)).or_default() |= 1u128 << cell;
        }
    }

    // (day, slot, combination)
    let mut candidates: Vec<(u32, u16, u16)> = Vec::new();
    for (d, day) in days.iter().enumerate() {
        let combos = rooms.get(day.room).map_or(0, |r| r.combos.len());
        for s in 0..day.slots.len() {
            for c in 0..combos {
                candidates.push((
                    u32::try_from(d).unwrap_or(u32::MAX),
                    u16::try_from(s).unwrap_or(u16::MAX),
                    u16::try_from(c).unwrap_or(u16::MAX),
                ));
            }
        }
    }
    for i in (1..candidates.len()).rev() {
        let j = rng.below(i + 1);
        candidates.swap(i, j);
    }
    let total = candidates.len();

    let now = Utc::now();
    let mut planned = Vec::with_capacity(opts.reservations);
    for (d, s, c) in candidates {
        if planned.len() >= opts.reservations {
            break;
        }
        let (Some(day), Some(first)) = (
            days.get(d as usize),
            days.get(d as usize)
                .and_then(|x| x.slots.get(usize::from(s))),
        ) else {
            continue;
        };
        let Some(room) = rooms.get(day.room) else {
            continue;
        };
        let Some((_, units, rules)) = room.combos.get(usize::from(c)) else {
            continue;
        };
        let mut m = mask(first);
        if !free(&occupied, units, day.date, m) {
            continue;
        }
        let mut slots = vec![*first];
        // Some bookings take the next slot as well (a two-hour meeting).
        if let Some(next) = day.slots.get(usize::from(s) + 1)
            && next.start == first.end
            && rng.chance(30)
            && free(&occupied, units, day.date, mask(next))
        {
            slots.push(*next);
            m |= mask(next);
        }
        let cancelled = rng.chance(5);
        if !cancelled {
            hold(&mut occupied, units, day.date, m);
        }
        let resident = if residents.is_empty() || rng.chance(15) {
            None
        } else {
            Some(rng.below(residents.len()))
        };
        let category = resident
            .and_then(|r| residents.get(r))
            .map_or(0, |r| r.category_id);
        let fee = fees::quote(&QuoteRequest {
            date: day.date,
            is_holiday: day.holiday,
            category_id: category,
            slots: &slots,
            rules,
            equipment: &[],
            reduction: None,
            min_minutes: 0,
        })
        .map_or(0, |q| q.total);
        let ahead = i64::try_from(1 + rng.below(60)).unwrap_or(1);
        let created_at = at_jst(
            day.date - Duration::days(ahead),
            8 * 60 + 30 + i64::try_from(rng.below(12 * 60)).unwrap_or(0),
        )
        .min(now - Duration::minutes(i64::try_from(1 + rng.below(600)).unwrap_or(1)));
        let past = day.date < opts.today;
        let payment = if cancelled {
            "unpaid"
        } else if fee == 0 {
            "exempt"
        } else if (past && rng.chance(92)) || (!past && rng.chance(20)) {
            "paid"
        } else {
            "unpaid"
        };
        planned.push(Planned {
            room: day.room,
            combo: usize::from(c),
            date: day.date,
            slots,
            resident,
            cancelled,
            fee,
            created_at,
            payment,
        });
    }
    // Ids then follow the calendar, roughly as real bookings would.
    planned.sort_by_key(|p| (p.date, p.slots.first().map(|s| s.start)));
    Ok((planned, total))
}

const RESERVATION_COLUMNS: usize = 20;
const RESERVATION_BATCH: usize = 64;
const CELL_BATCH: usize = 256;
/// Reservations per transaction.
const COMMIT_EVERY: usize = 50_000;

fn reference(rng: &mut Rng) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let chars: String = (0..8)
        .map(|_| ALPHABET[rng.below(ALPHABET.len())] as char)
        .collect();
    format!("R-{}-{}", &chars[..4], &chars[4..])
}

fn walk_in_name(rng: &mut Rng) -> String {
    let (family, _) = FAMILY[rng.below(FAMILY.len())];
    let (given, _) = GIVEN[rng.below(GIVEN.len())];
    format!("{family} {given}")
}

/// Inserts the planned reservations and their cells; returns the cell count.
async fn insert_reservations(
    db: &Db,
    rng: &mut Rng,
    rooms: &[RoomInfo],
    residents: &[SeedResident],
    planned: &[Planned],
) -> Result<usize> {
    let existing: Vec<String> = on_pool!(db, pool => sqlx::query_scalar("SELECT reference FROM reservations").fetch_all(pool).await)?;
    let mut references: HashSet<String> = existing.into_iter().collect();
    let walk_in_category = walk_in_category(db).await?;
    let mut cell_count = 0;
    let mut tx = db.begin().await?;
    let mut in_tx = 0;
    for chunk in planned.chunks(RESERVATION_BATCH) {
        if in_tx >= COMMIT_EVERY {
            tx.commit().await?;
            tx = db.begin().await?;
            in_tx = 0;
        }
        in_tx += chunk.len();
        struct Row<'a> {
            reference: String,
            p: &'a Planned,
            room: &'a RoomInfo,
            combination_id: i64,
            resident_id: Option<i64>,
            name: String,
            phone: String,
            category_id: i64,
            purpose: String,
            activity: String,
            people: i64,
        }
        let mut rows = Vec::with_capacity(chunk.len());
        for p in chunk {
            let Some(room) = rooms.get(p.room) else {
                continue;
            };
            let Some((combination_id, _, _)) = room.combos.get(p.combo) else {
                continue;
            };
            let mut reference = reference(rng);
            while !references.insert(reference.clone()) {
                reference = self::reference(rng);
            }
            let resident = p.resident.and_then(|r| residents.get(r));
            let (name, phone, category_id) = match resident {
                Some(r) => (r.name.clone(), r.phone.clone(), r.category_id),
                None => (
                    walk_in_name(rng),
                    format!("0985-75-{:04}", rng.below(10_000)),
                    0,
                ),
            };
            let group = resident.is_some_and(|r| r.group);
            let people = if group {
                i64::try_from(5 + rng.below(30)).unwrap_or(5)
            } else {
                i64::try_from(1 + rng.below(8)).unwrap_or(1)
            }
            .min(room.capacity);
            rows.push(Row {
                reference,
                p,
                room,
                combination_id: *combination_id,
                resident_id: resident.map(|r| r.id),
                name,
                phone,
                category_id,
                purpose: rng.pick(&room.purposes).cloned().unwrap_or_default(),
                activity: rng.pick(&room.activities).cloned().unwrap_or_default(),
                people,
            });
        }
        let sql = insert_sql(
            "INSERT INTO reservations (reference, facility_id, room_id, combination_id, use_date, start_min, end_min, \
             resident_id, applicant_name, applicant_phone, category_id, purpose, activity, people, fee_total, status, \
             payment_status, created_at, cancelled_at, cancel_reason)",
            RESERVATION_COLUMNS,
            rows.len(),
            " RETURNING id, reference",
        );
        let returned: Vec<(i64, String)> = on_tx!(&mut tx, conn => {
            let mut query = sqlx::query_as::<_, (i64, String)>(&sql);
            for r in &rows {
                let start = r.p.slots.first().map_or(0, |s| i64::from(s.start.minutes()));
                let end = r.p.slots.last().map_or(0, |s| i64::from(s.end.minutes()));
                let cancelled_at = r.p.cancelled.then(|| r.p.created_at + Duration::hours(20));
                query = query
                    .bind(&r.reference)
                    .bind(r.room.facility_id)
                    .bind(r.room.room_id)
                    .bind(r.combination_id)
                    .bind(r.p.date)
                    .bind(start)
                    .bind(end)
                    .bind(r.resident_id)
                    .bind(&r.name)
                    .bind(&r.phone)
                    .bind(if r.category_id == 0 { walk_in_category } else { r.category_id })
                    .bind(&r.purpose)
                    .bind(&r.activity)
                    .bind(r.people)
                    .bind(r.p.fee)
                    .bind(if r.p.cancelled { "cancelled" } else { "confirmed" })
                    .bind(r.p.payment)
                    .bind(r.p.created_at)
                    .bind(cancelled_at)
                    .bind(if r.p.cancelled { "利用者の都合により取消" } else { "" });
            }
            query.fetch_all(conn).await
        })?;
        let ids: HashMap<String, i64> = returned.into_iter().map(|(id, r)| (r, id)).collect();

        // (unit, date, cell, reservation), exactly as `reservations::create` writes them.
        let mut cell_rows: Vec<(i64, NaiveDate, i64, i64)> = Vec::new();
        for r in rows.iter().filter(|r| !r.p.cancelled) {
            let Some(&id) = ids.get(&r.reference) else {
                return Err(StoreError::NotFound);
            };
            let Some((_, units, _)) = r.room.combos.get(r.p.combo) else {
                continue;
            };
            for unit in units {
                for slot in &r.p.slots {
                    for cell in cells(slot) {
                        cell_rows.push((*unit, r.p.date, cell, id));
                    }
                }
            }
        }
        // Two slots of one booking may share a cell (a slot ending at :10,
        // the next starting at :10): keep each cell once, as the PK demands.
        cell_rows.sort_unstable();
        cell_rows.dedup_by_key(|c| (c.0, c.1, c.2));
        for cells_chunk in cell_rows.chunks(CELL_BATCH) {
            let sql = insert_sql(
                "INSERT INTO reservation_cells (unit_id, use_date, cell, reservation_id)",
                4,
                cells_chunk.len(),
                "",
            );
            on_tx!(&mut tx, conn => {
                let mut query = sqlx::query(&sql);
                for (unit, date, cell, id) in cells_chunk {
                    query = query.bind(*unit).bind(*date).bind(*cell).bind(*id);
                }
                query.execute(conn).await.map(|r| r.rows_affected())
            })?;
            cell_count += cells_chunk.len();
        }
    }
    tx.commit().await?;
    Ok(cell_count)
}

/// The category of applicants without an account: the first (町内在住).
async fn walk_in_category(db: &Db) -> Result<i64> {
    Ok(catalogue::categories(db).await?.first().map_or(1, |c| c.id))
}
