//! Segments (セグメント): which friends a delivery goes to, as a condition tree
//! over their attributes, their friend status and test-account membership.
//!
//! The same [`Condition`] is evaluated in three places, which must agree:
//! [`matches`] here (tests, previews of one friend), the store's SQL (counts and
//! recipients for a million friends) and [`Condition::describe_ja`] (what staff
//! read). For the SQL, every date predicate turns into an inclusive range of
//! dates ([`AgeRange::birth_date_bounds`]) so the store compiles it to
//! `BETWEEN` on an indexed column instead of computing ages row by row.
//!
//! Ages count the way Japanese offices and residents say 生後3か月 or 満5歳: a
//! month (year) is complete on its monthly (yearly) anniversary, the same day
//! number; a birth on the 31st reaches it on the last day of a shorter month
//! (1/31 → 2/28 or 2/29 → 3/31), a birth on 2/29 has its birthday on 2/28 in a
//! common year. (The 年齢計算ニ関スル法律 adds a year at the end of the day
//! before the birthday, which matters for school years, not for choosing the
//! morning a message goes out.)

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{Datelike, Days, Months, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::attributes::{AttributeCatalog, AttributeKey, AttributeKind, AttributeValue, OptionKey};
use crate::datetime::{format_date_plain, is_last_day_of_month, last_day_of_month};
use crate::validation::required_text;

/// Deepest nesting of AND / OR / NOT groups; deeper trees are hard to read and
/// never needed.
pub const MAX_DEPTH: usize = 5;
/// Most leaf conditions in one segment.
pub const MAX_LEAVES: usize = 50;
/// Longest text in a text condition, in characters.
pub const TEXT_MAX_CHARS: usize = 100;
/// Longest segment name, in characters.
pub const SEGMENT_NAME_MAX_CHARS: usize = 50;

/// Whether the friend can currently receive messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FriendStatus {
    Friend,
    Blocked,
}

impl FriendStatus {
    pub fn label_ja(self) -> &'static str {
        match self {
            FriendStatus::Friend => "友だち",
            FriendStatus::Blocked => "ブロック中",
        }
    }
}

/// The unit an age is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgeUnit {
    Days,
    Months,
    Years,
}

impl AgeUnit {
    fn label_ja(self) -> &'static str {
        match self {
            AgeUnit::Days => "日",
            AgeUnit::Months => "か月",
            AgeUnit::Years => "年",
        }
    }

    /// Largest bound staff may type: about 150 years in each unit.
    fn limit(self) -> u32 {
        match self {
            AgeUnit::Days => 55_000,
            AgeUnit::Months => 1_800,
            AgeUnit::Years => 150,
        }
    }
}

/// Completed days from `birth` to `on`: 0 on the day itself. `None` before it.
pub fn age_in_days(birth: NaiveDate, on: NaiveDate) -> Option<u32> {
    u32::try_from((on - birth).num_days()).ok()
}

/// Completed months from `birth` to `on` (see the module comment). `None` before it.
pub fn completed_months(birth: NaiveDate, on: NaiveDate) -> Option<u32> {
    if on < birth {
        return None;
    }
    let months = (on.year() - birth.year()) * 12 + on.month() as i32 - birth.month() as i32;
    let months = u32::try_from(months).ok()?;
    // chrono clamps to the month end, which is exactly the anniversary rule.
    let anniversary = birth.checked_add_months(Months::new(months))?;
    Some(if anniversary > on {
        months.saturating_sub(1)
    } else {
        months
    })
}

/// Completed years (満年齢) from `birth` to `on`. `None` before it.
pub fn completed_years(birth: NaiveDate, on: NaiveDate) -> Option<u32> {
    completed_months(birth, on).map(|m| m / 12)
}

/// The age in `unit` on `on` of someone (something) dated `birth`.
pub fn age(unit: AgeUnit, birth: NaiveDate, on: NaiveDate) -> Option<u32> {
    match unit {
        AgeUnit::Days => age_in_days(birth, on),
        AgeUnit::Months => completed_months(birth, on),
        AgeUnit::Years => completed_years(birth, on),
    }
}

/// The latest birth date that has completed `months` months on `on`. Births
/// in the month `months` before `on` reach their anniversary in `on`'s month
/// on the same day number, or on its last day if shorter; so when `on` is a
/// month end, every birth of that earlier month has reached it.
fn latest_birth_with_months(months: u32, on: NaiveDate) -> Option<NaiveDate> {
    let back = on.checked_sub_months(Months::new(months))?;
    Some(if is_last_day_of_month(on) {
        last_day_of_month(back)
    } else {
        back
    })
}

/// An inclusive range of dates; `earliest: None` is unbounded. There is always a
/// latest date, since nobody can be counted before they are born.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateBounds {
    pub earliest: Option<NaiveDate>,
    pub latest: NaiveDate,
}

impl DateBounds {
    pub fn contains(&self, date: NaiveDate) -> bool {
        date <= self.latest && self.earliest.is_none_or(|e| e <= date)
    }
}

/// "aged `min` to `max` `unit`s", both inclusive, either open. A friend's
/// date matches when its age on the delivery date is in the range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgeRange {
    pub unit: AgeUnit,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
}

impl AgeRange {
    pub fn new(unit: AgeUnit, min: Option<u32>, max: Option<u32>) -> Result<Self, String> {
        let range = Self { unit, min, max };
        range.check()?;
        Ok(range)
    }

    fn check(&self) -> Result<(), String> {
        let unit = self.unit.label_ja();
        let limit = self.unit.limit();
        match (self.min, self.max) {
            (None, None) => Err("年齢・月齢の下限か上限を入力してください。".to_owned()),
            (Some(min), Some(max)) if min > max => Err(format!(
                "下限（{min}{unit}）が上限（{max}{unit}）より大きくなっています。"
            )),
            (min, max) if min.max(max).is_some_and(|v| v > limit) => {
                Err(format!("年齢・月齢は{limit}{unit}以内で指定してください。"))
            }
            _ => Ok(()),
        }
    }

    /// Whether a date `birth` is in range on `on`.
    pub fn contains(&self, birth: NaiveDate, on: NaiveDate) -> bool {
        age(self.unit, birth, on).is_some_and(|a| {
            self.min.is_none_or(|min| min <= a) && self.max.is_none_or(|max| a <= max)
        })
    }

