//! The outbox: the one way a message reaches a channel.
//!
//! Every producer — the notifier, announcements, and next escalations, planned-event notices and
//! advisories — builds [`Envelope`]s (one notification for one channel, with its idempotency key from
//! [`keys`]) and calls [`Outbox::send`] (or [`Outbox::open_and_send`], when its messages name the pages the
//! same commit opens: the notifier's flushes). The outbox encodes them, commits them together with the
//! notification-log rows they record in one transaction, claims under this instance's lease those first in
//! line for their (channel, group), and hands the claimed ones straight to the delivery workers; the rest
//! the workers find by claiming. **A notification exists once `send` returned `Ok`**: from then on it is
//! delivered at least once, by this instance or another.
//!
//! Once [`HANDOFF_LIMIT`] deliveries wait in memory to be sent (checked per [`Outbox::send`], so the bound
//! is the limit plus one round), new deliveries are committed unclaimed and the workers claim them from
//! the store as they become free, so a backlog (a slow channel, a burst of new groups) is held on disk,
//! not in memory.
//!
//! The lease a claim takes outlives the longest channel timeout ([`lease_until`]), so no other instance
//! claims a delivery while it is being sent; an instance that dies mid-send leaves a lease that expires.
//!
//! Where does a new producer of messages go? Its decision is pure and lives in `clarion-core` (what to say,
//! to which teams, when); its loop, if it has one, is a module of `workers/`; and it hands its messages to
//! [`Outbox::send`] with a key function of its own in [`keys`] — it never talks to the store's delivery
//! tables itself.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clarion_config::{Config, TeamConfig};
use clarion_core::notification::Notification;
use clarion_core::Timestamp;
use clarion_store::{
    Completion, Delivery, Enqueued, Lease, NewDelivery, NewPage, NotificationLogRow, PageRow, PlanDeliveries, Planned,
    Store, StoreError,
};
use tokio::sync::{mpsc, Notify};

/// Most deliveries handed to the workers and not yet started; more wait in the store.
pub const HANDOFF_LIMIT: usize = 1_024;

/// Lease beyond the channel's timeout.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// The lease a channel gets when no channel is configured.
const DEFAULT_CHANNEL_TIMEOUT: Duration = Duration::from_secs(10);

/// Why messages could not be committed to the outbox.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A notification could not be encoded for storage; nothing was committed.
    #[error("cannot encode the notification for {channel:?}: {source}")]
    Encode { channel: String, source: serde_json::Error },
}

/// One notification for one channel, ready to commit.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub channel: String,
    /// The same for every instance and every attempt producing this message (see [`keys`]).
    pub idempotency_key: String,
    /// Why it is sent, for the notification history: `first`, `new-alerts`, `resolved`, `repeat`,
    /// `escalation`, `ack-timeout`, `unacknowledged`, `acknowledged`, `announcement`, `planned:<kind>`,
    /// `advisory:<notice>`, `flapping`.
    pub reason: String,
    pub notification: Notification,
}

impl Envelope {
    /// One envelope per channel of `team`, each keyed by `key(channel)`.
    pub fn for_channels(
        team: &TeamConfig,
        notification: &Notification,
        reason: &str,
        key: impl Fn(&str) -> String,
    ) -> Vec<Envelope> {
        team.channels
            .iter()
            .map(|channel| Envelope {
                channel: channel.clone(),
                idempotency_key: key(channel),
                reason: reason.to_string(),
                notification: notification.clone(),
            })
            .collect()
    }
}

/// What [`Outbox::send`] committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// Deliveries stored now (an envelope whose key was stored before is not stored again).
    pub stored: u64,
    /// Of those, handed straight to the workers.
    pub handed_off: usize,
}

/// Deliveries claimed as they were committed, for the workers to send at once. The worker calls
/// [`Handoff::started`] for each one it starts.
#[derive(Debug)]
pub struct Handoff {
    receiver: mpsc::UnboundedReceiver<Vec<Delivery>>,
    waiting: Arc<AtomicUsize>,
}

impl Handoff {
    /// The next handed-off batch; `None` once the outbox is gone.
    pub async fn recv(&mut self) -> Option<Vec<Delivery>> {
        self.receiver.recv().await
    }

    /// The next handed-off batch if one is waiting (for tests that run no worker).
    pub fn try_recv(&mut self) -> Result<Vec<Delivery>, mpsc::error::TryRecvError> {
        self.receiver.try_recv()
    }

