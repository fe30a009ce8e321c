//! Residents' booking (U06-U10, A24): choose consecutive slots of a unit or the
//! full court, say what for and how many, add equipment, accept the terms, see
//! the itemised fee on a confirmation page, and get a reference number and a
//! mail. The checks and the price come from `hiroba_store::booking::prepare`,
//! the same path the staff counter uses; the database refuses a double booking.

use std::collections::BTreeSet;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;
use hiroba_domain::booking::cells;
use hiroba_domain::booking_rules::Deadline;
use hiroba_domain::calendar::{DayStatus, SlotState};
use hiroba_domain::datetime::{JST, format_date};
use hiroba_domain::fees::{QuoteItem, format_yen};
use hiroba_domain::time_of_day::{TimeOfDay, TimeRange, format_minutes};
use hiroba_domain::validation::FieldErrors;
use hiroba_store::booking::{self, Applicant, BookingInput, Place, Prepared, Refusal};
use hiroba_store::outbox::{self, Mail};
use hiroba_store::reservations::{self, BookingError, NewReservation, ReservationView};
use hiroba_store::residents::Resident;
use hiroba_store::{Db, settings};
use serde::Deserialize;

use crate::AppState;
use crate::admin::render;
use crate::csrf::resident_token;
use crate::error::AppError;
use crate::form::FormData;
use crate::resident::signed_in;
use crate::view::Layout;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/help", get(help))
        .route("/help/{name}", get(help_image))
        .route("/book", get(start))
        .route("/book/edit", post(edit))
        .route("/book/confirm", post(confirm))
        .route("/book/complete", post(complete))
        .route("/account/reservations", get(list))
        .route("/account/reservations/{id}", get(detail))
        .route(
            "/account/reservations/{id}/cancel",
            get(cancel_form).post(cancel),
        )
        .route(
            "/account/reservations/{id}/change",
            get(change_form).post(change),
        )
}

pub fn today() -> NaiveDate {
    chrono::Utc::now().with_timezone(&JST).date_naive()
}

/// "540-720" ⇄ 9:00〜12:00: how a slot travels in links and forms.
pub fn slot_key(range: &TimeRange) -> String {
    format!("{}-{}", range.start.minutes(), range.end.minutes())
}

pub fn parse_slot_key(key: &str) -> Option<TimeRange> {
    let (a, b) = key.split_once('-')?;
    let start = TimeOfDay::from_minutes(a.trim().parse().ok()?)?;
    let end = TimeOfDay::from_minutes(b.trim().parse().ok()?)?;
    TimeRange::new(start, end).ok()
}

/// "9:00〜12:00" for stored minutes.
pub fn time_label(start_min: i64, end_min: i64) -> String {
    let t = |m: i64| {
        u16::try_from(m)
            .ok()
            .and_then(TimeOfDay::from_minutes)
            .map(|t| t.to_string())
            .unwrap_or_default()
    };
    format!("{}〜{}", t(start_min), t(end_min))
}

/// "9:00〜12:00" of the consecutive slots a new reservation holds.
pub fn booked_time(r: &hiroba_store::reservations::NewReservation) -> String {
    let start = r.slots.first().map(|s| i64::from(s.start.minutes()));
    let end = r.slots.last().map(|s| i64::from(s.end.minutes()));
    time_label(start.unwrap_or(0), end.unwrap_or(0))
}

/// What the booking form carries, as typed.
#[derive(Debug, Clone, Default)]
pub struct BookingForm {
    pub combination: i64,
    pub date: String,
    pub slots: Vec<String>,
    pub purpose: String,
    pub activity: String,
    pub people: String,
    /// (equipment id, quantity as typed)
    pub equipment: Vec<(i64, String)>,
    pub terms: String,
}

impl BookingForm {
    pub fn from_form(form: &FormData) -> Self {
        let equipment = form
            .pairs()
            .iter()
            .filter_map(|(k, v)| {
                let id = k.strip_prefix("eq-")?.parse().ok()?;
                Some((id, v.trim().to_owned()))
            })
            .collect();
        Self {
            combination: form.get("combination").trim().parse().unwrap_or(0),
            date: form.get("date").trim().to_owned(),
            slots: form.all("slot").into_iter().map(str::to_owned).collect(),
            purpose: form.get("purpose").trim().to_owned(),
            activity: form.get("activity").trim().to_owned(),
            people: form.get("people").trim().to_owned(),
            equipment,
            terms: form.get("terms").trim().to_owned(),
        }
    }

    pub fn date(&self) -> Option<NaiveDate> {
        NaiveDate::parse_from_str(&self.date, "%Y-%m-%d").ok()
    }

    pub fn quantity(&self, id: i64) -> String {
        self.equipment
            .iter()
            .find(|(e, _)| *e == id)
            .map(|(_, q)| q.clone())
            .unwrap_or_default()
    }

    pub fn has_slot(&self, key: &str) -> bool {
        self.slots.iter().any(|s| s == key)
    }

