//! Registration forms and surveys (フォーム, M05, M06, M08, M26).
//!
//! A form is a title, a description, a kind, an open/closed flag and items in
//! order. An item is either bound to a friend attribute (its input follows the
//! attribute's kind, and a 更新型 form writes the answer to the friend's
//! attributes) or a free question kept only in the form's responses.
//!
//! Everything here is pure: [`validate`] turns the raw values of a submitted
//! form into typed answers or Japanese messages per field.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::attributes::{
    Attribute, AttributeCatalog, AttributeKey, AttributeKind, AttributeValue, DATE_YEARS,
    MAX_DATES, OptionKey,
};
use crate::time_of_day::normalize_input;
use crate::validation::{FieldErrors, optional_text, required_text};

pub const TITLE_MAX_CHARS: usize = 60;
pub const DESCRIPTION_MAX_CHARS: usize = 1000;
pub const LABEL_MAX_CHARS: usize = 100;
pub const HELP_MAX_CHARS: usize = 300;
pub const OPTION_MAX_CHARS: usize = 60;
pub const MAX_OPTIONS: usize = 50;
pub const MAX_ITEMS: usize = 50;
/// Longest free-text answer, in characters.
pub const TEXT_MAX_CHARS: usize = 1000;
/// Free number questions accept whole numbers within ±this.
pub const NUMBER_LIMIT: i64 = 999_999_999;
/// A single choice with more options than this is shown as a `<select>`
/// (districts run to tens or hundreds); fewer as large radio buttons.
pub const SELECT_THRESHOLD: usize = 8;

/// What a submission does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FormKind {
    /// 更新型: the friend's registration; attribute items write the friend's
    /// attributes and a new submission replaces the friend's previous one.
    Preference,
    /// 追加型: a survey (satisfaction surveys, M26); every submission is kept.
    Survey,
    /// 職員入力: filled in by staff in the admin, for a friend or for nobody.
    Staff,
}

impl FormKind {
    pub const ALL: [FormKind; 3] = [FormKind::Preference, FormKind::Survey, FormKind::Staff];

    pub fn code(self) -> &'static str {
        match self {
            FormKind::Preference => "preference",
            FormKind::Survey => "survey",
            FormKind::Staff => "staff",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            FormKind::Preference => "更新型（登録・変更）",
            FormKind::Survey => "追加型（アンケート）",
            FormKind::Staff => "職員入力用",
        }
    }

    /// Residents open it from LINE (not the staff-only kind).
    pub fn for_residents(self) -> bool {
        self != FormKind::Staff
    }

    /// Attribute items write the friend's attributes.
    pub fn writes_attributes(self) -> bool {
        self == FormKind::Preference
    }
}

/// The kind of a free question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    SingleChoice,
    MultipleChoice,
    Text,
    Number,
    Date,
}

impl QuestionKind {
    pub const ALL: [QuestionKind; 5] = [
        QuestionKind::SingleChoice,
        QuestionKind::MultipleChoice,
        QuestionKind::Text,
        QuestionKind::Number,
        QuestionKind::Date,
    ];

    pub fn code(self) -> &'static str {
        match self {
            QuestionKind::SingleChoice => "single_choice",
            QuestionKind::MultipleChoice => "multiple_choice",
            QuestionKind::Text => "text",
            QuestionKind::Number => "number",
            QuestionKind::Date => "date",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            QuestionKind::SingleChoice => "選択（1つ）",
            QuestionKind::MultipleChoice => "選択（複数可）",
            QuestionKind::Text => "文章",
            QuestionKind::Number => "数値",
            QuestionKind::Date => "日付",
        }
    }

    pub fn is_choice(self) -> bool {
        matches!(
            self,
            QuestionKind::SingleChoice | QuestionKind::MultipleChoice
        )
    }
}

/// Where an item's answer goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ItemSource {
    /// Bound to a friend attribute; the input follows its kind.
    Attribute { key: AttributeKey },
    /// A free question; `options` for the choice kinds only.
    Question {
        kind: QuestionKind,
        options: Vec<String>,
    },
}

/// One item of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormItem {
    /// Stable within the form (`i1`, `i2` ...): responses refer to it.
    pub key: String,
    pub label: String,
    pub help: String,
    pub required: bool,
    pub source: ItemSource,
}

