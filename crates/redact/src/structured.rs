//! JSON, JSON Lines and CSV, redacted value by value: each string is
//! redacted by the rule its field path selects, and keys, numbers and
//! structure are left as they were.
//!
//! Field paths look like `messages[2].content`; patterns may use `*` for any
//! key and `[*]` for any index (`messages[*].content`), and a pattern
//! selects everything under the field it names (`user` covers `user.email`).
//! CSV cells have their column name as path.

use std::fmt;
use std::io::{BufRead, Read, Write};

use serde_json::Value;

use crate::{Error, Redactor, Result, Session};

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldSegment {
    /// An object key or CSV column.
    Key(String),
    /// An array index.
    Index(usize),
}

/// Where a value sits in a document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldPath(pub Vec<FieldSegment>);

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                FieldSegment::Key(k) if i == 0 => f.write_str(k)?,
                FieldSegment::Key(k) => write!(f, ".{k}")?,
                FieldSegment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PatternSegment {
    Key(String),
    AnyKey,
    Index(usize),
    AnyIndex,
}

/// A field pattern from a policy: `messages[*].content`, `*.password`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPattern(Vec<PatternSegment>);

impl FieldPattern {
    /// Parses a pattern; anything that is not `*`, `[*]` or `[N]` is a key.
    pub fn parse(s: &str) -> Self {
        let mut segs = Vec::new();
        for part in s.split('.') {
            let (key, mut rest) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            match key {
                "" => {}
                "*" => segs.push(PatternSegment::AnyKey),
                k => segs.push(PatternSegment::Key(k.to_owned())),
            }
            while let Some(close) = rest.find(']') {
                let inner = &rest[1..close];
                segs.push(match inner.parse::<usize>() {
                    Ok(n) => PatternSegment::Index(n),
                    Err(_) if inner == "*" => PatternSegment::AnyIndex,
                    Err(_) => PatternSegment::Key(inner.to_owned()),
                });
                rest = &rest[close + 1..];
            }
        }
        FieldPattern(segs)
    }

    /// Whether the pattern names `path` or one of its ancestors.
    pub fn matches(&self, path: &FieldPath) -> bool {
        self.0.len() <= path.0.len()
            && self.0.iter().zip(&path.0).all(|(p, s)| match (p, s) {
                (PatternSegment::AnyKey, FieldSegment::Key(_)) => true,
                (PatternSegment::Key(k), FieldSegment::Key(s)) => k == s,
                (PatternSegment::AnyIndex, FieldSegment::Index(_)) => true,
                (PatternSegment::Index(n), FieldSegment::Index(i)) => n == i,
                _ => false,
            })
    }
}

/// Chooses the redactor for a field, or none to leave it alone.
pub trait FieldRedactors {
    /// The redactor for the value at `path`.
    fn for_field(&self, path: &FieldPath) -> Option<&Redactor>;
}

impl FieldRedactors for Redactor {
    fn for_field(&self, _: &FieldPath) -> Option<&Redactor> {
        Some(self)
    }
}

/// Redacts every string in a JSON value in place; returns the findings count.
pub fn redact_value(value: &mut Value, rules: &dyn FieldRedactors, session: &mut Session) -> u64 {
    let mut path = FieldPath::default();
    walk(value, &mut path, rules, session)
}

fn walk(
    value: &mut Value,
    path: &mut FieldPath,
    rules: &dyn FieldRedactors,
    session: &mut Session,
) -> u64 {
    match value {
        Value::String(s) => {
            let Some(r) = rules.for_field(path) else {
                return 0;
            };
            let found = r.find(s);
            if found.is_empty() {
                return 0;
            }
            *s = r.apply(s, &found, session);
            found.len() as u64
        }
        Value::Array(items) => {
            let mut n = 0;
            for (i, item) in items.iter_mut().enumerate() {
                path.0.push(FieldSegment::Index(i));
                n += walk(item, path, rules, session);
                path.0.pop();
            }
            n
        }
        Value::Object(map) => {
            let mut n = 0;
            for (k, v) in map.iter_mut() {
                path.0.push(FieldSegment::Key(k.clone()));
                n += walk(v, path, rules, session);
                path.0.pop();
            }
            n
        }
        _ => 0,
    }
}

