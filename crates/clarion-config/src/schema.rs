//! The schema of `clarion.yml`: what each key means and its default. Unknown keys are errors.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clarion_core::route::GroupBy;
use clarion_core::{MatchType, Matcher, Matchers};
use serde::de::{self, Deserialize, Deserializer};
use serde::{Serialize, Serializer};

use crate::duration::ConfigDuration;
use crate::secret::StorageUrl;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:9797";
pub const DEFAULT_DATA_DIR: &str = "./clarion-data";
pub const DEFAULT_GROUP_WAIT: ConfigDuration = ConfigDuration(Duration::from_secs(30));
pub const DEFAULT_GROUP_INTERVAL: ConfigDuration = ConfigDuration(Duration::from_secs(300));
pub const DEFAULT_REPEAT_INTERVAL: ConfigDuration = ConfigDuration(Duration::from_secs(4 * 3600));
pub const DEFAULT_RESOLVE_TIMEOUT: ConfigDuration = ConfigDuration(Duration::from_secs(300));
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// The whole file.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Address to listen on; default `127.0.0.1:9797`. Overridden by `--listen`.
    pub listen: Option<SocketAddr>,
    /// Directory for the SQLite database when `storage.url` is not set; default `./clarion-data`.
    pub data_dir: Option<PathBuf>,
    #[serde(default)]
    pub storage: StorageConfig,
    #[serde(default)]
    pub global: GlobalConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub auth: AuthConfig,
    /// Audiences that receive messages; route receivers name teams.
    #[serde(default)]
    pub teams: Vec<TeamConfig>,
    /// Destinations teams use: webhooks, Slack, e-mail.
    #[serde(default)]
    pub channels: Vec<crate::channels::ChannelConfig>,
    /// TLS for the listener; default plain HTTP.
    pub tls: Option<TlsConfig>,
    /// Where channels may connect: link-local and metadata addresses are refused by default.
    #[serde(default)]
    pub egress: crate::egress::EgressConfig,
    /// Retries and concurrency of deliveries.
    #[serde(default)]
    pub delivery: crate::channels::DeliveryConfig,
    /// The routing tree (Alertmanager semantics; receivers are teams).
    #[serde(default)]
    pub route: RouteConfig,
    #[serde(default)]
    pub inhibit_rules: Vec<InhibitRuleConfig>,
    /// The communication standard; the built-in default when empty.
    #[serde(default)]
    pub standard: crate::StandardConfig,
    /// People escalation tiers can name; their contacts are channels.
    #[serde(default)]
    pub people: Vec<crate::escalation::PersonConfig>,
    /// Suppliers behind services, reachable through channels.
    #[serde(default)]
    pub providers: Vec<crate::escalation::ProviderConfig>,
    /// The service catalog: owner team, dependencies, providers.
    #[serde(default)]
    pub services: Vec<crate::escalation::ServiceConfig>,
    /// Who hears of a page, and when, while nobody acknowledges it.
    #[serde(default)]
    pub escalation_policies: Vec<crate::escalation::PolicyConfig>,
    /// Change calendars: may a change go to production now?
    #[serde(default)]
    pub calendars: Vec<crate::calendars::CalendarConfig>,
    /// Named time intervals routes mute or activate notifications with (Alertmanager's syntax).
    #[serde(default)]
    pub time_intervals: Vec<crate::time_intervals::TimeIntervalsConfig>,
    /// Alertmanager's older name for `time_intervals`, read the same way.
    #[serde(default)]
    pub mute_time_intervals: Vec<crate::time_intervals::TimeIntervalsConfig>,
    /// Vulnerability watch: deadlines by severity, reminders, where advisories come from.
    #[serde(default)]
    pub vulnerabilities: crate::vulnerabilities::VulnerabilitiesConfig,
    /// The feedback loop's history and the noise detectors' thresholds.
    #[serde(default)]
    pub feedback: crate::feedback::FeedbackConfig,
}

/// The listener's certificate and key, PEM files as Alertmanager's `tls_server_config` takes them. Read at
/// start; a reload does not change them.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}

