//! `POST /api/v2/alerts`, `GET /api/v2/alerts`, `GET /api/v2/alerts/groups`.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use clarion_core::alert::{Alert, AlertError, PostedAlert};
use clarion_core::alerts::{matches_alert_filter, AlertStatus};
use clarion_core::dispatch::listing_groups;
use clarion_core::labels::LabelSet;
use clarion_core::notification::FindingNote;
use clarion_core::standard::Message;
use clarion_core::{Fingerprint, Matcher, Matchers, Timestamp};
use std::collections::HashMap;
use std::sync::{Arc, Weak};

use clarion_config::Config;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{
    check_storable, decode_json, format_time, parse_bool, parse_time, query_pairs, read_body, DecodeError, TimeError,
    TimeText,
};
use crate::auth::{Authorized, Ingest, Read};
use crate::error::AppError;
use crate::metrics::StatusLabel;
use crate::state::AppState;
use crate::suppression::{RouteMutes, Statuses};

/// One element of the posted array. Unknown fields are ignored, as Alertmanager does.
#[derive(Deserialize)]
struct PostableAlert {
    labels: Option<LabelSet>,
    #[serde(default)]
    annotations: Option<LabelSet>,
    #[serde(default, rename = "startsAt")]
    starts_at: Option<String>,
    #[serde(default, rename = "endsAt")]
    ends_at: Option<String>,
    #[serde(default, rename = "generatorURL")]
    generator_url: Option<String>,
}

/// What is wrong with one posted alert.
#[derive(Debug, thiserror::Error)]
enum InvalidAlert {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("labels is required")]
    NoLabels,
    #[error(transparent)]
    Time(#[from] TimeError),
    #[error(transparent)]
    Refused(#[from] AlertError),
}

/// Decodes one posted element into the domain's posted alert, or says what is wrong with it.
fn decode(item: &RawValue) -> Result<PostedAlert, InvalidAlert> {
    let wire: PostableAlert = decode_json(item.get(), false)?;
    let labels = wire.labels.ok_or(InvalidAlert::NoLabels)?;
    let starts_at = wire.starts_at.as_deref().map(|t| parse_time("startsAt", t)).transpose()?.flatten();
    let ends_at = wire.ends_at.as_deref().map(|t| parse_time("endsAt", t)).transpose()?.flatten();
    Ok(PostedAlert {
        labels,
        annotations: wire.annotations.unwrap_or_default(),
        starts_at,
        ends_at,
        generator_url: wire.generator_url.unwrap_or_default(),
    })
}

/// The pure part of `POST /api/v2/alerts`: splits the body into its elements and accepts each at `now`;
/// the valid alerts, and one message per invalid one (`alert 3 (DiskFull): …`). `Err` when the body is
/// not a JSON array at all. No I/O and no panic on any input (the fuzz harness checks).
pub fn decode_batch(
    bytes: &[u8],
    now: Timestamp,
    resolve_timeout: std::time::Duration,
) -> Result<(Vec<Alert>, Vec<String>), AppError> {
    // Split the array into its elements without building a tree; each element is decoded on its own so
    // one bad alert does not cost the others.
    let items: Vec<&RawValue> = match serde_json::from_slice(bytes) {
        Ok(items) => items,
        Err(e) if e.is_data() => return Err(AppError::BadRequest("the body must be a JSON array of alerts".into())),
        Err(e) if bytes.iter().all(u8::is_ascii_whitespace) => {
            return Err(AppError::BadRequest(format!("the body is empty: expected a JSON array of alerts ({e})")))
        }
        Err(e) => return Err(AppError::BadRequest(format!("the body is not valid JSON: {e}"))),
    };
    let mut valid = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let accepted = decode(item)
            .and_then(|p| Ok(Alert::accept(p, now, resolve_timeout)?))
            .and_then(|a| Ok(check_storable("endsAt", a.ends_at).map(|()| a)?));
        match accepted {
            Ok(alert) => valid.push(alert),
            Err(msg) => {
                // Name the alert when its labels say what it is.
                let name = serde_json::from_str::<serde_json::Value>(item.get())
                    .ok()
                    .and_then(|v| v.pointer("/labels/alertname").and_then(|n| n.as_str()).map(|n| format!(" ({n})")))
                    .unwrap_or_default();
                errors.push(format!("alert {index}{name}: {msg}"));
            }
        }
    }
    Ok((valid, errors))
}

