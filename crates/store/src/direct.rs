//! The intake's writes on SQLite, made on the writing thread itself. Through sqlx each statement
//! is a round trip to the connection's own thread: two thread wake-ups, which on two busy cores
//! cost 25–75 µs each however small the statement (measured: a batch of eight reports spent
//! 670 µs in nine such trips, about two thirds of it waiting). A [`DirectWriter`] is a second
//! connection to the same file that runs a whole batch where it is called, with the same SQL.
//! It is used only while its caller holds the pool's writing connection ([`crate::HeldWriter`]),
//! which it leaves idle as the token of the write lock: the two never wait on each other.

use crate::cases::{
    EVENT_COLUMNS, INSERT_CASE_PHOTO, PROBE_COLUMNS, Placeholders, STATEMENT_CACHE, SealedPhone,
    TAKE_CASE_SEQS, add_intake_counts_sql, answers_by_probe, case_ids_in_order, event_ids_in_order,
    insert_case_events_sql, insert_cases_sql, open_cases_near_sql, statement_chunks,
};
use crate::channels::{DECIDE_CHAT_DRAFT, INSERT_CASE_TRANSFER};
use crate::notify::{ENQUEUE, NOTIFICATION_COLUMNS, WEBHOOKS, insert_notifications_sql};
use crate::{
    DuplicateProbe, FieldCipher, NewCase, NewCaseEvent, NewCasePhoto, NewNotification, Result,
    Store, WebhookRow,
};
use domain::Millis;
use rusqlite::{Connection, OpenFlags, ToSql, TransactionBehavior};
use std::borrow::Cow;
use std::sync::OnceLock;

/// A writing connection of the intake's own to the SQLite file; see the module.
pub struct DirectWriter {
    conn: Connection,
}

impl std::fmt::Debug for DirectWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DirectWriter")
    }
}

impl Store {
    /// Opens a [`DirectWriter`] on the database's file, with the pool's settings; `None` on
    /// PostgreSQL and for a database in memory, which a second connection cannot share.
    pub async fn open_direct(&self) -> Result<Option<DirectWriter>> {
        let Store::Sqlite(pool, _) = self else {
            return Ok(None);
        };
        let file: String =
            sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
                .fetch_one(pool)
                .await?;
        if file.is_empty() {
            return Ok(None);
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = match crate::walvfs::name() {
            Some(vfs) => Connection::open_with_flags_and_vfs(&file, flags, vfs)?,
            None => Connection::open_with_flags(&file, flags)?,
        };
        conn.busy_timeout(crate::BUSY_TIMEOUT)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "wal_autocheckpoint", crate::WAL_AUTOCHECKPOINT_PAGES)?;
        conn.pragma_update(None, "journal_size_limit", crate::WAL_SIZE_LIMIT)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(Some(DirectWriter { conn }))
    }
}

impl DirectWriter {
    /// Begins a transaction with the write lock taken at once (`BEGIN IMMEDIATE`). Dropped
    /// without [`DirectTx::commit`], it rolls back.
    pub fn begin(&mut self) -> Result<DirectTx<'_>> {
        Ok(DirectTx(self.conn.transaction_with_behavior(
            TransactionBehavior::Immediate,
        )?))
    }
}

/// A transaction of a [`DirectWriter`]: the statements of [`crate::Tx`] that the intake makes,
/// with the same SQL.
pub struct DirectTx<'a>(rusqlite::Transaction<'a>);

/// A probe's key, longitude, latitude, squeeze and reach (see [`DuplicateProbe::degrees`]).
type Computed = (i64, Option<f64>, Option<f64>, f64, f64);

/// The text of one multi-row statement for each number of rows, built on first use: the
/// writer runs the same few shapes ([`crate::cases::rows_per_statement`] cuts at most 64 rows)
/// batch after batch, and building a text of thousands of placeholders was 2–4 % of its time.
struct Shapes([OnceLock<String>; 65]);

