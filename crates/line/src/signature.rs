//! Webhook signature: `x-line-signature` = base64(HMAC-SHA256(channel secret, raw body)).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

fn mac(channel_secret: &[u8], body: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
    let mut mac = match HmacSha256::new_from_slice(channel_secret) {
        Ok(m) => m,
        Err(_) => return [0; 32],
    };
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// The header value LINE sends for `body` signed with `channel_secret`.
pub fn sign(channel_secret: &[u8], body: &[u8]) -> String {
    STANDARD.encode(mac(channel_secret, body))
}

/// Whether `header` (the `x-line-signature` value) is the signature of `body`.
/// The comparison of the digests is constant-time; a header that is not base64 of
/// 32 bytes is refused.
pub fn verify(channel_secret: &[u8], body: &[u8], header: &str) -> bool {
    let Ok(given) = STANDARD.decode(header.trim()) else {
        return false;
    };
    if given.len() != 32 {
        return false;
    }
    let expected = mac(channel_secret, body);
    bool::from(expected.as_slice().ct_eq(given.as_slice()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
    const RFC4231_HEX: &str = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";

    #[test]
    fn known_vector() {
        let sig = sign(b"Jefe", b"what do ya want for nothing?");
        let bytes = STANDARD.decode(&sig).unwrap_or_default();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, RFC4231_HEX);
        assert_eq!(sig, "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
        assert!(verify(b"Jefe", b"what do ya want for nothing?", &sig));
    }

    #[test]
    fn refuses_wrong_or_malformed() {
        let body = br#"{"destination":"U0","events":[]}"#;
        let sig = sign(b"secret", body);
        assert!(verify(b"secret", body, &sig));
        assert!(!verify(b"other", body, &sig));
        assert!(!verify(b"secret", b"{}", &sig));
        assert!(!verify(b"secret", body, ""));
        assert!(!verify(b"secret", body, "not base64!"));
        assert!(!verify(b"secret", body, "AAAA"));
    }
}
