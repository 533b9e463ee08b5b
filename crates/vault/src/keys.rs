//! Key material: versioned master keys, the index key, and the wrapping of
//! one key under another.
//!
//! The hierarchy (see [`crate::manual`] for why it has three levels):
//!
//! ```text
//! master key (key file, versioned) ──wraps──> group key (one per ≤1,024 subjects)
//! group key ──wraps──> data key (one per subject) ──seals──> values
//! group key ──keys──> blind indexes of its subjects' values
//! master key ──wraps──> epoch keys (pseudonyms of IPs and devices)
//! ```
//!
//! Every key is a newtype whose `Debug` never shows its bytes and whose
//! memory is zeroed when dropped. Every wrap is AES-256-GCM with a random
//! nonce and associated data that names what is wrapped and by what, so a
//! wrapped key moved to another row, group, subject or version fails to
//! open.

use std::collections::BTreeMap;
use std::fmt;

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::{Zeroize, Zeroizing};

use crate::{Error, Result};

/// Length of every symmetric key in the vault.
pub const KEY_LEN: usize = 32;
/// Length of a wrapped key: nonce, ciphertext, tag.
pub const WRAPPED_LEN: usize = NONCE_LEN + KEY_LEN + 16;

/// 32 secret bytes, zeroed on drop, never printed.
///
/// ```
/// let key = privctl_vault::keys::SecretKey::from_bytes([7; 32]);
/// assert_eq!(format!("{key:?}"), "SecretKey(<redacted>)");
/// ```
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

    /// A key for one purpose derived from this one (HMAC-SHA256 of the
    /// label), so one stored key serves two uses that never share a key.
    pub(crate) fn derive(&self, label: &[u8]) -> SecretKey {
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, self.bytes()), label);
        let mut bytes = [0u8; KEY_LEN];
        bytes.copy_from_slice(tag.as_ref());
        let out = SecretKey::from_bytes(bytes);
        bytes.zeroize();
        out
    }

    /// A public fingerprint of the key, HMAC of a constant label: the
    /// database keeps it to tell the right key file from a wrong one
    /// without holding anything that opens data.
    pub(crate) fn check_value(&self, label: &[u8]) -> String {
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, self.bytes()), label);
        hex(&tag.as_ref()[..16])
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
        Zeroizing::new(hex(self.0.as_ref()))
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// Lower-case hexadecimal: the one helper every part of the vault uses.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

const MASTER_CHECK: &[u8] = b"privctl/vault/master-key-check/v1";
const INDEX_CHECK: &[u8] = b"privctl/vault/index-key-check/v1";

