//! The database. One [`Store`] over SQLite or PostgreSQL, chosen by the URL at start-up; both
//! engines are always compiled in. Repositories are methods on [`Tx`], a transaction: every use
//! case runs in exactly one, so nothing is ever half-written. The SQL text is the same for both
//! engines (`$1…$n` placeholders work on both); the [`on!`] macro expands one body per engine so
//! each query is type-checked against both drivers. The store stores and finds; it decides no rule.

mod accounts;
mod api_keys;
mod audit;
mod cases;
mod channels;
pub mod crypto;
mod direct;
mod error;
mod grid;
mod migrate;
mod notify;
mod recent;
mod registry;
mod roster;
pub mod testing;
mod walvfs;

pub use accounts::{Account, GrantRow, NewAccount, NewSession, SessionRow};
pub use api_keys::{ApiKeyRow, NewApiKey};
pub use audit::{AuditEvent, AuditQuery, NewAuditEvent};
pub use cases::{
    BenchCase, CaseChange, CaseEventRow, CaseFilter, CasePhotoRow, CaseRow, CaseUpdateRow,
    CategoryRow, DuplicateProbe, IntakeDimension, NewCase, NewCaseEvent, NewCasePhoto,
    REPORTER_PHONE_FIELD,
};
pub use channels::{CaseTransferRow, ChatDraftRow, ChatGroupRow, NewChatDraft, TransferSourceRow};
pub use crypto::{CryptoError, FieldCipher, fill_random, hex};
pub use direct::{DirectTx, DirectWriter};
pub use error::StoreError;
pub use grid::{GridNode, GridNodeInput, GridNodeVersion};
pub use migrate::{MIGRATIONS, MigrateReport};
pub use notify::{Delivery, NewNotification, NotificationRow, OutboxRow, WebhookRow};
pub use registry::{
    BuildingRow, HouseholdAddressRow, HouseholdRow, ID_FIELD, NewBuilding, NewResident,
    PHONE_FIELD, ResidentRow, ResidentSearch,
};
pub use roster::{NewStaff, StaffRow, TagRow};

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which database engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

/// A pool of connections to one database.
#[derive(Clone, Debug)]
pub enum Store {
    /// Readers share the first pool; writers queue for the second, which has one connection,
    /// so that they wait in order instead of in SQLite's busy loop.
    Sqlite(SqlitePool, SqlitePool),
    Postgres(PgPool),
}

/// One transaction (dropped without [`Tx::commit`], it rolls back), or a connection that runs
/// each statement on its own ([`Store::read_once`]).
pub enum Tx {
    Sqlite(Conn<sqlx::Sqlite>),
    Postgres(Conn<sqlx::Postgres>),
}

/// A connection in a transaction or on its own; either way it derefs to the engine's connection.
pub enum Conn<DB: sqlx::Database> {
    Tx(sqlx::Transaction<'static, DB>),
    Plain(sqlx::pool::PoolConnection<DB>),
}

impl<DB: sqlx::Database> std::ops::Deref for Conn<DB> {
    type Target = DB::Connection;
    fn deref(&self) -> &DB::Connection {
        match self {
            Conn::Tx(t) => t,
            Conn::Plain(c) => c,
        }
    }
}

impl<DB: sqlx::Database> std::ops::DerefMut for Conn<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        match self {
            Conn::Tx(t) => t,
            Conn::Plain(c) => c,
        }
    }
}

impl<DB: sqlx::Database> Conn<DB> {
    async fn commit(self) -> Result<()> {
        if let Conn::Tx(t) = self {
            t.commit().await?;
        }
        Ok(())
    }
}

/// Runs the same body against whichever engine the transaction is on; inside, `$c` is the
/// connection (`&mut SqliteConnection` or `&mut PgConnection`): pass it as `&mut *$c`.
macro_rules! on {
    ($tx:expr, $c:ident => $body:expr) => {
        match $tx {
            $crate::Tx::Sqlite(t) => {
                let $c = &mut **t;
                $body
            }
            $crate::Tx::Postgres(t) => {
                let $c = &mut **t;
                $body
            }
        }
    };
}
pub(crate) use on;

/// Hides the password of a database URL, for logs and messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}://{user}:***{}", &url[..scheme_end], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Pages (4 KiB) the SQLite WAL may grow to before the checkpointer empties it (see
/// [`spawn_checkpointer`]): each time costs a short pause of the writes, so not too often.
const WAL_RESET_PAGES: i64 = 40_000;
/// Pages the WAL may grow to before the writer that commits copies it into the database file
/// itself, inside its transaction's time: only when the checkpointer could not empty it (a
/// reader kept an old snapshot all along, or the checkpointer stopped).
const WAL_AUTOCHECKPOINT_PAGES: &str = "80000";
/// The WAL file is cut back to this size (bytes) after it was emptied: above the size it
/// reaches between two resets under load, so that it is not cut and grown again each time.
const WAL_SIZE_LIMIT: &str = "201326592";
/// How long a connection waits for another process's write lock before it gives up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the checkpointer copies the WAL into the database file. A page written again
/// and again (the end of a table, an index's busy leaf) is copied once a pass, so passes not
/// too close together copy less.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(150);
/// Passes on a reading connection, at most, that catch up on the WAL before the pass on the
/// writing connection (see [`spawn_checkpointer`]).
const CATCH_UP_PASSES: usize = 4;

