//! Time entries and timers. An entry is one person's minutes on one ticket on one date, with an activity
//! and whether it is billable; it belongs to the ticket's organisation (the member served), so members see
//! what they will be billed for. Billing, utilisation and project actuals read these rows later.

use super::catalog::{log, to_json};
use super::tickets;
use crate::audit::Actor;
use crate::page::{Page, PageRequest};
use crate::row::Cols;
use crate::sql::Sql;
use crate::{Db, Result, Scope, StoreError, now_ms};
use domain::authz::TicketView;
use domain::desk::Activity;
use domain::ids::{OrgId, TicketId, UserId};
use jiff::civil::Date;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

/// One person's time on one ticket on one date.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct TimeEntry {
    pub id: String,
    pub org_id: OrgId,
    pub user_id: UserId,
    pub ticket_id: TicketId,
    pub ticket_number: i64,
    pub ticket_subject: String,
    #[schemars(with = "domain::schema::Day")]
    pub work_date: Date,
    pub minutes: i64,
    pub activity: Activity,
    pub billable: bool,
    pub note: String,
    #[serde(serialize_with = "crate::tenancy::ser_ts")]
    pub created_at: i64,
    pub version: i64,
}

/// What a person logs, already validated by the web layer.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry {
    pub ticket_number: i64,
    pub work_date: Date,
    pub minutes: i64,
    pub activity: Activity,
    pub billable: bool,
    pub note: String,
}

fn entry(r: &AnyRow) -> Result<TimeEntry> {
    Ok(TimeEntry {
        id: r.try_get("id")?,
        org_id: r.id("org_id")?,
        user_id: r.id("user_id")?,
        ticket_id: r.id("ticket_id")?,
        ticket_number: r.try_get("ticket_number")?,
        ticket_subject: r.try_get("ticket_subject")?,
        work_date: r
            .try_get::<String, _>("work_date")?
            .parse()
            .map_err(|e: jiff::Error| StoreError::Corrupt(e.to_string()))?,
        minutes: r.try_get("minutes")?,
        activity: Activity::parse(&r.try_get::<String, _>("activity")?)
            .map_err(|e| StoreError::Corrupt(e.message))?,
        billable: r.flag("billable")?,
        note: r.try_get("note")?,
        created_at: r.try_get("created_at")?,
        version: r.try_get("version")?,
    })
}

const SELECT: &str = "SELECT e.*, t.number AS ticket_number, t.subject AS ticket_subject FROM time_entries e JOIN tickets t ON t.id = e.ticket_id";

/// Logs time for `user` on a ticket `view` sees and `log` (the `time-log` scope) covers.
pub async fn log_time(
    db: &Db,
    view: &TicketView,
    log_scope: &Scope,
    actor: &Actor,
    user: UserId,
    e: &NewEntry,
) -> Result<TimeEntry> {
    let t = tickets::get(db, view, e.ticket_number).await?;
    if !log_scope.contains(t.org_id) {
        return Err(StoreError::Forbidden);
    }
    let now = now_ms();
    let out = TimeEntry {
        id: uuid::Uuid::now_v7().to_string(),
        org_id: t.org_id,
        user_id: user,
        ticket_id: t.id,
        ticket_number: t.number,
        ticket_subject: t.subject.clone(),
        work_date: e.work_date,
        minutes: e.minutes,
        activity: e.activity,
        billable: e.billable,
        note: e.note.clone(),
        created_at: now,
        version: 1,
    };
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO time_entries (id, org_id, user_id, ticket_id, work_date, minutes, activity, billable, note, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, 1)")
        .bind(&out.id)
        .bind(out.org_id.to_string())
        .bind(user.to_string())
        .bind(t.id.to_string())
        .bind(out.work_date.to_string())
        .bind(out.minutes)
        .bind(out.activity.as_str())
        .bind(i64::from(out.billable))
        .bind(&out.note)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    log(
        &mut tx,
        actor,
        Some(t.org_id),
        "time_entry.create",
        ("time_entry", out.id.clone()),
        None,
        Some(to_json(&out)?),
    )
    .await?;
    tx.commit().await?;
    Ok(out)
}

/// Filters of a time list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub user: Option<UserId>,
    pub org: Option<OrgId>,
    pub ticket_number: Option<i64>,
    pub from: Option<Date>,
    pub to: Option<Date>,
    pub billable: Option<bool>,
}

/// Entries in `scope` (the `time-read` scope), newest date first; the cursor is `date|id`.
pub async fn list(
    db: &Db,
    scope: &Scope,
    f: &Filter,
    page: &PageRequest,
) -> Result<Page<TimeEntry>> {
    let mut q = Sql::new(SELECT);
    q.push(" WHERE 1 = 1");
    q.scope("e.org_id", scope);
    if let Some(u) = f.user {
        q.push(" AND e.user_id = ").bind(u.to_string());
    }
    if let Some(o) = f.org {
        q.push(" AND e.org_id = ").bind(o.to_string());
    }
    if let Some(n) = f.ticket_number {
        q.push(" AND t.number = ").bind(n);
    }
    if let Some(d) = f.from {
        q.push(" AND e.work_date >= ").bind(d.to_string());
    }
    if let Some(d) = f.to {
        q.push(" AND e.work_date <= ").bind(d.to_string());
    }
    if let Some(b) = f.billable {
        q.push(" AND e.billable = ").bind(i64::from(b));
    }
    if let Some(after) = &page.after {
        q.before_cursor("e.work_date", "e.id", after)?;
    }
    q.push(" ORDER BY e.work_date DESC, e.id DESC LIMIT ")
        .bind(page.fetch());
    let items = q
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(entry)
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(items, page, |e| {
        format!("{}|{}", e.work_date, e.id)
    }))
}

