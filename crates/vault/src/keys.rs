//! Key material: versioned master keys, the blind-index key, per-subject
//! data keys, and the wrapping of data keys under master keys.
//!
//! Every key is a newtype whose `Debug` never shows its bytes and whose
//! memory is zeroed when dropped.

use std::collections::BTreeMap;
use std::fmt;

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::{Zeroize, Zeroizing};

use crate::{Error, Result};

/// Length of every symmetric key in the vault.
pub const KEY_LEN: usize = 32;

/// 32 secret bytes, zeroed on drop, never printed.
#[derive(Clone)]
pub struct SecretKey(Zeroizing<[u8; KEY_LEN]>);

impl SecretKey {
    /// Wraps raw bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        SecretKey(Zeroizing::new(bytes))
    }

    /// Fresh random bytes from the system RNG.
    pub fn random() -> Result<Self> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        SystemRandom::new()
            .fill(bytes.as_mut())
            .map_err(|_| Error::Random)?;
        Ok(SecretKey(bytes))
    }

    /// The bytes, for the cipher.
    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != KEY_LEN * 2 {
            return None;
        }
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            bytes[i] = (hi * 16 + lo) as u8;
        }
        Some(SecretKey(bytes))
    }

    fn to_hex(&self) -> Zeroizing<String> {
        let mut s = Zeroizing::new(String::with_capacity(KEY_LEN * 2));
        for b in self.0.iter() {
            s.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
            s.push(char::from_digit(u32::from(b & 15), 16).unwrap_or('0'));
        }
        s
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// The keys a vault runs on: master keys by version (the newest wraps new
/// data keys) and the blind-index key. Kept in a key file or an environment
/// variable, never in the database.
///
/// ```
/// let ring = privctl_vault::Keyring::generate().unwrap();
/// let shown = format!("{ring:?}");
/// assert!(shown.contains("versions: [1]") && !shown.contains(&ring.to_text()[7..20]));
/// ```
#[derive(Clone)]
pub struct Keyring {
    masters: BTreeMap<u32, SecretKey>,
    index: SecretKey,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("versions", &self.masters.keys().collect::<Vec<_>>())
            .field("keys", &"<redacted>")
            .finish()
    }
}

impl Keyring {
    /// A new keyring: master key version 1 and an index key, both random.
    pub fn generate() -> Result<Self> {
        let mut masters = BTreeMap::new();
        masters.insert(1, SecretKey::random()?);
        Ok(Keyring {
            masters,
            index: SecretKey::random()?,
        })
    }

    /// Parses the key file format: `master <version> <64 hex digits>` lines,
    /// one `index <64 hex digits>` line, `#` comments. Errors name the line
    /// but never echo key material.
    pub fn parse(text: &str) -> Result<Self> {
        let mut masters = BTreeMap::new();
        let mut index = None;
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |why: &str| Error::KeyFile {
                line: n + 1,
                reason: why.to_owned(),
            };
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts.as_slice() {
                ["master", version, hex] => {
                    let v: u32 = version
                        .parse()
                        .ok()
                        .filter(|v| *v > 0)
                        .ok_or_else(|| bad("the version is not a positive number"))?;
                    let key = SecretKey::from_hex(hex)
                        .ok_or_else(|| bad("the key is not 64 hexadecimal digits"))?;
                    if masters.insert(v, key).is_some() {
                        return Err(bad("this master key version appears twice"));
                    }
                }
                ["index", hex] => {
                    let key = SecretKey::from_hex(hex)
                        .ok_or_else(|| bad("the key is not 64 hexadecimal digits"))?;
                    if index.replace(key).is_some() {
                        return Err(bad("a second index key"));
                    }
                }
                _ => return Err(bad("expected `master <version> <hex>` or `index <hex>`")),
            }
        }
        if masters.is_empty() {
            return Err(Error::KeyFile {
                line: 0,
                reason: "no master key".to_owned(),
            });
        }
        let index = index.ok_or(Error::KeyFile {
            line: 0,
            reason: "no index key".to_owned(),
        })?;
        Ok(Keyring { masters, index })
    }

    /// The key file text (secret: write it with owner-only permissions).
    pub fn to_text(&self) -> String {
        let mut out = String::from("# privctl vault keys: keep secret, back up, never commit\n");
        for (v, k) in &self.masters {
            out.push_str(&format!("master {v} {}\n", k.to_hex().as_str()));
        }
        out.push_str(&format!("index {}\n", self.index.to_hex().as_str()));
        out
    }

    /// The newest master key version.
    pub fn newest(&self) -> u32 {
        self.masters.keys().next_back().copied().unwrap_or(0)
    }

    /// Every master key version held.
    pub fn versions(&self) -> Vec<u32> {
        self.masters.keys().copied().collect()
    }

    /// Adds a new random master key version, which wraps new data keys from
    /// now on; returns it.
    pub fn rotate(&mut self) -> Result<u32> {
        let v = self.newest() + 1;
        self.masters.insert(v, SecretKey::random()?);
        Ok(v)
    }

    /// Forgets a master key version. The caller checks nothing uses it.
    pub fn retire(&mut self, version: u32) -> Result<()> {
        if version == self.newest() {
            return Err(Error::RetireNewest(version));
        }
        self.masters
            .remove(&version)
            .map(drop)
            .ok_or(Error::UnknownMasterVersion(version))
    }

    pub(crate) fn master(&self, version: u32) -> Result<&SecretKey> {
        self.masters
            .get(&version)
            .ok_or(Error::UnknownMasterVersion(version))
    }

    pub(crate) fn index_key(&self) -> &SecretKey {
        &self.index
    }
}

