//! Warnings and webhooks, on the engine `WEIGE_TEST_DATABASE` names: each warning once (also
//! with two servers), red reaching the supervisor and escalating, and every event delivered
//! once to a receiver that is down for a while, across a restart of Weige and with two workers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use app::{App, CaseInput, Ctx, Settings, WebhookInput};
use common::{age, age_clocks, as_user, receiver};
use domain::Millis;
use std::sync::atomic::Ordering;
use store::testing;

const MICRO: &str = "510115001001001001";

async fn demo() -> (App, testing::TestDb) {
    let db = testing::fresh().await;
    let app = App::new(db.store.clone(), Settings::default())
        .with_cipher(store::FieldCipher::from_hex(&"55".repeat(32)).unwrap());
    app.seed_demo().await.unwrap();
    app.seed_demo_people(app::DemoSize::Small).await.unwrap();
    (app, db)
}

async fn new_case(app: &App) -> app::CaseCreated {
    let input = CaseInput {
        category: "sg.sanitation".into(),
        description: "垃圾桶满溢".into(),
        micro_grid: Some(MICRO.into()),
        ..Default::default()
    };
    app.report_case(&Ctx::cli(), &input, Vec::new())
        .await
        .unwrap()
}

#[tokio::test]
async fn warnings_come_once_red_reaches_the_supervisor_and_the_case_climbs() {
    let (app, db) = demo().await;
    // The community's general grid head (the small demo seeds only the grid's roster).
    app.add_staff(
        &Ctx::cli(),
        &app::StaffInput {
            node: "510115001001".into(),
            duty: "总网格长".into(),
            name: "张伟".into(),
            username: Some("head".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let case = new_case(&app).await;
    let micro = as_user(&app, "micro").await;
    let version = app.case(&micro, case.id).await.unwrap().summary.version;
    let accept = app::ActInput {
        action: "accept".into(),
        version,
        ..Default::default()
    };
    app.act(&micro, case.id, &accept, Vec::new()).await.unwrap();
    let view = app.case(&micro, case.id).await.unwrap();
    let (warn, deadline) = (
        view.stage_warn_at.unwrap(),
        view.summary.stage_deadline.unwrap(),
    );
    let now = app::now().0;

    // Past the warning share, not the deadline: yellow, to the holder, once — even when two
    // servers look at the same moment.
    age(&db, case.id, warn - now + 1_000).await;
    let other = app.clone();
    let (a, b) = tokio::join!(
        app.run_warnings(Millis(now)),
        other.run_warnings(Millis(now))
    );
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    assert_eq!(app.run_warnings(Millis(now)).await.unwrap(), 0);
    let inbox = app.inbox(&micro, None).await.unwrap();
    assert!(inbox.items.iter().any(|n| n.kind == "warning"), "{inbox:?}");

    // Past the deadline: red, to the holder and the community's general grid head; sanitation
    // climbs by itself, so the case goes up to the grid.
    age(&db, case.id, deadline - warn + 1_000).await;
    assert_eq!(app.run_warnings(Millis(now)).await.unwrap(), 1);
    let head = as_user(&app, "head").await;
    assert!(
        app.inbox(&head, None)
            .await
            .unwrap()
            .items
            .iter()
            .any(|n| n.kind == "overdue")
    );
    assert!(
        app.inbox(&micro, None)
            .await
            .unwrap()
            .items
            .iter()
            .any(|n| n.kind == "overdue")
    );
    let view = app.case(&Ctx::cli(), case.id).await.unwrap();
    assert_eq!(view.summary.tier, "grid");
    assert!(
        view.history
            .iter()
            .any(|e| e.action == "escalate" && e.actor.contains("system"))
    );
    let grid = as_user(&app, "grid").await;
    assert!(
        app.inbox(&grid, None)
            .await
            .unwrap()
            .items
            .iter()
            .any(|n| n.kind == "assigned")
    );
    assert!(app.mark_read(&grid, None).await.unwrap() >= 1);
    assert_eq!(app.inbox(&grid, None).await.unwrap().unread, 0);
}

/// Whether `ctx`'s inbox holds a notification of `kind` whose title says `text`.
async fn told(app: &App, ctx: &Ctx, kind: &str, text: &str) -> bool {
    let inbox = app.inbox(ctx, None).await.unwrap();
    inbox
        .items
        .iter()
        .any(|n| n.kind == kind && n.title.contains(text))
}

#[tokio::test]
async fn the_whole_case_clock_warns_too_and_a_paused_case_is_left_alone() {
    let (app, db) = demo().await;
    let case = new_case(&app).await;
    let micro = as_user(&app, "micro").await;
    let view = app.case(&micro, case.id).await.unwrap();
    let (warn, deadline) = (view.case_warn_at, view.summary.case_deadline);
    let now = app::now().0;
    let due = |db: &testing::TestDb| {
        let store = db.store.clone();
        async move {
            store
                .read()
                .await
                .unwrap()
                .cases_due(Millis(now), 10)
                .await
                .unwrap()
                .len()
        }
    };
    assert_eq!(due(&db).await, 0, "nothing is due yet");

    // Past the case's warning share (its stage clock, to accept it, still running): yellow on
    // the case clock, to the holder, once; then the case is not looked at again until its
    // next clock event.
    age_clocks(&db, case.id, 0, warn - now + 1_000).await;
    assert_eq!(due(&db).await, 1);
    assert_eq!(app.run_warnings(Millis(now)).await.unwrap(), 1);
    assert_eq!(due(&db).await, 0);
    assert_eq!(app.run_warnings(Millis(now)).await.unwrap(), 0);
    assert!(told(&app, &micro, "warning", "总时限").await);

    // Past the whole case's deadline: red, once.
    age_clocks(&db, case.id, 0, deadline - warn + 1_000).await;
    assert_eq!(app.run_warnings(Millis(now)).await.unwrap(), 1);
    assert_eq!(app.run_warnings(Millis(now)).await.unwrap(), 0);
    assert!(told(&app, &micro, "overdue", "总时限").await);

    // A second case, parked (挂账) before any clock runs out: its clocks stand still, and it
    // is not due however far they are behind.
    let parked = new_case(&app).await;
    for action in ["accept", "claim", "park"] {
        let version = app
            .case(&Ctx::cli(), parked.id)
            .await
            .unwrap()
            .summary
            .version;
        let input = app::ActInput {
            action: action.into(),
            version,
            reason: "等待上级政策 / waiting for a policy".into(),
            ..Default::default()
        };
        app.act(&Ctx::cli(), parked.id, &input, Vec::new())
            .await
            .unwrap();
    }
    age_clocks(&db, parked.id, 100 * 86_400_000, 100 * 86_400_000).await;
    assert_eq!(due(&db).await, 0);
    assert_eq!(app.run_warnings(Millis(now)).await.unwrap(), 0);
}

#[tokio::test]
async fn a_backlog_longer_than_a_page_is_worked_off_in_one_run() {
    let (app, db) = demo().await;
    let category = app.category_for_case("sg.sanitation").await.unwrap().id;
    let now = app::now().0;
    // 450 cases reported ten days ago and never touched (as after a long stop): both clocks
    // of each are past their deadlines.
    let old = now - 10 * 86_400_000;
    let rows: Vec<_> = (0..450)
        .map(|_| store::BenchCase {
            category_id: category,
            micro_grid: MICRO,
            status: "reported",
            created_at: old,
            lon: 103.83,
            lat: 30.69,
            holder_account_id: None,
        })
        .collect();
    let mut tx = db.store.write().await.unwrap();
    tx.insert_bench_cases(1, &rows).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        app.run_warnings(Millis(now)).await.unwrap(),
        900,
        "two red each"
    );
    let left = db
        .store
        .read()
        .await
        .unwrap()
        .cases_due(Millis(now), 10)
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(app.run_warnings(Millis(now)).await.unwrap(), 0);
}

#[tokio::test]
async fn every_event_reaches_a_receiver_that_was_down_once_also_across_a_restart() {
    let (app, db) = demo().await;
    let r = receiver().await;
    let created = app
        .create_webhook(
            &Ctx::cli(),
            &WebhookInput {
                name: "区平台".into(),
                url: format!("http://127.0.0.1:{}/hook", r.port),
                events: Some("*".into()),
            },
        )
        .await
        .unwrap();
    for _ in 0..3 {
        new_case(&app).await;
    }
    let events = app
        .outbox(&Ctx::cli(), Some("pending"))
        .await
        .unwrap()
        .len();
    assert_eq!(events, 3, "one case.reported each");

    // The receiver is down: every try fails and is put off.
    let t0 = app::now().0;
    assert_eq!(app.deliver_due("w1", Millis(t0)).await.unwrap(), 0);
    let pending = app.outbox(&Ctx::cli(), Some("pending")).await.unwrap();
    assert!(pending.iter().all(|o| o.attempts == 1 && o.next_at > t0));
    assert_eq!(
        app.deliver_due("w1", Millis(t0 + 1_000)).await.unwrap(),
        0,
        "not due yet"
    );

    // Weige restarts (a new process on the same database); the receiver comes back; two workers
    // deliver at once.
    let restarted = App::new(db.store.clone(), Settings::default())
        .with_cipher(store::FieldCipher::from_hex(&"55".repeat(32)).unwrap());
    r.up.store(true, Ordering::SeqCst);
    let later = Millis(t0 + 6_000);
    let (a, b) = tokio::join!(
        restarted.deliver_due("w2", later),
        restarted.deliver_due("w3", later)
    );
    assert_eq!(a.unwrap() + b.unwrap(), 3);
    assert_eq!(
        restarted
            .deliver_due("w2", Millis(t0 + 60_000))
            .await
            .unwrap(),
        0
    );

    let seen = r.seen.lock().unwrap().clone();
    let ok: Vec<i64> = seen.iter().filter(|s| s.1 == 200).map(|s| s.0).collect();
    let mut unique = ok.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(ok.len(), 3, "each delivered once: {seen:?}");
    assert_eq!(unique.len(), 3);
    // Every request is signed with the webhook's secret over its timestamp and body.
    for (_, _, sig, ts, body) in &seen {
        assert_eq!(sig, &app::signature(&created.secret, *ts, body));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["event"], "case.reported");
    }
    assert!(
        app.outbox(&Ctx::cli(), Some("delivered"))
            .await
            .unwrap()
            .len()
            == 3
    );
}

#[tokio::test]
async fn a_delivery_that_never_gets_through_dies_and_can_be_sent_again() {
    let (app, _db) = demo().await;
    // A port nobody listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    app.create_webhook(
        &Ctx::cli(),
        &WebhookInput {
            name: "gone".into(),
            url: format!("http://127.0.0.1:{closed}/"),
            events: Some("case.reported".into()),
        },
    )
    .await
    .unwrap();
    new_case(&app).await;
    let mut at = app::now().0;
    for attempt in 0..10 {
        app.deliver_due("w", Millis(at)).await.unwrap();
        at += app::backoff_ms(attempt) + 1;
    }
    let dead = app.outbox(&Ctx::cli(), Some("dead")).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts, 10);
    assert!(
        dead[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("connect"))
    );
    app.retry_delivery(&Ctx::cli(), dead[0].id).await.unwrap();
    assert_eq!(
        app.outbox(&Ctx::cli(), Some("pending"))
            .await
            .unwrap()
            .len(),
        1
    );
    // Bad webhooks are refused.
    for (url, field) in [
        ("https://x/", "url"),
        ("ftp://x", "url"),
        ("http://", "url"),
    ] {
        let got = app
            .create_webhook(
                &Ctx::cli(),
                &WebhookInput {
                    name: "x".into(),
                    url: url.into(),
                    events: None,
                },
            )
            .await;
        assert!(
            matches!(got, Err(app::AppError::Invalid { field: f, .. }) if f == field),
            "{url}"
        );
    }
}
