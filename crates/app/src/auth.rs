//! Signing in and out, sessions, API keys as credentials, and the permission check.

use crate::secret::{DUMMY_HASH, random_hex, token_hash, verify_password};
use crate::{AccountView, Actor, App, AppError, Ctx, Origin, Result, now};
use domain::{AuditAction, Grant, GridCode, Outcome, Permission, Role, Username, access};
use store::{NewAuditEvent, NewSession, Tx};

/// A new session: the token goes into the cookie, the CSRF token into forms.
#[derive(Debug, Clone)]
pub struct LoginOk {
    pub token: String,
    pub csrf_token: String,
    pub account: AccountView,
}

/// Only every this many milliseconds is a session's or key's last use written back.
const TOUCH_EVERY_MS: i64 = 15_000;

pub(crate) struct Audit<'a> {
    pub action: AuditAction,
    pub target: &'a str,
    pub outcome: Outcome,
    pub scope: Option<&'a str>,
    pub detail: &'a str,
}

impl App {
    /// Appends one event to the audit log inside the caller's transaction.
    pub(crate) async fn audit(
        &self,
        tx: &mut Tx,
        ctx: &Ctx,
        actor_name: Option<&str>,
        a: Audit<'_>,
    ) -> Result<()> {
        let name = actor_name.map_or_else(|| ctx.actor_name(), str::to_owned);
        tx.insert_audit(&NewAuditEvent {
            at: now(),
            actor_id: ctx.account_id(),
            actor_name: &name,
            action: a.action.as_str(),
            target: a.target,
            outcome: a.outcome.as_str(),
            client_addr: &ctx.origin.client_addr,
            request_id: &ctx.origin.request_id,
            scope_code: a.scope,
            detail: a.detail,
        })
        .await?;
        Ok(())
    }

    /// Records a refusal in its own transaction and returns the error to give back.
    pub async fn deny(
        &self,
        ctx: &Ctx,
        permission: Permission,
        target: &str,
        scope: Option<&str>,
    ) -> AppError {
        let detail = format!("{permission:?}");
        let recorded = async {
            let mut tx = self.store.write().await?;
            self.audit(
                &mut tx,
                ctx,
                None,
                Audit {
                    action: AuditAction::PermissionDenied,
                    target,
                    outcome: Outcome::Denied,
                    scope,
                    detail: &detail,
                },
            )
            .await?;
            tx.commit().await?;
            Ok::<_, AppError>(())
        };
        if let Err(e) = recorded.await {
            return e;
        }
        AppError::Forbidden(format!("{permission:?} on {target}"))
    }

    /// Passes when the context may do `permission` on the node `scope`; otherwise the refusal is
    /// audited and returned.
    pub async fn require(
        &self,
        ctx: &Ctx,
        permission: Permission,
        scope: &GridCode,
        target: &str,
    ) -> Result<()> {
        match ctx.actor {
            Actor::Cli => Ok(()),
            Actor::Anonymous => Err(AppError::Unauthenticated),
            _ if access::allows(&ctx.grants, permission, scope) => Ok(()),
            _ => Err(self
                .deny(ctx, permission, target, Some(scope.as_str()))
                .await),
        }
    }

    /// [`App::require`] on each scope an import writes into, each once; `what` names the
    /// import (`import of residents`), the scope is added.
    pub async fn require_each(
        &self,
        ctx: &Ctx,
        permission: Permission,
        scopes: impl IntoIterator<Item = GridCode>,
        what: &str,
    ) -> Result<()> {
        let scopes: std::collections::BTreeSet<GridCode> = scopes.into_iter().collect();
        for scope in &scopes {
            self.require(ctx, permission, scope, &format!("{what} into {scope}"))
                .await?;
        }
        Ok(())
    }

    /// Like [`App::require`] for what belongs to no scope (system settings, the own account).
    pub async fn require_anywhere(
        &self,
        ctx: &Ctx,
        permission: Permission,
        target: &str,
    ) -> Result<()> {
        match ctx.actor {
            Actor::Cli => Ok(()),
            Actor::Anonymous => Err(AppError::Unauthenticated),
            _ if access::allows_somewhere(&ctx.grants, permission) => Ok(()),
            _ => Err(self
                .deny(
                    ctx,
                    permission,
                    target,
                    ctx.home_scope().map(GridCode::as_str),
                )
                .await),
        }
    }