impl FormItem {
    /// The HTML field name of the item's input(s).
    pub fn field(&self) -> String {
        format!("f_{}", self.key)
    }

    pub fn attribute_key(&self) -> Option<&AttributeKey> {
        match &self.source {
            ItemSource::Attribute { key } => Some(key),
            ItemSource::Question { .. } => None,
        }
    }
}

/// The parts of a form staff edit (items are edited one by one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormHeader {
    pub title: String,
    pub description: String,
    pub kind: FormKind,
}

impl FormHeader {
    pub fn parse(title: &str, description: &str, kind: &str) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let title = errors.take("title", required_text(title, "フォーム名", TITLE_MAX_CHARS));
        let description = errors.take(
            "description",
            multiline(description, "説明", DESCRIPTION_MAX_CHARS),
        );
        let kind = errors.take(
            "kind",
            FormKind::from_code(kind).ok_or_else(|| "フォームの種類を選んでください。".to_owned()),
        );
        match (title, description, kind) {
            (Some(title), Some(description), Some(kind)) if errors.is_empty() => Ok(Self {
                title,
                description,
                kind,
            }),
            _ => Err(errors),
        }
    }
}

/// Multi-line text: lines trimmed at the end, no control characters but line
/// breaks, at most `max` characters.
pub fn multiline(value: &str, label: &str, max: usize) -> Result<String, String> {
    let text = value.replace("\r\n", "\n").replace('\r', "\n");
    let text = text.trim();
    if text.chars().count() > max {
        return Err(format!("{label}は{max}文字以内で入力してください。"));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(format!("{label}に使えない文字が含まれています。"));
    }
    Ok(text.to_owned())
}

/// An item as staff describe it on the edit page, checked against the
/// attribute catalogue. `key` is given by the caller (storage).
pub fn parse_item(
    key: &str,
    label: &str,
    help: &str,
    required: bool,
    source: &str,
    options_text: &str,
    catalog: &AttributeCatalog,
) -> Result<FormItem, FieldErrors> {
    let mut errors = FieldErrors::new();
    let source = if let Some(attr) = source.strip_prefix("attr:") {
        match AttributeKey::parse(attr)
            .ok()
            .and_then(|k| catalog.get(&k).filter(|a| !a.is_retired()))
        {
            Some(a) => Some(ItemSource::Attribute {
                key: a.key().clone(),
            }),
            None => {
                errors.add("source", "属性を選んでください。");
                None
            }
        }
    } else if let Some(kind) = source.strip_prefix("q:").and_then(QuestionKind::from_code) {
        let options = if kind.is_choice() {
            errors.take("options", parse_options(options_text))
        } else {
            Some(Vec::new())
        };
        options.map(|options| ItemSource::Question { kind, options })
    } else {
        errors.add("source", "項目の種類を選んでください。");
        None
    };
    // An attribute item may take the attribute's name as its label.
    let label = match (&source, label.trim().is_empty()) {
        (Some(ItemSource::Attribute { key }), true) => catalog
            .get(key)
            .map(|a| a.name().as_str().to_owned())
            .unwrap_or_default(),
        _ => errors
            .take("label", required_text(label, "質問文", LABEL_MAX_CHARS))
            .unwrap_or_default(),
    };
    let help = errors
        .take("help", multiline(help, "補足説明", HELP_MAX_CHARS))
        .unwrap_or_default();
    match source {
        Some(source) if errors.is_empty() => Ok(FormItem {
            key: key.to_owned(),
            label,
            help,
            required,
            source,
        }),
        _ => Err(errors),
    }
}

/// Options of a free choice question: one per line, blank lines ignored.
pub fn parse_options(text: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let option = optional_text(line, "選択肢", OPTION_MAX_CHARS)?;
        if out.contains(&option) {
            return Err(format!("選択肢「{option}」が重複しています。"));
        }
        out.push(option);
    }
    if out.is_empty() {
        return Err("選択肢を1行に1つずつ入力してください。".to_owned());
    }
    if out.len() > MAX_OPTIONS {
        return Err(format!("選択肢は{MAX_OPTIONS}個までです。"));
    }
    Ok(out)
}

