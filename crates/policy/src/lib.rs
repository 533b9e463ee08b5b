//! The privctl policy model: one declarative TOML file per organisation that
//! says who its data subjects are, what data it keeps and where, how long each
//! kind is kept and what happens then, which legal floors override requests,
//! how erasure and export work, and what is redacted or pseudonymised.
//!
//! Every other privctl crate reads a [`Policy`]; none reads TOML itself.
//!
//! * [`check_str`] parses a file and returns a [`Report`]: the policy (when it
//!   parsed) and every finding, each located at `line:column` and tied to a
//!   stable [`Rule`] id. `privctl check` prints these.
//! * [`load`] is for engines: it returns the policy only when there is no
//!   error, and otherwise an [`Error`] that lists them.
//! * [`json_schema`] describes the format for editors.
//!
//! ```
//! let src = std::fs::read_to_string(
//!     concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies/infrpool.toml"),
//! ).unwrap();
//! let report = privctl_policy::check_str(&src);
//! assert!(!report.has_errors());
//! let policy = report.policy.unwrap();
//! assert_eq!(policy.erasure.grace_period.unwrap().to_string(), "72h");
//! ```
//!
//! Periods are typed ([`RetentionPeriod`]) and compared safely across calendar
//! units; table and column names are checked [`SqlIdent`]s before any engine
//! can build SQL from them.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod calendar;
mod check;
mod detectors;
mod diagnostic;
mod duration;
mod escape;
mod ident;
pub mod law;
pub mod model;
pub mod render;
mod rules;
pub mod source;
pub mod subject;

use std::path::{Path, PathBuf};

pub use check::{check_str, diagnostic_at, Report};
pub use detectors::{is_detector_kind, DETECTOR_KINDS};
pub use diagnostic::{Diagnostic, Rule, Severity};
pub use duration::{ParseDurationError, RetentionPeriod};
pub use escape::{escape_path, escape_untrusted, is_unsafe_char};
pub use ident::{ColumnRef, InvalidColumnRef, InvalidIdent, SqlIdent};
pub use model::Policy;
pub use source::Location;
pub use subject::{Hop, SubjectPath};

/// The largest policy file read: a real policy is a few tens of kilobytes,
/// and a limit keeps `check /dev/zero` from eating memory.
pub const MAX_POLICY_BYTES: u64 = 4 << 20;

/// Errors from loading a policy.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read policy {}: {source}", escape_path(path))]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The path is a directory or another thing that is not a policy file.
    #[error("cannot read policy {}: {what}", escape_path(path))]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is instead.
        what: &'static str,
    },
    /// The file is larger than [`MAX_POLICY_BYTES`].
    #[error("policy {} is larger than the {} MiB a policy may be", escape_path(path), MAX_POLICY_BYTES >> 20)]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The file is not UTF-8 text.
    #[error(
        "policy {} is not UTF-8 text (invalid byte at offset {offset})",
        escape_path(path)
    )]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// The policy has errors; the first is shown, all are listed.
    #[error("policy {} has {} error(s); first: {}", escape_path(path), .errors.len(), .errors.first().map(|d| d.display(&escape_path(path)).to_string()).unwrap_or_default())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every error found.
        errors: Vec<Diagnostic>,
    },
}

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Reads a policy file as text, at most [`MAX_POLICY_BYTES`] of it,
/// refusing bytes that are not UTF-8 and directories.
pub fn read_source(path: &Path) -> Result<String> {
    let read_err = |source| Error::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    if file.metadata().map_err(read_err)?.is_dir() {
        return Err(Error::NotAFile {
            path: path.to_owned(),
            what: "it is a directory",
        });
    }
    let bytes = privctl_fsio::read_limited(file, MAX_POLICY_BYTES).map_err(|e| match e {
        privctl_fsio::ReadError::Io(e) => read_err(e),
        _ => Error::TooLarge {
            path: path.to_owned(),
        },
    })?;
    String::from_utf8(bytes).map_err(|e| Error::NotUtf8 {
        path: path.to_owned(),
        offset: e.utf8_error().valid_up_to(),
    })
}

/// Loads a policy for an engine to act on: any error (not warning) refuses it.
pub fn load(path: &Path) -> Result<Policy> {
    let src = read_source(path)?;
    let report = check_str(&src);
    match report.policy {
        Some(policy) if !report.has_errors() => Ok(policy),
        _ => Err(Error::Invalid {
            path: path.to_owned(),
            errors: report
                .diagnostics
                .into_iter()
                .filter(|d| d.severity == Severity::Error)
                .collect(),
        }),
    }
}

/// The JSON Schema of the policy format, for editors and for CI's check that
/// the committed copy (`schema/policy.schema.json`) is current.
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(Policy);
    schema.to_value()
}
