//! The `standard:` section of `clarion.yml`: the communication standard as written, and its conversion to
//! the domain's [`Standard`].
//!
//! An empty section is the built-in standard (`clarion_core::standard`'s module documentation lists it).
//! Anything written replaces only what it names: a kind's `paging` list, its `default` list, or the list of
//! one named severity. Values are checked while parsing (field names, rule ids, phrases), so a mistake is
//! reported with its line like every other configuration error.
//!
//! ```yaml
//! standard:
//!   summary_max_chars: 100
//!   paging_severities: [critical, page]
//!   require:
//!     alert:
//!       paging: [summary, impact|context, runbook, owner]
//!       severities:
//!         warning: [summary, runbook|action, owner]
//!   vague_phrases: ["over to ops"]
//!   words:                      # added to the built-in lists (`clarion lint --explain RULE` shows them)
//!     state: [sealed, quarantined]
//!     guesses: [supposedly]
//!     placeholders: [fixme]
//!     exporter_prefixes: [snmp_]
//!   disable: [summary-too-long]
//! ```

use std::collections::BTreeMap;

use clarion_core::standard::{self as domain, KindRequirements, MessageKind, Requirement, Standard};
use serde::de::{self, Deserialize, Deserializer};

/// The communication standard: which clarity fields each kind and severity of message must carry, and the
/// limits of the rules beyond presence.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct StandardConfig {
    /// Longest summary, in characters (a notification's title); default 120. Must be at least 1.
    #[serde(default = "default_summary_max_chars", deserialize_with = "positive")]
    pub summary_max_chars: usize,
    /// Severities that page and so use each kind's `paging` list; default `[critical, page]`.
    /// Compared case-insensitively.
    #[serde(default = "default_paging_severities")]
    pub paging_severities: Vec<SeverityName>,
    /// Required clarity fields per kind of message; a kind or list left out keeps the built-in one.
    #[serde(default)]
    pub require: RequireConfig,
    /// Phrases that make an action vague ("over to you"), in addition to the built-in ones. Compared
    /// ignoring case and punctuation. Default none.
    #[serde(default)]
    pub vague_phrases: Vec<VaguePhrase>,
    /// Words added to the built-in lists the rules read; default none.
    #[serde(default)]
    pub words: WordsConfig,
    /// Ids of rules not to apply, such as `summary-too-long`; default none.
    #[serde(default)]
    pub disable: Vec<RuleId>,
}

/// `standard.words`: entries added to the built-in word lists of the rules that read the words.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct WordsConfig {
    /// Words that give a summary a state or direction (`summary-no-state`), matched at a word's start.
    #[serde(default)]
    pub state: Vec<VaguePhrase>,
    /// Words that guess (`vague-text`).
    #[serde(default)]
    pub guesses: Vec<VaguePhrase>,
    /// Whole texts that only hold a place (`placeholder-text`).
    #[serde(default)]
    pub placeholders: Vec<VaguePhrase>,
    /// Metric prefixes of exporters that watch other things (`summary-names-exporter`).
    #[serde(default)]
    pub exporter_prefixes: Vec<VaguePhrase>,
}

impl Default for StandardConfig {
    fn default() -> Self {
        StandardConfig {
            summary_max_chars: default_summary_max_chars(),
            paging_severities: default_paging_severities(),
            require: RequireConfig::default(),
            vague_phrases: Vec::new(),
            words: WordsConfig::default(),
            disable: Vec::new(),
        }
    }
}

fn default_summary_max_chars() -> usize {
    domain::DEFAULT_SUMMARY_MAX_CHARS
}

fn default_paging_severities() -> Vec<SeverityName> {
    domain::DEFAULT_PAGING_SEVERITIES.iter().map(|s| SeverityName(s.to_string())).collect()
}

fn positive<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    match usize::deserialize(d)? {
        0 => Err(de::Error::custom("must be at least 1")),
        n => Ok(n),
    }
}

