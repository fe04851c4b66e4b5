//! People and their role grants. A person belongs to one organisation (their home) and may hold grants
//! in others (a shared CISO, an auditor). Password hashes never leave this module's rows in serialised form.

use crate::audit::{self, Actor, Change};
use crate::page::{Page, PageRequest};
use crate::row::Cols;
use crate::sql::{Like, Sql};
use crate::{Db, Result, Scope, StoreError, now_ms, parse_id};
use domain::authz::{Grant, Role};
use domain::ids::{GrantId, OrgId, UserId};
use domain::tenancy::Email;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct User {
    pub id: UserId,
    pub org_id: OrgId,
    pub email: String,
    pub name: String,
    pub active: bool,
    #[serde(skip)]
    pub password_hash: Option<String>,
    #[serde(serialize_with = "super::ser_ts")]
    pub created_at: i64,
    #[serde(serialize_with = "super::ser_ts")]
    pub updated_at: i64,
    pub version: i64,
}

fn user(r: &AnyRow) -> Result<User> {
    Ok(User {
        id: r.id("id")?,
        org_id: r.id("org_id")?,
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        active: r.flag("active")?,
        password_hash: r.try_get("password_hash")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        version: r.try_get("version")?,
    })
}

fn json<T: Serialize>(v: &T) -> Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub q: Option<String>,
    pub active: Option<bool>,
}

/// People whose home is `org` (in scope), by email.
pub async fn list(
    db: &Db,
    scope: &Scope,
    org: OrgId,
    f: &Filter,
    page: &PageRequest,
) -> Result<Page<User>> {
    let mut q = Sql::new("SELECT * FROM users WHERE org_id = ");
    q.bind(org.to_string());
    q.scope("org_id", scope);
    if let Some(text) = f.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let text = text.to_lowercase();
        q.push(" AND (")
            .like("email", &text, Like::Anywhere)
            .push(" OR ")
            .like("LOWER(name)", &text, Like::Anywhere)
            .push(")");
    }
    if let Some(a) = f.active {
        q.push(" AND active = ").bind(i64::from(a));
    }
    if let Some(after) = &page.after {
        q.push(" AND email > ").bind(after.clone());
    }
    q.push(" ORDER BY email LIMIT ").bind(page.fetch());
    let items = q
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(user)
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(items, page, |u| u.email.clone()))
}

