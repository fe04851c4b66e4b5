//! SQLite without sqlx's hand-offs, for the paths measured hot: opening a ticket (its reads and its write).
//!
//! sqlx runs each SQLite connection on a thread of its own and talks to it through channels: every
//! statement, every row and the transaction's begin and commit are a wake-up of another thread. On these
//! two-core VMs a wake-up costs tens of microseconds, and opening a ticket took a dozen (see
//! docs/PERFORMANCE.md, "Service desk"). Here the same SQL runs synchronously on the calling thread, on
//! connections of our own to the same file: a few read-only readers, and one writer used only to open
//! tickets. Every use is short and bounded; anything else stays on sqlx.
//!
//! The writer never waits for SQLite's lock: its busy timeout is zero, and a `BEGIN IMMEDIATE` that finds
//! the database locked (another write through sqlx, a backup, the CLI) is reported as [`Busy`] so that the
//! caller hands the work to sqlx, which waits without holding a runtime thread.

mod openings;

pub(crate) use openings::{Lead, Openings, chunk_sizes};

use crate::sql::{Param, Sql};
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// One row, every column as SQLite gave it.
pub(crate) type Row = Vec<Value>;

pub(crate) struct Direct {
    readers: Vec<Mutex<Connection>>,
    writer: Mutex<Connection>,
    /// The first pass of [`Self::checkpoint`], beside the writer.
    checkpointer: Mutex<Connection>,
    /// The write-ahead log's file, flushed to disk just before a restart (see [`Self::checkpoint`]).
    wal: std::path::PathBuf,
    /// Tickets written since the last checkpoint.
    since_checkpoint: AtomicUsize,
    /// Tickets written since the log last restarted.
    since_restart: AtomicUsize,
    /// Work waiting for the writer's connection (see [`Self::add_chore`]).
    chores: Mutex<Vec<Chore>>,
}

/// Work for the writer's connection, run by whoever holds it next.
pub(crate) type Chore = Box<dyn FnOnce(&mut Connection) + Send>;

/// How many tickets the direct writer writes between checkpoints beside it (see [`Self::checkpoint`]). Pages
/// written by every ticket (the counters, the audit head, the ends of the indexes) are copied once per
/// pass, so fewer, larger passes copy less than SQLite's default of one every 1,000 pages.
const CHECKPOINT_EVERY: usize = 256;

/// How many tickets at least between two restarts of the log, the one pass that holds the writer. Each
/// costs two flushes to disk while openings wait, whatever is left to copy (34–50 ms median on the
/// benchmark's VM, measured by `civitas_sqlite_checkpoint_seconds{pass="holding_writer"}`): the fewer, the
/// shorter the tail. Between two restarts the log holds the pages of these tickets (55–140 KiB each),
/// copied beside the writer as it grows.
const RESTART_EVERY: usize = 512;

/// A restart comes when the passes beside the writer left at most this many frames (half a megabyte) to
/// copy while it is held; otherwise it waits for the next checkpoint, unless the log has gone
/// [`RESTART_AT_MOST`] tickets without one.
const CHECKPOINT_LEFT: i64 = 128;

/// The log restarts after this many tickets whatever is left to copy: it must not grow for as long as
/// openings keep coming.
const RESTART_AT_MOST: usize = 4 * RESTART_EVERY;

/// Passes beside the writer at most, each copying what the writer added during the one before.
const PASSES_BESIDE: usize = 8;

/// What a checkpoint after a commit does (see [`Direct::wrote`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Checkpoint {
    /// Copy the log into the database beside the writer.
    Beside,
    /// Then, holding the writer, copy the little left so that the next write starts the log afresh.
    Restart,
}

impl std::fmt::Debug for Direct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Direct({} readers, 1 writer)", self.readers.len())
    }
}

/// The database was locked by another writer: hand the work to sqlx.
#[derive(Debug)]
pub(crate) struct Busy;

