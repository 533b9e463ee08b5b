//! The embeddable redactor: built once, shared across threads, called per
//! string, buffer or stream.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::io::{self, Read, Write};
use std::ops::Range;

use rayon::prelude::*;
use regex::bytes::{Regex, RegexBuilder};

use crate::kind::{Builtin, Kind};
use crate::operator::{replace, Operator, PseudonymKey, Session};
use crate::scan::{CustomDetector, KindSet, Scanner, CONTEXT, MARGIN};
use crate::{Error, Finding, Result};

/// Inputs at least this large are scanned in parallel windows.
const PARALLEL_MIN: usize = 4 << 20;
/// Size of one parallel window.
const WINDOW: usize = 2 << 20;

/// Detects and replaces personal data and secrets.
///
/// ```
/// use privctl_redact::Redactor;
/// let r = Redactor::builder().build().unwrap();
/// let out = r.redact("card 4111 1111 1111 1111, mail ana@example.com");
/// assert_eq!(out, "card [CREDIT_CARD], mail [EMAIL]");
/// // Nothing found: the input comes back borrowed, not copied.
/// assert!(matches!(r.redact("nothing here"), std::borrow::Cow::Borrowed(_)));
/// ```
#[derive(Debug)]
pub struct Redactor {
    scanner: Scanner,
    default_op: Operator,
    ops: HashMap<String, Operator>,
    key: Option<PseudonymKey>,
}

/// Chooses detectors, operators, custom detectors and allowlists.
#[derive(Debug, Clone)]
pub struct RedactorBuilder {
    kinds: KindSet,
    default_op: Operator,
    ops: HashMap<String, Operator>,
    custom: Vec<CustomDetector>,
    allow_values: HashSet<Vec<u8>>,
    allow_patterns: Vec<Regex>,
    key: Option<PseudonymKey>,
}

impl Default for RedactorBuilder {
    fn default() -> Self {
        RedactorBuilder {
            kinds: KindSet::all(),
            default_op: Operator::Placeholder,
            ops: HashMap::new(),
            custom: Vec::new(),
            allow_values: HashSet::new(),
            allow_patterns: Vec::new(),
            key: None,
        }
    }
}

fn compile(pattern: &str, what: &str) -> Result<Regex> {
    RegexBuilder::new(pattern)
        .size_limit(1 << 22)
        .build()
        .map_err(|e| Error::Pattern {
            what: what.to_owned(),
            message: e
                .to_string()
                .lines()
                .last()
                .unwrap_or_default()
                .trim()
                .to_owned(),
        })
}

impl RedactorBuilder {
    /// Runs only these built-in kinds.
    pub fn only(mut self, kinds: &[Builtin]) -> Self {
        self.kinds = KindSet::none();
        for k in kinds {
            self.kinds.insert(*k);
        }
        self
    }

    /// Runs these built-in kinds.
    pub fn kinds(mut self, kinds: KindSet) -> Self {
        self.kinds = kinds;
        self
    }

    /// The operator for kinds without one of their own.
    pub fn operator(mut self, op: Operator) -> Self {
        self.default_op = op;
        self
    }

    /// The operator for one kind (built-in or custom name).
    pub fn operator_for(mut self, kind: &str, op: Operator) -> Self {
        self.ops.insert(kind.to_owned(), op);
        self
    }

    /// Adds a detector: findings of kind `name` wherever `pattern` matches and
    /// `validator` agrees. With `keywords`, the pattern is only tried near
    /// one of them (cheap); without, it runs over all the input.
    pub fn custom_detector(
        mut self,
        name: &str,
        pattern: &str,
        keywords: &[String],
        validator: privctl_policy::model::Validator,
    ) -> Result<Self> {
        if Builtin::from_name(name).is_some() || self.custom.iter().any(|c| c.kind.name() == name) {
            return Err(Error::DuplicateDetector(name.to_owned()));
        }
        if keywords.iter().any(String::is_empty) {
            return Err(Error::Pattern {
                what: format!("custom detector \"{name}\""),
                message: "a keyword is empty".to_owned(),
            });
        }
        self.custom.push(CustomDetector {
            kind: Kind::Custom(name.into()),
            pattern: compile(pattern, &format!("custom detector \"{name}\""))?,
            keywords: keywords.to_vec(),
            validator,
        });
        Ok(self)
    }

    /// Never reports this exact value.
    pub fn allow_value(mut self, value: &str) -> Self {
        self.allow_values.insert(value.as_bytes().to_vec());
        self
    }

    /// Never reports a value this pattern matches whole.
    pub fn allow_pattern(mut self, pattern: &str) -> Result<Self> {
        self.allow_patterns
            .push(compile(pattern, "allowlist pattern")?);
        Ok(self)
    }

    /// The key for the pseudonym operator.
    pub fn pseudonym_key(mut self, key: PseudonymKey) -> Self {
        self.key = Some(key);
        self
    }

