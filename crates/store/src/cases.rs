//! Cases, their history and photos, the categories and the calendar's exceptions.

use crate::crypto::FieldCipher;
use crate::{Result, Tx, on};
use domain::Millis;
use sqlx::Row;

pub const REPORTER_PHONE_FIELD: &str = "case.reporter_phone";
pub const REPORTER_LAST4_FIELD: &str = "case.reporter_last4";

/// A category of the tree, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct CategoryRow {
    pub id: i64,
    pub code: String,
    pub parent_id: Option<i64>,
    pub name: String,
    pub kind: String,
    pub need_type: Option<String>,
    pub handler: String,
    pub tier: String,
    /// JSON: the limit of each stage and of the whole case.
    pub limits: String,
    pub warn_share: f64,
    pub auto_escalate: bool,
    pub closing_conditions: String,
    pub active: bool,
    pub sort: i64,
    /// JSON: the extra questions asked of a reporter.
    pub questions: String,
}

/// A case, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseRow {
    pub id: i64,
    pub number: String,
    pub channel: String,
    pub category_id: i64,
    pub need_type: Option<String>,
    pub urgent: bool,
    pub description: String,
    pub address: String,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub scope_code: String,
    pub status: String,
    pub tier: String,
    pub solved_tier: Option<String>,
    pub holder_account_id: Option<i64>,
    pub holder_node: Option<String>,
    pub reporter_name: Option<String>,
    pub reporter_phone_masked: Option<String>,
    pub reporter_account_id: Option<i64>,
    pub follow_token_hash: String,
    pub stage: Option<String>,
    pub stage_unit: Option<String>,
    pub stage_started_at: Option<i64>,
    pub stage_warn_at: Option<i64>,
    pub stage_deadline: Option<i64>,
    pub case_unit: String,
    pub case_warn_at: i64,
    pub case_deadline: i64,
    pub paused_at: Option<i64>,
    pub supervised: bool,
    pub closure: Option<String>,
    pub satisfaction: Option<String>,
    pub satisfaction_comment: Option<String>,
    pub merged_into: Option<i64>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub closed_at: Option<i64>,
}

const CASE_COLUMNS: &str = "id, number, channel, category_id, need_type, urgent, description, address, lon, lat, \
    scope_code, status, tier, solved_tier, holder_account_id, holder_node, reporter_name, reporter_phone_masked, \
    reporter_account_id, follow_token_hash, stage, stage_unit, stage_started_at, stage_warn_at, stage_deadline, \
    case_unit, case_warn_at, case_deadline, paused_at, supervised, closure, satisfaction, satisfaction_comment, \
    merged_into, version, created_at, updated_at, closed_at";

/// Reads a [`CaseRow`] from a row of `SELECT {CASE_COLUMNS}` (on either engine).
macro_rules! case_row {
    ($r:expr) => {
        CaseRow {
            id: $r.try_get("id")?,
            number: $r.try_get("number")?,
            channel: $r.try_get("channel")?,
            category_id: $r.try_get("category_id")?,
            need_type: $r.try_get("need_type")?,
            urgent: $r.try_get("urgent")?,
            description: $r.try_get("description")?,
            address: $r.try_get("address")?,
            lon: $r.try_get("lon")?,
            lat: $r.try_get("lat")?,
            scope_code: $r.try_get("scope_code")?,
            status: $r.try_get("status")?,
            tier: $r.try_get("tier")?,
            solved_tier: $r.try_get("solved_tier")?,
            holder_account_id: $r.try_get("holder_account_id")?,
            holder_node: $r.try_get("holder_node")?,
            reporter_name: $r.try_get("reporter_name")?,
            reporter_phone_masked: $r.try_get("reporter_phone_masked")?,
            reporter_account_id: $r.try_get("reporter_account_id")?,
            follow_token_hash: $r.try_get("follow_token_hash")?,
            stage: $r.try_get("stage")?,
            stage_unit: $r.try_get("stage_unit")?,
            stage_started_at: $r.try_get("stage_started_at")?,
            stage_warn_at: $r.try_get("stage_warn_at")?,
            stage_deadline: $r.try_get("stage_deadline")?,
            case_unit: $r.try_get("case_unit")?,
            case_warn_at: $r.try_get("case_warn_at")?,
            case_deadline: $r.try_get("case_deadline")?,
            paused_at: $r.try_get("paused_at")?,
            supervised: $r.try_get("supervised")?,
            closure: $r.try_get("closure")?,
            satisfaction: $r.try_get("satisfaction")?,
            satisfaction_comment: $r.try_get("satisfaction_comment")?,
            merged_into: $r.try_get("merged_into")?,
            version: $r.try_get("version")?,
            created_at: $r.try_get("created_at")?,
            updated_at: $r.try_get("updated_at")?,
            closed_at: $r.try_get("closed_at")?,
        }
    };
}

/// A new case: what intake knows (its number is drawn when it is written).
#[derive(Debug, Clone)]
pub struct NewCase {
    pub channel: String,
    pub category_id: i64,
    pub need_type: Option<String>,
    pub urgent: bool,
    pub description: String,
    pub address: String,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub scope_code: String,
    pub tier: &'static str,
    pub reporter_name: Option<String>,
    pub reporter_phone: Option<domain::Phone>,
    pub reporter_account_id: Option<i64>,
    pub follow_token_hash: String,
    pub holder_account_id: Option<i64>,
    pub holder_node: String,
    pub stage_unit: &'static str,
    pub stage_warn_at: Millis,
    pub stage_deadline: Millis,
    pub case_unit: &'static str,
    pub case_warn_at: Millis,
    pub case_deadline: Millis,
    pub now: Millis,
}

/// The ids of a chunk of new cases in the chunk's order, from their `(id, number)` rows: the
/// engines do not promise RETURNING's order, so they are matched by number.
pub(crate) fn case_ids_in_order(
    chunk: &[(&str, &NewCase)],
    rows: Vec<(i64, String)>,
) -> Result<Vec<i64>> {
    let by_number: std::collections::HashMap<String, i64> =
        rows.into_iter().map(|(id, number)| (number, id)).collect();
    chunk
        .iter()
        .map(|(number, _)| {
            by_number
                .get(*number)
                .copied()
                .ok_or_else(|| crate::StoreError::Internal(format!("case {number} not inserted")))
        })
        .collect()
}

