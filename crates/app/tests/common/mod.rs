//! Helpers shared by the use-case tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use app::{App, Ctx, Origin};
use domain::Millis;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use store::testing;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The context of a demo account, signed in with the demo password.
pub async fn as_user(app: &App, username: &str) -> Ctx {
    let ok = app
        .login(username, app::demo::DEMO_PASSWORD, Origin::default())
        .await
        .unwrap();
    app.authenticate_session(&ok.token, Origin::default())
        .await
        .unwrap()
}

/// Moves a case's stage clock back by `ms`, as time passing would.
pub async fn age(db: &testing::TestDb, id: i64, ms: i64) {
    age_clocks(db, id, ms, 0).await;
}

/// Moves a case's stage clock back by `stage_ms` and its whole-case clock by `case_ms`.
pub async fn age_clocks(db: &testing::TestDb, id: i64, stage_ms: i64, case_ms: i64) {
    let ms = stage_ms;
    let mut tx = db.store.write().await.unwrap();
    let c = tx.case_by_id(id).await.unwrap().unwrap();
    let change = store::CaseChange {
        status: &c.status,
        tier: &c.tier,
        solved_tier: c.solved_tier.as_deref(),
        holder_account_id: c.holder_account_id,
        holder_node: c.holder_node.as_deref(),
        stage: c.stage.as_deref(),
        stage_unit: c.stage_unit.as_deref(),
        stage_started_at: c.stage_started_at.map(|t| t - ms),
        stage_warn_at: c.stage_warn_at.map(|t| t - ms),
        stage_deadline: c.stage_deadline.map(|t| t - ms),
        case_warn_at: c.case_warn_at - case_ms,
        case_deadline: c.case_deadline - case_ms,
        paused_at: c.paused_at,
        supervised: c.supervised,
        closure: c.closure.as_deref(),
        satisfaction: c.satisfaction.as_deref(),
        satisfaction_comment: c.satisfaction_comment.as_deref(),
        merged_into: c.merged_into,
        closed_at: c.closed_at,
        now: Millis(c.updated_at),
    };
    assert!(tx.update_case(id, c.version, &change).await.unwrap());
    tx.commit().await.unwrap();
}

/// One request the receiver saw: (delivery id, status answered, signature, timestamp, body).
pub type Seen = (i64, u16, String, i64, String);

/// A webhook receiver that answers 503 while down and 200 while up, and remembers every
/// request: (delivery id, status answered, signature, timestamp, body).
pub struct Receiver {
    pub port: u16,
    pub up: Arc<AtomicBool>,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

pub async fn receiver() -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let up = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (up2, seen2) = (up.clone(), seen.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let (up, seen) = (up2.clone(), seen2.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head, body) = loop {
                    let n = s.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(i) = text.find("\r\n\r\n") {
                        let head = text[..i].to_owned();
                        let len: usize = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if buf.len() >= i + 4 + len {
                            break (
                                head,
                                String::from_utf8_lossy(&buf[i + 4..i + 4 + len]).to_string(),
                            );
                        }
                    }
                };
                let header = |name: &str| {
                    head.lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            (k.trim().eq_ignore_ascii_case(name)).then(|| v.trim().to_owned())
                        })
                        .unwrap_or_default()
                };
                let code = if up.load(Ordering::SeqCst) { 200 } else { 503 };
                seen.lock().unwrap().push((
                    header("x-weige-delivery").parse().unwrap_or(-1),
                    code,
                    header("x-weige-signature"),
                    header("x-weige-timestamp").parse().unwrap_or(0),
                    body,
                ));
                let reply =
                    format!("HTTP/1.1 {code} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                let _ = s.write_all(reply.as_bytes()).await;
            });
        }
    });
    Receiver { port, up, seen }
}
