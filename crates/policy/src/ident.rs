//! Identifiers that come from a policy file and will one day reach SQL.
//!
//! A policy names tables and columns; the retention and erasure engines build
//! statements from those names. Rather than trusting every later caller to
//! quote, a name is checked once, when the policy is parsed, and carries its
//! proof in its type.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A table or column name: ASCII letters, digits and underscores, not starting
/// with a digit, at most 63 bytes (PostgreSQL's limit). Such a name needs no
/// escaping inside double quotes, and [`SqlIdent::quoted`] adds them.
///
/// ```
/// use privctl_policy::SqlIdent;
/// let t = SqlIdent::new("wallet_events").unwrap();
/// assert_eq!(t.quoted(), "\"wallet_events\"");
/// assert!(SqlIdent::new("users; DROP TABLE users").is_err());
/// assert!(SqlIdent::new("\"x\"").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SqlIdent(String);

/// Why a name was refused as a SQL identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid identifier {name:?}: {reason}")]
pub struct InvalidIdent {
    name: String,
    reason: &'static str,
}

impl SqlIdent {
    /// Checks `name` and wraps it.
    pub fn new(name: &str) -> Result<Self, InvalidIdent> {
        let err = |reason| InvalidIdent {
            name: name.to_owned(),
            reason,
        };
        let first = name.bytes().next().ok_or_else(|| err("it is empty"))?;
        if name.len() > 63 {
            return Err(err("it is longer than 63 bytes"));
        }
        if first.is_ascii_digit() {
            return Err(err("it starts with a digit"));
        }
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(err(
                "only ASCII letters, digits and underscores are allowed in table and column names",
            ));
        }
        Ok(SqlIdent(name.to_owned()))
    }

    /// The name as written in the policy.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name in double quotes, ready to splice into SQL for SQLite,
    /// PostgreSQL and ClickHouse alike.
    pub fn quoted(&self) -> String {
        format!("\"{}\"", self.0)
    }
}

impl TryFrom<String> for SqlIdent {
    type Error = InvalidIdent;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        SqlIdent::new(&s)
    }
}

impl From<SqlIdent> for String {
    fn from(id: SqlIdent) -> String {
        id.0
    }
}

impl fmt::Display for SqlIdent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::borrow::Borrow<str> for SqlIdent {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// A column of a table, written `table.column` in a policy: two checked
/// [`SqlIdent`]s, never a string split at the point of use. Engines build
/// joins from it, so both halves are proven safe when the policy is parsed.
///
/// ```
/// use privctl_policy::ColumnRef;
/// let r: ColumnRef = "users.id".parse().unwrap();
/// assert_eq!((r.table.as_str(), r.column.as_str()), ("users", "id"));
/// assert_eq!(r.to_string(), "users.id");
/// assert!("users.id' OR '1'='1".parse::<ColumnRef>().is_err());
/// assert!("users".parse::<ColumnRef>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ColumnRef {
    /// The table.
    pub table: SqlIdent,
    /// The column of that table.
    pub column: SqlIdent,
}

/// Why a `table.column` reference was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidColumnRef {
    /// No `.` between table and column.
    #[error("invalid column reference {0:?}: write it as table.column")]
    Shape(String),
    /// One half is not a plain identifier.
    #[error("invalid column reference {reference:?}: {source}")]
    Ident {
        /// The reference as written.
        reference: String,
        /// What is wrong with the half that failed.
        source: InvalidIdent,
    },
}

impl std::str::FromStr for ColumnRef {
    type Err = InvalidColumnRef;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (table, column) = s
            .split_once('.')
            .ok_or_else(|| InvalidColumnRef::Shape(s.to_owned()))?;
        let ident = |half: &str| {
            SqlIdent::new(half).map_err(|source| InvalidColumnRef::Ident {
                reference: s.to_owned(),
                source,
            })
        };
        Ok(ColumnRef {
            table: ident(table)?,
            column: ident(column)?,
        })
    }
}

impl TryFrom<String> for ColumnRef {
    type Error = InvalidColumnRef;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<ColumnRef> for String {
    fn from(r: ColumnRef) -> String {
        r.to_string()
    }
}

impl fmt::Display for ColumnRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.table, self.column)
    }
}

impl schemars::JsonSchema for ColumnRef {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ColumnRef".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A column of a table, written table.column; both halves plain SQL identifiers.",
            "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,62}\\.[A-Za-z_][A-Za-z0-9_]{0,62}$"
        })
    }
}

impl schemars::JsonSchema for SqlIdent {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SqlIdent".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A table or column name: ASCII letters, digits and underscores, not starting with a digit.",
            "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,62}$"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_names() {
        for ok in ["users", "_x", "Wallet_Events2", &"a".repeat(63)] {
            assert!(SqlIdent::new(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_anything_that_needs_escaping() {
        for bad in [
            "",
            "1users",
            "users.id",
            "us-ers",
            "us ers",
            "\"users\"",
            "users;--",
            "ünïcode",
            &"a".repeat(64),
        ] {
            assert!(SqlIdent::new(bad).is_err(), "{bad}");
        }
    }
}