/// The ids of a chunk of history entries in the chunk's order, from their `(id, case)` rows
/// (at most one entry per case in a statement).
pub(crate) fn event_ids_in_order(
    chunk: &[NewCaseEvent<'_>],
    rows: Vec<(i64, i64)>,
) -> Result<Vec<i64>> {
    let by_case: std::collections::HashMap<i64, i64> =
        rows.into_iter().map(|(id, case)| (case, id)).collect();
    if by_case.len() != chunk.len() {
        return Err(crate::StoreError::Internal(
            "two history entries of one case in one statement".into(),
        ));
    }
    chunk
        .iter()
        .map(|e| {
            by_case
                .get(&e.case_id)
                .copied()
                .ok_or_else(|| crate::StoreError::Internal("history entry not inserted".into()))
        })
        .collect()
}

/// Each of `n` probes' answer, from the `(probe, number)` rows of [`open_cases_near_sql`].
pub(crate) fn answers_by_probe(n: usize, rows: Vec<(i64, Option<String>)>) -> Vec<Option<String>> {
    let mut answers = vec![None; n];
    for (k, number) in rows {
        if let Some(a) = usize::try_from(k).ok().and_then(|k| answers.get_mut(k)) {
            *a = number;
        }
    }
    answers
}

/// A photo of a case, stored in the photo folder as `file`.
#[derive(Debug, Clone, Copy)]
pub struct NewCasePhoto<'a> {
    pub case_id: i64,
    /// `before` (with the report) or `after` (with the handling).
    pub phase: &'a str,
    pub file: &'a str,
    pub mime: &'a str,
    pub bytes: i64,
    /// The history entry it came with.
    pub event_id: Option<i64>,
    pub now: Millis,
}

/// A synthetic case of the benchmarks' generator ([`Tx::insert_bench_cases`]).
#[derive(Debug, Clone, Copy)]
pub struct BenchCase<'a> {
    pub category_id: i64,
    pub micro_grid: &'a str,
    pub status: &'a str,
    pub created_at: i64,
    pub lon: f64,
    pub lat: f64,
    /// Who holds it (its micro-grid's worker, as intake's default holder would be).
    pub holder_account_id: Option<i64>,
}

/// What a new report is compared with to find an open case it may repeat.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DuplicateProbe<'a> {
    pub scope_code: &'a str,
    pub category_id: i64,
    /// Cases reported before this are not compared.
    pub since: Millis,
    /// Longitude and latitude, when the report has a pin.
    pub pin: Option<(f64, f64)>,
    pub metres: f64,
}

impl DuplicateProbe<'_> {
    const METRES_PER_DEGREE: f64 = 111_320.0;

    /// How much a degree of longitude shrinks at the pin's latitude, and the square of the
    /// reach in degrees of latitude: the distance test in degrees, as the database runs it.
    pub(crate) fn degrees(&self) -> (f64, f64) {
        let squeeze = self.pin.map_or(1.0, |(_, y)| y.to_radians().cos());
        let reach = self.metres / Self::METRES_PER_DEGREE;
        (squeeze, reach * reach)
    }

    /// Whether a case at `other` (its pin, if any) is near enough to this report: always when
    /// either has no pin.
    pub fn near(&self, other: Option<(f64, f64)>) -> bool {
        self.near_in(self.degrees(), other)
    }

    /// [`DuplicateProbe::near`] with [`DuplicateProbe::degrees`] computed once for many cases.
    pub(crate) fn near_in(&self, (squeeze, reach2): (f64, f64), other: Option<(f64, f64)>) -> bool {
        match (self.pin, other) {
            (Some((x1, y1)), Some((x2, y2))) => {
                let (dx, dy) = ((x2 - x1) * squeeze, y2 - y1);
                dx * dx + dy * dy <= reach2
            }
            _ => true,
        }
    }
}

/// One entry of a case's history.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseEventRow {
    pub id: i64,
    pub at: i64,
    pub actor_name: String,
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub reason: String,
    /// JSON.
    pub detail: String,
}

#[derive(Debug, Clone)]
pub struct NewCaseEvent<'a> {
    pub case_id: i64,
    pub at: Millis,
    pub actor_id: Option<i64>,
    pub actor_name: &'a str,
    pub action: &'a str,
    pub from_status: Option<&'a str>,
    pub to_status: &'a str,
    pub reason: &'a str,
    pub detail: &'a str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CasePhotoRow {
    pub id: i64,
    pub phase: String,
    pub file: String,
    pub mime: String,
    pub bytes: i64,
    pub created_at: i64,
}

/// Which cases a list shows. Every filter is optional but the scope.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    /// A grid code: cases in it and below.
    pub scope: String,
    pub statuses: Vec<String>,
    pub category_id: Option<i64>,
    pub tier: Option<String>,
    pub channel: Option<String>,
    pub holder_account_id: Option<i64>,
    /// Only cases this account holds or has acted on (what a department or partner sees).
    pub involving_account_id: Option<i64>,
    /// Open cases whose stage or whole-case deadline is before this instant.
    pub overdue_at: Option<i64>,
    pub created_from: Option<i64>,
    pub created_to: Option<i64>,
    /// Keyset: only cases with an id below this (the list runs newest first).
    pub before_id: Option<i64>,
    /// Any of these categories (with `category_id`, both must hold).
    pub category_ids: Vec<i64>,
    pub updated_from: Option<i64>,
    pub updated_to: Option<i64>,
    /// Cases skipped before the first returned (Open311's `page`; the pages use `before_id`).
    pub offset: i64,
    /// Only cases reported from this phone number (its blind index under [`REPORTER_PHONE_FIELD`]).
    pub reporter_phone_hash: Option<String>,
    pub limit: i64,
}

/// [`domain::case::next_clock_event`] of a case as stored (its state by name), kept in
/// `next_alert_at` on every write of the case, where the warnings job finds it.
fn next_alert_at(status: &str, paused_at: Option<i64>, clocks: [Option<i64>; 4]) -> Option<i64> {
    let status = domain::case::Status::parse(status)?;
    domain::case::next_clock_event(status, paused_at, clocks)
}

/// Moves a street's and year's counter on by `count`; `$1` street, `$2` year, `$3` count.
macro_rules! bump_case_seqs {
    () => {
        "INSERT INTO case_counter (street_code, year, last) VALUES ($1, $2, $3) \
         ON CONFLICT (street_code, year) DO UPDATE SET last = case_counter.last + $3"
    };
}

/// [`TAKE_CASE_SEQS`] without the answer: the SQLite intake writer reads it back by
/// [`CASE_SEQ`] instead of `RETURNING` (see `DirectTx::take_case_seqs`).
pub(crate) const BUMP_CASE_SEQS: &str = bump_case_seqs!();

/// A street's and year's counter; `$1` street, `$2` year.
pub(crate) const CASE_SEQ: &str =
    "SELECT last FROM case_counter WHERE street_code = $1 AND year = $2";

/// Draws `count` numbers of a street and year: the last one drawn.
pub(crate) const TAKE_CASE_SEQS: &str = concat!(bump_case_seqs!(), " RETURNING last");

