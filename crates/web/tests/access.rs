//! Every route, with every role, inside and outside the caller's scope: what the role or the
//! scope does not allow is refused with 403, and each refusal is in the audit log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use app::Ctx;
use axum::http::{Method, StatusCode};
use common::{INSIDE, OUTSIDE, Session, TestApp, spawn};
use domain::{Permission, Role};
use serde_json::{Value, json};

/// What a walk needs to address in one scope: an account with a grant, an API key, and a
/// household with a resident in one of its micro-grids.
struct Targets {
    scope: &'static str,
    victim: i64,
    grant: i64,
    key: i64,
    household: i64,
    resident: i64,
    /// A micro-grid of the scope as GeoJSON, to import unchanged.
    map: Value,
    /// A member of the scope's roster.
    staff: i64,
    /// A case in one of the scope's micro-grids, with a photo.
    case: i64,
    photo: i64,
    /// A webhook, and a delivery waiting in its outbox.
    webhook: i64,
    delivery: i64,
    /// A chat group of one of the scope's micro-grids, and its signing secret.
    chat_group: String,
    chat_secret: String,
}

/// A unique number for the walk's names.
fn serial() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// A new draft in a chat group, posted as its bot would.
async fn make_draft(t: &TestApp, group: &str, secret: &str) -> i64 {
    let body =
        json!({"message_id": format!("m{}", serial()), "sender": "走查", "text": "楼道灯坏了"})
            .to_string();
    let ts = app::now().0 / 1000;
    t.app
        .chat_message(
            group,
            Some(&ts.to_string()),
            Some(&app::signature(secret, ts, &body)),
            body.as_bytes(),
        )
        .await
        .unwrap()
        .draft_id
}

/// A tiny valid PNG (1×1).
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D, 0x49, 0x48, 0x44, 0x52, 0, 0, 0,
    1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1F, 0x15, 0xC4, 0x89, 0, 0, 0, 0x0A, 0x49, 0x44, 0x41, 0x54,
    0x78, 0x9C, 0x63, 0, 1, 0, 0, 5, 0, 1, 0x0D, 0x0A, 0x2D, 0xB4, 0, 0, 0, 0, 0x49, 0x45, 0x4E,
    0x44, 0xAE, 0x42, 0x60, 0x82,
];

/// A case in `micro`, reported through the app with one photo: (case id, photo id).
async fn make_case(t: &TestApp, micro: &str) -> (i64, i64) {
    let input = app::CaseInput {
        category: "sg.sanitation".into(),
        description: "楼道堆放杂物".into(),
        micro_grid: Some(micro.into()),
        ..Default::default()
    };
    let photo = app::Photo::check(PNG.to_vec(), 1).unwrap();
    let created = t
        .app
        .report_case(&Ctx::cli(), &input, vec![photo])
        .await
        .unwrap();
    let view = t.app.case(&Ctx::cli(), created.id).await.unwrap();
    (created.id, view.photos[0].id)
}

/// A member of the roster of `scope`, made through the app.
async fn make_staff(t: &TestApp, scope: &str) -> i64 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let input = app::StaffInput {
        node: scope.to_owned(),
        duty: "volunteer".into(),
        name: format!("志愿者{}", N.fetch_add(1, Ordering::Relaxed)),
        ..Default::default()
    };
    t.app.add_staff(&Ctx::cli(), &input).await.unwrap().id
}

/// A household with one resident in the micro-grid `micro`, made through the store.
async fn make_resident(t: &TestApp, micro: &str) -> (i64, i64) {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let cipher = store::FieldCipher::from_hex(common::TEST_DATA_KEY).unwrap();
    let now = domain::Millis(1);
    let mut tx = t.db.store.write().await.unwrap();
    let node = tx.grid_node_by_code(micro).await.unwrap().unwrap();
    let name = format!("测试楼{n}");
    let b = store::NewBuilding {
        micro_grid_id: node.id,
        scope_code: micro,
        road: "测试路",
        house_number: "1号",
        compound: "",
        name: &name,
        lon: None,
        lat: None,
        footprint: None,
        now,
    };
    let building = tx.insert_building(&b).await.unwrap();
    let household = tx
        .insert_household(building, micro, "1单元", "101", now)
        .await
        .unwrap();
    let phone = domain::Phone::parse("13700000000").unwrap();
    let r = store::NewResident {
        household_id: household,
        scope_code: micro,
        name: "测试居民",
        gender: 1,
        birth_date: None,
        relation: "户主",
        residence_type: "registered",
        care_grade: None,
        id_number: None,
        phone: Some(&phone),
        tags: &[],
        now,
    };
    let resident = tx.insert_resident(&r, &cipher).await.unwrap();
    tx.commit().await.unwrap();
    (household, resident)
}

