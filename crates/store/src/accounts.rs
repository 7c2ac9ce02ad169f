//! Staff accounts, their role grants and their sessions.

use crate::{Result, Tx, on};
use domain::Millis;

#[derive(Debug, Clone)]
pub struct NewAccount<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
    pub home_scope_id: i64,
    pub now: Millis,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub home_scope: String,
    pub home_scope_name: String,
    pub disabled: bool,
    pub failed_logins: i64,
    pub locked_until: Option<i64>,
    pub created_at: i64,
}

type AccountTuple = (
    i64,
    String,
    String,
    String,
    String,
    String,
    bool,
    i64,
    Option<i64>,
    i64,
);

impl From<AccountTuple> for Account {
    fn from(t: AccountTuple) -> Self {
        Account {
            id: t.0,
            username: t.1,
            display_name: t.2,
            password_hash: t.3,
            home_scope: t.4,
            home_scope_name: t.5,
            disabled: t.6,
            failed_logins: t.7,
            locked_until: t.8,
            created_at: t.9,
        }
    }
}

const ACCOUNT_COLUMNS: &str = "SELECT a.id, a.username, a.display_name, a.password_hash, g.code, g.name, \
     a.disabled, a.failed_logins, a.locked_until, a.created_at \
     FROM account a JOIN grid_node g ON g.id = a.home_scope_id";

#[derive(Debug, Clone, PartialEq)]
pub struct GrantRow {
    pub id: i64,
    pub account_id: i64,
    pub role: String,
    pub scope_code: String,
    pub scope_name: String,
    pub granted_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub token_hash: &'a str,
    pub account_id: i64,
    pub csrf_token: &'a str,
    pub now: Millis,
    pub client_addr: &'a str,
    pub user_agent: &'a str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    pub id: i64,
    pub account_id: i64,
    pub csrf_token: String,
    pub created_at: i64,
    pub last_seen_at: i64,
}

impl Tx {
    pub async fn insert_account(&mut self, a: &NewAccount<'_>) -> Result<i64> {
        let id: i64 = on!(self, c => sqlx::query_scalar(
            "INSERT INTO account (username, display_name, password_hash, home_scope_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id")
            .bind(a.username)
            .bind(a.display_name)
            .bind(a.password_hash)
            .bind(a.home_scope_id)
            .bind(a.now.0)
            .fetch_one(&mut *c)
            .await?);
        Ok(id)
    }

    pub async fn account_by_username(&mut self, username: &str) -> Result<Option<Account>> {
        let sql = sqlx::AssertSqlSafe(format!("{ACCOUNT_COLUMNS} WHERE a.username = $1"));
        let row: Option<AccountTuple> = on!(self, c => sqlx::query_as(sql)
            .bind(username)
            .fetch_optional(&mut *c)
            .await?);
        Ok(row.map(Account::from))
    }

    pub async fn account_by_id(&mut self, id: i64) -> Result<Option<Account>> {
        let sql = sqlx::AssertSqlSafe(format!("{ACCOUNT_COLUMNS} WHERE a.id = $1"));
        let row: Option<AccountTuple> = on!(self, c => sqlx::query_as(sql)
            .bind(id)
            .fetch_optional(&mut *c)
            .await?);
        Ok(row.map(Account::from))
    }

