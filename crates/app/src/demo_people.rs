//! The demo street's people: buildings in every micro-grid, 30–60 households in each, and their
//! residents with plausible Chinese names, synthetic ID numbers with valid check digits, phones,
//! residence types and key-population tags. Seeded, so every run makes the same street.

use crate::{App, AppError, Result, now};
use domain::person::id_check_char;
use domain::{CareGrade, IdNumber, Phone, ResidenceType};
use geo_grid::Rng;
use std::collections::HashSet;
use store::{NewBuilding, NewResident};

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
    "肖", "田", "董", "袁", "潘", "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁", "任",
    "沈", "姚", "卢", "钟", "谭", "陆", "汪", "范", "廖", "贾", "夏", "付", "邹", "熊", "秦", "邱",
    "江", "雷",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟",
    "涛", "明", "超", "秀兰", "霞", "平", "刚", "桂英", "建华", "文", "华", "玉兰", "红", "建国",
    "志强", "晓燕", "婷", "欣怡", "子涵", "浩然", "宇轩", "梓萱", "俊杰", "雨桐", "思远", "国庆",
    "淑芬", "德明", "春梅", "小龙", "佳怡", "天佑", "一鸣", "若曦", "诗涵",
];
const ROADS: &[&str] = &[
    "柳城大道",
    "凤溪大道",
    "光华大道三段",
    "江安路",
    "德通桥路",
    "文庙街",
    "东大街",
    "南街",
    "西街",
    "北街",
    "杨柳东路",
    "杨柳西路",
    "万春东路",
    "公平街",
    "学府路",
    "锦绣大道",
    "鱼凫路",
    "永宁路",
    "金马河路",
    "人和路",
];
const COMPOUNDS: &[&str] = &[
    "和平小区",
    "金河湾",
    "凤凰城",
    "柳城印象",
    "南熏苑",
    "学府花园",
    "锦江华庭",
    "杨柳郡",
    "江安家园",
    "德通苑",
    "文庙院落",
    "光华逸家",
    "鱼凫新村",
    "万春嘉园",
    "金色年华",
    "公平花园",
    "阳光城",
    "翠柳苑",
    "清水湾",
    "银杏苑",
];
/// Where floating residents come from (GB/T 2260 county codes).
const OTHER_REGIONS: &[&str] = &[
    "510104", "510107", "511302", "511702", "500101", "510502", "513401", "520102", "430102",
    "610113",
];

/// Where the `b`th building of a micro-grid stands and its outline (about 30 m × 12 m): part of
/// the way from the cell's middle towards one of its corners, wholly inside the cell.
fn building_place(cell: Option<&geo::Polygon>, b: usize) -> (f64, f64, Option<String>) {
    use geo::Contains;
    let Some(cell) = cell else {
        return (0.0, 0.0, None);
    };
    let ring = &cell.exterior().0;
    let n = (ring.len() - 1).max(1);
    let (cx, cy) = (
        ring.iter().skip(1).map(|c| c.x).sum::<f64>() / n as f64,
        ring.iter().skip(1).map(|c| c.y).sum::<f64>() / n as f64,
    );
    let corner = ring[(b * 2 + 1) % n];
    let (x, y) = (cx + (corner.x - cx) * 0.3, cy + (corner.y - cy) * 0.3);
    let (dx, dy) = (0.000_15, 0.000_055);
    let outline = geo::Polygon::new(
        geo::LineString::from(vec![
            (x - dx, y - dy),
            (x + dx, y - dy),
            (x + dx, y + dy),
            (x - dx, y + dy),
            (x - dx, y - dy),
        ]),
        vec![],
    );
    if cell.contains(&outline) {
        (
            x,
            y,
            Some(geo_grid::polygon_to_geojson(&outline).to_string()),
        )
    } else {
        (cx, cy, None)
    }
}