/// Where signals are stored.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// `sqlite://PATH` or `postgres://user@host/db`; default `sqlite://<data_dir>/clarion.db`.
    /// Overridden by `--database-url`. Shown with its password and query redacted.
    pub url: Option<StorageUrl>,
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalConfig {
    /// How long an alert posted without `endsAt` stays firing without a re-send; default 5m (Alertmanager's).
    #[serde(default = "default_resolve_timeout")]
    pub resolve_timeout: ConfigDuration,
    /// The URL people reach Clarion at, used in links; default `http://<listen>`.
    pub external_url: Option<String>,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig { resolve_timeout: DEFAULT_RESOLVE_TIMEOUT, external_url: None }
    }
}

fn default_resolve_timeout() -> ConfigDuration {
    DEFAULT_RESOLVE_TIMEOUT
}

/// What one client may take of the server. Every limit has a default; health checks (`/-/healthy`,
/// `/-/ready`) are exempt from the rate limits and keep a few connections of their own past
/// `max_connections`, so a load balancer still gets its answer while the limits bite.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest request body accepted, in bytes; larger bodies get 413. Default 8 MiB.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// Time a client has to send a request's headers once it started; default 10s.
    #[serde(default = "default_header_read_timeout", deserialize_with = "positive_duration")]
    pub header_read_timeout: ConfigDuration,
    /// Time a client has to send a request's whole body; slower bodies get 408. Default 30s.
    #[serde(default = "default_body_read_timeout", deserialize_with = "positive_duration")]
    pub body_read_timeout: ConfigDuration,
    /// A kept-alive connection with no request for this long is closed; default 60s.
    #[serde(default = "default_idle_timeout", deserialize_with = "positive_duration")]
    pub idle_timeout: ConfigDuration,
    /// Connections served at once; more wait in the kernel's queue. Default 512 (keep it below the
    /// process's file limit, `ulimit -n`).
    #[serde(default = "default_max_connections", deserialize_with = "crate::channels::positive_usize")]
    pub max_connections: usize,
    /// Requests per second one client address may make (token bucket, bursts of twice this); beyond it,
    /// 429 with `Retry-After`. 0 turns the limit off. Default 1000.
    #[serde(default = "default_rate")]
    pub requests_per_second_per_address: u32,
    /// Requests per second one token may make, from any address; 0 turns the limit off. Default 1000.
    #[serde(default = "default_rate")]
    pub requests_per_second_per_token: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            header_read_timeout: default_header_read_timeout(),
            body_read_timeout: default_body_read_timeout(),
            idle_timeout: default_idle_timeout(),
            max_connections: default_max_connections(),
            requests_per_second_per_address: default_rate(),
            requests_per_second_per_token: default_rate(),
        }
    }
}

fn default_header_read_timeout() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(10))
}
fn default_body_read_timeout() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(30))
}
fn default_idle_timeout() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(60))
}
fn default_max_connections() -> usize {
    512
}
fn default_rate() -> u32 {
    1000
}

fn positive_duration<'de, D: Deserializer<'de>>(d: D) -> Result<ConfigDuration, D::Error> {
    let value = ConfigDuration::deserialize(d)?;
    if value.0.is_zero() {
        return Err(de::Error::custom("must be longer than 0s"));
    }
    Ok(value)
}

fn default_max_body_bytes() -> usize {
    DEFAULT_MAX_BODY_BYTES
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Tokens, sent as `Authorization: Bearer <token>` or as the password of HTTP basic auth (the user
    /// name is ignored), as Prometheus' `alerting` section sends `authorization` or `basic_auth`. With
    /// none, Clarion only starts on a loopback address.
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
    /// Serve `/metrics` without a token even when tokens are configured; default false (it needs the
    /// `read` scope, since metrics name teams and channels).
    #[serde(default)]
    pub public_metrics: bool,
    /// How long the signed acknowledgement links in notifications stay valid; default 7d.
    #[serde(default = "default_ack_link_ttl")]
    pub ack_link_ttl: ConfigDuration,
    /// How long a sign-in to the web pages lasts; default 12h.
    #[serde(default = "default_session_ttl")]
    pub session_ttl: ConfigDuration,
    /// The Slack app whose buttons acknowledge pages (`POST /api/v1/slack/interactions`).
    pub slack: Option<SlackAppConfig>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            tokens: Vec::new(),
            public_metrics: false,
            ack_link_ttl: default_ack_link_ttl(),
            session_ttl: default_session_ttl(),
            slack: None,
        }
    }
}

