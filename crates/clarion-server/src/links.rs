//! Signed acknowledgement links: `{external_url}/pages/{id}/ack?r={recipient}&e={expires}&s={signature}`.
//!
//! The signature is an HMAC-SHA256, with a key every instance sharing the store shares (`PageStore::
//! server_key`), over the page id, the recipient (the channel the link was sent to) and the expiry, so a
//! link acknowledges one page, for one recipient, until it expires. Opening a link (GET) changes nothing;
//! only the form it shows, posted back to the same address, acknowledges. A forged, altered, expired or
//! another page's link is refused before anything is read from the store.
//!
//! Links are built from the configured `global.external_url` (else the listen address), never from a
//! request's `Host` header.

use clarion_core::Timestamp;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The name the link key is stored under.
pub const KEY_NAME: &str = "ack-links";

/// Bytes of the signature kept (128 bits), as hex.
const SIGNATURE_BYTES: usize = 16;

/// The signing key of acknowledgement links.
#[derive(Clone)]
pub struct LinkKey(Vec<u8>);

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(<redacted>)")
    }
}

/// Why a link is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link is incomplete: it needs r, e and s")]
    Incomplete,
    #[error("the link's signature does not match: it was altered, or is not Clarion's")]
    BadSignature,
    #[error("the link expired; use the newest notification or `clarion ack`")]
    Expired,
}

/// A link's parameters, as read from its query string.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct LinkParams {
    /// The recipient.
    pub r: Option<String>,
    /// Expiry, Unix seconds.
    pub e: Option<i64>,
    /// Signature, hex.
    pub s: Option<String>,
}

impl LinkKey {
    /// A key from its stored hex form.
    pub fn from_hex(text: &str) -> Option<LinkKey> {
        hex::decode(text.trim()).ok().filter(|k| k.len() >= 16).map(LinkKey)
    }

    /// A new random key, as hex (256 bits from the operating system's generator, through UUID v4).
    pub fn generate_hex() -> String {
        format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
    }

    fn mac(&self, page: &str, recipient: &str, expires: i64) -> Hmac<Sha256> {
        self.mac_of(&["clarion-ack", page, recipient, &expires.to_string()])
    }

    /// The HMAC of `parts`, each ended by a newline; the first part names the purpose, so a tag made for
    /// one purpose (a link, a session, a form) is never valid for another.
    fn mac_of(&self, parts: &[&str]) -> Hmac<Sha256> {
        // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| {
            <Hmac<Sha256> as Mac>::new_from_slice(b"clarion").expect("a fixed key is a valid HMAC key")
        });
        for part in parts {
            mac.update(part.as_bytes());
            mac.update(b"\n");
        }
        mac
    }

    /// A tag over `parts` (the first names its purpose), as hex: what signs the web pages' session cookies
    /// and their forms' CSRF tokens.
    pub fn sign(&self, parts: &[&str]) -> String {
        hex::encode(&self.mac_of(parts).finalize().into_bytes()[..SIGNATURE_BYTES])
    }

    /// Whether `tag` is [`LinkKey::sign`]'s tag of `parts`, compared in constant time.
    pub fn verify_tag(&self, parts: &[&str], tag: &str) -> bool {
        let Ok(tag) = hex::decode(tag) else { return false };
        tag.len() == SIGNATURE_BYTES && self.mac_of(parts).verify_truncated_left(&tag).is_ok()
    }

    /// The link that acknowledges `page` for `recipient` until `expires`.
    pub fn link(&self, external_url: &str, page: &str, recipient: &str, expires: Timestamp) -> String {
        let e = expires.timestamp();
        let sig = hex::encode(&self.mac(page, recipient, e).finalize().into_bytes()[..SIGNATURE_BYTES]);
        let query =
            serde_urlencoded::to_string([("r", recipient), ("e", &e.to_string()), ("s", &sig)]).unwrap_or_default();
        format!("{}/pages/{}/ack?{query}", external_url.trim_end_matches('/'), urlencode_path(page))
    }

    /// Checks a link for `page` at `now`; returns its recipient.
    pub fn verify(&self, page: &str, params: &LinkParams, now: Timestamp) -> Result<String, LinkError> {
        let (Some(r), Some(e), Some(s)) = (&params.r, params.e, &params.s) else { return Err(LinkError::Incomplete) };
        let sig = hex::decode(s).map_err(|_| LinkError::BadSignature)?;
        if sig.len() != SIGNATURE_BYTES {
            return Err(LinkError::BadSignature);
        }
        // Constant-time comparison of the truncated tag.
        self.mac(page, r, e).verify_truncated_left(&sig).map_err(|_| LinkError::BadSignature)?;
        if e < now.timestamp() {
            return Err(LinkError::Expired);
        }
        Ok(r.clone())
    }
}

/// Page ids are hex, but a path segment is escaped all the same.
fn urlencode_path(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(secs: i64) -> Timestamp {
        chrono::Utc.timestamp_opt(1_800_000_000 + secs, 0).single().unwrap_or_default()
    }

    fn params(link: &str) -> LinkParams {
        let query = link.split_once('?').map(|(_, q)| q).unwrap_or("");
        serde_urlencoded::from_str(query).unwrap_or_default()
    }

    fn key() -> LinkKey {
        LinkKey::from_hex(&LinkKey::generate_hex()).unwrap_or_else(|| LinkKey(vec![7; 32]))
    }

    #[test]
    fn a_link_acknowledges_its_page_for_its_recipient_until_it_expires() {
        let key = key();
        let link = key.link("https://clarion.example.com/", "p1", "ops-slack", t(3600));
        assert!(link.starts_with("https://clarion.example.com/pages/p1/ack?r=ops-slack&e="), "{link}");
        assert_eq!(key.verify("p1", &params(&link), t(0)), Ok("ops-slack".to_string()));
        assert_eq!(key.verify("p1", &params(&link), t(3601)), Err(LinkError::Expired));
        assert_eq!(key.verify("p2", &params(&link), t(0)), Err(LinkError::BadSignature), "another page's link");
    }

    #[test]
    fn altered_forged_and_incomplete_links_are_refused() {
        let key = key();
        let link = key.link("http://c", "p1", "ops-slack", t(3600));
        let mut altered = params(&link);
        altered.r = Some("someone-else".into());
        assert_eq!(key.verify("p1", &altered, t(0)), Err(LinkError::BadSignature));
        let mut later = params(&link);
        later.e = later.e.map(|e| e + 86_400);
        assert_eq!(key.verify("p1", &later, t(0)), Err(LinkError::BadSignature), "the expiry is signed");
        let forged = LinkKey(vec![1; 32]).link("http://c", "p1", "ops-slack", t(3600));
        assert_eq!(key.verify("p1", &params(&forged), t(0)), Err(LinkError::BadSignature), "another key");
        let mut garbled = params(&link);
        garbled.s = Some("zz".into());
        assert_eq!(key.verify("p1", &garbled, t(0)), Err(LinkError::BadSignature));
        assert_eq!(key.verify("p1", &LinkParams::default(), t(0)), Err(LinkError::Incomplete));
    }

    #[test]
    fn the_key_never_prints() {
        assert_eq!(format!("{:?}", key()), "LinkKey(<redacted>)");
    }
}
