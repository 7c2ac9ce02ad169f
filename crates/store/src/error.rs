use std::collections::HashMap;
use std::sync::LazyLock;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique constraint refused the write; the name is the same on both engines.
    #[error("conflict on {0}")]
    Conflict(String),
    #[error("the database cannot be reached: {0}")]
    Unavailable(String),
    #[error("bad database URL {0}")]
    BadUrl(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// The database answered other than a statement promises (a bug, or a changed schema).
    #[error("unexpected answer from the database: {0}")]
    Internal(String),
}

impl StoreError {
    /// Whether this is a unique-constraint conflict on the named constraint.
    pub fn is_conflict_on(&self, name: &str) -> bool {
        matches!(self, StoreError::Conflict(n) if n == name)
    }
}

/// SQLite reports a unique violation as `UNIQUE constraint failed: table.col, table.col` without
/// the index name; this maps those columns back to the name, read from the SQLite migrations.
static SQLITE_UNIQUE_INDEXES: LazyLock<HashMap<String, String>> = LazyLock::new(|| {
    let mut map = HashMap::new();
    for m in crate::migrate::MIGRATIONS {
        for stmt in m.sqlite.split(';') {
            let words: Vec<&str> = stmt.split_whitespace().collect();
            if let ["CREATE", "UNIQUE", "INDEX", name, "ON", table, rest @ ..] = words.as_slice() {
                let rest = rest.join(" ");
                let cols = rest
                    .split_once('(')
                    .and_then(|(_, r)| r.split_once(')'))
                    .map_or("", |(c, _)| c);
                let key = cols
                    .split(',')
                    .map(|c| format!("{table}.{}", c.trim()))
                    .collect::<Vec<_>>()
                    .join(", ");
                map.insert(key, (*name).to_owned());
            }
        }
    }
    map
});

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                StoreError::Unavailable(e.to_string())
            }
            sqlx::Error::Database(ref db) if db.is_unique_violation() => {
                if let Some(name) = db.constraint() {
                    return StoreError::Conflict(name.to_owned());
                }
                let message = db.message();
                let columns = message.rsplit(": ").next().unwrap_or_default();
                match SQLITE_UNIQUE_INDEXES.get(columns) {
                    Some(name) => StoreError::Conflict(name.clone()),
                    None => StoreError::Database(e),
                }
            }
            // SQLite's file is locked by another process (an import, a second server) for
            // longer than the busy timeout: the database cannot take the write now.
            sqlx::Error::Database(ref db) if is_sqlite_busy(db.code().as_deref()) => {
                StoreError::Unavailable(format!("the database is busy: {}", db.message()))
            }
            other => StoreError::Database(other),
        }
    }
}

/// The direct writer's errors ([`crate::DirectWriter`]), told as sqlx's are: a unique
/// violation by its index's name, a lock held too long as unavailable.
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match &e {
            rusqlite::Error::SqliteFailure(f, message) => {
                let message = message.as_deref().unwrap_or_default();
                if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                {
                    let columns = message.rsplit(": ").next().unwrap_or_default();
                    if let Some(name) = SQLITE_UNIQUE_INDEXES.get(columns) {
                        return StoreError::Conflict(name.clone());
                    }
                }
                if is_sqlite_busy(Some(&f.extended_code.to_string())) {
                    return StoreError::Unavailable(format!("the database is busy: {message}"));
                }
                StoreError::Internal(format!("SQLite: {e}"))
            }
            rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound,
            _ => StoreError::Internal(format!("SQLite: {e}")),
        }
    }
}

/// SQLITE_BUSY and its extended codes (5 + n × 256), as sqlx's SQLite error gives them.
fn is_sqlite_busy(code: Option<&str>) -> bool {
    code.and_then(|c| c.parse::<i32>().ok())
        .is_some_and(|c| c & 0xff == 5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_busy_codes_are_recognised() {
        // SQLITE_BUSY, _RECOVERY, _SNAPSHOT, _TIMEOUT; then SQLITE_LOCKED and a PostgreSQL code.
        for busy in ["5", "261", "517", "773"] {
            assert!(is_sqlite_busy(Some(busy)), "{busy}");
        }
        for other in [None, Some("6"), Some("55P03"), Some("")] {
            assert!(!is_sqlite_busy(other), "{other:?}");
        }
    }

    #[test]
    fn sqlite_unique_columns_map_to_the_shared_index_names() {
        assert_eq!(
            SQLITE_UNIQUE_INDEXES
                .get("account.username")
                .map(String::as_str),
            Some("account_username_key")
        );
        assert_eq!(
            SQLITE_UNIQUE_INDEXES
                .get("role_grant.account_id, role_grant.role, role_grant.scope_id")
                .map(String::as_str),
            Some("role_grant_key")
        );
    }
}