    /// The dates whose age on `on` is in range, as one inclusive range, for SQL
    /// `BETWEEN`: exactly the dates for which [`AgeRange::contains`] holds.
    /// `None`: no date matches (compile to false).
    pub fn birth_date_bounds(&self, on: NaiveDate) -> Option<DateBounds> {
        let min = self.min.unwrap_or(0);
        let (latest, earliest) = match self.unit {
            AgeUnit::Days => (
                on.checked_sub_days(Days::new(u64::from(min)))?,
                // Out of chrono's range means nothing earlier exists: unbounded.
                self.max
                    .and_then(|max| on.checked_sub_days(Days::new(u64::from(max)))),
            ),
            AgeUnit::Months | AgeUnit::Years => {
                let factor = if self.unit == AgeUnit::Years { 12 } else { 1 };
                let from = u32::try_from(u64::from(min) * factor).ok()?;
                let latest = latest_birth_with_months(from, on)?;
                // Born after the latest birth that has completed max+1 units.
                let beyond = self
                    .max
                    .and_then(|max| u32::try_from((u64::from(max) + 1) * factor).ok())
                    .and_then(|until| latest_birth_with_months(until, on));
                let earliest = match beyond {
                    Some(date) => Some(date.succ_opt()?),
                    None => None,
                };
                (latest, earliest)
            }
        };
        if earliest.is_some_and(|e| e > latest) {
            return None;
        }
        Some(DateBounds { earliest, latest })
    }

    /// 満3〜5か月, 満65年以上, 満2年以下.
    pub fn describe_ja(&self) -> String {
        let unit = self.unit.label_ja();
        match (self.min, self.max) {
            (Some(min), Some(max)) if min == max => format!("満{min}{unit}"),
            (Some(min), Some(max)) => format!("満{min}〜{max}{unit}"),
            (Some(min), None) => format!("満{min}{unit}以上"),
            (None, Some(max)) => format!("満{max}{unit}以下"),
            (None, None) => "年齢の指定なし".to_owned(),
        }
    }
}

/// One test on a friend. Predicates on an attribute are false for a friend who
/// has not answered it (an empty set, list or text counts as no answer), so
/// NOT of one of them includes those friends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Predicate {
    /// Single choice: the answer is one of `options`.
    ChoiceIn {
        attribute: AttributeKey,
        options: Vec<OptionKey>,
    },
    /// Multiple choice: the answer includes at least one of `options`.
    IncludesAny {
        attribute: AttributeKey,
        options: Vec<OptionKey>,
    },
    /// Multiple choice: the answer includes every one of `options`.
    IncludesAll {
        attribute: AttributeKey,
        options: Vec<OptionKey>,
    },
    /// Any kind: no answer.
    NotAnswered { attribute: AttributeKey },
    /// Number: `min <= answer <= max`, either bound open.
    NumberBetween {
        attribute: AttributeKey,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<i64>,
    },
    /// Date: its age on the delivery date is in range. Date list: at least one
    /// of its dates is ("has a child aged 3 to 5 months").
    AgeBetween {
        attribute: AttributeKey,
        age: AgeRange,
    },
    /// Date: within `from..=to`, either bound open. Date list: at least one is.
    DateBetween {
        attribute: AttributeKey,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<NaiveDate>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<NaiveDate>,
    },
    /// Text: equal to `text`.
    TextEquals {
        attribute: AttributeKey,
        text: String,
    },
    /// Text: contains `text`.
    TextContains {
        attribute: AttributeKey,
        text: String,
    },
    /// The friend's status.
    FriendStatus { status: FriendStatus },
    /// The friend is a test account (M12).
    TestAccount,
}

impl Predicate {
    /// The attribute the predicate reads, if any.
    pub fn attribute(&self) -> Option<&AttributeKey> {
        match self {
            Predicate::ChoiceIn { attribute, .. }
            | Predicate::IncludesAny { attribute, .. }
            | Predicate::IncludesAll { attribute, .. }
            | Predicate::NotAnswered { attribute }
            | Predicate::NumberBetween { attribute, .. }
            | Predicate::AgeBetween { attribute, .. }
            | Predicate::DateBetween { attribute, .. }
            | Predicate::TextEquals { attribute, .. }
            | Predicate::TextContains { attribute, .. } => Some(attribute),
            Predicate::FriendStatus { .. } | Predicate::TestAccount => None,
        }
    }
}

/// A segment's condition. JSON: every node is an object with an `op`:
/// `{"op":"and","of":[…]}`, `{"op":"or","of":[…]}`, `{"op":"not","of":{…}}`,
/// or a [`Predicate`] such as `{"op":"choice_in","attribute":"area","options":["honjo"]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Node", into = "Node")]
pub enum Condition {
    /// All of them (an empty AND is true; validation refuses it).
    And(Vec<Condition>),
    /// At least one of them (an empty OR is false; validation refuses it).
    Or(Vec<Condition>),
    Not(Box<Condition>),
    Leaf(Predicate),
}

/// The JSON shape: groups and leaves share the `op` tag.
#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Node {
    And {
        of: Vec<Condition>,
    },
    Or {
        of: Vec<Condition>,
    },
    Not {
        of: Box<Condition>,
    },
    #[serde(untagged)]
    Leaf(Predicate),
}

impl From<Node> for Condition {
    fn from(node: Node) -> Self {
        match node {
            Node::And { of } => Condition::And(of),
            Node::Or { of } => Condition::Or(of),
            Node::Not { of } => Condition::Not(of),
            Node::Leaf(p) => Condition::Leaf(p),
        }
    }
}

impl From<Condition> for Node {
    fn from(condition: Condition) -> Self {
        match condition {
            Condition::And(of) => Node::And { of },
            Condition::Or(of) => Node::Or { of },
            Condition::Not(of) => Node::Not { of },
            Condition::Leaf(p) => Node::Leaf(p),
        }
    }
}

impl From<Predicate> for Condition {
    fn from(p: Predicate) -> Self {
        Condition::Leaf(p)
    }
}

impl Condition {
    #[allow(clippy::should_implement_trait)]
    pub fn not(condition: Condition) -> Condition {
        Condition::Not(Box::new(condition))
    }

    /// Number of leaves.
    pub fn leaf_count(&self) -> usize {
        match self {
            Condition::And(of) | Condition::Or(of) => of.iter().map(Condition::leaf_count).sum(),
            Condition::Not(of) => of.leaf_count(),
            Condition::Leaf(_) => 1,
        }
    }

    /// Levels of AND / OR / NOT groups above the deepest leaf (0 for a lone leaf).
    pub fn depth(&self) -> usize {
        match self {
            Condition::And(of) | Condition::Or(of) => {
                1 + of.iter().map(Condition::depth).max().unwrap_or(0)
            }
            Condition::Not(of) => 1 + of.depth(),
            Condition::Leaf(_) => 0,
        }
    }

    /// Every leaf, in order.
    pub fn leaves(&self) -> Vec<&Predicate> {
        let mut out = Vec::new();
        self.collect_leaves(&mut out);
        out
    }

