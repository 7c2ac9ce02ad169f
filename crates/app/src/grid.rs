//! Reading the grid tree inside one's scope.

use crate::error::parse_scope;
use crate::{App, AppError, Ctx, Result};
use domain::Permission;
use serde::Serialize;
use store::GridNode;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NodeView {
    pub code: String,
    pub name: String,
    pub level: String,
    pub parent: Option<String>,
}

impl From<GridNode> for NodeView {
    fn from(n: GridNode) -> Self {
        NodeView {
            code: n.code,
            name: n.name,
            level: n.level,
            parent: n.parent_code,
        }
    }
}

impl App {
    pub async fn grid_node(&self, ctx: &Ctx, code: &str) -> Result<NodeView> {
        let code = parse_scope("code", code)?;
        self.require(
            ctx,
            Permission::ReadGrid,
            &code,
            &format!("grid node {code}"),
        )
        .await?;
        let mut tx = self.store.read().await?;
        Ok(tx
            .grid_node_by_code(code.as_str())
            .await?
            .ok_or(AppError::NotFound("grid node"))?
            .into())
    }

    pub async fn grid_children(&self, ctx: &Ctx, code: &str) -> Result<Vec<NodeView>> {
        let code = parse_scope("code", code)?;
        self.require(
            ctx,
            Permission::ReadGrid,
            &code,
            &format!("grid node {code}"),
        )
        .await?;
        let mut tx = self.store.read().await?;
        if tx.grid_node_by_code(code.as_str()).await?.is_none() {
            return Err(AppError::NotFound("grid node"));
        }
        Ok(tx
            .grid_children(code.as_str())
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Every node the caller may read, for scope pickers.
    pub async fn readable_nodes(&self, ctx: &Ctx) -> Result<Vec<NodeView>> {
        let mut nodes = Vec::new();
        let mut tx = self.store.read().await?;
        for scope in domain::access::scopes_for(&ctx.grants, Permission::ReadGrid) {
            nodes.extend(
                tx.grid_nodes_in_scope(scope.as_str())
                    .await?
                    .into_iter()
                    .map(NodeView::from),
            );
        }
        Ok(nodes)
    }
}

impl App {
    /// Adds a node under its parent (the code minus its last 3 digits); a district has none.
    pub async fn add_grid_node(&self, ctx: &Ctx, code: &str, name: &str) -> Result<NodeView> {
        let code = parse_scope("code", code)?;
        let parent = code.parent();
        let Some(scope) = parent.as_ref().or(Some(&code)) else {
            return Err(AppError::NotFound("grid node"));
        };
        self.require(
            ctx,
            Permission::ConfigureSystem,
            scope,
            &format!("grid node {code}"),
        )
        .await?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(AppError::invalid(
                "name",
                "名称须为 1 到 64 个字符 / a name has 1 to 64 characters",
            ));
        }
        let mut tx = self.store.write().await?;
        if tx.grid_node_by_code(code.as_str()).await?.is_some() {
            return Err(AppError::Conflict(format!(
                "网格 {code} 已存在 / grid node {code} exists"
            )));
        }
        let parent_id = match &parent {
            Some(p) => Some(
                tx.grid_node_by_code(p.as_str())
                    .await?
                    .ok_or_else(|| {
                        AppError::invalid(
                            "code",
                            format!("上级网格 {p} 不存在 / the parent node {p} does not exist"),
                        )
                    })?
                    .id,
            ),
            None => None,
        };
        tx.ensure_grid_node(
            code.as_str(),
            name,
            code.level().as_str(),
            parent_id,
            crate::now(),
        )
        .await?;
        let node = tx
            .grid_node_by_code(code.as_str())
            .await?
            .ok_or(AppError::NotFound("grid node"))?;
        tx.commit().await?;
        Ok(node.into())
    }
}

/// One shape a node had, or has.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NodeVersionView {
    pub name: String,
    pub kind: Option<String>,
    /// A GeoJSON Polygon, or none when the node had no shape.
    #[schema(value_type = Option<Object>)]
    pub geometry: Option<serde_json::Value>,
    /// Epoch ms.
    pub valid_from: i64,
    /// Epoch ms; none for the shape in force.
    pub valid_to: Option<i64>,
}

impl App {
    /// Every shape a node has had, oldest first, the one in force last: a redrawn map does not
    /// rewrite the past.
    pub async fn node_history(&self, ctx: &Ctx, code: &str) -> Result<Vec<NodeVersionView>> {
        let code = parse_scope("code", code)?;
        self.require(
            ctx,
            Permission::ReadGrid,
            &code,
            &format!("history of {code}"),
        )
        .await?;
        let mut tx = self.store.read().await?;
        let node = tx
            .grid_node_by_code(code.as_str())
            .await?
            .ok_or(AppError::NotFound("grid node"))?;
        let shape = |g: Option<&str>| g.and_then(|g| serde_json::from_str(g).ok());
        let mut out: Vec<NodeVersionView> = tx
            .grid_node_history(node.id)
            .await?
            .into_iter()
            .map(|v| NodeVersionView {
                geometry: shape(v.geometry.as_deref()),
                name: v.name,
                kind: v.kind,
                valid_from: v.valid_from,
                valid_to: Some(v.valid_to),
            })
            .collect();
        out.push(NodeVersionView {
            geometry: shape(node.geometry.as_deref()),
            name: node.name,
            kind: node.kind,
            valid_from: node.valid_from,
            valid_to: None,
        });
        Ok(out)
    }
}
