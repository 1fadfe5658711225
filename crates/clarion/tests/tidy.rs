//! House rules checked with a plain `cargo test`: what ARCHITECTURE.md promises, so the next drift fails CI
//! instead of a review.
//!
//! Each rule is a function from source files to the places that break it, run on the workspace; each is
//! also run on a planted violation, so a rule that stopped catching anything would fail too. Test code
//! (`tests/` folders, and everything from a file's `#[cfg(test)]` on) is exempt from the code rules.

use std::path::{Path, PathBuf};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// One Rust source file: its path from the workspace root, its whole text, and its code before tests.
struct Source {
    path: String,
    text: String,
    code: String,
}

impl Source {
    fn new(path: &str, text: &str) -> Source {
        let code = match text.find("#[cfg(test)]") {
            Some(i) => text[..i].to_string(),
            None => text.to_string(),
        };
        let is_test = path.contains("/tests/") || path.contains("/benches/");
        Source { path: path.to_string(), text: text.to_string(), code: if is_test { String::new() } else { code } }
    }

    /// The crate the file belongs to (`crates/<name>/…`).
    fn krate(&self) -> &str {
        self.path.strip_prefix("crates/").and_then(|p| p.split('/').next()).unwrap_or("")
    }

    /// Lines of code (not comments) containing `needle`, as `path:line: text`.
    fn code_lines_with(&self, needle: &str) -> Vec<String> {
        self.code_lines_where(|l| l.contains(needle))
    }

