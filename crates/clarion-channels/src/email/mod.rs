//! The e-mail channel: a multipart message (plain text and HTML) with the clarity fields of each alert in
//! the fixed order, sent over SMTP (plain, STARTTLS or implicit TLS). The idempotency key is the
//! `Message-ID`, so a mail system can drop a duplicate.

use std::time::Duration;

use clarion_config::{EmailConfig, SmtpTls};
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::clarity::{self, MAX_LISTED, MISSING};
use crate::http::error_chain;
use crate::message::Notification;
use crate::{Attempt, Outcome};

#[derive(Clone)]
pub struct Email {
    host: String,
    port: u16,
    tls: SmtpTls,
    credentials: Option<(String, String)>,
    from: String,
    to: Vec<String>,
    timeout: Duration,
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Email")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Subject, plain-text body and HTML body of `n`.
pub fn render(n: &Notification, idempotency_key: &str) -> (String, String, String) {
    let mut text = format!("{}\n\n", n.title());
    let mut html = format!("<html><body style=\"font-family:sans-serif\"><h2>{}</h2>\n", html_escape(&n.title()));
    for a in n.alerts.iter().take(MAX_LISTED) {
        let name = a.labels.get("alertname").unwrap_or("alert");
        text.push_str(&format!("== {} [{}] {}\n", name, a.status.as_str(), clarity::label_line(a)));
        html.push_str(&format!(
            "<h3>{} <small>[{}] {}</small></h3>\n<table cellpadding=\"4\">\n",
            html_escape(name),
            a.status.as_str(),
            html_escape(&clarity::label_line(a))
        ));
        for f in clarity::fields(a, &n.receiver) {
            let value = f.value.clone().unwrap_or_else(|| MISSING.to_string());
            text.push_str(&format!("{:<9} {value}\n", format!("{}:", f.label)));
            let cell = match (&f.value, f.is_link) {
                (None, _) => format!("<em>{MISSING}</em>"),
                (Some(v), true) if v.starts_with("http://") || v.starts_with("https://") => {
                    format!("<a href=\"{0}\">{0}</a>", html_escape(v))
                }
                (Some(v), _) => html_escape(v),
            };
            html.push_str(&format!("<tr><th align=\"left\">{}</th><td>{cell}</td></tr>\n", f.label));
        }
        if let Some(c) = clarity::context(a) {
            text.push_str(&format!("Context:  {c}\n"));
            html.push_str(&format!("<tr><th align=\"left\">Context</th><td>{}</td></tr>\n", html_escape(c)));
        }
        if let Some(d) = a.annotations.get("details").filter(|d| !d.trim().is_empty()) {
            text.push_str(&format!("Details:  {d}\n"));
            html.push_str(&format!("<tr><th align=\"left\">Details</th><td>{}</td></tr>\n", html_escape(d)));
        }
        let findings = clarity::finding_lines(a);
        if !findings.is_empty() {
            text.push_str("Falls short of the communication standard:\n");
            html.push_str("<tr><th align=\"left\" valign=\"top\">Standard</th><td><strong>Falls short of the communication standard:</strong><ul>");
            for f in &findings {
                text.push_str(&format!("  - {f}\n"));
                html.push_str(&format!("<li>{}</li>", html_escape(f)));
            }
            html.push_str("</ul></td></tr>\n");
        }
        text.push('\n');
        html.push_str("</table>\n");
    }
    if n.alerts.len() > MAX_LISTED {
        let more = format!("and {} more", n.alerts.len() - MAX_LISTED);
        text.push_str(&format!("{more}\n"));
        html.push_str(&format!("<p><em>{more}</em></p>\n"));
    }
    text.push_str(&format!("-- \nClarion delivery {idempotency_key}, group {}\n", n.group_key));
    html.push_str(&format!(
        "<p style=\"color:#888\">Clarion delivery {} · group {}</p></body></html>\n",
        html_escape(idempotency_key),
        html_escape(&n.group_key)
    ));
    (n.title(), text, html)
}

impl Email {
    /// `password` is the SMTP password already read from `password` or `password_file`.
    pub fn new(config: &EmailConfig, password: Option<String>) -> Result<Email, String> {
        let (host, port) = config.smtp.rsplit_once(':').ok_or_else(|| format!("{:?} is not host:port", config.smtp))?;
        let port = port.parse().map_err(|_| format!("{:?} is not host:port", config.smtp))?;
        for address in std::iter::once(&config.from).chain(&config.to) {
            address.parse::<Mailbox>().map_err(|e| format!("{address:?} is not an e-mail address: {e}"))?;
        }
        Ok(Email {
            host: host.to_string(),
            port,
            tls: config.tls,
            credentials: config.username.clone().map(|u| (u, password.unwrap_or_default())),
            from: config.from.clone(),
            to: config.to.clone(),
            timeout: config.timeout.0,
        })
    }

    fn message(&self, n: &Notification, attempt: &Attempt<'_>) -> Result<Message, String> {
        let (subject, text, html) = render(n, attempt.idempotency_key);
        let mut builder = Message::builder()
            .from(self.from.parse().map_err(|e| format!("from: {e}"))?)
            .subject(subject)
            .message_id(Some(format!("<{}@clarion>", attempt.idempotency_key)));
        for to in &self.to {
            builder = builder.to(to.parse().map_err(|e| format!("to {to:?}: {e}"))?);
        }
        builder
            .multipart(
                MultiPart::alternative()
                    .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(text))
                    .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(html)),
            )
            .map_err(|e| e.to_string())
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
        let builder = match self.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host),
            SmtpTls::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&self.host).map_err(|e| error_chain(&e))?
            }
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&self.host).map_err(|e| error_chain(&e))?,
        };
        let mut builder = builder.port(self.port).timeout(Some(self.timeout));
        if let Some((user, pass)) = &self.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), pass.clone()));
        }
        Ok(builder.build())
    }

    pub async fn send(&self, n: &Notification, attempt: &Attempt<'_>) -> Outcome {
        let message = match self.message(n, attempt) {
            Ok(m) => m,
            Err(e) => return Outcome::Permanent { error: format!("cannot build the e-mail: {e}") },
        };
        let transport = match self.transport() {
            Ok(t) => t,
            Err(e) => return Outcome::Permanent { error: format!("bad SMTP settings: {e}") },
        };
        match transport.send(message).await {
            Ok(_) => Outcome::Delivered,
            // 5xx replies are permanent refusals; everything else (4xx, connection, TLS, timeout) may pass later.
            Err(e) if e.is_permanent() => Outcome::Permanent { error: format!("SMTP: {}", error_chain(&e)) },
            Err(e) => Outcome::Retry { after: None, error: format!("SMTP: {}", error_chain(&e)) },
        }
    }
}
