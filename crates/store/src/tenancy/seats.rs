//! The hub's record of each organisation's active accounts (`seat_counts`), which per-seat invoice lines bill
//! (`domain::billing::seats`). One row per organisation and day holds the day's highest count: the daily job
//! ([`record`], hourly, safe to repeat) and every change that adds an account — created, invited and
//! accepted, enabled — raise it in the change's own transaction, and a disable records the count before
//! it. Nothing lowers a row, so disabling accounts before an invoice run and enabling them after changes
//! nothing that is billed. The table is written only here; no route writes it.

use crate::row::Cols;
use jiff::civil::Date;
use sqlx::Row;

use crate::{Db, Result, StoreError, now_ms};
use domain::ids::OrgId;

/// The hub's calendar (America/New_York, as the rest of the hub's clock): which day a count belongs to.
pub const HUB_TIME_ZONE: &str = "America/New_York";

/// Today on the hub's calendar.
pub fn today() -> Date {
    let tz = jiff::tz::TimeZone::get(HUB_TIME_ZONE).unwrap_or(jiff::tz::TimeZone::UTC);
    tz.to_datetime(jiff::Timestamp::now()).date()
}

/// Keeps the larger of the day's recorded count and the new one.
const KEEP_PEAK: &str = " ON CONFLICT (org_id, day) DO UPDATE SET \
     active_accounts = CASE WHEN excluded.active_accounts > seat_counts.active_accounts \
     THEN excluded.active_accounts ELSE seat_counts.active_accounts END, \
     recorded_at = excluded.recorded_at";

/// Raises today's record of `org` to its count of active accounts now, in the caller's transaction (so a
/// change and its record commit together).
pub(crate) async fn note(tx: &mut sqlx::Transaction<'_, sqlx::Any>, org: OrgId) -> Result<()> {
    let sql = format!(
        "INSERT INTO seat_counts (org_id, day, active_accounts, recorded_at) \
         SELECT $1, $2, COUNT(*), $3 FROM users WHERE org_id = $1 AND active = 1{KEEP_PEAK}"
    );
    sqlx::query(&sql)
        .bind(org.to_string())
        .bind(today().to_string())
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The daily record: raises `day`'s row of every member to its count of active accounts now. Returns the
/// organisations recorded.
pub async fn record(db: &Db, day: Date) -> Result<u64> {
    let sql = format!(
        "INSERT INTO seat_counts (org_id, day, active_accounts, recorded_at) \
         SELECT o.id, $1, (SELECT COUNT(*) FROM users u WHERE u.org_id = o.id AND u.active = 1), $2 \
         FROM orgs o WHERE o.is_hub = 0{KEEP_PEAK}"
    );
    Ok(sqlx::query(&sql)
        .bind(day.to_string())
        .bind(now_ms())
        .execute(&db.write)
        .await?
        .rows_affected())
}

/// Every organisation's record over the days `from..until` (until excluded), by organisation.
pub async fn between(
    db: &Db,
    from: Date,
    until: Date,
) -> Result<std::collections::HashMap<OrgId, Vec<(Date, i64)>>> {
    let mut out: std::collections::HashMap<OrgId, Vec<(Date, i64)>> = Default::default();
    for r in sqlx::query(
        "SELECT org_id, day, active_accounts FROM seat_counts WHERE day >= $1 AND day < $2 ORDER BY org_id, day",
    )
    .bind(from.to_string())
    .bind(until.to_string())
    .fetch_all(&db.read)
    .await?
    {
        let org: OrgId = r.id("org_id")?;
        let day: Date = r
            .try_get::<String, _>("day")?
            .parse()
            .map_err(|e: jiff::Error| StoreError::Corrupt(e.to_string()))?;
        out.entry(org)
            .or_default()
            .push((day, r.try_get("active_accounts")?));
    }
    Ok(out)
}
