//! The rules of the communication standard: one function per rule, and [`RULES`], the table that runs
//! them in report order. Each rule reads the message and pushes its findings; a field an earlier rule
//! reported is not reported again.
//!
//! To add a rule: write its function, give it an id in [`rule`], and put it in [`RULES`] where its
//! findings belong in the report. The module documentation of [`crate::standard`] lists what each rule
//! checks.

use std::collections::BTreeSet;

use super::message::{Message, MessageKind};
use super::phrases::only_phrases;
use super::words;
use super::{Finding, Requirement, Standard};
use crate::clarity::ClarityField;

/// The stable ids of the rules, in the order their findings are reported.
pub mod rule {
    /// A field that only holds a place ("unknown", "TBD", an example.com runbook); it counts as absent.
    pub const PLACEHOLDER_TEXT: &str = "placeholder-text";
    /// An alert's description that only restates the metric; it counts as neither context nor impact.
    pub const CONTEXT_RESTATES_METRIC: &str = "context-restates-metric";
    /// An alert without an action whose description holds one.
    pub const INSTRUCTION_IN_DESCRIPTION: &str = "instruction-in-description";
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
    /// An alert's summary that names what is measured but no state or direction.
    pub const SUMMARY_NO_STATE: &str = "summary-no-state";
    /// An alert's summary that states an end state ("out of memory") while its query fires before it (at 90%).
    pub const SUMMARY_MISSTATES_CONDITION: &str = "summary-misstates-condition";
    /// An annotation that names a label the alert's query does not keep: it renders blank.
    pub const TEMPLATE_LABEL_DROPPED: &str = "template-label-dropped";
    /// An alert's summary that names the exporter's instance where the broken thing is another label.
    pub const SUMMARY_NAMES_EXPORTER: &str = "summary-names-exporter";
    /// A received alert whose annotation rendered a label blank ("(instance )").
    pub const BLANK_LABEL: &str = "blank-label";
    /// An action that only forwards the message.
    pub const VAGUE_ACTION: &str = "vague-action";
    /// Text that guesses, states a goal instead of a step, investigates nothing in particular, or says
    /// only that something is wrong.
    pub const VAGUE_TEXT: &str = "vague-text";
    /// A runbook that is not an absolute http(s) URL.
    pub const RUNBOOK_NOT_ABSOLUTE_URL: &str = "runbook-not-absolute-url";
}

/// One rule: its stable id, what it checks, and the function that checks it.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub id: &'static str,
    pub description: &'static str,
    check: fn(&mut Check<'_>),
}

/// Every rule, in report order.
pub const RULES: &[Rule] = &[
    Rule {
        id: rule::PLACEHOLDER_TEXT,
        description: "a field says something, not \"unknown\", \"TBD\" or an example.com link",
        check: placeholder_text,
    },
    Rule {
        id: rule::CONTEXT_RESTATES_METRIC,
        description: "an alert's description says why it matters, not only the value and labels again",
        check: context_restates_metric,
    },
    Rule {
        id: rule::INSTRUCTION_IN_DESCRIPTION,
        description: "a step written in an alert's description belongs in its `action`",
        check: instruction_in_description,
    },
    Rule {
        id: rule::MISSING_FIELD,
        description: "a clarity field the standard requires for this kind and severity is absent",
        check: missing_field,
    },
    Rule {
        id: rule::ANNOUNCEMENT_INCOMPLETE_CHANGE,
        description: "an announcement or planned event says what changes, why, and the impact",
        check: announcement_incomplete_change,
    },
    Rule {
        id: rule::ACTION_NEEDS_DEADLINE,
        description: "a message (other than an alert) that asks for an action says by when",
        check: action_needs_deadline,
    },
    Rule {
        id: rule::ACTION_NEEDS_OWNER,
        description: "a message that asks for an action names who is accountable",
        check: action_needs_owner,
    },
    Rule { id: rule::SUMMARY_MULTILINE, description: "the summary is one line", check: summary_multiline },
    Rule {
        id: rule::SUMMARY_TOO_LONG,
        description: "the summary fits the configured number of characters",
        check: summary_too_long,
    },
    Rule {
        id: rule::SUMMARY_NO_STATE,
        description: "an alert's summary says what is wrong (down, above, failing), not only what is measured",
        check: summary_no_state,
    },
    Rule {
        id: rule::SUMMARY_MISSTATES_CONDITION,
        description: "an alert's summary states the condition its query fires on, not the end state it warns of",
        check: summary_misstates_condition,
    },
    Rule {
        id: rule::TEMPLATE_LABEL_DROPPED,
        description: "annotations name only labels the alert's query keeps",
        check: template_label_dropped,
    },
    Rule {
        id: rule::SUMMARY_NAMES_EXPORTER,
        description: "an alert's summary names the broken thing, not the exporter's instance",
        check: summary_names_exporter,
    },
    Rule {
        id: rule::BLANK_LABEL,
        description: "a received alert's text has no label rendered blank, such as \"(instance )\"",
        check: blank_label,
    },
    Rule {
        id: rule::VAGUE_ACTION,
        description: "the action says what to do, not only \"please handle\" or \"FYI\"",
        check: vague_action,
    },
    Rule {
        id: rule::VAGUE_TEXT,
        description: "text states what is known and what to do: no guesses, goals or bare \"investigate\"",
        check: vague_text,
    },
    Rule {
        id: rule::RUNBOOK_NOT_ABSOLUTE_URL,
        description: "the runbook is an absolute http(s) URL",
        check: runbook_not_absolute_url,
    },
];

