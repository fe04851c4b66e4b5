//! The knowledge base: articles with a category, draft or published, and a visibility — the desk only,
//! every member, or one member. Full-text search (FTS5 / tsvector, keyed by `seq`); articles link to tickets.

use super::catalog::{log, to_json};
use crate::audit::Actor;
use crate::sql::Sql;
use crate::{Backend, Db, Result, Scope, StoreError, now_ms, parse_id};
use domain::desk::{ArticleStatus, Visibility};
use domain::ids::{OrgId, ServiceId, UserId};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Article {
    pub id: String,
    pub title: String,
    pub body: String,
    pub category: String,
    pub status: ArticleStatus,
    pub visibility: Visibility,
    pub org_id: Option<OrgId>,
    pub service_id: Option<ServiceId>,
    pub author_id: Option<UserId>,
    #[serde(serialize_with = "crate::tenancy::ser_ts")]
    pub created_at: i64,
    #[serde(serialize_with = "crate::tenancy::ser_ts")]
    pub updated_at: i64,
    pub version: i64,
}

/// What an article says, checked by the web layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub title: String,
    pub body: String,
    pub category: String,
    pub status: ArticleStatus,
    pub visibility: Visibility,
    pub org_id: Option<OrgId>,
    pub service_id: Option<ServiceId>,
}

/// Who reads: the desk reads everything (drafts too); others read published articles for every member and
/// those for their own organisations.
#[derive(Debug, Clone)]
pub enum Reader {
    Desk,
    Member(Scope),
}

fn article(r: &AnyRow) -> Result<Article> {
    let opt = |c: &str| -> Result<Option<String>> { Ok(r.try_get::<Option<String>, _>(c)?) };
    Ok(Article {
        id: r.try_get("id")?,
        title: r.try_get("title")?,
        body: r.try_get("body")?,
        category: r.try_get("category")?,
        status: ArticleStatus::parse(&r.try_get::<String, _>("status")?)
            .map_err(|e| StoreError::Corrupt(e.message))?,
        visibility: Visibility::parse(&r.try_get::<String, _>("visibility")?)
            .map_err(|e| StoreError::Corrupt(e.message))?,
        org_id: opt("org_id")?.map(|s| parse_id(&s)).transpose()?,
        service_id: opt("service_id")?.map(|s| parse_id(&s)).transpose()?,
        author_id: opt("author_id")?.map(|s| parse_id(&s)).transpose()?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        version: r.try_get("version")?,
    })
}

fn visible(q: &mut Sql, reader: &Reader) {
    if let Reader::Member(scope) = reader {
        q.push(" AND a.status = 'published' AND (a.visibility = 'members' OR (a.visibility = 'member' AND ");
        q.scope_cond("a.org_id", scope);
        q.push("))");
    }
}

/// Articles the reader may see, newest first, optionally matching words (best match first) or a category.
pub async fn search(
    db: &Db,
    reader: &Reader,
    text: Option<&str>,
    category: Option<&str>,
    limit: i64,
) -> Result<Vec<Article>> {
    let text = text.map(str::trim).filter(|t| !t.is_empty());
    let mut q = Sql::new("SELECT a.* FROM kb_articles a");
    // Any of the words matches (suggestions work from a ticket's subject). People's words are terms, never
    // query syntax (see `search::words`); a query without a word matches nothing.
    if text.is_some_and(|t| super::search::words(t).is_empty()) {
        return Ok(Vec::new());
    }
    // PostgreSQL: plainto_tsquery reads no operators and joins the lexemes with AND; they are re-joined
    // with OR (a lexeme never holds a space, so " & " is only ever the operator).
    let pg_any = |q: &mut Sql, t: &str| {
        q.push("replace(plainto_tsquery('english', ")
            .bind(super::search::pg_terms(t))
            .push(")::text, ' & ', ' | ')::tsquery");
    };
    match (text, db.backend()) {
        (Some(t), Backend::Sqlite) => {
            q.push(" JOIN kb_fts f ON f.rowid = a.seq WHERE kb_fts MATCH ")
                .bind(super::search::fts5_terms(t, " OR ").unwrap_or_default());
        }
        (Some(t), Backend::Postgres) => {
            q.push(" JOIN kb_fts f ON f.seq = a.seq WHERE f.doc @@ ");
            pg_any(&mut q, t);
        }
        (None, _) => {
            q.push(" WHERE 1 = 1");
        }
    }
    visible(&mut q, reader);
    if let Some(c) = category.map(str::trim).filter(|c| !c.is_empty()) {
        q.push(" AND a.category = ").bind(c.to_owned());
    }
    match (text, db.backend()) {
        (Some(_), Backend::Sqlite) => q.push(" ORDER BY bm25(kb_fts), a.updated_at DESC"),
        (Some(t), Backend::Postgres) => {
            q.push(" ORDER BY ts_rank(f.doc, ");
            pg_any(&mut q, t);
            q.push(") DESC, a.updated_at DESC")
        }
        (None, _) => q.push(" ORDER BY a.updated_at DESC"),
    };
    q.push(" LIMIT ").bind(limit.clamp(1, 200));
    q.fetch_all(&db.read).await?.iter().map(article).collect()
}

