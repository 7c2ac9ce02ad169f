//! The map in and out as GeoJSON. An import is checked whole before anything is written: codes,
//! parents, polygons, children inside their parents, siblings not overlapping. Every problem
//! names the feature and its code; one bad feature and nothing is imported.

use crate::error::parse_scope;
use crate::{App, AppError, Ctx, Result, now};
use domain::{GridCode, GridKind, Permission};
use geo_grid::{FindingKind, Polygon, check_children, parse_polygon, polygon_to_geojson};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use store::GridNodeInput;

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub added: usize,
    pub changed: usize,
    pub unchanged: usize,
}

struct Feature {
    code: GridCode,
    name: String,
    kind: Option<GridKind>,
    polygon: Polygon,
}

/// Reads the features of a FeatureCollection, collecting every problem with its place.
fn read_features(v: &Value) -> std::result::Result<Vec<Feature>, Vec<String>> {
    if v.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
        return Err(vec![
            "不是 GeoJSON 要素集合 / not a GeoJSON FeatureCollection".into(),
        ]);
    }
    let Some(features) = v.get("features").and_then(Value::as_array) else {
        return Err(vec!["缺少 features / no \"features\" list".into()]);
    };
    let (mut ok, mut errors) = (Vec::new(), Vec::new());
    for (i, f) in features.iter().enumerate() {
        let props = f.get("properties");
        let code_text = props
            .and_then(|p| p.get("code"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let at = format!("feature {i} (code {code_text:?})");
        let code = match GridCode::parse(code_text) {
            Ok(c) => c,
            Err(e) => {
                errors.push(format!("{at}: 编码无效 / bad code: {e}"));
                continue;
            }
        };
        let name = props
            .and_then(|p| p.get("name"))
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or("");
        if name.is_empty() || name.chars().count() > 64 {
            errors.push(format!(
                "{at}: 名称须为 1 到 64 个字符 / a name has 1 to 64 characters"
            ));
            continue;
        }
        let kind = match props.and_then(|p| p.get("kind")).and_then(Value::as_str) {
            None | Some("") => None,
            Some(k) => match GridKind::parse(k) {
                Some(k) => Some(k),
                None => {
                    errors.push(format!("{at}: 未知网格类型 / unknown kind {k:?}"));
                    continue;
                }
            },
        };
        match parse_polygon(f) {
            Ok(polygon) => ok.push(Feature {
                code,
                name: name.to_owned(),
                kind,
                polygon,
            }),
            Err(e) => errors.push(format!("{at}: {e}")),
        }
    }
    if errors.is_empty() {
        Ok(ok)
    } else {
        Err(errors)
    }
}

fn stored_polygon(n: &store::GridNode) -> Option<Polygon> {
    serde_json::from_str::<Value>(n.geometry.as_deref()?)
        .ok()
        .and_then(|v| parse_polygon(&v).ok())
}

fn refuse(errors: Vec<String>) -> AppError {
    let shown = errors.len().min(20);
    let more = if errors.len() > shown {
        format!("\n… (+{} more)", errors.len() - shown)
    } else {
        String::new()
    };
    AppError::invalid("features", format!("{}{more}", errors[..shown].join("\n")))
}

impl App {
    /// Every node inside `scope`, all levels, as a GeoJSON FeatureCollection.
    pub async fn export_map(&self, ctx: &Ctx, scope: &str) -> Result<Value> {
        let scope = parse_scope("scope", scope)?;
        let nodes = self
            .readable_nodes_in(ctx, &scope, &format!("map of {scope}"))
            .await?;
        let features: Vec<crate::MapFeature> =
            nodes.into_iter().filter_map(crate::map::feature).collect();
        let features =
            serde_json::to_value(features).map_err(|e| AppError::Internal(e.to_string()))?;
        Ok(json!({"type": "FeatureCollection", "features": features}))
    }

    /// Adds or redraws nodes from a GeoJSON FeatureCollection, all or nothing.
    pub async fn import_map(
        &self,
        ctx: &Ctx,
        geojson: &Value,
        tolerance_m2: f64,
    ) -> Result<ImportReport> {
        let mut features = read_features(geojson).map_err(refuse)?;
        features.sort_by(|a, b| a.code.cmp(&b.code));
        for f in &features {
            let scope = f.code.parent().unwrap_or_else(|| f.code.clone());
            self.require(
                ctx,
                Permission::EditGrid,
                &scope,
                &format!("grid node {}", f.code),
            )
            .await?;
        }
        let mut errors = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for f in &features {
            if !seen.insert(f.code.clone()) {
                errors.push(format!(
                    "code {}: 文件中出现两次 / appears twice in the file",
                    f.code
                ));
            }
        }
        let mut tx = self.store.write().await?;
        // The map as it would be: stored shapes, overridden by the file's.
        let mut shapes: BTreeMap<String, Polygon> = BTreeMap::new();
        let mut parents_touched = std::collections::BTreeSet::new();
        for f in &features {
            let parent = f.code.parent();
            if let Some(p) = &parent {
                let in_file = features.iter().any(|g| &g.code == p);
                if !in_file && tx.grid_node_by_code(p.as_str()).await?.is_none() {
                    errors.push(format!(
                        "code {}: 上级网格 {p} 不存在 / its parent {p} does not exist",
                        f.code
                    ));
                }
                parents_touched.insert(p.to_string());
            }
            shapes.insert(f.code.to_string(), f.polygon.clone());
        }
        for parent in &parents_touched {
            let parent_shape = match shapes.get(parent) {
                Some(p) => Some(p.clone()),
                None => tx
                    .grid_node_by_code(parent)
                    .await?
                    .as_ref()
                    .and_then(stored_polygon),
            };
            let mut children: BTreeMap<String, Polygon> = BTreeMap::new();
            for n in tx.grid_children(parent).await? {
                if let Some(p) = stored_polygon(&n) {
                    children.insert(n.code, p);
                }
            }
            for f in features
                .iter()
                .filter(|f| f.code.parent().is_some_and(|p| p.as_str() == parent))
            {
                children.insert(f.code.to_string(), f.polygon.clone());
            }
            let children: Vec<(String, Polygon)> = children.into_iter().collect();
            let Some(parent_shape) = parent_shape else {
                continue;
            };
            for finding in check_children(&parent_shape, &children, tolerance_m2) {
                let cell = finding.cell.clone().unwrap_or_default();
                let at = format!("({:.6}, {:.6})", finding.at.x, finding.at.y);
                match finding.kind {
                    FindingKind::OutsideParent => errors.push(format!(
                        "code {cell}: {:.0} 平方米超出上级 {parent}，位于 {at} / {:.0} m² outside its parent {parent} at {at}",
                        finding.area_m2, finding.area_m2
                    )),
                    FindingKind::Overlap { other } => errors.push(format!(
                        "code {cell}: 与 {other} 重叠 {:.0} 平方米，位于 {at} / overlaps {other} by {:.0} m² at {at}",
                        finding.area_m2, finding.area_m2
                    )),
                    FindingKind::InvalidShape(why) => errors.push(format!("code {cell}: {why}")),
                    FindingKind::Gap => {}
                }
            }
        }
        if !errors.is_empty() {
            return Err(refuse(errors));
        }
        let now = now();
        let mut report = ImportReport::default();
        for f in &features {
            let existed = tx.grid_node_by_code(f.code.as_str()).await?.is_some();
            let parent_id = match f.code.parent() {
                Some(p) => tx.grid_node_by_code(p.as_str()).await?.map(|n| n.id),
                None => None,
            };
            let geometry = polygon_to_geojson(&f.polygon).to_string();
            let input = GridNodeInput {
                code: f.code.as_str(),
                name: &f.name,
                level: f.code.level().as_str(),
                kind: f.kind.map(GridKind::as_str),
                geometry: Some(&geometry),
                parent_id,
            };
            let (_, changed) = tx.upsert_grid_node(&input, ctx.account_id(), now).await?;
            match (existed, changed) {
                (false, _) => report.added += 1,
                (true, true) => report.changed += 1,
                (true, false) => report.unchanged += 1,
            }
        }
        tx.commit().await?;
        self.refresh_map().await?;
        Ok(report)
    }
}
