//! Billing periods: calendar months and fiscal quarters. A fiscal year is named by the calendar year it
//! ends in (Massachusetts' FY2027 runs 1 July 2026 – 30 June 2027).

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::FieldError;

/// How often members are invoiced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Cadence {
    Monthly,
    Quarterly,
}

impl Cadence {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Monthly => "monthly",
            Self::Quarterly => "quarterly",
        }
    }

    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        match raw.trim() {
            "monthly" => Ok(Self::Monthly),
            "quarterly" => Ok(Self::Quarterly),
            other => Err(FieldError::new(
                field,
                format!("{other:?} is not a cadence (monthly or quarterly)"),
            )),
        }
    }
}

/// Days `start..end` (end excluded): a month or a fiscal quarter.
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
pub struct Period {
    #[schemars(with = "crate::schema::Day")]
    pub start: Date,
    #[schemars(with = "crate::schema::Day")]
    pub end: Date,
}

fn first_of(year: i16, month: i8) -> Option<Date> {
    Date::new(year, month, 1).ok()
}

/// The first of the month `months` after `year`-`month` (negative goes back).
fn add_months(year: i16, month: i8, months: i32) -> Option<Date> {
    let index = i32::from(year) * 12 + i32::from(month) - 1 + months;
    let y = i16::try_from(index.div_euclid(12)).ok()?;
    let m = i8::try_from(index.rem_euclid(12) + 1).ok()?;
    first_of(y, m)
}

impl Period {
    /// The calendar month `year`-`month`.
    pub fn month(year: i16, month: i8) -> Option<Self> {
        Some(Self {
            start: first_of(year, month)?,
            end: add_months(year, month, 1)?,
        })
    }

    /// Quarter `q` (1–4) of fiscal year `fy`, for fiscal years starting in month `fy_start` (1–12).
    pub fn fiscal_quarter(fy: i16, q: u8, fy_start: u8) -> Option<Self> {
        if !(1..=4).contains(&q) || !(1..=12).contains(&fy_start) {
            return None;
        }
        // A fiscal year starting in January is the calendar year; otherwise it began the year before.
        let begins = if fy_start == 1 { fy } else { fy - 1 };
        let m = i8::try_from(fy_start).ok()?;
        let offset = 3 * (i32::from(q) - 1);
        Some(Self {
            start: add_months(begins, m, offset)?,
            end: add_months(begins, m, offset + 3)?,
        })
    }

    /// The period of `cadence` that contains `day`.
    pub fn containing(day: Date, cadence: Cadence, fy_start: u8) -> Option<Self> {
        match cadence {
            Cadence::Monthly => Self::month(day.year(), day.month()),
            Cadence::Quarterly => {
                let fy = fiscal_year(day, fy_start);
                let begins = if fy_start == 1 { fy } else { fy - 1 };
                let since = (i32::from(day.year()) - i32::from(begins)) * 12
                    + i32::from(day.month())
                    - i32::from(fy_start);
                let q = u8::try_from(since / 3 + 1).ok()?;
                Self::fiscal_quarter(fy, q, fy_start)
            }
        }
    }

    /// Parses `2026-07` (a month) or `FY2027-Q1` (a fiscal quarter).
    pub fn parse(field: &str, raw: &str, fy_start: u8) -> Result<Self, FieldError> {
        let raw = raw.trim();
        let bad = || {
            FieldError::new(
                field,
                format!(
                    "{raw:?} is not a period (a month like 2026-07 or a fiscal quarter like FY2027-Q1)"
                ),
            )
        };
        let upper = raw.to_ascii_uppercase();
        if let Some(rest) = upper.strip_prefix("FY") {
            let (fy, q) = rest.split_once("-Q").ok_or_else(bad)?;
            let fy: i16 = fy.parse().map_err(|_| bad())?;
            let q: u8 = q.parse().map_err(|_| bad())?;
            if !(2000..=2200).contains(&fy) {
                return Err(bad());
            }
            return Self::fiscal_quarter(fy, q, fy_start).ok_or_else(bad);
        }
        let (y, m) = raw.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let y: i16 = y.parse().map_err(|_| bad())?;
        let m: i8 = m.parse().map_err(|_| bad())?;
        if !(2000..=2200).contains(&y) || !(1..=12).contains(&m) {
            return Err(bad());
        }
        Self::month(y, m).ok_or_else(bad)
    }

    /// How the period is written: `2026-07` for a month, `FY2027-Q1` for a fiscal quarter.
    pub fn label(&self, fy_start: u8) -> String {
        if self.is_month() {
            month_key(self.start)
        } else {
            let fy = fiscal_year(self.start, fy_start);
            let q = Self::containing(self.start, Cadence::Quarterly, fy_start)
                .and_then(|p| (1..=4).find(|q| Self::fiscal_quarter(fy, *q, fy_start) == Some(p)))
                .unwrap_or(1);
            format!("FY{fy}-Q{q}")
        }
    }

    fn is_month(&self) -> bool {
        self.start.day() == 1 && Self::month(self.start.year(), self.start.month()) == Some(*self)
    }

    /// Number of days.
    pub fn days(&self) -> i64 {
        i64::from((self.end - self.start).get_days())
    }

