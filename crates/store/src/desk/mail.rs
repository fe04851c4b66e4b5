//! The mail gateway's ledger: every message taken in and what became of it. Triage and quarantine keep the
//! raw message so that nothing is lost; the desk resolves triage entries by hand.

use crate::page::{Page, PageRequest};
use crate::sql::Sql;
use crate::{Db, Result, StoreError, now_ms};
use domain::ids::UserId;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

/// What became of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ticket,
    Reply,
    Triage,
    Quarantine,
    Ignored,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ticket => "ticket",
            Self::Reply => "reply",
            Self::Triage => "triage",
            Self::Quarantine => "quarantine",
            Self::Ignored => "ignored",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Ticket,
            Self::Reply,
            Self::Triage,
            Self::Quarantine,
            Self::Ignored,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }
}

/// One message in the ledger.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct MailMessage {
    pub id: String,
    pub message_id: Option<String>,
    #[serde(serialize_with = "crate::tenancy::ser_ts")]
    pub received_at: i64,
    pub from_addr: String,
    pub subject: String,
    pub outcome: Outcome,
    pub reason: String,
    pub ticket_number: Option<i64>,
    pub size_bytes: i64,
    #[serde(serialize_with = "crate::tenancy::ser_opt_ts")]
    pub resolved_at: Option<i64>,
}

fn message(r: &AnyRow) -> Result<MailMessage> {
    let outcome: String = r.try_get("outcome")?;
    Ok(MailMessage {
        id: r.try_get("id")?,
        message_id: r.try_get("message_id")?,
        received_at: r.try_get("received_at")?,
        from_addr: r.try_get("from_addr")?,
        subject: r.try_get("subject")?,
        outcome: Outcome::parse(&outcome)
            .ok_or_else(|| StoreError::Corrupt(format!("mail outcome {outcome:?}")))?,
        reason: r.try_get("reason")?,
        ticket_number: r.try_get("ticket_number")?,
        size_bytes: r.try_get("size_bytes")?,
        resolved_at: r.try_get("resolved_at")?,
    })
}

const COLUMNS: &str = "id, message_id, received_at, from_addr, subject, outcome, reason, ticket_number, CAST(COALESCE(LENGTH(raw), 0) AS BIGINT) AS size_bytes, resolved_at";

/// The outcome of a message already taken in under this Message-ID (mail servers retry).
pub async fn seen(db: &Db, message_id: &str) -> Result<Option<MailMessage>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM mail_messages WHERE message_id = $1"
    ))
    .bind(message_id)
    .fetch_optional(&db.read)
    .await?
    .as_ref()
    .map(message)
    .transpose()
}

/// Records a message; `raw` is kept for triage and quarantine. A second record with the same Message-ID is
/// a no-op (returns false).
#[allow(
    clippy::too_many_arguments,
    reason = "one ledger row, written in one place"
)]
pub async fn record(
    db: &Db,
    message_id: Option<&str>,
    from_addr: &str,
    subject: &str,
    outcome: Outcome,
    reason: &str,
    ticket_number: Option<i64>,
    raw: Option<&[u8]>,
) -> Result<bool> {
    let n = sqlx::query("INSERT INTO mail_messages (id, message_id, received_at, from_addr, subject, outcome, reason, ticket_number, raw) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (message_id) DO NOTHING")
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(message_id)
        .bind(now_ms())
        .bind(from_addr.chars().take(320).collect::<String>())
        .bind(subject.chars().take(500).collect::<String>())
        .bind(outcome.as_str())
        .bind(reason.chars().take(1000).collect::<String>())
        .bind(ticket_number)
        .bind(raw.map(<[u8]>::to_vec))
        .execute(&db.write)
        .await?
        .rows_affected();
    Ok(n == 1)
}

/// Messages with an outcome (triage or quarantine for the desk), newest first, unresolved first.
pub async fn list(
    db: &Db,
    outcome: Outcome,
    include_resolved: bool,
    page: &PageRequest,
) -> Result<Page<MailMessage>> {
    let mut q = Sql::new(&format!(
        "SELECT {COLUMNS} FROM mail_messages WHERE outcome = "
    ));
    q.bind(outcome.as_str());
    if !include_resolved {
        q.push(" AND resolved_at IS NULL");
    }
    if let Some(after) = &page.after {
        q.push(" AND id < ").bind(after.clone());
    }
    q.push(" ORDER BY id DESC LIMIT ").bind(page.fetch());
    let items = q
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(message)
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(items, page, |m| m.id.clone()))
}

pub async fn get(db: &Db, id: &str) -> Result<MailMessage> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM mail_messages WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&db.read)
    .await?
    .as_ref()
    .map(message)
    .transpose()?
    .ok_or(StoreError::NotFound)
}

/// The raw message kept for triage or quarantine.
pub async fn raw(db: &Db, id: &str) -> Result<Vec<u8>> {
    sqlx::query("SELECT raw FROM mail_messages WHERE id = $1")
        .bind(id)
        .fetch_optional(&db.read)
        .await?
        .ok_or(StoreError::NotFound)?
        .try_get::<Option<Vec<u8>>, _>("raw")?
        .ok_or(StoreError::NotFound)
}

/// Marks a triage or quarantine entry handled (a ticket opened by hand, or judged junk).
pub async fn resolve(
    db: &Db,
    actor: &crate::audit::Actor,
    id: &str,
    by: UserId,
    ticket_number: Option<i64>,
) -> Result<()> {
    let m = get(db, id).await?;
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("UPDATE mail_messages SET resolved_at = $1, resolved_by = $2, ticket_number = COALESCE($3, ticket_number) WHERE id = $4 AND resolved_at IS NULL")
        .bind(now_ms())
        .bind(by.to_string())
        .bind(ticket_number)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n != 1 {
        return Err(StoreError::Stale);
    }
    super::catalog::log(
        &mut tx,
        actor,
        None,
        "mail.resolve",
        ("mail_message", m.id.clone()),
        Some(serde_json::json!({ "outcome": m.outcome })),
        Some(serde_json::json!({ "ticket_number": ticket_number })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
