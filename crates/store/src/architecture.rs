//! Enterprise architecture: the technology standards catalog and the radar, the principles, exception
//! requests (asked by a member for its own items, decided by the hub, reminded before they expire) and the
//! compliance list of items that use technologies on hold or to retire. Rules in `domain::architecture`.
//!
//! Standards and principles are the region's: everyone with `cmdb-read` reads them, the hub writes them. An
//! exception belongs to the member that asked; another member's is "not found".

use crate::row::Cols;
use std::collections::BTreeMap;

use crate::audit::Actor;
use crate::desk::catalog::{log, to_json};
use crate::sql::Sql;
use crate::{Db, Result, Scope, StoreError, now_ms, parse_id};
use domain::architecture::{Area, ExceptionStatus, Ring, Risk, in_force, reminder_due, uses};
use domain::ids::{CiId, OrgId, UserId};
use jiff::civil::Date;
use serde::Serialize;
use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn vocab<T>(r: &AnyRow, col: &str, parse: fn(&str) -> Result<T, domain::FieldError>) -> Result<T> {
    parse(&r.try_get::<String, _>(col)?).map_err(|e| corrupt(e.message))
}

fn opt_date(r: &AnyRow, col: &str) -> Result<Option<Date>> {
    r.try_get::<Option<String>, _>(col)?
        .map(|s| s.parse().map_err(corrupt))
        .transpose()
}

