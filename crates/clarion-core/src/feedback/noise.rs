//! Noise: alerts that page people without leading to action, and silences that hide nothing.
//!
//! Each detector looks at the firings of one alert name that started in the window (or at silences) and
//! says what it found, the evidence in figures, and what to change. The rules, with their thresholds in
//! [`NoiseRules`]:
//!
//! | finding | when | recommendation |
//! |---|---|---|
//! | never acknowledged | at least `min_firings` firings, none acknowledged | delete (when its firings are short too) or route to a ticket channel instead of a page |
//! | transient | at least `min_firings` firings, `transient_percent`% of them resolved by themselves within `transient` | raise `for:` past the p90 of those lives |
//! | flapping | one of its alerts flaps by [`super::flap`] | `keep_firing_for:` on the rule, or `flap_guard` on its route |
//! | no runbook / no action | a firing without a runbook, or without an action | add one |
//! | mostly silenced | silenced `silenced_percent`% of the time it was seen firing (at least `min_silenced_firing`) | fix or delete the rule |
//! | several routes | a firing was sent through more than one route | keep one route |
//! | idle silence | an active silence matched nothing since it started, `idle_silence` or longer ago | expire it |
//!
//! A firing is **acknowledged** when a page that carried it (see [`super::effectiveness::pages_of_episode`]) was
//! first acknowledged while it fired; one that resolves by itself is one that ended with no such
//! acknowledgement.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::effectiveness::pages_of_episode;
use super::flap::most_starts_in_window;
use super::{format_duration, format_rough, percentile, Episode, NoiseRules, PageFacts, SilenceFacts, Window};
use crate::Timestamp;

/// What a detector found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    NeverAcknowledged,
    Transient,
    Flapping,
    NoRunbook,
    NoAction,
    MostlySilenced,
    SeveralRoutes,
    IdleSilence,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::NeverAcknowledged => "never-acknowledged",
            Kind::Transient => "transient",
            Kind::Flapping => "flapping",
            Kind::NoRunbook => "no-runbook",
            Kind::NoAction => "no-action",
            Kind::MostlySilenced => "mostly-silenced",
            Kind::SeveralRoutes => "several-routes",
            Kind::IdleSilence => "idle-silence",
        }
    }
}

/// What a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Subject {
    /// An alert name (a rule).
    Alert(String),
    /// A silence, by id.
    Silence(String),
}

/// One finding with its evidence and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub subject: Subject,
    pub kind: Kind,
    /// The figures behind it, in words: "312 firings in 7d, 0 acknowledged, median life 1m30s".
    pub evidence: String,
    /// What to change: "delete the rule", "raise `for:` to 10m".
    pub recommendation: String,
}

/// The figures of one alert name over the window, which the detectors read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFigures {
    pub firings: usize,
    /// Firings a page that was acknowledged carried.
    pub acknowledged: usize,
    /// Firings that ended without being acknowledged, within `rules.transient` of their start.
    pub transient: Vec<Duration>,
    /// Lives of the firings that ended.
    pub lives: Vec<Duration>,
    /// The most firings of one of its alerts in one flap window.
    pub most_cycles: usize,
    pub without_runbook: usize,
    pub without_action: usize,
    pub seen_firing: Duration,
    pub silenced: Duration,
    /// The routes (team, group key) its firings went through, at most for one firing.
    pub most_routes: Vec<(String, String)>,
}

/// The figures of each alert name with a firing that started in the window.
pub fn figures(
    episodes: &[Episode],
    pages: &[PageFacts],
    rules: &NoiseRules,
    window: &Window,
) -> BTreeMap<String, AlertFigures> {
    let mut out: BTreeMap<String, AlertFigures> = BTreeMap::new();
    let mut starts: BTreeMap<(&str, crate::Fingerprint), Vec<Timestamp>> = BTreeMap::new();
    for e in episodes.iter().filter(|e| window.contains(e.started)) {
        let f = out.entry(e.alertname.clone()).or_default();
        f.firings += 1;
        // Acknowledged while it fired: an acknowledgement of its page from before it started was about
        // other alerts of the group.
        let end = e.ended.unwrap_or(window.until);
        let acknowledged = pages_of_episode(e, pages, window.until)
            .iter()
            .any(|p| p.acknowledged_at.is_some_and(|a| e.started <= a && a <= end));
        f.acknowledged += usize::from(acknowledged);
        if let Some(end) = e.ended {
            let life = (end - e.started).to_std().unwrap_or(Duration::ZERO);
            f.lives.push(life);
            if !acknowledged && life <= rules.transient {
                f.transient.push(life);
            }
        }
        f.without_runbook += usize::from(!e.has_runbook);
        f.without_action += usize::from(!e.has_action);
        f.seen_firing += e.seen_firing;
        f.silenced += e.silenced;
        if e.groups.len() > f.most_routes.len() {
            f.most_routes = e.groups.clone();
        }
        starts.entry((&e.alertname, e.fingerprint)).or_default().push(e.started);
    }
    for ((name, _), s) in starts {
        if let Some(f) = out.get_mut(name) {
            f.most_cycles = f.most_cycles.max(most_starts_in_window(&s, rules.flap.window));
        }
    }
    out
}

/// `1 firing`, `12 firings`.
fn firings(n: usize) -> String {
    if n == 1 {
        "1 firing".into()
    } else {
        format!("{n} firings")
    }
}

/// `d` rounded up to whole multiples of `step`, at least one step.
fn round_up(d: Duration, step: Duration) -> Duration {
    let steps = d.as_secs().div_ceil(step.as_secs().max(1)).max(1);
    Duration::from_secs(steps * step.as_secs())
}

