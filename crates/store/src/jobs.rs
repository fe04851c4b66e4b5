//! The database-backed job queue: scheduled and queued work that survives restarts. A job is claimed with a
//! lease (`locked_until`); a server that dies mid-job loses the lease and another picks the job up. On
//! PostgreSQL several servers claim with `FOR UPDATE SKIP LOCKED`; SQLite has one writer, so a plain
//! `UPDATE … WHERE id = (SELECT …)` is already atomic. Jobs are idempotent: an optional dedupe key makes
//! enqueueing the same logical job twice a no-op (recurring jobs use one key per time slot).

use crate::{Backend, Db, Result, StoreError, now_ms};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
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
    let mut tx = db.begin_write().await?;
    let queued = enqueue_in(&mut tx, kind, payload, run_at, dedupe_key).await?;
    tx.commit().await?;
    if queued && run_at <= now_ms() {
        db.queued.notify_one();
    }
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

/// How many jobs one claim hands out at most: a burst of notifications drains in batches (one write
/// transaction per batch, not two per job), and the runner never holds more leases than it can run.
pub const BATCH: i64 = 64;

const RETURNING: &str =
    "RETURNING id, kind, dedupe_key, payload, run_at, attempts, max_attempts, status, last_error";

/// Claims the next due job for `worker` with a lease of `lease_ms`, or `None` when nothing is due: a job
/// whose lease expired first, else the oldest queued job that is due.
pub async fn claim(db: &Db, worker: &str, lease_ms: i64) -> Result<Option<Job>> {
    Ok(cycle(db, &[], worker, lease_ms, 1, true).await?.pop())
}

/// One step of a runner, in one write transaction: marks the jobs in `done` finished, and claims up to
/// `limit` due jobs for `worker` with a lease of `lease_ms` (oldest `run_at` first). With `expired`, jobs
/// whose lease ran out (their server died mid-job) are taken back first.
///
/// Each claim is one indexed range read whatever the queue's length: queued jobs by `run_at` and leased
/// jobs by `locked_until` are separate partial indexes (`jobs_queued`, `jobs_leased`), so neither query
/// sorts, and finished jobs are in neither.
pub async fn cycle(
    db: &Db,
    done: &[String],
    worker: &str,
    lease_ms: i64,
    limit: i64,
    expired: bool,
) -> Result<Vec<Job>> {
    // On SQLite, on the ticket writer's own connection when there is one, as a chore its holder runs
    // between two groups of openings: a claim never waits for a stream of openings to let the writer go
    // (waiting for its mutex, claims starved while requests kept taking it back).
    if let Some(d) = db.direct.clone() {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let (done, worker) = (done.to_vec(), worker.to_owned());
        d.add_chore(Box::new(move |conn| {
            let _ = reply.send(cycle_direct(conn, &done, &worker, lease_ms, limit, expired));
        }));
        let db2 = db.clone();
        // Leads if the writer is free; otherwise its holder runs the chore.
        tokio::task::spawn_blocking(move || {
            db2.openings.lead(&db2, &d, crate::direct::Lead::Blocking)
        });
        match answer.await {
            Ok(Ok(got)) => return Ok(oldest_first(got)),
            // Another writer (an import, a backup, sqlx) holds the database: wait for it through sqlx.
            Ok(Err(Claim::Busy)) => {}
            Ok(Err(Claim::Failed(e))) => return Err(e),
            Err(_) => return Err(StoreError::Corrupt("the job claim was dropped".into())),
        }
    }
    let mut tx = db.begin_write().await?;
    complete_in(&mut tx, done, Some(worker)).await?;
    let mut got = Vec::new();
    if expired && limit > 0 {
        got = claim_in(&mut tx, db.backend(), true, worker, lease_ms, limit).await?;
    }
    let left = limit - i64::try_from(got.len()).unwrap_or(limit);
    if left > 0 {
        got.extend(claim_in(&mut tx, db.backend(), false, worker, lease_ms, left).await?);
    }
    tx.commit().await?;
    Ok(oldest_first(got))
}

/// RETURNING gives no order: the oldest first.
fn oldest_first(mut got: Vec<Job>) -> Vec<Job> {
    got.sort_by(|a, b| a.run_at.cmp(&b.run_at).then_with(|| a.id.cmp(&b.id)));
    got
}

enum Claim {
    Busy,
    Failed(StoreError),
}

impl<E: Into<StoreError>> From<E> for Claim {
    fn from(e: E) -> Self {
        Self::Failed(e.into())
    }
}

