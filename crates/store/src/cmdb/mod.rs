//! The CMDB: configuration items, their relationships and history, impact analysis, and the tickets about
//! an item. An item belongs to a member or to the hub. A member sees its own items and the hub's (the
//! regional infrastructure its items run on) and changes only its own; another member's item is "not
//! found". The rules of types, attributes and the impact walk are in `domain::cmdb`.

use crate::row::Cols;
use std::collections::{BTreeMap, BTreeSet};

use crate::audit::Actor;
use crate::desk::catalog::{log, to_json};
use crate::page::{Page, PageRequest};
use crate::sql::{Like, Sql};
use crate::{Db, Result, Scope, StoreError, now_ms, parse_id};
use domain::cmdb::{CiStatus, CiType, Edge, Reached, RelationKind, impact};
use domain::ids::{CiId, DepartmentId, OrgId};
use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

mod history;
mod impact;
mod import;
mod relations;
mod tickets;
pub use history::*;
pub use impact::*;
pub use import::*;
pub use relations::*;
pub use tickets::*;

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Ci {
    pub id: CiId,
    pub org_id: OrgId,
    pub org_name: String,
    pub department_id: Option<DepartmentId>,
    pub department_name: Option<String>,
    pub ci_type: CiType,
    pub name: String,
    pub status: CiStatus,
    pub attributes: Map<String, Value>,
    #[serde(serialize_with = "crate::tenancy::ser_ts")]
    pub created_at: i64,
    #[serde(serialize_with = "crate::tenancy::ser_ts")]
    pub updated_at: i64,
    pub version: i64,
}

/// An item as checked by the web layer (attributes already checked against the type).
#[derive(Debug, Clone, PartialEq)]
pub struct CiDraft {
    pub org_id: OrgId,
    pub department_id: Option<DepartmentId>,
    pub ci_type: CiType,
    pub name: String,
    pub status: CiStatus,
    pub attributes: Map<String, Value>,
}

/// Filters of the item list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub org: Option<OrgId>,
    pub ci_type: Option<CiType>,
    pub status: Option<CiStatus>,
    /// Part of the name.
    pub q: Option<String>,
}

const SELECT: &str = "SELECT c.*, o.name AS org_name, d.name AS department_name FROM cis c \
     JOIN orgs o ON o.id = c.org_id LEFT JOIN departments d ON d.id = c.department_id";

fn ci(r: &AnyRow) -> Result<Ci> {
    let attributes: Value = r.json("attributes")?;
    Ok(Ci {
        id: r.id("id")?,
        org_id: r.id("org_id")?,
        org_name: r.try_get("org_name")?,
        department_id: r
            .try_get::<Option<String>, _>("department_id")?
            .map(|d| parse_id(&d))
            .transpose()?,
        department_name: r.try_get("department_name")?,
        ci_type: CiType::parse(&r.try_get::<String, _>("ci_type")?)
            .map_err(|e| corrupt(e.message))?,
        name: r.try_get("name")?,
        status: CiStatus::parse(&r.try_get::<String, _>("status")?)
            .map_err(|e| corrupt(e.message))?,
        attributes: attributes.as_object().cloned().unwrap_or_default(),
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        version: r.try_get("version")?,
    })
}

/// ` AND (<column> in scope OR <column> is the hub)`: what a scope may read.
pub(crate) fn visible(q: &mut Sql, column: &str, scope: &Scope) {
    if matches!(scope, Scope::Region) {
        return;
    }
    q.push(" AND (");
    q.scope_cond(column, scope);
    q.push(" OR ")
        .push(column)
        .push(" IN (SELECT id FROM orgs WHERE is_hub = 1))");
}

