//! The `egress:` section: where channels may connect.
//!
//! ```yaml
//! egress:
//!   allow: [hooks.slack.com, "*.example.com", 10.20.0.0/16]   # default: anywhere not denied
//!   deny: [192.168.0.0/16]                                     # in addition to the built-in list
//!   ports: [443, 587]                                          # default: any
//! ```
//!
//! Invariant: a destination address is refused when it is in [`BUILT_IN_DENY`] (link-local networks, which
//! hold the cloud metadata services, and other addresses no notification belongs at) unless `allow` names
//! a network containing it, or when it is in `deny` (which nothing overrides); when `allow` is not empty,
//! a destination is also refused unless its host name or its address is allowed. Hosts written in a
//! numeric form other than dotted decimal (`0x7f000001`, `2130706433`, `0177.0.0.1`) are refused outright:
//! they exist to slip past filters. The checks here are pure; the channels apply them to the URL when the
//! configuration is loaded and to every resolved address when they connect.
//!
//! Loopback and private networks are allowed by default: a webhook relay on the same host or network is
//! the common case. `deny: [127.0.0.0/8, "::1/128", 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16]` closes them.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::de::{self, Deserialize, Deserializer};
use serde::{Serialize, Serializer};

/// Networks refused unless `allow` names them, with the reason shown in errors.
pub const BUILT_IN_DENY: &[(&str, &str)] = &[
    ("169.254.0.0/16", "link-local (cloud metadata services live here)"),
    ("fe80::/10", "link-local"),
    ("fd00:ec2::254/128", "the AWS metadata service"),
    ("100.100.100.200/32", "the Alibaba Cloud metadata service"),
    ("0.0.0.0/8", "\"this network\", not a destination"),
    ("::/128", "the unspecified address"),
    ("224.0.0.0/4", "multicast"),
    ("ff00::/8", "multicast"),
    ("240.0.0.0/4", "reserved (and broadcast)"),
];

/// Where channels may connect.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct EgressConfig {
    /// Host names (`hooks.slack.com`, `*.example.com`) and networks (`10.0.0.0/8`, `192.0.2.7`) channels
    /// may reach. Empty (the default): anywhere the deny lists allow. A network listed here also lifts the
    /// built-in deny list for itself.
    #[serde(default)]
    pub allow: Vec<EgressRule>,
    /// Networks channels may never reach, in addition to the built-in ones.
    #[serde(default)]
    pub deny: Vec<Network>,
    /// Ports channels may use. Empty (the default): any.
    #[serde(default)]
    pub ports: Vec<u16>,
}

/// An `allow` entry: a host name (lowercase; `*.` matches any subdomain) or a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EgressRule {
    Host(String),
    Net(IpNet),
}

/// A network written as a CIDR (`10.0.0.0/8`) or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network(pub IpNet);

/// Why a destination was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressError {
    #[error("the address {addr} of {host} is {reason}; the egress policy refuses it (allow it under `egress.allow` if it is really meant)")]
    BuiltIn { host: String, addr: IpAddr, reason: &'static str },
    #[error("the address {addr} of {host} is in `egress.deny` ({net})")]
    Denied { host: String, addr: IpAddr, net: IpNet },
    #[error("{host} ({addr}) is not in `egress.allow`")]
    NotAllowed { host: String, addr: IpAddr },
    #[error("{host} is not in `egress.allow`")]
    HostNotAllowed { host: String },
    #[error("port {port} is not in `egress.ports`")]
    Port { port: u16 },
    #[error(
        "the host {host:?} is a number in an unusual form; write IPv4 addresses in dotted decimal (such as 192.0.2.7)"
    )]
    NumericHost { host: String },
    #[error("cannot read the host of the URL: {reason}")]
    BadUrl { reason: String },
}

/// The policy, ready to check destinations.
#[derive(Debug, Clone)]
pub struct EgressPolicy {
    allow_hosts: Vec<String>,
    allow_nets: Vec<IpNet>,
    deny: Vec<IpNet>,
    built_in: Vec<(IpNet, &'static str)>,
    ports: Vec<u16>,
}

impl Default for EgressPolicy {
    fn default() -> Self {
        EgressPolicy::new(&EgressConfig::default())
    }
}

impl EgressPolicy {
    pub fn new(config: &EgressConfig) -> EgressPolicy {
        let mut allow_hosts = Vec::new();
        let mut allow_nets = Vec::new();
        for rule in &config.allow {
            match rule {
                EgressRule::Host(h) => allow_hosts.push(h.clone()),
                EgressRule::Net(n) => allow_nets.push(*n),
            }
        }
        let built_in =
            BUILT_IN_DENY.iter().filter_map(|(net, reason)| net.parse::<IpNet>().ok().map(|n| (n, *reason))).collect();
        EgressPolicy {
            allow_hosts,
            allow_nets,
            deny: config.deny.iter().map(|n| n.0).collect(),
            built_in,
            ports: config.ports.clone(),
        }
    }

