//! The regional private cloud: pools of capacity (a cluster's vCPU and memory, its storage, the backup
//! target behind it) and what members are allocated from them, read from the CMDB — a virtual machine that
//! runs on one of a pool's hosts takes its vCPU, memory and disk; a storage volume on one of its arrays takes
//! storage; whatever backs up to it takes backup space. From daily totals: utilisation, the growth trend and
//! the day each pool runs out; and the daily meters that feed chargeback.

use std::fmt;

use jiff::civil::Date;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::cmdb::{CiType, RelationKind};
use crate::validation::FieldError;

vocabulary!(
    /// One kind of capacity a pool offers.
    Dimension, "dimension" {
        Vcpu = "vcpu" / "vCPU",
        RamGb = "ram_gb" / "Memory (GB)",
        StorageGb = "storage_gb" / "Storage (GB)",
        BackupGb = "backup_gb" / "Backup (GB)",
    }
);

/// Amounts of each dimension: a pool's capacity, or what is allocated from it.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Resources {
    pub vcpu: i64,
    pub ram_gb: i64,
    pub storage_gb: i64,
    pub backup_gb: i64,
}

impl Resources {
    pub fn get(&self, d: Dimension) -> i64 {
        match d {
            Dimension::Vcpu => self.vcpu,
            Dimension::RamGb => self.ram_gb,
            Dimension::StorageGb => self.storage_gb,
            Dimension::BackupGb => self.backup_gb,
        }
    }

    pub fn add(&mut self, other: &Resources) {
        self.vcpu = self.vcpu.saturating_add(other.vcpu);
        self.ram_gb = self.ram_gb.saturating_add(other.ram_gb);
        self.storage_gb = self.storage_gb.saturating_add(other.storage_gb);
        self.backup_gb = self.backup_gb.saturating_add(other.backup_gb);
    }

    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }
}

/// The most a pool may hold of one dimension (a million vCPU, an exabyte of storage): beyond is a typo.
pub const MAX_CAPACITY: i64 = 1_000_000_000;

/// The item types the cloud allocates from: what runs on a pool's hosts or lives on its arrays.
pub const ALLOCATED_TYPES: &[CiType] = &[
    CiType::VirtualMachine,
    CiType::StorageVolume,
    CiType::Database,
];

/// The types an item may be to belong to a pool: its hosts and its arrays.
pub const POOL_PART_TYPES: &[CiType] = &[CiType::Server, CiType::StorageVolume];

fn count(attributes: &Map<String, Value>, name: &str) -> i64 {
    attributes
        .get(name)
        .and_then(Value::as_i64)
        .unwrap_or(0)
        .max(0)
}

/// What an item takes from a pool through one relationship to one of the pool's parts. A virtual machine
/// running on a host takes its vCPU, memory and disk; a volume on an array takes its size as storage; an item
/// that backs up to the pool takes its disk or size as backup space (the protected data, before dedupe).
/// Anything else takes nothing.
pub fn allocation(
    ci_type: CiType,
    attributes: &Map<String, Value>,
    kind: RelationKind,
) -> Resources {
    let size = match ci_type {
        CiType::VirtualMachine => count(attributes, "disk_gb"),
        CiType::StorageVolume | CiType::Database => count(attributes, "size_gb"),
        _ => 0,
    };
    match (ci_type, kind) {
        (_, RelationKind::BacksUpTo) => Resources {
            backup_gb: size,
            ..Resources::default()
        },
        (CiType::VirtualMachine, RelationKind::RunsOn | RelationKind::DependsOn) => Resources {
            vcpu: count(attributes, "vcpu"),
            ram_gb: count(attributes, "ram_gb"),
            storage_gb: size,
            backup_gb: 0,
        },
        (
            CiType::StorageVolume,
            RelationKind::RunsOn | RelationKind::DependsOn | RelationKind::LocatedAt,
        ) => Resources {
            storage_gb: size,
            ..Resources::default()
        },
        _ => Resources::default(),
    }
}

/// `used` as a percentage of `capacity`, to a tenth; none when there is no capacity.
pub fn utilisation(used: i64, capacity: i64) -> Option<Decimal> {
    crate::billing::finance::percent(used, capacity)
}

