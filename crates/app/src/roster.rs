//! The roster: who serves which node of the grid (微网格员, 楼栋长, 专职网格员, 网格长 …), with or
//! without an account; party member, since when, training. It is what the map's cell panel and
//! the contact cards show. Anyone who reads a node reads its roster; community staff and the
//! street admin keep it, by hand or from a CSV/XLSX file.

use crate::auth::Audit;
use crate::error::parse_scope;
use crate::table::{ExportFormat, RowError, read_table, rows_refused, tick, write_table};
use crate::{App, AppError, Ctx, Result, now};
use domain::{AuditAction, Duty, GridCode, Outcome, Permission, Phone};
use serde::{Deserialize, Serialize};
use store::{NewStaff, StaffRow, Tx};

/// A member of the roster.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StaffView {
    pub id: i64,
    /// The node they serve.
    pub node: String,
    pub node_name: String,
    /// `micro_grid_worker`, `building_head`, `unit_head`, `grid_worker`, `part_time_grid_worker`,
    /// `grid_head`, `general_grid_head`, `grid_instructor`, `community_police`, `property_staff`
    /// or `volunteer`.
    pub duty: String,
    pub duty_label: &'static str,
    pub name: String,
    /// Their work phone, as printed on the contact cards.
    pub phone: Option<String>,
    pub party_member: bool,
    /// Serving since (YYYY-MM-DD).
    pub since: Option<String>,
    pub training: String,
    /// For a building head: the building's address.
    pub building: Option<String>,
    /// Their Weige account, if they have one.
    pub username: Option<String>,
}

impl From<StaffRow> for StaffView {
    fn from(r: StaffRow) -> Self {
        StaffView {
            id: r.id,
            duty_label: Duty::parse(&r.duty).map_or("", Duty::label_zh),
            node: r.node_code,
            node_name: r.node_name,
            duty: r.duty,
            name: r.name,
            phone: r.phone,
            party_member: r.party_member,
            since: r.since,
            training: r.training,
            building: r.building,
            username: r.username,
        }
    }
}

/// What is known of a member, as entered.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct StaffInput {
    /// The code of the node they serve.
    pub node: String,
    /// A duty code or its Chinese name (see [`StaffView::duty`]).
    pub duty: String,
    pub name: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub party_member: bool,
    /// YYYY-MM-DD.
    #[serde(default)]
    pub since: Option<String>,
    #[serde(default)]
    pub training: String,
    /// For a building head: the building's address as lists print it (柳城大道8号 和平小区3栋).
    #[serde(default)]
    pub building: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
}

/// The columns of the roster file, in order.
pub const ROSTER_COLUMNS: [&str; 9] = [
    "网格编码",
    "职责",
    "姓名",
    "电话",
    "党员",
    "任职时间",
    "培训情况",
    "楼栋",
    "账号",
];

#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RosterImportReport {
    pub added: usize,
    pub updated: usize,
    pub skipped: Vec<RowError>,
}

/// A member checked against the store, ready to write.
struct Checked {
    node: GridCode,
    node_id: i64,
    duty: Duty,
    name: String,
    phone: Option<String>,
    party_member: bool,
    since: Option<String>,
    training: String,
    building_id: Option<i64>,
    account_id: Option<i64>,
}

impl Checked {
    fn new_staff(&self) -> NewStaff<'_> {
        NewStaff {
            node_id: self.node_id,
            scope_code: self.node.as_str(),
            duty: self.duty.as_str(),
            name: &self.name,
            phone: self.phone.as_deref(),
            party_member: self.party_member,
            since: self.since.as_deref(),
            training: &self.training,
            building_id: self.building_id,
            account_id: self.account_id,
            now: now(),
        }
    }
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && (1..=12).contains(&s[5..7].parse::<u32>().unwrap_or(0))
        && (1..=31).contains(&s[8..10].parse::<u32>().unwrap_or(0))
}

