//! WeCom callback crypto (WXBizMsgCrypt): signatures, AES-256-CBC payloads and receiveid checks.
//!
//! Layout of a payload (protocol notes §1.3): 16 random bytes, a 4-byte big-endian length, the
//! message, the receiveid, then PKCS#7 padding to 32 bytes; AES-256-CBC with the key's first 16
//! bytes as IV; standard base64. One [`Crypter`] serves one surface (app, group robot, AI bot).

mod error;
mod padding;
pub mod signature;

pub use error::CryptoError;

use aes::Aes256;
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use rand::RngCore;

use crate::callback::CallbackQuery;

/// EncodingAESKeys are random 43-char strings whose last character usually carries non-zero
/// trailing bits (the official sample key does), so the strict standard engine would refuse them.
const KEY_ENGINE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

const ENCODING_AES_KEY_LEN: usize = 43;
const RANDOM_LEN: usize = 16;
const LENGTH_LEN: usize = 4;
const HEADER_LEN: usize = RANDOM_LEN + LENGTH_LEN;
const AES_BLOCK: usize = 16;

/// Verifies, decrypts and encrypts callbacks for one WeCom surface.
///
/// `receive_id` is the corp id for the self-built app and the empty string for the group robot
/// and the AI bot (protocol notes §1.6).
#[derive(Clone)]
pub struct Crypter {
    token: String,
    key: [u8; 32],
    receive_id: String,
}

impl std::fmt::Debug for Crypter {
    // The token and key are secrets: only the receiveid may appear in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Crypter")
            .field("receive_id", &self.receive_id)
            .finish_non_exhaustive()
    }
}

impl Crypter {
    /// Builds a crypter from the surface's Token, its 43-character EncodingAESKey and the expected receiveid.
    pub fn new(token: &str, encoding_aes_key: &str, receive_id: &str) -> Result<Self, CryptoError> {
        if encoding_aes_key.len() != ENCODING_AES_KEY_LEN {
            return Err(CryptoError::IllegalAesKey);
        }
        let decoded = KEY_ENGINE
            .decode(encoding_aes_key)
            .map_err(|_| CryptoError::IllegalAesKey)?;
        let key: [u8; 32] = decoded.try_into().map_err(|_| CryptoError::IllegalAesKey)?;
        Ok(Self {
            token: token.to_owned(),
            key,
            receive_id: receive_id.to_owned(),
        })
    }

    /// The receiveid this crypter expects inside payloads and writes into replies.
    pub fn receive_id(&self) -> &str {
        &self.receive_id
    }

    /// The `msg_signature` for this token over `timestamp`, `nonce` and an encrypted payload.
    pub fn signature(&self, timestamp: &str, nonce: &str, encrypted: &str) -> String {
        signature::compute(&self.token, timestamp, nonce, encrypted)
    }

    /// Checks `msg_signature` in constant time.
    pub fn verify_signature(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        encrypted: &str,
    ) -> Result<(), CryptoError> {
        let expected = self.signature(timestamp, nonce, encrypted);
        if signature::matches(&expected, msg_signature) {
            Ok(())
        } else {
            Err(CryptoError::InvalidSignature)
        }
    }

    /// GET URL verification: checks the signature over the (already URL-decoded) `echostr` and
    /// returns the plaintext to answer with, byte for byte.
    pub fn verify_url(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        echostr: &str,
    ) -> Result<String, CryptoError> {
        self.decrypt(msg_signature, timestamp, nonce, echostr)
    }

    /// POST callback: checks the signature over the `Encrypt` value, then decrypts it and checks
    /// the receiveid. Returns the plaintext message (XML or JSON).
    pub fn decrypt(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        encrypted: &str,
    ) -> Result<String, CryptoError> {
        self.verify_signature(msg_signature, timestamp, nonce, encrypted)?;
        self.decrypt_unsigned(encrypted)
    }

    /// Decrypts a payload whose signature was checked elsewhere (or that carries none, such as
    /// an encrypted reply read back in a test). Still checks padding, framing and receiveid.
    pub fn decrypt_unsigned(&self, encrypted: &str) -> Result<String, CryptoError> {
        let mut buf = STANDARD
            .decode(encrypted)
            .map_err(|_| CryptoError::DecodeBase64)?;
        if buf.is_empty() || buf.len() % AES_BLOCK != 0 {
            return Err(CryptoError::DecryptAes);
        }
        let plain = cbc::Decryptor::<Aes256>::new(&self.key.into(), &self.iv().into())
            .decrypt_padded_mut::<NoPadding>(&mut buf)
            .map_err(|_| CryptoError::DecryptAes)?;
        let framed = padding::unpad(plain)?;
        if framed.len() < HEADER_LEN {
            return Err(CryptoError::IllegalBuffer(
                "shorter than the 20-byte header",
            ));
        }
        let mut length = [0u8; LENGTH_LEN];
        length.copy_from_slice(&framed[RANDOM_LEN..HEADER_LEN]);
        let msg_len = usize::try_from(u32::from_be_bytes(length))
            .map_err(|_| CryptoError::IllegalBuffer("length field out of range"))?;
        let rest = &framed[HEADER_LEN..];
        if msg_len > rest.len() {
            return Err(CryptoError::IllegalBuffer(
                "length field exceeds the buffer",
            ));
        }
        let (msg, receive_id) = rest.split_at(msg_len);
        if receive_id != self.receive_id.as_bytes() {
            return Err(CryptoError::ReceiveIdMismatch);
        }
        String::from_utf8(msg.to_vec())
            .map_err(|_| CryptoError::IllegalBuffer("message is not UTF-8"))
    }

