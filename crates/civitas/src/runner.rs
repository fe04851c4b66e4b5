//! The job runner inside `civitas serve`: claims due jobs from the database queue and runs them; and a
//! scheduler that enqueues recurring jobs with one dedupe key per time slot, so that two servers on one
//! PostgreSQL enqueue each slot once and run each job once.

use std::time::Duration;
use store::{Db, jobs, now_ms};
use tokio::sync::watch;

/// Recurring jobs: (kind, period in milliseconds).
pub const RECURRING: &[(&str, i64)] = &[
    ("sessions.purge", 60 * 60 * 1000),
    ("idempotency.purge", 60 * 60 * 1000),
];

pub struct Runner {
    db: Db,
    worker: String,
}

impl Runner {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            worker: format!("{}-{}", std::process::id(), uuid::Uuid::now_v7()),
        }
    }

    pub fn name(&self) -> &str {
        &self.worker
    }

    /// Enqueues this slot's instance of every recurring job (a no-op if another server already did).
    pub async fn schedule(&self) -> anyhow::Result<()> {
        let now = now_ms();
        for (kind, period) in RECURRING {
            let slot = now / period;
            jobs::enqueue(
                &self.db,
                kind,
                &serde_json::json!({}),
                slot * period,
                Some(&format!("{kind}:{slot}")),
            )
            .await?;
        }
        Ok(())
    }

    /// Runs one due job if there is one; returns whether it found one.
    pub async fn tick(&self) -> anyhow::Result<bool> {
        let Some(job) = jobs::claim(&self.db, &self.worker, 5 * 60 * 1000).await? else {
            return Ok(false);
        };
        let result = self.run(&job).await;
        match result {
            Ok(()) => jobs::complete(&self.db, &job.id).await?,
            Err(e) => {
                tracing::warn!(job = %job.kind, error = %e, attempt = job.attempts, "job failed");
                jobs::fail(&self.db, &job, &format!("{e:#}")).await?;
            }
        }
        Ok(true)
    }

    async fn run(&self, job: &jobs::Job) -> anyhow::Result<()> {
        match job.kind.as_str() {
            "sessions.purge" => {
                let n = store::auth::purge_expired_sessions(&self.db).await?;
                tracing::info!(removed = n, "expired sessions purged");
                Ok(())
            }
            "idempotency.purge" => {
                let n = store::idempotency::purge_expired(&self.db).await?;
                tracing::info!(removed = n, "old idempotency keys purged");
                Ok(())
            }
            other => anyhow::bail!("no handler for job kind {other:?}"),
        }
    }

    /// Loops until `stop` turns true: schedule every minute, claim jobs every second (at once when busy).
    pub async fn run_until(self, mut stop: watch::Receiver<bool>) {
        let mut last_schedule = 0;
        loop {
            if *stop.borrow() {
                break;
            }
            if now_ms() - last_schedule > 60_000 {
                if let Err(e) = self.schedule().await {
                    tracing::warn!(error = %e, "scheduling recurring jobs failed");
                }
                last_schedule = now_ms();
            }
            let busy = match self.tick().await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "job runner error");
                    false
                }
            };
            if !busy {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }
}
