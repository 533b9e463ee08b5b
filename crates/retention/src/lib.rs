//! Retention sweeps: a pure planner ([`plan::plan`]: policy, live schema and
//! "now" to a [`plan::Plan`]) and an executor ([`exec`]) that applies a plan
//! in short, resumable batches on SQLite and PostgreSQL, and to directories
//! of files.
//!
//! What a sweep guarantees:
//! - a row under a legal floor is kept until the floor has passed, counted
//!   from the floor's own anchor, whatever the retention says;
//! - a row of a held subject, and every row of a held data type, is kept;
//! - each batch is one transaction that re-checks expiry, floors and holds
//!   as it changes rows, and records its own counts in the run log in the
//!   same transaction (when the data and privctl's tables share a
//!   database), so a sweep killed at any point and run again ends in the
//!   same state, counting every row once;
//! - a roll-up adds a batch's rows to their buckets and deletes them in one
//!   statement (PostgreSQL) or one transaction (SQLite): no row is summed
//!   twice or lost.

pub mod erasure;
pub mod exec;
#[doc(hidden)]
pub mod fault;
pub mod own;
pub mod plan;
pub mod sample;
pub mod session;
pub mod telemetry;
/// The statement builder, from the store layer.
pub use privctl_store::sql;

pub use erasure::{plan_erasure, Target};
pub use exec::{sweep, DataTypeReport, Options, Progress, Report};
pub use own::{Hold, HoldScope, RunKind};
pub use plan::{plan, Inputs, Plan, StoreInfo};
pub use session::{OpenError, Session};

/// What went wrong in planning or sweeping.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store layer failed (its error names store, table and operation).
    #[error(transparent)]
    Store(#[from] privctl_store::Error),
    /// The audit log failed.
    #[error(transparent)]
    Audit(#[from] privctl_audit::Error),
    /// `--data-type` names no data type.
    #[error("data type \"{}\" is not defined in the policy", privctl_policy::escape_untrusted(.0))]
    UnknownDataType(String),
    /// A data type's store is not open.
    #[error("store \"{0}\" is not open")]
    UnknownStore(String),
    /// A table the policy names is not in the database.
    #[error("store {store}: table \"{table}\" of data type \"{data_type}\" does not exist")]
    MissingTable {
        /// The store.
        store: String,
        /// The table.
        table: String,
        /// The data type naming it.
        data_type: String,
    },
    /// A column the policy names is not in the table.
    #[error("store {store}: column \"{column}\" of data type \"{data_type}\" does not exist")]
    MissingColumn {
        /// The store.
        store: String,
        /// `table.column`.
        column: String,
        /// The data type naming it.
        data_type: String,
    },
    /// A column a period counts from does not hold time.
    #[error("column \"{column}\" has type {declared}, which holds no point in time")]
    NotATime {
        /// `table.column`.
        column: String,
        /// Its declared type.
        declared: String,
    },
    /// A table with no single-column primary key to page on.
    #[error("table \"{table}\" of data type \"{data_type}\" has no single-column primary key; sweeps page through a table on its key")]
    NoKey {
        /// The table.
        table: String,
        /// The data type.
        data_type: String,
    },
    /// An anchor with no source.
    #[error("data type \"{data_type}\" counts from {anchor}, but the policy does not say where that is recorded")]
    NoSource {
        /// The data type.
        data_type: String,
        /// The anchor.
        anchor: &'static str,
    },
    /// A table the anchor is in that the rows cannot reach.
    #[error("data type \"{data_type}\" cannot reach table \"{table}\" through the subject map")]
    Unreachable {
        /// The data type.
        data_type: String,
        /// The table.
        table: String,
    },
    /// A conditional rule's value of the wrong type.
    #[error("data type \"{data_type}\": condition value \"{}\" is not an integer, as column \"{column}\" is", privctl_policy::escape_untrusted(.value))]
    BadConditionValue {
        /// The data type.
        data_type: String,
        /// The column.
        column: String,
        /// The value.
        value: String,
    },
    /// A roll-up table that cannot add to its buckets.
    #[error("roll-up table \"{table}\" needs a unique index on ({columns}) so each batch adds to its bucket")]
    RollUpNeedsUnique {
        /// The table.
        table: String,
        /// The bucket and group columns.
        columns: String,
    },
    /// Something this release does not do, said plainly.
    #[error("data type \"{data_type}\": {what} is not supported")]
    Unsupported {
        /// The data type.
        data_type: String,
        /// What.
        what: String,
    },
    /// A name from the database that cannot be quoted.
    #[error("{0}")]
    UnsafeName(String),
    /// A files store's root is missing or not a directory.
    #[error("files store \"{store}\": {path}: {reason}")]
    FilesRoot {
        /// The store.
        store: String,
        /// The directory.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A file could not be read or removed.
    #[error("files store \"{store}\": {path}")]
    Files {
        /// The store.
        store: String,
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A batch kept waiting for locks held by others.
    #[error("store {store}: table \"{table}\" stayed locked by other work through {tries} attempts; nothing more was changed")]
    Locked {
        /// The store.
        store: String,
        /// The table.
        table: String,
        /// Attempts made.
        tries: u32,
    },
    /// A column of customer choices with more distinct values than
    /// customers choose among.
    #[error("data type \"{data_type}\": column \"{column}\" holds more than 1000 distinct retention choices; it does not look like a choice of period")]
    TooManyChoices {
        /// The data type.
        data_type: String,
        /// `table.column`.
        column: String,
    },
    /// The vault refused to crypto-shred a subject.
    #[error("crypto-shredding subject \"{subject}\" in the vault failed")]
    Vault {
        /// The subject.
        subject: String,
        /// The vault's error.
        source: Box<privctl_vault::Error>,
    },
    /// `sample` found the database or directory already in use.
    #[error("{0}; sample fills only an empty database and empty directories, and changed nothing")]
    NotEmpty(String),
    /// A value of privctl's own making that cannot be.
    #[error("internal: {0} missing from a checked policy")]
    Internal(&'static str),
}

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
