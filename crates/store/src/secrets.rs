//! Credentials Hiroba keeps for other systems (the LINE channels' secrets and
//! access tokens) are sealed with a key that lives outside the database
//! (S02, issue 5): a copy of the database or a backup alone does not reveal
//! them, on SQLite as on PostgreSQL.
//!
//! AES-256-GCM (ring) with a random 96-bit nonce per value; the sealed text is
//! `v1:` + base64(nonce ‖ ciphertext ‖ tag). The key comes from
//! `HIROBA_SECRET_KEY` or the secret key file (see the binary's configuration).
//! A check value stored once in `settings` makes an instance started with a
//! different key refuse to start instead of failing later on every call.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use crate::{Db, DbKey, Result, StoreError, on_pool};

const PREFIX: &str = "v1:";
const CHECK_KEY: &str = "secrets:check";
const CHECK_TEXT: &str = "hiroba-secrets-v1";

/// Seals and opens short secrets. Debug output never shows the key.
#[derive(Clone)]
pub struct SecretBox {
    key: std::sync::Arc<LessSafeKey>,
}

impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBox(***)")
    }
}

impl SecretBox {
    pub fn new(key: &DbKey) -> Result<Self> {
        let unbound = UnboundKey::new(&AES_256_GCM, key.as_bytes())
            .map_err(|_| StoreError::Secret("the secret key has the wrong length".into()))?;
        Ok(Self {
            key: std::sync::Arc::new(LessSafeKey::new(unbound)),
        })
    }

    /// A box with a fresh random key (tests).
    pub fn random() -> Result<Self> {
        let key = DbKey::generate().map_err(StoreError::Secret)?;
        Self::new(&key)
    }

    /// Seals `plain`; the empty string stays empty (nothing configured).
    pub fn seal(&self, plain: &str) -> Result<String> {
        if plain.is_empty() {
            return Ok(String::new());
        }
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| StoreError::Secret("no random numbers".into()))?;
        let mut data = plain.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
            .map_err(|_| StoreError::Secret("sealing failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
    }

    /// Opens a value sealed by [`SecretBox::seal`] with the same key.
    pub fn open(&self, sealed: &str) -> Result<String> {
        if sealed.is_empty() {
            return Ok(String::new());
        }
        let wrong = || {
            StoreError::Secret(
                "a stored secret cannot be opened with this secret key (HIROBA_SECRET_KEY / secret_key_file)".into(),
            )
        };
        let body = sealed.strip_prefix(PREFIX).ok_or_else(wrong)?;
        let bytes = STANDARD.decode(body).map_err(|_| wrong())?;
        if bytes.len() < NONCE_LEN {
            return Err(wrong());
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| wrong())?;
        let mut data = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::empty(), &mut data)
            .map_err(|_| wrong())?;
        String::from_utf8(plain.to_vec()).map_err(|_| wrong())
    }

    /// Stores the check value on first use and proves this key opens it, so
    /// every app instance runs with the same key.
    pub async fn verify_against(&self, db: &Db) -> Result<()> {
        let sealed = self.seal(CHECK_TEXT)?;
        on_pool!(db, pool => sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING"
        )
        .bind(CHECK_KEY)
        .bind(&sealed)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        let stored: String = on_pool!(db, pool => sqlx::query_scalar(
            "SELECT value FROM settings WHERE key = $1"
        )
        .bind(CHECK_KEY)
        .fetch_one(pool)
        .await)?;
        match self.open(&stored) {
            Ok(text) if text == CHECK_TEXT => Ok(()),
            _ => Err(StoreError::SecretKeyMismatch),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trip_and_fresh_nonce() {
        let b = SecretBox::random().unwrap();
        let a1 = b.seal("token-123").unwrap();
        let a2 = b.seal("token-123").unwrap();
        assert_ne!(a1, a2, "each seal uses a fresh nonce");
        assert!(!a1.contains("token"));
        assert_eq!(b.open(&a1).unwrap(), "token-123");
        assert_eq!(b.seal("").unwrap(), "");
        assert_eq!(b.open("").unwrap(), "");
    }

    #[test]
    fn another_key_or_a_changed_byte_is_refused() {
        let b = SecretBox::random().unwrap();
        let other = SecretBox::random().unwrap();
        let sealed = b.seal("secret").unwrap();
        assert!(other.open(&sealed).is_err());
        let mut bytes = STANDARD.decode(&sealed[3..]).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(b.open(&format!("v1:{}", STANDARD.encode(bytes))).is_err());
        assert!(b.open("plain text").is_err());
    }
}
