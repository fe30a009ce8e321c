//! The counter (窓口): the desk calendar across the facilities in scope (day
//! and week), counter bookings for registered residents or walk-ins (A23),
//! and managing reservations (A22): search, change, payment, cancel with a
//! reason. Bookings go through `hiroba_store::booking::prepare`, the same
//! rules as the resident site; an override needs its own permission and a
//! reason, both in the operation log.

use std::collections::BTreeSet;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Datelike, Duration, NaiveDate};
use hiroba_domain::booking::cells;
use hiroba_domain::calendar::{CalendarDay, DayStatus, SlotState};
use hiroba_domain::datetime::{format_date, weekday_jp};
use hiroba_domain::fees::{QuoteItem, format_yen};
use hiroba_domain::permission::{FacilityScope, Permission};
use hiroba_domain::validation::FieldErrors;
use hiroba_store::booking::{self, Applicant, Counter, Refusal};
use hiroba_store::catalogue::{self, Combination, ReductionRow, UserCategory};
use hiroba_store::facilities::{self, Facility};
use hiroba_store::outbox::Mail;
use hiroba_store::reservations::{self, BookingError, ReservationView, Search};
use hiroba_store::{audit, catalogue_domain, residents};
use serde::Deserialize;

use super::render;
use crate::AppState;
use crate::auth::CurrentStaff;
use crate::booking::{
    BookingForm, ChangeRow, EquipmentChoice, SlotChoice, applicant_of, booked_time, change_mail,
    change_place, change_rows, changes_text, equipment_choices, form_of, room_combinations,
    slot_choices, slot_key, store_change, time_label, today,
};
use crate::error::AppError;
use crate::form::FormData;
use crate::view::Layout;

fn scope_ids(me: &CurrentStaff) -> Option<Vec<i64>> {
    match &me.staff.scope {
        FacilityScope::All => None,
        FacilityScope::Only(ids) => Some(ids.iter().copied().collect()),
    }
}

async fn facilities_in_scope(
    state: &AppState,
    me: &CurrentStaff,
) -> Result<Vec<Facility>, AppError> {
    Ok(facilities::list(state.db())
        .await?
        .into_iter()
        .filter(|f| me.staff.scope.allows(f.id))
        .collect())
}

fn parse_date(s: Option<&str>) -> Option<NaiveDate> {
    s.and_then(|s| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok())
}

// ---- desk calendar -----------------------------------------------------------

pub struct DeskBooking {
    pub id: i64,
    pub who: String,
    pub people: i64,
    pub what: String,
}

pub struct DeskSlot {
    pub label: String,
    pub time: String,
    pub blocked: String,
    pub bookings: Vec<DeskBooking>,
    /// (combination name, counter booking link) for each free combination.
    pub free: Vec<(String, String)>,
}

/// One room on one day: closed, or its slots with reservations, blocks and free combinations.
pub struct DeskDay {
    pub date: String,
    pub closed: String,
    pub slots: Vec<DeskSlot>,
}

pub struct DeskRoom {
    pub name: String,
    pub private: bool,
    pub day: DeskDay,
}

pub struct DeskFacility {
    pub id: i64,
    pub name: String,
    pub rooms: Vec<DeskRoom>,
}

/// A row of the week view: one room, seven days.
pub struct WeekRoom {
    pub name: String,
    pub private: bool,
    pub days: Vec<DeskDay>,
}

#[derive(Template)]
#[template(path = "admin/desk.html")]
struct DeskPage {
    layout: Layout,
    week_view: bool,
    date: String,
    heading: String,
    prev: String,
    next: String,
    facility: i64,
    choices: Vec<(i64, String)>,
    day: Vec<DeskFacility>,
    week_days: Vec<(String, String)>,
    week: Vec<WeekRoom>,
}

#[derive(Deserialize, Default)]
pub struct DeskQuery {
    date: Option<String>,
    view: Option<String>,
    facility: Option<i64>,
}

