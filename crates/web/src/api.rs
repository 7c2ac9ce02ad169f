//! The JSON API under `/api/v1`, and its OpenAPI 3 document at `/api/openapi.json` with a
//! browsable page at `/api/docs`. Callers authenticate with a session (cookie plus the
//! `X-CSRF-Token` header on writes) or an API key (`Authorization: Bearer wk_…`).

use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};
use crate::middleware::SESSION_COOKIE;
use crate::{AppState, api_cases, api_lists, api_notify};
use app::{
    AccountView, ApiKeyView, AuditView, CreatedApiKey, Ctx, DivisionFinding, GrantView,
    HouseholdSummary, HouseholdView, Location, MapFeature, NewAccountInput, NodeView,
    ResidentPatch, ResidentView, SensitiveField, StaffView, SystemInfo,
};
use app::{AddressMatch, ImportReport, RegistryImportReport};
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, OpenApi, ToSchema};

/// A signed-in caller; anyone else is refused with 401.
pub struct Staff(pub Ctx);

impl<S: Send + Sync> FromRequestParts<S> for Staff {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        match parts.extensions.get::<Ctx>() {
            Some(ctx) if !matches!(ctx.actor, app::Actor::Anonymous) => Ok(Staff(ctx.clone())),
            _ => Err(app::AppError::Unauthenticated.into()),
        }
    }
}

/// The caller, signed in or not.
pub struct AnyCtx(pub Ctx);

impl<S: Send + Sync> FromRequestParts<S> for AnyCtx {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Ctx>()
            .cloned()
            .map(AnyCtx)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "no request context",
                )
            })
    }
}

/// Requests that carry photos (six of 5 MB, as base64) may be this large.
pub(crate) const PHOTO_BODY_LIMIT: usize = 48 << 20;

pub(crate) type ApiResult<T> = Result<Json<T>, ApiError>;

pub fn session_cookie(token: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax{secure}")
}

pub fn clear_session_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginInput {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// Send it back as `X-CSRF-Token` on every write made with the session cookie.
    pub csrf_token: String,
    pub account: AccountView,
}

/// Signs in and sets the session cookie.
#[utoipa::path(post, path = "/api/v1/session", tag = "session", request_body = LoginInput,
    responses((status = 200, body = SessionView), (status = 401, body = ErrorBody), (status = 423, description = "locked", body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    AnyCtx(ctx): AnyCtx,
    ApiJson(input): ApiJson<LoginInput>,
) -> Result<Response, ApiError> {
    let ok = state
        .app
        .login(&input.username, &input.password, ctx.origin)
        .await?;
    let cookie = session_cookie(&ok.token, state.config.secure_cookies);
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(SessionView {
            csrf_token: ok.csrf_token,
            account: ok.account,
        }),
    )
        .into_response())
}

/// Signs out: ends the session.
#[utoipa::path(delete, path = "/api/v1/session", tag = "session", responses((status = 204), (status = 401, body = ErrorBody)))]
async fn logout(State(state): State<AppState>, Staff(ctx): Staff) -> Result<Response, ApiError> {
    state.app.logout(&ctx).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, clear_session_cookie())],
    )
        .into_response())
}

/// The signed-in account, its roles and scopes.
#[utoipa::path(get, path = "/api/v1/me", tag = "session", responses((status = 200, body = AccountView), (status = 401, body = ErrorBody)))]
async fn me(State(state): State<AppState>, Staff(ctx): Staff) -> ApiResult<AccountView> {
    Ok(Json(state.app.me(&ctx).await?))
}

