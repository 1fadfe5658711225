//! Reading the words of a message, not only whether a field is there: text that holds a place instead of
//! saying something ("unknown", "TBD", an example.com runbook), a description that only restates the
//! metric ("VALUE = {{ $value }} LABELS = {{ $labels }}", "Disk is above 90%"), guesses and goals where a
//! step belongs ("It might be crashlooping", "Ensure all data is available"), a summary with no state or
//! direction ("Minio disk space usage"), an instruction hiding in the description, and a label that
//! rendered blank ("(instance )").
//!
//! Every function here is pure and works on text as written (templates included) or as rendered; each
//! states which. The word lists are constants so the documentation and `clarion lint --explain` can show
//! them; they are compared after [`normalize`]: lowercase, punctuation as spaces.

use super::phrases::normalize;

/// Entries a configuration adds to the built-in lists (`standard.words` in `clarion.yml`): more words that
/// give a summary a state, more guess words, more placeholders, more exporter metric prefixes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ExtraWords {
    pub state: Vec<String>,
    pub guesses: Vec<String>,
    pub placeholders: Vec<String>,
    pub exporter_prefixes: Vec<String>,
}

/// `text` without templates, lowercase, every run of characters that are not letters or digits one
/// space, with a space at each end: " disk almost full on ". The lists are then found in it without
/// allocating ([`contains_word_start`]). Rules run on every alert a listing encodes, so this matters.
fn padded_words(text: &str) -> String {
    let text = without_templates(text);
    let mut out = String::with_capacity(text.len() + 2);
    out.push(' ');
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with(' ') {
            out.push(' ');
        }
    }
    if !out.ends_with(' ') {
        out.push(' ');
    }
    out
}

/// A word list prepared for lookup in the words of a text: entries ending in a space are whole words (in a
/// sorted list), entries with no space are word beginnings (bucketed by their first byte, so a word is
/// compared with a handful of entries, not the whole list), and entries with an inner space are phrases
/// searched in the padded text. Built once per list; the rules run on every alert a listing encodes.
struct Lexicon {
    whole: Vec<&'static str>,
    starts: Vec<Vec<&'static str>>,
    phrases: Vec<&'static str>,
}

