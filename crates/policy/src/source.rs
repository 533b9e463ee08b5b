//! Where each key and value of a policy file sits, so that every finding,
//! including those about meaning rather than syntax, points at a line and
//! column.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use serde::Serialize;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// One step into a TOML document: a key of a table or an index of an array.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// A table key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// A path from the document root, e.g. `data_types.kyc.retention.period`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct KeyPath(pub Vec<Segment>);

impl KeyPath {
    /// The empty path: the document itself.
    pub fn root() -> Self {
        KeyPath(Vec::new())
    }

    /// This path with a key appended.
    pub fn key(&self, key: &str) -> Self {
        let mut v = self.0.clone();
        v.push(Segment::Key(key.to_owned()));
        KeyPath(v)
    }

    /// This path with an array index appended.
    pub fn index(&self, index: usize) -> Self {
        let mut v = self.0.clone();
        v.push(Segment::Index(index));
        KeyPath(v)
    }
}

/// Builds a path from keys and indices: `path!["data_types", name, "retention"]`.
#[macro_export]
#[doc(hidden)]
macro_rules! path {
    ($($seg:expr),* $(,)?) => {{
        #[allow(unused_mut)]
        let mut p = $crate::source::KeyPath::root();
        $( p = $crate::source::IntoSegment::push_onto($seg, p); )*
        p
    }};
}

/// Things that can extend a [`KeyPath`]: strings become keys, numbers indices.
#[doc(hidden)]
pub trait IntoSegment {
    fn push_onto(self, path: KeyPath) -> KeyPath;
}

impl IntoSegment for &str {
    fn push_onto(self, path: KeyPath) -> KeyPath {
        path.key(self)
    }
}

impl IntoSegment for &String {
    fn push_onto(self, path: KeyPath) -> KeyPath {
        path.key(self)
    }
}

impl IntoSegment for usize {
    fn push_onto(self, path: KeyPath) -> KeyPath {
        path.index(self)
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for seg in &self.0 {
            match seg {
                Segment::Key(k) => {
                    if !first {
                        f.write_str(".")?;
                    }
                    let bare = !k.is_empty()
                        && k.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                    if bare {
                        f.write_str(k)?;
                    } else {
                        write!(f, "{k:?}")?;
                    }
                }
                Segment::Index(i) => write!(f, "[{i}]")?,
            }
            first = false;
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
struct Node {
    key: Option<Range<usize>>,
    value: Range<usize>,
    is_table: bool,
}

/// Byte spans of every key and value in one document.
#[derive(Debug, Default)]
pub struct SourceMap {
    nodes: HashMap<KeyPath, Node>,
}

impl SourceMap {
    /// Indexes a parsed document.
    pub fn new(root: &Spanned<DeTable<'_>>) -> Self {
        let mut map = SourceMap::default();
        map.walk_table(&KeyPath::root(), root.get_ref());
        map
    }

    fn walk_table(&mut self, path: &KeyPath, table: &DeTable<'_>) {
        for (key, value) in table.iter() {
            let child = path.key(key.get_ref());
            self.insert(child.clone(), Some(key.span()), value);
            self.walk_value(&child, value.get_ref());
        }
    }

    fn walk_value(&mut self, path: &KeyPath, value: &DeValue<'_>) {
        match value {
            DeValue::Table(t) => self.walk_table(path, t),
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let child = path.index(i);
                    self.insert(child.clone(), None, item);
                    self.walk_value(&child, item.get_ref());
                }
            }
            _ => {}
        }
    }

    fn insert(&mut self, path: KeyPath, key: Option<Range<usize>>, value: &Spanned<DeValue<'_>>) {
        let is_table = matches!(value.get_ref(), DeValue::Table(_));
        self.nodes.insert(
            path,
            Node {
                key,
                value: value.span(),
                is_table,
            },
        );
    }

    /// Whether the document has this path.
    pub fn contains(&self, path: &KeyPath) -> bool {
        self.nodes.contains_key(path)
    }

    /// The best span for a finding about `path`: a scalar's value, a table's
    /// key, or, when the path is missing (a key that should be there), the
    /// key of its nearest ancestor that exists.
    pub fn locate(&self, path: &KeyPath) -> Option<Range<usize>> {
        if let Some(node) = self.nodes.get(path) {
            return Some(if node.is_table {
                node.key.clone().unwrap_or(node.value.clone())
            } else {
                node.value.clone()
            });
        }
        self.locate_key(path)
    }

    /// The span of the key at `path` (or of its nearest existing ancestor).
    pub fn locate_key(&self, path: &KeyPath) -> Option<Range<usize>> {
        let mut segs = path.0.clone();
        while !segs.is_empty() {
            if let Some(node) = self.nodes.get(&KeyPath(segs.clone())) {
                return Some(node.key.clone().unwrap_or(node.value.clone()));
            }
            segs.pop();
        }
        None
    }
}

/// A 1-based line and column (in characters) with the byte span behind them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// Line of the first character, from 1.
    pub line: usize,
    /// Column of the first character, from 1, counted in characters.
    pub column: usize,
    /// Line of the last character.
    pub end_line: usize,
    /// Column just past the last character.
    pub end_column: usize,
    /// Byte offset of the first character.
    pub offset: usize,
    /// Length in bytes.
    pub length: usize,
}