    /// Checks what can be checked without resolving: the form of the host, the port, an address written
    /// in the URL, and — when `allow` lists only host names — the host name.
    pub fn check_url(&self, url: &str) -> Result<(), EgressError> {
        let (host, port) = host_and_port(url)?;
        self.check_host(&host, port)
    }

    /// Like [`check_url`](Self::check_url) for a `host` (a name or an address) and `port`.
    pub fn check_host(&self, host: &str, port: u16) -> Result<(), EgressError> {
        if !self.ports.is_empty() && !self.ports.contains(&port) {
            return Err(EgressError::Port { port });
        }
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(addr) = bare.parse::<IpAddr>() {
            return self.check_addr(host, addr);
        }
        if ends_in_number(bare) {
            return Err(EgressError::NumericHost { host: host.to_string() });
        }
        if !self.allow_hosts.is_empty() && self.allow_nets.is_empty() && !self.host_allowed(bare) {
            return Err(EgressError::HostNotAllowed { host: host.to_string() });
        }
        Ok(())
    }

    /// Checks one address `host` resolved to (or was written as).
    pub fn check_addr(&self, host: &str, addr: IpAddr) -> Result<(), EgressError> {
        let addr = addr.to_canonical();
        if let Some(net) = self.deny.iter().find(|n| n.contains(&addr)) {
            return Err(EgressError::Denied { host: host.to_string(), addr, net: *net });
        }
        let net_allowed = self.allow_nets.iter().any(|n| n.contains(&addr));
        if !net_allowed {
            if let Some((_, reason)) = self.built_in.iter().find(|(n, _)| n.contains(&addr)) {
                return Err(EgressError::BuiltIn { host: host.to_string(), addr, reason });
            }
        }
        let restricted = !self.allow_hosts.is_empty() || !self.allow_nets.is_empty();
        let host_allowed = self.host_allowed(host.trim_start_matches('[').trim_end_matches(']'));
        if restricted && !net_allowed && !host_allowed {
            return Err(EgressError::NotAllowed { host: host.to_string(), addr });
        }
        Ok(())
    }

    fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.allow_hosts.iter().any(|rule| match rule.strip_prefix("*.") {
            Some(domain) => host.strip_suffix(domain).is_some_and(|prefix| prefix.ends_with('.')),
            None => *rule == host,
        })
    }
}

/// The host and port of an `http(s)://` URL, with the port defaulted by scheme. Parsed the way the HTTP
/// client parses it (WHATWG), and refused when the host as written is a numeric form the parser would
/// quietly turn into an address.
pub fn host_and_port(url: &str) -> Result<(String, u16), EgressError> {
    let parsed = url::Url::parse(url).map_err(|e| EgressError::BadUrl { reason: e.to_string() })?;
    let port = parsed.port_or_known_default().ok_or(EgressError::BadUrl { reason: "no port".into() })?;
    let host = parsed.host_str().ok_or(EgressError::BadUrl { reason: "no host".into() })?.to_string();
    if let Some(url::Host::Ipv4(addr)) = parsed.host() {
        let written = written_host(url);
        if !written.eq_ignore_ascii_case(&addr.to_string()) {
            return Err(EgressError::NumericHost { host: written.to_string() });
        }
    }
    Ok((host, port))
}

/// The host as it appears in the URL's text, between the scheme (and any user info) and the port or path.
fn written_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.starts_with('[') {
        return host_port;
    }
    host_port.rsplit_once(':').map_or(host_port, |(h, _)| h)
}

/// The WHATWG URL standard's "ends in a number": such a host is parsed as an IPv4 address, in decimal,
/// octal or hex, whatever it looks like.
fn ends_in_number(host: &str) -> bool {
    let last = host.trim_end_matches('.').rsplit('.').next().unwrap_or("");
    !last.is_empty()
        && (last.bytes().all(|b| b.is_ascii_digit())
            || last
                .strip_prefix("0x")
                .or_else(|| last.strip_prefix("0X"))
                .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit())))
}