/// Required fields per kind of message. Keys: `alert`, `announcement`, `planned_event`, `advisory`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RequireConfig {
    /// Alerts; built in: paging `[summary, impact, action|runbook, owner]`, default `[summary, impact, runbook|action]`.
    pub alert: Option<KindRequireConfig>,
    /// Announcements; built in: default `[action, owner]` (what, why and impact are rule
    /// `announcement-incomplete-change`).
    pub announcement: Option<KindRequireConfig>,
    /// Planned events; built in like announcements.
    pub planned_event: Option<KindRequireConfig>,
    /// Security advisories; built in: default `[summary, impact, action, owner]`.
    pub advisory: Option<KindRequireConfig>,
}

/// The required lists of one kind. Each entry is a field name (`summary`, `context`, `impact`, `action`,
/// `deadline`, `owner`, `runbook`) or alternatives such as `impact|context`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct KindRequireConfig {
    /// For messages of a paging severity; left out, the built-in list.
    pub paging: Option<Vec<RequirementConfig>>,
    /// For every severity without a more specific list; left out, the built-in list.
    pub default: Option<Vec<RequirementConfig>>,
    /// For named severities (such as `warning`), more specific than `paging` and `default`; default none.
    #[serde(default)]
    pub severities: BTreeMap<SeverityName, Vec<RequirementConfig>>,
}

/// One required entry: a clarity field, or alternatives separated by `|`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequirementConfig(pub Requirement);

impl<'de> Deserialize<'de> for RequirementConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse::<Requirement>().map(RequirementConfig).map_err(de::Error::custom)
    }
}

/// Each newtype below is written back as the text it was read from.
macro_rules! serialize_as_text {
    ($($t:ty => |$v:ident| $e:expr;)*) => {$(
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let $v = self;
                s.collect_str(&$e)
            }
        }
    )*};
}

serialize_as_text! {
    RequirementConfig => |r| r.0;
    SeverityName => |n| n.0;
    VaguePhrase => |p| p.0;
    RuleId => |r| r.0;
}

/// A severity name, stored lowercase; not blank.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SeverityName(pub String);

impl<'de> Deserialize<'de> for SeverityName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let name = text.trim().to_lowercase();
        if name.is_empty() {
            return Err(de::Error::custom("a severity name cannot be blank"));
        }
        Ok(SeverityName(name))
    }
}

/// A phrase or word of a list (`vague_phrases`, `words.*`); it has at least one letter or digit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaguePhrase(pub String);

impl<'de> Deserialize<'de> for VaguePhrase {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if domain::normalize(&text).is_empty() {
            return Err(de::Error::custom(format!("the phrase {text:?} has no words")));
        }
        Ok(VaguePhrase(text))
    }
}

/// The id of one of the standard's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleId(pub &'static str);

impl<'de> Deserialize<'de> for RuleId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        domain::rule_id(text.trim()).map(RuleId).ok_or_else(|| {
            let ids: Vec<&str> = domain::RULES.iter().map(|r| r.id).collect();
            de::Error::custom(format!("unknown rule {text:?}; the rules are {}", ids.join(", ")))
        })
    }
}

/// A `standard:` section built in code with a value the file parser would have refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StandardError {
    #[error("standard.summary_max_chars must be at least 1")]
    SummaryMaxChars,
    #[error("{0}: a severity name cannot be blank")]
    BlankSeverity(String),
    #[error("standard.vague_phrases: the phrase {0:?} has no words")]
    EmptyPhrase(String),
}

