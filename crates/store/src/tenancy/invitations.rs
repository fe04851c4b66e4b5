//! Invitations: how a member administrator brings in someone who is not yet one of its people. The
//! administrator names an email and a role; the person gets a link by mail and joins by accepting it —
//! signing in if they have an account anywhere in the region, or choosing a name and password if not.
//! Whether the address already has an account is never told to the administrator: both cases make the same
//! invitation and get the same answer.
//!
//! The token is made when the mail is sent (`account.invite` job, [`issue_token`]), shown only in that mail,
//! and stored only as its SHA-256 hash; no secret waits in the job queue.

use crate::audit::{self, Actor, Change};
use crate::auth::{random_secret, sha256_hex};
use crate::tenancy::users::{self, User};
use crate::{Db, Result, Scope, StoreError, now_ms, parse_id};
use domain::authz::Role;
use domain::ids::{InvitationId, OrgId, UserId};
use domain::tenancy::Email;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

/// How long an invitation can be accepted.
pub const VALID_FOR_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// The job that mails an invitation.
pub const JOB_KIND: &str = "account.invite";

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Invitation {
    pub id: InvitationId,
    pub org_id: OrgId,
    pub email: String,
    pub role: Role,
    #[serde(serialize_with = "super::ser_ts")]
    pub created_at: i64,
    #[serde(serialize_with = "super::ser_ts")]
    pub expires_at: i64,
    #[serde(serialize_with = "super::ser_opt_ts")]
    pub accepted_at: Option<i64>,
}

fn invitation(r: &AnyRow) -> Result<Invitation> {
    let role: String = r.try_get("role")?;
    Ok(Invitation {
        id: parse_id(&r.try_get::<String, _>("id")?)?,
        org_id: parse_id(&r.try_get::<String, _>("org_id")?)?,
        email: r.try_get("email")?,
        role: Role::parse(&role).map_err(|e| StoreError::Corrupt(e.message))?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        accepted_at: r.try_get("accepted_at")?,
    })
}

const SELECT: &str =
    "SELECT id, org_id, email, role, created_at, expires_at, accepted_at FROM invitations";

