//! A bare axum hello-world, measured beside Civitas in the same benchmark run as the ceiling.
use axum::{Router, routing::get};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".to_owned());
    let app = Router::new().route("/", get(|| async { "hello, world" }));
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    axum::serve(listener, app).await
}
