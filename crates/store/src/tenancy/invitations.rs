//! Invitations: how a member administrator brings in someone who is not yet one of its people. The
//! administrator names an email and a role; the person gets a link by mail and joins by accepting it —
//! signing in if they have an account anywhere in the region, or choosing a name and password if not.
//! Whether the address already has an account is never told to the administrator: both cases make the same
//! invitation and get the same answer.
//!
//! The token is made when the mail is sent (`account.invite` job, [`issue_token`]), shown only in that mail,
//! and stored only as its SHA-256 hash; no secret waits in the job queue.
//!
//! Whether the mail went out is kept on the invitation ([`mark_sent`], [`mark_unsent`]: no mail server
//! configured, or the server refused), so the administrator sees an invitation that never left and can
//! [`resend`] it, or [`revoke`] one that should not be accepted any more.

use crate::audit::{self, Actor, Change};
use crate::auth::{random_secret, sha256_hex};
use crate::row::Cols;
use crate::tenancy::users::{self, User};
use crate::{Db, Result, Scope, StoreError, now_ms};
use domain::authz::Role;
use domain::ids::{InvitationId, OrgId, UserId};
use domain::tenancy::Email;
use domain::tenancy::invitations::{Facts, State};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

/// How long an invitation can be accepted.
pub const VALID_FOR_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// The job that mails an invitation.
pub const JOB_KIND: &str = "account.invite";

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
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
    /// When its last mail was handed to the mail server.
    #[serde(serialize_with = "super::ser_opt_ts")]
    pub sent_at: Option<i64>,
    /// Why the last attempt to mail it did not go, if it did not.
    pub send_error: Option<String>,
    #[serde(serialize_with = "super::ser_opt_ts")]
    pub revoked_at: Option<i64>,
    /// Where it stands when read: queued, sent, not_sent, accepted, expired or revoked.
    pub state: State,
}

fn invitation(r: &AnyRow) -> Result<Invitation> {
    let role: String = r.try_get("role")?;
    let mut inv = Invitation {
        id: r.id("id")?,
        org_id: r.id("org_id")?,
        email: r.try_get("email")?,
        role: Role::parse(&role).map_err(|e| StoreError::Corrupt(e.message))?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        accepted_at: r.try_get("accepted_at")?,
        sent_at: r.try_get("sent_at")?,
        send_error: r.try_get("send_error")?,
        revoked_at: r.try_get("revoked_at")?,
        state: State::Queued,
    };
    inv.state = state_of(&inv, now_ms());
    Ok(inv)
}

fn state_of(inv: &Invitation, now: i64) -> State {
    State::of(
        &Facts {
            sent_at: inv.sent_at,
            send_error: inv.send_error.as_deref(),
            accepted_at: inv.accepted_at,
            revoked_at: inv.revoked_at,
            expires_at: inv.expires_at,
        },
        now,
    )
}

const COLUMNS: &str =
    "id, org_id, email, role, created_at, expires_at, accepted_at, sent_at, send_error, revoked_at";

const SELECT: &str = "SELECT id, org_id, email, role, created_at, expires_at, accepted_at, sent_at, \
                      send_error, revoked_at FROM invitations";

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
        sent_at: None,
        send_error: None,
        revoked_at: None,
        state: State::Queued,
    };
    let mut tx = db.begin_write().await?;
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

