//! Japanese national holidays (国民の祝日) and the other days off the law makes
//! (休日), for the facility calendar (requirement A03).
//!
//! Two sources meet here:
//! - [`computed_holidays`] follows the Act on National Holidays
//!   (国民の祝日に関する法律, 祝日法) as amended over time, so it reaches years
//!   the Cabinet Office has not published yet.
//! - [`special_law_holidays`] lists the one-off changes made by separate laws
//!   (Imperial events, the Olympic moves), which no rule can predict.
//!
//! [`official_holidays`] combines them. [`parse_syukujitsu_csv`] reads the
//! Cabinet Office's published list, so an administrator can replace a
//! projection (the equinox dates are only fixed a year ahead in 官報) with the
//! official one.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use chrono::{Datelike, NaiveDate, Weekday};
use encoding_rs::{DecoderResult, SHIFT_JIS};

/// One day off: a 国民の祝日, a 振替休日, a 国民の休日 or a day set by special law.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    pub date: NaiveDate,
    pub name: String,
}

/// A one-off change made by a special law (not by 祝日法 itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialChange {
    pub date: NaiveDate,
    /// `None`: the holiday computed for that date is removed (a moved holiday's
    /// usual date). `Some`: the date is a day off with this name.
    pub name: Option<String>,
}

/// One problem found in an imported CSV file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{row} 行目 {column} 列目: {message}")]
pub struct CsvRowError {
    /// 1-based line number in the file (the header is line 1).
    pub row: usize,
    /// 1-based column number.
    pub column: usize,
    /// Japanese, addressed to the person who prepared the file.
    pub message: String,
}

/// Name of a 振替休日 (substitute holiday, 祝日法 第3条第2項).
pub const SUBSTITUTE_HOLIDAY_NAME: &str = "振替休日";
/// Name of a 国民の休日 (a day between two 祝日, 祝日法 第3条第3項).
pub const CITIZENS_HOLIDAY_NAME: &str = "国民の休日";
/// Years [`computed_holidays`] answers for. 祝日法 took effect on 1948-07-20,
/// so 1948 is partial; the equinox formula is only valid up to 2099. Outside
/// this range the functions return no holidays rather than guesses.
pub const COMPUTED_YEARS: RangeInclusive<i32> = 1948..=2099;

/// The header line of the Cabinet Office's syukujitsu.csv.
pub const SYUKUJITSU_CSV_HEADER: &str = "国民の祝日・休日月日,国民の祝日・休日名称";

/// Holidays computed from 祝日法 as amended over time, for one year, sorted by
/// date: the fixed and Happy Monday holidays with their historical changes,
/// 春分の日 and 秋分の日 by the astronomical approximation, 振替休日 and
/// 国民の休日. One-off changes by special laws are not included: see
/// [`special_law_holidays`] and [`official_holidays`].
pub fn computed_holidays(year: i32) -> Vec<Holiday> {
    to_sorted_vec(with_rest_days(&national_holidays(year)))
}

/// The one-off changes by special laws, 1959 to 2021, sorted by date. Applying
/// them to [`computed_holidays`] of their year (remove the `None` dates, add
/// the named ones) gives the official list. They include the 休日 that the
/// special days create through 祝日法's own rules (2019-04-30, 2019-05-02,
/// 2021-08-09), so the list is complete on its own.
pub fn special_law_holidays() -> Vec<SpecialChange> {
    // (year, month, day, name); None removes the usual date of a moved holiday.
    const CHANGES: &[(i32, u32, u32, Option<&str>)] = &[
        // 皇太子明仁親王の結婚の儀の行われる日を休日とする法律
        (1959, 4, 10, Some("皇太子明仁親王の結婚の儀")),
        // 昭和天皇の大喪の礼の行われる日を休日とする法律
        (1989, 2, 24, Some("昭和天皇の大喪の礼")),
        // 即位礼正殿の儀の行われる日を休日とする法律
        (1990, 11, 12, Some("即位礼正殿の儀")),
        // 皇太子徳仁親王の結婚の儀の行われる日を休日とする法律
        (1993, 6, 9, Some("皇太子徳仁親王の結婚の儀")),
        // 天皇の即位の日及び即位礼正殿の儀の行われる日を休日とする法律: both
        // days count as 国民の祝日, so 4/30 and 5/2 become 国民の休日.
        (2019, 4, 30, Some(CITIZENS_HOLIDAY_NAME)),
        (2019, 5, 1, Some("天皇の即位の日")),
        (2019, 5, 2, Some(CITIZENS_HOLIDAY_NAME)),
        (2019, 10, 22, Some("即位礼正殿の儀")),
        // 東京オリンピック・パラリンピック特別措置法 (2020 games).
        (2020, 7, 20, None),
        (2020, 7, 23, Some("海の日")),
        (2020, 7, 24, Some("スポーツの日")),
        (2020, 8, 10, Some("山の日")),
        (2020, 8, 11, None),
        (2020, 10, 12, None),
        // The same law amended for the postponed games; 山の日 on Sunday 8/8
        // gives a 振替休日 on 8/9.
        (2021, 7, 19, None),
        (2021, 7, 22, Some("海の日")),
        (2021, 7, 23, Some("スポーツの日")),
        (2021, 8, 8, Some("山の日")),
        (2021, 8, 9, Some(SUBSTITUTE_HOLIDAY_NAME)),
        (2021, 8, 11, None),
        (2021, 10, 11, None),
    ];
    CHANGES
        .iter()
        .filter_map(|&(y, m, d, name)| {
            Some(SpecialChange {
                date: NaiveDate::from_ymd_opt(y, m, d)?,
                name: name.map(str::to_owned),
            })
        })
        .collect()
}

