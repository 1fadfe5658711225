//! Soak: a day of Alertmanager-style traffic, compressed by moving Clarion's clock, must leave memory and
//! the store flat, every alert count where the population puts it, and no delivery stuck.
//!
//! Clarion runs in process: `AppState::start` on a temporary SQLite store with a `Clock` the test moves,
//! `serve` on 127.0.0.1 (real HTTP), delivering to two webhook channels of a receiver written here (it
//! answers 200, and 503 to every 50th request so that retries happen too). The route tree groups with
//! group_wait 30s, group_interval 5m and repeat_interval 4h (1h on the payments route), the example
//! inhibit rule applies (critical mutes warning with equal alertname and instance), resolve_timeout is 5m.
//!
//! The simulated day lasts `CLARION_SOAK_HOURS` hours (default 3: a seeded short run for the normal suite;
//! `scripts/soak 24 FILE` runs the whole day in release) and moves in half-minute steps. Every simulated
//! minute the test re-sends the firing set of a rolling population of 300 alerts, as Prometheus does,
//! without `endsAt` (so an alert no longer sent resolves by resolve_timeout). A quarter of the churning
//! alerts are replaced per hour: the replacement (a new `pod`) starts, the old one stops being sent or is
//! sent once more with `endsAt` = now. Twenty stable alerts never change, so their groups are only
//! re-notified at the repeat interval. Every 15 minutes an operator silences a firing alert for 10 to 45
//! minutes (and expires every fourth silence early), so silences start and expire all day.
//!
//! How the moved clock meets the workers (see `Soak::advance`): every worker decides with `state.now()`,
//! but waits in real time — the notifier up to 5 s, the sender's poll 500 ms, the escalation poll 1 s,
//! housekeeping every 30 s. A half-minute jump of the clock would leave them asleep for most of a step, and
//! housekeeping (which forgets resolved alerts an hour after they resolved) would run once per several
//! simulated hours. So after each jump the test wakes the notifier, the sender and the escalation worker
//! through `AppState`'s wake methods, runs one round of `housekeeping` (every 30 simulated seconds, the
//! worker's own period), and lets the workers settle before the next jump: no group due, no delivery
//! `sending`, no `pending` delivery due (`Soak::settle`). Settling also keeps a jump from expiring the lease
//! of a delivery still in flight (a lease lasts the channel timeout plus 30 s of the moved clock).
//!
//! One thing the test does that the server would not do within a day: delivered deliveries are kept 7
//! days for people to look at (`DELIVERED_RETENTION` in `workers/maintenance.rs`), so a day can never
//! reach their steady state and the database file grows by every notification of the day (about 0.45 MiB
//! an hour here). To see whether anything else grows, the test deletes delivered deliveries older than
//! 2 hours every simulated hour (`DELIVERED_KEPT`), with the store call housekeeping uses, and prints
//! how many. Everything else is the server's own doing.
//!
//! Every simulated hour one line is printed: the real time spent (posting, housekeeping, settling), RSS
//! (and its anonymous part), the SQLite file and its WAL, the alerts in memory and firing (with what the
//! population says they must be), the notification log, silences (active/pending/expired), deliveries by
//! state, pages, and what the receiver got. At the end it checks: both alert counts matched the population
//! exactly every hour; the heap and the database file did not grow and the WAL stayed within its bound
//! (see `check_growth`); no delivery was pending past its time or left `sending`, none died, none arrived
//! twice; both teams were notified every hour; the stable groups were re-notified at their repeat
//! intervals.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use clarion_config::Config;
use clarion_server::{housekeeping, serve, AppState, Clock};
use clarion_store::DeliveryState;
use serde_json::{json, Value};

type Error = Box<dyn std::error::Error + Send + Sync>;
type TestResult<T = ()> = Result<T, Error>;
type Time = DateTime<Utc>;

