//! The regional cloud: pools of capacity made of CMDB items (hosts, arrays), what every organisation is
//! allocated from them (read live from the CMDB's relationships), a daily record of it, the growth trend and
//! the day each pool runs out, and the daily chargeback meters. The rules are in `domain::cloud`.
//!
//! Pools are the hub's infrastructure: every reader of the CMDB sees them and their totals; what each
//! organisation is allocated is shown to those who may read that organisation.

use crate::row::Cols;
use std::collections::{BTreeMap, HashMap};

use crate::audit::Actor;
use crate::billing::usage::{self, IngestReport};
use crate::desk::catalog::{log, to_json};
use crate::{Db, Result, Scope, StoreError, now_ms, parse_id};
use domain::billing::usage::NewUsage;
use domain::cloud::{
    Dimension, Exhaustion, METERS, POOL_PART_TYPES, Resources, Trend, allocation, daily_micros,
    exhaustion, trend, utilisation,
};
use domain::cmdb::{CiType, RelationKind};
use domain::ids::{CiId, OrgId, PoolId};
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::Row;
use sqlx::any::AnyRow;

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// How many days of history the growth trend is fitted to.
pub const TREND_DAYS: i64 = 180;

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Pool {
    pub id: PoolId,
    pub name: String,
    pub site_id: Option<CiId>,
    pub site_name: Option<String>,
    pub capacity: Resources,
    pub notes: String,
    #[serde(serialize_with = "crate::tenancy::ser_ts")]
    pub created_at: i64,
    #[serde(serialize_with = "crate::tenancy::ser_ts")]
    pub updated_at: i64,
    pub version: i64,
}

/// A pool as checked by the web layer.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolDraft {
    pub name: String,
    pub site_id: Option<CiId>,
    pub capacity: Resources,
    pub notes: String,
}

const SELECT: &str =
    "SELECT p.*, s.name AS site_name FROM cloud_pools p LEFT JOIN cis s ON s.id = p.site_ci";

fn pool_row(r: &AnyRow) -> Result<Pool> {
    Ok(Pool {
        id: r.id("id")?,
        name: r.try_get("name")?,
        site_id: r
            .try_get::<Option<String>, _>("site_ci")?
            .map(|s| parse_id(&s))
            .transpose()?,
        site_name: r.try_get("site_name")?,
        capacity: resources(r)?,
        notes: r.try_get("notes")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        version: r.try_get("version")?,
    })
}

fn resources(r: &AnyRow) -> Result<Resources> {
    Ok(Resources {
        vcpu: r.try_get("vcpu")?,
        ram_gb: r.try_get("ram_gb")?,
        storage_gb: r.try_get("storage_gb")?,
        backup_gb: r.try_get("backup_gb")?,
    })
}

/// Every pool, by name.
pub async fn pools(db: &Db) -> Result<Vec<Pool>> {
    sqlx::query(&format!("{SELECT} ORDER BY p.name, p.id"))
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(pool_row)
        .collect()
}