/// The holidays of one year as the government lists them, sorted by date:
/// [`computed_holidays`] with [`special_law_holidays`] applied, and 振替休日 /
/// 国民の休日 worked out again over the result (a special day can create or
/// cancel one).
pub fn official_holidays(year: i32) -> Vec<Holiday> {
    let mut shukujitsu = national_holidays(year);
    let mut listed_rest_days = BTreeMap::new();
    let mut removed = Vec::new();
    for change in special_law_holidays()
        .into_iter()
        .filter(|c| c.date.year() == year)
    {
        match change.name {
            None => {
                shukujitsu.remove(&change.date);
                removed.push(change.date);
            }
            Some(name) if is_rest_day_name(&name) => {
                listed_rest_days.insert(change.date, name);
            }
            // The special laws make their days count as 国民の祝日 for the
            // substitute and sandwich rules (explicitly so in 2019).
            Some(name) => {
                shukujitsu.insert(change.date, name);
            }
        }
    }
    let mut all = with_rest_days(&shukujitsu);
    for (date, name) in listed_rest_days {
        all.entry(date).or_insert(name);
    }
    for date in removed {
        all.remove(&date);
    }
    to_sorted_vec(all)
}

/// Days derived by rule rather than named by law; see [`official_holidays`].
fn is_rest_day_name(name: &str) -> bool {
    name == SUBSTITUTE_HOLIDAY_NAME || name == CITIZENS_HOLIDAY_NAME
}

fn to_sorted_vec(days: BTreeMap<NaiveDate, String>) -> Vec<Holiday> {
    days.into_iter()
        .map(|(date, name)| Holiday { date, name })
        .collect()
}

/// The 国民の祝日 proper (祝日法 第2条) of one year, without 振替休日 and
/// 国民の休日.
fn national_holidays(year: i32) -> BTreeMap<NaiveDate, String> {
    let mut days = BTreeMap::new();
    if !COMPUTED_YEARS.contains(&year) {
        return days;
    }
    let mut fixed = |month: u32, day: u32, name: &str| {
        if let Some(date) = NaiveDate::from_ymd_opt(year, month, day) {
            days.insert(date, name.to_owned());
        }
    };
    fixed(1, 1, "元日");
    if year < 2000 {
        fixed(1, 15, "成人の日");
    }
    if year >= 1967 {
        // Added in 1966; the date was fixed by 政令 only in December 1966.
        fixed(2, 11, "建国記念の日");
    }
    fixed(3, vernal_equinox_day(year), "春分の日");
    match year {
        ..=1988 => fixed(4, 29, "天皇誕生日"),
        1989..=2006 => fixed(4, 29, "みどりの日"),
        _ => fixed(4, 29, "昭和の日"),
    }
    fixed(5, 3, "憲法記念日");
    if year >= 2007 {
        // Until 2006 the day was a 国民の休日 in most years.
        fixed(5, 4, "みどりの日");
    }
    fixed(5, 5, "こどもの日");
    if (1996..2003).contains(&year) {
        fixed(7, 20, "海の日");
    }
    if year >= 2016 {
        fixed(8, 11, "山の日");
    }
    if (1966..2003).contains(&year) {
        fixed(9, 15, "敬老の日");
    }
    fixed(9, autumnal_equinox_day(year), "秋分の日");
    if (1966..2000).contains(&year) {
        fixed(10, 10, "体育の日");
    }
    fixed(11, 3, "文化の日");
    fixed(11, 23, "勤労感謝の日");
    match year {
        1989..=2018 => fixed(12, 23, "天皇誕生日"),
        // The 2017 abdication law moved the birthday; 2019 had none.
        2020.. => fixed(2, 23, "天皇誕生日"),
        _ => {}
    }

    // Happy Monday system (ハッピーマンデー制度): 2000 and 2003 amendments.
    let mut monday = |month: u32, nth: u8, name: &str| {
        if let Some(date) = NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Mon, nth) {
            days.insert(date, name.to_owned());
        }
    };
    if year >= 2000 {
        monday(1, 2, "成人の日");
        // 2000-2019 体育の日, renamed スポーツの日 from 2020.
        monday(
            10,
            2,
            if year < 2020 {
                "体育の日"
            } else {
                "スポーツの日"
            },
        );
    }
    if year >= 2003 {
        monday(7, 3, "海の日");
        monday(9, 3, "敬老の日");
    }

    // 祝日法 took effect on 1948-07-20.
    days.retain(|date, _| *date >= LAW_START);
    days
}

