//! The registry in and out. Exports carry masked fields only and are written to the audit log as
//! exports of personal data. Imports read CSV rows of residents with their addresses, check
//! every row (the errors name the row and the field), and write nothing while any row is bad,
//! unless the caller asks to skip the bad rows.

use crate::auth::Audit;
use crate::error::parse_scope;
use crate::table::{ExportFormat, RowError, read_table, rows_refused, tick, write_table};
use crate::tags::{TagView, tag_label};
use crate::{App, AppError, Ctx, Result, now};
use domain::{
    AuditAction, CareGrade, GridCode, IdNumber, Outcome, Permission, Phone, ResidenceType,
};
use serde::Serialize;
use store::{NewBuilding, NewResident};

/// The columns of the resident CSV, in order (headers in Chinese, as staff write them).
pub const RESIDENT_COLUMNS: [&str; 14] = [
    "微网格编码",
    "街路巷",
    "门牌号",
    "小区",
    "楼栋",
    "单元",
    "房号",
    "姓名",
    "身份证号",
    "电话",
    "与户主关系",
    "居住类型",
    "关爱等级",
    "标签",
];

#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RegistryImportReport {
    pub residents: usize,
    pub households_added: usize,
    pub buildings_added: usize,
    pub skipped: Vec<RowError>,
}

/// A checked row, ready to write.
struct Row {
    line: usize,
    micro_grid: GridCode,
    road: String,
    house_number: String,
    compound: String,
    building: String,
    unit: String,
    room: String,
    name: String,
    id_number: IdNumber,
    phone: Option<Phone>,
    relation: String,
    residence_type: ResidenceType,
    care_grade: Option<CareGrade>,
    tags: Vec<String>,
}

