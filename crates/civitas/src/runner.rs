//! The job runner inside `civitas serve`: claims due jobs from the database queue and runs them; and a
//! scheduler that enqueues recurring jobs with one dedupe key per time slot, so that two servers on one
//! PostgreSQL enqueue each slot once and run each job once.

use std::sync::Arc;
use std::time::{Duration, Instant};
use store::{Db, jobs, now_ms};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// A job that ran: the job, how it ended, how long it took.
type Finished = (jobs::Job, anyhow::Result<()>, Duration);

/// At most this many jobs are claimed and not yet finished: one claim takes up to half of them, so a burst
/// of notifications drains in a few large batches (a claim is a write transaction, and on SQLite every
/// one of them competes with the tickets being opened).
const IN_FLIGHT: usize = 256;
/// Of the jobs claimed, at most this many run at once: each mostly waits on the database or a mail server.
const RUNNING: usize = 32;
/// When a look at the queue found nothing, the next one comes when jobs are queued, but at least this long
/// after it: at most 10 claims a second while tickets stream in, each for what queued meanwhile (every 20 ms
/// cost 8–15% of creation at 32 clients in claims on the writer, for a backlog of 41 instead of hundreds).
const CLAIM_GAP: Duration = Duration::from_millis(100);
/// A claimed job is another server's to take back after this long (its server died mid-job).
const LEASE_MS: i64 = 5 * 60 * 1000;
/// How often the runner looks for jobs whose lease ran out.
const EXPIRED_EVERY_MS: i64 = 10_000;
/// How long finished jobs are kept (for operators) before `jobs.purge` deletes them, by default.
pub const DEFAULT_RETENTION_DAYS: i64 = 7;

/// Recurring jobs: (kind, period in milliseconds).
pub const RECURRING: &[(&str, i64)] = &[
    ("sessions.purge", 60 * 60 * 1000),
    ("idempotency.purge", 60 * 60 * 1000),
    // Finished jobs older than the retention period: hourly.
    ("jobs.purge", 60 * 60 * 1000),
    // SLA warnings, breaches and escalations: every minute.
    ("desk.sla_sweep", 60 * 1000),
    // Resolved tickets close once the reopen window has passed.
    ("desk.autoclose", 60 * 60 * 1000),
    // The regional cloud: record today's allocations, meter yesterday's (both safe to repeat): hourly.
    ("cloud.daily", 60 * 60 * 1000),
    // The hub's record of each member's active accounts (the day's peak, which seats are billed on): hourly.
    ("seats.daily", 60 * 60 * 1000),
    // Architecture exceptions: a reminder 30 and 7 days before each ends (each once): hourly.
    ("architecture.reminders", 60 * 60 * 1000),
    // The audit head (last hash and count) in the log, hourly: an outside record for `audit verify
    // --expect-head`.
    ("audit.checkpoint", 60 * 60 * 1000),
];

