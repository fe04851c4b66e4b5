//! The application portfolio: the capability taxonomy, each application item's portfolio record (its
//! capability, users, cost, contract and support dates, questionnaire and TIME quadrant, retirement plan),
//! the redundancy finder and the retirement plans. Applications are CMDB items of type application, so the
//! portfolio reads and changes what the CMDB lets the reader read and change. Rules in `domain::portfolio`.

use crate::row::Cols;
use std::collections::BTreeMap;

use crate::audit::Actor;
use crate::desk::catalog::{log, to_json};
use crate::sql::Sql;
use crate::{Db, Result, Scope, StoreError, now_ms, parse_id};
use domain::cmdb::CiType;
use domain::ids::{CiId, OrgId};
use domain::portfolio::{AppFacts, Axis, Quadrant, quadrant, redundancy, score};
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct Capability {
    pub slug: String,
    pub name: String,
    pub description: String,
}

pub async fn capabilities(db: &Db) -> Result<Vec<Capability>> {
    sqlx::query("SELECT slug, name, description FROM capabilities ORDER BY name")
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| {
            Ok(Capability {
                slug: r.try_get("slug")?,
                name: r.try_get("name")?,
                description: r.try_get("description")?,
            })
        })
        .collect()
}

/// Adds a capability to the shared taxonomy (the hub's to do).
pub async fn add_capability(db: &Db, actor: &Actor, c: &Capability) -> Result<Capability> {
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO capabilities (slug, name, description, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&c.slug)
    .bind(&c.name)
    .bind(&c.description)
    .bind(now_ms())
    .execute(&mut *tx)
    .await
    .map_err(|e| {
        // The slug is the primary key (PostgreSQL names its constraint `capabilities_pkey`); the name
        // has its own unique constraint.
        match StoreError::on_unique(e, "name", "name", "another capability has this name") {
            StoreError::Db(e) => StoreError::on_unique(
                e,
                "capabilities",
                "slug",
                "another capability has this slug",
            ),
            other => other,
        }
    })?;
    log(
        &mut tx,
        actor,
        None,
        "capability.create",
        ("capability", c.slug.clone()),
        None,
        Some(to_json(c)?),
    )
    .await?;
    tx.commit().await?;
    Ok(c.clone())
}

/// An application with its portfolio record (the record's fields empty until it is assessed).
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct PortfolioApp {
    pub ci_id: CiId,
    pub name: String,
    pub org_id: OrgId,
    pub org_name: String,
    /// The hub's own application, shared with members.
    pub shared: bool,
    pub department_name: Option<String>,
    pub vendor: Option<String>,
    pub product_version: Option<String>,
    pub capability: Option<String>,
    pub capability_name: Option<String>,
    pub users: i64,
    pub annual_cost_cents: i64,
    #[schemars(with = "Option<domain::schema::Day>")]
    pub contract_end: Option<Date>,
    #[schemars(with = "Option<domain::schema::Day>")]
    pub support_end: Option<Date>,
    pub answers: BTreeMap<String, u8>,
    pub business_value: Option<Decimal>,
    pub technical_condition: Option<Decimal>,
    pub quadrant: Option<Quadrant>,
    #[schemars(with = "Option<domain::schema::Day>")]
    pub retire_by: Option<Date>,
    pub replacement_id: Option<CiId>,
    pub replacement_name: Option<String>,
    pub plan: String,
    /// Whether a portfolio record exists.
    pub assessed: bool,
    /// The record's version (0 before the first save), for `If-Match`.
    pub version: i64,
}

/// A portfolio record as checked by the web layer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AppDraft {
    pub capability: Option<String>,
    pub users: i64,
    pub annual_cost_cents: i64,
    pub contract_end: Option<Date>,
    pub support_end: Option<Date>,
    pub answers: BTreeMap<String, u8>,
    pub retire_by: Option<Date>,
    pub replacement_id: Option<CiId>,
    pub plan: String,
}

