//! Organisations: the hub and its members, with their settings.

use crate::audit::{self, Actor, Change};
use crate::page::{Page, PageRequest};
use crate::row::Cols;
use crate::sql::{Like, Sql};
use crate::{Db, Result, Scope, StoreError, now_ms};
use domain::calendar::{HolidayRules, WeeklyHours};
use domain::ids::OrgId;
use domain::tenancy::drafts::OrgDraft;
use domain::tenancy::{OrgKind, OrgSlug};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Org {
    pub id: OrgId,
    pub slug: OrgSlug,
    pub name: String,
    pub kind: OrgKind,
    pub is_hub: bool,
    pub active: bool,
    pub county: Option<String>,
    pub population: Option<i64>,
    pub time_zone: String,
    pub fiscal_year_start_month: u8,
    pub business_hours: WeeklyHours,
    pub holiday_rules: HolidayRules,
    #[serde(serialize_with = "super::ser_ts")]
    pub created_at: i64,
    #[serde(serialize_with = "super::ser_ts")]
    pub updated_at: i64,
    pub version: i64,
}

impl Org {
    /// The editable part, to apply an edit on top of.
    pub fn draft(&self) -> OrgDraft {
        OrgDraft {
            slug: self.slug.clone(),
            name: self.name.clone(),
            kind: self.kind,
            county: self.county.clone(),
            population: self.population,
            time_zone: self.time_zone.clone(),
            fiscal_year_start_month: self.fiscal_year_start_month,
            business_hours: self.business_hours.clone(),
            holiday_rules: self.holiday_rules,
        }
    }
}

const COLUMNS: &str = "id, slug, name, kind, is_hub, active, county, population, time_zone, \
    fiscal_year_start_month, business_hours, holiday_rules, created_at, updated_at, version";

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn org(r: &AnyRow) -> Result<Org> {
    let slug: String = r.try_get("slug")?;
    let kind: String = r.try_get("kind")?;
    let hours: String = r.try_get("business_hours")?;
    let rules: String = r.try_get("holiday_rules")?;
    let fy: i64 = r.try_get("fiscal_year_start_month")?;
    Ok(Org {
        id: r.id("id")?,
        slug: OrgSlug::parse(&slug).map_err(|e| corrupt(e.message))?,
        name: r.try_get("name")?,
        kind: OrgKind::parse(&kind).map_err(|e| corrupt(e.message))?,
        is_hub: r.flag("is_hub")?,
        active: r.flag("active")?,
        county: r.try_get("county")?,
        population: r.try_get("population")?,
        time_zone: r.try_get("time_zone")?,
        fiscal_year_start_month: u8::try_from(fy).map_err(corrupt)?,
        business_hours: serde_json::from_str(&hours).map_err(corrupt)?,
        holiday_rules: serde_json::from_str(&rules).map_err(corrupt)?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        version: r.try_get("version")?,
    })
}

#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// Substring of the name or slug.
    pub q: Option<String>,
    pub kind: Option<OrgKind>,
    pub active: Option<bool>,
}

/// Organisations in scope, by slug.
pub async fn list(db: &Db, scope: &Scope, f: &Filter, page: &PageRequest) -> Result<Page<Org>> {
    let mut q = Sql::new(&format!("SELECT {COLUMNS} FROM orgs WHERE 1 = 1"));
    filter_and_page(&mut q, scope, f, page);
    let rows = q.fetch_all(&db.read).await?;
    let items = rows.iter().map(org).collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(items, page, |o| o.slug.to_string()))
}

fn filter_and_page(q: &mut Sql, scope: &Scope, f: &Filter, page: &PageRequest) {
    q.scope("id", scope);
    if let Some(text) = f.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let text = text.to_lowercase();
        q.push(" AND (")
            .like("LOWER(name)", &text, Like::Anywhere)
            .push(" OR ")
            .like("slug", &text, Like::Anywhere)
            .push(")");
    }
    if let Some(k) = f.kind {
        q.push(" AND kind = ").bind(k.as_str());
    }
    if let Some(a) = f.active {
        q.push(" AND active = ").bind(i64::from(a));
    }
    if let Some(after) = &page.after {
        q.push(" AND slug > ").bind(after.clone());
    }
    q.push(" ORDER BY slug LIMIT ").bind(page.fetch());
}

/// Like [`list`], but each organisation as the API's JSON document, served as stored from the directory in
/// memory (`tenancy::org_cache`): the API's hot path neither queries nor decodes.
pub async fn list_docs(
    db: &Db,
    scope: &Scope,
    f: &Filter,
    page: &PageRequest,
) -> Result<crate::page::DocPage> {
    super::org_cache::list_docs(db, scope, f, page).await
}

/// An organisation's id, slug and name: what a switcher or a picker shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgName {
    pub id: OrgId,
    pub slug: String,
    pub name: String,
}

/// Names of organisations in scope (only those in `only`, when given), hub first then by name, at most
/// `limit`: every page's header shows them, so they come from the directory in memory.
pub async fn names(
    db: &Db,
    scope: &Scope,
    only: Option<&[OrgId]>,
    limit: i64,
) -> Result<Vec<OrgName>> {
    super::org_cache::names(db, scope, only, limit).await
}