pub struct Runner {
    db: Db,
    worker: String,
    mailer: Option<crate::notify::Mailer>,
    /// The mailbox polled every minute, and the desk's own address (mail from it is a loop).
    imap: Option<(crate::imap::Mailbox, String)>,
    /// How long finished jobs are kept, in days.
    retention_days: i64,
    /// Turns to run among the jobs claimed (see [`RUNNING`]).
    turns: Arc<tokio::sync::Semaphore>,
    /// One lock per kind of job that must not overlap itself (every kind but the per-event ones): a sweep
    /// or a mailbox poll that outlasts its period waits for the one before it instead of running beside it.
    one_at_a_time: std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Kinds of job that run side by side: each is about one event (one notification, one invitation).
const SIDE_BY_SIDE: &[&str] = &["desk.notify", "account.invite"];

impl Runner {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            worker: format!("{}-{}", std::process::id(), uuid::Uuid::now_v7()),
            mailer: None,
            imap: None,
            retention_days: DEFAULT_RETENTION_DAYS,
            one_at_a_time: Default::default(),
            turns: Arc::new(tokio::sync::Semaphore::new(RUNNING)),
        }
    }

    /// Keeps finished jobs this many days (at least one: a recurring job's dedupe key must outlive its
    /// slot, or the next minute's scheduling would queue the same slot again).
    pub fn with_retention_days(mut self, days: i64) -> Self {
        self.retention_days = days.max(1);
        self
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

    /// Runs the jobs due now (up to one batch, one after another) and marks them finished; returns whether
    /// it found any. The server's loop is [`Runner::run_until`]; this is a single step of it, for tests.
    pub async fn tick(&self) -> anyhow::Result<bool> {
        let batch = jobs::cycle(&self.db, &[], &self.worker, LEASE_MS, jobs::BATCH, true).await?;
        if batch.is_empty() {
            return Ok(false);
        }
        let mut done = Vec::new();
        for job in batch {
            let (job, result, took) = self.timed(job).await;
            self.record(job, result, took, &mut done).await;
        }
        jobs::cycle(&self.db, &done, &self.worker, LEASE_MS, 0, false).await?;
        Ok(true)
    }

    /// A job's task ended: record it (a task that panicked keeps its lease until it runs out, and runs again).
    async fn joined(
        &self,
        joined: Result<Finished, tokio::task::JoinError>,
        done: &mut Vec<String>,
    ) {
        match joined {
            Ok((job, result, took)) => self.record(job, result, took, done).await,
            Err(e) => tracing::error!(error = %e, "a job's task ended without finishing"),
        }
    }

    /// Runs one job and measures it.
    async fn timed(&self, job: jobs::Job) -> Finished {
        // The semaphore is never closed; were it, the job would run without waiting for a turn.
        let _turn = self.turns.acquire().await.ok();
        let lock = (!SIDE_BY_SIDE.contains(&job.kind.as_str())).then(|| {
            let mut kinds = self
                .one_at_a_time
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(kinds.entry(job.kind.clone()).or_default())
        });
        let _kind_turn = match &lock {
            Some(l) => Some(l.lock().await),
            None => None,
        };
        let started = Instant::now();
        let result = self.run(&job).await;
        (job, result, started.elapsed())
    }

    /// Counts a finished job; a success joins `done` (marked finished with the next claim, in one
    /// transaction), a failure is recorded at once (retried after a back-off, or failed for good).
    async fn record(
        &self,
        job: jobs::Job,
        result: anyhow::Result<()>,
        took: Duration,
        done: &mut Vec<String>,
    ) {
        let kind = job.kind.clone();
        metrics::histogram!("civitas_job_duration_seconds", "kind" => kind.clone())
            .record(took.as_secs_f64());
        let outcome = match result {
            Ok(()) => {
                done.push(job.id);
                "done"
            }
            Err(e) => {
                tracing::warn!(job = %job.kind, error = %e, attempt = job.attempts, "job failed");
                if let Err(e) = jobs::fail(&self.db, &job, &format!("{e:#}")).await {
                    tracing::warn!(job = %job.kind, error = %e, "recording a job's failure failed");
                }
                if job.attempts >= job.max_attempts {
                    "failed"
                } else {
                    "retry"
                }
            }
        };
        metrics::counter!("civitas_jobs_finished_total", "kind" => kind, "outcome" => outcome)
            .increment(1);
    }

    async fn run(&self, job: &jobs::Job) -> anyhow::Result<()> {
        match job.kind.as_str() {
            "sessions.purge" => {
                let n = store::auth::purge_expired_sessions(&self.db).await?;
                tracing::info!(removed = n, "expired sessions purged");
                Ok(())
            }
            "jobs.purge" => {
                let before = now_ms() - self.retention_days * 24 * 60 * 60 * 1000;
                let n = jobs::purge(&self.db, before).await?;
                if n > 0 {
                    tracing::info!(
                        removed = n,
                        days = self.retention_days,
                        "finished jobs purged"
                    );
                }
                Ok(())
            }
            "audit.checkpoint" => {
                let head = store::audit::head(&self.db).await?;
                tracing::info!(audit_head = %head, "audit checkpoint");
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
            "seats.daily" => {
                let day = store::tenancy::seats::today();
                let n = store::tenancy::seats::record(&self.db, day).await?;
                tracing::debug!(organisations = n, %day, "active accounts recorded");
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

    /// Loops until `stop` turns true: schedules recurring jobs every minute, and keeps up to
    /// [`IN_FLIGHT`] jobs claimed, [`RUNNING`] of them running. A claim is made when half the slots are free, and marks the jobs that
    /// finished since the last one in the same transaction, so a burst drains in batches: one write
    /// transaction per batch instead of two per job. When a claim finds nothing, the next waits a second.
    ///
    /// Each job is a task of its own: one that holds the database's write connection goes on while this
    /// loop waits for that connection to claim or to record a failure.
    pub async fn run_until(self, mut stop: watch::Receiver<bool>) {
        let this = Arc::new(self);
        let mut last_schedule = 0;
        let mut last_expired = 0;
        let mut last_claim = Instant::now();
        let mut found = true;
        let mut running: JoinSet<Finished> = JoinSet::new();
        let mut done: Vec<String> = Vec::new();
        loop {
            let stopping = *stop.borrow();
            if stopping && running.is_empty() {
                if !done.is_empty()
                    && let Err(e) =
                        jobs::cycle(&this.db, &done, &this.worker, LEASE_MS, 0, false).await
                {
                    tracing::warn!(error = %e, "marking the last jobs finished failed");
                }
                break;
            }
            let now = now_ms();
            if !stopping && now - last_schedule > 60_000 {
                if let Err(e) = this.schedule().await {
                    tracing::warn!(error = %e, "scheduling recurring jobs failed");
                }
                last_schedule = now;
                found = true;
            }
            let room = IN_FLIGHT - running.len();
            let rested = found || last_claim.elapsed() >= Duration::from_secs(1);
            // Finished jobs wait for the next claim to be marked done, but never long: slow jobs holding
            // more than half the slots must not leave the others looking leased until their lease ends.
            if !done.is_empty()
                && room < IN_FLIGHT / 2
                && last_claim.elapsed() >= Duration::from_secs(1)
            {
                last_claim = Instant::now();
                match jobs::cycle(&this.db, &done, &this.worker, LEASE_MS, 0, false).await {
                    Ok(_) => done.clear(),
                    Err(e) => tracing::warn!(error = %e, "marking finished jobs done failed"),
                }
            }
            if !stopping && room >= IN_FLIGHT / 2 && rested {
                let expired = now - last_expired > EXPIRED_EVERY_MS;
                let limit = i64::try_from(room).unwrap_or(jobs::BATCH);
                last_claim = Instant::now();
                match jobs::cycle(&this.db, &done, &this.worker, LEASE_MS, limit, expired).await {
                    Ok(batch) => {
                        done.clear();
                        if expired {
                            last_expired = now;
                        }
                        found = !batch.is_empty();
                        for job in batch {
                            let runner = Arc::clone(&this);
                            running.spawn(async move { runner.timed(job).await });
                        }
                    }
                    Err(e) => {
                        found = false;
                        tracing::warn!(error = %e, "job runner error");
                    }
                }
            }
            // Wait for a job to finish (then gather every other that already has), or for the next look
            // at the queue.
            let pause = if found {
                Duration::from_secs(1)
            } else {
                Duration::from_secs(1).saturating_sub(last_claim.elapsed())
            };
            tokio::select! {
                // Jobs were queued: look again, but not sooner than `CLAIM_GAP` after the last look, so
                // that a stream of openings is claimed in batches rather than a claim per ticket.
                _ = this.db.jobs_queued().notified(), if !found && !stopping => {
                    tokio::time::sleep(CLAIM_GAP.saturating_sub(last_claim.elapsed())).await;
                    found = true;
                }
                Some(joined) = running.join_next(), if !running.is_empty() => {
                    this.joined(joined, &mut done).await;
                    while let Some(joined) = running.try_join_next() {
                        this.joined(joined, &mut done).await;
                    }
                }
                _ = tokio::time::sleep(pause), if !found || running.is_empty() || !done.is_empty() => {}
                _ = stop.changed(), if !stopping => {}
            }
        }
    }
}
