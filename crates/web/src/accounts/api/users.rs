//! People and role grants.

use crate::AppState;
use crate::accounts::ops::users::{
    AddOutcome, GrantOutcome, RawGrant, add_grant, add_user, invited, revoke_token_of,
    set_user_active, settle_invitation,
};
use crate::auth::Principal;
use crate::error::{ApiResult, Failure};
use crate::extract::parse_path_id;
use crate::extract::{ApiJson, ApiQuery, PageParams, if_match};
use crate::json::entity;
use crate::json::{Answer, Body};
use crate::routes::{Granted, Needs, Table};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::authz::Permission;
use domain::ids::UserId;
use domain::tenancy::drafts::RawUser;
use serde::Deserialize;
use store::tenancy::{invitations, orgs, users};

pub fn routes(t: Table) -> Table {
    t.get(
        "/api/v1/orgs/{slug}/users",
        "List the people of an organisation",
        Needs::Perm(Permission::UserRead),
        list_users,
    )
    .post(
        "/api/v1/orgs/{slug}/users",
        "Add a person with a first role: a hub administrator creates the account (201); a member administrator \
         invites the address (202 {\"invitation\"}, the same answer whether or not it has an account elsewhere; \
         409 only for the organisation's own people)",
        Needs::Perm(Permission::UserManage),
        create_user,
    )
    .get(
        "/api/v1/users/{id}",
        "Read a person and their grants",
        Needs::Perm(Permission::UserRead),
        read_user,
    )
    .post(
        "/api/v1/users/{id}/disable",
        "Disable a person's account",
        Needs::Perm(Permission::UserManage),
        disable_user,
    )
    .post(
        "/api/v1/users/{id}/enable",
        "Enable a person's account again",
        Needs::Perm(Permission::UserManage),
        enable_user,
    )
    .get(
        "/api/v1/users/{id}/tokens",
        "List a person's API tokens (not the secrets)",
        Needs::Perm(Permission::UserManage),
        list_user_tokens,
    )
    .delete(
        "/api/v1/users/{id}/tokens/{token}",
        "Revoke a person's API token",
        Needs::Perm(Permission::UserManage),
        revoke_user_token,
    )
    .get(
        "/api/v1/orgs/{slug}/grants",
        "List the role grants in an organisation",
        Needs::Perm(Permission::UserRead),
        list_grants,
    )
    .post(
        "/api/v1/orgs/{slug}/grants",
        "Grant a role in an organisation to one of its people (201), or invite an email address (202)",
        Needs::Perm(Permission::UserManage),
        create_grant,
    )
    .get(
        "/api/v1/orgs/{slug}/invitations",
        "List the invitations of an organisation (newest first), with whether each was mailed (state)",
        Needs::Perm(Permission::UserManage),
        list_invitations,
    )
    .post(
        "/api/v1/orgs/{slug}/invitations/{id}/resend",
        "Mail an invitation again with a fresh link and a new week to accept (202)",
        Needs::Perm(Permission::UserManage),
        resend_invitation,
    )
    .post(
        "/api/v1/orgs/{slug}/invitations/{id}/revoke",
        "Withdraw a pending invitation: its link stops working",
        Needs::Perm(Permission::UserManage),
        revoke_invitation,
    )
    .delete(
        "/api/v1/grants/{id}",
        "Revoke a role grant",
        Needs::Perm(Permission::UserManage),
        revoke_grant,
    )
}

#[derive(Debug, Deserialize, Default, schemars::JsonSchema)]
pub struct UserQuery {
    pub q: Option<String>,
    pub active: Option<bool>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

async fn list_users(
    State(s): State<AppState>,
    Granted(scope): Granted,
    Path(slug): Path<String>,
    ApiQuery(q): ApiQuery<UserQuery>,
) -> ApiResult<Answer<impl Body>> {
    let org = orgs::get_by_slug(&s.db, &scope, &slug).await?;
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor.clone(),
    }
    .to_request()?;
    Ok(Answer::page(
        users::list(
            &s.db,
            &scope,
            org.id,
            &users::Filter {
                q: q.q,
                active: q.active,
            },
            &page,
        )
        .await?,
    ))
}

