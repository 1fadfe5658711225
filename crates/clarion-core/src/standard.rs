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
//! | alert | paging (`critical`, `page`) | `summary`, `impact\|context`, `action\|runbook`, `owner` |
//! | alert | any other | `summary`, `runbook\|action` |
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
//! Every finding carries a stable rule id (kebab-case), listed in [`RULES`]:
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
//! - `vague-action`: the action is only a forward — "please handle", "FYI", "see above", "as discussed" —
//!   and does not say what to do. Matching ignores case and punctuation; the action is vague when it is
//!   made only of [`VAGUE_PHRASES`] (plus configured ones) and [`FILLER_WORDS`]. An action made only of
//!   punctuation is vague too.
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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use crate::labels::LabelSet;

/// Longest summary of the built-in standard, in characters: what fits a notification title or a chat
/// message preview.
pub const DEFAULT_SUMMARY_MAX_CHARS: usize = 120;

/// Severities that page in the built-in standard.
pub const DEFAULT_PAGING_SEVERITIES: &[&str] = &["critical", "page"];

/// The stable ids of the rules, in the order their findings are reported.
pub mod rule {
    /// A required clarity field is absent.
    pub const MISSING_FIELD: &str = "missing-field";
    /// An announcement or planned event does not say what changes, why, or the impact on its audience.
    pub const ANNOUNCEMENT_INCOMPLETE_CHANGE: &str = "announcement-incomplete-change";
    /// An action without a deadline.
    pub const ACTION_NEEDS_DEADLINE: &str = "action-needs-deadline";
    /// An action without an owner.
    pub const ACTION_NEEDS_OWNER: &str = "action-needs-owner";
    /// A summary of more than one line.
    pub const SUMMARY_MULTILINE: &str = "summary-multiline";
    /// A summary longer than the standard allows.
    pub const SUMMARY_TOO_LONG: &str = "summary-too-long";
    /// An action that only forwards the message.
    pub const VAGUE_ACTION: &str = "vague-action";
    /// A runbook that is not an absolute http(s) URL.
    pub const RUNBOOK_NOT_ABSOLUTE_URL: &str = "runbook-not-absolute-url";
}

/// Every rule: its id and what it checks, in report order.
pub const RULES: &[(&str, &str)] = &[
    (rule::MISSING_FIELD, "a clarity field the standard requires for this kind and severity is absent"),
    (rule::ANNOUNCEMENT_INCOMPLETE_CHANGE, "an announcement or planned event says what changes, why, and the impact"),
    (rule::ACTION_NEEDS_DEADLINE, "a message (other than an alert) that asks for an action says by when"),
    (rule::ACTION_NEEDS_OWNER, "a message that asks for an action names who is accountable"),
    (rule::SUMMARY_MULTILINE, "the summary is one line"),
    (rule::SUMMARY_TOO_LONG, "the summary fits the configured number of characters"),
    (rule::VAGUE_ACTION, "the action says what to do, not only \"please handle\" or \"FYI\""),
    (rule::RUNBOOK_NOT_ABSOLUTE_URL, "the runbook is an absolute http(s) URL"),
];

/// The id of rule `id` as a `&'static str`, or `None` when no rule has that id.
pub fn rule_id(id: &str) -> Option<&'static str> {
    RULES.iter().map(|(r, _)| *r).find(|r| *r == id)
}

/// Action texts that mean "no action needed" (compared after [`normalize`]: lowercase, punctuation as
/// spaces, so "N/A" is "n a").
pub const NO_ACTION_PHRASES: &[&str] = &[
    "none",
    "none needed",
    "none required",
    "no action",
    "no action needed",
    "no action required",
    "no action necessary",
    "no action is needed",
    "no action is required",
    "no further action",
    "no further action needed",
    "no further action required",
    "nothing",
    "nothing to do",
    "nothing needed",
    "nothing required",
    "n a",
    "na",
    "not applicable",
    "informational",
    "informational only",
    "information only",
    "for information only",
];

/// Phrases that forward a message instead of saying what to do. An action made only of these (and
/// [`FILLER_WORDS`]) is vague.
pub const VAGUE_PHRASES: &[&str] = &[
    "make this happen",
    "make it happen",
    "handle",
    "handle this",
    "handle it",
    "take care of this",
    "take care of it",
    "deal with this",
    "deal with it",
    "sort this out",
    "sort it out",
    "get this done",
    "get it done",
    "fix",
    "fix this",
    "fix it",
    "look into this",
    "look into it",
    "look at this",
    "look at it",
    "check",
    "check this",
    "check it",
    "investigate",
    "investigate this",
    "follow up",
    "follow up on this",
    "escalate",
    "fyi",
    "for your information",
    "see above",
    "see below",
    "see description",
    "see summary",
    "see ticket",
    "see thread",
    "see chat",
    "see email",
    "see mail",
    "see link",
    "see attached",
    "see attachment",
    "as discussed",
    "as agreed",
    "as mentioned",
    "as per discussion",
    "per discussion",
    "as per email",
    "do the needful",
    "action required",
    "action needed",
    "needs action",
    "tbd",
    "tba",
    "todo",
    "to do",
    "advise",
    "over to you",
    "your call",
    "thoughts",
    "let me know",
    "lmk",
    "help",
];

/// Words that may surround a vague phrase without making it concrete ("please handle ASAP, thanks").
pub const FILLER_WORDS: &[&str] = &[
    "please",
    "pls",
    "plz",
    "kindly",
    "can",
    "could",
    "would",
    "you",
    "someone",
    "somebody",
    "anyone",
    "thanks",
    "thank",
    "thx",
    "ty",
    "asap",
    "urgent",
    "urgently",
    "now",
    "immediately",
    "hi",
    "hello",
    "team",
    "all",
    "guys",
    "folks",
];