    /// Day `d` as an offset from the start, clamped to the period (`0..=days`).
    pub fn offset(&self, d: Date) -> i64 {
        i64::from((d - self.start).get_days()).clamp(0, self.days())
    }

    /// The months the period covers, in order.
    pub fn months(&self) -> Vec<Self> {
        let mut out = Vec::new();
        let mut cursor = Self::month(self.start.year(), self.start.month());
        while let Some(m) = cursor {
            if m.start >= self.end {
                break;
            }
            out.push(m);
            cursor = Self::month(m.end.year(), m.end.month());
        }
        out
    }

    /// The days of the period within `from..until` (until excluded, open-ended when `None`), as offsets.
    pub fn overlap(&self, from: Date, until: Option<Date>) -> Option<(i64, i64)> {
        let a = self.offset(from);
        let b = until.map_or(self.days(), |u| self.offset(u));
        (a < b).then_some((a, b))
    }
}

/// The month `day` falls in, as usage and invoices name it: `2026-09`.
pub fn month_key(day: Date) -> String {
    format!("{:04}-{:02}", day.year(), day.month())
}

/// The fiscal year `day` falls in, named by the calendar year it ends in.
pub fn fiscal_year(day: Date, fy_start: u8) -> i16 {
    let starts = i8::try_from(fy_start).unwrap_or(7);
    if fy_start == 1 || day.month() < starts {
        day.year()
    } else {
        day.year() + 1
    }
}

/// A fiscal year as people write it: `2027` or `FY2027`.
pub fn parse_fiscal_year(field: &str, raw: &str) -> Result<i16, FieldError> {
    let t = raw.trim();
    let digits = t
        .strip_prefix("FY")
        .or_else(|| t.strip_prefix("fy"))
        .unwrap_or(t);
    digits
        .parse::<i16>()
        .ok()
        .filter(|y| (2000..=2100).contains(y))
        .ok_or_else(|| {
            FieldError::new(
                field,
                format!("{raw:?} is not a fiscal year (write it like 2027 or FY2027)"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    #[test]
    fn massachusetts_fiscal_quarters_start_in_july() {
        let q1 = Period::fiscal_quarter(2027, 1, 7).unwrap();
        assert_eq!((q1.start, q1.end), (date(2026, 7, 1), date(2026, 10, 1)));
        let q3 = Period::fiscal_quarter(2027, 3, 7).unwrap();
        assert_eq!((q3.start, q3.end), (date(2027, 1, 1), date(2027, 4, 1)));
        assert_eq!(fiscal_year(date(2026, 6, 30), 7), 2026);
        assert_eq!(fiscal_year(date(2026, 7, 1), 7), 2027);
        assert_eq!(q3.label(7), "FY2027-Q3");
        assert_eq!(q3.months().len(), 3);
        assert_eq!(q3.days(), 90);
        // A calendar fiscal year.
        let q1 = Period::fiscal_quarter(2027, 1, 1).unwrap();
        assert_eq!(q1.start, date(2027, 1, 1));
    }

    #[test]
    fn periods_parse_and_name_the_field_when_they_do_not() {
        let m = Period::parse("period", "2026-02", 7).unwrap();
        assert_eq!(
            (m.start, m.end, m.days()),
            (date(2026, 2, 1), date(2026, 3, 1), 28)
        );
        assert_eq!(m.label(7), "2026-02");
        assert_eq!(
            Period::parse("period", "fy2027-q2", 7).unwrap().start,
            date(2026, 10, 1)
        );
        for bad in ["2026-13", "2026-7", "July", "FY2027-Q5", "FY27-Q1", ""] {
            let e = Period::parse("period", bad, 7).unwrap_err();
            assert_eq!(e.field, "period", "{bad}");
        }
    }

    #[test]
    fn a_subscription_started_mid_month_overlaps_its_remaining_days() {
        let m = Period::month(2026, 9).unwrap();
        assert_eq!(m.overlap(date(2026, 9, 11), None), Some((10, 30)));
        assert_eq!(
            m.overlap(date(2026, 1, 1), Some(date(2026, 9, 16))),
            Some((0, 15))
        );
        assert_eq!(m.overlap(date(2026, 10, 1), None), None);
        assert_eq!(m.overlap(date(2025, 1, 1), Some(date(2026, 8, 31))), None);
    }

    proptest! {
        #[test]
        fn every_day_is_in_exactly_the_period_that_contains_it(
            days in 0i32..20_000, fy_start in 1u8..=12, quarterly in any::<bool>()
        ) {
            let day = date(2000, 1, 1).checked_add(jiff::Span::new().days(days)).unwrap();
            let cadence = if quarterly { Cadence::Quarterly } else { Cadence::Monthly };
            let p = Period::containing(day, cadence, fy_start).unwrap();
            prop_assert!(p.start <= day && day < p.end);
            prop_assert_eq!(Period::parse("p", &p.label(fy_start), fy_start).unwrap(), p);
            if quarterly {
                prop_assert_eq!(p.months().len(), 3);
                // Quarters begin at the fiscal year's start month, every three months.
                prop_assert_eq!((i32::from(p.start.month()) - i32::from(fy_start)).rem_euclid(3), 0);
            }
        }
    }
}
