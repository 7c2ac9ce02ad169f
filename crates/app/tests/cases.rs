//! The case loop through the use cases, on the engine `WEIGE_TEST_DATABASE` names: intake and
//! routing, the default handler, every transition checked and written to the history, the
//! version that makes a concurrent second action fail, clocks on the working calendar, the
//! reporter's follow link and rating, escalation up to a department.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use app::{ActInput, App, AppError, CaseInput, Ctx, Origin, Photo, Settings};
use common::{age, as_user};
use domain::calendar::Day;
use domain::case::{Action, Status, next};
use store::testing;

const MICRO: &str = "510115001001001001";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F'];

async fn demo() -> (App, testing::TestDb) {
    let db = testing::fresh().await;
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let files = std::env::temp_dir().join(format!(
        "weige-app-cases-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let app = App::new(db.store.clone(), Settings::default())
        .with_cipher(store::FieldCipher::from_hex(&"44".repeat(32)).unwrap())
        .with_files(files);
    app.seed_demo().await.unwrap();
    app.seed_demo_people(app::DemoSize::Small).await.unwrap();
    (app, db)
}

fn report(category: &str) -> CaseInput {
    CaseInput {
        category: category.into(),
        description: "3栋楼道堆满杂物，影响通行".into(),
        micro_grid: Some(MICRO.into()),
        reporter_phone: Some("13912345678".into()),
        ..Default::default()
    }
}

fn act(action: &str, version: i64) -> ActInput {
    ActInput {
        action: action.into(),
        version,
        reason: "说明".into(),
        ..Default::default()
    }
}

async fn step(app: &App, ctx: &Ctx, id: i64, action: &str) -> app::CaseView {
    let version = app.case(&Ctx::cli(), id).await.unwrap().summary.version;
    app.act(ctx, id, &act(action, version), Vec::new())
        .await
        .unwrap_or_else(|e| panic!("{action}: {e}"))
}

#[tokio::test]
async fn a_qr_report_is_handled_in_its_micro_grid_and_closed_by_the_reporter() {
    let (app, _db) = demo().await;
    let resident = Ctx::anonymous(Origin::default());
    let photo = Photo::check(PNG.to_vec(), 1).unwrap();
    let created = app
        .report_case(&resident, &report("sg.sanitation"), vec![photo])
        .await
        .unwrap();
    assert!(
        created.number.starts_with("510115001-20"),
        "{}",
        created.number
    );
    assert_eq!(created.micro_grid.code, MICRO);

    let micro = as_user(&app, "micro").await;
    let mine = app
        .cases(
            &micro,
            &app::CaseQuery {
                mine: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(mine.items.len(), 1, "the micro-grid worker holds it");
    assert_eq!(mine.items[0].clock, "green");
    let view = app.case(&micro, created.id).await.unwrap();
    assert_eq!(view.reporter_phone.as_deref(), Some("139****5678"));
    assert!(view.actions.contains(&"accept".to_owned()));

    let view = step(&app, &micro, created.id, "accept").await;
    assert_eq!(
        view.summary.status, "dispatched",
        "accepted and sent to its handler"
    );
    step(&app, &micro, created.id, "claim").await;
    let version = app.case(&micro, created.id).await.unwrap().summary.version;
    let after = Photo::check(JPEG.to_vec(), 1).unwrap();
    let view = app
        .act(&micro, created.id, &act("handle", version), vec![after])
        .await
        .unwrap();
    assert_eq!(view.summary.status, "handled");
    assert_eq!(
        view.photos
            .iter()
            .map(|p| p.phase.as_str())
            .collect::<Vec<_>>(),
        ["before", "after"]
    );

    // The reporter follows the case by their phone's last four digits, and closes it.
    assert!(matches!(
        app.track(&created.number, None, Some("0000")).await,
        Err(AppError::NotFound(_))
    ));
    let tracked = app
        .track(&created.number, None, Some("5678"))
        .await
        .unwrap();
    assert!(tracked.can_rate);
    let tracked = app
        .rate_by_reporter(
            &created.number,
            Some(&created.follow_token),
            None,
            "satisfied",
            "很快",
        )
        .await
        .unwrap();
    assert_eq!(tracked.status, "closed");
    let view = app.case(&micro, created.id).await.unwrap();
    assert_eq!(view.solved_tier.as_deref(), Some("micro_grid"));
    assert_eq!(view.closure.as_deref(), Some("normal"));
    let actions: Vec<&str> = view.history.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "report", "accept", "dispatch", "claim", "handle", "pass", "rate"
        ]
    );
    // Every step is in the history with the state it left and the one it reached.
    for pair in view.history.windows(2) {
        assert_eq!(
            pair[1].from_status.as_deref(),
            Some(pair[0].to_status.as_str())
        );
    }
    // A second rating is refused.
    assert!(matches!(
        app.rate_by_reporter(
            &created.number,
            Some(&created.follow_token),
            None,
            "unsatisfied",
            ""
        )
        .await,
        Err(AppError::Conflict(_))
    ));
}

#[tokio::test]
async fn two_people_acting_at_once_one_wins_and_the_other_is_told() {
    let (app, _db) = demo().await;
    let created = app
        .report_case(&Ctx::cli(), &report("sg.sanitation"), Vec::new())
        .await
        .unwrap();
    let micro = as_user(&app, "micro").await;
    let grid = as_user(&app, "grid").await;
    let version = app.case(&micro, created.id).await.unwrap().summary.version;
    let mut reject = act("reject", version);
    reject.reason = "重复".into();
    let accept = act("accept", version);
    let (a, b) = tokio::join!(
        app.act(&micro, created.id, &accept, Vec::new()),
        app.act(&grid, created.id, &reject, Vec::new()),
    );
    let results = [a.is_ok(), b.is_ok()];
    assert_eq!(results.iter().filter(|ok| **ok).count(), 1, "{a:?} {b:?}");
    let loser = if a.is_ok() { b } else { a };
    assert!(matches!(loser, Err(AppError::Conflict(_))), "{loser:?}");
    let view = app.case(&micro, created.id).await.unwrap();
    let history: Vec<&str> = view.history.iter().map(|e| e.action.as_str()).collect();
    assert!(
        history == ["report", "accept", "dispatch"] || history == ["report", "reject"],
        "{history:?}"
    );
}

#[tokio::test]
async fn from_each_state_only_the_legal_actions_succeed_and_each_is_in_the_history() {
    let (app, _db) = demo().await;
    // Cases brought to several states by the command line (which may do everything).
    let paths: [&[&str]; 5] = [
        &[],
        &["accept"],
        &["accept", "claim"],
        &["accept", "claim", "handle"],
        &["accept", "claim", "park"],
    ];
    for path in paths {
        for action in Action::ALL {
            let created = app
                .report_case(&Ctx::cli(), &report("sg.sanitation"), Vec::new())
                .await
                .unwrap();
            for a in path {
                step(&app, &Ctx::cli(), created.id, a).await;
            }
            let before = app.case(&Ctx::cli(), created.id).await.unwrap();
            let from = Status::parse(&before.summary.status).unwrap();
            let mut input = act(action.as_str(), before.summary.version);
            input.satisfaction = Some("fair".into());
            input.to = Some("micro".into());
            let other = app
                .report_case(&Ctx::cli(), &report("sg.other"), Vec::new())
                .await
                .unwrap();
            input.merge_into = Some(other.number);
            let result = app.act(&Ctx::cli(), created.id, &input, Vec::new()).await;
            let after = app.case(&Ctx::cli(), created.id).await.unwrap();
            match next(from, action, false) {
                Ok(to) => {
                    let view = result.unwrap_or_else(|e| panic!("{action:?} from {from:?}: {e}"));
                    let event = view
                        .history
                        .iter()
                        .find(|e| {
                            e.action == action.as_str()
                                && e.from_status.as_deref() == Some(from.as_str())
                        })
                        .unwrap_or_else(|| {
                            panic!("{action:?} from {from:?} is not in the history")
                        });
                    assert_eq!(event.to_status, to.as_str());
                }
                Err(_) => {
                    assert!(
                        matches!(result, Err(AppError::Conflict(_))),
                        "{action:?} from {from:?}: {result:?}"
                    );
                    assert_eq!(after.history.len(), before.history.len(), "nothing written");
                    assert_eq!(after.summary.version, before.summary.version);
                }
            }
        }
    }
}

#[tokio::test]
async fn clocks_follow_the_calendar_and_pause() {
    let (app, _db) = demo().await;
    let created = app
        .report_case(&Ctx::cli(), &report("sg.neighbour_dispute"), Vec::new())
        .await
        .unwrap();
    let calendar = app.calendar().await.unwrap();
    let view = step(&app, &Ctx::cli(), created.id, "accept").await;
    let category = app.category_for_case("sg.neighbour_dispute").await.unwrap();
    let deadline = view.summary.stage_deadline.unwrap();
    // The handling clock started at the acceptance: 3 working days later, at the end of a working day.
    let started = view.history.last().unwrap().at;
    assert_eq!(
        deadline,
        calendar
            .deadline(domain::Millis(started), category.limits.handle)
            .0
    );
    assert!(calendar.is_working_day(Day::of(domain::Millis(deadline))));
    step(&app, &Ctx::cli(), created.id, "claim").await;
    let parked = step(&app, &Ctx::cli(), created.id, "park").await;
    assert_eq!(parked.stage_clock, "paused");
    let resumed = step(&app, &Ctx::cli(), created.id, "resume").await;
    assert!(resumed.summary.stage_deadline.unwrap() >= deadline);
    assert_ne!(resumed.stage_clock, "paused");
}

#[tokio::test]
async fn a_case_climbs_to_the_department_and_turns_red_when_its_time_is_up() {
    let (app, db) = demo().await;
    let created = app
        .report_case(&Ctx::cli(), &report("sg.public_facilities"), Vec::new())
        .await
        .unwrap();
    let micro = as_user(&app, "micro").await;
    let grid = as_user(&app, "grid").await;
    // Public facilities start at the grid: its full-time worker holds the case.
    let view = app.case(&grid, created.id).await.unwrap();
    assert_eq!(view.summary.tier, "grid");
    // Outside the micro-grid worker's reach: the grid's case is not theirs to accept.
    assert!(
        !app.case(&micro, created.id)
            .await
            .unwrap()
            .actions
            .contains(&"accept".to_owned())
    );
    step(&app, &grid, created.id, "accept").await;
    let version = app.case(&grid, created.id).await.unwrap().summary.version;
    let mut whistle = act("dispatch", version);
    whistle.to = Some("dept".into());
    let view = app
        .act(&grid, created.id, &whistle, Vec::new())
        .await
        .unwrap();
    assert_eq!(view.summary.tier, "department", "a department summoned");
    // 吹哨报到: the department answers within 30 minutes, then its handling clock runs.
    assert_eq!(view.summary.stage.as_deref(), Some("respond"));
    let answer_by = view.summary.stage_deadline.unwrap() - app::now().0;
    assert!(
        (29 * 60_000..=30 * 60_000).contains(&answer_by),
        "{answer_by} ms"
    );
    let dept = as_user(&app, "dept").await;
    let mine = app
        .cases(
            &dept,
            &app::CaseQuery {
                mine: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(mine.items.len(), 1);
    // A department sees the cases it is summoned to, not the rest of the street's.
    let other = app
        .report_case(&Ctx::cli(), &report("sg.sanitation"), Vec::new())
        .await
        .unwrap();
    let seen = app.cases(&dept, &app::CaseQuery::default()).await.unwrap();
    let seen: Vec<i64> = seen.items.iter().map(|c| c.id).collect();
    assert_eq!(seen, vec![created.id]);
    assert!(matches!(
        app.case(&dept, other.id).await,
        Err(AppError::Forbidden(_))
    ));
    let all = app.cases(&grid, &app::CaseQuery::default()).await.unwrap();
    assert_eq!(all.items.len(), 2, "the grid worker sees both");
    let view = step(&app, &dept, created.id, "claim").await;
    assert_eq!(view.summary.stage.as_deref(), Some("handle"));
    assert!(view.summary.stage_deadline.unwrap() - app::now().0 > 60 * 60_000);
    // Time passes: move the stage clock six weeks back, as the weeks would.
    age(&db, created.id, 1000 * 3_600_000).await;
    let view = app.case(&dept, created.id).await.unwrap();
    assert_eq!(view.stage_clock, "red");
    let overdue = app
        .cases(
            &grid,
            &app::CaseQuery {
                overdue: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(overdue.items.len(), 1);
    assert_eq!(overdue.items[0].clock, "red");
}

#[tokio::test]
async fn bad_reports_are_refused_with_the_field_named() {
    let (app, _db) = demo().await;
    let resident = Ctx::anonymous(Origin::default());
    let cases = [
        (
            CaseInput {
                category: "sg.nothing".into(),
                ..report("")
            },
            "category",
        ),
        (
            CaseInput {
                category: "sg".into(),
                ..report("")
            },
            "category",
        ),
        (
            CaseInput {
                description: " ".into(),
                ..report("sg.other")
            },
            "description",
        ),
        (
            CaseInput {
                description: "字".repeat(4001),
                ..report("sg.other")
            },
            "description",
        ),
        (
            CaseInput {
                micro_grid: None,
                lon: Some(100.0),
                lat: Some(20.0),
                ..report("sg.other")
            },
            "lon",
        ),
        (
            CaseInput {
                micro_grid: Some("510115001001".into()),
                ..report("sg.other")
            },
            "micro_grid",
        ),
        (
            CaseInput {
                micro_grid: None,
                ..report("sg.other")
            },
            "location",
        ),
        (
            CaseInput {
                reporter_phone: Some("123".into()),
                ..report("sg.other")
            },
            "reporter_phone",
        ),
    ];
    for (input, field) in cases {
        let got = app.report_case(&resident, &input, Vec::new()).await;
        assert!(
            matches!(&got, Err(AppError::Invalid { field: f, .. }) if *f == field),
            "{field}: {got:?}"
        );
    }
    assert!(Photo::check(b"GIF89a....".to_vec(), 1).is_err());
    // Only the resident page is open without an account.
    let phone = CaseInput {
        channel: Some("phone".into()),
        ..report("sg.other")
    };
    assert!(matches!(
        app.report_case(&resident, &phone, Vec::new()).await,
        Err(AppError::Unauthenticated)
    ));
    // A forged follow link finds nothing.
    let created = app
        .report_case(&resident, &report("sg.other"), Vec::new())
        .await
        .unwrap();
    assert!(matches!(
        app.track(&created.number, Some("0000"), None).await,
        Err(AppError::NotFound(_))
    ));
    // The same problem again nearby is flagged as a possible duplicate.
    let again = app
        .report_case(&resident, &report("sg.other"), Vec::new())
        .await
        .unwrap();
    assert_eq!(
        again.possible_duplicate_of.as_deref(),
        Some(created.number.as_str())
    );
}

#[tokio::test]
async fn a_report_near_an_open_case_of_its_category_is_flagged_and_a_farther_one_is_not() {
    let db = testing::fresh().await;
    let settings = Settings {
        duplicate_metres: 5.0,
        ..Settings::default()
    };
    let app = App::new(db.store.clone(), settings)
        .with_cipher(store::FieldCipher::from_hex(&"44".repeat(32)).unwrap());
    app.seed_demo().await.unwrap();
    // The middle of the micro-grid, from the street's map.
    let map = app.export_map(&Ctx::cli(), "510115001").await.unwrap();
    let feature = map["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["properties"]["code"] == MICRO)
        .unwrap();
    let ring: Vec<[f64; 2]> =
        serde_json::from_value(feature["geometry"]["coordinates"][0].clone()).unwrap();
    let corners = &ring[..ring.len() - 1];
    let n = corners.len() as f64;
    let (cx, cy) = (
        corners.iter().map(|c| c[0]).sum::<f64>() / n,
        corners.iter().map(|c| c[1]).sum::<f64>() / n,
    );
    let api = app
        .create_api_key(&Ctx::cli(), "test", "street_admin", "510115001")
        .await
        .unwrap();
    let key = app
        .authenticate_api_key(&api.key, Origin::default())
        .await
        .unwrap();
    let at = |east: f64, north: f64, category: &str| CaseInput {
        category: category.into(),
        description: "路灯不亮".into(),
        lat: Some(cy + north / 111_320.0),
        lon: Some(cx + east / (111_320.0 * (cy + north / 111_320.0).to_radians().cos())),
        ..Default::default()
    };
    let send = async |input: CaseInput| {
        let made = app.report_case(&key, &input, Vec::new()).await.unwrap();
        assert_eq!(
            made.micro_grid.code, MICRO,
            "the pins stay in one micro-grid"
        );
        made
    };
    let first = send(at(0.0, 0.0, "sg.public_facilities")).await;
    assert_eq!(first.possible_duplicate_of, None);
    let near = send(at(3.0, 0.0, "sg.public_facilities")).await;
    assert_eq!(
        near.possible_duplicate_of.as_deref(),
        Some(first.number.as_str())
    );
    // 12 m north of the first and about as far from the second: beyond the 5 m.
    let far = send(at(0.0, 12.0, "sg.public_facilities")).await;
    assert_eq!(far.possible_duplicate_of, None);
    // Another category on the same spot is another problem.
    let other = send(at(0.0, 0.0, "sg.sanitation")).await;
    assert_eq!(other.possible_duplicate_of, None);
    // A report without a pin in the micro-grid matches the newest open case of its category.
    let unpinned = send(CaseInput {
        micro_grid: Some(MICRO.into()),
        lon: None,
        lat: None,
        ..at(0.0, 0.0, "sg.public_facilities")
    })
    .await;
    let flagged = unpinned.possible_duplicate_of.unwrap();
    assert!(
        [&first.number, &near.number, &far.number].contains(&&flagged),
        "{flagged}"
    );
}
