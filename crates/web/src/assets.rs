//! Static files, embedded in the binary: our stylesheet and script, and the vendored libraries
//! (see `assets/vendor/README.md` for versions and licences).

use crate::AppState;
use crate::error::ApiError;
use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// `(path under /assets/, content type, bytes)`, the bytes embedded from `assets/` at build time.
macro_rules! embed {
    ($($path:literal => $mime:literal),* $(,)?) => {
        &[$(($path, $mime, include_bytes!(concat!("../assets/", $path)))),*]
    };
}

const FILES: &[(&str, &str, &[u8])] = embed![
    "app.css" => "text/css; charset=utf-8",
    "app.js" => "text/javascript; charset=utf-8",
    "map.js" => "text/javascript; charset=utf-8",
    "history.js" => "text/javascript; charset=utf-8",
    "cases.js" => "text/javascript; charset=utf-8",
    "phone.js" => "text/javascript; charset=utf-8",
    "apidocs.js" => "text/javascript; charset=utf-8",
    "logo.svg" => "image/svg+xml",
    "vendor/htmx/htmx.min.js" => "text/javascript; charset=utf-8",
    "vendor/leaflet/leaflet.js" => "text/javascript; charset=utf-8",
    "vendor/leaflet/leaflet.css" => "text/css; charset=utf-8",
    "vendor/leaflet/images/layers.png" => "image/png",
    "vendor/leaflet/images/layers-2x.png" => "image/png",
    "vendor/leaflet/images/marker-icon.png" => "image/png",
    "vendor/leaflet/images/marker-icon-2x.png" => "image/png",
    "vendor/leaflet/images/marker-shadow.png" => "image/png",
    "vendor/swagger-ui/swagger-ui-bundle.js" => "text/javascript; charset=utf-8",
    "vendor/swagger-ui/swagger-ui.css" => "text/css; charset=utf-8",
];

async fn asset(Path(path): Path<String>) -> Response {
    match FILES.iter().find(|(name, _, _)| *name == path) {
        Some((_, mime, bytes)) => (
            [
                (header::CONTENT_TYPE, *mime),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            *bytes,
        )
            .into_response(),
        None => ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("没有这个文件 / no such asset: {path}"),
        )
        .into_response(),
    }
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/assets/{*path}", get(asset)).route(
        "/favicon.ico",
        get(|| async { asset(Path("logo.svg".to_owned())).await }),
    )
}