/// The alerts of the rolling population (one firing alert per slot at any time).
const SLOTS: usize = 300;
/// Share of the churning slots whose alert is replaced per simulated hour.
const CHURN_PER_HOUR: f64 = 0.25;
/// One in this many replaced alerts is resolved explicitly (sent with `endsAt` = now); the others just
/// stop being sent and resolve by resolve_timeout.
const EXPLICIT_RESOLVE_ONE_IN: u64 = 3;
/// The alert name of the stable slots: their groups hold nothing else.
const STABLE_NAME: &str = "StableDiskWear";
/// Alert names of the churning slots.
const NAMES: [&str; 10] = [
    "HighLatency",
    "ErrorBudgetBurn",
    "DiskFilling",
    "MemoryPressure",
    "CertificateExpiry",
    "QueueBacklog",
    "ReplicationLag",
    "PodCrashLooping",
    "CpuThrottled",
    "BackupMissed",
];
/// The clock moves this much per step; the population is re-sent every other step (every minute).
const HALF_STEP: Duration = Duration::from_secs(30);
/// An operator silences a firing alert every this many simulated minutes.
const SILENCE_EVERY_MINUTES: u64 = 15;
/// Every this many silences, one is expired early (5 simulated minutes after its creation).
const EXPIRE_EARLY_ONE_IN: u64 = 4;
/// The receiver answers 503 to every this many requests (the delivery is retried).
const REFUSE_ONE_IN: usize = 50;
/// Longest real time the workers may take to settle after a step before the test calls them stuck.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(20);
/// What the configuration says (and `housekeeping`'s resolved-alert retention, `RESOLVED_RETENTION`).
const RESOLVE_TIMEOUT: chrono::Duration = chrono::Duration::minutes(5);
const RESOLVED_RETENTION: chrono::Duration = chrono::Duration::hours(1);
/// Delivered deliveries are kept this long in the soak instead of housekeeping's 7 days (see the module
/// documentation).
const DELIVERED_KEPT: chrono::Duration = chrono::Duration::hours(2);
/// The largest WAL `wal_autocheckpoint=10000` allows: 10 000 frames of a 4 KiB page and its 24-byte
/// header, plus 8 MiB for the transaction that crosses the threshold.
const WAL_BOUND: u64 = 10_000 * (4096 + 24) + (8 << 20);
/// A pending delivery whose time is this far in the past is stuck.
const LATE: chrono::Duration = chrono::Duration::minutes(3);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_compressed_day_leaves_memory_and_store_flat_and_no_delivery_stuck() -> TestResult {
    let hours: u32 = env_or("CLARION_SOAK_HOURS", 3)?;
    let seed: u64 = env_or("CLARION_SOAK_SEED", 0x5eed)?;
    if hours == 0 {
        return Err("CLARION_SOAK_HOURS must be at least 1".into());
    }
    let real = Instant::now();
    let mut hour_started = real;
    let receiver = Receiver::start()?;
    let soak = Soak::start(&receiver.url).await?;
    let mut population = Population::new(seed, soak.clock.now());
    let mut operator = Operator::default();
    let mut samples = Vec::new();
    println!("soak: {hours} simulated hours, seed {seed:#x}, store {}", soak.db.display());
    for minute in 0..u64::from(hours) * 60 {
        // On the minute: what Prometheus and operators do.
        if minute > 0 {
            soak.advance(HALF_STEP).await?;
        }
        let now = soak.clock.now();
        population.evolve(now);
        soak.post_alerts(&population.batch(now)).await?;
        operator.act(&soak, &mut population, minute, now).await?;
        soak.settle().await?;
        // Half a minute later: only time passes (group_wait flushes come due, housekeeping runs).
        soak.advance(HALF_STEP).await?;
        soak.settle().await?;
        if (minute + 1).is_multiple_of(60) {
            let hour = ((minute + 1) / 60) as u32;
            let sample = soak.sample(hour, &population, &receiver, hour_started.elapsed()).await?;
            hour_started = Instant::now();
            println!("{sample}");
            samples.push(sample);
            receiver.rotate_keys();
        }
    }
    let problems = check(&soak, &samples, &receiver, hours).await?;
    soak.stop().await?;
    println!("soak: {hours} simulated hours in {:.1} s of real time", real.elapsed().as_secs_f64());
    if !problems.is_empty() {
        return Err(format!("soak found {} problem(s):\n  {}", problems.len(), problems.join("\n  ")).into());
    }
    Ok(())
}

/// A number from the environment, or `default` when unset.
fn env_or<T: std::str::FromStr>(name: &str, default: T) -> TestResult<T> {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().map_err(|_| format!("{name}={v:?} is not a number").into()),
        Err(_) => Ok(default),
    }
}

fn rfc3339(t: Time) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

// --- the server ---------------------------------------------------------------------------------------

/// Clarion in process, on real HTTP, with the clock the test moves.
struct Soak {
    state: AppState,
    clock: Clock,
    base: String,
    http: reqwest::Client,
    db: PathBuf,
    shutdown: tokio::sync::oneshot::Sender<()>,
    served: tokio::task::JoinHandle<std::io::Result<()>>,
    /// Real time spent since the last sample: posting, housekeeping, settling.
    spent: Mutex<[Duration; 3]>,
    _dir: tempfile::TempDir,
}

/// The configuration: two teams with a webhook channel each, the example inhibit rule, a 5m
/// resolve_timeout. The alerts' history for reports (`feedback.retention`, 90 days by default) is kept one
/// hour, so the store's size measures what must stay bounded, not the history the configuration asks for.
fn config(receiver: &str) -> String {
    format!(
        r#"
global: {{resolve_timeout: 5m}}
feedback: {{retention: 1h}}
teams:
  - {{name: ops, channels: [ops-hook]}}
  - {{name: payments, channels: [payments-hook]}}
channels:
  - name: ops-hook
    webhook: {{url: "{receiver}/ops"}}
  - name: payments-hook
    webhook: {{url: "{receiver}/payments", format: clarion}}
route:
  receiver: ops
  group_by: [alertname, instance]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  routes:
    - matchers: ['team="payments"']
      receiver: payments
      group_by: [alertname]
      repeat_interval: 1h
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [alertname, instance]
"#
    )
}