/// The keys a vault runs on: master keys by version (the newest wraps new
/// keys) and the index key. Kept in a key file or an environment variable,
/// never in the database.
///
/// ```
/// let ring = privctl_vault::Keyring::generate().unwrap();
/// let shown = format!("{ring:?}");
/// assert!(shown.contains("versions: [1]") && !shown.contains(&ring.to_text()[60..80]));
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
    /// but never echo key material; `origin` says where the text came from.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let mut masters = BTreeMap::new();
        let mut index = None;
        let bad = |line: usize, why: &str| Error::KeyFile {
            origin: origin.to_owned(),
            line,
            reason: why.to_owned(),
        };
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts.as_slice() {
                ["master", version, hex] => {
                    let v: u32 = version.parse().ok().filter(|v| *v > 0).ok_or_else(|| {
                        bad(n + 1, "the version is not a number from 1 to 4294967295")
                    })?;
                    let key = SecretKey::from_hex(hex)
                        .ok_or_else(|| bad(n + 1, "the key is not 64 hexadecimal digits"))?;
                    if masters.insert(v, key).is_some() {
                        return Err(bad(n + 1, "this master key version appears twice"));
                    }
                }
                ["index", hex] => {
                    let key = SecretKey::from_hex(hex)
                        .ok_or_else(|| bad(n + 1, "the key is not 64 hexadecimal digits"))?;
                    if index.replace(key).is_some() {
                        return Err(bad(n + 1, "a second index key"));
                    }
                }
                _ => {
                    return Err(bad(
                        n + 1,
                        "expected `master <version> <hex>` or `index <hex>`",
                    ))
                }
            }
        }
        if masters.is_empty() {
            return Err(bad(0, "no master key"));
        }
        let index = index.ok_or_else(|| bad(0, "no index key"))?;
        Ok(Keyring { masters, index })
    }

    /// The key file text (secret: write it with owner-only permissions).
    pub fn to_text(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::from(
            "# privctl vault keys: keep secret, back up, never commit\n",
        ));
        // Hex goes straight into the zeroed buffer: no temporary copy of a
        // key outlives this call.
        for (v, k) in &self.masters {
            out.push_str("master ");
            out.push_str(&v.to_string());
            out.push(' ');
            out.push_str(&k.to_hex());
            out.push('\n');
        }
        out.push_str("index ");
        out.push_str(&self.index.to_hex());
        out.push('\n');
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

    /// Adds a new random master key version, which wraps new keys from now
    /// on; returns it. Refused after version 4294967295 rather than wrapping
    /// round to 0.
    pub fn rotate(&mut self) -> Result<u32> {
        let v = self
            .newest()
            .checked_add(1)
            .ok_or(Error::VersionsExhausted)?;
        self.masters.insert(v, SecretKey::random()?);
        Ok(v)
    }

    /// Forgets a master key version. [`crate::Vault::retire`] is the safe
    /// way: it refuses while anything still uses the version.
    pub(crate) fn forget(&mut self, version: u32) {
        self.masters.remove(&version);
    }

    /// Replaces the index key with a new random one: what keyed privctl
    /// 0.1's blind indexes must not outlive its upgrade.
    pub(crate) fn replace_index_key(&mut self) -> Result<()> {
        self.index = SecretKey::random()?;
        Ok(())
    }

    /// Whether this keyring holds `version`.
    pub fn has(&self, version: u32) -> bool {
        self.masters.contains_key(&version)
    }

    pub(crate) fn master(&self, version: u32) -> Result<&SecretKey> {
        self.masters
            .get(&version)
            .ok_or(Error::UnknownMasterVersion(version))
    }

    pub(crate) fn index_key(&self) -> &SecretKey {
        &self.index
    }

    /// Public check values of every master version.
    pub(crate) fn master_checks(&self) -> BTreeMap<u32, String> {
        self.masters
            .iter()
            .map(|(v, k)| (*v, k.check_value(MASTER_CHECK)))
            .collect()
    }

    /// Public check value of the index key.
    pub(crate) fn index_check(&self) -> String {
        self.index.check_value(INDEX_CHECK)
    }
}

/// What a wrapped key is, bound into its associated data: a wrapped key
/// opens only as what it was wrapped as.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Wrapping<'a> {
    /// A group key under master `version`.
    Group { version: u32, group: i64 },
    /// A subject's data key under its group's key.
    Data { group: i64, subject: &'a str },
    /// An epoch key under master `version`.
    Epoch {
        version: u32,
        purpose: &'a str,
        epoch: u64,
    },
    /// Format 1 (privctl 0.1): a data key under a master version directly,
    /// read only to migrate.
    LegacyData { version: u32, subject: &'a str },
}

impl Wrapping<'_> {
    fn aad(&self) -> Vec<u8> {
        let mut aad = Vec::with_capacity(64);
        match *self {
            Wrapping::Group { version, group } => {
                aad.extend_from_slice(b"privctl/vault/group-key/v2\0");
                aad.extend_from_slice(&version.to_be_bytes());
                aad.extend_from_slice(&group.to_be_bytes());
            }
            Wrapping::Data { group, subject } => {
                aad.extend_from_slice(b"privctl/vault/data-key/v2\0");
                aad.extend_from_slice(&group.to_be_bytes());
                aad.extend_from_slice(subject.as_bytes());
            }
            Wrapping::Epoch {
                version,
                purpose,
                epoch,
            } => {
                aad.extend_from_slice(b"privctl/vault/epoch-key/v2\0");
                aad.extend_from_slice(&version.to_be_bytes());
                aad.extend_from_slice(&epoch.to_be_bytes());
                aad.extend_from_slice(purpose.as_bytes());
            }
            Wrapping::LegacyData { version, subject } => {
                aad.extend_from_slice(b"privctl/vault/data-key/v1\0");
                aad.extend_from_slice(&version.to_be_bytes());
                aad.extend_from_slice(subject.as_bytes());
            }
        }
        aad
    }
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

/// Wraps `key` under `under` as `what`: `nonce (12) || ciphertext (32) || tag (16)`.
pub(crate) fn wrap(under: &SecretKey, what: Wrapping<'_>, key: &SecretKey) -> Result<Vec<u8>> {
    let nonce = random_nonce()?;
    let mut buf = Zeroizing::new(key.bytes().to_vec());
    cipher(under)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(what.aad()),
            &mut *buf,
        )
        .map_err(|_| Error::Crypto)?;
    let mut bytes = nonce.to_vec();
    bytes.extend_from_slice(&buf);
    Ok(bytes)
}

