//! Negative cases of the callback crypto, each checked against its WXBizMsgCrypt code.

use super::*;

const TOKEN: &str = "QDG6eK";
const KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
const CORP: &str = "wx5823bf96d3bd56c7";

fn crypter() -> Crypter {
    Crypter::new(TOKEN, KEY, CORP).unwrap()
}

/// A framed buffer as the encryptor builds it, before padding.
fn framed(msg: &[u8], declared_len: u32, receive_id: &[u8]) -> Vec<u8> {
    let mut buf = b"0123456789abcdef".to_vec();
    buf.extend_from_slice(&declared_len.to_be_bytes());
    buf.extend_from_slice(msg);
    buf.extend_from_slice(receive_id);
    buf
}

fn signed(c: &Crypter, encrypted: &str) -> String {
    c.signature("1409659813", "1372623149", encrypted)
}

fn decrypt_code(c: &Crypter, encrypted: &str) -> i32 {
    let sig = signed(c, encrypted);
    c.decrypt(&sig, "1409659813", "1372623149", encrypted)
        .unwrap_err()
        .code()
}

#[test]
fn official_key_decodes_despite_trailing_bits() {
    let c = crypter();
    assert_eq!(
        hex::encode(c.key),
        "8d69989bbaabe67328014c194631ad0719b3dca035b64023df292447aab60760"
    );
}

#[test]
fn bad_keys_are_40004() {
    for key in [
        "",
        "short",
        &KEY[..42],
        &format!("{KEY}A"),
        "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2!",
        "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2我",
    ] {
        let err = Crypter::new(TOKEN, key, CORP).unwrap_err();
        assert_eq!(err, CryptoError::IllegalAesKey, "{key:?}");
        assert_eq!(err.code(), -40004);
    }
}

#[test]
fn changed_signature_is_40001() {
    let c = crypter();
    let (enc, sig) = c.encrypt("<xml/>", "1372623149", "1409659813").unwrap();
    let mut flipped = sig.clone().into_bytes();
    flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
    let flipped = String::from_utf8(flipped).unwrap();
    for bad in [flipped.as_str(), "", &sig[..39]] {
        let err = c
            .decrypt(bad, "1409659813", "1372623149", &enc)
            .unwrap_err();
        assert_eq!(err.code(), -40001);
    }
    // A different token is a different signature.
    let other = Crypter::new("other", KEY, CORP).unwrap();
    assert_eq!(
        other
            .decrypt(&sig, "1409659813", "1372623149", &enc)
            .unwrap_err()
            .code(),
        -40001
    );
}

#[test]
fn wrong_receive_id_is_40005() {
    let c = crypter();
    let (enc, sig) = c.encrypt("hello", "n", "1").unwrap();
    for expected in [
        "",
        "wx5823bf96d3bd56c8",
        "wx5823bf96d3bd56c",
        "WX5823BF96D3BD56C7",
    ] {
        let other = Crypter::new(TOKEN, KEY, expected).unwrap();
        assert_eq!(
            other.decrypt(&sig, "1", "n", &enc).unwrap_err().code(),
            -40005
        );
    }
    // And the other way: a robot payload (empty receiveid) is refused by the app crypter.
    let robot = Crypter::new(TOKEN, KEY, "").unwrap();
    let (enc, sig) = robot.encrypt("hello", "n", "1").unwrap();
    assert_eq!(c.decrypt(&sig, "1", "n", &enc).unwrap_err().code(), -40005);
    assert_eq!(robot.decrypt(&sig, "1", "n", &enc).unwrap(), "hello");
}

#[test]
fn bad_base64_is_40010() {
    let c = crypter();
    for enc in ["not base64!", "QUJD=", "QUJDRA", "QUJD RA==", "Q"] {
        assert_eq!(decrypt_code(&c, enc), -40010, "{enc:?}");
    }
}

#[test]
fn ciphertext_not_in_blocks_is_40007() {
    let c = crypter();
    // Valid base64 of 15 and 17 bytes, and of nothing.
    for raw in [vec![0u8; 15], vec![0u8; 17], vec![]] {
        let enc = STANDARD.encode(raw);
        assert_eq!(decrypt_code(&c, &enc), -40007);
    }
}

#[test]
fn bad_padding_is_40008() {
    let c = crypter();
    let mut buf = framed(b"hello", 5, CORP.as_bytes());
    padding::pad(&mut buf);
    // Pad count 0, pad count above 32, and pad bytes that disagree.
    for tamper in [0u8, 33, 200] {
        let mut bad = buf.clone();
        let last = bad.len() - 1;
        bad[last] = tamper;
        assert_eq!(decrypt_code(&c, &c.encrypt_raw_for_test(bad)), -40008);
    }
    let mut bad = buf.clone();
    let pad = usize::from(bad[bad.len() - 1]);
    assert!(pad >= 2);
    let idx = bad.len() - 2;
    bad[idx] ^= 0x01;
    assert_eq!(decrypt_code(&c, &c.encrypt_raw_for_test(bad)), -40008);
    // The untampered buffer decrypts, so the cases above fail only because of their padding.
    let good = c.encrypt_raw_for_test(buf);
    assert_eq!(
        c.decrypt(&signed(&c, &good), "1409659813", "1372623149", &good)
            .unwrap(),
        "hello"
    );
}

#[test]
fn short_buffer_is_40008() {
    let c = crypter();
    // 19 bytes of content: less than random + length header.
    let mut short = vec![b'x'; 19];
    padding::pad(&mut short);
    assert_eq!(decrypt_code(&c, &c.encrypt_raw_for_test(short)), -40008);
    // A length field longer than the rest of the buffer.
    let mut overlong = framed(b"hello", 500, CORP.as_bytes());
    padding::pad(&mut overlong);
    assert_eq!(decrypt_code(&c, &c.encrypt_raw_for_test(overlong)), -40008);
    let mut huge = framed(b"hello", u32::MAX, b"");
    padding::pad(&mut huge);
    assert_eq!(decrypt_code(&c, &c.encrypt_raw_for_test(huge)), -40008);
}

#[test]
fn non_utf8_message_is_40008() {
    let c = crypter();
    let mut buf = framed(&[0xff, 0xfe], 2, CORP.as_bytes());
    padding::pad(&mut buf);
    assert_eq!(decrypt_code(&c, &c.encrypt_raw_for_test(buf)), -40008);
}

#[test]
fn debug_output_hides_secrets() {
    let shown = format!("{:?}", crypter());
    assert!(shown.contains(CORP));
    assert!(!shown.contains(TOKEN));
    assert!(!shown.contains("141, 105")); // first key bytes 0x8d, 0x69
}
