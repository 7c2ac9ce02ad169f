//! The grid map in use: the routing index (point → micro-grid → grid → community → street), kept
//! in memory and rebuilt when the map version in the database moves on (each server polls it, so
//! a change made on one server reaches all), the map's features for a scope, and the division
//! checks.

use crate::error::parse_scope;
use crate::roster::StaffView;
use crate::{App, AppError, Ctx, Result};
use domain::{GridCode, Level, Permission};
use geo_grid::{Finding, FindingKind, PointIndex, Polygon, check_children, parse_polygon};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// A node, as a location names it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct NodeRef {
    pub code: String,
    pub name: String,
}

/// Where a point lies: its micro-grid and the nodes above it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Location {
    pub micro_grid: NodeRef,
    pub grid: Option<NodeRef>,
    pub community: Option<NodeRef>,
    pub street: Option<NodeRef>,
    pub district: Option<NodeRef>,
}

/// The routing index of one map version.
#[derive(Debug, Default)]
pub struct RoutingIndex {
    pub version: i64,
    micro: Option<PointIndex<String>>,
    names: HashMap<String, String>,
}

impl RoutingIndex {
    pub fn len(&self) -> usize {
        self.micro.as_ref().map_or(0, PointIndex::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn node(&self, code: &str) -> Option<NodeRef> {
        self.names.get(code).map(|name| NodeRef {
            code: code.to_owned(),
            name: name.clone(),
        })
    }

    /// A node's name, by code.
    pub fn name(&self, code: &str) -> Option<&str> {
        self.names.get(code).map(String::as_str)
    }

    pub fn locate(&self, lon: f64, lat: f64) -> Option<Location> {
        let code = self.micro.as_ref()?.locate(lon, lat)?;
        self.chain(code)
    }

    /// A micro-grid and the nodes above it, by code.
    pub fn chain(&self, code: &str) -> Option<Location> {
        let up = |len: usize| code.get(..len).and_then(|c| self.node(c));
        Some(Location {
            micro_grid: self.node(code)?,
            grid: up(Level::Grid.code_len()),
            community: up(Level::Community.code_len()),
            street: up(Level::Street.code_len()),
            district: up(Level::District.code_len()),
        })
    }
}

/// A building found by its address, and where it lies.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AddressMatch {
    pub building_id: i64,
    pub address: String,
    pub location: Location,
}

/// The index currently in use; swapped whole when a new version is built.
#[derive(Debug, Clone, Default)]
pub struct MapState(Arc<RwLock<Arc<RoutingIndex>>>);

impl MapState {
    pub fn current(&self) -> Arc<RoutingIndex> {
        self.0.read().map(|g| Arc::clone(&g)).unwrap_or_default()
    }

    fn replace(&self, index: RoutingIndex) {
        if let Ok(mut g) = self.0.write() {
            *g = Arc::new(index);
        }
    }
}

/// One node of the map for display: a GeoJSON Feature.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MapFeature {
    #[serde(rename = "type")]
    pub kind_of: &'static str,
    #[schema(value_type = Object)]
    pub geometry: serde_json::Value,
    #[schema(value_type = Object)]
    pub properties: serde_json::Value,
}

/// One problem the division checks found.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DivisionFinding {
    /// `invalid_shape`, `overlap`, `gap`, `outside_parent`, `household_count` or
    /// `building_split` (a building's outline lies in more than one micro-grid, or partly in
    /// none).
    pub kind: &'static str,
    /// The parent whose children were checked.
    pub parent: String,
    /// The node at fault (none for a gap).
    pub node: Option<String>,
    /// For an overlap: the sibling.
    pub other: Option<String>,
    pub area_m2: f64,
    /// A point inside the problem: [lon, lat].
    pub at: [f64; 2],
    pub message: String,
}

