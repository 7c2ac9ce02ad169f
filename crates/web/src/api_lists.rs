//! The API of the lists a community keeps: the roster, the tag list, buildings and households as
//! tables, and the history of a node's shape.

use crate::AppState;
use crate::api::{ApiResult, ImportQuery, Staff, digits, download, export_format, table_upload};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};
use app::{
    NodeVersionView, RosterImportReport, StaffInput, StaffView, TableImportReport, TagInput,
    TagView,
};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use utoipa::IntoParams;

/// Every shape the node has had, oldest first; the last is in force.
#[utoipa::path(get, path = "/api/v1/grid/nodes/{code}/history", tag = "grid", params(("code" = String, Path)),
    responses((status = 200, body = [NodeVersionView]), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn node_history(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(code): ApiPath<String>,
) -> ApiResult<Vec<NodeVersionView>> {
    Ok(Json(state.app.node_history(&ctx, &code).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct RosterQuery {
    /// A grid code; the roster of it and every node inside.
    pub scope: String,
    /// Only this duty (code or Chinese name).
    pub duty: Option<String>,
}

/// The roster inside a scope: who serves which node, with or without an account.
#[utoipa::path(get, path = "/api/v1/roster", tag = "roster", params(RosterQuery),
    responses((status = 200, body = [StaffView]), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_roster(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<RosterQuery>,
) -> ApiResult<Vec<StaffView>> {
    Ok(Json(
        state.app.roster(&ctx, &q.scope, q.duty.as_deref()).await?,
    ))
}

/// Adds a member to the roster of a node.
#[utoipa::path(post, path = "/api/v1/roster", tag = "roster", request_body = StaffInput,
    responses((status = 201, body = StaffView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_staff(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<StaffInput>,
) -> Result<(StatusCode, Json<StaffView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.app.add_staff(&ctx, &input).await?),
    ))
}

/// Replaces what is known of a member.
#[utoipa::path(put, path = "/api/v1/roster/{id}", tag = "roster", params(("id" = i64, Path)), request_body = StaffInput,
    responses((status = 200, body = StaffView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_staff(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<StaffInput>,
) -> ApiResult<StaffView> {
    Ok(Json(state.app.update_staff(&ctx, id, &input).await?))
}

/// Takes a member off the roster.
#[utoipa::path(delete, path = "/api/v1/roster/{id}", tag = "roster", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove_staff(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    state.app.remove_staff(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct TableExportQuery {
    pub scope: String,
    /// `xlsx` (default) or `csv`.
    pub format: Option<String>,
}

/// The roster of a scope as XLSX or CSV, in the columns the import reads; audited.
#[utoipa::path(get, path = "/api/v1/roster/export", tag = "roster", params(TableExportQuery),
    responses((status = 200, description = "the file"), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn export_roster(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<TableExportQuery>,
) -> Result<Response, ApiError> {
    let format = export_format(q.format.as_deref())?;
    let bytes = state.app.export_roster(&ctx, &q.scope, format).await?;
    Ok(download(
        format,
        &format!("roster-{}", digits(&q.scope)),
        bytes,
    ))
}

/// Imports the roster from CSV or XLSX (header: 网格编码,职责,姓名,电话,党员,任职时间,培训情况,楼栋,账号).
/// A row whose node, duty and name are on the roster updates that member.
#[utoipa::path(post, path = "/api/v1/roster/import", tag = "roster", params(ImportQuery), request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = RosterImportReport), (status = 403, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn import_roster(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<ImportQuery>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<RosterImportReport> {
    table_upload(&headers)?;
    state
        .app
        .require_anywhere(&ctx, domain::Permission::ManageRoster, "roster import")
        .await?;
    Ok(Json(
        state
            .app
            .import_roster(&ctx, &body, q.skip_bad_rows, &|_, _| {})
            .await?,
    ))
}

/// The key-population tags, retired ones included.
#[utoipa::path(get, path = "/api/v1/registry/tags", tag = "registry",
    responses((status = 200, body = [TagView]), (status = 403, body = ErrorBody)))]
pub async fn list_tags(
    State(state): State<AppState>,
    Staff(ctx): Staff,
) -> ApiResult<Vec<TagView>> {
    Ok(Json(state.app.tags(&ctx).await?))
}

/// Adds a tag or changes one (its labels, order, retirement): the street admin.
#[utoipa::path(put, path = "/api/v1/registry/tags/{code}", tag = "registry", params(("code" = String, Path)), request_body = TagInput,
    responses((status = 200, body = TagView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn save_tag(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(code): ApiPath<String>,
    ApiJson(input): ApiJson<TagInput>,
) -> ApiResult<TagView> {
    Ok(Json(state.app.save_tag(&ctx, &code, &input).await?))
}

/// The buildings of a scope as XLSX or CSV (the import's columns, then 户数).
#[utoipa::path(get, path = "/api/v1/registry/buildings/export", tag = "registry", params(TableExportQuery),
    responses((status = 200, description = "the file"), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn export_buildings(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<TableExportQuery>,
) -> Result<Response, ApiError> {
    let format = export_format(q.format.as_deref())?;
    let bytes = state.app.export_buildings(&ctx, &q.scope, format).await?;
    Ok(download(
        format,
        &format!("buildings-{}", digits(&q.scope)),
        bytes,
    ))
}

/// Imports buildings from CSV or XLSX (header: 微网格编码,街路巷,门牌号,小区,楼栋,经度,纬度,轮廓). Give
/// the micro-grid code or a position; 轮廓 is a GeoJSON Polygon.
#[utoipa::path(post, path = "/api/v1/registry/buildings/import", tag = "registry", params(ImportQuery), request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = TableImportReport), (status = 403, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn import_buildings(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<ImportQuery>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<TableImportReport> {
    table_upload(&headers)?;
    state
        .app
        .require_anywhere(&ctx, domain::Permission::EditRegistry, "building import")
        .await?;
    Ok(Json(
        state
            .app
            .import_buildings(&ctx, &body, q.skip_bad_rows, &|_, _| {})
            .await?,
    ))
}

/// The households of a scope as XLSX or CSV (the import's columns, then 微网格编码 and 人数).
#[utoipa::path(get, path = "/api/v1/registry/households/export", tag = "registry", params(TableExportQuery),
    responses((status = 200, description = "the file"), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn export_households(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<TableExportQuery>,
) -> Result<Response, ApiError> {
    let format = export_format(q.format.as_deref())?;
    let bytes = state.app.export_households(&ctx, &q.scope, format).await?;
    Ok(download(
        format,
        &format!("households-{}", digits(&q.scope)),
        bytes,
    ))
}

/// Imports households from CSV or XLSX (header: 街路巷,门牌号,小区,楼栋,单元,房号) into registered
/// buildings.
#[utoipa::path(post, path = "/api/v1/registry/households/import", tag = "registry", params(ImportQuery), request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = TableImportReport), (status = 403, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn import_households(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<ImportQuery>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<TableImportReport> {
    table_upload(&headers)?;
    state
        .app
        .require_anywhere(&ctx, domain::Permission::EditRegistry, "household import")
        .await?;
    Ok(Json(
        state
            .app
            .import_households(&ctx, &body, q.skip_bad_rows, &|_, _| {})
            .await?,
    ))
}
