//! Booking rules that decide whether a request may become a reservation
//! (U06-U10, A14, A21, A24), and how slots read in the availability views.
//! The database has the last word on double booking (a unique cell per unit
//! and 15 minutes); these checks give residents a clear reason beforehand.

use std::collections::BTreeSet;

use chrono::NaiveDate;

use crate::booking_rules::BookingWindow;
use crate::calendar::{CalendarDay, DayStatus, SlotState};
use crate::datetime::format_date;
use crate::time_of_day::TimeRange;

/// Occupancy is recorded in cells of this many minutes.
pub const CELL_MINUTES: u16 = 15;

/// The cells a range occupies: from the cell holding its start up to the cell
/// holding its last minute.
pub fn cells(range: &TimeRange) -> std::ops::Range<i64> {
    let cell = i64::from(CELL_MINUTES);
    let start = i64::from(range.start.minutes()) / cell;
    let end = (i64::from(range.end.minutes()) + cell - 1) / cell;
    start..end
}

/// How a slot reads for residents (the five states of the availability views).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Availability {
    /// Every asked unit is free.
    Free,
    /// Some units are free (e.g. one half of the court).
    Partial,
    /// Nothing left.
    Booked,
    /// Closed day or closed to general use.
    Closed { reason: String },
    /// Not yet (or no longer) open for booking.
    OutsideWindow,
}

impl Availability {
    pub fn label(&self) -> &'static str {
        match self {
            Availability::Free => "空き",
            Availability::Partial => "一部空き",
            Availability::Booked => "予約済み",
            Availability::Closed { .. } => "休館",
            Availability::OutsideWindow => "受付期間外",
        }
    }

    /// A short mark that also reads without colour.
    pub fn mark(&self) -> &'static str {
        match self {
            Availability::Free => "○",
            Availability::Partial => "△",
            Availability::Booked => "×",
            Availability::Closed { .. } => "休",
            Availability::OutsideWindow => "−",
        }
    }
}

/// The state of one slot for a set of units, given which of them are taken.
pub fn slot_availability(units: &BTreeSet<i64>, taken: &BTreeSet<i64>) -> Availability {
    let busy = units.intersection(taken).count();
    if busy == 0 {
        Availability::Free
    } else if busy == units.len() {
        Availability::Booked
    } else {
        Availability::Partial
    }
}

/// Everything the checks need about one request, gathered by the caller.
#[derive(Debug, Clone)]
pub struct BookingRequest<'a> {
    /// Today in Japan time.
    pub today: NaiveDate,
    /// The calendar day of the asked combination (from `calendar::month_calendar`).
    pub day: &'a CalendarDay,
    /// The slots asked for, by their ranges.
    pub slots: &'a [TimeRange],
    /// The booking window of the applicant's category; `None` if the category may not book here.
    pub window: Option<BookingWindow>,
    /// Confirmed reservations the applicant already has at this facility in the month of the day.
    pub monthly_count: i64,
    pub monthly_limit: Option<i64>,
    pub people: i64,
    pub capacity: Option<i64>,
    pub min_minutes: u32,
    /// Staff at the counter may book outside the window (their override is logged).
    pub counter_override: bool,
}

/// Why a request cannot be booked, each with what to do instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BookingProblem {
    NoSlots,
    CategoryNotAllowed,
    InThePast,
    OutsideWindow { last: NaiveDate },
    ClosedDay { reason: String },
    UnknownSlot { range: TimeRange },
    Blocked { range: TimeRange, reason: String },
    NotConsecutive,
    OverMonthlyLimit { limit: i64 },
    TooManyPeople { capacity: i64 },
    NoPeople,
    BelowMinimum { minutes: u32 },
}

