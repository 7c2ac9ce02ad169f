//! Case categories: a tree the street keeps. The defaults combine the social-governance classes
//! of Chengdu's micro-grids (邻里纠纷, 公共设施维护, 安全隐患, 一老一小 …) with the national
//! city-management components and matters of GB/T 47678.5-2026. Each category says who handles
//! it first (and at which tier), the time limit of each stage and of the whole case, when its
//! clocks turn yellow, whether an overdue case climbs a tier by itself, its need type and its
//! closing conditions.

use crate::questions::{Question, QuestionValue};
use crate::{App, AppError, Ctx, Result, now};
use domain::Permission;
use domain::calendar::{Limit, LimitUnit};
use domain::case::Tier;
use serde::{Deserialize, Serialize};
use store::CategoryRow;

const GBT_47678_5: &str = include_str!("../data/gbt47678-5-categories.csv");

/// Who takes a case of a category first.
pub const HANDLERS: [(&str, &str); 6] = [
    ("micro_grid_worker", "微网格员"),
    ("grid_worker", "专职网格员"),
    ("community", "社区"),
    ("street", "街道"),
    ("department", "职能部门"),
    ("partner", "物业等资源方"),
];

/// The three kinds of need the seed names: 生存 (survival), 体验 (experience), 表达 (expression).
pub const NEED_TYPES: [(&str, &str); 3] = [
    ("survival", "生存需求"),
    ("experience", "体验需求"),
    ("expression", "表达需求"),
];

/// The stages a case's clock runs through, and the whole case.
pub const STAGES: [&str; 6] = ["accept", "dispatch", "respond", "handle", "verify", "case"];

/// The time limits of a category: each stage's and the whole case's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Limits {
    /// 受理: from the report to its acceptance (立案).
    #[schema(value_type = Object)]
    pub accept: Limit,
    /// 派遣: from acceptance to dispatch.
    #[schema(value_type = Object)]
    pub dispatch: Limit,
    /// 响应 (吹哨报到): a department a case is dispatched to takes it within this, before
    /// its handling clock starts. Categories saved before it existed get 30 minutes.
    #[schema(value_type = Object)]
    #[serde(default = "department_response")]
    pub respond: Limit,
    /// 处置: from dispatch to handled.
    #[schema(value_type = Object)]
    pub handle: Limit,
    /// 核查: from handled to verified.
    #[schema(value_type = Object)]
    pub verify: Limit,
    /// The whole case.
    #[schema(value_type = Object)]
    pub case: Limit,
}

impl Limits {
    pub fn of_stage(&self, stage: &str) -> Option<Limit> {
        match stage {
            "accept" => Some(self.accept),
            "dispatch" => Some(self.dispatch),
            "respond" => Some(self.respond),
            "handle" => Some(self.handle),
            "verify" => Some(self.verify),
            "case" => Some(self.case),
            _ => None,
        }
    }
}

/// 吹哨报到: a summoned department answers within 30 minutes.
fn department_response() -> Limit {
    limit(30, LimitUnit::NaturalMinutes)
}

fn limit(amount: u32, unit: LimitUnit) -> Limit {
    Limit { amount, unit }
}

fn limits(handle: Limit, case: Limit) -> Limits {
    Limits {
        accept: limit(2, LimitUnit::WorkingHours),
        dispatch: limit(2, LimitUnit::WorkingHours),
        respond: department_response(),
        handle,
        verify: limit(1, LimitUnit::WorkingDays),
        case,
    }
}

/// A category as shown and edited.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CategoryView {
    pub id: i64,
    /// `sg.neighbour_dispute`, `gbt.matter.01001` …; a group has children and takes no cases.
    pub code: String,
    pub parent: Option<String>,
    pub name: String,
    /// `group`, `social`, `component` or `matter`.
    pub kind: String,
    pub need_type: Option<String>,
    /// Who takes it first: see [`HANDLERS`].
    pub handler: String,
    /// The tier it starts at: `micro_grid`, `grid`, `community`, `street`, `department`.
    pub tier: String,
    pub limits: Limits,
    /// The share of a limit after which a clock turns yellow (0–1).
    pub warn_share: f64,
    /// An overdue case climbs to the next tier by itself.
    pub auto_escalate: bool,
    /// 结案条件.
    pub closing_conditions: String,
    pub active: bool,
    /// Extra questions asked of the reporter (Open311: the service definition's attributes).
    pub questions: Vec<Question>,
}

