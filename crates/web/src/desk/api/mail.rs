//! The mail gateway's ledger for the desk: triage (unknown senders, replies nobody may write),
//! quarantine (unreadable messages, with the reason) and what was ignored; raw messages; resolving entries.

use crate::AppState;
use crate::auth::Principal;
use crate::desk::ops::mail::{MailQuery, apply_resolve, raw_response};
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery, PageParams};
use crate::json::{Answer, Body};
use crate::routes::{Needs, Table};
use axum::extract::{Path, State};
use axum::response::Response;
use domain::authz::Permission;
use serde::Deserialize;
use store::desk::mail::{self};

pub fn routes(t: Table) -> Table {
    t.get(
        "/api/v1/mail",
        "Messages the mail gateway kept: triage, quarantine, ignored",
        Needs::Perm(Permission::TicketWork),
        list_mail,
    )
    .get(
        "/api/v1/mail/{id}/raw",
        "The raw message (RFC 5322) as received",
        Needs::Perm(Permission::TicketWork),
        raw,
    )
    .post(
        "/api/v1/mail/{id}/resolve",
        "Mark a triage or quarantine entry handled (optionally with the ticket opened for it)",
        Needs::Perm(Permission::TicketWork),
        resolve,
    )
}

async fn list_mail(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<MailQuery>,
) -> ApiResult<Answer<impl Body>> {
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor.clone(),
    }
    .to_request()?;
    Ok(Answer::page(
        mail::list(&s.db, q.outcome()?, q.resolved.unwrap_or(false), &page).await?,
    ))
}

async fn raw(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    Ok(raw_response(&s, &p, &id).await?)
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawResolve {
    /// The ticket opened for this message, if any.
    pub ticket: Option<i64>,
}

async fn resolve(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiJson(raw): ApiJson<RawResolve>,
) -> ApiResult<Answer<impl Body>> {
    apply_resolve(&s, &p, &id, raw.ticket).await?;
    Ok(Answer::ok(&mail::get(&s.db, &id).await?))
}
