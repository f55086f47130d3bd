//! Keeping personal data unreadable at rest: a keyed hash of the ID number (for "one ID number,
//! one member") and authenticated encryption of phone numbers.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::identity::{IdNumber, Phone};

const NONCE_LEN: usize = 12;

/// Used only by `rallybot chat` and tests, never with real people's data.
pub const DEVELOPMENT_PEPPER: &str = "rallybot-development-pepper-NOT-FOR-PRODUCTION";
/// 32 bytes, base64; used only by `rallybot chat` and tests.
pub const DEVELOPMENT_KEY_BASE64: &str = "cmFsbHlib3QtZGV2LWtleS1OT1QtRk9SLVBST0RVQ1Q=";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrivacyError {
    #[error("privacy.pepper is empty")]
    EmptyPepper,
    #[error("privacy.key is empty")]
    EmptyKey,
    #[error("privacy.key is not valid base64")]
    KeyNotBase64,
    #[error("privacy.key must decode to 32 bytes, got {0}")]
    KeyLength(usize),
    #[error("the stored phone number cannot be decrypted (wrong key or damaged data)")]
    Decrypt,
}

/// The privacy secrets. `Debug` never prints them.
#[derive(Clone)]
pub struct Privacy {
    pepper: Vec<u8>,
    cipher: Aes256Gcm,
    /// HMAC keyed for the ledger export's member keys (see `member_key`).
    member_keys: Hmac<Sha256>,
}

impl std::fmt::Debug for Privacy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Privacy { .. }")
    }
}

impl Privacy {
    /// From config `privacy.pepper` and `privacy.key` (32 bytes, base64). Both must be set.
    pub fn new(pepper: &str, key_base64: &str) -> Result<Self, PrivacyError> {
        if pepper.is_empty() {
            return Err(PrivacyError::EmptyPepper);
        }
        let key_base64 = key_base64.trim();
        if key_base64.is_empty() {
            return Err(PrivacyError::EmptyKey);
        }
        let key = BASE64
            .decode(key_base64)
            .map_err(|_| PrivacyError::KeyNotBase64)?;
        let cipher =
            Aes256Gcm::new_from_slice(&key).map_err(|_| PrivacyError::KeyLength(key.len()))?;
        // A key of its own, derived from the pepper: a member key can never be compared with
        // an ID-number hash.
        let mut derive = hmac_with(pepper.as_bytes());
        derive.update(b"rallybot ledger member key v1");
        let member_keys = hmac_with(&derive.finalize().into_bytes());
        Ok(Self {
            pepper: pepper.as_bytes().to_vec(),
            cipher,
            member_keys,
        })
    }

    /// Fixed, public secrets for the local console and tests only.
    pub fn for_development() -> Self {
        match Self::new(DEVELOPMENT_PEPPER, DEVELOPMENT_KEY_BASE64) {
            Ok(privacy) => privacy,
            // The constants above are checked by a test; this arm cannot be reached.
            Err(e) => unreachable!("development privacy constants are invalid: {e}"),
        }
    }

    /// Hex HMAC-SHA256 of the normalised ID number under the pepper.
    pub fn id_hash(&self, id: &IdNumber) -> String {
        let mut mac = hmac_with(&self.pepper);
        mac.update(id.clear().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// A pseudonymous key for a member in the ledger export: 16 hex digits of a keyed hash of
    /// the userid. The same member always gets the same key (so one member's gives can be
    /// followed through the file), and nobody without the pepper can tell whose it is or
    /// recompute it from a userid.
    pub fn member_key(&self, userid: &str) -> String {
        let mut mac = self.member_keys.clone();
        mac.update(userid.as_bytes());
        let digest = mac.finalize().into_bytes();
        hex::encode(&digest[..8])
    }

    /// Base64 of a fresh random 12-byte nonce followed by the AES-256-GCM ciphertext and tag.
    pub fn encrypt_phone(&self, phone: &Phone) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = match self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), phone.reveal().as_bytes())
        {
            Ok(sealed) => sealed,
            // GCM only fails for plaintexts of many gigabytes.
            Err(e) => unreachable!("AES-GCM refused an 11-byte plaintext: {e}"),
        };
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        BASE64.encode(out)
    }

    /// The phone number back from `encrypt_phone`'s output; any change to it is an error.
    pub fn decrypt_phone(&self, sealed: &str) -> Result<Phone, PrivacyError> {
        let bytes = BASE64
            .decode(sealed.trim())
            .map_err(|_| PrivacyError::Decrypt)?;
        if bytes.len() <= NONCE_LEN {
            return Err(PrivacyError::Decrypt);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| PrivacyError::Decrypt)?;
        let text = String::from_utf8(plain).map_err(|_| PrivacyError::Decrypt)?;
        Phone::parse(&text).map_err(|_| PrivacyError::Decrypt)
    }
}

