//! The intake's writes on SQLite, made on the writing thread itself. Through sqlx each statement
//! is a round trip to the connection's own thread: two thread wake-ups, which on two busy cores
//! cost 25–75 µs each however small the statement (measured: a batch of eight reports spent
//! 670 µs in nine such trips, about two thirds of it waiting). A [`DirectWriter`] is a second
//! connection to the same file that runs a whole batch where it is called, with the same SQL.
//! It is used only while its caller holds the pool's writing connection ([`crate::HeldWriter`]),
//! which it leaves idle as the token of the write lock: the two never wait on each other.

use crate::cases::{
    BUMP_CASE_SEQS, CASE_SEQ, EVENT_COLUMNS, INSERT_CASE_PHOTO, Placeholders, STATEMENT_CACHE,
    SealedPhone, add_intake_counts_sql, case_ids_in_order, event_ids_in_order,
    insert_case_events_sql, insert_cases_sql, statement_chunks,
};
use crate::channels::{DECIDE_CHAT_DRAFT, INSERT_CASE_TRANSFER};
use crate::notify::{ENQUEUE, NOTIFICATION_COLUMNS, WEBHOOKS, insert_notifications_sql};
use crate::recent::{Recent, Staged};
use crate::{
    DuplicateProbe, FieldCipher, NewCase, NewCaseEvent, NewCasePhoto, NewNotification, Result,
    Store, WebhookRow,
};
use domain::Millis;
use rusqlite::{Connection, OpenFlags, ToSql};
use std::borrow::Cow;
use std::sync::OnceLock;

/// A writing connection of the intake's own to the SQLite file; see the module.
pub struct DirectWriter {
    conn: Connection,
    /// The cases the duplicate check compares with, kept between transactions.
    recent: Recent,
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
        Ok(Some(DirectWriter {
            conn,
            recent: Recent::default(),
        }))
    }
}

impl DirectWriter {
    /// Begins a transaction with the write lock taken at once (`BEGIN IMMEDIATE`). Dropped
    /// without [`DirectTx::commit`], it rolls back.
    pub fn begin(&mut self) -> Result<DirectTx<'_>> {
        let DirectWriter { conn, recent } = self;
        conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        Ok(DirectTx {
            tx: Open(conn),
            recent,
            staged: None,
        })
    }
}

/// The connection in a transaction that [`DirectTx::commit`] ends, or else its drop rolls
/// back. Not `rusqlite::Transaction`, whose `BEGIN`, `COMMIT` and `ROLLBACK` are parsed again
/// each time (`execute_batch`): here they are prepared once, like the other statements.
struct Open<'a>(&'a Connection);

impl std::ops::Deref for Open<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.0
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        // Not committed, or the commit failed (and left the transaction open).
        if !self.0.is_autocommit() {
            let _ = self
                .0
                .prepare_cached("ROLLBACK")
                .and_then(|mut s| s.execute([]));
        }
    }
}

/// A transaction of a [`DirectWriter`]: the statements of [`crate::Tx`] that the intake makes,
/// with the same SQL, but for the duplicate check ([`Recent`]) and the case counter (read back
/// without `RETURNING`).
pub struct DirectTx<'a> {
    tx: Open<'a>,
    recent: &'a mut Recent,
    /// The cases written since [`Recent`] caught up in this transaction (`None` before it
    /// did): handed to it on commit.
    staged: Option<Staged>,
}

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
    tx: &Connection,
    n: usize,
    select: &str,
) -> Result<Vec<(i64, K)>> {
    let last = tx.last_insert_rowid();
    let first = last - (n as i64 - 1);
    rows(tx, select, &[&first, &last], |r| Ok((r.get(0)?, r.get(1)?)))
}

