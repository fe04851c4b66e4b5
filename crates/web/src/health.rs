//! Health and monitoring: liveness, readiness, Prometheus metrics, request tracing.

use crate::AppState;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;

/// `/healthz`, `/readyz`, and `/metrics` unless it is served on a listener of its own (`metrics_bind`).
pub fn router(with_metrics: bool) -> Router<AppState> {
    let r = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    if with_metrics {
        r.route("/metrics", get(metrics))
    } else {
        r
    }
}

/// `/metrics` alone, for its own listener (`metrics_bind`): an address only the monitoring network reaches.
pub fn metrics_router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

/// The process is up.
async fn healthz() -> &'static str {
    "ok"
}

/// The process can serve: the database answers.
async fn readyz(State(s): State<AppState>) -> Response {
    match s.db.ping().await {
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

/// How often the recorded latencies are folded into the histograms' summaries: at most a second of samples
/// is held (about 90 bytes each: 2 MB at 25,000 requests a second).
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

fn handle() -> &'static PrometheusHandle {
    static H: OnceLock<PrometheusHandle> = OnceLock::new();
    H.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let h = recorder.handle();
        // Only the first install in a process wins (tests build many apps); the handle still renders.
        let _ = metrics::set_global_recorder(recorder);
        // Every latency recorded is kept until the histograms are drained: by a scrape of /metrics, or
        // by this upkeep. Without it a server nobody scrapes held ~90 bytes per request it ever served
        // (13 MB after a 150,000-request benchmark, growing without bound).
        let upkeep = h.clone();
        let spawned = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no metrics upkeep thread: histograms drain only when scraped");
        }
        h
    })
}

/// The Prometheus text. With `metrics_token` set, only `Authorization: Bearer <token>` gets it (compared in
/// constant time); anyone else gets 401.
async fn metrics(State(s): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    if let Some(want) = &s.config.metrics_token {
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
            .unwrap_or("");
        if !crate::csrf::constant_time_eq(want.as_bytes(), given.as_bytes()) {
            return (
                StatusCode::UNAUTHORIZED,
                [(axum::http::header::WWW_AUTHENTICATE, "Bearer")],
                "metrics need the token configured as metrics_token\n",
            )
                .into_response();
        }
    }
    let _ = handle();
    queue_gauges(&s.db).await;
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        handle().render(),
    )
        .into_response()
}

/// The job queue and the database pools as gauges, read when scraped: due jobs per kind, the age of the
/// oldest due job, leases held, connections open and in use.
async fn queue_gauges(db: &store::Db) {
    let now = store::now_ms();
    match store::jobs::stats(db, now).await {
        Ok(q) => {
            // Kinds seen before that have drained since read 0, not their last value.
            static SEEN: std::sync::Mutex<std::collections::BTreeSet<String>> =
                std::sync::Mutex::new(std::collections::BTreeSet::new());
            let mut seen = SEEN
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for kind in seen.iter() {
                if !q.due.iter().any(|(k, _, _)| k == kind) {
                    metrics::gauge!("civitas_jobs_due", "kind" => kind.clone()).set(0.0);
                }
            }
            for (kind, n, _) in &q.due {
                metrics::gauge!("civitas_jobs_due", "kind" => kind.clone()).set(*n as f64);
                seen.insert(kind.clone());
            }
            metrics::gauge!("civitas_jobs_due_total").set(q.due_total() as f64);
            metrics::gauge!("civitas_jobs_oldest_due_age_seconds")
                .set(q.oldest_due_age_ms(now) as f64 / 1000.0);
            metrics::gauge!("civitas_jobs_running").set(q.running as f64);
        }
        Err(e) => tracing::warn!(error = %e, "job queue statistics unavailable"),
    }
    for (pool, open, busy) in db.pool_use() {
        metrics::gauge!("civitas_db_connections_open", "pool" => pool).set(f64::from(open));
        metrics::gauge!("civitas_db_connections_in_use", "pool" => pool).set(f64::from(busy));
    }
}

/// Records each request's latency by route template, method and status. One histogram: its `_count`
/// series is the request count, so no separate counter is kept (half the bookkeeping per request).
/// State-changing requests then go through their own checks: [`crate::csrf::check`], then
/// [`crate::idempotency::replay_or_run`], then [`crate::auth::forget_after_writes`].
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let _ = handle();
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method: &'static str = match *req.method() {
        axum::http::Method::GET => "GET",
        axum::http::Method::POST => "POST",
        axum::http::Method::PATCH => "PATCH",
        axum::http::Method::DELETE => "DELETE",
        axum::http::Method::HEAD => "HEAD",
        _ => "OTHER",
    };
    let asker = asker(&req);
    let res = if matches!(
        *req.method(),
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    ) {
        next.run(req).await
    } else {
        crate::csrf::check(state.clone(), req, next).await
    };
    let res = match asker {
        Some(parts) => crate::page::framed_error(&state, &parts, res).await,
        None => res,
    };
    let labels = [
        ("method", method.to_owned()),
        ("route", route),
        ("status", res.status().as_u16().to_string()),
    ];
    metrics::histogram!("civitas_http_request_duration_seconds", &labels)
        .record(start.elapsed().as_secs_f64());
    res
}

/// For a page (not the API or an asset), who asks and from where — the headers an error page needs to
/// be framed for them (see [`crate::page::framed_error`]).
fn asker(req: &Request) -> Option<axum::http::request::Parts> {
    let path = req.uri().path();
    if path.starts_with("/api/") || path.starts_with("/assets/") {
        return None;
    }
    let (mut parts, ()) = Request::new(()).into_parts();
    parts.method = req.method().clone();
    for name in [header::COOKIE, header::AUTHORIZATION, header::REFERER] {
        if let Some(v) = req.headers().get(&name) {
            parts.headers.insert(name, v.clone());
        }
    }
    Some(parts)
}

pub fn span(req: &Request) -> tracing::Span {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
}
