//! Intake beyond Weige's own pages: work orders transferred from other systems (the 12345
//! hotline, the city's reporting app), kept in step by pushing every status change back; and
//! residents' chat groups, whose messages become drafts that a worker confirms in one tap.

use crate::cases::Pictures;
use crate::intake::Link;
use crate::{App, AppError, CaseCreated, CaseInput, Ctx, Photo, Result, now};
use domain::case::Status;
use domain::{GridCode, Millis, Permission};
use serde::{Deserialize, Serialize};

/// The channels a transfer source may be.
pub const TRANSFER_CHANNELS: [&str; 2] = ["hotline", "city_app"];

/// The webhook event of a transferred case's status change.
pub const TRANSFER_EVENT: &str = "transfer.status";
/// The webhook event of a reply to a chat group.
pub const CHAT_REPLY_EVENT: &str = "chat.reply";

/// Field name under which chat group secrets are encrypted.
const CHAT_SECRET_FIELD: &str = "chat_group.secret";

/// How far a chat message's timestamp may be from the server's clock (replays older than this
/// are refused; within it, the message id makes a repeat harmless).
pub const CHAT_MAX_SKEW_SECONDS: i64 = 300;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct TransferSourceInput {
    /// Short and unique, e.g. `12345`.
    pub code: String,
    pub name: String,
    /// `hotline` or `city_app`.
    pub channel: String,
    /// Where status changes go back (a webhook made at `/api/v1/webhooks`).
    #[serde(default)]
    pub webhook_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TransferSourceView {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub channel: String,
    pub webhook_id: Option<i64>,
    pub created_at: i64,
}

/// A work order handed over by another system.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct TransferInput {
    /// The source's code (see `/api/v1/transfer-sources`).
    pub source: String,
    /// The source's own id of the work order; a second transfer with it is recognised.
    #[serde(default)]
    pub external_id: Option<String>,
    /// When the resident reported it to the source (RFC 3339 with its zone).
    pub reported_at: String,
    /// When the source handed it over (RFC 3339); default: `reported_at`.
    #[serde(default)]
    pub transferred_at: Option<String>,
    /// The report itself; `channel` is the source's.
    #[serde(flatten)]
    pub case: CaseInput,
}

/// What a transfer got: the case, and whether it existed already (a re-sent work order).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TransferOutcome {
    pub id: i64,
    pub number: String,
    /// True when this work order was transferred before: nothing new was created.
    pub resent: bool,
}

/// Where a case came from, on its page.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TransferView {
    pub source: String,
    pub source_name: String,
    pub external_id: String,
    pub reported_at: i64,
    pub transferred_at: i64,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ChatGroupInput {
    /// Short and unique; the bot posts to `/hooks/chat/{code}`.
    pub code: String,
    pub name: String,
    /// The micro-grid (or grid) the group belongs to: whose workers see its drafts, and where
    /// a message without a location is routed.
    pub scope: String,
    /// A webhook that posts replies back to the group (e.g. the group robot), if any.
    #[serde(default)]
    pub reply_webhook_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChatGroupView {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub scope: String,
    pub reply_webhook_id: Option<i64>,
    pub active: bool,
    pub created_at: i64,
}

/// A new chat group with its signing secret, shown once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreatedChatGroup {
    pub group: ChatGroupView,
    /// The bot signs each post: `X-Weige-Timestamp: <unix seconds>` and
    /// `X-Weige-Signature: sha256=HMAC(secret, timestamp + "." + body)`.
    pub secret: String,
}

/// A location in a chat message.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ChatLocation {
    pub lat: f64,
    pub lon: f64,
}

/// A message a chat bot posts.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ChatMessage {
    /// The chat system's id of the message: a message posted twice makes one draft.
    pub message_id: String,
    /// Who wrote it, as the group shows them.
    #[serde(default)]
    pub sender: String,
    #[serde(default)]
    pub text: String,
    /// Pictures, base64 (JPEG, PNG or WebP).
    #[serde(default)]
    pub images: Vec<String>,
    #[serde(default)]
    pub location: Option<ChatLocation>,
}