/// What a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MessageKind {
    /// A monitoring alert.
    Alert,
    /// A human-written announcement, such as a change of plan.
    Announcement,
    /// A planned change or maintenance.
    PlannedEvent,
    /// A security advisory that affects a service.
    Advisory,
}

impl MessageKind {
    /// Every kind, in a fixed order.
    pub const ALL: [MessageKind; 4] =
        [MessageKind::Alert, MessageKind::Announcement, MessageKind::PlannedEvent, MessageKind::Advisory];

    /// The name used in configuration: `alert`, `announcement`, `planned_event`, `advisory`.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Alert => "alert",
            MessageKind::Announcement => "announcement",
            MessageKind::PlannedEvent => "planned_event",
            MessageKind::Advisory => "advisory",
        }
    }

    /// The plural people read in findings ("alerts", "planned events").
    fn plural(self) -> &'static str {
        match self {
            MessageKind::Alert => "alerts",
            MessageKind::Announcement => "announcements",
            MessageKind::PlannedEvent => "planned events",
            MessageKind::Advisory => "advisories",
        }
    }
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One of the clarity fields of a message (DESIGN.md's vocabulary; `links` carry no requirement).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClarityField {
    /// What happened, in one line.
    Summary,
    /// Why it matters.
    Context,
    /// Who or what is affected.
    Impact,
    /// What to do — or an explicit "no action needed".
    Action,
    /// By when.
    Deadline,
    /// The one accountable team or person.
    Owner,
    /// Where the steps are written down (a URL).
    Runbook,
}

impl ClarityField {
    /// Every field, in the order findings list them.
    pub const ALL: [ClarityField; 7] = [
        ClarityField::Summary,
        ClarityField::Context,
        ClarityField::Impact,
        ClarityField::Action,
        ClarityField::Deadline,
        ClarityField::Owner,
        ClarityField::Runbook,
    ];

    /// The field's name: `summary`, `context`, `impact`, `action`, `deadline`, `owner`, `runbook`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClarityField::Summary => "summary",
            ClarityField::Context => "context",
            ClarityField::Impact => "impact",
            ClarityField::Action => "action",
            ClarityField::Deadline => "deadline",
            ClarityField::Owner => "owner",
            ClarityField::Runbook => "runbook",
        }
    }

    /// What the field answers, for people reading a finding.
    fn question(self) -> &'static str {
        match self {
            ClarityField::Summary => "what happened",
            ClarityField::Context => "why it matters",
            ClarityField::Impact => "who or what is affected",
            ClarityField::Action => "what to do",
            ClarityField::Deadline => "by when",
            ClarityField::Owner => "who is accountable",
            ClarityField::Runbook => "where the steps are written down",
        }
    }

    /// How to add the field to a message of `kind`: for alerts, the annotation or label that carries it.
    fn how_to_add(self, kind: MessageKind) -> &'static str {
        match (kind, self) {
            (MessageKind::Alert, ClarityField::Summary) => {
                "add a `summary` annotation: one line saying what is wrong and where"
            }
            (MessageKind::Alert, ClarityField::Context) => "add a `description` annotation saying why this matters",
            (MessageKind::Alert, ClarityField::Impact) => {
                "add an `impact` annotation saying who or what is affected (users, services)"
            }
            (MessageKind::Alert, ClarityField::Action) => {
                "add an `action` annotation saying what to do first (or `action: none` when nothing needs doing)"
            }
            (MessageKind::Alert, ClarityField::Deadline) => "add a `deadline` annotation saying by when",
            (MessageKind::Alert, ClarityField::Owner) => {
                "add an `owner` label (or `team`) naming the one accountable team, or route the alert to a team"
            }
            (MessageKind::Alert, ClarityField::Runbook) => {
                "add a `runbook_url` annotation with an absolute https:// link to the runbook"
            }
            (_, ClarityField::Summary) => "set `summary`: one line saying what happens",
            (_, ClarityField::Context) => "set `context`: why this happens and why it matters",
            (_, ClarityField::Impact) => "set `impact`: who is affected and how",
            (_, ClarityField::Action) => {
                "set `action`: what the audience must do (or say explicitly that no action is needed)"
            }
            (_, ClarityField::Deadline) => "set `deadline`: by when the action must be done",
            (_, ClarityField::Owner) => "set `owner`: the one team or person accountable",
            (_, ClarityField::Runbook) => "set `runbook`: an absolute https:// link to the steps",
        }
    }
}

impl fmt::Display for ClarityField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ClarityField {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(f) = ClarityField::ALL.into_iter().find(|f| f.as_str() == s) {
            return Ok(f);
        }
        let hint = match s {
            "description" => " (the `description` annotation is the `context` field)".to_string(),
            "runbook_url" => " (the `runbook_url` annotation is the `runbook` field)".to_string(),
            "team" => " (the `team` label is the `owner` field)".to_string(),
            _ => match ClarityField::ALL.into_iter().find(|f| close(f.as_str(), s)) {
                Some(f) => format!(" (did you mean `{f}`?)"),
                None => String::new(),
            },
        };
        let names: Vec<&str> = ClarityField::ALL.iter().map(|f| f.as_str()).collect();
        Err(format!("unknown clarity field {s:?}{hint}; expected one of {}", names.join(", ")))
    }
}

