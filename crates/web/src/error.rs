//! Errors at the HTTP edge: every failure becomes a status and a JSON body `{code, message}`
//! (message in Chinese and English). 5xx causes are logged, never shown.

use app::AppError;
use app::StoreError;
use axum::Json;
use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable, machine-readable code.
    pub code: String,
    /// For people: Chinese / English.
    pub message: String,
    /// The input field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: ErrorBody {
                code: code.to_owned(),
                message: message.into(),
                field: None,
            },
        }
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        use StatusCode as S;
        match e {
            AppError::Unauthenticated => ApiError::new(
                S::UNAUTHORIZED,
                "unauthenticated",
                "请先登录 / please sign in",
            ),
            AppError::BadCredentials => ApiError::new(
                S::UNAUTHORIZED,
                "bad_credentials",
                "用户名或密码错误 / wrong username or password",
            ),
            AppError::Locked { until } => ApiError::new(
                S::LOCKED,
                "account_locked",
                format!(
                    "登录失败次数过多，账户已锁定至 {} / too many failed sign-ins: the account is locked until then",
                    crate::i18n::format_time(until)
                ),
            ),
            AppError::Forbidden(what) => {
                tracing::info!(denied = %what, "permission denied");
                ApiError::new(
                    S::FORBIDDEN,
                    "forbidden",
                    "无权执行此操作 / you are not allowed to do this",
                )
            }
            AppError::NotFound(what) => ApiError::new(
                S::NOT_FOUND,
                "not_found",
                format!("未找到 / {what} not found"),
            ),
            AppError::Invalid { field, message } => ApiError {
                status: S::UNPROCESSABLE_ENTITY,
                body: ErrorBody {
                    code: "invalid".into(),
                    message,
                    field: Some(field.into()),
                },
            },
            AppError::Conflict(message) => ApiError::new(S::CONFLICT, "conflict", message),
            AppError::Stale => ApiError::new(
                S::FORBIDDEN,
                "stale",
                format!(
                    "时间戳与服务器相差超过 {} 秒，可能是重放 / the timestamp is more than {} seconds off: a replay?",
                    app::CHAT_MAX_SKEW_SECONDS,
                    app::CHAT_MAX_SKEW_SECONDS
                ),
            ),
            AppError::Store(StoreError::Unavailable(cause)) => {
                tracing::error!(%cause, "database unavailable");
                ApiError::new(
                    S::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "数据库暂时不可用，请稍后再试 / the database is unavailable, try again later",
                )
            }
            other => {
                tracing::error!(error = %other, "internal error");
                ApiError::new(
                    S::INTERNAL_SERVER_ERROR,
                    "internal",
                    "服务器内部错误 / internal server error",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

fn rejection(status: StatusCode, code: &str, zh: &str, detail: String) -> ApiError {
    ApiError::new(status, code, format!("{zh} / {detail}"))
}

/// `Json<T>` whose rejections are `{code, message}`.
pub struct ApiJson<T>(pub T);

/// Whether a request says its body is plain JSON (`application/json`, perhaps with parameters).
fn plain_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        // A plain JSON body is parsed as it is; `Json` (which follows the path to every key
        // to name the one at fault, an allocation a key) parses only what failed, for its
        // message, and takes every other content type.
        if plain_json(req.headers()) {
            let bytes = axum::body::Bytes::from_request(req, state)
                .await
                .map_err(|e| unreadable(e.status(), e.body_text()))?;
            if let Ok(v) = serde_json::from_slice(&bytes) {
                return Ok(ApiJson(v));
            }
            return Json::<T>::from_bytes(&bytes)
                .map(|Json(v)| ApiJson(v))
                .map_err(|e| json_rejection(&e));
        }
        Json::<T>::from_request(req, state)
            .await
            .map(|Json(v)| ApiJson(v))
            .map_err(|e| json_rejection(&e))
    }
}

/// A refused JSON body's `{code, message}`.
fn json_rejection(e: &JsonRejection) -> ApiError {
    match e {
        JsonRejection::MissingJsonContentType(_) => rejection(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "请求须为 JSON (Content-Type: application/json)",
            e.body_text(),
        ),
        JsonRejection::JsonSyntaxError(_) => rejection(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "JSON 格式错误",
            e.body_text(),
        ),
        JsonRejection::JsonDataError(_) => rejection(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "JSON 字段不符合要求",
            e.body_text(),
        ),
        _ => unreadable(e.status(), e.body_text()),
    }
}

/// A body that could not be read: too large, or cut off.
fn unreadable(status: StatusCode, detail: String) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        too_large(detail)
    } else {
        rejection(status, "bad_request", "请求无法读取", detail)
    }
}

fn too_large(detail: String) -> ApiError {
    rejection(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "请求体过大",
        detail,
    )
}

/// `Form<T>` whose rejections are `{code, message}`.
pub struct ApiForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiForm<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(v)) => Ok(ApiForm(v)),
            Err(e) => Err(match &e {
                FormRejection::InvalidFormContentType(_) => rejection(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "请求须为表单 (application/x-www-form-urlencoded)",
                    e.body_text(),
                ),
                _ if e.status() == StatusCode::PAYLOAD_TOO_LARGE => too_large(e.body_text()),
                _ => rejection(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid",
                    "表单字段不符合要求",
                    e.body_text(),
                ),
            }),
        }
    }
}

/// `Query<T>` whose rejections are `{code, message}`.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e: QueryRejection| {
                rejection(
                    StatusCode::BAD_REQUEST,
                    "bad_query",
                    "查询参数无效",
                    e.body_text(),
                )
            })
    }
}

/// `Path<T>` whose rejections are `{code, message}`.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|e: PathRejection| {
                rejection(
                    StatusCode::BAD_REQUEST,
                    "bad_path",
                    "路径参数无效",
                    e.body_text(),
                )
            })
    }
}

fn wants_json(uri: &Uri) -> bool {
    let p = uri.path();
    p.starts_with("/api") || p.starts_with("/open311") || p == "/healthz" || p == "/metrics"
}

pub async fn not_found(uri: Uri, lang: crate::i18n::Lang) -> Response {
    if wants_json(&uri) {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("没有这个地址 / no such route: {}", uri.path()),
        )
        .into_response()
    } else {
        crate::pages::error_page(lang.0, StatusCode::NOT_FOUND)
    }
}

pub async fn method_not_allowed(uri: Uri) -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "此地址不支持该请求方法 / method not allowed on {}",
            uri.path()
        ),
    )
    .into_response()
}
