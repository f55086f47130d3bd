//! PKCS#7 padding to a multiple of 32 bytes, as WeCom uses it (not the 16-byte AES block size).

use super::CryptoError;

/// WeCom pads to 32-byte multiples; RustCrypto's PKCS#7 would use 16 and reject real payloads.
pub const BLOCK: usize = 32;

/// Appends 1..=32 padding bytes, each equal to the pad count (a full block when already aligned).
pub fn pad(buf: &mut Vec<u8>) {
    let count = BLOCK - buf.len() % BLOCK;
    // `count` is in 1..=32, so it always fits in a byte.
    buf.resize(buf.len() + count, count as u8);
}

/// Returns the buffer without its padding; the pad count must be 1..=32 and all pad bytes equal.
pub fn unpad(buf: &[u8]) -> Result<&[u8], CryptoError> {
    let count = usize::from(
        *buf.last()
            .ok_or(CryptoError::IllegalBuffer("empty buffer"))?,
    );
    if !(1..=BLOCK).contains(&count) || count > buf.len() {
        return Err(CryptoError::IllegalBuffer("padding out of range"));
    }
    let (body, padding) = buf.split_at(buf.len() - count);
    if padding.iter().any(|&b| usize::from(b) != count) {
        return Err(CryptoError::IllegalBuffer("inconsistent padding bytes"));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_to_multiples_of_32() {
        for len in 0..100 {
            let mut buf = vec![7u8; len];
            pad(&mut buf);
            assert_eq!(buf.len() % BLOCK, 0);
            assert!(buf.len() > len && buf.len() <= len + BLOCK);
            assert_eq!(unpad(&buf).unwrap(), vec![7u8; len].as_slice());
        }
    }

    #[test]
    fn rejects_bad_padding() {
        assert!(unpad(&[]).is_err());
        assert!(unpad(&[1, 2, 0]).is_err());
        assert!(unpad(&[33; 64]).is_err());
        assert!(unpad(&[1, 3, 3]).is_err()); // first pad byte disagrees with the count
        assert!(unpad(&[1, 2, 3, 3, 2, 3]).is_err());
        assert_eq!(unpad(&[9, 9, 2, 2]).unwrap(), &[9, 9]);
    }
}