/// `a` and `b` differ by at most one inserted, deleted or replaced character, or by two swapped ones.
fn close(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a.iter().rev().zip(b.iter().rev()).take_while(|(x, y)| x == y).count();
    let longest = a.len().max(b.len());
    if prefix + suffix + 1 >= longest {
        return true;
    }
    a.len() == b.len()
        && prefix + 2 <= a.len()
        && a[prefix] == b[prefix + 1]
        && a[prefix + 1] == b[prefix]
        && a[prefix + 2..] == b[prefix + 2..]
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
    type Err = String;

    /// `summary`, or alternatives separated by `|` such as `impact|context`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fields = s
            .split('|')
            .map(|part| {
                let part = part.trim();
                if part.is_empty() {
                    Err(format!("{s:?} has an empty alternative; write fields such as `impact|context`"))
                } else {
                    part.parse::<ClarityField>()
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Requirement::any_of(&fields).ok_or_else(|| "a requirement names at least one field".to_string())
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

/// A message as the standard sees it: its kind, severity and clarity fields.
///
/// Build one with [`Message::new`] and [`Message::with`], or from an alert with [`Message::from_alert`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub kind: MessageKind,
    /// As given (for alerts, the `severity` label); empty when the message has none.
    pub severity: String,
    pub summary: Option<String>,
    pub context: Option<String>,
    pub impact: Option<String>,
    /// What to do. `None` with `no_action_needed` means the message says explicitly that nothing is to be done.
    pub action: Option<String>,
    pub deadline: Option<String>,
    pub owner: Option<String>,
    pub runbook: Option<String>,
    /// The message says explicitly that no action is needed.
    pub no_action_needed: bool,
}

impl Message {
    /// A message of `kind` and `severity` without clarity fields.
    pub fn new(kind: MessageKind, severity: &str) -> Message {
        Message {
            kind,
            severity: severity.to_string(),
            summary: None,
            context: None,
            impact: None,
            action: None,
            deadline: None,
            owner: None,
            runbook: None,
            no_action_needed: false,
        }
    }

    /// This message with `field` set to `value`. An action that is one of [`NO_ACTION_PHRASES`] sets
    /// [`Message::no_action_needed`] instead.
    pub fn with(mut self, field: ClarityField, value: &str) -> Message {
        self.set(field, Some(value));
        self
    }

    /// Sets `field` (clears it with `None`). Blank text counts as absent when checking.
    pub fn set(&mut self, field: ClarityField, value: Option<&str>) {
        let value = value.map(str::to_string);
        match field {
            ClarityField::Summary => self.summary = value,
            ClarityField::Context => self.context = value,
            ClarityField::Impact => self.impact = value,
            ClarityField::Action => {
                if value.as_deref().is_some_and(is_no_action) {
                    self.action = None;
                    self.no_action_needed = true;
                } else {
                    self.action = value;
                }
            }
            ClarityField::Deadline => self.deadline = value,
            ClarityField::Owner => self.owner = value,
            ClarityField::Runbook => self.runbook = value,
        }
    }

    /// The view of an alert (Alertmanager / Prometheus conventions): annotations `summary` → summary,
    /// `description` → context, `impact`, `action`, `deadline` (text, as given), `runbook_url` (else
    /// `runbook`) → runbook; owner from the label `owner`, else the label `team`, else the team the route
    /// picked; severity from the label `severity`. An `action` such as "none" or "n/a" is an explicit
    /// "no action needed" ([`NO_ACTION_PHRASES`]). Blank values count as absent.
    pub fn from_alert(labels: &LabelSet, annotations: &LabelSet, route_team: Option<&str>) -> Message {
        let mut m = Message::new(MessageKind::Alert, text(labels, "severity").unwrap_or(""));
        m.set(ClarityField::Summary, text(annotations, "summary"));
        m.set(ClarityField::Context, text(annotations, "description"));
        m.set(ClarityField::Impact, text(annotations, "impact"));
        m.set(ClarityField::Action, text(annotations, "action"));
        m.set(ClarityField::Deadline, text(annotations, "deadline"));
        m.set(ClarityField::Runbook, text(annotations, "runbook_url").or_else(|| text(annotations, "runbook")));
        let owner = text(labels, "owner").or_else(|| text(labels, "team"));
        m.set(ClarityField::Owner, owner.or(route_team.filter(|t| !t.trim().is_empty())));
        m
    }

    /// The field's text, when present and not blank. `action` is `None` for "no action needed".
    pub fn get(&self, field: ClarityField) -> Option<&str> {
        let value = match field {
            ClarityField::Summary => &self.summary,
            ClarityField::Context => &self.context,
            ClarityField::Impact => &self.impact,
            ClarityField::Action => &self.action,
            ClarityField::Deadline => &self.deadline,
            ClarityField::Owner => &self.owner,
            ClarityField::Runbook => &self.runbook,
        };
        value.as_deref().filter(|v| !v.trim().is_empty())
    }

    /// Whether the field counts as present: non-blank text, or for `action` also "no action needed".
    pub fn has(&self, field: ClarityField) -> bool {
        self.get(field).is_some() || (field == ClarityField::Action && self.no_action_needed)
    }
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
                paging: Some(vec![req(&[Summary]), req(&[Impact, Context]), req(&[Action, Runbook]), req(&[Owner])]),
                default: vec![req(&[Summary]), req(&[Runbook, Action])],
                severities: BTreeMap::new(),
            },
            announcement: per_kind(vec![req(&[Action]), req(&[Owner])]),
            planned_event: per_kind(vec![req(&[Action]), req(&[Owner])]),
            advisory: per_kind(vec![req(&[Summary]), req(&[Impact]), req(&[Action]), req(&[Owner])]),
            vague_phrases: VAGUE_PHRASES.iter().map(|s| s.to_string()).collect(),
            disabled_rules: BTreeSet::new(),
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
        let kind = message.kind;
        let mut out = Vec::new();
        let mut reported: BTreeSet<ClarityField> = BTreeSet::new();
        let on = |id: &str| !self.disabled_rules.contains(id);
        let whom = describe_audience(kind, &message.severity);

        if on(rule::MISSING_FIELD) {
            for req in self.required(kind, &message.severity) {
                if req.fields().iter().any(|f| message.has(*f)) {
                    continue;
                }
                out.push(missing_field(kind, &whom, req));
                reported.extend(req.fields().iter().copied());
            }
        }

        if on(rule::ANNOUNCEMENT_INCOMPLETE_CHANGE)
            && matches!(kind, MessageKind::Announcement | MessageKind::PlannedEvent)
        {
            let parts = [
                (ClarityField::Summary, "what changes"),
                (ClarityField::Context, "why it changes"),
                (ClarityField::Impact, "what it means for the audience"),
            ];
            for (field, question) in parts {
                if message.has(field) || reported.contains(&field) {
                    continue;
                }
                reported.insert(field);
                out.push(Finding {
                    rule: rule::ANNOUNCEMENT_INCOMPLETE_CHANGE,
                    field: Some(field),
                    message: format!(
                        "{} announce a change and must say what changes, why, and the impact on the audience; \
                         this one does not say {question} (`{field}` is missing)",
                        capitalise(kind.plural())
                    ),
                    fix: field.how_to_add(kind).to_string(),
                });
            }
        }

        let asks_for_action = message.get(ClarityField::Action).is_some();
        if asks_for_action
            && on(rule::ACTION_NEEDS_DEADLINE)
            && kind != MessageKind::Alert
            && !message.has(ClarityField::Deadline)
            && !reported.contains(&ClarityField::Deadline)
        {
            reported.insert(ClarityField::Deadline);
            out.push(Finding {
                rule: rule::ACTION_NEEDS_DEADLINE,
                field: Some(ClarityField::Deadline),
                message: "the message asks for an action but does not say by when (`deadline` is missing)".into(),
                fix: ClarityField::Deadline.how_to_add(kind).to_string(),
            });
        }
        if asks_for_action
            && on(rule::ACTION_NEEDS_OWNER)
            && !message.has(ClarityField::Owner)
            && !reported.contains(&ClarityField::Owner)
        {
            reported.insert(ClarityField::Owner);
            out.push(Finding {
                rule: rule::ACTION_NEEDS_OWNER,
                field: Some(ClarityField::Owner),
                message: "the message asks for an action but names nobody accountable for it (`owner` is missing)"
                    .into(),
                fix: ClarityField::Owner.how_to_add(kind).to_string(),
            });
        }

        if let Some(summary) = message.get(ClarityField::Summary).map(str::trim) {
            if on(rule::SUMMARY_MULTILINE) && summary.contains(['\n', '\r']) {
                let lines = summary.lines().filter(|l| !l.trim().is_empty()).count();
                out.push(Finding {
                    rule: rule::SUMMARY_MULTILINE,
                    field: Some(ClarityField::Summary),
                    message: format!("the summary spans {lines} lines; it is the title of every notification"),
                    fix: match kind {
                        MessageKind::Alert => "keep the first line in `summary` and move the rest to `description`",
                        _ => "keep the first line in `summary` and move the rest to `context`",
                    }
                    .into(),
                });
            }
            let chars = summary.chars().count();
            if on(rule::SUMMARY_TOO_LONG) && chars > self.summary_max_chars {
                out.push(Finding {
                    rule: rule::SUMMARY_TOO_LONG,
                    field: Some(ClarityField::Summary),
                    message: format!(
                        "the summary is {chars} characters long; at most {} fit a notification title",
                        self.summary_max_chars
                    ),
                    fix: match kind {
                        MessageKind::Alert => "shorten it to what is wrong and where; move details to `description`",
                        _ => "shorten it to what happens; move details to `context`",
                    }
                    .into(),
                });
            }
        }

        if let Some(action) = message.get(ClarityField::Action) {
            if on(rule::VAGUE_ACTION) && self.is_vague(action) {
                out.push(Finding {
                    rule: rule::VAGUE_ACTION,
                    field: Some(ClarityField::Action),
                    message: format!("the action {:?} forwards the message without saying what to do", action.trim()),
                    fix: "say what to do, concretely: the first step, the command or the decision needed \
                          (for example \"fail over to the replica with `make failover`\")"
                        .into(),
                });
            }
        }

        if let Some(runbook) = message.get(ClarityField::Runbook) {
            if on(rule::RUNBOOK_NOT_ABSOLUTE_URL) && !is_absolute_url(runbook) {
                out.push(Finding {
                    rule: rule::RUNBOOK_NOT_ABSOLUTE_URL,
                    field: Some(ClarityField::Runbook),
                    message: format!(
                        "the runbook {:?} is not an absolute http(s) URL; people read it in chat and mail, \
                         where relative links go nowhere",
                        runbook.trim()
                    ),
                    fix: "write the full link, such as https://runbooks.example.com/db/replication-lag \
                          (templates like {{ $labels.job }} are fine inside it)"
                        .into(),
                });
            }
        }
        out
    }

    /// Whether `action` only forwards the message: made of vague phrases and filler words alone.
    pub fn is_vague(&self, action: &str) -> bool {
        let words = normalize(action);
        let phrases: Vec<Vec<String>> = self
            .vague_phrases
            .iter()
            .map(|p| normalize(p))
            .chain(FILLER_WORDS.iter().map(|w| vec![(*w).to_string()]))
            .filter(|p| !p.is_empty())
            .collect();
        // covered[i]: the first i words are a sequence of phrases.
        let mut covered = vec![false; words.len() + 1];
        covered[0] = true;
        for i in 0..words.len() {
            if !covered[i] {
                continue;
            }
            for p in &phrases {
                if words[i..].starts_with(p) {
                    covered[i + p.len()] = true;
                }
            }
        }
        covered[words.len()]
    }
}

/// The value of `key` in `map`, unless absent or blank.
fn text<'a>(map: &'a LabelSet, key: &str) -> Option<&'a str> {
    map.get(key).filter(|v| !v.trim().is_empty())
}

