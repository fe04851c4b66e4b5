//! Shared-services economics: what a subscription costs in a billing period. Pure functions over exact money
//! ([`money`]) and periods ([`period`]); the store gathers the inputs (subscriptions, rate cards, usage,
//! time entries, populations, cost pools) and keeps the results.

pub mod agreement;
pub mod finance;
pub mod invoice;
pub mod money;
pub mod period;
pub mod pool;
pub mod seats;
pub mod usage;

use std::collections::BTreeMap;

use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::FieldError;
pub use money::{allocate, format_cents, prorate};
pub use period::{Cadence, Period};

/// How a subscription is charged.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    /// A fee per month (the rate), prorated by days.
    Fixed,
    /// Units × the rate per unit per month: a quantity on the subscription (seats, mailboxes, devices) or,
    /// with a meter, the usage recorded in the period (GB-months, VMs).
    PerUnit,
    /// The member's population × the rate per resident per year, charged by the month.
    PerCapita,
    /// Billable hours from the service desk's time entries × the rate of their activity.
    TimeAndMaterials,
    /// A block of hours each month for a fee (the rate); unused hours carry over within the fiscal year;
    /// hours beyond the block and the carry-over are charged at the overage rate.
    PrepaidHours,
    /// A share of a cost pool, split among its participants by weight.
    CostPool,
}

impl Model {
    pub const ALL: [Self; 6] = [
        Self::Fixed,
        Self::PerUnit,
        Self::PerCapita,
        Self::TimeAndMaterials,
        Self::PrepaidHours,
        Self::CostPool,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fixed => "fixed",
            Self::PerUnit => "per_unit",
            Self::PerCapita => "per_capita",
            Self::TimeAndMaterials => "time_and_materials",
            Self::PrepaidHours => "prepaid_hours",
            Self::CostPool => "cost_pool",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Fixed => "Fixed fee per month",
            Self::PerUnit => "Per unit per month",
            Self::PerCapita => "Per resident per year",
            Self::TimeAndMaterials => "Time and materials",
            Self::PrepaidHours => "Prepaid block of hours",
            Self::CostPool => "Share of a cost pool",
        }
    }

    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == raw.trim())
            .ok_or_else(|| {
                FieldError::new(
                    field,
                    format!(
                        "{raw:?} is not a charging model (one of {})",
                        Self::ALL.map(Self::as_str).join(", ")
                    ),
                )
            })
    }
}

/// A price in dollars for people: at least two decimal places, thousands grouped (`1850` → `$1,850.00`,
/// `0.042` → `$0.042`).
pub fn format_price(d: Decimal) -> String {
    let d = if d.scale() < 2 { d.round_dp(2) } else { d };
    let text = format!("{:.*}", d.scale().max(2) as usize, d);
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    let whole: i64 = whole.parse().unwrap_or(0);
    format!("${}.{frac}", crate::validation::grouped(whole))
}

/// What a price means under a model, for people: "$6.50 per mailbox a month".
pub fn price_label(model: Model, unit: &str, rate: &Rate) -> String {
    let p = format_price(rate.price);
    match model {
        Model::Fixed => format!("{p} a month"),
        Model::PerUnit => format!("{p} per {unit} a month"),
        Model::PerCapita => format!("{p} per resident a year"),
        Model::TimeAndMaterials => format!("{p} per hour"),
        Model::PrepaidHours => match rate.overage {
            Some(o) => format!(
                "{p} a month for the block, then {} per hour",
                format_price(o)
            ),
            None => format!("{p} a month for the block"),
        },
        Model::CostPool => format!("{p} a year, shared by weight"),
    }
}

/// One price on a rate card, from a date on (until the next one for the same key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Rate {
    #[schemars(with = "crate::schema::Day")]
    pub effective_from: Date,
    /// Dollars per unit of the model (per month, per unit-month, per resident-year, per hour).
    pub price: Decimal,
    /// Prepaid blocks: dollars per hour beyond the block.
    pub overage: Option<Decimal>,
}

/// The price in force on `day`: the latest whose date is on or before it.
pub fn rate_on(rates: &[Rate], day: Date) -> Option<&Rate> {
    rates
        .iter()
        .filter(|r| r.effective_from <= day)
        .max_by_key(|r| r.effective_from)
}

