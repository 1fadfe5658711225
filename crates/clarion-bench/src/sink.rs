//! The webhook sink both servers deliver to: records when each benchmark alert first arrived, and how
//! many notifications each server sent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::post;
use axum::Router;
use serde::Deserialize;

#[derive(Default)]
struct Received {
    notifications: HashMap<String, u64>,
    /// First arrival of each `bench_id` (firing), per server.
    arrivals: HashMap<String, HashMap<String, Instant>>,
}

#[derive(Clone, Default)]
pub struct Sink {
    inner: Arc<Mutex<Received>>,
    pub url: String,
}

#[derive(Deserialize)]
struct Payload {
    alerts: Vec<PayloadAlert>,
}

#[derive(Deserialize)]
struct PayloadAlert {
    status: String,
    labels: HashMap<String, String>,
}

async fn receive(State(sink): State<Sink>, Path(server): Path<String>, body: Bytes) -> &'static str {
    let now = Instant::now();
    let payload: Option<Payload> = serde_json::from_slice(&body).ok();
    if let Ok(mut r) = sink.inner.lock() {
        *r.notifications.entry(server.clone()).or_default() += 1;
        if let Some(p) = payload {
            let arrivals = r.arrivals.entry(server).or_default();
            for a in p.alerts.into_iter().filter(|a| a.status == "firing") {
                if let Some(id) = a.labels.get("bench_id") {
                    arrivals.entry(id.clone()).or_insert(now);
                }
            }
        }
    }
    "ok"
}

impl Sink {
    pub async fn start() -> anyhow::Result<Sink> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let sink = Sink { url: format!("http://{}", listener.local_addr()?), ..Sink::default() };
        let app = Router::new().route("/{server}", post(receive)).with_state(sink.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(sink)
    }

    pub fn notifications(&self, server: &str) -> u64 {
        self.inner.lock().map(|r| r.notifications.get(server).copied().unwrap_or(0)).unwrap_or(0)
    }

    pub fn arrivals(&self, server: &str) -> HashMap<String, Instant> {
        self.inner.lock().map(|r| r.arrivals.get(server).cloned().unwrap_or_default()).unwrap_or_default()
    }

    pub fn reset(&self) {
        if let Ok(mut r) = self.inner.lock() {
            *r = Received::default();
        }
    }
}
