//! Geometry of the grid map: polygons read from GeoJSON and checked, the point → cell index
//! (exact on edges, with a deterministic tie-break), the division checks (gaps, overlaps,
//! children outside their parent) and a seeded tessellation generator for the demo street,
//! tests and benchmarks. Pure: no I/O, no database, no async. Coordinates are WGS84 lon/lat.

mod division;
mod generate;
mod index;
mod shape;

pub use division::{Finding, FindingKind, check_children, check_shapes};
pub use generate::{Lattice, Rng, split};
pub use index::PointIndex;
pub use shape::{ShapeError, area_m2, parse_polygon, polygon_to_geojson, validate};

pub use geo::{Coord, LineString, MultiPolygon, Polygon, Rect};
