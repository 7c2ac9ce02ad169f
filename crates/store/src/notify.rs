//! The inbox, webhooks and their outbox, warnings given, and job leases.

use crate::{Result, Tx, on};
use domain::Millis;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq)]
pub struct NotificationRow {
    pub id: i64,
    pub case_id: Option<i64>,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub created_at: i64,
    pub read_at: Option<i64>,
}

/// A notification to put in an account's inbox.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNotification<'a> {
    pub account_id: i64,
    pub case_id: Option<i64>,
    pub kind: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    pub now: Millis,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WebhookRow {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub events: String,
    pub active: bool,
    pub created_at: i64,
}

/// An outbox row claimed for delivery, with what delivering it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: i64,
    pub webhook_id: i64,
    pub url: String,
    pub secret_enc: Vec<u8>,
    pub event: String,
    pub payload: String,
    pub attempts: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    pub id: i64,
    pub webhook: String,
    pub event: String,
    pub status: String,
    pub attempts: i64,
    pub next_at: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

/// A multi-row insert into inboxes: `account_id, case_id, kind, title, body, created_at` each.
pub(crate) fn insert_notifications_sql(mut p: crate::cases::Placeholders, rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO notification (account_id, case_id, kind, title, body, created_at) VALUES ",
    );
    p.rows(&mut sql, rows, NOTIFICATION_COLUMNS);
    sql
}

pub(crate) const NOTIFICATION_COLUMNS: usize = 6;

/// Every webhook: `id, name, url, events, active, created_at`.
pub(crate) const WEBHOOKS: &str =
    "SELECT id, name, url, events, active, created_at FROM webhook ORDER BY id";

/// Queues a delivery: `$1` webhook, `$2` event, `$3` payload, `$4` time; its id.
pub(crate) const ENQUEUE: &str = "INSERT INTO outbox (webhook_id, event, payload, status, attempts, next_at, created_at) \
     VALUES ($1, $2, $3, 'pending', 0, $4, $4) RETURNING id";

impl Tx {
    pub async fn insert_notification(
        &mut self,
        account_id: i64,
        case_id: Option<i64>,
        kind: &str,
        title: &str,
        body: &str,
        now: Millis,
    ) -> Result<()> {
        self.insert_notifications(&[NewNotification {
            account_id,
            case_id,
            kind,
            title,
            body,
            now,
        }])
        .await
    }

