//! People and role grants.

use super::directory::parse_path_id;
use super::{entity, list};
use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiResult, Failure};
use crate::extract::{ApiJson, ApiQuery, PageParams, if_match};
use crate::routes::Table;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::FieldError;
use domain::authz::{Permission, Role, Scope};
use domain::ids::UserId;
use domain::tenancy::drafts::{RawUser, parse_user};
use domain::tenancy::invitations::parse_invitee;
use serde::Deserialize;
use store::tenancy::{invitations, orgs, users};

pub fn routes(t: Table) -> Table {
    t.get(
        "/api/v1/orgs/{slug}/users",
        "List the people of an organisation",
        "user-read",
        list_users,
    )
    .post(
        "/api/v1/orgs/{slug}/users",
        "Add a person with a first role: a hub administrator creates the account (201); a member administrator \
         invites the address (202 {\"invitation\"}, the same answer whether or not it has an account elsewhere; \
         409 only for the organisation's own people)",
        "user-manage",
        create_user,
    )
    .get(
        "/api/v1/users/{id}",
        "Read a person and their grants",
        "user-read",
        read_user,
    )
    .post(
        "/api/v1/users/{id}/disable",
        "Disable a person's account",
        "user-manage",
        disable_user,
    )
    .post(
        "/api/v1/users/{id}/enable",
        "Enable a person's account again",
        "user-manage",
        enable_user,
    )
    .get(
        "/api/v1/users/{id}/tokens",
        "List a person's API tokens (not the secrets)",
        "user-manage",
        list_user_tokens,
    )
    .delete(
        "/api/v1/users/{id}/tokens/{token}",
        "Revoke a person's API token",
        "user-manage",
        revoke_user_token,
    )
    .get(
        "/api/v1/orgs/{slug}/grants",
        "List the role grants in an organisation",
        "user-read",
        list_grants,
    )
    .post(
        "/api/v1/orgs/{slug}/grants",
        "Grant a role in an organisation to one of its people (201), or invite an email address (202)",
        "user-manage",
        create_grant,
    )
    .get(
        "/api/v1/orgs/{slug}/invitations",
        "List the invitations of an organisation (newest first), with whether each was mailed (state)",
        "user-manage",
        list_invitations,
    )
    .post(
        "/api/v1/orgs/{slug}/invitations/{id}/resend",
        "Mail an invitation again with a fresh link and a new week to accept (202)",
        "user-manage",
        resend_invitation,
    )
    .post(
        "/api/v1/orgs/{slug}/invitations/{id}/revoke",
        "Withdraw a pending invitation: its link stops working",
        "user-manage",
        revoke_invitation,
    )
    .delete(
        "/api/v1/grants/{id}",
        "Revoke a role grant",
        "user-manage",
        revoke_grant,
    )
}

