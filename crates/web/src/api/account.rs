//! The signed-in person: who am I, my tokens.

use super::directory::parse_path_id;
use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiResult, Failure};
use crate::extract::ApiJson;
use crate::routes::Table;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::validation::text;
use serde::{Deserialize, Serialize};
use store::auth::ApiToken;
use store::tenancy::users::{self, GrantRow, User};

pub fn routes(t: Table) -> Table {
    t.get(
        "/api/v1/me",
        "Who you are and your role grants",
        "signed-in",
        me,
    )
    .get(
        "/api/v1/tokens",
        "List your API tokens",
        "signed-in",
        list_tokens,
    )
    .post(
        "/api/v1/tokens",
        "Create an API token (shown once)",
        "signed-in",
        create_token,
    )
    .delete(
        "/api/v1/tokens/{id}",
        "Revoke one of your API tokens",
        "signed-in",
        revoke_token,
    )
    .get(
        "/api/v1/me/notifications",
        "Which mail notifications you get",
        "signed-in",
        notifications,
    )
    .put(
        "/api/v1/me/notifications",
        "Choose which mail notifications you get (list the ones to turn off)",
        "signed-in",
        set_notifications,
    )
}

#[derive(Serialize)]
pub struct NotificationChoice {
    pub event: &'static str,
    pub label: &'static str,
    pub on: bool,
}

/// Every notification event with whether this person gets it.
pub async fn notification_choices(
    s: &AppState,
    p: &Principal,
) -> Result<Vec<NotificationChoice>, Failure> {
    let off = store::desk::notify::optouts(&s.db, p.user.id).await?;
    Ok(store::desk::notify::Event::ALL
        .into_iter()
        .map(|e| NotificationChoice {
            event: e.as_str(),
            label: e.label(),
            on: !off.contains(&e),
        })
        .collect())
}

async fn notifications(State(s): State<AppState>, p: Principal) -> ApiResult<Response> {
    Ok(Json(serde_json::json!({ "items": notification_choices(&s, &p).await? })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotifications {
    /// Events to turn off; every other one is on.
    pub off: Vec<String>,
}

/// Saves a person's notification choices; unknown event names are a field error.
pub async fn save_notifications(
    s: &AppState,
    p: &Principal,
    off: &[String],
) -> Result<(), Failure> {
    let mut events = Vec::new();
    let mut errors = Vec::new();
    for (i, name) in off.iter().enumerate() {
        match store::desk::notify::Event::parse(name.trim()) {
            Some(e) => events.push(e),
            None => errors.push(domain::FieldError::new(
                format!("off[{i}]"),
                format!("{name:?} is not a notification event"),
            )),
        }
    }
    if !errors.is_empty() {
        return Err(Failure::Invalid(errors));
    }
    store::desk::notify::set_optouts(&s.db, &p.actor(), p.user.id, &events).await?;
    Ok(())
}

async fn set_notifications(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(raw): ApiJson<RawNotifications>,
) -> ApiResult<Response> {
    save_notifications(&s, &p, &raw.off).await?;
    Ok(Json(serde_json::json!({ "items": notification_choices(&s, &p).await? })).into_response())
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

async fn list_tokens(State(s): State<AppState>, p: Principal) -> ApiResult<Response> {
    Ok(
        Json(serde_json::json!({ "items": store::auth::list_tokens(&s.db, p.user.id).await? }))
            .into_response(),
    )
}

#[derive(Debug, Deserialize, Default)]
pub struct RawToken {
    pub name: Option<String>,
}

#[derive(Serialize)]
pub struct CreatedToken {
    /// The token itself: shown this once and never again.
    pub token: String,
    #[serde(flatten)]
    pub record: ApiToken,
}

/// Creates a token for the signed-in person.
pub async fn new_token(
    s: &AppState,
    p: &Principal,
    raw: &RawToken,
) -> Result<CreatedToken, Failure> {
    let name = text("name", raw.name.as_deref().unwrap_or(""), 80)
        .map_err(|e| Failure::Invalid(vec![e]))?;
    let (token, record) =
        store::auth::create_token(&s.db, &p.actor(), p.user.id, p.user.org_id, &name).await?;
    Ok(CreatedToken { token, record })
}

async fn create_token(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(raw): ApiJson<RawToken>,
) -> ApiResult<Response> {
    Ok((StatusCode::CREATED, Json(new_token(&s, &p, &raw).await?)).into_response())
}

async fn revoke_token(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    store::auth::revoke_token(&s.db, &p.actor(), p.user.id, parse_path_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
