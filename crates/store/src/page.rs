//! Keyset pagination: a page of rows and an opaque cursor for the next one.

use serde::Serialize;

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

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
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

/// A page of stored JSON documents, already joined: the inside of a JSON array, ready to send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocPage {
    /// `doc,doc,…` as bytes (empty for an empty page).
    pub items_json: Vec<u8>,
    pub count: usize,
    pub next_cursor: Option<String>,
}

impl DocPage {
    pub(crate) fn with_capacity(bytes: usize) -> Self {
        Self {
            items_json: Vec::with_capacity(bytes),
            ..Self::default()
        }
    }

    pub(crate) fn push(&mut self, limit: usize, key: &str, doc: &[u8]) {
        if self.count < limit {
            if self.count > 0 {
                self.items_json.push(b',');
            }
            self.items_json.extend_from_slice(doc);
            self.count += 1;
            if self.count == limit {
                // Remember where this page ends; it becomes the cursor if another row follows.
                self.next_cursor = Some(key.to_owned());
            }
        } else {
            self.count += 1;
        }
    }

    pub(crate) fn finish(mut self, limit: usize) -> Self {
        if self.count <= limit {
            self.next_cursor = None;
        }
        self.count = self.count.min(limit);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Simulates the database: rows after the cursor, in order, `fetch()` of them.
    fn query(rows: &[String], req: &PageRequest) -> Vec<String> {
        rows.iter()
            .filter(|r| req.after.as_ref().is_none_or(|a| *r > a))
            .take(usize::try_from(req.fetch()).unwrap())
            .cloned()
            .collect()
    }

    proptest! {
        #[test]
        fn paging_visits_every_row_once_in_order(mut rows in proptest::collection::btree_set("[a-z]{1,6}", 0..120), limit in 1u32..30) {
            let rows: Vec<String> = std::mem::take(&mut rows).into_iter().collect();
            let mut seen = Vec::new();
            let mut req = PageRequest::first(limit);
            loop {
                let page = Page::from_rows(query(&rows, &req), &req, Clone::clone);
                prop_assert!(page.items.len() <= limit as usize);
                seen.extend(page.items.iter().cloned());
                match page.next_cursor {
                    Some(c) => req = PageRequest { after: Some(c), limit },
                    None => break,
                }
            }
            prop_assert_eq!(seen, rows);
        }
    }

    #[test]
    fn limits_are_clamped() {
        assert_eq!(PageRequest::first(0).limit(), DEFAULT_LIMIT);
        assert_eq!(PageRequest::first(10_000).limit(), MAX_LIMIT);
    }
}
