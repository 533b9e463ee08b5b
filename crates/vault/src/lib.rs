//! The KYC vault: India's PAN and Aadhaar numbers kept under field-level
//! envelope encryption (ring's AES-256-GCM), as Indian KYC rules and the
//! seed policies require, with blind indexes to find them, opaque reference
//! keys for business tables, rotation, re-wrapping and crypto-shredding that
//! holds against someone with the database file and the key file; and the
//! pseudonymisation the policies promise for IPs, device fingerprints and
//! API keys.
//!
//! * A versioned **master key** (a key file or memory, never the database,
//!   never in `Debug` output, zeroed on drop) wraps **group keys**; each
//!   group key wraps the **data keys** of up to 1,024 subjects and keys their
//!   blind indexes ([`keys`], [`manual`] for why).
//! * Each value is sealed under its subject's data key with a random nonce;
//!   the header (format version, key id) and the record and field names are
//!   authenticated, so an edited header or a ciphertext moved to another row
//!   or column fails to open ([`sealed`] documents the format byte by byte).
//! * **Crypto-shredding** ([`Vault::shred`]) deletes the subject's key and
//!   values, moves the rest of their group to a new group key and destroys
//!   the master version that wrapped the old one, so copies left in free
//!   pages, dead tuples, logs or backups of the database open with nothing.
//! * **Rotation** adds a master version; **rewrap** moves group and epoch
//!   keys to it; a version is retired only once nothing uses it.
//! * Key files are read with a size limit, refused when others may read
//!   them, locked while written, and replaced whole and durably ([`keyfile`]).
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

pub mod keyfile;
pub mod keys;
pub mod kyc;
pub mod manual;
mod migrate;
pub mod pseudo;
pub mod sealed;
pub mod store;
pub mod tokens;
mod vault;

pub use keyfile::{KeyFile, Keys};
pub use keys::Keyring;
pub use kyc::{IdKind, KycId};
pub use privctl_store::{DbUrl, Dialect};
pub use store::Store;
pub use tokens::{BlockingOpener, TokenOpener, TokenProblem, TokenSealer};
pub use vault::{Found, Resumed, RewrapReport, ShredReport, Stored, Vault, GROUP_SIZE};

use privctl_policy::escape_untrusted;

