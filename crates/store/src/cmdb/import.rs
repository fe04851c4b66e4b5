//! CSV import.

use super::*;

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
