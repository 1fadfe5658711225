//! Secret-bearing values: [`Secret`] (passwords, HMAC keys, signing secrets), [`HttpUrl`] (webhook and
//! Slack URLs, which carry their credential in the path or query) and [`StorageUrl`] (a database URL's
//! password and query).
//!
//! Invariant: a secret's only rendering is [`REDACTED`] — in `Debug`, in `Serialize` (and so in
//! `/api/v2/status`'s `config.original` and `clarion config show`), and in the errors raised while reading
//! one, which never echo the value. The value itself is reached only through `expose()`, so every place that
//! sends a secret somewhere can be found with one search.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::{Serialize, Serializer};

/// How every secret renders.
pub const REDACTED: &str = "<secret>";

/// A secret string: a password, an HMAC key, a signing secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that uses it (signing, logging in to SMTP).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarText).map(Secret)
    }
}

/// Reads a scalar as text. YAML reads `password: 1234` as a number; a secret is text whatever it looks
/// like, and an error must not repeat it (serde's own "invalid type: integer `1234`" would).
struct ScalarText;

impl<'de> Visitor<'de> for ScalarText {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a secret written as a string (the value is not shown)")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<String, E> {
        // The float's text is not the text written (`1e3`, `0.10`): quoting keeps the secret exact.
        Err(E::custom("a secret that looks like a decimal number must be quoted (the value is not shown)"))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
}

/// An absolute `http://` or `https://` URL that is a credential: whoever knows a Slack incoming-webhook URL
/// can post to the channel, and webhook URLs often carry a token in the path or query.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpUrl(String);

impl HttpUrl {
    /// Checks the form: `http://` or `https://`, a host, no whitespace.
    pub fn parse(text: &str) -> Result<HttpUrl, &'static str> {
        let rest = text.strip_prefix("https://").or_else(|| text.strip_prefix("http://"));
        match rest {
            Some(r) if !r.is_empty() && !r.starts_with('/') && !text.contains(char::is_whitespace) => {
                Ok(HttpUrl(text.to_string()))
            }
            _ => Err("expected an absolute http:// or https:// URL (the value is not shown: it may be a credential)"),
        }
    }

    /// The whole URL, for the request that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A URL written in Clarion's code (a service's public endpoint), known to be well formed.
    pub(crate) fn known(url: &'static str) -> HttpUrl {
        HttpUrl(url.to_string())
    }
}

impl fmt::Debug for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for HttpUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for HttpUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = d.deserialize_any(ScalarText)?;
        HttpUrl::parse(&text).map_err(de::Error::custom)
    }
}

/// The storage URL (`sqlite://PATH`, `postgres://user:password@host/db?options`). Renders with its password
/// and query (which may hold `password=` or `sslpassword=`) replaced by [`REDACTED`]; scheme, user, host and
/// database stay readable, since an operator needs them to know where the data is.
#[derive(Clone, PartialEq, Eq)]
pub struct StorageUrl(String);

impl StorageUrl {
    pub fn new(text: impl Into<String>) -> StorageUrl {
        StorageUrl(text.into())
    }

    /// The whole URL, for connecting.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with its password and query replaced by [`REDACTED`].
    pub fn redacted(&self) -> String {
        redact_url(&self.0)
    }
}

impl fmt::Debug for StorageUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Display for StorageUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Serialize for StorageUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.redacted())
    }
}

impl<'de> Deserialize<'de> for StorageUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarText).map(StorageUrl)
    }
}

/// `scheme://user:password@host/path?query#fragment` becomes `scheme://user:<secret>@host/path?<secret>`.
/// Text that is not a URL is redacted whole.
pub fn redact_url(text: &str) -> String {
    let Some(scheme_end) = text.find("://") else { return REDACTED.to_string() };
    let (scheme, rest) = (&text[..scheme_end + 3], &text[scheme_end + 3..]);
    let rest = rest.split('#').next().unwrap_or("");
    let (before_query, has_query) = match rest.split_once('?') {
        Some((b, _)) => (b, true),
        None => (rest, false),
    };
    let authority_end = before_query.find('/').unwrap_or(before_query.len());
    let (authority, path) = before_query.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:{REDACTED}@{host}"),
            None => authority.to_string(),
        },
        None => authority.to_string(),
    };
    let query = if has_query { format!("?{REDACTED}") } else { String::new() };
    format!("{scheme}{authority}{path}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_urls_keep_where_and_lose_passwords_and_queries() {
        let cases = [
            ("sqlite://./clarion-data/clarion.db", "sqlite://./clarion-data/clarion.db"),
            ("postgres://clarion@db/clarion", "postgres://clarion@db/clarion"),
            ("postgres://clarion:hunter2@db:5432/clarion", "postgres://clarion:<secret>@db:5432/clarion"),
            ("postgres://u:p@ss@db/x?sslpassword=k#frag", "postgres://u:<secret>@db/x?<secret>"),
            ("postgres://db/x?password=hunter2", "postgres://db/x?<secret>"),
            ("hunter2", "<secret>"),
        ];
        for (url, shown) in cases {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }

    #[test]
    fn secrets_render_only_as_redacted() {
        let s: Secret = serde_yaml::from_str("1234").expect("numbers are read as text");
        assert_eq!(s.expose(), "1234");
        assert_eq!(format!("{s:?}"), REDACTED);
        assert_eq!(serde_yaml::to_string(&s).expect("serializes").trim(), REDACTED);
        let err = serde_yaml::from_str::<Secret>("12.50").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("must be quoted") && !err.contains("12.5"), "{err}");
        let err = serde_yaml::from_str::<HttpUrl>("ftp://token-123@x").err().map(|e| e.to_string());
        assert!(err.as_deref().is_some_and(|e| !e.contains("token-123")), "{err:?}");
    }
}