pub async fn pool(db: &Db, id: PoolId) -> Result<Pool> {
    sqlx::query(&format!("{SELECT} WHERE p.id = $1"))
        .bind(id.to_string())
        .fetch_optional(&db.read)
        .await?
        .as_ref()
        .map(pool_row)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

/// The hub's CMDB item `id` of one of `types`, or a field error naming `field`.
async fn hub_item(db: &Db, id: CiId, types: &[CiType], field: &str) -> Result<(String, CiType)> {
    let row = sqlx::query(
        "SELECT c.name, c.ci_type FROM cis c JOIN orgs o ON o.id = c.org_id WHERE c.id = $1 AND o.is_hub = 1",
    )
    .bind(id.to_string())
    .fetch_optional(&db.read)
    .await?;
    let Some(row) = row else {
        return Err(domain::FieldError::new(field, "is not an item of the hub's CMDB").into());
    };
    let ty =
        CiType::parse(&row.try_get::<String, _>("ci_type")?).map_err(|e| corrupt(e.message))?;
    if !types.contains(&ty) {
        let names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
        return Err(domain::FieldError::new(
            field,
            format!("is a {}; it must be a {}", ty.as_str(), names.join(" or ")),
        )
        .into());
    }
    Ok((row.try_get("name")?, ty))
}

fn name_taken(e: sqlx::Error) -> StoreError {
    StoreError::on_unique(e, "name", "name", "another pool has this name")
}

pub async fn create_pool(db: &Db, actor: &Actor, d: &PoolDraft) -> Result<Pool> {
    let site_name = match d.site_id {
        Some(site) => Some(hub_item(db, site, &[CiType::Site], "site_id").await?.0),
        None => None,
    };
    let id = PoolId::new();
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO cloud_pools (id, name, site_ci, vcpu, ram_gb, storage_gb, backup_gb, notes, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, 1)")
        .bind(id.to_string())
        .bind(&d.name)
        .bind(d.site_id.map(|s| s.to_string()))
        .bind(d.capacity.vcpu)
        .bind(d.capacity.ram_gb)
        .bind(d.capacity.storage_gb)
        .bind(d.capacity.backup_gb)
        .bind(&d.notes)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(name_taken)?;
    let p = Pool {
        id,
        name: d.name.clone(),
        site_id: d.site_id,
        site_name,
        capacity: d.capacity,
        notes: d.notes.clone(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    // The audit entry in the same transaction as the change.
    log(
        &mut tx,
        actor,
        None,
        "cloud_pool.create",
        ("cloud_pool", id.to_string()),
        None,
        Some(to_json(&p)?),
    )
    .await?;
    tx.commit().await?;
    Ok(p)
}

/// Changes a pool; `version` (from `If-Match`) must be the one read, when given.
pub async fn update_pool(
    db: &Db,
    actor: &Actor,
    id: PoolId,
    version: Option<i64>,
    d: &PoolDraft,
) -> Result<Pool> {
    let before = pool(db, id).await?;
    if version.is_some_and(|v| v != before.version) {
        return Err(StoreError::Stale);
    }
    if let Some(site) = d.site_id {
        hub_item(db, site, &[CiType::Site], "site_id").await?;
    }
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("UPDATE cloud_pools SET name = $1, site_ci = $2, vcpu = $3, ram_gb = $4, storage_gb = $5, backup_gb = $6, notes = $7, updated_at = $8, version = version + 1 WHERE id = $9 AND version = $10")
        .bind(&d.name)
        .bind(d.site_id.map(|s| s.to_string()))
        .bind(d.capacity.vcpu)
        .bind(d.capacity.ram_gb)
        .bind(d.capacity.storage_gb)
        .bind(d.capacity.backup_gb)
        .bind(&d.notes)
        .bind(now_ms())
        .bind(id.to_string())
        .bind(before.version)
        .execute(&mut *tx)
        .await
        .map_err(name_taken)?
        .rows_affected();
    if n != 1 {
        return Err(StoreError::Stale);
    }
    let after_site = match d.site_id {
        Some(s) => Some(hub_item(db, s, &[CiType::Site], "site_id").await?.0),
        None => None,
    };
    let after = Pool {
        name: d.name.clone(),
        site_id: d.site_id,
        site_name: after_site,
        capacity: d.capacity,
        notes: d.notes.clone(),
        version: before.version + 1,
        ..before.clone()
    };
    log(
        &mut tx,
        actor,
        None,
        "cloud_pool.update",
        ("cloud_pool", id.to_string()),
        Some(to_json(&before)?),
        Some(to_json(&after)?),
    )
    .await?;
    tx.commit().await?;
    pool(db, id).await
}

/// A host or array a pool is made of.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Part {
    pub ci_id: CiId,
    pub name: String,
    pub ci_type: CiType,
}

/// The items a pool is made of, by name.
pub async fn parts(db: &Db, id: PoolId) -> Result<Vec<Part>> {
    sqlx::query("SELECT c.id, c.name, c.ci_type FROM cloud_pool_cis p JOIN cis c ON c.id = p.ci_id WHERE p.pool_id = $1 ORDER BY c.name, c.id")
        .bind(id.to_string())
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| {
            Ok(Part {
                ci_id: r.id("id")?,
                name: r.try_get("name")?,
                ci_type: CiType::parse(&r.try_get::<String, _>("ci_type")?)
                    .map_err(|e| corrupt(e.message))?,
            })
        })
        .collect()
}

/// Makes the hub's host or array `ci` part of the pool; an item already in a pool is a conflict naming it.
pub async fn add_part(db: &Db, actor: &Actor, id: PoolId, ci: CiId) -> Result<Part> {
    let p = pool(db, id).await?;
    let (name, ci_type) = hub_item(db, ci, POOL_PART_TYPES, "ci_id").await?;
    let current = sqlx::query(
        "SELECT p.name FROM cloud_pool_cis c JOIN cloud_pools p ON p.id = c.pool_id WHERE c.ci_id = $1",
    )
    .bind(ci.to_string())
    .fetch_optional(&db.read)
    .await?;
    if let Some(row) = current {
        let other: String = row.try_get("name")?;
        return Err(StoreError::Conflict {
            field: "ci_id".into(),
            message: format!("{name} is already part of the pool {other}"),
        });
    }
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO cloud_pool_cis (ci_id, pool_id, created_at) VALUES ($1, $2, $3)")
        .bind(ci.to_string())
        .bind(id.to_string())
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::on_unique(e, "ci_id", "ci_id", "is already part of a pool"))?;
    let part = Part {
        ci_id: ci,
        name,
        ci_type,
    };
    log(
        &mut tx,
        actor,
        None,
        "cloud_pool.add_part",
        ("cloud_pool", id.to_string()),
        None,
        Some(serde_json::json!({ "pool": p.name, "part": to_json(&part)? })),
    )
    .await?;
    tx.commit().await?;
    Ok(part)
}

