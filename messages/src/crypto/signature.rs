//! `msg_signature`: SHA-1 over the sorted token, timestamp, nonce and payload, compared in constant time.

use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

/// Lowercase hex SHA-1 of the four strings sorted byte-wise and joined with no separator.
pub fn compute(token: &str, timestamp: &str, nonce: &str, encrypted: &str) -> String {
    let mut parts = [token, timestamp, nonce, encrypted];
    parts.sort_unstable();
    let mut hasher = Sha1::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Whether `given` equals the expected signature; hex case is ignored, timing does not depend on content.
pub fn matches(expected: &str, given: &str) -> bool {
    if expected.len() != given.len() {
        return false;
    }
    let mut equal = subtle::Choice::from(1u8);
    for (e, g) in expected.bytes().zip(given.bytes()) {
        equal &= e.ct_eq(&g.to_ascii_lowercase());
    }
    equal.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_vector_a_signature() {
        let sig = compute(
            "QDG6eK",
            "1409659589",
            "263014780",
            "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
        );
        assert_eq!(sig, "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3");
    }

    #[test]
    fn comparison_is_exact_up_to_hex_case() {
        let sig = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3";
        assert!(matches(sig, sig));
        assert!(matches(sig, &sig.to_ascii_uppercase()));
        assert!(!matches(sig, "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd4"));
        assert!(!matches(sig, &sig[..39]));
        assert!(!matches(sig, ""));
    }
}