/// `POST /api/v2/alerts`: accepts every valid alert of the batch (committed before the answer) and answers
/// 400 naming each invalid one, or 200 when all were valid.
pub async fn post(
    _: Authorized<Ingest>,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, AppError> {
    let coming = state.intake().expect();
    let bytes = read_body(&state, &headers, body).await?;
    let now = state.now();
    let (valid, errors) = decode_batch(&bytes, now, state.config().file.global.resolve_timeout.0)?;
    let metrics = state.metrics();
    for alert in &valid {
        let status = if alert.is_resolved_at(now) { "resolved" } else { "firing" };
        metrics.alerts_received.get_or_create(&StatusLabel { status }).inc();
    }
    metrics.alerts_invalid.inc_by(errors.len() as u64);
    state.intake().submit(coming, valid).await?;
    if errors.is_empty() {
        Ok(StatusCode::OK)
    } else {
        tracing::info!(invalid = errors.len(), first = %errors[0], "refused invalid alerts");
        Err(AppError::BadRequest(errors.join("; ")))
    }
}

/// One `filter` (or `receiver_matchers`) value: a list of matchers, braces optional.
pub(super) fn parse_filter(value: &str) -> Result<Vec<Matcher>, AppError> {
    Matchers::parse(value).map(|m| m.0).map_err(|e| AppError::BadRequest(e.to_string()))
}

/// Each team's labels as a receiver, by team name.
fn receiver_labels(config: &Config) -> HashMap<&str, LabelSet> {
    config.file.teams.iter().map(|t| (t.name.as_str(), t.labels.iter().collect())).collect()
}

/// The query of `GET /api/v2/alerts` and `/alerts/groups`.
struct AlertQuery {
    /// `muted` (Alertmanager 0.34, groups only): `false` leaves out groups whose alerts are all muted.
    muted: bool,
    active: bool,
    silenced: bool,
    inhibited: bool,
    filter: Matchers,
    receiver: Option<Regex>,
    /// `receiver_matchers` (Alertmanager 0.33+): an alert passes when one of its receivers' labels (the
    /// team's `labels`) satisfy every matcher.
    receiver_matchers: Matchers,
}

impl AlertQuery {
    fn parse(uri: &Uri) -> Result<AlertQuery, AppError> {
        let mut q = AlertQuery {
            muted: true,
            active: true,
            silenced: true,
            inhibited: true,
            filter: Matchers::default(),
            receiver: None,
            receiver_matchers: Matchers::default(),
        };
        for (key, value) in query_pairs(uri)? {
            match key.as_str() {
                "active" => q.active = parse_bool("active", &value, true)?,
                "silenced" => q.silenced = parse_bool("silenced", &value, true)?,
                "inhibited" => q.inhibited = parse_bool("inhibited", &value, true)?,
                "muted" => q.muted = parse_bool("muted", &value, true)?,
                // `unprocessed` is read (a value that is no boolean is a 400) and has no effect, as in
                // Alertmanager: Clarion processes alerts before answering the POST, so none is unprocessed.
                "unprocessed" => {
                    parse_bool("unprocessed", &value, true)?;
                }
                // Each value is a matcher, braces optional (`{"service.name"="checkout"}`), as
                // Alertmanager reads it; Clarion also takes several in one value, comma-separated.
                "filter" => q.filter.0.extend(parse_filter(&value)?),
                "receiver_matchers" => q.receiver_matchers.0.extend(parse_filter(&value)?),
                "receiver" if !value.is_empty() => {
                    let re = Regex::new(&format!("^(?:{value})$"))
                        .map_err(|e| AppError::BadRequest(format!("failed to parse receiver param: {e}")))?;
                    q.receiver = Some(re);
                }
                _ => {}
            }
        }
        Ok(q)
    }

    /// Does the query filter by receiver at all?
    fn filters_receivers(&self) -> bool {
        self.receiver.is_some() || !self.receiver_matchers.is_empty()
    }

    /// Does a receiver pass `receiver` and `receiver_matchers`? `labels` are the receivers' labels by name.
    fn admits_receiver(&self, name: &str, labels: &HashMap<&str, LabelSet>) -> bool {
        self.receiver.as_ref().is_none_or(|re| re.is_match(name))
            && (self.receiver_matchers.is_empty()
                || labels.get(name).is_some_and(|l| self.receiver_matchers.matches(l)))
    }

    /// Does an alert with this status pass the state flags?
    fn admits(&self, status: &AlertStatus) -> bool {
        (self.active || status.is_suppressed())
            && (self.silenced || status.silenced_by.is_empty())
            && (self.inhibited || status.inhibited_by.is_empty())
    }
}

#[derive(Serialize)]
struct ReceiverRef<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct StatusWire<'a> {
    #[serde(rename = "inhibitedBy")]
    inhibited_by: Vec<FingerprintWire>,
    #[serde(rename = "silencedBy")]
    silenced_by: &'a [String],
    /// Alertmanager 0.28+'s field: the time intervals holding back the alert's routes, and the planned
    /// events running on its service.
    #[serde(rename = "mutedBy")]
    muted_by: &'a [String],
    state: &'static str,
}

