//! Store tests. They run on the engine `WEIGE_TEST_DATABASE` names (SQLite by default);
//! `.ci/run` runs them once on each engine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use domain::Millis;
use store::{
    AuditQuery, NewAccount, NewApiKey, NewAuditEvent, NewSession, Store, StoreError, testing,
};

async fn street(store: &Store) -> i64 {
    let mut tx = store.write().await.unwrap();
    let district = tx
        .ensure_grid_node("510115", "温江区", "district", None, Millis(1))
        .await
        .unwrap();
    let street = tx
        .ensure_grid_node("510115001", "柳城街道", "street", Some(district), Millis(1))
        .await
        .unwrap();
    tx.ensure_grid_node(
        "510115001001",
        "和平社区",
        "community",
        Some(street),
        Millis(1),
    )
    .await
    .unwrap();
    tx.ensure_grid_node(
        "510115001002",
        "黄金路社区",
        "community",
        Some(street),
        Millis(1),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    street
}

fn account(username: &str, scope: i64) -> NewAccount<'_> {
    NewAccount {
        username,
        display_name: "测试 用户",
        password_hash: "x",
        home_scope_id: scope,
        now: Millis(1_700_000_000_000),
    }
}

fn event<'a>(action: &'a str, scope: Option<&'a str>) -> NewAuditEvent<'a> {
    NewAuditEvent {
        at: Millis(1_700_000_000_000),
        actor_id: None,
        actor_name: "tester",
        action,
        target: "t",
        outcome: "success",
        client_addr: "127.0.0.1",
        request_id: "r1",
        scope_code: scope,
        detail: "",
    }
}

#[tokio::test]
async fn a_second_migration_run_changes_nothing() {
    let db = testing::fresh().await;
    let again = db.store.migrate(Millis(5)).await.unwrap();
    assert!(again.applied.is_empty());
    assert_eq!(again.already_applied, store::MIGRATIONS.len());
}

#[tokio::test]
async fn taking_a_connection_leaves_its_callers_futures_small() {
    // The pool's own futures are several KB (8.7 KB in a release build); a caller that may
    // read the database carries only a box of them, read or not.
    let db = testing::fresh().await;
    let s = &db.store;
    for (what, size) in [
        ("read_once", std::mem::size_of_val(&s.read_once())),
        ("read", std::mem::size_of_val(&s.read())),
        ("write", std::mem::size_of_val(&s.write())),
        ("hold_writer", std::mem::size_of_val(&s.hold_writer())),
    ] {
        assert!(size <= 256, "{what}'s future is {size} bytes");
    }
}

#[tokio::test]
async fn a_taken_username_is_a_conflict_named_alike_on_both_engines() {
    let db = testing::fresh().await;
    let scope = street(&db.store).await;
    let mut tx = db.store.write().await.unwrap();
    tx.insert_account(&account("grid.li", scope)).await.unwrap();
    let err = tx
        .insert_account(&account("grid.li", scope))
        .await
        .unwrap_err();
    assert!(err.is_conflict_on("account_username_key"), "{err:?}");
}

#[tokio::test]
async fn a_rolled_back_transaction_leaves_nothing_behind() {
    let db = testing::fresh().await;
    let scope = street(&db.store).await;
    {
        let mut tx = db.store.write().await.unwrap();
        tx.insert_account(&account("half.written", scope))
            .await
            .unwrap();
        // dropped without commit
    }
    let mut tx = db.store.read().await.unwrap();
    assert_eq!(tx.account_by_username("half.written").await.unwrap(), None);
}

#[tokio::test]
async fn a_kept_writer_commits_rolls_back_and_never_hands_on_an_open_transaction() {
    let db = testing::fresh().await;
    let scope = street(&db.store).await;
    let mut held = db.store.hold_writer().await.unwrap();
    // Transactions in a row on one connection: the first kept, the second undone.
    let tx = held.begin().await.unwrap();
    tx.insert_account(&account("kept", scope)).await.unwrap();
    held.commit().await.unwrap();
    let tx = held.begin().await.unwrap();
    tx.insert_account(&account("undone", scope)).await.unwrap();
    held.rollback().await.unwrap();
    assert!(!held.is_open());
    assert!(matches!(held.commit().await, Err(StoreError::Internal(_))));
    // Dropped halfway through a transaction: the connection is closed, not handed on, so
    // the next writer neither sees nor continues the half-written one.
    let tx = held.begin().await.unwrap();
    tx.insert_account(&account("half.written", scope))
        .await
        .unwrap();
    assert!(held.is_open());
    drop(held);
    let mut tx = db.store.write().await.unwrap();
    tx.insert_account(&account("after", scope)).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = db.store.read().await.unwrap();
    for (name, there) in [
        ("kept", true),
        ("undone", false),
        ("half.written", false),
        ("after", true),
    ] {
        let found = tx.account_by_username(name).await.unwrap();
        assert_eq!(found.is_some(), there, "{name}");
    }
}