/// Filters of the portfolio.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub org: Option<OrgId>,
    pub capability: Option<String>,
    pub quadrant: Option<Quadrant>,
}

const SELECT: &str = "SELECT c.id, c.name, c.org_id, c.attributes, o.name AS org_name, o.is_hub, d.name AS department_name, \
     p.capability, k.name AS capability_name, p.users, p.annual_cost_cents, p.contract_end, p.support_end, p.answers, \
     p.business_value, p.technical_condition, p.quadrant, p.retire_by, p.replacement_ci, r.name AS replacement_name, \
     p.plan, p.version \
     FROM cis c JOIN orgs o ON o.id = c.org_id LEFT JOIN departments d ON d.id = c.department_id \
     LEFT JOIN app_portfolio p ON p.ci_id = c.id LEFT JOIN capabilities k ON k.slug = p.capability \
     LEFT JOIN cis r ON r.id = p.replacement_ci \
     WHERE c.ci_type = 'application' AND c.status <> 'retired'";

fn opt_date(r: &AnyRow, col: &str) -> Result<Option<Date>> {
    r.try_get::<Option<String>, _>(col)?
        .map(|s| s.parse().map_err(corrupt))
        .transpose()
}

fn opt_decimal(r: &AnyRow, col: &str) -> Result<Option<Decimal>> {
    r.try_get::<Option<String>, _>(col)?
        .map(|s| s.parse().map_err(corrupt))
        .transpose()
}

fn app(r: &AnyRow) -> Result<PortfolioApp> {
    let attributes: Value = r.json("attributes")?;
    let attr = |n: &str| attributes.get(n).and_then(Value::as_str).map(str::to_owned);
    let version: Option<i64> = r.try_get("version")?;
    let answers: BTreeMap<String, u8> = match r.try_get::<Option<String>, _>("answers")? {
        Some(a) => serde_json::from_str(&a).map_err(corrupt)?,
        None => BTreeMap::new(),
    };
    Ok(PortfolioApp {
        ci_id: r.id("id")?,
        name: r.try_get("name")?,
        org_id: r.id("org_id")?,
        org_name: r.try_get("org_name")?,
        shared: r.flag("is_hub")?,
        department_name: r.try_get("department_name")?,
        vendor: attr("vendor"),
        product_version: attr("version"),
        capability: r.try_get("capability")?,
        capability_name: r.try_get("capability_name")?,
        users: r.try_get::<Option<i64>, _>("users")?.unwrap_or(0),
        annual_cost_cents: r
            .try_get::<Option<i64>, _>("annual_cost_cents")?
            .unwrap_or(0),
        contract_end: opt_date(r, "contract_end")?,
        support_end: opt_date(r, "support_end")?,
        answers,
        business_value: opt_decimal(r, "business_value")?,
        technical_condition: opt_decimal(r, "technical_condition")?,
        quadrant: r
            .try_get::<Option<String>, _>("quadrant")?
            .map(|q| Quadrant::parse(&q).map_err(|e| corrupt(e.message)))
            .transpose()?,
        retire_by: opt_date(r, "retire_by")?,
        replacement_id: r
            .try_get::<Option<String>, _>("replacement_ci")?
            .map(|s| parse_id(&s))
            .transpose()?,
        replacement_name: r.try_get("replacement_name")?,
        plan: r.try_get::<Option<String>, _>("plan")?.unwrap_or_default(),
        assessed: version.is_some(),
        version: version.unwrap_or(0),
    })
}

/// The applications `scope` may read (its own and the hub's shared ones), by capability then name.
pub async fn list(db: &Db, scope: &Scope, f: &Filter) -> Result<Vec<PortfolioApp>> {
    let mut q = Sql::new(SELECT);
    crate::cmdb::visible(&mut q, "c.org_id", scope);
    if let Some(o) = f.org {
        q.push(" AND c.org_id = ").bind(o.to_string());
    }
    if let Some(c) = &f.capability {
        q.push(" AND p.capability = ").bind(c.as_str());
    }
    if let Some(k) = f.quadrant {
        q.push(" AND p.quadrant = ").bind(k.as_str());
    }
    q.push(" ORDER BY k.name, c.name, o.name, c.id");
    q.fetch_all(&db.read).await?.iter().map(app).collect()
}