/// The days of `period` cut where a rate starts, each piece with the rate in force over it (pieces without a
/// rate are left out): a price change mid-month charges each side at its own price.
pub fn rate_pieces<'r>(period: &Period, rates: &'r [Rate]) -> Vec<(i64, i64, &'r Rate)> {
    let mut cuts: Vec<i64> = rates
        .iter()
        .map(|r| period.offset(r.effective_from))
        .filter(|o| *o > 0 && *o < period.days())
        .collect();
    cuts.push(0);
    cuts.push(period.days());
    cuts.sort_unstable();
    cuts.dedup();
    cuts.windows(2)
        .filter_map(|w| {
            let day = period
                .start
                .checked_add(jiff::Span::new().days(w[0]))
                .ok()?;
            rate_on(rates, day).map(|r| (w[0], w[1], r))
        })
        .collect()
}

/// One line of an invoice, before it is numbered: what was charged, how much of what at which price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Line {
    pub description: String,
    pub quantity: Decimal,
    /// Dollars per unit as charged (for prorated lines, the full-period price).
    pub unit_price: Decimal,
    pub amount_cents: i64,
}

/// What a subscription is charged for one month of a period: the month, the days of it the subscription
/// was active (offsets), and the rate pieces within those days.
#[derive(Debug, Clone)]
pub struct MonthCharge {
    pub month: Period,
    pub active: (i64, i64),
}

/// The months of `period` in which a subscription running `from..until` is active, with the active days.
pub fn active_months(period: &Period, from: Date, until: Option<Date>) -> Vec<MonthCharge> {
    period
        .months()
        .into_iter()
        .filter_map(|month| {
            month
                .overlap(from, until)
                .map(|active| MonthCharge { month, active })
        })
        .collect()
}

/// A monthly charge of `monthly_cents`, prorated over the active days of each month of the period, with
/// the price cut where the rate changes. `per_month(rate)` gives the full-month amount at a rate.
pub fn monthly_lines(
    period: &Period,
    from: Date,
    until: Option<Date>,
    rates: &[Rate],
    what: &str,
    quantity: Decimal,
    per_month: impl Fn(&Rate) -> Option<i64>,
) -> Result<Vec<Line>, FieldError> {
    let mut lines = Vec::new();
    for m in active_months(period, from, until) {
        for (a, b, rate) in rate_pieces(&m.month, rates) {
            let (a, b) = (a.max(m.active.0), b.min(m.active.1));
            if a >= b {
                continue;
            }
            let full = per_month(rate)
                .ok_or_else(|| FieldError::new("rate", "the amount is over ten billion dollars"))?;
            let days = m.month.days();
            let amount = prorate(full, days, a, b);
            let label = m.month.label(7);
            let description = if a == 0 && b == days {
                format!("{what}, {label}")
            } else {
                format!("{what}, {label}, {} of {days} days", b - a)
            };
            lines.push(Line {
                description,
                quantity,
                unit_price: rate.price,
                amount_cents: amount,
            });
        }
    }
    Ok(lines)
}

/// Hours of a prepaid block in one month: used this month, and what the block and the carry-over leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockMonth {
    pub included: Decimal,
    pub used: Decimal,
}

/// Overage hours per month for a prepaid block: each month's unused hours carry over to the months after
/// it (within the list given — the store passes the fiscal year so far), and hours beyond what is left are
/// overage. Returns `(overage, carried_in)` per month.
pub fn block_overage(months: &[BlockMonth]) -> Vec<(Decimal, Decimal)> {
    let mut carry = Decimal::ZERO;
    months
        .iter()
        .map(|m| {
            let available = m.included + carry;
            let carried_in = carry;
            if m.used > available {
                carry = Decimal::ZERO;
                (m.used - available, carried_in)
            } else {
                carry = available - m.used;
                (Decimal::ZERO, carried_in)
            }
        })
        .collect()
}

/// Totals of a list of lines.
pub fn total(lines: &[Line]) -> i64 {
    lines.iter().map(|l| l.amount_cents).sum()
}

/// A cost pool's amount for a period: the fiscal year's pool spread over its twelve months by cumulative
/// proration (so the months of a year add up to the pool), summed over the period's months.
pub fn pool_for_period(annual_cents: i64, fy_months: &[Period], period: &Period) -> i64 {
    let n = i64::try_from(fy_months.len()).unwrap_or(12);
    fy_months
        .iter()
        .enumerate()
        .filter(|(_, m)| m.start >= period.start && m.end <= period.end)
        .map(|(i, _)| {
            let i = i64::try_from(i).unwrap_or(0);
            prorate(annual_cents, n, i, i + 1)
        })
        .sum()
}

