//! Nodes of the grid tree. The grid issue adds polygons, kinds and history; the foundation needs
//! the nodes as scopes.

use crate::{Result, Tx, on};
use domain::Millis;

#[derive(Debug, Clone, PartialEq)]
pub struct GridNode {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub level: String,
    pub parent_code: Option<String>,
}

type NodeTuple = (i64, String, String, String, Option<String>);

const NODE_COLUMNS: &str = "SELECT n.id, n.code, n.name, n.level, p.code \
     FROM grid_node n LEFT JOIN grid_node p ON p.id = n.parent_id";

fn node((id, code, name, level, parent_code): NodeTuple) -> GridNode {
    GridNode {
        id,
        code,
        name,
        level,
        parent_code,
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

    pub async fn grid_node_by_code(&mut self, code: &str) -> Result<Option<GridNode>> {
        let sql = sqlx::AssertSqlSafe(format!("{NODE_COLUMNS} WHERE n.code = $1"));
        let r: Option<NodeTuple> =
            on!(self, c => sqlx::query_as(sql).bind(code).fetch_optional(&mut *c).await?);
        Ok(r.map(node))
    }

    pub async fn grid_children(&mut self, code: &str) -> Result<Vec<GridNode>> {
        let sql = sqlx::AssertSqlSafe(format!("{NODE_COLUMNS} WHERE p.code = $1 ORDER BY n.code"));
        let rows: Vec<NodeTuple> =
            on!(self, c => sqlx::query_as(sql).bind(code).fetch_all(&mut *c).await?);
        Ok(rows.into_iter().map(node).collect())
    }

    /// Nodes inside the scope `prefix`, the scope itself first, in code order.
    pub async fn grid_nodes_in_scope(&mut self, prefix: &str) -> Result<Vec<GridNode>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{NODE_COLUMNS} WHERE n.code LIKE $1 || '%' ORDER BY n.code"
        ));
        let rows: Vec<NodeTuple> =
            on!(self, c => sqlx::query_as(sql).bind(prefix).fetch_all(&mut *c).await?);
        Ok(rows.into_iter().map(node).collect())
    }
}