impl Soak {
    async fn start(receiver: &str) -> TestResult<Soak> {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("clarion.db");
        let store = clarion_store::open(&format!("sqlite://{}", db.display())).await?;
        let clock = Clock::system();
        let config = Config::parse(&config(receiver), "soak.yml")?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr: SocketAddr = listener.local_addr()?;
        let state = AppState::start(config, None, addr, store, clock.clone()).await?;
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(serve(listener, state.clone(), async move {
            let _ = stopped.await;
        }));
        Ok(Soak {
            state,
            clock,
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            db,
            shutdown,
            served,
            spent: Mutex::new([Duration::ZERO; 3]),
            _dir: dir,
        })
    }

    async fn stop(self) -> TestResult {
        let _ = self.shutdown.send(());
        self.served.await??;
        Ok(())
    }

    /// Moves the clock and does what real time would have done meanwhile: the workers' timers would have
    /// fired (they sleep in real time), and housekeeping runs every 30 simulated seconds as it does every
    /// 30 real seconds in production.
    async fn advance(&self, by: Duration) -> TestResult {
        self.clock.advance(by);
        self.state.wake_notifier();
        self.state.outbox().wake();
        self.state.wake_escalation();
        let started = Instant::now();
        housekeeping(&self.state).await?;
        self.spend(1, started);
        Ok(())
    }

