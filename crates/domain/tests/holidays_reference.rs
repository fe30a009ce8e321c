//! Checks the holiday rules against an independent reference list
//! (holiday_jp's holidays.yml in shared/data), 1970-2050. Dates after the
//! latest 官報 announcement are projections there as here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use hiroba_domain::holidays::{
    CITIZENS_HOLIDAY_NAME, Holiday, SUBSTITUTE_HOLIDAY_NAME, computed_holidays, official_holidays,
    special_law_holidays,
};

const REFERENCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/holiday_jp/holidays.yml"
);
const YEARS: std::ops::RangeInclusive<i32> = 1970..=2050;

/// `1970-01-01: 元日` lines after a `---` line.
fn reference() -> BTreeMap<NaiveDate, String> {
    let text = std::fs::read_to_string(REFERENCE)
        .unwrap_or_else(|e| panic!("cannot read {REFERENCE}: {e}"));
    let mut days = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line == "---" || line.starts_with('#') {
            continue;
        }
        let (date, name) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("unexpected line {line:?}"));
        let date = NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .unwrap_or_else(|e| panic!("bad date in {line:?}: {e}"));
        let name = name.trim().trim_matches(|c| c == '\'' || c == '"');
        assert!(days.insert(date, name.to_owned()).is_none(), "{date} twice");
    }
    days
}

fn reference_year(all: &BTreeMap<NaiveDate, String>, year: i32) -> BTreeMap<NaiveDate, String> {
    all.iter()
        .filter(|(date, _)| date.year() == year)
        .map(|(date, name)| (*date, name.clone()))
        .collect()
}

fn as_map(list: Vec<Holiday>) -> BTreeMap<NaiveDate, String> {
    list.into_iter().map(|h| (h.date, h.name)).collect()
}

#[test]
fn reference_covers_the_years() {
    let all = reference();
    for year in YEARS {
        assert!(
            reference_year(&all, year).len() >= 9,
            "reference has too few holidays in {year}"
        );
    }
}

/// Every date where the rules alone disagree with the reference is one the
/// special laws change, in the right direction.
#[test]
fn computed_differs_only_where_special_laws_apply() {
    let all = reference();
    let special: BTreeMap<NaiveDate, Option<String>> = special_law_holidays()
        .into_iter()
        .map(|c| (c.date, c.name))
        .collect();
    let mut unexplained = Vec::new();
    let mut explained = 0;
    for year in YEARS {
        let expected = reference_year(&all, year);
        let computed = as_map(computed_holidays(year));
        for (date, name) in &expected {
            if !computed.contains_key(date) {
                match special.get(date) {
                    Some(Some(_)) => explained += 1,
                    _ => unexplained
                        .push(format!("{date} missing from computed (reference: {name})")),
                }
            }
        }
        for (date, name) in &computed {
            if !expected.contains_key(date) {
                match special.get(date) {
                    Some(None) => explained += 1,
                    _ => unexplained.push(format!("{date} {name} computed but not in reference")),
                }
            }
        }
    }
    assert!(
        unexplained.is_empty(),
        "{} differences not explained by special_law_holidays():\n{}",
        unexplained.len(),
        unexplained.join("\n")
    );
    // The 2019 and Olympic changes fall in 1970-2050; make sure they were seen.
    assert!(explained >= 17, "only {explained} special differences seen");
}

/// Whether our name and the reference's name denote the same day off.
fn same_name(date: NaiveDate, ours: &str, theirs: &str) -> bool {
    let special_day = || {
        special_law_holidays()
            .iter()
            .any(|c| c.date == date && c.name.is_some())
    };
    ours == theirs
        // The reference says "元日 振替休日" and so on.
        || (ours == SUBSTITUTE_HOLIDAY_NAME && theirs.ends_with("振替休日"))
        // The reference (like the Cabinet Office) says just 休日.
        || (ours == CITIZENS_HOLIDAY_NAME && theirs == "休日")
        // 2019-05-01 and 2019-10-22.
        || (theirs == "休日（祝日扱い）" && special_day())
        // 大喪の礼 / 昭和天皇の大喪の礼, 体育の日 / 体育の日（スポーツの日）.
        || ours.contains(theirs)
        || theirs.contains(ours)
}

#[test]
fn official_equals_reference() {
    let all = reference();
    let mut date_diffs = Vec::new();
    let mut name_diffs = Vec::new();
    for year in YEARS {
        let expected = reference_year(&all, year);
        let official = as_map(official_holidays(year));
        for (date, theirs) in &expected {
            match official.get(date) {
                None => date_diffs.push(format!("{date} missing (reference: {theirs})")),
                Some(ours) if !same_name(*date, ours, theirs) => {
                    name_diffs.push(format!("{date} ours {ours} / reference {theirs}"));
                }
                Some(_) => {}
            }
        }
        for (date, ours) in &official {
            if !expected.contains_key(date) {
                date_diffs.push(format!("{date} {ours} not in reference"));
            }
        }
    }
    assert!(
        date_diffs.is_empty() && name_diffs.is_empty(),
        "date differences ({}):\n{}\nname differences ({}):\n{}",
        date_diffs.len(),
        date_diffs.join("\n"),
        name_diffs.len(),
        name_diffs.join("\n")
    );
}