impl Lexicon {
    fn new(entries: &[&'static str]) -> Lexicon {
        let mut lexicon = Lexicon { whole: Vec::new(), starts: vec![Vec::new(); 256], phrases: Vec::new() };
        for entry in entries {
            match entry.strip_suffix(' ') {
                Some(whole) if !whole.contains(' ') => lexicon.whole.push(whole),
                None if !entry.contains(' ') => {
                    if let Some(&b) = entry.as_bytes().first() {
                        lexicon.starts[usize::from(b)].push(entry);
                    }
                }
                _ => lexicon.phrases.push(entry),
            }
        }
        lexicon.whole.sort_unstable();
        lexicon
    }

    /// Whether `word` is one of the whole words or starts with one of the word beginnings.
    fn has_word(&self, word: &str) -> bool {
        self.whole.binary_search(&word).is_ok()
            || word.as_bytes().first().is_some_and(|&b| self.starts[usize::from(b)].iter().any(|s| word.starts_with(s)))
    }

    /// Whether `padded` (from [`padded_words`]), whose words are `words`, holds an entry.
    fn found_in(&self, padded: &str, words: &[&str]) -> bool {
        words.iter().any(|w| self.has_word(w)) || self.phrases.iter().any(|p| contains_word_start(padded, p))
    }
}

static STATE_LEXICON: std::sync::LazyLock<Lexicon> = std::sync::LazyLock::new(|| Lexicon::new(STATE_WORDS));
static CONSEQUENCE_LEXICON: std::sync::LazyLock<Lexicon> = std::sync::LazyLock::new(|| Lexicon::new(CONSEQUENCE_STEMS));

/// Whether `padded` (from [`padded_words`]) has a word starting with `entry`; an entry ending in a space
/// must match whole words.
fn contains_word_start(padded: &str, entry: &str) -> bool {
    padded.match_indices(entry).any(|(i, _)| i > 0 && padded.as_bytes()[i - 1] == b' ')
}

/// Whether the normalised `words` (joined by spaces) contain `phrase` (normalised) as whole words.
fn has_phrase(words: &str, phrase: &str) -> bool {
    let phrase = normalize(phrase).join(" ");
    !phrase.is_empty() && format!(" {words} ").contains(&format!(" {phrase} "))
}

/// Whole texts that hold a place instead of saying something. Compared after [`normalize`].
pub const PLACEHOLDERS: &[&str] = &[
    "unknown",
    "tbd",
    "tba",
    "todo",
    "to do",
    "n a",
    "na",
    "none",
    "null",
    "nil",
    "xxx",
    "placeholder",
    "changeme",
    "change me",
    "fill me",
    "fill in",
    "lorem ipsum",
    "description",
    "summary",
    "impact",
    "see description",
    "see summary",
];

/// Hosts that only stand for a real one: a runbook there is no runbook. Only these hosts themselves:
/// `runbooks.example.com` in documentation stands for the reader's own host and is let through.
pub const PLACEHOLDER_HOSTS: &[&str] = &["example.com", "example.org", "example.net", "localhost", "127.0.0.1"];

/// Words that guess rather than state ("it might be crashlooping").
pub const GUESS_WORDS: &[&str] = &[
    "might",
    "may",
    "maybe",
    "perhaps",
    "possibly",
    "probably",
    "presumably",
    "somehow",
    "likely",
    "potential",
    "potentially",
];

/// Openings that state a goal instead of a step ("Ensure that all the data are available").
pub const GOAL_OPENINGS: &[&str] = &["ensure", "please ensure", "make sure", "please make sure", "ensure that"];

/// Words that say nothing concrete in a goal: "ensure that all the data are available" names one thing
/// ("data") and no step, where "make sure your service retries writes" or "ensure NTP is configured
/// correctly on this host" name what to act on. A goal with fewer than two other words is vague.
const GENERIC_GOAL_WORDS: &[&str] = &[
    "ensure",
    "make",
    "sure",
    "please",
    "that",
    "all",
    "the",
    "a",
    "an",
    "is",
    "are",
    "be",
    "it",
    "this",
    "everything",
    "available",
    "fine",
    "ok",
    "okay",
    "healthy",
    "working",
    "works",
    "properly",
    "correctly",
    "normal",
    "normally",
    "expected",
    "good",
    "resolved",
    "fixed",
    "running",
    "up",
    "data",
    "things",
    "stuff",
    "again",
    "and",
    "of",
    "to",
];

/// Verbs that start an instruction ("Restart the exporter", "Check replication with …").
pub const INSTRUCTION_VERBS: &[&str] = &[
    "check",
    "restart",
    "verify",
    "investigate",
    "inspect",
    "increase",
    "decrease",
    "reduce",
    "raise",
    "scale",
    "add",
    "remove",
    "delete",
    "clean",
    "free",
    "run",
    "rerun",
    "reboot",
    "replace",
    "rotate",
    "renew",
    "upgrade",
    "update",
    "roll",
    "rollback",
    "fail",
    "failover",
    "drain",
    "ensure",
    "make",
    "contact",
    "escalate",
    "look",
    "review",
    "consider",
    "configure",
    "set",
    "tune",
    "adjust",
    "fix",
    "resolve",
    "open",
    "kill",
    "stop",
    "start",
];

/// Investigations that name no object, or one so generic it says nothing ("Investigate the cluster").
const GENERIC_OBJECTS: &[&str] = &[
    "it",
    "this",
    "that",
    "the issue",
    "the problem",
    "the cause",
    "the cluster",
    "the system",
    "the server",
    "the service",
    "the host",
    "the node",
    "the situation",
    "the alert",
    "everything",
    "things",
    "further",
    "and fix",
    "and fix it",
];

/// Texts that say something is wrong without saying what.
const SAYS_NOTHING: &[&str] = &[
    "something is wrong",
    "something went wrong",
    "something is not right",
    "an error occurred",
    "a problem occurred",
    "problem detected",
    "issue detected",
    "there is a problem",
    "there is an issue",
];

/// What gives a summary a state or a direction: what is wrong, not only what is measured. An entry ending
/// in a space is a whole word ("down " does not match "download"); any other is the start of a word
/// ("fail" covers "failed", "failing", "failure").
pub const STATE_WORDS: &[&str] = &[
    "down ",
    "high",
    "low ",
    "lower",
    "above",
    "below",
    "over ",
    "under ",
    "exceed",
    "full",
    "filling",
    "out of",
    "missing",
    "absent",
    "fail",
    "error",
    "unreach",
    "unavail",
    "offline",
    "not ",
    "no ",
    "slow",
    "stuck",
    "lag",
    "behind",
    "expir",
    "crash",
    "restart",
    "oom",
    "kill",
    "throttl",
    "degrad",
    "unhealth",
    "dead ",
    "lost ",
    "loss",
    "flap",
    "mismatch",
    "too ",
    "increas",
    "decreas",
    "drop",
    "spike",
    "saturat",
    "exhaust",
    "leak",
    "pending",
    "deadlock",
    "timeout",
    "timed out",
    "refus",
    "reject",
    "invalid",
    "broken",
    "disabled",
    "overload",
    "reached",
    "limit",
    "shortage",
    "critical",
    "unsync",
    "stale",
    "blocked",
    "backlog",
    "denied",
    "unauthori",
    "evict",
    "split",
    "corrupt",
    "outdated",
    "changed",
    "empty ",
    "zero ",
    "hang",
    "hung ",
    "panic",
    "abort",
    "unstable",
    "insufficient",
    "overflow",
    "overcommit",
    "running out",
    "almost",
    "nearly",
    "approaching",
    "too long",
    "large ",
    "huge",
    "many ",
    "few ",
    "unexpected",
    "wrong",
    "greater",
    "less ",
    "more than",
    "short ",
    "stopped",
    "terminated",
    "unready",
    "not ready",
    "lost",
    "failover",
    "rebalanc",
    "recover",
    "unused",
    "idle",
    "wasted",
    "underutil",
    "overutil",
    "used",
    "trip",
    "exception",
    "backpressur",
    "incomplete",
    "outage",
    "died",
    "dies",
    "never ",
    "yellow",
    "red ",
    "inactive",
    "sealed",
    "revoked",
    "inconsistent",
    "open ",
    "backing up",
    "missed",
    "zombie",
    "read only",
    "uncorrectable",
    "duplicate",
    "unable",
    "cannot",
    "problem",
    "issue",
    "fault",
    "conflict",
    "violat",
    "breach",
    "rising",
    "growing",
    "unbalanc",
    "imbalanc",
];

/// Whether `text` (as written or rendered) is only a placeholder, such as "unknown", "TBD" or "n/a".
pub fn is_placeholder(text: &str, extra: &ExtraWords) -> bool {
    // Placeholders are short; a long text is not one, and is not normalised to find out.
    if text.len() > 40 {
        return false;
    }
    let words = normalize(text).join(" ");
    !words.is_empty()
        && (PLACEHOLDERS.contains(&words.as_str())
            || extra.placeholders.iter().any(|p| normalize(p).join(" ") == words))
}

/// Whether `url` points at a placeholder host (`https://example.com/…`, `http://localhost/…`).
pub fn is_placeholder_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    let Some(rest) = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://")) else {
        return false;
    };
    let host = rest.split(['/', '?', '#', ':']).next().unwrap_or("");
    PLACEHOLDER_HOSTS.contains(&host)
}

