//! `clarion-fuzz`: arbitrary input for every parser Clarion exposes to the outside — posted alert JSON,
//! matcher strings, `clarion.yml`, Prometheus rule files — for a counted number of executions.
//!
//! Each execution takes a seed from `corpus/<target>/` and mutates it (bytes, tokens of the target's
//! dictionary, splices of two seeds, YAML-aware value swaps), or generates an input from the target's small
//! grammar, then runs the target's check. Invariant: a run succeeds only if no execution panicked and no
//! property broke (a matcher list prints as text that parses back to the same list; a batch of alerts
//! accounts for each of its elements). Runs are reproducible: the same seed and thread count give the same
//! inputs. Failing inputs are written to `--crashes` with the message, for a seed and a regression test.
//!
//! This is property-based fuzzing on the stable toolchain, without coverage feedback; `scripts/fuzz` runs
//! ten million executions per target and `docs/robustness.md` records the counts.

mod generate;
mod rng;
mod targets;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rng::Rng;
use targets::Target;

/// What one target's run found.
#[derive(Debug)]
pub struct RunResult {
    pub target: Target,
    pub executions: u64,
    pub elapsed: Duration,
    /// Failing inputs with what went wrong, at most [`KEEP_FAILURES`].
    pub failures: Vec<(Vec<u8>, String)>,
    pub failure_count: u64,
    /// Executions whose input the parser accepted.
    pub accepted: u64,
}

const KEEP_FAILURES: usize = 20;

/// Runs `executions` inputs against `target` on `threads` threads.
pub fn run(target: Target, executions: u64, seed: u64, threads: usize, corpus: &Path) -> std::io::Result<RunResult> {
    run_with(target, executions, seed, threads, corpus, &move |input| target.check(input))
}

/// A check of one input: whether the parser accepted it, `Err` when a property broke; a panic is caught
/// by the caller.
type Check<'a> = dyn Fn(&[u8]) -> Result<bool, String> + Sync + std::panic::RefUnwindSafe + 'a;

/// [`run`] with the check given, so a test can plant a failing one.
fn run_with(
    target: Target,
    executions: u64,
    seed: u64,
    threads: usize,
    corpus: &Path,
    check: &Check<'_>,
) -> std::io::Result<RunResult> {
    let seeds = Arc::new(load_seeds(&corpus.join(target.name()))?);
    let failures = Arc::new(Mutex::new(Vec::new()));
    let failure_count = Arc::new(AtomicU64::new(0));
    let accepted = Arc::new(AtomicU64::new(0));
    let threads = threads.max(1) as u64;
    let start = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads {
            let share = executions / threads + u64::from(t < executions % threads);
            let (seeds, failures, failure_count, accepted) =
                (seeds.clone(), failures.clone(), failure_count.clone(), accepted.clone());
            scope.spawn(move || {
                let mut rng = Rng::new(seed ^ (t + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                for _ in 0..share {
                    let input = next_input(target, &seeds, &mut rng);
                    let outcome = std::panic::catch_unwind(|| check(&input));
                    let message = match outcome {
                        Ok(Ok(true)) => {
                            accepted.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                        Ok(Ok(false)) => continue,
                        Ok(Err(broken)) => format!("property broken: {broken}"),
                        Err(panic) => format!("panic: {}", panic_message(&panic)),
                    };
                    failure_count.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut kept) = failures.lock() {
                        if kept.len() < KEEP_FAILURES {
                            kept.push((input, message));
                        }
                    }
                }
            });
        }
    });
    let failures = failures.lock().map(|f| f.clone()).unwrap_or_default();
    Ok(RunResult {
        target,
        executions,
        elapsed: start.elapsed(),
        failures,
        failure_count: failure_count.load(Ordering::Relaxed),
        accepted: accepted.load(Ordering::Relaxed),
    })
}

/// One input: a quarter generated from the grammar, the rest mutated seeds.
fn next_input(target: Target, seeds: &[Vec<u8>], rng: &mut Rng) -> Vec<u8> {
    if seeds.is_empty() || rng.below(4) == 0 {
        return target.generate(rng);
    }
    let seed = &seeds[rng.below(seeds.len())];
    let other = &seeds[rng.below(seeds.len())];
    generate::mutate(seed, other, target.dictionary(), target.is_yaml(), rng)
}

fn load_seeds(dir: &Path) -> std::io::Result<Vec<Vec<u8>>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    paths.sort();
    paths.iter().filter(|p| p.is_file()).map(std::fs::read).collect()
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

