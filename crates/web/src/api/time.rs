//! Time tracking over the API: entries, and a person's timer.

use super::{entity, list};
use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiResult, Failure};
use crate::extract::{ApiJson, ApiQuery, PageParams, if_match};
use crate::routes::Table;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::FieldError;
use domain::authz::{Permission, Role};
use domain::desk::Activity;
use domain::ids::UserId;
use domain::validation::{Collector, long_text};
use jiff::civil::Date;
use serde::Deserialize;
use store::desk::time::{self, Filter, NewEntry};
use store::tenancy::orgs;

pub fn routes(t: Table) -> Table {
    t.get(
        "/api/v1/time-entries",
        "List time entries (yours, a person's, a member's, a ticket's)",
        "time-read",
        list_entries,
    )
    .post(
        "/api/v1/time-entries",
        "Log time on a ticket",
        "time-log",
        create_entry,
    )
    .delete(
        "/api/v1/time-entries/{id}",
        "Remove a time entry (your own)",
        "time-log",
        delete_entry,
    )
    .get(
        "/api/v1/timer",
        "Your running timer, if any",
        "time-log",
        get_timer,
    )
    .post(
        "/api/v1/timer/start",
        "Start a timer on a ticket",
        "time-log",
        start_timer,
    )
    .post(
        "/api/v1/timer/stop",
        "Stop your timer and log its time",
        "time-log",
        stop_timer,
    )
}

#[derive(Debug, Default, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TimeQuery {
    /// `me` or a person's id.
    pub user: Option<String>,
    /// Organisation slug.
    pub org: Option<String>,
    pub ticket: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub billable: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// A date as people type it (`2026-11-23`), or an error naming the field.
pub(crate) fn date(field: &str, raw: &str) -> Result<Date, FieldError> {
    raw.trim()
        .parse()
        .map_err(|_| FieldError::new(field, "must be a date such as 2026-11-23"))
}

impl TimeQuery {
    pub async fn to_filter(&self, s: &AppState, p: &Principal) -> Result<Filter, Failure> {
        let mut c = Collector::new();
        let ne = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(str::to_owned)
        };
        let mut f = Filter {
            user: match ne(&self.user).as_deref() {
                None => None,
                Some("me") => Some(p.user.id),
                Some(v) => c.take(
                    v.parse::<UserId>()
                        .map_err(|_| FieldError::new("user", "is not a person's id")),
                ),
            },
            ticket_number: match ne(&self.ticket) {
                None => None,
                Some(v) => c.take(
                    v.parse::<i64>()
                        .map_err(|_| FieldError::new("ticket", "is not a ticket number")),
                ),
            },
            from: ne(&self.from).and_then(|v| c.take(date("from", &v))),
            to: ne(&self.to).and_then(|v| c.take(date("to", &v))),
            billable: match ne(&self.billable).as_deref() {
                None => None,
                Some("true") => Some(true),
                Some("false") => Some(false),
                Some(_) => {
                    c.push(FieldError::new("billable", "must be true or false"));
                    None
                }
            },
            org: None,
        };
        if let Some(slug) = ne(&self.org) {
            match orgs::get_by_slug(&s.db, &p.scope(Permission::OrgRead), &slug).await {
                Ok(o) => f.org = Some(o.id),
                Err(store::StoreError::NotFound) => {
                    c.push(FieldError::new("org", "is not an organisation you can see"))
                }
                Err(e) => return Err(e.into()),
            }
        }
        if let (Some(a), Some(b)) = (f.from, f.to)
            && a > b
        {
            c.push(FieldError::new("to", "must not be before from"));
        }
        c.finish()?;
        Ok(f)
    }

    pub fn page(&self) -> PageParams {
        PageParams {
            limit: self.limit,
            cursor: self.cursor.clone(),
        }
    }
}

async fn list_entries(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<TimeQuery>,
) -> ApiResult<Response> {
    let scope = p.require(Permission::TimeRead)?;
    let f = q.to_filter(&s, &p).await?;
    Ok(list(
        time::list(&s.db, &scope, &f, &q.page().to_request()?).await?,
    ))
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEntry {
    /// Ticket number.
    pub ticket: Option<i64>,
    pub minutes: Option<i64>,
    pub activity: Option<String>,
    pub billable: Option<bool>,
    /// The date worked (default: today in the ticket's time zone).
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

/// Today in the region's default time zone (entries are dated by the person logging them).
/// Now, on the hub's clock (America/New_York).
pub fn now_local() -> jiff::ZonedDateTime {
    let tz = jiff::tz::TimeZone::get("America/New_York").unwrap_or(jiff::tz::TimeZone::UTC);
    jiff::Timestamp::now().to_zoned_datetime(tz)
}

pub fn today() -> Date {
    let tz = jiff::tz::TimeZone::get("America/New_York").unwrap_or(jiff::tz::TimeZone::UTC);
    tz.to_datetime(jiff::Timestamp::now()).date()
}

async fn create_entry(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(raw): ApiJson<RawEntry>,
) -> ApiResult<Response> {
    let scope = p.require(Permission::TimeLog)?;
    let e = parse_entry(&raw, today())?;
    let out = time::log_time(&s.db, &p.ticket_view()?, &scope, &p.actor(), p.user.id, &e).await?;
    Ok(entity(StatusCode::CREATED, out.version, &out))
}

async fn delete_entry(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let scope = p.require(Permission::TimeLog)?;
    time::delete(
        &s.db,
        &scope,
        &p.actor(),
        &id,
        p.has_role(Role::HubAdmin),
        if_match(&headers)?,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn get_timer(State(s): State<AppState>, p: Principal) -> ApiResult<Response> {
    p.require(Permission::TimeLog)?;
    Ok(Json(serde_json::json!({ "timer": time::timer(&s.db, p.user.id).await? })).into_response())
}

#[derive(Debug, Default, Clone, Deserialize)]
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

async fn start_timer(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(raw): ApiJson<RawTimer>,
) -> ApiResult<Response> {
    let t = start(&s, &p, &raw).await?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "timer": t }))).into_response())
}

async fn stop_timer(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(raw): ApiJson<RawTimer>,
) -> ApiResult<Response> {
    let e = stop(&s, &p, raw.note.as_deref()).await?;
    Ok(entity(StatusCode::CREATED, e.version, &e))
}
