//! An organisation's local closure days, beside the built-in holidays of its calendar.

use crate::audit::{self, Actor, Change};
use crate::{Db, Result, Scope, StoreError};
use domain::calendar::Closure;
use domain::ids::OrgId;
use sqlx::Row;

/// Closures of `org` (in scope) between two dates, by date.
pub async fn list(
    db: &Db,
    scope: &Scope,
    org: OrgId,
    from: jiff::civil::Date,
    to: jiff::civil::Date,
) -> Result<Vec<Closure>> {
    if !scope.contains(org) {
        return Err(StoreError::NotFound);
    }
    let rows = sqlx::query("SELECT date, name FROM org_closures WHERE org_id = $1 AND date >= $2 AND date <= $3 ORDER BY date")
        .bind(org.to_string())
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all(&db.read)
        .await?;
    rows.iter()
        .map(|r| {
            let date: String = r.try_get("date")?;
            Ok(Closure {
                date: date
                    .parse()
                    .map_err(|_| StoreError::Corrupt(format!("bad date {date:?}")))?,
                name: r.try_get("name")?,
            })
        })
        .collect()
}

pub async fn add(db: &Db, scope: &Scope, actor: &Actor, org: OrgId, c: &Closure) -> Result<()> {
    if !scope.contains(org) {
        return Err(StoreError::NotFound);
    }
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO org_closures (org_id, date, name) VALUES ($1, $2, $3)")
        .bind(org.to_string())
        .bind(c.date.to_string())
        .bind(&c.name)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            StoreError::on_unique(e, "org_closures", "date", "is already a closure day")
        })?;
    audit::append(
        &mut tx,
        actor,
        Change {
            org_id: Some(org),
            action: "closure.create",
            entity_kind: "closure",
            entity_id: format!("{org}/{}", c.date),
            before: None,
            after: Some(serde_json::json!({ "date": c.date.to_string(), "name": c.name })),
        },
    )
    .await?;
    crate::jobs::sla_recompute_in(&mut tx, org).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn remove(
    db: &Db,
    scope: &Scope,
    actor: &Actor,
    org: OrgId,
    date: jiff::civil::Date,
) -> Result<()> {
    if !scope.contains(org) {
        return Err(StoreError::NotFound);
    }
    let mut tx = db.begin_write().await?;
    let row =
        sqlx::query("DELETE FROM org_closures WHERE org_id = $1 AND date = $2 RETURNING name")
            .bind(org.to_string())
            .bind(date.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
    let name: String = row.try_get("name")?;
    audit::append(
        &mut tx,
        actor,
        Change {
            org_id: Some(org),
            action: "closure.delete",
            entity_kind: "closure",
            entity_id: format!("{org}/{date}"),
            before: Some(serde_json::json!({ "date": date.to_string(), "name": name })),
            after: None,
        },
    )
    .await?;
    crate::jobs::sla_recompute_in(&mut tx, org).await?;
    tx.commit().await?;
    Ok(())
}
