//! Clarion's durable storage.
//!
//! [`Store`] is what the server needs from storage — the sum of one role trait per kind of data
//! ([`AlertLog`], [`SilenceStore`], [`OutboxStore`], [`NotificationLogStore`], [`PageStore`],
//! [`CalendarStore`], [`WatchStore`], [`HistoryStore`]); [`sqlite::SqliteStore`] (the
//! embedded default) and [`postgres::PgStore`] (the scale-out store) implement each with the same
//! semantics, checked by one test suite run against both. A new kind of data (timers, calendars,
//! receipts) is a new role trait, a file per backend, and one more bound on `Store`. A call that returns `Ok` has committed: that is what lets the server answer
//! 2xx.
//!
//! Two levels of durability, chosen per operation. Alerts and silences — what clients were told is
//! stored — are synced to disk before the call returns (SQLite `synchronous=FULL`; PostgreSQL's default).
//! Delivery bookkeeping (enqueue, claim, complete) survives a crash of the Clarion process but not
//! necessarily a power loss of the database host (SQLite `synchronous=NORMAL` in WAL mode; PostgreSQL
//! `synchronous_commit=off`): what such a loss can drop is re-derived from the durable alerts with the
//! same idempotency keys, so at worst a notification is sent again, never lost. Alert history (episodes,
//! silence matches) is bookkeeping of the same kind, seen again at the next scan. Alerts are an append-only
//! log of batches (one row per commit, never updated, deleted once none of its alerts is current) because
//! appending few rows with sequential keys is what makes durable ingest fast; silences are few and upserted
//! by id.
//! This crate knows SQL and its own row encoding, never HTTP.
#![forbid(unsafe_code)]

mod codec;
pub mod postgres;
pub mod sqlite;

use std::sync::Arc;

use clarion_core::alert::Alert;
use clarion_core::page::{PageLife, PageState};
use clarion_core::silence::Silence;
use clarion_core::Timestamp;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The storage URL is not one Clarion understands. Holds only what is safe to show: the scheme, or why
    /// the URL was refused (a URL may carry a password).
    #[error("unsupported storage URL ({0}): use sqlite://PATH or postgres://USER@HOST/DB")]
    InvalidUrl(String),
    /// SQLite reported an error.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL reported an error.
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// No PostgreSQL connection could be had from the pool.
    #[error("postgres connection pool: {0}")]
    Pool(String),
    /// A row could not be decoded: the database was changed by something other than Clarion.
    #[error("corrupt row in {table}: {reason}")]
    Corrupt { table: &'static str, reason: String },
    /// A timestamp does not fit the storage encoding (nanoseconds since 1970 in 64 bits).
    #[error("timestamp {0} is outside the storable range (years 1678 to 2262)")]
    TimestampOutOfRange(String),
    /// The database file or directory could not be prepared.
    #[error("{0}")]
    Io(String),
    /// The store was shut down.
    #[error("the store is closed")]
    Closed,
    /// The caller's plan inside a transaction failed (see [`OutboxStore::open_pages_and_enqueue`]); nothing
    /// was committed.
    #[error("{0}")]
    Plan(String),
}

/// One alert row read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRow {
    /// Position in the log; increases with every append.
    pub version: i64,
    pub alert: Alert,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    /// Waiting for its next attempt.
    Pending,
    /// Claimed by a worker whose lease has not expired.
    Sending,
    /// The channel accepted it.
    Delivered,
    /// Given up on after too many attempts or too long; kept for people to see and retry.
    Dead,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Sending => "sending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryState> {
        match s {
            "pending" => Some(DeliveryState::Pending),
            "sending" => Some(DeliveryState::Sending),
            "delivered" => Some(DeliveryState::Delivered),
            "dead" => Some(DeliveryState::Dead),
            _ => None,
        }
    }
}

