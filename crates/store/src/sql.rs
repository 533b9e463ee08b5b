//! Statements built from constant text, quoted identifiers and bound values.
//! Placeholders are numbered as values are pushed, each used once, so the
//! same builder serves SQLite and PostgreSQL.

use crate::{quote, Dialect, TimeKind};
use chrono::{DateTime, Utc};
use privctl_policy::SqlIdent;
use sqlx::any::AnyArguments;
use sqlx::Arguments;

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An integer.
    Int(i64),
    /// Text.
    Text(String),
}

/// SQL text under construction with its bound values.
#[derive(Debug, Clone, Default)]
pub struct Sql {
    text: String,
    values: Vec<Value>,
}

impl Sql {
    /// Empty.
    pub fn new() -> Self {
        Sql::default()
    }

    /// Appends constant text.
    pub fn push(&mut self, constant: &'static str) -> &mut Self {
        self.text.push_str(constant);
        self
    }

    /// Appends a quoted identifier.
    pub fn ident(&mut self, ident: &SqlIdent) -> &mut Self {
        self.text.push_str(&quote(ident));
        self
    }

    /// Appends `"table"."column"`.
    pub fn column(&mut self, table: &SqlIdent, column: &SqlIdent) -> &mut Self {
        self.ident(table).push(".").ident(column)
    }

    /// Appends a placeholder bound to `value`.
    pub fn bind(&mut self, value: Value) -> &mut Self {
        self.values.push(value);
        self.text.push('$');
        self.text.push_str(&self.values.len().to_string());
        self
    }

    /// Appends another fragment, renumbering its placeholders.
    pub fn append(&mut self, other: &Sql) -> &mut Self {
        let mut rest = other.text.as_str();
        let mut n = 0;
        while let Some(i) = rest.find('$') {
            self.text.push_str(&rest[..i]);
            let digits = rest[i + 1..].bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                self.text.push('$');
                rest = &rest[i + 1..];
                continue;
            }
            self.bind(other.values[n].clone());
            n += 1;
            rest = &rest[i + 1 + digits..];
        }
        self.text.push_str(rest);
        self
    }

    /// The text, for tests and `--explain`.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The statement for ClickHouse, whose HTTP interface (before 19.11)
    /// takes no bound parameters: each value is written in as a literal,
    /// an integer in decimal, text quoted with every character ClickHouse
    /// reads specially escaped ([`clickhouse_literal`]).
    pub fn clickhouse_text(&self) -> String {
        let mut out = String::with_capacity(self.text.len());
        let mut rest = self.text.as_str();
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let digits = rest[i + 1..].bytes().take_while(u8::is_ascii_digit).count();
            let n: Option<usize> = rest[i + 1..i + 1 + digits].parse().ok();
            match n.and_then(|n| self.values.get(n.wrapping_sub(1))) {
                Some(Value::Int(v)) => out.push_str(&v.to_string()),
                Some(Value::Text(t)) => out.push_str(&clickhouse_literal(t)),
                None => out.push('$'),
            }
            rest = &rest[i + 1 + if n.is_some() { digits } else { 0 }..];
        }
        out.push_str(rest);
        out
    }

    /// The statement, ready to run.
    pub fn query(&self) -> sqlx::query::Query<'_, sqlx::Any, AnyArguments> {
        let mut args = AnyArguments::default();
        for v in &self.values {
            // Binding an i64 or a String into AnyArguments cannot fail.
            let _ = match v {
                Value::Int(i) => args.add(*i),
                Value::Text(t) => args.add(t.clone()),
            };
        }
        // Built only from constant text, identifiers quoted by the store
        // layer and numbered placeholders.
        sqlx::query_with(sqlx::AssertSqlSafe(self.text.clone()), args)
    }
}

