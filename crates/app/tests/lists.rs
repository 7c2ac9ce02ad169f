//! The lists a community keeps: buildings and households as tables (CSV and XLSX), building
//! outlines and the split-building check, the roster, the tag list and a node's shape history,
//! on the engine `WEIGE_TEST_DATABASE` names.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use app::{
    App, AppError, BUILDING_COLUMNS, Ctx, ExportFormat, HOUSEHOLD_COLUMNS, RESIDENT_COLUMNS,
    ROSTER_COLUMNS, Settings, StaffInput, TagInput,
};
use domain::person::id_check_char;
use serde_json::{Value, json};
use store::testing;

const MICRO: &str = "510115001001001001";

async fn demo() -> (App, testing::TestDb) {
    let db = testing::fresh().await;
    let app = App::new(db.store.clone(), Settings::default())
        .with_cipher(store::FieldCipher::from_hex(&"33".repeat(32)).unwrap());
    app.seed_demo().await.unwrap();
    (app, db)
}

fn table(columns: &[&str], rows: &[&str]) -> Vec<u8> {
    let mut out = columns.join(",");
    for r in rows {
        out.push('\n');
        out.push_str(r);
    }
    out.into_bytes()
}

fn nothing(_: usize, _: usize) {}

/// The outer ring of a micro-grid of the demo map.
async fn ring(app: &App, code: &str) -> Vec<[f64; 2]> {
    let map = app.export_map(&Ctx::cli(), code).await.unwrap();
    serde_json::from_value(map["features"][0]["geometry"]["coordinates"][0].clone()).unwrap()
}

fn square(x: f64, y: f64, half: f64) -> String {
    json!({"type": "Polygon", "coordinates": [[
        [x - half, y - half], [x + half, y - half], [x + half, y + half], [x - half, y + half], [x - half, y - half]
    ]]})
    .to_string()
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

#[tokio::test]
async fn buildings_route_by_position_and_an_outline_across_a_border_is_found() {
    let (app, _db) = demo().await;
    let ring = ring(&app, MICRO).await;
    let n = (ring.len() - 1) as f64;
    let (cx, cy) = (
        ring[..ring.len() - 1].iter().map(|c| c[0]).sum::<f64>() / n,
        ring[..ring.len() - 1].iter().map(|c| c[1]).sum::<f64>() / n,
    );
    // The middle of the cell's first edge: a border with a neighbour (or the street's edge).
    let (ex, ey) = (
        (ring[0][0] + ring[1][0]) / 2.0,
        (ring[0][1] + ring[1][1]) / 2.0,
    );
    let file = table(
        &BUILDING_COLUMNS,
        &[
            &format!("{MICRO},检查路,1号,,1栋,{cx},{cy},"),
            &format!(",检查路,2号,,2栋,,,{}", quoted(&square(cx, cy, 0.0001))),
            &format!(",检查路,3号,,3栋,,,{}", quoted(&square(ex, ey, 0.0001))),
        ],
    );
    let report = app
        .import_buildings(&Ctx::cli(), &file, false, &nothing)
        .await
        .unwrap();
    assert_eq!((report.added, report.existing), (3, 0));

    let findings = app
        .check_division(&Ctx::cli(), "510115001001001", app::DEFAULT_TOLERANCE_M2)
        .await
        .unwrap();
    let split: Vec<_> = findings
        .iter()
        .filter(|f| f.kind == "building_split")
        .collect();
    assert_eq!(split.len(), 1, "{findings:?}");
    assert!(
        split[0].message.contains("检查路3号"),
        "{}",
        split[0].message
    );

    // The export lists them with their outlines and reads back as an update of each.
    let exported = app
        .export_buildings(&Ctx::cli(), "510115001001001", ExportFormat::Xlsx)
        .await
        .unwrap();
    let again = app
        .import_buildings(&Ctx::cli(), &exported, false, &nothing)
        .await
        .unwrap();
    assert_eq!((again.added, again.existing), (0, 3));

    // A code that disagrees with the position, and an outline that is not a polygon.
    let bad = table(
        &BUILDING_COLUMNS,
        &[
            &format!("510115001001001002,检查路,4号,,4栋,{cx},{cy},"),
            ",检查路,5号,,5栋,,,\"{\"\"type\"\":\"\"Point\"\"}\"",
            ",检查路,6号,,6栋,1,1,",
        ],
    );
    let err = app
        .import_buildings(&Ctx::cli(), &bad, false, &nothing)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 2, 微网格编码"), "{err}");
    assert!(err.contains("line 3, 轮廓"), "{err}");
    assert!(err.contains("line 4, 经度"), "{err}");
}

#[tokio::test]
async fn households_go_into_registered_buildings_from_csv_or_xlsx() {
    let (app, _db) = demo().await;
    app.import_buildings(
        &Ctx::cli(),
        &table(
            &BUILDING_COLUMNS,
            &[&format!("{MICRO},户籍路,9号,和平小区,1栋,,,")],
        ),
        false,
        &nothing,
    )
    .await
    .unwrap();
    let rows = vec![
        vec!["户籍路", "9号", "和平小区", "1栋", "1单元", "101"],
        vec!["户籍路", "9号", "和平小区", "1栋", "1单元", "102"],
    ];
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| r.into_iter().map(str::to_owned).collect())
        .collect();
    let xlsx = app::write_table(ExportFormat::Xlsx, "住户", &HOUSEHOLD_COLUMNS, &rows).unwrap();
    let report = app
        .import_households(&Ctx::cli(), &xlsx, false, &nothing)
        .await
        .unwrap();
    assert_eq!((report.added, report.existing), (2, 0));
    let bad = table(
        &HOUSEHOLD_COLUMNS,
        &[
            "户籍路,9号,和平小区,1栋,1单元,103",
            "无名路,1号,,1栋,1单元,101",
        ],
    );
    let err = app
        .import_households(&Ctx::cli(), &bad, false, &nothing)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 3, 楼栋"), "{err}");
    let households = app.households(&Ctx::cli(), MICRO, None).await.unwrap();
    assert_eq!(households.len(), 2, "nothing imported from the bad file");
    let skipped = app
        .import_households(&Ctx::cli(), &bad, true, &nothing)
        .await
        .unwrap();
    assert_eq!((skipped.added, skipped.skipped.len()), (1, 1));
}