/// Runs a statement that returns rows, each read by `read`.
fn rows<T>(
    tx: &Connection,
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
        self.tx.prepare_cached("COMMIT")?.execute([])?;
        if let Some(staged) = self.staged {
            self.recent.written(staged);
        }
        Ok(())
    }

    /// See [`crate::Tx::take_case_seqs`].
    ///
    /// The same counter, read back by a second statement: SQLite collects `RETURNING` rows in a
    /// temporary table of their own, opened and dropped each time.
    pub fn take_case_seqs(&mut self, street: &str, year: i64, count: i64) -> Result<i64> {
        self.tx
            .prepare_cached(BUMP_CASE_SEQS)?
            .execute(rusqlite::params![street, year, count])?;
        let last = self
            .tx
            .prepare_cached(CASE_SEQ)?
            .query_row(rusqlite::params![street, year], |r| r.get(0))?;
        Ok(last)
    }

    /// See [`crate::Tx::webhooks`].
    pub fn webhooks(&mut self) -> Result<Vec<WebhookRow>> {
        rows(&self.tx, WEBHOOKS, &[], |r| {
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
            self.tx.prepare_cached(&sql)?.execute(&*values)?;
        }
        Ok(())
    }

    /// See [`crate::Tx::open_cases_near`]: the same answers, from the writer's [`Recent`].
    pub fn open_cases_near(
        &mut self,
        probes: &[DuplicateProbe<'_>],
        final_statuses: [&str; 3],
    ) -> Result<Vec<Option<String>>> {
        let found = self
            .recent
            .open_cases_near(&self.tx, probes, final_statuses)?;
        self.staged.get_or_insert_default();
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
            self.tx.prepare_cached(&sql)?.execute(&*values)?;
            let written = just_added(
                &self.tx,
                chunk.len(),
                "SELECT id, number FROM case_record WHERE id BETWEEN ? AND ?",
            )?;
            let first = ids.len();
            ids.extend(case_ids_in_order(chunk, written)?);
            if let Some(staged) = &mut self.staged {
                for ((_, n), id) in chunk.iter().zip(&ids[first..]) {
                    staged.case(*id, &n.scope_code, n.category_id, n.now.0, n.lon.zip(n.lat));
                }
            }
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
            self.tx.prepare_cached(&sql)?.execute(&*values)?;
            let written = just_added(
                &self.tx,
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
            self.tx.prepare_cached(&sql)?.execute(&*values)?;
        }
        Ok(())
    }

    /// See [`crate::Tx::insert_case_photo`].
    pub fn insert_case_photo(&mut self, p: &NewCasePhoto<'_>) -> Result<i64> {
        let id = self.tx.prepare_cached(INSERT_CASE_PHOTO)?.query_row(
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
            .tx
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
        self.tx
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
        let n = self.tx.prepare_cached(DECIDE_CHAT_DRAFT)?.execute(&[
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
            let (case_number, event_case, event_detail): (String, i64, String) = tx.tx.query_row(
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

    /// What the duplicate check is asked, or what happens to the cases meanwhile.
    #[derive(Debug, Clone)]
    enum Op {
        /// A case written by the intake's writer; `kept` false: its transaction rolls back;
        /// `checked`: the check runs first in its transaction, as the intake runs it.
        Write {
            case: Made,
            kept: bool,
            checked: bool,
        },
        /// A case written by another connection, between the writer's transactions.
        Other(Made),
        /// One of the cases is closed (by another connection).
        Close(usize),
        /// Reports to check, each with its window in minutes.
        Check(Vec<(Made, u16)>),
    }

    /// A case or report: micro-grid and category (one of two each), its pin in steps of 10 m
    /// from a corner (or none), how many minutes before the clock it was reported, and how far
    /// the clock moves on before it (minutes).
    #[derive(Debug, Clone)]
    struct Made {
        scope: bool,
        category: bool,
        pin: Option<(i8, i8)>,
        age: u16,
        later: u16,
    }

    fn made() -> impl proptest::strategy::Strategy<Value = Made> {
        use proptest::prelude::*;
        (
            any::<bool>(),
            any::<bool>(),
            proptest::option::of((-3i8..=3, -3i8..=3)),
            0u16..120,
            0u16..900,
        )
            .prop_map(|(scope, category, pin, age, later)| Made {
                scope,
                category,
                pin,
                age,
                later,
            })
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            3 => (made(), proptest::bool::weighted(0.8), any::<bool>())
                .prop_map(|(case, kept, checked)| Op::Write { case, kept, checked }),
            1 => made().prop_map(Op::Other),
            1 => any::<usize>().prop_map(Op::Close),
            3 => proptest::collection::vec((made(), 0u16..4_500), 1..4).prop_map(Op::Check),
        ]
    }

    /// A case as the model keeps it: number, micro-grid, category, time, pin, open.
    type Kept = (String, &'static str, i64, i64, Option<(f64, f64)>, bool);

    const SCOPES: [&str; 2] = ["510115001001001001", "510115001001001002"];
    const FINAL: [&str; 3] = ["rejected", "closed", "merged"];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(40))]

        /// Whoever writes the cases, whatever is rolled back or closed, and however the windows
        /// move (loaded, caught up, dropped from memory, loaded again further back): the
        /// writer's check finds for each report the newest open case of its micro-grid and
        /// category within its window and reach, as the statement over the table would.
        #[test]
        fn the_writers_duplicate_check_finds_what_the_table_holds(
            ops in proptest::collection::vec(op(), 1..40)
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let db = rt.block_on(crate::testing::fresh_on("sqlite"));
            let mut w = rt.block_on(db.store.open_direct()).unwrap().expect("a file");
            w.conn.pragma_update(None, "foreign_keys", "OFF").unwrap();
            let file = db.url.trim_start_matches("sqlite://").to_owned();
            let other = Connection::open(&file).unwrap();
            other.busy_timeout(crate::BUSY_TIMEOUT).unwrap();
            other
                .execute_batch(
                    "INSERT INTO category (id, code, name, kind, handler, tier, limits, warn_share, \
                     closing_conditions, sort, updated_at) VALUES \
                     (1, 'a', 'a', 'k', 'h', 'micro_grid', '{}', 0.8, '', 1, 0), \
                     (2, 'b', 'b', 'k', 'h', 'micro_grid', '{}', 0.8, '', 2, 0)",
                )
                .unwrap();
            let cipher = FieldCipher::from_hex(&"55".repeat(32)).unwrap();
            let (lon0, lat0) = (104.06, 30.66);
            let pin_of = |p: Option<(i8, i8)>| {
                p.map(|(east, north)| {
                    let lat = lat0 + f64::from(north) * 10.0 / 111_320.0;
                    (lon0 + f64::from(east) * 10.0 / (111_320.0 * lat.to_radians().cos()), lat)
                })
            };
            // Three days on, so that no time is negative; each op's own milliseconds keep
            // every case's time apart from the others'.
            let mut clock: i64 = 3 * 86_400_000;
            let mut kept: Vec<Kept> = Vec::new();
            for (i, op) in ops.iter().enumerate() {
                let stamp = |m: &Made, clock: i64| clock - i64::from(m.age) * 60_000 + i as i64;
                match op {
                    Op::Write { case: m, kept: keep, checked } => {
                        clock += i64::from(m.later) * 60_000;
                        let pin = pin_of(m.pin);
                        let mut n = case(i as i64);
                        n.scope_code = SCOPES[usize::from(m.scope)].into();
                        n.category_id = 1 + i64::from(m.category);
                        n.lon = pin.map(|p| p.0);
                        n.lat = pin.map(|p| p.1);
                        n.now = Millis(stamp(m, clock));
                        let number = format!("N-{i}");
                        let mut tx = w.begin().unwrap();
                        if *checked {
                            let probe = DuplicateProbe {
                                scope_code: &n.scope_code,
                                category_id: n.category_id,
                                // The widest window the checks use: they then read
                                // nothing again that this one has loaded.
                                since: Millis(n.now.0 - 4_500 * 60_000),
                                pin,
                                metres: 25.0,
                            };
                            tx.open_cases_near(&[probe], FINAL).unwrap();
                        }
                        tx.insert_cases(&[(number.as_str(), &n)], &cipher).unwrap();
                        if *keep {
                            tx.commit().unwrap();
                            kept.push((number, SCOPES[usize::from(m.scope)], n.category_id, n.now.0, pin, true));
                        }
                    }
                    Op::Other(m) => {
                        clock += i64::from(m.later) * 60_000;
                        let pin = pin_of(m.pin);
                        let number = format!("N-{i}");
                        let (scope, category, at) =
                            (SCOPES[usize::from(m.scope)], 1 + i64::from(m.category), stamp(m, clock));
                        other
                            .execute(
                                "INSERT INTO case_record (number, channel, category_id, description, \
                                 address, lon, lat, scope_code, status, tier, follow_token_hash, case_unit, \
                                 case_warn_at, case_deadline, version, created_at, updated_at) \
                                 VALUES (?1, 'api', ?2, '', '', ?3, ?4, ?5, 'reported', 'micro_grid', \
                                 'h', 'working_days', 0, 0, 1, ?6, ?6)",
                                rusqlite::params![number, category, pin.map(|p| p.0), pin.map(|p| p.1), scope, at],
                            )
                            .unwrap();
                        kept.push((number, scope, category, at, pin, true));
                    }
                    Op::Close(k) => {
                        if !kept.is_empty() {
                            let k = k % kept.len();
                            other
                                .execute(
                                    "UPDATE case_record SET status = 'closed' WHERE number = ?1",
                                    [&kept[k].0],
                                )
                                .unwrap();
                            kept[k].5 = false;
                        }
                    }
                    Op::Check(reports) => {
                        let probes: Vec<DuplicateProbe<'_>> = reports
                            .iter()
                            .map(|(m, window)| {
                                let at = stamp(m, clock);
                                DuplicateProbe {
                                    scope_code: SCOPES[usize::from(m.scope)],
                                    category_id: 1 + i64::from(m.category),
                                    since: Millis(at - i64::from(*window) * 60_000),
                                    pin: pin_of(m.pin),
                                    metres: 25.0,
                                }
                            })
                            .collect();
                        let mut tx = w.begin().unwrap();
                        let found = tx.open_cases_near(&probes, FINAL).unwrap();
                        drop(tx);
                        let expected: Vec<Option<String>> = probes
                            .iter()
                            .map(|p| {
                                kept.iter()
                                    .filter(|c| {
                                        c.1 == p.scope_code
                                            && c.2 == p.category_id
                                            && c.3 >= p.since.0
                                            && c.5
                                            && p.near(c.4)
                                    })
                                    .max_by_key(|c| c.3)
                                    .map(|c| c.0.clone())
                            })
                            .collect();
                        proptest::prop_assert_eq!(found, expected, "after {:?}", &ops[..=i]);
                    }
                }
            }
        }
    }
}
