//! The results: printed as a table with the Clarion/Alertmanager ratio, and written as JSON so runs can
//! be compared across commits.

use serde::Serialize;

/// Whether a larger value is better (throughput) or worse (latency, memory, CPU).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Higher,
    Lower,
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub scenario: String,
    pub metric: String,
    pub unit: String,
    pub clarion: Option<f64>,
    pub alertmanager: Option<f64>,
    /// clarion / alertmanager.
    pub ratio: Option<f64>,
    pub better: Better,
    /// The target, stated as text (e.g. ">= 2x").
    pub target: String,
    pub note: String,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub machine: Machine,
    pub rows: Vec<Row>,
}

#[derive(Debug, Default, Serialize)]
pub struct Machine {
    pub date: String,
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub git_commit: String,
    pub scale_down: u64,
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

impl Machine {
    pub fn describe(scale_down: u64) -> Machine {
        let cpuinfo = read("/proc/cpuinfo");
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            .unwrap_or_default();
        let memory_kib: f64 = read("/proc/meminfo")
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0);
        let git_commit = std::process::Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        Machine {
            date: chrono::Utc::now().to_rfc3339(),
            cpu,
            cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            memory_gib: (memory_kib / 1024.0 / 1024.0 * 10.0).round() / 10.0,
            git_commit,
            scale_down,
        }
    }
}

impl Report {
    #[allow(clippy::too_many_arguments)] // One call site per metric; naming each argument there reads best.
    pub fn add(
        &mut self,
        scenario: &str,
        metric: &str,
        unit: &str,
        clarion: Option<f64>,
        alertmanager: Option<f64>,
        better: Better,
        target: &str,
        note: &str,
    ) {
        let ratio = match (clarion, alertmanager) {
            (Some(c), Some(a)) if a != 0.0 && c.is_finite() && a.is_finite() => Some(c / a),
            _ => None,
        };
        let row = Row {
            scenario: scenario.into(),
            metric: metric.into(),
            unit: unit.into(),
            clarion,
            alertmanager,
            ratio,
            better,
            target: target.into(),
            note: note.into(),
        };
        println!("{}", format_row(&row));
        self.rows.push(row);
    }

    pub fn print(&self) {
        println!(
            "\n{:<44} {:<22} {:>12} {:>12} {:>8}  {:<10} note",
            "scenario", "metric", "clarion", "alertmgr", "ratio", "target"
        );
        for row in &self.rows {
            println!("{}", format_row(row));
        }
    }

    pub fn write_json(&self, path: &std::path::Path) -> anyhow::Result<()> {
        std::fs::write(path, serde_json::to_vec_pretty(self)?)?;
        println!("\nresults written to {}", path.display());
        Ok(())
    }
}

fn num(v: Option<f64>) -> String {
    match v {
        Some(x) if x.abs() >= 100.0 => format!("{x:.0}"),
        Some(x) => format!("{x:.2}"),
        None => "n/a".into(),
    }
}

fn format_row(row: &Row) -> String {
    format!(
        "{:<44} {:<22} {:>12} {:>12} {:>8}  {:<10} {}",
        row.scenario,
        format!("{} ({})", row.metric, row.unit),
        num(row.clarion),
        num(row.alertmanager),
        row.ratio.map_or("n/a".into(), |r| format!("{r:.2}x")),
        row.target,
        row.note
    )
}