    /// One handed-off delivery has started: it no longer counts against [`HANDOFF_LIMIT`].
    pub fn started(&self) {
        self.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

/// See the module documentation.
#[derive(Debug)]
pub struct Outbox {
    store: Arc<dyn Store>,
    /// Names this process in delivery leases.
    instance_id: String,
    handoff: mpsc::UnboundedSender<Vec<Delivery>>,
    /// Deliveries handed off and not yet started.
    waiting: Arc<AtomicUsize>,
    /// Wakes the delivery workers: deliveries were enqueued, retried or finished.
    wake: Notify,
}

impl Outbox {
    pub fn new(store: Arc<dyn Store>, instance_id: String) -> (Outbox, Handoff) {
        let (handoff, receiver) = mpsc::unbounded_channel();
        let waiting = Arc::new(AtomicUsize::new(0));
        (
            Outbox { store, instance_id, handoff, waiting: waiting.clone(), wake: Notify::new() },
            Handoff { receiver, waiting },
        )
    }

    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// Commits `envelopes` and the notification-log rows that record them in one transaction (see the
    /// module documentation), then hands what it claimed to the workers.
    pub async fn send(
        &self,
        envelopes: &[Envelope],
        log: &[NotificationLogRow],
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Sent, OutboxError> {
        if envelopes.is_empty() && log.is_empty() {
            return Ok(Sent { stored: 0, handed_off: 0 });
        }
        let deliveries = deliveries_of(envelopes, now)?;
        let enqueued = self.store.enqueue(&deliveries, log, self.lease(now, lease_until)).await?;
        Ok(self.hand_off(enqueued))
    }

    /// Opens `pages` and commits, in the same transaction, the envelopes and notification-log rows `plan`
    /// makes of the opened pages (given in the order of `pages`), then hands what it claimed to the
    /// workers: [`Outbox::send`] for a producer whose messages name pages it opens. `plan` runs inside
    /// the store's transaction (see [`clarion_store::PlanDeliveries`]): it must be quick and take no lock
    /// that a caller of the store may hold. What else it returns (`T`) is handed back after the commit.
    pub async fn open_and_send<T: Send + 'static>(
        &self,
        pages: &[NewPage],
        plan: impl FnOnce(&[PageRow]) -> (Vec<Envelope>, Vec<NotificationLogRow>, T) + Send + 'static,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<(Vec<PageRow>, Sent, T), OutboxError> {
        let kept = Arc::new(parking_lot::Mutex::new(None));
        let keep = kept.clone();
        let plan: PlanDeliveries = Box::new(move |pages: &[PageRow]| {
            let (envelopes, log, extra) = plan(pages);
            let deliveries = deliveries_of(&envelopes, now).map_err(|e| StoreError::Plan(e.to_string()))?;
            *keep.lock() = Some(extra);
            Ok(Planned { deliveries, log })
        });
        let done = self.store.open_pages_and_enqueue(pages, plan, self.lease(now, lease_until)).await?;
        let sent = self.hand_off(done.enqueued);
        // The store runs the plan before it commits, so a commit always has its plan's output.
        let extra =
            kept.lock().take().ok_or_else(|| StoreError::Plan("the store committed without planning".into()))?;
        Ok((done.pages, sent, extra))
    }

    /// The lease new deliveries are claimed under as they are committed; none with a backlog waiting in
    /// memory, so new deliveries wait in the store.
    fn lease(&self, now: Timestamp, until: Timestamp) -> Option<Lease<'_>> {
        (self.waiting.load(Ordering::Acquire) < HANDOFF_LIMIT).then_some(Lease { owner: &self.instance_id, now, until })
    }

    /// Hands what a commit claimed to the workers, and wakes them for what it did not.
    fn hand_off(&self, enqueued: Enqueued) -> Sent {
        let handed_off = enqueued.claimed.len();
        if (handed_off as u64) < enqueued.inserted {
            // Some wait behind earlier deliveries of their group, or behind the backlog: the workers find
            // them in the outbox.
            self.wake.notify_one();
        }
        if handed_off > 0 {
            self.waiting.fetch_add(handed_off, Ordering::AcqRel);
            if let Err(returned) = self.handoff.send(enqueued.claimed) {
                self.waiting.fetch_sub(returned.0.len(), Ordering::AcqRel);
                tracing::warn!(
                    "the delivery workers have stopped; claimed deliveries are sent after their lease expires"
                );
            }
        }
        Sent { stored: enqueued.inserted, handed_off }
    }

    /// Claims up to `limit` due deliveries for this instance.
    pub async fn claim(
        &self,
        limit: usize,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.store.claim_deliveries(&self.instance_id, now, lease_until, limit).await
    }

    /// Records the outcomes of this instance's attempts; false for each whose lease had expired.
    pub async fn record(&self, outcomes: &[(i64, Completion)], now: Timestamp) -> Result<Vec<bool>, StoreError> {
        self.store.complete_deliveries(&self.instance_id, now, outcomes).await
    }

    /// Takes back the deliveries this instance was sending when it stopped.
    pub async fn release_own_leases(&self) -> Result<u64, StoreError> {
        self.store.release_leases(&self.instance_id).await
    }

    /// Wakes the delivery workers.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Resolves when [`Outbox::wake`] was called.
    pub async fn woken(&self) {
        self.wake.notified().await;
    }
}

/// The stored form of `envelopes`, created at `now`.
fn deliveries_of(envelopes: &[Envelope], now: Timestamp) -> Result<Vec<NewDelivery>, OutboxError> {
    envelopes
        .iter()
        .map(|e| {
            let payload =
                encode(&e.notification).map_err(|source| OutboxError::Encode { channel: e.channel.clone(), source })?;
            Ok(NewDelivery {
                page_id: e.notification.page().and_then(|p| crate::pages::parse_id(&p.id)),
                idempotency_key: e.idempotency_key.clone(),
                reason: e.reason.clone(),
                channel: e.channel.clone(),
                team: e.notification.team().to_string(),
                group_key: e.notification.group_key(),
                payload,
                created_at: now,
            })
        })
        .collect()
}

/// The stored form of a notification (JSON).
pub fn encode(n: &Notification) -> Result<String, serde_json::Error> {
    serde_json::to_string(n)
}

/// A stored notification, read back for sending.
pub fn decode(payload: &str) -> Result<Notification, serde_json::Error> {
    serde_json::from_str(payload)
}

/// When a lease taken at `now` ends: the longest channel timeout plus a margin.
pub fn lease_until(config: &Config, now: Timestamp) -> Timestamp {
    let longest = config.file.channels.iter().map(|c| c.timeout()).max().unwrap_or(DEFAULT_CHANNEL_TIMEOUT);
    clarion_core::later(now, longest.saturating_add(LEASE_MARGIN))
}

/// Idempotency keys: one function per producer. A key is the same for every attempt of a message and for
/// every instance that produces the same message, so the outbox stores it once; two different messages
/// never share one. Keys are the first 16 bytes of a SHA-256, in hex; the inputs are separated by a zero
/// byte so that no two input lists hash the same text.
pub mod keys {
    use std::collections::BTreeSet;

