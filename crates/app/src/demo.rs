//! The demo street: 温江区 (its real boundary) → 柳城街道 → its 19 real communities, each divided
//! into general grids and micro-grids that tessellate a plausible area inside the district, and
//! a staff account for every role with a printed demo password. Deterministic (seeded) and
//! idempotent: running it again resets the demo passwords, unlocks the demo accounts, and adds or
//! changes nothing else.

use crate::secret::hash_password;
use crate::{App, AppError, Result, now};
use domain::{GridKind, Level, Role};
use geo_grid::{Coord, Lattice, Polygon, Rng, parse_polygon, polygon_to_geojson};
use store::{GridNodeInput, NewAccount};

const COMMUNITIES: &str = include_str!("../data/liucheng-communities.csv");
const WENJIANG: &str = include_str!("../data/wenjiang.geojson");

/// The demo street's rectangle, inside Wenjiang's real boundary around its old town.
const STREET_MIN: Coord = Coord {
    x: 103.80,
    y: 30.66,
};
const STREET_MAX: Coord = Coord {
    x: 103.87,
    y: 30.71,
};
const SEED: u64 = 20_260_701;
/// Communities sit in slots of 6 × 4 micro-grid cells, 5 slots a row, 4 rows; the last community
/// takes the last two slots. Each slot holds 3 general grids of 2 × 4 micro-grids.
const SLOT_COLS: usize = 6;
const SLOT_ROWS: usize = 4;
const SLOTS_PER_ROW: usize = 5;
const SLOT_ROWS_COUNT: usize = 4;
const GRID_COLS: usize = 2;

/// One node of the demo map.
#[derive(Debug, Clone)]
pub struct DemoNode {
    pub code: String,
    pub name: String,
    pub level: Level,
    pub kind: Option<GridKind>,
    pub polygon: Option<Polygon>,
}

/// The demo street's map: district, street, communities, general grids, micro-grids.
pub fn demo_map() -> Vec<DemoNode> {
    let mut rng = Rng::new(SEED);
    let cols = SLOT_COLS * SLOTS_PER_ROW;
    let rows = SLOT_ROWS * SLOT_ROWS_COUNT;
    let lattice = Lattice::jittered(STREET_MIN, STREET_MAX, cols, rows, 0.25, &mut rng);
    let district = serde_json::from_str(WENJIANG)
        .ok()
        .and_then(|v| parse_polygon(&v).ok());
    let mut nodes = vec![
        DemoNode {
            code: DISTRICT.0.into(),
            name: DISTRICT.1.into(),
            level: Level::District,
            kind: None,
            polygon: district,
        },
        DemoNode {
            code: STREET.0.into(),
            name: STREET.1.into(),
            level: Level::Street,
            kind: None,
            polygon: Some(lattice.block(0, 0, cols, rows)),
        },
    ];
    let communities: Vec<(&str, &str)> = communities().collect();
    for (i, (code, name)) in communities.iter().enumerate() {
        // Slots are numbered west to east, north to south; the last community takes two.
        let (slot_row, slot_col) = (i / SLOTS_PER_ROW, i % SLOTS_PER_ROW);
        let width = if i + 1 == communities.len() {
            SLOTS_PER_ROW - slot_col
        } else {
            1
        };
        let c0 = slot_col * SLOT_COLS;
        let c1 = c0 + width * SLOT_COLS;
        let r1 = rows - slot_row * SLOT_ROWS;
        let r0 = r1 - SLOT_ROWS;
        nodes.push(DemoNode {
            code: (*code).into(),
            name: (*name).into(),
            level: Level::Community,
            kind: None,
            polygon: Some(lattice.block(c0, r0, c1, r1)),
        });
        for (g, gc0) in (c0..c1).step_by(GRID_COLS).enumerate() {
            let grid_code = format!("{code}{:03}", g + 1);
            nodes.push(DemoNode {
                code: grid_code.clone(),
                name: format!("{name}第{}网格", g + 1),
                level: Level::Grid,
                kind: None,
                polygon: Some(lattice.block(gc0, r0, gc0 + GRID_COLS, r1)),
            });
            let mut m = 0;
            for r in (r0..r1).rev() {
                for c in gc0..gc0 + GRID_COLS {
                    m += 1;
                    let kind = match rng.below(0, 20) {
                        0..=9 => GridKind::Compound,
                        10..=14 => GridKind::Geographic,
                        15..=17 => GridKind::Unit,
                        _ => GridKind::WorkUnit,
                    };
                    nodes.push(DemoNode {
                        code: format!("{grid_code}{m:03}"),
                        name: format!("{name}{}-{m}号微网格", g + 1),
                        level: Level::MicroGrid,
                        kind: Some(kind),
                        polygon: Some(lattice.cell(c, r)),
                    });
                }
            }
        }
    }
    nodes
}