/// Invites `email` to `org` (in scope) with `role`, and queues its mail, in one transaction.
pub async fn create(
    db: &Db,
    scope: &Scope,
    actor: &Actor,
    org: OrgId,
    email: &Email,
    role: Role,
) -> Result<Invitation> {
    let target = crate::tenancy::orgs::get(db, scope, org).await?;
    role.check_grantable(target.is_hub)
        .map_err(domain::Invalid::from)?;
    let now = now_ms();
    let inv = Invitation {
        id: InvitationId::new(),
        org_id: org,
        email: email.to_string(),
        role,
        created_at: now,
        expires_at: now + VALID_FOR_MS,
        accepted_at: None,
    };
    let mut tx = db.write.begin().await?;
    sqlx::query(
        "INSERT INTO invitations (id, org_id, email, role, invited_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(inv.id.to_string())
    .bind(org.to_string())
    .bind(&inv.email)
    .bind(role.as_str())
    .bind(actor.user_id.map(|u| u.to_string()))
    .bind(now)
    .bind(inv.expires_at)
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        actor,
        Change {
            org_id: Some(org),
            action: "invitation.create",
            entity_kind: "invitation",
            entity_id: inv.id.to_string(),
            before: None,
            after: Some(serde_json::json!({ "email": inv.email, "role": role })),
        },
    )
    .await?;
    crate::jobs::enqueue_in(
        &mut tx,
        JOB_KIND,
        &serde_json::json!({ "invitation": inv.id.to_string() }),
        now,
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(inv)
}

/// An organisation's invitations, newest first (at most `limit`).
pub async fn list(db: &Db, scope: &Scope, org: OrgId, limit: i64) -> Result<Vec<Invitation>> {
    let mut q = crate::sql::Sql::new(&format!("{SELECT} WHERE org_id = "));
    q.bind(org.to_string());
    q.scope("org_id", scope);
    q.push(" ORDER BY created_at DESC LIMIT ").bind(limit);
    q.fetch_all(&db.read)
        .await?
        .iter()
        .map(invitation)
        .collect()
}

/// What the mail needs: the invitation, its organisation's name, and a fresh token (the only copy).
#[derive(Debug, Clone)]
pub struct Issued {
    pub invitation: Invitation,
    pub org_name: String,
    pub token: String,
}

/// Makes a new token for a pending invitation (replacing any earlier one) for its mail. `None` when the
/// invitation is accepted, expired or gone: nothing to send.
pub async fn issue_token(db: &Db, id: InvitationId) -> Result<Option<Issued>> {
    let token = random_secret();
    let row = sqlx::query(
        "UPDATE invitations SET token_hash = $1 WHERE id = $2 AND accepted_at IS NULL AND expires_at > $3 \
         RETURNING id, org_id, email, role, created_at, expires_at, accepted_at",
    )
    .bind(sha256_hex(&token))
    .bind(id.to_string())
    .bind(now_ms())
    .fetch_optional(&db.write)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let invitation = invitation(&row)?;
    let org_name: String = sqlx::query("SELECT name FROM orgs WHERE id = $1")
        .bind(invitation.org_id.to_string())
        .fetch_one(&db.read)
        .await?
        .try_get("name")?;
    Ok(Some(Issued {
        invitation,
        org_name,
        token,
    }))
}

/// A pending invitation as its link shows it.
#[derive(Debug, Clone)]
pub struct Pending {
    pub invitation: Invitation,
    pub org_name: String,
    /// The person who already has this email, if anyone: they accept by signing in.
    pub existing: Option<User>,
}

/// The pending invitation a link's token names; `NotFound` when unknown, accepted or expired.
pub async fn find_pending(db: &Db, token: &str) -> Result<Pending> {
    let row = sqlx::query(&format!(
        "{SELECT} WHERE token_hash = $1 AND accepted_at IS NULL AND expires_at > $2"
    ))
    .bind(sha256_hex(token))
    .bind(now_ms())
    .fetch_optional(&db.read)
    .await?
    .ok_or(StoreError::NotFound)?;
    let invitation = invitation(&row)?;
    let org_name: String = sqlx::query("SELECT name FROM orgs WHERE id = $1 AND active = 1")
        .bind(invitation.org_id.to_string())
        .fetch_optional(&db.read)
        .await?
        .ok_or(StoreError::NotFound)?
        .try_get("name")?;
    let email = Email::parse(&invitation.email).map_err(|e| StoreError::Corrupt(e.message))?;
    let existing = users::find_by_email(db, &email).await?;
    Ok(Pending {
        invitation,
        org_name,
        existing,
    })
}

/// Marks the invitation accepted by `user`, once: a second acceptance (a double submit) finds nothing.
async fn mark_accepted(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    token: &str,
    user: UserId,
) -> Result<Invitation> {
    let row = sqlx::query(
        "UPDATE invitations SET accepted_at = $1, accepted_by = $2, token_hash = NULL \
         WHERE token_hash = $3 AND accepted_at IS NULL AND expires_at > $1 \
         RETURNING id, org_id, email, role, created_at, expires_at, accepted_at",
    )
    .bind(now_ms())
    .bind(user.to_string())
    .bind(sha256_hex(token))
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(StoreError::NotFound)?;
    invitation(&row)
}

/// Accepts as a new person: their account is made in the inviting organisation with the role.
pub async fn accept_new(db: &Db, token: &str, name: &str, password_hash: String) -> Result<User> {
    let pending = find_pending(db, token).await?;
    let now = now_ms();
    let u = User {
        id: UserId::new(),
        org_id: pending.invitation.org_id,
        email: pending.invitation.email.clone(),
        name: name.to_owned(),
        active: true,
        password_hash: Some(password_hash),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let actor = Actor::user(u.id, &u.email);
    let mut tx = db.write.begin().await?;
    users::insert_user(&mut tx, &actor, &u).await?;
    let inv = mark_accepted(&mut tx, token, u.id).await?;
    users::insert_grant(&mut tx, &actor, u.id, inv.org_id, inv.role).await?;
    accepted_entry(&mut tx, &actor, &inv).await?;
    tx.commit().await?;
    Ok(u)
}

/// Accepts as an existing person (who has proved it by their password): the role is granted to them.
pub async fn accept_existing(db: &Db, token: &str, user: &User) -> Result<Invitation> {
    let actor = Actor::user(user.id, &user.email);
    let mut tx = db.write.begin().await?;
    let inv = mark_accepted(&mut tx, token, user.id).await?;
    if !inv.email.eq_ignore_ascii_case(&user.email) {
        return Err(StoreError::NotFound);
    }
    let held =
        sqlx::query("SELECT 1 AS x FROM grants WHERE user_id = $1 AND org_id = $2 AND role = $3")
            .bind(user.id.to_string())
            .bind(inv.org_id.to_string())
            .bind(inv.role.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
    if !held {
        users::insert_grant(&mut tx, &actor, user.id, inv.org_id, inv.role).await?;
    }
    accepted_entry(&mut tx, &actor, &inv).await?;
    tx.commit().await?;
    Ok(inv)
}

async fn accepted_entry(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    actor: &Actor,
    inv: &Invitation,
) -> Result<()> {
    audit::append(
        tx,
        actor,
        Change {
            org_id: Some(inv.org_id),
            action: "invitation.accept",
            entity_kind: "invitation",
            entity_id: inv.id.to_string(),
            before: None,
            after: Some(serde_json::json!({ "email": inv.email, "role": inv.role })),
        },
    )
    .await?;
    Ok(())
}