    fn collect_leaves<'a>(&'a self, out: &mut Vec<&'a Predicate>) {
        match self {
            Condition::And(of) | Condition::Or(of) => {
                of.iter().for_each(|c| c.collect_leaves(out));
            }
            Condition::Not(of) => of.collect_leaves(out),
            Condition::Leaf(p) => out.push(p),
        }
    }

    /// Checks the condition before it is saved: no empty group, at most
    /// [`MAX_DEPTH`] levels and [`MAX_LEAVES`] leaves, attributes that exist,
    /// are in use and suit the predicate, options in use, sensible ranges.
    /// Every problem is listed once, in Japanese.
    pub fn validate(&self, catalog: &AttributeCatalog) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        self.check_groups(&mut errors);
        if self.depth() > MAX_DEPTH {
            errors.push(format!("条件の入れ子は{MAX_DEPTH}段までにしてください。"));
        }
        if self.leaf_count() > MAX_LEAVES {
            errors.push(format!("条件は{MAX_LEAVES}個までにしてください。"));
        }
        for leaf in self.leaves() {
            if let Err(message) = check_predicate(leaf, catalog) {
                errors.push(message);
            }
        }
        let mut seen = BTreeSet::new();
        errors.retain(|e| seen.insert(e.clone()));
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    fn check_groups(&self, errors: &mut Vec<String>) {
        match self {
            Condition::And(of) | Condition::Or(of) => {
                if of.is_empty() {
                    errors.push("空のグループがあります。条件を1つ以上入れてください。".to_owned());
                }
                of.iter().for_each(|c| c.check_groups(errors));
            }
            Condition::Not(of) => of.check_groups(errors),
            Condition::Leaf(_) => {}
        }
    }

    /// The condition in plain Japanese for staff:
    /// 「お住まいの地区が「本庄」または「森永」、かつ お子さんの生年月日のいずれかから配信日まで満3〜5か月」.
    pub fn describe_ja(&self, catalog: &AttributeCatalog) -> String {
        match self {
            Condition::And(of) => join_described(of, "、かつ ", catalog),
            Condition::Or(of) => join_described(of, "、または ", catalog),
            Condition::Not(of) => format!("（{}）ではない", of.describe_ja(catalog)),
            Condition::Leaf(p) => describe_predicate(p, catalog),
        }
    }
}

fn join_described(of: &[Condition], separator: &str, catalog: &AttributeCatalog) -> String {
    if of.is_empty() {
        return "（条件なし）".to_owned();
    }
    of.iter()
        .map(|c| match c {
            Condition::And(inner) | Condition::Or(inner) if inner.len() > 1 => {
                format!("（{}）", c.describe_ja(catalog))
            }
            _ => c.describe_ja(catalog),
        })
        .collect::<Vec<_>>()
        .join(separator)
}

fn attribute_name(catalog: &AttributeCatalog, key: &AttributeKey) -> String {
    catalog
        .get(key)
        .map_or_else(|| format!("項目「{key}」"), |a| a.name().to_string())
}

fn option_labels(
    catalog: &AttributeCatalog,
    key: &AttributeKey,
    options: &[OptionKey],
) -> Vec<String> {
    let attribute = catalog.get(key);
    options
        .iter()
        .map(|o| {
            let label = attribute.map_or(o.as_str(), |a| a.option_label(o));
            format!("「{label}」")
        })
        .collect()
}

fn describe_predicate(p: &Predicate, catalog: &AttributeCatalog) -> String {
    let list_prefix = |key: &AttributeKey| {
        let name = attribute_name(catalog, key);
        match catalog.get(key).map(|a| a.kind()) {
            Some(AttributeKind::DateList) => format!("{name}のいずれか"),
            _ => name,
        }
    };
    match p {
        Predicate::ChoiceIn { attribute, options } => format!(
            "{}が{}",
            attribute_name(catalog, attribute),
            option_labels(catalog, attribute, options).join("または")
        ),
        Predicate::IncludesAny { attribute, options } => {
            let labels = option_labels(catalog, attribute, options);
            let name = attribute_name(catalog, attribute);
            if labels.len() == 1 {
                format!("{name}に{}を含む", labels.concat())
            } else {
                format!("{name}に{}のいずれかを含む", labels.concat())
            }
        }
        Predicate::IncludesAll { attribute, options } => {
            let labels = option_labels(catalog, attribute, options);
            let name = attribute_name(catalog, attribute);
            if labels.len() == 1 {
                format!("{name}に{}を含む", labels.concat())
            } else {
                format!("{name}に{}のすべてを含む", labels.concat())
            }
        }
        Predicate::NotAnswered { attribute } => {
            format!("{}が未回答", attribute_name(catalog, attribute))
        }
        Predicate::NumberBetween {
            attribute,
            min,
            max,
        } => {
            let unit = catalog
                .get(attribute)
                .and_then(|a| a.number_range())
                .map_or("", |r| r.unit());
            let range = match (min, max) {
                (Some(a), Some(b)) if a == b => format!("{a}{unit}"),
                (Some(a), Some(b)) => format!("{a}〜{b}{unit}"),
                (Some(a), None) => format!("{a}{unit}以上"),
                (None, Some(b)) => format!("{b}{unit}以下"),
                (None, None) => "回答あり".to_owned(),
            };
            format!("{}が{range}", attribute_name(catalog, attribute))
        }
        Predicate::AgeBetween { attribute, age } => format!(
            "{}から配信日まで{}",
            list_prefix(attribute),
            age.describe_ja()
        ),
        Predicate::DateBetween {
            attribute,
            from,
            to,
        } => {
            let range = match (from, to) {
                (Some(a), Some(b)) if a == b => format_date_plain(*a),
                (Some(a), Some(b)) => {
                    format!("{}〜{}", format_date_plain(*a), format_date_plain(*b))
                }
                (Some(a), None) => format!("{}以降", format_date_plain(*a)),
                (None, Some(b)) => format!("{}以前", format_date_plain(*b)),
                (None, None) => "回答あり".to_owned(),
            };
            format!("{}が{range}", list_prefix(attribute))
        }
        Predicate::TextEquals { attribute, text } => {
            format!("{}が「{text}」", attribute_name(catalog, attribute))
        }
        Predicate::TextContains { attribute, text } => {
            format!("{}に「{text}」を含む", attribute_name(catalog, attribute))
        }
        Predicate::FriendStatus { status } => match status {
            FriendStatus::Friend => "友だち登録中".to_owned(),
            FriendStatus::Blocked => "ブロック中".to_owned(),
        },
        Predicate::TestAccount => "テスト用アカウント".to_owned(),
    }
}

