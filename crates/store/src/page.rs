//! Keyset pagination: a page of rows and an opaque cursor for the next one.

use crate::sql::Sql;
use crate::{Db, Result};
use serde::Serialize;
use sqlx::Row;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

/// Where a page starts and how long it is.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    /// The sort key of the last row of the previous page, as returned in [`Page::next_cursor`].
    pub after: Option<String>,
    pub limit: u32,
}

impl PageRequest {
    pub fn first(limit: u32) -> Self {
        Self { after: None, limit }
    }

    /// The limit, clamped to 1..=MAX_LIMIT.
    pub fn limit(&self) -> u32 {
        if self.limit == 0 {
            DEFAULT_LIMIT
        } else {
            self.limit.min(MAX_LIMIT)
        }
    }

    /// Asks for one row more than the page so that we know whether there is a next page.
    pub(crate) fn fetch(&self) -> i64 {
        i64::from(self.limit()) + 1
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Trims the extra row fetched by [`PageRequest::fetch`] and computes the next cursor from the last row.
    pub(crate) fn from_rows(
        mut rows: Vec<T>,
        req: &PageRequest,
        key: impl Fn(&T) -> String,
    ) -> Self {
        let limit = req.limit() as usize;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = if more { rows.last().map(key) } else { None };
        Self {
            items: rows,
            next_cursor,
        }
    }
}

/// Separates documents in an aggregated page: ASCII record separator, which JSON always escapes inside
/// strings, so it never occurs in a document.
const RS: &str = "\u{1e}";

/// Runs `inner` — a query selecting `sort_key` and `doc` columns, ordered by `sort_key` and limited to
/// `page.fetch()` rows — and returns its page of documents, aggregated into one row by the database.
/// sqlx's SQLite driver hands rows one by one from a worker thread, which dominates a 50-row page; one row
/// with the page in it costs a fraction. `string_agg … ORDER BY` is the same in SQLite (3.44+) and
/// PostgreSQL.
pub(crate) async fn fetch_docs(db: &Db, inner: Sql, page: &PageRequest) -> Result<Page<String>> {
    let mut q = Sql::new("SELECT string_agg(doc, ");
    q.bind(RS.to_owned())
        .push(" ORDER BY sort_key) AS docs, string_agg(sort_key, ")
        .bind(RS.to_owned());
    q.push(" ORDER BY sort_key) AS keys FROM (");
    q.append(inner);
    q.push(") AS page_rows");
    let row = q.fetch_optional(&db.read).await?;
    let (docs, keys): (Option<String>, Option<String>) = match &row {
        Some(r) => (r.try_get("docs")?, r.try_get("keys")?),
        None => (None, None),
    };
    let docs: Vec<String> = docs
        .as_deref()
        .map(|d| d.split(RS).map(str::to_owned).collect())
        .unwrap_or_default();
    let keys: Vec<&str> = keys
        .as_deref()
        .map(|k| k.split(RS).collect())
        .unwrap_or_default();
    let limit = page.limit() as usize;
    let next_cursor = (docs.len() > limit)
        .then(|| keys.get(limit - 1).map(|k| (*k).to_owned()))
        .flatten();
    let mut items = docs;
    items.truncate(limit);
    Ok(Page { items, next_cursor })
}
