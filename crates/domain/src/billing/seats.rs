//! Seats: how many people a per-seat line bills. A member's administrator enables and disables its accounts,
//! so the count of active accounts at the moment of the invoice run is the member's to move (disable the day
//! before the run, enable the day after). The figure billed is the hub's record instead: the **peak** of
//! active accounts over the days billed, from a daily record the hub keeps (`seat_counts`: each day's highest
//! count, taken by the hub's daily job and raised whenever an account is created or enabled, and before one
//! is disabled). A day without a record adds nothing; when none of the days has one (the record began later,
//! or the job never ran), the count when the period is run is billed, and the line says so.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// The seat figure of a line: what is billed and where it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Seats {
    /// Seats billed.
    pub count: i64,
    /// The first day billed.
    #[schemars(with = "crate::schema::Day")]
    pub from: Date,
    /// The last day billed (included).
    #[schemars(with = "crate::schema::Day")]
    pub to: Date,
    /// Days of `from..=to` with a record; 0 when the count is the one at the run.
    pub recorded_days: i64,
    /// The first day with the peak (none when nothing was recorded).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[schemars(with = "Option<crate::schema::Day>")]
    pub peak_on: Option<Date>,
}

/// The seats billed for the days `from..until` (until excluded): the highest count recorded on any of those
/// days, or `at_run` (active accounts when the period is run) when none has a record. Records of other days
/// are ignored; a negative count is read as 0.
pub fn billed_seats(from: Date, until: Date, records: &[(Date, i64)], at_run: i64) -> Seats {
    let to = until.yesterday().unwrap_or(until).max(from);
    let mut peak: Option<(i64, Date)> = None;
    let mut days = std::collections::BTreeSet::new();
    for &(day, n) in records {
        if day < from || day >= until {
            continue;
        }
        days.insert(day);
        let n = n.max(0);
        peak = match peak {
            Some((p, d)) if p > n || (p == n && d <= day) => Some((p, d)),
            _ => Some((n, day)),
        };
    }
    Seats {
        count: peak.map_or(at_run.max(0), |(n, _)| n),
        from,
        to,
        recorded_days: i64::try_from(days.len()).unwrap_or(i64::MAX),
        peak_on: peak.map(|(_, d)| d),
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn month_name(d: Date) -> &'static str {
    MONTHS
        .get(usize::try_from(d.month() - 1).unwrap_or(0))
        .copied()
        .unwrap_or("")
}

/// `1–30 Nov`, `28 Nov – 3 Dec`, `30 Nov`.
fn days_label(from: Date, to: Date) -> String {
    if from == to {
        format!("{} {}", from.day(), month_name(from))
    } else if (from.year(), from.month()) == (to.year(), to.month()) {
        format!("{}–{} {}", from.day(), to.day(), month_name(to))
    } else {
        format!(
            "{} {} – {} {}",
            from.day(),
            month_name(from),
            to.day(),
            month_name(to)
        )
    }
}

impl Seats {
    /// Where the figure comes from, as an invoice line says it: "peak of 12 active accounts, 1–30 Nov".
    pub fn describe(&self) -> String {
        let accounts = if self.count == 1 {
            "active account"
        } else {
            "active accounts"
        };
        let days = days_label(self.from, self.to);
        if self.recorded_days == 0 {
            format!(
                "{} {accounts} when the invoice was run (no daily record for {days})",
                self.count
            )
        } else {
            format!("peak of {} {accounts}, {days}", self.count)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    #[test]
    fn the_peak_of_the_days_billed_is_billed_not_the_count_at_the_run() {
        let nov = |d| date(2026, 11, d);
        // 12 accounts all month; 4 disabled on the 30th, the day before the run.
        let mut records: Vec<(Date, i64)> = (1..30).map(|d| (nov(d), 12)).collect();
        records.push((nov(30), 8));
        let s = billed_seats(nov(1), date(2026, 12, 1), &records, 8);
        assert_eq!(s.count, 12);
        assert_eq!(s.recorded_days, 30);
        assert_eq!(s.peak_on, Some(nov(1)));
        assert_eq!(s.describe(), "peak of 12 active accounts, 1–30 Nov");
        // An account created mid-month counts.
        records.push((nov(15), 13));
        let s = billed_seats(nov(1), date(2026, 12, 1), &records, 8);
        assert_eq!((s.count, s.peak_on), (13, Some(nov(15))));
        // Days outside the range do not count.
        records.push((date(2026, 12, 1), 40));
        records.push((date(2026, 10, 31), 40));
        assert_eq!(
            billed_seats(nov(1), date(2026, 12, 1), &records, 8).count,
            13
        );
        // A subscription that began on the 16th bills the peak of its own days.
        assert_eq!(
            billed_seats(nov(16), date(2026, 12, 1), &records, 8).describe(),
            "peak of 12 active accounts, 16–30 Nov"
        );
    }

    #[test]
    fn without_a_record_the_count_at_the_run_is_billed_and_the_line_says_so() {
        let s = billed_seats(date(2026, 9, 1), date(2026, 10, 1), &[], 7);
        assert_eq!((s.count, s.recorded_days, s.peak_on), (7, 0, None));
        assert_eq!(
            s.describe(),
            "7 active accounts when the invoice was run (no daily record for 1–30 Sep)"
        );
        let one = billed_seats(date(2026, 9, 30), date(2026, 10, 1), &[], 1);
        assert_eq!(
            one.describe(),
            "1 active account when the invoice was run (no daily record for 30 Sep)"
        );
        assert_eq!(
            days_label(date(2026, 11, 28), date(2026, 12, 3)),
            "28 Nov – 3 Dec"
        );
    }

    proptest! {
        #[test]
        fn the_billed_count_is_the_highest_recorded_day_of_the_range(
            records in prop::collection::vec((0i32..120, -3i64..500), 0..80),
            start in 0i32..100,
            len in 1i32..40,
            at_run in 0i64..500,
        ) {
            let base = date(2026, 9, 1);
            let day = |n: i32| base.checked_add(jiff::Span::new().days(n)).unwrap();
            let records: Vec<(Date, i64)> = records.into_iter().map(|(d, n)| (day(d), n)).collect();
            let (from, until) = (day(start), day(start + len));
            let s = billed_seats(from, until, &records, at_run);
            let inside: Vec<i64> = records
                .iter()
                .filter(|(d, _)| *d >= from && *d < until)
                .map(|(_, n)| (*n).max(0))
                .collect();
            // Never below the count recorded on any day of the range…
            for n in &inside {
                prop_assert!(s.count >= *n);
            }
            match inside.iter().max() {
                // …never above the highest of them, which is where it comes from…
                Some(max) => {
                    prop_assert_eq!(s.count, *max);
                    let peak = s.peak_on.unwrap();
                    prop_assert!(peak >= from && peak < until);
                    prop_assert!(records.iter().any(|(d, n)| *d == peak && (*n).max(0) == s.count));
                    prop_assert!(s.recorded_days >= 1 && s.recorded_days <= i64::from(len));
                }
                // …and the count at the run only when no day of the range has a record.
                None => {
                    prop_assert_eq!(s.count, at_run);
                    prop_assert_eq!(s.recorded_days, 0);
                }
            }
            // Records outside the range never change the figure.
            let mut more = records.clone();
            more.push((day(start + len), 10_000));
            if start > 0 {
                more.push((day(start - 1), 10_000));
            }
            prop_assert_eq!(billed_seats(from, until, &more, at_run), s);
        }
    }
}
