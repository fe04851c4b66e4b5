//! Credentials: password hashes (argon2id), sessions, API tokens and the sign-in throttle. Session ids and
//! tokens are 256-bit random values shown to the client once and stored only as SHA-256 hashes.

use crate::audit::{self, Actor, Change};
use crate::row::Cols;
use crate::{Db, Result, StoreError, now_ms, parse_id};
use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use base64::Engine;
use domain::ids::{OrgId, TokenId, UserId};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

/// argon2id with the crate's defaults (19 MiB, 2 passes), OWASP's recommended minimum.
pub fn hash_password(password: &str) -> Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Corrupt(format!("password hashing failed: {e}")))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash to verify against when the email is unknown, so that a wrong email and a wrong password take
/// the same time.
pub fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| hash_password("not-a-real-password-but-equally-slow").unwrap_or_default())
}

/// 32 random bytes, URL-safe base64: session ids, API tokens, CSRF tokens.
pub fn random_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// A live session, as the web layer needs it on every request.
#[derive(Debug, Clone)]
pub struct Session {
    pub token_hash: String,
    pub user_id: UserId,
    pub csrf_token: String,
    pub current_org_id: Option<OrgId>,
    pub expires_at: i64,
}

/// Starts a session; returns the cookie value (shown once) and the session.
pub async fn create_session(
    db: &Db,
    user: UserId,
    org: Option<OrgId>,
    ttl_ms: i64,
) -> Result<(String, Session)> {
    let secret = random_secret();
    let s = Session {
        token_hash: sha256_hex(&secret),
        user_id: user,
        csrf_token: random_secret(),
        current_org_id: org,
        expires_at: now_ms() + ttl_ms,
    };
    sqlx::query("INSERT INTO sessions (token_hash, user_id, csrf_token, current_org_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&s.token_hash)
        .bind(user.to_string())
        .bind(&s.csrf_token)
        .bind(org.map(|o| o.to_string()))
        .bind(now_ms())
        .bind(s.expires_at)
        .execute(&db.write)
        .await?;
    Ok((secret, s))
}

/// The session for a cookie value, if it exists, has not expired and its person is active.
pub async fn find_session(db: &Db, secret: &str) -> Result<Option<Session>> {
    let row = sqlx::query(
        "SELECT s.token_hash, s.user_id, s.csrf_token, s.current_org_id, s.expires_at FROM sessions s \
         JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.active = 1",
    )
    .bind(sha256_hex(secret))
    .bind(now_ms())
    .fetch_optional(&db.read)
    .await?;
    row.map(|r| {
        let org: Option<String> = r.try_get("current_org_id")?;
        Ok(Session {
            token_hash: r.try_get("token_hash")?,
            user_id: r.id("user_id")?,
            csrf_token: r.try_get("csrf_token")?,
            current_org_id: org.as_deref().map(parse_id).transpose()?,
            expires_at: r.try_get("expires_at")?,
        })
    })
    .transpose()
}

pub async fn set_session_org(db: &Db, token_hash: &str, org: OrgId) -> Result<()> {
    sqlx::query("UPDATE sessions SET current_org_id = $1 WHERE token_hash = $2")
        .bind(org.to_string())
        .bind(token_hash)
        .execute(&db.write)
        .await?;
    Ok(())
}

pub async fn end_session(db: &Db, token_hash: &str) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(&db.write)
        .await?;
    Ok(())
}

/// Removes expired sessions: a periodic job.
pub async fn purge_expired_sessions(db: &Db) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(now_ms())
        .execute(&db.write)
        .await?
        .rows_affected())
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ApiToken {
    pub id: TokenId,
    pub name: String,
    /// The first characters of the token, so a person can tell their tokens apart.
    pub prefix: String,
    #[serde(serialize_with = "crate::tenancy::ser_ts")]
    pub created_at: i64,
    #[serde(serialize_with = "crate::tenancy::ser_opt_ts")]
    pub last_used_at: Option<i64>,
    #[serde(serialize_with = "crate::tenancy::ser_opt_ts")]
    pub revoked_at: Option<i64>,
}

/// Prefix of every token, so that secret scanners can recognise a leaked one.
pub const TOKEN_PREFIX: &str = "cvt_";