impl BookingProblem {
    /// The Japanese message shown to the applicant.
    pub fn message(&self) -> String {
        match self {
            BookingProblem::NoSlots => "予約する時間帯を選んでください。".into(),
            BookingProblem::CategoryNotAllowed => {
                "この施設は、あなたの利用者区分ではインターネットから予約できません。施設の窓口にお問い合わせください。".into()
            }
            BookingProblem::InThePast => "過ぎた日時は予約できません。別の日時を選んでください。".into(),
            BookingProblem::OutsideWindow { last } => format!(
                "この日はまだ予約を受け付けていません。現在は{}まで予約できます。",
                format_date(*last)
            ),
            BookingProblem::ClosedDay { reason } => format!("この日は{reason}のため予約できません。別の日を選んでください。"),
            BookingProblem::UnknownSlot { range } => {
                format!("{range} は予約枠ではありません。画面を開き直して、表示された枠から選んでください。")
            }
            BookingProblem::Blocked { range, reason } => format!("{range} は「{reason}」のため予約できません。別の時間帯を選んでください。"),
            BookingProblem::NotConsecutive => "続けて利用する時間帯を選んでください（間をあけた枠は別々に予約してください）。".into(),
            BookingProblem::OverMonthlyLimit { limit } => format!(
                "この施設の1か月の予約は{limit}件までです。すでに予約がある場合は、不要な予約を取り消してからお申し込みください。"
            ),
            BookingProblem::TooManyPeople { capacity } => format!("利用人数は定員（{capacity}人）以内にしてください。"),
            BookingProblem::NoPeople => "利用人数を1人以上で入力してください。".into(),
            BookingProblem::BelowMinimum { minutes } => {
                format!("この室場は{}以上の利用が必要です。枠を続けて選んでください。", crate::time_of_day::format_minutes(*minutes))
            }
        }
    }
}

