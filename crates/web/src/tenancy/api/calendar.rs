//! An organisation's business calendar: the days it is closed (built-in holidays and local closures).

use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery};
use crate::json::{Answer, Body};
use crate::routes::{Needs, Table};
use crate::tenancy::ops::calendar::{RangeQuery, RawClosure, add, days_off_in, remove};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::authz::Permission;

pub fn routes(t: Table) -> Table {
    t.get(
        "/api/v1/orgs/{slug}/days-off",
        "Days the organisation is closed: holidays and local closures",
        Needs::Perm(Permission::OrgRead),
        list_days_off,
    )
    .post(
        "/api/v1/orgs/{slug}/closures",
        "Add a local closure day",
        Needs::Perm(Permission::OrgSettingsWrite),
        add_closure,
    )
    .delete(
        "/api/v1/orgs/{slug}/closures/{date}",
        "Remove a local closure day",
        Needs::Perm(Permission::OrgSettingsWrite),
        remove_closure,
    )
}

async fn list_days_off(
    State(s): State<AppState>,
    p: Principal,
    Path(slug): Path<String>,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> ApiResult<Response> {
    let (_, days, from, to) = days_off_in(&s, &p, &slug, &q).await?;
    Ok(Json(serde_json::json!({ "from": from, "to": to, "items": days })).into_response())
}

async fn add_closure(
    State(s): State<AppState>,
    p: Principal,
    Path(slug): Path<String>,
    ApiJson(raw): ApiJson<RawClosure>,
) -> ApiResult<Answer<impl Body>> {
    let c = add(&s, &p, &slug, &raw).await?;
    Ok(Answer::new(StatusCode::CREATED, &c))
}

async fn remove_closure(
    State(s): State<AppState>,
    p: Principal,
    Path((slug, date)): Path<(String, String)>,
) -> ApiResult<Response> {
    remove(&s, &p, &slug, &date).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
