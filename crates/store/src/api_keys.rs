//! API keys for integrations. Only a hash of the key is stored.

use crate::{Result, Tx, on};
use domain::Millis;

#[derive(Debug, Clone)]
pub struct NewApiKey<'a> {
    pub name: &'a str,
    pub prefix: &'a str,
    pub key_hash: &'a str,
    pub role: &'a str,
    pub scope_id: i64,
    pub created_by: Option<i64>,
    pub now: Millis,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRow {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub role: String,
    pub scope_code: String,
    pub scope_name: String,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

type ApiKeyTuple = (
    i64,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    Option<i64>,
    Option<i64>,
);

const API_KEY_COLUMNS: &str = "SELECT k.id, k.name, k.prefix, k.role, g.code, g.name, a.username, \
     k.created_at, k.revoked_at, k.last_used_at \
     FROM api_key k JOIN grid_node g ON g.id = k.scope_id LEFT JOIN account a ON a.id = k.created_by";

fn row(t: ApiKeyTuple) -> ApiKeyRow {
    ApiKeyRow {
        id: t.0,
        name: t.1,
        prefix: t.2,
        role: t.3,
        scope_code: t.4,
        scope_name: t.5,
        created_by: t.6,
        created_at: t.7,
        revoked_at: t.8,
        last_used_at: t.9,
    }
}

impl Tx {
    pub async fn insert_api_key(&mut self, k: &NewApiKey<'_>) -> Result<i64> {
        let id: i64 = on!(self, c => sqlx::query_scalar(
            "INSERT INTO api_key (name, prefix, key_hash, role, scope_id, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
            .bind(k.name)
            .bind(k.prefix)
            .bind(k.key_hash)
            .bind(k.role)
            .bind(k.scope_id)
            .bind(k.created_by)
            .bind(k.now.0)
            .fetch_one(&mut *c)
            .await?);
        Ok(id)
    }

    pub async fn api_key_by_hash(&mut self, key_hash: &str) -> Result<Option<ApiKeyRow>> {
        let sql = sqlx::AssertSqlSafe(format!("{API_KEY_COLUMNS} WHERE k.key_hash = $1"));
        let r: Option<ApiKeyTuple> =
            on!(self, c => sqlx::query_as(sql).bind(key_hash).fetch_optional(&mut *c).await?);
        Ok(r.map(row))
    }

    pub async fn api_key_by_id(&mut self, id: i64) -> Result<Option<ApiKeyRow>> {
        let sql = sqlx::AssertSqlSafe(format!("{API_KEY_COLUMNS} WHERE k.id = $1"));
        let r: Option<ApiKeyTuple> =
            on!(self, c => sqlx::query_as(sql).bind(id).fetch_optional(&mut *c).await?);
        Ok(r.map(row))
    }

    /// Keys whose scope lies inside `prefix`, newest first.
    pub async fn api_keys_in_scope(&mut self, prefix: &str) -> Result<Vec<ApiKeyRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{API_KEY_COLUMNS} WHERE g.code LIKE $1 || '%' ORDER BY k.id DESC"
        ));
        let rows: Vec<ApiKeyTuple> =
            on!(self, c => sqlx::query_as(sql).bind(prefix).fetch_all(&mut *c).await?);
        Ok(rows.into_iter().map(row).collect())
    }

    /// Revokes a key; false when it was already revoked.
    pub async fn revoke_api_key(&mut self, id: i64, now: Millis) -> Result<bool> {
        let n = on!(self, c => sqlx::query("UPDATE api_key SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .bind(now.0)
            .execute(&mut *c)
            .await?
            .rows_affected());
        Ok(n > 0)
    }

    pub async fn touch_api_key(&mut self, id: i64, now: Millis) -> Result<()> {
        on!(self, c => sqlx::query("UPDATE api_key SET last_used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now.0)
            .execute(&mut *c)
            .await?.rows_affected());
        Ok(())
    }
}
