//! The communication standard: which clarity fields each kind and severity of message must carry, and the
//! rules beyond presence that make a message clear and actionable. A pure function from a [`Message`] to
//! [`Finding`]s; callers decide whether a finding flags a message (alerts) or rejects it (announcements).
//!
//! # The built-in standard ([`Standard::default`])
//!
//! Required fields, per kind and severity. `a|b` means "at least one of"; `action` is also satisfied by an
//! explicit "no action needed" ([`Message::no_action_needed`]).
//!
//! | kind | severity | required |
//! |---|---|---|
//! | alert | paging (`critical`, `page`) | `summary`, `impact`, `action\|runbook`, `owner` |
//! | alert | any other | `summary`, `impact`, `runbook\|action` |
//! | announcement | any | `action`, `owner` — plus what, why and impact (rule `announcement-incomplete-change`) |
//! | planned event | any | `action`, `owner` — plus what, why and impact (rule `announcement-incomplete-change`) |
//! | advisory | any | `summary`, `impact`, `action`, `owner` |
//!
//! A required action that is not "no action needed" also needs a `deadline` (every kind but alerts, whose
//! deadline is "now, while it fires") and an `owner` (every kind): rules `action-needs-deadline` and
//! `action-needs-owner`. So an advisory or announcement that asks for something always says by when.
//!
//! Severities compare case-insensitively. Which severities page is configurable, and so is each list:
//! a kind can have a `paging` list, a `default` list and lists for named severities; the most specific
//! one applies (named severity, then paging, then default).
//!
//! # Rules
//!
//! Every finding carries a stable rule id (kebab-case), listed in [`RULES`]. The first three read what a
//! field says; a field they report counts as absent for the required lists (and is not reported again as
//! missing):
//!
//! - `placeholder-text`: a field that only holds a place — "unknown", "TBD", "n/a" (except as an action,
//!   where it means "no action needed"), an example.com runbook ([`words::PLACEHOLDERS`],
//!   [`words::PLACEHOLDER_HOSTS`]).
//! - `context-restates-metric`: an alert's description that, once templates, numbers, the
//!   "VALUE = … LABELS = …" dump and words of no content are set aside, says at most two words the summary
//!   does not: it is neither context nor impact ([`words::restates_metric`]).
//! - `instruction-in-description`: an alert with neither action nor runbook whose description holds a step
//!   ("Restart the exporter …"): the fix is to move it to `action`, not to write one
//!   ([`words::instruction`]).
//!
//! Then the rules of presence and form:
//!
//! - `missing-field`: a field (or every alternative of an any-of) the standard requires is absent. Blank
//!   text counts as absent.
//! - `announcement-incomplete-change`: an announcement or planned event announces a change, so it must say
//!   what changes (`summary`), why (`context`) and what it means for the audience (`impact`). This rule
//!   applies whatever the required lists say; it is what the built-in lists of those kinds rely on.
//! - `action-needs-deadline`: a message other than an alert that asks for an action says by when.
//! - `action-needs-owner`: a message that asks for an action names who is accountable for it.
//! - `summary-multiline`: the summary is one line (it is a notification's title).
//! - `summary-too-long`: the summary is at most [`Standard::summary_max_chars`] characters (default
//!   [`DEFAULT_SUMMARY_MAX_CHARS`]), counted as written: template text counts as its source.
//! - `summary-no-state`: an alert's summary names what is measured but no state or direction ("Minio disk
//!   space usage"): none of [`words::STATE_WORDS`] and no comparison sign.
//! - `summary-misstates-condition`: (rules read by `clarion lint`) the summary announces an end state
//!   ("out of memory", "exhausted", "full") while the expression fires before it, at a share such as 90%
//!   ([`words::misstates_condition`], [`QueryFacts::condition`]).
//! - `template-label-dropped`: (rules read by `clarion lint`, whose expression it parses) an annotation
//!   names a label (`{{ $labels.instance }}`) that the expression aggregates away (`sum by (job)`, `sum()`),
//!   so it renders blank ([`QueryFacts::kept_labels`]).
//! - `summary-names-exporter`: (rules read by `clarion lint`) the summary's only label is `instance`
//!   while the expression reads an exporter of other things (`kube_*`, CloudWatch's `aws_*`): the instance
//!   is the exporter, not what is broken.
//! - `blank-label`: a received alert's text rendered a label blank, "(instance )" ([`words::blank_labels`]).
//! - `vague-action`: the action is only a forward — "please handle", "FYI", "see above", "as discussed" —
//!   and does not say what to do. Matching ignores case and punctuation; the action is vague when it is
//!   made only of [`VAGUE_PHRASES`] (plus configured ones) and [`FILLER_WORDS`]. An action made only of
//!   punctuation is vague too.
//! - `vague-text`: summary, description, impact or action guesses ("might be crashlooping"), states a
//!   generic goal ("ensure that all the data are available"), investigates nothing in particular
//!   ("Investigate the cluster", a bare "check"), or says only that something is wrong
//!   ([`words::vagueness`]).
//! - `runbook-not-absolute-url`: the runbook is an absolute `http://` or `https://` URL with a host.
//!   Template text (`{{ … }}`) is allowed anywhere, including the host. A runbook that *starts* with a
//!   template (`{{ $labels.runbook }}`, `{{ $externalURL }}/runbooks/x`) is accepted, since the template
//!   can expand to an absolute URL; a path (`/wiki/x`, `./x`, `wiki/x`), another scheme (`file://`,
//!   `ftp://`) or text with spaces outside templates is not.
//!
//! A field is reported at most once: the presence rules run in the order above and a later one skips a
//! field an earlier one already reported missing. Findings come out in that rule order, and within a rule
//! in the order of the required list, then of [`ClarityField::ALL`]: the same message always gives the same
//! list.
//!
//! # "No action needed"
//!
//! An action whose text, ignoring case and punctuation, is one of [`NO_ACTION_PHRASES`] ("none",
//! "no action needed", "n/a", …) is an explicit "no action needed", not an action: [`Message::with`] and
//! [`Message::from_alert`] turn it into [`Message::no_action_needed`].

