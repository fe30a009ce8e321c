//! A room's booking slots (予約枠, A20), its fee table per combination (A28,
//! U08), and the month calendar preview exactly as residents will see it.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Datelike, Months, NaiveDate};
use hiroba_domain::calendar::{DaySet, DayStatus, Season, SlotDef, SlotState, validate_slots};
use hiroba_domain::datetime::JST;
use hiroba_domain::fees::{FeeRule, QuoteRequest, quote, validate_rules};
use hiroba_domain::time_of_day::{TimeOfDay, TimeRange};
use hiroba_domain::validation::{FieldErrors, required_text};
use hiroba_store::catalogue::{self, Combination, FeeRuleRow, SlotPatternRow, UserCategory};
use hiroba_store::catalogue_domain;
use hiroba_store::facilities::{Facility, Room};
use serde::Deserialize;

use super::details::{DayChoice, day_choices};
use super::load_room;
use crate::AppState;
use crate::admin::{DoneQuery, notice, render};
use crate::auth::CurrentStaff;
use crate::error::AppError;
use crate::form::FormData;
use crate::view::Layout;

fn hm(m: i64) -> String {
    u16::try_from(m)
        .ok()
        .and_then(TimeOfDay::from_minutes)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

// ---- slots ----------------------------------------------------------------------

pub struct SlotRow {
    label: String,
    start: String,
    end: String,
}

pub struct PatternForm {
    days: Vec<DayChoice>,
    season_from: String,
    season_to: String,
    slots: Vec<SlotRow>,
}

#[derive(Template)]
#[template(path = "admin/slots.html")]
struct SlotsPage {
    layout: Layout,
    f: Facility,
    room: Room,
    errors: FieldErrors,
    patterns: Vec<PatternForm>,
}

fn blank_slots(n: usize) -> Vec<SlotRow> {
    (0..n)
        .map(|_| SlotRow {
            label: String::new(),
            start: String::new(),
            end: String::new(),
        })
        .collect()
}

pub async fn slots_form(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path((id, room_id)): Path<(i64, i64)>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let (f, room) = load_room(&state, &me, id, room_id).await?;
    let mut patterns: Vec<PatternForm> = catalogue::slot_patterns(state.db(), room_id)
        .await?
        .into_iter()
        .map(|p| {
            let mut slots: Vec<SlotRow> = p
                .slots
                .iter()
                .map(|(l, s, e)| SlotRow {
                    label: l.clone(),
                    start: hm(*s),
                    end: hm(*e),
                })
                .collect();
            slots.extend(blank_slots(3));
            PatternForm {
                days: day_choices(&DaySet::from_bits(u8::try_from(p.days).unwrap_or(0))),
                season_from: p.season_from.unwrap_or_default(),
                season_to: p.season_to.unwrap_or_default(),
                slots,
            }
        })
        .collect();
    patterns.push(PatternForm {
        days: day_choices(&DaySet::default()),
        season_from: String::new(),
        season_to: String::new(),
        slots: blank_slots(4),
    });
    let layout = me
        .page(
            &state,
            &format!("{} {} の予約枠", f.name, room.name),
            notice(q.done.as_deref()),
        )
        .await?;
    render(&SlotsPage {
        layout,
        f,
        room,
        errors: FieldErrors::new(),
        patterns,
    })
}

pub async fn slots_save(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path((id, room_id)): Path<(i64, i64)>,
    form: FormData,
) -> Result<Response, AppError> {
    let (f, room) = load_room(&state, &me, id, room_id).await?;
    let opening = catalogue_domain::opening_rules(state.db(), id).await?;
    let count: usize = form.get("patterns").parse().unwrap_or(0).min(50);
    let mut errors = FieldErrors::new();
    let mut forms = Vec::new();
    let mut rows = Vec::new();
    for p in 0..count {
        let key = format!("pattern_{p}");
        let day_codes = form.all(&format!("p{p}_days"));
        let labels = form.all(&format!("p{p}_label"));
        let starts = form.all(&format!("p{p}_start"));
        let ends = form.all(&format!("p{p}_end"));
        let (sf, st) = (
            form.get(&format!("p{p}_from")),
            form.get(&format!("p{p}_to")),
        );
        let slot_rows: Vec<SlotRow> = (0..labels.len())
            .map(|i| SlotRow {
                label: labels[i].to_owned(),
                start: starts.get(i).copied().unwrap_or("").to_owned(),
                end: ends.get(i).copied().unwrap_or("").to_owned(),
            })
            .collect();
        let on: Vec<DayChoice> = day_choices(&DaySet::from_codes(&day_codes).unwrap_or_default());
        let filled: Vec<&SlotRow> = slot_rows
            .iter()
            .filter(|s| {
                !(s.label.trim().is_empty() && s.start.trim().is_empty() && s.end.trim().is_empty())
            })
            .collect();
        let mut defs = Vec::new();
        let mut ok = true;
        for (i, s) in filled.iter().enumerate() {
            let label = required_text(&s.label, "枠の名前", 20);
            let range = TimeRange::parse(&s.start, &s.end);
            match (label, range) {
                (Ok(label), Ok(range)) => defs.push(SlotDef { label, range }),
                (l, r) => {
                    ok = false;
                    for m in [l.err(), r.err()].into_iter().flatten() {
                        errors.add(&key, format!("{}つ目の枠: {m}", i + 1));
                    }
                }
            }
        }
        let blank_pattern = filled.is_empty()
            && day_codes.is_empty()
            && sf.trim().is_empty()
            && st.trim().is_empty();
        forms.push(PatternForm {
            days: on,
            season_from: sf.to_owned(),
            season_to: st.to_owned(),
            slots: slot_rows,
        });
        if blank_pattern {
            continue;
        }
        let days = DaySet::from_codes(&day_codes).and_then(|d| {
            if d.is_empty() {
                Err("曜日を1つ以上選んでください。".to_owned())
            } else {
                Ok(d)
            }
        });
        let season = match (sf.trim(), st.trim()) {
            ("", "") => Ok(None),
            (a, b) => Season::parse(a, b).map(Some),
        };
        if defs.is_empty() && ok {
            errors.add(&key, "枠を1つ以上入力してください。");
        }
        for (i, m) in validate_slots(&defs, &opening) {
            errors.add(&key, format!("{}つ目の枠: {m}", i + 1));
        }
        match (days, season) {
            (Ok(days), Ok(season)) => rows.push(SlotPatternRow {
                id: 0,
                room_id,
                days: i64::from(days.bits()),
                season_from: season.map(|_| sf.trim().to_owned()),
                season_to: season.map(|_| st.trim().to_owned()),
                slots: defs
                    .iter()
                    .map(|d| {
                        (
                            d.label.clone(),
                            i64::from(d.range.start.minutes()),
                            i64::from(d.range.end.minutes()),
                        )
                    })
                    .collect(),
            }),
            (d, s) => {
                for m in [d.err(), s.err()].into_iter().flatten() {
                    errors.add(&key, m);
                }
            }
        }
    }
    if !errors.is_empty() {
        let layout = me
            .page(&state, &format!("{} {} の予約枠", f.name, room.name), None)
            .await?;
        return render(&SlotsPage {
            layout,
            f,
            room,
            errors,
            patterns: forms,
        });
    }
    let text = rows
        .iter()
        .map(|p| {
            let slots = p
                .slots
                .iter()
                .map(|(l, s, e)| format!("{l} {}〜{}", hm(*s), hm(*e)))
                .collect::<Vec<_>>()
                .join("・");
            format!(
                "{}: {slots}",
                DaySet::from_bits(u8::try_from(p.days).unwrap_or(0)).label()
            )
        })
        .collect::<Vec<_>>()
        .join(" / ");
    let mut tx = state.db().begin().await?;
    catalogue::save_slot_patterns(&mut tx, room_id, &rows).await?;
    me.commit_logged(
        tx,
        "room.slots",
        format!("room:{room_id}"),
        format!("{} {} の予約枠: {text}", f.name, room.name),
    )
    .await?;
    Ok(Redirect::to(&format!(
        "/admin/facilities/{id}/rooms/{room_id}/slots?done=saved"
    ))
    .into_response())
}

// ---- fees -------------------------------------------------------------------------

pub struct FeeRowForm {
    category: String,
    days: String,
    start: String,
    end: String,
    per_hour: bool,
    amount: String,
}

pub struct ComboFees {
    id: i64,
    name: String,
    rows: Vec<FeeRowForm>,
}

#[derive(Template)]
#[template(path = "admin/fees.html")]
struct FeesPage {
    layout: Layout,
    f: Facility,
    room: Room,
    errors: FieldErrors,
    combos: Vec<ComboFees>,
    categories: Vec<UserCategory>,
    day_options: Vec<(String, String)>,
}

fn day_options() -> Vec<(String, String)> {
    [DaySet::ALL, DaySet::WEEKDAYS, DaySet::WEEKEND_AND_HOLIDAYS]
        .iter()
        .map(|d| (d.bits().to_string(), d.label()))
        .collect()
}

fn blank_fee() -> FeeRowForm {
    FeeRowForm {
        category: String::new(),
        days: DaySet::ALL.bits().to_string(),
        start: String::new(),
        end: String::new(),
        per_hour: false,
        amount: String::new(),
    }
}

async fn fees_view(state: &AppState, combos: &[Combination]) -> Result<Vec<ComboFees>, AppError> {
    let mut out = Vec::new();
    for c in combos {
        let mut rows: Vec<FeeRowForm> = catalogue::fee_rules(state.db(), c.id)
            .await?
            .into_iter()
            .map(|r| FeeRowForm {
                category: r.category_id.map(|c| c.to_string()).unwrap_or_default(),
                days: r.days.to_string(),
                start: hm(r.start_min),
                end: hm(r.end_min),
                per_hour: r.per_hour,
                amount: r.amount.to_string(),
            })
            .collect();
        rows.extend((0..3).map(|_| blank_fee()));
        out.push(ComboFees {
            id: c.id,
            name: c.name.clone(),
            rows,
        });
    }
    Ok(out)
}

pub async fn fees_form(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path((id, room_id)): Path<(i64, i64)>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let (f, room) = load_room(&state, &me, id, room_id).await?;
    let combos = catalogue::combinations(state.db(), room_id).await?;
    let layout = me
        .page(
            &state,
            &format!("{} {} の料金", f.name, room.name),
            notice(q.done.as_deref()),
        )
        .await?;
    render(&FeesPage {
        layout,
        f,
        room,
        errors: FieldErrors::new(),
        combos: fees_view(&state, &combos).await?,
        categories: catalogue::categories(state.db()).await?,
        day_options: day_options(),
    })
}

pub async fn fees_save(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path((id, room_id, combination_id)): Path<(i64, i64, i64)>,
    form: FormData,
) -> Result<Response, AppError> {
    let (f, room) = load_room(&state, &me, id, room_id).await?;
    let combos = catalogue::combinations(state.db(), room_id).await?;
    let combo = combos
        .iter()
        .find(|c| c.id == combination_id)
        .ok_or(AppError::NotFound)?;
    let categories = catalogue::categories(state.db()).await?;
    let (cats, days, starts, ends, units, amounts) = (
        form.all("category"),
        form.all("days"),
        form.all("start"),
        form.all("end"),
        form.all("unit"),
        form.all("amount"),
    );
    let key = format!("fees_{combination_id}");
    let mut errors = FieldErrors::new();
    let mut typed = Vec::new();
    let mut rules = Vec::new();
    let mut rows = Vec::new();
    for i in 0..amounts.len() {
        let get = |v: &Vec<&str>| v.get(i).copied().unwrap_or("").trim().to_owned();
        let row = FeeRowForm {
            category: get(&cats),
            days: get(&days),
            start: get(&starts),
            end: get(&ends),
            per_hour: get(&units) == "hour",
            amount: get(&amounts),
        };
        let blank = row.start.is_empty() && row.end.is_empty() && row.amount.is_empty();
        if !blank {
            let category = if row.category.is_empty() {
                Ok(None)
            } else {
                row.category
                    .parse::<i64>()
                    .ok()
                    .filter(|c| categories.iter().any(|x| x.id == *c))
                    .map(Some)
                    .ok_or_else(|| "選べない利用者区分です。".to_owned())
            };
            let day_set = row
                .days
                .parse::<u8>()
                .ok()
                .map(DaySet::from_bits)
                .filter(|d| !d.is_empty())
                .ok_or_else(|| "曜日を選んでください。".to_owned());
            let band = TimeRange::parse(&row.start, &row.end);
            let amount = row
                .amount
                .parse::<i64>()
                .map_err(|_| "料金は半角数字の円で入力してください（0円以上）。".to_owned())
                .and_then(|a| {
                    if a < 0 {
                        Err("料金に負の金額は設定できません。".to_owned())
                    } else {
                        Ok(a)
                    }
                });
            match (category, day_set, band, amount) {
                (Ok(category_id), Ok(days), Ok(band), Ok(amount)) => {
                    rules.push(FeeRule {
                        category_id,
                        days,
                        band,
                        per_hour: row.per_hour,
                        amount,
                    });
                    rows.push(FeeRuleRow {
                        id: 0,
                        combination_id,
                        category_id,
                        days: i64::from(days.bits()),
                        start_min: i64::from(band.start.minutes()),
                        end_min: i64::from(band.end.minutes()),
                        per_hour: row.per_hour,
                        amount,
                    });
                }
                (c, d, b, a) => {
                    for m in [c.err(), d.err(), b.err(), a.err()].into_iter().flatten() {
                        errors.add(&key, format!("{}行目: {m}", i + 1));
                    }
                }
            }
        }
        typed.push(row);
    }
    for (i, m) in validate_rules(&rules) {
        errors.add(&key, format!("{}件目の料金: {m}", i + 1));
    }
    if !errors.is_empty() {
        let mut view = fees_view(&state, &combos).await?;
        if let Some(c) = view.iter_mut().find(|c| c.id == combination_id) {
            c.rows = typed;
        }
        let layout = me
            .page(&state, &format!("{} {} の料金", f.name, room.name), None)
            .await?;
        return render(&FeesPage {
            layout,
            f,
            room,
            errors,
            combos: view,
            categories,
            day_options: day_options(),
        });
    }
    let names: BTreeMap<i64, &str> = categories.iter().map(|c| (c.id, c.name.as_str())).collect();
    let text = rules
        .iter()
        .map(|r| {
            let who = r
                .category_id
                .and_then(|c| names.get(&c).copied())
                .unwrap_or("全区分");
            format!(
                "{who} {} {} {}円{}",
                r.days.label(),
                r.band,
                r.amount,
                if r.per_hour { "/時間" } else { "" }
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let mut tx = state.db().begin().await?;
    catalogue::save_fee_rules(&mut tx, combination_id, &rows).await?;
    me.commit_logged(
        tx,
        "room.fees",
        format!("combination:{combination_id}"),
        format!("{} {} {} の料金: {text}", f.name, room.name, combo.name),
    )
    .await?;
    Ok(Redirect::to(&format!(
        "/admin/facilities/{id}/rooms/{room_id}/fees?done=saved#c{combination_id}"
    ))
    .into_response())
}

// ---- calendar preview --------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct CalendarQuery {
    month: Option<String>,
    combination: Option<i64>,
    category: Option<i64>,
}

#[derive(Clone)]
pub struct SlotCell {
    label: String,
    time: String,
    open: bool,
    note: String,
    fee: String,
}

#[derive(Clone)]
pub struct DayCell {
    day: u32,
    weekday: &'static str,
    css: &'static str,
    holiday: String,
    closed: String,
    slots: Vec<SlotCell>,
    iso: String,
}

#[derive(Template)]
#[template(path = "admin/room_calendar.html")]
struct CalendarPage {
    layout: Layout,
    f: Facility,
    room: Room,
    heading: String,
    month_param: String,
    weeks: Vec<Vec<Option<DayCell>>>,
    days: Vec<DayCell>,
    prev: String,
    next: String,
    combos: Vec<Combination>,
    combination: i64,
    categories: Vec<UserCategory>,
    category: i64,
}

pub async fn calendar(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path((id, room_id)): Path<(i64, i64)>,
    Query(q): Query<CalendarQuery>,
) -> Result<Response, AppError> {
    let (f, room) = load_room(&state, &me, id, room_id).await?;
    let db = state.db();
    let today = chrono::Utc::now().with_timezone(&JST).date_naive();
    let first = q
        .month
        .as_deref()
        .and_then(|m| NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").ok())
        .unwrap_or_else(|| today.with_day(1).unwrap_or(today));
    let combos = catalogue::combinations(db, room_id).await?;
    let combination = q
        .combination
        .filter(|c| combos.iter().any(|x| x.id == *c))
        .or_else(|| combos.first().map(|c| c.id))
        .unwrap_or(0);
    let categories = catalogue::categories(db).await?;
    let category = q
        .category
        .filter(|c| categories.iter().any(|x| x.id == *c))
        .or_else(|| categories.first().map(|c| c.id))
        .unwrap_or(0);
    let days = catalogue_domain::month_calendar(
        db,
        room_id,
        Some(combination),
        first.year(),
        first.month(),
    )
    .await?;
    let rules = catalogue_domain::fee_rules(db, combination).await?;
    let mut cells = Vec::new();
    for d in &days {
        let is_holiday = d.holiday.is_some();
        let slots = d
            .slots
            .iter()
            .map(|s| {
                let fee = quote(&QuoteRequest {
                    date: d.date,
                    is_holiday,
                    category_id: category,
                    slots: &[s.range],
                    rules: &rules,
                    equipment: &[],
                    reduction: None,
                    min_minutes: 0,
                })
                .map(|q| format!("{}円", q.total))
                .unwrap_or_else(|_| "料金未設定".into());
                let (open, note) = match &s.state {
                    SlotState::Open => (true, "空き".to_owned()),
                    SlotState::Blocked { reason } => (false, reason.clone()),
                };
                SlotCell {
                    label: s.label.clone(),
                    time: s.range.to_string(),
                    open,
                    note,
                    fee,
                }
            })
            .collect();
        let weekday = hiroba_domain::datetime::weekday_jp(d.date);
        let css = if is_holiday || d.date.weekday() == chrono::Weekday::Sun {
            "sun"
        } else if d.date.weekday() == chrono::Weekday::Sat {
            "sat"
        } else {
            ""
        };
        cells.push(DayCell {
            day: d.date.day(),
            weekday,
            css,
            holiday: d.holiday.clone().unwrap_or_default(),
            closed: match &d.status {
                DayStatus::Open => String::new(),
                DayStatus::Closed { reason } => reason.clone(),
            },
            slots,
            iso: d.date.to_string(),
        });
    }
    // Weeks for the desktop grid, starting on Sunday as Japanese calendars do.
    let lead = first.weekday().num_days_from_sunday() as usize;
    let mut grid: Vec<Option<DayCell>> = (0..lead).map(|_| None).collect();
    let list: Vec<DayCell> = cells.clone();
    grid.extend(cells.into_iter().map(Some));
    while !grid.len().is_multiple_of(7) {
        grid.push(None);
    }
    let mut weeks = Vec::new();
    let mut it = grid.into_iter().peekable();
    while it.peek().is_some() {
        weeks.push(it.by_ref().take(7).collect());
    }
    let month_param = |d: NaiveDate| d.format("%Y-%m").to_string();
    let layout = me
        .page(
            &state,
            &format!("{} {} のカレンダー", f.name, room.name),
            None,
        )
        .await?;
    render(&CalendarPage {
        layout,
        heading: format!("{}年{}月", first.year(), first.month()),
        month_param: month_param(first),
        prev: month_param(first.checked_sub_months(Months::new(1)).unwrap_or(first)),
        next: month_param(first.checked_add_months(Months::new(1)).unwrap_or(first)),
        f,
        room,
        weeks,
        days: list,
        combos,
        combination,
        categories,
        category,
    })
}
