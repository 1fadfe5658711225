//! The feedback loop's server side: the history reports are made of, feedback on pages, and the reports.
//!
//! **History.** [`Recorder::scan`] looks at every alert in memory (a lock-free `Snapshot`) and records
//! each **episode** — one firing of one alert, from its `startsAt` to its end — in the store
//! (`HistoryStore`): its alert name, the (team, group key) of every aggregation group it is in, whether it
//! carries a runbook and an action, and how long it was seen firing and silenced. It also records when
//! each silence last matched a firing alert. The history is derived from the alerts, which are durable: a
//! scan lost in a crash is made again from the alerts reloaded at start, so the worker (`workers::history`)
//! never holds up intake. A new episode is written at once; one that fires on is written again when its
//! silencing changes and at most every [`REFRESH`], so a scan of a hundred thousand steady alerts costs the
//! store nothing. In memory the recorder keeps 72 bytes per alert ([`Tracked`]); what a row says of the
//! alert (name, groups, runbook, action) is read from the alert when the row is written.
//!
//! **Flap guard.** The recorder keeps the earlier firings (within the flap window) of alerts that fired
//! again and publishes, after each scan, which alerts `clarion_core::feedback::flap::hold` holds; the
//! notifier asks [`Recorder::held`] for routes with `flap_guard: true`.
//!
//! **Feedback** ([`give`]) is a timeline entry of its page (`feedback`, detail `verdict` or `verdict:
//! comment`), so it lives and ends with the page; reports count each person's last verdict on a page.
//!
//! **Reports** ([`facts`]) read episodes, pages and their timelines, and silences for a window and hand
//! them to `clarion_core::feedback`.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use clarion_config::Config;
use clarion_core::alert::Alert;
use clarion_core::clarity::ClarityField;
use clarion_core::dispatch::group_key;
use clarion_core::feedback::flap::{self, Cycle, Hold};
use clarion_core::feedback::{Episode, PageFacts, SilenceFacts, Verdict, Window};
use clarion_core::page::{Actor, PageState};
use clarion_core::route::Route;
use clarion_core::{Fingerprint, Timestamp};
use clarion_store::{Durability, EpisodeRow, PageEventRow, SilenceMatchRow, StoreError};
use serde::{Deserialize, Serialize};

use crate::metrics::{AlertNameLabel, FeedbackLabels, TeamLabel};
use crate::pages::{self, PageError};
use crate::state::AppState;

/// A firing episode is written again at most this often while nothing about it changes (its seen and
/// silenced time), and a silence's last match likewise.
pub const REFRESH: Duration = Duration::from_secs(15 * 60);

/// The longest gap between two scans that counts as time seen: after a longer pause (a restart), the
/// time in between is not counted as firing or silenced.
const MAX_GAP: Duration = Duration::from_secs(5 * 60);

/// Most episode rows written in one commit.
const EPISODES_PER_COMMIT: usize = 2_000;

/// Longest feedback comment kept, in characters.
pub const MAX_COMMENT: usize = 1_000;

/// What the store keeps of an episode besides its key and end. Its alert name, groups, runbook and action
/// come from the alert when the row is written, so the recorder keeps none of them in memory.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct EpisodeBody {
    alertname: String,
    /// (team, group key) of each aggregation group.
    groups: Vec<(String, String)>,
    seen_firing_seconds: u64,
    silenced_seconds: u64,
    runbook: bool,
    action: bool,
}

/// One alert as the recorder last saw it: what its episode's row needs besides the alert itself. Kept
/// small (one per alert in memory, next to the alert table).
#[derive(Debug, Clone, Copy)]
struct Tracked {
    starts_at: Timestamp,
    ended: Option<Timestamp>,
    /// Seconds seen firing, and of those silenced.
    seen_firing: u32,
    silenced: u32,
    last_seen: Timestamp,
    /// When its row was last written; `None`: to write.
    saved_at: Option<Timestamp>,
    silenced_now: bool,
    /// The scan that last saw its alert.
    scan: u32,
}

impl Tracked {
    fn new(starts_at: Timestamp, now: Timestamp, scan: u32) -> Tracked {
        Tracked {
            starts_at,
            ended: None,
            seen_firing: 0,
            silenced: 0,
            last_seen: now,
            saved_at: None,
            silenced_now: false,
            scan,
        }
    }