/// One application the scope may read, with its record.
pub async fn get(db: &Db, scope: &Scope, id: CiId) -> Result<PortfolioApp> {
    let mut q = Sql::new(&format!("{SELECT} AND c.id = "));
    q.bind(id.to_string());
    crate::cmdb::visible(&mut q, "c.org_id", scope);
    match q.fetch_optional(&db.read).await? {
        Some(r) => app(&r),
        // An item of another type is not an application.
        None => Err(StoreError::NotFound),
    }
}

/// Saves an application's portfolio record; `version` (from `If-Match`) must be the one read, when given.
/// Only the owner of the application (in `manage`) may.
pub async fn save(
    db: &Db,
    read: &Scope,
    manage: &Scope,
    actor: &Actor,
    id: CiId,
    version: Option<i64>,
    d: &AppDraft,
) -> Result<PortfolioApp> {
    let before = get(db, read, id).await?;
    if !manage.contains(before.org_id) {
        return Err(StoreError::Forbidden);
    }
    if version.is_some_and(|v| v != before.version) {
        return Err(StoreError::Stale);
    }
    if let Some(c) = &d.capability {
        let known = sqlx::query("SELECT slug FROM capabilities WHERE slug = $1")
            .bind(c)
            .fetch_optional(&db.read)
            .await?;
        if known.is_none() {
            return Err(domain::FieldError::new(
                "capability",
                format!("{c:?} is not a capability of the taxonomy (see /api/v1/capabilities)"),
            )
            .into());
        }
    }
    if let Some(r) = d.replacement_id {
        let other = crate::cmdb::get(db, read, r).await.ok();
        match other {
            Some(o) if o.ci_type == CiType::Application && o.id != id => {}
            _ => {
                return Err(domain::FieldError::new(
                    "replacement_id",
                    "must be another application you can see",
                )
                .into());
            }
        }
    }
    let value = score(&d.answers, Axis::BusinessValue);
    let condition = score(&d.answers, Axis::TechnicalCondition);
    let q = quadrant(value, condition);
    let answers = serde_json::to_string(&d.answers).map_err(corrupt)?;
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    let n = if before.assessed {
        sqlx::query("UPDATE app_portfolio SET capability = $1, users = $2, annual_cost_cents = $3, contract_end = $4, support_end = $5, answers = $6, business_value = $7, technical_condition = $8, quadrant = $9, retire_by = $10, replacement_ci = $11, plan = $12, updated_at = $13, version = version + 1 WHERE ci_id = $14 AND version = $15")
            .bind(d.capability.clone())
            .bind(d.users)
            .bind(d.annual_cost_cents)
            .bind(d.contract_end.map(|x| x.to_string()))
            .bind(d.support_end.map(|x| x.to_string()))
            .bind(&answers)
            .bind(value.map(|x| x.to_string()))
            .bind(condition.map(|x| x.to_string()))
            .bind(q.map(|x| x.as_str()))
            .bind(d.retire_by.map(|x| x.to_string()))
            .bind(d.replacement_id.map(|x| x.to_string()))
            .bind(&d.plan)
            .bind(now)
            .bind(id.to_string())
            .bind(before.version)
            .execute(&mut *tx)
            .await?
            .rows_affected()
    } else {
        sqlx::query("INSERT INTO app_portfolio (ci_id, capability, users, annual_cost_cents, contract_end, support_end, answers, business_value, technical_condition, quadrant, retire_by, replacement_ci, plan, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 1)")
            .bind(id.to_string())
            .bind(d.capability.clone())
            .bind(d.users)
            .bind(d.annual_cost_cents)
            .bind(d.contract_end.map(|x| x.to_string()))
            .bind(d.support_end.map(|x| x.to_string()))
            .bind(&answers)
            .bind(value.map(|x| x.to_string()))
            .bind(condition.map(|x| x.to_string()))
            .bind(q.map(|x| x.as_str()))
            .bind(d.retire_by.map(|x| x.to_string()))
            .bind(d.replacement_id.map(|x| x.to_string()))
            .bind(&d.plan)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::on_unique(e, "ci_id", "ci_id", "was assessed at the same time"))?
            .rows_affected()
    };
    if n != 1 {
        return Err(StoreError::Stale);
    }
    // The audit entry in the same transaction as the change: the record as saved.
    let after = serde_json::json!({
        "capability": d.capability, "users": d.users, "annual_cost_cents": d.annual_cost_cents,
        "contract_end": d.contract_end, "support_end": d.support_end, "answers": d.answers,
        "business_value": value, "technical_condition": condition, "quadrant": q,
        "retire_by": d.retire_by, "replacement_id": d.replacement_id, "plan": d.plan,
    });
    log(
        &mut tx,
        actor,
        Some(before.org_id),
        "portfolio.save",
        ("ci", id.to_string()),
        before.assessed.then(|| to_json(&before)).transpose()?,
        Some(after),
    )
    .await?;
    tx.commit().await?;
    let after = get(db, read, id).await?;
    Ok(after)
}

