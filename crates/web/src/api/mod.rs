//! The JSON API under `/api/v1`: the same operations as the pages, for scripts and integrations.

mod account;
mod audit;
mod directory;
mod orgs;
mod users;

use crate::extract::encode_cursor;
use crate::routes::Table;
use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use store::page::Page;

pub use account::{RawToken, new_token};
pub use audit::AuditQuery;
pub use directory::parse_path_id;
pub use orgs::apply_edit as apply_org_edit;
pub use users::{RawGrant, add_grant, add_user, hash_blocking as hash_password};

pub fn routes(t: Table) -> Table {
    let t = account::routes(t);
    let t = orgs::routes(t);
    let t = directory::routes(t);
    let t = users::routes(t);
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

/// A list whose items are already JSON documents (see `orgs::list_docs`): assembled, not re-encoded.
pub fn list_raw(page: Page<String>) -> Response {
    let mut body =
        String::with_capacity(page.items.iter().map(|i| i.len() + 1).sum::<usize>() + 64);
    body.push_str("{\"items\":[");
    for (i, item) in page.items.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(item);
    }
    body.push(']');
    if let Some(c) = page.next_cursor.as_deref() {
        body.push_str(",\"next_cursor\":\"");
        body.push_str(&encode_cursor(c));
        body.push('"');
    }
    body.push('}');
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// One record with its `ETag`.
pub fn entity<T: Serialize>(status: StatusCode, version: i64, body: &T) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(axum::http::header::ETAG, crate::extract::etag(version));
    (status, headers, Json(body)).into_response()
}
