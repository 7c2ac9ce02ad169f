//! Signing in and out, lockout, idle sessions, CSRF, API keys, and the account rules.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::{INSIDE, OUTSIDE, PASSWORD, spawn};
use serde_json::json;

#[tokio::test]
async fn the_fifth_wrong_password_locks_the_account_and_the_sixth_try_is_refused() {
    let t = spawn().await;
    for attempt in 1..=4 {
        let r = t.try_login("grid", "Wrong-pass1").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
        assert_eq!(r.json()["code"], "bad_credentials");
    }
    let fifth = t.try_login("grid", "Wrong-pass1").await;
    assert_eq!(fifth.status, StatusCode::LOCKED);
    assert_eq!(fifth.json()["code"], "account_locked");
    // Even the right password does not open a locked account.
    let sixth = t.try_login("grid", PASSWORD).await;
    assert_eq!(sixth.status, StatusCode::LOCKED);
    assert_eq!(t.audit_count("lockout").await, 1);
    assert_eq!(t.audit_count("login_failed").await, 6);
    // Other accounts are not affected.
    t.login("micro").await;
}

#[tokio::test]
async fn a_password_reset_by_the_security_admin_unlocks_the_account() {
    let t = spawn().await;
    for _ in 0..5 {
        t.try_login("grid", "Wrong-pass1").await;
    }
    let sec = t.login("secadmin").await;
    let grid_id = t.app.account_id_by_username("grid").await.unwrap();
    let r = t
        .api(
            Some(&sec),
            Method::POST,
            &format!("/api/v1/accounts/{grid_id}/password"),
            Some(json!({"password": "Neu-Pass1"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    assert_eq!(
        t.try_login("grid", "Neu-Pass1").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_unknown_username_fails_like_a_wrong_password_and_is_audited() {
    let t = spawn().await;
    let r = t.try_login("nobody.here", "Whatever-1").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["code"], "bad_credentials");
    let events = t
        .app
        .list_audit(
            &app::Ctx::cli(),
            Some("510115"),
            Some("login_failed"),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(events[0].actor, "nobody.here");
}

#[tokio::test]
async fn logging_out_ends_the_session() {
    let t = spawn().await;
    let s = t.login("admin").await;
    assert_eq!(
        t.api(Some(&s), Method::GET, "/api/v1/me", None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        t.api(Some(&s), Method::DELETE, "/api/v1/session", None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        t.api(Some(&s), Method::GET, "/api/v1/me", None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(t.audit_count("logout").await, 1);
}

#[tokio::test]
async fn an_idle_session_ends_and_the_page_asks_to_sign_in_again() {
    let t = spawn().await;
    let s = t.login("admin").await;
    // Thirty-one minutes without a request.
    let long_ago = app::now().0 - 31 * 60_000;
    match &t.db.store {
        store::Store::Sqlite(p, _) => sqlx::query("UPDATE session SET last_seen_at = $1")
            .bind(long_ago)
            .execute(p)
            .await
            .unwrap()
            .rows_affected(),
        store::Store::Postgres(p) => sqlx::query("UPDATE session SET last_seen_at = $1")
            .bind(long_ago)
            .execute(p)
            .await
            .unwrap()
            .rows_affected(),
    };
    let r = t.page(&s, "/").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers.get("location").unwrap(), "/login?expired=1");
    assert_eq!(t.audit_count("session_expired").await, 1);
    assert_eq!(
        t.api(Some(&s), Method::GET, "/api/v1/me", None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_write_with_the_session_cookie_needs_the_csrf_token() {
    let t = spawn().await;
    let s = t.login("secadmin").await;
    let body = json!({"name": "x", "role": "grid_worker", "scope": INSIDE}).to_string();
    let forged = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/apikeys")
        .header(header::COOKIE, &s.cookie)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.clone()))
        .unwrap();
    let r = t.send(forged).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.json()["code"], "csrf_failed");
    // A page form without the field, or with a wrong one, is refused too.
    let form = Request::builder()
        .method(Method::POST)
        .uri("/admin/apikeys")
        .header(header::COOKIE, &s.cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!(
            "csrf=0000&name=x&role=grid_worker&scope={INSIDE}"
        )))
        .unwrap();
    assert_eq!(t.send(form).await.status, StatusCode::FORBIDDEN);
    // A cross-site request is refused whatever it carries.
    let cross = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/apikeys")
        .header(header::COOKIE, &s.cookie)
        .header("x-csrf-token", &s.csrf)
        .header("sec-fetch-site", "cross-site")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap();
    assert_eq!(t.send(cross).await.status, StatusCode::FORBIDDEN);
    let keys = t
        .app
        .list_api_keys(&app::Ctx::cli(), Some("510115001"))
        .await
        .unwrap();
    assert!(keys.is_empty(), "a forged request created a key");
}

/// A community-staff key on the test's micro-grid, made by `sec` through the API: the key and
/// its id.
async fn new_key(t: &common::TestApp, sec: &common::Session, name: &str) -> (String, i64) {
    let r = t
        .api(
            Some(sec),
            Method::POST,
            "/api/v1/apikeys",
            Some(json!({"name": name, "role": "community_staff", "scope": INSIDE})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let key = r.json()["key"].as_str().unwrap().to_owned();
    (key, r.json()["api_key"]["id"].as_i64().unwrap())
}

fn with_key(key: &str, uri: &str) -> Request<Body> {
    Request::builder()
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn an_api_key_acts_with_its_one_role_on_its_one_scope_until_revoked() {
    let t = spawn().await;
    let sec = t.login("secadmin").await;
    let (key, id) = new_key(&t, &sec, "12345 热线").await;
    assert!(key.starts_with("wk_") && key.len() == 43);
    // The list never shows the key again.
    let list = t
        .api(Some(&sec), Method::GET, "/api/v1/apikeys", None)
        .await
        .text();
    assert!(!list.contains(&key));

    let with_key = |uri: &str| with_key(&key, uri);
    assert_eq!(
        t.send(with_key(&format!("/api/v1/grid/nodes/{INSIDE}")))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        t.send(with_key(&format!("/api/v1/grid/nodes/{OUTSIDE}")))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        t.send(with_key("/api/v1/accounts")).await.status,
        StatusCode::FORBIDDEN
    );

    let r = t
        .api(
            Some(&sec),
            Method::DELETE,
            &format!("/api/v1/apikeys/{id}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = t
        .send(with_key(&format!("/api/v1/grid/nodes/{INSIDE}")))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let again = t
        .api(
            Some(&sec),
            Method::DELETE,
            &format!("/api/v1/apikeys/{id}"),
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(t.audit_count("api_key_created").await, 1);
    assert_eq!(t.audit_count("api_key_revoked").await, 1);
}

#[tokio::test]
async fn a_key_revoked_through_another_server_stops_working_here_even_in_constant_use() {
    let t = spawn().await;
    let sec = t.login("secadmin").await;
    let (key, id) = new_key(&t, &sec, "对接系统").await;
    let use_key = || with_key(&key, &format!("/api/v1/grid/nodes/{INSIDE}"));
    assert_eq!(t.send(use_key()).await.status, StatusCode::OK);
    // Another server revokes it: only the database knows.
    let mut tx = t.app.store.write().await.unwrap();
    assert!(tx.revoke_api_key(id, app::now()).await.unwrap());
    tx.commit().await.unwrap();
    // Used without pause, it is refused once this server's cached copy has expired.
    let until = std::time::Instant::now() + app::CACHE_TTL + std::time::Duration::from_secs(5);
    let mut last = StatusCode::OK;
    while last == StatusCode::OK && std::time::Instant::now() < until {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        last = t.send(use_key()).await.status;
    }
    assert_eq!(last, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_api_key_cannot_hold_an_admin_role() {
    let t = spawn().await;
    let sec = t.login("secadmin").await;
    let r = t
        .api(
            Some(&sec),
            Method::POST,
            "/api/v1/apikeys",
            Some(json!({"name": "x", "role": "security_admin", "scope": INSIDE})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["field"], "role");
}

#[tokio::test]
async fn accounts_follow_the_password_policy_unique_names_and_separation_of_duties() {
    let t = spawn().await;
    let sec = t.login("secadmin").await;
    let new = |username: &str, password: &str| json!({"username": username, "display_name": "王 小明", "password": password, "home_scope": INSIDE});
    let weak = t
        .api(
            Some(&sec),
            Method::POST,
            "/api/v1/accounts",
            Some(new("wang.xm", "password1")),
        )
        .await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(weak.json()["field"], "password");
    let ok = t
        .api(
            Some(&sec),
            Method::POST,
            "/api/v1/accounts",
            Some(new("wang.xm", "Wang-2026")),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text());
    let id = ok.json()["id"].as_i64().unwrap();
    let taken = t
        .api(
            Some(&sec),
            Method::POST,
            "/api/v1/accounts",
            Some(new("Wang.XM", "Wang-2026")),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);

    let grant = |role: &str| json!({"role": role, "scope": INSIDE});
    let uri = format!("/api/v1/accounts/{id}/grants");
    assert_eq!(
        t.api(Some(&sec), Method::POST, &uri, Some(grant("audit_admin")))
            .await
            .status,
        StatusCode::CREATED
    );
    let second_admin = t
        .api(Some(&sec), Method::POST, &uri, Some(grant("system_admin")))
        .await;
    assert_eq!(
        second_admin.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        second_admin.text()
    );
    assert_eq!(
        t.api(Some(&sec), Method::POST, &uri, Some(grant("audit_admin")))
            .await
            .status,
        StatusCode::CONFLICT
    );
    let unknown = t
        .api(Some(&sec), Method::POST, &uri, Some(grant("king")))
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);

    let me = t.app.account_id_by_username("secadmin").await.unwrap();
    let own = t
        .api(
            Some(&sec),
            Method::POST,
            &format!("/api/v1/accounts/{me}/grants"),
            Some(grant("grid_worker")),
        )
        .await;
    assert_eq!(
        own.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "self-grant: {}",
        own.text()
    );
    assert_eq!(t.audit_count("role_granted").await, 1);
}

#[tokio::test]
async fn a_disabled_account_cannot_sign_in_and_loses_its_sessions() {
    let t = spawn().await;
    let micro = t.login("micro").await;
    let sec = t.login("secadmin").await;
    let id = t.app.account_id_by_username("micro").await.unwrap();
    let r = t
        .api(
            Some(&sec),
            Method::POST,
            &format!("/api/v1/accounts/{id}/disable"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["disabled"], true);
    assert_eq!(
        t.api(Some(&micro), Method::GET, "/api/v1/me", None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        t.try_login("micro", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    t.api(
        Some(&sec),
        Method::POST,
        &format!("/api/v1/accounts/{id}/enable"),
        None,
    )
    .await;
    t.login("micro").await;
}

#[tokio::test]
async fn the_login_page_says_what_went_wrong() {
    let t = spawn().await;
    let post = |password: &str| {
        Request::builder()
            .method(Method::POST)
            .uri("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("username=admin&password={password}")))
            .unwrap()
    };
    let wrong = t.send(post("nope")).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.text().contains("用户名或密码错误"));
    let right = t.send(post("Weige%402026")).await;
    assert_eq!(right.status, StatusCode::SEE_OTHER);
    let cookie = right
        .headers
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
}
