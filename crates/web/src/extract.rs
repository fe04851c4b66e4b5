//! Request extractors that turn bad input into field errors: JSON bodies, query strings, `If-Match`.

use crate::AppState;
use crate::error::{ApiError, Failure};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine;
use domain::FieldError;
use domain::authz::Scope;
use domain::ids::OrgId;
use jiff::civil::Date;
use serde::de::DeserializeOwned;
use store::page::PageRequest;

/// A JSON body; a decoding error names the field (`population: invalid type: string "x", expected i64`).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json") || v.contains("+json"));
        if !is_json {
            return Err(ApiError(Failure::BadRequest(
                "send the body as JSON with `Content-Type: application/json`".into(),
            )));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|_| {
            ApiError(Failure::BadRequest(
                "the request body could not be read".into(),
            ))
        })?;
        decode_json(&bytes).map(ApiJson)
    }
}

/// A JSON body that creates a record. The same request type often serves creation and amendment, so its
/// fields are all optional in Rust; creating, some must be given. [`Create::REQUIRED`] names them, and the
/// document marks them required for this operation only (a test checks each list against what the parser
/// refuses when they are missing).
pub struct ApiCreate<T>(pub T);

/// The fields a creation must give, and those only a creation sets.
pub trait Create {
    const REQUIRED: &'static [&'static str];
    /// Set when the record is created and never after (an organisation's slug, an agreement's member): an
    /// amendment naming another value is refused, so the amendment's document leaves them out.
    const FIXED: &'static [&'static str] = &[];
}

/// A JSON body that amends a record created through [`ApiCreate`] with the same type: every field
/// optional, and the [`Create::FIXED`] ones not described.
pub struct ApiAmend<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiAmend<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        ApiJson::<T>::from_request(req, state)
            .await
            .map(|ApiJson(t)| ApiAmend(t))
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiCreate<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        ApiJson::<T>::from_request(req, state)
            .await
            .map(|ApiJson(t)| ApiCreate(t))
    }
}

pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ApiError(Failure::BadRequest(format!(
                "the body is not valid JSON: {inner}"
            )))
        } else {
            let field = if path == "." { "body".to_owned() } else { path };
            let message = inner.to_string();
            let message = message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_owned();
            ApiError(Failure::Invalid(vec![FieldError::new(field, message)]))
        }
    })
}

/// A query string; a bad parameter is a field error naming it.
fn parse_query<T: DeserializeOwned>(parts: &Parts) -> Result<T, Failure> {
    let q = parts.uri.query().unwrap_or("");
    let de = serde_urlencoded::Deserializer::new(form_urlencoded_parse(q));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        Failure::Invalid(vec![FieldError::new(
            if field == "." { "query".into() } else { field },
            e.into_inner().to_string(),
        )])
    })
}

/// An API call's query string; a bad parameter is a problem naming it.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parse_query(parts).map(ApiQuery).map_err(ApiError)
    }
}

/// A page's query string; a bad parameter is the error page naming it (not the plain text of axum's `Query`).
pub struct PageQueryString<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for PageQueryString<T> {
    type Rejection = crate::error::PageError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // A link no page makes: a bad request (400), its problem named.
        parse_query(parts).map(PageQueryString).map_err(|f| {
            crate::error::PageError(match f {
                Failure::Invalid(errs) => Failure::BadRequest(
                    errs.iter()
                        .map(|e| format!("{}: {}", e.field, e.message))
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
                other => other,
            })
        })
    }
}

fn form_urlencoded_parse(q: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(q.as_bytes())
}

/// A path segment as it was typed, documented as the vocabulary `T` it names: the handler parses it (an
/// unknown value is "not found", like an unknown id), and the document lists the values it takes.
pub struct Segment<T>(pub String, pub std::marker::PhantomData<fn() -> T>);

impl<'de, T> serde::Deserialize<'de> for Segment<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| Segment(s, std::marker::PhantomData))
    }
}

/// A closed set of words a path segment may take (a notification's event), for the document.
pub trait Vocabulary {
    fn values() -> Vec<&'static str>;
}

/// A CSV file sent as the request body (an import): the document describes it as `text/csv`.
pub struct CsvFile(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for CsvFile {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state)
            .await
            .map(CsvFile)
            .map_err(|_| {
                ApiError(Failure::BadRequest(
                    "the request body could not be read".into(),
                ))
            })
    }
}

/// `?filename=` of a file sent as the request body (an attachment, a document).
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileQuery {
    /// The file's name as people will see it.
    #[schemars(required, with = "String", length(min = 1, max = 255))]
    pub filename: Option<String>,
}

/// `?dry_run=` of a CSV import: check every row and report, change nothing.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    pub dry_run: Option<bool>,
}

/// `?limit=&cursor=` for every list.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct PageParams {
    /// Rows per page, 1–200 (default 50).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageParams {
    pub fn to_request(&self) -> Result<PageRequest, Failure> {
        if let Some(l) = self.limit
            && (l == 0 || l > store::page::MAX_LIMIT)
        {
            return Err(Failure::Invalid(vec![FieldError::new(
                "limit",
                "must be between 1 and 200",
            )]));
        }
        let after = match self.cursor.as_deref().filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => Some(decode_cursor(c).ok_or_else(|| {
                Failure::Invalid(vec![FieldError::new(
                    "cursor",
                    "is not a cursor returned by this list",
                )])
            })?),
        };
        Ok(PageRequest {
            after,
            limit: self.limit.unwrap_or(store::page::DEFAULT_LIMIT),
        })
    }
}

pub fn encode_cursor(key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key)
}

pub fn decode_cursor(c: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c)
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// The version an `If-Match` header names (`"v3"`), `None` when absent or `*`.
pub fn if_match(headers: &HeaderMap) -> Result<Option<i64>, Failure> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let s = v
        .to_str()
        .map_err(|_| Failure::BadRequest("If-Match is not readable".into()))?
        .trim();
    if s == "*" {
        return Ok(None);
    }
    s.trim_start_matches("W/")
        .trim_matches('"')
        .strip_prefix('v')
        .and_then(|n| n.parse().ok())
        .map(Some)
        .ok_or_else(|| {
            Failure::BadRequest("If-Match must be an ETag this API returned, such as \"v3\"".into())
        })
}

pub fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"v{version}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("\"v0\""))
}

/// An id in a URL path; one that does not parse names nothing, so it is not found.
pub fn parse_path_id<T: std::str::FromStr>(raw: &str) -> Result<T, Failure> {
    raw.parse().map_err(|_| Failure::NotFound)
}

/// A ticket number in a URL path or a form.
pub fn parse_number(raw: &str) -> Result<i64, Failure> {
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or(Failure::NotFound)
}

/// A date as people type it (`2026-11-23`), or an error naming the field.
pub fn date(field: &str, raw: &str) -> Result<Date, FieldError> {
    raw.trim()
        .parse()
        .map_err(|_| FieldError::new(field, "must be a date such as 2026-11-23"))
}

/// An organisation named by slug that the scope may read items of: its own, or the hub.
pub async fn readable_org(s: &AppState, scope: &Scope, slug: &str) -> Result<OrgId, FieldError> {
    let unknown = || FieldError::new("org", "is not an organisation you can see");
    let Ok(id) = store::tenancy::orgs::id_by_slug(&s.db, &Scope::Region, slug).await else {
        return Err(unknown());
    };
    let hub = store::tenancy::orgs::hub(&s.db)
        .await
        .ok()
        .flatten()
        .map(|h| h.id);
    if scope.contains(id) || Some(id) == hub {
        Ok(id)
    } else {
        Err(unknown())
    }
}