#[derive(Debug, Deserialize, Default)]
pub struct UserQuery {
    pub q: Option<String>,
    pub active: Option<bool>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

async fn list_users(
    State(s): State<AppState>,
    p: Principal,
    Path(slug): Path<String>,
    ApiQuery(q): ApiQuery<UserQuery>,
) -> ApiResult<Response> {
    let scope = p.require(Permission::UserRead)?;
    let org = orgs::get_by_slug(&s.db, &scope, &slug).await?;
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor.clone(),
    }
    .to_request()?;
    Ok(list(
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

/// What adding a person did: an account (a hub administrator), or an invitation (a member administrator).
pub enum AddOutcome {
    Created(users::User),
    Invited(invitations::Invitation),
}

/// Adds a person to an organisation, for the pages and the API alike. A hub administrator, who reaches the
/// whole region, creates the account with its first role (409 when the address is taken). A member
/// administrator invites the address instead, whether or not it has an account somewhere in the region, and
/// gets the same answer either way; the person chooses their name and password (or signs in) when they
/// accept, and nothing is created or granted before. Only an address of the organisation's own people —
/// whom its administrator sees anyway — is a 409.
pub async fn add_user(
    s: &AppState,
    p: &Principal,
    slug: &str,
    raw: &RawUser,
) -> Result<AddOutcome, Failure> {
    let scope = p.require(Permission::UserManage)?;
    let org = orgs::get_by_slug(&s.db, &scope, slug).await?;
    if !matches!(scope, Scope::Region) {
        let invitee = parse_invitee(raw, org.is_hub)?;
        if users::email_belongs_to(&s.db, &invitee.email, org.id).await? {
            return Err(Failure::Conflict {
                field: "email".into(),
                message: "is already one of this organisation's people".into(),
            });
        }
        let inv = invitations::create(
            &s.db,
            &scope,
            &p.actor(),
            org.id,
            &invitee.email,
            invitee.role,
        )
        .await?;
        return Ok(AddOutcome::Invited(inv));
    }
    let draft = parse_user(raw, org.is_hub)?;
    let hash = match &draft.password {
        Some(pw) => Some(hash_blocking(pw.clone()).await?),
        None => None,
    };
    Ok(AddOutcome::Created(
        users::create(
            &s.db,
            &scope,
            &p.actor(),
            org.id,
            users::NewUser {
                email: &draft.email,
                name: &draft.name,
                role: draft.role,
                password_hash: hash,
            },
        )
        .await?,
    ))
}

/// argon2 takes tens of milliseconds of CPU: keep it off the async workers.
pub async fn hash_blocking(password: String) -> Result<String, Failure> {
    tokio::task::spawn_blocking(move || store::auth::hash_password(&password))
        .await
        .map_err(Failure::internal)?
        .map_err(Failure::from)
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

/// The answer to an invitation made (or mailed again): `202 {"invitation": …}`.
fn invited(inv: invitations::Invitation) -> Response {
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "invitation": inv })),
    )
        .into_response()
}

#[derive(serde::Serialize)]
struct UserWithGrants {
    #[serde(flatten)]
    user: users::User,
    grants: Vec<users::GrantRow>,
}

