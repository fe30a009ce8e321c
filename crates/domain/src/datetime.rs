//! Times are stored in UTC and shown in Japan time (Asia/Tokyo has no daylight
//! saving, so a fixed +09:00 offset is exact). Dates read like 2025年4月1日(火).

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Timelike, Utc};

use crate::time_of_day::normalize_input;

/// Japan Standard Time. Evaluated at compile time, so the match cannot fail at run time.
#[allow(clippy::panic)]
pub const JST: FixedOffset = match FixedOffset::east_opt(9 * 3600) {
    Some(offset) => offset,
    None => panic!("+09:00 is a valid offset"),
};

pub fn to_jst(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    at.with_timezone(&JST)
}

const WEEKDAYS: [&str; 7] = ["月", "火", "水", "木", "金", "土", "日"];

pub fn weekday_jp(date: NaiveDate) -> &'static str {
    WEEKDAYS[date.weekday().num_days_from_monday() as usize]
}

/// 2025年4月1日(火)
pub fn format_date(date: NaiveDate) -> String {
    format!(
        "{}年{}月{}日({})",
        date.year(),
        date.month(),
        date.day(),
        weekday_jp(date)
    )
}

/// 2025年4月1日(火) 9:05, in Japan time.
pub fn format_datetime(at: DateTime<Utc>) -> String {
    let local = to_jst(at);
    format!(
        "{} {}:{:02}",
        format_date(local.date_naive()),
        local.hour(),
        local.minute()
    )
}

/// 2025/04/01 09:05:07 in Japan time: for logs and CSV, where sorting matters.
pub fn format_timestamp(at: DateTime<Utc>) -> String {
    to_jst(at).format("%Y/%m/%d %H:%M:%S").to_string()
}

/// 2026年4月1日, without the weekday: for periods ("2026年4月1日から") where the
/// weekday would only add noise.
pub fn format_date_plain(date: NaiveDate) -> String {
    format!("{}年{}月{}日", date.year(), date.month(), date.day())
}

/// Whether the date is the last day of its month (1/31, 2/28 in a common year, 2/29, 4/30 ...).
pub fn is_last_day_of_month(date: NaiveDate) -> bool {
    date.day() == u32::from(date.num_days_in_month())
}

/// The last day of the date's month.
pub fn last_day_of_month(date: NaiveDate) -> NaiveDate {
    date.with_day(u32::from(date.num_days_in_month()))
        .unwrap_or(date)
}

/// A date as staff and residents type it: `2026/4/1`, `2026-04-01` or
/// `2026年4月1日`, full-width digits too (the Japanese IME is often on).
pub fn parse_date(input: &str) -> Result<NaiveDate, String> {
    let text: String = normalize_input(input)
        .chars()
        .map(|c| match c {
            '－' | '‐' | 'ー' => '-',
            _ => c,
        })
        .collect();
    if text.is_empty() {
        return Err("日付を入力してください。".to_owned());
    }
    let format_error = || {
        format!(
            "「{}」は日付として読めません。2026/4/1 のように入力してください。",
            input.trim()
        )
    };
    let parts: Vec<&str> = if let Some(rest) = text.strip_suffix('日') {
        let (year, rest) = rest.split_once('年').ok_or_else(format_error)?;
        let (month, day) = rest.split_once('月').ok_or_else(format_error)?;
        vec![year, month, day]
    } else if text.contains('/') {
        text.split('/').collect()
    } else {
        text.split('-').collect()
    };
    let [y, m, d] = parts.as_slice() else {
        return Err(format_error());
    };
    let number = |s: &str, max_len: usize| -> Option<u32> {
        let s = s.trim();
        (!s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (Some(year), Some(month), Some(day)) = (number(y, 4), number(m, 2), number(d, 2)) else {
        return Err(format_error());
    };
    if y.trim().len() != 4 {
        return Err(format_error());
    }
    i32::try_from(year)
        .ok()
        .and_then(|year| NaiveDate::from_ymd_opt(year, month, day))
        .ok_or_else(|| format!("{year}年{month}月{day}日という日はありません。"))
}

struct Era {
    name: &'static str,
    start: (i32, u32, u32),
}

const ERAS: [Era; 4] = [
    Era {
        name: "令和",
        start: (2019, 5, 1),
    },
    Era {
        name: "平成",
        start: (1989, 1, 8),
    },
    Era {
        name: "昭和",
        start: (1926, 12, 25),
    },
    Era {
        name: "大正",
        start: (1912, 7, 30),
    },
];

/// 和暦 for official documents: 令和7年4月1日, with 元年 for an era's first year.
/// Dates before 大正 fall back to the Western calendar.
pub fn format_wareki(date: NaiveDate) -> String {
    for era in &ERAS {
        let (y, m, d) = era.start;
        if (date.year(), date.month(), date.day()) >= (y, m, d) {
            let n = date.year() - y + 1;
            let year = if n == 1 {
                "元".to_owned()
            } else {
                n.to_string()
            };
            return format!("{}{}年{}月{}日", era.name, year, date.month(), date.day());
        }
    }
    format!("{}年{}月{}日", date.year(), date.month(), date.day())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default()
    }

    #[test]
    fn japanese_date_with_weekday() {
        assert_eq!(format_date(d(2025, 4, 1)), "2025年4月1日(火)");
        assert_eq!(format_date(d(2026, 11, 25)), "2026年11月25日(水)");
    }

    #[test]
    fn utc_is_shown_in_japan_time() {
        let at = Utc
            .with_ymd_and_hms(2025, 3, 31, 15, 5, 0)
            .single()
            .unwrap_or_default();
        assert_eq!(format_datetime(at), "2025年4月1日(火) 0:05");
        assert_eq!(format_timestamp(at), "2025/04/01 00:05:00");
    }

    #[test]
    fn wareki_boundaries() {
        assert_eq!(format_wareki(d(2019, 4, 30)), "平成31年4月30日");
        assert_eq!(format_wareki(d(2019, 5, 1)), "令和元年5月1日");
        assert_eq!(format_wareki(d(2025, 4, 1)), "令和7年4月1日");
        assert_eq!(format_wareki(d(1989, 1, 7)), "昭和64年1月7日");
        assert_eq!(format_wareki(d(1989, 1, 8)), "平成元年1月8日");
    }

    #[test]
    fn parses_typed_dates() {
        for text in [
            "2026/4/1",
            "2026/04/01",
            "2026-04-01",
            "2026年4月1日",
            " ２０２６／４／１ ",
        ] {
            assert_eq!(parse_date(text), Ok(d(2026, 4, 1)), "{text}");
        }
        assert_eq!(parse_date("").unwrap_err(), "日付を入力してください。");
        assert_eq!(
            parse_date("2026/2/30").unwrap_err(),
            "2026年2月30日という日はありません。"
        );
        for bad in [
            "26/4/1",
            "2026/4",
            "4月1日",
            "2026/4/1/2",
            "2026.4.1",
            "2026/x/1",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn month_ends() {
        assert!(is_last_day_of_month(d(2024, 2, 29)));
        assert!(!is_last_day_of_month(d(2024, 2, 28)));
        assert!(is_last_day_of_month(d(2025, 2, 28)));
        assert_eq!(last_day_of_month(d(2025, 4, 10)), d(2025, 4, 30));
        assert_eq!(format_date_plain(d(2026, 4, 1)), "2026年4月1日");
    }
}
