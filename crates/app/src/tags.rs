//! The key-population tags (独居老人, 留守儿童, 低保对象 …): a list the street keeps, not code.
//! Residents carry tag codes; a retired tag stays on the residents who have it and is no longer
//! offered for new entries.

use crate::{App, AppError, Ctx, Result, now};
use domain::Permission;
use serde::{Deserialize, Serialize};
use store::TagRow;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TagView {
    pub code: String,
    pub label_zh: String,
    pub label_en: String,
    pub sort: i64,
    pub retired: bool,
}

impl From<TagRow> for TagView {
    fn from(t: TagRow) -> Self {
        TagView {
            code: t.code,
            label_zh: t.label_zh,
            label_en: t.label_en,
            sort: t.sort,
            retired: t.retired,
        }
    }
}

/// A tag as entered: its labels, its place in the list, and whether it is retired.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct TagInput {
    pub label_zh: String,
    pub label_en: String,
    #[serde(default)]
    pub sort: i64,
    #[serde(default)]
    pub retired: bool,
}

/// The label of `code` in the language asked for, or the code itself when it is unknown.
pub fn tag_label<'a>(tags: &'a [TagView], code: &'a str, english: bool) -> &'a str {
    tags.iter()
        .find(|t| t.code == code)
        .map_or(code, |t| if english { &t.label_en } else { &t.label_zh })
}

fn valid_code(code: &str) -> bool {
    (2..=40).contains(&code.len())
        && code.starts_with(|c: char| c.is_ascii_lowercase())
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl App {
    /// Every tag, retired ones too: for labelling what residents carry. Tags are no secret.
    pub async fn tag_list(&self) -> Result<Vec<TagView>> {
        let mut tx = self.store.read().await?;
        Ok(tx
            .tags(true)
            .await?
            .into_iter()
            .map(TagView::from)
            .collect())
    }

    /// The tags, for anyone who reads the registry.
    pub async fn tags(&self, ctx: &Ctx) -> Result<Vec<TagView>> {
        self.require_anywhere(ctx, Permission::ReadRegistry, "tag list")
            .await?;
        self.tag_list().await
    }

    /// Adds the tag `code`, or changes its labels, order or retirement (the street admin).
    pub async fn save_tag(&self, ctx: &Ctx, code: &str, input: &TagInput) -> Result<TagView> {
        self.require_anywhere(ctx, Permission::ConfigureCatalog, &format!("tag {code}"))
            .await?;
        if !valid_code(code) {
            return Err(AppError::invalid(
                "code",
                "代码须为 2–40 个小写字母、数字或下划线，以字母开头 / 2–40 lowercase letters, digits or _, starting with a letter",
            ));
        }
        let label_zh = input.label_zh.trim();
        let label_en = input.label_en.trim();
        for (field, label, most) in [("label_zh", label_zh, 20), ("label_en", label_en, 40)] {
            if label.is_empty() || label.chars().count() > most {
                return Err(AppError::invalid(
                    field,
                    format!("名称必填，最多 {most} 个字符 / required, at most {most} characters"),
                ));
            }
        }
        let mut tx = self.store.write().await?;
        if tx
            .tags(true)
            .await?
            .iter()
            .any(|t| t.label_zh == label_zh && t.code != code)
        {
            return Err(AppError::Conflict(format!(
                "已有名为 {label_zh} 的标签 / a tag has that name already"
            )));
        }
        let row = TagRow {
            code: code.to_owned(),
            label_zh: label_zh.to_owned(),
            label_en: label_en.to_owned(),
            sort: input.sort,
            retired: input.retired,
        };
        tx.upsert_tag(&row, now()).await?;
        tx.commit().await?;
        Ok(row.into())
    }
}
