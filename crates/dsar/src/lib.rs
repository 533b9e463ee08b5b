//! Data-subject requests: finding everything a policy's subject map says
//! belongs to one person ([`discover`]), and exporting it as a ZIP with a
//! manifest and checksums, streamed from the database in bounded memory,
//! with a signed download token ([`export`]).
//!
//! Whose a row is comes from the store layer's subject expressions, the
//! same ones retention's holds use: a row is a person's when any link out
//! of its table, followed along the subject map, leads to their key.

pub mod discover;
pub mod erase;
pub mod export;
pub mod receipt;
pub mod requests;

pub use discover::{resolve, Subject};
pub use export::{
    export, export_to_file, file_sha256, sha256_of, token, verify_token, verify_zip, ExportOptions,
    Exported, Manifest, Token,
};

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store layer failed.
    #[error(transparent)]
    Store(#[from] privctl_store::Error),
    /// The audit log failed.
    #[error(transparent)]
    Audit(#[from] privctl_audit::Error),
    /// Planning or running the erasure's batches failed.
    #[error(transparent)]
    Retention(Box<privctl_retention::Error>),
    /// `KIND=VALUE` that names no identifier of the policy.
    #[error("\"{0}\" is not an identifier of the policy (it has: {1})")]
    UnknownIdentifier(String, String),
    /// The argument is not `KIND=VALUE`.
    #[error("the subject must be given as KIND=VALUE (e.g. email=ada@example.com), not \"{0}\"")]
    BadSubject(String),
    /// Nobody has that identifier.
    #[error("no subject has {0} = \"{1}\"")]
    NoSubject(String, String),
    /// A store the request needs is not open.
    #[error("store \"{0}\" is not open")]
    StoreNotOpen(String),
    /// Writing or reading the archive failed.
    #[error("the archive {what}: {source}")]
    Zip {
        /// What was being done.
        what: &'static str,
        /// Why.
        source: zip::result::ZipError,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// An archive or token that does not check out.
    #[error("{0}")]
    Invalid(String),
    /// JSON that does not serialise.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

impl From<privctl_retention::Error> for Error {
    fn from(e: privctl_retention::Error) -> Self {
        Error::Retention(Box::new(e))
    }
}

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
