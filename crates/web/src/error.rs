//! Errors by layer, as the web sees them. Handlers return [`Failure`] wrapped as [`ApiError`] (rendered as
//! RFC 9457 problem+json) or [`PageError`] (rendered as an HTML page, or a redirect to sign in). Each case
//! has a stable `code`. A 500 never shows internals: it is logged with the request id.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use domain::FieldError;
use serde::Serialize;
use store::StoreError;

#[derive(Debug)]
pub enum Failure {
    Unauthenticated,
    Forbidden,
    NotFound,
    Invalid(Vec<FieldError>),
    Conflict {
        field: String,
        message: String,
    },
    /// `If-Match` named a version that is no longer current.
    Stale,
    TooManyRequests {
        retry_after_s: i64,
    },
    BadRequest(String),
    Internal(String),
}

impl Failure {
    /// Renames or rewrites the field errors of an `Invalid` failure (a form names a field differently from
    /// the API); other failures pass unchanged.
    pub fn map_fields(self, f: impl Fn(domain::FieldError) -> domain::FieldError) -> Self {
        match self {
            Self::Invalid(errs) => Self::Invalid(errs.into_iter().map(f).collect()),
            other => other,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Stale => StatusCode::PRECONDITION_FAILED,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not-found",
            Self::Invalid(_) => "invalid",
            Self::Conflict { .. } => "conflict",
            Self::Stale => "stale",
            Self::TooManyRequests { .. } => "too-many-requests",
            Self::BadRequest(_) => "bad-request",
            Self::Internal(_) => "internal",
        }
    }

    pub fn title(&self) -> &'static str {
        match self {
            Self::Unauthenticated => "Sign in required",
            Self::Forbidden => "You do not have permission to do this",
            Self::NotFound => "Not found",
            Self::Invalid(_) => "Some fields need attention",
            Self::Conflict { .. } => "That value is already taken",
            Self::Stale => "Someone else changed this record",
            Self::TooManyRequests { .. } => "Too many attempts",
            Self::BadRequest(_) => "The request could not be read",
            Self::Internal(_) => "Something went wrong on our side",
        }
    }

    pub fn detail(&self) -> String {
        match self {
            Self::Unauthenticated => "Sign in, or send an API token as `Authorization: Bearer …`.".into(),
            Self::Forbidden => "Your role does not allow this. Ask an administrator for the role you need.".into(),
            Self::NotFound => "There is no such record, or it belongs to an organisation you cannot see.".into(),
            Self::Invalid(errs) => errs.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "),
            Self::Conflict { field, message } => format!("{field}: {message}"),
            Self::Stale => "The record changed after you read it. Reload it, check the changes and try again.".into(),
            Self::TooManyRequests { retry_after_s } => format!("Try again in {} minute(s).", (retry_after_s + 59) / 60),
            Self::BadRequest(m) => m.clone(),
            Self::Internal(_) => "The error has been logged. Try again; if it persists, contact the hub's service desk.".into(),
        }
    }

    pub fn field_errors(&self) -> Vec<FieldError> {
        match self {
            Self::Invalid(errs) => errs.clone(),
            Self::Conflict { field, message } => {
                vec![FieldError::new(field.clone(), message.clone())]
            }
            _ => Vec::new(),
        }
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound,
            StoreError::Conflict { field, message } => Self::Conflict { field, message },
            StoreError::Stale => Self::Stale,
            StoreError::Forbidden => Self::Forbidden,
            StoreError::Invalid(i) => Self::Invalid(i.0),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<domain::Invalid> for Failure {
    fn from(e: domain::Invalid) -> Self {
        Self::Invalid(e.0)
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug)]
pub struct ApiError(pub Failure);

impl<E: Into<Failure>> From<E> for ApiError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

fn log_internal(f: &Failure) {
    if let Failure::Internal(msg) = f {
        tracing::error!(error = %msg, "request failed");
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let f = self.0;
        log_internal(&f);
        let status = f.status();
        let body = Problem {
            kind: format!("https://civitas.dev/problems/{}", f.code()),
            title: f.title().into(),
            status: status.as_u16(),
            detail: f.detail(),
            code: f.code().into(),
            errors: f.field_errors(),
        };
        let mut res = (status, axum::Json(body)).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Failure::TooManyRequests { retry_after_s } = f
            && let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if matches!(f, Failure::Unauthenticated) {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

#[derive(Debug)]
pub struct PageError(pub Failure);

impl<E: Into<Failure>> From<E> for PageError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let f = self.0;
        log_internal(&f);
        if matches!(f, Failure::Unauthenticated) {
            return Redirect::to("/sign-in").into_response();
        }
        let mut res = crate::page::error_page(&f);
        if let Failure::TooManyRequests { retry_after_s } = f
            && let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
pub type PageResult<T> = Result<T, PageError>;
