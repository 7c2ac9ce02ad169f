//! The SQLite intake writer's index of the cases reported lately, for the duplicate check: a
//! new report is compared with the open cases of its category in its micro-grid reported within
//! the window (72 hours by default). On PostgreSQL, and on SQLite without a
//! [`crate::DirectWriter`], that is a statement over the index `(scope_code, category_id,
//! created_at)`; on SQLite the writer keeps what that index held here instead, and the index is
//! gone: it was one of the three B-trees in which each report dirtied a page of its own, and its
//! probe read each case it passed from the table for its pin and status. Measured with
//! `weige bench intake --cases 30000`, three rounds each in alternation with the build before:
//! 33,600–36,200 against 32,100–34,700 cases/s at 64 clients (30–31 % of the empty endpoint
//! against 28–30 %), 26,800–28,500 against 24,900–27,000 at 16 (24–25 % against 22–23 %).
//!
//! Why it stays right: a case's micro-grid, category, time and pin never change once written
//! (only its status does), and on SQLite all writes take turns. Each time it is asked, inside
//! the writer's transaction (which holds the write lock), the index first reads the cases
//! written since it last looked, whoever wrote them (`id > seen_to`: a new case's id is the
//! largest plus one). A case found near is then read by its id for its status and number, so a
//! case closed or merged meanwhile is passed over, as the statement would.

use crate::{DuplicateProbe, Result};
use rusqlite::Connection;
use std::collections::HashMap;

/// How far before the oldest report's window the index reaches when it loads, so that a report
/// prepared a little before another is still compared with all of its window.
const SLACK_MS: i64 = 3_600_000;
/// How far the window moves on before the cases that left it are dropped from memory.
const EVICT_EVERY_MS: i64 = 15 * 60_000;

/// A case the index holds: what the check compares.
#[derive(Debug, Clone, Copy)]
struct Seen {
    id: i64,
    created_at: i64,
    pin: Option<(f64, f64)>,
}

#[derive(Debug)]
struct Loaded {
    /// Every case with an id up to this one has been seen.
    seen_to: i64,
    /// Cases reported before this are not held.
    horizon: i64,
    /// By category, then micro-grid: the cases in the order of their times (then ids).
    cases: HashMap<i64, HashMap<Box<str>, Vec<Seen>>>,
}

/// See the module. Empty until first asked.
#[derive(Debug, Default)]
pub(crate) struct Recent {
    loaded: Option<Loaded>,
}

/// The columns each case is read with, for [`Loaded::add`].
macro_rules! columns {
    () => {
        "SELECT c.id, c.scope_code, c.category_id, c.created_at, c.lon, c.lat "
    };
}

/// The window's cases, category by category through the index on (category_id, created_at):
/// only they are read, however many the table holds.
const LOAD: &str = concat!(
    columns!(),
    "FROM category k JOIN case_record c ON c.category_id = k.id AND c.created_at >= ?1"
);

/// The cases written since the index last looked (run in every writer transaction).
const CATCH_UP: &str = concat!(
    columns!(),
    "FROM case_record c WHERE c.id > ?1 ORDER BY c.id"
);

impl Loaded {
    /// Adds the cases a statement reads (its columns as [`LOAD`]'s).
    fn add(&mut self, tx: &Connection, sql: &str, value: i64) -> Result<()> {
        let mut statement = tx.prepare_cached(sql)?;
        let mut rows = statement.query([value])?;
        while let Some(r) = rows.next()? {
            let (scope, lon, lat): (String, Option<f64>, Option<f64>) =
                (r.get(1)?, r.get(4)?, r.get(5)?);
            self.push(
                &scope,
                r.get(2)?,
                Seen {
                    id: r.get(0)?,
                    created_at: r.get(3)?,
                    pin: lon.zip(lat),
                },
            );
        }
        Ok(())
    }

    /// Adds a case if it is within the horizon, and notes its id as seen.
    fn push(&mut self, scope: &str, category: i64, case: Seen) {
        self.seen_to = self.seen_to.max(case.id);
        if case.created_at < self.horizon {
            return;
        }
        let by_scope = self.cases.entry(category).or_default();
        let seen = match by_scope.get_mut(scope) {
            Some(seen) => seen,
            None => by_scope.entry(scope.into()).or_default(),
        };
        // In the order of their times, as the statement walks them: almost always last.
        let at = seen.partition_point(|s| (s.created_at, s.id) < (case.created_at, case.id));
        seen.insert(at, case);
    }

