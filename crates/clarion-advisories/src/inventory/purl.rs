//! Package URLs (<https://github.com/package-url/purl-spec>), as SBOMs name packages, into OSV's
//! ecosystem, name and version — the one mapping from purl types to OSV ecosystems.
//!
//! **A purl is `pkg:type/namespace/name@version?qualifiers#subpath`, each part percent-decoded;
//! qualifiers and subpath are ignored.** Types with an OSV ecosystem map to it (`cargo` → `crates.io`,
//! `golang` → `Go`, `deb` in namespace `debian` → `Debian`, …); any other type is kept as the ecosystem,
//! so new ones are read, not refused. Names are written as OSV writes them: `@scope/name` (npm),
//! `module/path` (Go), `group:artifact` (Maven), PEP 503 (PyPI); Go versions lose their `v`.

use percent_encoding::percent_decode_str;

use super::python;

/// A package URL's parts, percent-decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Purl {
    /// The type, lowercase: `cargo`, `npm`, `pypi`, …
    pub(super) kind: String,
    /// The namespace's segments joined by `/` (`@scope`, `github.com/gorilla`, `org.apache.logging.log4j`).
    pub(super) namespace: Option<String>,
    pub(super) name: String,
    pub(super) version: Option<String>,
}

/// Why a text is not a package URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(super) struct PurlError(String);

impl From<PurlError> for String {
    fn from(e: PurlError) -> String {
        e.0
    }
}

fn decode(part: &str) -> Result<String, PurlError> {
    percent_decode_str(part)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| PurlError(format!("`{part}` is not percent-encoded UTF-8")))
}