pub async fn remove_part(db: &Db, actor: &Actor, id: PoolId, ci: CiId) -> Result<()> {
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("DELETE FROM cloud_pool_cis WHERE pool_id = $1 AND ci_id = $2")
        .bind(id.to_string())
        .bind(ci.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    log(
        &mut tx,
        actor,
        None,
        "cloud_pool.remove_part",
        ("cloud_pool", id.to_string()),
        Some(serde_json::json!({ "ci_id": ci })),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What one organisation is allocated from one pool.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Allocation {
    pub pool_id: PoolId,
    pub org_id: OrgId,
    pub org_name: String,
    pub allocated: Resources,
    /// How many items (VMs, volumes, protected items) it is made of.
    pub items: i64,
}

/// What every organisation is allocated from every pool now, from the CMDB: the items in service (not
/// retired) related to a pool's hosts and arrays. An item related to several parts of one pool counts once
/// (the largest of its relationships per dimension).
pub async fn allocations(db: &Db) -> Result<Vec<Allocation>> {
    let rows = sqlx::query(
        "SELECT pc.pool_id, c.id AS ci_id, c.org_id, o.name AS org_name, c.ci_type, c.attributes, r.kind \
         FROM cloud_pool_cis pc \
         JOIN ci_relations r ON r.to_ci = pc.ci_id \
         JOIN cis c ON c.id = r.from_ci \
         JOIN orgs o ON o.id = c.org_id \
         WHERE c.status <> 'retired' AND c.ci_type IN ('virtual_machine', 'storage_volume', 'database')",
    )
    .fetch_all(&db.read)
    .await?;
    // (pool, item) → (org, what it takes)
    let mut per_item: HashMap<(String, String), (String, String, Resources)> = HashMap::new();
    for r in &rows {
        let ty =
            CiType::parse(&r.try_get::<String, _>("ci_type")?).map_err(|e| corrupt(e.message))?;
        let kind = RelationKind::parse(&r.try_get::<String, _>("kind")?)
            .map_err(|e| corrupt(e.message))?;
        let attributes: Map<String, Value> = r.json("attributes")?;
        let takes = allocation(ty, &attributes, kind);
        if takes.is_zero() {
            continue;
        }
        let entry = per_item
            .entry((r.try_get("pool_id")?, r.try_get("ci_id")?))
            .or_default();
        entry.0 = r.try_get("org_id")?;
        entry.1 = r.try_get("org_name")?;
        let e = &mut entry.2;
        e.vcpu = e.vcpu.max(takes.vcpu);
        e.ram_gb = e.ram_gb.max(takes.ram_gb);
        e.storage_gb = e.storage_gb.max(takes.storage_gb);
        e.backup_gb = e.backup_gb.max(takes.backup_gb);
    }
    let mut per_org: BTreeMap<(String, String), (String, Resources, i64)> = BTreeMap::new();
    for ((pool_id, _), (org, org_name, takes)) in per_item {
        let e = per_org
            .entry((pool_id, org))
            .or_insert_with(|| (org_name, Resources::default(), 0));
        e.1.add(&takes);
        e.2 += 1;
    }
    per_org
        .into_iter()
        .map(|((pool_id, org), (org_name, allocated, items))| {
            Ok(Allocation {
                pool_id: parse_id(&pool_id)?,
                org_id: parse_id(&org)?,
                org_name,
                allocated,
                items,
            })
        })
        .collect()
}

/// One dimension of a pool: capacity, allocation, utilisation, trend and the day it runs out.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct DimensionUse {
    pub dimension: Dimension,
    pub label: &'static str,
    pub capacity: i64,
    pub allocated: i64,
    /// Allocated ÷ capacity, to a tenth of a percent; none for a pool without this capacity.
    pub utilisation_percent: Option<Decimal>,
    pub trend: Option<Trend>,
    pub runs_out: Exhaustion,
}

/// A pool with what is allocated from it now and where it is heading.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct PoolUse {
    #[serde(flatten)]
    pub pool: Pool,
    pub allocated: Resources,
    pub dimensions: Vec<DimensionUse>,
    /// The first dimension forecast to run out, and when (or already full).
    pub first_to_run_out: Option<(Dimension, Exhaustion)>,
    /// Allocations by organisation, largest vCPU first: only those the reader may see.
    pub allocations: Vec<Allocation>,
}

/// Daily totals of a pool over `[since, until]`, oldest first (only days with a record).
pub async fn history(
    db: &Db,
    id: PoolId,
    since: Date,
    until: Date,
) -> Result<Vec<(Date, Resources)>> {
    sqlx::query("SELECT day, CAST(SUM(vcpu) AS BIGINT) AS vcpu, CAST(SUM(ram_gb) AS BIGINT) AS ram_gb, CAST(SUM(storage_gb) AS BIGINT) AS storage_gb, CAST(SUM(backup_gb) AS BIGINT) AS backup_gb FROM cloud_usage WHERE pool_id = $1 AND day >= $2 AND day <= $3 GROUP BY day ORDER BY day")
        .bind(id.to_string())
        .bind(since.to_string())
        .bind(until.to_string())
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| {
            let day: Date = r.try_get::<String, _>("day")?.parse().map_err(corrupt)?;
            Ok((day, resources(r)?))
        })
        .collect()
}

