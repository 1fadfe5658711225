//! The routing tree: which receivers (teams) an alert goes to, and which labels group it.
//!
//! Semantics are Alertmanager's: a node matches when its matchers do; children are tried in order and the
//! first matching child stops the search unless it has `continue`; a node none of whose children matched is
//! itself the match. Options not set on a child are inherited from its parent when the tree is built (by the
//! config crate), so every node here carries complete options.

use std::time::Duration;

use crate::labels::LabelSet;
use crate::matcher::Matchers;

/// Which labels form a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupBy {
    /// `group_by: ['...']`: every label, so each distinct label set is its own group.
    All,
    /// The listed label names (sorted, deduplicated).
    Labels(Vec<String>),
}

/// The complete options of one route node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteOpts {
    pub receiver: String,
    pub group_by: GroupBy,
    pub group_wait: Duration,
    pub group_interval: Duration,
    pub repeat_interval: Duration,
    /// The escalation policy of pages from this route, if it names one (inherited from the parent).
    pub escalation: Option<String>,
    /// Hold the notifications of flapping alerts (`crate::feedback::flap`); inherited.
    pub flap_guard: bool,
    /// Names of time intervals (or `calendar:NAME`) during which this route's notifications are held
    /// back; not inherited, as in Alertmanager.
    pub mute_time_intervals: Vec<String>,
    /// Names of time intervals (or `calendar:NAME`) outside which this route's notifications are held
    /// back; none means always active. Not inherited.
    pub active_time_intervals: Vec<String>,
    /// The route's labels (Alertmanager 0.34's `routeLabels`), its parent's with its own on top.
    pub labels: LabelSet,
}

/// One node of the routing tree.
#[derive(Clone, Debug)]
pub struct Route {
    pub matchers: Matchers,
    pub continue_matching: bool,
    pub opts: RouteOpts,
    pub routes: Vec<Route>,
    key: String,
}

impl Route {
    /// Builds the root of a tree; children are added with [`Route::child`].
    pub fn root(opts: RouteOpts, routes: Vec<Route>) -> Route {
        Route::node(Matchers::default(), false, opts, routes, None)
    }

    /// Builds a child node; its key is fixed when it is attached to a parent by [`Route::root`] or
    /// [`Route::child`].
    pub fn child(matchers: Matchers, continue_matching: bool, opts: RouteOpts, routes: Vec<Route>) -> Route {
        Route::node(matchers, continue_matching, opts, routes, None)
    }

    fn node(
        mut matchers: Matchers,
        continue_matching: bool,
        opts: RouteOpts,
        routes: Vec<Route>,
        parent_key: Option<&str>,
    ) -> Route {
        matchers.0.sort_by(|a, b| (a.name(), a.value(), a.op() as u8).cmp(&(b.name(), b.value(), b.op() as u8)));
        let key = match parent_key {
            Some(p) => format!("{p}/{matchers}"),
            None => matchers.to_string(),
        };
        let routes = routes
            .into_iter()
            .map(|r| Route::node(r.matchers, r.continue_matching, r.opts, r.routes, Some(&key)))
            .collect();
        Route { matchers, continue_matching, opts, routes, key }
    }

    /// Alertmanager's route key: the path of matcher sets from the root, such as `{}/{team="payments"}`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The nodes an alert with these labels is routed to, in tree order.
    pub fn matching(&self, labels: &LabelSet) -> Vec<&Route> {
        let mut out = Vec::new();
        self.collect_matches(labels, &mut out);
        out
    }

    fn collect_matches<'a>(&'a self, labels: &LabelSet, out: &mut Vec<&'a Route>) -> bool {
        if !self.matchers.matches(labels) {
            return false;
        }
        let before = out.len();
        for child in &self.routes {
            if child.collect_matches(labels, out) && !child.continue_matching {
                break;
            }
        }
        if out.len() == before {
            out.push(self);
        }
        true
    }

    /// The team an alert with these labels belongs to when one team must be named (the owner a finding
    /// falls back to): the receiver of the first node it is routed to.
    pub fn first_receiver(&self, labels: &LabelSet) -> Option<&str> {
        self.matching(labels).first().map(|r| r.opts.receiver.as_str())
    }

    /// Like [`Route::matching`], with the path from the root to each matched node (root first).
    pub fn matching_paths(&self, labels: &LabelSet) -> Vec<Vec<&Route>> {
        let mut out = Vec::new();
        let mut path = Vec::new();
        self.collect_paths(labels, &mut path, &mut out);
        out
    }

    fn collect_paths<'a>(
        &'a self,
        labels: &LabelSet,
        path: &mut Vec<&'a Route>,
        out: &mut Vec<Vec<&'a Route>>,
    ) -> bool {
        if !self.matchers.matches(labels) {
            return false;
        }
        path.push(self);
        let before = out.len();
        for child in &self.routes {
            if child.collect_paths(labels, path, out) && !child.continue_matching {
                break;
            }
        }
        if out.len() == before {
            out.push(path.clone());
        }
        path.pop();
        true
    }

    /// The labels of `labels` that form its group on this route.
    pub fn group_labels(&self, labels: &LabelSet) -> LabelSet {
        match &self.opts.group_by {
            GroupBy::All => labels.clone(),
            GroupBy::Labels(names) => names.iter().filter_map(|n| labels.get(n).map(|v| (n.as_str(), v))).collect(),
        }
    }

    /// Every node of the tree, depth first.
    pub fn walk(&self) -> Vec<&Route> {
        let mut out = vec![self];
        for c in &self.routes {
            out.extend(c.walk());
        }
        out
    }
}

