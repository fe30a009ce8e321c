//! Public availability (no login): a facility's page, and a room's month or
//! week view where each slot reads 空き / 一部空き / 予約済み / 休館 / 受付期間外,
//! following each room's visibility (A09). Fast: one calendar computation and
//! one query for the held cells per page.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use chrono::{Datelike, Duration, Months, NaiveDate};
use hiroba_domain::booking::{Availability, cells, slot_availability};
use hiroba_domain::calendar::{DayStatus, SlotState};
use hiroba_domain::datetime::{JST, format_date, weekday_jp};
use hiroba_store::catalogue::{self, Combination, FacilityCategory, PhotoMeta};
use hiroba_store::facilities::{self, Facility, Room, Visibility};
use hiroba_store::{catalogue_domain, reservations};
use serde::Deserialize;

use crate::AppState;
use crate::admin::render;
use crate::error::AppError;
use crate::view::Layout;

/// 11月22日(日): the year is clear from the context of a week view.
fn short_date(d: NaiveDate) -> String {
    format!("{}月{}日({})", d.month(), d.day(), weekday_jp(d))
}

fn today() -> NaiveDate {
    chrono::Utc::now().with_timezone(&JST).date_naive()
}

async fn layout(state: &AppState, title: &str) -> Result<Layout, AppError> {
    Ok(Layout {
        title: title.to_owned(),
        town_name: hiroba_store::settings::load(state.db()).await?.town_name,
        ..Layout::default()
    })
}

/// A room residents may see: public or availability-only.
pub struct RoomLink {
    room: Room,
    details: bool,
}

#[derive(Template)]
#[template(path = "facility.html")]
struct FacilityPage {
    layout: Layout,
    f: Facility,
    photos: Vec<PhotoMeta>,
    rooms: Vec<RoomLink>,
    opening: Vec<String>,
    closed: Vec<String>,
    deadline: String,
}

pub async fn facility(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let db = state.db();
    let f = facilities::get(db, id).await?.ok_or(AppError::NotFound)?;
    let rooms: Vec<RoomLink> = facilities::rooms(db, id)
        .await?
        .into_iter()
        .filter(|r| r.visibility() != Visibility::Private)
        .map(|room| RoomLink {
            details: room.visibility() == Visibility::Public,
            room,
        })
        .collect();
    let opening = catalogue_domain::opening_rules(db, id)
        .await?
        .iter()
        .map(|r| format!("{} {}", r.days.label(), r.hours))
        .collect();
    let closed = catalogue_domain::closed_rules(db, id)
        .await?
        .iter()
        .map(|r| r.label())
        .collect();
    let d = f.deadlines();
    let online = |d: &hiroba_domain::booking_rules::Deadline, action: &str| {
        if d.online {
            format!("{action}は{}、インターネットでできます。", d.until())
        } else {
            format!("{action}は{}に窓口でお手続きください。", d.until())
        }
    };
    let deadline = format!("{}{}", online(&d.change, "変更"), online(&d.cancel, "取消"));
    render(&FacilityPage {
        layout: layout(&state, &f.name).await?,
        photos: catalogue::photos(db, id).await?,
        rooms,
        opening,
        closed,
        deadline,
        f,
    })
}

#[derive(Deserialize, Default)]
pub struct ViewQuery {
    month: Option<String>,
    week: Option<String>,
    combination: Option<i64>,
}

#[derive(Clone)]
pub struct SlotCell {
    label: String,
    time: String,
    mark: &'static str,
    state: &'static str,
    css: &'static str,
    /// The booking form for a free slot of a public room; empty otherwise.
    href: String,
}

#[derive(Clone)]
pub struct DayCell {
    day: u32,
    heading: String,
    css: &'static str,
    holiday: String,
    closed: String,
    slots: Vec<SlotCell>,
}

#[derive(Template)]
#[template(path = "availability.html")]
struct AvailabilityPage {
    layout: Layout,
    f: Facility,
    room: Room,
    details: bool,
    combos: Vec<Combination>,
    combination: i64,
    heading: String,
    week_view: bool,
    weeks: Vec<Vec<Option<DayCell>>>,
    days: Vec<DayCell>,
    prev: String,
    next: String,
    switch: String,
    window_note: String,
    heading_param: String,
}