/// HMAC-SHA256 keyed with `key`.
fn hmac_with(key: &[u8]) -> Hmac<Sha256> {
    match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mac) => mac,
        // HMAC accepts keys of any length.
        Err(e) => unreachable!("HMAC rejected its key: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn id() -> IdNumber {
        IdNumber::parse(
            "11010519491231002X",
            NaiveDate::from_ymd_opt(2022, 1, 1).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn development_secrets_are_valid() {
        let key = BASE64.decode(DEVELOPMENT_KEY_BASE64).unwrap();
        assert_eq!(key.len(), 32);
        assert!(Privacy::new(DEVELOPMENT_PEPPER, DEVELOPMENT_KEY_BASE64).is_ok());
    }

    #[test]
    fn empty_or_bad_secrets_are_errors() {
        assert_eq!(
            Privacy::new("", DEVELOPMENT_KEY_BASE64).unwrap_err(),
            PrivacyError::EmptyPepper
        );
        assert_eq!(Privacy::new("p", "").unwrap_err(), PrivacyError::EmptyKey);
        assert_eq!(
            Privacy::new("p", "***").unwrap_err(),
            PrivacyError::KeyNotBase64
        );
        assert_eq!(
            Privacy::new("p", &BASE64.encode([1u8; 16])).unwrap_err(),
            PrivacyError::KeyLength(16)
        );
    }

    #[test]
    fn id_hash_is_stable_and_keyed() {
        let a = Privacy::for_development();
        let b = Privacy::for_development();
        let other = Privacy::new("another pepper", DEVELOPMENT_KEY_BASE64).unwrap();
        let hash = a.id_hash(&id());
        assert_eq!(hash.len(), 64);
        assert_eq!(hash, b.id_hash(&id()));
        assert_ne!(hash, other.id_hash(&id()));
        assert!(!hash.contains("19491231"));
        let lower = IdNumber::parse(
            "11010519491231002x",
            NaiveDate::from_ymd_opt(2022, 1, 1).unwrap(),
        )
        .unwrap();
        assert_eq!(hash, a.id_hash(&lower));
    }

    #[test]
    fn phone_encryption_round_trips_with_fresh_nonces() {
        let privacy = Privacy::for_development();
        let phone = Phone::parse("13812345678").unwrap();
        let one = privacy.encrypt_phone(&phone);
        let two = privacy.encrypt_phone(&phone);
        assert_ne!(one, two);
        assert!(!one.contains("13812345678"));
        assert_eq!(privacy.decrypt_phone(&one).unwrap(), phone);
        assert_eq!(privacy.decrypt_phone(&two).unwrap(), phone);
    }

    #[test]
    fn tampered_or_foreign_ciphertexts_are_rejected() {
        let privacy = Privacy::for_development();
        let sealed = privacy.encrypt_phone(&Phone::parse("13812345678").unwrap());
        let mut bytes = BASE64.decode(&sealed).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(
            privacy.decrypt_phone(&BASE64.encode(&bytes)),
            Err(PrivacyError::Decrypt)
        );
        bytes[last] ^= 1;
        bytes[NONCE_LEN] ^= 0x80;
        assert_eq!(
            privacy.decrypt_phone(&BASE64.encode(&bytes)),
            Err(PrivacyError::Decrypt)
        );
        assert_eq!(
            privacy.decrypt_phone("not base64!"),
            Err(PrivacyError::Decrypt)
        );
        assert_eq!(privacy.decrypt_phone(""), Err(PrivacyError::Decrypt));
        let other_key = Privacy::new(DEVELOPMENT_PEPPER, &BASE64.encode([7u8; 32])).unwrap();
        assert_eq!(other_key.decrypt_phone(&sealed), Err(PrivacyError::Decrypt));
    }

    #[test]
    fn member_keys_are_stable_keyed_and_unlike_id_hashes() {
        let a = Privacy::for_development();
        let key = a.member_key("zhangsan");
        assert_eq!(key.len(), 16);
        assert!(key.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(key, Privacy::for_development().member_key("zhangsan"));
        assert_ne!(key, a.member_key("lisi"));
        let other = Privacy::new("another pepper", DEVELOPMENT_KEY_BASE64).unwrap();
        assert_ne!(key, other.member_key("zhangsan"));
        assert!(!a
            .id_hash(&id())
            .starts_with(&a.member_key("11010519491231002X")));
    }
}
