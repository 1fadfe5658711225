//! Outbound connections under the egress policy (`clarion_config::egress`).
//!
//! Invariant: every connection a channel opens goes to an address the policy allowed at connect time.
//! HTTP clients built here resolve names through [`PolicyResolver`], which hands the client only allowed
//! addresses (so a name that later resolves somewhere else — DNS rebinding — is caught where it
//! connects); an address written in the URL is checked before the request, since no resolution happens
//! for it. E-mail resolves with [`resolve_allowed`] and connects to the address it returns. Redirects are
//! never followed and proxies from the environment are not used: either would connect somewhere the
//! policy did not check.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clarion_config::egress::{EgressError, EgressPolicy};

/// Why a destination could not be reached: refused by the policy, or not resolved at all.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("{0}")]
    Refused(#[from] EgressError),
    #[error("cannot resolve {host}: {reason}")]
    Lookup { host: String, reason: String },
}

/// The addresses of `host:port` the policy allows; an error when it allows none.
pub async fn resolve_allowed(policy: &EgressPolicy, host: &str, port: u16) -> Result<Vec<SocketAddr>, ResolveError> {
    policy.check_host(host, port)?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let found: Vec<SocketAddr> = tokio::net::lookup_host((bare, port))
        .await
        .map_err(|e| ResolveError::Lookup { host: host.to_string(), reason: e.to_string() })?
        .collect();
    let mut first_refusal = None;
    let allowed: Vec<SocketAddr> = found
        .into_iter()
        .filter(|a| match policy.check_addr(host, a.ip()) {
            Ok(()) => true,
            Err(e) => {
                first_refusal.get_or_insert(e);
                false
            }
        })
        .collect();
    match (allowed.is_empty(), first_refusal) {
        (false, _) => Ok(allowed),
        (true, Some(refusal)) => Err(ResolveError::Refused(refusal)),
        (true, None) => Err(ResolveError::Lookup { host: host.to_string(), reason: "no addresses".into() }),
    }
}

/// A resolver for the HTTP client that returns only the addresses the policy allows.
#[derive(Debug)]
pub struct PolicyResolver(pub Arc<EgressPolicy>);

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            // The port is checked against the URL before the request; 0 lets the client fill it in.
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refusal = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match policy.check_addr(&host, a.ip()) {
                    Ok(()) => true,
                    Err(e) => {
                        refusal.get_or_insert(e);
                        false
                    }
                })
                .collect();
            match refusal {
                Some(e) if allowed.is_empty() => Err(Box::new(e) as Box<dyn std::error::Error + Send + Sync>),
                _ => Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs),
            }
        })
    }
}

/// An HTTP client for one channel: the policy's resolver, no redirects, no proxies, a connect timeout.
pub fn http_client(
    policy: Arc<EgressPolicy>,
    connect_timeout: Duration,
) -> Result<reqwest::Client, crate::ChannelError> {
    reqwest::Client::builder()
        .user_agent(concat!("clarion/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(connect_timeout)
        .dns_resolver(Arc::new(PolicyResolver(policy)))
        .build()
        .map_err(|e| crate::ChannelError::HttpClient(crate::http::error_chain(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn names_resolving_to_refused_addresses_are_refused() {
        use clarion_config::egress::{EgressConfig, Network};
        let deny = ["127.0.0.0/8", "::1/128"].iter().map(|n| Network(n.parse().expect("a network"))).collect();
        let policy = EgressPolicy::new(&EgressConfig { deny, ..EgressConfig::default() });
        let err = resolve_allowed(&policy, "localhost", 25).await.expect_err("localhost is denied");
        assert!(matches!(err, ResolveError::Refused(EgressError::Denied { .. })), "{err}");
        let open = EgressPolicy::default();
        let addrs = resolve_allowed(&open, "localhost", 25).await.expect("allowed by default");
        assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 25), "{addrs:?}");
    }
}
