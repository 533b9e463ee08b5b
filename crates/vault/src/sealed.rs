//! The sealed value format, version 1.
//!
//! ```text
//! offset  size  field
//! 0       1     format version, 0x01
//! 1       4     key id: the data key that sealed it (u32, big-endian)
//! 5       12    nonce (random per value)
//! 17      n     ciphertext (AES-256-GCM, same length as the plaintext)
//! 17+n    16    authentication tag
//! ```
//!
//! The associated data is the 5-byte header followed by the record id and
//! the field name, each prefixed by its length as a big-endian u32:
//!
//! ```text
//! aad = header[0..5] || u32(len(record)) || record || u32(len(field)) || field
//! ```
//!
//! So the tag covers the version and key id as well as the ciphertext
//! (unlike formats whose prefix is outside the authenticated data, editing
//! the header is caught), and a value copied to another record or field
//! fails to open. Nothing about the plaintext is visible but its length.

use ring::aead::{Aad, Nonce, NONCE_LEN};
use zeroize::Zeroizing;

use crate::keys::{cipher, random_nonce, SecretKey};
use crate::{Error, Result};

/// The only format version this release writes and reads.
pub const FORMAT_VERSION: u8 = 1;
const HEADER_LEN: usize = 5;
const TAG_LEN: usize = 16;
/// Smallest possible sealed value (empty plaintext).
pub const MIN_LEN: usize = HEADER_LEN + NONCE_LEN + TAG_LEN;

/// A sealed value: parsed, not yet opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedValue {
    bytes: Vec<u8>,
}

impl SealedValue {
    /// Checks the framing of untrusted bytes. Authenticity is only known
    /// once [`open`] succeeds.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        if bytes.len() < MIN_LEN {
            return Err(Error::Malformed(format!(
                "{} bytes is shorter than the {MIN_LEN}-byte minimum",
                bytes.len()
            )));
        }
        if bytes[0] != FORMAT_VERSION {
            return Err(Error::Malformed(format!(
                "format version {} is not supported (this release reads 1)",
                bytes[0]
            )));
        }
        Ok(SealedValue {
            bytes: bytes.to_vec(),
        })
    }

    /// The data key id in the header.
    pub fn key_id(&self) -> u32 {
        u32::from_be_bytes([self.bytes[1], self.bytes[2], self.bytes[3], self.bytes[4]])
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

fn aad(header: &[u8], record: &str, field: &str) -> Vec<u8> {
    let mut a = Vec::with_capacity(header.len() + 8 + record.len() + field.len());
    a.extend_from_slice(header);
    a.extend_from_slice(&(record.len() as u32).to_be_bytes());
    a.extend_from_slice(record.as_bytes());
    a.extend_from_slice(&(field.len() as u32).to_be_bytes());
    a.extend_from_slice(field.as_bytes());
    a
}

/// Seals `plaintext` for `record` and `field` under a data key, with a
/// random nonce.
pub fn seal(
    key: &SecretKey,
    key_id: u32,
    record: &str,
    field: &str,
    plaintext: &[u8],
) -> Result<SealedValue> {
    seal_with_nonce(key, key_id, record, field, plaintext, random_nonce()?)
}

/// [`seal`] with a given nonce: for known-answer tests only. A nonce must
/// never be used twice with one key.
#[doc(hidden)]
pub fn seal_with_nonce(
    key: &SecretKey,
    key_id: u32,
    record: &str,
    field: &str,
    plaintext: &[u8],
    nonce: [u8; NONCE_LEN],
) -> Result<SealedValue> {
    let mut header = [0u8; HEADER_LEN];
    header[0] = FORMAT_VERSION;
    header[1..5].copy_from_slice(&key_id.to_be_bytes());
    let mut buf = Zeroizing::new(plaintext.to_vec());
    cipher(key)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(&header, record, field)),
            &mut *buf,
        )
        .map_err(|_| Error::Crypto)?;
    let mut bytes = Vec::with_capacity(HEADER_LEN + NONCE_LEN + buf.len());
    bytes.extend_from_slice(&header);
    bytes.extend_from_slice(&nonce);
    bytes.extend_from_slice(&buf);
    Ok(SealedValue { bytes })
}

/// Opens a sealed value; any changed bit, another key, record or field fails.
pub fn open(
    key: &SecretKey,
    record: &str,
    field: &str,
    sealed: &SealedValue,
) -> Result<Zeroizing<Vec<u8>>> {
    let (header, rest) = sealed.bytes.split_at(HEADER_LEN);
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| Error::Tampered)?;
    let mut buf = Zeroizing::new(ciphertext.to_vec());
    let len = cipher(key)?
        .open_in_place(nonce, Aad::from(aad(header, record, field)), &mut buf)
        .map_err(|_| Error::Tampered)?
        .len();
    buf.truncate(len);
    Ok(buf)
}