/// A multi-row insert of new cases, `rows` of them: the values in [`NewCase`]'s bind order
/// (see [`Tx::insert_cases`]); [`CASE_IDS`] after it returns each case's id and number.
pub(crate) fn insert_cases_sql(mut p: Placeholders, rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO case_record (number, channel, category_id, need_type, urgent, description, address, lon, lat, scope_code, \
         status, tier, reporter_name, reporter_phone_enc, reporter_last4_hash, reporter_phone_masked, reporter_account_id, \
         follow_token_hash, case_unit, case_warn_at, case_deadline, supervised, version, created_at, updated_at, \
         holder_account_id, holder_node, stage, stage_unit, stage_started_at, stage_warn_at, stage_deadline, reporter_phone_hash, \
         next_alert_at) VALUES ",
    );
    p.repeat(
        &mut sql,
        rows,
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'reported', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, FALSE, 1, \
             ?, ?, ?, ?, 'accept', ?, ?, ?, ?, ?, ?)",
    );
    sql
}

/// Appended to [`insert_cases_sql`]: each new case's id and number.
pub(crate) const CASE_IDS: &str = " RETURNING id, number";

/// A multi-row append of history entries: `case_id, at, actor_id, actor_name, action,
/// from_status, to_status, reason, detail` each; [`EVENT_IDS`] after it returns each entry's id
/// and case.
pub(crate) fn insert_case_events_sql(mut p: Placeholders, rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO case_event (case_id, at, actor_id, actor_name, action, from_status, to_status, reason, detail) VALUES ",
    );
    p.rows(&mut sql, rows, EVENT_COLUMNS);
    sql
}

/// Appended to [`insert_case_events_sql`]: each new entry's id and case.
pub(crate) const EVENT_IDS: &str = " RETURNING id, case_id";

pub(crate) const EVENT_COLUMNS: usize = 9;

/// `$1` case, `$2` phase, `$3` file, `$4` type, `$5` bytes, `$6` history entry, `$7` time; the id.
pub(crate) const INSERT_CASE_PHOTO: &str = "INSERT INTO case_photo (case_id, phase, file, mime, bytes, event_id, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";

/// For `rows` probes (`k, scope_code, category_id, since, lon, lat, squeeze, reach` each, then
/// the three final statuses), the number of the newest open case each may repeat.
pub(crate) fn open_cases_near_sql(mut p: Placeholders, rows: usize) -> String {
    let mut sql = String::from(
        "WITH probe (k, scope_code, category_id, since, lon, lat, squeeze, reach) AS (VALUES ",
    );
    p.rows(&mut sql, rows, PROBE_COLUMNS);
    p.fill(
        &mut sql,
        ") SELECT p.k, (SELECT c.number FROM case_record c \
         WHERE c.scope_code = p.scope_code AND c.category_id = p.category_id \
         AND c.created_at >= p.since AND c.status NOT IN (?, ?, ?) \
         AND (p.lon IS NULL OR p.lat IS NULL OR c.lon IS NULL OR c.lat IS NULL \
              OR (c.lon - p.lon) * p.squeeze * (c.lon - p.lon) * p.squeeze \
                 + (c.lat - p.lat) * (c.lat - p.lat) <= p.reach) \
         ORDER BY c.created_at DESC LIMIT 1) FROM probe p",
    );
    sql
}

pub(crate) const PROBE_COLUMNS: usize = 8;

/// A multi-row addition to the daily counts: `day, scope_code, channel, category_id, reported`.
pub(crate) fn add_intake_counts_sql(mut p: Placeholders, rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO case_intake_daily (day, scope_code, channel, category_id, reported) VALUES ",
    );
    p.rows(&mut sql, rows, 5);
    sql.push_str(
        " ON CONFLICT (scope_code, day, channel, category_id) \
         DO UPDATE SET reported = case_intake_daily.reported + excluded.reported",
    );
    sql
}

/// A reporter's phone as the case row keeps it: sealed, its blind indexes, masked.
pub(crate) struct SealedPhone {
    pub encrypted: Option<Vec<u8>>,
    pub last4_hash: Option<String>,
    pub masked: Option<String>,
    pub hash: Option<String>,
}

impl SealedPhone {
    pub(crate) fn of(n: &NewCase, cipher: &FieldCipher) -> Result<Self> {
        Ok(match &n.reporter_phone {
            Some(p) => SealedPhone {
                encrypted: Some(cipher.encrypt(REPORTER_PHONE_FIELD, p.as_str())?),
                last4_hash: Some(cipher.blind_index(REPORTER_LAST4_FIELD, p.last4())),
                masked: Some(p.masked()),
                hash: Some(cipher.blind_index(REPORTER_PHONE_FIELD, p.as_str())),
            },
            None => SealedPhone {
                encrypted: None,
                last4_hash: None,
                masked: None,
                hash: None,
            },
        })
    }
}

impl NewCase {
    /// The first clock event of the new case.
    pub(crate) fn next_alert_at(&self) -> Option<i64> {
        next_alert_at(
            "reported",
            None,
            [
                Some(self.stage_warn_at.0),
                Some(self.stage_deadline.0),
                Some(self.case_warn_at.0),
                Some(self.case_deadline.0),
            ],
        )
    }
}

/// The columns a transition may change; the use case computes them all.
#[derive(Debug, Clone)]
pub struct CaseChange<'a> {
    pub status: &'a str,
    pub tier: &'a str,
    pub solved_tier: Option<&'a str>,
    pub holder_account_id: Option<i64>,
    pub holder_node: Option<&'a str>,
    pub stage: Option<&'a str>,
    pub stage_unit: Option<&'a str>,
    pub stage_started_at: Option<i64>,
    pub stage_warn_at: Option<i64>,
    pub stage_deadline: Option<i64>,
    pub case_warn_at: i64,
    pub case_deadline: i64,
    pub paused_at: Option<i64>,
    pub supervised: bool,
    pub closure: Option<&'a str>,
    pub satisfaction: Option<&'a str>,
    pub satisfaction_comment: Option<&'a str>,
    pub merged_into: Option<i64>,
    pub closed_at: Option<i64>,
    pub now: Millis,
}