impl CategoryView {
    fn from_row(r: CategoryRow, parent: Option<String>) -> Result<CategoryView> {
        let limits: Limits = serde_json::from_str(&r.limits)
            .map_err(|e| AppError::Internal(format!("category {}: limits: {e}", r.code)))?;
        let questions = serde_json::from_str(&r.questions)
            .map_err(|e| AppError::Internal(format!("category {}: questions: {e}", r.code)))?;
        Ok(CategoryView {
            id: r.id,
            code: r.code,
            parent,
            name: r.name,
            kind: r.kind,
            need_type: r.need_type,
            handler: r.handler,
            tier: r.tier,
            limits,
            warn_share: r.warn_share,
            auto_escalate: r.auto_escalate,
            closing_conditions: r.closing_conditions,
            active: r.active,
            questions,
        })
    }

    pub fn is_group(&self) -> bool {
        self.kind == "group"
    }
}

/// What the street admin may change of a category.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct CategoryInput {
    pub name: String,
    pub need_type: Option<String>,
    pub handler: String,
    pub tier: String,
    pub limits: Limits,
    pub warn_share: f64,
    #[serde(default)]
    pub auto_escalate: bool,
    #[serde(default)]
    pub closing_conditions: String,
    pub active: bool,
    /// The extra questions, in the order asked; absent: left as they are.
    #[serde(default)]
    pub questions: Option<Vec<Question>>,
}

/// One default category: (code, parent code, name, kind, need, handler, tier, limits,
/// auto-escalate, closing conditions).
struct Default_ {
    code: String,
    parent: Option<String>,
    name: String,
    kind: &'static str,
    need: Option<&'static str>,
    handler: &'static str,
    tier: Tier,
    limits: Limits,
    auto_escalate: bool,
    closing: String,
}

/// A group of the national list: its matters go to a department, dispatched by the street.
fn city_group(code: String, parent: Option<String>, name: &str) -> Default_ {
    Default_ {
        code,
        parent,
        name: name.to_owned(),
        kind: "group",
        need: None,
        handler: "department",
        tier: Tier::Street,
        limits: limits(
            limit(5, LimitUnit::WorkingDays),
            limit(7, LimitUnit::WorkingDays),
        ),
        auto_escalate: false,
        closing: String::new(),
    }
}

/// The questions a default category ships with: none but for public facilities, which asks which
/// facility and where (both optional), as an example for admins to follow.
fn default_questions(code: &str) -> Vec<Question> {
    if code != "sg.public_facilities" {
        return Vec::new();
    }
    let choices = [
        ("elevator", "电梯"),
        ("door", "单元门禁"),
        ("light", "路灯照明"),
        ("fitness", "健身器材"),
        ("pipe", "管道水电"),
        ("other", "其他"),
    ];
    vec![
        Question {
            code: "facility".into(),
            datatype: "singlevaluelist".into(),
            required: false,
            description: "哪类设施？".into(),
            hint: String::new(),
            values: choices
                .iter()
                .map(|(key, name)| QuestionValue {
                    key: (*key).into(),
                    name: (*name).into(),
                })
                .collect(),
        },
        Question {
            code: "building".into(),
            datatype: "string".into(),
            required: false,
            description: "几栋几单元？".into(),
            hint: "如 3栋2单元".into(),
            values: Vec::new(),
        },
    ]
}

