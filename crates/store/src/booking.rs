//! Preparing a booking: gathers what the rules need from the catalogue, runs
//! the domain checks (U06-U10, A14, A23, A24) and prices it (U07, U08). One
//! path for residents on the web, staff at the counter (窓口), the tests and
//! the benchmarks. The database still has the last word on double booking:
//! [`crate::reservations::create`] refuses a taken unit-cell.

use chrono::{Datelike, NaiveDate};
use hiroba_domain::booking::{BookingProblem, BookingRequest, check};
use hiroba_domain::booking_rules::BookingWindow;
use hiroba_domain::calendar::{CalendarDay, DayStatus};
use hiroba_domain::fees::{self, EquipmentCharge, Quote, QuoteRequest, Reduction};
use hiroba_domain::time_of_day::TimeRange;
use hiroba_domain::validation::FieldErrors;

use crate::catalogue::{self, Combination, Equipment, FacilityCategory, Terms};
use crate::facilities::{self, Facility, Room, Visibility};
use crate::reservations::NewReservation;
use crate::{Db, Result, catalogue_domain, reservations};

impl FacilityCategory {
    /// The booking window this row describes (None for an unknown kind).
    pub fn window(&self) -> Option<BookingWindow> {
        let n = u32::try_from(self.window_n).ok()?;
        match self.window_kind.as_str() {
            "months" => Some(BookingWindow::MonthsAhead {
                months: n,
                opens_on_day: u32::try_from(self.opens_on_day).ok()?,
            }),
            "days" => Some(BookingWindow::DaysAhead { days: n }),
            _ => None,
        }
    }
}

/// Who the booking is for: a registered resident, or a walk-in at the counter.
#[derive(Debug, Clone)]
pub struct Applicant {
    pub resident_id: Option<i64>,
    pub name: String,
    pub phone: String,
    pub category_id: i64,
}

/// Staff booking at the counter (A23).
#[derive(Debug, Clone)]
pub struct Counter {
    pub staff_id: i64,
    /// Book outside the window, over the monthly limit or for a category not
    /// allowed; only staff with the permission, and the reason is logged.
    pub override_rules: bool,
}

#[derive(Debug, Clone)]
pub struct BookingInput {
    pub combination_id: i64,
    pub date: NaiveDate,
    pub slots: Vec<TimeRange>,
    pub applicant: Applicant,
    pub purpose: String,
    pub activity: String,
    pub people: i64,
    /// (equipment id, quantity); zero quantities are ignored.
    pub equipment: Vec<(i64, i64)>,
    pub reduction_id: Option<i64>,
    pub counter: Option<Counter>,
    /// The terms version the applicant accepted (residents must accept the one in force).
    pub accepted_terms: Option<i64>,
    /// The reservation this request would change (A22, U10): its own cells and
    /// its place in the monthly count do not stand in its way.
    pub replacing: Option<i64>,
}

/// Everything a booking page shows about the place and day.
#[derive(Debug, Clone)]
pub struct Place {
    pub facility: Facility,
    pub room: Room,
    pub combination: Combination,
    pub day: CalendarDay,
    pub equipment: Vec<Equipment>,
    pub purposes: Vec<String>,
    pub activities: Vec<String>,
    pub terms: Option<Terms>,
    pub rule: Option<FacilityCategory>,
}

/// The usage purposes (A15) offered for one combination: the facility's,
/// the room's and the combination's own.
pub async fn purposes_for(
    db: &Db,
    facility_id: i64,
    room_id: i64,
    combination_id: i64,
) -> Result<Vec<String>> {
    Ok(catalogue::purposes(db, facility_id)
        .await?
        .into_iter()
        .filter(|p| p.room_id.is_none_or(|r| r == room_id))
        .filter(|p| p.combination_id.is_none_or(|c| c == combination_id))
        .map(|p| p.name)
        .collect())
}

/// Loads the place and day of a booking; None when the combination does not exist.
pub async fn place(
    db: &Db,
    combination_id: i64,
    date: NaiveDate,
    category_id: i64,
) -> Result<Option<Place>> {
    let Some(combination) = catalogue::combination(db, combination_id).await? else {
        return Ok(None);
    };
    let Some(room) = facilities::room(db, combination.room_id).await? else {
        return Ok(None);
    };
    let Some(facility) = facilities::get(db, room.facility_id).await? else {
        return Ok(None);
    };
    let day = catalogue_domain::month_calendar(
        db,
        room.id,
        Some(combination.id),
        date.year(),
        date.month(),
    )
    .await?
    .into_iter()
    .find(|d| d.date == date);
    let Some(day) = day else { return Ok(None) };
    let equipment = catalogue::equipment(db, facility.id)
        .await?
        .into_iter()
        .filter(|e| e.room_id.is_none_or(|r| r == room.id))
        .collect();
    let purposes = purposes_for(db, facility.id, room.id, combination.id).await?;
    let activities = catalogue::activities(db, facility.id)
        .await?
        .into_iter()
        .map(|a| a.name)
        .collect();
    let terms = catalogue::terms_in_force(db, facility.id, date).await?;
    let rule = catalogue::facility_categories(db, facility.id)
        .await?
        .into_iter()
        .find(|r| r.category_id == category_id);
    Ok(Some(Place {
        facility,
        room,
        combination,
        day,
        equipment,
        purposes,
        activities,
        terms,
        rule,
    }))
}