    /// Waits until the workers have done everything due at the current (simulated) time: no aggregation
    /// group due, no delivery being sent, no pending delivery due. Moving the clock only then means that
    /// a jump never expires the lease of an attempt in flight. Not settling in time is a finding.
    async fn settle(&self) -> TestResult {
        let started = Instant::now();
        let deadline = started + SETTLE_TIMEOUT;
        loop {
            let now = self.clock.now();
            let group_due = self.state.memory().next_due().is_some_and(|at| at <= now);
            let store = self.state.store();
            let sending = store.list_deliveries(Some(DeliveryState::Sending), 1).await?.len();
            let pending = store.list_deliveries(Some(DeliveryState::Pending), 10_000).await?;
            let due = pending.iter().filter(|d| d.next_attempt_at <= now).count();
            if !group_due && sending == 0 && due == 0 {
                self.spend(2, started);
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the workers did not settle within {SETTLE_TIMEOUT:?} at {}: group due {group_due}, \
                     deliveries sending {sending}, pending and due {due}",
                    rfc3339(now)
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    fn spend(&self, what: usize, since: Instant) {
        if let Ok(mut spent) = self.spent.lock() {
            spent[what] += since.elapsed();
        }
    }

    async fn post_alerts(&self, alerts: &[Value]) -> TestResult {
        let started = Instant::now();
        let resp = self.http.post(format!("{}/api/v2/alerts", self.base)).json(alerts).send().await?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("POST /api/v2/alerts: {status}: {}", resp.text().await?).into());
        }
        self.spend(0, started);
        Ok(())
    }

    async fn get(&self, path: &str) -> TestResult<Value> {
        let resp = self.http.get(format!("{}{path}", self.base)).send().await?;
        let status = resp.status();
        let body = resp.text().await?;
        if !status.is_success() {
            return Err(format!("GET {path}: {status}: {body}").into());
        }
        Ok(serde_json::from_str(&body)?)
    }

    async fn get_array(&self, path: &str) -> TestResult<Vec<Value>> {
        match self.get(path).await? {
            Value::Array(items) => Ok(items),
            other => Err(format!("GET {path}: not an array: {other:.200}").into()),
        }
    }

    /// Creates a silence of `alertname` on `instance` from now for `minutes`; returns its id.
    async fn silence(&self, alertname: &str, instance: &str, now: Time, minutes: i64) -> TestResult<String> {
        let body = json!({
            "matchers": [
                {"name": "alertname", "value": alertname, "isRegex": false, "isEqual": true},
                {"name": "instance", "value": instance, "isRegex": false, "isEqual": true},
            ],
            "startsAt": rfc3339(now),
            "endsAt": rfc3339(now + chrono::Duration::minutes(minutes)),
            "createdBy": "soak",
            "comment": "maintenance window",
        });
        let resp = self.http.post(format!("{}/api/v2/silences", self.base)).json(&body).send().await?;
        let status = resp.status();
        let text = resp.text().await?;
        if !status.is_success() {
            return Err(format!("POST /api/v2/silences: {status}: {text}").into());
        }
        let answer: Value = serde_json::from_str(&text)?;
        Ok(answer["silenceID"].as_str().ok_or("no silenceID in the answer")?.to_string())
    }

    async fn expire_silence(&self, id: &str) -> TestResult {
        let resp = self.http.delete(format!("{}/api/v2/silence/{id}", self.base)).send().await?;
        if !resp.status().is_success() {
            return Err(format!("DELETE /api/v2/silence/{id}: {}", resp.status()).into());
        }
        Ok(())
    }

    /// Deliveries in `state`, as the API lists them (at most 10 000).
    async fn deliveries(&self, state: &str) -> TestResult<Vec<Value>> {
        self.get_array(&format!("/api/v1/deliveries?state={state}&limit=10000")).await
    }

    /// Deliveries delivered so far (`clarion_deliveries_total{outcome="sent"}`, every channel).
    async fn delivered_total(&self) -> TestResult<usize> {
        let text = self.http.get(format!("{}/metrics", self.base)).send().await?.text().await?;
        let mut total = 0;
        for line in
            text.lines().filter(|l| l.starts_with("clarion_deliveries_total{") && l.contains("outcome=\"sent\""))
        {
            let value = line.rsplit(' ').next().unwrap_or("");
            total += value.parse::<f64>().map_err(|_| format!("bad metric line {line:?}"))? as usize;
        }
        Ok(total)
    }

    /// Deletes delivered deliveries older than `DELIVERED_KEPT`, as housekeeping does after 7 days (see
    /// the module documentation); returns how many.
    async fn trim_delivered(&self, now: Time) -> TestResult<u64> {
        Ok(self.state.store().delete_delivered_before(now - DELIVERED_KEPT).await?)
    }

    /// One hourly sample.
    async fn sample(
        &self,
        hour: u32,
        population: &Population,
        receiver: &Receiver,
        real: Duration,
    ) -> TestResult<Sample> {
        let now = self.clock.now();
        let alerts = self.get_array("/api/v2/alerts").await?;
        let suppressed = alerts.iter().filter(|a| a["status"]["state"] == "suppressed").count();
        // Delivered deliveries are counted from the metrics: listing them would load every one kept.
        let deliveries = [
            self.deliveries("pending").await?.len(),
            self.deliveries("sending").await?.len(),
            self.delivered_total().await?,
            self.deliveries("dead").await?.len(),
        ];
        let trimmed = self.trim_delivered(now).await?;
        let pages = self.get_array("/api/v1/pages?limit=10000").await?;
        let open_pages = pages.iter().filter(|p| p["state"] != "resolved").count();
        let silences = self.state.memory().silence_counts(now).map(|(_, n)| n);
        let seen = receiver.seen()?;
        let (rss, anon, threads) = process_memory()?;
        let spent = self.spent.lock().map(|mut s| std::mem::replace(&mut *s, [Duration::ZERO; 3])).unwrap_or_default();
        Ok(Sample {
            hour,
            real,
            spent,
            rss,
            anon,
            threads,
            db: file_size(&self.db),
            wal: file_size(&PathBuf::from(format!("{}-wal", self.db.display()))),
            memory_alerts: self.state.memory().alert_count(),
            want_retained: population.retained_at(now),
            firing: alerts.len(),
            want_firing: population.firing_at(now),
            suppressed,
            nflog: self.state.memory().notification_log_len(),
            silences,
            deliveries,
            trimmed,
            pages: pages.len(),
            open_pages,
            ops: seen.delivered("/ops"),
            payments: seen.delivered("/payments"),
            refused: seen.refused,
            duplicates: seen.duplicates,
        })
    }
}

/// The process's resident memory from /proc/self/status (the server runs in this process): the whole
/// resident set, its anonymous part (the heap: what a leak grows), and the number of threads.
fn process_memory() -> TestResult<(u64, u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .ok_or(format!("no {name} in /proc/self/status"))
    };
    Ok((field("VmRSS:")? * 1024, field("RssAnon:")? * 1024, field("Threads:")?))
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

// --- the population -----------------------------------------------------------------------------------

/// splitmix64: a small seeded generator, so a run can be repeated exactly.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

/// One place in the population: which generation of its alert fires, since when.
#[derive(Debug, Clone, Copy)]
struct Slot {
    generation: u64,
    started: Time,
}

/// What Prometheus would be sending: one firing alert per slot, replaced now and then. It also keeps what
/// the server must hold: the `endsAt` of every alert it was sent (by label set), pruned once forgotten.
#[derive(Debug)]
struct Population {
    slots: Vec<Slot>,
    rng: Rng,
    /// Replaced alerts to send once more with `endsAt` = now: their slot and what the slot held.
    resolving: Vec<(usize, Slot)>,
    /// The `endsAt` the server holds for each alert sent, by label set.
    ends: HashMap<String, Time>,
}

/// Stable slots never change: their groups are only re-notified at the repeat interval.
fn is_stable(slot: usize) -> bool {
    slot % 15 == 7
}

/// Slot `10k + 1` is the warning twin of the critical slot `10k` (same alert name and instance, replaced
/// together): the inhibit rule mutes it while its twin fires.
fn twin_of(slot: usize) -> Option<usize> {
    (slot % 10 == 1).then(|| slot - 1)
}

/// The labels of `slot`'s alert in `generation`.
fn labels(slot: usize, generation: u64) -> BTreeMap<&'static str, String> {
    if is_stable(slot) {
        let team = if slot.is_multiple_of(2) { "payments" } else { "ops" };
        return BTreeMap::from([
            ("alertname", STABLE_NAME.to_string()),
            ("instance", format!("disk-{slot:03}")),
            ("severity", "warning".to_string()),
            ("team", team.to_string()),
            ("pod", format!("pod-{slot}")),
        ]);
    }
    let unit = twin_of(slot).unwrap_or(slot);
    let g = generation as usize;
    let severity = match slot % 10 {
        0 => "critical",
        1 => "warning",
        s if s.is_multiple_of(3) => "warning",
        _ => "info",
    };
    let team = if (unit / 10).is_multiple_of(2) { "payments" } else { "ops" };
    BTreeMap::from([
        ("alertname", NAMES[(unit * 7 + g * 3) % NAMES.len()].to_string()),
        ("instance", format!("host-{:02}", (unit * 11 + g * 5) % 40)),
        ("severity", severity.to_string()),
        ("team", team.to_string()),
        ("pod", format!("pod-{slot}-{generation}")),
    ])
}

