//! Reminders relative to a registered date (M14): "4か月児健診のご案内" four
//! months after each child's birth date at 9:00, "出産予定日の30日前".
//!
//! The daily job does not compute every friend's dates forward. It asks the
//! inverse question, [`ReminderRule::base_dates_firing_on`] today, and selects
//! the friends whose date is in that small set (an indexed `IN` in SQL).
//! Month arithmetic clamps to the month end (1月31日 + 1か月 = 2月28日, or 29日
//! in a leap year), so several base dates can fire on one day (1/28-1/31 all on
//! 2/28) and some days have none (nothing fires on 3/29-3/31 one month after
//! February, in a common year).

use chrono::{Datelike, Days, Months, NaiveDate, NaiveDateTime};

use crate::attributes::{Attribute, AttributeKey};
use crate::datetime::{is_last_day_of_month, last_day_of_month};
use crate::schedule::SendTime;

/// Longest offset in days (about ten years).
pub const MAX_OFFSET_DAYS: u32 = 3660;
/// Longest offset in months (twenty years: 成人 at 18 fits).
pub const MAX_OFFSET_MONTHS: u32 = 240;

/// When, relative to the registered date, the reminder goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Offset {
    /// n days after (0 = on the date itself).
    DaysAfter(u32),
    /// n months after, clamped to the month end.
    MonthsAfter(u32),
    /// n days before (a due date, an expiry).
    DaysBefore(u32),
}

impl Offset {
    fn check(self) -> Result<(), String> {
        match self {
            Offset::DaysAfter(n) | Offset::DaysBefore(n) if n > MAX_OFFSET_DAYS => {
                Err(format!("日数は{MAX_OFFSET_DAYS}日以内で指定してください。"))
            }
            Offset::MonthsAfter(n) if n > MAX_OFFSET_MONTHS => Err(format!(
                "月数は{MAX_OFFSET_MONTHS}か月以内で指定してください。"
            )),
            _ => Ok(()),
        }
    }

    /// The fire date for a base date; `None` only outside chrono's calendar.
    pub fn apply(self, base: NaiveDate) -> Option<NaiveDate> {
        match self {
            Offset::DaysAfter(n) => base.checked_add_days(Days::new(u64::from(n))),
            Offset::DaysBefore(n) => base.checked_sub_days(Days::new(u64::from(n))),
            Offset::MonthsAfter(n) => base.checked_add_months(Months::new(n)),
        }
    }

    /// Every base date whose fire date is `day`, sorted.
    pub fn bases_for(self, day: NaiveDate) -> Vec<NaiveDate> {
        match self {
            Offset::DaysAfter(n) => day
                .checked_sub_days(Days::new(u64::from(n)))
                .into_iter()
                .collect(),
            Offset::DaysBefore(n) => day
                .checked_add_days(Days::new(u64::from(n)))
                .into_iter()
                .collect(),
            Offset::MonthsAfter(n) => {
                // Bases lie in the month n months before `day`'s month. A base
                // there on day d fires on min(d, last day of `day`'s month).
                let Some(first) = day
                    .with_day(1)
                    .and_then(|f| f.checked_sub_months(Months::new(n)))
                else {
                    return Vec::new();
                };
                let last = last_day_of_month(first).day();
                let days = if is_last_day_of_month(day) {
                    // The month end also collects the days it lacks.
                    day.day()..=last
                } else {
                    day.day()..=day.day().min(last)
                };
                days.filter_map(|d| first.with_day(d)).collect()
            }
        }
    }

    /// 「4か月後」「7日前」「当日」.
    pub fn describe_ja(self) -> String {
        match self {
            Offset::DaysAfter(0) | Offset::MonthsAfter(0) | Offset::DaysBefore(0) => {
                "当日".to_owned()
            }
            Offset::DaysAfter(n) => format!("{n}日後"),
            Offset::MonthsAfter(n) => format!("{n}か月後"),
            Offset::DaysBefore(n) => format!("{n}日前"),
        }
    }
}

/// A reminder: a date or date-list attribute, an offset and a time of day.
/// For a date list every date fires on its own ("each child").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReminderRule {
    attribute: AttributeKey,
    offset: Offset,
    time: SendTime,
}