/// The id of rule `id` as a `&'static str`, or `None` when no rule has that id.
pub fn rule_id(id: &str) -> Option<&'static str> {
    RULES.iter().map(|r| r.id).find(|r| *r == id)
}

/// Runs every rule not disabled by `standard` on `message`.
pub(super) fn run(standard: &Standard, message: &Message) -> Vec<Finding> {
    let mut check = Check {
        standard,
        message,
        whom: describe_audience(message.kind, &message.severity),
        reported: BTreeSet::new(),
        hollow: BTreeSet::new(),
        out: Vec::new(),
    };
    for r in RULES {
        if !standard.disabled_rules.contains(r.id) {
            (r.check)(&mut check);
        }
    }
    check.out
}

/// What the rules share while checking one message.
struct Check<'a> {
    standard: &'a Standard,
    message: &'a Message,
    /// "Alerts of severity critical", "Announcements": how findings name the message's kind.
    whom: String,
    /// Fields already reported, so each is reported once.
    reported: BTreeSet<ClarityField>,
    /// Fields whose text says nothing (a placeholder, a restated metric): they count as absent.
    hollow: BTreeSet<ClarityField>,
    out: Vec<Finding>,
}

impl Check<'_> {
    /// Reports `field` unless an earlier rule did; returns whether it was reported now.
    fn report(&mut self, field: ClarityField, rule: &'static str, message: String, fix: String) -> bool {
        if !self.reported.insert(field) {
            return false;
        }
        self.out.push(Finding { rule, field: Some(field), message, fix });
        true
    }

    /// The message asks for an action (one that is not "no action needed").
    fn asks_for_action(&self) -> bool {
        self.message.get(ClarityField::Action).is_some()
    }

    /// The field's text, when present and saying something (not hollow).
    fn text(&self, field: ClarityField) -> Option<&str> {
        self.message.get(field).filter(|_| !self.hollow.contains(&field))
    }

    /// Whether the field counts as present: [`Message::has`], and not hollow.
    fn present(&self, field: ClarityField) -> bool {
        self.message.has(field) && !self.hollow.contains(&field)
    }

    fn is_alert(&self) -> bool {
        self.message.kind == MessageKind::Alert
    }

    /// Reports a finding about the message's text in `field` (not a missing field): each rule reports a
    /// field once, but a field may have findings of several such rules.
    fn advise(&mut self, field: ClarityField, rule: &'static str, message: String, fix: String) {
        self.out.push(Finding { rule, field: Some(field), message, fix });
    }
}

fn placeholder_text(c: &mut Check<'_>) {
    for field in ClarityField::ALL {
        let Some(text) = c.message.get(field) else { continue };
        let hollow = match field {
            // "n/a" and "none" as an action are an explicit "no action needed" (see `Message::set`).
            ClarityField::Action => false,
            ClarityField::Runbook => {
                words::is_placeholder(text, &c.standard.extra_words) || words::is_placeholder_url(text)
            }
            _ => words::is_placeholder(text, &c.standard.extra_words),
        };
        if !hollow {
            continue;
        }
        c.hollow.insert(field);
        c.report(
            field,
            rule::PLACEHOLDER_TEXT,
            format!(
                "`{}` is {:?}, which holds a place instead of saying {}",
                named(field, c.message.kind),
                text.trim(),
                field.question()
            ),
            how_to_add(field, c.message.kind).replacen("add ", "write ", 1),
        );
    }
}

