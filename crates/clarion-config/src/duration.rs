//! Durations written the Prometheus way: `30s`, `5m`, `1h30m`, `2d`, `1w`, `250ms`.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserialize, Deserializer};

/// A duration read from the configuration file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ConfigDuration(pub Duration);

/// Why a text is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("invalid duration {0:?}: expected a number and a unit such as 30s, 5m, 4h or 1h30m")]
    Invalid(String),
    #[error("duration {0:?} is too large")]
    TooLarge(String),
}

/// Parses a Prometheus duration: one or more `<number><unit>` parts, units `ms`, `s`, `m`, `h`, `d`, `w`, `y`,
/// each unit at most once and from largest to smallest.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let bad = || DurationError::Invalid(text.to_string());
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ];
    let mut rest = text;
    let mut total_ms: u64 = 0;
    let mut last_unit = None;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let idx = UNITS.iter().position(|(u, _)| *u == unit).ok_or_else(bad)?;
        if last_unit.is_some_and(|l| idx <= l) {
            return Err(bad());
        }
        last_unit = Some(idx);
        total_ms = n
            .checked_mul(UNITS[idx].1)
            .and_then(|v| total_ms.checked_add(v))
            .ok_or_else(|| DurationError::TooLarge(text.to_string()))?;
    }
    Ok(Duration::from_millis(total_ms))
}

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s).map(ConfigDuration).map_err(de::Error::custom)
    }
}

impl serde::Serialize for ConfigDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for ConfigDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms == 0 {
            return f.write_str("0s");
        }
        let mut rest = ms;
        for (unit, size) in [("d", 86_400_000u128), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)] {
            if rest >= size {
                write!(f, "{}{unit}", rest / size)?;
                rest %= size;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_durations() {
        let cases = [
            ("0", 0),
            ("30s", 30_000),
            ("5m", 300_000),
            ("1h30m", 5_400_000),
            ("2d", 172_800_000),
            ("1w", 604_800_000),
            ("250ms", 250),
            ("1m30s500ms", 90_500),
        ];
        for (text, ms) in cases {
            assert_eq!(parse_duration(text), Ok(Duration::from_millis(ms)), "{text}");
        }
    }

    #[test]
    fn rejects_malformed_durations() {
        for text in ["", "5", "m", "5x", "-5s", "1.5h", "30m1h", "5s5s", "99999999999999999999y"] {
            assert!(parse_duration(text).is_err(), "{text}");
        }
    }

    #[test]
    fn prints_compactly() {
        assert_eq!(ConfigDuration(Duration::from_millis(5_400_000)).to_string(), "1h30m");
        assert_eq!(ConfigDuration(Duration::ZERO).to_string(), "0s");
    }
}