#[tokio::test]
async fn residents_import_from_xlsx_and_tags_come_from_the_editable_list() {
    let (app, _db) = demo().await;
    let first17 = "51011519450101001";
    let id = format!("{first17}{}", id_check_char(first17.as_bytes()) as char);
    let row = |tag: &str| -> Vec<String> {
        [
            MICRO,
            "柳城大道",
            "8号",
            "",
            "3栋",
            "1单元",
            "101",
            "王大爷",
            &id,
            "",
            "户主",
            "户籍",
            "红",
            tag,
        ]
        .map(str::to_owned)
        .to_vec()
    };
    // A tag the street added.
    let err = app::write_table(
        ExportFormat::Xlsx,
        "居民",
        &RESIDENT_COLUMNS,
        &[row("失独家庭")],
    )
    .unwrap();
    let refused = app
        .import_residents(&Ctx::cli(), &err, false, &nothing)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("line 2, 标签"), "{refused}");
    app.save_tag(
        &Ctx::cli(),
        "bereaved_parents",
        &TagInput {
            label_zh: "失独家庭".into(),
            label_en: "Bereaved parents".into(),
            sort: 130,
            retired: false,
        },
    )
    .await
    .unwrap();
    let report = app
        .import_residents(&Ctx::cli(), &err, false, &nothing)
        .await
        .unwrap();
    assert_eq!(report.residents, 1);
    let found = app
        .search_residents(&Ctx::cli(), Some(MICRO), "王大爷", None)
        .await
        .unwrap();
    assert_eq!(found[0].tags, ["bereaved_parents"]);

    // A retired tag stays on its residents and is no longer taken for new ones.
    app.save_tag(
        &Ctx::cli(),
        "bereaved_parents",
        &TagInput {
            label_zh: "失独家庭".into(),
            label_en: "Bereaved parents".into(),
            sort: 130,
            retired: true,
        },
    )
    .await
    .unwrap();
    let tags = app.tag_list().await.unwrap();
    assert!(
        tags.iter()
            .any(|t| t.code == "bereaved_parents" && t.retired)
    );
    let first17 = "51011519450101002";
    let id2 = format!("{first17}{}", id_check_char(first17.as_bytes()) as char);
    let csv = table(
        &RESIDENT_COLUMNS,
        &[&format!(
            "{MICRO},柳城大道,8号,,3栋,1单元,102,李奶奶,{id2},,户主,户籍,,失独家庭"
        )],
    );
    assert!(
        app.import_residents(&Ctx::cli(), &csv, false, &nothing)
            .await
            .is_err()
    );
    // Two tags may not share a name; codes are checked.
    let clash = app
        .save_tag(
            &Ctx::cli(),
            "another",
            &TagInput {
                label_zh: "低保对象".into(),
                label_en: "x".into(),
                sort: 0,
                retired: false,
            },
        )
        .await;
    assert!(matches!(clash, Err(AppError::Conflict(_))), "{clash:?}");
    let bad_code = app
        .save_tag(
            &Ctx::cli(),
            "Bad Code",
            &TagInput {
                label_zh: "新标签".into(),
                label_en: "x".into(),
                sort: 0,
                retired: false,
            },
        )
        .await;
    assert!(matches!(
        bad_code,
        Err(AppError::Invalid { field: "code", .. })
    ));
}