const LAW_START: NaiveDate = date_const(1948, 7, 20);
/// 振替休日 began with the amendment in force on 1973-04-12.
const SUBSTITUTE_START: NaiveDate = date_const(1973, 4, 12);
/// 国民の休日 began with the amendment in force on 1985-12-27.
const CITIZENS_START: NaiveDate = date_const(1985, 12, 27);
/// The 2005 amendment, in force from 2007, changed both rules.
const RULES_2007: NaiveDate = date_const(2007, 1, 1);

/// Evaluated at compile time, so a bad constant fails the build, not a request.
#[allow(clippy::panic)]
const fn date_const(year: i32, month: u32, day: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(year, month, day) {
        Some(date) => date,
        None => panic!("invalid date constant"),
    }
}

/// Adds 振替休日 and 国民の休日 (祝日法 第3条第2項・第3項, in the wording of
/// each period) to the 祝日 of one year. Holidays never fall near New Year's
/// Eve, so looking across the year boundary is not needed.
fn with_rest_days(shukujitsu: &BTreeMap<NaiveDate, String>) -> BTreeMap<NaiveDate, String> {
    let mut all = shukujitsu.clone();
    for &date in shukujitsu.keys() {
        if date.weekday() != Weekday::Sun || date < SUBSTITUTE_START {
            continue;
        }
        let substitute = if date < RULES_2007 {
            // 1973-2006: "その翌日を休日とする". Were the next day itself a 祝日
            // there would be nothing to add (it never happened).
            date.succ_opt()
                .filter(|next| !shukujitsu.contains_key(next))
        } else {
            // From 2007: the nearest following day that is not a 祝日.
            let mut next = date.succ_opt();
            while let Some(day) = next.filter(|d| shukujitsu.contains_key(d)) {
                next = day.succ_opt();
            }
            next
        };
        if let Some(day) = substitute {
            all.entry(day)
                .or_insert_with(|| SUBSTITUTE_HOLIDAY_NAME.to_owned());
        }
    }

    let sandwiched: Vec<NaiveDate> = shukujitsu
        .keys()
        .filter_map(|date| date.succ_opt())
        .filter(|day| {
            *day >= CITIZENS_START
                && !shukujitsu.contains_key(day)
                && day.succ_opt().is_some_and(|d| shukujitsu.contains_key(&d))
        })
        .collect();
    for day in sandwiched {
        // Until 2006 Sundays and 振替休日 were excluded; from 2007 only days
        // that are 祝日 themselves are (and a 振替休日 keeps its name).
        if day < RULES_2007 && (day.weekday() == Weekday::Sun || all.contains_key(&day)) {
            continue;
        }
        all.entry(day)
            .or_insert_with(|| CITIZENS_HOLIDAY_NAME.to_owned());
    }
    all
}

/// Day in March of 春分の日, by the usual approximation of the equinox
/// (valid 1900-2099). The real date is announced in 官報 each February for
/// the next year; the formula agrees with every announced date 1970-2026 in
/// the reference list (tests/holidays_reference.rs).
fn vernal_equinox_day(year: i32) -> u32 {
    equinox_day(year, 20.8357, 20.8431)
}

/// Day in September of 秋分の日; see [`vernal_equinox_day`].
fn autumnal_equinox_day(year: i32) -> u32 {
    equinox_day(year, 23.2588, 23.2488)
}

/// `int(base + 0.242194 (Y - 1980) - int((Y - leap_base) / 4))`: the mean
/// advance of the equinox per year, reset by each leap day. The constants
/// differ before 1980; `int` truncates toward zero, as Rust's `/` does.
fn equinox_day(year: i32, base_before_1980: f64, base_from_1980: f64) -> u32 {
    let (base, leap_base) = if year < 1980 {
        (base_before_1980, 1983)
    } else {
        (base_from_1980, 1980)
    };
    let day = base + 0.242_194 * f64::from(year - 1980) - f64::from((year - leap_base) / 4);
    // Always 19..=24 within 1900-2099, so the cast cannot truncate.
    day.floor() as u32
}

/// Decodes an uploaded text file, shared by every CSV import: UTF-8 (a BOM is
/// dropped) when the bytes are valid UTF-8, otherwise Shift_JIS (Windows-31J,
/// what Excel writes on Japanese Windows). Err carries a Japanese message.
pub fn decode_text(bytes: &[u8]) -> Result<String, String> {
    decode_located(bytes).map_err(|failure| failure.message())
}

/// [`decode_text`] with the 1-based line of the first unreadable byte, so other
/// CSV imports can report it at its row.
pub(crate) fn decode_text_with_line(bytes: &[u8]) -> Result<String, (usize, String)> {
    decode_located(bytes).map_err(|failure| (failure.line, failure.message()))
}

/// Where decoding stopped, so a CSV import can point at the line.
struct DecodeFailure {
    line: usize,
    column: usize,
    utf16: bool,
}