/// `text` with every template (`{{ … }}`) removed, as written text reads once the values are set aside.
pub fn without_templates(text: &str) -> String {
    replace_templates(text, ' ')
}

/// `text` with each complete template (`{{ … }}`) replaced by `mark`; an unclosed `{{` stays literal.
pub(super) fn replace_templates(text: &str, mark: char) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else { break };
        out.push_str(&rest[..start]);
        out.push(mark);
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

/// Words that carry no content of their own when a description restates a metric.
const RESTATING_WORDS: &[&str] = &[
    "value",
    "values",
    "labels",
    "label",
    "is",
    "are",
    "was",
    "were",
    "the",
    "a",
    "an",
    "of",
    "on",
    "in",
    "for",
    "to",
    "has",
    "have",
    "been",
    "than",
    "and",
    "or",
    "with",
    "at",
    "by",
    "from",
    "its",
    "it",
    "this",
    "that",
    "s",
    "current",
    "currently",
    "more",
    "less",
    "greater",
    "lower",
    "higher",
    "above",
    "below",
    "over",
    "under",
    "equal",
    "threshold",
    "last",
    "minutes",
    "minute",
    "hours",
    "hour",
    "seconds",
    "second",
    "m",
    "h",
    "s",
    "ms",
    "percent",
    "rate",
    "ratio",
    "total",
    "count",
    "number",
    "instance",
    "job",
    "host",
];

/// Whether a description (as written) only restates the metric: once templates, numbers, the usual
/// "VALUE = … LABELS = …" dump and words of no content are set aside, it says nothing the summary does not
/// (at most [`RESTATED_OWN_WORDS`] words of its own). Such a description is not context and not impact.
pub fn restates_metric(description: &str, summary: Option<&str>) -> bool {
    let said = summary.map(padded_words).unwrap_or_default();
    let written = padded_words(description);
    let own: Vec<&str> = written
        .split(' ')
        .filter(|w| !w.is_empty() && !w.chars().all(|c| c.is_ascii_digit()))
        .filter(|w| !RESTATING_WORDS.contains(w))
        .filter(|w| !said.split(' ').any(|s| same_word(s, w)))
        .collect();
    // A consequence the summary does not state ("writes fail", "users cannot log in") is context.
    let consequence = own.iter().any(|w| CONSEQUENCE_LEXICON.has_word(w));
    own.len() <= RESTATED_OWN_WORDS && !consequence
}