/// One `PASSIVE` checkpoint: copies into the database file what no reader still needs of the
/// WAL (`fsync`ing the WAL before and the file after), waiting for no one. The WAL's frames and
/// how many of them are copied.
async fn checkpoint<'c>(c: impl sqlx::SqliteExecutor<'c>) -> Result<(i64, i64)> {
    let (_busy, frames, copied): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(c)
        .await?;
    Ok((frames, copied))
}

/// Copies the SQLite WAL into the database file in the background, every `every`, until the
/// store is closed, so that the writers do not have to. A pass on a reading connection leaves
/// the writers be; but while writes stream in it never copies the last frames, and only a WAL
/// copied to its end is started over by the next write transaction. So once the WAL has
/// `reset_at` frames, a last pass runs on the writing connection, taken from its pool as a
/// writer takes it: nothing is written meanwhile, it copies what the passes before it could
/// not, and the WAL starts over. Without it the writer that crosses [`WAL_AUTOCHECKPOINT_PAGES`]
/// copies all that the passes could not and `fsync`s both files in its own transaction.
///
/// The writes wait while that last pass copies and `fsync`s, so it should find little to do:
/// before it, passes on the reading connection follow each other at once, each copying what
/// came in during the one before, fewer frames each time while copying outpaces the writes,
/// until one finds less than a twentieth of `reset_at` new. Measured in alternation with
/// `weige bench intake --cases 100000` (rounds long enough for many resets) against one pass
/// every 50 ms and a reset at 10,000 pages: intake 20 % → 23–24 % of the empty endpoint, the
/// 64-client p99 26–29 ms → 7–8.5 ms (the last pass took 20–40 ms then, copying the
/// 10,000–15,000 frames that came in during the first). When a reader keeps the last pass
/// from copying everything, the next waits a second; when nothing was written since the WAL
/// was copied to its end, there is nothing to do.
fn spawn_checkpointer(pool: SqlitePool, writer: SqlitePool, reset_at: i64, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut hold_off_until = tokio::time::Instant::now();
        // The WAL's frames when the last pass copied all of them: the WAL is started over by the
        // next write, and until then a pass finding as many has nothing to do.
        let mut emptied_at = None;
        loop {
            tick.tick().await;
            if pool.is_closed() {
                return;
            }
            let pass = async {
                let (mut frames, _) = checkpoint(&pool).await?;
                if frames < reset_at
                    || emptied_at == Some(frames)
                    || tokio::time::Instant::now() < hold_off_until
                {
                    return Ok(());
                }
                for _ in 0..CATCH_UP_PASSES {
                    let (now, _) = checkpoint(&pool).await?;
                    let came_in = now - frames;
                    frames = now;
                    if came_in < 0 {
                        // A write started the WAL over meanwhile.
                        return Ok(());
                    }
                    if came_in < reset_at / 20 {
                        break;
                    }
                }
                let mut c = match writer.acquire().await {
                    Ok(c) => c,
                    // A long write keeps it: the next tick tries again.
                    Err(sqlx::Error::PoolTimedOut) => return Ok(()),
                    Err(e) => return Err(StoreError::from(e)),
                };
                let (frames, copied) = checkpoint(&mut *c).await?;
                if copied < frames {
                    hold_off_until = tokio::time::Instant::now() + Duration::from_secs(1);
                } else {
                    emptied_at = Some(frames);
                }
                Ok(())
            };
            if let Err(e) = pass.await {
                if pool.is_closed() {
                    return;
                }
                tracing::warn!(error = %e, "WAL checkpoint failed");
            }
        }
    });
}

/// The settings of every connection to a SQLite database, from its URL.
fn sqlite_options(url: &str) -> Result<SqliteConnectOptions> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::BadUrl(format!("{}: {e}", redact_url(url))))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)
        .pragma("journal_size_limit", WAL_SIZE_LIMIT)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true)
        .statement_cache_capacity(cases::STATEMENT_CACHE);
    // Through the VFS that writes a commit's WAL frames at once, where it could be registered.
    Ok(match walvfs::name() {
        Some(vfs) => options.vfs(vfs),
        None => options,
    })
}

