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
            let sql = add_intake_counts_sql(Placeholders::anonymous(), chunk.len());
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
            let sql = open_cases_near_sql(Placeholders::anonymous(), chunk.len());
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
            let sql = insert_cases_sql(Placeholders::anonymous(), chunk.len());
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
            let written = rows(&self.0, &sql, &values, |r| Ok((r.get(0)?, r.get(1)?)))?;
            ids.extend(case_ids_in_order(chunk, written)?);
        }
        Ok(ids)
    }

    /// See [`crate::Tx::insert_case_events`].
    pub fn insert_case_events(&mut self, events: &[NewCaseEvent<'_>]) -> Result<Vec<i64>> {
        let mut ids = Vec::with_capacity(events.len());
        for chunk in statement_chunks(events, EVENT_COLUMNS) {
            let sql = insert_case_events_sql(Placeholders::anonymous(), chunk.len());
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
            let written = rows(&self.0, &sql, &values, |r| Ok((r.get(0)?, r.get(1)?)))?;
            ids.extend(event_ids_in_order(chunk, written)?);
        }
        Ok(ids)
    }

    /// See [`crate::Tx::insert_notifications`].
    pub fn insert_notifications(&mut self, all: &[NewNotification<'_>]) -> Result<()> {
        for chunk in statement_chunks(all, NOTIFICATION_COLUMNS) {
            let sql = insert_notifications_sql(Placeholders::anonymous(), chunk.len());
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
