//! A seeded tessellation: a lattice of jittered vertices over a rectangle. Any rectangular block
//! of lattice cells has an outline made of lattice vertices, so blocks that partition the index
//! space partition the ground exactly: neighbours share every vertex of their common border.
//! The demo street, the property tests and the routing benchmark are built from it.

use geo::{Coord, LineString, Polygon};

/// SplitMix64: small, fast, and the same sequence on every machine for a seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `lo..hi` (`hi` > `lo`).
    pub fn below(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo).max(1)
    }
}

#[derive(Debug, Clone)]
pub struct Lattice {
    pub cols: usize,
    pub rows: usize,
    vertices: Vec<Coord>,
}

impl Lattice {
    /// `cols` × `rows` cells over the rectangle `min`–`max`. Inner vertices move by up to
    /// `jitter` (0 to 0.3) of a cell's width and height; border vertices stay on the border.
    pub fn jittered(
        min: Coord,
        max: Coord,
        cols: usize,
        rows: usize,
        jitter: f64,
        rng: &mut Rng,
    ) -> Lattice {
        let (cols, rows) = (cols.max(1), rows.max(1));
        let jitter = jitter.clamp(0.0, 0.3);
        let (w, h) = ((max.x - min.x) / cols as f64, (max.y - min.y) / rows as f64);
        let mut vertices = Vec::with_capacity((cols + 1) * (rows + 1));
        for r in 0..=rows {
            for c in 0..=cols {
                let mut x = min.x + w * c as f64;
                let mut y = min.y + h * r as f64;
                if c == cols {
                    x = max.x;
                }
                if r == rows {
                    y = max.y;
                }
                if c > 0 && c < cols && r > 0 && r < rows {
                    x += (rng.next_f64() * 2.0 - 1.0) * jitter * w;
                    y += (rng.next_f64() * 2.0 - 1.0) * jitter * h;
                }
                vertices.push(Coord { x, y });
            }
        }
        Lattice {
            cols,
            rows,
            vertices,
        }
    }

    pub fn vertex(&self, c: usize, r: usize) -> Coord {
        self.vertices[r * (self.cols + 1) + c]
    }

    /// The outline of the cells `c0..c1` × `r0..r1`, counter-clockwise, through every lattice
    /// vertex on its border.
    pub fn block(&self, c0: usize, r0: usize, c1: usize, r1: usize) -> Polygon {
        let mut ring = Vec::with_capacity(2 * (c1 - c0 + r1 - r0) + 1);
        ring.extend((c0..c1).map(|c| self.vertex(c, r0)));
        ring.extend((r0..r1).map(|r| self.vertex(c1, r)));
        ring.extend((c0 + 1..=c1).rev().map(|c| self.vertex(c, r1)));
        ring.extend((r0 + 1..=r1).rev().map(|r| self.vertex(c0, r)));
        ring.push(self.vertex(c0, r0));
        Polygon::new(LineString::new(ring), vec![])
    }

    pub fn cell(&self, c: usize, r: usize) -> Polygon {
        self.block(c, r, c + 1, r + 1)
    }
}

/// Splits `0..n` into `parts` runs of near-equal length: the run boundaries.
pub fn split(n: usize, parts: usize) -> Vec<usize> {
    let parts = parts.clamp(1, n.max(1));
    (0..=parts).map(|i| i * n / parts).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate;

    #[test]
    fn the_same_seed_gives_the_same_lattice() {
        let (min, max) = (Coord { x: 103.8, y: 30.6 }, Coord { x: 103.9, y: 30.7 });
        let a = Lattice::jittered(min, max, 5, 4, 0.25, &mut Rng::new(7));
        let b = Lattice::jittered(min, max, 5, 4, 0.25, &mut Rng::new(7));
        assert_eq!(a.vertices, b.vertices);
        assert_eq!(a.vertex(5, 4), max);
        assert!(validate(&a.block(1, 1, 4, 3)).is_ok());
        assert_eq!(split(10, 3), vec![0, 3, 6, 10]);
    }
}