/// A data key wrapped under a master key version: `nonce || ciphertext || tag`,
/// bound to its subject by the associated data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// Master key version that wraps it.
    pub master_version: u32,
    /// `nonce (12) || ciphertext (32) || tag (16)`.
    pub bytes: Vec<u8>,
}

fn wrap_aad(subject: &str, master_version: u32) -> Vec<u8> {
    let mut aad = b"privctl/vault/data-key/v1\0".to_vec();
    aad.extend_from_slice(&master_version.to_be_bytes());
    aad.extend_from_slice(subject.as_bytes());
    aad
}

pub(crate) fn cipher(key: &SecretKey) -> Result<LessSafeKey> {
    UnboundKey::new(&AES_256_GCM, key.bytes())
        .map(LessSafeKey::new)
        .map_err(|_| Error::Crypto)
}

pub(crate) fn random_nonce() -> Result<[u8; NONCE_LEN]> {
    let mut n = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut n)
        .map_err(|_| Error::Random)?;
    Ok(n)
}

/// Wraps `data_key` for `subject` under the newest master key.
pub fn wrap(keyring: &Keyring, subject: &str, data_key: &SecretKey) -> Result<WrappedKey> {
    let version = keyring.newest();
    let cipher = cipher(keyring.master(version)?)?;
    let nonce = random_nonce()?;
    let mut buf = Zeroizing::new(data_key.bytes().to_vec());
    cipher
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(wrap_aad(subject, version)),
            &mut *buf,
        )
        .map_err(|_| Error::Crypto)?;
    let mut bytes = nonce.to_vec();
    bytes.extend_from_slice(&buf);
    Ok(WrappedKey {
        master_version: version,
        bytes,
    })
}

/// Unwraps a data key; fails on the wrong subject, master key or any change.
pub fn unwrap(keyring: &Keyring, subject: &str, wrapped: &WrappedKey) -> Result<SecretKey> {
    let cipher = cipher(keyring.master(wrapped.master_version)?)?;
    if wrapped.bytes.len() != NONCE_LEN + KEY_LEN + aead::AES_256_GCM.tag_len() {
        return Err(Error::Tampered);
    }
    let (nonce, sealed) = wrapped.bytes.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| Error::Tampered)?;
    let mut buf = Zeroizing::new(sealed.to_vec());
    let plain = cipher
        .open_in_place(
            nonce,
            Aad::from(wrap_aad(subject, wrapped.master_version)),
            &mut buf,
        )
        .map_err(|_| Error::Tampered)?;
    let mut key = [0u8; KEY_LEN];
    key.copy_from_slice(plain);
    let out = SecretKey::from_bytes(key);
    key.zeroize();
    Ok(out)
}

/// Re-wraps under the newest master key without touching any sealed value.
pub fn rewrap(keyring: &Keyring, subject: &str, wrapped: &WrappedKey) -> Result<WrappedKey> {
    if wrapped.master_version == keyring.newest() {
        return Ok(wrapped.clone());
    }
    wrap(keyring, subject, &unwrap(keyring, subject, wrapped)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_round_trips_and_errors_name_the_line() {
        let ring = Keyring::generate().unwrap_or_else(|e| panic!("{e}"));
        let again = Keyring::parse(&ring.to_text()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.to_text(), ring.to_text());
        let err = Keyring::parse("master 1 abc\n")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("key file line 1: the key is not 64 hexadecimal digits")
        );
        let secret = "ab".repeat(32);
        let err = Keyring::parse(&format!("master x {secret}\n"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(!err.contains(&secret), "errors never echo key material");
    }

    #[test]
    fn wrapping_binds_the_subject_and_rotation_keeps_keys_readable() {
        let mut ring = Keyring::generate().unwrap_or_else(|e| panic!("{e}"));
        let dk = SecretKey::random().unwrap_or_else(|e| panic!("{e}"));
        let w = wrap(&ring, "user-1", &dk).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(unwrap(&ring, "user-2", &w), Err(Error::Tampered)));
        ring.rotate().unwrap_or_else(|e| panic!("{e}"));
        let w2 = rewrap(&ring, "user-1", &w).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(w2.master_version, 2);
        let back = unwrap(&ring, "user-1", &w2).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.bytes(), dk.bytes());
        ring.retire(1).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            unwrap(&ring, "user-1", &w),
            Err(Error::UnknownMasterVersion(1))
        ));
        assert!(
            ring.retire(2).is_err(),
            "the newest version cannot be retired"
        );
    }
}
