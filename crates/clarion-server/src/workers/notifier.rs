//! The notifier: flushes aggregation groups when they are due and hands what each channel must be told to
//! the outbox, with the notification-log entries that record it, in one transaction.
//!
//! Every firing alert in a notification carries its findings against the communication standard (alerts
//! are delivered even when they fall short: people must hear about outages); resolved ones carry none.
//!
//! Only after that commit does the group count as flushed. A crash before it repeats the flush after the
//! restart; a crash after it finds the notification log saying the channel was told, so nothing is
//! notified twice. What to tell whom is decided in `clarion-core` (`dispatch::notice_for_channel`); this
//! worker looks up teams and channels, builds the notification, and commits.
//!
//! Each group's notification to its team is a **page** (`crate::pages`): opened in the same transaction
//! as its first notice (`Outbox::open_and_send`; every notice carries the page id and each recipient's
//! signed acknowledgement link, so a flush costs one round trip to the store), resolved when all its
//! alerts resolved. What the plan inside that transaction needs from memory (the notification log) and
//! the alerts' findings are read before it, so the plan takes no lock. An acknowledged page is not re-notified at the repeat interval; new alerts in its
//! group still are, marked new.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use clarion_config::Config;
use clarion_core::clarity::ClarityField;
use clarion_core::dispatch::{notice_for_channel, Flush, NotificationLogEntry};
use clarion_core::notification::{AlertGroup, FindingNote, Notification, NotifiedAlert, Status};
use clarion_core::page::{Event, PageState};
use clarion_core::Fingerprint;
use clarion_store::{Durability, NotificationLogRow, PageRow};

use crate::outbox::{self, keys, Envelope, OutboxError};
use crate::pages::{self, GroupPage, PageError};
use crate::state::AppState;

/// Longest sleep between checks when no group is due (a safety net; new alerts wake the notifier).
const IDLE: Duration = Duration::from_secs(5);
/// Most groups flushed in one round (one outbox commit); more due groups are flushed in the rounds that
/// follow at once. Bounds what a round holds in memory: with intake ahead of the notifier (a million new
/// groups), one round of every due group took gigabytes, and the allocator kept the peak.
const MAX_GROUPS_PER_ROUND: usize = 1_000;
/// Wait after a failed commit before trying the due groups again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

pub async fn run(state: AppState) {
    let mut stop = state.stopping();
    loop {
        let now = state.now();
        let next = state.memory().next_due();
        let wait = next.map_or(IDLE, |at| (at - now).to_std().unwrap_or(Duration::ZERO).min(IDLE));
        if !wait.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = state.notifier_woken() => {}
                _ = stop.changed() => return,
            }
        }
        if *stop.borrow() {
            return;
        }
        if let Err(e) = flush_due(&state).await {
            tracing::error!(error = %e, "committing notifications failed; retrying");
            tokio::select! {
                _ = tokio::time::sleep(RETRY_AFTER_FAILURE) => {}
                _ = stop.changed() => return,
            }
        }
    }
}

/// What one flush round commits: the envelopes, the log rows, and the same log entries for memory.
#[derive(Debug, Default)]
struct Round {
    envelopes: Vec<Envelope>,
    log_rows: Vec<NotificationLogRow>,
    logged: Vec<((String, String), NotificationLogEntry)>,
}

/// The page a flushed group's notices name.
#[derive(Debug, Clone)]
enum PageOf {
    /// None (its team is not configured, or nothing fires and no page was open).
    None,
    /// Read (and resolved) before the round's commit.
    Known(Box<PageRow>),
    /// Opened by the round's commit: the index among the pages it opens.
    Opened(usize),
}

/// What planning a flush reads from memory and computes before the commit, so that the plan itself, which
/// runs inside the store's transaction, takes no lock and does no slow work.
#[derive(Debug)]
struct Prepared {
    /// The last notification of the group to each channel of its team, in the team's order.
    last: Vec<Option<NotificationLogEntry>>,
    /// Each alert's findings against the communication standard.
    findings: HashMap<Fingerprint, Vec<FindingNote>>,
    page: PageOf,
}

