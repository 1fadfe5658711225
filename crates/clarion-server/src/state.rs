//! The state shared by handlers and workers: configuration, the alert table, silences, the store.
//!
//! The alert table and silences in memory are images of what the store holds: they are rebuilt from it at
//! start, and changed only after the store has committed the change.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use clarion_channels::Channel;
use clarion_config::Config;
use clarion_core::alerts::AlertTable;
use clarion_core::dispatch::{Dispatcher, NotificationLogEntry};
use clarion_core::silence::Silence;
use clarion_core::Timestamp;
use clarion_store::{Store, StoreError};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::intake::Intake;
use crate::metrics::Metrics;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot load stored state: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Exposure(String),
    #[error("channel {0}")]
    Channel(String),
}

/// Handle to everything the server shares. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    config: RwLock<Arc<Config>>,
    /// The file `/-/reload` re-reads; `None` when running on the built-in example.
    pub config_path: Option<PathBuf>,
    pub listen: SocketAddr,
    pub store: Arc<dyn Store>,
    pub alerts: RwLock<AlertTable>,
    /// Versions of alert rows nothing points to any more, waiting to be deleted.
    pub garbage: Mutex<Vec<i64>>,
    pub silences: RwLock<HashMap<String, Silence>>,
    /// Serialises silence changes: read, commit, then install.
    pub silence_ops: tokio::sync::Mutex<()>,
    pub intake: Intake,
    /// Aggregation groups; lock after `alerts` when both are needed.
    pub dispatcher: Mutex<Dispatcher>,
    /// The last notification of each (group key, channel), as committed to the store.
    pub nflog: Mutex<HashMap<(String, String), NotificationLogEntry>>,
    channels: RwLock<Arc<HashMap<String, Channel>>>,
    /// Wakes the notifier: alerts arrived.
    pub dispatch_wake: Notify,
    /// Wakes the delivery workers: deliveries were enqueued or retried.
    pub delivery_wake: Notify,
    /// Deliveries the notifier claimed as it enqueued them, for the workers to send at once.
    pub handoff: tokio::sync::mpsc::UnboundedSender<Vec<clarion_store::Delivery>>,
    /// Names this process in delivery leases.
    pub instance_id: String,
    pub http: reqwest::Client,
    pub metrics: Metrics,
    pub clock: Clock,
    pub started_at: Timestamp,
    ready: AtomicBool,
    stop: watch::Sender<bool>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Refuses configurations that would expose an unauthenticated server beyond this machine.
pub fn check_exposure(listen: SocketAddr, config: &Config) -> Result<(), String> {
    if config.file.auth.tokens.is_empty() && !listen.ip().is_loopback() {
        return Err(format!(
            "refusing to listen on {listen} without authentication: anyone who can reach it could post alerts \
             and silence them. Run `clarion token new NAME --scopes admin` and add the printed entry under \
             `auth.tokens` in the configuration, or listen on 127.0.0.1."
        ));
    }
    Ok(())
}

/// Names this instance in delivery leases: host name and listen address, the same across restarts, so a
/// restarted instance can take back its own leases at once (two instances on one host listen on
/// different addresses).
fn instance_id(listen: SocketAddr) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default();
    format!("{}@{listen}", if host.is_empty() { "clarion" } else { &host })
}

/// Builds every configured channel, reading the secret files they name.
fn build_channels(config: &Config) -> Result<HashMap<String, Channel>, String> {
    config
        .file
        .channels
        .iter()
        .map(|c| Channel::from_config(c).map(|ch| (c.name.clone(), ch)).map_err(|e| format!("{:?}: {e}", c.name)))
        .collect()
}