impl ReminderRule {
    /// A new rule on an attribute in use of a date kind.
    pub fn new(attribute: &Attribute, offset: Offset, time: SendTime) -> Result<Self, String> {
        let name = attribute.name();
        if attribute.is_retired() {
            return Err(format!("「{name}」は使われなくなった項目です。"));
        }
        if !attribute.kind().is_date() {
            return Err(format!(
                "「{name}」は日付の項目ではありません。リマインドには日付の項目を選んでください。"
            ));
        }
        Self::restore(attribute.key().clone(), offset, time)
    }

    /// A stored rule, read back: the attribute may have been retired since, and
    /// its reminders keep going because the answers are kept.
    pub fn restore(
        attribute: AttributeKey,
        offset: Offset,
        time: SendTime,
    ) -> Result<Self, String> {
        offset.check()?;
        Ok(Self {
            attribute,
            offset,
            time,
        })
    }

    pub fn attribute(&self) -> &AttributeKey {
        &self.attribute
    }

    pub fn offset(&self) -> Offset {
        self.offset
    }

    pub fn time(&self) -> SendTime {
        self.time
    }

    /// The day the reminder for `base` goes out. Only beyond chrono's calendar
    /// (±262,000 years) does it saturate.
    pub fn fire_date(&self, base: NaiveDate) -> NaiveDate {
        self.offset.apply(base).unwrap_or(match self.offset {
            Offset::DaysBefore(_) => NaiveDate::MIN,
            Offset::DaysAfter(_) | Offset::MonthsAfter(_) => NaiveDate::MAX,
        })
    }

    /// The JST date-time the reminder for `base` goes out.
    pub fn fire_at(&self, base: NaiveDate) -> NaiveDateTime {
        self.fire_date(base).and_time(self.time.naive_time())
    }

    /// Every base date whose reminder goes out on `day`: none, one, or (month
    /// offsets onto a month end) up to four. Sorted.
    pub fn base_dates_firing_on(&self, day: NaiveDate) -> Vec<NaiveDate> {
        self.offset.bases_for(day)
    }

