//! The audit log: append-only (triggers refuse UPDATE and DELETE on both engines).

use crate::{Result, Tx, on};
use domain::Millis;

#[derive(Debug, Clone)]
pub struct NewAuditEvent<'a> {
    pub at: Millis,
    pub actor_id: Option<i64>,
    pub actor_name: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub outcome: &'a str,
    pub client_addr: &'a str,
    pub request_id: &'a str,
    pub scope_code: Option<&'a str>,
    pub detail: &'a str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub id: i64,
    pub at: i64,
    pub actor_id: Option<i64>,
    pub actor_name: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub client_addr: String,
    pub request_id: String,
    pub scope_code: Option<String>,
    pub detail: String,
}

/// Which events to read: those inside `scope` (and those tied to no scope), optionally of one
/// action, newest first, before the event id `before` (keyset pagination).
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub scope: String,
    pub action: Option<String>,
    pub before: Option<i64>,
    pub limit: i64,
}

type EventTuple = (
    i64,
    i64,
    Option<i64>,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
);

impl Tx {
    pub async fn insert_audit(&mut self, e: &NewAuditEvent<'_>) -> Result<i64> {
        let id: i64 = on!(self, c => sqlx::query_scalar(
            "INSERT INTO audit_event (at, actor_id, actor_name, action, target, outcome, client_addr, request_id, scope_code, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id")
            .bind(e.at.0)
            .bind(e.actor_id)
            .bind(e.actor_name)
            .bind(e.action)
            .bind(e.target)
            .bind(e.outcome)
            .bind(e.client_addr)
            .bind(e.request_id)
            .bind(e.scope_code)
            .bind(e.detail)
            .fetch_one(&mut *c)
            .await?);
        Ok(id)
    }

    pub async fn audit_events(&mut self, q: &AuditQuery) -> Result<Vec<AuditEvent>> {
        let mut sql = String::from(
            "SELECT id, at, actor_id, actor_name, action, target, outcome, client_addr, request_id, scope_code, detail \
             FROM audit_event WHERE (scope_code LIKE $1 || '%' OR scope_code IS NULL)",
        );
        let mut n = 1;
        if q.action.is_some() {
            n += 1;
            sql.push_str(&format!(" AND action = ${n}"));
        }
        if q.before.is_some() {
            n += 1;
            sql.push_str(&format!(" AND id < ${n}"));
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", n + 1));
        let sql = sqlx::AssertSqlSafe(sql);
        let rows: Vec<EventTuple> = on!(self, c => {
            let mut query = sqlx::query_as(sql).bind(&q.scope);
            if let Some(action) = &q.action {
                query = query.bind(action);
            }
            if let Some(before) = q.before {
                query = query.bind(before);
            }
            query.bind(q.limit).fetch_all(&mut *c).await?
        });
        Ok(rows
            .into_iter()
            .map(|t| AuditEvent {
                id: t.0,
                at: t.1,
                actor_id: t.2,
                actor_name: t.3,
                action: t.4,
                target: t.5,
                outcome: t.6,
                client_addr: t.7,
                request_id: t.8,
                scope_code: t.9,
                detail: t.10,
            })
            .collect())
    }
}
