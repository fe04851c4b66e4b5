//! Operations: each checks its input and the caller's permission, calls the store and returns the result.
//! The JSON handlers and the pages both call them.

use crate::AppState;
use crate::auth::Principal;
use crate::error::Failure;
use domain::FieldError;
use domain::authz::Permission;
use domain::calendar::{Closure, DayOff, days_off};
use jiff::civil::Date;
use serde::Deserialize;
use store::tenancy::{closures, orgs};

#[derive(Debug, Deserialize, Default, schemars::JsonSchema)]
pub struct RangeQuery {
    /// First day (default: today in the organisation's time zone).
    #[schemars(extend("format" = "date"))]
    pub from: Option<String>,
    /// Last day (default: a year after `from`; at most five years after it).
    #[schemars(extend("format" = "date"))]
    pub to: Option<String>,
}

pub(crate) fn parse_date(field: &str, raw: &str) -> Result<Date, Failure> {
    raw.trim().parse().map_err(|_| {
        Failure::Invalid(vec![FieldError::new(
            field,
            "must be a date such as 2026-12-24",
        )])
    })
}

/// The days off of the organisation `slug` in a range: for the API and the calendar page.
pub async fn days_off_in(
    s: &AppState,
    p: &Principal,
    slug: &str,
    q: &RangeQuery,
) -> Result<(orgs::Org, Vec<DayOff>, Date, Date), Failure> {
    let scope = p.require(Permission::OrgRead)?;
    let org = orgs::get_by_slug(&s.db, &scope, slug).await?;
    let today = jiff::Timestamp::now()
        .to_zoned_datetime(
            jiff::tz::TimeZone::get(&org.time_zone).unwrap_or(jiff::tz::TimeZone::UTC),
        )
        .date();
    let from = match q.from.as_deref().filter(|v| !v.is_empty()) {
        Some(v) => parse_date("from", v)?,
        None => today,
    };
    let to = match q.to.as_deref().filter(|v| !v.is_empty()) {
        Some(v) => parse_date("to", v)?,
        None => from.checked_add(jiff::Span::new().years(1)).unwrap_or(from),
    };
    let limit = from.checked_add(jiff::Span::new().years(5)).unwrap_or(from);
    if to < from || to > limit {
        return Err(Failure::Invalid(vec![FieldError::new(
            "to",
            "must be on or after `from` and at most five years after it",
        )]));
    }
    let local = closures::list(&s.db, &scope, org.id, from, to).await?;
    let days = days_off(org.holiday_rules, &local, from, to);
    Ok((org, days, from, to))
}

#[derive(Debug, Deserialize, Default, schemars::JsonSchema)]
pub struct RawClosure {
    #[schemars(extend("format" = "date"))]
    pub date: Option<String>,
    pub name: Option<String>,
}

pub async fn add(
    s: &AppState,
    p: &Principal,
    slug: &str,
    raw: &RawClosure,
) -> Result<Closure, Failure> {
    let scope = p.require(Permission::OrgSettingsWrite)?;
    let org = orgs::get_by_slug(&s.db, &scope, slug).await?;
    let c = Closure::parse(
        raw.date.as_deref().unwrap_or(""),
        raw.name.as_deref().unwrap_or(""),
    )?;
    closures::add(&s.db, &scope, &p.actor(), org.id, &c).await?;
    Ok(c)
}

pub async fn remove(s: &AppState, p: &Principal, slug: &str, date: &str) -> Result<(), Failure> {
    let scope = p.require(Permission::OrgSettingsWrite)?;
    let org = orgs::get_by_slug(&s.db, &scope, slug).await?;
    let date = date.parse().map_err(|_| Failure::NotFound)?;
    closures::remove(&s.db, &scope, &p.actor(), org.id, date).await?;
    Ok(())
}