/// A message for one channel, to be committed to the outbox before any attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// The page the message belongs to, if any (its timeline lists the delivery).
    pub page_id: Option<i64>,
    /// Unique: enqueueing a key that exists already does nothing (so two instances producing the same
    /// notification store it once).
    pub idempotency_key: String,
    pub channel: String,
    pub team: String,
    /// Deliveries of one (channel, group) are attempted in creation order.
    pub group_key: String,
    /// What to send, opaque to the store (the server's JSON notification document).
    pub payload: String,
    /// Why this message was sent: `first`, `new-alerts`, `resolved`, `repeat`, `escalation`, `ack-timeout`,
    /// `unacknowledged`, `acknowledged`, `announcement`, `planned:<kind>`, `advisory:<notice>`, …; empty for
    /// deliveries stored before reasons were kept.
    pub reason: String,
    pub created_at: Timestamp,
}

/// A delivery as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: i64,
    pub page_id: Option<i64>,
    pub idempotency_key: String,
    pub channel: String,
    pub team: String,
    pub group_key: String,
    pub payload: String,
    /// Why this message was sent: `first`, `new-alerts`, `resolved`, `repeat`, `escalation`, `ack-timeout`,
    /// `unacknowledged`, `acknowledged`, `announcement`, `planned:<kind>`, `advisory:<notice>`, …; empty for
    /// deliveries stored before reasons were kept.
    pub reason: String,
    pub state: DeliveryState,
    /// Attempts made so far, manual retries included: the next attempt is number `attempts + 1`.
    pub attempts: u32,
    /// `attempts` when the delivery was last retried by hand (0 if never): the attempt budget
    /// (`delivery.max_attempts`) counts from here.
    pub attempt_base: u32,
    /// When the next attempt is due. While a delivery is leased (`sending`), the lease's end: an attempt
    /// lost with its instance is tried again then, and the due index never has to step over leased rows
    /// (a claim reads only what it can take, however large the backlog being sent).
    pub next_attempt_at: Timestamp,
    pub lease_owner: Option<String>,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
}

/// Which deliveries [`OutboxStore::notification_history`] lists. `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotificationFilter {
    pub team: Option<String>,
    pub channel: Option<String>,
    pub page_id: Option<i64>,
    /// Created at or after.
    pub since: Option<Timestamp>,
    /// Created before.
    pub until: Option<Timestamp>,
    pub limit: usize,
}

/// The outcome of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    Delivered,
    /// Failed; try again at `at`.
    Retry {
        at: Timestamp,
        error: String,
    },
    /// Failed for good.
    Dead {
        error: String,
    },
}

/// The last notification of one group to one channel (the durable notification log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationLogRow {
    pub group_key: String,
    pub channel: String,
    pub firing: Vec<u64>,
    pub resolved: Vec<u64>,
    pub notified_at: Timestamp,
    pub sequence: i64,
}

/// A lease to take on deliveries as they are claimed: `owner` holds them from `now` until `until`.
#[derive(Debug, Clone, Copy)]
pub struct Lease<'a> {
    pub owner: &'a str,
    pub now: Timestamp,
    pub until: Timestamp,
}

/// What [`OutboxStore::enqueue`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Enqueued {
    /// Deliveries inserted (those whose idempotency key was new).
    pub inserted: u64,
    /// Of those, the ones claimed under the lease given: the first in line for their (channel, group).
    pub claimed: Vec<Delivery>,
}

/// What a flush commits after its pages are open: built by a [`PlanDeliveries`] from the opened pages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Planned {
    pub deliveries: Vec<NewDelivery>,
    pub log: Vec<NotificationLogRow>,
}

/// Builds, inside the transaction that opened them, what is committed with the pages given to
/// [`OutboxStore::open_pages_and_enqueue`] (in their order). It runs on the store's own thread (SQLite) or
/// between statements (PostgreSQL), so it must be quick and must not wait for a lock the caller of the
/// store may hold.
pub type PlanDeliveries = Box<dyn FnOnce(&[PageRow]) -> Result<Planned, StoreError> + Send>;

