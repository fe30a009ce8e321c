//! A room's month calendar: which days are open (開館時間, 休館日, 臨時休館), which
//! 予約枠 exist on each day and which of them are closed to general use. Also the
//! checks on what staff type into those settings.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate, Weekday};

use crate::time_of_day::{TimeRange, normalize_input};

const DAY_CODES: [&str; 8] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun", "hol"];
const DAY_NAMES: [&str; 8] = ["月", "火", "水", "木", "金", "土", "日", "祝"];
const HOLIDAY_BIT: u8 = 1 << 7;

/// Which days a rule applies to: Monday..Sunday plus 祝 (national holiday). A holiday matches only the 祝 bit, not its weekday.
///
/// Bit 0 is Monday … bit 6 Sunday, bit 7 祝. A holiday is treated as its own kind of
/// day because facilities run holidays like Sundays whatever weekday they fall on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DaySet(u8);

impl DaySet {
    pub const ALL: DaySet = DaySet(0xFF);
    /// Monday to Friday (not 祝).
    pub const WEEKDAYS: DaySet = DaySet(0b0001_1111);
    /// Saturday, Sunday and 祝.
    pub const WEEKEND_AND_HOLIDAYS: DaySet = DaySet(0b1110_0000);
    /// 祝 only.
    pub const HOLIDAYS: DaySet = DaySet(HOLIDAY_BIT);
    pub const EMPTY: DaySet = DaySet(0);

    /// The set holding one weekday (not 祝).
    pub fn weekday(weekday: Weekday) -> DaySet {
        DaySet(1 << weekday.num_days_from_monday())
    }

    /// Codes "mon".."sun" and "hol", as the web form sends them.
    pub fn from_codes(codes: &[&str]) -> Result<Self, String> {
        let mut bits = 0u8;
        for code in codes {
            let code = code.trim();
            let index = DAY_CODES
                .iter()
                .position(|c| c.eq_ignore_ascii_case(code))
                .ok_or_else(|| format!("曜日の指定「{code}」が分かりません。"))?;
            bits |= 1 << index;
        }
        Ok(DaySet(bits))
    }

    pub fn codes(&self) -> Vec<&'static str> {
        DAY_CODES
            .iter()
            .enumerate()
            .filter(|(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, c)| *c)
            .collect()
    }

    /// "毎日", "月〜金", "土日祝", "月水金", "月〜金・祝", "祝日". Three or more
    /// consecutive weekdays are shortened to a range, as on facility notices.
    pub fn label(&self) -> String {
        match self.0 {
            0xFF => return "毎日".to_string(),
            0 => return "なし".to_string(),
            HOLIDAY_BIT => return "祝日".to_string(),
            _ => {}
        }
        let has = |i: usize| self.0 & (1 << i) != 0;
        let mut out = String::new();
        let mut ends_with_range = false;
        let mut i = 0;
        while i < 7 {
            if has(i) {
                let start = i;
                while i + 1 < 7 && has(i + 1) {
                    i += 1;
                }
                if i - start >= 2 {
                    out.push_str(DAY_NAMES[start]);
                    out.push('〜');
                    out.push_str(DAY_NAMES[i]);
                    ends_with_range = true;
                } else {
                    for name in &DAY_NAMES[start..=i] {
                        out.push_str(name);
                    }
                    ends_with_range = false;
                }
            }
            i += 1;
        }
        if has(7) {
            // "月〜金祝" would read as if 祝 ended the range.
            if ends_with_range {
                out.push('・');
            }
            out.push('祝');
        }
        out
    }

    pub fn matches(&self, date: NaiveDate, is_holiday: bool) -> bool {
        if is_holiday {
            self.0 & HOLIDAY_BIT != 0
        } else {
            self.0 & (1 << date.weekday().num_days_from_monday()) != 0
        }
    }

    pub fn bits(&self) -> u8 {
        self.0
    }

    pub fn from_bits(b: u8) -> Self {
        DaySet(b)
    }

    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    pub fn intersects(&self, o: &DaySet) -> bool {
        self.0 & o.0 != 0
    }

    pub fn union(&self, o: &DaySet) -> DaySet {
        DaySet(self.0 | o.0)
    }

    /// Whether every day of `self` is also in `o`.
    pub fn is_subset(&self, o: &DaySet) -> bool {
        self.0 & !o.0 == 0
    }
}

/// An annual period by month/day, inclusive, may wrap the year end (e.g. 12/29〜1/3). Feb 29 handled sensibly.
///
/// Dates compare as (month, day) pairs, so a season starting 2/29 starts on 3/1 in a
/// common year, one ending 2/29 ends on 2/28, and a season of 2/29 alone happens
/// only in leap years.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Season {
    pub from: (u32, u32),
    pub to: (u32, u32),
}

fn valid_month_day((month, day): (u32, u32)) -> bool {
    // 2000 is a leap year, so 2/29 is accepted.
    (1..=12).contains(&month) && day >= 1 && NaiveDate::from_ymd_opt(2000, month, day).is_some()
}

fn month_day_error((month, day): (u32, u32)) -> String {
    format!("「{month}/{day}」は日付として正しくありません。")
}

fn parse_month_day(s: &str) -> Result<(u32, u32), String> {
    let text = normalize_input(s);
    if text.is_empty() {
        return Err("日付（月/日）を入力してください。".to_string());
    }
    let format_error = || format!("「{}」は「4/1」のように月/日で入力してください。", s.trim());
    let (m, d) = if let Some((m, d)) = text.split_once('/') {
        (m, d)
    } else if let Some((m, rest)) = text.split_once('月') {
        (m, rest.strip_suffix('日').unwrap_or(rest))
    } else {
        return Err(format_error());
    };
    let number = |t: &str| -> Result<u32, String> {
        if t.is_empty() || t.len() > 2 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format_error());
        }
        t.parse().map_err(|_| format_error())
    };
    Ok((number(m.trim())?, number(d.trim())?))
}

impl Season {
    pub fn new(from: (u32, u32), to: (u32, u32)) -> Result<Self, String> {
        for md in [from, to] {
            if !valid_month_day(md) {
                return Err(month_day_error(md));
            }
        }
        Ok(Season { from, to })
    }

    /// "4/1" and "9/30"; "4月1日" and full-width digits too.
    pub fn parse(from: &str, to: &str) -> Result<Self, String> {
        Self::new(parse_month_day(from)?, parse_month_day(to)?)
    }

    pub fn contains(&self, d: NaiveDate) -> bool {
        let md = (d.month(), d.day());
        if self.from <= self.to {
            self.from <= md && md <= self.to
        } else {
            // Wraps the year end: 12/29〜1/3.
            md >= self.from || md <= self.to
        }
    }

