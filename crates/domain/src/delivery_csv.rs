//! CSV bulk registration of scheduled and recurring deliveries (M13: 500 and
//! more patterns at once). The format is documented in docs/CSV-FORMATS.md.
//!
//! All or nothing: every row and column is checked and every problem returned
//! with the row number Excel shows (a cell with line breaks is still one row;
//! blank lines count), the column's heading and a Japanese message. Segment
//! names are returned as names: only the caller can look them up.
//!
//! The file is read by a small RFC 4180 reader rather than the `csv` crate,
//! because that crate skips blank lines and counts physical lines, so its
//! numbers drift from Excel's rows, and it silently accepts an unclosed quote
//! by swallowing the rest of the file into one cell.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{NaiveDate, NaiveDateTime};

use crate::datetime::{format_date_plain, parse_date};
use crate::holidays::decode_text_with_line;
use crate::schedule::{MonthDaySet, NthSet, Schedule, SendTime, WeekdaySet, check_year};
use crate::segment::SegmentName;
use crate::validation::{optional_text, required_text};

/// Most delivery rows in one file.
pub const MAX_ROWS: usize = 10_000;
/// LINE's limit for a text message, in UTF-16 code units.
pub const TEXT_MAX_UTF16: usize = 5_000;
/// Longest title, in characters.
pub const TITLE_MAX_CHARS: usize = 100;
/// Longest memo, in characters.
pub const MEMO_MAX_CHARS: usize = 200;

/// One problem in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryCsvError {
    /// The row as Excel numbers it; the heading row is 1.
    pub row: usize,
    /// The column's heading as written in the file; empty for a whole row or file.
    pub column: String,
    /// Japanese, addressed to the person who prepared the file.
    pub message: String,
}

impl fmt::Display for DeliveryCsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.column.is_empty() {
            write!(f, "{} 行目: {}", self.row, self.message)
        } else {
            write!(f, "{} 行目「{}」: {}", self.row, self.column, self.message)
        }
    }
}

/// One delivery read from the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryPattern {
    /// The row it came from, for messages after the import.
    pub row: usize,
    pub title: String,
    pub schedule: Schedule,
    /// `None`: every friend.
    pub segment: Option<SegmentName>,
    /// The text message; line breaks are `\n`.
    pub text: String,
    pub memo: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Column {
    Title,
    Method,
    Date,
    End,
    Time,
    Weekdays,
    Days,
    Nth,
    Segment,
    Text,
    Memo,
}

impl Column {
    const ALL: [Column; 11] = [
        Column::Title,
        Column::Method,
        Column::Date,
        Column::End,
        Column::Time,
        Column::Weekdays,
        Column::Days,
        Column::Nth,
        Column::Segment,
        Column::Text,
        Column::Memo,
    ];

    fn name(self) -> &'static str {
        match self {
            Column::Title => "タイトル",
            Column::Method => "配信方法",
            Column::Date => "日付",
            Column::End => "終了日",
            Column::Time => "時刻",
            Column::Weekdays => "曜日",
            Column::Days => "日",
            Column::Nth => "第n週",
            Column::Segment => "セグメント",
            Column::Text => "本文",
            Column::Memo => "メモ",
        }
    }

    /// Headings people are likely to write for the same column.
    fn from_heading(heading: &str) -> Option<Self> {
        let h: String = heading
            .trim()
            .chars()
            .map(|c| match c {
                'ｎ' | 'Ｎ' | 'N' => 'n',
                _ => c,
            })
            .collect();
        let column = match h.as_str() {
            "開始日" | "配信日" => Column::Date,
            "配信時刻" => Column::Time,
            _ => return Self::ALL.into_iter().find(|c| c.name() == h),
        };
        Some(column)
    }

    fn required(self) -> bool {
        matches!(
            self,
            Column::Title | Column::Method | Column::Date | Column::Time | Column::Text
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Once,
    Weekly,
    MonthlyDays,
    MonthlyWeekdays,
}

const METHODS: &str = "一回、毎週、毎月(日)、毎月(曜日)";

impl Method {
    fn parse(text: &str) -> Result<Self, String> {
        let normalized: String = text
            .trim()
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| match c {
                '（' => '(',
                '）' => ')',
                '１' => '1',
                _ => c,
            })
            .collect();
        match normalized.as_str() {
            "" => Err(format!("配信方法を入力してください（{METHODS}）。")),
            "一回" | "1回" => Ok(Method::Once),
            "毎週" => Ok(Method::Weekly),
            "毎月(日)" | "毎月(日付)" => Ok(Method::MonthlyDays),
            "毎月(曜日)" => Ok(Method::MonthlyWeekdays),
            _ => Err(format!(
                "配信方法「{}」が分かりません。{METHODS} のいずれかにしてください。",
                text.trim()
            )),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Method::Once => "一回",
            Method::Weekly => "毎週",
            Method::MonthlyDays => "毎月(日)",
            Method::MonthlyWeekdays => "毎月(曜日)",
        }
    }

    /// Whether the method uses the column; the others must be empty.
    fn uses(self, column: Column) -> bool {
        match column {
            Column::End => self != Method::Once,
            Column::Weekdays => matches!(self, Method::Weekly | Method::MonthlyWeekdays),
            Column::Days => self == Method::MonthlyDays,
            Column::Nth => self == Method::MonthlyWeekdays,
            _ => true,
        }
    }
}