/// A fingerprint written straight into the answer (no string per alert).
struct FingerprintWire(Fingerprint);

impl Serialize for FingerprintWire {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// A time written straight into the answer, as [`format_time`] writes it.
struct TimeWire(Timestamp);

impl Serialize for TimeWire {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match TimeText::of(self.0) {
            Some(text) => s.serialize_str(text.as_str()),
            None => s.serialize_str(&format_time(self.0)),
        }
    }
}

#[derive(Serialize)]
struct GettableAlert<'a> {
    annotations: &'a LabelSet,
    #[serde(rename = "endsAt")]
    ends_at: TimeWire,
    fingerprint: FingerprintWire,
    receivers: Vec<ReceiverRef<'a>>,
    #[serde(rename = "startsAt")]
    starts_at: TimeWire,
    status: StatusWire<'a>,
    #[serde(rename = "updatedAt")]
    updated_at: TimeWire,
    #[serde(rename = "generatorURL", skip_serializing_if = "str::is_empty")]
    generator_url: &'a str,
    labels: &'a LabelSet,
    /// Clarion's addition: where the alert falls short of the communication standard (amtool ignores it).
    findings: FindingsRef<'a>,
}

/// An alert's findings as a listing writes them: borrowed from the alert's memo, or held for this read
/// when the memo was just filled or holds findings worked out under another configuration.
enum FindingsRef<'a> {
    Kept(&'a RawValue),
    Fresh(Arc<KeptFindings>),
}

impl FindingsRef<'_> {
    fn raw(&self) -> &RawValue {
        match self {
            FindingsRef::Kept(raw) => raw,
            FindingsRef::Fresh(kept) => &kept.encoded,
        }
    }
}

impl Serialize for FindingsRef<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.raw().serialize(s)
    }
}

/// What an alert's [`Memo`](clarion_core::alert::Memo) keeps: its encoded findings, the owner they were
/// checked with, and the configuration (its standard) they were checked under. Shared by the alerts whose
/// findings read the same, so a memo costs a pointer per alert, not a copy of the findings.
struct KeptFindings {
    config: Weak<Config>,
    team: Option<Box<str>>,
    encoded: Box<RawValue>,
}

impl KeptFindings {
    /// Whether these findings hold for an alert owned by `team` under `config`. The `Weak` keeps the old
    /// configuration's allocation alive, so a new configuration can never sit at the same address.
    fn hold_for(&self, config: &Arc<Config>, team: Option<&str>) -> bool {
        std::ptr::eq(self.config.as_ptr(), Arc::as_ptr(config)) && self.team.as_deref() == team
    }
}

/// The findings of the alerts of one read. An alert's findings are checked once per alert version and
/// configuration and kept in its memo; a later read writes them without looking at the alert's text.
/// Within one read, alerts whose message reads the same (alerts of one rule whose annotations do not name
/// the instance) are checked once, and equal findings share one [`KeptFindings`]. Each map holds at most
/// [`Findings::CAPACITY`] entries, so its memory does not grow with the answer.
struct Findings<'c> {
    config: &'c Arc<Config>,
    by_message: foldhash::HashMap<Message, Arc<KeptFindings>>,
    /// Per owner (a handful), the kept findings by what they say.
    by_findings: Vec<(Option<Box<str>>, foldhash::HashMap<Vec<FindingNote>, Arc<KeptFindings>>)>,
    /// Entries of `by_findings`, over all owners.
    findings: usize,
}

impl<'c> Findings<'c> {
    const CAPACITY: usize = 10_000;