    fn cycle(&self) -> Cycle {
        (self.starts_at, self.ended)
    }
}

/// The row of `e`, an episode of `alert`.
fn row(fp: Fingerprint, e: &Tracked, alert: &Alert, route: &Route, now: Timestamp) -> Option<EpisodeRow> {
    let body = EpisodeBody {
        alertname: alert.labels.get("alertname").unwrap_or_default().to_string(),
        groups: groups_of(route, &alert.labels),
        seen_firing_seconds: u64::from(e.seen_firing),
        silenced_seconds: u64::from(e.silenced),
        runbook: ClarityField::Runbook.of_alert(&alert.labels, &alert.annotations).is_some(),
        action: ClarityField::Action.of_alert(&alert.labels, &alert.annotations).is_some(),
    };
    let body = serde_json::to_string(&body).ok()?;
    Some(EpisodeRow { fingerprint: fp.0, starts_at: e.starts_at, ends_at: e.ended, updated_at: now, body })
}

#[derive(Debug, Default)]
struct Tracker {
    loaded: bool,
    /// Counts scans, to find the alerts a scan did not see.
    scan: u32,
    alerts: HashMap<Fingerprint, Tracked>,
    /// The earlier firings, within the flap window and settle time, of alerts that fired more than once,
    /// oldest first (an alert's current firing is its [`Tracked`]): what the flap rule counts.
    earlier: HashMap<Fingerprint, Vec<Cycle>>,
    /// When each silence's match was last written.
    silences_saved: HashMap<String, Timestamp>,
}

/// See the module documentation. Scans are serialised; the tracker's lock is never held across an
/// await, and the notifier never waits for it: the flap guard's holds are published after each scan.
#[derive(Debug, Default)]
pub struct Recorder {
    scanning: tokio::sync::Mutex<()>,
    tracker: parking_lot::Mutex<Tracker>,
    /// The holds as of the last scan, replaced whole.
    holds: parking_lot::RwLock<std::sync::Arc<HashMap<Fingerprint, Hold>>>,
    /// Holds whose message was committed: (alert, hold start, team).
    told: parking_lot::Mutex<HashSet<(Fingerprint, Timestamp, String)>>,
}

/// What one scan wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scanned {
    pub episodes_written: usize,
    pub alerts_held: usize,
}

/// The (team, group key) of every aggregation group an alert with these labels is in.
fn groups_of(route: &Route, labels: &clarion_core::labels::LabelSet) -> Vec<(String, String)> {
    route
        .matching(labels)
        .into_iter()
        .map(|node| (node.opts.receiver.clone(), group_key(node, &node.group_labels(labels))))
        .collect()
}

fn gap(from: Timestamp, to: Timestamp) -> Duration {
    (to - from).to_std().unwrap_or(Duration::ZERO).min(MAX_GAP)
}

