//! Exact money: amounts are integer cents (`i64`), rates and quantities are decimals, and every division
//! of an amount says where its leftover cents go. Nothing here is ever a float.

use rust_decimal::{Decimal, RoundingStrategy};

use crate::FieldError;

/// Most decimal places a weight, quantity or rate may carry. Six keep `total × weight` inside `i128` for any
/// amount a municipality bills (up to ten billion dollars) and any weight up to a trillion.
pub const MAX_SCALE: u32 = 6;

/// Largest amount handled, in cents: ten billion dollars.
pub const MAX_CENTS: i64 = 1_000_000_000_000;

/// Largest weight or quantity: a trillion (a population, a number of records, gigabyte-months).
pub const MAX_QUANTITY: i64 = 1_000_000_000_000;

/// Why an amount could not be divided.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    #[error("there is nothing to split among: the weights are all zero")]
    NoWeight,
    #[error("weight {0} is negative")]
    Negative(usize),
    #[error("weight {0} has more than {MAX_SCALE} decimal places or is over a trillion")]
    OutOfRange(usize),
    #[error("the amount is over ten billion dollars")]
    TooLarge,
}

/// Dollars (a decimal, as a rate times a quantity gives) rounded to cents, half away from zero — the
/// rounding invoices use. `None` past [`MAX_CENTS`].
pub fn to_cents(dollars: Decimal) -> Option<i64> {
    let cents = (dollars * Decimal::ONE_HUNDRED)
        .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    let cents = i64::try_from(cents).ok()?;
    (cents.abs() <= MAX_CENTS).then_some(cents)
}

/// `quantity × rate` in cents, rounded once at the end.
pub fn extend(quantity: Decimal, rate: Decimal) -> Option<i64> {
    to_cents(quantity.checked_mul(rate)?)
}

/// A weight as an exact integer of millionths.
fn micro(w: Decimal) -> Option<i128> {
    let w = w.normalize();
    if w.scale() > MAX_SCALE || w.is_sign_negative() && !w.is_zero() {
        return None;
    }
    let whole = w.trunc();
    if whole > Decimal::from(MAX_QUANTITY) {
        return None;
    }
    let scaled = w * Decimal::from(1_000_000);
    i128::try_from(scaled.trunc()).ok()
}

/// Splits `total` cents in proportion to `weights` by the largest-remainder method: each share is its exact
/// proportion rounded down, then the cents left over go one each to the largest remainders (ties to the
/// earlier weight). The shares always add up to `total` exactly, and no share is more than a cent away from
/// its exact proportion. A negative total (a credit) is split as its opposite and negated.
pub fn allocate(total: i64, weights: &[Decimal]) -> Result<Vec<i64>, SplitError> {
    if total.abs() > MAX_CENTS {
        return Err(SplitError::TooLarge);
    }
    let mut ws = Vec::with_capacity(weights.len());
    for (i, w) in weights.iter().enumerate() {
        if w.is_sign_negative() && !w.is_zero() {
            return Err(SplitError::Negative(i));
        }
        ws.push(micro(*w).ok_or(SplitError::OutOfRange(i))?);
    }
    let sum: i128 = ws.iter().sum();
    if sum == 0 {
        return Err(SplitError::NoWeight);
    }
    let magnitude = i128::from(total.abs());
    let mut shares = Vec::with_capacity(ws.len());
    let mut remainders = Vec::with_capacity(ws.len());
    let mut given: i128 = 0;
    for (i, w) in ws.iter().enumerate() {
        let exact = magnitude * w;
        let share = exact / sum;
        given += share;
        shares.push(share);
        remainders.push((exact % sum, i));
    }
    // Largest remainder first; among equal remainders, the earlier weight.
    remainders.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let left = usize::try_from(magnitude - given).unwrap_or(0);
    for &(_, i) in remainders.iter().take(left) {
        shares[i] += 1;
    }
    let sign = if total < 0 { -1 } else { 1 };
    Ok(shares
        .into_iter()
        .map(|s| sign * i64::try_from(s).unwrap_or(0))
        .collect())
}

/// Splits `total` cents in proportion to whole-number weights (populations, seats).
pub fn allocate_counts(total: i64, weights: &[i64]) -> Result<Vec<i64>, SplitError> {
    let ws: Vec<Decimal> = weights.iter().map(|w| Decimal::from(*w)).collect();
    allocate(total, &ws)
}