/// Every pool with its use now, its trend over the last [`TREND_DAYS`] days up to `today`, and the
/// allocations `scope` may see.
pub async fn overview(db: &Db, scope: &Scope, today: Date) -> Result<Vec<PoolUse>> {
    let all = allocations(db).await?;
    let since = today
        .checked_sub(jiff::Span::new().days(TREND_DAYS))
        .map_err(corrupt)?;
    let mut out = Vec::new();
    for p in pools(db).await? {
        let mine: Vec<&Allocation> = all.iter().filter(|a| a.pool_id == p.id).collect();
        let history = history(db, p.id, since, today).await?;
        out.push(pool_use(p, &mine, &history, scope));
    }
    Ok(out)
}

/// One pool's use (as in [`overview`]).
pub async fn pool_overview(db: &Db, scope: &Scope, id: PoolId, today: Date) -> Result<PoolUse> {
    let p = pool(db, id).await?;
    let all = allocations(db).await?;
    let mine: Vec<&Allocation> = all.iter().filter(|a| a.pool_id == id).collect();
    let since = today
        .checked_sub(jiff::Span::new().days(TREND_DAYS))
        .map_err(corrupt)?;
    let history = history(db, id, since, today).await?;
    Ok(pool_use(p, &mine, &history, scope))
}

