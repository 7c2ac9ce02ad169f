//! Transfers and chat groups, on the engine `WEIGE_TEST_DATABASE` names: a transferred work
//! order is taken once and its closing goes back once; a chat message posted twice makes one
//! draft, and a confirmed draft becomes a case routed to its micro-grid, with the group told.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use app::{
    ActInput, App, AppError, CaseInput, ChatGroupInput, Ctx, DraftDecision, Settings,
    TransferInput, TransferSourceInput, WebhookInput,
};
use common::{as_user, receiver};
use domain::Millis;
use std::sync::atomic::Ordering;
use store::testing;

const MICRO: &str = "510115001001001001";

async fn demo() -> (App, testing::TestDb) {
    let db = testing::fresh().await;
    let app = App::new(db.store.clone(), Settings::default())
        .with_cipher(store::FieldCipher::from_hex(&"66".repeat(32)).unwrap());
    app.seed_demo().await.unwrap();
    app.seed_demo_people(app::DemoSize::Small).await.unwrap();
    (app, db)
}

async fn webhook(app: &App, port: u16, events: &str) -> (i64, String) {
    let w = app
        .create_webhook(
            &Ctx::cli(),
            &WebhookInput {
                name: format!("receiver {events}"),
                url: format!("http://127.0.0.1:{port}/hook"),
                events: Some(events.into()),
            },
        )
        .await
        .unwrap();
    (w.webhook.id, w.secret)
}

fn order(external_id: Option<&str>) -> TransferInput {
    TransferInput {
        source: "12345".into(),
        external_id: external_id.map(str::to_owned),
        reported_at: "2026-11-28T08:15:00+08:00".into(),
        transferred_at: Some("2026-11-28T08:40:00+08:00".into()),
        case: CaseInput {
            category: "sg.sanitation".into(),
            description: "市民来电：小区门口垃圾堆放三天无人清运".into(),
            micro_grid: Some(MICRO.into()),
            reporter_phone: Some("13800002222".into()),
            ..Default::default()
        },
    }
}

