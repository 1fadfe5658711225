//! What handlers and workers share: the configuration and the channels built from it, the store, the
//! in-memory image ([`Memory`]), the intake, the outbox, metrics and the clock.
//!
//! Everything is reached through accessor methods; no lock is handed out. The two locks kept here (the
//! configuration and the channels) are each taken only inside one method, never together with another lock.
//! `state` starts nothing: [`AppState::load`] builds the state from the store, and `workers::start` runs the
//! background loops on it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clarion_channels::{Channel, ChannelError};
use clarion_config::{Config, ConfigError};
use clarion_core::dispatch::NotificationLogEntry;
use clarion_core::{Fingerprint, Timestamp};
use clarion_store::{NotificationLogRow, Store, StoreError};
use parking_lot::{Mutex, RwLock};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::intake::{Intake, IntakeReceiver};
use crate::links::LinkKey;
use crate::memory::{Memory, NotificationLog};
use crate::metrics::{Metrics, OutcomeLabel};
use crate::outbox::{Handoff, Outbox};

/// Why the server could not start, or a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot load stored state: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Exposure(#[from] ExposureError),
    #[error("channel {name:?}: {source}")]
    Channel { name: String, source: ChannelError },
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot read {}: {reason}", path.display())]
    SecretFile { path: PathBuf, reason: String },
}

/// An unauthenticated server would be reachable beyond this machine.
#[derive(Debug, thiserror::Error)]
#[error(
    "refusing to listen on {0} without authentication: anyone who can reach it could post alerts and silence \
     them. Run `clarion token new NAME --scopes admin` and add the printed entry under `auth.tokens` in the \
     configuration, or listen on 127.0.0.1."
)]
pub struct ExposureError(pub SocketAddr);

/// Refuses configurations that would expose an unauthenticated server beyond this machine.
pub fn check_exposure(listen: SocketAddr, config: &Config) -> Result<(), ExposureError> {
    if config.file.auth.tokens.is_empty() && !listen.ip().is_loopback() {
        return Err(ExposureError(listen));
    }
    Ok(())
}

/// The ends of the channels the workers read from, made with the state.
#[derive(Debug)]
pub struct WorkerInputs {
    pub intake: IntakeReceiver,
    pub handoff: Handoff,
}

/// Handle to everything the server shares. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    config: RwLock<Arc<Config>>,
    channels: RwLock<Arc<HashMap<String, Channel>>>,
    /// The file `/-/reload` re-reads; `None` when running on the built-in example.
    config_path: Option<PathBuf>,
    listen: SocketAddr,
    store: Arc<dyn Store>,
    memory: Memory,
    calendars: crate::calendars::Calendars,
    /// Vulnerability watch: serialises its reconciliations.
    watch: crate::advisories::Watch,
    /// The feedback loop's history and the flap guard's holds.
    recorder: crate::feedback::Recorder,
    intake: Intake,
    outbox: Outbox,
    /// Serialises silence changes: plan, commit, then install.
    silence_writes: tokio::sync::Mutex<()>,
    /// Wakes the notifier: alerts arrived or the groups changed.
    notifier_wake: Notify,
    /// Wakes the escalation worker: a page timer may have moved earlier.
    escalation_wake: Notify,
    /// Signs acknowledgement links; the same for every instance sharing the store.
    link_key: LinkKey,
    /// The Slack app's signing secret, when `auth.slack` is configured.
    slack_signing_secret: RwLock<Option<Vec<u8>>>,
    http: reqwest::Client,
    metrics: Metrics,
    clock: Clock,
    started_at: Timestamp,
    ready: AtomicBool,
    stop: watch::Sender<bool>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

/// Names this instance in delivery leases: host name and listen address, the same across restarts, so a
/// restarted instance can take back its own leases at once (two instances on one host listen on
/// different addresses).
fn instance_id(listen: SocketAddr) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default();
    format!("{}@{listen}", if host.is_empty() { "clarion" } else { &host })
}

/// Builds every configured channel, reading the secret files they name.
fn build_channels(config: &Config) -> Result<HashMap<String, Channel>, StartError> {
    let policy = Arc::new(config.egress.clone());
    config
        .file
        .channels
        .iter()
        .map(|c| {
            Channel::from_config(c, policy.clone())
                .map(|ch| (c.name.clone(), ch))
                .map_err(|source| StartError::Channel { name: c.name.clone(), source })
        })
        .collect()
}

/// Reads the Slack app's signing secret from the configuration or the file it names.
fn slack_secret(config: &Config) -> Result<Option<Vec<u8>>, StartError> {
    let Some(slack) = &config.file.auth.slack else { return Ok(None) };
    match (&slack.signing_secret, &slack.signing_secret_file) {
        (Some(s), _) => Ok(Some(s.expose().as_bytes().to_vec())),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map(|s| Some(s.trim_end_matches(['\n', '\r']).as_bytes().to_vec()))
            .map_err(|e| StartError::SecretFile { path: path.clone(), reason: e.to_string() }),
        (None, None) => Ok(None),
    }
}

