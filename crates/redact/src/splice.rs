//! Writing redacted text: unchanged text passes straight through, each
//! finding is replaced, and the result is proved a fixed point around each
//! replacement rather than by scanning the whole output again.
//!
//! A replacement can complete a neighbour's context: `KEY=secret` after
//! `Bearer abc` makes the `=` an assignment, while `Bearer abc=[PASSWORD]`
//! makes it base64 padding; and a value that ran into a finding may now end
//! before it. Such effects are local. Each finding is given a neighbourhood,
//! from the start of its line (at most [`MAX_BACK`] bytes back) or [`NEAR`]
//! bytes before it, whichever is earlier, to [`NEAR`] bytes after it, with
//! the rest of its line (at most [`MAX_BACK`] bytes on) in view;
//! findings whose neighbourhoods (with [`NEAR`] bytes of context on each
//! side) touch form a *cluster*, rewritten as one local text with its
//! findings replaced and scanned again over the neighbourhoods. Text
//! between clusters is neither scanned twice nor copied into a buffer of its
//! own.
//!
//! A local text where that second look finds anything (rare: a replacement
//! that reveals a value, or a long word cut by the local text's edge) is
//! settled in the whole text instead: scanned with all the context a
//! one-pass scan has, replaced, and looked at again around the new
//! replacements, so a chain of values each revealing the next is followed
//! as far as it goes.
//!
//! A cluster's output depends only on the input and its findings, never on
//! where a read or a core's window began or ended, so one-shot, parallel and
//! streamed redaction write the same bytes (streams cut only between
//! clusters).
//!
//! What this does not see: a value a replacement reveals more than
//! [`NEAR`] bytes after it, one starting on an earlier line (or more than
//! [`MAX_BACK`] bytes before it), or one running past the end of the line
//! (or more than [`MAX_BACK`] bytes on). The fuzz target `redact` checks that
//! redacting twice changes nothing more than redacting once.

use std::io::{self, IoSlice, Write};
use std::ops::Range;

use rayon::prelude::*;

use crate::operator::{replace, Sealing, Session};
use crate::{Finding, Redactor};

/// How far from a replacement a finding it reveals may start.
pub(crate) const NEAR: usize = 128;
/// How far before a replacement a value it cut short may start, and how
/// far past it a value it reveals may run.
pub(crate) const MAX_BACK: usize = 1024;
/// Clusters larger than this are split (see [`clusters`]).
const MAX_CLUSTER: usize = 64 << 10;
/// Inputs at least this large have their clusters rewritten on every core.
const PARALLEL_MIN: usize = 1 << 20;

/// Findings that share one local text, and the input bytes it replaces.
#[derive(Debug)]
struct Cluster {
    /// Indices into the valid findings.
    findings: Range<usize>,
    /// Input bytes the local text covers.
    span: Range<usize>,
    /// Where, in the local text's input, scanning again starts: [`NEAR`]
    /// bytes before the first finding, or its line's start if that is
    /// earlier (a value that ran into a finding may now end before it); or
    /// the cluster's start, where a larger one was split.
    from: usize,
    /// Whether it begins where a larger cluster was split.
    forced: bool,
}

