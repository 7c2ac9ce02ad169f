//! The point → cell index. Cells are kept in key order; a uniform bucket grid over their extent
//! lists, per bucket, the cells whose bounding box touches it (in key order). A lookup tests
//! those candidates with an exact winding-number test (robust orientation predicates), and the
//! first cell whose closed polygon covers the point wins: a point on an edge shared by two cells
//! goes to the one with the smaller key, always.

use geo::{BoundingRect, Coord, Polygon};

#[derive(Debug, Clone, Copy)]
struct BBox {
    min_x: f64,
    min_y: f64,
    max_x: f64,
    max_y: f64,
}

impl BBox {
    fn contains(&self, x: f64, y: f64) -> bool {
        x >= self.min_x && x <= self.max_x && y >= self.min_y && y <= self.max_y
    }
}

/// Where the rings of one cell lie in the shared coordinate array.
#[derive(Debug, Clone)]
struct Cell {
    bbox: BBox,
    /// `rings[0]` is the exterior; each is a range of `coords` (closed: last == first).
    rings: Vec<(u32, u32)>,
}

#[derive(Debug, Clone)]
pub struct PointIndex<K> {
    keys: Vec<K>,
    cells: Vec<Cell>,
    coords: Vec<Coord>,
    extent: BBox,
    cols: usize,
    rows: usize,
    cell_w: f64,
    cell_h: f64,
    /// CSR layout: bucket `b` holds `ids[starts[b]..starts[b + 1]]`.
    starts: Vec<u32>,
    ids: Vec<u32>,
}

fn orient(a: Coord, b: Coord, p: Coord) -> f64 {
    robust::orient2d(
        robust::Coord { x: a.x, y: a.y },
        robust::Coord { x: b.x, y: b.y },
        robust::Coord { x: p.x, y: p.y },
    )
}

/// +1/-1 windings of the ring around `p`, or `None` when `p` lies on the ring.
fn winding(ring: &[Coord], p: Coord) -> Option<i32> {
    let mut wn = 0;
    for edge in ring.windows(2) {
        let (a, b) = (edge[0], edge[1]);
        let (lo_y, hi_y) = if a.y <= b.y { (a.y, b.y) } else { (b.y, a.y) };
        if p.y < lo_y || p.y > hi_y {
            continue;
        }
        let o = orient(a, b, p);
        if o == 0.0 && p.x >= a.x.min(b.x) && p.x <= a.x.max(b.x) {
            return None;
        }
        if a.y <= p.y {
            if b.y > p.y && o > 0.0 {
                wn += 1;
            }
        } else if b.y <= p.y && o < 0.0 {
            wn -= 1;
        }
    }
    Some(wn)
}