/// What [`OutboxStore::open_pages_and_enqueue`] committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedAndEnqueued {
    /// The pages, in the order given (as [`PageStore::open_pages`] returns them).
    pub pages: Vec<PageRow>,
    pub enqueued: Enqueued,
}

/// The alert log: one row per appended batch, rows with sequential ids, alerts numbered within their
/// batch (version = batch id << 16 | index, see [`alert_batch`]). Every method commits before it returns
/// `Ok`; appended rows are synced to disk. One row per batch is what makes a durable append cheap: the
/// per-row work of the database does not grow with the alerts of a batch.
#[async_trait::async_trait]
pub trait AlertLog: Send + Sync {
    /// Appends alerts in one transaction (one row per 65,536 alerts); returns their versions in the order
    /// given, increasing.
    async fn append_alerts(&self, alerts: &[Alert]) -> Result<Vec<i64>, StoreError>;

    /// Every alert, in version order.
    async fn load_alerts(&self) -> Result<Vec<AlertRow>, StoreError>;

    /// Deletes whole batches by id (batches none of whose alerts is current any more). Returns how many
    /// were deleted; unknown ids are ignored.
    async fn delete_alert_batches(&self, batches: &[i64]) -> Result<u64, StoreError>;
}

/// The batch an alert version belongs to.
pub fn alert_batch(version: i64) -> i64 {
    version >> codec::BATCH_SHIFT
}

/// Silences, upserted by id. Every method commits before it returns `Ok`; saves are synced to disk.
#[async_trait::async_trait]
pub trait SilenceStore: Send + Sync {
    /// Inserts or replaces silences by id, in one transaction.
    async fn save_silences(&self, silences: &[Silence]) -> Result<(), StoreError>;

    /// Every stored silence.
    async fn load_silences(&self) -> Result<Vec<Silence>, StoreError>;

    /// Deletes silences by id; returns how many were deleted.
    async fn delete_silences(&self, ids: &[String]) -> Result<u64, StoreError>;
}

/// The delivery outbox. Every method commits before it returns `Ok`, safe against a crash of Clarion (see
/// the crate documentation for power loss).
#[async_trait::async_trait]
pub trait OutboxStore: Send + Sync {
    /// Commits new deliveries and the notification-log entries that record them, in one transaction.
    /// Deliveries whose idempotency key exists already are skipped. With a `lease`, the same transaction
    /// claims for its owner those of the new deliveries that are first in line for their (channel, group)
    /// and returns them, so the caller can send them without claiming again.
    async fn enqueue(
        &self,
        deliveries: &[NewDelivery],
        log: &[NotificationLogRow],
        lease: Option<Lease<'_>>,
    ) -> Result<Enqueued, StoreError>;

    /// [`PageStore::open_pages`] and [`OutboxStore::enqueue`] of what `plan` builds from the opened pages,
    /// in one transaction: a flush that opens a page and notifies it costs one round trip to the store,
    /// not two. If `plan` fails, nothing is committed.
    async fn open_pages_and_enqueue(
        &self,
        pages: &[NewPage],
        plan: PlanDeliveries,
        lease: Option<Lease<'_>>,
    ) -> Result<OpenedAndEnqueued, StoreError>;