/// The id of the organisation `slug` if it is in scope (from the directory in memory): what a request that
/// names an organisation needs, without reading its record.
pub async fn id_by_slug(db: &Db, scope: &Scope, slug: &str) -> Result<OrgId> {
    super::org_cache::id_by_slug(db, scope, slug)
        .await?
        .ok_or(StoreError::NotFound)
}

pub async fn get_by_slug(db: &Db, scope: &Scope, slug: &str) -> Result<Org> {
    let mut q = Sql::new(&format!("SELECT {COLUMNS} FROM orgs WHERE slug = "));
    q.bind(slug.to_owned());
    q.scope("id", scope);
    q.fetch_optional(&db.read)
        .await?
        .as_ref()
        .map(org)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

pub async fn get(db: &Db, scope: &Scope, id: OrgId) -> Result<Org> {
    let mut q = Sql::new(&format!("SELECT {COLUMNS} FROM orgs WHERE id = "));
    q.bind(id.to_string());
    q.scope("id", scope);
    q.fetch_optional(&db.read)
        .await?
        .as_ref()
        .map(org)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

/// The hub, if the region has been set up.
pub async fn hub(db: &Db) -> Result<Option<Org>> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM orgs WHERE is_hub = 1"))
        .fetch_optional(&db.read)
        .await?;
    rows.as_ref().map(org).transpose()
}

pub async fn count(db: &Db) -> Result<i64> {
    Ok(sqlx::query("SELECT COUNT(*) AS n FROM orgs")
        .fetch_one(&db.read)
        .await?
        .try_get("n")?)
}

/// Creates the region and its hub: the first step of a new installation. Fails if a hub exists.
pub async fn create_region(
    db: &Db,
    actor: &Actor,
    region_name: &str,
    hub: &OrgDraft,
) -> Result<Org> {
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO region (id, name, created_at) VALUES (1, $1, $2)")
        .bind(region_name)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            StoreError::on_unique(e, "region", "region", "this database already has a region")
        })?;
    let mut hub = hub.clone();
    hub.kind = OrgKind::Hub;
    let created = insert(&mut tx, actor, &hub, true).await?;
    tx.commit().await?;
    db.orgs.invalidate();
    Ok(created)
}

pub async fn region_name(db: &Db) -> Result<Option<String>> {
    let row = sqlx::query("SELECT name FROM region WHERE id = 1")
        .fetch_optional(&db.read)
        .await?;
    Ok(row.map(|r| r.try_get("name")).transpose()?)
}

async fn insert(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    actor: &Actor,
    d: &OrgDraft,
    is_hub: bool,
) -> Result<Org> {
    let now = now_ms();
    let o = Org {
        id: OrgId::new(),
        slug: d.slug.clone(),
        name: d.name.clone(),
        kind: d.kind,
        is_hub,
        active: true,
        county: d.county.clone(),
        population: d.population,
        time_zone: d.time_zone.clone(),
        fiscal_year_start_month: d.fiscal_year_start_month,
        business_hours: d.business_hours.clone(),
        holiday_rules: d.holiday_rules,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    sqlx::query(&format!(
        "INSERT INTO orgs ({COLUMNS}, api_doc) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
    ))
    .bind(o.id.to_string())
    .bind(o.slug.to_string())
    .bind(&o.name)
    .bind(o.kind.as_str())
    .bind(i64::from(o.is_hub))
    .bind(i64::from(o.active))
    .bind(o.county.clone())
    .bind(o.population)
    .bind(&o.time_zone)
    .bind(i64::from(o.fiscal_year_start_month))
    .bind(serde_json::to_string(&o.business_hours).map_err(corrupt)?)
    .bind(serde_json::to_string(&o.holiday_rules).map_err(corrupt)?)
    .bind(o.created_at)
    .bind(o.updated_at)
    .bind(o.version)
    .bind(serde_json::to_string(&o).map_err(corrupt)?)
    .execute(&mut **tx)
    .await
    .map_err(|e| StoreError::on_unique(e, "slug", "slug", "is already used by another organisation"))?;
    audit::append(
        tx,
        actor,
        Change {
            org_id: Some(o.id),
            action: "org.create",
            entity_kind: "org",
            entity_id: o.id.to_string(),
            before: None,
            after: Some(serde_json::to_value(&o).map_err(corrupt)?),
        },
    )
    .await?;
    Ok(o)
}

/// Creates a member. Only a region-wide scope may (that is, hub administrators).
pub async fn create_member(db: &Db, scope: &Scope, actor: &Actor, d: &OrgDraft) -> Result<Org> {
    if *scope != Scope::Region {
        return Err(StoreError::Forbidden);
    }
    let mut tx = db.begin_write().await?;
    let o = insert(&mut tx, actor, d, false).await?;
    tx.commit().await?;
    db.orgs.invalidate();
    Ok(o)
}

/// Applies an edit if the row is still at `expected_version` (when given); returns the new row.
pub async fn update(
    db: &Db,
    scope: &Scope,
    actor: &Actor,
    slug: &str,
    expected_version: Option<i64>,
    edit: impl FnOnce(&Org) -> Result<OrgDraft>,
) -> Result<Org> {
    let mut tx = db.begin_write().await?;
    let before = load_for_update(&mut tx, scope, slug, expected_version).await?;
    let d = edit(&before)?;
    let after = Org {
        name: d.name,
        kind: d.kind,
        county: d.county,
        population: d.population,
        time_zone: d.time_zone,
        fiscal_year_start_month: d.fiscal_year_start_month,
        business_hours: d.business_hours,
        holiday_rules: d.holiday_rules,
        updated_at: now_ms(),
        version: before.version + 1,
        ..before.clone()
    };
    write_back(&mut tx, actor, &before, &after, "org.update").await?;
    if (
        &before.time_zone,
        &before.business_hours,
        &before.holiday_rules,
    ) != (
        &after.time_zone,
        &after.business_hours,
        &after.holiday_rules,
    ) {
        crate::jobs::sla_recompute_in(&mut tx, after.id).await?;
    }
    tx.commit().await?;
    db.orgs.invalidate();
    Ok(after)
}

/// Sets a hub-owned figure inside the caller's transaction (an accepted proposal): the organisation's row,
/// its API document and an `org.update` audit entry, as any edit. The caller invalidates the cache after
/// committing.
pub(crate) async fn set_hub_owned_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    actor: &Actor,
    slug: &str,
    field: domain::tenancy::proposals::Field,
    value: i64,
) -> Result<Org> {
    use domain::tenancy::proposals::Field;
    let before = load_for_update(tx, &Scope::Region, slug, None).await?;
    let mut after = Org {
        updated_at: now_ms(),
        version: before.version + 1,
        ..before.clone()
    };
    match field {
        Field::Population => after.population = Some(value),
    }
    write_back(tx, actor, &before, &after, "org.update").await?;
    Ok(after)
}

