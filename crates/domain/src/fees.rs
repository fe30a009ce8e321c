//! 施設使用料 (A28) and the quote shown before booking (U08). Fees are integer yen.
//!
//! Rounding, used everywhere here: a per-hour fee is computed per booked slot and
//! per rule as floor(amount × minutes / 60) yen, per-hour equipment likewise over
//! the booked minutes, and a 減免 is floor(base × percent / 100) yen, so the town
//! never charges for a part-yen and never reduces more than the percentage says.

use chrono::NaiveDate;

use crate::calendar::DaySet;
use crate::time_of_day::{TimeRange, format_minutes};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeRule {
    /// None = every user category.
    pub category_id: Option<i64>,
    pub days: DaySet,
    pub band: TimeRange,
    pub per_hour: bool,
    pub amount: i64,
}

impl FeeRule {
    /// "土日祝 9:00〜17:00 1時間 500円", "月〜金 9:00〜12:00 1枠 2,000円".
    pub fn label(&self) -> String {
        let unit = if self.per_hour { "1時間" } else { "1枠" };
        format!(
            "{} {} {unit} {}",
            self.days.label(),
            self.band,
            format_yen(self.amount)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EquipmentCharge {
    pub name: String,
    pub per_hour: bool,
    pub unit_fee: i64,
    pub quantity: u32,
}

/// 減免.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reduction {
    /// 0..=100; more is treated as 100.
    pub percent: u8,
    pub reason: String,
    pub include_equipment: bool,
}

pub struct QuoteRequest<'a> {
    pub date: NaiveDate,
    pub is_holiday: bool,
    pub category_id: i64,
    pub slots: &'a [TimeRange],
    pub rules: &'a [FeeRule],
    pub equipment: &'a [EquipmentCharge],
    pub reduction: Option<&'a Reduction>,
    /// Shortest total use, in minutes, over all booked slots.
    pub min_minutes: u32,
}

/// `amount` is negative only for the reduction line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteItem {
    pub label: String,
    pub detail: String,
    pub amount: i64,
}

/// The items always sum to `total`, which is never negative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    pub items: Vec<QuoteItem>,
    pub total: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuoteError {
    #[error("{range}の使用料が設定されていないため、料金を計算できません。")]
    NoRule { range: TimeRange },
    #[error(
        "利用時間が{}です。{}以上で予約してください。",
        format_minutes(*.minutes),
        format_minutes(*.min_minutes)
    )]
    BelowMinimum { minutes: u32, min_minutes: u32 },
    #[error("予約枠が選ばれていません。")]
    NoSlots,
}

const ROOM_FEE: &str = "施設使用料";

/// "1,000円", "-500円".
pub fn format_yen(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if amount < 0 { "-" } else { "" };
    format!("{sign}{grouped}円")
}

/// floor(amount × minutes / 60); a negative amount (refused by [`validate_rules`])
/// counts as 0 so a bad setting cannot make a quote negative.
fn per_hour_fee(amount: i64, minutes: u32) -> i64 {
    let yen = i128::from(amount.max(0)) * i128::from(minutes) / 60;
    i64::try_from(yen).unwrap_or(i64::MAX)
}

fn subtract(pieces: &[TimeRange], cut: &TimeRange) -> Vec<TimeRange> {
    let mut out = Vec::new();
    for p in pieces {
        if !p.overlaps(cut) {
            out.push(*p);
            continue;
        }
        if p.start < cut.start {
            out.push(TimeRange {
                start: p.start,
                end: cut.start,
            });
        }
        if cut.end < p.end {
            out.push(TimeRange {
                start: cut.end,
                end: p.end,
            });
        }
    }
    out
}