/// Checks a member's fields and finds what they refer to; errors name the field.
async fn check(tx: &mut Tx, input: &StaffInput) -> Result<Checked> {
    let node = parse_scope("node", input.node.trim())?;
    let duty = Duty::parse(input.duty.trim()).ok_or_else(|| {
        AppError::invalid(
            "duty",
            format!(
                "未知职责 {:?}，可选：{} / unknown duty",
                input.duty,
                Duty::ALL.map(Duty::label_zh).join("、")
            ),
        )
    })?;
    if let Some(level) = duty.level()
        && level != node.level()
    {
        return Err(AppError::invalid(
            "node",
            format!(
                "{}须在{}层级 / a {} serves a {} node",
                duty.label_zh(),
                level.label_zh(),
                duty.label_en(),
                level.as_str()
            ),
        ));
    }
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 32 {
        return Err(AppError::invalid(
            "name",
            "姓名必填，最多 32 个字符 / name: required, at most 32 characters",
        ));
    }
    let phone = match input.phone.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(p) => Some(
            Phone::parse(p)
                .map_err(|e| AppError::invalid("phone", e.to_string()))?
                .as_str()
                .to_owned(),
        ),
    };
    let since = match input.since.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(d) if is_date(d) => Some(d.to_owned()),
        Some(d) => {
            return Err(AppError::invalid(
                "since",
                format!("日期须为 YYYY-MM-DD，不是 {d:?} / a date as YYYY-MM-DD"),
            ));
        }
    };
    let training = input.training.trim().to_owned();
    if training.chars().count() > 200 {
        return Err(AppError::invalid(
            "training",
            "最多 200 个字符 / at most 200 characters",
        ));
    }
    let node_id = tx
        .grid_node_by_code(node.as_str())
        .await?
        .ok_or_else(|| {
            AppError::invalid(
                "node",
                format!("没有编码为 {node} 的网格 / no such grid node"),
            )
        })?
        .id;
    let building_id = match input.building.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(label) => match tx.building_by_label(label).await? {
            Some((id, scope)) if node.contains(&parse_scope("building", &scope)?) => Some(id),
            Some(_) => {
                return Err(AppError::invalid(
                    "building",
                    format!("楼栋 {label} 不在 {node} 内 / that building is not inside the node"),
                ));
            }
            None => {
                return Err(AppError::invalid(
                    "building",
                    format!("没有地址为 {label} 的楼栋 / no such building"),
                ));
            }
        },
    };
    let account_id = match input.username.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(u) => Some(
            tx.account_by_username(u)
                .await?
                .ok_or_else(|| {
                    AppError::invalid("username", format!("没有账号 {u} / no such account"))
                })?
                .id,
        ),
    };
    Ok(Checked {
        node,
        node_id,
        duty,
        name: name.to_owned(),
        phone,
        party_member: input.party_member,
        since,
        training,
        building_id,
        account_id,
    })
}

impl App {
    /// The roster inside `scope` (default: the caller's), optionally of one duty, in entry order.
    pub async fn roster(
        &self,
        ctx: &Ctx,
        scope: &str,
        duty: Option<&str>,
    ) -> Result<Vec<StaffView>> {
        let scope = parse_scope("scope", scope)?;
        let duty = match duty.filter(|d| !d.is_empty()) {
            None => None,
            Some(d) => Some(Duty::parse(d).ok_or_else(|| {
                AppError::invalid("duty", format!("未知职责 / unknown duty {d:?}"))
            })?),
        };
        self.require(
            ctx,
            Permission::ReadGrid,
            &scope,
            &format!("roster of {scope}"),
        )
        .await?;
        let mut tx = self.store.read().await?;
        let mut out = Vec::new();
        let mut after = 0;
        loop {
            let page = tx
                .staff_in_scope_roster(scope.as_str(), duty.map(Duty::as_str), after, 2_000)
                .await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            out.extend(page.into_iter().map(StaffView::from));
        }
        Ok(out)
    }

    /// Who serves exactly this node.
    pub async fn node_staff(&self, ctx: &Ctx, code: &str) -> Result<Vec<StaffView>> {
        let code = parse_scope("code", code)?;
        self.require(
            ctx,
            Permission::ReadGrid,
            &code,
            &format!("staff of {code}"),
        )
        .await?;
        let mut tx = self.store.read().await?;
        if tx.grid_node_by_code(code.as_str()).await?.is_none() {
            return Err(AppError::NotFound("grid node"));
        }
        let mut staff: Vec<StaffView> = tx
            .staff_of_node(code.as_str())
            .await?
            .into_iter()
            .map(StaffView::from)
            .collect();
        // In the order of the duties: the micro-grid worker before the building heads.
        staff.sort_by_key(|s| Duty::ALL.iter().position(|d| d.as_str() == s.duty));
        Ok(staff)
    }

