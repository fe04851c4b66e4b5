//! `Idempotency-Key` on API POSTs: a retried request gets the first response instead of running twice.
//! Keys are per credential (a token or a session) and the person it belongs to, so two people cannot
//! collide. The credential is authenticated before anything is replayed: a revoked token, an ended session
//! or a disabled person gets 401, never a stored answer.

use crate::AppState;
use crate::auth::forget_after_writes as run;
use crate::auth::{Principal, SESSION_COOKIE, bearer, cookie};
use crate::error::{ApiError, Failure};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use store::idempotency::{self, Reservation};

const MAX_KEY_LEN: usize = 255;

/// A state-changing request: an API POST with a key is answered from the first response when it is a
/// retry; everything else runs (through [`crate::auth::forget_after_writes`]).
pub async fn replay_or_run(state: AppState, req: Request, next: Next) -> Response {
    if req.method() != Method::POST || !req.uri().path().starts_with("/api/") {
        return run(state, req, next).await;
    }
    let Some(key) = req
        .headers()
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_owned))
    else {
        return run(state, req, next).await;
    };
    let key = match key {
        Ok(k) if !k.is_empty() && k.len() <= MAX_KEY_LEN => k,
        _ => {
            return ApiError(Failure::Invalid(vec![domain::FieldError::new(
                "Idempotency-Key",
                "must be 1 to 255 visible characters",
            )]))
            .into_response();
        }
    };
    let (mut parts, body) = req.into_parts();
    let Some(secret) = bearer(&parts).or_else(|| cookie(&parts, SESSION_COOKIE)) else {
        // Unauthenticated requests are refused downstream; nothing to remember.
        return run(state, Request::from_parts(parts, body), next).await;
    };
    let secret_hash = store::auth::sha256_hex(secret);
    // Authenticate first (the CSRF check may already have, for a session), and hand the principal on.
    let principal = match parts.extensions.get::<Principal>() {
        Some(p) => Some(p.clone()),
        None => match crate::auth::resolve(&state, &parts).await {
            Ok(p) => p,
            Err(f) => return ApiError(f).into_response(),
        },
    };
    let Some(principal) = principal else {
        // Not a live credential: the handler's extractor answers 401, and nothing is replayed.
        return run(state, Request::from_parts(parts, body), next).await;
    };
    // The stored answer belongs to this person through this credential.
    let credential = format!("{}:{secret_hash}", principal.user.id);
    parts.extensions.insert(principal);
    let Ok(bytes) = body.collect().await.map(|b| b.to_bytes()) else {
        return ApiError(Failure::BadRequest(
            "the request body could not be read".into(),
        ))
        .into_response();
    };
    let fingerprint = store::auth::sha256_hex(&format!(
        "{} {}\n{}",
        parts.method,
        parts.uri,
        String::from_utf8_lossy(&bytes)
    ));
    match idempotency::reserve(&state.db, &credential, &key, &fingerprint).await {
        Err(e) => return ApiError(Failure::internal(e)).into_response(),
        Ok(Reservation::InProgress) => {
            return ApiError(Failure::Conflict {
                field: "Idempotency-Key".into(),
                message: "a request with this key is still being processed; retry shortly".into(),
            })
            .into_response();
        }
        Ok(Reservation::Mismatch) => {
            return ApiError(Failure::Invalid(vec![domain::FieldError::new(
                "Idempotency-Key",
                "was already used for a different request",
            )]))
            .into_response();
        }
        Ok(Reservation::Done {
            status,
            headers,
            body,
        }) => {
            let mut res =
                (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body).into_response();
            for (k, v) in headers {
                if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::try_from(v)) {
                    res.headers_mut().insert(k, v);
                }
            }
            res.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            return res;
        }
        Ok(Reservation::Reserved) => {}
    }
    let res = run(
        state.clone(),
        Request::from_parts(parts, Body::from(bytes)),
        next,
    )
    .await;
    let (rparts, rbody) = res.into_parts();
    let Ok(rbytes) = rbody.collect().await.map(|b| b.to_bytes()) else {
        let _ = idempotency::release(&state.db, &credential, &key).await;
        return ApiError(Failure::internal("response body unreadable")).into_response();
    };
    if rparts.status.is_server_error() {
        let _ = idempotency::release(&state.db, &credential, &key).await;
    } else {
        let keep: Vec<(String, String)> = rparts
            .headers
            .iter()
            .filter(|(k, _)| matches!(k.as_str(), "content-type" | "etag" | "location"))
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        if let Err(e) = idempotency::complete(
            &state.db,
            &credential,
            &key,
            rparts.status.as_u16(),
            &keep,
            &String::from_utf8_lossy(&rbytes),
        )
        .await
        {
            tracing::error!(error = %e, "could not store the idempotent response");
        }
    }
    Response::from_parts(rparts, Body::from(rbytes))
}