impl DivisionFinding {
    fn new(parent: &str, f: Finding<String>) -> DivisionFinding {
        let (kind, other, message) = match &f.kind {
            FindingKind::InvalidShape(why) => (
                "invalid_shape",
                None,
                format!("形状无效 / invalid shape: {why}"),
            ),
            FindingKind::Overlap { other } => (
                "overlap",
                Some(other.clone()),
                format!(
                    "与 {other} 重叠 {:.0} 平方米 / overlaps {other} by {:.0} m²",
                    f.area_m2, f.area_m2
                ),
            ),
            FindingKind::Gap => (
                "gap",
                None,
                format!(
                    "{parent} 内有 {:.0} 平方米未划入任何网格 / a gap of {:.0} m² in {parent}",
                    f.area_m2, f.area_m2
                ),
            ),
            FindingKind::OutsideParent => (
                "outside_parent",
                None,
                format!(
                    "{:.0} 平方米超出上级 {parent} / {:.0} m² outside its parent {parent}",
                    f.area_m2, f.area_m2
                ),
            ),
        };
        DivisionFinding {
            kind,
            parent: parent.to_owned(),
            node: f.cell,
            other,
            area_m2: f.area_m2,
            at: [f.at.x, f.at.y],
            message,
        }
    }
}

/// A node with a shape, as a GeoJSON Feature.
pub(crate) fn feature(n: store::GridNode) -> Option<MapFeature> {
    let geometry: serde_json::Value = serde_json::from_str(n.geometry.as_deref()?).ok()?;
    Some(MapFeature {
        kind_of: "Feature",
        geometry,
        properties: serde_json::json!({"code": n.code, "name": n.name, "level": n.level, "kind": n.kind, "parent": n.parent_code}),
    })
}

/// Gaps and overlaps smaller than this (m²) are drawing noise, not findings.
pub const DEFAULT_TOLERANCE_M2: f64 = 10.0;

fn shape(node: &store::GridNode) -> Option<std::result::Result<Polygon, String>> {
    let text = node.geometry.as_deref()?;
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return Some(Err(e.to_string())),
    };
    Some(parse_polygon(&value).map_err(|e| e.to_string()))
}

impl App {
    /// The names of a micro-grid and the nodes above it, by code: from the routing index,
    /// which holds every node's name, else from the database (before the index is built).
    pub(crate) async fn chain_names(&self, micro: &str) -> Result<HashMap<String, String>> {
        let lens = [
            Level::Street.code_len(),
            Level::Community.code_len(),
            Level::Grid.code_len(),
            Level::MicroGrid.code_len(),
        ];
        let codes: Vec<&str> = lens.iter().filter_map(|&n| micro.get(..n)).collect();
        let index = self.map.current();
        let mut names = HashMap::new();
        let mut tx = None;
        for code in codes {
            let name = match index.names.get(code) {
                Some(n) => Some(n.clone()),
                None => {
                    if tx.is_none() {
                        tx = Some(self.store.read_once().await?);
                    }
                    match tx.as_mut() {
                        Some(t) => t.grid_node_by_code(code).await?.map(|n| n.name),
                        None => None,
                    }
                }
            };
            if let Some(name) = name {
                names.insert(code.to_owned(), name);
            }
        }
        Ok(names)
    }

    /// Rebuilds the routing index when the map changed since it was built; true when it did.
    pub async fn refresh_map(&self) -> Result<bool> {
        let mut tx = self.store.read().await?;
        let version = tx.grid_map_version().await?;
        let current = self.map.current();
        if current.version == version && version != 0 {
            return Ok(false);
        }
        let micro = tx.grid_shapes_of_level(Level::MicroGrid.as_str()).await?;
        let names = tx.grid_node_names().await?.into_iter().collect();
        drop(tx);
        let cells: Vec<(String, Polygon)> = micro
            .iter()
            .filter_map(|n| match shape(n)? {
                Ok(p) => Some((n.code.clone(), p)),
                Err(e) => {
                    tracing::warn!(code = %n.code, error = %e, "micro-grid left out of routing: bad shape");
                    None
                }
            })
            .collect();
        let count = cells.len();
        let index = tokio::task::spawn_blocking(move || PointIndex::build(cells))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        self.map.replace(RoutingIndex {
            version,
            micro: Some(index),
            names,
        });
        tracing::info!(version, micro_grids = count, "routing index rebuilt");
        Ok(true)
    }