impl Location {
    /// Turns a byte span of `src` into lines and columns. Spans past the end
    /// or inside a character are clamped, never a panic. To place many spans
    /// in one file, build a [`LineIndex`] once instead.
    pub fn from_span(src: &str, span: Range<usize>) -> Self {
        LineIndex::new(src).locate(span)
    }
}

/// Lines and character counts of one file, computed once, so that placing
/// any number of findings costs time linear in the file, not in the file
/// times the findings (40,000 unknown keys once took 19 seconds).
#[derive(Debug)]
pub struct LineIndex<'a> {
    src: &'a str,
    /// Byte offset where each line starts.
    line_starts: Vec<usize>,
    /// Characters before each [`CHUNK`]-byte boundary.
    chars_before: Vec<usize>,
}

/// Granularity of the character-count checkpoints.
const CHUNK: usize = 1024;

impl<'a> LineIndex<'a> {
    /// Indexes `src`.
    pub fn new(src: &'a str) -> Self {
        let bytes = src.as_bytes();
        let mut line_starts = vec![0];
        line_starts.extend(memchr::memchr_iter(b'\n', bytes).map(|i| i + 1));
        let mut chars_before = Vec::with_capacity(bytes.len() / CHUNK + 1);
        let mut n = 0;
        for chunk in bytes.chunks(CHUNK) {
            chars_before.push(n);
            n += count_chars(chunk);
        }
        chars_before.push(n);
        LineIndex {
            src,
            line_starts,
            chars_before,
        }
    }

    /// Characters in `src[..offset]` (`offset` on a character boundary).
    fn chars_to(&self, offset: usize) -> usize {
        let chunk = offset / CHUNK;
        self.chars_before[chunk] + count_chars(&self.src.as_bytes()[chunk * CHUNK..offset])
    }

    fn line_col(&self, offset: usize) -> (usize, usize) {
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let start = self.line_starts[line - 1];
        (line, self.chars_to(offset) - self.chars_to(start) + 1)
    }

    /// The location of a byte span, clamped to the text and to character
    /// boundaries.
    pub fn locate(&self, span: Range<usize>) -> Location {
        let start = floor_char_boundary(self.src, span.start);
        let end = floor_char_boundary(self.src, span.end.max(start));
        let (line, column) = self.line_col(start);
        let (end_line, end_column) = self.line_col(end);
        Location {
            line,
            column,
            end_line,
            end_column,
            offset: start,
            length: end - start,
        }
    }
}

/// UTF-8 characters in `bytes`: every byte that does not continue one.
fn count_chars(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| (b & 0xC0) != 0x80).count()
}

fn floor_char_boundary(src: &str, mut i: usize) -> usize {
    i = i.min(src.len());
    while !src.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_count_characters() {
        let src = "a = 1\nbé = \"x\"\n";
        let loc = Location::from_span(src, 13..16);
        assert_eq!((loc.line, loc.column), (2, 7));
        assert_eq!(Location::from_span(src, 999..1000).line, 3);
    }

    #[test]
    fn the_line_index_agrees_with_a_plain_count_everywhere() {
        let src = format!(
            "{}\nsecond é line\n\n{}ü\nlast",
            "x".repeat(3000),
            "ab".repeat(700)
        );
        let index = LineIndex::new(&src);
        for offset in (0..=src.len()).filter(|&i| src.is_char_boundary(i)) {
            let before = &src[..offset];
            let line = before.matches('\n').count() + 1;
            let column = before[before.rfind('\n').map_or(0, |i| i + 1)..]
                .chars()
                .count()
                + 1;
            let loc = index.locate(offset..offset);
            assert_eq!((loc.line, loc.column), (line, column), "offset {offset}");
        }
    }

    #[test]
    fn locates_values_keys_and_missing_children() {
        let src =
            "[data_types.kyc]\nstore = \"main\"\n\n[data_types.kyc.retention]\nperiod = \"3y\"\n";
        let doc = DeTable::parse(src).unwrap_or_else(|e| panic!("{e}"));
        let map = SourceMap::new(&doc);
        let at = |p: KeyPath| {
            let span = map.locate(&p).unwrap_or_else(|| panic!("no span for {p}"));
            let loc = Location::from_span(src, span);
            (loc.line, loc.column)
        };
        assert_eq!(at(path!["data_types", "kyc", "store"]), (2, 9));
        assert_eq!(
            at(path!["data_types", "kyc", "retention", "period"]),
            (5, 10)
        );
        assert_eq!(at(path!["data_types", "kyc", "retention"]), (4, 17));
        assert_eq!(at(path!["data_types", "kyc", "erasure"]), (1, 13));
    }

    #[test]
    fn paths_display_like_toml_keys() {
        assert_eq!(
            path!["subject", "links", 2usize, "column"].to_string(),
            "subject.links[2].column"
        );
        assert_eq!(path!["a b"].to_string(), "\"a b\"");
    }
}
