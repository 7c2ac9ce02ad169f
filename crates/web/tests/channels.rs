//! The other channels over HTTP: the chat bot's signed webhook, the drafts page where a worker
//! confirms in one tap, work orders transferred through the API, and the category page's
//! question editor.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::spawn;
use serde_json::json;

const MICRO: &str = "510115001001001001";

fn hook(
    group: &str,
    body: &str,
    timestamp: Option<i64>,
    signature: Option<String>,
) -> Request<Body> {
    let mut req = Request::post(format!("/hooks/chat/{group}"))
        .header(header::HOST, "weige.example")
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(ts) = timestamp {
        req = req.header("x-weige-timestamp", ts.to_string());
    }
    if let Some(sig) = signature {
        req = req.header("x-weige-signature", sig);
    }
    req.body(Body::from(body.to_owned())).unwrap()
}

#[tokio::test]
async fn a_chat_bot_posts_a_worker_confirms_and_the_case_is_there() {
    let t = spawn().await;
    let sysadmin = t.login("sysadmin").await;
    let made = t
        .api(
            Some(&sysadmin),
            Method::POST,
            "/api/v1/chat-groups",
            Some(json!({"code": "lc-1", "name": "柳城一组居民群", "scope": MICRO})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    let secret = made.json()["secret"].as_str().unwrap().to_owned();
    let body = json!({"message_id": "m-1", "sender": "李阿姨", "text": "单元门禁坏了"}).to_string();
    let now = app::now().0 / 1000;

    // Unsigned and forged: 401; a timestamp an hour old (a replay): 403. Each in {code, message}.
    let unsigned = t.send(hook("lc-1", &body, None, None)).await;
    assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        unsigned.json()["code"],
        "unauthenticated",
        "{}",
        unsigned.text()
    );
    let forged = t
        .send(hook("lc-1", &body, Some(now), Some("sha256=beef".into())))
        .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    let old = now - 3_600;
    let replayed = t
        .send(hook(
            "lc-1",
            &body,
            Some(old),
            Some(app::signature(&secret, old, &body)),
        ))
        .await;
    assert_eq!(
        replayed.status,
        StatusCode::FORBIDDEN,
        "{}",
        replayed.text()
    );
    assert!(
        replayed.json()["message"]
            .as_str()
            .unwrap()
            .contains("重放")
    );
    let unknown = t
        .send(hook(
            "nope",
            &body,
            Some(now),
            Some(app::signature(&secret, now, &body)),
        ))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    // Signed: a draft, and the text for the bot to post back; the same message again: the same.
    let ok = t
        .send(hook(
            "lc-1",
            &body,
            Some(now),
            Some(app::signature(&secret, now, &body)),
        ))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
    let draft = ok.json()["draft_id"].as_i64().unwrap();
    assert!(ok.json()["reply"].as_str().unwrap().contains("已收到"));
    let again = t
        .send(hook(
            "lc-1",
            &body,
            Some(now),
            Some(app::signature(&secret, now, &body)),
        ))
        .await;
    assert_eq!(again.json()["draft_id"].as_i64(), Some(draft));

    // The micro-grid worker sees it on the drafts page and confirms it with one tap.
    let micro = t.login("micro").await;
    let page = t.page(&micro, "/chat-drafts").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("单元门禁坏了"));
    let tapped = t
        .form(
            &micro,
            &format!("/chat-drafts/{draft}/confirm"),
            &[("category", "sg.public_facilities")],
        )
        .await;
    assert_eq!(tapped.status, StatusCode::SEE_OTHER, "{}", tapped.text());
    let to = tapped.headers[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(to.starts_with("/cases/"), "{to}");
    let case = t.page(&micro, &to).await.text();
    assert!(case.contains("微信群"), "the channel is shown");
    assert!(case.contains("单元门禁坏了"));
    assert!(
        !t.page(&micro, "/chat-drafts")
            .await
            .text()
            .contains("单元门禁坏了")
    );
    let after = t
        .send(hook(
            "lc-1",
            &body,
            Some(now),
            Some(app::signature(&secret, now, &body)),
        ))
        .await;
    assert_eq!(after.json()["status"], "confirmed");
    assert!(
        after.json()["reply"]
            .as_str()
            .unwrap()
            .contains(after.json()["number"].as_str().unwrap())
    );
}

#[tokio::test]
async fn a_transfer_is_taken_once_and_a_bad_one_is_told_why() {
    let t = spawn().await;
    let sysadmin = t.login("sysadmin").await;
    let source = t
        .api(
            Some(&sysadmin),
            Method::POST,
            "/api/v1/transfer-sources",
            Some(json!({"code": "cityapp", "name": "城市随手拍", "channel": "city_app"})),
        )
        .await;
    assert_eq!(source.status, StatusCode::CREATED, "{}", source.text());
    // The city app's integration holds a key of the street (it reports there).
    let admin = t.login("admin").await;
    let order = json!({
        "source": "cityapp", "external_id": "APP-88", "reported_at": "2026-11-28T10:00:00+08:00",
        "category": "sg.sanitation", "description": "河边垃圾", "micro_grid": MICRO,
    });
    let first = t
        .api(
            Some(&admin),
            Method::POST,
            "/api/v1/transfers",
            Some(order.clone()),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    assert_eq!(first.json()["resent"], false);
    let again = t
        .api(
            Some(&admin),
            Method::POST,
            "/api/v1/transfers",
            Some(order.clone()),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json()["resent"], true);
    assert_eq!(again.json()["number"], first.json()["number"]);
    let mut missing = order.clone();
    missing.as_object_mut().unwrap().remove("external_id");
    let refused = t
        .api(
            Some(&admin),
            Method::POST,
            "/api/v1/transfers",
            Some(missing),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.json()["code"], "invalid");
    assert_eq!(refused.json()["field"], "external_id", "{}", refused.text());
    let listed = t
        .api(
            Some(&admin),
            Method::GET,
            "/api/v1/cases?scope=510115001&channel=city_app",
            None,
        )
        .await;
    assert_eq!(
        listed.json()["items"].as_array().unwrap().len(),
        1,
        "{}",
        listed.text()
    );
}

#[tokio::test]
async fn the_street_admin_edits_a_categorys_questions_on_its_page() {
    let t = spawn().await;
    let admin = t.login("admin").await;
    let page = t
        .page(&admin, "/admin/categories/sg.sanitation")
        .await
        .text();
    assert!(page.contains("data-testid=\"questions-form\""));
    assert_eq!(
        page.matches("data-testid=\"question-row\"").count(),
        2,
        "two blank rows"
    );
    let row = |code: &'static str,
               text: &'static str,
               kind: &'static str,
               required: &'static str,
               values: &'static str| {
        [
            ("q_code", code),
            ("q_description", text),
            ("q_datatype", kind),
            ("q_required", required),
            ("q_values", values),
            ("q_hint", ""),
        ]
    };
    let mut fields: Vec<(&str, &str)> = Vec::new();
    fields.extend(row(
        "smell",
        "气味如何？",
        "singlevaluelist",
        "true",
        "none=无; strong＝很大",
    ));
    fields.extend(row("", "", "string", "false", ""));
    let saved = t
        .form(&admin, "/admin/categories/sg.sanitation/questions", &fields)
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    assert!(
        saved.headers[header::LOCATION]
            .to_str()
            .unwrap()
            .contains("ok=1")
    );
    let c = t
        .app
        .category_list()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.code == "sg.sanitation")
        .unwrap();
    assert_eq!(c.questions.len(), 1);
    assert_eq!(c.questions[0].values[1].name, "很大");
    let page = t
        .page(&admin, "/admin/categories/sg.sanitation")
        .await
        .text();
    assert!(page.contains("value=\"气味如何？\""));
    assert_eq!(page.matches("data-testid=\"question-row\"").count(), 3);

    // A list question without choices: told why, nothing changed.
    let bad: Vec<(&str, &str)> = row("kind", "哪种？", "multivaluelist", "false", "").to_vec();
    let refused = t
        .form(&admin, "/admin/categories/sg.sanitation/questions", &bad)
        .await;
    let to = refused.headers[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(to.contains("err="), "{to}");
    let shown = t.page(&admin, &to).await.text();
    assert!(
        shown.contains("选择题须有选项"),
        "the reason is shown on the page"
    );
    let c = t
        .app
        .category_list()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.code == "sg.sanitation")
        .unwrap();
    assert_eq!(c.questions[0].code, "smell");
}

