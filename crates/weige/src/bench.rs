//! `weige bench …`: the benchmarks behind the figures in BENCHMARKS.md. They print medians of
//! several rounds and ratios against a baseline measured in the same run, because the machines
//! are small and noisy; none of this is asserted by the tests.

use geo_grid::{Coord, Lattice, PointIndex, Polygon, Rng};
use sqlx::postgres::PgPoolOptions;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct RouteArgs {
    /// Micro-grids to generate (Chengdu has about 120,000).
    #[arg(long, default_value_t = 120_000)]
    cells: usize,
    /// Random points looked up per round.
    #[arg(long, default_value_t = 1_000_000)]
    points: usize,
    /// Rounds of lookups; the median is reported.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Seed of the generated map and points.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// A PostgreSQL server with PostGIS (Debian: postgresql-15-postgis-3) to compare with; a
    /// scratch database is created on it and dropped afterwards.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    postgis: String,
    /// Skip the PostGIS comparison.
    #[arg(long)]
    no_postgis: bool,
    /// Points sent to PostGIS (each also looked up in the index and compared).
    #[arg(long, default_value_t = 20_000)]
    postgis_points: usize,
}

const MIN: Coord = Coord {
    x: 103.60,
    y: 30.40,
};
const MAX: Coord = Coord {
    x: 104.40,
    y: 31.00,
};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn wkt(p: &Polygon) -> String {
    let ring: Vec<String> = p
        .exterior()
        .0
        .iter()
        .map(|c| format!("{} {}", c.x, c.y))
        .collect();
    format!("POLYGON(({}))", ring.join(","))
}

pub async fn route(a: RouteArgs) -> Result<(), String> {
    let cols = ((a.cells as f64 * 4.0 / 3.0).sqrt().round() as usize).max(1);
    let rows = a.cells.div_ceil(cols);
    let mut rng = Rng::new(a.seed);
    let lattice = Lattice::jittered(MIN, MAX, cols, rows, 0.25, &mut rng);
    let cells: Vec<(i32, Polygon)> = (0..rows)
        .flat_map(|r| (0..cols).map(move |c| (r, c)))
        .map(|(r, c)| ((r * cols + c) as i32, lattice.cell(c, r)))
        .collect();
    println!(
        "# weige bench route: {} micro-grids ({cols} × {rows} jittered lattice over Chengdu), seed {}",
        cells.len(),
        a.seed
    );

    let rss_before = rss_bytes();
    let started = Instant::now();
    let index = PointIndex::build(cells.clone());
    let build_ms = started.elapsed().as_secs_f64() * 1000.0;
    let rss_after = rss_bytes();
    println!(
        "index build: {build_ms:.0} ms; index memory: {:.1} MiB",
        index.heap_bytes() as f64 / 1048576.0
    );
    if let (Some(b), Some(after)) = (rss_before, rss_after) {
        println!(
            "process RSS grew by {:.1} MiB while building",
            after.saturating_sub(b) as f64 / 1048576.0
        );
    }

    let points: Vec<(f64, f64)> = (0..a.points).map(|_| random_point(&mut rng)).collect();
    let mut rates = Vec::new();
    let mut found = 0usize;
    for round in 0..a.rounds.max(1) {
        let started = Instant::now();
        found = 0;
        let mut checksum = 0i64;
        for &(x, y) in &points {
            if let Some(k) = index.locate(x, y) {
                found += 1;
                checksum = checksum.wrapping_add(i64::from(*k));
            }
        }
        let secs = started.elapsed().as_secs_f64();
        std::hint::black_box(checksum);
        rates.push(points.len() as f64 / secs);
        println!(
            "round {}: {:.0} lookups/s",
            round + 1,
            points.len() as f64 / secs
        );
    }
    let rate = median(rates);
    println!(
        "index: median {rate:.0} lookups/s on one thread ({:.0} ns per lookup); {found} of {} points found a cell",
        1e9 / rate,
        points.len()
    );

    if a.no_postgis {
        return Ok(());
    }
    let measured = Measured {
        cells: &cells,
        lattice: &lattice,
        index: &index,
        rate,
    };
    postgis(&a, &measured, &mut rng).await
}

/// What the index side of the comparison built and measured.
struct Measured<'a> {
    cells: &'a [(i32, Polygon)],
    lattice: &'a Lattice,
    index: &'a PointIndex<i32>,
    rate: f64,
}

fn random_point(rng: &mut Rng) -> (f64, f64) {
    (
        MIN.x + rng.next_f64() * (MAX.x - MIN.x),
        MIN.y + rng.next_f64() * (MAX.y - MIN.y),
    )
}

async fn postgis(a: &RouteArgs, m: &Measured<'_>, rng: &mut Rng) -> Result<(), String> {
    let shown = store::redact_url(&a.postgis);
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&a.postgis)
        .await
        .map_err(|e| format!("PostGIS at {shown}: {e}"))?;
    let db = format!("weige_bench_route_{}", std::process::id());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&admin)
        .await
        .map_err(|e| e.to_string())?;
    let base = a
        .postgis
        .rsplit_once('/')
        .map_or(a.postgis.as_str(), |(b, _)| b);
    let result = compare(a, &format!("{base}/{db}"), m, rng).await;
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
    )))
    .execute(&admin)
    .await;
    result
}

