//! The registry with privacy by design: nothing sensitive in plaintext at rest, masked answers,
//! audited reveals, corrections and erasures, and scopes that hold.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use app::{Ctx, SensitiveField};
use axum::http::{Method, StatusCode};
use common::{Session, TestApp, spawn};
use serde_json::{Value, json};

const MY_MICRO: &str = "510115001001001001";
const NEXT_MICRO: &str = "510115001001001002";

async fn residents(t: &TestApp, s: &Session, scope: &str, q: &str) -> Vec<Value> {
    let r = t
        .api(
            Some(s),
            Method::GET,
            &format!(
                "/api/v1/registry/residents?scope={scope}&q={}",
                common::encode(q)
            ),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json().as_array().unwrap().clone()
}

/// All the text the database holds for these tables, as it is stored.
async fn raw_rows(t: &TestApp, tables: &[&str]) -> Vec<u8> {
    match &t.db.store {
        store::Store::Sqlite(p, _) => {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(p)
                .await
                .unwrap();
            let path = t.db.url.trim_start_matches("sqlite://");
            let mut bytes = std::fs::read(path).unwrap();
            if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
                bytes.extend(wal);
            }
            bytes
        }
        store::Store::Postgres(p) => {
            let mut all = Vec::new();
            for table in tables {
                let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT t::text FROM {table} t"
                )))
                .fetch_all(p)
                .await
                .unwrap();
                all.extend(rows.join("\n").into_bytes());
            }
            all
        }
    }
}

#[tokio::test]
async fn no_id_number_or_phone_is_stored_in_plaintext() {
    let t = spawn().await;
    let cli = Ctx::cli();
    let some = t
        .app
        .search_residents(&cli, Some(MY_MICRO), "", None)
        .await
        .unwrap();
    assert!(some.len() >= 30, "the micro-grid has people");
    let mut secrets = Vec::new();
    for r in some.iter().take(20) {
        secrets.push(
            t.app
                .reveal(&cli, r.id, SensitiveField::IdNumber)
                .await
                .unwrap(),
        );
        if r.phone.is_some() {
            secrets.push(
                t.app
                    .reveal(&cli, r.id, SensitiveField::Phone)
                    .await
                    .unwrap(),
            );
        }
    }
    assert!(secrets.iter().any(|s| s.len() == 18) && secrets.iter().any(|s| s.len() == 11));
    let raw = raw_rows(&t, &["resident", "audit_event", "household", "building"]).await;
    assert!(raw.len() > 10_000);
    for secret in &secrets {
        assert!(
            !raw.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} is stored in plaintext"
        );
    }
}

#[tokio::test]
async fn answers_are_masked_and_a_building_head_sees_only_what_the_duty_needs() {
    let t = spawn().await;
    let micro = t.login("micro").await;
    let list = residents(&t, &micro, MY_MICRO, "").await;
    assert!(!list.is_empty());
    for r in &list {
        assert_eq!(r["micro_grid"], MY_MICRO);
        assert!(
            r["id_number"].is_null(),
            "a building head does not get ID numbers: {r}"
        );
        assert_eq!(r["can_reveal"], false);
        if let Some(p) = r["phone"].as_str() {
            assert!(p.len() == 11 && &p[3..7] == "****", "{p}");
        }
    }
    let grid = t.login("grid").await;
    let list = residents(&t, &grid, MY_MICRO, "").await;
    let id = list[0]["id_number"].as_str().unwrap();
    assert!(id.starts_with("510115") || id.len() == 18, "{id}");
    assert_eq!(&id[6..14], "********");
    assert_eq!(list[0]["can_reveal"], true);
}