/// Alertmanager's `model.LabelSet.String()`: each pair formatted as `name="value"` (Go's `%q` quoting),
/// the formatted pairs sorted as strings (so `dc2="y"` sorts before `dc="x"`), joined with `, `.
pub fn label_set_string(labels: &LabelSet) -> String {
    let mut pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={}", go_quote(v))).collect();
    pairs.sort();
    format!("{{{}}}", pairs.join(", "))
}

/// Go's `strconv.Quote`: printable characters as they are, the usual backslash escapes, other control
/// characters as `\xNN`, other non-printable characters as `\uNNNN` or `\UNNNNNNNN`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            ' ' => out.push(' '),
            c if (c as u32) < 0x80 && (c.is_ascii_control()) => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if is_go_printable(c) => out.push(c),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// An approximation of Go's `unicode.IsPrint`: not a control, not a space other than U+0020, not a
/// format character of the common kinds.
fn is_go_printable(c: char) -> bool {
    !c.is_control()
        && !c.is_whitespace()
        && !matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(receiver: &str) -> RouteOpts {
        RouteOpts {
            receiver: receiver.into(),
            group_by: GroupBy::Labels(vec!["alertname".into()]),
            group_wait: Duration::from_secs(30),
            group_interval: Duration::from_secs(300),
            repeat_interval: Duration::from_secs(14400),
            escalation: None,
            flap_guard: false,
            mute_time_intervals: Vec::new(),
            active_time_intervals: Vec::new(),
            labels: LabelSet::new(),
        }
    }

    fn m(text: &str) -> Matchers {
        Matchers::parse(text).unwrap_or_default()
    }

    fn labels(pairs: &[(&str, &str)]) -> LabelSet {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn tree() -> Route {
        Route::root(
            opts("ops"),
            vec![
                Route::child(
                    m("team=payments"),
                    true,
                    opts("payments"),
                    vec![Route::child(m("severity=page"), false, opts("payments-oncall"), vec![])],
                ),
                Route::child(m("team=~pay.*"), false, opts("finance"), vec![]),
                Route::child(m("team=payments"), false, opts("never"), vec![]),
            ],
        )
    }

    fn receivers(r: &Route, l: &LabelSet) -> Vec<String> {
        r.matching(l).iter().map(|n| n.opts.receiver.clone()).collect()
    }

    #[test]
    fn routes_follow_alertmanager_semantics() {
        let t = tree();
        assert_eq!(
            receivers(&t, &labels(&[("team", "payments"), ("severity", "page")])),
            ["payments-oncall", "finance"]
        );
        assert_eq!(receivers(&t, &labels(&[("team", "payments")])), ["payments", "finance"]);
        assert_eq!(receivers(&t, &labels(&[("team", "payroll")])), ["finance"]);
        assert_eq!(receivers(&t, &labels(&[("team", "web")])), ["ops"]);
    }

    #[test]
    fn matching_paths_end_at_the_matching_nodes() {
        let t = tree();
        let paths = t.matching_paths(&labels(&[("team", "payments"), ("severity", "page")]));
        let receivers: Vec<Vec<&str>> =
            paths.iter().map(|p| p.iter().map(|r| r.opts.receiver.as_str()).collect()).collect();
        assert_eq!(receivers, vec![vec!["ops", "payments", "payments-oncall"], vec!["ops", "finance"]]);
    }

    #[test]
    fn route_keys_are_the_path_of_sorted_matchers() {
        let t = Route::root(
            opts("ops"),
            vec![Route::child(m("b=2,a=1"), false, opts("x"), vec![Route::child(m("c=~3"), false, opts("y"), vec![])])],
        );
        assert_eq!(t.key(), "{}");
        assert_eq!(t.routes[0].key(), r#"{}/{a="1",b="2"}"#);
        assert_eq!(t.routes[0].routes[0].key(), r#"{}/{a="1",b="2"}/{c=~"3"}"#);
    }

    #[test]
    fn group_labels_take_the_listed_names_or_everything() {
        let l = labels(&[("alertname", "A"), ("instance", "i")]);
        let t = tree();
        assert_eq!(t.group_labels(&l), labels(&[("alertname", "A")]));
        let all = Route::root(RouteOpts { group_by: GroupBy::All, ..opts("ops") }, vec![]);
        assert_eq!(all.group_labels(&l), l);
        assert_eq!(label_set_string(&l), r#"{alertname="A", instance="i"}"#);
    }

    #[test]
    fn label_sets_print_like_go_with_sorted_pairs_and_go_quoting() {
        let l = labels(&[("dc", "x"), ("dc2", "y"), ("alertname", "TwoDcs")]);
        assert_eq!(label_set_string(&l), r#"{alertname="TwoDcs", dc2="y", dc="x"}"#);
        assert_eq!(go_quote("ctl\u{1}\u{7f} é\t\"q\"\\"), r#""ctl\x01\x7f é\t\"q\"\\""#);
        assert_eq!(go_quote("\u{a0}\u{1F600}"), r#""\u00a0😀""#);
    }
}
