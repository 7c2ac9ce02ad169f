//! The HTML pages. Each handler checks nothing itself: `app` does, and a refusal becomes the 403
//! page. Forms post back and redirect with a flash message (`?ok=` / `?err=`).

use crate::AppState;
use crate::api::{clear_session_cookie, session_cookie};
use crate::error::{ApiForm, ApiQuery};
use crate::i18n::{LANG_COOKIE, Lang, Tr};
use app::{AccountView, ApiKeyView, AppError, AuditView, Ctx, NodeView, SystemInfo};
use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use domain::{AuditAction, Permission, Role, access};
use serde::Deserialize;

/// A signed-in staff member on a page; anyone else is sent to the login page.
pub struct Page {
    ctx: Ctx,
    tr: Tr,
    path: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Page {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let Ok(Lang(tr)) = Lang::from_request_parts(parts, state).await;
        match parts.extensions.get::<Ctx>() {
            Some(ctx) if matches!(ctx.actor, app::Actor::Account { .. }) => Ok(Page {
                ctx: ctx.clone(),
                tr,
                path: parts.uri.path().to_owned(),
            }),
            _ => {
                let expired =
                    crate::middleware::cookie(&parts.headers, crate::middleware::SESSION_COOKIE)
                        .is_some();
                let to = if expired {
                    "/login?expired=1"
                } else {
                    "/login"
                };
                Err(Redirect::to(to).into_response())
            }
        }
    }
}

struct Nav {
    href: &'static str,
    label: &'static str,
    active: bool,
}

/// What the frame around every page needs.
struct Layout {
    tr: Tr,
    title: &'static str,
    user: String,
    csrf: String,
    path: String,
    nav: Vec<Nav>,
    ok: Option<String>,
    err: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Flash {
    ok: Option<String>,
    err: Option<String>,
}

impl Page {
    fn layout(&self, title_key: &str, flash: Flash) -> Layout {
        let tr = self.tr;
        let items: [(&str, &str, Option<Permission>); 21] = [
            ("/", "nav.home", None),
            ("/cases", "nav.cases", Some(Permission::ReadCases)),
            ("/phone", "nav.phone", Some(Permission::ReportCase)),
            ("/chat-drafts", "nav.drafts", Some(Permission::ReportCase)),
            ("/inbox", "nav.inbox", Some(Permission::UseWorkspace)),
            ("/map", "nav.map", Some(Permission::ReadGrid)),
            ("/grid", "nav.grid", Some(Permission::ReadGrid)),
            ("/grid/check", "nav.check", Some(Permission::ReadGrid)),
            ("/registry", "nav.registry", Some(Permission::ReadRegistry)),
            ("/roster", "nav.roster", Some(Permission::ReadGrid)),
            ("/grid/cards", "nav.cards", Some(Permission::ReadGrid)),
            (
                "/registry/tags",
                "nav.tags",
                Some(Permission::ConfigureCatalog),
            ),
            (
                "/admin/accounts",
                "nav.accounts",
                Some(Permission::ManageAccounts),
            ),
            (
                "/admin/apikeys",
                "nav.apikeys",
                Some(Permission::ManageApiKeys),
            ),
            ("/audit", "nav.audit", Some(Permission::ReadAudit)),
            (
                "/admin/system",
                "nav.system",
                Some(Permission::ConfigureSystem),
            ),
            (
                "/admin/webhooks",
                "nav.webhooks",
                Some(Permission::ConfigureSystem),
            ),
            (
                "/admin/channels",
                "nav.channels",
                Some(Permission::ConfigureSystem),
            ),
            (
                "/admin/categories",
                "nav.categories",
                Some(Permission::ConfigureCatalog),
            ),
            (
                "/admin/calendar",
                "nav.calendar",
                Some(Permission::ConfigureCatalog),
            ),
            ("/api/docs", "nav.apidocs", None),
        ];
        let nav = items
            .into_iter()
            .filter(|(_, _, p)| p.is_none_or(|p| access::allows_somewhere(&self.ctx.grants, p)))
            .map(|(href, key, _)| Nav {
                href,
                label: tr.t(key),
                active: self.path == href,
            })
            .collect();
        let user = match &self.ctx.actor {
            app::Actor::Account {
                display_name,
                username,
                ..
            } => format!("{display_name} ({username})"),
            _ => String::new(),
        };
        Layout {
            tr,
            title: tr.t(title_key),
            user,
            csrf: self.ctx.csrf_token.clone().unwrap_or_default(),
            path: self.path.clone(),
            nav,
            ok: flash.ok.map(|_| tr.t("common.ok").to_owned()),
            err: flash.err,
        }
    }

    /// The scope a page was asked for, or else the caller's outermost scope for `permission`.
    fn scope_or_default(
        &self,
        given: Option<String>,
        permission: Permission,
    ) -> Result<String, AppError> {
        match given {
            Some(s) => Ok(s),
            None => app::default_scope(&self.ctx, permission).map(|s| s.to_string()),
        }
    }

    /// The response for a failed use case on a page.
    /// Refuses (audited, the 403 page) unless the caller holds `permission` somewhere.
    async fn need(
        &self,
        state: &AppState,
        permission: Permission,
        what: &str,
    ) -> Result<(), Response> {
        state
            .app
            .require_anywhere(&self.ctx, permission, what)
            .await
            .map_err(|e| self.fail(e))
    }