/// One invitation of `org` (in scope); another organisation's is `NotFound`.
pub async fn get(db: &Db, scope: &Scope, org: OrgId, id: InvitationId) -> Result<Invitation> {
    let mut q = crate::sql::Sql::new(&format!("{SELECT} WHERE id = "));
    q.bind(id.to_string())
        .push(" AND org_id = ")
        .bind(org.to_string());
    q.scope("org_id", scope);
    q.fetch_optional(&db.read)
        .await?
        .as_ref()
        .map(invitation)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

/// Why an invitation cannot be resent or revoked: it was accepted, or withdrawn.
fn settled(inv: &Invitation) -> StoreError {
    StoreError::Conflict {
        field: "invitation".into(),
        message: match inv.state {
            State::Accepted => "was already accepted".into(),
            _ => "was revoked; invite the address again instead".into(),
        },
    }
}

/// Sets `set` (which binds `$1` to `value`) on a pending invitation, in a transaction left open for the
/// caller's audit entry; a conflict naming its state when it was accepted or revoked meanwhile.
async fn update_pending(
    db: &Db,
    scope: &Scope,
    org: OrgId,
    id: InvitationId,
    set: &str,
    value: i64,
) -> Result<(sqlx::Transaction<'static, sqlx::Any>, Invitation)> {
    let mut tx = db.begin_write().await?;
    let row = sqlx::query(&format!(
        "UPDATE invitations SET {set} WHERE id = $2 AND org_id = $3 \
         AND accepted_at IS NULL AND revoked_at IS NULL RETURNING {COLUMNS}"
    ))
    .bind(value)
    .bind(id.to_string())
    .bind(org.to_string())
    .fetch_optional(&mut *tx)
    .await?;
    match row {
        Some(row) => Ok((tx, invitation(&row)?)),
        None => {
            drop(tx);
            Err(settled(&get(db, scope, org, id).await?))
        }
    }
}

/// Mails an invitation again (an earlier mail that never went, or was lost): a new week to accept, and a
/// new `account.invite` job, whose mail carries a fresh link (the earlier link stops working when it is
/// made). Accepted or revoked ones are a conflict.
pub async fn resend(
    db: &Db,
    scope: &Scope,
    actor: &Actor,
    org: OrgId,
    id: InvitationId,
) -> Result<Invitation> {
    let before = get(db, scope, org, id).await?;
    if !before.state.can_resend() {
        return Err(settled(&before));
    }
    let now = now_ms();
    let (mut tx, inv) = update_pending(
        db,
        scope,
        org,
        id,
        "expires_at = $1, sent_at = NULL, send_error = NULL",
        now + VALID_FOR_MS,
    )
    .await?;
    audit::append(
        &mut tx,
        actor,
        Change {
            org_id: Some(org),
            action: "invitation.resend",
            entity_kind: "invitation",
            entity_id: inv.id.to_string(),
            before: Some(serde_json::json!({
                "state": before.state, "sent_at": before.sent_at, "send_error": before.send_error,
            })),
            after: Some(serde_json::json!({ "email": inv.email, "role": inv.role })),
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

/// Withdraws a pending invitation: its link stops working at once and it can no longer be accepted.
pub async fn revoke(
    db: &Db,
    scope: &Scope,
    actor: &Actor,
    org: OrgId,
    id: InvitationId,
) -> Result<Invitation> {
    let before = get(db, scope, org, id).await?;
    if !before.state.can_revoke() {
        return Err(settled(&before));
    }
    let (mut tx, inv) = update_pending(
        db,
        scope,
        org,
        id,
        "revoked_at = $1, token_hash = NULL",
        now_ms(),
    )
    .await?;
    audit::append(
        &mut tx,
        actor,
        Change {
            org_id: Some(org),
            action: "invitation.revoke",
            entity_kind: "invitation",
            entity_id: inv.id.to_string(),
            before: Some(serde_json::json!({ "state": before.state })),
            after: Some(
                serde_json::json!({ "email": inv.email, "role": inv.role, "state": inv.state }),
            ),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(inv)
}

/// Records that the invitation's mail was handed to the mail server.
pub async fn mark_sent(db: &Db, id: InvitationId) -> Result<()> {
    sqlx::query("UPDATE invitations SET sent_at = $1, send_error = NULL WHERE id = $2")
        .bind(now_ms())
        .bind(id.to_string())
        .execute(&db.write)
        .await?;
    Ok(())
}

/// Records why the invitation's mail did not go (no mail server configured, or its refusal), so that it
/// shows as not sent and can be resent.
pub async fn mark_unsent(db: &Db, id: InvitationId, reason: &str) -> Result<()> {
    sqlx::query(
        "UPDATE invitations SET send_error = $1 WHERE id = $2 AND accepted_at IS NULL \
         AND revoked_at IS NULL",
    )
    .bind(reason.chars().take(500).collect::<String>())
    .bind(id.to_string())
    .execute(&db.write)
    .await?;
    Ok(())
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
    let row = sqlx::query(&format!(
        "UPDATE invitations SET token_hash = $1 WHERE id = $2 AND accepted_at IS NULL \
             AND revoked_at IS NULL AND expires_at > $3 RETURNING {COLUMNS}"
    ))
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
        "{SELECT} WHERE token_hash = $1 AND accepted_at IS NULL AND revoked_at IS NULL \
         AND expires_at > $2"
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
    let row = sqlx::query(&format!(
        "UPDATE invitations SET accepted_at = $1, accepted_by = $2, token_hash = NULL \
         WHERE token_hash = $3 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $1 \
         RETURNING {COLUMNS}"
    ))
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
    let mut tx = db.begin_write().await?;
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
    let mut tx = db.begin_write().await?;
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