impl Tx {
    /// Adds a category, or changes the one with the same code.
    pub async fn upsert_category(&mut self, c: &CategoryRow, now: Millis) -> Result<i64> {
        let id: i64 = on!(self, conn => sqlx::query_scalar(
            "INSERT INTO category (code, parent_id, name, kind, need_type, handler, tier, limits, warn_share, auto_escalate, \
             closing_conditions, active, sort, updated_at, questions) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
             ON CONFLICT (code) DO UPDATE SET parent_id = $2, name = $3, kind = $4, need_type = $5, handler = $6, tier = $7, \
             limits = $8, warn_share = $9, auto_escalate = $10, closing_conditions = $11, active = $12, sort = $13, updated_at = $14, \
             questions = $15 \
             RETURNING id")
            .bind(&c.code)
            .bind(c.parent_id)
            .bind(&c.name)
            .bind(&c.kind)
            .bind(&c.need_type)
            .bind(&c.handler)
            .bind(&c.tier)
            .bind(&c.limits)
            .bind(c.warn_share)
            .bind(c.auto_escalate)
            .bind(&c.closing_conditions)
            .bind(c.active)
            .bind(c.sort)
            .bind(now.0)
            .bind(&c.questions)
            .fetch_one(&mut *conn)
            .await?);
        Ok(id)
    }

    /// Every category, in tree order (by sort, then code).
    pub async fn categories(&mut self) -> Result<Vec<CategoryRow>> {
        let rows = on!(self, c => {
            let rows = sqlx::query(
                "SELECT id, code, parent_id, name, kind, need_type, handler, tier, limits, warn_share, auto_escalate, \
                 closing_conditions, active, sort, questions FROM category ORDER BY sort, code")
                .fetch_all(&mut *c)
                .await?;
            rows.iter()
                .map(|r| -> std::result::Result<CategoryRow, sqlx::Error> {
                    Ok(CategoryRow {
                        id: r.try_get("id")?,
                        code: r.try_get("code")?,
                        parent_id: r.try_get("parent_id")?,
                        name: r.try_get("name")?,
                        kind: r.try_get("kind")?,
                        need_type: r.try_get("need_type")?,
                        handler: r.try_get("handler")?,
                        tier: r.try_get("tier")?,
                        limits: r.try_get("limits")?,
                        warn_share: r.try_get("warn_share")?,
                        auto_escalate: r.try_get("auto_escalate")?,
                        closing_conditions: r.try_get("closing_conditions")?,
                        active: r.try_get("active")?,
                        sort: r.try_get("sort")?,
                        questions: r.try_get("questions")?,
                    })
                })
                .collect::<std::result::Result<Vec<_>, _>>()?
        });
        Ok(rows)
    }

    pub async fn category_count(&mut self) -> Result<i64> {
        let n: i64 = on!(self, c => sqlx::query_scalar("SELECT COUNT(*) FROM category").fetch_one(&mut *c).await?);
        Ok(n)
    }

    /// The calendar's exceptions: (YYYY-MM-DD, holiday | workday | normal, note).
    pub async fn calendar_days(&mut self) -> Result<Vec<(String, String, String)>> {
        let rows: Vec<(String, String, String)> = on!(self, c => sqlx::query_as(
            "SELECT day, kind, note FROM calendar_day ORDER BY day")
            .fetch_all(&mut *c)
            .await?);
        Ok(rows)
    }

    pub async fn set_calendar_day(&mut self, day: &str, kind: &str, note: &str) -> Result<()> {
        on!(self, c => sqlx::query(
            "INSERT INTO calendar_day (day, kind, note) VALUES ($1, $2, $3) ON CONFLICT (day) DO UPDATE SET kind = $2, note = $3")
            .bind(day)
            .bind(kind)
            .bind(note)
            .execute(&mut *c)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Draws `count` case numbers of a street and year at once; the last one drawn.
    pub async fn take_case_seqs(&mut self, street: &str, year: i64, count: i64) -> Result<i64> {
        let n: i64 = on!(self, c => sqlx::query_scalar(TAKE_CASE_SEQS)
            .bind(street)
            .bind(year)
            .bind(count)
            .fetch_one(&mut *c)
            .await?);
        Ok(n)
    }

    /// Inserts new cases, a statement per [`rows_per_statement`] chunk; their ids in the order
    /// given. (A statement of many rows is one round trip to the database instead of many.)
    pub async fn insert_cases(
        &mut self,
        cases: &[(&str, &NewCase)],
        cipher: &FieldCipher,
    ) -> Result<Vec<i64>> {
        const COLUMNS: usize = 30;
        let mut ids = Vec::with_capacity(cases.len());
        for chunk in statement_chunks(cases, COLUMNS) {
            let sql = insert_cases_sql(Placeholders::for_tx(self), chunk.len()) + CASE_IDS;
            let sealed = chunk
                .iter()
                .map(|(_, n)| SealedPhone::of(n, cipher))
                .collect::<Result<Vec<_>>>()?;
            // Only placeholders are formatted in; the values are bound.
            let sql = sqlx::AssertSqlSafe(sql);
            let rows: Vec<(i64, String)> = on!(self, c => {
                let mut q = sqlx::query_as(sql);
                for ((number, n), sealed) in chunk.iter().zip(sealed) {
                    q = q
                        .bind(*number)
                        .bind(&n.channel)
                        .bind(n.category_id)
                        .bind(n.need_type.as_deref())
                        .bind(n.urgent)
                        .bind(&n.description)
                        .bind(&n.address)
                        .bind(n.lon)
                        .bind(n.lat)
                        .bind(&n.scope_code)
                        .bind(n.tier)
                        .bind(n.reporter_name.as_deref())
                        .bind(sealed.encrypted)
                        .bind(sealed.last4_hash)
                        .bind(sealed.masked)
                        .bind(n.reporter_account_id)
                        .bind(&n.follow_token_hash)
                        .bind(n.case_unit)
                        .bind(n.case_warn_at.0)
                        .bind(n.case_deadline.0)
                        .bind(n.now.0)
                        .bind(n.now.0)
                        .bind(n.holder_account_id)
                        .bind(&n.holder_node)
                        .bind(n.stage_unit)
                        .bind(n.now.0)
                        .bind(n.stage_warn_at.0)
                        .bind(n.stage_deadline.0)
                        .bind(sealed.hash)
                        .bind(n.next_alert_at());
                }
                q.fetch_all(&mut *c).await?
            });
            ids.extend(case_ids_in_order(chunk, rows)?);
        }
        Ok(ids)
    }

    pub async fn case_by_id(&mut self, id: i64) -> Result<Option<CaseRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {CASE_COLUMNS} FROM case_record WHERE id = $1"
        ));
        let row = on!(self, c => {
            match sqlx::query(sql).bind(id).fetch_optional(&mut *c).await? {
                Some(r) => Some(case_row!(r)),
                None => None,
            }
        });
        Ok(row)
    }

