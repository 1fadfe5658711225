//! The one place a page changes.
//!
//! Every change — an acknowledgement by link, API, CLI or chat button, an escalation timer, a group that
//! resolved — goes through [`apply`]: read the page, step its life (`clarion_core::page::step`), hand the
//! messages the step asks for to the outbox, then commit the new life and its timeline entries **at the
//! version read**. Messages go first and carry idempotency keys made of the page, epoch, round, tier and
//! channel, so a crash between the two steps, or two instances stepping the same page, sends each tier
//! once; the commit at the version read lets exactly one of two racing instances record the step, and the
//! other reads the page again.
//!
//! Pages of aggregation groups open in the notifier's outbox commit ([`for_groups`] says what to open,
//! [`crate::outbox::Outbox::open_and_send`] opens them in the transaction that enqueues the notices naming
//! them, and [`opened`] counts them).

use std::time::Duration;

use clarion_config::Config;
use clarion_core::notification::{Acknowledged, Escalation, EscalationReason, Notification, PageRef};
use clarion_core::page::{step, Actor, Effect, Event, NotifyReason, PageLife, PageState, Refusal, Target};
use clarion_core::Timestamp;
use clarion_store::{Durability, NewPage, PageEventRow, PageRow, StoreError};

use crate::metrics::TeamLabel;
use crate::outbox::{self, keys, Envelope, OutboxError};
use crate::state::AppState;

/// How many times [`apply`] re-reads a page another instance changed meanwhile.
const RETRIES: usize = 5;

/// Why a page could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("page {0:?} not found")]
    NotFound(String),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error("page {0:?} kept changing under this instance; try again")]
    Busy(String),
}

/// What [`apply`] did.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The page after the event.
    pub page: PageRow,
    /// Whether the event changed anything (acknowledging twice does not).
    pub changed: bool,
}

/// A group the notifier is about to notify a team of, for [`for_groups`].
#[derive(Debug, Clone)]
pub struct GroupPage {
    pub team: String,
    pub group_key: String,
    /// The escalation policy the group's route names, if any (else the team's applies).
    pub route_policy: Option<String>,
    pub severity: String,
    pub summary: String,
    pub context: Option<String>,
}

/// A page id as people read and type it.
pub fn display_id(id: i64) -> String {
    id.to_string()
}

/// A page id as people typed it; `None` when it is not one.
pub fn parse_id(text: &str) -> Option<i64> {
    text.trim().parse::<i64>().ok().filter(|id| *id > 0)
}

/// The pages to open for `groups` (each its team's page of an aggregation group, with the policy its
/// route names or the team's default), for [`crate::outbox::Outbox::open_and_send`].
pub fn for_groups(config: &Config, groups: &[GroupPage], now: Timestamp) -> Vec<NewPage> {
    groups
        .iter()
        .map(|g| {
            let policy = config.policy_for(g.route_policy.as_deref(), &g.team);
            NewPage {
                team: g.team.clone(),
                group_key: g.group_key.clone(),
                kind: "alerts".into(),
                severity: g.severity.clone(),
                summary: g.summary.clone(),
                context: g.context.clone(),
                policy: policy.map(|p| p.name.clone()),
                life: PageLife::open(policy, now),
            }
        })
        .collect()
}

/// After a commit opened `pages` at `now`: counts the new ones and wakes escalation for them (pages with
/// a policy are due at once: tier 1). A page opened now carries this round's `opened_at`; one opened
/// before keeps its own.
pub fn opened(state: &AppState, pages: &[PageRow], now: Timestamp) {
    let mut opened = 0;
    for p in pages.iter().filter(|p| p.life.opened_at == now && p.version == 1) {
        state.metrics().pages_opened.get_or_create(&TeamLabel { team: p.team.clone() }).inc();
        opened += 1;
    }
    if opened > 0 {
        state.wake_escalation();
    }
}

/// The pages of announcement `id`: one per addressed team (no escalation: people read announcements when
/// they can; the page records who acknowledged having read it). Opened with its deliveries by
/// `crate::announcements::deliver`.
pub fn for_announcement(id: &str, teams: &[(String, String)], now: Timestamp) -> Vec<NewPage> {
    teams
        .iter()
        .map(|(team, title)| NewPage {
            team: team.clone(),
            group_key: format!("announcement/{id}"),
            kind: "announcement".into(),
            severity: String::new(),
            summary: title.clone(),
            context: None,
            policy: None,
            life: PageLife::open(None, now),
        })
        .collect()
}

