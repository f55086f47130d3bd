//! The one error type of the callback crypto, with the WXBizMsgCrypt return code of each case.

/// Everything that can go wrong while verifying, decrypting or encrypting a WeCom callback.
///
/// [`CryptoError::code`] gives the `-400xx` value the official WXBizMsgCrypt SDKs use for the same
/// failure (protocol notes §1.8), so logs can be compared with WeCom's documentation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// `msg_signature` does not match SHA-1 over token, timestamp, nonce and payload.
    #[error("signature mismatch")]
    InvalidSignature,
    /// The XML or JSON envelope could not be read, or has no `Encrypt`/`encrypt` field.
    #[error("envelope could not be parsed: {0}")]
    ParseEnvelope(String),
    /// The EncodingAESKey is not 43 characters of base64 decoding to 32 bytes.
    #[error("EncodingAESKey is invalid")]
    IllegalAesKey,
    /// The receiveid inside the payload is not the one this surface expects.
    #[error("receiveid in the payload does not match")]
    ReceiveIdMismatch,
    /// The plaintext is too large to be framed (its length must fit in 32 bits).
    #[error("payload too large to encrypt")]
    EncryptAes,
    /// The ciphertext is empty or not a whole number of AES blocks.
    #[error("ciphertext is not a whole number of AES blocks")]
    DecryptAes,
    /// The decrypted buffer has bad padding, is too short, or its length field or text is invalid.
    #[error("decrypted buffer is malformed: {0}")]
    IllegalBuffer(&'static str),
    /// The payload is not standard base64.
    #[error("payload is not valid base64")]
    DecodeBase64,
    /// A reply envelope could not be built.
    #[error("reply envelope could not be built: {0}")]
    BuildReply(String),
}

impl CryptoError {
    /// The WXBizMsgCrypt return code for this error (`-40001` … `-40011`).
    pub fn code(&self) -> i32 {
        match self {
            CryptoError::InvalidSignature => -40001,
            CryptoError::ParseEnvelope(_) => -40002,
            CryptoError::IllegalAesKey => -40004,
            CryptoError::ReceiveIdMismatch => -40005,
            CryptoError::EncryptAes => -40006,
            CryptoError::DecryptAes => -40007,
            CryptoError::IllegalBuffer(_) => -40008,
            CryptoError::DecodeBase64 => -40010,
            CryptoError::BuildReply(_) => -40011,
        }
    }
}
