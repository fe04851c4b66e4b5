//! Static assets embedded in the binary: USWDS, htmx, the Swagger UI viewer and Civitas's own CSS/JS.
//! The vendored files are committed with their licences; scripts/vendor-assets refreshes them from npm.

use crate::AppState;
use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

#[derive(rust_embed::Embed)]
#[folder = "$CARGO_MANIFEST_DIR/assets"]
struct Assets;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/assets/{*path}", get(serve))
        // Browsers ask for /favicon.ico whatever the page says (the API viewer's page among them).
        .route(
            "/favicon.ico",
            get(|| serve(Path("civitas/favicon.svg".to_owned()))),
        )
}

async fn serve(Path(path): Path<String>) -> Response {
    match Assets::get(&path) {
        Some(file) => {
            let mime = mime_guess::from_path(&path).first_or_octet_stream();
            (
                [
                    (header::CONTENT_TYPE, mime.as_ref().to_owned()),
                    (header::CACHE_CONTROL, "public, max-age=86400".to_owned()),
                ],
                file.data,
            )
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