/// Word beginnings that state a consequence: who or what suffers ("users", "requests fail", "data loss").
pub const CONSEQUENCE_STEMS: &[&str] = &[
    "fail",
    "slow",
    "cannot",
    "unable",
    "user",
    "customer",
    "client",
    "lost",
    "loss",
    "unavailab",
    "outage",
    "reject",
    "block",
    "stall",
    "delay",
    "risk",
    "affect",
    "impact",
    "break",
    "broken",
    "stop",
    "corrupt",
    "downtime",
];

/// How many words of its own a description may have and still only restate the metric.
const RESTATED_OWN_WORDS: usize = 4;

/// The same word, or one inflection of it ("offline"/"offline", "disk"/"disks", "crash"/"crashing").
fn same_word(a: &str, b: &str) -> bool {
    fn stem(w: &str) -> &str {
        w.strip_suffix("ing").or_else(|| w.strip_suffix("ed")).or_else(|| w.strip_suffix('s')).unwrap_or(w)
    }
    a == b || (a.len() > 3 && b.len() > 3 && stem(a) == stem(b))
}

/// Why `text` is vague, if it is: it guesses, states a goal instead of a step, investigates nothing in
/// particular, or says only that something is wrong. Works on written or rendered text.
pub fn vagueness(text: &str, extra: &ExtraWords) -> Option<&'static str> {
    let padded = padded_words(text);
    let joined = padded.trim();
    let opens = |s: &str, p: &str| s.strip_prefix(p).is_some_and(|rest| rest.is_empty() || rest.starts_with(' '));
    if SAYS_NOTHING.iter().any(|p| opens(joined, p)) {
        return Some("says something is wrong without saying what");
    }
    let hedges = ["could indicate", "can indicate", "could mean", "can lead to", "could lead to", "could be"];
    let guess = joined.split(' ').any(|w| GUESS_WORDS.contains(&w))
        || hedges.iter().any(|h| joined.contains(h))
        || extra.guesses.iter().any(|g| has_phrase(joined, g));
    if guess {
        return Some("guesses (\"might\", \"likely\", \"could indicate\") instead of stating what is known");
    }
    for sentence in sentences(text) {
        let padded = padded_words(sentence);
        let s = padded.trim();
        let goal = GOAL_OPENINGS.iter().any(|g| opens(s, g));
        if goal && s.split(' ').filter(|w| !GENERIC_GOAL_WORDS.contains(w)).count() < 2 {
            return Some("states a goal (\"ensure all is well\") instead of the step that reaches it");
        }
        for verb in ["investigate", "check", "look into", "look at"] {
            if let Some(rest) = s.strip_prefix(verb) {
                let object = rest.trim();
                if object.is_empty() || GENERIC_OBJECTS.contains(&object) {
                    return Some("asks to investigate without saying what to look at");
                }
            }
        }
    }
    None
}

/// The sentences of `text`: split at `.`, `!`, `?` and line breaks, trimmed, non-empty.
fn sentences(text: &str) -> impl Iterator<Item = &str> {
    text.split(['.', '!', '?', '\n']).map(str::trim).filter(|s| !s.is_empty())
}

/// Whether a summary (as written) gives a state or direction — "down", "above 90%", "failing" — rather
/// than only naming what is measured ("Minio disk space usage"). Comparisons (`>`, `<`) count.
pub fn has_state(summary: &str, extra: &ExtraWords) -> bool {
    let text = without_templates(summary);
    if text.contains(['>', '<', '≥', '≤']) {
        return true;
    }
    let padded = padded_words(&text);
    // One pass over the summary's words per entry kind: a word entry ("fail", "down ") is compared with
    // the start of each word, a phrase ("out of") searched in the whole text.
    let words: Vec<&str> = padded.split(' ').filter(|w| !w.is_empty()).collect();
    let matches = |entry: &str| match entry.strip_suffix(' ') {
        Some(whole) if !whole.contains(' ') => words.contains(&whole),
        None if !entry.contains(' ') => words.iter().any(|w| w.starts_with(entry)),
        _ => contains_word_start(&padded, entry),
    };
    STATE_LEXICON.found_in(&padded, &words) || extra.state.iter().any(|w| matches(&normalize(w).join(" ")))
}