    pub async fn case_by_number(&mut self, number: &str) -> Result<Option<CaseRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {CASE_COLUMNS} FROM case_record WHERE number = $1"
        ));
        let row = on!(self, c => {
            match sqlx::query(sql).bind(number).fetch_optional(&mut *c).await? {
                Some(r) => Some(case_row!(r)),
                None => None,
            }
        });
        Ok(row)
    }

    /// Whether the reporter's phone ends in `last4`.
    pub async fn case_reporter_last4_is(
        &mut self,
        id: i64,
        last4: &str,
        cipher: &FieldCipher,
    ) -> Result<bool> {
        let hash = cipher.blind_index(REPORTER_LAST4_FIELD, last4);
        let n: i64 = on!(self, c => sqlx::query_scalar(
            "SELECT COUNT(*) FROM case_record WHERE id = $1 AND reporter_last4_hash = $2")
            .bind(id)
            .bind(&hash)
            .fetch_one(&mut *c)
            .await?);
        Ok(n > 0)
    }

    /// Writes a transition's outcome if the case is still at `version`; false when someone
    /// else changed it first.
    pub async fn update_case(&mut self, id: i64, version: i64, u: &CaseChange<'_>) -> Result<bool> {
        let n = on!(self, c => sqlx::query(
            "UPDATE case_record SET status = $3, tier = $4, solved_tier = $5, holder_account_id = $6, holder_node = $7, stage = $8, \
             stage_unit = $9, stage_started_at = $10, stage_warn_at = $11, stage_deadline = $12, case_warn_at = $13, case_deadline = $14, \
             paused_at = $15, supervised = $16, closure = $17, satisfaction = $18, satisfaction_comment = $19, merged_into = $20, \
             closed_at = $21, updated_at = $22, next_alert_at = $23, version = version + 1 WHERE id = $1 AND version = $2")
            .bind(id)
            .bind(version)
            .bind(u.status)
            .bind(u.tier)
            .bind(u.solved_tier)
            .bind(u.holder_account_id)
            .bind(u.holder_node)
            .bind(u.stage)
            .bind(u.stage_unit)
            .bind(u.stage_started_at)
            .bind(u.stage_warn_at)
            .bind(u.stage_deadline)
            .bind(u.case_warn_at)
            .bind(u.case_deadline)
            .bind(u.paused_at)
            .bind(u.supervised)
            .bind(u.closure)
            .bind(u.satisfaction)
            .bind(u.satisfaction_comment)
            .bind(u.merged_into)
            .bind(u.closed_at)
            .bind(u.now.0)
            .bind(next_alert_at(u.status, u.paused_at, [
                u.stage_warn_at,
                u.stage_deadline,
                Some(u.case_warn_at),
                Some(u.case_deadline),
            ]))
            .execute(&mut *c)
            .await?
            .rows_affected());
        Ok(n == 1)
    }

    pub async fn insert_case_event(&mut self, e: &NewCaseEvent<'_>) -> Result<i64> {
        let ids = self.insert_case_events(std::slice::from_ref(e)).await?;
        ids.first()
            .copied()
            .ok_or_else(|| crate::StoreError::Internal("history entry not inserted".into()))
    }

    /// Appends history entries, at most one per case; their ids in the order given.
    pub async fn insert_case_events(&mut self, events: &[NewCaseEvent<'_>]) -> Result<Vec<i64>> {
        let mut ids = Vec::with_capacity(events.len());
        for chunk in statement_chunks(events, EVENT_COLUMNS) {
            let sql = insert_case_events_sql(Placeholders::for_tx(self), chunk.len()) + EVENT_IDS;
            // Only placeholders are formatted in; the values are bound.
            let sql = sqlx::AssertSqlSafe(sql);
            let rows: Vec<(i64, i64)> = on!(self, c => {
                let mut q = sqlx::query_as(sql);
                for e in chunk {
                    q = q
                        .bind(e.case_id)
                        .bind(e.at.0)
                        .bind(e.actor_id)
                        .bind(e.actor_name)
                        .bind(e.action)
                        .bind(e.from_status)
                        .bind(e.to_status)
                        .bind(e.reason)
                        .bind(e.detail);
                }
                q.fetch_all(&mut *c).await?
            });
            ids.extend(event_ids_in_order(chunk, rows)?);
        }
        Ok(ids)
    }

    pub async fn case_events(&mut self, case_id: i64) -> Result<Vec<CaseEventRow>> {
        type T = (
            i64,
            i64,
            String,
            String,
            Option<String>,
            String,
            String,
            String,
        );
        let rows: Vec<T> = on!(self, c => sqlx::query_as(
            "SELECT id, at, actor_name, action, from_status, to_status, reason, detail FROM case_event WHERE case_id = $1 ORDER BY id")
            .bind(case_id)
            .fetch_all(&mut *c)
            .await?);
        Ok(rows
            .into_iter()
            .map(|t| CaseEventRow {
                id: t.0,
                at: t.1,
                actor_name: t.2,
                action: t.3,
                from_status: t.4,
                to_status: t.5,
                reason: t.6,
                detail: t.7,
            })
            .collect())
    }

    pub async fn insert_case_photo(&mut self, p: &NewCasePhoto<'_>) -> Result<i64> {
        let id: i64 = on!(self, c => sqlx::query_scalar(INSERT_CASE_PHOTO)
            .bind(p.case_id)
            .bind(p.phase)
            .bind(p.file)
            .bind(p.mime)
            .bind(p.bytes)
            .bind(p.event_id)
            .bind(p.now.0)
            .fetch_one(&mut *c)
            .await?);
        Ok(id)
    }

    pub async fn case_photos(&mut self, case_id: i64) -> Result<Vec<CasePhotoRow>> {
        type T = (i64, String, String, String, i64, i64);
        let rows: Vec<T> = on!(self, c => sqlx::query_as(
            "SELECT id, phase, file, mime, bytes, created_at FROM case_photo WHERE case_id = $1 ORDER BY id")
            .bind(case_id)
            .fetch_all(&mut *c)
            .await?);
        Ok(rows
            .into_iter()
            .map(|t| CasePhotoRow {
                id: t.0,
                phase: t.1,
                file: t.2,
                mime: t.3,
                bytes: t.4,
                created_at: t.5,
            })
            .collect())
    }

    /// A photo with the case it belongs to: (case id, file, mime).
    pub async fn case_photo(&mut self, id: i64) -> Result<Option<(i64, String, String)>> {
        let row: Option<(i64, String, String)> = on!(self, c => sqlx::query_as(
            "SELECT case_id, file, mime FROM case_photo WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *c)
            .await?);
        Ok(row)
    }

    /// Whether an account holds a case or has acted on it.
    pub async fn case_involves(&mut self, case_id: i64, account_id: i64) -> Result<bool> {
        let n: i64 = on!(self, c => sqlx::query_scalar(
            "SELECT COUNT(*) FROM case_record WHERE id = $1 AND (holder_account_id = $2 \
             OR EXISTS (SELECT 1 FROM case_event WHERE case_id = $1 AND actor_id = $2))")
            .bind(case_id)
            .bind(account_id)
            .fetch_one(&mut *c)
            .await?);
        Ok(n > 0)
    }

    /// For each probe, the newest open case of its category in its micro-grid reported since
    /// its `since` (`final_statuses` are the closed ones); with a pin, only one without a pin
    /// or within `metres` of it (on a local flat approximation, as [`DuplicateProbe::near`]):
    /// what a new report may repeat. One statement per chunk of probes, over the index
    /// `case_record_duplicate_idx` on PostgreSQL. SQLite has no such index: its intake writer
    /// answers from memory ([`crate::DirectTx::open_cases_near`]), and this statement runs
    /// there only where the writer has no connection of its own (a database in memory).
    pub async fn open_cases_near(
        &mut self,
        probes: &[DuplicateProbe<'_>],
        final_statuses: [&str; 3],
    ) -> Result<Vec<Option<String>>> {
        let mut found = Vec::with_capacity(probes.len());
        for chunk in statement_chunks(probes, PROBE_COLUMNS) {
            let sql = open_cases_near_sql(Placeholders::for_tx(self), chunk.len());
            // Only placeholders are formatted in; the values are bound.
            let sql = sqlx::AssertSqlSafe(sql);
            let rows: Vec<(i64, Option<String>)> = on!(self, c => {
                let mut q = sqlx::query_as(sql);
                for (k, p) in chunk.iter().enumerate() {
                    let (squeeze, reach) = p.degrees();
                    q = q
                        .bind(k as i64)
                        .bind(p.scope_code)
                        .bind(p.category_id)
                        .bind(p.since.0)
                        .bind(p.pin.map(|(x, _)| x))
                        .bind(p.pin.map(|(_, y)| y))
                        .bind(squeeze)
                        .bind(reach);
                }
                for s in final_statuses {
                    q = q.bind(s);
                }
                q.fetch_all(&mut *c).await?
            });
            found.extend(answers_by_probe(chunk.len(), rows));
        }
        Ok(found)
    }

    /// Cases matching `f`, newest first, at most `f.limit`.
    pub async fn list_cases(&mut self, f: &CaseFilter) -> Result<Vec<CaseRow>> {
        // Only the filters given go into the statement, so that each engine's planner sees the
        // query for what it is and picks the index that serves it.
        enum P<'a> {
            I(i64),
            S(&'a str),
        }
        let mut params: Vec<P<'_>> = vec![P::S(&f.scope)];
        // A micro-grid has no children: equality. A wider scope is a prefix that most cases of
        // a street match, kept off the scope index so that the planner walks the status or id
        // order instead: on SQLite a range of codes (its LIKE ignores case and so no index),
        // on PostgreSQL the code's first digits.
        let mut clauses: Vec<String> = vec![if f.scope.len() >= 18 {
            "scope_code = $1".to_owned()
        } else {
            match self {
                Tx::Sqlite(_) => "+scope_code >= $1 AND +scope_code < $1 || ':'".to_owned(),
                Tx::Postgres(_) => format!("left(scope_code, {}) = $1", f.scope.len()),
            }
        }];
        fn add<'a>(params: &mut Vec<P<'a>>, clauses: &mut Vec<String>, clause: &str, p: P<'a>) {
            params.push(p);
            clauses.push(clause.replace('?', &format!("${}", params.len())));
        }
        if let Some(c) = f.category_id {
            add(&mut params, &mut clauses, "category_id = ?", P::I(c));
        }
        if !f.category_ids.is_empty() {
            // Numbers, written into the statement.
            let ids: Vec<String> = f.category_ids.iter().map(i64::to_string).collect();
            clauses.push(format!("category_id IN ({})", ids.join(", ")));
        }
        if let Some(t) = f.updated_from {
            add(&mut params, &mut clauses, "updated_at >= ?", P::I(t));
        }
        if let Some(t) = f.updated_to {
            add(&mut params, &mut clauses, "updated_at < ?", P::I(t));
        }
        if let Some(t) = &f.tier {
            add(&mut params, &mut clauses, "tier = ?", P::S(t));
        }
        if let Some(c) = &f.channel {
            add(&mut params, &mut clauses, "channel = ?", P::S(c));
        }
        if let Some(h) = &f.reporter_phone_hash {
            add(
                &mut params,
                &mut clauses,
                "reporter_phone_hash = ?",
                P::S(h),
            );
        }
        if let Some(h) = f.holder_account_id {
            add(&mut params, &mut clauses, "holder_account_id = ?", P::I(h));
        }
        if let Some(a) = f.involving_account_id {
            add(
                &mut params,
                &mut clauses,
                "(holder_account_id = ? OR id IN (SELECT case_id FROM case_event WHERE actor_id = ?))",
                P::I(a),
            );
        }
        if let Some(t) = f.created_from {
            add(&mut params, &mut clauses, "created_at >= ?", P::I(t));
        }
        if let Some(t) = f.created_to {
            add(&mut params, &mut clauses, "created_at < ?", P::I(t));
        }
        if let Some(b) = f.before_id {
            add(&mut params, &mut clauses, "id < ?", P::I(b));
        }
        if let Some(t) = f.overdue_at {
            add(
                &mut params,
                &mut clauses,
                "status NOT IN ('closed', 'rejected', 'merged') AND paused_at IS NULL AND (stage_deadline < ? OR case_deadline < ?)",
                P::I(t),
            );
        }
        // Statuses are checked against the state machine's names before they go in.
        let statuses: Vec<String> = f
            .statuses
            .iter()
            .filter(|s| domain::case::Status::parse(s).is_some())
            .map(|s| format!("'{s}'"))
            .collect();
        if !statuses.is_empty() {
            clauses.push(format!("status IN ({})", statuses.join(", ")));
        }
        params.push(P::I(f.limit));
        params.push(P::I(f.offset.max(0)));
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {CASE_COLUMNS} FROM case_record WHERE {} ORDER BY id DESC LIMIT ${} OFFSET ${}",
            clauses.join(" AND "),
            params.len() - 1,
            params.len()
        ));
        let rows = on!(self, c => {
            let mut q = sqlx::query(sql);
            for p in &params {
                q = match p {
                    P::I(v) => q.bind(*v),
                    P::S(v) => q.bind(*v),
                };
            }
            let rows = q.fetch_all(&mut *c).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                out.push(case_row!(r));
            }
            out
        });
        Ok(rows)
    }

    /// Cases with a clock event (a warning or a deadline of the stage or of the whole case)
    /// due at `now` that the warnings job has not looked at yet, the longest due first.
    pub async fn cases_due(&mut self, now: Millis, limit: i64) -> Result<Vec<CaseRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {CASE_COLUMNS} FROM case_record WHERE next_alert_at <= $1 \
             ORDER BY next_alert_at LIMIT $2"
        ));
        let rows = on!(self, c => {
            let rows = sqlx::query(sql).bind(now.0).bind(limit).fetch_all(&mut *c).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                out.push(case_row!(r));
            }
            out
        });
        Ok(rows)
    }

    /// Moves a case's next clock event on to `next` (the warnings job, once it has given what
    /// was due), unless the case changed since it was read at `version`: that write set it anew.
    pub async fn set_next_alert(
        &mut self,
        id: i64,
        version: i64,
        next: Option<i64>,
    ) -> Result<bool> {
        let n = on!(self, c => sqlx::query(
            "UPDATE case_record SET next_alert_at = $3 WHERE id = $1 AND version = $2")
            .bind(id)
            .bind(version)
            .bind(next)
            .execute(&mut *c)
            .await?
            .rows_affected());
        Ok(n == 1)
    }

    /// Writes many synthetic cases at once (for the benchmarks' generator), numbered
    /// `B{first + i}`.
    pub async fn insert_bench_cases(&mut self, first: i64, rows: &[BenchCase<'_>]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut sql = String::from(
            "INSERT INTO case_record (number, channel, category_id, urgent, description, address, lon, lat, scope_code, \
             status, tier, follow_token_hash, stage, stage_unit, stage_started_at, stage_warn_at, stage_deadline, \
             case_unit, case_warn_at, case_deadline, supervised, version, created_at, updated_at, next_alert_at, \
             holder_account_id, holder_node) VALUES ",
        );
        // The creation time goes into seven columns, the clocks derived from it.
        Placeholders::for_tx(self).repeat(
            &mut sql,
            rows.len(),
            "(?, 'api', ?, FALSE, 'bench', '', ?, ?, ?, ?, 'micro_grid', '-', 'handle', 'working_days', \
                 ?, ?, ? + 259200000, 'working_days', ? + 345600000, ? + 432000000, FALSE, 1, ?, ?, ?, ?, ?)",
        );
        let sql = sqlx::AssertSqlSafe(sql);
        on!(self, c => {
            let mut q = sqlx::query(sql);
            for (i, b) in rows.iter().enumerate() {
                q = q
                    .bind(format!("B{}", first + i as i64))
                    .bind(b.category_id)
                    .bind(b.lon)
                    .bind(b.lat)
                    .bind(b.micro_grid)
                    .bind(b.status);
                for _ in 0..7 {
                    q = q.bind(b.created_at);
                }
                // The stage's warning comes first: at creation.
                q = q
                    .bind(next_alert_at(b.status, None, [Some(b.created_at); 4]))
                    .bind(b.holder_account_id)
                    .bind(b.micro_grid);
            }
            q.execute(&mut *c).await?.rows_affected()
        });
        Ok(())
    }

    /// Drops the secondary indexes of the case and history tables and returns the statements that make them
    /// again: a bulk load then builds each index once, sorted, instead of row by row.
    pub async fn drop_case_indexes(&mut self) -> Result<Vec<String>> {
        let list = match self {
            Tx::Sqlite(_) => {
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' \
                 AND tbl_name IN ('case_record', 'case_event') AND sql IS NOT NULL ORDER BY name"
            }
            Tx::Postgres(_) => {
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('case_record', 'case_event') \
                 AND indexname NOT IN ('case_record_pkey', 'case_event_pkey') ORDER BY indexname"
            }
        };
        let defs: Vec<(String, String)> =
            on!(self, c => sqlx::query_as(list).fetch_all(&mut *c).await?);
        for (name, _) in &defs {
            // Names come from the catalogue, not from a caller.
            let drop = sqlx::AssertSqlSafe(format!("DROP INDEX {name}"));
            on!(self, c => sqlx::query(drop).execute(&mut *c).await?.rows_affected());
        }
        Ok(defs.into_iter().map(|(_, sql)| sql).collect())
    }

    /// Runs statements that [`Tx::drop_case_indexes`] returned.
    pub async fn create_case_indexes(&mut self, statements: &[String]) -> Result<()> {
        for sql in statements {
            let sql = sqlx::AssertSqlSafe(sql.clone());
            on!(self, c => sqlx::query(sql).execute(&mut *c).await?.rows_affected());
        }
        Ok(())
    }

    /// Refreshes the planner's statistics (after a bulk load).
    pub async fn analyze(&mut self) -> Result<()> {
        on!(self, c => sqlx::query("ANALYZE").execute(&mut *c).await?.rows_affected());
        Ok(())
    }
}