    /// Adds a member to the roster of a node inside the caller's scope.
    pub async fn add_staff(&self, ctx: &Ctx, input: &StaffInput) -> Result<StaffView> {
        let node = parse_scope("node", input.node.trim())?;
        self.require(
            ctx,
            Permission::ManageRoster,
            &node,
            &format!("roster of {node}"),
        )
        .await?;
        let mut tx = self.store.write().await?;
        let c = check(&mut tx, input).await?;
        if tx
            .staff_id_by_key(c.node_id, c.duty.as_str(), &c.name)
            .await?
            .is_some()
        {
            return Err(AppError::Conflict(format!(
                "{} 已是 {} 的{} / already on the roster",
                c.name,
                c.node,
                c.duty.label_zh()
            )));
        }
        let id = tx.insert_staff(&c.new_staff()).await?;
        let row = tx
            .staff_by_id(id)
            .await?
            .ok_or(AppError::NotFound("staff"))?;
        tx.commit().await?;
        self.caches.clear_holders();
        Ok(row.into())
    }

    /// Replaces what is known of a member; both the old and the new node must be in scope.
    pub async fn update_staff(&self, ctx: &Ctx, id: i64, input: &StaffInput) -> Result<StaffView> {
        let node = parse_scope("node", input.node.trim())?;
        let old = self.staff_in_reach(ctx, id).await?;
        self.require(
            ctx,
            Permission::ManageRoster,
            &node,
            &format!("roster of {node}"),
        )
        .await?;
        let mut tx = self.store.write().await?;
        let c = check(&mut tx, input).await?;
        if let Some(other) = tx
            .staff_id_by_key(c.node_id, c.duty.as_str(), &c.name)
            .await?
            && other != old.id
        {
            return Err(AppError::Conflict(format!(
                "{} 已是 {} 的{} / already on the roster",
                c.name,
                c.node,
                c.duty.label_zh()
            )));
        }
        tx.update_staff(id, &c.new_staff()).await?;
        let row = tx
            .staff_by_id(id)
            .await?
            .ok_or(AppError::NotFound("staff"))?;
        tx.commit().await?;
        self.caches.clear_holders();
        Ok(row.into())
    }

    pub async fn remove_staff(&self, ctx: &Ctx, id: i64) -> Result<()> {
        self.staff_in_reach(ctx, id).await?;
        let mut tx = self.store.write().await?;
        if !tx.delete_staff(id).await? {
            return Err(AppError::NotFound("staff"));
        }
        tx.commit().await?;
        self.caches.clear_holders();
        Ok(())
    }

    /// A member whose node the caller may keep the roster of.
    async fn staff_in_reach(&self, ctx: &Ctx, id: i64) -> Result<StaffRow> {
        let row = self
            .store
            .read()
            .await?
            .staff_by_id(id)
            .await?
            .ok_or(AppError::NotFound("staff"))?;
        let node = parse_scope("node", &row.node_code)?;
        self.require(ctx, Permission::ManageRoster, &node, &format!("staff {id}"))
            .await?;
        Ok(row)
    }

    /// The roster of a scope as CSV or XLSX, in the columns the import reads
    /// ([`ROSTER_COLUMNS`]), for those who keep it. Work phones are personal data: the export
    /// is audited.
    pub async fn export_roster(
        &self,
        ctx: &Ctx,
        scope: &str,
        format: ExportFormat,
    ) -> Result<Vec<u8>> {
        let code = parse_scope("scope", scope)?;
        self.require(
            ctx,
            Permission::ManageRoster,
            &code,
            &format!("export of the roster of {code}"),
        )
        .await?;
        let staff = self.roster(ctx, scope, None).await?;
        let rows: Vec<Vec<String>> = staff
            .iter()
            .map(|s| {
                vec![
                    s.node.clone(),
                    s.duty_label.to_owned(),
                    s.name.clone(),
                    s.phone.clone().unwrap_or_default(),
                    (if s.party_member { "是" } else { "否" }).to_owned(),
                    s.since.clone().unwrap_or_default(),
                    s.training.clone(),
                    s.building.clone().unwrap_or_default(),
                    s.username.clone().unwrap_or_default(),
                ]
            })
            .collect();
        let bytes = write_table(format, "人员名册", &ROSTER_COLUMNS, &rows)?;
        let mut tx = self.store.write().await?;
        self.audit(
            &mut tx,
            ctx,
            None,
            Audit {
                action: AuditAction::PersonalDataExported,
                target: &format!("roster of {scope}"),
                outcome: Outcome::Success,
                scope: Some(scope),
                detail: &format!("{} rows, {}", rows.len(), format.as_str()),
            },
        )
        .await?;
        tx.commit().await?;
        self.caches.clear_holders();
        Ok(bytes)
    }