fn check_predicate(p: &Predicate, catalog: &AttributeCatalog) -> Result<(), String> {
    let Some(key) = p.attribute() else {
        return Ok(());
    };
    let Some(attribute) = catalog.get(key) else {
        return Err(format!("項目「{key}」が見つかりません。"));
    };
    let name = attribute.name();
    if attribute.is_retired() {
        return Err(format!("「{name}」は使われなくなった項目です。"));
    }
    let kind = attribute.kind();
    let suits = match p {
        Predicate::ChoiceIn { .. } => kind == AttributeKind::SingleChoice,
        Predicate::IncludesAny { .. } | Predicate::IncludesAll { .. } => {
            kind == AttributeKind::MultipleChoice
        }
        Predicate::NotAnswered { .. } => true,
        Predicate::NumberBetween { .. } => kind == AttributeKind::Number,
        Predicate::AgeBetween { .. } | Predicate::DateBetween { .. } => kind.is_date(),
        Predicate::TextEquals { .. } | Predicate::TextContains { .. } => {
            kind == AttributeKind::Text
        }
        Predicate::FriendStatus { .. } | Predicate::TestAccount => true,
    };
    if !suits {
        return Err(format!(
            "「{name}」（{}）にはこの条件は使えません。",
            kind.label_ja()
        ));
    }
    match p {
        Predicate::ChoiceIn { options, .. }
        | Predicate::IncludesAny { options, .. }
        | Predicate::IncludesAll { options, .. } => {
            if options.is_empty() {
                return Err(format!("「{name}」の選択肢を1つ以上選んでください。"));
            }
            for key in options {
                match attribute.option(key) {
                    None => return Err(format!("「{name}」に選択肢「{key}」はありません。")),
                    Some(o) if o.retired => {
                        return Err(format!(
                            "「{name}」の選択肢「{}」は使われなくなりました。",
                            o.label
                        ));
                    }
                    Some(_) => {}
                }
            }
            Ok(())
        }
        Predicate::NumberBetween { min, max, .. } => match (min, max) {
            (None, None) => Err(format!("「{name}」の下限か上限を入力してください。")),
            (Some(a), Some(b)) if a > b => Err(format!(
                "「{name}」の下限（{a}）が上限（{b}）より大きくなっています。"
            )),
            _ => Ok(()),
        },
        Predicate::AgeBetween { age, .. } => age.check().map_err(|m| format!("「{name}」の{m}")),
        Predicate::DateBetween { from, to, .. } => match (from, to) {
            (None, None) => Err(format!("「{name}」の開始日か終了日を入力してください。")),
            (Some(a), Some(b)) if a > b => Err(format!(
                "「{name}」の開始日（{}）が終了日（{}）より後になっています。",
                format_date_plain(*a),
                format_date_plain(*b)
            )),
            _ => Ok(()),
        },
        Predicate::TextEquals { text, .. } | Predicate::TextContains { text, .. } => {
            required_text(text, &format!("「{name}」の文字"), TEXT_MAX_CHARS).map(|_| ())
        }
        Predicate::NotAnswered { .. } | Predicate::FriendStatus { .. } | Predicate::TestAccount => {
            Ok(())
        }
    }
}

/// What [`matches`] needs to know about one friend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FriendFacts {
    pub status: FriendStatus,
    pub is_test: bool,
    pub answers: BTreeMap<AttributeKey, AttributeValue>,
}

/// Whether the friend matches the condition for a delivery on `on` (the
/// delivery's date in Japan time; ages are counted on it).
pub fn matches(condition: &Condition, friend: &FriendFacts, on: NaiveDate) -> bool {
    match condition {
        Condition::And(of) => of.iter().all(|c| matches(c, friend, on)),
        Condition::Or(of) => of.iter().any(|c| matches(c, friend, on)),
        Condition::Not(of) => !matches(of, friend, on),
        Condition::Leaf(p) => predicate_matches(p, friend, on),
    }
}

fn predicate_matches(p: &Predicate, friend: &FriendFacts, on: NaiveDate) -> bool {
    let answer = p
        .attribute()
        .and_then(|key| friend.answers.get(key))
        .filter(|v| !v.is_empty());
    let any_date = |test: &dyn Fn(NaiveDate) -> bool| match answer {
        Some(AttributeValue::Date(d)) => test(*d),
        Some(AttributeValue::Dates(ds)) => ds.iter().any(|d| test(*d)),
        _ => false,
    };
    match p {
        Predicate::ChoiceIn { options, .. } => {
            matches!(answer, Some(AttributeValue::Choice(k)) if options.contains(k))
        }
        Predicate::IncludesAny { options, .. } => {
            matches!(answer, Some(AttributeValue::Choices(set)) if options.iter().any(|o| set.contains(o)))
        }
        Predicate::IncludesAll { options, .. } => {
            matches!(answer, Some(AttributeValue::Choices(set)) if options.iter().all(|o| set.contains(o)))
        }
        Predicate::NotAnswered { .. } => answer.is_none(),
        Predicate::NumberBetween { min, max, .. } => matches!(
            answer,
            Some(AttributeValue::Number(n))
                if min.is_none_or(|m| m <= *n) && max.is_none_or(|m| *n <= m)
        ),
        Predicate::AgeBetween { age, .. } => any_date(&|d| age.contains(d, on)),
        Predicate::DateBetween { from, to, .. } => {
            any_date(&|d| from.is_none_or(|f| f <= d) && to.is_none_or(|t| d <= t))
        }
        Predicate::TextEquals { text, .. } => {
            matches!(answer, Some(AttributeValue::Text(t)) if t == text)
        }
        Predicate::TextContains { text, .. } => {
            matches!(answer, Some(AttributeValue::Text(t)) if t.contains(text.as_str()))
        }
        Predicate::FriendStatus { status } => friend.status == *status,
        Predicate::TestAccount => friend.is_test,
    }
}

/// A saved segment's name; delivery CSV files refer to segments by it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SegmentName(String);

impl SegmentName {
    pub fn parse(input: &str) -> Result<Self, String> {
        required_text(input, "セグメント名", SEGMENT_NAME_MAX_CHARS).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SegmentName {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        Self::parse(&value)
    }
}

impl From<SegmentName> for String {
    fn from(value: SegmentName) -> String {
        value.0
    }
}

impl fmt::Display for SegmentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A named, checked condition, ready to save.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    name: SegmentName,
    condition: Condition,
}

impl Segment {
    pub fn new(
        name: SegmentName,
        condition: Condition,
        catalog: &AttributeCatalog,
    ) -> Result<Self, Vec<String>> {
        condition.validate(catalog)?;
        Ok(Self { name, condition })
    }