/// One entry of a case's history with the case it belongs to: a progress update as Open311's
/// `servicerequestupdates` gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseUpdateRow {
    pub event_id: i64,
    pub number: String,
    pub scope_code: String,
    pub at: i64,
    pub action: String,
    pub to_status: String,
    pub reason: String,
}

impl Tx {
    /// The history entries of the cases inside a scope written in `[from, to)`, oldest first.
    pub async fn case_updates(
        &mut self,
        scope_prefix: &str,
        from: i64,
        to: i64,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<CaseUpdateRow>> {
        type T = (i64, String, String, i64, String, String, String);
        let rows: Vec<T> = on!(self, c => sqlx::query_as(
            "SELECT e.id, c.number, c.scope_code, e.at, e.action, e.to_status, e.reason \
             FROM case_event e JOIN case_record c ON c.id = e.case_id \
             WHERE e.at >= $1 AND e.at < $2 AND c.scope_code LIKE $3 AND c.status <> 'merged' \
             ORDER BY e.at, e.id LIMIT $4 OFFSET $5")
            .bind(from)
            .bind(to)
            .bind(format!("{scope_prefix}%"))
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *c)
            .await?);
        Ok(rows
            .into_iter()
            .map(|t| CaseUpdateRow {
                event_id: t.0,
                number: t.1,
                scope_code: t.2,
                at: t.3,
                action: t.4,
                to_status: t.5,
                reason: t.6,
            })
            .collect())
    }
}