impl Store {
    /// Opens the database a URL names: `sqlite://path` (the file is created if missing) or
    /// `postgres://user@host:port/db`. Fails with [`StoreError::Unavailable`] when it cannot be reached.
    pub async fn connect(url: &str) -> Result<Store> {
        let shown = redact_url(url);
        if url.starts_with("sqlite:") {
            let options = sqlite_options(url)?;
            // No ping before each use: a connection to a local file does not go stale, and on
            // SQLite the ping is a round trip to the connection's thread (measured: one of the
            // three thread hops of a report's duplicate check).
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .test_before_acquire(false)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options.clone())
                .await
                .map_err(|e| StoreError::Unavailable(format!("{shown}: {e}")))?;
            let writer = SqlitePoolOptions::new()
                .max_connections(1)
                .test_before_acquire(false)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options)
                .await
                .map_err(|e| StoreError::Unavailable(format!("{shown}: {e}")))?;
            spawn_checkpointer(
                pool.clone(),
                writer.clone(),
                WAL_RESET_PAGES,
                CHECKPOINT_EVERY,
            );
            Ok(Store::Sqlite(pool, writer))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)
                .map_err(|e| StoreError::BadUrl(format!("{shown}: {e}")))?
                .statement_cache_capacity(cases::STATEMENT_CACHE);
            // One connection first, so that the cause (refused, unknown database, auth) is what is reported.
            let probe = tokio::time::timeout(
                Duration::from_secs(10),
                PgConnection::connect_with(&options),
            )
            .await
            .map_err(|_| StoreError::Unavailable(format!("{shown}: no answer within 10 s")))?
            .map_err(|e| StoreError::Unavailable(format!("{shown}: {e}")))?;
            let _ = probe.close().await;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(5))
                .connect_lazy_with(options);
            Ok(Store::Postgres(pool))
        } else {
            Err(StoreError::BadUrl(format!(
                "{shown}: the database URL starts with sqlite:// or postgres://"
            )))
        }
    }

    pub fn engine(&self) -> Engine {
        match self {
            Store::Sqlite(_, _) => Engine::Sqlite,
            Store::Postgres(_) => Engine::Postgres,
        }
    }

    // The pool's futures (taking a connection, beginning on it) are 8–9 KB: each is boxed
    // here, or every request future that may read the database, reading or not, carries them
    // and is moved with them (`App::report_case`'s was 9.9 KB, in a request that reads only
    // caches).

    /// A transaction that may write. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`), so two writers queue instead of failing halfway with SQLITE_BUSY.
    pub async fn write(&self) -> Result<Tx> {
        Ok(match self {
            Store::Sqlite(_, w) => {
                Tx::Sqlite(Conn::Tx(Box::pin(w.begin_with("BEGIN IMMEDIATE")).await?))
            }
            Store::Postgres(p) => Tx::Postgres(Conn::Tx(Box::pin(p.begin()).await?)),
        })
    }

    /// A transaction that only reads.
    pub async fn read(&self) -> Result<Tx> {
        Ok(match self {
            Store::Sqlite(p, _) => Tx::Sqlite(Conn::Tx(Box::pin(p.begin()).await?)),
            Store::Postgres(p) => Tx::Postgres(Conn::Tx(Box::pin(p.begin()).await?)),
        })
    }

    /// A reading connection without a transaction: each statement sees the database as it is
    /// when it runs. For hot paths whose statements do not need to agree with each other; it
    /// saves the round trips of BEGIN and ROLLBACK.
    pub async fn read_once(&self) -> Result<Tx> {
        Ok(match self {
            Store::Sqlite(p, _) => Tx::Sqlite(Conn::Plain(Box::pin(p.acquire()).await?)),
            Store::Postgres(p) => Tx::Postgres(Conn::Plain(Box::pin(p.acquire()).await?)),
        })
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<()> {
        match self {
            Store::Sqlite(p, _) => sqlx::query("SELECT 1").execute(p).await?.rows_affected(),
            Store::Postgres(p) => sqlx::query("SELECT 1").execute(p).await?.rows_affected(),
        };
        Ok(())
    }

    pub async fn close(&self) {
        match self {
            Store::Sqlite(p, w) => {
                w.close().await;
                p.close().await;
            }
            Store::Postgres(p) => p.close().await,
        }
    }
}

/// A writing connection that one task keeps across many transactions in a row: the intake's
/// group commit. A connection handed back to the pool costs a spawned task and a ping on the
/// connection's thread, and the next transaction waits for both (measured: 250–600 µs, a sixth
/// of the time a batch of eight reports took); kept, a transaction is `BEGIN`, its statements
/// and `COMMIT`. The keeper hands it back now and then ([`HeldWriter::held_for`]) so that other
/// writers get their turn: the pool serves its waiters in order.
pub struct HeldWriter {
    /// Always a plain connection: the transactions are begun and ended by statement.
    tx: Tx,
    open: bool,
    since: std::time::Instant,
}

