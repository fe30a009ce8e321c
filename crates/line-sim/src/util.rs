//! Random identifiers without an extra dependency: SHA-256 over a per-process
//! random seed (std's `RandomState` keys), a counter and the clock.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn seed() -> &'static [u64; 4] {
    static SEED: OnceLock<[u64; 4]> = OnceLock::new();
    SEED.get_or_init(|| {
        let mut out = [0u64; 4];
        for (i, slot) in out.iter_mut().enumerate() {
            let mut h = RandomState::new().build_hasher();
            h.write_usize(i);
            *slot = h.finish();
        }
        out
    })
}

pub(crate) fn random_bytes() -> [u8; 32] {
    let mut h = Sha256::new();
    for s in seed() {
        h.update(s.to_le_bytes());
    }
    h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    h.update(nanos.to_le_bytes());
    h.finalize().into()
}

pub(crate) fn random_hex(bytes: usize) -> String {
    let mut out = String::new();
    while out.len() < bytes * 2 {
        out.push_str(&hex::encode(random_bytes()));
    }
    out.truncate(bytes * 2);
    out
}

/// A version-4 UUID string (LINE's request ids look like this).
pub(crate) fn uuid() -> String {
    let mut b = [0u8; 16];
    b.copy_from_slice(&random_bytes()[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// `123e4567-e89b-12d3-a456-426614174000` shape, hex digits of either case.
pub(crate) fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A ULID-like 26-character id (48-bit milliseconds + 80 random bits, Crockford base32).
pub(crate) fn ulid() -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let rnd = random_bytes();
    let mut r: u128 = 0;
    for byte in &rnd[..10] {
        r = (r << 8) | u128::from(*byte);
    }
    let value: u128 = ((ms & 0xFFFF_FFFF_FFFF) << 80) | r;
    let mut out = [0u8; 26];
    for (i, slot) in out.iter_mut().enumerate() {
        let shift = (25 - i) * 5;
        *slot = ALPHABET[((value >> shift) & 0x1f) as usize];
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An 18-digit numeric message id.
pub(crate) fn message_id() -> String {
    let b = random_bytes();
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[..8]);
    format!("{:018}", u64::from_le_bytes(x) % 1_000_000_000_000_000_000)
}

/// A LINE-shaped user id: `U` + 32 lower-case hex digits.
pub fn new_user_id() -> String {
    format!("U{}", random_hex(16))
}

/// `U`/`C`/`R` followed by 32 hex digits.
pub(crate) fn is_line_id(s: &str) -> bool {
    s.len() == 33
        && matches!(s.as_bytes().first(), Some(b'U' | b'C' | b'R'))
        && s[1..].bytes().all(|c| c.is_ascii_hexdigit())
}

pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert!(is_uuid(&uuid()));
        assert!(!is_uuid("not-a-uuid"));
        assert_eq!(ulid().len(), 26);
        assert!(is_line_id(&new_user_id()));
        assert_eq!(message_id().len(), 18);
        assert_ne!(uuid(), uuid());
    }
}