/// Checks a request; an empty list means it may be booked (the database still
/// refuses it if someone else was faster).
pub fn check(req: &BookingRequest<'_>) -> Vec<BookingProblem> {
    let mut problems = Vec::new();
    if req.slots.is_empty() {
        problems.push(BookingProblem::NoSlots);
        return problems;
    }
    let date = req.day.date;
    if date < req.today {
        problems.push(BookingProblem::InThePast);
    }
    match req.window {
        None if !req.counter_override => problems.push(BookingProblem::CategoryNotAllowed),
        Some(window)
            if !req.counter_override && date >= req.today && !window.allows(date, req.today) =>
        {
            problems.push(BookingProblem::OutsideWindow {
                last: window.last_bookable_date(req.today),
            });
        }
        _ => {}
    }
    if let DayStatus::Closed { reason } = &req.day.status {
        problems.push(BookingProblem::ClosedDay {
            reason: reason.clone(),
        });
        return problems;
    }
    let mut indices = Vec::new();
    for range in req.slots {
        match req.day.slots.iter().position(|s| s.range == *range) {
            None => problems.push(BookingProblem::UnknownSlot { range: *range }),
            Some(i) => {
                if let SlotState::Blocked { reason } = &req.day.slots[i].state {
                    problems.push(BookingProblem::Blocked {
                        range: *range,
                        reason: reason.clone(),
                    });
                }
                indices.push(i);
            }
        }
    }
    indices.sort_unstable();
    indices.dedup();
    if indices.windows(2).any(|w| w[1] != w[0] + 1) || indices.len() != req.slots.len() {
        problems.push(BookingProblem::NotConsecutive);
    }
    let minutes: u32 = req.slots.iter().map(TimeRange::minutes).sum();
    if minutes < req.min_minutes {
        problems.push(BookingProblem::BelowMinimum {
            minutes: req.min_minutes,
        });
    }
    if let Some(limit) = req.monthly_limit
        && req.monthly_count >= limit
        && !req.counter_override
    {
        problems.push(BookingProblem::OverMonthlyLimit { limit });
    }
    if req.people < 1 {
        problems.push(BookingProblem::NoPeople);
    } else if let Some(capacity) = req.capacity
        && req.people > capacity
    {
        problems.push(BookingProblem::TooManyPeople { capacity });
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::CalendarSlot;
    use proptest::prelude::*;

    fn r(a: &str, b: &str) -> TimeRange {
        TimeRange::parse(a, b)
            .unwrap_or_else(|_| TimeRange::parse("0:00", "0:15").unwrap_or_else(|_| unreachable!()))
    }

    fn day(status: DayStatus) -> CalendarDay {
        let slot = |label: &str, range: TimeRange, state: SlotState| CalendarSlot {
            label: label.into(),
            range,
            state,
        };
        CalendarDay {
            date: NaiveDate::from_ymd_opt(2027, 1, 20).unwrap_or_default(),
            holiday: None,
            status,
            hours: Some(r("9:00", "21:00")),
            slots: vec![
                slot("午前", r("9:00", "12:00"), SlotState::Open),
                slot("午後", r("13:00", "17:00"), SlotState::Open),
                slot(
                    "夜間",
                    r("18:00", "21:00"),
                    SlotState::Blocked {
                        reason: "町民体育大会".into(),
                    },
                ),
            ],
        }
    }

    fn request<'a>(day: &'a CalendarDay, slots: &'a [TimeRange]) -> BookingRequest<'a> {
        BookingRequest {
            today: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap_or_default(),
            day,
            slots,
            window: Some(BookingWindow::MonthsAhead {
                months: 2,
                opens_on_day: 1,
            }),
            monthly_count: 0,
            monthly_limit: Some(4),
            people: 10,
            capacity: Some(100),
            min_minutes: 0,
            counter_override: false,
        }
    }

    #[test]
    fn cells_cover_the_range() {
        assert_eq!(cells(&r("9:00", "12:00")), 36..48);
        assert_eq!(cells(&r("8:30", "9:10")), 34..37);
        assert_eq!(cells(&r("23:45", "24:00")), 95..96);
    }

    #[test]
    fn a_valid_request_has_no_problems() {
        let d = day(DayStatus::Open);
        let slots = [r("9:00", "12:00"), r("13:00", "17:00")];
        assert_eq!(check(&request(&d, &slots)), vec![]);
    }

    #[test]
    fn each_refusal_has_a_reason() {
        let d = day(DayStatus::Open);
        let evening = [r("18:00", "21:00")];
        assert!(matches!(
            check(&request(&d, &evening))[..],
            [BookingProblem::Blocked { .. }]
        ));
        let gap = [r("9:00", "12:00"), r("18:00", "21:00")];
        assert!(check(&request(&d, &gap)).contains(&BookingProblem::NotConsecutive));
        let odd = [r("10:00", "11:00")];
        assert!(matches!(
            check(&request(&d, &odd))[0],
            BookingProblem::UnknownSlot { .. }
        ));

        let morning = [r("9:00", "12:00")];
        let mut req = request(&d, &morning);
        req.window = None;
        assert_eq!(check(&req), vec![BookingProblem::CategoryNotAllowed]);
        req.counter_override = true;
        assert_eq!(check(&req), vec![], "the counter may book for any category");

        let mut req = request(&d, &morning);
        req.today = NaiveDate::from_ymd_opt(2026, 10, 31).unwrap_or_default();
        assert!(matches!(
            check(&req)[..],
            [BookingProblem::OutsideWindow { .. }]
        ));
        req.today = NaiveDate::from_ymd_opt(2027, 2, 1).unwrap_or_default();
        assert_eq!(check(&req), vec![BookingProblem::InThePast]);

        let mut req = request(&d, &morning);
        req.monthly_count = 4;
        req.people = 101;
        req.min_minutes = 240;
        let problems = check(&req);
        assert!(problems.contains(&BookingProblem::OverMonthlyLimit { limit: 4 }));
        assert!(problems.contains(&BookingProblem::TooManyPeople { capacity: 100 }));
        assert!(problems.contains(&BookingProblem::BelowMinimum { minutes: 240 }));
        assert!(problems.iter().all(|p| !p.message().is_empty()));

        let closed = day(DayStatus::Closed {
            reason: "休館日（毎週月曜日）".into(),
        });
        assert!(matches!(
            check(&request(&closed, &morning))[..],
            [BookingProblem::ClosedDay { .. }]
        ));
        assert!(
            check(&request(&closed, &morning))[0]
                .message()
                .contains("休館日")
        );
    }

    proptest! {
        /// Two ranges share a cell exactly when they overlap (on the 15-minute grid).
        #[test]
        fn cells_overlap_iff_ranges_overlap(a in 0u16..95, al in 1u16..8, b in 0u16..95, bl in 1u16..8) {
            let mk = |s: u16, l: u16| {
                let start = crate::time_of_day::TimeOfDay::from_minutes(s * 15);
                let end = crate::time_of_day::TimeOfDay::from_minutes(((s + l).min(96)) * 15);
                start.zip(end).and_then(|(s, e)| TimeRange::new(s, e).ok())
            };
            if let (Some(x), Some(y)) = (mk(a, al), mk(b, bl)) {
                let cx = cells(&x);
                let cy = cells(&y);
                let share = cx.start < cy.end && cy.start < cx.end;
                prop_assert_eq!(share, x.overlaps(&y));
            }
        }

        /// Availability: free when no asked unit is taken, booked when all are.
        #[test]
        fn availability_follows_taken_units(units in proptest::collection::btree_set(0i64..6, 1..4), taken in proptest::collection::btree_set(0i64..6, 0..6)) {
            let state = slot_availability(&units, &taken);
            let busy = units.intersection(&taken).count();
            prop_assert_eq!(state == Availability::Free, busy == 0);
            prop_assert_eq!(state == Availability::Booked, busy == units.len());
        }
    }
}