/// The answer to the bot: the draft, and the text to post back to the group.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChatReceipt {
    pub draft_id: i64,
    /// `draft`, `confirmed` or `discarded`.
    pub status: String,
    /// The case number once confirmed.
    pub number: Option<String>,
    /// What the bot should post in the group.
    pub reply: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChatDraftView {
    pub id: i64,
    pub group: String,
    pub group_name: String,
    pub scope: String,
    pub sender: String,
    pub text: String,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub photos: usize,
    pub status: String,
    pub number: Option<String>,
    pub received_at: i64,
    /// The category the message reads like (its name or a choice of its questions share the
    /// most words with it), so that confirming is one tap; none when nothing matches.
    pub suggested_category: Option<String>,
}

/// The category a message reads like: the one whose name and question choices share the most
/// two-character words (bigrams) with it; social-governance classes win ties over the national
/// list by coming first.
pub fn suggest_category(categories: &[crate::CategoryView], text: &str) -> Option<String> {
    let shared = |word: &str| -> usize {
        let chars: Vec<char> = word.chars().filter(|c| !c.is_whitespace()).collect();
        chars
            .windows(2)
            .filter(|w| text.contains(&w.iter().collect::<String>()))
            .count()
    };
    let mut best: Option<(usize, &str)> = None;
    for c in categories.iter().filter(|c| !c.is_group() && c.active) {
        let score = shared(&c.name)
            + c.questions
                .iter()
                .flat_map(|q| q.values.iter())
                .filter(|v| v.name != "其他")
                .map(|v| shared(&v.name))
                .sum::<usize>();
        if score > 0 && best.is_none_or(|(b, _)| score > b) {
            best = Some((score, c.code.as_str()));
        }
    }
    best.map(|(_, code)| code.to_owned())
}

/// Who is calling: their number masked, their earlier cases in the operator's scope (newest
/// first), and the residents of the registry with that number (for operators who may read it).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CallerView {
    pub phone: String,
    /// How many of the cases are still open (the caller may be chasing one).
    pub open: usize,
    pub cases: Vec<crate::CaseSummary>,
    pub residents: Vec<CallerResident>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CallerResident {
    pub name: String,
    pub address: String,
    pub household_id: i64,
    pub micro_grid: String,
}

/// A worker's decision on a draft.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct DraftDecision {
    /// For confirming: the category of the case.
    #[serde(default)]
    pub category: Option<String>,
    /// For confirming: the description (default: the message).
    #[serde(default)]
    pub description: Option<String>,
    /// For discarding: why.
    #[serde(default)]
    pub reason: String,
}

/// A draft confirmed: its case and the reply posted to the group.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DraftConfirmed {
    pub case: CaseCreated,
    pub reply: String,
}

fn parse_time(field: &'static str, v: &str) -> Result<Millis> {
    chrono::DateTime::parse_from_rfc3339(v.trim())
        .map(|t| Millis(t.timestamp_millis()))
        .map_err(|_| {
            AppError::invalid(
                field,
                "须为带时区的日期时间，如 2026-11-28T09:30:00+08:00 / a date and time with its zone",
            )
        })
}

/// A source's or group's code (1–32 letters, digits, `_` or `-`) and name (1–64 characters).
fn code_and_name(code: &str, name: &str) -> Result<(String, String)> {
    let code = code.trim();
    let code_ok = !code.is_empty()
        && code.len() <= 32
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !code_ok {
        return Err(AppError::invalid(
            "code",
            "代码为 1–32 个字母、数字、_ 或 - / code: 1–32 letters, digits, _ or -",
        ));
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(AppError::invalid(
            "name",
            "名称必填，最多 64 个字符 / name: required, at most 64 characters",
        ));
    }
    Ok((code.to_owned(), name.to_owned()))
}

fn source_view(r: store::TransferSourceRow) -> TransferSourceView {
    TransferSourceView {
        id: r.id,
        code: r.code,
        name: r.name,
        channel: r.channel,
        webhook_id: r.webhook_id,
        created_at: r.created_at,
    }
}

fn group_view(r: &store::ChatGroupRow) -> ChatGroupView {
    ChatGroupView {
        id: r.id,
        code: r.code.clone(),
        name: r.name.clone(),
        scope: r.scope_code.clone(),
        reply_webhook_id: r.reply_webhook_id,
        active: r.active,
        created_at: r.created_at,
    }
}

