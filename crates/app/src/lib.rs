//! Use cases: one function per thing a user does, each in one transaction, each taking the
//! request context ([`Ctx`]) and checking its permission first. A refusal is written to the audit
//! log before it is returned. Handlers in `web` and commands in `weige` call these and nothing below.

mod accounts;
mod api_keys;
mod audit;
mod auth;
mod cases;
mod categories;
mod channels;
mod ctx;
pub mod demo;
mod demo_people;
mod error;
mod files;
mod grid;
mod intake;
mod map;
mod map_io;
mod notify;
mod open311;
mod places;
mod questions;
mod registry;
mod registry_io;
mod roster;
mod secret;
mod table;
mod tags;

pub use accounts::{AccountView, GrantView, NewAccountInput, default_scope};
pub use api_keys::{ApiKeyView, CreatedApiKey};
pub use audit::AuditView;
pub use auth::LoginOk;
pub use cases::{
    ActInput, AnswerView, CHANNELS, CaseCreated, CaseEventView, CaseInput, CaseList, CaseQuery,
    CaseSummary, CaseView, PhotoView, TrackEvent, TrackView, clock,
};
pub use categories::{CategoryInput, CategoryRef, CategoryView, HANDLERS, Limits, NEED_TYPES};
pub use channels::{
    CHAT_MAX_SKEW_SECONDS, CHAT_REPLY_EVENT, CallerResident, CallerView, ChatDraftView,
    ChatGroupInput, ChatGroupView, ChatLocation, ChatMessage, ChatReceipt, CreatedChatGroup,
    DraftConfirmed, DraftDecision, IntakeCount, IntakeStats, IntakeStatsQuery, MAX_STATS_DAYS,
    TRANSFER_CHANNELS, TRANSFER_EVENT, TransferInput, TransferOutcome, TransferSourceInput,
    TransferSourceView, TransferView,
};
pub use ctx::{Actor, Ctx, Origin};
pub use demo_people::DemoSize;
pub use error::AppError;
pub use files::{FileStore, MAX_PHOTO_BYTES, MAX_PHOTOS, Photo, image_type};
pub use grid::{NodeVersionView, NodeView};
pub use map::{
    AddressMatch, ContactCard, DEFAULT_TOLERANCE_M2, DivisionFinding, Location, MapFeature,
    MapState, NodeRef,
};
pub use map_io::ImportReport;
pub use notify::{
    CreatedWebhook, EVENTS, Inbox, NotificationView, OutboxView, WebhookInput, WebhookView,
    backoff_ms, signature,
};
pub use open311::{
    OPEN311_MAX_PAGE, OPEN311_MAX_SPAN_MS, Open311Error, Open311Extended, Open311Note, Open311Post,
    Open311Query, Open311Record, Open311Service, Open311Update, extended_status,
};
pub use places::{BUILDING_COLUMNS, HOUSEHOLD_COLUMNS, TableImportReport};
pub use questions::{DATATYPES, Question, QuestionValue, answers_for_people};
pub use registry::{HouseholdSummary, HouseholdView, ResidentPatch, ResidentView, SensitiveField};
pub use registry_io::{RESIDENT_COLUMNS, RegistryImportReport};
pub use roster::{ROSTER_COLUMNS, RosterImportReport, StaffInput, StaffView};
pub use secret::random_hex;
pub use table::{ExportFormat, RowError, read_table, write_table};
pub use tags::{TagInput, TagView, tag_label};

use domain::{LoginPolicy, Millis};
/// Store errors reach the edge through `app`, so that `web` needs no arrow to `store`.
pub use store::StoreError;
use store::{Engine, Store};

pub type Result<T, E = AppError> = std::result::Result<T, E>;

/// Settings the use cases need.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Sessions idle longer than this end.
    pub session_idle_minutes: i64,
    pub login_policy: LoginPolicy,
    /// Households a micro-grid should hold (inclusive); outside, the division check says so.
    pub micro_grid_households: (i64, i64),
    /// Households a general grid should hold (inclusive).
    pub grid_households: (i64, i64),
    /// Working periods of a working day, minutes after midnight (Asia/Shanghai).
    pub working_hours: Vec<(u32, u32)>,
    /// A report of the same category within this many hours of an open case is flagged.
    pub duplicate_window_hours: i64,
    /// … and within this many metres, when both have a pin.
    pub duplicate_metres: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            session_idle_minutes: 30,
            login_policy: LoginPolicy::default(),
            micro_grid_households: (30, 100),
            grid_households: (300, 500),
            working_hours: domain::calendar::DEFAULT_HOURS.to_vec(),
            duplicate_window_hours: 72,
            duplicate_metres: 100.0,
        }
    }
}