async fn targets(t: &TestApp, scope: &'static str, tag: &str) -> Targets {
    let victim = t
        .account_with(&format!("victim.{tag}"), "grid_worker", scope)
        .await;
    let grant = t.app.get_account(&Ctx::cli(), victim).await.unwrap().grants[0].id;
    let key = t
        .app
        .create_api_key(&Ctx::cli(), &format!("key {tag}"), "community_staff", scope)
        .await
        .unwrap()
        .api_key
        .id;
    let (household, resident) = make_resident(t, &format!("{scope}001001")).await;
    let map = t
        .app
        .export_map(&Ctx::cli(), &format!("{scope}001001"))
        .await
        .unwrap();
    let webhook = t
        .app
        .create_webhook(
            &Ctx::cli(),
            &app::WebhookInput {
                name: format!("hook {tag}"),
                url: "http://127.0.0.1:9/hook".into(),
                events: None,
            },
        )
        .await
        .unwrap()
        .webhook
        .id;
    let made_case = make_case(t, &format!("{scope}001001")).await;
    let delivery = t.app.outbox(&Ctx::cli(), Some("pending")).await.unwrap()[0].id;
    // A building the household imports of the walk go into.
    let buildings = format!(
        "{}\n{scope}001001,走查路,{scope}号,,1栋,,,",
        app::BUILDING_COLUMNS.join(",")
    );
    t.app
        .import_buildings(&Ctx::cli(), buildings.as_bytes(), false, &|_, _| {})
        .await
        .unwrap();
    let chat = t
        .app
        .create_chat_group(
            &Ctx::cli(),
            &app::ChatGroupInput {
                code: format!("group-{tag}"),
                name: format!("走查群 {tag}"),
                scope: format!("{scope}001001"),
                reply_webhook_id: None,
            },
        )
        .await
        .unwrap();
    t.app
        .create_transfer_source(
            &Ctx::cli(),
            &app::TransferSourceInput {
                code: format!("src-{tag}"),
                name: "12345".into(),
                channel: "hotline".into(),
                webhook_id: Some(webhook),
            },
        )
        .await
        .unwrap();
    Targets {
        chat_group: chat.group.code,
        chat_secret: chat.secret,
        scope,
        victim,
        grant,
        key,
        household,
        resident,
        map,
        staff: make_staff(t, scope).await,
        case: made_case.0,
        photo: made_case.1,
        webhook,
        delivery,
    }
}

/// The permission an API operation needs, `None` when any signed-in caller may use it.
fn api_permission(method: &Method, path: &str) -> Option<Permission> {
    match path {
        "/api/v1/me" => None,
        // Routing a point names grids anywhere: any role that reads the grid may ask.
        "/api/v1/grid/locate" | "/api/v1/grid/locate-address" => Some(Permission::ReadGrid),
        "/api/v1/grid/import" => Some(Permission::EditGrid),
        p if p.starts_with("/api/v1/grid/") => Some(Permission::ReadGrid),
        p if p.starts_with("/api/v1/accounts") => Some(Permission::ManageAccounts),
        p if p.starts_with("/api/v1/apikeys") => Some(Permission::ManageApiKeys),
        "/api/v1/audit" => Some(Permission::ReadAudit),
        "/api/v1/system" => Some(Permission::ConfigureSystem),
        "/api/v1/registry/residents/{id}/reveal" => Some(Permission::RevealPersonal),
        "/api/v1/registry/export" => Some(Permission::ExportPersonal),
        "/api/v1/registry/import"
        | "/api/v1/registry/buildings/import"
        | "/api/v1/registry/households/import" => Some(Permission::EditRegistry),
        "/api/v1/registry/tags/{code}" => Some(Permission::ConfigureCatalog),
        "/api/v1/categories" | "/api/v1/notifications" | "/api/v1/notifications/read" => None,
        "/api/v1/transfer-sources" | "/api/v1/chat-groups" => Some(Permission::ConfigureSystem),
        "/api/v1/transfers" => Some(Permission::ReportCase),
        "/api/v1/chat-drafts" | "/api/v1/callers" | "/api/v1/statistics/intake" => {
            Some(Permission::ReadCases)
        }
        p if p.starts_with("/api/v1/chat-drafts/") => Some(Permission::ReportCase),
        p if p.starts_with("/api/v1/webhooks") || p.starts_with("/api/v1/outbox") => {
            Some(Permission::ConfigureSystem)
        }
        "/api/v1/categories/{code}" | "/api/v1/calendar/{day}" => {
            Some(Permission::ConfigureCatalog)
        }
        "/api/v1/cases" if *method == Method::POST => Some(Permission::ReportCase),
        p if p.starts_with("/api/v1/cases") => Some(Permission::ReadCases),
        "/api/v1/roster" if *method == Method::GET => Some(Permission::ReadGrid),
        p if p.starts_with("/api/v1/roster") => Some(Permission::ManageRoster),
        "/api/v1/registry/residents/{id}"
            if *method == Method::PATCH || *method == Method::DELETE =>
        {
            Some(Permission::EditRegistry)
        }
        p if p.starts_with("/api/v1/registry/") => Some(Permission::ReadRegistry),
        other => panic!("the walk does not know {method} {other}: add it"),
    }
}