fn draft_view(d: store::ChatDraftRow, categories: &[crate::CategoryView]) -> ChatDraftView {
    let photos = serde_json::from_str::<Vec<serde_json::Value>>(&d.photos).map_or(0, |p| p.len());
    ChatDraftView {
        suggested_category: suggest_category(categories, &d.text),
        id: d.id,
        group: d.group_code,
        group_name: d.group_name,
        scope: d.scope_code,
        sender: d.sender,
        text: d.text,
        lon: d.lon,
        lat: d.lat,
        photos,
        status: d.status,
        number: d.case_number,
        received_at: d.received_at,
    }
}

/// The text a group is told when its message became a case.
pub(crate) fn confirmed_reply(number: &str, link: &str) -> String {
    format!("已登记为 {number}，网格员正在处理。进度：{link} / Registered as {number}: {link}")
}

const DRAFT_REPLY: &str = "已收到，网格员核实后会回复案件编号 / Received: a grid worker will confirm it and reply with its number";

impl App {
    async fn webhook_exists(&self, id: Option<i64>) -> Result<()> {
        if let Some(id) = id {
            let known = self
                .store
                .read_once()
                .await?
                .webhooks()
                .await?
                .iter()
                .any(|w| w.id == id);
            if !known {
                return Err(AppError::invalid(
                    "webhook_id",
                    format!("没有编号为 {id} 的 webhook / no webhook {id}"),
                ));
            }
        }
        Ok(())
    }

    /// Adds a transfer source (system configuration).
    pub async fn create_transfer_source(
        &self,
        ctx: &Ctx,
        input: &TransferSourceInput,
    ) -> Result<TransferSourceView> {
        self.require_anywhere(ctx, Permission::ConfigureSystem, "transfer sources")
            .await?;
        let (code, name) = code_and_name(&input.code, &input.name)?;
        let code = code.as_str();
        if !TRANSFER_CHANNELS.contains(&input.channel.as_str()) {
            return Err(AppError::invalid(
                "channel",
                "渠道须为 hotline 或 city_app / channel: hotline or city_app",
            ));
        }
        self.webhook_exists(input.webhook_id).await?;
        let mut tx = self.store.write().await?;
        if tx.transfer_sources().await?.iter().any(|s| s.code == code) {
            return Err(AppError::Conflict(format!(
                "来源 {code} 已存在 / source {code} exists"
            )));
        }
        let now = now();
        let id = tx
            .insert_transfer_source(code, &name, &input.channel, input.webhook_id, now)
            .await?;
        tx.commit().await?;
        Ok(TransferSourceView {
            id,
            code: code.to_owned(),
            name,
            channel: input.channel.clone(),
            webhook_id: input.webhook_id,
            created_at: now.0,
        })
    }

    pub async fn transfer_sources(&self, ctx: &Ctx) -> Result<Vec<TransferSourceView>> {
        self.require_anywhere(ctx, Permission::ConfigureSystem, "transfer sources")
            .await?;
        let rows = self.store.read_once().await?.transfer_sources().await?;
        Ok(rows.into_iter().map(source_view).collect())
    }

    /// Takes a transferred work order: a new case with the source's id and original times, or,
    /// when the source sent this work order before, the case it became.
    pub async fn transfer(&self, ctx: &Ctx, input: &TransferInput) -> Result<TransferOutcome> {
        let external_id = input
            .external_id
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .ok_or_else(|| {
                AppError::invalid(
                    "external_id",
                    "须有来源工单号 / the source's id is required",
                )
            })?;
        if external_id.chars().count() > 64 {
            return Err(AppError::invalid(
                "external_id",
                "最长 64 字符 / at most 64 characters",
            ));
        }
        let reported_at = parse_time("reported_at", &input.reported_at)?;
        let transferred_at = match &input.transferred_at {
            Some(t) => parse_time("transferred_at", t)?,
            None => reported_at,
        };
        if transferred_at < reported_at || reported_at.0 > now().0 + 60_000 {
            return Err(AppError::invalid(
                "transferred_at",
                "时间不合理：转办早于上报，或上报在将来 / transferred before reported, or reported in the future",
            ));
        }
        let source = self
            .store
            .read_once()
            .await?
            .transfer_sources()
            .await?
            .into_iter()
            .find(|s| s.code == input.source.trim())
            .ok_or_else(|| {
                AppError::invalid(
                    "source",
                    format!("未知来源 {:?} / unknown source", input.source),
                )
            })?;
        if let Some((id, number)) = self.transferred_case(source.id, external_id).await? {
            return Ok(TransferOutcome {
                id,
                number,
                resent: true,
            });
        }
        let mut case = input.case.clone();
        case.channel = Some(source.channel.clone());
        let mut extra = serde_json::Map::new();
        extra.insert(
            "transfer".into(),
            serde_json::json!({"source": source.code, "external_id": external_id,
                "reported_at": reported_at.0, "transferred_at": transferred_at.0}),
        );
        let link = Link::Transfer {
            source_id: source.id,
            external_id: external_id.to_owned(),
            reported_at,
            transferred_at,
        };
        match self
            .take_report(ctx, &case, Pictures::New(Vec::new()), Some(link), extra)
            .await
        {
            Ok(created) => Ok(TransferOutcome {
                id: created.id,
                number: created.number,
                resent: false,
            }),
            // Sent twice at the same moment: the other one was written first.
            Err(e) => match self.transferred_case(source.id, external_id).await? {
                Some((id, number)) => Ok(TransferOutcome {
                    id,
                    number,
                    resent: true,
                }),
                None => Err(e),
            },
        }
    }

