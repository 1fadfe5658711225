//! Sessions of the web pages: a signed cookie, the CSRF token of every form, and what a session may do.
//!
//! Every visitor gets a session cookie (`clarion_session`) on the first page: anonymous until it signs in
//! with a token, which replaces it with a new one naming the token (so a cookie planted before sign-in is
//! never promoted). The cookie is `v1.<token name, hex>.<expiry, Unix seconds>.<nonce>.<tag>`, the tag an
//! HMAC with the server key every instance shares ([`LinkKey::sign`]) over those parts and the token's
//! configured hash, so the server keeps no session table, any instance accepts it, and giving a token a
//! new hash (rotating it after a leak) ends the old one's sessions. It is `HttpOnly`, `SameSite=Strict`,
//! and `Secure` when browsers reach Clarion over HTTPS (its own TLS, or an `https://` external URL).
//!
//! A session has the scopes its token has **in the configuration now**: a token removed from the
//! configuration, past its `expires`, or made a provider's, ends its sessions at once. With no tokens
//! configured (loopback only) every session may do everything, as the API allows every request. Signing
//! out removes the cookie from the browser; a copy of it stays valid until it expires (there is no table
//! to strike it from), which is why sessions are short (`auth.session_ttl`).
//!
//! Every form carries `csrf`, the HMAC of the session cookie; a POST whose `csrf` is missing or belongs to
//! another cookie is refused before anything is read or changed.
//!
//! [`LinkKey::sign`]: crate::links::LinkKey::sign

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use clarion_config::{Scope, TokenConfig};
use clarion_core::page::{Actor, Via};
use clarion_core::Timestamp;

use super::Chrome;
use crate::auth::scope_name;
use crate::state::AppState;

/// The session cookie's name.
pub const COOKIE: &str = "clarion_session";

/// Purposes signed with the server key: a tag for one is never valid for another.
const SESSION_PURPOSE: &str = "clarion-session";
const CSRF_PURPOSE: &str = "clarion-csrf";

/// The session of a request, put in its extensions by [`layer`].
#[derive(Debug, Clone)]
pub struct Session {
    /// The cookie's value: what the CSRF token is bound to.
    value: String,
    /// The token signed in with; `None` for an anonymous session.
    pub token: Option<String>,
}

/// The hash of configured token `name` as hex, which every tag of its sessions covers: a token given a new
/// hash (rotated after a leak) ends the sessions signed in with the old one. Empty for anonymous sessions.
fn token_hash(tokens: &[TokenConfig], name: &str) -> Option<String> {
    if name.is_empty() {
        return Some(String::new());
    }
    tokens.iter().find(|t| t.name == name).map(|t| hex::encode(t.sha256.0))
}

/// A session cookie read back: `None` when it is missing, malformed, forged, expired, or names a token
/// that is no longer configured with the hash it was signed in with.
fn read_cookie(state: &AppState, headers: &axum::http::HeaderMap, now: Timestamp) -> Option<Session> {
    let value = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())?;
    let mut parts = value.split('.');
    let (Some("v1"), Some(who), Some(expires), Some(nonce), Some(tag), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let token = String::from_utf8(hex::decode(who).ok()?).ok()?;
    let hash = token_hash(&state.config().file.auth.tokens, &token)?;
    if !state.link_key().verify_tag(&[SESSION_PURPOSE, who, expires, nonce, &hash], tag) {
        return None;
    }
    if expires.parse::<i64>().ok()? < now.timestamp() {
        return None;
    }
    Some(Session { value, token: Some(token).filter(|t| !t.is_empty()) })
}

/// A new session for `token` (anonymous for `None`) and its `Set-Cookie` header.
fn issue(state: &AppState, token: Option<&str>, now: Timestamp) -> (Session, HeaderValue) {
    let config = state.config();
    let ttl = config.file.auth.session_ttl.0;
    let expires = clarion_core::later(now, ttl).timestamp().to_string();
    let who = token.map(|t| hex::encode(t.as_bytes())).unwrap_or_default();
    let hash = token_hash(&config.file.auth.tokens, token.unwrap_or_default()).unwrap_or_default();
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let tag = state.link_key().sign(&[SESSION_PURPOSE, &who, &expires, &nonce, &hash]);
    let value = format!("v1.{who}.{expires}.{nonce}.{tag}");
    let cookie =
        format!("{COOKIE}={value}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{}", ttl.as_secs(), secure(state));
    let header = HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""));
    (Session { value, token: token.map(str::to_string) }, header)
}

