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
    // SLA warnings, breaches and escalations: every minute.
    ("desk.sla_sweep", 60 * 1000),
    // Resolved tickets close once the reopen window has passed.
    ("desk.autoclose", 60 * 60 * 1000),
    // The regional cloud: record today's allocations, meter yesterday's (both safe to repeat): hourly.
    ("cloud.daily", 60 * 60 * 1000),
    // Architecture exceptions: a reminder 30 and 7 days before each ends (each once): hourly.
    ("architecture.reminders", 60 * 60 * 1000),
];

pub struct Runner {
    db: Db,
    worker: String,
    mailer: Option<crate::notify::Mailer>,
    /// The mailbox polled every minute, and the desk's own address (mail from it is a loop).
    imap: Option<(crate::imap::Mailbox, String)>,
}

impl Runner {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            worker: format!("{}-{}", std::process::id(), uuid::Uuid::now_v7()),
            mailer: None,
            imap: None,
        }
    }

    /// Polls this mailbox for incoming mail every minute.
    pub fn with_imap(mut self, mailbox: Option<crate::imap::Mailbox>, own_address: String) -> Self {
        self.imap = mailbox.map(|m| (m, own_address));
        self
    }

    /// Sends notifications through this mailer (without one they are skipped).
    pub fn with_mailer(mut self, mailer: Option<crate::notify::Mailer>) -> Self {
        self.mailer = mailer;
        self
    }

    pub fn name(&self) -> &str {
        &self.worker
    }

    /// Enqueues this slot's instance of every recurring job (a no-op if another server already did).
    pub async fn schedule(&self) -> anyhow::Result<()> {
        let now = now_ms();
        // The mailbox poll is recurring too, on a server that has a mailbox configured.
        let imap = self.imap.is_some().then_some(("desk.imap_poll", 60 * 1000));
        for (kind, period) in RECURRING.iter().copied().chain(imap) {
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
            "desk.sla_sweep" => {
                let sweep = store::desk::tickets::sla_sweep(&self.db, now_ms()).await?;
                if !sweep.at_risk.is_empty() || !sweep.breached.is_empty() {
                    tracing::info!(checked = sweep.checked, at_risk = ?sweep.at_risk, breached = ?sweep.breached, escalated = ?sweep.escalated, "SLA sweep");
                }
                Ok(())
            }
            "desk.sla_recompute" => {
                let org = job
                    .payload
                    .get("org")
                    .and_then(|v| v.as_str())
                    .and_then(|s| s.parse().ok());
                let n = store::desk::tickets::recompute_open(&self.db, org).await?;
                tracing::info!(tickets = n, "SLA recomputed after a calendar change");
                Ok(())
            }
            "desk.autoclose" => {
                let n = store::desk::tickets::autoclose(&self.db, now_ms()).await?;
                if n > 0 {
                    tracing::info!(
                        closed = n,
                        "resolved tickets closed after the reopen window"
                    );
                }
                Ok(())
            }
            "architecture.reminders" => {
                let tz =
                    jiff::tz::TimeZone::get("America/New_York").unwrap_or(jiff::tz::TimeZone::UTC);
                let today = tz.to_datetime(jiff::Timestamp::now()).date();
                let due = store::architecture::due_reminders(&self.db, today).await?;
                for r in &due {
                    crate::notify::exception_reminder(self.mailer.as_ref(), r).await?;
                }
                if !due.is_empty() {
                    tracing::info!(reminders = due.len(), "architecture exception reminders");
                }
                Ok(())
            }
            "cloud.daily" => {
                let tz =
                    jiff::tz::TimeZone::get("America/New_York").unwrap_or(jiff::tz::TimeZone::UTC);
                let today = tz.to_datetime(jiff::Timestamp::now()).date();
                let (rows, metered) = store::cloud::daily(&self.db, today).await?;
                tracing::info!(
                    allocations = rows,
                    metered = metered.accepted,
                    "regional cloud recorded"
                );
                Ok(())
            }
            "desk.notify" => crate::notify::run(&self.db, self.mailer.as_ref(), &job.payload).await,
            store::tenancy::invitations::JOB_KIND => {
                crate::notify::invitation(&self.db, self.mailer.as_ref(), &job.payload).await
            }
            "desk.imap_poll" => {
                // Servers share one configuration; one without a mailbox has nothing to poll.
                let Some((mailbox, own)) = &self.imap else {
                    return Ok(());
                };
                let report = crate::imap::poll(&self.db, mailbox, own).await?;
                if !report.taken.is_empty() {
                    tracing::info!(mailbox = %mailbox.label(), taken = report.taken.len(), left = report.left, "incoming mail taken");
                }
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