//!
//! # Where things are
//!
//! [`message`] is the model a check reads; [`rules`] holds one function per rule and the table that orders
//! them; [`phrases`] holds the word lists of actions; [`words`] reads what a text says (placeholders,
//! restated metrics, vagueness, state, instructions, blank labels). This module holds the requirements per kind and severity.

mod explain;
mod message;
mod phrases;
mod rules;
pub mod words;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

pub use crate::clarity::ClarityField;
pub use explain::explain;
pub use message::{Message, MessageKind, OrderedThreshold, QueryFacts};
pub use phrases::{is_no_action, normalize, FILLER_WORDS, NO_ACTION_PHRASES, VAGUE_PHRASES};
pub use rules::{is_absolute_url, named as field_name, rule, rule_id, Rule, RULES};

/// Longest summary of the built-in standard, in characters: what fits a notification title or a chat
/// message preview.
pub const DEFAULT_SUMMARY_MAX_CHARS: usize = 120;

/// Severities that page in the built-in standard.
pub const DEFAULT_PAGING_SEVERITIES: &[&str] = &["critical", "page"];

/// Why a text is not a requirement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequirementError {
    #[error("{0:?} has an empty alternative; write fields such as `impact|context`")]
    EmptyAlternative(String),
    #[error(transparent)]
    UnknownField(#[from] crate::clarity::UnknownField),
}

/// One entry of a required list: the message must carry at least one of these fields.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Requirement {
    /// The alternatives, never empty, without duplicates, in the order written.
    any_of: Vec<ClarityField>,
}

impl Requirement {
    /// A requirement of exactly one field.
    pub fn field(field: ClarityField) -> Requirement {
        Requirement { any_of: vec![field] }
    }