async fn compare(a: &RouteArgs, url: &str, m: &Measured<'_>, rng: &mut Rng) -> Result<(), String> {
    let Measured {
        cells,
        lattice,
        index,
        rate: our_rate,
    } = *m;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .map_err(|e| e.to_string())?;
    sqlx::query("CREATE EXTENSION IF NOT EXISTS postgis")
        .execute(&pool)
        .await
        .map_err(|e| format!("PostGIS is not installed on that server ({e}); on Debian: apt-get install postgresql-15-postgis-3"))?;
    let version: String = sqlx::query_scalar("SELECT postgis_lib_version()")
        .fetch_one(&pool)
        .await
        .map_err(|e| e.to_string())?;
    sqlx::query(
        "CREATE TABLE cell (id integer PRIMARY KEY, geom geometry(Polygon, 4326) NOT NULL)",
    )
    .execute(&pool)
    .await
    .map_err(|e| e.to_string())?;
    let started = Instant::now();
    for chunk in cells.chunks(5_000) {
        let ids: Vec<i32> = chunk.iter().map(|(id, _)| *id).collect();
        let wkts: Vec<String> = chunk.iter().map(|(_, p)| wkt(p)).collect();
        sqlx::query("INSERT INTO cell SELECT id, ST_GeomFromText(w, 4326) FROM unnest($1::int4[], $2::text[]) AS t(id, w)")
            .bind(&ids)
            .bind(&wkts)
            .execute(&pool)
            .await
            .map_err(|e| e.to_string())?;
    }
    sqlx::query("CREATE INDEX cell_geom_gist ON cell USING gist (geom)")
        .execute(&pool)
        .await
        .map_err(|e| e.to_string())?;
    sqlx::query("ANALYZE cell")
        .execute(&pool)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "\nPostGIS {version}: loaded and indexed (GiST) in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Some points exactly on shared lattice vertices, where the tie-break matters; the rest random.
    let on_vertices = (a.postgis_points / 20).max(1);
    let mut points: Vec<(f64, f64)> = (0..on_vertices)
        .map(|_| {
            let v = lattice.vertex(
                rng.below(1, lattice.cols as u64) as usize,
                rng.below(1, lattice.rows as u64) as usize,
            );
            (v.x, v.y)
        })
        .collect();
    points.extend((on_vertices..a.postgis_points).map(|_| random_point(rng)));

    let one = "SELECT id FROM cell WHERE ST_Covers(geom, ST_SetSRID(ST_MakePoint($1, $2), 4326)) ORDER BY id LIMIT 1";
    let mut single_rates = Vec::new();
    let mut answers: Vec<Option<i32>> = Vec::new();
    for _ in 0..3 {
        answers.clear();
        let started = Instant::now();
        for &(x, y) in &points {
            let id: Option<i32> = sqlx::query_scalar(one)
                .bind(x)
                .bind(y)
                .fetch_optional(&pool)
                .await
                .map_err(|e| e.to_string())?;
            answers.push(id);
        }
        single_rates.push(points.len() as f64 / started.elapsed().as_secs_f64());
    }
    let single = median(single_rates);

    let batch = "SELECT (SELECT id FROM cell WHERE ST_Covers(geom, ST_SetSRID(ST_MakePoint(x, y), 4326)) ORDER BY id LIMIT 1) \
                 FROM unnest($1::float8[], $2::float8[]) WITH ORDINALITY AS t(x, y, n) ORDER BY n";
    let mut batch_rates = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let mut batched: Vec<Option<i32>> = Vec::with_capacity(points.len());
        for chunk in points.chunks(5_000) {
            let xs: Vec<f64> = chunk.iter().map(|p| p.0).collect();
            let ys: Vec<f64> = chunk.iter().map(|p| p.1).collect();
            let ids: Vec<Option<i32>> = sqlx::query_scalar(batch)
                .bind(&xs)
                .bind(&ys)
                .fetch_all(&pool)
                .await
                .map_err(|e| e.to_string())?;
            batched.extend(ids);
        }
        batch_rates.push(points.len() as f64 / started.elapsed().as_secs_f64());
        if batched != answers {
            return Err("PostGIS answered the batched and the single queries differently".into());
        }
    }
    let batched = median(batch_rates);

    let mut differ = Vec::new();
    for (i, &(x, y)) in points.iter().enumerate() {
        let ours = index.locate(x, y).copied();
        if ours != answers[i] {
            differ.push((x, y, ours, answers[i]));
        }
    }
    println!("PostGIS ST_Covers + GiST, one query per point: median {single:.0} lookups/s");
    println!("PostGIS ST_Covers + GiST, 5,000 points per query: median {batched:.0} lookups/s");
    println!(
        "index vs PostGIS: {:.0}× one query per point, {:.0}× batched",
        our_rate / single,
        our_rate / batched
    );
    println!(
        "answers compared on {} points ({on_vertices} exactly on shared vertices): {} differ",
        points.len(),
        differ.len()
    );
    for (x, y, ours, theirs) in differ.iter().take(5) {
        println!("  ({x}, {y}): index {ours:?}, PostGIS {theirs:?}");
    }
    pool.close().await;
    if differ.is_empty() {
        Ok(())
    } else {
        Err(format!("{} answers differ from PostGIS", differ.len()))
    }
}