fn context_restates_metric(c: &mut Check<'_>) {
    if !c.is_alert() {
        return;
    }
    let Some(context) = c.text(ClarityField::Context) else { return };
    if !words::restates_metric(context, c.message.get(ClarityField::Summary)) {
        return;
    }
    c.hollow.insert(ClarityField::Context);
    c.report(
        ClarityField::Context,
        rule::CONTEXT_RESTATES_METRIC,
        "the description only restates the metric (its value, labels or threshold); it says neither why \
         this matters nor who is affected"
            .into(),
        "say who or what is affected in an `impact` annotation (users, services, data), and why it matters \
         in `description`; the value and labels are in the alert already"
            .into(),
    );
}

fn instruction_in_description(c: &mut Check<'_>) {
    if !c.is_alert() || c.present(ClarityField::Action) || c.present(ClarityField::Runbook) {
        return;
    }
    let Some(context) = c.message.get(ClarityField::Context) else { return };
    let Some(step) = words::instruction(context, &c.standard.extra_words) else { return };
    // The step is quoted in lint's output only: a received alert's findings are shared by every alert
    // whose findings read the same, and a quoted (templated) sentence would make each alert's its own.
    let quoted = if c.message.query.is_some() { format!(" ({step:?})") } else { String::new() };
    c.report(
        ClarityField::Action,
        rule::INSTRUCTION_IN_DESCRIPTION,
        format!("the description holds a step{quoted} but the alert has no `action`"),
        "move the step to an `action` annotation so it reads as what to do".into(),
    );
}

fn missing_field(c: &mut Check<'_>) {
    let (kind, severity) = (c.message.kind, c.message.severity.clone());
    for req in c.standard.required(kind, &severity) {
        if req.fields().iter().any(|f| c.present(*f)) {
            continue;
        }
        // A placeholder, a restated metric or a step in the description already said what is wrong here.
        if req.fields().iter().any(|f| c.reported.contains(f)) {
            continue;
        }
        c.out.push(missing(kind, &c.whom, req));
        c.reported.extend(req.fields().iter().copied());
    }
}

fn announcement_incomplete_change(c: &mut Check<'_>) {
    let kind = c.message.kind;
    if !matches!(kind, MessageKind::Announcement | MessageKind::PlannedEvent) {
        return;
    }
    let parts = [
        (ClarityField::Summary, "what changes"),
        (ClarityField::Context, "why it changes"),
        (ClarityField::Impact, "what it means for the audience"),
    ];
    for (field, question) in parts {
        if c.message.has(field) {
            continue;
        }
        c.report(
            field,
            rule::ANNOUNCEMENT_INCOMPLETE_CHANGE,
            format!(
                "{} announce a change and must say what changes, why, and the impact on the audience; \
                 this one does not say {question} (`{}` is missing)",
                capitalise(kind.plural()),
                named(field, kind)
            ),
            how_to_add(field, kind).to_string(),
        );
    }
}

fn action_needs_deadline(c: &mut Check<'_>) {
    let kind = c.message.kind;
    if c.asks_for_action() && kind != MessageKind::Alert && !c.message.has(ClarityField::Deadline) {
        c.report(
            ClarityField::Deadline,
            rule::ACTION_NEEDS_DEADLINE,
            "the message asks for an action but does not say by when (`deadline` is missing)".into(),
            how_to_add(ClarityField::Deadline, kind).to_string(),
        );
    }
}

fn action_needs_owner(c: &mut Check<'_>) {
    let kind = c.message.kind;
    if c.asks_for_action() && !c.message.has(ClarityField::Owner) {
        c.report(
            ClarityField::Owner,
            rule::ACTION_NEEDS_OWNER,
            "the message asks for an action but names nobody accountable for it (`owner` is missing)".into(),
            how_to_add(ClarityField::Owner, kind).to_string(),
        );
    }
}

fn summary_multiline(c: &mut Check<'_>) {
    let Some(summary) = c.message.get(ClarityField::Summary).map(str::trim) else { return };
    if !summary.contains(['\n', '\r']) {
        return;
    }
    let lines = summary.lines().filter(|l| !l.trim().is_empty()).count();
    c.out.push(Finding {
        rule: rule::SUMMARY_MULTILINE,
        field: Some(ClarityField::Summary),
        message: format!("the summary spans {lines} lines; it is the title of every notification"),
        fix: match c.message.kind {
            MessageKind::Alert => "keep the first line in `summary` and move the rest to `description`",
            _ => "keep the first line in `summary` and move the rest to `context`",
        }
        .into(),
    });
}