/// One record with the row Excel shows for it.
struct Record {
    row: usize,
    fields: Vec<String>,
}

/// RFC 4180 with Excel's habits: `,` between fields, `"` around a field that
/// holds commas, quotes (`""`) or line breaks, CRLF or LF between records. A
/// quote inside an unquoted field is kept as text, as Excel does. Err: (row,
/// message).
fn read_records(text: &str) -> Result<Vec<Record>, (usize, String)> {
    let mut records = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut row = 1;
    let mut at_field_start = true;
    let mut chars = text.chars().peekable();
    loop {
        let c = chars.next();
        match c {
            Some('"') if at_field_start => {
                at_field_start = false;
                loop {
                    match chars.next() {
                        Some('"') if chars.next_if_eq(&'"').is_some() => field.push('"'),
                        Some('"') => break,
                        Some(c) => field.push(c),
                        None => return Err((row, "引用符 \" が閉じていません。".to_owned())),
                    }
                }
                if !matches!(chars.peek(), None | Some(',' | '\r' | '\n')) {
                    return Err((
                        row,
                        "引用符 \" で囲んだ値のあとに余計な文字があります。値の中の \" は \"\" と書いてください。"
                            .to_owned(),
                    ));
                }
            }
            Some(',') => {
                fields.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            Some('\r' | '\n') | None => {
                if c == Some('\r') {
                    chars.next_if_eq(&'\n');
                }
                if c.is_none() && fields.is_empty() && field.is_empty() && at_field_start {
                    // The file ended with a line break: no further record.
                    break;
                }
                fields.push(std::mem::take(&mut field));
                records.push(Record {
                    row,
                    fields: std::mem::take(&mut fields),
                });
                row += 1;
                at_field_start = true;
                if c.is_none() {
                    break;
                }
            }
            Some(c) => {
                field.push(c);
                at_field_start = false;
            }
        }
    }
    Ok(records)
}

/// The headings: which column each position holds, with the heading as written.
type Layout = Vec<Option<(Column, String)>>;

fn read_heading(record: &Record) -> Result<Layout, Vec<DeliveryCsvError>> {
    let mut errors = Vec::new();
    let mut seen: BTreeMap<Column, String> = BTreeMap::new();
    let mut layout = Vec::new();
    let error = |column: &str, message: String| DeliveryCsvError {
        row: 1,
        column: column.to_owned(),
        message,
    };
    for heading in &record.fields {
        let heading = heading.trim();
        if heading.is_empty() {
            // Excel leaves empty headings after the last column.
            layout.push(None);
            continue;
        }
        match Column::from_heading(heading) {
            None => {
                errors.push(error(
                    heading,
                    format!(
                        "見出し「{heading}」は使えません。使える見出し: {}",
                        Column::ALL.map(Column::name).join("、")
                    ),
                ));
                layout.push(None);
            }
            Some(column) => {
                if let Some(first) = seen.get(&column) {
                    errors.push(error(
                        heading,
                        format!(
                            "見出し「{heading}」は「{first}」と同じ列です。1つにしてください。"
                        ),
                    ));
                } else {
                    seen.insert(column, heading.to_owned());
                }
                layout.push(Some((column, heading.to_owned())));
            }
        }
    }
    for column in Column::ALL {
        if column.required() && !seen.contains_key(&column) {
            errors.push(error(
                column.name(),
                format!(
                    "見出し「{}」がありません。1行目は見出しにしてください。",
                    column.name()
                ),
            ));
        }
    }
    if errors.is_empty() {
        Ok(layout)
    } else {
        Err(errors)
    }
}

/// The text of a LINE message: line breaks become `\n`; LINE counts UTF-16 units.
fn parse_text(raw: &str) -> Result<String, String> {
    let text = raw.replace("\r\n", "\n").replace('\r', "\n");
    let text = text.trim();
    if text.is_empty() {
        return Err("本文を入力してください。".to_owned());
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err("本文に使えない文字が含まれています。".to_owned());
    }
    let units = text.encode_utf16().count();
    if units > TEXT_MAX_UTF16 {
        return Err(format!(
            "本文が長すぎます（{units}文字）。LINEの上限の{TEXT_MAX_UTF16}文字以内にしてください（絵文字など一部の文字は2文字に数えます）。"
        ));
    }
    Ok(text.to_owned())
}

/// Reads a delivery CSV (UTF-8 with or without BOM, or Shift_JIS). `now` is
/// the current Japan time: a one-time delivery must be after it, a recurring
/// one must still have a delivery after it.
pub fn parse_delivery_csv(
    bytes: &[u8],
    now: NaiveDateTime,
) -> Result<Vec<DeliveryPattern>, Vec<DeliveryCsvError>> {
    let whole = |row: usize, message: String| {
        vec![DeliveryCsvError {
            row,
            column: String::new(),
            message,
        }]
    };
    let text = decode_text_with_line(bytes).map_err(|(line, message)| whole(line, message))?;
    let records = read_records(&text).map_err(|(row, message)| whole(row, message))?;
    let Some((heading, rows)) = records.split_first() else {
        return Err(whole(
            1,
            "ファイルが空です。1行目に見出し、2行目から配信を書いてください。".to_owned(),
        ));
    };
    let layout = read_heading(heading)?;
    let rows: Vec<&Record> = rows
        .iter()
        .filter(|r| r.fields.iter().any(|f| !f.trim().is_empty()))
        .collect();
    if rows.is_empty() {
        return Err(whole(2, "配信の行がありません。".to_owned()));
    }
    if rows.len() > MAX_ROWS {
        return Err(whole(
            rows.get(MAX_ROWS).map_or(MAX_ROWS + 1, |r| r.row),
            format!("一度に登録できるのは{MAX_ROWS}行までです。ファイルを分けてください。"),
        ));
    }

    let mut errors = Vec::new();
    let mut patterns = Vec::new();
    let mut seen: BTreeMap<(String, String, String, String), usize> = BTreeMap::new();
    for record in rows {
        let mut row = RowReader {
            record,
            layout: &layout,
            errors: &mut errors,
        };
        if let Some(pattern) = row.read(now) {
            let key = (
                pattern.title.clone(),
                format!("{:?}", pattern.schedule),
                pattern
                    .segment
                    .as_ref()
                    .map(|s| s.to_string())
                    .unwrap_or_default(),
                pattern.text.clone(),
            );
            if let Some(first) = seen.get(&key) {
                row.error(
                    Column::Title,
                    format!("{first} 行目と同じ配信です。同じ人に2回届いてしまいます。"),
                );
            } else {
                seen.insert(key, record.row);
                patterns.push(pattern);
            }
        }
    }
    if errors.is_empty() {
        Ok(patterns)
    } else {
        Err(errors)
    }
}

struct RowReader<'a> {
    record: &'a Record,
    layout: &'a Layout,
    errors: &'a mut Vec<DeliveryCsvError>,
}