/// Redacts one JSON document.
pub fn redact_json(
    mut input: impl Read,
    mut output: impl Write,
    rules: &dyn FieldRedactors,
    session: &mut Session,
) -> Result<u64> {
    let mut text = String::new();
    input
        .read_to_string(&mut text)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => Error::NotUtf8 { offset: 0 },
            _ => Error::Read(e),
        })?;
    let mut value: Value = serde_json::from_str(&text).map_err(|e| Error::Json {
        line: e.line() as u64,
        message: e.to_string(),
    })?;
    let n = redact_value(&mut value, rules, session);
    serde_json::to_writer(&mut output, &value).map_err(|e| Error::Write(e.into()))?;
    output.write_all(b"\n").map_err(Error::Write)?;
    Ok(n)
}

/// Redacts JSON Lines one line at a time (memory bounded by the longest
/// line). Blank lines pass through.
pub fn redact_jsonl(
    input: impl BufRead,
    mut output: impl Write,
    rules: &dyn FieldRedactors,
    session: &mut Session,
    progress: &mut dyn FnMut(u64),
) -> Result<u64> {
    let mut n = 0;
    let mut consumed = 0u64;
    for (i, line) in input.split(b'\n').enumerate() {
        let line = line.map_err(Error::Read)?;
        consumed += line.len() as u64 + 1;
        let text = std::str::from_utf8(&line).map_err(|e| Error::NotUtf8 {
            offset: consumed - line.len() as u64 - 1 + e.valid_up_to() as u64,
        })?;
        let text = text.strip_suffix('\r').unwrap_or(text);
        if text.trim().is_empty() {
            output.write_all(text.as_bytes()).map_err(Error::Write)?;
        } else {
            let mut value: Value = serde_json::from_str(text).map_err(|e| Error::Json {
                line: i as u64 + 1,
                message: e.to_string(),
            })?;
            n += redact_value(&mut value, rules, session);
            serde_json::to_writer(&mut output, &value).map_err(|e| Error::Write(e.into()))?;
        }
        output.write_all(b"\n").map_err(Error::Write)?;
        if i % 4096 == 0 {
            progress(consumed);
        }
    }
    Ok(n)
}

/// Redacts CSV with a header row, cell by cell, each cell's path being its
/// column name.
pub fn redact_csv(
    input: impl Read,
    output: impl Write,
    rules: &dyn FieldRedactors,
    session: &mut Session,
) -> Result<u64> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let mut writer = csv::WriterBuilder::new().flexible(true).from_writer(output);
    let csv_err = |e: csv::Error| match e.kind() {
        csv::ErrorKind::Utf8 { pos, .. } => Error::NotUtf8 {
            offset: pos.as_ref().map_or(0, |p| p.byte()),
        },
        _ => Error::Csv(e.to_string()),
    };
    let headers = reader.headers().map_err(csv_err)?.clone();
    writer.write_record(&headers).map_err(csv_err)?;
    let paths: Vec<FieldPath> = headers
        .iter()
        .map(|h| FieldPath(vec![FieldSegment::Key(h.to_owned())]))
        .collect();
    let mut n = 0;
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record).map_err(csv_err)? {
        let mut out = csv::StringRecord::new();
        for (i, cell) in record.iter().enumerate() {
            let redactor = paths.get(i).and_then(|p| rules.for_field(p));
            match redactor {
                Some(r) => {
                    let found = r.find(cell);
                    n += found.len() as u64;
                    out.push_field(&r.apply(cell, &found, session));
                }
                None => out.push_field(cell),
            }
        }
        writer.write_record(&out).map_err(csv_err)?;
    }
    writer.flush().map_err(Error::Write)?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(s: &str) -> FieldPath {
        let p = FieldPattern::parse(s);
        FieldPath(
            p.0.into_iter()
                .map(|s| match s {
                    PatternSegment::Key(k) => FieldSegment::Key(k),
                    PatternSegment::Index(n) => FieldSegment::Index(n),
                    _ => unreachable!("concrete paths only"),
                })
                .collect(),
        )
    }

    #[test]
    fn patterns_match_fields_and_their_children() {
        let p = FieldPattern::parse("messages[*].content");
        assert!(p.matches(&path("messages[3].content")));
        assert!(p.matches(&path("messages[0].content.parts[1]")));
        assert!(!p.matches(&path("messages[0].role")));
        assert!(!p.matches(&path("messages")));
        assert!(FieldPattern::parse("*.password").matches(&path("db.password")));
        assert!(FieldPattern::parse("user").matches(&path("user.email")));
        assert_eq!(path("a.b[2].c").to_string(), "a.b[2].c");
    }
}
