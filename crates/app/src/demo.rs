//! The demo street: 温江区 → 柳城街道 → its 19 real communities, and a staff account for every
//! role with a printed demo password. Idempotent: running it again resets the demo passwords and
//! unlocks the demo accounts, and adds nothing twice. The grid issue extends it with grids,
//! micro-grids, buildings and households.

use crate::secret::hash_password;
use crate::{App, AppError, Result, now};
use domain::{Level, Role};
use store::NewAccount;

const COMMUNITIES: &str = include_str!("../data/liucheng-communities.csv");

pub const DISTRICT: (&str, &str) = ("510115", "温江区");
pub const STREET: (&str, &str) = ("510115001", "柳城街道");
/// 和平社区, where the demo's community-level accounts work.
pub const COMMUNITY: &str = "510115001001";
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
        scope: COMMUNITY,
    },
    DemoAccount {
        username: "micro",
        display_name: "微网格员 黄秀英",
        role: Role::MicroGridWorker,
        scope: COMMUNITY,
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
        let mut tx = self.store.write().await?;
        let district = tx
            .ensure_grid_node(DISTRICT.0, DISTRICT.1, Level::District.as_str(), None, now)
            .await?;
        let street = tx
            .ensure_grid_node(
                STREET.0,
                STREET.1,
                Level::Street.as_str(),
                Some(district),
                now,
            )
            .await?;
        for (code, name) in communities() {
            tx.ensure_grid_node(code, name, Level::Community.as_str(), Some(street), now)
                .await?;
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
        Ok(DEMO_ACCOUNTS)
    }
}