impl RowReader<'_> {
    fn heading(&self, column: Column) -> String {
        self.layout
            .iter()
            .flatten()
            .find(|(c, _)| *c == column)
            .map_or_else(|| column.name().to_owned(), |(_, h)| h.clone())
    }

    fn value(&self, column: Column) -> &str {
        self.layout
            .iter()
            .position(|l| l.as_ref().is_some_and(|(c, _)| *c == column))
            .and_then(|i| self.record.fields.get(i))
            .map_or("", |v| v.trim())
    }

    fn error(&mut self, column: Column, message: String) {
        let column = self.heading(column);
        self.errors.push(DeliveryCsvError {
            row: self.record.row,
            column,
            message,
        });
    }

    fn take<T>(&mut self, column: Column, result: Result<T, String>) -> Option<T> {
        result.map_err(|message| self.error(column, message)).ok()
    }

    fn date(&mut self, column: Column) -> Option<NaiveDate> {
        let date = parse_date(self.value(column)).and_then(|d| check_year(d).map(|()| d));
        self.take(column, date)
    }

    fn read(&mut self, now: NaiveDateTime) -> Option<DeliveryPattern> {
        let before = self.errors.len();
        if let Some(extra) = self
            .record
            .fields
            .iter()
            .enumerate()
            .skip(self.layout.len())
            .find(|(_, f)| !f.trim().is_empty())
            .map(|(i, _)| i + 1)
        {
            self.errors.push(DeliveryCsvError {
                row: self.record.row,
                column: String::new(),
                message: format!("見出しのない {extra} 列目に値があります。"),
            });
        }
        let title = required_text(self.value(Column::Title), "タイトル", TITLE_MAX_CHARS);
        let title = self.take(Column::Title, title);
        let method = Method::parse(self.value(Column::Method));
        let method = self.take(Column::Method, method);
        let start = self.date(Column::Date);
        let time = SendTime::parse(self.value(Column::Time));
        let time = self.take(Column::Time, time);
        let segment = match self.value(Column::Segment) {
            "" => Some(None),
            name => {
                let name = SegmentName::parse(name);
                self.take(Column::Segment, name).map(Some)
            }
        };
        let text = parse_text(self.value(Column::Text));
        let text = self.take(Column::Text, text);
        let memo = optional_text(self.value(Column::Memo), "メモ", MEMO_MAX_CHARS);
        let memo = self.take(Column::Memo, memo);

        let schedule = method.and_then(|method| self.schedule(method, start, time));
        if let Some(schedule) = &schedule {
            self.check_not_past(schedule, now);
        }
        if self.errors.len() > before {
            return None;
        }
        Some(DeliveryPattern {
            row: self.record.row,
            title: title?,
            schedule: schedule?,
            segment: segment?,
            text: text?,
            memo: memo?,
        })
    }

    /// The method's own columns; the columns it does not use must be empty so
    /// that a row never means something other than what its author read.
    fn schedule(
        &mut self,
        method: Method,
        start: Option<NaiveDate>,
        time: Option<SendTime>,
    ) -> Option<Schedule> {
        let mut complete = true;
        for column in [Column::End, Column::Weekdays, Column::Days, Column::Nth] {
            if !method.uses(column) && !self.value(column).is_empty() {
                let name = self.heading(column);
                self.error(
                    column,
                    format!(
                        "配信方法が「{}」のときは{name}を空にしてください。",
                        method.label()
                    ),
                );
                complete = false;
            }
        }
        let end = if method.uses(Column::End) && !self.value(Column::End).is_empty() {
            let end = self.date(Column::End);
            complete &= end.is_some();
            end
        } else {
            None
        };
        let mut set = |column: Column, parse: &dyn Fn(&str) -> Result<u32, String>| {
            if !method.uses(column) {
                return 0;
            }
            let parsed = parse(self.value(column));
            match self.take(column, parsed) {
                Some(bits) => bits,
                None => {
                    complete = false;
                    0
                }
            }
        };
        let weekdays = set(Column::Weekdays, &|v| {
            WeekdaySet::parse(v).map(|s| u32::from(s.bits()))
        });
        let days = set(Column::Days, &|v| MonthDaySet::parse(v).map(|s| s.bits()));
        let nths = set(Column::Nth, &|v| {
            NthSet::parse(v).map(|s| u32::from(s.bits()))
        });
        let (start, time) = (start?, time?);
        if let Some(end) = end.filter(|end| *end < start) {
            let heading = self.heading(Column::Date);
            self.error(
                Column::End,
                format!(
                    "終了日（{}）は{heading}（{}）以降にしてください。",
                    format_date_plain(end),
                    format_date_plain(start)
                ),
            );
            return None;
        }
        if !complete {
            return None;
        }
        let weekdays = WeekdaySet::from_bits(u8::try_from(weekdays).unwrap_or(0));
        let result = match method {
            Method::Once => Schedule::once(start, time),
            Method::Weekly => Schedule::weekly(weekdays, time, start, end),
            Method::MonthlyDays => {
                Schedule::monthly_days(MonthDaySet::from_bits(days), time, start, end)
            }
            Method::MonthlyWeekdays => Schedule::monthly_weekdays(
                NthSet::from_bits(u8::try_from(nths).unwrap_or(0)),
                weekdays,
                time,
                start,
                end,
            ),
        };
        // The columns are checked above; what is left is a period without a
        // delivery day, which its end date decides.
        self.take(Column::End, result)
    }

    fn check_not_past(&mut self, schedule: &Schedule, now: NaiveDateTime) {
        if schedule.next_after(now).is_some() {
            return;
        }
        if schedule.is_recurring() {
            self.error(
                Column::End,
                "終了日までの配信日はすべて過ぎています。".to_owned(),
            );
        } else {
            self.error(
                Column::Date,
                format!(
                    "配信日時（{} {}）は過ぎています。",
                    format_date_plain(schedule.start()),
                    schedule.time()
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::Pattern;
    use encoding_rs::SHIFT_JIS;
    use proptest::prelude::*;

    const HEADING: &str = "タイトル,配信方法,日付,終了日,時刻,曜日,日,第n週,セグメント,本文,メモ";

    fn now() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 3, 1)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
    }

    fn parse(text: &str) -> Result<Vec<DeliveryPattern>, Vec<DeliveryCsvError>> {
        parse_delivery_csv(text.as_bytes(), now())
    }

    fn errors(rows: &[&str]) -> Vec<String> {
        let text = format!("{HEADING}\r\n{}\r\n", rows.join("\r\n"));
        parse(&text)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn reads_every_method() {
        let text = format!(
            "\u{FEFF}{HEADING}\r\n\
             ごみ出しの日,毎週,2026/4/1,2027/3/31,7:00,月・木,,,本庄地区,\"明日は燃えるごみの日です。\r\n7時までに出してください。\",資源ごみは別\r\n\
             広報くにとみ,毎月(日),2026-04-01,,9:00,,1・15,,,広報が発行されました。,\r\n\
             子育てサロン,毎月（曜日）,2026/4/1,,10:00,水,,第1・最終,子育て世帯,\"今日は「サロン」の日です。\"\"どうぞ\"\"\",\r\n\
             防災訓練,一回,2026年9月1日,,9:30,,,,,町の防災訓練を行います。,\r\n"
        );
        let patterns = parse(&text).unwrap();
        assert_eq!(patterns.len(), 4);
        let weekly = &patterns[0];
        assert_eq!(weekly.row, 2);
        assert_eq!(
            weekly.schedule.describe_ja(),
            "毎週 月・木 7:00（2026年4月1日から2027年3月31日まで）"
        );
        assert_eq!(weekly.segment.as_ref().unwrap().as_str(), "本庄地区");
        assert_eq!(
            weekly.text,
            "明日は燃えるごみの日です。\n7時までに出してください。"
        );
        assert_eq!(weekly.memo, "資源ごみは別");
        assert_eq!(
            patterns[1].row, 3,
            "a cell with a line break is one Excel row"
        );
        assert_eq!(
            patterns[1].schedule.describe_ja(),
            "毎月 1日・15日 9:00（2026年4月1日から）"
        );
        assert_eq!(patterns[1].segment, None);
        assert_eq!(
            patterns[2].schedule.describe_ja(),
            "毎月 第1・最終 水曜 10:00（2026年4月1日から）"
        );
        assert_eq!(patterns[2].text, "今日は「サロン」の日です。\"どうぞ\"");
        assert_eq!(patterns[3].schedule.pattern(), Pattern::Once);
        assert_eq!(
            patterns[3].schedule.describe_ja(),
            "2026年9月1日(火) 9:30（1回）"
        );
    }

    #[test]
    fn six_hundred_rows_in_shift_jis() {
        let mut text = format!("{HEADING}\r\n");
        let days = ["月", "火", "水", "木", "金", "土", "日"];
        for i in 0..600 {
            let row = match i % 4 {
                0 => format!(
                    "ごみ収集{i},毎週,2026/4/1,2027/3/31,{}:{:02},{},,,地区{},収集日のお知らせ{i},",
                    6 + i % 12,
                    (i % 12) * 5,
                    days[i % 7],
                    i % 30
                ),
                1 => format!(
                    "健診案内{i},毎月(日),2026/4/1,,9:00,,{},,,健診のご案内{i},",
                    1 + i % 28
                ),
                2 => format!(
                    "教室{i},毎月(曜日),2026/4/1,2026/12/31,13:00,{},,{},,教室のお知らせ{i},メモ{i}",
                    days[i % 5],
                    1 + i % 4
                ),
                _ => format!(
                    "お知らせ{i},一回,2026/{}/{},,10:00,,,,,お知らせです{i},",
                    4 + i % 9,
                    1 + i % 28
                ),
            };
            text.push_str(&row);
            text.push_str("\r\n");
        }
        let (sjis, _, unmappable) = SHIFT_JIS.encode(&text);
        assert!(!unmappable);
        let patterns = parse_delivery_csv(&sjis, now()).unwrap();
        assert_eq!(patterns.len(), 600);
        assert_eq!(patterns[599].row, 601);
        assert_eq!(patterns[0].segment.as_ref().unwrap().as_str(), "地区0");
        assert!(
            patterns
                .iter()
                .all(|p| p.schedule.next_after(now()).is_some())
        );
    }

    #[test]
    fn heading_errors() {
        let e = parse("タイトル,配信方法,日付,時刻,本文,色\r\nx,一回,2026/4/1,9:00,本文\r\n")
            .unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].row, 1);
        assert_eq!(e[0].column, "色");
        assert!(
            e[0].message
                .starts_with("見出し「色」は使えません。使える見出し: タイトル、配信方法")
        );
        let e = parse("タイトル,配信方法,日付,開始日,時刻\r\n").unwrap_err();
        let shown: Vec<String> = e.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "1 行目「開始日」: 見出し「開始日」は「日付」と同じ列です。1つにしてください。",
                "1 行目「本文」: 見出し「本文」がありません。1行目は見出しにしてください。",
            ]
        );
        assert_eq!(
            parse("").unwrap_err()[0].message,
            "ファイルが空です。1行目に見出し、2行目から配信を書いてください。"
        );
        assert_eq!(
            parse(&format!("{HEADING}\r\n,,,,\r\n")).unwrap_err()[0].to_string(),
            "2 行目: 配信の行がありません。"
        );
    }

    #[test]
    fn headings_in_any_order_and_optional_columns_left_out() {
        let patterns = parse(
            "本文,時刻,開始日,配信方法,タイトル,曜日,第Ｎ週\r\n\
             お知らせ,9:00,2026/4/1,毎月(曜日),教室,金,2\r\n",
        )
        .unwrap();
        assert_eq!(
            patterns[0].schedule.describe_ja(),
            "毎月 第2 金曜 9:00（2026年4月1日から）"
        );
        // The error names the heading as the file wrote it.
        let e = parse("本文,時刻,開始日,配信方法,タイトル\r\nお知らせ,9:00,2026/2/30,一回,x\r\n")
            .unwrap_err();
        assert_eq!(
            e[0].to_string(),
            "2 行目「開始日」: 2026年2月30日という日はありません。"
        );
    }

    #[test]
    fn every_column_is_checked_and_every_error_returned() {
        let e = errors(&[
            ",毎週,2026/4/1,,9:00,月,,,,本文,",
            "x,毎年,2026/4/1,,9:00,,,,,本文,",
            "x,一回,4/1,,9:00,,,,,本文,",
            "x,一回,2026/4/1,,9:03,,,,,本文,",
            "x,一回,2026/4/1,,25:00,,,,,本文,",
            "x,毎週,2026/4/1,,9:00,,,,,本文,",
            "x,毎週,2026/4/1,,9:00,月・祝,,,,本文,",
            "x,毎月(日),2026/4/1,,9:00,,32,,,本文,",
            "x,毎月(曜日),2026/4/1,,9:00,水,,5,,本文,",
            "x,毎月(曜日),2026/4/1,,9:00,,,1,,本文,",
            "x,一回,2026/4/1,2026/5/1,9:00,月,1,,,本文,",
            "x,毎週,2026/4/1,2026/3/31,9:00,月,,,,本文,",
            "x,毎月(日),2026/4/1,2026/4/30,9:00,,31,,,本文,",
            "x,一回,2026/2/1,,9:00,,,,,本文,",
            "x,毎週,2025/4/1,2026/2/28,9:00,月,,,,本文,",
            "x,一回,1926/4/1,,9:00,,,,,本文,",
            "x,一回,2026/4/1,,9:00,,,,,,",
            "x,一回,2026/4/1,,9:00,,,,,本文,,余計",
        ]);
        assert_eq!(
            e,
            [
                "2 行目「タイトル」: タイトルを入力してください。",
                "3 行目「配信方法」: 配信方法「毎年」が分かりません。一回、毎週、毎月(日)、毎月(曜日) のいずれかにしてください。",
                "4 行目「日付」: 「4/1」は日付として読めません。2026/4/1 のように入力してください。",
                "5 行目「時刻」: 配信時刻は5分単位で指定してください（例: 9:00、9:05）。",
                "6 行目「時刻」: 配信時刻は0:00〜23:55の範囲で指定してください。",
                "7 行目「曜日」: 曜日を1つ以上指定してください。",
                "8 行目「曜日」: 曜日「祝」が分かりません。「月・木」のように書いてください。",
                "9 行目「日」: 日は1〜31 か 末日 で指定してください。",
                "10 行目「第n週」: 第n週は1〜4 か 最終 で指定してください（第5週は「最終」を使ってください）。",
                "11 行目「曜日」: 曜日を1つ以上指定してください。",
                "12 行目「終了日」: 配信方法が「一回」のときは終了日を空にしてください。",
                "12 行目「曜日」: 配信方法が「一回」のときは曜日を空にしてください。",
                "12 行目「日」: 配信方法が「一回」のときは日を空にしてください。",
                "13 行目「終了日」: 終了日（2026年3月31日）は日付（2026年4月1日）以降にしてください。",
                "14 行目「終了日」: 開始日から終了日までの間に配信日がありません。",
                "15 行目「日付」: 配信日時（2026年2月1日 9:00）は過ぎています。",
                "16 行目「終了日」: 終了日までの配信日はすべて過ぎています。",
                "17 行目「日付」: 日付（1926年4月1日）は2000年〜2099年の範囲で指定してください。",
                "18 行目「本文」: 本文を入力してください。",
                "19 行目: 見出しのない 12 列目に値があります。",
            ]
        );
    }

    #[test]
    fn text_limits_count_utf16_units() {
        let ok = "あ".repeat(5000);
        assert!(parse(&format!("{HEADING}\r\nx,一回,2026/4/1,,9:00,,,,,{ok},\r\n")).is_ok());
        // 2,500 emoji are 5,000 UTF-16 units; one more character is too many.
        let emoji = "😀".repeat(2500);
        assert!(
            parse(&format!(
                "{HEADING}\r\nx,一回,2026/4/1,,9:00,,,,,{emoji},\r\n"
            ))
            .is_ok()
        );
        assert_eq!(
            errors(&[&format!("x,一回,2026/4/1,,9:00,,,,,{emoji}a,")]),
            [
                "2 行目「本文」: 本文が長すぎます（5001文字）。LINEの上限の5000文字以内にしてください（絵文字など一部の文字は2文字に数えます）。"
            ]
        );
        assert_eq!(
            errors(&["x,一回,2026/4/1,,9:00,,,,,本文\u{7},"]),
            ["2 行目「本文」: 本文に使えない文字が含まれています。"]
        );
        assert_eq!(
            errors(&[&format!(
                "x,一回,2026/4/1,,9:00,,,,{},本文,",
                "あ".repeat(51)
            )]),
            ["2 行目「セグメント」: セグメント名は50文字以内で入力してください。"]
        );
        assert_eq!(
            errors(&[&format!(
                "{},一回,2026/4/1,,9:00,,,,,本文,",
                "あ".repeat(101)
            )]),
            ["2 行目「タイトル」: タイトルは100文字以内で入力してください。"]
        );
        assert_eq!(
            errors(&[&format!(
                "x,一回,2026/4/1,,9:00,,,,,本文,{}",
                "あ".repeat(201)
            )]),
            ["2 行目「メモ」: メモは200文字以内で入力してください。"]
        );
    }

    #[test]
    fn duplicates_are_refused() {
        assert_eq!(
            errors(&[
                "x,毎週,2026/4/1,,9:00,月,,,,本文,",
                "x,毎週,2026/4/1,,9:00,月,,,,本文,別のメモ",
            ]),
            ["3 行目「タイトル」: 2 行目と同じ配信です。同じ人に2回届いてしまいます。"]
        );
    }

    #[test]
    fn file_level_errors() {
        let e = parse(&format!(
            "{HEADING}\r\nx,一回,2026/4/1,,9:00,,,,,\"本文,\r\n"
        ))
        .unwrap_err();
        assert_eq!(e[0].to_string(), "2 行目: 引用符 \" が閉じていません。");
        let e = parse(&format!(
            "{HEADING}\r\nx,一回,2026/4/1,,9:00,,,,,\"本文\"です,\r\n"
        ))
        .unwrap_err();
        assert!(e[0].message.contains("余計な文字"));
        let mut bytes = format!("{HEADING}\r\n").into_bytes();
        bytes.extend_from_slice(b"x,\x80\xFF\r\n");
        assert!(
            parse_delivery_csv(&bytes, now()).unwrap_err()[0]
                .message
                .contains("2 行目に読めない文字があります")
        );
        let utf16 = [0xFF, 0xFE, b'a', 0];
        assert!(
            parse_delivery_csv(&utf16, now()).unwrap_err()[0]
                .message
                .contains("UTF-16")
        );
    }

    #[test]
    fn rows_count_like_excel() {
        // A blank line and a three-line cell: Excel shows the bad row as row 5.
        let text = format!(
            "{HEADING}\n\nx,一回,2026/4/1,,9:00,,,,,\"1行目\n2行目\n3行目\",\ny,一回,2026/4/1,,9:00,,,,,本文,\nz,一回,2026/4/1,,9:07,,,,,本文,"
        );
        let e = parse(&text).unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].row, 5);
    }

    fn quote(field: &str) -> String {
        format!("\"{}\"", field.replace('"', "\"\""))
    }

    proptest! {
        #[test]
        fn reader_round_trips_what_excel_writes(
            rows in proptest::collection::vec(
                proptest::collection::vec("[a-z,\"\\r\\n あ]{0,6}", 1..5), 1..6),
            crlf in any::<bool>(),
        ) {
            let newline = if crlf { "\r\n" } else { "\n" };
            let text: String = rows
                .iter()
                .map(|r| r.iter().map(|f| quote(f)).collect::<Vec<_>>().join(",") + newline)
                .collect();
            let records = read_records(&text).unwrap();
            let fields: Vec<Vec<String>> = records.iter().map(|r| r.fields.clone()).collect();
            prop_assert_eq!(&fields, &rows);
            let numbers: Vec<usize> = records.iter().map(|r| r.row).collect();
            prop_assert_eq!(numbers, (1..=rows.len()).collect::<Vec<_>>());
        }
    }
}