// ---------------------------------------------------------------------------------------------------
// Standards

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Standard {
    pub id: String,
    pub name: String,
    pub area: Area,
    pub ring: Ring,
    pub description: String,
    pub match_terms: Vec<String>,
    pub instead: String,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct StandardDraft {
    pub name: String,
    pub area: Option<Area>,
    pub ring: Option<Ring>,
    pub description: String,
    pub match_terms: Vec<String>,
    pub instead: String,
}

fn standard(r: &AnyRow) -> Result<Standard> {
    Ok(Standard {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        area: vocab(r, "area", Area::parse)?,
        ring: vocab(r, "ring", Ring::parse)?,
        description: r.try_get("description")?,
        match_terms: r.json("match_terms")?,
        instead: r.try_get("instead")?,
        version: r.try_get("version")?,
    })
}

/// Every standard, by quadrant, ring and name.
pub async fn standards(db: &Db) -> Result<Vec<Standard>> {
    let mut out: Vec<Standard> = sqlx::query("SELECT * FROM tech_standards")
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(standard)
        .collect::<Result<_>>()?;
    out.sort_by(|a, b| (a.area, a.ring, &a.name).cmp(&(b.area, b.ring, &b.name)));
    Ok(out)
}

pub async fn get_standard(db: &Db, id: &str) -> Result<Standard> {
    sqlx::query("SELECT * FROM tech_standards WHERE id = $1")
        .bind(id)
        .fetch_optional(&db.read)
        .await?
        .as_ref()
        .map(standard)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

fn name_taken(e: sqlx::Error) -> StoreError {
    StoreError::on_unique(e, "name", "name", "another standard has this name")
}

fn required<T: Copy>(v: Option<T>, field: &str) -> Result<T> {
    v.ok_or_else(|| domain::FieldError::new(field, "is required").into())
}

pub async fn create_standard(db: &Db, actor: &Actor, d: &StandardDraft) -> Result<Standard> {
    let (area, ring) = (required(d.area, "area")?, required(d.ring, "ring")?);
    let id = uuid::Uuid::now_v7().to_string();
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO tech_standards (id, name, area, ring, description, match_terms, instead, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, 1)")
        .bind(&id)
        .bind(&d.name)
        .bind(area.as_str())
        .bind(ring.as_str())
        .bind(&d.description)
        .bind(serde_json::to_string(&d.match_terms).map_err(corrupt)?)
        .bind(&d.instead)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(name_taken)?;
    let s = Standard {
        id: id.clone(),
        name: d.name.clone(),
        area,
        ring,
        description: d.description.clone(),
        match_terms: d.match_terms.clone(),
        instead: d.instead.clone(),
        version: 1,
    };
    log(
        &mut tx,
        actor,
        None,
        "standard.create",
        ("standard", id),
        None,
        Some(to_json(&s)?),
    )
    .await?;
    tx.commit().await?;
    Ok(s)
}

/// Changes a standard (its ring moves as the region's view of it changes); `version` from `If-Match`.
pub async fn update_standard(
    db: &Db,
    actor: &Actor,
    id: &str,
    version: Option<i64>,
    d: &StandardDraft,
) -> Result<Standard> {
    let before = get_standard(db, id).await?;
    if version.is_some_and(|v| v != before.version) {
        return Err(StoreError::Stale);
    }
    let after = Standard {
        id: id.to_owned(),
        name: d.name.clone(),
        area: d.area.unwrap_or(before.area),
        ring: d.ring.unwrap_or(before.ring),
        description: d.description.clone(),
        match_terms: d.match_terms.clone(),
        instead: d.instead.clone(),
        version: before.version + 1,
    };
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("UPDATE tech_standards SET name = $1, area = $2, ring = $3, description = $4, match_terms = $5, instead = $6, updated_at = $7, version = version + 1 WHERE id = $8 AND version = $9")
        .bind(&after.name)
        .bind(after.area.as_str())
        .bind(after.ring.as_str())
        .bind(&after.description)
        .bind(serde_json::to_string(&after.match_terms).map_err(corrupt)?)
        .bind(&after.instead)
        .bind(now_ms())
        .bind(id)
        .bind(before.version)
        .execute(&mut *tx)
        .await
        .map_err(name_taken)?
        .rows_affected();
    if n != 1 {
        return Err(StoreError::Stale);
    }
    log(
        &mut tx,
        actor,
        None,
        "standard.update",
        ("standard", id.to_owned()),
        Some(to_json(&before)?),
        Some(to_json(&after)?),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

// ---------------------------------------------------------------------------------------------------
// Principles

#[derive(Debug, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct Principle {
    pub id: String,
    pub title: String,
    pub statement: String,
    pub rationale: String,
    pub implications: String,
    pub version: i64,
}

fn principle(r: &AnyRow) -> Result<Principle> {
    Ok(Principle {
        id: r.try_get("id")?,
        title: r.try_get("title")?,
        statement: r.try_get("statement")?,
        rationale: r.try_get("rationale")?,
        implications: r.try_get("implications")?,
        version: r.try_get("version")?,
    })
}

/// The principles, in the order they were adopted.
pub async fn principles(db: &Db) -> Result<Vec<Principle>> {
    sqlx::query("SELECT * FROM architecture_principles ORDER BY created_at, id")
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(principle)
        .collect()
}

pub async fn add_principle(db: &Db, actor: &Actor, p: &Principle) -> Result<Principle> {
    let id = uuid::Uuid::now_v7().to_string();
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO architecture_principles (id, title, statement, rationale, implications, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $6, 1)")
        .bind(&id)
        .bind(&p.title)
        .bind(&p.statement)
        .bind(&p.rationale)
        .bind(&p.implications)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::on_unique(e, "title", "title", "another principle has this title"))?;
    let out = Principle {
        id: id.clone(),
        version: 1,
        ..p.clone()
    };
    log(
        &mut tx,
        actor,
        None,
        "principle.create",
        ("principle", id),
        None,
        Some(to_json(&out)?),
    )
    .await?;
    tx.commit().await?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------------------
// Exceptions

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Exception {
    pub id: String,
    pub org_id: OrgId,
    pub org_name: String,
    pub standard_id: String,
    pub standard_name: String,
    pub ring: Ring,
    pub ci_id: Option<CiId>,
    pub ci_name: Option<String>,
    pub title: String,
    pub reason: String,
    pub risk: Risk,
    pub mitigation: String,
    #[schemars(with = "Option<domain::schema::Day>")]
    pub requested_until: Option<Date>,
    pub status: ExceptionStatus,
    pub requested_by: String,
    #[serde(serialize_with = "crate::tenancy::ser_ts")]
    pub requested_at: i64,
    pub decided_by: Option<String>,
    pub decision_note: String,
    #[schemars(with = "Option<domain::schema::Day>")]
    pub expires_on: Option<Date>,
    pub reminders_sent: Vec<i32>,
    pub version: i64,
}

/// An exception request as checked by the web layer.
#[derive(Debug, Clone, PartialEq)]
pub struct ExceptionDraft {
    pub org_id: OrgId,
    pub standard_id: String,
    pub ci_id: Option<CiId>,
    pub title: String,
    pub reason: String,
    pub risk: Risk,
    pub mitigation: String,
    pub requested_until: Option<Date>,
}

const EXCEPTION: &str = "SELECT x.*, o.name AS org_name, s.name AS standard_name, s.ring, c.name AS ci_name, \
     u.email AS requester FROM architecture_exceptions x JOIN orgs o ON o.id = x.org_id \
     JOIN tech_standards s ON s.id = x.standard_id LEFT JOIN cis c ON c.id = x.ci_id \
     LEFT JOIN users u ON u.id = x.requested_by WHERE 1 = 1";

fn exception(r: &AnyRow) -> Result<Exception> {
    Ok(Exception {
        id: r.try_get("id")?,
        org_id: r.id("org_id")?,
        org_name: r.try_get("org_name")?,
        standard_id: r.try_get("standard_id")?,
        standard_name: r.try_get("standard_name")?,
        ring: vocab(r, "ring", Ring::parse)?,
        ci_id: r
            .try_get::<Option<String>, _>("ci_id")?
            .map(|s| parse_id(&s))
            .transpose()?,
        ci_name: r.try_get("ci_name")?,
        title: r.try_get("title")?,
        reason: r.try_get("reason")?,
        risk: vocab(r, "risk", Risk::parse)?,
        mitigation: r.try_get("mitigation")?,
        requested_until: opt_date(r, "requested_until")?,
        status: vocab(r, "status", ExceptionStatus::parse)?,
        requested_by: r
            .try_get::<Option<String>, _>("requester")?
            .unwrap_or_default(),
        requested_at: r.try_get("requested_at")?,
        decided_by: r.try_get("decided_by")?,
        decision_note: r.try_get("decision_note")?,
        expires_on: opt_date(r, "expires_on")?,
        reminders_sent: r.json("reminders_sent")?,
        version: r.try_get("version")?,
    })
}

/// The exceptions of the organisations in `scope`, newest first.
pub async fn exceptions(db: &Db, scope: &Scope) -> Result<Vec<Exception>> {
    let mut q = Sql::new(EXCEPTION);
    q.push(" AND ");
    q.scope_cond("x.org_id", scope);
    q.push(" ORDER BY x.requested_at DESC, x.id");
    q.fetch_all(&db.read).await?.iter().map(exception).collect()
}

pub async fn get_exception(db: &Db, scope: &Scope, id: &str) -> Result<Exception> {
    let mut q = Sql::new(&format!("{EXCEPTION} AND x.id = "));
    q.bind(id);
    q.push(" AND ");
    q.scope_cond("x.org_id", scope);
    q.fetch_optional(&db.read)
        .await?
        .as_ref()
        .map(exception)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

/// Asks for an exception for `d.org_id` (which must be in `manage`), about one of its items if named.
pub async fn request_exception(
    db: &Db,
    manage: &Scope,
    actor: &Actor,
    requester: UserId,
    d: &ExceptionDraft,
) -> Result<Exception> {
    if !manage.contains(d.org_id) {
        return Err(
            domain::FieldError::new("org", "is not an organisation you may ask for").into(),
        );
    }
    get_standard(db, &d.standard_id)
        .await
        .map_err(|_| domain::FieldError::new("standard_id", "is not a standard of the catalog"))?;
    if let Some(ci) = d.ci_id {
        let item = crate::cmdb::get(db, &Scope::org(d.org_id), ci).await.ok();
        if item.is_none_or(|c| c.org_id != d.org_id) {
            return Err(domain::FieldError::new(
                "ci_id",
                "must be an item of the organisation asking",
            )
            .into());
        }
    }
    let id = uuid::Uuid::now_v7().to_string();
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO architecture_exceptions (id, org_id, standard_id, ci_id, title, reason, risk, mitigation, requested_until, status, requested_by, requested_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'requested', $10, $11, 1)")
        .bind(&id)
        .bind(d.org_id.to_string())
        .bind(&d.standard_id)
        .bind(d.ci_id.map(|c| c.to_string()))
        .bind(&d.title)
        .bind(&d.reason)
        .bind(d.risk.as_str())
        .bind(&d.mitigation)
        .bind(d.requested_until.map(|x| x.to_string()))
        .bind(requester.to_string())
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    log(
        &mut tx,
        actor,
        Some(d.org_id),
        "exception.request",
        ("exception", id.clone()),
        None,
        Some(serde_json::json!({ "title": d.title, "standard_id": d.standard_id, "risk": d.risk })),
    )
    .await?;
    tx.commit().await?;
    get_exception(db, &Scope::Region, &id).await
}

/// The hub's decision on a request: approved until `expires_on`, or rejected; with a note.
pub async fn decide(
    db: &Db,
    actor: &Actor,
    id: &str,
    version: Option<i64>,
    status: ExceptionStatus,
    expires_on: Option<Date>,
    note: &str,
) -> Result<Exception> {
    let before = get_exception(db, &Scope::Region, id).await?;
    if version.is_some_and(|v| v != before.version) {
        return Err(StoreError::Stale);
    }
    if before.status != ExceptionStatus::Requested {
        return Err(StoreError::Conflict {
            field: "status".into(),
            message: format!(
                "the request is already {}",
                before.status.label().to_lowercase()
            ),
        });
    }
    transition(
        db,
        actor,
        &before,
        status,
        expires_on,
        Some(note),
        "exception.decide",
    )
    .await
}

/// The requester withdraws a request or an approved exception (the item no longer needs it).
pub async fn withdraw(db: &Db, manage: &Scope, actor: &Actor, id: &str) -> Result<Exception> {
    let before = get_exception(db, manage, id).await?;
    if !matches!(
        before.status,
        ExceptionStatus::Requested | ExceptionStatus::Approved
    ) {
        return Err(StoreError::Conflict {
            field: "status".into(),
            message: format!(
                "the request is already {}",
                before.status.label().to_lowercase()
            ),
        });
    }
    transition(
        db,
        actor,
        &before,
        ExceptionStatus::Withdrawn,
        before.expires_on,
        None,
        "exception.withdraw",
    )
    .await
}

async fn transition(
    db: &Db,
    actor: &Actor,
    before: &Exception,
    status: ExceptionStatus,
    expires_on: Option<Date>,
    note: Option<&str>,
    action: &str,
) -> Result<Exception> {
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("UPDATE architecture_exceptions SET status = $1, expires_on = $2, decided_by = COALESCE($3, decided_by), decided_at = COALESCE($4, decided_at), decision_note = COALESCE($5, decision_note), version = version + 1 WHERE id = $6 AND version = $7")
        .bind(status.as_str())
        .bind(expires_on.map(|d| d.to_string()))
        .bind(note.map(|_| actor.label.clone()))
        .bind(note.map(|_| now_ms()))
        .bind(note.map(str::to_owned))
        .bind(&before.id)
        .bind(before.version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n != 1 {
        return Err(StoreError::Stale);
    }
    log(
        &mut tx,
        actor,
        Some(before.org_id),
        action,
        ("exception", before.id.clone()),
        Some(serde_json::json!({ "status": before.status })),
        Some(serde_json::json!({ "status": status, "expires_on": expires_on, "note": note })),
    )
    .await?;
    tx.commit().await?;
    get_exception(db, &Scope::Region, &before.id).await
}

/// A reminder to send: the exception and how many days are left.
#[derive(Debug, Clone, PartialEq)]
pub struct Reminder {
    pub exception: Exception,
    pub days: i32,
    pub email: Option<String>,
}

/// Records the expiry reminders due on `today` (each threshold once) and returns them for sending.
pub async fn due_reminders(db: &Db, today: Date) -> Result<Vec<Reminder>> {
    let mut out = Vec::new();
    for x in exceptions(db, &Scope::Region).await? {
        let Some(ends) = x
            .expires_on
            .filter(|_| in_force(x.status, x.expires_on, today))
        else {
            continue;
        };
        let Some(days) = reminder_due(ends, today, &x.reminders_sent) else {
            continue;
        };
        let mut sent = x.reminders_sent.clone();
        sent.push(days);
        let mut tx = db.begin_write().await?;
        let n = sqlx::query("UPDATE architecture_exceptions SET reminders_sent = $1 WHERE id = $2 AND reminders_sent = $3")
            .bind(serde_json::to_string(&sent).map_err(corrupt)?)
            .bind(&x.id)
            .bind(serde_json::to_string(&x.reminders_sent).map_err(corrupt)?)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n != 1 {
            // Another server sent it.
            continue;
        }
        log(
            &mut tx,
            &Actor::system("architecture"),
            Some(x.org_id),
            "exception.reminder",
            ("exception", x.id.clone()),
            None,
            Some(serde_json::json!({ "days_left": days, "expires_on": ends })),
        )
        .await?;
        tx.commit().await?;
        let email = (!x.requested_by.is_empty()).then(|| x.requested_by.clone());
        out.push(Reminder {
            exception: Exception {
                reminders_sent: sent,
                ..x
            },
            days,
            email,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------------
// Compliance

/// An item that uses a technology on hold or to retire.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Finding {
    pub ci_id: CiId,
    pub ci_name: String,
    pub ci_type: domain::cmdb::CiType,
    pub org_id: OrgId,
    pub org_name: String,
    pub standard_id: String,
    pub standard_name: String,
    pub ring: Ring,
    pub instead: String,
    /// An approved exception in force for this item (or for the organisation, if it names no item).
    pub exception_id: Option<String>,
    #[schemars(with = "Option<domain::schema::Day>")]
    pub exception_expires_on: Option<Date>,
}

/// An exception in force: the item it names (none: the whole organisation), its id, its end.
type Cover = (Option<CiId>, String, Option<Date>);

/// The items `scope` may read (its own and the hub's, not retired) that use a standard on hold or to
/// retire, with the exception that covers each, if any. By standard, then organisation and item.
pub async fn compliance(db: &Db, scope: &Scope, today: Date) -> Result<Vec<Finding>> {
    let flagged: Vec<Standard> = standards(db)
        .await?
        .into_iter()
        .filter(|s| s.ring.needs_action() && !s.match_terms.is_empty())
        .collect();
    if flagged.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Sql::new(
        "SELECT c.id, c.name, c.ci_type, c.org_id, c.attributes, o.name AS org_name FROM cis c \
         JOIN orgs o ON o.id = c.org_id WHERE c.status <> 'retired'",
    );
    crate::cmdb::visible(&mut q, "c.org_id", scope);
    let rows = q.fetch_all(&db.read).await?;
    // Exceptions in force: by (org, standard) → [(item or none, id, expiry)].
    let mut covered: BTreeMap<(OrgId, String), Vec<Cover>> = BTreeMap::new();
    for x in exceptions(db, &Scope::Region).await? {
        if in_force(x.status, x.expires_on, today) {
            covered
                .entry((x.org_id, x.standard_id.clone()))
                .or_default()
                .push((x.ci_id, x.id.clone(), x.expires_on));
        }
    }
    let mut out = Vec::new();
    for r in &rows {
        let name: String = r.try_get("name")?;
        let attributes: Value = r.json("attributes")?;
        let mut texts: Vec<String> = vec![name.clone()];
        if let Some(map) = attributes.as_object() {
            texts.extend(map.values().filter_map(|v| v.as_str().map(str::to_owned)));
            // "vendor version" together, as standards name products with their versions.
            if let (Some(a), Some(b)) = (
                map.get("vendor").and_then(Value::as_str),
                map.get("version").and_then(Value::as_str),
            ) {
                texts.push(format!("{a} {b}"));
            }
            if let (Some(a), Some(b)) = (
                map.get("engine").and_then(Value::as_str),
                map.get("version").and_then(Value::as_str),
            ) {
                texts.push(format!("{a} {b}"));
            }
        }
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let ci_id: CiId = r.id("id")?;
        let org_id: OrgId = r.id("org_id")?;
        for s in &flagged {
            if !uses(&s.match_terms, &refs) {
                continue;
            }
            let exception = covered
                .get(&(org_id, s.id.clone()))
                .and_then(|xs| {
                    xs.iter()
                        .find(|(ci, _, _)| *ci == Some(ci_id))
                        .or_else(|| xs.iter().find(|(ci, _, _)| ci.is_none()))
                })
                .cloned();
            out.push(Finding {
                ci_id,
                ci_name: name.clone(),
                ci_type: domain::cmdb::CiType::parse(&r.try_get::<String, _>("ci_type")?)
                    .map_err(|e| corrupt(e.message))?,
                org_id,
                org_name: r.try_get("org_name")?,
                standard_id: s.id.clone(),
                standard_name: s.name.clone(),
                ring: s.ring,
                instead: s.instead.clone(),
                exception_id: exception.as_ref().map(|e| e.1.clone()),
                exception_expires_on: exception.and_then(|e| e.2),
            });
        }
    }
    out.sort_by(|a, b| {
        (b.ring, &a.standard_name, &a.org_name, &a.ci_name).cmp(&(
            a.ring,
            &b.standard_name,
            &b.org_name,
            &b.ci_name,
        ))
    });
    Ok(out)
}
