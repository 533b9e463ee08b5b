//! The sealed format: known answers, and every way of breaking a value.

use privctl_vault::keys::SecretKey;
use privctl_vault::sealed::{self, SealedValue};
use privctl_vault::Error;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn known_answers_match_an_independent_implementation() {
    let doc: toml::Value =
        toml::from_str(include_str!("data/known_answers.toml")).expect("vectors");
    for v in doc["vector"].as_array().expect("vectors") {
        let s = |k: &str| v[k].as_str().expect(k).to_owned();
        let mut key = [0u8; 32];
        key.copy_from_slice(&unhex(&s("key")));
        let key = SecretKey::from_bytes(key);
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&unhex(&s("nonce")));
        let key_id = v["key_id"].as_integer().expect("key_id") as u32;
        let sealed = sealed::seal_with_nonce(
            &key,
            key_id,
            &s("record"),
            &s("field"),
            s("plaintext").as_bytes(),
            nonce,
        )
        .expect("seal");
        assert_eq!(hex(sealed.as_bytes()), s("sealed"));
        let parsed = SealedValue::parse(&unhex(&s("sealed"))).expect("parse");
        assert_eq!(parsed.key_id(), key_id);
        let plain = sealed::open(&key, &s("record"), &s("field"), &parsed).expect("open");
        assert_eq!(&*plain, s("plaintext").as_bytes());
    }
}

fn sample() -> (SecretKey, SealedValue) {
    let key = SecretKey::from_bytes([9; 32]);
    let v = sealed::seal(&key, 42, "ref_abc", "pan", b"ABCPE1234F").expect("seal");
    (key, v)
}

#[test]
fn every_flipped_bit_is_rejected() {
    let (key, v) = sample();
    let bytes = v.as_bytes().to_vec();
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[i] ^= 1 << bit;
            let opened =
                SealedValue::parse(&b).and_then(|s| sealed::open(&key, "ref_abc", "pan", &s));
            assert!(opened.is_err(), "byte {i} bit {bit} went unnoticed");
        }
    }
}

#[test]
fn wrong_key_record_field_or_truncation_is_rejected() {
    let (key, v) = sample();
    let other = SecretKey::from_bytes([8; 32]);
    assert!(matches!(
        sealed::open(&other, "ref_abc", "pan", &v),
        Err(Error::Tampered)
    ));
    assert!(matches!(
        sealed::open(&key, "ref_abd", "pan", &v),
        Err(Error::Tampered)
    ));
    assert!(matches!(
        sealed::open(&key, "ref_abc", "aadhaar", &v),
        Err(Error::Tampered)
    ));
    // Moving bytes between the record and field names must not help.
    assert!(matches!(
        sealed::open(&key, "ref_abcp", "an", &v),
        Err(Error::Tampered)
    ));
    let b = v.as_bytes();
    for n in 0..b.len() {
        let r = SealedValue::parse(&b[..n]).and_then(|s| sealed::open(&key, "ref_abc", "pan", &s));
        assert!(r.is_err(), "truncated to {n} bytes");
    }
    let mut wrong_version = b.to_vec();
    wrong_version[0] = 2;
    let err = SealedValue::parse(&wrong_version).expect_err("version 2");
    assert_eq!(
        err.to_string(),
        "not a sealed value: format version 2 is not supported (this release reads 1)"
    );
}

#[test]
fn nonces_are_fresh() {
    let key = SecretKey::from_bytes([1; 32]);
    let a = sealed::seal(&key, 1, "r", "pan", b"ABCPE1234F").expect("seal");
    let b = sealed::seal(&key, 1, "r", "pan", b"ABCPE1234F").expect("seal");
    assert_ne!(a, b);
}

#[test]
fn keys_never_reach_debug_output() {
    let key = SecretKey::from_bytes([0xab; 32]);
    assert_eq!(format!("{key:?}"), "SecretKey(<redacted>)");
    let ring = privctl_vault::Keyring::generate().expect("keyring");
    let text = ring.to_text();
    let debug = format!("{ring:?}");
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let hex = line.rsplit(' ').next().expect("hex");
        assert!(!debug.contains(hex));
    }
}
