//! Pages and their escalation: what a person acknowledges, and what happens when nobody does.
//!
//! A **page** is one aggregation group's notification to one team (or one announcement to one addressed
//! team). It is `triggered` when it opens, `acknowledged` when someone says "I have it", `resolved` when
//! what it is about ends. [`step`] is the whole life of a page as a pure function
//! `(life, event, policy, now) -> (life, effects)`; the server stores the life, runs the effects (messages
//! through the outbox, timeline entries) and feeds `Due` events when `next_at` comes.
//!
//! # Escalation
//!
//! A policy has ordered tiers, each a list of targets and a `wait`. When a page opens, tier 1's targets are
//! notified (the page's own team already has the page itself, so it is not told twice) and the page waits
//! tier 1's `wait` for an acknowledgement; then tier 2's targets are notified, and so on. After the last
//! tier the tiers run again `repeat` more times, then escalation stops (`exhausted`): the page stays
//! triggered and visible, nobody is paged again.
//!
//! - Acknowledging stops escalation. With `ack_timeout`, an acknowledged page that is still open that long
//!   after the acknowledgement is un-acknowledged automatically and escalation starts again from tier 1
//!   (acknowledged-and-forgotten is a known failure mode), this time telling the page's own team too.
//! - Un-acknowledging by hand starts escalation again from tier 1 at once, the same way.
//! - "Action done" says the requested action was taken: it acknowledges the page if nobody had, and stops
//!   escalation and the ack timeout.
//! - Resolving ends the page: no timer is left, and every later event is refused.
//!
//! Two instances applying the same event to the same stored life compute the same effects; the server
//! commits a new life only if the stored one did not change meanwhile, and the messages of an effect carry
//! idempotency keys made of the page, round and tier, so a tier is notified once.

use std::time::Duration;

use crate::Timestamp;

/// Where a page stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PageState {
    Triggered,
    Acknowledged,
    Resolved,
}

impl PageState {
    pub fn as_str(self) -> &'static str {
        match self {
            PageState::Triggered => "triggered",
            PageState::Acknowledged => "acknowledged",
            PageState::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<PageState> {
        match s {
            "triggered" => Some(PageState::Triggered),
            "acknowledged" => Some(PageState::Acknowledged),
            "resolved" => Some(PageState::Resolved),
            _ => None,
        }
    }
}

/// Who or what an escalation tier notifies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// Every channel of a team.
    Team(String),
    /// Every channel of a person.
    Person(String),
    /// Every channel of a provider (a supplier behind a service).
    Provider(String),
}

impl Target {
    /// `team:ops`, `person:alice`, `provider:cloud-support`.
    pub fn parse(text: &str) -> Option<Target> {
        let (kind, name) = text.split_once(':')?;
        let name = name.trim();
        if name.is_empty() {
            return None;
        }
        match kind.trim() {
            "team" => Some(Target::Team(name.to_string())),
            "person" => Some(Target::Person(name.to_string())),
            "provider" => Some(Target::Provider(name.to_string())),
            _ => None,
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Team(n) => write!(f, "team:{n}"),
            Target::Person(n) => write!(f, "person:{n}"),
            Target::Provider(n) => write!(f, "provider:{n}"),
        }
    }
}

/// One tier of an escalation policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    pub targets: Vec<Target>,
    /// How long to wait for an acknowledgement before the next tier.
    pub wait: Duration,
}

/// An escalation policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub name: String,
    /// Never empty.
    pub tiers: Vec<Tier>,
    /// How many more times the tiers run after the first pass.
    pub repeat: u32,
    /// Un-acknowledge a page still open this long after it was acknowledged.
    pub ack_timeout: Option<Duration>,
}

/// How a change reached Clarion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A signed link in a notification.
    Link,
    Api,
    Cli,
    /// A chat button (Slack).
    Chat,
    /// A form of the web pages (`/ui/`), signed in with a token's session.
    Web,
    /// Clarion itself: opened, escalated, resolved, ack timeout.
    Automatic,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Link => "link",
            Via::Api => "api",
            Via::Cli => "cli",
            Via::Chat => "chat",
            Via::Web => "web",
            Via::Automatic => "automatic",
        }
    }

    pub fn parse(s: &str) -> Option<Via> {
        [Via::Link, Via::Api, Via::Cli, Via::Chat, Via::Web, Via::Automatic].into_iter().find(|v| v.as_str() == s)
    }
}

/// Who did something, and through which path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub who: String,
    pub via: Via,
}

