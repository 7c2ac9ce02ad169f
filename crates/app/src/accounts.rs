//! Staff accounts and their role grants: the security admin's work (安全管理员).

use crate::auth::{Audit, to_grants};
use crate::error::parse_scope;
use crate::secret::hash_password;
use crate::{App, AppError, Ctx, Result, now};
use domain::{
    AuditAction, GridCode, Outcome, Permission, Role, Username, access, check_password_policy,
};
use serde::{Deserialize, Serialize};
use store::{Account, GrantRow, NewAccount};

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewAccountInput {
    pub username: String,
    pub display_name: String,
    pub password: String,
    /// The grid node the account belongs to.
    pub home_scope: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GrantView {
    pub id: i64,
    pub role: String,
    pub role_label: &'static str,
    pub scope: String,
    pub scope_name: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AccountView {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub home_scope: String,
    pub home_scope_name: String,
    pub disabled: bool,
    pub locked_until: Option<i64>,
    pub created_at: i64,
    pub grants: Vec<GrantView>,
}

impl AccountView {
    pub(crate) fn new(a: Account, grants: Vec<GrantRow>) -> AccountView {
        let locked_until = a.locked_until.filter(|&t| t > now().0);
        AccountView {
            id: a.id,
            username: a.username,
            display_name: a.display_name,
            home_scope: a.home_scope,
            home_scope_name: a.home_scope_name,
            disabled: a.disabled,
            locked_until,
            created_at: a.created_at,
            grants: grants
                .into_iter()
                .filter_map(|g| {
                    let role = Role::parse(&g.role)?;
                    Some(GrantView {
                        id: g.id,
                        role: g.role.clone(),
                        role_label: role.label_zh(),
                        scope: g.scope_code,
                        scope_name: g.scope_name,
                    })
                })
                .collect(),
        }
    }
}

fn check_display_name(name: &str) -> Result<String> {
    let name = name.trim();
    let len = name.chars().count();
    if len == 0 || len > 64 {
        return Err(AppError::invalid(
            "display_name",
            "姓名须为 1 到 64 个字符 / a display name has 1 to 64 characters",
        ));
    }
    Ok(name.to_owned())
}

fn check_password(password: &str) -> Result<()> {
    check_password_policy(password).map_err(|e| AppError::invalid("password", e.to_string()))
}

fn parse_role(s: &str) -> Result<Role> {
    Role::parse(s)
        .ok_or_else(|| AppError::invalid("role", format!("未知角色 / unknown role '{s}'")))
}

impl App {
    pub async fn create_account(&self, ctx: &Ctx, input: &NewAccountInput) -> Result<AccountView> {
        let scope = parse_scope("home_scope", &input.home_scope)?;
        self.require(
            ctx,
            Permission::ManageAccounts,
            &scope,
            &format!("account {}", input.username),
        )
        .await?;
        let username = Username::parse(&input.username)
            .map_err(|e| AppError::invalid("username", e.to_string()))?;
        let display_name = check_display_name(&input.display_name)?;
        check_password(&input.password)?;
        let hash = hash_password(input.password.clone()).await?;
        let now = now();

        let mut tx = self.store.write().await?;
        let node = tx.grid_node_by_code(scope.as_str()).await?.ok_or_else(|| {
            AppError::invalid(
                "home_scope",
                format!("没有编码为 {scope} 的网格 / no grid node {scope}"),
            )
        })?;
        let id = tx
            .insert_account(&NewAccount {
                username: username.as_str(),
                display_name: &display_name,
                password_hash: &hash,
                home_scope_id: node.id,
                now,
            })
            .await
            .map_err(|e| {
                if e.is_conflict_on("account_username_key") {
                    AppError::Conflict(format!(
                        "用户名 {} 已存在 / username {} is taken",
                        username.as_str(),
                        username.as_str()
                    ))
                } else {
                    e.into()
                }
            })?;
        self.audit(
            &mut tx,
            ctx,
            None,
            Audit {
                action: AuditAction::AccountCreated,
                target: username.as_str(),
                outcome: Outcome::Success,
                scope: Some(scope.as_str()),
                detail: "",
            },
        )
        .await?;
        let account = tx
            .account_by_id(id)
            .await?
            .ok_or(AppError::NotFound("account"))?;
        tx.commit().await?;
        Ok(AccountView::new(account, Vec::new()))
    }

    /// Accounts whose home lies inside `scope` (default: the caller's outermost scope for this).
    pub async fn list_accounts(&self, ctx: &Ctx, scope: Option<&str>) -> Result<Vec<AccountView>> {
        let scope = match scope {
            Some(s) => parse_scope("scope", s)?,
            None => default_scope(ctx, Permission::ManageAccounts)?,
        };
        self.require(
            ctx,
            Permission::ManageAccounts,
            &scope,
            &format!("accounts in {scope}"),
        )
        .await?;
        let mut tx = self.store.read().await?;
        let accounts = tx.accounts_in_scope(scope.as_str()).await?;
        let mut views = Vec::with_capacity(accounts.len());
        for a in accounts {
            let grants = tx.grants_of(a.id).await?;
            views.push(AccountView::new(a, grants));
        }
        Ok(views)
    }

    /// Loads an account and checks that the caller manages its home scope.
    async fn managed_account(&self, ctx: &Ctx, id: i64) -> Result<Account> {
        let account = {
            let mut tx = self.store.read().await?;
            tx.account_by_id(id)
                .await?
                .ok_or(AppError::NotFound("account"))?
        };
        let scope = parse_scope("home_scope", &account.home_scope)?;
        self.require(
            ctx,
            Permission::ManageAccounts,
            &scope,
            &format!("account {}", account.username),
        )
        .await?;
        Ok(account)
    }

    pub async fn get_account(&self, ctx: &Ctx, id: i64) -> Result<AccountView> {
        let account = self.managed_account(ctx, id).await?;
        let mut tx = self.store.read().await?;
        let grants = tx.grants_of(id).await?;
        Ok(AccountView::new(account, grants))
    }

    /// The account a username names, for the command line.
    pub async fn account_id_by_username(&self, username: &str) -> Result<i64> {
        let mut tx = self.store.read().await?;
        let account = tx
            .account_by_username(&username.trim().to_ascii_lowercase())
            .await?;
        account.map(|a| a.id).ok_or(AppError::NotFound("account"))
    }

    pub async fn set_account_disabled(
        &self,
        ctx: &Ctx,
        id: i64,
        disabled: bool,
    ) -> Result<AccountView> {
        let account = self.managed_account(ctx, id).await?;
        if disabled && ctx.account_id() == Some(id) {
            return Err(AppError::invalid(
                "id",
                "不能停用自己的账户 / you cannot disable your own account",
            ));
        }
        let mut tx = self.store.write().await?;
        tx.set_account_disabled(id, disabled, now()).await?;
        if disabled {
            tx.delete_sessions_of(id).await?;
        }
        let action = if disabled {
            AuditAction::AccountDisabled
        } else {
            AuditAction::AccountEnabled
        };
        self.audit(
            &mut tx,
            ctx,
            None,
            Audit {
                action,
                target: &account.username,
                outcome: Outcome::Success,
                scope: Some(&account.home_scope),
                detail: "",
            },
        )
        .await?;
        let account = tx
            .account_by_id(id)
            .await?
            .ok_or(AppError::NotFound("account"))?;
        let grants = tx.grants_of(id).await?;
        tx.commit().await?;
        Ok(AccountView::new(account, grants))
    }

    /// Sets a new password, unlocks the account and ends its sessions.
    pub async fn reset_password(&self, ctx: &Ctx, id: i64, password: &str) -> Result<()> {
        let account = self.managed_account(ctx, id).await?;
        check_password(password)?;
        let hash = hash_password(password.to_owned()).await?;
        let mut tx = self.store.write().await?;
        tx.set_password_hash(id, &hash, now()).await?;
        tx.delete_sessions_of(id).await?;
        self.audit(
            &mut tx,
            ctx,
            None,
            Audit {
                action: AuditAction::PasswordReset,
                target: &account.username,
                outcome: Outcome::Success,
                scope: Some(&account.home_scope),
                detail: "",
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn grant_role(
        &self,
        ctx: &Ctx,
        account_id: i64,
        role: &str,
        scope: &str,
    ) -> Result<GrantView> {
        let account = self.managed_account(ctx, account_id).await?;
        let scope = parse_scope("scope", scope)?;
        let role = parse_role(role)?;
        self.require(
            ctx,
            Permission::ManageAccounts,
            &scope,
            &format!("grant {} to {}", role.as_str(), account.username),
        )
        .await?;

        let mut tx = self.store.write().await?;
        let existing = to_grants(&tx.grants_of(account_id).await?);
        access::check_grant(&existing, role, ctx.account_id() == Some(account_id))
            .map_err(|e| AppError::invalid("role", e.to_string()))?;
        let node = tx.grid_node_by_code(scope.as_str()).await?.ok_or_else(|| {
            AppError::invalid(
                "scope",
                format!("没有编码为 {scope} 的网格 / no grid node {scope}"),
            )
        })?;
        let id = tx
            .insert_grant(account_id, role.as_str(), node.id, ctx.account_id(), now())
            .await
            .map_err(|e| {
                if e.is_conflict_on("role_grant_key") {
                    AppError::Conflict(
                        "该账户已在此范围拥有此角色 / the account already holds this role here"
                            .into(),
                    )
                } else {
                    e.into()
                }
            })?;
        let detail = format!("{} @ {}", role.as_str(), scope);
        self.audit(
            &mut tx,
            ctx,
            None,
            Audit {
                action: AuditAction::RoleGranted,
                target: &account.username,
                outcome: Outcome::Success,
                scope: Some(scope.as_str()),
                detail: &detail,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(GrantView {
            id,
            role: role.as_str().to_owned(),
            role_label: role.label_zh(),
            scope: node.code,
            scope_name: node.name,
        })
    }

    pub async fn revoke_grant(&self, ctx: &Ctx, account_id: i64, grant_id: i64) -> Result<()> {
        let account = self.managed_account(ctx, account_id).await?;
        let grant = {
            let mut tx = self.store.read().await?;
            tx.grant_by_id(grant_id)
                .await?
                .filter(|g| g.account_id == account_id)
                .ok_or(AppError::NotFound("grant"))?
        };
        let scope = parse_scope("scope", &grant.scope_code)?;
        self.require(
            ctx,
            Permission::ManageAccounts,
            &scope,
            &format!("grant {grant_id} of {}", account.username),
        )
        .await?;
        let mut tx = self.store.write().await?;
        if !tx.delete_grant(grant_id).await? {
            return Err(AppError::NotFound("grant"));
        }
        let detail = format!("{} @ {}", grant.role, grant.scope_code);
        self.audit(
            &mut tx,
            ctx,
            None,
            Audit {
                action: AuditAction::RoleRevoked,
                target: &account.username,
                outcome: Outcome::Success,
                scope: Some(&grant.scope_code),
                detail: &detail,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The signed-in account itself.
    pub async fn me(&self, ctx: &Ctx) -> Result<AccountView> {
        let id = ctx.account_id().ok_or(AppError::Unauthenticated)?;
        let mut tx = self.store.read().await?;
        let account = tx
            .account_by_id(id)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let grants = tx.grants_of(id).await?;
        Ok(AccountView::new(account, grants))
    }
}

/// The outermost scope in which the caller holds `permission`, or a 403 when there is none.
pub fn default_scope(ctx: &Ctx, permission: Permission) -> Result<GridCode> {
    access::scopes_for(&ctx.grants, permission)
        .into_iter()
        .min_by_key(|s| s.as_str().len())
        .or_else(|| ctx.home_scope().cloned())
        .ok_or_else(|| AppError::Forbidden(format!("{permission:?}")))
}
