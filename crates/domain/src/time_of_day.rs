//! Times of day for opening hours and 予約枠. A facility day never crosses midnight,
//! so a time is minutes since 0:00 and 24:00 is allowed as an end.

use std::fmt;

/// Minutes since midnight, 0..=1440 (24:00 allowed as an end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay(u16);

const MINUTES_PER_DAY: u16 = 24 * 60;

impl TimeOfDay {
    pub const MIDNIGHT: TimeOfDay = TimeOfDay(0);
    pub const END_OF_DAY: TimeOfDay = TimeOfDay(MINUTES_PER_DAY);

    pub fn from_minutes(m: u16) -> Option<Self> {
        (m <= MINUTES_PER_DAY).then_some(TimeOfDay(m))
    }

    pub fn from_hm(hour: u16, minute: u16) -> Option<Self> {
        if minute >= 60 {
            return None;
        }
        Self::from_minutes(hour.checked_mul(60)?.checked_add(minute)?)
    }

    pub fn minutes(self) -> u16 {
        self.0
    }

    /// Accepts "9:00", "09:00" and "24:00"; full-width digits and "：" too, since
    /// staff often type with the Japanese IME on.
    pub fn parse(s: &str) -> Result<Self, String> {
        let text = normalize_input(s);
        if text.is_empty() {
            return Err("時刻を入力してください。".to_string());
        }
        let format_error = || format!("時刻「{}」は「9:00」のように入力してください。", s.trim());
        let (h, m) = text.split_once(':').ok_or_else(format_error)?;
        let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(h) || h.len() > 2 || !all_digits(m) || m.len() != 2 {
            return Err(format_error());
        }
        let hour: u16 = h.parse().map_err(|_| format_error())?;
        let minute: u16 = m.parse().map_err(|_| format_error())?;
        let range_error = || {
            format!(
                "時刻「{}」は0:00〜24:00の範囲で入力してください。",
                s.trim()
            )
        };
        if minute >= 60 {
            return Err(range_error());
        }
        Self::from_hm(hour, minute).ok_or_else(range_error)
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// A half-open range `[start, end)`: 9:00〜12:00 and 12:00〜13:00 do not overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeRange {
    pub start: TimeOfDay,
    pub end: TimeOfDay,
}

impl TimeRange {
    pub fn new(start: TimeOfDay, end: TimeOfDay) -> Result<Self, String> {
        if start < end {
            Ok(TimeRange { start, end })
        } else {
            Err(format!(
                "終了時刻（{end}）は開始時刻（{start}）より後にしてください。"
            ))
        }
    }

    pub fn parse(start: &str, end: &str) -> Result<Self, String> {
        let start = TimeOfDay::parse(start)?;
        let end = TimeOfDay::parse(end)?;
        Self::new(start, end)
    }

    /// Length in minutes; 0 for a range built by hand with end ≤ start.
    pub fn minutes(&self) -> u32 {
        u32::from(self.end.0.saturating_sub(self.start.0))
    }

    /// Whether the two share at least one minute; touching ends do not overlap.
    pub fn overlaps(&self, other: &TimeRange) -> bool {
        self.start < other.end && other.start < self.end
    }

    pub fn contains(&self, other: &TimeRange) -> bool {
        self.start <= other.start && other.end <= self.end
    }

    /// The shared part, if any.
    pub fn intersection(&self, other: &TimeRange) -> Option<TimeRange> {
        let start = self.start.max(other.start);
        let end = self.end.min(other.end);
        (start < end).then_some(TimeRange { start, end })
    }

    /// Whether start < end; the fields are public, so a hand-built range may not be.
    pub fn is_valid(&self) -> bool {
        self.start < self.end
    }
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}〜{}", self.start, self.end)
    }
}

/// A length of time as people say it: "3時間", "1時間30分", "45分".
pub fn format_minutes(minutes: u32) -> String {
    let (h, m) = (minutes / 60, minutes % 60);
    match (h, m) {
        (0, m) => format!("{m}分"),
        (h, 0) => format!("{h}時間"),
        (h, m) => format!("{h}時間{m}分"),
    }
}