fn summary_too_long(c: &mut Check<'_>) {
    let Some(summary) = c.message.get(ClarityField::Summary).map(str::trim) else { return };
    let chars = summary.chars().count();
    if chars <= c.standard.summary_max_chars {
        return;
    }
    c.out.push(Finding {
        rule: rule::SUMMARY_TOO_LONG,
        field: Some(ClarityField::Summary),
        message: format!(
            "the summary is {chars} characters long; at most {} fit a notification title",
            c.standard.summary_max_chars
        ),
        fix: match c.message.kind {
            MessageKind::Alert => "shorten it to what is wrong and where; move details to `description`",
            _ => "shorten it to what happens; move details to `context`",
        }
        .into(),
    });
}

fn summary_no_state(c: &mut Check<'_>) {
    if !c.is_alert() {
        return;
    }
    let Some(summary) = c.text(ClarityField::Summary) else { return };
    if words::has_state(summary, &c.standard.extra_words) {
        return;
    }
    c.advise(
        ClarityField::Summary,
        rule::SUMMARY_NO_STATE,
        // Not quoted: findings that read the same are shared by every alert of a rule (see the listing).
        "the summary names what is measured but not what is wrong with it".into(),
        "say the state or direction and where: \"Disk on {{ $labels.instance }} almost full (< 10% left)\", \
         \"Replication lag above 30 s on {{ $labels.instance }}\""
            .into(),
    );
}

fn summary_misstates_condition(c: &mut Check<'_>) {
    let Some((op, threshold)) = c.message.query.as_ref().and_then(|q| q.condition.as_ref()) else { return };
    let Some(summary) = c.text(ClarityField::Summary) else { return };
    if !words::misstates_condition(summary, (op, threshold.0)) {
        return;
    }
    c.advise(
        ClarityField::Summary,
        rule::SUMMARY_MISSTATES_CONDITION,
        format!("the summary states an end state, but the expression fires at {op} {}, before it", threshold.0),
        "say what the expression measures: \"Memory almost exhausted (< 10% available)\" rather than \"Out of memory\""
            .into(),
    );
}

fn template_label_dropped(c: &mut Check<'_>) {
    let Some(query) = c.message.query.as_ref() else { return };
    let is_dropped = |label: &str| {
        query.dropped_labels.contains(label) || query.kept_labels.as_ref().is_some_and(|k| !k.contains(label))
    };
    for field in [ClarityField::Summary, ClarityField::Context, ClarityField::Impact, ClarityField::Action] {
        let Some(text) = c.message.get(field) else { continue };
        let dropped: Vec<String> = words::template_labels(text).into_iter().filter(|l| is_dropped(l)).collect();
        if dropped.is_empty() {
            continue;
        }
        let names = dropped.iter().map(|l| format!("`{l}`")).collect::<Vec<_>>().join(", ");
        let keeps = match &query.kept_labels {
            Some(kept) if kept.is_empty() => "no label at all".to_string(),
            Some(kept) => kept.iter().map(|l| format!("`{l}`")).collect::<Vec<_>>().join(", "),
            None => "the others".to_string(),
        };
        c.advise(
            field,
            rule::TEMPLATE_LABEL_DROPPED,
            format!(
                "`{field}` names {names}, which the expression aggregates away (it keeps {keeps}): it renders blank"
            ),
            "name a label the expression keeps, or keep the label in the expression (`by (…)`)".into(),
        );
    }
}

fn summary_names_exporter(c: &mut Check<'_>) {
    let Some(query) = &c.message.query else { return };
    let Some(summary) = c.message.get(ClarityField::Summary) else { return };
    let Some(metric) = query.metrics.iter().find(|m| words::is_exporter_metric(m, &c.standard.extra_words)) else {
        return;
    };
    let labels = words::template_labels(summary);
    if !labels.iter().any(|l| l == "instance") || labels.iter().any(|l| l != "instance") {
        return;
    }
    c.advise(
        ClarityField::Summary,
        rule::SUMMARY_NAMES_EXPORTER,
        format!(
            "the summary names `instance`, but `{metric}` comes from an exporter that watches other things: the \
             instance is the exporter, not what is broken"
        ),
        "name the object the metric is about (`{{ $labels.namespace }}/{{ $labels.pod }}`, the job, the queue)".into(),
    );
}

fn blank_label(c: &mut Check<'_>) {
    for field in [ClarityField::Summary, ClarityField::Context, ClarityField::Impact, ClarityField::Action] {
        let Some(text) = c.message.get(field) else { continue };
        if text.contains("{{") {
            continue;
        }
        let blank = words::blank_labels(text);
        if blank.is_empty() {
            continue;
        }
        let names = blank.iter().map(|l| format!("`{l}`")).collect::<Vec<_>>().join(", ");
        c.advise(
            field,
            rule::BLANK_LABEL,
            format!("`{field}` rendered {names} blank: the alert has no such label"),
            "name labels the alert carries; when the rule aggregates, keep the label with `by (…)`".into(),
        );
    }
}

