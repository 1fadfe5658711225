//! `clarion migrate alertmanager` on real configuration files (`tests/fixtures/alertmanager/configs/`:
//! Alertmanager's documented example, its own test configuration, its route-labels example, and a route
//! tree written for this test): the output passes `clarion check-config`, every setting not carried over
//! is on stderr with its line, and — the differential — for many generated label sets `clarion routes
//! test` on the converted file names the same receivers, in the same order, as `amtool config routes
//! test` (Alertmanager 0.25) on the original, for every file amtool accepts.

mod util;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use util::TestResult;

fn configs() -> TestResult<Vec<PathBuf>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/alertmanager/configs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    files.sort();
    Ok(files)
}

fn clarion(args: &[&str]) -> TestResult<std::process::Output> {
    Ok(Command::new(env!("CARGO_BIN_EXE_clarion")).args(args).env_remove("CLARION_CONFIG").output()?)
}

/// Converts `file` into `dir/clarion.yml`; returns its path and the stderr notes.
fn migrate(file: &Path, dir: &Path) -> TestResult<(PathBuf, String)> {
    let path = file.to_str().ok_or("path is not UTF-8")?;
    let out = clarion(&["migrate", "alertmanager", path])?;
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    if !out.status.success() {
        return Err(format!("migrate {path}: {}\n{stderr}", out.status).into());
    }
    let converted = dir.join("clarion.yml");
    std::fs::write(&converted, &out.stdout)?;
    Ok((converted, stderr))
}

#[test]
fn every_file_converts_to_a_configuration_check_config_accepts_with_each_dropped_setting_on_stderr() -> TestResult {
    let dir = tempfile::tempdir()?;
    for file in configs()? {
        let (converted, notes) = migrate(&file, dir.path())?;
        let checked = clarion(&["check-config", converted.to_str().ok_or("path")?])?;
        assert!(checked.status.success(), "{}: {}", file.display(), String::from_utf8_lossy(&checked.stderr));
        let name = file.file_name().and_then(|n| n.to_str()).ok_or("name")?;
        let text = std::fs::read_to_string(&file)?;
        // Each note names the file and a line that holds the key it speaks of.
        for line in notes.lines().filter(|l| !l.contains(": converted;")) {
            let rest = line.strip_prefix(&format!("{}:", file.display())).ok_or(format!("{name}: {line}"))?;
            let (number, rest) = rest.split_once(": ").ok_or(format!("{name}: {line}"))?;
            let number: usize = number.parse()?;
            let last = rest.split(':').next().and_then(|p| p.rsplit('.').next()).ok_or("no path")?;
            let source = text.lines().nth(number - 1).ok_or(format!("{name}: no line {number}"))?;
            if last.ends_with(']') {
                // A note about a whole config item points at the item's first line.
                assert!(source.trim_start().starts_with('-'), "{name}:{number} ({source:?}) is no list item: {line}");
            } else {
                let key = last.split('[').next().unwrap_or(last);
                assert!(source.contains(key), "{name}:{number} ({source:?}) does not hold {key}: {line}");
            }
        }
        for secret in ["mysecret", "multiline"] {
            assert!(!notes.contains(secret), "{name}: a note quotes a secret: {notes}");
        }
        let expected_notes = match name {
            "conf.good.yml" => 8,
            "route_labels.yml" => 5,
            "simple.yml" => 5,
            "simple-0.25.yml" => 4,
            "tree.yml" => 1,
            other => return Err(format!("no expected note count for {other}").into()),
        };
        assert!(notes.contains(&format!("; {expected_notes} setting(s) not carried over")), "{name}: {notes}");
    }
    Ok(())
}

/// Names and values the file's matchers mention (a regex's alternatives, anchors stripped), from the
/// converted configuration's route tree.
fn vocabulary(converted: &Path) -> TestResult<BTreeMap<String, Vec<String>>> {
    let config = clarion_config::Config::load(converted)?;
    let mut words: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for route in config.route.walk() {
        for m in &route.matchers.0 {
            let values = words.entry(m.name().to_string()).or_default();
            let value = m.value().trim_start_matches('^').trim_end_matches('$');
            let value = value.trim_start_matches('(').trim_end_matches(')');
            for v in value.split('|') {
                let v = v.replace(".*", "x");
                if !values.contains(&v) {
                    values.push(v);
                }
            }
        }
    }
    for values in words.values_mut() {
        values.push("other".into());
    }
    words.entry("alertname".into()).or_default().extend(["DiskFull".to_string(), "Watchdog".to_string()]);
    Ok(words)
}

/// A small deterministic generator, so a failure names a label set that reproduces.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

#[test]
fn the_converted_tree_routes_every_label_set_to_the_receivers_amtool_names_on_the_original() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (mut compared, mut several) = (0, 0);
    for file in configs()? {
        let original = file.to_str().ok_or("path")?;
        let check = Command::new("amtool").args(["check-config", original]).output().map_err(|e| {
            format!("cannot run amtool ({e}); install Debian's prometheus-alertmanager (scripts/test does)")
        })?;
        if !check.status.success() {
            // Newer than 0.25 (`tracing:`, route `labels:`): amtool 0.25 cannot be the reference.
            continue;
        }
        let (converted, _) = migrate(&file, dir.path())?;
        let words = vocabulary(&converted)?;
        let names: Vec<&String> = words.keys().collect();
        let mut rng = Lcg(0x5eed ^ original.len() as u64);
        for _ in 0..40 {
            let mut labels = BTreeMap::new();
            for name in &names {
                if rng.below(3) > 0 {
                    let values = &words[*name];
                    labels.insert((*name).clone(), values[rng.below(values.len())].clone());
                }
            }
            let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let mut amtool = Command::new("amtool");
            amtool.args(["config", "routes", "test", &format!("--config.file={original}")]).args(&pairs);
            let expected = String::from_utf8_lossy(&amtool.output()?.stdout).trim().to_string();
            let quoted: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
            let out = clarion(&[
                "routes",
                "test",
                "--config",
                converted.to_str().ok_or("path")?,
                "--labels",
                &quoted.join(","),
            ])?;
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let got: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| !l.starts_with(' ') && !l.is_empty())
                .map(str::to_string)
                .collect();
            assert_eq!(got.join(","), expected, "{}: {pairs:?}", file.display());
            compared += 1;
            several += usize::from(got.len() > 1);
        }
    }
    println!("{compared} label sets routed alike by amtool and clarion ({several} reached several receivers)");
    assert!(compared >= 80, "only {compared} label sets compared: amtool accepted too few files");
    assert!(several >= 5, "only {several} label sets went through a `continue`: the generator misses the trees' shape");
    Ok(())
}
