//! What a scan finds.

use std::ops::Range;

use crate::Kind;

/// One detected value: its kind and byte range in the scanned input.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Finding {
    /// What was found.
    pub kind: Kind,
    /// Byte offset of the first byte, from the start of the whole input.
    pub start: usize,
    /// Byte offset just past the last byte.
    pub end: usize,
}

impl Finding {
    /// The byte range.
    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether the finding is empty (never, for a real finding).
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// Keeps the most specific of overlapping findings: higher priority first,
/// then the longer, then the earlier. Returns them sorted by start.
pub(crate) fn resolve_overlaps(mut found: Vec<Finding>) -> Vec<Finding> {
    if found.len() < 2 {
        return found;
    }
    found.sort_by(|a, b| {
        b.kind
            .priority()
            .cmp(&a.kind.priority())
            .then(b.len().cmp(&a.len()))
            .then(a.start.cmp(&b.start))
    });
    let mut kept: std::collections::BTreeMap<usize, Finding> = std::collections::BTreeMap::new();
    for f in found {
        let before = kept.range(..=f.start).next_back();
        if before.is_some_and(|(_, k)| k.end > f.start) {
            continue;
        }
        let after = kept.range(f.start..).next();
        if after.is_some_and(|(s, _)| *s < f.end) {
            continue;
        }
        kept.insert(f.start, f);
    }
    kept.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::Builtin;

    fn f(kind: Builtin, start: usize, end: usize) -> Finding {
        Finding {
            kind: Kind::Builtin(kind),
            start,
            end,
        }
    }

    #[test]
    fn specific_kinds_win_overlaps() {
        let out = resolve_overlaps(vec![
            f(Builtin::Email, 10, 30),
            f(Builtin::UrlCredentials, 5, 25),
            f(Builtin::HighEntropySecret, 40, 80),
            f(Builtin::OpenaiKey, 40, 90),
            f(Builtin::Phone, 100, 110),
        ]);
        assert_eq!(
            out,
            vec![
                f(Builtin::UrlCredentials, 5, 25),
                f(Builtin::OpenaiKey, 40, 90),
                f(Builtin::Phone, 100, 110),
            ]
        );
    }
}