fn seconds(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

impl Recorder {
    /// Records what the alerts did since the last scan (see the module documentation).
    pub async fn scan(&self, state: &AppState) -> Result<Scanned, StoreError> {
        let _serial = self.scanning.lock().await;
        let config = state.config();
        let now = state.now();
        let rule = config.file.feedback.flap_rule();
        let keep = rule.window.saturating_add(rule.settle);
        let recent = |c: &Cycle| clarion_core::later(c.1.unwrap_or(now).max(c.0), keep) > now;
        let snapshot = state.memory().snapshot();
        if !self.tracker.lock().loaded {
            // Firings still going on, and recent ones for the flap rule, from before a restart — of the
            // alerts this instance holds: instances sharing a store each record the alerts they hold, and
            // must not end another's episodes.
            let since = chrono::Duration::from_std(keep).ok().and_then(|k| now.checked_sub_signed(k)).unwrap_or(now);
            let rows = state.store().load_episodes(since).await?;
            let held: HashSet<Fingerprint> = snapshot.alerts.iter().map(|(fp, _)| *fp).collect();
            let mut t = self.tracker.lock();
            let mut unreadable = 0;
            let mut by_alert: HashMap<Fingerprint, Vec<EpisodeRow>> = HashMap::new();
            for row in rows.into_iter().filter(|r| held.contains(&Fingerprint(r.fingerprint))) {
                by_alert.entry(Fingerprint(row.fingerprint)).or_default().push(row);
            }
            for (fp, mut rows) in by_alert {
                rows.sort_by_key(|r| r.starts_at);
                let Some(last) = rows.pop() else { continue };
                let Ok(body) = serde_json::from_str::<EpisodeBody>(&last.body) else {
                    unreadable += 1;
                    continue;
                };
                let earlier: Vec<Cycle> = rows.iter().map(|r| (r.starts_at, r.ends_at)).filter(|c| recent(c)).collect();
                if !earlier.is_empty() {
                    t.earlier.insert(fp, earlier);
                }
                let scan = t.scan;
                t.alerts.insert(
                    fp,
                    Tracked {
                        ended: last.ends_at,
                        seen_firing: u32::try_from(body.seen_firing_seconds).unwrap_or(u32::MAX),
                        silenced: u32::try_from(body.silenced_seconds).unwrap_or(u32::MAX),
                        last_seen: last.updated_at,
                        saved_at: Some(last.updated_at),
                        ..Tracked::new(last.starts_at, now, scan)
                    },
                );
            }
            if unreadable > 0 {
                tracing::warn!(episodes = unreadable, "stored alert episodes could not be read and are left out");
            }
            t.loaded = true;
        }
        let transient = config.file.feedback.transient.0;
        let route = &snapshot.route;
        let (rows, matched) = {
            let mut guard = self.tracker.lock();
            let t = &mut *guard;
            t.scan = t.scan.wrapping_add(1);
            let scan = t.scan;
            let mut rows = Vec::new();
            let mut matched: HashSet<String> = HashSet::new();
            for (fp, alert) in &snapshot.alerts {
                let firing = !alert.is_resolved_at(now);
                let silenced_by = if firing { snapshot.silences.silenced_by(&alert.labels, now) } else { Vec::new() };
                let silenced_now = !silenced_by.is_empty();
                matched.extend(silenced_by);
                let known = match t.alerts.get_mut(fp) {
                    Some(e) if e.starts_at == alert.starts_at => true,
                    Some(e) => {
                        // A new firing began: the one before ended, at the latest when this one started.
                        if e.ended.is_none() {
                            e.ended = Some(alert.starts_at.max(e.starts_at));
                            rows.extend(row(*fp, e, alert, route, now));
                        }
                        let before = e.cycle();
                        if recent(&before) {
                            t.earlier.entry(*fp).or_default().push(before);
                        }
                        false
                    }
                    None => false,
                };
                if !known {
                    let name =
                        AlertNameLabel { alertname: alert.labels.get("alertname").unwrap_or_default().to_string() };
                    state.metrics().alert_firings.get_or_create(&name).inc();
                    t.alerts.insert(*fp, Tracked { silenced_now, ..Tracked::new(alert.starts_at, now, scan) });
                }
                let Some(e) = t.alerts.get_mut(fp) else { continue };
                e.scan = scan;
                if e.ended.is_some() && firing {
                    // Resolved when its end passed, then sent again with the same start: the same firing
                    // goes on.
                    e.ended = None;
                    e.saved_at = None;
                    e.last_seen = now;
                }
                if e.ended.is_some() {
                    continue;
                }
                if firing {
                    if known {
                        let dt = seconds(gap(e.last_seen, now));
                        e.seen_firing = e.seen_firing.saturating_add(dt);
                        if e.silenced_now {
                            e.silenced = e.silenced.saturating_add(dt);
                        }
                    }
                    if e.silenced_now != silenced_now {
                        e.silenced_now = silenced_now;
                        e.saved_at = None;
                    }
                } else {
                    let end = alert.ends_at.max(e.starts_at);
                    e.ended = Some(end);
                    e.saved_at = None;
                    if (end - e.starts_at).to_std().unwrap_or(Duration::ZERO) <= transient {
                        let name =
                            AlertNameLabel { alertname: alert.labels.get("alertname").unwrap_or_default().to_string() };
                        state.metrics().alert_transient.get_or_create(&name).inc();
                    }
                }
                e.last_seen = now;
                if e.saved_at.is_none_or(|at| (now - at).to_std().unwrap_or(Duration::ZERO) >= REFRESH) {
                    e.saved_at = Some(now);
                    rows.extend(row(*fp, e, alert, route, now));
                }
            }
            // Alerts no longer in memory: forgotten an hour after they resolved, which a scan saw long
            // before. One still firing here lost its alert while no scan ran (its row cannot be written
            // without it): it stays open in the store.
            let mut lost = 0;
            t.alerts.retain(|_, e| {
                let seen = e.scan == scan;
                lost += usize::from(!seen && e.ended.is_none());
                seen
            });
            if lost > 0 {
                tracing::warn!(episodes = lost, "alerts left memory while firing; their episodes stay open");
            }
            // The flap rule's memory: firings within the window (and the settle time) before now.
            t.earlier.retain(|fp, cycles| {
                cycles.retain(|c| recent(c));
                !cycles.is_empty() && t.alerts.contains_key(fp)
            });
            let holds: HashMap<Fingerprint, Hold> = t
                .earlier
                .iter()
                .filter(|(_, earlier)| earlier.len() >= rule.cycles)
                .filter_map(|(fp, earlier)| {
                    let mut cycles = earlier.clone();
                    cycles.extend(t.alerts.get(fp).map(Tracked::cycle));
                    flap::hold(&cycles, &rule, now).map(|h| (*fp, h))
                })
                .collect();
            *self.holds.write() = std::sync::Arc::new(holds);
            let due =
                |at: Option<&Timestamp>| at.is_none_or(|at| (now - *at).to_std().unwrap_or(Duration::ZERO) >= REFRESH);
            let matched: Vec<String> = matched.into_iter().filter(|id| due(t.silences_saved.get(id))).collect();
            for id in &matched {
                t.silences_saved.insert(id.clone(), now);
            }
            // Silences that stopped matching are written again when they match again.
            t.silences_saved.retain(|_, at| (now - *at).to_std().unwrap_or(Duration::ZERO) < 2 * REFRESH);
            let matched: Vec<SilenceMatchRow> = matched
                .into_iter()
                .map(|id| SilenceMatchRow { silence_id: id, first_matched_at: now, last_matched_at: now })
                .collect();
            (rows, matched)
        };
        let written = rows.len();
        let saved = async {
            // In commits of a few thousand rows: the first scan after a start with many alerts writes them
            // all, and one long transaction would hold up the intake's commits behind it.
            for chunk in rows.chunks(EPISODES_PER_COMMIT) {
                state.store().save_episodes(chunk).await?;
            }
            state.store().save_silence_matches(&matched).await
        }
        .await;
        if let Err(e) = saved {
            // Written again at the next scan.
            let mut t = self.tracker.lock();
            for row in &rows {
                if let Some(e) =
                    t.alerts.get_mut(&Fingerprint(row.fingerprint)).filter(|e| e.starts_at == row.starts_at)
                {
                    e.saved_at = None;
                }
            }
            for m in &matched {
                t.silences_saved.remove(&m.silence_id);
            }
            return Err(e);
        }
        let held = self.holds.read().len();
        Ok(Scanned { episodes_written: written, alerts_held: held })
    }

    /// The flap guard's hold on an alert at `now`, if any (as of the last scan).
    pub fn held(&self, fp: Fingerprint, now: Timestamp) -> Option<Hold> {
        self.holds.read().get(&fp).copied().filter(|h| h.until > now)
    }

    /// Whether the message of this hold still has to be committed (in this process: after a restart it
    /// is committed again, and its idempotency key makes that a no-op).
    pub fn untold(&self, fp: Fingerprint, hold: &Hold, team: &str) -> bool {
        !self.told.lock().contains(&(fp, hold.since, team.to_string()))
    }

    /// The message of this hold was committed to `team`.
    pub fn told(&self, fp: Fingerprint, hold: &Hold, team: &str) {
        let mut told = self.told.lock();
        // Holds older than two days are forgotten; one still going is committed again, which its
        // idempotency key makes a no-op.
        told.retain(|(_, since, _)| clarion_core::later(*since, Duration::from_secs(2 * 86_400)) > hold.since);
        told.insert((fp, hold.since, team.to_string()));
    }
}

/// The flap guard's one message that `alert` flaps, to each channel of `team`.
pub fn flapping_notice(
    team: &clarion_config::TeamConfig,
    alert: &clarion_core::alert::Alert,
    fp: Fingerprint,
    hold: &Hold,
    rule: &flap::FlapRule,
    external_url: &str,
    now: Timestamp,
) -> Vec<crate::outbox::Envelope> {
    let name = alert.labels.get("alertname").unwrap_or("an alert");
    let labels = clarion_core::route::label_set_string(&alert.labels);
    team.channels
        .iter()
        .map(|channel| crate::outbox::Envelope {
            channel: channel.clone(),
            idempotency_key: crate::outbox::keys::flapping(fp, hold.since, &team.name, channel),
            reason: "flapping".into(),
            notification: clarion_core::notification::Notification::Announcement(
                clarion_core::notification::Announcement {
                    id: format!("flapping/{fp}/{}", hold.since.timestamp()),
                    team: team.name.clone(),
                    external_url: external_url.to_string(),
                    severity: alert.labels.get("severity").unwrap_or_default().to_string(),
                    title: format!("{name} flaps: {} fire/resolve cycles within {}", hold.cycles, clarion_core::feedback::format_duration(rule.window)),
                    what_changes: Some(format!(
                        "Notifications of {labels} are held while it flaps; you are told its state again once it has stayed firing or resolved for {}.",
                        clarion_core::feedback::format_duration(rule.settle)
                    )),
                    context: Some("An alert that fires and resolves this often pages people for nothing each time.".into()),
                    impact: None,
                    action: Some(format!("Look at {name} once; make the rule steadier (`keep_firing_for:`, a longer `for:`) so it fires only when a person must act.")),
                    deadline: None,
                    owner: Some(team.name.clone()),
                    sent_at: now,
                    page: None,
                    label: Some("flapping".into()),
                    source: Some("flap guard".into()),
                },
            ),
        })
        .collect()
}

/// Why feedback could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum FeedbackError {
    #[error(transparent)]
    Page(#[from] PageError),
    #[error("the comment is longer than {MAX_COMMENT} characters")]
    TooLong,
}

/// Records `verdict` (and a comment) on page `id` by `actor`: a `feedback` entry of its timeline. A
/// resolved page takes feedback too (most is given after the fact).
pub async fn give(
    state: &AppState,
    id: i64,
    verdict: Verdict,
    comment: &str,
    actor: &Actor,
) -> Result<clarion_store::PageRow, FeedbackError> {
    let comment = comment.trim();
    if comment.chars().count() > MAX_COMMENT {
        return Err(FeedbackError::TooLong);
    }
    for _ in 0..5 {
        let page = state
            .store()
            .get_page(id)
            .await
            .map_err(PageError::from)?
            .ok_or_else(|| PageError::NotFound(pages::display_id(id)))?;
        let detail =
            if comment.is_empty() { verdict.as_str().to_string() } else { format!("{}: {comment}", verdict.as_str()) };
        let event = PageEventRow {
            page_id: page.id,
            at: state.now(),
            kind: "feedback".into(),
            actor: actor.who.clone(),
            via: actor.via.as_str().into(),
            detail,
        };
        if state
            .store()
            .update_page(page.id, page.version, &page.life, &[event], Durability::Synced)
            .await
            .map_err(PageError::from)?
        {
            let labels = FeedbackLabels { team: page.team.clone(), verdict: verdict.as_str().into() };
            state.metrics().feedback.get_or_create(&labels).inc();
            let version = page.version + 1;
            return Ok(clarion_store::PageRow { version, ..page });
        }
    }
    Err(PageError::Busy(pages::display_id(id)).into())
}

/// The verdict of a `feedback` timeline entry.
pub fn verdict_of(detail: &str) -> Option<Verdict> {
    Verdict::parse(detail.split(':').next().unwrap_or_default())
}

/// Monday to Friday, 09:00–17:00 UTC: working hours of a team that names none.
fn default_working_hours(t: Timestamp) -> bool {
    use chrono::{Datelike, Timelike};
    t.weekday().num_days_from_monday() < 5 && (9..17).contains(&t.hour())
}

/// Whether `t` falls in `team`'s working hours.
pub fn in_working_hours(config: &Config, team: &str, t: Timestamp) -> bool {
    match config.team(team).and_then(|c| c.working_hours.as_deref()).and_then(|n| config.time_interval(n)) {
        Some(interval) => interval.contains(t),
        None => default_working_hours(t),
    }
}

/// What the reports of `window` are made of.
#[derive(Debug, Default)]
pub struct Facts {
    pub episodes: Vec<Episode>,
    pub pages: Vec<PageFacts>,
    pub silences: Vec<SilenceFacts>,
}

/// Reads the history, pages and silences a report of `window` needs.
pub async fn facts(state: &AppState, window: &Window) -> Result<Facts, StoreError> {
    let config = state.config();
    let store = state.store();
    let rows = store.load_episodes(window.since).await?;
    let stored = rows.len();
    let episodes: Vec<Episode> = rows
        .into_iter()
        .filter_map(|r| {
            let body: EpisodeBody = serde_json::from_str(&r.body).ok()?;
            Some(Episode {
                fingerprint: Fingerprint(r.fingerprint),
                alertname: body.alertname,
                started: r.starts_at,
                ended: r.ends_at,
                groups: body.groups,
                seen_firing: Duration::from_secs(body.seen_firing_seconds),
                silenced: Duration::from_secs(body.silenced_seconds),
                has_runbook: body.runbook,
                has_action: body.action,
            })
        })
        .collect();
    if episodes.len() < stored {
        tracing::warn!(episodes = stored - episodes.len(), "stored alert episodes could not be read and are left out");
    }
    let episodes: Vec<Episode> = episodes.into_iter().filter(|e| e.started < window.until).collect();
    let rows: Vec<_> =
        store.pages_since(window.since).await?.into_iter().filter(|p| p.life.opened_at < window.until).collect();
    let earliest = rows.iter().map(|p| p.life.opened_at).min().unwrap_or(window.since);
    let mut events: HashMap<i64, Vec<PageEventRow>> = HashMap::new();
    for e in store.page_events_since(earliest, &["acknowledged", "escalated", "feedback"]).await? {
        events.entry(e.page_id).or_default().push(e);
    }
    let pages = rows
        .into_iter()
        .map(|p| {
            let mine = events.remove(&p.id).unwrap_or_default();
            let first_ack = mine.iter().filter(|e| e.kind == "acknowledged").map(|e| e.at).min();
            let escalations = mine.iter().filter(|e| e.kind == "escalated").count();
            PageFacts {
                id: p.id,
                outside_hours: !in_working_hours(&config, &p.team, p.life.opened_at),
                team: p.team,
                group_key: p.group_key,
                opened_at: p.life.opened_at,
                acknowledged_at: first_ack.or(p.life.acknowledged_at),
                action_done_at: p.life.action_done_at,
                resolved_at: if p.life.state == PageState::Resolved { p.life.resolved_at } else { None },
                escalated: escalations > 1 || p.life.position.is_some_and(|(tier, round)| tier > 0 || round > 0),
                // A person's last word counts once: pressing a button again changes the verdict, it does
                // not add one.
                feedback: mine
                    .iter()
                    .filter(|e| e.kind == "feedback")
                    .filter_map(|e| Some((e.actor.as_str(), verdict_of(&e.detail)?)))
                    .collect::<std::collections::BTreeMap<&str, Verdict>>()
                    .into_values()
                    .collect(),
            }
        })
        .collect();
    let matches: HashMap<String, Timestamp> =
        store.load_silence_matches().await?.into_iter().map(|m| (m.silence_id, m.last_matched_at)).collect();
    let silences = state
        .memory()
        .silences_where(|_| true)
        .into_iter()
        .map(|s| SilenceFacts {
            matchers: s.matchers.to_string(),
            created_by: s.created_by.clone(),
            starts_at: s.starts_at,
            ends_at: s.ends_at,
            last_matched_at: matches.get(&s.id).copied(),
            id: s.id,
        })
        .collect();
    Ok(Facts { episodes, pages, silences })
}

/// Counts a page that resolved without anyone acknowledging it (for the metrics).
pub fn resolved_unacknowledged(state: &AppState, team: &str) {
    state.metrics().pages_resolved_unacknowledged.get_or_create(&TeamLabel { team: team.to_string() }).inc();
}

#[cfg(test)]
mod simulation;
