//! Delivery schedules (M13): once at a date and time, or recurring every week on
//! chosen weekdays, every month on chosen days (1日〜31日, 末日), or every month on
//! the nth weekday (第1〜第4, 最終), each recurring rule from a start date to an
//! optional end date.
//!
//! All dates and times here are Japan time (JST has no daylight saving, so a
//! naive local date-time is unambiguous); [`Schedule::next_after_utc`] converts
//! at the edge. Delivery times are on a 5-minute step: the delivery job wakes
//! on that step, and staff never mean 9:03.
//!
//! A monthly rule on day 29, 30 or 31 does not fire in a month without that
//! day: "毎月31日" skips April. Moving it to the month end instead would send
//! a message on a day staff never chose; 末日 exists for "the last day".

use std::fmt;

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, Utc, Weekday};

use crate::datetime::{JST, format_date, format_date_plain, is_last_day_of_month};
use crate::time_of_day::{TimeOfDay, normalize_input};

/// Minutes between possible delivery times.
pub const TIME_STEP_MINUTES: u16 = 5;
/// Years a schedule may use: earlier or later ones are typing mistakes.
pub const SCHEDULE_YEARS: std::ops::RangeInclusive<i32> = 2000..=2099;
/// Every valid recurring rule fires at least once in 62 days (毎月31日: 8/31 →
/// 10/31); the search for the next occurrence stops well after that.
const SEARCH_DAYS: u32 = 400;

const WEEKDAY_NAMES: [&str; 7] = ["月", "火", "水", "木", "金", "土", "日"];

const OUT_OF_RANGE: &str = "配信時刻は0:00〜23:55の範囲で指定してください。";

/// A time of day on the 5-minute step, 0:00〜23:55.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SendTime(u16);

impl SendTime {
    /// "9:00", "09:05", full-width digits too.
    pub fn parse(input: &str) -> Result<Self, String> {
        match TimeOfDay::parse(input) {
            Ok(time) => Self::from_minutes(time.minutes()),
            Err(message) => {
                // A well-formed "25:00" fails as out of range: say which range
                // a delivery time has, not a facility's 0:00〜24:00.
                let text = normalize_input(input);
                let well_formed = text.split_once(':').is_some_and(|(h, m)| {
                    (1..=2).contains(&h.len())
                        && m.len() == 2
                        && h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit())
                });
                if well_formed {
                    Err(OUT_OF_RANGE.to_owned())
                } else {
                    Err(message)
                }
            }
        }
    }

    pub fn from_minutes(minutes: u16) -> Result<Self, String> {
        if minutes >= 24 * 60 {
            return Err(OUT_OF_RANGE.to_owned());
        }
        if !minutes.is_multiple_of(TIME_STEP_MINUTES) {
            return Err("配信時刻は5分単位で指定してください（例: 9:00、9:05）。".to_owned());
        }
        Ok(Self(minutes))
    }

    pub fn minutes(self) -> u16 {
        self.0
    }

    pub fn naive_time(self) -> NaiveTime {
        NaiveTime::from_hms_opt(u32::from(self.0 / 60), u32::from(self.0 % 60), 0)
            .unwrap_or(NaiveTime::MIN)
    }
}

