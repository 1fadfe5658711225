//! Label matchers (`=`, `!=`, `=~`, `!~`) and Alertmanager's matcher string syntax.
//!
//! Parsing follows Alertmanager 0.25's `pkg/labels/parse.go`: an optional pair of braces, comma-separated
//! matchers, values optionally double-quoted with `\"`, `\\` and `\n` escapes. Label names are those of
//! Alertmanager 0.27+: any UTF-8 text, written bare when it holds no reserved character (whitespace or one
//! of `` {}!=~,\"'` ``) or double-quoted like a value (`{"service.name"="checkout"}`). Regular expressions
//! are anchored (`^(?:…)$`) like Prometheus's. Printing quotes the value, and the name only when it holds
//! a reserved character (as Alertmanager 0.27+ prints it: `service.name="x"`, `"a b"="x"`), so route and
//! group keys read as Alertmanager's and `parse(print(m)) == m`.

use std::fmt;

use regex::Regex;

use crate::labels::LabelSet;

/// How a matcher compares a label's value.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum MatchType {
    Equal,
    NotEqual,
    Regexp,
    NotRegexp,
}

impl MatchType {
    /// The operator as written: `=`, `!=`, `=~` or `!~`.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchType::Equal => "=",
            MatchType::NotEqual => "!=",
            MatchType::Regexp => "=~",
            MatchType::NotRegexp => "!~",
        }
    }

    /// Builds the type from Alertmanager API v2's two booleans.
    pub fn from_flags(is_equal: bool, is_regex: bool) -> MatchType {
        match (is_equal, is_regex) {
            (true, false) => MatchType::Equal,
            (false, false) => MatchType::NotEqual,
            (true, true) => MatchType::Regexp,
            (false, true) => MatchType::NotRegexp,
        }
    }

    pub fn is_regex(self) -> bool {
        matches!(self, MatchType::Regexp | MatchType::NotRegexp)
    }

    pub fn is_equal(self) -> bool {
        matches!(self, MatchType::Equal | MatchType::Regexp)
    }
}

/// Why a matcher could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatcherError {
    /// The text is not `name op value`.
    #[error("bad matcher format: {0}")]
    BadFormat(String),
    /// A double quote inside the value is not escaped.
    #[error("matcher value contains unescaped double quote: {0}")]
    UnescapedQuote(String),
    /// The label name is not a valid Prometheus label name.
    #[error("invalid label name {0:?} in matcher")]
    InvalidName(String),
    /// The value of a regex matcher does not compile.
    #[error("invalid regular expression {value:?} for label {name:?}: {reason}")]
    InvalidRegex { name: String, value: String, reason: String },
}

/// One condition on one label. A missing label has the value `""`.
#[derive(Clone, Debug)]
pub struct Matcher {
    name: String,
    op: MatchType,
    value: String,
    /// Present exactly when `op` is a regex type; fields are private to keep that true.
    regex: Option<Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}
impl Eq for Matcher {}