pub const DISTRICT: (&str, &str) = ("510115", "温江区");
pub const STREET: (&str, &str) = ("510115001", "柳城街道");
/// 和平社区, where the demo's community-level accounts work.
pub const COMMUNITY: &str = "510115001001";
/// 和平社区第1网格, the demo grid worker's general grid.
pub const GRID: &str = "510115001001001";
/// 和平社区1-1号微网格, the demo micro-grid worker's micro-grid.
pub const MICRO_GRID: &str = "510115001001001001";
pub const DEMO_PASSWORD: &str = "Weige@2026";

/// One demo account, as printed at start.
#[derive(Debug, Clone)]
pub struct DemoAccount {
    pub username: &'static str,
    pub display_name: &'static str,
    pub role: Role,
    pub scope: &'static str,
}

pub const DEMO_ACCOUNTS: &[DemoAccount] = &[
    DemoAccount {
        username: "admin",
        display_name: "街道管理员 李明",
        role: Role::StreetAdmin,
        scope: STREET.0,
    },
    DemoAccount {
        username: "sysadmin",
        display_name: "系统管理员 王强",
        role: Role::SystemAdmin,
        scope: STREET.0,
    },
    DemoAccount {
        username: "secadmin",
        display_name: "安全管理员 赵敏",
        role: Role::SecurityAdmin,
        scope: STREET.0,
    },
    DemoAccount {
        username: "auditor",
        display_name: "审计管理员 陈静",
        role: Role::AuditAdmin,
        scope: STREET.0,
    },
    DemoAccount {
        username: "community",
        display_name: "社区工作人员 刘芳",
        role: Role::CommunityStaff,
        scope: COMMUNITY,
    },
    DemoAccount {
        username: "head",
        display_name: "网格长 张伟",
        role: Role::GridHead,
        scope: COMMUNITY,
    },
    DemoAccount {
        username: "grid",
        display_name: "专职网格员 杨洋",
        role: Role::GridWorker,
        scope: GRID,
    },
    DemoAccount {
        username: "micro",
        display_name: "微网格员 黄秀英",
        role: Role::MicroGridWorker,
        scope: MICRO_GRID,
    },
    DemoAccount {
        username: "dept",
        display_name: "城管处置人员 周杰",
        role: Role::DepartmentHandler,
        scope: STREET.0,
    },
    DemoAccount {
        username: "partner",
        display_name: "物业 吴桂兰",
        role: Role::Partner,
        scope: COMMUNITY,
    },
    DemoAccount {
        username: "volunteer",
        display_name: "志愿者 徐磊",
        role: Role::Volunteer,
        scope: COMMUNITY,
    },
];

/// The communities of the demo street: (code, name).
pub fn communities() -> impl Iterator<Item = (&'static str, &'static str)> {
    COMMUNITIES.lines().skip(1).filter_map(|line| {
        let mut fields = line.split(',');
        let code = fields.next()?.trim();
        let name = fields.next()?.trim();
        Some((code, name.strip_suffix("居委会").unwrap_or(name)))
    })
}

impl App {
    /// Builds (or refreshes) the demo street in one transaction.
    pub async fn seed_demo(&self) -> Result<&'static [DemoAccount]> {
        let now = now();
        let hash = hash_password(DEMO_PASSWORD.to_owned()).await?;
        let map = demo_map();
        let mut tx = self.store.write().await?;
        let mut ids = std::collections::HashMap::new();
        for n in &map {
            let geometry = n
                .polygon
                .as_ref()
                .map(|p| polygon_to_geojson(p).to_string());
            let parent = domain::GridCode::parse(&n.code)
                .ok()
                .and_then(|c| c.parent())
                .and_then(|p| ids.get(p.as_str()).copied());
            let input = GridNodeInput {
                code: &n.code,
                name: &n.name,
                level: n.level.as_str(),
                kind: n.kind.map(GridKind::as_str),
                geometry: geometry.as_deref(),
                parent_id: parent,
            };
            let (id, _) = tx.upsert_grid_node(&input, None, now).await?;
            ids.insert(n.code.as_str(), id);
        }
        for a in DEMO_ACCOUNTS {
            let scope = tx
                .grid_node_by_code(a.scope)
                .await?
                .ok_or(AppError::NotFound("grid node"))?;
            let id = match tx.account_by_username(a.username).await? {
                Some(existing) => {
                    tx.set_password_hash(existing.id, &hash, now).await?;
                    tx.set_account_disabled(existing.id, false, now).await?;
                    existing.id
                }
                None => {
                    tx.insert_account(&NewAccount {
                        username: a.username,
                        display_name: a.display_name,
                        password_hash: &hash,
                        home_scope_id: scope.id,
                        now,
                    })
                    .await?
                }
            };
            let held = tx.grants_of(id).await?;
            if !held
                .iter()
                .any(|g| g.role == a.role.as_str() && g.scope_code == a.scope)
            {
                tx.insert_grant(id, a.role.as_str(), scope.id, None, now)
                    .await?;
            }
        }
        tx.commit().await?;
        self.ensure_categories().await?;
        Ok(DEMO_ACCOUNTS)
    }
}
