//! Tickets over JSON: lists, opening, reading, working, comments, approval, rating, attachments, watchers, links, merging and canned replies.

use crate::AppState;
use crate::auth::Principal;
use crate::desk::ops::desk::invalid;
use crate::desk::ops::desk::{
    RawChanges, RawComment, RawDecision, RawLink, RawRating, RawTicket, TicketQuery,
    apply_add_watcher, apply_decision, apply_link, apply_merge, apply_rating, comment,
    parse_changes, parse_ticket, store_upload,
};
use crate::error::{ApiResult, Failure};
use crate::extract::parse_number;
use crate::extract::parse_path_id;
use crate::extract::{ApiJson, ApiQuery, if_match};
use crate::json::entity;
use crate::json::{Answer, Body};
use crate::routes::{Granted, Needs, Table};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::authz::Permission;
use domain::desk::Source;
use domain::ids::UserId;
use domain::validation::{Collector, long_text, text};
use serde::Deserialize;
use store::desk::tickets::{self};

pub fn routes(t: Table) -> Table {
    t.get(
        "/api/v1/tickets",
        "List tickets (queues, filters, full-text search)",
        Needs::Perm(Permission::TicketRead),
        list_tickets,
    )
    .post(
        "/api/v1/tickets",
        "Open a ticket",
        Needs::Perm(Permission::TicketSubmit),
        open_ticket,
    )
    .get(
        "/api/v1/tickets/{number}",
        "Read a ticket with its SLA",
        Needs::Perm(Permission::TicketRead),
        read_ticket,
    )
    .patch(
        "/api/v1/tickets/{number}",
        "Work a ticket: status, assignment, priority, classification",
        Needs::Perm(Permission::TicketWork),
        update_ticket,
    )
    .get(
        "/api/v1/tickets/{number}/comments",
        "A ticket's history: replies, notes (desk only) and changes",
        Needs::Perm(Permission::TicketRead),
        list_comments,
    )
    .post(
        "/api/v1/tickets/{number}/comments",
        "Reply to a ticket, or add an internal note (desk only)",
        Needs::Perm(Permission::TicketSubmit),
        add_comment,
    )
    .post(
        "/api/v1/tickets/{number}/approval",
        "Approve or reject a request that costs money",
        Needs::Perm(Permission::TicketApprove),
        decide,
    )
    .post(
        "/api/v1/tickets/{number}/rating",
        "Rate a resolved ticket (CSAT 1–5)",
        Needs::Perm(Permission::TicketRate),
        rate,
    )
    .get(
        "/api/v1/tickets/{number}/attachments",
        "List a ticket's files",
        Needs::Perm(Permission::TicketRead),
        list_attachments,
    )
    .post(
        "/api/v1/tickets/{number}/attachments",
        "Attach a file (the request body; ?filename=, Content-Type)",
        Needs::Perm(Permission::TicketSubmit),
        upload_attachment,
    )
    .get(
        "/api/v1/tickets/{number}/attachments/{id}",
        "Download a file (always as an attachment)",
        Needs::Perm(Permission::TicketRead),
        download_attachment,
    )
    .get(
        "/api/v1/tickets/{number}/watchers",
        "A ticket's watchers",
        Needs::Perm(Permission::TicketRead),
        list_watchers,
    )
    .post(
        "/api/v1/tickets/{number}/watchers",
        "Add a watcher (by email)",
        Needs::Perm(Permission::TicketSubmit),
        add_watcher,
    )
    .delete(
        "/api/v1/tickets/{number}/watchers/{id}",
        "Remove a watcher",
        Needs::Perm(Permission::TicketSubmit),
        remove_watcher,
    )
    .get(
        "/api/v1/tickets/{number}/links",
        "A ticket's links (related, problem ↔ incidents, duplicates)",
        Needs::Perm(Permission::TicketRead),
        list_links,
    )
    .post(
        "/api/v1/tickets/{number}/links",
        "Link two tickets",
        Needs::Perm(Permission::TicketWork),
        add_link,
    )
    .post(
        "/api/v1/tickets/{number}/merge",
        "Merge this duplicate into another ticket",
        Needs::Perm(Permission::TicketWork),
        merge,
    )
    .get(
        "/api/v1/canned-replies",
        "The desk's canned replies",
        Needs::Perm(Permission::TicketWork),
        list_canned,
    )
    .post(
        "/api/v1/canned-replies",
        "Add a canned reply",
        Needs::Perm(Permission::CatalogManage),
        add_canned,
    )
}

async fn list_tickets(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<TicketQuery>,
) -> ApiResult<Answer<impl Body>> {
    let view = p.ticket_view()?;
    let f = q.to_filter(&s, &p).await?;
    let page = q.page().to_request()?;
    Ok(Answer::page(tickets::list(&s.db, &view, &f, &page).await?))
}

async fn open_ticket(
    State(s): State<AppState>,
    p: Principal,
    Granted(granted): Granted,
    ApiJson(raw): ApiJson<RawTicket>,
) -> ApiResult<Response> {
    let new = parse_ticket(&s, &p, &raw, Source::Api).await?;
    let t = tickets::open(&s.db, &granted, &p.actor(), new).await?;
    let mut r = entity(StatusCode::CREATED, t.version, &t);
    if let Ok(v) = axum::http::HeaderValue::from_str(&format!("/api/v1/tickets/{}", t.number)) {
        r.headers_mut().insert(axum::http::header::LOCATION, v);
    }
    Ok(r)
}

async fn read_ticket(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
) -> ApiResult<Answer<impl Body>> {
    let t = tickets::get(&s.db, &p.ticket_view()?, parse_number(&number)?).await?;
    Ok(Answer::entity(StatusCode::OK, t.version, &t))
}