    /// Reads the cases reported since `horizon`, and notes the largest id: the whole table's
    /// state at the moment of the transaction.
    fn load(tx: &Connection, horizon: i64) -> Result<Loaded> {
        let seen_to: i64 = tx
            .prepare_cached("SELECT coalesce(max(id), 0) FROM case_record")?
            .query_row([], |r| r.get(0))?;
        let mut loaded = Loaded {
            seen_to,
            horizon,
            cases: HashMap::new(),
        };
        loaded.add(tx, LOAD, horizon)?;
        Ok(loaded)
    }

    /// Drops the cases reported before `horizon`.
    fn evict(&mut self, horizon: i64) {
        self.horizon = horizon;
        for by_scope in self.cases.values_mut() {
            by_scope.retain(|_, seen| {
                seen.retain(|s| s.created_at >= horizon);
                !seen.is_empty()
            });
        }
        self.cases.retain(|_, by_scope| !by_scope.is_empty());
    }
}

/// The cases a transaction of the writer wrote, for [`Recent::written`].
#[derive(Debug, Default)]
pub(crate) struct Staged(Vec<(String, i64, Seen)>);

impl Staged {
    pub(crate) fn case(
        &mut self,
        id: i64,
        scope: &str,
        category: i64,
        created_at: i64,
        pin: Option<(f64, f64)>,
    ) {
        self.0.push((
            scope.to_owned(),
            category,
            Seen {
                id,
                created_at,
                pin,
            },
        ));
    }
}

impl Recent {
    /// Takes in the cases a committed transaction wrote after [`Recent::open_cases_near`]
    /// caught up in it: the write lock held all along, no one else wrote meanwhile, so they
    /// are all that is new, and need not be read back from the table.
    pub(crate) fn written(&mut self, staged: Staged) {
        if let Some(l) = &mut self.loaded {
            for (scope, category, case) in staged.0 {
                l.push(&scope, category, case);
            }
        }
    }

    /// For each probe, the number of the newest open case of its category in its
    /// micro-grid, reported since its `since`, near its pin (either without one counts as
    /// near): what `crate::Tx::open_cases_near` finds with a statement.
    pub(crate) fn open_cases_near(
        &mut self,
        tx: &Connection,
        probes: &[DuplicateProbe<'_>],
        final_statuses: [&str; 3],
    ) -> Result<Vec<Option<String>>> {
        let Some(since) = probes.iter().map(|p| p.since.0).min() else {
            return Ok(Vec::new());
        };
        let loaded = match self.loaded.take() {
            Some(mut l) if l.horizon <= since => {
                l.add(tx, CATCH_UP, l.seen_to)?;
                if since - SLACK_MS > l.horizon + EVICT_EVERY_MS {
                    l.evict(since - SLACK_MS);
                }
                l
            }
            _ => Loaded::load(tx, since - SLACK_MS)?,
        };
        let loaded = self.loaded.insert(loaded);
        let mut confirm = tx.prepare_cached(
            // Not `NOT IN (…)`: SQLite builds a temporary table of the list each time.
            "SELECT number FROM case_record WHERE id = ?1 AND status <> ?2 AND status <> ?3 AND status <> ?4",
        )?;
        let mut found = Vec::with_capacity(probes.len());
        for p in probes {
            let candidates = loaded
                .cases
                .get(&p.category_id)
                .and_then(|by_scope| by_scope.get(p.scope_code))
                .map_or(&[][..], Vec::as_slice);
            let degrees = p.degrees();
            let mut number = None;
            for s in candidates.iter().rev() {
                if s.created_at < p.since.0 {
                    break;
                }
                if !p.near_in(degrees, s.pin) {
                    continue;
                }
                let [a, b, c] = final_statuses;
                let mut open = confirm.query(rusqlite::params![s.id, a, b, c])?;
                if let Some(r) = open.next()? {
                    number = Some(r.get(0)?);
                    break;
                }
            }
            found.push(number);
        }
        Ok(found)
    }
}