impl Actor {
    /// Clarion itself.
    pub fn clarion() -> Actor {
        Actor { who: "clarion".into(), via: Via::Automatic }
    }
}

/// The stored life of a page: its state, the escalation position and the next timer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageLife {
    pub state: PageState,
    /// The tier last notified (0-based) and in which round (0 = first pass); `None` before tier 1.
    pub position: Option<(usize, u32)>,
    /// How many times escalation started again from tier 1 (after an un-acknowledgement): part of the
    /// idempotency key of a tier's messages, so a restarted tier 1 is not taken for the first one.
    pub epoch: u32,
    /// When a `Due` event is next expected: the next tier, the ack timeout, or the first tier of a new page.
    pub next_at: Option<Timestamp>,
    pub opened_at: Timestamp,
    pub acknowledged_at: Option<Timestamp>,
    pub acknowledged_by: Option<String>,
    pub action_done_at: Option<Timestamp>,
    pub action_done_by: Option<String>,
    pub resolved_at: Option<Timestamp>,
}

impl PageLife {
    /// A page opening at `now`. With a policy, tier 1 is due at once; without, no timer is set.
    pub fn open(policy: Option<&Policy>, now: Timestamp) -> PageLife {
        PageLife {
            state: PageState::Triggered,
            position: None,
            epoch: 0,
            next_at: policy.map(|_| now),
            opened_at: now,
            acknowledged_at: None,
            acknowledged_by: None,
            action_done_at: None,
            action_done_by: None,
            resolved_at: None,
        }
    }
}

/// What happens to a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `next_at` has come.
    Due,
    Acknowledge(Actor),
    Unacknowledge(Actor),
    ActionDone(Actor),
    Resolve(Actor),
}

/// Why a tier's targets are notified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyReason {
    /// The page opened (tier 1) or nobody acknowledged within the previous tier's wait.
    Escalation,
    /// The page was acknowledged but still open after the policy's `ack_timeout`.
    AckTimedOut,
    /// Someone un-acknowledged the page.
    Unacknowledged,
}

/// What the server must do after a step, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Notify these targets: tier `tier` (0-based) of round `round`.
    Notify { tier: usize, round: u32, targets: Vec<Target>, reason: NotifyReason },
    /// Write this to the page's timeline.
    Record(Record),
}

/// A timeline entry a step produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub kind: RecordKind,
    pub actor: Actor,
    pub detail: String,
}

/// Kinds of timeline entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    Opened,
    Escalated,
    Acknowledged,
    Unacknowledged,
    ActionDone,
    Resolved,
    /// The tiers ran out without an acknowledgement.
    Exhausted,
    Delivered,
    Failed,
}

impl RecordKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Opened => "opened",
            RecordKind::Escalated => "escalated",
            RecordKind::Acknowledged => "acknowledged",
            RecordKind::Unacknowledged => "unacknowledged",
            RecordKind::ActionDone => "action_done",
            RecordKind::Resolved => "resolved",
            RecordKind::Exhausted => "exhausted",
            RecordKind::Delivered => "delivered",
            RecordKind::Failed => "failed",
        }
    }
}

/// Why an event is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the page is resolved")]
    Resolved,
    #[error("the page is not acknowledged")]
    NotAcknowledged,
}

fn after(now: Timestamp, d: Duration) -> Timestamp {
    crate::later(now, d)
}

fn record(kind: RecordKind, actor: &Actor, detail: impl Into<String>) -> Effect {
    Effect::Record(Record { kind, actor: actor.clone(), detail: detail.into() })
}

/// The targets of tier `tier`, without the page's own team when `skip_own` (it has the page already).
fn targets(policy: &Policy, tier: usize, own_team: &str, skip_own: bool) -> Vec<Target> {
    policy.tiers[tier]
        .targets
        .iter()
        .filter(|t| !(skip_own && matches!(t, Target::Team(n) if n == own_team)))
        .cloned()
        .collect()
}

/// Notifies tier 1 of round 0 again (after an un-acknowledgement), telling the own team too.
fn restart(
    life: &mut PageLife,
    policy: Option<&Policy>,
    own_team: &str,
    reason: NotifyReason,
    now: Timestamp,
) -> Vec<Effect> {
    let Some(policy) = policy.filter(|p| !p.tiers.is_empty()) else {
        life.position = None;
        life.next_at = None;
        return Vec::new();
    };
    life.position = Some((0, 0));
    life.epoch += 1;
    life.next_at = Some(after(now, policy.tiers[0].wait));
    vec![
        Effect::Notify { tier: 0, round: 0, targets: targets(policy, 0, own_team, false), reason },
        record(RecordKind::Escalated, &Actor::clarion(), format!("tier 1 of policy {}", policy.name)),
    ]
}

