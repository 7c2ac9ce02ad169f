//! API keys for integrations (Open311 clients, hotline transfers, chat bots).

use crate::accounts::default_scope;
use crate::auth::Audit;
use crate::error::parse_scope;
use crate::secret::{random_hex, token_hash};
use crate::{App, AppError, Ctx, Result, now};
use domain::{AuditAction, Outcome, Permission, Role};
use serde::Serialize;
use store::{ApiKeyRow, NewApiKey};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiKeyView {
    pub id: i64,
    pub name: String,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    pub role: String,
    pub scope: String,
    pub scope_name: String,
    pub created_by: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

impl From<ApiKeyRow> for ApiKeyView {
    fn from(k: ApiKeyRow) -> Self {
        ApiKeyView {
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            role: k.role,
            scope: k.scope_code,
            scope_name: k.scope_name,
            created_by: k.created_by.unwrap_or_else(|| "cli".into()),
            created_at: k.created_at,
            revoked_at: k.revoked_at,
            last_used_at: k.last_used_at,
        }
    }
}

/// A new key: `key` is shown once and never again.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    pub key: String,
    pub api_key: ApiKeyView,
}

impl App {
    pub async fn create_api_key(
        &self,
        ctx: &Ctx,
        name: &str,
        role: &str,
        scope: &str,
    ) -> Result<CreatedApiKey> {
        let scope = parse_scope("scope", scope)?;
        self.require(
            ctx,
            Permission::ManageApiKeys,
            &scope,
            &format!("api key {name}"),
        )
        .await?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(AppError::invalid(
                "name",
                "名称须为 1 到 64 个字符 / a name has 1 to 64 characters",
            ));
        }
        let role = Role::parse(role).ok_or_else(|| {
            AppError::invalid("role", format!("未知角色 / unknown role '{role}'"))
        })?;
        if !role.allowed_for_api_key() {
            return Err(AppError::invalid(
                "role",
                "API 密钥不能持有管理员角色 / an API key cannot hold an admin role",
            ));
        }
        let key = format!("wk_{}", random_hex(20)?);
        let prefix: String = key.chars().take(11).collect();
        let created_by = ctx.account_id();

        let mut tx = self.store.write().await?;
        let node = tx.grid_node_by_code(scope.as_str()).await?.ok_or_else(|| {
            AppError::invalid(
                "scope",
                format!("没有编码为 {scope} 的网格 / no grid node {scope}"),
            )
        })?;
        let id = tx
            .insert_api_key(&NewApiKey {
                name,
                prefix: &prefix,
                key_hash: &token_hash(&key),
                role: role.as_str(),
                scope_id: node.id,
                created_by,
                now: now(),
            })
            .await?;
        let detail = format!("{} @ {}", role.as_str(), scope);
        self.audit(
            &mut tx,
            ctx,
            None,
            Audit {
                action: AuditAction::ApiKeyCreated,
                target: &format!("{prefix} {name}"),
                outcome: Outcome::Success,
                scope: Some(scope.as_str()),
                detail: &detail,
            },
        )
        .await?;
        let row = tx
            .api_key_by_id(id)
            .await?
            .ok_or(AppError::NotFound("api key"))?;
        tx.commit().await?;
        Ok(CreatedApiKey {
            key,
            api_key: row.into(),
        })
    }

    pub async fn list_api_keys(&self, ctx: &Ctx, scope: Option<&str>) -> Result<Vec<ApiKeyView>> {
        let scope = match scope {
            Some(s) => parse_scope("scope", s)?,
            None => default_scope(ctx, Permission::ManageApiKeys)?,
        };
        self.require(
            ctx,
            Permission::ManageApiKeys,
            &scope,
            &format!("api keys in {scope}"),
        )
        .await?;
        let mut tx = self.store.read().await?;
        Ok(tx
            .api_keys_in_scope(scope.as_str())
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    pub async fn revoke_api_key(&self, ctx: &Ctx, id: i64) -> Result<ApiKeyView> {
        let key = {
            let mut tx = self.store.read().await?;
            tx.api_key_by_id(id)
                .await?
                .ok_or(AppError::NotFound("api key"))?
        };
        let scope = parse_scope("scope", &key.scope_code)?;
        self.require(
            ctx,
            Permission::ManageApiKeys,
            &scope,
            &format!("api key {}", key.prefix),
        )
        .await?;
        let mut tx = self.store.write().await?;
        if !tx.revoke_api_key(id, now()).await? {
            return Err(AppError::Conflict(
                "该密钥已吊销 / the key is already revoked".into(),
            ));
        }
        self.audit(
            &mut tx,
            ctx,
            None,
            Audit {
                action: AuditAction::ApiKeyRevoked,
                target: &format!("{} {}", key.prefix, key.name),
                outcome: Outcome::Success,
                scope: Some(&key.scope_code),
                detail: "",
            },
        )
        .await?;
        let row = tx
            .api_key_by_id(id)
            .await?
            .ok_or(AppError::NotFound("api key"))?;
        tx.commit().await?;
        // Other servers stop accepting it within CACHE_TTL.
        self.caches.clear_api_keys();
        Ok(row.into())
    }
}