    /// Claims up to `limit` deliveries that are due at `now` and not leased, for `owner` until
    /// `lease_until`. Of the unfinished deliveries of one (channel, group), only the oldest is eligible, so
    /// a group's notifications reach a channel in order. Safe to call from several instances at once.
    async fn claim_deliveries(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// Records the outcomes of attempts by `owner`, in one transaction. For each, false means nothing was
    /// changed because the delivery is no longer leased by `owner`.
    async fn complete_deliveries(
        &self,
        owner: &str,
        now: Timestamp,
        outcomes: &[(i64, Completion)],
    ) -> Result<Vec<bool>, StoreError>;

    /// Releases every lease held by `owner`, making its unfinished deliveries claimable at once. Called by
    /// an instance at start: leases it held before a crash or restart are its own, nobody else's.
    async fn release_leases(&self, owner: &str) -> Result<u64, StoreError>;

    /// Deliveries, newest first, optionally only those in `state`.
    async fn list_deliveries(&self, state: Option<DeliveryState>, limit: usize) -> Result<Vec<Delivery>, StoreError>;

    async fn get_delivery(&self, id: i64) -> Result<Option<Delivery>, StoreError>;

    /// Makes a dead delivery pending again, due at `now`, with a fresh attempt budget: `attempt_base`
    /// becomes `attempts`, which keeps counting. Returns false if the delivery does not exist or is not
    /// dead.
    async fn retry_delivery(&self, id: i64, now: Timestamp) -> Result<bool, StoreError>;

    /// Deletes delivered deliveries delivered before `cutoff`.
    async fn delete_delivered_before(&self, cutoff: Timestamp) -> Result<u64, StoreError>;

    /// Deliveries matching `filter`, newest first (by `created_at`, then id): the notification history.
    async fn notification_history(&self, filter: &NotificationFilter) -> Result<Vec<Delivery>, StoreError>;
}

/// The notification log: the last notification of each (group, channel). Rows are written by
/// [`OutboxStore::enqueue`], with the deliveries they record.
#[async_trait::async_trait]
pub trait NotificationLogStore: Send + Sync {
    /// The whole notification log.
    async fn load_notification_log(&self) -> Result<Vec<NotificationLogRow>, StoreError>;

    /// Forgets notification-log entries last written before `cutoff`.
    async fn delete_notification_log_before(&self, cutoff: Timestamp) -> Result<u64, StoreError>;
}

/// One change calendar's events as stored: the iCalendar document last imported, as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarDocument {
    pub name: String,
    pub document: String,
    pub imported_at: Timestamp,
}

/// The events of change calendars: one iCalendar document per calendar name, replaced as a whole by an
/// import. Synced to disk like silences (people's changes). The store does not read the documents.
#[async_trait::async_trait]
pub trait CalendarStore: Send + Sync {
    /// Replaces the document of calendar `name`.
    async fn put_calendar(&self, document: &CalendarDocument) -> Result<(), StoreError>;

    /// Every stored document, by name.
    async fn load_calendars(&self) -> Result<Vec<CalendarDocument>, StoreError>;
}

/// One firing of one alert, as the server's history worker saw it: from its `startsAt` to its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpisodeRow {
    pub fingerprint: u64,
    pub starts_at: Timestamp,
    /// `None` while it fires.
    pub ends_at: Option<Timestamp>,
    pub updated_at: Timestamp,
    /// What the server keeps of the episode (JSON), opaque to the store.
    pub body: String,
}

/// When a silence last matched an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SilenceMatchRow {
    pub silence_id: String,
    pub first_matched_at: Timestamp,
    pub last_matched_at: Timestamp,
}

/// The history reports are made of: alert episodes and when silences matched. Derived from the alerts
/// (the server's history worker records what it sees), so it has the outbox's durability (see the crate
/// documentation): a lost write is seen again at the next scan.
#[async_trait::async_trait]
pub trait HistoryStore: Send + Sync {
    /// Inserts or replaces episodes by (fingerprint, starts_at), in one transaction.
    async fn save_episodes(&self, episodes: &[EpisodeRow]) -> Result<(), StoreError>;

    /// Episodes still firing or ended at or after `since`, by `starts_at` then fingerprint.
    async fn load_episodes(&self, since: Timestamp) -> Result<Vec<EpisodeRow>, StoreError>;

    /// Deletes episodes that ended before `cutoff`; how many.
    async fn delete_episodes_ended_before(&self, cutoff: Timestamp) -> Result<u64, StoreError>;