/// One event in the life of a page owned by `own_team` under `policy` (see the module documentation).
pub fn step(
    life: &PageLife,
    event: &Event,
    policy: Option<&Policy>,
    own_team: &str,
    now: Timestamp,
) -> Result<(PageLife, Vec<Effect>), Refusal> {
    if life.state == PageState::Resolved {
        return Err(Refusal::Resolved);
    }
    let mut next = life.clone();
    let effects = match event {
        Event::Due => {
            if life.next_at.is_none_or(|at| at > now) {
                return Ok((next, Vec::new()));
            }
            match life.state {
                PageState::Acknowledged => {
                    // Only the ack timeout sets a timer on an acknowledged page.
                    next.state = PageState::Triggered;
                    next.acknowledged_at = None;
                    next.acknowledged_by = None;
                    let mut out = vec![record(
                        RecordKind::Unacknowledged,
                        &Actor::clarion(),
                        "still open after the ack timeout; escalating again",
                    )];
                    out.extend(restart(&mut next, policy, own_team, NotifyReason::AckTimedOut, now));
                    out
                }
                PageState::Triggered => escalate(&mut next, policy, own_team, now),
                PageState::Resolved => Vec::new(),
            }
        }
        Event::Acknowledge(actor) => {
            if life.state == PageState::Acknowledged {
                return Ok((next, Vec::new()));
            }
            next.state = PageState::Acknowledged;
            next.acknowledged_at = Some(now);
            next.acknowledged_by = Some(actor.who.clone());
            next.next_at = policy.and_then(|p| p.ack_timeout).map(|t| after(now, t));
            vec![record(RecordKind::Acknowledged, actor, "")]
        }
        Event::Unacknowledge(actor) => {
            if life.state != PageState::Acknowledged {
                return Err(Refusal::NotAcknowledged);
            }
            next.state = PageState::Triggered;
            next.acknowledged_at = None;
            next.acknowledged_by = None;
            let mut out = vec![record(RecordKind::Unacknowledged, actor, "")];
            out.extend(restart(&mut next, policy, own_team, NotifyReason::Unacknowledged, now));
            out
        }
        Event::ActionDone(actor) => {
            let mut out = Vec::new();
            if life.state == PageState::Triggered {
                next.state = PageState::Acknowledged;
                next.acknowledged_at = Some(now);
                next.acknowledged_by = Some(actor.who.clone());
                out.push(record(RecordKind::Acknowledged, actor, "with the action done"));
            }
            next.action_done_at = Some(now);
            next.action_done_by = Some(actor.who.clone());
            next.next_at = None;
            out.push(record(RecordKind::ActionDone, actor, ""));
            out
        }
        Event::Resolve(actor) => {
            next.state = PageState::Resolved;
            next.resolved_at = Some(now);
            next.next_at = None;
            vec![record(RecordKind::Resolved, actor, "")]
        }
    };
    Ok((next, effects))
}