    /// The request for `prepare`, with the typing errors it cannot express.
    pub fn input(&self, applicant: Applicant, errors: &mut FieldErrors) -> Option<BookingInput> {
        let date = self.date()?;
        let slots: Vec<TimeRange> = self
            .slots
            .iter()
            .filter_map(|k| parse_slot_key(k))
            .collect();
        let people = match self.people.parse::<i64>() {
            Ok(n) => n,
            Err(_) if self.people.is_empty() => {
                errors.add("people", "利用人数を入力してください。");
                0
            }
            Err(_) => {
                errors.add("people", "利用人数は半角数字で入力してください（例: 12）。");
                0
            }
        };
        let mut equipment = Vec::new();
        for (id, q) in &self.equipment {
            if q.is_empty() {
                continue;
            }
            match q.parse::<i64>() {
                Ok(n) => equipment.push((*id, n)),
                Err(_) => errors.add(
                    &format!("equipment-{id}"),
                    "数は半角数字で入力してください。",
                ),
            }
        }
        Some(BookingInput {
            combination_id: self.combination,
            date,
            slots,
            applicant,
            purpose: self.purpose.clone(),
            activity: self.activity.clone(),
            people,
            equipment,
            reduction_id: None,
            counter: None,
            accepted_terms: self.terms.parse().ok(),
            replacing: None,
        })
    }
}

/// One slot of the day on the booking form.
pub struct SlotChoice {
    pub key: String,
    pub label: String,
    pub time: String,
    pub free: bool,
    pub note: String,
}

/// The day's slots of a combination, with which are still free; the cells of
/// `except` (the reservation being changed) count as free.
pub async fn slot_choices(
    db: &Db,
    place: &Place,
    except: Option<i64>,
) -> Result<Vec<SlotChoice>, AppError> {
    let date = place.day.date;
    let mut held: BTreeSet<(i64, i64)> = reservations::held_cells(db, place.room.id, date, date)
        .await?
        .into_iter()
        .map(|(_, u, c)| (u, c))
        .collect();
    if let Some(id) = except {
        for (d, u, c) in reservations::cells_of(db, id).await? {
            if d == date {
                held.remove(&(u, c));
            }
        }
    }
    Ok(place
        .day
        .slots
        .iter()
        .map(|s| {
            let taken = cells(&s.range).any(|c| {
                place
                    .combination
                    .unit_ids
                    .iter()
                    .any(|u| held.contains(&(*u, c)))
            });
            let (free, note) = match &s.state {
                SlotState::Blocked { reason } => (false, reason.clone()),
                SlotState::Open if taken => (false, "予約済み".to_owned()),
                SlotState::Open => (true, String::new()),
            };
            SlotChoice {
                key: slot_key(&s.range),
                label: s.label.clone(),
                time: s.range.to_string(),
                free,
                note,
            }
        })
        .collect())
}

pub struct EquipmentChoice {
    pub id: i64,
    pub name: String,
    pub detail: String,
    pub stock: i64,
    pub quantity: String,
    pub with_room: bool,
}

pub fn equipment_choices(place: &Place, form: &BookingForm) -> Vec<EquipmentChoice> {
    place
        .equipment
        .iter()
        .map(|e| EquipmentChoice {
            id: e.id,
            name: e.name.clone(),
            detail: format!(
                "{}{} / {}{}",
                format_yen(e.fee),
                if e.per_hour {
                    "（1時間）"
                } else {
                    "（1回）"
                },
                e.stock,
                e.unit_label
            ),
            stock: e.stock,
            quantity: form.quantity(e.id),
            with_room: e.with_room,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "book/form.html")]
struct FormPage {
    layout: Layout,
    errors: FieldErrors,
    form: BookingForm,
    facility_name: String,
    room_name: String,
    combination_name: String,
    day: String,
    closed: String,
    slots: Vec<SlotChoice>,
    purposes: Vec<String>,
    activities: Vec<String>,
    activity_free_text: bool,
    equipment: Vec<EquipmentChoice>,
    terms_version: i64,
    terms_body: String,
    capacity: String,
    back: String,
}

#[derive(Template)]
#[template(path = "book/confirm.html")]
struct ConfirmPage {
    layout: Layout,
    form: BookingForm,
    facility_name: String,
    room_name: String,
    combination_name: String,
    day: String,
    time: String,
    applicant: String,
    people: i64,
    equipment: Vec<String>,
    items: Vec<QuoteItem>,
    total: i64,
    deadline: String,
}

async fn layout(state: &AppState, token: &str, title: &str) -> Result<Layout, AppError> {
    Ok(Layout {
        title: title.to_owned(),
        town_name: settings::load(state.db()).await?.town_name,
        csrf: resident_token(state, token),
        ..Layout::default()
    })
}

fn applicant(r: &Resident) -> Applicant {
    Applicant {
        resident_id: Some(r.id),
        name: if r.group_name.is_empty() {
            r.name.clone()
        } else {
            format!("{}（{}）", r.group_name, r.name)
        },
        phone: r.phone.clone(),
        category_id: r.category_id,
    }
}

/// Sends visitors to sign in first and back here afterwards.
fn login_first(back: &str) -> Response {
    let next: String = url_encode(back);
    Redirect::to(&format!("/account/login?next={next}")).into_response()
}

pub fn url_encode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|v| v.trim_start_matches('=').to_owned())
        .unwrap_or_default()
}

/// "変更: 利用日の3日前まで（…）／取消: 利用日の1日前まで（…）".
fn deadline_of(place: &Place) -> String {
    place.facility.deadlines().label()
}