fn label_key(labels: &BTreeMap<&'static str, String>) -> String {
    labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

impl Population {
    fn new(seed: u64, now: Time) -> Population {
        Population {
            slots: vec![Slot { generation: 0, started: now }; SLOTS],
            rng: Rng(seed),
            resolving: Vec::new(),
            ends: HashMap::new(),
        }
    }

    /// One simulated minute of churn: each churning slot (with its twin) is replaced with the hourly
    /// probability spread over the minutes.
    fn evolve(&mut self, now: Time) {
        let p = CHURN_PER_HOUR / 60.0;
        for slot in 0..SLOTS {
            if is_stable(slot) || twin_of(slot).is_some() || !self.rng.chance(p) {
                continue;
            }
            let twin = (slot.is_multiple_of(10) && slot + 1 < SLOTS).then_some(slot + 1);
            for s in std::iter::once(slot).chain(twin) {
                if self.rng.below(EXPLICIT_RESOLVE_ONE_IN) == 0 {
                    self.resolving.push((s, self.slots[s]));
                }
                self.slots[s] = Slot { generation: self.slots[s].generation + 1, started: now };
            }
        }
    }

    /// This minute's POST: every firing alert without `endsAt`, and the replaced alerts chosen to resolve
    /// explicitly with `endsAt` = now. Records what the server will hold.
    fn batch(&mut self, now: Time) -> Vec<Value> {
        let mut out = Vec::with_capacity(SLOTS + self.resolving.len());
        for (slot, s) in self.slots.iter().enumerate() {
            let labels = labels(slot, s.generation);
            self.ends.insert(label_key(&labels), now + RESOLVE_TIMEOUT);
            out.push(json!({
                "labels": labels,
                "annotations": annotations(&labels),
                "startsAt": rfc3339(s.started),
                "generatorURL": "http://prometheus.local/graph",
            }));
        }
        for (slot, old) in std::mem::take(&mut self.resolving) {
            let labels = labels(slot, old.generation);
            let key = label_key(&labels);
            // Resolving an alert that already resolved by timeout changes nothing (its own end is earlier).
            let end = self.ends.get(&key).map_or(now, |e| (*e).min(now));
            self.ends.insert(key, end);
            out.push(json!({
                "labels": labels,
                "annotations": annotations(&labels),
                "startsAt": rfc3339(old.started),
                "endsAt": rfc3339(now),
                "generatorURL": "http://prometheus.local/graph",
            }));
        }
        // What housekeeping has forgotten cannot matter any more.
        let horizon = now - RESOLVED_RETENTION - chrono::Duration::minutes(10);
        self.ends.retain(|_, end| *end > horizon);
        out
    }

    /// Alerts the server must list as not resolved at `now` (`GET /api/v2/alerts`).
    fn firing_at(&self, now: Time) -> usize {
        self.ends.values().filter(|end| **end > now).count()
    }

    /// Alerts the server must still hold at `now`: housekeeping forgets them an hour after they resolved.
    fn retained_at(&self, now: Time) -> usize {
        let cutoff = now - RESOLVED_RETENTION;
        self.ends.values().filter(|end| **end > cutoff).count()
    }

    /// A firing, churning alert's name and instance, to silence.
    fn pick_to_silence(&mut self) -> (String, String) {
        let churning: Vec<usize> = (0..SLOTS).filter(|s| !is_stable(*s)).collect();
        let slot = churning[self.rng.below(churning.len() as u64) as usize];
        let labels = labels(slot, self.slots[slot].generation);
        (labels["alertname"].clone(), labels["instance"].clone())
    }
}

fn annotations(labels: &BTreeMap<&'static str, String>) -> Value {
    json!({
        "summary": format!("{} on {}", labels["alertname"], labels["instance"]),
        "description": format!("{} has been firing on {} ({})", labels["alertname"], labels["instance"], labels["pod"]),
        "runbook_url": format!("https://runbooks.local/{}", labels["alertname"]),
    })
}

/// The operator: creates silences now and then, expires some early.
#[derive(Debug, Default)]
struct Operator {
    created: u64,
    /// Silences to expire early, with when.
    to_expire: Vec<(String, Time)>,
}

impl Operator {
    async fn act(&mut self, soak: &Soak, population: &mut Population, minute: u64, now: Time) -> TestResult {
        if minute % SILENCE_EVERY_MINUTES == 7 {
            let (alertname, instance) = population.pick_to_silence();
            let minutes = 10 + population.rng.below(36) as i64;
            let id = soak.silence(&alertname, &instance, now, minutes).await?;
            self.created += 1;
            if self.created.is_multiple_of(EXPIRE_EARLY_ONE_IN) {
                self.to_expire.push((id, now + chrono::Duration::minutes(5)));
            }
        }
        let (due, later): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.to_expire).into_iter().partition(|(_, at)| *at <= now);
        self.to_expire = later;
        for (id, _) in due {
            soak.expire_silence(&id).await?;
        }
        Ok(())
    }
}

