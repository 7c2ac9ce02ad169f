//! The roster's duties: what a person does for a node of the grid, and at which level of the tree
//! that duty sits. A duty is not a role: a building head may have no account at all, and an
//! account's role says what it may do in Weige, not what its holder does on the street.

use crate::grid::Level;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Duty {
    /// 微网格员
    MicroGridWorker,
    /// 楼栋长
    BuildingHead,
    /// 单元长
    UnitHead,
    /// 专职网格员
    GridWorker,
    /// 兼职网格员
    PartTimeGridWorker,
    /// 网格长
    GridHead,
    /// 总网格长（社区）
    GeneralGridHead,
    /// 网格指导员（街道干部下沉）
    GridInstructor,
    /// 社区民警
    CommunityPolice,
    /// 物业人员
    PropertyStaff,
    /// 志愿者
    Volunteer,
}

impl Duty {
    pub const ALL: [Duty; 11] = [
        Duty::MicroGridWorker,
        Duty::BuildingHead,
        Duty::UnitHead,
        Duty::GridWorker,
        Duty::PartTimeGridWorker,
        Duty::GridHead,
        Duty::GeneralGridHead,
        Duty::GridInstructor,
        Duty::CommunityPolice,
        Duty::PropertyStaff,
        Duty::Volunteer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Duty::MicroGridWorker => "micro_grid_worker",
            Duty::BuildingHead => "building_head",
            Duty::UnitHead => "unit_head",
            Duty::GridWorker => "grid_worker",
            Duty::PartTimeGridWorker => "part_time_grid_worker",
            Duty::GridHead => "grid_head",
            Duty::GeneralGridHead => "general_grid_head",
            Duty::GridInstructor => "grid_instructor",
            Duty::CommunityPolice => "community_police",
            Duty::PropertyStaff => "property_staff",
            Duty::Volunteer => "volunteer",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Duty::MicroGridWorker => "微网格员",
            Duty::BuildingHead => "楼栋长",
            Duty::UnitHead => "单元长",
            Duty::GridWorker => "专职网格员",
            Duty::PartTimeGridWorker => "兼职网格员",
            Duty::GridHead => "网格长",
            Duty::GeneralGridHead => "总网格长",
            Duty::GridInstructor => "网格指导员",
            Duty::CommunityPolice => "社区民警",
            Duty::PropertyStaff => "物业人员",
            Duty::Volunteer => "志愿者",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Duty::MicroGridWorker => "Micro-grid worker",
            Duty::BuildingHead => "Building head",
            Duty::UnitHead => "Unit head",
            Duty::GridWorker => "Full-time grid worker",
            Duty::PartTimeGridWorker => "Part-time grid worker",
            Duty::GridHead => "Grid head",
            Duty::GeneralGridHead => "General grid head",
            Duty::GridInstructor => "Grid instructor",
            Duty::CommunityPolice => "Community police officer",
            Duty::PropertyStaff => "Property staff",
            Duty::Volunteer => "Volunteer",
        }
    }

    /// By code (`building_head`) or by Chinese label (`楼栋长`).
    pub fn parse(s: &str) -> Option<Duty> {
        Duty::ALL
            .into_iter()
            .find(|d| d.as_str() == s || d.label_zh() == s)
    }

    /// The level of the tree this duty serves, or `None` when it may serve any node.
    pub fn level(self) -> Option<Level> {
        match self {
            Duty::MicroGridWorker | Duty::BuildingHead | Duty::UnitHead => Some(Level::MicroGrid),
            Duty::GridWorker | Duty::PartTimeGridWorker | Duty::GridHead => Some(Level::Grid),
            Duty::GeneralGridHead | Duty::GridInstructor | Duty::CommunityPolice => {
                Some(Level::Community)
            }
            Duty::PropertyStaff | Duty::Volunteer => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_duty_parses_from_its_code_and_its_label() {
        for d in Duty::ALL {
            assert_eq!(Duty::parse(d.as_str()), Some(d));
            assert_eq!(Duty::parse(d.label_zh()), Some(d));
        }
        assert_eq!(Duty::parse("网格员"), None);
        assert_eq!(Duty::BuildingHead.level(), Some(Level::MicroGrid));
    }
}
