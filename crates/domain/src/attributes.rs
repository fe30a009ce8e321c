//! Friend attributes (属性, M09): what the town asks its LINE friends (district,
//! children's birth dates, interests ...) so that deliveries reach the people
//! they concern.
//!
//! Staff add, rename, reorder and retire attributes and options without
//! programming, so everything that identifies an attribute or an option is a
//! stable key, never its position or its Japanese wording. Retiring hides an
//! attribute or option from new forms and segments; answers already given are
//! kept and keep their meaning.
//!
//! Storage keeps a multiple-choice answer as bitmask columns of 63 bits each
//! (63, not 64, so every column is a non-negative signed 64-bit integer on
//! both databases). Each multiple-choice option therefore owns a fixed bit
//! index that is never reused, even after the option is retired: a reused bit
//! would silently turn old answers into new ones.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::datetime::parse_date;
use crate::time_of_day::normalize_input;
use crate::validation::{optional_text, required_text};

/// Longest attribute or option key, in ASCII characters.
pub const KEY_MAX_LEN: usize = 40;
/// Longest attribute name (項目名), in characters.
pub const NAME_MAX_CHARS: usize = 40;
/// Longest option label, in characters.
pub const LABEL_MAX_CHARS: usize = 60;
/// Most options of one choice attribute, retired ones included. Districts can
/// run to hundreds (M09: 数十〜数百程度).
pub const MAX_OPTIONS: usize = 1000;
/// Bits per storage column of a multiple-choice answer.
pub const BITS_PER_COLUMN: u16 = 63;
/// Storage columns per multiple-choice attribute.
pub const MULTIPLE_CHOICE_COLUMNS: usize = 4;
/// Highest bit index of a multiple-choice option (0..=251: 252 options over
/// the attribute's lifetime, retired ones included).
pub const MAX_BIT_INDEX: u16 = BITS_PER_COLUMN * MULTIPLE_CHOICE_COLUMNS as u16 - 1;
/// Most dates in one date-list answer (e.g. children's birth dates).
pub const MAX_DATES: usize = 20;
/// Longest free-text answer, in characters.
pub const TEXT_ANSWER_MAX_CHARS: usize = 200;
/// Dates outside these years are typing mistakes, not birth dates or due dates.
pub const DATE_YEARS: std::ops::RangeInclusive<i32> = 1900..=2099;
/// Number attributes stay within ±999,999,999 so every value is exact in
/// JavaScript, SQLite and PostgreSQL alike.
pub const NUMBER_LIMIT: i64 = 999_999_999;

fn is_slug(text: &str) -> bool {
    let mut bytes = text.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && text.len() <= KEY_MAX_LEN
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
}

/// A stable identifier: an ASCII slug (`area`, `child_birth_dates`). Saved
/// segments, CSV files and storage refer to attributes by key, so a rename
/// never breaks them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AttributeKey(String);

