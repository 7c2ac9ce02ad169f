//! A fresh, migrated database for each test, on the engine `WEIGE_TEST_DATABASE` names: unset or
//! `sqlite` for a temporary SQLite file, or a `postgres://…` URL of a server on which a new
//! database is created per test (and dropped when the [`TestDb`] is dropped).

use crate::{Store, redact_url};
use domain::Millis;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct TestDb {
    pub store: Store,
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    Database { admin_url: String, name: String },
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "weige_t_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos % 1_000_000_000
    )
}

/// The engine tests run on, as named by `WEIGE_TEST_DATABASE`.
pub fn test_database() -> String {
    std::env::var("WEIGE_TEST_DATABASE").unwrap_or_else(|_| "sqlite".to_owned())
}

/// An empty database with the schema applied. Panics when it cannot be made: tests only.
pub async fn fresh() -> TestDb {
    fresh_on(&test_database()).await
}

/// Like [`fresh`], on the engine named (`sqlite` or a `postgres://` URL).
pub async fn fresh_on(target: &str) -> TestDb {
    let target = target.to_owned();
    let name = unique_name();
    let (url, cleanup) = if target.starts_with("postgres") {
        let admin = Store::connect(&target)
            .await
            .unwrap_or_else(|e| panic!("test PostgreSQL {}: {e}", redact_url(&target)));
        if let Store::Postgres(pool) = &admin {
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(pool)
                .await
                .expect("create test database");
        }
        admin.close().await;
        let base = target.rsplit_once('/').map_or(target.as_str(), |(b, _)| b);
        (
            format!("{base}/{name}"),
            Cleanup::Database {
                admin_url: target.clone(),
                name,
            },
        )
    } else {
        let path = std::env::temp_dir().join(format!("{name}.db"));
        (format!("sqlite://{}", path.display()), Cleanup::File(path))
    };
    let store = Store::connect(&url)
        .await
        .expect("connect to test database");
    store
        .migrate(Millis(0))
        .await
        .expect("migrate test database");
    TestDb {
        store,
        url,
        cleanup,
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
            // Dropping a PostgreSQL database needs its connections closed first; `.ci/run`
            // removes the test databases left behind, so nothing is done here.
            Cleanup::Database { .. } => {}
        }
    }
}

impl TestDb {
    /// The admin URL and database name, for a test that wants to clean up by itself.
    pub fn postgres_database(&self) -> Option<(&str, &str)> {
        match &self.cleanup {
            Cleanup::Database { admin_url, name } => Some((admin_url, name)),
            Cleanup::File(_) => None,
        }
    }
}
