//! When a user category may book (受付期間, A14) and until when a booking may be
//! changed or cancelled (A21). Dates only: the caller passes today in Japan time.

use chrono::{Datelike, Days, Months, NaiveDate};

/// How far ahead a user category may book: e.g. residents 2 months ahead opening on the 1st, others 1 month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookingWindow {
    /// On `opens_on_day` (1..=28) of each month, booking opens up to the end of the
    /// month `months` ahead; before that day only up to the end of the month before.
    MonthsAhead { months: u32, opens_on_day: u32 },
    /// Up to `days` days after today.
    DaysAhead { days: u32 },
}

fn end_of_month(first: NaiveDate) -> NaiveDate {
    first
        .checked_add_months(Months::new(1))
        .and_then(|d| d.pred_opt())
        .unwrap_or(NaiveDate::MAX)
}

impl BookingWindow {
    /// The last date a booking made today may be for. It can be before today (a
    /// zero-month window before its opening day), meaning nothing is bookable.
    pub fn last_bookable_date(&self, today: NaiveDate) -> NaiveDate {
        match *self {
            BookingWindow::MonthsAhead {
                months,
                opens_on_day,
            } => {
                // Out-of-range settings are clamped rather than refused: days 29–31
                // do not exist in every month.
                let opens_on_day = opens_on_day.clamp(1, 28);
                let first = today.with_day(1).unwrap_or(today);
                let opened = today.day() >= opens_on_day;
                let target = match (opened, months) {
                    (true, m) => first.checked_add_months(Months::new(m)),
                    (false, 0) => first.checked_sub_months(Months::new(1)),
                    (false, m) => first.checked_add_months(Months::new(m - 1)),
                };
                target.map(end_of_month).unwrap_or(NaiveDate::MAX)
            }
            BookingWindow::DaysAhead { days } => today
                .checked_add_days(Days::new(u64::from(days)))
                .unwrap_or(NaiveDate::MAX),
        }
    }

    /// Whether a booking for `date` may be made today.
    pub fn allows(&self, date: NaiveDate, today: NaiveDate) -> bool {
        today <= date && date <= self.last_bookable_date(today)
    }

    /// "2か月先の月末まで（毎月1日に受付開始）", "30日先まで".
    pub fn label(&self) -> String {
        match *self {
            BookingWindow::MonthsAhead {
                months,
                opens_on_day,
            } => {
                let day = opens_on_day.clamp(1, 28);
                if months == 0 {
                    format!("今月末まで（毎月{day}日に受付開始）")
                } else {
                    format!("{months}か月先の月末まで（毎月{day}日に受付開始）")
                }
            }
            BookingWindow::DaysAhead { days } => format!("{days}日先まで"),
        }
    }
}

/// One deadline before the use date (A21): until `days_before` days before
/// it, and whether residents may act online at all (otherwise only at the
/// counter, where staff are not bound by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    pub days_before: u32,
    pub online: bool,
}

impl Deadline {
    /// The last day the resident may act online (inclusive).
    pub fn last_date(&self, use_date: NaiveDate) -> NaiveDate {
        use_date
            .checked_sub_days(Days::new(u64::from(self.days_before)))
            .unwrap_or(NaiveDate::MIN)
    }

    /// Whether the resident may act online today.
    pub fn open_on(&self, use_date: NaiveDate, today: NaiveDate) -> bool {
        self.online && today <= self.last_date(use_date)
    }

    /// "利用日の3日前まで", "利用日の当日まで".
    pub fn until(&self) -> String {
        if self.days_before == 0 {
            "利用日の当日まで".to_string()
        } else {
            format!("利用日の{}日前まで", self.days_before)
        }
    }

    /// "利用日の3日前まで（インターネットで取消できます）",
    /// "利用日の3日前まで（取消は窓口のみ）" for `action` = 取消.
    pub fn label(&self, action: &str) -> String {
        if self.online {
            format!("{}（インターネットで{action}できます）", self.until())
        } else {
            format!("{}（{action}は窓口のみ）", self.until())
        }
    }
}

/// A facility's two deadlines (A21): changing a reservation and cancelling
/// it are separate, since towns often allow a late cancellation (the slot
/// can still be offered to others) but not a late change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    pub change: Deadline,
    pub cancel: Deadline,
}