/// How reports are counted: by which column of [`Tx::intake_counts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntakeDimension {
    Channel,
    Category,
    Day,
}

impl Tx {
    /// Adds reports to the daily counts: `(day, micro-grid, channel, category, how many)`, each
    /// key once, in one statement per 100 keys.
    pub async fn add_intake_counts(
        &mut self,
        counts: &[(String, String, String, i64, i64)],
    ) -> Result<()> {
        for chunk in statement_chunks(counts, 5) {
            let sql = add_intake_counts_sql(Placeholders::for_tx(self), chunk.len());
            // Only placeholders are formatted in; the values are bound.
            let sql = sqlx::AssertSqlSafe(sql);
            on!(self, c => {
                let mut q = sqlx::query(sql);
                for (day, scope, channel, category, n) in chunk {
                    q = q.bind(day).bind(scope).bind(channel).bind(category).bind(n);
                }
                q.execute(&mut *c).await?.rows_affected()
            });
        }
        Ok(())
    }

    /// Counts the daily counts again from the cases (after a bulk load that bypassed them).
    pub async fn rebuild_intake_counts(&mut self) -> Result<()> {
        let day = match self {
            Tx::Sqlite(_) => "date(created_at / 1000 + 8 * 3600, 'unixepoch')",
            Tx::Postgres(_) => {
                "to_char(to_timestamp(created_at / 1000) AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD')"
            }
        };
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO case_intake_daily (day, scope_code, channel, category_id, reported) \
             SELECT {day}, scope_code, channel, category_id, COUNT(*) FROM case_record GROUP BY 1, 2, 3, 4"
        ));
        on!(self, c => sqlx::query("DELETE FROM case_intake_daily").execute(&mut *c).await?.rows_affected());
        on!(self, c => sqlx::query(sql).execute(&mut *c).await?.rows_affected());
        Ok(())
    }

    /// Reports inside a scope from day `from` to day `to` (inclusive, `YYYY-MM-DD`), counted by
    /// one dimension: `(channel | category id | day, count)`, largest first.
    pub async fn intake_counts(
        &mut self,
        scope_prefix: &str,
        from: &str,
        to: &str,
        by: IntakeDimension,
    ) -> Result<Vec<(String, i64)>> {
        let key = match (by, &*self) {
            (IntakeDimension::Channel, _) => "channel",
            (IntakeDimension::Day, _) => "day",
            (IntakeDimension::Category, Tx::Sqlite(_)) => "CAST(category_id AS TEXT)",
            (IntakeDimension::Category, Tx::Postgres(_)) => "category_id::text",
        };
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {key}, CAST(SUM(reported) AS BIGINT) FROM case_intake_daily \
             WHERE scope_code LIKE $1 AND day >= $2 AND day <= $3 GROUP BY 1 ORDER BY 2 DESC, 1"
        ));
        let rows: Vec<(String, i64)> = on!(self, c => sqlx::query_as(sql)
            .bind(format!("{scope_prefix}%"))
            .bind(from)
            .bind(to)
            .fetch_all(&mut *c)
            .await?);
        Ok(rows)
    }
}

