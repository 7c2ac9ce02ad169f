//! Cases: intake from every channel, routing to the micro-grid, the default handler of the
//! category's tier, every transition of the closed loop with its role and scope checked, clocks
//! per stage and for the whole case on the working calendar, and the append-only history.
//! Two people acting on one case at once: the second is told (HTTP 409) and nothing is lost.

use crate::categories::CategoryView;
use crate::error::parse_scope;
use crate::files::{MAX_PHOTOS, Photo};
use crate::map::NodeRef;
use crate::{App, AppError, Ctx, Result, now};
use domain::calendar::{Day, LimitUnit, WorkingCalendar};
use domain::case::{Action, Closure, Satisfaction, Status, Tier, next};
use domain::{GridCode, Level, Millis, Permission, Phone};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use store::{CaseChange, CaseFilter, CaseRow, NewCase, NewCaseEvent, Tx};

/// Where a case came from.
pub const CHANNELS: [(&str, &str); 8] = [
    ("resident_page", "居民扫码上报"),
    ("patrol", "网格员巡查"),
    ("phone", "电话"),
    ("api", "系统对接"),
    ("open311", "Open311"),
    ("wechat", "微信群"),
    ("hotline", "12345 热线"),
    ("city_app", "城市随手拍"),
];

pub const MAX_DESCRIPTION: usize = 4_000;

/// A report, from any channel.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct CaseInput {
    /// A category code that takes cases (see `/api/v1/categories`).
    pub category: String,
    pub description: String,
    /// `resident_page`, `patrol`, `phone`, `api`, `open311`, `wechat`, `hotline`; staff default to
    /// `patrol`, API keys to `api`.
    #[serde(default)]
    pub channel: Option<String>,
    /// The micro-grid, e.g. from the QR code on its contact card.
    #[serde(default)]
    pub micro_grid: Option<String>,
    /// A map pin (WGS84); it wins over the micro-grid when both are given.
    #[serde(default)]
    pub lon: Option<f64>,
    #[serde(default)]
    pub lat: Option<f64>,
    /// Where, in words; with neither pin nor micro-grid, the address finds the building.
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub reporter_name: Option<String>,
    /// Kept encrypted; shown masked; the last four digits let the reporter follow the case.
    #[serde(default)]
    pub reporter_phone: Option<String>,
    #[serde(default)]
    pub urgent: bool,
    /// A picture or video elsewhere (http or https), as Open311 clients send it; kept in the
    /// report's history entry.
    #[serde(default)]
    pub media_url: Option<String>,
    /// Answers to the category's extra questions, by question code: text, a number, or a list
    /// of choice keys.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub answers: std::collections::BTreeMap<String, serde_json::Value>,
}

/// A report's photos: sent with it, or stored before (a chat message's).
#[derive(Debug)]
pub(crate) enum Pictures {
    New(Vec<Photo>),
    Stored(Vec<(String, &'static str, usize)>),
}

/// What a report's history entry keeps beyond the case row.
fn report_extra(
    media_url: Option<String>,
    answers: std::collections::BTreeMap<String, serde_json::Value>,
) -> serde_json::Map<String, serde_json::Value> {
    let mut extra = serde_json::Map::new();
    if let Some(url) = media_url {
        extra.insert("media_url".into(), url.into());
    }
    if !answers.is_empty() {
        extra.insert("answers".into(), answers.into_iter().collect());
    }
    extra
}

/// The detail of a report's history entry (JSON): channel, category, tier, how many photos, and
/// what else there is (later keys win). Written as a struct where there is nothing else, which
/// spares a map of five allocations a report.
fn report_detail(
    channel: &str,
    category: &str,
    tier: &str,
    photos: usize,
    extra: serde_json::Map<String, serde_json::Value>,
    more: serde_json::Map<String, serde_json::Value>,
) -> String {
    #[derive(Serialize)]
    struct Plain<'a> {
        category: &'a str,
        channel: &'a str,
        photos: usize,
        tier: &'a str,
    }
    if extra.is_empty() && more.is_empty() {
        let plain = Plain {
            category,
            channel,
            photos,
            tier,
        };
        if let Ok(text) = serde_json::to_string(&plain) {
            return text;
        }
    }
    let mut detail = serde_json::Map::new();
    detail.insert("channel".into(), channel.into());
    detail.insert("category".into(), category.into());
    detail.insert("tier".into(), tier.into());
    detail.insert("photos".into(), photos.into());
    detail.extend(extra);
    detail.extend(more);
    serde_json::Value::Object(detail).to_string()
}

/// A new case, and how its reporter follows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaseCreated {
    pub id: i64,
    pub number: String,
    pub status: String,
    pub micro_grid: NodeRef,
    /// The private token of the follow link `/track/{number}?t={token}`; shown once.
    pub follow_token: String,
    /// Set when an open case of the same category is near: a possible duplicate.
    pub possible_duplicate_of: Option<String>,
}

/// A transition asked for.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ActInput {
    /// `accept`, `reject`, `dispatch`, `claim`, `return`, `handle`, `start_verification`,
    /// `pass`, `fail`, `rate`, `escalate`, `request_extension`, `grant_extension`,
    /// `deny_extension`, `park`, `resume`, `supervise`, `merge`, `force_close`, `comment`.
    pub action: String,
    /// The version of the case the caller saw; an older one is refused with 409.
    pub version: i64,
    #[serde(default)]
    pub reason: String,
    /// For `dispatch`: the username of the handler (default: the category's handler at the tier).
    #[serde(default)]
    pub to: Option<String>,
    /// For `rate`: `satisfied`, `fair` or `unsatisfied`.
    #[serde(default)]
    pub satisfaction: Option<String>,
    /// For `merge`: the number of the case this one joins.
    #[serde(default)]
    pub merge_into: Option<String>,
}

/// A question of the category and the reporter's answer to it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AnswerView {
    pub question: String,
    pub answer: String,
}

/// One entry of a case's history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaseEventView {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub action_label: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub reason: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PhotoView {
    pub id: i64,
    /// `before` (with the report) or `after` (with the handling).
    pub phase: String,
    pub mime: String,
    pub bytes: i64,
}

/// A clock's state: `green`, `yellow` (past the warning share), `red` (over), `paused`, `done`.
pub fn clock(
    now: i64,
    warn_at: Option<i64>,
    deadline: Option<i64>,
    paused: bool,
    done: bool,
) -> &'static str {
    match (done, paused, deadline) {
        (true, _, _) | (_, _, None) => "done",
        (_, true, _) => "paused",
        (_, _, Some(d)) if now > d => "red",
        _ if warn_at.is_some_and(|w| now >= w) => "yellow",
        _ => "green",
    }
}

/// A case as lists show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaseSummary {
    pub id: i64,
    pub number: String,
    pub channel: String,
    pub category: String,
    pub category_name: String,
    pub description: String,
    pub address: String,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub micro_grid: String,
    pub status: String,
    pub status_label: &'static str,
    pub tier: String,
    pub holder: Option<String>,
    pub urgent: bool,
    pub supervised: bool,
    pub stage: Option<String>,
    pub stage_deadline: Option<i64>,
    pub case_deadline: i64,
    /// The worse of the stage's and the whole case's clocks.
    pub clock: &'static str,
    pub created_at: i64,
    pub version: i64,
}

/// A case with everything the case page shows.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaseView {
    #[serde(flatten)]
    pub summary: CaseSummary,
    pub need_type: Option<String>,
    pub micro_grid_name: Option<String>,
    pub grid: Option<NodeRef>,
    pub community: Option<NodeRef>,
    pub holder_node: Option<String>,
    pub solved_tier: Option<String>,
    pub reporter_name: Option<String>,
    /// Masked.
    pub reporter_phone: Option<String>,
    pub stage_warn_at: Option<i64>,
    pub case_warn_at: i64,
    pub stage_clock: &'static str,
    pub case_clock: &'static str,
    pub closure: Option<String>,
    pub satisfaction: Option<String>,
    pub satisfaction_comment: Option<String>,
    pub merged_into: Option<String>,
    pub closed_at: Option<i64>,
    pub updated_at: i64,
    pub closing_conditions: String,
    /// The reporter's answers to the category's extra questions, in the order asked.
    pub answers: Vec<AnswerView>,
    /// A picture or video elsewhere that the report named (Open311 `media_url`).
    pub media_url: Option<String>,
    /// The work order it was transferred as, with its original times.
    pub transfer: Option<crate::TransferView>,
    pub history: Vec<CaseEventView>,
    pub photos: Vec<PhotoView>,
    /// What the caller may do now.
    pub actions: Vec<String>,
}