fn pool_use(
    p: Pool,
    allocations: &[&Allocation],
    history: &[(Date, Resources)],
    scope: &Scope,
) -> PoolUse {
    let mut allocated = Resources::default();
    for a in allocations {
        allocated.add(&a.allocated);
    }
    let dimensions: Vec<DimensionUse> = Dimension::ALL
        .iter()
        .map(|&d| {
            let points: Vec<(Date, i64)> =
                history.iter().map(|(day, r)| (*day, r.get(d))).collect();
            let t = trend(&points);
            let capacity = p.capacity.get(d);
            DimensionUse {
                dimension: d,
                label: d.label(),
                capacity,
                allocated: allocated.get(d),
                utilisation_percent: utilisation(allocated.get(d), capacity),
                runs_out: if capacity == 0 {
                    Exhaustion::NotForeseen
                } else {
                    exhaustion(t.as_ref(), allocated.get(d), capacity)
                },
                trend: t,
            }
        })
        .collect();
    let first_to_run_out = dimensions
        .iter()
        .filter(|d| d.capacity > 0)
        .filter_map(|d| match d.runs_out {
            Exhaustion::Full => Some((Date::MIN, d)),
            Exhaustion::On { date } => Some((date, d)),
            _ => None,
        })
        .min_by_key(|(date, _)| *date)
        .map(|(_, d)| (d.dimension, d.runs_out));
    let mut visible: Vec<Allocation> = allocations
        .iter()
        .filter(|a| scope.contains(a.org_id))
        .map(|a| (*a).clone())
        .collect();
    visible.sort_by(|a, b| {
        b.allocated
            .vcpu
            .cmp(&a.allocated.vcpu)
            .then(b.allocated.storage_gb.cmp(&a.allocated.storage_gb))
            .then(a.org_name.cmp(&b.org_name))
    });
    PoolUse {
        pool: p,
        allocated,
        dimensions,
        first_to_run_out,
        allocations: visible,
    }
}

/// Records `day`'s allocations; returns the rows written. A day's record keeps the **peak** of each
/// dimension over the day's snapshots (the job takes one every hour): the items are the member's own CMDB
/// records, so a VM shrunk or retired for the hour before a snapshot and restored after it must not lower
/// what the day is metered on. Nothing lowers a day's record but an import of history
/// ([`record_history`]), which is the hub's.
pub async fn snapshot(db: &Db, day: Date) -> Result<usize> {
    let all = allocations(db).await?;
    let mut tx = db.begin_write().await?;
    for a in &all {
        insert_usage(&mut tx, a.pool_id, a.org_id, day, &a.allocated).await?;
    }
    tx.commit().await?;
    Ok(all.len())
}

/// The larger of the recorded and the new value of one dimension.
macro_rules! peak {
    ($c:literal) => {
        concat!(
            $c,
            " = CASE WHEN excluded.",
            $c,
            " > cloud_usage.",
            $c,
            " THEN excluded.",
            $c,
            " ELSE cloud_usage.",
            $c,
            " END"
        )
    };
}