fn percent(part: Duration, whole: Duration) -> u64 {
    if whole.is_zero() {
        0
    } else {
        (part.as_secs_f64() * 100.0 / whole.as_secs_f64()).round() as u64
    }
}

/// The findings for alert names, in the order of [`Kind`] within each name, names in order.
pub fn alert_findings(figures: &BTreeMap<String, AlertFigures>, rules: &NoiseRules, window: &Window) -> Vec<Finding> {
    let span = format_duration(window.length());
    let mut out = Vec::new();
    for (name, f) in figures {
        let subject = || Subject::Alert(name.clone());
        let median = percentile(&f.lives, 50).map(format_rough).unwrap_or_else(|| "—".into());
        let frequent = f.firings >= rules.min_firings;
        let mostly_transient = frequent
            && f.transient.len() * 100 >= f.firings * rules.transient_percent as usize
            && !f.transient.is_empty();
        if frequent && f.acknowledged == 0 {
            let recommendation = if mostly_transient {
                "delete the rule, or raise `for:` so it fires only when a person must act".to_string()
            } else {
                "route it to a ticket channel instead of a page, or delete it".to_string()
            };
            out.push(Finding {
                subject: subject(),
                kind: Kind::NeverAcknowledged,
                evidence: format!("{} in {span}, 0 acknowledged, median life {median}", firings(f.firings)),
                recommendation,
            });
        }
        if mostly_transient {
            let p90 = percentile(&f.transient, 90).unwrap_or(rules.transient);
            let raise = round_up(p90 + Duration::from_secs(1), Duration::from_secs(5 * 60));
            out.push(Finding {
                subject: subject(),
                kind: Kind::Transient,
                evidence: format!(
                    "{} of {} resolved by themselves within {} (p90 {})",
                    f.transient.len(),
                    firings(f.firings),
                    format_duration(rules.transient),
                    format_duration(p90)
                ),
                recommendation: format!("raise `for:` to {}", format_duration(raise)),
            });
        }
        if f.most_cycles > rules.flap.cycles {
            out.push(Finding {
                subject: subject(),
                kind: Kind::Flapping,
                evidence: format!(
                    "{} fire/resolve cycles within {} (more than {} is flapping)",
                    f.most_cycles,
                    format_duration(rules.flap.window),
                    rules.flap.cycles
                ),
                recommendation: "add `keep_firing_for: 10m` to the rule, or set `flap_guard: true` on its route"
                    .to_string(),
            });
        }
        if f.without_runbook > 0 {
            out.push(Finding {
                subject: subject(),
                kind: Kind::NoRunbook,
                evidence: format!("{} of {} had no runbook", f.without_runbook, firings(f.firings)),
                recommendation: "add a runbook (the `runbook_url` annotation)".to_string(),
            });
        }
        if f.without_action > 0 {
            out.push(Finding {
                subject: subject(),
                kind: Kind::NoAction,
                evidence: format!("{} of {} did not say what to do", f.without_action, firings(f.firings)),
                recommendation: "say what to do (the `action` annotation), or that no action is needed".to_string(),
            });
        }
        let silenced = percent(f.silenced, f.seen_firing);
        if f.seen_firing >= rules.min_silenced_firing && silenced >= u64::from(rules.silenced_percent) {
            out.push(Finding {
                subject: subject(),
                kind: Kind::MostlySilenced,
                evidence: format!("silenced {silenced}% of the {} it was firing", format_rough(f.seen_firing)),
                recommendation: "fix the rule so it fires only when a person must act, or delete it".to_string(),
            });
        }
        if f.most_routes.len() > 1 {
            let teams: BTreeSet<&str> = f.most_routes.iter().map(|(t, _)| t.as_str()).collect();
            out.push(Finding {
                subject: subject(),
                kind: Kind::SeveralRoutes,
                evidence: format!(
                    "a firing was sent through {} routes (to {})",
                    f.most_routes.len(),
                    teams.into_iter().collect::<Vec<_>>().join(", ")
                ),
                recommendation: "keep one route for it (drop `continue: true`, or narrow a matcher)".to_string(),
            });
        }
    }
    out
}

/// Active silences that matched nothing since they started, `rules.idle_silence` or longer before `now`.
pub fn idle_silences(silences: &[SilenceFacts], rules: &NoiseRules, now: Timestamp) -> Vec<Finding> {
    let mut out: Vec<Finding> = silences
        .iter()
        .filter(|s| s.starts_at <= now && now < s.ends_at && s.last_matched_at.is_none())
        .filter_map(|s| {
            let idle = (now - s.starts_at).to_std().ok()?;
            (idle >= rules.idle_silence).then(|| Finding {
                subject: Subject::Silence(s.id.clone()),
                kind: Kind::IdleSilence,
                evidence: format!("{} by {} matched nothing in {}", s.matchers, s.created_by, format_rough(idle)),
                recommendation: format!("expire this silence: `clarion silence expire {}`", s.id),
            })
        })
        .collect();
    out.sort_by(|a, b| a.subject.cmp(&b.subject));
    out
}

/// The whole noise report: findings for alert names, then idle silences.
pub fn report(
    episodes: &[Episode],
    pages: &[PageFacts],
    silences: &[SilenceFacts],
    rules: &NoiseRules,
    window: &Window,
) -> Vec<Finding> {
    let figures = figures(episodes, pages, rules, window);
    let mut out = alert_findings(&figures, rules, window);
    out.extend(idle_silences(silences, rules, window.until));
    out
}
