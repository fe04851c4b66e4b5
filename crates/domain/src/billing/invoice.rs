//! What one subscription costs in one billing period: the lines of a draft invoice, each traceable to the
//! rate, the days and the usage or time behind it. Pure: the store gathers the inputs.

use std::collections::BTreeMap;

use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::money::{extend, prorate, to_cents};
use super::period::{Period, fiscal_year};
use super::{BlockMonth, Model, Rate, block_overage, format_price, rate_on, rate_pieces};
use crate::FieldError;

/// Where a line's amount comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Trace {
    /// `YYYY-MM`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub month: Option<String>,
    /// Days of the month charged (from, to; 0-based, end excluded) when not the whole month.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days: Option<(i64, i64)>,
    /// The rate's first day.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<crate::schema::Day>")]
    pub rate_from: Option<Date>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meter: Option<String>,
    /// Usage records behind the quantity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records: Option<i64>,
    /// Billable minutes behind the quantity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minutes: Option<i64>,
    /// Cost pools: the month's part of the year's pool, in cents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool_cents: Option<i64>,
    /// Cost pools: every participant's weight that month, in whole-month terms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool_weight: Option<Decimal>,
    /// Credits: the credit the line carries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credit: Option<String>,
    /// Seats: the figure billed and the days of the hub's record it is the peak of.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub seats: Option<super::seats::Seats>,
}

/// One line of a draft invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InvoiceLine {
    pub description: String,
    pub quantity: Decimal,
    pub unit_price: Decimal,
    pub amount_cents: i64,
    pub trace: Trace,
}

/// A subscription as the invoice run sees it.
#[derive(Debug, Clone)]
pub struct Charge<'a> {
    pub name: &'a str,
    pub model: Model,
    pub unit: &'a str,
    /// Per-unit cards charged by usage.
    pub meter: &'a str,
    /// Time and materials, prepaid blocks: the activity counted ('' for all).
    pub activity: &'a str,
    pub quantity: Decimal,
    pub starts_on: Date,
    pub ends_on: Option<Date>,
    pub rates: &'a [Rate],
}

/// The derived meter of people: a per-unit card with this meter charges a seat for each person with an
/// active account at the member — the peak of the hub's daily record over the days billed
/// ([`super::seats::billed_seats`]).
pub const SEATS_METER: &str = "derived.seats";

/// What the run knows of a member.
#[derive(Debug, Clone, Default)]
pub struct Member {
    pub population: i64,
    /// People with an active account when the period is run: billed only for days without a record.
    pub active_users: i64,
    /// The hub's record of active accounts: each day's highest count (the `derived.seats` meter).
    pub seat_days: Vec<(Date, i64)>,
    /// Usage totals in millionths and record counts, by (meter, month).
    pub usage: BTreeMap<(String, String), (i64, i64)>,
    /// Billable minutes by (month, activity).
    pub minutes: BTreeMap<(String, String), i64>,
}

impl Member {
    fn minutes_in(&self, month: &str, activity: &str) -> i64 {
        self.minutes
            .iter()
            .filter(|((m, a), _)| m == month && (activity.is_empty() || a == activity))
            .map(|(_, n)| *n)
            .sum()
    }
}

fn month_key(p: &Period) -> String {
    super::period::month_key(p.start)
}

fn too_large() -> FieldError {
    FieldError::new("amount", "is over ten billion dollars")
}