fn defaults() -> Vec<Default_> {
    use LimitUnit::{NaturalDays, WorkingDays, WorkingHours};
    let mut out = vec![Default_ {
        code: "sg".into(),
        parent: None,
        name: "社会治理".into(),
        kind: "group",
        need: None,
        handler: "micro_grid_worker",
        tier: Tier::MicroGrid,
        limits: limits(limit(3, WorkingDays), limit(5, WorkingDays)),
        auto_escalate: false,
        closing: String::new(),
    }];
    // (code, name, need, handler, tier, limits, auto-escalate, closing conditions)
    type Social = (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        Tier,
        Limits,
        bool,
        &'static str,
    );
    let social: [Social; 10] = [
        (
            "neighbour_dispute",
            "邻里纠纷",
            "expression",
            "micro_grid_worker",
            Tier::MicroGrid,
            limits(limit(3, WorkingDays), limit(5, WorkingDays)),
            true,
            "双方达成和解或调解协议，当事人确认",
        ),
        (
            "public_facilities",
            "公共设施维护",
            "experience",
            "grid_worker",
            Tier::Grid,
            limits(limit(5, WorkingDays), limit(7, WorkingDays)),
            true,
            "设施修复可用，附处置后照片",
        ),
        (
            "compound_renovation",
            "小区改造",
            "experience",
            "community",
            Tier::Community,
            limits(limit(20, WorkingDays), limit(30, WorkingDays)),
            false,
            "改造事项纳入计划或完成，居民知晓",
        ),
        (
            "safety_hazard",
            "安全隐患",
            "survival",
            "grid_worker",
            Tier::Grid,
            limits(limit(4, WorkingHours), limit(1, WorkingDays)),
            true,
            "隐患消除或已设警示并移交责任单位",
        ),
        (
            "elderly_children",
            "一老一小",
            "survival",
            "micro_grid_worker",
            Tier::MicroGrid,
            limits(limit(1, WorkingDays), limit(3, WorkingDays)),
            true,
            "上门核实并落实帮扶措施",
        ),
        (
            "policy_question",
            "政策咨询",
            "expression",
            "micro_grid_worker",
            Tier::MicroGrid,
            limits(limit(2, WorkingDays), limit(3, WorkingDays)),
            false,
            "已答复咨询人",
        ),
        (
            "property_service",
            "物业服务",
            "experience",
            "partner",
            Tier::MicroGrid,
            limits(limit(3, WorkingDays), limit(5, WorkingDays)),
            true,
            "物业完成整改，居民确认",
        ),
        (
            "sanitation",
            "环境卫生",
            "experience",
            "micro_grid_worker",
            Tier::MicroGrid,
            limits(limit(1, WorkingDays), limit(2, WorkingDays)),
            true,
            "清理完毕，附处置后照片",
        ),
        (
            "public_order",
            "治安",
            "survival",
            "community",
            Tier::Community,
            limits(limit(4, WorkingHours), limit(1, WorkingDays)),
            true,
            "社区民警或联防处置完毕",
        ),
        (
            "other",
            "其他",
            "expression",
            "micro_grid_worker",
            Tier::MicroGrid,
            limits(limit(5, WorkingDays), limit(10, NaturalDays)),
            false,
            "诉求得到答复或解决",
        ),
    ];
    for (code, name, need, handler, tier, limits, auto, closing) in social {
        out.push(Default_ {
            code: format!("sg.{code}"),
            parent: Some("sg".into()),
            name: name.into(),
            kind: "social",
            need: Some(need),
            handler,
            tier,
            limits,
            auto_escalate: auto,
            closing: closing.into(),
        });
    }
    // GB/T 47678.5: a group per kind and major class, the minor classes under them.
    for kind in ["component", "matter"] {
        let root = format!("gbt.{kind}");
        let title = if kind == "component" {
            "城市管理部件（GB/T 47678.5）"
        } else {
            "城市管理事项（GB/T 47678.5）"
        };
        out.push(city_group(root.clone(), None, title));
        for line in GBT_47678_5.lines().skip(1) {
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            let [k, code, major, name] = f[..] else {
                continue;
            };
            if k != kind || code.len() != 5 {
                continue;
            }
            let group = format!("{root}.{}", &code[..2]);
            if !out.iter().any(|d| d.code == group) {
                out.push(city_group(group.clone(), Some(root.clone()), major));
            }
            out.push(Default_ {
                code: format!("{root}.{code}"),
                parent: Some(group),
                name: name.to_owned(),
                kind: if kind == "component" {
                    "component"
                } else {
                    "matter"
                },
                need: Some("experience"),
                handler: "department",
                tier: Tier::Street,
                limits: limits(limit(5, WorkingDays), limit(7, WorkingDays)),
                auto_escalate: false,
                closing: "按立结案标准处置完毕，附处置后照片".into(),
            });
        }
    }
    out
}