#[tokio::test]
async fn every_reveal_is_audited_and_only_allowed_roles_may_reveal() {
    let t = spawn().await;
    let grid = t.login("grid").await;
    let someone = &residents(&t, &grid, MY_MICRO, "").await[0];
    let id = someone["id"].as_i64().unwrap();
    let r = t
        .api(
            Some(&grid),
            Method::POST,
            &format!("/api/v1/registry/residents/{id}/reveal"),
            Some(json!({"field": "id_number"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let full = r.json()["value"].as_str().unwrap().to_owned();
    assert!(domain::IdNumber::parse(&full).is_ok());
    assert_eq!(
        domain::IdNumber::parse(&full).unwrap().masked(),
        someone["id_number"].as_str().unwrap()
    );
    let events = t
        .app
        .list_audit(
            &Ctx::cli(),
            Some("510115"),
            Some("personal_data_revealed"),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor, "grid");
    assert!(events[0].target.contains(&id.to_string()) && events[0].detail == "resident.id_number");
    assert_eq!(events[0].scope.as_deref(), Some(MY_MICRO));

    let micro = t.login("micro").await;
    let denied = t
        .api(
            Some(&micro),
            Method::POST,
            &format!("/api/v1/registry/residents/{id}/reveal"),
            Some(json!({"field": "phone"})),
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(t.audit_count("personal_data_revealed").await, 1);
    let admin = t.login("secadmin").await;
    let r = t
        .api(
            Some(&admin),
            Method::GET,
            &format!("/api/v1/registry/residents?scope={MY_MICRO}"),
            None,
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "an admin role reads no personal data"
    );
}

#[tokio::test]
async fn a_micro_grid_worker_cannot_read_or_list_the_next_micro_grid() {
    let t = spawn().await;
    let micro = t.login("micro").await;
    let r = t
        .api(
            Some(&micro),
            Method::GET,
            &format!("/api/v1/registry/residents?scope={NEXT_MICRO}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = t
        .api(
            Some(&micro),
            Method::GET,
            &format!("/api/v1/registry/households?scope={NEXT_MICRO}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let theirs = t
        .app
        .households(&Ctx::cli(), NEXT_MICRO, None)
        .await
        .unwrap();
    let household = theirs[0].id;
    let r = t
        .api(
            Some(&micro),
            Method::GET,
            &format!("/api/v1/registry/households/{household}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let page = t
        .page(&micro, &format!("/registry/households/{household}"))
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let page = t
        .page(&micro, &format!("/registry?scope={NEXT_MICRO}"))
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    // Their own micro-grid's households are theirs.
    let mine = t
        .api(
            Some(&micro),
            Method::GET,
            &format!("/api/v1/registry/households?scope={MY_MICRO}"),
            None,
        )
        .await;
    assert_eq!(mine.status, StatusCode::OK);
    assert!(
        mine.json()
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["micro_grid"] == MY_MICRO)
    );
    let page = t.page(&micro, "/registry").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().matches("data-testid=\"resident\"").count() >= 30);
}

#[tokio::test]
async fn residents_are_found_by_name_address_phone_tail_and_id_number() {
    let t = spawn().await;
    let cli = Ctx::cli();
    let all = t
        .app
        .search_residents(&cli, Some(MY_MICRO), "", None)
        .await
        .unwrap();
    let someone = all.iter().find(|r| r.phone.is_some()).unwrap();
    let phone = t
        .app
        .reveal(&cli, someone.id, SensitiveField::Phone)
        .await
        .unwrap();
    let id_number = t
        .app
        .reveal(&cli, someone.id, SensitiveField::IdNumber)
        .await
        .unwrap();
    let grid = t.login("grid").await;
    for q in [
        phone.as_str(),
        &phone[7..],
        id_number.as_str(),
        someone.name.as_str(),
    ] {
        let found = residents(&t, &grid, "510115001001001", q).await;
        assert!(
            found.iter().any(|r| r["id"] == someone.id),
            "{q} did not find {}",
            someone.name
        );
    }
    let by_tag = t
        .app
        .search_residents(
            &cli,
            Some("510115001001001"),
            "",
            Some("living_alone_elderly"),
        )
        .await
        .unwrap();
    assert!(
        by_tag
            .iter()
            .all(|r| r.tags.contains(&"living_alone_elderly".to_owned()))
    );
}

#[tokio::test]
async fn a_record_is_corrected_and_erased_with_an_audit_trail() {
    let t = spawn().await;
    let grid = t.login("grid").await;
    let someone = residents(&t, &grid, MY_MICRO, "").await[0].clone();
    let id = someone["id"].as_i64().unwrap();
    let uri = format!("/api/v1/registry/residents/{id}");
    let r = t
        .api(
            Some(&grid),
            Method::PATCH,
            &uri,
            Some(json!({"phone": "13900001111", "care_grade": "red"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["phone"], "139****1111");
    assert_eq!(r.json()["care_grade"], "red");
    let bad = t
        .api(
            Some(&grid),
            Method::PATCH,
            &uri,
            Some(json!({"phone": "12"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.json()["field"], "phone");
    assert_eq!(t.audit_count("personal_data_corrected").await, 1);
    assert_eq!(
        t.api(Some(&grid), Method::DELETE, &uri, None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        t.api(Some(&grid), Method::GET, &uri, None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(t.audit_count("personal_data_erased").await, 1);
}
