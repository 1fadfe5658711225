//! Versions ordered per ecosystem: SemVer 2.0 precedence (crates.io, npm, OSV `SEMVER` ranges) and PEP 440
//! (PyPI). **A version that cannot be read in its scheme compares with nothing (`None`): no guess.**
//!
//! SemVer is read with the `semver` crate (Cargo's own) and ordered by precedence as SemVer 2.0 §11 says:
//! major, minor, patch, then pre-release (`1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0-beta < 1.0.0`), **ignoring
//! build metadata** (`1.0.0+a` and `1.0.0+b` are equal), which `semver::Version`'s own `Ord` does not. Not
//! `VersionReq::matches`, which leaves pre-releases out of ranges. Tolerated, because some records and lockfiles
//! write them: surrounding whitespace, one leading `v` (`v1.2.3`), and a release of one or two numbers, read as
//! padded with zeros (`1.2` is `1.2.0`, `1` is `1.0.0`, `1.2-rc.1` is `1.2.0-rc.1`). Anything else the `semver`
//! crate refuses (leading zeros, empty identifiers, four numbers) cannot be read.
//!
//! PEP 440 is written here, about a hundred lines on the `regex` crate core already uses: `pep440_rs` (0.7)
//! would bring version specifiers and three more crates (`once_cell`, `unscanny`, `unicode-width`) when
//! ordering is all matching needs. A version is read the way the PEP's normalisation reads it (the regular
//! expression of its appendix B): any case, an optional `v`,
//! `N!` epoch, release `N(.N)*`, pre-release `a`/`b`/`rc` (also spelt `alpha`, `beta`, `c`, `pre`, `preview`,
//! with an optional `.`/`-`/`_` around the letters and an implicit `0`), post-release (`.post1`, `-1`, `rev1`,
//! `r1`, implicit `0`), `.devN` and a `+local` label. The order is the PEP's: epoch, then release with trailing
//! zeros ignored (`1.0 == 1.0.0`), then `1.0.dev0 < 1.0a1.dev0 < 1.0a1 < 1.0 < 1.0+local < 1.0.post1.dev0 <
//! 1.0.post1`; local labels compare segment by segment, numbers numerically and above words.

use std::cmp::Ordering;
use std::sync::LazyLock;

/// A way of ordering versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scheme {
    /// SemVer 2.0 precedence.
    SemVer,
    /// PEP 440.
    Pep440,
}

impl Scheme {
    /// The ordering of an OSV ecosystem's versions, by the ecosystem's name before any `:` suffix
    /// (`crates.io`, `npm`: SemVer; `PyPI`: PEP 440). `None` for ecosystems Clarion cannot order (`Go`,
    /// `Maven`, `Debian:11`, …): their `ECOSYSTEM` ranges cannot be evaluated.
    pub fn for_ecosystem(ecosystem: &str) -> Option<Scheme> {
        let base = ecosystem.split(':').next().unwrap_or(ecosystem);
        match base {
            "crates.io" | "npm" => Some(Scheme::SemVer),
            "PyPI" => Some(Scheme::Pep440),
            _ => None,
        }
    }

    /// `version` read in this scheme, or `None` when it is not a version of this scheme.
    pub fn parse(self, version: &str) -> Option<Version> {
        match self {
            Scheme::SemVer => parse_semver(version).map(Repr::SemVer),
            Scheme::Pep440 => parse_pep440(version).map(Repr::Pep440),
        }
        .map(Version)
    }
}

/// A version read in a [`Scheme`], ordered by that scheme's precedence. Only versions read in the same scheme
/// are meant to be compared (a SemVer version sorts before every PEP 440 one, which means nothing).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(Repr);

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Repr {
    SemVer(SemVerKey),
    Pep440(Pep440Key),
}

/// How `a` and `b` compare in `ecosystem`'s ordering; `None` when the ecosystem has no ordering Clarion knows
/// or either side is not a version of it.
pub fn compare(ecosystem: &str, a: &str, b: &str) -> Option<Ordering> {
    compare_in(Scheme::for_ecosystem(ecosystem)?, a, b)
}

/// How `a` and `b` compare by SemVer 2.0 precedence (build metadata ignored); `None` when either is not SemVer.
pub fn compare_semver(a: &str, b: &str) -> Option<Ordering> {
    compare_in(Scheme::SemVer, a, b)
}

/// How `a` and `b` compare by PEP 440; `None` when either is not a PEP 440 version.
pub fn compare_pep440(a: &str, b: &str) -> Option<Ordering> {
    compare_in(Scheme::Pep440, a, b)
}

