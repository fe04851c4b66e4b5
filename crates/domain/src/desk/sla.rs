//! The SLA clock: response and resolution targets counted in an organisation's business time.
//!
//! A [`BusinessCalendar`] says when the desk's clock runs for one member: its time zone, its working hours
//! per weekday, and its days off (built-in holidays it observes plus local closures). A 24×7 calendar runs
//! the clock all the time. [`SlaClock`] adds pauses (a ticket waiting on its requester) and answers how much
//! of a target is used, when it falls due, and whether it is at risk or breached.
//!
//! All arithmetic is in whole seconds between UTC instants; opening hours are local wall-clock times, so a
//! working day is as long as its opening hours say whatever the DST offset that day.

use crate::calendar::{Closure, HolidayRules, WeeklyHours};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// How far ahead [`BusinessCalendar::add_business_seconds`] looks for working time before it gives up
/// (a calendar with no working hours at all never falls due).
const HORIZON_DAYS: i32 = 3 * 366;

/// When a service desk's clock runs for one organisation.
#[derive(Debug, Clone)]
pub struct BusinessCalendar {
    tz: TimeZone,
    /// `None`: open all the time (24×7).
    hours: Option<WeeklyHours>,
    closed: BTreeSet<Date>,
}

impl BusinessCalendar {
    /// Working hours in `tz`, closed on the built-in holidays `rules` observes and on `closures`.
    pub fn business(
        tz: TimeZone,
        hours: WeeklyHours,
        rules: HolidayRules,
        closures: &[Closure],
    ) -> Self {
        let mut closed: BTreeSet<Date> = rules
            .holidays_between(Date::MIN, Date::MAX)
            .map(|h| h.date)
            .collect();
        closed.extend(closures.iter().map(|c| c.date));
        Self {
            tz,
            hours: Some(hours),
            closed,
        }
    }

    /// Open every second of every day (for 24×7 services such as public safety).
    /// The time zone the calendar counts in.
    pub fn tz(&self) -> &TimeZone {
        &self.tz
    }

    pub fn always(tz: TimeZone) -> Self {
        Self {
            tz,
            hours: None,
            closed: BTreeSet::new(),
        }
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// The working window of one local date as UTC instants, if the organisation works that day.
    fn window(&self, d: Date) -> Option<(Timestamp, Timestamp)> {
        let hours = self.hours.as_ref()?;
        if self.closed.contains(&d) {
            return None;
        }
        let h = hours.for_weekday(d.weekday())?;
        let open = self.tz.to_timestamp(d.to_datetime(h.open)).ok()?;
        let close = self.tz.to_timestamp(d.to_datetime(h.close)).ok()?;
        (open < close).then_some((open, close))
    }

    fn local_date(&self, t: Timestamp) -> Date {
        self.tz.to_datetime(t).date()
    }

    /// Business seconds in `[from, to)`; zero when `to <= from`.
    pub fn business_seconds(&self, from: Timestamp, to: Timestamp) -> i64 {
        if to <= from {
            return 0;
        }
        if self.hours.is_none() {
            return to.as_second() - from.as_second();
        }
        let (mut d, last) = (self.local_date(from), self.local_date(to));
        let mut total = 0;
        while d <= last {
            if let Some((open, close)) = self.window(d) {
                let (a, b) = (open.max(from), close.min(to));
                if a < b {
                    total += b.as_second() - a.as_second();
                }
            }
            match d.tomorrow() {
                Ok(n) => d = n,
                Err(_) => break,
            }
        }
        total
    }

    /// The instant at which `secs` business seconds after `from` have passed; `None` when the calendar has
    /// no working time within about three years (a calendar with every day closed).
    pub fn add_business_seconds(&self, from: Timestamp, secs: i64) -> Option<Timestamp> {
        let secs = secs.max(0);
        if self.hours.is_none() {
            return from.checked_add(secs.seconds()).ok();
        }
        let mut left = secs;
        let mut d = self.local_date(from);
        for _ in 0..HORIZON_DAYS {
            if let Some((open, close)) = self.window(d) {
                let start = open.max(from);
                if start < close {
                    let avail = close.as_second() - start.as_second();
                    if left <= avail {
                        // Exactly at a window's start (left == 0) means the clock starts there.
                        return start.checked_add(left.seconds()).ok();
                    }
                    left -= avail;
                }
            }
            d = d.tomorrow().ok()?;
        }
        None
    }
}

/// Why a clock stopped running for a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Pause {
    #[schemars(with = "crate::schema::Instant")]
    pub from: Timestamp,
    /// `None` while the pause lasts.
    #[schemars(with = "Option<crate::schema::Instant>")]
    pub to: Option<Timestamp>,
}

