//! The hub's service catalog: SLA policies, assignment groups (teams), services and orderable items, and
//! the desk's region-wide settings. The catalog belongs to the hub and every member reads it; only
//! holders of `catalog-manage` change it (the web layer checks; these functions record who did).

use crate::audit::{self, Actor, Change};
use crate::row::Cols;
use crate::sql::Sql;
use crate::{Db, Result, StoreError, now_ms, parse_id};
use domain::desk::catalog::FormField;
use domain::desk::{Coverage, PriorityMatrix, SlaTargets};
use domain::ids::{CatalogItemId, ServiceId, SlaPolicyId, TeamId, UserId};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

pub(crate) fn to_json<T: Serialize>(v: &T) -> Result<serde_json::Value> {
    serde_json::to_value(v).map_err(corrupt)
}

pub(crate) async fn log(
    tx: &mut Transaction<'_, Any>,
    actor: &Actor,
    org: Option<domain::ids::OrgId>,
    action: &str,
    entity: (&str, String),
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Result<()> {
    audit::append(
        tx,
        actor,
        Change {
            org_id: org,
            action,
            entity_kind: entity.0,
            entity_id: entity.1,
            before,
            after,
        },
    )
    .await
    .map(|_| ())
}

// ---------------------------------------------------------------------------------------------------
// Settings

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct DeskSettings {
    pub priority_matrix: PriorityMatrix,
    /// A requester's reply within this many days reopens a resolved ticket; after it, the ticket closes.
    pub reopen_days: i64,
    pub attachment_max_bytes: i64,
    /// A breached ticket moves to this team, when set.
    pub escalation_team_id: Option<TeamId>,
    pub version: i64,
}

pub async fn settings(db: &Db) -> Result<DeskSettings> {
    let r = sqlx::query("SELECT priority_matrix, reopen_days, attachment_max_bytes, escalation_team_id, version FROM desk_settings WHERE id = 1")
        .fetch_one(&db.read)
        .await?;
    Ok(DeskSettings {
        priority_matrix: r.json("priority_matrix")?,
        reopen_days: r.try_get("reopen_days")?,
        attachment_max_bytes: r.try_get("attachment_max_bytes")?,
        escalation_team_id: opt_id(&r, "escalation_team_id")?,
        version: r.try_get("version")?,
    })
}

pub async fn update_settings(
    db: &Db,
    actor: &Actor,
    version: Option<i64>,
    new: &DeskSettings,
) -> Result<DeskSettings> {
    let before = settings(db).await?;
    if version.is_some_and(|v| v != before.version) {
        return Err(StoreError::Stale);
    }
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("UPDATE desk_settings SET priority_matrix = $1, reopen_days = $2, attachment_max_bytes = $3, updated_at = $4, escalation_team_id = $6, version = version + 1 WHERE id = 1 AND version = $5")
        .bind(serde_json::to_string(&new.priority_matrix).map_err(corrupt)?)
        .bind(new.reopen_days)
        .bind(new.attachment_max_bytes)
        .bind(now_ms())
        .bind(before.version)
        .bind(new.escalation_team_id.map(|t| t.to_string()))
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n != 1 {
        return Err(StoreError::Stale);
    }
    let after = DeskSettings {
        version: before.version + 1,
        ..new.clone()
    };
    log(
        &mut tx,
        actor,
        None,
        "desk_settings.update",
        ("desk_settings", "1".into()),
        Some(to_json(&before)?),
        Some(to_json(&after)?),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

// ---------------------------------------------------------------------------------------------------
// SLA policies

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct SlaPolicy {
    pub id: SlaPolicyId,
    pub name: String,
    pub coverage: Coverage,
    pub targets: SlaTargets,
    #[serde(serialize_with = "crate::tenancy::ser_ts")]
    pub created_at: i64,
    #[serde(serialize_with = "crate::tenancy::ser_ts")]
    pub updated_at: i64,
    pub version: i64,
}

fn policy(r: &AnyRow) -> Result<SlaPolicy> {
    Ok(SlaPolicy {
        id: r.id("id")?,
        name: r.try_get("name")?,
        coverage: Coverage::parse(&r.try_get::<String, _>("coverage")?)
            .map_err(|e| corrupt(e.message))?,
        targets: r.json("targets")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        version: r.try_get("version")?,
    })
}

pub async fn list_policies(db: &Db) -> Result<Vec<SlaPolicy>> {
    sqlx::query("SELECT * FROM sla_policies ORDER BY name")
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(policy)
        .collect()
}

pub async fn get_policy(db: &Db, id: SlaPolicyId) -> Result<SlaPolicy> {
    sqlx::query("SELECT * FROM sla_policies WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&db.read)
        .await?
        .as_ref()
        .map(policy)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

pub async fn create_policy(
    db: &Db,
    actor: &Actor,
    name: &str,
    coverage: Coverage,
    targets: &SlaTargets,
) -> Result<SlaPolicy> {
    targets.validate()?;
    let now = now_ms();
    let p = SlaPolicy {
        id: SlaPolicyId::new(),
        name: name.to_owned(),
        coverage,
        targets: *targets,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO sla_policies (id, name, coverage, targets, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $5, 1)")
        .bind(p.id.to_string())
        .bind(&p.name)
        .bind(coverage.as_str())
        .bind(serde_json::to_string(targets).map_err(corrupt)?)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::on_unique(e, "name", "name", "is already the name of an SLA policy"))?;
    log(
        &mut tx,
        actor,
        None,
        "sla_policy.create",
        ("sla_policy", p.id.to_string()),
        None,
        Some(to_json(&p)?),
    )
    .await?;
    tx.commit().await?;
    Ok(p)
}

/// Renames a policy or changes its clock or targets, if it is still at `version` (when given). Tickets
/// already open keep the targets they were opened with (as in other service desks, a ticket's SLA is
/// fixed when it starts); tickets opened afterwards use the new ones.
pub async fn update_policy(
    db: &Db,
    actor: &Actor,
    id: SlaPolicyId,
    version: Option<i64>,
    name: &str,
    coverage: Coverage,
    targets: &SlaTargets,
) -> Result<SlaPolicy> {
    targets.validate()?;
    let before = get_policy(db, id).await?;
    if version.is_some_and(|v| v != before.version) {
        return Err(StoreError::Stale);
    }
    let after = SlaPolicy {
        name: name.to_owned(),
        coverage,
        targets: *targets,
        updated_at: now_ms(),
        version: before.version + 1,
        ..before.clone()
    };
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("UPDATE sla_policies SET name = $1, coverage = $2, targets = $3, updated_at = $4, version = $5 WHERE id = $6 AND version = $7")
        .bind(&after.name)
        .bind(coverage.as_str())
        .bind(serde_json::to_string(targets).map_err(corrupt)?)
        .bind(after.updated_at)
        .bind(after.version)
        .bind(id.to_string())
        .bind(before.version)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::on_unique(e, "name", "name", "is already the name of an SLA policy"))?
        .rows_affected();
    if n != 1 {
        return Err(StoreError::Stale);
    }
    log(
        &mut tx,
        actor,
        None,
        "sla_policy.update",
        ("sla_policy", id.to_string()),
        Some(to_json(&before)?),
        Some(to_json(&after)?),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

// ---------------------------------------------------------------------------------------------------
// Teams

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Team {
    pub id: TeamId,
    pub name: String,
    pub description: String,
    pub members: Vec<UserId>,
    pub version: i64,
}

pub async fn list_teams(db: &Db) -> Result<Vec<Team>> {
    let rows = sqlx::query("SELECT id, name, description, version FROM teams ORDER BY name")
        .fetch_all(&db.read)
        .await?;
    let members = sqlx::query("SELECT team_id, user_id FROM team_members")
        .fetch_all(&db.read)
        .await?;
    rows.iter()
        .map(|r| {
            let id: String = r.try_get("id")?;
            Ok(Team {
                id: parse_id(&id)?,
                name: r.try_get("name")?,
                description: r.try_get("description")?,
                members: members
                    .iter()
                    .filter(|m| m.try_get::<String, _>("team_id").is_ok_and(|t| t == id))
                    .map(|m| parse_id(&m.try_get::<String, _>("user_id")?))
                    .collect::<Result<_>>()?,
                version: r.try_get("version")?,
            })
        })
        .collect()
}

pub async fn create_team(
    db: &Db,
    actor: &Actor,
    name: &str,
    description: &str,
    members: &[UserId],
) -> Result<Team> {
    let now = now_ms();
    let t = Team {
        id: TeamId::new(),
        name: name.to_owned(),
        description: description.to_owned(),
        members: members.to_vec(),
        version: 1,
    };
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO teams (id, name, description, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $4, 1)")
        .bind(t.id.to_string())
        .bind(&t.name)
        .bind(&t.description)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::on_unique(e, "name", "name", "is already the name of a team"))?;
    for m in members {
        sqlx::query("INSERT INTO team_members (team_id, user_id) VALUES ($1, $2)")
            .bind(t.id.to_string())
            .bind(m.to_string())
            .execute(&mut *tx)
            .await?;
    }
    log(
        &mut tx,
        actor,
        None,
        "team.create",
        ("team", t.id.to_string()),
        None,
        Some(to_json(&t)?),
    )
    .await?;
    tx.commit().await?;
    Ok(t)
}

// ---------------------------------------------------------------------------------------------------
// Services

/// A service of the hub's catalog.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Service {
    pub id: ServiceId,
    pub slug: String,
    pub name: String,
    pub category: String,
    pub description: String,
    pub owner_team_id: Option<TeamId>,
    /// How the service is supported, for people ("Business hours", "24×7").
    pub support_hours: String,
    pub sla_policy_id: SlaPolicyId,
    pub active: bool,
    #[serde(serialize_with = "crate::tenancy::ser_ts")]
    pub created_at: i64,
    #[serde(serialize_with = "crate::tenancy::ser_ts")]
    pub updated_at: i64,
    pub version: i64,
}

/// What a service is made of, checked by the web layer.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceDraft {
    pub slug: String,
    pub name: String,
    pub category: String,
    pub description: String,
    pub owner_team_id: Option<TeamId>,
    pub support_hours: String,
    pub sla_policy_id: SlaPolicyId,
    pub active: bool,
}

impl Service {
    pub fn draft(&self) -> ServiceDraft {
        ServiceDraft {
            slug: self.slug.clone(),
            name: self.name.clone(),
            category: self.category.clone(),
            description: self.description.clone(),
            owner_team_id: self.owner_team_id,
            support_hours: self.support_hours.clone(),
            sla_policy_id: self.sla_policy_id,
            active: self.active,
        }
    }
}

fn opt_id<T: std::str::FromStr>(r: &AnyRow, col: &str) -> Result<Option<T>> {
    r.try_get::<Option<String>, _>(col)?
        .map(|s| parse_id(&s))
        .transpose()
}

fn service(r: &AnyRow) -> Result<Service> {
    Ok(Service {
        id: r.id("id")?,
        slug: r.try_get("slug")?,
        name: r.try_get("name")?,
        category: r.try_get("category")?,
        description: r.try_get("description")?,
        owner_team_id: opt_id(r, "owner_team_id")?,
        support_hours: r.try_get("support_hours")?,
        sla_policy_id: r.id("sla_policy_id")?,
        active: r.flag("active")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        version: r.try_get("version")?,
    })
}

/// Services by category and name; `active_only` for what members may order.
pub async fn list_services(db: &Db, active_only: bool) -> Result<Vec<Service>> {
    let mut q = Sql::new("SELECT * FROM services");
    if active_only {
        q.push(" WHERE active = 1");
    }
    q.push(" ORDER BY category, name");
    q.fetch_all(&db.read).await?.iter().map(service).collect()
}

pub async fn get_service(db: &Db, id: ServiceId) -> Result<Service> {
    sqlx::query("SELECT * FROM services WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&db.read)
        .await?
        .as_ref()
        .map(service)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

fn service_conflict(e: sqlx::Error) -> StoreError {
    match StoreError::on_unique(e, "slug", "slug", "is already the slug of a service") {
        StoreError::Db(e) => {
            StoreError::on_unique(e, "name", "name", "is already the name of a service")
        }
        other => other,
    }
}

async fn check_refs(db: &Db, d: &ServiceDraft) -> Result<()> {
    get_policy(db, d.sla_policy_id).await.map_err(|e| match e {
        StoreError::NotFound => StoreError::Invalid(domain::Invalid::one(
            "sla_policy_id",
            "is not an SLA policy",
        )),
        e => e,
    })?;
    if let Some(t) = d.owner_team_id {
        let found = sqlx::query("SELECT 1 AS one FROM teams WHERE id = $1")
            .bind(t.to_string())
            .fetch_optional(&db.read)
            .await?;
        if found.is_none() {
            return Err(StoreError::Invalid(domain::Invalid::one(
                "owner_team_id",
                "is not a team",
            )));
        }
    }
    Ok(())
}

pub async fn create_service(db: &Db, actor: &Actor, d: &ServiceDraft) -> Result<Service> {
    check_refs(db, d).await?;
    let now = now_ms();
    let s = Service {
        id: ServiceId::new(),
        slug: d.slug.clone(),
        name: d.name.clone(),
        category: d.category.clone(),
        description: d.description.clone(),
        owner_team_id: d.owner_team_id,
        support_hours: d.support_hours.clone(),
        sla_policy_id: d.sla_policy_id,
        active: d.active,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO services (id, slug, name, category, description, owner_team_id, support_hours, sla_policy_id, active, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, 1)")
        .bind(s.id.to_string())
        .bind(&s.slug)
        .bind(&s.name)
        .bind(&s.category)
        .bind(&s.description)
        .bind(s.owner_team_id.map(|t| t.to_string()))
        .bind(&s.support_hours)
        .bind(s.sla_policy_id.to_string())
        .bind(i64::from(s.active))
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(service_conflict)?;
    log(
        &mut tx,
        actor,
        None,
        "service.create",
        ("service", s.id.to_string()),
        None,
        Some(to_json(&s)?),
    )
    .await?;
    tx.commit().await?;
    Ok(s)
}

pub async fn update_service(
    db: &Db,
    actor: &Actor,
    id: ServiceId,
    version: Option<i64>,
    d: &ServiceDraft,
) -> Result<Service> {
    let before = get_service(db, id).await?;
    if version.is_some_and(|v| v != before.version) {
        return Err(StoreError::Stale);
    }
    check_refs(db, d).await?;
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("UPDATE services SET slug = $1, name = $2, category = $3, description = $4, owner_team_id = $5, support_hours = $6, sla_policy_id = $7, active = $8, updated_at = $9, version = version + 1 WHERE id = $10 AND version = $11")
        .bind(&d.slug)
        .bind(&d.name)
        .bind(&d.category)
        .bind(&d.description)
        .bind(d.owner_team_id.map(|t| t.to_string()))
        .bind(&d.support_hours)
        .bind(d.sla_policy_id.to_string())
        .bind(i64::from(d.active))
        .bind(now)
        .bind(id.to_string())
        .bind(before.version)
        .execute(&mut *tx)
        .await
        .map_err(service_conflict)?
        .rows_affected();
    if n != 1 {
        return Err(StoreError::Stale);
    }
    let after = Service {
        slug: d.slug.clone(),
        name: d.name.clone(),
        category: d.category.clone(),
        description: d.description.clone(),
        owner_team_id: d.owner_team_id,
        support_hours: d.support_hours.clone(),
        sla_policy_id: d.sla_policy_id,
        active: d.active,
        updated_at: now,
        version: before.version + 1,
        ..before.clone()
    };
    log(
        &mut tx,
        actor,
        None,
        "service.update",
        ("service", id.to_string()),
        Some(to_json(&before)?),
        Some(to_json(&after)?),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

// ---------------------------------------------------------------------------------------------------
// Catalog items

/// Something a member can order, with the questions its request form asks.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct CatalogItem {
    pub id: CatalogItemId,
    pub service_id: ServiceId,
    pub name: String,
    pub description: String,
    pub form: Vec<FormField>,
    /// One-time cost to the member in cents; above zero, a member administrator approves before work starts.
    pub cost_cents: i64,
    pub active: bool,
    #[serde(serialize_with = "crate::tenancy::ser_ts")]
    pub created_at: i64,
    #[serde(serialize_with = "crate::tenancy::ser_ts")]
    pub updated_at: i64,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ItemDraft {
    pub service_id: ServiceId,
    pub name: String,
    pub description: String,
    pub form: Vec<FormField>,
    pub cost_cents: i64,
    pub active: bool,
}

impl CatalogItem {
    pub fn draft(&self) -> ItemDraft {
        ItemDraft {
            service_id: self.service_id,
            name: self.name.clone(),
            description: self.description.clone(),
            form: self.form.clone(),
            cost_cents: self.cost_cents,
            active: self.active,
        }
    }

    pub fn needs_approval(&self) -> bool {
        self.cost_cents > 0
    }
}

fn item(r: &AnyRow) -> Result<CatalogItem> {
    Ok(CatalogItem {
        id: r.id("id")?,
        service_id: r.id("service_id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        form: r.json("form")?,
        cost_cents: r.try_get("cost_cents")?,
        active: r.flag("active")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        version: r.try_get("version")?,
    })
}

pub async fn list_items(
    db: &Db,
    service: Option<ServiceId>,
    active_only: bool,
) -> Result<Vec<CatalogItem>> {
    let mut q = Sql::new(
        "SELECT i.* FROM catalog_items i JOIN services s ON s.id = i.service_id WHERE 1 = 1",
    );
    if let Some(s) = service {
        q.push(" AND i.service_id = ").bind(s.to_string());
    }
    if active_only {
        q.push(" AND i.active = 1 AND s.active = 1");
    }
    q.push(" ORDER BY s.category, s.name, i.name");
    q.fetch_all(&db.read).await?.iter().map(item).collect()
}

pub async fn get_item(db: &Db, id: CatalogItemId) -> Result<CatalogItem> {
    sqlx::query("SELECT * FROM catalog_items WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&db.read)
        .await?
        .as_ref()
        .map(item)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

fn item_conflict(e: sqlx::Error) -> StoreError {
    StoreError::on_unique(e, "name", "name", "is already an item of this service")
}

pub async fn create_item(db: &Db, actor: &Actor, d: &ItemDraft) -> Result<CatalogItem> {
    get_service(db, d.service_id).await.map_err(|e| match e {
        StoreError::NotFound => {
            StoreError::Invalid(domain::Invalid::one("service_id", "is not a service"))
        }
        e => e,
    })?;
    let now = now_ms();
    let i = CatalogItem {
        id: CatalogItemId::new(),
        service_id: d.service_id,
        name: d.name.clone(),
        description: d.description.clone(),
        form: d.form.clone(),
        cost_cents: d.cost_cents,
        active: d.active,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO catalog_items (id, service_id, name, description, form, cost_cents, active, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, 1)")
        .bind(i.id.to_string())
        .bind(i.service_id.to_string())
        .bind(&i.name)
        .bind(&i.description)
        .bind(serde_json::to_string(&i.form).map_err(corrupt)?)
        .bind(i.cost_cents)
        .bind(i64::from(i.active))
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(item_conflict)?;
    log(
        &mut tx,
        actor,
        None,
        "catalog_item.create",
        ("catalog_item", i.id.to_string()),
        None,
        Some(to_json(&i)?),
    )
    .await?;
    tx.commit().await?;
    Ok(i)
}

pub async fn update_item(
    db: &Db,
    actor: &Actor,
    id: CatalogItemId,
    version: Option<i64>,
    d: &ItemDraft,
) -> Result<CatalogItem> {
    let before = get_item(db, id).await?;
    if version.is_some_and(|v| v != before.version) {
        return Err(StoreError::Stale);
    }
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("UPDATE catalog_items SET name = $1, description = $2, form = $3, cost_cents = $4, active = $5, updated_at = $6, version = version + 1 WHERE id = $7 AND version = $8")
        .bind(&d.name)
        .bind(&d.description)
        .bind(serde_json::to_string(&d.form).map_err(corrupt)?)
        .bind(d.cost_cents)
        .bind(i64::from(d.active))
        .bind(now)
        .bind(id.to_string())
        .bind(before.version)
        .execute(&mut *tx)
        .await
        .map_err(item_conflict)?
        .rows_affected();
    if n != 1 {
        return Err(StoreError::Stale);
    }
    let after = CatalogItem {
        name: d.name.clone(),
        description: d.description.clone(),
        form: d.form.clone(),
        cost_cents: d.cost_cents,
        active: d.active,
        updated_at: now,
        version: before.version + 1,
        ..before.clone()
    };
    log(
        &mut tx,
        actor,
        None,
        "catalog_item.update",
        ("catalog_item", id.to_string()),
        Some(to_json(&before)?),
        Some(to_json(&after)?),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}
