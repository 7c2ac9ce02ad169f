//! Helpers shared by the use-case tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use app::{App, Ctx, Origin};
use domain::Millis;
use store::testing;

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
        case_warn_at: c.case_warn_at,
        case_deadline: c.case_deadline,
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
