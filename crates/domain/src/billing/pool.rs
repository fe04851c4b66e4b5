//! Cost-pool shares: a rate card of the `cost_pool` model prices a year's pool (say the GIS team and its
//! licences, $180,000 a year), and its subscribers share it by weight (their subscription's quantity: seats,
//! departments, an agreed percentage). Each month's part of the year is split among the subscribers active
//! that month, by weight × days active, with the largest-remainder method, so the shares of every month add
//! up to the month's part exactly and the months add up to the year.

use std::collections::BTreeMap;

use jiff::civil::Date;
use rust_decimal::Decimal;

use super::invoice::{InvoiceLine, Trace};
use super::money::{allocate, prorate, to_cents};
use super::period::{Period, month_key};
use super::{Rate, format_cents, rate_on};
use crate::FieldError;

/// One subscriber of a pool.
#[derive(Debug, Clone)]
pub struct Participant<K> {
    pub key: K,
    /// The subscription's quantity.
    pub weight: Decimal,
    pub starts_on: Date,
    pub ends_on: Option<Date>,
}

/// The month's place in its fiscal year (0 = the first month).
fn month_index(month: &Period, fy_start: u8) -> i64 {
    (i64::from(month.start.month()) - i64::from(fy_start)).rem_euclid(12)
}

