//! Helpers for end-to-end tests: run the built `clarion` binary in a temporary directory on a free port,
//! talk to it over HTTP, run external tools (amtool, Prometheus) against it.
#![allow(dead_code)] // Each test file uses a different subset.

pub mod sink;
pub mod smtp;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// A free TCP port on 127.0.0.1 (bound, then released for the child to take).
pub fn free_port() -> TestResult<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A running `clarion serve` child process with its own data directory.
pub struct Server {
    child: Option<Child>,
    pub dir: PathBuf,
    pub port: u16,
    pub url: String,
    extra_args: Vec<String>,
    env: Vec<(String, String)>,
    /// Ready once the port accepts connections (for a TLS listener, which plain HTTP cannot ask).
    ready_on_connect: bool,
    _tmp: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts a server in a fresh temporary directory; `config` (YAML) is written to `clarion.yml` and
    /// passed with `--config` when given, otherwise the built-in example runs.
    pub fn start(config: Option<&str>) -> TestResult<Server> {
        Server::builder(config)?.spawn()
    }

    /// A server that has not started yet, to add arguments or environment first.
    pub fn builder(config: Option<&str>) -> TestResult<Server> {
        let tmp = tempfile::tempdir()?;
        let dir = tmp.path().to_path_buf();
        let mut extra_args = Vec::new();
        if let Some(yaml) = config {
            std::fs::write(dir.join("clarion.yml"), yaml)?;
            extra_args.push("--config".into());
            extra_args.push(dir.join("clarion.yml").display().to_string());
        }
        let port = free_port()?;
        Ok(Server {
            child: None,
            dir,
            port,
            url: format!("http://127.0.0.1:{port}"),
            extra_args,
            env: Vec::new(),
            ready_on_connect: false,
            _tmp: Some(tmp),
        })
    }

    pub fn arg(mut self, a: &str) -> Server {
        self.extra_args.push(a.to_string());
        self
    }