    /// The case a source's work order became, if it was transferred before: (id, number).
    async fn transferred_case(
        &self,
        source_id: i64,
        external_id: &str,
    ) -> Result<Option<(i64, String)>> {
        Ok(self
            .store
            .read_once()
            .await?
            .case_by_transfer(source_id, external_id)
            .await?)
    }

    /// Where a case was transferred from, if it was.
    pub(crate) async fn transfer_view(
        &self,
        tx: &mut store::Tx,
        case_id: i64,
        channel: &str,
    ) -> Result<Option<TransferView>> {
        if !TRANSFER_CHANNELS.contains(&channel) {
            return Ok(None);
        }
        Ok(tx.transfer_of_case(case_id).await?.map(|t| TransferView {
            source: t.source_code,
            source_name: t.source_name,
            external_id: t.external_id,
            reported_at: t.reported_at,
            transferred_at: t.transferred_at,
        }))
    }

    /// Tells a transferred case's source of its new status, in the transaction of the change.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn push_transfer_status(
        &self,
        tx: &mut store::Tx,
        case_id: i64,
        number: &str,
        action: &str,
        status: Status,
        closure: Option<&str>,
        reason: &str,
        now: Millis,
    ) -> Result<()> {
        let Some(t) = tx.transfer_of_case(case_id).await? else {
            return Ok(());
        };
        let Some(webhook) = t.webhook_id else {
            return Ok(());
        };
        let data = serde_json::json!({
            "source": t.source_code, "external_id": t.external_id, "number": number,
            "action": action, "status": status.as_str(), "status_label": status.label_zh(),
            "closed": status.is_final(), "closure": closure, "reason": reason,
        });
        let body = serde_json::json!({"event": TRANSFER_EVENT, "at": now.0, "data": data});
        tx.enqueue(webhook, TRANSFER_EVENT, &body.to_string(), now)
            .await?;
        Ok(())
    }

    /// Adds a chat group; its signing secret is shown once.
    pub async fn create_chat_group(
        &self,
        ctx: &Ctx,
        input: &ChatGroupInput,
    ) -> Result<CreatedChatGroup> {
        let scope = GridCode::parse(input.scope.trim())
            .map_err(|e| AppError::invalid("scope", e.to_string()))?;
        self.require(
            ctx,
            Permission::ConfigureSystem,
            &scope,
            &format!("chat group in {scope}"),
        )
        .await?;
        let cipher = self
            .cipher
            .clone()
            .ok_or_else(|| AppError::Internal("no data key is configured".into()))?;
        let (code, name) = code_and_name(&input.code, &input.name)?;
        let code = code.as_str();
        self.webhook_exists(input.reply_webhook_id).await?;
        let secret = crate::random_hex(24)?;
        let enc = cipher
            .encrypt(CHAT_SECRET_FIELD, &secret)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let mut tx = self.store.write().await?;
        if tx.grid_node_by_code(scope.as_str()).await?.is_none() {
            return Err(AppError::invalid(
                "scope",
                format!("网格 {scope} 不存在 / no such grid"),
            ));
        }
        if tx.chat_groups().await?.iter().any(|g| g.code == code) {
            return Err(AppError::Conflict(format!(
                "群 {code} 已存在 / group {code} exists"
            )));
        }
        let now = now();
        let id = tx
            .insert_chat_group(
                code,
                &name,
                scope.as_str(),
                &enc,
                input.reply_webhook_id,
                now,
            )
            .await?;
        tx.commit().await?;
        Ok(CreatedChatGroup {
            group: ChatGroupView {
                id,
                code: code.to_owned(),
                name,
                scope: scope.to_string(),
                reply_webhook_id: input.reply_webhook_id,
                active: true,
                created_at: now.0,
            },
            secret,
        })
    }

    pub async fn chat_groups(&self, ctx: &Ctx) -> Result<Vec<ChatGroupView>> {
        self.require_anywhere(ctx, Permission::ConfigureSystem, "chat groups")
            .await?;
        let rows = self.store.read_once().await?.chat_groups().await?;
        Ok(rows.iter().map(group_view).collect())
    }

    /// The chat group that `pick` chooses.
    async fn chat_group(
        &self,
        pick: impl Fn(&store::ChatGroupRow) -> bool,
    ) -> Result<store::ChatGroupRow> {
        self.store
            .read_once()
            .await?
            .chat_groups()
            .await?
            .into_iter()
            .find(|g| pick(g))
            .ok_or(AppError::NotFound("chat group"))
    }

    /// Takes a message from a chat group's bot: checks its signature and age, stores its
    /// pictures and makes a draft, once per message id. No account: the signature is the proof.
    pub async fn chat_message(
        &self,
        group_code: &str,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<ChatReceipt> {
        let refused = || AppError::Unauthenticated;
        let group = self
            .chat_group(|g| g.code == group_code && g.active)
            .await?;
        let cipher = self
            .cipher
            .clone()
            .ok_or_else(|| AppError::Internal("no data key is configured".into()))?;
        let secret = cipher
            .decrypt(CHAT_SECRET_FIELD, &group.secret_enc)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let timestamp: i64 = timestamp
            .and_then(|t| t.trim().parse().ok())
            .ok_or_else(refused)?;
        let body_text = std::str::from_utf8(body).map_err(|_| refused())?;
        let expected = crate::notify::signature(&secret, timestamp, body_text);
        let given = signature.map(str::trim).unwrap_or_default();
        if !same_bytes(expected.as_bytes(), given.as_bytes()) {
            return Err(refused());
        }
        if (now().0 / 1000 - timestamp).abs() > CHAT_MAX_SKEW_SECONDS {
            return Err(AppError::Stale);
        }
        let message: ChatMessage = serde_json::from_str(body_text).map_err(|e| {
            AppError::invalid("body", format!("消息格式不对 / not a chat message: {e}"))
        })?;
        let message_id = message.message_id.trim();
        if message_id.is_empty() || message_id.len() > 128 {
            return Err(AppError::invalid(
                "message_id",
                "须有消息编号，最长 128 字符 / required, at most 128 characters",
            ));
        }
        let text = message.text.trim();
        if text.chars().count() > crate::cases::MAX_DESCRIPTION {
            return Err(AppError::invalid(
                "text",
                format!(
                    "最多 {} 字 / at most {} characters",
                    crate::cases::MAX_DESCRIPTION,
                    crate::cases::MAX_DESCRIPTION
                ),
            ));
        }
        if text.is_empty() && message.images.is_empty() {
            return Err(AppError::invalid(
                "text",
                "消息没有文字也没有图片 / the message has neither text nor pictures",
            ));
        }
        let (lon, lat) = match &message.location {
            Some(l) if l.lon.is_finite() && l.lat.is_finite() => (Some(l.lon), Some(l.lat)),
            Some(_) => return Err(AppError::invalid("location", "坐标无效 / bad coordinates")),
            None => (None, None),
        };
        let sender: String = message.sender.trim().chars().take(32).collect();
        // A repeat: answer as the first time, store nothing.
        if let Some(d) = self
            .store
            .read_once()
            .await?
            .chat_draft_by_message(group.id, message_id)
            .await?
        {
            return Ok(receipt(d));
        }
        let photos = photos_of(&message.images)?;
        let stored = self.store_photos(&photos).await?;
        let photos_json =
            serde_json::to_string(&stored).map_err(|e| AppError::Internal(e.to_string()))?;
        let mut tx = self.store.write().await?;
        let inserted = tx
            .insert_chat_draft(&store::NewChatDraft {
                group_id: group.id,
                message_id,
                sender: &sender,
                text,
                lon,
                lat,
                photos: &photos_json,
                received_at: now(),
            })
            .await?;
        let draft = match inserted {
            Some(id) => tx.chat_draft(id).await?,
            None => tx.chat_draft_by_message(group.id, message_id).await?,
        }
        .ok_or_else(|| AppError::Internal("chat draft not written".into()))?;
        tx.commit().await?;
        Ok(receipt(draft))
    }

    /// Drafts waiting in the caller's scope (or a scope inside it), newest first.
    pub async fn chat_drafts(
        &self,
        ctx: &Ctx,
        scope: Option<&str>,
        status: Option<&str>,
    ) -> Result<Vec<ChatDraftView>> {
        let scope = match scope {
            Some(s) => {
                GridCode::parse(s.trim()).map_err(|e| AppError::invalid("scope", e.to_string()))?
            }
            None => crate::default_scope(ctx, Permission::ReadCases)?,
        };
        self.require(
            ctx,
            Permission::ReadCases,
            &scope,
            &format!("chat drafts of {scope}"),
        )
        .await?;
        let status = status.unwrap_or("draft");
        if !["draft", "confirmed", "discarded"].contains(&status) {
            return Err(AppError::invalid(
                "status",
                "须为 draft、confirmed 或 discarded / draft, confirmed or discarded",
            ));
        }
        let rows = self
            .store
            .read_once()
            .await?
            .chat_drafts(scope.as_str(), status, 200)
            .await?;
        let categories = self.categories().await?;
        Ok(rows
            .into_iter()
            .map(|d| draft_view(d, &categories))
            .collect())
    }

    async fn draft_in_reach(&self, ctx: &Ctx, id: i64) -> Result<store::ChatDraftRow> {
        let d = self
            .store
            .read_once()
            .await?
            .chat_draft(id)
            .await?
            .ok_or(AppError::NotFound("chat draft"))?;
        let scope =
            GridCode::parse(&d.scope_code).map_err(|e| AppError::Internal(e.to_string()))?;
        self.require(
            ctx,
            Permission::ReportCase,
            &scope,
            &format!("chat draft {id}"),
        )
        .await?;
        if d.status != "draft" {
            return Err(AppError::Conflict(format!(
                "该消息已处理（{}）/ already decided",
                d.status
            )));
        }
        Ok(d)
    }

    /// Confirms a draft: it becomes a case (channel `wechat`), routed by its pin or else to its
    /// group's micro-grid, with its pictures; the group is told the number and tracking link.
    pub async fn confirm_chat_draft(
        &self,
        ctx: &Ctx,
        id: i64,
        decision: &DraftDecision,
        base_url: &str,
    ) -> Result<DraftConfirmed> {
        let d = self.draft_in_reach(ctx, id).await?;
        let category = decision
            .category
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| AppError::invalid("category", "请选择类别 / choose a category"))?;
        let description = decision
            .description
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .unwrap_or(d.text.as_str());
        let description = if description.is_empty() {
            "（群消息仅有图片）/ (pictures only)"
        } else {
            description
        };
        let group = self.chat_group(|g| g.id == d.group_id).await?;
        let micro = (group.scope_code.len() == domain::Level::MicroGrid.code_len())
            .then(|| group.scope_code.clone());
        let input = CaseInput {
            category: category.to_owned(),
            description: description.to_owned(),
            channel: Some("wechat".into()),
            micro_grid: if d.lon.is_some() { None } else { micro },
            lon: d.lon,
            lat: d.lat,
            address: String::new(),
            reporter_name: Some(d.sender.clone()).filter(|s| !s.is_empty()),
            ..CaseInput::default()
        };
        let stored: Vec<(String, String, usize)> =
            serde_json::from_str(&d.photos).map_err(|e| AppError::Internal(e.to_string()))?;
        let stored = stored
            .into_iter()
            .map(|(file, mime, bytes)| (file, static_mime(&mime), bytes))
            .collect();
        let mut extra = serde_json::Map::new();
        extra.insert(
            "chat".into(),
            serde_json::json!({"group": group.code, "message_id": d.message_id, "draft": d.id}),
        );
        let link = Link::Chat {
            draft_id: d.id,
            by: ctx.account_id(),
            reply_webhook_id: group.reply_webhook_id,
            base_url: base_url.to_owned(),
        };
        let created = self
            .take_report(ctx, &input, Pictures::Stored(stored), Some(link), extra)
            .await?;
        let reply = confirmed_reply(
            &created.number,
            &tracking_link(base_url, &created.number, &created.follow_token),
        );
        Ok(DraftConfirmed {
            case: created,
            reply,
        })
    }

    /// Discards a draft (not a matter for a case, or said twice), with the reason.
    pub async fn discard_chat_draft(&self, ctx: &Ctx, id: i64, reason: &str) -> Result<()> {
        let d = self.draft_in_reach(ctx, id).await?;
        let mut tx = self.store.write().await?;
        let reason: String = reason.trim().chars().take(500).collect();
        if !tx
            .decide_chat_draft(d.id, "discarded", None, ctx.account_id(), &reason, now())
            .await?
        {
            return Err(AppError::Conflict("该消息已处理 / already decided".into()));
        }
        tx.commit().await?;
        Ok(())
    }
}

