//! Enterprise architecture: the region's technology standards (each in a ring — adopt, trial, hold,
//! retire — and a quadrant of the radar), how an item of the CMDB is found to use one, and exception
//! requests with their expiry and reminders.

use std::fmt;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::validation::FieldError;

vocabulary!(
    /// Where a technology stands in the region.
    Ring, "ring" {
        /// The region's standard: use it.
        Adopt = "adopt" / "Adopt",
        /// Being tried in a few places: use it with the architecture board's knowledge.
        Trial = "trial" / "Trial",
        /// No new use; what exists may stay for now.
        Hold = "hold" / "Hold",
        /// To be removed: what uses it needs a plan or an exception.
        Retire = "retire" / "Retire",
    }
);

impl Ring {
    /// Whether an item using a technology in this ring is out of compliance.
    pub fn needs_action(self) -> bool {
        matches!(self, Self::Hold | Self::Retire)
    }
}

vocabulary!(
    /// The radar's quadrants.
    Area, "area" {
        Infrastructure = "infrastructure" / "Infrastructure",
        Platforms = "platforms" / "Platforms and data",
        Applications = "applications" / "Applications",
        Security = "security" / "Security and identity",
    }
);

vocabulary!(
    /// Where an exception request stands.
    ExceptionStatus, "status" {
        Requested = "requested" / "Awaiting review",
        Approved = "approved" / "Approved",
        Rejected = "rejected" / "Rejected",
        Withdrawn = "withdrawn" / "Withdrawn",
    }
);

vocabulary!(
    /// The risk an exception carries, as its requester states it and its reviewer accepts it.
    Risk, "risk" {
        Low = "low" / "Low",
        Medium = "medium" / "Medium",
        High = "high" / "High",
    }
);

/// The longest an exception may be granted for: two years, then it is reviewed again.
pub const MAX_EXCEPTION_DAYS: i32 = 731;

/// Days before expiry at which the requester is reminded, furthest first.
pub const REMINDER_DAYS: &[i32] = &[30, 7];

/// Checks an approval's expiry: after `today` and within [`MAX_EXCEPTION_DAYS`].
pub fn check_expiry(expires_on: Date, today: Date) -> Result<Date, FieldError> {
    let days = (expires_on - today).get_days();
    if days <= 0 {
        return Err(FieldError::new("expires_on", "must be after today"));
    }
    if days > MAX_EXCEPTION_DAYS {
        return Err(FieldError::new(
            "expires_on",
            "must be within two years: an exception is reviewed again when it ends",
        ));
    }
    Ok(expires_on)
}

/// Whether an approved exception still holds on `today` (it holds through its expiry day).
pub fn in_force(status: ExceptionStatus, expires_on: Option<Date>, today: Date) -> bool {
    status == ExceptionStatus::Approved && expires_on.is_some_and(|e| today <= e)
}

/// The reminder due on `today` for an exception expiring on `expires_on`, given the reminders already
/// sent (by their days-before): the nearest threshold reached and not yet sent, once.
pub fn reminder_due(expires_on: Date, today: Date, sent: &[i32]) -> Option<i32> {
    let left = (expires_on - today).get_days();
    if left < 0 {
        return None;
    }
    REMINDER_DAYS
        .iter()
        .copied()
        .filter(|d| left <= *d)
        .min()
        .filter(|d| !sent.contains(d))
}

/// Whether an item's text (its name and attribute values) names a technology, by any of the standard's
/// match terms (case-insensitive, whole words: "SQL Server 2014" does not match "SQL Server 2014 SP3"'s
/// neighbour "SQL Server 20140"). Empty terms match nothing.
pub fn uses(terms: &[String], texts: &[&str]) -> bool {
    terms.iter().filter(|t| !t.trim().is_empty()).any(|term| {
        let term = term.trim().to_lowercase();
        texts
            .iter()
            .any(|text| contains_words(&text.to_lowercase(), &term))
    })
}

