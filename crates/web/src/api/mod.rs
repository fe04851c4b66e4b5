//! The JSON API under `/api/v1`: the same operations as the pages, for scripts and integrations.

mod account;
pub mod architecture;
mod audit;
pub mod billing;
pub mod calendar;
pub mod cloud;
pub mod cmdb;
pub mod desk;
mod directory;
pub mod finance;
pub mod kb;
pub mod mail;
pub mod orgs;
pub mod portfolio;
pub mod time;
mod users;

use crate::extract::encode_cursor;
use crate::routes::Table;
use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use store::page::Page;

pub use account::{
    NotificationChoice, RawToken, new_token, notification_choices, save_notifications,
};
pub use audit::AuditQuery;
pub use directory::parse_path_id;
pub use orgs::{apply_edit as apply_org_edit, set_org_active};
pub use users::{
    AddOutcome, GrantOutcome, RawGrant, add_grant, add_user, hash_blocking as hash_password,
    revoke_token_of, set_user_active, settle_invitation,
};

pub fn routes(t: Table) -> Table {
    let t = account::routes(t);
    let t = orgs::routes(t);
    let t = calendar::routes(t);
    let t = directory::routes(t);
    let t = users::routes(t);
    let t = desk::routes(t);
    let t = desk::more_routes(t);
    let t = time::routes(t);
    let t = mail::routes(t);
    let t = kb::routes(t);
    let t = billing::routes(t);
    let t = finance::routes(t);
    let t = cmdb::routes(t);
    let t = cloud::routes(t);
    let t = portfolio::routes(t);
    let t = architecture::routes(t);
    audit::routes(t)
}

/// A list response: `{"items": […], "next_cursor": "…"}`; `next_cursor` is absent on the last page.
#[derive(Serialize)]
pub struct ListBody<T> {
    pub items: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
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

/// One record with its `ETag`.
/// A text field that was given: present and not blank once trimmed.
pub fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|x| !x.is_empty())
}

pub fn entity<T: Serialize>(status: StatusCode, version: i64, body: &T) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(axum::http::header::ETAG, crate::extract::etag(version));
    (status, headers, Json(body)).into_response()
}