/// `; Secure` when browsers reach Clarion over HTTPS: it serves TLS itself, or its `external_url` (a
/// proxy terminating TLS in front of it) is `https://`.
fn secure(state: &AppState) -> &'static str {
    let config = state.config();
    let https = config.file.tls.is_some()
        || config.file.global.external_url.as_deref().is_some_and(|u| u.to_ascii_lowercase().starts_with("https://"));
    if https {
        "; Secure"
    } else {
        ""
    }
}

/// The `Set-Cookie` header that removes the session cookie.
fn removal(state: &AppState) -> HeaderValue {
    HeaderValue::from_str(&format!("{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{}", secure(state)))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Headers every page is answered with: no caching of what a session saw, no framing, nothing loaded
/// from elsewhere (the stylesheet is Clarion's own), forms posted only to Clarion.
const PAGE_HEADERS: [(&str, &str); 5] = [
    (
        "content-security-policy",
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; \
         base-uri 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
    ("x-frame-options", "DENY"),
];

/// Middleware of the web pages: finds the request's session, or starts an anonymous one (set on the
/// answer), and adds [`PAGE_HEADERS`].
pub async fn layer(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let now = state.now();
    let (session, set_cookie) = match read_cookie(&state, request.headers(), now) {
        Some(session) => (session, None),
        None => {
            let (session, cookie) = issue(&state, None, now);
            (session, Some(cookie))
        }
    };
    request.extensions_mut().insert(session);
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    // A handler that set its own cookie (sign-in, sign-out) keeps it.
    if let Some(cookie) = set_cookie.filter(|_| !headers.contains_key(header::SET_COOKIE)) {
        headers.insert(header::SET_COOKIE, cookie);
    }
    for (name, value) in PAGE_HEADERS {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    }
    response
}

/// A request to the web pages: the state, its session, and whether it is a GET.
#[derive(Clone)]
pub struct Visit {
    pub state: AppState,
    pub session: Session,
    method: Method,
    /// The path and query asked for (where sign-in returns to).
    target: String,
}

impl FromRequestParts<AppState> for Visit {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let session = parts.extensions.get::<Session>().cloned().ok_or_else(|| {
            tracing::error!("a web page was reached without the session layer");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        })?;
        let target = parts.uri.path_and_query().map_or_else(|| "/ui/".to_string(), |p| p.as_str().to_string());
        Ok(Visit { state: state.clone(), session, method: parts.method.clone(), target })
    }
}

/// The configured token `name`, if it still exists, has not expired and is not a provider's (a provider's
/// token only posts provider events). Its hash is checked with the cookie ([`read_cookie`]).
fn live_token<'a>(tokens: &'a [TokenConfig], name: &str, now: Timestamp) -> Option<&'a TokenConfig> {
    tokens.iter().find(|t| t.name == name).filter(|t| t.expires.is_none_or(|at| at > now) && t.provider.is_none())
}

impl Visit {
    /// The CSRF token of this session's forms.
    pub fn csrf(&self) -> String {
        self.state.link_key().sign(&[CSRF_PURPOSE, &self.session.value])
    }

    /// Whether tokens are configured (and so signing in means something).
    pub fn needs_sign_in(&self) -> bool {
        !self.state.config().file.auth.tokens.is_empty()
    }

    /// The token this session is signed in with, if it is still configured and valid.
    pub fn signed_in(&self) -> Option<String> {
        let config = self.state.config();
        let name = self.session.token.as_deref()?;
        live_token(&config.file.auth.tokens, name, self.state.now()).map(|t| t.name.clone())
    }

    /// Whether this session may do what `scope` allows.
    pub fn may(&self, scope: Scope) -> bool {
        let config = self.state.config();
        let tokens = &config.file.auth.tokens;
        if tokens.is_empty() {
            return true;
        }
        let Some(name) = self.session.token.as_deref() else { return false };
        live_token(tokens, name, self.state.now())
            .is_some_and(|t| t.scopes.contains(&Scope::Admin) || t.scopes.contains(&scope))
    }

    /// Who acts for this session: the token's name, or `web` without tokens.
    pub fn actor(&self) -> Actor {
        Actor { who: self.signed_in().unwrap_or_else(|| "web".to_string()), via: Via::Web }
    }

    /// Passes when this session may do what `scope` allows. Otherwise a GET of an anonymous session is
    /// sent to sign in (and back); anything else is refused with 403 and what is missing.
    pub fn require(&self, scope: Scope) -> Result<(), Response> {
        if self.may(scope) {
            return Ok(());
        }
        if self.signed_in().is_none() && self.method == Method::GET {
            let next = serde_urlencoded::to_string([("next", self.target.as_str())]).unwrap_or_default();
            return Err(Redirect::to(&format!("/ui/sign-in?{next}")).into_response());
        }
        let message = match self.signed_in() {
            Some(name) => format!(
                "The token \u{201c}{name}\u{201d} lacks the \u{201c}{}\u{201d} scope this needs. Sign in with a \
                 token that has it.",
                scope_name(scope)
            ),
            None => "Sign in first: this needs a token.".to_string(),
        };
        Err(self.refuse(StatusCode::FORBIDDEN, &message))
    }

