//! Civitas over HTTP: the JSON API under `/api/v1`, the HTML pages, operations endpoints and embedded
//! static assets. Handlers parse input into domain values, ask [`auth::Principal`] for the [`store::Scope`]
//! a permission gives, and call the store with it; they never filter tenant data themselves.

// Shared plumbing: imports no feature.
mod assets;
pub mod auth;
mod clock;
mod csrf;
pub mod csv_export;
mod download;
pub mod error;
mod extract;
mod health;
mod idempotency;
mod json;
pub mod openapi;
pub mod page;
pub mod pdf;
pub mod routes;
mod schema;
mod state;

// The features, one folder each (see docs/ARCHITECTURE.md, "Where is it"); only `routes` names them all.
mod accounts;
mod architecture;
mod audit;
mod billing;
mod cloud;
mod cmdb;
mod desk;
mod portfolio;
mod tenancy;

pub use routes::{Needs, RouteInfo, registered_routes};
pub use state::{AppState, WebConfig};

use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use std::time::Duration;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;

/// The largest request body accepted (an attachment upload).
pub const MAX_BODY: usize = 26 * 1024 * 1024;

/// `/metrics` alone, for a listener of its own (`metrics_bind`), with the same token check.
pub fn metrics_app(state: AppState) -> Router {
    health::metrics_router().with_state(state)
}

/// The whole application: API, pages, assets and operations endpoints, with the middleware stack.
pub fn app(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    routes::table()
        .into_router()
        .merge(health::router(state.config.metrics_on_main))
        .merge(assets::router())
        .fallback(page::not_found)
        // One middleware for the request's own checks — metrics, then for state-changing requests CSRF,
        // idempotency and the principal cache — chained as plain functions: each `from_fn` layer would
        // clone the whole stack below it on every request.
        .layer(axum::middleware::from_fn_with_state(state.clone(), health::track))
        // Attachments are the largest bodies (the desk's limit is 10 MB by default, settable up to 25 MB).
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(30)))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
            ),
        ))
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(health::span))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}
