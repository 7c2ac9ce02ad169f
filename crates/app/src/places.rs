//! Buildings and households as tables: the lists a community keeps of its buildings (address,
//! position, outline) and of the households in them, in and out as CSV or XLSX. Addresses are
//! not personal data; residents are imported with `registry_io`.

use crate::error::parse_scope;
use crate::table::{ExportFormat, RowError, read_table, rows_refused, tick, write_table};
use crate::{App, AppError, Ctx, Result, now};
use domain::{GridCode, Level, Permission};
use serde::Serialize;
use store::NewBuilding;

/// The columns of the building file. Give the micro-grid code, or a position (经度, 纬度) and the
/// map finds the micro-grid, or both (then they must agree). 轮廓 is the outline as a GeoJSON
/// Polygon, for the "building split across cells" check.
pub const BUILDING_COLUMNS: [&str; 8] = [
    "微网格编码",
    "街路巷",
    "门牌号",
    "小区",
    "楼栋",
    "经度",
    "纬度",
    "轮廓",
];

/// The columns of the household file; the building must be registered.
pub const HOUSEHOLD_COLUMNS: [&str; 6] = ["街路巷", "门牌号", "小区", "楼栋", "单元", "房号"];

#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TableImportReport {
    pub added: usize,
    /// Rows that were there already: buildings get their position and outline updated,
    /// households are left as they are.
    pub existing: usize,
    pub skipped: Vec<RowError>,
}

struct BuildingRowIn {
    micro: GridCode,
    road: String,
    house_number: String,
    compound: String,
    name: String,
    lon: Option<f64>,
    lat: Option<f64>,
    footprint: Option<String>,
}

fn required(line: usize, f: &[String], i: usize, columns: &[&str]) -> Result<String, RowError> {
    let v = f[i].trim();
    if v.is_empty() || v.chars().count() > 64 {
        Err(RowError::new(
            line,
            columns[i],
            "必填，最多 64 个字符 / required, at most 64 characters",
        ))
    } else {
        Ok(v.to_owned())
    }
}

fn optional(f: &[String], i: usize) -> String {
    f[i].trim().chars().take(64).collect()
}

impl App {
    fn check_building(&self, line: usize, f: &[String]) -> Result<BuildingRowIn, RowError> {
        let col = |i: usize| BUILDING_COLUMNS[i];
        let coordinate = |i: usize, range: std::ops::RangeInclusive<f64>| match f[i].trim() {
            "" => Ok(None),
            v => v
                .parse::<f64>()
                .ok()
                .filter(|x| range.contains(x))
                .map(Some)
                .ok_or_else(|| {
                    RowError::new(
                        line,
                        col(i),
                        format!("不是有效的坐标 {v:?} / not a coordinate"),
                    )
                }),
        };
        let mut lon = coordinate(5, -180.0..=180.0)?;
        let mut lat = coordinate(6, -90.0..=90.0)?;
        if lon.is_some() != lat.is_some() {
            return Err(RowError::new(
                line,
                col(5),
                "经度与纬度须同时给出 / give both longitude and latitude",
            ));
        }
        let footprint = match f[7].trim() {
            "" => None,
            text => {
                let polygon = serde_json::from_str::<serde_json::Value>(text)
                    .map_err(|e| e.to_string())
                    .and_then(|v| geo_grid::parse_polygon(&v).map_err(|e| e.to_string()))
                    .and_then(|p| {
                        geo_grid::validate(&p)
                            .map(|()| p)
                            .map_err(|e| e.to_string())
                    })
                    .map_err(|e| RowError::new(line, col(7), e))?;
                if lon.is_none() {
                    use geo::Centroid;
                    let c = polygon.centroid().ok_or_else(|| {
                        RowError::new(line, col(7), "空的轮廓 / an empty outline")
                    })?;
                    (lon, lat) = (Some(c.x()), Some(c.y()));
                }
                Some(geo_grid::polygon_to_geojson(&polygon).to_string())
            }
        };
        let routed = match (lon, lat) {
            (Some(x), Some(y)) => Some(
                self.map
                    .current()
                    .locate(x, y)
                    .ok_or_else(|| {
                        RowError::new(
                            line,
                            col(5),
                            "该位置不在任何微网格内 / the position is in no micro-grid",
                        )
                    })?
                    .micro_grid
                    .code,
            ),
            _ => None,
        };
        let micro = match (f[0].trim(), routed) {
            ("", None) => {
                return Err(RowError::new(
                    line,
                    col(0),
                    "须给出微网格编码或经纬度 / give the micro-grid code or a position",
                ));
            }
            ("", Some(code)) => {
                GridCode::parse(&code).map_err(|e| RowError::new(line, col(0), e.to_string()))?
            }
            (given, routed) => {
                let code = GridCode::parse(given)
                    .map_err(|e| RowError::new(line, col(0), e.to_string()))?;
                if code.level() != Level::MicroGrid {
                    return Err(RowError::new(
                        line,
                        col(0),
                        "须为 18 位微网格编码 / an 18-digit micro-grid code",
                    ));
                }
                if let Some(r) = routed.filter(|r| r != code.as_str()) {
                    return Err(RowError::new(
                        line,
                        col(0),
                        format!("该位置在微网格 {r} 内 / the position is in micro-grid {r}"),
                    ));
                }
                code
            }
        };
        Ok(BuildingRowIn {
            micro,
            road: required(line, f, 1, &BUILDING_COLUMNS)?,
            house_number: required(line, f, 2, &BUILDING_COLUMNS)?,
            compound: optional(f, 3),
            name: required(line, f, 4, &BUILDING_COLUMNS)?,
            lon,
            lat,
            footprint,
        })
    }