/// Opens a wrapped key; fails on another key, another `what`, or any change.
pub(crate) fn unwrap(under: &SecretKey, what: Wrapping<'_>, wrapped: &[u8]) -> Result<SecretKey> {
    if wrapped.len() != WRAPPED_LEN {
        return Err(Error::Tampered);
    }
    let (nonce, sealed) = wrapped.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| Error::Tampered)?;
    let mut buf = Zeroizing::new(sealed.to_vec());
    let plain = cipher(under)?
        .open_in_place(nonce, Aad::from(what.aad()), &mut buf)
        .map_err(|_| Error::Tampered)?;
    let mut key = [0u8; KEY_LEN];
    key.copy_from_slice(plain);
    let out = SecretKey::from_bytes(key);
    key.zeroize();
    Ok(out)
}

/// A group key's two uses: wrapping its subjects' data keys, and keying
/// their blind indexes. Destroying the group key ends both.
pub(crate) struct GroupKeys {
    pub wrap: SecretKey,
    pub index: SecretKey,
}

impl GroupKeys {
    pub(crate) fn new(group_key: &SecretKey) -> Self {
        GroupKeys {
            wrap: group_key.derive(b"privctl/vault/group/wrap/v2"),
            index: group_key.derive(b"privctl/vault/group/index/v2"),
        }
    }
}

/// The tag under which a shredded subject is remembered (so later values
/// for them are refused) without keeping their identifier.
pub(crate) fn subject_tag(index_key: &SecretKey, subject: &str) -> String {
    let mut ctx = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA256, index_key.bytes()));
    ctx.update(b"privctl/vault/shredded-subject/v1\0");
    ctx.update(subject.as_bytes());
    hex(ctx.sign().as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_round_trips_and_errors_name_the_line() {
        let ring = Keyring::generate().unwrap_or_else(|e| panic!("{e}"));
        let again = Keyring::parse(&ring.to_text(), "test").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.to_text(), ring.to_text());
        let err = Keyring::parse("master 1 abc\n", "key file k")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("key file k line 1: the key is not 64 hexadecimal digits")
        );
        let secret = "ab".repeat(32);
        let err = Keyring::parse(&format!("master x {secret}\n"), "k")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(!err.contains(&secret), "errors never echo key material");
    }

    /// Issue 7: a master version at u32::MAX wrapped to 0 and bricked the vault.
    #[test]
    fn rotation_past_the_last_version_is_refused_not_wrapped() {
        let text = format!(
            "master 4294967295 {}\nindex {}\n",
            "ab".repeat(32),
            "cd".repeat(32)
        );
        let mut ring = Keyring::parse(&text, "k").unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(ring.rotate(), Err(Error::VersionsExhausted)));
        assert_eq!(ring.versions(), [u32::MAX]);
    }

    #[test]
    fn a_wrapped_key_opens_only_as_what_it_was_wrapped_as() {
        let master = SecretKey::random().unwrap_or_else(|e| panic!("{e}"));
        let dk = SecretKey::random().unwrap_or_else(|e| panic!("{e}"));
        let what = Wrapping::Data {
            group: 1,
            subject: "user-1",
        };
        let w = wrap(&master, what, &dk).unwrap_or_else(|e| panic!("{e}"));
        let back = unwrap(&master, what, &w).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.bytes(), dk.bytes());
        for other in [
            Wrapping::Data {
                group: 2,
                subject: "user-1",
            },
            Wrapping::Data {
                group: 1,
                subject: "user-2",
            },
            Wrapping::Group {
                version: 1,
                group: 1,
            },
            Wrapping::LegacyData {
                version: 1,
                subject: "user-1",
            },
        ] {
            assert!(matches!(unwrap(&master, other, &w), Err(Error::Tampered)));
        }
        let mut flipped = w.clone();
        flipped[20] ^= 1;
        assert!(matches!(
            unwrap(&master, what, &flipped),
            Err(Error::Tampered)
        ));
    }

    #[test]
    fn check_values_tell_keys_apart_without_revealing_them() {
        let a = Keyring::generate().unwrap_or_else(|e| panic!("{e}"));
        let b = Keyring::generate().unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(a.master_checks()[&1], b.master_checks()[&1]);
        assert_ne!(a.index_check(), b.index_check());
        assert!(!a.to_text().contains(&a.master_checks()[&1]));
    }
}