fn staff(node: &str, duty: &str, name: &str) -> StaffInput {
    StaffInput {
        node: node.into(),
        duty: duty.into(),
        name: name.into(),
        phone: Some("13912345678".into()),
        party_member: true,
        since: Some("2023-03-01".into()),
        training: "岗前培训".into(),
        building: None,
        username: Some("micro".into()),
    }
}

#[tokio::test]
async fn the_roster_is_kept_by_hand_and_by_file_and_checks_every_field() {
    let (app, _db) = demo().await;
    let added = app
        .add_staff(&Ctx::cli(), &staff(MICRO, "楼栋长", "赵楼长"))
        .await
        .unwrap();
    assert_eq!(
        (added.duty.as_str(), added.username.as_deref()),
        ("building_head", Some("micro"))
    );
    assert!(matches!(
        app.add_staff(&Ctx::cli(), &staff(MICRO, "building_head", "赵楼长"))
            .await,
        Err(AppError::Conflict(_))
    ));
    // A grid worker serves a general grid, not a micro-grid; a bad phone and date are named.
    for (input, field) in [
        (staff(MICRO, "专职网格员", "钱"), "node"),
        (staff(MICRO, "网管", "钱"), "duty"),
        (
            StaffInput {
                phone: Some("12".into()),
                ..staff(MICRO, "楼栋长", "钱")
            },
            "phone",
        ),
        (
            StaffInput {
                since: Some("2023-02-30x".into()),
                ..staff(MICRO, "楼栋长", "钱")
            },
            "since",
        ),
        (
            StaffInput {
                username: Some("nobody".into()),
                ..staff(MICRO, "楼栋长", "钱")
            },
            "username",
        ),
    ] {
        let got = app.add_staff(&Ctx::cli(), &input).await;
        assert!(
            matches!(got, Err(AppError::Invalid { field: f, .. }) if f == field),
            "{field}: {got:?}"
        );
    }
    let changed = app
        .update_staff(
            &Ctx::cli(),
            added.id,
            &StaffInput {
                party_member: false,
                ..staff(MICRO, "楼栋长", "赵楼长")
            },
        )
        .await
        .unwrap();
    assert!(!changed.party_member);

    // From a file: a bad row stops everything; skipping imports the good ones; the export
    // reads back as updates.
    let file = table(
        &ROSTER_COLUMNS,
        &[
            "510115001001001,专职网格员,孙网格,13800000001,否,2020-01-01,,,",
            "510115001001001,专职网格员,错行,13800000002,也许,,,,",
        ],
    );
    let err = app
        .import_roster(&Ctx::cli(), &file, false, &nothing)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 3, 党员"), "{err}");
    assert_eq!(
        app.roster(&Ctx::cli(), "510115001001001", Some("grid_worker"))
            .await
            .unwrap()
            .len(),
        0
    );
    let report = app
        .import_roster(&Ctx::cli(), &file, true, &nothing)
        .await
        .unwrap();
    assert_eq!(
        (report.added, report.updated, report.skipped.len()),
        (1, 0, 1)
    );
    let exported = app
        .export_roster(&Ctx::cli(), "510115001001001", ExportFormat::Xlsx)
        .await
        .unwrap();
    let again = app
        .import_roster(&Ctx::cli(), &exported, false, &nothing)
        .await
        .unwrap();
    assert_eq!((again.added, again.updated), (0, 2));

    // The cards show the roster: the micro-grid's people and the grid's full-time worker.
    let cards = app
        .contact_cards(&Ctx::cli(), "510115001001001")
        .await
        .unwrap();
    let card = cards.iter().find(|c| c.code == MICRO).unwrap();
    assert!(card.grid_workers.iter().any(|w| w.name == "孙网格"));
    app.remove_staff(&Ctx::cli(), added.id).await.unwrap();
    assert!(matches!(
        app.remove_staff(&Ctx::cli(), added.id).await,
        Err(AppError::NotFound(_))
    ));
}