async fn create_user(
    State(s): State<AppState>,
    p: Principal,
    Path(slug): Path<String>,
    ApiJson(raw): ApiJson<RawUser>,
) -> ApiResult<Response> {
    Ok(match add_user(&s, &p, &slug, &raw).await? {
        AddOutcome::Created(u) => entity(StatusCode::CREATED, u.version, &u),
        AddOutcome::Invited(inv) => invited(inv),
    })
}

#[derive(serde::Serialize)]
struct UserWithGrants {
    #[serde(flatten)]
    user: users::User,
    grants: Vec<users::GrantRow>,
}

async fn read_user(
    State(s): State<AppState>,
    Granted(scope): Granted,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let user = users::get(&s.db, &scope, parse_path_id::<UserId>(&id)?).await?;
    // Grants elsewhere are shown only where the reader's scope reaches.
    let grants = users::grants_of(&s.db, user.id)
        .await?
        .into_iter()
        .filter(|g| scope.contains(g.org_id))
        .collect();
    Ok(entity(
        StatusCode::OK,
        user.version,
        &UserWithGrants { user, grants },
    ))
}

async fn disable_user(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Answer<impl Body>> {
    let u = set_user_active(&s, &p, &id, if_match(&headers)?, false).await?;
    Ok(Answer::entity(StatusCode::OK, u.version, &u))
}

async fn enable_user(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Answer<impl Body>> {
    let u = set_user_active(&s, &p, &id, if_match(&headers)?, true).await?;
    Ok(Answer::entity(StatusCode::OK, u.version, &u))
}

async fn list_grants(
    State(s): State<AppState>,
    Granted(scope): Granted,
    Path(slug): Path<String>,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<Answer<impl Body>> {
    let org = orgs::get_by_slug(&s.db, &scope, &slug).await?;
    Ok(Answer::page(
        users::list_grants(&s.db, &scope, org.id, &q.to_request()?).await?,
    ))
}

async fn create_grant(
    State(s): State<AppState>,
    p: Principal,
    Path(slug): Path<String>,
    ApiJson(raw): ApiJson<RawGrant>,
) -> ApiResult<Response> {
    Ok(match add_grant(&s, &p, &slug, &raw).await? {
        GrantOutcome::Granted(g) => (StatusCode::CREATED, Json(g)).into_response(),
        GrantOutcome::Invited(inv) => invited(inv),
    })
}

async fn list_invitations(
    State(s): State<AppState>,
    Granted(scope): Granted,
    Path(slug): Path<String>,
) -> ApiResult<Answer<impl Body>> {
    let org = orgs::get_by_slug(&s.db, &scope, &slug).await?;
    let items = invitations::list(&s.db, &scope, org.id, 200).await?;
    Ok(Answer::items(items))
}

async fn resend_invitation(
    State(s): State<AppState>,
    p: Principal,
    Path((slug, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    Ok(invited(settle_invitation(&s, &p, &slug, &id, true).await?))
}

async fn revoke_invitation(
    State(s): State<AppState>,
    p: Principal,
    Path((slug, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let inv = settle_invitation(&s, &p, &slug, &id, false).await?;
    Ok(Json(serde_json::json!({ "invitation": inv })).into_response())
}

async fn revoke_grant(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    users::revoke(&s.db, &scope, &p.actor(), parse_path_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A person's tokens, for an administrator of their organisation.
pub async fn tokens_of(
    s: &AppState,
    p: &Principal,
    user: &str,
) -> Result<(users::User, Vec<store::auth::ApiToken>), Failure> {
    let scope = p.require(Permission::UserManage)?;
    let u = users::get(&s.db, &scope, parse_path_id::<UserId>(user)?).await?;
    let tokens = store::auth::list_tokens(&s.db, u.id).await?;
    Ok((u, tokens))
}

async fn list_user_tokens(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Answer<impl Body>> {
    let (_, tokens) = tokens_of(&s, &p, &id).await?;
    Ok(Answer::items(tokens))
}

async fn revoke_user_token(
    State(s): State<AppState>,
    p: Principal,
    Path((id, token)): Path<(String, String)>,
) -> ApiResult<Response> {
    revoke_token_of(&s, &p, &id, &token).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