#[tokio::test]
async fn accounts_grants_and_sessions_round_trip() {
    let db = testing::fresh().await;
    let street_id = street(&db.store).await;
    let mut tx = db.store.write().await.unwrap();
    let id = tx
        .insert_account(&account("micro.wang", street_id))
        .await
        .unwrap();
    let community = tx.grid_node_by_code("510115001001").await.unwrap().unwrap();
    tx.insert_grant(id, "micro_grid_worker", community.id, None, Millis(2))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // On PostgreSQL a failed statement ends its transaction, so the duplicate gets one of its own.
    let mut tx = db.store.write().await.unwrap();
    let dup = tx
        .insert_grant(id, "micro_grid_worker", community.id, None, Millis(3))
        .await
        .unwrap_err();
    assert!(dup.is_conflict_on("role_grant_key"), "{dup:?}");
    drop(tx);

    let mut tx = db.store.write().await.unwrap();
    let a = tx.account_by_username("micro.wang").await.unwrap().unwrap();
    assert_eq!(
        (a.home_scope.as_str(), a.disabled, a.failed_logins),
        ("510115001", false, 0)
    );
    let grants = tx.grants_of(id).await.unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(
        (grants[0].role.as_str(), grants[0].scope_code.as_str()),
        ("micro_grid_worker", "510115001001")
    );

    tx.set_login_counters(id, 4, Some(99)).await.unwrap();
    let s = NewSession {
        token_hash: "abc",
        account_id: id,
        csrf_token: "c",
        now: Millis(10),
        client_addr: "::1",
        user_agent: "t",
    };
    tx.insert_session(&s).await.unwrap();
    let sid = tx.session_by_token_hash("abc").await.unwrap().unwrap().id;
    tx.touch_session(sid, Millis(20)).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = db.store.write().await.unwrap();
    let a = tx.account_by_id(id).await.unwrap().unwrap();
    assert_eq!((a.failed_logins, a.locked_until), (4, Some(99)));
    assert_eq!(
        tx.session_by_token_hash("abc")
            .await
            .unwrap()
            .unwrap()
            .last_seen_at,
        20
    );
    assert_eq!(tx.delete_idle_sessions(Millis(15)).await.unwrap(), 0);
    assert_eq!(tx.delete_idle_sessions(Millis(21)).await.unwrap(), 1);
    assert_eq!(tx.accounts_in_scope("510115001").await.unwrap().len(), 1);
    assert_eq!(tx.accounts_in_scope("510115001002").await.unwrap().len(), 0);
}

#[tokio::test]
async fn revoking_a_key_twice_reports_it() {
    let db = testing::fresh().await;
    let scope = street(&db.store).await;
    let mut tx = db.store.write().await.unwrap();
    let k = NewApiKey {
        name: "12345",
        prefix: "wk_1234",
        key_hash: "h",
        role: "community_staff",
        scope_id: scope,
        created_by: None,
        now: Millis(1),
    };
    let id = tx.insert_api_key(&k).await.unwrap();
    assert_eq!(
        tx.api_key_by_hash("h").await.unwrap().unwrap().created_by,
        None
    );
    assert!(tx.revoke_api_key(id, Millis(2)).await.unwrap());
    assert!(!tx.revoke_api_key(id, Millis(3)).await.unwrap());
    assert_eq!(
        tx.api_key_by_id(id).await.unwrap().unwrap().revoked_at,
        Some(2)
    );
}

