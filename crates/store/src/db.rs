//! Connecting, migrating and the pools. SQLite gets one writer connection and a pool of readers (WAL),
//! so writes never fight over the lock; PostgreSQL uses one pool for both.

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};
use std::time::Duration;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Pool sizes; the defaults suit one server on a small machine.
#[derive(Debug, Clone)]
pub struct DbOptions {
    pub max_connections: u32,
    /// SQLite: open connections of our own beside sqlx's for the hottest paths (see `direct`). Off, every
    /// query goes through sqlx — for comparison in benchmarks, or should the direct path ever misbehave.
    pub direct: bool,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            direct: true,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Db {
    pub(crate) write: AnyPool,
    pub(crate) read: AnyPool,
    /// The organisation directory in memory (see `tenancy::org_cache`).
    pub(crate) orgs: std::sync::Arc<crate::tenancy::org_cache::OrgCache>,
    /// SQLite's group writer for new tickets (see `direct::Openings`).
    pub(crate) openings: std::sync::Arc<crate::direct::Openings>,
    /// SQLite only: connections used without sqlx for the hottest paths (see `direct`).
    pub(crate) direct: Option<std::sync::Arc<crate::direct::Direct>>,
    /// Woken when jobs were queued (see [`Db::jobs_queued`]).
    pub(crate) queued: std::sync::Arc<tokio::sync::Notify>,
    backend: Backend,
}

/// Now, in epoch milliseconds UTC: how every instant is stored.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

type ConnectFuture<'c> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), sqlx::Error>> + Send + 'c>>;

/// Every SQLite connection: WAL so readers never block the writer, foreign keys, and a busy timeout. Page
/// caches are per connection and stay small (the operating system caches the file for all of them): 8 MB
/// for the writer, 1 MB for each reader — memory stays flat however many readers the pool opens.
fn sqlite_pragmas(
    conn: &mut sqlx::AnyConnection,
    _meta: sqlx::pool::PoolConnectionMetadata,
) -> ConnectFuture<'_> {
    Box::pin(async move {
        conn.execute(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
             PRAGMA busy_timeout = 10000; PRAGMA cache_size = -1000;",
        )
        .await?;
        Ok(())
    })
}

/// The writer's pragmas: a larger page cache, and, when `manual` holds, no checkpoint inside its commits —
/// the direct connections then checkpoint off the request path (see `direct::Direct::checkpoint`), and a
/// commit of the job runner's or anyone else's never copies the whole log while every writer waits.
fn sqlite_writer_pragmas(
    manual: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> impl Fn(&mut sqlx::AnyConnection, sqlx::pool::PoolConnectionMetadata) -> ConnectFuture<'_>
+ Send
+ Sync
+ 'static {
    move |conn, meta| {
        let manual = manual.load(std::sync::atomic::Ordering::Relaxed);
        Box::pin(async move {
            sqlite_pragmas(conn, meta).await?;
            conn.execute("PRAGMA cache_size = -8000;").await?;
            if manual {
                conn.execute("PRAGMA wal_autocheckpoint = 0;").await?;
            }
            Ok(())
        })
    }
}