    /// Passes when `csrf` is this session's CSRF token; otherwise refuses with 403.
    pub fn check_csrf(&self, csrf: &str) -> Result<(), Response> {
        if self.state.link_key().verify_tag(&[CSRF_PURPOSE, &self.session.value], csrf) {
            return Ok(());
        }
        Err(self.refuse(
            StatusCode::FORBIDDEN,
            "This form expired or did not come from this Clarion: nothing changed. Reload the page and try again.",
        ))
    }

    /// A POST's checks in their order: the form's CSRF token, then the scope.
    pub fn may_post(&self, csrf: &str, scope: Scope) -> Result<(), Response> {
        self.check_csrf(csrf)?;
        self.require(scope)
    }

    /// The page chrome for a page titled `title` in the navigation section `section`.
    pub fn chrome(&self, title: impl Into<String>, section: super::Section) -> Chrome {
        Chrome::new(title.into(), section, self.signed_in(), self.needs_sign_in(), self.csrf())
    }

    /// An error page: `message` under a heading naming the status.
    pub fn refuse(&self, status: StatusCode, message: &str) -> Response {
        super::error_page(self.chrome("Not done", super::Section::None), status, message)
    }
}

/// Where sign-in may send a browser back to: only Clarion's own pages, as a plain ASCII path (what a
/// `Location` header can carry).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with("/ui/") && !n.contains('\\') && n.bytes().all(|b| b.is_ascii_graphic()) => n,
        _ => "/ui/",
    }
}

#[derive(askama::Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    chrome: Chrome,
    next: String,
    problem: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// `GET /ui/sign-in`.
pub async fn sign_in_form(visit: Visit, axum::extract::Query(q): axum::extract::Query<NextQuery>) -> Response {
    let page = SignInPage {
        chrome: visit.chrome("Sign in", super::Section::None),
        next: safe_next(q.next.as_deref()).to_string(),
        problem: (!visit.needs_sign_in())
            .then(|| "This Clarion has no tokens configured: every page is open without signing in.".to_string()),
    };
    super::render(StatusCode::OK, &page)
}

#[derive(Debug, serde::Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /ui/sign-in`: a valid token replaces the session with one naming it.
pub async fn sign_in(visit: Visit, axum::Form(form): axum::Form<SignInForm>) -> Response {
    if let Err(refused) = visit.check_csrf(&form.csrf) {
        return refused;
    }
    let state = &visit.state;
    let config = state.config();
    let now = state.now();
    let found = crate::auth::find_token(form.token.trim(), &config.file.auth.tokens)
        .filter(|t| t.expires.is_none_or(|at| at > now) && t.provider.is_none());
    let Some(token) = found else {
        let page = SignInPage {
            chrome: visit.chrome("Sign in", super::Section::None),
            next: safe_next(form.next.as_deref()).to_string(),
            problem: Some(
                "Unknown or expired token: nothing changed. Paste a token `clarion token new` printed.".into(),
            ),
        };
        return super::render(StatusCode::UNAUTHORIZED, &page);
    };
    tracing::info!(token = %token.name, "signed in to the web pages");
    let (_, cookie) = issue(state, Some(&token.name), now);
    let mut response = Redirect::to(safe_next(form.next.as_deref())).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
}

#[derive(Debug, serde::Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    pub csrf: String,
}

/// `POST /ui/sign-out`: removes the cookie.
pub async fn sign_out(visit: Visit, axum::Form(form): axum::Form<CsrfOnly>) -> Response {
    if let Err(refused) = visit.check_csrf(&form.csrf) {
        return refused;
    }
    let mut response = Redirect::to("/ui/sign-in").into_response();
    response.headers_mut().insert(header::SET_COOKIE, removal(&visit.state));
    response
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn sign_in_returns_only_to_clarions_own_pages() {
        assert_eq!(safe_next(Some("/ui/silences?x=1")), "/ui/silences?x=1");
        for elsewhere in [
            "https://evil.example/",
            "//evil.example/ui/",
            "/api/v2/status",
            "/ui\\..\\x",
            "",
            "ui/",
            "/ui/é",
            "/ui/\n",
        ] {
            assert_eq!(safe_next(Some(elsewhere)), "/ui/", "{elsewhere:?}");
        }
        assert_eq!(safe_next(None), "/ui/");
    }
}
