//! The signed-in person: who am I, my tokens.

use crate::AppState;
use crate::accounts::ops::account::{
    RawToken, new_token, notification_choices, save_notifications,
};
use crate::auth::Principal;
use crate::error::ApiResult;
use crate::extract::ApiJson;
use crate::extract::parse_path_id;
use crate::json::{Answer, Body};
use crate::routes::{Needs, Table};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use store::tenancy::users::{self, GrantRow, User};

pub fn routes(t: Table) -> Table {
    t.get(
        "/api/v1/me",
        "Who you are and your role grants",
        Needs::SignedIn,
        me,
    )
    .get(
        "/api/v1/tokens",
        "List your API tokens",
        Needs::SignedIn,
        list_tokens,
    )
    .post(
        "/api/v1/tokens",
        "Create an API token (shown once)",
        Needs::SignedIn,
        create_token,
    )
    .delete(
        "/api/v1/tokens/{id}",
        "Revoke one of your API tokens",
        Needs::SignedIn,
        revoke_token,
    )
    .get(
        "/api/v1/me/notifications",
        "Which mail notifications you get",
        Needs::SignedIn,
        notifications,
    )
    .put(
        "/api/v1/me/notifications",
        "Choose which mail notifications you get (list the ones to turn off)",
        Needs::SignedIn,
        set_notifications,
    )
}

async fn notifications(State(s): State<AppState>, p: Principal) -> ApiResult<Answer<impl Body>> {
    Ok(Answer::items(notification_choices(&s, &p).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawNotifications {
    /// Events to turn off; every other one is on.
    pub off: Vec<String>,
}

async fn set_notifications(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(raw): ApiJson<RawNotifications>,
) -> ApiResult<Answer<impl Body>> {
    save_notifications(&s, &p, &raw.off).await?;
    Ok(Answer::items(notification_choices(&s, &p).await?))
}

#[derive(Serialize)]
struct Me {
    user: User,
    grants: Vec<GrantRow>,
    current_org_id: Option<String>,
}

async fn me(State(s): State<AppState>, p: Principal) -> ApiResult<Response> {
    let grants = users::grants_of(&s.db, p.user.id).await?;
    Ok(Json(Me {
        current_org_id: p.current_org().map(|o| o.to_string()),
        user: p.user.clone(),
        grants,
    })
    .into_response())
}

async fn list_tokens(State(s): State<AppState>, p: Principal) -> ApiResult<Answer<impl Body>> {
    Ok(Answer::items(
        store::auth::list_tokens(&s.db, p.user.id).await?,
    ))
}

async fn create_token(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(raw): ApiJson<RawToken>,
) -> ApiResult<Answer<impl Body>> {
    Ok(Answer::new(
        StatusCode::CREATED,
        &new_token(&s, &p, &raw).await?,
    ))
}

async fn revoke_token(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    store::auth::revoke_token(&s.db, &p.actor(), p.user.id, parse_path_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