struct Args {
    targets: Vec<Target>,
    executions: u64,
    seed: u64,
    threads: usize,
    corpus: PathBuf,
    crashes: PathBuf,
}

const USAGE: &str =
    "usage: clarion-fuzz [--target alerts|matchers|config|rules|calendar|all] [--executions N] [--seed S] \
                     [--threads T] [--corpus DIR] [--crashes DIR]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        targets: Target::ALL.to_vec(),
        executions: 10_000_000,
        seed: 1,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        corpus: Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"),
        crashes: PathBuf::from("target/fuzz-crashes"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"));
        let number =
            |v: String| v.replace('_', "").parse::<u64>().map_err(|_| format!("{flag}: {v:?} is not a number"));
        match flag.as_str() {
            "--target" => {
                let v = value()?;
                args.targets = match v.as_str() {
                    "all" => Target::ALL.to_vec(),
                    name => vec![Target::from_name(name).ok_or_else(|| format!("unknown target {name:?}\n{USAGE}"))?],
                }
            }
            "--executions" => args.executions = number(value()?)?,
            "--seed" => args.seed = number(value()?)?,
            "--threads" => args.threads = number(value()?)? as usize,
            "--corpus" => args.corpus = PathBuf::from(value()?),
            "--crashes" => args.crashes = PathBuf::from(value()?),
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    // Panics are expected findings, reported below; the default hook would print each one.
    std::panic::set_hook(Box::new(|_| {}));
    let mut failed = false;
    for target in &args.targets {
        let result = match run(*target, args.executions, args.seed, args.threads, &args.corpus) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{}: cannot read the corpus under {}: {e}", target.name(), args.corpus.display());
                return ExitCode::from(2);
            }
        };
        let secs = result.elapsed.as_secs_f64();
        println!(
            "{:<9} {:>12} executions in {:>7.1} s ({:>9.0}/s), {:>4.1}% accepted, {} failures, seed {}, {} threads",
            target.name(),
            result.executions,
            secs,
            result.executions as f64 / secs.max(1e-9),
            100.0 * result.accepted as f64 / result.executions.max(1) as f64,
            result.failure_count,
            args.seed,
            args.threads
        );
        if result.failure_count > 0 {
            failed = true;
            let _ = std::fs::create_dir_all(&args.crashes);
            for (i, (input, message)) in result.failures.iter().enumerate() {
                let path = args.crashes.join(format!("{}-{}-{i}", target.name(), args.seed));
                let _ = std::fs::write(&path, input);
                println!("  {message}\n    input: {} ({:?})", path.display(), String::from_utf8_lossy(input));
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The short, seeded version the test suite runs; `scripts/fuzz` runs the long one.
    #[test]
    fn every_target_survives_a_short_seeded_run() {
        let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
        for target in Target::ALL {
            let result = run(target, 10_000, 7, 2, &corpus).expect("the corpus is readable");
            assert_eq!(result.executions, 10_000);
            assert!(result.accepted > 200, "{}: only {} inputs parsed", target.name(), result.accepted);
            assert!(
                result.failure_count == 0,
                "{}: {} failures, first: {:?}",
                target.name(),
                result.failure_count,
                result.failures.first().map(|(i, m)| (String::from_utf8_lossy(i).to_string(), m))
            );
        }
    }

    #[test]
    fn runs_are_reproducible() {
        let seeds = vec![b"alertname=\"x\"".to_vec(), b"{a=~\"b\"}".to_vec()];
        let inputs = |seed| {
            let mut rng = Rng::new(seed);
            (0..50).map(|_| next_input(Target::Matchers, &seeds, &mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(inputs(3), inputs(3));
        assert_ne!(inputs(3), inputs(4));
    }

    #[test]
    fn panics_and_broken_properties_are_reported_with_their_input() {
        let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
        let planted = |input: &[u8]| -> Result<bool, String> {
            match input.first() {
                Some(b'{') => panic!("planted panic"),
                Some(b'a') => Err("planted property".into()),
                _ => Ok(true),
            }
        };
        let result = run_with(Target::Matchers, 2_000, 7, 2, &corpus, &planted).expect("the corpus is readable");
        assert!(result.failure_count > 0);
        let messages: Vec<&str> = result.failures.iter().map(|(_, m)| m.as_str()).collect();
        assert!(messages.contains(&"panic: planted panic"), "{messages:?}");
        assert!(messages.contains(&"property broken: planted property"), "{messages:?}");
        assert!(result.failures.iter().all(|(input, _)| matches!(input.first(), Some(b'{' | b'a'))));
    }
}
