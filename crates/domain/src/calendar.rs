//! Business-hours calendars: working hours per weekday and the holidays an organisation closes for.
//! The service desk's SLA clock counts time in these calendars; here they are defined and validated.

use crate::validation::FieldError;
use jiff::civil::{Date, Time, Weekday};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// Opening hours on one weekday, in the organisation's local time; `None` when closed all day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DayHours {
    #[schemars(with = "crate::schema::ClockTime")]
    pub open: Time,
    #[schemars(with = "crate::schema::ClockTime")]
    pub close: Time,
}

/// Working hours for each weekday, Monday first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WeeklyHours {
    pub days: [Option<DayHours>; 7],
}

pub const WEEKDAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

impl Default for WeeklyHours {
    /// Monday to Friday, 8:00 to 17:00: a town hall's usual hours.
    fn default() -> Self {
        let day = Some(DayHours {
            open: Time::constant(8, 0, 0, 0),
            close: Time::constant(17, 0, 0, 0),
        });
        Self {
            days: [day, day, day, day, day, None, None],
        }
    }
}

impl WeeklyHours {
    pub fn for_weekday(&self, wd: Weekday) -> Option<DayHours> {
        self.days[usize::from(wd.to_monday_zero_offset().unsigned_abs())]
    }

    /// Parses one weekday's hours from `"08:00-17:00"`, or empty / `"closed"` for a closed day.
    pub fn parse_day(index: usize, raw: &str) -> Result<Option<DayHours>, FieldError> {
        let name = WEEKDAY_NAMES.get(index).copied().unwrap_or("day");
        let field = format!("business_hours.{name}");
        let s = raw.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("closed") {
            return Ok(None);
        }
        let bad = || {
            FieldError::new(
                field.clone(),
                "must be like 08:00-17:00, or empty when closed",
            )
        };
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        let open: Time = a.trim().parse().map_err(|_| bad())?;
        let close: Time = b.trim().parse().map_err(|_| bad())?;
        if close <= open {
            return Err(FieldError::new(
                field,
                "closing time must be after opening time",
            ));
        }
        Ok(Some(DayHours { open, close }))
    }

    /// `"08:00-17:00"` or `""` for a closed day: the inverse of [`WeeklyHours::parse_day`].
    pub fn format_day(&self, index: usize) -> String {
        match self.days.get(index).copied().flatten() {
            Some(d) => format!("{}-{}", d.open.strftime("%H:%M"), d.close.strftime("%H:%M")),
            None => String::new(),
        }
    }

    /// Working minutes in a full week: a quick sanity figure for settings pages.
    pub fn minutes_per_week(&self) -> i64 {
        self.days
            .iter()
            .flatten()
            .map(|d| {
                let span = d.close.since(d.open).unwrap_or_default();
                i64::from(span.get_hours()) * 60 + span.get_minutes()
            })
            .sum()
    }
}

/// Which built-in holiday lists an organisation observes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HolidayRules {
    pub federal: bool,
    pub massachusetts: bool,
}

impl Default for HolidayRules {
    fn default() -> Self {
        Self {
            federal: true,
            massachusetts: true,
        }
    }
}

/// A public holiday from the built-in list (observed date).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    pub date: Date,
    pub name: String,
    pub massachusetts_only: bool,
}

/// US federal and Massachusetts legal holidays 2015–2040 with observed dates.
/// Source: shared/data/us-ma-holidays-2015-2040.csv, generated with the PyPI package `holidays` 0.109.
pub fn builtin_holidays() -> &'static [Holiday] {
    static LIST: OnceLock<Vec<Holiday>> = OnceLock::new();
    LIST.get_or_init(|| {
        include_str!("../data/us-ma-holidays-2015-2040.csv")
            .lines()
            .skip(1)
            .filter_map(|line| {
                let mut parts = line.splitn(3, ',');
                let date = parts.next()?.parse().ok()?;
                let name = parts.next()?.to_owned();
                let scope = parts.next()?;
                Some(Holiday {
                    date,
                    name,
                    massachusetts_only: scope.trim() == "massachusetts",
                })
            })
            .collect()
    })
}