impl<K: Ord + Clone> PointIndex<K> {
    /// Builds the index. Empty polygons are left out.
    pub fn build(mut items: Vec<(K, Polygon)>) -> PointIndex<K> {
        items.sort_by(|a, b| a.0.cmp(&b.0));
        let mut keys = Vec::with_capacity(items.len());
        let mut cells = Vec::with_capacity(items.len());
        let mut coords = Vec::new();
        let mut extent = BBox {
            min_x: f64::MAX,
            min_y: f64::MAX,
            max_x: f64::MIN,
            max_y: f64::MIN,
        };
        for (key, polygon) in items {
            let Some(rect) = polygon.bounding_rect() else {
                continue;
            };
            let bbox = BBox {
                min_x: rect.min().x,
                min_y: rect.min().y,
                max_x: rect.max().x,
                max_y: rect.max().y,
            };
            extent = BBox {
                min_x: extent.min_x.min(bbox.min_x),
                min_y: extent.min_y.min(bbox.min_y),
                max_x: extent.max_x.max(bbox.max_x),
                max_y: extent.max_y.max(bbox.max_y),
            };
            let mut rings = Vec::with_capacity(1 + polygon.interiors().len());
            for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
                let start = coords.len() as u32;
                coords.extend(ring.0.iter().copied());
                rings.push((start, coords.len() as u32));
            }
            keys.push(key);
            cells.push(Cell { bbox, rings });
        }
        if cells.is_empty() {
            extent = BBox {
                min_x: 0.0,
                min_y: 0.0,
                max_x: 0.0,
                max_y: 0.0,
            };
        }
        // About one bucket per cell, shaped like the extent.
        let (w, h) = (
            (extent.max_x - extent.min_x).max(1e-9),
            (extent.max_y - extent.min_y).max(1e-9),
        );
        let n = cells.len().max(1) as f64;
        let cols = ((n * w / h).sqrt().ceil() as usize).clamp(1, 4096);
        let rows = ((n / cols as f64).ceil() as usize).clamp(1, 4096);
        let (cell_w, cell_h) = (w / cols as f64, h / rows as f64);
        let bucket_range = |b: &BBox| {
            let c0 = (((b.min_x - extent.min_x) / cell_w).floor().max(0.0) as usize).min(cols - 1);
            let c1 = (((b.max_x - extent.min_x) / cell_w).floor().max(0.0) as usize).min(cols - 1);
            let r0 = (((b.min_y - extent.min_y) / cell_h).floor().max(0.0) as usize).min(rows - 1);
            let r1 = (((b.max_y - extent.min_y) / cell_h).floor().max(0.0) as usize).min(rows - 1);
            (c0, c1, r0, r1)
        };
        let mut counts = vec![0u32; cols * rows + 1];
        for cell in &cells {
            let (c0, c1, r0, r1) = bucket_range(&cell.bbox);
            for r in r0..=r1 {
                for c in c0..=c1 {
                    counts[r * cols + c + 1] += 1;
                }
            }
        }
        for i in 1..counts.len() {
            counts[i] += counts[i - 1];
        }
        let starts = counts.clone();
        let mut fill = counts;
        let mut ids = vec![0u32; *starts.last().unwrap_or(&0) as usize];
        for (id, cell) in cells.iter().enumerate() {
            let (c0, c1, r0, r1) = bucket_range(&cell.bbox);
            for r in r0..=r1 {
                for c in c0..=c1 {
                    let b = r * cols + c;
                    ids[fill[b] as usize] = id as u32;
                    fill[b] += 1;
                }
            }
        }
        PointIndex {
            keys,
            cells,
            coords,
            extent,
            cols,
            rows,
            cell_w,
            cell_h,
            starts,
            ids,
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether the closed polygon of cell `id` covers the point.
    fn covers(&self, id: usize, p: Coord) -> bool {
        let cell = &self.cells[id];
        if !cell.bbox.contains(p.x, p.y) {
            return false;
        }
        for (n, &(start, end)) in cell.rings.iter().enumerate() {
            match winding(&self.coords[start as usize..end as usize], p) {
                None => return true,
                Some(wn) if n == 0 && wn == 0 => return false,
                Some(wn) if n > 0 && wn != 0 => return false,
                Some(_) => {}
            }
        }
        true
    }

    /// The cell covering (lon, lat): the one with the smallest key when several share the point.
    pub fn locate(&self, lon: f64, lat: f64) -> Option<&K> {
        if !self.extent.contains(lon, lat) || self.keys.is_empty() {
            return None;
        }
        let c = (((lon - self.extent.min_x) / self.cell_w) as usize).min(self.cols - 1);
        let r = (((lat - self.extent.min_y) / self.cell_h) as usize).min(self.rows - 1);
        let b = r * self.cols + c;
        let p = Coord { x: lon, y: lat };
        self.ids[self.starts[b] as usize..self.starts[b + 1] as usize]
            .iter()
            .find(|&&id| self.covers(id as usize, p))
            .map(|&id| &self.keys[id as usize])
    }

    /// Every cell covering the point, in key order (for checks and tests; slow).
    pub fn all_covering(&self, lon: f64, lat: f64) -> Vec<&K> {
        let p = Coord { x: lon, y: lat };
        (0..self.cells.len())
            .filter(|&id| self.covers(id, p))
            .map(|id| &self.keys[id])
            .collect()
    }

    /// Bytes held by the index, for the benchmark's memory figure.
    pub fn heap_bytes(&self) -> usize {
        self.keys.capacity() * std::mem::size_of::<K>()
            + self
                .cells
                .iter()
                .map(|c| std::mem::size_of::<Cell>() + c.rings.capacity() * 8)
                .sum::<usize>()
            + self.coords.capacity() * std::mem::size_of::<Coord>()
            + (self.starts.capacity() + self.ids.capacity()) * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    fn square(x: f64, y: f64, s: f64) -> Polygon {
        polygon![(x: x, y: y), (x: x + s, y: y), (x: x + s, y: y + s), (x: x, y: y + s), (x: x, y: y)]
    }

    #[test]
    fn points_inside_on_edges_and_outside() {
        let index = PointIndex::build(vec![
            ("b", square(1.0, 0.0, 1.0)),
            ("a", square(0.0, 0.0, 1.0)),
        ]);
        assert_eq!(index.locate(0.5, 0.5), Some(&"a"));
        assert_eq!(index.locate(1.5, 0.5), Some(&"b"));
        // The shared edge goes to the smaller key, whichever order the cells came in.
        assert_eq!(index.locate(1.0, 0.5), Some(&"a"));
        assert_eq!(index.locate(2.0, 1.0), Some(&"b"), "a corner is covered");
        assert_eq!(index.locate(2.0001, 0.5), None);
        assert_eq!(index.locate(-5.0, 0.5), None);
    }

    #[test]
    fn a_hole_is_not_covered_but_its_edge_is() {
        let outer = square(0.0, 0.0, 4.0);
        let hole = square(1.0, 1.0, 2.0);
        let donut = Polygon::new(outer.exterior().clone(), vec![hole.exterior().clone()]);
        let index = PointIndex::build(vec![(1, donut), (2, hole)]);
        assert_eq!(index.locate(0.5, 0.5), Some(&1));
        assert_eq!(index.locate(2.0, 2.0), Some(&2));
        assert_eq!(
            index.locate(1.0, 2.0),
            Some(&1),
            "the hole's edge belongs to both; the smaller key wins"
        );
    }
}
