//! Effectiveness: did the people told act, and how fast?
//!
//! The unit is the **page** (one group's notification to one team, or one announcement to one team):
//! what a person is asked to acknowledge. A team's row counts the pages opened for it in the window; an
//! alert name's row counts the pages that carried its firings (a page carried a firing when the page was
//! of one of the firing's groups and open while it fired), and its firings. Time to acknowledge runs from
//! the page's opening to its first acknowledgement.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::{percentile, rate, Episode, PageFacts, Verdict, Window};

/// How many of each verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedbackCounts {
    pub useful: usize,
    pub false_positive: usize,
    pub not_actionable: usize,
    pub poor_details: usize,
}

impl FeedbackCounts {
    pub fn add(&mut self, verdict: Verdict) {
        match verdict {
            Verdict::Useful => self.useful += 1,
            Verdict::FalsePositive => self.false_positive += 1,
            Verdict::NotActionable => self.not_actionable += 1,
            Verdict::PoorDetails => self.poor_details += 1,
        }
    }

    pub fn total(&self) -> usize {
        self.useful + self.false_positive + self.not_actionable + self.poor_details
    }
}

/// One row of the effectiveness report: a team's, or an alert name's.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The team or alert name.
    pub key: String,
    /// Firings of the alert name (or in the team's groups) that started in the window.
    pub firings: usize,
    /// Pages opened in the window.
    pub pages: usize,
    pub acknowledged: usize,
    pub ack_rate: Option<f64>,
    pub time_to_ack_p50: Option<Duration>,
    pub time_to_ack_p90: Option<Duration>,
    /// Pages whose escalation went past tier 1.
    pub escalated: usize,
    pub escalation_rate: Option<f64>,
    /// Pages someone marked "action done".
    pub action_done: usize,
    pub action_done_rate: Option<f64>,
    pub feedback: FeedbackCounts,
    /// Pages opened outside the team's working hours.
    pub outside_hours: usize,
    pub outside_hours_share: Option<f64>,
}

fn row(key: String, firings: usize, pages: &[&PageFacts]) -> Row {
    let acknowledged: Vec<Duration> = pages
        .iter()
        .filter_map(|p| p.acknowledged_at.map(|a| (a - p.opened_at).to_std().unwrap_or(Duration::ZERO)))
        .collect();
    let escalated = pages.iter().filter(|p| p.escalated).count();
    let action_done = pages.iter().filter(|p| p.action_done_at.is_some()).count();
    let outside_hours = pages.iter().filter(|p| p.outside_hours).count();
    let mut feedback = FeedbackCounts::default();
    for verdict in pages.iter().flat_map(|p| &p.feedback) {
        feedback.add(*verdict);
    }
    Row {
        key,
        firings,
        pages: pages.len(),
        acknowledged: acknowledged.len(),
        ack_rate: rate(acknowledged.len(), pages.len()),
        time_to_ack_p50: percentile(&acknowledged, 50),
        time_to_ack_p90: percentile(&acknowledged, 90),
        escalated,
        escalation_rate: rate(escalated, pages.len()),
        action_done,
        action_done_rate: rate(action_done, pages.len()),
        feedback,
        outside_hours,
        outside_hours_share: rate(outside_hours, pages.len()),
    }
}

/// One row per team with a page opened in the window, by team name.
pub fn by_team(pages: &[PageFacts], episodes: &[Episode], window: &Window) -> Vec<Row> {
    let mut of_team: BTreeMap<&str, Vec<&PageFacts>> = BTreeMap::new();
    for p in pages.iter().filter(|p| window.contains(p.opened_at)) {
        of_team.entry(&p.team).or_default().push(p);
    }
    let mut firings: BTreeMap<&str, usize> = BTreeMap::new();
    for e in episodes.iter().filter(|e| window.contains(e.started)) {
        let teams: BTreeSet<&str> = e.groups.iter().map(|(team, _)| team.as_str()).collect();
        for team in teams {
            *firings.entry(team).or_default() += 1;
        }
    }
    of_team
        .into_iter()
        .map(|(team, pages)| row(team.to_string(), firings.get(team).copied().unwrap_or(0), &pages))
        .collect()
}

/// The pages that carried `episode` (see the module documentation).
pub fn pages_of_episode<'p>(episode: &Episode, pages: &'p [PageFacts], now: crate::Timestamp) -> Vec<&'p PageFacts> {
    let end = episode.ended.unwrap_or(now);
    pages
        .iter()
        .filter(|p| {
            episode.groups.iter().any(|(team, key)| *team == p.team && *key == p.group_key)
                && p.overlaps(episode.started, end)
        })
        .collect()
}

/// One row per alert name with a firing that started in the window, by name. Its pages are those opened
/// in the window that carried one of its firings.
pub fn by_alertname(pages: &[PageFacts], episodes: &[Episode], window: &Window) -> Vec<Row> {
    let mut names: BTreeMap<&str, (usize, BTreeSet<i64>)> = BTreeMap::new();
    for e in episodes.iter().filter(|e| window.contains(e.started)) {
        let entry = names.entry(&e.alertname).or_default();
        entry.0 += 1;
        for p in pages_of_episode(e, pages, window.until) {
            if window.contains(p.opened_at) {
                entry.1.insert(p.id);
            }
        }
    }
    let by_id: BTreeMap<i64, &PageFacts> = pages.iter().map(|p| (p.id, p)).collect();
    names
        .into_iter()
        .map(|(name, (firings, ids))| {
            let pages: Vec<&PageFacts> = ids.iter().filter_map(|id| by_id.get(id).copied()).collect();
            row(name.to_string(), firings, &pages)
        })
        .collect()
}