fn validate(c: &CategoryInput) -> Result<()> {
    if c.name.trim().is_empty() || c.name.chars().count() > 40 {
        return Err(AppError::invalid(
            "name",
            "名称必填，最多 40 个字符 / name: required, at most 40 characters",
        ));
    }
    if !HANDLERS.iter().any(|(h, _)| *h == c.handler) {
        return Err(AppError::invalid(
            "handler",
            format!("未知处置主体 {:?} / unknown handler", c.handler),
        ));
    }
    if Tier::parse(&c.tier).is_none() {
        return Err(AppError::invalid(
            "tier",
            format!("未知层级 {:?} / unknown tier", c.tier),
        ));
    }
    if let Some(n) = &c.need_type
        && !NEED_TYPES.iter().any(|(k, _)| k == n)
    {
        return Err(AppError::invalid(
            "need_type",
            "须为 survival、experience 或 expression / survival, experience or expression",
        ));
    }
    if !(0.0..=1.0).contains(&c.warn_share) {
        return Err(AppError::invalid(
            "warn_share",
            "须在 0 到 1 之间 / between 0 and 1",
        ));
    }
    for stage in STAGES {
        let l = c
            .limits
            .of_stage(stage)
            .ok_or(AppError::Internal("stage".into()))?;
        if l.amount == 0 || l.amount > 10_000 {
            return Err(AppError::invalid(
                "limits",
                format!("{stage}: 时限须为 1–10000 / a limit of 1–10000"),
            ));
        }
    }
    Ok(())
}

/// One category of the cached list, without copying it out.
#[derive(Debug, Clone)]
pub struct CategoryRef {
    list: std::sync::Arc<Vec<CategoryView>>,
    at: usize,
}

impl std::ops::Deref for CategoryRef {
    type Target = CategoryView;
    fn deref(&self) -> &CategoryView {
        &self.list[self.at]
    }
}

impl App {
    /// Writes the default categories unless there are categories already. Returns how many.
    pub async fn ensure_categories(&self) -> Result<usize> {
        let mut tx = self.store.write().await?;
        if tx.category_count().await? > 0 {
            return Ok(0);
        }
        let now = now();
        let mut ids = std::collections::HashMap::new();
        let list = defaults();
        for (sort, d) in list.iter().enumerate() {
            let row = CategoryRow {
                id: 0,
                code: d.code.clone(),
                parent_id: d.parent.as_ref().and_then(|p| ids.get(p).copied()),
                name: d.name.clone(),
                kind: d.kind.to_owned(),
                need_type: d.need.map(str::to_owned),
                handler: d.handler.to_owned(),
                tier: d.tier.as_str().to_owned(),
                limits: serde_json::to_string(&d.limits)
                    .map_err(|e| AppError::Internal(e.to_string()))?,
                warn_share: 0.75,
                auto_escalate: d.auto_escalate,
                closing_conditions: d.closing.clone(),
                active: true,
                sort: sort as i64,
                questions: serde_json::to_string(&default_questions(&d.code))
                    .map_err(|e| AppError::Internal(e.to_string()))?,
            };
            let id = tx.upsert_category(&row, now).await?;
            ids.insert(d.code.clone(), id);
        }
        tx.commit().await?;
        self.caches.clear();
        Ok(list.len())
    }

    /// Every category, groups included, in tree order. Categories are no secret.
    pub async fn category_list(&self) -> Result<Vec<CategoryView>> {
        Ok(self.categories().await?.as_ref().clone())
    }

    /// The categories, shared and cached for [`crate::CACHE_TTL`].
    pub(crate) async fn categories(&self) -> Result<std::sync::Arc<Vec<CategoryView>>> {
        if let Some(c) = crate::Caches::get(&self.caches.categories) {
            return Ok(c);
        }
        let list = std::sync::Arc::new(self.read_categories().await?);
        crate::Caches::put(&self.caches.categories, std::sync::Arc::clone(&list));
        Ok(list)
    }

    async fn read_categories(&self) -> Result<Vec<CategoryView>> {
        let rows = self.store.read().await?.categories().await?;
        let codes: std::collections::HashMap<i64, String> =
            rows.iter().map(|r| (r.id, r.code.clone())).collect();
        rows.into_iter()
            .map(|r| {
                let parent = r.parent_id.and_then(|p| codes.get(&p).cloned());
                CategoryView::from_row(r, parent)
            })
            .collect()
    }

