//! The hub's finance: what each service costs it per fiscal year (cost pools), what a member would pay to
//! run a service alone (standalone benchmarks by size band, with their sources), credits granted to members,
//! and the reports over them — recovery and margin per service, revenue by member and service, next year's
//! budget forecast per member, and what sharing saves each member.
//!
//! What was billed is read from issued invoices (issued or paid; a voided invoice and its credit note cancel
//! out and are both left out), attributed to a service through each line's rate card; lines without a rate
//! card are credits.

use crate::row::Cols;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::audit::Actor;
use crate::desk::catalog::{log, to_json};
use crate::sql::Sql;
use crate::{Db, Result, Scope, StoreError, now_ms, parse_id};
use domain::billing::agreement::AgreementStatus;
use domain::billing::finance::{
    CostCategory, Saving, SizeBand, Standalone, forecast_year, percent, total_savings,
};
use domain::billing::invoice::{Charge, Member, lines};
use domain::billing::period::{Period, month_key};
use domain::billing::pool::{Participant, pool_lines};
use domain::billing::{Model, prorate};
use domain::ids::{AgreementId, OrgId, RateCardId, ServiceId};
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::rates::{date, decimal, opt_date, service_name};

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn fy_i16(r: &AnyRow, col: &str) -> Result<i16> {
    i16::try_from(r.try_get::<i64, _>(col)?).map_err(corrupt)
}

/// A fiscal year as a period: its first day to the first day of the next.
pub fn fiscal_year_period(fy: i16, fy_start: u8) -> Option<Period> {
    Some(Period {
        start: Period::fiscal_quarter(fy, 1, fy_start)?.start,
        end: Period::fiscal_quarter(fy, 4, fy_start)?.end,
    })
}

// ---------------------------------------------------------------------------------------------------------
// Cost pools

/// One cost of a service in a fiscal year.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Cost {
    pub id: String,
    pub service_id: ServiceId,
    pub service_name: String,
    pub fiscal_year: i16,
    pub category: CostCategory,
    pub description: String,
    pub amount_cents: i64,
    pub version: i64,
}

/// A cost as checked by the web layer.
#[derive(Debug, Clone, PartialEq)]
pub struct CostDraft {
    pub service_id: ServiceId,
    pub fiscal_year: i16,
    pub category: CostCategory,
    pub description: String,
    pub amount_cents: i64,
}

fn cost(r: &AnyRow) -> Result<Cost> {
    Ok(Cost {
        id: r.try_get("id")?,
        service_id: r.id("service_id")?,
        service_name: r.try_get("service_name")?,
        fiscal_year: fy_i16(r, "fiscal_year")?,
        category: CostCategory::parse(&r.try_get::<String, _>("category")?)
            .map_err(|e| corrupt(e.message))?,
        description: r.try_get("description")?,
        amount_cents: r.try_get("amount_cents")?,
        version: r.try_get("version")?,
    })
}

const COSTS: &str =
    "SELECT p.*, s.name AS service_name FROM cost_pools p JOIN services s ON s.id = p.service_id";

/// The costs of a fiscal year (or of every year), by service, category and description.
pub async fn costs(db: &Db, fy: Option<i16>) -> Result<Vec<Cost>> {
    let mut q = Sql::new(&format!("{COSTS} WHERE 1 = 1"));
    if let Some(fy) = fy {
        q.push(" AND p.fiscal_year = ").bind(i64::from(fy));
    }
    q.push(" ORDER BY p.fiscal_year DESC, s.name, p.category, p.description, p.id");
    q.fetch_all(&db.read).await?.iter().map(cost).collect()
}