/// [`cycle`] on the direct SQLite writer: the same statements, in one transaction.
fn cycle_direct(
    conn: &mut rusqlite::Connection,
    done: &[String],
    worker: &str,
    lease_ms: i64,
    limit: i64,
    expired: bool,
) -> std::result::Result<Vec<Job>, Claim> {
    let tx = match crate::direct::begin(conn) {
        Ok(tx) => tx,
        Err(crate::direct::BeginError::Busy(_)) => return Err(Claim::Busy),
        Err(crate::direct::BeginError::Other(e)) => return Err(e.into()),
    };
    for q in complete_sql(done, Some(worker)) {
        crate::direct::run(&tx, &q)?;
    }
    let now = now_ms();
    let mut got = Vec::new();
    if expired && limit > 0 {
        for r in crate::direct::run(
            &tx,
            &claim_sql(Backend::Sqlite, true, worker, lease_ms, now, limit),
        )? {
            got.push(job_direct(&r)?);
        }
    }
    let left = limit - i64::try_from(got.len()).unwrap_or(limit);
    if left > 0 {
        for r in crate::direct::run(
            &tx,
            &claim_sql(Backend::Sqlite, false, worker, lease_ms, now, left),
        )? {
            got.push(job_direct(&r)?);
        }
    }
    tx.commit()?;
    Ok(got)
}

fn job_direct(r: &crate::direct::Row) -> Result<Job> {
    use crate::direct::{int, opt_text, text};
    Ok(Job {
        id: text(r, 0)?,
        kind: text(r, 1)?,
        dedupe_key: opt_text(r, 2)?,
        payload: serde_json::from_str(&text(r, 3)?)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        run_at: int(r, 4)?,
        attempts: int(r, 5)?,
        max_attempts: int(r, 6)?,
        status: text(r, 7)?,
        last_error: opt_text(r, 8)?,
    })
}

/// The claim of up to `limit` jobs for `worker`: leases that ran out (`expired`), or queued jobs now due.
fn claim_sql(
    backend: Backend,
    expired: bool,
    worker: &str,
    lease_ms: i64,
    now: i64,
    limit: i64,
) -> crate::sql::Sql {
    let (set, pick) = if expired {
        (
            "",
            "status = 'running' AND locked_until < $3 ORDER BY locked_until",
        )
    } else {
        (
            "status = 'running', ",
            "status = 'queued' AND run_at <= $3 ORDER BY run_at",
        )
    };
    let mut q = crate::sql::Sql::new(&format!(
        "UPDATE jobs SET {set}locked_by = $1, locked_until = $2, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM jobs WHERE {pick} LIMIT $4{}) {RETURNING}",
        skip_locked(backend)
    ));
    q.arg(worker.to_owned())
        .arg(now + lease_ms)
        .arg(now)
        .arg(limit);
    q
}

fn skip_locked(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    }
}

/// Runs [`claim_sql`] in `tx`.
async fn claim_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    expired: bool,
    worker: &str,
    lease_ms: i64,
    limit: i64,
) -> Result<Vec<Job>> {
    let q = claim_sql(backend, expired, worker, lease_ms, now_ms(), limit);
    q.fetch_all(&mut **tx).await?.iter().map(job).collect()
}