/// The request that exercises an operation on targets `t`, or `None` for the session routes,
/// which the login tests cover.
fn api_request(
    method: &Method,
    path: &str,
    t: &Targets,
    who: &str,
) -> Option<(String, Option<Value>)> {
    let uri = path
        .replace("/tags/{code}", "/tags/walk_tag")
        .replace("/categories/{code}", "/categories/sg.other")
        .replace("{day}", "2027-01-04")
        .replace("{photo}", &t.photo.to_string())
        .replace("{code}", t.scope)
        .replace("{grant_id}", &t.grant.to_string())
        .replace(
            "{id}",
            &if path.starts_with("/api/v1/apikeys") {
                t.key
            } else if path.starts_with("/api/v1/registry/residents") {
                t.resident
            } else if path.starts_with("/api/v1/registry/households") {
                t.household
            } else if path.starts_with("/api/v1/roster") {
                t.staff
            } else if path.starts_with("/api/v1/cases") {
                t.case
            } else if path.starts_with("/api/v1/webhooks") {
                t.webhook
            } else if path.starts_with("/api/v1/outbox") {
                t.delivery
            } else {
                t.victim
            }
            .to_string(),
        );
    let body = match (method.as_str(), path) {
        (_, "/api/v1/session") => return None,
        // The chat bot signs instead of signing in: the chat tests cover it.
        (_, p) if p.starts_with("/hooks/") => return None,
        ("POST", "/api/v1/transfer-sources") => Some(
            json!({"code": format!("w{}", serial()), "name": "走查热线", "channel": "city_app"}),
        ),
        ("POST", "/api/v1/chat-groups") => Some(
            json!({"code": format!("w{}", serial()), "name": format!("走查 {who}"), "scope": t.scope}),
        ),
        ("POST", "/api/v1/transfers") => Some(json!({
            "source": if t.scope == INSIDE { "src-in" } else { "src-out" },
            "external_id": format!("W{}", serial()), "reported_at": "2026-11-01T09:00:00+08:00",
            "category": "sg.sanitation", "description": format!("转办 {who}"),
            "micro_grid": format!("{}001001", t.scope),
        })),
        ("GET", "/api/v1/statistics/intake") => {
            return Some((format!("{uri}?scope={}", t.scope), None));
        }
        ("GET", "/api/v1/callers") => {
            return Some((format!("{uri}?phone=13800001111&scope={}", t.scope), None));
        }
        ("GET", "/api/v1/chat-drafts") => {
            return Some((format!("{uri}?scope={}", t.scope), None));
        }
        ("POST", "/api/v1/chat-drafts/{id}/confirm") => Some(json!({"category": "sg.sanitation"})),
        ("POST", "/api/v1/chat-drafts/{id}/discard") => Some(json!({"reason": "走查"})),
        // The reporter's follow link needs no account: the track tests cover it.
        (_, p) if p.starts_with("/api/v1/track/") => return None,
        ("GET", "/api/v1/cases") => return Some((format!("{uri}?scope={}", t.scope), None)),
        ("POST", "/api/v1/cases") => Some(
            json!({"category": "sg.sanitation", "description": format!("走查 {who}"), "micro_grid": format!("{}001001", t.scope)}),
        ),
        ("POST", "/api/v1/cases/{id}/actions") => {
            Some(json!({"action": "comment", "version": 0, "reason": format!("走查 {who}")}))
        }
        ("PUT", "/api/v1/calendar/{day}") => Some(json!({"kind": "holiday", "note": "走查"})),
        ("POST", "/api/v1/notifications/read") => Some(json!({})),
        ("POST", "/api/v1/webhooks") => {
            Some(json!({"name": format!("walk {who}"), "url": "http://127.0.0.1:9/walk"}))
        }
        ("PUT", "/api/v1/webhooks/{id}/active") => Some(json!({"active": true})),
        ("PUT", "/api/v1/categories/{code}") => Some(json!({
            "name": "其他", "need_type": "expression", "handler": "micro_grid_worker", "tier": "micro_grid",
            "limits": {
                "accept": {"amount": 2, "unit": "working_hours"}, "dispatch": {"amount": 2, "unit": "working_hours"},
                "handle": {"amount": 5, "unit": "working_days"}, "verify": {"amount": 1, "unit": "working_days"},
                "case": {"amount": 10, "unit": "natural_days"}
            },
            "warn_share": 0.75, "active": true
        })),
        (
            "GET",
            "/api/v1/accounts" | "/api/v1/apikeys" | "/api/v1/audit" | "/api/v1/grid/division",
        ) => {
            return Some((format!("{uri}?scope={}", t.scope), None));
        }
        ("GET", "/api/v1/registry/residents" | "/api/v1/registry/households") => {
            return Some((format!("{uri}?scope={}", t.scope), None));
        }
        ("GET", "/api/v1/roster") => return Some((format!("{uri}?scope={}", t.scope), None)),
        (
            "GET",
            "/api/v1/roster/export"
            | "/api/v1/registry/buildings/export"
            | "/api/v1/registry/households/export",
        ) => {
            return Some((format!("{uri}?scope={}&format=csv", t.scope), None));
        }
        ("POST", "/api/v1/roster") => Some(
            json!({"node": t.scope, "duty": "志愿者", "name": format!("走查 {who}"), "phone": "13900000000"}),
        ),
        ("PUT", "/api/v1/roster/{id}") => Some(
            json!({"node": t.scope, "duty": "volunteer", "name": format!("改名 {who}"), "party_member": true, "since": "2024-01-01"}),
        ),
        ("PUT", "/api/v1/registry/tags/{code}") => {
            Some(json!({"label_zh": "走查标签", "label_en": "Walk tag", "sort": 500}))
        }
        ("GET", "/api/v1/registry/export") => {
            return Some((format!("{uri}?scope={}&format=csv", t.scope), None));
        }
        ("GET", "/api/v1/grid/export") => return Some((format!("{uri}?scope={}", t.scope), None)),
        ("POST", "/api/v1/grid/import") => Some(t.map.clone()),
        ("PATCH", "/api/v1/registry/residents/{id}") => Some(json!({"care_grade": "blue"})),
        ("POST", "/api/v1/registry/residents/{id}/reveal") => Some(json!({"field": "phone"})),
        ("GET", "/api/v1/grid/map") => {
            return Some((format!("{uri}?scope={}&level=micro_grid", t.scope), None));
        }
        ("GET", "/api/v1/grid/locate-address") => {
            return Some((format!("{uri}?q=%E6%9F%B3%E5%9F%8E"), None));
        }
        ("GET", "/api/v1/grid/locate") => {
            return Some((format!("{uri}?lon=103.8001&lat=30.7099"), None));
        }
        ("POST", "/api/v1/accounts") => Some(
            json!({"username": format!("new.{who}.{}", t.scope), "display_name": "新 账户", "password": "Neu-Pass1", "home_scope": t.scope}),
        ),
        ("POST", "/api/v1/accounts/{id}/password") => Some(json!({"password": "Neu-Pass1"})),
        ("POST", "/api/v1/accounts/{id}/grants") => {
            Some(json!({"role": "community_staff", "scope": t.scope}))
        }
        ("POST", "/api/v1/apikeys") => {
            Some(json!({"name": format!("k {who}"), "role": "grid_worker", "scope": t.scope}))
        }
        _ => None,
    };
    Some((uri, body))
}