async fn case_total(app: &App) -> usize {
    app.cases(
        &Ctx::cli(),
        &app::CaseQuery {
            scope: Some("510115001".into()),
            limit: Some(200),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .items
    .len()
}

#[tokio::test]
async fn a_transferred_order_is_taken_once_and_its_closing_goes_back_once() {
    let (app, _db) = demo().await;
    let r = receiver().await;
    r.up.store(true, Ordering::SeqCst);
    let (hook, secret) = webhook(&app, r.port, app::TRANSFER_EVENT).await;
    let source = TransferSourceInput {
        code: "12345".into(),
        name: "12345 市民服务热线".into(),
        channel: "hotline".into(),
        webhook_id: Some(hook),
    };
    app.create_transfer_source(&Ctx::cli(), &source)
        .await
        .unwrap();
    assert!(matches!(
        app.create_transfer_source(&Ctx::cli(), &source).await,
        Err(AppError::Conflict(_))
    ));
    let before = case_total(&app).await;

    // Bad transfers create nothing.
    for bad in [
        order(None),
        order(Some("  ")),
        TransferInput {
            source: "99999".into(),
            ..order(Some("SC-1"))
        },
        TransferInput {
            reported_at: "2026-11-28 08:15".into(),
            ..order(Some("SC-1"))
        },
        TransferInput {
            transferred_at: Some("2026-11-28T08:00:00+08:00".into()),
            ..order(Some("SC-1"))
        },
    ] {
        assert!(
            matches!(
                app.transfer(&Ctx::cli(), &bad).await,
                Err(AppError::Invalid { .. })
            ),
            "{bad:?}"
        );
    }
    assert_eq!(case_total(&app).await, before);

    let first = app
        .transfer(&Ctx::cli(), &order(Some("SC-20261128-0007")))
        .await
        .unwrap();
    assert!(!first.resent);
    // Sent again (the source did not hear back): recognised, not duplicated.
    let again = app
        .transfer(&Ctx::cli(), &order(Some("SC-20261128-0007")))
        .await
        .unwrap();
    assert!(again.resent);
    assert_eq!((again.id, &again.number), (first.id, &first.number));
    assert_eq!(case_total(&app).await, before + 1);

    let case = app.case(&Ctx::cli(), first.id).await.unwrap();
    assert_eq!(case.summary.channel, "hotline");
    assert_eq!(case.summary.micro_grid, MICRO);
    let t = case.transfer.expect("the transfer is shown");
    assert_eq!(
        (t.source.as_str(), t.external_id.as_str()),
        ("12345", "SC-20261128-0007")
    );
    assert_eq!(
        (t.reported_at, t.transferred_at),
        (1_795_824_900_000, 1_795_826_400_000)
    );

    // The worker takes it up and handles it; a note changes no status; then it is closed.
    let micro = as_user(&app, "micro").await;
    let mut version = case.summary.version;
    for (who, action) in [
        (&micro, "accept"),
        (&micro, "comment"),
        (&Ctx::cli(), "force_close"),
    ] {
        let done = app
            .act(
                who,
                first.id,
                &ActInput {
                    action: action.into(),
                    version,
                    reason: "已清运".into(),
                    ..Default::default()
                },
                Vec::new(),
            )
            .await
            .unwrap();
        version = done.summary.version;
    }
    let now = app::now().0;
    app.deliver_due("w", Millis(now)).await.unwrap();
    assert_eq!(app.deliver_due("w", Millis(now + 60_000)).await.unwrap(), 0);
    let seen = r.seen.lock().unwrap().clone();
    let pushed: Vec<serde_json::Value> = seen
        .iter()
        .map(|(_, code, sig, ts, body)| {
            assert_eq!(*code, 200);
            assert_eq!(sig, &app::signature(&secret, *ts, body));
            serde_json::from_str(body).unwrap()
        })
        .collect();
    let statuses: Vec<&str> = pushed
        .iter()
        .map(|p| p["data"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["dispatched", "closed"], "{pushed:?}");
    let closing = &pushed[1];
    assert_eq!(closing["event"], "transfer.status");
    assert_eq!(closing["data"]["external_id"], "SC-20261128-0007");
    assert_eq!(closing["data"]["number"], first.number.as_str());
    assert_eq!(closing["data"]["closed"], true);
    assert_eq!(closing["data"]["closure"], "special");
    assert_eq!(
        pushed
            .iter()
            .filter(|p| p["data"]["closed"] == true)
            .count(),
        1,
        "the closing goes back once"
    );
}

/// A worker's one tap: the draft becomes a public-facilities case.
async fn confirm(app: &App, who: &Ctx, draft: i64) -> app::Result<app::DraftConfirmed> {
    let decision = DraftDecision {
        category: Some("sg.public_facilities".into()),
        ..Default::default()
    };
    app.confirm_chat_draft(who, draft, &decision, "http://weige.test")
        .await
}

fn signed(secret: &str, body: &str) -> (String, String) {
    let ts = app::now().0 / 1000;
    (ts.to_string(), app::signature(secret, ts, body))
}

#[tokio::test]
async fn a_chat_message_posted_twice_makes_one_draft_and_a_confirmed_draft_a_routed_case() {
    let (app, _db) = demo().await;
    let r = receiver().await;
    r.up.store(true, Ordering::SeqCst);
    let (reply_hook, _) = webhook(&app, r.port, app::CHAT_REPLY_EVENT).await;
    let group = app
        .create_chat_group(
            &Ctx::cli(),
            &ChatGroupInput {
                code: "lc-1".into(),
                name: "柳城一组居民群".into(),
                scope: MICRO.into(),
                reply_webhook_id: Some(reply_hook),
            },
        )
        .await
        .unwrap();
    let base = "http://weige.test";
    let message = serde_json::json!({
        "message_id": "wx-msg-0001", "sender": "李阿姨",
        "text": "3栋楼下的路灯坏了好几天，晚上很黑",
    })
    .to_string();
    let (ts, sig) = signed(&group.secret, &message);
    let first = app
        .chat_message("lc-1", Some(&ts), Some(&sig), message.as_bytes())
        .await
        .unwrap();
    assert_eq!(first.status, "draft");
    assert!(first.reply.contains("已收到"), "{}", first.reply);
    let (ts, sig) = signed(&group.secret, &message);
    let second = app
        .chat_message("lc-1", Some(&ts), Some(&sig), message.as_bytes())
        .await
        .unwrap();
    assert_eq!(second.draft_id, first.draft_id, "one draft per message");

    // Unsigned, forged, replayed from long ago, or for no group: refused, nothing made.
    let old = app::now().0 / 1000 - 3_600;
    let other = serde_json::json!({"message_id": "wx-msg-0002", "text": "噪音扰民"}).to_string();
    let refusals = [
        app.chat_message("lc-1", None, None, other.as_bytes()).await,
        app.chat_message("lc-1", Some(&ts), Some("sha256=00"), other.as_bytes())
            .await,
        app.chat_message(
            "lc-1",
            Some(&old.to_string()),
            Some(&app::signature(&group.secret, old, &other)),
            other.as_bytes(),
        )
        .await,
        app.chat_message("nope", Some(&ts), Some(&sig), other.as_bytes())
            .await,
    ];
    assert!(matches!(refusals[0], Err(AppError::Unauthenticated)));
    assert!(matches!(refusals[1], Err(AppError::Unauthenticated)));
    assert!(matches!(refusals[2], Err(AppError::Stale)));
    assert!(matches!(refusals[3], Err(AppError::NotFound(_))));
    let micro = as_user(&app, "micro").await;
    let drafts = app.chat_drafts(&micro, None, None).await.unwrap();
    assert_eq!(drafts.len(), 1);
    assert_eq!(drafts[0].sender, "李阿姨");
    // 路灯 is a choice of public facilities' question: that category is offered, one tap away.
    assert_eq!(
        drafts[0].suggested_category.as_deref(),
        Some("sg.public_facilities")
    );

    // The micro-grid worker confirms it in one tap: a case in the group's micro-grid.
    let confirmed = confirm(&app, &micro, first.draft_id).await.unwrap();
    assert_eq!(confirmed.case.micro_grid.code, MICRO);
    assert!(confirmed.reply.contains(&confirmed.case.number));
    let link = format!(
        "{base}/track/{}?t={}",
        confirmed.case.number, confirmed.case.follow_token
    );
    assert!(confirmed.reply.contains(&link), "{}", confirmed.reply);
    let case = app.case(&micro, confirmed.case.id).await.unwrap();
    assert_eq!(case.summary.channel, "wechat");
    assert_eq!(
        case.summary.description,
        "3栋楼下的路灯坏了好几天，晚上很黑"
    );
    assert_eq!(case.reporter_name.as_deref(), Some("李阿姨"));
    // Decided once: a second tap, or the message posted again, changes nothing.
    assert!(matches!(
        confirm(&app, &micro, first.draft_id).await,
        Err(AppError::Conflict(_))
    ));
    let (ts, sig) = signed(&group.secret, &message);
    let repeat = app
        .chat_message("lc-1", Some(&ts), Some(&sig), message.as_bytes())
        .await
        .unwrap();
    assert_eq!(repeat.status, "confirmed");
    assert_eq!(
        repeat.number.as_deref(),
        Some(confirmed.case.number.as_str())
    );
    assert!(
        app.chat_drafts(&micro, None, None)
            .await
            .unwrap()
            .is_empty()
    );

    // The group hears the number and the link through its reply webhook, once.
    let now = app::now().0;
    app.deliver_due("w", Millis(now)).await.unwrap();
    let seen = r.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let reply: serde_json::Value = serde_json::from_str(&seen[0].4).unwrap();
    assert_eq!(reply["event"], "chat.reply");
    assert_eq!(reply["data"]["text"], confirmed.reply.as_str());

    // A message with a pin lands where the pin is; another is discarded.
    let pinned = serde_json::json!({
        "message_id": "wx-msg-0003", "sender": "张师傅", "text": "井盖松动",
        "location": {"lat": 30.685, "lon": 103.835},
    })
    .to_string();
    let (ts, sig) = signed(&group.secret, &pinned);
    let d = app
        .chat_message("lc-1", Some(&ts), Some(&sig), pinned.as_bytes())
        .await
        .unwrap();
    // The micro-grid worker confirms it too: the case goes where the pin is, outside their own
    // micro-grid.
    let made = confirm(&app, &micro, d.draft_id).await.unwrap();
    let located = app
        .locate(103.835, 30.685)
        .expect("the pin lies in the demo street");
    assert_eq!(made.case.micro_grid.code, located.micro_grid.code);
    assert_ne!(
        made.case.micro_grid.code, MICRO,
        "not the group's own micro-grid"
    );
    let noise =
        serde_json::json!({"message_id": "wx-msg-0004", "text": "谢谢网格员！"}).to_string();
    let (ts, sig) = signed(&group.secret, &noise);
    let d = app
        .chat_message("lc-1", Some(&ts), Some(&sig), noise.as_bytes())
        .await
        .unwrap();
    app.discard_chat_draft(&micro, d.draft_id, "致谢，不是问题")
        .await
        .unwrap();
    let discarded = app
        .chat_drafts(&micro, None, Some("discarded"))
        .await
        .unwrap();
    assert_eq!(discarded.len(), 1);
    assert!(matches!(
        app.discard_chat_draft(&micro, d.draft_id, "").await,
        Err(AppError::Conflict(_))
    ));
}

#[tokio::test]
async fn a_caller_is_found_by_phone_with_their_earlier_cases_only() {
    let (app, _db) = demo().await;
    let community = as_user(&app, "community").await;
    for (phone, text) in [
        ("13912340000", "路灯不亮"),
        ("13912340000", "井盖松动"),
        ("13800005555", "噪音扰民"),
    ] {
        let input = CaseInput {
            category: "sg.public_facilities".into(),
            description: text.into(),
            channel: Some("phone".into()),
            micro_grid: Some(MICRO.into()),
            reporter_phone: Some(phone.into()),
            ..Default::default()
        };
        app.report_case(&community, &input, Vec::new())
            .await
            .unwrap();
    }
    let caller = app.caller(&community, " 13912340000 ", None).await.unwrap();
    assert_eq!(caller.phone, "139****0000");
    assert_eq!(caller.open, 2);
    let said: Vec<&str> = caller
        .cases
        .iter()
        .map(|c| c.description.as_str())
        .collect();
    assert_eq!(
        said,
        ["井盖松动", "路灯不亮"],
        "newest first, this number only"
    );
    assert!(
        app.caller(&community, "13700000000", None)
            .await
            .unwrap()
            .cases
            .is_empty()
    );
    assert!(matches!(
        app.caller(&community, "12345", None).await,
        Err(AppError::Invalid { field: "phone", .. })
    ));
    // Another community's operator does not see them.
    let next_door = app
        .caller(&Ctx::cli(), "13912340000", Some("510115001002"))
        .await
        .unwrap();
    assert!(next_door.cases.is_empty());
}

#[tokio::test]
async fn reports_are_counted_by_channel_category_and_day_and_the_counts_rebuild_the_same() {
    let (app, db) = demo().await;
    let community = as_user(&app, "community").await;
    for (channel, category) in [
        ("phone", "sg.sanitation"),
        ("phone", "sg.public_facilities"),
        ("patrol", "sg.sanitation"),
        ("phone", "sg.sanitation"),
    ] {
        let input = CaseInput {
            category: category.into(),
            description: "统计".into(),
            channel: Some(channel.into()),
            micro_grid: Some(MICRO.into()),
            ..Default::default()
        };
        app.report_case(&community, &input, Vec::new())
            .await
            .unwrap();
    }
    let stats = |by: &'static str| {
        let app = app.clone();
        let community = community.clone();
        async move {
            app.intake_stats(
                &community,
                &app::IntakeStatsQuery {
                    by: Some(by.into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
        }
    };
    let pairs = |s: app::IntakeStats| -> Vec<(String, String, i64)> {
        s.items
            .into_iter()
            .map(|i| (i.key, i.label, i.count))
            .collect()
    };
    let by_channel = stats("channel").await;
    assert_eq!(by_channel.total, 4);
    assert_eq!(
        pairs(by_channel),
        [
            ("phone".to_owned(), "电话".to_owned(), 3),
            ("patrol".to_owned(), "网格员巡查".to_owned(), 1)
        ]
    );
    let by_category = pairs(stats("category").await);
    assert_eq!(by_category[0].0, "sg.sanitation");
    assert_eq!(by_category[0].2, 3);
    let today = domain::calendar::Day::of(app::now()).to_string();
    assert_eq!(pairs(stats("day").await), [(today.clone(), today, 4)]);

    // A bulk load rebuilds the counts from the cases: the same figures.
    let mut tx = db.store.write().await.unwrap();
    tx.rebuild_intake_counts().await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(stats("channel").await.total, 4);
    assert_eq!(pairs(stats("category").await), by_category);

    // Bad questions are told why; a department does not see the street's figures.
    for bad in [
        app::IntakeStatsQuery {
            by: Some("colour".into()),
            ..Default::default()
        },
        app::IntakeStatsQuery {
            from: Some("2026-05-01".into()),
            to: Some("2026-04-01".into()),
            ..Default::default()
        },
        app::IntakeStatsQuery {
            from: Some("2024-01-01".into()),
            to: Some("2026-01-01".into()),
            ..Default::default()
        },
        app::IntakeStatsQuery {
            to: Some("2026-13-01".into()),
            ..Default::default()
        },
    ] {
        assert!(
            matches!(
                app.intake_stats(&community, &bad).await,
                Err(AppError::Invalid { .. })
            ),
            "{bad:?}"
        );
    }
    let dept = as_user(&app, "dept").await;
    assert!(matches!(
        app.intake_stats(
            &dept,
            &app::IntakeStatsQuery {
                scope: Some("510115001".into()),
                ..Default::default()
            }
        )
        .await,
        Err(AppError::Forbidden(_))
    ));
}
