//! A facility's booking settings, each on its own page: opening hours (A11),
//! closed days, closures and blocks (A03, A10, A25), which user categories may
//! book and how far ahead (A14), purposes and activities (A15, A18),
//! equipment (A12, A13) and the versioned terms of use (A17).

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Duration, NaiveDate, Weekday};
use hiroba_domain::booking_rules::BookingWindow;
use hiroba_domain::calendar::{ClosedRule, DaySet, Season, validate_opening};
use hiroba_domain::time_of_day::{TimeOfDay, TimeRange};
use hiroba_domain::validation::{FieldErrors, required_text};
use hiroba_store::catalogue::{
    self, BlockRow, ClosedRuleRow, ClosureRow, EquipmentChange, FacilityCategory, OpeningRow,
    OwnedTable,
};
use hiroba_store::facilities::{self, Facility, Room};
use hiroba_store::{Db, StoreError, catalogue_domain};

use super::load;
use crate::AppState;
use crate::admin::{DoneQuery, notice, render};
use crate::auth::CurrentStaff;
use crate::error::AppError;
use crate::form::FormData;
use crate::view::Layout;

/// One-line summaries for the facility's hub page.
pub struct Summary {
    pub opening: Vec<String>,
    pub closed: Vec<String>,
    pub categories: Vec<String>,
}

impl Summary {
    pub async fn load(db: &Db, facility_id: i64) -> Result<Self, AppError> {
        let opening = catalogue_domain::opening_rules(db, facility_id)
            .await?
            .iter()
            .map(|r| {
                format!(
                    "{}{} {}",
                    r.days.label(),
                    r.season
                        .map(|s| format!("（{}）", s.label()))
                        .unwrap_or_default(),
                    r.hours
                )
            })
            .collect();
        let closed = catalogue_domain::closed_rules(db, facility_id)
            .await?
            .iter()
            .map(ClosedRule::label)
            .collect();
        let names: BTreeMap<i64, String> = catalogue::categories(db)
            .await?
            .into_iter()
            .map(|c| (c.id, c.name))
            .collect();
        let categories = catalogue::facility_categories(db, facility_id)
            .await?
            .iter()
            .filter_map(|c| names.get(&c.category_id).cloned())
            .collect();
        Ok(Self {
            opening,
            closed,
            categories,
        })
    }
}

const DAY_CODES: [(&str, &str); 8] = [
    ("mon", "月"),
    ("tue", "火"),
    ("wed", "水"),
    ("thu", "木"),
    ("fri", "金"),
    ("sat", "土"),
    ("sun", "日"),
    ("hol", "祝"),
];

