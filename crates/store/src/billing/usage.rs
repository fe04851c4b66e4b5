//! Usage metering: records of what a member used (meter, quantity, period), received by API batch or CSV
//! import. Each record has an id from its sender; a record whose id was seen before counts once. Totals per
//! member, meter and month are kept up to date in the same transaction, so an invoice run reads a few rows
//! per member instead of every record, and a line can always be traced back to the records behind it.

use crate::row::Cols;
use std::collections::{BTreeMap, HashMap};

use crate::audit::Actor;
use crate::page::{Page, PageRequest};
use crate::sql::Sql;
use crate::{Db, Result, Scope, StoreError, now_ms};
use domain::billing::usage::{NewUsage, from_micros};
use domain::ids::OrgId;
use serde::Serialize;
use sqlx::Row;

/// Rows per INSERT statement (sent as one JSON document).
const ROWS_PER_STATEMENT: usize = 5_000;

/// What a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct IngestReport {
    /// Records stored now.
    pub accepted: u64,
    /// Records whose id had been received before (in an earlier batch or earlier in this one): not counted
    /// again.
    pub duplicates: u64,
}

/// A record after its organisation was resolved.
struct Resolved<'a> {
    rec: &'a NewUsage,
    org: OrgId,
}

/// Stores a batch of usage records, all or nothing: every record's organisation must be in `scope` (the
/// caller's `billing-manage` scope), else nothing is stored and the first such record is named.
pub async fn ingest(
    db: &Db,
    scope: &Scope,
    actor: &Actor,
    records: &[NewUsage],
) -> Result<IngestReport> {
    write(db, scope, actor, records, true).await
}

/// What [`ingest`] would do with `records` — how many would be stored, how many are already known — without
/// storing anything: the same transaction, rolled back.
pub async fn dry_run(
    db: &Db,
    scope: &Scope,
    actor: &Actor,
    records: &[NewUsage],
) -> Result<IngestReport> {
    write(db, scope, actor, records, false).await
}

async fn write(
    db: &Db,
    scope: &Scope,
    actor: &Actor,
    records: &[NewUsage],
    commit: bool,
) -> Result<IngestReport> {
    // Organisations by slug, resolved once per batch from the directory in memory.
    let mut orgs: HashMap<&str, OrgId> = HashMap::new();
    let mut resolved = Vec::with_capacity(records.len());
    let mut seen: HashMap<&str, ()> = HashMap::with_capacity(records.len());
    let mut duplicates = 0u64;
    for (i, rec) in records.iter().enumerate() {
        let org = match orgs.get(rec.org.as_str()) {
            Some(o) => *o,
            None => {
                let Some(o) = crate::tenancy::org_cache::id_by_slug(db, scope, &rec.org).await?
                else {
                    return Err(domain::Invalid::one(
                        format!("records[{i}].org"),
                        format!("no organisation {:?} that you may bill", rec.org),
                    )
                    .into());
                };
                orgs.insert(rec.org.as_str(), o);
                o
            }
        };
        if seen.insert(rec.id.as_str(), ()).is_some() {
            duplicates += 1;
            continue;
        }
        resolved.push(Resolved { rec, org });
    }
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    let mut inserted: Vec<&Resolved> = Vec::with_capacity(resolved.len());
    for part in resolved.chunks(ROWS_PER_STATEMENT) {
        let rows: Vec<serde_json::Value> = part
            .iter()
            .map(|r| {
                serde_json::json!([
                    r.rec.id,
                    r.org.to_string(),
                    r.rec.meter,
                    r.rec.used_on.to_string(),
                    r.rec.month(),
                    r.rec.quantity_micros,
                    r.rec.source,
                ])
            })
            .collect();
        let doc = serde_json::to_string(&rows).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let ids: Vec<String> = sqlx::query(insert_sql(db.backend()))
            .bind(doc)
            .bind(now)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>("external_id"))
            .collect::<std::result::Result<_, _>>()?;
        if ids.len() == part.len() {
            inserted.extend(part.iter());
        } else {
            let stored: HashMap<&str, ()> = ids.iter().map(|s| (s.as_str(), ())).collect();
            for r in part {
                if stored.contains_key(r.rec.id.as_str()) {
                    inserted.push(r);
                } else {
                    duplicates += 1;
                }
            }
        }
    }
    // Totals per member, meter and month, added in the same transaction.
    let mut totals: BTreeMap<(OrgId, &str, String), (i64, i64)> = BTreeMap::new();
    for r in &inserted {
        let t = totals
            .entry((r.org, r.rec.meter.as_str(), r.rec.month()))
            .or_default();
        t.0 = t.0.checked_add(r.rec.quantity_micros).ok_or_else(|| {
            StoreError::from(domain::FieldError::new(
                "records",
                format!("the total of meter {:?} is too large", r.rec.meter),
            ))
        })?;
        t.1 += 1;
    }
    if !totals.is_empty() {
        let rows: Vec<serde_json::Value> = totals
            .iter()
            .map(|((org, meter, month), (micros, count))| {
                serde_json::json!([org.to_string(), meter, month, micros, count])
            })
            .collect();
        let doc = serde_json::to_string(&rows).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(totals_sql(db.backend()))
            .bind(doc)
            .execute(&mut *tx)
            .await?;
    }
    let report = IngestReport {
        accepted: u64::try_from(inserted.len()).unwrap_or(u64::MAX),
        duplicates,
    };
    if report.accepted > 0 {
        // One audit entry per batch: the records themselves are the append-only ledger.
        let members: Vec<String> = orgs.keys().map(|s| (*s).to_owned()).collect();
        let meters: std::collections::BTreeSet<&str> =
            inserted.iter().map(|r| r.rec.meter.as_str()).collect();
        crate::desk::catalog::log(
            &mut tx,
            actor,
            if orgs.len() == 1 {
                orgs.values().next().copied()
            } else {
                None
            },
            "usage.ingest",
            ("usage_batch", uuid::Uuid::now_v7().to_string()),
            None,
            Some(serde_json::json!({
                "accepted": report.accepted,
                "duplicates": report.duplicates,
                "members": members,
                "meters": meters,
                "first_id": inserted.first().map(|r| r.rec.id.clone()),
                "last_id": inserted.last().map(|r| r.rec.id.clone()),
            })),
        )
        .await?;
    }
    if commit {
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    Ok(report)
}