pub async fn get(db: &Db, reader: &Reader, id: &str) -> Result<Article> {
    let mut q = Sql::new("SELECT a.* FROM kb_articles a WHERE a.id = ");
    q.bind(id.to_owned());
    visible(&mut q, reader);
    q.fetch_optional(&db.read)
        .await?
        .as_ref()
        .map(article)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

/// Which of `ids` the reader may read (for naming articles that records refer to).
pub(crate) async fn readable(
    db: &Db,
    reader: &Reader,
    ids: &[String],
) -> Result<std::collections::BTreeSet<String>> {
    if ids.is_empty() {
        return Ok(std::collections::BTreeSet::new());
    }
    let mut q = Sql::new("SELECT a.id FROM kb_articles a WHERE a.id IN (");
    crate::refs::in_list(&mut q, ids.iter().cloned());
    q.push(")");
    visible(&mut q, reader);
    q.fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| Ok(r.try_get("id")?))
        .collect()
}

/// The categories in use (for filters).
pub async fn categories(db: &Db, reader: &Reader) -> Result<Vec<String>> {
    let mut q = Sql::new("SELECT DISTINCT a.category FROM kb_articles a WHERE a.category <> ''");
    visible(&mut q, reader);
    q.push(" ORDER BY a.category");
    q.fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| Ok(r.try_get("category")?))
        .collect()
}

/// Hyphenated words also indexed joined ("Wi-Fi" → "WiFi"), so that people who type "wifi" find them.
pub(crate) fn with_joined_words(text: &str) -> String {
    let joined: Vec<String> = text
        .split(|c: char| c.is_whitespace() || ",.;:!?()[]\"'".contains(c))
        .filter(|w| w.contains('-') && w.chars().any(char::is_alphabetic))
        .map(|w| w.replace('-', ""))
        .collect();
    if joined.is_empty() {
        text.to_owned()
    } else {
        format!("{text}\n{}", joined.join(" "))
    }
}