    /// Where a point lies, from the index in memory.
    pub fn locate(&self, lon: f64, lat: f64) -> Result<Location> {
        if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
            return Err(AppError::invalid(
                "lon",
                "经纬度超出范围 / lon/lat out of range",
            ));
        }
        self.map.current().locate(lon, lat).ok_or_else(|| {
            AppError::invalid(
                "lon",
                "该位置不在任何微网格内 / this point lies in no micro-grid",
            )
        })
    }

    /// Buildings whose address contains `q`, with their micro-grid, grid, community and street.
    pub async fn locate_address(&self, ctx: &Ctx, q: &str) -> Result<Vec<AddressMatch>> {
        self.require_anywhere(ctx, Permission::ReadGrid, "locate address")
            .await?;
        let q = q.trim();
        if q.chars().filter(|c| !c.is_whitespace()).count() < 2 || q.chars().count() > 64 {
            return Err(AppError::invalid(
                "q",
                "地址须为 2 到 64 个字符 / an address has 2 to 64 characters",
            ));
        }
        let rows = {
            let mut tx = self.store.read().await?;
            tx.buildings_matching(q, 20).await?
        };
        let index = self.map.current();
        Ok(rows
            .into_iter()
            .filter_map(|(building_id, address, code)| {
                Some(AddressMatch {
                    building_id,
                    address,
                    location: index.chain(&code)?,
                })
            })
            .collect())
    }

    /// The nodes inside `scope` (the scope first), once the caller may read it there; `what`
    /// names the read in a refusal.
    pub(crate) async fn readable_nodes_in(
        &self,
        ctx: &Ctx,
        scope: &GridCode,
        what: &str,
    ) -> Result<Vec<store::GridNode>> {
        self.require(ctx, Permission::ReadGrid, scope, what).await?;
        let mut tx = self.store.read().await?;
        Ok(tx.grid_nodes_in_scope(scope.as_str()).await?)
    }

    /// The nodes of one level inside a scope, as GeoJSON features.
    pub async fn map_features(
        &self,
        ctx: &Ctx,
        scope: &str,
        level: &str,
    ) -> Result<Vec<MapFeature>> {
        let scope = parse_scope("scope", scope)?;
        let level = Level::parse(level).ok_or_else(|| {
            AppError::invalid("level", format!("未知层级 / unknown level '{level}'"))
        })?;
        let nodes = self
            .readable_nodes_in(ctx, &scope, &format!("map of {scope}"))
            .await?;
        Ok(nodes
            .into_iter()
            .filter(|n| n.level == level.as_str())
            .filter_map(feature)
            .collect())
    }

    /// The division checks for every node with children inside `scope` (the scope included).
    pub async fn check_division(
        &self,
        ctx: &Ctx,
        scope: &str,
        tolerance_m2: f64,
    ) -> Result<Vec<DivisionFinding>> {
        let scope = parse_scope("scope", scope)?;
        let nodes = self
            .readable_nodes_in(ctx, &scope, &format!("division of {scope}"))
            .await?;
        if nodes.first().is_none_or(|n| n.code != scope.as_str()) {
            return Err(AppError::NotFound("grid node"));
        }
        let counts = {
            let mut tx = self.store.read().await?;
            tx.household_counts(scope.as_str()).await?
        };
        let bounds = (
            self.settings.micro_grid_households,
            self.settings.grid_households,
        );
        let households = household_findings(&nodes, &counts, bounds);
        let mut findings =
            tokio::task::spawn_blocking(move || division_findings(&nodes, tolerance_m2))
                .await
                .map_err(|e| AppError::Internal(e.to_string()))?;
        findings.extend(households);
        findings.extend(self.split_buildings(&scope).await?);
        Ok(findings)
    }

    /// The buildings inside `scope` whose outline is not wholly inside one micro-grid. Each
    /// outline is walked along its edges (16 points an edge, so only slivers thinner than a
    /// sixteenth of an edge can slip through) and every point is routed.
    async fn split_buildings(&self, scope: &GridCode) -> Result<Vec<DivisionFinding>> {
        use geo::{Centroid, CoordsIter};
        self.refresh_map().await?;
        let index = self.map.current();
        let mut tx = self.store.read().await?;
        let mut findings = Vec::new();
        let mut after = 0;
        loop {
            let page = tx.buildings_in_scope(scope.as_str(), after, 5_000).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            for b in page {
                let Some(outline) = b
                    .footprint
                    .as_deref()
                    .and_then(|f| serde_json::from_str::<serde_json::Value>(f).ok())
                    .and_then(|v| geo_grid::parse_polygon(&v).ok())
                else {
                    continue;
                };
                let ring: Vec<geo::Coord> = outline.exterior().coords_iter().collect();
                let mut cells: Vec<Option<String>> = ring
                    .windows(2)
                    .flat_map(|w| {
                        (0..16).map(move |k| {
                            let t = f64::from(k) / 16.0;
                            (
                                w[0].x + (w[1].x - w[0].x) * t,
                                w[0].y + (w[1].y - w[0].y) * t,
                            )
                        })
                    })
                    .map(|(x, y)| index.locate(x, y).map(|l| l.micro_grid.code))
                    .collect();
                cells.sort();
                cells.dedup();
                if cells.len() < 2 {
                    continue;
                }
                let at = outline.centroid().map_or([0.0, 0.0], |c| [c.x(), c.y()]);
                let named: Vec<String> = cells
                    .iter()
                    .map(|c| c.clone().unwrap_or_else(|| "—".into()))
                    .collect();
                let label = format!("{}{} {}{}", b.road, b.house_number, b.compound, b.name);
                findings.push(DivisionFinding {
                    kind: "building_split",
                    parent: b
                        .scope_code
                        .get(..Level::Grid.code_len())
                        .unwrap_or_default()
                        .to_owned(),
                    other: cells
                        .iter()
                        .flatten()
                        .find(|c| **c != b.scope_code)
                        .cloned(),
                    node: Some(b.scope_code),
                    area_m2: geo_grid::area_m2(&outline),
                    at,
                    message: format!(
                        "楼栋 {label} 跨越多个单元格：{} / building {label} lies across cells: {}",
                        named.join("、"),
                        named.join(", ")
                    ),
                });
            }
        }
        Ok(findings)
    }
}

