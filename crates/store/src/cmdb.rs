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

// ---------------------------------------------------------------------------------------------------------
// Relationships

/// A relationship as an item's page lists it: the other item, and which way it points.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Relation {
    pub id: String,
    pub from_ci: CiId,
    pub from_name: String,
    pub to_ci: CiId,
    pub to_name: String,
    pub kind: RelationKind,
}

fn relation(r: &AnyRow) -> Result<Relation> {
    Ok(Relation {
        id: r.try_get("id")?,
        from_ci: r.id("from_ci")?,
        from_name: r.try_get("from_name")?,
        to_ci: r.id("to_ci")?,
        to_name: r.try_get("to_name")?,
        kind: RelationKind::parse(&r.try_get::<String, _>("kind")?)
            .map_err(|e| corrupt(e.message))?,
    })
}

/// An item's relationships both ways, with only the other items the scope may read.
pub async fn relations(db: &Db, scope: &Scope, id: CiId) -> Result<Vec<Relation>> {
    get(db, scope, id).await?;
    let mut q = Sql::new(
        "SELECT r.id, r.from_ci, f.name AS from_name, r.to_ci, t.name AS to_name, r.kind \
         FROM ci_relations r JOIN cis f ON f.id = r.from_ci JOIN cis t ON t.id = r.to_ci \
         WHERE (r.from_ci = ",
    );
    q.bind(id.to_string())
        .push(" OR r.to_ci = ")
        .bind(id.to_string())
        .push(")");
    visible(&mut q, "f.org_id", scope);
    visible(&mut q, "t.org_id", scope);
    q.push(" ORDER BY r.kind, f.name, t.name");
    q.fetch_all(&db.read).await?.iter().map(relation).collect()
}

/// Relates an item of the manage scope to any item the scope may read ("our app runs on the hub's VM").
pub async fn relate(
    db: &Db,
    read: &Scope,
    manage: &Scope,
    actor: &Actor,
    from: CiId,
    kind: RelationKind,
    to: CiId,
) -> Result<Relation> {
    let f = get_own(db, read, manage, from).await?;
    let t = get(db, read, to).await.map_err(|e| match e {
        StoreError::NotFound => domain::Invalid::one("to_ci", "is not an item you can see").into(),
        e => e,
    })?;
    if from == to {
        return Err(domain::Invalid::one("to_ci", "is the item itself").into());
    }
    let r = Relation {
        id: uuid::Uuid::now_v7().to_string(),
        from_ci: from,
        from_name: f.name.clone(),
        to_ci: to,
        to_name: t.name.clone(),
        kind,
    };
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO ci_relations (id, from_ci, to_ci, kind, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&r.id)
        .bind(from.to_string())
        .bind(to.to_string())
        .bind(kind.as_str())
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            StoreError::on_unique(e, "from_ci", "to_ci", "the items are already related this way")
        })?;
    event(
        &mut tx,
        actor,
        &f,
        "ci.relate",
        &relation_summary(&f.name, kind, &format!("item {to}"), false),
        None,
        Some(relation_record(&r)),
    )
    .await?;
    tx.commit().await?;
    Ok(r)
}

/// What history and the audit log keep of a relationship (recorded on its `from` item): ids, and the name
/// of the `from` item only — never the other item's, which may be another organisation's ([`history`]
/// names it when read, within the reader's scope).
fn relation_record(r: &Relation) -> Value {
    serde_json::json!({ "id": r.id, "from_ci": r.from_ci, "from_name": r.from_name, "to_ci": r.to_ci, "kind": r.kind })
}

/// "payroll runs on vm-17", or "No longer: …".
fn relation_summary(from: &str, kind: RelationKind, to: &str, removed: bool) -> String {
    let s = format!("{from} {} {to}", kind.label());
    if removed {
        format!("No longer: {s}")
    } else {
        s
    }
}