impl DecodeFailure {
    fn at(bytes: &[u8], offset: usize) -> Self {
        // '\n' and ',' never occur inside a Shift_JIS or UTF-8 multibyte
        // character, so counting raw bytes is exact.
        let before = bytes.get(..offset).unwrap_or(bytes);
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let column = 1 + before
            .get(line_start..)
            .map_or(0, |rest| rest.iter().filter(|&&b| b == b',').count());
        Self {
            line,
            column,
            utf16: false,
        }
    }

    fn message(&self) -> String {
        if self.utf16 {
            "UTF-16 の文字コードは読めません。UTF-8 か Shift_JIS で保存し直してください。"
                .to_owned()
        } else {
            format!(
                "{} 行目に読めない文字があります。UTF-8 か Shift_JIS で保存し直してください。",
                self.line
            )
        }
    }
}

fn decode_located(bytes: &[u8]) -> Result<String, DecodeFailure> {
    const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        // Shift_JIS would "succeed" on UTF-16 and yield garbage full of NULs.
        return Err(DecodeFailure {
            line: 1,
            column: 1,
            utf16: true,
        });
    }
    if let Some(rest) = bytes.strip_prefix(UTF8_BOM) {
        // The BOM declares UTF-8: no fallback.
        return std::str::from_utf8(rest)
            .map(str::to_owned)
            .map_err(|e| DecodeFailure::at(bytes, UTF8_BOM.len() + e.valid_up_to()));
    }
    let utf8_error = match std::str::from_utf8(bytes) {
        Ok(text) => return Ok(text.to_owned()),
        Err(e) => e.valid_up_to(),
    };
    decode_shift_jis(bytes).map_err(|sjis_error| {
        // Neither fits: the encoding that read further is the likely one.
        DecodeFailure::at(bytes, utf8_error.max(sjis_error))
    })
}

/// Err holds the byte offset of the first malformed sequence.
fn decode_shift_jis(bytes: &[u8]) -> Result<String, usize> {
    let mut decoder = SHIFT_JIS.new_decoder_without_bom_handling();
    let capacity = decoder
        .max_utf8_buffer_length_without_replacement(bytes.len())
        .unwrap_or(bytes.len());
    let mut text = String::with_capacity(capacity);
    let mut read_total = 0;
    loop {
        let rest = bytes.get(read_total..).unwrap_or_default();
        let (result, read) = decoder.decode_to_string_without_replacement(rest, &mut text, true);
        read_total += read;
        match result {
            DecoderResult::InputEmpty => return Ok(text),
            DecoderResult::OutputFull => {
                let remaining = bytes.len().saturating_sub(read_total);
                text.reserve(
                    decoder
                        .max_utf8_buffer_length_without_replacement(remaining)
                        .unwrap_or(remaining)
                        .max(16),
                );
            }
            DecoderResult::Malformed(bad, extra) => {
                return Err(read_total.saturating_sub(usize::from(bad) + usize::from(extra)));
            }
        }
    }
}

/// Parses the Cabinet Office's syukujitsu.csv (内閣府「国民の祝日について」),
/// as downloaded (Shift_JIS) or re-saved as UTF-8 with or without BOM. Rows
/// look like `1955/1/1,元日`; a first line that is not a date row is taken as
/// the header. Blank lines are skipped. All or nothing: every bad row is
/// reported, and nothing is returned unless all rows are good. The result is
/// sorted by date.
pub fn parse_syukujitsu_csv(bytes: &[u8]) -> Result<Vec<Holiday>, Vec<CsvRowError>> {
    let text = decode_located(bytes).map_err(|failure| {
        vec![CsvRowError {
            row: failure.line,
            column: failure.column,
            message: failure.message(),
        }]
    })?;

    let mut errors = Vec::new();
    let mut seen: BTreeMap<NaiveDate, (usize, String)> = BTreeMap::new();
    for (index, raw_line) in text.split('\n').enumerate() {
        let row = index + 1;
        let line = raw_line.strip_suffix('\r').unwrap_or(raw_line);
        if line.trim().is_empty() {
            continue;
        }
        let mut error = |column: usize, message: String| {
            errors.push(CsvRowError {
                row,
                column,
                message,
            });
        };
        let fields = match split_csv_line(line) {
            Ok(fields) => fields,
            Err((column, message)) => {
                error(column, message);
                continue;
            }
        };
        let date_field = fields.first().map_or("", String::as_str);
        if row == 1 && !date_field.starts_with(|c: char| c.is_ascii_digit()) {
            // The header. Its exact wording is not checked: a wrong file still
            // fails on its rows.
            continue;
        }
        let date = match parse_slash_date(date_field) {
            Ok(date) => Some(date),
            Err(message) => {
                error(1, message);
                None
            }
        };
        let name = fields.get(1).map(|n| n.as_str());
        match name {
            None => error(
                2,
                "祝日の名前がありません。「2025/1/1,元日」のように、日付と名前をカンマで区切ってください。"
                    .to_owned(),
            ),
            Some("") => error(2, "祝日の名前が空です。".to_owned()),
            Some(_) => {}
        }
        // Excel sometimes leaves trailing empty columns; only text there is wrong.
        if let Some(extra) = fields.iter().skip(2).position(|f| !f.is_empty()) {
            error(
                extra + 3,
                "列が多すぎます。日付と名前の 2 列にしてください。".to_owned(),
            );
        }
        if let (Some(date), Some(name)) = (date, name.filter(|n| !n.is_empty())) {
            if let Some((first_row, _)) = seen.get(&date) {
                error(1, format!("この日付は {first_row} 行目にもあります。"));
            } else {
                seen.insert(date, (row, name.to_owned()));
            }
        }
    }
    if errors.is_empty() && seen.is_empty() {
        errors.push(CsvRowError {
            row: 1,
            column: 1,
            message: "祝日の行がありません。".to_owned(),
        });
    }
    if errors.is_empty() {
        Ok(seen
            .into_iter()
            .map(|(date, (_, name))| Holiday { date, name })
            .collect())
    } else {
        Err(errors)
    }
}