    /// A whole POST with an XML envelope (app, group robot): reads `Encrypt`, verifies, decrypts.
    pub fn open_xml(&self, query: &CallbackQuery, body: &str) -> Result<String, CryptoError> {
        let encrypted = crate::envelope::encrypt_from_xml(body)?;
        self.decrypt(
            &query.msg_signature,
            &query.timestamp,
            &query.nonce,
            &encrypted,
        )
    }

    /// A whole POST with a JSON envelope (AI bot): reads `encrypt`, verifies, decrypts.
    pub fn open_json(&self, query: &CallbackQuery, body: &str) -> Result<String, CryptoError> {
        let encrypted = crate::envelope::encrypt_from_json(body)?;
        self.decrypt(
            &query.msg_signature,
            &query.timestamp,
            &query.nonce,
            &encrypted,
        )
    }

    /// A whole GET URL verification: the answer to send back, byte for byte.
    pub fn open_url_check(&self, query: &CallbackQuery) -> Result<String, CryptoError> {
        let echostr = query
            .echostr
            .as_deref()
            .ok_or_else(|| CryptoError::ParseEnvelope("query lacks echostr".into()))?;
        self.verify_url(
            &query.msg_signature,
            &query.timestamp,
            &query.nonce,
            echostr,
        )
    }

    /// Encrypts a reply with a fresh random prefix from the OS CSPRNG and signs it.
    ///
    /// Returns `(encrypted, msg_signature)`; put both into [`crate::envelope::xml_reply`] or
    /// [`crate::envelope::json_reply`] with the same `nonce` and `timestamp`.
    pub fn encrypt(
        &self,
        plaintext: &str,
        nonce: &str,
        timestamp: &str,
    ) -> Result<(String, String), CryptoError> {
        let mut random = [0u8; RANDOM_LEN];
        rand::rngs::OsRng.fill_bytes(&mut random);
        self.encrypt_with_random(random, plaintext, nonce, timestamp)
    }

    /// [`Crypter::encrypt`] with a caller-chosen 16-byte prefix: for published test vectors only.
    /// A fixed prefix makes equal replies produce equal ciphertexts.
    pub fn encrypt_with_random(
        &self,
        random: [u8; RANDOM_LEN],
        plaintext: &str,
        nonce: &str,
        timestamp: &str,
    ) -> Result<(String, String), CryptoError> {
        let msg_len = u32::try_from(plaintext.len()).map_err(|_| CryptoError::EncryptAes)?;
        let mut buf = Vec::with_capacity(
            HEADER_LEN + plaintext.len() + self.receive_id.len() + padding::BLOCK,
        );
        buf.extend_from_slice(&random);
        buf.extend_from_slice(&msg_len.to_be_bytes());
        buf.extend_from_slice(plaintext.as_bytes());
        buf.extend_from_slice(self.receive_id.as_bytes());
        padding::pad(&mut buf);
        let len = buf.len();
        let cipher = cbc::Encryptor::<Aes256>::new(&self.key.into(), &self.iv().into())
            .encrypt_padded_mut::<NoPadding>(&mut buf, len)
            .map_err(|_| CryptoError::EncryptAes)?;
        let encrypted = STANDARD.encode(cipher);
        let signature = self.signature(timestamp, nonce, &encrypted);
        Ok((encrypted, signature))
    }

    /// Encrypts and signs `plaintext` and wraps it in the XML reply envelope (app, group robot).
    pub fn seal_xml(
        &self,
        plaintext: &str,
        nonce: &str,
        timestamp: &str,
    ) -> Result<String, CryptoError> {
        let (encrypted, signature) = self.encrypt(plaintext, nonce, timestamp)?;
        Ok(crate::envelope::xml_reply(
            &encrypted, &signature, timestamp, nonce,
        ))
    }

    /// Encrypts and signs `plaintext` and wraps it in the JSON reply envelope (AI bot). The AI
    /// bot requires `nonce` to be the one from the callback's query string.
    pub fn seal_json(
        &self,
        plaintext: &str,
        nonce: &str,
        timestamp: &str,
    ) -> Result<String, CryptoError> {
        let (encrypted, signature) = self.encrypt(plaintext, nonce, timestamp)?;
        Ok(crate::envelope::json_reply(
            &encrypted, &signature, timestamp, nonce,
        ))
    }

    fn iv(&self) -> [u8; AES_BLOCK] {
        let mut iv = [0u8; AES_BLOCK];
        iv.copy_from_slice(&self.key[..AES_BLOCK]);
        iv
    }

    #[cfg(test)]
    fn encrypt_raw_for_test(&self, mut padded: Vec<u8>) -> String {
        let len = padded.len();
        let cipher = cbc::Encryptor::<Aes256>::new(&self.key.into(), &self.iv().into())
            .encrypt_padded_mut::<NoPadding>(&mut padded, len)
            .unwrap();
        STANDARD.encode(cipher)
    }
}

#[cfg(test)]
mod tests;