/// A straight line through daily totals: `value = level + slope × (day − last day)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Trend {
    /// Growth a day (may be negative), to a thousandth.
    pub per_day: Decimal,
    /// The line's value on the last day of the history, to a thousandth.
    pub level: Decimal,
    /// The last day of the history.
    #[schemars(with = "crate::schema::Day")]
    pub last_day: Date,
}

/// The fewest days of history a trend is fitted to: under a fortnight the line says more about noise than
/// about growth.
pub const MIN_TREND_DAYS: usize = 14;

/// The least-squares line through `points` (day, value); none with fewer than [`MIN_TREND_DAYS`] distinct
/// days.
pub fn trend(points: &[(Date, i64)]) -> Option<Trend> {
    let mut days: Vec<Date> = points.iter().map(|p| p.0).collect();
    days.sort_unstable();
    days.dedup();
    if days.len() < MIN_TREND_DAYS {
        return None;
    }
    let last = *days.last()?;
    // x = days before the last day (≤ 0), exact in Decimal.
    let xs: Vec<(Decimal, Decimal)> = points
        .iter()
        .map(|(d, v)| {
            let x = (*d - last).get_days();
            (Decimal::from(x), Decimal::from(*v))
        })
        .collect();
    let n = Decimal::from(xs.len() as u64);
    let x_mean = xs.iter().map(|p| p.0).sum::<Decimal>() / n;
    let y_mean = xs.iter().map(|p| p.1).sum::<Decimal>() / n;
    let (mut sxy, mut sxx) = (Decimal::ZERO, Decimal::ZERO);
    for (x, y) in &xs {
        let dx = *x - x_mean;
        sxy += dx * (*y - y_mean);
        sxx += dx * dx;
    }
    if sxx.is_zero() {
        return None;
    }
    let slope = sxy / sxx;
    let level = y_mean - slope * x_mean;
    let round = |d: Decimal| {
        d.round_dp_with_strategy(3, RoundingStrategy::MidpointAwayFromZero)
            .normalize()
    };
    Some(Trend {
        per_day: round(slope),
        level: round(level),
        last_day: last,
    })
}

/// How far ahead a forecast looks: past ten years a date means nothing to a budget.
pub const HORIZON_DAYS: i64 = 3_653;

/// When a pool runs out of one dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Exhaustion {
    /// Allocated already reaches the capacity.
    Full,
    /// The trend line reaches the capacity on this day.
    On {
        #[schemars(with = "crate::schema::Day")]
        date: Date,
    },
    /// Flat or shrinking, or not within ten years.
    NotForeseen,
    /// Under a fortnight of history.
    TooLittleHistory,
}

/// The first day the trend reaches `capacity`, given what is allocated `now`.
pub fn exhaustion(trend: Option<&Trend>, now: i64, capacity: i64) -> Exhaustion {
    if now >= capacity {
        return Exhaustion::Full;
    }
    let Some(t) = trend else {
        return Exhaustion::TooLittleHistory;
    };
    if t.per_day <= Decimal::ZERO {
        return Exhaustion::NotForeseen;
    }
    // The first whole day d ≥ 1 after the last with level + d × slope ≥ capacity.
    let days = ((Decimal::from(capacity) - t.level) / t.per_day).ceil();
    let days = days.to_i64().unwrap_or(i64::MAX).max(1);
    if days > HORIZON_DAYS {
        return Exhaustion::NotForeseen;
    }
    match t.last_day.checked_add(jiff::Span::new().days(days)) {
        Ok(date) => Exhaustion::On { date },
        Err(_) => Exhaustion::NotForeseen,
    }
}

/// The meters the cloud records for chargeback, with the dimension each one counts. A month's records add
/// up to the average allocation over the month: 4 vCPU all month is 4 vCPU-months; 4 vCPU for half of it, 2.
pub const METERS: &[(&str, Dimension)] = &[
    ("cloud.vcpu_month", Dimension::Vcpu),
    ("cloud.ram_gb_month", Dimension::RamGb),
    ("cloud.storage_gb_month", Dimension::StorageGb),
];