/// Flushes the first [`MAX_GROUPS_PER_ROUND`] due groups: pages resolved first, then one outbox commit
/// that opens the pages of groups with firing alerts and enqueues every notice (naming those pages).
/// Returns how many groups were flushed.
pub async fn flush_due(state: &AppState) -> Result<usize, NotifierError> {
    let now = state.now();
    let config = state.config();
    let mut flushes = state.memory().due_flushes(now, MAX_GROUPS_PER_ROUND);
    if flushes.is_empty() {
        return Ok(0);
    }
    // Firing alerts of services a planned event is working on are held back while it runs: they are left
    // out of the flush (and of its notification-log entry), so they are told at the first flush after it
    // ends. Their resolutions are told as usual.
    let muted = crate::notices::muted_services(state, &config, now);
    if !muted.is_empty() {
        let held = |a: &clarion_core::alert::Alert| a.labels.get("service").is_some_and(|s| muted.contains_key(s));
        for f in &mut flushes {
            f.firing.retain(|(_, a)| !held(a));
        }
    }
    // A route with `flap_guard: true` holds a flapping alert's firings back: its team is told once that it
    // flaps, and a firing is left out of its group's flushes — unless the group's last notification told it
    // firing already — until it settles (`crate::feedback`). Resolutions are told as usual, so a group
    // never hears "resolved" for an alert that fires, nor misses one that resolved; the rest of the group
    // is told as usual.
    let mut flapping = Vec::new();
    for f in &mut flushes {
        if !f.flap_guard {
            continue;
        }
        let Some(team) = config.team(&f.receiver) else { continue };
        let told_firing = |fp: &clarion_core::Fingerprint| {
            team.channels
                .iter()
                .any(|c| state.memory().last_notification(&f.group_key, c).is_some_and(|l| l.firing.contains(fp)))
        };
        let mut held = Vec::new();
        f.firing.retain(|(fp, alert)| match state.recorder().held(*fp, now) {
            Some(hold) if !told_firing(fp) => {
                held.push((*fp, alert.clone(), hold));
                false
            }
            _ => true,
        });
        let rule = config.file.feedback.flap_rule();
        for (fp, alert, hold) in held.into_iter().filter(|(fp, _, h)| state.recorder().untold(*fp, h, &team.name)) {
            let envelopes =
                crate::feedback::flapping_notice(team, &alert, fp, &hold, &rule, &state.external_url(), now);
            flapping.push((fp, hold, team.name.clone(), envelopes));
        }
    }
    if !flapping.is_empty() {
        let envelopes: Vec<Envelope> = flapping.iter().flat_map(|(_, _, _, e)| e.iter().cloned()).collect();
        state.outbox().send(&envelopes, &[], now, outbox::lease_until(&config, now)).await?;
        for (fp, hold, team, _) in &flapping {
            state.recorder().told(*fp, hold, team);
        }
    }
    // A route's mute and active time intervals hold its notifications back: such a group is flushed
    // without a word, without a notification-log entry and keeping its resolved members, so it speaks at
    // its first flush after.
    let mut intervals = HashMap::new();
    let mut speaks = Vec::with_capacity(flushes.len());
    for f in &mut flushes {
        let held = crate::calendars::held_back(
            state,
            &config,
            &f.mute_time_intervals,
            &f.active_time_intervals,
            now,
            &mut intervals,
        );
        if held {
            f.hold_back();
        }
        speaks.push(!held && would_notify(state, &config, f, now));
    }
    let flushes = Arc::new(flushes);
    // Most due groups have nothing new to say (a group is due again every group_interval): only those
    // that will tell some channel something open or resolve their page, so a round costs the store
    // nothing for the others.
    if !speaks.contains(&true) {
        state.memory().flushed(&flushes, Vec::new(), now);
        return Ok(flushes.len());
    }
    let (pages_of, to_open) = pages_of(state, &config, &flushes, &speaks).await?;
    let prepared: Vec<Prepared> = flushes
        .iter()
        .zip(&speaks)
        .zip(pages_of)
        .map(|((flush, &speaks), page)| prepare(state, &config, flush, speaks, page))
        .collect();
    let plan = {
        let (state, config, flushes) = (state.clone(), config.clone(), flushes.clone());
        let external_url = state.external_url();
        move |opened: &[PageRow]| {
            let mut round = Round::default();
            for (flush, prepared) in flushes.iter().zip(&prepared) {
                let page = match &prepared.page {
                    PageOf::None => None,
                    PageOf::Known(page) => Some(&**page),
                    PageOf::Opened(i) => opened.get(*i),
                };
                plan_flush(&state, &config, flush, prepared, page, &external_url, now, &mut round);
            }
            (round.envelopes, round.log_rows, round.logged)
        }
    };
    let new_pages = pages::for_groups(&config, &to_open, now);
    let (opened, sent, logged) =
        state.outbox().open_and_send(&new_pages, plan, now, outbox::lease_until(&config, now)).await?;
    pages::opened(state, &opened, now);
    let notified = !logged.is_empty();
    state.memory().flushed(&flushes, logged, now);
    if notified {
        tracing::debug!(
            deliveries = sent.stored,
            handed_off = sent.handed_off,
            groups = flushes.len(),
            "notifications committed to the outbox"
        );
    }
    Ok(flushes.len())
}

