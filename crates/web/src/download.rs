//! Files sent for download (ticket attachments, agreement documents) and their sizes as people read them.

use axum::response::{IntoResponse, Response};
use store::desk::tickets;

/// Bytes in megabytes to a tenth, as a form shows them: "10", "2.5".
pub fn megabytes(bytes: i64) -> String {
    let tenths = bytes * 10 / 1_048_576;
    if tenths % 10 == 0 {
        (tenths / 10).to_string()
    } else {
        format!("{}.{}", tenths / 10, tenths % 10)
    }
}

/// A size limit as people read it: "10 MB", "2.5 MB", "512 KB".
pub fn size_label(bytes: i64) -> String {
    if bytes >= 1_048_576 {
        format!("{} MB", megabytes(bytes))
    } else {
        format!("{} KB", bytes / 1024)
    }
}

/// A file served so that no browser renders it: `application/octet-stream`, `attachment`, a sandbox CSP.
pub fn file_response(a: &tickets::Attachment, bytes: Vec<u8>) -> Response {
    let ascii: String = a
        .filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_ ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = a
        .filename
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b".-_".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let disposition = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}");
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = axum::http::HeaderValue::from_str(&disposition) {
        h.insert(axum::http::header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        axum::http::header::CONTENT_SECURITY_POLICY,
        axum::http::HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    h.insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("private, no-store"),
    );
    r
}