impl Db {
    /// Connects to `url` (`sqlite://path` or `postgres://…`); a SQLite file is created if missing.
    pub async fn connect(url: &str, opts: &DbOptions) -> Result<Self, sqlx::Error> {
        install_default_drivers();
        if url.starts_with("sqlite:") {
            let url = if url.contains('?') {
                url.to_owned()
            } else {
                format!("{url}?mode=rwc")
            };
            let pragmas = sqlite_pragmas;
            // Checkpoints are the direct connections' when there will be some (undone below if they fail
            // to open).
            let manual = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(
                opts.direct && crate::direct::sqlite_path(&url).is_some(),
            ));
            let write = AnyPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(30))
                .test_before_acquire(false)
                .after_connect(sqlite_writer_pragmas(manual.clone()))
                .connect(&url)
                .await?;
            // Reads are CPU-bound on a file the operating system caches: more connections than twice the
            // cores only add page caches and prepared statements to memory, not throughput.
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            let cores = u32::try_from(cores).unwrap_or(2);
            let read = AnyPoolOptions::new()
                .max_connections(opts.max_connections.clamp(1, (2 * cores).max(2)))
                .idle_timeout(Duration::from_secs(60))
                .min_connections(1)
                .acquire_timeout(Duration::from_secs(30))
                .test_before_acquire(false)
                .after_connect(pragmas)
                .connect(&url)
                .await?;
            // Our own connections to the same file, for the paths where sqlx's hand-offs dominate. Without
            // them (an in-memory database, a file that will not open twice) everything goes through sqlx.
            let direct = match crate::direct::sqlite_path(&url)
                .filter(|_| opts.direct)
                .map(|path| crate::direct::Direct::open(path, cores as usize))
            {
                Some(Ok(d)) => {
                    let d = std::sync::Arc::new(d);
                    crate::direct::Direct::checkpoint_every_second(&d);
                    Some(d)
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "direct SQLite connections unavailable; using sqlx alone");
                    None
                }
                None => None,
            };
            if direct.is_none() && manual.swap(false, std::sync::atomic::Ordering::Relaxed) {
                // Nobody else will checkpoint: SQLite's own, in the writer's commits.
                sqlx::query("PRAGMA wal_autocheckpoint = 1000")
                    .execute(&write)
                    .await?;
            }
            Ok(Self {
                write,
                read,
                orgs: Default::default(),
                openings: Default::default(),
                direct,
                queued: Default::default(),
                backend: Backend::Sqlite,
            })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = AnyPoolOptions::new()
                .max_connections(opts.max_connections.max(2))
                .acquire_timeout(Duration::from_secs(30))
                .test_before_acquire(false)
                .connect(url)
                .await?;
            Ok(Self {
                write: pool.clone(),
                read: pool,
                orgs: Default::default(),
                openings: Default::default(),
                direct: None,
                queued: Default::default(),
                backend: Backend::Postgres,
            })
        } else {
            Err(sqlx::Error::Configuration(
                "database URL must start with sqlite:// or postgres://".into(),
            ))
        }
    }

    /// Connections open and in use, per pool: ("write" or "read", open, in use). PostgreSQL has one pool,
    /// reported as "write".
    pub fn pool_use(&self) -> Vec<(&'static str, u32, u32)> {
        let used = |p: &AnyPool| {
            let open = p.size();
            let idle = u32::try_from(p.num_idle()).unwrap_or(open);
            (open, open.saturating_sub(idle))
        };
        let (open, busy) = used(&self.write);
        let mut v = vec![("write", open, busy)];
        if self.backend == Backend::Sqlite {
            let (open, busy) = used(&self.read);
            v.push(("read", open, busy));
        }
        v
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`): a transaction
    /// that read before writing would otherwise fail with `SQLITE_BUSY_SNAPSHOT` (code 517, a 500 to the
    /// caller) whenever another connection (the ticket writer, the job runner's direct connection)
    /// committed in between, and no busy timeout retries that.
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.write.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.write.begin().await,
        }
    }

    /// Notified when this process queued jobs (tickets opened, [`crate::jobs::enqueue`]): the job runner
    /// claims them then instead of at its next look a second later. Jobs queued by another server or
    /// inside a caller's transaction wake nobody; the runner's once-a-second look finds them.
    pub fn jobs_queued(&self) -> &tokio::sync::Notify {
        &self.queued
    }

    /// The read pool, for tools that run their own read-only queries (benchmark seeding, diagnostics).
    pub fn read_pool(&self) -> &AnyPool {
        &self.read
    }

    /// Applies every migration not yet applied. Safe to run on every start.
    ///
    /// When this run adds the audit head's seal (migration 0014), the head is sealed at once with the
    /// installed audit key (see `audit::seal_after_upgrade`) — only then, never on a later start.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        let sealed_before =
            sqlx::query("SELECT 1 FROM _sqlx_migrations WHERE version = 14 AND success")
                .fetch_optional(&self.write)
                .await
                .ok()
                .flatten()
                .is_some();
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.write).await,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.write).await,
        }?;
        if !sealed_before {
            crate::audit::seal_after_upgrade(self)
                .await
                .map_err(|e| sqlx::migrate::MigrateError::Source(Box::new(e)))?;
        }
        Ok(())
    }

    /// Whether the database answers: what /readyz reports.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.read)
            .await
            .map(|_| ())
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }

    /// The names of the migrations each backend embeds: they must match (a test checks).
    pub fn migration_names() -> (Vec<String>, Vec<String>) {
        let names = |m: &sqlx::migrate::Migrator| {
            m.iter()
                .map(|x| format!("{}_{}", x.version, x.description))
                .collect()
        };
        (names(&SQLITE_MIGRATIONS), names(&POSTGRES_MIGRATIONS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write transaction that reads before it writes holds SQLite's write lock from its start: another
    /// connection's commit cannot slip in between its read and its write, which would end it with
    /// `SQLITE_BUSY_SNAPSHOT` (seen as a 500 on an organisation's PATCH while the job runner worked).
    #[tokio::test]
    async fn a_write_transaction_holds_the_lock_from_its_first_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let db = Db::connect(
            &format!("sqlite://{}", path.display()),
            &DbOptions::default(),
        )
        .await
        .unwrap();
        db.migrate().await.unwrap();
        let mut tx = db.begin_write().await.unwrap();
        let _: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orgs")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        // Another writer (as the direct ticket writer is) finds the lock taken instead of committing.
        let other = rusqlite::Connection::open(&path).unwrap();
        other.busy_timeout(Duration::ZERO).unwrap();
        let err = other
            .execute("CREATE TABLE slipped_in (x INTEGER)", [])
            .expect_err("the lock is held");
        assert!(err.to_string().contains("locked"), "{err}");
        sqlx::query("CREATE TABLE ours (x INTEGER)")
            .execute(&mut *tx)
            .await
            .expect("the transaction's write goes through");
        tx.commit().await.unwrap();
        other
            .execute("CREATE TABLE after_commit (x INTEGER)", [])
            .unwrap();
    }
}
