//! The scanner: both detector families over one window of the input, then
//! allowlist and overlap resolution.
//!
//! Every caller (a string, a stream read in chunks, a file split across
//! cores) asks the same question: which findings *start* in this window of
//! this buffer? The scanner looks a little before the window ([`CONTEXT`],
//! for keywords and words cut by the window's start) and far enough after it
//! ([`MARGIN`], the longest finding) that a finding starting inside is seen
//! whole. Chunked, parallel and one-shot scans therefore agree exactly.

use std::collections::HashSet;
use std::ops::Range;

use regex::bytes::Regex;

use crate::anchored::{Anchored, MAX_PEM};
use crate::finding::resolve_overlaps;
use crate::kind::{Builtin, Kind};
use crate::shapes::{Shapes, MAX_WORD};
use crate::{validate, Finding};

/// Bytes looked at before a window.
pub const CONTEXT: usize = 1024;
/// Bytes looked at after a window: the longest finding, plus a word.
pub const MARGIN: usize = MAX_PEM + 2 * MAX_WORD;

pub(crate) fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// Findings collected during one scan, before overlaps are resolved.
#[derive(Debug, Default)]
pub(crate) struct Candidates {
    pub items: Vec<Finding>,
}

impl Candidates {
    pub(crate) fn push(&mut self, kind: Builtin, start: usize, end: usize) {
        self.push_kind(Kind::Builtin(kind), start, end);
    }

    pub(crate) fn push_kind(&mut self, kind: Kind, start: usize, end: usize) {
        if end > start {
            self.items.push(Finding { kind, start, end });
        }
    }
}

/// A detector from a policy: a pattern, optional keywords that anchor it, and
/// a validator.
#[derive(Debug, Clone)]
pub(crate) struct CustomDetector {
    pub kind: Kind,
    pub pattern: Regex,
    pub keywords: Vec<String>,
    pub validator: privctl_policy::model::Validator,
}

impl CustomDetector {
    pub(crate) fn find_in(&self, hay: &[u8], from: usize, to: usize, out: &mut Candidates) {
        use privctl_policy::model::Validator;
        for m in self.pattern.find_iter(&hay[from..to]) {
            let v = m.as_bytes();
            let ok = match self.validator {
                Validator::None => true,
                Validator::Luhn => validate::luhn(v),
                Validator::Mod97 => validate::iban(v),
                Validator::Verhoeff => validate::verhoeff(v),
                Validator::Entropy => validate::entropy(v) >= 3.5,
            };
            if ok {
                out.push_kind(self.kind.clone(), from + m.start(), from + m.end());
            }
        }
    }
}

/// The set of built-in kinds a scanner runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindSet(u64);

impl KindSet {
    /// Every built-in kind.
    pub fn all() -> Self {
        let mut s = KindSet(0);
        for k in Builtin::ALL {
            s.insert(*k);
        }
        s
    }

    /// No kind.
    pub fn none() -> Self {
        KindSet(0)
    }

    /// Adds a kind.
    pub fn insert(&mut self, k: Builtin) {
        self.0 |= 1 << (k as u64);
    }

    /// Whether a kind is in the set.
    pub fn contains(self, k: Builtin) -> bool {
        self.0 & (1 << (k as u64)) != 0
    }
}

/// Built once from the detectors to run; cheap to share across threads.
#[derive(Debug)]
pub(crate) struct Scanner {
    kinds: KindSet,
    anchored: Anchored,
    shapes: Shapes,
    custom: Vec<CustomDetector>,
    allow_values: HashSet<Vec<u8>>,
    allow_patterns: Vec<Regex>,
    /// Labels an operator writes (`EMAIL`, `PASSWORD`, a custom detector's):
    /// the text of its output is never a finding.
    labels: HashSet<Vec<u8>>,
}

/// The longest label an operator token can carry.
const MAX_LABEL: usize = 64;

/// The end of the operator output that starts at `at`, if one does: a
/// placeholder `[LABEL]`, a pseudonym `[LABEL:0123456789ab]` or a prompt
/// token `<LABEL_12>`, for a label in `labels`.
fn token_end(hay: &[u8], at: usize, labels: &HashSet<Vec<u8>>) -> Option<usize> {
    let open = *hay.get(at)?;
    if open != b'[' && open != b'<' {
        return None;
    }
    let from = at + 1;
    let run = hay[from..hay.len().min(from + MAX_LABEL + 24)]
        .iter()
        .position(|b| matches!(b, b']' | b'>' | b':' | b'[' | b'<') || b.is_ascii_whitespace())?;
    let word = &hay[from..from + run];
    let after = from + run;
    match (open, hay[after]) {
        (b'[', b']') if labels.contains(word) => Some(after + 1),
        (b'[', b':') if labels.contains(word) => {
            let hex = hay.get(after + 1..after + 13)?;
            let ok = hex
                .iter()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b));
            (ok && hay.get(after + 13) == Some(&b']')).then_some(after + 14)
        }
        (b'<', b'>') => {
            let cut = word.iter().rposition(|&b| b == b'_')?;
            let (label, n) = (&word[..cut], &word[cut + 1..]);
            (!n.is_empty() && n.iter().all(u8::is_ascii_digit) && labels.contains(label))
                .then_some(after + 1)
        }
        _ => None,
    }
}