fn check_row(
    line: usize,
    f: &[String],
    tags_known: &[TagView],
) -> std::result::Result<Row, RowError> {
    let err = |field: &str, message: String| RowError {
        line,
        field: field.to_owned(),
        message,
    };
    if f.len() < RESIDENT_COLUMNS.len() {
        return Err(err(
            "*",
            format!(
                "应有 {} 列，实有 {} 列 / {} columns expected, {} found",
                RESIDENT_COLUMNS.len(),
                f.len(),
                RESIDENT_COLUMNS.len(),
                f.len()
            ),
        ));
    }
    let get = |i: usize| f[i].trim().to_owned();
    let required = |i: usize| {
        let v = get(i);
        if v.is_empty() || v.chars().count() > 64 {
            Err(err(
                RESIDENT_COLUMNS[i],
                "必填，最多 64 个字符 / required, at most 64 characters".into(),
            ))
        } else {
            Ok(v)
        }
    };
    let micro_grid =
        GridCode::parse(&get(0)).map_err(|e| err(RESIDENT_COLUMNS[0], e.to_string()))?;
    if micro_grid.level() != domain::Level::MicroGrid {
        return Err(err(
            RESIDENT_COLUMNS[0],
            "须为 18 位微网格编码 / an 18-digit micro-grid code".into(),
        ));
    }
    let id_number =
        IdNumber::parse(&get(8)).map_err(|e| err(RESIDENT_COLUMNS[8], e.to_string()))?;
    let phone = match get(9) {
        p if p.is_empty() => None,
        p => Some(Phone::parse(&p).map_err(|e| err(RESIDENT_COLUMNS[9], e.to_string()))?),
    };
    let residence_type = match get(11).as_str() {
        "户籍" | "registered" => ResidenceType::Registered,
        "常住" | "resident" => ResidenceType::Resident,
        "流动" | "floating" => ResidenceType::Floating,
        "租户" | "tenant" => ResidenceType::Tenant,
        other => {
            return Err(err(
                RESIDENT_COLUMNS[11],
                format!("须为 户籍/常住/流动/租户，不是 {other:?} / one of 户籍, 常住, 流动, 租户"),
            ));
        }
    };
    let care_grade = match get(12).as_str() {
        "" => None,
        "红" | "red" => Some(CareGrade::Red),
        "黄" | "yellow" => Some(CareGrade::Yellow),
        "蓝" | "blue" => Some(CareGrade::Blue),
        other => {
            return Err(err(
                RESIDENT_COLUMNS[12],
                format!("须为 红/黄/蓝 或空，不是 {other:?} / 红, 黄, 蓝 or empty"),
            ));
        }
    };
    let mut tags = Vec::new();
    for t in get(13)
        .split([';', '；', '、'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let key = tags_known
            .iter()
            .find(|k| !k.retired && (k.code == t || k.label_zh == t))
            .map(|k| k.code.clone());
        match key {
            Some(k) => tags.push(k),
            None => {
                return Err(err(
                    RESIDENT_COLUMNS[13],
                    format!("未知标签 {t:?} / unknown tag"),
                ));
            }
        }
    }
    Ok(Row {
        line,
        micro_grid,
        road: required(1)?,
        house_number: required(2)?,
        compound: get(3),
        building: required(4)?,
        unit: get(5),
        room: required(6)?,
        name: required(7)?,
        id_number,
        phone,
        relation: if get(10).is_empty() {
            "户主".to_owned()
        } else {
            get(10)
        },
        residence_type,
        care_grade,
        tags,
    })
}

impl App {
    /// The residents of a scope, masked, as CSV or XLSX; the export is audited.
    pub async fn export_residents(
        &self,
        ctx: &Ctx,
        scope: &str,
        format: ExportFormat,
    ) -> Result<Vec<u8>> {
        let scope = parse_scope("scope", scope)?;
        self.require(
            ctx,
            Permission::ExportPersonal,
            &scope,
            &format!("export of residents of {scope}"),
        )
        .await?;
        let tags_known = self.tag_list().await?;
        let mut rows = Vec::new();
        {
            let mut tx = self.store.read().await?;
            let mut after = 0;
            loop {
                let page = tx.residents_in_scope(scope.as_str(), after, 5_000).await?;
                let Some(last) = page.last() else { break };
                after = last.id;
                rows.extend(page);
            }
        }
        let header = [
            "微网格编码",
            "地址",
            "姓名",
            "性别",
            "出生日期",
            "与户主关系",
            "居住类型",
            "身份证号（脱敏）",
            "电话（脱敏）",
            "关爱等级",
            "标签",
        ];
        let table: Vec<[String; 11]> = rows
            .iter()
            .map(|r| {
                [
                    r.scope_code.clone(),
                    r.address.clone(),
                    r.name.clone(),
                    match r.gender {
                        1 => "男".into(),
                        2 => "女".into(),
                        _ => String::new(),
                    },
                    r.birth_date.clone().unwrap_or_default(),
                    r.relation.clone(),
                    ResidenceType::parse(&r.residence_type)
                        .map_or("", ResidenceType::label_zh)
                        .to_owned(),
                    r.id_number_masked.clone().unwrap_or_default(),
                    r.phone_masked.clone().unwrap_or_default(),
                    r.care_grade
                        .as_deref()
                        .and_then(CareGrade::parse)
                        .map_or("", CareGrade::label_zh)
                        .to_owned(),
                    r.tags
                        .iter()
                        .map(|t| tag_label(&tags_known, t, false))
                        .collect::<Vec<_>>()
                        .join("；"),
                ]
            })
            .collect();
        let table: Vec<Vec<String>> = table.into_iter().map(Vec::from).collect();
        let bytes = write_table(format, "居民", &header, &table)?;
        let mut tx = self.store.write().await?;
        let detail = format!("{} rows, masked, {}", table.len(), format.as_str());
        self.audit(
            &mut tx,
            ctx,
            None,
            Audit {
                action: AuditAction::PersonalDataExported,
                target: &format!("residents of {scope}"),
                outcome: Outcome::Success,
                scope: Some(scope.as_str()),
                detail: &detail,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(bytes)
    }

    /// Imports residents from CSV (columns: [`RESIDENT_COLUMNS`]). Every row is checked first;
    /// while any is bad nothing is written, unless `skip_bad_rows`. `progress` hears the rows done.
    pub async fn import_residents(
        &self,
        ctx: &Ctx,
        file: &[u8],
        skip_bad_rows: bool,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<RegistryImportReport> {
        let cipher = self
            .cipher
            .clone()
            .ok_or_else(|| AppError::Internal("no data key is configured".into()))?;
        let records = read_table(file, &RESIDENT_COLUMNS)?;
        let body = &records[1..];
        // Writing outside one's scope is refused (403, audited) before anything else.
        let scopes = body
            .iter()
            .filter_map(|r| GridCode::parse(r[0].trim()).ok());
        self.require_each(ctx, Permission::EditRegistry, scopes, "import of residents")
            .await?;
        let tags_known = self.tag_list().await?;
        let mut good = Vec::new();
        let mut bad = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut tx = self.store.write().await?;
        for (i, record) in body.iter().enumerate() {
            let line = i + 2;
            let row = match check_row(line, record, &tags_known) {
                Ok(r) => r,
                Err(e) => {
                    bad.push(e);
                    continue;
                }
            };
            let problem = if tx
                .grid_node_by_code(row.micro_grid.as_str())
                .await?
                .is_none()
            {
                Some((
                    "微网格编码",
                    format!(
                        "没有编码为 {} 的微网格 / no such micro-grid",
                        row.micro_grid
                    ),
                ))
            } else if !seen.insert(row.id_number.as_str().to_owned()) {
                Some((
                    "身份证号",
                    "文件中重复 / appears twice in the file".to_owned(),
                ))
            } else if tx.id_number_registered(&row.id_number, &cipher).await? {
                Some(("身份证号", "已登记 / already registered".to_owned()))
            } else {
                None
            };
            match problem {
                Some((field, message)) => bad.push(RowError {
                    line,
                    field: field.into(),
                    message,
                }),
                None => good.push(row),
            }
        }
        if !bad.is_empty() && !skip_bad_rows {
            return Err(rows_refused(&bad));
        }
        let now = now();
        let mut report = RegistryImportReport {
            skipped: bad,
            ..Default::default()
        };
        let total = good.len();
        for (n, row) in good.iter().enumerate() {
            let micro = tx
                .grid_node_by_code(row.micro_grid.as_str())
                .await?
                .ok_or(AppError::NotFound("micro-grid"))?;
            let building = match tx
                .building_by_address(&row.road, &row.house_number, &row.compound, &row.building)
                .await?
            {
                Some((id, scope)) if scope == row.micro_grid.as_str() => id,
                Some((_, scope)) => {
                    return Err(AppError::invalid(
                        "rows",
                        format!(
                            "第 {} 行：该楼栋属于微网格 {scope} / line {}: that building is in micro-grid {scope}",
                            row.line, row.line
                        ),
                    ));
                }
                None => {
                    report.buildings_added += 1;
                    let b = NewBuilding {
                        micro_grid_id: micro.id,
                        scope_code: row.micro_grid.as_str(),
                        road: &row.road,
                        house_number: &row.house_number,
                        compound: &row.compound,
                        name: &row.building,
                        lon: None,
                        lat: None,
                        footprint: None,
                        now,
                    };
                    tx.insert_building(&b).await?
                }
            };
            let household = match tx
                .household_by_address(building, &row.unit, &row.room)
                .await?
            {
                Some(id) => id,
                None => {
                    report.households_added += 1;
                    tx.insert_household(
                        building,
                        row.micro_grid.as_str(),
                        &row.unit,
                        &row.room,
                        now,
                    )
                    .await?
                }
            };
            let birth = row.id_number.birth_date();
            let tags: Vec<&str> = row.tags.iter().map(String::as_str).collect();
            let resident = NewResident {
                household_id: household,
                scope_code: row.micro_grid.as_str(),
                name: &row.name,
                gender: i64::from(row.id_number.gender()),
                birth_date: Some(&birth),
                relation: &row.relation,
                residence_type: row.residence_type.as_str(),
                care_grade: row.care_grade.map(CareGrade::as_str),
                id_number: Some(&row.id_number),
                phone: row.phone.as_ref(),
                tags: &tags,
                now,
            };
            tx.insert_resident(&resident, &cipher).await?;
            report.residents += 1;
            tick(progress, n + 1, total);
        }
        let detail = format!(
            "{} residents, {} rows skipped",
            report.residents,
            report.skipped.len()
        );
        self.audit(
            &mut tx,
            ctx,
            None,
            Audit {
                action: AuditAction::PersonalDataImported,
                target: "residents",
                outcome: Outcome::Success,
                scope: ctx.home_scope().map(GridCode::as_str),
                detail: &detail,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(report)
    }
}