/// A request that passed every check, priced and ready to store.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub place: Place,
    pub quote: Quote,
    pub reservation: NewReservation,
    /// (name, quantity, unit label) of the equipment asked for, for the pages.
    pub equipment_lines: Vec<(String, i64, String)>,
}

/// Why a request cannot go ahead: messages per form field (slots, people,
/// purpose, activity, equipment-{id}, terms, applicant) in Japanese.
#[derive(Debug)]
pub enum Refusal {
    /// The combination or date does not exist (a tampered or outdated link).
    NotFound,
    /// The room is not booked online (A09: "availability only" or private);
    /// the message says whom to ask instead.
    CounterOnly(String),
    Invalid(FieldErrors),
}

/// Runs every check and prices the booking; nothing is written.
pub async fn prepare(
    db: &Db,
    input: &BookingInput,
    today: NaiveDate,
) -> Result<std::result::Result<Prepared, Refusal>> {
    let Some(place) = place(
        db,
        input.combination_id,
        input.date,
        input.applicant.category_id,
    )
    .await?
    else {
        return Ok(Err(Refusal::NotFound));
    };
    // A09: residents book only public rooms. The form already hides the
    // others, but the rule belongs here, where every request passes.
    if input.counter.is_none() && place.room.visibility() != Visibility::Public {
        return Ok(Err(Refusal::CounterOnly(format!(
            "この室場はインターネットからは予約できません。{}（電話 {}）にお問い合わせください。",
            place.facility.name, place.facility.phone
        ))));
    }
    let mut errors = FieldErrors::new();
    let override_rules = input.counter.as_ref().is_some_and(|c| c.override_rules);

    let monthly_count = match input.applicant.resident_id {
        Some(resident) => {
            let first = input.date.with_day(1).unwrap_or(input.date);
            let last = first
                .checked_add_months(chrono::Months::new(1))
                .and_then(|d| d.pred_opt())
                .unwrap_or(input.date);
            reservations::monthly_count(
                db,
                resident,
                place.facility.id,
                first,
                last,
                input.replacing,
            )
            .await?
        }
        None => 0,
    };
    let request = BookingRequest {
        today,
        day: &place.day,
        slots: &input.slots,
        window: place.rule.as_ref().and_then(FacilityCategory::window),
        monthly_count,
        monthly_limit: place.rule.as_ref().and_then(|r| r.monthly_limit),
        people: input.people,
        capacity: place.room.capacity,
        min_minutes: u32::try_from(place.room.min_minutes).unwrap_or(0),
        counter_override: override_rules,
    };
    for problem in check(&request) {
        let field = match problem {
            BookingProblem::TooManyPeople { .. } | BookingProblem::NoPeople => "people",
            BookingProblem::CategoryNotAllowed => "applicant",
            _ => "slots",
        };
        if errors.get(field).is_none() {
            errors.add(field, problem.message());
        }
    }

    // Already held (the database would refuse it anyway; say so before the
    // confirmation page rather than after).
    if errors.get("slots").is_none() {
        let mut held: std::collections::BTreeSet<(i64, i64)> =
            reservations::held_cells(db, place.room.id, input.date, input.date)
                .await?
                .into_iter()
                .map(|(_, unit, cell)| (unit, cell))
                .collect();
        if let Some(id) = input.replacing {
            for (date, unit, cell) in reservations::cells_of(db, id).await? {
                if date == input.date {
                    held.remove(&(unit, cell));
                }
            }
        }
        let taken = input.slots.iter().any(|slot| {
            hiroba_domain::booking::cells(slot).any(|cell| {
                place
                    .combination
                    .unit_ids
                    .iter()
                    .any(|u| held.contains(&(*u, cell)))
            })
        });
        if taken {
            errors.add(
                "slots",
                "選んだ時間帯は、すでに予約が入っています。空いている別の時間帯を選んでください。",
            );
        }
    }

    if input.purpose.trim().is_empty() {
        errors.add("purpose", "利用目的を選んでください。");
    } else if !place.purposes.is_empty() && !place.purposes.iter().any(|p| p == &input.purpose) {
        errors.add("purpose", "利用目的は一覧から選んでください。");
    }
    if input.activity.chars().count() > 200 {
        errors.add("activity", "活動内容は200文字以内で入力してください。");
    } else if !place.facility.activity_free_text
        && !place.activities.is_empty()
        && !input.activity.is_empty()
        && !place.activities.iter().any(|a| a == &input.activity)
    {
        errors.add("activity", "活動内容は一覧から選んでください。");
    }

    // Equipment: known here, and no more than the stock (the time-overlap
    // count is made under a lock when storing).
    let minutes: u32 = input.slots.iter().map(TimeRange::minutes).sum();
    let mut charges = Vec::new();
    let mut stored = Vec::new();
    let mut lines = Vec::new();
    for &(id, quantity) in &input.equipment {
        if quantity == 0 {
            continue;
        }
        let field = format!("equipment-{id}");
        let Some(e) = place.equipment.iter().find(|e| e.id == id) else {
            errors.add(
                &field,
                "この施設では選べない備品です。画面を開き直してください。",
            );
            continue;
        };
        if quantity < 0 {
            errors.add(
                &field,
                format!("「{}」の数は0以上で入力してください。", e.name),
            );
            continue;
        }
        if quantity > e.stock {
            errors.add(
                &field,
                format!(
                    "「{}」は{}{}までです。数を減らしてください。",
                    e.name, e.stock, e.unit_label
                ),
            );
            continue;
        }
        let charge = EquipmentCharge {
            name: e.name.clone(),
            per_hour: e.per_hour,
            unit_fee: e.fee,
            quantity: u32::try_from(quantity).unwrap_or(u32::MAX),
        };
        stored.push((id, quantity, fees::equipment_item(&charge, minutes).amount));
        lines.push((e.name.clone(), quantity, e.unit_label.clone()));
        charges.push(charge);
    }

    if input.counter.is_none() {
        match (&place.terms, input.accepted_terms) {
            (Some(t), Some(v)) if t.version == v => {}
            (Some(_), Some(_)) => errors.add(
                "terms",
                "利用規約が改定されました。新しい規約を読んで、もう一度同意してください。",
            ),
            (Some(_), None) => errors.add(
                "terms",
                "利用規約を読んで、同意にチェックを入れてください。",
            ),
            (None, _) => {}
        }
    }
    if input.applicant.name.trim().is_empty() {
        errors.add("applicant", "申込者の氏名を入力してください。");
    }

    let reduction = match input.reduction_id {
        Some(id) => catalogue::reductions(db)
            .await?
            .into_iter()
            .find(|r| r.id == id)
            .map(|r| Reduction {
                percent: u8::try_from(r.percent.clamp(0, 100)).unwrap_or(100),
                reason: r.name,
                include_equipment: r.include_equipment,
            }),
        None => None,
    };
    let rules = catalogue_domain::fee_rules(db, place.combination.id).await?;
    let quote = match fees::quote(&QuoteRequest {
        date: input.date,
        is_holiday: place.day.holiday.is_some(),
        category_id: input.applicant.category_id,
        slots: &input.slots,
        rules: &rules,
        equipment: &charges,
        reduction: reduction.as_ref(),
        min_minutes: 0,
    }) {
        Ok(q) => Some(q),
        Err(e) => {
            if errors.get("slots").is_none() {
                errors.add("slots", format!("{e} 施設にお問い合わせください。"));
            }
            None
        }
    };
    if matches!(place.day.status, DayStatus::Closed { .. }) && errors.get("slots").is_none() {
        errors.add("slots", "この日は予約できません。");
    }
    let Some(quote) = quote.filter(|_| errors.is_empty()) else {
        return Ok(Err(Refusal::Invalid(errors)));
    };
    let mut slots = input.slots.clone();
    slots.sort_by_key(|s| s.start);
    let reservation = NewReservation {
        facility_id: place.facility.id,
        room_id: place.room.id,
        combination_id: place.combination.id,
        unit_ids: place.combination.unit_ids.clone(),
        date: input.date,
        slots,
        resident_id: input.applicant.resident_id,
        applicant_name: input.applicant.name.trim().to_owned(),
        applicant_phone: input.applicant.phone.trim().to_owned(),
        category_id: input.applicant.category_id,
        purpose: input.purpose.clone(),
        activity: input.activity.trim().to_owned(),
        people: input.people,
        fee_total: quote.total,
        reduction_id: input.reduction_id,
        terms_version: place.terms.as_ref().map(|t| t.version),
        equipment: stored,
        created_by_staff: input.counter.as_ref().map(|c| c.staff_id),
    };
    Ok(Ok(Prepared {
        place,
        quote,
        reservation,
        equipment_lines: lines,
    }))
}
