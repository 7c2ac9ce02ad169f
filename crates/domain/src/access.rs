//! Who may do what, where. A role carries a fixed set of permissions; an account holds grants,
//! each a role on a scope (a node of the grid tree). A permission is granted on a target node when
//! some grant's role has it and the grant's scope contains the node.

use crate::grid::GridCode;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 微网格员 / 楼栋长 / 单元长
    MicroGridWorker,
    /// 专职网格员
    GridWorker,
    /// 网格长 / 总网格长
    GridHead,
    /// 社区工作人员
    CommunityStaff,
    /// 街道管理员
    StreetAdmin,
    /// 部门处置人员
    DepartmentHandler,
    /// 资源方（物业、社会组织、社工机构、商家）
    Partner,
    /// 志愿者
    Volunteer,
    /// 系统管理员
    SystemAdmin,
    /// 安全管理员
    SecurityAdmin,
    /// 审计管理员
    AuditAdmin,
}

/// What a role may do. The cases, care and evaluation issues add theirs here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Open the workspace: home page, own account.
    UseWorkspace,
    /// Read the grid tree inside the scope.
    ReadGrid,
    /// Create, disable and reset accounts, grant and revoke roles (安全管理员).
    ManageAccounts,
    /// Create and revoke API keys for integrations (安全管理员).
    ManageApiKeys,
    /// Read the audit log (审计管理员).
    ReadAudit,
    /// Read and change system settings (系统管理员).
    ConfigureSystem,
    /// Draw and import the grid map inside the scope.
    EditGrid,
    /// Read the registry inside the scope: households and residents, sensitive fields masked.
    ReadRegistry,
    /// Correct and erase residents' records.
    EditRegistry,
    /// See a resident's full ID number or phone; each reveal is audited.
    RevealPersonal,
    /// Export personal data; each export is audited.
    ExportPersonal,
    /// Keep the roster of the nodes inside the scope: who serves where, since when.
    ManageRoster,
    /// Edit the street's lists: the key-population tags and the case categories.
    ConfigureCatalog,
    /// Report a case found on patrol or taken by phone.
    ReportCase,
    /// Read the cases inside the scope, the reporter's contact masked.
    ReadCases,
    /// Take, handle, return, escalate the cases one holds inside the scope.
    HandleCase,
    /// Accept or reject reports, dispatch, verify and close inside the scope.
    DispatchCase,
    /// Urge (督办), decide extensions, close by force inside the scope.
    SuperviseCase,
}

