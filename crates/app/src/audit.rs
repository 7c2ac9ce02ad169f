//! Reading the audit log: the audit admin's work (审计管理员).

use crate::accounts::default_scope;
use crate::error::parse_scope;
use crate::{App, AppError, Ctx, Result};
use domain::{AuditAction, Permission};
use serde::Serialize;
use store::{AuditEvent, AuditQuery};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditView {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub action_label: &'static str,
    pub target: String,
    pub outcome: String,
    pub client_addr: String,
    pub request_id: String,
    pub scope: Option<String>,
    pub detail: String,
}

impl From<AuditEvent> for AuditView {
    fn from(e: AuditEvent) -> Self {
        AuditView {
            id: e.id,
            at: e.at,
            actor: e.actor_name,
            action_label: AuditAction::parse(&e.action).map_or("", AuditAction::label_zh),
            action: e.action,
            target: e.target,
            outcome: e.outcome,
            client_addr: e.client_addr,
            request_id: e.request_id,
            scope: e.scope_code,
            detail: e.detail,
        }
    }
}

impl App {
    /// Events inside `scope` (and those tied to no scope), newest first; `before` pages on.
    pub async fn list_audit(
        &self,
        ctx: &Ctx,
        scope: Option<&str>,
        action: Option<&str>,
        before: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Vec<AuditView>> {
        let scope = match scope {
            Some(s) => parse_scope("scope", s)?,
            None => default_scope(ctx, Permission::ReadAudit)?,
        };
        self.require(
            ctx,
            Permission::ReadAudit,
            &scope,
            &format!("audit log of {scope}"),
        )
        .await?;
        let action = match action {
            Some(a) => Some(
                AuditAction::parse(a)
                    .ok_or_else(|| {
                        AppError::invalid("action", format!("未知操作 / unknown action '{a}'"))
                    })?
                    .as_str()
                    .to_owned(),
            ),
            None => None,
        };
        let limit = limit.unwrap_or(50);
        if !(1..=500).contains(&limit) {
            return Err(AppError::invalid(
                "limit",
                "limit 须在 1 到 500 之间 / limit is between 1 and 500",
            ));
        }
        let mut tx = self.store.read().await?;
        let events = tx
            .audit_events(&AuditQuery {
                scope: scope.as_str().to_owned(),
                action,
                before,
                limit,
            })
            .await?;
        Ok(events.into_iter().map(Into::into).collect())
    }
}