/// A ClickHouse string literal holding exactly `text`: in single quotes,
/// with backslash, quote and the control characters escaped, so no value
/// can end the literal or change the statement.
///
/// ```
/// use privctl_store::sql::clickhouse_literal;
/// assert_eq!(clickhouse_literal("it's a \\ test"), "'it\\'s a \\\\ test'");
/// ```
pub fn clickhouse_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Text as SQLite writes `CURRENT_TIMESTAMP`.
pub fn sqlite_text(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Appends an expression that reads the time in `expr` (of `kind`) as a
/// comparable value.
pub fn time_of(sql: &mut Sql, dialect: Dialect, kind: TimeKind, expr: &Sql) {
    match (dialect, kind) {
        // Text in any of SQLite's time forms (with or without `T`, `Z`,
        // fractions) compares correctly once normalised.
        (Dialect::Sqlite, TimeKind::Text) => {
            sql.push("datetime(").append(expr).push(")");
        }
        (Dialect::Postgres, TimeKind::Text) => {
            sql.push("CAST(").append(expr).push(" AS TIMESTAMPTZ)");
        }
        _ => {
            sql.append(expr);
        }
    }
}

/// Appends an expression that reads the time in `expr` (of `kind`) as text
/// [`parse_time_text`] reads back: whole seconds since 1970, or
/// `YYYY-MM-DD HH:MM:SS` in UTC.
pub fn time_text(sql: &mut Sql, dialect: Dialect, kind: TimeKind, expr: &Sql) {
    match (dialect, kind) {
        (_, TimeKind::UnixSeconds) => {
            sql.push("CAST(").append(expr).push(" AS TEXT)");
        }
        (Dialect::Sqlite, _) => {
            sql.push("datetime(").append(expr).push(")");
        }
        (Dialect::Postgres, TimeKind::Timestamp) | (Dialect::Postgres, TimeKind::Date) => {
            sql.push("to_char(CAST(")
                .append(expr)
                .push(" AS TIMESTAMP), 'YYYY-MM-DD HH24:MI:SS')");
        }
        (Dialect::Postgres, _) => {
            sql.push("to_char(CAST(")
                .append(expr)
                .push(" AS TIMESTAMPTZ) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')");
        }
    }
}

/// The instant in text [`time_text`] wrote.
pub fn parse_time_text(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(n) = t.parse::<i64>() {
        return DateTime::from_timestamp(n, 0);
    }
    chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|n| n.and_utc())
}

/// Appends a bound instant, comparable with [`time_of`] of the same kind.
pub fn time_value(sql: &mut Sql, dialect: Dialect, kind: TimeKind, t: DateTime<Utc>) {
    match (dialect, kind) {
        (_, TimeKind::UnixSeconds) => {
            sql.bind(Value::Int(t.timestamp()));
        }
        (Dialect::Sqlite, _) => {
            sql.push("datetime(")
                .bind(Value::Text(sqlite_text(t)))
                .push(")");
        }
        (Dialect::Postgres, _) => {
            sql.push("CAST(")
                .bind(Value::Text(t.to_rfc3339()))
                .push(" AS TIMESTAMPTZ)");
        }
    }
}

/// Appends a bound instant to store into a column of `kind`.
pub fn time_to_store(sql: &mut Sql, dialect: Dialect, kind: TimeKind, t: DateTime<Utc>) {
    match (dialect, kind) {
        (_, TimeKind::UnixSeconds) => {
            sql.bind(Value::Int(t.timestamp()));
        }
        (Dialect::Sqlite, _) | (Dialect::Postgres, TimeKind::Text) => {
            sql.bind(Value::Text(sqlite_text(t)));
        }
        (Dialect::Postgres, _) => {
            sql.push("CAST(")
                .bind(Value::Text(t.to_rfc3339()))
                .push(" AS TIMESTAMPTZ)");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_fragments_are_renumbered() {
        let mut inner = Sql::new();
        inner
            .push("a = ")
            .bind(Value::Int(1))
            .push(" AND b = ")
            .bind(Value::Int(2));
        let mut outer = Sql::new();
        outer
            .push("x = ")
            .bind(Value::Int(0))
            .push(" AND (")
            .append(&inner)
            .push(")");
        assert_eq!(outer.text(), "x = $1 AND (a = $2 AND b = $3)");
        assert_eq!(outer.values, [Value::Int(0), Value::Int(1), Value::Int(2)]);
    }
}