    /// "4月1日〜9月30日", "12月29日〜1月3日".
    pub fn label(&self) -> String {
        let (fm, fd) = self.from;
        let (tm, td) = self.to;
        if self.from == self.to {
            format!("{fm}月{fd}日")
        } else {
            format!("{fm}月{fd}日〜{tm}月{td}日")
        }
    }

    fn validate(&self) -> Result<(), String> {
        Self::new(self.from, self.to).map(|_| ())
    }
}

fn season_matches(season: &Option<Season>, date: NaiveDate) -> bool {
    season.as_ref().is_none_or(|s| s.contains(date))
}

/// Opening hours (開館時間, A11): the first rule (in staff order) whose days and season match decides the day's hours; no match = not open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpeningRule {
    pub days: DaySet,
    pub season: Option<Season>,
    pub hours: TimeRange,
}

impl OpeningRule {
    pub fn applies(&self, date: NaiveDate, is_holiday: bool) -> bool {
        self.days.matches(date, is_holiday) && season_matches(&self.season, date)
    }
}

/// The opening hours on a date, by the first matching rule.
pub fn hours_on(rules: &[OpeningRule], date: NaiveDate, is_holiday: bool) -> Option<TimeRange> {
    rules
        .iter()
        .find(|r| r.applies(date, is_holiday))
        .map(|r| r.hours)
}

/// One bookable slot (予約枠, A20) of a room, e.g. 午前 9:00〜12:00.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotDef {
    pub label: String,
    pub range: TimeRange,
}

/// The slots of a room on matching days (e.g. weekdays 3 slots, weekends hourly). First matching pattern wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotPattern {
    pub days: DaySet,
    pub season: Option<Season>,
    pub slots: Vec<SlotDef>,
}

impl SlotPattern {
    pub fn applies(&self, date: NaiveDate, is_holiday: bool) -> bool {
        self.days.matches(date, is_holiday) && season_matches(&self.season, date)
    }
}

/// Regular closed days (休館日, A03/A10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClosedRule {
    /// 毎週月曜日（祝日の場合は翌平日）: with `shift_if_holiday`, a holiday on that
    /// weekday stays open and the next 平日 (Mon–Fri, not a holiday) closes instead.
    Weekly {
        weekday: Weekday,
        shift_if_holiday: bool,
    },
    /// 第3水曜日; `n` is 1..=5 and a month without a fifth one simply has none.
    NthWeekday { n: u8, weekday: Weekday },
    /// 年末年始 12/29〜1/3.
    Annual { season: Season },
    /// 祝日.
    Holidays,
}

fn weekday_name(weekday: Weekday) -> &'static str {
    [
        "月曜日",
        "火曜日",
        "水曜日",
        "木曜日",
        "金曜日",
        "土曜日",
        "日曜日",
    ][weekday.num_days_from_monday() as usize]
}

fn is_heijitsu(date: NaiveDate, is_holiday: &impl Fn(NaiveDate) -> bool) -> bool {
    date.weekday().num_days_from_monday() < 5 && !is_holiday(date)
}

impl ClosedRule {
    pub fn label(&self) -> String {
        match self {
            ClosedRule::Weekly {
                weekday,
                shift_if_holiday: true,
            } => format!("毎週{}（祝日の場合は翌平日）", weekday_name(*weekday)),
            ClosedRule::Weekly {
                weekday,
                shift_if_holiday: false,
            } => format!("毎週{}", weekday_name(*weekday)),
            ClosedRule::NthWeekday { n, weekday } => {
                format!("第{n}{}", weekday_name(*weekday))
            }
            ClosedRule::Annual { season } => format!("毎年{}", season.label()),
            ClosedRule::Holidays => "祝日".to_string(),
        }
    }

    /// Whether this rule closes `date`. `is_holiday` must know the days before
    /// `date` too, for the shifted weekly closure.
    pub fn closes(&self, date: NaiveDate, is_holiday: &impl Fn(NaiveDate) -> bool) -> bool {
        match self {
            ClosedRule::Weekly {
                weekday,
                shift_if_holiday: false,
            } => date.weekday() == *weekday,
            ClosedRule::Weekly {
                weekday,
                shift_if_holiday: true,
            } => {
                if date.weekday() == *weekday && !is_holiday(date) {
                    return true;
                }
                if !is_heijitsu(date, is_holiday) {
                    return false;
                }
                // `date` is a 平日; it takes the closure when it is the first 平日 after
                // a holiday on the closed weekday. Walk back over the 休日 before it.
                let mut day = date;
                for _ in 0..31 {
                    let Some(prev) = day.pred_opt() else {
                        return false;
                    };
                    if prev.weekday() == *weekday && is_holiday(prev) {
                        return true;
                    }
                    if is_heijitsu(prev, is_holiday) {
                        return false;
                    }
                    day = prev;
                }
                false
            }
            ClosedRule::NthWeekday { n, weekday } => {
                date.weekday() == *weekday && (date.day() - 1) / 7 + 1 == u32::from(*n)
            }
            ClosedRule::Annual { season } => season.contains(date),
            ClosedRule::Holidays => is_holiday(date),
        }
    }
}

/// Problems in the 休館日 settings, by row.
pub fn validate_closed_rules(rules: &[ClosedRule]) -> Vec<(usize, String)> {
    let mut errors = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        match rule {
            ClosedRule::NthWeekday { n, .. } if !(1..=5).contains(n) => {
                errors.push((i, "第何週かは1〜5で指定してください。".to_string()));
            }
            ClosedRule::Annual { season } => {
                if let Err(e) = season.validate() {
                    errors.push((i, e));
                }
            }
            _ => {}
        }
        if rules[..i].contains(rule) {
            errors.push((i, format!("「{}」はすでに登録されています。", rule.label())));
        }
    }
    errors
}

/// A one-off closure (臨時休館) of the facility or room, inclusive dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closure {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub reason: String,
}

/// Times closed to general use (A25: town events, maintenance). `range: None` = the whole day. `units: None` = every unit of the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub date: NaiveDate,
    pub range: Option<TimeRange>,
    pub reason: String,
    pub units: Option<BTreeSet<i64>>,
}

impl Block {
    /// Whether this block makes `range` on `date` unusable for a booking of `units`.
    pub fn blocks(&self, date: NaiveDate, range: &TimeRange, units: &BTreeSet<i64>) -> bool {
        self.date == date
            && self.range.as_ref().is_none_or(|r| r.overlaps(range))
            && self.units.as_ref().is_none_or(|u| conflicts(u, units))
    }
}

pub struct CalendarInput<'a> {
    pub year: i32,
    pub month: u32,
    /// Must also cover the days just before the month (up to a week), so that a
    /// holiday on the last Monday of the previous month moves its 休館日 correctly.
    pub holidays: &'a BTreeMap<NaiveDate, String>,
    pub opening: &'a [OpeningRule],
    pub slot_patterns: &'a [SlotPattern],
    pub closed_rules: &'a [ClosedRule],
    pub closures: &'a [Closure],
    pub blocks: &'a [Block],
    /// the units asked about (a whole court = all its units; 片面A = {A})
    pub units: &'a BTreeSet<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarDay {
    pub date: NaiveDate,
    pub holiday: Option<String>,
    pub status: DayStatus,
    pub hours: Option<TimeRange>,
    pub slots: Vec<CalendarSlot>,
}

