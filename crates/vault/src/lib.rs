//! The KYC vault: India's PAN and Aadhaar numbers kept under field-level
//! envelope encryption (ring's AES-256-GCM), as Indian KYC rules and the
//! seed policies require, with blind indexes to find them, opaque reference
//! keys for business tables, rotation, re-wrapping and crypto-shredding; and
//! the pseudonymisation the policies promise for IPs, device fingerprints and
//! API keys.
//!
//! * A versioned **master key** (key file or environment, never in the
//!   database or in `Debug` output, zeroed on drop) wraps a random **data
//!   key** per subject ([`keys`]).
//! * Each value is sealed under its subject's data key with a random nonce;
//!   the header (format version, key id) and the record and field names are
//!   authenticated, so an edited header or a ciphertext moved to another row
//!   or column fails to open ([`sealed`] documents the format byte by byte).
//! * A **blind index** (HMAC under a separate key) finds a record by PAN or
//!   Aadhaar without decrypting ([`kyc::blind_index`]).
//! * **Rotation** adds a master version; **rewrap** moves data keys to it
//!   without touching sealed values; old versions are then retired.
//! * **Crypto-shredding** destroys a subject's data key.
//!
//! ```
//! use privctl_vault::{keys::SecretKey, sealed};
//! let key = SecretKey::from_bytes([7; 32]);
//! let v = sealed::seal(&key, 1, "ref_abc", "pan", b"ABCPE1234F").unwrap();
//! assert_eq!(&*sealed::open(&key, "ref_abc", "pan", &v).unwrap(), b"ABCPE1234F");
//! assert!(sealed::open(&key, "ref_other", "pan", &v).is_err());
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod keys;
pub mod kyc;
pub mod pseudo;
pub mod sealed;
pub mod store;
mod vault;

pub use keys::Keyring;
pub use kyc::{IdKind, KycId};
pub use store::Store;
pub use vault::{RewrapReport, Stored, Vault};

/// Errors of the vault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A ciphertext or wrapped key failed authentication: wrong key, wrong
    /// record or field, or changed bytes.
    #[error("the sealed value does not open: it was changed, moved to another record or field, or sealed under another key")]
    Tampered,
    /// Bytes that are not a sealed value at all.
    #[error("not a sealed value: {0}")]
    Malformed(String),
    /// The key file is not valid.
    #[error("key file line {line}: {reason}")]
    KeyFile {
        /// 1-based line (0: the file as a whole).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A master key version the keyring does not hold.
    #[error("master key version {0} is not in the key file\nhint: a retired version can no longer open what it wrapped; run `privctl vault rewrap` before retiring")]
    UnknownMasterVersion(u32),
    /// The newest master version cannot be retired.
    #[error("master key version {0} is the newest and cannot be retired")]
    RetireNewest(u32),
    /// A master version still wraps data keys.
    #[error("master key version {version} still wraps {keys} data key(s)\nhint: run `privctl vault rewrap` first")]
    VersionInUse {
        /// The version.
        version: u32,
        /// Data keys it wraps.
        keys: i64,
    },
    /// An identifier that fails validation.
    #[error("invalid {}: {reason}", kind.name())]
    InvalidId {
        /// Which identifier.
        kind: IdKind,
        /// Why.
        reason: &'static str,
    },
    /// An identifier kind the vault does not hold.
    #[error("unknown identifier kind \"{0}\" (pan or aadhaar)")]
    UnknownKind(String),
    /// Not an IP address.
    #[error("\"{0}\" is not an IP address")]
    InvalidIp(String),
    /// The subject's data key was destroyed.
    #[error("subject \"{0}\" was crypto-shredded; their values can no longer be read")]
    Shredded(String),
    /// No such subject.
    #[error("subject \"{0}\" has nothing in the vault")]
    NoSuchSubject(String),
    /// No such reference.
    #[error("no value has reference \"{0}\"")]
    NoSuchReference(String),
    /// The database failed.
    #[error("{context}: {message}")]
    Database {
        /// What was being done.
        context: &'static str,
        /// The driver's message.
        message: String,
    },
    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// The cipher refused a key (never for 32-byte keys).
    #[error("the cipher could not be set up")]
    Crypto,
}

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