    /// Lines of code (not comments) for which `breaks` holds, as `path:line: text`.
    fn code_lines_where(&self, breaks: impl Fn(&str) -> bool) -> Vec<String> {
        self.code
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim_start().starts_with("//") && breaks(l))
            .map(|(i, l)| format!("{}:{}: {}", self.path, i + 1, l.trim()))
            .collect()
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// Every Rust file under `crates/`.
fn sources() -> Result<Vec<Source>, Box<dyn std::error::Error>> {
    let root = workspace_root();
    let mut files = Vec::new();
    rust_files(&root.join("crates"), &mut files)?;
    assert!(files.len() > 10, "found only {} files", files.len());
    files
        .iter()
        .map(|f| {
            let rel = f.strip_prefix(&root)?.to_string_lossy().replace('\\', "/");
            Ok(Source::new(&rel, &std::fs::read_to_string(f)?))
        })
        .collect()
}

/// Crates that are libraries (everything but the binary and the benchmark harness).
fn is_library(krate: &str) -> bool {
    !matches!(krate, "clarion" | "clarion-bench" | "clarion-fuzz")
}

// --- the rules --------------------------------------------------------------------------------------------

/// Every source file starts with a `//!` line saying what it is for.
fn undocumented(files: &[Source]) -> Vec<String> {
    files.iter().filter(|f| !f.text.starts_with("//!")).map(|f| f.path.clone()).collect()
}

/// Time is read in one place: `clarion-server`'s `clock` module. The benchmark harness measures wall time
/// by design and is exempt.
fn clock_reads(files: &[Source]) -> Vec<String> {
    let reads = ["Utc::now(", "Local::now(", "Instant::now(", "SystemTime::now("];
    files
        .iter()
        .filter(|f| {
            f.path != "crates/clarion-server/src/clock.rs" && !matches!(f.krate(), "clarion-bench" | "clarion-fuzz")
        })
        .flat_map(|f| reads.iter().flat_map(move |r| f.code_lines_with(r)))
        .collect()
}

/// Library crates return typed errors (one `thiserror` enum per crate, or typed structs), never `String`.
fn string_errors(files: &[Source]) -> Vec<String> {
    let string_err = |line: &str| {
        let compact: String = line.split_whitespace().collect::<Vec<_>>().join(" ");
        compact.contains("type Err = String")
            || compact.contains("type Error = String")
            || compact.contains(", String>") && compact.contains("Result<")
    };
    files.iter().filter(|f| is_library(f.krate())).flat_map(|f| f.code_lines_where(string_err)).collect()
}

/// Handlers are called by the router only: no worker, nor the shared state, the outbox or the feedback
/// loop imports a module of `api/`.
fn api_imports(files: &[Source]) -> Vec<String> {
    let below_api = |p: &str| {
        let server = "crates/clarion-server/src/";
        p.starts_with(&format!("{server}workers/"))
            || p.starts_with(&format!("{server}feedback/"))
            || ["state.rs", "memory.rs", "outbox.rs", "intake.rs", "metrics.rs", "clock.rs", "error.rs", "auth.rs"]
                .iter()
                .any(|f| p == format!("{server}{f}"))
    };
    files
        .iter()
        .filter(|f| below_api(&f.path))
        .flat_map(|f| {
            let mut v = f.code_lines_with("crate::api");
            v.extend(f.code_lines_with("super::api"));
            v.extend(f.code_lines_with("super::super::api"));
            v
        })
        .collect()
}

/// SQL lives in `clarion-store`, and only it depends on a database driver.
fn sql_outside_the_store(files: &[Source]) -> Vec<String> {
    let sql = [
        "SELECT ",
        "INSERT INTO",
        "DELETE FROM",
        "CREATE TABLE",
        "ALTER TABLE",
        "UPDATE deliveries",
        "rusqlite",
        "tokio_postgres",
    ];
    files
        .iter()
        .filter(|f| f.krate() != "clarion-store")
        .flat_map(|f| sql.iter().flat_map(move |s| f.code_lines_with(s)))
        .collect()
}

/// The server's shared state hands out no lock: lock fields are private, taken by their own module, and
/// are `parking_lot`'s (no poisoning to recover from by hand).
fn exposed_locks(files: &[Source]) -> Vec<String> {
    files
        .iter()
        .filter(|f| f.krate() == "clarion-server")
        .flat_map(|f| {
            f.code_lines_where(|l| {
                let l = l.trim();
                (l.starts_with("pub ") && (l.contains(": RwLock<") || l.contains(": Mutex<")))
                    || l.contains("std::sync::Mutex")
                    || l.contains("std::sync::RwLock")
                    || l.contains("|e| e.into_inner()")
            })
        })
        .collect()
}

/// The server writes no HTML in Rust: pages are askama templates (`crates/clarion-server/templates/`),
/// which escape every value. A string literal opening a tag is markup by hand.
fn hand_built_html(files: &[Source]) -> Vec<String> {
    files
        .iter()
        .filter(|f| f.krate() == "clarion-server")
        .flat_map(|f| {
            f.code_lines_where(|l| {
                l.match_indices("\"<").any(|(i, _)| {
                    l[i + 2..].chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!')
                })
            })
        })
        .collect()
}

/// The web pages change state only through the modules the API uses too (`pages`, `silences`,
/// `announcements`, `feedback`, the outbox): no module of `web/` writes silences, pages, deliveries or
/// calendars to the store itself (retrying a dead delivery is one store call, as in the API).
fn web_store_writes(files: &[Source]) -> Vec<String> {
    let writes = [".save_silences(", ".update_page(", ".open_pages(", ".enqueue(", ".put_calendar("];
    files
        .iter()
        .filter(|f| f.path.starts_with("crates/clarion-server/src/web/"))
        .flat_map(|f| writes.iter().flat_map(move |w| f.code_lines_with(w)))
        .collect()
}

// --- the rules on the workspace -----------------------------------------------------------------------------

fn assert_none(rule: &str, found: Vec<String>) {
    assert!(found.is_empty(), "{rule}:\n  {}", found.join("\n  "));
}

#[test]
fn every_source_file_starts_with_a_module_doc_line() -> TestResult {
    assert_none("files without a leading //! line", undocumented(&sources()?));
    Ok(())
}

#[test]
fn time_is_read_only_by_the_clock_module() -> TestResult {
    assert_none("clock reads outside clarion-server's clock module", clock_reads(&sources()?));
    Ok(())
}

#[test]
fn library_crates_have_no_string_errors() -> TestResult {
    assert_none("String error types in library crates", string_errors(&sources()?));
    Ok(())
}

#[test]
fn no_worker_or_shared_state_imports_a_handler() -> TestResult {
    assert_none("imports of api/ below the handlers", api_imports(&sources()?));
    Ok(())
}

#[test]
fn sql_is_written_only_in_the_store() -> TestResult {
    assert_none("SQL or database drivers outside clarion-store", sql_outside_the_store(&sources()?));
    let root = workspace_root();
    for entry in std::fs::read_dir(root.join("crates"))? {
        let dir = entry?.path();
        if dir.ends_with("clarion-store") {
            continue;
        }
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml"))?;
        for driver in ["rusqlite", "tokio-postgres", "deadpool-postgres"] {
            assert!(!manifest.contains(driver), "{} depends on {driver}", dir.display());
        }
    }
    Ok(())
}

/// PromQL is parsed only by `clarion lint` (ARCHITECTURE.md, `clarion-lint`): its generated parser stays
/// out of the server's build.
#[test]
fn promql_is_parsed_only_in_lint() -> TestResult {
    for entry in std::fs::read_dir(workspace_root().join("crates"))? {
        let dir = entry?.path();
        if dir.ends_with("clarion-lint") {
            continue;
        }
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml"))?;
        assert!(!manifest.contains("promql-parser"), "{} depends on promql-parser", dir.display());
    }
    Ok(())
}

#[test]
fn the_server_hands_out_no_lock() -> TestResult {
    assert_none("exposed or poisoning locks in clarion-server", exposed_locks(&sources()?));
    Ok(())
}

#[test]
fn the_architecture_code_map_names_every_crate_and_server_room() -> TestResult {
    let root = workspace_root();
    let map = std::fs::read_to_string(root.join("ARCHITECTURE.md"))?;
    for entry in std::fs::read_dir(root.join("crates"))? {
        let name = entry?.file_name().to_string_lossy().to_string();
        assert!(map.contains(&format!("`{name}`")), "ARCHITECTURE.md does not describe crates/{name}");
    }
    for entry in std::fs::read_dir(root.join("crates/clarion-server/src"))? {
        let name = entry?.file_name().to_string_lossy().to_string();
        let module = name.trim_end_matches(".rs");
        if module == "lib" {
            continue;
        }
        let named = map.contains(&format!("`{module}`")) || map.contains(&format!("`{module}/`"));
        assert!(named, "ARCHITECTURE.md does not describe clarion-server's `{module}`");
    }
    Ok(())
}

// --- each rule catches a planted violation ------------------------------------------------------------------

fn planted(path: &str, text: &str) -> Vec<Source> {
    vec![Source::new(path, text)]
}

#[test]
fn markup_lives_in_templates() -> TestResult {
    assert_none("HTML written by hand in clarion-server", hand_built_html(&sources()?));
    Ok(())
}

#[test]
fn web_pages_change_state_through_the_shared_modules() -> TestResult {
    assert_none("store writes in web/", web_store_writes(&sources()?));
    Ok(())
}

#[test]
fn the_rules_catch_planted_violations() {
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("no doc line", undocumented(&planted("crates/clarion-core/src/x.rs", "use std::fmt;\n"))),
        (
            "clock read in core",
            clock_reads(&planted("crates/clarion-core/src/x.rs", "//! x\nfn f() { let _ = chrono::Utc::now(); }\n")),
        ),
        (
            "Instant in a worker",
            clock_reads(&planted(
                "crates/clarion-server/src/workers/x.rs",
                "//! x\nfn f() { let _ = std::time::Instant::now(); }\n",
            )),
        ),
        (
            "String error in a library",
            string_errors(&planted(
                "crates/clarion-channels/src/x.rs",
                "//! x\npub fn f() -> Result<(), String> { Ok(()) }\n",
            )),
        ),
        (
            "FromStr with a String error",
            string_errors(&planted(
                "crates/clarion-core/src/x.rs",
                "//! x\nimpl FromStr for X {\n    type Err = String;\n}\n",
            )),
        ),
        (
            "worker calling a handler",
            api_imports(&planted("crates/clarion-server/src/workers/x.rs", "//! x\nuse crate::api::standard;\n")),
        ),
        (
            "state calling a handler",
            api_imports(&planted(
                "crates/clarion-server/src/state.rs",
                "//! x\nfn f() { crate::api::alerts::list(); }\n",
            )),
        ),
        (
            "SQL in the server",
            sql_outside_the_store(&planted(
                "crates/clarion-server/src/x.rs",
                "//! x\nconst Q: &str = \"SELECT id FROM deliveries\";\n",
            )),
        ),
        (
            "a public lock field",
            exposed_locks(&planted(
                "crates/clarion-server/src/state.rs",
                "//! x\npub struct S {\n    pub alerts: RwLock<u8>,\n}\n",
            )),
        ),
        (
            "HTML by hand",
            hand_built_html(&planted(
                "crates/clarion-server/src/web/x.rs",
                "//! x\nfn f() -> String { format!(\"<p>{}</p>\", 1) }\n",
            )),
        ),
        (
            "a page writing to the store",
            web_store_writes(&planted(
                "crates/clarion-server/src/web/x.rs",
                "//! x\nasync fn f(s: &S) { s.store().save_silences(&rows).await; }\n",
            )),
        ),
        (
            "a hand-written poison recovery",
            exposed_locks(&planted(
                "crates/clarion-server/src/x.rs",
                "//! x\nfn f(m: &M) { m.lock().unwrap_or_else(|e| e.into_inner()); }\n",
            )),
        ),
    ];
    for (what, found) in &cases {
        assert_eq!(found.len(), 1, "the rule missed a planted violation ({what}): {found:?}");
    }
    // And test code is exempt.
    let in_tests =
        planted("crates/clarion-core/src/x.rs", "//! x\n#[cfg(test)]\nmod t { fn f() { chrono::Utc::now(); } }\n");
    assert!(clock_reads(&in_tests).is_empty());
    assert!(
        clock_reads(&planted("crates/clarion/tests/x.rs", "//! x\nfn f() { std::time::Instant::now(); }\n")).is_empty()
    );
}
