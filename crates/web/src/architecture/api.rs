//! Enterprise architecture over the API: the standards catalog, the principles, exception requests and
//! their decisions, and the compliance list.

use super::ops::{
    RawDecision, RawException, RawPrinciple, RawStandard, adopt_principle, ask, change_standard,
    decision, parse_standard,
};
use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiResult;
use crate::extract::{ApiCreate, ApiJson, if_match};
use crate::json::{Answer, Body};
use crate::routes::{Granted, Needs, Table};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::authz::Permission;
use serde_json::json;
use store::architecture::{self as arch};

pub fn routes(t: Table) -> Table {
    t.get(
        "/api/v1/standards",
        "The technology standards catalog: each technology's ring (adopt, trial, hold, retire) and quadrant",
        Needs::Perm(Permission::CmdbRead),
        list_standards,
    )
    .post(
        "/api/v1/standards",
        "Add a technology standard ({name, area, ring, description, match_terms, instead})",
        Needs::Hub(Permission::CmdbManage),
        create_standard,
    )
    .get(
        "/api/v1/standards/{id}",
        "One technology standard",
        Needs::Perm(Permission::CmdbRead),
        get_standard,
    )
    .patch(
        "/api/v1/standards/{id}",
        "Change a standard: move its ring, its terms, what to use instead (If-Match)",
        Needs::Hub(Permission::CmdbManage),
        update_standard,
    )
    .get(
        "/api/v1/principles",
        "The region's architecture principles",
        Needs::Perm(Permission::CmdbRead),
        list_principles,
    )
    .post(
        "/api/v1/principles",
        "Adopt an architecture principle ({title, statement, rationale, implications})",
        Needs::Hub(Permission::CmdbManage),
        create_principle,
    )
    .get(
        "/api/v1/exceptions",
        "Exception requests of the organisations you may see, newest first",
        Needs::Perm(Permission::CmdbRead),
        list_exceptions,
    )
    .post(
        "/api/v1/exceptions",
        "Ask for an exception to a standard ({org, standard_id, ci_id, title, reason, risk, mitigation, requested_until})",
        Needs::Perm(Permission::CmdbManage),
        create_exception,
    )
    .get(
        "/api/v1/exceptions/{id}",
        "One exception request",
        Needs::Perm(Permission::CmdbRead),
        get_exception,
    )
    .post(
        "/api/v1/exceptions/{id}/decision",
        "Decide a request ({\"status\": \"approved\", \"expires_on\": \"2027-06-30\", \"note\": …} or rejected)",
        Needs::Hub(Permission::CmdbManage),
        decide,
    )
    .post(
        "/api/v1/exceptions/{id}/withdraw",
        "Withdraw a request or an exception no longer needed",
        Needs::Perm(Permission::CmdbManage),
        withdraw,
    )
    .get(
        "/api/v1/compliance",
        "Items that use technologies on hold or to retire, with the exception covering each",
        Needs::Perm(Permission::CmdbRead),
        compliance,
    )
}

async fn list_standards(State(s): State<AppState>) -> ApiResult<Response> {
    Ok(Json(json!({ "items": arch::standards(&s.db).await? })).into_response())
}

async fn create_standard(
    State(s): State<AppState>,
    p: Principal,
    ApiCreate(raw): ApiCreate<RawStandard>,
) -> ApiResult<Response> {
    let d = parse_standard(&raw, None)?;
    let out = arch::create_standard(&s.db, &p.actor(), &d).await?;
    Ok(crate::json::entity(StatusCode::CREATED, out.version, &out))
}

async fn get_standard(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let out = arch::get_standard(&s.db, &id).await?;
    Ok(crate::json::entity(StatusCode::OK, out.version, &out))
}

async fn update_standard(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<RawStandard>,
) -> ApiResult<Response> {
    let out = change_standard(&s, &p, &id, if_match(&headers)?, &raw).await?;
    Ok(crate::json::entity(StatusCode::OK, out.version, &out))
}

async fn list_principles(State(s): State<AppState>) -> ApiResult<Response> {
    Ok(Json(json!({ "items": arch::principles(&s.db).await? })).into_response())
}

async fn create_principle(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(raw): ApiJson<RawPrinciple>,
) -> ApiResult<Answer<impl Body>> {
    let out = adopt_principle(&s, &p, &raw).await?;
    Ok(Answer::new(StatusCode::CREATED, &out))
}

async fn list_exceptions(
    State(s): State<AppState>,
    Granted(scope): Granted,
) -> ApiResult<Response> {
    Ok(Json(json!({ "items": arch::exceptions(&s.db, &scope).await? })).into_response())
}

async fn get_exception(
    State(s): State<AppState>,
    Granted(scope): Granted,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let out = arch::get_exception(&s.db, &scope, &id).await?;
    Ok(crate::json::entity(StatusCode::OK, out.version, &out))
}

async fn create_exception(
    State(s): State<AppState>,
    p: Principal,
    ApiCreate(raw): ApiCreate<RawException>,
) -> ApiResult<Response> {
    let out = ask(&s, &p, &raw).await?;
    Ok(crate::json::entity(StatusCode::CREATED, out.version, &out))
}

async fn decide(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<RawDecision>,
) -> ApiResult<Response> {
    let out = decision(&s, &p, &id, if_match(&headers)?, &raw).await?;
    Ok(crate::json::entity(StatusCode::OK, out.version, &out))
}

async fn withdraw(
    State(s): State<AppState>,
    p: Principal,
    Granted(manage): Granted,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let out = arch::withdraw(&s.db, &manage, &p.actor(), &id).await?;
    Ok(crate::json::entity(StatusCode::OK, out.version, &out))
}

async fn compliance(State(s): State<AppState>, Granted(scope): Granted) -> ApiResult<Response> {
    let items = arch::compliance(&s.db, &scope, crate::clock::today()).await?;
    Ok(Json(json!({ "items": items })).into_response())
}
