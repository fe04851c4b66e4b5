//! The database-backed job queue: scheduled and queued work that survives restarts. A job is claimed with a
//! lease (`locked_until`); a server that dies mid-job loses the lease and another picks the job up. On
//! PostgreSQL several servers claim with `FOR UPDATE SKIP LOCKED`; SQLite has one writer, so a plain
//! `UPDATE … WHERE id = (SELECT …)` is already atomic. Jobs are idempotent: an optional dedupe key makes
//! enqueueing the same logical job twice a no-op (recurring jobs use one key per time slot).

use crate::{Backend, Db, Result, StoreError, now_ms};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Job {
    pub id: String,
    pub kind: String,
    pub dedupe_key: Option<String>,
    pub payload: serde_json::Value,
    pub run_at: i64,
    pub attempts: i64,
    pub max_attempts: i64,
    pub status: String,
    pub last_error: Option<String>,
}

fn job(r: &AnyRow) -> Result<Job> {
    let payload: String = r.try_get("payload")?;
    Ok(Job {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        dedupe_key: r.try_get("dedupe_key")?,
        payload: serde_json::from_str(&payload).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        run_at: r.try_get("run_at")?,
        attempts: r.try_get("attempts")?,
        max_attempts: r.try_get("max_attempts")?,
        status: r.try_get("status")?,
        last_error: r.try_get("last_error")?,
    })
}

/// Queues a job to run at `run_at`. Returns false when a job with the same dedupe key already exists.
pub async fn enqueue(
    db: &Db,
    kind: &str,
    payload: &serde_json::Value,
    run_at: i64,
    dedupe_key: Option<&str>,
) -> Result<bool> {
    let mut tx = db.write.begin().await?;
    let queued = enqueue_in(&mut tx, kind, payload, run_at, dedupe_key).await?;
    tx.commit().await?;
    Ok(queued)
}

/// Like [`enqueue`], inside the caller's transaction: the job exists exactly when the change that needs it
/// is committed.
pub async fn enqueue_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    kind: &str,
    payload: &serde_json::Value,
    run_at: i64,
    dedupe_key: Option<&str>,
) -> Result<bool> {
    let n = enqueue_sql(kind, payload, run_at, dedupe_key)
        .execute(&mut **tx)
        .await?;
    Ok(n == 1)
}

/// The statement [`enqueue_in`] runs (a job with a taken `dedupe_key` is left out), for batches.
pub(crate) fn enqueue_sql(
    kind: &str,
    payload: &serde_json::Value,
    run_at: i64,
    dedupe_key: Option<&str>,
) -> crate::sql::Sql {
    let mut q = crate::sql::Sql::new(
        "INSERT INTO jobs (id, kind, dedupe_key, payload, run_at, created_at) VALUES (",
    );
    q.bind(uuid::Uuid::now_v7().to_string())
        .push(", ")
        .bind(kind)
        .push(", ")
        .bind(dedupe_key.map(str::to_owned))
        .push(", ")
        .bind(payload.to_string())
        .push(", ")
        .bind(run_at)
        .push(", ")
        .bind(now_ms())
        .push(") ON CONFLICT (dedupe_key) DO NOTHING");
    q
}

/// Queues the recomputation of a member's open tickets' SLA after its calendar changed.
pub async fn sla_recompute_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    org: domain::ids::OrgId,
) -> Result<()> {
    let now = now_ms();
    enqueue_in(
        tx,
        "desk.sla_recompute",
        &serde_json::json!({ "org": org.to_string() }),
        now,
        Some(&format!("desk.sla_recompute:{org}:{now}")),
    )
    .await
    .map(|_| ())
}

/// Claims the next due job for `worker` with a lease of `lease_ms`, or `None` when nothing is due.
pub async fn claim(db: &Db, worker: &str, lease_ms: i64) -> Result<Option<Job>> {
    let now = now_ms();
    let lock = match db.backend() {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "UPDATE jobs SET status = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1 \
         WHERE id = (SELECT id FROM jobs WHERE (status = 'queued' AND run_at <= $3) \
           OR (status = 'running' AND locked_until < $3) ORDER BY run_at LIMIT 1{lock}) \
         RETURNING id, kind, dedupe_key, payload, run_at, attempts, max_attempts, status, last_error"
    );
    let row = sqlx::query(&sql)
        .bind(worker)
        .bind(now + lease_ms)
        .bind(now)
        .fetch_optional(&db.write)
        .await?;
    row.as_ref().map(job).transpose()
}

pub async fn complete(db: &Db, id: &str) -> Result<()> {
    sqlx::query("UPDATE jobs SET status = 'done', finished_at = $1, locked_by = NULL, locked_until = NULL WHERE id = $2")
        .bind(now_ms())
        .bind(id)
        .execute(&db.write)
        .await?;
    Ok(())
}

/// Records a failure: the job runs again after an exponential back-off, or is marked failed for good
/// after its last attempt.
pub async fn fail(db: &Db, job: &Job, error: &str) -> Result<()> {
    let now = now_ms();
    let exhausted = job.attempts >= job.max_attempts;
    let backoff = 1000_i64 << job.attempts.clamp(0, 16);
    sqlx::query("UPDATE jobs SET status = $1, last_error = $2, run_at = $3, locked_by = NULL, locked_until = NULL, finished_at = $4 WHERE id = $5")
        .bind(if exhausted { "failed" } else { "queued" })
        .bind(error.chars().take(2000).collect::<String>())
        .bind(now + backoff)
        .bind(exhausted.then_some(now))
        .bind(&job.id)
        .execute(&db.write)
        .await?;
    Ok(())
}

/// Jobs by status, newest first: for operators.
pub async fn list(db: &Db, status: Option<&str>, limit: i64) -> Result<Vec<Job>> {
    let rows = match status {
        Some(s) => {
            sqlx::query("SELECT * FROM jobs WHERE status = $1 ORDER BY run_at DESC LIMIT $2")
                .bind(s)
                .bind(limit)
                .fetch_all(&db.read)
                .await?
        }
        None => {
            sqlx::query("SELECT * FROM jobs ORDER BY run_at DESC LIMIT $1")
                .bind(limit)
                .fetch_all(&db.read)
                .await?
        }
    };
    rows.iter().map(job).collect()
}