    fn new(config: &'c Arc<Config>) -> Findings<'c> {
        Findings { config, by_message: Default::default(), by_findings: Vec::new(), findings: 0 }
    }

    /// `alert`'s findings; `team` is the team it falls back to as its owner.
    fn of<'a>(&mut self, alert: &'a Alert, team: Option<&str>) -> FindingsRef<'a> {
        match alert.memo.get::<KeptFindings>() {
            Some(kept) if kept.hold_for(self.config, team) => FindingsRef::Kept(&kept.encoded),
            Some(_) => FindingsRef::Fresh(self.check(alert, team)),
            None => {
                let kept = self.check(alert, team);
                alert.memo.keep(kept.clone());
                FindingsRef::Fresh(kept)
            }
        }
    }

    /// The standard's findings on `alert`, shared with earlier alerts of this read whose message or
    /// findings read the same.
    fn check(&mut self, alert: &Alert, team: Option<&str>) -> Arc<KeptFindings> {
        let message = Message::from_alert(&alert.labels, &alert.annotations, team);
        if let Some(kept) = self.by_message.get(&message) {
            return kept.clone();
        }
        let notes: Vec<FindingNote> = self.config.standard.check(&message).into_iter().map(Into::into).collect();
        let slot = match self.by_findings.iter().position(|(t, _)| t.as_deref() == team) {
            Some(slot) => slot,
            None => {
                self.by_findings.push((team.map(Box::from), Default::default()));
                self.by_findings.len() - 1
            }
        };
        // Equal findings are found before they are encoded: most alerts of a read share a few sets.
        let kept = match self.by_findings[slot].1.get(&notes) {
            Some(kept) => kept.clone(),
            None => {
                let encoded = serde_json::value::to_raw_value(&notes).unwrap_or_else(|e| {
                    tracing::error!(error = %e, "encoding findings failed");
                    RawValue::from_string("[]".into()).expect("`[]` is JSON")
                });
                let kept =
                    Arc::new(KeptFindings { config: Arc::downgrade(self.config), team: team.map(Box::from), encoded });
                if self.findings < Self::CAPACITY {
                    self.by_findings[slot].1.insert(notes, kept.clone());
                    self.findings += 1;
                }
                kept
            }
        };
        if self.by_message.len() < Self::CAPACITY {
            self.by_message.insert(message, kept.clone());
        }
        kept
    }
}

fn gettable<'a>(
    fp: Fingerprint,
    alert: &'a Alert,
    status: &'a AlertStatus,
    receivers: Vec<&'a str>,
    findings: &mut Findings<'_>,
) -> GettableAlert<'a> {
    GettableAlert {
        // The owner an alert falls back to is the team of its first route, as everywhere.
        findings: findings.of(alert, receivers.first().copied()),
        annotations: &alert.annotations,
        ends_at: TimeWire(alert.ends_at),
        fingerprint: FingerprintWire(fp),
        receivers: receivers.into_iter().map(|name| ReceiverRef { name }).collect(),
        starts_at: TimeWire(alert.starts_at),
        status: StatusWire {
            inhibited_by: status.inhibited_by.iter().copied().map(FingerprintWire).collect(),
            silenced_by: &status.silenced_by,
            muted_by: &status.muted_by,
            state: status.state_name(),
        },
        updated_at: TimeWire(alert.updated_at),
        generator_url: &alert.generator_url,
        labels: &alert.labels,
    }
}

