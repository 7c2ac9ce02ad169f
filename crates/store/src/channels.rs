//! The other intake channels: transfer sources and the work orders they transferred, chat
//! groups and the drafts their messages became.

use crate::{Result, Tx, on};
use domain::Millis;

#[derive(Debug, Clone, PartialEq)]
pub struct TransferSourceRow {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub channel: String,
    pub webhook_id: Option<i64>,
    pub created_at: i64,
}

/// A transferred work order: which case it became, where it came from, its original times.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseTransferRow {
    pub case_id: i64,
    pub source_code: String,
    pub source_name: String,
    pub webhook_id: Option<i64>,
    pub external_id: String,
    pub reported_at: i64,
    pub transferred_at: i64,
    pub received_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatGroupRow {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub scope_code: String,
    pub secret_enc: Vec<u8>,
    pub reply_webhook_id: Option<i64>,
    pub active: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewChatDraft<'a> {
    pub group_id: i64,
    pub message_id: &'a str,
    pub sender: &'a str,
    pub text: &'a str,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    /// JSON: the stored photos, `[[file, type, bytes], …]`.
    pub photos: &'a str,
    pub received_at: Millis,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatDraftRow {
    pub id: i64,
    pub group_id: i64,
    pub group_code: String,
    pub group_name: String,
    pub scope_code: String,
    pub message_id: String,
    pub sender: String,
    pub text: String,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub photos: String,
    /// `draft`, `confirmed` or `discarded`.
    pub status: String,
    pub case_id: Option<i64>,
    pub case_number: Option<String>,
    pub decided_by: Option<i64>,
    pub decided_at: Option<i64>,
    pub received_at: i64,
}

type SourceTuple = (i64, String, String, String, Option<i64>, i64);

fn source(t: SourceTuple) -> TransferSourceRow {
    TransferSourceRow {
        id: t.0,
        code: t.1,
        name: t.2,
        channel: t.3,
        webhook_id: t.4,
        created_at: t.5,
    }
}

type GroupTuple = (i64, String, String, String, Vec<u8>, Option<i64>, bool, i64);

fn group(t: GroupTuple) -> ChatGroupRow {
    ChatGroupRow {
        id: t.0,
        code: t.1,
        name: t.2,
        scope_code: t.3,
        secret_enc: t.4,
        reply_webhook_id: t.5,
        active: t.6,
        created_at: t.7,
    }
}

const DRAFT_COLUMNS: &str = "d.id, d.group_id, g.code, g.name, g.scope_code, d.message_id, d.sender, d.text, \
     d.lon, d.lat, d.photos, d.status, d.case_id, c.number, d.decided_by, d.decided_at, d.received_at \
     FROM chat_draft d JOIN chat_group g ON g.id = d.group_id LEFT JOIN case_record c ON c.id = d.case_id";

/// A [`ChatDraftRow`] from a row of `SELECT {DRAFT_COLUMNS}`, on either engine.
macro_rules! draft {
    ($r:expr) => {{
        use sqlx::Row;
        let r = $r;
        Ok::<ChatDraftRow, sqlx::Error>(ChatDraftRow {
            id: r.try_get(0)?,
            group_id: r.try_get(1)?,
            group_code: r.try_get(2)?,
            group_name: r.try_get(3)?,
            scope_code: r.try_get(4)?,
            message_id: r.try_get(5)?,
            sender: r.try_get(6)?,
            text: r.try_get(7)?,
            lon: r.try_get(8)?,
            lat: r.try_get(9)?,
            photos: r.try_get(10)?,
            status: r.try_get(11)?,
            case_id: r.try_get(12)?,
            case_number: r.try_get(13)?,
            decided_by: r.try_get(14)?,
            decided_at: r.try_get(15)?,
            received_at: r.try_get(16)?,
        })
    }};
}

/// Links a case to the work order it came from: `$1` case, `$2` source, `$3` the source's id,
/// `$4` reported, `$5` transferred, `$6` received.
pub(crate) const INSERT_CASE_TRANSFER: &str = "INSERT INTO case_transfer (case_id, source_id, external_id, reported_at, transferred_at, received_at) \
     VALUES ($1, $2, $3, $4, $5, $6)";

/// Decides a chat draft still open: `$1` draft, `$2` status, `$3` case, `$4` by, `$5` when,
/// `$6` reason.
pub(crate) const DECIDE_CHAT_DRAFT: &str = "UPDATE chat_draft SET status = $2, case_id = $3, decided_by = $4, decided_at = $5, reason = $6 \
     WHERE id = $1 AND status = 'draft'";

impl Tx {
    pub async fn insert_transfer_source(
        &mut self,
        code: &str,
        name: &str,
        channel: &str,
        webhook_id: Option<i64>,
        now: Millis,
    ) -> Result<i64> {
        let id: i64 = on!(self, c => sqlx::query_scalar(
            "INSERT INTO transfer_source (code, name, channel, webhook_id, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
            .bind(code)
            .bind(name)
            .bind(channel)
            .bind(webhook_id)
            .bind(now.0)
            .fetch_one(&mut *c)
            .await?);
        Ok(id)
    }

    pub async fn transfer_sources(&mut self) -> Result<Vec<TransferSourceRow>> {
        let rows: Vec<SourceTuple> = on!(self, c => sqlx::query_as(
            "SELECT id, code, name, channel, webhook_id, created_at FROM transfer_source ORDER BY code")
            .fetch_all(&mut *c)
            .await?);
        Ok(rows.into_iter().map(source).collect())
    }

    pub async fn insert_case_transfer(
        &mut self,
        case_id: i64,
        source_id: i64,
        external_id: &str,
        reported_at: Millis,
        transferred_at: Millis,
        received_at: Millis,
    ) -> Result<()> {
        on!(self, c => sqlx::query(INSERT_CASE_TRANSFER)
            .bind(case_id)
            .bind(source_id)
            .bind(external_id)
            .bind(reported_at.0)
            .bind(transferred_at.0)
            .bind(received_at.0)
            .execute(&mut *c)
            .await?
            .rows_affected());
        Ok(())
    }

    /// The case a source's work order became, by the source's id: (case id, number).
    pub async fn case_by_transfer(
        &mut self,
        source_id: i64,
        external_id: &str,
    ) -> Result<Option<(i64, String)>> {
        let row: Option<(i64, String)> = on!(self, c => sqlx::query_as(
            "SELECT t.case_id, c.number FROM case_transfer t JOIN case_record c ON c.id = t.case_id \
             WHERE t.source_id = $1 AND t.external_id = $2")
            .bind(source_id)
            .bind(external_id)
            .fetch_optional(&mut *c)
            .await?);
        Ok(row)
    }

    /// Where a case was transferred from, if it was.
    pub async fn transfer_of_case(&mut self, case_id: i64) -> Result<Option<CaseTransferRow>> {
        type T = (i64, String, String, Option<i64>, String, i64, i64, i64);
        let row: Option<T> = on!(self, c => sqlx::query_as(
            "SELECT t.case_id, s.code, s.name, s.webhook_id, t.external_id, t.reported_at, t.transferred_at, t.received_at \
             FROM case_transfer t JOIN transfer_source s ON s.id = t.source_id WHERE t.case_id = $1")
            .bind(case_id)
            .fetch_optional(&mut *c)
            .await?);
        Ok(row.map(|t| CaseTransferRow {
            case_id: t.0,
            source_code: t.1,
            source_name: t.2,
            webhook_id: t.3,
            external_id: t.4,
            reported_at: t.5,
            transferred_at: t.6,
            received_at: t.7,
        }))
    }

    pub async fn insert_chat_group(
        &mut self,
        code: &str,
        name: &str,
        scope_code: &str,
        secret_enc: &[u8],
        reply_webhook_id: Option<i64>,
        now: Millis,
    ) -> Result<i64> {
        let id: i64 = on!(self, c => sqlx::query_scalar(
            "INSERT INTO chat_group (code, name, scope_code, secret_enc, reply_webhook_id, active, created_at) \
             VALUES ($1, $2, $3, $4, $5, TRUE, $6) RETURNING id")
            .bind(code)
            .bind(name)
            .bind(scope_code)
            .bind(secret_enc)
            .bind(reply_webhook_id)
            .bind(now.0)
            .fetch_one(&mut *c)
            .await?);
        Ok(id)
    }

    pub async fn chat_groups(&mut self) -> Result<Vec<ChatGroupRow>> {
        let rows: Vec<GroupTuple> = on!(self, c => sqlx::query_as(
            "SELECT id, code, name, scope_code, secret_enc, reply_webhook_id, active, created_at FROM chat_group ORDER BY code")
            .fetch_all(&mut *c)
            .await?);
        Ok(rows.into_iter().map(group).collect())
    }

    /// A new draft, or `None` when the group has one for this message already.
    pub async fn insert_chat_draft(&mut self, d: &NewChatDraft<'_>) -> Result<Option<i64>> {
        let id: Option<i64> = on!(self, c => sqlx::query_scalar(
            "INSERT INTO chat_draft (group_id, message_id, sender, text, lon, lat, photos, status, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'draft', $8) ON CONFLICT (group_id, message_id) DO NOTHING RETURNING id")
            .bind(d.group_id)
            .bind(d.message_id)
            .bind(d.sender)
            .bind(d.text)
            .bind(d.lon)
            .bind(d.lat)
            .bind(d.photos)
            .bind(d.received_at.0)
            .fetch_optional(&mut *c)
            .await?);
        Ok(id)
    }

    pub async fn chat_draft_by_message(
        &mut self,
        group_id: i64,
        message_id: &str,
    ) -> Result<Option<ChatDraftRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {DRAFT_COLUMNS} WHERE d.group_id = $1 AND d.message_id = $2"
        ));
        let row = on!(self, c => match sqlx::query(sql)
            .bind(group_id)
            .bind(message_id)
            .fetch_optional(&mut *c)
            .await?
        {
            Some(r) => Some(draft!(&r)?),
            None => None,
        });
        Ok(row)
    }

    pub async fn chat_draft(&mut self, id: i64) -> Result<Option<ChatDraftRow>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {DRAFT_COLUMNS} WHERE d.id = $1"));
        let row = on!(self, c => match sqlx::query(sql)
            .bind(id)
            .fetch_optional(&mut *c)
            .await?
        {
            Some(r) => Some(draft!(&r)?),
            None => None,
        });
        Ok(row)
    }

    /// Drafts of the groups inside a scope (a grid-code prefix) in one status, newest first.
    pub async fn chat_drafts(
        &mut self,
        scope_prefix: &str,
        status: &str,
        limit: i64,
    ) -> Result<Vec<ChatDraftRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {DRAFT_COLUMNS} WHERE d.status = $1 AND g.scope_code LIKE $2 ORDER BY d.id DESC LIMIT $3"
        ));
        let rows = on!(self, c => sqlx::query(sql)
            .bind(status)
            .bind(format!("{scope_prefix}%"))
            .bind(limit)
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(|r| draft!(r))
            .collect::<std::result::Result<Vec<_>, _>>()?);
        Ok(rows)
    }

    /// Confirms or discards a draft that is still a draft; false when someone decided first.
    pub async fn decide_chat_draft(
        &mut self,
        id: i64,
        status: &str,
        case_id: Option<i64>,
        by: Option<i64>,
        reason: &str,
        at: Millis,
    ) -> Result<bool> {
        let n = on!(self, c => sqlx::query(DECIDE_CHAT_DRAFT)
            .bind(id)
            .bind(status)
            .bind(case_id)
            .bind(by)
            .bind(at.0)
            .bind(reason)
            .execute(&mut *c)
            .await?
            .rows_affected());
        Ok(n == 1)
    }
}