/// One SLA clock (response or resolution) of one ticket: started when the ticket was opened, paused while
/// the ticket waits on its requester, stopped when the target event happens.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SlaClock {
    pub pauses: Vec<Pause>,
}

/// Where a clock stands at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct SlaStanding {
    /// Business seconds the clock has run.
    pub elapsed: i64,
    /// Target in business seconds.
    pub target: i64,
    /// When the target falls (or fell) due; `None` while paused with time left, or on a calendar with no
    /// working time.
    #[schemars(with = "Option<crate::schema::Instant>")]
    pub due: Option<Timestamp>,
    pub paused: bool,
}

/// Share of the target at which a ticket counts as at risk.
pub const AT_RISK_PERCENT: i64 = 75;

impl SlaStanding {
    pub fn breached(&self) -> bool {
        self.elapsed > self.target
    }

    /// At risk: 75% of the target used, not yet breached.
    pub fn at_risk(&self) -> bool {
        !self.breached() && self.elapsed * 100 >= self.target * AT_RISK_PERCENT
    }
}

impl SlaClock {
    /// Whether a pause is running.
    pub fn is_paused(&self) -> bool {
        self.pauses.last().is_some_and(|p| p.to.is_none())
    }

    /// Starts a pause at `at` (no effect if one is running already).
    pub fn pause(&mut self, at: Timestamp) {
        if !self.is_paused() {
            self.pauses.push(Pause { from: at, to: None });
        }
    }

    /// Ends the running pause at `at` (no effect if none is running).
    pub fn resume(&mut self, at: Timestamp) {
        if let Some(p) = self.pauses.last_mut()
            && p.to.is_none()
        {
            p.to = Some(at.max(p.from));
        }
    }

    /// The intervals in which the clock ran between `start` and `now`, in order.
    fn running(&self, start: Timestamp, now: Timestamp) -> Vec<(Timestamp, Timestamp)> {
        let mut out = Vec::with_capacity(self.pauses.len() + 1);
        let mut cursor = start;
        for p in &self.pauses {
            let from = p.from.clamp(start, now);
            if from > cursor {
                out.push((cursor, from));
            }
            match p.to {
                Some(to) => cursor = cursor.max(to.min(now)),
                None => return out,
            }
        }
        if now > cursor {
            out.push((cursor, now));
        }
        out
    }

    /// Business seconds the clock ran from `start` until `now`.
    pub fn elapsed(&self, cal: &BusinessCalendar, start: Timestamp, now: Timestamp) -> i64 {
        self.running(start, now)
            .into_iter()
            .map(|(a, b)| cal.business_seconds(a, b))
            .sum()
    }

    /// Where the clock stands at `now` against a target of `target` business seconds.
    pub fn standing(
        &self,
        cal: &BusinessCalendar,
        start: Timestamp,
        target: i64,
        now: Timestamp,
    ) -> SlaStanding {
        let segments = self.running(start, now);
        let mut left = target;
        let mut due = None;
        // Where the clock last started running, and how much time was left then.
        let mut last_run = (start, target);
        for (a, b) in &segments {
            let used = cal.business_seconds(*a, *b);
            if due.is_none() && used >= left {
                due = cal.add_business_seconds(*a, left);
            }
            last_run = (*a, left);
            left -= used;
        }
        let paused = self.is_paused();
        if due.is_none() && !paused {
            // Still running with time left. Counted on from where the run began, not from `now`:
            // business seconds are whole, so counting from `now` would move the due instant by the
            // fraction of a second at which it is asked.
            due = match segments.last() {
                Some(&(_, b)) if b == now => cal.add_business_seconds(last_run.0, last_run.1),
                last => {
                    let from = last.map_or(start, |s| s.1).max(start).max(now);
                    cal.add_business_seconds(from, left)
                }
            };
        }
        SlaStanding {
            elapsed: target - left,
            target,
            due,
            paused,
        }
    }
}