    /// A category by code, for intake: it must exist, be active and take cases.
    pub async fn category_for_case(&self, code: &str) -> Result<CategoryRef> {
        let list = self.categories().await?;
        let at = list.iter().position(|c| c.code == code).ok_or_else(|| {
            AppError::invalid("category", format!("未知类别 {code:?} / unknown category"))
        })?;
        let c = CategoryRef { list, at };
        if c.is_group() || !c.active {
            return Err(AppError::invalid(
                "category",
                format!(
                    "类别 {} 不受理案件，请选择其下的小类 / choose a category under {}",
                    c.name, c.name
                ),
            ));
        }
        Ok(c)
    }

    /// Replaces a category's extra questions (the street admin), leaving the rest as it is.
    pub async fn save_questions(
        &self,
        ctx: &Ctx,
        code: &str,
        questions: &[Question],
    ) -> Result<CategoryView> {
        let c = self
            .category_list()
            .await?
            .into_iter()
            .find(|c| c.code == code)
            .ok_or(AppError::NotFound("category"))?;
        if c.is_group() {
            return Err(AppError::invalid(
                "questions",
                "分组不受理案件，无需问题 / a group takes no cases and asks nothing",
            ));
        }
        let input = CategoryInput {
            name: c.name,
            need_type: c.need_type,
            handler: c.handler,
            tier: c.tier,
            limits: c.limits,
            warn_share: c.warn_share,
            auto_escalate: c.auto_escalate,
            closing_conditions: c.closing_conditions,
            active: c.active,
            questions: Some(questions.to_vec()),
        };
        self.save_category(ctx, code, &input).await
    }

    /// Changes a category (the street admin): who handles it, its limits, its warning share …
    pub async fn save_category(
        &self,
        ctx: &Ctx,
        code: &str,
        input: &CategoryInput,
    ) -> Result<CategoryView> {
        self.require_anywhere(
            ctx,
            Permission::ConfigureCatalog,
            &format!("category {code}"),
        )
        .await?;
        validate(input)?;
        let questions = input
            .questions
            .as_deref()
            .map(crate::questions::check_questions)
            .transpose()?;
        let existing = self
            .category_list()
            .await?
            .into_iter()
            .find(|c| c.code == code)
            .ok_or(AppError::NotFound("category"))?;
        let row = CategoryRow {
            id: existing.id,
            code: existing.code.clone(),
            parent_id: None,
            name: input.name.trim().to_owned(),
            kind: existing.kind.clone(),
            need_type: input.need_type.clone(),
            handler: input.handler.clone(),
            tier: input.tier.clone(),
            limits: serde_json::to_string(&input.limits)
                .map_err(|e| AppError::Internal(e.to_string()))?,
            warn_share: input.warn_share,
            auto_escalate: input.auto_escalate,
            closing_conditions: input.closing_conditions.trim().to_owned(),
            active: input.active,
            sort: 0,
            questions: serde_json::to_string(questions.as_ref().unwrap_or(&existing.questions))
                .map_err(|e| AppError::Internal(e.to_string()))?,
        };
        let mut tx = self.store.write().await?;
        let rows = tx.categories().await?;
        let current = rows
            .iter()
            .find(|r| r.code == code)
            .ok_or(AppError::NotFound("category"))?;
        let row = CategoryRow {
            parent_id: current.parent_id,
            sort: current.sort,
            ..row
        };
        tx.upsert_category(&row, now()).await?;
        tx.commit().await?;
        self.caches.clear();
        let parent = existing.parent.clone();
        CategoryView::from_row(row, parent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_hold_the_seed_classes_and_the_national_list() {
        let d = defaults();
        assert!(
            d.iter()
                .any(|c| c.name == "邻里纠纷" && c.tier == Tier::MicroGrid)
        );
        let leaves = d
            .iter()
            .filter(|c| c.kind == "component" || c.kind == "matter")
            .count();
        assert_eq!(leaves, 403, "153 components and 250 matters");
        let mut codes: Vec<&str> = d.iter().map(|c| c.code.as_str()).collect();
        codes.sort();
        let n = codes.len();
        codes.dedup();
        assert_eq!(codes.len(), n, "codes are unique");
        assert!(d.iter().all(|c| {
            c.parent
                .as_ref()
                .is_none_or(|p| d.iter().any(|q| &q.code == p))
        }));
    }
}