    /// Imports the roster from CSV or XLSX ([`ROSTER_COLUMNS`]): a row whose node, duty and name
    /// are on the roster already updates that member; others are added. Every row is checked
    /// first; while any is bad nothing is written, unless `skip_bad_rows`.
    pub async fn import_roster(
        &self,
        ctx: &Ctx,
        file: &[u8],
        skip_bad_rows: bool,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<RosterImportReport> {
        let records = read_table(file, &ROSTER_COLUMNS)?;
        let body = &records[1..];
        let scopes = body
            .iter()
            .filter_map(|r| GridCode::parse(r[0].trim()).ok());
        self.require_each(
            ctx,
            Permission::ManageRoster,
            scopes,
            "import of the roster",
        )
        .await?;
        let mut tx = self.store.write().await?;
        let (mut good, mut bad) = (Vec::new(), Vec::new());
        let mut seen = std::collections::HashSet::new();
        for (i, r) in body.iter().enumerate() {
            let line = i + 2;
            let input = StaffInput {
                node: r[0].clone(),
                duty: r[1].clone(),
                name: r[2].clone(),
                phone: Some(r[3].clone()),
                party_member: matches!(
                    r[4].trim(),
                    "是" | "党员" | "中共党员" | "yes" | "true" | "1"
                ),
                since: Some(r[5].clone()),
                training: r[6].clone(),
                building: Some(r[7].clone()),
                username: Some(r[8].clone()),
            };
            if !matches!(
                r[4].trim(),
                "" | "是"
                    | "否"
                    | "党员"
                    | "中共党员"
                    | "群众"
                    | "yes"
                    | "no"
                    | "true"
                    | "false"
                    | "1"
                    | "0"
            ) {
                bad.push(RowError::new(
                    line,
                    ROSTER_COLUMNS[4],
                    "须为 是 或 否 / 是 or 否",
                ));
                continue;
            }
            match check(&mut tx, &input).await {
                Ok(c) if !seen.insert((c.node_id, c.duty, c.name.clone())) => {
                    bad.push(RowError::new(
                        line,
                        ROSTER_COLUMNS[2],
                        "文件中重复 / appears twice in the file",
                    ))
                }
                Ok(c) => good.push(c),
                Err(AppError::Invalid { field, message }) => {
                    let column = match field {
                        "node" => 0,
                        "duty" => 1,
                        "name" => 2,
                        "phone" => 3,
                        "since" => 5,
                        "training" => 6,
                        "building" => 7,
                        _ => 8,
                    };
                    bad.push(RowError::new(line, ROSTER_COLUMNS[column], message));
                }
                Err(e) => return Err(e),
            }
        }
        if !bad.is_empty() && !skip_bad_rows {
            return Err(rows_refused(&bad));
        }
        let mut report = RosterImportReport {
            skipped: bad,
            ..Default::default()
        };
        let total = good.len();
        for (n, c) in good.iter().enumerate() {
            match tx
                .staff_id_by_key(c.node_id, c.duty.as_str(), &c.name)
                .await?
            {
                Some(id) => {
                    tx.update_staff(id, &c.new_staff()).await?;
                    report.updated += 1;
                }
                None => {
                    tx.insert_staff(&c.new_staff()).await?;
                    report.added += 1;
                }
            }
            tick(progress, n + 1, total);
        }
        tx.commit().await?;
        self.caches.clear_holders();
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_checked() {
        assert!(is_date("2024-03-01"));
        assert!(!is_date("2024-13-01"));
        assert!(!is_date("2024/03/01"));
        assert!(!is_date("24-03-01"));
    }
}