/// The calendar days of a room from `from` to `to` (the month calendar is
/// computed per month, so a week across two months takes two).
async fn calendar_days(
    db: &hiroba_store::Db,
    room_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<CalendarDay>, AppError> {
    let mut days = Vec::new();
    let mut month = from.with_day(1).unwrap_or(from);
    while month <= to {
        days.extend(
            catalogue_domain::month_calendar(db, room_id, None, month.year(), month.month())
                .await?
                .into_iter()
                .filter(|d| d.date >= from && d.date <= to),
        );
        month = match month.checked_add_months(chrono::Months::new(1)) {
            Some(m) => m,
            None => break,
        };
    }
    Ok(days)
}

/// One room's day at the desk: every slot with its reservations (applicant,
/// people), its block, and a counter booking link per combination still free.
fn desk_day(
    room: &facilities::Room,
    day: &CalendarDay,
    combos: &[Combination],
    held: &BTreeSet<(NaiveDate, i64, i64)>,
    booked: &[ReservationView],
) -> DeskDay {
    let date = day.date;
    let mut out = DeskDay {
        date: date.to_string(),
        closed: match &day.status {
            DayStatus::Closed { reason } => reason.clone(),
            DayStatus::Open => String::new(),
        },
        slots: Vec::new(),
    };
    if !out.closed.is_empty() {
        return out;
    }
    for s in &day.slots {
        let (start, end) = (
            i64::from(s.range.start.minutes()),
            i64::from(s.range.end.minutes()),
        );
        let bookings = booked
            .iter()
            .filter(|v| {
                v.r.room_id == room.id
                    && v.r.use_date == date
                    && v.r.start_min < end
                    && v.r.end_min > start
            })
            .map(|v| DeskBooking {
                id: v.r.id,
                who: v.r.applicant_name.clone(),
                people: v.r.people,
                what: format!(
                    "{} {}",
                    v.combination_name,
                    time_label(v.r.start_min, v.r.end_min)
                ),
            })
            .collect();
        let free = if matches!(s.state, SlotState::Open) {
            combos
                .iter()
                .filter(|c| {
                    !cells(&s.range)
                        .any(|cell| c.unit_ids.iter().any(|u| held.contains(&(date, *u, cell))))
                })
                .map(|c| {
                    (
                        c.name.clone(),
                        format!(
                            "/admin/reservations/new?combination={}&date={date}&slot={}",
                            c.id,
                            slot_key(&s.range)
                        ),
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        out.slots.push(DeskSlot {
            label: s.label.clone(),
            time: s.range.to_string(),
            blocked: match &s.state {
                SlotState::Blocked { reason } => reason.clone(),
                SlotState::Open => String::new(),
            },
            bookings,
            free,
        });
    }
    out
}

/// A room's desk days from `from` to `to`, from one read of its calendar,
/// combinations and held cells.
async fn desk_days(
    state: &AppState,
    room: &facilities::Room,
    from: NaiveDate,
    to: NaiveDate,
    booked: &[ReservationView],
) -> Result<Vec<DeskDay>, AppError> {
    let db = state.db();
    let combos = catalogue::combinations(db, room.id).await?;
    let held: BTreeSet<(NaiveDate, i64, i64)> = reservations::held_cells(db, room.id, from, to)
        .await?
        .into_iter()
        .collect();
    Ok(calendar_days(db, room.id, from, to)
        .await?
        .iter()
        .map(|d| desk_day(room, d, &combos, &held, booked))
        .collect())
}

pub async fn desk(
    State(state): State<AppState>,
    me: CurrentStaff,
    Query(q): Query<DeskQuery>,
) -> Result<Response, AppError> {
    let db = state.db();
    let date = parse_date(q.date.as_deref()).unwrap_or_else(today);
    let in_scope = facilities_in_scope(&state, &me).await?;
    if let Some(f) = q.facility {
        me.require_facility(&state, f).await?;
    }
    let week_view = q.view.as_deref() == Some("week");
    // The week view is one facility at a time (a week of every facility
    // would be a very long page); it starts with the first in scope.
    let facility = q
        .facility
        .or_else(|| week_view.then(|| in_scope.first().map(|f| f.id)).flatten())
        .unwrap_or(0);
    let shown: Vec<&Facility> = in_scope
        .iter()
        .filter(|f| facility == 0 || f.id == facility)
        .collect();
    let choices = in_scope.iter().map(|f| (f.id, f.name.clone())).collect();
    let fq = if facility == 0 {
        String::new()
    } else {
        format!("&facility={facility}")
    };
    if week_view {
        let start = date - Duration::days(i64::from(date.weekday().num_days_from_sunday()));
        let end = start + Duration::days(6);
        let mut week = Vec::new();
        for f in &shown {
            let rooms = facilities::rooms(db, f.id).await?;
            let ids: Vec<i64> = rooms.iter().map(|r| r.id).collect();
            let booked = reservations::for_rooms(db, &ids, start, end).await?;
            for room in &rooms {
                week.push(WeekRoom {
                    name: room.name.clone(),
                    private: room.visibility() == facilities::Visibility::Private,
                    days: desk_days(&state, room, start, end, &booked).await?,
                });
            }
        }
        let week_days = (0..7)
            .map(|i| {
                let d = start + Duration::days(i);
                (
                    d.to_string(),
                    format!("{}/{}({})", d.month(), d.day(), weekday_jp(d)),
                )
            })
            .collect();
        let title = match shown.first() {
            Some(f) => format!("受付カレンダー（週）{}", f.name),
            None => "受付カレンダー（週）".to_owned(),
        };
        let layout = me.page(&state, &title, None).await?;
        return render(&DeskPage {
            layout,
            week_view,
            date: date.to_string(),
            heading: format!("{} 〜 {}", format_date(start), format_date(end)),
            prev: format!("?view=week&date={}{fq}", start - Duration::days(7)),
            next: format!("?view=week&date={}{fq}", start + Duration::days(7)),
            facility,
            choices,
            day: Vec::new(),
            week_days,
            week,
        });
    }
    let mut day = Vec::new();
    for f in &shown {
        let rooms = facilities::rooms(db, f.id).await?;
        let ids: Vec<i64> = rooms.iter().map(|r| r.id).collect();
        let booked = reservations::for_rooms(db, &ids, date, date).await?;
        let mut out = Vec::new();
        for room in &rooms {
            let days = desk_days(&state, room, date, date, &booked).await?;
            out.push(DeskRoom {
                name: room.name.clone(),
                private: room.visibility() == facilities::Visibility::Private,
                day: days.into_iter().next().unwrap_or(DeskDay {
                    date: date.to_string(),
                    closed: String::new(),
                    slots: Vec::new(),
                }),
            });
        }
        day.push(DeskFacility {
            id: f.id,
            name: f.name.clone(),
            rooms: out,
        });
    }
    let layout = me.page(&state, "受付カレンダー", None).await?;
    render(&DeskPage {
        layout,
        week_view,
        date: date.to_string(),
        heading: format_date(date),
        prev: format!("?date={}{fq}", date - Duration::days(1)),
        next: format!("?date={}{fq}", date + Duration::days(1)),
        facility,
        choices,
        day,
        week_days: Vec::new(),
        week: Vec::new(),
    })
}

// ---- counter bookings (A23) -----------------------------------------------------

/// The counter form's applicant part, as typed.
#[derive(Default, Clone)]
pub struct ApplicantForm {
    pub kind: String,
    pub resident: String,
    pub name: String,
    pub phone: String,
    pub category: String,
    pub reduction: String,
    pub override_rules: bool,
    pub override_reason: String,
    pub payment: String,
    pub receipt: String,
}

impl ApplicantForm {
    fn from_form(form: &FormData) -> Self {
        Self {
            kind: if form.get("applicant_kind") == "resident" {
                "resident".into()
            } else {
                "walkin".into()
            },
            resident: form.get("resident").trim().to_owned(),
            name: form.get("walkin_name").trim().to_owned(),
            phone: form.get("walkin_phone").trim().to_owned(),
            category: form.get("walkin_category").trim().to_owned(),
            reduction: form.get("reduction").trim().to_owned(),
            override_rules: form.get("override") == "yes",
            override_reason: form.get("override_reason").trim().to_owned(),
            payment: form.get("payment_status").trim().to_owned(),
            receipt: form.get("receipt_no").trim().to_owned(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/counter_form.html")]
struct CounterPage {
    layout: Layout,
    errors: FieldErrors,
    form: BookingForm,
    who: ApplicantForm,
    facility_name: String,
    room_name: String,
    combination_name: String,
    day: String,
    closed: String,
    slots: Vec<SlotChoice>,
    purposes: Vec<String>,
    equipment: Vec<EquipmentChoice>,
    categories: Vec<UserCategory>,
    reductions: Vec<ReductionRow>,
    may_override: bool,
    quote: Vec<QuoteItem>,
    total: String,
}

#[derive(Deserialize)]
pub struct NewQuery {
    combination: i64,
    date: String,
    slot: Option<String>,
}

async fn counter_page(
    state: &AppState,
    me: &CurrentStaff,
    form: BookingForm,
    who: ApplicantForm,
    errors: FieldErrors,
    quote: Option<(Vec<QuoteItem>, i64)>,
) -> Result<Response, AppError> {
    let db = state.db();
    let date = form.date().ok_or(AppError::NotFound)?;
    let categories = catalogue::categories(db).await?;
    let category = who
        .category
        .parse()
        .ok()
        .or_else(|| categories.first().map(|c| c.id))
        .unwrap_or(0);
    let place = booking::place(db, form.combination, date, category)
        .await?
        .ok_or(AppError::NotFound)?;
    me.require_facility(state, place.facility.id).await?;
    let slots = slot_choices(db, &place, None).await?;
    let layout = me.page(state, "窓口での予約", None).await?;
    let (quote, total) = match quote {
        Some((items, total)) => (items, format_yen(total)),
        None => (Vec::new(), String::new()),
    };
    render(&CounterPage {
        layout,
        errors,
        facility_name: place.facility.name.clone(),
        room_name: place.room.name.clone(),
        combination_name: place.combination.name.clone(),
        day: format_date(date),
        closed: match &place.day.status {
            DayStatus::Open => String::new(),
            DayStatus::Closed { reason } => reason.clone(),
        },
        slots,
        purposes: place.purposes.clone(),
        equipment: equipment_choices(&place, &form),
        categories,
        reductions: catalogue::reductions(db).await?,
        may_override: me.staff.may(Permission::BookingOverride),
        quote,
        total,
        form,
        who,
    })
}

pub async fn new_form(
    State(state): State<AppState>,
    me: CurrentStaff,
    Query(q): Query<NewQuery>,
) -> Result<Response, AppError> {
    let form = BookingForm {
        combination: q.combination,
        date: q.date,
        slots: q.slot.into_iter().collect(),
        ..BookingForm::default()
    };
    counter_page(
        &state,
        &me,
        form,
        ApplicantForm::default(),
        FieldErrors::new(),
        None,
    )
    .await
}

/// Who the counter booking is for; errors at the applicant fields.
async fn applicant(
    state: &AppState,
    who: &ApplicantForm,
    errors: &mut FieldErrors,
) -> Result<Option<(Applicant, Option<String>)>, AppError> {
    let db = state.db();
    if who.kind == "resident" {
        let found = if let Ok(id) = who.resident.parse::<i64>() {
            residents::get(db, id).await?
        } else if who.resident.contains('@') {
            residents::find_by_email(db, &who.resident.to_lowercase()).await?
        } else {
            errors.add("resident", "利用者番号かメールアドレスを入力してください。");
            return Ok(None);
        };
        let Some(r) = found.filter(|r| r.status == "active") else {
            errors.add(
                "resident",
                "その利用者は見つからないか、利用停止中です。番号を確かめてください。",
            );
            return Ok(None);
        };
        return Ok(Some((
            Applicant {
                resident_id: Some(r.id),
                name: r.name.clone(),
                phone: r.phone.clone(),
                category_id: r.category_id,
            },
            r.email.clone(),
        )));
    }
    if who.name.is_empty() {
        errors.add("walkin_name", "申込者の氏名を入力してください。");
    } else if who.name.chars().count() > 50 {
        errors.add("walkin_name", "氏名は50文字以内で入力してください。");
    }
    let phone_ok = !who.phone.is_empty()
        && who.phone.len() <= 20
        && who.phone.chars().all(|c| c.is_ascii_digit() || c == '-');
    if !phone_ok {
        errors.add(
            "walkin_phone",
            "電話番号を半角数字とハイフンで入力してください（例: 0985-75-3111）。",
        );
    }
    let categories = catalogue::categories(db).await?;
    let Some(category) = who
        .category
        .parse::<i64>()
        .ok()
        .filter(|c| categories.iter().any(|x| x.id == *c))
    else {
        errors.add("walkin_category", "利用者区分を選んでください。");
        return Ok(None);
    };
    if !errors.is_empty() {
        return Ok(None);
    }
    Ok(Some((
        Applicant {
            resident_id: None,
            name: who.name.clone(),
            phone: who.phone.clone(),
            category_id: category,
        },
        None,
    )))
}

/// POST /admin/reservations/new: "料金を計算" shows the quote; "予約を登録" books.
pub async fn create(
    State(state): State<AppState>,
    me: CurrentStaff,
    data: FormData,
) -> Result<Response, AppError> {
    let db = state.db();
    let form = BookingForm::from_form(&data);
    let who = ApplicantForm::from_form(&data);
    let book = data.get("action") == "book";
    let mut errors = FieldErrors::new();
    let Some(combination) = catalogue::combination(db, form.combination).await? else {
        return Err(AppError::NotFound);
    };
    let room = facilities::room(db, combination.room_id)
        .await?
        .ok_or(AppError::NotFound)?;
    me.require_facility(&state, room.facility_id).await?;
    if who.override_rules && !me.staff.may(Permission::BookingOverride) {
        let entry = me.entry(
            "access.denied",
            format!("facility:{}", room.facility_id),
            "受付ルールの例外を使う権限がありません".into(),
        );
        audit::record(db, &entry).await?;
        return Err(AppError::Forbidden);
    }
    if who.override_rules && who.override_reason.is_empty() {
        errors.add(
            "override_reason",
            "例外として受け付ける理由を入力してください。",
        );
    }
    let payment = match who.payment.as_str() {
        "" | "unpaid" => "unpaid",
        "paid" => "paid",
        "exempt" => "exempt",
        _ => {
            errors.add("payment_status", "支払状況を選んでください。");
            "unpaid"
        }
    };
    if who.receipt.chars().count() > 30 {
        errors.add("receipt_no", "領収書番号は30文字以内で入力してください。");
    }
    let found = applicant(&state, &who, &mut errors).await?;
    let Some((applicant, email)) = found else {
        return counter_page(&state, &me, form, who, errors, None).await;
    };
    let Some(mut input) = form.input(applicant, &mut errors) else {
        return Err(AppError::NotFound);
    };
    input.counter = Some(Counter {
        staff_id: me.staff.id,
        override_rules: who.override_rules,
    });
    input.reduction_id = who.reduction.parse().ok();
    let prepared = match booking::prepare(db, &input, today()).await? {
        Ok(p) => p,
        Err(Refusal::NotFound) => return Err(AppError::NotFound),
        // Only residents are bound to public rooms; kept for completeness.
        Err(Refusal::CounterOnly(why)) => {
            errors.add("slots", why);
            return counter_page(&state, &me, form, who, errors, None).await;
        }
        Err(Refusal::Invalid(found)) => {
            for (field, message) in found.iter() {
                if errors.get(field).is_none() {
                    errors.add(field, message);
                }
            }
            return counter_page(&state, &me, form, who, errors, None).await;
        }
    };
    let quote = Some((prepared.quote.items.clone(), prepared.quote.total));
    if !errors.is_empty() || !book {
        return counter_page(&state, &me, form, who, errors, quote).await;
    }
    let town = hiroba_store::settings::load(db).await?;
    let mut tx = db.begin().await?;
    let (id, reference) = match reservations::create(&mut tx, &prepared.reservation).await {
        Ok(v) => v,
        Err(BookingError::Store(e)) => return Err(e.into()),
        Err(e) => {
            drop(tx);
            errors.add("slots", e.message());
            return counter_page(&state, &me, form, who, errors, quote).await;
        }
    };
    let r = &prepared.reservation;
    reservations::update_by_staff(
        &mut tx,
        id,
        &r.applicant_name,
        &r.applicant_phone,
        payment,
        &who.receipt,
    )
    .await?;
    if let Some(to) = email {
        hiroba_store::outbox::enqueue(
            &mut tx,
            &hiroba_store::outbox::Mail {
                to,
                subject: format!("【{}】窓口で施設の予約を受け付けました（{reference}）", town.town_name),
                body: format!(
                    "{} 様\n\n窓口で次の予約を受け付けました。\n\n予約番号: {reference}\n施設: {} {}（{}）\n利用日: {}\n時間: {}\n使用料: {}\n\n{}\n",
                    r.applicant_name,
                    prepared.place.facility.name,
                    prepared.place.room.name,
                    prepared.place.combination.name,
                    format_date(r.date),
                    booked_time(r),
                    format_yen(prepared.quote.total),
                    town.town_contact
                ),
            },
        )
        .await?;
    }
    let mut summary = format!(
        "窓口予約 {reference} {} {}（{}） {} {}{}",
        prepared.place.facility.name,
        prepared.place.room.name,
        prepared.place.combination.name,
        r.date,
        booked_time(r),
        if r.resident_id.is_some() {
            " 登録利用者"
        } else {
            " 来庁者"
        }
    );
    if who.override_rules {
        summary.push_str(&format!(" 例外受付: {}", who.override_reason));
    }
    me.commit_logged(
        tx,
        "reservation.create",
        format!("reservation:{id}"),
        summary,
    )
    .await?;
    state.views().room_changed(r.room_id);
    Ok(Redirect::to(&format!("/admin/reservations/{id}?done=created")).into_response())
}

// ---- manage reservations (A22) --------------------------------------------------

pub struct Row {
    pub id: i64,
    pub reference: String,
    pub day: String,
    pub time: String,
    pub place: String,
    pub applicant: String,
    pub people: i64,
    pub fee: String,
    pub status: &'static str,
    pub payment: &'static str,
}

fn row(v: &ReservationView) -> Row {
    Row {
        id: v.r.id,
        reference: v.r.reference.clone(),
        day: format_date(v.r.use_date),
        time: time_label(v.r.start_min, v.r.end_min),
        place: format!(
            "{} {}（{}）",
            v.facility_name, v.room_name, v.combination_name
        ),
        applicant: v.r.applicant_name.clone(),
        people: v.r.people,
        fee: format_yen(v.r.fee_total),
        status: if v.r.status == "cancelled" {
            "取消"
        } else {
            "予約"
        },
        payment: reservations::payment_label(&v.r.payment_status),
    }
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    q: Option<String>,
    facility: Option<String>,
    from: Option<String>,
    to: Option<String>,
    status: Option<String>,
    payment: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/reservations.html")]
struct ListPage {
    layout: Layout,
    q: String,
    facility: i64,
    from: String,
    to: String,
    status: String,
    payment: String,
    choices: Vec<(i64, String)>,
    rows: Vec<Row>,
}

pub async fn list(
    State(state): State<AppState>,
    me: CurrentStaff,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let facility = q.facility.as_deref().and_then(|f| f.parse().ok());
    if let Some(f) = facility {
        me.require_facility(&state, f).await?;
    }
    let from = parse_date(q.from.as_deref())
        .or_else(|| (q.q.as_deref().unwrap_or("").is_empty()).then(today));
    let to = parse_date(q.to.as_deref());
    let pick = |v: &Option<String>, allowed: &[&str]| {
        v.as_deref()
            .filter(|s| allowed.contains(s))
            .map(str::to_owned)
    };
    let status = pick(&q.status, &["confirmed", "cancelled"]);
    let payment = pick(&q.payment, &["unpaid", "paid", "exempt"]);
    let views = reservations::search(
        state.db(),
        &Search {
            text: q.q.clone().unwrap_or_default(),
            facility_ids: scope_ids(&me),
            facility_id: facility,
            from,
            to,
            status: status.clone(),
            payment_status: payment.clone(),
            limit: 300,
        },
    )
    .await?;
    render(&ListPage {
        layout: me.page(&state, "予約の管理", None).await?,
        q: q.q.unwrap_or_default(),
        facility: facility.unwrap_or(0),
        from: from.map(|d| d.to_string()).unwrap_or_default(),
        to: to.map(|d| d.to_string()).unwrap_or_default(),
        status: status.unwrap_or_default(),
        payment: payment.unwrap_or_default(),
        choices: facilities_in_scope(&state, &me)
            .await?
            .into_iter()
            .map(|f| (f.id, f.name))
            .collect(),
        rows: views.iter().map(row).collect(),
    })
}

#[derive(Template)]
#[template(path = "admin/reservation.html")]
struct DetailPage {
    layout: Layout,
    errors: FieldErrors,
    v: Row,
    r: reservations::Reservation,
    category: String,
    equipment: Vec<String>,
    resident_link: String,
    applicant: String,
    phone: String,
    payment_code: String,
    receipt: String,
    people: String,
    cancel_reason: String,
}

async fn load(state: &AppState, me: &CurrentStaff, id: i64) -> Result<ReservationView, AppError> {
    let v = reservations::view(state.db(), id)
        .await?
        .ok_or(AppError::NotFound)?;
    me.require_facility(state, v.r.facility_id).await?;
    Ok(v)
}

async fn detail_page(
    state: &AppState,
    me: &CurrentStaff,
    v: &ReservationView,
    errors: FieldErrors,
    input: Option<&FormData>,
    notice: Option<String>,
) -> Result<Response, AppError> {
    let get = |name: &str, fallback: String| match input {
        Some(f) => f.get(name).to_owned(),
        None => fallback,
    };
    render(&DetailPage {
        layout: me
            .page(state, &format!("予約 {}", v.r.reference), notice)
            .await?,
        errors,
        category: v.category_name.clone(),
        equipment: reservations::equipment_of(state.db(), v.r.id)
            .await?
            .into_iter()
            .map(|(n, q, u, fee)| format!("{n} {q}{u}（{}）", format_yen(fee)))
            .collect(),
        resident_link: v
            .r
            .resident_id
            .map(|id| format!("/admin/residents/{id}"))
            .unwrap_or_default(),
        applicant: get("applicant_name", v.r.applicant_name.clone()),
        phone: get("applicant_phone", v.r.applicant_phone.clone()),
        payment_code: get("payment_status", v.r.payment_status.clone()),
        receipt: get("receipt_no", v.r.receipt_no.clone()),
        people: get("people", v.r.people.to_string()),
        cancel_reason: input
            .map(|f| f.get("reason").to_owned())
            .unwrap_or_default(),
        v: row(v),
        r: v.r.clone(),
    })
}

pub async fn detail(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    Query(q): Query<super::DoneQuery>,
) -> Result<Response, AppError> {
    let v = load(&state, &me, id).await?;
    let notice = match q.done.as_deref() {
        Some("created") => Some(format!(
            "予約を登録しました。予約番号は {} です。",
            v.r.reference
        )),
        Some("updated") => Some("変更を保存しました。".to_owned()),
        Some("changed") => Some(format!(
            "予約の内容を変更しました（予約番号 {} は変わりません）。",
            v.r.reference
        )),
        Some("changed_fee") => Some(format!(
            "予約の内容を変更しました（予約番号 {} は変わりません）。使用料が変わったため、納付済みの額との差額の精算と支払状況を確認してください。",
            v.r.reference
        )),
        Some("cancelled") => Some("予約を取り消しました。".to_owned()),
        _ => None,
    };
    detail_page(&state, &me, &v, FieldErrors::new(), None, notice).await
}

/// A22: applicant name and phone, people, payment status and receipt number.
pub async fn update(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    form: FormData,
) -> Result<Response, AppError> {
    let v = load(&state, &me, id).await?;
    let mut errors = FieldErrors::new();
    let name = form.get("applicant_name").trim();
    if name.is_empty() || name.chars().count() > 50 {
        errors.add(
            "applicant_name",
            "申込者の氏名を50文字以内で入力してください。",
        );
    }
    let phone = form.get("applicant_phone").trim();
    if phone.len() > 20 || !phone.chars().all(|c| c.is_ascii_digit() || c == '-') {
        errors.add(
            "applicant_phone",
            "電話番号を半角数字とハイフンで入力してください。",
        );
    }
    let payment = form.get("payment_status");
    if !["unpaid", "paid", "exempt"].contains(&payment) {
        errors.add("payment_status", "支払状況を選んでください。");
    }
    let receipt = form.get("receipt_no").trim();
    if receipt.chars().count() > 30 {
        errors.add("receipt_no", "領収書番号は30文字以内で入力してください。");
    }
    if payment == "paid" && receipt.is_empty() {
        errors.add(
            "receipt_no",
            "納付済にするときは領収書番号を入力してください。",
        );
    }
    let capacity = facilities::room(state.db(), v.r.room_id)
        .await?
        .and_then(|r| r.capacity);
    let people = match form.get("people").trim().parse::<i64>() {
        Ok(n) if n >= 1 && capacity.is_none_or(|c| n <= c) => n,
        Ok(n) if n >= 1 => {
            errors.add(
                "people",
                format!(
                    "利用人数は定員（{}人）以内にしてください。",
                    capacity.unwrap_or(0)
                ),
            );
            0
        }
        _ => {
            errors.add("people", "利用人数を1以上の半角数字で入力してください。");
            0
        }
    };
    if !errors.is_empty() {
        return detail_page(&state, &me, &v, errors, Some(&form), None).await;
    }
    let mut tx = state.db().begin().await?;
    reservations::update_by_staff(&mut tx, id, name, phone, payment, receipt).await?;
    if v.r.status == "confirmed" {
        reservations::update_details(&mut tx, id, people, &v.r.purpose, &v.r.activity).await?;
    }
    me.commit_logged(
        tx,
        "reservation.update",
        format!("reservation:{id}"),
        format!(
            "予約 {} を変更（支払: {}{}、人数 {}人）",
            v.r.reference,
            reservations::payment_label(payment),
            if receipt.is_empty() {
                String::new()
            } else {
                format!("、領収書 {receipt}")
            },
            people
        ),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/reservations/{id}?done=updated")).into_response())
}

// ---- changing a reservation at the desk (A22) -----------------------------------

#[derive(Template)]
#[template(path = "admin/reservation_change.html")]
struct ChangePage {
    layout: Layout,
    errors: FieldErrors,
    v: Row,
    form: BookingForm,
    extra: ChangeExtras,
    combinations: Vec<(i64, String)>,
    day: String,
    closed: String,
    slots: Vec<SlotChoice>,
    purposes: Vec<String>,
    equipment: Vec<EquipmentChoice>,
    reductions: Vec<ReductionRow>,
    may_override: bool,
    /// Before → after, once the change was checked and priced.
    rows: Vec<ChangeRow>,
    quote: Vec<QuoteItem>,
    total: String,
    mails_resident: bool,
}

/// The desk's part of the change form besides the booking fields, as typed.
#[derive(Default, Clone)]
pub struct ChangeExtras {
    pub reduction: String,
    pub override_rules: bool,
    pub override_reason: String,
}

impl ChangeExtras {
    fn from_form(form: &FormData) -> Self {
        Self {
            reduction: form.get("reduction").trim().to_owned(),
            override_rules: form.get("override") == "yes",
            override_reason: form.get("override_reason").trim().to_owned(),
        }
    }
}

/// A checked and priced change, for the preview.
type Preview = (Vec<ChangeRow>, Vec<QuoteItem>, i64);

#[allow(clippy::too_many_arguments)]
async fn change_page(
    state: &AppState,
    me: &CurrentStaff,
    v: &ReservationView,
    mut form: BookingForm,
    extra: ChangeExtras,
    mut errors: FieldErrors,
    preview: Option<Preview>,
) -> Result<Response, AppError> {
    let db = state.db();
    let place = change_place(db, v, &mut form, &mut errors).await?;
    let (rows, quote, total) = match preview {
        Some((rows, items, total)) => (rows, items, format_yen(total)),
        None => (Vec::new(), Vec::new(), String::new()),
    };
    let layout = me
        .page(state, &format!("予約 {} の変更", v.r.reference), None)
        .await?;
    render(&ChangePage {
        layout,
        errors,
        v: row(v),
        combinations: room_combinations(db, v).await?,
        day: format_date(place.day.date),
        closed: match &place.day.status {
            DayStatus::Open => String::new(),
            DayStatus::Closed { reason } => reason.clone(),
        },
        slots: slot_choices(db, &place, Some(v.r.id)).await?,
        purposes: place.purposes.clone(),
        equipment: equipment_choices(&place, &form),
        reductions: catalogue::reductions(db).await?,
        may_override: me.staff.may(Permission::BookingOverride),
        rows,
        quote,
        total,
        mails_resident: v.r.resident_id.is_some(),
        form,
        extra,
    })
}

/// GET /admin/reservations/{id}/change: the reservation's day, time, unit or
/// full court, equipment, purpose, activity and people, ready to change.
pub async fn change_form(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let v = load(&state, &me, id).await?;
    if v.r.status != "confirmed" {
        return Ok(Redirect::to(&format!("/admin/reservations/{id}")).into_response());
    }
    let form = form_of(state.db(), &v).await?;
    let extra = ChangeExtras {
        reduction: v.r.reduction_id.map(|r| r.to_string()).unwrap_or_default(),
        ..ChangeExtras::default()
    };
    change_page(&state, &me, &v, form, extra, FieldErrors::new(), None).await
}

/// POST /admin/reservations/{id}/change: "show" redraws the form for another
/// day or combination, "quote" checks and prices the change, "save" stores
/// it. The same checks as a counter booking (with the logged override for
/// staff allowed it), one transaction that rewrites the held cells and
/// equipment (a taken slot changes nothing), the same reference number, the
/// before/after in the operation log and a mail to the resident.
pub async fn change(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    data: FormData,
) -> Result<Response, AppError> {
    let db = state.db();
    let v = load(&state, &me, id).await?;
    if v.r.status != "confirmed" {
        let mut errors = FieldErrors::new();
        errors.add("reason", "取り消された予約は変更できません。");
        return detail_page(&state, &me, &v, errors, None, None).await;
    }
    let mut form = BookingForm::from_form(&data);
    let extra = ChangeExtras::from_form(&data);
    let action = data.get("action");
    if extra.override_rules && !me.staff.may(Permission::BookingOverride) {
        let entry = me.entry(
            "access.denied",
            format!("facility:{}", v.r.facility_id),
            "受付ルールの例外を使う権限がありません".into(),
        );
        audit::record(db, &entry).await?;
        return Err(AppError::Forbidden);
    }
    if action == "show" {
        return change_page(&state, &me, &v, form, extra, FieldErrors::new(), None).await;
    }
    let mut errors = FieldErrors::new();
    if extra.override_rules && extra.override_reason.is_empty() {
        errors.add(
            "override_reason",
            "例外として受け付ける理由を入力してください。",
        );
    }
    // The day and combination must be of this reservation's room.
    change_place(db, &v, &mut form, &mut errors).await?;
    let Some(mut input) = form.input(applicant_of(&v), &mut errors) else {
        return Err(AppError::NotFound);
    };
    input.replacing = Some(id);
    input.counter = Some(Counter {
        staff_id: me.staff.id,
        override_rules: extra.override_rules,
    });
    input.reduction_id = extra.reduction.parse().ok();
    let prepared = match booking::prepare(db, &input, today()).await? {
        Ok(p) => p,
        Err(Refusal::NotFound) => return Err(AppError::NotFound),
        Err(Refusal::CounterOnly(why)) => {
            errors.add("slots", why);
            return change_page(&state, &me, &v, form, extra, errors, None).await;
        }
        Err(Refusal::Invalid(found)) => {
            for (field, message) in found.iter() {
                if errors.get(field).is_none() {
                    errors.add(field, message);
                }
            }
            return change_page(&state, &me, &v, form, extra, errors, None).await;
        }
    };
    let rows = change_rows(db, &v, &prepared).await?;
    if !errors.is_empty() || action != "save" {
        let preview = (rows, prepared.quote.items.clone(), prepared.quote.total);
        return change_page(&state, &me, &v, form, extra, errors, Some(preview)).await;
    }
    let email = match v.r.resident_id {
        Some(rid) => residents::get(db, rid).await?.and_then(|r| r.email),
        None => None,
    };
    let town = hiroba_store::settings::load(db).await?;
    let mail = email.map(|to| Mail {
        to,
        ..change_mail(&state, &town, &v, &prepared, &rows, true)
    });
    let mut tx = db.begin().await?;
    if let Err(e) = store_change(&mut tx, id, &prepared.reservation, mail).await? {
        drop(tx);
        let field = match &e {
            BookingError::EquipmentShort { .. } => "equipment",
            _ => "slots",
        };
        errors.add(field, e.message());
        let preview = (rows, prepared.quote.items.clone(), prepared.quote.total);
        return change_page(&state, &me, &v, form, extra, errors, Some(preview)).await;
    }
    let mut summary = format!("予約 {} を変更: {}", v.r.reference, changes_text(&rows));
    if extra.override_rules {
        summary.push_str(&format!(" 例外受付: {}", extra.override_reason));
    }
    me.commit_logged(
        tx,
        "reservation.change",
        format!("reservation:{id}"),
        summary,
    )
    .await?;
    state.views().room_changed(v.r.room_id);
    // A paid reservation whose fee changed needs the difference settled.
    let done = if v.r.payment_status == "paid" && v.r.fee_total != prepared.quote.total {
        "changed_fee"
    } else {
        "changed"
    };
    Ok(Redirect::to(&format!("/admin/reservations/{id}?done={done}")).into_response())
}

/// A22: cancel with a reason; frees the slot at once; the resident gets a mail.
pub async fn cancel(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    form: FormData,
) -> Result<Response, AppError> {
    let v = load(&state, &me, id).await?;
    let reason = form.get("reason").trim();
    let mut errors = FieldErrors::new();
    if v.r.status != "confirmed" {
        errors.add("reason", "この予約はすでに取り消されています。");
    } else if reason.is_empty() {
        errors.add(
            "reason",
            "取消の理由を入力してください（例: 利用者からの電話連絡）。",
        );
    } else if reason.chars().count() > 200 {
        errors.add("reason", "理由は200文字以内で入力してください。");
    }
    if !errors.is_empty() {
        return detail_page(&state, &me, &v, errors, Some(&form), None).await;
    }
    let db = state.db();
    let email = match v.r.resident_id {
        Some(rid) => residents::get(db, rid).await?.and_then(|r| r.email),
        None => None,
    };
    let town = hiroba_store::settings::load(db).await?;
    let mut tx = db.begin().await?;
    reservations::cancel(&mut tx, id, reason).await?;
    if let Some(to) = email {
        hiroba_store::outbox::enqueue(
            &mut tx,
            &hiroba_store::outbox::Mail {
                to,
                subject: format!("【{}】予約が取り消されました（{}）", town.town_name, v.r.reference),
                body: format!(
                    "{} 様\n\n次の予約を施設で取り消しました。\n\n予約番号: {}\n施設: {} {}（{}）\n利用日: {}\n時間: {}\n理由: {reason}\n\nご不明な点は {}（電話 {}）にお問い合わせください。\n\n{}\n",
                    v.r.applicant_name,
                    v.r.reference,
                    v.facility_name,
                    v.room_name,
                    v.combination_name,
                    format_date(v.r.use_date),
                    time_label(v.r.start_min, v.r.end_min),
                    v.facility_name,
                    v.facility_phone,
                    town.town_contact
                ),
            },
        )
        .await?;
    }
    me.commit_logged(
        tx,
        "reservation.cancel",
        format!("reservation:{id}"),
        format!("予約 {} を取消（理由: {reason}）", v.r.reference),
    )
    .await?;
    state.views().room_changed(v.r.room_id);
    Ok(Redirect::to(&format!("/admin/reservations/{id}?done=cancelled")).into_response())
}