/// Checks a whole form's items: unique keys, an attribute at most once.
pub fn check_items(items: &[FormItem]) -> Result<(), String> {
    if items.len() > MAX_ITEMS {
        return Err(format!("項目は{MAX_ITEMS}個までです。"));
    }
    let mut keys = BTreeSet::new();
    let mut attributes = BTreeSet::new();
    for item in items {
        if !keys.insert(item.key.as_str()) {
            return Err(format!("項目のキー「{}」が重複しています。", item.key));
        }
        if let Some(a) = item.attribute_key()
            && !attributes.insert(a)
        {
            return Err(format!("「{}」の項目はすでにあります。", item.label));
        }
    }
    Ok(())
}

/// One answer in a response. Attribute items keep the attribute's value
/// (option keys); free choice questions keep the option's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Answer {
    Attribute(AttributeValue),
    Choice(String),
    Choices(Vec<String>),
    Text(String),
    Number(i64),
    Date(NaiveDate),
}

/// A response's answers by item key.
pub type Answers = BTreeMap<String, Answer>;

/// How an item is shown to the person filling it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Widget {
    Radio,
    Select,
    Checkboxes,
    Text,
    Number,
    Date,
    /// Repeating date rows (children's birth dates).
    DateList,
}

impl Widget {
    pub fn code(self) -> &'static str {
        match self {
            Widget::Radio => "radio",
            Widget::Select => "select",
            Widget::Checkboxes => "checkboxes",
            Widget::Text => "text",
            Widget::Number => "number",
            Widget::Date => "date",
            Widget::DateList => "date_list",
        }
    }
}

/// One choice as shown: the submitted value and its label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub value: String,
    pub label: String,
}

/// The widget and choices of an item; `None` when its attribute is gone or
/// retired (the item is then skipped).
pub fn presentation(item: &FormItem, catalog: &AttributeCatalog) -> Option<(Widget, Vec<Choice>)> {
    match &item.source {
        ItemSource::Attribute { key } => {
            let a = catalog.get(key).filter(|a| !a.is_retired())?;
            let choices: Vec<Choice> = a
                .active_options()
                .map(|o| Choice {
                    value: o.key.as_str().to_owned(),
                    label: o.label.as_str().to_owned(),
                })
                .collect();
            let widget = match a.kind() {
                AttributeKind::SingleChoice if choices.len() > SELECT_THRESHOLD => Widget::Select,
                AttributeKind::SingleChoice => Widget::Radio,
                AttributeKind::MultipleChoice => Widget::Checkboxes,
                AttributeKind::Number => Widget::Number,
                AttributeKind::Date => Widget::Date,
                AttributeKind::DateList => Widget::DateList,
                AttributeKind::Text => Widget::Text,
            };
            Some((widget, choices))
        }
        ItemSource::Question { kind, options } => {
            let choices = options
                .iter()
                .map(|o| Choice {
                    value: o.clone(),
                    label: o.clone(),
                })
                .collect::<Vec<_>>();
            let widget = match kind {
                QuestionKind::SingleChoice if choices.len() > SELECT_THRESHOLD => Widget::Select,
                QuestionKind::SingleChoice => Widget::Radio,
                QuestionKind::MultipleChoice => Widget::Checkboxes,
                QuestionKind::Text => Widget::Text,
                QuestionKind::Number => Widget::Number,
                QuestionKind::Date => Widget::Date,
            };
            Some((widget, choices))
        }
    }
}

/// The values an answer shows in its inputs (option values, or one text).
pub fn input_values(answer: &Answer) -> Vec<String> {
    match answer {
        Answer::Attribute(v) => match v {
            AttributeValue::Choice(k) => vec![k.as_str().to_owned()],
            AttributeValue::Choices(ks) => ks.iter().map(|k| k.as_str().to_owned()).collect(),
            AttributeValue::Number(n) => vec![n.to_string()],
            AttributeValue::Date(d) => vec![d.to_string()],
            AttributeValue::Dates(ds) => ds.iter().map(ToString::to_string).collect(),
            AttributeValue::Text(t) => vec![t.clone()],
        },
        Answer::Choice(c) => vec![c.clone()],
        Answer::Choices(cs) => cs.clone(),
        Answer::Text(t) => vec![t.clone()],
        Answer::Number(n) => vec![n.to_string()],
        Answer::Date(d) => vec![d.to_string()],
    }
}