    pub async fn login(&self, username: &str, password: &str, origin: Origin) -> Result<LoginOk> {
        let ctx = Ctx::anonymous(origin);
        let now = now();
        let policy = self.settings.login_policy;
        let username = Username::parse(username)
            .map(|u| u.as_str().to_owned())
            .unwrap_or_else(|_| username.chars().take(64).collect());
        let found = {
            let mut tx = self.store.read().await?;
            tx.account_by_username(&username).await?
        };
        let fail = |detail: &'static str, scope: Option<String>| {
            let username = username.clone();
            let ctx = ctx.clone();
            async move {
                let mut tx = self.store.write().await?;
                self.audit(
                    &mut tx,
                    &ctx,
                    Some(&username),
                    Audit {
                        action: AuditAction::LoginFailed,
                        target: &username,
                        outcome: Outcome::Failure,
                        scope: scope.as_deref(),
                        detail,
                    },
                )
                .await?;
                tx.commit().await?;
                Ok::<_, AppError>(())
            }
        };
        let Some(account) = found else {
            verify_password(password.to_owned(), DUMMY_HASH.to_owned()).await;
            fail("unknown username", None).await?;
            return Err(AppError::BadCredentials);
        };
        let scope = Some(account.home_scope.clone());
        if account.disabled {
            fail("account disabled", scope).await?;
            return Err(AppError::BadCredentials);
        }
        if policy.is_locked(account.locked_until.map(domain::Millis), now) {
            fail("account locked", scope).await?;
            return Err(AppError::Locked {
                until: account.locked_until.unwrap_or_default(),
            });
        }
        let ok = verify_password(password.to_owned(), account.password_hash.clone()).await;