/// The room fee items for one slot. Rules of the user's own category are tried
/// first; whatever part of the slot they leave uncovered falls to the rules for
/// every category.
fn slot_items(slot: TimeRange, tiers: [&[&FeeRule]; 2]) -> Result<Vec<QuoteItem>, QuoteError> {
    let mut uncovered = vec![slot];
    let mut items = Vec::new();
    for tier in tiers {
        if uncovered.is_empty() {
            break;
        }
        // A per-slot fee is for a whole slot, so only while nothing is charged yet.
        if uncovered == [slot]
            && let Some(rule) = tier.iter().find(|r| !r.per_hour && r.band.contains(&slot))
        {
            items.push(QuoteItem {
                label: ROOM_FEE.to_string(),
                detail: format!("{slot}（1枠 {}）", format_yen(rule.amount.max(0))),
                amount: rule.amount.max(0),
            });
            uncovered.clear();
            break;
        }
        for rule in tier.iter().filter(|r| r.per_hour) {
            let pieces: Vec<TimeRange> = uncovered
                .iter()
                .filter_map(|u| u.intersection(&rule.band))
                .collect();
            if pieces.is_empty() {
                continue;
            }
            let minutes: u32 = pieces.iter().map(TimeRange::minutes).sum();
            let shown: Vec<String> = pieces.iter().map(ToString::to_string).collect();
            items.push(QuoteItem {
                label: ROOM_FEE.to_string(),
                detail: format!(
                    "{}（1時間 {} × {}）",
                    shown.join("、"),
                    format_yen(rule.amount.max(0)),
                    format_minutes(minutes)
                ),
                amount: per_hour_fee(rule.amount, minutes),
            });
            uncovered = subtract(&uncovered, &rule.band);
        }
    }
    match uncovered.first() {
        Some(range) => Err(QuoteError::NoRule { range: *range }),
        None => Ok(items),
    }
}

fn sum(items: &[QuoteItem]) -> i64 {
    items
        .iter()
        .fold(0i64, |acc, i| acc.saturating_add(i.amount))
}

/// One line of equipment for `minutes` of use (per hour, or per use).
pub fn equipment_item(e: &EquipmentCharge, minutes: u32) -> QuoteItem {
    let unit = e.unit_fee.max(0);
    let per_use = unit.saturating_mul(i64::from(e.quantity));
    let name = e.name.trim();
    let label = if name.is_empty() { "備品" } else { name };
    let (detail, amount) = if e.per_hour {
        (
            format!(
                "{} × {}点 × {}",
                format_yen(unit),
                e.quantity,
                format_minutes(minutes)
            ),
            per_hour_fee(per_use, minutes),
        )
    } else {
        (format!("{} × {}点", format_yen(unit), e.quantity), per_use)
    };
    QuoteItem {
        label: label.to_string(),
        detail,
        amount,
    }
}

/// The fee for a booking of `slots` on one day. Slots with end ≤ start count as
/// nothing booked.
pub fn quote(req: &QuoteRequest<'_>) -> Result<Quote, QuoteError> {
    let mut slots: Vec<TimeRange> = req
        .slots
        .iter()
        .copied()
        .filter(TimeRange::is_valid)
        .collect();
    if slots.is_empty() {
        return Err(QuoteError::NoSlots);
    }
    slots.sort_by_key(|s| (s.start, s.end));
    let minutes: u32 = slots.iter().map(TimeRange::minutes).sum();
    if minutes < req.min_minutes {
        return Err(QuoteError::BelowMinimum {
            minutes,
            min_minutes: req.min_minutes,
        });
    }

    let today: Vec<&FeeRule> = req
        .rules
        .iter()
        .filter(|r| r.days.matches(req.date, req.is_holiday))
        .collect();
    let own: Vec<&FeeRule> = today
        .iter()
        .copied()
        .filter(|r| r.category_id == Some(req.category_id))
        .collect();
    let general: Vec<&FeeRule> = today
        .iter()
        .copied()
        .filter(|r| r.category_id.is_none())
        .collect();

    let mut room = Vec::new();
    for slot in &slots {
        room.extend(slot_items(*slot, [&own, &general])?);
    }

    let equipment: Vec<QuoteItem> = req
        .equipment
        .iter()
        .filter(|e| e.quantity > 0)
        .map(|e| equipment_item(e, minutes))
        .collect();

    let reduction = req.reduction.filter(|r| r.percent > 0).map(|r| {
        let percent = r.percent.min(100);
        let base = if r.include_equipment {
            sum(&room).saturating_add(sum(&equipment))
        } else {
            sum(&room)
        };
        let cut = i128::from(base) * i128::from(percent) / 100;
        let cut = i64::try_from(cut).unwrap_or(base);
        let reason = r.reason.trim();
        let target = if r.include_equipment {
            "使用料・備品"
        } else {
            "使用料"
        };
        let detail = if reason.is_empty() {
            format!("{percent}%（対象: {target} {}）", format_yen(base))
        } else {
            format!("{reason} {percent}%（対象: {target} {}）", format_yen(base))
        };
        QuoteItem {
            label: "減免".to_string(),
            detail,
            amount: -cut,
        }
    });

    let mut items = room;
    items.extend(equipment);
    items.extend(reduction);
    let total = sum(&items);
    Ok(Quote { items, total })
}

