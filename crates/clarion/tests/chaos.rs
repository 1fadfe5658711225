//! Chaos on PostgreSQL: three `clarion serve` instances share one schema and one webhook channel while a
//! loader posts alerts to them round-robin and a killer SIGKILLs one instance at random every 2–4 s and
//! restarts it on the same port.
//!
//! The invariant: **every alert acknowledged with a 2xx is notified.** Each alert has a name of its own,
//! so each is its own group and owes the receiver exactly one notification; once the killing stops and all
//! three instances run, every one of them must reach the sink (lost = 0). Duplicates (delivery is at least
//! once across SIGKILL), late notifications and latencies are measured and printed, not asserted.
//!
//! `CLARION_CHAOS_SECONDS` (default 20) sets how long the chaos lasts and `CLARION_CHAOS_SEED` the kill
//! schedule; `scripts/chaos` runs a long release build and keeps the figures. Without a reachable
//! PostgreSQL the test says so and passes, unless `CLARION_REQUIRE_POSTGRES` is set.

mod util;

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use util::sink::Sink;
use util::{blocking_request, PgSchema, Server, TestResult};

const INSTANCES: usize = 3;
const DEFAULT_SECONDS: u64 = 20;
const DEFAULT_SEED: u64 = 20_240_917;
/// Alerts in one POST, each with a name (and so a group) of its own.
const ALERTS_PER_BATCH: usize = 3;
/// The loader's pace: one batch this often, to the next instance in turn.
const BATCH_EVERY: Duration = Duration::from_millis(20);
/// Time between one kill (and restart) and the next, in milliseconds.
const KILL_EVERY_MS: Range<u64> = 2_000..4_000;
/// Time a killed instance stays down before it is restarted, in milliseconds.
const DOWN_MS: Range<u64> = 0..500;
/// Longest wait, once the killing stopped, for every accepted alert to be notified: leases left by a
/// killed instance expire after the channel timeout (1 s) + 30 s, with room to spare.
const DRAIN: Duration = Duration::from_secs(120);
/// A notification that reaches the sink later than this after its alert was accepted is late.
const LATE: Duration = Duration::from_secs(30);
/// Far in the future (but before 2200): no alert resolves during the test.
const ENDS_AT: &str = "2100-01-01T00:00:00Z";
/// Prefix of the figures printed (and kept by `scripts/chaos`).
const FIGURE: &str = "chaos: ";

/// Each instance: one team, one webhook channel to the sink, one group per alert name notified at once,
/// the shared PostgreSQL schema, and no rate limit (the loader is one address).
fn instance_config(sink_url: &str, storage_url: &str) -> String {
    format!(
        "teams:
  - name: ops
    channels: [hook]
channels:
  - name: hook
    webhook: {{url: '{sink_url}/hook', timeout: 1s}}
route:
  receiver: ops
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
storage: {{url: '{storage_url}'}}
limits: {{requests_per_second_per_address: 0}}
"
    )
}

/// The test's knobs, from the environment.
#[derive(Debug)]
struct Settings {
    chaos: Duration,
    seed: u64,
}

fn settings() -> TestResult<Settings> {
    let number = |name: &str, default: u64| -> TestResult<u64> {
        match std::env::var(name) {
            Ok(v) => v.trim().parse().map_err(|e| format!("{name}={v:?}: {e}").into()),
            Err(_) => Ok(default),
        }
    };
    Ok(Settings {
        chaos: Duration::from_secs(number("CLARION_CHAOS_SECONDS", DEFAULT_SECONDS)?),
        seed: number("CLARION_CHAOS_SEED", DEFAULT_SEED)?,
    })
}