/// The application: the store and the settings. Cheap to clone.
#[derive(Clone, Debug)]
pub struct App {
    pub store: Store,
    pub settings: std::sync::Arc<Settings>,
    /// The routing index in use on this server.
    pub map: MapState,
    /// Encrypts and decrypts personal data; its key never comes from the database.
    pub cipher: Option<store::FieldCipher>,
    /// Where case photos are kept.
    pub files: Option<FileStore>,
    /// Lists read on every report and transition, kept for a few seconds.
    caches: std::sync::Arc<Caches>,
    /// Reports waiting to be written together.
    intake: std::sync::Arc<intake::IntakeQueue>,
}

/// What hot paths read and rarely changes: the categories and the working calendar. A change
/// made on this server clears them; one made on another is seen within [`CACHE_TTL`] and the
/// time one read of them takes.
#[derive(Debug, Default)]
struct Caches {
    categories: std::sync::RwLock<Option<(std::time::Instant, std::sync::Arc<Vec<CategoryView>>)>>,
    calendar: std::sync::RwLock<
        Option<(
            std::time::Instant,
            std::sync::Arc<domain::calendar::WorkingCalendar>,
        )>,
    >,
    /// Usable API keys by their hash: a key is checked on every request of a client that may
    /// send thousands a second. A revocation here clears it; on another server it is seen
    /// within [`CACHE_TTL`].
    api_keys:
        std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, store::ApiKeyRow)>>,
    /// The account serving a duty on a node (the roster), asked on every report. A change of
    /// the roster here clears it; on another server it is seen within [`CACHE_TTL`].
    holders:
        std::sync::Mutex<std::collections::HashMap<HolderKey, (std::time::Instant, Option<i64>)>>,
}

/// A node's code and a duty of the roster.
type HolderKey = (String, &'static str);

/// How long a cached list is trusted.
pub const CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(10);

/// How long an expired list still serves while one request reads it again (see
/// [`Caches::get`]); that read failing, the next request after it tries.
const REFRESH_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// A cached value while it is fresh. Expired: `None`, and its time moved on so that it serves
/// the other callers [`REFRESH_GRACE`] more while this one reads it again.
fn fresh_or_claim<V: Clone>((at, value): &mut (std::time::Instant, V)) -> Option<V> {
    if at.elapsed() < CACHE_TTL {
        return Some(value.clone());
    }
    let now = std::time::Instant::now();
    *at = now.checked_sub(CACHE_TTL - REFRESH_GRACE).unwrap_or(now);
    None
}

impl Caches {
    /// The cached list, or `None` for the one caller that is to read it again: when it has
    /// expired, the first to see it gets `None` and the others keep the old list for
    /// [`REFRESH_GRACE`] more, instead of every request in flight reading it at once (at 64
    /// reports in flight, 64 reads of every category each time the list expired).
    fn get<T>(
        slot: &std::sync::RwLock<Option<(std::time::Instant, std::sync::Arc<T>)>>,
    ) -> Option<std::sync::Arc<T>> {
        {
            let guard = slot.read().ok()?;
            let (at, value) = guard.as_ref()?;
            if at.elapsed() < CACHE_TTL {
                return Some(std::sync::Arc::clone(value));
            }
        }
        // Another caller may have taken the reading on meanwhile.
        fresh_or_claim(slot.write().ok()?.as_mut()?)
    }

    fn put<T>(
        slot: &std::sync::RwLock<Option<(std::time::Instant, std::sync::Arc<T>)>>,
        value: std::sync::Arc<T>,
    ) {
        if let Ok(mut g) = slot.write() {
            *g = Some((std::time::Instant::now(), value));
        }
    }

    /// A usable key's row while fresh. Not kept past [`CACHE_TTL`] as the lists are (see
    /// [`Caches::get`]): a key revoked through another server must stop working here, and the
    /// request that finds it revoked puts nothing back.
    fn api_key(&self, hash: &str) -> Option<store::ApiKeyRow> {
        let keys = self.api_keys.lock().ok()?;
        let (at, row) = keys.get(hash)?;
        (at.elapsed() < CACHE_TTL).then(|| row.clone())
    }

    fn put_api_key(&self, hash: &str, row: store::ApiKeyRow) {
        if let Ok(mut keys) = self.api_keys.lock() {
            if keys.len() >= 10_000 {
                keys.clear();
            }
            keys.insert(hash.to_owned(), (std::time::Instant::now(), row));
        }
    }

    /// Who serves a duty on a node; expired, as [`Caches::get`]: one caller reads it again.
    fn holder(&self, node: &str, duty: &'static str) -> Option<Option<i64>> {
        fresh_or_claim(
            self.holders
                .lock()
                .ok()?
                .get_mut(&(node.to_owned(), duty))?,
        )
    }

    fn put_holder(&self, node: &str, duty: &'static str, account: Option<i64>) {
        if let Ok(mut holders) = self.holders.lock() {
            if holders.len() >= 200_000 {
                holders.clear();
            }
            holders.insert(
                (node.to_owned(), duty),
                (std::time::Instant::now(), account),
            );
        }
    }

    fn clear_holders(&self) {
        if let Ok(mut holders) = self.holders.lock() {
            holders.clear();
        }
    }

    fn clear_api_keys(&self) {
        if let Ok(mut keys) = self.api_keys.lock() {
            keys.clear();
        }
    }

    fn clear(&self) {
        if let Ok(mut g) = self.categories.write() {
            *g = None;
        }
        if let Ok(mut g) = self.calendar.write() {
            *g = None;
        }
    }
}

/// Facts about the running system, for the system admin.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SystemInfo {
    pub version: &'static str,
    pub engine: &'static str,
    pub schema_version: i64,
    pub session_idle_minutes: i64,
    pub max_failed_logins: u32,
    pub lock_minutes: i64,
}

