//! Departments and sites of an organisation.

use crate::audit::{self, Actor, Change};
use crate::page::{Page, PageRequest};
use crate::row::Cols;
use crate::sql::Sql;
use crate::{Db, Result, Scope, StoreError, now_ms};
use domain::ids::{DepartmentId, OrgId, SiteId};
use domain::tenancy::SiteKind;
use domain::tenancy::drafts::SiteDraft;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Department {
    pub id: DepartmentId,
    pub org_id: OrgId,
    pub name: String,
    #[serde(serialize_with = "super::ser_ts")]
    pub created_at: i64,
    #[serde(serialize_with = "super::ser_ts")]
    pub updated_at: i64,
    pub version: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Site {
    pub id: SiteId,
    pub org_id: OrgId,
    pub name: String,
    pub address: String,
    pub kind: SiteKind,
    #[serde(serialize_with = "super::ser_ts")]
    pub created_at: i64,
    #[serde(serialize_with = "super::ser_ts")]
    pub updated_at: i64,
    pub version: i64,
}

fn json<T: Serialize>(v: &T) -> Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn department(r: &AnyRow) -> Result<Department> {
    Ok(Department {
        id: r.id("id")?,
        org_id: r.id("org_id")?,
        name: r.try_get("name")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        version: r.try_get("version")?,
    })
}

fn site(r: &AnyRow) -> Result<Site> {
    let kind: String = r.try_get("kind")?;
    Ok(Site {
        id: r.id("id")?,
        org_id: r.id("org_id")?,
        name: r.try_get("name")?,
        address: r.try_get("address")?,
        kind: SiteKind::parse(&kind).map_err(|e| StoreError::Corrupt(e.message))?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        version: r.try_get("version")?,
    })
}

/// Records a directory change in the audit log.
async fn log(
    tx: &mut Transaction<'_, Any>,
    actor: &Actor,
    org: OrgId,
    action: &str,
    entity: (&str, String),
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Result<()> {
    let (kind, id) = entity;
    audit::append(
        tx,
        actor,
        Change {
            org_id: Some(org),
            action,
            entity_kind: kind,
            entity_id: id,
            before,
            after,
        },
    )
    .await
    .map(|_| ())
}

/// Deletes one row of `table` if it is still at `version`, and records it, in one transaction.
async fn delete_versioned(
    db: &Db,
    actor: &Actor,
    table: &'static str,
    entity: (&str, String),
    org: OrgId,
    version: i64,
    before: serde_json::Value,
) -> Result<()> {
    let mut tx = db.begin_write().await?;
    let n = sqlx::query(&format!(
        "DELETE FROM {table} WHERE id = $1 AND version = $2"
    ))
    .bind(entity.1.clone())
    .bind(version)
    .execute(&mut *tx)
    .await
    .map_err(|e| {
        StoreError::on_in_use(
            e,
            "id",
            &format!(
                "this {} is still in use (people, tickets or configuration items refer to it): move them first",
                entity.0
            ),
        )
    })?
    .rows_affected();
    if n != 1 {
        return Err(StoreError::Stale);
    }
    let action = format!("{}.delete", entity.0);
    log(&mut tx, actor, org, &action, entity, Some(before), None).await?;
    tx.commit().await?;
    Ok(())
}

/// The departments of one organisation (which must be in scope), by name.
pub async fn list_departments(
    db: &Db,
    scope: &Scope,
    org: OrgId,
    page: &PageRequest,
) -> Result<Page<Department>> {
    let mut q = Sql::new("SELECT * FROM departments WHERE org_id = ");
    q.bind(org.to_string());
    q.scope("org_id", scope);
    if let Some(after) = &page.after {
        q.push(" AND name > ").bind(after.clone());
    }
    q.push(" ORDER BY name LIMIT ").bind(page.fetch());
    let items = q
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(department)
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(items, page, |d| d.name.clone()))
}

pub async fn get_department(db: &Db, scope: &Scope, id: DepartmentId) -> Result<Department> {
    let mut q = Sql::new("SELECT * FROM departments WHERE id = ");
    q.bind(id.to_string());
    q.scope("org_id", scope);
    q.fetch_optional(&db.read)
        .await?
        .as_ref()
        .map(department)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

pub async fn create_department(
    db: &Db,
    scope: &Scope,
    actor: &Actor,
    org: OrgId,
    name: &str,
) -> Result<Department> {
    if !scope.contains(org) {
        return Err(StoreError::NotFound);
    }
    let now = now_ms();
    let d = Department {
        id: DepartmentId::new(),
        org_id: org,
        name: name.to_owned(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO departments (id, org_id, name, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, 1)")
        .bind(d.id.to_string())
        .bind(org.to_string())
        .bind(&d.name)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::on_unique(e, "name", "name", "is already a department of this organisation"))?;
    log(
        &mut tx,
        actor,
        org,
        "department.create",
        ("department", d.id.to_string()),
        None,
        Some(json(&d)?),
    )
    .await?;
    tx.commit().await?;
    Ok(d)
}

pub async fn rename_department(
    db: &Db,
    scope: &Scope,
    actor: &Actor,
    id: DepartmentId,
    expected_version: Option<i64>,
    name: &str,
) -> Result<Department> {
    let before = get_department(db, scope, id).await?;
    if expected_version.is_some_and(|v| v != before.version) {
        return Err(StoreError::Stale);
    }
    let after = Department {
        name: name.to_owned(),
        updated_at: now_ms(),
        version: before.version + 1,
        ..before.clone()
    };
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("UPDATE departments SET name = $1, updated_at = $2, version = $3 WHERE id = $4 AND version = $5")
        .bind(&after.name)
        .bind(after.updated_at)
        .bind(after.version)
        .bind(id.to_string())
        .bind(before.version)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::on_unique(e, "name", "name", "is already a department of this organisation"))?
        .rows_affected();
    if n != 1 {
        return Err(StoreError::Stale);
    }
    log(
        &mut tx,
        actor,
        after.org_id,
        "department.update",
        ("department", id.to_string()),
        Some(json(&before)?),
        Some(json(&after)?),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

pub async fn delete_department(
    db: &Db,
    scope: &Scope,
    actor: &Actor,
    id: DepartmentId,
    expected_version: Option<i64>,
) -> Result<()> {
    let before = get_department(db, scope, id).await?;
    if expected_version.is_some_and(|v| v != before.version) {
        return Err(StoreError::Stale);
    }
    delete_versioned(
        db,
        actor,
        "departments",
        ("department", id.to_string()),
        before.org_id,
        before.version,
        json(&before)?,
    )
    .await
}

/// The sites of one organisation (which must be in scope), by name.
pub async fn list_sites(
    db: &Db,
    scope: &Scope,
    org: OrgId,
    page: &PageRequest,
) -> Result<Page<Site>> {
    let mut q = Sql::new("SELECT * FROM sites WHERE org_id = ");
    q.bind(org.to_string());
    q.scope("org_id", scope);
    if let Some(after) = &page.after {
        q.push(" AND name > ").bind(after.clone());
    }
    q.push(" ORDER BY name LIMIT ").bind(page.fetch());
    let items = q
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(site)
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(items, page, |s| s.name.clone()))
}

pub async fn get_site(db: &Db, scope: &Scope, id: SiteId) -> Result<Site> {
    let mut q = Sql::new("SELECT * FROM sites WHERE id = ");
    q.bind(id.to_string());
    q.scope("org_id", scope);
    q.fetch_optional(&db.read)
        .await?
        .as_ref()
        .map(site)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

pub async fn create_site(
    db: &Db,
    scope: &Scope,
    actor: &Actor,
    org: OrgId,
    d: &SiteDraft,
) -> Result<Site> {
    if !scope.contains(org) {
        return Err(StoreError::NotFound);
    }
    let now = now_ms();
    let s = Site {
        id: SiteId::new(),
        org_id: org,
        name: d.name.clone(),
        address: d.address.clone(),
        kind: d.kind,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO sites (id, org_id, name, address, kind, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, 1)")
        .bind(s.id.to_string())
        .bind(org.to_string())
        .bind(&s.name)
        .bind(&s.address)
        .bind(s.kind.as_str())
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::on_unique(e, "name", "name", "is already a site of this organisation"))?;
    log(
        &mut tx,
        actor,
        org,
        "site.create",
        ("site", s.id.to_string()),
        None,
        Some(json(&s)?),
    )
    .await?;
    tx.commit().await?;
    Ok(s)
}

pub async fn update_site(
    db: &Db,
    scope: &Scope,
    actor: &Actor,
    id: SiteId,
    expected_version: Option<i64>,
    d: &SiteDraft,
) -> Result<Site> {
    let before = get_site(db, scope, id).await?;
    if expected_version.is_some_and(|v| v != before.version) {
        return Err(StoreError::Stale);
    }
    let after = Site {
        name: d.name.clone(),
        address: d.address.clone(),
        kind: d.kind,
        updated_at: now_ms(),
        version: before.version + 1,
        ..before.clone()
    };
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("UPDATE sites SET name = $1, address = $2, kind = $3, updated_at = $4, version = $5 WHERE id = $6 AND version = $7")
        .bind(&after.name)
        .bind(&after.address)
        .bind(after.kind.as_str())
        .bind(after.updated_at)
        .bind(after.version)
        .bind(id.to_string())
        .bind(before.version)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::on_unique(e, "name", "name", "is already a site of this organisation"))?
        .rows_affected();
    if n != 1 {
        return Err(StoreError::Stale);
    }
    log(
        &mut tx,
        actor,
        after.org_id,
        "site.update",
        ("site", id.to_string()),
        Some(json(&before)?),
        Some(json(&after)?),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

pub async fn delete_site(
    db: &Db,
    scope: &Scope,
    actor: &Actor,
    id: SiteId,
    expected_version: Option<i64>,
) -> Result<()> {
    let before = get_site(db, scope, id).await?;
    if expected_version.is_some_and(|v| v != before.version) {
        return Err(StoreError::Stale);
    }
    delete_versioned(
        db,
        actor,
        "sites",
        ("site", id.to_string()),
        before.org_id,
        before.version,
        json(&before)?,
    )
    .await
}

/// How many departments, sites and people an organisation has (zero outside the scope).
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub departments: i64,
    pub sites: i64,
    pub users: i64,
}

pub async fn counts(db: &Db, scope: &Scope, org: OrgId) -> Result<Counts> {
    if !scope.contains(org) {
        return Ok(Counts::default());
    }
    let r = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM departments WHERE org_id = $1) AS d, (SELECT COUNT(*) FROM sites WHERE org_id = $1) AS s, \
         (SELECT COUNT(*) FROM users WHERE org_id = $1) AS u",
    )
    .bind(org.to_string())
    .fetch_one(&db.read)
    .await?;
    Ok(Counts {
        departments: r.try_get("d")?,
        sites: r.try_get("s")?,
        users: r.try_get("u")?,
    })
}