impl HolidayRules {
    /// The built-in holidays these rules observe between two dates (inclusive).
    pub fn holidays_between(self, from: Date, to: Date) -> impl Iterator<Item = &'static Holiday> {
        builtin_holidays().iter().filter(move |h| {
            h.date >= from
                && h.date <= to
                && if h.massachusetts_only {
                    self.massachusetts
                } else {
                    self.federal
                }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn default_week_is_45_hours() {
        assert_eq!(WeeklyHours::default().minutes_per_week(), 45 * 60);
        assert!(
            WeeklyHours::default()
                .for_weekday(Weekday::Saturday)
                .is_none()
        );
        assert!(
            WeeklyHours::default()
                .for_weekday(Weekday::Monday)
                .is_some()
        );
    }

    #[test]
    fn day_hours_round_trip_and_refuse_nonsense() {
        let d = WeeklyHours::parse_day(0, "07:30-16:00").unwrap();
        let mut w = WeeklyHours::default();
        w.days[0] = d;
        assert_eq!(w.format_day(0), "07:30-16:00");
        assert_eq!(WeeklyHours::parse_day(5, "closed"), Ok(None));
        let e = WeeklyHours::parse_day(1, "17:00-08:00").unwrap_err();
        assert_eq!(e.field, "business_hours.tuesday");
        assert!(WeeklyHours::parse_day(2, "nine to five").is_err());
    }

    #[test]
    fn patriots_day_is_a_massachusetts_holiday() {
        let rules = HolidayRules::default();
        let april: Vec<_> = rules
            .holidays_between(date(2026, 4, 1), date(2026, 4, 30))
            .collect();
        assert_eq!(april.len(), 1);
        assert_eq!(april[0].name, "Patriots' Day");
        assert_eq!(april[0].date, date(2026, 4, 20));
        let federal_only = HolidayRules {
            federal: true,
            massachusetts: false,
        };
        assert_eq!(
            federal_only
                .holidays_between(date(2026, 4, 1), date(2026, 4, 30))
                .count(),
            0
        );
        assert!(builtin_holidays().len() > 300);
    }
}

/// A day an organisation closes beyond the built-in holidays (a snow day, a local holiday, an election).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Closure {
    #[schemars(with = "crate::schema::Day")]
    pub date: Date,
    pub name: String,
}

impl Closure {
    pub fn parse(date: &str, name: &str) -> Result<Self, crate::Invalid> {
        let mut c = crate::validation::Collector::new();
        let d = c.take(
            date.trim()
                .parse::<Date>()
                .map_err(|_| FieldError::new("date", "must be a date such as 2026-12-24")),
        );
        let n = c.take(crate::validation::text("name", name, 120));
        c.finish()?;
        match (d, n) {
            (Some(date), Some(name)) => Ok(Self { date, name }),
            _ => Err(crate::Invalid::one("date", "is required")),
        }
    }
}

/// Where a day off comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DayOffSource {
    Federal,
    Massachusetts,
    Local,
}

/// One day the organisation is closed, whatever the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct DayOff {
    #[schemars(with = "crate::schema::Day")]
    pub date: Date,
    pub name: String,
    pub source: DayOffSource,
}

/// Every day off between two dates (inclusive): the observed built-in holidays and the local closures,
/// by date; a local closure on a holiday is listed once, as the holiday.
pub fn days_off(rules: HolidayRules, closures: &[Closure], from: Date, to: Date) -> Vec<DayOff> {
    let mut out: Vec<DayOff> = rules
        .holidays_between(from, to)
        .map(|h| DayOff {
            date: h.date,
            name: h.name.clone(),
            source: if h.massachusetts_only {
                DayOffSource::Massachusetts
            } else {
                DayOffSource::Federal
            },
        })
        .collect();
    for c in closures.iter().filter(|c| c.date >= from && c.date <= to) {
        if !out.iter().any(|d| d.date == c.date) {
            out.push(DayOff {
                date: c.date,
                name: c.name.clone(),
                source: DayOffSource::Local,
            });
        }
    }
    out.sort_by_key(|d| d.date);
    out
}

#[cfg(test)]
mod closure_tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn closures_are_validated_and_merged_with_holidays() {
        assert!(Closure::parse("2026-13-01", "x").is_err());
        let err = Closure::parse("", "").unwrap_err();
        assert_eq!(err.0.len(), 2);
        let snow = Closure::parse("2026-02-02", "Snow day").unwrap();
        let dup = Closure::parse("2026-01-01", "Town closed").unwrap();
        let days = days_off(
            HolidayRules::default(),
            &[snow.clone(), dup],
            date(2026, 1, 1),
            date(2026, 2, 28),
        );
        let names: Vec<&str> = days.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "New Year's Day",
                "Martin Luther King Jr. Day",
                "Snow day",
                "Washington's Birthday"
            ]
        );
        assert_eq!(days[2].source, DayOffSource::Local);
    }
}
