//! The scenarios of the benchmark, each run on a fresh server of each kind.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::load::{bodies, post_all, quantile_ms, Layout};
use crate::procfs::{clock_ticks, cpu_time, rss_bytes};
use crate::report::{Better, Machine, Report};
use crate::servers::{start, Kind, Running, Setup};
use crate::sink::Sink;
use crate::Args;

/// Longest a single load may take before the scenario is reported as not finished.
const LOAD_DEADLINE: Duration = Duration::from_secs(900);

struct Ctx {
    args: Args,
    kinds: Vec<Kind>,
    sink: Sink,
    ticks: u64,
    report: Report,
    run: u64,
}

impl Ctx {
    fn binary(&self, kind: Kind) -> &std::path::Path {
        match kind {
            Kind::Clarion => &self.args.clarion,
            Kind::Alertmanager => &self.args.alertmanager,
        }
    }

    fn next_run(&mut self) -> String {
        self.run += 1;
        format!("r{}", self.run)
    }

    fn scaled(&self, n: u64) -> u64 {
        (n / self.args.scale_down.max(1)).max(1)
    }

    async fn start(&self, kind: Kind) -> anyhow::Result<Running> {
        start(kind, self.binary(kind), &self.sink.url, Setup::default()).await
    }

    async fn start_with(&self, kind: Kind, setup: Setup) -> anyhow::Result<Running> {
        start(kind, self.binary(kind), &self.sink.url, setup).await
    }

    /// Values of both kinds for one metric, `None` where a kind did not run or did not finish.
    fn pair<T>(&self, results: &[(Kind, Option<T>)], f: impl Fn(&T) -> f64) -> (Option<f64>, Option<f64>) {
        let get = |k: Kind| results.iter().find(|(kind, _)| *kind == k).and_then(|(_, r)| r.as_ref()).map(&f);
        (get(Kind::Clarion), get(Kind::Alertmanager))
    }
}