/// A one-row CSV import for the import route `path`, into `scope`; new each time.
fn csv_import(
    session: &common::Session,
    path: &str,
    scope: &str,
) -> axum::http::Request<axum::body::Body> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let csv = match path {
        "/api/v1/registry/import" => {
            let first17 = format!("51011519900101{n:03}");
            let id = format!(
                "{first17}{}",
                domain::person::id_check_char(first17.as_bytes()) as char
            );
            format!(
                "{}\n{scope}001001,导入路,1号,,1栋,1单元,101,导入居民,{id},,户主,户籍,,",
                app::RESIDENT_COLUMNS.join(",")
            )
        }
        "/api/v1/registry/buildings/import" => format!(
            "{}\n{scope}001001,导入路,{n}号,,2栋,,,",
            app::BUILDING_COLUMNS.join(",")
        ),
        "/api/v1/registry/households/import" => format!(
            "{}\n走查路,{scope}号,,1栋,1单元,{n}",
            app::HOUSEHOLD_COLUMNS.join(",")
        ),
        "/api/v1/roster/import" => format!(
            "{}\n{scope},志愿者,导入{n},13900000000,是,2024-05-01,岗前培训,,",
            app::ROSTER_COLUMNS.join(",")
        ),
        other => panic!("no CSV for {other}"),
    };
    axum::http::Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(axum::http::header::COOKIE, &session.cookie)
        .header("x-csrf-token", &session.csrf)
        .header(axum::http::header::CONTENT_TYPE, "text/csv")
        .body(axum::body::Body::from(csv))
        .unwrap()
}