/// The file behind a `sqlite:` URL, if it is one (not an in-memory database).
pub(crate) fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or("");
    (!path.is_empty() && !path.starts_with(":memory:") && !rest.contains("mode=memory"))
        .then_some(path)
}

impl Direct {
    /// Opens `readers` read-only connections and the writer on the existing database file at `path`.
    pub fn open(path: &str, readers: usize) -> rusqlite::Result<Self> {
        use std::time::Duration;
        // The operating system caches the file for every connection; each keeps only a small cache.
        let readers = (0..readers.max(1))
            .map(|_| connect(path, false, Duration::from_secs(1), 1_000).map(Mutex::new))
            .collect::<rusqlite::Result<_>>()?;
        // The writer never waits for the lock (see the module's documentation).
        let w = connect(path, true, Duration::ZERO, 4_000)?;
        w.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        )?;
        let c = connect(path, true, Duration::from_secs(1), 100)?;
        Ok(Self {
            readers,
            writer: Mutex::new(w),
            checkpointer: Mutex::new(c),
            since_checkpoint: AtomicUsize::new(0),
            since_restart: AtomicUsize::new(0),
            wal: std::path::PathBuf::from(format!("{path}-wal")),
            chores: Mutex::default(),
        })
    }

    /// Counts `n` tickets written by the direct writer; the checkpoint then due, if any (see
    /// [`Self::checkpoint`]).
    pub fn wrote(&self, n: usize) -> Option<Checkpoint> {
        if self.since_checkpoint.fetch_add(n, Ordering::Relaxed) + n < CHECKPOINT_EVERY {
            return None;
        }
        self.since_checkpoint.store(0, Ordering::Relaxed);
        let since_restart = self
            .since_restart
            .fetch_add(CHECKPOINT_EVERY, Ordering::Relaxed);
        if since_restart + CHECKPOINT_EVERY < RESTART_EVERY {
            return Some(Checkpoint::Beside);
        }
        Some(Checkpoint::Restart)
    }

    /// Copies the write-ahead log back into the database file, beside the writer on a connection of its
    /// own, pass after pass while the writer adds a lot during each (a passive checkpoint beside a busy
    /// writer never catches up). With [`Checkpoint::Restart`], when those passes left little (or the log
    /// is overdue), a last pass holding the writer for what is left, after which the next write starts the
    /// log afresh (without it the log would grow for as long as openings keep coming). Run on a blocking thread after the commit that made it
    /// due: no request waits for the passes beside the writer, and only those that queue meanwhile wait
    /// for the last one.
    pub fn checkpoint(&self, kind: Checkpoint) {
        let left = self.checkpoint_beside();
        let overdue = self.since_restart.load(Ordering::Relaxed) >= RESTART_AT_MOST;
        if kind == Checkpoint::Restart && left.is_some_and(|l| l <= CHECKPOINT_LEFT || overdue) {
            self.since_restart.store(0, Ordering::Relaxed);
            // The pass holding the writer first flushes the log to disk, and the writer appends to it
            // without flushing (synchronous = NORMAL): flushed here, beside the writer, that pass only
            // flushes what was added since.
            let started = std::time::Instant::now();
            if let Err(e) = std::fs::File::open(&self.wal).and_then(|f| f.sync_data()) {
                tracing::debug!(error = %e, "flushing the write-ahead log beside the writer failed");
            }
            metrics::histogram!("civitas_sqlite_checkpoint_seconds", "pass" => "flush_beside")
                .record(started.elapsed().as_secs_f64());
            let writer = lock(&self.writer);
            let started = std::time::Instant::now();
            let last = passive(&writer);
            drop(writer);
            metrics::histogram!("civitas_sqlite_checkpoint_seconds", "pass" => "holding_writer")
                .record(started.elapsed().as_secs_f64());
            if let Err(e) = last {
                tracing::warn!(error = %e, "checkpoint of the write-ahead log failed");
            }
        }
    }

    /// The passes of [`Self::checkpoint`] beside the writer, on the checkpointer's connection: no writer
    /// waits for them. False when a pass failed.
    fn checkpoint_beside(&self) -> Option<i64> {
        let c = lock(&self.checkpointer);
        let mut left = 0;
        for _ in 0..PASSES_BESIDE {
            let started = std::time::Instant::now();
            let pass = passive(&c);
            metrics::histogram!("civitas_sqlite_checkpoint_seconds", "pass" => "beside")
                .record(started.elapsed().as_secs_f64());
            match pass {
                Ok((log, copied)) => {
                    left = log - copied;
                    if left <= CHECKPOINT_LEFT {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "checkpoint of the write-ahead log failed");
                    return None;
                }
            }
        }
        Some(left)
    }

    /// Checkpoints beside the writer once a second on a thread of its own, for as long as `d` is in use:
    /// the log grows from every writer (the job runner, imports, settings), not only from the tickets that
    /// trigger [`Self::checkpoint`], and no writer checkpoints in its commits when these connections exist.
    pub fn checkpoint_every_second(d: &std::sync::Arc<Self>) {
        let weak = std::sync::Arc::downgrade(d);
        let spawned = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(1));
                    let Some(d) = weak.upgrade() else { return };
                    // Only beside the writer: an opening never waits for this one (the tickets' own
                    // checkpoints, which end holding the writer, let the log start afresh under load).
                    d.checkpoint_beside();
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no checkpoint thread: only tickets opened trigger checkpoints");
        }
    }

    /// Runs the read `q` on a free reader; `None` when every reader is busy (the caller then uses sqlx, so a
    /// burst never queues behind a lock).
    pub fn try_read(&self, q: &Sql) -> Option<rusqlite::Result<Vec<Row>>> {
        let conn = self.readers.iter().find_map(|m| m.try_lock().ok())?;
        Some(run(&conn, q))
    }

    /// Leaves `chore` for the writer's next holder: the leader of the ticket writer runs it between two
    /// groups (see `Openings::lead`), so that other work on the writer (claiming jobs) never
    /// waits for a stream of openings to let the writer go. The caller must then try to lead.
    pub fn add_chore(&self, chore: Chore) {
        lock(&self.chores).push(chore);
    }

    /// Runs every chore left for the writer on `conn` (the writer, held by the caller).
    pub fn run_chores(&self, conn: &mut Connection) {
        let chores = std::mem::take(&mut *lock(&self.chores));
        for chore in chores {
            chore(conn);
        }
    }

    /// Whether chores wait for the writer.
    pub fn has_chores(&self) -> bool {
        !lock(&self.chores).is_empty()
    }

    /// The writer, unless another task holds it.
    pub fn try_writer(&self) -> Option<MutexGuard<'_, Connection>> {
        match self.writer.try_lock() {
            Ok(g) => Some(g),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }
}