impl Role {
    pub const ALL: [Role; 11] = [
        Role::MicroGridWorker,
        Role::GridWorker,
        Role::GridHead,
        Role::CommunityStaff,
        Role::StreetAdmin,
        Role::DepartmentHandler,
        Role::Partner,
        Role::Volunteer,
        Role::SystemAdmin,
        Role::SecurityAdmin,
        Role::AuditAdmin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::MicroGridWorker => "micro_grid_worker",
            Role::GridWorker => "grid_worker",
            Role::GridHead => "grid_head",
            Role::CommunityStaff => "community_staff",
            Role::StreetAdmin => "street_admin",
            Role::DepartmentHandler => "department_handler",
            Role::Partner => "partner",
            Role::Volunteer => "volunteer",
            Role::SystemAdmin => "system_admin",
            Role::SecurityAdmin => "security_admin",
            Role::AuditAdmin => "audit_admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Role::MicroGridWorker => "微网格员",
            Role::GridWorker => "专职网格员",
            Role::GridHead => "网格长",
            Role::CommunityStaff => "社区工作人员",
            Role::StreetAdmin => "街道管理员",
            Role::DepartmentHandler => "部门处置人员",
            Role::Partner => "资源方",
            Role::Volunteer => "志愿者",
            Role::SystemAdmin => "系统管理员",
            Role::SecurityAdmin => "安全管理员",
            Role::AuditAdmin => "审计管理员",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Role::MicroGridWorker => "Micro-grid worker",
            Role::GridWorker => "Grid worker",
            Role::GridHead => "Grid head",
            Role::CommunityStaff => "Community staff",
            Role::StreetAdmin => "Street admin",
            Role::DepartmentHandler => "Department handler",
            Role::Partner => "Partner",
            Role::Volunteer => "Volunteer",
            Role::SystemAdmin => "System admin",
            Role::SecurityAdmin => "Security admin",
            Role::AuditAdmin => "Audit admin",
        }
    }

    /// The three separated admin roles (三员分立): no account holds two of them.
    pub fn is_separated_admin(self) -> bool {
        matches!(
            self,
            Role::SystemAdmin | Role::SecurityAdmin | Role::AuditAdmin
        )
    }

    /// Roles an API key may act with: operational ones only, never an admin role.
    pub fn allowed_for_api_key(self) -> bool {
        !self.is_separated_admin()
    }

    pub fn permissions(self) -> &'static [Permission] {
        use Permission::*;
        match self {
            Role::SystemAdmin => &[UseWorkspace, ReadGrid, ConfigureSystem],
            Role::SecurityAdmin => &[UseWorkspace, ReadGrid, ManageAccounts, ManageApiKeys],
            Role::AuditAdmin => &[UseWorkspace, ReadGrid, ReadAudit],
            // Minimum necessary: a volunteer building head keeps their patch's list, masked.
            // Small matters never leave the micro-grid: its worker takes, handles and closes them.
            Role::MicroGridWorker => &[
                UseWorkspace,
                ReadGrid,
                ReadRegistry,
                EditRegistry,
                ReportCase,
                ReadCases,
                HandleCase,
                DispatchCase,
            ],
            Role::GridWorker => &[
                UseWorkspace,
                ReadGrid,
                ReadRegistry,
                EditRegistry,
                RevealPersonal,
                ReportCase,
                ReadCases,
                HandleCase,
                DispatchCase,
            ],
            Role::GridHead => &[
                UseWorkspace,
                ReadGrid,
                ReadRegistry,
                ReportCase,
                ReadCases,
                DispatchCase,
                SuperviseCase,
            ],
            Role::CommunityStaff => &[
                UseWorkspace,
                ReadGrid,
                ReadRegistry,
                EditRegistry,
                RevealPersonal,
                ExportPersonal,
                ManageRoster,
                ReportCase,
                ReadCases,
                HandleCase,
                DispatchCase,
                SuperviseCase,
            ],
            Role::StreetAdmin => &[
                UseWorkspace,
                ReadGrid,
                EditGrid,
                ReadRegistry,
                RevealPersonal,
                ExportPersonal,
                ManageRoster,
                ConfigureCatalog,
                ReportCase,
                ReadCases,
                DispatchCase,
                SuperviseCase,
            ],
            Role::DepartmentHandler | Role::Partner => {
                &[UseWorkspace, ReadGrid, ReportCase, ReadCases, HandleCase]
            }
            Role::Volunteer => &[UseWorkspace, ReadGrid, ReportCase],
        }
    }

    pub fn has(self, permission: Permission) -> bool {
        self.permissions().contains(&permission)
    }
}

/// A role held on a scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub role: Role,
    pub scope: GridCode,
}

/// Whether these grants allow `permission` on `target`.
pub fn allows(grants: &[Grant], permission: Permission, target: &GridCode) -> bool {
    grants
        .iter()
        .any(|g| g.role.has(permission) && g.scope.contains(target))
}

/// Whether these grants let their holder read every case of `target`, not only the cases they
/// hold or have acted on: departments, partners and volunteers are summoned to cases, they do
/// not watch a place.
pub fn reads_all_cases(grants: &[Grant], target: &GridCode) -> bool {
    grants.iter().any(|g| {
        g.role.has(Permission::ReadCases)
            && !matches!(
                g.role,
                Role::DepartmentHandler | Role::Partner | Role::Volunteer
            )
            && g.scope.contains(target)
    })
}

/// Whether these grants allow `permission` anywhere at all (for pages that list what is in scope).
pub fn allows_somewhere(grants: &[Grant], permission: Permission) -> bool {
    grants.iter().any(|g| g.role.has(permission))
}

