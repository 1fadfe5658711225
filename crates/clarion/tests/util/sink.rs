//! A real HTTP/1.1 server on 127.0.0.1 standing in for webhook and Slack receivers: it records every
//! request and answers as the test tells it (a status, a status with `Retry-After`, or no answer at all).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{eventually, TestResult};

/// How the sink answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    /// A status with a `Retry-After` header.
    RetryAfter(u16, String),
    /// Read the request, then say nothing for this long and close the connection.
    Hang(Duration),
    /// A redirect status with a `Location` header.
    Redirect(u16, String),
}

/// One request the sink received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub at: Instant,
    /// The status the sink answered (0 when it hung).
    pub answered: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> TestResult<serde_json::Value> {
        Ok(serde_json::from_str(&self.body)?)
    }
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    /// Scripted replies per path.
    script: Mutex<Vec<(String, VecDeque<Reply>)>>,
    default: Mutex<Option<Reply>>,
    stop: AtomicBool,
}

pub struct Sink {
    pub port: u16,
    pub url: String,
    shared: Arc<Shared>,
}

impl Sink {
    /// A sink on a free port, answering 200 unless told otherwise.
    pub fn start() -> TestResult<Sink> {
        Sink::start_on(0)
    }

    /// A sink on `port` (0 for any free one).
    pub fn start_on(port: u16) -> TestResult<Sink> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared::default());
        let accept_shared = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accept_shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let shared = accept_shared.clone();
                std::thread::spawn(move || serve_connection(stream, &shared));
            }
        });
        Ok(Sink { port, url: format!("http://127.0.0.1:{port}"), shared })
    }

    /// Answers the next request to `path` with `reply` (replies queue up in order).
    pub fn then(&self, path: &str, reply: Reply) {
        if let Ok(mut script) = self.shared.script.lock() {
            match script.iter_mut().find(|(p, _)| p == path) {
                Some((_, queue)) => queue.push_back(reply),
                None => script.push((path.to_string(), VecDeque::from([reply]))),
            }
        }
    }

    /// Answers every request not scripted with `then` with `reply` (default: 200).
    pub fn always(&self, reply: Reply) {
        self.shared.default.lock().map(|mut d| *d = Some(reply)).unwrap_or(());
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Requests to `path` so far.
    pub fn received_on(&self, path: &str) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.path == path).collect()
    }

    /// Waits until at least `n` requests reached `path`.
    pub fn wait_for(&self, path: &str, n: usize, timeout: Duration) -> TestResult<Vec<Received>> {
        eventually(timeout, &format!("{n} requests on {path}"), || {
            let got = self.received_on(path);
            Ok((got.len() >= n).then_some(got))
        })
        .map_err(|e| {
            format!("{e}; received {:?}", self.received().iter().map(|r| (&r.path, r.answered)).collect::<Vec<_>>())
                .into()
        })
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve_connection(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(mut writer) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        match reader.read_line(&mut request_line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut parts = request_line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let length =
            headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse::<usize>().ok()).unwrap_or(0);
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let reply = shared
            .script
            .lock()
            .ok()
            .and_then(|mut s| s.iter_mut().find(|(p, _)| *p == path).and_then(|(_, q)| q.pop_front()))
            .or_else(|| shared.default.lock().ok().and_then(|d| d.clone()))
            .unwrap_or(Reply::Status(200));
        let answered = match &reply {
            Reply::Status(c) | Reply::RetryAfter(c, _) | Reply::Redirect(c, _) => *c,
            Reply::Hang(_) => 0,
        };
        let received = Received {
            method,
            path,
            headers,
            body: String::from_utf8_lossy(&body).to_string(),
            at: Instant::now(),
            answered,
        };
        shared.received.lock().map(|mut r| r.push(received)).unwrap_or(());
        let response = match reply {
            Reply::Status(code) => format!("HTTP/1.1 {code} Sink\r\nContent-Length: 0\r\n\r\n"),
            Reply::RetryAfter(code, after) => {
                format!("HTTP/1.1 {code} Sink\r\nRetry-After: {after}\r\nContent-Length: 0\r\n\r\n")
            }
            Reply::Redirect(code, location) => {
                format!("HTTP/1.1 {code} Sink\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n")
            }
            Reply::Hang(d) => {
                std::thread::sleep(d);
                return;
            }
        };
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}