    /// 「お子さんの生年月日の4か月後 9:00」.
    pub fn describe_ja(&self, attribute_name: &str) -> String {
        format!(
            "{attribute_name}の{} {}",
            self.offset.describe_ja(),
            self.time
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attributes::{AttributeCatalog, default_attributes};
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn rule(offset: Offset) -> ReminderRule {
        ReminderRule::restore(
            AttributeKey::parse("child_birth_dates").unwrap(),
            offset,
            SendTime::parse("9:00").unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn months_clamp_to_the_month_end() {
        let one_month = rule(Offset::MonthsAfter(1));
        assert_eq!(one_month.fire_date(d(2025, 1, 31)), d(2025, 2, 28));
        assert_eq!(one_month.fire_date(d(2024, 1, 31)), d(2024, 2, 29));
        assert_eq!(one_month.fire_date(d(2025, 3, 31)), d(2025, 4, 30));
        assert_eq!(
            one_month.base_dates_firing_on(d(2025, 2, 28)),
            [
                d(2025, 1, 28),
                d(2025, 1, 29),
                d(2025, 1, 30),
                d(2025, 1, 31)
            ]
        );
        assert_eq!(
            one_month.base_dates_firing_on(d(2024, 2, 29)),
            [d(2024, 1, 29), d(2024, 1, 30), d(2024, 1, 31)]
        );
        assert_eq!(
            one_month.base_dates_firing_on(d(2024, 2, 28)),
            [d(2024, 1, 28)]
        );
        assert!(one_month.base_dates_firing_on(d(2025, 3, 30)).is_empty());
        assert!(one_month.base_dates_firing_on(d(2025, 3, 31)).is_empty());
        assert_eq!(
            one_month.base_dates_firing_on(d(2025, 4, 30)),
            [d(2025, 3, 30), d(2025, 3, 31)]
        );
        let year = rule(Offset::MonthsAfter(12));
        assert_eq!(year.fire_date(d(2024, 2, 29)), d(2025, 2, 28));
        assert_eq!(
            year.base_dates_firing_on(d(2025, 2, 28)),
            [d(2024, 2, 28), d(2024, 2, 29)]
        );
    }

    #[test]
    fn days_before_and_after() {
        assert_eq!(
            rule(Offset::DaysAfter(10)).fire_date(d(2025, 12, 25)),
            d(2026, 1, 4)
        );
        assert_eq!(
            rule(Offset::DaysBefore(30)).fire_date(d(2026, 3, 1)),
            d(2026, 1, 30)
        );
        assert_eq!(
            rule(Offset::DaysBefore(30)).base_dates_firing_on(d(2026, 1, 30)),
            [d(2026, 3, 1)]
        );
        assert_eq!(
            rule(Offset::DaysAfter(0)).fire_at(d(2026, 4, 1)),
            d(2026, 4, 1).and_hms_opt(9, 0, 0).unwrap()
        );
    }

    #[test]
    fn rules_are_checked_in_japanese() {
        let catalog = AttributeCatalog::new(default_attributes()).unwrap();
        let get = |k: &str| catalog.get(&AttributeKey::parse(k).unwrap()).unwrap();
        let time = SendTime::parse("9:00").unwrap();
        let r = ReminderRule::new(get("child_birth_dates"), Offset::MonthsAfter(4), time).unwrap();
        assert_eq!(
            r.describe_ja("お子さんの生年月日"),
            "お子さんの生年月日の4か月後 9:00"
        );
        assert_eq!(Offset::DaysBefore(7).describe_ja(), "7日前");
        assert_eq!(Offset::DaysAfter(0).describe_ja(), "当日");
        assert!(
            ReminderRule::new(get("expected_birth_date"), Offset::DaysBefore(30), time).is_ok()
        );
        assert_eq!(
            ReminderRule::new(get("area"), Offset::DaysAfter(1), time).unwrap_err(),
            "「お住まいの地区」は日付の項目ではありません。リマインドには日付の項目を選んでください。"
        );
        assert_eq!(
            ReminderRule::new(get("moved_in_date"), Offset::MonthsAfter(241), time).unwrap_err(),
            "月数は240か月以内で指定してください。"
        );
        assert_eq!(
            ReminderRule::new(get("moved_in_date"), Offset::DaysAfter(3661), time).unwrap_err(),
            "日数は3660日以内で指定してください。"
        );
        let mut retired = get("moved_in_date").clone();
        retired.set_retired(true);
        assert_eq!(
            ReminderRule::new(&retired, Offset::DaysAfter(1), time).unwrap_err(),
            "「国富町に転入した日」は使われなくなった項目です。"
        );
    }

    /// Dates from 1900 to 2099, often at a month end or on 2/29.
    fn any_date() -> impl Strategy<Value = NaiveDate> {
        prop_oneof![
            (0u64..73_000).prop_map(|n| d(1900, 1, 1) + Days::new(n)),
            (1900i32..2100, 1u32..=12).prop_map(|(y, m)| last_day_of_month(d(y, m, 1))),
            (1900i32..2100, 1u32..=12, 27u32..=31).prop_map(|(y, m, day)| {
                NaiveDate::from_ymd_opt(y, m, day).unwrap_or_else(|| last_day_of_month(d(y, m, 1)))
            }),
        ]
    }

    fn any_offset() -> impl Strategy<Value = Offset> {
        prop_oneof![
            (0u32..=MAX_OFFSET_DAYS).prop_map(Offset::DaysAfter),
            (0u32..=MAX_OFFSET_DAYS).prop_map(Offset::DaysBefore),
            (0u32..=MAX_OFFSET_MONTHS).prop_map(Offset::MonthsAfter),
            (0u32..=13).prop_map(Offset::MonthsAfter),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn every_base_is_found_from_its_fire_date(base in any_date(), offset in any_offset()) {
            let r = rule(offset);
            let day = r.fire_date(base);
            prop_assert!(r.base_dates_firing_on(day).contains(&base));
        }

        #[test]
        fn the_inverse_is_exact(day in any_date(), offset in any_offset()) {
            let r = rule(offset);
            let bases = r.base_dates_firing_on(day);
            prop_assert!(bases.windows(2).all(|w| w[0] < w[1]), "sorted, unique");
            prop_assert!(bases.len() <= 4);
            for b in &bases {
                prop_assert_eq!(r.fire_date(*b), day);
            }
            // Search every base date near where the answer must lie: those that
            // fire on `day` are exactly the returned ones.
            let approx = match offset {
                Offset::DaysAfter(n) => day - Days::new(u64::from(n)),
                Offset::DaysBefore(n) => day + Days::new(u64::from(n)),
                Offset::MonthsAfter(n) => day.checked_sub_months(Months::new(n)).unwrap(),
            };
            let found: Vec<NaiveDate> = (0..=80u64)
                .map(|i| approx - Days::new(40) + Days::new(i))
                .filter(|b| r.fire_date(*b) == day)
                .collect();
            prop_assert_eq!(found, bases);
        }
    }
}
