//! A small HTTP client for subcommands that talk to a running server (`--server`, `--token`).

use anyhow::{bail, Context};
use reqwest::{Method, StatusCode};

use crate::ServerArgs;

pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    pub fn new(args: &ServerArgs) -> anyhow::Result<Client> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Client { http, base: args.server.trim_end_matches('/').to_string(), token: args.token.clone() })
    }

    /// Sends a request and returns the status and body, whatever the status.
    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<(StatusCode, String)> {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).query(query);
        if let Some(body) = body {
            req = req.json(&body);
        }
        self.send(req).await
    }

    /// Sends `body` as `content_type` and returns the body of a 2xx answer, like [`Client::call`].
    pub async fn send_text(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: String,
    ) -> anyhow::Result<String> {
        self.send_bytes(method, path, &[], content_type, body.into_bytes()).await
    }

    /// Sends `body` as `content_type` with `query`, and returns the body of a 2xx answer.
    pub async fn send_bytes(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        content_type: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<String> {
        let req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .query(query)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        let (status, text) = self.send(req).await?;
        answer(&method, path, status, text)
    }

    /// Sends a request and returns the body of a 2xx answer; any other answer is an error quoting the server.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<String> {
        let (status, text) = self.call_raw(method.clone(), path, query, body).await?;
        answer(&method, path, status, text)
    }

    /// Sends `req` with the token, if any; the status and body, whatever the status.
    async fn send(&self, mut req: reqwest::RequestBuilder) -> anyhow::Result<(StatusCode, String)> {
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.with_context(|| {
            format!("cannot reach Clarion at {} (is `clarion serve` running? see --server)", self.base)
        })?;
        let status = resp.status();
        Ok((status, resp.text().await.unwrap_or_default()))
    }
}

/// The body of a 2xx answer; any other answer is an error quoting the server.
fn answer(method: &Method, path: &str, status: StatusCode, text: String) -> anyhow::Result<String> {
    if status.is_success() {
        return Ok(text);
    }
    // Error bodies are JSON strings; show the message itself.
    let message = serde_json::from_str::<String>(&text).unwrap_or(text);
    match status {
        StatusCode::UNAUTHORIZED => bail!("{method} {path}: {message} (pass --token or set CLARION_TOKEN)"),
        _ => bail!("{method} {path}: {status}: {message}"),
    }
}