    /// Builds the redactor.
    pub fn build(self) -> Result<Redactor> {
        let uses_pseudonym = self.default_op == Operator::Pseudonym
            || self.ops.values().any(|o| *o == Operator::Pseudonym);
        if uses_pseudonym && self.key.is_none() {
            return Err(Error::MissingPseudonymKey);
        }
        Ok(Redactor {
            scanner: Scanner::new(
                self.kinds,
                self.custom,
                self.allow_values,
                self.allow_patterns,
            )?,
            default_op: self.default_op,
            ops: self.ops,
            key: self.key,
        })
    }
}

impl Redactor {
    /// A builder with every built-in detector and the placeholder operator.
    pub fn builder() -> RedactorBuilder {
        RedactorBuilder::default()
    }

    /// Every finding in `input`, sorted by start. Large inputs are scanned
    /// on every core.
    pub fn find(&self, input: &str) -> Vec<Finding> {
        self.find_bytes(input.as_bytes())
    }

    /// [`Redactor::find`] over bytes (text in any ASCII-compatible encoding).
    pub fn find_bytes(&self, input: &[u8]) -> Vec<Finding> {
        self.find_range(input, 0..input.len())
    }

    /// Findings starting in `range` of `input`, in parallel when large.
    fn find_range(&self, input: &[u8], range: Range<usize>) -> Vec<Finding> {
        if range.len() < PARALLEL_MIN {
            return self.scanner.scan_window(input, range);
        }
        let windows: Vec<Range<usize>> = (range.start..range.end)
            .step_by(WINDOW)
            .map(|s| s..(s + WINDOW).min(range.end))
            .collect();
        let parts: Vec<Vec<Finding>> = windows
            .into_par_iter()
            .map(|w| self.scanner.scan_window(input, w))
            .collect();
        // A finding reaching into the next window wins over one starting
        // inside it, as it does in a single pass.
        let mut all: Vec<Finding> = Vec::with_capacity(parts.iter().map(Vec::len).sum());
        for f in parts.into_iter().flatten() {
            if all.last().is_none_or(|last| last.end <= f.start) {
                all.push(f);
            }
        }
        all
    }

    fn operator(&self, kind: &Kind) -> Operator {
        self.ops
            .get(kind.name())
            .copied()
            .unwrap_or(self.default_op)
    }