/// Micro-grids and general grids whose household count lies outside the bounds. A scope whose
/// registry is still empty is not judged.
fn household_findings(
    nodes: &[store::GridNode],
    counts: &[(String, i64)],
    (micro, grid): ((i64, i64), (i64, i64)),
) -> Vec<DivisionFinding> {
    if counts.is_empty() {
        return Vec::new();
    }
    let mut findings = Vec::new();
    for n in nodes {
        let (lo, hi) = match n.level.as_str() {
            "micro_grid" => micro,
            "grid" => grid,
            _ => continue,
        };
        let count: i64 = counts
            .iter()
            .filter(|(code, _)| code.starts_with(&n.code))
            .map(|(_, c)| c)
            .sum();
        if count < lo || count > hi {
            let at = shape(n)
                .and_then(Result::ok)
                .and_then(|p| geo::InteriorPoint::interior_point(&p))
                .map_or([0.0, 0.0], |p| [p.x(), p.y()]);
            findings.push(DivisionFinding {
                kind: "household_count",
                parent: n.parent_code.clone().unwrap_or_default(),
                node: Some(n.code.clone()),
                other: None,
                area_m2: 0.0,
                at,
                message: format!("{} 有 {count} 户，应为 {lo}–{hi} 户 / {} holds {count} households, not {lo}–{hi}", n.name, n.code),
            });
        }
    }
    findings
}