/// Removes a relationship whose `from` item is in the manage scope.
pub async fn unrelate(
    db: &Db,
    read: &Scope,
    manage: &Scope,
    actor: &Actor,
    id: &str,
) -> Result<()> {
    let r = sqlx::query(
        "SELECT r.id, r.from_ci, f.name AS from_name, r.to_ci, t.name AS to_name, r.kind \
         FROM ci_relations r JOIN cis f ON f.id = r.from_ci JOIN cis t ON t.id = r.to_ci WHERE r.id = $1",
    )
    .bind(id)
    .fetch_optional(&db.read)
    .await?
    .as_ref()
    .map(relation)
    .transpose()?
    .ok_or(StoreError::NotFound)?;
    let f = get_own(db, read, manage, r.from_ci).await?;
    let mut tx = db.begin_write().await?;
    sqlx::query("DELETE FROM ci_relations WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    event(
        &mut tx,
        actor,
        &f,
        "ci.unrelate",
        &relation_summary(&r.from_name, r.kind, &format!("item {}", r.to_ci), true),
        Some(relation_record(&r)),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Impact analysis

/// One affected item, as impact analysis reports it.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Affected {
    pub id: CiId,
    pub name: String,
    pub ci_type: CiType,
    pub org_id: OrgId,
    pub org_name: String,
    pub depth: u32,
    /// The item it depends on, one step closer to the failing one.
    pub via: CiId,
    pub kind: RelationKind,
}

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Impact {
    pub ci: Ci,
    pub depth: u32,
    /// Every affected item the scope may read, nearest first (a tree through `via`).
    pub affected: Vec<Affected>,
    /// The affected business services and applications, and members, by name.
    pub services: Vec<String>,
    pub applications: Vec<String>,
    pub members: Vec<String>,
}

/// What stops working when `id` does: every item that runs on, depends on, is located at or is connected
/// to it, directly or through others, up to `depth` steps. The walk follows every relationship (an outage
/// does not stop at a tenancy boundary); the answer names only what the scope may read.
pub async fn impact_of(db: &Db, scope: &Scope, id: CiId, depth: u32) -> Result<Impact> {
    let root = get(db, scope, id).await?;
    let (reached, info) = walk(db, id, depth).await?;
    // What the scope may read: its own organisations' items and the hub's.
    let hub = crate::tenancy::orgs::hub(db).await?.map(|h| h.id);
    let org_names: BTreeMap<String, String> = sqlx::query("SELECT id, name FROM orgs")
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("name")?)))
        .collect::<Result<_>>()?;
    let mut affected = Vec::with_capacity(reached.len());
    for r in reached {
        let Some((name, ci_type, org)) = info.get(&r.id) else {
            continue;
        };
        let org_id: OrgId = parse_id(org)?;
        if !(scope.contains(org_id) || Some(org_id) == hub) {
            continue;
        }
        affected.push(Affected {
            id: parse_id(&r.id)?,
            name: name.clone(),
            ci_type: *ci_type,
            org_id,
            org_name: org_names.get(org).cloned().unwrap_or_default(),
            depth: r.depth,
            via: parse_id(&r.via)?,
            kind: r.kind,
        });
    }
    let named = |t: CiType| -> Vec<String> {
        affected
            .iter()
            .filter(|a| a.ci_type == t)
            .map(|a| a.name.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let services = named(CiType::BusinessService);
    let applications = named(CiType::Application);
    let members: Vec<String> = std::iter::once(root.org_name.clone())
        .chain(affected.iter().map(|a| a.org_name.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    Ok(Impact {
        ci: root,
        depth,
        affected,
        services,
        applications,
        members,
    })
}

/// Name, type and owner of an item reached by the walk.
type Info = (String, CiType, String);

/// The walk itself: one indexed query per level (`to_ci IN frontier`, the frontier in chunks), which
/// returns each dependent once — with one of the items it depends on (`via`, the least id: deterministic)
/// and its own name, type and owner — so that rows stay one per item reached. Relationships that carry no
/// outage (backups) are left out by the query.
async fn walk(
    db: &Db,
    root: CiId,
    depth: u32,
) -> Result<(Vec<Reached<String>>, BTreeMap<String, Info>)> {
    let mut levels: Vec<Vec<Edge<String>>> = Vec::new();
    let mut info: BTreeMap<String, Info> = BTreeMap::new();
    let mut frontier = vec![root.to_string()];
    let mut seen: BTreeSet<String> = [root.to_string()].into();
    for _ in 0..depth {
        if frontier.is_empty() {
            break;
        }
        let mut edges = Vec::new();
        // The frontier goes as one JSON array and the level comes back as one JSON document: hundreds of
        // bound values made SQLite's parameter lookup, and a row per dependent sqlx's per-row hand-off, the
        // bulk of the work.
        let sql = match db.backend() {
            crate::Backend::Sqlite => {
                "SELECT json_group_array(json_array(from_ci, via, name, ci_type, org_id)) AS doc FROM ( \
                 SELECT r.from_ci, MIN(r.to_ci || ' ' || r.kind) AS via, c.name, c.ci_type, c.org_id \
                 FROM ci_relations r JOIN cis c ON c.id = r.from_ci \
                 WHERE r.kind <> 'backs_up_to' AND r.to_ci IN (SELECT value FROM json_each($1)) \
                 GROUP BY r.from_ci, c.name, c.ci_type, c.org_id)"
            }
            crate::Backend::Postgres => {
                "SELECT COALESCE(json_agg(json_build_array(from_ci, via, name, ci_type, org_id)), '[]'::json)::text AS doc FROM ( \
                 SELECT r.from_ci, MIN(r.to_ci || ' ' || r.kind) AS via, c.name, c.ci_type, c.org_id \
                 FROM ci_relations r JOIN cis c ON c.id = r.from_ci \
                 WHERE r.kind <> 'backs_up_to' AND r.to_ci IN (SELECT jsonb_array_elements_text($1::jsonb)) \
                 GROUP BY r.from_ci, c.name, c.ci_type, c.org_id) AS level"
            }
        };
        for chunk in frontier.chunks(5_000) {
            let doc = serde_json::to_string(chunk).map_err(corrupt)?;
            let row = sqlx::query(sql).bind(doc).fetch_one(&db.read).await?;
            let rows: Vec<(String, String, String, String, String)> = row.json("doc")?;
            for (from, via, name, ci_type, org_id) in rows {
                let (to, kind) = via.split_once(' ').ok_or_else(|| corrupt("relationship"))?;
                let kind = RelationKind::parse(kind).map_err(|e| corrupt(e.message))?;
                info.entry(from.clone()).or_insert((
                    name,
                    CiType::parse(&ci_type).map_err(|e| corrupt(e.message))?,
                    org_id,
                ));
                edges.push(Edge {
                    from,
                    to: to.to_owned(),
                    kind,
                });
            }
        }
        // The same dependent may come through two chunks: keep its first edge.
        edges.sort_by(|a, b| (&a.from, &a.to).cmp(&(&b.from, &b.to)));
        edges.dedup_by(|a, b| a.from == b.from);
        frontier = edges
            .iter()
            .filter(|e| seen.insert(e.from.clone()))
            .map(|e| e.from.clone())
            .collect();
        levels.push(edges);
    }
    let mut level = 0;
    let reached = impact(&root.to_string(), depth, |_| {
        let edges = levels.get(level).cloned().unwrap_or_default();
        level += 1;
        edges
    });
    Ok((reached, info))
}

// ---------------------------------------------------------------------------------------------------------
// History and tickets

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct CiEvent {
    #[serde(serialize_with = "crate::tenancy::ser_ts")]
    pub at: i64,
    pub actor_name: String,
    pub summary: String,
}

/// An item's history, newest first. A relationship or a ticket link is described when read, from the ids
/// it keeps: the other item or ticket is named only when the reader may read it (items by `scope`, tickets
/// by `view`), and otherwise by the words of `domain::authz::hidden` — so another member's item names, and
/// its ticket numbers and subjects, never reach a reader through an item they share (a hub item, or their
/// own item the hub related to another member's). Rows written before ids were kept (with the names in
/// their summary) are described the same way from the ids and numbers they also hold.
pub async fn history(
    db: &Db,
    scope: &Scope,
    view: Option<&domain::authz::TicketView>,
    id: CiId,
) -> Result<Vec<CiEvent>> {
    get(db, scope, id).await?;
    let rows = sqlx::query("SELECT at, actor_name, summary, before, after FROM ci_events WHERE ci_id = $1 ORDER BY at DESC, id DESC LIMIT 500")
        .bind(id.to_string())
        .fetch_all(&db.read)
        .await?;
    let mut events = Vec::with_capacity(rows.len());
    let mut ci_ids = BTreeSet::new();
    let mut ticket_keys = BTreeSet::new();
    for r in &rows {
        let json = |col: &str| -> Result<Option<Value>> {
            r.try_get::<Option<String>, _>(col)?
                .map(|s| serde_json::from_str(&s).map_err(corrupt))
                .transpose()
        };
        let (before, after) = (json("before")?, json("after")?);
        let removed = after.is_none();
        let reference = match after.or(before) {
            Some(Value::Object(m)) => Ref::of(&m),
            _ => None,
        };
        match &reference {
            Some(Ref::Relation { from, to, .. }) => {
                ci_ids.insert(from.clone());
                ci_ids.insert(to.clone());
            }
            Some(Ref::Ticket(k)) => {
                ticket_keys.insert(k.clone());
            }
            None => {}
        }
        events.push((
            CiEvent {
                at: r.try_get("at")?,
                actor_name: r.try_get("actor_name")?,
                summary: r.try_get("summary")?,
            },
            reference,
            removed,
        ));
    }
    let names = crate::refs::cis(db, scope, &ci_ids.into_iter().collect::<Vec<_>>()).await?;
    let seen = crate::refs::tickets(db, view, &ticket_keys.into_iter().collect::<Vec<_>>()).await?;
    Ok(events
        .into_iter()
        .map(|(mut e, reference, removed)| {
            match reference {
                Some(Ref::Relation { from, to, kind }) => {
                    e.summary = relation_summary(
                        &crate::refs::ci_label(&names, &from),
                        kind,
                        &crate::refs::ci_label(&names, &to),
                        removed,
                    );
                }
                Some(Ref::Ticket(k)) => {
                    let what = match seen.get(&k) {
                        Some(crate::refs::SeenTicket::Visible { number, subject }) => {
                            format!("ticket #{number}: {subject}")
                        }
                        Some(crate::refs::SeenTicket::Hidden(w)) => (*w).to_owned(),
                        None => domain::authz::hidden::TICKET.to_owned(),
                    };
                    e.summary = if removed {
                        format!("No longer linked to {what}")
                    } else {
                        format!("Linked to {what}")
                    };
                }
                None => {}
            }
            e
        })
        .collect())
}

/// What a history row refers to besides its own item.
enum Ref {
    Relation {
        from: String,
        to: String,
        kind: RelationKind,
    },
    Ticket(crate::refs::TicketKey),
}

impl Ref {
    fn of(m: &Map<String, Value>) -> Option<Self> {
        if let (Some(Value::String(from)), Some(Value::String(to)), Some(Value::String(kind))) =
            (m.get("from_ci"), m.get("to_ci"), m.get("kind"))
        {
            return Some(Self::Relation {
                from: from.clone(),
                to: to.clone(),
                kind: RelationKind::parse(kind).ok()?,
            });
        }
        if m.keys().all(|k| k == "ticket_id" || k == "ticket")
            && let Some(v) = m.get("ticket_id").or_else(|| m.get("ticket"))
        {
            return crate::refs::TicketKey::from_json(v).map(Self::Ticket);
        }
        None
    }
}

// ---------------------------------------------------------------------------------------------------------
// CSV import

/// One row of an import, checked by the web layer (the organisation in the manage scope, the attributes
/// checked against the type).
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRow {
    /// The row's line in the file, for errors.
    pub line: usize,
    pub org_id: OrgId,
    pub ci_type: CiType,
    pub name: String,
    pub status: CiStatus,
    pub attributes: Map<String, Value>,
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub struct ImportReport {
    pub dry_run: bool,
    pub rows: usize,
    /// New items.
    pub created: usize,
    /// Items found by owner, type and name, whose status or attributes the file changed.
    pub updated: usize,
    /// Items found and already as the file says.
    pub unchanged: usize,
}

fn insert_many_sql(backend: crate::Backend) -> &'static str {
    match backend {
        crate::Backend::Sqlite => {
            "INSERT INTO cis (id, org_id, department_id, ci_type, name, status, attributes, created_at, updated_at, version) \
             SELECT value ->> 0, value ->> 1, NULL, value ->> 2, value ->> 3, value ->> 4, value ->> 5, $2, $2, 1 \
             FROM json_each($1)"
        }
        crate::Backend::Postgres => {
            "INSERT INTO cis (id, org_id, department_id, ci_type, name, status, attributes, created_at, updated_at, version) \
             SELECT r ->> 0, r ->> 1, NULL, r ->> 2, r ->> 3, r ->> 4, r ->> 5, $2, $2, 1 \
             FROM jsonb_array_elements($1::jsonb) AS r"
        }
    }
}

fn update_many_sql(backend: crate::Backend) -> &'static str {
    match backend {
        crate::Backend::Sqlite => {
            "UPDATE cis SET status = j.value ->> 1, attributes = j.value ->> 2, updated_at = $2, version = cis.version + 1 \
             FROM json_each($1) AS j WHERE cis.id = j.value ->> 0"
        }
        crate::Backend::Postgres => {
            "UPDATE cis SET status = r ->> 1, attributes = r ->> 2, updated_at = $2, version = cis.version + 1 \
             FROM jsonb_array_elements($1::jsonb) AS r WHERE cis.id = r ->> 0"
        }
    }
}

fn events_many_sql(backend: crate::Backend) -> &'static str {
    match backend {
        crate::Backend::Sqlite => {
            "INSERT INTO ci_events (id, ci_id, at, actor_name, summary, before, after) \
             SELECT value ->> 0, value ->> 1, $2, $3, value ->> 2, NULL, NULL FROM json_each($1)"
        }
        crate::Backend::Postgres => {
            "INSERT INTO ci_events (id, ci_id, at, actor_name, summary, before, after) \
             SELECT r ->> 0, r ->> 1, $2, $3, r ->> 2, NULL, NULL FROM jsonb_array_elements($1::jsonb) AS r"
        }
    }
}

/// Imports rows all or nothing: an item found by owner, type and name takes the row's status and attributes;
/// any other is created. A row naming the same item as an earlier row is an error (`row N.name`). A dry run
/// does everything in a transaction it then rolls back, so its counts are exact. One audit entry tells
/// the import; each item's history tells its part.
pub async fn import(
    db: &Db,
    manage: &Scope,
    actor: &Actor,
    rows: &[ImportRow],
    dry_run: bool,
) -> Result<ImportReport> {
    let mut errors = Vec::new();
    for r in rows {
        if !manage.contains(r.org_id) {
            errors.push(domain::FieldError::new(
                format!("row {}.org", r.line),
                "is not an organisation you can record items for",
            ));
        }
    }
    let mut seen: BTreeMap<(OrgId, CiType, &str), usize> = BTreeMap::new();
    for r in rows {
        if let Some(first) = seen.insert((r.org_id, r.ci_type, r.name.as_str()), r.line) {
            errors.push(domain::FieldError::new(
                format!("row {}.name", r.line),
                format!("names the same item as row {first}"),
            ));
        }
    }
    if !errors.is_empty() {
        errors.truncate(200);
        return Err(domain::Invalid(errors).into());
    }
    // What exists already for the organisations of the file: (org, type, name) → (id, status, attributes).
    let orgs: BTreeSet<OrgId> = rows.iter().map(|r| r.org_id).collect();
    let mut existing: std::collections::HashMap<(OrgId, String, String), (String, String, String)> =
        Default::default();
    for org in &orgs {
        for r in
            sqlx::query("SELECT id, ci_type, name, status, attributes FROM cis WHERE org_id = $1")
                .bind(org.to_string())
                .fetch_all(&db.read)
                .await?
        {
            existing.insert(
                (*org, r.try_get("ci_type")?, r.try_get("name")?),
                (
                    r.try_get("id")?,
                    r.try_get("status")?,
                    r.try_get("attributes")?,
                ),
            );
        }
    }
    let mut report = ImportReport {
        dry_run,
        rows: rows.len(),
        ..ImportReport::default()
    };
    let (mut inserts, mut updates, mut events) = (Vec::new(), Vec::new(), Vec::new());
    for r in rows {
        let attributes = Value::Object(r.attributes.clone()).to_string();
        let key = (r.org_id, r.ci_type.as_str().to_owned(), r.name.clone());
        match existing.get(&key) {
            None => {
                let id = CiId::new().to_string();
                inserts.push(serde_json::json!([
                    id,
                    r.org_id.to_string(),
                    r.ci_type.as_str(),
                    r.name,
                    r.status.as_str(),
                    attributes
                ]));
                events.push(serde_json::json!([
                    uuid::Uuid::now_v7().to_string(),
                    id,
                    "Recorded by a CSV import"
                ]));
                report.created += 1;
            }
            Some((id, status, attrs)) => {
                let before: Value = serde_json::from_str(attrs).map_err(corrupt)?;
                if status == r.status.as_str() && before == Value::Object(r.attributes.clone()) {
                    report.unchanged += 1;
                    continue;
                }
                updates.push(serde_json::json!([id, r.status.as_str(), attributes]));
                events.push(serde_json::json!([
                    uuid::Uuid::now_v7().to_string(),
                    id,
                    "Changed by a CSV import"
                ]));
                report.updated += 1;
            }
        }
    }
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    for chunk in inserts.chunks(5_000) {
        sqlx::query(insert_many_sql(db.backend()))
            .bind(serde_json::to_string(chunk).map_err(corrupt)?)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(name_taken)?;
    }
    for chunk in updates.chunks(5_000) {
        sqlx::query(update_many_sql(db.backend()))
            .bind(serde_json::to_string(chunk).map_err(corrupt)?)
            .bind(now)
            .execute(&mut *tx)
            .await?;
    }
    for chunk in events.chunks(5_000) {
        sqlx::query(events_many_sql(db.backend()))
            .bind(serde_json::to_string(chunk).map_err(corrupt)?)
            .bind(now)
            .bind(actor.label.clone())
            .execute(&mut *tx)
            .await?;
    }
    log(
        &mut tx,
        actor,
        (orgs.len() == 1)
            .then(|| orgs.iter().next().copied())
            .flatten(),
        "ci.import",
        ("ci_import", now.to_string()),
        None,
        Some(to_json(&report)?),
    )
    .await?;
    if dry_run {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
    }
    Ok(report)
}

/// Every item of the scope (optionally of one type), for export: by owner, type and name. With `own_only`,
/// the scope's own items without the hub's — what its reader may import back.
pub async fn export(
    db: &Db,
    scope: &Scope,
    ci_type: Option<CiType>,
    own_only: bool,
) -> Result<Vec<(String, Ci)>> {
    let mut q = Sql::new(
        "SELECT c.*, o.name AS org_name, o.slug AS org_slug, d.name AS department_name FROM cis c \
         JOIN orgs o ON o.id = c.org_id LEFT JOIN departments d ON d.id = c.department_id WHERE 1 = 1",
    );
    if own_only {
        q.scope("c.org_id", scope);
    } else {
        visible(&mut q, "c.org_id", scope);
    }
    if let Some(t) = ci_type {
        q.push(" AND c.ci_type = ").bind(t.as_str());
    }
    q.push(" ORDER BY o.slug, c.ci_type, c.name, c.id");
    q.fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("org_slug")?, ci(r)?)))
        .collect()
}