fn far_future() -> String {
    (chrono::Utc::now() + chrono::Duration::hours(6)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub async fn run_all(mut args: Args) -> anyhow::Result<()> {
    if !args.clarion.exists() {
        bail!("{} not found: build it first with `cargo build --release -p clarion`", args.clarion.display());
    }
    // The servers run in their own directories.
    args.clarion = std::fs::canonicalize(&args.clarion)?;
    let mut kinds = vec![Kind::Clarion];
    if args.clarion_only {
        println!("note: --clarion-only; Alertmanager columns stay empty");
    } else if args.alertmanager.exists() {
        kinds.push(Kind::Alertmanager);
    } else {
        println!(
            "note: {} not found; Alertmanager columns stay empty (apt-get install prometheus-alertmanager)",
            args.alertmanager.display()
        );
    }
    let sink = Sink::start().await?;
    let report = Report { machine: Machine::describe(args.scale_down), rows: Vec::new() };
    println!(
        "machine: {} × {} cores, {} GiB, commit {}",
        report.machine.cpu, report.machine.cores, report.machine.memory_gib, report.machine.git_commit
    );
    let json = args.json.clone();
    let mut ctx = Ctx { args, kinds, sink, ticks: clock_ticks(), report, run: 0 };
    let wants = |name: &str, ctx: &Ctx| ctx.args.only.is_empty() || ctx.args.only.iter().any(|o| o == name);
    if wants("ingest", &ctx) {
        ingest(&mut ctx).await?;
    }
    if wants("e2e", &ctx) {
        end_to_end(&mut ctx).await?;
    }
    if wants("memory", &ctx) {
        memory(&mut ctx).await?;
    }
    if wants("resend", &ctx) {
        resend(&mut ctx).await?;
    }
    if wants("real", &ctx) {
        real_configuration(&mut ctx).await?;
    }
    if wants("growth", &ctx) {
        growth(&mut ctx).await?;
    }
    if wants("read", &ctx) {
        reads_during_writes(&mut ctx).await?;
    }
    if wants("pages", &ctx) {
        pages(&mut ctx).await?;
    }
    ctx.report.print();
    ctx.report.write_json(&json)
}

struct IngestResult {
    alerts_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    cpu_per_1000: f64,
}

async fn ingest(ctx: &mut Ctx) -> anyhow::Result<()> {
    let total = ctx.scaled(100_000);
    for layout in [Layout::Groups(100), Layout::Distinct] {
        for concurrency in [1usize, 2, 4] {
            let mut results = Vec::new();
            for kind in ctx.kinds.clone() {
                let run = ctx.next_run();
                let server = ctx.start(kind).await?;
                let payload = bodies(&run, 0, total, 100, layout, &far_future());
                let cpu0 = cpu_time(server.pid(), ctx.ticks);
                let result = match post_all(&server.url, payload, concurrency, LOAD_DEADLINE).await {
                    Ok(mut posted) if posted.failures == 0 => {
                        let cpu = cpu_time(server.pid(), ctx.ticks) - cpu0;
                        Some(IngestResult {
                            alerts_per_sec: total as f64 / posted.wall.as_secs_f64(),
                            p50_ms: quantile_ms(&mut posted.latencies, 0.5),
                            p99_ms: quantile_ms(&mut posted.latencies, 0.99),
                            cpu_per_1000: cpu.as_secs_f64() / total as f64 * 1000.0,
                        })
                    }
                    Ok(posted) => {
                        println!("{} ingest: {} failed requests", kind.name(), posted.failures);
                        None
                    }
                    Err(e) => {
                        println!("{} ingest: {e}", kind.name());
                        None
                    }
                };
                results.push((kind, result));
            }
            let scenario = format!("ingest {total} alerts, {}, c={concurrency}", layout.name());
            let (c, a) = ctx.pair(&results, |r| r.alerts_per_sec);
            ctx.report.add(
                &scenario,
                "throughput",
                "alerts/s",
                c,
                a,
                Better::Higher,
                ">= 2x",
                "every 2xx committed durably",
            );
            let (c, a) = ctx.pair(&results, |r| r.p50_ms);
            ctx.report.add(&scenario, "request p50", "ms", c, a, Better::Lower, "", "");
            let (c, a) = ctx.pair(&results, |r| r.p99_ms);
            ctx.report.add(&scenario, "request p99", "ms", c, a, Better::Lower, "", "");
            let (c, a) = ctx.pair(&results, |r| r.cpu_per_1000);
            ctx.report.add(&scenario, "server CPU", "s/1000 alerts", c, a, Better::Lower, "", "during the load");
        }
    }
    Ok(())
}

struct Latency {
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

/// Posts `groups` new groups, `per_request` alerts per request, `rate` alerts per second, and measures
/// from each POST's start to the first arrival of its alerts at the sink.
async fn paced(ctx: &mut Ctx, kind: Kind, groups: u64, per_request: u64, rate: u64) -> anyhow::Result<Option<Latency>> {
    let run = ctx.next_run();
    let server = ctx.start(kind).await?;
    let client = crate::load::client()?;
    let url = format!("{}/api/v2/alerts", server.url);
    let interval = Duration::from_secs_f64(per_request as f64 / rate as f64);
    let started = Instant::now();
    let mut sent_at = std::collections::HashMap::new();
    let mut tasks = Vec::new();
    let ends = far_future();
    for r in 0..groups.div_ceil(per_request) {
        let due = started + interval.mul_f64(r as f64);
        tokio::time::sleep_until(due.into()).await;
        let ids: Vec<u64> = (r * per_request..((r + 1) * per_request).min(groups)).collect();
        let body = format!(
            "[{}]",
            ids.iter().map(|n| crate::load::alert(&run, *n, Layout::Distinct, &ends)).collect::<Vec<_>>().join(",")
        );
        let t0 = Instant::now();
        for id in &ids {
            sent_at.insert(id.to_string(), t0);
        }
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .map(|r| r.status().is_success())
        }));
    }
    for t in tasks {
        if !matches!(t.await?, Ok(true)) {
            println!("{}: a paced request failed", kind.name());
            return Ok(None);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let arrivals = loop {
        let a = ctx.sink.arrivals(kind.name());
        let mine = sent_at.keys().filter(|id| a.contains_key(*id)).count();
        if mine == sent_at.len() {
            break a;
        }
        if Instant::now() > deadline {
            println!("{}: only {mine} of {} alerts arrived within 120 s", kind.name(), sent_at.len());
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut latencies: Vec<Duration> =
        sent_at.iter().filter_map(|(id, t0)| arrivals.get(id).map(|t| t.saturating_duration_since(*t0))).collect();
    let max_ms = latencies.iter().max().map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0);
    drop(server);
    Ok(Some(Latency { p50_ms: quantile_ms(&mut latencies, 0.5), p99_ms: quantile_ms(&mut latencies, 0.99), max_ms }))
}

async fn end_to_end(ctx: &mut Ctx) -> anyhow::Result<()> {
    let groups = ctx.scaled(2000);
    for (per_request, rate, target) in [(1u64, 200u64, "p99 <= 1x"), (10, 1000, "p99 <= 0.5x")] {
        let mut results = Vec::new();
        for kind in ctx.kinds.clone() {
            ctx.sink.reset();
            let r = paced(ctx, kind, groups, per_request, rate).await?;
            results.push((kind, r));
        }
        let scenario = format!("end-to-end {groups} new groups, {per_request}/request at {rate}/s");
        let (c, a) = ctx.pair(&results, |r| r.p50_ms);
        ctx.report.add(&scenario, "POST to webhook p50", "ms", c, a, Better::Lower, "", "");
        let (c, a) = ctx.pair(&results, |r| r.p99_ms);
        ctx.report.add(&scenario, "POST to webhook p99", "ms", c, a, Better::Lower, target, "");
        let (c, a) = ctx.pair(&results, |r| r.max_ms);
        ctx.report.add(&scenario, "POST to webhook max", "ms", c, a, Better::Lower, "", "");
    }
    Ok(())
}

/// Waits until the sink's notification count for `kind` has not changed for `quiet`, at most `limit`.
async fn settle(sink: &Sink, kind: Kind, quiet: Duration, limit: Duration) -> bool {
    let started = Instant::now();
    let mut last = (sink.notifications(kind.name()), Instant::now());
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = sink.notifications(kind.name());
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() >= quiet {
            return true;
        }
        if started.elapsed() > limit {
            return false;
        }
    }
}

async fn memory(ctx: &mut Ctx) -> anyhow::Result<()> {
    let mut sizes = vec![ctx.scaled(100_000)];
    if !ctx.args.no_million {
        sizes.push(ctx.scaled(1_000_000));
    }
    for total in sizes {
        for layout in [Layout::Groups(1000), Layout::Distinct] {
            let mut results = Vec::new();
            for kind in ctx.kinds.clone() {
                let run = ctx.next_run();
                let server = ctx.start(kind).await?;
                tokio::time::sleep(Duration::from_secs(1)).await;
                let baseline = rss_bytes(server.pid());
                let payload = bodies(&run, 0, total, 100, layout, &far_future());
                let loaded = post_all(&server.url, payload, 4, LOAD_DEADLINE).await;
                let settled = settle(&ctx.sink, kind, Duration::from_secs(3), Duration::from_secs(600)).await;
                let rss = rss_bytes(server.pid());
                let per_alert = match loaded {
                    Ok(p) if p.failures == 0 && settled => Some((rss.saturating_sub(baseline)) as f64 / total as f64),
                    Ok(_) | Err(_) => {
                        println!("{} memory {total} {}: load or delivery did not finish", kind.name(), layout.name());
                        None
                    }
                };
                results.push((kind, per_alert.map(|b| (b, rss))));
            }
            let scenario = format!("memory {total} active alerts, {}", layout.name());
            let (c, a) = ctx.pair(&results, |r| r.0);
            ctx.report.add(&scenario, "RSS per alert", "bytes", c, a, Better::Lower, "<= 0.2x", "RSS growth / alerts");
            let (c, a) = ctx.pair(&results, |r| r.1 as f64 / 1_048_576.0);
            ctx.report.add(&scenario, "RSS", "MiB", c, a, Better::Lower, "", "");
        }
    }
    Ok(())
}

async fn resend(ctx: &mut Ctx) -> anyhow::Result<()> {
    let total = ctx.scaled(10_000);
    let rounds = 4u32;
    let period = Duration::from_secs(15);
    let mut results = Vec::new();
    for kind in ctx.kinds.clone() {
        let run = ctx.next_run();
        let server = ctx.start(kind).await?;
        let starts = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut cpu_rounds = Vec::new();
        let mut after_first = 0;
        for round in 0..rounds {
            let round_start = Instant::now();
            // As Prometheus does: the same startsAt, endsAt a few resend periods ahead.
            let ends = (chrono::Utc::now() + chrono::Duration::seconds(60))
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let payload: Vec<String> = bodies(&run, 0, total, 100, Layout::Groups(100), &ends)
                .into_iter()
                .map(|b| b.replace("\"endsAt\"", &format!("\"startsAt\":\"{starts}\",\"endsAt\"")))
                .collect();
            let cpu0 = cpu_time(server.pid(), ctx.ticks);
            post_all(&server.url, payload, 1, LOAD_DEADLINE).await.context("re-send round")?;
            if round == 0 {
                settle(&ctx.sink, kind, Duration::from_secs(2), Duration::from_secs(60)).await;
                after_first = ctx.sink.notifications(kind.name());
            }
            let remaining = period.saturating_sub(round_start.elapsed());
            tokio::time::sleep(remaining).await;
            if round > 0 {
                cpu_rounds.push(cpu_time(server.pid(), ctx.ticks) - cpu0);
            }
        }
        let renotified = ctx.sink.notifications(kind.name()) - after_first;
        let cpu = cpu_rounds.iter().map(Duration::as_secs_f64).sum::<f64>() / cpu_rounds.len().max(1) as f64;
        results.push((kind, Some((cpu, renotified as f64))));
    }
    let scenario = format!("prometheus re-send {total} alerts every 15 s");
    let (c, a) = ctx.pair(&results, |r| r.0);
    ctx.report.add(&scenario, "CPU per round", "s", c, a, Better::Lower, "", "rounds 2..4, whole period");
    let (c, a) = ctx.pair(&results, |r| r.1);
    ctx.report.add(&scenario, "re-notifications", "count", c, a, Better::Lower, "0", "");
    Ok(())
}

/// Posts `payload` with `concurrency` clients to `server` and measures it.
async fn measure(
    server: &Running,
    payload: Vec<String>,
    alerts: u64,
    concurrency: usize,
    ticks: u64,
) -> Option<IngestResult> {
    let cpu0 = cpu_time(server.pid(), ticks);
    match post_all(&server.url, payload, concurrency, LOAD_DEADLINE).await {
        Ok(mut posted) if posted.failures == 0 => {
            let cpu = cpu_time(server.pid(), ticks) - cpu0;
            Some(IngestResult {
                alerts_per_sec: alerts as f64 / posted.wall.as_secs_f64(),
                p50_ms: quantile_ms(&mut posted.latencies, 0.5),
                p99_ms: quantile_ms(&mut posted.latencies, 0.99),
                cpu_per_1000: cpu.as_secs_f64() / alerts as f64 * 1000.0,
            })
        }
        Ok(posted) => {
            println!("ingest: {} failed requests", posted.failures);
            None
        }
        Err(e) => {
            println!("ingest: {e}");
            None
        }
    }
}

/// Creates `n` silences, silence `k` on `instance="host-{k * 100}"`: one alert each in the distinct layout.
async fn silences(url: &str, n: u64) -> anyhow::Result<()> {
    let client = crate::load::client()?;
    let now = chrono::Utc::now();
    let (starts, ends) = (
        now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        (now + chrono::Duration::hours(6)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    );
    for k in 0..n {
        let body = serde_json::json!({
            "matchers": [
                {"name": "alertname", "value": "BenchAlert", "isRegex": false, "isEqual": true},
                {"name": "instance", "value": format!("host-{}", k * 100), "isRegex": false, "isEqual": true},
            ],
            "startsAt": starts, "endsAt": ends, "createdBy": "clarion-bench", "comment": "bench",
        });
        let resp = client.post(format!("{url}/api/v2/silences")).json(&body).send().await?;
        if !resp.status().is_success() {
            bail!("creating a silence: {}", resp.status());
        }
    }
    Ok(())
}

/// Ingest with what real configurations have: the built-in example's inhibit rule on both layouts, 1,000
/// active silences, a 47-route tree with regex matchers and `continue`.
async fn real_configuration(ctx: &mut Ctx) -> anyhow::Result<()> {
    let total = ctx.scaled(100_000);
    let inhibit = Setup { inhibit: true, route_tree: false };
    let tree = Setup { inhibit: false, route_tree: true };
    let cases: [(Setup, Layout, u64, &str); 4] = [
        (inhibit, Layout::Groups(100), 0, "example inhibit rule"),
        (inhibit, Layout::Distinct, 0, "example inhibit rule"),
        (inhibit, Layout::Distinct, 1000, "example inhibit rule, 1,000 active silences"),
        (tree, Layout::Groups(100), 0, "47-route tree"),
    ];
    for (setup, layout, silence_count, what) in cases {
        let mut results = Vec::new();
        for kind in ctx.kinds.clone() {
            let run = ctx.next_run();
            let server = ctx.start_with(kind, setup).await?;
            silences(&server.url, silence_count).await?;
            let payload = bodies(&run, 0, total, 100, layout, &far_future());
            let r = measure(&server, payload, total, 4, ctx.ticks).await;
            results.push((kind, r));
        }
        let scenario = format!("ingest {total} alerts, {}, c=4, {what}", layout.name());
        let (c, a) = ctx.pair(&results, |r| r.alerts_per_sec);
        ctx.report.add(&scenario, "throughput", "alerts/s", c, a, Better::Higher, ">= 2x", "");
        let (c, a) = ctx.pair(&results, |r| r.p99_ms);
        ctx.report.add(&scenario, "request p99", "ms", c, a, Better::Lower, "", "");
        let (c, a) = ctx.pair(&results, |r| r.cpu_per_1000);
        ctx.report.add(&scenario, "server CPU", "s/1000 alerts", c, a, Better::Lower, "", "during the load");
    }
    Ok(())
}

/// Ingest in ten rounds of 100,000 new alerts, up to 1,000,000 active, with the example inhibit rule: the
/// figure of each round, to show whether a server slows down as alerts pile up.
async fn growth(ctx: &mut Ctx) -> anyhow::Result<()> {
    let per_round = ctx.scaled(100_000);
    let rounds = if ctx.args.no_million { 3 } else { 10 };
    let layout = Layout::Groups(1000);
    let mut per_kind: Vec<(Kind, Vec<Option<IngestResult>>)> = Vec::new();
    for kind in ctx.kinds.clone() {
        let run = ctx.next_run();
        let server = ctx.start_with(kind, Setup { inhibit: true, route_tree: false }).await?;
        let mut rows = Vec::new();
        for round in 0..rounds {
            let payload = bodies(&run, round * per_round, per_round, 100, layout, &far_future());
            rows.push(measure(&server, payload, per_round, 4, ctx.ticks).await);
        }
        per_kind.push((kind, rows));
    }
    for round in 0..rounds as usize {
        let results: Vec<(Kind, Option<IngestResult>)> =
            per_kind.iter_mut().map(|(k, rows)| (*k, rows.get_mut(round).and_then(Option::take))).collect();
        let active = round as u64 * per_round;
        let scenario = format!(
            "growth: round {} of {per_round}, {active} active before, 1000 groups, c=4, example inhibit rule",
            round + 1
        );
        let (c, a) = ctx.pair(&results, |r| r.alerts_per_sec);
        ctx.report.add(&scenario, "throughput", "alerts/s", c, a, Better::Higher, ">= 2x", "");
        let (c, a) = ctx.pair(&results, |r| r.p99_ms);
        ctx.report.add(&scenario, "request p99", "ms", c, a, Better::Lower, "", "");
    }
    Ok(())
}

struct ReadResult {
    seconds: f64,
    bytes: u64,
    rss_growth_mib: f64,
    post_p99_ms: f64,
    posts: usize,
    /// Time to the last byte of a second read made right after (a dashboard polling the list).
    again_seconds: f64,
}

/// Starts a fresh `kind` server with the example inhibit rule, loads `total` alerts over 1,000 groups,
/// lets its notifications settle and reads `path` once ([`read_once`]); `None`, said, when loading or
/// reading failed.
async fn load_and_read(ctx: &mut Ctx, kind: Kind, total: u64, path: &str) -> anyhow::Result<Option<ReadResult>> {
    let run = ctx.next_run();
    let server = ctx.start_with(kind, Setup { inhibit: true, route_tree: false }).await?;
    let payload = bodies(&run, 0, total, 1000, Layout::Groups(1000), &far_future());
    let loaded = post_all(&server.url, payload, 4, LOAD_DEADLINE).await;
    settle(&ctx.sink, kind, Duration::from_secs(2), Duration::from_secs(300)).await;
    Ok(match loaded {
        Ok(p) if p.failures == 0 => match read_once(&server, &run, path).await {
            Ok(r) => Some(r),
            Err(e) => {
                println!("{} GET {path} of {total}: {e}", kind.name());
                None
            }
        },
        _ => {
            println!("{} GET {path} of {total}: loading failed", kind.name());
            None
        }
    })
}

/// Reads `path` (the whole alert list, or a page) once, while one alert is posted every 10 ms; samples the
/// server's RSS.
async fn read_once(server: &Running, run: &str, path: &str) -> anyhow::Result<ReadResult> {
    let client = crate::load::client()?;
    let pid = server.pid();
    let baseline = rss_bytes(pid);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let peak = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut peak = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_bytes(pid));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            peak.max(rss_bytes(pid))
        })
    };
    let writer = {
        let (stop, client, url, run, ends) =
            (stop.clone(), client.clone(), server.url.clone(), run.to_string(), far_future());
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = 10_000_000u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let body = format!("[{}]", crate::load::alert(&run, n, Layout::Distinct, &ends));
                n += 1;
                let t0 = Instant::now();
                let ok = client
                    .post(format!("{url}/api/v2/alerts"))
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ok {
                    latencies.push(t0.elapsed());
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            latencies
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let mut resp = client.get(format!("{}{path}", server.url)).timeout(Duration::from_secs(900)).send().await?;
    anyhow::ensure!(resp.status().is_success(), "GET {path}: {}", resp.status());
    let mut bytes = 0u64;
    while let Some(chunk) = resp.chunk().await? {
        bytes += chunk.len() as u64;
    }
    let seconds = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut latencies = writer.await?;
    let peak = peak.await?;
    let again = Instant::now();
    let mut resp = client.get(format!("{}{path}", server.url)).timeout(Duration::from_secs(900)).send().await?;
    while resp.chunk().await?.is_some() {}
    Ok(ReadResult {
        seconds,
        bytes,
        rss_growth_mib: peak.saturating_sub(baseline) as f64 / 1_048_576.0,
        post_p99_ms: quantile_ms(&mut latencies, 0.99),
        posts: latencies.len(),
        again_seconds: again.elapsed().as_secs_f64(),
    })
}

/// `GET /api/v2/alerts` with 100,000 and 1,000,000 active alerts: time to the last byte, how much the
/// server's memory grows, and the p99 of single-alert POSTs made while it runs.
async fn reads_during_writes(ctx: &mut Ctx) -> anyhow::Result<()> {
    let mut sizes = vec![ctx.scaled(100_000)];
    if !ctx.args.no_million {
        sizes.push(ctx.scaled(1_000_000));
    }
    for total in sizes {
        let mut results = Vec::new();
        for kind in ctx.kinds.clone() {
            results.push((kind, load_and_read(ctx, kind, total, "/api/v2/alerts").await?));
        }
        let scenario = format!("GET /api/v2/alerts of {total} active alerts, POSTs during it");
        let target = if total >= 1_000_000 { "<= 3 s" } else { "" };
        let (c, a) = ctx.pair(&results, |r| r.seconds);
        ctx.report.add(&scenario, "time to last byte", "s", c, a, Better::Lower, target, "");
        let (c, a) = ctx.pair(&results, |r| r.again_seconds);
        ctx.report.add(&scenario, "time to last byte, a second read", "s", c, a, Better::Lower, target, "no POSTs");
        let (c, a) = ctx.pair(&results, |r| r.bytes as f64 / 1_048_576.0);
        ctx.report.add(&scenario, "answer size", "MiB", c, a, Better::Lower, "", "");
        let (c, a) = ctx.pair(&results, |r| r.rss_growth_mib);
        let rss_target = if total >= 1_000_000 { "<= 300 MiB" } else { "" };
        ctx.report.add(&scenario, "server RSS growth during the GET", "MiB", c, a, Better::Lower, rss_target, "");
        let (c, a) = ctx.pair(&results, |r| r.post_p99_ms);
        let post_target = if total >= 1_000_000 { "<= 50 ms" } else { "" };
        ctx.report.add(
            &scenario,
            "POST p99 during the GET",
            "ms",
            c,
            a,
            Better::Lower,
            post_target,
            "one alert every 10 ms",
        );
        let (c, a) = ctx.pair(&results, |r| r.posts as f64);
        ctx.report.add(&scenario, "POSTs during the GET", "count", c, a, Better::Higher, "", "");
    }
    Ok(())
}

/// The page an on-call engineer opens first, with 100,000 and 1,000,000 active alerts (the example inhibit
/// rule, 1,000 groups): Clarion's Now page (`GET /ui/`: every alert counted per team, held-back state and
/// standard findings of the 500 shown) beside what Alertmanager's own web UI loads for its alert list
/// (`GET /api/v2/alerts/groups`, every alert). Time to the last byte, a second read, the server's memory
/// growth, and the p99 of single-alert POSTs made while the page is read.
async fn pages(ctx: &mut Ctx) -> anyhow::Result<()> {
    let mut sizes = vec![ctx.scaled(100_000)];
    if !ctx.args.no_million {
        sizes.push(ctx.scaled(1_000_000));
    }
    for total in sizes {
        let mut results = Vec::new();
        for kind in ctx.kinds.clone() {
            let path = match kind {
                Kind::Clarion => "/ui/",
                Kind::Alertmanager => "/api/v2/alerts/groups",
            };
            results.push((kind, load_and_read(ctx, kind, total, path).await?));
        }
        let scenario =
            format!("Clarion GET /ui/ vs Alertmanager UI's GET /api/v2/alerts/groups, {total} active alerts");
        let (c, a) = ctx.pair(&results, |r| r.seconds);
        ctx.report.add(&scenario, "time to last byte", "s", c, a, Better::Lower, "", "POSTs during it");
        let (c, a) = ctx.pair(&results, |r| r.again_seconds);
        ctx.report.add(&scenario, "time to last byte, a second read", "s", c, a, Better::Lower, "", "no POSTs");
        let (c, a) = ctx.pair(&results, |r| r.bytes as f64 / 1_048_576.0);
        ctx.report.add(&scenario, "answer size", "MiB", c, a, Better::Lower, "", "");
        let (c, a) = ctx.pair(&results, |r| r.rss_growth_mib);
        ctx.report.add(&scenario, "server RSS growth during the GET", "MiB", c, a, Better::Lower, "", "");
        let (c, a) = ctx.pair(&results, |r| r.post_p99_ms);
        ctx.report.add(&scenario, "POST p99 during the GET", "ms", c, a, Better::Lower, "", "one alert every 10 ms");
    }
    Ok(())
}