/// Items the scope may read, by name.
pub async fn list(db: &Db, scope: &Scope, f: &Filter, page: &PageRequest) -> Result<Page<Ci>> {
    let mut q = Sql::new(&format!("{SELECT} WHERE 1 = 1"));
    visible(&mut q, "c.org_id", scope);
    if let Some(o) = f.org {
        q.push(" AND c.org_id = ").bind(o.to_string());
    }
    if let Some(t) = f.ci_type {
        q.push(" AND c.ci_type = ").bind(t.as_str());
    }
    if let Some(s) = f.status {
        q.push(" AND c.status = ").bind(s.as_str());
    }
    if let Some(text) = f.q.as_deref().filter(|t| !t.is_empty()) {
        q.push(" AND ");
        q.like("LOWER(c.name)", &text.to_lowercase(), Like::Anywhere);
    }
    if let Some(after) = &page.after {
        q.after_cursor("c.name", "c.id", after)?;
    }
    q.push(" ORDER BY c.name, c.id LIMIT ").bind(page.fetch());
    let rows = q
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(ci)
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(rows, page, |c| {
        format!("{}|{}", c.name, c.id)
    }))
}

/// One item the scope may read.
pub async fn get(db: &Db, scope: &Scope, id: CiId) -> Result<Ci> {
    let mut q = Sql::new(&format!("{SELECT} WHERE c.id = "));
    q.bind(id.to_string());
    visible(&mut q, "c.org_id", scope);
    q.fetch_optional(&db.read)
        .await?
        .as_ref()
        .map(ci)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

/// One item the scope may change: its own (a hub item seen by a member is read-only: "not allowed").
async fn get_own(db: &Db, read: &Scope, manage: &Scope, id: CiId) -> Result<Ci> {
    let c = get(db, read, id).await?;
    if manage.contains(c.org_id) {
        Ok(c)
    } else {
        Err(StoreError::Forbidden)
    }
}

async fn event(
    tx: &mut Transaction<'_, Any>,
    actor: &Actor,
    c: &Ci,
    action: &str,
    summary: &str,
    before: Option<Value>,
    after: Option<Value>,
) -> Result<()> {
    let text = |v: &Option<Value>| v.as_ref().map(Value::to_string);
    sqlx::query("INSERT INTO ci_events (id, ci_id, at, actor_name, summary, before, after) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(c.id.to_string())
        .bind(now_ms())
        .bind(actor.label.clone())
        .bind(summary)
        .bind(text(&before))
        .bind(text(&after))
        .execute(&mut **tx)
        .await?;
    log(
        tx,
        actor,
        Some(c.org_id),
        action,
        ("ci", c.id.to_string()),
        before,
        after,
    )
    .await
}

fn name_taken(e: sqlx::Error) -> StoreError {
    StoreError::on_unique(
        e,
        "name",
        "name",
        "the organisation already has an item of this type with this name",
    )
}

/// Checks that a department belongs to the item's organisation.
async fn check_department(db: &Db, d: &CiDraft) -> Result<Option<String>> {
    let Some(dep) = d.department_id else {
        return Ok(None);
    };
    match sqlx::query("SELECT name FROM departments WHERE id = $1 AND org_id = $2")
        .bind(dep.to_string())
        .bind(d.org_id.to_string())
        .fetch_optional(&db.read)
        .await?
    {
        Some(r) => Ok(Some(r.try_get("name")?)),
        None => Err(domain::Invalid::one(
            "department_id",
            "is not a department of the item's organisation",
        )
        .into()),
    }
}

/// Records an item for an organisation in `manage`.
pub async fn create(db: &Db, manage: &Scope, actor: &Actor, d: &CiDraft) -> Result<Ci> {
    if !manage.contains(d.org_id) {
        return Err(
            domain::Invalid::one("org", "is not an organisation you can record items for").into(),
        );
    }
    let department_name = check_department(db, d).await?;
    let org_name: String = sqlx::query("SELECT name FROM orgs WHERE id = $1")
        .bind(d.org_id.to_string())
        .fetch_one(&db.read)
        .await?
        .try_get("name")?;
    let now = now_ms();
    let c = Ci {
        id: CiId::new(),
        org_id: d.org_id,
        org_name,
        department_id: d.department_id,
        department_name,
        ci_type: d.ci_type,
        name: d.name.clone(),
        status: d.status,
        attributes: d.attributes.clone(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let mut tx = db.begin_write().await?;
    insert(&mut tx, &c).await?;
    event(
        &mut tx,
        actor,
        &c,
        "ci.create",
        "Recorded",
        None,
        Some(to_json(&c)?),
    )
    .await?;
    tx.commit().await?;
    Ok(c)
}

async fn insert(tx: &mut Transaction<'_, Any>, c: &Ci) -> Result<()> {
    sqlx::query("INSERT INTO cis (id, org_id, department_id, ci_type, name, status, attributes, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, 1)")
        .bind(c.id.to_string())
        .bind(c.org_id.to_string())
        .bind(c.department_id.map(|d| d.to_string()))
        .bind(c.ci_type.as_str())
        .bind(&c.name)
        .bind(c.status.as_str())
        .bind(Value::Object(c.attributes.clone()).to_string())
        .bind(c.created_at)
        .execute(&mut **tx)
        .await
        .map_err(name_taken)?;
    Ok(())
}

/// What changed between two versions of an item, for its history: "status: active → retired".
fn changes(a: &Ci, b: &Ci) -> String {
    let mut out = Vec::new();
    if a.name != b.name {
        out.push(format!("name: {} → {}", a.name, b.name));
    }
    if a.status != b.status {
        out.push(format!(
            "status: {} → {}",
            a.status.label(),
            b.status.label()
        ));
    }
    if a.ci_type != b.ci_type {
        out.push(format!(
            "type: {} → {}",
            a.ci_type.label(),
            b.ci_type.label()
        ));
    }
    if a.org_id != b.org_id {
        out.push(format!("owner: {} → {}", a.org_name, b.org_name));
    }
    if a.department_id != b.department_id {
        out.push(format!(
            "department: {} → {}",
            a.department_name.as_deref().unwrap_or("none"),
            b.department_name.as_deref().unwrap_or("none")
        ));
    }
    let keys: BTreeSet<&String> = a.attributes.keys().chain(b.attributes.keys()).collect();
    for k in keys {
        let (x, y) = (a.attributes.get(k), b.attributes.get(k));
        if x != y {
            let show = |v: Option<&Value>| match v {
                None => "none".to_owned(),
                Some(Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
            };
            out.push(format!("{k}: {} → {}", show(x), show(y)));
        }
    }
    if out.is_empty() {
        "No change".into()
    } else {
        out.join("; ")
    }
}

/// Changes an item of the manage scope; `version`, when given, must be the one read.
pub async fn update(
    db: &Db,
    read: &Scope,
    manage: &Scope,
    actor: &Actor,
    id: CiId,
    version: Option<i64>,
    d: &CiDraft,
) -> Result<Ci> {
    let before = get_own(db, read, manage, id).await?;
    if version.is_some_and(|v| v != before.version) {
        return Err(StoreError::Stale);
    }
    if !manage.contains(d.org_id) {
        return Err(
            domain::Invalid::one("org", "is not an organisation you can record items for").into(),
        );
    }
    let department_name = check_department(db, d).await?;
    let org_name: String = sqlx::query("SELECT name FROM orgs WHERE id = $1")
        .bind(d.org_id.to_string())
        .fetch_one(&db.read)
        .await?
        .try_get("name")?;
    let after = Ci {
        org_id: d.org_id,
        org_name,
        department_id: d.department_id,
        department_name,
        ci_type: d.ci_type,
        name: d.name.clone(),
        status: d.status,
        attributes: d.attributes.clone(),
        updated_at: now_ms(),
        version: before.version + 1,
        ..before.clone()
    };
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("UPDATE cis SET org_id = $1, department_id = $2, ci_type = $3, name = $4, status = $5, attributes = $6, updated_at = $7, version = version + 1 WHERE id = $8 AND version = $9")
        .bind(after.org_id.to_string())
        .bind(after.department_id.map(|d| d.to_string()))
        .bind(after.ci_type.as_str())
        .bind(&after.name)
        .bind(after.status.as_str())
        .bind(Value::Object(after.attributes.clone()).to_string())
        .bind(after.updated_at)
        .bind(id.to_string())
        .bind(before.version)
        .execute(&mut *tx)
        .await
        .map_err(name_taken)?
        .rows_affected();
    if n != 1 {
        return Err(StoreError::Stale);
    }
    event(
        &mut tx,
        actor,
        &after,
        "ci.update",
        &changes(&before, &after),
        Some(to_json(&before)?),
        Some(to_json(&after)?),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}