/// Inserts the records of a JSON array of `[id, org, meter, used_on, month, micros, source]` rows (`$1`),
/// received at `$2`, skipping ids already stored; returns the ids inserted. One statement and one bound
/// value per chunk: binding eight values per row made SQLite's parameter lookup the bulk of the work.
fn insert_sql(backend: crate::Backend) -> &'static str {
    match backend {
        crate::Backend::Sqlite => {
            "INSERT INTO usage_records (external_id, org_id, meter, used_on, month, quantity_micros, source, received_at) \
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, $2 \
             FROM json_each($1) WHERE true ON CONFLICT (external_id) DO NOTHING RETURNING external_id"
        }
        crate::Backend::Postgres => {
            "INSERT INTO usage_records (external_id, org_id, meter, used_on, month, quantity_micros, source, received_at) \
             SELECT r ->> 0, r ->> 1, r ->> 2, r ->> 3, r ->> 4, (r ->> 5)::bigint, r ->> 6, $2 \
             FROM jsonb_array_elements($1::jsonb) AS r ON CONFLICT (external_id) DO NOTHING RETURNING external_id"
        }
    }
}

/// Adds a JSON array of `[org, meter, month, micros, records]` rows (`$1`) to the totals.
fn totals_sql(backend: crate::Backend) -> &'static str {
    match backend {
        crate::Backend::Sqlite => {
            "INSERT INTO usage_totals (org_id, meter, month, quantity_micros, records) \
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each($1) WHERE true \
             ON CONFLICT (org_id, meter, month) DO UPDATE SET \
             quantity_micros = usage_totals.quantity_micros + excluded.quantity_micros, \
             records = usage_totals.records + excluded.records"
        }
        crate::Backend::Postgres => {
            "INSERT INTO usage_totals (org_id, meter, month, quantity_micros, records) \
             SELECT r ->> 0, r ->> 1, r ->> 2, (r ->> 3)::bigint, (r ->> 4)::bigint FROM jsonb_array_elements($1::jsonb) AS r \
             ON CONFLICT (org_id, meter, month) DO UPDATE SET \
             quantity_micros = usage_totals.quantity_micros + excluded.quantity_micros, \
             records = usage_totals.records + excluded.records"
        }
    }
}