/// Records many relationships at once (an import of a whole estate), one statement per 5,000; a pair
/// already related the same way is skipped. The items must exist; no history is written per item, one audit
/// entry tells the import.
pub async fn relate_many(
    db: &Db,
    actor: &Actor,
    edges: &[(CiId, RelationKind, CiId)],
) -> Result<usize> {
    let sql = match db.backend() {
        crate::Backend::Sqlite => {
            "INSERT INTO ci_relations (id, from_ci, to_ci, kind, created_at) \
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, $2 FROM json_each($1) WHERE true \
             ON CONFLICT (from_ci, to_ci, kind) DO NOTHING"
        }
        crate::Backend::Postgres => {
            "INSERT INTO ci_relations (id, from_ci, to_ci, kind, created_at) \
             SELECT r ->> 0, r ->> 1, r ->> 2, r ->> 3, $2 FROM jsonb_array_elements($1::jsonb) AS r \
             ON CONFLICT (from_ci, to_ci, kind) DO NOTHING"
        }
    };
    let now = now_ms();
    let mut added = 0;
    let mut tx = db.begin_write().await?;
    for chunk in edges.chunks(5_000) {
        let doc: Vec<Value> = chunk
            .iter()
            .map(|(f, k, t)| {
                serde_json::json!([
                    uuid::Uuid::now_v7().to_string(),
                    f.to_string(),
                    t.to_string(),
                    k.as_str()
                ])
            })
            .collect();
        added += sqlx::query(sql)
            .bind(serde_json::to_string(&doc).map_err(corrupt)?)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected() as usize;
    }
    log(
        &mut tx,
        actor,
        None,
        "ci.relate_many",
        ("ci_import", now.to_string()),
        None,
        Some(serde_json::json!({ "relationships": added })),
    )
    .await?;
    tx.commit().await?;
    Ok(added)
}