fn operations() -> Vec<(Method, String)> {
    let doc = web::ApiDoc::openapi_doc();
    let mut ops = Vec::new();
    for (path, item) in &doc.paths.paths {
        for (method, op) in [
            (Method::GET, &item.get),
            (Method::POST, &item.post),
            (Method::PUT, &item.put),
            (Method::PATCH, &item.patch),
            (Method::DELETE, &item.delete),
        ] {
            if op.is_some() {
                ops.push((method, path.clone()));
            }
        }
    }
    ops
}

#[tokio::test]
async fn every_api_route_refuses_what_the_role_or_the_scope_does_not_allow() {
    let t = spawn().await;
    let inside = targets(&t, INSIDE, "in").await;
    let outside = targets(&t, OUTSIDE, "out").await;
    let ops = operations();
    assert!(
        ops.len() >= 18,
        "the OpenAPI document lists {} operations",
        ops.len()
    );

    let mut refused = 0;
    for role in Role::ALL {
        let who = format!("walk.{}", role.as_str());
        t.account_with(&who, role.as_str(), INSIDE).await;
        let session = t.login(&who).await;
        for targets in [&inside, &outside] {
            for (method, path) in &ops {
                let Some((mut uri, body)) = api_request(method, path, targets, role.as_str())
                else {
                    continue;
                };
                // Erasing is for good: each try gets a resident of its own.
                if *method == Method::DELETE && path == "/api/v1/registry/residents/{id}" {
                    let (_, fresh) = make_resident(&t, &format!("{}001001", targets.scope)).await;
                    uri = format!("/api/v1/registry/residents/{fresh}");
                }
                if *method == Method::DELETE && path == "/api/v1/roster/{id}" {
                    uri = format!("/api/v1/roster/{}", make_staff(&t, targets.scope).await);
                }
                // A draft is decided once: each try gets a draft of its own.
                if let Some(verb) = path.strip_prefix("/api/v1/chat-drafts/{id}/") {
                    let draft = make_draft(&t, &targets.chat_group, &targets.chat_secret).await;
                    uri = format!("/api/v1/chat-drafts/{draft}/{verb}");
                }
                let unscoped = matches!(
                    path.as_str(),
                    "/api/v1/system"
                        | "/api/v1/grid/locate"
                        | "/api/v1/grid/locate-address"
                        | "/api/v1/registry/tags"
                        | "/api/v1/registry/tags/{code}"
                        | "/api/v1/categories/{code}"
                        | "/api/v1/calendar/{day}"
                        | "/api/v1/webhooks"
                        | "/api/v1/webhooks/{id}/active"
                        | "/api/v1/outbox"
                        | "/api/v1/outbox/{id}/retry"
                        | "/api/v1/transfer-sources"
                );
                // Listing groups is for any system admin; adding one, for the place's.
                let unscoped =
                    unscoped || (path == "/api/v1/chat-groups" && *method == Method::GET);
                let allowed = match api_permission(method, path) {
                    None => true,
                    Some(_)
                        if (path.starts_with("/api/v1/cases/{id}")
                            || path == "/api/v1/statistics/intake")
                            && reads_own_cases(role) =>
                    {
                        false
                    }
                    Some(p) if unscoped => role.has(p),
                    Some(p) => role.has(p) && targets.scope == INSIDE,
                };
                let before = t.audit_count("permission_denied").await;
                let r = if path.ends_with("/import") && path != "/api/v1/grid/import" {
                    t.send(csv_import(&session, path, targets.scope)).await
                } else {
                    t.api(Some(&session), method.clone(), &uri, body).await
                };
                let after = t.audit_count("permission_denied").await;
                if allowed {
                    assert!(
                        r.status.is_success(),
                        "{} {method} {uri} should pass, got {}: {}",
                        role.as_str(),
                        r.status,
                        r.text()
                    );
                    assert_eq!(after, before, "{method} {uri} passed but left a refusal");
                } else {
                    assert_eq!(
                        r.status,
                        StatusCode::FORBIDDEN,
                        "{} {method} {uri}: {}",
                        role.as_str(),
                        r.text()
                    );
                    assert_eq!(r.json()["code"], "forbidden");
                    assert_eq!(
                        after,
                        before + 1,
                        "{} {method} {uri}: the refusal is not in the audit log",
                        role.as_str()
                    );
                    refused += 1;
                }
            }
        }
        // The refusals carry the caller's name.
        let auditor = t
            .app
            .list_audit(
                &Ctx::cli(),
                Some("510115"),
                Some("permission_denied"),
                None,
                Some(1),
            )
            .await
            .unwrap();
        assert_eq!(auditor[0].actor, who);
    }
    assert!(refused > 100, "only {refused} refusals were checked");
}