async fn update_ticket(
    State(s): State<AppState>,
    p: Principal,
    Granted(work): Granted,
    Path(number): Path<String>,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<RawChanges>,
) -> ApiResult<Answer<impl Body>> {
    let changes = parse_changes(&raw)?;
    if changes.is_empty() {
        return Err(invalid("body", "names nothing to change").into());
    }
    let t = tickets::update(
        &s.db,
        &p.ticket_view()?,
        &work,
        &p.actor(),
        parse_number(&number)?,
        if_match(&headers)?,
        &changes,
    )
    .await?;
    Ok(Answer::entity(StatusCode::OK, t.version, &t))
}

async fn list_comments(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
) -> ApiResult<Answer<impl Body>> {
    let events = tickets::history(&s.db, &p.ticket_view()?, parse_number(&number)?).await?;
    Ok(Answer::items(events))
}

async fn add_comment(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    ApiJson(raw): ApiJson<RawComment>,
) -> ApiResult<Answer<impl Body>> {
    let t = comment(&s, &p, parse_number(&number)?, &raw).await?;
    Ok(Answer::entity(StatusCode::CREATED, t.version, &t))
}

async fn decide(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    ApiJson(raw): ApiJson<RawDecision>,
) -> ApiResult<Answer<impl Body>> {
    let t = apply_decision(&s, &p, parse_number(&number)?, &raw).await?;
    Ok(Answer::entity(StatusCode::OK, t.version, &t))
}

async fn rate(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    ApiJson(raw): ApiJson<RawRating>,
) -> ApiResult<Answer<impl Body>> {
    let t = apply_rating(&s, &p, parse_number(&number)?, &raw).await?;
    Ok(Answer::entity(StatusCode::OK, t.version, &t))
}

async fn list_attachments(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
) -> ApiResult<Answer<impl Body>> {
    let items = tickets::attachments(&s.db, &p.ticket_view()?, parse_number(&number)?).await?;
    Ok(Answer::items(items))
}

async fn upload_attachment(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    ApiQuery(q): ApiQuery<crate::extract::FileQuery>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Answer<impl Body>> {
    let ct = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let a = store_upload(
        &s,
        &p,
        parse_number(&number)?,
        q.filename.as_deref(),
        ct,
        &body,
    )
    .await?;
    Ok(Answer::new(StatusCode::CREATED, &a))
}

async fn download_attachment(
    State(s): State<AppState>,
    p: Principal,
    Path((number, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (a, bytes) =
        tickets::attachment(&s.db, &p.ticket_view()?, parse_number(&number)?, &id).await?;
    Ok(crate::download::file_response(&a, bytes))
}

async fn list_watchers(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
) -> ApiResult<Response> {
    let w = tickets::watchers(&s.db, &p.ticket_view()?, parse_number(&number)?).await?;
    let items: Vec<_> = w
        .into_iter()
        .map(|(id, name)| serde_json::json!({ "user_id": id, "name": name }))
        .collect();
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWatcher {
    /// A person of the ticket's organisation (or of the hub).
    #[schemars(required, with = "String", email)]
    pub email: Option<String>,
}

async fn add_watcher(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    ApiJson(raw): ApiJson<RawWatcher>,
) -> ApiResult<Response> {
    let number = parse_number(&number)?;
    apply_add_watcher(&s, &p, number, raw.email.as_deref()).await?;
    list_watchers(State(s), p, Path(number.to_string())).await
}

async fn remove_watcher(
    State(s): State<AppState>,
    p: Principal,
    Path((number, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let user: UserId = parse_path_id(&id)?;
    let view = p.ticket_view()?;
    let n = parse_number(&number)?;
    let t = tickets::get(&s.db, &view, n).await?;
    if user != p.user.id
        && !p.scope(Permission::TicketWork).contains(t.org_id)
        && t.requester_id != p.user.id
    {
        return Err(Failure::Forbidden.into());
    }
    tickets::remove_watcher(&s.db, &view, &p.actor(), n, user).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_links(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
) -> ApiResult<Answer<impl Body>> {
    let items = tickets::links(&s.db, &p.ticket_view()?, parse_number(&number)?).await?;
    Ok(Answer::items(items))
}

async fn add_link(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    ApiJson(raw): ApiJson<RawLink>,
) -> ApiResult<Response> {
    let number = parse_number(&number)?;
    apply_link(&s, &p, number, &raw).await?;
    let items = tickets::links(&s.db, &p.ticket_view()?, number).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "items": items })),
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMerge {
    /// The number of the ticket to keep.
    #[schemars(required, with = "u64", range(min = 1))]
    pub into: Option<i64>,
}

async fn merge(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    ApiJson(raw): ApiJson<RawMerge>,
) -> ApiResult<Answer<impl Body>> {
    let t = apply_merge(&s, &p, parse_number(&number)?, raw.into).await?;
    Ok(Answer::entity(StatusCode::OK, t.version, &t))
}

async fn list_canned(State(s): State<AppState>) -> ApiResult<Answer<impl Body>> {
    Ok(Answer::items(tickets::canned_replies(&s.db).await?))
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawCanned {
    title: Option<String>,
    body: Option<String>,
}

async fn add_canned(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(raw): ApiJson<RawCanned>,
) -> ApiResult<Answer<impl Body>> {
    let mut c = Collector::new();
    let title = c.take(text("title", raw.title.as_deref().unwrap_or(""), 120));
    let body = c.take(long_text("body", raw.body.as_deref().unwrap_or(""), 10_000));
    c.finish()?;
    let (Some(title), Some(body)) = (title, body) else {
        return Err(invalid("canned_reply", "is incomplete").into());
    };
    let r = tickets::add_canned_reply(&s.db, &p.actor(), &title, &body).await?;
    Ok(Answer::new(StatusCode::CREATED, &r))
}
