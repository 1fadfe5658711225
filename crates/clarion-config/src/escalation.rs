//! The sections that say who hears of a page and when: `people`, `providers`, `services` (the service
//! catalog) and `escalation_policies`, and their checks — every name they use exists, every tier reaches
//! at least one channel, services do not depend on themselves in a circle.

use std::collections::{BTreeMap, BTreeSet};

use clarion_core::page::{Policy, Target, Tier};
use serde::de::{self, Deserialize, Deserializer};

use crate::duration::ConfigDuration;

/// A person: whom an escalation tier can name. A person's contacts are channels, like a team's.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PersonConfig {
    pub name: String,
    #[serde(default)]
    pub channels: Vec<String>,
}

/// A provider: a supplier behind services (a cloud, a vendor's support), reachable through channels. A
/// provider can also post events about its services (`POST /api/v1/provider-events`) with a token scoped
/// to it.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub channels: Vec<String>,
}

/// An entry of the service catalog.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    pub name: String,
    /// The team that owns it.
    pub team: String,
    #[serde(default)]
    pub description: String,
    /// Services it needs (by name).
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Providers it runs on (by name).
    #[serde(default)]
    pub providers: Vec<String>,
}

/// An escalation policy as written.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    pub name: String,
    /// Un-acknowledge a page still open this long after its acknowledgement, and escalate again.
    pub ack_timeout: Option<ConfigDuration>,
    /// Run the tiers again this many times after the first pass, then stop; default 0.
    #[serde(default)]
    pub repeat: u32,
    pub tiers: Vec<TierConfig>,
}

/// One tier: whom to notify, and how long to wait for an acknowledgement before the next tier.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TierConfig {
    /// Targets such as `team:ops`, `person:alice`, `provider:cloud-support`.
    pub notify: Vec<TargetConfig>,
    pub wait: ConfigDuration,
}

/// A tier target as written: `team:NAME`, `person:NAME` or `provider:NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetConfig(pub Target);

impl serde::Serialize for TargetConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for TargetConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Target::parse(&text).map(TargetConfig).ok_or_else(|| {
            de::Error::custom(format!("{text:?} is not a target: write team:NAME, person:NAME or provider:NAME"))
        })
    }
}

impl PolicyConfig {
    pub fn to_domain(&self) -> Policy {
        Policy {
            name: self.name.clone(),
            tiers: self
                .tiers
                .iter()
                .map(|t| Tier { targets: t.notify.iter().map(|x| x.0.clone()).collect(), wait: t.wait.0 })
                .collect(),
            repeat: self.repeat,
            ack_timeout: self.ack_timeout.map(|d| d.0),
        }
    }
}

/// A check that failed: the field, the text to find its line by, and what is wrong.
pub(crate) type Problem = (String, String, String);

/// The names a target may use, with their channels.
pub(crate) struct Directory<'a> {
    pub teams: BTreeMap<&'a str, &'a [String]>,
    pub people: BTreeMap<&'a str, &'a [String]>,
    pub providers: BTreeMap<&'a str, &'a [String]>,
}

impl Directory<'_> {
    /// The channels `target` reaches, or `None` when it names nobody known.
    pub fn channels(&self, target: &Target) -> Option<&[String]> {
        match target {
            Target::Team(n) => self.teams.get(n.as_str()).copied(),
            Target::Person(n) => self.people.get(n.as_str()).copied(),
            Target::Provider(n) => self.providers.get(n.as_str()).copied(),
        }
    }
}

