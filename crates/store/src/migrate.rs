//! Schema migrations, embedded in the binary, one SQL file per engine and version. Applied in
//! order inside one transaction; a migration changed after it was applied is refused.

use crate::{Result, Store, StoreError, Tx, on};
use domain::Millis;
use sha2::{Digest, Sha256};

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sqlite: include_str!("../migrations/sqlite/0001_foundation.sql"),
        postgres: include_str!("../migrations/postgres/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "grid_map",
        sqlite: include_str!("../migrations/sqlite/0002_grid_map.sql"),
        postgres: include_str!("../migrations/postgres/0002_grid_map.sql"),
    },
    Migration {
        version: 3,
        name: "registry",
        sqlite: include_str!("../migrations/sqlite/0003_registry.sql"),
        postgres: include_str!("../migrations/postgres/0003_registry.sql"),
    },
    Migration {
        version: 4,
        name: "roster_tags",
        sqlite: include_str!("../migrations/sqlite/0004_roster_tags.sql"),
        postgres: include_str!("../migrations/postgres/0004_roster_tags.sql"),
    },
    Migration {
        version: 5,
        name: "cases",
        sqlite: include_str!("../migrations/sqlite/0005_cases.sql"),
        postgres: include_str!("../migrations/postgres/0005_cases.sql"),
    },
    Migration {
        version: 6,
        name: "notifications",
        sqlite: include_str!("../migrations/sqlite/0006_notifications.sql"),
        postgres: include_str!("../migrations/postgres/0006_notifications.sql"),
    },
    Migration {
        version: 7,
        name: "case_indexes",
        sqlite: include_str!("../migrations/sqlite/0007_case_indexes.sql"),
        postgres: include_str!("../migrations/postgres/0007_case_indexes.sql"),
    },
    Migration {
        version: 8,
        name: "duplicate_index",
        sqlite: include_str!("../migrations/sqlite/0008_duplicate_index.sql"),
        postgres: include_str!("../migrations/postgres/0008_duplicate_index.sql"),
    },
    Migration {
        version: 9,
        name: "case_actor_index",
        sqlite: include_str!("../migrations/sqlite/0009_case_actor_index.sql"),
        postgres: include_str!("../migrations/postgres/0009_case_actor_index.sql"),
    },
    Migration {
        version: 10,
        name: "category_questions",
        sqlite: include_str!("../migrations/sqlite/0010_category_questions.sql"),
        postgres: include_str!("../migrations/postgres/0010_category_questions.sql"),
    },
    Migration {
        version: 11,
        name: "intake_channels",
        sqlite: include_str!("../migrations/sqlite/0011_intake_channels.sql"),
        postgres: include_str!("../migrations/postgres/0011_intake_channels.sql"),
    },
    Migration {
        version: 12,
        name: "case_event_time_index",
        sqlite: include_str!("../migrations/sqlite/0012_case_event_time_index.sql"),
        postgres: include_str!("../migrations/postgres/0012_case_event_time_index.sql"),
    },
    Migration {
        version: 13,
        name: "reporter_phone_index",
        sqlite: include_str!("../migrations/sqlite/0013_reporter_phone_index.sql"),
        postgres: include_str!("../migrations/postgres/0013_reporter_phone_index.sql"),
    },
    Migration {
        version: 14,
        name: "intake_counts",
        sqlite: include_str!("../migrations/sqlite/0014_intake_counts.sql"),
        postgres: include_str!("../migrations/postgres/0014_intake_counts.sql"),
    },
    Migration {
        version: 15,
        name: "next_alert",
        sqlite: include_str!("../migrations/sqlite/0015_next_alert.sql"),
        postgres: include_str!("../migrations/postgres/0015_next_alert.sql"),
    },
    Migration {
        version: 16,
        name: "drop_status_deadline_index",
        sqlite: include_str!("../migrations/sqlite/0016_drop_status_deadline_index.sql"),
        postgres: include_str!("../migrations/postgres/0016_drop_status_deadline_index.sql"),
    },
    Migration {
        version: 17,
        name: "duplicate_check_in_memory",
        sqlite: include_str!("../migrations/sqlite/0017_duplicate_check_in_memory.sql"),
        postgres: include_str!("../migrations/postgres/0017_duplicate_check_in_memory.sql"),
    },
    Migration {
        version: 18,
        name: "actor_index_without_anonymous",
        sqlite: include_str!("../migrations/sqlite/0018_actor_index_without_anonymous.sql"),
        postgres: include_str!("../migrations/postgres/0018_actor_index_without_anonymous.sql"),
    },
    Migration {
        version: 19,
        name: "keyed_counters",
        sqlite: include_str!("../migrations/sqlite/0019_keyed_counters.sql"),
        postgres: include_str!("../migrations/postgres/0019_keyed_counters.sql"),
    },
];

/// What a migration run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateReport {
    pub applied: Vec<(i64, &'static str)>,
    pub already_applied: usize,
}

fn checksum(sql: &str) -> String {
    crate::crypto::hex(&Sha256::digest(sql.as_bytes()))
}

const CREATE_LEDGER: &str = "CREATE TABLE IF NOT EXISTS weige_migration (
    version     BIGINT PRIMARY KEY,
    name        TEXT   NOT NULL,
    checksum    TEXT   NOT NULL,
    applied_at  BIGINT NOT NULL
)";

impl Store {
    /// Brings the schema up to date. Safe to run again, and from several servers at once.
    pub async fn migrate(&self, now: Millis) -> Result<MigrateReport> {
        let mut tx = self.write().await?;
        let applied: Vec<(i64, String)> = on!(&mut tx, c => {
            sqlx::raw_sql(CREATE_LEDGER).execute(&mut *c).await?;
            if matches!(self, Store::Postgres(_)) {
                sqlx::query("LOCK TABLE weige_migration IN EXCLUSIVE MODE").execute(&mut *c).await?;
            }
            sqlx::query_as("SELECT version, checksum FROM weige_migration ORDER BY version")
                .fetch_all(&mut *c)
                .await?
        });
        let mut report = MigrateReport {
            applied: Vec::new(),
            already_applied: 0,
        };
        for m in MIGRATIONS {
            let sql = match tx {
                Tx::Sqlite(_) => m.sqlite,
                Tx::Postgres(_) => m.postgres,
            };
            let sum = checksum(sql);
            if let Some((_, known)) = applied.iter().find(|(v, _)| *v == m.version) {
                if *known != sum {
                    return Err(StoreError::Migration(format!(
                        "migration {} ({}) was changed after it was applied to this database",
                        m.version, m.name
                    )));
                }
                report.already_applied += 1;
                continue;
            }
            on!(&mut tx, c => {
                sqlx::raw_sql(sql).execute(&mut *c).await.map_err(|e| {
                    StoreError::Migration(format!("migration {} ({}): {e}", m.version, m.name))
                })?;
                sqlx::query("INSERT INTO weige_migration (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)")
                    .bind(m.version)
                    .bind(m.name)
                    .bind(&sum)
                    .bind(now.0)
                    .execute(&mut *c)
                    .await?;
            });
            report.applied.push((m.version, m.name));
        }
        if let Some((latest, _)) = applied.last()
            && *latest > MIGRATIONS.last().map_or(0, |m| m.version)
        {
            return Err(StoreError::Migration(format!(
                "the database is at schema version {latest}, newer than this program knows; use a newer weige"
            )));
        }
        tx.commit().await?;
        Ok(report)
    }
}