fn vague_text(c: &mut Check<'_>) {
    for field in [ClarityField::Summary, ClarityField::Context, ClarityField::Impact, ClarityField::Action] {
        // A description that restates the metric may guess as well: both are worth saying. A placeholder
        // has been reported as such.
        let Some(text) = c.message.get(field).filter(|t| !words::is_placeholder(t, &c.standard.extra_words)) else {
            continue;
        };
        // An action made of forwarding phrases is `vague-action`'s.
        if field == ClarityField::Action && c.standard.is_vague(text) {
            continue;
        }
        let Some(why) = words::vagueness(text, &c.standard.extra_words) else { continue };
        c.advise(
            field,
            rule::VAGUE_TEXT,
            format!("`{}` {why}", named(field, c.message.kind)),
            match field {
                ClarityField::Action => "write the first concrete step: what to run or change, and on what",
                ClarityField::Impact => "say who or what is affected, as known: users, services, data",
                _ => "state what is known: what is wrong, where, and by how much",
            }
            .into(),
        );
    }
}

fn vague_action(c: &mut Check<'_>) {
    let Some(action) = c.message.get(ClarityField::Action) else { return };
    if !c.standard.is_vague(action) {
        return;
    }
    c.out.push(Finding {
        rule: rule::VAGUE_ACTION,
        field: Some(ClarityField::Action),
        message: format!("the action {:?} forwards the message without saying what to do", action.trim()),
        fix: "say what to do, concretely: the first step, the command or the decision needed \
              (for example \"fail over to the replica with `make failover`\")"
            .into(),
    });
}

fn runbook_not_absolute_url(c: &mut Check<'_>) {
    let Some(runbook) = c.message.get(ClarityField::Runbook) else { return };
    if is_absolute_url(runbook) {
        return;
    }
    c.out.push(Finding {
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

/// Whether `action` is made only of `phrases` and filler words.
pub(super) fn is_vague_with(action: &str, phrases: &[String]) -> bool {
    only_phrases(action, phrases)
}

/// Whether `text` is an absolute http(s) URL with a host, or starts with a template that can expand to one.
/// Template text (`{{ … }}`) may appear anywhere; whitespace outside templates may not.
pub fn is_absolute_url(text: &str) -> bool {
    let text = text.trim();
    // Each complete template becomes one placeholder character; an unclosed `{{` stays literal.
    let literal = words::replace_templates(text, '\u{1}');
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

/// How to add `field` to a message of `kind`: for alerts, the annotation or label that carries it.
/// The name a finding gives `field` for a message of `kind`: the one its author writes. An announcement's
/// summary is its `title` and its context its `why` (the API's fields and `clarion announce`'s flags).
pub fn named(field: ClarityField, kind: MessageKind) -> &'static str {
    match (kind, field) {
        (MessageKind::Announcement, ClarityField::Summary) => "title",
        (MessageKind::Announcement, ClarityField::Context) => "why",
        _ => field.as_str(),
    }
}

fn how_to_add(field: ClarityField, kind: MessageKind) -> &'static str {
    match (kind, field) {
        (MessageKind::Announcement, ClarityField::Summary) => {
            "set `title` (`clarion announce --title`): one line saying what changes"
        }
        (MessageKind::Announcement, ClarityField::Context) => {
            "set `why` (`--why`): why this happens and why it matters"
        }
        (MessageKind::Announcement, ClarityField::Impact) => "set `impact` (`--impact`): who is affected and how",
        (MessageKind::Announcement, ClarityField::Action) => {
            "set `action` (`--action`): what the audience must do (or `none` when nothing needs doing)"
        }
        (MessageKind::Announcement, ClarityField::Deadline) => {
            "set `deadline` (`--deadline`): by when the action must be done"
        }
        (MessageKind::Announcement, ClarityField::Owner) => {
            "set `owner` (`--owner`): the one team or person accountable"
        }
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

fn missing(kind: MessageKind, whom: &str, req: &Requirement) -> Finding {
    let fields = req.fields();
    let (message, fix) = match fields {
        [one] => (
            format!("{whom} must say {} and this one does not (`{}` is missing)", one.question(), named(*one, kind)),
            how_to_add(*one, kind).to_string(),
        ),
        many => {
            let names: Vec<String> = many.iter().map(|f| format!("`{}` ({})", named(*f, kind), f.question())).collect();
            let fixes: Vec<&str> = many.iter().map(|f| how_to_add(*f, kind)).collect();
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