/// Which cases to list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct CaseQuery {
    /// A grid code; default: the caller's scope.
    pub scope: Option<String>,
    /// Statuses, comma-separated.
    pub status: Option<String>,
    pub category: Option<String>,
    pub tier: Option<String>,
    pub channel: Option<String>,
    /// Only cases reported from this phone number (a caller's earlier cases).
    pub phone: Option<String>,
    /// Only cases the caller holds.
    #[serde(default)]
    pub mine: bool,
    /// Only open cases past a deadline.
    #[serde(default)]
    pub overdue: bool,
    /// Reported on or after this day (YYYY-MM-DD).
    pub from: Option<String>,
    /// Reported before this day (YYYY-MM-DD).
    pub to: Option<String>,
    /// Keyset: cases older than this id (from `next_before`).
    pub before: Option<i64>,
    /// At most this many (default 50, at most 200).
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaseList {
    pub items: Vec<CaseSummary>,
    /// Pass as `before` for the next page; absent on the last.
    pub next_before: Option<i64>,
}

/// What the reporter sees through the follow link.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TrackView {
    pub number: String,
    pub category_name: String,
    pub description: String,
    pub status: String,
    pub status_label: &'static str,
    pub micro_grid_name: Option<String>,
    pub created_at: i64,
    pub satisfaction: Option<String>,
    /// Whether the reporter may verify and rate now.
    pub can_rate: bool,
    /// When the case was merged into another: that case's number and state, which is now this
    /// reporter's too.
    pub merged_into: Option<String>,
    pub merged_status_label: Option<&'static str>,
    pub history: Vec<TrackEvent>,
    pub photos: Vec<PhotoView>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TrackEvent {
    pub at: i64,
    pub action_label: String,
    pub status_label: &'static str,
}

fn status_of(s: &str) -> Result<Status> {
    Status::parse(s).ok_or_else(|| AppError::Internal(format!("unknown status {s}")))
}

fn tier_of(s: &str) -> Result<Tier> {
    Tier::parse(s).ok_or_else(|| AppError::Internal(format!("unknown tier {s}")))
}

/// The stage a status's clock belongs to.
fn stage_of(s: Status) -> Option<&'static str> {
    match s {
        Status::Reported => Some("accept"),
        Status::Accepted | Status::Returned => Some("dispatch"),
        Status::Dispatched
        | Status::InProgress
        | Status::Rework
        | Status::ExtensionRequested
        | Status::Parked => Some("handle"),
        Status::Handled | Status::Verifying => Some("verify"),
        Status::Closed | Status::Rejected | Status::Merged => None,
    }
}

/// The node of the tree a tier works at, for a case in micro-grid `micro`.
pub(crate) fn tier_node(micro: &str, tier: Tier) -> String {
    let len = match tier {
        Tier::MicroGrid => Level::MicroGrid.code_len(),
        Tier::Grid => Level::Grid.code_len(),
        Tier::Community => Level::Community.code_len(),
        Tier::Street | Tier::Department => Level::Street.code_len(),
    };
    micro.get(..len).unwrap_or(micro).to_owned()
}

/// The permission an action needs on the case's scope.
fn permission_for(action: Action) -> Permission {
    match action {
        Action::Accept
        | Action::Reject
        | Action::Merge
        | Action::Dispatch
        | Action::StartVerification
        | Action::Pass
        | Action::Fail
        | Action::Rate => Permission::DispatchCase,
        Action::Claim
        | Action::Return
        | Action::Handle
        | Action::RequestExtension
        | Action::Park
        | Action::Resume
        | Action::Escalate => Permission::HandleCase,
        Action::GrantExtension | Action::DenyExtension | Action::Supervise | Action::ForceClose => {
            Permission::SuperviseCase
        }
        Action::Comment => Permission::ReadCases,
    }
}

/// Where an action's permission is checked: taking, handling and sending a case on happen at
/// the node of its tier (a grid's case is not the micro-grid worker's to accept); reading,
/// commenting, verifying and supervising anywhere above the case's micro-grid.
fn place_for(c: &CaseRow, action: Action) -> &str {
    match action {
        Action::Accept
        | Action::Reject
        | Action::Dispatch
        | Action::Merge
        | Action::Claim
        | Action::Return
        | Action::Handle
        | Action::RequestExtension
        | Action::Park
        | Action::Resume
        | Action::Escalate => c.holder_node.as_deref().unwrap_or(&c.scope_code),
        _ => &c.scope_code,
    }
}

/// At most [`MAX_PHOTOS`] photos go with a report or an action.
fn check_photo_count(photos: &[Photo]) -> Result<()> {
    if photos.len() > MAX_PHOTOS {
        return Err(AppError::invalid(
            "photos",
            format!("最多 {MAX_PHOTOS} 张照片 / at most {MAX_PHOTOS} photos"),
        ));
    }
    Ok(())
}

/// Actions a handler takes on a case they hold; another may take them only with dispatch rights.
fn holder_only(action: Action) -> bool {
    matches!(
        action,
        Action::Return | Action::Handle | Action::RequestExtension | Action::Park | Action::Resume
    )
}

impl App {
    /// The working calendar: the built-in holidays, the configured working hours, and the days
    /// the street has marked.
    pub async fn calendar(&self) -> Result<WorkingCalendar> {
        Ok(self.shared_calendar().await?.as_ref().clone())
    }

    /// The calendar, shared and cached for [`crate::CACHE_TTL`].
    async fn shared_calendar(&self) -> Result<std::sync::Arc<WorkingCalendar>> {
        if let Some(c) = crate::Caches::get(&self.caches.calendar) {
            return Ok(c);
        }
        let c = std::sync::Arc::new(self.read_calendar().await?);
        crate::Caches::put(&self.caches.calendar, std::sync::Arc::clone(&c));
        Ok(c)
    }

    async fn read_calendar(&self) -> Result<WorkingCalendar> {
        let mut c = WorkingCalendar::china();
        if let Ok(with_hours) = WorkingCalendar::new(&self.settings.working_hours) {
            let mut h = with_hours;
            for (d, k) in c.exceptions() {
                h.set(d, Some(k));
            }
            c = h;
        }
        for (day, kind, _) in self.store.read().await?.calendar_days().await? {
            if let Some(d) = Day::parse(&day) {
                c.set(
                    d,
                    match kind.as_str() {
                        "holiday" => Some(domain::calendar::DayKind::Holiday),
                        "workday" => Some(domain::calendar::DayKind::Workday),
                        _ => None,
                    },
                );
            }
        }
        Ok(c)
    }

    /// Marks a day as a holiday, a worked weekend day, or (`normal`) as its weekday says.
    pub async fn set_calendar_day(
        &self,
        ctx: &Ctx,
        day: &str,
        kind: &str,
        note: &str,
    ) -> Result<()> {
        self.require_anywhere(
            ctx,
            Permission::ConfigureCatalog,
            &format!("calendar {day}"),
        )
        .await?;
        let d = Day::parse(day).ok_or_else(|| {
            AppError::invalid("day", "日期须为 YYYY-MM-DD / a date as YYYY-MM-DD")
        })?;
        if !matches!(kind, "holiday" | "workday" | "normal") {
            return Err(AppError::invalid(
                "kind",
                "须为 holiday、workday 或 normal / holiday, workday or normal",
            ));
        }
        let mut tx = self.store.write().await?;
        tx.set_calendar_day(&d.to_string(), kind, note.trim())
            .await?;
        tx.commit().await?;
        self.caches.clear();
        Ok(())
    }

    /// The default holder of a case at `tier`: the node, and the account of the roster member
    /// whose duty it is there, when they have one. Read in `tx`, or when there is none (and the
    /// roster is not cached) on a reading connection of its own.
    async fn default_holder(
        &self,
        tx: Option<&mut Tx>,
        category: &CategoryView,
        tier: Tier,
        micro: &str,
    ) -> Result<(String, Option<i64>)> {
        let node = tier_node(micro, tier);
        let (at, duty) = match (tier, category.handler.as_str()) {
            (Tier::MicroGrid | Tier::Grid, "partner") => {
                (tier_node(micro, Tier::Community), "property_staff")
            }
            (Tier::MicroGrid, _) => (node.clone(), "micro_grid_worker"),
            (Tier::Grid, _) => (node.clone(), "grid_worker"),
            (Tier::Community, _) => (node.clone(), "general_grid_head"),
            _ => return Ok((node, None)),
        };
        let account = match self.caches.holder(&at, duty) {
            Some(account) => account,
            None => {
                let account = match tx {
                    Some(tx) => tx.staff_account(&at, duty).await?,
                    None => {
                        self.store
                            .read_once()
                            .await?
                            .staff_account(&at, duty)
                            .await?
                    }
                };
                self.caches.put_holder(&at, duty, account);
                account
            }
        };
        Ok((node, account))
    }

