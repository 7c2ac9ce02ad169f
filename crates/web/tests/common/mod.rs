//! A Weige server in-process on a fresh database (the engine `WEIGE_TEST_DATABASE` names), with
//! the demo street loaded, driven through its router without sockets.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use app::{App, Ctx, Settings};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use serde_json::Value;
use store::testing::{self, TestDb};
use tower::ServiceExt;

pub const PASSWORD: &str = app::demo::DEMO_PASSWORD;
pub const TEST_DATA_KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
/// 和平社区, where the walkers work.
pub const INSIDE: &str = "510115001001";
/// 黄金路社区, next door.
pub const OUTSIDE: &str = "510115001002";

pub struct TestApp {
    pub router: Router,
    pub app: App,
    pub db: TestDb,
}

pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub async fn spawn() -> TestApp {
    spawn_with(Settings::default(), web::WebConfig::default()).await
}

pub async fn spawn_with(settings: Settings, config: web::WebConfig) -> TestApp {
    let db = testing::fresh().await;
    let cipher = store::FieldCipher::from_hex(TEST_DATA_KEY).unwrap();
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let files = std::env::temp_dir().join(format!(
        "weige-test-files-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let app = App::new(db.store.clone(), settings)
        .with_cipher(cipher)
        .with_files(files);
    app.seed_demo().await.unwrap();
    app.seed_demo_people(app::DemoSize::Small).await.unwrap();
    app.refresh_map().await.unwrap();
    let router = web::router(web::AppState::new(app.clone(), config));
    TestApp { router, app, db }
}

impl TestApp {
    pub async fn send(&self, req: Request<Body>) -> Reply {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    /// A JSON API call, with a session's cookie and CSRF header when given.
    pub async fn api(
        &self,
        session: Option<&Session>,
        method: Method,
        uri: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(s) = session {
            req = req
                .header(header::COOKIE, &s.cookie)
                .header("x-csrf-token", &s.csrf);
        }
        let body = match body {
            Some(v) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.send(req.body(body).unwrap()).await
    }

    /// A page form post, with the session's cookie and the CSRF field.
    pub async fn form(&self, session: &Session, uri: &str, fields: &[(&str, &str)]) -> Reply {
        let mut body = format!("csrf={}", session.csrf);
        for (k, v) in fields {
            body.push_str(&format!("&{k}={}", encode(v)));
        }
        let req = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(header::COOKIE, &session.cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        self.send(req).await
    }

    pub async fn page(&self, session: &Session, uri: &str) -> Reply {
        let req = Request::builder()
            .uri(uri)
            .header(header::COOKIE, &session.cookie)
            .body(Body::empty())
            .unwrap();
        self.send(req).await
    }

    pub async fn try_login(&self, username: &str, password: &str) -> Reply {
        let body = serde_json::json!({"username": username, "password": password});
        self.api(None, Method::POST, "/api/v1/session", Some(body))
            .await
    }

    pub async fn login(&self, username: &str) -> Session {
        let r = self.try_login(username, PASSWORD).await;
        assert_eq!(r.status, StatusCode::OK, "login {username}: {}", r.text());
        let set = r.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
        Session {
            cookie: set.split(';').next().unwrap().to_owned(),
            csrf: r.json()["csrf_token"].as_str().unwrap().to_owned(),
        }
    }

    /// A new account holding `role` on `scope`, made from the command line.
    pub async fn account_with(&self, username: &str, role: &str, scope: &str) -> i64 {
        let ctx = Ctx::cli();
        let input = app::NewAccountInput {
            username: username.into(),
            display_name: format!("测试 {username}"),
            password: PASSWORD.into(),
            home_scope: scope.into(),
        };
        let a = self.app.create_account(&ctx, &input).await.unwrap();
        self.app.grant_role(&ctx, a.id, role, scope).await.unwrap();
        a.id
    }

    /// How many audit events of `action` there are.
    pub async fn audit_count(&self, action: &str) -> usize {
        let mut tx = self.db.store.read().await.unwrap();
        let q = store::AuditQuery {
            scope: "5".into(),
            action: Some(action.into()),
            before: None,
            limit: 100_000,
        };
        tx.audit_events(&q).await.unwrap().len()
    }
}

pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