// --- the receiver -------------------------------------------------------------------------------------

/// What the receiver has seen.
#[derive(Debug, Default, Clone)]
struct Seen {
    requests: usize,
    /// Requests answered 200, per path.
    delivered: BTreeMap<String, usize>,
    /// Notifications about the stable alerts answered 200, per path.
    stable: BTreeMap<String, usize>,
    refused: usize,
    /// Idempotency keys answered 200 again: a notification delivered twice.
    duplicates: usize,
    /// Keys answered 200 this hour and the hour before (rotated hourly, so the test's memory stays flat).
    keys: HashSet<String>,
    keys_before: HashSet<String>,
}

impl Seen {
    fn delivered(&self, path: &str) -> usize {
        self.delivered.get(path).copied().unwrap_or(0)
    }

    fn stable(&self, path: &str) -> usize {
        self.stable.get(path).copied().unwrap_or(0)
    }
}

/// A webhook receiver on 127.0.0.1: HTTP/1.1 with keep-alive, a thread per connection.
struct Receiver {
    url: String,
    port: u16,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
}

impl Receiver {
    fn start() -> TestResult<Receiver> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (accept_seen, accept_stop) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accept_stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let seen = accept_seen.clone();
                std::thread::spawn(move || serve_connection(stream, &seen));
            }
        });
        Ok(Receiver { url: format!("http://127.0.0.1:{port}"), port, seen, stop })
    }

    fn seen(&self) -> TestResult<Seen> {
        let seen = self.seen.lock().map_err(|_| "the receiver's lock is poisoned")?;
        Ok(Seen { keys: HashSet::new(), keys_before: HashSet::new(), ..seen.clone() })
    }

    fn rotate_keys(&self) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.keys_before = std::mem::take(&mut seen.keys);
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// One request as read off the connection.
struct Request {
    path: String,
    idempotency_key: Option<String>,
    body: Vec<u8>,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let path = line.split_whitespace().nth(1)?.to_string();
    let (mut length, mut idempotency_key) = (0, None);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().ok()?,
                "idempotency-key" => idempotency_key = Some(value.trim().to_string()),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request { path, idempotency_key, body })
}