fn compare_in(scheme: Scheme, a: &str, b: &str) -> Option<Ordering> {
    Some(scheme.parse(a)?.cmp(&scheme.parse(b)?))
}

// ---- SemVer ----

/// SemVer precedence: the fields in this order, derived `Ord`; `semver::Prerelease` orders by §11 (an empty
/// pre-release, a release, above any other). Build metadata is not kept.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct SemVerKey {
    major: u64,
    minor: u64,
    patch: u64,
    pre: semver::Prerelease,
}

fn parse_semver(text: &str) -> Option<SemVerKey> {
    let text = text.trim();
    let text = text.strip_prefix('v').unwrap_or(text);
    let core_end = text.find(['-', '+']).unwrap_or(text.len());
    let (core, rest) = text.split_at(core_end);
    let numbers = core.split('.').count();
    let all_digits = core.split('.').all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    let padded;
    let text = if all_digits && numbers < 3 {
        padded = format!("{core}{}{rest}", ".0".repeat(3 - numbers));
        padded.as_str()
    } else {
        text
    };
    let version = semver::Version::parse(text).ok()?;
    Some(SemVerKey { major: version.major, minor: version.minor, patch: version.patch, pre: version.pre })
}

// ---- PEP 440 ----

/// PEP 440's sort key (as `packaging.version` builds it), fields in comparison order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Pep440Key {
    epoch: u64,
    /// The release numbers without trailing zeros, so `1.0` and `1.0.0` are equal.
    release: Vec<u64>,
    pre: PreKey,
    /// `None` (no post-release) sorts below every post-release.
    post: Option<u64>,
    dev: DevKey,
    /// `None` (no local label) sorts below every local label.
    local: Option<Vec<LocalSegment>>,
}

/// Declaration order is sort order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum PreKey {
    /// A dev release of a final release (`1.0.dev1`, no pre, no post): below all its pre-releases.
    DevOfFinal,
    Pre(PreKind, u64),
    /// No pre-release: above every pre-release.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum PreKind {
    Alpha,
    Beta,
    Rc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum DevKey {
    Dev(u64),
    /// Not a dev release: above every dev release of the same version.
    None,
}

/// A segment of a local label: words sort below numbers, numbers compare numerically.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum LocalSegment {
    Word(String),
    Number(u64),
}

/// PEP 440 appendix B's pattern, anchored, any case, surrounding whitespace allowed.
static PEP440: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(
        r"(?ix)^\s*
        v?
        (?:(?P<epoch>[0-9]+)!)?
        (?P<release>[0-9]+(?:\.[0-9]+)*)
        (?:
            [-_.]?
            (?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)
            [-_.]?
            (?P<pre_n>[0-9]+)?
        )?
        (?:
            (?:-(?P<post_n1>[0-9]+))
            |
            (?:[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?)
        )?
        (?:
            [-_.]?
            (?P<dev_l>dev)
            [-_.]?
            (?P<dev_n>[0-9]+)?
        )?
        (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
        \s*$",
    )
    .expect("the PEP 440 pattern is a valid regular expression")
});