/// Splits a pool's amount among participants by weight (largest remainder), by id.
pub fn split_pool<K: Ord + Clone>(
    amount: i64,
    weights: &BTreeMap<K, Decimal>,
) -> Result<BTreeMap<K, i64>, money::SplitError> {
    let keys: Vec<K> = weights.keys().cloned().collect();
    let ws: Vec<Decimal> = weights.values().copied().collect();
    let shares = allocate(amount, &ws)?;
    Ok(keys.into_iter().zip(shares).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn rate(from: Date, price: &str) -> Rate {
        Rate {
            effective_from: from,
            price: d(price),
            overage: None,
        }
    }

    #[test]
    fn prices_read_as_people_write_them() {
        assert_eq!(format_price(d("1850")), "$1,850.00");
        assert_eq!(format_price(d("0.042")), "$0.042");
        assert_eq!(format_price(d("6.5")), "$6.50");
        let r = Rate {
            effective_from: date(2026, 7, 1),
            price: d("980"),
            overage: Some(d("105")),
        };
        assert_eq!(
            price_label(Model::PrepaidHours, "hour", &r),
            "$980.00 a month for the block, then $105.00 per hour"
        );
        assert_eq!(
            price_label(Model::PerUnit, "mailbox", &rate(date(2026, 7, 1), "6.50")),
            "$6.50 per mailbox a month"
        );
    }

    #[test]
    fn a_rate_applies_from_its_date() {
        let rates = [rate(date(2026, 7, 1), "100"), rate(date(2027, 1, 1), "110")];
        assert_eq!(rate_on(&rates, date(2026, 6, 30)), None);
        assert_eq!(rate_on(&rates, date(2026, 12, 31)).unwrap().price, d("100"));
        assert_eq!(rate_on(&rates, date(2027, 1, 1)).unwrap().price, d("110"));
    }

    #[test]
    fn a_price_change_mid_month_charges_each_side_at_its_own_price() {
        // $300 a month until the 11th of September, $600 after: 10 days at 300 + 20 days at 600 = 100 + 400.
        let rates = [
            rate(date(2026, 1, 1), "300"),
            rate(date(2026, 9, 11), "600"),
        ];
        let sept = Period::month(2026, 9).unwrap();
        let lines = monthly_lines(
            &sept,
            date(2026, 1, 1),
            None,
            &rates,
            "Email",
            d("1"),
            |r| money::extend(d("1"), r.price),
        )
        .unwrap();
        assert_eq!(
            lines.iter().map(|l| l.amount_cents).collect::<Vec<_>>(),
            [10_000, 40_000]
        );
        assert!(
            lines[0].description.contains("10 of 30 days"),
            "{}",
            lines[0].description
        );
    }

    #[test]
    fn a_subscription_ending_mid_quarter_is_charged_for_its_days() {
        let q = Period::fiscal_quarter(2027, 1, 7).unwrap(); // July–September 2026
        let rates = [rate(date(2026, 1, 1), "31")];
        let lines = monthly_lines(
            &q,
            date(2026, 1, 1),
            Some(date(2026, 8, 11)),
            &rates,
            "GIS",
            d("1"),
            |r| money::extend(d("1"), r.price),
        )
        .unwrap();
        // All of July ($31) and 10 of August's 31 days ($10).
        assert_eq!(total(&lines), 4_100);
        assert_eq!(lines.len(), 2);
    }

    #[test]
    fn unused_block_hours_carry_over_and_the_rest_is_overage() {
        let m = |included: &str, used: &str| BlockMonth {
            included: d(included),
            used: d(used),
        };
        let out = block_overage(&[m("10", "4"), m("10", "12"), m("10", "19"), m("10", "3")]);
        // 6 carried → 16 available, 12 used, 4 carried → 14 available, 19 used: 5 over; nothing carried.
        assert_eq!(
            out,
            [
                (d("0"), d("0")),
                (d("0"), d("6")),
                (d("5"), d("4")),
                (d("0"), d("0"))
            ]
        );
    }

    #[test]
    fn a_pool_spread_over_a_year_adds_up_to_the_pool() {
        let fy: Vec<Period> = (0..12)
            .map(|i| {
                let y = if i < 6 { 2026 } else { 2027 };
                let m = if i < 6 { 7 + i } else { i - 5 };
                Period::month(y, m).unwrap()
            })
            .collect();
        let annual = 100_000_001; // $1,000,000.01
        let by_month: i64 = fy.iter().map(|m| pool_for_period(annual, &fy, m)).sum();
        assert_eq!(by_month, annual);
        let q1 = Period::fiscal_quarter(2027, 1, 7).unwrap();
        assert_eq!(pool_for_period(annual, &fy, &q1), prorate(annual, 12, 0, 3));
        let shares = split_pool(
            pool_for_period(annual, &fy, &q1),
            &BTreeMap::from([("a", d("2")), ("b", d("1")), ("c", d("1"))]),
        )
        .unwrap();
        assert_eq!(
            shares.values().sum::<i64>(),
            pool_for_period(annual, &fy, &q1)
        );
    }
}
