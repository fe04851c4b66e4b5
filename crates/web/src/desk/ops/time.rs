//! Operations: each checks its input and the caller's permission, calls the store and returns the result.
//! The JSON handlers and the pages both call them.

use crate::AppState;
use crate::auth::Principal;
use crate::error::Failure;
use crate::extract::date;
use domain::FieldError;
use domain::authz::Permission;
use domain::desk::Activity;
use domain::validation::{Collector, long_text};
use jiff::civil::Date;
use serde::Deserialize;
use store::desk::time::{self, NewEntry};

#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEntry {
    /// Ticket number.
    pub ticket: Option<i64>,
    pub minutes: Option<i64>,
    pub activity: Option<String>,
    pub billable: Option<bool>,
    /// The date worked (default: today in the ticket's time zone).
    #[schemars(extend("format" = "date"))]
    pub date: Option<String>,
    pub note: Option<String>,
}

pub fn parse_entry(raw: &RawEntry, today: Date) -> Result<NewEntry, Failure> {
    let mut c = Collector::new();
    let ticket = match raw.ticket {
        Some(n) if n > 0 => Some(n),
        _ => {
            c.push(FieldError::new("ticket", "is required: a ticket number"));
            None
        }
    };
    let minutes = match raw.minutes {
        Some(m) if (1..=1440).contains(&m) => Some(m),
        Some(_) => {
            c.push(FieldError::new(
                "minutes",
                "must be between 1 and 1440 (one day)",
            ));
            None
        }
        None => {
            c.push(FieldError::new("minutes", "is required"));
            None
        }
    };
    let activity = c.take(Activity::parse(
        raw.activity.as_deref().unwrap_or("support"),
    ));
    let work_date = match raw.date.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => c.take(date("date", d)),
        None => Some(today),
    };
    if work_date.is_some_and(|d| d > today) {
        c.push(FieldError::new("date", "cannot be in the future"));
    }
    let note = match raw.note.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => c.take(long_text("note", n, 2000)),
        None => Some(String::new()),
    };
    c.finish()?;
    match (ticket, minutes, activity, work_date, note) {
        (Some(ticket_number), Some(minutes), Some(activity), Some(work_date), Some(note)) => {
            Ok(NewEntry {
                ticket_number,
                work_date,
                minutes,
                activity,
                billable: raw.billable.unwrap_or(true),
                note,
            })
        }
        _ => Err(Failure::Invalid(vec![FieldError::new(
            "entry",
            "is incomplete",
        )])),
    }
}

#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTimer {
    pub ticket: Option<i64>,
    pub activity: Option<String>,
    pub billable: Option<bool>,
    pub note: Option<String>,
}

pub async fn start(s: &AppState, p: &Principal, raw: &RawTimer) -> Result<time::Timer, Failure> {
    let scope = p.require(Permission::TimeLog)?;
    let number = raw.ticket.filter(|n| *n > 0).ok_or_else(|| {
        Failure::Invalid(vec![FieldError::new(
            "ticket",
            "is required: a ticket number",
        )])
    })?;
    let activity = Activity::parse(raw.activity.as_deref().unwrap_or("support"))
        .map_err(|e| Failure::Invalid(vec![e]))?;
    Ok(time::start(
        &s.db,
        &p.ticket_view()?,
        &scope,
        p.user.id,
        number,
        activity,
        raw.billable.unwrap_or(true),
    )
    .await?)
}

pub async fn stop(
    s: &AppState,
    p: &Principal,
    note: Option<&str>,
) -> Result<time::TimeEntry, Failure> {
    let scope = p.require(Permission::TimeLog)?;
    let note = match note.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => long_text("note", n, 2000).map_err(|e| Failure::Invalid(vec![e]))?,
        None => String::new(),
    };
    let tz = jiff::tz::TimeZone::get("America/New_York").unwrap_or(jiff::tz::TimeZone::UTC);
    Ok(time::stop(
        &s.db,
        &p.ticket_view()?,
        &scope,
        &p.actor(),
        p.user.id,
        &tz,
        &note,
    )
    .await?)
}
