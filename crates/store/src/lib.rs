//! The one database layer of privctl. The vault, retention sweeps and
//! data-subject requests all reach their databases through it; nobody
//! writes a second one.
//!
//! - The dialect is a closed enum ([`Dialect`]): adding one fails to compile
//!   wherever it must be handled. ClickHouse, which shares no driver with
//!   SQLite and PostgreSQL, has its own handle here
//!   ([`clickhouse::ClickHouse`], over HTTP), built from the same [`sql::Sql`]
//!   statements.
//! - SQL is built only from constant text, identifiers checked when the
//!   policy was parsed ([`privctl_policy::SqlIdent`]) and quoted by
//!   [`quote`], and bound values.
//! - [`Db::schema`] reads the live schema: tables, columns and their types,
//!   primary keys, foreign keys and indexes.
//! - privctl's own tables are versioned per [`Component`] and created or
//!   upgraded under a lock, so concurrent first runs agree.
//! - A database URL prints with its password masked ([`DbUrl`]), and every
//!   database error keeps the driver's error as its `source()`, naming the
//!   store, the table and the operation.

pub mod clickhouse;
mod db;
pub mod drift;
mod own;
pub mod requests;
mod schema;
pub mod sql;
pub mod subject;
mod url;

#[cfg(feature = "testing")]
pub mod testing;

pub use db::{Db, Lock, Open};
pub use own::Component;
pub use schema::{Column, ForeignKey, Index, Partition, Schema, Table, TimeKind};
pub use url::DbUrl;

pub use sqlx::any::AnyRow;
pub use sqlx::{AnyConnection, Row};

use privctl_policy::SqlIdent;

/// Which database a store is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// SQLite, a file (the embedded default).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Dialect {
    /// Its name, as policies and messages spell it.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }
}

/// The one function that puts an identifier into SQL: a checked name in
/// double quotes, which SQLite, PostgreSQL and ClickHouse all read as an
/// identifier. A [`SqlIdent`] holds only ASCII letters, digits and
/// underscores, so nothing inside needs escaping.
///
/// ```
/// use privctl_policy::SqlIdent;
/// let t = SqlIdent::new("request_log").unwrap();
/// assert_eq!(privctl_store::quote(&t), "\"request_log\"");
/// ```
pub fn quote(ident: &SqlIdent) -> String {
    ident.quoted()
}

/// What went wrong in the store layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A URL whose scheme names no dialect privctl speaks.
    #[error("{url}: a database URL must start with sqlite: or postgres:// (a ClickHouse store's with clickhouse:// or http://)")]
    UnsupportedUrl {
        /// The URL, password masked.
        url: DbUrl,
    },
    /// A SQLite file that does not exist (and was not to be created).
    #[error("database {path} does not exist")]
    NoDatabase {
        /// The file.
        path: String,
    },
    /// The directory of a new SQLite file could not be made.
    #[error("cannot create directory {path}")]
    CreateDir {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Connecting failed.
    #[error("cannot connect to store {store} at {url}")]
    Connect {
        /// The store's name.
        store: String,
        /// The URL, password masked.
        url: DbUrl,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// Connecting took too long.
    #[error("cannot connect to store {store} at {url}: no answer within {seconds} s")]
    ConnectTimeout {
        /// The store's name.
        store: String,
        /// The URL, password masked.
        url: DbUrl,
        /// How long it waited.
        seconds: u64,
    },
    /// A statement failed.
    #[error("store {store}: {operation}{} failed", table_suffix(.table))]
    Database {
        /// The store's name.
        store: String,
        /// The table it was about, if one.
        table: Option<String>,
        /// What was being done.
        operation: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// privctl's own tables were written by a newer release.
    #[error("store {store}: privctl's {component} tables are version {found}, newer than this release reads ({known})\nhint: upgrade privctl")]
    SchemaTooNew {
        /// The store's name.
        store: String,
        /// Which set of tables.
        component: &'static str,
        /// The version found.
        found: i64,
        /// The newest version this release knows.
        known: i64,
    },
    /// A store URL privctl cannot use, and why.
    #[error("{url}: {reason}")]
    BadUrl {
        /// The URL, password masked.
        url: DbUrl,
        /// Why.
        reason: String,
    },
    /// A server that could not be reached or did not answer.
    #[error("cannot reach store {store} at {url}: {reason}")]
    Unreachable {
        /// The store's name.
        store: String,
        /// The URL, password masked.
        url: DbUrl,
        /// What the connection said.
        reason: String,
    },
    /// A ClickHouse statement failed, with the server's code and message.
    #[error("store {store}: {operation}{} failed: {message}{}", table_suffix(.table), code.map(|c| format!(" (ClickHouse error {c})")).unwrap_or_default())]
    ClickHouse {
        /// The store's name.
        store: String,
        /// The table it was about, if one.
        table: Option<String>,
        /// What was being done.
        operation: String,
        /// The server's error code, if it gave one.
        code: Option<u32>,
        /// The server's message, escaped.
        message: String,
    },
    /// A name in the live schema that privctl will not put into SQL.
    #[error("store {store}: table {table} has a name privctl does not quote: {reason}")]
    UnsafeName {
        /// The store's name.
        store: String,
        /// The name, escaped.
        table: String,
        /// Why it was refused.
        reason: String,
    },
}

fn table_suffix(table: &Option<String>) -> String {
    table
        .as_deref()
        .map(|t| format!(" on table {}", privctl_policy::escape_untrusted(t)))
        .unwrap_or_default()
}

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