/// The operator token around `pos` (its start at or before `pos`, its end
/// after), if `pos` lies inside one.
fn enclosing_token(hay: &[u8], pos: usize, labels: &HashSet<Vec<u8>>) -> Option<usize> {
    let floor = pos.saturating_sub(MAX_LABEL + 16);
    let mut at = pos;
    loop {
        let b = hay[at];
        if b.is_ascii_whitespace() {
            return None;
        }
        if b == b'[' || b == b'<' {
            if let Some(end) = token_end(hay, at, labels) {
                return (end > pos).then_some(end);
            }
        }
        if at == floor {
            return None;
        }
        at -= 1;
    }
}

impl Scanner {
    pub(crate) fn new(
        kinds: KindSet,
        custom: Vec<CustomDetector>,
        allow_values: HashSet<Vec<u8>>,
        allow_patterns: Vec<Regex>,
    ) -> crate::Result<Self> {
        let enabled = |k: Builtin| kinds.contains(k);
        // Every built-in label, enabled or not: text redacted earlier under
        // another configuration is still operator output.
        let labels = Builtin::ALL
            .iter()
            .map(|b| b.label().as_bytes().to_vec())
            .chain(custom.iter().map(|c| c.kind.label().into_bytes()))
            .collect();
        Ok(Scanner {
            kinds,
            anchored: Anchored::new(&enabled, &custom)?,
            shapes: Shapes::new(&enabled),
            custom,
            allow_values,
            allow_patterns,
            labels,
        })
    }

    /// Findings that start in `window` of `hay`, sorted by start, overlaps
    /// resolved.
    pub(crate) fn scan_window(&self, hay: &[u8], window: Range<usize>) -> Vec<Finding> {
        let lo = window.start.saturating_sub(CONTEXT);
        let hi = window.end.saturating_add(MARGIN).min(hay.len());
        if lo >= hi {
            return Vec::new();
        }
        let enabled = |k: Builtin| self.kinds.contains(k);
        let mut c = Candidates::default();
        self.anchored
            .scan(hay, lo, hi, &self.custom, &enabled, &mut c);
        self.shapes.scan(hay, lo, hi, &mut c);
        for det in self.custom.iter().filter(|d| d.keywords.is_empty()) {
            det.find_in(hay, lo, hi, &mut c);
        }
        let mut found = c.items;
        self.skip_operator_output(hay, lo, hi, &mut found);
        if !self.allow_values.is_empty() || !self.allow_patterns.is_empty() {
            found.retain(|f| !self.allowed(&hay[f.range()]));
        }
        // Resolve over everything seen, then keep this window's share, so a
        // candidate just outside still blocks one it overlaps, as it would in
        // a single pass.
        let mut found = resolve_overlaps(found);
        found.retain(|f| window.contains(&f.start));
        found
    }

    /// An operator's output is never detected again: `[PASSWORD:3f2a9c1b7d4e]`
    /// looks like an assignment of `3f2a9c1b7d4e` to `PASSWORD`, and
    /// detecting it nested pseudonyms 64 levels deep. A candidate that
    /// starts inside a token is dropped, or, if it runs on past the token,
    /// starts after it instead, so nothing real beside a token escapes.
    ///
    /// Sealed tokens (`[EMAIL:sealed:AQ…]`, see [`crate::sealing`]) of a
    /// known label are found first, from their mark, since one can be far
    /// longer than a label.
    fn skip_operator_output(&self, hay: &[u8], lo: usize, hi: usize, found: &mut Vec<Finding>) {
        let mut sealed = crate::sealing::token_spans(hay, lo, hi);
        sealed.retain(|r| {
            let label = &hay[r.start + 1..];
            let label = &label[..label.iter().position(|&b| b == b':').unwrap_or(0)];
            self.labels.contains(label)
        });
        found.retain_mut(|f| loop {
            let end = enclosing_token(hay, f.start, &self.labels).or_else(|| {
                let i = sealed.partition_point(|r| r.end <= f.start);
                sealed.get(i).filter(|r| r.start <= f.start).map(|r| r.end)
            });
            match end {
                Some(end) if end >= f.end => return false,
                Some(end) => f.start = end,
                None => return true,
            }
        });
    }

    fn allowed(&self, value: &[u8]) -> bool {
        self.allow_values.contains(value)
            || self.allow_patterns.iter().any(|p| {
                p.find(value)
                    .is_some_and(|m| m.start() == 0 && m.end() == value.len())
            })
    }
}
