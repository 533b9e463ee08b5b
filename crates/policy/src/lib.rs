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

mod check;
mod detectors;
mod diagnostic;
mod duration;
mod ident;
pub mod law;
pub mod model;
pub mod render;
mod rules;
pub mod source;

use std::path::{Path, PathBuf};

pub use check::{check_str, Report};
pub use detectors::{is_detector_kind, DETECTOR_KINDS};
pub use diagnostic::{Diagnostic, Rule, Severity};
pub use duration::{ParseDurationError, RetentionPeriod};
pub use ident::{InvalidIdent, SqlIdent};
pub use model::Policy;
pub use source::Location;

/// Errors from loading a policy.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read policy {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not UTF-8 text.
    #[error("policy {path} is not UTF-8 text (invalid byte at offset {offset})")]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// The policy has errors; the first is shown, all are listed.
    #[error("policy {path} has {} error(s); first: {}", .errors.len(), .errors.first().map(|d| d.display(&path.display().to_string()).to_string()).unwrap_or_default())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every error found.
        errors: Vec<Diagnostic>,
    },
}

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Reads a policy file as text, refusing bytes that are not UTF-8.
pub fn read_source(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
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