async fn insert_usage(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    pool: PoolId,
    org: OrgId,
    day: Date,
    r: &Resources,
) -> Result<()> {
    sqlx::query(concat!(
        "INSERT INTO cloud_usage (pool_id, org_id, day, vcpu, ram_gb, storage_gb, backup_gb) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (pool_id, day, org_id) DO UPDATE SET ",
        peak!("vcpu"),
        ", ",
        peak!("ram_gb"),
        ", ",
        peak!("storage_gb"),
        ", ",
        peak!("backup_gb")
    ))
        .bind(pool.to_string())
        .bind(org.to_string())
        .bind(day.to_string())
        .bind(r.vcpu)
        .bind(r.ram_gb)
        .bind(r.storage_gb)
        .bind(r.backup_gb)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Rows per INSERT statement when storing history (seven values each, well under either database's limit).
const HISTORY_ROWS_PER_STATEMENT: usize = 500;

/// Stores past days' allocations as given (an import of history from the hypervisor's reports, or the
/// demo), replacing what those days held for those pools.
pub async fn record_history(db: &Db, rows: &[(PoolId, OrgId, Date, Resources)]) -> Result<usize> {
    let days: std::collections::BTreeSet<(PoolId, Date)> =
        rows.iter().map(|(p, _, d, _)| (*p, *d)).collect();
    let mut tx = db.begin_write().await?;
    for (pool, day) in days {
        sqlx::query("DELETE FROM cloud_usage WHERE pool_id = $1 AND day = $2")
            .bind(pool.to_string())
            .bind(day.to_string())
            .execute(&mut *tx)
            .await?;
    }
    for chunk in rows.chunks(HISTORY_ROWS_PER_STATEMENT) {
        let mut q = crate::sql::Sql::new(
            "INSERT INTO cloud_usage (pool_id, org_id, day, vcpu, ram_gb, storage_gb, backup_gb) VALUES ",
        );
        for (i, (pool, org, day, r)) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" });
            q.bind(pool.to_string()).push(", ");
            q.bind(org.to_string()).push(", ");
            q.bind(day.to_string()).push(", ");
            q.bind(r.vcpu).push(", ");
            q.bind(r.ram_gb).push(", ");
            q.bind(r.storage_gb).push(", ");
            q.bind(r.backup_gb).push(")");
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(rows.len())
}

/// What each organisation was allocated on `day`, over all pools, from the day's record.
pub async fn day_totals(db: &Db, day: Date) -> Result<Vec<(OrgId, String, bool, Resources)>> {
    sqlx::query("SELECT u.org_id, o.slug, o.is_hub, CAST(SUM(u.vcpu) AS BIGINT) AS vcpu, CAST(SUM(u.ram_gb) AS BIGINT) AS ram_gb, CAST(SUM(u.storage_gb) AS BIGINT) AS storage_gb, CAST(SUM(u.backup_gb) AS BIGINT) AS backup_gb FROM cloud_usage u JOIN orgs o ON o.id = u.org_id WHERE u.day = $1 GROUP BY u.org_id, o.slug, o.is_hub ORDER BY o.slug")
        .bind(day.to_string())
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.id("org_id")?,
                r.try_get("slug")?,
                r.flag("is_hub")?,
                resources(r)?,
            ))
        })
        .collect()
}

/// The usage records that meter `day` for chargeback: for each member (not the hub, which does not bill
/// itself) and each of [`METERS`], the day's share of its allocation that month. Ids are stable, so metering
/// a day twice counts once.
pub fn meter_records(day: Date, totals: &[(OrgId, String, bool, Resources)]) -> Vec<NewUsage> {
    let days = day.days_in_month();
    let mut out = Vec::new();
    for (_, slug, is_hub, r) in totals {
        if *is_hub {
            continue;
        }
        for (meter, d) in METERS {
            let amount = r.get(*d);
            if amount <= 0 {
                continue;
            }
            out.push(NewUsage {
                id: format!("cloud-{day}-{slug}-{meter}"),
                org: slug.clone(),
                meter: (*meter).to_owned(),
                used_on: day,
                quantity_micros: daily_micros(amount, day.day(), days),
                source: "CMDB".to_owned(),
            });
        }
    }
    out
}

/// Meters `day` from its record (taking the record now if the day has none and is `today`).
pub async fn meter(db: &Db, day: Date, today: Date) -> Result<IngestReport> {
    let mut totals = day_totals(db, day).await?;
    if totals.is_empty() && day == today {
        snapshot(db, day).await?;
        totals = day_totals(db, day).await?;
    }
    let records = meter_records(day, &totals);
    usage::ingest(db, &Scope::Region, &Actor::system("cloud-meter"), &records).await
}

/// The daily work: record today's allocations and meter yesterday (both safe to repeat).
pub async fn daily(db: &Db, today: Date) -> Result<(usize, IngestReport)> {
    let rows = snapshot(db, today).await?;
    let yesterday = today.yesterday().map_err(corrupt)?;
    let report = meter(db, yesterday, today).await?;
    Ok((rows, report))
}