/// `GET /api/v2/alerts`: alerts still shown (`Alert::ends_at` not passed) passing the filters, sorted by
/// fingerprint, streamed from a snapshot: a read of a million alerts holds up no POST.
pub async fn list(_: Authorized<Read>, State(state): State<AppState>, uri: Uri) -> Result<Response, AppError> {
    let q = AlertQuery::parse(&uri)?;
    let config = state.config();
    let now = state.now();
    let mut snapshot = state.memory().snapshot();
    let muted = crate::notices::muted_services(&state, &config, now);
    let route_mutes = RouteMutes::of(&state, &config, &snapshot.route, now);
    Ok(super::json_array_stream(move |out| {
        snapshot.alerts.sort_unstable_by_key(|(fp, _)| fp.0);
        let team_labels = receiver_labels(&config);
        let statuses = Statuses::of(&snapshot, muted, now);
        // Encoded by two threads, chunk by chunk, and written in order: the work per alert (routes,
        // status, findings, JSON) is what a listing of a million alerts costs, and it parallelises.
        let chunks: Vec<&[(Fingerprint, Arc<Alert>)]> = snapshot.alerts.chunks(LIST_CHUNK).collect();
        let encode = |chunk: &[(Fingerprint, Arc<Alert>)], findings: &mut Findings<'_>| -> Vec<u8> {
            let mut buf = Vec::new();
            for (fp, alert) in chunk {
                if alert.ends_at < now || !matches_alert_filter(&q.filter, &alert.labels) {
                    continue;
                }
                let routes = snapshot.route.matching(&alert.labels);
                let receivers: Vec<&str> = routes.iter().map(|r| r.opts.receiver.as_str()).collect();
                if q.filters_receivers() && !receivers.iter().any(|r| q.admits_receiver(r, &team_labels)) {
                    continue;
                }
                let mut status = statuses.status(&alert.labels);
                route_mutes.add_to(&mut status, &routes);
                if q.admits(&status) {
                    if !buf.is_empty() {
                        buf.push(b',');
                    }
                    let item = gettable(*fp, alert, &status, receivers, findings);
                    if let Err(e) = serde_json::to_writer(&mut buf, &item) {
                        tracing::error!(error = %e, "encoding an alert of a listing failed");
                    }
                }
            }
            buf
        };
        std::thread::scope(|scope| {
            // Worker w encodes chunks w, w + 2, …; each channel holds at most two chunks, so memory does
            // not grow with the answer. A worker stops when its receiver is gone (the client left).
            let mut receivers = Vec::new();
            for w in 0..LIST_THREADS {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
                let (chunks, encode, config) = (&chunks, &encode, &config);
                scope.spawn(move || {
                    let mut findings = Findings::new(config);
                    for chunk in chunks.iter().skip(w).step_by(LIST_THREADS) {
                        if tx.send(encode(chunk, &mut findings)).is_err() {
                            return;
                        }
                    }
                });
                receivers.push(rx);
            }
            for i in 0..chunks.len() {
                let Ok(encoded) = receivers[i % LIST_THREADS].recv() else { return };
                if !out.push_encoded(&encoded) {
                    return;
                }
            }
        });
    }))
}

/// Alerts a listing encodes per chunk, and the threads that encode them.
const LIST_CHUNK: usize = 2_048;
const LIST_THREADS: usize = 2;

#[derive(Serialize)]
struct AlertGroup<'a> {
    alerts: Vec<GettableAlert<'a>>,
    labels: LabelSet,
    /// Alertmanager 0.34's field: the labels of the route the group belongs to.
    #[serde(rename = "routeLabels")]
    route_labels: &'a LabelSet,
    receiver: ReceiverRef<'a>,
}

