//! A direct read path for SQLite, for the busiest short reads. sqlx runs each SQLite connection on a
//! thread of its own and streams rows to the async task one message at a time; for a 50-row page the
//! hand-offs cost several times the query (see docs/PERFORMANCE.md). Here a few read-only connections are
//! used synchronously on the calling thread: one short query, no hand-off. Only for reads that take tens of
//! microseconds (indexed, bounded pages); anything else goes through sqlx. WAL mode lets these readers run
//! beside the writer.

use crate::sql::{Param, Sql};
use rusqlite::{Connection, OpenFlags};
use std::sync::Mutex;

pub(crate) struct SqliteReaders {
    conns: Vec<Mutex<Connection>>,
}

impl std::fmt::Debug for SqliteReaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SqliteReaders({})", self.conns.len())
    }
}

impl SqliteReaders {
    /// Opens `n` read-only connections to the database file at `path`.
    pub fn open(path: &str, n: usize) -> rusqlite::Result<Self> {
        let mut conns = Vec::with_capacity(n);
        for _ in 0..n.max(1) {
            let c = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_URI,
            )?;
            c.busy_timeout(std::time::Duration::from_secs(1))?;
            c.set_prepared_statement_cache_capacity(64);
            // The operating system caches the file for every connection; each keeps only a small cache.
            c.pragma_update(None, "cache_size", -1000)?;
            conns.push(Mutex::new(c));
        }
        Ok(Self { conns })
    }

    /// Runs `q` on a free connection and hands each row to `each`; `None` when every connection is busy
    /// (the caller then uses sqlx, so a burst never queues behind a lock).
    pub fn try_for_each(
        &self,
        q: &Sql,
        mut each: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<()>,
    ) -> Option<rusqlite::Result<()>> {
        let conn = self.conns.iter().find_map(|m| m.try_lock().ok())?;
        Some((|| {
            let mut stmt = conn.prepare_cached(q.text())?;
            for (i, p) in q.params().iter().enumerate() {
                match p {
                    Param::Int(v) => stmt.raw_bind_parameter(i + 1, v)?,
                    Param::Text(v) => stmt.raw_bind_parameter(i + 1, v.as_str())?,
                }
            }
            let mut rows = stmt.raw_query();
            while let Some(r) = rows.next()? {
                each(r)?;
            }
            Ok(())
        })())
    }
}