/// Trims and turns full-width digits and punctuation (from the Japanese IME) into ASCII.
pub(crate) fn normalize_input(s: &str) -> String {
    s.trim()
        .chars()
        .map(|c| match c {
            '０'..='９' => {
                char::from_u32(u32::from(c) - u32::from('０') + u32::from('0')).unwrap_or(c)
            }
            '：' => ':',
            '／' => '/',
            _ => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: &str) -> TimeOfDay {
        TimeOfDay::parse(s).unwrap()
    }

    fn r(a: &str, b: &str) -> TimeRange {
        TimeRange::parse(a, b).unwrap()
    }

    #[test]
    fn parses_common_forms() {
        assert_eq!(t("9:00").minutes(), 540);
        assert_eq!(t("09:00").minutes(), 540);
        assert_eq!(t("13:30").minutes(), 810);
        assert_eq!(t("0:00").minutes(), 0);
        assert_eq!(t("24:00").minutes(), 1440);
        assert_eq!(t(" ９：３０ ").minutes(), 570);
    }

    #[test]
    fn refuses_bad_times_in_japanese() {
        assert_eq!(
            TimeOfDay::parse("").unwrap_err(),
            "時刻を入力してください。"
        );
        assert_eq!(
            TimeOfDay::parse("9時").unwrap_err(),
            "時刻「9時」は「9:00」のように入力してください。"
        );
        for bad in ["9:0", "900", "9:000", "123:00", ":00", "9:-1", "+9:00"] {
            assert!(TimeOfDay::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            TimeOfDay::parse("24:30").unwrap_err(),
            "時刻「24:30」は0:00〜24:00の範囲で入力してください。"
        );
        assert!(TimeOfDay::parse("25:00").is_err());
        assert!(TimeOfDay::parse("9:60").is_err());
    }

    #[test]
    fn displays_without_leading_zero_hour() {
        assert_eq!(t("09:00").to_string(), "9:00");
        assert_eq!(t("13:05").to_string(), "13:05");
        assert_eq!(r("9:00", "12:00").to_string(), "9:00〜12:00");
    }

    #[test]
    fn range_requires_start_before_end() {
        assert_eq!(
            TimeRange::parse("12:00", "9:00").unwrap_err(),
            "終了時刻（9:00）は開始時刻（12:00）より後にしてください。"
        );
        assert!(TimeRange::parse("9:00", "9:00").is_err());
        assert_eq!(r("9:00", "12:00").minutes(), 180);
    }

    #[test]
    fn touching_ranges_do_not_overlap() {
        let am = r("9:00", "12:00");
        let pm = r("12:00", "17:00");
        assert!(!am.overlaps(&pm));
        assert!(!pm.overlaps(&am));
        assert!(am.overlaps(&r("11:00", "13:00")));
        assert!(r("9:00", "17:00").contains(&am));
        assert!(!am.contains(&r("8:00", "10:00")));
        assert_eq!(am.intersection(&pm), None);
        assert_eq!(
            am.intersection(&r("11:00", "13:00")),
            Some(r("11:00", "12:00"))
        );
    }

    #[test]
    fn formats_durations() {
        assert_eq!(format_minutes(180), "3時間");
        assert_eq!(format_minutes(90), "1時間30分");
        assert_eq!(format_minutes(45), "45分");
    }

    fn time() -> impl Strategy<Value = TimeOfDay> {
        (0u16..=1440).prop_map(|m| TimeOfDay::from_minutes(m).unwrap())
    }

    fn range() -> impl Strategy<Value = TimeRange> {
        (0u16..1440, 1u16..=1440).prop_map(|(a, len)| {
            let end = (a + len).min(1440);
            TimeRange::new(
                TimeOfDay::from_minutes(a).unwrap(),
                TimeOfDay::from_minutes(end).unwrap(),
            )
            .unwrap()
        })
    }

    proptest! {
        #[test]
        fn display_parses_back(x in time()) {
            prop_assert_eq!(TimeOfDay::parse(&x.to_string()), Ok(x));
        }

        #[test]
        fn overlap_is_symmetric_and_matches_intersection(a in range(), b in range()) {
            prop_assert_eq!(a.overlaps(&b), b.overlaps(&a));
            prop_assert_eq!(a.overlaps(&b), a.intersection(&b).is_some());
            if a.contains(&b) {
                prop_assert!(a.overlaps(&b));
                prop_assert_eq!(a.intersection(&b), Some(b));
            }
        }
    }
}
