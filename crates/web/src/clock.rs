//! The hub's clock and calendar: today and now in the region's time zone, and where its fiscal year starts.

use crate::AppState;
use crate::error::Failure;
use jiff::civil::Date;

/// Now, on the hub's clock (America/New_York).
pub fn now_local() -> jiff::ZonedDateTime {
    let tz = jiff::tz::TimeZone::get("America/New_York").unwrap_or(jiff::tz::TimeZone::UTC);
    jiff::Timestamp::now().to_zoned_datetime(tz)
}

/// Today in the region's default time zone (entries are dated by the person logging them).
pub fn today() -> Date {
    let tz = jiff::tz::TimeZone::get("America/New_York").unwrap_or(jiff::tz::TimeZone::UTC);
    tz.to_datetime(jiff::Timestamp::now()).date()
}

/// The hub's fiscal-year start month (periods are the hub's: it invoices).
pub async fn fy_start(s: &AppState) -> Result<u8, Failure> {
    Ok(store::tenancy::orgs::hub(&s.db)
        .await?
        .map_or(7, |h| h.fiscal_year_start_month))
}
