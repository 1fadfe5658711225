//! Token authentication with scopes.
//!
//! A token arrives as `Authorization: Bearer <token>` or as the password of `Authorization: Basic` (the
//! scheme compared ignoring case, RFC 9110 §11.1). Tokens are configured as SHA-256 hashes; a request's
//! token is hashed and compared with every configured hash in constant time, so neither the configuration
//! nor the timing of an answer gives a usable secret away. An expired token is refused like an unknown one,
//! with its own message. With no tokens configured (allowed on loopback only, see
//! [`crate::check_exposure`]) every request is allowed. `admin` implies every other scope.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use clarion_config::{Scope, TokenConfig};
use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::state::AppState;

/// The token a request presents, from `Authorization: Bearer <token>` or the password of
/// `Authorization: Basic`; `None` when the header is missing or in another scheme.
pub(crate) fn presented_token(headers: &axum::http::HeaderMap) -> Option<String> {
    let header = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, credentials) = header.split_once(' ')?;
    let credentials = credentials.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        Some(credentials.to_string())
    } else if scheme.eq_ignore_ascii_case("basic") {
        use base64::Engine;
        let decoded = base64::engine::general_purpose::STANDARD.decode(credentials).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        text.split_once(':').map(|(_user, password)| password.to_string())
    } else {
        None
    }
}

/// The configured token matching `token`, compared with every configured hash in constant time.
pub(crate) fn find_token<'a>(token: &str, tokens: &'a [TokenConfig]) -> Option<&'a TokenConfig> {
    use subtle::ConstantTimeEq;
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let mut found = None;
    for t in tokens {
        if bool::from(t.sha256.0.ct_eq(&digest)) {
            found = Some(t);
        }
    }
    found
}

/// The configured token the request carries, if it has not expired at `now`.
fn token_entry<'a>(
    parts: &Parts,
    tokens: &'a [TokenConfig],
    now: clarion_core::Timestamp,
) -> Result<&'a TokenConfig, AppError> {
    let Some(token) = presented_token(&parts.headers) else {
        return Err(AppError::Unauthorized(
            "authentication required: send the header `Authorization: Bearer <token>` (or the token as the \
             password of basic auth)"
                .into(),
        ));
    };
    let entry = find_token(&token, tokens).ok_or_else(|| AppError::Unauthorized("unknown token".into()))?;
    match entry.expires {
        Some(at) if at <= now => Err(AppError::Unauthorized(format!(
            "token {:?} expired at {}",
            entry.name,
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ))),
        _ => Ok(entry),
    }
}

impl FromRequestParts<AppState> for ProviderToken {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let config = state.config();
        let tokens = &config.file.auth.tokens;
        if tokens.is_empty() {
            return Err(AppError::Forbidden(
                "provider events need a provider's token (`clarion token new NAME --provider PROVIDER`); \
                 this server has no tokens configured"
                    .into(),
            ));
        }
        let entry = token_entry(parts, tokens, state.now())?;
        match &entry.provider {
            Some(provider) => Ok(ProviderToken { token: entry.name.clone(), provider: provider.clone() }),
            None => Err(AppError::Forbidden(format!(
                "token {:?} is not a provider's token; create one with `clarion token new NAME --provider PROVIDER`",
                entry.name
            ))),
        }
    }
}

/// A scope as configured and as messages name it.
pub(crate) fn scope_name(scope: Scope) -> &'static str {
    match scope {
        Scope::Ingest => "ingest",
        Scope::Read => "read",
        Scope::Respond => "respond",
        Scope::Announce => "announce",
        Scope::Admin => "admin",
    }
}

/// Hex SHA-256 of a token, as written in `auth.tokens[].sha256`.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A scope a handler requires, as a type.
pub trait RequiredScope {
    const SCOPE: Scope;
}

#[derive(Debug)]
pub struct Read;
#[derive(Debug)]
pub struct Ingest;
#[derive(Debug)]
pub struct Admin;
#[derive(Debug)]
pub struct Respond;
#[derive(Debug)]
pub struct Announce;

impl RequiredScope for Read {
    const SCOPE: Scope = Scope::Read;
}
impl RequiredScope for Ingest {
    const SCOPE: Scope = Scope::Ingest;
}
impl RequiredScope for Admin {
    const SCOPE: Scope = Scope::Admin;
}
impl RequiredScope for Respond {
    const SCOPE: Scope = Scope::Respond;
}
impl RequiredScope for Announce {
    const SCOPE: Scope = Scope::Announce;
}

/// Extractor that succeeds only for a request allowed `S`; it knows the name of the token used, if any.
#[derive(Debug)]
pub struct Authorized<S> {
    /// The `name` of the token, or `None` when no tokens are configured (loopback only).
    pub token: Option<String>,
    scope: PhantomData<S>,
}

/// A provider's token: it may post events about that provider's services, and nothing else.
#[derive(Debug)]
pub struct ProviderToken {
    /// The token's name.
    pub token: String,
    /// The provider it speaks for.
    pub provider: String,
}

impl<S: RequiredScope + Send> FromRequestParts<AppState> for Authorized<S> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        authorize(parts, state, S::SCOPE).map(|token| Authorized { token, scope: PhantomData })
    }
}

/// Checks that the request may do what `scope` allows; the token's name when tokens are configured.
pub(crate) fn authorize(parts: &Parts, state: &AppState, scope: Scope) -> Result<Option<String>, AppError> {
    let config = state.config();
    let tokens = &config.file.auth.tokens;
    if tokens.is_empty() {
        return Ok(None);
    }
    let entry = token_entry(parts, tokens, state.now())?;
    if entry.scopes.contains(&Scope::Admin) || entry.scopes.contains(&scope) {
        Ok(Some(entry.name.clone()))
    } else {
        Err(AppError::Forbidden(format!(
            "token {:?} lacks the {:?} scope this request needs",
            entry.name,
            scope_name(scope)
        )))
    }
}