/// How many rows of `columns` values the next multi-row statement takes from `remaining`: all
/// of them up to [`EXACT_ROWS`] (a batch is usually that small, and one statement is one round
/// trip), beyond that the largest power of two not above it, at most 64. So a statement has at
/// most 18 shapes, which the connections' statement caches keep prepared.
pub(crate) fn rows_per_statement(remaining: usize, columns: usize) -> usize {
    let most = (64usize).min(30_000 / columns.max(1)).max(1);
    let n = remaining.clamp(1, most);
    if n <= EXACT_ROWS {
        n
    } else {
        1 << (usize::BITS - 1 - n.leading_zeros())
    }
}

/// `items` in the chunks [`rows_per_statement`] cuts, a statement each.
pub(crate) fn statement_chunks<T>(items: &[T], columns: usize) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (chunk, more) = rest.split_at(rows_per_statement(rest.len(), columns));
        rest = more;
        Some(chunk)
    })
}

/// Up to this many rows go into one statement as they are.
const EXACT_ROWS: usize = 16;

/// Prepared statements each connection keeps: the multi-row statements' shapes and the rest.
pub(crate) const STATEMENT_CACHE: usize = 500;

/// Placeholders for a statement built at run time: `$1, $2, …` on PostgreSQL, `?` on SQLite.
/// sqlx binds a SQLite statement's numbered parameters by looking each name up in a list as
/// long as the statement's, so a statement of many rows spent milliseconds binding; anonymous
/// ones are bound in the order they appear.
pub(crate) struct Placeholders {
    numbered: bool,
    n: usize,
}

impl Placeholders {
    pub(crate) fn for_tx(tx: &Tx) -> Self {
        Placeholders {
            numbered: matches!(tx, Tx::Postgres(_)),
            n: 0,
        }
    }

    /// `?` each, bound in order: SQLite's own.
    pub(crate) fn anonymous() -> Self {
        Placeholders {
            numbered: false,
            n: 0,
        }
    }

    /// The next placeholder.
    pub(crate) fn push(&mut self, sql: &mut String) {
        self.n += 1;
        if self.numbered {
            sql.push('$');
            sql.push_str(&self.n.to_string());
        } else {
            sql.push('?');
        }
    }

    /// `template` with each `?` in it a placeholder.
    pub(crate) fn fill(&mut self, sql: &mut String, template: &str) {
        let mut parts = template.split('?');
        sql.push_str(parts.next().unwrap_or_default());
        for part in parts {
            self.push(sql);
            sql.push_str(part);
        }
    }

    /// `template, template, …`, `rows` times, each `?` a placeholder: the rows of a multi-row
    /// statement.
    pub(crate) fn repeat(&mut self, sql: &mut String, rows: usize, template: &str) {
        for i in 0..rows {
            if i > 0 {
                sql.push_str(", ");
            }
            self.fill(sql, template);
        }
    }

    /// `(…), (…)`: `rows` tuples of `columns` placeholders.
    pub(crate) fn rows(&mut self, sql: &mut String, rows: usize, columns: usize) {
        for i in 0..rows {
            sql.push_str(if i > 0 { ", (" } else { "(" });
            for k in 0..columns {
                if k > 0 {
                    sql.push_str(", ");
                }
                self.push(sql);
            }
            sql.push(')');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_in_an_unknown_state_has_no_clock_event() {
        assert_eq!(next_alert_at("no such state", None, [Some(1); 4]), None);
        assert_eq!(
            next_alert_at("in_progress", None, [Some(2), None, Some(1), Some(3)]),
            Some(1)
        );
    }

    #[test]
    fn a_batch_is_split_into_few_statement_shapes() {
        let split = |n: usize, columns: usize| {
            let items = vec![(); n];
            statement_chunks(&items, columns)
                .map(<[()]>::len)
                .collect::<Vec<_>>()
        };
        assert_eq!(split(1, 27), [1]);
        assert_eq!(split(13, 27), [13]);
        assert_eq!(split(16, 27), [16]);
        assert_eq!(split(17, 27), [16, 1]);
        assert_eq!(split(64, 9), [64]);
        assert_eq!(split(200, 27), [64, 64, 64, 8]);
        // Never more placeholders than either engine takes in one statement.
        assert_eq!(split(3, 20_000), [1, 1, 1]);
        let mut shapes = std::collections::BTreeSet::new();
        for n in 1..300 {
            let chunks = split(n, 27);
            assert_eq!(chunks.iter().sum::<usize>(), n);
            assert!(chunks.iter().all(|k| *k <= 64));
            shapes.extend(chunks);
        }
        assert_eq!(shapes.len(), 18, "{shapes:?}");
    }

    #[test]
    fn placeholders_are_numbered_on_postgres_and_anonymous_on_sqlite() {
        for (numbered, rows, filled, repeated) in [
            (
                true,
                "($1, $2, $3), ($4, $5, $6)",
                "x = $7 AND y IN ($8, 'a')",
                "($9, 1), ($10, 1)",
            ),
            (
                false,
                "(?, ?, ?), (?, ?, ?)",
                "x = ? AND y IN (?, 'a')",
                "(?, 1), (?, 1)",
            ),
        ] {
            let mut p = Placeholders { numbered, n: 0 };
            let mut sql = String::new();
            p.rows(&mut sql, 2, 3);
            assert_eq!(sql, rows);
            sql.clear();
            p.fill(&mut sql, "x = ? AND y IN (?, 'a')");
            assert_eq!(sql, filled);
            sql.clear();
            p.repeat(&mut sql, 2, "(?, 1)");
            assert_eq!(sql, repeated);
        }
    }
}
