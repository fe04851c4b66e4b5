//! Full-text search over tickets (subject, description and public replies): SQLite FTS5 or PostgreSQL
//! `tsvector`, keyed by ticket number. The index is derived data: written in the same transaction as the
//! ticket, skipped by backups and rebuilt on restore.

use crate::sql::Sql;
use crate::{Backend, Db, Result};
use sqlx::{Any, Row, Transaction};

/// The words of a person's query, each quoted for FTS5 (so that `"`, `*`, `AND`, `-` are plain text).
fn fts5_query(text: &str) -> String {
    text.split_whitespace()
        .map(|w| w.replace('"', ""))
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{w}\""))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Joins the index to `t` (tickets) so that only matches remain, starting the `WHERE` clause.
pub(crate) fn join(q: &mut Sql, backend: Backend, text: &str) {
    match backend {
        Backend::Sqlite => {
            q.push(" JOIN ticket_fts f ON f.rowid = t.number WHERE ticket_fts MATCH ")
                .bind(fts5_query(text));
        }
        Backend::Postgres => {
            q.push(" JOIN ticket_fts f ON f.number = t.number WHERE f.doc @@ websearch_to_tsquery('english', ")
                .bind(text.to_owned())
                .push(")");
        }
    }
}

pub(crate) async fn index_new(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    number: i64,
    subject: &str,
    body: &str,
) -> Result<()> {
    index_new_sql(backend, number, subject, body)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The statement [`index_new`] runs, for batches.
pub(crate) fn index_new_sql(backend: Backend, number: i64, subject: &str, body: &str) -> Sql {
    let mut q = Sql::new(match backend {
        Backend::Sqlite => "INSERT INTO ticket_fts (rowid, subject, body) VALUES (",
        Backend::Postgres => "INSERT INTO ticket_fts (number, doc) VALUES (",
    });
    q.bind(number).push(", ");
    match backend {
        Backend::Sqlite => {
            q.bind(super::kb::with_joined_words(subject))
                .push(", ")
                .bind(super::kb::with_joined_words(body))
                .push(")");
        }
        Backend::Postgres => {
            q.push("setweight(to_tsvector('english', ")
                .bind(super::kb::with_joined_words(subject))
                .push("), 'A') || to_tsvector('english', ")
                .bind(super::kb::with_joined_words(body))
                .push("))");
        }
    }
    q
}

pub(crate) async fn index_reply(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    number: i64,
    reply: &str,
) -> Result<()> {
    let sql = match backend {
        Backend::Sqlite => "UPDATE ticket_fts SET body = body || char(10) || $2 WHERE rowid = $1",
        Backend::Postgres => {
            "UPDATE ticket_fts SET doc = doc || to_tsvector('english', $2) WHERE number = $1"
        }
    };
    sqlx::query(sql)
        .bind(number)
        .bind(super::kb::with_joined_words(reply))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Rebuilds the whole index from the tickets and their public replies (after a restore).
pub async fn rebuild(db: &Db) -> Result<u64> {
    let mut tx = db.write.begin().await?;
    sqlx::query("DELETE FROM ticket_fts")
        .execute(&mut *tx)
        .await?;
    let rows = sqlx::query("SELECT t.number, t.subject, t.description, (SELECT COUNT(*) FROM ticket_events e WHERE e.ticket_id = t.id) AS n FROM tickets t ORDER BY t.number")
        .fetch_all(&mut *tx)
        .await?;
    let mut done = 0;
    for r in &rows {
        let number: i64 = r.try_get("number")?;
        let subject: String = r.try_get("subject")?;
        let description: String = r.try_get("description")?;
        let replies = sqlx::query("SELECT e.body FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id WHERE t.number = $1 AND e.kind = 'reply' AND e.public = 1 ORDER BY e.at")
            .bind(number)
            .fetch_all(&mut *tx)
            .await?;
        let mut body = description;
        for reply in &replies {
            if let Some(b) = reply.try_get::<Option<String>, _>("body")? {
                body.push('\n');
                body.push_str(&b);
            }
        }
        index_new(&mut tx, db.backend(), number, &subject, &body).await?;
        done += 1;
    }
    tx.commit().await?;
    Ok(done)
}