    use clarion_core::Fingerprint;
    use sha2::{Digest, Sha256};

    /// The `sequence`-th notification of aggregation group `group_key` to `channel`, about exactly these
    /// firing and resolved alerts. Instances that each hold part of a group derive different keys, so
    /// neither notification is dropped.
    pub fn alert_group(
        channel: &str,
        group_key: &str,
        sequence: i64,
        firing: &BTreeSet<Fingerprint>,
        resolved: &BTreeSet<Fingerprint>,
    ) -> String {
        let mut h = Sha256::new().chain_update(channel).chain_update([0]).chain_update(group_key).chain_update([0]);
        h.update(sequence.to_le_bytes());
        for fp in firing {
            h.update(fp.0.to_le_bytes());
        }
        h.update([0xff]);
        for fp in resolved {
            h.update(fp.0.to_le_bytes());
        }
        hex::encode(&h.finalize()[..16])
    }

    /// Tier `tier` (0-based) of round `round` of escalation epoch `epoch` of page `page`, to `channel`.
    pub fn escalation(page: &str, epoch: u32, round: u32, tier: usize, channel: &str) -> String {
        let mut h = Sha256::new().chain_update("escalation").chain_update([0]).chain_update(page).chain_update([0]);
        h.update(epoch.to_le_bytes());
        h.update(round.to_le_bytes());
        h.update((tier as u64).to_le_bytes());
        h.update(channel);
        hex::encode(&h.finalize()[..16])
    }

    /// The acknowledgement of page `page` made at `at`, to `channel`.
    pub fn acknowledged(page: &str, at: clarion_core::Timestamp, channel: &str) -> String {
        let mut h = Sha256::new().chain_update("acknowledged").chain_update([0]).chain_update(page).chain_update([0]);
        h.update(at.timestamp_nanos_opt().unwrap_or_default().to_le_bytes());
        h.update(channel);
        hex::encode(&h.finalize()[..16])
    }

    /// Notice `kind` of the occurrence starting at `start` of event `uid` in calendar `calendar`, to
    /// `channel` of `team` (see `crate::notices`).
    pub fn planned(
        calendar: &str,
        uid: &str,
        start: clarion_core::Timestamp,
        kind: &str,
        team: &str,
        channel: &str,
    ) -> String {
        let mut h = Sha256::new().chain_update("planned").chain_update([0]).chain_update(calendar).chain_update([0]);
        h.update(uid);
        h.update([0]);
        h.update(start.timestamp().to_le_bytes());
        for part in [kind, team, channel] {
            h.update([0]);
            h.update(part);
        }
        hex::encode(&h.finalize()[..16])
    }

