//! Any bytes as a sealed value, wrapped key or key file: parsing and opening
//! never panic, and nothing but the genuine value opens.

#![no_main]

use libfuzzer_sys::fuzz_target;
use privctl_vault::keys::{self, SecretKey, WrappedKey};
use privctl_vault::{sealed, Keyring};

fuzz_target!(|data: &[u8]| {
    let key = SecretKey::from_bytes([42; 32]);
    if let Ok(v) = sealed::SealedValue::parse(data) {
        // Random bytes must never authenticate (2^-128).
        assert!(sealed::open(&key, "ref_fuzz", "pan", &v).is_err());
        let _ = v.key_id();
    }
    // A genuine value with the fuzz input as record and field still round-trips.
    let text = String::from_utf8_lossy(data);
    let mid = text.char_indices().nth(text.chars().count() / 2).map_or(text.len(), |(i, _)| i);
    let (record, field) = text.split_at(mid);
    if let Ok(v) = sealed::seal(&key, 7, record, field, data) {
        let opened = sealed::open(&key, record, field, &v);
        assert_eq!(opened.as_deref().map(|p| p.as_slice()).ok(), Some(data));
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(ring) = Keyring::parse(s) {
            let _ = keys::unwrap(&ring, "subject", &WrappedKey { master_version: ring.newest(), bytes: data.to_vec() });
        }
    }
});
