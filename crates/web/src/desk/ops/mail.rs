//! Operations: each checks its input and the caller's permission, calls the store and returns the result.
//! The JSON handlers and the pages both call them.

use crate::AppState;
use crate::auth::Principal;
use crate::error::Failure;
use axum::response::{IntoResponse, Response};
use domain::FieldError;
use domain::authz::Permission;
use serde::Deserialize;
use store::desk::mail::{self, Outcome};

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MailQuery {
    /// `triage` (default), `quarantine` or `ignored`.
    #[schemars(extend("enum" = ["triage", "quarantine", "ignored"]))]
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