/// The most generous booking window among the categories that may book here:
/// a day beyond it reads 受付期間外 for everyone.
fn widest_window(rules: &[FacilityCategory], today: NaiveDate) -> Option<NaiveDate> {
    rules
        .iter()
        .filter_map(|r| r.window().map(|w| w.last_bookable_date(today)))
        .max()
}

/// A room's month or week view; the rendered page is kept for a second (C05).
pub async fn room(
    State(state): State<AppState>,
    Path((id, room_id)): Path<(i64, i64)>,
    Query(q): Query<ViewQuery>,
) -> Result<Response, AppError> {
    let key = (
        room_id,
        format!(
            "{id}|{}|{}|{}",
            q.month.as_deref().unwrap_or(""),
            q.week.as_deref().unwrap_or(""),
            q.combination.unwrap_or(0)
        ),
        today(),
    );
    if let Some(html) = state.views().page(&key) {
        return Ok(Html(html.as_str().to_owned()).into_response());
    }
    let html = room_page(&state, id, room_id, q).await?;
    state.views().put_page(key, html.clone());
    Ok(Html(html).into_response())
}

async fn room_page(
    state: &AppState,
    id: i64,
    room_id: i64,
    q: ViewQuery,
) -> Result<String, AppError> {
    let db = state.db();
    // Catalogue data from the short-lived cache; held cells always fresh (C05).
    let cached = state.views().room(db, room_id).await?;
    let data = cached
        .as_ref()
        .as_ref()
        .filter(|d| d.facility.id == id && d.room.visibility() != Visibility::Private)
        .ok_or(AppError::NotFound)?;
    let (f, room) = (&data.facility, &data.room);
    let today = today();
    let combos = &data.combos;
    let combo = q
        .combination
        .and_then(|c| combos.iter().find(|x| x.id == c))
        .or_else(|| combos.first())
        .ok_or(AppError::NotFound)?;
    let units: BTreeSet<i64> = combo.unit_ids.iter().copied().collect();

    // The range shown: a month, or the week (Sunday to Saturday) holding `week`.
    let week_start = q
        .week
        .as_deref()
        .and_then(|w| NaiveDate::parse_from_str(w, "%Y-%m-%d").ok())
        .map(|d| d - Duration::days(i64::from(d.weekday().num_days_from_sunday())));
    let first_of_month = q
        .month
        .as_deref()
        .and_then(|m| NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").ok())
        .unwrap_or_else(|| today.with_day(1).unwrap_or(today));
    let (from, to) = match week_start {
        Some(start) => (start, start + Duration::days(6)),
        None => (
            first_of_month,
            first_of_month
                .checked_add_months(Months::new(1))
                .and_then(|d| d.pred_opt())
                .unwrap_or(first_of_month),
        ),
    };
    // Calendar days for every month the range touches.
    let mut days = Vec::new();
    let mut month = from.with_day(1).unwrap_or(from);
    while month <= to {
        days.extend(
            state
                .views()
                .month(db, room_id, combo.id, month.year(), month.month())
                .await?
                .iter()
                .filter(|d| d.date >= from && d.date <= to)
                .cloned(),
        );
        month = month
            .checked_add_months(Months::new(1))
            .unwrap_or(to + Duration::days(1));
    }
    let mut held: BTreeMap<(NaiveDate, i64), BTreeSet<i64>> = BTreeMap::new();
    for (date, unit, cell) in reservations::held_cells(db, room_id, from, to).await? {
        held.entry((date, cell)).or_default().insert(unit);
    }
    let last_bookable = widest_window(&data.windows, today);
    // Availability-only rooms are booked at the counter (A09).
    let bookable = room.visibility() == Visibility::Public;
    let cells_view: Vec<DayCell> = days
        .iter()
        .map(|d| {
            let outside = d.date < today || last_bookable.is_none_or(|last| d.date > last);
            let slots = d
                .slots
                .iter()
                .map(|s| {
                    let state = match &s.state {
                        SlotState::Blocked { reason } => Availability::Closed {
                            reason: reason.clone(),
                        },
                        SlotState::Open if outside => Availability::OutsideWindow,
                        SlotState::Open => {
                            let mut taken = BTreeSet::new();
                            for cell in cells(&s.range) {
                                if let Some(units) = held.get(&(d.date, cell)) {
                                    taken.extend(units);
                                }
                            }
                            slot_availability(&units, &taken)
                        }
                    };
                    let css = match state {
                        Availability::Free => "free",
                        Availability::Partial => "partial",
                        Availability::Booked => "booked",
                        Availability::Closed { .. } => "closed",
                        Availability::OutsideWindow => "outside",
                    };
                    let href = if bookable && state == Availability::Free {
                        format!(
                            "/book?combination={}&date={}&slot={}",
                            combo.id,
                            d.date,
                            crate::booking::slot_key(&s.range)
                        )
                    } else {
                        String::new()
                    };
                    SlotCell {
                        label: s.label.clone(),
                        time: s.range.to_string(),
                        mark: state.mark(),
                        state: state.label(),
                        css,
                        href,
                    }
                })
                .collect();
            let css = if d.holiday.is_some() || d.date.weekday() == chrono::Weekday::Sun {
                "sun"
            } else if d.date.weekday() == chrono::Weekday::Sat {
                "sat"
            } else {
                ""
            };
            DayCell {
                day: d.date.day(),
                heading: format!("{}日({})", d.date.day(), weekday_jp(d.date)),
                css,
                holiday: d.holiday.clone().unwrap_or_default(),
                closed: match &d.status {
                    DayStatus::Open => String::new(),
                    DayStatus::Closed { reason } => reason.clone(),
                },
                slots,
            }
        })
        .collect();
    let lead = usize::try_from(from.weekday().num_days_from_sunday()).unwrap_or(0);
    let mut grid: Vec<Option<DayCell>> = (0..lead).map(|_| None).collect();
    grid.extend(cells_view.iter().cloned().map(Some));
    while !grid.len().is_multiple_of(7) {
        grid.push(None);
    }
    let weeks: Vec<Vec<Option<DayCell>>> =
        grid.chunks(7).map(<[Option<DayCell>]>::to_vec).collect();
    let c = combo.id;
    let (heading, prev, next, switch) = match week_start {
        Some(start) => (
            format!(
                "{}〜{}",
                short_date(start),
                short_date(start + Duration::days(6))
            ),
            format!("?week={}&combination={c}", start - Duration::days(7)),
            format!("?week={}&combination={c}", start + Duration::days(7)),
            format!("?month={}&combination={c}", start.format("%Y-%m")),
        ),
        None => (
            format!("{}年{}月", from.year(), from.month()),
            format!(
                "?month={}&combination={c}",
                from.checked_sub_months(Months::new(1))
                    .unwrap_or(from)
                    .format("%Y-%m")
            ),
            format!(
                "?month={}&combination={c}",
                from.checked_add_months(Months::new(1))
                    .unwrap_or(from)
                    .format("%Y-%m")
            ),
            format!(
                "?week={}&combination={c}",
                if from.month() == today.month() && from.year() == today.year() {
                    today
                } else {
                    from
                }
            ),
        ),
    };
    let window_note = match last_bookable {
        Some(last) if last >= today => {
            format!("現在は{}までの予約を受け付けています。", format_date(last))
        }
        _ => "現在、インターネットでの予約は受け付けていません。".to_owned(),
    };
    Ok(AvailabilityPage {
        layout: Layout {
            title: format!("{} {} の空き状況", f.name, room.name),
            town_name: data.town_name.clone(),
            ..Layout::default()
        },
        details: room.visibility() == Visibility::Public,
        f: f.clone(),
        room: room.clone(),
        combos: combos.clone(),
        combination: c,
        heading,
        week_view: week_start.is_some(),
        weeks,
        days: cells_view,
        prev,
        next,
        switch,
        window_note,
        heading_param: match week_start {
            Some(start) => start.to_string(),
            None => from.format("%Y-%m").to_string(),
        },
    }
    .render()?)
}
