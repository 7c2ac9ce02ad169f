//! The API of the other intake channels: transfers from the 12345 hotline and the city's app,
//! and chat groups (the signed bot webhook, and the drafts workers confirm or discard).

use crate::AppState;
use crate::api::{ApiResult, PHOTO_BODY_LIMIT, Staff};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};
use app::{
    ChatDraftView, ChatGroupInput, ChatGroupView, ChatReceipt, CreatedChatGroup, DraftConfirmed,
    DraftDecision, TransferInput, TransferOutcome, TransferSourceInput, TransferSourceView,
};
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde::Deserialize;
use utoipa::IntoParams;

/// Transfer sources (system admin).
#[utoipa::path(get, path = "/api/v1/transfer-sources", tag = "channels",
    responses((status = 200, body = [TransferSourceView]), (status = 403, body = ErrorBody)))]
pub async fn transfer_sources(
    State(state): State<AppState>,
    Staff(ctx): Staff,
) -> ApiResult<Vec<TransferSourceView>> {
    Ok(Json(state.app.transfer_sources(&ctx).await?))
}

/// Adds a transfer source: a system that hands work orders over, and the webhook its status
/// changes go back to.
#[utoipa::path(post, path = "/api/v1/transfer-sources", tag = "channels", request_body = TransferSourceInput,
    responses((status = 201, body = TransferSourceView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_transfer_source(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<TransferSourceInput>,
) -> Result<(StatusCode, Json<TransferSourceView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.app.create_transfer_source(&ctx, &input).await?),
    ))
}

/// Takes a transferred work order (201), or recognises one sent before (200, `resent`: the
/// case it became, nothing new). Every later status change of the case is posted to the
/// source's webhook as `transfer.status`.
#[utoipa::path(post, path = "/api/v1/transfers", tag = "channels", request_body = TransferInput,
    responses((status = 201, body = TransferOutcome), (status = 200, body = TransferOutcome), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn transfer(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<TransferInput>,
) -> Result<(StatusCode, Json<TransferOutcome>), ApiError> {
    let outcome = state.app.transfer(&ctx, &input).await?;
    let status = if outcome.resent {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(outcome)))
}

/// Chat groups (system admin).
#[utoipa::path(get, path = "/api/v1/chat-groups", tag = "channels",
    responses((status = 200, body = [ChatGroupView]), (status = 403, body = ErrorBody)))]
pub async fn chat_groups(
    State(state): State<AppState>,
    Staff(ctx): Staff,
) -> ApiResult<Vec<ChatGroupView>> {
    Ok(Json(state.app.chat_groups(&ctx).await?))
}

/// Adds a chat group; the answer holds the secret its bot signs with, shown this once.
#[utoipa::path(post, path = "/api/v1/chat-groups", tag = "channels", request_body = ChatGroupInput,
    responses((status = 201, body = CreatedChatGroup), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_chat_group(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<ChatGroupInput>,
) -> Result<(StatusCode, Json<CreatedChatGroup>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.app.create_chat_group(&ctx, &input).await?),
    ))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct DraftQuery {
    /// A grid code; default: the caller's scope.
    pub scope: Option<String>,
    /// `draft` (default), `confirmed` or `discarded`.
    pub status: Option<String>,
}

/// Chat drafts of the groups in a scope, newest first.
#[utoipa::path(get, path = "/api/v1/chat-drafts", tag = "channels", params(DraftQuery),
    responses((status = 200, body = [ChatDraftView]), (status = 403, body = ErrorBody)))]
pub async fn chat_drafts(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<DraftQuery>,
) -> ApiResult<Vec<ChatDraftView>> {
    Ok(Json(
        state
            .app
            .chat_drafts(&ctx, q.scope.as_deref(), q.status.as_deref())
            .await?,
    ))
}

/// Confirms a draft: it becomes a case, and the group's reply (number and tracking link) is
/// queued to its reply webhook.
#[utoipa::path(post, path = "/api/v1/chat-drafts/{id}/confirm", tag = "channels", request_body = DraftDecision,
    params(("id" = i64, Path)),
    responses((status = 201, body = DraftConfirmed), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn confirm_draft(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<DraftDecision>,
) -> Result<(StatusCode, Json<DraftConfirmed>), ApiError> {
    let base = crate::site_url(&headers);
    Ok((
        StatusCode::CREATED,
        Json(
            state
                .app
                .confirm_chat_draft(&ctx, id, &input, &base)
                .await?,
        ),
    ))
}

/// Discards a draft, with the reason.
#[utoipa::path(post, path = "/api/v1/chat-drafts/{id}/discard", tag = "channels", request_body = DraftDecision,
    params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn discard_draft(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<DraftDecision>,
) -> Result<StatusCode, ApiError> {
    state
        .app
        .discard_chat_draft(&ctx, id, &input.reason)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A chat bot posts a group's message here, signed with the group's secret
/// (`X-Weige-Timestamp`, `X-Weige-Signature: sha256=HMAC(secret, timestamp + "." + body)`). The
/// message becomes a draft, once per `message_id`; the answer holds the text to post back.
/// 401 unsigned or badly signed, 403 a timestamp more than 5 minutes off (a replay).
#[utoipa::path(post, path = "/hooks/chat/{group}", tag = "channels", request_body = app::ChatMessage,
    params(("group" = String, Path)), security(()),
    responses((status = 200, body = ChatReceipt), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn chat_hook(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(group): ApiPath<String>,
    body: Bytes,
) -> ApiResult<ChatReceipt> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    Ok(Json(
        state
            .app
            .chat_message(
                &group,
                header("x-weige-timestamp"),
                header("x-weige-signature"),
                &body,
            )
            .await?,
    ))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct CallerQuery {
    /// The caller's number.
    pub phone: String,
    /// A grid code; default: the caller's scope.
    pub scope: Option<String>,
}

/// Who is calling: the number masked, their earlier cases in the scope, and the residents with
/// that number (for operators who may read the registry).
#[utoipa::path(get, path = "/api/v1/callers", tag = "channels", params(CallerQuery),
    responses((status = 200, body = app::CallerView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn caller(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<CallerQuery>,
) -> ApiResult<app::CallerView> {
    Ok(Json(
        state.app.caller(&ctx, &q.phone, q.scope.as_deref()).await?,
    ))
}

/// How many reports came in per channel (or category, or day) in a scope and period, from the
/// daily counts the intake keeps.
#[utoipa::path(get, path = "/api/v1/statistics/intake", tag = "channels", params(app::IntakeStatsQuery),
    responses((status = 200, body = app::IntakeStats), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn intake_stats(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<app::IntakeStatsQuery>,
) -> ApiResult<app::IntakeStats> {
    Ok(Json(state.app.intake_stats(&ctx, &q).await?))
}

/// The API routes of this module, under `/api/v1`.
pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/transfer-sources",
            get(transfer_sources).post(create_transfer_source),
        )
        .route("/transfers", post(transfer))
        .route("/callers", get(caller))
        .route("/statistics/intake", get(intake_stats))
        .route("/chat-groups", get(chat_groups).post(create_chat_group))
        .route("/chat-drafts", get(chat_drafts))
        .route("/chat-drafts/{id}/confirm", post(confirm_draft))
        .route("/chat-drafts/{id}/discard", post(discard_draft))
}

/// The bot webhook, outside `/api/v1` (no session, no key: the signature is the proof).
pub fn hook_routes() -> Router<AppState> {
    Router::new().route(
        "/hooks/chat/{group}",
        post(chat_hook).layer(axum::extract::DefaultBodyLimit::max(PHOTO_BODY_LIMIT)),
    )
}
