//! The organisation directory, kept in memory. It is small (a region has hundreds of organisations, a few
//! thousand at most), changes rarely, and is read on nearly every request: each page's organisation switcher
//! and the API's organisation list. Reading it from SQLite costs a read transaction — file and shared-memory
//! locks — every time; here it is read once and served from memory until it changes.
//!
//! Freshness: every write to `orgs` through this process invalidates the copy as it commits (a generation
//! counter); writes by another process (the CLI, a second server on PostgreSQL) are seen within
//! [`FRESH_FOR`], the same bound the web layer's principal cache keeps.

use super::orgs::Filter;
use crate::page::{DocPage, PageRequest};
use crate::row::Cols;
use crate::{Db, Result, Scope};
use domain::ids::OrgId;
use sqlx::Row;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How long a copy is trusted without a write through this process.
pub const FRESH_FOR: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
pub(crate) struct OrgCache {
    generation: AtomicU64,
    current: RwLock<Option<Arc<Snapshot>>>,
    /// One reload at a time: a burst of requests at expiry waits for one read instead of making many.
    reload: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
struct Snapshot {
    generation: u64,
    loaded: Instant,
    /// By slug, in byte order (the order of the keyset cursor).
    rows: Vec<Entry>,
    /// Indexes into `rows`, hub first then by name: the switcher's order.
    by_name: Vec<usize>,
}

#[derive(Debug)]
struct Entry {
    id: OrgId,
    slug: String,
    name: String,
    name_lower: String,
    kind: String,
    is_hub: bool,
    active: bool,
    doc: Box<[u8]>,
}

impl OrgCache {
    /// Forgets the copy: called after every committed write to `orgs`.
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn fresh(&self) -> Option<Arc<Snapshot>> {
        let generation = self.generation.load(Ordering::SeqCst);
        let guard = self.current.read().ok()?;
        guard
            .as_ref()
            .filter(|s| s.generation == generation && s.loaded.elapsed() < FRESH_FOR)
            .cloned()
    }

    async fn snapshot(&self, db: &Db) -> Result<Arc<Snapshot>> {
        if let Some(s) = self.fresh() {
            return Ok(s);
        }
        let _one = self.reload.lock().await;
        if let Some(s) = self.fresh() {
            return Ok(s);
        }
        // Taken before reading: a write that commits meanwhile makes this copy stale at once.
        let generation = self.generation.load(Ordering::SeqCst);
        let loaded = Instant::now();
        let rows = sqlx::query(
            "SELECT id, slug, name, kind, is_hub, active, api_doc FROM orgs ORDER BY slug",
        )
        .fetch_all(&db.read)
        .await?;
        let mut entries = rows
            .iter()
            .map(|r| {
                let name: String = r.try_get("name")?;
                Ok(Entry {
                    id: r.id("id")?,
                    slug: r.try_get("slug")?,
                    name_lower: name.to_lowercase(),
                    name,
                    kind: r.try_get("kind")?,
                    is_hub: r.flag("is_hub")?,
                    active: r.flag("active")?,
                    doc: r.try_get::<String, _>("api_doc")?.into_bytes().into(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // Byte order whatever the database's collation, so that the cursor comparison below agrees.
        entries.sort_by(|a, b| a.slug.cmp(&b.slug));
        let mut by_name: Vec<usize> = (0..entries.len()).collect();
        by_name.sort_by(|&a, &b| {
            let (a, b) = (&entries[a], &entries[b]);
            b.is_hub.cmp(&a.is_hub).then_with(|| a.name.cmp(&b.name))
        });
        let snap = Arc::new(Snapshot {
            generation,
            loaded,
            rows: entries,
            by_name,
        });
        if let Ok(mut current) = self.current.write() {
            *current = Some(snap.clone());
        }
        Ok(snap)
    }
}

fn in_scope(scope: &Scope, id: OrgId) -> bool {
    match scope {
        Scope::Region => true,
        Scope::Orgs(orgs) => orgs.contains(&id),
    }
}

impl Entry {
    fn matches(&self, f: &Filter, text: Option<&str>) -> bool {
        text.is_none_or(|t| self.name_lower.contains(t) || self.slug.contains(t))
            && f.kind.is_none_or(|k| self.kind == k.as_str())
            && f.active.is_none_or(|a| self.active == a)
    }
}

/// The API's page of organisations (see [`super::orgs::list_docs`]), from the directory in memory.
pub(crate) async fn list_docs(
    db: &Db,
    scope: &Scope,
    f: &Filter,
    page: &PageRequest,
) -> Result<DocPage> {
    let snap = db.orgs.snapshot(db).await?;
    // The same text match as the SQL list: case-insensitive substring of the name or the slug.
    let text =
        f.q.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_lowercase);
    let start = page.after.as_deref().map_or(0, |after| {
        snap.rows.partition_point(|e| e.slug.as_str() <= after)
    });
    let limit = page.limit() as usize;
    let mut out = DocPage::with_capacity(limit * 700);
    for e in snap.rows[start..]
        .iter()
        .filter(|e| in_scope(scope, e.id) && e.matches(f, text.as_deref()))
        .take(limit + 1)
    {
        out.push(limit, &e.slug, &e.doc);
    }
    Ok(out.finish(limit))
}

/// Names of organisations in scope (only `only`, when given), hub first then by name, at most `limit`.
pub(crate) async fn names(
    db: &Db,
    scope: &Scope,
    only: Option<&[OrgId]>,
    limit: i64,
) -> Result<Vec<super::orgs::OrgName>> {
    let snap = db.orgs.snapshot(db).await?;
    Ok(snap
        .by_name
        .iter()
        .map(|&i| &snap.rows[i])
        .filter(|e| in_scope(scope, e.id) && only.is_none_or(|ids| ids.contains(&e.id)))
        .take(usize::try_from(limit).unwrap_or(0))
        .map(|e| super::orgs::OrgName {
            id: e.id,
            slug: e.slug.clone(),
            name: e.name.clone(),
        })
        .collect())
}

/// The id of the organisation `slug`, if it is in scope.
pub(crate) async fn id_by_slug(db: &Db, scope: &Scope, slug: &str) -> Result<Option<OrgId>> {
    let snap = db.orgs.snapshot(db).await?;
    Ok(snap
        .rows
        .binary_search_by(|e| e.slug.as_str().cmp(slug))
        .ok()
        .map(|i| snap.rows[i].id)
        .filter(|id| in_scope(scope, *id)))
}