fn default_ack_link_ttl() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(7 * 24 * 3600))
}

fn default_session_ttl() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(12 * 3600))
}

/// A Slack app with interactivity pointed at `/api/v1/slack/interactions`.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SlackAppConfig {
    /// The app's signing secret (Basic Information → Signing Secret).
    pub signing_secret: Option<crate::Secret>,
    /// File holding the signing secret (its content, trailing newline removed).
    pub signing_secret_file: Option<PathBuf>,
    /// Where Clarion may post the update of a message a button was pressed in (Slack's `response_url`);
    /// default `["https://hooks.slack.com/"]`.
    #[serde(default = "default_response_urls")]
    pub response_url_prefixes: Vec<String>,
}

fn default_response_urls() -> Vec<String> {
    vec!["https://hooks.slack.com/".into()]
}

/// One bearer token, stored as the SHA-256 of the token (`clarion token new` prints both).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Who holds it (shown in logs, never the token).
    pub name: String,
    /// Hex SHA-256 of the token.
    pub sha256: TokenHash,
    /// What it may do.
    #[serde(default)]
    pub scopes: Vec<Scope>,
    /// A provider's token: it may post events about that provider's services, nothing else.
    pub provider: Option<String>,
    /// When the token stops working, such as `2027-03-31T00:00:00Z`; default never. To rotate a token,
    /// add its successor, move clients over, then let the old one expire (or remove it) and reload.
    pub expires: Option<clarion_core::Timestamp>,
}

/// A SHA-256 digest, written as 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenHash(pub [u8; 32]);

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(<redacted>)")
    }
}

/// The hash of a token is not the token, but it lets anyone holding it test guesses offline: it renders
/// like a secret.
impl Serialize for TokenHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(crate::secret::REDACTED)
    }
}

impl<'de> Deserialize<'de> for TokenHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut out).map_err(|_| {
            de::Error::custom("expected the 64 hex digits of a SHA-256 hash (generate one with `clarion token new`)")
        })?;
        Ok(TokenHash(out))
    }
}

/// What a token allows. `admin` implies the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Post alerts and other signals.
    Ingest,
    /// Read alerts, silences, status.
    Read,
    /// Acknowledge, un-acknowledge and mark pages done (API and CLI).
    Respond,
    /// Post announcements, which reach every team they name.
    Announce,
    /// Everything, including silences and reloads.
    Admin,
}

/// A team: an audience for messages.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TeamConfig {
    pub name: String,
    /// What the team is, for people reading notifications and `/api/v2/receivers`.
    #[serde(default)]
    pub description: String,
    /// Names of the channels the team's messages go to.
    #[serde(default)]
    pub channels: Vec<String>,
    /// The escalation policy of the team's pages, unless their route names another.
    pub escalation: Option<String>,
    /// Labels of the team as a receiver (Alertmanager 0.33+), such as `owner: payments`: returned by
    /// `GET /api/v2/receivers` and matched by the `receiver_matchers` filter of the alert listings.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The team's working hours, as the name of a time interval (`time_intervals:`): reports count the
    /// pages opened outside them. Without one, Monday to Friday 09:00–17:00 UTC.
    pub working_hours: Option<String>,
}