/// One passive checkpoint pass on `c`: (frames in the log, frames copied).
fn passive(c: &Connection) -> rusqlite::Result<(i64, i64)> {
    c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
    })
}

/// A connection to the existing database at `path` with a page cache of `cache_kib`. Writing connections
/// never checkpoint in their commits: `Direct::checkpoint` runs after them, off the request's path.
fn connect(
    path: &str,
    write: bool,
    busy: std::time::Duration,
    cache_kib: i64,
) -> rusqlite::Result<Connection> {
    let flags = if write {
        OpenFlags::SQLITE_OPEN_READ_WRITE
    } else {
        OpenFlags::SQLITE_OPEN_READ_ONLY
    };
    let c = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    c.busy_timeout(busy)?;
    c.set_prepared_statement_cache_capacity(32);
    c.pragma_update(None, "cache_size", -cache_kib)?;
    if write {
        c.pragma_update(None, "wal_autocheckpoint", 0)?;
    }
    Ok(c)
}

/// Runs `q` on `conn` (its statement kept prepared) and returns its rows.
pub(crate) fn run(conn: &Connection, q: &Sql) -> rusqlite::Result<Vec<Row>> {
    let mut stmt = conn.prepare_cached(q.text())?;
    for (i, p) in q.params().iter().enumerate() {
        match p {
            Param::Int(v) => stmt.raw_bind_parameter(i + 1, v)?,
            Param::Text(v) => stmt.raw_bind_parameter(i + 1, v.as_str())?,
            Param::NullInt | Param::NullText => stmt.raw_bind_parameter(i + 1, Value::Null)?,
        }
    }
    let columns = stmt.column_count();
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(
            (0..columns)
                .map(|i| r.get::<_, Value>(i))
                .collect::<rusqlite::Result<Row>>()?,
        );
    }
    Ok(out)
}