#[tokio::test]
async fn the_audit_log_is_append_only_and_pages_by_id() {
    let db = testing::fresh().await;
    let mut tx = db.store.write().await.unwrap();
    for _ in 0..5 {
        tx.insert_audit(&event("login_ok", Some("510115001001")))
            .await
            .unwrap();
    }
    tx.insert_audit(&event("login_failed", None)).await.unwrap();
    tx.insert_audit(&event("login_ok", Some("510115002001")))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = db.store.read().await.unwrap();
    let q = AuditQuery {
        scope: "510115001".into(),
        action: None,
        before: None,
        limit: 4,
    };
    let first = tx.audit_events(&q).await.unwrap();
    // Newest first; another street's event is not there, the unscoped one is.
    assert_eq!(first.len(), 4);
    assert_eq!(first[0].action, "login_failed");
    assert!(first.windows(2).all(|w| w[0].id > w[1].id));
    let rest = tx
        .audit_events(&AuditQuery {
            before: Some(first[3].id),
            ..q.clone()
        })
        .await
        .unwrap();
    assert_eq!(rest.len(), 2);
    let failed = tx
        .audit_events(&AuditQuery {
            action: Some("login_failed".into()),
            ..q
        })
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    drop(tx);

    let (update, delete) = match &db.store {
        Store::Sqlite(p, _) => (
            sqlx::query("UPDATE audit_event SET outcome = 'x'")
                .execute(p)
                .await
                .map(|_| ()),
            sqlx::query("DELETE FROM audit_event")
                .execute(p)
                .await
                .map(|_| ()),
        ),
        Store::Postgres(p) => (
            sqlx::query("UPDATE audit_event SET outcome = 'x'")
                .execute(p)
                .await
                .map(|_| ()),
            sqlx::query("DELETE FROM audit_event")
                .execute(p)
                .await
                .map(|_| ()),
        ),
    };
    assert!(update.unwrap_err().to_string().contains("append-only"));
    assert!(delete.unwrap_err().to_string().contains("append-only"));
}

#[tokio::test]
async fn an_unreachable_database_is_reported_as_unavailable() {
    let err = Store::connect("postgres://weige@127.0.0.1:1/weige")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    let err = Store::connect("mysql://localhost/weige").await.unwrap_err();
    assert!(matches!(err, StoreError::BadUrl(_)), "{err:?}");
}

/// (table, column, nullable) and index names, read from the live schema.
type Schema = (Vec<(String, String, bool)>, Vec<String>);

async fn schema(store: &Store) -> Schema {
    match store {
        Store::Sqlite(p, _) => {
            let cols: Vec<(String, String, bool)> = sqlx::query_as(
                "SELECT m.name, c.name, c.\"notnull\" = 0 AND c.pk = 0 FROM sqlite_master m, pragma_table_info(m.name) c \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, c.name",
            )
            .fetch_all(p)
            .await
            .unwrap();
            let idx: Vec<(String,)> = sqlx::query_as(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name",
            )
            .fetch_all(p)
            .await
            .unwrap();
            (cols, idx.into_iter().map(|i| i.0).collect())
        }
        Store::Postgres(p) => {
            let cols: Vec<(String, String, bool)> = sqlx::query_as(
                "SELECT table_name::text, column_name::text, is_nullable = 'YES' FROM information_schema.columns \
                 WHERE table_schema = 'public' ORDER BY table_name, column_name",
            )
            .fetch_all(p)
            .await
            .unwrap();
            let idx: Vec<(String,)> = sqlx::query_as(
                "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public' AND indexname NOT LIKE '%_pkey' ORDER BY indexname",
            )
            .fetch_all(p)
            .await
            .unwrap();
            (cols, idx.into_iter().map(|i| i.0).collect())
        }
    }
}

/// Indexes only PostgreSQL has: the duplicate check's, which SQLite's intake writer keeps in
/// memory instead (several servers may write to one PostgreSQL database).
const POSTGRES_ONLY: [&str; 1] = ["case_record_duplicate_idx"];

/// The two migration sets describe the same tables, columns, nullability and index names (but
/// for [`POSTGRES_ONLY`]). Needs both engines: SQLite always, PostgreSQL from `WEIGE_TEST_POSTGRES` (default: the local server).
#[tokio::test]
async fn the_sqlite_and_postgres_schemas_agree() {
    let pg_url = std::env::var("WEIGE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let sqlite = testing::fresh_on("sqlite").await;
    let pg = testing::fresh_on(&pg_url).await;
    assert_eq!(sqlite.store.engine(), store::Engine::Sqlite);
    assert_eq!(pg.store.engine(), store::Engine::Postgres);
    let (a, mut b) = (schema(&sqlite.store).await, schema(&pg.store).await);
    assert!(!a.0.is_empty() && !a.1.is_empty());
    assert_eq!(a.0, b.0, "columns differ");
    for name in POSTGRES_ONLY {
        assert!(!a.1.iter().any(|i| i == name), "{name} on SQLite");
        let at = b.1.iter().position(|i| i == name);
        b.1.remove(at.unwrap_or_else(|| panic!("{name} missing on PostgreSQL")));
    }
    assert_eq!(a.1, b.1, "index names differ");
}
