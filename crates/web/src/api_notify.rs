//! The API of notifications: the caller's inbox; webhooks and their outbox (system admin).

use crate::AppState;
use crate::api::{ApiResult, Staff};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};
use app::{CreatedWebhook, Inbox, OutboxView, WebhookInput, WebhookView};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct InboxQuery {
    /// Keyset: notifications older than this id.
    pub before: Option<i64>,
}

/// The caller's notifications, newest first, and how many are unread.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications", params(InboxQuery),
    responses((status = 200, body = Inbox), (status = 401, body = ErrorBody)))]
pub async fn inbox(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<InboxQuery>,
) -> ApiResult<Inbox> {
    Ok(Json(state.app.inbox(&ctx, q.before).await?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ReadInput {
    /// Mark read up to this id; all when absent.
    #[serde(default)]
    pub up_to: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Marked {
    pub marked: u64,
}

/// Marks the caller's notifications read.
#[utoipa::path(post, path = "/api/v1/notifications/read", tag = "notifications", request_body = ReadInput,
    responses((status = 200, body = Marked), (status = 401, body = ErrorBody)))]
pub async fn mark_read(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<ReadInput>,
) -> ApiResult<Marked> {
    Ok(Json(Marked {
        marked: state.app.mark_read(&ctx, input.up_to).await?,
    }))
}

/// The webhooks (system admin).
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "notifications",
    responses((status = 200, body = [WebhookView]), (status = 403, body = ErrorBody)))]
pub async fn webhooks(
    State(state): State<AppState>,
    Staff(ctx): Staff,
) -> ApiResult<Vec<WebhookView>> {
    Ok(Json(state.app.webhooks(&ctx).await?))
}

/// Adds a webhook; the answer holds its signing secret, shown this once.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "notifications", request_body = WebhookInput,
    responses((status = 201, body = CreatedWebhook), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_webhook(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<WebhookInput>,
) -> Result<(StatusCode, Json<CreatedWebhook>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.app.create_webhook(&ctx, &input).await?),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ActiveInput {
    pub active: bool,
}

/// Turns a webhook on or off.
#[utoipa::path(put, path = "/api/v1/webhooks/{id}/active", tag = "notifications", params(("id" = i64, Path)), request_body = ActiveInput,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_active(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<ActiveInput>,
) -> Result<StatusCode, ApiError> {
    state.app.set_webhook_active(&ctx, id, input.active).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct OutboxQuery {
    /// `pending`, `delivered` or `dead`; all when absent.
    pub status: Option<String>,
}

/// The outbox: every event for every webhook, with its tries (system admin).
#[utoipa::path(get, path = "/api/v1/outbox", tag = "notifications", params(OutboxQuery),
    responses((status = 200, body = [OutboxView]), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn outbox(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<OutboxQuery>,
) -> ApiResult<Vec<OutboxView>> {
    Ok(Json(state.app.outbox(&ctx, q.status.as_deref()).await?))
}

/// Sends a dead delivery again.
#[utoipa::path(post, path = "/api/v1/outbox/{id}/retry", tag = "notifications", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn retry(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    state.app.retry_delivery(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