/// The words of `text`: lowercase, every character that is not a letter or digit a separator.
pub fn normalize(text: &str) -> Vec<String> {
    text.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_string).collect()
}

/// Whether an action text says explicitly that no action is needed ([`NO_ACTION_PHRASES`]).
pub fn is_no_action(text: &str) -> bool {
    let words = normalize(text).join(" ");
    NO_ACTION_PHRASES.contains(&words.as_str())
}

/// Whether `text` is an absolute http(s) URL with a host, or starts with a template that can expand to one.
/// Template text (`{{ … }}`) may appear anywhere; whitespace outside templates may not.
pub fn is_absolute_url(text: &str) -> bool {
    let text = text.trim();
    // Each complete template becomes one placeholder character; an unclosed `{{` stays literal.
    let mut literal = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else { break };
        literal.push_str(&rest[..start]);
        literal.push('\u{1}');
        rest = &rest[start + len + 2..];
    }
    literal.push_str(rest);
    if literal.chars().any(char::is_whitespace) {
        return false;
    }
    if literal.starts_with('\u{1}') {
        return true;
    }
    let lower = literal.to_ascii_lowercase();
    let after_scheme = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://"));
    after_scheme.is_some_and(|host| !host.is_empty() && !host.starts_with(['/', '?', '#']))
}