        let mut tx = self.store.write().await?;
        // Counters are read again inside the write transaction, so concurrent failures all count.
        let account = tx
            .account_by_username(&username)
            .await?
            .ok_or(AppError::BadCredentials)?;
        if !ok {
            let after = policy.after_failure(account.failed_logins.max(0) as u32, now);
            let locked_until = after.locked_until.map(|m| m.0);
            tx.set_login_counters(account.id, i64::from(after.failures), locked_until)
                .await?;
            let a = |action, outcome, detail| Audit {
                action,
                target: &username,
                outcome,
                scope: Some(&account.home_scope),
                detail,
            };
            self.audit(
                &mut tx,
                &ctx,
                Some(&username),
                a(AuditAction::LoginFailed, Outcome::Failure, "wrong password"),
            )
            .await?;
            if locked_until.is_some() {
                self.audit(
                    &mut tx,
                    &ctx,
                    Some(&username),
                    a(
                        AuditAction::Lockout,
                        Outcome::Success,
                        "too many wrong passwords",
                    ),
                )
                .await?;
            }
            tx.commit().await?;
            return Err(match locked_until {
                Some(until) => AppError::Locked { until },
                None => AppError::BadCredentials,
            });
        }
        if account.failed_logins != 0 || account.locked_until.is_some() {
            tx.set_login_counters(account.id, 0, None).await?;
        }
        let token = random_hex(32)?;
        let csrf_token = random_hex(16)?;
        tx.insert_session(&NewSession {
            token_hash: &token_hash(&token),
            account_id: account.id,
            csrf_token: &csrf_token,
            now,
            client_addr: &ctx.origin.client_addr,
            user_agent: &ctx.origin.user_agent,
        })
        .await?;
        let session_ctx = Ctx {
            actor: Actor::Account {
                id: account.id,
                username: account.username.clone(),
                display_name: account.display_name.clone(),
            },
            ..ctx.clone()
        };
        self.audit(
            &mut tx,
            &session_ctx,
            None,
            Audit {
                action: AuditAction::LoginOk,
                target: &username,
                outcome: Outcome::Success,
                scope: Some(&account.home_scope),
                detail: "",
            },
        )
        .await?;
        let grants = tx.grants_of(account.id).await?;
        tx.commit().await?;
        Ok(LoginOk {
            token,
            csrf_token,
            account: AccountView::new(account, grants),
        })
    }

    /// The context of a session cookie's token; ends the session when it has been idle too long.
    pub async fn authenticate_session(&self, token: &str, origin: Origin) -> Result<Ctx> {
        let now = now();
        let mut tx = self.store.read().await?;
        let session = tx
            .session_by_token_hash(&token_hash(token))
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let account = tx
            .account_by_id(session.account_id)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let grants = tx.grants_of(account.id).await?;
        drop(tx);

        let ctx = Ctx {
            actor: Actor::Account {
                id: account.id,
                username: account.username.clone(),
                display_name: account.display_name.clone(),
            },
            grants: to_grants(&grants),
            origin,
            session_id: Some(session.id),
            csrf_token: Some(session.csrf_token.clone()),
        };
        let idle_limit = self.settings.session_idle_minutes * domain::Millis::MINUTE;
        let expired = now.0 - session.last_seen_at > idle_limit;
        if expired || account.disabled {
            let mut tx = self.store.write().await?;
            tx.delete_session(session.id).await?;
            if expired {
                self.audit(
                    &mut tx,
                    &ctx,
                    None,
                    Audit {
                        action: AuditAction::SessionExpired,
                        target: &account.username,
                        outcome: Outcome::Success,
                        scope: Some(&account.home_scope),
                        detail: "idle timeout",
                    },
                )
                .await?;
            }
            tx.commit().await?;
            return Err(AppError::Unauthenticated);
        }
        if now.0 - session.last_seen_at > TOUCH_EVERY_MS {
            let mut tx = self.store.write().await?;
            tx.touch_session(session.id, now).await?;
            tx.commit().await?;
        }
        Ok(ctx)
    }

    /// The context of an API key: the key's one role on its one scope.
    pub async fn authenticate_api_key(&self, key: &str, origin: Origin) -> Result<Ctx> {
        let now = now();
        let hash = token_hash(key);
        let (found, cached) = match self.caches.api_key(&hash) {
            Some(k) => (Some(k), true),
            None => {
                let mut tx = self.store.read_once().await?;
                let found = tx.api_key_by_hash(&hash).await?;
                drop(tx);
                (found, false)
            }
        };
        let usable = found.filter(|k| k.revoked_at.is_none());
        let (Some(k), Some(role)) = (
            usable.as_ref(),
            usable.as_ref().and_then(|k| Role::parse(&k.role)),
        ) else {
            let ctx = Ctx::anonymous(origin);
            let shown: String = key.chars().take(11).collect();
            let mut tx = self.store.write().await?;
            self.audit(
                &mut tx,
                &ctx,
                Some("apikey"),
                Audit {
                    action: AuditAction::LoginFailed,
                    target: &shown,
                    outcome: Outcome::Failure,
                    scope: None,
                    detail: "unknown or revoked API key",
                },
            )
            .await?;
            tx.commit().await?;
            return Err(AppError::Unauthenticated);
        };
        let scope =
            GridCode::parse(&k.scope_code).map_err(|e| AppError::Internal(e.to_string()))?;
        // Kept as read from the database (or as just touched) for the cache's lifetime, not
        // refreshed by each use: a key revoked through another server stops working here once
        // the entry expires.
        if k.last_used_at.is_none_or(|t| now.0 - t > TOUCH_EVERY_MS) {
            let mut tx = self.store.write().await?;
            tx.touch_api_key(k.id, now).await?;
            tx.commit().await?;
            let mut touched = k.clone();
            touched.last_used_at = Some(now.0);
            self.caches.put_api_key(&hash, touched);
        } else if !cached {
            self.caches.put_api_key(&hash, k.clone());
        }
        Ok(Ctx {
            actor: Actor::ApiKey {
                id: k.id,
                name: k.name.clone(),
            },
            grants: vec![Grant { role, scope }],
            origin,
            session_id: None,
            csrf_token: None,
        })
    }

    pub async fn logout(&self, ctx: &Ctx) -> Result<()> {
        let Some(session_id) = ctx.session_id else {
            return Ok(());
        };
        let mut tx = self.store.write().await?;
        tx.delete_session(session_id).await?;
        let name = ctx.actor_name();
        self.audit(
            &mut tx,
            ctx,
            None,
            Audit {
                action: AuditAction::Logout,
                target: &name,
                outcome: Outcome::Success,
                scope: ctx.home_scope().map(GridCode::as_str),
                detail: "",
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Grants as the domain knows them; a role name this build does not know grants nothing.
pub(crate) fn to_grants(rows: &[store::GrantRow]) -> Vec<Grant> {
    rows.iter()
        .filter_map(|g| {
            Some(Grant {
                role: Role::parse(&g.role)?,
                scope: GridCode::parse(&g.scope_code).ok()?,
            })
        })
        .collect()
}

impl App {
    /// Deletes sessions idle past the limit; returns how many.
    pub async fn sweep_sessions(&self) -> Result<u64> {
        let cutoff =
            domain::Millis(now().0 - self.settings.session_idle_minutes * domain::Millis::MINUTE);
        let mut tx = self.store.write().await?;
        let n = tx.delete_idle_sessions(cutoff).await?;
        tx.commit().await?;
        Ok(n)
    }
}