/// Creates a token for a person; returns the token (shown once) and its record.
pub async fn create_token(
    db: &Db,
    actor: &Actor,
    user: UserId,
    org: OrgId,
    name: &str,
) -> Result<(String, ApiToken)> {
    let secret = format!("{TOKEN_PREFIX}{}", random_secret());
    let t = ApiToken {
        id: TokenId::new(),
        name: name.to_owned(),
        prefix: secret.chars().take(10).collect(),
        created_at: now_ms(),
        last_used_at: None,
        revoked_at: None,
    };
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO api_tokens (id, org_id, user_id, name, token_hash, prefix, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(t.id.to_string())
        .bind(org.to_string())
        .bind(user.to_string())
        .bind(&t.name)
        .bind(sha256_hex(&secret))
        .bind(&t.prefix)
        .bind(t.created_at)
        .execute(&mut *tx)
        .await?;
    audit::append(
        &mut tx,
        actor,
        Change {
            org_id: Some(org),
            action: "token.create",
            entity_kind: "api_token",
            entity_id: t.id.to_string(),
            before: None,
            after: Some(serde_json::json!({ "name": t.name, "prefix": t.prefix, "user_id": user })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok((secret, t))
}

/// A live token as authentication sees it.
#[derive(Debug, Clone, Copy)]
pub struct TokenUse {
    pub id: TokenId,
    pub user_id: UserId,
    pub last_used_at: Option<i64>,
}

impl TokenUse {
    /// Whether `last_used_at` is old enough to be worth a write (once a minute at most: reads stay reads).
    pub fn needs_touch(&self, now: i64) -> bool {
        self.last_used_at.is_none_or(|t| t < now - 60_000)
    }
}

/// The person a bearer token belongs to, if the token is live and the person active.
pub async fn find_token_user(db: &Db, secret: &str) -> Result<Option<TokenUse>> {
    let row = sqlx::query(
        "SELECT t.id, t.user_id, t.last_used_at FROM api_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.active = 1",
    )
    .bind(sha256_hex(secret))
    .fetch_optional(&db.read)
    .await?;
    row.map(|r| {
        Ok(TokenUse {
            id: r.id("id")?,
            user_id: r.id("user_id")?,
            last_used_at: r.try_get("last_used_at")?,
        })
    })
    .transpose()
}

/// Records that a token was used; at most once a minute per token, to keep reads from writing.
pub async fn touch_token(db: &Db, id: TokenId) -> Result<()> {
    let now = now_ms();
    sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)")
        .bind(now)
        .bind(id.to_string())
        .bind(now - 60_000)
        .execute(&db.write)
        .await?;
    Ok(())
}

/// A person's own tokens, newest first.
pub async fn list_tokens(db: &Db, user: UserId) -> Result<Vec<ApiToken>> {
    let rows = sqlx::query(
        "SELECT id, name, prefix, created_at, last_used_at, revoked_at FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC",
    )
    .bind(user.to_string())
    .fetch_all(&db.read)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ApiToken {
                id: r.id("id")?,
                name: r.try_get("name")?,
                prefix: r.try_get("prefix")?,
                created_at: r.try_get("created_at")?,
                last_used_at: r.try_get("last_used_at")?,
                revoked_at: r.try_get("revoked_at")?,
            })
        })
        .collect()
}

/// Revokes one of a person's own tokens; another person's token is not found.
pub async fn revoke_token(db: &Db, actor: &Actor, user: UserId, id: TokenId) -> Result<()> {
    let mut tx = db.begin_write().await?;
    let row = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL RETURNING org_id, name")
        .bind(now_ms())
        .bind(id.to_string())
        .bind(user.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
    let org: String = row.try_get("org_id")?;
    let name: String = row.try_get("name")?;
    audit::append(
        &mut tx,
        actor,
        Change {
            org_id: Some(parse_id(&org)?),
            action: "token.revoke",
            entity_kind: "api_token",
            entity_id: id.to_string(),
            before: Some(serde_json::json!({ "name": name })),
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Sign-in throttle, two counters kept apart: failed attempts on one account (whoever makes them) and failed
/// attempts from one client address (whichever accounts they name), each per window. An address gets more
/// tries than an account, so that a person who mistypes their own password locks only their own account
/// and never their office's other people, while spraying many accounts from one place still stops.
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 5;
pub const MAX_FAILURES_PER_ADDRESS: i64 = 20;
pub const THROTTLE_WINDOW_MS: i64 = 15 * 60 * 1000;

/// The throttle key of an account.
pub fn account_key(email: &domain::tenancy::Email) -> String {
    format!("email:{email}")
}

/// The throttle key of a client address. An IPv6 client is keyed by its /64, the block one subscriber is
/// given: otherwise each of its 2^64 addresses would be a fresh key. An IPv4-mapped address is its IPv4.
pub fn address_key(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("addr:{v4}"),
            None => {
                let s = v6.segments();
                format!("addr:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        std::net::IpAddr::V4(v4) => format!("addr:{v4}"),
    }
}

/// Milliseconds until the key may try again (after `max` failures in the window), or `None` if it may try
/// now.
pub async fn throttled_for(db: &Db, key: &str, max: i64) -> Result<Option<i64>> {
    let row = sqlx::query("SELECT failures, window_start FROM sign_in_throttle WHERE key = $1")
        .bind(key)
        .fetch_optional(&db.read)
        .await?;
    let now = now_ms();
    Ok(row.and_then(|r| {
        let failures: i64 = r.try_get("failures").ok()?;
        let start: i64 = r.try_get("window_start").ok()?;
        let ends = start + THROTTLE_WINDOW_MS;
        (failures >= max && ends > now).then_some(ends - now)
    }))
}

pub async fn record_failure(db: &Db, key: &str) -> Result<()> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO sign_in_throttle (key, failures, window_start) VALUES ($1, 1, $2) \
         ON CONFLICT (key) DO UPDATE SET \
           failures = CASE WHEN sign_in_throttle.window_start + $3 <= $2 THEN 1 ELSE sign_in_throttle.failures + 1 END, \
           window_start = CASE WHEN sign_in_throttle.window_start + $3 <= $2 THEN $2 ELSE sign_in_throttle.window_start END",
    )
    .bind(key)
    .bind(now)
    .bind(THROTTLE_WINDOW_MS)
    .execute(&db.write)
    .await?;
    Ok(())
}

pub async fn clear_failures(db: &Db, key: &str) -> Result<()> {
    sqlx::query("DELETE FROM sign_in_throttle WHERE key = $1")
        .bind(key)
        .execute(&db.write)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::address_key;

    #[test]
    fn an_ipv6_client_is_throttled_by_its_64_block() {
        let a = address_key("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = address_key("2001:db8:1:2:ffff:1:2:3".parse().unwrap());
        let other = address_key("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, other);
        assert_eq!(
            address_key("::ffff:192.0.2.7".parse().unwrap()),
            address_key("192.0.2.7".parse().unwrap())
        );
    }
}