/// Deactivates or reactivates a member (the hub cannot be deactivated).
pub async fn set_active(
    db: &Db,
    scope: &Scope,
    actor: &Actor,
    slug: &str,
    expected_version: Option<i64>,
    active: bool,
) -> Result<Org> {
    let mut tx = db.begin_write().await?;
    let before = load_for_update(&mut tx, scope, slug, expected_version).await?;
    if before.is_hub && !active {
        return Err(domain::Invalid::one("active", "the hub cannot be deactivated").into());
    }
    let after = Org {
        active,
        updated_at: now_ms(),
        version: before.version + 1,
        ..before.clone()
    };
    write_back(
        &mut tx,
        actor,
        &before,
        &after,
        if active {
            "org.reactivate"
        } else {
            "org.deactivate"
        },
    )
    .await?;
    tx.commit().await?;
    db.orgs.invalidate();
    Ok(after)
}

/// Reads the organisation `slug` (in scope) inside the writing transaction and checks the caller's
/// `If-Match` version: the first step of every edit.
async fn load_for_update(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    scope: &Scope,
    slug: &str,
    expected_version: Option<i64>,
) -> Result<Org> {
    let mut q = Sql::new(&format!("SELECT {COLUMNS} FROM orgs WHERE slug = "));
    q.bind(slug.to_owned());
    q.scope("id", scope);
    let before = q
        .fetch_optional(&mut **tx)
        .await?
        .as_ref()
        .map(org)
        .transpose()?
        .ok_or(StoreError::NotFound)?;
    if expected_version.is_some_and(|v| v != before.version) {
        return Err(StoreError::Stale);
    }
    Ok(before)
}

async fn write_back(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    actor: &Actor,
    before: &Org,
    after: &Org,
    action: &str,
) -> Result<()> {
    let n = sqlx::query(
        "UPDATE orgs SET name = $1, kind = $2, county = $3, population = $4, time_zone = $5, \
         fiscal_year_start_month = $6, business_hours = $7, holiday_rules = $8, active = $9, updated_at = $10, \
         version = $11, api_doc = $14 WHERE id = $12 AND version = $13",
    )
    .bind(&after.name)
    .bind(after.kind.as_str())
    .bind(after.county.clone())
    .bind(after.population)
    .bind(&after.time_zone)
    .bind(i64::from(after.fiscal_year_start_month))
    .bind(serde_json::to_string(&after.business_hours).map_err(corrupt)?)
    .bind(serde_json::to_string(&after.holiday_rules).map_err(corrupt)?)
    .bind(i64::from(after.active))
    .bind(after.updated_at)
    .bind(after.version)
    .bind(after.id.to_string())
    .bind(before.version)
    .bind(serde_json::to_string(after).map_err(corrupt)?)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n != 1 {
        return Err(StoreError::Stale);
    }
    audit::append(
        tx,
        actor,
        Change {
            org_id: Some(after.id),
            action,
            entity_kind: "org",
            entity_id: after.id.to_string(),
            before: Some(serde_json::to_value(before).map_err(corrupt)?),
            after: Some(serde_json::to_value(after).map_err(corrupt)?),
        },
    )
    .await?;
    Ok(())
}
