//! What `clarion lint --explain RULE` prints: each rule's id and one-line description (from [`RULES`]),
//! why it matters, an example that falls short and one that does not, and the word lists it reads.

use super::phrases::{FILLER_WORDS, VAGUE_PHRASES};
use super::rules::{rule, RULES};
use super::words;

/// The explanation of rule `id`, or `None` when no rule has that id.
pub fn explain(id: &str) -> Option<String> {
    let r = RULES.iter().find(|r| r.id == id)?;
    let (why, before, after, lists): (&str, &str, &str, Vec<(&str, &[&str])>) = match r.id {
        rule::PLACEHOLDER_TEXT => (
            "A field that holds a place tells the reader nothing and hides that the field is missing.",
            "impact: unknown    runbook_url: https://example.com",
            "impact: Checkout cannot take orders    runbook_url: https://runbooks.acme.io/checkout-down",
            vec![("placeholders", words::PLACEHOLDERS), ("placeholder hosts", words::PLACEHOLDER_HOSTS)],
        ),
        rule::CONTEXT_RESTATES_METRIC => (
            "The alert already carries its value and labels; a description that repeats them says neither \
             why this matters nor who is affected.",
            "description: \"SQL server instance is down\\n VALUE = {{ $value }}\\n LABELS = {{ $labels }}\"",
            "description: Orders are queued and not written until the primary is back",
            vec![("words that state a consequence (a description with one is context)", words::CONSEQUENCE_STEMS)],
        ),
        rule::INSTRUCTION_IN_DESCRIPTION => (
            "Steps belong in `action`, where notifications show them as what to do; hidden in the description \
             they read as background.",
            "description: Clock is out of sync. Ensure NTP is configured correctly on this host.",
            "action: Ensure NTP is configured correctly on this host (`chronyc sources`)",
            vec![("verbs that start a step", words::INSTRUCTION_VERBS)],
        ),
        rule::MISSING_FIELD => (
            "The standard (`standard.require` in clarion.yml) lists what each kind and severity must carry.",
            "a paging alert with only a summary",
            "summary, impact, action or runbook_url, owner",
            vec![],
        ),
        rule::SUMMARY_NO_STATE => (
            "The summary is the title of every notification: it says what is wrong and where, not only what is \
             measured.",
            "summary: Minio disk space usage (instance {{ $labels.instance }})",
            "summary: Minio disk almost full (< 10% free) on {{ $labels.instance }}",
            vec![("words that give a state or direction", words::STATE_WORDS)],
        ),
        rule::SUMMARY_MISSTATES_CONDITION => (
            "A summary that announces the end (\"out of memory\") for a query that fires before it (at 90%) \
             sends the reader to a crisis that has not happened, or hides that there is time to act.",
            "expr: node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes * 100 < 10    summary: Host out of memory",
            "summary: Host memory almost exhausted (< 10% available) on {{ $labels.instance }}",
            vec![("end-state words", words::END_STATE_WORDS)],
        ),
        rule::TEMPLATE_LABEL_DROPPED => (
            "A label the expression aggregates away is not on the alert: the template renders blank, \
             \"(instance )\".",
            "expr: sum by (job) (rate(errors_total[5m])) > 0    summary: Errors (instance {{ $labels.instance }})",
            "summary: Errors above 0/s in {{ $labels.job }}",
            vec![],
        ),
        rule::SUMMARY_NAMES_EXPORTER => (
            "For exporters that watch other things (Kubernetes objects, cloud resources) the instance is the \
             exporter itself, not what is broken.",
            "expr: kube_job_status_failed > 0    summary: Kubernetes job failed (instance {{ $labels.instance }})",
            "summary: Job {{ $labels.namespace }}/{{ $labels.job_name }} failed",
            vec![("exporter metric prefixes", words::EXPORTER_METRIC_PREFIXES)],
        ),
        rule::BLANK_LABEL => (
            "A received alert whose text rendered a label blank came from a rule that names a label its query \
             drops.",
            "summary: Thanos Store gRPC errors (instance )",
            "summary: Thanos Store gRPC errors above 1% in thanos-store",
            vec![],
        ),
        rule::VAGUE_ACTION => (
            "An action that only forwards the message leaves the reader to work out what to do.",
            "action: please handle ASAP",
            "action: Fail over to the replica with `make failover`",
            vec![("forwarding phrases", VAGUE_PHRASES), ("filler words", FILLER_WORDS)],
        ),
        rule::VAGUE_TEXT => (
            "Guesses, generic goals and \"investigate\" without an object make the reader do the thinking the \
             author skipped.",
            "description: It might be crashlooping.    action: Investigate the cluster.",
            "description: The pod restarted 5 times in 10 minutes.    action: Read the last crash with `kubectl logs --previous`",
            vec![("guess words", words::GUESS_WORDS), ("goal openings", words::GOAL_OPENINGS)],
        ),
        _ => ("", "", "", vec![]),
    };
    let mut out = format!("{}: {}\n", r.id, r.description);
    if !why.is_empty() {
        out.push_str(&format!("\n{why}\n\n  falls short: {before}\n  reads well:  {after}\n"));
    }
    for (name, list) in lists {
        out.push_str(&format!("\n{name}: {}\n", list.join(", ")));
    }
    Some(out)
}
