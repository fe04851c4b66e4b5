//! What every JSON handler needs: typed answers (a record with its `ETag`, a list envelope), so that the
//! OpenAPI document describes each response from the type it serialises. Imports no feature.

use crate::extract::encode_cursor;
use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::Serialize;
use std::marker::PhantomData;
use store::page::Page;

/// A list response: `{"items": […], "next_cursor": "…"}`; `next_cursor` is absent on the last page.
#[derive(Serialize, JsonSchema)]
pub struct ListBody<T> {
    pub items: Vec<T>,
    /// Pass it as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A list that is not paged: `{"items": […]}`.
#[derive(Serialize, JsonSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}

/// What a record or a result serialises as, for the document: `Answer<impl Body>` in a handler's
/// signature lets the constructor name the type.
pub trait Body: Serialize + JsonSchema {}
impl<T: Serialize + JsonSchema> Body for T {}

/// A JSON answer whose body is a `T`, already serialised: the type stays in the handler's signature, where
/// the OpenAPI document reads the response's schema (`openapi::Answered`).
pub struct Answer<T> {
    response: Response,
    _body: PhantomData<fn() -> T>,
}

impl<T> IntoResponse for Answer<T> {
    fn into_response(self) -> Response {
        self.response
    }
}

impl<T: Serialize> Answer<T> {
    fn from(response: Response) -> Self {
        Self {
            response,
            _body: PhantomData,
        }
    }

    /// `body` with `status`.
    pub fn new(status: StatusCode, body: &T) -> Self {
        Self::from((status, Json(body)).into_response())
    }

    /// `body` with 200 OK.
    pub fn ok(body: &T) -> Self {
        Self::new(StatusCode::OK, body)
    }

    /// One record with its `ETag`.
    pub fn entity(status: StatusCode, version: i64, body: &T) -> Self {
        Self::from(entity(status, version, body))
    }
}

impl<T: Serialize> Answer<ListBody<T>> {
    /// One page of a list.
    pub fn page(page: Page<T>) -> Self {
        Self::from(list(page))
    }
}

impl<T: Serialize> Answer<Items<T>> {
    /// A whole list.
    pub fn items(items: Vec<T>) -> Self {
        Self::from(Json(Items { items }).into_response())
    }
}

pub fn list<T: Serialize>(page: Page<T>) -> Response {
    Json(ListBody {
        items: page.items,
        next_cursor: page.next_cursor.as_deref().map(encode_cursor),
    })
    .into_response()
}

/// A list whose items are already JSON documents (see `orgs::list_docs`): the stored documents are sent as
/// they are, between the envelope's two halves, without being copied again. The body knows its exact
/// length, so the response still carries `Content-Length`.
pub fn list_raw(page: store::page::DocPage) -> Response {
    let mut tail = String::from("]");
    if let Some(c) = page.next_cursor.as_deref() {
        tail.push_str(",\"next_cursor\":\"");
        tail.push_str(&encode_cursor(c));
        tail.push('"');
    }
    tail.push('}');
    let body = Chunks::new([
        bytes::Bytes::from_static(b"{\"items\":["),
        bytes::Bytes::from(page.items_json),
        bytes::Bytes::from(tail),
    ]);
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        axum::body::Body::new(body),
    )
        .into_response()
}

/// A response body of a few buffers sent one after another, with an exact size.
struct Chunks {
    chunks: std::collections::VecDeque<bytes::Bytes>,
}

impl Chunks {
    fn new(chunks: impl IntoIterator<Item = bytes::Bytes>) -> Self {
        Self {
            chunks: chunks.into_iter().filter(|c| !c.is_empty()).collect(),
        }
    }
}

impl http_body::Body for Chunks {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Ready(
            self.chunks
                .pop_front()
                .map(|c| Ok(http_body::Frame::data(c))),
        )
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.chunks.iter().map(|c| c.len() as u64).sum())
    }
}

/// A text field that was given: present and not blank once trimmed.
pub fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|x| !x.is_empty())
}

/// One record with its `ETag`.
pub fn entity<T: Serialize>(status: StatusCode, version: i64, body: &T) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(axum::http::header::ETAG, crate::extract::etag(version));
    (status, headers, Json(body)).into_response()
}