/// Starts a write transaction on the writer, or reports that another writer holds the database.
pub(crate) fn begin(conn: &mut Connection) -> Result<rusqlite::Transaction<'_>, BeginError> {
    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                BeginError::Busy(Busy)
            }
            _ => BeginError::Other(e),
        })
}

#[derive(Debug)]
pub(crate) enum BeginError {
    Busy(Busy),
    Other(rusqlite::Error),
}

/// The rows of the short read `q`: on a direct reader when SQLite has one free, else through sqlx (and on
/// PostgreSQL), converted to the same shape so that one parser serves both. For reads of text and integer
/// columns only.
pub(crate) async fn rows(db: &crate::Db, q: Sql) -> crate::Result<Vec<Row>> {
    if let Some(rows) = db.direct.as_deref().and_then(|d| d.try_read(&q)) {
        return Ok(rows?);
    }
    q.fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| {
            use sqlx::Row as _;
            (0..r.len())
                .map(|i| {
                    if let Ok(v) = r.try_get::<Option<i64>, _>(i) {
                        return Ok(v.map_or(Value::Null, Value::Integer));
                    }
                    Ok(r.try_get::<Option<String>, _>(i)?
                        .map_or(Value::Null, Value::Text))
                })
                .collect::<crate::Result<Row>>()
        })
        .collect()
}

/// Column `i` of `r` as text (`None` when NULL).
pub(crate) fn opt_text(r: &Row, i: usize) -> crate::Result<Option<String>> {
    match r.get(i) {
        Some(Value::Text(s)) => Ok(Some(s.clone())),
        Some(Value::Null) => Ok(None),
        other => Err(crate::StoreError::Corrupt(format!(
            "column {i}: expected text, found {other:?}"
        ))),
    }
}

/// Column `i` of `r` as text, which must not be NULL.
pub(crate) fn text(r: &Row, i: usize) -> crate::Result<String> {
    opt_text(r, i)?
        .ok_or_else(|| crate::StoreError::Corrupt(format!("column {i}: unexpected NULL")))
}

/// Column `i` of `r` as an integer, which must not be NULL.
pub(crate) fn int(r: &Row, i: usize) -> crate::Result<i64> {
    match r.get(i) {
        Some(Value::Integer(v)) => Ok(*v),
        other => Err(crate::StoreError::Corrupt(format!(
            "column {i}: expected an integer, found {other:?}"
        ))),
    }
}

impl From<rusqlite::Error> for crate::StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Db(sqlx::Error::Protocol(format!("sqlite: {e}")))
    }
}

/// Poisoning only says another thread panicked while holding the lock; the data (a queue) is still whole.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::sqlite_path;

    #[test]
    fn only_files_have_a_path() {
        assert_eq!(
            sqlite_path("sqlite://data/civitas.db"),
            Some("data/civitas.db")
        );
        assert_eq!(
            sqlite_path("sqlite:///tmp/x.db?mode=rwc"),
            Some("/tmp/x.db")
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(
            sqlite_path("sqlite://file.db?mode=memory&cache=shared"),
            None
        );
        assert_eq!(sqlite_path("postgres://localhost/x"), None);
    }
}