/// The base URL `PgSchema` connects to.
fn postgres_base_url() -> String {
    std::env::var("CLARION_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Whether something accepts TCP connections at the host and port of a `postgres://` URL. A URL this
/// cannot read (a Unix socket, say) counts as reachable, and creating the schema decides.
fn postgres_reachable(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host_port = rest.split(['/', '?']).next().unwrap_or("");
    let host_port = host_port.rsplit_once('@').map_or(host_port, |(_, h)| h);
    let address = if host_port.contains(':') { host_port.to_string() } else { format!("{host_port}:5432") };
    let Ok(mut addresses) = std::net::ToSocketAddrs::to_socket_addrs(&address) else { return true };
    addresses.any(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok())
}

/// The schema the instances share, or `None` (after saying why) when PostgreSQL is not reachable and
/// `CLARION_REQUIRE_POSTGRES` is not set.
fn shared_schema() -> TestResult<Option<PgSchema>> {
    let base = postgres_base_url();
    if !postgres_reachable(&base) && std::env::var_os("CLARION_REQUIRE_POSTGRES").is_none() {
        println!("{FIGURE}skipped: PostgreSQL is not reachable at {base} (set CLARION_REQUIRE_POSTGRES to fail)");
        return Ok(None);
    }
    Ok(Some(PgSchema::create("chaos")?))
}

/// SplitMix64: a small seeded generator, so a run's kill schedule can be replayed.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn in_range(&mut self, range: Range<u64>) -> u64 {
        range.start + self.next() % (range.end - range.start).max(1)
    }
}

/// What the loader got: when each accepted alert (by name) was answered 200, and how many posts were not.
#[derive(Debug, Default)]
struct Load {
    accepted: HashMap<String, Instant>,
    failed_posts: usize,
}

/// Posts a batch of new alerts every `BATCH_EVERY`, to the instances in turn, until `stop` is set. An
/// alert counts as accepted only when its POST was answered 200; a refused connection (the instance is
/// down), an error or a kill in the middle of the request does not count.
fn run_loader(urls: Vec<String>, stop: Arc<AtomicBool>) -> Load {
    let mut load = Load::default();
    let mut next = Instant::now();
    let mut batch = 0usize;
    while !stop.load(Ordering::SeqCst) {
        let names: Vec<String> = (0..ALERTS_PER_BATCH).map(|i| format!("Chaos{batch:07}x{i}")).collect();
        let body: Vec<Value> = names
            .iter()
            .map(|name| {
                json!({"labels": {"alertname": name, "instance": "chaos"},
                       "annotations": {"summary": format!("chaos alert {name}")},
                       "endsAt": ENDS_AT})
            })
            .collect();
        let url = &urls[batch % urls.len()];
        let answer = blocking_request(
            "POST",
            &format!("{url}/api/v2/alerts"),
            Some(&Value::from(body).to_string()),
            &[("Content-Type", "application/json")],
        );
        match answer {
            Ok((200, _)) => {
                let at = Instant::now();
                load.accepted.extend(names.into_iter().map(|n| (n, at)));
            }
            _ => load.failed_posts += 1,
        }
        batch += 1;
        next += BATCH_EVERY;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            next = now; // Fell behind (a slow answer): carry on at the pace, without a burst.
        }
    }
    load
}

/// Sets the flag when dropped, so the loader stops on every way out of the test.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Kills a random instance with SIGKILL every 2–4 s and restarts it on the same port, for `chaos`;
/// returns how many kills there were.
fn run_killer(servers: &mut [Server], rng: &mut Rng, chaos: Duration) -> TestResult<usize> {
    let deadline = Instant::now() + chaos;
    let mut kills = 0;
    loop {
        std::thread::sleep(Duration::from_millis(rng.in_range(KILL_EVERY_MS)));
        if Instant::now() >= deadline {
            return Ok(kills);
        }
        let index = rng.in_range(0..servers.len() as u64) as usize;
        let server = servers.get_mut(index).ok_or("no such instance")?;
        server.kill9()?;
        kills += 1;
        std::thread::sleep(Duration::from_millis(rng.in_range(DOWN_MS)));
        server.restart().map_err(|e| format!("restarting instance {index} after kill {kills}: {e}"))?;
    }
}