async fn form_page(
    state: &AppState,
    token: &str,
    resident: &Resident,
    form: BookingForm,
    errors: FieldErrors,
) -> Result<Response, AppError> {
    let date = form.date().ok_or(AppError::NotFound)?;
    let place = booking::place(state.db(), form.combination, date, resident.category_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if place.room.visibility() != hiroba_store::facilities::Visibility::Public {
        // Availability-only and private rooms are booked at the counter.
        return Err(AppError::NotFound);
    }
    let slots = slot_choices(state.db(), &place, None).await?;
    let title = format!("{} {} の予約", place.facility.name, place.room.name);
    let mut layout = layout(state, token, &title).await?;
    if !errors.is_empty() {
        layout.title = format!("入力内容の確認が必要です: {title}");
    }
    render(&FormPage {
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
        activities: place.activities.clone(),
        activity_free_text: place.facility.activity_free_text || place.activities.is_empty(),
        equipment: equipment_choices(&place, &form),
        terms_version: place.terms.as_ref().map(|t| t.version).unwrap_or(0),
        terms_body: place
            .terms
            .as_ref()
            .map(|t| t.body.clone())
            .unwrap_or_default(),
        capacity: place
            .room
            .capacity
            .map(|c| format!("定員{c}人"))
            .unwrap_or_default(),
        back: format!(
            "/facilities/{}/rooms/{}?week={}&combination={}",
            place.facility.id, place.room.id, date, place.combination.id
        ),
        form,
    })
}

#[derive(Deserialize)]
pub struct StartQuery {
    combination: i64,
    date: String,
    slot: Option<String>,
}

/// GET /book?combination=&date=&slot=: the booking form, one slot ticked.
pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<StartQuery>,
) -> Result<Response, AppError> {
    let Some((resident, token)) = signed_in(&state, &headers).await? else {
        let mut back = format!("/book?combination={}&date={}", q.combination, q.date);
        if let Some(s) = &q.slot {
            back.push_str(&format!("&slot={s}"));
        }
        return Ok(login_first(&back));
    };
    let form = BookingForm {
        combination: q.combination,
        date: q.date,
        slots: q.slot.into_iter().collect(),
        people: String::new(),
        ..BookingForm::default()
    };
    form_page(&state, &token, &resident, form, FieldErrors::new()).await
}

/// POST /book/edit: back from the confirmation page with everything kept.
pub async fn edit(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: FormData,
) -> Result<Response, AppError> {
    let Some((resident, token)) = signed_in(&state, &headers).await? else {
        return Ok(login_first("/account/reservations"));
    };
    let form = BookingForm::from_form(&form);
    form_page(&state, &token, &resident, form, FieldErrors::new()).await
}

/// Checks and prices a submitted form: the prepared booking, or the form page with the errors.
async fn check(
    state: &AppState,
    token: &str,
    resident: &Resident,
    form: &BookingForm,
) -> Result<Result<Prepared, Response>, AppError> {
    let mut errors = FieldErrors::new();
    // A category that needs proof (町内在勤 ...) books only after staff confirm it.
    if !resident.category_verified {
        errors.add(
            "applicant",
            "利用者区分の確認が済んでいないため、まだ予約できません。確認できる書類をお持ちのうえ、施設の窓口でお手続きください。",
        );
    }
    let Some(input) = form.input(applicant(resident), &mut errors) else {
        return Err(AppError::NotFound);
    };
    match booking::prepare(state.db(), &input, today()).await? {
        Ok(prepared) if errors.is_empty() => Ok(Ok(prepared)),
        Ok(_) => Ok(Err(
            form_page(state, token, resident, form.clone(), errors).await?
        )),
        Err(Refusal::NotFound) => Err(AppError::NotFound),
        Err(Refusal::CounterOnly(why)) => Err(AppError::Refused(why)),
        Err(Refusal::Invalid(found)) => {
            for (field, message) in found.iter() {
                if errors.get(field).is_none() {
                    errors.add(field, message);
                }
            }
            Ok(Err(
                form_page(state, token, resident, form.clone(), errors).await?
            ))
        }
    }
}

fn confirm_page(layout: Layout, form: BookingForm, p: &Prepared) -> Result<Response, AppError> {
    let r = &p.reservation;
    render(&ConfirmPage {
        layout,
        form,
        facility_name: p.place.facility.name.clone(),
        room_name: p.place.room.name.clone(),
        combination_name: p.place.combination.name.clone(),
        day: format_date(r.date),
        time: format!(
            "{}（{}）",
            booked_time(r),
            format_minutes(r.slots.iter().map(TimeRange::minutes).sum())
        ),
        applicant: r.applicant_name.clone(),
        people: r.people,
        equipment: p
            .equipment_lines
            .iter()
            .map(|(n, q, u)| format!("{n} {q}{u}"))
            .collect(),
        items: p.quote.items.clone(),
        total: p.quote.total,
        deadline: deadline_of(&p.place),
    })
}

/// POST /book/confirm: the confirmation page with the itemised fee (U07, U08).
pub async fn confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: FormData,
) -> Result<Response, AppError> {
    let Some((resident, token)) = signed_in(&state, &headers).await? else {
        return Ok(login_first("/"));
    };
    let form = BookingForm::from_form(&form);
    let prepared = match check(&state, &token, &resident, &form).await? {
        Ok(p) => p,
        Err(page) => return Ok(page),
    };
    let layout = layout(&state, &token, "予約内容の確認").await?;
    confirm_page(layout, form, &prepared)
}

