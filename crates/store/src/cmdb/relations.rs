//! Relationships.

use super::*;

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
pub(super) fn relation_summary(from: &str, kind: RelationKind, to: &str, removed: bool) -> String {
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
