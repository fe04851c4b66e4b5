//! Cost pools.

use super::*;

/// One cost of a service in a fiscal year.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Cost {
    pub id: String,
    pub service_id: ServiceId,
    pub service_name: String,
    pub fiscal_year: i16,
    pub category: CostCategory,
    pub description: String,
    pub amount_cents: i64,
    pub version: i64,
}

/// A cost as checked by the web layer.
#[derive(Debug, Clone, PartialEq)]
pub struct CostDraft {
    pub service_id: ServiceId,
    pub fiscal_year: i16,
    pub category: CostCategory,
    pub description: String,
    pub amount_cents: i64,
}

fn cost(r: &AnyRow) -> Result<Cost> {
    Ok(Cost {
        id: r.try_get("id")?,
        service_id: r.id("service_id")?,
        service_name: r.try_get("service_name")?,
        fiscal_year: fy_i16(r, "fiscal_year")?,
        category: CostCategory::parse(&r.try_get::<String, _>("category")?)
            .map_err(|e| corrupt(e.message))?,
        description: r.try_get("description")?,
        amount_cents: r.try_get("amount_cents")?,
        version: r.try_get("version")?,
    })
}

const COSTS: &str =
    "SELECT p.*, s.name AS service_name FROM cost_pools p JOIN services s ON s.id = p.service_id";

/// The costs of a fiscal year (or of every year), by service, category and description.
pub async fn costs(db: &Db, fy: Option<i16>) -> Result<Vec<Cost>> {
    let mut q = Sql::new(&format!("{COSTS} WHERE 1 = 1"));
    if let Some(fy) = fy {
        q.push(" AND p.fiscal_year = ").bind(i64::from(fy));
    }
    q.push(" ORDER BY p.fiscal_year DESC, s.name, p.category, p.description, p.id");
    q.fetch_all(&db.read).await?.iter().map(cost).collect()
}

pub async fn cost_entry(db: &Db, id: &str) -> Result<Cost> {
    sqlx::query(&format!("{COSTS} WHERE p.id = $1"))
        .bind(id)
        .fetch_optional(&db.read)
        .await?
        .as_ref()
        .map(cost)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

pub async fn add_cost(db: &Db, actor: &Actor, d: &CostDraft) -> Result<Cost> {
    let service_name = service_name(db, d.service_id).await?;
    let id = uuid::Uuid::now_v7().to_string();
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO cost_pools (id, service_id, fiscal_year, category, description, amount_cents, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 1)")
        .bind(&id)
        .bind(d.service_id.to_string())
        .bind(i64::from(d.fiscal_year))
        .bind(d.category.as_str())
        .bind(&d.description)
        .bind(d.amount_cents)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let c = Cost {
        id: id.clone(),
        service_id: d.service_id,
        service_name,
        fiscal_year: d.fiscal_year,
        category: d.category,
        description: d.description.clone(),
        amount_cents: d.amount_cents,
        version: 1,
    };
    log(
        &mut tx,
        actor,
        None,
        "cost.create",
        ("cost", id),
        None,
        Some(to_json(&c)?),
    )
    .await?;
    tx.commit().await?;
    Ok(c)
}

/// Changes a cost; `version` (from `If-Match`) must be the one read, when given.
pub async fn update_cost(
    db: &Db,
    actor: &Actor,
    id: &str,
    version: Option<i64>,
    d: &CostDraft,
) -> Result<Cost> {
    let before = cost_entry(db, id).await?;
    if version.is_some_and(|v| v != before.version) {
        return Err(StoreError::Stale);
    }
    let service_name = service_name(db, d.service_id).await?;
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("UPDATE cost_pools SET service_id = $1, fiscal_year = $2, category = $3, description = $4, amount_cents = $5, updated_at = $6, version = version + 1 WHERE id = $7 AND version = $8")
        .bind(d.service_id.to_string())
        .bind(i64::from(d.fiscal_year))
        .bind(d.category.as_str())
        .bind(&d.description)
        .bind(d.amount_cents)
        .bind(now_ms())
        .bind(id)
        .bind(before.version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n != 1 {
        return Err(StoreError::Stale);
    }
    let after = Cost {
        id: id.to_owned(),
        service_id: d.service_id,
        service_name,
        fiscal_year: d.fiscal_year,
        category: d.category,
        description: d.description.clone(),
        amount_cents: d.amount_cents,
        version: before.version + 1,
    };
    log(
        &mut tx,
        actor,
        None,
        "cost.update",
        ("cost", id.to_owned()),
        Some(to_json(&before)?),
        Some(to_json(&after)?),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

pub async fn delete_cost(db: &Db, actor: &Actor, id: &str, version: Option<i64>) -> Result<()> {
    let before = cost_entry(db, id).await?;
    if version.is_some_and(|v| v != before.version) {
        return Err(StoreError::Stale);
    }
    let mut tx = db.begin_write().await?;
    sqlx::query("DELETE FROM cost_pools WHERE id = $1 AND version = $2")
        .bind(id)
        .bind(before.version)
        .execute(&mut *tx)
        .await?;
    log(
        &mut tx,
        actor,
        None,
        "cost.delete",
        ("cost", id.to_owned()),
        Some(to_json(&before)?),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
