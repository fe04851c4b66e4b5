//! Who is asking. A request is authenticated by a bearer token (`Authorization: Bearer cvt_…`) or by the
//! session cookie; either way it becomes a [`Principal`] with the person's role grants. [`Principal::scope`]
//! is the only way handlers obtain a [`Scope`], and it asks [`domain::authz`], the one module that decides.

use crate::error::Failure;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use domain::authz::{Grant, Permission, Role, Scope, TicketView};
use domain::ids::{OrgId, TokenId};
use store::audit::Actor;
use store::auth::Session;
use store::tenancy::users::User;

pub const SESSION_COOKIE: &str = "civitas_session";
/// Before sign-in there is no session to hold a CSRF token, so the sign-in form uses a double-submit cookie.
pub const PRE_SESSION_CSRF_COOKIE: &str = "civitas_csrf";

#[derive(Debug, Clone)]
pub enum Via {
    Session(Session),
    Token(TokenId),
}

#[derive(Debug, Clone)]
pub struct Principal(std::sync::Arc<Identity>);

/// Who the principal is: the person, their grants, and how they authenticated.
#[derive(Debug)]
pub struct Identity {
    pub user: User,
    pub grants: Vec<Grant>,
    pub via: Via,
}

impl std::ops::Deref for Principal {
    type Target = Identity;
    fn deref(&self) -> &Identity {
        &self.0
    }
}

impl Principal {
    /// The organisations this person may act on with `perm` (possibly none).
    pub fn scope(&self, perm: Permission) -> Scope {
        Scope::for_grants(&self.grants, perm)
    }

    /// Like [`Principal::scope`], but a person whose roles never allow `perm` anywhere is refused (403).
    pub fn require(&self, perm: Permission) -> Result<Scope, Failure> {
        let s = self.scope(perm);
        if s.is_empty() {
            Err(Failure::Forbidden)
        } else {
            Ok(s)
        }
    }

    /// Like [`Self::require`], for the hub's own data (its books, its benchmarks): only a grant on the hub,
    /// reaching the whole region, will do; a member's grant of the same role is refused (403).
    pub fn require_region(&self, perm: Permission) -> Result<(), Failure> {
        match self.require(perm)? {
            Scope::Region => Ok(()),
            Scope::Orgs(_) => Err(Failure::Forbidden),
        }
    }

    /// Which tickets this person sees; refused (403) when none at all.
    pub fn ticket_view(&self) -> Result<TicketView, Failure> {
        let v = TicketView::for_grants(&self.grants, self.user.id);
        if v.is_empty() {
            Err(Failure::Forbidden)
        } else {
            Ok(v)
        }
    }

    /// Whether this person works the service desk somewhere.
    pub fn is_desk(&self) -> bool {
        !self.scope(Permission::TicketWork).is_empty()
    }

    pub fn actor(&self) -> Actor {
        Actor::user(self.user.id, &self.user.email)
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.grants.iter().any(|g| g.role == role)
    }

    pub fn session(&self) -> Option<&Session> {
        match &self.via {
            Via::Session(s) => Some(s),
            Via::Token(_) => None,
        }
    }

    /// The organisation the person is looking at: the session's choice if they still have a grant there,
    /// else their home organisation if they have a grant there, else their first grant's.
    pub fn current_org(&self) -> Option<OrgId> {
        let granted = |o: OrgId| self.grants.iter().any(|g| g.org_id == o || g.on_hub);
        self.session()
            .and_then(|s| s.current_org_id)
            .filter(|o| granted(*o))
            .or_else(|| granted(self.user.org_id).then_some(self.user.org_id))
            .or_else(|| self.grants.first().map(|g| g.org_id))
    }
}

pub fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