async fn read_user(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let scope = p.require(Permission::UserRead)?;
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

/// Disables or enables a person's account: for the API and the person page alike.
pub async fn set_user_active(
    s: &AppState,
    p: &Principal,
    id: &str,
    version: Option<i64>,
    active: bool,
) -> Result<users::User, Failure> {
    let scope = p.require(Permission::UserManage)?;
    Ok(users::set_active(
        &s.db,
        &scope,
        &p.actor(),
        parse_path_id(id)?,
        version,
        active,
    )
    .await?)
}

async fn disable_user(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let u = set_user_active(&s, &p, &id, if_match(&headers)?, false).await?;
    Ok(entity(StatusCode::OK, u.version, &u))
}

async fn enable_user(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let u = set_user_active(&s, &p, &id, if_match(&headers)?, true).await?;
    Ok(entity(StatusCode::OK, u.version, &u))
}

async fn list_grants(
    State(s): State<AppState>,
    p: Principal,
    Path(slug): Path<String>,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<Response> {
    let scope = p.require(Permission::UserRead)?;
    let org = orgs::get_by_slug(&s.db, &scope, &slug).await?;
    Ok(list(
        users::list_grants(&s.db, &scope, org.id, &q.to_request()?).await?,
    ))
}

#[derive(Debug, Deserialize, Default)]
pub struct RawGrant {
    pub user_id: Option<String>,
    pub email: Option<String>,
    pub role: Option<String>,
}

/// What granting by email did: a role for one of the organisation's own people, or an invitation.
pub enum GrantOutcome {
    Granted(users::GrantRow),
    Invited(invitations::Invitation),
}

/// Grants a role to a person named by id or email. A hub administrator reaches anyone in the region. A
/// member administrator grants to its own people (home there, or already holding a role there); any other
/// address — unknown, or a person of another organisation — gets an invitation to accept, and the answer is
/// the same in both cases, so it tells nothing about who has an account elsewhere. An address no one has
/// yet is invited whoever asks.
pub async fn add_grant(
    s: &AppState,
    p: &Principal,
    slug: &str,
    raw: &RawGrant,
) -> Result<GrantOutcome, Failure> {
    let scope = p.require(Permission::UserManage)?;
    let org = orgs::get_by_slug(&s.db, &scope, slug).await?;
    let role =
        Role::parse(raw.role.as_deref().unwrap_or("")).map_err(|e| Failure::Invalid(vec![e]))?;
    role.check_grantable(org.is_hub)
        .map_err(|e| Failure::Invalid(vec![e]))?;
    let region = matches!(scope, Scope::Region);
    let user_id = match (
        raw.user_id.as_deref().filter(|v| !v.is_empty()),
        raw.email.as_deref().filter(|v| !v.is_empty()),
    ) {
        (Some(id), _) => {
            let not_ours = || {
                Failure::Invalid(vec![FieldError::new(
                    "user_id",
                    "is not one of this organisation's people; invite them by email instead",
                )])
            };
            let id: UserId = id.parse().map_err(|_| not_ours())?;
            if !region && !users::belongs_to(&s.db, id, org.id).await? {
                return Err(not_ours());
            }
            id
        }
        (None, Some(email)) => {
            let email =
                domain::tenancy::Email::parse(email).map_err(|e| Failure::Invalid(vec![e]))?;
            let found = users::find_by_email(&s.db, &email).await?;
            let ours = match &found {
                Some(u) => region || users::belongs_to(&s.db, u.id, org.id).await?,
                None => false,
            };
            match found {
                Some(u) if ours => u.id,
                _ => {
                    let inv = invitations::create(&s.db, &scope, &p.actor(), org.id, &email, role)
                        .await?;
                    return Ok(GrantOutcome::Invited(inv));
                }
            }
        }
        (None, None) => {
            return Err(Failure::Invalid(vec![FieldError::new(
                "email",
                "is required (or user_id)",
            )]));
        }
    };
    Ok(GrantOutcome::Granted(
        users::grant(&s.db, &scope, &p.actor(), org.id, user_id, role).await?,
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
    p: Principal,
    Path(slug): Path<String>,
) -> ApiResult<Response> {
    let scope = p.require(Permission::UserManage)?;
    let org = orgs::get_by_slug(&s.db, &scope, &slug).await?;
    let items = invitations::list(&s.db, &scope, org.id, 200).await?;
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}

/// Mails an invitation again or withdraws it, for the pages and the API alike: the invitation must be the
/// organisation's (another member's is not found).
pub async fn settle_invitation(
    s: &AppState,
    p: &Principal,
    slug: &str,
    id: &str,
    resend: bool,
) -> Result<invitations::Invitation, Failure> {
    let scope = p.require(Permission::UserManage)?;
    let org = orgs::get_by_slug(&s.db, &scope, slug).await?;
    let id = parse_path_id(id)?;
    Ok(if resend {
        invitations::resend(&s.db, &scope, &p.actor(), org.id, id).await?
    } else {
        invitations::revoke(&s.db, &scope, &p.actor(), org.id, id).await?
    })
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
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let scope = p.require(Permission::UserManage)?;
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

/// Revokes a person's token, for an administrator of their organisation.
pub async fn revoke_token_of(
    s: &AppState,
    p: &Principal,
    user: &str,
    token: &str,
) -> Result<(), Failure> {
    let scope = p.require(Permission::UserManage)?;
    let u = users::get(&s.db, &scope, parse_path_id::<UserId>(user)?).await?;
    store::auth::revoke_token(&s.db, &p.actor(), u.id, parse_path_id(token)?).await?;
    Ok(())
}

async fn list_user_tokens(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (_, tokens) = tokens_of(&s, &p, &id).await?;
    Ok(Json(serde_json::json!({ "items": tokens })).into_response())
}

async fn revoke_user_token(
    State(s): State<AppState>,
    p: Principal,
    Path((id, token)): Path<(String, String)>,
) -> ApiResult<Response> {
    revoke_token_of(&s, &p, &id, &token).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
