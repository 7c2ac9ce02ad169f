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

fn square(code: &str, name: &str, x: f64, y: f64, s: f64) -> serde_json::Value {
    serde_json::json!({"type": "Feature", "properties": {"code": code, "name": name, "kind": "compound"},
        "geometry": {"type": "Polygon", "coordinates": [[[x, y], [x + s, y], [x + s, y + s], [x, y + s], [x, y]]]}})
}

fn collection(features: Vec<serde_json::Value>) -> serde_json::Value {
    serde_json::json!({"type": "FeatureCollection", "features": features})
}

#[tokio::test]
async fn a_map_exported_and_imported_again_changes_nothing() {
    let (app, db) = demo().await;
    let map = app.export_map(&Ctx::cli(), "510115001001").await.unwrap();
    assert_eq!(map["features"].as_array().unwrap().len(), 1 + 3 + 24);
    let version = db
        .store
        .read()
        .await
        .unwrap()
        .grid_map_version()
        .await
        .unwrap();
    let report = app
        .import_map(&Ctx::cli(), &map, DEFAULT_TOLERANCE_M2)
        .await
        .unwrap();
    assert_eq!((report.added, report.changed, report.unchanged), (0, 0, 28));
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
}

#[tokio::test]
async fn an_import_with_any_bad_feature_imports_nothing_and_names_each_problem() {
    let (app, db) = demo().await;
    let version = db
        .store
        .read()
        .await
        .unwrap()
        .grid_map_version()
        .await
        .unwrap();
    // A new street far away with a valid community, a child outside it, a bowtie, a bad code.
    let street = square("510115002", "公平街道", 103.88, 30.73, 0.01);
    let good = square("510115002001", "新社区", 103.881, 30.731, 0.004);
    let outside = square("510115002002", "越界社区", 103.888, 30.738, 0.004);
    let mut bowtie = square("510115002003", "蝴蝶社区", 103.88, 30.73, 0.001);
    bowtie["geometry"]["coordinates"] = serde_json::json!([[
        [103.88, 30.73],
        [103.881, 30.731],
        [103.881, 30.73],
        [103.88, 30.731],
        [103.88, 30.73]
    ]]);
    let bad_code = square("51011500200x", "坏编码", 103.88, 30.73, 0.001);
    let orphan = square("510116001001", "无上级", 103.88, 30.73, 0.001);
    let file = collection(vec![street, good, outside, bowtie, bad_code, orphan]);
    let err = app
        .import_map(&Ctx::cli(), &file, DEFAULT_TOLERANCE_M2)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("feature 3") && err.contains("510115002003"),
        "the bowtie is named: {err}"
    );
    assert!(err.contains("feature 4"), "the bad code is named: {err}");
    assert_eq!(
        db.store
            .read()
            .await
            .unwrap()
            .grid_map_version()
            .await
            .unwrap(),
        version,
        "nothing written"
    );

    let file = collection(vec![
        square("510115002", "公平街道", 103.88, 30.73, 0.01),
        square("510115002002", "越界社区", 103.888, 30.738, 0.004),
        square("510116001001", "无上级", 103.88, 30.73, 0.001),
    ]);
    let err = app
        .import_map(&Ctx::cli(), &file, DEFAULT_TOLERANCE_M2)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("510115002002") && err.contains("outside its parent 510115002"),
        "{err}"
    );
    assert!(
        err.contains("510116001001") && err.contains("510116001 does not exist"),
        "{err}"
    );
    assert!(
        db.store
            .read()
            .await
            .unwrap()
            .grid_node_by_code("510115002")
            .await
            .unwrap()
            .is_none()
    );

    let not_geojson = serde_json::json!({"type": "Topology"});
    assert!(
        app.import_map(&Ctx::cli(), &not_geojson, DEFAULT_TOLERANCE_M2)
            .await
            .unwrap_err()
            .to_string()
            .contains("FeatureCollection")
    );

    // The clean part alone goes in, and routes at once.
    let file = collection(vec![
        square("510115002", "公平街道", 103.88, 30.73, 0.01),
        square("510115002001", "新社区", 103.88, 30.73, 0.01),
    ]);
    let report = app
        .import_map(&Ctx::cli(), &file, DEFAULT_TOLERANCE_M2)
        .await
        .unwrap();
    assert_eq!(report.added, 2);
    let overlap = collection(vec![square(
        "510115002002",
        "重叠社区",
        103.885,
        30.735,
        0.004,
    )]);
    let err = app
        .import_map(&Ctx::cli(), &overlap, DEFAULT_TOLERANCE_M2)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("overlaps"), "{err}");
}