async fn index(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    seq: i64,
    title: &str,
    body: &str,
    replace: bool,
) -> Result<()> {
    let title = &with_joined_words(title);
    let body = &with_joined_words(body);
    if replace {
        let del = match backend {
            Backend::Sqlite => "DELETE FROM kb_fts WHERE rowid = $1",
            Backend::Postgres => "DELETE FROM kb_fts WHERE seq = $1",
        };
        sqlx::query(del).bind(seq).execute(&mut **tx).await?;
    }
    let ins = match backend {
        Backend::Sqlite => "INSERT INTO kb_fts (rowid, title, body) VALUES ($1, $2, $3)",
        Backend::Postgres => {
            "INSERT INTO kb_fts (seq, doc) VALUES ($1, setweight(to_tsvector('english', $2), 'A') || to_tsvector('english', $3))"
        }
    };
    sqlx::query(ins)
        .bind(seq)
        .bind(title)
        .bind(body)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn create(db: &Db, actor: &Actor, d: &Draft) -> Result<Article> {
    let now = now_ms();
    let a = Article {
        id: uuid::Uuid::now_v7().to_string(),
        title: d.title.clone(),
        body: d.body.clone(),
        category: d.category.clone(),
        status: d.status,
        visibility: d.visibility,
        org_id: d.org_id,
        service_id: d.service_id,
        author_id: actor.user_id,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let mut tx = db.begin_write().await?;
    let seq: i64 =
        sqlx::query("UPDATE counters SET value = value + 1 WHERE name = 'kb' RETURNING value")
            .fetch_one(&mut *tx)
            .await?
            .try_get("value")?;
    sqlx::query("INSERT INTO kb_articles (id, seq, title, body, category, status, visibility, org_id, service_id, author_id, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, 1)")
        .bind(&a.id)
        .bind(seq)
        .bind(&a.title)
        .bind(&a.body)
        .bind(&a.category)
        .bind(a.status.as_str())
        .bind(a.visibility.as_str())
        .bind(a.org_id.map(|o| o.to_string()))
        .bind(a.service_id.map(|o| o.to_string()))
        .bind(a.author_id.map(|o| o.to_string()))
        .bind(now)
        .execute(&mut *tx)
        .await?;
    index(&mut tx, db.backend(), seq, &a.title, &a.body, false).await?;
    log(
        &mut tx,
        actor,
        a.org_id,
        "article.create",
        ("article", a.id.clone()),
        None,
        Some(to_json(&a)?),
    )
    .await?;
    tx.commit().await?;
    Ok(a)
}

pub async fn update(
    db: &Db,
    actor: &Actor,
    id: &str,
    version: Option<i64>,
    d: &Draft,
) -> Result<Article> {
    let before = get(db, &Reader::Desk, id).await?;
    if version.is_some_and(|v| v != before.version) {
        return Err(StoreError::Stale);
    }
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    let row = sqlx::query("UPDATE kb_articles SET title = $1, body = $2, category = $3, status = $4, visibility = $5, org_id = $6, service_id = $7, updated_at = $8, version = version + 1 WHERE id = $9 AND version = $10 RETURNING seq")
        .bind(&d.title)
        .bind(&d.body)
        .bind(&d.category)
        .bind(d.status.as_str())
        .bind(d.visibility.as_str())
        .bind(d.org_id.map(|o| o.to_string()))
        .bind(d.service_id.map(|o| o.to_string()))
        .bind(now)
        .bind(id)
        .bind(before.version)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::Stale)?;
    let seq: i64 = row.try_get("seq")?;
    index(&mut tx, db.backend(), seq, &d.title, &d.body, true).await?;
    let after = Article {
        title: d.title.clone(),
        body: d.body.clone(),
        category: d.category.clone(),
        status: d.status,
        visibility: d.visibility,
        org_id: d.org_id,
        service_id: d.service_id,
        updated_at: now,
        version: before.version + 1,
        ..before.clone()
    };
    log(
        &mut tx,
        actor,
        after.org_id,
        "article.update",
        ("article", id.to_owned()),
        Some(to_json(&before)?),
        Some(to_json(&after)?),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Links an article to a ticket (the desk points a requester at it).
pub async fn link_ticket(
    db: &Db,
    view: &domain::authz::TicketView,
    actor: &Actor,
    number: i64,
    article_id: &str,
) -> Result<()> {
    let t = super::tickets::get(db, view, number).await?;
    let a = get(db, &Reader::Desk, article_id)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => {
                StoreError::Invalid(domain::Invalid::one("article", "is not an article"))
            }
            e => e,
        })?;
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO ticket_articles (ticket_id, article_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(t.id.to_string())
        .bind(&a.id)
        .execute(&mut *tx)
        .await?;
    log(
        &mut tx,
        actor,
        Some(t.org_id),
        "ticket.article",
        ("ticket", t.id.to_string()),
        None,
        // The article by id only: it may be internal, or another member's (the audit list names none).
        Some(serde_json::json!({ "number": t.number, "article": a.id })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The articles linked to a ticket that the reader may see: (id, title).
pub async fn for_ticket(
    db: &Db,
    reader: &Reader,
    ticket: domain::ids::TicketId,
) -> Result<Vec<(String, String)>> {
    let mut q = Sql::new(
        "SELECT a.id, a.title FROM ticket_articles ta JOIN kb_articles a ON a.id = ta.article_id WHERE ta.ticket_id = ",
    );
    q.bind(ticket.to_string());
    visible(&mut q, reader);
    q.push(" ORDER BY a.title");
    q.fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("title")?)))
        .collect()
}

/// Rebuilds the search index (after a restore).
pub async fn rebuild(db: &Db) -> Result<()> {
    let mut tx = db.begin_write().await?;
    sqlx::query("DELETE FROM kb_fts").execute(&mut *tx).await?;
    for r in sqlx::query("SELECT seq, title, body FROM kb_articles")
        .fetch_all(&mut *tx)
        .await?
    {
        index(
            &mut tx,
            db.backend(),
            r.try_get("seq")?,
            &r.try_get::<String, _>("title")?,
            &r.try_get::<String, _>("body")?,
            false,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
