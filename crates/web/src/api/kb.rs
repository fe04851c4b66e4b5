//! The knowledge base over the API: search, read, write, link to tickets.

use super::entity;
use crate::AppState;
use crate::api::desk::parse_number;
use crate::auth::Principal;
use crate::error::{ApiResult, Failure};
use crate::extract::{ApiJson, ApiQuery, if_match};
use crate::routes::Table;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::FieldError;
use domain::authz::Permission;
use domain::desk::{ArticleStatus, Visibility};
use domain::validation::{Collector, long_text, text};
use serde::Deserialize;
use store::desk::kb::{self, Draft, Reader};
use store::tenancy::orgs;

pub fn routes(t: Table) -> Table {
    t.get(
        "/api/v1/articles",
        "Search the knowledge base (?q=, ?category=)",
        "signed-in",
        list,
    )
    .post("/api/v1/articles", "Write an article", "kb-write", create)
    .get(
        "/api/v1/articles/{id}",
        "Read an article",
        "signed-in",
        read,
    )
    .patch(
        "/api/v1/articles/{id}",
        "Edit, publish or unpublish an article",
        "kb-write",
        update,
    )
    .post(
        "/api/v1/tickets/{number}/articles",
        "Link an article to a ticket",
        "ticket-work",
        link,
    )
}

/// The desk (anyone with a grant on the hub) reads every article, drafts and internal ones included.
pub fn reader(p: &Principal) -> Reader {
    if p.grants.iter().any(|g| g.on_hub) {
        Reader::Desk
    } else {
        Reader::Member(p.scope(Permission::OrgRead))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KbQuery {
    pub q: Option<String>,
    pub category: Option<String>,
    pub limit: Option<i64>,
}

async fn list(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<KbQuery>,
) -> ApiResult<Response> {
    if q.q.as_deref().is_some_and(|t| t.chars().count() > 200) {
        return Err(
            Failure::Invalid(vec![FieldError::new("q", "must be at most 200 characters")]).into(),
        );
    }
    let items = kb::search(
        &s.db,
        &reader(&p),
        q.q.as_deref(),
        q.category.as_deref(),
        q.limit.unwrap_or(50),
    )
    .await?;
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawArticle {
    pub title: Option<String>,
    pub body: Option<String>,
    pub category: Option<String>,
    /// `draft` (default) or `published`.
    pub status: Option<String>,
    /// `internal` (default), `members` or `member` (with `org`).
    pub visibility: Option<String>,
    /// Organisation slug, for `member` visibility.
    pub org: Option<String>,
    pub service_id: Option<String>,
}

pub async fn parse_article(
    s: &AppState,
    p: &Principal,
    raw: &RawArticle,
    base: Option<&kb::Article>,
) -> Result<Draft, Failure> {
    let mut c = Collector::new();
    let title = c.take(text(
        "title",
        raw.title
            .as_deref()
            .or(base.map(|b| b.title.as_str()))
            .unwrap_or(""),
        200,
    ));
    let body = c.take(long_text(
        "body",
        raw.body
            .as_deref()
            .or(base.map(|b| b.body.as_str()))
            .unwrap_or(""),
        50_000,
    ));
    let category = match raw
        .category
        .as_deref()
        .or(base.map(|b| b.category.as_str()))
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        Some(v) => c.take(text("category", v, 80)),
        None => Some(String::new()),
    };
    let status = match raw.status.as_deref() {
        Some(v) => c.take(ArticleStatus::parse(v)),
        None => Some(base.map_or(ArticleStatus::Draft, |b| b.status)),
    };
    let visibility = match raw.visibility.as_deref() {
        Some(v) => c.take(Visibility::parse(v)),
        None => Some(base.map_or(Visibility::Internal, |b| b.visibility)),
    };
    let mut org_id = base.and_then(|b| b.org_id);
    if let Some(slug) = raw.org.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        match orgs::get_by_slug(&s.db, &p.scope(Permission::OrgRead), slug).await {
            Ok(o) => org_id = Some(o.id),
            Err(store::StoreError::NotFound) => {
                c.push(FieldError::new("org", "is not an organisation"))
            }
            Err(e) => return Err(e.into()),
        }
    }
    if visibility == Some(Visibility::Member) && org_id.is_none() {
        c.push(FieldError::new(
            "org",
            "is required when the article is for one member",
        ));
    }
    if visibility != Some(Visibility::Member) {
        org_id = None;
    }
    let service_id = match raw.service_id.as_deref().map(str::trim) {
        Some("") => None,
        Some(v) => c.take(
            v.parse()
                .map_err(|_| FieldError::new("service_id", "is not a service")),
        ),
        None => base.and_then(|b| b.service_id),
    };
    c.finish()?;
    match (title, body, category, status, visibility) {
        (Some(title), Some(body), Some(category), Some(status), Some(visibility)) => Ok(Draft {
            title,
            body,
            category,
            status,
            visibility,
            org_id,
            service_id,
        }),
        _ => Err(Failure::Invalid(vec![FieldError::new(
            "article",
            "is incomplete",
        )])),
    }
}

async fn create(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(raw): ApiJson<RawArticle>,
) -> ApiResult<Response> {
    p.require(Permission::KbWrite)?;
    let d = parse_article(&s, &p, &raw, None).await?;
    let a = kb::create(&s.db, &p.actor(), &d).await?;
    Ok(entity(StatusCode::CREATED, a.version, &a))
}

async fn read(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let a = kb::get(&s.db, &reader(&p), &id).await?;
    Ok(entity(StatusCode::OK, a.version, &a))
}

async fn update(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<RawArticle>,
) -> ApiResult<Response> {
    p.require(Permission::KbWrite)?;
    let before = kb::get(&s.db, &Reader::Desk, &id).await?;
    let d = parse_article(&s, &p, &raw, Some(&before)).await?;
    let a = kb::update(&s.db, &p.actor(), &id, if_match(&headers)?, &d).await?;
    Ok(entity(StatusCode::OK, a.version, &a))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLinkArticle {
    pub article: Option<String>,
}

pub async fn apply_link(
    s: &AppState,
    p: &Principal,
    number: i64,
    article: Option<&str>,
) -> Result<(), Failure> {
    p.require(Permission::TicketWork)?;
    let article = article
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| Failure::Invalid(vec![FieldError::new("article", "is required")]))?;
    kb::link_ticket(&s.db, &p.ticket_view()?, &p.actor(), number, article).await?;
    Ok(())
}

async fn link(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    ApiJson(raw): ApiJson<RawLinkArticle>,
) -> ApiResult<Response> {
    apply_link(&s, &p, parse_number(&number)?, raw.article.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