    /// Accounts whose home scope lies inside the scope `prefix`, by username.
    pub async fn accounts_in_scope(&mut self, prefix: &str) -> Result<Vec<Account>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{ACCOUNT_COLUMNS} WHERE g.code LIKE $1 || '%' ORDER BY a.username"
        ));
        let rows: Vec<AccountTuple> = on!(self, c => sqlx::query_as(sql)
            .bind(prefix)
            .fetch_all(&mut *c)
            .await?);
        Ok(rows.into_iter().map(Account::from).collect())
    }

    pub async fn set_account_disabled(
        &mut self,
        id: i64,
        disabled: bool,
        now: Millis,
    ) -> Result<()> {
        on!(self, c => sqlx::query("UPDATE account SET disabled = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(disabled)
            .bind(now.0)
            .execute(&mut *c)
            .await?.rows_affected());
        Ok(())
    }

    /// Sets a new password hash and clears failures and any lock.
    pub async fn set_password_hash(&mut self, id: i64, hash: &str, now: Millis) -> Result<()> {
        on!(self, c => sqlx::query(
            "UPDATE account SET password_hash = $2, failed_logins = 0, locked_until = NULL, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(hash)
            .bind(now.0)
            .execute(&mut *c)
            .await?.rows_affected());
        Ok(())
    }

    pub async fn set_login_counters(
        &mut self,
        id: i64,
        failures: i64,
        locked_until: Option<i64>,
    ) -> Result<()> {
        on!(self, c => sqlx::query("UPDATE account SET failed_logins = $2, locked_until = $3 WHERE id = $1")
            .bind(id)
            .bind(failures)
            .bind(locked_until)
            .execute(&mut *c)
            .await?.rows_affected());
        Ok(())
    }

    pub async fn insert_grant(
        &mut self,
        account_id: i64,
        role: &str,
        scope_id: i64,
        granted_by: Option<i64>,
        now: Millis,
    ) -> Result<i64> {
        let id: i64 = on!(self, c => sqlx::query_scalar(
            "INSERT INTO role_grant (account_id, role, scope_id, granted_by, granted_at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
            .bind(account_id)
            .bind(role)
            .bind(scope_id)
            .bind(granted_by)
            .bind(now.0)
            .fetch_one(&mut *c)
            .await?);
        Ok(id)
    }

    pub async fn delete_grant(&mut self, grant_id: i64) -> Result<bool> {
        let n = on!(self, c => sqlx::query("DELETE FROM role_grant WHERE id = $1")
            .bind(grant_id)
            .execute(&mut *c)
            .await?
            .rows_affected());
        Ok(n > 0)
    }

    pub async fn grants_of(&mut self, account_id: i64) -> Result<Vec<GrantRow>> {
        self.grants_where("r.account_id = $1", account_id).await
    }

    pub async fn grant_by_id(&mut self, grant_id: i64) -> Result<Option<GrantRow>> {
        Ok(self.grants_where("r.id = $1", grant_id).await?.pop())
    }

    async fn grants_where(&mut self, condition: &str, value: i64) -> Result<Vec<GrantRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT r.id, r.account_id, r.role, g.code, g.name, r.granted_at \
             FROM role_grant r JOIN grid_node g ON g.id = r.scope_id WHERE {condition} ORDER BY g.code, r.role"
        ));
        let rows: Vec<(i64, i64, String, String, String, i64)> = on!(self, c => sqlx::query_as(sql)
            .bind(value)
            .fetch_all(&mut *c)
            .await?);
        Ok(rows
            .into_iter()
            .map(
                |(id, account_id, role, scope_code, scope_name, granted_at)| GrantRow {
                    id,
                    account_id,
                    role,
                    scope_code,
                    scope_name,
                    granted_at,
                },
            )
            .collect())
    }

    pub async fn insert_session(&mut self, s: &NewSession<'_>) -> Result<i64> {
        let id: i64 = on!(self, c => sqlx::query_scalar(
            "INSERT INTO session (token_hash, account_id, csrf_token, created_at, last_seen_at, client_addr, user_agent) \
             VALUES ($1, $2, $3, $4, $4, $5, $6) RETURNING id")
            .bind(s.token_hash)
            .bind(s.account_id)
            .bind(s.csrf_token)
            .bind(s.now.0)
            .bind(s.client_addr)
            .bind(s.user_agent)
            .fetch_one(&mut *c)
            .await?);
        Ok(id)
    }

    pub async fn session_by_token_hash(&mut self, token_hash: &str) -> Result<Option<SessionRow>> {
        let row: Option<(i64, i64, String, i64, i64)> = on!(self, c => sqlx::query_as(
            "SELECT id, account_id, csrf_token, created_at, last_seen_at FROM session WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&mut *c)
            .await?);
        Ok(row.map(
            |(id, account_id, csrf_token, created_at, last_seen_at)| SessionRow {
                id,
                account_id,
                csrf_token,
                created_at,
                last_seen_at,
            },
        ))
    }

    pub async fn touch_session(&mut self, id: i64, now: Millis) -> Result<()> {
        on!(self, c => sqlx::query("UPDATE session SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2")
            .bind(id)
            .bind(now.0)
            .execute(&mut *c)
            .await?.rows_affected());
        Ok(())
    }

    pub async fn delete_session(&mut self, id: i64) -> Result<()> {
        on!(self, c => sqlx::query("DELETE FROM session WHERE id = $1").bind(id).execute(&mut *c).await?.rows_affected());
        Ok(())
    }

    /// Ends every session of an account (disabled, password reset, role revoked).
    pub async fn delete_sessions_of(&mut self, account_id: i64) -> Result<u64> {
        let n = on!(self, c => sqlx::query("DELETE FROM session WHERE account_id = $1")
            .bind(account_id)
            .execute(&mut *c)
            .await?
            .rows_affected());
        Ok(n)
    }

    /// Removes sessions idle since before `idle_before`.
    pub async fn delete_idle_sessions(&mut self, idle_before: Millis) -> Result<u64> {
        let n = on!(self, c => sqlx::query("DELETE FROM session WHERE last_seen_at < $1")
            .bind(idle_before.0)
            .execute(&mut *c)
            .await?
            .rows_affected());
        Ok(n)
    }
}