/// Sorted, non-overlapping ranges covering `ranges`, cut at `len`.
fn merge(mut ranges: Vec<Range<usize>>, len: usize) -> Vec<Range<usize>> {
    ranges.sort_by_key(|r| r.start);
    let mut out: Vec<Range<usize>> = Vec::with_capacity(ranges.len());
    for r in ranges {
        let r = r.start.min(len)..r.end.min(len);
        match out.last_mut() {
            Some(w) if w.end >= r.start => w.end = w.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

fn floor_char(text: &[u8], mut at: usize) -> usize {
    while at > 0 && at < text.len() && (text[at] & 0xC0) == 0x80 {
        at -= 1;
    }
    at
}

fn ceil_char(text: &[u8], mut at: usize) -> usize {
    while at < text.len() && (text[at] & 0xC0) == 0x80 {
        at += 1;
    }
    at
}

/// Where scanning again starts for a replacement at `at`: the start of its
/// line, or [`NEAR`] bytes before it if that is earlier, at most
/// [`MAX_BACK`] bytes back.
fn reach_back(text: &[u8], at: usize) -> usize {
    let near = at.saturating_sub(NEAR);
    let floor = at.saturating_sub(MAX_BACK);
    match memchr::memrchr(b'\n', &text[floor..near]) {
        Some(i) => floor + i + 1,
        None => floor,
    }
}

/// The first input byte of the local text of a cluster starting at `at`.
fn span_start(text: &[u8], at: usize) -> (usize, usize) {
    let from = reach_back(text, at);
    (floor_char(text, from.saturating_sub(NEAR)), from)
}

/// The byte after the local text of a cluster ending at `end`: [`NEAR`]
/// bytes past the end of its line, or past [`NEAR`] bytes after it if that
/// is later, at most [`MAX_BACK`] bytes on (a value revealed just after a
/// replacement is seen whole).
fn span_end(text: &[u8], end: usize) -> usize {
    let near = (end + NEAR).min(text.len());
    let ceiling = (end + MAX_BACK).min(text.len());
    let line = match memchr::memchr(b'\n', &text[near..ceiling]) {
        Some(i) => near + i + 1,
        None => ceiling,
    };
    ceil_char(text, (line + NEAR).min(text.len()))
}

fn is_char_boundary(text: &[u8], at: usize) -> bool {
    at == text.len() || (at < text.len() && (text[at] & 0xC0) != 0x80)
}

/// The findings that can be replaced (sorted, not overlapping, on character
/// boundaries), grouped into clusters whose local texts do not overlap.
///
/// A cluster that has grown past [`MAX_CLUSTER`] bytes (text dense with
/// findings, such as a log with an address on every line) is split before
/// its next finding: at the first line break after its last finding, or
/// where the next finding's neighbourhood begins. The new cluster's second
/// look starts at the split (it is *forced*); the old one's ends there. So
/// clusters stay small enough to rewrite on every core, and the split
/// depends only on the text and its findings. With `forced_start`, the
/// text begins at such a split.
fn clusters<'f>(
    text: &[u8],
    found: &'f [Finding],
    forced_start: bool,
) -> (Vec<&'f Finding>, Vec<Cluster>) {
    let mut valid: Vec<&Finding> = Vec::with_capacity(found.len());
    let mut at = 0;
    for f in found {
        if f.start < at
            || f.end > text.len()
            || !is_char_boundary(text, f.start)
            || !is_char_boundary(text, f.end)
        {
            continue;
        }
        valid.push(f);
        at = f.end;
    }
    let mut out: Vec<Cluster> = Vec::new();
    for (i, f) in valid.iter().enumerate() {
        let (lo, from) = match (i, forced_start) {
            (0, true) => (0, 0),
            _ => span_start(text, f.start),
        };
        let hi = span_end(text, f.end);
        match out.last_mut() {
            Some(c) if lo < c.span.end && c.span.len() >= MAX_CLUSTER => {
                let last_end = valid[c.findings.end - 1].end;
                let upto = f.start.min(c.span.end);
                let split = match memchr::memchr(b'\n', &text[last_end..upto]) {
                    Some(n) => last_end + n + 1,
                    None => lo.max(last_end).min(c.span.end),
                };
                c.span.end = split;
                out.push(Cluster {
                    findings: i..i + 1,
                    span: split..hi,
                    from: split,
                    forced: true,
                });
            }
            Some(c) if lo < c.span.end => {
                c.findings.end = i + 1;
                c.span.end = hi;
            }
            _ => out.push(Cluster {
                findings: i..i + 1,
                span: lo..hi,
                from,
                forced: i == 0 && forced_start,
            }),
        }
    }
    (valid, out)
}

/// How many findings and clusters `text` has (for tests).
#[cfg(test)]
pub(crate) fn clusters_for_test(text: &str, found: &[Finding]) -> (usize, usize) {
    let (valid, clusters) = clusters(text.as_bytes(), found, false);
    (valid.len(), clusters.len())
}

/// Where a stream may cut `text` (the buffer from the piece's start on),
/// given `found` (the findings starting before `limit`, relative to it;
/// the piece beginning at a forced split when `forced`), so that each piece
/// is clustered as the whole input is: in a gap before a finding not yet
/// seen, or at the start of the last cluster. Returns the cut and whether
/// it is a forced split; `None` when the findings form one cluster.
pub(crate) fn stream_cut(
    text: &[u8],
    found: &[Finding],
    limit: usize,
    forced: bool,
) -> Option<(usize, bool)> {
    let (_, clusters) = clusters(text, found, forced);
    // The local text of a finding starting at `limit` or later starts no
    // earlier than this.
    let unknown = floor_char(text, limit.saturating_sub(MAX_BACK + NEAR + 8));
    let last_end = clusters.last().map_or(0, |c| c.span.end);
    if unknown > 0 && unknown >= last_end {
        return Some((unknown, false));
    }
    clusters
        .last()
        .filter(|c| c.span.start > 0)
        .map(|c| (c.span.start, c.forced))
}

/// Redacted text, as the input's unchanged stretches and the local texts
/// that replace the rest, or whole.
#[derive(Debug)]
pub(crate) enum Rewritten {
    /// Local texts with the input bytes each replaces, in order.
    Spliced(Vec<(Range<usize>, String)>),
    /// The whole redacted text.
    Whole(String),
}

impl Rewritten {
    /// Writes the redacted text of `text` to `out`: unchanged stretches
    /// straight from `text`, handed over with the local texts between them
    /// in vectored writes, so a buffered writer copies none of it.
    pub(crate) fn write(&self, text: &[u8], out: &mut dyn Write) -> io::Result<()> {
        match self {
            Rewritten::Spliced(parts) => {
                let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(2 * parts.len() + 1);
                let mut at = 0;
                for (span, local) in parts {
                    slices.push(IoSlice::new(&text[at..span.start]));
                    slices.push(IoSlice::new(local.as_bytes()));
                    at = span.end;
                }
                slices.push(IoSlice::new(&text[at..]));
                slices.retain(|s| !s.is_empty());
                // At most this many slices a call (the system's limit is
                // 1024 on Linux).
                for chunk in slices.chunks_mut(1024) {
                    let mut chunk = chunk;
                    while !chunk.is_empty() {
                        match out.write_vectored(chunk) {
                            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                            Ok(n) => IoSlice::advance_slices(&mut chunk, n),
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => return Err(e),
                        }
                    }
                }
                Ok(())
            }
            Rewritten::Whole(s) => out.write_all(s.as_bytes()),
        }
    }

    /// The redacted text of `text`.
    pub(crate) fn into_string(self, text: &str) -> String {
        match self {
            Rewritten::Spliced(parts) => {
                let mut out = String::with_capacity(text.len());
                let mut at = 0;
                for (span, local) in parts {
                    out.push_str(&text[at..span.start]);
                    out.push_str(&local);
                    at = span.end;
                }
                out.push_str(&text[at..]);
                out
            }
            Rewritten::Whole(s) => s,
        }
    }
}

/// A cluster's local text after one round, and whether scanning it again
/// found nothing.
struct Local {
    text: String,
    settled: bool,
}

impl Redactor {
    /// `text` with `found` replaced: each cluster's local text, settled
    /// where a second look found anything (see [`Redactor::settle`]).
    pub(crate) fn rewrite(
        &self,
        text: &str,
        found: &[Finding],
        field: &str,
        forced_start: bool,
        session: &mut Session,
    ) -> Rewritten {
        let (valid, clusters) = clusters(text.as_bytes(), found, forced_start);
        let locals: Vec<Local> =
            if text.len() >= PARALLEL_MIN && !self.uses_session() && clusters.len() > 1 {
                let session = &*session;
                clusters
                    .par_iter()
                    .map(|c| self.local_text(text, &valid, c, field, &mut session.fork()))
                    .collect()
            } else {
                clusters
                    .iter()
                    .map(|c| self.local_text(text, &valid, c, field, session))
                    .collect()
            };
        if locals.iter().all(|l| l.settled) {
            return Rewritten::Spliced(
                clusters
                    .into_iter()
                    .zip(locals)
                    .map(|(c, l)| (c.span, l.text))
                    .collect(),
            );
        }
        let mut dirty = Vec::new();
        let mut at = 0;
        let mut out = String::with_capacity(text.len());
        for (c, local) in clusters.iter().zip(&locals) {
            out.push_str(&text[at..c.span.start]);
            if !local.settled {
                dirty.push(out.len()..out.len() + local.text.len());
            }
            out.push_str(&local.text);
            at = c.span.end;
        }
        out.push_str(&text[at..]);
        Rewritten::Whole(self.settle(out, dirty, field, session))
    }

    /// One cluster's local text with its findings replaced, and whether
    /// scanning it again from [`NEAR`] bytes before the first replacement to
    /// [`NEAR`] after the last found nothing.
    fn local_text(
        &self,
        text: &str,
        valid: &[&Finding],
        c: &Cluster,
        field: &str,
        session: &mut Session,
    ) -> Local {
        let found = &valid[c.findings.clone()];
        let mut local = String::with_capacity(c.span.len() + 32);
        let mut at = c.span.start;
        for f in found {
            local.push_str(&text[at..f.start]);
            self.replace_one(f, &text[f.start..f.end], field, session, &mut local);
            at = f.end;
        }
        local.push_str(&text[at..c.span.end]);
        let last = found[found.len() - 1];
        let left = c.from - c.span.start;
        let right = (c.span.end - last.end).saturating_sub(NEAR);
        let end = local.len().saturating_sub(right).max(left);
        // A candidate near a cut edge of the local text may be a word cut
        // short: it too leaves the cluster unsettled, for `settle` to judge
        // with the whole text around it.
        let settled = self
            .scanner
            .scan_window(local.as_bytes(), left..end)
            .is_empty();
        Local {
            text: local,
            settled,
        }
    }

    /// Redacts `out` to a fixed point, given that every finding it holds
    /// starts in one of the `dirty` ranges: each round scans those ranges of
    /// the whole text (with all the context a one-pass scan has), replaces
    /// what it finds, and looks next within [`NEAR`] bytes of those
    /// replacements, so a chain of values each revealing the next is
    /// followed as far as it goes.
    fn settle(
        &self,
        mut out: String,
        mut dirty: Vec<Range<usize>>,
        field: &str,
        session: &mut Session,
    ) -> String {
        // Each round replaces at least one finding; a chain of contexts that
        // keeps revealing new ones ends long before this bound.
        for _ in 0..64 {
            let mut more: Vec<Finding> = Vec::new();
            for w in &dirty {
                more.extend(self.scanner.scan_window(out.as_bytes(), w.clone()));
            }
            if more.is_empty() {
                break;
            }
            let mut next = String::with_capacity(out.len());
            let mut at = 0;
            dirty.clear();
            for f in &more {
                if f.start < at
                    || f.end > out.len()
                    || !out.is_char_boundary(f.start)
                    || !out.is_char_boundary(f.end)
                {
                    continue;
                }
                next.push_str(&out[at..f.start]);
                let from = next.len();
                self.replace_one(f, &out[f.start..f.end], field, session, &mut next);
                dirty.push(reach_back(next.as_bytes(), from)..next.len() + NEAR);
                at = f.end;
            }
            next.push_str(&out[at..]);
            out = next;
            dirty = merge(std::mem::take(&mut dirty), out.len());
        }
        out
    }

    fn replace_one(
        &self,
        f: &Finding,
        value: &str,
        field: &str,
        session: &mut Session,
        out: &mut String,
    ) {
        let sealing = Sealing {
            sealer: self.sealer.as_ref(),
            data_type: &self.data_type,
            field,
        };
        replace(
            self.operator(&f.kind),
            f,
            value,
            self.key.as_ref(),
            &sealing,
            session,
            out,
        );
    }
}