impl fmt::Display for SendTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// Splits "月・木", "月,木", "1、15" and the like; empty items are ignored.
fn split_list(input: &str) -> impl Iterator<Item = &str> {
    input
        .split(['・', ',', '、', '，', '/', '／', ' ', '　', '\t'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// A set of weekdays, Monday = bit 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct WeekdaySet(u8);

impl WeekdaySet {
    pub const EMPTY: WeekdaySet = WeekdaySet(0);

    pub fn from_bits(bits: u8) -> Self {
        Self(bits & 0x7F)
    }

    pub fn bits(self) -> u8 {
        self.0
    }

    pub fn with(self, weekday: Weekday) -> Self {
        Self(self.0 | 1 << weekday.num_days_from_monday())
    }

    pub fn contains(self, weekday: Weekday) -> bool {
        self.0 & 1 << weekday.num_days_from_monday() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// "月・木", "月,木", "月曜日、木曜日".
    pub fn parse(input: &str) -> Result<Self, String> {
        let mut set = Self::EMPTY;
        for item in split_list(input) {
            let name = item
                .strip_suffix("曜日")
                .or_else(|| item.strip_suffix('曜'))
                .unwrap_or(item);
            let index = WEEKDAY_NAMES
                .iter()
                .position(|n| *n == name)
                .ok_or_else(|| {
                    format!("曜日「{item}」が分かりません。「月・木」のように書いてください。")
                })?;
            set.0 |= 1 << index;
        }
        if set.is_empty() {
            return Err("曜日を1つ以上指定してください。".to_owned());
        }
        Ok(set)
    }

    /// "月・木".
    pub fn label(self) -> String {
        WEEKDAY_NAMES
            .iter()
            .enumerate()
            .filter(|(i, _)| self.0 & 1 << i != 0)
            .map(|(_, n)| *n)
            .collect::<Vec<_>>()
            .join("・")
    }
}

/// Days of the month: bits 1..=31 are those days, bit 0 is 末日 (the last day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MonthDaySet(u32);

impl MonthDaySet {
    pub const EMPTY: MonthDaySet = MonthDaySet(0);

    pub fn from_bits(bits: u32) -> Self {
        Self(bits)
    }

    pub fn bits(self) -> u32 {
        self.0
    }

    /// Adds day 1..=31; `None` for any other number.
    pub fn with_day(self, day: u32) -> Option<Self> {
        (1..=31).contains(&day).then(|| Self(self.0 | 1 << day))
    }

    pub fn with_last_day(self) -> Self {
        Self(self.0 | 1)
    }

    pub fn has_day(self, day: u32) -> bool {
        day <= 31 && self.0 & 1 << day != 0
    }

    pub fn has_last_day(self) -> bool {
        self.0 & 1 != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn matches(self, date: NaiveDate) -> bool {
        self.has_day(date.day()) || (self.has_last_day() && is_last_day_of_month(date))
    }

    /// "1", "1・15", "15日", "末日".
    pub fn parse(input: &str) -> Result<Self, String> {
        let mut set = Self::EMPTY;
        for item in split_list(input) {
            if item == "末日" || item == "末" {
                set = set.with_last_day();
                continue;
            }
            let text = normalize_input(item);
            let digits = text.strip_suffix('日').unwrap_or(&text);
            let unknown =
                || format!("日「{item}」が分かりません。1〜31 か 末日 で書いてください。");
            if digits.is_empty() || digits.len() > 2 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(unknown());
            }
            let day: u32 = digits.parse().map_err(|_| unknown())?;
            set = set
                .with_day(day)
                .ok_or_else(|| "日は1〜31 か 末日 で指定してください。".to_owned())?;
        }
        if set.is_empty() {
            return Err("日を1つ以上指定してください。".to_owned());
        }
        Ok(set)
    }

    /// The chosen days from 29 on, which some months lack.
    pub fn days_missing_in_some_months(self) -> Vec<u32> {
        (29..=31).filter(|d| self.has_day(*d)).collect()
    }

    /// "1日・15日・末日".
    pub fn label(self) -> String {
        let mut parts: Vec<String> = (1..=31)
            .filter(|d| self.has_day(*d))
            .map(|d| format!("{d}日"))
            .collect();
        if self.has_last_day() {
            parts.push("末日".to_owned());
        }
        parts.join("・")
    }
}

/// Which occurrences of a weekday in the month: bits 0..=3 are 第1〜第4,
/// bit 4 is 最終 (the last, which is also the 4th or 5th).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NthSet(u8);

impl NthSet {
    pub const EMPTY: NthSet = NthSet(0);
    const LAST: u8 = 1 << 4;

    pub fn from_bits(bits: u8) -> Self {
        Self(bits & 0x1F)
    }

    pub fn bits(self) -> u8 {
        self.0
    }

    /// Adds 第n for n in 1..=4; `None` otherwise.
    pub fn with_nth(self, n: u32) -> Option<Self> {
        (1..=4).contains(&n).then(|| Self(self.0 | 1 << (n - 1)))
    }

    pub fn with_last(self) -> Self {
        Self(self.0 | Self::LAST)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether the date's weekday occurrence within its month is chosen.
    pub fn matches(self, date: NaiveDate) -> bool {
        let nth = (date.day() - 1) / 7; // 0-based occurrence
        let is_last = date.day() + 7 > u32::from(date.num_days_in_month());
        (nth < 4 && self.0 & 1 << nth != 0) || (is_last && self.0 & Self::LAST != 0)
    }

    /// "1", "第1", "第1週", "1・3", "最終".
    pub fn parse(input: &str) -> Result<Self, String> {
        let mut set = Self::EMPTY;
        for item in split_list(input) {
            let text = normalize_input(item);
            let text = text.strip_prefix('第').unwrap_or(&text);
            let text = text.strip_suffix('週').unwrap_or(text);
            if text == "最終" {
                set = set.with_last();
                continue;
            }
            let n: u32 = text.parse().map_err(|_| {
                format!("第n週「{item}」が分かりません。1〜4 か 最終 で書いてください。")
            })?;
            set = set.with_nth(n).ok_or_else(|| {
                "第n週は1〜4 か 最終 で指定してください（第5週は「最終」を使ってください）。"
                    .to_owned()
            })?;
        }
        if set.is_empty() {
            return Err("第何週かを1つ以上指定してください。".to_owned());
        }
        Ok(set)
    }

    /// "第1・第3", "最終".
    pub fn label(self) -> String {
        let mut parts: Vec<String> = (0..4)
            .filter(|i| self.0 & 1 << i != 0)
            .map(|i| format!("第{}", i + 1))
            .collect();
        if self.0 & Self::LAST != 0 {
            parts.push("最終".to_owned());
        }
        parts.join("・")
    }
}

/// Which days a schedule fires on, before its period limits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pattern {
    /// On its start date only.
    Once,
    Weekly(WeekdaySet),
    /// On these days of the month; a month without day 29-31 is skipped for it.
    MonthlyDays(MonthDaySet),
    /// On these weekdays in these weeks (第1 = days 1-7, …, 最終 = the last 7 days).
    MonthlyWeekdays {
        nths: NthSet,
        weekdays: WeekdaySet,
    },
}

impl Pattern {
    /// The code stored in the database.
    pub fn code(&self) -> &'static str {
        match self {
            Pattern::Once => "once",
            Pattern::Weekly(_) => "weekly",
            Pattern::MonthlyDays(_) => "monthly_days",
            Pattern::MonthlyWeekdays { .. } => "monthly_weekdays",
        }
    }

    fn matches(&self, date: NaiveDate) -> bool {
        match self {
            Pattern::Once => true,
            Pattern::Weekly(weekdays) => weekdays.contains(date.weekday()),
            Pattern::MonthlyDays(days) => days.matches(date),
            Pattern::MonthlyWeekdays { nths, weekdays } => {
                weekdays.contains(date.weekday()) && nths.matches(date)
            }
        }
    }
}

/// When a delivery goes out, checked: a recurring rule has at least one day
/// chosen, ends on or after its start, and fires at least once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Schedule {
    pattern: Pattern,
    time: SendTime,
    start: NaiveDate,
    /// Inclusive. A one-time schedule ends on its start date.
    end: Option<NaiveDate>,
}

/// Whether a date typed for a schedule is in [`SCHEDULE_YEARS`].
pub fn check_year(date: NaiveDate) -> Result<(), String> {
    if SCHEDULE_YEARS.contains(&date.year()) {
        Ok(())
    } else {
        Err(format!(
            "日付（{}）は{}年〜{}年の範囲で指定してください。",
            format_date_plain(date),
            SCHEDULE_YEARS.start(),
            SCHEDULE_YEARS.end()
        ))
    }
}

impl Schedule {
    /// Once, at `date` `time`.
    pub fn once(date: NaiveDate, time: SendTime) -> Result<Self, String> {
        check_year(date)?;
        Ok(Self {
            pattern: Pattern::Once,
            time,
            start: date,
            end: Some(date),
        })
    }

    pub fn weekly(
        weekdays: WeekdaySet,
        time: SendTime,
        start: NaiveDate,
        end: Option<NaiveDate>,
    ) -> Result<Self, String> {
        if weekdays.is_empty() {
            return Err("曜日を1つ以上選んでください。".to_owned());
        }
        Self::recurring(Pattern::Weekly(weekdays), time, start, end)
    }

    /// On the chosen days of every month; see the module comment on 29-31.
    pub fn monthly_days(
        days: MonthDaySet,
        time: SendTime,
        start: NaiveDate,
        end: Option<NaiveDate>,
    ) -> Result<Self, String> {
        if days.is_empty() {
            return Err("日を1つ以上選んでください。".to_owned());
        }
        Self::recurring(Pattern::MonthlyDays(days), time, start, end)
    }

    pub fn monthly_weekdays(
        nths: NthSet,
        weekdays: WeekdaySet,
        time: SendTime,
        start: NaiveDate,
        end: Option<NaiveDate>,
    ) -> Result<Self, String> {
        if nths.is_empty() {
            return Err("第何週かを1つ以上選んでください。".to_owned());
        }
        if weekdays.is_empty() {
            return Err("曜日を1つ以上選んでください。".to_owned());
        }
        Self::recurring(
            Pattern::MonthlyWeekdays { nths, weekdays },
            time,
            start,
            end,
        )
    }

    fn recurring(
        pattern: Pattern,
        time: SendTime,
        start: NaiveDate,
        end: Option<NaiveDate>,
    ) -> Result<Self, String> {
        check_year(start)?;
        if let Some(end) = end {
            check_year(end)?;
            if end < start {
                return Err(format!(
                    "終了日（{}）は開始日（{}）以降にしてください。",
                    format_date_plain(end),
                    format_date_plain(start)
                ));
            }
        }
        let schedule = Self {
            pattern,
            time,
            start,
            end,
        };
        let first = schedule.first_at_or_after(start.and_time(NaiveTime::MIN));
        if first.is_none() {
            return Err("開始日から終了日までの間に配信日がありません。".to_owned());
        }
        Ok(schedule)
    }

    pub fn pattern(&self) -> Pattern {
        self.pattern
    }

    pub fn time(&self) -> SendTime {
        self.time
    }

    pub fn start(&self) -> NaiveDate {
        self.start
    }

    pub fn end(&self) -> Option<NaiveDate> {
        self.end
    }

    pub fn is_recurring(&self) -> bool {
        self.pattern != Pattern::Once
    }

    /// Whether the schedule fires on this date (at its time).
    pub fn fires_on(&self, date: NaiveDate) -> bool {
        date >= self.start && self.end.is_none_or(|end| date <= end) && self.pattern.matches(date)
    }

    /// Whether the schedule fires exactly at this JST date-time.
    pub fn fires_at(&self, at: NaiveDateTime) -> bool {
        at.time() == self.time.naive_time() && self.fires_on(at.date())
    }

    /// The first occurrence strictly after `after` (JST), if any.
    pub fn next_after(&self, after: NaiveDateTime) -> Option<NaiveDateTime> {
        let time = self.time.naive_time();
        let first_day = if after.time() < time {
            after.date()
        } else {
            after.date().checked_add_days(Days::new(1))?
        };
        self.first_on_or_after(first_day)
    }

    /// The first occurrence at or after `at` (JST), if any.
    pub fn first_at_or_after(&self, at: NaiveDateTime) -> Option<NaiveDateTime> {
        let first_day = if at.time() <= self.time.naive_time() {
            at.date()
        } else {
            at.date().checked_add_days(Days::new(1))?
        };
        self.first_on_or_after(first_day)
    }

    fn first_on_or_after(&self, day: NaiveDate) -> Option<NaiveDateTime> {
        let mut day = day.max(self.start);
        for _ in 0..SEARCH_DAYS {
            if self.end.is_some_and(|end| day > end) {
                return None;
            }
            if self.pattern.matches(day) {
                return Some(day.and_time(self.time.naive_time()));
            }
            day = day.checked_add_days(Days::new(1))?;
        }
        None
    }

    /// Occurrences with `from <= t < until` (JST), in order.
    pub fn occurrences(&self, from: NaiveDateTime, until: NaiveDateTime) -> Vec<NaiveDateTime> {
        let mut out = Vec::new();
        let mut next = self.first_at_or_after(from);
        while let Some(at) = next.filter(|at| *at < until) {
            out.push(at);
            next = self.next_after(at);
        }
        out
    }

    /// [`Schedule::next_after`] for an instant: the delivery job's clock is UTC.
    pub fn next_after_utc(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&JST).naive_local();
        self.next_after(local)?
            .and_local_timezone(JST)
            .single()
            .map(|at| at.with_timezone(&Utc))
    }

    /// 「毎週 月・木 9:00（2026年4月1日から2027年3月31日まで）」,
    /// 「毎月 31日 9:00（2026年4月1日から。31日がない月は配信しません）」,
    /// 「2026年4月1日(水) 9:00（1回）」.
    pub fn describe_ja(&self) -> String {
        let time = self.time;
        let mut notes = Vec::new();
        let rule = match self.pattern {
            Pattern::Once => return format!("{} {time}（1回）", format_date(self.start)),
            Pattern::Weekly(weekdays) => format!("毎週 {}", weekdays.label()),
            Pattern::MonthlyDays(days) => {
                let missing = days.days_missing_in_some_months();
                if let Some(&first) = missing.first() {
                    let names = missing
                        .iter()
                        .map(|d| format!("{d}日"))
                        .collect::<Vec<_>>()
                        .join("・");
                    let only_missing = !days.has_last_day() && (1..first).all(|d| !days.has_day(d));
                    notes.push(if only_missing {
                        format!("{names}がない月は配信しません")
                    } else {
                        format!("{names}がない月はその日の配信はありません")
                    });
                }
                format!("毎月 {}", days.label())
            }
            Pattern::MonthlyWeekdays { nths, weekdays } => {
                format!("毎月 {} {}曜", nths.label(), weekdays.label())
            }
        };
        let period = match self.end {
            Some(end) => format!(
                "{}から{}まで",
                format_date_plain(self.start),
                format_date_plain(end)
            ),
            None => format!("{}から", format_date_plain(self.start)),
        };
        notes.insert(0, period);
        format!("{rule} {time}（{}）", notes.join("。"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn at(y: i32, m: u32, day: u32, h: u32, min: u32) -> NaiveDateTime {
        d(y, m, day).and_hms_opt(h, min, 0).unwrap()
    }

    fn t(s: &str) -> SendTime {
        SendTime::parse(s).unwrap()
    }

    #[test]
    fn send_times_on_five_minute_steps() {
        assert_eq!(t("9:00").to_string(), "9:00");
        assert_eq!(t("２３：５５").minutes(), 23 * 60 + 55);
        assert_eq!(
            SendTime::parse("9:03").unwrap_err(),
            "配信時刻は5分単位で指定してください（例: 9:00、9:05）。"
        );
        assert_eq!(
            SendTime::parse("24:00").unwrap_err(),
            "配信時刻は0:00〜23:55の範囲で指定してください。"
        );
        assert_eq!(
            SendTime::parse("25:00").unwrap_err(),
            "配信時刻は0:00〜23:55の範囲で指定してください。"
        );
        assert_eq!(
            SendTime::parse("朝").unwrap_err(),
            "時刻「朝」は「9:00」のように入力してください。"
        );
    }

    #[test]
    fn parses_sets() {
        let mon_thu = WeekdaySet::EMPTY.with(Weekday::Mon).with(Weekday::Thu);
        for text in ["月・木", "月,木", "月曜日、木曜日", " 木 月 ", "月/木曜"] {
            assert_eq!(WeekdaySet::parse(text), Ok(mon_thu), "{text}");
        }
        assert_eq!(mon_thu.label(), "月・木");
        assert_eq!(
            WeekdaySet::parse("月・祝").unwrap_err(),
            "曜日「祝」が分かりません。「月・木」のように書いてください。"
        );
        assert_eq!(
            WeekdaySet::parse(" ").unwrap_err(),
            "曜日を1つ以上指定してください。"
        );

        let days = MonthDaySet::parse("1・15日・末日").unwrap();
        assert_eq!(days.label(), "1日・15日・末日");
        assert_eq!(MonthDaySet::parse("３１").unwrap().label(), "31日");
        assert_eq!(
            MonthDaySet::parse("32").unwrap_err(),
            "日は1〜31 か 末日 で指定してください。"
        );
        assert_eq!(
            MonthDaySet::parse("月末").unwrap_err(),
            "日「月末」が分かりません。1〜31 か 末日 で書いてください。"
        );

        assert_eq!(NthSet::parse("第1・3").unwrap().label(), "第1・第3");
        assert_eq!(NthSet::parse("最終週").unwrap().label(), "最終");
        assert_eq!(NthSet::parse("2,最終").unwrap().label(), "第2・最終");
        assert!(NthSet::parse("5").unwrap_err().contains("最終"));
        assert!(NthSet::parse("x").is_err());
    }

    #[test]
    fn describes_in_japanese() {
        let mon_thu = WeekdaySet::parse("月・木").unwrap();
        let weekly =
            Schedule::weekly(mon_thu, t("9:00"), d(2026, 4, 1), Some(d(2027, 3, 31))).unwrap();
        assert_eq!(
            weekly.describe_ja(),
            "毎週 月・木 9:00（2026年4月1日から2027年3月31日まで）"
        );
        let day31 = Schedule::monthly_days(
            MonthDaySet::parse("31").unwrap(),
            t("9:00"),
            d(2026, 4, 1),
            None,
        )
        .unwrap();
        assert_eq!(
            day31.describe_ja(),
            "毎月 31日 9:00（2026年4月1日から。31日がない月は配信しません）"
        );
        let mixed = Schedule::monthly_days(
            MonthDaySet::parse("15・30").unwrap(),
            t("18:30"),
            d(2026, 4, 1),
            None,
        )
        .unwrap();
        assert_eq!(
            mixed.describe_ja(),
            "毎月 15日・30日 18:30（2026年4月1日から。30日がない月はその日の配信はありません）"
        );
        let last = Schedule::monthly_days(
            MonthDaySet::EMPTY.with_last_day(),
            t("9:00"),
            d(2026, 4, 1),
            None,
        )
        .unwrap();
        assert_eq!(last.describe_ja(), "毎月 末日 9:00（2026年4月1日から）");
        let nth = Schedule::monthly_weekdays(
            NthSet::parse("1・3").unwrap(),
            WeekdaySet::parse("水").unwrap(),
            t("7:30"),
            d(2026, 4, 1),
            None,
        )
        .unwrap();
        assert_eq!(
            nth.describe_ja(),
            "毎月 第1・第3 水曜 7:30（2026年4月1日から）"
        );
        let once = Schedule::once(d(2026, 4, 1), t("9:00")).unwrap();
        assert_eq!(once.describe_ja(), "2026年4月1日(水) 9:00（1回）");
    }

    #[test]
    fn validation_messages() {
        let mon = WeekdaySet::parse("月").unwrap();
        assert_eq!(
            Schedule::weekly(WeekdaySet::EMPTY, t("9:00"), d(2026, 4, 1), None).unwrap_err(),
            "曜日を1つ以上選んでください。"
        );
        assert_eq!(
            Schedule::weekly(mon, t("9:00"), d(2026, 4, 1), Some(d(2026, 3, 31))).unwrap_err(),
            "終了日（2026年3月31日）は開始日（2026年4月1日）以降にしてください。"
        );
        // 2026-04-01 is a Wednesday: no Monday in a two-day period.
        assert_eq!(
            Schedule::weekly(mon, t("9:00"), d(2026, 4, 1), Some(d(2026, 4, 2))).unwrap_err(),
            "開始日から終了日までの間に配信日がありません。"
        );
        assert_eq!(
            Schedule::monthly_days(
                MonthDaySet::parse("31").unwrap(),
                t("9:00"),
                d(2026, 4, 1),
                Some(d(2026, 4, 30))
            )
            .unwrap_err(),
            "開始日から終了日までの間に配信日がありません。"
        );
        assert_eq!(
            Schedule::monthly_weekdays(NthSet::EMPTY, mon, t("9:00"), d(2026, 4, 1), None)
                .unwrap_err(),
            "第何週かを1つ以上選んでください。"
        );
        assert_eq!(
            Schedule::once(d(1926, 4, 1), t("9:00")).unwrap_err(),
            "日付（1926年4月1日）は2000年〜2099年の範囲で指定してください。"
        );
    }

    #[test]
    fn day_31_skips_short_months_and_last_day_does_not() {
        let day31 = Schedule::monthly_days(
            MonthDaySet::parse("31").unwrap(),
            t("9:00"),
            d(2026, 1, 1),
            None,
        )
        .unwrap();
        let got = day31.occurrences(at(2026, 1, 1, 0, 0), at(2026, 6, 1, 0, 0));
        assert_eq!(
            got,
            [
                at(2026, 1, 31, 9, 0),
                at(2026, 3, 31, 9, 0),
                at(2026, 5, 31, 9, 0)
            ]
        );
        let last = Schedule::monthly_days(
            MonthDaySet::EMPTY.with_last_day(),
            t("9:00"),
            d(2028, 1, 1),
            None,
        )
        .unwrap();
        let got: Vec<NaiveDate> = last
            .occurrences(at(2028, 1, 1, 0, 0), at(2028, 5, 1, 0, 0))
            .iter()
            .map(NaiveDateTime::date)
            .collect();
        assert_eq!(
            got,
            [
                d(2028, 1, 31),
                d(2028, 2, 29),
                d(2028, 3, 31),
                d(2028, 4, 30)
            ]
        );
        // 31 and 末日 together fire once on the 31st.
        let both = Schedule::monthly_days(
            MonthDaySet::parse("31・末日").unwrap(),
            t("9:00"),
            d(2026, 1, 1),
            None,
        )
        .unwrap();
        assert_eq!(
            both.occurrences(at(2026, 1, 1, 0, 0), at(2026, 3, 1, 0, 0))
                .len(),
            2
        );
    }

    #[test]
    fn nth_and_last_weekdays() {
        // April 2026: Wednesdays 1, 8, 15, 22, 29.
        let s = Schedule::monthly_weekdays(
            NthSet::parse("1・最終").unwrap(),
            WeekdaySet::parse("水").unwrap(),
            t("9:00"),
            d(2026, 4, 1),
            Some(d(2026, 4, 30)),
        )
        .unwrap();
        let got: Vec<u32> = s
            .occurrences(at(2026, 4, 1, 0, 0), at(2026, 5, 1, 0, 0))
            .iter()
            .map(|a| a.day())
            .collect();
        assert_eq!(got, [1, 29]);
        let fourth = NthSet::parse("4").unwrap();
        assert!(fourth.matches(d(2026, 4, 22)));
        assert!(!fourth.matches(d(2026, 4, 29)), "the 5th is only 最終");
    }

    #[test]
    fn next_after_is_strict_and_respects_the_period() {
        let s = Schedule::weekly(
            WeekdaySet::parse("水").unwrap(),
            t("9:00"),
            d(2026, 4, 1),
            Some(d(2026, 4, 15)),
        )
        .unwrap();
        assert_eq!(
            s.next_after(at(2026, 3, 1, 0, 0)),
            Some(at(2026, 4, 1, 9, 0))
        );
        assert_eq!(
            s.next_after(at(2026, 4, 1, 8, 55)),
            Some(at(2026, 4, 1, 9, 0))
        );
        assert_eq!(
            s.next_after(at(2026, 4, 1, 9, 0)),
            Some(at(2026, 4, 8, 9, 0))
        );
        assert_eq!(s.next_after(at(2026, 4, 15, 9, 0)), None);
        let once = Schedule::once(d(2026, 4, 1), t("9:00")).unwrap();
        assert_eq!(
            once.next_after(at(2026, 4, 1, 8, 59)),
            Some(at(2026, 4, 1, 9, 0))
        );
        assert_eq!(once.next_after(at(2026, 4, 1, 9, 0)), None);
        // UTC edge: 2026-03-31T23:30Z is 8:30 on 4/1 in Japan.
        let utc = at(2026, 3, 31, 23, 30).and_utc();
        assert_eq!(
            s.next_after_utc(utc),
            Some(at(2026, 4, 1, 0, 0).and_utc()),
            "9:00 JST is 0:00 UTC"
        );
    }

    // ---- Property tests ---------------------------------------------------

    fn pattern() -> impl Strategy<Value = Pattern> {
        prop_oneof![
            Just(Pattern::Once),
            (1u8..128).prop_map(|b| Pattern::Weekly(WeekdaySet::from_bits(b))),
            (1u32..u32::MAX).prop_map(|b| Pattern::MonthlyDays(MonthDaySet::from_bits(b))),
            // Sparse day sets: 29-31 and 末日 matter most.
            proptest::collection::vec(prop_oneof![Just(0u32), 1u32..=31, 28u32..=31], 1..3)
                .prop_map(|days| Pattern::MonthlyDays(MonthDaySet::from_bits(
                    days.iter().fold(0, |acc, d| acc | 1 << d)
                ))),
            (1u8..32, 1u8..128).prop_map(|(n, w)| Pattern::MonthlyWeekdays {
                nths: NthSet::from_bits(n),
                weekdays: WeekdaySet::from_bits(w),
            }),
        ]
    }

    fn schedule() -> impl Strategy<Value = Option<Schedule>> {
        (
            pattern(),
            0u16..288,
            0u64..2000,
            proptest::option::of(0u64..900),
        )
            .prop_map(|(pattern, step, start, len)| {
                let time = SendTime::from_minutes(step * 5).unwrap();
                let start = d(2024, 1, 1) + Days::new(start);
                let end = len.map(|l| start + Days::new(l));
                match pattern {
                    Pattern::Once => Schedule::once(start, time).ok(),
                    Pattern::Weekly(w) => Schedule::weekly(w, time, start, end).ok(),
                    Pattern::MonthlyDays(m) => Schedule::monthly_days(m, time, start, end).ok(),
                    Pattern::MonthlyWeekdays { nths, weekdays } => {
                        Schedule::monthly_weekdays(nths, weekdays, time, start, end).ok()
                    }
                }
            })
    }

    fn instant() -> impl Strategy<Value = NaiveDateTime> {
        (0u64..3200, 0u32..1440).prop_map(|(day, minute)| {
            (d(2023, 10, 1) + Days::new(day))
                .and_hms_opt(minute / 60, minute % 60, 0)
                .unwrap()
        })
    }

    /// The rule stated the slow way, independently of the bit tricks.
    fn reference_fires_on(s: &Schedule, date: NaiveDate) -> bool {
        if date < s.start() || s.end().is_some_and(|e| date > e) {
            return false;
        }
        let same_weekday_in_month: Vec<NaiveDate> = (1..=31)
            .filter_map(|day| NaiveDate::from_ymd_opt(date.year(), date.month(), day))
            .filter(|x| x.weekday() == date.weekday())
            .collect();
        let occurrence = same_weekday_in_month
            .iter()
            .position(|x| *x == date)
            .unwrap()
            + 1;
        let is_last = occurrence == same_weekday_in_month.len();
        let month_end = date.succ_opt().unwrap().month() != date.month();
        match s.pattern() {
            Pattern::Once => date == s.start(),
            Pattern::Weekly(w) => w.contains(date.weekday()),
            Pattern::MonthlyDays(m) => m.has_day(date.day()) || (m.has_last_day() && month_end),
            Pattern::MonthlyWeekdays { nths, weekdays } => {
                weekdays.contains(date.weekday())
                    && ((occurrence <= 4 && nths.bits() & 1 << (occurrence - 1) != 0)
                        || (is_last && nths.bits() & 1 << 4 != 0))
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn next_after_is_the_very_next_occurrence(s in schedule(), after in instant()) {
            let Some(s) = s else { return Ok(()) };
            if let Some(next) = s.next_after(after) {
                prop_assert!(next > after);
                prop_assert!(s.fires_at(next));
                prop_assert!(reference_fires_on(&s, next.date()));
                // Nothing in between satisfies the rule.
                let mut day = after.date();
                while day <= next.date() {
                    let candidate = day.and_time(s.time().naive_time());
                    if candidate > after && candidate < next {
                        prop_assert!(!reference_fires_on(&s, day), "{} skipped", candidate);
                    }
                    day = day.succ_opt().unwrap();
                }
            } else {
                // No later occurrence: the rule has ended (or was once and passed).
                let end = s.end();
                prop_assert!(end.is_some());
                let mut day = after.date();
                while end.is_some_and(|e| day <= e) {
                    let candidate = day.and_time(s.time().naive_time());
                    prop_assert!(!(candidate > after && reference_fires_on(&s, day)));
                    day = day.succ_opt().unwrap();
                }
            }
        }

        #[test]
        fn occurrences_strictly_increase_and_match_the_rule(s in schedule(), from in instant()) {
            let Some(s) = s else { return Ok(()) };
            let until = from + Days::new(400);
            let list = s.occurrences(from, until);
            prop_assert!(list.windows(2).all(|w| w[0] < w[1]));
            prop_assert!(list.iter().all(|a| *a >= from && *a < until && s.fires_at(*a)));
            // Exactly the days the slow rule picks.
            let expected: Vec<NaiveDateTime> = (0..=400)
                .map(|i| from.date() + Days::new(i))
                .filter(|day| reference_fires_on(&s, *day))
                .map(|day| day.and_time(s.time().naive_time()))
                .filter(|a| *a >= from && *a < until)
                .collect();
            prop_assert_eq!(list, expected);
        }

        #[test]
        fn fires_on_matches_the_reference(s in schedule(), day in 0u64..3000) {
            let Some(s) = s else { return Ok(()) };
            let date = d(2023, 10, 1) + Days::new(day);
            prop_assert_eq!(s.fires_on(date), reference_fires_on(&s, date));
        }
    }
}
