//! Grid codes and levels. A code extends the administrative code of GB/T 2260: district 6 digits,
//! street 9, community 12, general grid 15, micro-grid 18. Because each code begins with its
//! parent's, "node A lies inside scope S" is "A's code starts with S's code".

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// 区
    District,
    /// 街道
    Street,
    /// 社区（总网格）
    Community,
    /// 一般网格
    Grid,
    /// 微网格
    MicroGrid,
}

impl Level {
    pub const ALL: [Level; 5] = [
        Level::District,
        Level::Street,
        Level::Community,
        Level::Grid,
        Level::MicroGrid,
    ];

    pub fn code_len(self) -> usize {
        match self {
            Level::District => 6,
            Level::Street => 9,
            Level::Community => 12,
            Level::Grid => 15,
            Level::MicroGrid => 18,
        }
    }

    pub fn from_code_len(len: usize) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.code_len() == len)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::District => "district",
            Level::Street => "street",
            Level::Community => "community",
            Level::Grid => "grid",
            Level::MicroGrid => "micro_grid",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Level::District => "区",
            Level::Street => "街道",
            Level::Community => "社区",
            Level::Grid => "网格",
            Level::MicroGrid => "微网格",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GridCodeError {
    #[error("a grid code is digits only")]
    NotDigits,
    #[error("a grid code has 6, 9, 12, 15 or 18 digits, not {0}")]
    BadLength(usize),
}

/// A validated grid code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GridCode(String);

impl GridCode {
    pub fn parse(s: &str) -> Result<GridCode, GridCodeError> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(GridCodeError::NotDigits);
        }
        Level::from_code_len(s.len()).ok_or(GridCodeError::BadLength(s.len()))?;
        Ok(GridCode(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn level(&self) -> Level {
        Level::from_code_len(self.0.len()).unwrap_or(Level::MicroGrid)
    }

    /// The code of the parent node, `None` for a district.
    pub fn parent(&self) -> Option<GridCode> {
        let len = self.0.len().checked_sub(3)?;
        (len >= 6).then(|| GridCode(self.0[..len].to_owned()))
    }

    /// Whether `other` is this node or lies below it.
    pub fn contains(&self, other: &GridCode) -> bool {
        other.0.starts_with(&self.0)
    }
}

impl fmt::Display for GridCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for GridCode {
    type Error = GridCodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        GridCode::parse(&s)
    }
}

impl From<GridCode> for String {
    fn from(c: GridCode) -> String {
        c.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn codes_of_each_level_parse_and_know_their_parent() {
        let micro = GridCode::parse("510115001001002003").unwrap();
        assert_eq!(micro.level(), Level::MicroGrid);
        let chain: Vec<String> = std::iter::successors(Some(micro), |c| c.parent())
            .map(|c| c.to_string())
            .collect();
        assert_eq!(
            chain,
            [
                "510115001001002003",
                "510115001001002",
                "510115001001",
                "510115001",
                "510115"
            ]
        );
    }

    #[test]
    fn bad_codes_are_refused() {
        assert_eq!(
            GridCode::parse("51011500100"),
            Err(GridCodeError::BadLength(11))
        );
        assert_eq!(GridCode::parse("51011a"), Err(GridCodeError::NotDigits));
        assert_eq!(GridCode::parse(""), Err(GridCodeError::NotDigits));
    }

    fn code() -> impl Strategy<Value = GridCode> {
        (0usize..5, "[0-9]{18}")
            .prop_map(|(i, digits)| GridCode::parse(&digits[..Level::ALL[i].code_len()]).unwrap())
    }

    proptest! {
        #[test]
        fn a_scope_contains_exactly_its_descendants(a in code(), b in code()) {
            let ancestors: Vec<GridCode> = std::iter::successors(Some(b.clone()), |c| c.parent()).collect();
            prop_assert_eq!(a.contains(&b), ancestors.contains(&a));
        }
    }
}

/// What a grid is drawn around (微网格类型), and the dedicated grids run by their own body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GridKind {
    /// 地缘型: a patch of streets.
    Geographic,
    /// 小区型: a residential compound.
    Compound,
    /// 单元型: building units.
    Unit,
    /// 单位型: a work unit.
    WorkUnit,
    /// 专属: a business park, hospital or school with its own managing body.
    Dedicated,
}

impl GridKind {
    pub const ALL: [GridKind; 5] = [
        GridKind::Geographic,
        GridKind::Compound,
        GridKind::Unit,
        GridKind::WorkUnit,
        GridKind::Dedicated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GridKind::Geographic => "geographic",
            GridKind::Compound => "compound",
            GridKind::Unit => "unit",
            GridKind::WorkUnit => "work_unit",
            GridKind::Dedicated => "dedicated",
        }
    }

    pub fn parse(s: &str) -> Option<GridKind> {
        GridKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            GridKind::Geographic => "地缘型",
            GridKind::Compound => "小区型",
            GridKind::Unit => "单元型",
            GridKind::WorkUnit => "单位型",
            GridKind::Dedicated => "专属网格",
        }
    }
}