pub fn bearer(parts: &Parts) -> Option<&str> {
    let v = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// The service desk's own writes — tickets, their replies, files and watchers, time entries — change no
/// credential, account, grant or organisation, and they are the busiest writes of all: clearing the cache
/// after each made every next request resolve its principal again (three queries).
pub const LEAVES_PRINCIPALS: [&str; 4] = [
    "/api/v1/tickets",
    "/tickets",
    "/api/v1/time-entries",
    "/api/v1/timer",
];

fn leaves_principals(path: &str) -> bool {
    LEAVES_PRINCIPALS.iter().any(|p| {
        path.strip_prefix(p)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// A short-lived cache of resolved principals, keyed by the hash of the credential. Resolving costs three
/// queries; under load the same token or session comes back many times a second. Changes made through this
/// server (revoking a token, disabling a person, changing grants or a password, signing out) clear the
/// cache at once; changes made elsewhere (another server, the CLI) take effect within [`PRINCIPAL_TTL`].
#[derive(Default)]
pub struct PrincipalCache {
    entries: std::sync::RwLock<std::collections::HashMap<String, (std::time::Instant, Principal)>>,
}

/// How long a resolved principal is trusted without asking the database again.
pub const PRINCIPAL_TTL: std::time::Duration = std::time::Duration::from_secs(2);
const PRINCIPAL_CACHE_MAX: usize = 10_000;

impl PrincipalCache {
    fn get(&self, key: &str) -> Option<Principal> {
        let map = self.entries.read().ok()?;
        let (at, p) = map.get(key)?;
        (at.elapsed() < PRINCIPAL_TTL).then(|| p.clone())
    }

    fn put(&self, key: String, p: Principal) {
        if let Ok(mut map) = self.entries.write() {
            if map.len() >= PRINCIPAL_CACHE_MAX {
                map.retain(|_, (at, _)| at.elapsed() < PRINCIPAL_TTL);
                if map.len() >= PRINCIPAL_CACHE_MAX {
                    map.clear();
                }
            }
            map.insert(key, (std::time::Instant::now(), p));
        }
    }

    /// Forgets every cached principal: after any change to credentials, accounts or grants.
    pub fn clear(&self) {
        if let Ok(mut map) = self.entries.write() {
            map.clear();
        }
    }
}

/// Resolves the request's credentials, or `None` when there are none or they are not valid.
pub async fn resolve(state: &AppState, parts: &Parts) -> Result<Option<Principal>, Failure> {
    let key = match bearer(parts) {
        Some(t) => format!("t:{}", store::auth::sha256_hex(t)),
        None => match cookie(parts, SESSION_COOKIE) {
            Some(c) => format!("s:{}", store::auth::sha256_hex(c)),
            None => return Ok(None),
        },
    };
    if let Some(p) = state.principals.get(&key) {
        return Ok(Some(p));
    }
    let resolved = resolve_uncached(state, parts).await?;
    if let Some(p) = &resolved {
        state.principals.put(key, p.clone());
    }
    Ok(resolved)
}

async fn resolve_uncached(state: &AppState, parts: &Parts) -> Result<Option<Principal>, Failure> {
    let db = &state.db;
    let (user_id, via) = if let Some(token) = bearer(parts) {
        match store::auth::find_token_user(db, token).await? {
            Some(t) => {
                if t.needs_touch(store::now_ms()) {
                    store::auth::touch_token(db, t.id).await?;
                }
                (t.user_id, Via::Token(t.id))
            }
            None => return Ok(None),
        }
    } else if let Some(secret) = cookie(parts, SESSION_COOKIE) {
        match store::auth::find_session(db, secret).await? {
            Some(s) => (s.user_id, Via::Session(s)),
            None => return Ok(None),
        }
    } else {
        return Ok(None);
    };
    let user = store::tenancy::users::get_self(db, user_id).await?;
    if !user.active {
        return Ok(None);
    }
    let grants = store::tenancy::users::grants_for_auth(db, user_id).await?;
    Ok(Some(Principal(std::sync::Arc::new(Identity {
        user,
        grants,
        via,
    }))))
}

/// Rejection for a missing principal: API paths get problem+json, pages a redirect to sign in.
pub struct AuthRejection {
    api: bool,
    failure: Failure,
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        if self.api {
            crate::error::ApiError(self.failure).into_response()
        } else {
            crate::error::PageError(self.failure).into_response()
        }
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(p) = parts.extensions.get::<Principal>() {
            return Ok(p.clone());
        }
        let api = parts.uri.path().starts_with("/api/");
        match resolve(state, parts).await {
            Ok(Some(p)) => {
                parts.extensions.insert(p.clone());
                Ok(p)
            }
            Ok(None) => Err(AuthRejection {
                api,
                failure: Failure::Unauthenticated,
            }),
            Err(f) => Err(AuthRejection { api, failure: f }),
        }
    }
}

/// The client's address: the socket's peer, or — when the peer is one of `trusted_proxies` — the right-most
/// untrusted address in `X-Forwarded-For`. `None` when the server was started without connection info
/// (every listener in `civitas serve` and the tests has it).
pub fn client_ip(state: &AppState, parts: &Parts) -> Option<std::net::IpAddr> {
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()?
        .0
        .ip();
    let forwarded = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>();
    Some(domain::net::client_ip(
        peer,
        forwarded.into_iter(),
        &state.config.trusted_proxies,
    ))
}

/// A `Set-Cookie` value with the attributes every Civitas cookie carries.
pub fn set_cookie(name: &str, value: &str, max_age_s: i64, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// Clears the principal cache after every state-changing request that succeeded: it may have changed a
/// credential, an account, a grant or an organisation's standing. Done here, once, so that no handler can
/// forget it — a new route clears the cache unless it is one of [`LEAVES_PRINCIPALS`].
pub async fn forget_after_writes(
    state: AppState,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let keeps = leaves_principals(req.uri().path());
    let res = next.run(req).await;
    if !keeps && !res.status().is_client_error() && !res.status().is_server_error() {
        state.principals.clear();
    }
    res
}

#[cfg(test)]
mod cache_tests {
    use super::leaves_principals;

    #[test]
    fn only_desk_writes_keep_the_principal_cache() {
        for keep in [
            "/api/v1/tickets",
            "/api/v1/tickets/42/comments",
            "/tickets/42/reply",
            "/api/v1/time-entries/x",
            "/api/v1/timer/start",
        ] {
            assert!(leaves_principals(keep), "{keep}");
        }
        for clear in [
            "/api/v1/tokens",
            "/api/v1/ticketsx",
            "/account/password",
            "/api/v1/orgs/north-reading/grants",
            "/api/v1/users/x/disable",
            "/",
        ] {
            assert!(!leaves_principals(clear), "{clear}");
        }
    }
}
