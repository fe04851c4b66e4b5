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
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            region_name: "Civitas region".into(),
            secure_cookies: false,
            session_ttl_ms: 12 * 60 * 60 * 1000,
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