/// Splits one CSV line into trimmed fields, honouring double quotes (a quoted
/// field may hold commas; `""` is a quote). Err: (1-based column, message).
fn split_csv_line(line: &str) -> Result<Vec<String>, (usize, String)> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let column = fields.len() + 1;
        let mut field = String::new();
        // Skip spaces before an opening quote.
        while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
        if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next() {
                    Some('"') if chars.next_if_eq(&'"').is_some() => field.push('"'),
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => {
                        return Err((column, "引用符 \" が閉じていません。".to_owned()));
                    }
                }
            }
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(_) => {
                    return Err((
                        column,
                        "引用符 \" で囲んだあとに余計な文字があります。".to_owned(),
                    ));
                }
            }
        } else {
            loop {
                match chars.next() {
                    Some(',') => break,
                    Some(c) => field.push(c),
                    None => {
                        fields.push(field.trim().to_owned());
                        return Ok(fields);
                    }
                }
            }
            fields.push(field.trim().to_owned());
        }
    }
}

/// `2025/4/1` or `2025/04/01`.
fn parse_slash_date(text: &str) -> Result<NaiveDate, String> {
    const FORMAT: &str = "日付は 2025/4/1 の形で書いてください。";
    let parts: Vec<&str> = text.split('/').collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(FORMAT.to_owned());
    };
    let digits = |s: &str, max_len: usize| {
        (!s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    let (Some(year), Some(month), Some(day)) = (digits(y, 4), digits(m, 2), digits(d, 2)) else {
        return Err(FORMAT.to_owned());
    };
    if y.len() != 4 {
        return Err(FORMAT.to_owned());
    }
    i32::try_from(year)
        .ok()
        .and_then(|year| NaiveDate::from_ymd_opt(year, month, day))
        .ok_or_else(|| format!("{year}/{month}/{day} という日はありません。"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn name_on(list: &[Holiday], date: NaiveDate) -> Option<&str> {
        list.iter()
            .find(|h| h.date == date)
            .map(|h| h.name.as_str())
    }

    fn listing(list: &[Holiday]) -> Vec<(String, &str)> {
        list.iter()
            .map(|h| (h.date.format("%m-%d").to_string(), h.name.as_str()))
            .collect()
    }

    #[test]
    fn a_whole_recent_year() {
        let expected = [
            ("01-01", "元日"),
            ("01-08", "成人の日"),
            ("02-11", "建国記念の日"),
            ("02-12", "振替休日"),
            ("02-23", "天皇誕生日"),
            ("03-20", "春分の日"),
            ("04-29", "昭和の日"),
            ("05-03", "憲法記念日"),
            ("05-04", "みどりの日"),
            ("05-05", "こどもの日"),
            ("05-06", "振替休日"),
            ("07-15", "海の日"),
            ("08-11", "山の日"),
            ("08-12", "振替休日"),
            ("09-16", "敬老の日"),
            ("09-22", "秋分の日"),
            ("09-23", "振替休日"),
            ("10-14", "スポーツの日"),
            ("11-03", "文化の日"),
            ("11-04", "振替休日"),
            ("11-23", "勤労感謝の日"),
        ];
        let expected: Vec<(String, &str)> =
            expected.iter().map(|(a, b)| (a.to_string(), *b)).collect();
        assert_eq!(listing(&computed_holidays(2024)), expected);
        assert_eq!(official_holidays(2024), computed_holidays(2024));
    }

    #[test]
    fn substitute_holidays_follow_the_rule_of_their_time() {
        // Before 1973-04-12 a Sunday holiday was simply lost.
        let y1973 = computed_holidays(1973);
        assert_eq!(name_on(&y1973, d(1973, 2, 12)), None);
        // The first 振替休日.
        assert_eq!(
            name_on(&y1973, d(1973, 4, 30)),
            Some(SUBSTITUTE_HOLIDAY_NAME)
        );
        // Until 2006 always the Monday.
        assert_eq!(
            name_on(&computed_holidays(2006), d(2006, 1, 2)),
            Some(SUBSTITUTE_HOLIDAY_NAME)
        );
        // From 2007 the next day that is not a 祝日: 5/3 Sunday skips 5/4 and 5/5.
        let y2020 = computed_holidays(2020);
        assert_eq!(
            name_on(&y2020, d(2020, 5, 6)),
            Some(SUBSTITUTE_HOLIDAY_NAME)
        );
        assert_eq!(name_on(&y2020, d(2020, 5, 4)), Some("みどりの日"));
        // 5/4 Sunday likewise.
        assert_eq!(
            name_on(&computed_holidays(2025), d(2025, 5, 6)),
            Some(SUBSTITUTE_HOLIDAY_NAME)
        );
        // A Saturday holiday gets none.
        assert_eq!(
            name_on(&computed_holidays(2026), d(2026, 5, 4)),
            Some("みどりの日")
        );
        assert_eq!(name_on(&computed_holidays(2026), d(2026, 5, 7)), None);
    }

    #[test]
    fn citizens_holiday_between_two_shukujitsu() {
        for (y, m, day) in [(2009, 9, 22), (2015, 9, 22), (2026, 9, 22), (1988, 5, 4)] {
            assert_eq!(
                name_on(&computed_holidays(y), d(y, m, day)),
                Some(CITIZENS_HOLIDAY_NAME),
                "{y}-{m}-{day}"
            );
        }
        // Not before the 1985 amendment.
        assert_eq!(name_on(&computed_holidays(1985), d(1985, 5, 4)), None);
        // 1986-05-04 was a Sunday, which the old wording excluded.
        assert_eq!(name_on(&computed_holidays(1986), d(1986, 5, 4)), None);
        // 1987-05-04 was a 振替休日 for 5/3, not a 国民の休日.
        assert_eq!(
            name_on(&computed_holidays(1987), d(1987, 5, 4)),
            Some(SUBSTITUTE_HOLIDAY_NAME)
        );
        // 2020: 敬老の日 9/21 and 秋分の日 9/22 are adjacent, nothing between.
        assert_eq!(
            name_on(&computed_holidays(2020), d(2020, 9, 22)),
            Some("秋分の日")
        );
    }

    #[test]
    fn equinox_samples() {
        let samples = [
            (1960, 3, 20),
            (1979, 3, 21),
            (1979, 9, 24),
            (2012, 9, 22),
            (2016, 3, 20),
            (2021, 9, 23),
            (2022, 3, 21),
            (2024, 3, 20),
            (2024, 9, 22),
            (2025, 3, 20),
            (2025, 9, 23),
        ];
        for (y, m, day) in samples {
            let expected = if m == 3 {
                "春分の日"
            } else {
                "秋分の日"
            };
            assert_eq!(
                name_on(&computed_holidays(y), d(y, m, day)),
                Some(expected),
                "{y}-{m}-{day}"
            );
        }
    }

    #[test]
    fn equinox_formula_is_never_on_a_knife_edge() {
        // A value within 1e-6 of an integer would make the result depend on
        // floating-point rounding.
        for year in COMPUTED_YEARS {
            for (base_before, base_from) in [(20.8357, 20.8431), (23.2588, 23.2488)] {
                let (base, leap) = if year < 1980 {
                    (base_before, 1983)
                } else {
                    (base_from, 1980)
                };
                let x: f64 =
                    base + 0.242_194 * f64::from(year - 1980) - f64::from((year - leap) / 4);
                assert!((x - x.round()).abs() > 1e-6, "{year}: {x}");
            }
        }
    }

    #[test]
    fn historical_fixed_dates() {
        let has = |y, m, day, name| name_on(&computed_holidays(y), d(y, m, day)) == Some(name);
        assert!(has(1988, 4, 29, "天皇誕生日"));
        assert!(has(1989, 4, 29, "みどりの日"));
        assert!(has(2018, 12, 23, "天皇誕生日"));
        assert!(
            !computed_holidays(2019)
                .iter()
                .any(|h| h.name == "天皇誕生日")
        );
        assert!(has(2020, 2, 23, "天皇誕生日"));
        assert!(has(2007, 4, 29, "昭和の日"));
        assert!(has(1996, 7, 20, "海の日"));
        assert!(has(2003, 7, 21, "海の日"));
        assert!(has(1966, 9, 15, "敬老の日"));
        assert!(has(1966, 10, 10, "体育の日"));
        assert!(!computed_holidays(1965).iter().any(|h| h.name == "敬老の日"));
        assert!(has(1967, 2, 11, "建国記念の日"));
        assert!(
            !computed_holidays(1966)
                .iter()
                .any(|h| h.name == "建国記念の日")
        );
        assert!(has(1999, 1, 15, "成人の日"));
        assert!(has(2000, 1, 10, "成人の日"));
        assert!(has(2019, 10, 14, "体育の日"));
        assert!(has(2016, 8, 11, "山の日"));
        // 1948 starts on 1948-07-20.
        let y1948: Vec<NaiveDate> = computed_holidays(1948).iter().map(|h| h.date).collect();
        assert_eq!(y1948, vec![d(1948, 9, 23), d(1948, 11, 3), d(1948, 11, 23)]);
        assert!(computed_holidays(1947).is_empty());
        assert!(computed_holidays(2100).is_empty());
    }

    #[test]
    fn special_laws_apply() {
        let y2019 = official_holidays(2019);
        // Ten days off in a row, 4/27 (Sat) to 5/6.
        for day in 29..=30 {
            assert!(name_on(&y2019, d(2019, 4, day)).is_some());
        }
        for day in 1..=6 {
            assert!(name_on(&y2019, d(2019, 5, day)).is_some(), "5/{day}");
        }
        assert_eq!(name_on(&y2019, d(2019, 4, 30)), Some(CITIZENS_HOLIDAY_NAME));
        assert_eq!(name_on(&y2019, d(2019, 5, 1)), Some("天皇の即位の日"));
        assert_eq!(name_on(&y2019, d(2019, 10, 22)), Some("即位礼正殿の儀"));

        let y2021 = official_holidays(2021);
        assert_eq!(name_on(&y2021, d(2021, 8, 8)), Some("山の日"));
        assert_eq!(
            name_on(&y2021, d(2021, 8, 9)),
            Some(SUBSTITUTE_HOLIDAY_NAME)
        );
        assert_eq!(name_on(&y2021, d(2021, 8, 11)), None);
        assert_eq!(name_on(&y2021, d(2021, 10, 11)), None);
        assert_eq!(name_on(&y2021, d(2021, 7, 23)), Some("スポーツの日"));

        assert_eq!(
            name_on(&official_holidays(1959), d(1959, 4, 10)),
            Some("皇太子明仁親王の結婚の儀")
        );
    }

    /// The data alone, overlaid on the computed list, must give what the
    /// rules give when re-evaluated: the listed 休日 and the rules agree.
    #[test]
    fn special_changes_overlay_equals_reevaluation() {
        let changes = special_law_holidays();
        assert_eq!(changes.len(), 21, "every data row is a valid date");
        let mut years: Vec<i32> = changes.iter().map(|c| c.date.year()).collect();
        years.dedup();
        for year in years {
            let mut overlay: BTreeMap<NaiveDate, String> = computed_holidays(year)
                .into_iter()
                .map(|h| (h.date, h.name))
                .collect();
            for change in changes.iter().filter(|c| c.date.year() == year) {
                match &change.name {
                    None => assert!(overlay.remove(&change.date).is_some(), "{:?}", change),
                    Some(name) => assert!(
                        overlay.insert(change.date, name.clone()).is_none(),
                        "{change:?} adds a day that is already a holiday"
                    ),
                }
            }
            assert_eq!(to_sorted_vec(overlay), official_holidays(year), "{year}");
        }
        // And without the listed 休日 the rules alone still produce them.
        let mut shukujitsu = national_holidays(2019);
        shukujitsu.insert(d(2019, 5, 1), "天皇の即位の日".to_owned());
        let derived = with_rest_days(&shukujitsu);
        assert_eq!(
            derived.get(&d(2019, 4, 30)).map(String::as_str),
            Some(CITIZENS_HOLIDAY_NAME)
        );
        assert_eq!(
            derived.get(&d(2019, 5, 2)).map(String::as_str),
            Some(CITIZENS_HOLIDAY_NAME)
        );
    }

    fn to_csv(holidays: &[Holiday]) -> String {
        let mut text = format!("{SYUKUJITSU_CSV_HEADER}\r\n");
        for h in holidays {
            text.push_str(&format!("{},{}\r\n", h.date.format("%Y/%-m/%-d"), h.name));
        }
        text
    }

    #[test]
    fn shift_jis_csv_round_trip() {
        let holidays: Vec<Holiday> = (2018..=2021).flat_map(official_holidays).collect();
        let text = to_csv(&holidays);
        let (bytes, _, unmappable) = SHIFT_JIS.encode(&text);
        assert!(!unmappable);
        assert!(std::str::from_utf8(&bytes).is_err(), "really Shift_JIS");
        assert_eq!(parse_syukujitsu_csv(&bytes).unwrap(), holidays);
    }

    #[test]
    fn utf8_with_bom_and_quotes() {
        let text = "\u{FEFF}国民の祝日・休日月日,国民の祝日・休日名称\n\"2025/01/01\",\"元日\"\n2025/1/13, 成人の日 ,\n\n";
        let parsed = parse_syukujitsu_csv(text.as_bytes()).unwrap();
        assert_eq!(
            parsed,
            vec![
                Holiday {
                    date: d(2025, 1, 1),
                    name: "元日".to_owned()
                },
                Holiday {
                    date: d(2025, 1, 13),
                    name: "成人の日".to_owned()
                },
            ]
        );
    }

    #[test]
    fn bad_rows_are_all_reported_with_row_and_column() {
        let text = "国民の祝日・休日月日,国民の祝日・休日名称\n\
                    2025/1/1,元日\n\
                    2025-01-13,成人の日\n\
                    2025/2/30,建国記念の日\n\
                    2025/3/20,\n\
                    2025/4/29\n\
                    2025/5/3,憲法記念日,余計\n\
                    2025/01/01,元日\n\
                    \"2025/5/5,こどもの日\n";
        let errors = parse_syukujitsu_csv(text.as_bytes()).unwrap_err();
        let got: Vec<(usize, usize, &str)> = errors
            .iter()
            .map(|e| (e.row, e.column, e.message.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (3, 1, "日付は 2025/4/1 の形で書いてください。"),
                (4, 1, "2025/2/30 という日はありません。"),
                (5, 2, "祝日の名前が空です。"),
                (
                    6,
                    2,
                    "祝日の名前がありません。「2025/1/1,元日」のように、日付と名前をカンマで区切ってください。"
                ),
                (7, 3, "列が多すぎます。日付と名前の 2 列にしてください。"),
                (8, 1, "この日付は 2 行目にもあります。"),
                (9, 1, "引用符 \" が閉じていません。"),
            ]
        );
        assert_eq!(
            errors[0].to_string(),
            "3 行目 1 列目: 日付は 2025/4/1 の形で書いてください。"
        );
    }

    #[test]
    fn empty_and_undecodable_files() {
        let errors = parse_syukujitsu_csv(SYUKUJITSU_CSV_HEADER.as_bytes()).unwrap_err();
        assert_eq!((errors[0].row, errors[0].column), (1, 1));

        // Line 3, second column: 0x82 0x20 is no Shift_JIS character and no UTF-8.
        let bytes = b"header,x\r\n2025/1/1,a\r\n2025/1/2,\x82 \r\n";
        let errors = parse_syukujitsu_csv(bytes).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].row, errors[0].column), (3, 2));
        assert!(
            errors[0].message.contains("3 行目"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn decode_text_variants() {
        assert_eq!(decode_text("元日".as_bytes()).unwrap(), "元日");
        assert_eq!(decode_text("\u{FEFF}元日".as_bytes()).unwrap(), "元日");
        let (sjis, _, _) = SHIFT_JIS.encode("髙橋①～");
        assert_eq!(decode_text(&sjis).unwrap(), "髙橋①～");
        assert!(
            decode_text(b"\xEF\xBB\xBF\x82\xA0").is_err(),
            "BOM declares UTF-8"
        );
        assert!(
            decode_text(b"\xFF\xFEa\x00")
                .unwrap_err()
                .contains("UTF-16")
        );
        assert!(decode_text(b"ok\n\x80\xFF").is_err());
        assert_eq!(decode_text(b"").unwrap(), "");
    }

    proptest! {
        #[test]
        fn official_lists_are_well_formed(year in 1949i32..=2099) {
            let list = official_holidays(year);
            prop_assert!(list.windows(2).all(|w| w[0].date < w[1].date), "sorted, unique");
            prop_assert!(list.iter().all(|h| h.date.year() == year));
            prop_assert!(list.iter().all(|h| !h.name.is_empty()));
            for h in list.iter().filter(|h| h.name == SUBSTITUTE_HOLIDAY_NAME) {
                prop_assert_ne!(h.date.weekday(), Weekday::Sun);
                prop_assert!(h.date >= SUBSTITUTE_START);
            }
            for h in list.iter().filter(|h| h.name == CITIZENS_HOLIDAY_NAME) {
                prop_assert!(h.date >= CITIZENS_START);
                let neighbours = [h.date.pred_opt().unwrap(), h.date.succ_opt().unwrap()];
                prop_assert!(neighbours.iter().all(|n| list.iter().any(|o| o.date == *n)));
            }
            // Every Sunday 祝日 since 1973-04-12 has a 振替休日 after it.
            for h in list.iter().filter(|h| {
                h.date.weekday() == Weekday::Sun && h.date >= SUBSTITUTE_START
            }) {
                let mut next = h.date.succ_opt().unwrap();
                while list.iter().any(|o| o.date == next && o.name != SUBSTITUTE_HOLIDAY_NAME) {
                    next = next.succ_opt().unwrap();
                }
                prop_assert_eq!(name_on(&list, next), Some(SUBSTITUTE_HOLIDAY_NAME), "{}", h.date);
            }
            // Fixed count of 祝日 proper: 16 from 2020 (with 2/23), at least 9 ever.
            let proper = list.iter().filter(|h| !is_rest_day_name(&h.name)).count();
            prop_assert!(proper >= 9);
        }

        #[test]
        fn csv_round_trip_any_year(year in 1955i32..=2099) {
            let holidays = official_holidays(year);
            let text = to_csv(&holidays);
            let (bytes, _, _) = SHIFT_JIS.encode(&text);
            prop_assert_eq!(parse_syukujitsu_csv(&bytes).unwrap(), holidays);
        }
    }
}