/// One node of the grid tree.
#[utoipa::path(get, path = "/api/v1/grid/nodes/{code}", tag = "grid", params(("code" = String, Path, description = "grid code")),
    responses((status = 200, body = NodeView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn grid_node(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(code): ApiPath<String>,
) -> ApiResult<NodeView> {
    Ok(Json(state.app.grid_node(&ctx, &code).await?))
}

/// The children of a node of the grid tree.
#[utoipa::path(get, path = "/api/v1/grid/nodes/{code}/children", tag = "grid", params(("code" = String, Path, description = "grid code")),
    responses((status = 200, body = [NodeView]), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn grid_children(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(code): ApiPath<String>,
) -> ApiResult<Vec<NodeView>> {
    Ok(Json(state.app.grid_children(&ctx, &code).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct MapQuery {
    /// The grid code whose nodes to draw.
    pub scope: String,
    /// `community`, `grid` or `micro_grid` (also `street`, `district`).
    pub level: String,
}

/// A GeoJSON FeatureCollection.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeatureCollection {
    #[serde(rename = "type")]
    pub kind_of: &'static str,
    pub features: Vec<MapFeature>,
}

/// The nodes of one level inside a scope, with their polygons, as GeoJSON.
#[utoipa::path(get, path = "/api/v1/grid/map", tag = "grid", params(MapQuery),
    responses((status = 200, body = FeatureCollection), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn grid_map(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<MapQuery>,
) -> ApiResult<FeatureCollection> {
    let features = state.app.map_features(&ctx, &q.scope, &q.level).await?;
    Ok(Json(FeatureCollection {
        kind_of: "FeatureCollection",
        features,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct LocateQuery {
    /// Longitude, WGS84.
    pub lon: f64,
    /// Latitude, WGS84.
    pub lat: f64,
}

/// The micro-grid (and grid, community, street, district) a point lies in.
#[utoipa::path(get, path = "/api/v1/grid/locate", tag = "grid", params(LocateQuery),
    responses((status = 200, body = Location), (status = 403, body = ErrorBody), (status = 422, description = "outside every micro-grid", body = ErrorBody)))]
async fn grid_locate(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<LocateQuery>,
) -> ApiResult<Location> {
    state
        .app
        .require_anywhere(&ctx, domain::Permission::ReadGrid, "locate")
        .await?;
    Ok(Json(state.app.locate(q.lon, q.lat)?))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AddressQuery {
    /// A piece of an address, e.g. `柳城大道8号` or `和平小区3栋`.
    pub q: String,
}

/// Buildings found by address, each with its micro-grid, grid, community and street.
#[utoipa::path(get, path = "/api/v1/grid/locate-address", tag = "grid", params(AddressQuery),
    responses((status = 200, body = [AddressMatch]), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn grid_locate_address(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<AddressQuery>,
) -> ApiResult<Vec<AddressMatch>> {
    Ok(Json(state.app.locate_address(&ctx, &q.q).await?))
}

/// Who works on a node: the accounts holding a role on exactly it.
#[utoipa::path(get, path = "/api/v1/grid/nodes/{code}/staff", tag = "grid", params(("code" = String, Path, description = "grid code")),
    responses((status = 200, body = [StaffView]), (status = 403, body = ErrorBody)))]
async fn grid_staff(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(code): ApiPath<String>,
) -> ApiResult<Vec<StaffView>> {
    Ok(Json(state.app.node_staff(&ctx, &code).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DivisionQuery {
    /// The grid code to check, with everything below it.
    pub scope: String,
    /// Gaps and overlaps smaller than this (m²) are ignored; default 10.
    pub tolerance: Option<f64>,
}

/// The division checks: gaps, overlaps, children outside their parent, invalid shapes.
#[utoipa::path(get, path = "/api/v1/grid/division", tag = "grid", params(DivisionQuery),
    responses((status = 200, body = [DivisionFinding]), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn grid_division(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<DivisionQuery>,
) -> ApiResult<Vec<DivisionFinding>> {
    let tolerance = q.tolerance.unwrap_or(app::DEFAULT_TOLERANCE_M2);
    if !(0.0..=1e9).contains(&tolerance) {
        return Err(app::AppError::invalid(
            "tolerance",
            "容差须在 0 到 1e9 平方米之间 / tolerance is 0 to 1e9 m²",
        )
        .into());
    }
    Ok(Json(
        state.app.check_division(&ctx, &q.scope, tolerance).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ExportQuery {
    /// The grid code whose nodes (all levels) to export.
    pub scope: String,
}

/// A scope's grid nodes, all levels, as a GeoJSON FeatureCollection.
#[utoipa::path(get, path = "/api/v1/grid/export", tag = "grid", params(ExportQuery),
    responses((status = 200, description = "GeoJSON FeatureCollection", content_type = "application/geo+json"), (status = 403, body = ErrorBody)))]
async fn export_map(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let map = state.app.export_map(&ctx, &q.scope).await?;
    let disposition = format!(
        "attachment; filename=\"grid-{}.geojson\"",
        q.scope
            .chars()
            .filter(char::is_ascii_digit)
            .collect::<String>()
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/geo+json".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        map.to_string(),
    )
        .into_response())
}

/// Adds or redraws grid nodes from a GeoJSON FeatureCollection (properties: code, name, kind),
/// all or nothing (street admin).
#[utoipa::path(post, path = "/api/v1/grid/import", tag = "grid", request_body(content = Object, description = "GeoJSON FeatureCollection"),
    responses((status = 200, body = ImportReport), (status = 403, body = ErrorBody), (status = 422, description = "every problem, by feature and code", body = ErrorBody)))]
async fn import_map(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(geojson): ApiJson<serde_json::Value>,
) -> ApiResult<ImportReport> {
    Ok(Json(
        state
            .app
            .import_map(&ctx, &geojson, app::DEFAULT_TOLERANCE_M2)
            .await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ResidentExportQuery {
    pub scope: String,
    /// `xlsx` (default) or `csv`.
    pub format: Option<String>,
}

/// A scope's residents, masked, as XLSX or CSV; every export is audited.
#[utoipa::path(get, path = "/api/v1/registry/export", tag = "registry", params(ResidentExportQuery),
    responses((status = 200, description = "the file"), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn export_residents(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<ResidentExportQuery>,
) -> Result<Response, ApiError> {
    let format = export_format(q.format.as_deref())?;
    let bytes = state.app.export_residents(&ctx, &q.scope, format).await?;
    Ok(download(
        format,
        &format!("residents-{}", digits(&q.scope)),
        bytes,
    ))
}

pub(crate) fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// The `format` parameter of an export: `xlsx` (the default) or `csv`.
pub(crate) fn export_format(format: Option<&str>) -> Result<app::ExportFormat, ApiError> {
    let format = format.unwrap_or("xlsx");
    app::ExportFormat::parse(format).ok_or_else(|| {
        app::AppError::invalid(
            "format",
            format!("须为 xlsx 或 csv / xlsx or csv, not {format:?}"),
        )
        .into()
    })
}

/// A table file as a download named `{stem}.{csv|xlsx}`.
pub(crate) fn download(format: app::ExportFormat, stem: &str, bytes: Vec<u8>) -> Response {
    let mime = match format {
        app::ExportFormat::Xlsx => {
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        }
        app::ExportFormat::Csv => "text/csv; charset=utf-8",
    };
    (
        [
            (header::CONTENT_TYPE, mime.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{stem}.{}\"", format.as_str()),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// The body of a table upload: CSV (`text/csv`) or XLSX (its media type, or
/// `application/octet-stream`); what it really is is read from its bytes.
pub(crate) fn table_upload(headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    let ok = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            [
                "text/csv",
                "text/plain",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "application/octet-stream",
            ]
            .iter()
            .any(|m| v.starts_with(m))
        });
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "请求须为 CSV (text/csv) 或 XLSX / send CSV as text/csv, or XLSX",
        ))
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ImportQuery {
    /// Import the good rows and report the bad ones, instead of importing nothing.
    #[serde(default)]
    pub skip_bad_rows: bool,
}

/// Imports residents from CSV (`text/csv`) or XLSX (header: 微网格编码,街路巷,门牌号,小区,楼栋,单元,房号,姓名,
/// 身份证号,电话,与户主关系,居住类型,关爱等级,标签). Nothing is imported while a row is bad,
/// unless `skip_bad_rows`.
#[utoipa::path(post, path = "/api/v1/registry/import", tag = "registry", params(ImportQuery), request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = RegistryImportReport), (status = 403, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, description = "each bad row, by line and field", body = ErrorBody)))]
async fn import_residents(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<ImportQuery>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<RegistryImportReport> {
    table_upload(&headers)?;
    state
        .app
        .require_anywhere(&ctx, domain::Permission::EditRegistry, "registry import")
        .await?;
    Ok(Json(
        state
            .app
            .import_residents(&ctx, &body, q.skip_bad_rows, &|_, _| {})
            .await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ResidentQuery {
    /// A grid code inside the caller's scope; default: the caller's outermost scope.
    pub scope: Option<String>,
    /// A piece of name or address, a full phone number, its last 4 digits, or an ID number.
    #[serde(default)]
    pub q: String,
    /// A key-population tag, e.g. `living_alone_elderly`.
    pub tag: Option<String>,
}

/// Residents inside a scope, masked (registry readers).
#[utoipa::path(get, path = "/api/v1/registry/residents", tag = "registry", params(ResidentQuery),
    responses((status = 200, body = [ResidentView]), (status = 403, body = ErrorBody)))]
async fn search_residents(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<ResidentQuery>,
) -> ApiResult<Vec<ResidentView>> {
    Ok(Json(
        state
            .app
            .search_residents(&ctx, q.scope.as_deref(), &q.q, q.tag.as_deref())
            .await?,
    ))
}

/// One resident, masked.
#[utoipa::path(get, path = "/api/v1/registry/residents/{id}", tag = "registry", params(("id" = i64, Path)),
    responses((status = 200, body = ResidentView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_resident(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<ResidentView> {
    Ok(Json(state.app.resident(&ctx, id).await?))
}

/// Corrects a resident's record; the correction is audited.
#[utoipa::path(patch, path = "/api/v1/registry/residents/{id}", tag = "registry", params(("id" = i64, Path)), request_body = ResidentPatch,
    responses((status = 200, body = ResidentView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn correct_resident(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<i64>,
    ApiJson(patch): ApiJson<ResidentPatch>,
) -> ApiResult<ResidentView> {
    Ok(Json(state.app.correct_resident(&ctx, id, &patch).await?))
}

/// Erases a resident's record on request; the erasure is audited.
#[utoipa::path(delete, path = "/api/v1/registry/residents/{id}", tag = "registry", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn erase_resident(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    state.app.erase_resident(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RevealInput {
    pub field: SensitiveField,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Revealed {
    pub value: String,
}

/// The full ID number or phone of a resident, for roles allowed to; every reveal is audited.
#[utoipa::path(post, path = "/api/v1/registry/residents/{id}/reveal", tag = "registry", params(("id" = i64, Path)), request_body = RevealInput,
    responses((status = 200, body = Revealed), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn reveal(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<RevealInput>,
) -> ApiResult<Revealed> {
    Ok(Json(Revealed {
        value: state.app.reveal(&ctx, id, input.field).await?,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct HouseholdQuery {
    pub scope: String,
    /// The last household id of the previous page.
    pub after: Option<i64>,
}

/// Households inside a scope, 100 a page (keyset: `after`).
#[utoipa::path(get, path = "/api/v1/registry/households", tag = "registry", params(HouseholdQuery),
    responses((status = 200, body = [HouseholdSummary]), (status = 403, body = ErrorBody)))]
async fn households(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<HouseholdQuery>,
) -> ApiResult<Vec<HouseholdSummary>> {
    Ok(Json(state.app.households(&ctx, &q.scope, q.after).await?))
}

/// One household and its members, masked.
#[utoipa::path(get, path = "/api/v1/registry/households/{id}", tag = "registry", params(("id" = i64, Path)),
    responses((status = 200, body = HouseholdView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn household(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<HouseholdView> {
    Ok(Json(state.app.household(&ctx, id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ScopeQuery {
    /// A grid code inside the caller's scope; default: the caller's outermost scope.
    pub scope: Option<String>,
}

/// Accounts whose home lies inside a scope (security admin).
#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts", params(ScopeQuery),
    responses((status = 200, body = [AccountView]), (status = 403, body = ErrorBody)))]
async fn list_accounts(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<ScopeQuery>,
) -> ApiResult<Vec<AccountView>> {
    Ok(Json(
        state.app.list_accounts(&ctx, q.scope.as_deref()).await?,
    ))
}

/// Creates a staff account (security admin).
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = NewAccountInput,
    responses((status = 201, body = AccountView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_account(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<NewAccountInput>,
) -> Result<Response, ApiError> {
    let account = state.app.create_account(&ctx, &input).await?;
    Ok((StatusCode::CREATED, Json(account)).into_response())
}

/// One account (security admin).
#[utoipa::path(get, path = "/api/v1/accounts/{id}", tag = "accounts", params(("id" = i64, Path)),
    responses((status = 200, body = AccountView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_account(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<AccountView> {
    Ok(Json(state.app.get_account(&ctx, id).await?))
}

/// Disables an account and ends its sessions (security admin).
#[utoipa::path(post, path = "/api/v1/accounts/{id}/disable", tag = "accounts", params(("id" = i64, Path)),
    responses((status = 200, body = AccountView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn disable_account(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<AccountView> {
    Ok(Json(state.app.set_account_disabled(&ctx, id, true).await?))
}

/// Enables an account again (security admin).
#[utoipa::path(post, path = "/api/v1/accounts/{id}/enable", tag = "accounts", params(("id" = i64, Path)),
    responses((status = 200, body = AccountView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn enable_account(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<AccountView> {
    Ok(Json(state.app.set_account_disabled(&ctx, id, false).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordInput {
    pub password: String,
}

/// Sets a new password, unlocks the account and ends its sessions (security admin).
#[utoipa::path(post, path = "/api/v1/accounts/{id}/password", tag = "accounts", params(("id" = i64, Path)), request_body = PasswordInput,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn reset_password(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<PasswordInput>,
) -> Result<StatusCode, ApiError> {
    state.app.reset_password(&ctx, id, &input.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct GrantInput {
    /// e.g. `grid_worker`, `community_staff`, `audit_admin`.
    pub role: String,
    /// The grid code the role is held on.
    pub scope: String,
}

/// Grants a role on a scope (security admin).
#[utoipa::path(post, path = "/api/v1/accounts/{id}/grants", tag = "accounts", params(("id" = i64, Path)), request_body = GrantInput,
    responses((status = 201, body = GrantView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn grant_role(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<GrantInput>,
) -> Result<Response, ApiError> {
    let grant = state
        .app
        .grant_role(&ctx, id, &input.role, &input.scope)
        .await?;
    Ok((StatusCode::CREATED, Json(grant)).into_response())
}

/// Revokes a role grant (security admin).
#[utoipa::path(delete, path = "/api/v1/accounts/{id}/grants/{grant_id}", tag = "accounts", params(("id" = i64, Path), ("grant_id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke_grant(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiPath((id, grant_id)): ApiPath<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    state.app.revoke_grant(&ctx, id, grant_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// API keys whose scope lies inside a scope (security admin).
#[utoipa::path(get, path = "/api/v1/apikeys", tag = "apikeys", params(ScopeQuery),
    responses((status = 200, body = [ApiKeyView]), (status = 403, body = ErrorBody)))]
async fn list_api_keys(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<ScopeQuery>,
) -> ApiResult<Vec<ApiKeyView>> {
    Ok(Json(
        state.app.list_api_keys(&ctx, q.scope.as_deref()).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ApiKeyInput {
    pub name: String,
    /// An operational role (not an admin role).
    pub role: String,
    pub scope: String,
}

/// Creates an API key; the key is in the answer once and never again (security admin).
#[utoipa::path(post, path = "/api/v1/apikeys", tag = "apikeys", request_body = ApiKeyInput,
    responses((status = 201, body = CreatedApiKey), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_api_key(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<ApiKeyInput>,
) -> Result<Response, ApiError> {
    let created = state
        .app
        .create_api_key(&ctx, &input.name, &input.role, &input.scope)
        .await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// Revokes an API key (security admin).
#[utoipa::path(delete, path = "/api/v1/apikeys/{id}", tag = "apikeys", params(("id" = i64, Path)),
    responses((status = 200, body = ApiKeyView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn revoke_api_key(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<ApiKeyView> {
    Ok(Json(state.app.revoke_api_key(&ctx, id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditParams {
    pub scope: Option<String>,
    /// e.g. `login_failed`, `permission_denied`.
    pub action: Option<String>,
    /// Only events with a smaller id (the last id of the previous page).
    pub before: Option<i64>,
    /// 1 to 500, default 50.
    pub limit: Option<i64>,
}

/// The audit log, newest first (audit admin).
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditParams),
    responses((status = 200, body = [AuditView]), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn audit(
    State(state): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<AuditParams>,
) -> ApiResult<Vec<AuditView>> {
    Ok(Json(
        state
            .app
            .list_audit(
                &ctx,
                q.scope.as_deref(),
                q.action.as_deref(),
                q.before,
                q.limit,
            )
            .await?,
    ))
}

/// Version, database and security settings (system admin).
#[utoipa::path(get, path = "/api/v1/system", tag = "system", responses((status = 200, body = SystemInfo), (status = 403, body = ErrorBody)))]
async fn system(State(state): State<AppState>, Staff(ctx): Staff) -> ApiResult<SystemInfo> {
    Ok(Json(state.app.system_info(&ctx).await?))
}

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(SESSION_COOKIE))),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Weige 微格 API", description = "微网实格社区治理平台接口 / the micro-grid community governance API. \
        Errors are JSON `{code, message}`. Writes with the session cookie need the `X-CSRF-Token` header."),
    paths(login, logout, me, grid_node, grid_children, grid_map, grid_locate, grid_locate_address, grid_staff, grid_division,
          export_map, import_map, export_residents, import_residents, search_residents, get_resident, correct_resident, erase_resident, reveal, households, household, list_accounts, create_account, get_account, disable_account,
          enable_account, reset_password, grant_role, revoke_grant, list_api_keys, create_api_key, revoke_api_key,
          audit, system, crate::api_lists::node_history, crate::api_lists::list_roster, crate::api_lists::add_staff,
          crate::api_lists::update_staff, crate::api_lists::remove_staff, crate::api_lists::export_roster, crate::api_lists::import_roster,
          crate::api_lists::list_tags, crate::api_lists::save_tag, crate::api_lists::export_buildings, crate::api_lists::import_buildings,
          crate::api_lists::export_households, crate::api_lists::import_households,
          crate::api_cases::list_categories, crate::api_cases::save_category, crate::api_cases::set_calendar_day,
          crate::api_cases::report_case, crate::api_cases::list_cases, crate::api_cases::get_case, crate::api_cases::act,
          crate::api_cases::case_photo, crate::api_cases::track, crate::api_cases::rate, crate::api_cases::tracked_photo,
          crate::api_notify::inbox, crate::api_notify::mark_read, crate::api_notify::webhooks, crate::api_notify::create_webhook,
          crate::api_notify::set_active, crate::api_notify::outbox, crate::api_notify::retry,
          crate::api_channels::transfer_sources, crate::api_channels::create_transfer_source, crate::api_channels::transfer,
          crate::api_channels::chat_groups, crate::api_channels::create_chat_group, crate::api_channels::chat_drafts,
          crate::api_channels::confirm_draft, crate::api_channels::discard_draft, crate::api_channels::chat_hook,
          crate::api_channels::caller, crate::api_channels::intake_stats),
    components(schemas(ErrorBody)),
    modifiers(&Security),
    security(("api_key" = []), ("session" = [])),
    tags((name = "session", description = "登录与会话 / signing in"), (name = "grid", description = "网格 / the grid tree"),
         (name = "registry", description = "实有人口 / households and residents"),
         (name = "roster", description = "人员名册 / who serves where"),
         (name = "cases", description = "案件闭环 / the case loop"),
         (name = "notifications", description = "消息与推送 / inbox and webhooks"),
         (name = "channels", description = "其他渠道：12345 转办、微信群 / transfers and chat groups"),
         (name = "accounts", description = "账户与授权 / accounts and roles"), (name = "apikeys", description = "API 密钥 / API keys"),
         (name = "audit", description = "审计日志 / audit log"), (name = "system", description = "系统 / system"))
)]
pub struct ApiDoc;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/session", post(login).delete(logout))
        .route("/me", get(me))
        .route("/grid/nodes/{code}", get(grid_node))
        .route("/grid/nodes/{code}/children", get(grid_children))
        .route("/grid/nodes/{code}/staff", get(grid_staff))
        .route("/grid/nodes/{code}/history", get(api_lists::node_history))
        .route("/grid/map", get(grid_map))
        .route("/grid/locate", get(grid_locate))
        .route("/grid/locate-address", get(grid_locate_address))
        .route("/grid/division", get(grid_division))
        .route("/grid/export", get(export_map))
        .route("/grid/import", post(import_map))
        .route("/registry/export", get(export_residents))
        .route("/registry/import", post(import_residents))
        .route("/registry/residents", get(search_residents))
        .route(
            "/registry/residents/{id}",
            get(get_resident)
                .patch(correct_resident)
                .delete(erase_resident),
        )
        .route("/registry/residents/{id}/reveal", post(reveal))
        .route("/registry/households", get(households))
        .route("/registry/households/{id}", get(household))
        .route(
            "/registry/households/export",
            get(api_lists::export_households),
        )
        .route(
            "/registry/households/import",
            post(api_lists::import_households),
        )
        .route(
            "/registry/buildings/export",
            get(api_lists::export_buildings),
        )
        .route(
            "/registry/buildings/import",
            post(api_lists::import_buildings),
        )
        .route("/registry/tags", get(api_lists::list_tags))
        .route(
            "/registry/tags/{code}",
            axum::routing::put(api_lists::save_tag),
        )
        .route(
            "/roster",
            get(api_lists::list_roster).post(api_lists::add_staff),
        )
        .route("/roster/export", get(api_lists::export_roster))
        .route("/roster/import", post(api_lists::import_roster))
        .route(
            "/roster/{id}",
            axum::routing::put(api_lists::update_staff).delete(api_lists::remove_staff),
        )
        .route("/accounts", get(list_accounts).post(create_account))
        .route("/accounts/{id}", get(get_account))
        .route("/accounts/{id}/disable", post(disable_account))
        .route("/accounts/{id}/enable", post(enable_account))
        .route("/accounts/{id}/password", post(reset_password))
        .route("/accounts/{id}/grants", post(grant_role))
        .route("/accounts/{id}/grants/{grant_id}", delete(revoke_grant))
        .route("/apikeys", get(list_api_keys).post(create_api_key))
        .route("/apikeys/{id}", delete(revoke_api_key))
        .route("/categories", get(api_cases::list_categories))
        .route(
            "/categories/{code}",
            axum::routing::put(api_cases::save_category),
        )
        .route(
            "/calendar/{day}",
            axum::routing::put(api_cases::set_calendar_day),
        )
        .route(
            "/cases",
            get(api_cases::list_cases)
                .post(api_cases::report_case)
                .layer(axum::extract::DefaultBodyLimit::max(PHOTO_BODY_LIMIT)),
        )
        .route("/cases/{id}", get(api_cases::get_case))
        .route(
            "/cases/{id}/actions",
            post(api_cases::act).layer(axum::extract::DefaultBodyLimit::max(PHOTO_BODY_LIMIT)),
        )
        .route("/cases/{id}/photos/{photo}", get(api_cases::case_photo))
        .route("/track/{number}", get(api_cases::track))
        .route("/track/{number}/rating", post(api_cases::rate))
        .route(
            "/track/{number}/photos/{photo}",
            get(api_cases::tracked_photo),
        )
        .route("/notifications", get(api_notify::inbox))
        .route("/notifications/read", post(api_notify::mark_read))
        .route(
            "/webhooks",
            get(api_notify::webhooks).post(api_notify::create_webhook),
        )
        .route(
            "/webhooks/{id}/active",
            axum::routing::put(api_notify::set_active),
        )
        .route("/outbox", get(api_notify::outbox))
        .route("/outbox/{id}/retry", post(api_notify::retry))
        .route("/audit", get(audit))
        .route("/system", get(system))
        .merge(crate::api_channels::api_routes())
}

async fn openapi_json() -> impl IntoResponse {
    Json(ApiDoc::openapi())
}

async fn docs_page() -> Html<&'static str> {
    Html(include_str!("../assets/apidocs.html"))
}

pub fn doc_routes() -> Router<AppState> {
    Router::new()
        .route("/api/openapi.json", get(openapi_json))
        .route("/api/docs", get(docs_page))
}

impl ApiDoc {
    /// The OpenAPI document, as served at `/api/openapi.json`.
    pub fn openapi_doc() -> utoipa::openapi::OpenApi {
        <ApiDoc as OpenApi>::openapi()
    }
}