impl Store {
    /// Takes a writing connection to keep; see [`HeldWriter`].
    pub async fn hold_writer(&self) -> Result<HeldWriter> {
        let tx = match self {
            Store::Sqlite(_, w) => Tx::Sqlite(Conn::Plain(Box::pin(w.acquire()).await?)),
            Store::Postgres(p) => Tx::Postgres(Conn::Plain(Box::pin(p.acquire()).await?)),
        };
        Ok(HeldWriter {
            tx,
            open: false,
            since: std::time::Instant::now(),
        })
    }
}

impl HeldWriter {
    /// Begins a transaction; on SQLite with the write lock taken at once, as [`Store::write`].
    pub async fn begin(&mut self) -> Result<&mut Tx> {
        if self.open {
            return Err(StoreError::Internal("a transaction is open already".into()));
        }
        let begin = match self.tx {
            Tx::Sqlite(_) => "BEGIN IMMEDIATE",
            Tx::Postgres(_) => "BEGIN",
        };
        on!(&mut self.tx, c => sqlx::query(begin).execute(c).await.map(|_| ()))?;
        self.open = true;
        Ok(&mut self.tx)
    }

    pub async fn commit(&mut self) -> Result<()> {
        self.end("COMMIT").await
    }

    pub async fn rollback(&mut self) -> Result<()> {
        self.end("ROLLBACK").await
    }

    async fn end(&mut self, sql: &'static str) -> Result<()> {
        if !self.open {
            return Err(StoreError::Internal("no transaction is open".into()));
        }
        on!(&mut self.tx, c => sqlx::query(sql).execute(c).await.map(|_| ()))?;
        self.open = false;
        Ok(())
    }

    /// Whether a transaction is still open (its COMMIT or ROLLBACK failed).
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// How long ago the connection was taken from the pool.
    pub fn held_for(&self) -> Duration {
        self.since.elapsed()
    }
}

impl Drop for HeldWriter {
    /// A transaction still open (its end failed, or the task stopped halfway) must not reach
    /// the connection's next user: the connection is closed instead of handed back.
    fn drop(&mut self) {
        if self.open {
            match &mut self.tx {
                Tx::Sqlite(Conn::Plain(c)) => c.close_on_drop(),
                Tx::Postgres(Conn::Plain(c)) => c.close_on_drop(),
                Tx::Sqlite(Conn::Tx(_)) | Tx::Postgres(Conn::Tx(_)) => {}
            }
        }
    }
}

impl Tx {
    pub async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(t) => t.commit().await,
            Tx::Postgres(t) => t.commit().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// While writes follow each other without a pause, the checkpointer still starts the WAL
    /// over, again and again. (A pass that leaves the writers be never copies the last frames,
    /// and only a WAL copied to its end is started over.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_checkpointer_starts_the_wal_over_while_writes_stream_in() {
        let path =
            std::env::temp_dir().join(format!("weige-checkpointer-{}.db", std::process::id()));
        let url = format!("sqlite://{}", path.display());
        let options = sqlite_options(&url).expect("options");
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options.clone())
            .await
            .expect("pool");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .expect("writer");
        sqlx::query("CREATE TABLE t (x BLOB NOT NULL)")
            .execute(&writer)
            .await
            .expect("table");
        spawn_checkpointer(pool.clone(), writer.clone(), 200, Duration::from_millis(5));
        // Each row fills a page of its own: 3,000 transactions write over 6,000 frames.
        let rows = 3_000;
        for _ in 0..rows {
            let mut tx = writer.begin_with("BEGIN IMMEDIATE").await.expect("begin");
            sqlx::query("INSERT INTO t (x) VALUES (randomblob(3000))")
                .execute(&mut *tx)
                .await
                .expect("insert");
            tx.commit().await.expect("commit");
        }
        // The WAL's header counts the times it was started over (bytes 12..16, big-endian):
        // <https://sqlite.org/fileformat2.html#walformat>.
        let header = std::fs::read(format!("{}-wal", path.display())).expect("the WAL file");
        let restarts = header
            .get(12..16)
            .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
            .fetch_one(&pool)
            .await
            .expect("count");
        pool.close().await;
        writer.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        assert_eq!(count, rows);
        // Without the checkpointer the WAL is never started over (it grows to about 9,100
        // frames); with it, every 200 frames or so, fewer times when other work on the machine
        // delays its passes. How large it grew depends on that timing; that it was started
        // over does not.
        assert!(restarts >= 2, "the WAL was started over {restarts} times");
    }

    #[test]
    fn passwords_never_reach_the_logs() {
        assert_eq!(
            redact_url("postgres://weige:s3cret@db:5432/weige"),
            "postgres://weige:***@db:5432/weige"
        );
        assert_eq!(redact_url("sqlite://weige.db"), "sqlite://weige.db");
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
    }
}