#[tokio::test]
async fn nobody_signed_in_gets_401_from_every_api_route() {
    let t = spawn().await;
    let inside = targets(&t, INSIDE, "in").await;
    for (method, path) in operations() {
        let Some((uri, body)) = api_request(&method, &path, &inside, "anon") else {
            continue;
        };
        let r = t.api(None, method.clone(), &uri, body).await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{method} {uri}: {}",
            r.text()
        );
        assert_eq!(r.json()["code"], "unauthenticated");
    }
}

/// Page routes: (method, path with `{victim}`, `{grant}`, `{key}`, `{scope}`, the permission,
/// whether the scope applies, form fields).
type PageRoute = (
    &'static str,
    &'static str,
    Option<Permission>,
    bool,
    &'static [(&'static str, &'static str)],
);

const PAGES: &[PageRoute] = &[
    ("GET", "/", None, false, &[]),
    ("GET", "/grid", Some(Permission::ReadGrid), false, &[]),
    (
        "GET",
        "/grid/cards?scope={scope}",
        Some(Permission::ReadGrid),
        true,
        &[],
    ),
    (
        "GET",
        "/registry?scope={scope}",
        Some(Permission::ReadRegistry),
        true,
        &[],
    ),
    (
        "GET",
        "/registry/households/{household}",
        Some(Permission::ReadRegistry),
        true,
        &[],
    ),
    (
        "POST",
        "/registry/residents/{resident}/reveal?field=phone",
        Some(Permission::RevealPersonal),
        true,
        &[],
    ),
    (
        "GET",
        "/map?scope={scope}",
        Some(Permission::ReadGrid),
        true,
        &[],
    ),
    (
        "GET",
        "/grid/check?scope={scope}",
        Some(Permission::ReadGrid),
        true,
        &[],
    ),
    (
        "GET",
        "/admin/accounts?scope={scope}",
        Some(Permission::ManageAccounts),
        true,
        &[],
    ),
    (
        "GET",
        "/admin/apikeys",
        Some(Permission::ManageApiKeys),
        false,
        &[],
    ),
    (
        "GET",
        "/roster?scope={scope}",
        Some(Permission::ReadGrid),
        true,
        &[],
    ),
    (
        "POST",
        "/roster?scope={scope}",
        Some(Permission::ManageRoster),
        true,
        &[
            ("node", "{scope}"),
            ("duty", "volunteer"),
            ("name", "页面 {who}"),
            ("party_member", "true"),
        ],
    ),
    (
        "POST",
        "/roster/{staff}/remove?scope={scope}",
        Some(Permission::ManageRoster),
        true,
        &[],
    ),
    (
        "GET",
        "/grid/history?code={scope}",
        Some(Permission::ReadGrid),
        true,
        &[],
    ),
    (
        "GET",
        "/cases?scope={scope}&view=all",
        Some(Permission::ReadCases),
        true,
        &[],
    ),
    (
        "GET",
        "/cases/{case}",
        Some(Permission::ReadCases),
        true,
        &[],
    ),
    ("GET", "/inbox", Some(Permission::UseWorkspace), false, &[]),
    (
        "GET",
        "/admin/categories",
        Some(Permission::ConfigureCatalog),
        false,
        &[],
    ),
    (
        "GET",
        "/admin/categories/sg.other",
        Some(Permission::ConfigureCatalog),
        false,
        &[],
    ),
    (
        "POST",
        "/admin/categories/sg.other",
        Some(Permission::ConfigureCatalog),
        false,
        &[
            ("name", "其他"),
            ("need_type", "expression"),
            ("handler", "micro_grid_worker"),
            ("tier", "micro_grid"),
            ("accept_amount", "2"),
            ("accept_unit", "working_hours"),
            ("dispatch_amount", "2"),
            ("dispatch_unit", "working_hours"),
            ("respond_amount", "30"),
            ("respond_unit", "natural_minutes"),
            ("handle_amount", "5"),
            ("handle_unit", "working_days"),
            ("verify_amount", "1"),
            ("verify_unit", "working_days"),
            ("case_amount", "10"),
            ("case_unit", "natural_days"),
            ("warn_share", "0.75"),
            ("active", "true"),
        ],
    ),
    (
        "GET",
        "/admin/calendar?year=2026",
        Some(Permission::ConfigureCatalog),
        false,
        &[],
    ),
    (
        "POST",
        "/admin/calendar?year=2027",
        Some(Permission::ConfigureCatalog),
        false,
        &[("day", "2027-01-01"), ("kind", "holiday"), ("note", "元旦")],
    ),
    (
        "POST",
        "/inbox/read",
        Some(Permission::UseWorkspace),
        false,
        &[],
    ),
    (
        "GET",
        "/admin/webhooks",
        Some(Permission::ConfigureSystem),
        false,
        &[],
    ),
    (
        "POST",
        "/admin/webhooks",
        Some(Permission::ConfigureSystem),
        false,
        &[("name", "页面 {who}"), ("url", "http://127.0.0.1:9/page")],
    ),
    (
        "GET",
        "/cases/new",
        Some(Permission::ReportCase),
        false,
        &[],
    ),
    (
        "GET",
        "/registry/tags",
        Some(Permission::ConfigureCatalog),
        false,
        &[],
    ),
    (
        "POST",
        "/registry/tags",
        Some(Permission::ConfigureCatalog),
        false,
        &[
            ("code", "page_{who}"),
            ("label_zh", "页面{who}"),
            ("label_en", "Page tag"),
        ],
    ),
    (
        "POST",
        "/registry/tags/minimum_living",
        Some(Permission::ConfigureCatalog),
        false,
        &[
            ("label_zh", "低保对象"),
            ("label_en", "Minimum living allowance"),
            ("sort", "80"),
        ],
    ),
    ("GET", "/audit", Some(Permission::ReadAudit), false, &[]),
    (
        "GET",
        "/admin/system",
        Some(Permission::ConfigureSystem),
        false,
        &[],
    ),
    (
        "POST",
        "/admin/accounts",
        Some(Permission::ManageAccounts),
        true,
        &[
            ("username", "p.{who}.{scope}"),
            ("display_name", "页面 新建"),
            ("password", "Neu-Pass1"),
            ("home_scope", "{scope}"),
        ],
    ),
    (
        "POST",
        "/admin/accounts/{victim}/grants",
        Some(Permission::ManageAccounts),
        true,
        &[("role", "community_staff"), ("scope", "{scope}")],
    ),
    (
        "POST",
        "/admin/accounts/{victim}/grants/{grant}/revoke",
        Some(Permission::ManageAccounts),
        true,
        &[],
    ),
    (
        "POST",
        "/admin/accounts/{victim}/disable",
        Some(Permission::ManageAccounts),
        true,
        &[],
    ),
    (
        "POST",
        "/admin/accounts/{victim}/enable",
        Some(Permission::ManageAccounts),
        true,
        &[],
    ),
    (
        "POST",
        "/admin/accounts/{victim}/password",
        Some(Permission::ManageAccounts),
        true,
        &[("password", "Neu-Pass1")],
    ),
    (
        "POST",
        "/admin/apikeys",
        Some(Permission::ManageApiKeys),
        true,
        &[
            ("name", "页面密钥"),
            ("role", "grid_worker"),
            ("scope", "{scope}"),
        ],
    ),
    (
        "POST",
        "/admin/apikeys/{key}/revoke",
        Some(Permission::ManageApiKeys),
        true,
        &[],
    ),
];