    /// A requirement satisfied by any of `fields`; `None` when `fields` is empty.
    pub fn any_of(fields: &[ClarityField]) -> Option<Requirement> {
        let mut any_of = Vec::new();
        for f in fields {
            if !any_of.contains(f) {
                any_of.push(*f);
            }
        }
        (!any_of.is_empty()).then_some(Requirement { any_of })
    }

    /// The alternatives, in the order written.
    pub fn fields(&self) -> &[ClarityField] {
        &self.any_of
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.any_of.iter().map(|f| f.as_str()).collect();
        f.write_str(&names.join("|"))
    }
}

impl FromStr for Requirement {
    type Err = RequirementError;

    /// `summary`, or alternatives separated by `|` such as `impact|context`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fields = s
            .split('|')
            .map(|part| {
                let part = part.trim();
                if part.is_empty() {
                    Err(RequirementError::EmptyAlternative(s.to_string()))
                } else {
                    part.parse::<ClarityField>().map_err(RequirementError::from)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Requirement::any_of(&fields).ok_or_else(|| RequirementError::EmptyAlternative(s.to_string()))
    }
}

/// What one kind of message must carry, by severity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KindRequirements {
    /// For paging severities, when set; otherwise they use `default`.
    pub paging: Option<Vec<Requirement>>,
    /// For every severity without a more specific list.
    pub default: Vec<Requirement>,
    /// For named severities (lowercase); more specific than `paging` and `default`.
    pub severities: BTreeMap<String, Vec<Requirement>>,
}

/// One way a message falls short of the standard, with how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule's stable id, one of [`RULES`].
    pub rule: &'static str,
    /// The field to fix; for an any-of requirement, its first alternative. `None` for the message as a whole.
    pub field: Option<ClarityField>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub fix: String,
}

/// The communication standard: required fields per kind and severity, limits, and rules switched off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standard {
    /// Longest summary, in characters.
    pub summary_max_chars: usize,
    /// Severities that page (lowercase).
    pub paging_severities: Vec<String>,
    pub alert: KindRequirements,
    pub announcement: KindRequirements,
    pub planned_event: KindRequirements,
    pub advisory: KindRequirements,
    /// Phrases that make an action vague: [`VAGUE_PHRASES`] and any configured ones.
    pub vague_phrases: Vec<String>,
    /// Ids of rules not to apply.
    pub disabled_rules: BTreeSet<&'static str>,
    /// Words a configuration adds to the built-in lists of [`words`].
    pub extra_words: words::ExtraWords,
}

impl Default for Standard {
    fn default() -> Self {
        use ClarityField::*;
        let req = |fields: &[ClarityField]| Requirement::any_of(fields).expect("built-in requirements are non-empty");
        let per_kind = |default: Vec<Requirement>| KindRequirements { default, ..KindRequirements::default() };
        Standard {
            summary_max_chars: DEFAULT_SUMMARY_MAX_CHARS,
            paging_severities: DEFAULT_PAGING_SEVERITIES.iter().map(|s| s.to_string()).collect(),
            alert: KindRequirements {
                paging: Some(vec![req(&[Summary]), req(&[Impact]), req(&[Action, Runbook]), req(&[Owner])]),
                default: vec![req(&[Summary]), req(&[Impact]), req(&[Runbook, Action])],
                severities: BTreeMap::new(),
            },
            announcement: per_kind(vec![req(&[Action]), req(&[Owner])]),
            planned_event: per_kind(vec![req(&[Action]), req(&[Owner])]),
            advisory: per_kind(vec![req(&[Summary]), req(&[Impact]), req(&[Action]), req(&[Owner])]),
            vague_phrases: VAGUE_PHRASES.iter().map(|s| s.to_string()).collect(),
            disabled_rules: BTreeSet::new(),
            extra_words: words::ExtraWords::default(),
        }
    }
}

impl Standard {
    /// The requirements of one kind.
    pub fn kind(&self, kind: MessageKind) -> &KindRequirements {
        match kind {
            MessageKind::Alert => &self.alert,
            MessageKind::Announcement => &self.announcement,
            MessageKind::PlannedEvent => &self.planned_event,
            MessageKind::Advisory => &self.advisory,
        }
    }