/// Hours as an exact decimal of `minutes / 60` (at most six places, rounded half away from zero).
fn hours(minutes: i64) -> Decimal {
    (Decimal::from(minutes) / Decimal::from(60))
        .round_dp_with_strategy(6, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

/// `minutes × price per hour`, rounded once.
fn time_amount(minutes: i64, price: Decimal) -> Option<i64> {
    to_cents(Decimal::from(minutes).checked_mul(price)? / Decimal::from(60))
}

/// The lines of one subscription for one period. `fy_start` is the hub's fiscal-year start month.
pub fn lines(
    c: &Charge<'_>,
    m: &Member,
    period: &Period,
    fy_start: u8,
) -> Result<Vec<InvoiceLine>, FieldError> {
    let mut out = Vec::new();
    for month in period.months() {
        let Some(active) = month.overlap(c.starts_on, c.ends_on) else {
            continue;
        };
        let key = month_key(&month);
        let days = month.days();
        let partial = |a: i64, b: i64| (a != 0 || b != days).then_some((a, b));
        let seats = c.model == Model::PerUnit && c.meter == SEATS_METER;
        let metered = c.model == Model::PerUnit && !c.meter.is_empty() && !seats;
        match c.model {
            Model::Fixed | Model::PerUnit if !metered => {
                let figure = seats
                    .then(|| {
                        let day = |n: i64| month.start.checked_add(jiff::Span::new().days(n));
                        Ok::<_, FieldError>(super::seats::billed_seats(
                            day(active.0).map_err(|_| too_large())?,
                            day(active.1).map_err(|_| too_large())?,
                            &m.seat_days,
                            m.active_users,
                        ))
                    })
                    .transpose()?;
                let quantity = if c.model == Model::Fixed {
                    Decimal::ONE
                } else if let Some(f) = &figure {
                    Decimal::from(f.count)
                } else {
                    c.quantity
                };
                for (a, b, rate) in rate_pieces(&month, c.rates) {
                    let (a, b) = (a.max(active.0), b.min(active.1));
                    if a >= b {
                        continue;
                    }
                    let full = extend(quantity, rate.price).ok_or_else(too_large)?;
                    let mut description = describe(c.name, &key, partial(a, b), days);
                    if let Some(f) = &figure {
                        description = format!("{description}: {}", f.describe());
                    }
                    out.push(InvoiceLine {
                        description,
                        quantity,
                        unit_price: rate.price,
                        amount_cents: prorate(full, days, a, b),
                        trace: Trace {
                            month: Some(key.clone()),
                            days: partial(a, b),
                            rate_from: Some(rate.effective_from),
                            seats: figure,
                            ..Trace::default()
                        },
                    });
                }
            }
            Model::Fixed | Model::PerUnit => {
                // Metered: the month's recorded usage at the rate of the month's first active day.
                let (micros, records) = m
                    .usage
                    .get(&(c.meter.to_owned(), key.clone()))
                    .copied()
                    .unwrap_or((0, 0));
                let day = month
                    .start
                    .checked_add(jiff::Span::new().days(active.0))
                    .map_err(|_| too_large())?;
                let Some(rate) = rate_on(c.rates, day) else {
                    continue;
                };
                let quantity = super::usage::from_micros(micros);
                out.push(InvoiceLine {
                    description: format!("{}, {key}: {quantity} {} recorded", c.name, c.unit),
                    quantity,
                    unit_price: rate.price,
                    amount_cents: extend(quantity, rate.price).ok_or_else(too_large)?,
                    trace: Trace {
                        month: Some(key.clone()),
                        rate_from: Some(rate.effective_from),
                        meter: Some(c.meter.to_owned()),
                        records: Some(records),
                        ..Trace::default()
                    },
                });
            }
            Model::PerCapita => {
                // The year's amount spread over its twelve months, so that the months add up to it.
                let index = month_index(&month, fy_start);
                for (a, b, rate) in rate_pieces(&month, c.rates) {
                    let (a, b) = (a.max(active.0), b.min(active.1));
                    if a >= b {
                        continue;
                    }
                    let population = Decimal::from(m.population);
                    let annual = extend(population, rate.price).ok_or_else(too_large)?;
                    let monthly = prorate(annual, 12, index, index + 1);
                    out.push(InvoiceLine {
                        description: describe(c.name, &key, partial(a, b), days),
                        quantity: population,
                        unit_price: rate.price,
                        amount_cents: prorate(monthly, days, a, b),
                        trace: Trace {
                            month: Some(key.clone()),
                            days: partial(a, b),
                            rate_from: Some(rate.effective_from),
                            ..Trace::default()
                        },
                    });
                }
            }
            Model::TimeAndMaterials => {
                let minutes = m.minutes_in(&key, c.activity);
                if minutes == 0 {
                    continue;
                }
                let day = month.start;
                let Some(rate) = rate_on(c.rates, day) else {
                    continue;
                };
                out.push(InvoiceLine {
                    description: format!(
                        "{}, {key}: {} hours at {}",
                        c.name,
                        hours(minutes),
                        format_price(rate.price)
                    ),
                    quantity: hours(minutes),
                    unit_price: rate.price,
                    amount_cents: time_amount(minutes, rate.price).ok_or_else(too_large)?,
                    trace: Trace {
                        month: Some(key.clone()),
                        rate_from: Some(rate.effective_from),
                        minutes: Some(minutes),
                        ..Trace::default()
                    },
                });
            }
            Model::PrepaidHours => {
                // The block's fee, prorated like a fixed fee.
                for (a, b, rate) in rate_pieces(&month, c.rates) {
                    let (a, b) = (a.max(active.0), b.min(active.1));
                    if a >= b {
                        continue;
                    }
                    out.push(InvoiceLine {
                        description: describe(
                            &format!("{} ({} hours a month)", c.name, c.quantity),
                            &key,
                            partial(a, b),
                            days,
                        ),
                        quantity: Decimal::ONE,
                        unit_price: rate.price,
                        amount_cents: prorate(
                            to_cents(rate.price).ok_or_else(too_large)?,
                            days,
                            a,
                            b,
                        ),
                        trace: Trace {
                            month: Some(key.clone()),
                            days: partial(a, b),
                            rate_from: Some(rate.effective_from),
                            ..Trace::default()
                        },
                    });
                }
                // Hours beyond the block and what earlier months of the fiscal year left unused.
                if let Some((over, minutes)) = overage_in(c, m, &month, fy_start)
                    && over > Decimal::ZERO
                {
                    let Some(rate) = rate_on(c.rates, month.start) else {
                        continue;
                    };
                    let Some(price) = rate.overage else { continue };
                    out.push(InvoiceLine {
                        description: format!("{}, {key}: {over} hours beyond the block", c.name),
                        quantity: over,
                        unit_price: price,
                        amount_cents: extend(over, price).ok_or_else(too_large)?,
                        trace: Trace {
                            month: Some(key.clone()),
                            rate_from: Some(rate.effective_from),
                            minutes: Some(minutes),
                            ..Trace::default()
                        },
                    });
                }
            }
            Model::CostPool => {
                // Shares need every participant of the pool: see `pool::pool_lines`.
                return Err(FieldError::new(
                    "model",
                    format!(
                        "{}: a cost-pool share is split among all its participants",
                        c.name
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// The month's place in its fiscal year (0 = the first month).
fn month_index(month: &Period, fy_start: u8) -> i64 {
    let m = i64::from(month.start.month());
    (m - i64::from(fy_start)).rem_euclid(12)
}

/// Overage hours of a prepaid block in `month`, with its minutes used: the months of the fiscal year up to it,
/// from the subscription's start, carry unused hours forward.
fn overage_in(c: &Charge<'_>, m: &Member, month: &Period, fy_start: u8) -> Option<(Decimal, i64)> {
    let fy = fiscal_year(month.start, fy_start);
    let first = Period::fiscal_quarter(fy, 1, fy_start)?
        .start
        .max(c.starts_on);
    let mut months = Vec::new();
    let mut cursor = Period::month(first.year(), first.month())?;
    let used_now = loop {
        let key = month_key(&cursor);
        let minutes = m.minutes_in(&key, c.activity);
        months.push(BlockMonth {
            included: c.quantity,
            used: hours(minutes),
        });
        if cursor == *month {
            break minutes;
        }
        if cursor.start > month.start {
            return None;
        }
        cursor = Period::month(cursor.end.year(), cursor.end.month())?;
    };
    block_overage(&months)
        .last()
        .map(|(over, _)| (*over, used_now))
}

fn describe(name: &str, month: &str, days: Option<(i64, i64)>, of: i64) -> String {
    match days {
        None => format!("{name}, {month}"),
        Some((a, b)) => format!("{name}, {month}, {} of {of} days", b - a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn rates(price: &str) -> Vec<Rate> {
        vec![Rate {
            effective_from: date(2025, 7, 1),
            price: d(price),
            overage: Some(d("105")),
        }]
    }

    fn charge<'a>(model: Model, rates: &'a [Rate]) -> Charge<'a> {
        Charge {
            name: "Service",
            model,
            unit: "unit",
            meter: "",
            activity: "",
            quantity: d("120"),
            starts_on: date(2025, 7, 1),
            ends_on: None,
            rates,
        }
    }

    fn total(lines: &[InvoiceLine]) -> i64 {
        lines.iter().map(|l| l.amount_cents).sum()
    }

    #[test]
    fn per_unit_per_month_times_the_quantity() {
        let r = rates("6.50");
        let q1 = Period::fiscal_quarter(2027, 1, 7).unwrap();
        let lines = lines(&charge(Model::PerUnit, &r), &Member::default(), &q1, 7).unwrap();
        // 120 mailboxes × $6.50 × 3 months.
        assert_eq!(total(&lines), 3 * 78_000);
        assert_eq!(lines.len(), 3);
    }

    #[test]
    fn seats_are_counted_from_the_members_people() {
        let r = rates("12");
        let mut c = charge(Model::PerUnit, &r);
        c.meter = SEATS_METER;
        let m = Member {
            active_users: 37,
            ..Member::default()
        };
        let l = lines(&c, &m, &Period::month(2026, 9).unwrap(), 7).unwrap();
        // 37 people × $12, whatever the subscription's own quantity says.
        assert_eq!((l[0].quantity, l[0].amount_cents), (d("37"), 44_400));
        // No daily record: the count at the run, and the line says so.
        assert!(
            l[0].description.ends_with(
                "37 active accounts when the invoice was run (no daily record for 1–30 Sep)"
            ),
            "{}",
            l[0].description
        );
    }

    #[test]
    fn seats_bill_each_months_peak_of_the_hubs_record_not_the_count_at_the_run() {
        let r = rates("12");
        let mut c = charge(Model::PerUnit, &r);
        c.meter = SEATS_METER;
        c.starts_on = date(2026, 7, 11);
        // 40 accounts in July, 45 for a day in August, 30 in September; 5 when the quarter is run.
        let mut seat_days = vec![
            (date(2026, 7, 2), 90), // before the subscription began: not billed
            (date(2026, 7, 20), 40),
            (date(2026, 8, 1), 38),
            (date(2026, 8, 17), 45),
            (date(2026, 9, 30), 30),
        ];
        seat_days.push((date(2026, 10, 1), 5));
        let m = Member {
            active_users: 5,
            seat_days,
            ..Member::default()
        };
        let q1 = Period::fiscal_quarter(2027, 1, 7).unwrap();
        let l = lines(&c, &m, &q1, 7).unwrap();
        let counts: Vec<Decimal> = l.iter().map(|l| l.quantity).collect();
        assert_eq!(counts, [d("40"), d("45"), d("30")]);
        assert_eq!(
            l[1].description,
            "Service, 2026-08: peak of 45 active accounts, 1–31 Aug"
        );
        assert_eq!(
            l[0].description,
            "Service, 2026-07, 21 of 31 days: peak of 40 active accounts, 11–31 Jul"
        );
        let t = l[1].trace.seats.unwrap();
        assert_eq!((t.recorded_days, t.peak_on), (2, Some(date(2026, 8, 17))));
        // 45 × $12 for August, whole.
        assert_eq!(l[1].amount_cents, 54_000);
    }

    #[test]
    fn metered_usage_is_charged_as_recorded() {
        let r = rates("0.042");
        let mut c = charge(Model::PerUnit, &r);
        c.meter = "backup.gb_month";
        let mut m = Member::default();
        m.usage.insert(
            ("backup.gb_month".into(), "2026-09".into()),
            (54_321_500_000, 3),
        );
        let sept = Period::month(2026, 9).unwrap();
        let l = lines(&c, &m, &sept, 7).unwrap();
        // 54,321.5 GB-months × $0.042 = $2,281.503 → $2,281.50.
        assert_eq!(l[0].amount_cents, 228_150);
        assert_eq!(l[0].trace.records, Some(3));
    }

    #[test]
    fn per_capita_months_add_up_to_the_year() {
        let r = rates("1.15");
        let c = charge(Model::PerCapita, &r);
        let m = Member {
            population: 15_087,
            ..Member::default()
        };
        let mut year = 0;
        for q in 1..=4 {
            year += total(&lines(&c, &m, &Period::fiscal_quarter(2026, q, 7).unwrap(), 7).unwrap());
        }
        // 15,087 × $1.15 = $17,350.05, exactly, over the twelve months.
        assert_eq!(year, 1_735_005);
    }

    #[test]
    fn time_and_materials_bills_the_minutes_once_rounded() {
        let r = rates("95");
        let c = charge(Model::TimeAndMaterials, &r);
        let mut m = Member::default();
        m.minutes.insert(("2026-09".into(), "remote".into()), 25);
        m.minutes.insert(("2026-09".into(), "onsite".into()), 100);
        let l = lines(&c, &m, &Period::month(2026, 9).unwrap(), 7).unwrap();
        // 125 minutes × $95 / 60 = $197.9166… → $197.92.
        assert_eq!(l[0].amount_cents, 19_792);
        assert_eq!(l[0].trace.minutes, Some(125));
    }

    #[test]
    fn a_prepaid_block_carries_unused_hours_and_bills_the_overage() {
        let r = rates("980");
        let mut c = charge(Model::PrepaidHours, &r);
        c.quantity = d("10");
        let mut m = Member::default();
        m.minutes
            .insert(("2026-07".into(), "support".into()), 4 * 60);
        m.minutes
            .insert(("2026-08".into(), "support".into()), 19 * 60);
        let aug = Period::month(2026, 8).unwrap();
        let l = lines(&c, &m, &aug, 7).unwrap();
        // July left 6 hours: August has 16, used 19 → 3 hours at $105.
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].amount_cents, 98_000);
        assert_eq!((l[1].quantity, l[1].amount_cents), (d("3"), 31_500));
        // A new fiscal year starts with nothing carried.
        let july = Period::month(2026, 7).unwrap();
        assert_eq!(lines(&c, &m, &july, 7).unwrap().len(), 1);
    }

    proptest! {
        #[test]
        fn a_subscription_split_at_any_day_costs_the_same_as_whole(cut in 1i64..30, price in 1i64..1_000_000) {
            // Ending a subscription on day `cut` and starting an identical one there charges September in full.
            let r = vec![Rate { effective_from: date(2025, 7, 1), price: Decimal::new(price, 2), overage: None }];
            let sept = Period::month(2026, 9).unwrap();
            let split = sept.start.checked_add(jiff::Span::new().days(cut)).unwrap();
            let mut a = charge(Model::Fixed, &r);
            a.ends_on = Some(split);
            let mut b = charge(Model::Fixed, &r);
            b.starts_on = split;
            let whole = charge(Model::Fixed, &r);
            let m = Member::default();
            let parts = total(&lines(&a, &m, &sept, 7).unwrap()) + total(&lines(&b, &m, &sept, 7).unwrap());
            prop_assert_eq!(parts, total(&lines(&whole, &m, &sept, 7).unwrap()));
        }
    }
}