/// An answer as a person reads it (option labels, dates as 2025-04-01).
pub fn describe(item: &FormItem, answer: &Answer, catalog: &AttributeCatalog) -> String {
    let attribute = item.attribute_key().and_then(|k| catalog.get(k));
    let option = |k: &OptionKey| {
        attribute.map_or_else(|| k.as_str().to_owned(), |a| a.option_label(k).to_owned())
    };
    match answer {
        Answer::Attribute(v) => match v {
            AttributeValue::Choice(k) => option(k),
            AttributeValue::Choices(ks) => ks.iter().map(option).collect::<Vec<_>>().join("、"),
            AttributeValue::Number(n) => format!(
                "{n}{}",
                attribute
                    .and_then(Attribute::number_range)
                    .map(|r| r.unit())
                    .unwrap_or_default()
            ),
            AttributeValue::Date(d) => d.to_string(),
            AttributeValue::Dates(ds) => ds
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("、"),
            AttributeValue::Text(t) => t.clone(),
        },
        Answer::Choice(c) | Answer::Text(c) => c.clone(),
        Answer::Choices(cs) => cs.join("、"),
        Answer::Number(n) => n.to_string(),
        Answer::Date(d) => d.to_string(),
    }
}

/// The labels counted for an answer on the results page (one per chosen
/// option; nothing for text, numbers and dates).
pub fn counted_labels(item: &FormItem, answer: &Answer, catalog: &AttributeCatalog) -> Vec<String> {
    let attribute = item.attribute_key().and_then(|k| catalog.get(k));
    let option = |k: &OptionKey| {
        attribute.map_or_else(|| k.as_str().to_owned(), |a| a.option_label(k).to_owned())
    };
    match answer {
        Answer::Attribute(AttributeValue::Choice(k)) => vec![option(k)],
        Answer::Attribute(AttributeValue::Choices(ks)) => match attribute {
            // In the attribute's display order.
            Some(a) => a
                .options()
                .iter()
                .filter(|o| ks.contains(&o.key))
                .map(|o| o.label.as_str().to_owned())
                .collect(),
            None => ks.iter().map(option).collect(),
        },
        Answer::Choice(c) => vec![c.clone()],
        Answer::Choices(cs) => cs.clone(),
        _ => Vec::new(),
    }
}

/// A checked submission.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Submission {
    /// Every answered item, by item key.
    pub answers: Answers,
    /// For a 更新型 form: the friend's attributes to write (`None` clears an
    /// attribute the person emptied).
    pub attributes: BTreeMap<AttributeKey, Option<AttributeValue>>,
}

fn date_error(label: &str) -> String {
    format!("「{label}」の日付の形式が正しくありません（例: 2025-04-01）")
}

/// Reads a date typed as 2025-04-01, 2025/4/1 or 2025年4月1日 (full-width
/// digits too), within [`DATE_YEARS`].
pub fn parse_form_date(text: &str, label: &str) -> Result<NaiveDate, String> {
    let text: String = normalize_input(text)
        .chars()
        .map(|c| match c {
            '－' | '‐' | 'ー' | '/' | '年' | '月' => '-',
            _ => c,
        })
        .collect();
    let text = text.trim_end_matches('日');
    let parts: Vec<&str> = text.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(date_error(label));
    };
    let num = |s: &str| {
        if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            s.parse::<u32>().ok()
        }
    };
    let (Some(y), Some(m), Some(d)) = (num(y), num(m), num(d)) else {
        return Err(date_error(label));
    };
    let date = i32::try_from(y)
        .ok()
        .and_then(|y| NaiveDate::from_ymd_opt(y, m, d))
        .ok_or_else(|| date_error(label))?;
    if !DATE_YEARS.contains(&date.year()) {
        return Err(format!(
            "「{label}」は{}年〜{}年の日付で入力してください。",
            DATE_YEARS.start(),
            DATE_YEARS.end()
        ));
    }
    Ok(date)
}

fn parse_number(text: &str, label: &str) -> Result<i64, String> {
    let text = normalize_input(text)
        .replace(['－', 'ー'], "-")
        .replace([',', '，'], "");
    let digits = text.strip_prefix('-').unwrap_or(&text);
    let message = || format!("「{label}」は半角数字（整数）で入力してください。");
    if digits.is_empty() || digits.len() > 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(message());
    }
    let n: i64 = text.parse().map_err(|_| message())?;
    if n.abs() > NUMBER_LIMIT {
        return Err(message());
    }
    Ok(n)
}

fn choose_message(label: &str) -> String {
    format!("「{label}」を選んでください")
}