fn fill(s: &str, t: &Targets, who: &str) -> String {
    s.replace("{victim}", &t.victim.to_string())
        .replace("{grant}", &t.grant.to_string())
        .replace("{key}", &t.key.to_string())
        .replace("{household}", &t.household.to_string())
        .replace("{resident}", &t.resident.to_string())
        .replace("{staff}", &t.staff.to_string())
        .replace("{case}", &t.case.to_string())
        .replace("{scope}", t.scope)
        .replace("{who}", who)
}

#[tokio::test]
async fn every_page_refuses_what_the_role_or_the_scope_does_not_allow() {
    let t = spawn().await;
    let inside = targets(&t, INSIDE, "in").await;
    let outside = targets(&t, OUTSIDE, "out").await;
    for role in Role::ALL {
        let who = format!("page.{}", role.as_str());
        t.account_with(&who, role.as_str(), INSIDE).await;
        let session: Session = t.login(&who).await;
        for targets in [&inside, &outside] {
            for (method, path, permission, scoped, fields) in PAGES {
                if targets.scope == OUTSIDE && !scoped {
                    continue;
                }
                // Removing is for good: each try gets a member of its own.
                let path = if path.contains("{staff}") {
                    let fresh = make_staff(&t, targets.scope).await;
                    path.replace("{staff}", &fresh.to_string())
                } else {
                    path.to_string()
                };
                let uri = fill(&path, targets, role.as_str());
                let allowed = permission
                    .is_none_or(|p| role.has(p) && (targets.scope == INSIDE || !scoped))
                    && !(path.starts_with("/cases/{case}") && reads_own_cases(role));
                let before = t.audit_count("permission_denied").await;
                let r = if *method == "GET" {
                    t.page(&session, &uri).await
                } else {
                    let filled: Vec<(String, String)> = fields
                        .iter()
                        .map(|(k, v)| (k.to_string(), fill(v, targets, role.as_str())))
                        .collect();
                    let refs: Vec<(&str, &str)> = filled
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    t.form(&session, &uri, &refs).await
                };
                let after = t.audit_count("permission_denied").await;
                if allowed {
                    let location = r
                        .headers
                        .get("location")
                        .map(|l| l.to_str().unwrap().to_owned())
                        .unwrap_or_default();
                    assert!(
                        r.status == StatusCode::OK
                            || (r.status == StatusCode::SEE_OTHER && location.ends_with("ok=1")),
                        "{} {method} {uri} should pass, got {} {location}",
                        role.as_str(),
                        r.status
                    );
                } else {
                    assert_eq!(
                        r.status,
                        StatusCode::FORBIDDEN,
                        "{} {method} {uri}",
                        role.as_str()
                    );
                    assert!(r.text().contains("403"));
                    assert_eq!(
                        after,
                        before + 1,
                        "{} {method} {uri}: the refusal is not in the audit log",
                        role.as_str()
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn navigation_shows_only_what_the_role_may_open() {
    let t = spawn().await;
    let auditor = t.login("auditor").await;
    let home = t.page(&auditor, "/").await.text();
    assert!(home.contains("href=\"/audit\""));
    assert!(!home.contains("href=\"/admin/accounts\""));
    let secadmin = t.login("secadmin").await;
    let home = t.page(&secadmin, "/").await.text();
    assert!(home.contains("href=\"/admin/accounts\""));
    assert!(!home.contains("href=\"/audit\""));
}

/// Departments, partners and volunteers read only the cases they hold or have acted on; the
/// walk's case is none of theirs.
fn reads_own_cases(role: Role) -> bool {
    matches!(
        role,
        Role::DepartmentHandler | Role::Partner | Role::Volunteer
    )
}