/// Checks the policies against the directory: known targets, at least one reachable channel per tier, at
/// least one tier, positive waits.
pub(crate) fn check_policies(policies: &[PolicyConfig], dir: &Directory<'_>) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (i, p) in policies.iter().enumerate() {
        if policies[..i].iter().any(|q| q.name == p.name) {
            problems.push((
                format!("escalation_policies[{i}].name"),
                format!("name: {}", p.name),
                format!("escalation policy {:?} is defined twice", p.name),
            ));
        }
        if p.tiers.is_empty() {
            problems.push((
                format!("escalation_policies[{i}].tiers"),
                format!("name: {}", p.name),
                format!("escalation policy {:?} has no tiers", p.name),
            ));
        }
        for (j, tier) in p.tiers.iter().enumerate() {
            let field = format!("escalation_policies[{i}].tiers[{j}]");
            if tier.wait.0.is_zero() {
                problems.push((format!("{field}.wait"), "wait:".into(), "a tier waits longer than 0s".into()));
            }
            let mut reachable = 0;
            for (k, TargetConfig(target)) in tier.notify.iter().enumerate() {
                match dir.channels(target) {
                    None => {
                        problems.push((
                            format!("{field}.notify[{k}]"),
                            target.to_string(),
                            format!("unknown target {target}: define it under `teams:`, `people:` or `providers:`"),
                        ));
                        // Unknown is not unreachable: no second error for the tier.
                        reachable += 1;
                    }
                    Some(channels) => reachable += channels.len(),
                }
            }
            if reachable == 0 {
                let names: Vec<String> = tier.notify.iter().map(|t| t.0.to_string()).collect();
                problems.push((
                    format!("{field}.notify"),
                    "notify:".into(),
                    format!(
                        "tier {} of policy {:?} reaches no channel ({}): nobody would hear of the page",
                        j + 1,
                        p.name,
                        if names.is_empty() {
                            "no targets".to_string()
                        } else {
                            format!("{} have none", names.join(", "))
                        }
                    ),
                ));
            }
        }
    }
    problems
}

/// Checks the service catalog: known teams, services and providers, no dependency cycle.
pub(crate) fn check_services(
    services: &[ServiceConfig],
    teams: &BTreeSet<&str>,
    providers: &BTreeSet<&str>,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    let names: BTreeSet<&str> = services.iter().map(|s| s.name.as_str()).collect();
    for (i, s) in services.iter().enumerate() {
        if services[..i].iter().any(|t| t.name == s.name) {
            problems.push((
                format!("services[{i}].name"),
                format!("name: {}", s.name),
                format!("service {:?} is defined twice", s.name),
            ));
        }
        if !teams.contains(s.team.as_str()) {
            problems.push((
                format!("services[{i}].team"),
                s.team.clone(),
                format!("unknown team {:?}; add it under `teams:`", s.team),
            ));
        }
        for (j, d) in s.depends_on.iter().enumerate() {
            if !names.contains(d.as_str()) {
                problems.push((
                    format!("services[{i}].depends_on[{j}]"),
                    d.clone(),
                    format!("unknown service {d:?}; add it under `services:`"),
                ));
            }
        }
        for (j, p) in s.providers.iter().enumerate() {
            if !providers.contains(p.as_str()) {
                problems.push((
                    format!("services[{i}].providers[{j}]"),
                    p.clone(),
                    format!("unknown provider {p:?}; add it under `providers:`"),
                ));
            }
        }
    }
    // A depth-first walk finds a cycle and names it in order.
    fn visit<'a>(
        name: &'a str,
        services: &'a [ServiceConfig],
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<&'a str>> {
        if let Some(start) = path.iter().position(|p| *p == name) {
            let mut cycle = path[start..].to_vec();
            cycle.push(name);
            return Some(cycle);
        }
        if done.contains(name) {
            return None;
        }
        path.push(name);
        let deps = services.iter().find(|s| s.name == name).map(|s| s.depends_on.as_slice()).unwrap_or(&[]);
        for d in deps {
            if let Some(cycle) = visit(d, services, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(name);
        None
    }
    let mut done = BTreeSet::new();
    for (i, s) in services.iter().enumerate() {
        if let Some(cycle) = visit(&s.name, services, &mut Vec::new(), &mut done) {
            problems.push((
                format!("services[{i}].depends_on"),
                format!("name: {}", cycle[0]),
                format!("services depend on each other in a circle: {}", cycle.join(" -> ")),
            ));
            // One circle is enough to say; the walk would find it again from each of its members.
            break;
        }
    }
    problems
}

/// Every service that depends on `service`, directly or through others (not `service` itself), in
/// catalog order.
pub fn dependents<'a>(services: &'a [ServiceConfig], service: &str) -> Vec<&'a ServiceConfig> {
    let mut found: BTreeSet<&str> = BTreeSet::new();
    let mut frontier = vec![service];
    while let Some(current) = frontier.pop() {
        for s in services {
            if s.depends_on.iter().any(|d| d == current) && s.name != service && found.insert(s.name.as_str()) {
                frontier.push(&s.name);
            }
        }
    }
    services.iter().filter(|s| found.contains(s.name.as_str())).collect()
}