/// A triggered page's timer came: notify the next tier, start the next round, or stop.
fn escalate(life: &mut PageLife, policy: Option<&Policy>, own_team: &str, now: Timestamp) -> Vec<Effect> {
    let Some(policy) = policy.filter(|p| !p.tiers.is_empty()) else {
        life.next_at = None;
        return Vec::new();
    };
    // Only the very first notification of the page is the page itself reaching its own team.
    let first = life.position.is_none();
    let (tier, round) = match life.position {
        None => (0, 0),
        Some((t, r)) if t + 1 < policy.tiers.len() => (t + 1, r),
        Some((_, r)) if r < policy.repeat => (0, r + 1),
        Some(_) => {
            life.next_at = None;
            return vec![record(
                RecordKind::Exhausted,
                &Actor::clarion(),
                format!("every tier of policy {} was notified and nobody acknowledged", policy.name),
            )];
        }
    };
    life.position = Some((tier, round));
    life.next_at = Some(after(now, policy.tiers[tier].wait));
    let targets = targets(policy, tier, own_team, first);
    let round_note = if round > 0 { format!(", round {}", round + 1) } else { String::new() };
    vec![
        Effect::Notify { tier, round, targets, reason: NotifyReason::Escalation },
        record(
            RecordKind::Escalated,
            &Actor::clarion(),
            format!("tier {}{round_note} of policy {}", tier + 1, policy.name),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(secs: i64) -> Timestamp {
        chrono::Utc.timestamp_opt(1_800_000_000 + secs, 0).single().unwrap_or_default()
    }

    fn min(m: u64) -> Duration {
        Duration::from_secs(m * 60)
    }

    fn policy() -> Policy {
        Policy {
            name: "ops-default".into(),
            tiers: vec![
                Tier { targets: vec![Target::Team("ops".into())], wait: min(5) },
                Tier { targets: vec![Target::Person("alice".into())], wait: min(10) },
                Tier { targets: vec![Target::Provider("cloud-support".into())], wait: min(30) },
            ],
            repeat: 1,
            ack_timeout: Some(min(60)),
        }
    }

    fn alice(via: Via) -> Actor {
        Actor { who: "alice".into(), via }
    }

    /// Drives a page the way the escalation worker does: a `Due` at every timer up to `until`.
    struct Run {
        life: PageLife,
        policy: Policy,
        notified: Vec<(i64, usize, u32, Vec<String>)>,
    }

    impl Run {
        fn open() -> Run {
            let policy = policy();
            Run { life: PageLife::open(Some(&policy), t(0)), policy, notified: Vec::new() }
        }

        fn apply(&mut self, event: Event, at: i64) -> Result<Vec<Effect>, Refusal> {
            let (life, effects) = step(&self.life, &event, Some(&self.policy), "ops", t(at))?;
            for e in &effects {
                if let Effect::Notify { tier, round, targets, .. } = e {
                    self.notified.push((at, *tier, *round, targets.iter().map(|t| t.to_string()).collect()));
                }
            }
            self.life = life;
            Ok(effects)
        }

        /// Fires every timer due up to `until`, in order.
        fn run_until(&mut self, until: i64) -> Result<(), Refusal> {
            while let Some(at) = self.life.next_at.filter(|at| *at <= t(until)) {
                self.apply(Event::Due, (at - t(0)).num_seconds())?;
            }
            Ok(())
        }
    }

    #[test]
    fn tiers_fire_at_their_times_then_repeat_then_stop() -> Result<(), Refusal> {
        let mut run = Run::open();
        run.run_until(24 * 3600)?;
        let want: Vec<(i64, usize, u32, Vec<String>)> = vec![
            (0, 0, 0, vec![]), // tier 1 is the own team, which has the page already
            (300, 1, 0, vec!["person:alice".into()]),
            (900, 2, 0, vec!["provider:cloud-support".into()]),
            (2700, 0, 1, vec!["team:ops".into()]), // round 2 tells the team again
            (3000, 1, 1, vec!["person:alice".into()]),
            (3600, 2, 1, vec!["provider:cloud-support".into()]),
        ];
        assert_eq!(run.notified, want);
        assert_eq!(run.life.next_at, None, "exhausted: no timer left");
        assert_eq!(run.life.state, PageState::Triggered, "still triggered and visible");
        Ok(())
    }

    #[test]
    fn a_due_event_before_its_time_changes_nothing() -> Result<(), Refusal> {
        let mut run = Run::open();
        run.run_until(0)?;
        let before = run.life.clone();
        assert!(run.apply(Event::Due, 299)?.is_empty());
        assert_eq!(run.life, before, "not early");
        Ok(())
    }

    #[test]
    fn acknowledging_mid_tier_stops_escalation_until_the_ack_timeout() -> Result<(), Refusal> {
        let mut run = Run::open();
        run.run_until(400)?; // tier 2 (alice) notified at 300
        run.apply(Event::Acknowledge(alice(Via::Link)), 420)?;
        assert_eq!(run.life.state, PageState::Acknowledged);
        assert_eq!(run.life.next_at, Some(t(420 + 3600)), "only the ack timeout is left");
        run.run_until(420 + 3599)?;
        assert_eq!(run.notified.len(), 2, "no tier fires while acknowledged");
        // Still open an hour after the acknowledgement: un-acknowledged, escalation starts again.
        let effects = run.apply(Event::Due, 420 + 3600)?;
        assert_eq!(run.life.state, PageState::Triggered);
        assert_eq!(run.life.acknowledged_by, None);
        assert!(effects.iter().any(|e| matches!(e, Effect::Record(r) if r.kind == RecordKind::Unacknowledged)));
        assert_eq!(
            run.notified.last(),
            Some(&(4020, 0, 0, vec!["team:ops".to_string()])),
            "tier 1 again, the own team told this time"
        );
        Ok(())
    }

    #[test]
    fn a_resolved_page_keeps_no_timer_and_refuses_later_events() -> Result<(), Refusal> {
        let mut run = Run::open();
        run.run_until(350)?;
        run.apply(Event::Resolve(Actor::clarion()), 360)?;
        assert_eq!((run.life.state, run.life.next_at), (PageState::Resolved, None));
        assert_eq!(run.apply(Event::Acknowledge(alice(Via::Api)), 400), Err(Refusal::Resolved));
        assert_eq!(run.apply(Event::Due, 900), Err(Refusal::Resolved));
        Ok(())
    }

    #[test]
    fn unacknowledging_restarts_escalation_at_once() -> Result<(), Refusal> {
        let mut run = Run::open();
        run.run_until(0)?;
        assert_eq!(run.apply(Event::Unacknowledge(alice(Via::Cli)), 10), Err(Refusal::NotAcknowledged));
        run.apply(Event::Acknowledge(alice(Via::Cli)), 20)?;
        run.apply(Event::Unacknowledge(alice(Via::Cli)), 30)?;
        assert_eq!(run.life.state, PageState::Triggered);
        assert_eq!(run.notified.last(), Some(&(30, 0, 0, vec!["team:ops".to_string()])));
        assert_eq!(run.life.next_at, Some(t(330)));
        assert_eq!(run.life.epoch, 1, "a new epoch, so tier 1's messages get keys of their own");
        Ok(())
    }

    #[test]
    fn action_done_acknowledges_and_stops_every_timer() -> Result<(), Refusal> {
        let mut run = Run::open();
        run.run_until(0)?;
        run.apply(Event::ActionDone(alice(Via::Api)), 60)?;
        assert_eq!(run.life.state, PageState::Acknowledged);
        assert_eq!(
            (run.life.acknowledged_by.as_deref(), run.life.action_done_by.as_deref()),
            (Some("alice"), Some("alice"))
        );
        assert_eq!(run.life.next_at, None);
        Ok(())
    }

    #[test]
    fn acknowledging_twice_is_a_no_op_that_keeps_the_first_acknowledgement() -> Result<(), Refusal> {
        let mut run = Run::open();
        run.apply(Event::Acknowledge(alice(Via::Link)), 10)?;
        let effects = run.apply(Event::Acknowledge(Actor { who: "bob".into(), via: Via::Api }), 20)?;
        assert!(effects.is_empty());
        assert_eq!(run.life.acknowledged_by.as_deref(), Some("alice"));
        Ok(())
    }

    #[test]
    fn two_instances_applying_the_same_due_event_compute_the_same_notice() -> Result<(), Refusal> {
        // What makes "escalate each page once" work: both derive (tier, round) from the stored life, so
        // their messages carry the same idempotency key, and only one commit of the new life succeeds.
        let run = Run::open();
        let (_, a) = step(&run.life, &Event::Due, Some(&run.policy), "ops", t(0))?;
        let (_, b) = step(&run.life, &Event::Due, Some(&run.policy), "ops", t(1))?;
        let notify = |effects: &[Effect]| {
            effects.iter().find_map(|e| match e {
                Effect::Notify { tier, round, .. } => Some((*tier, *round)),
                _ => None,
            })
        };
        assert_eq!(notify(&a), notify(&b));
        Ok(())
    }

    #[test]
    fn a_page_without_a_policy_only_changes_state() -> Result<(), Refusal> {
        let life = PageLife::open(None, t(0));
        assert_eq!(life.next_at, None);
        let (life, effects) = step(&life, &Event::Acknowledge(alice(Via::Chat)), None, "ops", t(5))?;
        assert_eq!((life.state, life.next_at, effects.len()), (PageState::Acknowledged, None, 1));
        Ok(())
    }

    #[test]
    fn targets_parse_from_their_written_form() {
        assert_eq!(Target::parse("team:ops"), Some(Target::Team("ops".into())));
        assert_eq!(Target::parse("person: alice"), Some(Target::Person("alice".into())));
        assert_eq!(
            Target::parse("provider:cloud-support").map(|t| t.to_string()).as_deref(),
            Some("provider:cloud-support")
        );
        assert_eq!(Target::parse("group:x"), None);
        assert_eq!(Target::parse("team:"), None);
        assert_eq!(Target::parse("ops"), None);
    }
}