impl AppState {
    /// Loads stored alerts and silences, then starts the background workers (intake, maintenance).
    pub async fn start(
        config: Config,
        config_path: Option<PathBuf>,
        listen: SocketAddr,
        store: Arc<dyn Store>,
        clock: Clock,
    ) -> Result<AppState, StartError> {
        check_exposure(listen, &config).map_err(StartError::Exposure)?;
        let mut table = AlertTable::new();
        let mut garbage = Vec::new();
        let rows = store.load_alerts().await?;
        let loaded = rows.len();
        for row in rows {
            garbage.extend(table.install(row.alert, row.version));
        }
        let silences: HashMap<String, Silence> =
            store.load_silences().await?.into_iter().map(|s| (s.id.clone(), s)).collect();
        let nflog = crate::notifier::nflog_from_rows(store.load_notification_log().await?);
        tracing::info!(
            alerts = table.len(),
            rows = loaded,
            silences = silences.len(),
            notification_log = nflog.len(),
            store = store.kind(),
            "loaded stored state"
        );
        let channels = build_channels(&config).map_err(StartError::Channel)?;
        let dispatcher = Dispatcher::rebuild(&config.route, &table, clock.now());
        let http = reqwest::Client::builder()
            .user_agent(concat!("clarion/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| StartError::Channel(format!("cannot build the HTTP client: {e}")))?;

        let (intake, intake_rx) = Intake::channel();
        let (handoff, handoff_rx) = tokio::sync::mpsc::unbounded_channel();
        let (stop, _) = watch::channel(false);
        let released = store.release_leases(&instance_id(listen)).await?;
        if released > 0 {
            tracing::info!(deliveries = released, "took back deliveries this instance was sending when it stopped");
        }
        let state = AppState(Arc::new(Inner {
            config: RwLock::new(Arc::new(config)),
            config_path,
            listen,
            store,
            alerts: RwLock::new(table),
            garbage: Mutex::new(garbage),
            silences: RwLock::new(silences),
            silence_ops: tokio::sync::Mutex::new(()),
            intake,
            dispatcher: Mutex::new(dispatcher),
            nflog: Mutex::new(nflog),
            channels: RwLock::new(Arc::new(channels)),
            dispatch_wake: Notify::new(),
            delivery_wake: Notify::new(),
            handoff,
            instance_id: instance_id(listen),
            http,
            metrics: Metrics::new(),
            started_at: clock.now(),
            clock,
            ready: AtomicBool::new(false),
            stop,
            workers: Mutex::new(Vec::new()),
        }));
        let workers = vec![
            tokio::spawn(crate::intake::run(state.clone(), intake_rx)),
            tokio::spawn(crate::maintenance::run(state.clone(), state.stop.subscribe())),
            tokio::spawn(crate::notifier::run(state.clone(), state.stop.subscribe())),
            tokio::spawn(crate::sender::run(state.clone(), handoff_rx, state.stop.subscribe())),
        ];
        *state.workers.lock().unwrap_or_else(|e| e.into_inner()) = workers;
        state.ready.store(true, Ordering::SeqCst);
        Ok(state)
    }

    /// The current configuration.
    pub fn config(&self) -> Arc<Config> {
        self.config.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The configured channel named `name`.
    pub fn channel(&self, name: &str) -> Option<Channel> {
        self.channels.read().unwrap_or_else(|e| e.into_inner()).get(name).cloned()
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// Re-reads the configuration file. A bad file is refused and the running configuration kept.
    pub fn reload(&self) -> Result<(), String> {
        let Some(path) = &self.config_path else {
            tracing::info!("reload requested; running on the built-in example configuration, nothing to re-read");
            return Ok(());
        };
        let result = Config::load(path).map_err(|e| e.to_string()).and_then(|new| {
            check_exposure(self.listen, &new)?;
            let channels = build_channels(&new)?;
            let old = self.config();
            if new.file.listen != old.file.listen || new.file.storage.url != old.file.storage.url {
                tracing::warn!("`listen` and `storage` changes take effect only after a restart");
            }
            // Regroup every alert under the new route tree (as Alertmanager does on reload).
            {
                let table = self.alerts.read().unwrap_or_else(|e| e.into_inner());
                let mut dispatcher = self.dispatcher.lock().unwrap_or_else(|e| e.into_inner());
                *dispatcher = Dispatcher::rebuild(&new.route, &table, self.clock.now());
                *self.channels.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(channels);
                *self.config.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(new);
            }
            self.dispatch_wake.notify_one();
            Ok(())
        });
        match &result {
            Ok(()) => {
                self.metrics.config_reloads.get_or_create(&crate::metrics::OutcomeLabel { outcome: "success" }).inc();
                tracing::info!(file = %path.display(), "configuration reloaded");
            }
            Err(e) => {
                self.metrics.config_reloads.get_or_create(&crate::metrics::OutcomeLabel { outcome: "failure" }).inc();
                tracing::error!(error = %e, "configuration reload failed; keeping the running configuration");
            }
        }
        result
    }

    /// Stops the background workers after the intake has committed everything already queued.
    pub async fn shutdown(&self) {
        self.ready.store(false, Ordering::SeqCst);
        let _ = self.stop.send(true);
        self.intake.close();
        let workers = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|e| e.into_inner()));
        for w in workers {
            let _ = w.await;
        }
    }
}