/// Why a flush round failed; it is tried again.
#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error(transparent)]
    Store(#[from] clarion_store::StoreError),
    #[error(transparent)]
    Page(#[from] PageError),
}

/// Would any channel of the group's team be told something, if its page were not acknowledged? (The
/// superset of what `plan_flush` sends.)
fn would_notify(state: &AppState, config: &Config, flush: &Flush, now: clarion_core::Timestamp) -> bool {
    let Some(team) = config.team(&flush.receiver) else { return false };
    team.channels.iter().any(|name| {
        config.channel(name).is_some_and(|channel| {
            let last = state.memory().last_notification(&flush.group_key, name);
            notice_for_channel(flush, channel.send_resolved, last.as_ref(), true, now).is_some()
        })
    })
}

/// The page each flushed group that speaks will name: resolved now when all its alerts resolved (read and
/// stepped before the round's commit), to be opened by the commit when it has firing alerts (the
/// [`GroupPage`]s returned, in the order of their [`PageOf::Opened`] indices), none for a group of a team
/// that is not configured or that does not speak.
async fn pages_of(
    state: &AppState,
    config: &Config,
    flushes: &[Flush],
    speaks: &[bool],
) -> Result<(Vec<PageOf>, Vec<GroupPage>), NotifierError> {
    let mut out = vec![PageOf::None; flushes.len()];
    let mut to_open = Vec::new();
    for (i, flush) in flushes.iter().enumerate() {
        if !speaks[i] || config.team(&flush.receiver).is_none() {
            continue;
        }
        if let Some((_, lead)) = flush.firing.first() {
            let severity = lead.labels.get("severity").unwrap_or_default().to_string();
            let summary = ClarityField::Summary
                .of_alert(&lead.labels, &lead.annotations)
                .or_else(|| lead.labels.get("alertname"))
                .unwrap_or("alerts")
                .lines()
                .next()
                .unwrap_or_default()
                .to_string();
            out[i] = PageOf::Opened(to_open.len());
            to_open.push(GroupPage {
                team: flush.receiver.clone(),
                group_key: flush.group_key.clone(),
                route_policy: flush.escalation.clone(),
                severity,
                summary,
                context: ClarityField::Context.of_alert(&lead.labels, &lead.annotations).map(str::to_string),
            });
        } else if !flush.resolved.is_empty() {
            // Everything resolved: the open page ends. (A flush repeated after a crash finds it resolved
            // already, and its notice goes out without the page.)
            let Some(page) = state.store().open_page(&flush.receiver, &flush.group_key).await? else { continue };
            let resolve = Event::Resolve(pages::automatic());
            out[i] =
                PageOf::Known(Box::new(match pages::apply_with(state, page.id, &resolve, Durability::Relaxed).await {
                    Ok(applied) => applied.page,
                    Err(PageError::Refused(_)) => state.store().get_page(page.id).await?.unwrap_or(page),
                    Err(e) => return Err(e.into()),
                }));
        }
    }
    Ok((out, to_open))
}

/// Reads what planning `flush` needs from memory, and computes its alerts' findings (only for a group
/// that speaks: the others plan nothing).
fn prepare(state: &AppState, config: &Config, flush: &Flush, speaks: bool, page: PageOf) -> Prepared {
    let Some(team) = config.team(&flush.receiver).filter(|_| speaks) else {
        return Prepared { last: Vec::new(), findings: HashMap::new(), page };
    };
    let last = team.channels.iter().map(|c| state.memory().last_notification(&flush.group_key, c)).collect();
    // Findings are advice for the alerts that fire; a recovery notice lists none (they read as if
    // something were still wrong).
    let findings =
        flush.firing.iter().map(|(fp, alert)| (*fp, config.standard.alert_findings(alert, Some(&team.name)))).collect();
    Prepared { last, findings, page }
}

/// Adds to `round` what each channel of the flushed group's team must be told.
#[allow(clippy::too_many_arguments)]
fn plan_flush(
    state: &AppState,
    config: &Config,
    flush: &Flush,
    prepared: &Prepared,
    page: Option<&PageRow>,
    external_url: &str,
    now: clarion_core::Timestamp,
    round: &mut Round,
) {
    let Some(team) = config.team(&flush.receiver) else { return };
    // An acknowledged page hears of new and resolved alerts, not the same ones again.
    let repeat = page.is_none_or(|p| p.life.state != PageState::Acknowledged);
    for (channel_name, last) in team.channels.iter().zip(&prepared.last) {
        let Some(channel) = config.channel(channel_name) else { continue };
        let Some(notice) = notice_for_channel(flush, channel.send_resolved, last.as_ref(), repeat, now) else {
            continue;
        };
        let log = &notice.log;
        round.log_rows.push(NotificationLogRow {
            group_key: flush.group_key.clone(),
            channel: channel_name.clone(),
            firing: log.firing.iter().map(|f| f.0).collect(),
            resolved: log.resolved.iter().map(|f| f.0).collect(),
            notified_at: log.notified_at,
            sequence: log.sequence,
        });
        if !notice.alerts.is_empty() {
            let alerts = notice
                .alerts
                .iter()
                .map(|a| NotifiedAlert {
                    findings: prepared.findings.get(&a.fingerprint).cloned().unwrap_or_default(),
                    status: if a.resolved { Status::Resolved } else { Status::Firing },
                    labels: a.alert.labels.clone(),
                    annotations: a.alert.annotations.clone(),
                    starts_at: a.alert.starts_at,
                    // Alertmanager sends the zero time for firing alerts, so they do not resolve as time
                    // moves on.
                    ends_at: a.resolved.then_some(a.alert.ends_at),
                    generator_url: a.alert.generator_url.to_string(),
                    fingerprint: a.fingerprint.to_string(),
                    is_new: a.is_new,
                })
                .collect();
            let mut group = AlertGroup::new(
                team.name.clone(),
                flush.group_key.clone(),
                flush.group_labels.clone(),
                alerts,
                external_url.to_string(),
            );
            group.page = page.map(|p| pages::page_ref_at(state, config, p, channel_name, now, external_url));
            round.envelopes.push(Envelope {
                channel: channel_name.clone(),
                idempotency_key: keys::alert_group(
                    channel_name,
                    &flush.group_key,
                    log.sequence,
                    &log.firing,
                    &log.resolved,
                ),
                reason: notice.reason(last.as_ref()).as_str().to_string(),
                notification: Notification::AlertGroup(group),
            });
        }
        round.logged.push(((flush.group_key.clone(), channel_name.clone()), notice.log));
    }
}