    /// Imports buildings from CSV or XLSX ([`BUILDING_COLUMNS`]). A building already registered
    /// at the address gets the position and outline of the row. Nothing is written while a row
    /// is bad, unless `skip_bad_rows`.
    pub async fn import_buildings(
        &self,
        ctx: &Ctx,
        file: &[u8],
        skip_bad_rows: bool,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<TableImportReport> {
        let records = read_table(file, &BUILDING_COLUMNS)?;
        self.refresh_map().await?;
        let (mut good, mut bad) = (Vec::new(), Vec::new());
        for (i, f) in records[1..].iter().enumerate() {
            match self.check_building(i + 2, f) {
                Ok(b) => good.push((i + 2, b)),
                Err(e) => bad.push(e),
            }
        }
        let scopes = good.iter().map(|(_, b)| b.micro.clone());
        self.require_each(ctx, Permission::EditRegistry, scopes, "import of buildings")
            .await?;
        let mut tx = self.store.write().await?;
        let mut checked = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (line, b) in good {
            let key = (
                b.road.clone(),
                b.house_number.clone(),
                b.compound.clone(),
                b.name.clone(),
            );
            let problem = if !seen.insert(key) {
                Some((4, "文件中重复 / appears twice in the file".to_owned()))
            } else if tx.grid_node_by_code(b.micro.as_str()).await?.is_none() {
                Some((
                    0,
                    format!("没有编码为 {} 的微网格 / no such micro-grid", b.micro),
                ))
            } else {
                match tx
                    .building_by_address(&b.road, &b.house_number, &b.compound, &b.name)
                    .await?
                {
                    Some((_, scope)) if scope != b.micro.as_str() => Some((
                        0,
                        format!(
                            "该楼栋已登记在微网格 {scope} / that building is registered in micro-grid {scope}"
                        ),
                    )),
                    _ => None,
                }
            };
            match problem {
                Some((column, message)) => {
                    bad.push(RowError::new(line, BUILDING_COLUMNS[column], message))
                }
                None => checked.push(b),
            }
        }
        if !bad.is_empty() && !skip_bad_rows {
            return Err(rows_refused(&bad));
        }
        let mut report = TableImportReport {
            skipped: bad,
            ..Default::default()
        };
        let (total, now) = (checked.len(), now());
        for (n, b) in checked.iter().enumerate() {
            match tx
                .building_by_address(&b.road, &b.house_number, &b.compound, &b.name)
                .await?
            {
                Some((id, _)) => {
                    tx.set_building_shape(id, b.lon, b.lat, b.footprint.as_deref())
                        .await?;
                    report.existing += 1;
                }
                None => {
                    let micro = tx
                        .grid_node_by_code(b.micro.as_str())
                        .await?
                        .ok_or(AppError::NotFound("micro-grid"))?;
                    tx.insert_building(&NewBuilding {
                        micro_grid_id: micro.id,
                        scope_code: b.micro.as_str(),
                        road: &b.road,
                        house_number: &b.house_number,
                        compound: &b.compound,
                        name: &b.name,
                        lon: b.lon,
                        lat: b.lat,
                        footprint: b.footprint.as_deref(),
                        now,
                    })
                    .await?;
                    report.added += 1;
                }
            }
            tick(progress, n + 1, total);
        }
        tx.commit().await?;
        Ok(report)
    }

    /// Imports households from CSV or XLSX ([`HOUSEHOLD_COLUMNS`]) into registered buildings.
    pub async fn import_households(
        &self,
        ctx: &Ctx,
        file: &[u8],
        skip_bad_rows: bool,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<TableImportReport> {
        let records = read_table(file, &HOUSEHOLD_COLUMNS)?;
        // Checked on a read transaction: a refusal below is audited in a transaction of its own.
        let mut tx = self.store.read().await?;
        let (mut good, mut bad) = (Vec::new(), Vec::new());
        let mut seen = std::collections::HashSet::new();
        for (i, f) in records[1..].iter().enumerate() {
            let line = i + 2;
            let parts = (|| -> Result<_, RowError> {
                Ok((
                    required(line, f, 0, &HOUSEHOLD_COLUMNS)?,
                    required(line, f, 1, &HOUSEHOLD_COLUMNS)?,
                    optional(f, 2),
                    required(line, f, 3, &HOUSEHOLD_COLUMNS)?,
                    optional(f, 4),
                    required(line, f, 5, &HOUSEHOLD_COLUMNS)?,
                ))
            })();
            let (road, number, compound, building, unit, room) = match parts {
                Ok(p) => p,
                Err(e) => {
                    bad.push(e);
                    continue;
                }
            };
            match tx.building_by_address(&road, &number, &compound, &building).await? {
                None => bad.push(RowError::new(
                    line,
                    HOUSEHOLD_COLUMNS[3],
                    format!("楼栋 {road}{number} {compound}{building} 未登记 / that building is not registered"),
                )),
                Some(_) if !seen.insert((road.clone(), number.clone(), compound.clone(), building.clone(), unit.clone(), room.clone())) => {
                    bad.push(RowError::new(line, HOUSEHOLD_COLUMNS[5], "文件中重复 / appears twice in the file"))
                }
                Some((id, scope)) => good.push((id, scope, unit, room)),
            }
        }
        drop(tx);
        let scopes = good.iter().filter_map(|g| GridCode::parse(&g.1).ok());
        self.require_each(
            ctx,
            Permission::EditRegistry,
            scopes,
            "import of households",
        )
        .await?;
        if !bad.is_empty() && !skip_bad_rows {
            return Err(rows_refused(&bad));
        }
        let mut report = TableImportReport {
            skipped: bad,
            ..Default::default()
        };
        let mut tx = self.store.write().await?;
        let (total, now) = (good.len(), now());
        for (n, (building, scope, unit, room)) in good.iter().enumerate() {
            if tx
                .household_by_address(*building, unit, room)
                .await?
                .is_some()
            {
                report.existing += 1;
            } else {
                tx.insert_household(*building, scope, unit, room, now)
                    .await?;
                report.added += 1;
            }
            tick(progress, n + 1, total);
        }
        tx.commit().await?;
        Ok(report)
    }

    /// The buildings of a scope as CSV or XLSX: the import's columns, then the household count.
    pub async fn export_buildings(
        &self,
        ctx: &Ctx,
        scope: &str,
        format: ExportFormat,
    ) -> Result<Vec<u8>> {
        let scope = parse_scope("scope", scope)?;
        self.require(
            ctx,
            Permission::ReadRegistry,
            &scope,
            &format!("buildings of {scope}"),
        )
        .await?;
        let mut tx = self.store.read().await?;
        let (mut rows, mut after) = (Vec::new(), 0);
        loop {
            let page = tx.buildings_in_scope(scope.as_str(), after, 5_000).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            rows.extend(page.into_iter().map(|b| {
                vec![
                    b.scope_code,
                    b.road,
                    b.house_number,
                    b.compound,
                    b.name,
                    b.lon.map(|x| x.to_string()).unwrap_or_default(),
                    b.lat.map(|y| y.to_string()).unwrap_or_default(),
                    b.footprint.unwrap_or_default(),
                    b.households.to_string(),
                ]
            }));
        }
        let mut header = BUILDING_COLUMNS.to_vec();
        header.push("户数");
        write_table(format, "楼栋", &header, &rows)
    }

    /// The households of a scope as CSV or XLSX: the import's columns, then the member count.
    pub async fn export_households(
        &self,
        ctx: &Ctx,
        scope: &str,
        format: ExportFormat,
    ) -> Result<Vec<u8>> {
        let scope = parse_scope("scope", scope)?;
        self.require(
            ctx,
            Permission::ReadRegistry,
            &scope,
            &format!("households of {scope}"),
        )
        .await?;
        let mut tx = self.store.read().await?;
        let (mut rows, mut after) = (Vec::new(), 0);
        loop {
            let page = tx
                .household_addresses_in_scope(scope.as_str(), after, 5_000)
                .await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            rows.extend(page.into_iter().map(|h| {
                vec![
                    h.road,
                    h.house_number,
                    h.compound,
                    h.building,
                    h.unit,
                    h.room,
                    h.scope_code,
                    h.members.to_string(),
                ]
            }));
        }
        let mut header = HOUSEHOLD_COLUMNS.to_vec();
        header.extend(["微网格编码", "人数"]);
        write_table(format, "住户", &header, &rows)
    }
}