pub async fn get(db: &Db, scope: &Scope, id: UserId) -> Result<User> {
    let mut q = Sql::new("SELECT * FROM users WHERE id = ");
    q.bind(id.to_string());
    q.scope("org_id", scope);
    q.fetch_optional(&db.read)
        .await?
        .as_ref()
        .map(user)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

/// The signed-in person's own record: authentication, not tenant browsing, so no scope.
pub async fn get_self(db: &Db, id: UserId) -> Result<User> {
    sqlx::query("SELECT * FROM users WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&db.read)
        .await?
        .as_ref()
        .map(user)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

/// For sign-in and the CLI: a person by email, whatever their organisation.
pub async fn find_by_email(db: &Db, email: &Email) -> Result<Option<User>> {
    sqlx::query("SELECT * FROM users WHERE email = $1")
        .bind(email.as_str())
        .fetch_optional(&db.read)
        .await?
        .as_ref()
        .map(user)
        .transpose()
}

/// Adds a person to `org` with a first role there.
/// A person to add: their email, name, first role and (optionally) password hash.
pub struct NewUser<'a> {
    pub email: &'a Email,
    pub name: &'a str,
    pub role: Role,
    pub password_hash: Option<String>,
}

pub async fn create(
    db: &Db,
    scope: &Scope,
    actor: &Actor,
    org: OrgId,
    new: NewUser<'_>,
) -> Result<User> {
    let NewUser {
        email,
        name,
        role,
        password_hash,
    } = new;
    if !scope.contains(org) {
        return Err(StoreError::NotFound);
    }
    let now = now_ms();
    let u = User {
        id: UserId::new(),
        org_id: org,
        email: email.to_string(),
        name: name.to_owned(),
        active: true,
        password_hash,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let mut tx = db.begin_write().await?;
    insert_user(&mut tx, actor, &u).await?;
    insert_grant(&mut tx, actor, u.id, org, role).await?;
    tx.commit().await?;
    Ok(u)
}

/// Writes a new person's row and its audit entry in the caller's transaction (the email must be free).
pub(crate) async fn insert_user(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    actor: &Actor,
    u: &User,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO users (id, org_id, email, name, password_hash, active, created_at, updated_at, version) \
         VALUES ($1, $2, $3, $4, $5, 1, $6, $7, 1)",
    )
    .bind(u.id.to_string())
    .bind(u.org_id.to_string())
    .bind(&u.email)
    .bind(&u.name)
    .bind(u.password_hash.clone())
    .bind(u.created_at)
    .bind(u.updated_at)
    .execute(&mut **tx)
    .await
    .map_err(|e| StoreError::on_unique(e, "email", "email", "is already in use"))?;
    // A new account counts towards the member's seats today, whatever happens to it later.
    super::seats::note(tx, u.org_id).await?;
    audit::append(
        tx,
        actor,
        Change {
            org_id: Some(u.org_id),
            action: "user.create",
            entity_kind: "user",
            entity_id: u.id.to_string(),
            before: None,
            after: Some(json(u)?),
        },
    )
    .await?;
    Ok(())
}

/// Whether `user` is one of `org`'s people: their home is there, or they already hold a role there.
pub async fn belongs_to(db: &Db, user: UserId, org: OrgId) -> Result<bool> {
    let row = sqlx::query(
        "SELECT 1 AS x FROM users WHERE id = $1 AND org_id = $2 \
         UNION ALL SELECT 1 AS x FROM grants WHERE user_id = $1 AND org_id = $2",
    )
    .bind(user.to_string())
    .bind(org.to_string())
    .fetch_optional(&db.read)
    .await?;
    Ok(row.is_some())
}

/// Whether the person with `email`, if anyone, is one of `org`'s people (home there, or holding a role
/// there). One query whether or not the address has an account, so the time taken tells nothing either.
pub async fn email_belongs_to(db: &Db, email: &Email, org: OrgId) -> Result<bool> {
    let row = sqlx::query(
        "SELECT 1 AS x FROM users u WHERE u.email = $1 AND (u.org_id = $2 \
         OR EXISTS (SELECT 1 FROM grants g WHERE g.user_id = u.id AND g.org_id = $2))",
    )
    .bind(email.as_str())
    .bind(org.to_string())
    .fetch_optional(&db.read)
    .await?;
    Ok(row.is_some())
}

/// Enables or disables a person. Disabling also ends their sessions; their tokens stop working at once
/// because token checks read `active`.
pub async fn set_active(
    db: &Db,
    scope: &Scope,
    actor: &Actor,
    id: UserId,
    expected_version: Option<i64>,
    active: bool,
) -> Result<User> {
    let before = get(db, scope, id).await?;
    if expected_version.is_some_and(|v| v != before.version) {
        return Err(StoreError::Stale);
    }
    if actor.user_id == Some(id) && !active {
        return Err(domain::Invalid::one("active", "you cannot disable your own account").into());
    }
    let after = User {
        active,
        updated_at: now_ms(),
        version: before.version + 1,
        ..before.clone()
    };
    let mut tx = db.begin_write().await?;
    // The hub's seat record keeps the day's peak: the count before a disable, after an enable.
    if !active {
        super::seats::note(&mut tx, before.org_id).await?;
    }
    let n = sqlx::query("UPDATE users SET active = $1, updated_at = $2, version = $3 WHERE id = $4 AND version = $5")
        .bind(i64::from(active))
        .bind(after.updated_at)
        .bind(after.version)
        .bind(id.to_string())
        .bind(before.version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n != 1 {
        return Err(StoreError::Stale);
    }
    if active {
        super::seats::note(&mut tx, before.org_id).await?;
    }
    if !active {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
    }
    audit::append(
        &mut tx,
        actor,
        Change {
            org_id: Some(before.org_id),
            action: if active {
                "user.enable"
            } else {
                "user.disable"
            },
            entity_kind: "user",
            entity_id: id.to_string(),
            before: Some(json(&before)?),
            after: Some(json(&after)?),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Sets a person's password hash (their own change, or an administrator's reset from the CLI) and ends
/// every other session of theirs; with `revoke_tokens`, also revokes every API token of theirs, in the same
/// transaction.
pub async fn set_password(
    db: &Db,
    actor: &Actor,
    id: UserId,
    hash: &str,
    keep_session: Option<&str>,
    revoke_tokens: bool,
) -> Result<()> {
    let mut tx = db.begin_write().await?;
    let row = sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2, version = version + 1 WHERE id = $3 RETURNING org_id")
        .bind(hash)
        .bind(now_ms())
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
    let org: String = row.try_get("org_id")?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
        .bind(id.to_string())
        .bind(keep_session.unwrap_or(""))
        .execute(&mut *tx)
        .await?;
    let tokens_revoked = if revoke_tokens {
        sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
        )
        .bind(now_ms())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected()
    } else {
        0
    };
    audit::append(
        &mut tx,
        actor,
        Change {
            org_id: Some(parse_id(&org)?),
            action: "user.password",
            entity_kind: "user",
            entity_id: id.to_string(),
            before: None,
            after: revoke_tokens.then(|| serde_json::json!({ "tokens_revoked": tokens_revoked })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A grant as listed on an organisation's people page.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct GrantRow {
    pub id: GrantId,
    pub org_id: OrgId,
    pub org_slug: String,
    pub user_id: UserId,
    pub user_email: String,
    pub user_name: String,
    pub role: Role,
    #[serde(serialize_with = "super::ser_ts")]
    pub created_at: i64,
}

fn grant_row(r: &AnyRow) -> Result<GrantRow> {
    let role: String = r.try_get("role")?;
    Ok(GrantRow {
        id: r.id("id")?,
        org_id: r.id("org_id")?,
        org_slug: r.try_get("org_slug")?,
        user_id: r.id("user_id")?,
        user_email: r.try_get("user_email")?,
        user_name: r.try_get("user_name")?,
        role: Role::parse(&role).map_err(|e| StoreError::Corrupt(e.message))?,
        created_at: r.try_get("created_at")?,
    })
}

const GRANT_SELECT: &str = "SELECT g.id, g.org_id, o.slug AS org_slug, g.user_id, u.email AS user_email, \
    u.name AS user_name, g.role, g.created_at FROM grants g JOIN users u ON u.id = g.user_id JOIN orgs o ON o.id = g.org_id";

/// Grants in `org` (in scope), by person.
pub async fn list_grants(
    db: &Db,
    scope: &Scope,
    org: OrgId,
    page: &PageRequest,
) -> Result<Page<GrantRow>> {
    let mut q = Sql::new(&format!("{GRANT_SELECT} WHERE g.org_id = "));
    q.bind(org.to_string());
    q.scope("g.org_id", scope);
    if let Some(after) = &page.after {
        q.push(" AND g.id > ").bind(after.clone());
    }
    q.push(" ORDER BY g.id LIMIT ").bind(page.fetch());
    let items = q
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(grant_row)
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(items, page, |g| g.id.to_string()))
}

/// Every grant a person holds, wherever (their own profile; visible only through a scope on their home).
pub async fn grants_of(db: &Db, user: UserId) -> Result<Vec<GrantRow>> {
    sqlx::query(&format!(
        "{GRANT_SELECT} WHERE g.user_id = $1 ORDER BY o.slug"
    ))
    .bind(user.to_string())
    .fetch_all(&db.read)
    .await?
    .iter()
    .map(grant_row)
    .collect()
}

/// The grants authorisation works from: role, organisation, and whether it is the hub.
pub async fn grants_for_auth(db: &Db, user: UserId) -> Result<Vec<Grant>> {
    let rows = sqlx::query(
        "SELECT g.org_id, g.role, o.is_hub FROM grants g JOIN orgs o ON o.id = g.org_id \
         WHERE g.user_id = $1 AND o.active = 1",
    )
    .bind(user.to_string())
    .fetch_all(&db.read)
    .await?;
    rows.iter()
        .map(|r| {
            let role: String = r.try_get("role")?;
            Ok(Grant {
                org_id: r.id("org_id")?,
                role: Role::parse(&role).map_err(|e| StoreError::Corrupt(e.message))?,
                on_hub: r.flag("is_hub")?,
            })
        })
        .collect()
}

pub(crate) async fn insert_grant(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    actor: &Actor,
    user: UserId,
    org: OrgId,
    role: Role,
) -> Result<GrantId> {
    let id = GrantId::new();
    sqlx::query(
        "INSERT INTO grants (id, org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id.to_string())
    .bind(org.to_string())
    .bind(user.to_string())
    .bind(role.as_str())
    .bind(now_ms())
    .execute(&mut **tx)
    .await
    .map_err(|e| {
        StoreError::on_unique(e, "role", "role", "this person already has this role here")
    })?;
    audit::append(
        tx,
        actor,
        Change {
            org_id: Some(org),
            action: "grant.create",
            entity_kind: "grant",
            entity_id: id.to_string(),
            before: None,
            after: Some(serde_json::json!({ "user_id": user, "org_id": org, "role": role })),
        },
    )
    .await?;
    Ok(id)
}

/// Grants `role` in `org` (in scope) to an existing person. Hub roles only on the hub, member roles only on
/// members.
pub async fn grant(
    db: &Db,
    scope: &Scope,
    actor: &Actor,
    org: OrgId,
    user: UserId,
    role: Role,
) -> Result<GrantRow> {
    let target = crate::tenancy::orgs::get(db, scope, org).await?;
    role.check_grantable(target.is_hub)
        .map_err(domain::Invalid::from)?;
    get_self(db, user)
        .await
        .map_err(|_| domain::Invalid::one("user_id", "no such person"))?;
    let mut tx = db.begin_write().await?;
    let id = insert_grant(&mut tx, actor, user, org, role).await?;
    tx.commit().await?;
    let row = sqlx::query(&format!("{GRANT_SELECT} WHERE g.id = $1"))
        .bind(id.to_string())
        .fetch_one(&db.read)
        .await?;
    grant_row(&row)
}

/// Revokes a grant in scope. A person's last grant in the hub admin role cannot be revoked by themself,
/// so a region is never left without an administrator by accident.
pub async fn revoke(db: &Db, scope: &Scope, actor: &Actor, id: GrantId) -> Result<()> {
    let mut q = Sql::new(&format!("{GRANT_SELECT} WHERE g.id = "));
    q.bind(id.to_string());
    q.scope("g.org_id", scope);
    let g = q
        .fetch_optional(&db.read)
        .await?
        .as_ref()
        .map(grant_row)
        .transpose()?
        .ok_or(StoreError::NotFound)?;
    if g.role == Role::HubAdmin && actor.user_id == Some(g.user_id) {
        return Err(domain::Invalid::one(
            "role",
            "you cannot revoke your own hub administrator role",
        )
        .into());
    }
    let mut tx = db.begin_write().await?;
    sqlx::query("DELETE FROM grants WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
    audit::append(
        &mut tx,
        actor,
        Change {
            org_id: Some(g.org_id),
            action: "grant.revoke",
            entity_kind: "grant",
            entity_id: id.to_string(),
            before: Some(json(&g)?),
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn count(db: &Db) -> Result<i64> {
    Ok(sqlx::query("SELECT COUNT(*) AS n FROM users")
        .fetch_one(&db.read)
        .await?
        .try_get("n")?)
}