    fn fail(&self, e: AppError) -> Response {
        page_error(self.tr, e)
    }
}

fn page_error(tr: Tr, e: AppError) -> Response {
    match e {
        AppError::Unauthenticated => Redirect::to("/login?expired=1").into_response(),
        AppError::Forbidden(_) => error_page(tr, StatusCode::FORBIDDEN),
        AppError::NotFound(_) => error_page(tr, StatusCode::NOT_FOUND),
        other => {
            let api = crate::error::ApiError::from(other);
            render_error(tr, api.status, api.body.message)
        }
    }
}

fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate {
    tr: Tr,
    status: u16,
    message: String,
}

fn render_error(tr: Tr, status: StatusCode, message: String) -> Response {
    (
        status,
        render(&ErrorTemplate {
            tr,
            status: status.as_u16(),
            message,
        }),
    )
        .into_response()
}

pub fn error_page(tr: Tr, status: StatusCode) -> Response {
    let key = if status == StatusCode::FORBIDDEN {
        "error.403"
    } else {
        "error.404"
    };
    render_error(tr, status, tr.t(key).to_owned())
}

/// Percent-encodes a message for a redirect's query string.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// After a form: back to `to`, with the outcome as a flash message.
fn sep(to: &str) -> char {
    if to.contains('?') { '&' } else { '?' }
}

fn back(tr: Tr, to: &str, outcome: Result<(), AppError>) -> Response {
    match outcome {
        Ok(()) => Redirect::to(&format!("{to}{}ok=1", sep(to))).into_response(),
        Err(e @ (AppError::Unauthenticated | AppError::Forbidden(_))) => page_error(tr, e),
        Err(e) => {
            let message = crate::error::ApiError::from(e).body.message;
            Redirect::to(&format!("{to}{}err={}", sep(to), encode(&message))).into_response()
        }
    }
}

// ---- login, logout, language -------------------------------------------------------------

#[derive(Template)]
#[template(path = "login.html")]
struct LoginTemplate {
    tr: Tr,
    error: Option<String>,
    notice: Option<String>,
    username: String,
}

#[derive(Debug, Default, Deserialize)]
struct LoginQuery {
    expired: Option<String>,
    loggedout: Option<String>,
}

async fn login_page(Lang(tr): Lang, ApiQuery(q): ApiQuery<LoginQuery>) -> Response {
    let notice = if q.expired.is_some() {
        Some(tr.t("login.expired").to_owned())
    } else if q.loggedout.is_some() {
        Some(tr.t("login.loggedout").to_owned())
    } else {
        None
    };
    render(&LoginTemplate {
        tr,
        error: None,
        notice,
        username: String::new(),
    })
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    username: String,
    password: String,
}

async fn login_submit(
    State(state): State<AppState>,
    Lang(tr): Lang,
    req_ctx: axum::Extension<Ctx>,
    ApiForm(form): ApiForm<LoginForm>,
) -> Response {
    match state
        .app
        .login(&form.username, &form.password, req_ctx.0.origin.clone())
        .await
    {
        Ok(ok) => (
            [(
                header::SET_COOKIE,
                session_cookie(&ok.token, state.config.secure_cookies),
            )],
            Redirect::to("/"),
        )
            .into_response(),
        Err(e) => {
            let (status, key) = match e {
                AppError::Locked { .. } => (StatusCode::LOCKED, "login.locked"),
                AppError::BadCredentials => (StatusCode::UNAUTHORIZED, "login.bad"),
                other => return page_error(tr, other),
            };
            let t = LoginTemplate {
                tr,
                error: Some(tr.t(key).to_owned()),
                notice: None,
                username: form.username,
            };
            (status, render(&t)).into_response()
        }
    }
}

async fn logout(State(state): State<AppState>, page: Page) -> Response {
    if let Err(e) = state.app.logout(&page.ctx).await {
        return page.fail(e);
    }
    (
        [(header::SET_COOKIE, clear_session_cookie())],
        Redirect::to("/login?loggedout=1"),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct BackQuery {
    back: Option<String>,
}

async fn set_language(Path(lang): Path<String>, ApiQuery(q): ApiQuery<BackQuery>) -> Response {
    let value = if lang == "en" { "en" } else { "zh" };
    // Only a path on this site: never an open redirect.
    let back = q
        .back
        .filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\'))
        .unwrap_or_else(|| "/".into());
    let cookie = format!("{LANG_COOKIE}={value}; Path=/; SameSite=Lax; Max-Age=31536000");
    ([(header::SET_COOKIE, cookie)], Redirect::to(&back)).into_response()
}

// ---- home and grid -----------------------------------------------------------------------

#[derive(Template)]
#[template(path = "home.html")]
struct HomeTemplate {
    l: Layout,
    account: AccountView,
}

async fn home(State(state): State<AppState>, page: Page) -> Response {
    match state.app.me(&page.ctx).await {
        Ok(account) => render(&HomeTemplate {
            l: page.layout("nav.home", Flash::default()),
            account,
        }),
        Err(e) => page.fail(e),
    }
}

#[derive(Template)]
#[template(path = "grid.html")]
struct GridTemplate {
    l: Layout,
    nodes: Vec<NodeView>,
}

async fn grid(State(state): State<AppState>, page: Page) -> Response {
    if let Err(refused) = page.need(&state, Permission::ReadGrid, "grid page").await {
        return refused;
    }
    match state.app.readable_nodes(&page.ctx).await {
        Ok(nodes) => render(&GridTemplate {
            l: page.layout("nav.grid", Flash::default()),
            nodes,
        }),
        Err(e) => page.fail(e),
    }
}

#[derive(Template)]
#[template(path = "map.html")]
struct MapTemplate {
    l: Layout,
    scope: String,
    scope_name: String,
    tiles: String,
    attribution: String,
    at: String,
    kinds_json: String,
    levels_json: String,
    can_edit: bool,
    can_read_cases: bool,
}

#[derive(Debug, Default, Deserialize)]
struct MapPageQuery {
    scope: Option<String>,
    /// `lon,lat` to mark and zoom to.
    at: Option<String>,
}

async fn map_page(
    State(state): State<AppState>,
    page: Page,
    ApiQuery(q): ApiQuery<MapPageQuery>,
) -> Response {
    let scope = match page.scope_or_default(q.scope, Permission::ReadGrid) {
        Ok(s) => s,
        Err(e) => return page.fail(e),
    };
    let node = match state.app.grid_node(&page.ctx, &scope).await {
        Ok(n) => n,
        Err(e) => return page.fail(e),
    };
    let at = q.at.filter(|a| {
        let parts: Vec<Option<f64>> = a.split(',').map(|p| p.trim().parse().ok()).collect();
        parts.len() == 2 && parts.iter().all(Option::is_some)
    });
    let tr = page.tr;
    let kinds: serde_json::Map<String, serde_json::Value> = domain::GridKind::ALL
        .into_iter()
        .map(|k| (k.as_str().to_owned(), k.label_zh().into()))
        .collect();
    let levels: serde_json::Map<String, serde_json::Value> = domain::Level::ALL
        .into_iter()
        .map(|lv| {
            (
                lv.as_str().to_owned(),
                tr.t(&format!("level.{}", lv.as_str())).into(),
            )
        })
        .collect();
    render(&MapTemplate {
        l: page.layout("nav.map", Flash::default()),
        scope: node.code,
        scope_name: node.name,
        tiles: state.config.map_tile_url.clone().unwrap_or_default(),
        attribution: state.config.map_attribution.clone(),
        at: at.unwrap_or_default(),
        kinds_json: serde_json::Value::Object(kinds).to_string(),
        levels_json: serde_json::Value::Object(levels).to_string(),
        can_edit: domain::GridCode::parse(&scope)
            .is_ok_and(|s| access::allows(&page.ctx.grants, Permission::EditGrid, &s)),
        can_read_cases: domain::GridCode::parse(&scope)
            .is_ok_and(|s| access::allows(&page.ctx.grants, Permission::ReadCases, &s)),
    })
}

#[derive(Template)]
#[template(path = "check.html")]
struct CheckTemplate {
    l: Layout,
    scope: String,
    scope_name: String,
    tolerance: f64,
    findings: Vec<app::DivisionFinding>,
}

#[derive(Debug, Default, Deserialize)]
struct CheckQuery {
    scope: Option<String>,
    tolerance: Option<f64>,
}

async fn check_page(
    State(state): State<AppState>,
    page: Page,
    ApiQuery(q): ApiQuery<CheckQuery>,
) -> Response {
    let scope = match page.scope_or_default(q.scope, Permission::ReadGrid) {
        Ok(s) => s,
        Err(e) => return page.fail(e),
    };
    let tolerance = q
        .tolerance
        .filter(|t| (0.0..=1e9).contains(t))
        .unwrap_or(app::DEFAULT_TOLERANCE_M2);
    let node = match state.app.grid_node(&page.ctx, &scope).await {
        Ok(n) => n,
        Err(e) => return page.fail(e),
    };
    match state.app.check_division(&page.ctx, &scope, tolerance).await {
        Ok(findings) => render(&CheckTemplate {
            l: page.layout("nav.check", Flash::default()),
            scope: node.code,
            scope_name: node.name,
            tolerance,
            findings,
        }),
        Err(e) => page.fail(e),
    }
}

#[derive(Template)]
#[template(path = "registry.html")]
struct RegistryTemplate {
    l: Layout,
    scope: String,
    scope_name: String,
    q: String,
    tag: String,
    tags: Vec<app::TagView>,
    residents: Vec<app::ResidentView>,
    can_export: bool,
    can_import: bool,
    columns: [String; 3],
}

impl RegistryTemplate {
    fn tag_label<'a>(&'a self, code: &'a str) -> &'a str {
        app::tag_label(&self.tags, code, self.l.tr.is_en())
    }
}

#[derive(Debug, Default, Deserialize)]
struct RegistryQuery {
    scope: Option<String>,
    #[serde(default)]
    q: String,
    #[serde(default)]
    tag: String,
}

async fn registry_page(
    State(state): State<AppState>,
    page: Page,
    ApiQuery(q): ApiQuery<RegistryQuery>,
) -> Response {
    let scope = match page.scope_or_default(q.scope, Permission::ReadRegistry) {
        Ok(s) => s,
        Err(e) => return page.fail(e),
    };
    let residents = match state
        .app
        .search_residents(&page.ctx, Some(&scope), &q.q, Some(&q.tag))
        .await
    {
        Ok(r) => r,
        Err(e) => return page.fail(e),
    };
    let node = match state.app.grid_node(&page.ctx, &scope).await {
        Ok(n) => n,
        Err(e) => return page.fail(e),
    };
    let tags = match state.app.tag_list().await {
        Ok(t) => t,
        Err(e) => return page.fail(e),
    };
    render(&RegistryTemplate {
        l: page.layout("nav.registry", Flash::default()),
        scope: node.code,
        scope_name: node.name,
        q: q.q,
        tag: q.tag,
        tags,
        residents,
        can_export: domain::GridCode::parse(&scope)
            .is_ok_and(|s| access::allows(&page.ctx.grants, Permission::ExportPersonal, &s)),
        can_import: domain::GridCode::parse(&scope)
            .is_ok_and(|s| access::allows(&page.ctx.grants, Permission::EditRegistry, &s)),
        columns: [
            app::RESIDENT_COLUMNS.join(","),
            app::BUILDING_COLUMNS.join(","),
            app::HOUSEHOLD_COLUMNS.join(","),
        ],
    })
}

#[derive(Template)]
#[template(path = "household.html")]
struct HouseholdTemplate {
    l: Layout,
    household: app::HouseholdView,
    tags: Vec<app::TagView>,
}

impl HouseholdTemplate {
    fn tag_label<'a>(&'a self, code: &'a str) -> &'a str {
        app::tag_label(&self.tags, code, self.l.tr.is_en())
    }
}

async fn household_page(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
) -> Response {
    match tokio::try_join!(state.app.household(&page.ctx, id), state.app.tag_list()) {
        Ok((household, tags)) => render(&HouseholdTemplate {
            l: page.layout("nav.registry", Flash::default()),
            household,
            tags,
        }),
        Err(e) => page.fail(e),
    }
}

#[derive(Debug, Deserialize)]
struct RevealQuery {
    field: app::SensitiveField,
}

/// The htmx answer to a reveal button: the full value in place of the masked one.
async fn reveal_fragment(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    ApiQuery(q): ApiQuery<RevealQuery>,
) -> Response {
    match state.app.reveal(&page.ctx, id, q.field).await {
        Ok(value) => Html(format!(
            "<code class=\"revealed\" data-testid=\"revealed\">{}</code>",
            value.replace(['<', '>', '&', '"'], "")
        ))
        .into_response(),
        Err(e) => page.fail(e),
    }
}

struct CardView {
    code: String,
    name: String,
    grid: Option<app::NodeRef>,
    community: Option<app::NodeRef>,
    workers: Vec<app::StaffView>,
    grid_workers: Vec<app::StaffView>,
    /// The QR code, an inline SVG.
    qr: String,
}

#[derive(Template)]
#[template(path = "cards.html")]
struct CardsTemplate {
    l: Layout,
    scope_name: String,
    cards: Vec<CardView>,
}

/// A QR code as an SVG image.
fn qr_svg(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(120, 120)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}

async fn cards_page(
    State(state): State<AppState>,
    page: Page,
    headers: axum::http::HeaderMap,
    ApiQuery(q): ApiQuery<MapPageQuery>,
) -> Response {
    let scope = match page.scope_or_default(q.scope, Permission::ReadGrid) {
        Ok(s) => s,
        Err(e) => return page.fail(e),
    };
    // One permission check, one refusal in the audit log: stop at the first.
    let cards = match state.app.contact_cards(&page.ctx, &scope).await {
        Ok(c) => c,
        Err(e) => return page.fail(e),
    };
    let node = match state.app.grid_node(&page.ctx, &scope).await {
        Ok(n) => n,
        Err(e) => return page.fail(e),
    };
    // The report page of each micro-grid, on the address this server is reached at.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_owned();
    let scheme = if state.config.secure_cookies {
        "https"
    } else {
        "http"
    };
    let cards = cards
        .into_iter()
        .map(|c| CardView {
            qr: qr_svg(&format!("{scheme}://{host}/report?grid={}", c.code)),
            code: c.code,
            name: c.name,
            grid: c.grid,
            community: c.community,
            workers: c.workers,
            grid_workers: c.grid_workers,
        })
        .collect();
    render(&CardsTemplate {
        l: page.layout("nav.cards", Flash::default()),
        scope_name: node.name,
        cards,
    })
}

// ---- accounts ----------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "accounts.html")]
struct AccountsTemplate {
    l: Layout,
    accounts: Vec<AccountView>,
    scopes: Vec<NodeView>,
    roles: Vec<(&'static str, &'static str)>,
}

#[derive(Debug, Default, Deserialize)]
struct ScopeFlash {
    scope: Option<String>,
    ok: Option<String>,
    err: Option<String>,
}

fn role_options(tr: Tr, keep: impl Fn(Role) -> bool) -> Vec<(&'static str, &'static str)> {
    Role::ALL
        .into_iter()
        .filter(|r| keep(*r))
        .map(|r| {
            (
                r.as_str(),
                if tr.is_en() {
                    r.label_en()
                } else {
                    r.label_zh()
                },
            )
        })
        .collect()
}

/// Nodes inside the scopes where the caller holds `permission`, for pickers.
async fn scope_options(
    state: &AppState,
    ctx: &Ctx,
    permission: Permission,
) -> Result<Vec<NodeView>, AppError> {
    let mut out = Vec::new();
    for scope in access::scopes_for(&ctx.grants, permission) {
        let mut nodes = state.app.grid_children(ctx, scope.as_str()).await?;
        out.push(state.app.grid_node(ctx, scope.as_str()).await?);
        out.append(&mut nodes);
    }
    Ok(out)
}

async fn accounts_page(
    State(state): State<AppState>,
    page: Page,
    ApiQuery(q): ApiQuery<ScopeFlash>,
) -> Response {
    let accounts = match state.app.list_accounts(&page.ctx, q.scope.as_deref()).await {
        Ok(a) => a,
        Err(e) => return page.fail(e),
    };
    let scopes = match scope_options(&state, &page.ctx, Permission::ManageAccounts).await {
        Ok(s) => s,
        Err(e) => return page.fail(e),
    };
    let l = page.layout(
        "nav.accounts",
        Flash {
            ok: q.ok,
            err: q.err,
        },
    );
    render(&AccountsTemplate {
        roles: role_options(page.tr, |_| true),
        l,
        accounts,
        scopes,
    })
}

#[derive(Debug, Deserialize)]
struct NewAccountForm {
    username: String,
    display_name: String,
    password: String,
    home_scope: String,
}

async fn create_account(
    State(state): State<AppState>,
    page: Page,
    ApiForm(f): ApiForm<NewAccountForm>,
) -> Response {
    let input = app::NewAccountInput {
        username: f.username,
        display_name: f.display_name,
        password: f.password,
        home_scope: f.home_scope,
    };
    let outcome = state
        .app
        .create_account(&page.ctx, &input)
        .await
        .map(|_| ());
    back(page.tr, "/admin/accounts", outcome)
}

#[derive(Debug, Deserialize)]
struct GrantForm {
    role: String,
    scope: String,
}

async fn grant_role(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    ApiForm(f): ApiForm<GrantForm>,
) -> Response {
    let outcome = state
        .app
        .grant_role(&page.ctx, id, &f.role, &f.scope)
        .await
        .map(|_| ());
    back(page.tr, "/admin/accounts", outcome)
}

async fn revoke_grant(
    State(state): State<AppState>,
    page: Page,
    Path((id, grant_id)): Path<(i64, i64)>,
) -> Response {
    let outcome = state.app.revoke_grant(&page.ctx, id, grant_id).await;
    back(page.tr, "/admin/accounts", outcome)
}

async fn disable_account(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
) -> Response {
    let outcome = state
        .app
        .set_account_disabled(&page.ctx, id, true)
        .await
        .map(|_| ());
    back(page.tr, "/admin/accounts", outcome)
}

async fn enable_account(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
) -> Response {
    let outcome = state
        .app
        .set_account_disabled(&page.ctx, id, false)
        .await
        .map(|_| ());
    back(page.tr, "/admin/accounts", outcome)
}

#[derive(Debug, Deserialize)]
struct PasswordForm {
    password: String,
}

async fn reset_password(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    ApiForm(f): ApiForm<PasswordForm>,
) -> Response {
    let outcome = state.app.reset_password(&page.ctx, id, &f.password).await;
    back(page.tr, "/admin/accounts", outcome)
}

// ---- API keys ----------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "apikeys.html")]
struct ApiKeysTemplate {
    l: Layout,
    keys: Vec<ApiKeyView>,
    scopes: Vec<NodeView>,
    roles: Vec<(&'static str, &'static str)>,
    created: Option<String>,
}

async fn api_keys_view(
    state: &AppState,
    page: &Page,
    flash: Flash,
    created: Option<String>,
) -> Response {
    let keys = match state.app.list_api_keys(&page.ctx, None).await {
        Ok(k) => k,
        Err(e) => return page.fail(e),
    };
    let scopes = match scope_options(state, &page.ctx, Permission::ManageApiKeys).await {
        Ok(s) => s,
        Err(e) => return page.fail(e),
    };
    let l = page.layout("nav.apikeys", flash);
    render(&ApiKeysTemplate {
        roles: role_options(page.tr, Role::allowed_for_api_key),
        l,
        keys,
        scopes,
        created,
    })
}

async fn api_keys_page(
    State(state): State<AppState>,
    page: Page,
    ApiQuery(f): ApiQuery<Flash>,
) -> Response {
    api_keys_view(&state, &page, f, None).await
}

#[derive(Debug, Deserialize)]
struct ApiKeyForm {
    name: String,
    role: String,
    scope: String,
}

/// Shows the new key on the answer itself: it is never shown again.
async fn create_api_key(
    State(state): State<AppState>,
    page: Page,
    ApiForm(f): ApiForm<ApiKeyForm>,
) -> Response {
    match state
        .app
        .create_api_key(&page.ctx, &f.name, &f.role, &f.scope)
        .await
    {
        Ok(created) => {
            api_keys_view(
                &state,
                &page,
                Flash {
                    ok: Some("1".into()),
                    err: None,
                },
                Some(created.key),
            )
            .await
        }
        Err(e) => back(page.tr, "/admin/apikeys", Err(e)),
    }
}

async fn revoke_api_key(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
) -> Response {
    let outcome = state.app.revoke_api_key(&page.ctx, id).await.map(|_| ());
    back(page.tr, "/admin/apikeys", outcome)
}

// ---- audit and system --------------------------------------------------------------------

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditTemplate {
    l: Layout,
    events: Vec<AuditView>,
    actions: Vec<(&'static str, &'static str)>,
    action: Option<String>,
    next_url: Option<String>,
}

#[derive(Template)]
#[template(path = "audit_rows.html")]
struct AuditRowsTemplate {
    l: Layout,
    events: Vec<AuditView>,
    next_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuditPageQuery {
    action: Option<String>,
    before: Option<i64>,
}

const AUDIT_PAGE: i64 = 50;

async fn audit_page(
    State(state): State<AppState>,
    page: Page,
    ApiQuery(q): ApiQuery<AuditPageQuery>,
) -> Response {
    let action = q.action.filter(|a| !a.is_empty());
    let events = match state
        .app
        .list_audit(
            &page.ctx,
            None,
            action.as_deref(),
            q.before,
            Some(AUDIT_PAGE),
        )
        .await
    {
        Ok(e) => e,
        Err(e) => return page.fail(e),
    };
    let next_url = (events.len() as i64 == AUDIT_PAGE).then(|| {
        let last = events.last().map_or(0, |e| e.id);
        format!(
            "/audit?before={last}{}",
            action
                .as_deref()
                .map(|a| format!("&action={a}"))
                .unwrap_or_default()
        )
    });
    let l = page.layout("nav.audit", Flash::default());
    if q.before.is_some() {
        return render(&AuditRowsTemplate {
            l,
            events,
            next_url,
        });
    }
    let actions = AuditAction::ALL
        .into_iter()
        .map(|a| (a.as_str(), a.label_zh()))
        .collect();
    render(&AuditTemplate {
        l,
        events,
        actions,
        action,
        next_url,
    })
}

#[derive(Template)]
#[template(path = "system.html")]
struct SystemTemplate {
    l: Layout,
    info: SystemInfo,
}

async fn system_page(State(state): State<AppState>, page: Page) -> Response {
    match state.app.system_info(&page.ctx).await {
        Ok(info) => render(&SystemTemplate {
            l: page.layout("nav.system", Flash::default()),
            info,
        }),
        Err(e) => page.fail(e),
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", post(logout))
        .route("/lang/{lang}", get(set_language))
        .route("/grid", get(grid))
        .route("/map", get(map_page))
        .route("/grid/check", get(check_page))
        .route("/grid/cards", get(cards_page))
        .route("/registry", get(registry_page))
        .route("/registry/households/{id}", get(household_page))
        .route("/registry/tags", get(tags_page).post(add_tag))
        .route("/registry/tags/{code}", post(edit_tag))
        .route("/roster", get(roster_page).post(add_staff))
        .route("/roster/{id}/remove", post(remove_staff))
        .route("/grid/history", get(history_page))
        .route(
            "/report",
            get(report_page)
                .post(report_submit)
                .layer(axum::extract::DefaultBodyLimit::max(
                    crate::api::PHOTO_BODY_LIMIT,
                )),
        )
        .route("/track", get(track_lookup))
        .route("/track/{number}", get(track_page))
        .route("/admin/categories", get(categories_page))
        .route(
            "/admin/categories/{code}",
            get(category_page).post(save_category),
        )
        .route(
            "/admin/categories/{code}/questions",
            axum::routing::post(save_questions),
        )
        .route("/admin/calendar", get(calendar_page).post(set_calendar_day))
        .route("/inbox", get(inbox_page))
        .route("/chat-drafts", get(drafts_page))
        .route("/phone", get(phone_page))
        .route(
            "/chat-drafts/{id}/confirm",
            axum::routing::post(confirm_draft),
        )
        .route(
            "/chat-drafts/{id}/discard",
            axum::routing::post(discard_draft),
        )
        .route("/inbox/read", post(inbox_read))
        .route("/admin/webhooks", get(webhooks_page).post(create_webhook))
        .route("/admin/outbox/{id}/retry", post(retry_delivery))
        .route("/admin/channels", get(channels_page))
        .route("/admin/channels/groups", post(create_chat_group))
        .route("/admin/channels/sources", post(create_transfer_source))
        .route("/cases", get(cases_page))
        .route("/cases/new", get(new_case_page))
        .route("/cases/{id}", get(case_page))
        .route("/registry/residents/{id}/reveal", post(reveal_fragment))
        .route("/admin/accounts", get(accounts_page).post(create_account))
        .route("/admin/accounts/{id}/grants", post(grant_role))
        .route(
            "/admin/accounts/{id}/grants/{grant_id}/revoke",
            post(revoke_grant),
        )
        .route("/admin/accounts/{id}/disable", post(disable_account))
        .route("/admin/accounts/{id}/enable", post(enable_account))
        .route("/admin/accounts/{id}/password", post(reset_password))
        .route("/admin/apikeys", get(api_keys_page).post(create_api_key))
        .route("/admin/apikeys/{id}/revoke", post(revoke_api_key))
        .route("/audit", get(audit_page))
        .route("/admin/system", get(system_page))
}

// ---- the roster, the tag list, a node's shape history ------------------------------------

#[derive(Template)]
#[template(path = "roster.html")]
struct RosterTemplate {
    l: Layout,
    scope: String,
    scope_name: String,
    duty: String,
    duties: Vec<(&'static str, &'static str)>,
    staff: Vec<app::StaffView>,
    nodes: Vec<NodeView>,
    can_manage: bool,
    columns: String,
}

impl RosterTemplate {
    fn duty_label(&self, duty: &str) -> &'static str {
        match domain::Duty::parse(duty) {
            Some(d) if self.l.tr.is_en() => d.label_en(),
            Some(d) => d.label_zh(),
            None => "?",
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct RosterQuery {
    scope: Option<String>,
    #[serde(default)]
    duty: String,
    ok: Option<String>,
    err: Option<String>,
}

async fn roster_page(
    State(state): State<AppState>,
    page: Page,
    ApiQuery(q): ApiQuery<RosterQuery>,
) -> Response {
    let scope = match page.scope_or_default(q.scope, Permission::ReadGrid) {
        Ok(s) => s,
        Err(e) => return page.fail(e),
    };
    // One after the other: a refusal is audited once.
    let node = match state.app.grid_node(&page.ctx, &scope).await {
        Ok(n) => n,
        Err(e) => return page.fail(e),
    };
    let staff = match state.app.roster(&page.ctx, &scope, Some(&q.duty)).await {
        Ok(s) => s,
        Err(e) => return page.fail(e),
    };
    let can_manage = domain::GridCode::parse(&scope)
        .is_ok_and(|s| access::allows(&page.ctx.grants, Permission::ManageRoster, &s));
    let nodes = if can_manage {
        match state.app.readable_nodes(&page.ctx).await {
            Ok(n) => n
                .into_iter()
                .filter(|n| n.code.starts_with(&scope))
                .collect(),
            Err(e) => return page.fail(e),
        }
    } else {
        Vec::new()
    };
    let en = page.tr.is_en();
    render(&RosterTemplate {
        l: page.layout(
            "nav.roster",
            Flash {
                ok: q.ok,
                err: q.err,
            },
        ),
        scope: node.code,
        scope_name: node.name,
        duty: q.duty,
        duties: domain::Duty::ALL
            .into_iter()
            .map(|d| (d.as_str(), if en { d.label_en() } else { d.label_zh() }))
            .collect(),
        staff,
        nodes,
        can_manage,
        columns: app::ROSTER_COLUMNS.join(","),
    })
}

#[derive(Debug, Deserialize)]
struct StaffForm {
    node: String,
    duty: String,
    name: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    party_member: Option<String>,
    #[serde(default)]
    since: String,
    #[serde(default)]
    training: String,
    #[serde(default)]
    username: String,
}

#[derive(Debug, Default, Deserialize)]
struct ScopeParam {
    scope: Option<String>,
}

fn roster_address(scope: Option<&str>) -> String {
    match scope {
        Some(s) => format!("/roster?scope={}", encode(s)),
        None => "/roster".to_owned(),
    }
}

async fn add_staff(
    State(state): State<AppState>,
    page: Page,
    ApiQuery(q): ApiQuery<ScopeParam>,
    ApiForm(f): ApiForm<StaffForm>,
) -> Response {
    let input = app::StaffInput {
        node: f.node,
        duty: f.duty,
        name: f.name,
        phone: Some(f.phone),
        party_member: f.party_member.is_some(),
        since: Some(f.since),
        training: f.training,
        building: None,
        username: Some(f.username),
    };
    let outcome = state.app.add_staff(&page.ctx, &input).await.map(|_| ());
    back(page.tr, &roster_address(q.scope.as_deref()), outcome)
}

async fn remove_staff(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    ApiQuery(q): ApiQuery<ScopeParam>,
) -> Response {
    let outcome = state.app.remove_staff(&page.ctx, id).await;
    back(page.tr, &roster_address(q.scope.as_deref()), outcome)
}

#[derive(Template)]
#[template(path = "tags.html")]
struct TagsTemplate {
    l: Layout,
    tags: Vec<app::TagView>,
}

async fn tags_page(
    State(state): State<AppState>,
    page: Page,
    ApiQuery(flash): ApiQuery<Flash>,
) -> Response {
    if let Err(refused) = page
        .need(&state, Permission::ConfigureCatalog, "tag list")
        .await
    {
        return refused;
    }
    match state.app.tags(&page.ctx).await {
        Ok(tags) => render(&TagsTemplate {
            l: page.layout("nav.tags", flash),
            tags,
        }),
        Err(e) => page.fail(e),
    }
}

#[derive(Debug, Deserialize)]
struct TagForm {
    #[serde(default)]
    code: String,
    label_zh: String,
    label_en: String,
    #[serde(default)]
    sort: i64,
    #[serde(default)]
    retired: Option<String>,
}

impl TagForm {
    fn input(&self) -> app::TagInput {
        app::TagInput {
            label_zh: self.label_zh.clone(),
            label_en: self.label_en.clone(),
            sort: self.sort,
            retired: self.retired.is_some(),
        }
    }
}

async fn add_tag(
    State(state): State<AppState>,
    page: Page,
    ApiForm(f): ApiForm<TagForm>,
) -> Response {
    let outcome = state
        .app
        .save_tag(&page.ctx, &f.code, &f.input())
        .await
        .map(|_| ());
    back(page.tr, "/registry/tags", outcome)
}

async fn edit_tag(
    State(state): State<AppState>,
    page: Page,
    Path(code): Path<String>,
    ApiForm(f): ApiForm<TagForm>,
) -> Response {
    let outcome = state
        .app
        .save_tag(&page.ctx, &code, &f.input())
        .await
        .map(|_| ());
    back(page.tr, "/registry/tags", outcome)
}

#[derive(Template)]
#[template(path = "history.html")]
struct HistoryTemplate {
    l: Layout,
    node: NodeView,
    versions: Vec<app::NodeVersionView>,
    versions_json: String,
    tiles: String,
    attribution: String,
}

#[derive(Debug, Deserialize)]
struct HistoryQuery {
    code: String,
}

async fn history_page(
    State(state): State<AppState>,
    page: Page,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Response {
    let node = match state.app.grid_node(&page.ctx, &q.code).await {
        Ok(n) => n,
        Err(e) => return page.fail(e),
    };
    let versions = match state.app.node_history(&page.ctx, &q.code).await {
        Ok(v) => v,
        Err(e) => return page.fail(e),
    };
    // Inside a <script> element: "</" must not end it.
    let versions_json = serde_json::to_string(&versions)
        .unwrap_or_else(|_| "[]".into())
        .replace("</", "<\\/");
    render(&HistoryTemplate {
        l: page.layout("history.title", Flash::default()),
        node,
        versions,
        versions_json,
        tiles: state.config.map_tile_url.clone().unwrap_or_default(),
        attribution: state.config.map_attribution.clone(),
    })
}

// ---- cases: the resident page, the follow page, the task list, the case page ---------------

#[derive(Template)]
#[template(path = "report.html")]
struct ReportTemplate {
    tr: Tr,
    csrf: String,
    back: String,
    micro: Option<app::NodeRef>,
    community: Option<String>,
    groups: Vec<(String, Vec<(String, String)>)>,
    endpoint: &'static str,
    staff: &'static str,
    /// JSON: each category's extra questions, by code (only those that ask any).
    questions: String,
}

/// The questions the report form asks per category, as JSON for `cases.js`.
async fn questions_json(state: &AppState) -> Result<String, AppError> {
    let asked: std::collections::BTreeMap<String, Vec<app::Question>> = state
        .app
        .category_list()
        .await?
        .into_iter()
        .filter(|c| !c.questions.is_empty())
        .map(|c| (c.code, c.questions))
        .collect();
    serde_json::to_string(&asked).map_err(|e| AppError::Internal(e.to_string()))
}

#[derive(Debug, Default, Deserialize)]
struct ReportQuery {
    grid: Option<String>,
}

/// The resident page: no account; opened from a micro-grid's QR code, the place is set.
async fn report_page(
    State(state): State<AppState>,
    Lang(tr): Lang,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Response {
    let place = match q.grid.as_deref() {
        Some(g) => state.app.public_place(g).await,
        None => Ok(None),
    };
    let (place, groups, questions) = match (
        place,
        state.app.category_choices().await,
        questions_json(&state).await,
    ) {
        (Ok(p), Ok(g), Ok(q)) => (p, g, q),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return page_error(tr, e),
    };
    let (micro, community) = match place {
        Some((m, c)) => (Some(m), c),
        None => (None, None),
    };
    render(&ReportTemplate {
        tr,
        csrf: ctx.csrf_token.clone().unwrap_or_default(),
        back: q.grid.map_or_else(
            || "/report".to_owned(),
            |g| format!("/report?grid={}", encode(&g)),
        ),
        micro,
        community,
        groups: groups
            .into_iter()
            .filter(|(name, _)| !name.contains("部件"))
            .collect(),
        endpoint: "/report",
        staff: "false",
        questions,
    })
}

async fn report_submit(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    crate::error::ApiJson(body): crate::error::ApiJson<crate::api_cases::ReportBody>,
) -> Response {
    match crate::api_cases::resident_report(&state, &ctx, body).await {
        Ok(created) => (StatusCode::CREATED, axum::Json(created)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The patrol and phone report of a worker: the same form, under their account.
async fn new_case_page(State(state): State<AppState>, page: Page) -> Response {
    if let Err(refused) = page
        .need(&state, Permission::ReportCase, "report form")
        .await
    {
        return refused;
    }
    let groups = match state.app.category_choices().await {
        Ok(g) => g,
        Err(e) => return page.fail(e),
    };
    let questions = match questions_json(&state).await {
        Ok(q) => q,
        Err(e) => return page.fail(e),
    };
    render(&ReportTemplate {
        questions,
        tr: page.tr,
        csrf: page.ctx.csrf_token.clone().unwrap_or_default(),
        back: "/cases/new".into(),
        micro: None,
        community: None,
        groups,
        endpoint: "/api/v1/cases",
        staff: "true",
    })
}

#[derive(Template)]
#[template(path = "track.html")]
struct TrackTemplate {
    tr: Tr,
    csrf: String,
    back: String,
    case: Option<app::TrackView>,
    /// The query string that opens the case again: `t=…` or `last4=…`.
    key: String,
    number: String,
    not_found: bool,
    /// Just reported: tell the reporter how to come back.
    fresh: bool,
}

#[derive(Debug, Default, Deserialize)]
struct TrackQuery {
    t: Option<String>,
    last4: Option<String>,
    number: Option<String>,
    new: Option<String>,
}

async fn track_lookup(
    Lang(tr): Lang,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(q): ApiQuery<TrackQuery>,
) -> Response {
    if let (Some(number), Some(last4)) = (q.number.as_deref(), q.last4.as_deref()) {
        return Redirect::to(&format!(
            "/track/{}?last4={}",
            encode(number.trim()),
            encode(last4.trim())
        ))
        .into_response();
    }
    render(&TrackTemplate {
        tr,
        csrf: ctx.csrf_token.clone().unwrap_or_default(),
        back: "/track".into(),
        case: None,
        key: String::new(),
        number: String::new(),
        not_found: false,
        fresh: false,
    })
}

async fn track_page(
    State(state): State<AppState>,
    Lang(tr): Lang,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path(number): Path<String>,
    ApiQuery(q): ApiQuery<TrackQuery>,
) -> Response {
    let key = match (&q.t, &q.last4) {
        (Some(t), _) => format!("t={}", encode(t)),
        (None, Some(l)) => format!("last4={}", encode(l)),
        (None, None) => String::new(),
    };
    let found = state
        .app
        .track(&number, q.t.as_deref(), q.last4.as_deref())
        .await;
    let (case, not_found) = match found {
        Ok(c) => (Some(c), false),
        Err(AppError::NotFound(_)) => (None, true),
        Err(e) => return page_error(tr, e),
    };
    let response = render(&TrackTemplate {
        tr,
        csrf: ctx.csrf_token.clone().unwrap_or_default(),
        back: format!("/track/{}?{key}", encode(&number)),
        case,
        key,
        number,
        not_found,
        fresh: q.new.is_some(),
    });
    if not_found {
        (StatusCode::NOT_FOUND, response).into_response()
    } else {
        response
    }
}

#[derive(Template)]
#[template(path = "cases.html")]
struct CasesTemplate {
    l: Layout,
    scope_name: String,
    view: String,
    cases: Vec<app::CaseSummary>,
    next_before: Option<i64>,
    more_link: String,
    can_report: bool,
    can_dispatch: bool,
    statuses: Vec<(&'static str, &'static str)>,
    tiers: Vec<(&'static str, &'static str)>,
    channels: Vec<(&'static str, &'static str)>,
    q_status: String,
    q_tier: String,
    q_channel: String,
    q_from: String,
    q_to: String,
    /// The last 30 days' reports by channel, for those who read every case of the scope.
    intake: Option<app::IntakeStats>,
}

#[derive(Debug, Default, Deserialize)]
struct CasesPageQuery {
    view: Option<String>,
    scope: Option<String>,
    #[serde(default)]
    status: String,
    #[serde(default)]
    tier: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    before: Option<i64>,
}

/// The worker's task list (mine, due soon, overdue) and the dispatch queue (all, filtered).
async fn cases_page(
    State(state): State<AppState>,
    page: Page,
    ApiQuery(q): ApiQuery<CasesPageQuery>,
) -> Response {
    let scope = match page.scope_or_default(q.scope.clone(), Permission::ReadCases) {
        Ok(s) => s,
        Err(e) => return page.fail(e),
    };
    let view = match q.view.as_deref() {
        Some(v @ ("mine" | "due" | "overdue" | "all")) => v.to_owned(),
        _ => "mine".to_owned(),
    };
    let open = "reported,accepted,dispatched,in_progress,handled,verifying,rework,returned,extension_requested,parked";
    let query = app::CaseQuery {
        scope: Some(scope.clone()),
        status: Some(match view.as_str() {
            "all" => q.status.clone(),
            _ => open.to_owned(),
        }),
        tier: Some(q.tier.clone()),
        channel: Some(q.channel.clone()),
        mine: view == "mine",
        overdue: view == "overdue",
        from: Some(q.from.clone()),
        to: Some(q.to.clone()),
        before: q.before,
        limit: Some(if view == "due" { 200 } else { 50 }),
        ..Default::default()
    };
    let list = match state.app.cases(&page.ctx, &query).await {
        Ok(l) => l,
        Err(e) => return page.fail(e),
    };
    let node = match state.app.grid_node(&page.ctx, &scope).await {
        Ok(n) => n,
        Err(e) => return page.fail(e),
    };
    let intake = match domain::GridCode::parse(&scope) {
        Ok(s) if access::reads_all_cases(&page.ctx.grants, &s) => state
            .app
            .intake_stats(
                &page.ctx,
                &app::IntakeStatsQuery {
                    scope: Some(scope.clone()),
                    ..Default::default()
                },
            )
            .await
            .ok(),
        _ => None,
    };
    let mut cases = list.items;
    if view == "due" {
        cases.retain(|c| c.clock == "yellow" || c.clock == "red");
    }
    let en = page.tr.is_en();
    let more_link = format!(
        "/cases?view={view}&scope={}&status={}&tier={}&channel={}&from={}&to={}",
        encode(&scope),
        encode(&q.status),
        encode(&q.tier),
        encode(&q.channel),
        encode(&q.from),
        encode(&q.to)
    );
    render(&CasesTemplate {
        can_report: access::allows_somewhere(&page.ctx.grants, Permission::ReportCase),
        can_dispatch: domain::GridCode::parse(&scope)
            .is_ok_and(|s| access::allows(&page.ctx.grants, Permission::DispatchCase, &s)),
        l: page.layout("nav.cases", Flash::default()),
        scope_name: node.name,
        view,
        cases,
        next_before: list.next_before,
        more_link,
        statuses: domain::case::Status::ALL
            .into_iter()
            .map(|s| (s.as_str(), if en { s.label_en() } else { s.label_zh() }))
            .collect(),
        tiers: domain::case::Tier::ALL
            .into_iter()
            .map(|t| (t.as_str(), t.label_zh()))
            .collect(),
        channels: app::CHANNELS.to_vec(),
        q_status: q.status,
        q_tier: q.tier,
        q_channel: q.channel,
        q_from: q.from,
        q_to: q.to,
        intake,
    })
}

#[derive(Template)]
#[template(path = "case.html")]
struct CaseTemplate {
    l: Layout,
    c: app::CaseView,
    tier_label: &'static str,
    solved_label: &'static str,
}

impl CaseTemplate {
    fn status_label(&self, s: &str) -> &'static str {
        match domain::case::Status::parse(s) {
            Some(x) if self.l.tr.is_en() => x.label_en(),
            Some(x) => x.label_zh(),
            None => "",
        }
    }

    fn action_label(&self, a: &str) -> &'static str {
        domain::case::Action::parse(a).map_or("", domain::case::Action::label_zh)
    }
}

async fn case_page(State(state): State<AppState>, page: Page, Path(id): Path<i64>) -> Response {
    match state.app.case(&page.ctx, id).await {
        Ok(c) => {
            let tier =
                |t: &str| domain::case::Tier::parse(t).map_or("", domain::case::Tier::label_zh);
            render(&CaseTemplate {
                tier_label: tier(&c.summary.tier),
                solved_label: c.solved_tier.as_deref().map_or("", tier),
                l: page.layout("nav.cases", Flash::default()),
                c,
            })
        }
        Err(e) => page.fail(e),
    }
}

// ---- the inbox, webhooks -------------------------------------------------------------------

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxTemplate {
    l: Layout,
    inbox: app::Inbox,
}

async fn inbox_page(
    State(state): State<AppState>,
    page: Page,
    ApiQuery(flash): ApiQuery<Flash>,
) -> Response {
    match state.app.inbox(&page.ctx, None).await {
        Ok(inbox) => render(&InboxTemplate {
            l: page.layout("nav.inbox", flash),
            inbox,
        }),
        Err(e) => page.fail(e),
    }
}

#[derive(Template)]
#[template(path = "drafts.html")]
struct DraftsTemplate {
    l: Layout,
    drafts: Vec<app::ChatDraftView>,
    /// (code, group name, name) of every category that takes cases.
    categories: Vec<(String, String, String)>,
}

/// Chat messages waiting for a worker: confirm (a case) or discard, one tap each.
async fn drafts_page(
    State(state): State<AppState>,
    page: Page,
    ApiQuery(flash): ApiQuery<Flash>,
) -> Response {
    let drafts = match state.app.chat_drafts(&page.ctx, None, None).await {
        Ok(d) => d,
        Err(e) => return page.fail(e),
    };
    let categories = match case_choices(&state).await {
        Ok(c) => c,
        Err(e) => return page.fail(e),
    };
    render(&DraftsTemplate {
        l: page.layout("nav.drafts", flash),
        drafts,
        categories,
    })
}

#[derive(Template)]
#[template(path = "phone.html")]
struct PhoneTemplate {
    l: Layout,
    /// Where callers are looked up: the operator's scope.
    scope: String,
    /// (code, group name, name) of every category that takes cases.
    categories: Vec<(String, String, String)>,
}

/// The phone operators' page: keyboard first (see `assets/phone.js`).
async fn phone_page(
    State(state): State<AppState>,
    page: Page,
    ApiQuery(flash): ApiQuery<Flash>,
) -> Response {
    if let Err(refused) = page
        .need(&state, Permission::ReportCase, "phone page")
        .await
    {
        return refused;
    }
    let categories = match case_choices(&state).await {
        Ok(c) => c,
        Err(e) => return page.fail(e),
    };
    let scope = app::default_scope(&page.ctx, Permission::ReadCases)
        .map(|s| s.to_string())
        .unwrap_or_default();
    render(&PhoneTemplate {
        l: page.layout("nav.phone", flash),
        scope,
        categories,
    })
}

/// (code, group name, name) of every active category that takes cases, in tree order.
async fn case_choices(state: &AppState) -> Result<Vec<(String, String, String)>, AppError> {
    let all = state.app.category_list().await?;
    let group_name = |code: &Option<String>| {
        all.iter()
            .find(|g| Some(&g.code) == code.as_ref())
            .map_or_else(String::new, |g| g.name.clone())
    };
    Ok(all
        .iter()
        .filter(|c| !c.is_group() && c.active)
        .map(|c| (c.code.clone(), group_name(&c.parent), c.name.clone()))
        .collect())
}

#[derive(Debug, Deserialize)]
struct DraftForm {
    #[serde(default)]
    category: String,
    #[serde(default)]
    reason: String,
}

async fn confirm_draft(
    State(state): State<AppState>,
    page: Page,
    headers: axum::http::HeaderMap,
    Path(id): Path<i64>,
    ApiForm(f): ApiForm<DraftForm>,
) -> Response {
    let decision = app::DraftDecision {
        category: Some(f.category),
        ..app::DraftDecision::default()
    };
    match state
        .app
        .confirm_chat_draft(&page.ctx, id, &decision, &crate::site_url(&headers))
        .await
    {
        Ok(done) => Redirect::to(&format!("/cases/{}?ok=1", done.case.id)).into_response(),
        Err(e) => back(page.tr, "/chat-drafts", Err(e)),
    }
}

async fn discard_draft(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    ApiForm(f): ApiForm<DraftForm>,
) -> Response {
    let outcome = state.app.discard_chat_draft(&page.ctx, id, &f.reason).await;
    back(page.tr, "/chat-drafts", outcome)
}

async fn inbox_read(State(state): State<AppState>, page: Page) -> Response {
    let outcome = state.app.mark_read(&page.ctx, None).await.map(|_| ());
    back(page.tr, "/inbox", outcome)
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct WebhooksTemplate {
    l: Layout,
    webhooks: Vec<app::WebhookView>,
    outbox: Vec<app::OutboxView>,
    secret: Option<String>,
}

async fn webhooks_page(
    State(state): State<AppState>,
    page: Page,
    ApiQuery(flash): ApiQuery<Flash>,
) -> Response {
    webhooks_view(&state, page, flash, None).await
}

async fn webhooks_view(
    state: &AppState,
    page: Page,
    flash: Flash,
    secret: Option<String>,
) -> Response {
    let webhooks = match state.app.webhooks(&page.ctx).await {
        Ok(w) => w,
        Err(e) => return page.fail(e),
    };
    let outbox = match state.app.outbox(&page.ctx, None).await {
        Ok(o) => o,
        Err(e) => return page.fail(e),
    };
    render(&WebhooksTemplate {
        l: page.layout("nav.webhooks", flash),
        webhooks,
        outbox,
        secret,
    })
}

#[derive(Debug, Deserialize)]
struct WebhookForm {
    name: String,
    url: String,
    #[serde(default)]
    events: String,
}

async fn create_webhook(
    State(state): State<AppState>,
    page: Page,
    ApiForm(f): ApiForm<WebhookForm>,
) -> Response {
    let input = app::WebhookInput {
        name: f.name,
        url: f.url,
        events: Some(f.events),
    };
    match state.app.create_webhook(&page.ctx, &input).await {
        // The secret is shown on this answer only, never in a URL.
        Ok(created) => webhooks_view(&state, page, Flash::default(), Some(created.secret)).await,
        Err(e) => back(page.tr, "/admin/webhooks", Err(e)),
    }
}

#[derive(Template)]
#[template(path = "channels.html")]
struct ChannelsTemplate {
    l: Layout,
    groups: Vec<app::ChatGroupView>,
    sources: Vec<app::TransferSourceView>,
    webhooks: Vec<app::WebhookView>,
    /// A group just made: its code and signing secret, shown this once.
    created: Option<(String, String)>,
    /// Where bots post: this server's `/hooks/chat/`.
    hook_base: String,
}

impl ChannelsTemplate {
    fn webhook_name(&self, id: &Option<i64>) -> String {
        id.and_then(|id| self.webhooks.iter().find(|w| w.id == id))
            .map_or_else(|| "—".to_owned(), |w| w.name.clone())
    }
}

/// Chat groups and transfer sources (system admin).
async fn channels_page(
    State(state): State<AppState>,
    page: Page,
    headers: axum::http::HeaderMap,
    ApiQuery(flash): ApiQuery<Flash>,
) -> Response {
    channels_view(&state, page, &headers, flash, None).await
}

async fn channels_view(
    state: &AppState,
    page: Page,
    headers: &axum::http::HeaderMap,
    flash: Flash,
    created: Option<(String, String)>,
) -> Response {
    let loaded = async {
        Ok::<_, AppError>((
            state.app.chat_groups(&page.ctx).await?,
            state.app.transfer_sources(&page.ctx).await?,
            state.app.webhooks(&page.ctx).await?,
        ))
    }
    .await;
    match loaded {
        Ok((groups, sources, webhooks)) => render(&ChannelsTemplate {
            l: page.layout("nav.channels", flash),
            groups,
            sources,
            webhooks,
            created,
            hook_base: format!("{}/hooks/chat/", crate::site_url(headers)),
        }),
        Err(e) => page.fail(e),
    }
}

/// An optional webhook chosen in a form: empty is none.
fn webhook_choice(v: &str) -> Result<Option<i64>, AppError> {
    match v.trim() {
        "" => Ok(None),
        id => id
            .parse()
            .map(Some)
            .map_err(|_| AppError::invalid("webhook_id", "无效的 webhook / no such webhook")),
    }
}

#[derive(Debug, Deserialize)]
struct ChatGroupForm {
    code: String,
    name: String,
    scope: String,
    #[serde(default)]
    reply_webhook_id: String,
}

async fn create_chat_group(
    State(state): State<AppState>,
    page: Page,
    headers: axum::http::HeaderMap,
    ApiForm(f): ApiForm<ChatGroupForm>,
) -> Response {
    let made = async {
        let input = app::ChatGroupInput {
            code: f.code,
            name: f.name,
            scope: f.scope,
            reply_webhook_id: webhook_choice(&f.reply_webhook_id)?,
        };
        state.app.create_chat_group(&page.ctx, &input).await
    }
    .await;
    match made {
        // The secret is shown on this answer only, never in a URL.
        Ok(c) => {
            let created = Some((c.group.code, c.secret));
            channels_view(&state, page, &headers, Flash::default(), created).await
        }
        Err(e) => back(page.tr, "/admin/channels", Err(e)),
    }
}

#[derive(Debug, Deserialize)]
struct SourceForm {
    code: String,
    name: String,
    channel: String,
    #[serde(default)]
    webhook_id: String,
}

async fn create_transfer_source(
    State(state): State<AppState>,
    page: Page,
    ApiForm(f): ApiForm<SourceForm>,
) -> Response {
    let outcome = async {
        let input = app::TransferSourceInput {
            code: f.code,
            name: f.name,
            channel: f.channel,
            webhook_id: webhook_choice(&f.webhook_id)?,
        };
        state
            .app
            .create_transfer_source(&page.ctx, &input)
            .await
            .map(|_| ())
    }
    .await;
    back(page.tr, "/admin/channels", outcome)
}

async fn retry_delivery(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
) -> Response {
    let outcome = state.app.retry_delivery(&page.ctx, id).await;
    back(page.tr, "/admin/webhooks", outcome)
}

// ---- categories and the working calendar (street admin) ------------------------------------

fn unit_options() -> Vec<(&'static str, &'static str)> {
    domain::calendar::LimitUnit::ALL
        .into_iter()
        .map(|u| (u.as_str(), u.label_zh()))
        .collect()
}

fn tier_options() -> Vec<(&'static str, &'static str)> {
    domain::case::Tier::ALL
        .into_iter()
        .map(|t| (t.as_str(), t.label_zh()))
        .collect()
}

#[derive(Template)]
#[template(path = "categories.html")]
struct CategoriesTemplate {
    l: Layout,
    groups: Vec<(String, Vec<app::CategoryView>)>,
}

impl CategoriesTemplate {
    fn handler_label(&self, h: &str) -> &'static str {
        app::HANDLERS
            .iter()
            .find(|(k, _)| *k == h)
            .map_or("", |(_, v)| v)
    }
    fn tier_label(&self, t: &str) -> &'static str {
        domain::case::Tier::parse(t).map_or("", domain::case::Tier::label_zh)
    }
    fn unit_label(&self, u: &domain::calendar::LimitUnit) -> &'static str {
        u.label_zh()
    }
}

async fn categories_page(
    State(state): State<AppState>,
    page: Page,
    ApiQuery(flash): ApiQuery<Flash>,
) -> Response {
    if let Err(refused) = page
        .need(&state, Permission::ConfigureCatalog, "categories")
        .await
    {
        return refused;
    }
    let all = match state.app.category_list().await {
        Ok(a) => a,
        Err(e) => return page.fail(e),
    };
    let mut groups: Vec<(String, Vec<app::CategoryView>)> = Vec::new();
    for g in all.iter().filter(|c| c.is_group()) {
        let leaves: Vec<app::CategoryView> = all
            .iter()
            .filter(|c| !c.is_group() && c.parent.as_deref() == Some(g.code.as_str()))
            .cloned()
            .collect();
        if !leaves.is_empty() {
            groups.push((g.name.clone(), leaves));
        }
    }
    render(&CategoriesTemplate {
        l: page.layout("nav.categories", flash),
        groups,
    })
}

#[derive(Template)]
#[template(path = "category.html")]
struct CategoryTemplate {
    l: Layout,
    c: app::CategoryView,
    needs: Vec<(&'static str, &'static str)>,
    handlers: Vec<(&'static str, &'static str)>,
    tiers: Vec<(&'static str, &'static str)>,
    units: Vec<(&'static str, &'static str)>,
    /// (stage, label, amount, unit)
    stages: Vec<(&'static str, &'static str, u32, &'static str)>,
    /// The questions as rows of the editor, with blank rows to add more.
    questions: Vec<QuestionRow>,
    datatypes: Vec<(&'static str, &'static str)>,
}

/// One row of the question editor; choices as `key=name; key=name`.
struct QuestionRow {
    code: String,
    description: String,
    datatype: String,
    required: bool,
    hint: String,
    values: String,
}

/// Blank rows under the questions of a category, to add new ones.
const BLANK_QUESTION_ROWS: usize = 2;

async fn category_page(
    State(state): State<AppState>,
    page: Page,
    Path(code): Path<String>,
    ApiQuery(flash): ApiQuery<Flash>,
) -> Response {
    if let Err(refused) = page
        .need(
            &state,
            Permission::ConfigureCatalog,
            &format!("category {code}"),
        )
        .await
    {
        return refused;
    }
    let c = match state.app.category_list().await {
        Ok(all) => match all.into_iter().find(|c| c.code == code) {
            Some(c) => c,
            None => return page.fail(AppError::NotFound("category")),
        },
        Err(e) => return page.fail(e),
    };
    let labels = [
        ("accept", "受理时限"),
        ("dispatch", "派遣时限"),
        ("respond", "部门响应时限（吹哨报到）"),
        ("handle", "处置时限"),
        ("verify", "核查时限"),
        ("case", "全案时限"),
    ];
    let stages = labels
        .into_iter()
        .filter_map(|(s, label)| {
            c.limits
                .of_stage(s)
                .map(|l| (s, label, l.amount, l.unit.as_str()))
        })
        .collect();
    let blank = || QuestionRow {
        code: String::new(),
        description: String::new(),
        datatype: "string".into(),
        required: false,
        hint: String::new(),
        values: String::new(),
    };
    let questions = c
        .questions
        .iter()
        .map(|q| QuestionRow {
            code: q.code.clone(),
            description: q.description.clone(),
            datatype: q.datatype.clone(),
            required: q.required,
            hint: q.hint.clone(),
            values: q
                .values
                .iter()
                .map(|v| format!("{}={}", v.key, v.name))
                .collect::<Vec<_>>()
                .join("; "),
        })
        .chain(std::iter::repeat_with(blank).take(BLANK_QUESTION_ROWS))
        .collect();
    render(&CategoryTemplate {
        l: page.layout("nav.categories", flash),
        questions,
        datatypes: app::DATATYPES.to_vec(),
        needs: app::NEED_TYPES.to_vec(),
        handlers: app::HANDLERS.to_vec(),
        tiers: tier_options(),
        units: unit_options(),
        stages,
        c,
    })
}

#[derive(Debug, Deserialize)]
struct CategoryForm {
    name: String,
    #[serde(default)]
    need_type: String,
    handler: String,
    tier: String,
    accept_amount: u32,
    accept_unit: String,
    dispatch_amount: u32,
    dispatch_unit: String,
    respond_amount: u32,
    respond_unit: String,
    handle_amount: u32,
    handle_unit: String,
    verify_amount: u32,
    verify_unit: String,
    case_amount: u32,
    case_unit: String,
    warn_share: f64,
    #[serde(default)]
    auto_escalate: Option<String>,
    #[serde(default)]
    active: Option<String>,
    #[serde(default)]
    closing_conditions: String,
}

async fn save_category(
    State(state): State<AppState>,
    page: Page,
    Path(code): Path<String>,
    ApiForm(f): ApiForm<CategoryForm>,
) -> Response {
    let limit = |amount: u32, unit: &str| -> Result<domain::calendar::Limit, AppError> {
        Ok(domain::calendar::Limit {
            amount,
            unit: domain::calendar::LimitUnit::parse(unit)
                .ok_or_else(|| AppError::invalid("limits", "未知时限单位 / unknown unit"))?,
        })
    };
    let limits = (|| -> Result<app::Limits, AppError> {
        Ok(app::Limits {
            accept: limit(f.accept_amount, &f.accept_unit)?,
            dispatch: limit(f.dispatch_amount, &f.dispatch_unit)?,
            respond: limit(f.respond_amount, &f.respond_unit)?,
            handle: limit(f.handle_amount, &f.handle_unit)?,
            verify: limit(f.verify_amount, &f.verify_unit)?,
            case: limit(f.case_amount, &f.case_unit)?,
        })
    })();
    let back_to = format!("/admin/categories/{}", encode(&code));
    let limits = match limits {
        Ok(l) => l,
        Err(e) => return back(page.tr, &back_to, Err(e)),
    };
    let input = app::CategoryInput {
        name: f.name,
        need_type: Some(f.need_type).filter(|n| !n.is_empty()),
        handler: f.handler,
        tier: f.tier,
        limits,
        warn_share: f.warn_share,
        auto_escalate: f.auto_escalate.is_some(),
        closing_conditions: f.closing_conditions,
        active: f.active.is_some(),
        questions: None,
    };
    let outcome = state
        .app
        .save_category(&page.ctx, &code, &input)
        .await
        .map(|_| ());
    match outcome {
        Ok(()) => back(page.tr, "/admin/categories", Ok(())),
        Err(e) => back(page.tr, &back_to, Err(e)),
    }
}

/// The questions of a category from the editor's rows: a row without a code is left out.
fn questions_from_form(fields: &[(String, String)]) -> Result<Vec<app::Question>, AppError> {
    let column = |name: &str| -> Vec<&str> {
        fields
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let (codes, descriptions, datatypes, required, hints, values) = (
        column("q_code"),
        column("q_description"),
        column("q_datatype"),
        column("q_required"),
        column("q_hint"),
        column("q_values"),
    );
    let rows = codes.len();
    if [&descriptions, &datatypes, &required, &hints, &values]
        .iter()
        .any(|c| c.len() != rows)
    {
        return Err(AppError::invalid(
            "questions",
            "问题表格不完整 / the question rows are incomplete",
        ));
    }
    let mut out = Vec::new();
    for i in 0..rows {
        if codes[i].trim().is_empty() {
            continue;
        }
        let choices = values[i]
            .split([';', '；', '\n'])
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| {
                let (key, name) = c.split_once(['=', '＝']).unwrap_or((c, ""));
                app::QuestionValue {
                    key: key.trim().to_owned(),
                    name: name.trim().to_owned(),
                }
            })
            .collect();
        out.push(app::Question {
            code: codes[i].to_owned(),
            datatype: datatypes[i].to_owned(),
            required: required[i] == "true",
            description: descriptions[i].to_owned(),
            hint: hints[i].to_owned(),
            values: choices,
        });
    }
    Ok(out)
}

async fn save_questions(
    State(state): State<AppState>,
    page: Page,
    Path(code): Path<String>,
    ApiForm(fields): ApiForm<Vec<(String, String)>>,
) -> Response {
    let back_to = format!("/admin/categories/{}", encode(&code));
    let outcome = async {
        let questions = questions_from_form(&fields)?;
        state
            .app
            .save_questions(&page.ctx, &code, &questions)
            .await
            .map(|_| ())
    }
    .await;
    back(page.tr, &back_to, outcome)
}

#[derive(Template)]
#[template(path = "calendar.html")]
struct CalendarTemplate {
    l: Layout,
    year: i64,
    /// (day, is a holiday): the days that are not what their weekday says.
    days: Vec<(String, bool)>,
    hours: String,
}

#[derive(Debug, Default, Deserialize)]
struct CalendarQuery {
    year: Option<i64>,
    ok: Option<String>,
    err: Option<String>,
}

async fn calendar_page(
    State(state): State<AppState>,
    page: Page,
    ApiQuery(q): ApiQuery<CalendarQuery>,
) -> Response {
    if let Err(refused) = page
        .need(&state, Permission::ConfigureCatalog, "calendar")
        .await
    {
        return refused;
    }
    let calendar = match state.app.calendar().await {
        Ok(c) => c,
        Err(e) => return page.fail(e),
    };
    let year = q
        .year
        .unwrap_or_else(|| domain::calendar::Day::of(app::now()).ymd().0)
        .clamp(2000, 2100);
    let days = calendar
        .exceptions()
        .filter(|(d, _)| d.ymd().0 == year)
        .map(|(d, k)| (d.to_string(), k == domain::calendar::DayKind::Holiday))
        .collect();
    let hours = calendar
        .hours()
        .iter()
        .map(|(a, b)| format!("{:02}:{:02}–{:02}:{:02}", a / 60, a % 60, b / 60, b % 60))
        .collect::<Vec<_>>()
        .join("、");
    render(&CalendarTemplate {
        l: page.layout(
            "nav.calendar",
            Flash {
                ok: q.ok,
                err: q.err,
            },
        ),
        year,
        days,
        hours,
    })
}

#[derive(Debug, Deserialize)]
struct CalendarForm {
    day: String,
    kind: String,
    #[serde(default)]
    note: String,
}

async fn set_calendar_day(
    State(state): State<AppState>,
    page: Page,
    ApiQuery(q): ApiQuery<CalendarQuery>,
    ApiForm(f): ApiForm<CalendarForm>,
) -> Response {
    let outcome = state
        .app
        .set_calendar_day(&page.ctx, &f.day, &f.kind, &f.note)
        .await;
    let to = match q.year {
        Some(y) => format!("/admin/calendar?year={y}"),
        None => "/admin/calendar".into(),
    };
    back(page.tr, &to, outcome)
}