/// POST /book/complete: checks again (the page may be stale) and stores.
pub async fn complete(
    State(state): State<AppState>,
    headers: HeaderMap,
    data: FormData,
) -> Result<Response, AppError> {
    let Some((resident, token)) = signed_in(&state, &headers).await? else {
        return Ok(login_first("/"));
    };
    let form = BookingForm::from_form(&data);
    let prepared = match check(&state, &token, &resident, &form).await? {
        Ok(p) => p,
        Err(page) => return Ok(page),
    };
    // The fee shown is the fee charged: if a rule changed meanwhile, show it again.
    if data.get("total") != prepared.quote.total.to_string() {
        let mut layout = layout(&state, &token, "予約内容の確認").await?;
        layout.notice = Some(
            "料金が変わりました。新しい料金を確認してから、もう一度「予約する」を押してください。"
                .into(),
        );
        return confirm_page(layout, form, &prepared);
    }
    let db = state.db();
    // Read before the transaction: holding a connection while asking the
    // pool for another can starve the pool under a rush of bookings.
    let town = settings::load(db).await?;
    let mut tx = db.begin().await?;
    let stored = reservations::create(&mut tx, &prepared.reservation).await;
    let (id, reference) = match stored {
        Ok(v) => v,
        Err(BookingError::Store(e)) => return Err(e.into()),
        Err(e) => {
            drop(tx);
            let mut errors = FieldErrors::new();
            let field = match &e {
                BookingError::EquipmentShort { .. } => "equipment",
                _ => "slots",
            };
            errors.add(field, e.message());
            return form_page(&state, &token, &resident, form, errors).await;
        }
    };
    if let Some(to) = resident.email.clone() {
        let body = completion_mail(&state, &town, &prepared, &reference);
        outbox::enqueue(
            &mut tx,
            &Mail {
                to,
                subject: format!(
                    "【{}】施設の予約を受け付けました（{reference}）",
                    town.town_name
                ),
                body,
            },
        )
        .await?;
    }
    tx.commit().await?;
    state.views().room_changed(prepared.reservation.room_id);
    Ok(Redirect::to(&format!("/account/reservations/{id}?done=1")).into_response())
}

fn completion_mail(
    state: &AppState,
    town: &settings::SystemSettings,
    p: &Prepared,
    reference: &str,
) -> String {
    let r = &p.reservation;
    let time = booked_time(r);
    let mut fee = String::new();
    for item in &p.quote.items {
        fee.push_str(&format!(
            "  {} {} {}\n",
            item.label,
            item.detail,
            format_yen(item.amount)
        ));
    }
    let equipment = if p.equipment_lines.is_empty() {
        "なし".to_owned()
    } else {
        p.equipment_lines
            .iter()
            .map(|(n, q, u)| format!("{n} {q}{u}"))
            .collect::<Vec<_>>()
            .join("、")
    };
    let link = format!(
        "{}/account/reservations",
        state.config().public_url.trim_end_matches('/')
    );
    format!(
        "{} 様\n\n次の内容で施設の予約を受け付けました。\n\n予約番号: {reference}\n施設: {} {}（{}）\n利用日: {}\n時間: {time}\n利用目的: {}\n利用人数: {}人\n備品・附属設備: {equipment}\n\n使用料:\n{fee}  合計 {}\n\n{}\n予約の確認・変更・取消はこちら: {link}\n施設へのお問い合わせ: {} {}\n\n{}\n",
        r.applicant_name,
        p.place.facility.name,
        p.place.room.name,
        p.place.combination.name,
        format_date(r.date),
        r.purpose,
        r.people,
        format_yen(p.quote.total),
        deadline_of(&p.place),
        p.place.facility.name,
        p.place.facility.phone,
        town.town_contact,
    )
}

// ---- my reservations (U10) ---------------------------------------------------

pub struct Line {
    pub id: i64,
    pub reference: String,
    pub day: String,
    pub time: String,
    pub place: String,
    pub status: String,
    pub fee: String,
    pub cancelled: bool,
}

fn line(v: &ReservationView) -> Line {
    Line {
        id: v.r.id,
        reference: v.r.reference.clone(),
        day: format_date(v.r.use_date),
        time: time_label(v.r.start_min, v.r.end_min),
        place: format!(
            "{} {}（{}）",
            v.facility_name, v.room_name, v.combination_name
        ),
        status: if v.r.status == "cancelled" {
            "取消済み".into()
        } else {
            "予約済み".into()
        },
        fee: format_yen(v.r.fee_total),
        cancelled: v.r.status == "cancelled",
    }
}

#[derive(Template)]
#[template(path = "book/list.html")]
struct ListPage {
    layout: Layout,
    upcoming: Vec<Line>,
    past: Vec<Line>,
}

/// Upcoming reservations (soonest first) and the rest (newest first).
async fn list_page(
    state: &AppState,
    resident: &Resident,
    layout: Layout,
) -> Result<Response, AppError> {
    let today = today();
    let all = reservations::for_resident(state.db(), resident.id).await?;
    let (mut upcoming, past): (Vec<_>, Vec<_>) = all
        .iter()
        .partition(|v| v.r.use_date >= today && v.r.status == "confirmed");
    upcoming.reverse();
    render(&ListPage {
        layout,
        upcoming: upcoming.into_iter().map(line).collect(),
        past: past.into_iter().map(line).collect(),
    })
}

pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let Some((resident, token)) = signed_in(&state, &headers).await? else {
        return Ok(login_first("/account/reservations"));
    };
    let layout = layout(&state, &token, "予約の確認・取消").await?;
    list_page(&state, &resident, layout).await
}

/// A resident's own reservation, or 404 (never someone else's).
async fn own(state: &AppState, resident: &Resident, id: i64) -> Result<ReservationView, AppError> {
    reservations::view(state.db(), id)
        .await?
        .filter(|v| v.r.resident_id == Some(resident.id))
        .ok_or(AppError::NotFound)
}

/// What a resident does online to a reservation, each with its own deadline (A21).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Change,
    Cancel,
}

impl Act {
    fn verb(self) -> &'static str {
        match self {
            Act::Change => "変更",
            Act::Cancel => "取消",
        }
    }

    fn deadline(self, v: &ReservationView) -> Deadline {
        let d = v.deadlines();
        match self {
            Act::Change => d.change,
            Act::Cancel => d.cancel,
        }
    }
}