impl Shapes {
    const fn new() -> Self {
        Shapes([const { OnceLock::new() }; 65])
    }

    fn get(&self, rows: usize, build: fn(Placeholders, usize) -> String) -> Cow<'_, str> {
        match self.0.get(rows) {
            Some(text) => {
                Cow::Borrowed(text.get_or_init(|| build(Placeholders::anonymous(), rows)))
            }
            None => Cow::Owned(build(Placeholders::anonymous(), rows)),
        }
    }
}

/// The `(id, key)` of the `n` rows the last INSERT added, `select` reading them by a range of
/// ids. A row inserted without an id gets the table's largest plus one, so one statement's
/// rows, written in a transaction that holds the write lock, have consecutive ids ending at the
/// last one; the callers match what is read to what they wrote, so that were it ever otherwise
/// the statement's batch fails (and is written report by report) instead of mixing ids up.
/// This replaces `RETURNING`, which SQLite collects in a temporary table of its own each time
/// (opened, filled and dropped: 4–5 % of the writer's time).
fn just_added<K: rusqlite::types::FromSql>(
    tx: &rusqlite::Transaction<'_>,
    n: usize,
    select: &str,
) -> Result<Vec<(i64, K)>> {
    let last = tx.last_insert_rowid();
    let first = last - (n as i64 - 1);
    rows(tx, select, &[&first, &last], |r| Ok((r.get(0)?, r.get(1)?)))
}

/// Runs a statement that returns rows, each read by `read`.
fn rows<T>(
    tx: &rusqlite::Transaction<'_>,
    sql: &str,
    values: &[&dyn ToSql],
    read: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let mut statement = tx.prepare_cached(sql)?;
    let found = statement
        .query_map(values, read)?
        .collect::<rusqlite::Result<Vec<T>>>()?;
    Ok(found)
}

