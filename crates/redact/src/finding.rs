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

/// Merges overlapping candidates into one finding that covers them all,
/// named after the most specific kind among them (then the longest, then the
/// earliest). Redacting the union leaves no fragment of any candidate
/// behind: an email inside a password, or a password around a key, is
/// replaced whole, and redacting the result again finds nothing new.
/// Returns findings sorted by start.
pub(crate) fn resolve_overlaps(mut found: Vec<Finding>) -> Vec<Finding> {
    if found.len() < 2 {
        return found;
    }
    found.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let rank = |f: &Finding| (f.kind.priority(), f.len(), std::cmp::Reverse(f.start));
    let mut out: Vec<Finding> = Vec::with_capacity(found.len());
    let mut iter = found.into_iter();
    let Some(first) = iter.next() else {
        return out;
    };
    let (mut start, mut end, mut best) = (first.start, first.end, first);
    for f in iter {
        if f.start < end {
            end = end.max(f.end);
            if rank(&f) > rank(&best) {
                best = f;
            }
        } else {
            out.push(Finding {
                kind: best.kind,
                start,
                end,
            });
            (start, end, best) = (f.start, f.end, f);
        }
    }
    out.push(Finding {
        kind: best.kind,
        start,
        end,
    });
    out
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
    fn overlaps_merge_under_the_most_specific_kind() {
        let out = resolve_overlaps(vec![
            f(Builtin::Email, 10, 30),
            f(Builtin::UrlCredentials, 5, 25),
            f(Builtin::HighEntropySecret, 40, 80),
            f(Builtin::OpenaiKey, 40, 90),
            f(Builtin::Phone, 100, 110),
            f(Builtin::PasswordAssignment, 120, 150),
            f(Builtin::Email, 130, 140),
        ]);
        assert_eq!(
            out,
            vec![
                f(Builtin::UrlCredentials, 5, 30),
                f(Builtin::OpenaiKey, 40, 90),
                f(Builtin::Phone, 100, 110),
                f(Builtin::Email, 120, 150),
            ]
        );
    }
}