/// The reference a notification to `recipient` (a channel) carries: the page id and a signed link that
/// acknowledges it for that recipient.
pub fn page_ref(state: &AppState, config: &Config, page: &PageRow, recipient: &str, now: Timestamp) -> PageRef {
    page_ref_at(state, config, page, recipient, now, &state.external_url())
}

/// [`page_ref`] with the external URL read before (it takes no lock: for the notifier's plan, which runs
/// inside the store's transaction).
pub fn page_ref_at(
    state: &AppState,
    config: &Config,
    page: &PageRow,
    recipient: &str,
    now: Timestamp,
    external_url: &str,
) -> PageRef {
    let expires = clarion_core::later(now, config.file.auth.ack_link_ttl.0);
    let id = display_id(page.id);
    PageRef {
        url: Some(state.link_key().link(external_url, &id, recipient, expires)),
        id,
        opened_at: page.life.opened_at,
        acknowledged_by: page.life.acknowledged_by.clone(),
    }
}

/// Who acknowledges through a link sent to `channel`: the person the channel belongs to, else the channel.
pub fn link_actor(config: &Config, channel: &str) -> String {
    config.person_of_channel(channel).map_or_else(|| format!("channel:{channel}"), str::to_string)
}

/// Applies `event` to page `id` (see the module documentation); a change people make is synced to disk.
pub async fn apply(state: &AppState, id: i64, event: &Event) -> Result<Applied, PageError> {
    apply_with(state, id, event, Durability::Synced).await
}

/// [`apply`], committed with `durability` (Clarion's own derived changes, such as a page resolving with
/// its group, are relaxed like the outbox).
pub async fn apply_with(
    state: &AppState,
    id: i64,
    event: &Event,
    durability: Durability,
) -> Result<Applied, PageError> {
    for _ in 0..RETRIES {
        let page = state.store().get_page(id).await?.ok_or_else(|| PageError::NotFound(display_id(id)))?;
        let config = state.config();
        let policy = page.policy.as_deref().and_then(|p| config.policies.get(p));
        let now = state.now();
        let (life, effects) = step(&page.life, event, policy, &page.team, now)?;
        if life == page.life && effects.is_empty() {
            return Ok(Applied { page, changed: false });
        }
        let mut envelopes = notices(state, &config, &page, &life, &effects, now);
        envelopes.extend(acknowledgements(state, &config, &page, &life, now));
        if !envelopes.is_empty() {
            state.outbox().send(&envelopes, &[], now, outbox::lease_until(&config, now)).await?;
        }
        let events: Vec<PageEventRow> = effects
            .iter()
            .filter_map(|e| match e {
                Effect::Record(r) => Some(PageEventRow {
                    page_id: page.id,
                    at: now,
                    kind: r.kind.as_str().to_string(),
                    actor: r.actor.who.clone(),
                    via: r.actor.via.as_str().to_string(),
                    detail: r.detail.clone(),
                }),
                Effect::Notify { .. } => None,
            })
            .collect();
        if state.store().update_page(page.id, page.version, &life, &events, durability).await? {
            observe(state, &page, &life, now);
            if life.next_at.is_some() {
                state.wake_escalation();
            }
            let version = page.version + 1;
            return Ok(Applied { page: PageRow { life, version, ..page }, changed: true });
        }
        tracing::debug!(page = %page.id, "the page changed under this instance; reading it again");
    }
    Err(PageError::Busy(display_id(id)))
}

/// Time to acknowledge and time to resolve, per team.
fn observe(state: &AppState, page: &PageRow, life: &PageLife, now: Timestamp) {
    let seconds = |from: Timestamp| (now - from).to_std().unwrap_or(Duration::ZERO).as_secs_f64();
    let team = TeamLabel { team: page.team.clone() };
    let metrics = state.metrics();
    if page.life.acknowledged_at.is_none() && life.acknowledged_at.is_some() {
        metrics.page_time_to_acknowledge_seconds.get_or_create(&team).observe(seconds(page.life.opened_at));
    }
    if page.life.state != PageState::Resolved && life.state == PageState::Resolved {
        metrics.page_time_to_resolve_seconds.get_or_create(&team).observe(seconds(page.life.opened_at));
        if life.acknowledged_at.is_none() {
            crate::feedback::resolved_unacknowledged(state, &page.team);
        }
    }
}

