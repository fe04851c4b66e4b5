//! CSRF protection for every state-changing request made with a cookie. A request that carries a bearer
//! token is not a browser's ambient credential and needs none. Otherwise the token must come in the
//! `X-CSRF-Token` header or the `_csrf` form field and match the session's (or, before sign-in, the
//! double-submit cookie's). Done here, once, so no form can forget it.

use crate::auth::{PRE_SESSION_CSRF_COOKIE, bearer, cookie};
use crate::error::{ApiError, Failure, PageError};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

/// The CSRF check for a state-changing request, then the next of the request's own checks
/// ([`crate::idempotency::replay_or_run`]); safe methods never reach here (see [`crate::health::track`]).
pub async fn check(state: AppState, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    if bearer(&parts).is_some() {
        return crate::idempotency::replay_or_run(state, Request::from_parts(parts, body), next)
            .await;
    }
    let api = parts.uri.path().starts_with("/api/");
    let refuse = |f: Failure| {
        if api {
            ApiError(f).into_response()
        } else {
            PageError(f).into_response()
        }
    };
    // Resolve the session once, through the principal cache, and hand it on to the handler's extractor.
    let session_token = match crate::auth::resolve(&state, &parts).await {
        Ok(Some(p)) => {
            let token = p.session().map(|x| x.csrf_token.clone());
            parts.extensions.insert(p);
            token
        }
        Ok(None) => None,
        Err(f) => return refuse(f),
    };
    let expected =
        session_token.or_else(|| cookie(&parts, PRE_SESSION_CSRF_COOKIE).map(str::to_owned));
    let header_token = parts
        .headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let is_form = content_type.starts_with("application/x-www-form-urlencoded");
    let bytes = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return refuse(Failure::BadRequest(
                "the request body is too large or could not be read".into(),
            ));
        }
    };
    let form_token = if is_form {
        form_urlencoded_field(&bytes, "_csrf")
    } else if content_type.starts_with("multipart/form-data") {
        multipart_field(&content_type, bytes.clone(), "_csrf").await
    } else {
        None
    };
    let given = header_token.or(form_token);
    let ok = match (&expected, &given) {
        (Some(e), Some(g)) => !e.is_empty() && constant_time_eq(e.as_bytes(), g.as_bytes()),
        _ => false,
    };
    if !ok {
        return refuse(Failure::BadRequest(
            "the form has expired or did not come from this site (CSRF check failed); reload the page and try again".into(),
        ));
    }
    crate::idempotency::replay_or_run(state, Request::from_parts(parts, Body::from(bytes)), next)
        .await
}

fn form_urlencoded_field(body: &[u8], name: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// A text field of a multipart form (file uploads); forms put `_csrf` first, so the file is not read.
async fn multipart_field(content_type: &str, body: bytes::Bytes, name: &str) -> Option<String> {
    let boundary = multer::parse_boundary(content_type).ok()?;
    let stream = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    while let Ok(Some(field)) = form.next_field().await {
        if field.name() == Some(name) {
            return field.text().await.ok();
        }
    }
    None
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