/// Staff-input checks on fee rules, by row: negative amount, no day, bad band,
/// and two rules for the same category whose days and bands overlap (which one
/// applies would depend on row order).
pub fn validate_rules(rules: &[FeeRule]) -> Vec<(usize, String)> {
    let mut errors = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        if rule.amount < 0 {
            errors.push((i, "金額は0円以上で入力してください。".to_string()));
        }
        if rule.days.is_empty() {
            errors.push((i, "曜日を1つ以上選んでください。".to_string()));
        }
        if !rule.band.is_valid() {
            errors.push((
                i,
                format!(
                    "終了時刻（{}）は開始時刻（{}）より後にしてください。",
                    rule.band.end, rule.band.start
                ),
            ));
            continue;
        }
        if let Some(other) = rules[..i].iter().find(|o| {
            o.category_id == rule.category_id
                && o.days.intersects(&rule.days)
                && o.band.overlaps(&rule.band)
        }) {
            errors.push((
                i,
                format!(
                    "「{} {}」の料金と曜日・時間帯が重なっています。",
                    other.days.label(),
                    other.band
                ),
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time_of_day::TimeOfDay;
    use proptest::prelude::*;

    fn r(a: &str, b: &str) -> TimeRange {
        TimeRange::parse(a, b).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    const RESIDENT: i64 = 1;
    const OTHER: i64 = 2;

    /// The gym: weekday slots at a flat fee, evenings dearer by the hour, residents
    /// cheaper in the daytime.
    fn gym_rules() -> Vec<FeeRule> {
        vec![
            FeeRule {
                category_id: Some(RESIDENT),
                days: DaySet::ALL,
                band: r("9:00", "17:00"),
                per_hour: true,
                amount: 500,
            },
            FeeRule {
                category_id: None,
                days: DaySet::ALL,
                band: r("9:00", "17:00"),
                per_hour: true,
                amount: 1000,
            },
            FeeRule {
                category_id: None,
                days: DaySet::ALL,
                band: r("17:00", "21:00"),
                per_hour: true,
                amount: 1500,
            },
        ]
    }

    fn request<'a>(
        slots: &'a [TimeRange],
        rules: &'a [FeeRule],
        category_id: i64,
    ) -> QuoteRequest<'a> {
        QuoteRequest {
            date: date(2026, 6, 2),
            is_holiday: false,
            category_id,
            slots,
            rules,
            equipment: &[],
            reduction: None,
            min_minutes: 0,
        }
    }

    fn amounts(q: &Quote) -> Vec<i64> {
        q.items.iter().map(|i| i.amount).collect()
    }

    #[test]
    fn formats_yen() {
        assert_eq!(format_yen(0), "0円");
        assert_eq!(format_yen(500), "500円");
        assert_eq!(format_yen(1000), "1,000円");
        assert_eq!(format_yen(1234567), "1,234,567円");
        assert_eq!(format_yen(-2500), "-2,500円");
    }

    #[test]
    fn per_hour_slot_across_two_bands_is_split() {
        let rules = gym_rules();
        let slots = [r("16:00", "18:30")];
        let q = quote(&request(&slots, &rules, OTHER)).unwrap();
        assert_eq!(amounts(&q), vec![1000, 2250]);
        assert_eq!(q.total, 3250);
        assert_eq!(q.items[0].detail, "16:00〜17:00（1時間 1,000円 × 1時間）");
        assert_eq!(
            q.items[1].detail,
            "17:00〜18:30（1時間 1,500円 × 1時間30分）"
        );
    }

    #[test]
    fn own_category_wins_and_general_fills_the_rest() {
        let rules = gym_rules();
        let slots = [r("16:00", "18:00")];
        let q = quote(&request(&slots, &rules, RESIDENT)).unwrap();
        // 16〜17 at the resident rate, 17〜18 at the general evening rate.
        assert_eq!(amounts(&q), vec![500, 1500]);
        let q = quote(&request(&[r("9:00", "12:00")], &rules, RESIDENT)).unwrap();
        assert_eq!(q.total, 1500);
        let q = quote(&request(&[r("9:00", "12:00")], &rules, OTHER)).unwrap();
        assert_eq!(q.total, 3000);
    }

    #[test]
    fn per_slot_rule_charges_each_slot_inside_its_band() {
        let rules = [
            FeeRule {
                category_id: None,
                days: DaySet::WEEKDAYS,
                band: r("9:00", "17:00"),
                per_hour: false,
                amount: 2000,
            },
            FeeRule {
                category_id: None,
                days: DaySet::WEEKDAYS,
                band: r("18:00", "21:00"),
                per_hour: false,
                amount: 3000,
            },
        ];
        let slots = [r("13:00", "17:00"), r("9:00", "12:00"), r("18:00", "21:00")];
        let q = quote(&request(&slots, &rules, OTHER)).unwrap();
        // Sorted by time.
        assert_eq!(amounts(&q), vec![2000, 2000, 3000]);
        assert_eq!(q.items[0].detail, "9:00〜12:00（1枠 2,000円）");
        assert_eq!(q.total, 7000);
        // A slot sticking out of the band is not covered by a per-slot rule.
        assert_eq!(
            quote(&request(&[r("16:00", "18:00")], &rules, OTHER)),
            Err(QuoteError::NoRule {
                range: r("16:00", "18:00")
            })
        );
        // Weekend: no rule.
        let mut req = request(&slots, &rules, OTHER);
        req.date = date(2026, 6, 6);
        assert!(matches!(quote(&req), Err(QuoteError::NoRule { .. })));
    }

    #[test]
    fn holiday_uses_holiday_rules_only() {
        let rules = [
            FeeRule {
                category_id: None,
                days: DaySet::WEEKDAYS,
                band: r("9:00", "21:00"),
                per_hour: true,
                amount: 1000,
            },
            FeeRule {
                category_id: None,
                days: DaySet::WEEKEND_AND_HOLIDAYS,
                band: r("9:00", "21:00"),
                per_hour: true,
                amount: 1200,
            },
        ];
        let slots = [r("10:00", "11:00")];
        let mut req = request(&slots, &rules, OTHER);
        assert_eq!(quote(&req).unwrap().total, 1000);
        req.is_holiday = true;
        assert_eq!(quote(&req).unwrap().total, 1200);
    }

    #[test]
    fn uncovered_part_is_reported() {
        let rules = gym_rules();
        let err = quote(&request(&[r("20:00", "22:00")], &rules, OTHER)).unwrap_err();
        assert_eq!(
            err,
            QuoteError::NoRule {
                range: r("21:00", "22:00")
            }
        );
        assert_eq!(
            err.to_string(),
            "21:00〜22:00の使用料が設定されていないため、料金を計算できません。"
        );
    }

    #[test]
    fn no_slots_and_minimum() {
        let rules = gym_rules();
        assert_eq!(
            quote(&request(&[], &rules, OTHER)),
            Err(QuoteError::NoSlots)
        );
        assert_eq!(
            QuoteError::NoSlots.to_string(),
            "予約枠が選ばれていません。"
        );
        let slots = [r("9:00", "9:30")];
        let mut req = request(&slots, &rules, OTHER);
        req.min_minutes = 60;
        let err = quote(&req).unwrap_err();
        assert_eq!(
            err,
            QuoteError::BelowMinimum {
                minutes: 30,
                min_minutes: 60
            }
        );
        assert_eq!(
            err.to_string(),
            "利用時間が30分です。1時間以上で予約してください。"
        );
    }

    #[test]
    fn per_hour_rounds_down_per_slot() {
        let rules = [FeeRule {
            category_id: None,
            days: DaySet::ALL,
            band: r("9:00", "21:00"),
            per_hour: true,
            amount: 1000,
        }];
        // 20 minutes of 1,000円/h = 333.33… → 333 for each slot.
        let slots = [r("9:00", "9:20"), r("10:00", "10:20")];
        let q = quote(&request(&slots, &rules, OTHER)).unwrap();
        assert_eq!(amounts(&q), vec![333, 333]);
        assert_eq!(q.total, 666);
    }

    #[test]
    fn equipment_and_reduction() {
        let rules = gym_rules();
        let slots = [r("9:00", "12:00")];
        let equipment = [
            EquipmentCharge {
                name: "卓球台".to_string(),
                per_hour: true,
                unit_fee: 100,
                quantity: 2,
            },
            EquipmentCharge {
                name: "放送設備".to_string(),
                per_hour: false,
                unit_fee: 500,
                quantity: 1,
            },
            EquipmentCharge {
                name: "得点板".to_string(),
                per_hour: false,
                unit_fee: 200,
                quantity: 0,
            },
        ];
        let reduction = Reduction {
            percent: 50,
            reason: "町内の学校行事".to_string(),
            include_equipment: false,
        };
        let mut req = request(&slots, &rules, OTHER);
        req.equipment = &equipment;
        req.reduction = Some(&reduction);
        let q = quote(&req).unwrap();
        assert_eq!(amounts(&q), vec![3000, 600, 500, -1500]);
        assert_eq!(q.total, 2600);
        assert_eq!(q.items[1].label, "卓球台");
        assert_eq!(q.items[1].detail, "100円 × 2点 × 3時間");
        assert_eq!(q.items[3].label, "減免");
        assert_eq!(
            q.items[3].detail,
            "町内の学校行事 50%（対象: 使用料 3,000円）"
        );

        let with_equipment = Reduction {
            percent: 30,
            reason: String::new(),
            include_equipment: true,
        };
        req.reduction = Some(&with_equipment);
        let q = quote(&req).unwrap();
        // 30% of 4,100 = 1,230.
        assert_eq!(q.items.last().unwrap().amount, -1230);
        assert_eq!(q.total, 2870);
    }

    #[test]
    fn full_reduction_makes_the_room_fee_zero() {
        let rules = gym_rules();
        let slots = [r("16:00", "18:30")];
        let equipment = [EquipmentCharge {
            name: "卓球台".to_string(),
            per_hour: false,
            unit_fee: 300,
            quantity: 1,
        }];
        let reduction = Reduction {
            percent: 100,
            reason: "町主催".to_string(),
            include_equipment: false,
        };
        let mut req = request(&slots, &rules, OTHER);
        req.reduction = Some(&reduction);
        assert_eq!(quote(&req).unwrap().total, 0);
        req.equipment = &equipment;
        assert_eq!(quote(&req).unwrap().total, 300);
    }

    #[test]
    fn validate_rules_finds_problems() {
        let mut rules = gym_rules();
        rules.push(FeeRule {
            category_id: None,
            days: DaySet::WEEKEND_AND_HOLIDAYS,
            band: r("16:00", "18:00"),
            per_hour: true,
            amount: -1,
        });
        rules.push(FeeRule {
            category_id: Some(OTHER),
            days: DaySet::EMPTY,
            band: r("9:00", "12:00"),
            per_hour: false,
            amount: 100,
        });
        assert!(validate_rules(&gym_rules()).is_empty());
        assert_eq!(
            validate_rules(&rules),
            vec![
                (3, "金額は0円以上で入力してください。".to_string()),
                (
                    3,
                    "「毎日 9:00〜17:00」の料金と曜日・時間帯が重なっています。".to_string()
                ),
                (4, "曜日を1つ以上選んでください。".to_string()),
            ]
        );
    }

    // --- Properties ---

    fn any_range() -> impl Strategy<Value = TimeRange> {
        (0u16..1440, 1u16..300).prop_map(|(a, len)| TimeRange {
            start: TimeOfDay::from_minutes(a).unwrap(),
            end: TimeOfDay::from_minutes((a + len).min(1440)).unwrap(),
        })
    }

    fn any_rule() -> impl Strategy<Value = FeeRule> {
        (
            proptest::option::of(1i64..3),
            any::<u8>(),
            any_range(),
            any::<bool>(),
            -100i64..5000,
        )
            .prop_map(|(category_id, bits, band, per_hour, amount)| FeeRule {
                category_id,
                days: DaySet::from_bits(bits),
                band,
                per_hour,
                amount,
            })
    }

    fn any_equipment() -> impl Strategy<Value = EquipmentCharge> {
        (any::<bool>(), -100i64..2000, 0u32..5).prop_map(|(per_hour, unit_fee, quantity)| {
            EquipmentCharge {
                name: "備品".to_string(),
                per_hour,
                unit_fee,
                quantity,
            }
        })
    }

    proptest! {
        #[test]
        fn quote_items_sum_to_a_non_negative_total(
            mut rules in proptest::collection::vec(any_rule(), 0..6),
            slots in proptest::collection::vec(any_range(), 0..4),
            equipment in proptest::collection::vec(any_equipment(), 0..3),
            percent in proptest::option::of(0u8..=120),
            include_equipment: bool,
            is_holiday: bool,
            category_id in 1i64..3,
        ) {
            // One catch-all rule half the time, so that many quotes succeed.
            if percent.is_some_and(|p| p % 2 == 0) {
                rules.push(FeeRule {
                    category_id: None,
                    days: DaySet::ALL,
                    band: TimeRange { start: TimeOfDay::MIDNIGHT, end: TimeOfDay::END_OF_DAY },
                    per_hour: true,
                    amount: 700,
                });
            }
            let reduction = percent.map(|percent| Reduction {
                percent,
                reason: "減免".to_string(),
                include_equipment,
            });
            let req = QuoteRequest {
                date: date(2026, 6, 2),
                is_holiday,
                category_id,
                slots: &slots,
                rules: &rules,
                equipment: &equipment,
                reduction: reduction.as_ref(),
                min_minutes: 0,
            };
            match quote(&req) {
                Ok(q) => {
                    prop_assert_eq!(q.items.iter().map(|i| i.amount).sum::<i64>(), q.total);
                    prop_assert!(q.total >= 0);
                    for item in &q.items {
                        prop_assert!(item.amount >= 0 || item.label == "減免");
                    }
                    if percent.is_some_and(|p| p >= 100) {
                        let room: i64 = q.items.iter().filter(|i| i.label == ROOM_FEE).map(|i| i.amount).sum();
                        let equip: i64 = q.items.iter().filter(|i| i.label == "備品").map(|i| i.amount).sum();
                        let expected = if include_equipment { 0 } else { equip };
                        prop_assert_eq!(q.total, expected, "room fee {} fully reduced", room);
                    }
                }
                Err(QuoteError::NoSlots) => prop_assert!(slots.is_empty()),
                Err(QuoteError::NoRule { range }) => {
                    prop_assert!(slots.iter().any(|s| s.contains(&range)));
                }
                Err(QuoteError::BelowMinimum { .. }) => prop_assert!(false, "min_minutes is 0"),
            }
        }

        #[test]
        fn split_fee_matches_minutes(start in 0u16..1200, len in 1u16..240, day in 0i64..5000, night in 0i64..5000) {
            let slot = TimeRange {
                start: TimeOfDay::from_minutes(start).unwrap(),
                end: TimeOfDay::from_minutes(start + len).unwrap(),
            };
            let split = TimeOfDay::from_minutes(1020).unwrap();
            let rules = [
                FeeRule { category_id: None, days: DaySet::ALL, band: TimeRange { start: TimeOfDay::MIDNIGHT, end: split }, per_hour: true, amount: day },
                FeeRule { category_id: None, days: DaySet::ALL, band: TimeRange { start: split, end: TimeOfDay::END_OF_DAY }, per_hour: true, amount: night },
            ];
            let q = quote(&request(&[slot], &rules, OTHER)).unwrap();
            let day_minutes = u32::from(split.minutes().saturating_sub(slot.start.minutes()).min(len));
            let night_minutes = u32::from(len) - day_minutes;
            prop_assert_eq!(q.total, day * i64::from(day_minutes) / 60 + night * i64::from(night_minutes) / 60);
        }
    }
}