/// Day checkboxes of one form row.
pub struct DayChoice {
    pub code: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

pub fn day_choices(days: &DaySet) -> Vec<DayChoice> {
    let on = days.codes();
    DAY_CODES
        .iter()
        .map(|(code, label)| DayChoice {
            code,
            label,
            checked: on.contains(code),
        })
        .collect()
}

fn day_choices_from(form: &FormData, field: &str) -> Vec<DayChoice> {
    let on = form.all(field);
    DAY_CODES
        .iter()
        .map(|(code, label)| DayChoice {
            code,
            label,
            checked: on.contains(code),
        })
        .collect()
}

fn minutes_text(m: i64) -> String {
    u16::try_from(m)
        .ok()
        .and_then(TimeOfDay::from_minutes)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

// ---- opening hours ------------------------------------------------------------

pub struct OpeningForm {
    days: Vec<DayChoice>,
    season_from: String,
    season_to: String,
    start: String,
    end: String,
}

#[derive(Template)]
#[template(path = "admin/opening.html")]
struct OpeningPage {
    layout: Layout,
    f: Facility,
    errors: FieldErrors,
    rows: Vec<OpeningForm>,
}

fn blank_opening() -> OpeningForm {
    OpeningForm {
        days: day_choices(&DaySet::default()),
        season_from: String::new(),
        season_to: String::new(),
        start: String::new(),
        end: String::new(),
    }
}

pub async fn opening_form(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let f = load(&state, &me, id).await?;
    let mut rows: Vec<OpeningForm> = catalogue::opening_rules(state.db(), id)
        .await?
        .iter()
        .map(|r| OpeningForm {
            days: day_choices(&DaySet::from_bits(u8::try_from(r.days).unwrap_or(0))),
            season_from: r.season_from.clone().unwrap_or_default(),
            season_to: r.season_to.clone().unwrap_or_default(),
            start: minutes_text(r.start_min),
            end: minutes_text(r.end_min),
        })
        .collect();
    rows.push(blank_opening());
    rows.push(blank_opening());
    let layout = me
        .page(
            &state,
            &format!("{} の開館時間", f.name),
            notice(q.done.as_deref()),
        )
        .await?;
    render(&OpeningPage {
        layout,
        f,
        errors: FieldErrors::new(),
        rows,
    })
}

/// Parses an optional season (both ends or neither).
fn parse_season(from: &str, to: &str) -> Result<Option<Season>, String> {
    match (from.trim(), to.trim()) {
        ("", "") => Ok(None),
        (a, b) => Season::parse(a, b).map(Some),
    }
}

pub async fn opening_save(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    form: FormData,
) -> Result<Response, AppError> {
    let f = load(&state, &me, id).await?;
    let count = form.all("start").len();
    let starts = form.all("start");
    let ends = form.all("end");
    let froms = form.all("season_from");
    let tos = form.all("season_to");
    let mut errors = FieldErrors::new();
    let mut rows = Vec::new();
    let mut forms = Vec::new();
    let mut rules = Vec::new();
    for i in 0..count {
        let key = format!("opening_{i}");
        let days_field = format!("days_{i}");
        let (start, end) = (
            starts.get(i).copied().unwrap_or(""),
            ends.get(i).copied().unwrap_or(""),
        );
        let (sf, st) = (
            froms.get(i).copied().unwrap_or(""),
            tos.get(i).copied().unwrap_or(""),
        );
        let codes = form.all(&days_field);
        forms.push(OpeningForm {
            days: day_choices_from(&form, &days_field),
            season_from: sf.into(),
            season_to: st.into(),
            start: start.into(),
            end: end.into(),
        });
        if start.trim().is_empty()
            && end.trim().is_empty()
            && codes.is_empty()
            && sf.trim().is_empty()
            && st.trim().is_empty()
        {
            continue;
        }
        let days = DaySet::from_codes(&codes);
        let season = parse_season(sf, st);
        let hours = TimeRange::parse(start, end);
        match (days, season, hours) {
            (Ok(days), Ok(season), Ok(hours)) => {
                rows.push(OpeningRow {
                    id: 0,
                    facility_id: id,
                    days: i64::from(days.bits()),
                    season_from: season.map(|_| sf.trim().to_owned()),
                    season_to: season.map(|_| st.trim().to_owned()),
                    start_min: i64::from(hours.start.minutes()),
                    end_min: i64::from(hours.end.minutes()),
                });
                rules.push((
                    i,
                    hiroba_domain::calendar::OpeningRule {
                        days,
                        season,
                        hours,
                    },
                ));
            }
            (d, s, h) => {
                for message in [d.err(), s.err(), h.err()].into_iter().flatten() {
                    errors.add(&key, message);
                }
            }
        }
    }
    let only: Vec<_> = rules.iter().map(|(_, r)| r.clone()).collect();
    for (index, message) in validate_opening(&only) {
        if let Some((row, _)) = rules.get(index) {
            errors.add(&format!("opening_{row}"), message);
        }
    }
    if !errors.is_empty() {
        let layout = me
            .page(&state, &format!("{} の開館時間", f.name), None)
            .await?;
        return render(&OpeningPage {
            layout,
            f,
            errors,
            rows: forms,
        });
    }
    let text = only
        .iter()
        .map(|r| format!("{} {}", r.days.label(), r.hours))
        .collect::<Vec<_>>()
        .join(" / ");
    let mut tx = state.db().begin().await?;
    catalogue::save_opening_rules(&mut tx, id, &rows).await?;
    me.commit_logged(
        tx,
        "facility.opening",
        format!("facility:{id}"),
        format!("開館時間: {text}"),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/facilities/{id}/opening?done=saved")).into_response())
}

// ---- closed days, closures, blocks ------------------------------------------

pub struct Listed {
    id: i64,
    text: String,
}

#[derive(Template)]
#[template(path = "admin/closed.html")]
struct ClosedPage {
    layout: Layout,
    f: Facility,
    errors: FieldErrors,
    rules: Vec<Listed>,
    closures: Vec<Listed>,
    blocks: Vec<Listed>,
    rooms: Vec<Room>,
    targets: Vec<(String, String)>,
    input: FormData,
}

const WEEKDAYS: [(Weekday, &str); 7] = [
    (Weekday::Mon, "月曜日"),
    (Weekday::Tue, "火曜日"),
    (Weekday::Wed, "水曜日"),
    (Weekday::Thu, "木曜日"),
    (Weekday::Fri, "金曜日"),
    (Weekday::Sat, "土曜日"),
    (Weekday::Sun, "日曜日"),
];

fn weekday_of(n: i64) -> Option<Weekday> {
    WEEKDAYS.get(usize::try_from(n).ok()?).map(|(w, _)| *w)
}

async fn closed_page(
    state: &AppState,
    me: &CurrentStaff,
    f: Facility,
    errors: FieldErrors,
    input: FormData,
    notice_text: Option<String>,
) -> Result<Response, AppError> {
    let db = state.db();
    let id = f.id;
    let rooms = facilities::rooms(db, id).await?;
    let room_name = |rid: Option<i64>| {
        rid.and_then(|r| rooms.iter().find(|x| x.id == r))
            .map(|r| r.name.clone())
            .unwrap_or_else(|| "施設全体".into())
    };
    let rule_rows = catalogue::closed_rules(db, id).await?;
    let rule_labels = catalogue_domain::closed_rules(db, id).await?;
    let rules = rule_rows
        .iter()
        .zip(rule_labels)
        .map(|(row, rule)| Listed {
            id: row.id,
            text: rule.label(),
        })
        .collect();
    let closures = catalogue::closures(db, id)
        .await?
        .into_iter()
        .map(|c| Listed {
            id: c.id,
            text: format!(
                "{}〜{} {}: {}",
                hiroba_domain::datetime::format_date(c.from_date),
                hiroba_domain::datetime::format_date(c.to_date),
                room_name(c.room_id),
                c.reason
            ),
        })
        .collect();
    let today = chrono::Utc::now()
        .with_timezone(&hiroba_domain::datetime::JST)
        .date_naive();
    let mut combo_names = BTreeMap::new();
    let mut targets = vec![(String::new(), "施設全体".to_owned())];
    for r in &rooms {
        targets.push((format!("room:{}", r.id), r.name.clone()));
        for c in catalogue::combinations(db, r.id).await? {
            if c.unit_ids.len() < catalogue::units(db, r.id).await?.len() {
                targets.push((
                    format!("combination:{}", c.id),
                    format!("{} {}", r.name, c.name),
                ));
            }
            combo_names.insert(c.id, format!("{} {}", r.name, c.name));
        }
    }
    let blocks = catalogue::blocks(db, id, today, today + Duration::days(400))
        .await?
        .into_iter()
        .map(|b| {
            let target = match (b.combination_id, b.room_id) {
                (Some(c), _) => combo_names.get(&c).cloned().unwrap_or_default(),
                (None, r) => room_name(r),
            };
            let time = match (b.start_min, b.end_min) {
                (Some(s), Some(e)) => format!("{}〜{}", minutes_text(s), minutes_text(e)),
                _ => "終日".into(),
            };
            Listed {
                id: b.id,
                text: format!(
                    "{} {time} {target}: {}",
                    hiroba_domain::datetime::format_date(b.date),
                    b.reason
                ),
            }
        })
        .collect();
    let layout = me
        .page(
            state,
            &format!("{} の休館日・利用できない時間", f.name),
            notice_text,
        )
        .await?;
    render(&ClosedPage {
        layout,
        f,
        errors,
        rules,
        closures,
        blocks,
        rooms,
        targets,
        input,
    })
}

pub async fn closed_form(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let f = load(&state, &me, id).await?;
    closed_page(
        &state,
        &me,
        f,
        FieldErrors::new(),
        FormData::default(),
        notice(q.done.as_deref()),
    )
    .await
}

fn parse_date(raw: &str, label: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map_err(|_| format!("{label}は 2025-04-01 の形で入力してください。"))
}

pub async fn add_closed_rule(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    form: FormData,
) -> Result<Response, AppError> {
    let f = load(&state, &me, id).await?;
    let mut errors = FieldErrors::new();
    let weekday = form
        .get("weekday")
        .parse::<i64>()
        .ok()
        .filter(|w| weekday_of(*w).is_some());
    let kind = form.get("kind");
    let row = match kind {
        "weekly" | "nth" if weekday.is_none() => {
            errors.add("kind", "曜日を選んでください。");
            None
        }
        "weekly" => Some(ClosedRuleRow {
            id: 0,
            facility_id: id,
            kind: kind.into(),
            weekday,
            n: None,
            shift_if_holiday: form.get("shift_if_holiday") == "yes",
            season_from: None,
            season_to: None,
        }),
        "nth" => match form
            .get("n")
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=5).contains(n))
        {
            Some(n) => Some(ClosedRuleRow {
                id: 0,
                facility_id: id,
                kind: kind.into(),
                weekday,
                n: Some(n),
                shift_if_holiday: false,
                season_from: None,
                season_to: None,
            }),
            None => {
                errors.add("kind", "第何週かを1〜5で選んでください。");
                None
            }
        },
        "annual" => match Season::parse(form.get("season_from"), form.get("season_to")) {
            Ok(_) => Some(ClosedRuleRow {
                id: 0,
                facility_id: id,
                kind: kind.into(),
                weekday: None,
                n: None,
                shift_if_holiday: false,
                season_from: Some(form.get("season_from").trim().into()),
                season_to: Some(form.get("season_to").trim().into()),
            }),
            Err(m) => {
                errors.add("kind", m);
                None
            }
        },
        "holidays" => Some(ClosedRuleRow {
            id: 0,
            facility_id: id,
            kind: kind.into(),
            weekday: None,
            n: None,
            shift_if_holiday: false,
            season_from: None,
            season_to: None,
        }),
        _ => {
            errors.add("kind", "休館日の種類を選んでください。");
            None
        }
    };
    let Some(row) = row else {
        return closed_page(&state, &me, f, errors, form, None).await;
    };
    let mut tx = state.db().begin().await?;
    let rule_id = catalogue::insert_closed_rule(&mut tx, id, &row).await?;
    let label = catalogue_domain::closed_rule(&row)
        .map(|r| r.label())
        .unwrap_or_default();
    me.commit_logged(
        tx,
        "facility.closed_rule",
        format!("facility:{id}"),
        format!("休館日を追加: {label} (#{rule_id})"),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/facilities/{id}/closed?done=created")).into_response())
}

fn parse_target(raw: &str, rooms: &[Room]) -> Result<(Option<i64>, Option<i64>), String> {
    if raw.is_empty() {
        return Ok((None, None));
    }
    if let Some(r) = raw
        .strip_prefix("room:")
        .and_then(|v| v.parse::<i64>().ok())
    {
        return if rooms.iter().any(|x| x.id == r) {
            Ok((Some(r), None))
        } else {
            Err("選べない室場です。".into())
        };
    }
    if let Some(c) = raw
        .strip_prefix("combination:")
        .and_then(|v| v.parse::<i64>().ok())
    {
        return Ok((None, Some(c)));
    }
    Err("対象を選んでください。".into())
}

pub async fn add_closure(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    form: FormData,
) -> Result<Response, AppError> {
    let f = load(&state, &me, id).await?;
    let rooms = facilities::rooms(state.db(), id).await?;
    let mut errors = FieldErrors::new();
    let from = errors.take(
        "closure_from",
        parse_date(form.get("closure_from"), "開始日"),
    );
    let to = errors.take("closure_to", parse_date(form.get("closure_to"), "終了日"));
    let reason = errors.take(
        "closure_reason",
        required_text(form.get("closure_reason"), "理由", 100),
    );
    let room = errors.take(
        "closure_room",
        match form.get("closure_room") {
            "" => Ok(None),
            raw => raw
                .parse::<i64>()
                .ok()
                .filter(|r| rooms.iter().any(|x| x.id == *r))
                .map(Some)
                .ok_or_else(|| "選べない室場です。".to_owned()),
        },
    );
    if let (Some(a), Some(b)) = (from, to)
        && b < a
    {
        errors.add(
            "closure_to",
            "終了日は開始日と同じか、それより後にしてください。",
        );
    }
    let (Some(from), Some(to), Some(reason), Some(room_id), true) =
        (from, to, reason, room, errors.is_empty())
    else {
        return closed_page(&state, &me, f, errors, form, None).await;
    };
    let row = ClosureRow {
        id: 0,
        facility_id: id,
        room_id,
        from_date: from,
        to_date: to,
        reason: reason.clone(),
    };
    let mut tx = state.db().begin().await?;
    catalogue::insert_closure(&mut tx, &row).await?;
    me.commit_logged(
        tx,
        "facility.closure",
        format!("facility:{id}"),
        format!("臨時休館 {from}〜{to}: {reason}"),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/facilities/{id}/closed?done=created")).into_response())
}

pub async fn add_block(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    form: FormData,
) -> Result<Response, AppError> {
    let f = load(&state, &me, id).await?;
    let rooms = facilities::rooms(state.db(), id).await?;
    let mut errors = FieldErrors::new();
    let date = errors.take("block_date", parse_date(form.get("block_date"), "日付"));
    let reason = errors.take(
        "block_reason",
        required_text(form.get("block_reason"), "理由", 100),
    );
    let target = errors.take(
        "block_target",
        parse_target(form.get("block_target"), &rooms),
    );
    let range = errors.take(
        "block_start",
        match (form.get("block_start").trim(), form.get("block_end").trim()) {
            ("", "") => Ok(None),
            (s, e) => TimeRange::parse(s, e).map(Some),
        },
    );
    let (Some(date), Some(reason), Some((room_id, combination_id)), Some(range), true) =
        (date, reason, target, range, errors.is_empty())
    else {
        return closed_page(&state, &me, f, errors, form, None).await;
    };
    // A combination must belong to one of this facility's rooms.
    let room_id = match combination_id {
        Some(c) => {
            let combo = catalogue::combination(state.db(), c)
                .await?
                .filter(|c| rooms.iter().any(|r| r.id == c.room_id))
                .ok_or(AppError::NotFound)?;
            Some(combo.room_id)
        }
        None => room_id,
    };
    let row = BlockRow {
        id: 0,
        facility_id: id,
        room_id,
        combination_id,
        date,
        start_min: range.map(|r| i64::from(r.start.minutes())),
        end_min: range.map(|r| i64::from(r.end.minutes())),
        reason: reason.clone(),
    };
    let mut tx = state.db().begin().await?;
    catalogue::insert_block(&mut tx, &row).await?;
    let when = range
        .map(|r| r.to_string())
        .unwrap_or_else(|| "終日".into());
    me.commit_logged(
        tx,
        "facility.block",
        format!("facility:{id}"),
        format!("利用不可 {date} {when}: {reason}"),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/facilities/{id}/closed?done=created")).into_response())
}

/// Deletes one owned row (closed rule, closure, block, purpose, activity, equipment).
async fn delete_owned(
    state: &AppState,
    me: &CurrentStaff,
    id: i64,
    table: OwnedTable,
    row: i64,
    action: &str,
    back: &str,
) -> Result<Response, AppError> {
    load(state, me, id).await?;
    let mut tx = state.db().begin().await?;
    catalogue::delete_owned(&mut tx, table, row, id).await?;
    me.commit_logged(
        tx,
        action,
        format!("facility:{id}"),
        format!("#{row} を削除"),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/facilities/{id}/{back}?done=deleted")).into_response())
}

pub async fn delete_closed_rule(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path((id, row)): Path<(i64, i64)>,
) -> Result<Response, AppError> {
    delete_owned(
        &state,
        &me,
        id,
        OwnedTable::ClosedRules,
        row,
        "facility.closed_rule_delete",
        "closed",
    )
    .await
}

pub async fn delete_closure(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path((id, row)): Path<(i64, i64)>,
) -> Result<Response, AppError> {
    delete_owned(
        &state,
        &me,
        id,
        OwnedTable::Closures,
        row,
        "facility.closure_delete",
        "closed",
    )
    .await
}

pub async fn delete_block(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path((id, row)): Path<(i64, i64)>,
) -> Result<Response, AppError> {
    delete_owned(
        &state,
        &me,
        id,
        OwnedTable::Blocks,
        row,
        "facility.block_delete",
        "closed",
    )
    .await
}

// ---- user categories allowed to book (A14) -----------------------------------

pub struct CategoryRow {
    id: i64,
    name: String,
    allowed: bool,
    kind: String,
    n: String,
    opens_on_day: String,
    monthly_limit: String,
    window_label: String,
}

#[derive(Template)]
#[template(path = "admin/booking_rules.html")]
struct RulesPage {
    layout: Layout,
    f: Facility,
    errors: FieldErrors,
    rows: Vec<CategoryRow>,
    /// The cancellation deadline (A21) as typed.
    cancel_days: String,
    cancel_online: bool,
}

fn rules_title(f: &Facility) -> String {
    format!("{} の予約のルール", f.name)
}

/// The cancellation deadline as typed: 0..=365 days before the use date
/// (a deadline after the use date cannot be expressed), and whether
/// residents may cancel online.
fn parse_cancel_deadline(form: &FormData, errors: &mut FieldErrors) -> Option<(i64, bool)> {
    let online = match form.get("resident_may_cancel") {
        "yes" => Some(true),
        "no" => Some(false),
        _ => {
            errors.add(
                "resident_may_cancel",
                "取消をインターネットで受け付けるか、窓口のみにするかを選んでください。",
            );
            None
        }
    };
    let raw = form.get("cancel_days_before").trim();
    let days = match raw.parse::<i64>() {
        Ok(d) if (0..=365).contains(&d) => Some(d),
        Ok(d) if d < 0 => {
            errors.add(
                "cancel_days_before",
                "取消の期限を利用日より後にはできません。0（利用日の当日まで）以上の日数を入力してください。",
            );
            None
        }
        _ if raw.is_empty() => {
            errors.add(
                "cancel_days_before",
                "取消の期限を入力してください（利用日の何日前まで。当日までなら 0）。",
            );
            None
        }
        _ => {
            errors.add(
                "cancel_days_before",
                "取消の期限は 0〜365 の半角数字で入力してください（利用日の何日前まで）。",
            );
            None
        }
    };
    Some((days?, online?))
}

fn window_of(kind: &str, n: i64, opens_on_day: i64) -> Option<BookingWindow> {
    let n = u32::try_from(n).ok()?;
    match kind {
        "months" => Some(BookingWindow::MonthsAhead {
            months: n,
            opens_on_day: u32::try_from(opens_on_day).ok()?,
        }),
        "days" => Some(BookingWindow::DaysAhead { days: n }),
        _ => None,
    }
}

pub async fn rules_form(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let f = load(&state, &me, id).await?;
    let current = catalogue::facility_categories(state.db(), id).await?;
    let rows = catalogue::categories(state.db())
        .await?
        .into_iter()
        .map(|c| {
            let set = current.iter().find(|x| x.category_id == c.id);
            CategoryRow {
                id: c.id,
                name: c.name,
                allowed: set.is_some(),
                kind: set
                    .map(|s| s.window_kind.clone())
                    .unwrap_or_else(|| "months".into()),
                n: set
                    .map(|s| s.window_n.to_string())
                    .unwrap_or_else(|| "1".into()),
                opens_on_day: set
                    .map(|s| s.opens_on_day.to_string())
                    .unwrap_or_else(|| "1".into()),
                monthly_limit: set
                    .and_then(|s| s.monthly_limit)
                    .map(|l| l.to_string())
                    .unwrap_or_default(),
                window_label: set
                    .and_then(|s| window_of(&s.window_kind, s.window_n, s.opens_on_day))
                    .map(|w| w.label())
                    .unwrap_or_default(),
            }
        })
        .collect();
    let layout = me
        .page(&state, &rules_title(&f), notice(q.done.as_deref()))
        .await?;
    render(&RulesPage {
        layout,
        errors: FieldErrors::new(),
        rows,
        cancel_days: f.cancel_days_before.to_string(),
        cancel_online: f.resident_may_cancel,
        f,
    })
}

pub async fn rules_save(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    form: FormData,
) -> Result<Response, AppError> {
    let f = load(&state, &me, id).await?;
    let categories = catalogue::categories(state.db()).await?;
    let mut errors = FieldErrors::new();
    let mut saved = Vec::new();
    let mut rows = Vec::new();
    for c in &categories {
        let p = |name: &str| form.get(&format!("{name}_{}", c.id)).trim().to_owned();
        let allowed = form.get(&format!("allowed_{}", c.id)) == "yes";
        let key = format!("cat_{}", c.id);
        let (kind, n, day, limit) = (p("kind"), p("n"), p("day"), p("limit"));
        rows.push(CategoryRow {
            id: c.id,
            name: c.name.clone(),
            allowed,
            kind: kind.clone(),
            n: n.clone(),
            opens_on_day: day.clone(),
            monthly_limit: limit.clone(),
            window_label: String::new(),
        });
        if !allowed {
            continue;
        }
        let n_ok = n.parse::<i64>().ok().filter(|v| (0..=730).contains(v));
        let day_ok = if day.is_empty() {
            Some(1)
        } else {
            day.parse::<i64>().ok().filter(|v| (1..=28).contains(v))
        };
        let limit_ok = if limit.is_empty() {
            Some(None)
        } else {
            limit.parse::<i64>().ok().filter(|v| *v > 0).map(Some)
        };
        match (kind.as_str(), n_ok, day_ok, limit_ok) {
            ("months" | "days", Some(n), Some(day), Some(limit)) => saved.push(FacilityCategory {
                facility_id: id,
                category_id: c.id,
                window_kind: kind.clone(),
                window_n: n,
                opens_on_day: day,
                monthly_limit: limit,
            }),
            (_, None, _, _) => errors.add(
                &key,
                format!("{}: 予約できる期間を0以上の数で入力してください。", c.name),
            ),
            (_, _, None, _) => errors.add(
                &key,
                format!("{}: 受付開始日は1〜28日で入力してください。", c.name),
            ),
            (_, _, _, None) => errors.add(
                &key,
                format!(
                    "{}: 1か月の予約上限は1以上の数で入力してください（空欄は上限なし）。",
                    c.name
                ),
            ),
            _ => errors.add(&key, format!("{}: 期間の単位を選んでください。", c.name)),
        }
    }
    let cancel = parse_cancel_deadline(&form, &mut errors);
    let Some((cancel_days, cancel_online)) = cancel.filter(|_| errors.is_empty()) else {
        let layout = me.page(&state, &rules_title(&f), None).await?;
        return render(&RulesPage {
            layout,
            errors,
            rows,
            cancel_days: form.get("cancel_days_before").trim().to_owned(),
            cancel_online: form.get("resident_may_cancel") != "no",
            f,
        });
    };
    let text = saved
        .iter()
        .filter_map(|s| {
            let name = categories
                .iter()
                .find(|c| c.id == s.category_id)?
                .name
                .clone();
            Some(format!(
                "{name}={}",
                window_of(&s.window_kind, s.window_n, s.opens_on_day)?.label()
            ))
        })
        .collect::<Vec<_>>()
        .join(", ");
    let before = f.deadlines().cancel;
    let mut after = before;
    after.days_before = u32::try_from(cancel_days).unwrap_or(0);
    after.online = cancel_online;
    let mut summary = format!("予約できる区分: {text}");
    if after != before {
        summary.push_str(&format!(
            "; 取消の期限: {} → {}",
            before.label("取消"),
            after.label("取消")
        ));
    }
    let mut tx = state.db().begin().await?;
    catalogue::save_facility_categories(&mut tx, id, &saved).await?;
    facilities::set_cancel_deadline(&mut tx, id, cancel_days, cancel_online).await?;
    me.commit_logged(tx, "facility.categories", format!("facility:{id}"), summary)
        .await?;
    Ok(Redirect::to(&format!("/admin/facilities/{id}/booking-rules?done=saved")).into_response())
}

// ---- purposes and activities (A15, A18) --------------------------------------

#[derive(Template)]
#[template(path = "admin/purposes.html")]
struct PurposesPage {
    layout: Layout,
    f: Facility,
    errors: FieldErrors,
    purposes: Vec<Listed>,
    activities: Vec<Listed>,
    targets: Vec<(String, String)>,
}

async fn purposes_page(
    state: &AppState,
    me: &CurrentStaff,
    f: Facility,
    errors: FieldErrors,
    notice_text: Option<String>,
) -> Result<Response, AppError> {
    let db = state.db();
    let rooms = facilities::rooms(db, f.id).await?;
    let mut targets = vec![(String::new(), "施設全体".to_owned())];
    let mut names = BTreeMap::new();
    for r in &rooms {
        targets.push((format!("room:{}", r.id), r.name.clone()));
        for c in catalogue::combinations(db, r.id).await? {
            targets.push((
                format!("combination:{}", c.id),
                format!("{} {}", r.name, c.name),
            ));
            names.insert(c.id, format!("{} {}", r.name, c.name));
        }
    }
    let purposes = catalogue::purposes(db, f.id)
        .await?
        .into_iter()
        .map(|p| {
            let scope = match (p.combination_id, p.room_id) {
                (Some(c), _) => names.get(&c).cloned().unwrap_or_default(),
                (None, Some(r)) => rooms
                    .iter()
                    .find(|x| x.id == r)
                    .map(|x| x.name.clone())
                    .unwrap_or_default(),
                (None, None) => "施設全体".into(),
            };
            Listed {
                id: p.id,
                text: format!("{}（{scope}）", p.name),
            }
        })
        .collect();
    let activities = catalogue::activities(db, f.id)
        .await?
        .into_iter()
        .map(|a| Listed {
            id: a.id,
            text: a.name,
        })
        .collect();
    let layout = me
        .page(
            state,
            &format!("{} の利用目的・活動内容", f.name),
            notice_text,
        )
        .await?;
    render(&PurposesPage {
        layout,
        f,
        errors,
        purposes,
        activities,
        targets,
    })
}

pub async fn purposes_form(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let f = load(&state, &me, id).await?;
    purposes_page(
        &state,
        &me,
        f,
        FieldErrors::new(),
        notice(q.done.as_deref()),
    )
    .await
}

pub async fn add_purpose(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    form: FormData,
) -> Result<Response, AppError> {
    let f = load(&state, &me, id).await?;
    let rooms = facilities::rooms(state.db(), id).await?;
    let mut errors = FieldErrors::new();
    let name = errors.take(
        "purpose_name",
        required_text(form.get("purpose_name"), "利用目的", 60),
    );
    let target = errors.take(
        "purpose_target",
        parse_target(form.get("purpose_target"), &rooms),
    );
    let (Some(name), Some((room_id, combination_id))) = (name, target) else {
        return purposes_page(&state, &me, f, errors, None).await;
    };
    let room_id = match combination_id {
        Some(c) => Some(
            catalogue::combination(state.db(), c)
                .await?
                .filter(|c| rooms.iter().any(|r| r.id == c.room_id))
                .ok_or(AppError::NotFound)?
                .room_id,
        ),
        None => room_id,
    };
    let mut tx = state.db().begin().await?;
    catalogue::insert_purpose(&mut tx, id, room_id, combination_id, &name).await?;
    me.commit_logged(
        tx,
        "facility.purpose",
        format!("facility:{id}"),
        format!("利用目的を追加: {name}"),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/facilities/{id}/purposes?done=created")).into_response())
}

pub async fn add_activity(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    form: FormData,
) -> Result<Response, AppError> {
    let f = load(&state, &me, id).await?;
    let mut errors = FieldErrors::new();
    let Some(name) = errors.take(
        "activity_name",
        required_text(form.get("activity_name"), "活動内容", 60),
    ) else {
        return purposes_page(&state, &me, f, errors, None).await;
    };
    let mut tx = state.db().begin().await?;
    match catalogue::insert_activity(&mut tx, id, &name).await {
        Ok(_) => {}
        Err(StoreError::Duplicate(_)) => {
            drop(tx);
            errors.add("activity_name", "同じ活動内容がすでにあります。");
            return purposes_page(&state, &me, f, errors, None).await;
        }
        Err(e) => return Err(e.into()),
    }
    me.commit_logged(
        tx,
        "facility.activity",
        format!("facility:{id}"),
        format!("活動内容を追加: {name}"),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/facilities/{id}/purposes?done=created")).into_response())
}

pub async fn delete_purpose(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path((id, row)): Path<(i64, i64)>,
) -> Result<Response, AppError> {
    delete_owned(
        &state,
        &me,
        id,
        OwnedTable::Purposes,
        row,
        "facility.purpose_delete",
        "purposes",
    )
    .await
}

pub async fn delete_activity(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path((id, row)): Path<(i64, i64)>,
) -> Result<Response, AppError> {
    delete_owned(
        &state,
        &me,
        id,
        OwnedTable::Activities,
        row,
        "facility.activity_delete",
        "purposes",
    )
    .await
}

// ---- equipment (A12, A13) ------------------------------------------------------

pub struct EquipmentForm {
    id: i64,
    room: String,
    name: String,
    stock: String,
    unit_label: String,
    fee: String,
    per_hour: bool,
    with_room: bool,
}

#[derive(Template)]
#[template(path = "admin/equipment.html")]
struct EquipmentPage {
    layout: Layout,
    f: Facility,
    errors: FieldErrors,
    items: Vec<EquipmentForm>,
    new_item: EquipmentForm,
    rooms: Vec<Room>,
}

fn equipment_form_from(form: &FormData, id: i64) -> EquipmentForm {
    EquipmentForm {
        id,
        room: form.get("room").to_owned(),
        name: form.get("name").to_owned(),
        stock: form.get("stock").to_owned(),
        unit_label: form.get("unit_label").to_owned(),
        fee: form.get("fee").to_owned(),
        per_hour: form.get("per_hour") == "yes",
        with_room: form.get("with_room") == "yes",
    }
}

async fn equipment_page(
    state: &AppState,
    me: &CurrentStaff,
    f: Facility,
    errors: FieldErrors,
    typed: Option<EquipmentForm>,
    notice_text: Option<String>,
) -> Result<Response, AppError> {
    let db = state.db();
    let mut items: Vec<EquipmentForm> = catalogue::equipment(db, f.id)
        .await?
        .into_iter()
        .map(|e| EquipmentForm {
            id: e.id,
            room: e.room_id.map(|r| r.to_string()).unwrap_or_default(),
            name: e.name,
            stock: e.stock.to_string(),
            unit_label: e.unit_label,
            fee: e.fee.to_string(),
            per_hour: e.per_hour,
            with_room: e.with_room,
        })
        .collect();
    let mut new_item = EquipmentForm {
        id: 0,
        room: String::new(),
        name: String::new(),
        stock: "1".into(),
        unit_label: "台".into(),
        fee: "0".into(),
        per_hour: false,
        with_room: false,
    };
    if let Some(t) = typed {
        if t.id == 0 {
            new_item = t;
        } else if let Some(slot) = items.iter_mut().find(|i| i.id == t.id) {
            *slot = t;
        }
    }
    let layout = me
        .page(state, &format!("{} の備品・附属設備", f.name), notice_text)
        .await?;
    let rooms = facilities::rooms(db, f.id).await?;
    render(&EquipmentPage {
        layout,
        f,
        errors,
        items,
        new_item,
        rooms,
    })
}

pub async fn equipment_form(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let f = load(&state, &me, id).await?;
    equipment_page(
        &state,
        &me,
        f,
        FieldErrors::new(),
        None,
        notice(q.done.as_deref()),
    )
    .await
}

/// Parses one equipment form; errors are keyed by the row (`eq_0` for a new one).
fn parse_equipment(
    form: &FormData,
    rooms: &[Room],
    key: &str,
    errors: &mut FieldErrors,
) -> Option<EquipmentChange> {
    let mut fail = |m: String| {
        errors.add(key, m);
        None::<()>
    };
    let name = required_text(form.get("name"), "名前", 60)
        .map_err(&mut fail)
        .ok()?;
    let unit_label = required_text(form.get("unit_label"), "単位", 10)
        .map_err(&mut fail)
        .ok()?;
    let Some(stock) = form
        .get("stock")
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|s| (0..=100_000).contains(s))
    else {
        fail("数量は0以上の数で入力してください。".into());
        return None;
    };
    let Some(fee) = form
        .get("fee")
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|s| (0..=10_000_000).contains(s))
    else {
        fail("料金は0円以上の金額を半角数字で入力してください。".into());
        return None;
    };
    let room_id = match form.get("room") {
        "" => None,
        raw => match raw
            .parse::<i64>()
            .ok()
            .filter(|r| rooms.iter().any(|x| x.id == *r))
        {
            Some(r) => Some(r),
            None => {
                fail("選べない室場です。".into());
                return None;
            }
        },
    };
    Some(EquipmentChange {
        room_id,
        name,
        stock,
        unit_label,
        fee,
        per_hour: form.get("per_hour") == "yes",
        with_room: form.get("with_room") == "yes",
    })
}

fn equipment_text(e: &EquipmentChange) -> String {
    format!(
        "{} {}{} {}円{}",
        e.name,
        e.stock,
        e.unit_label,
        e.fee,
        if e.per_hour { "/時間" } else { "" }
    )
}

pub async fn add_equipment(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    form: FormData,
) -> Result<Response, AppError> {
    let f = load(&state, &me, id).await?;
    let rooms = facilities::rooms(state.db(), id).await?;
    let mut errors = FieldErrors::new();
    let Some(change) = parse_equipment(&form, &rooms, "eq_0", &mut errors) else {
        return equipment_page(
            &state,
            &me,
            f,
            errors,
            Some(equipment_form_from(&form, 0)),
            None,
        )
        .await;
    };
    let mut tx = state.db().begin().await?;
    let eid = catalogue::insert_equipment(&mut tx, id, &change).await?;
    me.commit_logged(
        tx,
        "facility.equipment",
        format!("equipment:{eid}"),
        format!("備品を追加: {}", equipment_text(&change)),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/facilities/{id}/equipment?done=created")).into_response())
}

pub async fn update_equipment(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path((id, eid)): Path<(i64, i64)>,
    form: FormData,
) -> Result<Response, AppError> {
    let f = load(&state, &me, id).await?;
    let rooms = facilities::rooms(state.db(), id).await?;
    let mut errors = FieldErrors::new();
    let Some(change) = parse_equipment(&form, &rooms, &format!("eq_{eid}"), &mut errors) else {
        return equipment_page(
            &state,
            &me,
            f,
            errors,
            Some(equipment_form_from(&form, eid)),
            None,
        )
        .await;
    };
    let mut tx = state.db().begin().await?;
    catalogue::update_equipment(&mut tx, id, eid, &change).await?;
    me.commit_logged(
        tx,
        "facility.equipment",
        format!("equipment:{eid}"),
        format!("備品を変更: {}", equipment_text(&change)),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/facilities/{id}/equipment?done=saved")).into_response())
}

pub async fn delete_equipment(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path((id, row)): Path<(i64, i64)>,
) -> Result<Response, AppError> {
    delete_owned(
        &state,
        &me,
        id,
        OwnedTable::Equipment,
        row,
        "facility.equipment_delete",
        "equipment",
    )
    .await
}

// ---- terms of use (A17) -----------------------------------------------------------

pub struct TermsView {
    version: i64,
    effective: String,
    body: String,
}

#[derive(Template)]
#[template(path = "admin/terms.html")]
struct TermsPage {
    layout: Layout,
    f: Facility,
    errors: FieldErrors,
    versions: Vec<TermsView>,
    body: String,
    effective_from: String,
}

async fn terms_page(
    state: &AppState,
    me: &CurrentStaff,
    f: Facility,
    errors: FieldErrors,
    body: String,
    effective_from: String,
    notice_text: Option<String>,
) -> Result<Response, AppError> {
    let versions: Vec<TermsView> = catalogue::terms(state.db(), f.id)
        .await?
        .into_iter()
        .map(|t| TermsView {
            version: t.version,
            effective: hiroba_domain::datetime::format_date(t.effective_from),
            body: t.body,
        })
        .collect();
    let body = if body.is_empty() && errors.is_empty() {
        versions.first().map(|v| v.body.clone()).unwrap_or_default()
    } else {
        body
    };
    let layout = me
        .page(state, &format!("{} の利用規約", f.name), notice_text)
        .await?;
    render(&TermsPage {
        layout,
        f,
        errors,
        versions,
        body,
        effective_from,
    })
}

pub async fn terms_form(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let f = load(&state, &me, id).await?;
    let today = chrono::Utc::now()
        .with_timezone(&hiroba_domain::datetime::JST)
        .date_naive();
    terms_page(
        &state,
        &me,
        f,
        FieldErrors::new(),
        String::new(),
        today.format("%Y-%m-%d").to_string(),
        notice(q.done.as_deref()),
    )
    .await
}

pub async fn add_terms(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    form: FormData,
) -> Result<Response, AppError> {
    let f = load(&state, &me, id).await?;
    let mut errors = FieldErrors::new();
    let body = form.get("body").replace("\r\n", "\n");
    if body.trim().is_empty() {
        errors.add("body", "利用規約の本文を入力してください。");
    } else if body.chars().count() > 20_000 {
        errors.add("body", "利用規約は20000文字以内で入力してください。");
    }
    let effective = errors.take(
        "effective_from",
        parse_date(form.get("effective_from"), "適用開始日"),
    );
    let (Some(effective), true) = (effective, errors.is_empty()) else {
        return terms_page(
            &state,
            &me,
            f,
            errors,
            body,
            form.get("effective_from").to_owned(),
            None,
        )
        .await;
    };
    let mut tx = state.db().begin().await?;
    let version = catalogue::add_terms(&mut tx, id, body.trim(), effective).await?;
    me.commit_logged(
        tx,
        "facility.terms",
        format!("facility:{id}"),
        format!("利用規約 第{version}版（{effective}から適用）"),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/facilities/{id}/terms?done=saved")).into_response())
}