    pub fn name(&self) -> &SegmentName {
        &self.name
    }

    pub fn condition(&self) -> &Condition {
        &self.condition
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attributes::default_attributes;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn key(s: &str) -> AttributeKey {
        AttributeKey::parse(s).unwrap()
    }

    fn okeys(keys: &[&str]) -> Vec<OptionKey> {
        keys.iter().map(|k| OptionKey::parse(k).unwrap()).collect()
    }

    fn catalog() -> AttributeCatalog {
        AttributeCatalog::new(default_attributes()).unwrap()
    }

    fn area_in(keys: &[&str]) -> Condition {
        Predicate::ChoiceIn {
            attribute: key("area"),
            options: okeys(keys),
        }
        .into()
    }

    fn child_months(min: u32, max: u32) -> Condition {
        Predicate::AgeBetween {
            attribute: key("child_birth_dates"),
            age: AgeRange::new(AgeUnit::Months, Some(min), Some(max)).unwrap(),
        }
        .into()
    }

    fn friend(answers: Vec<(&str, AttributeValue)>) -> FriendFacts {
        FriendFacts {
            status: FriendStatus::Friend,
            is_test: false,
            answers: answers.into_iter().map(|(k, v)| (key(k), v)).collect(),
        }
    }

    #[test]
    fn months_count_by_anniversary_with_month_end_clamping() {
        assert_eq!(completed_months(d(2025, 1, 15), d(2025, 1, 15)), Some(0));
        assert_eq!(completed_months(d(2025, 1, 15), d(2025, 2, 14)), Some(0));
        assert_eq!(completed_months(d(2025, 1, 15), d(2025, 2, 15)), Some(1));
        // Born on the 31st: the monthly anniversary is the last day of shorter months.
        assert_eq!(completed_months(d(2025, 1, 31), d(2025, 2, 27)), Some(0));
        assert_eq!(completed_months(d(2025, 1, 31), d(2025, 2, 28)), Some(1));
        assert_eq!(completed_months(d(2024, 1, 31), d(2024, 2, 28)), Some(0));
        assert_eq!(completed_months(d(2024, 1, 31), d(2024, 2, 29)), Some(1));
        assert_eq!(completed_months(d(2025, 1, 31), d(2025, 3, 30)), Some(1));
        assert_eq!(completed_months(d(2025, 1, 31), d(2025, 3, 31)), Some(2));
        assert_eq!(completed_months(d(2025, 1, 31), d(2025, 4, 30)), Some(3));
        assert_eq!(completed_months(d(2025, 3, 2), d(2025, 3, 1)), None);
        // Born on 2/29: the birthday is 2/28 in a common year.
        assert_eq!(completed_years(d(2024, 2, 29), d(2025, 2, 27)), Some(0));
        assert_eq!(completed_years(d(2024, 2, 29), d(2025, 2, 28)), Some(1));
        assert_eq!(completed_years(d(2024, 2, 29), d(2028, 2, 28)), Some(3));
        assert_eq!(completed_years(d(2024, 2, 29), d(2028, 2, 29)), Some(4));
        assert_eq!(completed_years(d(1960, 4, 1), d(2025, 4, 1)), Some(65));
        assert_eq!(completed_years(d(1960, 4, 2), d(2025, 4, 1)), Some(64));
        assert_eq!(age_in_days(d(2025, 4, 1), d(2025, 4, 1)), Some(0));
        assert_eq!(age_in_days(d(2025, 3, 1), d(2025, 4, 1)), Some(31));
    }

    #[test]
    fn bounds_for_a_four_month_checkup() {
        // Children aged 3 to 5 completed months on 2026-06-15.
        let range = AgeRange::new(AgeUnit::Months, Some(3), Some(5)).unwrap();
        let bounds = range.birth_date_bounds(d(2026, 6, 15)).unwrap();
        assert_eq!(bounds.latest, d(2026, 3, 15));
        assert_eq!(bounds.earliest, Some(d(2025, 12, 16)));
        // On a month end, the whole earlier month has reached the anniversary.
        let bounds = range.birth_date_bounds(d(2026, 6, 30)).unwrap();
        assert_eq!(bounds.latest, d(2026, 3, 31));
        assert_eq!(bounds.earliest, Some(d(2026, 1, 1)));
        let seniors = AgeRange::new(AgeUnit::Years, Some(65), None).unwrap();
        let bounds = seniors.birth_date_bounds(d(2026, 4, 1)).unwrap();
        assert_eq!(bounds.latest, d(1961, 4, 1));
        assert_eq!(bounds.earliest, None);
        let newborn = AgeRange::new(AgeUnit::Days, None, Some(27)).unwrap();
        let bounds = newborn.birth_date_bounds(d(2026, 4, 28)).unwrap();
        assert_eq!(
            (bounds.earliest, bounds.latest),
            (Some(d(2026, 4, 1)), d(2026, 4, 28))
        );
        let impossible = AgeRange {
            unit: AgeUnit::Years,
            min: Some(5),
            max: Some(3),
        };
        assert_eq!(impossible.birth_date_bounds(d(2026, 4, 1)), None);
    }

    #[test]
    fn age_range_messages() {
        assert_eq!(
            AgeRange::new(AgeUnit::Months, Some(5), Some(3)).unwrap_err(),
            "下限（5か月）が上限（3か月）より大きくなっています。"
        );
        assert_eq!(
            AgeRange::new(AgeUnit::Years, None, None).unwrap_err(),
            "年齢・月齢の下限か上限を入力してください。"
        );
        assert_eq!(
            AgeRange::new(AgeUnit::Years, Some(151), None).unwrap_err(),
            "年齢・月齢は150年以内で指定してください。"
        );
    }

    #[test]
    fn describes_in_plain_japanese() {
        let c = Condition::And(vec![area_in(&["honjo", "morinaga"]), child_months(3, 5)]);
        assert_eq!(
            c.describe_ja(&catalog()),
            "お住まいの地区が「本庄」または「森永」、かつ お子さんの生年月日のいずれかから配信日まで満3〜5か月"
        );
        let c = Condition::Or(vec![
            Condition::And(vec![
                Predicate::IncludesAny {
                    attribute: key("interests"),
                    options: okeys(&["bosai", "kosodate"]),
                }
                .into(),
                Predicate::NumberBetween {
                    attribute: key("household_size"),
                    min: Some(3),
                    max: None,
                }
                .into(),
            ]),
            Condition::not(Predicate::TestAccount.into()),
            Predicate::NotAnswered {
                attribute: key("gender"),
            }
            .into(),
            Predicate::DateBetween {
                attribute: key("expected_birth_date"),
                from: Some(d(2026, 4, 1)),
                to: Some(d(2026, 6, 30)),
            }
            .into(),
            Predicate::TextContains {
                attribute: key("neighborhood_association"),
                text: "本庄".to_owned(),
            }
            .into(),
        ]);
        assert_eq!(
            c.describe_ja(&catalog()),
            "（関心のある分野に「防災」「子育て」のいずれかを含む、かつ 世帯の人数が3人以上）、または \
             （テスト用アカウント）ではない、または 性別が未回答、または \
             出産予定日が2026年4月1日〜2026年6月30日、または 所属する自治会に「本庄」を含む"
        );
    }

    #[test]
    fn json_shape_is_stable() {
        let c = Condition::And(vec![
            area_in(&["honjo", "morinaga"]),
            child_months(3, 5),
            Condition::not(Predicate::TestAccount.into()),
            Predicate::FriendStatus {
                status: FriendStatus::Friend,
            }
            .into(),
        ]);
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(
            json,
            r#"{"op":"and","of":[{"op":"choice_in","attribute":"area","options":["honjo","morinaga"]},{"op":"age_between","attribute":"child_birth_dates","age":{"unit":"months","min":3,"max":5}},{"op":"not","of":{"op":"test_account"}},{"op":"friend_status","status":"friend"}]}"#
        );
        let back: Condition = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        let n: Condition =
            serde_json::from_str(r#"{"op":"number_between","attribute":"household_size","min":3}"#)
                .unwrap();
        assert_eq!(
            n,
            Predicate::NumberBetween {
                attribute: key("household_size"),
                min: Some(3),
                max: None
            }
            .into()
        );
        for bad in [
            r#"{"op":"choice_in","attribute":"Area","options":[]}"#,
            r#"{"op":"choice_in","attribute":"area","options":[],"extra":1}"#,
            r#"{"op":"number_between","attribute":"household_size","mni":3}"#,
            r#"{"op":"xor","of":[]}"#,
            r#"{"op":"age_between","attribute":"x","age":{"unit":"weeks","min":1}}"#,
        ] {
            assert!(serde_json::from_str::<Condition>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn validation_lists_every_problem_in_japanese() {
        let catalog = catalog();
        assert_eq!(
            Condition::And(vec![]).validate(&catalog).unwrap_err(),
            ["空のグループがあります。条件を1つ以上入れてください。"]
        );
        let mut area = catalog.get(&key("area")).unwrap().clone();
        area.set_option_retired(&OptionKey::parse("momiki").unwrap(), true)
            .unwrap();
        let mut attributes: Vec<_> = catalog.iter().cloned().collect();
        for a in &mut attributes {
            if a.key().as_str() == "area" {
                *a = area.clone();
            }
            if a.key().as_str() == "pets" {
                a.set_retired(true);
            }
        }
        let edited = AttributeCatalog::new(attributes).unwrap();
        let c = Condition::Or(vec![
            area_in(&["momiki"]),
            area_in(&["atlantis"]),
            area_in(&[]),
            Predicate::ChoiceIn {
                attribute: key("nope"),
                options: okeys(&["a"]),
            }
            .into(),
            Predicate::NotAnswered {
                attribute: key("pets"),
            }
            .into(),
            Predicate::NumberBetween {
                attribute: key("household_size"),
                min: Some(5),
                max: Some(2),
            }
            .into(),
            Predicate::NumberBetween {
                attribute: key("area"),
                min: Some(1),
                max: None,
            }
            .into(),
            Predicate::AgeBetween {
                attribute: key("child_birth_dates"),
                age: AgeRange {
                    unit: AgeUnit::Months,
                    min: Some(6),
                    max: Some(3),
                },
            }
            .into(),
            Predicate::TextEquals {
                attribute: key("neighborhood_association"),
                text: " ".to_owned(),
            }
            .into(),
            Predicate::DateBetween {
                attribute: key("moved_in_date"),
                from: Some(d(2026, 2, 1)),
                to: Some(d(2026, 1, 1)),
            }
            .into(),
            Condition::Or(vec![]),
        ]);
        assert_eq!(
            c.validate(&edited).unwrap_err(),
            [
                "空のグループがあります。条件を1つ以上入れてください。",
                "「お住まいの地区」の選択肢「籾木」は使われなくなりました。",
                "「お住まいの地区」に選択肢「atlantis」はありません。",
                "「お住まいの地区」の選択肢を1つ以上選んでください。",
                "項目「nope」が見つかりません。",
                "「飼っているペット」は使われなくなった項目です。",
                "「世帯の人数」の下限（5）が上限（2）より大きくなっています。",
                "「お住まいの地区」（単一選択）にはこの条件は使えません。",
                "「お子さんの生年月日」の下限（6か月）が上限（3か月）より大きくなっています。",
                "「所属する自治会」の文字を入力してください。",
                "「国富町に転入した日」の開始日（2026年2月1日）が終了日（2026年1月1日）より後になっています。",
            ]
        );

        let mut deep = area_in(&["honjo"]);
        for _ in 0..MAX_DEPTH {
            deep = Condition::not(deep);
        }
        assert!(deep.validate(&catalog).is_ok());
        assert_eq!(
            Condition::not(deep).validate(&catalog).unwrap_err(),
            ["条件の入れ子は5段までにしてください。"]
        );
        let many = Condition::Or((0..=MAX_LEAVES).map(|_| area_in(&["honjo"])).collect());
        assert_eq!(
            many.validate(&catalog).unwrap_err(),
            ["条件は50個までにしてください。"]
        );
        let ok = Condition::And(vec![area_in(&["honjo", "morinaga"]), child_months(3, 5)]);
        assert!(ok.validate(&catalog).is_ok());
        let segment =
            Segment::new(SegmentName::parse(" 4か月児健診 ").unwrap(), ok, &catalog).unwrap();
        assert_eq!(segment.name().as_str(), "4か月児健診");
    }

    #[test]
    fn evaluates_a_friend() {
        let on = d(2026, 6, 15);
        let c = Condition::And(vec![area_in(&["honjo", "morinaga"]), child_months(3, 5)]);
        let parent = friend(vec![
            (
                "area",
                AttributeValue::Choice(OptionKey::parse("honjo").unwrap()),
            ),
            (
                "child_birth_dates",
                AttributeValue::dates(vec![d(2019, 5, 1), d(2026, 2, 10)]),
            ),
        ]);
        assert!(matches(&c, &parent, on));
        assert!(matches(&c, &parent, d(2026, 8, 9)), "5 months and 30 days");
        assert!(!matches(&c, &parent, d(2026, 8, 10)), "6 months");
        assert!(matches(&c, &parent, d(2026, 5, 10)), "3 months that day");
        assert!(!matches(&c, &parent, d(2026, 5, 9)), "not yet 3 months");
        let elsewhere = friend(vec![
            (
                "area",
                AttributeValue::Choice(OptionKey::parse("kiwaki").unwrap()),
            ),
            (
                "child_birth_dates",
                AttributeValue::dates(vec![d(2026, 2, 10)]),
            ),
        ]);
        assert!(!matches(&c, &elsewhere, on));
        let silent = friend(vec![]);
        assert!(!matches(&area_in(&["honjo"]), &silent, on));
        assert!(matches(&Condition::not(area_in(&["honjo"])), &silent, on));
        let unanswered = Predicate::NotAnswered {
            attribute: key("child_birth_dates"),
        };
        assert!(matches(&unanswered.clone().into(), &silent, on));
        let empty_list = friend(vec![("child_birth_dates", AttributeValue::Dates(vec![]))]);
        assert!(matches(&unanswered.into(), &empty_list, on));
        let mut blocked = silent.clone();
        blocked.status = FriendStatus::Blocked;
        blocked.is_test = true;
        let status = |s| Condition::from(Predicate::FriendStatus { status: s });
        assert!(matches(&status(FriendStatus::Blocked), &blocked, on));
        assert!(!matches(&status(FriendStatus::Friend), &blocked, on));
        assert!(matches(&Predicate::TestAccount.into(), &blocked, on));
    }

    // ---- Property tests ---------------------------------------------------

    /// Dates from 1896 to 2104, often at a month end or on 2/29.
    fn any_date() -> impl Strategy<Value = NaiveDate> {
        let base = d(1896, 1, 1);
        prop_oneof![
            (0u64..76_000).prop_map(move |n| base + Days::new(n)),
            (1896i32..2104, 1u32..=12).prop_map(|(y, m)| last_day_of_month(d(y, m, 1))),
            (474i32..526).prop_map(
                |q| NaiveDate::from_ymd_opt(q * 4, 2, 29).unwrap_or_else(|| d(q * 4, 2, 28))
            ),
            (1896i32..2104, 1u32..=12, 28u32..=31)
                .prop_map(|(y, m, day)| NaiveDate::from_ymd_opt(y, m, day)
                    .unwrap_or_else(|| last_day_of_month(d(y, m, 1)))),
        ]
    }

    fn any_unit() -> impl Strategy<Value = AgeUnit> {
        prop_oneof![
            Just(AgeUnit::Days),
            Just(AgeUnit::Months),
            Just(AgeUnit::Years)
        ]
    }

    fn any_range() -> impl Strategy<Value = AgeRange> {
        (
            any_unit(),
            proptest::option::of(0u32..40),
            proptest::option::of(0u32..40),
        )
            .prop_map(|(unit, min, max)| {
                // Scale so days and months reach across years too.
                let scale = match unit {
                    AgeUnit::Days => 50,
                    AgeUnit::Months => 3,
                    AgeUnit::Years => 1,
                };
                AgeRange {
                    unit,
                    min: min.map(|v| v * scale),
                    max: max.map(|v| v * scale),
                }
            })
    }

    /// The definition itself: count anniversaries one by one.
    fn months_by_counting(birth: NaiveDate, on: NaiveDate) -> Option<u32> {
        if on < birth {
            return None;
        }
        let mut k = 0;
        while birth.checked_add_months(Months::new(k + 1)).unwrap() <= on {
            k += 1;
        }
        Some(k)
    }

    const SINGLE: [&str; 3] = ["a", "b", "c"];

    fn test_catalog() -> AttributeCatalog {
        use crate::attributes::{
            Attribute, AttributeName, AttributeParts, ChoiceOption, NumberRange, OptionLabel,
        };
        let attr = |k: &str, kind, options: &[&str], number| {
            Attribute::new(AttributeParts {
                key: key(k),
                name: AttributeName::parse(k).unwrap(),
                kind,
                options: options
                    .iter()
                    .zip(0u16..)
                    .map(|(o, i)| {
                        ChoiceOption::new(
                            OptionKey::parse(o).unwrap(),
                            i,
                            OptionLabel::parse(o).unwrap(),
                            0,
                        )
                    })
                    .collect(),
                number,
                position: 0,
                retired: false,
            })
            .unwrap()
        };
        AttributeCatalog::new(vec![
            attr("area", AttributeKind::SingleChoice, &SINGLE, None),
            attr("topics", AttributeKind::MultipleChoice, &SINGLE, None),
            attr(
                "size",
                AttributeKind::Number,
                &[],
                Some(NumberRange::new(0, 10, "人").unwrap()),
            ),
            attr("born", AttributeKind::Date, &[], None),
            attr("kids", AttributeKind::DateList, &[], None),
            attr("memo", AttributeKind::Text, &[], None),
        ])
        .unwrap()
    }

    fn options() -> impl Strategy<Value = Vec<OptionKey>> {
        proptest::sample::subsequence(SINGLE.to_vec(), 1..=3).prop_map(|v| okeys(&v))
    }

    fn small_date() -> impl Strategy<Value = NaiveDate> {
        (0u64..4000).prop_map(|n| d(2015, 1, 1) + Days::new(n))
    }

    fn predicate() -> impl Strategy<Value = Predicate> {
        let date_key = prop_oneof![Just(key("born")), Just(key("kids"))];
        prop_oneof![
            options().prop_map(|options| Predicate::ChoiceIn {
                attribute: key("area"),
                options
            }),
            options().prop_map(|options| Predicate::IncludesAny {
                attribute: key("topics"),
                options
            }),
            options().prop_map(|options| Predicate::IncludesAll {
                attribute: key("topics"),
                options
            }),
            prop_oneof![
                Just("area"),
                Just("topics"),
                Just("size"),
                Just("kids"),
                Just("memo")
            ]
            .prop_map(|k| Predicate::NotAnswered { attribute: key(k) }),
            (
                proptest::option::of(0i64..10),
                proptest::option::of(0i64..10)
            )
                .prop_map(|(min, max)| Predicate::NumberBetween {
                    attribute: key("size"),
                    min,
                    max
                }),
            (date_key.clone(), any_range())
                .prop_map(|(attribute, age)| Predicate::AgeBetween { attribute, age }),
            (
                date_key,
                proptest::option::of(small_date()),
                proptest::option::of(small_date())
            )
                .prop_map(|(attribute, from, to)| Predicate::DateBetween {
                    attribute,
                    from,
                    to
                }),
            prop_oneof![Just("x"), Just("xy"), Just("y")].prop_map(|t| Predicate::TextEquals {
                attribute: key("memo"),
                text: t.to_owned()
            }),
            prop_oneof![Just("x"), Just("y")].prop_map(|t| Predicate::TextContains {
                attribute: key("memo"),
                text: t.to_owned()
            }),
            prop_oneof![Just(FriendStatus::Friend), Just(FriendStatus::Blocked)]
                .prop_map(|status| Predicate::FriendStatus { status }),
            Just(Predicate::TestAccount),
        ]
    }

    fn condition() -> impl Strategy<Value = Condition> {
        predicate()
            .prop_map(Condition::Leaf)
            .prop_recursive(4, 24, 4, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..4).prop_map(Condition::And),
                    proptest::collection::vec(inner.clone(), 0..4).prop_map(Condition::Or),
                    inner.prop_map(Condition::not),
                ]
            })
    }

    fn friend_facts() -> impl Strategy<Value = FriendFacts> {
        (
            any::<bool>(),
            any::<bool>(),
            proptest::option::of(proptest::sample::select(SINGLE.to_vec())),
            proptest::option::of(proptest::sample::subsequence(SINGLE.to_vec(), 0..=3)),
            proptest::option::of(0i64..10),
            proptest::option::of(small_date()),
            proptest::option::of(proptest::collection::vec(small_date(), 0..4)),
            proptest::option::of(prop_oneof![Just("x"), Just("xy"), Just("zz"), Just("")]),
        )
            .prop_map(|(blocked, is_test, area, topics, size, born, kids, memo)| {
                let mut answers = BTreeMap::new();
                if let Some(a) = area {
                    answers.insert(
                        key("area"),
                        AttributeValue::Choice(OptionKey::parse(a).unwrap()),
                    );
                }
                if let Some(t) = topics {
                    answers.insert(
                        key("topics"),
                        AttributeValue::Choices(okeys(&t).into_iter().collect()),
                    );
                }
                if let Some(n) = size {
                    answers.insert(key("size"), AttributeValue::Number(n));
                }
                if let Some(b) = born {
                    answers.insert(key("born"), AttributeValue::Date(b));
                }
                if let Some(k) = kids {
                    answers.insert(key("kids"), AttributeValue::dates(k));
                }
                if let Some(m) = memo {
                    answers.insert(key("memo"), AttributeValue::Text(m.to_owned()));
                }
                FriendFacts {
                    status: if blocked {
                        FriendStatus::Blocked
                    } else {
                        FriendStatus::Friend
                    },
                    is_test,
                    answers,
                }
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn months_agree_with_counting_anniversaries(birth in any_date(), span in 0u64..4000) {
            let on = birth + Days::new(span);
            prop_assert_eq!(completed_months(birth, on), months_by_counting(birth, on));
            prop_assert_eq!(completed_months(on.succ_opt().unwrap(), on), None);
        }

        #[test]
        fn bounds_agree_with_direct_age(range in any_range(), birth in any_date(), on in any_date()) {
            let direct = range.contains(birth, on);
            let via_bounds = range.birth_date_bounds(on).is_some_and(|b| b.contains(birth));
            prop_assert_eq!(direct, via_bounds, "{:?} birth {} on {} bounds {:?}", range, birth, on, range.birth_date_bounds(on));
        }

        #[test]
        fn bounds_agree_near_birth(range in any_range(), birth in any_date(), span in 0u64..6000) {
            // Ages that land in or near the range, from every kind of birth date.
            let on = birth + Days::new(span);
            let via_bounds = range.birth_date_bounds(on).is_some_and(|b| b.contains(birth));
            prop_assert_eq!(range.contains(birth, on), via_bounds);
        }

        #[test]
        fn bounds_are_tight(range in any_range(), on in any_date()) {
            // The ends of the range are themselves in it, and the days just
            // outside are not: the bounds are exact, not merely safe.
            if let Some(b) = range.birth_date_bounds(on) {
                prop_assert!(range.contains(b.latest, on));
                prop_assert!(!range.contains(b.latest.succ_opt().unwrap(), on));
                if let Some(e) = b.earliest {
                    prop_assert!(range.contains(e, on));
                    prop_assert!(!range.contains(e.pred_opt().unwrap(), on));
                }
            }
        }

        #[test]
        fn double_negation(c in condition(), f in friend_facts(), on in small_date()) {
            prop_assert_eq!(
                matches(&Condition::not(Condition::not(c.clone())), &f, on),
                matches(&c, &f, on)
            );
        }

        #[test]
        fn singleton_groups(c in condition(), f in friend_facts(), on in small_date()) {
            prop_assert_eq!(matches(&Condition::And(vec![c.clone()]), &f, on), matches(&c, &f, on));
            prop_assert_eq!(matches(&Condition::Or(vec![c.clone()]), &f, on), matches(&c, &f, on));
        }

        #[test]
        fn de_morgan(cs in proptest::collection::vec(condition(), 0..4), f in friend_facts(), on in small_date()) {
            let negated: Vec<Condition> = cs.iter().cloned().map(Condition::not).collect();
            prop_assert_eq!(
                matches(&Condition::not(Condition::And(cs.clone())), &f, on),
                matches(&Condition::Or(negated.clone()), &f, on)
            );
            prop_assert_eq!(
                matches(&Condition::not(Condition::Or(cs.clone())), &f, on),
                matches(&Condition::And(negated), &f, on)
            );
        }

        #[test]
        fn json_round_trips(c in condition()) {
            let json = serde_json::to_string(&c).unwrap();
            let back: Condition = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back, c);
        }

        #[test]
        fn age_leaves_agree_with_their_sql_bounds(
            range in any_range(), f in friend_facts(), on in small_date()
        ) {
            // What the store will compile: born BETWEEN earliest AND latest, and
            // for the list, EXISTS a date in it.
            for attribute in ["born", "kids"] {
                let leaf = Condition::Leaf(Predicate::AgeBetween { attribute: key(attribute), age: range });
                let bounds = range.birth_date_bounds(on);
                let dates: Vec<NaiveDate> = match f.answers.get(&key(attribute)) {
                    Some(AttributeValue::Date(d)) => vec![*d],
                    Some(AttributeValue::Dates(ds)) => ds.clone(),
                    _ => vec![],
                };
                let sql = bounds.is_some_and(|b| dates.iter().any(|d| b.contains(*d)));
                prop_assert_eq!(matches(&leaf, &f, on), sql);
            }
        }

        #[test]
        fn valid_trees_describe_without_placeholders(c in condition()) {
            let catalog = test_catalog();
            if c.validate(&catalog).is_ok() {
                let text = c.describe_ja(&catalog);
                prop_assert!(!text.is_empty());
                prop_assert!(!text.contains("見つかりません"));
            }
        }
    }
}
