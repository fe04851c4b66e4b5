//! What every handler shares: the database and the web configuration.

use std::sync::Arc;
use store::Db;

#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Shown in the header and the page titles.
    pub region_name: String,
    /// Set the `Secure` flag on cookies: true when served over TLS (directly or behind a proxy).
    pub secure_cookies: bool,
    /// How long a session lasts without signing in again.
    pub session_ttl_ms: i64,
    /// The proxies whose `X-Forwarded-For` is believed (see [`domain::net::client_ip`]); none: the socket's
    /// peer is the client.
    pub trusted_proxies: Vec<domain::net::Cidr>,
    /// Serve `/metrics` on the main listener (false when it has a listener of its own, `metrics_bind`).
    pub metrics_on_main: bool,
    /// When set, `/metrics` answers only `Authorization: Bearer <this>`.
    pub metrics_token: Option<String>,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            region_name: "Civitas region".into(),
            secure_cookies: false,
            session_ttl_ms: 12 * 60 * 60 * 1000,
            trusted_proxies: Vec::new(),
            metrics_on_main: true,
            metrics_token: None,
        }
    }
}

/// What every handler shares. One `Arc` so that extracting the state per request is one reference count.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub db: Db,
    pub config: WebConfig,
    /// Resolved principals, briefly: see [`crate::auth::PrincipalCache`].
    pub principals: crate::auth::PrincipalCache,
}

impl AppState {
    pub fn new(db: Db, config: WebConfig) -> Self {
        Self(Arc::new(Shared {
            db,
            config,
            principals: crate::auth::PrincipalCache::default(),
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}