fn serve_connection(stream: TcpStream, seen: &Mutex<Seen>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(120)));
    let Ok(mut writer) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader) {
        let status = record(seen, &request);
        let reason = if status == 200 { "OK" } else { "Service Unavailable" };
        let answer = format!("HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\n\r\n");
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// Counts a request and decides its answer: 200, or 503 for every `REFUSE_ONE_IN`th.
fn record(seen: &Mutex<Seen>, request: &Request) -> u16 {
    let Ok(mut seen) = seen.lock() else { return 500 };
    seen.requests += 1;
    if seen.requests.is_multiple_of(REFUSE_ONE_IN) {
        seen.refused += 1;
        return 503;
    }
    *seen.delivered.entry(request.path.clone()).or_default() += 1;
    let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    if body["groupLabels"]["alertname"] == STABLE_NAME {
        *seen.stable.entry(request.path.clone()).or_default() += 1;
    }
    if let Some(key) = &request.idempotency_key {
        if seen.keys.contains(key) || seen.keys_before.contains(key) {
            seen.duplicates += 1;
        } else {
            seen.keys.insert(key.clone());
        }
    }
    200
}

// --- samples and checks -------------------------------------------------------------------------------

/// What one simulated hour ended with.
#[derive(Debug, Clone)]
struct Sample {
    hour: u32,
    /// Real time the simulated hour took.
    real: Duration,
    /// Real time of the hour spent posting, housekeeping, settling.
    spent: [Duration; 3],
    rss: u64,
    anon: u64,
    threads: u64,
    db: u64,
    wal: u64,
    memory_alerts: usize,
    want_retained: usize,
    firing: usize,
    want_firing: usize,
    suppressed: usize,
    nflog: usize,
    /// Active, pending, expired.
    silences: [usize; 3],
    /// Pending, sending, delivered (ever), dead.
    deliveries: [usize; 4],
    /// Delivered deliveries the test deleted this hour (older than `DELIVERED_KEPT`).
    trimmed: u64,
    pages: usize,
    open_pages: usize,
    ops: usize,
    payments: usize,
    refused: usize,
    duplicates: usize,
}

impl Sample {
    fn store(&self) -> u64 {
        self.db + self.wal
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

impl std::fmt::Display for Sample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [pending, sending, delivered, dead] = self.deliveries;
        let [active, pending_silences, expired] = self.silences;
        write!(
            f,
            "hour {:2} ({:6.1}s: post {:4.1}s, housekeeping {:4.1}s, settle {:4.1}s) | rss {:5.1} MiB (anon {:5.1}, {} threads) | store {:5.2} MiB (db {:5.2} + wal {:5.2}) | alerts in memory {:4} \
             (want {:4}), firing {:3} (want {:3}, suppressed {:2}) | nflog {:3} | silences {}/{}/{} | deliveries \
             pending {} sending {} delivered {:5} dead {} (trimmed {:3}) | pages {:5} (open {:3}) | received ops {:5} payments {:5} \
             refused {:3} duplicates {}",
            self.hour,
            self.real.as_secs_f64(),
            self.spent[0].as_secs_f64(),
            self.spent[1].as_secs_f64(),
            self.spent[2].as_secs_f64(),
            mib(self.rss),
            mib(self.anon),
            self.threads,
            mib(self.store()),
            mib(self.db),
            mib(self.wal),
            self.memory_alerts,
            self.want_retained,
            self.firing,
            self.want_firing,
            self.suppressed,
            self.nflog,
            active,
            pending_silences,
            expired,
            pending,
            sending,
            delivered,
            dead,
            self.trimmed,
            self.pages,
            self.open_pages,
            self.ops,
            self.payments,
            self.refused,
            self.duplicates,
        )
    }
}

/// Every check of the run; returns the problems found.
async fn check(soak: &Soak, samples: &[Sample], receiver: &Receiver, hours: u32) -> TestResult<Vec<String>> {
    let mut problems = Vec::new();
    for s in samples {
        if s.memory_alerts != s.want_retained {
            problems.push(format!(
                "hour {}: {} alerts in memory, the population says {} (firing or resolved within an hour)",
                s.hour, s.memory_alerts, s.want_retained
            ));
        }
        if s.firing != s.want_firing {
            problems.push(format!(
                "hour {}: {} alerts listed, {} firing by the population",
                s.hour, s.firing, s.want_firing
            ));
        }
        if s.memory_alerts > 2 * SLOTS {
            problems
                .push(format!("hour {}: {} alerts in memory, more than twice the population", s.hour, s.memory_alerts));
        }
    }
    // Every hour, both teams heard something new (the first hour against nothing).
    let before = samples.first().map(|s| Sample { ops: 0, payments: 0, hour: 0, ..s.clone() });
    for pair in before.iter().chain(samples).collect::<Vec<_>>().windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if b.ops <= a.ops || b.payments <= a.payments {
            problems.push(format!(
                "hour {}: a team heard nothing (ops {} → {}, payments {} → {})",
                b.hour, a.ops, b.ops, a.payments, b.payments
            ));
        }
    }
    problems.extend(check_growth(samples, hours));
    problems.extend(check_deliveries(soak).await?);
    let seen = receiver.seen()?;
    if seen.duplicates > 0 {
        problems.push(format!("{} notifications were delivered twice (same Idempotency-Key)", seen.duplicates));
    }
    // Stable groups change never, so they are notified once and then at every repeat interval. The
    // repeat is checked at group_interval ticks: a group comes again within repeat + group_interval.
    let minutes = i64::from(hours) * 60;
    let payments_want = 1 + (minutes - 1) / (60 + 5);
    let ops_groups = (0..SLOTS).filter(|s| is_stable(*s) && s % 2 == 1).count() as i64;
    let ops_want = ops_groups * (1 + (minutes - 1) / (4 * 60 + 5));
    let (payments_got, ops_got) = (seen.stable("/payments") as i64, seen.stable("/ops") as i64);
    println!(
        "soak: stable groups notified: payments {payments_got} (want ≥ {payments_want}), ops {ops_got} (want ≥ {ops_want})"
    );
    if payments_got < payments_want || ops_got < ops_want {
        problems.push(format!(
            "stable groups were not re-notified at their repeat interval: payments {payments_got} (want ≥ \
             {payments_want}), ops {ops_got} (want ≥ {ops_want})"
        ));
    }
    Ok(problems)
}