/// The first sentence of a description (as written) that is an instruction ("Restart the exporter"),
/// if any: a step that belongs in `action`.
pub fn instruction<'a>(description: &'a str, extra: &ExtraWords) -> Option<&'a str> {
    sentences(description).filter(|sentence| vagueness(sentence, extra).is_none()).find(|sentence| {
        let padded = padded_words(sentence);
        let words: Vec<&str> = padded.split(' ').filter(|w| !w.is_empty()).collect();
        let starts = |w: &str| words.first().is_some_and(|first| *first == w);
        let verb = INSTRUCTION_VERBS.iter().any(|v| starts(v)) || (starts("please") && words.len() > 2);
        verb && words.len() >= 3
    })
}

/// Labels a rendered text printed blank: "(instance )", "instance=" or "instance: )" where a template
/// like `(instance {{ $labels.instance }})` met an alert without that label. The names, in order.
pub fn blank_labels(rendered: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = rendered.as_bytes();
    let is_name = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'.';
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'(' {
            let start = i + 1;
            let mut end = start;
            while end < bytes.len() && is_name(bytes[end]) {
                end += 1;
            }
            let mut after = end;
            while after < bytes.len() && (bytes[after] == b' ' || bytes[after] == b'=' || bytes[after] == b':') {
                after += 1;
            }
            if end > start && after > end && after < bytes.len() && bytes[after] == b')' {
                out.push(rendered[start..end].to_string());
            }
        }
        i += 1;
    }
    out
}

/// The labels a text's templates name: `{{ $labels.instance }}`, `{{ index $labels "service.name" }}`.
pub fn template_labels(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else { break };
        let inside = &rest[start + 2..start + len];
        let mut from = inside;
        while let Some(at) = from.find("$labels") {
            let after = &from[at + "$labels".len()..];
            let name: String = if let Some(dotted) = after.strip_prefix('.') {
                dotted.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
            } else if inside[..inside.len() - from.len() + at].trim_end().ends_with("index") {
                after.trim_start().strip_prefix('"').and_then(|q| q.split('"').next()).unwrap_or("").to_string()
            } else {
                String::new()
            };
            if !name.is_empty() && !out.contains(&name) {
                out.push(name);
            }
            from = after;
        }
        rest = &rest[start + len + 2..];
    }
    out
}

/// Metric prefixes of exporters that watch other things (Kubernetes objects, cloud resources): their
/// `instance` is the exporter, not the object an alert on them is about.
pub const EXPORTER_METRIC_PREFIXES: &[&str] = &[
    "kube_",
    "aws_",
    "azure_",
    "stackdriver_",
    "gcp_",
    "openstack_",
    "digitalocean_",
    "kafka_burrow_",
    "burrow_",
    "ceph_",
];

/// Whether `metric` comes from an exporter of [`EXPORTER_METRIC_PREFIXES`] and is about what it watches
/// (a metric about the exporter's own scrapes is about the exporter, which its instance names rightly).
pub fn is_exporter_metric(metric: &str, extra: &ExtraWords) -> bool {
    let prefixed = EXPORTER_METRIC_PREFIXES.iter().any(|p| metric.starts_with(p))
        || extra.exporter_prefixes.iter().any(|p| metric.starts_with(p.as_str()));
    prefixed && !metric.contains("scrape") && !metric.contains("exporter")
}

/// Words that state an end state ("out of memory", "disk full", "descriptors exhausted"): a summary with
/// one misstates a condition that fires before the end, at a share such as 90%.
pub const END_STATE_WORDS: &[&str] = &["out of ", "exhausted", "full ", "empty ", "no space", "depleted"];

/// Whether `summary` states an end state while `condition` fires at a level short of it: a percentage
/// strictly between 0 and 100 (or a ratio strictly between 0 and 1) compared with `>`/`>=`/`<`/`<=`.
pub fn misstates_condition(summary: &str, condition: (&str, f64)) -> bool {
    let padded = padded_words(summary);
    // "Almost full", "nearly exhausted", "(< 10% left)" say what the query measures.
    let qualified = ["almost ", "nearly ", "near ", "running out", "filling", "approaching", "soon "]
        .iter()
        .any(|w| contains_word_start(&padded, w))
        || without_templates(summary).contains(['<', '>', '%']);
    let end_state = !qualified && END_STATE_WORDS.iter().any(|w| contains_word_start(&padded, w));
    let (op, threshold) = condition;
    let partial = (threshold > 0.0 && threshold < 100.0 && threshold != 1.0) || (threshold > 0.0 && threshold < 1.0);
    end_state && partial && matches!(op, ">" | ">=" | "<" | "<=")
}
