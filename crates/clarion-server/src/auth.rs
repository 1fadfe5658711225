//! Bearer-token authentication with scopes.
//!
//! Tokens are configured as SHA-256 hashes; a request's token is hashed and compared to them, so the
//! configuration never holds a usable secret. With no tokens configured (allowed on loopback only, see
//! [`crate::check_exposure`]) every request is allowed. `admin` implies every other scope.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use clarion_config::Scope;
use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::state::AppState;

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

impl RequiredScope for Read {
    const SCOPE: Scope = Scope::Read;
}
impl RequiredScope for Ingest {
    const SCOPE: Scope = Scope::Ingest;
}
impl RequiredScope for Admin {
    const SCOPE: Scope = Scope::Admin;
}

/// Extractor that succeeds only for a request allowed `S`.
#[derive(Debug)]
pub struct Authorized<S>(PhantomData<S>);

impl<S: RequiredScope + Send> FromRequestParts<AppState> for Authorized<S> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let config = state.config();
        let tokens = &config.file.auth.tokens;
        if tokens.is_empty() {
            return Ok(Authorized(PhantomData));
        }
        let header = parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let Some(token) = header.and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer "))) else {
            return Err(AppError::Unauthorized(
                "authentication required: send the header `Authorization: Bearer <token>`".into(),
            ));
        };
        let digest: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
        let Some(entry) = tokens.iter().find(|t| t.sha256.0 == digest) else {
            return Err(AppError::Unauthorized("unknown token".into()));
        };
        if entry.scopes.contains(&Scope::Admin) || entry.scopes.contains(&S::SCOPE) {
            Ok(Authorized(PhantomData))
        } else {
            Err(AppError::Forbidden(format!(
                "token {:?} lacks the {:?} scope this request needs",
                entry.name,
                format!("{:?}", S::SCOPE).to_lowercase()
            )))
        }
    }
}
