//! Every metric Clarion exports, and the request-timing middleware. `GET /metrics` is `api::metrics`.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use clarion_core::Timestamp;
use parking_lot::Mutex;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::clock::Stopwatch;
use crate::state::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    pub status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    pub state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FindingLabels {
    pub alertname: String,
    pub rule: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChannelLabel {
    pub channel: String,
}

/// `outcome` is `sent`, `failed`, `retried` or `dead`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabels {
    pub channel: String,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TeamLabel {
    pub team: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AlertNameLabel {
    pub alertname: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FeedbackLabels {
    pub team: String,
    pub verdict: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EscalationLabels {
    pub team: String,
    /// 1-based.
    pub tier: u64,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub handler: String,
    pub method: String,
    pub code: u16,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.1 ms to ~1.6 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 15))
}

fn delivery_histogram() -> Histogram {
    // 1 ms to ~9 h: deliveries can wait for retries.
    Histogram::new(exponential_buckets(0.001, 3.0, 16))
}

/// How stale the standard-findings gauges may be.
const STANDARD_REFRESH: chrono::Duration = chrono::Duration::seconds(30);

/// Every metric Clarion exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub alerts_received: Family<StatusLabel, Counter>,
    pub alerts_invalid: Counter,
    pub alerts_active: Gauge,
    pub silences: Family<StateLabel, Gauge>,
    pub requests: HistogramFamily<RequestLabels>,
    pub store_commit_seconds: Histogram,
    pub intake_batch_alerts: Histogram,
    pub config_reloads: Family<OutcomeLabel, Counter>,
    pub deliveries: Family<DeliveryLabels, Counter>,
    pub standard_findings: Family<FindingLabels, Gauge>,
    /// When `standard_findings` was last recomputed.
    standard_refreshed: Mutex<Option<Timestamp>>,
    pub delivery_attempt_seconds: HistogramFamily<ChannelLabel>,
    pub delivery_latency_seconds: HistogramFamily<ChannelLabel>,
    pub pages_opened: Family<TeamLabel, Counter>,
    pub escalations: Family<EscalationLabels, Counter>,
    pub page_time_to_acknowledge_seconds: HistogramFamily<TeamLabel>,
    pub page_time_to_resolve_seconds: HistogramFamily<TeamLabel>,
    /// The feedback loop's headline figures: firings and transient firings per alert name, pages that
    /// resolved with nobody acknowledging, feedback by verdict, alerts the flap guard holds.
    pub alert_firings: Family<AlertNameLabel, Counter>,
    pub alert_transient: Family<AlertNameLabel, Counter>,
    pub pages_resolved_unacknowledged: Family<TeamLabel, Counter>,
    pub feedback: Family<FeedbackLabels, Counter>,
    pub alerts_flapping: Gauge,
    /// `reason` is `idle`, `header_timeout`, `stalled` (an answer the client stopped reading) or
    /// `over_limit`.
    pub connections_closed: Family<ReasonLabel, Counter>,
    /// `reason` is `address` or `token`.
    pub requests_limited: Family<ReasonLabel, Counter>,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("clarion");
        let alerts_received = Family::<StatusLabel, Counter>::default();
        registry.register("alerts_received", "Alerts received, by status at receipt", alerts_received.clone());
        let alerts_invalid = Counter::default();
        registry.register("alerts_invalid", "Alerts refused as invalid", alerts_invalid.clone());
        let alerts_active = Gauge::default();
        registry.register("alerts_active", "Alerts currently firing", alerts_active.clone());
        let silences = Family::<StateLabel, Gauge>::default();
        registry.register("silences", "Silences by state", silences.clone());
        let requests = HistogramFamily::<RequestLabels>::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register("http_request_duration_seconds", "HTTP request latency", requests.clone());
        let store_commit_seconds = latency_histogram();
        registry.register(
            "store_commit_duration_seconds",
            "Time to durably commit one intake batch",
            store_commit_seconds.clone(),
        );
        let intake_batch_alerts = Histogram::new(exponential_buckets(1.0, 4.0, 8));
        registry.register(
            "intake_batch_alerts",
            "Alerts committed per intake transaction",
            intake_batch_alerts.clone(),
        );
        let config_reloads = Family::<OutcomeLabel, Counter>::default();
        registry.register("config_reloads", "Configuration reloads by outcome", config_reloads.clone());
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "deliveries",
            "Delivery attempts by channel and outcome (sent, failed, retried, dead)",
            deliveries.clone(),
        );
        let delivery_attempt_seconds =
            HistogramFamily::<ChannelLabel>::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register(
            "delivery_attempt_duration_seconds",
            "Time one delivery attempt took",
            delivery_attempt_seconds.clone(),
        );
        let delivery_latency_seconds =
            HistogramFamily::<ChannelLabel>::new_with_constructor(delivery_histogram as fn() -> Histogram);
        registry.register(
            "delivery_latency_seconds",
            "Time from a notification entering the outbox to its delivery",
            delivery_latency_seconds.clone(),
        );
        let standard_findings = Family::<FindingLabels, Gauge>::default();
        registry.register(
            "standard_findings",
            "Firing alerts that fall short of the communication standard, by alert name and rule",
            standard_findings.clone(),
        );
        let pages_opened = Family::<TeamLabel, Counter>::default();
        registry.register("pages_opened", "Pages opened, by team", pages_opened.clone());
        let alert_firings = Family::<AlertNameLabel, Counter>::default();
        registry.register("alert_firings", "Firings (episodes) of alerts, by alert name", alert_firings.clone());
        let alert_transient = Family::<AlertNameLabel, Counter>::default();
        registry.register(
            "alert_transient_firings",
            "Firings that ended within feedback.transient of their start, by alert name",
            alert_transient.clone(),
        );
        let pages_resolved_unacknowledged = Family::<TeamLabel, Counter>::default();
        registry.register(
            "pages_resolved_unacknowledged",
            "Pages that resolved with nobody acknowledging them, by team",
            pages_resolved_unacknowledged.clone(),
        );
        let feedback = Family::<FeedbackLabels, Counter>::default();
        registry.register("feedback", "Feedback given on pages, by team and verdict", feedback.clone());
        let alerts_flapping = Gauge::default();
        registry.register(
            "alerts_flapping",
            "Alerts the flapping rule holds (the flap guard holds their firings on routes with flap_guard)",
            alerts_flapping.clone(),
        );
        let escalations = Family::<EscalationLabels, Counter>::default();
        registry.register("escalations", "Escalation tiers notified, by team and tier", escalations.clone());
        let page_time_to_acknowledge_seconds =
            HistogramFamily::<TeamLabel>::new_with_constructor(delivery_histogram as fn() -> Histogram);
        registry.register(
            "page_time_to_acknowledge_seconds",
            "Time from a page opening to its first acknowledgement, by team",
            page_time_to_acknowledge_seconds.clone(),
        );
        let page_time_to_resolve_seconds =
            HistogramFamily::<TeamLabel>::new_with_constructor(delivery_histogram as fn() -> Histogram);
        registry.register(
            "page_time_to_resolve_seconds",
            "Time from a page opening to its resolution, by team",
            page_time_to_resolve_seconds.clone(),
        );
        let connections_closed = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "http_connections_closed",
            "Connections the server closed: idle, header_timeout (a request head too slow), stalled (an answer not read), over_limit",
            connections_closed.clone(),
        );
        let requests_limited = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "http_requests_rate_limited",
            "Requests answered 429, by the limit they hit (address, token)",
            requests_limited.clone(),
        );
        Metrics {
            registry,
            connections_closed,
            requests_limited,
            pages_opened,
            escalations,
            page_time_to_acknowledge_seconds,
            page_time_to_resolve_seconds,
            alert_firings,
            alert_transient,
            pages_resolved_unacknowledged,
            feedback,
            alerts_flapping,
            deliveries,
            standard_findings,
            standard_refreshed: Mutex::new(None),
            delivery_attempt_seconds,
            delivery_latency_seconds,
            alerts_received,
            alerts_invalid,
            alerts_active,
            silences,
            requests,
            store_commit_seconds,
            intake_batch_alerts,
            config_reloads,
        }
    }
}

impl Metrics {
    /// Whether the standard-findings gauges are due for a refresh at `now` (they are linear in the firing
    /// alerts, so they are recomputed at most every 30 s, not at every scrape); claims the refresh if so.
    pub fn standard_refresh_due(&self, now: Timestamp) -> bool {
        let mut last = self.standard_refreshed.lock();
        let due = last.is_none_or(|t| now - t >= STANDARD_REFRESH || now < t);
        if due {
            *last = Some(now);
        }
        due
    }

    /// The text exposition of every metric.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut body = String::new();
        prometheus_client::encoding::text::encode(&mut body, &self.registry)?;
        Ok(body)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Middleware recording every request's latency by route pattern, method and status.
pub async fn track_requests(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let handler =
        req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = req.method().to_string();
    let stopwatch = Stopwatch::start();
    let resp = next.run(req).await;
    let labels = RequestLabels { handler, method, code: resp.status().as_u16() };
    state.metrics().requests.get_or_create(&labels).observe(stopwatch.elapsed().as_secs_f64());
    resp
}
