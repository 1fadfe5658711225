//! The e-mail channel: a multipart message (plain text and HTML) with the clarity fields of each item in
//! the fixed order, sent over SMTP (plain, STARTTLS or implicit TLS). The idempotency key is the
//! `Message-ID`, so a mail system can drop a duplicate.

use std::sync::Arc;
use std::time::Duration;

use clarion_config::egress::EgressPolicy;
use clarion_config::{EmailConfig, SmtpTls};
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use clarion_core::notification::Notification;

use crate::http::error_chain;
use crate::view::{Heading, View, MISSING};
use crate::{Attempt, ChannelError, Outcome};

#[derive(Clone)]
pub struct Email {
    policy: Arc<EgressPolicy>,
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
    let view = View::of(n);
    let mut text = format!("{}\n", view.title);
    let mut html = format!("<html><body style=\"font-family:sans-serif\"><h2>{}</h2>\n", html_escape(&view.title));
    // The acknowledgement link comes right after the first line.
    if let Some(page) = &view.page {
        match (&page.url, page.acknowledgeable) {
            (Some(url), true) => {
                text.push_str(&format!("Acknowledge page {}: {url}\n", page.id));
                html.push_str(&format!(
                    "<p><a href=\"{}\" style=\"background:#1a7f37;color:#fff;padding:6px 12px;text-decoration:none\">Acknowledge</a> page {}</p>\n",
                    html_escape(url),
                    html_escape(&page.id)
                ));
            }
            (Some(url), false) => {
                text.push_str(&format!("Page {}: {url}\n", page.id));
                html.push_str(&format!("<p>Page <a href=\"{}\">{}</a></p>\n", html_escape(url), html_escape(&page.id)));
            }
            (None, _) => text.push_str(&format!("Page {}\n", page.id)),
        }
    }
    text.push('\n');
    for item in &view.items {
        match &item.heading {
            Heading::Alert { name, status, labels, is_new, .. } => {
                let new = if *is_new { " NEW" } else { "" };
                text.push_str(&format!("== {name} [{}]{new} {labels}\n", status.as_str()));
                html.push_str(&format!(
                    "<h3>{} <small>[{}]{new} {}</small></h3>\n",
                    html_escape(name),
                    status.as_str(),
                    html_escape(labels)
                ));
            }
            Heading::Announcement => {
                text.push_str("== Announcement\n");
                html.push_str("<h3>Announcement</h3>\n");
            }
            Heading::Escalation { text: heading } => {
                text.push_str(&format!("== {heading}\n"));
                html.push_str(&format!("<h3>{}</h3>\n", html_escape(heading)));
            }
        }
        html.push_str("<table cellpadding=\"4\">\n");
        for f in &item.fields {
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
        if let Some(v) = &item.details {
            text.push_str(&format!("Details:  {v}\n"));
            html.push_str(&format!("<tr><th align=\"left\">Details</th><td>{}</td></tr>\n", html_escape(v)));
        }
        if !item.findings.is_empty() {
            text.push_str("Falls short of the communication standard:\n");
            html.push_str("<tr><th align=\"left\" valign=\"top\">Standard</th><td><strong>Falls short of the communication standard:</strong><ul>");
            for f in &item.findings {
                text.push_str(&format!("  - {f}\n"));
                html.push_str(&format!("<li>{}</li>", html_escape(f)));
            }
            html.push_str("</ul></td></tr>\n");
        }
        text.push('\n');
        html.push_str("</table>\n");
    }
    if view.more > 0 {
        let more = format!("and {} more", view.more);
        text.push_str(&format!("{more}\n"));
        html.push_str(&format!("<p><em>{more}</em></p>\n"));
    }
    text.push_str(&format!("-- \nClarion delivery {idempotency_key}, group {}\n", view.group_key));
    html.push_str(&format!(
        "<p style=\"color:#888\">Clarion delivery {} · group {}</p></body></html>\n",
        html_escape(idempotency_key),
        html_escape(&view.group_key)
    ));
    (view.title, text, html)
}

impl Email {
    /// `password` is the SMTP password already read from `password` or `password_file`.
    pub fn new(
        config: &EmailConfig,
        password: Option<String>,
        policy: Arc<EgressPolicy>,
    ) -> Result<Email, ChannelError> {
        let not_host_port = || ChannelError::NotHostPort(config.smtp.clone());
        let (host, port) = config.smtp.rsplit_once(':').ok_or_else(not_host_port)?;
        let port = port.parse().map_err(|_| not_host_port())?;
        for address in std::iter::once(&config.from).chain(&config.to) {
            address
                .parse::<Mailbox>()
                .map_err(|e| ChannelError::Address { address: address.clone(), reason: e.to_string() })?;
        }
        Ok(Email {
            policy,
            host: host.to_string(),
            port,
            tls: config.tls,
            credentials: config.username.clone().map(|u| (u, password.unwrap_or_default())),
            from: config.from.clone(),
            to: config.to.clone(),
            timeout: config.timeout.0,
        })
    }

    fn message(&self, n: &Notification, attempt: &Attempt<'_>) -> Result<Message, ChannelError> {
        let (subject, text, html) = render(n, attempt.idempotency_key);
        let address = |a: &String| {
            a.parse::<Mailbox>().map_err(|e| ChannelError::Address { address: a.clone(), reason: e.to_string() })
        };
        let mut builder = Message::builder()
            .from(address(&self.from)?)
            .subject(subject)
            .message_id(Some(format!("<{}@clarion>", attempt.idempotency_key)));
        for to in &self.to {
            builder = builder.to(address(to)?);
        }
        builder
            .multipart(
                MultiPart::alternative()
                    .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(text))
                    .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(html)),
            )
            .map_err(|e| ChannelError::Smtp(e.to_string()))
    }

    /// A transport to `server` (an address the egress policy allowed), verifying TLS against the host
    /// name.
    fn transport(&self, server: std::net::IpAddr) -> Result<AsyncSmtpTransport<Tokio1Executor>, ChannelError> {
        let tls_parameters = || {
            TlsParameters::new(self.host.trim_start_matches('[').trim_end_matches(']').to_string())
                .map_err(|e| ChannelError::Smtp(error_chain(&e)))
        };
        let tls = match self.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::Starttls => Tls::Required(tls_parameters()?),
            SmtpTls::Tls => Tls::Wrapper(tls_parameters()?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.to_string())
            .port(self.port)
            .tls(tls)
            .timeout(Some(self.timeout));
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
        let server = match crate::egress::resolve_allowed(&self.policy, &self.host, self.port).await {
            Ok(addrs) => match addrs.first() {
                Some(a) => a.ip(),
                None => return Outcome::Retry { after: None, error: format!("SMTP: {} has no address", self.host) },
            },
            Err(e @ crate::egress::ResolveError::Refused(_)) => {
                return Outcome::Permanent { error: format!("egress policy: {e}") }
            }
            Err(e) => return Outcome::Retry { after: None, error: format!("SMTP: {e}") },
        };
        let transport = match self.transport(server) {
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