fn missing_field(kind: MessageKind, whom: &str, req: &Requirement) -> Finding {
    let fields = req.fields();
    let (message, fix) = match fields {
        [one] => (
            format!("{whom} must say {} and this one does not (`{one}` is missing)", one.question()),
            one.how_to_add(kind).to_string(),
        ),
        many => {
            let names: Vec<String> = many.iter().map(|f| format!("`{f}` ({})", f.question())).collect();
            let fixes: Vec<&str> = many.iter().map(|f| f.how_to_add(kind)).collect();
            (format!("{whom} must carry one of {}; this one has none", join_or(&names)), fixes.join("; or "))
        }
    };
    Finding { rule: rule::MISSING_FIELD, field: fields.first().copied(), message, fix }
}

/// "critical alerts", "alerts without a severity", "announcements".
fn describe_audience(kind: MessageKind, severity: &str) -> String {
    let severity = severity.trim();
    match (kind, severity.is_empty()) {
        (MessageKind::Alert, true) => "Alerts without a severity".to_string(),
        (_, true) => capitalise(kind.plural()),
        (_, false) => format!("{} of severity {severity}", capitalise(kind.plural())),
    }
}

fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ClarityField::*;

    type TestResult = Result<(), String>;

    /// A paging alert that meets the built-in standard.
    fn good_alert() -> Message {
        Message::new(MessageKind::Alert, "critical")
            .with(Summary, "Disk full on db1")
            .with(Context, "Writes fail once the disk is full")
            .with(Impact, "Checkout cannot take orders")
            .with(Action, "Delete old WAL segments with `make prune-wal`")
            .with(Runbook, "https://runbooks.example.com/disk-full")
            .with(Owner, "payments")
    }

    /// An announcement that meets the built-in standard.
    fn good_announcement() -> Message {
        Message::new(MessageKind::Announcement, "")
            .with(Summary, "The VPN moves to WireGuard on 3 March")
            .with(Context, "The old VPN concentrator is out of support")
            .with(Impact, "Everyone who works remotely must install the new client")
            .with(Action, "Install the WireGuard client from the self-service portal")
            .with(Deadline, "2025-03-03")
            .with(Owner, "it-network")
    }

    fn rules_of(findings: &[Finding]) -> Vec<(&'static str, Option<ClarityField>)> {
        findings.iter().map(|f| (f.rule, f.field)).collect()
    }

    fn labels(pairs: &[(&str, &str)]) -> LabelSet {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_message_that_meets_the_standard_has_no_findings() {
        let standard = Standard::default();
        for m in [good_alert(), good_announcement()] {
            assert_eq!(standard.check(&m), vec![], "{m:?}");
        }
        let advisory = Message::new(MessageKind::Advisory, "high")
            .with(Summary, "openssl 3.0.7 in checkout is vulnerable to CVE-2022-3602")
            .with(Impact, "checkout's TLS endpoints")
            .with(Action, "Upgrade openssl to 3.0.8")
            .with(Deadline, "2022-11-08")
            .with(Owner, "payments");
        assert_eq!(standard.check(&advisory), vec![]);
        let planned = Message::new(MessageKind::PlannedEvent, "")
            .with(Summary, "PostgreSQL 16 upgrade of postgres-main")
            .with(Context, "PostgreSQL 12 is end of life")
            .with(Impact, "checkout is read-only for 10 minutes")
            .with(Action, "none")
            .with(Owner, "dba");
        assert_eq!(standard.check(&planned), vec![]);
    }

    #[test]
    fn missing_field_reports_each_unmet_requirement_of_the_kind_and_severity() {
        let standard = Standard::default();
        let warning = |pairs: &[(ClarityField, &str)]| {
            pairs.iter().fold(Message::new(MessageKind::Alert, "warning"), |m, (f, v)| m.with(*f, v))
        };
        let cases: Vec<(&str, Message, Vec<Option<ClarityField>>)> = vec![
            ("complete paging alert", good_alert(), vec![]),
            (
                "paging alert with summary and description only",
                Message::new(MessageKind::Alert, "critical").with(Summary, "s").with(Context, "d"),
                vec![Some(Action), Some(Owner)],
            ),
            (
                "empty paging alert",
                Message::new(MessageKind::Alert, "page"),
                vec![Some(Summary), Some(Impact), Some(Action), Some(Owner)],
            ),
            (
                "severity compares case-insensitively",
                Message::new(MessageKind::Alert, "CRITICAL"),
                vec![Some(Summary), Some(Impact), Some(Action), Some(Owner)],
            ),
            ("warning with a runbook", warning(&[(Summary, "s"), (Runbook, "https://r.example/x")]), vec![]),
            ("warning with an action instead", warning(&[(Summary, "s"), (Action, "restart the exporter")]), vec![]),
            ("warning with neither", warning(&[(Summary, "s")]), vec![Some(Runbook)]),
            ("alert without severity", Message::new(MessageKind::Alert, ""), vec![Some(Summary), Some(Runbook)]),
            (
                "blank text is absent",
                warning(&[(Summary, "  "), (Runbook, "https://r.example/x")]),
                vec![Some(Summary)],
            ),
            (
                "no action needed satisfies the action",
                Message::new(MessageKind::Alert, "critical")
                    .with(Summary, "s")
                    .with(Impact, "i")
                    .with(Action, "No action needed.")
                    .with(Owner, "o"),
                vec![],
            ),
            (
                "advisory without impact and owner",
                Message::new(MessageKind::Advisory, "").with(Summary, "s").with(Action, "none"),
                vec![Some(Impact), Some(Owner)],
            ),
        ];
        let mut failures = Vec::new();
        for (name, message, want) in cases {
            let got: Vec<_> = standard.check(&message).into_iter().filter(|f| f.rule == rule::MISSING_FIELD).collect();
            let fields: Vec<_> = got.iter().map(|f| f.field).collect();
            if fields != want {
                failures.push(format!("{name}: got {got:#?}, want fields {want:?}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn missing_field_messages_name_the_alternatives_and_say_how_to_add_them() {
        let m = Message::new(MessageKind::Alert, "critical").with(Summary, "s").with(Impact, "i").with(Owner, "o");
        let findings = Standard::default().check(&m);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let f = &findings[0];
        assert_eq!((f.rule, f.field), (rule::MISSING_FIELD, Some(Action)));
        assert!(f.message.starts_with("Alerts of severity critical must carry one of `action`"), "{}", f.message);
        assert!(f.message.contains("`runbook`"), "{}", f.message);
        assert!(f.fix.contains("`action` annotation") && f.fix.contains("`runbook_url` annotation"), "{}", f.fix);
    }

    #[test]
    fn a_named_severity_list_wins_over_paging_and_paging_over_default() -> TestResult {
        let mut standard = Standard::default();
        standard.alert.severities.insert("warning".into(), vec!["owner".parse()?]);
        standard.paging_severities.push("major".into());
        let fields_of = |m: &Message| rules_of(&standard.check(m)).into_iter().map(|(_, f)| f).collect::<Vec<_>>();
        assert_eq!(fields_of(&Message::new(MessageKind::Alert, "Warning")), vec![Some(Owner)]);
        assert_eq!(fields_of(&Message::new(MessageKind::Alert, "major")).len(), 4);
        assert_eq!(fields_of(&Message::new(MessageKind::Alert, "info")), vec![Some(Summary), Some(Runbook)]);
        Ok(())
    }

    #[test]
    fn announcement_incomplete_change_asks_what_why_and_impact() {
        let standard = Standard::default();
        let cases: Vec<(&str, Message, Vec<ClarityField>)> = vec![
            ("complete announcement", good_announcement(), vec![]),
            ("no why", Message { context: None, ..good_announcement() }, vec![Context]),
            (
                "no what and no impact",
                Message { summary: None, impact: None, ..good_announcement() },
                vec![Summary, Impact],
            ),
            (
                "planned event without anything",
                Message::new(MessageKind::PlannedEvent, "").with(Action, "none").with(Owner, "dba"),
                vec![Summary, Context, Impact],
            ),
            (
                "advisories are not changes",
                Message::new(MessageKind::Advisory, "")
                    .with(Summary, "s")
                    .with(Impact, "i")
                    .with(Action, "none")
                    .with(Owner, "o"),
                vec![],
            ),
            ("alerts are not changes", Message { context: None, ..good_alert() }, vec![]),
        ];
        let mut failures = Vec::new();
        for (name, message, want) in cases {
            let got: Vec<_> = standard
                .check(&message)
                .into_iter()
                .filter(|f| f.rule == rule::ANNOUNCEMENT_INCOMPLETE_CHANGE)
                .collect();
            if got.iter().map(|f| f.field).collect::<Vec<_>>() != want.iter().map(|f| Some(*f)).collect::<Vec<_>>() {
                failures.push(format!("{name}: got {got:#?}, want {want:?}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn a_field_the_required_list_already_reported_is_not_reported_again() -> TestResult {
        let mut standard = Standard::default();
        standard.announcement.default.push("context".parse()?);
        let m = Message { context: None, deadline: None, ..good_announcement() };
        assert_eq!(
            rules_of(&standard.check(&m)),
            vec![(rule::MISSING_FIELD, Some(Context)), (rule::ACTION_NEEDS_DEADLINE, Some(Deadline)),]
        );
        let paging_without_owner = Message { owner: None, ..good_alert() };
        assert_eq!(
            rules_of(&Standard::default().check(&paging_without_owner)),
            vec![(rule::MISSING_FIELD, Some(Owner))]
        );
        Ok(())
    }

    #[test]
    fn action_needs_deadline_applies_to_every_kind_but_alerts() {
        let standard = Standard::default();
        let cases: Vec<(&str, Message, bool)> = vec![
            ("announcement with action and deadline", good_announcement(), false),
            ("announcement without deadline", Message { deadline: None, ..good_announcement() }, true),
            (
                "announcement saying no action is needed",
                Message { deadline: None, ..good_announcement() }.with(Action, "N/A"),
                false,
            ),
            (
                "advisory without deadline",
                Message::new(MessageKind::Advisory, "")
                    .with(Summary, "s")
                    .with(Impact, "i")
                    .with(Action, "upgrade")
                    .with(Owner, "o"),
                true,
            ),
            (
                "planned event without deadline",
                Message::new(MessageKind::PlannedEvent, "").with(Action, "drain traffic first"),
                true,
            ),
            ("alert without deadline", good_alert(), false),
        ];
        let mut failures = Vec::new();
        for (name, message, want) in cases {
            let got = standard.check(&message).iter().any(|f| f.rule == rule::ACTION_NEEDS_DEADLINE);
            if got != want {
                failures.push(format!("{name}: got {got}, want {want}: {:#?}", standard.check(&message)));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn action_needs_owner_applies_whenever_an_action_is_asked_for() {
        let standard = Standard::default();
        let warning = Message::new(MessageKind::Alert, "warning").with(Summary, "s");
        let cases: Vec<(&str, Message, bool)> = vec![
            ("warning with an action and no owner", warning.clone().with(Action, "restart the exporter"), true),
            (
                "warning with an action and an owner",
                warning.clone().with(Action, "restart the exporter").with(Owner, "ops"),
                false,
            ),
            ("warning with no action needed", warning.clone().with(Action, "none"), false),
            ("warning with only a runbook", warning.with(Runbook, "https://r.example/x"), false),
            ("announcement with an action and no owner", Message { owner: None, ..good_announcement() }, false),
        ];
        // The last case is reported by `missing-field` (announcements require an owner), not twice.
        let mut failures = Vec::new();
        for (name, message, want) in cases {
            let got = standard.check(&message).iter().any(|f| f.rule == rule::ACTION_NEEDS_OWNER);
            if got != want {
                failures.push(format!("{name}: got {got}, want {want}: {:#?}", standard.check(&message)));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn summary_multiline_flags_a_summary_of_several_lines() {
        let cases: &[(&str, bool)] = &[
            ("Disk full on db1", false),
            ("Disk full on db1\n", false),
            ("  Disk full on db1  ", false),
            ("Disk full on db1\nVALUE = {{ $value }}", true),
            ("Disk full\r\non db1", true),
        ];
        let standard = Standard::default();
        for (summary, want) in cases {
            let got =
                standard.check(&good_alert().with(Summary, summary)).iter().any(|f| f.rule == rule::SUMMARY_MULTILINE);
            assert_eq!(got, *want, "{summary:?}");
        }
    }

    #[test]
    fn summary_too_long_counts_characters_against_the_configured_limit() {
        let mut standard = Standard::default();
        let cases: &[(usize, String, bool)] = &[
            (120, "a".repeat(120), false),
            (120, "a".repeat(121), true),
            (120, "é".repeat(120), false),
            (10, "Disk full!".into(), false),
            (10, "Disk full!!".into(), true),
            (10, "  padded  ".into(), false),
        ];
        for (max, summary, want) in cases {
            standard.summary_max_chars = *max;
            let findings = standard.check(&good_alert().with(Summary, summary));
            let got = findings.iter().find(|f| f.rule == rule::SUMMARY_TOO_LONG);
            assert_eq!(got.is_some(), *want, "max {max}, {summary:?}");
            if let Some(f) = got {
                assert!(f.message.contains(&format!("at most {max}")), "{}", f.message);
            }
        }
    }

    #[test]
    fn vague_action_flags_forwards_whatever_their_case_and_punctuation() {
        let cases: &[(&str, bool)] = &[
            ("Please handle.", true),
            ("Make this happen!", true),
            ("FYI", true),
            ("fyi - see above", true),
            ("As discussed", true),
            ("pls fix asap, thx", true),
            ("Can someone look into this?", true),
            ("...", true),
            ("Restart the exporter", false),
            ("Fix the certificate with `certbot renew`", false),
            ("Check disk usage with `df -h` and delete old logs", false),
            ("See the runbook section 'Replication lag'", false),
            ("Escalate to the DBA on-call", false),
        ];
        let standard = Standard::default();
        let mut failures = Vec::new();
        for (action, want) in cases {
            let got = standard.check(&good_alert().with(Action, action)).iter().any(|f| f.rule == rule::VAGUE_ACTION);
            if got != *want {
                failures.push(format!("{action:?}: got {got}, want {want}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn vague_action_uses_configured_phrases_too() {
        let mut standard = Standard::default();
        assert!(!standard.is_vague("over the wall"));
        standard.vague_phrases.push("Over the wall!".into());
        assert!(standard.is_vague("over the wall, please"));
    }

    #[test]
    fn runbook_not_absolute_url_accepts_http_urls_and_templates() {
        let cases: &[(&str, bool)] = &[
            ("https://runbooks.example.com/disk-full", true),
            ("HTTP://wiki.internal/x", true),
            ("https://runbooks/{{ $labels.job }}", true),
            ("https://{{ $externalURL }}/runbooks/x", true),
            ("{{ $labels.runbook }}", true),
            ("{{ $externalURL }}/runbooks/{{ $labels.alertname }}", true),
            ("  https://runbooks.example.com/x  ", true),
            ("/wiki/disk-full", false),
            ("./runbooks/disk-full.md", false),
            ("runbooks/disk-full.md", false),
            ("wiki.example.com/disk-full", false),
            ("file:///etc/runbook.txt", false),
            ("ftp://example.com/runbook", false),
            ("https://", false),
            ("https:///path-only", false),
            ("https://wiki/disk full", false),
            ("see https://wiki/x", false),
            ("https://wiki/{{ unclosed template", false),
        ];
        let standard = Standard::default();
        let mut failures = Vec::new();
        for (runbook, ok) in cases {
            let flagged = standard
                .check(&good_alert().with(Runbook, runbook))
                .iter()
                .any(|f| f.rule == rule::RUNBOOK_NOT_ABSOLUTE_URL);
            if flagged == *ok {
                failures.push(format!("{runbook:?}: flagged {flagged}, want accepted {ok}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn disabled_rules_are_not_applied() -> TestResult {
        let mut standard = Standard::default();
        let m = Message::new(MessageKind::Alert, "warning").with(Summary, &"x".repeat(200));
        assert_eq!(
            rules_of(&standard.check(&m)),
            vec![(rule::MISSING_FIELD, Some(Runbook)), (rule::SUMMARY_TOO_LONG, Some(Summary))]
        );
        standard.disabled_rules.insert(rule_id("summary-too-long").ok_or("known rule")?);
        standard.disabled_rules.insert(rule_id("missing-field").ok_or("known rule")?);
        assert_eq!(standard.check(&m), vec![]);
        Ok(())
    }

    #[test]
    fn findings_come_in_rule_order_then_field_order() {
        let m = Message::new(MessageKind::Announcement, "")
            .with(Summary, &format!("{}\nsecond line", "x".repeat(130)))
            .with(Action, "FYI")
            .with(Runbook, "/wiki/x");
        let got: Vec<&str> = Standard::default().check(&m).iter().map(|f| f.rule).collect();
        assert_eq!(
            got,
            vec![
                rule::MISSING_FIELD,
                rule::ANNOUNCEMENT_INCOMPLETE_CHANGE,
                rule::ANNOUNCEMENT_INCOMPLETE_CHANGE,
                rule::ACTION_NEEDS_DEADLINE,
                rule::SUMMARY_MULTILINE,
                rule::SUMMARY_TOO_LONG,
                rule::VAGUE_ACTION,
                rule::RUNBOOK_NOT_ABSOLUTE_URL,
            ]
        );
        let order: Vec<&str> = RULES.iter().map(|(id, _)| *id).collect();
        let mut sorted = got.clone();
        sorted.sort_by_key(|r| order.iter().position(|o| o == r));
        assert_eq!(got, sorted, "findings follow RULES order");
    }

    #[test]
    fn every_finding_says_how_to_fix_it() {
        let m = Message::new(MessageKind::PlannedEvent, "critical")
            .with(Summary, "a\nb")
            .with(Action, "please handle")
            .with(Runbook, "wiki/x");
        for f in Standard::default().check(&m) {
            assert!(!f.message.is_empty() && !f.fix.is_empty(), "{f:?}");
            assert!(rule_id(f.rule).is_some(), "{f:?}");
        }
    }

    #[test]
    fn from_alert_maps_prometheus_annotations_and_labels_to_clarity_fields() {
        let m = Message::from_alert(
            &labels(&[("alertname", "DiskFull"), ("severity", "critical"), ("team", "storage")]),
            &labels(&[
                ("summary", "Disk full on {{ $labels.instance }}"),
                ("description", "Writes fail"),
                ("impact", "checkout"),
                ("action", "prune WAL"),
                ("deadline", "within 1h"),
                ("runbook", "https://r.example/old"),
                ("runbook_url", "https://r.example/new"),
            ]),
            Some("ops"),
        );
        assert_eq!(
            m,
            Message {
                kind: MessageKind::Alert,
                severity: "critical".into(),
                summary: Some("Disk full on {{ $labels.instance }}".into()),
                context: Some("Writes fail".into()),
                impact: Some("checkout".into()),
                action: Some("prune WAL".into()),
                deadline: Some("within 1h".into()),
                owner: Some("storage".into()),
                runbook: Some("https://r.example/new".into()),
                no_action_needed: false,
            }
        );
    }

    #[test]
    fn from_alert_takes_the_owner_from_owner_then_team_then_the_route() {
        let cases: &[(&[(&str, &str)], Option<&str>, Option<&str>)] = &[
            (&[("owner", "alice"), ("team", "db")], Some("ops"), Some("alice")),
            (&[("team", "db")], Some("ops"), Some("db")),
            (&[("team", " ")], Some("ops"), Some("ops")),
            (&[], Some("ops"), Some("ops")),
            (&[], None, None),
        ];
        for (pairs, route, want) in cases {
            let m = Message::from_alert(&labels(pairs), &LabelSet::new(), *route);
            assert_eq!(m.owner.as_deref(), *want, "{pairs:?} {route:?}");
        }
        let m = Message::from_alert(&LabelSet::new(), &labels(&[("runbook", "https://r.example/x")]), None);
        assert_eq!(m.runbook.as_deref(), Some("https://r.example/x"), "`runbook` is the fallback of `runbook_url`");
    }

    #[test]
    fn from_alert_reads_no_action_phrases_as_no_action_needed() {
        let cases: &[(&str, bool)] = &[
            ("none", true),
            ("None.", true),
            ("No action needed", true),
            ("no action required!", true),
            ("N/A", true),
            ("n/a", true),
            ("Not applicable", true),
            ("Informational only", true),
            ("Restart the pod", false),
            ("None of the replicas answer: fail over", false),
            ("FYI", false),
        ];
        for (text, want) in cases {
            let m = Message::from_alert(&LabelSet::new(), &labels(&[("action", text)]), None);
            assert_eq!(m.no_action_needed, *want, "{text:?}");
            assert_eq!(m.action.is_none(), *want, "{text:?}");
        }
    }

    #[test]
    fn requirements_parse_single_fields_and_alternatives() {
        let ok: &[(&str, &[ClarityField])] = &[
            ("summary", &[Summary]),
            ("impact|context", &[Impact, Context]),
            (" action | runbook ", &[Action, Runbook]),
            ("owner|owner", &[Owner]),
        ];
        for (text, want) in ok {
            match text.parse::<Requirement>() {
                Ok(r) => assert_eq!(r.fields(), *want, "{text}"),
                Err(e) => panic!("{text}: {e}"),
            }
        }
        let bad: &[(&str, &str)] = &[
            ("sumary", "did you mean `summary`"),
            ("description", "is the `context` field"),
            ("runbook_url", "is the `runbook` field"),
            ("impact|", "empty alternative"),
            ("", "empty alternative"),
            ("colour", "expected one of summary, context"),
        ];
        for (text, want) in bad {
            match text.parse::<Requirement>() {
                Ok(r) => panic!("{text:?} parsed as {r}"),
                Err(e) => assert!(e.contains(want), "{text:?}: {e}"),
            }
        }
        assert_eq!(Requirement::any_of(&[Impact, Context]).map(|r| r.to_string()).as_deref(), Some("impact|context"));
    }

    #[test]
    fn every_rule_id_is_kebab_case_and_unique() {
        let ids: BTreeSet<&str> = RULES.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids.len(), RULES.len());
        for id in ids {
            assert!(id.chars().all(|c| c.is_ascii_lowercase() || c == '-') && !id.starts_with('-'), "{id}");
        }
        assert_eq!(rule_id("no-such-rule"), None);
    }
}