#[tokio::test]
async fn a_redrawn_cell_keeps_its_old_shape_in_its_history() {
    let (app, _db) = demo().await;
    let before = app.node_history(&Ctx::cli(), MICRO).await.unwrap();
    assert_eq!(before.len(), 1);
    assert!(before[0].valid_to.is_none());
    // Move an inner corner of the cell a little outwards; the neighbours sharing it move too.
    let map = app
        .export_map(&Ctx::cli(), "510115001001001")
        .await
        .unwrap();
    let ring = ring(&app, MICRO).await;
    // A corner inside the grid: shared by more than two of its micro-grids.
    let micro_rings: Vec<Vec<[f64; 2]>> = map["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["properties"]["code"].as_str().unwrap().len() == 18)
        .map(|f| serde_json::from_value(f["geometry"]["coordinates"][0].clone()).unwrap())
        .collect();
    let corner = *ring
        .iter()
        .find(|c| micro_rings.iter().filter(|r| r.contains(c)).count() > 2)
        .expect("an inner corner");
    let n = (ring.len() - 1) as f64;
    let middle = [
        ring[..ring.len() - 1].iter().map(|c| c[0]).sum::<f64>() / n,
        ring[..ring.len() - 1].iter().map(|c| c[1]).sum::<f64>() / n,
    ];
    let moved = [
        corner[0] - (middle[0] - corner[0]) * 0.1,
        corner[1] - (middle[1] - corner[1]) * 0.1,
    ];
    let mut features: Vec<Value> = Vec::new();
    for mut f in map["features"].as_array().unwrap().clone() {
        let code = f["properties"]["code"].as_str().unwrap().to_owned();
        if code.len() != 18 {
            continue;
        }
        let mut touched = false;
        for v in f["geometry"]["coordinates"][0].as_array_mut().unwrap() {
            if v[0].as_f64() == Some(corner[0]) && v[1].as_f64() == Some(corner[1]) {
                *v = json!(moved);
                touched = true;
            }
        }
        if touched {
            features.push(f);
        }
    }
    assert!(!features.is_empty());
    let fc = json!({"type": "FeatureCollection", "features": features});
    // Moving it in only one cell would overlap a neighbour: refused, nothing changes.
    let alone = json!({"type": "FeatureCollection", "features": features.iter().filter(|f| f["properties"]["code"] == MICRO).collect::<Vec<_>>()});
    assert!(matches!(
        app.import_map(&Ctx::cli(), &alone, app::DEFAULT_TOLERANCE_M2)
            .await,
        Err(AppError::Invalid { .. })
    ));
    assert_eq!(app.node_history(&Ctx::cli(), MICRO).await.unwrap().len(), 1);
    let report = app
        .import_map(&Ctx::cli(), &fc, app::DEFAULT_TOLERANCE_M2)
        .await
        .unwrap();
    assert!(report.changed >= 3, "{report:?}");
    let after = app.node_history(&Ctx::cli(), MICRO).await.unwrap();
    assert_eq!(after.len(), 2);
    let has = |v: &app::NodeVersionView, c: [f64; 2]| {
        v.geometry.as_ref().unwrap()["coordinates"][0]
            .as_array()
            .unwrap()
            .contains(&json!(c))
    };
    assert!(has(&after[0], corner) && !has(&after[0], moved));
    assert!(has(&after[1], moved) && !has(&after[1], corner));
    assert!(after[0].valid_to.is_some() && after[1].valid_to.is_none());
}