impl Purl {
    /// Parses `text` as the purl specification's "how to parse" says, tolerating an unencoded `@` in an npm
    /// scope (`pkg:npm/@types/node@20.1.0`).
    pub(super) fn parse(text: &str) -> Result<Purl, PurlError> {
        let text = text.trim();
        let rest = match text.get(..4) {
            Some(scheme) if scheme.eq_ignore_ascii_case("pkg:") => &text[4..],
            _ => return Err(PurlError("not a package URL: it does not start with `pkg:`".to_string())),
        };
        let rest = rest.trim_start_matches('/');
        let rest = rest.rsplit_once('#').map_or(rest, |(before, _subpath)| before);
        let rest = rest.rsplit_once('?').map_or(rest, |(before, _qualifiers)| before);
        let Some((kind, rest)) = rest.split_once('/') else {
            return Err(PurlError("not a package URL: no `/` after the type".to_string()));
        };
        if kind.is_empty() || !kind.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-')) {
            return Err(PurlError(format!("not a package URL: `{kind}` is not a package type")));
        }
        let rest = rest.trim_end_matches('/');
        let (rest, version) = match rest.rsplit_once('@') {
            Some((before, version)) if !version.contains('/') => (before, Some(decode(version)?)),
            _ => (rest, None),
        };
        let (namespace, name) = match rest.rsplit_once('/') {
            Some((namespace, name)) => {
                let segments: Vec<String> =
                    namespace.split('/').filter(|s| !s.is_empty()).map(decode).collect::<Result<_, _>>()?;
                ((!segments.is_empty()).then(|| segments.join("/")), name)
            }
            None => (None, rest),
        };
        let name = decode(name)?;
        if name.trim().is_empty() {
            return Err(PurlError("not a package URL: no package name".to_string()));
        }
        Ok(Purl { kind: kind.to_ascii_lowercase(), namespace, name, version: version.filter(|v| !v.trim().is_empty()) })
    }

    /// OSV's name for this purl's ecosystem, or the purl type when OSV has none.
    pub(super) fn ecosystem(&self) -> String {
        let namespace = self.namespace.as_deref().unwrap_or_default().to_ascii_lowercase();
        let known = match (self.kind.as_str(), namespace.as_str()) {
            ("cargo", _) => "crates.io",
            ("npm", _) => "npm",
            ("pypi", _) => "PyPI",
            ("golang", _) => "Go",
            ("maven", _) => "Maven",
            ("nuget", _) => "NuGet",
            ("gem", _) => "RubyGems",
            ("composer", _) => "Packagist",
            ("hex", _) => "Hex",
            ("pub", _) => "Pub",
            ("swift", _) => "SwiftURL",
            ("hackage", _) => "Hackage",
            ("cran", _) => "CRAN",
            ("conan", _) => "ConanCenter",
            ("bitnami", _) => "Bitnami",
            ("deb", "debian") => "Debian",
            ("deb", "ubuntu") => "Ubuntu",
            ("apk", "alpine") => "Alpine",
            ("apk", "wolfi") => "Wolfi",
            ("rpm", "redhat") => "Red Hat",
            ("rpm", "almalinux") => "AlmaLinux",
            ("rpm", "rocky-linux") => "Rocky Linux",
            ("rpm", "opensuse") => "openSUSE",
            ("rpm", "suse") => "SUSE",
            (kind, _) => kind,
        };
        known.to_string()
    }

    /// The package's name as OSV writes it in this ecosystem.
    pub(super) fn osv_name(&self) -> String {
        match (self.kind.as_str(), &self.namespace) {
            ("pypi", _) => python::normalize(&self.name),
            ("maven", Some(group)) => format!("{group}:{}", self.name),
            // Distributions' namespaces name the distribution, not part of the package.
            ("deb" | "apk" | "rpm" | "alpm", _) => self.name.clone(),
            (_, Some(namespace)) => format!("{namespace}/{}", self.name),
            (_, None) => self.name.clone(),
        }
    }

    /// The version as OSV writes it in this ecosystem (Go's without its `v`): the purl's, else
    /// `fallback` (the SBOM entry's own version field); `None` when neither is given.
    pub(super) fn osv_version(&self, fallback: Option<&str>) -> Option<String> {
        let version = self.version.as_deref().or(fallback.filter(|v| !v.trim().is_empty()))?;
        match self.kind.as_str() {
            "golang" => Some(version.strip_prefix('v').unwrap_or(version).to_string()),
            _ => Some(version.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_package_urls_to_osv_ecosystems_names_and_versions() {
        let cases = [
            ("pkg:cargo/serde@1.0.203", ("crates.io", "serde", Some("1.0.203"))),
            ("pkg:npm/%40angular/core@17.0.1", ("npm", "@angular/core", Some("17.0.1"))),
            ("pkg:npm/@angular/core@17.0.1", ("npm", "@angular/core", Some("17.0.1"))),
            ("pkg:npm/@angular/core", ("npm", "@angular/core", None)),
            ("pkg:pypi/Zope.Interface@6.4", ("PyPI", "zope-interface", Some("6.4"))),
            ("pkg:golang/github.com/gorilla/mux@v1.8.0", ("Go", "github.com/gorilla/mux", Some("1.8.0"))),
            (
                "pkg:golang/golang.org/x/net@v0.0.0-20220722155237-a158d28d115b#html",
                ("Go", "golang.org/x/net", Some("0.0.0-20220722155237-a158d28d115b")),
            ),
            (
                "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1?type=jar",
                ("Maven", "org.apache.logging.log4j:log4j-core", Some("2.14.1")),
            ),
            ("pkg:nuget/Newtonsoft.Json@13.0.1", ("NuGet", "Newtonsoft.Json", Some("13.0.1"))),
            ("pkg:gem/rails@7.1.0", ("RubyGems", "rails", Some("7.1.0"))),
            ("pkg:composer/laravel/framework@10.0.0", ("Packagist", "laravel/framework", Some("10.0.0"))),
            ("pkg:deb/debian/curl@7.88.1-10%2Bdeb12u5?distro=debian-12", ("Debian", "curl", Some("7.88.1-10+deb12u5"))),
            ("pkg:deb/ubuntu/curl@8.5.0", ("Ubuntu", "curl", Some("8.5.0"))),
            ("pkg:apk/alpine/musl@1.2.4-r2", ("Alpine", "musl", Some("1.2.4-r2"))),
            ("pkg:rpm/fedora/curl@8.2.1", ("rpm", "curl", Some("8.2.1"))),
            ("PKG:Cargo/rand@0.8.5", ("crates.io", "rand", Some("0.8.5"))),
            ("pkg://cargo/rand@", ("crates.io", "rand", None)),
            ("pkg:github/actions/checkout@v4", ("github", "actions/checkout", Some("v4"))),
            ("pkg:conda/numpy@1.26.0", ("conda", "numpy", Some("1.26.0"))),
        ];
        for (text, (ecosystem, name, version)) in cases {
            let purl = Purl::parse(text).map_err(|e| format!("{text}: {e}"));
            let got = purl.map(|p| (p.ecosystem(), p.osv_name(), p.osv_version(None)));
            let expected = (ecosystem.to_string(), name.to_string(), version.map(str::to_string));
            assert_eq!(got, Ok(expected), "{text}");
        }
    }

    #[test]
    fn a_purl_without_a_version_takes_the_entrys_own() {
        let purl = Purl::parse("pkg:golang/github.com/a/b").map_err(|e| e.to_string());
        assert_eq!(purl.map(|p| p.osv_version(Some("v1.2.3"))), Ok(Some("1.2.3".to_string())));
    }

    #[test]
    fn refuses_what_is_not_a_package_url() {
        for text in
            ["", "npm/a@1", "pkg:", "pkg:npm", "pkg:/a@1", "pkg:npm/", "pkg:np m/a@1", "pkg:npm/%FF@1", "pkg:ñ/a"]
        {
            assert!(Purl::parse(text).is_err(), "{text:?}");
        }
    }
}
