//! Division checks (科学划定网格): siblings must cover their parent with no gap and no overlap
//! larger than a tolerance, no child may reach outside its parent, and every shape must be a
//! valid polygon. Each finding says where (a point inside the problem) and how large it is.

use crate::shape::{area_m2, validate};
use geo::{BooleanOps, BoundingRect, Coord, InteriorPoint, MultiPolygon, Polygon, unary_union};

#[derive(Debug, Clone, PartialEq)]
pub enum FindingKind<K> {
    /// The shape is not a valid polygon.
    InvalidShape(String),
    /// The cell overlaps a sibling.
    Overlap { other: K },
    /// Part of the parent is covered by no child.
    Gap,
    /// Part of the cell lies outside its parent.
    OutsideParent,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Finding<K> {
    pub kind: FindingKind<K>,
    /// The cell at fault; `None` for a gap (it belongs to nobody).
    pub cell: Option<K>,
    pub area_m2: f64,
    /// A point inside the problem, to show on the map.
    pub at: Coord,
}

/// Every invalid shape among `shapes`.
pub fn check_shapes<K: Clone>(shapes: &[(K, Polygon)]) -> Vec<Finding<K>> {
    shapes
        .iter()
        .filter_map(|(k, p)| {
            let e = validate(p).err()?;
            let at = p
                .exterior()
                .0
                .first()
                .copied()
                .unwrap_or(Coord { x: 0.0, y: 0.0 });
            Some(Finding {
                kind: FindingKind::InvalidShape(e.to_string()),
                cell: Some(k.clone()),
                area_m2: 0.0,
                at,
            })
        })
        .collect()
}

/// Each part of `mp` larger than `tolerance_m2`, with its area and a point inside it.
fn pieces(mp: &MultiPolygon, tolerance_m2: f64) -> Vec<(f64, Coord)> {
    mp.0.iter()
        .filter_map(|p| {
            let area = area_m2(p);
            let at = p.interior_point()?.0;
            (area > tolerance_m2).then_some((area, at))
        })
        .collect()
}

fn bboxes_touch(a: &Polygon, b: &Polygon) -> bool {
    match (a.bounding_rect(), b.bounding_rect()) {
        (Some(a), Some(b)) => {
            a.min().x <= b.max().x
                && b.min().x <= a.max().x
                && a.min().y <= b.max().y
                && b.min().y <= a.max().y
        }
        _ => false,
    }
}

/// Checks that `children` divide `parent`: overlaps between siblings, gaps, parts outside.
/// Invalid children are reported and left out of the other checks.
pub fn check_children<K: Clone + PartialEq>(
    parent: &Polygon,
    children: &[(K, Polygon)],
    tolerance_m2: f64,
) -> Vec<Finding<K>> {
    let mut findings = check_shapes(children);
    let valid: Vec<&(K, Polygon)> = children
        .iter()
        .filter(|(_, p)| validate(p).is_ok())
        .collect();
    for (i, (ka, a)) in valid.iter().enumerate() {
        for (kb, b) in &valid[i + 1..] {
            if !bboxes_touch(a, b) {
                continue;
            }
            for (area, at) in pieces(&a.intersection(b), tolerance_m2) {
                findings.push(Finding {
                    kind: FindingKind::Overlap { other: kb.clone() },
                    cell: Some(ka.clone()),
                    area_m2: area,
                    at,
                });
            }
        }
        for (area, at) in pieces(&a.difference(parent), tolerance_m2) {
            findings.push(Finding {
                kind: FindingKind::OutsideParent,
                cell: Some(ka.clone()),
                area_m2: area,
                at,
            });
        }
    }
    if validate(parent).is_ok() {
        let union = unary_union(valid.iter().map(|(_, p)| p));
        let parent = MultiPolygon::new(vec![parent.clone()]);
        for (area, at) in pieces(&parent.difference(&union), tolerance_m2) {
            findings.push(Finding {
                kind: FindingKind::Gap,
                cell: None,
                area_m2: area,
                at,
            });
        }
    }
    findings
}