/// One capability served by several applications, and how to consolidate it.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct RedundancyView {
    pub capability: String,
    pub capability_name: String,
    /// The product to consolidate onto.
    pub target: String,
    pub products: usize,
    pub combined_cost_cents: i64,
    /// What the applications not on the target cost a year: the most consolidation could save.
    pub candidates_cost_cents: i64,
    /// The one kept, then the consolidation candidates.
    pub kept: PortfolioApp,
    pub candidates: Vec<PortfolioApp>,
}

/// The capabilities served by two or more of the applications `scope` may read (across departments and
/// members), largest combined cost first.
pub async fn redundancies(db: &Db, scope: &Scope) -> Result<Vec<RedundancyView>> {
    let apps = list(db, scope, &Filter::default()).await?;
    let mut groups: BTreeMap<String, Vec<PortfolioApp>> = BTreeMap::new();
    for a in apps {
        if let Some(c) = a.capability.clone() {
            groups.entry(c).or_default().push(a);
        }
    }
    let mut out = Vec::new();
    for (capability, group) in groups {
        let facts: Vec<AppFacts<usize>> = group
            .iter()
            .enumerate()
            .map(|(i, a)| AppFacts {
                id: i,
                product: a.name.clone(),
                owner: a.org_name.clone(),
                shared: a.shared,
                users: a.users,
                annual_cost_cents: a.annual_cost_cents,
                condition: a.technical_condition,
            })
            .collect();
        let Some(r) = redundancy(&facts) else {
            continue;
        };
        let Some(kept) = r.on_target.first().and_then(|i| group.get(*i)).cloned() else {
            continue;
        };
        out.push(RedundancyView {
            capability_name: kept.capability_name.clone().unwrap_or_default(),
            capability,
            target: r.target,
            products: r.products,
            combined_cost_cents: r.combined_cost_cents,
            candidates_cost_cents: r.candidates_cost_cents,
            candidates: r
                .candidates
                .iter()
                .filter_map(|i| group.get(*i).cloned())
                .collect(),
            kept,
        });
    }
    out.sort_by(|a, b| {
        b.combined_cost_cents
            .cmp(&a.combined_cost_cents)
            .then(a.capability_name.cmp(&b.capability_name))
    });
    Ok(out)
}

/// Applications with a retirement date, soonest first.
pub async fn retirements(db: &Db, scope: &Scope) -> Result<Vec<PortfolioApp>> {
    let mut apps: Vec<PortfolioApp> = list(db, scope, &Filter::default())
        .await?
        .into_iter()
        .filter(|a| a.retire_by.is_some())
        .collect();
    apps.sort_by(|a, b| a.retire_by.cmp(&b.retire_by).then(a.name.cmp(&b.name)));
    Ok(apps)
}
