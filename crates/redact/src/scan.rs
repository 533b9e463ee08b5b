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
}

impl Scanner {
    pub(crate) fn new(
        kinds: KindSet,
        custom: Vec<CustomDetector>,
        allow_values: HashSet<Vec<u8>>,
        allow_patterns: Vec<Regex>,
    ) -> crate::Result<Self> {
        let enabled = |k: Builtin| kinds.contains(k);
        Ok(Scanner {
            kinds,
            anchored: Anchored::new(&enabled, &custom)?,
            shapes: Shapes::new(&enabled),
            custom,
            allow_values,
            allow_patterns,
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

    fn allowed(&self, value: &[u8]) -> bool {
        self.allow_values.contains(value)
            || self.allow_patterns.iter().any(|p| {
                p.find(value)
                    .is_some_and(|m| m.start() == 0 && m.end() == value.len())
            })
    }
}