    /// Notice `notice` (`opened`, `updated-<modified>`, `reminder-<seconds>`, …) of generation `generation`
    /// of vulnerability match `key` (advisory, service, package version), to `channel` of `team`.
    pub fn advisory(key: &str, generation: u32, notice: &str, team: &str, channel: &str) -> String {
        let mut h = Sha256::new().chain_update("advisory").chain_update([0]).chain_update(key).chain_update([0]);
        h.update(generation.to_le_bytes());
        for part in [notice, team, channel] {
            h.update([0]);
            h.update(part);
        }
        hex::encode(&h.finalize()[..16])
    }

    /// The flap guard's message that alert `fingerprint` flaps, for its hold that began at `since`, to
    /// `channel` of `team`.
    pub fn flapping(fingerprint: Fingerprint, since: clarion_core::Timestamp, team: &str, channel: &str) -> String {
        let mut h = Sha256::new().chain_update("flapping").chain_update([0]);
        h.update(fingerprint.0.to_le_bytes());
        h.update(since.timestamp_nanos_opt().unwrap_or_default().to_le_bytes());
        for part in [team, channel] {
            h.update([0]);
            h.update(part);
        }
        hex::encode(&h.finalize()[..16])
    }

    /// Announcement `id` to `channel` of `team`.
    pub fn announcement(id: &str, team: &str, channel: &str) -> String {
        let digest =
            Sha256::new().chain_update(id).chain_update([0]).chain_update(team).chain_update([0]).chain_update(channel);
        hex::encode(&digest.finalize()[..16])
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use clarion_core::Fingerprint;

    use super::*;

    /// Regression pin: the key format is what stops two instances (or a restarted one) from sending the
    /// same notification twice. Changing it re-sends every notification in flight during an upgrade; if
    /// that is intended, change these values on purpose. The values were checked against an independent
    /// computation (Python's hashlib over the documented byte layout).
    #[test]
    fn idempotency_keys_do_not_change() {
        let fps = |v: &[u64]| v.iter().map(|&f| Fingerprint(f)).collect::<BTreeSet<_>>();
        assert_eq!(
            keys::alert_group("ops-hook", r#"{}:{alertname="DiskFull"}"#, 1, &fps(&[1, 2]), &fps(&[])),
            "594e9585621b475d291a5c3d36b768c9"
        );
        assert_eq!(
            keys::alert_group("ops-hook", r#"{}:{alertname="DiskFull"}"#, 2, &fps(&[1]), &fps(&[2])),
            "68b26144795873235acfde11d3a6e8a6"
        );
        assert_eq!(keys::announcement("0b6a", "payments", "payments-slack"), "b423e6b3e02b89d06380ed4a20bc488c");
        assert_eq!(
            keys::advisory("RUSTSEC-2020-0001/checkout/crates.io/foo@1.0.0", 1, "opened", "payments", "pay-hook"),
            "965c193544a027b02db578429ba8bca3"
        );
    }

    #[test]
    fn keys_differ_for_different_messages() {
        let fps = |v: &[u64]| v.iter().map(|&f| Fingerprint(f)).collect::<BTreeSet<_>>();
        let base = keys::alert_group("c", "g", 1, &fps(&[1]), &fps(&[]));
        assert_ne!(base, keys::alert_group("c", "g", 2, &fps(&[1]), &fps(&[])), "the sequence counts");
        assert_ne!(base, keys::alert_group("c", "g", 1, &fps(&[]), &fps(&[1])), "firing is not resolved");
        assert_ne!(base, keys::alert_group("d", "g", 1, &fps(&[1]), &fps(&[])), "the channel counts");
        assert_ne!(keys::announcement("a", "bc", "d"), keys::announcement("ab", "c", "d"), "inputs are separated");
        let tier = keys::escalation("p1", 0, 0, 1, "alice-phone");
        assert_ne!(tier, keys::escalation("p1", 1, 0, 1, "alice-phone"), "a restarted escalation is new");
        assert_ne!(tier, keys::escalation("p1", 0, 1, 1, "alice-phone"), "so is the next round");
        assert_ne!(tier, keys::escalation("p1", 0, 0, 2, "alice-phone"), "and the next tier");
    }

    /// Deliveries committed before notifications had kinds are still read: their JSON is the alert
    /// group's.
    #[test]
    fn a_stored_alert_group_of_the_first_format_decodes() -> Result<(), serde_json::Error> {
        let stored = r#"{"receiver":"ops","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"A"},
            "annotations":{},"starts_at":"2026-11-27T06:00:00Z","ends_at":null,"generator_url":"","fingerprint":"1"}],
            "group_labels":{},"common_labels":{"alertname":"A"},"common_annotations":{},"external_url":"http://c",
            "group_key":"{}:{}","kind":"alerts"}"#;
        let n = decode(stored)?;
        assert_eq!(n.title(), "A · ops");
        assert_eq!(decode(&encode(&n)?)?, n, "encoding round-trips");
        Ok(())
    }
}
