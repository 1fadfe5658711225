//! Inputs: mutations of a seed, and the pieces the targets' grammars are built from.

use crate::rng::Rng;

/// Bytes that break parsers: structure, quotes, escapes, controls, and the edges of UTF-8.
const INTERESTING_BYTES: &[u8] = b"\x00\x01\x7f\xff\xc0\xe2\xf0\"'\\{}[]:,=!~\n\r\t #&*|>-.";

/// Mutates `seed`: one to four edits drawn from bit flips, interesting bytes, dictionary tokens, range
/// deletions and duplications, splices with `other`, and — for YAML — swaps of a value for an
/// interesting one.
pub fn mutate(seed: &[u8], other: &[u8], dictionary: &[&str], yaml: bool, rng: &mut Rng) -> Vec<u8> {
    let mut out = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = out.len();
        match rng.below(if yaml { 9 } else { 8 }) {
            0 if len > 0 => {
                let i = rng.below(len);
                out[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                out[i] = *rng.pick(INTERESTING_BYTES);
            }
            2 => {
                let token = rng.pick(dictionary).as_bytes();
                let at = rng.below(len + 1);
                out.splice(at..at, token.iter().copied());
            }
            3 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(16)).min(len);
                out.drain(start..end);
            }
            4 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(64)).min(len);
                let piece = out[start..end].to_vec();
                let at = rng.below(out.len() + 1);
                out.splice(at..at, piece);
            }
            5 if !other.is_empty() => {
                let cut = rng.below(len + 1);
                let from = rng.below(other.len());
                out.truncate(cut);
                out.extend_from_slice(&other[from..]);
            }
            6 if len > 0 => out.truncate(rng.below(len)),
            7 => {
                let at = rng.below(len + 1);
                out.insert(at, *rng.pick(INTERESTING_BYTES));
            }
            8 => swap_yaml_value(&mut out, rng),
            _ => {}
        }
    }
    out
}

/// YAML values that are valid YAML but troublesome to a schema.
const YAML_VALUES: &[&str] = &[
    "~",
    "null",
    "''",
    "\"\"",
    "[]",
    "{}",
    "-1",
    "0",
    "1e999",
    "0x7f000001",
    "18446744073709551616",
    ".nan",
    "yes",
    "!!binary aGVsbG8=",
    "&anchor x",
    "*anchor",
    "'...'",
    "[a, [b, [c]]]",
    "{a: {b: {c: d}}}",
    "http://169.254.169.254/latest",
    "'http://[::1]:0/x'",
    "99999999999h",
    "5x",
    "'\\u0000'",
    "\"\\uD800\"",
    "|\n  block\n  text",
    ">-\n  folded",
    "2027-02-30T25:61:00Z",
    "'a=\"b\",c!~\"(\"'",
    "[\"...\", x]",
];

/// Replaces the value after a `key:` on a random line with one of [`YAML_VALUES`].
fn swap_yaml_value(out: &mut Vec<u8>, rng: &mut Rng) {
    let text = String::from_utf8_lossy(out).to_string();
    let lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        return;
    }
    let i = rng.below(lines.len());
    let Some(colon) = lines[i].find(": ") else { return };
    let mut rebuilt: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    rebuilt[i] = format!("{}: {}", &lines[i][..colon], rng.pick(YAML_VALUES));
    *out = (rebuilt.join("\n") + "\n").into_bytes();
}

/// A string from a few families: plain names, empty, long, UTF-8 of every width, controls and quotes.
pub fn string(rng: &mut Rng) -> String {
    match rng.below(9) {
        0 => String::new(),
        1 => "x".repeat(1 + rng.below(5000)),
        2 => "значение ✓ 名前 🔥".into(),
        3 => "\u{0}\u{1}\u{7f}\u{200b}\u{feff}".into(),
        4 => "\"quoted\\\" and \\\\ backslash".into(),
        5 => format!("{}", rng.next_u64()),
        6 => "a b\tc\nd".into(),
        7 => ["alertname", "severity", "instance", "job", "team", "__name__", "le"][rng.below(7)].into(),
        _ => {
            let len = rng.below(12);
            (0..len).map(|_| *rng.pick(b"abcXYZ019_-.:/\\\"'={}[],~! ") as char).collect()
        }
    }
}

/// A JSON string literal of `s` (escaped as JSON requires), sometimes written with a broken escape.
pub fn json_string(s: &str, rng: &mut Rng) -> String {
    if rng.one_in(20) {
        return format!("\"{s}\\q\"");
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