pub async fn cost_entry(db: &Db, id: &str) -> Result<Cost> {
    sqlx::query(&format!("{COSTS} WHERE p.id = $1"))
        .bind(id)
        .fetch_optional(&db.read)
        .await?
        .as_ref()
        .map(cost)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

pub async fn add_cost(db: &Db, actor: &Actor, d: &CostDraft) -> Result<Cost> {
    let service_name = service_name(db, d.service_id).await?;
    let id = uuid::Uuid::now_v7().to_string();
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO cost_pools (id, service_id, fiscal_year, category, description, amount_cents, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 1)")
        .bind(&id)
        .bind(d.service_id.to_string())
        .bind(i64::from(d.fiscal_year))
        .bind(d.category.as_str())
        .bind(&d.description)
        .bind(d.amount_cents)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let c = Cost {
        id: id.clone(),
        service_id: d.service_id,
        service_name,
        fiscal_year: d.fiscal_year,
        category: d.category,
        description: d.description.clone(),
        amount_cents: d.amount_cents,
        version: 1,
    };
    log(
        &mut tx,
        actor,
        None,
        "cost.create",
        ("cost", id),
        None,
        Some(to_json(&c)?),
    )
    .await?;
    tx.commit().await?;
    Ok(c)
}

/// Changes a cost; `version` (from `If-Match`) must be the one read, when given.
pub async fn update_cost(
    db: &Db,
    actor: &Actor,
    id: &str,
    version: Option<i64>,
    d: &CostDraft,
) -> Result<Cost> {
    let before = cost_entry(db, id).await?;
    if version.is_some_and(|v| v != before.version) {
        return Err(StoreError::Stale);
    }
    let service_name = service_name(db, d.service_id).await?;
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("UPDATE cost_pools SET service_id = $1, fiscal_year = $2, category = $3, description = $4, amount_cents = $5, updated_at = $6, version = version + 1 WHERE id = $7 AND version = $8")
        .bind(d.service_id.to_string())
        .bind(i64::from(d.fiscal_year))
        .bind(d.category.as_str())
        .bind(&d.description)
        .bind(d.amount_cents)
        .bind(now_ms())
        .bind(id)
        .bind(before.version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n != 1 {
        return Err(StoreError::Stale);
    }
    let after = Cost {
        id: id.to_owned(),
        service_id: d.service_id,
        service_name,
        fiscal_year: d.fiscal_year,
        category: d.category,
        description: d.description.clone(),
        amount_cents: d.amount_cents,
        version: before.version + 1,
    };
    log(
        &mut tx,
        actor,
        None,
        "cost.update",
        ("cost", id.to_owned()),
        Some(to_json(&before)?),
        Some(to_json(&after)?),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

pub async fn delete_cost(db: &Db, actor: &Actor, id: &str, version: Option<i64>) -> Result<()> {
    let before = cost_entry(db, id).await?;
    if version.is_some_and(|v| v != before.version) {
        return Err(StoreError::Stale);
    }
    let mut tx = db.begin_write().await?;
    sqlx::query("DELETE FROM cost_pools WHERE id = $1 AND version = $2")
        .bind(id)
        .bind(before.version)
        .execute(&mut *tx)
        .await?;
    log(
        &mut tx,
        actor,
        None,
        "cost.delete",
        ("cost", id.to_owned()),
        Some(to_json(&before)?),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Standalone benchmarks

/// What a member of a size band would pay a year to run a service alone, and where the figures come from.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Benchmark {
    pub id: String,
    pub service_id: ServiceId,
    pub service_name: String,
    pub size_band: SizeBand,
    #[serde(flatten)]
    pub standalone: Standalone,
    pub annual_cents: i64,
    pub source: String,
    pub note: String,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BenchmarkDraft {
    pub service_id: ServiceId,
    pub size_band: SizeBand,
    pub standalone: Standalone,
    pub source: String,
    pub note: String,
}

fn benchmark(r: &AnyRow) -> Result<Benchmark> {
    let standalone = Standalone {
        staff_cents: r.try_get("staff_cents")?,
        licences_cents: r.try_get("licences_cents")?,
        hardware_cents: r.try_get("hardware_cents")?,
    };
    Ok(Benchmark {
        id: r.try_get("id")?,
        service_id: r.id("service_id")?,
        service_name: r.try_get("service_name")?,
        size_band: SizeBand::parse(&r.try_get::<String, _>("size_band")?)
            .map_err(|e| corrupt(e.message))?,
        annual_cents: standalone.annual_cents(),
        standalone,
        source: r.try_get("source")?,
        note: r.try_get("note")?,
        version: r.try_get("version")?,
    })
}

const BENCHMARKS: &str = "SELECT b.*, s.name AS service_name FROM standalone_benchmarks b JOIN services s ON s.id = b.service_id";

/// Every benchmark, by service and size band.
pub async fn benchmarks(db: &Db) -> Result<Vec<Benchmark>> {
    let mut all = sqlx::query(&format!("{BENCHMARKS} ORDER BY s.name, b.id"))
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(benchmark)
        .collect::<Result<Vec<_>>>()?;
    all.sort_by(|a, b| {
        (a.service_name.as_str(), a.size_band).cmp(&(b.service_name.as_str(), b.size_band))
    });
    Ok(all)
}

pub async fn benchmark_entry(db: &Db, id: &str) -> Result<Benchmark> {
    sqlx::query(&format!("{BENCHMARKS} WHERE b.id = $1"))
        .bind(id)
        .fetch_optional(&db.read)
        .await?
        .as_ref()
        .map(benchmark)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

fn band_taken(e: sqlx::Error) -> StoreError {
    StoreError::on_unique(
        e,
        "service_id",
        "size_band",
        "the service already has a benchmark for this size band; change that one",
    )
}

pub async fn add_benchmark(db: &Db, actor: &Actor, d: &BenchmarkDraft) -> Result<Benchmark> {
    let service_name = service_name(db, d.service_id).await?;
    let id = uuid::Uuid::now_v7().to_string();
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO standalone_benchmarks (id, service_id, size_band, staff_cents, licences_cents, hardware_cents, source, note, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, 1)")
        .bind(&id)
        .bind(d.service_id.to_string())
        .bind(d.size_band.as_str())
        .bind(d.standalone.staff_cents)
        .bind(d.standalone.licences_cents)
        .bind(d.standalone.hardware_cents)
        .bind(&d.source)
        .bind(&d.note)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(band_taken)?;
    let b = Benchmark {
        id: id.clone(),
        service_id: d.service_id,
        service_name,
        size_band: d.size_band,
        standalone: d.standalone,
        annual_cents: d.standalone.annual_cents(),
        source: d.source.clone(),
        note: d.note.clone(),
        version: 1,
    };
    log(
        &mut tx,
        actor,
        None,
        "benchmark.create",
        ("benchmark", id),
        None,
        Some(to_json(&b)?),
    )
    .await?;
    tx.commit().await?;
    Ok(b)
}

pub async fn update_benchmark(
    db: &Db,
    actor: &Actor,
    id: &str,
    version: Option<i64>,
    d: &BenchmarkDraft,
) -> Result<Benchmark> {
    let before = benchmark_entry(db, id).await?;
    if version.is_some_and(|v| v != before.version) {
        return Err(StoreError::Stale);
    }
    let service_name = service_name(db, d.service_id).await?;
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("UPDATE standalone_benchmarks SET service_id = $1, size_band = $2, staff_cents = $3, licences_cents = $4, hardware_cents = $5, source = $6, note = $7, updated_at = $8, version = version + 1 WHERE id = $9 AND version = $10")
        .bind(d.service_id.to_string())
        .bind(d.size_band.as_str())
        .bind(d.standalone.staff_cents)
        .bind(d.standalone.licences_cents)
        .bind(d.standalone.hardware_cents)
        .bind(&d.source)
        .bind(&d.note)
        .bind(now_ms())
        .bind(id)
        .bind(before.version)
        .execute(&mut *tx)
        .await
        .map_err(band_taken)?
        .rows_affected();
    if n != 1 {
        return Err(StoreError::Stale);
    }
    let after = Benchmark {
        id: id.to_owned(),
        service_id: d.service_id,
        service_name,
        size_band: d.size_band,
        standalone: d.standalone,
        annual_cents: d.standalone.annual_cents(),
        source: d.source.clone(),
        note: d.note.clone(),
        version: before.version + 1,
    };
    log(
        &mut tx,
        actor,
        None,
        "benchmark.update",
        ("benchmark", id.to_owned()),
        Some(to_json(&before)?),
        Some(to_json(&after)?),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

// ---------------------------------------------------------------------------------------------------------
// Credits

/// An amount the hub owes a member back (a service outage, a billing correction), carried as a negative line
/// by the invoice of the agreement's period that contains `month`.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Credit {
    pub id: String,
    pub org_id: OrgId,
    pub agreement_id: AgreementId,
    /// `YYYY-MM`.
    pub month: String,
    pub amount_cents: i64,
    pub reason: String,
    #[serde(serialize_with = "crate::tenancy::ser_ts")]
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CreditDraft {
    pub agreement_id: AgreementId,
    pub month: String,
    pub amount_cents: i64,
    pub reason: String,
}

fn credit(r: &AnyRow) -> Result<Credit> {
    Ok(Credit {
        id: r.try_get("id")?,
        org_id: r.id("org_id")?,
        agreement_id: r.id("agreement_id")?,
        month: r.try_get("month")?,
        amount_cents: r.try_get("amount_cents")?,
        reason: r.try_get("reason")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Credits in scope, of one agreement or all, newest month first.
pub async fn credits(
    db: &Db,
    scope: &Scope,
    agreement: Option<AgreementId>,
) -> Result<Vec<Credit>> {
    let mut q = Sql::new("SELECT * FROM billing_credits WHERE 1 = 1");
    q.scope("org_id", scope);
    if let Some(a) = agreement {
        q.push(" AND agreement_id = ").bind(a.to_string());
    }
    q.push(" ORDER BY month DESC, created_at DESC, id LIMIT 1000");
    q.fetch_all(&db.read).await?.iter().map(credit).collect()
}

/// Grants a credit under an agreement in scope.
pub async fn add_credit(db: &Db, scope: &Scope, actor: &Actor, d: &CreditDraft) -> Result<Credit> {
    let agreement = super::agreements::get(db, scope, d.agreement_id)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => {
                domain::Invalid::one("agreement_id", "is not an agreement you can see").into()
            }
            e => e,
        })?;
    let c = Credit {
        id: uuid::Uuid::now_v7().to_string(),
        org_id: agreement.org_id,
        agreement_id: d.agreement_id,
        month: d.month.clone(),
        amount_cents: d.amount_cents,
        reason: d.reason.clone(),
        created_at: now_ms(),
    };
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO billing_credits (id, org_id, agreement_id, month, amount_cents, reason, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(&c.id)
        .bind(c.org_id.to_string())
        .bind(c.agreement_id.to_string())
        .bind(&c.month)
        .bind(c.amount_cents)
        .bind(&c.reason)
        .bind(c.created_at)
        .bind(actor.user_id.map(|u| u.to_string()))
        .execute(&mut *tx)
        .await?;
    log(
        &mut tx,
        actor,
        Some(c.org_id),
        "credit.create",
        ("credit", c.id.clone()),
        None,
        Some(to_json(&c)?),
    )
    .await?;
    tx.commit().await?;
    Ok(c)
}

/// Withdraws a credit that no issued invoice carries yet.
pub async fn delete_credit(db: &Db, scope: &Scope, actor: &Actor, id: &str) -> Result<()> {
    let mut q = Sql::new("SELECT * FROM billing_credits WHERE id = ");
    q.bind(id.to_owned());
    q.scope("org_id", scope);
    let c = q
        .fetch_optional(&db.read)
        .await?
        .as_ref()
        .map(credit)
        .transpose()?
        .ok_or(StoreError::NotFound)?;
    let first = format!("{}-01", c.month);
    let carried = sqlx::query("SELECT number FROM invoices WHERE agreement_id = $1 AND kind = 'invoice' AND status IN ('issued', 'paid') AND period_start <= $2 AND period_end > $2")
        .bind(c.agreement_id.to_string())
        .bind(&first)
        .fetch_optional(&db.read)
        .await?;
    if let Some(r) = carried {
        let number: Option<String> = r.try_get("number")?;
        return Err(StoreError::Conflict {
            field: "credit".into(),
            message: format!(
                "invoice {} already carries this credit; void that invoice first",
                number.unwrap_or_default()
            ),
        });
    }
    let mut tx = db.begin_write().await?;
    sqlx::query("DELETE FROM billing_credits WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    log(
        &mut tx,
        actor,
        Some(c.org_id),
        "credit.delete",
        ("credit", id.to_owned()),
        Some(to_json(&c)?),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Credits of a run's months, by agreement (for `invoices::run`).
pub(crate) async fn credits_for(
    db: &Db,
    first_month: &str,
    last_month: &str,
) -> Result<HashMap<AgreementId, Vec<Credit>>> {
    let mut out: HashMap<AgreementId, Vec<Credit>> = HashMap::new();
    for r in sqlx::query(
        "SELECT * FROM billing_credits WHERE month >= $1 AND month <= $2 ORDER BY month, created_at, id",
    )
    .bind(first_month)
    .bind(last_month)
    .fetch_all(&db.read)
    .await?
    {
        let c = credit(&r)?;
        out.entry(c.agreement_id).or_default().push(c);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------------------
// What was billed

/// Billed cents of one member for one service (`None`: credits) over the months of one invoice period.
struct Billed {
    org: OrgId,
    service: Option<ServiceId>,
    subscription: Option<String>,
    period_start: Date,
    period_end: Date,
    cents: i64,
}

/// Billed amounts from issued and paid invoices whose period starts in `from..to`, per member, service,
/// subscription and invoice period.
async fn billed(db: &Db, scope: &Scope, from: Date, to: Date) -> Result<Vec<Billed>> {
    let mut q = Sql::new(
        "SELECT i.org_id, c.service_id, l.subscription_id, i.period_start, i.period_end, \
         CAST(SUM(l.amount_cents) AS BIGINT) AS cents \
         FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id \
         LEFT JOIN rate_cards c ON c.id = l.rate_card_id \
         WHERE i.kind = 'invoice' AND i.status IN ('issued', 'paid') AND i.period_start >= ",
    );
    q.bind(from.to_string())
        .push(" AND i.period_start < ")
        .bind(to.to_string());
    q.scope("i.org_id", scope);
    q.push(" GROUP BY i.org_id, c.service_id, l.subscription_id, i.period_start, i.period_end");
    q.fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| {
            Ok(Billed {
                org: r.id("org_id")?,
                service: r
                    .try_get::<Option<String>, _>("service_id")?
                    .map(|s| parse_id(&s))
                    .transpose()?,
                subscription: r.try_get("subscription_id")?,
                period_start: date(r, "period_start")?,
                period_end: date(r, "period_end")?,
                cents: r.try_get("cents")?,
            })
        })
        .collect()
}

fn months_of(start: Date, end: Date) -> Vec<String> {
    Period { start, end }
        .months()
        .iter()
        .map(|m| month_key(m.start))
        .collect()
}

/// Members of the region in scope, by name.
struct Org {
    id: OrgId,
    name: String,
    slug: String,
    population: i64,
    active_users: i64,
}

async fn members(db: &Db, scope: &Scope) -> Result<Vec<Org>> {
    let mut q = Sql::new(
        "SELECT o.id, o.name, o.slug, o.population, \
         (SELECT COUNT(*) FROM users u WHERE u.org_id = o.id AND u.active = 1) AS active_users \
         FROM orgs o WHERE o.is_hub = 0",
    );
    q.scope("o.id", scope);
    q.push(" ORDER BY o.name");
    q.fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| {
            Ok(Org {
                id: r.id("id")?,
                name: r.try_get("name")?,
                slug: r.try_get("slug")?,
                population: r.try_get::<Option<i64>, _>("population")?.unwrap_or(0),
                active_users: r.try_get("active_users")?,
            })
        })
        .collect()
}

async fn service_names(db: &Db) -> Result<BTreeMap<ServiceId, String>> {
    sqlx::query("SELECT id, name FROM services")
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| Ok((r.id("id")?, r.try_get("name")?)))
        .collect()
}

// ---------------------------------------------------------------------------------------------------------
// The finance report

/// One service's year: what it cost the hub, what its invoices recovered.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct ServiceYear {
    pub service_id: ServiceId,
    pub service_name: String,
    pub cost_cents: i64,
    /// Cost by category (`staff`, `licences`, …).
    pub costs: BTreeMap<CostCategory, i64>,
    pub billed_cents: i64,
    /// Billed ÷ cost, in percent to one decimal; `null` without a cost.
    pub recovery_percent: Option<Decimal>,
    /// Billed − cost.
    pub margin_cents: i64,
}

/// One member's year: what it was billed, by service, and next year's forecast.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct MemberYear {
    pub org_id: OrgId,
    pub name: String,
    pub slug: String,
    /// Billed by service id (credits under `credits`).
    pub billed: BTreeMap<String, i64>,
    pub billed_cents: i64,
    /// Next fiscal year's forecast by service id.
    pub forecast: BTreeMap<String, i64>,
    pub forecast_cents: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct FinanceReport {
    pub fiscal_year: i16,
    #[schemars(with = "domain::schema::Day")]
    pub starts_on: Date,
    #[schemars(with = "domain::schema::Day")]
    pub ends_on: Date,
    pub services: Vec<ServiceYear>,
    pub members: Vec<MemberYear>,
    pub cost_cents: i64,
    pub billed_cents: i64,
    /// Credits granted on the year's invoices (negative).
    pub credits_cents: i64,
    pub recovery_percent: Option<Decimal>,
    pub margin_cents: i64,
    pub forecast_cents: i64,
}

/// The hub's year `fy`: cost, recovery and margin per service, revenue by member and service, and each
/// member's forecast for the year after.
pub async fn report(db: &Db, fy: i16, fy_start: u8) -> Result<FinanceReport> {
    let year = fiscal_year_period(fy, fy_start)
        .ok_or_else(|| domain::FieldError::new("fy", "is not a fiscal year"))?;
    let names = service_names(db).await?;
    let mut services: BTreeMap<ServiceId, ServiceYear> = BTreeMap::new();
    let blank = |id: ServiceId, names: &BTreeMap<ServiceId, String>| ServiceYear {
        service_id: id,
        service_name: names.get(&id).cloned().unwrap_or_default(),
        cost_cents: 0,
        costs: BTreeMap::new(),
        billed_cents: 0,
        recovery_percent: None,
        margin_cents: 0,
    };
    for c in costs(db, Some(fy)).await? {
        let s = services
            .entry(c.service_id)
            .or_insert_with(|| blank(c.service_id, &names));
        s.cost_cents += c.amount_cents;
        *s.costs.entry(c.category).or_default() += c.amount_cents;
    }
    let orgs = members(db, &Scope::Region).await?;
    let mut by_org: BTreeMap<OrgId, MemberYear> = orgs
        .iter()
        .map(|o| {
            (
                o.id,
                MemberYear {
                    org_id: o.id,
                    name: o.name.clone(),
                    slug: o.slug.clone(),
                    billed: BTreeMap::new(),
                    billed_cents: 0,
                    forecast: BTreeMap::new(),
                    forecast_cents: 0,
                },
            )
        })
        .collect();
    let mut credits_cents = 0;
    for b in billed(db, &Scope::Region, year.start, year.end).await? {
        let key = match b.service {
            Some(s) => {
                services
                    .entry(s)
                    .or_insert_with(|| blank(s, &names))
                    .billed_cents += b.cents;
                s.to_string()
            }
            None => {
                credits_cents += b.cents;
                "credits".to_owned()
            }
        };
        if let Some(m) = by_org.get_mut(&b.org) {
            *m.billed.entry(key).or_default() += b.cents;
            m.billed_cents += b.cents;
        }
    }
    for (org, by_service) in forecast(db, &orgs, fy + 1, fy_start).await? {
        if let Some(m) = by_org.get_mut(&org) {
            m.forecast_cents = by_service.values().sum();
            m.forecast = by_service
                .into_iter()
                .map(|(s, c)| (s.to_string(), c))
                .collect();
        }
    }
    let mut services: Vec<ServiceYear> = services.into_values().collect();
    for s in &mut services {
        s.recovery_percent = percent(s.billed_cents, s.cost_cents);
        s.margin_cents = s.billed_cents - s.cost_cents;
    }
    services.sort_by(|a, b| a.service_name.cmp(&b.service_name));
    let cost_cents: i64 = services.iter().map(|s| s.cost_cents).sum();
    let billed_cents: i64 = services.iter().map(|s| s.billed_cents).sum::<i64>() + credits_cents;
    let members: Vec<MemberYear> = orgs.iter().filter_map(|o| by_org.remove(&o.id)).collect();
    Ok(FinanceReport {
        fiscal_year: fy,
        starts_on: year.start,
        ends_on: year.end,
        forecast_cents: members.iter().map(|m| m.forecast_cents).sum(),
        services,
        members,
        cost_cents,
        billed_cents,
        credits_cents,
        recovery_percent: percent(billed_cents, cost_cents),
        margin_cents: billed_cents - cost_cents,
    })
}

struct ForecastSub {
    id: String,
    org: OrgId,
    card: RateCardId,
    quantity: Decimal,
    starts_on: Date,
    ends_on: Option<Date>,
}

/// Each member's budget for fiscal year `fy`, by service: subscriptions priced by their cards at the rates
/// in force then (fixed fees, seats and units, per-capita charges, prepaid blocks, cost-pool shares with
/// today's participants), and what usage and hours cost in the twelve months before it, carried forward by
/// their trend ([`forecast_year`]).
async fn forecast(
    db: &Db,
    orgs: &[Org],
    fy: i16,
    fy_start: u8,
) -> Result<BTreeMap<OrgId, BTreeMap<ServiceId, i64>>> {
    let Some(next) = fiscal_year_period(fy, fy_start) else {
        return Ok(BTreeMap::new());
    };
    let cards: HashMap<RateCardId, super::rates::RateCard> = super::rates::list(db, false)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let subs: Vec<ForecastSub> = sqlx::query(
        "SELECT s.id, s.org_id, s.rate_card_id, s.quantity, s.starts_on, s.ends_on FROM subscriptions s \
         JOIN agreements a ON a.id = s.agreement_id WHERE a.status = $1 \
         AND s.starts_on < $2 AND (s.ends_on IS NULL OR s.ends_on > $3) ORDER BY s.org_id, s.id",
    )
    .bind(AgreementStatus::Active.as_str())
    .bind(next.end.to_string())
    .bind(next.start.to_string())
    .fetch_all(&db.read)
    .await?
    .iter()
    .map(|r| {
        Ok(ForecastSub {
            id: r.try_get("id")?,
            org: r.id("org_id")?,
            card: r.id("rate_card_id")?,
            quantity: decimal(r, "quantity")?,
            starts_on: date(r, "starts_on")?,
            ends_on: opt_date(r, "ends_on")?,
        })
    })
    .collect::<Result<_>>()?;
    // The twelve months before the year, per subscription and month.
    let history_from = Period::fiscal_quarter(fy - 1, 1, fy_start)
        .map(|q| q.start)
        .unwrap_or(next.start);
    let mut history: HashMap<String, BTreeMap<String, i64>> = HashMap::new();
    for b in billed(db, &Scope::Region, history_from, next.start).await? {
        let Some(sub) = b.subscription else { continue };
        let months = months_of(b.period_start, b.period_end);
        let n = i64::try_from(months.len()).unwrap_or(1);
        for (i, m) in months.into_iter().enumerate() {
            let i = i64::try_from(i).unwrap_or(0);
            *history
                .entry(sub.clone())
                .or_default()
                .entry(m)
                .or_default() += prorate(b.cents, n, i, i + 1);
        }
    }
    let people: HashMap<OrgId, &Org> = orgs.iter().map(|o| (o.id, o)).collect();
    // Cost-pool shares, card by card, with every participant of the card.
    let mut pooled: HashMap<String, i64> = HashMap::new();
    let mut by_card: BTreeMap<RateCardId, Vec<Participant<String>>> = BTreeMap::new();
    for s in &subs {
        if cards
            .get(&s.card)
            .is_some_and(|c| c.model == Model::CostPool)
        {
            by_card.entry(s.card).or_default().push(Participant {
                key: s.id.clone(),
                weight: s.quantity,
                starts_on: s.starts_on,
                ends_on: s.ends_on,
            });
        }
    }
    for (card, participants) in &by_card {
        let Some(c) = cards.get(card) else { continue };
        let rates = c.prices();
        if let Ok(shares) = pool_lines(&c.name, &rates, participants, &next, fy_start) {
            for (sub, ls) in shares {
                pooled.insert(sub, ls.iter().map(|l| l.amount_cents).sum());
            }
        }
    }
    let mut out: BTreeMap<OrgId, BTreeMap<ServiceId, i64>> = BTreeMap::new();
    for s in &subs {
        let (Some(card), Some(org)) = (cards.get(&s.card), people.get(&s.org)) else {
            continue;
        };
        let trend = || {
            history
                .get(&s.id)
                .map(|m| forecast_year(&m.values().copied().collect::<Vec<_>>()))
                .unwrap_or(0)
        };
        let cents = match card.model {
            Model::CostPool => pooled.get(&s.id).copied().unwrap_or(0),
            Model::TimeAndMaterials => trend(),
            Model::PerUnit
                if !card.meter.is_empty()
                    && card.meter != domain::billing::invoice::SEATS_METER =>
            {
                trend()
            }
            _ => {
                let rates = card.prices();
                let charge = Charge {
                    name: &card.name,
                    model: card.model,
                    unit: &card.unit,
                    meter: &card.meter,
                    activity: &card.activity,
                    quantity: s.quantity,
                    starts_on: s.starts_on,
                    ends_on: s.ends_on,
                    rates: &rates,
                };
                let member = Member {
                    population: org.population,
                    active_users: org.active_users,
                    ..Member::default()
                };
                lines(&charge, &member, &next, fy_start)
                    .map(|ls| ls.iter().map(|l| l.amount_cents).sum())
                    .unwrap_or(0)
            }
        };
        *out.entry(s.org)
            .or_default()
            .entry(card.service_id)
            .or_default() += cents;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------------------
// Savings

/// One service of a member's savings.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct ServiceSaving {
    pub service_id: ServiceId,
    pub service_name: String,
    #[serde(flatten)]
    pub saving: Saving,
    pub saved_cents: Option<i64>,
    pub saved_percent: Option<Decimal>,
    /// Where the standalone figure comes from.
    pub source: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct MemberSavings {
    pub org_id: OrgId,
    pub name: String,
    pub slug: String,
    pub population: i64,
    pub size_band: SizeBand,
    pub services: Vec<ServiceSaving>,
    /// Totals over the services with a benchmark.
    pub shared_cents: i64,
    pub standalone_cents: i64,
    pub saved_cents: i64,
    pub saved_percent: Option<Decimal>,
}

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct SavingsReport {
    pub fiscal_year: i16,
    #[schemars(with = "domain::schema::Day")]
    pub starts_on: Date,
    #[schemars(with = "domain::schema::Day")]
    pub ends_on: Date,
    pub members: Vec<MemberSavings>,
    pub shared_cents: i64,
    pub standalone_cents: i64,
    pub saved_cents: i64,
    pub saved_percent: Option<Decimal>,
}

/// What sharing saved each member in scope over fiscal year `fy` (so far): for every service it was billed
/// for, the shared cost beside the standalone benchmark of its size band over the same months.
pub async fn savings(db: &Db, scope: &Scope, fy: i16, fy_start: u8) -> Result<SavingsReport> {
    let year = fiscal_year_period(fy, fy_start)
        .ok_or_else(|| domain::FieldError::new("fy", "is not a fiscal year"))?;
    let names = service_names(db).await?;
    let marks: HashMap<(ServiceId, SizeBand), Benchmark> = benchmarks(db)
        .await?
        .into_iter()
        .map(|b| ((b.service_id, b.size_band), b))
        .collect();
    let mut used: HashMap<OrgId, BTreeMap<ServiceId, (i64, BTreeSet<String>)>> = HashMap::new();
    for b in billed(db, scope, year.start, year.end).await? {
        let Some(service) = b.service else { continue };
        let e = used.entry(b.org).or_default().entry(service).or_default();
        e.0 += b.cents;
        e.1.extend(months_of(b.period_start, b.period_end));
    }
    let mut members_out = Vec::new();
    for o in members(db, scope).await? {
        let band = SizeBand::of(o.population);
        let mut services: Vec<ServiceSaving> = used
            .remove(&o.id)
            .unwrap_or_default()
            .into_iter()
            .map(|(service, (cents, months))| {
                let months = i64::try_from(months.len()).unwrap_or(12);
                let mark = marks.get(&(service, band));
                let saving = Saving {
                    months,
                    shared_cents: cents,
                    standalone_cents: mark.map(|m| m.standalone.for_months(months)),
                };
                ServiceSaving {
                    service_id: service,
                    service_name: names.get(&service).cloned().unwrap_or_default(),
                    saved_cents: saving.saved_cents(),
                    saved_percent: saving.saved_percent(),
                    saving,
                    source: mark.map(|m| m.source.clone()),
                }
            })
            .collect();
        services.sort_by(|a, b| a.service_name.cmp(&b.service_name));
        let (shared, standalone) = total_savings(services.iter().map(|s| &s.saving));
        members_out.push(MemberSavings {
            org_id: o.id,
            name: o.name,
            slug: o.slug,
            population: o.population,
            size_band: band,
            services,
            shared_cents: shared,
            standalone_cents: standalone,
            saved_cents: standalone - shared,
            saved_percent: percent(standalone - shared, standalone),
        });
    }
    let shared: i64 = members_out.iter().map(|m| m.shared_cents).sum();
    let standalone: i64 = members_out.iter().map(|m| m.standalone_cents).sum();
    Ok(SavingsReport {
        fiscal_year: fy,
        starts_on: year.start,
        ends_on: year.end,
        members: members_out,
        shared_cents: shared,
        standalone_cents: standalone,
        saved_cents: standalone - shared,
        saved_percent: percent(standalone - shared, standalone),
    })
}