/// The channels a target reaches.
fn channels_of<'a>(config: &'a Config, target: &Target) -> &'a [String] {
    match target {
        Target::Team(n) => config.team(n).map(|t| t.channels.as_slice()),
        Target::Person(n) => config.file.people.iter().find(|p| &p.name == n).map(|p| p.channels.as_slice()),
        Target::Provider(n) => config.file.providers.iter().find(|p| &p.name == n).map(|p| p.channels.as_slice()),
    }
    .unwrap_or(&[])
}

/// The escalation notices a step's effects ask for, one per channel of each target.
fn notices(
    state: &AppState,
    config: &Config,
    page: &PageRow,
    life: &PageLife,
    effects: &[Effect],
    now: Timestamp,
) -> Vec<Envelope> {
    let mut out = Vec::new();
    for effect in effects {
        let Effect::Notify { tier, round, targets, reason } = effect else { continue };
        state
            .metrics()
            .escalations
            .get_or_create(&crate::metrics::EscalationLabels { team: page.team.clone(), tier: (*tier + 1) as u64 })
            .inc();
        for target in targets {
            // A PagerDuty channel is told of the group (trigger, acknowledge, resolve) and escalates
            // inside PagerDuty; an escalation notice there would open an incident nothing ever closes.
            for channel in channels_of(config, target).iter().filter(|c| !is_pagerduty(config, c)) {
                let notice = Escalation {
                    page: page_ref(state, config, page, channel, now),
                    team: page.team.clone(),
                    target: target.to_string(),
                    tier: tier + 1,
                    round: *round,
                    policy: page.policy.clone().unwrap_or_default(),
                    reason: match reason {
                        NotifyReason::Escalation => EscalationReason::NotAcknowledged,
                        NotifyReason::AckTimedOut => EscalationReason::AckTimedOut,
                        NotifyReason::Unacknowledged => EscalationReason::Unacknowledged,
                    },
                    severity: page.severity.to_uppercase(),
                    summary: page.summary.clone(),
                    context: page.context.clone(),
                    group_key: page.group_key.clone(),
                    external_url: state.external_url(),
                    sent_at: now,
                };
                out.push(Envelope {
                    channel: channel.clone(),
                    idempotency_key: keys::escalation(&display_id(page.id), life.epoch, *round, *tier, channel),
                    reason: match reason {
                        NotifyReason::Escalation => "escalation",
                        NotifyReason::AckTimedOut => "ack-timeout",
                        NotifyReason::Unacknowledged => "unacknowledged",
                    }
                    .into(),
                    notification: Notification::Escalation(notice),
                });
            }
        }
    }
    out
}

/// Whether channel `name` is a PagerDuty channel.
fn is_pagerduty(config: &Config, name: &str) -> bool {
    config.channel(name).is_some_and(|c| matches!(c.kind, clarion_config::ChannelKind::PagerDuty(_)))
}

/// When `life` acknowledges a page that was not: an `Acknowledged` notice to each of the team's channels
/// that mirror an incident's state (PagerDuty), so the incident there is acknowledged too. Chat and e-mail
/// channels are not told: the page's timeline and the next notification say who has it.
fn acknowledgements(
    state: &AppState,
    config: &Config,
    page: &PageRow,
    life: &PageLife,
    now: Timestamp,
) -> Vec<Envelope> {
    let (None, Some(at), Some(by)) = (page.life.acknowledged_at, life.acknowledged_at, life.acknowledged_by.as_ref())
    else {
        return Vec::new();
    };
    let channels = config.team(&page.team).map(|t| t.channels.as_slice()).unwrap_or(&[]);
    channels
        .iter()
        .filter(|c| is_pagerduty(config, c))
        .map(|channel| {
            let mut page_ref = page_ref(state, config, page, channel, now);
            page_ref.acknowledged_by = Some(by.clone());
            Envelope {
                channel: channel.clone(),
                idempotency_key: keys::acknowledged(&display_id(page.id), at, channel),
                reason: "acknowledged".into(),
                notification: Notification::Acknowledged(Acknowledged {
                    page: page_ref,
                    team: page.team.clone(),
                    by: by.clone(),
                    severity: page.severity.to_uppercase(),
                    summary: page.summary.clone(),
                    group_key: page.group_key.clone(),
                    external_url: state.external_url(),
                    sent_at: now,
                }),
            }
        })
        .collect()
}

/// The actor of a change made by Clarion itself.
pub fn automatic() -> Actor {
    Actor::clarion()
}
