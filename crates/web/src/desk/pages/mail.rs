//! The desk's mail page: triage and quarantine, with the raw messages and a way to mark them handled.

use crate::AppState;
use crate::auth::Principal;
use crate::desk::ops::mail::{MailQuery, apply_resolve, raw_response};
use crate::error::{Failure, PageResult};
use crate::extract::PageQueryString;
use crate::extract::{PageParams, encode_cursor};
use crate::page::{Frame, local_time, render};
use crate::routes::{Needs, Table};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use domain::authz::Permission;
use std::collections::HashMap;
use store::desk::mail::{self, Outcome};

pub fn routes(t: Table) -> Table {
    t.get(
        "/mail",
        "Mail triage and quarantine",
        Needs::Perm(Permission::TicketWork),
        page,
    )
    .get(
        "/mail/{id}/raw",
        "Download a kept message",
        Needs::Perm(Permission::TicketWork),
        raw,
    )
    .post(
        "/mail/{id}/resolve",
        "Mark a kept message handled",
        Needs::Perm(Permission::TicketWork),
        resolve,
    )
}

struct Row {
    id: String,
    received: String,
    from: String,
    subject: String,
    reason: String,
    size: String,
    handled: bool,
}

#[derive(Template)]
#[template(path = "desk/mail.html")]
struct MailPage {
    f: Frame,
    outcome: &'static str,
    rows: Vec<Row>,
    next: Option<String>,
}

/// The page's query: the filters of the API's list, and the notice of the action that led here.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    outcome: Option<String>,
    resolved: Option<bool>,
    cursor: Option<String>,
    notice: Option<String>,
}

async fn page(
    State(s): State<AppState>,
    p: Principal,
    PageQueryString(page_query): PageQueryString<PageQuery>,
) -> PageResult<Response> {
    let q = MailQuery {
        outcome: page_query.outcome,
        resolved: page_query.resolved,
        limit: None,
        cursor: page_query.cursor,
    };
    let outcome = q.outcome()?;
    let pr = PageParams {
        limit: Some(50),
        cursor: q.cursor.clone(),
    }
    .to_request()?;
    let list = mail::list(&s.db, outcome, q.resolved.unwrap_or(false), &pr).await?;
    let rows = list
        .items
        .into_iter()
        .map(|m| Row {
            received: local_time(m.received_at, "America/New_York"),
            from: if m.from_addr.is_empty() {
                "(unknown)".into()
            } else {
                m.from_addr
            },
            subject: if m.subject.is_empty() {
                "(no subject)".into()
            } else {
                m.subject
            },
            reason: m.reason,
            size: format!("{} KB", (m.size_bytes + 1023) / 1024),
            handled: m.resolved_at.is_some(),
            id: m.id,
        })
        .collect();
    let name = match outcome {
        Outcome::Quarantine => "quarantine",
        Outcome::Ignored => "ignored",
        _ => "triage",
    };
    let next = list
        .next_cursor
        .map(|c| format!("/mail?outcome={name}&cursor={}", encode_cursor(&c)));
    let f = Frame::new(&s, &p, "Incoming mail", "mail")
        .await?
        .notice(page_query.notice.as_deref());
    Ok(render(&MailPage {
        f,
        outcome: name,
        rows,
        next,
    }))
}

async fn raw(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> PageResult<Response> {
    Ok(raw_response(&s, &p, &id).await?)
}

async fn resolve(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let ticket = match form
        .get("ticket")
        .map(|t| t.trim().trim_start_matches('#'))
        .filter(|t| !t.is_empty())
    {
        None => None,
        Some(t) => Some(t.parse::<i64>().map_err(|_| {
            Failure::Invalid(vec![domain::FieldError::new(
                "ticket",
                "must be a ticket number",
            )])
        })?),
    };
    apply_resolve(&s, &p, &id, ticket).await?;
    let back = form.get("outcome").map_or("triage", String::as_str);
    let back = if ["triage", "quarantine"].contains(&back) {
        back
    } else {
        "triage"
    };
    Ok(Redirect::to(&format!("/mail?outcome={back}&notice=saved")).into_response())
}