/// The part of `amount` (for a whole period of `days` days) that falls on days `from..to` of it (counted
/// from 0). Counted cumulatively — the part is what is due by day `to` less what was due by day `from`, each
/// rounded half away from zero — so the parts of any split of the period add up to `amount` exactly, and
/// the same days always cost the same however the rest of the period is split.
pub fn prorate(amount: i64, days: i64, from: i64, to: i64) -> i64 {
    if days <= 0 {
        return 0;
    }
    let from = from.clamp(0, days);
    let to = to.clamp(from, days);
    due_by(amount, days, to) - due_by(amount, days, from)
}

/// `amount × day / days`, rounded half away from zero, exactly.
fn due_by(amount: i64, days: i64, day: i64) -> i64 {
    let num = i128::from(amount) * i128::from(day);
    let den = i128::from(days);
    let q = num / den;
    let r = num % den;
    let q = if 2 * r.abs() >= den {
        q + num.signum()
    } else {
        q
    };
    i64::try_from(q).unwrap_or(0)
}

/// A rate or a quantity as people type it (`12.50`, `0.023`, `1,200`): non-negative, at most
/// [`MAX_SCALE`] decimal places, at most [`MAX_QUANTITY`].
pub fn decimal(field: &str, raw: &str) -> Result<Decimal, FieldError> {
    let cleaned: String = raw
        .trim()
        .trim_start_matches('$')
        .chars()
        .filter(|c| *c != ',')
        .collect();
    if cleaned.is_empty() {
        return Err(FieldError::new(field, "is required"));
    }
    let d: Decimal = cleaned.parse().map_err(|_| {
        FieldError::new(
            field,
            format!("{raw:?} is not a number (write it like 12.50)"),
        )
    })?;
    check_decimal(field, d)
}

/// Checks a decimal that arrived already parsed (from JSON): the same rules as [`decimal`].
pub fn check_decimal(field: &str, d: Decimal) -> Result<Decimal, FieldError> {
    if d.is_sign_negative() && !d.is_zero() {
        return Err(FieldError::new(field, "must not be negative"));
    }
    if d.normalize().scale() > MAX_SCALE {
        return Err(FieldError::new(
            field,
            format!("has more than {MAX_SCALE} decimal places"),
        ));
    }
    if d > Decimal::from(MAX_QUANTITY) {
        return Err(FieldError::new(field, "is over a trillion"));
    }
    // Kept as typed (`6.50` stays `6.50`); the checks above read its normalised scale.
    Ok(d)
}