impl AttributeKey {
    pub fn parse(input: &str) -> Result<Self, String> {
        let text = input.trim();
        if is_slug(text) {
            Ok(Self(text.to_owned()))
        } else {
            Err(format!(
                "キー「{text}」は、半角英小文字で始まり半角英小文字・数字・_ だけの{KEY_MAX_LEN}文字以内にしてください。"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A stable identifier of one option within its attribute (`honjo`, `bosai`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OptionKey(String);

impl OptionKey {
    pub fn parse(input: &str) -> Result<Self, String> {
        let text = input.trim();
        if is_slug(text) {
            Ok(Self(text.to_owned()))
        } else {
            Err(format!(
                "選択肢のキー「{text}」は、半角英小文字で始まり半角英小文字・数字・_ だけの{KEY_MAX_LEN}文字以内にしてください。"
            ))
        }
    }

    /// The key given to an option staff add without naming one: `o17`.
    pub fn numbered(index: u16) -> Self {
        Self(format!("o{index}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_conversions {
    ($($name:ident),*) => {$(
        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(value: String) -> Result<Self, String> {
                Self::parse(&value)
            }
        }
        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}

string_conversions!(AttributeKey, OptionKey, AttributeName, OptionLabel);

/// An attribute's Japanese name as staff and residents see it (お住まいの地区).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AttributeName(String);

impl AttributeName {
    pub fn parse(input: &str) -> Result<Self, String> {
        required_text(input, "項目名", NAME_MAX_CHARS).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The label of one option (本庄, 子育て).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OptionLabel(String);

impl OptionLabel {
    pub fn parse(input: &str) -> Result<Self, String> {
        required_text(input, "選択肢", LABEL_MAX_CHARS).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What kind of answer an attribute takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributeKind {
    SingleChoice,
    MultipleChoice,
    /// A whole number within the attribute's [`NumberRange`].
    Number,
    Date,
    /// Any number of dates, e.g. the birth dates of all one's children.
    DateList,
    /// Free text, one line.
    Text,
}

impl AttributeKind {
    pub const ALL: [AttributeKind; 6] = [
        AttributeKind::SingleChoice,
        AttributeKind::MultipleChoice,
        AttributeKind::Number,
        AttributeKind::Date,
        AttributeKind::DateList,
        AttributeKind::Text,
    ];

    /// The code stored in the database and used in JSON.
    pub fn code(self) -> &'static str {
        match self {
            AttributeKind::SingleChoice => "single_choice",
            AttributeKind::MultipleChoice => "multiple_choice",
            AttributeKind::Number => "number",
            AttributeKind::Date => "date",
            AttributeKind::DateList => "date_list",
            AttributeKind::Text => "text",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            AttributeKind::SingleChoice => "単一選択",
            AttributeKind::MultipleChoice => "複数選択",
            AttributeKind::Number => "数値",
            AttributeKind::Date => "日付",
            AttributeKind::DateList => "日付（複数）",
            AttributeKind::Text => "自由記述",
        }
    }

    pub fn is_choice(self) -> bool {
        matches!(
            self,
            AttributeKind::SingleChoice | AttributeKind::MultipleChoice
        )
    }

    pub fn is_date(self) -> bool {
        matches!(self, AttributeKind::Date | AttributeKind::DateList)
    }
}

/// The accepted values of a number attribute and the unit shown after them
/// (`人`, `年`). Whole numbers only: counts and years are what towns ask.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NumberRange {
    min: i64,
    max: i64,
    unit: String,
}

impl NumberRange {
    pub fn new(min: i64, max: i64, unit: &str) -> Result<Self, String> {
        if min.abs() > NUMBER_LIMIT || max.abs() > NUMBER_LIMIT {
            return Err(format!(
                "数値の範囲は-{NUMBER_LIMIT}〜{NUMBER_LIMIT}の間で指定してください。"
            ));
        }
        if min > max {
            return Err(format!(
                "数値の下限（{min}）が上限（{max}）より大きくなっています。"
            ));
        }
        let unit = optional_text(unit, "単位", 10)?;
        Ok(Self { min, max, unit })
    }

    pub fn min(&self) -> i64 {
        self.min
    }

    pub fn max(&self) -> i64 {
        self.max
    }

    pub fn unit(&self) -> &str {
        &self.unit
    }

    pub fn contains(&self, value: i64) -> bool {
        (self.min..=self.max).contains(&value)
    }
}

/// One option of a choice attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChoiceOption {
    pub key: OptionKey,
    /// Stable small number, never reused within the attribute. For a multiple
    /// choice it is the option's bit index (0..=[`MAX_BIT_INDEX`]); for a single
    /// choice storage may keep it as the answer's value.
    pub index: u16,
    pub label: OptionLabel,
    /// Display order; ties are broken by `index`.
    pub position: u32,
    /// Hidden from new answers and new segments; existing answers keep it.
    pub retired: bool,
}

impl ChoiceOption {
    pub fn new(key: OptionKey, index: u16, label: OptionLabel, position: u32) -> Self {
        Self {
            key,
            index,
            label,
            position,
            retired: false,
        }
    }

    /// For a multiple-choice option: the storage column (0-based) and the mask
    /// within it.
    pub fn bit(&self) -> (usize, i64) {
        bit_of(self.index)
    }
}

fn bit_of(index: u16) -> (usize, i64) {
    (
        usize::from(index / BITS_PER_COLUMN),
        1i64 << (index % BITS_PER_COLUMN),
    )
}

/// Everything that makes up an attribute, as storage holds it. [`Attribute::new`]
/// checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeParts {
    pub key: AttributeKey,
    pub name: AttributeName,
    pub kind: AttributeKind,
    /// For the choice kinds only; in any order.
    pub options: Vec<ChoiceOption>,
    /// For [`AttributeKind::Number`] only.
    pub number: Option<NumberRange>,
    /// Order among attributes in forms and lists.
    pub position: u32,
    pub retired: bool,
}

/// One attribute definition, checked: options only on choice kinds, unique
/// option keys, labels and indexes, bit indexes in range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    key: AttributeKey,
    name: AttributeName,
    kind: AttributeKind,
    /// Sorted by (position, index).
    options: Vec<ChoiceOption>,
    number: Option<NumberRange>,
    position: u32,
    retired: bool,
}

/// A friend's answer to one attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum AttributeValue {
    Choice(OptionKey),
    Choices(BTreeSet<OptionKey>),
    Number(i64),
    Date(NaiveDate),
    /// Sorted; the same date may appear twice (twins).
    Dates(Vec<NaiveDate>),
    Text(String),
}

impl AttributeValue {
    /// A date list, sorted.
    pub fn dates(mut dates: Vec<NaiveDate>) -> Self {
        dates.sort_unstable();
        AttributeValue::Dates(dates)
    }

    /// An empty set, list or text counts as no answer.
    pub fn is_empty(&self) -> bool {
        match self {
            AttributeValue::Choices(set) => set.is_empty(),
            AttributeValue::Dates(dates) => dates.is_empty(),
            AttributeValue::Text(text) => text.is_empty(),
            AttributeValue::Choice(_) | AttributeValue::Number(_) | AttributeValue::Date(_) => {
                false
            }
        }
    }

    /// The kind of attribute this value answers.
    pub fn kind(&self) -> AttributeKind {
        match self {
            AttributeValue::Choice(_) => AttributeKind::SingleChoice,
            AttributeValue::Choices(_) => AttributeKind::MultipleChoice,
            AttributeValue::Number(_) => AttributeKind::Number,
            AttributeValue::Date(_) => AttributeKind::Date,
            AttributeValue::Dates(_) => AttributeKind::DateList,
            AttributeValue::Text(_) => AttributeKind::Text,
        }
    }
}

impl Attribute {
    pub fn new(parts: AttributeParts) -> Result<Self, String> {
        let AttributeParts {
            key,
            name,
            kind,
            mut options,
            number,
            position,
            retired,
        } = parts;
        if kind.is_choice() {
            check_options(&options, kind)?;
        } else if !options.is_empty() {
            return Err("選択肢は単一選択・複数選択の項目にだけ登録できます。".to_owned());
        }
        match (kind, &number) {
            (AttributeKind::Number, None) => {
                return Err("数値の範囲を指定してください。".to_owned());
            }
            (AttributeKind::Number, Some(_)) | (_, None) => {}
            (_, Some(_)) => {
                return Err("数値の範囲は数値の項目にだけ指定できます。".to_owned());
            }
        }
        sort_options(&mut options);
        Ok(Self {
            key,
            name,
            kind,
            options,
            number,
            position,
            retired,
        })
    }

    pub fn into_parts(self) -> AttributeParts {
        AttributeParts {
            key: self.key,
            name: self.name,
            kind: self.kind,
            options: self.options,
            number: self.number,
            position: self.position,
            retired: self.retired,
        }
    }

    pub fn key(&self) -> &AttributeKey {
        &self.key
    }

    pub fn name(&self) -> &AttributeName {
        &self.name
    }

    pub fn kind(&self) -> AttributeKind {
        self.kind
    }

    pub fn position(&self) -> u32 {
        self.position
    }

    pub fn is_retired(&self) -> bool {
        self.retired
    }

    pub fn number_range(&self) -> Option<&NumberRange> {
        self.number.as_ref()
    }

    /// All options, retired ones included, in display order.
    pub fn options(&self) -> &[ChoiceOption] {
        &self.options
    }

    /// The options new answers and new segments may use, in display order.
    pub fn active_options(&self) -> impl Iterator<Item = &ChoiceOption> {
        self.options.iter().filter(|o| !o.retired)
    }

    pub fn option(&self, key: &OptionKey) -> Option<&ChoiceOption> {
        self.options.iter().find(|o| &o.key == key)
    }

    pub fn option_by_index(&self, index: u16) -> Option<&ChoiceOption> {
        self.options.iter().find(|o| o.index == index)
    }

    /// The label of an option, or its key if the option is unknown.
    pub fn option_label<'a>(&'a self, key: &'a OptionKey) -> &'a str {
        self.option(key).map_or(key.as_str(), |o| o.label.as_str())
    }

    pub fn rename(&mut self, name: AttributeName) {
        self.name = name;
    }

    pub fn set_position(&mut self, position: u32) {
        self.position = position;
    }

    /// Retiring hides the attribute from new forms and segments; answers stay.
    pub fn set_retired(&mut self, retired: bool) {
        self.retired = retired;
    }

    /// Adds an option at the end, with the next unused index (indexes of
    /// retired options stay taken) and, if none is given, the key `o{index}`.
    pub fn add_option(
        &mut self,
        key: Option<OptionKey>,
        label: OptionLabel,
    ) -> Result<&ChoiceOption, String> {
        if !self.kind.is_choice() {
            return Err("選択肢は単一選択・複数選択の項目にだけ登録できます。".to_owned());
        }
        let index = self
            .options
            .iter()
            .map(|o| o.index)
            .max()
            .map_or(Some(0), |max| max.checked_add(1))
            .ok_or_else(|| "これ以上選択肢を追加できません。".to_owned())?;
        let position = self
            .options
            .iter()
            .map(|o| o.position)
            .max()
            .map_or(0, |max| max.saturating_add(1));
        let key = key.unwrap_or_else(|| OptionKey::numbered(index));
        let mut options = self.options.clone();
        options.push(ChoiceOption::new(key, index, label, position));
        check_options(&options, self.kind)?;
        sort_options(&mut options);
        self.options = options;
        self.options
            .iter()
            .find(|o| o.index == index)
            .ok_or_else(|| "選択肢を追加できませんでした。".to_owned())
    }

    pub fn rename_option(&mut self, key: &OptionKey, label: OptionLabel) -> Result<(), String> {
        if self
            .options
            .iter()
            .any(|o| &o.key != key && o.label == label)
        {
            return Err(format!("選択肢「{label}」はすでにあります。"));
        }
        self.option_mut(key)?.label = label;
        Ok(())
    }

    /// Retiring keeps the option (and the answers that chose it) but hides it
    /// from new answers. At least one option stays in use.
    pub fn set_option_retired(&mut self, key: &OptionKey, retired: bool) -> Result<(), String> {
        let others_active = self.options.iter().any(|o| &o.key != key && !o.retired);
        let option = self.option_mut(key)?;
        if retired && !others_active {
            return Err("使用中の選択肢を1つ以上残してください。".to_owned());
        }
        option.retired = retired;
        Ok(())
    }

    /// Puts the options in the given order; every option must be listed once.
    pub fn reorder_options(&mut self, keys: &[OptionKey]) -> Result<(), String> {
        let listed: BTreeSet<&OptionKey> = keys.iter().collect();
        let all: BTreeSet<&OptionKey> = self.options.iter().map(|o| &o.key).collect();
        if listed != all || keys.len() != self.options.len() {
            return Err("並べ替えにはすべての選択肢を1回ずつ指定してください。".to_owned());
        }
        for option in &mut self.options {
            let position = keys.iter().position(|k| k == &option.key).unwrap_or(0);
            option.position = u32::try_from(position).unwrap_or(u32::MAX);
        }
        sort_options(&mut self.options);
        Ok(())
    }

    fn option_mut(&mut self, key: &OptionKey) -> Result<&mut ChoiceOption, String> {
        let name = self.name.clone();
        self.options
            .iter_mut()
            .find(|o| &o.key == key)
            .ok_or_else(|| format!("{name}に「{key}」という選択肢はありません。"))
    }

    /// Checks a new answer (from a form, or typed by staff): the right kind,
    /// known options still in use, numbers in range, plausible dates. Answers
    /// already stored are not re-checked: a retired option stays valid there.
    pub fn check_answer(&self, value: &AttributeValue) -> Result<(), String> {
        let name = &self.name;
        if self.retired {
            return Err(format!("「{name}」は使われなくなった項目です。"));
        }
        if value.kind() != self.kind {
            return Err(format!(
                "{name}の回答の種類が違います（{}の項目です）。",
                self.kind.label_ja()
            ));
        }
        match value {
            AttributeValue::Choice(key) => self.check_option(key),
            AttributeValue::Choices(keys) => keys.iter().try_for_each(|k| self.check_option(k)),
            AttributeValue::Number(n) => match &self.number {
                Some(range) if range.contains(*n) => Ok(()),
                Some(range) => Err(format!(
                    "{name}は{}〜{}{}の範囲で入力してください。",
                    range.min, range.max, range.unit
                )),
                None => Err(format!("{name}の数値の範囲が設定されていません。")),
            },
            AttributeValue::Date(date) => self.check_date(*date),
            AttributeValue::Dates(dates) => {
                if dates.len() > MAX_DATES {
                    return Err(format!("{name}は{MAX_DATES}件まで登録できます。"));
                }
                dates.iter().try_for_each(|d| self.check_date(*d))
            }
            AttributeValue::Text(text) => {
                let checked = optional_text(text, name.as_str(), TEXT_ANSWER_MAX_CHARS)?;
                if &checked == text {
                    Ok(())
                } else {
                    Err(format!("{name}の前後の空白を取り除いてください。"))
                }
            }
        }
    }

    fn check_option(&self, key: &OptionKey) -> Result<(), String> {
        match self.option(key) {
            None => Err(format!(
                "{}に「{key}」という選択肢はありません。",
                self.name
            )),
            Some(option) if option.retired => Err(format!(
                "{}の「{}」は選べなくなりました。",
                self.name, option.label
            )),
            Some(_) => Ok(()),
        }
    }

    fn check_date(&self, date: NaiveDate) -> Result<(), String> {
        if DATE_YEARS.contains(&date.year()) {
            Ok(())
        } else {
            Err(format!(
                "{}は{}年〜{}年の日付で入力してください。",
                self.name,
                DATE_YEARS.start(),
                DATE_YEARS.end()
            ))
        }
    }

    /// Reads a form's raw values for this attribute (option keys for the
    /// choice kinds, one value per date of a date list, one value otherwise),
    /// then checks them as [`Attribute::check_answer`] does. `Ok(None)`: not
    /// answered.
    pub fn parse_answer(&self, inputs: &[&str]) -> Result<Option<AttributeValue>, String> {
        let name = &self.name;
        let values: Vec<&str> = inputs
            .iter()
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .collect();
        let Some(first) = values.first().copied() else {
            return Ok(None);
        };
        let single = || {
            if values.len() > 1 {
                Err(format!("{name}は1つだけ入力してください。"))
            } else {
                Ok(first)
            }
        };
        let option_key = |text: &str| {
            OptionKey::parse(text)
                .map_err(|_| format!("{name}に「{text}」という選択肢はありません。"))
        };
        let date = |text: &str| parse_date(text).map_err(|message| format!("{name}: {message}"));
        let value = match self.kind {
            AttributeKind::SingleChoice => AttributeValue::Choice(option_key(single()?)?),
            AttributeKind::MultipleChoice => AttributeValue::Choices(
                values
                    .iter()
                    .map(|v| option_key(v))
                    .collect::<Result<_, _>>()?,
            ),
            AttributeKind::Number => {
                let text = normalize_input(single()?).replace('－', "-");
                let digits = text.strip_prefix('-').unwrap_or(&text);
                if digits.is_empty()
                    || digits.len() > 10
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(format!("{name}は半角数字（整数）で入力してください。"));
                }
                AttributeValue::Number(
                    text.parse()
                        .map_err(|_| format!("{name}は半角数字（整数）で入力してください。"))?,
                )
            }
            AttributeKind::Date => AttributeValue::Date(date(single()?)?),
            AttributeKind::DateList => {
                AttributeValue::dates(values.iter().map(|v| date(v)).collect::<Result<_, _>>()?)
            }
            AttributeKind::Text => AttributeValue::Text(optional_text(
                single()?,
                name.as_str(),
                TEXT_ANSWER_MAX_CHARS,
            )?),
        };
        self.check_answer(&value)?;
        Ok(Some(value))
    }

    /// The storage masks of a multiple-choice answer: column `i` holds bits
    /// `63*i .. 63*i+62`.
    pub fn choice_masks<'a>(
        &self,
        keys: impl IntoIterator<Item = &'a OptionKey>,
    ) -> Result<[i64; MULTIPLE_CHOICE_COLUMNS], String> {
        if self.kind != AttributeKind::MultipleChoice {
            return Err(format!("「{}」は複数選択の項目ではありません。", self.name));
        }
        let mut masks = [0i64; MULTIPLE_CHOICE_COLUMNS];
        for key in keys {
            let option = self
                .option(key)
                .ok_or_else(|| format!("{}に「{key}」という選択肢はありません。", self.name))?;
            let (column, mask) = option.bit();
            if let Some(slot) = masks.get_mut(column) {
                *slot |= mask;
            }
        }
        Ok(masks)
    }

    /// The options whose bits are set in stored masks; unknown bits are ignored.
    pub fn choices_from_masks(&self, masks: &[i64]) -> BTreeSet<OptionKey> {
        self.options
            .iter()
            .filter(|o| {
                let (column, mask) = o.bit();
                masks.get(column).is_some_and(|m| m & mask != 0)
            })
            .map(|o| o.key.clone())
            .collect()
    }
}

fn sort_options(options: &mut [ChoiceOption]) {
    options.sort_by_key(|o| (o.position, o.index));
}

fn check_options(options: &[ChoiceOption], kind: AttributeKind) -> Result<(), String> {
    if options.is_empty() {
        return Err("選択肢を1つ以上登録してください。".to_owned());
    }
    if options.len() > MAX_OPTIONS {
        return Err(format!("選択肢は{MAX_OPTIONS}個までです。"));
    }
    if options.iter().all(|o| o.retired) {
        return Err("使用中の選択肢を1つ以上残してください。".to_owned());
    }
    let mut keys = BTreeSet::new();
    let mut labels = BTreeSet::new();
    let mut indexes = BTreeSet::new();
    for option in options {
        if !keys.insert(&option.key) {
            return Err(format!("選択肢のキー「{}」が重複しています。", option.key));
        }
        if !labels.insert(&option.label) {
            return Err(format!("選択肢「{}」が重複しています。", option.label));
        }
        if !indexes.insert(option.index) {
            return Err(format!("選択肢の番号 {} が重複しています。", option.index));
        }
        if kind == AttributeKind::MultipleChoice && option.index > MAX_BIT_INDEX {
            return Err(format!(
                "複数選択の選択肢は、使わなくなったものを含めて{}個までです。",
                MAX_BIT_INDEX + 1
            ));
        }
    }
    Ok(())
}

/// All attributes of the account, by key, in display order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttributeCatalog {
    /// Sorted by (position, key).
    attributes: Vec<Attribute>,
    by_key: BTreeMap<AttributeKey, usize>,
}

impl AttributeCatalog {
    /// Refuses two attributes with the same key or the same name: staff pick
    /// attributes by name when they build segments.
    pub fn new(mut attributes: Vec<Attribute>) -> Result<Self, String> {
        attributes.sort_by(|a, b| (a.position, &a.key).cmp(&(b.position, &b.key)));
        let mut by_key = BTreeMap::new();
        let mut names = BTreeSet::new();
        for (i, attribute) in attributes.iter().enumerate() {
            if by_key.insert(attribute.key.clone(), i).is_some() {
                return Err(format!("キー「{}」の項目が2つあります。", attribute.key));
            }
            if !names.insert(attribute.name.as_str()) {
                return Err(format!("項目名「{}」が重複しています。", attribute.name));
            }
        }
        Ok(Self { attributes, by_key })
    }

    pub fn get(&self, key: &AttributeKey) -> Option<&Attribute> {
        self.by_key.get(key).and_then(|&i| self.attributes.get(i))
    }

    /// All attributes, retired ones included, in display order.
    pub fn iter(&self) -> impl Iterator<Item = &Attribute> {
        self.attributes.iter()
    }

    /// The attributes new forms and segments may use.
    pub fn active(&self) -> impl Iterator<Item = &Attribute> {
        self.attributes.iter().filter(|a| !a.retired)
    }

    pub fn len(&self) -> usize {
        self.attributes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty()
    }
}

// ---- The default set -------------------------------------------------------

/// The districts (大字) of Kunitomi town, plus 町外. The customer's spec names
/// none, so these are the town's 大字 as published; staff can add finer
/// districts (自治会単位) later, up to [`MAX_OPTIONS`].
const AREAS: &[(&str, &str)] = &[
    ("honjo", "本庄"),
    ("morinaga", "森永"),
    ("kiwaki", "木脇"),
    ("yashiro_kitamata", "八代北俣"),
    ("yashiro_minamimata", "八代南俣"),
    ("sanmyo", "三名"),
    ("sushida", "須志田"),
    ("fukatoshi", "深年"),
    ("tajiri", "田尻"),
    ("takeda", "竹田"),
    ("momiki", "籾木"),
    ("outside", "町外"),
];

const INTERESTS: &[(&str, &str)] = &[
    ("kosodate", "子育て"),
    ("bosai", "防災"),
    ("kenko", "健康・医療"),
    ("koreisha", "高齢者福祉"),
    ("shogaisha", "障がい者福祉"),
    ("gomi", "ごみ・環境"),
    ("event", "イベント"),
    ("sports", "スポーツ"),
    ("kanko", "観光"),
    ("nogyo", "農業"),
    ("shoko", "商工業・就労"),
    ("kyoiku", "教育"),
    ("gyosei", "行政情報"),
    ("iju", "移住・定住"),
    ("bunka", "文化・生涯学習"),
    ("kotsu", "交通"),
    ("bohan", "防犯"),
    ("zeikin", "税金"),
    ("kokuho", "国民健康保険・年金"),
    ("sumai", "住まい・空き家"),
    ("suido", "上下水道"),
    ("doro", "道路・河川"),
    ("senkyo", "選挙"),
    ("boshu", "求人・募集"),
    ("toshokan", "図書館"),
    ("shisetsu", "公共施設の予約"),
    ("furusato", "ふるさと納税"),
    ("dobutsu", "動物・ペット"),
    ("shohi", "消費生活"),
    ("jinken", "人権・男女共同参画"),
];

const LANGUAGES: &[(&str, &str)] = &[
    ("ja", "日本語"),
    ("ja_easy", "やさしい日本語"),
    ("en", "English"),
    ("zh_hans", "中文（简体）"),
    ("zh_hant", "中文（繁體）"),
    ("ko", "한국어"),
    ("vi", "Tiếng Việt"),
    ("tl", "Tagalog"),
    ("pt", "Português"),
    ("es", "Español"),
    ("id", "Bahasa Indonesia"),
    ("ne", "नेपाली"),
    ("th", "ภาษาไทย"),
    ("my", "မြန်မာဘာသာ"),
];

const YES_NO_DECLINE: &[(&str, &str)] = &[
    ("yes", "はい"),
    ("no", "いいえ"),
    ("declined", "回答しない"),
];

const RECEIVE: &[(&str, &str)] = &[("yes", "受け取る"), ("no", "受け取らない")];

fn default_options(pairs: &[(&str, &str)]) -> Vec<ChoiceOption> {
    pairs
        .iter()
        .zip(0u16..)
        .map(|((key, label), i)| {
            ChoiceOption::new(
                OptionKey((*key).to_owned()),
                i,
                OptionLabel((*label).to_owned()),
                u32::from(i),
            )
        })
        .collect()
}

enum Template {
    Single(&'static [(&'static str, &'static str)]),
    Multiple(&'static [(&'static str, &'static str)]),
    Number(i64, i64, &'static str),
    Date,
    DateList,
    Text,
}

/// The attributes a new account starts with (M09 asks for at least 25): age,
/// gender, district, household, children, interests, language, work and
/// commute, pets, car, welfare, farming, what to receive and when, and how the
/// resident found the account. Staff rename, reorder, retire and extend them.
pub fn default_attributes() -> Vec<Attribute> {
    use Template::*;
    let table: [(&str, &str, Template); 28] = [
        ("birth_year", "生まれた年（西暦）", Number(1900, 2099, "年")),
        (
            "age_group",
            "年代",
            Single(&[
                ("age10s", "10代以下"),
                ("age20s", "20代"),
                ("age30s", "30代"),
                ("age40s", "40代"),
                ("age50s", "50代"),
                ("age60s", "60代"),
                ("age70s", "70代"),
                ("age80s", "80代以上"),
            ]),
        ),
        (
            "gender",
            "性別",
            Single(&[
                ("male", "男性"),
                ("female", "女性"),
                ("other", "その他"),
                ("declined", "回答しない"),
            ]),
        ),
        ("area", "お住まいの地区", Single(AREAS)),
        (
            "household_type",
            "世帯の構成",
            Single(&[
                ("single", "ひとり暮らし"),
                ("couple", "夫婦のみ"),
                ("parent_child", "親と子"),
                ("three_generations", "三世代以上"),
                ("other", "その他"),
                ("declined", "回答しない"),
            ]),
        ),
        ("household_size", "世帯の人数", Number(1, 20, "人")),
        ("child_birth_dates", "お子さんの生年月日", DateList),
        ("expected_birth_date", "出産予定日", Date),
        (
            "school_children",
            "通園・通学中のお子さん",
            Multiple(&[
                ("nursery", "保育園・認定こども園"),
                ("kindergarten", "幼稚園"),
                ("elementary", "小学生"),
                ("junior_high", "中学生"),
                ("high_school", "高校生"),
                ("university", "大学・専門学校など"),
            ]),
        ),
        ("interests", "関心のある分野", Multiple(INTERESTS)),
        ("language", "希望する言語", Single(LANGUAGES)),
        (
            "occupation",
            "職業",
            Single(&[
                ("employee", "会社員・団体職員"),
                ("civil_servant", "公務員"),
                ("self_employed", "自営業"),
                ("farming", "農業・林業"),
                ("part_time", "パート・アルバイト"),
                ("student", "学生"),
                ("homemaker", "家事専業"),
                ("none", "無職"),
                ("other", "その他"),
                ("declined", "回答しない"),
            ]),
        ),
        (
            "commute_area",
            "通勤・通学先",
            Single(&[
                ("in_town", "町内"),
                ("miyazaki", "宮崎市"),
                ("aya", "綾町"),
                ("saito", "西都市"),
                ("prefecture", "その他の県内"),
                ("outside", "県外"),
                ("none", "通勤・通学していない"),
            ]),
        ),
        (
            "pets",
            "飼っているペット",
            Multiple(&[
                ("dog", "犬"),
                ("cat", "猫"),
                ("other", "その他の動物"),
                ("none", "飼っていない"),
            ]),
        ),
        (
            "car",
            "自家用車",
            Single(&[("yes", "持っている"), ("no", "持っていない")]),
        ),
        (
            "disability_handbook",
            "障害者手帳をお持ちですか",
            Single(YES_NO_DECLINE),
        ),
        (
            "caregiver",
            "高齢の家族を介護していますか",
            Single(YES_NO_DECLINE),
        ),
        (
            "elderly_in_household",
            "65歳以上の同居家族",
            Single(&[("yes", "いる"), ("no", "いない")]),
        ),
        (
            "farm_household",
            "農業との関わり",
            Single(&[
                ("full_time", "専業農家"),
                ("part_time", "兼業農家"),
                ("garden", "家庭菜園のみ"),
                ("none", "農業はしていない"),
            ]),
        ),
        ("disaster_alerts", "防災情報の受け取り", Single(RECEIVE)),
        ("event_news", "イベント情報の受け取り", Single(RECEIVE)),
        (
            "delivery_time",
            "希望する配信時間帯",
            Single(&[
                ("morning", "朝（7〜9時）"),
                ("noon", "昼（11〜13時）"),
                ("evening", "夕方（17〜19時）"),
                ("night", "夜（19〜21時）"),
                ("any", "指定なし"),
            ]),
        ),
        (
            "referral",
            "このアカウントを知ったきっかけ",
            Single(&[
                ("koho", "広報くにとみ"),
                ("website", "町のホームページ"),
                ("flyer", "チラシ・ポスター"),
                ("counter", "役場の窓口"),
                ("family", "家族・知人"),
                ("sns", "SNS"),
                ("event", "イベント"),
                ("other", "その他"),
            ]),
        ),
        (
            "years_in_town",
            "国富町に住んでいる年数",
            Single(&[
                ("under_1", "1年未満"),
                ("from_1", "1年以上5年未満"),
                ("from_5", "5年以上10年未満"),
                ("from_10", "10年以上20年未満"),
                ("from_20", "20年以上"),
                ("outside", "町外に住んでいる"),
            ]),
        ),
        (
            "facilities",
            "よく利用する施設",
            Multiple(&[
                ("arena", "アリーナくにとみ"),
                ("district_gym", "地区の体育館"),
                ("budokan", "国富町武道館"),
                ("sports_park", "国富町運動公園"),
                ("rokuno", "六野球技場"),
                ("mukodaka", "向高運動公園"),
                ("hokkedake", "法華嶽公園"),
                ("other", "その他"),
            ]),
        ),
        (
            "volunteer",
            "ボランティア活動への関心",
            Single(&[("yes", "ある"), ("no", "ない")]),
        ),
        ("neighborhood_association", "所属する自治会", Text),
        ("moved_in_date", "国富町に転入した日", Date),
    ];
    table
        .into_iter()
        .zip(1u32..)
        .map(|((key, name, default), i)| {
            let (kind, options, number) = match default {
                Single(pairs) => (AttributeKind::SingleChoice, default_options(pairs), None),
                Multiple(pairs) => (AttributeKind::MultipleChoice, default_options(pairs), None),
                Number(min, max, unit) => (
                    AttributeKind::Number,
                    Vec::new(),
                    Some(NumberRange {
                        min,
                        max,
                        unit: unit.to_owned(),
                    }),
                ),
                Date => (AttributeKind::Date, Vec::new(), None),
                DateList => (AttributeKind::DateList, Vec::new(), None),
                Text => (AttributeKind::Text, Vec::new(), None),
            };
            // Built directly: the table is checked by the tests, and a fallible
            // constructor here would need an unwrap the lints forbid.
            Attribute {
                key: AttributeKey(key.to_owned()),
                name: AttributeName(name.to_owned()),
                kind,
                options,
                number,
                position: i * 10,
                retired: false,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(s: &str) -> AttributeKey {
        AttributeKey::parse(s).unwrap()
    }

    fn okey(s: &str) -> OptionKey {
        OptionKey::parse(s).unwrap()
    }

    fn option(k: &str, index: u16, label: &str) -> ChoiceOption {
        ChoiceOption::new(
            okey(k),
            index,
            OptionLabel::parse(label).unwrap(),
            u32::from(index),
        )
    }

    fn choice(kind: AttributeKind, options: Vec<ChoiceOption>) -> Result<Attribute, String> {
        Attribute::new(AttributeParts {
            key: key("area"),
            name: AttributeName::parse("地区").unwrap(),
            kind,
            options,
            number: None,
            position: 0,
            retired: false,
        })
    }

    fn defaults() -> AttributeCatalog {
        AttributeCatalog::new(default_attributes()).unwrap()
    }

    #[test]
    fn keys_are_ascii_slugs() {
        for good in ["area", "child_birth_dates", "a1", "x"] {
            assert!(AttributeKey::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Area",
            "1area",
            "_x",
            "地区",
            "a-b",
            "a b",
            &"a".repeat(41),
        ] {
            assert!(AttributeKey::parse(bad).is_err(), "{bad}");
        }
        assert!(OptionKey::parse("honjo").is_ok());
        assert_eq!(OptionKey::numbered(17).as_str(), "o17");
        assert!(OptionKey::parse(OptionKey::numbered(17).as_str()).is_ok());
    }

    #[test]
    fn names_and_labels_in_japanese() {
        assert_eq!(
            AttributeName::parse(" ").unwrap_err(),
            "項目名を入力してください。"
        );
        assert_eq!(
            AttributeName::parse(&"あ".repeat(41)).unwrap_err(),
            "項目名は40文字以内で入力してください。"
        );
        assert_eq!(
            OptionLabel::parse("").unwrap_err(),
            "選択肢を入力してください。"
        );
        assert_eq!(OptionLabel::parse(" 本庄 ").unwrap().as_str(), "本庄");
    }

    #[test]
    fn option_rules() {
        assert_eq!(
            choice(AttributeKind::SingleChoice, vec![]).unwrap_err(),
            "選択肢を1つ以上登録してください。"
        );
        assert_eq!(
            choice(
                AttributeKind::SingleChoice,
                vec![option("a", 0, "本庄"), option("b", 1, "本庄")]
            )
            .unwrap_err(),
            "選択肢「本庄」が重複しています。"
        );
        assert_eq!(
            choice(
                AttributeKind::SingleChoice,
                vec![option("a", 0, "本庄"), option("a", 1, "森永")]
            )
            .unwrap_err(),
            "選択肢のキー「a」が重複しています。"
        );
        assert_eq!(
            choice(
                AttributeKind::SingleChoice,
                vec![option("a", 0, "本庄"), option("b", 0, "森永")]
            )
            .unwrap_err(),
            "選択肢の番号 0 が重複しています。"
        );
        assert!(
            choice(
                AttributeKind::MultipleChoice,
                vec![option("a", 252, "本庄")]
            )
            .unwrap_err()
            .contains("252個まで")
        );
        assert!(choice(AttributeKind::SingleChoice, vec![option("a", 5000, "本庄")]).is_ok());
        let mut text = choice(AttributeKind::SingleChoice, vec![option("a", 0, "本庄")])
            .unwrap()
            .into_parts();
        text.kind = AttributeKind::Text;
        assert!(Attribute::new(text.clone()).is_err(), "options on text");
        text.options.clear();
        assert!(Attribute::new(text.clone()).is_ok());
        text.kind = AttributeKind::Number;
        assert_eq!(
            Attribute::new(text).unwrap_err(),
            "数値の範囲を指定してください。"
        );
    }

    #[test]
    fn hundreds_of_options() {
        let options: Vec<ChoiceOption> = (0..800u16)
            .map(|i| option(&format!("d{i}"), i, &format!("地区{i}")))
            .collect();
        let area = choice(AttributeKind::SingleChoice, options).unwrap();
        assert_eq!(area.active_options().count(), 800);
        assert_eq!(area.option_by_index(799).unwrap().label.as_str(), "地区799");
    }

    #[test]
    fn staff_edit_options_without_losing_bits() {
        let mut a = choice(
            AttributeKind::MultipleChoice,
            vec![option("a", 0, "子育て"), option("b", 1, "防災")],
        )
        .unwrap();
        a.set_option_retired(&okey("b"), true).unwrap();
        let added = a
            .add_option(None, OptionLabel::parse("観光").unwrap())
            .unwrap();
        assert_eq!(added.index, 2, "the retired option's bit stays taken");
        assert_eq!(added.key.as_str(), "o2");
        assert_eq!(
            a.add_option(None, OptionLabel::parse("子育て").unwrap())
                .unwrap_err(),
            "選択肢「子育て」が重複しています。"
        );
        assert_eq!(
            a.rename_option(&okey("a"), OptionLabel::parse("観光").unwrap())
                .unwrap_err(),
            "選択肢「観光」はすでにあります。"
        );
        a.rename_option(&okey("a"), OptionLabel::parse("子育て・教育").unwrap())
            .unwrap();
        a.reorder_options(&[okey("o2"), okey("b"), okey("a")])
            .unwrap();
        let order: Vec<&str> = a.options().iter().map(|o| o.key.as_str()).collect();
        assert_eq!(order, ["o2", "b", "a"]);
        assert!(a.reorder_options(&[okey("a")]).is_err());
        a.set_option_retired(&okey("a"), true).unwrap();
        assert_eq!(
            a.set_option_retired(&okey("o2"), true).unwrap_err(),
            "使用中の選択肢を1つ以上残してください。"
        );
        let active: Vec<&str> = a.active_options().map(|o| o.label.as_str()).collect();
        assert_eq!(active, ["観光"]);
    }

    #[test]
    fn answers_are_checked_against_the_attribute() {
        let catalog = defaults();
        let area = catalog.get(&key("area")).unwrap();
        assert_eq!(
            area.parse_answer(&["honjo"]).unwrap(),
            Some(AttributeValue::Choice(okey("honjo")))
        );
        assert_eq!(area.parse_answer(&["", " "]).unwrap(), None);
        assert_eq!(
            area.parse_answer(&["nowhere"]).unwrap_err(),
            "お住まいの地区に「nowhere」という選択肢はありません。"
        );
        assert!(area.parse_answer(&["honjo", "kiwaki"]).is_err());

        let mut retired = area.clone();
        retired.set_option_retired(&okey("honjo"), true).unwrap();
        assert_eq!(
            retired.parse_answer(&["honjo"]).unwrap_err(),
            "お住まいの地区の「本庄」は選べなくなりました。"
        );

        let size = catalog.get(&key("household_size")).unwrap();
        assert_eq!(
            size.parse_answer(&["４"]).unwrap(),
            Some(AttributeValue::Number(4))
        );
        assert_eq!(
            size.parse_answer(&["21"]).unwrap_err(),
            "世帯の人数は1〜20人の範囲で入力してください。"
        );
        assert_eq!(
            size.parse_answer(&["3.5"]).unwrap_err(),
            "世帯の人数は半角数字（整数）で入力してください。"
        );

        let children = catalog.get(&key("child_birth_dates")).unwrap();
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(
            children
                .parse_answer(&["2025/6/1", "", "2023-01-31", "2025/6/1"])
                .unwrap(),
            Some(AttributeValue::Dates(vec![
                d(2023, 1, 31),
                d(2025, 6, 1),
                d(2025, 6, 1)
            ]))
        );
        assert_eq!(
            children.parse_answer(&["2025/2/30"]).unwrap_err(),
            "お子さんの生年月日: 2025年2月30日という日はありません。"
        );
        assert_eq!(
            children.parse_answer(&["1899/12/31"]).unwrap_err(),
            "お子さんの生年月日は1900年〜2099年の日付で入力してください。"
        );
        let many: Vec<&str> = vec!["2020/1/1"; 21];
        assert_eq!(
            children.parse_answer(&many).unwrap_err(),
            "お子さんの生年月日は20件まで登録できます。"
        );

        let interests = catalog.get(&key("interests")).unwrap();
        assert_eq!(
            interests.parse_answer(&["bosai", "kosodate"]).unwrap(),
            Some(AttributeValue::Choices(
                [okey("bosai"), okey("kosodate")].into_iter().collect()
            ))
        );
        assert!(
            interests
                .check_answer(&AttributeValue::Number(1))
                .unwrap_err()
                .contains("回答の種類が違います")
        );

        let text = catalog.get(&key("neighborhood_association")).unwrap();
        assert!(text.parse_answer(&[&"あ".repeat(201)]).is_err());
        assert!(text.parse_answer(&["a\u{7}"]).is_err());

        let mut gone = size.clone();
        gone.set_retired(true);
        assert_eq!(
            gone.check_answer(&AttributeValue::Number(3)).unwrap_err(),
            "「世帯の人数」は使われなくなった項目です。"
        );
    }

    #[test]
    fn default_set_is_large_and_consistent() {
        let attributes = default_attributes();
        assert!(attributes.len() >= 25, "M09: at least 25");
        let catalog = AttributeCatalog::new(attributes.clone()).unwrap();
        assert_eq!(catalog.len(), attributes.len(), "keys unique");
        for attribute in &attributes {
            // Every default would pass the same checks as staff input.
            let parts = attribute.clone().into_parts();
            assert_eq!(AttributeKey::parse(parts.key.as_str()).unwrap(), parts.key);
            assert_eq!(
                AttributeName::parse(parts.name.as_str()).unwrap(),
                parts.name
            );
            let labels: BTreeSet<&str> = parts.options.iter().map(|o| o.label.as_str()).collect();
            assert_eq!(labels.len(), parts.options.len(), "{}", parts.name);
            for o in &parts.options {
                assert_eq!(OptionKey::parse(o.key.as_str()).unwrap(), o.key);
                assert_eq!(OptionLabel::parse(o.label.as_str()).unwrap(), o.label);
            }
            assert_eq!(&Attribute::new(parts).unwrap(), attribute);
        }
        let kinds: BTreeSet<&str> = attributes.iter().map(|a| a.kind().code()).collect();
        assert_eq!(kinds.len(), AttributeKind::ALL.len(), "every kind shown");
        let area = catalog.get(&key("area")).unwrap();
        assert!(
            area.option(&okey("outside"))
                .is_some_and(|o| o.label.as_str() == "町外")
        );
        let gender = catalog.get(&key("gender")).unwrap();
        assert!(
            gender
                .options()
                .iter()
                .any(|o| o.label.as_str() == "回答しない")
        );
        assert!(catalog.get(&key("interests")).unwrap().options().len() >= 20);
        assert!(catalog.get(&key("language")).unwrap().options().len() >= 5);
    }

    #[test]
    fn catalog_refuses_duplicates() {
        let mut attributes = default_attributes();
        let mut copy = attributes[0].clone().into_parts();
        copy.name = AttributeName::parse("別名").unwrap();
        attributes.push(Attribute::new(copy).unwrap());
        assert_eq!(
            AttributeCatalog::new(attributes).unwrap_err(),
            "キー「birth_year」の項目が2つあります。"
        );
        let mut attributes = default_attributes();
        let mut copy = attributes[0].clone().into_parts();
        copy.key = key("another");
        attributes.push(Attribute::new(copy).unwrap());
        assert_eq!(
            AttributeCatalog::new(attributes).unwrap_err(),
            "項目名「生まれた年（西暦）」が重複しています。"
        );
    }

    #[test]
    fn kind_codes_round_trip() {
        for kind in AttributeKind::ALL {
            assert_eq!(AttributeKind::from_code(kind.code()), Some(kind));
        }
        assert_eq!(AttributeKind::from_code("nope"), None);
    }

    #[test]
    fn masks_use_63_bit_columns() {
        let options: Vec<ChoiceOption> = (0..=MAX_BIT_INDEX)
            .map(|i| option(&format!("t{i}"), i, &format!("分野{i}")))
            .collect();
        let a = choice(AttributeKind::MultipleChoice, options).unwrap();
        let masks = a
            .choice_masks(&[okey("t0"), okey("t62"), okey("t63"), okey("t251")])
            .unwrap();
        assert_eq!(masks, [1 | (1 << 62), 1, 0, 1 << 62]);
        assert!(masks.iter().all(|m| *m >= 0), "no sign bit");
        let back = a.choices_from_masks(&masks);
        let keys: Vec<&str> = back.iter().map(OptionKey::as_str).collect();
        assert_eq!(keys, ["t0", "t251", "t62", "t63"]);
    }

    proptest! {
        #[test]
        fn masks_round_trip(bits in proptest::collection::btree_set(0u16..=MAX_BIT_INDEX, 0..40)) {
            let options: Vec<ChoiceOption> = (0..=MAX_BIT_INDEX)
                .map(|i| option(&format!("t{i}"), i, &format!("分野{i}")))
                .collect();
            let a = choice(AttributeKind::MultipleChoice, options).unwrap();
            let keys: BTreeSet<OptionKey> = bits.iter().map(|i| okey(&format!("t{i}"))).collect();
            let masks = a.choice_masks(&keys).unwrap();
            prop_assert!(masks.iter().all(|m| *m >= 0));
            prop_assert_eq!(a.choices_from_masks(&masks), keys);
        }
    }
}
