//! Turns catalogue rows into the domain's calendar and fee types. Rows that no
//! longer parse (e.g. written by a newer version) are skipped with a warning
//! rather than breaking the calendar.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate, Weekday};
use hiroba_domain::calendar::{
    self, Block, CalendarDay, CalendarInput, ClosedRule, Closure, DaySet, OpeningRule, Season,
    SlotDef, SlotPattern,
};
use hiroba_domain::fees::FeeRule;
use hiroba_domain::holidays;
use hiroba_domain::time_of_day::{TimeOfDay, TimeRange};

use crate::catalogue::{self, ClosedRuleRow};
use crate::{Db, Result, facilities};

fn range(start: i64, end: i64) -> Option<TimeRange> {
    let s = TimeOfDay::from_minutes(u16::try_from(start).ok()?)?;
    let e = TimeOfDay::from_minutes(u16::try_from(end).ok()?)?;
    TimeRange::new(s, e).ok()
}

fn days(bits: i64) -> DaySet {
    DaySet::from_bits(u8::try_from(bits).unwrap_or(0))
}

fn season(from: &Option<String>, to: &Option<String>) -> Option<Season> {
    Season::parse(from.as_deref()?, to.as_deref()?).ok()
}

const WEEKDAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// Weekday stored as 0 = Monday ... 6 = Sunday.
pub fn weekday(n: i64) -> Option<Weekday> {
    WEEKDAYS.get(usize::try_from(n).ok()?).copied()
}

pub fn closed_rule(row: &ClosedRuleRow) -> Option<ClosedRule> {
    match row.kind.as_str() {
        "weekly" => Some(ClosedRule::Weekly {
            weekday: weekday(row.weekday?)?,
            shift_if_holiday: row.shift_if_holiday,
        }),
        "nth" => Some(ClosedRule::NthWeekday {
            n: u8::try_from(row.n?).ok()?,
            weekday: weekday(row.weekday?)?,
        }),
        "annual" => Some(ClosedRule::Annual {
            season: season(&row.season_from, &row.season_to)?,
        }),
        "holidays" => Some(ClosedRule::Holidays),
        _ => None,
    }
}

fn warn_skipped<T>(what: &str, id: i64, value: Option<T>) -> Option<T> {
    if value.is_none() {
        tracing::warn!(what, id, "catalogue row skipped: it does not parse");
    }
    value
}

pub async fn opening_rules(db: &Db, facility_id: i64) -> Result<Vec<OpeningRule>> {
    Ok(catalogue::opening_rules(db, facility_id)
        .await?
        .iter()
        .filter_map(|r| {
            let hours = range(r.start_min, r.end_min);
            warn_skipped(
                "opening_rule",
                r.id,
                hours.map(|hours| OpeningRule {
                    days: days(r.days),
                    season: season(&r.season_from, &r.season_to),
                    hours,
                }),
            )
        })
        .collect())
}

pub async fn closed_rules(db: &Db, facility_id: i64) -> Result<Vec<ClosedRule>> {
    Ok(catalogue::closed_rules(db, facility_id)
        .await?
        .iter()
        .filter_map(|r| warn_skipped("closed_rule", r.id, closed_rule(r)))
        .collect())
}

pub async fn slot_patterns(db: &Db, room_id: i64) -> Result<Vec<SlotPattern>> {
    Ok(catalogue::slot_patterns(db, room_id)
        .await?
        .iter()
        .map(|p| SlotPattern {
            days: days(p.days),
            season: season(&p.season_from, &p.season_to),
            slots: p
                .slots
                .iter()
                .filter_map(|(label, s, e)| {
                    range(*s, *e).map(|range| SlotDef {
                        label: label.clone(),
                        range,
                    })
                })
                .collect(),
        })
        .collect())
}

pub async fn fee_rules(db: &Db, combination_id: i64) -> Result<Vec<FeeRule>> {
    Ok(catalogue::fee_rules(db, combination_id)
        .await?
        .iter()
        .filter_map(|r| {
            let band = range(r.start_min, r.end_min);
            warn_skipped(
                "fee_rule",
                r.id,
                band.map(|band| FeeRule {
                    category_id: r.category_id,
                    days: days(r.days),
                    band,
                    per_hour: r.per_hour,
                    amount: r.amount,
                }),
            )
        })
        .collect())
}

/// National holidays in force between two dates: Hiroba's computation from the
/// Holiday Act, changed by the overrides staff (or the seed, for special laws) stored.
pub async fn holidays(
    db: &Db,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<BTreeMap<NaiveDate, String>> {
    let mut out = BTreeMap::new();
    for year in from.year()..=to.year() {
        for h in holidays::computed_holidays(year) {
            if h.date >= from && h.date <= to {
                out.insert(h.date, h.name);
            }
        }
    }
    for o in catalogue::holiday_overrides(db, from, to).await? {
        match o.name {
            Some(name) => out.insert(o.date, name),
            None => out.remove(&o.date),
        };
    }
    Ok(out)
}

/// The month calendar of one bookable combination of a room, as residents will see it.
pub async fn month_calendar(
    db: &Db,
    room_id: i64,
    combination_id: Option<i64>,
    year: i32,
    month: u32,
) -> Result<Vec<CalendarDay>> {
    let Some(room) = facilities::room(db, room_id).await? else {
        return Ok(Vec::new());
    };
    let Some(first) = NaiveDate::from_ymd_opt(year, month, 1) else {
        return Ok(Vec::new());
    };
    let last = first
        .checked_add_months(chrono::Months::new(1))
        .and_then(|d| d.pred_opt())
        .unwrap_or(first);
    let combos = catalogue::combinations(db, room_id).await?;
    let units: BTreeSet<i64> = match combination_id.and_then(|c| combos.iter().find(|x| x.id == c))
    {
        Some(c) => c.unit_ids.iter().copied().collect(),
        None => catalogue::units(db, room_id)
            .await?
            .iter()
            .map(|u| u.id)
            .collect(),
    };
    // The Monday closure "shifted to the next weekday" reads the days before the month.
    let holidays = holidays(db, first - chrono::Duration::days(10), last).await?;
    let opening = opening_rules(db, room.facility_id).await?;
    let patterns = slot_patterns(db, room_id).await?;
    let closed = closed_rules(db, room.facility_id).await?;
    let closures: Vec<Closure> = catalogue::closures(db, room.facility_id)
        .await?
        .into_iter()
        .filter(|c| {
            c.room_id.is_none_or(|r| r == room_id) && c.to_date >= first && c.from_date <= last
        })
        .map(|c| Closure {
            from: c.from_date,
            to: c.to_date,
            reason: c.reason,
        })
        .collect();
    let blocks: Vec<Block> = catalogue::blocks(db, room.facility_id, first, last)
        .await?
        .into_iter()
        .filter(|b| b.room_id.is_none_or(|r| r == room_id))
        .map(|b| Block {
            date: b.date,
            range: b.start_min.zip(b.end_min).and_then(|(s, e)| range(s, e)),
            reason: b.reason,
            units: b
                .combination_id
                .and_then(|c| combos.iter().find(|x| x.id == c))
                .map(|c| c.unit_ids.iter().copied().collect()),
        })
        .collect();
    Ok(calendar::month_calendar(&CalendarInput {
        year,
        month,
        holidays: &holidays,
        opening: &opening,
        slot_patterns: &patterns,
        closed_rules: &closed,
        closures: &closures,
        blocks: &blocks,
        units: &units,
    }))
}