/// reason e.g. "休館日（毎週月曜日）", "臨時休館: 床の改修", "開館日ではありません"
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DayStatus {
    Open,
    Closed { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarSlot {
    pub label: String,
    pub range: TimeRange,
    pub state: SlotState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotState {
    Open,
    Blocked { reason: String },
}

const NOT_OPEN: &str = "開館日ではありません";

/// Why `date` is closed, if it is. 臨時休館 comes first because its reason says the
/// most; then the 休館日 rules in staff order.
fn closed_reason(input: &CalendarInput<'_>, date: NaiveDate) -> Option<String> {
    if let Some(c) = input
        .closures
        .iter()
        .find(|c| c.from <= date && date <= c.to)
    {
        let reason = c.reason.trim();
        return Some(if reason.is_empty() {
            "臨時休館".to_string()
        } else {
            format!("臨時休館: {reason}")
        });
    }
    let is_holiday = |d: NaiveDate| input.holidays.contains_key(&d);
    input
        .closed_rules
        .iter()
        .find(|r| r.closes(date, &is_holiday))
        .map(|r| format!("休館日（{}）", r.label()))
}

fn day(input: &CalendarInput<'_>, date: NaiveDate) -> CalendarDay {
    let holiday = input.holidays.get(&date).cloned();
    let is_holiday = holiday.is_some();
    let closed = |reason: String| CalendarDay {
        date,
        holiday: holiday.clone(),
        status: DayStatus::Closed { reason },
        hours: None,
        slots: Vec::new(),
    };
    if let Some(reason) = closed_reason(input, date) {
        return closed(reason);
    }
    let Some(hours) = hours_on(input.opening, date, is_holiday) else {
        return closed(NOT_OPEN.to_string());
    };
    let slots = input
        .slot_patterns
        .iter()
        .find(|p| p.applies(date, is_holiday))
        .map(|p| p.slots.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|s| s.range.is_valid() && hours.contains(&s.range))
        .map(|s| {
            let state = match input
                .blocks
                .iter()
                .find(|b| b.blocks(date, &s.range, input.units))
            {
                Some(b) if !b.reason.trim().is_empty() => SlotState::Blocked {
                    reason: b.reason.trim().to_string(),
                },
                Some(_) => SlotState::Blocked {
                    reason: "利用できません".to_string(),
                },
                None => SlotState::Open,
            };
            CalendarSlot {
                label: s.label.clone(),
                range: s.range,
                state,
            }
        })
        .collect();
    CalendarDay {
        date,
        holiday,
        status: DayStatus::Open,
        hours: Some(hours),
        slots,
    }
}

/// Every day of the month in order. Closed days carry no slots; slots outside the day's hours are dropped; a block overlapping a slot (and touching any asked unit) blocks it.
///
/// An impossible year/month gives an empty calendar.
pub fn month_calendar(input: &CalendarInput<'_>) -> Vec<CalendarDay> {
    let Some(first) = NaiveDate::from_ymd_opt(input.year, input.month, 1) else {
        return Vec::new();
    };
    first
        .iter_days()
        .take_while(|d| d.month() == input.month)
        .map(|d| day(input, d))
        .collect()
}

fn slot_name(slot: &SlotDef) -> String {
    let label = slot.label.trim();
    if label.is_empty() {
        slot.range.to_string()
    } else {
        label.to_string()
    }
}

/// Staff-input checks, each error (index, Japanese message) so the form can show it at the right row.
///
/// Checks: empty label, bad range, overlapping slots, and a slot that no opening
/// rule's hours contain (skipped while no opening rule exists yet). Without the
/// slots' days every opening rule counts; see [`validate_slot_pattern`].
pub fn validate_slots(slots: &[SlotDef], hours: &[OpeningRule]) -> Vec<(usize, String)> {
    validate_slots_on(slots, DaySet::ALL, hours)
}

/// [`validate_slots`] for a pattern: only opening rules sharing a day with it count.
pub fn validate_slot_pattern(pattern: &SlotPattern, hours: &[OpeningRule]) -> Vec<(usize, String)> {
    validate_slots_on(&pattern.slots, pattern.days, hours)
}

fn validate_slots_on(
    slots: &[SlotDef],
    days: DaySet,
    hours: &[OpeningRule],
) -> Vec<(usize, String)> {
    let mut errors = Vec::new();
    let relevant: Vec<&OpeningRule> = hours.iter().filter(|r| r.days.intersects(&days)).collect();
    for (i, slot) in slots.iter().enumerate() {
        if slot.label.trim().is_empty() {
            errors.push((i, "予約枠の名前を入力してください。".to_string()));
        }
        if !slot.range.is_valid() {
            errors.push((
                i,
                format!(
                    "「{}」の終了時刻（{}）は開始時刻（{}）より後にしてください。",
                    slot_name(slot),
                    slot.range.end,
                    slot.range.start
                ),
            ));
            continue;
        }
        if let Some(other) = slots[..i]
            .iter()
            .find(|o| o.range.is_valid() && o.range.overlaps(&slot.range))
        {
            errors.push((
                i,
                format!(
                    "「{}」の時間帯が「{}」と重なっています。",
                    slot_name(slot),
                    slot_name(other)
                ),
            ));
        }
        if !hours.is_empty() && !relevant.iter().any(|r| r.hours.contains(&slot.range)) {
            let open: Vec<String> = relevant.iter().map(|r| r.hours.to_string()).collect();
            let message = if open.is_empty() {
                format!(
                    "「{}」（{}）の曜日に開館している日がありません。",
                    slot_name(slot),
                    slot.range
                )
            } else {
                format!(
                    "「{}」（{}）が開館時間（{}）の外にあります。",
                    slot_name(slot),
                    slot.range,
                    open.join("、")
                )
            };
            errors.push((i, message));
        }
    }
    errors
}

/// Staff-input checks on opening rules: empty day set, bad hours or season, and a
/// rule that earlier rules always win over (so it would never apply).
pub fn validate_opening(rules: &[OpeningRule]) -> Vec<(usize, String)> {
    let mut errors = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        if rule.days.is_empty() {
            errors.push((i, "曜日を1つ以上選んでください。".to_string()));
        }
        if !rule.hours.is_valid() {
            errors.push((
                i,
                format!(
                    "終了時刻（{}）は開始時刻（{}）より後にしてください。",
                    rule.hours.end, rule.hours.start
                ),
            ));
        }
        if let Some(Err(e)) = rule.season.as_ref().map(Season::validate) {
            errors.push((i, e));
        }
        // Earlier rules that apply on every date this one could: all-year ones, or
        // ones with the very same season.
        let covered = rules[..i]
            .iter()
            .filter(|r| r.season.is_none() || r.season == rule.season)
            .fold(DaySet::EMPTY, |acc, r| acc.union(&r.days));
        if !rule.days.is_empty() && rule.days.is_subset(&covered) {
            errors.push((
                i,
                format!(
                    "「{}」は上の行の開館時間がすでに決めているため、この行は使われません。",
                    rule.days.label()
                ),
            ));
        }
    }
    errors
}

/// Combinations of bookable units (面) in a room, e.g. 全面 {A,B}, A面 {A}, B面 {B} (片面, A07/A08).
///
/// Refused: empty name or set; a unit not in the room; the same unit set twice; a
/// duplicate name; and a partial overlap (neither disjoint nor one containing the
/// other), since a booking of one would then block only part of the other.
pub fn validate_combinations(
    units: &BTreeSet<i64>,
    combos: &[(String, BTreeSet<i64>)],
) -> Vec<(usize, String)> {
    let mut errors = Vec::new();
    for (i, (name, set)) in combos.iter().enumerate() {
        let name = name.trim();
        if name.is_empty() {
            errors.push((i, "組み合わせの名前を入力してください。".to_string()));
        } else if combos[..i].iter().any(|(n, _)| n.trim() == name) {
            errors.push((i, format!("「{name}」という名前はすでに使われています。")));
        }
        let shown = if name.is_empty() {
            format!("{}行目の組み合わせ", i + 1)
        } else {
            format!("「{name}」")
        };
        if set.is_empty() {
            errors.push((i, format!("{shown}に面が1つも選ばれていません。")));
            continue;
        }
        let unknown: Vec<String> = set
            .iter()
            .filter(|u| !units.contains(u))
            .map(|u| u.to_string())
            .collect();
        if !unknown.is_empty() {
            errors.push((
                i,
                format!(
                    "{shown}にこの部屋にない面（番号 {}）が含まれています。",
                    unknown.join("、")
                ),
            ));
        }
        if let Some((other, _)) = combos[..i].iter().find(|(_, s)| s == set) {
            errors.push((
                i,
                format!("{shown}は「{}」と同じ面の組み合わせです。", other.trim()),
            ));
        } else if let Some((other, _)) = combos[..i]
            .iter()
            .find(|(_, s)| conflicts(s, set) && !s.is_subset(set) && !set.is_subset(s))
        {
            errors.push((
                i,
                format!(
                    "{shown}は「{}」と一部の面だけが重なっています。重ねる場合は、一方がもう一方の面をすべて含むようにしてください。",
                    other.trim()
                ),
            ));
        }
    }
    errors
}

/// Two bookings conflict exactly when their unit sets intersect (A08).
pub fn conflicts(a: &BTreeSet<i64>, b: &BTreeSet<i64>) -> bool {
    !a.is_disjoint(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Weekday::*;
    use proptest::prelude::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn r(a: &str, b: &str) -> TimeRange {
        TimeRange::parse(a, b).unwrap()
    }

    fn slot(label: &str, a: &str, b: &str) -> SlotDef {
        SlotDef {
            label: label.to_string(),
            range: r(a, b),
        }
    }

    fn units(us: &[i64]) -> BTreeSet<i64> {
        us.iter().copied().collect()
    }

    fn holidays(days: &[(i32, u32, u32)]) -> BTreeMap<NaiveDate, String> {
        days.iter()
            .map(|&(y, m, d)| (date(y, m, d), "祝日".to_string()))
            .collect()
    }

    // --- DaySet ---

    #[test]
    fn day_set_constants_and_labels() {
        assert_eq!(DaySet::ALL.label(), "毎日");
        assert_eq!(DaySet::WEEKDAYS.label(), "月〜金");
        assert_eq!(DaySet::WEEKEND_AND_HOLIDAYS.label(), "土日祝");
        assert_eq!(
            DaySet::from_codes(&["mon", "wed", "fri"]).unwrap().label(),
            "月水金"
        );
        assert_eq!(
            DaySet::from_codes(&["mon", "tue", "wed", "thu", "fri", "hol"])
                .unwrap()
                .label(),
            "月〜金・祝"
        );
        assert_eq!(DaySet::HOLIDAYS.label(), "祝日");
        assert_eq!(DaySet::from_bits(0x7F).label(), "月〜日");
        assert_eq!(DaySet::EMPTY.label(), "なし");
        assert_eq!(
            DaySet::WEEKEND_AND_HOLIDAYS.codes(),
            vec!["sat", "sun", "hol"]
        );
    }

    #[test]
    fn day_set_refuses_unknown_code() {
        assert_eq!(
            DaySet::from_codes(&["mon", "xyz"]).unwrap_err(),
            "曜日の指定「xyz」が分かりません。"
        );
    }

    #[test]
    fn holiday_matches_only_the_holiday_bit() {
        // 2026-05-05 (こどもの日) is a Tuesday.
        let d = date(2026, 5, 5);
        assert!(!DaySet::WEEKDAYS.matches(d, true));
        assert!(DaySet::WEEKDAYS.matches(d, false));
        assert!(DaySet::WEEKEND_AND_HOLIDAYS.matches(d, true));
        assert!(DaySet::HOLIDAYS.matches(d, true));
        assert!(!DaySet::weekday(Tue).matches(d, true));
    }

    // --- Season ---

    #[test]
    fn season_parse_and_label() {
        let s = Season::parse("4/1", "9/30").unwrap();
        assert_eq!(s.from, (4, 1));
        assert_eq!(s.to, (9, 30));
        assert_eq!(s.label(), "4月1日〜9月30日");
        assert_eq!(
            Season::parse("１２月２９日", "1/3").unwrap(),
            Season::new((12, 29), (1, 3)).unwrap()
        );
        assert_eq!(
            Season::parse("4/31", "5/1").unwrap_err(),
            "「4/31」は日付として正しくありません。"
        );
        assert_eq!(
            Season::parse("4-1", "5/1").unwrap_err(),
            "「4-1」は「4/1」のように月/日で入力してください。"
        );
        assert!(Season::parse("", "5/1").is_err());
        assert!(Season::new((13, 1), (1, 1)).is_err());
        assert!(Season::new((2, 29), (3, 1)).is_ok());
    }

    #[test]
    fn season_wraps_the_year_end() {
        let s = Season::parse("12/29", "1/3").unwrap();
        assert!(s.contains(date(2026, 12, 29)));
        assert!(s.contains(date(2026, 12, 31)));
        assert!(s.contains(date(2027, 1, 1)));
        assert!(s.contains(date(2027, 1, 3)));
        assert!(!s.contains(date(2027, 1, 4)));
        assert!(!s.contains(date(2026, 12, 28)));
        assert!(!s.contains(date(2026, 6, 1)));
    }

    #[test]
    fn season_handles_february_29() {
        let from_29 = Season::new((2, 29), (3, 31)).unwrap();
        assert!(from_29.contains(date(2027, 3, 1)));
        assert!(!from_29.contains(date(2027, 2, 28)));
        assert!(from_29.contains(date(2028, 2, 29)));
        let to_29 = Season::new((2, 1), (2, 29)).unwrap();
        assert!(to_29.contains(date(2027, 2, 28)));
        assert!(!to_29.contains(date(2027, 3, 1)));
        let only_29 = Season::new((2, 29), (2, 29)).unwrap();
        assert!(only_29.contains(date(2028, 2, 29)));
        assert!(
            date(2027, 1, 1)
                .iter_days()
                .take(365)
                .all(|d| !only_29.contains(d))
        );
    }

    // --- ClosedRule ---

    #[test]
    fn closed_rule_labels() {
        assert_eq!(
            ClosedRule::Weekly {
                weekday: Mon,
                shift_if_holiday: true
            }
            .label(),
            "毎週月曜日（祝日の場合は翌平日）"
        );
        assert_eq!(
            ClosedRule::Weekly {
                weekday: Mon,
                shift_if_holiday: false
            }
            .label(),
            "毎週月曜日"
        );
        assert_eq!(
            ClosedRule::NthWeekday { n: 3, weekday: Wed }.label(),
            "第3水曜日"
        );
        assert_eq!(
            ClosedRule::Annual {
                season: Season::parse("12/29", "1/3").unwrap()
            }
            .label(),
            "毎年12月29日〜1月3日"
        );
        assert_eq!(ClosedRule::Holidays.label(), "祝日");
    }

    #[test]
    fn weekly_shift_closes_the_next_non_holiday_weekday() {
        let rule = ClosedRule::Weekly {
            weekday: Mon,
            shift_if_holiday: true,
        };
        // 2026-09-21 敬老の日 (Mon), 09-22 国民の休日 (Tue), 09-23 秋分の日 (Wed).
        let hol = holidays(&[(2026, 9, 21), (2026, 9, 22), (2026, 9, 23)]);
        let is_hol = |d: NaiveDate| hol.contains_key(&d);
        assert!(!rule.closes(date(2026, 9, 21), &is_hol));
        assert!(!rule.closes(date(2026, 9, 22), &is_hol));
        assert!(!rule.closes(date(2026, 9, 23), &is_hol));
        assert!(rule.closes(date(2026, 9, 24), &is_hol));
        assert!(!rule.closes(date(2026, 9, 25), &is_hol));
        assert!(rule.closes(date(2026, 9, 14), &is_hol));
        assert!(rule.closes(date(2026, 9, 28), &is_hol));
        // Without the shift a holiday Monday is closed and Tuesday is not moved.
        let plain = ClosedRule::Weekly {
            weekday: Mon,
            shift_if_holiday: false,
        };
        assert!(plain.closes(date(2026, 9, 21), &is_hol));
        assert!(!plain.closes(date(2026, 9, 24), &is_hol));
    }

    #[test]
    fn weekly_shift_skips_the_weekend() {
        // A Friday closure on a holiday moves to Monday.
        let rule = ClosedRule::Weekly {
            weekday: Fri,
            shift_if_holiday: true,
        };
        // 2026-01-02 is a Friday; treat it as a holiday for this test.
        let hol = holidays(&[(2026, 1, 2)]);
        let is_hol = |d: NaiveDate| hol.contains_key(&d);
        assert!(!rule.closes(date(2026, 1, 2), &is_hol));
        assert!(!rule.closes(date(2026, 1, 3), &is_hol));
        assert!(!rule.closes(date(2026, 1, 4), &is_hol));
        assert!(rule.closes(date(2026, 1, 5), &is_hol));
        assert!(!rule.closes(date(2026, 1, 6), &is_hol));
    }

    #[test]
    fn nth_weekday() {
        let rule = ClosedRule::NthWeekday { n: 3, weekday: Wed };
        let no_hol = |_: NaiveDate| false;
        // Wednesdays of 2026-07: 1, 8, 15, 22, 29.
        let closed: Vec<u32> = date(2026, 7, 1)
            .iter_days()
            .take(31)
            .filter(|d| rule.closes(*d, &no_hol))
            .map(|d| d.day())
            .collect();
        assert_eq!(closed, vec![15]);
        let fifth = ClosedRule::NthWeekday { n: 5, weekday: Wed };
        assert!(fifth.closes(date(2026, 7, 29), &no_hol));
        assert!(
            date(2026, 8, 1)
                .iter_days()
                .take(31)
                .all(|d| !fifth.closes(d, &no_hol))
        );
    }

    #[test]
    fn annual_and_holiday_rules() {
        let hol = holidays(&[(2027, 1, 11)]);
        let is_hol = |d: NaiveDate| hol.contains_key(&d);
        let annual = ClosedRule::Annual {
            season: Season::parse("12/29", "1/3").unwrap(),
        };
        assert!(annual.closes(date(2026, 12, 30), &is_hol));
        assert!(annual.closes(date(2027, 1, 2), &is_hol));
        assert!(!annual.closes(date(2027, 1, 4), &is_hol));
        assert!(ClosedRule::Holidays.closes(date(2027, 1, 11), &is_hol));
        assert!(!ClosedRule::Holidays.closes(date(2027, 1, 12), &is_hol));
    }

    #[test]
    fn closed_rule_validation() {
        let errors = validate_closed_rules(&[
            ClosedRule::NthWeekday { n: 0, weekday: Wed },
            ClosedRule::Holidays,
            ClosedRule::Holidays,
        ]);
        assert_eq!(
            errors,
            vec![
                (0, "第何週かは1〜5で指定してください。".to_string()),
                (2, "「祝日」はすでに登録されています。".to_string()),
            ]
        );
    }

    // --- The realistic example: a town gym ---

    struct Gym {
        opening: Vec<OpeningRule>,
        patterns: Vec<SlotPattern>,
        closed: Vec<ClosedRule>,
    }

    /// Weekdays 9:00〜12:00 / 13:00〜17:00 / 18:00〜21:00, weekends and holidays
    /// hourly 9:00〜21:00, closed Mondays (next 平日 if a holiday) and 12/29〜1/3.
    fn gym() -> Gym {
        let hourly = (9..21)
            .map(|h| {
                slot(
                    &format!("{h}時"),
                    &format!("{h}:00"),
                    &format!("{}:00", h + 1),
                )
            })
            .collect();
        Gym {
            opening: vec![OpeningRule {
                days: DaySet::ALL,
                season: None,
                hours: r("9:00", "21:00"),
            }],
            patterns: vec![
                SlotPattern {
                    days: DaySet::WEEKDAYS,
                    season: None,
                    slots: vec![
                        slot("午前", "9:00", "12:00"),
                        slot("午後", "13:00", "17:00"),
                        slot("夜間", "18:00", "21:00"),
                    ],
                },
                SlotPattern {
                    days: DaySet::WEEKEND_AND_HOLIDAYS,
                    season: None,
                    slots: hourly,
                },
            ],
            closed: vec![
                ClosedRule::Weekly {
                    weekday: Mon,
                    shift_if_holiday: true,
                },
                ClosedRule::Annual {
                    season: Season::parse("12/29", "1/3").unwrap(),
                },
            ],
        }
    }

    fn gym_month(
        g: &Gym,
        year: i32,
        month: u32,
        hol: &BTreeMap<NaiveDate, String>,
        closures: &[Closure],
        blocks: &[Block],
        asked: &BTreeSet<i64>,
    ) -> Vec<CalendarDay> {
        month_calendar(&CalendarInput {
            year,
            month,
            holidays: hol,
            opening: &g.opening,
            slot_patterns: &g.patterns,
            closed_rules: &g.closed,
            closures,
            blocks,
            units: asked,
        })
    }

    fn status_of(days: &[CalendarDay], d: u32) -> &DayStatus {
        &days[d as usize - 1].status
    }

    #[test]
    fn gym_january() {
        let g = gym();
        // 2027-01-01 元日 (Fri), 2027-01-11 成人の日 (Mon).
        let mut hol = holidays(&[(2027, 1, 11)]);
        hol.insert(date(2027, 1, 1), "元日".to_string());
        let days = gym_month(&g, 2027, 1, &hol, &[], &[], &units(&[1, 2]));
        assert_eq!(days.len(), 31);
        assert_eq!(days[0].holiday.as_deref(), Some("元日"));
        for d in 1..=3 {
            assert_eq!(
                status_of(&days, d),
                &DayStatus::Closed {
                    reason: "休館日（毎年12月29日〜1月3日）".to_string()
                }
            );
        }
        // 1/4 is a Monday.
        assert_eq!(
            status_of(&days, 4),
            &DayStatus::Closed {
                reason: "休館日（毎週月曜日（祝日の場合は翌平日））".to_string()
            }
        );
        // 1/5 Tue: three weekday slots.
        let tue = &days[4];
        assert_eq!(tue.status, DayStatus::Open);
        assert_eq!(tue.hours, Some(r("9:00", "21:00")));
        let labels: Vec<&str> = tue.slots.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, vec!["午前", "午後", "夜間"]);
        // 1/9 Sat: hourly.
        assert_eq!(days[8].slots.len(), 12);
        // 1/11 成人の日 is open with hourly slots; 1/12 closes instead.
        assert_eq!(days[10].status, DayStatus::Open);
        assert_eq!(days[10].slots.len(), 12);
        assert!(matches!(status_of(&days, 12), DayStatus::Closed { .. }));
        assert_eq!(days[12].status, DayStatus::Open);
    }

    #[test]
    fn shift_looks_into_the_previous_month() {
        let g = gym();
        // Pretend 2026-08-31 (Mon) is a holiday: 9/1 (Tue) closes.
        let hol = holidays(&[(2026, 8, 31)]);
        let days = gym_month(&g, 2026, 9, &hol, &[], &[], &units(&[1]));
        assert!(matches!(status_of(&days, 1), DayStatus::Closed { .. }));
        assert_eq!(days[1].status, DayStatus::Open);
    }

    #[test]
    fn closures_and_unopened_days() {
        let g = gym();
        let hol = BTreeMap::new();
        let closures = [Closure {
            from: date(2026, 6, 9),
            to: date(2026, 6, 10),
            reason: "床の改修".to_string(),
        }];
        let days = gym_month(&g, 2026, 6, &hol, &closures, &[], &units(&[1]));
        assert_eq!(
            status_of(&days, 9),
            &DayStatus::Closed {
                reason: "臨時休館: 床の改修".to_string()
            }
        );
        assert!(days[8].slots.is_empty() && days[8].hours.is_none());
        assert_eq!(status_of(&days, 11), &DayStatus::Open);

        // Open only in summer: other days are "not open".
        let summer = [OpeningRule {
            days: DaySet::ALL,
            season: Some(Season::parse("7/1", "8/31").unwrap()),
            hours: r("9:00", "17:00"),
        }];
        let days = month_calendar(&CalendarInput {
            year: 2026,
            month: 6,
            holidays: &hol,
            opening: &summer,
            slot_patterns: &g.patterns,
            closed_rules: &[],
            closures: &[],
            blocks: &[],
            units: &units(&[1]),
        });
        assert!(days.iter().all(|d| d.status
            == DayStatus::Closed {
                reason: "開館日ではありません".to_string()
            }));
    }

    #[test]
    fn slots_outside_hours_are_dropped() {
        let g = gym();
        let hol = BTreeMap::new();
        let short = [OpeningRule {
            days: DaySet::ALL,
            season: None,
            hours: r("9:00", "17:00"),
        }];
        let days = month_calendar(&CalendarInput {
            year: 2026,
            month: 6,
            holidays: &hol,
            opening: &short,
            slot_patterns: &g.patterns,
            closed_rules: &g.closed,
            closures: &[],
            blocks: &[],
            units: &units(&[1]),
        });
        // 2026-06-02 is a Tuesday: 夜間 is gone.
        let labels: Vec<&str> = days[1].slots.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, vec!["午前", "午後"]);
        // 2026-06-06 is a Saturday: 9時..16時.
        assert_eq!(days[5].slots.len(), 8);
    }

    #[test]
    fn blocks_respect_units() {
        let g = gym();
        let hol = BTreeMap::new();
        const A: i64 = 1;
        const B: i64 = 2;
        // 2026-06-02 (Tue) afternoon: town event on side A only.
        let blocks = [Block {
            date: date(2026, 6, 2),
            range: Some(r("14:00", "15:00")),
            reason: "町民体育祭の準備".to_string(),
            units: Some(units(&[A])),
        }];
        let state = |asked: &[i64], label: &str| {
            let days = gym_month(&g, 2026, 6, &hol, &[], &blocks, &units(asked));
            days[1]
                .slots
                .iter()
                .find(|s| s.label == label)
                .unwrap()
                .state
                .clone()
        };
        let blocked = SlotState::Blocked {
            reason: "町民体育祭の準備".to_string(),
        };
        assert_eq!(state(&[B], "午後"), SlotState::Open);
        assert_eq!(state(&[A], "午後"), blocked);
        assert_eq!(state(&[A, B], "午後"), blocked);
        assert_eq!(state(&[A, B], "午前"), SlotState::Open);

        // A whole-day block for every unit blocks all slots but the day stays open.
        let all_day = [Block {
            date: date(2026, 6, 2),
            range: None,
            reason: String::new(),
            units: None,
        }];
        let days = gym_month(&g, 2026, 6, &hol, &[], &all_day, &units(&[B]));
        assert_eq!(days[1].status, DayStatus::Open);
        assert!(days[1].slots.iter().all(|s| s.state
            == SlotState::Blocked {
                reason: "利用できません".to_string()
            }));
        assert!(days[2].slots.iter().all(|s| s.state == SlotState::Open));
    }

    #[test]
    fn impossible_month_gives_nothing() {
        let g = gym();
        let hol = BTreeMap::new();
        assert!(gym_month(&g, 2026, 13, &hol, &[], &[], &units(&[1])).is_empty());
        assert!(gym_month(&g, 2026, 0, &hol, &[], &[], &units(&[1])).is_empty());
    }

    // --- Validation ---

    #[test]
    fn validate_slots_refuses_overlaps_and_outside_hours() {
        let g = gym();
        assert!(validate_slots(&g.patterns[0].slots, &g.opening).is_empty());
        let errors = validate_slots(
            &[
                slot("午前", "9:00", "12:00"),
                slot("午後", "11:00", "17:00"),
                slot("", "17:00", "18:00"),
                slot("深夜", "21:00", "22:00"),
            ],
            &g.opening,
        );
        assert_eq!(
            errors,
            vec![
                (
                    1,
                    "「午後」の時間帯が「午前」と重なっています。".to_string()
                ),
                (2, "予約枠の名前を入力してください。".to_string()),
                (
                    3,
                    "「深夜」（21:00〜22:00）が開館時間（9:00〜21:00）の外にあります。".to_string()
                ),
            ]
        );
        // Touching slots are fine.
        assert!(
            validate_slots(
                &[slot("1", "9:00", "10:00"), slot("2", "10:00", "11:00")],
                &g.opening
            )
            .is_empty()
        );
    }

    #[test]
    fn validate_slot_pattern_uses_only_rules_sharing_a_day() {
        let opening = [
            OpeningRule {
                days: DaySet::WEEKDAYS,
                season: None,
                hours: r("9:00", "21:00"),
            },
            OpeningRule {
                days: DaySet::WEEKEND_AND_HOLIDAYS,
                season: None,
                hours: r("9:00", "17:00"),
            },
        ];
        let pattern = SlotPattern {
            days: DaySet::WEEKEND_AND_HOLIDAYS,
            season: None,
            slots: vec![slot("夜間", "18:00", "21:00")],
        };
        assert_eq!(
            validate_slot_pattern(&pattern, &opening),
            vec![(
                0,
                "「夜間」（18:00〜21:00）が開館時間（9:00〜17:00）の外にあります。".to_string()
            )]
        );
        assert!(validate_slots(&pattern.slots, &opening).is_empty());
    }

    #[test]
    fn validate_opening_rules() {
        let errors = validate_opening(&[
            OpeningRule {
                days: DaySet::ALL,
                season: None,
                hours: r("9:00", "21:00"),
            },
            OpeningRule {
                days: DaySet::WEEKDAYS,
                season: Some(Season::parse("7/1", "8/31").unwrap()),
                hours: r("9:00", "22:00"),
            },
            OpeningRule {
                days: DaySet::EMPTY,
                season: None,
                hours: r("9:00", "21:00"),
            },
        ]);
        assert_eq!(
            errors,
            vec![
                (
                    1,
                    "「月〜金」は上の行の開館時間がすでに決めているため、この行は使われません。"
                        .to_string()
                ),
                (2, "曜日を1つ以上選んでください。".to_string()),
            ]
        );
        // The summer rule first is the right order.
        assert!(
            validate_opening(&[
                OpeningRule {
                    days: DaySet::WEEKDAYS,
                    season: Some(Season::parse("7/1", "8/31").unwrap()),
                    hours: r("9:00", "22:00"),
                },
                OpeningRule {
                    days: DaySet::ALL,
                    season: None,
                    hours: r("9:00", "21:00"),
                },
            ])
            .is_empty()
        );
    }

    fn combo(name: &str, us: &[i64]) -> (String, BTreeSet<i64>) {
        (name.to_string(), units(us))
    }

    #[test]
    fn combinations_accept_full_and_halves() {
        let room = units(&[1, 2]);
        let combos = [
            combo("全面", &[1, 2]),
            combo("A面", &[1]),
            combo("B面", &[2]),
        ];
        assert!(validate_combinations(&room, &combos).is_empty());
    }

    #[test]
    fn combinations_refuse_partial_overlap_and_duplicates() {
        let room = units(&[1, 2, 3]);
        let errors = validate_combinations(
            &room,
            &[
                combo("AB", &[1, 2]),
                combo("BC", &[2, 3]),
                combo("AB", &[3]),
                combo("全面", &[1, 2]),
                combo("空", &[]),
                combo("D", &[9]),
                combo("", &[3]),
            ],
        );
        assert_eq!(
            errors,
            vec![
                (
                    1,
                    "「BC」は「AB」と一部の面だけが重なっています。重ねる場合は、一方がもう一方の面をすべて含むようにしてください。"
                        .to_string()
                ),
                (2, "「AB」という名前はすでに使われています。".to_string()),
                (3, "「全面」は「AB」と同じ面の組み合わせです。".to_string()),
                (4, "「空」に面が1つも選ばれていません。".to_string()),
                (5, "「D」にこの部屋にない面（番号 9）が含まれています。".to_string()),
                (6, "組み合わせの名前を入力してください。".to_string()),
                (6, "7行目の組み合わせは「AB」と同じ面の組み合わせです。".to_string()),
            ]
        );
    }

    #[test]
    fn full_court_conflicts_with_each_half() {
        let full = units(&[1, 2]);
        let a = units(&[1]);
        let b = units(&[2]);
        assert!(conflicts(&full, &a));
        assert!(conflicts(&full, &b));
        assert!(conflicts(&a, &full));
        assert!(!conflicts(&a, &b));
        assert!(conflicts(&a, &a));
    }

    // --- Properties ---

    fn any_weekday() -> impl Strategy<Value = Weekday> {
        (0u8..7).prop_map(|i| Weekday::try_from(i).unwrap())
    }

    fn any_season() -> impl Strategy<Value = Season> {
        let md = (1u32..=12, 1u32..=31)
            .prop_filter_map("valid date", |md| valid_month_day(md).then_some(md));
        (md.clone(), md).prop_map(|(from, to)| Season { from, to })
    }

    fn any_closed_rule() -> impl Strategy<Value = ClosedRule> {
        prop_oneof![
            (any_weekday(), any::<bool>()).prop_map(|(weekday, shift_if_holiday)| {
                ClosedRule::Weekly {
                    weekday,
                    shift_if_holiday,
                }
            }),
            (1u8..=5, any_weekday()).prop_map(|(n, weekday)| ClosedRule::NthWeekday { n, weekday }),
            any_season().prop_map(|season| ClosedRule::Annual { season }),
            Just(ClosedRule::Holidays),
        ]
    }

    fn any_range() -> impl Strategy<Value = TimeRange> {
        (0u16..24, 1u16..6).prop_map(|(h, len)| {
            let start = h * 60;
            let end = (start + len * 60).min(1440);
            TimeRange {
                start: crate::time_of_day::TimeOfDay::from_minutes(start).unwrap(),
                end: crate::time_of_day::TimeOfDay::from_minutes(end).unwrap(),
            }
        })
    }

    fn any_unit_set() -> impl Strategy<Value = BTreeSet<i64>> {
        proptest::collection::btree_set(1i64..4, 0..3)
    }

    proptest! {
        #[test]
        fn holiday_matches_exactly_the_holiday_bit(bits: u8, offset in 0u64..3000) {
            let d = date(2024, 1, 1) + chrono::Days::new(offset);
            let set = DaySet::from_bits(bits);
            prop_assert_eq!(set.matches(d, true), bits & 0x80 != 0);
            let weekday_bit = 1u8 << d.weekday().num_days_from_monday();
            prop_assert_eq!(set.matches(d, false), bits & weekday_bit != 0);
        }

        #[test]
        fn codes_round_trip(bits: u8) {
            let set = DaySet::from_bits(bits);
            prop_assert_eq!(DaySet::from_codes(&set.codes()), Ok(set));
            prop_assert_eq!(set.bits(), bits);
            prop_assert_eq!(set.is_empty(), set.label() == "なし");
        }

        #[test]
        fn season_and_its_complement_partition_the_year(s in any_season(), offset in 0u64..1500) {
            let d = date(2025, 1, 1) + chrono::Days::new(offset);
            let md = (d.month(), d.day());
            let expected = if s.from <= s.to {
                s.from <= md && md <= s.to
            } else {
                !(s.to < md && md < s.from)
            };
            prop_assert_eq!(s.contains(d), expected);
        }

        #[test]
        fn month_calendar_invariants(
            year in 2024i32..2030,
            month in 1u32..=12,
            hol_days in proptest::collection::btree_set(1u32..=28, 0..4),
            closed in proptest::collection::vec(any_closed_rule(), 0..3),
            asked in any_unit_set(),
            block_seed in proptest::collection::vec((1u32..=28, proptest::option::of(any_range()), proptest::option::of(any_unit_set())), 0..6),
        ) {
            let g = gym();
            let hol: BTreeMap<NaiveDate, String> = hol_days
                .iter()
                .map(|&d| (date(year, month, d), "祝日".to_string()))
                .collect();
            let blocks: Vec<Block> = block_seed
                .into_iter()
                .map(|(d, range, units)| Block { date: date(year, month, d), range, reason: "行事".to_string(), units })
                .collect();
            let days = month_calendar(&CalendarInput {
                year,
                month,
                holidays: &hol,
                opening: &g.opening,
                slot_patterns: &g.patterns,
                closed_rules: &closed,
                closures: &[],
                blocks: &blocks,
                units: &asked,
            });
            // Every day once, in order.
            let expected: Vec<NaiveDate> = date(year, month, 1)
                .iter_days()
                .take_while(|d| d.month() == month)
                .collect();
            let got: Vec<NaiveDate> = days.iter().map(|d| d.date).collect();
            prop_assert_eq!(got, expected);
            let is_hol = |d: NaiveDate| hol.contains_key(&d);
            for day in &days {
                prop_assert_eq!(day.holiday.is_some(), hol.contains_key(&day.date));
                let rule_closed = closed.iter().any(|r| r.closes(day.date, &is_hol));
                match &day.status {
                    DayStatus::Closed { .. } => {
                        // A closed day offers no slot at all.
                        prop_assert!(day.slots.is_empty());
                        prop_assert!(day.hours.is_none());
                        prop_assert!(rule_closed);
                    }
                    DayStatus::Open => {
                        prop_assert!(!rule_closed);
                        let hours = day.hours.unwrap();
                        for s in &day.slots {
                            prop_assert!(hours.contains(&s.range));
                            let should_block = blocks.iter().any(|b| {
                                b.date == day.date
                                    && b.range.is_none_or(|r| r.overlaps(&s.range))
                                    && b.units.as_ref().is_none_or(|u| !u.is_disjoint(&asked))
                            });
                            prop_assert_eq!(matches!(s.state, SlotState::Blocked { .. }), should_block);
                        }
                    }
                }
            }
        }

        #[test]
        fn conflicts_is_symmetric(a in any_unit_set(), b in any_unit_set()) {
            prop_assert_eq!(conflicts(&a, &b), conflicts(&b, &a));
            prop_assert_eq!(conflicts(&a, &b), a.iter().any(|u| b.contains(u)));
        }

        #[test]
        fn accepted_combinations_nest_or_are_disjoint(
            combos in proptest::collection::vec(any_unit_set(), 0..5)
        ) {
            let room = units(&[1, 2, 3]);
            let named: Vec<(String, BTreeSet<i64>)> = combos
                .iter()
                .enumerate()
                .map(|(i, s)| (format!("組{i}"), s.clone()))
                .collect();
            if validate_combinations(&room, &named).is_empty() {
                for (i, a) in combos.iter().enumerate() {
                    prop_assert!(!a.is_empty());
                    for b in &combos[..i] {
                        prop_assert!(a != b);
                        prop_assert!(a.is_disjoint(b) || a.is_subset(b) || b.is_subset(a));
                    }
                }
            }
        }

        /// A combination occupies exactly the union of its units, so booking a
        /// whole court conflicts with everything any of its parts conflicts
        /// with, and with each part itself (A07, A08).
        #[test]
        fn a_whole_conflicts_with_everything_its_parts_conflict_with(
            combos in proptest::collection::vec(any_unit_set(), 1..6)
        ) {
            let room = units(&[1, 2, 3]);
            let named: Vec<(String, BTreeSet<i64>)> = combos
                .iter()
                .enumerate()
                .map(|(i, s)| (format!("組{i}"), s.clone()))
                .collect();
            prop_assume!(validate_combinations(&room, &named).is_empty());
            let conflicts = |a: &BTreeSet<i64>, b: &BTreeSet<i64>| !a.is_disjoint(b);
            for whole in &combos {
                let parts: Vec<&BTreeSet<i64>> =
                    combos.iter().filter(|p| p.is_subset(whole) && *p != whole).collect();
                let union: BTreeSet<i64> = parts.iter().flat_map(|p| p.iter().copied()).collect();
                prop_assert!(union.is_subset(whole));
                for part in &parts {
                    prop_assert!(conflicts(whole, part));
                    for other in &combos {
                        if conflicts(part, other) {
                            prop_assert!(conflicts(whole, other));
                        }
                    }
                }
            }
        }
    }
}
