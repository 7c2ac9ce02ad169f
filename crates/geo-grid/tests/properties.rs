//! Properties of the point index and the division checks on random seeded tessellations.
#![allow(clippy::unwrap_used)]

use geo::{Contains, Coord, Polygon};
use geo_grid::{FindingKind, Lattice, PointIndex, Rng, check_children, split};
use proptest::prelude::*;

const MIN: Coord = Coord {
    x: 103.80,
    y: 30.66,
};
const MAX: Coord = Coord {
    x: 103.87,
    y: 30.72,
};

/// Cells keyed by (row, column).
fn cells(l: &Lattice) -> Vec<((usize, usize), Polygon)> {
    (0..l.rows)
        .flat_map(|r| (0..l.cols).map(move |c| ((r, c), l.cell(c, r))))
        .collect()
}

fn lattice() -> impl Strategy<Value = Lattice> {
    (1usize..12, 1usize..12, 0.0f64..0.3, any::<u64>()).prop_map(|(cols, rows, jitter, seed)| {
        Lattice::jittered(MIN, MAX, cols, rows, jitter, &mut Rng::new(seed))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every point of the street lies in exactly one cell, and the index finds that one.
    #[test]
    fn every_point_inside_lies_in_exactly_one_cell(l in lattice(), points in proptest::collection::vec((0.0f64..1.0, 0.0f64..1.0), 50)) {
        let cells = cells(&l);
        let index = PointIndex::build(cells.clone());
        for (fx, fy) in points {
            let (x, y) = (MIN.x + fx * (MAX.x - MIN.x), MIN.y + fy * (MAX.y - MIN.y));
            let found = index.locate(x, y);
            prop_assert!(found.is_some(), "({x}, {y}) is in no cell");
            let all = index.all_covering(x, y);
            prop_assert_eq!(all.len(), 1, "({}, {}) is in {:?}", x, y, all);
            prop_assert_eq!(found, Some(all[0]));
            let (_, polygon) = cells.iter().find(|(k, _)| Some(k) == found).unwrap();
            prop_assert!(polygon.contains(&geo::Point::new(x, y)));
        }
    }

    /// On a shared vertex or edge several cells cover the point; the smallest key wins.
    #[test]
    fn points_on_shared_borders_go_to_the_smallest_key(l in lattice(), picks in proptest::collection::vec((0usize..13, 0usize..13), 20)) {
        let index = PointIndex::build(cells(&l));
        for (c, r) in picks {
            let v = l.vertex(c.min(l.cols), r.min(l.rows));
            let all = index.all_covering(v.x, v.y);
            prop_assert!(!all.is_empty());
            prop_assert_eq!(index.locate(v.x, v.y), Some(all[0]));
            prop_assert!(all.windows(2).all(|w| w[0] < w[1]));
        }
    }

    #[test]
    fn points_outside_lie_in_no_cell(l in lattice(), dx in 1e-6f64..1.0, dy in -1.0f64..1.0) {
        let index = PointIndex::build(cells(&l));
        prop_assert_eq!(index.locate(MAX.x + dx, MIN.y + dy), None);
        prop_assert_eq!(index.locate(MIN.x - dx, MIN.y + dy), None);
    }
}

/// A parent (the whole lattice) and children (blocks partitioning it).
fn family(seed: u64, parts_x: usize, parts_y: usize) -> (Lattice, Polygon, Vec<(usize, Polygon)>) {
    let l = Lattice::jittered(MIN, MAX, 12, 10, 0.25, &mut Rng::new(seed));
    let parent = l.block(0, 0, l.cols, l.rows);
    let (xs, ys) = (split(l.cols, parts_x), split(l.rows, parts_y));
    let mut children = Vec::new();
    for r in 0..ys.len() - 1 {
        for c in 0..xs.len() - 1 {
            children.push((children.len(), l.block(xs[c], ys[r], xs[c + 1], ys[r + 1])));
        }
    }
    (l, parent, children)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn a_clean_division_has_no_findings(seed in any::<u64>(), px in 1usize..5, py in 1usize..5) {
        let (_, parent, children) = family(seed, px, py);
        prop_assert_eq!(check_children(&parent, &children, 1.0), vec![]);
    }

    #[test]
    fn a_missing_child_leaves_a_gap_where_it_was(seed in any::<u64>(), px in 2usize..5, py in 1usize..5, pick in any::<prop::sample::Index>()) {
        let (_, parent, mut children) = family(seed, px, py);
        let (_, removed) = children.remove(pick.index(children.len()));
        let findings = check_children(&parent, &children, 1.0);
        prop_assert_eq!(findings.len(), 1, "{:?}", findings);
        let gap = &findings[0];
        prop_assert_eq!(&gap.kind, &FindingKind::Gap);
        prop_assert!(removed.contains(&geo::Point::from(gap.at)), "the gap is shown where the child was");
        let expected = geo_grid::area_m2(&removed);
        prop_assert!((gap.area_m2 - expected).abs() < expected * 1e-6);
    }

    #[test]
    fn a_child_grown_over_its_neighbour_is_an_overlap(seed in any::<u64>()) {
        let (l, parent, mut children) = family(seed, 3, 2);
        // Child 0 covers columns 0..4 of rows 0..5; grow it one column into child 1.
        children[0].1 = l.block(0, 0, 5, 5);
        let findings = check_children(&parent, &children, 1.0);
        prop_assert!(findings.iter().any(|f| f.kind == FindingKind::Overlap { other: 1 } && f.cell == Some(0)), "{:?}", findings);
        let only_overlaps = findings.iter().all(|f| matches!(f.kind, FindingKind::Overlap { .. }));
        prop_assert!(only_overlaps);
    }

    #[test]
    fn a_child_reaching_outside_its_parent_is_found(seed in any::<u64>()) {
        let (l, _, children) = family(seed, 2, 2);
        // The parent loses its top row; the top children now reach outside it.
        let parent = l.block(0, 0, l.cols, l.rows - 1);
        let findings = check_children(&parent, &children, 1.0);
        let outside: Vec<_> = findings.iter().filter(|f| f.kind == FindingKind::OutsideParent).filter_map(|f| f.cell).collect();
        prop_assert_eq!(outside, vec![2, 3]);
    }
}

#[test]
fn an_invalid_child_is_reported_and_left_out() {
    let (_, parent, mut children) = family(1, 2, 1);
    let ring = [
        (103.80, 30.66),
        (103.83, 30.70),
        (103.83, 30.66),
        (103.80, 30.70),
        (103.80, 30.66),
    ];
    let bowtie = Polygon::new(geo::LineString::from(ring.to_vec()), vec![]);
    children.push((9, bowtie));
    let findings = check_children(&parent, &children, 1.0);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(matches!(findings[0].kind, FindingKind::InvalidShape(_)));
    assert_eq!(findings[0].cell, Some(9));
}
