//! The hub's economics: what each service costs it (cost pools), how much of that the invoices recover,
//! what members should budget next year, and what sharing saves each member against running a service
//! alone. Pure arithmetic over exact cents; the store gathers the figures.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use std::fmt;

use super::money::{MAX_CENTS, prorate};
use crate::FieldError;

vocabulary!(
    /// What a cost-pool entry pays for.
    CostCategory, "category" {
        /// Salaries and benefits of the people who run the service (their share of it).
        Staff = "staff" / "Staff",
        /// Software licences and subscriptions.
        Licences = "licences" / "Licences",
        /// Hardware, as the year's depreciation.
        Hardware = "hardware" / "Hardware depreciation",
        /// Circuits, fibre, internet.
        Network = "network" / "Network",
        /// Anything else (facilities, training, contracts).
        Other = "other" / "Other",
    }
);

vocabulary!(
    /// Municipalities grouped by population, for standalone cost benchmarks: a town of 4,000 and a city of
    /// 60,000 would not run a service alone at the same cost.
    SizeBand, "size_band" {
        Small = "small" / "Under 10,000 residents",
        Medium = "medium" / "10,000 to 24,999 residents",
        Large = "large" / "25,000 to 49,999 residents",
        VeryLarge = "very_large" / "50,000 residents or more",
    }
);

impl SizeBand {
    /// The band of a population: under 10,000; 10,000 to 24,999; 25,000 to 49,999; 50,000 and over.
    pub fn of(population: i64) -> Self {
        match population {
            ..10_000 => Self::Small,
            10_000..25_000 => Self::Medium,
            25_000..50_000 => Self::Large,
            _ => Self::VeryLarge,
        }
    }
}

/// `part ÷ whole` as a percentage with one decimal place (half away from zero); `None` when `whole` is not
/// positive. Recovery rates (billed ÷ cost) and savings (saved ÷ standalone) use it.
pub fn percent(part: i64, whole: i64) -> Option<Decimal> {
    if whole <= 0 {
        return None;
    }
    Some(
        (Decimal::from(part) * Decimal::ONE_HUNDRED / Decimal::from(whole))
            .round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero),
    )
}

/// Next year's amount from a run of past monthly amounts (oldest first): the least-squares line through
/// them, summed over the twelve months that follow, never below zero. With fewer than six months a trend is
/// not trusted and the months' mean is carried forward flat.
pub fn forecast_year(monthly: &[i64]) -> i64 {
    let n = monthly.len();
    if n == 0 {
        return 0;
    }
    let count = Decimal::from(n as u64);
    let mean = monthly.iter().map(|c| Decimal::from(*c)).sum::<Decimal>() / count;
    let twelve = Decimal::from(12);
    let mut total = twelve * mean;
    if n >= 6 {
        // x = 0..n; the slope is Σ(x − x̄)(y − ȳ) / Σ(x − x̄)², and the next twelve x sum to 12·(n/2 + 6)
        // above x̄ in all.
        let x_mean = Decimal::from(n as u64 - 1) / Decimal::TWO;
        let (mut sxy, mut sxx) = (Decimal::ZERO, Decimal::ZERO);
        for (x, y) in monthly.iter().enumerate() {
            let dx = Decimal::from(x as u64) - x_mean;
            sxy += dx * (Decimal::from(*y) - mean);
            sxx += dx * dx;
        }
        if !sxx.is_zero() {
            let slope = sxy / sxx;
            total += twelve * slope * (count / Decimal::TWO + Decimal::from(6));
        }
    }
    let cents = total.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    i64::try_from(cents)
        .unwrap_or(MAX_CENTS)
        .clamp(0, MAX_CENTS)
}

/// What a member would spend a year running a service alone, by cost line.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Standalone {
    /// The share of staff the member would need (salary and benefits).
    pub staff_cents: i64,
    pub licences_cents: i64,
    /// Hardware, as a year's depreciation.
    pub hardware_cents: i64,
}

impl Standalone {
    pub fn annual_cents(&self) -> i64 {
        self.staff_cents + self.licences_cents + self.hardware_cents
    }

    /// The standalone cost of `months` months of a year (exact cents by cumulative proration).
    pub fn for_months(&self, months: i64) -> i64 {
        prorate(self.annual_cents(), 12, 0, months.clamp(0, 12))
    }
}

/// One service in a member's savings: the shared cost it was billed over some months beside what running
/// the service alone would have cost over the same months.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Saving {
    pub months: i64,
    pub shared_cents: i64,
    /// `None` when no benchmark exists for the service and the member's size band.
    pub standalone_cents: Option<i64>,
}