    /// Records matches by silence id, in one transaction: a new id is inserted; a known one keeps the
    /// earlier `first_matched_at` and the later `last_matched_at`.
    async fn save_silence_matches(&self, matches: &[SilenceMatchRow]) -> Result<(), StoreError>;

    /// Every recorded silence match.
    async fn load_silence_matches(&self) -> Result<Vec<SilenceMatchRow>, StoreError>;

    /// Forgets the matches of these silences (deleted silences); how many.
    async fn delete_silence_matches(&self, ids: &[String]) -> Result<u64, StoreError>;
}

/// What a document of vulnerability watch holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WatchKind {
    /// A service's inventory (its packages), keyed by service name.
    Inventory,
    /// An advisory as imported (its OSV record), keyed by advisory id.
    Advisory,
    /// What was told of one match of an advisory with a service's package, keyed by the match.
    Match,
}

impl WatchKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WatchKind::Inventory => "inventory",
            WatchKind::Advisory => "advisory",
            WatchKind::Match => "match",
        }
    }
}

/// One document of vulnerability watch: its kind, its key, and a body the store does not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchDocument {
    pub kind: WatchKind,
    pub key: String,
    pub body: String,
    pub updated_at: Timestamp,
}

/// Vulnerability watch's documents: inventories by service, advisories by id, and what was told of each
/// match. Replaced by (kind, key), synced to disk like silences. The store does not read the bodies.
#[async_trait::async_trait]
pub trait WatchStore: Send + Sync {
    /// Replaces the documents with these (kind, key)s, all in one transaction.
    async fn put_watch(&self, documents: &[WatchDocument]) -> Result<(), StoreError>;

    /// Deletes the documents of `kind` with these keys.
    async fn delete_watch(&self, kind: WatchKind, keys: &[String]) -> Result<(), StoreError>;

    /// Every document of `kind`, by key.
    async fn load_watch(&self, kind: WatchKind) -> Result<Vec<WatchDocument>, StoreError>;
}

/// A page to open (see [`PageStore::open_pages`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPage {
    pub team: String,
    pub group_key: String,
    /// What the page is about: `alerts`, `announcement`, `provider_event`.
    pub kind: String,
    pub severity: String,
    pub summary: String,
    /// Why it matters, when the message says.
    pub context: Option<String>,
    /// The escalation policy, by name.
    pub policy: Option<String>,
    pub life: PageLife,
}

/// A page as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRow {
    /// Sequential, never reused.
    pub id: i64,
    pub team: String,
    pub group_key: String,
    pub kind: String,
    pub severity: String,
    pub summary: String,
    pub context: Option<String>,
    pub policy: Option<String>,
    pub life: PageLife,
    /// Increases with every change; [`PageStore::update_page`] changes a page only at the version read.
    pub version: i64,
}

/// One entry of a page's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageEventRow {
    pub page_id: i64,
    pub at: Timestamp,
    /// `opened`, `escalated`, `acknowledged`, … (`clarion_core::page::RecordKind`).
    pub kind: String,
    pub actor: String,
    /// `link`, `api`, `cli`, `chat`, `automatic`.
    pub via: String,
    pub detail: String,
}

/// Which pages to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageFilter {
    pub team: Option<String>,
    pub state: Option<PageState>,
    /// `alert`, `announcement`, … ([`PageRow::kind`]).
    pub kind: Option<String>,
    /// The pages of one group (an announcement's are `announcement/{id}`).
    pub group_key: Option<String>,
    pub limit: usize,
}

/// How hard a commit is pushed to disk (see the crate documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Synced to disk before `Ok`: what people did (an acknowledgement).
    Synced,
    /// Safe against a crash of Clarion, not necessarily a power loss: what Clarion derives from the alerts
    /// (a page resolving with its group).
    Relaxed,
}