/// Whether the resident may change (or cancel) online today, and if not,
/// why and whom to call.
pub fn may(v: &ReservationView, today: NaiveDate, act: Act) -> Result<(), String> {
    let deadline = act.deadline(v);
    let verb = act.verb();
    if v.r.status != "confirmed" {
        return Err("この予約は取り消されています。".into());
    }
    if v.r.use_date < today {
        return Err(format!("利用日が過ぎた予約は{verb}できません。"));
    }
    if !deadline.online {
        return Err(format!(
            "{}の予約の{verb}は窓口で受け付けています。{}（電話 {}）にご連絡ください。",
            v.facility_name, v.facility_name, v.facility_phone
        ));
    }
    if !deadline.open_on(v.r.use_date, today) {
        return Err(format!(
            "インターネットでの{verb}は{}（{}）までです。{}（電話 {}）にご連絡ください。",
            format_date(deadline.last_date(v.r.use_date)),
            deadline.until(),
            v.facility_name,
            v.facility_phone
        ));
    }
    Ok(())
}

#[derive(Template)]
#[template(path = "book/detail.html")]
struct DetailPage {
    layout: Layout,
    v: Line,
    done: bool,
    facility_name: String,
    facility_phone: String,
    purpose: String,
    activity: String,
    people: i64,
    category: String,
    equipment: Vec<String>,
    cancel_reason: String,
    change_blocked: String,
    cancel_blocked: String,
    deadlines: String,
}

#[derive(Deserialize, Default)]
pub struct DetailQuery {
    done: Option<String>,
}

async fn detail_page(
    state: &AppState,
    token: &str,
    v: &ReservationView,
    done: bool,
    notice: Option<String>,
) -> Result<Response, AppError> {
    let title = if done {
        "予約が完了しました"
    } else {
        "予約の内容"
    };
    let mut layout = layout(state, token, title).await?;
    layout.notice = notice;
    let today = today();
    render(&DetailPage {
        layout,
        done,
        facility_name: v.facility_name.clone(),
        facility_phone: v.facility_phone.clone(),
        purpose: v.r.purpose.clone(),
        activity: v.r.activity.clone(),
        people: v.r.people,
        category: v.category_name.clone(),
        equipment: reservations::equipment_of(state.db(), v.r.id)
            .await?
            .into_iter()
            .map(|(n, q, u, fee)| format!("{n} {q}{u}（{}）", format_yen(fee)))
            .collect(),
        cancel_reason: v.r.cancel_reason.clone(),
        change_blocked: may(v, today, Act::Change).err().unwrap_or_default(),
        cancel_blocked: may(v, today, Act::Cancel).err().unwrap_or_default(),
        deadlines: v.deadlines().label(),
        v: line(v),
    })
}

pub async fn detail(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(q): Query<DetailQuery>,
) -> Result<Response, AppError> {
    let Some((resident, token)) = signed_in(&state, &headers).await? else {
        return Ok(login_first(&format!("/account/reservations/{id}")));
    };
    let v = own(&state, &resident, id).await?;
    let confirmed = v.r.status == "confirmed";
    let (done, notice) = match q.done.as_deref() {
        Some("changed") if confirmed => (
            false,
            Some("予約の内容を変更しました。確認のメールをお送りしました。".to_owned()),
        ),
        Some(_) if confirmed => (true, None),
        _ => (false, None),
    };
    detail_page(&state, &token, &v, done, notice).await
}

#[derive(Template)]
#[template(path = "book/cancel.html")]
struct CancelPage {
    layout: Layout,
    v: Line,
}

pub async fn cancel_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let Some((resident, token)) = signed_in(&state, &headers).await? else {
        return Ok(login_first(&format!("/account/reservations/{id}")));
    };
    let v = own(&state, &resident, id).await?;
    if may(&v, today(), Act::Cancel).is_err() {
        return Ok(Redirect::to(&format!("/account/reservations/{id}")).into_response());
    }
    render(&CancelPage {
        layout: layout(&state, &token, "予約の取消").await?,
        v: line(&v),
    })
}