impl StandardConfig {
    /// The standard this section describes: the built-in one with what the section sets replaced.
    /// Parsing already validated every value; this checks again for sections built in code.
    pub fn to_domain(&self) -> Result<Standard, StandardError> {
        let mut standard = Standard::default();
        if self.summary_max_chars == 0 {
            return Err(StandardError::SummaryMaxChars);
        }
        standard.summary_max_chars = self.summary_max_chars;
        standard.paging_severities = Vec::with_capacity(self.paging_severities.len());
        for SeverityName(name) in &self.paging_severities {
            let name = name.trim().to_lowercase();
            if name.is_empty() {
                return Err(StandardError::BlankSeverity("standard.paging_severities".into()));
            }
            standard.paging_severities.push(name);
        }
        let kinds = [
            (MessageKind::Alert, &self.require.alert),
            (MessageKind::Announcement, &self.require.announcement),
            (MessageKind::PlannedEvent, &self.require.planned_event),
            (MessageKind::Advisory, &self.require.advisory),
        ];
        for (kind, written) in kinds {
            if let Some(written) = written {
                apply(standard.kind_mut(kind), written, kind)?;
            }
        }
        for VaguePhrase(phrase) in &self.vague_phrases {
            if domain::normalize(phrase).is_empty() {
                return Err(StandardError::EmptyPhrase(phrase.clone()));
            }
            standard.vague_phrases.push(phrase.clone());
        }
        let texts = |list: &[VaguePhrase]| list.iter().map(|VaguePhrase(p)| p.trim().to_string()).collect::<Vec<_>>();
        standard.extra_words = domain::words::ExtraWords {
            state: texts(&self.words.state),
            guesses: texts(&self.words.guesses),
            placeholders: texts(&self.words.placeholders),
            exporter_prefixes: texts(&self.words.exporter_prefixes),
        };
        standard.disabled_rules.extend(self.disable.iter().map(|RuleId(id)| *id));
        Ok(standard)
    }
}

fn apply(target: &mut KindRequirements, written: &KindRequireConfig, kind: MessageKind) -> Result<(), StandardError> {
    let list = |l: &[RequirementConfig]| l.iter().map(|RequirementConfig(r)| r.clone()).collect::<Vec<_>>();
    if let Some(paging) = &written.paging {
        target.paging = Some(list(paging));
    }
    if let Some(default) = &written.default {
        target.default = list(default);
    }
    for (SeverityName(name), l) in &written.severities {
        let name = name.trim().to_lowercase();
        if name.is_empty() {
            return Err(StandardError::BlankSeverity(format!("standard.require.{kind}.severities")));
        }
        target.severities.insert(name, list(l));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clarion_core::standard::ClarityField;

    #[test]
    fn an_empty_section_is_the_built_in_standard() -> Result<(), Box<dyn std::error::Error>> {
        assert_eq!(StandardConfig::default().to_domain()?, Standard::default());
        let parsed: StandardConfig = serde_yaml::from_str("{}").map_err(|e| e.to_string())?;
        assert_eq!(parsed, StandardConfig::default());
        Ok(())
    }

    #[test]
    fn written_lists_replace_only_what_they_name() -> Result<(), Box<dyn std::error::Error>> {
        let parsed: StandardConfig = serde_yaml::from_str(
            "paging_severities: [P1]\nrequire:\n  alert:\n    severities:\n      Warning: [owner]\n",
        )
        .map_err(|e| e.to_string())?;
        let s = parsed.to_domain()?;
        let built_in = Standard::default();
        assert_eq!(s.paging_severities, vec!["p1".to_string()]);
        assert_eq!(s.alert.paging, built_in.alert.paging);
        assert_eq!(s.alert.default, built_in.alert.default);
        assert_eq!(s.required(MessageKind::Alert, "warning"), &[Requirement::field(ClarityField::Owner)]);
        assert_eq!(s.announcement, built_in.announcement);
        Ok(())
    }

    #[test]
    fn a_section_built_in_code_is_validated_too() {
        let zero = StandardConfig { summary_max_chars: 0, ..StandardConfig::default() };
        assert!(zero.to_domain().is_err());
        let no_words = StandardConfig { vague_phrases: vec![VaguePhrase("?!".into())], ..StandardConfig::default() };
        assert!(no_words.to_domain().is_err());
    }
}