/// One stored usage record.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct UsageRecord {
    pub id: String,
    pub org_id: OrgId,
    pub meter: String,
    #[schemars(with = "domain::schema::Day")]
    pub used_on: jiff::civil::Date,
    pub month: String,
    /// The quantity as a decimal string (exact).
    pub quantity: String,
    pub source: String,
    #[serde(serialize_with = "crate::tenancy::ser_ts")]
    pub received_at: i64,
}

/// Filters of the usage list: a month, and optionally a member and a meter.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// `YYYY-MM`.
    pub month: String,
    pub org: Option<OrgId>,
    pub meter: Option<String>,
}

/// Usage records of a month in scope, in order of arrival (the records behind an invoice line when a member
/// and a meter are given).
pub async fn list(
    db: &Db,
    scope: &Scope,
    f: &Filter,
    page: &PageRequest,
) -> Result<Page<UsageRecord>> {
    let mut q = Sql::new("SELECT * FROM usage_records WHERE month = ");
    q.bind(f.month.clone());
    q.scope("org_id", scope);
    if let Some(o) = f.org {
        q.push(" AND org_id = ").bind(o.to_string());
    }
    if let Some(m) = &f.meter {
        q.push(" AND meter = ").bind(m.clone());
    }
    if let Some(after) = &page.after {
        let after: i64 = after
            .parse()
            .map_err(|_| domain::Invalid::one("cursor", "is not a cursor this list gave"))?;
        q.push(" AND seq > ").bind(after);
    }
    q.push(" ORDER BY month, seq LIMIT ").bind(page.fetch());
    let rows = q
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get::<i64, _>("seq")?,
                UsageRecord {
                    id: r.try_get("external_id")?,
                    org_id: r.id("org_id")?,
                    meter: r.try_get("meter")?,
                    used_on: r
                        .try_get::<String, _>("used_on")?
                        .parse()
                        .map_err(|e: jiff::Error| StoreError::Corrupt(e.to_string()))?,
                    month: r.try_get("month")?,
                    quantity: from_micros(r.try_get("quantity_micros")?).to_string(),
                    source: r.try_get("source")?,
                    received_at: r.try_get("received_at")?,
                },
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let page = Page::from_rows(rows, page, |(seq, _)| seq.to_string());
    Ok(Page {
        items: page.items.into_iter().map(|(_, r)| r).collect(),
        next_cursor: page.next_cursor,
    })
}

/// One member's total of one meter in one month.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct UsageTotal {
    pub org_id: OrgId,
    pub meter: String,
    pub month: String,
    pub quantity: String,
    pub records: i64,
}

/// Totals in scope for the months `from..=to` (`YYYY-MM`), by member, meter and month.
pub async fn totals(
    db: &Db,
    scope: &Scope,
    org: Option<OrgId>,
    from: &str,
    to: &str,
) -> Result<Vec<UsageTotal>> {
    let mut q = Sql::new("SELECT * FROM usage_totals WHERE month >= ");
    q.bind(from.to_owned())
        .push(" AND month <= ")
        .bind(to.to_owned());
    q.scope("org_id", scope);
    if let Some(o) = org {
        q.push(" AND org_id = ").bind(o.to_string());
    }
    q.push(" ORDER BY org_id, meter, month");
    q.fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| {
            Ok(UsageTotal {
                org_id: r.id("org_id")?,
                meter: r.try_get("meter")?,
                month: r.try_get("month")?,
                quantity: from_micros(r.try_get("quantity_micros")?).to_string(),
                records: r.try_get("records")?,
            })
        })
        .collect()
}

/// Every member's totals for the months `from..=to`: (member, meter, month, millionths, records).
pub(crate) async fn totals_raw(
    db: &Db,
    from: &str,
    to: &str,
) -> Result<Vec<(OrgId, String, String, i64, i64)>> {
    sqlx::query("SELECT * FROM usage_totals WHERE month >= $1 AND month <= $2")
        .bind(from)
        .bind(to)
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.id("org_id")?,
                r.try_get("meter")?,
                r.try_get("month")?,
                r.try_get("quantity_micros")?,
                r.try_get("records")?,
            ))
        })
        .collect()
}