impl<'de> Deserialize<'de> for EgressRule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let t = text.trim();
        if let Some(net) = parse_network(t) {
            return Ok(EgressRule::Net(net));
        }
        let name = t.strip_prefix("*.").unwrap_or(t);
        let valid = !name.is_empty()
            && name.split('.').all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        if !valid || ends_in_number(name) {
            return Err(de::Error::custom(format!(
                "{text:?} is neither a host name (such as hooks.slack.com or *.example.com) nor a network (such as 10.0.0.0/8)"
            )));
        }
        Ok(EgressRule::Host(t.to_ascii_lowercase()))
    }
}

impl Serialize for EgressRule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            EgressRule::Host(h) => s.serialize_str(h),
            EgressRule::Net(n) => s.collect_str(n),
        }
    }
}

impl<'de> Deserialize<'de> for Network {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_network(text.trim())
            .map(Network)
            .ok_or_else(|| de::Error::custom(format!("{text:?} is not a network (such as 10.0.0.0/8) or an address")))
    }
}

impl Serialize for Network {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// `10.0.0.0/8`, `2001:db8::/32`, or one address (a /32 or /128).
fn parse_network(text: &str) -> Option<IpNet> {
    text.parse::<IpNet>().ok().map(|n| n.trunc()).or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(yaml: &str) -> EgressPolicy {
        EgressPolicy::new(&serde_yaml::from_str(yaml).expect("valid egress section"))
    }

    #[test]
    fn metadata_and_numeric_hosts_are_refused_by_default() {
        let p = EgressPolicy::default();
        for url in [
            "http://169.254.169.254/latest/meta-data/",
            "http://[fe80::1]/x",
            "http://[::ffff:169.254.169.254]/x",
            "http://0x7f000001/x",
            "http://2130706433/x",
            "http://0177.0.0.1/x",
            "http://127.1/x",
            "http://100.100.100.200/x",
            "http://0.0.0.0:9797/x",
        ] {
            assert!(p.check_url(url).is_err(), "{url} should be refused");
        }
        for url in ["https://hooks.slack.com/services/T/B/X", "http://127.0.0.1:8080/hook", "http://[::1]/x"] {
            assert_eq!(p.check_url(url), Ok(()), "{url}");
        }
        let err = p.check_url("http://0x7f000001/x").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("dotted decimal"), "{err}");
    }

    #[test]
    fn allow_lists_hosts_and_networks_and_deny_wins() {
        let p = policy("allow: [hooks.slack.com, '*.example.com', 10.0.0.0/8, 169.254.10.0/24]\ndeny: [10.9.0.0/16]\nports: [443, 8080]");
        assert_eq!(p.check_url("https://hooks.slack.com/x"), Ok(()));
        assert_eq!(p.check_url("https://a.b.example.com/x"), Ok(()));
        assert!(p.check_url("https://example.com.evil.net/x").is_ok(), "decided when resolved: nets are allowed");
        assert!(p.check_addr("example.com.evil.net", "203.0.113.9".parse().expect("ip")).is_err());
        assert_eq!(p.check_addr("example.com.evil.net", "10.1.2.3".parse().expect("ip")), Ok(()));
        assert!(matches!(
            p.check_addr("x.example.com", "10.9.1.1".parse().expect("ip")),
            Err(EgressError::Denied { .. })
        ));
        assert!(matches!(p.check_url("http://hooks.slack.com/x"), Err(EgressError::Port { port: 80 })));
        assert_eq!(p.check_addr("meta", "169.254.10.7".parse().expect("ip")), Ok(()), "allow lifts the built-in list");
        assert!(p.check_addr("meta", "169.254.169.254".parse().expect("ip")).is_err());
        let hosts_only = policy("allow: [hooks.slack.com]");
        assert!(matches!(hosts_only.check_url("https://evil.example/x"), Err(EgressError::HostNotAllowed { .. })));
    }

    #[test]
    fn bad_rules_are_refused_with_the_text() {
        for bad in ["allow: ['hooks slack']", "allow: ['1.2.3']", "deny: [example.com]", "deny: ['10.0.0.0/33']"] {
            assert!(serde_yaml::from_str::<EgressConfig>(bad).is_err(), "{bad}");
        }
    }
}