/// Cents as dollars for people: `-1234567` → `-$12,345.67`.
pub fn format_cents(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    let dollars = i64::try_from(abs / 100).unwrap_or(i64::MAX);
    format!(
        "{sign}${}.{:02}",
        crate::validation::grouped(dollars),
        abs % 100
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn a_pool_split_three_ways_gives_the_odd_cent_to_the_largest_remainder() {
        // $100.00 among three equal members: 33.34, 33.33, 33.33 — the first takes the odd cent.
        assert_eq!(
            allocate(10_000, &[d("1"), d("1"), d("1")]).unwrap(),
            [3334, 3333, 3333]
        );
        // By population: 27,000 / 15,000 / 8,000 of $1,000.00.
        assert_eq!(
            allocate_counts(100_000, &[27_000, 15_000, 8_000]).unwrap(),
            [54_000, 30_000, 16_000]
        );
        // A credit splits the same way, negated.
        assert_eq!(
            allocate(-10_000, &[d("1"), d("1"), d("1")]).unwrap(),
            [-3334, -3333, -3333]
        );
        assert_eq!(allocate(5, &[d("0"), d("2.5")]).unwrap(), [0, 5]);
    }

    #[test]
    fn a_split_without_weight_or_with_bad_weights_is_refused() {
        assert_eq!(allocate(100, &[]), Err(SplitError::NoWeight));
        assert_eq!(allocate(100, &[d("0"), d("0")]), Err(SplitError::NoWeight));
        assert_eq!(
            allocate(100, &[d("1"), d("-1")]),
            Err(SplitError::Negative(1))
        );
        assert_eq!(
            allocate(100, &[d("0.0000001")]),
            Err(SplitError::OutOfRange(0))
        );
        assert_eq!(
            allocate(MAX_CENTS + 1, &[d("1")]),
            Err(SplitError::TooLarge)
        );
    }

    #[test]
    fn rounding_is_half_away_from_zero_once_at_the_end() {
        assert_eq!(extend(d("3"), d("0.335")), Some(101)); // 1.005 → 1.01
        assert_eq!(extend(d("1"), d("0.004999")), Some(0));
        assert_eq!(to_cents(d("-0.005")), Some(-1));
        assert_eq!(extend(d("1234.5"), d("0.023")), Some(2839)); // 28.3935
        assert_eq!(to_cents(d("10000000000.01")), None);
    }

    #[test]
    fn proration_charges_the_days_used() {
        // $31.00 a month of 31 days, started on day 10 (0-based): 21 days → $21.00.
        assert_eq!(prorate(3100, 31, 10, 31), 2100);
        // $100.00 over 30 days, three equal parts: 33.33, 33.34, 33.33 — whole either way.
        let parts = [
            prorate(10_000, 30, 0, 10),
            prorate(10_000, 30, 10, 20),
            prorate(10_000, 30, 20, 30),
        ];
        assert_eq!(parts, [3333, 3334, 3333]);
        assert_eq!(prorate(10_000, 30, 0, 30), 10_000);
        assert_eq!(prorate(10_000, 0, 0, 30), 0);
    }

    #[test]
    fn typed_amounts_are_checked_and_named() {
        assert_eq!(decimal("rate", "$1,200.50").unwrap(), d("1200.5"));
        assert_eq!(decimal("rate", "0.023").unwrap(), d("0.023"));
        assert_eq!(decimal("rate", "").unwrap_err().message, "is required");
        assert_eq!(
            decimal("rate", "-1").unwrap_err().message,
            "must not be negative"
        );
        assert!(
            decimal("rate", "0.0000001")
                .unwrap_err()
                .message
                .contains("decimal places")
        );
        assert!(
            decimal("rate", "abc")
                .unwrap_err()
                .message
                .contains("not a number")
        );
        assert_eq!(decimal("rate", "abc").unwrap_err().field, "rate");
    }

    #[test]
    fn cents_read_as_dollars() {
        assert_eq!(format_cents(0), "$0.00");
        assert_eq!(format_cents(5), "$0.05");
        assert_eq!(format_cents(123_456_789), "$1,234,567.89");
        assert_eq!(format_cents(-100_000), "-$1,000.00");
    }

    fn weight() -> impl Strategy<Value = Decimal> {
        (0i64..10_000_000_000, 0u32..=MAX_SCALE).prop_map(|(m, s)| Decimal::new(m, s))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn allocations_conserve_every_cent_and_stay_within_a_cent_of_exact(
            total in -MAX_CENTS..=MAX_CENTS,
            weights in proptest::collection::vec(weight(), 1..40),
        ) {
            let sum: Decimal = weights.iter().sum();
            prop_assume!(!sum.is_zero());
            let shares = allocate(total, &weights).unwrap();
            prop_assert_eq!(shares.len(), weights.len());
            prop_assert_eq!(shares.iter().sum::<i64>(), total);
            for (s, w) in shares.iter().zip(&weights) {
                // |share − total × w / sum| < 1 cent, checked exactly in millionths.
                let exact = i128::from(total) * micro(*w).unwrap();
                let sum_micro: i128 = weights.iter().map(|w| micro(*w).unwrap()).sum();
                let diff = i128::from(*s) * sum_micro - exact;
                prop_assert!(diff.abs() < sum_micro, "share {} too far from exact", s);
                // A share never has the wrong sign.
                prop_assert!(*s == 0 || s.signum() == total.signum());
            }
        }

        #[test]
        fn allocation_does_not_depend_on_the_scale_of_the_weights(
            total in 0..MAX_CENTS,
            weights in proptest::collection::vec(1i64..1_000_000, 1..20),
        ) {
            let once = allocate_counts(total, &weights).unwrap();
            let doubled: Vec<i64> = weights.iter().map(|w| w * 2).collect();
            prop_assert_eq!(&once, &allocate_counts(total, &doubled).unwrap());
        }

        #[test]
        fn proration_over_any_split_of_a_period_sums_to_the_whole(
            amount in -MAX_CENTS..=MAX_CENTS,
            days in 1i64..400,
            cuts in proptest::collection::vec(0i64..400, 0..12),
        ) {
            let mut points: Vec<i64> = cuts.into_iter().map(|c| c % (days + 1)).collect();
            points.push(0);
            points.push(days);
            points.sort_unstable();
            let total: i64 = points.windows(2).map(|w| prorate(amount, days, w[0], w[1])).sum();
            prop_assert_eq!(total, amount);
            for w in points.windows(2) {
                // Each part is within a cent of its exact share.
                let exact = i128::from(amount) * i128::from(w[1] - w[0]);
                let diff = i128::from(prorate(amount, days, w[0], w[1])) * i128::from(days) - exact;
                prop_assert!(diff.abs() <= i128::from(days));
            }
        }
    }
}