impl App {
    /// A caller looked up by phone (the operators' page).
    pub async fn caller(&self, ctx: &Ctx, phone: &str, scope: Option<&str>) -> Result<CallerView> {
        let phone = domain::Phone::parse(phone.trim())
            .map_err(|e| AppError::invalid("phone", e.to_string()))?;
        let cases = self
            .cases(
                ctx,
                &crate::CaseQuery {
                    scope: scope.map(str::to_owned),
                    phone: Some(phone.as_str().to_owned()),
                    limit: Some(20),
                    ..Default::default()
                },
            )
            .await?
            .items;
        let place = match scope {
            Some(s) => crate::error::parse_scope("scope", s)?,
            None => crate::default_scope(ctx, Permission::ReadCases)?,
        };
        let residents = if domain::access::allows(&ctx.grants, Permission::ReadRegistry, &place) {
            self.search_residents(ctx, Some(place.as_str()), phone.as_str(), None)
                .await?
                .into_iter()
                .take(5)
                .map(|r| CallerResident {
                    name: r.name,
                    address: r.address,
                    household_id: r.household_id,
                    micro_grid: r.micro_grid,
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(CallerView {
            phone: phone.masked(),
            open: cases
                .iter()
                .filter(|c| Status::parse(&c.status).is_some_and(|s| !s.is_final()))
                .count(),
            cases,
            residents,
        })
    }
}

/// Reports of a scope and period counted by one dimension (channel, category or day).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IntakeStats {
    pub scope: String,
    pub from: String,
    pub to: String,
    /// `channel`, `category` or `day`.
    pub by: String,
    pub total: i64,
    pub items: Vec<IntakeCount>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IntakeCount {
    /// The channel, the category code or the day.
    pub key: String,
    pub label: String,
    pub count: i64,
}

/// Which reports [`App::intake_stats`] counts.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct IntakeStatsQuery {
    /// A grid code; default: the caller's scope.
    pub scope: Option<String>,
    /// The first day (YYYY-MM-DD); default: 30 days before `to`.
    pub from: Option<String>,
    /// The last day (YYYY-MM-DD); default: today.
    pub to: Option<String>,
    /// `channel` (default), `category` or `day`.
    pub by: Option<String>,
}

/// The longest period one statistics request covers.
pub const MAX_STATS_DAYS: i64 = 366;

impl App {
    /// How many reports came in, per channel (or category, or day), in a scope and period: read
    /// from the daily counts the intake keeps, so a street of 10 M cases answers at once. For
    /// those who read every case of the scope (not departments or partners).
    pub async fn intake_stats(&self, ctx: &Ctx, q: &IntakeStatsQuery) -> Result<IntakeStats> {
        use domain::calendar::Day;
        let scope = match q.scope.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => crate::error::parse_scope("scope", s)?,
            None => crate::default_scope(ctx, Permission::ReadCases)?,
        };
        self.require(
            ctx,
            Permission::ReadCases,
            &scope,
            &format!("statistics of {scope}"),
        )
        .await?;
        if !matches!(ctx.actor, crate::Actor::Cli)
            && !domain::access::reads_all_cases(&ctx.grants, &scope)
        {
            return Err(self
                .deny(
                    ctx,
                    Permission::ReadCases,
                    &format!("statistics of {scope}"),
                    Some(scope.as_str()),
                )
                .await);
        }
        let day = |field: &'static str, v: Option<&str>| -> Result<Option<Day>> {
            match v.map(str::trim).filter(|v| !v.is_empty()) {
                Some(v) => Day::parse(v).map(Some).ok_or_else(|| {
                    AppError::invalid(field, "日期须为 YYYY-MM-DD / a date as YYYY-MM-DD")
                }),
                None => Ok(None),
            }
        };
        let to = day("to", q.to.as_deref())?.unwrap_or_else(|| Day::of(now()));
        let from = day("from", q.from.as_deref())?.unwrap_or(Day(to.0 - 29));
        if from > to || to.0 - from.0 >= MAX_STATS_DAYS {
            return Err(AppError::invalid(
                "from",
                format!(
                    "起止日期须有序，最长 {MAX_STATS_DAYS} 天 / from must not be after to, at most {MAX_STATS_DAYS} days"
                ),
            ));
        }
        let (by, dimension) = match q.by.as_deref().unwrap_or("channel") {
            "channel" => ("channel", store::IntakeDimension::Channel),
            "category" => ("category", store::IntakeDimension::Category),
            "day" => ("day", store::IntakeDimension::Day),
            other => {
                return Err(AppError::invalid(
                    "by",
                    format!(
                        "须为 channel、category 或 day / channel, category or day, not {other:?}"
                    ),
                ));
            }
        };
        let rows = self
            .store
            .read_once()
            .await?
            .intake_counts(
                scope.as_str(),
                &from.to_string(),
                &to.to_string(),
                dimension,
            )
            .await?;
        let categories = self.categories().await?;
        let items: Vec<IntakeCount> = rows
            .into_iter()
            .map(|(key, count)| {
                let (key, label) = match dimension {
                    store::IntakeDimension::Channel => {
                        let label = crate::CHANNELS
                            .iter()
                            .find(|(k, _)| *k == key)
                            .map_or_else(|| key.clone(), |(_, l)| (*l).to_owned());
                        (key, label)
                    }
                    store::IntakeDimension::Category => {
                        match categories.iter().find(|c| c.id.to_string() == key) {
                            Some(c) => (c.code.clone(), c.name.clone()),
                            None => (key.clone(), key),
                        }
                    }
                    store::IntakeDimension::Day => (key.clone(), key),
                };
                IntakeCount { key, label, count }
            })
            .collect();
        let mut items = items;
        if dimension == store::IntakeDimension::Day {
            items.sort_by(|a, b| a.key.cmp(&b.key));
        }
        Ok(IntakeStats {
            scope: scope.to_string(),
            from: from.to_string(),
            to: to.to_string(),
            by: by.to_owned(),
            total: items.iter().map(|i| i.count).sum(),
            items,
        })
    }
}