fn enter_message(label: &str) -> String {
    format!("「{label}」を入力してください")
}

/// Parses one item's raw values; `Ok(None)` when it was left empty.
fn parse_item_answer(
    item: &FormItem,
    values: &[&str],
    catalog: &AttributeCatalog,
) -> Result<Option<Answer>, String> {
    let label = item.label.as_str();
    let values: Vec<&str> = values
        .iter()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .collect();
    let Some(first) = values.first().copied() else {
        return Ok(None);
    };
    let single = || {
        if values.len() > 1 {
            Err(format!("「{label}」は1つだけ選んでください"))
        } else {
            Ok(first)
        }
    };
    match &item.source {
        ItemSource::Attribute { key } => {
            let a = catalog
                .get(key)
                .filter(|a| !a.is_retired())
                .ok_or_else(|| format!("「{label}」は現在お答えいただけません"))?;
            let option = |text: &str| {
                OptionKey::parse(text)
                    .ok()
                    .filter(|k| a.option(k).is_some_and(|o| !o.retired))
                    .ok_or_else(|| format!("「{label}」は表示された選択肢から選んでください"))
            };
            let value = match a.kind() {
                AttributeKind::SingleChoice => AttributeValue::Choice(option(single()?)?),
                AttributeKind::MultipleChoice => AttributeValue::Choices(
                    values.iter().map(|v| option(v)).collect::<Result<_, _>>()?,
                ),
                AttributeKind::Number => AttributeValue::Number(parse_number(single()?, label)?),
                AttributeKind::Date => AttributeValue::Date(parse_form_date(single()?, label)?),
                AttributeKind::DateList => {
                    if values.len() > MAX_DATES {
                        return Err(format!("「{label}」は{MAX_DATES}件まで入力できます"));
                    }
                    AttributeValue::dates(
                        values
                            .iter()
                            .map(|v| parse_form_date(v, label))
                            .collect::<Result<_, _>>()?,
                    )
                }
                AttributeKind::Text => AttributeValue::Text(optional_text(
                    single()?,
                    &format!("「{label}」"),
                    crate::attributes::TEXT_ANSWER_MAX_CHARS,
                )?),
            };
            a.check_answer(&value)?;
            Ok(Some(Answer::Attribute(value)))
        }
        ItemSource::Question { kind, options } => {
            let option = |text: &str| {
                options
                    .iter()
                    .find(|o| o.as_str() == text)
                    .cloned()
                    .ok_or_else(|| format!("「{label}」は表示された選択肢から選んでください"))
            };
            Ok(Some(match kind {
                QuestionKind::SingleChoice => Answer::Choice(option(single()?)?),
                QuestionKind::MultipleChoice => {
                    let chosen: BTreeSet<String> =
                        values.iter().map(|v| option(v)).collect::<Result<_, _>>()?;
                    // In the order staff gave the options.
                    Answer::Choices(
                        options
                            .iter()
                            .filter(|o| chosen.contains(*o))
                            .cloned()
                            .collect(),
                    )
                }
                QuestionKind::Text => {
                    Answer::Text(multiline(first, &format!("「{label}」"), TEXT_MAX_CHARS)?)
                }
                QuestionKind::Number => Answer::Number(parse_number(single()?, label)?),
                QuestionKind::Date => Answer::Date(parse_form_date(single()?, label)?),
            }))
        }
    }
}