/// What the sink has seen so far, read incrementally: the first 200-answered request for each alert
/// name, and the idempotency keys (a key seen before makes a duplicate).
#[derive(Debug, Default)]
struct Deliveries {
    read: usize,
    first: HashMap<String, Instant>,
    keys: HashSet<String>,
    duplicates: usize,
    without_key: usize,
}

impl Deliveries {
    fn update(&mut self, sink: &Sink) -> TestResult {
        let received = sink.received();
        for request in received.get(self.read..).unwrap_or_default() {
            match request.header("idempotency-key") {
                Some(key) if !self.keys.insert(key.to_string()) => self.duplicates += 1,
                Some(_) => {}
                None => self.without_key += 1,
            }
            if request.answered != 200 {
                continue;
            }
            let payload = request.json()?;
            let alerts = payload["alerts"].as_array().ok_or_else(|| format!("no alerts in {payload}"))?;
            for alert in alerts {
                let name = alert["labels"]["alertname"].as_str().ok_or_else(|| format!("no alertname in {alert}"))?;
                let first = self.first.entry(name.to_string()).or_insert(request.at);
                *first = (*first).min(request.at);
            }
        }
        self.read = received.len();
        Ok(())
    }

    /// Accepted alerts whose group has not reached the sink yet, sorted.
    fn missing(&self, load: &Load) -> Vec<String> {
        let mut missing: Vec<String> = load.accepted.keys().filter(|n| !self.first.contains_key(*n)).cloned().collect();
        missing.sort();
        missing
    }
}