/// A node of the routing tree, as written. Missing options inherit from the parent.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// The team alerts matching this node go to.
    pub receiver: Option<String>,
    /// Matchers in Alertmanager's syntax, such as `severity=~"page|critical"`.
    #[serde(default)]
    pub matchers: MatchersConfig,
    /// Legacy equality matchers (`label: value`).
    #[serde(default, rename = "match")]
    pub match_: MatchMap<false>,
    /// Legacy regex matchers (`label: regex`).
    #[serde(default)]
    pub match_re: MatchMap<true>,
    /// Keep looking at later siblings after this node matched.
    #[serde(default, rename = "continue")]
    pub continue_: bool,
    /// Labels that group alerts into one notification; `['...']` groups by every label.
    pub group_by: Option<GroupByConfig>,
    pub group_wait: Option<ConfigDuration>,
    pub group_interval: Option<ConfigDuration>,
    pub repeat_interval: Option<ConfigDuration>,
    /// The escalation policy of pages from this route (and its children, unless they name another); pages
    /// from routes that name none use their team's.
    pub escalation: Option<String>,
    /// Hold the notifications of a flapping alert (see `feedback.flap`): one message says it flaps, and
    /// it is told again once it settles. Inherited by child routes; default false.
    pub flap_guard: Option<bool>,
    /// Time intervals (or `calendar:NAME`: while one of the calendar's events runs) during which this
    /// route's notifications are held back; not inherited by child routes.
    #[serde(default)]
    pub mute_time_intervals: Vec<String>,
    /// Time intervals (or `calendar:NAME`) outside which this route's notifications are held back.
    #[serde(default)]
    pub active_time_intervals: Vec<String>,
    /// Labels of the route (Alertmanager 0.34+), inherited by child routes, each overridable: shown as
    /// `routeLabels` on the groups of `GET /api/v2/alerts/groups`. Plain text: Alertmanager renders them
    /// as templates, Clarion does not (`clarion migrate alertmanager` reports templated ones).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
}

/// Alertmanager's inhibit rule.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct InhibitRuleConfig {
    #[serde(default)]
    pub source_matchers: MatchersConfig,
    #[serde(default)]
    pub source_match: MatchMap<false>,
    #[serde(default)]
    pub source_match_re: MatchMap<true>,
    #[serde(default)]
    pub target_matchers: MatchersConfig,
    #[serde(default)]
    pub target_match: MatchMap<false>,
    #[serde(default)]
    pub target_match_re: MatchMap<true>,
    /// Labels that must have equal values in source and target.
    #[serde(default)]
    pub equal: Vec<String>,
}

/// A list of matcher strings; each string may hold several comma-separated matchers.
#[derive(Debug, Clone, Default)]
pub struct MatchersConfig(pub Matchers);

impl<'de> Deserialize<'de> for MatchersConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let lines = Vec::<String>::deserialize(d)?;
        let mut all = Vec::new();
        for line in lines {
            let parsed = Matchers::parse(&line).map_err(|e| de::Error::custom(format!("{e} (in {line:?})")))?;
            all.extend(parsed.0);
        }
        Ok(MatchersConfig(Matchers(all)))
    }
}

/// Written back as one matcher per string, in Alertmanager's syntax.
impl Serialize for MatchersConfig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0 .0.iter().map(|m| m.to_string()))
    }
}

/// `match` / `match_re` maps: label name to value (or regex when `REGEX`).
#[derive(Debug, Clone, Default)]
pub struct MatchMap<const REGEX: bool>(pub Vec<Matcher>);

impl<'de, const REGEX: bool> Deserialize<'de> for MatchMap<REGEX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, String>::deserialize(d)?;
        let op = if REGEX { MatchType::Regexp } else { MatchType::Equal };
        map.iter()
            .map(|(k, v)| Matcher::new(k, op, v).map_err(de::Error::custom))
            .collect::<Result<_, _>>()
            .map(MatchMap)
    }
}

impl<const REGEX: bool> Serialize for MatchMap<REGEX> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|m| (m.name(), m.value())))
    }
}

/// `group_by` as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupByConfig(pub GroupBy);

impl GroupByConfig {
    pub fn to_domain(&self) -> GroupBy {
        self.0.clone()
    }
}

impl Serialize for GroupByConfig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            GroupBy::All => s.collect_seq(["..."]),
            GroupBy::Labels(names) => s.collect_seq(names),
        }
    }
}

impl<'de> Deserialize<'de> for GroupByConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        if names.iter().any(|n| n == "...") {
            if names.len() > 1 {
                return Err(de::Error::custom("`...` groups by every label and cannot be combined with label names"));
            }
            return Ok(GroupByConfig(GroupBy::All));
        }
        for n in &names {
            if !clarion_core::labels::is_valid_label_name(n) {
                return Err(de::Error::custom(format!("{n:?} is not a valid label name")));
            }
        }
        let mut names = names;
        names.sort();
        names.dedup();
        Ok(GroupByConfig(GroupBy::Labels(names)))
    }
}
