//! Importing and exporting the registry, on the engine `WEIGE_TEST_DATABASE` names.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use app::{App, Ctx, ExportFormat, RESIDENT_COLUMNS, Settings};
use domain::person::id_check_char;
use store::testing;

async fn demo() -> (App, testing::TestDb) {
    let db = testing::fresh().await;
    let app = App::new(db.store.clone(), Settings::default())
        .with_cipher(store::FieldCipher::from_hex(&"22".repeat(32)).unwrap());
    app.seed_demo().await.unwrap();
    (app, db)
}

fn id(seq: u32) -> String {
    let first17 = format!("51011519800101{seq:03}");
    format!("{first17}{}", id_check_char(first17.as_bytes()) as char)
}

fn csv(rows: &[String]) -> String {
    let mut out = RESIDENT_COLUMNS.join(",");
    for r in rows {
        out.push('\n');
        out.push_str(r);
    }
    out
}

fn row(micro: &str, room: &str, name: &str, id_number: &str, phone: &str) -> String {
    format!(
        "{micro},柳城大道,8号,和平小区,3栋,1单元,{room},{name},{id_number},{phone},户主,户籍,黄,独居老人"
    )
}

#[tokio::test]
async fn a_bad_row_imports_nothing_and_is_named_by_line_and_field() {
    let (app, _db) = demo().await;
    let micro = "510115001001001001";
    let mut wrong = id(2);
    wrong.replace_range(17..18, if wrong.ends_with('0') { "1" } else { "0" });
    let file = csv(&[
        row(micro, "101", "王大爷", &id(1), "13800001111"),
        row(micro, "102", "李奶奶", &wrong, ""),
        row(micro, "103", "张三", &id(3), "12"),
    ]);
    let err = app
        .import_residents(&Ctx::cli(), file.as_bytes(), false, &|_, _| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 3, 身份证号"), "{err}");
    assert!(err.contains("line 4, 电话"), "{err}");
    assert!(
        app.search_residents(&Ctx::cli(), Some(micro), "王大爷", None)
            .await
            .unwrap()
            .is_empty(),
        "nothing imported"
    );

    let done = std::sync::atomic::AtomicUsize::new(0);
    let progress = |n: usize, _: usize| done.store(n, std::sync::atomic::Ordering::Relaxed);
    let report = app
        .import_residents(&Ctx::cli(), file.as_bytes(), true, &progress)
        .await
        .unwrap();
    assert_eq!(
        (
            report.residents,
            report.households_added,
            report.buildings_added,
            report.skipped.len()
        ),
        (1, 1, 1, 2)
    );
    assert_eq!(done.load(std::sync::atomic::Ordering::Relaxed), 1);
    let found = app
        .search_residents(&Ctx::cli(), Some(micro), "王大爷", None)
        .await
        .unwrap();
    assert_eq!(found[0].tags, ["living_alone_elderly"]);
    assert_eq!(found[0].care_grade.as_deref(), Some("yellow"));
    assert_eq!(found[0].phone.as_deref(), Some("138****1111"));
    // The same person again is refused by their ID number.
    let again = app
        .import_residents(
            &Ctx::cli(),
            csv(&[row(micro, "104", "王大爷", &id(1), "")]).as_bytes(),
            false,
            &|_, _| {},
        )
        .await
        .unwrap_err();
    assert!(again.to_string().contains("already registered"), "{again}");
    let header = app
        .import_residents(
            &Ctx::cli(),
            "姓名,电话\n张三,1".as_bytes(),
            false,
            &|_, _| {},
        )
        .await
        .unwrap_err();
    assert!(header.to_string().contains("header"), "{header}");
}

#[tokio::test]
async fn an_export_is_masked_and_audited() {
    let (app, _db) = demo().await;
    app.seed_demo_people(app::DemoSize::Small).await.unwrap();
    let bytes = app
        .export_residents(&Ctx::cli(), "510115001001001001", ExportFormat::Csv)
        .await
        .unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains("身份证号（脱敏）"));
    assert!(lines.len() > 60);
    assert!(
        lines[1..].iter().all(|l| l.contains("********")),
        "ID numbers masked"
    );
    let xlsx = app
        .export_residents(&Ctx::cli(), "510115001001001001", ExportFormat::Xlsx)
        .await
        .unwrap();
    assert_eq!(&xlsx[..2], b"PK", "an XLSX file is a zip");
    let events = app
        .list_audit(
            &Ctx::cli(),
            Some("510115"),
            Some("personal_data_exported"),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(events.len(), 2);
    assert!(events[0].detail.contains("masked"));
}