/// A day's share of `amount` units a month, in millionths: the month's days are cut so that a constant
/// allocation adds up to exactly `amount` units (day `day` of a month of `days` days, counted from 1).
pub fn daily_micros(amount: i64, day: i8, days: i8) -> i64 {
    let (amount, day, days) = (i128::from(amount), i128::from(day), i128::from(days.max(1)));
    let upto = |d: i128| d * amount * 1_000_000 / days;
    i64::try_from(upto(day) - upto(day - 1)).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;
    use serde_json::json;

    fn attrs(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn allocations_follow_the_relationship() {
        let vm = attrs(json!({ "vcpu": 4, "ram_gb": 16, "disk_gb": 200 }));
        assert_eq!(
            allocation(CiType::VirtualMachine, &vm, RelationKind::RunsOn),
            Resources {
                vcpu: 4,
                ram_gb: 16,
                storage_gb: 200,
                backup_gb: 0
            }
        );
        assert_eq!(
            allocation(CiType::VirtualMachine, &vm, RelationKind::BacksUpTo),
            Resources {
                backup_gb: 200,
                ..Resources::default()
            }
        );
        let volume = attrs(json!({ "size_gb": 500 }));
        assert_eq!(
            allocation(CiType::StorageVolume, &volume, RelationKind::LocatedAt).storage_gb,
            500
        );
        // A VM merely "located at" a host, or an application, takes nothing.
        assert!(allocation(CiType::VirtualMachine, &vm, RelationKind::LocatedAt).is_zero());
        assert!(allocation(CiType::Application, &vm, RelationKind::RunsOn).is_zero());
    }

    #[test]
    fn a_steady_rise_forecasts_the_day_it_runs_out() {
        // 100 vCPU growing by 2 a day for 30 days: 158 on the last day; 200 is reached 21 days later.
        let start = date(2026, 1, 1);
        let points: Vec<(Date, i64)> = (0..30)
            .map(|i| (start + jiff::Span::new().days(i), 100 + 2 * i))
            .collect();
        let t = trend(&points).unwrap();
        assert_eq!(t.per_day, Decimal::from(2));
        assert_eq!(t.level, Decimal::from(158));
        assert_eq!(
            exhaustion(Some(&t), 158, 200),
            Exhaustion::On {
                date: date(2026, 1, 30) + jiff::Span::new().days(21)
            }
        );
        assert_eq!(exhaustion(Some(&t), 200, 200), Exhaustion::Full);
        assert_eq!(exhaustion(None, 10, 200), Exhaustion::TooLittleHistory);
        let flat: Vec<(Date, i64)> = points.iter().map(|p| (p.0, 120)).collect();
        assert_eq!(
            exhaustion(trend(&flat).as_ref(), 120, 200),
            Exhaustion::NotForeseen
        );
        assert!(trend(&points[..10]).is_none());
    }

    proptest! {
        #[test]
        fn a_constant_allocation_adds_up_to_the_month(amount in 0i64..10_000_000, days in 28i8..=31) {
            let total: i64 = (1..=days).map(|d| daily_micros(amount, d, days)).sum();
            prop_assert_eq!(total, amount * 1_000_000);
        }

        #[test]
        fn the_forecast_day_is_the_first_on_or_over_capacity(
            base in 0i64..10_000, growth in 1i64..500, days in 14i64..200, headroom in 1i64..100_000,
        ) {
            let start = date(2025, 1, 1);
            let points: Vec<(Date, i64)> = (0..days)
                .map(|i| (start + jiff::Span::new().days(i), base + growth * i))
                .collect();
            let t = trend(&points).unwrap();
            let now = base + growth * (days - 1);
            let capacity = now + headroom;
            match exhaustion(Some(&t), now, capacity) {
                Exhaustion::On { date } => {
                    let d = (date - t.last_day).get_days();
                    prop_assert!(d >= 1);
                    prop_assert!(now + growth * i64::from(d) >= capacity);
                    prop_assert!(now + growth * i64::from(d - 1) < capacity);
                }
                Exhaustion::NotForeseen => prop_assert!(headroom / growth > HORIZON_DAYS - 1),
                other => prop_assert!(false, "unexpected {other:?}"),
            }
        }
    }
}