    /// Puts notifications in their owners' inboxes, a statement per chunk.
    pub async fn insert_notifications(&mut self, all: &[NewNotification<'_>]) -> Result<()> {
        for chunk in crate::cases::statement_chunks(all, NOTIFICATION_COLUMNS) {
            let sql =
                insert_notifications_sql(crate::cases::Placeholders::for_tx(self), chunk.len());
            // Only placeholders are formatted in; the values are bound.
            let sql = sqlx::AssertSqlSafe(sql);
            on!(self, c => {
                let mut q = sqlx::query(sql);
                for n in chunk {
                    q = q
                        .bind(n.account_id)
                        .bind(n.case_id)
                        .bind(n.kind)
                        .bind(n.title)
                        .bind(n.body)
                        .bind(n.now.0);
                }
                q.execute(&mut *c).await?.rows_affected()
            });
        }
        Ok(())
    }

    /// An account's notifications, newest first, below `before` when given.
    pub async fn notifications(
        &mut self,
        account_id: i64,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<NotificationRow>> {
        type T = (i64, Option<i64>, String, String, String, i64, Option<i64>);
        let rows: Vec<T> = on!(self, c => sqlx::query_as(
            "SELECT id, case_id, kind, title, body, created_at, read_at FROM notification \
             WHERE account_id = $1 AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3")
            .bind(account_id)
            .bind(before)
            .bind(limit)
            .fetch_all(&mut *c)
            .await?);
        Ok(rows
            .into_iter()
            .map(|t| NotificationRow {
                id: t.0,
                case_id: t.1,
                kind: t.2,
                title: t.3,
                body: t.4,
                created_at: t.5,
                read_at: t.6,
            })
            .collect())
    }

    pub async fn unread_count(&mut self, account_id: i64) -> Result<i64> {
        let n: i64 = on!(self, c => sqlx::query_scalar(
            "SELECT COUNT(*) FROM notification WHERE account_id = $1 AND read_at IS NULL")
            .bind(account_id)
            .fetch_one(&mut *c)
            .await?);
        Ok(n)
    }

    /// Marks an account's notifications read: all of them, or up to `up_to` (an id).
    pub async fn mark_read(
        &mut self,
        account_id: i64,
        up_to: Option<i64>,
        now: Millis,
    ) -> Result<u64> {
        let n = on!(self, c => sqlx::query(
            "UPDATE notification SET read_at = $3 WHERE account_id = $1 AND read_at IS NULL AND ($2 IS NULL OR id <= $2)")
            .bind(account_id)
            .bind(up_to)
            .bind(now.0)
            .execute(&mut *c)
            .await?
            .rows_affected());
        Ok(n)
    }

    pub async fn insert_webhook(
        &mut self,
        name: &str,
        url: &str,
        secret_enc: &[u8],
        events: &str,
        now: Millis,
    ) -> Result<i64> {
        let id: i64 = on!(self, c => sqlx::query_scalar(
            "INSERT INTO webhook (name, url, secret_enc, events, active, created_at) VALUES ($1, $2, $3, $4, TRUE, $5) RETURNING id")
            .bind(name)
            .bind(url)
            .bind(secret_enc)
            .bind(events)
            .bind(now.0)
            .fetch_one(&mut *c)
            .await?);
        Ok(id)
    }

    pub async fn webhooks(&mut self) -> Result<Vec<WebhookRow>> {
        type T = (i64, String, String, String, bool, i64);
        let rows: Vec<T> = on!(self, c => sqlx::query_as(WEBHOOKS)
            .fetch_all(&mut *c)
            .await?);
        Ok(rows
            .into_iter()
            .map(|t| WebhookRow {
                id: t.0,
                name: t.1,
                url: t.2,
                events: t.3,
                active: t.4,
                created_at: t.5,
            })
            .collect())
    }

    pub async fn set_webhook_active(&mut self, id: i64, active: bool) -> Result<bool> {
        let n = on!(self, c => sqlx::query("UPDATE webhook SET active = $2 WHERE id = $1")
            .bind(id)
            .bind(active)
            .execute(&mut *c)
            .await?
            .rows_affected());
        Ok(n > 0)
    }

    pub async fn enqueue(
        &mut self,
        webhook_id: i64,
        event: &str,
        payload: &str,
        now: Millis,
    ) -> Result<i64> {
        let id: i64 = on!(self, c => sqlx::query_scalar(ENQUEUE)
            .bind(webhook_id)
            .bind(event)
            .bind(payload)
            .bind(now.0)
            .fetch_one(&mut *c)
            .await?);
        Ok(id)
    }

    /// Claims up to `limit` due deliveries for `worker` until `until`: nobody else takes them
    /// meanwhile (PostgreSQL skips rows another transaction holds; SQLite has one writer).
    pub async fn claim_deliveries(
        &mut self,
        worker: &str,
        now: Millis,
        until: Millis,
        limit: i64,
    ) -> Result<Vec<Delivery>> {
        let lock = match self {
            Tx::Sqlite(_) => "",
            Tx::Postgres(_) => " FOR UPDATE SKIP LOCKED",
        };
        let sql = sqlx::AssertSqlSafe(format!(
            "UPDATE outbox SET claimed_by = $1, claimed_until = $3 WHERE id IN (\
             SELECT id FROM outbox WHERE status = 'pending' AND next_at <= $2 \
             AND (claimed_until IS NULL OR claimed_until < $2) ORDER BY id LIMIT $4{lock})"
        ));
        on!(self, c => sqlx::query(sql)
            .bind(worker)
            .bind(now.0)
            .bind(until.0)
            .bind(limit)
            .execute(&mut *c)
            .await?
            .rows_affected());
        let rows = on!(self, c => {
            let rows = sqlx::query(
                "SELECT o.id, o.webhook_id, w.url, w.secret_enc, o.event, o.payload, o.attempts FROM outbox o \
                 JOIN webhook w ON w.id = o.webhook_id WHERE o.status = 'pending' AND o.claimed_by = $1 AND o.claimed_until = $2 ORDER BY o.id")
                .bind(worker)
                .bind(until.0)
                .fetch_all(&mut *c)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                out.push(Delivery {
                    id: r.try_get(0)?,
                    webhook_id: r.try_get(1)?,
                    url: r.try_get(2)?,
                    secret_enc: r.try_get(3)?,
                    event: r.try_get(4)?,
                    payload: r.try_get(5)?,
                    attempts: r.try_get(6)?,
                });
            }
            out
        });
        Ok(rows)
    }

    /// Records a try, and what follows it: delivered, another try at `next_at`, or dead.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_delivery(
        &mut self,
        id: i64,
        worker: &str,
        now: Millis,
        status_code: Option<i64>,
        error: Option<&str>,
        duration_ms: i64,
        outcome: &str,
        next_at: Millis,
    ) -> Result<bool> {
        let n = on!(self, c => sqlx::query(
            "UPDATE outbox SET status = $3, attempts = attempts + 1, next_at = $4, last_error = $5, claimed_by = NULL, \
             claimed_until = NULL, delivered_at = CASE WHEN $3 = 'delivered' THEN $6 ELSE delivered_at END \
             WHERE id = $1 AND claimed_by = $2 AND status = 'pending'")
            .bind(id)
            .bind(worker)
            .bind(outcome)
            .bind(next_at.0)
            .bind(error)
            .bind(now.0)
            .execute(&mut *c)
            .await?
            .rows_affected());
        on!(self, c => sqlx::query(
            "INSERT INTO delivery_log (outbox_id, at, status_code, error, duration_ms) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(now.0)
            .bind(status_code)
            .bind(error)
            .bind(duration_ms)
            .execute(&mut *c)
            .await?
            .rows_affected());
        Ok(n == 1)
    }

    /// The outbox, newest first, of one status or all.
    pub async fn outbox(&mut self, status: Option<&str>, limit: i64) -> Result<Vec<OutboxRow>> {
        type T = (
            i64,
            String,
            String,
            String,
            i64,
            i64,
            Option<String>,
            i64,
            Option<i64>,
        );
        let rows: Vec<T> = on!(self, c => sqlx::query_as(
            "SELECT o.id, w.name, o.event, o.status, o.attempts, o.next_at, o.last_error, o.created_at, o.delivered_at \
             FROM outbox o JOIN webhook w ON w.id = o.webhook_id WHERE ($1 IS NULL OR o.status = $1) ORDER BY o.id DESC LIMIT $2")
            .bind(status)
            .bind(limit)
            .fetch_all(&mut *c)
            .await?);
        Ok(rows
            .into_iter()
            .map(|t| OutboxRow {
                id: t.0,
                webhook: t.1,
                event: t.2,
                status: t.3,
                attempts: t.4,
                next_at: t.5,
                last_error: t.6,
                created_at: t.7,
                delivered_at: t.8,
            })
            .collect())
    }

    /// Sends a dead (or waiting) delivery again now, from its first try; false when it was
    /// delivered already or does not exist.
    pub async fn revive_delivery(&mut self, id: i64, now: Millis) -> Result<bool> {
        let n = on!(self, c => sqlx::query(
            "UPDATE outbox SET status = 'pending', attempts = 0, next_at = $2 WHERE id = $1 AND status IN ('dead', 'pending')")
            .bind(id)
            .bind(now.0)
            .execute(&mut *c)
            .await?
            .rows_affected());
        Ok(n == 1)
    }

    /// Records a warning unless it was given already; true when it is new.
    pub async fn insert_alert(
        &mut self,
        case_id: i64,
        clock: &str,
        level: &str,
        deadline: i64,
        now: Millis,
    ) -> Result<bool> {
        let n = on!(self, c => sqlx::query(
            "INSERT INTO case_alert (case_id, clock, level, deadline, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (case_id, clock, level, deadline) DO NOTHING")
            .bind(case_id)
            .bind(clock)
            .bind(level)
            .bind(deadline)
            .bind(now.0)
            .execute(&mut *c)
            .await?
            .rows_affected());
        Ok(n == 1)
    }

    /// Takes the lease of a periodic job until `until` when it is free (or already ours).
    pub async fn take_lease(
        &mut self,
        job: &str,
        holder: &str,
        now: Millis,
        until: Millis,
    ) -> Result<bool> {
        let n = on!(self, c => sqlx::query(
            "INSERT INTO job_lease (name, holder, until) VALUES ($1, $2, $4) \
             ON CONFLICT (name) DO UPDATE SET holder = $2, until = $4 WHERE job_lease.until < $3 OR job_lease.holder = $2")
            .bind(job)
            .bind(holder)
            .bind(now.0)
            .bind(until.0)
            .execute(&mut *c)
            .await?
            .rows_affected());
        Ok(n == 1)
    }
}
