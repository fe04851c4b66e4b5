//! The mail gateway's ledger for the desk: triage (unknown senders, replies nobody may write),
//! quarantine (unreadable messages, with the reason) and what was ignored; raw messages; resolving entries.

use super::list;
use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiResult, Failure};
use crate::extract::{ApiJson, ApiQuery, PageParams};
use crate::routes::Table;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use domain::FieldError;
use domain::authz::Permission;
use serde::Deserialize;
use store::desk::mail::{self, Outcome};

pub fn routes(t: Table) -> Table {
    t.get(
        "/api/v1/mail",
        "Messages the mail gateway kept: triage, quarantine, ignored",
        "ticket-work",
        list_mail,
    )
    .get(
        "/api/v1/mail/{id}/raw",
        "The raw message (RFC 5322) as received",
        "ticket-work",
        raw,
    )
    .post(
        "/api/v1/mail/{id}/resolve",
        "Mark a triage or quarantine entry handled (optionally with the ticket opened for it)",
        "ticket-work",
        resolve,
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailQuery {
    /// `triage` (default), `quarantine` or `ignored`.
    pub outcome: Option<String>,
    /// `true` to include entries already handled.
    pub resolved: Option<bool>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl MailQuery {
    pub fn outcome(&self) -> Result<Outcome, Failure> {
        match self.outcome.as_deref().unwrap_or("triage") {
            "triage" => Ok(Outcome::Triage),
            "quarantine" => Ok(Outcome::Quarantine),
            "ignored" => Ok(Outcome::Ignored),
            _ => Err(Failure::Invalid(vec![FieldError::new(
                "outcome",
                "must be triage, quarantine or ignored",
            )])),
        }
    }
}

async fn list_mail(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<MailQuery>,
) -> ApiResult<Response> {
    p.require(Permission::TicketWork)?;
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor.clone(),
    }
    .to_request()?;
    Ok(list(
        mail::list(&s.db, q.outcome()?, q.resolved.unwrap_or(false), &page).await?,
    ))
}

pub async fn raw_response(s: &AppState, p: &Principal, id: &str) -> Result<Response, Failure> {
    p.require(Permission::TicketWork)?;
    let bytes = mail::raw(&s.db, id).await?;
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("message/rfc822"),
    );
    if let Ok(v) = axum::http::HeaderValue::from_str(&format!(
        "attachment; filename=\"message-{}.eml\"",
        id.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "")
    )) {
        h.insert(axum::http::header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        axum::http::header::CONTENT_SECURITY_POLICY,
        axum::http::HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    Ok(r)
}

async fn raw(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    Ok(raw_response(&s, &p, &id).await?)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawResolve {
    /// The ticket opened for this message, if any.
    pub ticket: Option<i64>,
}

/// Marks an entry handled; a ticket number given must be a ticket the person can see.
pub async fn apply_resolve(
    s: &AppState,
    p: &Principal,
    id: &str,
    ticket: Option<i64>,
) -> Result<(), Failure> {
    p.require(Permission::TicketWork)?;
    if let Some(n) = ticket
        && store::desk::tickets::get(&s.db, &p.ticket_view()?, n)
            .await
            .is_err()
    {
        return Err(Failure::Invalid(vec![FieldError::new(
            "ticket",
            "is not a ticket you can see",
        )]));
    }
    mail::resolve(&s.db, &p.actor(), id, p.user.id, ticket)
        .await
        .map_err(|e| match e {
            store::StoreError::Stale => Failure::Invalid(vec![FieldError::new(
                "id",
                "this message is already handled",
            )]),
            e => e.into(),
        })
}

async fn resolve(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiJson(raw): ApiJson<RawResolve>,
) -> ApiResult<Response> {
    apply_resolve(&s, &p, &id, raw.ticket).await?;
    Ok(Json(mail::get(&s.db, &id).await?).into_response())
}
