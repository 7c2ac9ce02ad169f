//! Group commit for case intake. A report is prepared outside any transaction (validated,
//! routed, its clocks computed, its photos stored); what it writes waits in a queue. One writer
//! task at a time, started by the report that finds none running, writes every report queued by
//! then in one transaction, with one draw of case numbers, and goes on until the queue is empty
//! and stays so for a moment ([`LINGER`]).
//! The reports only wait for their answers: none waits for a turn at a lock that another
//! report's batch has already served. Each report is still all or nothing: when the shared
//! transaction fails, the reports in it are written again one transaction each, so that one bad
//! report cannot take the others with it.
//!
//! The write runs in its own task, so a client that hangs up cannot cancel the other reports'
//! transaction halfway.

use crate::{App, AppError, Result};
use domain::case::Status;
use std::sync::{Arc, Mutex};
use store::{
    DirectTx, DirectWriter, DuplicateProbe, HeldWriter, NewCase, NewCaseEvent, NewCasePhoto,
    NewNotification, StoreError, Tx, WebhookRow,
};

use tokio::sync::oneshot;

/// Everything one report writes.
#[derive(Debug)]
pub(crate) struct PendingReport {
    pub street: String,
    pub year: i64,
    pub case: NewCase,
    pub category_code: String,
    pub actor_name: String,
    /// Stored photos: file, type, size.
    pub photos: Vec<(String, &'static str, usize)>,
    /// The detail of the report's history entry (JSON), made before the report is queued:
    /// channel, category, tier, photos, and more such as media elsewhere, answers to the
    /// category's questions, where a transfer or chat message came from.
    pub detail: String,
    /// Open cases of the category in the micro-grid reported since then are compared with it.
    pub duplicate_since: domain::Millis,
    /// What else the case is written with, in its transaction.
    pub link: Option<Link>,
    /// The reporter's follow token, for a reply that carries the tracking link.
    pub follow_token: String,
}

/// Where a report came from when that is written with it.
#[derive(Debug, Clone)]
pub(crate) enum Link {
    /// A work order transferred from another system.
    Transfer {
        source_id: i64,
        external_id: String,
        reported_at: domain::Millis,
        transferred_at: domain::Millis,
    },
    /// A chat group's draft, confirmed by a worker; the group is told the number.
    Chat {
        draft_id: i64,
        by: Option<i64>,
        reply_webhook_id: Option<i64>,
        base_url: String,
    },
}

/// What a written report got.
#[derive(Debug, Clone)]
pub(crate) struct Written {
    pub id: i64,
    pub number: String,
    /// An open case near it of its category, found as it was written.
    pub possible_duplicate_of: Option<String>,
}

type Waiting = (PendingReport, oneshot::Sender<Result<Written>>);

/// The reports waiting to be written, whether a writer is on its way to them, and the lock the
/// writer holds while it writes.
#[derive(Debug, Default)]
pub(crate) struct IntakeQueue {
    waiting: Mutex<Queue>,
    writer: Arc<tokio::sync::Mutex<()>>,
    /// Wakes a writer that waits for more reports ([`LINGER`]).
    more: tokio::sync::Notify,
    /// On SQLite, the writer's own connection ([`DirectWriter`]), kept between writer tasks.
    direct: Mutex<Direct>,
}

/// Whether the writer writes on a [`DirectWriter`] of its own.
#[derive(Debug, Default)]
enum Direct {
    /// Not tried yet: the first writer opens it.
    #[default]
    Untried,
    /// Open, and not in use by a writer task.
    Open(DirectWriter),
    /// A writer task has it.
    InUse,
    /// Not to be had (PostgreSQL, a database in memory, or it would not open): the writes go
    /// through the pool's connection.
    None,
}

#[derive(Debug, Default)]
struct Queue {
    reports: Vec<Waiting>,
    /// A writer task runs and will take what is queued; set and cleared under the queue's lock,
    /// so a report is never queued without one.
    writing: bool,
}

/// The most reports one transaction takes; the rest wait for the next.
const MAX_BATCH: usize = 256;

/// How long the writer keeps the writing connection through a stream of batches before it
/// hands it back to the pool, where other writers wait their turn in order.
const HAND_BACK_AFTER: std::time::Duration = std::time::Duration::from_millis(20);

/// How long a writer that finds the queue empty waits for more reports before it ends, keeping
/// the writing connection meanwhile (never past [`HAND_BACK_AFTER`]). Ended, the next report
/// starts another writer task, which takes the connection from the pool again: a spawned task
/// and a round trip to the connection's thread each way, each waiting for a core while the
/// server's threads have both (`perf sched`, 64 clients: about one writer in two ended so,
/// and the writer stalled 235 ms of a 7 s run on those round trips).
const LINGER: std::time::Duration = std::time::Duration::from_millis(2);

/// How long the writer, on its own thread, keeps its core while it waits for the next report
/// before it sleeps. A thread that sleeps lets its core go idle, and a core woken from idle
/// may take long to start it again: on a virtual machine whose idle vCPU halts without polling
/// first, 40–90 µs (`perf sched`, the median 43 µs), several times the work of a report. It
/// waits so only while reports come close together (the last batch held several, or the last
/// such wait ended with a report), and yields its core to any thread that wants it meanwhile.
/// Measured in alternation on one build (BENCHMARKS.md): 16 clients 29–31 % of the empty
/// endpoint against 26–28 %, 64 clients 29 % against 27–28 %.
const SPIN: std::time::Duration = std::time::Duration::from_micros(200);

/// Polls `more` on this thread, yielding the core between polls, until it is notified (`true`)
/// or `spin` has passed (`false`). Its waker meanwhile is a no-op: whoever notifies it makes no
/// system call to wake this thread.
fn spin_until_notified(
    mut more: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>,
    spin: std::time::Duration,
) -> bool {
    let started = std::time::Instant::now();
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    while started.elapsed() < spin {
        if more.as_mut().poll(&mut cx).is_ready() {
            return true;
        }
        std::thread::yield_now();
    }
    false
}

/// Why a transaction of reports failed.
enum Failed {
    /// It could not begin: nothing was tried, and no report is to blame.
    Begin(AppError),
    /// A statement or the commit failed: one of the reports may be bad.
    Write(AppError),
}

/// Tells each report that the database could not take it.
fn unavailable(answers: Vec<oneshot::Sender<Result<Written>>>, e: &AppError) {
    let shown = e.to_string();
    for answer in answers {
        let _ = answer.send(Err(StoreError::Unavailable(shown.clone()).into()));
    }
}

/// Answers a written batch's reports. Off the runtime they came from (the SQLite writer's own
/// thread), through one task spawned there: each answer wakes its request's task, and a wake-up
/// from the writer's thread may let the kernel give the writer's core to the server thread it
/// woke, the next batch held up meanwhile. Measured with `sched_switch` events, three rounds at
/// 64 clients: the writer was preempted about 2,050 times (0.83 s runnable, most of them right
/// after such a wake-up) answering one by one, about 1,750 times (0.65 s) with one task.
fn answer_all(
    home: Option<&tokio::runtime::Handle>,
    answers: Vec<oneshot::Sender<Result<Written>>>,
    written: Vec<Written>,
) {
    let send = move || {
        for (answer, w) in answers.into_iter().zip(written) {
            let _ = answer.send(Ok(w));
        }
    };
    match home {
        Some(rt) if tokio::runtime::Handle::try_current().is_ok_and(|h| h.id() != rt.id()) => {
            drop(rt.spawn(async move { send() }));
        }
        _ => send(),
    }
}

impl App {
    /// The direct writer for a writer task: opened by the first, then handed from one to the
    /// next; `None` where there is none.
    async fn take_direct(&self) -> Option<DirectWriter> {
        let untried = {
            let mut d = self.intake.direct.lock().ok()?;
            match std::mem::replace(&mut *d, Direct::InUse) {
                Direct::Open(w) => return Some(w),
                Direct::Untried => true,
                other => {
                    *d = other;
                    false
                }
            }
        };
        if !untried {
            return None;
        }
        let opened = match self.store.open_direct().await {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(error = %e, "intake: no direct SQLite writer, writing through the pool");
                None
            }
        };
        if opened.is_none()
            && let Ok(mut d) = self.intake.direct.lock()
        {
            *d = Direct::None;
        }
        opened
    }