impl Matcher {
    /// Builds a matcher, compiling the anchored regex for `=~` and `!~`.
    pub fn new(name: &str, op: MatchType, value: &str) -> Result<Matcher, MatcherError> {
        if !crate::labels::is_valid_label_name(name) {
            return Err(MatcherError::InvalidName(name.to_string()));
        }
        let regex = if op.is_regex() {
            let anchored = format!("^(?:{value})$");
            let re = Regex::new(&anchored).map_err(|e| MatcherError::InvalidRegex {
                name: name.to_string(),
                value: value.to_string(),
                reason: first_line(&e.to_string()),
            })?;
            Some(re)
        } else {
            None
        };
        Ok(Matcher { name: name.to_string(), op, value: value.to_string(), regex })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn op(&self) -> MatchType {
        self.op
    }

    pub fn value(&self) -> &str {
        &self.value
    }

    /// Does `value` satisfy this matcher?
    pub fn matches_value(&self, value: &str) -> bool {
        match (&self.op, &self.regex) {
            (MatchType::Equal, _) => value == self.value,
            (MatchType::NotEqual, _) => value != self.value,
            (MatchType::Regexp, Some(re)) => re.is_match(value),
            (MatchType::NotRegexp, Some(re)) => !re.is_match(value),
            // `new` always compiles the regex of a regex matcher and the fields are private.
            (MatchType::Regexp | MatchType::NotRegexp, None) => false,
        }
    }

    /// Does the label set satisfy this matcher? An absent label matches as the empty string.
    pub fn matches(&self, labels: &LabelSet) -> bool {
        self.matches_value(labels.get(&self.name).unwrap_or(""))
    }

    /// Parses one matcher such as `severity=~"critical|page"`.
    pub fn parse(text: &str) -> Result<Matcher, MatcherError> {
        let (name, op, raw) = split_matcher(text).ok_or_else(|| MatcherError::BadFormat(text.to_string()))?;
        let value = unescape_value(raw)?;
        Matcher::new(&name, op, &value)
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.name.chars().any(is_reserved) {
            write_quoted(f, &self.name)?;
        } else {
            f.write_str(&self.name)?;
        }
        f.write_str(self.op.as_str())?;
        write_quoted(f, &self.value)
    }
}

/// `text` in double quotes with `\\`, `\"` and `\n` escaped: the form [`unescape_value`] reads back.
fn write_quoted(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in text.chars() {
        match c {
            '\\' => f.write_str("\\\\")?,
            '"' => f.write_str("\\\"")?,
            '\n' => f.write_str("\\n")?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

/// A conjunction of matchers: all must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Matchers(pub Vec<Matcher>);

impl Matchers {
    /// Parses a list such as `{alertname="Foo", severity=~"crit.*"}` (braces optional).
    pub fn parse(text: &str) -> Result<Matchers, MatcherError> {
        let trimmed = text.trim();
        // Braces come in pairs (Alertmanager 0.27's parser refuses `{` alone).
        let inner = match (trimmed.strip_prefix('{'), trimmed.ends_with('}')) {
            (Some(rest), true) => rest.strip_suffix('}').unwrap_or(rest),
            (None, false) => trimmed,
            _ => return Err(MatcherError::BadFormat(text.to_string())),
        };
        let mut tokens = Vec::new();
        let mut token = String::new();
        let (mut inside_quotes, mut escaped) = (false, false);
        for c in inner.chars() {
            match c {
                ',' if !inside_quotes => {
                    tokens.push(std::mem::take(&mut token));
                    continue;
                }
                '"' => {
                    if escaped {
                        escaped = false;
                    } else {
                        inside_quotes = !inside_quotes;
                    }
                }
                '\\' => escaped = !escaped,
                _ => escaped = false,
            }
            token.push(c);
        }
        if !token.trim().is_empty() {
            tokens.push(token);
        }
        tokens.iter().map(|t| Matcher::parse(t)).collect::<Result<_, _>>().map(Matchers)
    }

    /// True when every matcher matches (and so for an empty list).
    pub fn matches(&self, labels: &LabelSet) -> bool {
        self.0.iter().all(|m| m.matches(labels))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Matchers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, m) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{m}")?;
        }
        f.write_str("}")
    }
}

/// Characters a bare (unquoted) label name cannot hold, as in Alertmanager 0.27's matcher lexer.
fn is_reserved(c: char) -> bool {
    c.is_whitespace() || "{}!=~,\\\"'`".contains(c)
}

/// Splits `  name op value  ` into its parts; the name is unescaped when quoted, the value keeps its
/// quotes and is trimmed of whitespace.
fn split_matcher(text: &str) -> Option<(std::borrow::Cow<'_, str>, MatchType, &str)> {
    let s = text.trim_start();
    let (name, rest) = if s.starts_with('"') {
        // A quoted name ends at the first quote not escaped by a backslash.
        let mut escaped = false;
        let end = s.char_indices().skip(1).find(|&(_, c)| {
            let closes = c == '"' && !escaped;
            escaped = c == '\\' && !escaped;
            closes
        })?;
        let name = unescape_value(&s[..=end.0]).ok()?;
        (std::borrow::Cow::Owned(name), &s[end.0 + 1..])
    } else {
        let name_len = s.char_indices().find(|&(_, c)| is_reserved(c)).map_or(s.len(), |(i, _)| i);
        (std::borrow::Cow::Borrowed(&s[..name_len]), &s[name_len..])
    };
    if name.is_empty() {
        return None;
    }
    let rest = rest.trim_start();
    // `=~` before `=`, or the `~` would become part of the value.
    let (op, rest) = if let Some(r) = rest.strip_prefix("=~") {
        (MatchType::Regexp, r)
    } else if let Some(r) = rest.strip_prefix("!~") {
        (MatchType::NotRegexp, r)
    } else if let Some(r) = rest.strip_prefix("!=") {
        (MatchType::NotEqual, r)
    } else if let Some(r) = rest.strip_prefix('=') {
        (MatchType::Equal, r)
    } else {
        return None;
    };
    Some((name, op, rest.trim()))
}

/// Removes the optional surrounding quotes and resolves escapes, as Alertmanager does.
fn unescape_value(raw: &str) -> Result<String, MatcherError> {
    let (body, mut expect_trailing_quote) = match raw.strip_prefix('"') {
        Some(b) => (b, true),
        None => (raw, false),
    };
    let mut value = String::with_capacity(body.len());
    let mut escaped = false;
    let last = body.char_indices().last().map(|(i, _)| i);
    for (i, c) in body.char_indices() {
        if escaped {
            escaped = false;
            match c {
                'n' => value.push('\n'),
                '"' | '\\' => value.push(c),
                _ => {
                    value.push('\\');
                    value.push(c);
                }
            }
            continue;
        }
        match c {
            '\\' if Some(i) != last => escaped = true,
            '"' => {
                if !expect_trailing_quote || Some(i) != last {
                    return Err(MatcherError::UnescapedQuote(raw.to_string()));
                }
                expect_trailing_quote = false;
            }
            c => value.push(c),
        }
    }
    if expect_trailing_quote {
        return Err(MatcherError::UnescapedQuote(raw.to_string()));
    }
    Ok(value)
}

fn first_line(s: &str) -> String {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> LabelSet {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn parses_the_alertmanager_matcher_syntax() {
        type Expected<'a> = &'a [(&'a str, MatchType, &'a str)];
        let cases: &[(&str, Expected)] = &[
            ("foo=bar", &[("foo", MatchType::Equal, "bar")]),
            ("foo=~bar.*", &[("foo", MatchType::Regexp, "bar.*")]),
            ("foo!=bar", &[("foo", MatchType::NotEqual, "bar")]),
            ("foo!~bar", &[("foo", MatchType::NotRegexp, "bar")]),
            (r#"{foo="bar", baz!~"qu,x"}"#, &[("foo", MatchType::Equal, "bar"), ("baz", MatchType::NotRegexp, "qu,x")]),
            (r#"foo="bar\"baz""#, &[("foo", MatchType::Equal, "bar\"baz")]),
            (r#"foo="a\\b""#, &[("foo", MatchType::Equal, "a\\b")]),
            (r#"foo="line\nbreak""#, &[("foo", MatchType::Equal, "line\nbreak")]),
            (r#"foo=bar\q"#, &[("foo", MatchType::Equal, "bar\\q")]),
            ("  foo  =  bar  ", &[("foo", MatchType::Equal, "bar")]),
            ("foo=", &[("foo", MatchType::Equal, "")]),
            ("foo=\"\"", &[("foo", MatchType::Equal, "")]),
            ("a:b=c", &[("a:b", MatchType::Equal, "c")]),
            // UTF-8 names (Alertmanager 0.27+): bare when no reserved character, else quoted.
            ("service.name=checkout", &[("service.name", MatchType::Equal, "checkout")]),
            (r#"{"service.name"="checkout"}"#, &[("service.name", MatchType::Equal, "checkout")]),
            (
                r#"{"a,b" =~ "x", "quote\"d"!="y"}"#,
                &[("a,b", MatchType::Regexp, "x"), ("quote\"d", MatchType::NotEqual, "y")],
            ),
            ("1foo=bar", &[("1foo", MatchType::Equal, "bar")]),
            ("名前=値", &[("名前", MatchType::Equal, "値")]),
            ("{}", &[]),
            ("", &[]),
        ];
        for (text, want) in cases {
            let got = Matchers::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let got: Vec<_> = got.0.iter().map(|m| (m.name(), m.op(), m.value())).collect();
            assert_eq!(&got, want, "{text}");
        }
    }

    #[test]
    fn rejects_malformed_matchers_with_the_reason() {
        let cases = [
            ("foo", "bad matcher format: foo"),
            ("=bar", "bad matcher format: =bar"),
            (r#""=bar"#, "bad matcher format"),
            (r#""unclosed=bar"#, "bad matcher format"),
            (r#"""=bar"#, "bad matcher format"),
            ("a b=c", "bad matcher format"),
            ("foo=\"bar", "unescaped double quote"),
            ("foo=bar\"baz", "unescaped double quote"),
            ("foo=~\"(\"", "invalid regular expression"),
            ("foo<bar", "bad matcher format"),
            ("{", "bad matcher format"),
            ("{a=b", "bad matcher format"),
            ("a=b}", "bad matcher format"),
        ];
        for (text, want) in cases {
            let err = Matchers::parse(text).expect_err(text).to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn regexes_are_anchored_and_missing_labels_match_as_empty() {
        let l = labels(&[("job", "node-exporter")]);
        assert!(Matcher::parse("job=~node.*").map(|m| m.matches(&l)).unwrap_or(false));
        assert!(!Matcher::parse("job=~node").map(|m| m.matches(&l)).unwrap_or(true));
        assert!(Matcher::parse("job!~node").map(|m| m.matches(&l)).unwrap_or(false));
        assert!(Matcher::parse("missing=\"\"").map(|m| m.matches(&l)).unwrap_or(false));
        assert!(Matcher::parse("missing!=x").map(|m| m.matches(&l)).unwrap_or(false));
        assert!(Matcher::parse("missing=~\".*\"").map(|m| m.matches(&l)).unwrap_or(false));
    }

    #[test]
    fn printing_quotes_the_value_and_parses_back() {
        for text in [
            r#"a="b""#,
            r#"a=~"x|y\"z""#,
            r#"a!="back\\slash""#,
            r#"a!~"new\nline""#,
            r#"service.name="checkout""#,
            r#""a b"="x""#,
            r#""we\"ird, name"!~"x""#,
        ] {
            let m = Matcher::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(m.to_string(), text);
            assert_eq!(Matcher::parse(&m.to_string()).ok(), Some(m));
        }
    }

    #[test]
    fn flags_round_trip_with_match_types() {
        for op in [MatchType::Equal, MatchType::NotEqual, MatchType::Regexp, MatchType::NotRegexp] {
            assert_eq!(MatchType::from_flags(op.is_equal(), op.is_regex()), op);
        }
    }
}