/// Polls the sink until every accepted alert was notified or `timeout` passed; returns how long it took.
fn wait_for_every_group(sink: &Sink, load: &Load, seen: &mut Deliveries, timeout: Duration) -> TestResult<Duration> {
    let started = Instant::now();
    loop {
        seen.update(sink)?;
        if seen.missing(load).is_empty() || started.elapsed() > timeout {
            return Ok(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Deliveries in `state` in the shared outbox (asked of any instance: they all read the one store).
fn outbox_count(server: &Server, state: &str) -> TestResult<usize> {
    let url = format!("{}/api/v1/deliveries?state={state}&limit=10000", server.url);
    let (status, body) = blocking_request("GET", &url, None, &[])?;
    if status != 200 {
        return Err(format!("GET {url}: {status} {body}").into());
    }
    Ok(serde_json::from_str::<Vec<Value>>(&body)?.len())
}

/// Waits (up to `timeout`) until nothing in the outbox is pending or being sent, so every resend a kill
/// caused has reached the sink before duplicates are counted.
fn wait_for_settled_outbox(server: &Server, timeout: Duration) -> TestResult {
    util::eventually(timeout, "an outbox with nothing pending or sending", || {
        Ok((outbox_count(server, "pending")? == 0 && outbox_count(server, "sending")? == 0).then_some(()))
    })
}

/// The `p`-th percentile (nearest rank) of sorted durations.
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * sorted.len()).div_ceil(100).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The figures of one run.
#[derive(Debug)]
struct Figures {
    seed: u64,
    chaos: Duration,
    kills: usize,
    accepted: usize,
    expected: usize,
    delivered: usize,
    lost: usize,
    duplicates: usize,
    late: usize,
    p50: Duration,
    p99: Duration,
    failed_posts: usize,
    unacknowledged_delivered: usize,
    drain: Duration,
    dead: usize,
}

fn figures(settings: &Settings, kills: usize, load: &Load, seen: &Deliveries, drain: Duration, dead: usize) -> Figures {
    let mut latencies: Vec<Duration> = load
        .accepted
        .iter()
        .filter_map(|(name, accepted)| seen.first.get(name).map(|first| first.saturating_duration_since(*accepted)))
        .collect();
    latencies.sort();
    let expected = load.accepted.len();
    Figures {
        seed: settings.seed,
        chaos: settings.chaos,
        kills,
        accepted: load.accepted.len(),
        expected,
        delivered: latencies.len(),
        lost: expected - latencies.len(),
        duplicates: seen.duplicates,
        late: latencies.iter().filter(|l| **l > LATE).count(),
        p50: percentile(&latencies, 50),
        p99: percentile(&latencies, 99),
        failed_posts: load.failed_posts,
        unacknowledged_delivered: seen.first.keys().filter(|n| !load.accepted.contains_key(*n)).count(),
        drain,
        dead,
    }
}

impl Figures {
    /// One line per figure, label padded so the values line up.
    fn lines(&self) -> Vec<String> {
        let ms = |d: Duration| format!("{} ms", d.as_millis());
        [
            ("duration", format!("{} s", self.chaos.as_secs())),
            ("kills", self.kills.to_string()),
            ("alerts accepted (2xx)", self.accepted.to_string()),
            ("notifications expected", self.expected.to_string()),
            ("delivered", self.delivered.to_string()),
            ("lost", self.lost.to_string()),
            ("duplicates", self.duplicates.to_string()),
            ("late (> 30 s)", self.late.to_string()),
            ("latency p50", ms(self.p50)),
            ("latency p99", ms(self.p99)),
            ("seed", self.seed.to_string()),
            ("posts without a 2xx", self.failed_posts.to_string()),
            ("delivered without a 2xx", self.unacknowledged_delivered.to_string()),
            ("dead deliveries", self.dead.to_string()),
            ("drain after the chaos", format!("{:.1} s", self.drain.as_secs_f64())),
        ]
        .into_iter()
        .map(|(label, value)| format!("{FIGURE}{label:<26}{value}"))
        .collect()
    }
}

/// The last `n` lines of each instance's log that mention an error or a warning, for a failure message.
fn log_problems(servers: &[Server], n: usize) -> String {
    servers
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let log = s.log();
            let lines: Vec<&str> = log.lines().filter(|l| l.contains("ERROR") || l.contains("WARN")).collect();
            format!("instance {i} ({}):\n{}", s.url, lines[lines.len().saturating_sub(n)..].join("\n"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_accepted_alert_is_notified_while_instances_are_killed_at_random() -> TestResult {
    let settings = settings()?;
    let Some(schema) = shared_schema()? else { return Ok(()) };
    let sink = Sink::start()?;
    let config = instance_config(&sink.url, &schema.url());
    let mut servers = (0..INSTANCES).map(|_| Server::start(Some(&config))).collect::<TestResult<Vec<Server>>>()?;

    let stop = Arc::new(AtomicBool::new(false));
    let urls: Vec<String> = servers.iter().map(|s| s.url.clone()).collect();
    let loader = {
        let stop = stop.clone();
        std::thread::spawn(move || run_loader(urls, stop))
    };
    let stopper = StopOnDrop(stop);
    let kills = run_killer(&mut servers, &mut Rng(settings.seed), settings.chaos)?;
    drop(stopper);
    let load = loader.join().map_err(|_| "the loader panicked")?;

    let mut seen = Deliveries::default();
    let drain = wait_for_every_group(&sink, &load, &mut seen, DRAIN)?;
    let missing = seen.missing(&load);
    if missing.is_empty() {
        wait_for_settled_outbox(&servers[0], DRAIN.saturating_sub(drain))?;
        seen.update(&sink)?;
    }
    let dead = outbox_count(&servers[0], "dead")?;
    let figures = figures(&settings, kills, &load, &seen, drain, dead);
    for line in figures.lines() {
        println!("{line}");
    }

    assert!(load.accepted.len() > 100, "the loader barely got through: {figures:?}");
    assert_eq!(seen.without_key, 0, "every webhook request carries an idempotency key");
    assert!(
        missing.is_empty(),
        "{} of {} accepted alerts were never notified, e.g. {:?}; outbox: {:?} pending, {:?} sending, {dead} dead\n{}",
        missing.len(),
        load.accepted.len(),
        &missing[..missing.len().min(10)],
        outbox_count(&servers[0], "pending"),
        outbox_count(&servers[0], "sending"),
        log_problems(&servers, 20)
    );
    Ok(())
}