/// Marks `ids` done; with `worker`, only those it still holds (a job whose lease another server took back
/// is that server's to finish).
async fn complete_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    ids: &[String],
    worker: Option<&str>,
) -> Result<()> {
    for q in complete_sql(ids, worker) {
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// The statements of [`complete_in`], 500 jobs each.
fn complete_sql(ids: &[String], worker: Option<&str>) -> Vec<crate::sql::Sql> {
    ids.chunks(500)
        .map(|chunk| {
            let mut q = crate::sql::Sql::new("UPDATE jobs SET status = 'done', finished_at = ");
            q.bind(now_ms())
                .push(", locked_by = NULL, locked_until = NULL WHERE status = 'running'");
            if let Some(w) = worker {
                q.push(" AND locked_by = ").bind(w.to_owned());
            }
            q.push(" AND id IN (");
            for (i, id) in chunk.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.bind(id.clone());
            }
            q.push(")");
            q
        })
        .collect()
}

pub async fn complete(db: &Db, id: &str) -> Result<()> {
    let mut tx = db.begin_write().await?;
    complete_in(&mut tx, &[id.to_owned()], None).await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes jobs that finished (done or failed for good) before `before` (epoch ms), in chunks so the writer
/// is never held long; returns how many went. Job ids are UUIDv7, whose text sorts by creation time, so
/// the candidates are one range of the primary key — no index on `finished_at` to keep up on every job.
/// A job created before `before` but finished after it stays until a later purge.
pub async fn purge(db: &Db, before: i64) -> Result<u64> {
    const CHUNK: i64 = 5_000;
    let bound = v7_floor(before);
    let mut removed = 0;
    loop {
        let n = sqlx::query(
            "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE id < $1 \
               AND status IN ('done', 'failed') AND finished_at < $2 LIMIT $3)",
        )
        .bind(&bound)
        .bind(before)
        .bind(CHUNK)
        .execute(&db.write)
        .await?
        .rows_affected();
        removed += n;
        if i64::try_from(n).unwrap_or(0) < CHUNK {
            return Ok(removed);
        }
        // Let waiting writers in between chunks.
        tokio::task::yield_now().await;
    }
}

/// The smallest UUIDv7 text of an instant (epoch ms): every id made at or after it sorts at or above it.
fn v7_floor(ms: i64) -> String {
    let ms = u64::try_from(ms.max(0)).unwrap_or(0) & 0xFFFF_FFFF_FFFF;
    format!(
        "{:08x}-{:04x}-7000-8000-000000000000",
        ms >> 16,
        ms & 0xFFFF
    )
}

/// The queue as operators watch it: due jobs per kind (and how late the oldest is), leases held.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct QueueStats {
    /// (kind, due jobs, `run_at` of the oldest due job).
    pub due: Vec<(String, i64, i64)>,
    /// Jobs claimed and not yet finished.
    pub running: i64,
}

impl QueueStats {
    pub fn due_total(&self) -> i64 {
        self.due.iter().map(|(_, n, _)| n).sum()
    }

    /// How long the oldest due job has waited, in ms, at `now` (0 when nothing is due).
    pub fn oldest_due_age_ms(&self, now: i64) -> i64 {
        self.due
            .iter()
            .map(|(_, _, oldest)| now - oldest)
            .max()
            .unwrap_or(0)
            .max(0)
    }
}

/// Reads [`QueueStats`] at `now`, from the two partial indexes (cost grows with the backlog, not the
/// table).
pub async fn stats(db: &Db, now: i64) -> Result<QueueStats> {
    let due = sqlx::query(
        "SELECT kind, COUNT(*) AS n, MIN(run_at) AS oldest FROM jobs \
         WHERE status = 'queued' AND run_at <= $1 GROUP BY kind ORDER BY kind",
    )
    .bind(now)
    .fetch_all(&db.read)
    .await?
    .iter()
    .map(|r| Ok((r.try_get("kind")?, r.try_get("n")?, r.try_get("oldest")?)))
    .collect::<Result<Vec<_>>>()?;
    let running: i64 = sqlx::query("SELECT COUNT(*) AS n FROM jobs WHERE status = 'running'")
        .fetch_one(&db.read)
        .await?
        .try_get("n")?;
    Ok(QueueStats { due, running })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// On SQLite a claim is a chore for the writer's holder: while a leader of the ticket writer holds it,
    /// the claim does not wait for the writer to be let go — the holder serves it between two groups.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    // The test holds the writer across awaits on purpose: it plays a leader writing a stream of groups.
    #[allow(clippy::await_holding_lock)]
    async fn a_claim_is_served_by_whoever_holds_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("c.db").display());
        let db = Db::connect(&url, &crate::DbOptions::default())
            .await
            .unwrap();
        db.migrate().await.unwrap();
        for i in 0..3 {
            enqueue(
                &db,
                "demo.job",
                &serde_json::json!({ "i": i }),
                now_ms() - 10,
                None,
            )
            .await
            .unwrap();
        }
        let d = db
            .direct
            .clone()
            .expect("a file database has the direct writer");
        // A leader holds the writer (as a request writing a stream of groups does).
        let mut held = d.try_writer().unwrap();
        let claim = tokio::spawn({
            let db = db.clone();
            async move { cycle(&db, &[], "w", 60_000, 10, false).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(!claim.is_finished(), "the writer is held: the claim waits");
        assert!(d.has_chores());
        // Between two groups the holder runs what waits for the writer: the claim is answered while the
        // writer is still held.
        d.run_chores(&mut held);
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), claim)
            .await
            .expect("the holder answered the claim")
            .unwrap()
            .unwrap();
        assert_eq!(got.len(), 3);
        assert!(!d.has_chores());
        drop(held);
        // With the writer free, the claimer leads and serves itself.
        let none = cycle(&db, &[], "w", 60_000, 10, false).await.unwrap();
        assert!(none.is_empty());
    }
}