/// Pages, their timelines, and the server keys that sign links to them. Every method commits before it
/// returns `Ok`. Opening pages is bookkeeping derived from the alerts and has the outbox's durability: a
/// power loss of the database host can make a group open a new page. Server keys are synced.
#[async_trait::async_trait]
pub trait PageStore: Send + Sync {
    /// For each page given, in one transaction: the open page of its (team, group key) if there is one,
    /// else a new page with the next id. At most one page of a (team, group key) is open, even with several
    /// instances opening at once. Returns the pages in the order given.
    async fn open_pages(&self, pages: &[NewPage], now: Timestamp) -> Result<Vec<PageRow>, StoreError>;

    /// The open page of (team, group key), if any.
    async fn open_page(&self, team: &str, group_key: &str) -> Result<Option<PageRow>, StoreError>;

    async fn get_page(&self, id: i64) -> Result<Option<PageRow>, StoreError>;

    /// Pages, most recently opened first.
    async fn list_pages(&self, filter: &PageFilter) -> Result<Vec<PageRow>, StoreError>;

    /// Replaces the life of page `id` and appends `events` to its timeline, if the page is still at
    /// `version`; returns false (and changes nothing) when someone changed it first.
    async fn update_page(
        &self,
        id: i64,
        version: i64,
        life: &PageLife,
        events: &[PageEventRow],
        durability: Durability,
    ) -> Result<bool, StoreError>;

    /// Open pages whose `next_at` is at or before `now`, earliest first.
    async fn due_pages(&self, now: Timestamp, limit: usize) -> Result<Vec<PageRow>, StoreError>;

    /// The earliest `next_at` of an open page.
    async fn next_page_due(&self) -> Result<Option<Timestamp>, StoreError>;

    /// A page's timeline, oldest first (its opening is the page's `opened_at`, not an entry).
    async fn page_events(&self, id: i64) -> Result<Vec<PageEventRow>, StoreError>;

    /// The deliveries of a page, oldest first.
    async fn page_deliveries(&self, id: i64) -> Result<Vec<Delivery>, StoreError>;

    /// Pages open at or after `since`: still open, or resolved at or after `since`; oldest first.
    async fn pages_since(&self, since: Timestamp) -> Result<Vec<PageRow>, StoreError>;

    /// Timeline entries of every page at or after `since` whose kind is one of `kinds` (all kinds if empty),
    /// oldest first.
    async fn page_events_since(&self, since: Timestamp, kinds: &[&str]) -> Result<Vec<PageEventRow>, StoreError>;

    /// Deletes pages resolved before `cutoff`, with their timelines, in one transaction; how many pages.
    /// Open pages are never deleted.
    async fn delete_resolved_pages_before(&self, cutoff: Timestamp) -> Result<u64, StoreError>;

    /// The server key named `name`: the one stored, or `candidate`, stored now if none was. Every instance
    /// sharing the store gets the same key.
    async fn server_key(&self, name: &str, candidate: &str) -> Result<String, StoreError>;
}

/// Durable storage for signals: the sum of the role traits, which both backends implement with the same
/// semantics. Callers that need one kind of data can take the role trait alone.
pub trait Store:
    AlertLog
    + SilenceStore
    + OutboxStore
    + NotificationLogStore
    + PageStore
    + CalendarStore
    + WatchStore
    + HistoryStore
    + std::fmt::Debug
    + 'static
{
    /// `sqlite` or `postgres`, for logs and `/api/v2/status`.
    fn kind(&self) -> &'static str;
}

/// Opens the store a URL names (`sqlite://PATH`, `postgres://…`), creating and migrating it as needed.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
        if path.is_empty() {
            return Err(StoreError::InvalidUrl("no path after sqlite://".into()));
        }
        Ok(Arc::new(sqlite::SqliteStore::open(std::path::Path::new(path)).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PgStore::connect(url).await?))
    } else {
        let scheme = url.split_once("://").map_or("no scheme", |(scheme, _)| scheme);
        let scheme = if scheme.len() <= 20 { scheme } else { "unknown scheme" };
        Err(StoreError::InvalidUrl(format!("scheme {scheme:?}")))
    }
}
