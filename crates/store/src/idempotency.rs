//! `Idempotency-Key` on POST: the first request with a key reserves it, runs, and stores its response; a
//! retry with the same key and the same request gets the stored response; the same key with a different
//! request is refused; a retry while the first is still running is told to wait.

use crate::{Db, Result, now_ms};
use sqlx::Row;

/// What a key already holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// The key is new and now reserved for this request.
    Reserved,
    /// A request with this key is still running.
    InProgress,
    /// A different request used this key.
    Mismatch,
    /// The stored response to replay.
    Done {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
}

/// Keys are kept for a day.
pub const RETENTION_MS: i64 = 24 * 60 * 60 * 1000;

pub async fn reserve(db: &Db, user: &str, key: &str, fingerprint: &str) -> Result<Reservation> {
    let now = now_ms();
    sqlx::query("DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND created_at < $3")
        .bind(user)
        .bind(key)
        .bind(now - RETENTION_MS)
        .execute(&db.write)
        .await?;
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (user_id, key, request_fingerprint, status, headers, body, created_at) \
         VALUES ($1, $2, $3, 0, '[]', '', $4) ON CONFLICT (user_id, key) DO NOTHING",
    )
    .bind(user)
    .bind(key)
    .bind(fingerprint)
    .bind(now)
    .execute(&db.write)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(Reservation::Reserved);
    }
    let r = sqlx::query("SELECT request_fingerprint, status, headers, body FROM idempotency_keys WHERE user_id = $1 AND key = $2")
        .bind(user)
        .bind(key)
        .fetch_one(&db.write)
        .await?;
    let stored_fp: String = r.try_get("request_fingerprint")?;
    let status: i64 = r.try_get("status")?;
    if stored_fp != fingerprint {
        return Ok(Reservation::Mismatch);
    }
    if status == 0 {
        return Ok(Reservation::InProgress);
    }
    let headers: String = r.try_get("headers")?;
    Ok(Reservation::Done {
        status: u16::try_from(status).unwrap_or(500),
        headers: serde_json::from_str(&headers).unwrap_or_default(),
        body: r.try_get("body")?,
    })
}

pub async fn complete(
    db: &Db,
    user: &str,
    key: &str,
    status: u16,
    headers: &[(String, String)],
    body: &str,
) -> Result<()> {
    sqlx::query("UPDATE idempotency_keys SET status = $1, headers = $2, body = $3 WHERE user_id = $4 AND key = $5")
        .bind(i64::from(status))
        .bind(serde_json::to_string(headers).unwrap_or_else(|_| "[]".into()))
        .bind(body)
        .bind(user)
        .bind(key)
        .execute(&db.write)
        .await?;
    Ok(())
}

/// Forgets a reservation whose request failed on the server, so that a retry runs again.
pub async fn release(db: &Db, user: &str, key: &str) -> Result<()> {
    sqlx::query("DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND status = 0")
        .bind(user)
        .bind(key)
        .execute(&db.write)
        .await?;
    Ok(())
}

/// Removes keys older than the retention period: a recurring job.
pub async fn purge_expired(db: &Db) -> Result<u64> {
    Ok(
        sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(now_ms() - RETENTION_MS)
            .execute(&db.write)
            .await?
            .rows_affected(),
    )
}