/// Response and resolution targets, in minutes of the calendar's time, for one priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Target {
    pub response_minutes: i64,
    pub resolution_minutes: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{Closure, HolidayRules, WeeklyHours};
    use jiff::civil::{DateTime, date};
    use proptest::prelude::*;

    fn boston() -> TimeZone {
        TimeZone::get("America/New_York").unwrap()
    }

    fn town() -> BusinessCalendar {
        BusinessCalendar::business(
            boston(),
            WeeklyHours::default(),
            HolidayRules::default(),
            &[Closure {
                date: date(2026, 2, 2),
                name: "Snow day".into(),
            }],
        )
    }

    fn at(dt: DateTime) -> Timestamp {
        boston().to_timestamp(dt).unwrap()
    }

    const H: i64 = 3600;

    #[test]
    fn a_friday_afternoon_ticket_runs_into_monday() {
        let cal = town();
        // Friday 2026-11-20 16:00 → Monday 2026-11-23 12:00: 1 h Friday + 4 h Monday.
        let from = at(date(2026, 11, 20).at(16, 0, 0, 0));
        let to = at(date(2026, 11, 23).at(12, 0, 0, 0));
        assert_eq!(cal.business_seconds(from, to), 5 * H);
        // A 4-hour target from Friday 16:00 falls due Monday 11:00.
        assert_eq!(
            cal.add_business_seconds(from, 4 * H),
            Some(at(date(2026, 11, 23).at(11, 0, 0, 0)))
        );
    }

    #[test]
    fn holidays_and_closures_do_not_count() {
        let cal = town();
        // Patriots' Day 2026-04-20 (Monday) is closed: Friday 17:00 → Tuesday 09:00 is 1 h.
        let from = at(date(2026, 4, 17).at(17, 0, 0, 0));
        let to = at(date(2026, 4, 21).at(9, 0, 0, 0));
        assert_eq!(cal.business_seconds(from, to), H);
        // The local snow day 2026-02-02 (Monday) is closed too.
        let from = at(date(2026, 2, 2).at(8, 0, 0, 0));
        let to = at(date(2026, 2, 3).at(8, 0, 0, 0));
        assert_eq!(cal.business_seconds(from, to), 0);
    }

    #[test]
    fn working_days_keep_their_length_across_dst() {
        let cal = town();
        // DST starts Sunday 2026-03-08 and ends Sunday 2026-11-01; the Mondays after are 9-hour days.
        for d in [date(2026, 3, 9), date(2026, 11, 2)] {
            let from = at(d.yesterday().unwrap().at(0, 0, 0, 0));
            let to = at(d.tomorrow().unwrap().at(0, 0, 0, 0));
            assert_eq!(cal.business_seconds(from, to), 9 * H, "{d}");
        }
        // Around the clock, the spring-forward Sunday has 23 hours and the fall-back Sunday 25.
        let always = BusinessCalendar::always(boston());
        let spring = always.business_seconds(
            at(date(2026, 3, 8).at(0, 0, 0, 0)),
            at(date(2026, 3, 9).at(0, 0, 0, 0)),
        );
        let fall = always.business_seconds(
            at(date(2026, 11, 1).at(0, 0, 0, 0)),
            at(date(2026, 11, 2).at(0, 0, 0, 0)),
        );
        assert_eq!((spring, fall), (23 * H, 25 * H));
    }

    #[test]
    fn a_pause_over_a_weekend_only_removes_business_time() {
        let cal = town();
        let start = at(date(2026, 11, 19).at(9, 0, 0, 0)); // Thursday
        let mut clock = SlaClock::default();
        clock.pause(at(date(2026, 11, 20).at(15, 0, 0, 0))); // Friday 15:00
        clock.resume(at(date(2026, 11, 23).at(10, 0, 0, 0))); // Monday 10:00
        let now = at(date(2026, 11, 23).at(12, 0, 0, 0));
        // Thursday 8 h + Friday 7 h (9–15... from 8:00) — Thursday 9–17 = 8 h, Friday 8–15 = 7 h, Monday 10–12 = 2 h.
        assert_eq!(clock.elapsed(&cal, start, now), 17 * H);
        let s = clock.standing(&cal, start, 18 * H, now);
        assert_eq!(s.due, Some(at(date(2026, 11, 23).at(13, 0, 0, 0))));
        assert!(s.at_risk() && !s.breached() && !s.paused);
    }

    #[test]
    fn a_paused_clock_has_no_due_time_until_it_resumes() {
        let cal = town();
        let start = at(date(2026, 11, 23).at(9, 0, 0, 0));
        let mut clock = SlaClock::default();
        clock.pause(at(date(2026, 11, 23).at(10, 0, 0, 0)));
        let s = clock.standing(&cal, start, 4 * H, at(date(2026, 11, 24).at(16, 0, 0, 0)));
        assert_eq!((s.elapsed, s.due, s.paused), (H, None, true));
        // Breached before the pause: the due time stays where it fell.
        let s = clock.standing(&cal, start, 30 * 60, at(date(2026, 11, 24).at(16, 0, 0, 0)));
        assert!(s.breached());
        assert_eq!(s.due, Some(at(date(2026, 11, 23).at(9, 30, 0, 0))));
    }

    #[test]
    fn a_calendar_without_working_hours_never_falls_due() {
        let cal = BusinessCalendar::business(
            boston(),
            WeeklyHours { days: [None; 7] },
            HolidayRules::default(),
            &[],
        );
        let t = at(date(2026, 1, 5).at(9, 0, 0, 0));
        assert_eq!(cal.add_business_seconds(t, 60), None);
        assert_eq!(
            cal.business_seconds(t, t + jiff::SignedDuration::from_hours(500)),
            0
        );
    }

    /// Instants from 2025 to 2028 (covering four DST changes each way and many holidays), to the second.
    fn instant() -> impl Strategy<Value = Timestamp> {
        (1_735_689_600i64..1_830_297_600).prop_map(|s| Timestamp::from_second(s).unwrap())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn adding_then_measuring_gives_back_the_duration(from in instant(), secs in 0i64..(400 * H)) {
            for cal in [town(), BusinessCalendar::always(boston())] {
                let due = cal.add_business_seconds(from, secs).unwrap();
                prop_assert!(due >= from);
                prop_assert_eq!(cal.business_seconds(from, due), secs);
            }
        }

        #[test]
        fn business_time_adds_up_and_never_exceeds_wall_time(a in instant(), b in instant(), c in instant()) {
            let mut v = [a, b, c];
            v.sort();
            let cal = town();
            let (ab, bc, ac) = (
                cal.business_seconds(v[0], v[1]),
                cal.business_seconds(v[1], v[2]),
                cal.business_seconds(v[0], v[2]),
            );
            prop_assert_eq!(ab + bc, ac);
            prop_assert!(ac <= v[2].as_second() - v[0].as_second());
            prop_assert!(ab >= 0);
        }

        #[test]
        fn closed_days_contribute_nothing(day in 0i32..1400) {
            let cal = town();
            let d = date(2025, 1, 1).checked_add(day.days()).unwrap();
            let from = at(d.at(0, 0, 0, 0));
            let to = at(d.tomorrow().unwrap().at(0, 0, 0, 0));
            let secs = cal.business_seconds(from, to);
            let weekend = matches!(d.weekday(), jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday);
            let holiday = HolidayRules::default().holidays_between(d, d).next().is_some();
            if weekend || holiday || d == date(2026, 2, 2) {
                prop_assert_eq!(secs, 0);
            } else {
                prop_assert_eq!(secs, 9 * H);
            }
        }

        #[test]
        fn pauses_only_ever_remove_time_and_the_due_time_is_where_the_target_is_used(
            start in instant(),
            gaps in proptest::collection::vec((0i64..(72 * H), 0i64..(72 * H)), 0..4),
            extra in 0i64..(100 * H),
            target in 60i64..(60 * H),
        ) {
            let cal = town();
            let mut clock = SlaClock::default();
            let mut t = start;
            for (run, pause) in &gaps {
                t = t.checked_add(run.seconds()).unwrap();
                clock.pause(t);
                t = t.checked_add(pause.seconds()).unwrap();
                clock.resume(t);
            }
            let now = t.checked_add(extra.seconds()).unwrap();
            let elapsed = clock.elapsed(&cal, start, now);
            prop_assert!(elapsed <= cal.business_seconds(start, now));
            let s = clock.standing(&cal, start, target, now);
            prop_assert_eq!(s.elapsed, elapsed);
            let due = s.due.unwrap();
            // At the due instant the clock has used exactly the target.
            prop_assert_eq!(clock.elapsed(&cal, start, due), target);
            prop_assert_eq!(s.breached(), due < now && elapsed > target);
        }

        #[test]
        fn the_due_instant_does_not_depend_on_when_it_is_asked(
            start in instant(),
            target in 60i64..(60 * H),
            a in 0i64..(200 * H * 1000),
            b in 0i64..(200 * H * 1000),
        ) {
            // Asked at any two instants (to the millisecond) after the start, a running clock gives
            // the same due instant as at the start.
            let cal = town();
            let clock = SlaClock::default();
            let first = clock.standing(&cal, start, target, start).due;
            for later in [a, b] {
                let now = start.checked_add(jiff::SignedDuration::from_millis(later)).unwrap();
                prop_assert_eq!(clock.standing(&cal, start, target, now).due, first);
            }
        }
    }
}