/// The in-memory form of notification-log rows, keyed by (group key, channel).
pub fn notification_log(rows: Vec<NotificationLogRow>) -> NotificationLog {
    rows.into_iter()
        .map(|r| {
            let entry = NotificationLogEntry {
                firing: r.firing.into_iter().map(Fingerprint).collect(),
                resolved: r.resolved.into_iter().map(Fingerprint).collect(),
                notified_at: r.notified_at,
                sequence: r.sequence,
            };
            ((r.group_key, r.channel), entry)
        })
        .collect()
}

impl AppState {
    /// Loads stored alerts, silences and the notification log into memory and takes back this instance's
    /// leases. Starts no worker: the caller runs `workers::start` with the returned inputs.
    pub async fn load(
        config: Config,
        config_path: Option<PathBuf>,
        listen: SocketAddr,
        store: Arc<dyn Store>,
        clock: Clock,
    ) -> Result<(AppState, WorkerInputs), StartError> {
        check_exposure(listen, &config)?;
        let rows = store.load_alerts().await?;
        let loaded = rows.len();
        let silences = store.load_silences().await?;
        let nflog = notification_log(store.load_notification_log().await?);
        let calendars = crate::calendars::Calendars::load(store.load_calendars().await?, &config);
        let now = clock.now();
        let route = Arc::new(config.route.clone());
        let memory = Memory::load(
            rows.into_iter().map(|r| (r.alert, r.version)),
            silences,
            nflog,
            route,
            config.inhibit_rules.clone(),
            now,
        );
        tracing::info!(
            alerts = memory.alert_count(),
            rows = loaded,
            notification_log = memory.notification_log_len(),
            store = store.kind(),
            "loaded stored state"
        );
        let channels = build_channels(&config)?;
        // Posts updates to Slack's `response_url`: under the egress policy of the configuration at start.
        let http = clarion_channels::egress::http_client(Arc::new(config.egress.clone()), Duration::from_secs(5))
            .map_err(|e| StartError::HttpClient(e.to_string()))?;
        let (intake, intake_rx) = Intake::channel();
        let (outbox, handoff) = Outbox::new(store.clone(), instance_id(listen));
        let released = outbox.release_own_leases().await?;
        if released > 0 {
            tracing::info!(deliveries = released, "took back deliveries this instance was sending when it stopped");
        }
        let stored = store.server_key(crate::links::KEY_NAME, &LinkKey::generate_hex()).await?;
        let link_key = LinkKey::from_hex(&stored).ok_or(StoreError::Corrupt {
            table: "server_keys",
            reason: format!("the key {:?} is not at least 16 bytes of hex", crate::links::KEY_NAME),
        })?;
        let slack_signing_secret = slack_secret(&config)?;
        let (stop, _) = watch::channel(false);
        let state = AppState(Arc::new(Inner {
            config: RwLock::new(Arc::new(config)),
            channels: RwLock::new(Arc::new(channels)),
            config_path,
            listen,
            store,
            memory,
            calendars,
            watch: crate::advisories::Watch::default(),
            recorder: crate::feedback::Recorder::default(),
            intake,
            outbox,
            silence_writes: tokio::sync::Mutex::new(()),
            notifier_wake: Notify::new(),
            escalation_wake: Notify::new(),
            link_key,
            slack_signing_secret: RwLock::new(slack_signing_secret),
            http,
            metrics: Metrics::new(),
            started_at: now,
            clock,
            ready: AtomicBool::new(false),
            stop,
            workers: Mutex::new(Vec::new()),
        }));
        Ok((state, WorkerInputs { intake: intake_rx, handoff }))
    }

    /// The running workers, to wait for at shutdown; the server is ready once they run.
    pub fn set_workers(&self, workers: Vec<JoinHandle<()>>) {
        *self.0.workers.lock() = workers;
        self.0.ready.store(true, Ordering::SeqCst);
    }

    /// The current configuration.
    pub fn config(&self) -> Arc<Config> {
        self.0.config.read().clone()
    }

    /// The configured channel named `name`.
    pub fn channel(&self, name: &str) -> Option<Channel> {
        self.0.channels.read().get(name).cloned()
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.0.store
    }

    pub fn memory(&self) -> &Memory {
        &self.0.memory
    }

    pub fn intake(&self) -> &Intake {
        &self.0.intake
    }

    pub fn outbox(&self) -> &Outbox {
        &self.0.outbox
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.0.http
    }

    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    pub fn clock(&self) -> &Clock {
        &self.0.clock
    }

    /// Now, by the server's clock.
    pub fn now(&self) -> Timestamp {
        self.0.clock.now()
    }

    pub fn started_at(&self) -> Timestamp {
        self.0.started_at
    }

