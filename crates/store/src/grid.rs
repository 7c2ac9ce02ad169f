//! The grid tree's nodes: code, name, level, kind, polygon (GeoJSON text), the history of their
//! shapes, and the map version that tells every server to rebuild its routing index.

use crate::{Result, Tx, on};
use domain::Millis;

#[derive(Debug, Clone, PartialEq)]
pub struct GridNode {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub level: String,
    pub parent_code: Option<String>,
    pub kind: Option<String>,
    /// A GeoJSON Polygon geometry, WGS84.
    pub geometry: Option<String>,
    pub unit_grid_code: Option<String>,
    pub valid_from: i64,
}

/// A node as it is to be: `upsert_grid_node` adds it or records its change.
#[derive(Debug, Clone)]
pub struct GridNodeInput<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub level: &'a str,
    pub kind: Option<&'a str>,
    pub geometry: Option<&'a str>,
    pub parent_id: Option<i64>,
}

/// One past shape of a node.
#[derive(Debug, Clone, PartialEq)]
pub struct GridNodeVersion {
    pub name: String,
    pub kind: Option<String>,
    pub geometry: Option<String>,
    pub valid_from: i64,
    pub valid_to: i64,
}

type VersionTuple = (String, Option<String>, Option<String>, i64, i64);

type NodeTuple = (
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
);

const NODE_COLUMNS: &str = "SELECT n.id, n.code, n.name, n.level, p.code, n.kind, n.geometry, n.unit_grid_code, n.valid_from \
     FROM grid_node n LEFT JOIN grid_node p ON p.id = n.parent_id";

fn node(t: NodeTuple) -> GridNode {
    GridNode {
        id: t.0,
        code: t.1,
        name: t.2,
        level: t.3,
        parent_code: t.4,
        kind: t.5,
        geometry: t.6,
        unit_grid_code: t.7,
        valid_from: t.8,
    }
}

impl Tx {
    /// Adds a node unless one with that code exists; returns the node's id either way.
    pub async fn ensure_grid_node(
        &mut self,
        code: &str,
        name: &str,
        level: &str,
        parent_id: Option<i64>,
        now: Millis,
    ) -> Result<i64> {
        let id: i64 = on!(self, c => {
            sqlx::query("INSERT INTO grid_node (code, name, level, parent_id, valid_from) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (code) DO NOTHING")
                .bind(code)
                .bind(name)
                .bind(level)
                .bind(parent_id)
                .bind(now.0)
                .execute(&mut *c)
                .await?;
            sqlx::query_scalar("SELECT id FROM grid_node WHERE code = $1").bind(code).fetch_one(&mut *c).await?
        });
        Ok(id)
    }