    /// The requirements of one kind, to change.
    pub fn kind_mut(&mut self, kind: MessageKind) -> &mut KindRequirements {
        match kind {
            MessageKind::Alert => &mut self.alert,
            MessageKind::Announcement => &mut self.announcement,
            MessageKind::PlannedEvent => &mut self.planned_event,
            MessageKind::Advisory => &mut self.advisory,
        }
    }

    /// Whether `severity` pages (case-insensitive).
    pub fn is_paging(&self, severity: &str) -> bool {
        let severity = severity.trim().to_lowercase();
        self.paging_severities.iter().any(|s| s.to_lowercase() == severity)
    }

    /// The required list for a message of `kind` and `severity`: the named severity's list, else the paging
    /// list for a paging severity, else the default list.
    pub fn required(&self, kind: MessageKind, severity: &str) -> &[Requirement] {
        let k = self.kind(kind);
        let sev = severity.trim().to_lowercase();
        if let Some(list) = k.severities.get(&sev) {
            return list;
        }
        match &k.paging {
            Some(list) if self.is_paging(&sev) => list,
            _ => &k.default,
        }
    }

    /// Every way `message` falls short of this standard, in a fixed order (see the module documentation).
    pub fn check(&self, message: &Message) -> Vec<Finding> {
        rules::run(self, message)
    }

    /// The findings of an alert, as its readers see them; `team` is the team it goes to, the owner it
    /// falls back to when it names none.
    pub fn alert_findings(
        &self,
        alert: &crate::alert::Alert,
        team: Option<&str>,
    ) -> Vec<crate::notification::FindingNote> {
        self.check(&Message::from_alert(&alert.labels, &alert.annotations, team)).into_iter().map(Into::into).collect()
    }

    /// Whether `action` only forwards the message: made of vague phrases and filler words alone.
    pub fn is_vague(&self, action: &str) -> bool {
        rules::is_vague_with(action, &self.vague_phrases)
    }
}

/// The findings of the firing alerts of one name: what `clarion standard report` and the
/// `clarion_standard_findings` gauges show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertNameReport {
    pub alertname: String,
    /// Firing alerts of this name.
    pub alerts: usize,
    /// Alerts with at least one finding.
    pub alerts_with_findings: usize,
    /// Findings by rule id.
    pub findings: BTreeMap<String, usize>,
    /// One fix per rule, as the standard words it.
    pub fixes: BTreeMap<String, String>,
}

/// How `alerts` measure up to `standard`, per alert name, the names with the most findings first (the
/// alerts to fix first). Each alert is checked with the team its first matching route names as the owner
/// it falls back to.
pub fn report<'a>(
    standard: &Standard,
    route: &crate::route::Route,
    alerts: impl IntoIterator<Item = &'a crate::alert::Alert>,
) -> Vec<AlertNameReport> {
    let mut by_name: BTreeMap<String, AlertNameReport> = BTreeMap::new();
    for alert in alerts {
        let name = alert.labels.get("alertname").unwrap_or_default().to_string();
        let findings = standard.alert_findings(alert, route.first_receiver(&alert.labels));
        let entry = by_name.entry(name.clone()).or_insert_with(|| AlertNameReport {
            alertname: name,
            alerts: 0,
            alerts_with_findings: 0,
            findings: BTreeMap::new(),
            fixes: BTreeMap::new(),
        });
        entry.alerts += 1;
        if !findings.is_empty() {
            entry.alerts_with_findings += 1;
        }
        for f in findings {
            *entry.findings.entry(f.rule.clone()).or_default() += 1;
            entry.fixes.entry(f.rule).or_insert(f.fix);
        }
    }
    let mut out: Vec<AlertNameReport> = by_name.into_values().collect();
    out.sort_by(|a, b| {
        let total = |r: &AlertNameReport| r.findings.values().sum::<usize>();
        total(b).cmp(&total(a)).then_with(|| a.alertname.cmp(&b.alertname))
    });
    out
}

#[cfg(test)]
mod tests;