    pub fn listen(&self) -> SocketAddr {
        self.0.listen
    }

    /// Where people reach this Clarion: `global.external_url`, else `http://<listen>`.
    pub fn external_url(&self) -> String {
        self.config().file.global.external_url.clone().unwrap_or_else(|| format!("http://{}", self.0.listen))
    }

    /// Serialises silence changes; hold the guard from planning to installing.
    pub async fn silence_writes(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.0.silence_writes.lock().await
    }

    /// Wakes the notifier (alerts arrived, groups changed).
    pub fn wake_notifier(&self) {
        self.0.notifier_wake.notify_one();
    }

    /// Resolves when [`AppState::wake_notifier`] was called.
    pub async fn notifier_woken(&self) {
        self.0.notifier_wake.notified().await;
    }

    /// Wakes the escalation worker (a page opened, or a timer moved).
    pub fn wake_escalation(&self) {
        self.0.escalation_wake.notify_one();
    }

    /// Resolves when [`AppState::wake_escalation`] was called.
    pub async fn escalation_woken(&self) {
        self.0.escalation_wake.notified().await;
    }

    /// The key that signs acknowledgement links.
    /// Imported change calendars (see `crate::calendars`).
    pub fn watch(&self) -> &crate::advisories::Watch {
        &self.0.watch
    }

    /// The feedback loop's history (see `crate::feedback`).
    pub fn recorder(&self) -> &crate::feedback::Recorder {
        &self.0.recorder
    }

    pub fn calendars(&self) -> &crate::calendars::Calendars {
        &self.0.calendars
    }

    pub fn link_key(&self) -> &LinkKey {
        &self.0.link_key
    }

    /// The Slack app's signing secret, if one is configured.
    pub fn slack_signing_secret(&self) -> Option<Vec<u8>> {
        self.0.slack_signing_secret.read().clone()
    }

    /// Changes to `true` when the server shuts down.
    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.0.stop.subscribe()
    }

    pub fn is_ready(&self) -> bool {
        self.0.ready.load(Ordering::SeqCst)
    }

    /// Re-reads the configuration file. A bad file is refused and the running configuration kept.
    pub fn reload(&self) -> Result<(), StartError> {
        let Some(path) = &self.0.config_path else {
            tracing::info!("reload requested; running on the built-in example configuration, nothing to re-read");
            return Ok(());
        };
        let result = Config::load(path).map_err(StartError::from).and_then(|new| {
            check_exposure(self.0.listen, &new)?;
            let channels = build_channels(&new)?;
            let slack = slack_secret(&new)?;
            let old = self.config();
            if new.file.listen != old.file.listen || new.file.storage.url != old.file.storage.url {
                tracing::warn!("`listen` and `storage` changes take effect only after a restart");
            }
            // Regroup every alert under the new route tree (as Alertmanager does on reload).
            self.0.memory.reconfigure(Arc::new(new.route.clone()), new.inhibit_rules.clone(), self.now());
            *self.0.channels.write() = Arc::new(channels);
            *self.0.slack_signing_secret.write() = slack;
            // Calendars whose `ics_file` changed: their planned events are announced, rescheduled or
            // cancelled as an import's would be (after the new configuration is in place).
            let changed: Vec<(String, Option<clarion_calendar::Calendar>, clarion_calendar::Calendar)> = new
                .calendars()
                .iter()
                .filter_map(|c| {
                    let file = c.from_file.clone()?;
                    let before = old.calendar(&c.name).and_then(|o| o.from_file.clone());
                    (before.as_ref() != Some(&file)).then(|| (c.name.clone(), before, file))
                })
                .collect();
            *self.0.config.write() = Arc::new(new);
            self.wake_notifier();
            if let (false, Ok(runtime)) = (changed.is_empty(), tokio::runtime::Handle::try_current()) {
                let state = self.clone();
                runtime.spawn(async move {
                    let now = state.now();
                    for (name, before, after) in changed {
                        if let Err(error) = crate::notices::on_import(&state, &name, before.as_ref(), &after, now).await {
                            tracing::error!(calendar = %name, %error, "the notices of a changed ics_file could not be sent");
                        }
                    }
                });
            }
            Ok(())
        });
        let outcome = if result.is_ok() { "success" } else { "failure" };
        self.0.metrics.config_reloads.get_or_create(&OutcomeLabel { outcome }).inc();
        match &result {
            Ok(()) => tracing::info!(file = %path.display(), "configuration reloaded"),
            Err(e) => tracing::error!(error = %e, "configuration reload failed; keeping the running configuration"),
        }
        result
    }

    /// Stops the background workers after the intake has committed everything already queued.
    pub async fn shutdown(&self) {
        self.0.ready.store(false, Ordering::SeqCst);
        let _ = self.0.stop.send(true);
        self.0.intake.close();
        let workers = std::mem::take(&mut *self.0.workers.lock());
        for w in workers {
            let _ = w.await;
        }
    }
}