    /// Keeps the direct writer for the next writer task.
    fn give_back_direct(&self, w: Option<DirectWriter>) {
        if let (Some(w), Ok(mut d)) = (w, self.intake.direct.lock()) {
            *d = Direct::Open(w);
        }
    }
}

/// The thread the SQLite intake writer runs on, a runtime of its own: the direct writer blocks
/// it for a batch's time, which a server thread would spend away from the requests. One for the
/// process, started on first use; `None` when no thread can be started.
fn writer_thread() -> Option<&'static tokio::runtime::Handle> {
    static HANDLE: std::sync::OnceLock<Option<tokio::runtime::Handle>> = std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            let handle = rt.handle().clone();
            std::thread::Builder::new()
                .name("weige-intake".into())
                .spawn(move || rt.block_on(std::future::pending::<()>()))
                .ok()?;
            Some(handle)
        })
        .as_ref()
}

/// The statements a batch of reports makes, on either kind of transaction: the pool's
/// ([`Tx`], each statement awaited) or the direct writer's ([`DirectTx`], each done at once).
pub(crate) trait IntakeTx {
    async fn take_case_seqs(&mut self, street: &str, year: i64, count: i64) -> store::Result<i64>;
    async fn webhooks(&mut self) -> store::Result<Vec<WebhookRow>>;
    async fn add_intake_counts(
        &mut self,
        counts: &[(String, String, String, i64, i64)],
    ) -> store::Result<()>;
    async fn open_cases_near(
        &mut self,
        probes: &[DuplicateProbe<'_>],
        final_statuses: [&str; 3],
    ) -> store::Result<Vec<Option<String>>>;
    async fn insert_cases(
        &mut self,
        cases: &[(&str, &NewCase)],
        cipher: &store::FieldCipher,
    ) -> store::Result<Vec<i64>>;
    async fn insert_case_events(&mut self, events: &[NewCaseEvent<'_>]) -> store::Result<Vec<i64>>;
    async fn insert_notifications(&mut self, all: &[NewNotification<'_>]) -> store::Result<()>;
    async fn insert_case_photo(&mut self, p: &NewCasePhoto<'_>) -> store::Result<i64>;
    async fn enqueue(
        &mut self,
        webhook_id: i64,
        event: &str,
        payload: &str,
        now: domain::Millis,
    ) -> store::Result<i64>;
    async fn insert_case_transfer(
        &mut self,
        case_id: i64,
        source_id: i64,
        external_id: &str,
        reported_at: domain::Millis,
        transferred_at: domain::Millis,
        received_at: domain::Millis,
    ) -> store::Result<()>;
    async fn decide_chat_draft(
        &mut self,
        id: i64,
        status: &str,
        case_id: Option<i64>,
        by: Option<i64>,
        reason: &str,
        at: domain::Millis,
    ) -> store::Result<bool>;
}

/// Both kinds of transaction name every statement alike and take the same arguments: each
/// method calls the transaction's own, awaited (`.await` given) on the pool's.
macro_rules! intake_tx {
    ($ty:ty, $($await:tt)*) => {
        impl IntakeTx for $ty {
            async fn take_case_seqs(&mut self, street: &str, year: i64, count: i64) -> store::Result<i64> {
                self.take_case_seqs(street, year, count)$($await)*
            }
            async fn webhooks(&mut self) -> store::Result<Vec<WebhookRow>> {
                self.webhooks()$($await)*
            }
            async fn add_intake_counts(&mut self, counts: &[(String, String, String, i64, i64)]) -> store::Result<()> {
                self.add_intake_counts(counts)$($await)*
            }
            async fn open_cases_near(&mut self, probes: &[DuplicateProbe<'_>], final_statuses: [&str; 3]) -> store::Result<Vec<Option<String>>> {
                self.open_cases_near(probes, final_statuses)$($await)*
            }
            async fn insert_cases(&mut self, cases: &[(&str, &NewCase)], cipher: &store::FieldCipher) -> store::Result<Vec<i64>> {
                self.insert_cases(cases, cipher)$($await)*
            }
            async fn insert_case_events(&mut self, events: &[NewCaseEvent<'_>]) -> store::Result<Vec<i64>> {
                self.insert_case_events(events)$($await)*
            }
            async fn insert_notifications(&mut self, all: &[NewNotification<'_>]) -> store::Result<()> {
                self.insert_notifications(all)$($await)*
            }
            async fn insert_case_photo(&mut self, p: &NewCasePhoto<'_>) -> store::Result<i64> {
                self.insert_case_photo(p)$($await)*
            }
            async fn enqueue(&mut self, webhook_id: i64, event: &str, payload: &str, now: domain::Millis) -> store::Result<i64> {
                self.enqueue(webhook_id, event, payload, now)$($await)*
            }
            async fn insert_case_transfer(&mut self, case_id: i64, source_id: i64, external_id: &str, reported_at: domain::Millis, transferred_at: domain::Millis, received_at: domain::Millis) -> store::Result<()> {
                self.insert_case_transfer(case_id, source_id, external_id, reported_at, transferred_at, received_at)$($await)*
            }
            async fn decide_chat_draft(&mut self, id: i64, status: &str, case_id: Option<i64>, by: Option<i64>, reason: &str, at: domain::Millis) -> store::Result<bool> {
                self.decide_chat_draft(id, status, case_id, by, reason, at)$($await)*
            }
        }
    };
}
intake_tx!(Tx, .await);
intake_tx!(DirectTx<'_>,);

/// Clears `writing` when the writer task panics: the next report then starts another.
struct Writing(App);

impl Drop for Writing {
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Ok(mut q) = self.0.intake.waiting.lock()
        {
            q.writing = false;
        }
    }
}

impl App {
    /// Writes one prepared report, together with the others waiting at the same moment.
    pub(crate) async fn write_report(&self, report: PendingReport) -> Result<Written> {
        let (done, answer) = oneshot::channel();
        let start = {
            let mut q = self
                .intake
                .waiting
                .lock()
                .map_err(|_| AppError::Internal("intake queue poisoned".into()))?;
            q.reports.push((report, done));
            !std::mem::replace(&mut q.writing, true)
        };
        if start {
            // One writer at a time, detached so that a client hanging up cannot cancel it: it
            // writes what is queued, batch after batch, until the queue is empty and no report
            // came for [`LINGER`].
            let app = self.clone();
            let sqlite = app.store.engine() == store::Engine::Sqlite;
            let home = tokio::runtime::Handle::try_current().ok();
            // The direct writer blocks the thread it writes on: its own, not a server's.
            let thread = sqlite.then(writer_thread).flatten();
            let own_thread = thread.is_some();
            let writer = async move {
                let _turn = app.intake.writer.clone().lock_owned().await;
                let mut direct = app.take_direct().await;
                let writing = Writing(app);
                let mut held: Option<HeldWriter> = None;
                // Until when the writer waits for more once the queue is empty.
                let mut linger: Option<tokio::time::Instant> = None;
                // Whether it waits for the next report on its core first ([`SPIN`]): on a
                // thread of its own, while reports come close together.
                let mut spin = false;
                loop {
                    let may_linger = linger.is_none_or(|until| tokio::time::Instant::now() < until)
                        && held
                            .as_ref()
                            .is_some_and(|h| h.held_for() < HAND_BACK_AFTER);
                    let batch: Vec<Waiting> = match writing.0.intake.waiting.lock() {
                        Ok(q) if q.reports.is_empty() && may_linger => Vec::new(),
                        Ok(mut q) if q.reports.is_empty() => {
                            // Given back before the next writer can start.
                            writing.0.give_back_direct(direct.take());
                            q.writing = false;
                            return;
                        }
                        Ok(mut q) => {
                            let n = q.reports.len().min(MAX_BATCH);
                            q.reports.drain(..n).collect()
                        }
                        Err(_) => return,
                    };
                    if batch.is_empty() {
                        let until =
                            *linger.get_or_insert_with(|| tokio::time::Instant::now() + LINGER);
                        // A wake-up may be left over from a report the last batch took.
                        let mut more = std::pin::pin!(writing.0.intake.more.notified());
                        if spin {
                            spin = spin_until_notified(more.as_mut(), SPIN);
                            if spin {
                                continue;
                            }
                        }
                        let _ = tokio::time::timeout_at(until, more).await;
                        continue;
                    }
                    linger = None;
                    spin |= own_thread && batch.len() > 1;
                    held = writing
                        .0
                        .write_batch(batch, held, direct.as_mut(), home.as_ref())
                        .await;
                }
            };
            match thread {
                Some(rt) => drop(rt.spawn(writer)),
                None => drop(tokio::spawn(writer)),
            }
        } else {
            // A writer runs: it takes this report with its next batch, or waits for it.
            self.intake.more.notify_one();
        }
        answer
            .await
            .map_err(|_| AppError::Internal("the intake writer stopped".into()))?
    }

    /// Writes a batch on the writing connection the writer keeps (taking one if it has none)
    /// and answers each report; gives the connection back for the next batch unless it has
    /// been kept for [`HAND_BACK_AFTER`] or was left unusable.
    async fn write_batch(
        &self,
        batch: Vec<Waiting>,
        held: Option<HeldWriter>,
        mut direct: Option<&mut DirectWriter>,
        home: Option<&tokio::runtime::Handle>,
    ) -> Option<HeldWriter> {
        let (reports, answers): (Vec<PendingReport>, Vec<_>) = batch.into_iter().unzip();
        let mut held = match held {
            Some(h) => h,
            None => match self.store.hold_writer().await {
                Ok(h) => h,
                Err(e) => {
                    unavailable(answers, &e.into());
                    return None;
                }
            },
        };
        // A connection that could not begin a transaction goes back to the pool, which tests it.
        let mut keep = true;
        match self
            .write_in(&mut held, direct.as_deref_mut(), &reports)
            .await
        {
            Ok(written) => answer_all(home, answers, written),
            Err(Failed::Begin(e)) => {
                unavailable(answers, &e);
                keep = false;
            }
            Err(Failed::Write(e)) if reports.len() == 1 => {
                if let Some(answer) = answers.into_iter().next() {
                    let _ = answer.send(Err(e));
                }
            }
            Err(Failed::Write(_)) => {
                // One of them is bad (or the database is): each on its own, each its answer;
                // once a transaction cannot even begin, the rest are told so without trying.
                let mut down = None;
                for (report, answer) in reports.into_iter().zip(answers) {
                    if let Some(e) = &down {
                        unavailable(vec![answer], e);
                        continue;
                    }
                    let one = match self
                        .write_in(
                            &mut held,
                            direct.as_deref_mut(),
                            std::slice::from_ref(&report),
                        )
                        .await
                    {
                        Ok(mut w) => w
                            .pop()
                            .ok_or_else(|| AppError::Internal("report not written".into())),
                        Err(Failed::Write(e)) => Err(e),
                        Err(Failed::Begin(e)) => {
                            unavailable(vec![answer], &e);
                            down = Some(e);
                            keep = false;
                            continue;
                        }
                    };
                    let _ = answer.send(one);
                }
            }
        }
        (keep && !held.is_open() && held.held_for() < HAND_BACK_AFTER).then_some(held)
    }

    /// Writes reports in one transaction, on the direct writer when there is one (the kept
    /// connection is then the token of the write lock), else on the kept connection: committed
    /// when all went well, rolled back otherwise.
    async fn write_in(
        &self,
        held: &mut HeldWriter,
        direct: Option<&mut DirectWriter>,
        reports: &[PendingReport],
    ) -> std::result::Result<Vec<Written>, Failed> {
        if let Some(direct) = direct {
            let mut tx = direct.begin().map_err(|e| Failed::Begin(e.into()))?;
            // Every statement of a direct transaction is done when it returns: the future is
            // ready at its first poll. Dropped unfinished, the transaction rolls back.
            let written = {
                let mut writing = std::pin::pin!(self.write_reports(&mut tx, reports));
                let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
                match writing.as_mut().poll(&mut cx) {
                    std::task::Poll::Ready(w) => w,
                    std::task::Poll::Pending => Err(AppError::Internal(
                        "a direct write waited for something".into(),
                    )),
                }
            }
            .map_err(Failed::Write)?;
            tx.commit().map_err(|e| Failed::Write(e.into()))?;
            return Ok(written);
        }
        let tx = held.begin().await.map_err(|e| Failed::Begin(e.into()))?;
        let written = self.write_reports(tx, reports).await;
        let ended = match &written {
            Ok(_) => held.commit().await,
            Err(_) => held.rollback().await,
        };
        match (written, ended) {
            (Ok(w), Ok(())) => Ok(w),
            (Err(e), _) => Err(Failed::Write(e)),
            (Ok(_), Err(e)) => {
                let _ = held.rollback().await;
                Err(Failed::Write(e.into()))
            }
        }
    }

    /// For each report, the number of an open case of its category near it: one statement for
    /// the cases in the database, then the batch's own earlier reports, which are newer.
    async fn duplicates(
        &self,
        tx: &mut impl IntakeTx,
        reports: &[PendingReport],
        numbers: &[String],
    ) -> Result<Vec<Option<String>>> {
        let probes: Vec<DuplicateProbe<'_>> = reports
            .iter()
            .map(|r| DuplicateProbe {
                scope_code: &r.case.scope_code,
                category_id: r.case.category_id,
                since: r.duplicate_since,
                pin: r.case.lon.zip(r.case.lat),
                metres: self.settings.duplicate_metres,
            })
            .collect();
        let mut found = tx
            .open_cases_near(&probes, Status::FINAL.map(Status::as_str))
            .await?;
        for (j, probe) in probes.iter().enumerate() {
            let earlier = probes[..j].iter().rposition(|p| {
                p.scope_code == probe.scope_code
                    && p.category_id == probe.category_id
                    && probe.near(p.pin)
            });
            if let Some(i) = earlier {
                found[j] = numbers.get(i).cloned();
            }
        }
        Ok(found)
    }

    /// Writes reports in the caller's transaction: numbers drawn once per street and year,
    /// then each case, its first history entry, photos, the holder's notification and the
    /// webhook events.
    async fn write_reports(
        &self,
        tx: &mut impl IntakeTx,
        reports: &[PendingReport],
    ) -> Result<Vec<Written>> {
        let cipher = self
            .cipher
            .clone()
            .ok_or_else(|| AppError::Internal("no data key is configured".into()))?;
        let mut next: std::collections::HashMap<(&str, i64), i64> = Default::default();
        for r in reports {
            *next.entry((r.street.as_str(), r.year)).or_default() += 1;
        }
        for ((street, year), n) in next.iter_mut() {
            let last = tx.take_case_seqs(street, *year, *n).await?;
            *n = last - *n + 1;
        }
        let webhooks = tx.webhooks().await?;
        let announce = crate::notify::wanted_by_any(&webhooks, "case.reported");
        // The daily counts (statistics), added once per batch.
        let mut counts: std::collections::HashMap<(String, &str, &str, i64), i64> =
            Default::default();
        for r in reports {
            let c = &r.case;
            let day = domain::calendar::Day::of(c.now).to_string();
            *counts
                .entry((
                    day,
                    c.scope_code.as_str(),
                    c.channel.as_str(),
                    c.category_id,
                ))
                .or_default() += 1;
        }
        let mut counts: Vec<(String, String, String, i64, i64)> = counts
            .into_iter()
            .map(|((day, scope, channel, category), n)| {
                (day, scope.to_owned(), channel.to_owned(), category, n)
            })
            .collect();
        // In one order everywhere: two servers' batches cannot wait on each other's rows.
        counts.sort();
        tx.add_intake_counts(&counts).await?;
        // The cases, their first history entries and their holders' notifications: a statement
        // each for the whole batch.
        let numbers: Vec<String> = reports
            .iter()
            .map(|r| {
                let seq = next.get_mut(&(r.street.as_str(), r.year)).map_or(0, |n| {
                    *n += 1;
                    *n - 1
                });
                format!("{}-{}-{seq:06}", r.street, r.year)
            })
            .collect();
        let cases: Vec<(&str, &NewCase)> = numbers
            .iter()
            .zip(reports)
            .map(|(number, r)| (number.as_str(), &r.case))
            .collect();
        let duplicates = self.duplicates(tx, reports, &numbers).await?;
        let ids = tx.insert_cases(&cases, &cipher).await?;
        let events: Vec<NewCaseEvent<'_>> = reports
            .iter()
            .zip(&ids)
            .map(|(r, id)| NewCaseEvent {
                case_id: *id,
                at: r.case.now,
                actor_id: r.case.reporter_account_id,
                actor_name: &r.actor_name,
                action: "report",
                from_status: None,
                to_status: Status::Reported.as_str(),
                reason: "",
                detail: &r.detail,
            })
            .collect();
        let event_ids = tx.insert_case_events(&events).await?;
        let titles: Vec<String> = numbers
            .iter()
            .map(|number| format!("新案件 {number} 待受理 / new case {number}"))
            .collect();
        let notifications: Vec<NewNotification<'_>> = reports
            .iter()
            .zip(&ids)
            .zip(&titles)
            .filter_map(|((r, id), title)| {
                Some(NewNotification {
                    account_id: r.case.holder_account_id?,
                    case_id: Some(*id),
                    kind: "assigned",
                    title,
                    body: &r.case.description,
                    now: r.case.now,
                })
            })
            .collect();
        tx.insert_notifications(&notifications).await?;
        let mut out = Vec::with_capacity(reports.len());
        let written = reports
            .iter()
            .zip(numbers)
            .zip(ids)
            .zip(event_ids)
            .zip(duplicates);
        for ((((r, number), id), event), possible_duplicate_of) in written {
            let c = &r.case;
            for (file, mime, bytes) in &r.photos {
                tx.insert_case_photo(&NewCasePhoto {
                    case_id: id,
                    phase: "before",
                    file,
                    mime,
                    bytes: *bytes as i64,
                    event_id: Some(event),
                    now: c.now,
                })
                .await?;
            }
            if announce {
                let payload = serde_json::json!({
                    "number": number, "category": r.category_code, "channel": c.channel,
                    "micro_grid": c.scope_code, "status": Status::Reported.as_str(),
                    "possible_duplicate_of": possible_duplicate_of,
                });
                self.emit_to(tx, &webhooks, "case.reported", &payload, c.now)
                    .await?;
            }
            match &r.link {
                None => {}
                Some(Link::Transfer {
                    source_id,
                    external_id,
                    reported_at,
                    transferred_at,
                }) => {
                    tx.insert_case_transfer(
                        id,
                        *source_id,
                        external_id,
                        *reported_at,
                        *transferred_at,
                        c.now,
                    )
                    .await?;
                }
                Some(Link::Chat {
                    draft_id,
                    by,
                    reply_webhook_id,
                    base_url,
                }) => {
                    if !tx
                        .decide_chat_draft(*draft_id, "confirmed", Some(id), *by, "", c.now)
                        .await?
                    {
                        return Err(AppError::Conflict(
                            "该消息已被他人处理 / someone decided on this message first".into(),
                        ));
                    }
                    if let Some(w) = reply_webhook_id {
                        let link =
                            crate::channels::tracking_link(base_url, &number, &r.follow_token);
                        let body = serde_json::json!({
                            "event": crate::channels::CHAT_REPLY_EVENT, "at": c.now.0,
                            "data": {"draft": draft_id, "number": number,
                                     "text": crate::channels::confirmed_reply(&number, &link)},
                        });
                        tx.enqueue(
                            *w,
                            crate::channels::CHAT_REPLY_EVENT,
                            &body.to_string(),
                            c.now,
                        )
                        .await?;
                    }
                }
            }
            out.push(Written {
                id,
                number,
                possible_duplicate_of,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::{CaseInput, Ctx, Settings};
    use domain::Millis;

    async fn app() -> (App, store::testing::TestDb) {
        let db = store::testing::fresh().await;
        let app = App::new(db.store.clone(), Settings::default())
            .with_cipher(store::FieldCipher::from_hex(&"55".repeat(32)).unwrap());
        app.seed_demo().await.unwrap();
        (app, db)
    }

    fn input(i: usize) -> CaseInput {
        CaseInput {
            category: "sg.sanitation".into(),
            description: format!("第{i}件：垃圾桶满了"),
            micro_grid: Some("510115001001001001".into()),
            ..Default::default()
        }
    }

    /// Holds the write lock while `n` reports queue, so that they are written as one batch.
    async fn queued<T: Send + 'static>(
        app: &App,
        n: usize,
        start: impl Fn(usize) -> tokio::task::JoinHandle<T>,
    ) -> Vec<T> {
        let lock = app.intake.writer.clone().lock_owned().await;
        let tasks: Vec<_> = (0..n).map(start).collect();
        while app.intake.waiting.lock().unwrap().reports.len() < n {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        drop(lock);
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reports_queued_together_are_written_in_one_go_with_consecutive_numbers() {
        let (app, _db) = app().await;
        app.seed_demo_people(crate::DemoSize::Small).await.unwrap();
        let made = queued(&app, 20, |i| {
            let app = app.clone();
            tokio::spawn(async move { app.report_case(&Ctx::cli(), &input(i), Vec::new()).await })
        })
        .await;
        let mut made: Vec<_> = made.into_iter().map(Result::unwrap).collect();
        made.sort_by(|a, b| a.number.cmp(&b.number));
        // The same problem twenty times in one micro-grid, none pinned: each report after the
        // first repeats the one before it, found within the batch.
        for (k, m) in made.iter().enumerate() {
            let before = k.checked_sub(1).map(|k| made[k].number.clone());
            assert_eq!(m.possible_duplicate_of, before, "{}", m.number);
        }
        let numbers: Vec<String> = made.into_iter().map(|m| m.number).collect();
        let year = domain::calendar::Day::of(crate::now()).ymd().0;
        let expected: Vec<String> = (1..=20)
            .map(|n| format!("510115001-{year}-{n:06}"))
            .collect();
        assert_eq!(numbers, expected);
        let mut tx = app.store.read().await.unwrap();
        let mut holder = None;
        for number in &numbers {
            let case = tx.case_by_number(number).await.unwrap().unwrap();
            let history = tx.case_events(case.id).await.unwrap();
            assert_eq!(history.len(), 1, "{number}");
            assert_eq!(history[0].action, "report");
            holder = holder.or(case.holder_account_id);
            assert_eq!(case.holder_account_id, holder, "one micro-grid, one holder");
        }
        // The holder was told of each case, under its own number.
        let holder = holder.expect("the demo micro-grid has a worker");
        let inbox = tx.notifications(holder, None, 100).await.unwrap();
        let mut told: Vec<(Option<i64>, String)> =
            inbox.iter().map(|n| (n.case_id, n.title.clone())).collect();
        told.sort();
        let mut expected = Vec::new();
        for number in &numbers {
            let case = tx.case_by_number(number).await.unwrap().unwrap();
            expected.push((
                Some(case.id),
                format!("新案件 {number} 待受理 / new case {number}"),
            ));
        }
        expected.sort();
        assert_eq!(told, expected);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reports_arriving_while_the_writer_runs_are_all_written_once() {
        let (app, _db) = app().await;
        // Waves of reports, each wave started while the one before is still being written:
        // every report is answered, with a number of its own, and the writer stops at the end.
        let mut tasks = Vec::new();
        for wave in 0..6 {
            for i in 0..25 {
                let app = app.clone();
                tasks.push(tokio::spawn(async move {
                    app.report_case(&Ctx::cli(), &input(wave * 25 + i), Vec::new())
                        .await
                }));
            }
            tokio::task::yield_now().await;
        }
        let mut numbers = Vec::new();
        for t in tasks {
            let answered = tokio::time::timeout(std::time::Duration::from_secs(60), t).await;
            numbers.push(
                answered
                    .expect("a report was lost")
                    .unwrap()
                    .unwrap()
                    .number,
            );
        }
        numbers.sort();
        numbers.dedup();
        assert_eq!(numbers.len(), 150);
        let year = domain::calendar::Day::of(crate::now()).ymd().0;
        assert_eq!(numbers[0], format!("510115001-{year}-000001"));
        assert_eq!(numbers[149], format!("510115001-{year}-000150"));
        assert!(stops(&app).await, "the writer has stopped");
    }

    /// Whether the writer stops within five seconds. The last answer goes out just before the
    /// writer finds the queue empty.
    async fn stops(app: &App) -> bool {
        for _ in 0..500 {
            let idle = {
                let q = app.intake.waiting.lock().unwrap();
                q.reports.is_empty() && !q.writing
            };
            if idle {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        false
    }

    /// Another process holds SQLite's write lock past the busy timeout (10 s): each report of
    /// the batch is told the database is unavailable (503, not an internal error), none is
    /// half-written, and once the lock is gone reports go through again. SQLite only: its
    /// write lock is the file's; PostgreSQL has no such lock at BEGIN.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reports_are_told_when_another_process_holds_the_sqlite_write_lock() {
        let db = store::testing::fresh_on("sqlite").await;
        let app = App::new(db.store.clone(), Settings::default())
            .with_cipher(store::FieldCipher::from_hex(&"55".repeat(32)).unwrap());
        app.seed_demo().await.unwrap();
        let other = store::Store::connect(&db.url).await.unwrap();
        let lock = other.write().await.unwrap();
        let results = queued(&app, 3, |i| {
            let app = app.clone();
            tokio::spawn(async move { app.report_case(&Ctx::cli(), &input(i), Vec::new()).await })
        })
        .await;
        for r in &results {
            assert!(
                matches!(r, Err(AppError::Store(StoreError::Unavailable(_)))),
                "{r:?}"
            );
        }
        drop(lock);
        let made = app
            .report_case(&Ctx::cli(), &input(9), Vec::new())
            .await
            .unwrap();
        let year = domain::calendar::Day::of(crate::now()).ymd().0;
        assert_eq!(
            made.number,
            format!("510115001-{year}-000001"),
            "nothing before it"
        );
        other.close().await;
    }

    /// On SQLite the writer writes on a connection of its own; what it writes is what the
    /// pool's connection writes: the case with its sealed phone, its history, its photo, the
    /// webhook's event, the daily count, and the duplicate it finds.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_direct_writer_writes_what_the_pool_writes() {
        let db = store::testing::fresh_on("sqlite").await;
        let files = std::env::temp_dir().join(format!("weige-direct-{}", std::process::id()));
        let app = App::new(db.store.clone(), Settings::default())
            .with_cipher(store::FieldCipher::from_hex(&"55".repeat(32)).unwrap())
            .with_files(&files);
        app.seed_demo().await.unwrap();
        let mut tx = app.store.write().await.unwrap();
        tx.insert_webhook(
            "h",
            "http://127.0.0.1:9/h",
            b"s",
            "case.reported",
            Millis(1),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let report = CaseInput {
            reporter_phone: Some("13800138000".into()),
            lon: Some(103.85),
            lat: Some(30.69),
            ..input(1)
        };
        let photo =
            || vec![crate::Photo::check(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(), 1).unwrap()];

        *app.intake.direct.lock().unwrap() = Direct::None;
        let pooled = app
            .report_case(&Ctx::cli(), &report, photo())
            .await
            .unwrap();
        // The first writer task may still be looking at the queue: the second report must
        // start a writer of its own, which opens the direct writer.
        assert!(stops(&app).await);
        *app.intake.direct.lock().unwrap() = Direct::Untried;
        let direct = app
            .report_case(&Ctx::cli(), &report, photo())
            .await
            .unwrap();
        assert!(stops(&app).await);
        assert!(
            matches!(*app.intake.direct.lock().unwrap(), Direct::Open(_)),
            "the second report went through the direct writer"
        );
        assert_eq!(direct.possible_duplicate_of, Some(pooled.number.clone()));

        let mut tx = app.store.read().await.unwrap();
        let cipher = app.cipher.clone().unwrap();
        let mut rows = Vec::new();
        for id in [pooled.id, direct.id] {
            let row = tx.case_by_id(id).await.unwrap().unwrap();
            assert!(
                tx.case_reporter_last4_is(id, "8000", &cipher)
                    .await
                    .unwrap()
            );
            let events = tx.case_events(id).await.unwrap();
            let photos = tx.case_photos(id).await.unwrap();
            assert_eq!(photos.len(), 1, "{photos:?}");
            assert_eq!(events.len(), 1, "{events:?}");
            rows.push((row, events[0].detail.clone(), photos[0].mime.clone()));
        }
        let (a, b) = (&rows[0], &rows[1]);
        assert_eq!((&a.1, &a.2), (&b.1, &b.2), "history entry and photo alike");
        let same = |r: &store::CaseRow| store::CaseRow {
            id: 0,
            number: String::new(),
            follow_token_hash: String::new(),
            ..r.clone()
        };
        // Written moments apart: the clocks may differ by those moments, nothing else.
        let times =
            |r: &store::CaseRow| [r.created_at, r.updated_at, r.case_deadline, r.case_warn_at];
        let (mut x, mut y) = (same(&a.0), same(&b.0));
        assert!(times(&b.0)[0] - times(&a.0)[0] < 60_000);
        for r in [&mut x, &mut y] {
            (r.created_at, r.updated_at, r.case_deadline, r.case_warn_at) = (0, 0, 0, 0);
            (r.stage_started_at, r.stage_warn_at, r.stage_deadline) = (None, None, None);
        }
        assert_eq!(x, y);
        assert_eq!(a.0.reporter_phone_masked.as_deref(), Some("138****8000"));
        let outbox = tx.outbox(None, 10).await.unwrap();
        assert_eq!(outbox.len(), 2, "one event per report: {outbox:?}");
        let day = domain::calendar::Day::of(crate::now()).to_string();
        let counts = tx
            .intake_counts("510115001", &day, &day, store::IntakeDimension::Channel)
            .await
            .unwrap();
        assert_eq!(counts.iter().map(|c| c.1).sum::<i64>(), 2, "{counts:?}");
        drop(tx);
        let _ = std::fs::remove_dir_all(files);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_bad_report_in_a_batch_fails_alone() {
        let (app, _db) = app().await;
        // A prepared report like the others, but with a category the database does not have.
        let good = app
            .report_case(&Ctx::cli(), &input(0), Vec::new())
            .await
            .unwrap();
        let model = {
            let mut tx = app.store.read().await.unwrap();
            tx.case_by_id(good.id).await.unwrap().unwrap()
        };
        let (scope, model_scope) = (model.scope_code.clone(), model.scope_code.clone());
        let pending = move |i: usize| PendingReport {
            street: "510115001".into(),
            year: 2026,
            case: NewCase {
                channel: "api".into(),
                category_id: if i == 2 { 987_654 } else { model.category_id },
                need_type: None,
                urgent: false,
                description: format!("第{i}件"),
                address: "1栋".into(),
                lon: None,
                lat: None,
                scope_code: scope.clone(),
                tier: "micro_grid",
                reporter_name: None,
                reporter_phone: None,
                reporter_account_id: None,
                follow_token_hash: format!("hash{i}"),
                holder_account_id: None,
                holder_node: scope.clone(),
                stage_unit: "working_hours",
                stage_warn_at: Millis(0),
                stage_deadline: Millis(0),
                case_unit: "working_days",
                case_warn_at: Millis(0),
                case_deadline: Millis(0),
                now: Millis(0),
            },
            category_code: "sg.sanitation".into(),
            actor_name: "测试".into(),
            photos: Vec::new(),
            detail: "{}".into(),
            link: None,
            follow_token: String::new(),
            duplicate_since: Millis(0),
        };
        let results = queued(&app, 5, |i| {
            let (app, report) = (app.clone(), pending(i));
            tokio::spawn(async move { app.write_report(report).await })
        })
        .await;
        for (i, r) in results.iter().enumerate() {
            assert_eq!(r.is_err(), i == 2, "report {i}: {r:?}");
        }
        let mut tx = app.store.read().await.unwrap();
        for r in results.iter().flatten() {
            let case = tx.case_by_number(&r.number).await.unwrap().unwrap();
            assert_eq!(case.id, r.id);
            assert_eq!(tx.case_events(case.id).await.unwrap().len(), 1);
        }
        let all = tx
            .list_cases(&store::CaseFilter {
                scope: model_scope,
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(all.len(), 5, "the first report and four of the five");
    }
}