    /// The redacted text; borrowed, not copied, when nothing is found.
    /// Tokens (`<EMAIL_1>`) are numbered afresh for this call; use
    /// [`Redactor::redact_in_session`] to keep them across a conversation.
    pub fn redact<'a>(&self, input: &'a str) -> Cow<'a, str> {
        let found = self.find(input);
        if found.is_empty() {
            return Cow::Borrowed(input);
        }
        let mut session = Session::new();
        Cow::Owned(self.apply(input, &found, &mut session))
    }

    /// The redacted text, with reversible tokens kept in `session`.
    pub fn redact_in_session(&self, input: &str, session: &mut Session) -> String {
        let found = self.find(input);
        self.apply(input, &found, session)
    }

    /// Replaces `found` (sorted, not overlapping, on character boundaries) in
    /// `input`, then redacts the result again until nothing more is found.
    ///
    /// A replacement can complete a neighbour's context: `KEY=secret` after
    /// `Bearer abc` makes the `=` an assignment, while `Bearer abc=[PASSWORD]`
    /// makes it base64 padding. Redacting to a fixed point (in practice one
    /// extra scan of the output, which finds nothing) keeps the promise that
    /// redacting twice changes nothing more than redacting once.
    pub fn apply(&self, input: &str, found: &[Finding], session: &mut Session) -> String {
        let mut out = self.replace_once(input, found, session);
        // Each round replaces at least one finding; a chain of contexts that
        // keeps revealing new ones ends long before this bound.
        for _ in 0..64 {
            let more = self.find(&out);
            if more.is_empty() {
                break;
            }
            out = self.replace_once(&out, &more, session);
        }
        out
    }

    fn replace_once(&self, input: &str, found: &[Finding], session: &mut Session) -> String {
        let mut out = String::with_capacity(input.len());
        let mut at = 0;
        for f in found {
            if f.start < at
                || f.end > input.len()
                || !input.is_char_boundary(f.start)
                || !input.is_char_boundary(f.end)
            {
                continue;
            }
            out.push_str(&input[at..f.start]);
            replace(
                self.operator(&f.kind),
                f,
                &input[f.start..f.end],
                self.key.as_ref(),
                session,
                &mut out,
            );
            at = f.end;
        }
        out.push_str(&input[at..]);
        out
    }

    /// Redacts a stream of text of any size in bounded memory (a few MiB,
    /// whatever the input), scanning each block on every core. A finding
    /// that straddles two reads is found whole. Calls `progress` with the
    /// bytes consumed so far after each block.
    pub fn redact_stream(
        &self,
        input: impl Read,
        mut output: impl Write,
        session: &mut Session,
        progress: &mut dyn FnMut(u64),
    ) -> Result<StreamStats> {
        let mut stats = StreamStats::default();
        self.stream(input, session, progress, &mut |text, found, session| {
            stats.findings += found.len() as u64;
            let redacted = self.apply(text, found, session);
            output.write_all(redacted.as_bytes()).map_err(Error::Write)
        })?;
        output.flush().map_err(Error::Write)?;
        Ok(stats)
    }

    /// Scans a stream without changing it: `visit` gets each finding with
    /// its absolute byte offsets and its 1-based line and column (in bytes).
    pub fn scan_stream(
        &self,
        input: impl Read,
        progress: &mut dyn FnMut(u64),
        visit: &mut dyn FnMut(&Finding, Position) -> Result<()>,
    ) -> Result<StreamStats> {
        let mut stats = StreamStats::default();
        let mut session = Session::new();
        let mut base = 0usize;
        let mut line = 1u64;
        let mut line_start = 0usize;
        self.stream(input, &mut session, progress, &mut |text, found, _| {
            let bytes = text.as_bytes();
            let advance = |from: usize, to: usize, line: &mut u64, line_start: &mut usize| {
                let seg = &bytes[from..to];
                let n = memchr::memchr_iter(b'\n', seg).count();
                if n > 0 {
                    *line += n as u64;
                    if let Some(last) = memchr::memrchr(b'\n', seg) {
                        *line_start = base + from + last + 1;
                    }
                }
            };
            let mut at = 0;
            for f in found {
                advance(at, f.start, &mut line, &mut line_start);
                at = f.start;
                let abs = Finding {
                    kind: f.kind.clone(),
                    start: base + f.start,
                    end: base + f.end,
                };
                let pos = Position {
                    line,
                    column: (abs.start - line_start + 1) as u64,
                };
                visit(&abs, pos)?;
                stats.findings += 1;
            }
            advance(at, bytes.len(), &mut line, &mut line_start);
            base += bytes.len();
            Ok(())
        })?;
        Ok(stats)
    }

    /// The chunked loop both stream methods share: `emit` gets consecutive
    /// pieces of the input, each with its findings relative to the piece.
    fn stream(
        &self,
        mut input: impl Read,
        session: &mut Session,
        progress: &mut dyn FnMut(u64),
        emit: &mut EmitPiece<'_>,
    ) -> Result<()> {
        let block = (rayon::current_num_threads().max(1) * WINDOW).max(PARALLEL_MIN);
        let mut buf: Vec<u8> = Vec::with_capacity(block + MARGIN + CONTEXT);
        // Bytes of `buf` before `done` were emitted; `consumed` counts input.
        let mut done = 0usize;
        let mut dropped = 0u64;
        let mut consumed = 0u64;
        let mut eof = false;
        while !eof {
            let want = block + MARGIN + done;
            if buf.len() < want {
                // `read_to_end` fills spare capacity without zeroing it first.
                let n = loop {
                    match (&mut input)
                        .take((want - buf.len()) as u64)
                        .read_to_end(&mut buf)
                    {
                        Ok(n) => break n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(Error::Read(e)),
                    }
                };
                consumed += n as u64;
                eof = buf.len() < want;
            }
            let mut limit = if eof {
                buf.len()
            } else {
                buf.len().saturating_sub(MARGIN)
            };
            // Never split a UTF-8 character between two pieces.
            while limit > done && limit < buf.len() && (buf[limit] & 0xC0) == 0x80 {
                limit -= 1;
            }
            if limit <= done && !eof {
                continue;
            }
            let found = self.find_range(&buf, done..limit);
            let end = found.last().map_or(limit, |f| f.end.max(limit));
            let piece = std::str::from_utf8(&buf[done..end]).map_err(|e| Error::NotUtf8 {
                offset: dropped + (done + e.valid_up_to()) as u64,
            })?;
            let rel: Vec<Finding> = found
                .into_iter()
                .map(|f| Finding {
                    kind: f.kind,
                    start: f.start - done,
                    end: f.end - done,
                })
                .collect();
            emit(piece, &rel, session)?;
            done = end;
            progress(consumed);
            // Keep CONTEXT bytes before `done`; drop the rest.
            let keep_from = done.saturating_sub(CONTEXT);
            if keep_from > 0 {
                buf.drain(..keep_from);
                done -= keep_from;
                dropped += keep_from as u64;
            }
        }
        Ok(())
    }
}

/// Receives one piece of a stream with its findings (offsets relative to
/// the piece).
type EmitPiece<'a> = dyn FnMut(&str, &[Finding], &mut Session) -> Result<()> + 'a;

/// Where a finding is in line-oriented input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based line.
    pub line: u64,
    /// 1-based column, in bytes from the start of the line.
    pub column: u64,
}

/// Totals of a stream scan or redaction.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StreamStats {
    /// Findings.
    pub findings: u64,
}
