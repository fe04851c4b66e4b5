//! Standalone benchmarks.

use super::*;

/// What a member of a size band would pay a year to run a service alone, and where the figures come from.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Benchmark {
    pub id: String,
    pub service_id: ServiceId,
    pub service_name: String,
    pub size_band: SizeBand,
    #[serde(flatten)]
    pub standalone: Standalone,
    pub annual_cents: i64,
    pub source: String,
    pub note: String,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BenchmarkDraft {
    pub service_id: ServiceId,
    pub size_band: SizeBand,
    pub standalone: Standalone,
    pub source: String,
    pub note: String,
}

fn benchmark(r: &AnyRow) -> Result<Benchmark> {
    let standalone = Standalone {
        staff_cents: r.try_get("staff_cents")?,
        licences_cents: r.try_get("licences_cents")?,
        hardware_cents: r.try_get("hardware_cents")?,
    };
    Ok(Benchmark {
        id: r.try_get("id")?,
        service_id: r.id("service_id")?,
        service_name: r.try_get("service_name")?,
        size_band: SizeBand::parse(&r.try_get::<String, _>("size_band")?)
            .map_err(|e| corrupt(e.message))?,
        annual_cents: standalone.annual_cents(),
        standalone,
        source: r.try_get("source")?,
        note: r.try_get("note")?,
        version: r.try_get("version")?,
    })
}

const BENCHMARKS: &str = "SELECT b.*, s.name AS service_name FROM standalone_benchmarks b JOIN services s ON s.id = b.service_id";

/// Every benchmark, by service and size band.
pub async fn benchmarks(db: &Db) -> Result<Vec<Benchmark>> {
    let mut all = sqlx::query(&format!("{BENCHMARKS} ORDER BY s.name, b.id"))
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(benchmark)
        .collect::<Result<Vec<_>>>()?;
    all.sort_by(|a, b| {
        (a.service_name.as_str(), a.size_band).cmp(&(b.service_name.as_str(), b.size_band))
    });
    Ok(all)
}

pub async fn benchmark_entry(db: &Db, id: &str) -> Result<Benchmark> {
    sqlx::query(&format!("{BENCHMARKS} WHERE b.id = $1"))
        .bind(id)
        .fetch_optional(&db.read)
        .await?
        .as_ref()
        .map(benchmark)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

fn band_taken(e: sqlx::Error) -> StoreError {
    StoreError::on_unique(
        e,
        "service_id",
        "size_band",
        "the service already has a benchmark for this size band; change that one",
    )
}

pub async fn add_benchmark(db: &Db, actor: &Actor, d: &BenchmarkDraft) -> Result<Benchmark> {
    let service_name = service_name(db, d.service_id).await?;
    let id = uuid::Uuid::now_v7().to_string();
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO standalone_benchmarks (id, service_id, size_band, staff_cents, licences_cents, hardware_cents, source, note, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, 1)")
        .bind(&id)
        .bind(d.service_id.to_string())
        .bind(d.size_band.as_str())
        .bind(d.standalone.staff_cents)
        .bind(d.standalone.licences_cents)
        .bind(d.standalone.hardware_cents)
        .bind(&d.source)
        .bind(&d.note)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(band_taken)?;
    let b = Benchmark {
        id: id.clone(),
        service_id: d.service_id,
        service_name,
        size_band: d.size_band,
        standalone: d.standalone,
        annual_cents: d.standalone.annual_cents(),
        source: d.source.clone(),
        note: d.note.clone(),
        version: 1,
    };
    log(
        &mut tx,
        actor,
        None,
        "benchmark.create",
        ("benchmark", id),
        None,
        Some(to_json(&b)?),
    )
    .await?;
    tx.commit().await?;
    Ok(b)
}

pub async fn update_benchmark(
    db: &Db,
    actor: &Actor,
    id: &str,
    version: Option<i64>,
    d: &BenchmarkDraft,
) -> Result<Benchmark> {
    let before = benchmark_entry(db, id).await?;
    if version.is_some_and(|v| v != before.version) {
        return Err(StoreError::Stale);
    }
    let service_name = service_name(db, d.service_id).await?;
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("UPDATE standalone_benchmarks SET service_id = $1, size_band = $2, staff_cents = $3, licences_cents = $4, hardware_cents = $5, source = $6, note = $7, updated_at = $8, version = version + 1 WHERE id = $9 AND version = $10")
        .bind(d.service_id.to_string())
        .bind(d.size_band.as_str())
        .bind(d.standalone.staff_cents)
        .bind(d.standalone.licences_cents)
        .bind(d.standalone.hardware_cents)
        .bind(&d.source)
        .bind(&d.note)
        .bind(now_ms())
        .bind(id)
        .bind(before.version)
        .execute(&mut *tx)
        .await
        .map_err(band_taken)?
        .rows_affected();
    if n != 1 {
        return Err(StoreError::Stale);
    }
    let after = Benchmark {
        id: id.to_owned(),
        service_id: d.service_id,
        service_name,
        size_band: d.size_band,
        standalone: d.standalone,
        annual_cents: d.standalone.annual_cents(),
        source: d.source.clone(),
        note: d.note.clone(),
        version: before.version + 1,
    };
    log(
        &mut tx,
        actor,
        None,
        "benchmark.update",
        ("benchmark", id.to_owned()),
        Some(to_json(&before)?),
        Some(to_json(&after)?),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}
