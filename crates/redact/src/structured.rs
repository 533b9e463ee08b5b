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

use crate::sealing::sealed_tokens;
use crate::{Error, Redactor, Result, Revealer, Session};

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

/// Rewrites a document's strings, one at a time: redacting them, or
/// revealing the sealed tokens in them.
trait Strings {
    /// The new text of the string at `path`, or `None` to leave it.
    fn rewrite(&mut self, path: &FieldPath, text: &str) -> Result<Option<String>>;
}

/// Redaction by the rule each field's path selects; counts findings.
struct Redacting<'a> {
    rules: &'a dyn FieldRedactors,
    session: &'a mut Session,
    found: u64,
}

impl<'a> Redacting<'a> {
    fn new(rules: &'a dyn FieldRedactors, session: &'a mut Session) -> Self {
        Redacting {
            rules,
            session,
            found: 0,
        }
    }
}

impl Strings for Redacting<'_> {
    fn rewrite(&mut self, path: &FieldPath, text: &str) -> Result<Option<String>> {
        let Some(r) = self.rules.for_field(path) else {
            return Ok(None);
        };
        let found = r.find(text);
        if found.is_empty() {
            return Ok(None);
        }
        self.found += found.len() as u64;
        Ok(Some(r.apply_in_field(
            text,
            &found,
            &path.binding(),
            self.session,
        )))
    }
}

/// Sealed tokens opened as the data type and each string's field; counts
/// tokens.
struct Revealing<'a> {
    revealer: &'a mut dyn Revealer,
    data_type: &'a str,
    opened: u64,
}

impl<'a> Revealing<'a> {
    fn new(revealer: &'a mut dyn Revealer, data_type: &'a str) -> Self {
        Revealing {
            revealer,
            data_type,
            opened: 0,
        }
    }
}

impl Strings for Revealing<'_> {
    fn rewrite(&mut self, path: &FieldPath, text: &str) -> Result<Option<String>> {
        let n = sealed_tokens(text).len() as u64;
        if n == 0 {
            return Ok(None);
        }
        let field = path.binding();
        let opened = self
            .revealer
            .reveal(text, self.data_type, &field)
            .map_err(|e| located(e, &format!("field {path}")))?;
        self.opened += n;
        Ok(Some(opened))
    }
}

/// Prefixes where a reveal failed to its location.
fn located(e: Error, place: &str) -> Error {
    match e {
        Error::Reveal { location, source } if location.is_empty() => Error::Reveal {
            location: place.to_owned(),
            source,
        },
        Error::Reveal { location, source } => Error::Reveal {
            location: format!("{place}, {location}"),
            source,
        },
        e => e,
    }
}

impl FieldPath {
    /// The path sealed tokens are bound to: every index written `[*]`, so
    /// a value stays readable when the items of a list move, and not when
    /// it moves to another field.
    ///
    /// A key holding `.`, `[`, `]`, `"` or `\\` is written `["key"]` (as a
    /// JSON string), so `{"a.b": …}` and `{"a": {"b": …}}` bind apart.
    pub fn binding(&self) -> String {
        let mut out = String::new();
        for (i, s) in self.0.iter().enumerate() {
            match s {
                FieldSegment::Key(k) if k.contains(['.', '[', ']', '"', '\\']) => {
                    out.push('[');
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(']');
                }
                FieldSegment::Key(k) => {
                    if i > 0 {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                FieldSegment::Index(_) => out.push_str("[*]"),
            }
        }
        out
    }
}

/// Redacts every string in a JSON value in place; returns the findings count.
pub fn redact_value(value: &mut Value, rules: &dyn FieldRedactors, session: &mut Session) -> u64 {
    let mut r = Redacting::new(rules, session);
    // Redaction itself never fails.
    let _ = walk(value, &mut FieldPath::default(), &mut r);
    r.found
}

fn walk(value: &mut Value, path: &mut FieldPath, strings: &mut dyn Strings) -> Result<()> {
    match value {
        Value::String(s) => {
            if let Some(new) = strings.rewrite(path, s)? {
                *s = new;
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                path.0.push(FieldSegment::Index(i));
                walk(item, path, strings)?;
                path.0.pop();
            }
        }
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                path.0.push(FieldSegment::Key(k.clone()));
                walk(v, path, strings)?;
                path.0.pop();
            }
        }
        _ => {}
    }
    Ok(())
}

/// Redacts one JSON document.
pub fn redact_json(
    input: impl Read,
    output: impl Write,
    rules: &dyn FieldRedactors,
    session: &mut Session,
) -> Result<u64> {
    let mut r = Redacting::new(rules, session);
    json_document(input, output, &mut r)?;
    Ok(r.found)
}

/// Redacts JSON Lines one line at a time (memory bounded by the longest
/// line). Blank lines pass through.
pub fn redact_jsonl(
    input: impl BufRead,
    output: impl Write,
    rules: &dyn FieldRedactors,
    session: &mut Session,
    progress: &mut dyn FnMut(u64),
) -> Result<u64> {
    let mut r = Redacting::new(rules, session);
    json_lines(input, output, &mut r, progress)?;
    Ok(r.found)
}

