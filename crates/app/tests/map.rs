//! The demo street's map, the routing index and the division checks, on the engine
//! `WEIGE_TEST_DATABASE` names.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use app::{App, Ctx, DEFAULT_TOLERANCE_M2, Settings};
use domain::Millis;
use geo_grid::Rng;
use store::testing;

async fn demo() -> (App, testing::TestDb) {
    let db = testing::fresh().await;
    let app = App::new(db.store.clone(), Settings::default());
    app.seed_demo().await.unwrap();
    assert!(app.refresh_map().await.unwrap());
    (app, db)
}

#[tokio::test]
async fn the_demo_street_is_divided_without_gaps_or_overlaps() {
    let (app, _db) = demo().await;
    let findings = app
        .check_division(&Ctx::cli(), "510115001", DEFAULT_TOLERANCE_M2)
        .await
        .unwrap();
    assert!(findings.is_empty(), "{findings:#?}");
    // Inside the real district the street leaves the other eight streets undrawn: a gap, but
    // nothing of the street reaches outside Wenjiang.
    let district = app
        .check_division(&Ctx::cli(), "510115", DEFAULT_TOLERANCE_M2)
        .await
        .unwrap();
    assert!(!district.is_empty());
    assert!(
        district
            .iter()
            .all(|f| f.kind == "gap" && f.parent == "510115"),
        "{district:#?}"
    );
    let nodes = app
        .readable_nodes(&Ctx {
            grants: vec![domain::Grant {
                role: domain::Role::StreetAdmin,
                scope: domain::GridCode::parse("510115001").unwrap(),
            }],
            ..Ctx::cli()
        })
        .await
        .unwrap();
    let micro = nodes.iter().filter(|n| n.level == "micro_grid").count();
    let grids = nodes.iter().filter(|n| n.level == "grid").count();
    assert_eq!(nodes.iter().filter(|n| n.level == "community").count(), 19);
    assert_eq!((grids, micro), (60, 480));
}

#[tokio::test]
async fn every_point_of_the_street_routes_to_one_micro_grid_with_its_chain() {
    let (app, _db) = demo().await;
    let mut rng = Rng::new(5);
    for _ in 0..2_000 {
        let (lon, lat) = (
            103.80 + rng.next_f64() * 0.07,
            30.66 + rng.next_f64() * 0.05,
        );
        let at = app
            .locate(lon, lat)
            .unwrap_or_else(|e| panic!("({lon}, {lat}): {e}"));
        assert_eq!(at.micro_grid.code.len(), 18);
        assert!(
            at.micro_grid
                .code
                .starts_with(&at.grid.as_ref().unwrap().code)
        );
        assert!(
            at.grid
                .as_ref()
                .unwrap()
                .code
                .starts_with(&at.community.as_ref().unwrap().code)
        );
        assert_eq!(at.street.as_ref().unwrap().name, "柳城街道");
        assert_eq!(at.district.as_ref().unwrap().name, "温江区");
    }
    // The north-west corner is 和平社区's first grid, its first micro-grid (numbered W→E, N→S).
    let corner = app.locate(103.8001, 30.7099).unwrap();
    assert_eq!(corner.micro_grid.code, "510115001001001001");
    assert_eq!(corner.community.unwrap().name, "和平社区");
    assert!(app.locate(103.79, 30.68).is_err(), "west of the street");
    assert!(app.locate(200.0, 30.68).is_err());
}

#[tokio::test]
async fn a_map_change_made_elsewhere_reaches_the_index_and_the_past_is_kept() {
    let (app, db) = demo().await;
    assert!(!app.refresh_map().await.unwrap(), "nothing changed");
    let before = app.map.current().version;

    // Another server (here: the store directly) moves the first micro-grid's shape.
    let code = "510115001001001001";
    let mut tx = db.store.write().await.unwrap();
    let old = tx.grid_node_by_code(code).await.unwrap().unwrap();
    let square = geo_grid::polygon_to_geojson(&geo_grid::Polygon::new(
        vec![
            (120.0, 30.0),
            (120.1, 30.0),
            (120.1, 30.1),
            (120.0, 30.1),
            (120.0, 30.0),
        ]
        .into(),
        vec![],
    ))
    .to_string();
    let input = store::GridNodeInput {
        code,
        name: &old.name,
        level: &old.level,
        kind: old.kind.as_deref(),
        geometry: Some(&square),
        parent_id: None,
    };
    let (_, changed) = tx
        .upsert_grid_node(&input, None, Millis(app::now().0))
        .await
        .unwrap();
    assert!(changed);
    let history = tx.grid_node_history(old.id).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].geometry, old.geometry, "the old shape is kept");

    assert!(app.refresh_map().await.unwrap());
    assert!(app.map.current().version > before);
    assert_eq!(app.locate(120.05, 30.05).unwrap().micro_grid.code, code);
}

#[tokio::test]
async fn seeding_the_demo_again_changes_nothing() {
    let (app, db) = demo().await;
    let version = db
        .store
        .read()
        .await
        .unwrap()
        .grid_map_version()
        .await
        .unwrap();
    app.seed_demo().await.unwrap();
    assert_eq!(
        db.store
            .read()
            .await
            .unwrap()
            .grid_map_version()
            .await
            .unwrap(),
        version
    );
    assert!(!app.refresh_map().await.unwrap());
}

#[tokio::test]
async fn household_counts_outside_the_bounds_are_found() {
    let db = testing::fresh().await;
    let cipher = store::FieldCipher::from_hex(&"11".repeat(32)).unwrap();
    let settings = Settings {
        micro_grid_households: (30, 100),
        grid_households: (300, 500),
        ..Settings::default()
    };
    let app = App::new(db.store.clone(), settings).with_cipher(cipher.clone());
    app.seed_demo().await.unwrap();
    assert!(app.seed_demo_people(app::DemoSize::Small).await.unwrap() >= 304);
    let grid = "510115001001001";
    assert!(
        app.check_division(&Ctx::cli(), grid, DEFAULT_TOLERANCE_M2)
            .await
            .unwrap()
            .is_empty(),
        "the demo is within bounds"
    );
    let strict = App::new(
        db.store.clone(),
        Settings {
            micro_grid_households: (70, 100),
            ..Settings::default()
        },
    )
    .with_cipher(cipher);
    let findings = strict
        .check_division(&Ctx::cli(), grid, DEFAULT_TOLERANCE_M2)
        .await
        .unwrap();
    assert_eq!(
        findings.len(),
        8,
        "every micro-grid holds fewer than 70: {findings:#?}"
    );
    assert!(
        findings
            .iter()
            .all(|f| f.kind == "household_count" && f.message.contains("70–100"))
    );
}
