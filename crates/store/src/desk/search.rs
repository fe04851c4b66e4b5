//! Full-text search over tickets (subject, description and public replies): SQLite FTS5 or PostgreSQL
//! `tsvector`, keyed by ticket number. The index is derived data: written in the same transaction as the
//! ticket, skipped by backups and rebuilt on restore.

use crate::sql::Sql;
use crate::{Backend, Db, Result};
use sqlx::{Any, Row, Transaction};

/// The words of a person's query: split at white space, with NULs and other control characters dropped
/// (neither backend accepts a NUL in a query, and they are never in what was indexed). People's words are
/// search terms, never query syntax: see [`fts5_terms`] and [`pg_terms`].
pub(crate) fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| w.chars().filter(|c| !c.is_control()).collect::<String>())
        .filter(|w| !w.is_empty())
        .collect()
}

/// The words as an FTS5 query: each one a quoted string with its inner quotes doubled, so that `"`, `*`,
/// `AND`, `NEAR`, `-`, `:` and `^` are plain text; joined by `joiner` (" " for all of them, " OR " for any).
/// None when no word is left: the caller matches nothing rather than sending FTS5 an empty query, which
/// is a syntax error.
pub(crate) fn fts5_terms(text: &str, joiner: &str) -> Option<String> {
    let w = words(text);
    (!w.is_empty()).then(|| {
        w.iter()
            .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(joiner)
    })
}

/// The words as plain text for PostgreSQL's `plainto_tsquery`, which reads no operators at all (unlike
/// `websearch_to_tsquery` or `to_tsquery`).
pub(crate) fn pg_terms(text: &str) -> String {
    words(text).join(" ")
}

/// Joins the index to `t` (tickets) so that only matches remain, starting the `WHERE` clause. Every word
/// must match. A query without a word matches nothing.
pub(crate) fn join(q: &mut Sql, backend: Backend, text: &str) {
    match backend {
        Backend::Sqlite => match fts5_terms(text, " ") {
            Some(terms) => {
                q.push(" JOIN ticket_fts f ON f.rowid = t.number WHERE ticket_fts MATCH ")
                    .bind(terms);
            }
            None => {
                // Joined all the same: the ordering names the index's columns.
                q.push(" JOIN ticket_fts f ON f.rowid = t.number WHERE 1 = 0");
            }
        },
        Backend::Postgres => {
            q.push(" JOIN ticket_fts f ON f.number = t.number WHERE f.doc @@ plainto_tsquery('english', ")
                .bind(pg_terms(text))
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
    let mut tx = db.begin_write().await?;
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