    /// Adds the node, or changes it keeping its previous name, kind and shape in the history.
    /// Returns the node's id and whether anything changed (the map version then moves on).
    pub async fn upsert_grid_node(
        &mut self,
        n: &GridNodeInput<'_>,
        by: Option<i64>,
        now: Millis,
    ) -> Result<(i64, bool)> {
        let Some(old) = self.grid_node_by_code(n.code).await? else {
            let id: i64 = on!(self, c => sqlx::query_scalar(
                "INSERT INTO grid_node (code, name, level, parent_id, valid_from, kind, geometry) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
                .bind(n.code)
                .bind(n.name)
                .bind(n.level)
                .bind(n.parent_id)
                .bind(now.0)
                .bind(n.kind)
                .bind(n.geometry)
                .fetch_one(&mut *c)
                .await?);
            self.bump_grid_map_version(now).await?;
            return Ok((id, true));
        };
        let same = old.name == n.name
            && old.kind.as_deref() == n.kind
            && old.geometry.as_deref() == n.geometry;
        if same {
            return Ok((old.id, false));
        }
        on!(self, c => {
            sqlx::query(
                "INSERT INTO grid_node_version (node_id, name, kind, geometry, valid_from, valid_to, changed_by) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(old.id)
                .bind(&old.name)
                .bind(&old.kind)
                .bind(&old.geometry)
                .bind(old.valid_from)
                .bind(now.0)
                .bind(by)
                .execute(&mut *c)
                .await?;
            sqlx::query("UPDATE grid_node SET name = $2, kind = $3, geometry = $4, valid_from = $5 WHERE id = $1")
                .bind(old.id)
                .bind(n.name)
                .bind(n.kind)
                .bind(n.geometry)
                .bind(now.0)
                .execute(&mut *c)
                .await?;
        });
        self.bump_grid_map_version(now).await?;
        Ok((old.id, true))
    }

    pub async fn grid_node_history(&mut self, node_id: i64) -> Result<Vec<GridNodeVersion>> {
        let rows: Vec<VersionTuple> = on!(self, c => sqlx::query_as(
            "SELECT name, kind, geometry, valid_from, valid_to FROM grid_node_version WHERE node_id = $1 ORDER BY valid_from")
            .bind(node_id)
            .fetch_all(&mut *c)
            .await?);
        Ok(rows
            .into_iter()
            .map(
                |(name, kind, geometry, valid_from, valid_to)| GridNodeVersion {
                    name,
                    kind,
                    geometry,
                    valid_from,
                    valid_to,
                },
            )
            .collect())
    }

    /// The map's version: it moves on with every change of a node's shape, name or kind.
    pub async fn grid_map_version(&mut self) -> Result<i64> {
        let v: i64 = on!(self, c => sqlx::query_scalar("SELECT version FROM grid_map_version WHERE id = 1").fetch_one(&mut *c).await?);
        Ok(v)
    }

    pub async fn bump_grid_map_version(&mut self, now: Millis) -> Result<()> {
        on!(self, c => sqlx::query("UPDATE grid_map_version SET version = version + 1, changed_at = $1 WHERE id = 1")
            .bind(now.0)
            .execute(&mut *c)
            .await?
            .rows_affected());
        Ok(())
    }

    pub async fn grid_node_by_code(&mut self, code: &str) -> Result<Option<GridNode>> {
        let sql = sqlx::AssertSqlSafe(format!("{NODE_COLUMNS} WHERE n.code = $1"));
        let r: Option<NodeTuple> =
            on!(self, c => sqlx::query_as(sql).bind(code).fetch_optional(&mut *c).await?);
        Ok(r.map(node))
    }

    pub async fn grid_children(&mut self, code: &str) -> Result<Vec<GridNode>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{NODE_COLUMNS} WHERE p.code = $1 AND n.valid_to IS NULL ORDER BY n.code"
        ));
        let rows: Vec<NodeTuple> =
            on!(self, c => sqlx::query_as(sql).bind(code).fetch_all(&mut *c).await?);
        Ok(rows.into_iter().map(node).collect())
    }

    /// Nodes inside the scope `prefix`, the scope itself first, in code order.
    pub async fn grid_nodes_in_scope(&mut self, prefix: &str) -> Result<Vec<GridNode>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{NODE_COLUMNS} WHERE n.code LIKE $1 || '%' AND n.valid_to IS NULL ORDER BY n.code"
        ));
        let rows: Vec<NodeTuple> =
            on!(self, c => sqlx::query_as(sql).bind(prefix).fetch_all(&mut *c).await?);
        Ok(rows.into_iter().map(node).collect())
    }

    /// Every current node of a level that has a shape (for the routing index).
    pub async fn grid_shapes_of_level(&mut self, level: &str) -> Result<Vec<GridNode>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{NODE_COLUMNS} WHERE n.level = $1 AND n.geometry IS NOT NULL AND n.valid_to IS NULL ORDER BY n.code"
        ));
        let rows: Vec<NodeTuple> =
            on!(self, c => sqlx::query_as(sql).bind(level).fetch_all(&mut *c).await?);
        Ok(rows.into_iter().map(node).collect())
    }
}

impl Tx {
    /// (code, name) of every current node, for naming a location's ancestors.
    pub async fn grid_node_names(&mut self) -> Result<Vec<(String, String)>> {
        let rows: Vec<(String, String)> = on!(self, c => sqlx::query_as(
            "SELECT code, name FROM grid_node WHERE valid_to IS NULL ORDER BY code")
            .fetch_all(&mut *c)
            .await?);
        Ok(rows)
    }
}