impl DirectTx<'_> {
    pub fn commit(self) -> Result<()> {
        Ok(self.0.commit()?)
    }

    /// See [`crate::Tx::take_case_seqs`].
    pub fn take_case_seqs(&mut self, street: &str, year: i64, count: i64) -> Result<i64> {
        let last = self
            .0
            .prepare_cached(TAKE_CASE_SEQS)?
            .query_row(rusqlite::params![street, year, count], |r| r.get(0))?;
        Ok(last)
    }

    /// See [`crate::Tx::webhooks`].
    pub fn webhooks(&mut self) -> Result<Vec<WebhookRow>> {
        rows(&self.0, WEBHOOKS, &[], |r| {
            Ok(WebhookRow {
                id: r.get(0)?,
                name: r.get(1)?,
                url: r.get(2)?,
                events: r.get(3)?,
                active: r.get(4)?,
                created_at: r.get(5)?,
            })
        })
    }

    /// See [`crate::Tx::add_intake_counts`].
    pub fn add_intake_counts(
        &mut self,
        counts: &[(String, String, String, i64, i64)],
    ) -> Result<()> {
        for chunk in statement_chunks(counts, 5) {
            static SQL: Shapes = Shapes::new();
            let sql = SQL.get(chunk.len(), add_intake_counts_sql);
            let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * 5);
            for (day, scope, channel, category, n) in chunk {
                values.extend([day as &dyn ToSql, scope, channel, category, n]);
            }
            self.0.prepare_cached(&sql)?.execute(&*values)?;
        }
        Ok(())
    }

    /// See [`crate::Tx::open_cases_near`].
    pub fn open_cases_near(
        &mut self,
        probes: &[DuplicateProbe<'_>],
        final_statuses: [&str; 3],
    ) -> Result<Vec<Option<String>>> {
        let mut found = Vec::with_capacity(probes.len());
        for chunk in statement_chunks(probes, PROBE_COLUMNS) {
            static SQL: Shapes = Shapes::new();
            let sql = SQL.get(chunk.len(), open_cases_near_sql);
            // Each probe's key, pin and reach, computed before they are bound.
            let extra: Vec<Computed> = chunk
                .iter()
                .enumerate()
                .map(|(k, p)| {
                    let (squeeze, reach) = p.degrees();
                    (
                        k as i64,
                        p.pin.map(|(x, _)| x),
                        p.pin.map(|(_, y)| y),
                        squeeze,
                        reach,
                    )
                })
                .collect();
            let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * PROBE_COLUMNS + 3);
            for (p, (k, lon, lat, squeeze, reach)) in chunk.iter().zip(&extra) {
                values.extend([
                    k as &dyn ToSql,
                    &p.scope_code,
                    &p.category_id,
                    &p.since.0,
                    lon,
                    lat,
                    squeeze,
                    reach,
                ]);
            }
            for s in &final_statuses {
                values.push(s);
            }
            let found_rows = rows(&self.0, &sql, &values, |r| Ok((r.get(0)?, r.get(1)?)))?;
            found.extend(answers_by_probe(chunk.len(), found_rows));
        }
        Ok(found)
    }

    /// See [`crate::Tx::insert_cases`].
    pub fn insert_cases(
        &mut self,
        cases: &[(&str, &NewCase)],
        cipher: &FieldCipher,
    ) -> Result<Vec<i64>> {
        let mut ids = Vec::with_capacity(cases.len());
        for chunk in statement_chunks(cases, 30) {
            static SQL: Shapes = Shapes::new();
            let sql = SQL.get(chunk.len(), insert_cases_sql);
            let sealed = chunk
                .iter()
                .map(|(_, n)| Ok((SealedPhone::of(n, cipher)?, n.next_alert_at())))
                .collect::<Result<Vec<_>>>()?;
            let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * 30);
            for ((number, n), (phone, next_alert)) in chunk.iter().zip(&sealed) {
                values.extend([
                    number as &dyn ToSql,
                    &n.channel,
                    &n.category_id,
                    &n.need_type,
                    &n.urgent,
                    &n.description,
                    &n.address,
                    &n.lon,
                    &n.lat,
                    &n.scope_code,
                    &n.tier,
                    &n.reporter_name,
                    &phone.encrypted,
                    &phone.last4_hash,
                    &phone.masked,
                    &n.reporter_account_id,
                    &n.follow_token_hash,
                    &n.case_unit,
                    &n.case_warn_at.0,
                    &n.case_deadline.0,
                    &n.now.0,
                    &n.now.0,
                    &n.holder_account_id,
                    &n.holder_node,
                    &n.stage_unit,
                    &n.now.0,
                    &n.stage_warn_at.0,
                    &n.stage_deadline.0,
                    &phone.hash,
                    next_alert,
                ]);
            }
            self.0.prepare_cached(&sql)?.execute(&*values)?;
            let written = just_added(
                &self.0,
                chunk.len(),
                "SELECT id, number FROM case_record WHERE id BETWEEN ? AND ?",
            )?;
            ids.extend(case_ids_in_order(chunk, written)?);
        }
        Ok(ids)
    }

    /// See [`crate::Tx::insert_case_events`].
    pub fn insert_case_events(&mut self, events: &[NewCaseEvent<'_>]) -> Result<Vec<i64>> {
        let mut ids = Vec::with_capacity(events.len());
        for chunk in statement_chunks(events, EVENT_COLUMNS) {
            static SQL: Shapes = Shapes::new();
            let sql = SQL.get(chunk.len(), insert_case_events_sql);
            let mut values: Vec<&dyn ToSql> = Vec::with_capacity(chunk.len() * EVENT_COLUMNS);
            for e in chunk {
                values.extend([
                    &e.case_id as &dyn ToSql,
                    &e.at.0,
                    &e.actor_id,
                    &e.actor_name,
                    &e.action,
                    &e.from_status,
                    &e.to_status,
                    &e.reason,
                    &e.detail,
                ]);
            }
            self.0.prepare_cached(&sql)?.execute(&*values)?;
            let written = just_added(
                &self.0,
                chunk.len(),
                "SELECT id, case_id FROM case_event WHERE id BETWEEN ? AND ?",
            )?;
            ids.extend(event_ids_in_order(chunk, written)?);
        }
        Ok(ids)
    }

    /// See [`crate::Tx::insert_notifications`].
    pub fn insert_notifications(&mut self, all: &[NewNotification<'_>]) -> Result<()> {
        for chunk in statement_chunks(all, NOTIFICATION_COLUMNS) {
            static SQL: Shapes = Shapes::new();
            let sql = SQL.get(chunk.len(), insert_notifications_sql);
            let mut values: Vec<&dyn ToSql> =
                Vec::with_capacity(chunk.len() * NOTIFICATION_COLUMNS);
            for n in chunk {
                values.extend([
                    &n.account_id as &dyn ToSql,
                    &n.case_id,
                    &n.kind,
                    &n.title,
                    &n.body,
                    &n.now.0,
                ]);
            }
            self.0.prepare_cached(&sql)?.execute(&*values)?;
        }
        Ok(())
    }

    /// See [`crate::Tx::insert_case_photo`].
    pub fn insert_case_photo(&mut self, p: &NewCasePhoto<'_>) -> Result<i64> {
        let id = self.0.prepare_cached(INSERT_CASE_PHOTO)?.query_row(
            rusqlite::params![
                p.case_id, p.phase, p.file, p.mime, p.bytes, p.event_id, p.now.0
            ],
            |r| r.get(0),
        )?;
        Ok(id)
    }

    /// See [`crate::Tx::enqueue`].
    pub fn enqueue(
        &mut self,
        webhook_id: i64,
        event: &str,
        payload: &str,
        now: Millis,
    ) -> Result<i64> {
        let id = self
            .0
            .prepare_cached(ENQUEUE)?
            .query_row(rusqlite::params![webhook_id, event, payload, now.0], |r| {
                r.get(0)
            })?;
        Ok(id)
    }

    /// See [`crate::Tx::insert_case_transfer`].
    pub fn insert_case_transfer(
        &mut self,
        case_id: i64,
        source_id: i64,
        external_id: &str,
        reported_at: Millis,
        transferred_at: Millis,
        received_at: Millis,
    ) -> Result<()> {
        self.0
            .prepare_cached(INSERT_CASE_TRANSFER)?
            .execute(rusqlite::params![
                case_id,
                source_id,
                external_id,
                reported_at.0,
                transferred_at.0,
                received_at.0
            ])?;
        Ok(())
    }

    /// See [`crate::Tx::decide_chat_draft`]. Its parameters are named (`$1` is bound last in
    /// the statement), so they are bound by name.
    pub fn decide_chat_draft(
        &mut self,
        id: i64,
        status: &str,
        case_id: Option<i64>,
        by: Option<i64>,
        reason: &str,
        at: Millis,
    ) -> Result<bool> {
        let n = self.0.prepare_cached(DECIDE_CHAT_DRAFT)?.execute(&[
            ("$1", &id as &dyn ToSql),
            ("$2", &status),
            ("$3", &case_id),
            ("$4", &by),
            ("$5", &at.0),
            ("$6", &reason),
        ])?;
        Ok(n == 1)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn case(i: i64) -> NewCase {
        NewCase {
            channel: "api".into(),
            category_id: 1,
            need_type: None,
            urgent: false,
            description: format!("第{i}件"),
            address: String::new(),
            lon: None,
            lat: None,
            scope_code: "510115001001001001".into(),
            tier: "micro_grid",
            reporter_name: None,
            reporter_phone: None,
            reporter_account_id: None,
            follow_token_hash: format!("h{i}"),
            holder_account_id: None,
            holder_node: "510115001001001001".into(),
            stage_unit: "working_hours",
            stage_warn_at: Millis(0),
            stage_deadline: Millis(0),
            case_unit: "working_days",
            case_warn_at: Millis(0),
            case_deadline: Millis(0),
            now: Millis(0),
        }
    }

    /// Inserts cases numbered `numbers` and a history entry each, in one transaction; their
    /// ids as the writer reports them, checked against the rows when it reports success.
    fn insert(w: &mut DirectWriter, numbers: &[&str]) -> Result<Vec<i64>> {
        let cipher = FieldCipher::from_hex(&"55".repeat(32)).unwrap();
        let cases: Vec<NewCase> = (0..numbers.len() as i64).map(case).collect();
        let chunk: Vec<(&str, &NewCase)> = numbers.iter().copied().zip(&cases).collect();
        let mut tx = w.begin()?;
        let ids = tx.insert_cases(&chunk, &cipher)?;
        let events: Vec<NewCaseEvent<'_>> = ids
            .iter()
            .zip(numbers)
            .map(|(id, number)| NewCaseEvent {
                case_id: *id,
                at: Millis(0),
                actor_id: None,
                actor_name: "测试",
                action: "report",
                from_status: None,
                to_status: "reported",
                reason: "",
                detail: number,
            })
            .collect();
        let event_ids = tx.insert_case_events(&events)?;
        for ((id, number), event_id) in ids.iter().zip(numbers).zip(&event_ids) {
            let (case_number, event_case, event_detail): (String, i64, String) = tx.0.query_row(
                "SELECT c.number, e.case_id, e.detail FROM case_record c, case_event e \
                 WHERE c.id = ?1 AND e.id = ?2",
                rusqlite::params![id, event_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            assert_eq!((case_number.as_str(), event_case), (*number, *id));
            assert_eq!(event_detail, *number);
        }
        tx.commit()?;
        Ok(ids)
    }

    #[tokio::test]
    async fn a_statements_rows_get_their_own_ids_and_a_gap_in_them_fails_the_statement() {
        let db = crate::testing::fresh_on("sqlite").await;
        let mut w = db.store.open_direct().await.unwrap().expect("a file");
        // No category or account rows here: the ids are what is tested.
        w.conn.pragma_update(None, "foreign_keys", "OFF").unwrap();
        let ids = insert(&mut w, &["A-1", "A-2", "A-3", "A-4", "A-5"]).unwrap();
        assert_eq!(
            ids,
            vec![ids[0], ids[0] + 1, ids[0] + 2, ids[0] + 3, ids[0] + 4]
        );

        // Once the largest id is taken, SQLite picks new ids at random: a statement's rows are
        // no longer consecutive, which the read-back sees, and the statement fails instead of
        // handing out wrong ids; one row at a time still works.
        w.conn
            .execute(
                "INSERT INTO case_record (id, number, channel, category_id, description, address, \
                 scope_code, status, tier, follow_token_hash, case_unit, case_warn_at, case_deadline, \
                 version, created_at, updated_at) \
                 VALUES (9223372036854775807, 'MAX', 'api', 1, '', '', 'x', 'reported', 'micro_grid', \
                 'h', 'working_days', 0, 0, 1, 0, 0)",
                [],
            )
            .unwrap();
        w.conn
            .execute(
                "INSERT INTO case_event (id, case_id, at, actor_name, action, to_status, reason, detail) \
                 VALUES (9223372036854775807, 9223372036854775807, 0, '', 'report', 'reported', '', '')",
                [],
            )
            .unwrap();
        let cipher = FieldCipher::from_hex(&"55".repeat(32)).unwrap();
        let cases = [case(1), case(2), case(3)];
        let chunk = [("B-1", &cases[0]), ("B-2", &cases[1]), ("B-3", &cases[2])];
        let mut tx = w.begin().unwrap();
        let refused = tx.insert_cases(&chunk, &cipher);
        assert!(refused.is_err(), "{refused:?}");
        drop(tx);
        let one = insert(&mut w, &["C-1"]).unwrap();
        let n: i64 = w
            .conn
            .query_row(
                "SELECT count(*) FROM case_record WHERE number LIKE 'B-%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 0, "the failed statement's transaction left nothing");
        assert_eq!(one.len(), 1);
    }
}
