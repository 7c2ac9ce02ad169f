//! Per-request plumbing: a request id, one log line, metrics and security headers
//! ([`observe`]); the request context and CSRF protection ([`authenticate`]).

use crate::AppState;
use crate::error::ApiError;
use app::{AppError, Ctx, Origin};
use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::time::Instant;

pub const SESSION_COOKIE: &str = "weige_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
pub const CSRF_FIELD: &str = "csrf";

/// The id of the request, from a sane `X-Request-Id` header or made here.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .map(str::to_owned)
        .unwrap_or_else(new_request_id)
}

/// A request id of this server's own: a random prefix drawn once per process, then a counter,
/// so that ids are unique across servers and restarts without asking the kernel for randomness
/// on every request.
fn new_request_id() -> String {
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    // Without randomness the process id still tells servers apart.
    let prefix = PREFIX.get_or_init(|| {
        app::random_hex(4).unwrap_or_else(|_| format!("{:08x}", std::process::id()))
    });
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix}{n:08x}")
}

/// Everything from this server only; images also from the base map's origin, when there is one.
pub fn content_security_policy(tile_url: Option<&str>) -> String {
    let tiles = tile_url
        .and_then(|u| {
            let (scheme, rest) = u.split_once("://")?;
            let host = rest.split('/').next()?;
            // A `{s}` subdomain placeholder becomes a wildcard.
            Some(format!(" {scheme}://{}", host.replace("{s}", "*")))
        })
        .unwrap_or_default();
    format!(
        "default-src 'self'; img-src 'self' data: blob:{tiles}; style-src 'self' 'unsafe-inline'; script-src 'self'; \
         object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    )
}

pub async fn observe(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let id = request_id(req.headers());
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let client = client_addr(&req);

    let mut res = next.run(req).await;

    let elapsed = start.elapsed();
    let status = res.status().as_u16();
    state
        .metrics
        .observe(&route, method.as_str(), status, elapsed);
    tracing::info!(
        target: "weige::http",
        request_id = %id,
        method = %method,
        path = %path,
        route = %route,
        status,
        ms = elapsed.as_secs_f64() * 1000.0,
        client = %client,
        "request"
    );
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert("x-request-id", v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if let Ok(v) = HeaderValue::from_str(&state.csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("geolocation=(self), camera=(self), microphone=()"),
    );
    if !path.starts_with("/assets/") {
        h.entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
    }
    res
}

fn client_addr(req: &Request) -> String {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string())
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn csrf_refused() -> Response {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "csrf_failed",
        "页面已过期或请求来源不可信，请刷新页面后重试 / the page expired or the request came from elsewhere: reload and try again",
    )
    .into_response()
}

/// Builds the request context once (API key, session cookie, or nobody), and refuses unsafe
/// requests that a session cookie carries without the session's CSRF token.
pub async fn authenticate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let origin = Origin {
        client_addr: client_addr(&req),
        request_id: req
            .extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default(),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect(),
    };
    let headers = req.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|v| v.trim().to_owned());
    let session = cookie(headers, SESSION_COOKIE).map(str::to_owned);
    let cross_site = headers
        .get("sec-fetch-site")
        .is_some_and(|v| v == "cross-site");

    let ctx = if let Some(key) = bearer {
        match state.app.authenticate_api_key(&key, origin).await {
            Ok(ctx) => ctx,
            Err(e) => return ApiError::from(e).into_response(),
        }
    } else if let Some(token) = session {
        match state.app.authenticate_session(&token, origin.clone()).await {
            Ok(ctx) => ctx,
            Err(AppError::Unauthenticated) => Ctx::anonymous(origin),
            Err(e) => return ApiError::from(e).into_response(),
        }
    } else {
        Ctx::anonymous(origin)
    };

    if is_safe(req.method()) {
        return run(req, ctx, next).await;
    }
    if cross_site {
        return csrf_refused();
    }
    let Some(expected) = ctx.csrf_token.clone() else {
        // No session cookie in play (anonymous or API key): nothing a forged page could ride on.
        return run(req, ctx, next).await;
    };
    if req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()) == Some(expected.as_str()) {
        return run(req, ctx, next).await;
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return csrf_refused();
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, state.config.body_limit).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "请求体过大 / request body too large",
            )
            .into_response();
        }
    };
    let token_ok = bytes
        .split(|b| *b == b'&')
        .filter_map(|pair| pair.strip_prefix(format!("{CSRF_FIELD}=").as_bytes()))
        .any(|v| v == expected.as_bytes());
    if !token_ok {
        return csrf_refused();
    }
    run(Request::from_parts(parts, Body::from(bytes)), ctx, next).await
}

async fn run(mut req: Request, ctx: Ctx, next: Next) -> Response {
    req.extensions_mut().insert(ctx);
    next.run(req).await
}