fn contains_words(text: &str, term: &str) -> bool {
    let is_word = |c: char| c.is_alphanumeric();
    let mut from = 0;
    while let Some(pos) = text[from..].find(term) {
        let start = from + pos;
        let end = start + term.len();
        let before = text[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !is_word(c));
        let after = text[end..].chars().next().is_none_or(|c| !is_word(c));
        if before && after {
            return true;
        }
        from = start + term.chars().next().map_or(1, char::len_utf8);
    }
    false
}

/// A blip's place on the radar (a 400 × 400 box centred on 200, 200): its quadrant gives the angle
/// range, its ring the distance band; blips of one quadrant and ring are spread evenly across the band's arc.
pub fn blip(area: Area, ring: Ring, index: usize, of: usize) -> (i64, i64) {
    let (q, r) = (
        Area::ALL.iter().position(|a| *a == area).unwrap_or(0) as i64,
        Ring::ALL.iter().position(|x| *x == ring).unwrap_or(0) as i64,
    );
    // Angle in tenths of a degree: each quadrant spans 900, blips spread between 100 and 800 within it.
    let of = of.max(1) as i64;
    let step = 700 / of;
    let angle = q * 900 + 100 + step * index as i64 + step / 2;
    let radius = 25 + r * 45 + (index as i64 % 2) * 15;
    let rad = (angle as f64 / 10.0).to_radians();
    // Drawing positions only (never money): rounded to whole pixels.
    let x = 200.0 + radius as f64 * rad.cos();
    let y = 200.0 - radius as f64 * rad.sin();
    (x.round() as i64, y.round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    #[test]
    fn items_are_found_by_whole_words_of_a_standards_terms() {
        let terms = vec![
            "Windows Server 2012".to_owned(),
            "SQL Server 2014".to_owned(),
        ];
        assert!(uses(&terms, &["app-01", "windows server 2012 R2"]));
        assert!(uses(&terms, &["SQL Server 2014"]));
        assert!(!uses(&terms, &["SQL Server 20140", "Windows Server 2022"]));
        assert!(!uses(&[String::new()], &["anything"]));
    }

    #[test]
    fn exceptions_hold_through_their_expiry_and_remind_once_per_threshold() {
        let today = date(2026, 12, 1);
        assert!(check_expiry(date(2027, 6, 30), today).is_ok());
        assert!(check_expiry(today, today).is_err());
        assert!(check_expiry(date(2029, 1, 1), today).is_err());
        let ends = date(2026, 12, 20);
        assert!(in_force(ExceptionStatus::Approved, Some(ends), ends));
        assert!(!in_force(
            ExceptionStatus::Approved,
            Some(ends),
            date(2026, 12, 21)
        ));
        assert!(!in_force(ExceptionStatus::Requested, Some(ends), today));
        assert_eq!(reminder_due(ends, today, &[]), Some(30));
        assert_eq!(reminder_due(ends, today, &[30]), None);
        assert_eq!(reminder_due(ends, date(2026, 12, 14), &[30]), Some(7));
        assert_eq!(reminder_due(ends, date(2026, 12, 21), &[]), None);
        assert_eq!(reminder_due(date(2027, 6, 1), today, &[]), None);
    }

    proptest! {
        #[test]
        fn blips_stay_inside_their_quadrant_and_the_radar(
            a in 0usize..4, r in 0usize..4, of in 1usize..40, i in 0usize..40,
        ) {
            let index = i % of;
            let (x, y) = blip(Area::ALL[a], Ring::ALL[r], index, of);
            prop_assert!((0..=400).contains(&x) && (0..=400).contains(&y));
            // Quadrant 0 is upper right, 1 upper left, 2 lower left, 3 lower right.
            let (right, up) = (x >= 200, y <= 200);
            prop_assert_eq!((right, up), [(true, true), (false, true), (false, false), (true, false)][a]);
        }

        #[test]
        fn a_reminder_is_sent_at_most_once_per_threshold(left in -5i32..60) {
            let today = date(2026, 1, 1);
            let ends = today.checked_add(jiff::Span::new().days(left)).unwrap();
            let first = reminder_due(ends, today, &[]);
            if let Some(d) = first {
                prop_assert!(left <= d);
                prop_assert_eq!(reminder_due(ends, today, &[d]), None);
            } else {
                prop_assert!(!(0..=30).contains(&left));
            }
        }
    }
}
