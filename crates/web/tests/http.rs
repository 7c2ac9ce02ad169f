//! The HTTP surface: bad input gets a 4xx with `{code, message}`, never a 5xx; headers, health,
//! metrics, the OpenAPI document and the language switch.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::{spawn, spawn_with};
use serde_json::json;

fn raw(method: Method, uri: &str, content_type: &str, body: impl Into<Body>) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, content_type)
        .body(body.into())
        .unwrap()
}

#[tokio::test]
async fn bad_requests_get_a_clear_4xx() {
    let t = spawn_with(
        app::Settings::default(),
        web::WebConfig {
            body_limit: 4096,
            ..Default::default()
        },
    )
    .await;
    let s = t.login("secadmin").await;
    let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
        (
            raw(
                Method::POST,
                "/api/v1/session",
                "application/json",
                "{\"username\": ",
            ),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            raw(Method::POST, "/api/v1/session", "text/plain", "username=a"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            raw(
                Method::POST,
                "/api/v1/session",
                "application/json",
                "{\"user\": 1}",
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            raw(
                Method::POST,
                "/api/v1/session",
                "application/json",
                format!(
                    "{{\"username\": \"{}\", \"password\": \"x\"}}",
                    "a".repeat(10_000)
                ),
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            Request::builder()
                .uri("/api/v1/no/such/route")
                .body(Body::empty())
                .unwrap(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Request::builder()
                .method(Method::PUT)
                .uri("/api/v1/me")
                .body(Body::empty())
                .unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
    ];
    for (req, status, code) in cases {
        let uri = req.uri().clone();
        let r = t.send(req).await;
        assert_eq!(r.status, status, "{uri}: {}", r.text());
        assert_eq!(r.json()["code"], code, "{uri}");
        assert!(
            r.json()["message"].as_str().unwrap().contains(" / "),
            "bilingual message: {}",
            r.text()
        );
    }
    // A JSON body whose content type carries parameters is read the same; a field of the wrong
    // type is named in the message.
    let r = t
        .send(raw(
            Method::POST,
            "/api/v1/session",
            "application/json; charset=utf-8",
            "{\"username\": 1, \"password\": \"x\"}",
        ))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_eq!(r.json()["code"], "invalid");
    assert!(
        r.json()["message"].as_str().unwrap().contains("username"),
        "{}",
        r.text()
    );
    let cases = [
        ("/api/v1/accounts/abc", StatusCode::BAD_REQUEST),
        ("/api/v1/accounts/999999", StatusCode::NOT_FOUND),
        ("/api/v1/grid/nodes/12ab", StatusCode::UNPROCESSABLE_ENTITY),
        ("/api/v1/grid/nodes/510115009", StatusCode::FORBIDDEN),
        ("/api/v1/accounts?scope=x", StatusCode::UNPROCESSABLE_ENTITY),
    ];
    for (uri, status) in cases {
        let r = t.api(Some(&s), Method::GET, uri, None).await;
        assert_eq!(r.status, status, "{uri}: {}", r.text());
        assert!(r.json()["code"].is_string());
    }
    let audit = t.login("auditor").await;
    let r = t
        .api(Some(&audit), Method::GET, "/api/v1/audit?limit=0", None)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = t
        .api(
            Some(&audit),
            Method::GET,
            "/api/v1/audit?action=explode",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = t
        .api(Some(&audit), Method::GET, "/api/v1/audit?before=soon", None)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn every_answer_carries_security_headers_and_a_request_id() {
    let t = spawn().await;
    let r = t
        .send(
            Request::builder()
                .uri("/login")
                .header("x-request-id", "abc-123")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["x-request-id"], "abc-123");
    assert_eq!(r.headers["x-frame-options"], "DENY");
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
    assert!(
        r.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );
    let r = t
        .send(
            Request::builder()
                .uri("/healthz")
                .header("x-request-id", "<script>")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_ne!(r.headers["x-request-id"], "<script>");
    // The server's own ids: sixteen hex digits, the same process prefix, never twice the same.
    let first = r.headers["x-request-id"].to_str().unwrap().to_owned();
    let r = t.api(None, Method::GET, "/healthz", None).await;
    let second = r.headers["x-request-id"].to_str().unwrap().to_owned();
    for id in [&first, &second] {
        assert_eq!(id.len(), 16, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    }
    assert_ne!(first, second);
    assert_eq!(first[..8], second[..8]);
}

#[tokio::test]
async fn health_metrics_and_the_api_document_answer() {
    let t = spawn().await;
    let r = t
        .send(
            Request::builder()
                .uri("/healthz")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["status"], "ok");
    let r = t
        .send(
            Request::builder()
                .uri("/metrics")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(
        r.text().contains(
            "weige_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 1"
        ),
        "{}",
        r.text()
    );
    assert!(r.text().contains("weige_database_up"));
    let r = t
        .send(
            Request::builder()
                .uri("/api/openapi.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let doc = r.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["paths"]["/api/v1/accounts/{id}/grants"]["post"].is_object());
    let r = t
        .send(
            Request::builder()
                .uri("/api/docs")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(r.text().contains("swagger-ui-bundle.js"));
    let r = t
        .send(
            Request::builder()
                .uri("/assets/vendor/swagger-ui/swagger-ui-bundle.js")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn the_interface_speaks_chinese_unless_english_is_chosen() {
    let t = spawn().await;
    let r = t
        .send(
            Request::builder()
                .uri("/login")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(r.text().contains("登录") && r.text().contains("lang=\"zh-CN\""));
    let r = t
        .send(
            Request::builder()
                .uri("/lang/en?back=//evil.example")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.headers["location"], "/", "no open redirect");
    assert!(
        r.headers["set-cookie"]
            .to_str()
            .unwrap()
            .starts_with("weige_lang=en")
    );
    let r = t
        .send(
            Request::builder()
                .uri("/login")
                .header(header::COOKIE, "weige_lang=en")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(r.text().contains("Sign in") && r.text().contains("lang=\"en\""));
}

#[tokio::test]
async fn a_page_form_error_comes_back_as_a_message_on_the_page() {
    let t = spawn().await;
    let s = t.login("secadmin").await;
    let r = t
        .form(
            &s,
            "/admin/accounts",
            &[
                ("username", "x"),
                ("display_name", "某"),
                ("password", "Good-Pass1"),
                ("home_scope", common::INSIDE),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let location = r.headers["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/admin/accounts?err="), "{location}");
    let page = t.page(&s, &location).await;
    assert!(page.text().contains("role=\"alert\""));
    assert!(page.text().contains("a username has 3 to 32 characters"));
    let created = t
        .api(
            Some(&s),
            Method::GET,
            "/api/v1/accounts?scope=510115001001",
            None,
        )
        .await;
    assert!(!created.text().contains("\"username\":\"x\""));
    let _ = json!({});
}

#[tokio::test]
async fn the_map_api_draws_the_scope_and_routes_points() {
    let t = spawn().await;
    let grid = t.login("community").await;
    let r = t
        .api(
            Some(&grid),
            Method::GET,
            "/api/v1/grid/map?scope=510115001001&level=micro_grid",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let fc = r.json();
    assert_eq!(fc["type"], "FeatureCollection");
    let features = fc["features"].as_array().unwrap();
    assert_eq!(features.len(), 24, "和平社区 has 3 grids of 8 micro-grids");
    assert_eq!(features[0]["geometry"]["type"], "Polygon");
    assert!(features.iter().all(|f| {
        f["properties"]["code"]
            .as_str()
            .unwrap()
            .starts_with("510115001001")
    }));
    let bad = t
        .api(
            Some(&grid),
            Method::GET,
            "/api/v1/grid/map?scope=510115001001&level=planet",
            None,
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

    let r = t
        .api(
            Some(&grid),
            Method::GET,
            "/api/v1/grid/locate?lon=103.8001&lat=30.7099",
            None,
        )
        .await;
    assert_eq!(r.json()["micro_grid"]["code"], "510115001001001001");
    assert_eq!(r.json()["community"]["name"], "和平社区");
    let outside = t
        .api(
            Some(&grid),
            Method::GET,
            "/api/v1/grid/locate?lon=116.4&lat=39.9",
            None,
        )
        .await;
    assert_eq!(outside.status, StatusCode::UNPROCESSABLE_ENTITY);
    let nonsense = t
        .api(
            Some(&grid),
            Method::GET,
            "/api/v1/grid/locate?lon=east&lat=30",
            None,
        )
        .await;
    assert_eq!(nonsense.status, StatusCode::BAD_REQUEST);

    let staff = t
        .api(
            Some(&grid),
            Method::GET,
            "/api/v1/grid/nodes/510115001001001/staff",
            None,
        )
        .await
        .json();
    assert!(
        staff
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["username"] == "grid" && s["duty"] == "grid_worker" && s["name"] == "杨洋"),
        "{staff}"
    );
    let mine = t.login("micro").await;
    let staff = t
        .api(
            Some(&mine),
            Method::GET,
            "/api/v1/grid/nodes/510115001001001001/staff",
            None,
        )
        .await
        .json();
    assert_eq!(staff[0]["name"], "黄秀英");
    assert_eq!(staff[0]["duty_label"], "微网格员");
    assert!(staff[0]["phone"].as_str().is_some_and(|p| p.len() == 11));
    let next_door = t
        .api(
            Some(&mine),
            Method::GET,
            "/api/v1/grid/nodes/510115001001001002/staff",
            None,
        )
        .await;
    assert_eq!(
        next_door.status,
        StatusCode::FORBIDDEN,
        "a micro-grid worker sees only their micro-grid"
    );
    let clean = t
        .api(
            Some(&grid),
            Method::GET,
            "/api/v1/grid/division?scope=510115001001001",
            None,
        )
        .await;
    assert_eq!(clean.json(), json!([]));
    let missing = t
        .api(
            Some(&t.login("admin").await),
            Method::GET,
            "/api/v1/grid/division?scope=510115001999",
            None,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_configured_base_map_is_allowed_by_the_content_security_policy() {
    let config = web::WebConfig {
        map_tile_url: Some("https://{s}.tiles.example.cn/{z}/{x}/{y}.png".into()),
        ..Default::default()
    };
    let t = spawn_with(app::Settings::default(), config).await;
    let s = t.login("grid").await;
    let r = t.page(&s, "/map").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.text()
            .contains("data-tiles=\"https://{s}.tiles.example.cn/{z}/{x}/{y}.png\"")
    );
    let csp = r.headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("img-src 'self' data: blob: https://*.tiles.example.cn;"),
        "{csp}"
    );
    let plain = spawn().await;
    let r = plain.page(&plain.login("grid").await, "/map").await;
    assert!(
        r.text().contains("data-tiles=\"\""),
        "no base map by default"
    );
}

#[tokio::test]
async fn every_asset_a_page_refers_to_is_served() {
    let t = spawn().await;
    let s = t.login("admin").await;
    let mut seen = Vec::new();
    for uri in ["/login", "/", "/map", "/grid/check", "/api/docs"] {
        let page = t.page(&s, uri).await.text();
        for part in page.split("\"/assets/").skip(1) {
            let path = format!("/assets/{}", part.split('"').next().unwrap());
            if !seen.contains(&path) {
                seen.push(path);
            }
        }
    }
    assert!(seen.len() >= 8, "{seen:?}");
    for path in seen {
        let r = t
            .send(Request::builder().uri(&path).body(Body::empty()).unwrap())
            .await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(!r.body.is_empty(), "{path}");
    }
}

#[tokio::test]
async fn contact_cards_name_the_workers_and_carry_a_qr_code() {
    let t = spawn().await;
    let grid = t.login("grid").await;
    let page = t.page(&grid, "/grid/cards").await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert_eq!(
        html.matches("data-testid=\"card\"").count(),
        8,
        "one card per micro-grid of the grid"
    );
    let first = html
        .split("data-code=\"510115001001001001\"")
        .nth(1)
        .unwrap()
        .split("</section>")
        .next()
        .unwrap();
    assert!(
        first.contains("微网格员</strong>：黄秀英") && first.contains("专职网格员</strong>：杨洋"),
        "{first}"
    );
    assert!(
        first.contains("<svg") && first.contains("</svg>"),
        "a QR code"
    );
    let other = t.page(&grid, "/grid/cards?scope=510115001002").await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_address_routes_to_its_building_and_micro_grid() {
    let t = spawn().await;
    let s = t.login("grid").await;
    let r = t
        .api(
            Some(&s),
            Method::GET,
            &format!(
                "/api/v1/grid/locate-address?q={}",
                common::encode("柳城大道 8号")
            ),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let found = r.json();
    let first = &found.as_array().unwrap()[0];
    assert!(
        first["address"]
            .as_str()
            .unwrap()
            .starts_with("柳城大道8号")
    );
    assert_eq!(
        first["location"]["micro_grid"]["code"],
        "510115001001001001"
    );
    assert_eq!(first["location"]["community"]["name"], "和平社区");
    let short = t
        .api(
            Some(&s),
            Method::GET,
            "/api/v1/grid/locate-address?q=a",
            None,
        )
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// A 1×1 PNG, base64.
const PNG_B64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

#[tokio::test]
async fn a_resident_reports_and_follows_the_case_without_an_account() {
    let t = spawn().await;
    let report = json!({"category": "sg.sanitation", "description": "路灯不亮", "micro_grid": "510115001001001001",
        "reporter_phone": "13900001234", "photos": [format!("data:image/png;base64,{PNG_B64}")]});
    let r = t
        .api(None, Method::POST, "/report", Some(report.clone()))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let created = r.json();
    let number = created["number"].as_str().unwrap().to_owned();
    let token = created["follow_token"].as_str().unwrap().to_owned();
    assert_eq!(created["micro_grid"]["code"], "510115001001001001");

    let followed = t
        .api(
            None,
            Method::GET,
            &format!("/api/v1/track/{number}?t={token}"),
            None,
        )
        .await;
    assert_eq!(followed.status, StatusCode::OK);
    assert_eq!(followed.json()["status"], "reported");
    let by_phone = t
        .api(
            None,
            Method::GET,
            &format!("/api/v1/track/{number}?last4=1234"),
            None,
        )
        .await;
    assert_eq!(by_phone.status, StatusCode::OK);
    for forged in [
        format!("t={}", "0".repeat(32)),
        "last4=0000".into(),
        String::new(),
    ] {
        let r = t
            .api(
                None,
                Method::GET,
                &format!("/api/v1/track/{number}?{forged}"),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{forged}");
        assert_eq!(r.json()["code"], "not_found");
    }
    let photo = followed.json()["photos"][0]["id"].as_i64().unwrap();
    let image = t
        .api(
            None,
            Method::GET,
            &format!("/api/v1/track/{number}/photos/{photo}?t={token}"),
            None,
        )
        .await;
    assert_eq!(image.status, StatusCode::OK);
    assert_eq!(image.headers[header::CONTENT_TYPE], "image/png");
    let page = t
        .api(
            None,
            Method::GET,
            &format!("/track/{number}?t={token}"),
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains(&number));
    // Nothing to rate before it is handled.
    let early = t
        .api(
            None,
            Method::POST,
            &format!("/api/v1/track/{number}/rating?t={token}"),
            Some(json!({"satisfaction": "satisfied"})),
        )
        .await;
    assert_eq!(early.status, StatusCode::CONFLICT);

    // A file that is not an image, a forged case number, no category: 4xx with the field named.
    let mut bad = report.clone();
    bad["photos"] = json!(["JVBERi0xLjcK"]);
    let r = t.api(None, Method::POST, "/report", Some(bad)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["field"], "photos");
    let mut outside = report.clone();
    outside["micro_grid"] = json!(null);
    outside["lon"] = json!(100.0);
    outside["lat"] = json!(20.0);
    let r = t.api(None, Method::POST, "/report", Some(outside)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = t
        .api(
            None,
            Method::GET,
            "/api/v1/track/510115001-2026-999999?t=x",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // The resident page itself needs no account and knows the micro-grid from its QR code.
    let page = t
        .api(None, Method::GET, "/report?grid=510115001001001001", None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("和平社区1-1号微网格"));
}

/// A burst of clients connecting at once waits in the kernel's queue for the server to accept
/// them; none is dropped to retry its connection a second later (the standard `bind`'s queue of
/// 128 did that to the 129th). Needs `net.core.somaxconn` ≥ 300, as on current kernels (4,096).
#[tokio::test]
async fn a_burst_of_connections_is_queued_not_dropped() {
    let listener = web::listen(([127, 0, 0, 1], 0).into()).unwrap();
    let addr = listener.local_addr().unwrap();
    // Nobody accepts meanwhile: every connection waits in the queue.
    let mut connecting = tokio::task::JoinSet::new();
    for _ in 0..300 {
        connecting.spawn(tokio::time::timeout(
            std::time::Duration::from_millis(900),
            tokio::net::TcpStream::connect(addr),
        ));
    }
    let mut connected = Vec::new();
    while let Some(done) = connecting.join_next().await {
        let stream = done
            .unwrap()
            .expect("connected before a SYN retry")
            .unwrap();
        connected.push(stream);
    }
    assert_eq!(connected.len(), 300);
    // The port is taken while the listener lives.
    assert!(web::listen(addr).is_err());
}