    /// Treats the server as ready once its port accepts connections.
    pub fn ready_on_connect(mut self) -> Server {
        self.ready_on_connect = true;
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Server {
        self.env.push((k.to_string(), v.to_string()));
        self
    }

    /// Starts the process and waits until `/-/ready` answers 200.
    pub fn spawn(mut self) -> TestResult<Server> {
        // The port was free when picked and released for the child; another process can take it in
        // between. A child that could not bind it is started again on another port.
        for _ in 0..3 {
            match self.launch() {
                Err(e) if e.to_string().contains("in use") => {
                    self.port = free_port()?;
                    self.url = format!("http://127.0.0.1:{}", self.port);
                }
                other => return other.map(|()| self),
            }
        }
        self.launch()?;
        Ok(self)
    }

    fn launch(&mut self) -> TestResult {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path())?;
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_clarion"));
        cmd.arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--data-dir")
            .arg(self.dir.join("data"))
            .args(&self.extra_args)
            .current_dir(&self.dir)
            .env_remove("CLARION_CONFIG")
            .env_remove("CLARION_DATABASE_URL")
            .env("CLARION_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn()?);
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> TestResult {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    return Err(format!("clarion exited with {status} before becoming ready:\n{}", self.log()).into());
                }
            }
            if self.ready_on_connect {
                if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                    return Ok(());
                }
            } else if let Ok(resp) = blocking_get(&format!("{}/-/ready", self.url)) {
                if resp.0 == 200 {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(format!("clarion did not become ready in 20 s:\n{}", self.log()).into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("clarion.log")
    }

    /// Everything the server printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Kills the process with SIGKILL (no chance to flush or clean up) and waits for it to die.
    pub fn kill9(&mut self) -> TestResult {
        if let Some(mut child) = self.child.take() {
            child.kill()?; // SIGKILL on Unix
            child.wait()?;
        }
        Ok(())
    }

    /// Starts the process again on the same data directory and port.
    pub fn restart(&mut self) -> TestResult {
        self.kill9()?;
        self.launch()
    }

    /// Sends a signal by name (`HUP`, `TERM`) to the running process.
    pub fn signal(&self, name: &str) -> TestResult {
        let pid = self.child.as_ref().ok_or("not running")?.id();
        let status = Command::new("kill").arg(format!("-{name}")).arg(pid.to_string()).status()?;
        if !status.success() {
            return Err(format!("kill -{name} {pid} failed").into());
        }
        Ok(())
    }

    /// Waits for the process to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> TestResult<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut().ok_or("not running")?;
        loop {
            if let Some(status) = child.try_wait()? {
                self.child = None;
                return Ok(status);
            }
            if Instant::now() > deadline {
                return Err("the server did not exit in time".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A minimal blocking HTTP/1.1 request over a TCP stream, for readiness checks from synchronous code.
/// Returns the status code and the body.
pub fn blocking_request(
    method: &str,
    url: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> TestResult<(u16, String)> {
    blocking_request_full(method, url, body, headers).map(|r| (r.status, r.body))
}

/// An HTTP answer with its headers, from [`blocking_request_full`].
#[derive(Debug, Clone)]
pub struct FullResponse {
    pub status: u16,
    /// In the order received, names in lower case; a header sent twice (`set-cookie`) appears twice.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl FullResponse {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` (lower case).
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// [`blocking_request`] with the answer's headers.
pub fn blocking_request_full(
    method: &str,
    url: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> TestResult<FullResponse> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut stream = std::net::TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = body.unwrap_or("");
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    let mut resp = Vec::new();
    stream.read_to_end(&mut resp)?;
    let text = String::from_utf8_lossy(&resp).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next().and_then(|l| l.split_whitespace().nth(1)).ok_or("no status line")?.parse()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers.iter().any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked { dechunk(body) } else { body.to_string() };
    Ok(FullResponse { status, headers, body })
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { break };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// `GET path` on `server`, expecting 200 and JSON.
pub fn get_json(server: &Server, path: &str) -> TestResult<serde_json::Value> {
    let (status, body) = blocking_request("GET", &format!("{}{path}", server.url), None, &[])?;
    if status != 200 {
        return Err(format!("GET {path}: {status} {body}").into());
    }
    Ok(serde_json::from_str(&body)?)
}

/// `POST path` of `body` on `server`, expecting 200; the answer's JSON (`null` for an empty one).
pub fn post_json(server: &Server, path: &str, body: &serde_json::Value) -> TestResult<serde_json::Value> {
    let (status, text) = blocking_request("POST", &format!("{}{path}", server.url), Some(&body.to_string()), &[])?;
    if status != 200 {
        return Err(format!("POST {path}: {status} {text}").into());
    }
    Ok(if text.is_empty() { serde_json::Value::Null } else { serde_json::from_str(&text)? })
}

pub fn blocking_get(url: &str) -> TestResult<(u16, String)> {
    blocking_request("GET", url, None, &[])
}

/// Runs `amtool` against `url` with the given arguments. Fails clearly if amtool is not installed.
pub fn amtool(url: &str, args: &[&str]) -> TestResult<Output> {
    let out = Command::new("amtool").arg(format!("--alertmanager.url={url}")).args(args).output().map_err(|e| {
        format!("cannot run amtool ({e}); install Debian's prometheus-alertmanager (scripts/test does)")
    })?;
    Ok(out)
}

/// Runs amtool and returns its standard output, failing with both streams if it exits non-zero.
pub fn amtool_ok(url: &str, args: &[&str]) -> TestResult<String> {
    let out = amtool(url, args)?;
    if !out.status.success() {
        return Err(format!(
            "amtool {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).to_string())
}

/// Polls `check` every 50 ms until it returns `Some`, or fails after `timeout` with `what`.
pub fn eventually<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> TestResult<Option<T>>) -> TestResult<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check()? {
            return Ok(v);
        }
        if Instant::now() > deadline {
            return Err(format!("timed out after {timeout:?} waiting for {what}").into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A fresh PostgreSQL schema (from `CLARION_TEST_POSTGRES_URL`), dropped when the test ends.
pub struct PgSchema {
    base: String,
    pub name: String,
}

impl PgSchema {
    pub fn create(prefix: &str) -> TestResult<PgSchema> {
        let base = std::env::var("CLARION_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        let out = Command::new("psql").args([base.as_str(), "-q", "-c", &format!("CREATE SCHEMA {name}")]).output()?;
        if !out.status.success() {
            return Err(format!("psql: {}", String::from_utf8_lossy(&out.stderr)).into());
        }
        Ok(PgSchema { base, name })
    }

    /// The URL that selects this schema.
    pub fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-csearch_path%3D{}", self.base, self.name)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([self.base.as_str(), "-q", "-c", &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name)])
            .output();
    }
}

/// A real Alertmanager (Debian's `prometheus-alertmanager`) in a temporary directory, with gossip disabled,
/// for side-by-side comparisons with Clarion. Killed when dropped.
pub struct Alertmanager {
    child: Child,
    pub port: u16,
    pub url: String,
    dir: tempfile::TempDir,
}

impl Alertmanager {
    /// Writes `config` (Alertmanager's YAML) to `alertmanager.yml`, starts the server on a free port and waits
    /// until `/-/ready` answers 200.
    pub fn start(config: &str) -> TestResult<Alertmanager> {
        let dir = tempfile::tempdir()?;
        let config_path = dir.path().join("alertmanager.yml");
        std::fs::write(&config_path, config)?;
        let log = std::fs::File::create(dir.path().join("alertmanager.log"))?;
        let port = free_port()?;
        let child = Command::new("prometheus-alertmanager")
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=") // empty: no gossip, no cluster port
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| {
                format!("cannot run prometheus-alertmanager ({e}); install Debian's prometheus-alertmanager")
            })?;
        let mut am = Alertmanager { child, port, url: format!("http://127.0.0.1:{port}"), dir };
        am.wait_ready()?;
        Ok(am)
    }

    fn wait_ready(&mut self) -> TestResult {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(format!("alertmanager exited with {status} before becoming ready:\n{}", self.log()).into());
            }
            if blocking_get(&format!("{}/-/ready", self.url)).is_ok_and(|(status, _)| status == 200) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("alertmanager did not become ready in 20 s:\n{}", self.log()).into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything Alertmanager printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("alertmanager.log")).unwrap_or_default()
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