#[tokio::test]
async fn the_system_admin_sets_up_a_group_and_a_source_on_the_channels_page() {
    let t = spawn().await;
    let sysadmin = t.login("sysadmin").await;
    let page = t.page(&sysadmin, "/admin/channels").await;
    assert_eq!(page.status, StatusCode::OK);
    let made = t
        .form(
            &sysadmin,
            "/admin/channels/groups",
            &[
                ("code", "lc-2"),
                ("name", "二组群"),
                ("scope", MICRO),
                ("reply_webhook_id", ""),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text());
    let html = made.text();
    let shown = html
        .split("data-testid=\"group-secret\"")
        .nth(1)
        .expect("the secret is shown once");
    let secret = shown
        .split("<code>")
        .nth(2)
        .and_then(|s| s.split("</code>").next())
        .unwrap()
        .to_owned();
    assert!(shown.contains("/hooks/chat/lc-2"), "{shown}");
    // The bot signs with what the page showed.
    let body = json!({"message_id": "m-9", "text": "路灯不亮"}).to_string();
    let now = app::now().0 / 1000;
    let ok = t
        .send(hook(
            "lc-2",
            &body,
            Some(now),
            Some(app::signature(&secret, now, &body)),
        ))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
    let again = t.page(&sysadmin, "/admin/channels").await.text();
    assert!(again.contains("二组群"));
    assert!(!again.contains(&secret), "shown only once");

    let source = t
        .form(
            &sysadmin,
            "/admin/channels/sources",
            &[
                ("code", "12345"),
                ("name", "市民热线"),
                ("channel", "hotline"),
                ("webhook_id", ""),
            ],
        )
        .await;
    assert_eq!(source.status, StatusCode::SEE_OTHER);
    let bad = t
        .form(
            &sysadmin,
            "/admin/channels/sources",
            &[
                ("code", "12345"),
                ("name", "重复"),
                ("channel", "hotline"),
                ("webhook_id", ""),
            ],
        )
        .await;
    assert!(
        bad.headers[header::LOCATION]
            .to_str()
            .unwrap()
            .contains("err="),
        "a second source with the code is refused"
    );
    assert_eq!(
        t.page(&sysadmin, "/admin/channels")
            .await
            .text()
            .matches("data-testid=\"transfer-source\"")
            .count(),
        1
    );
    // A community worker may not open it.
    let community = t.login("community").await;
    assert_eq!(
        t.page(&community, "/admin/channels").await.status,
        StatusCode::FORBIDDEN
    );
}