pub async fn get(db: &Db, scope: &Scope, id: &str) -> Result<TimeEntry> {
    let mut q = Sql::new(SELECT);
    q.push(" WHERE e.id = ").bind(id.to_owned());
    q.scope("e.org_id", scope);
    q.fetch_optional(&db.read)
        .await?
        .as_ref()
        .map(entry)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

/// Removes an entry: one's own, or anyone's for holders of `manage` (the region's administrators).
pub async fn delete(
    db: &Db,
    scope: &Scope,
    actor: &Actor,
    id: &str,
    may_delete_others: bool,
    version: Option<i64>,
) -> Result<()> {
    let e = get(db, scope, id).await?;
    if !may_delete_others && actor.user_id != Some(e.user_id) {
        return Err(StoreError::Forbidden);
    }
    if version.is_some_and(|v| v != e.version) {
        return Err(StoreError::Stale);
    }
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("DELETE FROM time_entries WHERE id = $1 AND version = $2")
        .bind(id)
        .bind(e.version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n != 1 {
        return Err(StoreError::Stale);
    }
    log(
        &mut tx,
        actor,
        Some(e.org_id),
        "time_entry.delete",
        ("time_entry", e.id.clone()),
        Some(to_json(&e)?),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A running timer.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Timer {
    pub ticket_number: i64,
    #[serde(serialize_with = "crate::tenancy::ser_ts")]
    pub started_at: i64,
    pub activity: Activity,
    pub billable: bool,
}

pub async fn timer(db: &Db, user: UserId) -> Result<Option<Timer>> {
    sqlx::query("SELECT m.started_at, m.activity, m.billable, t.number FROM timers m JOIN tickets t ON t.id = m.ticket_id WHERE m.user_id = $1")
        .bind(user.to_string())
        .fetch_optional(&db.read)
        .await?
        .map(|r| {
            Ok(Timer {
                ticket_number: r.try_get("number")?,
                started_at: r.try_get("started_at")?,
                activity: Activity::parse(&r.try_get::<String, _>("activity")?).map_err(|e| StoreError::Corrupt(e.message))?,
                billable: r.flag("billable")?,
            })
        })
        .transpose()
}

/// Starts a timer on a ticket; a person has one timer at most (starting another is refused).
pub async fn start(
    db: &Db,
    view: &TicketView,
    log_scope: &Scope,
    user: UserId,
    number: i64,
    activity: Activity,
    billable: bool,
) -> Result<Timer> {
    let t = tickets::get(db, view, number).await?;
    if !log_scope.contains(t.org_id) {
        return Err(StoreError::Forbidden);
    }
    let now = now_ms();
    sqlx::query("INSERT INTO timers (user_id, ticket_id, started_at, activity, billable) VALUES ($1, $2, $3, $4, $5)")
        .bind(user.to_string())
        .bind(t.id.to_string())
        .bind(now)
        .bind(activity.as_str())
        .bind(i64::from(billable))
        .execute(&db.write)
        .await
        .map_err(|e| StoreError::on_unique(e, "timers", "timer", "a timer is already running; stop it first"))?;
    Ok(Timer {
        ticket_number: number,
        started_at: now,
        activity,
        billable,
    })
}

/// Stops the running timer and logs its time (whole minutes, at least one) on the day it started, in the
/// person's organisation's time zone.
pub async fn stop(
    db: &Db,
    view: &TicketView,
    log_scope: &Scope,
    actor: &Actor,
    user: UserId,
    tz: &jiff::tz::TimeZone,
    note: &str,
) -> Result<TimeEntry> {
    let running = timer(db, user)
        .await?
        .ok_or_else(|| StoreError::Invalid(domain::Invalid::one("timer", "no timer is running")))?;
    let now = now_ms();
    let minutes = ((now - running.started_at) + 59_999) / 60_000;
    let started = jiff::Timestamp::from_millisecond(running.started_at)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let e = NewEntry {
        ticket_number: running.ticket_number,
        work_date: tz.to_datetime(started).date(),
        minutes: minutes.clamp(1, 24 * 60),
        activity: running.activity,
        billable: running.billable,
        note: note.to_owned(),
    };
    let out = log_time(db, view, log_scope, actor, user, &e).await?;
    sqlx::query("DELETE FROM timers WHERE user_id = $1")
        .bind(user.to_string())
        .execute(&db.write)
        .await?;
    Ok(out)
}

/// Drops a person's running timer without logging anything (started by mistake).
pub async fn discard_timer(db: &Db, user: UserId) -> Result<bool> {
    Ok(sqlx::query("DELETE FROM timers WHERE user_id = $1")
        .bind(user.to_string())
        .execute(&db.write)
        .await?
        .rows_affected()
        == 1)
}