/// Redacts CSV with a header row, cell by cell, each cell's path being its
/// column name.
pub fn redact_csv(
    input: impl Read,
    output: impl Write,
    rules: &dyn FieldRedactors,
    session: &mut Session,
) -> Result<u64> {
    let mut r = Redacting::new(rules, session);
    csv_cells(input, output, &mut r)?;
    Ok(r.found)
}

/// Opens the sealed tokens in one JSON document, each as `data_type` and
/// its string's field; returns the tokens opened.
pub fn reveal_json(
    input: impl Read,
    output: impl Write,
    revealer: &mut dyn Revealer,
    data_type: &str,
) -> Result<u64> {
    let mut r = Revealing::new(revealer, data_type);
    json_document(input, output, &mut r)?;
    Ok(r.opened)
}

/// [`reveal_json`] for JSON Lines.
pub fn reveal_jsonl(
    input: impl BufRead,
    output: impl Write,
    revealer: &mut dyn Revealer,
    data_type: &str,
    progress: &mut dyn FnMut(u64),
) -> Result<u64> {
    let mut r = Revealing::new(revealer, data_type);
    json_lines(input, output, &mut r, progress)?;
    Ok(r.opened)
}

/// [`reveal_json`] for CSV: each cell's field is its column.
pub fn reveal_csv(
    input: impl Read,
    output: impl Write,
    revealer: &mut dyn Revealer,
    data_type: &str,
) -> Result<u64> {
    let mut r = Revealing::new(revealer, data_type);
    csv_cells(input, output, &mut r)?;
    Ok(r.opened)
}

/// Opens the sealed tokens in plain text, line by line (memory bounded by
/// the longest line), each as `data_type` with no field.
pub fn reveal_text(
    mut input: impl BufRead,
    mut output: impl Write,
    revealer: &mut dyn Revealer,
    data_type: &str,
    progress: &mut dyn FnMut(u64),
) -> Result<u64> {
    let mut opened = 0;
    let mut consumed = 0u64;
    let mut line = Vec::new();
    for i in 1u64.. {
        line.clear();
        let n = loop {
            match input.read_until(b'\n', &mut line) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::Read(e)),
            }
        };
        if n == 0 {
            break;
        }
        let text = std::str::from_utf8(&line).map_err(|e| Error::NotUtf8 {
            offset: consumed + e.valid_up_to() as u64,
        })?;
        consumed += n as u64;
        let tokens = sealed_tokens(text).len() as u64;
        if tokens == 0 {
            output.write_all(&line).map_err(Error::Write)?;
        } else {
            let open = revealer
                .reveal(text, data_type, "")
                .map_err(|e| located(e, &format!("line {i}")))?;
            output.write_all(open.as_bytes()).map_err(Error::Write)?;
            opened += tokens;
        }
        if i % 4096 == 0 {
            progress(consumed);
        }
    }
    Ok(opened)
}

fn json_document(
    mut input: impl Read,
    mut output: impl Write,
    strings: &mut dyn Strings,
) -> Result<()> {
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
    walk(&mut value, &mut FieldPath::default(), strings)?;
    serde_json::to_writer(&mut output, &value).map_err(|e| Error::Write(e.into()))?;
    output.write_all(b"\n").map_err(Error::Write)?;
    Ok(())
}

fn json_lines(
    input: impl BufRead,
    mut output: impl Write,
    strings: &mut dyn Strings,
    progress: &mut dyn FnMut(u64),
) -> Result<()> {
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
            walk(&mut value, &mut FieldPath::default(), strings)
                .map_err(|e| located(e, &format!("line {}", i + 1)))?;
            serde_json::to_writer(&mut output, &value).map_err(|e| Error::Write(e.into()))?;
        }
        output.write_all(b"\n").map_err(Error::Write)?;
        if i % 4096 == 0 {
            progress(consumed);
        }
    }
    Ok(())
}

fn csv_cells(input: impl Read, output: impl Write, strings: &mut dyn Strings) -> Result<()> {
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
    let mut record = csv::StringRecord::new();
    let mut n = 1u64;
    while reader.read_record(&mut record).map_err(csv_err)? {
        n += 1;
        let mut out = csv::StringRecord::new();
        for (i, cell) in record.iter().enumerate() {
            let new = match paths.get(i) {
                Some(p) => strings
                    .rewrite(p, cell)
                    .map_err(|e| located(e, &format!("row {n}")))?,
                None => None,
            };
            out.push_field(new.as_deref().unwrap_or(cell));
        }
        writer.write_record(&out).map_err(csv_err)?;
    }
    writer.flush().map_err(Error::Write)?;
    Ok(())
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
    fn bindings_tell_nested_keys_from_keys_with_dots() {
        let nested = FieldPath(vec![
            FieldSegment::Key("a".into()),
            FieldSegment::Key("b".into()),
        ]);
        let dotted = FieldPath(vec![FieldSegment::Key("a.b".into())]);
        let listed = FieldPath(vec![
            FieldSegment::Key("m".into()),
            FieldSegment::Index(3),
            FieldSegment::Key("x[*]".into()),
        ]);
        assert_eq!(nested.binding(), "a.b");
        assert_eq!(dotted.binding(), r#"["a.b"]"#);
        assert_eq!(listed.binding(), r#"m[*]["x[*]"]"#);
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