// ---------------------------------------------------------------------------------------------------------
// Tickets about an item

/// A ticket as an item's page lists it.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct TicketRef {
    pub number: i64,
    pub subject: String,
    pub status: String,
}

/// Links a ticket the view sees to an item of the ticket's organisation or of the hub.
pub async fn link_ticket(
    db: &Db,
    view: &domain::authz::TicketView,
    read: &Scope,
    actor: &Actor,
    number: i64,
    id: CiId,
) -> Result<Ci> {
    let t = crate::desk::tickets::get(db, view, number).await?;
    let c = get(db, read, id).await.map_err(|e| match e {
        StoreError::NotFound => domain::Invalid::one("ci_id", "is not an item you can see").into(),
        e => e,
    })?;
    let hub = crate::tenancy::orgs::hub(db).await?.map(|h| h.id);
    if c.org_id != t.org_id && Some(c.org_id) != hub {
        return Err(domain::Invalid::one(
            "ci_id",
            "belongs to another organisation than the ticket's",
        )
        .into());
    }
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("INSERT INTO ticket_cis (ticket_id, ci_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (ticket_id, ci_id) DO NOTHING")
        .bind(t.id.to_string())
        .bind(id.to_string())
        .bind(now_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 1 {
        event(
            &mut tx,
            actor,
            &c,
            "ci.ticket_link",
            &format!("Linked to ticket {}", t.id),
            None,
            Some(serde_json::json!({ "ticket_id": t.id, "ticket": number })),
        )
        .await?;
        // The ticket's own entry, in its organisation (the item may be the hub's).
        log(
            &mut tx,
            actor,
            Some(t.org_id),
            "ticket.ci_link",
            ("ticket", t.id.to_string()),
            None,
            Some(serde_json::json!({ "number": number, "ci_id": c.id })),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(c)
}

/// Unlinks an item from a ticket the view sees.
pub async fn unlink_ticket(
    db: &Db,
    view: &domain::authz::TicketView,
    read: &Scope,
    actor: &Actor,
    number: i64,
    id: CiId,
) -> Result<()> {
    let t = crate::desk::tickets::get(db, view, number).await?;
    let c = get(db, read, id).await?;
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("DELETE FROM ticket_cis WHERE ticket_id = $1 AND ci_id = $2")
        .bind(t.id.to_string())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    event(
        &mut tx,
        actor,
        &c,
        "ci.ticket_unlink",
        &format!("No longer linked to ticket {}", t.id),
        Some(serde_json::json!({ "ticket_id": t.id, "ticket": number })),
        None,
    )
    .await?;
    log(
        &mut tx,
        actor,
        Some(t.org_id),
        "ticket.ci_unlink",
        ("ticket", t.id.to_string()),
        Some(serde_json::json!({ "number": number, "ci_id": c.id })),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The items linked to a ticket the view sees (those the reader may see).
pub async fn ticket_items(
    db: &Db,
    view: &domain::authz::TicketView,
    read: &Scope,
    number: i64,
) -> Result<Vec<Ci>> {
    let t = crate::desk::tickets::get(db, view, number).await?;
    let mut q = Sql::new(&format!(
        "{SELECT} JOIN ticket_cis tc ON tc.ci_id = c.id WHERE tc.ticket_id = "
    ));
    q.bind(t.id.to_string());
    visible(&mut q, "c.org_id", read);
    q.push(" ORDER BY c.name");
    q.fetch_all(&db.read).await?.iter().map(ci).collect()
}

/// The open tickets about an item, that the view sees, newest first.
pub async fn open_tickets(
    db: &Db,
    view: &domain::authz::TicketView,
    id: CiId,
) -> Result<Vec<TicketRef>> {
    let mut q = Sql::new(
        "SELECT t.number, t.subject, t.status FROM tickets t JOIN ticket_cis tc ON tc.ticket_id = t.id \
         WHERE t.status NOT IN ('resolved', 'closed') AND tc.ci_id = ",
    );
    q.bind(id.to_string());
    q.ticket_view(view);
    q.push(" ORDER BY t.number DESC LIMIT 100");
    q.fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| {
            Ok(TicketRef {
                number: r.try_get("number")?,
                subject: r.try_get("subject")?,
                status: r.try_get("status")?,
            })
        })
        .collect()
}

/// Sets the status of many items of the manage scope at once (retiring a decommissioned site's devices),
/// all or nothing: an item the scope may not change fails the whole change. Each item's history records it.
pub async fn bulk_status(
    db: &Db,
    read: &Scope,
    manage: &Scope,
    actor: &Actor,
    ids: &[CiId],
    status: CiStatus,
) -> Result<usize> {
    let mut items = Vec::with_capacity(ids.len());
    // Another member's item is "not found", as everywhere; the hub's, seen by a member, "not allowed".
    for id in ids {
        items.push(get_own(db, read, manage, *id).await?);
    }
    let mut tx = db.begin_write().await?;
    let mut changed = 0;
    for before in items.iter().filter(|c| c.status != status) {
        sqlx::query(
            "UPDATE cis SET status = $1, updated_at = $2, version = version + 1 WHERE id = $3",
        )
        .bind(status.as_str())
        .bind(now_ms())
        .bind(before.id.to_string())
        .execute(&mut *tx)
        .await?;
        let after = Ci {
            status,
            version: before.version + 1,
            ..before.clone()
        };
        event(
            &mut tx,
            actor,
            &after,
            "ci.update",
            &format!("{} (bulk change)", changes(before, &after)),
            Some(to_json(before)?),
            Some(to_json(&after)?),
        )
        .await?;
        changed += 1;
    }
    tx.commit().await?;
    Ok(changed)
}