fn division_findings(nodes: &[store::GridNode], tolerance_m2: f64) -> Vec<DivisionFinding> {
    let mut findings = Vec::new();
    let mut children: HashMap<&str, Vec<&store::GridNode>> = HashMap::new();
    for n in nodes {
        if let Some(p) = n.parent_code.as_deref() {
            children.entry(p).or_default().push(n);
        }
    }
    for parent in nodes {
        let Some(kids) = children.get(parent.code.as_str()) else {
            continue;
        };
        let mut shapes = Vec::new();
        for kid in kids {
            match shape(kid) {
                Some(Ok(p)) => shapes.push((kid.code.clone(), p)),
                Some(Err(why)) => findings.push(DivisionFinding::new(
                    &parent.code,
                    Finding {
                        kind: FindingKind::InvalidShape(why),
                        cell: Some(kid.code.clone()),
                        area_m2: 0.0,
                        at: geo_grid::Coord { x: 0.0, y: 0.0 },
                    },
                )),
                None => {}
            }
        }
        match shape(parent) {
            Some(Ok(p)) => findings.extend(
                check_children(&p, &shapes, tolerance_m2)
                    .into_iter()
                    .map(|f| DivisionFinding::new(&parent.code, f)),
            ),
            Some(Err(why)) => findings.push(DivisionFinding::new(
                parent.parent_code.as_deref().unwrap_or(""),
                Finding {
                    kind: FindingKind::InvalidShape(why),
                    cell: Some(parent.code.clone()),
                    area_m2: 0.0,
                    at: geo_grid::Coord { x: 0.0, y: 0.0 },
                },
            )),
            None => {}
        }
    }
    findings
}

/// A printable contact card of one micro-grid: where it is and who serves it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ContactCard {
    pub code: String,
    pub name: String,
    pub grid: Option<NodeRef>,
    pub community: Option<NodeRef>,
    /// Who serves the micro-grid itself (its micro-grid worker; building heads are on the roster).
    pub workers: Vec<StaffView>,
    /// The full-time grid worker(s) of its general grid.
    pub grid_workers: Vec<StaffView>,
}

impl App {
    /// The contact cards of every micro-grid inside `scope`.
    pub async fn contact_cards(&self, ctx: &Ctx, scope: &str) -> Result<Vec<ContactCard>> {
        let scope = parse_scope("scope", scope)?;
        self.require(
            ctx,
            Permission::ReadGrid,
            &scope,
            &format!("contact cards of {scope}"),
        )
        .await?;
        // Staff of the general grids above the scope count too, so widen to the community.
        let community = scope
            .as_str()
            .get(..Level::Community.code_len())
            .unwrap_or(scope.as_str())
            .to_owned();
        let mut tx = self.store.read().await?;
        let nodes = tx.grid_nodes_in_scope(scope.as_str()).await?;
        let staff: Vec<StaffView> = tx
            .staff_in_scope_roster(&community, None, 0, i64::MAX)
            .await?
            .into_iter()
            .map(StaffView::from)
            .collect();
        let names: HashMap<String, String> = tx.grid_node_names().await?.into_iter().collect();
        let node = |code: &str| {
            names.get(code).map(|name| NodeRef {
                code: code.to_owned(),
                name: name.clone(),
            })
        };
        Ok(nodes
            .into_iter()
            .filter(|n| n.level == Level::MicroGrid.as_str())
            .map(|n| {
                let grid_code = n.code[..Level::Grid.code_len()].to_owned();
                ContactCard {
                    workers: staff
                        .iter()
                        .filter(|s| s.node == n.code && s.duty != "building_head")
                        .cloned()
                        .collect(),
                    grid_workers: staff
                        .iter()
                        .filter(|s| s.node == grid_code && s.duty == "grid_worker")
                        .cloned()
                        .collect(),
                    grid: node(&grid_code),
                    community: node(&n.code[..Level::Community.code_len()]),
                    code: n.code,
                    name: n.name,
                }
            })
            .collect())
    }
}