/// U10: cancels within the cancellation deadline, frees the slot at once, and mails.
pub async fn cancel(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let Some((resident, token)) = signed_in(&state, &headers).await? else {
        return Ok(login_first(&format!("/account/reservations/{id}")));
    };
    let v = own(&state, &resident, id).await?;
    if let Err(why) = may(&v, today(), Act::Cancel) {
        let mut layout = layout(&state, &token, "予約の取消").await?;
        layout.notice = Some(why);
        return render(&CancelPage {
            layout,
            v: line(&v),
        });
    }
    let db = state.db();
    let town = settings::load(db).await?;
    let mut tx = db.begin().await?;
    reservations::cancel(&mut tx, id, "利用者による取消").await?;
    if let Some(to) = resident.email.clone() {
        outbox::enqueue(
            &mut tx,
            &Mail {
                to,
                subject: format!("【{}】予約を取り消しました（{}）", town.town_name, v.r.reference),
                body: format!(
                    "{} 様\n\n次の予約を取り消しました。\n\n予約番号: {}\n施設: {} {}（{}）\n利用日: {}\n時間: {}\n\nお心当たりがない場合は、{}（電話 {}）にご連絡ください。\n\n{}\n",
                    resident.name,
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
    tx.commit().await?;
    state.views().room_changed(v.r.room_id);
    let mut layout = layout(&state, &token, "予約の確認・取消").await?;
    layout.notice = Some(format!(
        "予約（{}）を取り消しました。確認のメールをお送りしました。",
        v.r.reference
    ));
    list_page(&state, &resident, layout).await
}

// ---- changing a reservation (U10 for residents, A22 for staff) ----------------

/// The form of a reservation as it stands: its day, combination, the day's
/// slots it covers, purpose, people and equipment; the starting point of a change.
pub async fn form_of(db: &Db, v: &ReservationView) -> Result<BookingForm, AppError> {
    let place = booking::place(db, v.r.combination_id, v.r.use_date, v.r.category_id).await?;
    let slots = place
        .map(|p| {
            p.day
                .slots
                .iter()
                .filter(|s| {
                    i64::from(s.range.start.minutes()) >= v.r.start_min
                        && i64::from(s.range.end.minutes()) <= v.r.end_min
                })
                .map(|s| slot_key(&s.range))
                .collect()
        })
        .unwrap_or_default();
    Ok(BookingForm {
        combination: v.r.combination_id,
        date: v.r.use_date.to_string(),
        slots,
        purpose: v.r.purpose.clone(),
        activity: v.r.activity.clone(),
        people: v.r.people.to_string(),
        equipment: reservations::equipment_quantities(db, v.r.id)
            .await?
            .into_iter()
            .map(|(id, q)| (id, q.to_string()))
            .collect(),
        terms: v.r.terms_version.map(|t| t.to_string()).unwrap_or_default(),
    })
}

/// The same applicant as before: a change never moves a reservation to
/// someone else, nor to another category's fees.
pub fn applicant_of(v: &ReservationView) -> Applicant {
    Applicant {
        resident_id: v.r.resident_id,
        name: v.r.applicant_name.clone(),
        phone: v.r.applicant_phone.clone(),
        category_id: v.r.category_id,
    }
}

/// The combinations (full court, halves ...) of the reservation's room: a
/// change stays in the same room (and so in the same facility scope).
pub async fn room_combinations(
    db: &Db,
    v: &ReservationView,
) -> Result<Vec<(i64, String)>, AppError> {
    Ok(hiroba_store::catalogue::combinations(db, v.r.room_id)
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect())
}

/// The typed form's day and combination for the change page; 404 for a
/// combination outside the reservation's room (a tampered form).
pub async fn change_place(
    db: &Db,
    v: &ReservationView,
    form: &mut BookingForm,
    errors: &mut FieldErrors,
) -> Result<Place, AppError> {
    let combinations = room_combinations(db, v).await?;
    if !combinations.iter().any(|(id, _)| *id == form.combination) {
        return Err(AppError::NotFound);
    }
    let date = match form.date() {
        Some(d) => d,
        None => {
            errors.add(
                "date",
                "利用日を選んでください（例: 2026-05-01）。元の利用日を表示しています。",
            );
            form.date = v.r.use_date.to_string();
            v.r.use_date
        }
    };
    booking::place(db, form.combination, date, v.r.category_id)
        .await?
        .ok_or(AppError::NotFound)
}

/// One line of "before → after" on the change confirmation, in the mail and in the log.
pub struct ChangeRow {
    pub label: &'static str,
    pub before: String,
    pub after: String,
}

impl ChangeRow {
    pub fn changed(&self) -> bool {
        self.before != self.after
    }
}

/// What a prepared change does to a reservation, field by field.
pub async fn change_rows(
    db: &Db,
    v: &ReservationView,
    p: &Prepared,
) -> Result<Vec<ChangeRow>, AppError> {
    let r = &p.reservation;
    let before_equipment = reservations::equipment_of(db, v.r.id)
        .await?
        .into_iter()
        .map(|(n, q, u, _)| format!("{n} {q}{u}"))
        .collect::<Vec<_>>();
    let after_equipment = p
        .equipment_lines
        .iter()
        .map(|(n, q, u)| format!("{n} {q}{u}"))
        .collect::<Vec<_>>();
    let list = |items: Vec<String>| {
        if items.is_empty() {
            "なし".to_owned()
        } else {
            items.join("、")
        }
    };
    Ok(vec![
        ChangeRow {
            label: "利用日",
            before: format_date(v.r.use_date),
            after: format_date(r.date),
        },
        ChangeRow {
            label: "時間",
            before: time_label(v.r.start_min, v.r.end_min),
            after: booked_time(r),
        },
        ChangeRow {
            label: "区分",
            before: v.combination_name.clone(),
            after: p.place.combination.name.clone(),
        },
        ChangeRow {
            label: "利用目的",
            before: v.r.purpose.clone(),
            after: r.purpose.clone(),
        },
        ChangeRow {
            label: "活動内容",
            before: v.r.activity.clone(),
            after: r.activity.clone(),
        },
        ChangeRow {
            label: "利用人数",
            before: format!("{}人", v.r.people),
            after: format!("{}人", r.people),
        },
        ChangeRow {
            label: "備品・附属設備",
            before: list(before_equipment),
            after: list(after_equipment),
        },
        ChangeRow {
            label: "使用料",
            before: format_yen(v.r.fee_total),
            after: format_yen(p.quote.total),
        },
    ])
}

/// "利用日: 2026年5月1日(金) → 2026年5月2日(土); 使用料: …" of what changed.
pub fn changes_text(rows: &[ChangeRow]) -> String {
    let changed: Vec<String> = rows
        .iter()
        .filter(|c| c.changed())
        .map(|c| format!("{}: {} → {}", c.label, c.before, c.after))
        .collect();
    if changed.is_empty() {
        "変更なし".to_owned()
    } else {
        changed.join("; ")
    }
}

/// The mail a resident gets when their reservation was changed, online or
/// by staff; the reference number stays the same.
pub fn change_mail(
    state: &AppState,
    town: &settings::SystemSettings,
    v: &ReservationView,
    p: &Prepared,
    rows: &[ChangeRow],
    by_staff: bool,
) -> Mail {
    let mut lines = String::new();
    for row in rows {
        if row.changed() {
            lines.push_str(&format!(
                "  {}: {} → {}\n",
                row.label, row.before, row.after
            ));
        }
    }
    if lines.is_empty() {
        lines.push_str("  （内容に変わりはありません）\n");
    }
    let link = format!(
        "{}/account/reservations/{}",
        state.config().public_url.trim_end_matches('/'),
        v.r.id
    );
    let (subject, opening) = if by_staff {
        (
            "施設で予約の内容を変更しました",
            "施設で次のとおり予約の内容を変更しました。",
        )
    } else {
        (
            "予約の内容を変更しました",
            "次のとおり予約の内容を変更しました。",
        )
    };
    Mail {
        to: String::new(),
        subject: format!("【{}】{subject}（{}）", town.town_name, v.r.reference),
        body: format!(
            "{} 様\n\n{opening}\n\n予約番号: {}（変わりません）\n施設: {} {}（{}）\n利用日: {}\n時間: {}\n\n変更した内容:\n{lines}\n使用料: {}\n\n{}\n予約の確認はこちら: {link}\nお心当たりがない場合は、{}（電話 {}）にご連絡ください。\n\n{}\n",
            v.r.applicant_name,
            v.r.reference,
            p.place.facility.name,
            p.place.room.name,
            p.place.combination.name,
            format_date(p.reservation.date),
            booked_time(&p.reservation),
            format_yen(p.quote.total),
            deadline_of(&p.place),
            p.place.facility.name,
            p.place.facility.phone,
            town.town_contact,
        ),
    }
}

/// Writes a prepared change in `tx` with the resident's mail (if any) in the
/// same transaction. `Ok(Err(..))` is a refusal (slot taken meanwhile, not
/// enough equipment): the caller drops `tx` and nothing has changed.
pub async fn store_change(
    tx: &mut hiroba_store::Tx,
    id: i64,
    r: &NewReservation,
    mail: Option<Mail>,
) -> Result<Result<(), BookingError>, AppError> {
    match reservations::change(tx, id, r).await {
        Ok(()) => {}
        Err(BookingError::Store(e)) => return Err(e.into()),
        Err(e) => return Ok(Err(e)),
    }
    if let Some(mail) = mail {
        outbox::enqueue(tx, &mail).await?;
    }
    Ok(Ok(()))
}

#[derive(Template)]
#[template(path = "book/change.html")]
struct ChangePage {
    layout: Layout,
    v: Line,
    errors: FieldErrors,
    form: BookingForm,
    combinations: Vec<(i64, String)>,
    day: String,
    closed: String,
    slots: Vec<SlotChoice>,
    purposes: Vec<String>,
    activities: Vec<String>,
    activity_free_text: bool,
    equipment: Vec<EquipmentChoice>,
    capacity: String,
    /// The terms in force, when they differ from the version accepted at booking.
    terms_version: i64,
    terms_body: String,
    deadlines: String,
}

#[derive(Template)]
#[template(path = "book/change_confirm.html")]
struct ChangeConfirmPage {
    layout: Layout,
    v: Line,
    form: BookingForm,
    rows: Vec<ChangeRow>,
    items: Vec<QuoteItem>,
    total: i64,
}

async fn change_page(
    state: &AppState,
    token: &str,
    v: &ReservationView,
    mut form: BookingForm,
    mut errors: FieldErrors,
) -> Result<Response, AppError> {
    let db = state.db();
    let place = change_place(db, v, &mut form, &mut errors).await?;
    if place.room.visibility() != hiroba_store::facilities::Visibility::Public {
        return Err(AppError::Refused(format!(
            "この室場の予約はインターネットからは変更できません。{}（電話 {}）にお問い合わせください。",
            place.facility.name, place.facility.phone
        )));
    }
    let accepted = v.r.terms_version;
    let new_terms = place.terms.as_ref().filter(|t| Some(t.version) != accepted);
    if new_terms.is_none() {
        form.terms = accepted.map(|t| t.to_string()).unwrap_or_default();
    }
    let mut layout = layout(state, token, "予約内容の変更").await?;
    if !errors.is_empty() {
        layout.title = "入力内容の確認が必要です: 予約内容の変更".into();
    }
    render(&ChangePage {
        layout,
        v: line(v),
        errors,
        combinations: room_combinations(db, v).await?,
        day: format_date(place.day.date),
        closed: match &place.day.status {
            DayStatus::Open => String::new(),
            DayStatus::Closed { reason } => reason.clone(),
        },
        slots: slot_choices(db, &place, Some(v.r.id)).await?,
        purposes: place.purposes.clone(),
        activities: place.activities.clone(),
        activity_free_text: place.facility.activity_free_text || place.activities.is_empty(),
        equipment: equipment_choices(&place, &form),
        capacity: place
            .room
            .capacity
            .map(|c| format!("定員{c}人"))
            .unwrap_or_default(),
        terms_version: new_terms.map(|t| t.version).unwrap_or(0),
        terms_body: new_terms.map(|t| t.body.clone()).unwrap_or_default(),
        deadlines: v.deadlines().change.label("変更"),
        form,
    })
}

pub async fn change_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let Some((resident, token)) = signed_in(&state, &headers).await? else {
        return Ok(login_first(&format!("/account/reservations/{id}")));
    };
    let v = own(&state, &resident, id).await?;
    if let Err(why) = may(&v, today(), Act::Change) {
        return detail_page(&state, &token, &v, false, Some(why)).await;
    }
    let form = form_of(state.db(), &v).await?;
    change_page(&state, &token, &v, form, FieldErrors::new()).await
}

/// U10: changes day, time, unit or full court, equipment, purpose and people
/// while the facility's change deadline allows, through the same checks as a
/// booking, in one transaction that keeps the reference number. "show"
/// redraws the form for another day or combination; the confirmation page
/// shows the new fee; "change" stores it.
pub async fn change(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    data: FormData,
) -> Result<Response, AppError> {
    let Some((resident, token)) = signed_in(&state, &headers).await? else {
        return Ok(login_first(&format!("/account/reservations/{id}")));
    };
    let db = state.db();
    let v = own(&state, &resident, id).await?;
    if let Err(why) = may(&v, today(), Act::Change) {
        return detail_page(&state, &token, &v, false, Some(why)).await;
    }
    let mut form = BookingForm::from_form(&data);
    let action = data.get("action");
    if action == "show" {
        return change_page(&state, &token, &v, form, FieldErrors::new()).await;
    }
    let mut errors = FieldErrors::new();
    // Checks the day and combination belong to this reservation's room.
    change_place(db, &v, &mut form, &mut errors).await?;
    if !errors.is_empty() {
        return change_page(&state, &token, &v, form, errors).await;
    }
    let Some(mut input) = form.input(applicant_of(&v), &mut errors) else {
        return Err(AppError::NotFound);
    };
    input.replacing = Some(id);
    input.reduction_id = v.r.reduction_id;
    let prepared = match booking::prepare(db, &input, today()).await? {
        Ok(p) if errors.is_empty() => p,
        Ok(_) => return change_page(&state, &token, &v, form, errors).await,
        Err(Refusal::NotFound) => return Err(AppError::NotFound),
        Err(Refusal::CounterOnly(why)) => return Err(AppError::Refused(why)),
        Err(Refusal::Invalid(found)) => {
            for (field, message) in found.iter() {
                if errors.get(field).is_none() {
                    errors.add(field, message);
                }
            }
            return change_page(&state, &token, &v, form, errors).await;
        }
    };
    let rows = change_rows(db, &v, &prepared).await?;
    let confirm = |notice: Option<String>, rows: Vec<ChangeRow>, form: BookingForm| {
        let state = state.clone();
        let token = token.clone();
        let items = prepared.quote.items.clone();
        let total = prepared.quote.total;
        let v = line(&v);
        async move {
            let mut layout = layout(&state, &token, "変更内容の確認").await?;
            layout.notice = notice;
            render(&ChangeConfirmPage {
                layout,
                v,
                form,
                rows,
                items,
                total,
            })
        }
    };
    if action != "change" {
        return confirm(None, rows, form).await;
    }
    // The fee shown is the fee charged: if a rule changed meanwhile, show it again.
    if data.get("total") != prepared.quote.total.to_string() {
        return confirm(
            Some(
                "料金が変わりました。新しい料金を確認してから、もう一度「この内容で変更する」を押してください。"
                    .into(),
            ),
            rows,
            form,
        )
        .await;
    }
    let town = settings::load(db).await?;
    let mail = resident.email.clone().map(|to| Mail {
        to,
        ..change_mail(&state, &town, &v, &prepared, &rows, false)
    });
    let mut tx = db.begin().await?;
    if let Err(e) = store_change(&mut tx, id, &prepared.reservation, mail).await? {
        drop(tx);
        let field = match &e {
            BookingError::EquipmentShort { .. } => "equipment",
            _ => "slots",
        };
        errors.add(field, e.message());
        return change_page(&state, &token, &v, form, errors).await;
    }
    tx.commit().await?;
    state.views().room_changed(v.r.room_id);
    Ok(Redirect::to(&format!("/account/reservations/{id}?done=changed")).into_response())
}

/// Yen for templates ("1,440円").
pub fn yen<T: std::borrow::Borrow<i64>>(amount: T) -> String {
    format_yen(*amount.borrow())
}

// ---- the residents' manual (U12) -------------------------------------------------

/// Screenshots the browser test `browser_booking` takes at phone width.
const HELP_IMAGES: [(&str, &[u8]); 8] = [
    ("register", include_bytes!("../static/help/register.png")),
    ("week", include_bytes!("../static/help/week.png")),
    ("form", include_bytes!("../static/help/form.png")),
    ("confirm", include_bytes!("../static/help/confirm.png")),
    ("done", include_bytes!("../static/help/done.png")),
    ("mine", include_bytes!("../static/help/mine.png")),
    ("change", include_bytes!("../static/help/change.png")),
    ("cancel", include_bytes!("../static/help/cancel.png")),
];

pub async fn help_image(Path(name): Path<String>) -> Result<Response, AppError> {
    let stem = name.strip_suffix(".png").ok_or(AppError::NotFound)?;
    let (_, bytes) = HELP_IMAGES
        .iter()
        .find(|(n, _)| *n == stem)
        .ok_or(AppError::NotFound)?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "image/png"),
            (axum::http::header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        *bytes,
    )
        .into_response())
}

#[derive(Template)]
#[template(path = "help.html")]
struct HelpPage {
    layout: Layout,
    contact: String,
}

pub async fn help(State(state): State<AppState>) -> Result<Response, AppError> {
    let town = settings::load(state.db()).await?;
    render(&HelpPage {
        layout: Layout {
            title: "使い方".into(),
            town_name: town.town_name.clone(),
            ..Layout::default()
        },
        contact: town.town_contact,
    })
}