fn parse_pep440(text: &str) -> Option<Pep440Key> {
    let caps = PEP440.captures(text)?;
    let number = |name: &str| -> Option<Option<u64>> {
        match caps.name(name) {
            Some(m) => m.as_str().parse().ok().map(Some),
            None => Some(None),
        }
    };
    let epoch = number("epoch")?.unwrap_or(0);
    let mut release =
        caps.name("release")?.as_str().split('.').map(|n| n.parse::<u64>().ok()).collect::<Option<Vec<_>>>()?;
    while release.last() == Some(&0) {
        release.pop();
    }
    let pre = match caps.name("pre_l") {
        Some(letters) => {
            let kind = match letters.as_str().to_ascii_lowercase().as_str() {
                "a" | "alpha" => PreKind::Alpha,
                "b" | "beta" => PreKind::Beta,
                _ => PreKind::Rc,
            };
            Some((kind, number("pre_n")?.unwrap_or(0)))
        }
        None => None,
    };
    let post = match (number("post_n1")?, caps.name("post_l")) {
        (Some(n), _) => Some(n),
        (None, Some(_)) => Some(number("post_n2")?.unwrap_or(0)),
        (None, None) => None,
    };
    let dev = match caps.name("dev_l") {
        Some(_) => Some(number("dev_n")?.unwrap_or(0)),
        None => None,
    };
    let local = match caps.name("local") {
        Some(label) => Some(
            label
                .as_str()
                .split(['-', '_', '.'])
                .map(|segment| {
                    if segment.bytes().all(|b| b.is_ascii_digit()) {
                        segment.parse().ok().map(LocalSegment::Number)
                    } else {
                        Some(LocalSegment::Word(segment.to_ascii_lowercase()))
                    }
                })
                .collect::<Option<Vec<_>>>()?,
        ),
        None => None,
    };
    let pre = match (pre, post, dev) {
        (Some((kind, n)), _, _) => PreKey::Pre(kind, n),
        (None, None, Some(_)) => PreKey::DevOfFinal,
        (None, _, _) => PreKey::None,
    };
    let dev = dev.map_or(DevKey::None, DevKey::Dev);
    Some(Pep440Key { epoch, release, pre, post, dev, local })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts each version is below the next in `scheme`, and equal to itself.
    fn assert_ascending(scheme: Scheme, versions: &[&str]) {
        for pair in versions.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            assert_eq!(compare_in(scheme, a, b), Some(Ordering::Less), "{a} < {b} in {scheme:?}");
            assert_eq!(compare_in(scheme, b, a), Some(Ordering::Greater), "{b} > {a} in {scheme:?}");
        }
        for v in versions {
            assert_eq!(compare_in(scheme, v, v), Some(Ordering::Equal), "{v} == {v} in {scheme:?}");
        }
    }

    #[test]
    fn semver_orders_by_precedence_as_semver_2_section_11_lists() {
        // The example list of SemVer 2.0.0 §11.
        assert_ascending(
            Scheme::SemVer,
            &[
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-alpha.beta",
                "1.0.0-beta",
                "1.0.0-beta.2",
                "1.0.0-beta.11",
                "1.0.0-rc.1",
                "1.0.0",
                "2.0.0",
                "2.1.0",
                "2.1.1",
            ],
        );
    }

    #[test]
    fn semver_numbers_compare_numerically_not_as_text() {
        assert_ascending(Scheme::SemVer, &["0.9.0", "0.10.0", "0.99.1", "0.100.0", "1.0.0-2", "1.0.0-10", "1.0.0"]);
    }

    #[test]
    fn semver_zero_pre_release_is_the_lowest_of_its_version() {
        // RustSec writes "introduced: X.Y.Z-0" to include every pre-release of X.Y.Z.
        assert_ascending(Scheme::SemVer, &["0.6.9", "0.7.0-0", "0.7.0-0.0", "0.7.0-1", "0.7.0-alpha", "0.7.0"]);
    }

    #[test]
    fn semver_ignores_build_metadata() {
        assert_eq!(compare_semver("1.0.0+build.1", "1.0.0+build.2"), Some(Ordering::Equal));
        assert_eq!(compare_semver("1.0.0+build", "1.0.0"), Some(Ordering::Equal));
        assert_eq!(compare_semver("1.0.0-rc.1+build", "1.0.0"), Some(Ordering::Less));
    }

    #[test]
    fn semver_tolerates_a_leading_v_and_short_releases() {
        assert_eq!(compare_semver("v1.2.3", "1.2.3"), Some(Ordering::Equal));
        assert_eq!(compare_semver("1.2", "1.2.0"), Some(Ordering::Equal));
        assert_eq!(compare_semver("1", "1.0.0"), Some(Ordering::Equal));
        assert_eq!(compare_semver("1.2-rc.1", "1.2.0"), Some(Ordering::Less));
        assert_eq!(compare_semver(" 1.2.3 ", "1.2.3"), Some(Ordering::Equal));
    }

    #[test]
    fn semver_refuses_what_is_not_a_version() {
        for text in ["", "v", "abc", "1.2.3.4", "01.2.3", "1.2.3-", "1.2.3-01", "1..2", "*", "1.x", "0.0.0-0 junk"] {
            assert_eq!(compare_semver(text, "1.0.0"), None, "{text:?} is not SemVer");
        }
    }

    #[test]
    fn npm_and_crates_io_order_by_semver_and_pypi_by_pep_440() {
        assert_eq!(compare("npm", "1.0.0-beta.2", "1.0.0-beta.11"), Some(Ordering::Less));
        assert_eq!(compare("crates.io", "0.10.0", "0.9.9"), Some(Ordering::Greater));
        assert_eq!(compare("PyPI", "1.0", "1.0.0"), Some(Ordering::Equal));
        // "1.0.post1" is not SemVer; in PEP 440 it follows 1.0.
        assert_eq!(compare("npm", "1.0.post1", "1.0"), None);
        assert_eq!(compare("PyPI", "1.0.post1", "1.0"), Some(Ordering::Greater));
    }

    #[test]
    fn ecosystems_without_an_ordering_compare_nothing() {
        assert_eq!(compare("Go", "1.0.0", "1.0.1"), None);
        assert_eq!(compare("Maven", "1.0", "1.1"), None);
        assert_eq!(compare("Debian:11", "1.0", "1.1"), None);
        assert_eq!(Scheme::for_ecosystem("crates.io"), Some(Scheme::SemVer));
        assert_eq!(Scheme::for_ecosystem("PyPI"), Some(Scheme::Pep440));
        assert_eq!(Scheme::for_ecosystem("pypi"), None, "ecosystem names are case-sensitive");
    }

    #[test]
    fn pep_440_orders_the_canonical_list_of_its_summary_of_suffixes() {
        // PEP 440, "Summary of permitted suffixes and relative ordering".
        assert_ascending(
            Scheme::Pep440,
            &[
                "1.dev0",
                "1.0.dev456",
                "1.0a1",
                "1.0a2.dev456",
                "1.0a12.dev456",
                "1.0a12",
                "1.0b1.dev456",
                "1.0b2",
                "1.0b2.post345.dev456",
                "1.0b2.post345",
                "1.0rc1.dev456",
                "1.0rc1",
                "1.0",
                "1.0+abc.5",
                "1.0+abc.7",
                "1.0+5",
                "1.0.post456.dev34",
                "1.0.post456",
                "1.0.15",
                "1.1.dev1",
            ],
        );
    }

    #[test]
    fn pep_440_dev_pre_final_post_order() {
        assert_ascending(Scheme::Pep440, &["1.0.dev0", "1.0a1", "1.0", "1.0.post1"]);
        // A dev release of a post release sorts before that post release, after the final.
        assert_ascending(Scheme::Pep440, &["1.0", "1.0.post1.dev0", "1.0.post1"]);
        // A post release of a pre-release sorts before the next pre-release.
        assert_ascending(Scheme::Pep440, &["1.0a1", "1.0a1.post1", "1.0a2.dev0", "1.0a2"]);
    }

    #[test]
    fn pep_440_epochs_outrank_releases() {
        assert_ascending(Scheme::Pep440, &["2013.10", "2014.04", "1!1.0", "1!1.1", "2!0.1"]);
        assert_eq!(compare_pep440("0!1.0", "1.0"), Some(Ordering::Equal));
    }

    #[test]
    fn pep_440_trailing_zeros_are_equal() {
        assert_eq!(compare_pep440("1.0", "1.0.0"), Some(Ordering::Equal));
        assert_eq!(compare_pep440("1", "1.0.0.0"), Some(Ordering::Equal));
        assert_eq!(compare_pep440("1.0.1", "1.0.0.1"), Some(Ordering::Greater));
        assert_eq!(compare_pep440("1.10", "1.9"), Some(Ordering::Greater));
    }

    #[test]
    fn pep_440_alternate_spellings_normalize() {
        // PEP 440 "Normalization": each pair is the same version.
        for (spelt, normal) in [
            ("1.0alpha1", "1.0a1"),
            ("1.0.alpha.1", "1.0a1"),
            ("1.0-beta-2", "1.0b2"),
            ("1.0c1", "1.0rc1"),
            ("1.0pre1", "1.0rc1"),
            ("1.0preview1", "1.0rc1"),
            ("1.0a", "1.0a0"),
            ("1.0-1", "1.0.post1"),
            ("1.0post1", "1.0.post1"),
            ("1.0-r1", "1.0.post1"),
            ("1.0rev1", "1.0.post1"),
            ("1.0.post", "1.0.post0"),
            ("1.0-dev2", "1.0.dev2"),
            ("1.0.dev", "1.0.dev0"),
            ("V1.0", "1.0"),
            ("1.0RC1", "1.0rc1"),
            ("1.0+ubuntu-1", "1.0+ubuntu.1"),
            ("1.0+UBUNTU.1", "1.0+ubuntu.1"),
            (" 1.0 ", "1.0"),
        ] {
            assert_eq!(compare_pep440(spelt, normal), Some(Ordering::Equal), "{spelt} normalizes to {normal}");
        }
    }

    #[test]
    fn pep_440_local_labels_compare_segment_by_segment() {
        assert_ascending(Scheme::Pep440, &["1.0", "1.0+abc", "1.0+abc.1", "1.0+abc.2", "1.0+abc.10", "1.0+1"]);
    }

    #[test]
    fn pep_440_refuses_what_is_not_a_version() {
        for text in
            ["", "abc", "1.0-", "1.0+", "1.0+a..b", "1.0.x", "1!", "!1.0", "1.0 junk", "99999999999999999999999"]
        {
            assert_eq!(compare_pep440(text, "1.0"), None, "{text:?} is not PEP 440");
        }
    }
}