/// Errors of the vault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A ciphertext or wrapped key failed authentication: wrong key, wrong
    /// record or field, or changed bytes.
    #[error("the sealed value does not open: it was changed, moved to another record or field, or sealed under another key")]
    Tampered,
    /// A sealed token (the redaction engine's `encrypt` operator) that does
    /// not open.
    #[error("sealed token [{label}:sealed:…] at byte {offset} {problem}")]
    Token {
        /// Its label.
        label: String,
        /// Where it starts in the text given.
        offset: usize,
        /// Why.
        problem: tokens::TokenProblem,
    },
    /// Bytes that are not a sealed value at all.
    #[error("not a sealed value: {0}")]
    Malformed(String),
    /// Key file text that is not valid.
    #[error("{origin} line {line}: {reason}")]
    KeyFile {
        /// Where the text came from (`key file PATH`, `PRIVCTL_VAULT_KEYS`).
        origin: String,
        /// 1-based line (0: the text as a whole).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The key file could not be read.
    #[error("cannot read key file {path}\nhint: run `privctl vault init` to create one, or point --key-file at the vault's")]
    KeyFileRead {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The key file could not be written.
    #[error("cannot write key file {path}")]
    KeyFileWrite {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A key file group or others may read.
    #[error("key file {path} is readable by group or others (mode {mode:o}); the keys in it open every value in the vault\nhint: chmod 600 {path}")]
    KeyFileExposed {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// `init` over an existing key file.
    #[error("key file {path} already exists; refusing to overwrite keys")]
    KeyFileExists {
        /// The file.
        path: String,
    },
    /// An operation that must change the master keys, with keys given in
    /// memory rather than read from a key file.
    #[error("{operation} writes the master keys back to the key file they came from, but these keys were given in memory (PRIVCTL_VAULT_KEYS), which privctl never writes\nhint: run it with --key-file pointing at the vault's key file, and give the services the new keys afterwards")]
    KeysReadOnly {
        /// What was refused.
        operation: &'static str,
    },
    /// Keys that belong to another vault.
    #[error("these keys do not belong to this vault: {what} differs from the one it was created with\nhint: point --key-file (or PRIVCTL_VAULT_KEYS) at this vault's keys")]
    WrongKeys {
        /// Which key differs.
        what: String,
    },
    /// Keys older than the vault's: another process rotated them.
    #[error("these keys end before master key version {newest}, which the vault now uses\nhint: reload the keys (the key file has them; PRIVCTL_VAULT_KEYS must be updated)")]
    StaleKeys {
        /// The vault's newest active version.
        newest: u32,
    },
    /// `init` on a database that holds a vault already.
    #[error("{url} already holds a vault; refusing to start another over it\nhint: use its key file with --key-file, or give init an empty database")]
    VaultExists {
        /// The database.
        url: DbUrl,
    },
    /// A master key version the keyring does not hold.
    #[error("master key version {0} is not in the keys\nhint: a retired version can no longer open what it wrapped; run `privctl vault rewrap` before retiring")]
    UnknownMasterVersion(u32),
    /// The newest master version cannot be retired.
    #[error("master key version {0} is the newest and cannot be retired")]
    RetireNewest(u32),
    /// A master version still wraps keys.
    #[error("master key version {version} still wraps {groups} group key(s) and {epochs} epoch key(s)\nhint: run `privctl vault rewrap` first")]
    VersionInUse {
        /// The version.
        version: u32,
        /// Group keys it wraps.
        groups: i64,
        /// Epoch keys it wraps.
        epochs: i64,
    },
    /// Master key version 4294967295 exists; there is no next one.
    #[error("master key version 4294967295 is the last; no newer version can be added")]
    VersionsExhausted,
    /// More data keys than sealed values can name.
    #[error("the vault holds 4294967295 data keys, as many as sealed values can name")]
    KeyIdsExhausted,
    /// An identifier that fails validation.
    #[error("invalid {}: {reason}", kind.name())]
    InvalidId {
        /// Which identifier.
        kind: IdKind,
        /// Why.
        reason: &'static str,
    },
    /// An identifier kind the vault does not hold.
    #[error("unknown identifier kind \"{}\" (pan or aadhaar)", escape_untrusted(.0))]
    UnknownKind(String),
    /// Not an IP address.
    #[error("\"{}\" is not an IP address", escape_untrusted(.0))]
    InvalidIp(String),
    /// An empty input where a value is needed.
    #[error("the {0} is empty")]
    Empty(&'static str),
    /// A subject id the vault cannot bind keys to.
    #[error("invalid subject: {reason}")]
    InvalidSubject {
        /// Why.
        reason: &'static str,
    },
    /// The subject was crypto-shredded.
    #[error("subject \"{}\" was crypto-shredded; their values can no longer be read or added", escape_untrusted(.0))]
    Shredded(String),
    /// The reference belonged to a crypto-shredded subject.
    #[error("reference \"{}\" belonged to a crypto-shredded subject; its value can no longer be read", escape_untrusted(.0))]
    ShreddedReference(String),
    /// No such reference.
    #[error("no value has reference \"{}\"", escape_untrusted(.0))]
    NoSuchReference(String),
    /// A SQLite database file that does not exist.
    #[error("vault database {path} does not exist\nhint: run `privctl vault init` to create it (with --db sqlite:{path})")]
    NoDatabase {
        /// The file.
        path: String,
    },
    /// Opening the database failed (the store layer says why).
    #[error(transparent)]
    Store(#[from] privctl_store::Error),
    /// A statement failed.
    #[error("the vault database failed while {operation}")]
    Database {
        /// What was being done.
        operation: &'static str,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// A vault written by a newer privctl.
    #[error("the vault's tables are schema version {0}, newer than this release reads (2)\nhint: upgrade privctl")]
    SchemaTooNew(i64),
    /// A value in the database that privctl never writes.
    #[error("the vault database holds an impossible value: {0}")]
    Corrupt(String),
    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// The cipher refused a key (never for 32-byte keys).
    #[error("the cipher could not be set up")]
    Crypto,
}

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