/// The scopes in which `permission` is held, without nested duplicates.
pub fn scopes_for(grants: &[Grant], permission: Permission) -> Vec<GridCode> {
    let mut scopes: Vec<GridCode> = grants
        .iter()
        .filter(|g| g.role.has(permission))
        .map(|g| g.scope.clone())
        .collect();
    scopes.sort();
    scopes.dedup();
    let all = scopes.clone();
    scopes.retain(|s| !all.iter().any(|o| o != s && o.contains(s)));
    scopes
}

/// Why a grant may not be given. Separation of duties is a rule, not a convention.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantRefusal {
    #[error("an account may hold only one of the three admin roles (三员分立)")]
    SeparationOfDuties,
    #[error("an administrator may not grant roles to their own account")]
    SelfGrant,
}

pub fn check_grant(
    existing: &[Grant],
    new_role: Role,
    grantor_is_grantee: bool,
) -> Result<(), GrantRefusal> {
    if grantor_is_grantee {
        return Err(GrantRefusal::SelfGrant);
    }
    if new_role.is_separated_admin()
        && existing
            .iter()
            .any(|g| g.role.is_separated_admin() && g.role != new_role)
    {
        return Err(GrantRefusal::SeparationOfDuties);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn code(s: &str) -> GridCode {
        GridCode::parse(s).unwrap()
    }

    #[test]
    fn a_community_worker_reads_their_community_but_not_the_next() {
        let grants = [Grant {
            role: Role::CommunityStaff,
            scope: code("510115001001"),
        }];
        assert!(allows(
            &grants,
            Permission::ReadGrid,
            &code("510115001001003")
        ));
        assert!(!allows(
            &grants,
            Permission::ReadGrid,
            &code("510115001002")
        ));
        assert!(!allows(&grants, Permission::ReadGrid, &code("510115001")));
        assert!(!allows(
            &grants,
            Permission::ManageAccounts,
            &code("510115001001")
        ));
    }

    #[test]
    fn admins_and_outsiders_never_read_personal_data() {
        for r in [
            Role::SystemAdmin,
            Role::SecurityAdmin,
            Role::AuditAdmin,
            Role::Partner,
            Role::Volunteer,
            Role::DepartmentHandler,
        ] {
            assert!(
                !r.has(Permission::ReadRegistry) && !r.has(Permission::RevealPersonal),
                "{r:?}"
            );
        }
        assert!(!Role::MicroGridWorker.has(Permission::RevealPersonal));
        // Whoever may reveal may read.
        assert!(
            Role::ALL
                .iter()
                .all(|r| !r.has(Permission::RevealPersonal) || r.has(Permission::ReadRegistry))
        );
    }

    #[test]
    fn only_the_audit_admin_reads_the_audit_log() {
        let readers: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| r.has(Permission::ReadAudit))
            .collect();
        assert_eq!(readers, [Role::AuditAdmin]);
    }

    #[test]
    fn the_three_admin_roles_stay_separate() {
        let held = [Grant {
            role: Role::SecurityAdmin,
            scope: code("510115001"),
        }];
        assert_eq!(
            check_grant(&held, Role::AuditAdmin, false),
            Err(GrantRefusal::SeparationOfDuties)
        );
        assert_eq!(check_grant(&held, Role::SecurityAdmin, false), Ok(()));
        assert_eq!(check_grant(&held, Role::GridWorker, false), Ok(()));
        assert_eq!(
            check_grant(&[], Role::GridWorker, true),
            Err(GrantRefusal::SelfGrant)
        );
    }

    #[test]
    fn role_names_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }

    proptest! {
        #[test]
        fn nested_scopes_collapse_to_the_outermost(picks in proptest::collection::vec(0usize..4, 1..6)) {
            let codes = ["510115001", "510115001001", "510115001002", "510115001001001"];
            let grants: Vec<Grant> = picks.iter().map(|&i| Grant { role: Role::GridWorker, scope: code(codes[i]) }).collect();
            let scopes = scopes_for(&grants, Permission::ReadGrid);
            // Every granted node is covered by exactly one returned scope.
            for g in &grants {
                prop_assert_eq!(scopes.iter().filter(|s| s.contains(&g.scope)).count(), 1);
            }
        }
    }
}
