//! Polygons: reading them from GeoJSON, checking them, measuring them.

use geo::{ChamberlainDuquetteArea, Coord, LineString, Polygon, Validation};
use serde_json::{Value, json};

/// What is wrong with a shape. Each names where: the ring and, where it helps, the position.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ShapeError {
    #[error("不是 GeoJSON 面 / not a GeoJSON Polygon: {0}")]
    NotAPolygon(String),
    #[error(
        "第 {ring} 个环不闭合 / ring {ring} is not closed (its first and last positions differ)"
    )]
    NotClosed { ring: usize },
    #[error("第 {ring} 个环少于 4 个点 / ring {ring} has fewer than 4 positions")]
    TooFewPoints { ring: usize },
    #[error(
        "第 {ring} 个环第 {position} 个点不是有效经纬度 / ring {ring}, position {position} is not a lon/lat pair in range"
    )]
    BadPosition { ring: usize, position: usize },
    #[error("面无效 / invalid polygon: {0}")]
    Invalid(String),
}

fn position(v: &Value, ring: usize, position: usize) -> Result<Coord, ShapeError> {
    let bad = || ShapeError::BadPosition { ring, position };
    let pair = v.as_array().filter(|a| a.len() >= 2).ok_or_else(bad)?;
    let (x, y) = (
        pair[0].as_f64().ok_or_else(bad)?,
        pair[1].as_f64().ok_or_else(bad)?,
    );
    if !(-180.0..=180.0).contains(&x) || !(-90.0..=90.0).contains(&y) {
        return Err(bad());
    }
    Ok(Coord { x, y })
}

/// Reads a GeoJSON `Polygon` geometry (or a `Feature` holding one) and checks it: closed rings
/// of at least 4 positions, lon/lat in range, no self-intersection, holes inside.
pub fn parse_polygon(v: &Value) -> Result<Polygon, ShapeError> {
    let geometry = match v.get("type").and_then(Value::as_str) {
        Some("Feature") => v
            .get("geometry")
            .ok_or_else(|| ShapeError::NotAPolygon("a Feature without geometry".into()))?,
        Some("Polygon") => v,
        Some(other) => return Err(ShapeError::NotAPolygon(format!("type is {other}"))),
        None => return Err(ShapeError::NotAPolygon("no \"type\"".into())),
    };
    if geometry.get("type").and_then(Value::as_str) != Some("Polygon") {
        return Err(ShapeError::NotAPolygon(
            "the geometry is not a Polygon".into(),
        ));
    }
    let rings = geometry
        .get("coordinates")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ShapeError::NotAPolygon("\"coordinates\" is not a list of rings".into()))?;
    let mut parsed = Vec::with_capacity(rings.len());
    for (ring_no, ring) in rings.iter().enumerate() {
        let positions = ring
            .as_array()
            .ok_or(ShapeError::TooFewPoints { ring: ring_no })?;
        if positions.len() < 4 {
            return Err(ShapeError::TooFewPoints { ring: ring_no });
        }
        let coords = positions
            .iter()
            .enumerate()
            .map(|(i, p)| position(p, ring_no, i))
            .collect::<Result<Vec<Coord>, _>>()?;
        if coords.first() != coords.last() {
            return Err(ShapeError::NotClosed { ring: ring_no });
        }
        parsed.push(LineString::new(coords));
    }
    let exterior = parsed.remove(0);
    let polygon = Polygon::new(exterior, parsed);
    validate(&polygon)?;
    Ok(polygon)
}

/// Checks a polygon built elsewhere (self-intersections, spikes, holes outside).
pub fn validate(polygon: &Polygon) -> Result<(), ShapeError> {
    match polygon.validation_errors().first() {
        None => Ok(()),
        Some(e) => Err(ShapeError::Invalid(e.to_string())),
    }
}

/// The polygon as a GeoJSON `Polygon` geometry.
pub fn polygon_to_geojson(polygon: &Polygon) -> Value {
    let ring = |ls: &LineString| ls.0.iter().map(|c| json!([c.x, c.y])).collect::<Vec<_>>();
    let mut rings = vec![ring(polygon.exterior())];
    rings.extend(polygon.interiors().iter().map(ring));
    json!({"type": "Polygon", "coordinates": rings})
}

/// Area on the ground, in square metres.
pub fn area_m2<G: ChamberlainDuquetteArea<f64>>(g: &G) -> f64 {
    g.chamberlain_duquette_unsigned_area()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_square_reads_and_writes_back() {
        let v = json!({"type": "Polygon", "coordinates": [[[103.8, 30.6], [103.81, 30.6], [103.81, 30.61], [103.8, 30.61], [103.8, 30.6]]]});
        let p = parse_polygon(&v).unwrap();
        assert_eq!(polygon_to_geojson(&p), v);
        // About 967 m × 1110 m at this latitude.
        let area = area_m2(&p);
        assert!((1.0e6..1.1e6).contains(&area), "{area}");
    }

    #[test]
    fn bad_shapes_say_what_is_wrong_and_where() {
        let open = json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]});
        assert_eq!(parse_polygon(&open), Err(ShapeError::NotClosed { ring: 0 }));
        let bowtie =
            json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]});
        assert!(matches!(
            parse_polygon(&bowtie),
            Err(ShapeError::Invalid(_))
        ));
        let far = json!({"type": "Polygon", "coordinates": [[[0, 0], [200, 0], [1, 1], [0, 0]]]});
        assert_eq!(
            parse_polygon(&far),
            Err(ShapeError::BadPosition {
                ring: 0,
                position: 1
            })
        );
        let point = json!({"type": "Point", "coordinates": [0, 0]});
        assert!(matches!(
            parse_polygon(&point),
            Err(ShapeError::NotAPolygon(_))
        ));
        assert!(matches!(
            parse_polygon(&json!("hello")),
            Err(ShapeError::NotAPolygon(_))
        ));
        let short = json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]});
        assert_eq!(
            parse_polygon(&short),
            Err(ShapeError::TooFewPoints { ring: 0 })
        );
    }
}
