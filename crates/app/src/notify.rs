//! Telling people what happens to cases: an inbox per account, and webhooks, signed JSON events
//! posted from an outbox written in the same transaction as the change they report, so that
//! nothing is lost when the receiver or Weige stops. Background jobs (warnings, deliveries)
//! run on whichever server holds their lease in the database.

use crate::secret::hex;
use crate::{App, AppError, Ctx, Result, now};
use domain::{Millis, Permission};
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use store::Tx;

pub const WEBHOOK_SECRET_FIELD: &str = "webhook.secret";
/// After this many failed tries a delivery is dead (kept, and can be sent again by hand).
pub const MAX_ATTEMPTS: i64 = 10;
/// The events a webhook can ask for (or `*`).
/// `transfer.status` and `chat.reply` go only to the webhook of the transfer source or chat
/// group that names it; the others go to every webhook that asks for them.
pub const EVENTS: [&str; 6] = [
    "case.reported",
    "case.changed",
    "case.warning",
    "case.overdue",
    crate::channels::TRANSFER_EVENT,
    crate::channels::CHAT_REPLY_EVENT,
];

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NotificationView {
    pub id: i64,
    pub case_id: Option<i64>,
    /// `assigned`, `warning`, `overdue`, `changed`.
    pub kind: String,
    pub title: String,
    pub body: String,
    pub created_at: i64,
    pub read: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Inbox {
    pub unread: i64,
    pub items: Vec<NotificationView>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct WebhookInput {
    pub name: String,
    /// `http://…` (put a TLS proxy in front of an `https://` receiver).
    pub url: String,
    /// Comma-separated events, or `*` for all.
    #[serde(default)]
    pub events: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WebhookView {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub events: String,
    pub active: bool,
    pub created_at: i64,
}

/// A new webhook with its signing secret, shown once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreatedWebhook {
    pub webhook: WebhookView,
    /// Receivers check `X-Weige-Signature: sha256=HMAC(secret, timestamp + "." + body)`.
    pub secret: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OutboxView {
    pub id: i64,
    pub webhook: String,
    pub event: String,
    /// `pending`, `delivered` or `dead`.
    pub status: String,
    pub attempts: i64,
    pub next_at: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

/// The signature a receiver checks.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
}

/// When the `attempts`th failed try is followed by the next: 5 s, 10 s, 20 s … at most an hour.
pub fn backoff_ms(attempts: i64) -> i64 {
    let exp = attempts.clamp(0, 20) as u32;
    (5_000i64.saturating_mul(1 << exp)).min(3_600_000)
}

/// Whether an active webhook asked for this event (by name, or all with `*`).
fn wants(w: &store::WebhookRow, event: &str) -> bool {
    w.active
        && w.events
            .split(',')
            .map(str::trim)
            .any(|e| e == "*" || e == event)
}

/// Whether any of the webhooks wants the event: where none does, its payload need not be built.
pub(crate) fn wanted_by_any(webhooks: &[store::WebhookRow], event: &str) -> bool {
    webhooks.iter().any(|w| wants(w, event))
}

impl App {
    /// Queues an event for every active webhook that asked for it (inside the caller's
    /// transaction: the event exists exactly when the change it reports does).
    pub(crate) async fn emit(
        &self,
        tx: &mut Tx,
        event: &str,
        payload: &serde_json::Value,
        now: Millis,
    ) -> Result<()> {
        let webhooks = tx.webhooks().await?;
        self.emit_to(tx, &webhooks, event, payload, now).await
    }

    /// [`App::emit`] to webhooks already read in this transaction.
    pub(crate) async fn emit_to(
        &self,
        tx: &mut impl crate::intake::IntakeTx,
        webhooks: &[store::WebhookRow],
        event: &str,
        payload: &serde_json::Value,
        now: Millis,
    ) -> Result<()> {
        if !wanted_by_any(webhooks, event) {
            return Ok(());
        }
        let body = serde_json::json!({"event": event, "at": now.0, "data": payload}).to_string();
        for w in webhooks.iter().filter(|w| wants(w, event)) {
            tx.enqueue(w.id, event, &body, now).await?;
        }
        Ok(())
    }

    /// The caller's inbox, newest first.
    pub async fn inbox(&self, ctx: &Ctx, before: Option<i64>) -> Result<Inbox> {
        let account = ctx.account_id().ok_or(AppError::Unauthenticated)?;
        let mut tx = self.store.read().await?;
        let items = tx
            .notifications(account, before, 50)
            .await?
            .into_iter()
            .map(|n| NotificationView {
                id: n.id,
                case_id: n.case_id,
                kind: n.kind,
                title: n.title,
                body: n.body,
                created_at: n.created_at,
                read: n.read_at.is_some(),
            })
            .collect();
        Ok(Inbox {
            unread: tx.unread_count(account).await?,
            items,
        })
    }

    pub async fn unread(&self, ctx: &Ctx) -> Result<i64> {
        match ctx.account_id() {
            Some(a) => Ok(self.store.read().await?.unread_count(a).await?),
            None => Ok(0),
        }
    }

    /// Marks the caller's notifications read, all or up to `up_to`.
    pub async fn mark_read(&self, ctx: &Ctx, up_to: Option<i64>) -> Result<u64> {
        let account = ctx.account_id().ok_or(AppError::Unauthenticated)?;
        let mut tx = self.store.write().await?;
        let n = tx.mark_read(account, up_to, now()).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Adds a webhook (system admin); its secret is shown once and stored encrypted.
    pub async fn create_webhook(&self, ctx: &Ctx, input: &WebhookInput) -> Result<CreatedWebhook> {
        self.require_anywhere(ctx, Permission::ConfigureSystem, "webhooks")
            .await?;
        let cipher = self
            .cipher
            .clone()
            .ok_or_else(|| AppError::Internal("no data key is configured".into()))?;
        let name = input.name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(AppError::invalid(
                "name",
                "名称必填，最多 64 个字符 / name: required, at most 64 characters",
            ));
        }
        let url = input.url.trim();
        let host_ok = url
            .strip_prefix("http://")
            .and_then(|rest| rest.split('/').next())
            .is_some_and(|h| !h.is_empty());
        if !host_ok || url.len() > 500 {
            return Err(AppError::invalid(
                "url",
                "须为 http:// 地址（https 接收方请经本地 TLS 代理）/ an http:// address (put a TLS proxy in front of https receivers)",
            ));
        }
        let events = input
            .events
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .unwrap_or("*");
        for e in events.split(',').map(str::trim) {
            if e != "*" && !EVENTS.contains(&e) {
                return Err(AppError::invalid(
                    "events",
                    format!(
                        "未知事件 {e:?}，可选：{} / unknown event",
                        EVENTS.join(", ")
                    ),
                ));
            }
        }
        let secret = crate::random_hex(24)?;
        let enc = cipher
            .encrypt(WEBHOOK_SECRET_FIELD, &secret)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let now = now();
        let mut tx = self.store.write().await?;
        let id = tx.insert_webhook(name, url, &enc, events, now).await?;
        tx.commit().await?;
        Ok(CreatedWebhook {
            webhook: WebhookView {
                id,
                name: name.to_owned(),
                url: url.to_owned(),
                events: events.to_owned(),
                active: true,
                created_at: now.0,
            },
            secret,
        })
    }

    pub async fn webhooks(&self, ctx: &Ctx) -> Result<Vec<WebhookView>> {
        self.require_anywhere(ctx, Permission::ConfigureSystem, "webhooks")
            .await?;
        Ok(self
            .store
            .read()
            .await?
            .webhooks()
            .await?
            .into_iter()
            .map(|w| WebhookView {
                id: w.id,
                name: w.name,
                url: w.url,
                events: w.events,
                active: w.active,
                created_at: w.created_at,
            })
            .collect())
    }

    pub async fn set_webhook_active(&self, ctx: &Ctx, id: i64, active: bool) -> Result<()> {
        self.require_anywhere(ctx, Permission::ConfigureSystem, &format!("webhook {id}"))
            .await?;
        let mut tx = self.store.write().await?;
        if !tx.set_webhook_active(id, active).await? {
            return Err(AppError::NotFound("webhook"));
        }
        tx.commit().await?;
        Ok(())
    }

    /// The outbox: what was sent, what waits, what died (system admin).
    pub async fn outbox(&self, ctx: &Ctx, status: Option<&str>) -> Result<Vec<OutboxView>> {
        self.require_anywhere(ctx, Permission::ConfigureSystem, "outbox")
            .await?;
        let status = status.filter(|s| !s.is_empty());
        if let Some(s) = status
            && !matches!(s, "pending" | "delivered" | "dead")
        {
            return Err(AppError::invalid(
                "status",
                "须为 pending、delivered 或 dead / pending, delivered or dead",
            ));
        }
        Ok(self
            .store
            .read()
            .await?
            .outbox(status, 200)
            .await?
            .into_iter()
            .map(|o| OutboxView {
                id: o.id,
                webhook: o.webhook,
                event: o.event,
                status: o.status,
                attempts: o.attempts,
                next_at: o.next_at,
                last_error: o.last_error,
                created_at: o.created_at,
                delivered_at: o.delivered_at,
            })
            .collect())
    }

    /// Sends a dead or waiting delivery again, now.
    pub async fn retry_delivery(&self, ctx: &Ctx, id: i64) -> Result<()> {
        self.require_anywhere(ctx, Permission::ConfigureSystem, &format!("delivery {id}"))
            .await?;
        let mut tx = self.store.write().await?;
        if !tx.revive_delivery(id, now()).await? {
            return Err(AppError::Conflict(
                "该投递已送达或不存在 / that delivery was delivered already, or does not exist"
                    .into(),
            ));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Takes the lease of a periodic job for `ms`: true when this server is to run it now.
    pub async fn take_lease(&self, job: &str, holder: &str, ms: i64, at: Millis) -> Result<bool> {
        let mut tx = self.store.write().await?;
        let ok = tx.take_lease(job, holder, at, Millis(at.0 + ms)).await?;
        tx.commit().await?;
        Ok(ok)
    }

    /// Delivers what is due at `at` (claimed for this worker, so no other delivers it too).
    /// Returns how many were delivered.
    pub async fn deliver_due(&self, worker: &str, at: Millis) -> Result<usize> {
        let cipher = self
            .cipher
            .clone()
            .ok_or_else(|| AppError::Internal("no data key is configured".into()))?;
        let batch = {
            let mut tx = self.store.write().await?;
            let b = tx
                .claim_deliveries(worker, at, Millis(at.0 + 60_000), 20)
                .await?;
            tx.commit().await?;
            b
        };
        let mut delivered = 0;
        for d in batch {
            let secret = cipher
                .decrypt(WEBHOOK_SECRET_FIELD, &d.secret_enc)
                .map_err(|e| AppError::Internal(e.to_string()))?;
            let started = std::time::Instant::now();
            let answer = post(
                &d.url,
                &d.payload,
                &d.event,
                d.id,
                &signature(&secret, at.0, &d.payload),
                at.0,
            )
            .await;
            let took = started.elapsed().as_millis() as i64;
            let (code, error) = match &answer {
                Ok(code) if (200..300).contains(code) => (Some(i64::from(*code)), None),
                Ok(code) => (Some(i64::from(*code)), Some(format!("HTTP {code}"))),
                Err(e) => (None, Some(e.clone())),
            };
            let (outcome, next_at) = match (&error, d.attempts + 1 >= MAX_ATTEMPTS) {
                (None, _) => ("delivered", at),
                (Some(_), true) => ("dead", at),
                (Some(_), false) => ("pending", Millis(at.0 + backoff_ms(d.attempts))),
            };
            let mut tx = self.store.write().await?;
            tx.record_delivery(
                d.id,
                worker,
                at,
                code,
                error.as_deref(),
                took,
                outcome,
                next_at,
            )
            .await?;
            tx.commit().await?;
            if outcome == "delivered" {
                delivered += 1;
            }
        }
        Ok(delivered)
    }
}

/// Posts one event; the answer's status, or why there was none.
async fn post(
    url: &str,
    body: &str,
    event: &str,
    id: i64,
    signature: &str,
    timestamp: i64,
) -> std::result::Result<u16, String> {
    use http_body_util::Full;
    use hyper::Request;
    let rest = url
        .strip_prefix("http://")
        .ok_or("not an http:// address")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let address = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let work = async {
        let stream = tokio::net::TcpStream::connect(&address)
            .await
            .map_err(|e| format!("connect {address}: {e}"))?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let req = Request::post(path)
            .header("host", authority)
            .header("content-type", "application/json")
            .header("user-agent", concat!("weige/", env!("CARGO_PKG_VERSION")))
            .header("x-weige-event", event)
            .header("x-weige-delivery", id.to_string())
            .header("x-weige-timestamp", timestamp.to_string())
            .header("x-weige-signature", signature)
            .body(Full::new(hyper::body::Bytes::from(body.to_owned())))
            .map_err(|e| e.to_string())?;
        let res = sender
            .send_request(req)
            .await
            .map_err(|e| format!("send: {e}"))?;
        Ok::<u16, String>(res.status().as_u16())
    };
    match tokio::time::timeout(std::time::Duration::from_secs(10), work).await {
        Ok(r) => r,
        Err(_) => Err("timed out after 10 s".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_to_an_hour() {
        assert_eq!(backoff_ms(0), 5_000);
        assert_eq!(backoff_ms(1), 10_000);
        assert_eq!(backoff_ms(30), 3_600_000);
    }

    #[test]
    fn the_signature_is_the_hmac_of_timestamp_and_body() {
        let s = signature("secret", 1, "{}");
        assert!(s.starts_with("sha256=") && s.len() == 7 + 64);
        assert_ne!(s, signature("other", 1, "{}"));
        assert_ne!(s, signature("secret", 2, "{}"));
    }
}