pub fn now() -> Millis {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default();
    Millis(ms)
}

impl App {
    pub fn new(store: Store, settings: Settings) -> App {
        App {
            store,
            settings: std::sync::Arc::new(settings),
            map: MapState::default(),
            cipher: None,
            files: None,
            caches: std::sync::Arc::default(),
            intake: std::sync::Arc::default(),
        }
    }

    /// The same application with a data key for personal data.
    pub fn with_cipher(mut self, cipher: store::FieldCipher) -> App {
        self.cipher = Some(cipher);
        self
    }

    /// The same application keeping case photos in `dir`.
    pub fn with_files(mut self, dir: impl Into<std::path::PathBuf>) -> App {
        self.files = Some(FileStore::new(dir));
        self
    }

    pub fn engine(&self) -> Engine {
        self.store.engine()
    }

    pub async fn system_info(&self, ctx: &Ctx) -> Result<SystemInfo> {
        self.require_anywhere(ctx, domain::Permission::ConfigureSystem, "system")
            .await?;
        Ok(SystemInfo {
            version: env!("CARGO_PKG_VERSION"),
            engine: self.engine().as_str(),
            schema_version: store::MIGRATIONS.last().map_or(0, |m| m.version),
            session_idle_minutes: self.settings.session_idle_minutes,
            max_failed_logins: self.settings.login_policy.max_failures,
            lock_minutes: self.settings.login_policy.lock_minutes,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::sync::{Arc, RwLock};
    use std::time::{Duration, Instant};

    /// An expired list is read again by one caller; the others meanwhile get the old one,
    /// until the grace is over, when the next caller tries again.
    #[test]
    fn one_caller_reads_an_expired_list_again_while_the_others_keep_the_old() {
        let long_ago = Instant::now()
            .checked_sub(CACHE_TTL + Duration::from_secs(1))
            .unwrap();
        let slot = RwLock::new(Some((long_ago, Arc::new("old"))));
        assert_eq!(Caches::get(&slot), None, "the first reads it again");
        for _ in 0..3 {
            assert_eq!(Caches::get(&slot).as_deref(), Some(&"old"));
        }
        // Its read failed (nothing was put): once the grace is over, another caller tries.
        if let Some((at, _)) = slot.write().unwrap().as_mut() {
            let left = CACHE_TTL.saturating_sub(at.elapsed());
            assert!(
                left <= REFRESH_GRACE && left > Duration::ZERO,
                "{left:?} of grace"
            );
            *at = long_ago;
        }
        assert_eq!(Caches::get(&slot), None);
        Caches::put(&slot, Arc::new("new"));
        assert_eq!(Caches::get(&slot).as_deref(), Some(&"new"));
        // The same for the holders' cache, entry by entry (not for API keys: see `api_key`).
        let caches = Caches::default();
        caches.put_holder("510115001001001001", "micro_grid_worker", Some(7));
        if let Some(entry) = caches.holders.lock().unwrap().values_mut().next() {
            entry.0 = long_ago;
        }
        let holder = || caches.holder("510115001001001001", "micro_grid_worker");
        assert_eq!(holder(), None, "the first reads it again");
        assert_eq!(holder(), Some(Some(7)));
        assert_eq!(
            caches.holder("510115001001001002", "micro_grid_worker"),
            None
        );
        // An empty slot (cleared by a change here) is read by every caller.
        let empty: RwLock<Option<(Instant, Arc<&str>)>> = RwLock::new(None);
        assert_eq!(Caches::get(&empty), None);
        assert_eq!(Caches::get(&empty), None);
    }
}