/// RSS and store size must not grow once the run is past its warm-up.
///
/// Warm-up: for the first hour resolved alerts pile up until the first are an hour old and forgotten;
/// from then on the alert log holds about an hour of batches (a batch is deleted once none of its alerts
/// is current, and an alert no longer sent stays current for resolve_timeout + an hour); the first
/// trim of deliveries comes at hour 3; SQLite's page cache and the allocator's arenas fill. After that
/// every table the day touches is bounded or (pages, expired silences, notification-log entries) grows by
/// a few hundred small rows a day that fit in the pages freed by deletions, so:
///
/// - the heap (anonymous RSS: what a leak grows; file-backed RSS follows the binary and SQLite's shared
///   WAL index) and the database file, in the last 6 hours of a day, stay within 1.25 × their largest
///   value in hours 6 to 12, plus a slack (4 MiB of heap: allocator noise, the sample's own answers;
///   1 MiB of file: SQLite grows it in steps). A run shorter than 12 hours compares its last hour with
///   the one before, looser (1.5 ×: it may still be warming up); a one-hour run checks only counts.
/// - the WAL is not compared over time: its size is the high-water mark of the writes between two
///   checkpoints, which depends on how fast the compressed day runs (the checkpointer runs in real time).
///   It must stay within what `wal_autocheckpoint=10000` allows: 10 000 frames of 4 KiB plus the
///   transaction that crosses the threshold (`WAL_BOUND`).
fn check_growth(samples: &[Sample], hours: u32) -> Vec<String> {
    let mut problems = Vec::new();
    for s in samples.iter().filter(|s| s.wal > WAL_BOUND) {
        problems.push(format!(
            "the WAL is {:.1} MiB at hour {}, more than wal_autocheckpoint allows ({:.1} MiB)",
            mib(s.wal),
            s.hour,
            mib(WAL_BOUND)
        ));
    }
    let (baseline, tail, factor): (Vec<&Sample>, Vec<&Sample>, f64) = if hours >= 12 {
        (
            samples.iter().filter(|s| (6..=12).contains(&s.hour)).collect(),
            samples.iter().filter(|s| s.hour + 6 > hours).collect(),
            1.25,
        )
    } else if hours >= 2 {
        (
            samples.iter().filter(|s| s.hour + 1 == hours).collect(),
            samples.iter().filter(|s| s.hour == hours).collect(),
            1.5,
        )
    } else {
        return problems;
    };
    let measures: [(&str, fn(&Sample) -> u64, u64); 2] =
        [("the heap (anonymous RSS)", |s| s.anon, 4 << 20), ("the database file", |s| s.db, 1 << 20)];
    for (what, measure, slack) in measures {
        let base = baseline.iter().map(|s| measure(s)).max().unwrap_or(0);
        let bound = (base as f64 * factor) as u64 + slack;
        for s in &tail {
            if measure(s) > bound {
                problems.push(format!(
                    "{what} grew: {:.1} MiB at hour {}, bound {:.1} MiB ({factor} × {:.1} MiB + {:.0} MiB)",
                    mib(measure(s)),
                    s.hour,
                    mib(bound),
                    mib(base),
                    mib(slack)
                ));
            }
        }
    }
    problems
}

/// No delivery pending well past its time, none `sending` once the workers settled, none dead.
async fn check_deliveries(soak: &Soak) -> TestResult<Vec<String>> {
    let mut problems = Vec::new();
    let now = soak.clock.now();
    for d in soak.deliveries("pending").await? {
        let at = d["nextAttemptAt"].as_str().and_then(|t| DateTime::parse_from_rfc3339(t).ok());
        if at.is_none_or(|at| at.with_timezone(&Utc) < now - LATE) {
            problems.push(format!("delivery pending past its time: {d}"));
        }
    }
    for d in soak.deliveries("sending").await? {
        problems.push(format!("delivery left sending: {d}"));
    }
    for d in soak.deliveries("dead").await? {
        problems.push(format!("delivery dead although the receiver refuses only every {REFUSE_ONE_IN}th request: {d}"));
    }
    Ok(problems)
}