impl Saving {
    pub fn saved_cents(&self) -> Option<i64> {
        self.standalone_cents.map(|s| s - self.shared_cents)
    }

    pub fn saved_percent(&self) -> Option<Decimal> {
        percent(self.saved_cents()?, self.standalone_cents?)
    }
}

/// Totals of savings over services (or members): only what has a benchmark is compared.
pub fn total_savings<'a>(rows: impl IntoIterator<Item = &'a Saving>) -> (i64, i64) {
    rows.into_iter()
        .filter_map(|s| Some((s.shared_cents, s.standalone_cents?)))
        .fold((0, 0), |(a, b), (s, t)| (a + s, b + t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn size_bands_follow_population() {
        assert_eq!(SizeBand::of(0), SizeBand::Small);
        assert_eq!(SizeBand::of(9_999), SizeBand::Small);
        assert_eq!(SizeBand::of(10_000), SizeBand::Medium);
        assert_eq!(SizeBand::of(28_633), SizeBand::Large);
        assert_eq!(SizeBand::of(50_000), SizeBand::VeryLarge);
    }

    #[test]
    fn percentages_round_to_a_tenth() {
        assert_eq!(percent(1, 3), Some(Decimal::new(333, 1)));
        assert_eq!(percent(2, 3), Some(Decimal::new(667, 1)));
        assert_eq!(percent(5, 0), None);
        assert_eq!(percent(-40, 100), Some(Decimal::new(-400, 1)));
    }

    #[test]
    fn a_flat_history_forecasts_twelve_of_its_months() {
        assert_eq!(forecast_year(&[10_000; 12]), 120_000);
        assert_eq!(forecast_year(&[]), 0);
        // Too short for a trend: the mean, carried forward.
        assert_eq!(forecast_year(&[100, 200, 300]), 2_400);
    }

    #[test]
    fn a_steady_rise_is_carried_into_next_year() {
        // 100, 110, ..., 210: next year's months are 220 ... 330, which sum to 3,300.
        let months: Vec<i64> = (0..12).map(|i| 100 + 10 * i).collect();
        assert_eq!(forecast_year(&months), 3_300);
    }

    #[test]
    fn a_collapse_does_not_forecast_a_negative_budget() {
        let months: Vec<i64> = (0..12).map(|i| 12_000 - 1_000 * i).collect();
        assert_eq!(forecast_year(&months), 0);
    }

    #[test]
    fn standalone_costs_cover_whole_and_partial_years() {
        let s = Standalone {
            staff_cents: 6_000_000,
            licences_cents: 1_200_000,
            hardware_cents: 800_001,
        };
        assert_eq!(s.annual_cents(), 8_000_001);
        assert_eq!(s.for_months(12), 8_000_001);
        assert_eq!(s.for_months(0), 0);
        assert_eq!(s.for_months(20), 8_000_001);
    }

    #[test]
    fn savings_compare_only_what_has_a_benchmark() {
        let rows = [
            Saving {
                months: 12,
                shared_cents: 30_000,
                standalone_cents: Some(100_000),
            },
            Saving {
                months: 12,
                shared_cents: 5_000,
                standalone_cents: None,
            },
        ];
        assert_eq!(rows[0].saved_cents(), Some(70_000));
        assert_eq!(rows[0].saved_percent(), Some(Decimal::new(700, 1)));
        assert_eq!(rows[1].saved_percent(), None);
        assert_eq!(total_savings(&rows), (30_000, 100_000));
    }

    proptest! {
        /// Months of a year add up to the year's standalone cost, however it is cut.
        #[test]
        fn standalone_months_add_up(annual in 0i64..1_000_000_000, cut in 0i64..=12) {
            let s = Standalone { staff_cents: annual, ..Standalone::default() };
            let first = s.for_months(cut);
            let rest = prorate(annual, 12, cut, 12);
            prop_assert_eq!(first + rest, annual);
        }

        /// A forecast from a constant history is exactly twelve months of it.
        #[test]
        fn constant_histories_forecast_exactly(amount in 0i64..10_000_000_000, n in 1usize..36) {
            prop_assert_eq!(forecast_year(&vec![amount; n]), amount * 12);
        }

        /// Forecasts are never negative and never past the ceiling.
        #[test]
        fn forecasts_stay_in_range(months in proptest::collection::vec(0i64..100_000_000_000, 0..40)) {
            let f = forecast_year(&months);
            prop_assert!((0..=MAX_CENTS).contains(&f));
        }
    }
}
