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
use hiroba_store::reservations::{self, BookingError, ReservationView};
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

/// The day's slots of a combination, with which are still free.
pub async fn slot_choices(db: &Db, place: &Place) -> Result<Vec<SlotChoice>, AppError> {
    let date = place.day.date;
    let held: BTreeSet<(i64, i64)> = reservations::held_cells(db, place.room.id, date, date)
        .await?
        .into_iter()
        .map(|(_, u, c)| (u, c))
        .collect();
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
    let slots = slot_choices(state.db(), &place).await?;
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

#[derive(Template)]
#[template(path = "book/change.html")]
struct ChangePage {
    layout: Layout,
    v: Line,
    errors: FieldErrors,
    people: String,
    purpose: String,
    activity: String,
    purposes: Vec<String>,
}

async fn purposes_for(db: &Db, v: &ReservationView) -> Result<Vec<String>, AppError> {
    Ok(booking::purposes_for(db, v.r.facility_id, v.r.room_id, v.r.combination_id).await?)
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
    if may(&v, today(), Act::Change).is_err() {
        return Ok(Redirect::to(&format!("/account/reservations/{id}")).into_response());
    }
    render(&ChangePage {
        layout: layout(&state, &token, "予約内容の変更").await?,
        errors: FieldErrors::new(),
        people: v.r.people.to_string(),
        purpose: v.r.purpose.clone(),
        activity: v.r.activity.clone(),
        purposes: purposes_for(state.db(), &v).await?,
        v: line(&v),
    })
}

/// U10: people, purpose and activity change in place; another day or time is
/// a new booking (and cancelling this one), so nobody loses a slot on the way.
pub async fn change(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    form: FormData,
) -> Result<Response, AppError> {
    let Some((resident, token)) = signed_in(&state, &headers).await? else {
        return Ok(login_first(&format!("/account/reservations/{id}")));
    };
    let db = state.db();
    let v = own(&state, &resident, id).await?;
    if may(&v, today(), Act::Change).is_err() {
        return Ok(Redirect::to(&format!("/account/reservations/{id}")).into_response());
    }
    let purposes = purposes_for(db, &v).await?;
    let mut errors = FieldErrors::new();
    let people_text = form.get("people").trim().to_owned();
    let capacity = hiroba_store::facilities::room(db, v.r.room_id)
        .await?
        .and_then(|r| r.capacity);
    let people = match people_text.parse::<i64>() {
        Ok(n) if n < 1 => {
            errors.add("people", "利用人数を1人以上で入力してください。");
            0
        }
        Ok(n) if capacity.is_some_and(|c| n > c) => {
            errors.add(
                "people",
                format!(
                    "利用人数は定員（{}人）以内にしてください。",
                    capacity.unwrap_or(0)
                ),
            );
            0
        }
        Ok(n) => n,
        Err(_) => {
            errors.add("people", "利用人数は半角数字で入力してください（例: 12）。");
            0
        }
    };
    let purpose = form.get("purpose").trim().to_owned();
    if purpose.is_empty() || (!purposes.is_empty() && !purposes.contains(&purpose)) {
        errors.add("purpose", "利用目的を一覧から選んでください。");
    }
    let activity = form.get("activity").trim().to_owned();
    if activity.chars().count() > 200 {
        errors.add("activity", "活動内容は200文字以内で入力してください。");
    }
    if !errors.is_empty() {
        return render(&ChangePage {
            layout: layout(&state, &token, "予約内容の変更").await?,
            errors,
            people: people_text,
            purpose,
            activity,
            purposes,
            v: line(&v),
        });
    }
    let mut tx = db.begin().await?;
    reservations::update_details(&mut tx, id, people, &purpose, &activity).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/account/reservations/{id}")).into_response())
}

/// Yen for templates ("1,440円").
pub fn yen<T: std::borrow::Borrow<i64>>(amount: T) -> String {
    format_yen(*amount.borrow())
}

// ---- the residents' manual (U12) -------------------------------------------------

/// Screenshots the browser test `browser_booking` takes at phone width.
const HELP_IMAGES: [(&str, &[u8]); 7] = [
    ("register", include_bytes!("../static/help/register.png")),
    ("week", include_bytes!("../static/help/week.png")),
    ("form", include_bytes!("../static/help/form.png")),
    ("confirm", include_bytes!("../static/help/confirm.png")),
    ("done", include_bytes!("../static/help/done.png")),
    ("mine", include_bytes!("../static/help/mine.png")),
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