/// How much of the demo street to fill with people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoSize {
    /// Every micro-grid: about 24,000 households.
    Full,
    /// Only 和平社区's first general grid (8 micro-grids): for tests.
    Small,
}

struct People {
    rng: Rng,
    ids: HashSet<String>,
}

impl People {
    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.rng.below(0, list.len() as u64) as usize]
    }

    fn name(&mut self, surname: &str) -> String {
        format!("{surname}{}", self.pick(GIVEN))
    }

    /// A synthetic ID number, unique in this run, with a valid check digit.
    fn id_number(&mut self, region: &str, year: u32, gender: i64) -> IdNumber {
        loop {
            let month = self.rng.below(1, 13) as u32;
            let day = self.rng.below(1, 29) as u32;
            let seq = self.rng.below(0, 500) as u32 * 2 + u32::from(gender == 1);
            let first17 = format!("{region}{year:04}{month:02}{day:02}{seq:03}");
            let check = id_check_char(first17.as_bytes()) as char;
            let s = format!("{first17}{check}");
            if self.ids.insert(s.clone())
                && let Ok(id) = IdNumber::parse(&s)
            {
                return id;
            }
        }
    }

    fn phone(&mut self) -> Phone {
        let prefix = self.pick(&[
            "135", "136", "138", "139", "150", "152", "158", "166", "177", "180", "186", "189",
            "199",
        ]);
        let rest = self.rng.below(0, 100_000_000);
        Phone::parse(&format!("{prefix}{rest:08}"))
            .unwrap_or_else(|_| Phone::parse("13800000000").expect("a valid phone"))
    }
}

impl App {
    /// Fills the demo street's micro-grids with buildings, households and residents, unless they
    /// already have people. Returns how many households were added.
    pub async fn seed_demo_people(&self, size: DemoSize) -> Result<usize> {
        let cipher = self
            .cipher
            .clone()
            .ok_or_else(|| AppError::Internal("no data key is configured".into()))?;
        let scope = match size {
            DemoSize::Full => crate::demo::STREET.0,
            DemoSize::Small => crate::demo::GRID,
        };
        let micro_grids = {
            let mut tx = self.store.read().await?;
            if !tx.household_counts(scope).await?.is_empty() {
                return Ok(0);
            }
            let mut nodes = tx.grid_nodes_in_scope(scope).await?;
            nodes.retain(|n| n.level == domain::Level::MicroGrid.as_str());
            nodes
        };
        let now = now();
        let mut people = People {
            rng: Rng::new(20_260_702),
            ids: HashSet::new(),
        };
        let this_year = 2026u32;
        let mut households = 0;
        let mut tx = self.store.write().await?;
        for (m, micro) in micro_grids.iter().enumerate() {
            let polygon = micro
                .geometry
                .as_deref()
                .and_then(|g| serde_json::from_str::<serde_json::Value>(g).ok())
                .and_then(|g| geo_grid::parse_polygon(&g).ok());
            let road = ROADS[m % ROADS.len()];
            let compound = COMPOUNDS[(m / 3) % COMPOUNDS.len()];
            // 38–62 households: every micro-grid within 30–100, every grid of 8 within 300–500.
            let target = people.rng.below(38, 63) as usize;
            let buildings = people.rng.below(1, 4) as usize;
            let mut made = 0;
            let mut first_building = None;
            for b in 0..buildings {
                let (lon, lat, footprint) = building_place(polygon.as_ref(), b);
                let name = format!("{}栋", m % 40 * 3 + b + 1);
                let number = format!("{}号", m / 40 * 10 + 8);
                let building = tx
                    .insert_building(&NewBuilding {
                        micro_grid_id: micro.id,
                        scope_code: &micro.code,
                        road,
                        house_number: &number,
                        compound,
                        name: &name,
                        lon: Some(lon),
                        lat: Some(lat),
                        footprint: footprint.as_deref(),
                        now,
                    })
                    .await?;
                first_building.get_or_insert(building);
                let share = if b + 1 == buildings {
                    target - made
                } else {
                    target / buildings
                };
                for h in 0..share {
                    let unit = format!("{}单元", h % 2 + 1);
                    let room = format!("{}{:02}", h / 4 + 1, h % 4 + 1);
                    let household = tx
                        .insert_household(building, &micro.code, &unit, &room, now)
                        .await?;
                    self.seed_household(
                        &mut tx,
                        &mut people,
                        &cipher,
                        household,
                        &micro.code,
                        this_year,
                        now,
                    )
                    .await?;
                    made += 1;
                    households += 1;
                }
            }
        }
        self.seed_demo_roster(&mut tx, &mut people, scope, now)
            .await?;
        tx.commit().await?;
        Ok(households)
    }