/// `GET /api/v2/alerts/groups`: alerts grouped as the route tree groups them (`dispatch::listing_groups`),
/// streamed from a snapshot like `GET /api/v2/alerts`.
pub async fn groups(_: Authorized<Read>, State(state): State<AppState>, uri: Uri) -> Result<Response, AppError> {
    let q = AlertQuery::parse(&uri)?;
    let config = state.config();
    let now = state.now();
    let snapshot = state.memory().snapshot();
    let muted = crate::notices::muted_services(&state, &config, now);
    let route_mutes = RouteMutes::of(&state, &config, &snapshot.route, now);
    Ok(super::json_array_stream(move |out| {
        let statuses = Statuses::of(&snapshot, muted, now);
        let mut findings = Findings::new(&config);
        // Each alert's status without the time intervals of its routes, which differ per group: the
        // listing's filters see them all first (an alert muted in any of its groups may be listed), and
        // each group's own in the group.
        let by_fp: clarion_core::labels::FingerprintMap<(&Alert, AlertStatus)> = snapshot
            .alerts
            .iter()
            .filter(|(_, a)| a.ends_at >= now && matches_alert_filter(&q.filter, &a.labels))
            .filter_map(|(fp, a)| {
                let base = statuses.status(&a.labels);
                let mut status = base.clone();
                route_mutes.add_to(&mut status, &snapshot.route.matching(&a.labels));
                q.admits(&status).then_some((*fp, (&**a, base)))
            })
            .collect();
        let team_labels = receiver_labels(&config);
        let keep = |route: &clarion_core::route::Route| q.admits_receiver(&route.opts.receiver, &team_labels);
        let admitted = by_fp.iter().map(|(fp, (a, _))| (*fp, &a.labels));
        let (groups, receivers_of) = listing_groups(&snapshot.route, admitted, keep);
        for g in groups {
            let members: Vec<(Fingerprint, &Alert, AlertStatus)> = g
                .members
                .iter()
                .filter_map(|(fp, _)| {
                    let (alert, base) = by_fp.get(fp)?;
                    let mut status = base.clone();
                    route_mutes.add_to(&mut status, &[g.route]);
                    q.admits(&status).then_some((*fp, *alert, status))
                })
                .collect();
            if members.is_empty() || (!q.muted && members.iter().all(|(_, _, s)| s.is_suppressed())) {
                continue;
            }
            let alerts = members
                .iter()
                .map(|(fp, alert, status)| {
                    let receivers = receivers_of.get(fp).cloned().unwrap_or_default();
                    gettable(*fp, alert, status, receivers, &mut findings)
                })
                .collect::<Vec<GettableAlert<'_>>>();
            let group = AlertGroup {
                alerts,
                labels: g.labels,
                route_labels: &g.route.opts.labels,
                receiver: ReceiverRef { name: &g.route.opts.receiver },
            };
            if !out.push(&group) {
                return;
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use clarion_core::alert::{Alert, PostedAlert};

    use std::sync::Arc;

    use clarion_config::Config;

    use super::{Findings, FindingsRef, KeptFindings};

    fn alert(labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> Result<Alert, Box<dyn std::error::Error>> {
        let pairs = |p: &[(&str, &str)]| p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let posted = PostedAlert {
            labels: pairs(labels),
            annotations: pairs(annotations),
            starts_at: None,
            ends_at: None,
            generator_url: String::new(),
        };
        Ok(Alert::accept(posted, chrono::Utc::now(), std::time::Duration::from_secs(300))?)
    }

    /// Cached or not, and kept in the alert's memo or not, an alert's findings are exactly what the
    /// standard of the configuration read with says of it, for the owner it is read with.
    #[test]
    fn findings_are_the_standards_whether_cached_or_not() -> Result<(), Box<dyn std::error::Error>> {
        let alerts = [
            alert(&[("alertname", "A"), ("instance", "h1")], &[("summary", "Disk full")])?,
            alert(&[("alertname", "A"), ("instance", "h2")], &[("summary", "Disk full")])?,
            alert(&[("alertname", "A"), ("instance", "h3")], &[("summary", "Disk full on h3")])?,
            alert(&[("alertname", "B"), ("severity", "critical")], &[("runbook_url", "https://r.example/b")])?,
            alert(&[("alertname", "A"), ("instance", "h1")], &[("summary", "Disk full")])?,
            alert(&[("alertname", "C"), ("severity", "critical")], &[("runbook_url", "https://r.example/c")])?,
        ];
        let first = Arc::new(Config::example());
        // A reload that changes the standard: a summary of 5 characters at most.
        let text = format!("{}\nstandard:\n  summary_max_chars: 5\n", clarion_config::EXAMPLE_CONFIG);
        let second = Arc::new(Config::parse(&text, "test")?);
        for config in [&first, &second] {
            // The first read under a configuration checks and keeps; later ones read the memos.
            for read in 0..3 {
                let mut findings = Findings::new(config);
                for team in [None, Some("ops")] {
                    for a in &alerts {
                        let want = serde_json::to_string(&config.standard.alert_findings(a, team))?;
                        let got = findings.of(a, team);
                        assert_eq!(got.raw().get(), want, "{a:?} {team:?}");
                        let from_memo = matches!(got, FindingsRef::Kept(_));
                        // Only the first configuration's memos are kept: an alert keeps one memo.
                        let kept = Arc::ptr_eq(config, &first) && read > 0 && team.is_none();
                        assert_eq!(from_memo, kept, "read {read} {a:?} {team:?}");
                    }
                }
            }
        }
        let mut findings = Findings::new(&second);
        for a in &alerts {
            findings.of(a, None);
        }
        assert_eq!(findings.by_message.len(), 4, "equal messages share one entry");
        assert_eq!(
            findings.findings,
            3,
            "equal findings share one entry: {:?}",
            findings.by_findings.iter().map(|(_, m)| m.keys().collect::<Vec<_>>()).collect::<Vec<_>>()
        );
        assert!(alerts.iter().all(|a| a.memo.get::<KeptFindings>().is_some()), "every alert keeps its findings");
        Ok(())
    }
}
