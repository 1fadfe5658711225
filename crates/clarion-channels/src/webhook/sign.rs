//! Outbound webhook signatures: `X-Clarion-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` over
//! `"<t>.<body>"` with the channel's secret. A receiver recomputes the HMAC over the same string, compares
//! in constant time, and rejects timestamps too far from its clock (replay protection). See
//! docs/webhooks.md.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header name.
pub const HEADER: &str = "X-Clarion-Signature";

/// The header value for `body` sent at `unix_seconds`.
pub fn signature(secret: &[u8], unix_seconds: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else { return String::new() };
    mac.update(unix_seconds.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={unix_seconds},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a header value the way a receiver should (used by tests and documented for receivers).
pub fn verify(secret: &[u8], header: &str, body: &[u8], now_unix: i64, tolerance_secs: i64) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1 = hex::decode(v).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else { return false };
    if (now_unix - t).abs() > tolerance_secs {
        return false;
    }
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else { return false };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&v1).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_and_any_change_breaks_it() {
        let sig = signature(b"key", 1_700_000_000, b"{\"a\":1}");
        assert!(sig.starts_with("t=1700000000,v1="));
        assert!(verify(b"key", &sig, b"{\"a\":1}", 1_700_000_010, 300));
        assert!(!verify(b"other", &sig, b"{\"a\":1}", 1_700_000_010, 300));
        assert!(!verify(b"key", &sig, b"{\"a\":2}", 1_700_000_010, 300));
        assert!(!verify(b"key", &sig, b"{\"a\":1}", 1_700_001_000, 300), "too old");
        assert!(!verify(b"key", "garbage", b"{\"a\":1}", 1_700_000_010, 300));
    }

    #[test]
    fn matches_an_independent_hmac_sha256() {
        let sig = signature(b"Jefe", 0, b"what do ya want for nothing?");
        // python3 -c 'import hmac,hashlib; print(hmac.new(b"Jefe", b"0.what do ya want for nothing?",
        //   hashlib.sha256).hexdigest())'
        assert_eq!(sig, "t=0,v1=37f471929915ccd2cbbe79feb84ffcff4f2bb25e15fc41c2506687331ae179cc");
    }
}