impl Deadlines {
    /// "変更: 利用日の3日前まで（インターネットで変更できます）／取消: 利用日の1日前まで（…）".
    pub fn label(&self) -> String {
        format!(
            "変更: {}／取消: {}",
            self.change.label("変更"),
            self.cancel.label("取消")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn months_ahead_examples() {
        let residents = BookingWindow::MonthsAhead {
            months: 2,
            opens_on_day: 1,
        };
        assert_eq!(
            residents.last_bookable_date(date(2026, 11, 25)),
            date(2027, 1, 31)
        );
        assert_eq!(
            residents.last_bookable_date(date(2026, 12, 1)),
            date(2027, 2, 28)
        );
        assert_eq!(
            residents.last_bookable_date(date(2027, 12, 31)),
            date(2028, 2, 29)
        );
        assert_eq!(residents.label(), "2か月先の月末まで（毎月1日に受付開始）");

        let others = BookingWindow::MonthsAhead {
            months: 1,
            opens_on_day: 15,
        };
        assert_eq!(
            others.last_bookable_date(date(2026, 11, 14)),
            date(2026, 11, 30)
        );
        assert_eq!(
            others.last_bookable_date(date(2026, 11, 15)),
            date(2026, 12, 31)
        );
        assert!(others.allows(date(2026, 12, 31), date(2026, 11, 15)));
        assert!(!others.allows(date(2027, 1, 1), date(2026, 11, 15)));
        assert!(!others.allows(date(2026, 11, 14), date(2026, 11, 15)));
        assert_eq!(others.label(), "1か月先の月末まで（毎月15日に受付開始）");
    }

    #[test]
    fn zero_months_and_clamping() {
        let this_month = BookingWindow::MonthsAhead {
            months: 0,
            opens_on_day: 10,
        };
        assert_eq!(
            this_month.last_bookable_date(date(2026, 3, 10)),
            date(2026, 3, 31)
        );
        // Before the opening day nothing is bookable yet.
        assert_eq!(
            this_month.last_bookable_date(date(2026, 3, 9)),
            date(2026, 2, 28)
        );
        assert!(!this_month.allows(date(2026, 3, 9), date(2026, 3, 9)));
        assert_eq!(this_month.label(), "今月末まで（毎月10日に受付開始）");
        let bad = BookingWindow::MonthsAhead {
            months: 1,
            opens_on_day: 31,
        };
        assert_eq!(bad.last_bookable_date(date(2026, 2, 28)), date(2026, 3, 31));
        assert_eq!(bad.last_bookable_date(date(2026, 2, 27)), date(2026, 2, 28));
    }

    #[test]
    fn days_ahead() {
        let w = BookingWindow::DaysAhead { days: 30 };
        assert_eq!(w.last_bookable_date(date(2026, 12, 15)), date(2027, 1, 14));
        assert_eq!(w.label(), "30日先まで");
    }

    #[test]
    fn deadlines() {
        let online = Deadline {
            days_before: 3,
            online: true,
        };
        let use_date = date(2026, 6, 10);
        assert!(online.open_on(use_date, date(2026, 6, 7)));
        assert!(!online.open_on(use_date, date(2026, 6, 8)));
        assert_eq!(online.last_date(use_date), date(2026, 6, 7));
        assert_eq!(
            online.label("変更"),
            "利用日の3日前まで（インターネットで変更できます）"
        );
        let counter = Deadline {
            days_before: 3,
            online: false,
        };
        assert!(!counter.open_on(use_date, date(2026, 6, 1)));
        assert_eq!(counter.label("取消"), "利用日の3日前まで（取消は窓口のみ）");
        let same_day = Deadline {
            days_before: 0,
            online: true,
        };
        assert!(same_day.open_on(use_date, use_date));
        assert!(!same_day.open_on(use_date, date(2026, 6, 11)));
        assert_eq!(same_day.until(), "利用日の当日まで");

        // A late cancellation may be allowed where a late change is not.
        let both = Deadlines {
            change: online,
            cancel: Deadline {
                days_before: 1,
                online: true,
            },
        };
        let late = date(2026, 6, 8);
        assert!(!both.change.open_on(use_date, late));
        assert!(both.cancel.open_on(use_date, late));
        assert_eq!(
            both.label(),
            "変更: 利用日の3日前まで（インターネットで変更できます）／取消: 利用日の1日前まで（インターネットで取消できます）"
        );
    }

    proptest! {
        #[test]
        fn months_ahead_ends_a_month_and_grows_with_months(
            offset in 0u64..4000,
            months in 1u32..24,
            opens_on_day in 1u32..=28,
        ) {
            let today = date(2024, 1, 1) + Days::new(offset);
            let w = BookingWindow::MonthsAhead { months, opens_on_day };
            let last = w.last_bookable_date(today);
            prop_assert!(last >= today);
            prop_assert_eq!(last.succ_opt().unwrap().day(), 1);
            let longer = BookingWindow::MonthsAhead { months: months + 1, opens_on_day };
            prop_assert!(longer.last_bookable_date(today) > last);
            // The window never shrinks from one day to the next.
            prop_assert!(w.last_bookable_date(today.succ_opt().unwrap()) >= last);
        }

        #[test]
        fn deadline_is_monotonic(days_before in 0u32..60, gap in 0i64..120) {
            let use_date = date(2026, 6, 10);
            let today = use_date - chrono::Duration::days(gap);
            let d = Deadline { days_before, online: true };
            prop_assert_eq!(d.open_on(use_date, today), gap >= i64::from(days_before));
        }
    }
}
