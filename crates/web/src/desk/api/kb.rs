//! The knowledge base over the API: search, read, write, link to tickets.

use crate::AppState;
use crate::auth::Principal;
use crate::desk::ops::kb::{RawArticle, apply_link, parse_article, reader};
use crate::error::{ApiResult, Failure};
use crate::extract::parse_number;
use crate::extract::{ApiJson, ApiQuery, if_match};
use crate::json::{Answer, Body};
use crate::routes::{Needs, Table};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::FieldError;
use domain::authz::Permission;
use serde::Deserialize;
use store::desk::kb::{self, Reader};

pub fn routes(t: Table) -> Table {
    t.get(
        "/api/v1/articles",
        "Search the knowledge base (?q=, ?category=)",
        Needs::SignedIn,
        list,
    )
    .post(
        "/api/v1/articles",
        "Write an article",
        Needs::Perm(Permission::KbWrite),
        create,
    )
    .get(
        "/api/v1/articles/{id}",
        "Read an article",
        Needs::SignedIn,
        read,
    )
    .patch(
        "/api/v1/articles/{id}",
        "Edit, publish or unpublish an article",
        Needs::Perm(Permission::KbWrite),
        update,
    )
    .post(
        "/api/v1/tickets/{number}/articles",
        "Link an article to a ticket",
        Needs::Perm(Permission::TicketWork),
        link,
    )
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
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
) -> ApiResult<Answer<impl Body>> {
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
    Ok(Answer::items(items))
}

async fn create(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(raw): ApiJson<RawArticle>,
) -> ApiResult<Answer<impl Body>> {
    let d = parse_article(&s, &p, &raw, None).await?;
    let a = kb::create(&s.db, &p.actor(), &d).await?;
    Ok(Answer::entity(StatusCode::CREATED, a.version, &a))
}

async fn read(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Answer<impl Body>> {
    let a = kb::get(&s.db, &reader(&p), &id).await?;
    Ok(Answer::entity(StatusCode::OK, a.version, &a))
}

async fn update(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<RawArticle>,
) -> ApiResult<Answer<impl Body>> {
    let before = kb::get(&s.db, &Reader::Desk, &id).await?;
    let d = parse_article(&s, &p, &raw, Some(&before)).await?;
    let a = kb::update(&s.db, &p.actor(), &id, if_match(&headers)?, &d).await?;
    Ok(Answer::entity(StatusCode::OK, a.version, &a))
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLinkArticle {
    pub article: Option<String>,
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