/// Checks a submission: `inputs` are the posted values by field name
/// ([`FormItem::field`]). Returns the answers, or a Japanese message per
/// field (e.g. 「お住まいの地区」を選んでください).
pub fn validate(
    kind: FormKind,
    items: &[FormItem],
    catalog: &AttributeCatalog,
    inputs: &BTreeMap<String, Vec<String>>,
) -> Result<Submission, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut out = Submission::default();
    for item in items {
        let Some((widget, _)) = presentation(item, catalog) else {
            continue;
        };
        let field = item.field();
        let values: Vec<&str> = inputs
            .get(&field)
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default();
        match parse_item_answer(item, &values, catalog) {
            Err(message) => errors.add(&field, message),
            Ok(None) if item.required => {
                let message = match widget {
                    Widget::Radio | Widget::Select | Widget::Checkboxes => {
                        choose_message(&item.label)
                    }
                    _ => enter_message(&item.label),
                };
                errors.add(&field, message);
            }
            Ok(None) => {
                if let (Some(key), true) = (item.attribute_key(), kind.writes_attributes()) {
                    out.attributes.insert(key.clone(), None);
                }
            }
            Ok(Some(answer)) => {
                if let (Some(key), true, Answer::Attribute(value)) =
                    (item.attribute_key(), kind.writes_attributes(), &answer)
                {
                    out.attributes.insert(key.clone(), Some(value.clone()));
                }
                out.answers.insert(item.key.clone(), answer);
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attributes::default_attributes;

    fn catalog() -> AttributeCatalog {
        AttributeCatalog::new(default_attributes()).unwrap()
    }

    fn attr_item(key: &str, attr: &str, label: &str, required: bool) -> FormItem {
        FormItem {
            key: key.into(),
            label: label.into(),
            help: String::new(),
            required,
            source: ItemSource::Attribute {
                key: AttributeKey::parse(attr).unwrap(),
            },
        }
    }

    fn question(key: &str, kind: QuestionKind, options: &[&str], required: bool) -> FormItem {
        FormItem {
            key: key.into(),
            label: format!("質問{key}"),
            help: String::new(),
            required,
            source: ItemSource::Question {
                kind,
                options: options.iter().map(|s| (*s).to_owned()).collect(),
            },
        }
    }

    fn inputs(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
            .collect()
    }

    fn registration() -> Vec<FormItem> {
        vec![
            attr_item("i1", "area", "お住まいの地区", true),
            attr_item("i2", "child_birth_dates", "お子さんの生年月日", false),
            attr_item("i3", "interests", "関心のある分野", false),
            question(
                "i4",
                QuestionKind::SingleChoice,
                &["満足", "普通", "不満"],
                false,
            ),
        ]
    }

    #[test]
    fn a_registration_writes_attributes_and_answers() {
        let c = catalog();
        let s = validate(
            FormKind::Preference,
            &registration(),
            &c,
            &inputs(&[
                ("f_i1", &["honjo"]),
                ("f_i2", &["２０２０／４／１", "", "2018-12-24"]),
                ("f_i3", &["bosai", "kosodate"]),
                ("f_i4", &["普通"]),
            ]),
        )
        .unwrap();
        let area = AttributeKey::parse("area").unwrap();
        let children = AttributeKey::parse("child_birth_dates").unwrap();
        assert_eq!(
            s.attributes[&area],
            Some(AttributeValue::Choice(OptionKey::parse("honjo").unwrap()))
        );
        assert_eq!(
            s.attributes[&children],
            Some(AttributeValue::Dates(vec![
                NaiveDate::from_ymd_opt(2018, 12, 24).unwrap(),
                NaiveDate::from_ymd_opt(2020, 4, 1).unwrap()
            ]))
        );
        assert_eq!(s.answers["i4"], Answer::Choice("普通".into()));
        assert_eq!(s.answers.len(), 4);
        assert_eq!(describe(&registration()[0], &s.answers["i1"], &c), "本庄");
        assert_eq!(
            counted_labels(&registration()[2], &s.answers["i3"], &c),
            vec!["子育て".to_owned(), "防災".to_owned()]
        );
    }

    #[test]
    fn a_survey_never_writes_attributes() {
        let s = validate(
            FormKind::Survey,
            &registration(),
            &catalog(),
            &inputs(&[("f_i1", &["honjo"])]),
        )
        .unwrap();
        assert!(s.attributes.is_empty());
        assert_eq!(s.answers.len(), 1);
    }

    #[test]
    fn an_emptied_attribute_is_cleared_in_a_registration() {
        let s = validate(
            FormKind::Preference,
            &registration(),
            &catalog(),
            &inputs(&[("f_i1", &["morinaga"]), ("f_i2", &["", ""])]),
        )
        .unwrap();
        assert_eq!(
            s.attributes[&AttributeKey::parse("child_birth_dates").unwrap()],
            None
        );
    }

    #[test]
    fn messages_name_the_field_in_japanese() {
        let e = validate(
            FormKind::Preference,
            &registration(),
            &catalog(),
            &inputs(&[("f_i2", &["2020-13-01"]), ("f_i3", &["nope"])]),
        )
        .unwrap_err();
        assert_eq!(e.get("f_i1"), Some("「お住まいの地区」を選んでください"));
        assert_eq!(
            e.get("f_i2"),
            Some("「お子さんの生年月日」の日付の形式が正しくありません（例: 2025-04-01）")
        );
        assert_eq!(
            e.get("f_i3"),
            Some("「関心のある分野」は表示された選択肢から選んでください")
        );
        assert_eq!(e.len(), 3);
    }

    #[test]
    fn free_questions_are_checked() {
        let items = vec![
            question("a", QuestionKind::Text, &[], true),
            question("b", QuestionKind::Number, &[], false),
            question("c", QuestionKind::Date, &[], false),
            question("d", QuestionKind::MultipleChoice, &["x", "y", "z"], false),
            question("e", QuestionKind::SingleChoice, &["x", "y"], false),
        ];
        let e = validate(
            FormKind::Survey,
            &items,
            &catalog(),
            &inputs(&[("f_b", &["12a"]), ("f_c", &["昨日"]), ("f_e", &["x", "y"])]),
        )
        .unwrap_err();
        assert_eq!(e.get("f_a"), Some("「質問a」を入力してください"));
        assert_eq!(
            e.get("f_b"),
            Some("「質問b」は半角数字（整数）で入力してください。")
        );
        assert!(e.get("f_c").unwrap().contains("日付の形式"));
        assert_eq!(e.get("f_e"), Some("「質問e」は1つだけ選んでください"));
        let ok = validate(
            FormKind::Survey,
            &items,
            &catalog(),
            &inputs(&[
                ("f_a", &["  とても良い\r\n施設です "]),
                ("f_b", &["１２"]),
                ("f_c", &["2025年4月1日"]),
                ("f_d", &["z", "x"]),
            ]),
        )
        .unwrap();
        assert_eq!(ok.answers["a"], Answer::Text("とても良い\n施設です".into()));
        assert_eq!(ok.answers["b"], Answer::Number(12));
        assert_eq!(
            ok.answers["c"],
            Answer::Date(NaiveDate::from_ymd_opt(2025, 4, 1).unwrap())
        );
        assert_eq!(
            ok.answers["d"],
            Answer::Choices(vec!["x".into(), "z".into()])
        );
    }

    #[test]
    fn areas_with_many_options_are_a_select() {
        let c = catalog();
        let items = registration();
        assert_eq!(presentation(&items[0], &c).unwrap().0, Widget::Select);
        assert_eq!(presentation(&items[1], &c).unwrap().0, Widget::DateList);
        assert_eq!(presentation(&items[2], &c).unwrap().0, Widget::Checkboxes);
        assert_eq!(presentation(&items[3], &c).unwrap().0, Widget::Radio);
    }

    #[test]
    fn staff_items_are_parsed_and_checked() {
        let c = catalog();
        let item = parse_item("i1", "", "", true, "attr:area", "", &c).unwrap();
        assert_eq!(item.label, "お住まいの地区");
        let e = parse_item("i2", "", "", false, "q:single_choice", "\n \n", &c).unwrap_err();
        assert!(e.get("options").is_some());
        assert!(e.get("label").is_some());
        let q = parse_item(
            "i2",
            "満足度",
            "",
            false,
            "q:single_choice",
            "満足\n普通\n\n不満",
            &c,
        )
        .unwrap();
        assert_eq!(
            q.source,
            ItemSource::Question {
                kind: QuestionKind::SingleChoice,
                options: vec!["満足".into(), "普通".into(), "不満".into()]
            }
        );
        assert!(parse_item("i3", "x", "", false, "attr:nope", "", &c).is_err());
        assert!(parse_options("a\na").is_err());
        let twice = vec![
            item.clone(),
            FormItem {
                key: "i9".into(),
                ..item
            },
        ];
        assert!(check_items(&twice).is_err());
        assert!(
            FormHeader::parse(" ", "", "survey")
                .unwrap_err()
                .get("title")
                .is_some()
        );
        assert_eq!(
            FormHeader::parse("アンケート", "", "survey").unwrap().kind,
            FormKind::Survey
        );
    }

    #[test]
    fn answers_round_trip_as_json() {
        let mut a = Answers::new();
        a.insert(
            "i1".into(),
            Answer::Attribute(AttributeValue::Choice(OptionKey::parse("honjo").unwrap())),
        );
        a.insert("i2".into(), Answer::Choices(vec!["x".into()]));
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<Answers>(&json).unwrap(), a);
    }
}
