//! Operations: each checks its input and the caller's permission, calls the store and returns the result.
//! The JSON handlers and the pages both call them.

use crate::AppState;
use crate::auth::Principal;
use crate::error::Failure;
use crate::extract::parse_path_id;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::FieldError;
use domain::authz::{Permission, Role, Scope};
use domain::ids::UserId;
use domain::tenancy::drafts::{RawUser, parse_user};
use domain::tenancy::invitations::parse_invitee;
use serde::Deserialize;
use store::tenancy::{invitations, orgs, users};

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

/// The answer to an invitation made (or mailed again): `202 {"invitation": …}`.
pub(crate) fn invited(inv: invitations::Invitation) -> Response {
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "invitation": inv })),
    )
        .into_response()
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

#[derive(Debug, Deserialize, Default, schemars::JsonSchema)]
pub struct RawGrant {
    pub user_id: Option<String>,
    #[schemars(extend("format" = "email"))]
    pub email: Option<String>,
    #[schemars(with = "Option<domain::authz::Role>")]
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
