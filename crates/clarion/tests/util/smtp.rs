//! A real SMTP server on 127.0.0.1 for e-mail channel tests: it speaks the SMTP conversation over TCP
//! (EHLO, MAIL, RCPT, DATA, QUIT), keeps every message, and can be told to refuse messages temporarily
//! (451) or for good (550).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{eventually, TestResult};

/// One message as received: envelope and raw data (headers and body).
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

#[derive(Default)]
struct Shared {
    mails: Mutex<Vec<Mail>>,
    /// Reply codes for the next DATA commands (default 250).
    data_replies: Mutex<Vec<u16>>,
}

pub struct SmtpServer {
    pub port: u16,
    shared: Arc<Shared>,
}

impl SmtpServer {
    pub fn start() -> TestResult<SmtpServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared::default());
        let accept_shared = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = accept_shared.clone();
                std::thread::spawn(move || {
                    let _ = converse(stream, &shared);
                });
            }
        });
        Ok(SmtpServer { port, shared })
    }

    /// The next DATA is answered with `code` (e.g. 451 or 550) instead of 250.
    pub fn then_reply(&self, code: u16) {
        self.shared.data_replies.lock().map(|mut r| r.push(code)).unwrap_or(());
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.shared.mails.lock().map(|m| m.clone()).unwrap_or_default()
    }

    pub fn wait_for(&self, n: usize, timeout: Duration) -> TestResult<Vec<Mail>> {
        eventually(timeout, &format!("{n} e-mails"), || {
            let m = self.mails();
            Ok((m.len() >= n).then_some(m))
        })
    }
}

fn converse(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut out = stream.try_clone()?;
    let mut input = BufReader::new(stream);
    out.write_all(b"220 localhost ESMTP clarion-test\r\n")?;
    let (mut from, mut to) = (String::new(), Vec::new());
    loop {
        let mut line = String::new();
        if input.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_string();
        let upper = command.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            out.write_all(b"250-localhost\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")?;
        } else if upper.starts_with("HELO") {
            out.write_all(b"250 localhost\r\n")?;
        } else if upper.starts_with("MAIL FROM:") {
            from = command[10..].trim().trim_matches(['<', '>']).to_string();
            to.clear();
            out.write_all(b"250 OK\r\n")?;
        } else if upper.starts_with("RCPT TO:") {
            to.push(command[8..].trim().trim_matches(['<', '>']).to_string());
            out.write_all(b"250 OK\r\n")?;
        } else if upper == "DATA" {
            out.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if input.read_line(&mut l)? == 0 {
                    return Ok(());
                }
                if l == ".\r\n" || l == ".\n" {
                    break;
                }
                // Undo dot-stuffing.
                data.push_str(l.strip_prefix('.').filter(|_| l.starts_with("..")).unwrap_or(&l));
            }
            let code =
                shared.data_replies.lock().ok().and_then(|mut r| (!r.is_empty()).then(|| r.remove(0))).unwrap_or(250);
            if code == 250 {
                shared
                    .mails
                    .lock()
                    .map(|mut m| m.push(Mail { from: from.clone(), to: to.clone(), data }))
                    .unwrap_or(());
                out.write_all(b"250 OK queued\r\n")?;
            } else {
                out.write_all(format!("{code} refused by the test\r\n").as_bytes())?;
            }
        } else if upper == "RSET" || upper == "NOOP" {
            out.write_all(b"250 OK\r\n")?;
        } else if upper == "QUIT" {
            out.write_all(b"221 Bye\r\n")?;
            return Ok(());
        } else {
            out.write_all(b"502 Command not implemented\r\n")?;
        }
    }
}