/// The lines of every participant of one pool card over `period`, by participant. A month whose
/// participants have no weight at all charges nobody (there is no one to share it).
pub fn pool_lines<K: Ord + Clone>(
    name: &str,
    rates: &[Rate],
    participants: &[Participant<K>],
    period: &Period,
    fy_start: u8,
) -> Result<BTreeMap<K, Vec<InvoiceLine>>, FieldError> {
    let mut out: BTreeMap<K, Vec<InvoiceLine>> = BTreeMap::new();
    for month in period.months() {
        let Some(rate) = rate_on(rates, month.start) else {
            continue;
        };
        let annual = to_cents(rate.price)
            .ok_or_else(|| FieldError::new("price", "is over ten billion dollars"))?;
        let index = month_index(&month, fy_start);
        let pool = prorate(annual, 12, index, index + 1);
        let days = month.days();
        let active: Vec<(&Participant<K>, (i64, i64))> = participants
            .iter()
            .filter_map(|p| Some((p, month.overlap(p.starts_on, p.ends_on)?)))
            .filter(|(p, _)| p.weight > Decimal::ZERO)
            .collect();
        if active.is_empty() {
            continue;
        }
        let weights: Vec<Decimal> = active
            .iter()
            .map(|(p, (a, b))| p.weight * Decimal::from(b - a))
            .collect();
        let shares = allocate(pool, &weights)
            .map_err(|e| FieldError::new("quantity", format!("{name}: {e}")))?;
        // The pool's weight in whole-month terms, for the description: Σ weight × days ÷ days in the month.
        let total_weight = (weights.iter().copied().sum::<Decimal>() / Decimal::from(days))
            .round_dp(6)
            .normalize();
        let key = month_key(month.start);
        for ((p, (a, b)), share) in active.into_iter().zip(shares) {
            let partial = (a != 0 || b != days).then_some((a, b));
            let mut description = format!(
                "{name}, {key}: {} of {total_weight} shares of the month's {}",
                p.weight.normalize(),
                format_cents(pool)
            );
            if let Some((a, b)) = partial {
                description.push_str(&format!(", {} of {days} days", b - a));
            }
            out.entry(p.key.clone()).or_default().push(InvoiceLine {
                description,
                quantity: p.weight,
                unit_price: rate.price,
                amount_cents: share,
                trace: Trace {
                    month: Some(key.clone()),
                    days: partial,
                    rate_from: Some(rate.effective_from),
                    pool_cents: Some(pool),
                    pool_weight: Some(total_weight),
                    ..Trace::default()
                },
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    fn rate(from: Date, price: i64) -> Rate {
        Rate {
            effective_from: from,
            price: Decimal::from(price),
            overage: None,
        }
    }

    fn member(key: u32, weight: i64, from: Date, to: Option<Date>) -> Participant<u32> {
        Participant {
            key,
            weight: Decimal::from(weight),
            starts_on: from,
            ends_on: to,
        }
    }

    fn sum(lines: &BTreeMap<u32, Vec<InvoiceLine>>) -> i64 {
        lines.values().flatten().map(|l| l.amount_cents).sum()
    }

    #[test]
    fn a_month_of_the_pool_is_shared_by_weight() {
        // $120,000 a year: $10,000 a month, shared 1 : 3.
        let rates = [rate(date(2026, 1, 1), 120_000)];
        let start = date(2026, 1, 1);
        let ps = [member(1, 1, start, None), member(2, 3, start, None)];
        let sept = Period::month(2026, 9).unwrap();
        let lines = pool_lines("GIS", &rates, &ps, &sept, 7).unwrap();
        assert_eq!(lines[&1][0].amount_cents, 250_000);
        assert_eq!(lines[&2][0].amount_cents, 750_000);
        assert_eq!(
            lines[&1][0].description,
            "GIS, 2026-09: 1 of 4 shares of the month's $10,000.00"
        );
        assert_eq!(lines[&1][0].trace.pool_cents, Some(1_000_000));
    }

    #[test]
    fn a_member_joining_mid_month_shares_only_its_days() {
        let rates = [rate(date(2026, 1, 1), 120_000)];
        let ps = [
            member(1, 1, date(2026, 1, 1), None),
            // Joins on the 16th of a 30-day month: 15 days.
            member(2, 1, date(2026, 9, 16), None),
        ];
        let sept = Period::month(2026, 9).unwrap();
        let lines = pool_lines("GIS", &rates, &ps, &sept, 7).unwrap();
        // Weights 30 : 15 of $10,000.
        assert_eq!(lines[&1][0].amount_cents, 666_667);
        assert_eq!(lines[&2][0].amount_cents, 333_333);
        assert!(lines[&2][0].description.ends_with(", 15 of 30 days"));
    }

    #[test]
    fn a_month_without_participants_charges_nobody() {
        let rates = [rate(date(2026, 1, 1), 120_000)];
        let ps = [member(1, 1, date(2027, 1, 1), None)];
        let q1 = Period::fiscal_quarter(2027, 1, 7).unwrap();
        assert!(pool_lines("GIS", &rates, &ps, &q1, 7).unwrap().is_empty());
    }

    proptest! {
        /// Every month of a fiscal year charges its participants exactly the pool's part, and the twelve
        /// months charge exactly the year's pool, however weights and terms fall.
        #[test]
        fn pool_shares_conserve_every_cent(
            annual in 1i64..50_000_000,
            members in proptest::collection::vec((1i64..500, 0i64..365, 0i64..365), 1..12),
        ) {
            let rates = [rate(date(2026, 1, 1), annual)];
            let fy_first = date(2026, 7, 1);
            // Participants run from a day of the year to a later one (or to the end).
            let ps: Vec<Participant<u32>> = members
                .iter()
                .enumerate()
                .map(|(i, (w, a, len))| {
                    let from = fy_first.checked_add(jiff::Span::new().days(*a)).unwrap();
                    let to = (*len > 200).then(|| from.checked_add(jiff::Span::new().days(*len - 199)).unwrap());
                    member(i as u32, *w, from, to)
                })
                .collect();
            let mut year = 0;
            for q in 1..=4 {
                let quarter = Period::fiscal_quarter(2027, q, 7).unwrap();
                for month in quarter.months() {
                    let lines = pool_lines("Pool", &rates, &ps, &month, 7).unwrap();
                    if lines.is_empty() {
                        continue;
                    }
                    let index = month_index(&month, 7);
                    prop_assert_eq!(sum(&lines), prorate(annual * 100, 12, index, index + 1));
                    year += sum(&lines);
                }
                // A quarter run charges what its months do.
                let months: i64 = quarter
                    .months()
                    .iter()
                    .map(|m| sum(&pool_lines("Pool", &rates, &ps, m, 7).unwrap()))
                    .sum();
                prop_assert_eq!(sum(&pool_lines("Pool", &rates, &ps, &quarter, 7).unwrap()), months);
            }
            // With someone active from the first day of the year, nothing of the pool goes unbilled.
            if ps.iter().any(|p| p.starts_on == fy_first && p.ends_on.is_none()) {
                prop_assert_eq!(year, annual * 100);
            }
        }
    }
}