    /// The roster of the seeded scope: a general grid head and a police officer per community, a
    /// full-time grid worker and a grid head per general grid, a micro-grid worker and a building
    /// head per micro-grid. The demo accounts are the people they name.
    async fn seed_demo_roster(
        &self,
        tx: &mut store::Tx,
        people: &mut People,
        scope: &str,
        now: domain::Millis,
    ) -> Result<()> {
        use crate::demo::{COMMUNITY, GRID, MICRO_GRID};
        use domain::{Duty, Level};
        let nodes = tx.grid_nodes_in_scope(scope).await?;
        let mut buildings = std::collections::HashMap::new();
        let mut after = 0;
        loop {
            let page = tx.buildings_in_scope(scope, after, 5_000).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            for b in page {
                buildings.entry(b.scope_code).or_insert(b.id);
            }
        }
        let account = |username: &str| username.to_owned();
        for node in &nodes {
            let duties: &[Duty] = match Level::from_code_len(node.code.len()) {
                Some(Level::Community) => &[Duty::GeneralGridHead, Duty::CommunityPolice],
                Some(Level::Grid) => &[Duty::GridWorker, Duty::GridHead],
                Some(Level::MicroGrid) => &[Duty::MicroGridWorker, Duty::BuildingHead],
                _ => &[],
            };
            for &duty in duties {
                let demo = match (node.code.as_str(), duty) {
                    (MICRO_GRID, Duty::MicroGridWorker) => Some(("黄秀英", account("micro"))),
                    (GRID, Duty::GridWorker) => Some(("杨洋", account("grid"))),
                    (COMMUNITY, Duty::GeneralGridHead) => Some(("张伟", account("head"))),
                    _ => None,
                };
                let surname = people.pick(SURNAMES);
                let name = match &demo {
                    Some((name, _)) => (*name).to_owned(),
                    None => people.name(surname),
                };
                let account_id = match &demo {
                    Some((_, username)) => tx.account_by_username(username).await?.map(|a| a.id),
                    None => None,
                };
                let phone = people.phone();
                let since = format!(
                    "{}-{:02}-01",
                    people.rng.below(2016, 2026),
                    people.rng.below(1, 13)
                );
                let training = people.pick(&[
                    "网格员岗前培训",
                    "网格员岗前培训；矛盾纠纷调解",
                    "应急处置与安全隐患排查",
                    "",
                ]);
                let building_id = match duty {
                    Duty::BuildingHead => buildings.get(&node.code).copied(),
                    _ => None,
                };
                tx.insert_staff(&store::NewStaff {
                    node_id: node.id,
                    scope_code: &node.code,
                    duty: duty.as_str(),
                    name: &name,
                    phone: Some(phone.as_str()),
                    party_member: people.rng.below(0, 10) < 4,
                    since: Some(&since),
                    training,
                    building_id,
                    account_id,
                    now,
                })
                .await?;
            }
        }
        // People serving the community as a whole.
        if let Some(community) = nodes.iter().find(|n| n.code == COMMUNITY) {
            for (duty, name, username) in [
                (Duty::PropertyStaff, "吴桂兰", "partner"),
                (Duty::Volunteer, "徐磊", "volunteer"),
            ] {
                let account_id = tx.account_by_username(username).await?.map(|a| a.id);
                let phone = people.phone();
                tx.insert_staff(&store::NewStaff {
                    node_id: community.id,
                    scope_code: &community.code,
                    duty: duty.as_str(),
                    name,
                    phone: Some(phone.as_str()),
                    party_member: false,
                    since: Some("2023-05-01"),
                    training: "",
                    building_id: None,
                    account_id,
                    now,
                })
                .await?;
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn seed_household(
        &self,
        tx: &mut store::Tx,
        people: &mut People,
        cipher: &store::FieldCipher,
        household: i64,
        micro_grid: &str,
        this_year: u32,
        now: domain::Millis,
    ) -> Result<()> {
        let floating = people.rng.below(0, 10) < 2;
        let region = if floating {
            people.pick(OTHER_REGIONS)
        } else {
            "510115"
        };
        let residence = if floating {
            if people.rng.below(0, 2) == 0 {
                ResidenceType::Tenant
            } else {
                ResidenceType::Floating
            }
        } else if people.rng.below(0, 10) < 7 {
            ResidenceType::Registered
        } else {
            ResidenceType::Resident
        };
        let surname = people.pick(SURNAMES);
        let size = match people.rng.below(0, 20) {
            0..=3 => 1,
            4..=9 => 2,
            10..=15 => 3,
            _ => 4,
        };
        let head_age = if size == 1 {
            people.rng.below(60, 92) as u32
        } else {
            people.rng.below(28, 80) as u32
        };
        for member in 0..size {
            let (relation, age, gender, own_surname) = match member {
                0 => ("户主", head_age, people.rng.below(1, 3) as i64, surname),
                1 => (
                    "配偶",
                    head_age
                        .saturating_sub(people.rng.below(0, 5) as u32)
                        .max(20),
                    0,
                    people.pick(SURNAMES),
                ),
                _ => (
                    "子女",
                    head_age
                        .saturating_sub(people.rng.below(22, 35) as u32)
                        .min(40),
                    people.rng.below(1, 3) as i64,
                    surname,
                ),
            };
            let gender = if gender == 0 {
                3 - people.rng.below(1, 3) as i64
            } else {
                gender
            };
            let year = this_year - age.min(100);
            let id = people.id_number(region, year, gender);
            let phone = (age >= 16 && people.rng.below(0, 10) < 9).then(|| people.phone());
            let mut tags: Vec<&str> = Vec::new();
            let mut grade = None;
            if size == 1 && age >= 70 {
                tags.push("living_alone_elderly");
                grade = Some(if age >= 85 {
                    CareGrade::Red
                } else {
                    CareGrade::Yellow
                });
            } else if age >= 80 {
                tags.push("oldest_old");
                grade = Some(CareGrade::Blue);
            }
            if age < 16 && people.rng.below(0, 10) == 0 {
                tags.push("left_behind_child");
                grade = Some(CareGrade::Yellow);
            }
            if people.rng.below(0, 40) == 0 {
                tags.push("disabled");
                grade = grade.or(Some(CareGrade::Blue));
            }
            if people.rng.below(0, 60) == 0 {
                tags.push("minimum_living");
                grade = Some(CareGrade::Red);
            }
            let name = people.name(own_surname);
            let birth = id.birth_date();
            tx.insert_resident(
                &NewResident {
                    household_id: household,
                    scope_code: micro_grid,
                    name: &name,
                    gender,
                    birth_date: Some(&birth),
                    relation,
                    residence_type: residence.as_str(),
                    care_grade: grade.map(CareGrade::as_str),
                    id_number: Some(&id),
                    phone: phone.as_ref(),
                    tags: &tags,
                    now,
                },
                cipher,
            )
            .await?;
        }
        Ok(())
    }
}
