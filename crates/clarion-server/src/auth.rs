//! Bearer-token authentication with scopes.
//!
//! Tokens are configured as SHA-256 hashes; a request's token is hashed and compared to them, so the
//! configuration never holds a usable secret. With no tokens configured (allowed on loopback only, see
//! [`crate::check_exposure`]) every request is allowed. `admin` implies every other scope.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use clarion_config::{Scope, TokenConfig};
use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::state::AppState;

/// The configured token the request's `Authorization: Bearer` header carries.
fn token_entry<'a>(parts: &Parts, tokens: &'a [TokenConfig]) -> Result<&'a TokenConfig, AppError> {
    let header = parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let Some(token) = header.and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer "))) else {
        return Err(AppError::Unauthorized(
            "authentication required: send the header `Authorization: Bearer <token>`".into(),
        ));
    };
    let digest: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
    tokens.iter().find(|t| t.sha256.0 == digest).ok_or_else(|| AppError::Unauthorized("unknown token".into()))
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
        let entry = token_entry(parts, tokens)?;
        match &entry.provider {
            Some(provider) => Ok(ProviderToken { token: entry.name.clone(), provider: provider.clone() }),
            None => Err(AppError::Forbidden(format!(
                "token {:?} is not a provider's token; create one with `clarion token new NAME --provider PROVIDER`",
                entry.name
            ))),
        }
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
        let config = state.config();
        let tokens = &config.file.auth.tokens;
        if tokens.is_empty() {
            return Ok(Authorized { token: None, scope: PhantomData });
        }
        let entry = token_entry(parts, tokens)?;
        if entry.scopes.contains(&Scope::Admin) || entry.scopes.contains(&S::SCOPE) {
            Ok(Authorized { token: Some(entry.name.clone()), scope: PhantomData })
        } else {
            Err(AppError::Forbidden(format!(
                "token {:?} lacks the {:?} scope this request needs",
                entry.name,
                format!("{:?}", S::SCOPE).to_lowercase()
            )))
        }
    }
}
