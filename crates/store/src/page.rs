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

/// Runs `inner` — a query selecting `sort_key` and `doc` columns, ordered by `sort_key` and limited to
/// `page.fetch()` rows — and returns its page of stored JSON documents without decoding them.
pub(crate) async fn fetch_docs(db: &Db, inner: Sql, page: &PageRequest) -> Result<Page<String>> {
    let rows = inner.fetch_all(&db.read).await?;
    let mut items = Vec::with_capacity(rows.len());
    let mut keys = Vec::with_capacity(rows.len());
    for r in &rows {
        keys.push(r.try_get::<String, _>("sort_key")?);
        items.push(r.try_get::<String, _>("doc")?);
    }
    let limit = page.limit() as usize;
    let next_cursor = (items.len() > limit)
        .then(|| keys.get(limit - 1).cloned())
        .flatten();
    items.truncate(limit);
    Ok(Page { items, next_cursor })
}