    /// Takes a report: checks it, routes it to its micro-grid, numbers it, sets its clocks and
    /// its first holder, stores its photos, writes its history. Anyone may report from the
    /// resident page; staff and API keys need `ReportCase` on the place.
    pub async fn report_case(
        &self,
        ctx: &Ctx,
        input: &CaseInput,
        photos: Vec<Photo>,
    ) -> Result<CaseCreated> {
        self.take_report(
            ctx,
            input,
            Pictures::New(photos),
            None,
            serde_json::Map::new(),
        )
        .await
    }

    /// [`App::report_case`], with photos perhaps stored already, what else is written with the
    /// case, and more for its history entry.
    pub(crate) async fn take_report(
        &self,
        ctx: &Ctx,
        input: &CaseInput,
        pictures: Pictures,
        link: Option<crate::intake::Link>,
        more: serde_json::Map<String, serde_json::Value>,
    ) -> Result<CaseCreated> {
        if self.cipher.is_none() {
            return Err(AppError::Internal("no data key is configured".into()));
        }
        let description = input.description.trim();
        if description.is_empty() || description.chars().count() > MAX_DESCRIPTION {
            return Err(AppError::invalid(
                "description",
                format!(
                    "请描述问题，最多 {MAX_DESCRIPTION} 字 / describe the problem in at most {MAX_DESCRIPTION} characters"
                ),
            ));
        }
        if let Pictures::New(photos) = &pictures {
            check_photo_count(photos)?;
        }
        let anonymous = matches!(ctx.actor, crate::Actor::Anonymous);
        let channel = match (input.channel.as_deref(), &ctx.actor) {
            (Some(c), _) if CHANNELS.iter().any(|(k, _)| *k == c) => c.to_owned(),
            (Some(c), _) => {
                return Err(AppError::invalid(
                    "channel",
                    format!("未知渠道 {c:?} / unknown channel"),
                ));
            }
            (None, crate::Actor::Anonymous) => "resident_page".into(),
            (None, crate::Actor::ApiKey { .. }) => "api".into(),
            (None, _) => "patrol".into(),
        };
        if anonymous && channel != "resident_page" {
            return Err(AppError::Unauthenticated);
        }
        let phone = match input.reporter_phone.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(p) => Some(
                Phone::parse(p).map_err(|e| AppError::invalid("reporter_phone", e.to_string()))?,
            ),
        };
        let reporter_name = input
            .reporter_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| n.chars().take(32).collect::<String>());
        let address: String = input.address.trim().chars().take(200).collect();
        let media_url = match input.media_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(u)
                if u.len() <= 1_000
                    && (u.starts_with("http://") || u.starts_with("https://"))
                    && !u.chars().any(char::is_whitespace) =>
            {
                Some(u.to_owned())
            }
            Some(_) => {
                return Err(AppError::invalid(
                    "media_url",
                    "须为 http(s) 网址，最长 1000 字符 / an http(s) URL of at most 1000 characters",
                ));
            }
        };
        let category = self.category_for_case(input.category.trim()).await?;
        let answers = crate::questions::check_answers(&category.questions, &input.answers)?;
        let micro = self.route_report(input, &address).await?;
        // A confirmed chat draft was checked against its group's place; its pin may lie in a
        // neighbouring micro-grid, where the case then goes.
        let confirmed_draft = matches!(link, Some(crate::intake::Link::Chat { .. }));
        if !anonymous && !confirmed_draft {
            self.require(
                ctx,
                Permission::ReportCase,
                &micro,
                &format!("report in {micro}"),
            )
            .await?;
        }
        let stored = match pictures {
            Pictures::New(photos) => self.store_photos(&photos).await?,
            Pictures::Stored(stored) => stored,
        };
        let calendar = self.shared_calendar().await?;
        let now = now();
        let tier = tier_of(&category.tier)?;
        let case_deadline = calendar.deadline(now, category.limits.case);
        let case_warn = calendar.warning(
            now,
            case_deadline,
            category.limits.case.unit,
            category.warn_share,
        );
        let accept = category.limits.accept;
        let stage_deadline = calendar.deadline(now, accept);
        let stage_warn = calendar.warning(now, stage_deadline, accept.unit, category.warn_share);
        let token = crate::random_hex(16)?;
        let token_hash = crate::secret::token_hash(&token);
        let street = &micro.as_str()[..Level::Street.code_len()];
        let (year, _, _) = Day::of(now).ymd();
        // Names and holders come from caches; the database is read only when one misses.
        let known = self.map.current().name(micro.as_str()).map(str::to_owned);
        let micro_name = match known {
            Some(name) => name,
            None => self
                .store
                .read_once()
                .await?
                .grid_node_by_code(micro.as_str())
                .await?
                .map(|n| n.name)
                .unwrap_or_default(),
        };
        let (holder_node, holder) = self
            .default_holder(None, &category, tier, micro.as_str())
            .await?;
        let address = if address.is_empty() {
            micro_name.clone()
        } else {
            address
        };
        let detail = report_detail(
            &channel,
            &category.code,
            tier.as_str(),
            stored.len(),
            report_extra(media_url, answers),
            more,
        );
        let written = self
            .write_report(crate::intake::PendingReport {
                street: street.to_owned(),
                year,
                case: NewCase {
                    channel,
                    category_id: category.id,
                    need_type: category.need_type.clone(),
                    urgent: input.urgent,
                    description: description.to_owned(),
                    address,
                    lon: input.lon,
                    lat: input.lat,
                    scope_code: micro.to_string(),
                    tier: tier.as_str(),
                    reporter_name,
                    reporter_phone: phone,
                    reporter_account_id: ctx.account_id(),
                    follow_token_hash: token_hash,
                    holder_account_id: holder,
                    holder_node,
                    stage_unit: accept.unit.as_str(),
                    stage_warn_at: stage_warn,
                    stage_deadline,
                    case_unit: category.limits.case.unit.as_str(),
                    case_warn_at: case_warn,
                    case_deadline,
                    now,
                },
                category_code: category.code.clone(),
                actor_name: self.actor_label(ctx),
                photos: stored,
                detail,
                duplicate_since: Millis(now.0 - self.settings.duplicate_window_hours * 3_600_000),
                link,
                follow_token: token.clone(),
            })
            .await?;
        Ok(CaseCreated {
            id: written.id,
            number: written.number,
            status: Status::Reported.as_str().into(),
            micro_grid: NodeRef {
                name: micro_name,
                code: micro.to_string(),
            },
            follow_token: token,
            possible_duplicate_of: written.possible_duplicate_of,
        })
    }

    /// Writes photos to the photo folder: (file, type, size) each.
    pub(crate) async fn store_photos(
        &self,
        photos: &[Photo],
    ) -> Result<Vec<(String, &'static str, usize)>> {
        check_photo_count(photos)?;
        let mut stored = Vec::new();
        if photos.is_empty() {
            return Ok(stored);
        }
        let files = self
            .files
            .as_ref()
            .ok_or_else(|| AppError::Internal("no photo folder is configured".into()))?;
        for p in photos {
            stored.push((files.put(p).await?, p.mime, p.bytes.len()));
        }
        Ok(stored)
    }

    /// The micro-grid of a report: its pin, else its micro-grid, else its address.
    pub(crate) async fn route_report(&self, input: &CaseInput, address: &str) -> Result<GridCode> {
        if let (Some(lon), Some(lat)) = (input.lon, input.lat) {
            // The index follows the map (edits here refresh it, the watcher catches other
            // servers' edits); a point it misses is tried again on a fresh read.
            if self.map.current().version == 0 {
                self.refresh_map().await?;
            }
            let at = match self.locate(lon, lat) {
                Ok(at) => at,
                Err(_) if self.refresh_map().await? => self.locate(lon, lat)?,
                Err(e) => return Err(e),
            };
            return parse_scope("lon", &at.micro_grid.code);
        }
        if let Some(code) = input.micro_grid.as_deref().filter(|c| !c.trim().is_empty()) {
            let code = parse_scope("micro_grid", code.trim())?;
            let known = self
                .store
                .read()
                .await?
                .grid_node_by_code(code.as_str())
                .await?
                .is_some();
            if code.level() != Level::MicroGrid || !known {
                return Err(AppError::invalid(
                    "micro_grid",
                    format!("没有编码为 {code} 的微网格 / no such micro-grid"),
                ));
            }
            return Ok(code);
        }
        if !address.is_empty() {
            let found = self
                .store
                .read()
                .await?
                .buildings_matching(address, 2)
                .await?;
            return match found.as_slice() {
                [(_, _, micro)] => parse_scope("address", micro),
                [] => Err(AppError::invalid(
                    "address",
                    "找不到该地址，请在地图上标出位置 / address not found: put a pin on the map",
                )),
                _ => Err(AppError::invalid(
                    "address",
                    "地址不够具体，请写到楼栋或在地图上标出 / the address matches several buildings",
                )),
            };
        }
        Err(AppError::invalid(
            "location",
            "请标出位置或填写地址 / give a pin, a micro-grid or an address",
        ))
    }

    fn actor_label(&self, ctx: &Ctx) -> String {
        match &ctx.actor {
            crate::Actor::Anonymous => "居民 / resident".into(),
            _ => ctx.actor_name(),
        }
    }

    /// A case the caller may read (404 when there is none, 403 outside their scope).
    async fn readable_case(&self, ctx: &Ctx, id: i64) -> Result<CaseRow> {
        let case = self
            .store
            .read()
            .await?
            .case_by_id(id)
            .await?
            .ok_or(AppError::NotFound("case"))?;
        let scope = parse_scope("scope", &case.scope_code)?;
        let target = format!("case {}", case.number);
        self.require(ctx, Permission::ReadCases, &scope, &target)
            .await?;
        if let Some(account) = self.involved_only(ctx, &scope) {
            let mut tx = self.store.read_once().await?;
            if !tx.case_involves(case.id, account).await? {
                drop(tx);
                return Err(self
                    .deny(ctx, Permission::ReadCases, &target, Some(&case.scope_code))
                    .await);
            }
        }
        Ok(case)
    }

    /// For a caller who reads only the cases they hold or have acted on (a department, a
    /// partner): their account.
    fn involved_only(&self, ctx: &Ctx, scope: &GridCode) -> Option<i64> {
        match ctx.actor {
            crate::Actor::Cli => None,
            _ if domain::access::reads_all_cases(&ctx.grants, scope) => None,
            _ => Some(ctx.account_id().unwrap_or(-1)),
        }
    }

    /// One case with its history, photos and what the caller may do.
    pub async fn case(&self, ctx: &Ctx, id: i64) -> Result<CaseView> {
        let case = self.readable_case(ctx, id).await?;
        self.case_view(ctx, case).await
    }

    async fn case_view(&self, ctx: &Ctx, c: CaseRow) -> Result<CaseView> {
        let categories = self.categories().await?;
        let category = categories.iter().find(|k| k.id == c.category_id);
        let names = self.chain_names(&c.scope_code).await?;
        let mut tx = self.store.read().await?;
        let holder = match c.holder_account_id {
            Some(a) => tx
                .account_by_id(a)
                .await?
                .map(|a| format!("{} ({})", a.display_name, a.username)),
            None => None,
        };
        let history = tx
            .case_events(c.id)
            .await?
            .into_iter()
            .map(|e| CaseEventView {
                at: e.at,
                actor: e.actor_name,
                action_label: Action::parse(&e.action)
                    .map_or_else(|| "上报".to_owned(), |a| a.label_zh().to_owned()),
                action: e.action,
                from_status: e.from_status,
                to_status: e.to_status,
                reason: e.reason,
                detail: serde_json::from_str(&e.detail).unwrap_or_default(),
            })
            .collect::<Vec<_>>();
        let photos = tx
            .case_photos(c.id)
            .await?
            .into_iter()
            .map(|p| PhotoView {
                id: p.id,
                phase: p.phase,
                mime: p.mime,
                bytes: p.bytes,
            })
            .collect();
        let merged_into = match c.merged_into {
            Some(m) => tx.case_by_id(m).await?.map(|c| c.number),
            None => None,
        };
        let transfer = self.transfer_view(&mut tx, c.id, &c.channel).await?;
        drop(tx);
        let status = status_of(&c.status)?;
        let now = now().0;
        let actions = Action::ALL
            .into_iter()
            .filter(|a| next(status, *a, true).is_ok())
            .filter(|a| self.may(ctx, &c, *a))
            .map(|a| a.as_str().to_owned())
            .collect();
        let node = |len: usize| {
            c.scope_code.get(..len).map(|code| NodeRef {
                code: code.to_owned(),
                name: names.get(code).cloned().unwrap_or_default(),
            })
        };
        let stage_clock = clock(
            now,
            c.stage_warn_at,
            c.stage_deadline,
            c.paused_at.is_some(),
            status.is_final(),
        );
        let case_clock = clock(
            now,
            Some(c.case_warn_at),
            Some(c.case_deadline),
            c.paused_at.is_some(),
            status.is_final(),
        );
        let report = history.iter().find(|e| e.action == "report");
        let answers = match report.and_then(|e| e.detail["answers"].as_object()) {
            Some(given) => crate::questions::answers_for_people(
                category.map_or(&[][..], |k| k.questions.as_slice()),
                given,
            )
            .into_iter()
            .map(|(question, answer)| AnswerView { question, answer })
            .collect(),
            None => Vec::new(),
        };
        let media_url = report.and_then(|e| e.detail["media_url"].as_str().map(str::to_owned));
        Ok(CaseView {
            transfer,
            answers,
            media_url,
            need_type: c.need_type.clone(),
            micro_grid_name: names.get(&c.scope_code).cloned(),
            grid: node(Level::Grid.code_len()),
            community: node(Level::Community.code_len()),
            holder_node: c.holder_node.clone(),
            solved_tier: c.solved_tier.clone(),
            reporter_name: c.reporter_name.clone(),
            reporter_phone: c.reporter_phone_masked.clone(),
            stage_warn_at: c.stage_warn_at,
            case_warn_at: c.case_warn_at,
            stage_clock,
            case_clock,
            closure: c.closure.clone(),
            satisfaction: c.satisfaction.clone(),
            satisfaction_comment: c.satisfaction_comment.clone(),
            merged_into,
            closed_at: c.closed_at,
            updated_at: c.updated_at,
            closing_conditions: category
                .map(|k| k.closing_conditions.clone())
                .unwrap_or_default(),
            history,
            photos,
            actions,
            summary: summary(c, category, holder, now),
        })
    }

    /// Whether the caller's grants allow `action` on the case (the state aside).
    fn may(&self, ctx: &Ctx, c: &CaseRow, action: Action) -> bool {
        let Ok(scope) = GridCode::parse(place_for(c, action)) else {
            return false;
        };
        let allowed = |p: Permission| {
            matches!(ctx.actor, crate::Actor::Cli) || domain::access::allows(&ctx.grants, p, &scope)
        };
        if !allowed(permission_for(action)) {
            return false;
        }
        if holder_only(action)
            && c.holder_account_id.is_some()
            && c.holder_account_id != ctx.account_id()
        {
            return allowed(Permission::DispatchCase);
        }
        true
    }

    /// Takes a transition. Its permission is checked on the case's place; the state machine
    /// says whether it exists from the case's state; `version` must be the case's. One
    /// transaction: the case, its history and any photos change together or not at all.
    pub async fn act(
        &self,
        ctx: &Ctx,
        id: i64,
        input: &ActInput,
        photos: Vec<Photo>,
    ) -> Result<CaseView> {
        let action = Action::parse(&input.action).ok_or_else(|| {
            AppError::invalid(
                "action",
                format!("未知操作 {:?} / unknown action", input.action),
            )
        })?;
        let case = self.readable_case(ctx, id).await?;
        let scope = parse_scope("scope", place_for(&case, action))?;
        self.require(
            ctx,
            permission_for(action),
            &scope,
            &format!("{} of case {}", action.as_str(), case.number),
        )
        .await?;
        if !self.may(ctx, &case, action) {
            return Err(self
                .deny(
                    ctx,
                    Permission::DispatchCase,
                    &format!(
                        "{} of case {} held by another",
                        action.as_str(),
                        case.number
                    ),
                    Some(scope.as_str()),
                )
                .await);
        }
        let reason = input.reason.trim();
        if action.needs_reason() && reason.is_empty() {
            return Err(AppError::invalid("reason", "请说明理由 / give a reason"));
        }
        if reason.chars().count() > MAX_DESCRIPTION {
            return Err(AppError::invalid(
                "reason",
                format!("最多 {MAX_DESCRIPTION} 字 / at most {MAX_DESCRIPTION} characters"),
            ));
        }
        check_photo_count(&photos)?;
        let satisfaction = match (action, input.satisfaction.as_deref()) {
            (Action::Rate, Some(s)) => Some(Satisfaction::parse(s).ok_or_else(|| {
                AppError::invalid(
                    "satisfaction",
                    "须为 satisfied、fair 或 unsatisfied / satisfied, fair or unsatisfied",
                )
            })?),
            (Action::Rate, None) => {
                return Err(AppError::invalid(
                    "satisfaction",
                    "请选择满意度 / choose a rating",
                ));
            }
            _ => None,
        };
        let stored = self.store_photos(&photos).await?;
        let actor = self.actor_label(ctx);
        self.transition(
            ctx.account_id(),
            &actor,
            id,
            input.version,
            action,
            reason,
            input,
            satisfaction,
            &stored,
            false,
        )
        .await?;
        self.case(ctx, id).await
    }

    /// Applies one transition (and the automatic dispatch that may follow an acceptance or an
    /// escalation) in one transaction.
    #[allow(clippy::too_many_arguments)]
    async fn transition(
        &self,
        actor_id: Option<i64>,
        actor: &str,
        id: i64,
        version: i64,
        action: Action,
        reason: &str,
        input: &ActInput,
        satisfaction: Option<Satisfaction>,
        photos: &[(String, &'static str, usize)],
        by_reporter: bool,
    ) -> Result<()> {
        let calendar = self.shared_calendar().await?;
        let categories = self.categories().await?;
        let mut tx = self.store.write().await?;
        let case = tx.case_by_id(id).await?.ok_or(AppError::NotFound("case"))?;
        // A comment changes nothing another could overwrite: it needs no version.
        let version = if action == Action::Comment {
            case.version
        } else {
            version
        };
        if case.version != version {
            return Err(AppError::Conflict(format!(
                "案件 {} 已被他人更新（版本 {} → {}），请刷新后再操作 / the case changed meanwhile (version {} → {}): reload and try again",
                case.number, version, case.version, version, case.version
            )));
        }
        let category = categories
            .iter()
            .find(|k| k.id == case.category_id)
            .ok_or(AppError::NotFound("category"))?;
        let from = status_of(&case.status)?;
        let unsatisfied = satisfaction == Some(Satisfaction::Unsatisfied);
        let to = next(from, action, unsatisfied).map_err(|e| AppError::Conflict(e.to_string()))?;
        let now = now();
        let mut tier = tier_of(&case.tier)?;
        let mut holder = case.holder_account_id;
        let mut holder_node = case.holder_node.clone();
        let mut merged_into = case.merged_into;
        let mut detail = serde_json::Map::new();
        match action {
            Action::Dispatch => {
                let (node, default) = self
                    .default_holder(Some(&mut tx), category, tier, &case.scope_code)
                    .await?;
                holder_node = Some(node);
                holder = match input.to.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
                    Some(username) => {
                        let (account, department) = self
                            .handler_account(&mut tx, username, &case.scope_code)
                            .await?;
                        // A department summoned (吹哨报到): the case is at the department tier.
                        if department {
                            tier = Tier::Department;
                            holder_node = Some(tier_node(&case.scope_code, tier));
                            detail.insert("tier".into(), serde_json::json!(tier.as_str()));
                        }
                        Some(account)
                    }
                    None => Some(default.ok_or_else(|| {
                        AppError::invalid("to", "该层级没有默认承办人，请指定承办人账号 / no default handler at this tier: name one")
                    })?),
                };
                detail.insert("to".into(), serde_json::json!(holder));
            }
            Action::Claim => holder = actor_id,
            Action::Return => holder = None,
            Action::Escalate => {
                tier = tier.up().ok_or_else(|| {
                    AppError::Conflict("已是最高层级 / already at the top tier".into())
                })?;
                let (node, _) = self
                    .default_holder(Some(&mut tx), category, tier, &case.scope_code)
                    .await?;
                holder_node = Some(node);
                holder = None;
                detail.insert("tier".into(), serde_json::json!(tier.as_str()));
            }
            Action::Merge => {
                let number = input
                    .merge_into
                    .as_deref()
                    .map(str::trim)
                    .unwrap_or_default();
                let target = tx.case_by_number(number).await?.ok_or_else(|| {
                    AppError::invalid(
                        "merge_into",
                        format!("没有编号为 {number:?} 的案件 / no such case"),
                    )
                })?;
                let same_street = target.scope_code.get(..9) == case.scope_code.get(..9);
                if target.id == case.id || !same_street || status_of(&target.status)?.is_final() {
                    return Err(AppError::invalid(
                        "merge_into",
                        "只能并入本街道另一件未结案件 / merge into another open case of the street",
                    ));
                }
                merged_into = Some(target.id);
                detail.insert("into".into(), serde_json::json!(target.number));
            }
            _ => {}
        }
        // Clocks: a new stage starts its clock; a pause stops both; a resumption moves both.
        let mut stage = case.stage.clone();
        let mut stage_unit = case.stage_unit.clone();
        let mut stage_started = case.stage_started_at;
        let mut stage_warn = case.stage_warn_at;
        let mut stage_deadline = case.stage_deadline;
        let mut case_warn = case.case_warn_at;
        let mut case_deadline = case.case_deadline;
        let mut paused_at = case.paused_at;
        if from.pauses_clock() && !to.pauses_clock() {
            let paused = Millis(paused_at.unwrap_or(now.0));
            let case_unit = LimitUnit::parse(&case.case_unit).unwrap_or(LimitUnit::NaturalDays);
            case_deadline = calendar
                .resumed(Millis(case_deadline), case_unit, paused, now)
                .0;
            case_warn = calendar
                .warning(
                    Millis(case.created_at),
                    Millis(case_deadline),
                    case_unit,
                    category.warn_share,
                )
                .0;
            if let (Some(d), Some(u)) = (
                stage_deadline,
                stage_unit.as_deref().and_then(LimitUnit::parse),
            ) {
                let mut d = calendar.resumed(Millis(d), u, paused, now);
                if action == Action::GrantExtension {
                    d = calendar.deadline(d, category.limits.handle);
                    case_deadline = calendar
                        .deadline(Millis(case_deadline), category.limits.handle)
                        .0;
                    case_warn = calendar
                        .warning(
                            Millis(case.created_at),
                            Millis(case_deadline),
                            case_unit,
                            category.warn_share,
                        )
                        .0;
                }
                stage_deadline = Some(d.0);
                stage_warn = Some(
                    calendar
                        .warning(
                            Millis(stage_started.unwrap_or(now.0)),
                            d,
                            u,
                            category.warn_share,
                        )
                        .0,
                );
            }
            paused_at = None;
        } else if to.pauses_clock() && !from.pauses_clock() {
            paused_at = Some(now.0);
        }
        // A case dispatched to a department first waits for it to answer (吹哨报到).
        let new_stage = match (to, tier) {
            (Status::Dispatched, Tier::Department) => Some("respond"),
            _ => stage_of(to),
        };
        let restart = new_stage != case.stage.as_deref()
            || (to == Status::Rework && from != Status::Rework)
            || action == Action::Dispatch;
        if restart {
            stage = new_stage.map(str::to_owned);
            match new_stage.and_then(|s| category.limits.of_stage(s)) {
                Some(limit) => {
                    let d = calendar.deadline(now, limit);
                    stage_unit = Some(limit.unit.as_str().to_owned());
                    stage_started = Some(now.0);
                    stage_deadline = Some(d.0);
                    stage_warn = Some(calendar.warning(now, d, limit.unit, category.warn_share).0);
                }
                None => {
                    stage_unit = None;
                    stage_started = None;
                    stage_deadline = None;
                    stage_warn = None;
                }
            }
        }
        let (closure, closed_at, solved_tier) = match (to, action) {
            (Status::Closed, Action::ForceClose) => {
                (Some(Closure::Special), Some(now.0), Some(tier))
            }
            (Status::Closed, Action::Pass) => (
                Some(if now.0 > case_deadline {
                    Closure::Overdue
                } else {
                    Closure::Normal
                }),
                Some(now.0),
                Some(tier),
            ),
            (Status::Closed, _) => (
                case.closure.as_deref().and_then(|c| match c {
                    "normal" => Some(Closure::Normal),
                    "overdue" => Some(Closure::Overdue),
                    "special" => Some(Closure::Special),
                    _ => None,
                }),
                case.closed_at,
                case.solved_tier.as_deref().and_then(Tier::parse),
            ),
            _ => (None, None, None),
        };
        let (sat, sat_comment) = match satisfaction {
            Some(s) => (Some(s.as_str().to_owned()), Some(reason.to_owned())),
            None => (case.satisfaction.clone(), case.satisfaction_comment.clone()),
        };
        if let Some(s) = satisfaction {
            detail.insert("satisfaction".into(), serde_json::json!(s.as_str()));
        }
        if by_reporter {
            detail.insert("by".into(), serde_json::json!("reporter"));
        }
        if !photos.is_empty() {
            detail.insert("photos".into(), serde_json::json!(photos.len()));
        }
        let change = CaseChange {
            status: to.as_str(),
            tier: tier.as_str(),
            solved_tier: solved_tier.map(Tier::as_str),
            holder_account_id: holder,
            holder_node: holder_node.as_deref(),
            stage: stage.as_deref(),
            stage_unit: stage_unit.as_deref(),
            stage_started_at: stage_started,
            stage_warn_at: stage_warn,
            stage_deadline,
            case_warn_at: case_warn,
            case_deadline,
            paused_at,
            supervised: case.supervised || action == Action::Supervise,
            closure: closure.map(Closure::as_str),
            satisfaction: sat.as_deref(),
            satisfaction_comment: sat_comment.as_deref(),
            merged_into,
            closed_at,
            now,
        };
        if !tx.update_case(id, version, &change).await? {
            return Err(AppError::Conflict(format!(
                "案件 {} 已被他人更新，请刷新后再操作 / the case changed meanwhile: reload and try again",
                case.number
            )));
        }
        let event = tx
            .insert_case_event(&NewCaseEvent {
                case_id: id,
                at: now,
                actor_id,
                actor_name: actor,
                action: action.as_str(),
                from_status: Some(from.as_str()),
                to_status: to.as_str(),
                reason,
                detail: &serde_json::Value::Object(detail).to_string(),
            })
            .await?;
        for (file, mime, bytes) in photos {
            tx.insert_case_photo(&store::NewCasePhoto {
                case_id: id,
                phase: "after",
                file,
                mime,
                bytes: *bytes as i64,
                event_id: Some(event),
                now,
            })
            .await?;
        }
        let mut final_status = to;
        let mut final_holder = holder;
        // An accepted (or escalated) case goes straight to the default handler of its tier.
        if to == Status::Accepted {
            let (node, default) = self
                .default_holder(Some(&mut tx), category, tier, &case.scope_code)
                .await?;
            if let Some(account) = default {
                let d = calendar.deadline(now, category.limits.handle);
                let auto = CaseChange {
                    status: Status::Dispatched.as_str(),
                    holder_account_id: Some(account),
                    holder_node: Some(&node),
                    stage: Some("handle"),
                    stage_unit: Some(category.limits.handle.unit.as_str()),
                    stage_started_at: Some(now.0),
                    stage_warn_at: Some(
                        calendar
                            .warning(now, d, category.limits.handle.unit, category.warn_share)
                            .0,
                    ),
                    stage_deadline: Some(d.0),
                    ..change.clone()
                };
                if tx.update_case(id, version + 1, &auto).await? {
                    tx.insert_case_event(&NewCaseEvent {
                        case_id: id,
                        at: now,
                        actor_id: None,
                        actor_name: "系统 / system",
                        action: Action::Dispatch.as_str(),
                        from_status: Some(Status::Accepted.as_str()),
                        to_status: Status::Dispatched.as_str(),
                        reason: "按类别派给本层级承办人 / to the category's handler at this tier",
                        detail: &serde_json::json!({"to": account, "tier": tier.as_str()})
                            .to_string(),
                    })
                    .await?;
                    final_status = Status::Dispatched;
                    final_holder = Some(account);
                }
            }
        }
        // Tell the new holder, and whoever listens to webhooks.
        if let Some(h) = final_holder
            && final_holder != case.holder_account_id
            && Some(h) != actor_id
        {
            let title = format!(
                "案件 {} 已派给您 / case {} is yours",
                case.number, case.number
            );
            tx.insert_notification(h, Some(id), "assigned", &title, &case.description, now)
                .await?;
        }
        if unsatisfied && let Some(h) = final_holder {
            let title = format!("案件 {} 居民不满意，需返工 / rework", case.number);
            tx.insert_notification(h, Some(id), "rework", &title, reason, now)
                .await?;
        }
        let payload = serde_json::json!({
            "number": case.number, "action": action.as_str(), "from": from.as_str(),
            "status": final_status.as_str(), "tier": tier.as_str(), "micro_grid": case.scope_code,
        });
        self.emit(&mut tx, "case.changed", &payload, now).await?;
        if final_status != from
            && crate::channels::TRANSFER_CHANNELS.contains(&case.channel.as_str())
        {
            self.push_transfer_status(
                &mut tx,
                id,
                &case.number,
                action.as_str(),
                final_status,
                closure.map(Closure::as_str),
                reason,
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Gives the warnings that are due at `at`, of each case's stage clock and of its whole-case
    /// clock: yellow to the holder, red to the holder and the community's general grid head,
    /// each once per clock and deadline; a red handling clock of a category that climbs by
    /// itself escalates the case. Returns how many warnings were given.
    pub async fn run_warnings(&self, at: Millis) -> Result<usize> {
        // Page after page while a full one came, for up to 20 s (the job's lease is 25 s): a
        // backlog (a restart after a long stop, a migrated database) is worked off in a run.
        let started = std::time::Instant::now();
        let mut given = 0;
        loop {
            let (looked_at, n) = self.warn_page(at, 200).await?;
            given += n;
            if looked_at < 200 || started.elapsed() > std::time::Duration::from_secs(20) {
                return Ok(given);
            }
        }
    }

    /// One page of [`App::run_warnings`]: how many cases were looked at, how many warnings given.
    async fn warn_page(&self, at: Millis, page: i64) -> Result<(usize, usize)> {
        let categories = self.categories().await?;
        let due = self.store.read().await?.cases_due(at, page).await?;
        let looked_at = due.len();
        let mut given = 0;
        for c in due {
            let stage = c.stage.clone().unwrap_or_default();
            let mut tx = self.store.write().await?;
            let mut stage_red = false;
            let clocks = [
                ("stage", c.stage_warn_at, c.stage_deadline),
                ("case", Some(c.case_warn_at), Some(c.case_deadline)),
            ];
            for (clock, warn, deadline) in clocks {
                let (Some(warn), Some(deadline)) = (warn, deadline) else {
                    continue;
                };
                let red = deadline <= at.0;
                if !red && warn > at.0 {
                    continue;
                }
                let level = if red { "red" } else { "yellow" };
                if !tx.insert_alert(c.id, clock, level, deadline, at).await? {
                    continue;
                }
                given += 1;
                stage_red |= red && clock == "stage";
                let n = &c.number;
                let (kind, title) = match (clock, red) {
                    ("stage", true) => {
                        ("overdue", format!("案件 {n} 已超时 / case {n} is overdue"))
                    }
                    ("stage", false) => (
                        "warning",
                        format!("案件 {n} 即将到期 / case {n} is due soon"),
                    ),
                    (_, true) => (
                        "overdue",
                        format!("案件 {n} 已超过总时限 / case {n} is past its overall deadline"),
                    ),
                    (_, false) => (
                        "warning",
                        format!("案件 {n} 总时限将到 / case {n} nears its overall deadline"),
                    ),
                };
                if let Some(h) = c.holder_account_id {
                    tx.insert_notification(h, Some(c.id), kind, &title, &c.description, at)
                        .await?;
                }
                if red {
                    let community = tier_node(&c.scope_code, Tier::Community);
                    if let Some(head) = tx.staff_account(&community, "general_grid_head").await?
                        && Some(head) != c.holder_account_id
                    {
                        tx.insert_notification(head, Some(c.id), kind, &title, &c.description, at)
                            .await?;
                    }
                }
                let event = if red { "case.overdue" } else { "case.warning" };
                let payload = serde_json::json!({
                    "number": c.number, "clock": clock, "stage": stage, "deadline": deadline,
                    "micro_grid": c.scope_code,
                });
                self.emit(&mut tx, event, &payload, at).await?;
            }
            // What was due is given (or was already); the case is next looked at when its next
            // clock event comes. A write of the case meanwhile has set that itself.
            let coming = [
                c.stage_warn_at,
                c.stage_deadline,
                Some(c.case_warn_at),
                Some(c.case_deadline),
            ]
            .into_iter()
            .flatten()
            .filter(|t| *t > at.0)
            .min();
            tx.set_next_alert(c.id, c.version, coming).await?;
            tx.commit().await?;
            let climbs = categories
                .iter()
                .find(|k| k.id == c.category_id)
                .is_some_and(|k| k.auto_escalate);
            let escalable = tier_of(&c.tier).ok().and_then(Tier::up).is_some()
                && next(status_of(&c.status)?, Action::Escalate, false).is_ok();
            if stage_red && climbs && escalable && stage == "handle" {
                let input = ActInput::default();
                // Someone may act meanwhile: then the escalation waits for the next warning.
                match self
                    .transition(
                        None,
                        "系统 / system",
                        c.id,
                        c.version,
                        Action::Escalate,
                        "超时自动上报 / overdue: escalated",
                        &input,
                        None,
                        &[],
                        false,
                    )
                    .await
                {
                    Ok(()) | Err(AppError::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok((looked_at, given))
    }

    /// The account `username`, which must be able to handle cases where the case is, and
    /// whether it is a department's.
    async fn handler_account(
        &self,
        tx: &mut Tx,
        username: &str,
        scope: &str,
    ) -> Result<(i64, bool)> {
        let account = tx
            .account_by_username(username)
            .await?
            .filter(|a| !a.disabled)
            .ok_or_else(|| {
                AppError::invalid("to", format!("没有账号 {username} / no such account"))
            })?;
        let grants: Vec<domain::Grant> = tx
            .grants_of(account.id)
            .await?
            .into_iter()
            .filter_map(|g| {
                Some(domain::Grant {
                    role: domain::Role::parse(&g.role)?,
                    scope: GridCode::parse(&g.scope_code).ok()?,
                })
            })
            .collect();
        let place = parse_scope("scope", scope)?;
        if !domain::access::allows(&grants, Permission::HandleCase, &place) {
            return Err(AppError::invalid(
                "to",
                format!("{username} 不能承办此处的案件 / {username} cannot handle cases here"),
            ));
        }
        let department = grants
            .iter()
            .any(|g| g.role == domain::Role::DepartmentHandler);
        Ok((account.id, department))
    }

    /// Cases inside a scope, newest first, filtered; keyset pages.
    pub async fn cases(&self, ctx: &Ctx, q: &CaseQuery) -> Result<CaseList> {
        let scope = match &q.scope {
            Some(s) => parse_scope("scope", s)?,
            None => crate::default_scope(ctx, Permission::ReadCases)?,
        };
        self.require(
            ctx,
            Permission::ReadCases,
            &scope,
            &format!("cases of {scope}"),
        )
        .await?;
        let categories = self.categories().await?;
        let category_id = match q.category.as_deref().filter(|c| !c.is_empty()) {
            Some(code) => Some(
                categories
                    .iter()
                    .find(|c| c.code == code)
                    .ok_or_else(|| {
                        AppError::invalid(
                            "category",
                            format!("未知类别 {code:?} / unknown category"),
                        )
                    })?
                    .id,
            ),
            None => None,
        };
        let mut statuses = Vec::new();
        for s in q
            .status
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let status = Status::parse(s).ok_or_else(|| {
                AppError::invalid("status", format!("未知状态 {s:?} / unknown status"))
            })?;
            statuses.push(status.as_str().to_owned());
        }
        let tier = match q.tier.as_deref().filter(|t| !t.is_empty()) {
            Some(t) => Some(
                Tier::parse(t)
                    .ok_or_else(|| {
                        AppError::invalid("tier", format!("未知层级 {t:?} / unknown tier"))
                    })?
                    .as_str()
                    .to_owned(),
            ),
            None => None,
        };
        let channel = match q.channel.as_deref().filter(|c| !c.is_empty()) {
            Some(c) if CHANNELS.iter().any(|(k, _)| *k == c) => Some(c.to_owned()),
            Some(c) => {
                return Err(AppError::invalid(
                    "channel",
                    format!("未知渠道 {c:?} / unknown channel"),
                ));
            }
            None => None,
        };
        let day = |field: &'static str, d: Option<&str>| -> Result<Option<i64>> {
            match d.filter(|d| !d.is_empty()) {
                Some(d) => Ok(Some(
                    Day::parse(d)
                        .ok_or_else(|| {
                            AppError::invalid(field, "日期须为 YYYY-MM-DD / a date as YYYY-MM-DD")
                        })?
                        .at_minute(0)
                        .0,
                )),
                None => Ok(None),
            }
        };
        let reporter_phone_hash = match q.phone.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(p) => {
                let phone =
                    Phone::parse(p).map_err(|e| AppError::invalid("phone", e.to_string()))?;
                let cipher = self
                    .cipher
                    .as_ref()
                    .ok_or_else(|| AppError::Internal("no data key is configured".into()))?;
                Some(cipher.blind_index(store::REPORTER_PHONE_FIELD, phone.as_str()))
            }
        };
        let limit = q.limit.unwrap_or(50).clamp(1, 200);
        let now = now();
        let rows = self
            .store
            .read()
            .await?
            .list_cases(&CaseFilter {
                scope: scope.to_string(),
                statuses,
                category_id,
                tier,
                channel,
                holder_account_id: if q.mine {
                    Some(ctx.account_id().unwrap_or(-1))
                } else {
                    None
                },
                involving_account_id: self.involved_only(ctx, &scope),
                overdue_at: q.overdue.then_some(now.0),
                created_from: day("from", q.from.as_deref())?,
                created_to: day("to", q.to.as_deref())?,
                before_id: q.before,
                reporter_phone_hash,
                limit: limit + 1,
                ..Default::default()
            })
            .await?;
        let more = rows.len() as i64 > limit;
        let mut holders: HashMap<i64, String> = HashMap::new();
        let mut tx = self.store.read().await?;
        for r in &rows {
            if let Some(h) = r.holder_account_id
                && !holders.contains_key(&h)
                && let Some(a) = tx.account_by_id(h).await?
            {
                holders.insert(h, a.display_name);
            }
        }
        drop(tx);
        let mut items: Vec<CaseSummary> = rows
            .into_iter()
            .take(limit as usize)
            .map(|r| {
                let category = categories.iter().find(|k| k.id == r.category_id);
                let holder = r.holder_account_id.and_then(|h| holders.get(&h).cloned());
                summary(r, category, holder, now.0)
            })
            .collect();
        items.shrink_to_fit();
        Ok(CaseList {
            next_before: if more {
                items.last().map(|c| c.id)
            } else {
                None
            },
            items,
        })
    }

    /// The reporter's view of their case: by the private token, or by the last four digits of
    /// the phone they gave. A wrong key is "not found", whatever the case.
    pub async fn track(
        &self,
        number: &str,
        token: Option<&str>,
        last4: Option<&str>,
    ) -> Result<TrackView> {
        let case = self.tracked_case(number, token, last4).await?;
        let categories = self.categories().await?;
        let names = self.chain_names(&case.scope_code).await?;
        let mut tx = self.store.read().await?;
        let history = tx
            .case_events(case.id)
            .await?
            .into_iter()
            .map(|e| TrackEvent {
                at: e.at,
                action_label: Action::parse(&e.action)
                    .map_or_else(|| "上报".to_owned(), |a| a.label_zh().to_owned()),
                status_label: Status::parse(&e.to_status).map_or("", Status::label_zh),
            })
            .collect();
        let photos = tx
            .case_photos(case.id)
            .await?
            .into_iter()
            .map(|p| PhotoView {
                id: p.id,
                phase: p.phase,
                mime: p.mime,
                bytes: p.bytes,
            })
            .collect();
        let status = status_of(&case.status)?;
        let merged = match case.merged_into {
            Some(t) => tx.case_by_id(t).await?,
            None => None,
        };
        Ok(TrackView {
            merged_status_label: merged
                .as_ref()
                .and_then(|m| Status::parse(&m.status))
                .map(Status::label_zh),
            merged_into: merged.map(|m| m.number),
            category_name: categories
                .iter()
                .find(|k| k.id == case.category_id)
                .map(|k| k.name.clone())
                .unwrap_or_default(),
            micro_grid_name: names.get(&case.scope_code).cloned(),
            can_rate: matches!(status, Status::Handled | Status::Verifying | Status::Closed)
                && case.satisfaction.is_none(),
            status_label: status.label_zh(),
            status: case.status,
            number: case.number,
            description: case.description,
            created_at: case.created_at,
            satisfaction: case.satisfaction,
            history,
            photos,
        })
    }

    async fn tracked_case(
        &self,
        number: &str,
        token: Option<&str>,
        last4: Option<&str>,
    ) -> Result<CaseRow> {
        let cipher = self
            .cipher
            .clone()
            .ok_or_else(|| AppError::Internal("no data key is configured".into()))?;
        let mut tx = self.store.read().await?;
        let case = tx
            .case_by_number(number.trim())
            .await?
            .ok_or(AppError::NotFound("case"))?;
        let by_token =
            token.is_some_and(|t| crate::secret::token_hash(t.trim()) == case.follow_token_hash);
        let by_phone = match last4.map(str::trim) {
            Some(l) if l.len() == 4 && l.chars().all(|c| c.is_ascii_digit()) => {
                tx.case_reporter_last4_is(case.id, l, &cipher).await?
            }
            _ => false,
        };
        if by_token || by_phone {
            Ok(case)
        } else {
            Err(AppError::NotFound("case"))
        }
    }

    /// The reporter verifies and rates: 满意 or 基本满意 closes a handled case (核查通过);
    /// 不满意 sends it back as rework.
    pub async fn rate_by_reporter(
        &self,
        number: &str,
        token: Option<&str>,
        last4: Option<&str>,
        satisfaction: &str,
        comment: &str,
    ) -> Result<TrackView> {
        let case = self.tracked_case(number, token, last4).await?;
        let s = Satisfaction::parse(satisfaction).ok_or_else(|| {
            AppError::invalid(
                "satisfaction",
                "须为 satisfied、fair 或 unsatisfied / satisfied, fair or unsatisfied",
            )
        })?;
        if case.satisfaction.is_some() {
            return Err(AppError::Conflict("已评价过 / already rated".into()));
        }
        let comment: String = comment.trim().chars().take(500).collect();
        let status = status_of(&case.status)?;
        let input = ActInput::default();
        let mut version = case.version;
        if s != Satisfaction::Unsatisfied && matches!(status, Status::Handled | Status::Verifying) {
            self.transition(
                None,
                "居民 / reporter",
                case.id,
                version,
                Action::Pass,
                "居民确认 / confirmed by the reporter",
                &input,
                None,
                &[],
                true,
            )
            .await?;
            version += 1;
        }
        self.transition(
            None,
            "居民 / reporter",
            case.id,
            version,
            Action::Rate,
            &comment,
            &input,
            Some(s),
            &[],
            true,
        )
        .await?;
        self.track(number, token, last4).await
    }

    /// A photo of a case the caller may read: (mime, bytes).
    pub async fn case_photo(&self, ctx: &Ctx, id: i64, photo: i64) -> Result<(String, Vec<u8>)> {
        self.readable_case(ctx, id).await?;
        self.photo_bytes(id, photo).await
    }

    /// A photo of a case, for its reporter.
    pub async fn tracked_photo(
        &self,
        number: &str,
        token: Option<&str>,
        last4: Option<&str>,
        photo: i64,
    ) -> Result<(String, Vec<u8>)> {
        let case = self.tracked_case(number, token, last4).await?;
        self.photo_bytes(case.id, photo).await
    }

    async fn photo_bytes(&self, case_id: i64, photo: i64) -> Result<(String, Vec<u8>)> {
        let (owner, file, mime) = self
            .store
            .read()
            .await?
            .case_photo(photo)
            .await?
            .ok_or(AppError::NotFound("photo"))?;
        if owner != case_id {
            return Err(AppError::NotFound("photo"));
        }
        let files = self.files.as_ref().ok_or(AppError::NotFound("photo"))?;
        Ok((mime, files.get(&file).await?))
    }
}

fn summary(
    r: CaseRow,
    category: Option<&CategoryView>,
    holder: Option<String>,
    now: i64,
) -> CaseSummary {
    let status = Status::parse(&r.status).unwrap_or(Status::Reported);
    let paused = r.paused_at.is_some();
    let stage = clock(
        now,
        r.stage_warn_at,
        r.stage_deadline,
        paused,
        status.is_final(),
    );
    let whole = clock(
        now,
        Some(r.case_warn_at),
        Some(r.case_deadline),
        paused,
        status.is_final(),
    );
    let rank = |c: &str| match c {
        "red" => 3,
        "yellow" => 2,
        "green" => 1,
        _ => 0,
    };
    CaseSummary {
        id: r.id,
        number: r.number,
        channel: r.channel,
        category: category.map(|k| k.code.clone()).unwrap_or_default(),
        category_name: category.map(|k| k.name.clone()).unwrap_or_default(),
        description: r.description,
        address: r.address,
        lon: r.lon,
        lat: r.lat,
        micro_grid: r.scope_code,
        status_label: status.label_zh(),
        status: r.status,
        tier: r.tier,
        holder,
        urgent: r.urgent,
        supervised: r.supervised,
        stage: r.stage,
        stage_deadline: r.stage_deadline,
        case_deadline: r.case_deadline,
        clock: if rank(stage) >= rank(whole) {
            stage
        } else {
            whole
        },
        created_at: r.created_at,
        version: r.version,
    }
}

impl App {
    /// A micro-grid and its community's name, for the resident page opened from a QR code.
    pub async fn public_place(&self, code: &str) -> Result<Option<(NodeRef, Option<String>)>> {
        let Ok(code) = GridCode::parse(code.trim()) else {
            return Ok(None);
        };
        if code.level() != Level::MicroGrid {
            return Ok(None);
        }
        let names = self.chain_names(code.as_str()).await?;
        Ok(names.get(code.as_str()).map(|name| {
            (
                NodeRef {
                    code: code.to_string(),
                    name: name.clone(),
                },
                names
                    .get(&code.as_str()[..Level::Community.code_len()])
                    .cloned(),
            )
        }))
    }

    /// The categories that take cases, under their groups' names, for the report forms.
    pub async fn category_choices(&self) -> Result<Vec<(String, Vec<(String, String)>)>> {
        let all = self.category_list().await?;
        let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
        for group in all.iter().filter(|c| c.is_group()) {
            let leaves: Vec<(String, String)> = all
                .iter()
                .filter(|c| {
                    c.active && !c.is_group() && c.parent.as_deref() == Some(group.code.as_str())
                })
                .map(|c| (c.code.clone(), c.name.clone()))
                .collect();
            if !leaves.is_empty() {
                out.push((group.name.clone(), leaves));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_detail_says_the_same_with_or_without_extras() {
        use serde_json::{Map, Value, json};
        let parse = |t: String| serde_json::from_str::<Value>(&t).unwrap();
        let plain = report_detail(
            "api",
            "sg.sanitation",
            "micro_grid",
            2,
            Map::new(),
            Map::new(),
        );
        assert_eq!(
            parse(plain),
            json!({"channel": "api", "category": "sg.sanitation", "tier": "micro_grid", "photos": 2})
        );
        let mut extra = Map::new();
        extra.insert("media_url".into(), "https://example.cn/a.jpg".into());
        let mut more = Map::new();
        more.insert("channel".into(), "transfer".into());
        let full = report_detail("api", "sg.sanitation", "grid", 0, extra, more);
        assert_eq!(
            parse(full),
            json!({"channel": "transfer", "category": "sg.sanitation", "tier": "grid", "photos": 0,
                   "media_url": "https://example.cn/a.jpg"})
        );
    }

    #[test]
    fn clocks_turn_yellow_then_red_and_stop_when_paused_or_done() {
        assert_eq!(clock(5, Some(8), Some(10), false, false), "green");
        assert_eq!(clock(8, Some(8), Some(10), false, false), "yellow");
        assert_eq!(clock(11, Some(8), Some(10), false, false), "red");
        assert_eq!(clock(11, Some(8), Some(10), true, false), "paused");
        assert_eq!(clock(11, Some(8), Some(10), false, true), "done");
    }

    #[test]
    fn each_tier_works_at_its_node() {
        let micro = "510115001001001001";
        assert_eq!(tier_node(micro, Tier::Grid), "510115001001001");
        assert_eq!(tier_node(micro, Tier::Department), "510115001");
    }
}
