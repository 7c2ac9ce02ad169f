//! HTTP: the pages (askama templates, htmx), the JSON API under `/api/v1` with its OpenAPI
//! document, health and metrics. A handler extracts, calls one `app` function and renders; the
//! permission checks live in `app`, the request context is built once per request here.

mod api;
mod api_cases;
mod api_channels;
mod api_lists;
mod api_notify;
mod assets;
mod error;
mod i18n;
mod metrics;
mod middleware;
mod open311;
mod pages;

pub use api::ApiDoc;
pub use error::ApiError;
pub use metrics::Metrics;
pub use middleware::SESSION_COOKIE;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use std::net::SocketAddr;
use std::sync::Arc;

/// Web settings.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Mark cookies `Secure` (set when served over HTTPS, usually behind a proxy).
    pub secure_cookies: bool,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// A base-map tile URL template (`https://…/{z}/{x}/{y}.png`); none by default, so the map
    /// works with no internet.
    pub map_tile_url: Option<String>,
    /// The base map's attribution text.
    pub map_attribution: String,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            secure_cookies: false,
            body_limit: 1024 * 1024,
            map_tile_url: None,
            map_attribution: String::new(),
        }
    }
}

/// What every handler may ask for. Cloned for every request (each middleware and extractor
/// takes its own), so it is one shared pointer: one reference count to touch, not one per field.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The state behind [`AppState`].
pub struct Shared {
    pub app: app::App,
    pub config: WebConfig,
    pub metrics: Metrics,
    /// The Content-Security-Policy, with the base map's origin when one is configured.
    pub csp: String,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(app: app::App, config: WebConfig) -> AppState {
        let csp = middleware::content_security_policy(config.map_tile_url.as_deref());
        AppState(Arc::new(Shared {
            app,
            config,
            metrics: Metrics::default(),
            csp,
        }))
    }
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let body_limit = state.config.body_limit;
    Router::new()
        .merge(pages::routes())
        .nest("/api/v1", api::routes())
        .merge(api::doc_routes())
        .merge(assets::routes())
        .merge(metrics::routes())
        .merge(open311::routes())
        .merge(api_channels::hook_routes())
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::authenticate,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::observe,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// Connections the kernel holds for the server before it accepts them. The standard library's
/// `bind` asks for 128: a burst of more clients connecting at once (a community meeting scanning
/// a QR code, a proxy opening its pool) overflowed it, and each connection refused so waited a
/// second for its SYN to be sent again. The kernel caps it at `net.core.somaxconn`.
const LISTEN_BACKLOG: u32 = 4096;

/// A listening socket on `addr` for [`serve`], with room for bursts of new connections.
pub fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As the standard library's `bind`: a restarted server takes its port back at once.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serves until `shutdown` resolves, then lets requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Where this server is reached, from the request (behind a proxy, its forwarded scheme): the
/// root of links handed out (Open311 discovery, tracking links in chat replies).
pub(crate) fn site_url(headers: &axum::http::HeaderMap) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}")
}