/// What the bot posts back for a message, as things stand.
fn receipt(d: store::ChatDraftRow) -> ChatReceipt {
    let reply = match (&d.status[..], &d.case_number) {
        ("confirmed", Some(n)) => format!("已登记为 {n}，网格员正在处理 / Registered as {n}"),
        ("discarded", _) => {
            "网格员核实后未立案 / A grid worker looked at it and opened no case".into()
        }
        _ => DRAFT_REPLY.into(),
    };
    ChatReceipt {
        draft_id: d.id,
        status: d.status,
        number: d.case_number,
        reply,
    }
}

/// The reporter's private follow link.
pub(crate) fn tracking_link(base_url: &str, number: &str, token: &str) -> String {
    format!(
        "{}/track/{number}?t={token}",
        base_url.trim_end_matches('/')
    )
}

/// What to do with photos of a chat message: the same checks as every report.
pub(crate) fn photos_of(images: &[String]) -> Result<Vec<Photo>> {
    if images.len() > crate::MAX_PHOTOS {
        return Err(AppError::invalid(
            "images",
            format!(
                "最多 {} 张图片 / at most {} pictures",
                crate::MAX_PHOTOS,
                crate::MAX_PHOTOS
            ),
        ));
    }
    images
        .iter()
        .enumerate()
        .map(|(i, p)| Photo::from_base64(p, i + 1))
        .collect()
}

/// Equal, in time that does not depend on where they differ.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A stored photo's type, as the one [`crate::image_type`] gave it.
fn static_mime(mime: &str) -> &'static str {
    ["image/jpeg", "image/png", "image/webp"]
        .into_iter()
        .find(|m| *m == mime)
        .unwrap_or("application/octet-stream")
}
