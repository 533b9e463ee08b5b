//! The embeddable redactor: built once, shared across threads, called per
//! string, buffer or stream.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::io::{self, Read, Write};
use std::ops::Range;
use std::sync::Arc;

use rayon::prelude::*;
use regex::bytes::{Regex, RegexBuilder};

use crate::kind::{Builtin, Kind};
use crate::operator::{Operator, PseudonymKey, Session};
use crate::scan::{CustomDetector, KindSet, Scanner, CONTEXT, MARGIN};
use crate::sealing::Sealer;
use crate::splice::stream_cut;
use crate::{Error, Finding, Result};

/// Inputs at least this large are scanned in parallel windows.
const PARALLEL_MIN: usize = 4 << 20;
/// Size of one parallel window.
const WINDOW: usize = 2 << 20;
/// Bytes a stream keeps before a cut: the longest sealed token.
const KEEP_FOR_TOKENS: usize = crate::sealing::MAX_SEALED_CHARS + 128;

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
    pub(crate) scanner: Scanner,
    default_op: Operator,
    ops: HashMap<String, Operator>,
    pub(crate) key: Option<PseudonymKey>,
    pub(crate) sealer: Option<Arc<dyn Sealer>>,
    /// The data type sealed tokens are bound to.
    pub(crate) data_type: String,
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
    sealer: Option<Arc<dyn Sealer>>,
    data_type: String,
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
            sealer: None,
            data_type: String::new(),
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

    /// What the `encrypt` operator seals with (a [`Session`] may carry its
    /// own, for one person's keys).
    pub fn sealer(mut self, sealer: Arc<dyn Sealer>) -> Self {
        self.sealer = Some(sealer);
        self
    }

    /// The data type sealed tokens are bound to (a policy's; none by
    /// default).
    pub fn data_type(mut self, data_type: &str) -> Self {
        self.data_type = data_type.to_owned();
        self
    }

    /// Builds the redactor.
    pub fn build(self) -> Result<Redactor> {
        let uses = |op: Operator| self.default_op == op || self.ops.values().any(|o| *o == op);
        if uses(Operator::Pseudonym) && self.key.is_none() {
            return Err(Error::MissingPseudonymKey);
        }
        if uses(Operator::Encrypt) && self.sealer.is_none() {
            return Err(Error::EncryptNeedsVault);
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
            sealer: self.sealer,
            data_type: self.data_type,
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

    pub(crate) fn operator(&self, kind: &Kind) -> Operator {
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

    /// Replaces `found` (the findings of `input`, as [`Redactor::find`]
    /// gives them) in `input`, then anything the replacements revealed
    /// around them, so that redacting the result again changes nothing.
    pub fn apply(&self, input: &str, found: &[Finding], session: &mut Session) -> String {
        self.apply_in_field(input, found, "", session)
    }

    /// [`Redactor::apply`] for the value of a field (a JSON path with
    /// indexes written `[*]`, or a CSV column), which sealed tokens are
    /// bound to.
    pub(crate) fn apply_in_field(
        &self,
        input: &str,
        found: &[Finding],
        field: &str,
        session: &mut Session,
    ) -> String {
        self.rewrite(input, found, field, false, session)
            .into_string(input)
    }

    /// Whether an operator numbers values per [`Session`], which then must
    /// see them in order.
    pub(crate) fn uses_session(&self) -> bool {
        self.default_op == Operator::Token || self.ops.values().any(|o| *o == Operator::Token)
    }

    /// Redacts a stream of text of any size in bounded memory (a few MiB,
    /// whatever the input), scanning each block on every core. A finding
    /// that straddles two reads is found whole. Calls `progress` with the
    /// bytes consumed so far after each block.
    pub fn redact_stream(
        &self,
        input: impl Read,
        output: impl Write,
        session: &mut Session,
        progress: &mut dyn FnMut(u64),
    ) -> Result<StreamStats> {
        self.redact_in_blocks(input, output, session, progress, None)
    }

    /// [`Redactor::redact_stream`] reading blocks of `block` bytes (at
    /// least `PARALLEL_MIN` unless given).
    fn redact_in_blocks(
        &self,
        input: impl Read,
        mut output: impl Write,
        session: &mut Session,
        progress: &mut dyn FnMut(u64),
        block: Option<usize>,
    ) -> Result<StreamStats> {
        let mut stats = StreamStats::default();
        // Each piece is rewritten (the findings of the next one scanned)
        // while the one before is written out.
        self.stream(
            input,
            block,
            session,
            progress,
            &|text, found, forced, session| self.rewrite(text, found, "", forced, session),
            &mut |piece, found, rewritten| {
                stats.findings += found.len() as u64;
                rewritten.write(piece, &mut output).map_err(Error::Write)
            },
        )?;
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
        self.stream(
            input,
            None,
            &mut session,
            progress,
            &|_, _, _, _| (),
            &mut |bytes, found, ()| {
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
            },
        )?;
        Ok(stats)
    }

    /// The chunked loop both stream methods share. The input is read in
    /// blocks; each block's findings are found (on every core) and
    /// `prepare`d while the piece before is `emit`ted, so reading, scanning
    /// and writing overlap. Pieces are consecutive, cut between clusters of
    /// findings (see `splice`) so that each is rewritten whole, as in one
    /// pass; `emit` gets each with its findings relative to it.
    fn stream<T: Send>(
        &self,
        mut input: impl Read,
        block: Option<usize>,
        session: &mut Session,
        progress: &mut dyn FnMut(u64),
        prepare: &Prepare<'_, T>,
        emit: &mut Emit<'_, T>,
    ) -> Result<()> {
        let block = block
            .unwrap_or((rayon::current_num_threads().max(1) * WINDOW).max(PARALLEL_MIN))
            .max(64);
        // Bytes of `buf` before `done` were emitted (the last CONTEXT of
        // them are kept); `dropped` counts those no longer kept.
        let mut buf: Vec<u8> = Vec::with_capacity(block + MARGIN + KEEP_FOR_TOKENS);
        let mut done = 0usize;
        let mut dropped = 0u64;
        let mut consumed = 0u64;
        let mut eof = false;
        let mut pending: Option<Prepared<T>> = None;
        let mut forced = false;
        while !eof {
            let want = block + MARGIN + done;
            while buf.len() < want && !eof {
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
            let block_in = Block {
                buf: std::mem::take(&mut buf),
                done,
                end: limit,
                found: Vec::new(),
                dropped,
                consumed,
                forced,
                next_forced: false,
            };
            let mut slot = None;
            let emitted = rayon::in_place_scope(|s| {
                let slot = &mut slot;
                let session = &mut *session;
                s.spawn(move |_| *slot = Some(self.prepare_block(block_in, eof, session, prepare)));
                match pending.take() {
                    Some(p) => p.emit(emit, progress).map(Some),
                    None => Ok(None),
                }
            });
            // The emitted block's buffer holds the next block's bytes: its
            // pages are already the process's, so reading costs no faults.
            let spare = emitted?;
            let Some(prepared) = slot else {
                unreachable!("a scope ends only once its tasks have run");
            };
            let prepared = prepared?;
            // Carry CONTEXT bytes before the cut, and what follows it, into
            // the next block.
            let b = &prepared.block;
            // (And a whole sealed token's length, so a long token that
            // straddles the cut is still seen whole, as operator output.)
            let keep_from = b.end.saturating_sub(CONTEXT.max(KEEP_FOR_TOKENS));
            buf = spare.unwrap_or_default();
            buf.clear();
            buf.reserve(block + MARGIN + KEEP_FOR_TOKENS);
            buf.extend_from_slice(&b.buf[keep_from..]);
            done = b.end - keep_from;
            forced = b.next_forced;
            dropped = b.dropped + keep_from as u64;
            pending = Some(prepared);
        }
        match pending {
            Some(p) => p.emit(emit, progress).map(drop),
            None => Ok(()),
        }
    }

    /// Finds the findings of a block's piece, cuts it, and prepares it.
    fn prepare_block<T>(
        &self,
        mut block: Block,
        eof: bool,
        session: &mut Session,
        prepare: &Prepare<'_, T>,
    ) -> Result<Prepared<T>> {
        let (done, limit) = (block.done, block.end);
        // Findings relative to the piece, which starts at `done`.
        let mut rel: Vec<Finding> = self
            .find_range(&block.buf, done..limit)
            .into_iter()
            .map(|f| Finding {
                kind: f.kind,
                start: f.start - done,
                end: f.end - done,
            })
            .collect();
        let after_last = rel.last().map_or(limit, |f| (done + f.end).max(limit));
        let (end, next_forced) = if eof {
            (after_last, false)
        } else if let Some((cut, forced)) =
            stream_cut(&block.buf[done..], &rel, limit - done, block.forced)
        {
            rel.retain(|f| f.start < cut);
            (done + cut, forced)
        } else {
            // One cluster fills the block (it cannot grow much past the
            // split size): cut after its last finding.
            (after_last, false)
        };
        let piece = std::str::from_utf8(&block.buf[done..end]).map_err(|e| Error::NotUtf8 {
            offset: block.dropped + (done + e.valid_up_to()) as u64,
        })?;
        tracing::debug!(
            offset = block.dropped + done as u64,
            bytes = end - done,
            findings = rel.len(),
            forced = block.forced,
            "stream piece"
        );
        let value = prepare(piece, &rel, block.forced, session);
        block.end = end;
        block.found = rel;
        block.next_forced = next_forced;
        Ok(Prepared { block, value })
    }
}

/// Turns a stream's piece (with its findings, and whether it begins where a
/// cluster was split) into what `Emit` needs; runs beside the emitting of
/// the piece before.
type Prepare<'a, T> = dyn Fn(&str, &[Finding], bool, &mut Session) -> T + Sync + 'a;

/// Receives a stream's pieces in order: the bytes, their findings (relative
/// to the piece), and what `Prepare` made of them.
type Emit<'a, T> = dyn FnMut(&[u8], &[Finding], T) -> Result<()> + 'a;

/// A block of a stream's input: the bytes read, with context kept before
/// `done`; the piece `done..end` it emits, and the piece's findings.
struct Block {
    buf: Vec<u8>,
    done: usize,
    end: usize,
    found: Vec<Finding>,
    /// Input bytes before `buf`.
    dropped: u64,
    /// Input bytes read when the block was.
    consumed: u64,
    /// Whether the piece begins where a cluster was split.
    forced: bool,
    /// Whether the next piece does.
    next_forced: bool,
}

/// A block, with what `prepare` made of its piece.
struct Prepared<T> {
    block: Block,
    value: T,
}

impl<T> Prepared<T> {
    /// Emits the piece; returns the block's buffer, to be filled again.
    fn emit(self, emit: &mut Emit<'_, T>, progress: &mut dyn FnMut(u64)) -> Result<Vec<u8>> {
        let b = self.block;
        emit(&b.buf[b.done..b.end], &b.found, self.value)?;
        progress(b.consumed);
        Ok(b.buf)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` redacted as a stream read in blocks of `block` bytes.
    fn streamed(r: &Redactor, text: &str, block: usize) -> String {
        let mut out = Vec::new();
        r.redact_in_blocks(
            text.as_bytes(),
            &mut out,
            &mut Session::new(),
            &mut |_| {},
            Some(block),
        )
        .expect("redact");
        String::from_utf8(out).expect("utf-8")
    }

    /// Values of many kinds close together, some revealing others when
    /// replaced (found by fuzzing), between long stretches of plain text.
    fn sample() -> (String, Range<usize>) {
        let dense = [
            "GET /v1/models user=ana@example.com ip=10.1.2.3 status=200\n",
            // Not an address whole, but its tail is: seen cut, it would be.
            "peer 999.51.15.47 unreachable, mail bo@example.net\n",
            "card 4111 1111 1111 1111 then 4111 1111 1111 1111, aadhaar 2345 6789 0124\n",
            "Authorization: Bearer abc KEY=s3cr3tvalue9 and more text after it\n",
            "export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
            // Replacing one number reveals the next.
            "as call 444444311%2ZA1%444444444444,]4444446444?44444443114%4,]4444446444?4444444311%44\n",
            // A replacement ends a value that ran into it.
            "{ASE_URL=pnW5fRL=poW5fZUgLaA6ItcL0vKP#JfNzE4MjM3IwiaWsFDjdM3IiwiaWsFDPUYvOMQuu@OIk2stUgLei:i\n",
            "phone +44 20 7946 0958; pan ABCPE1234F; token ghp_1A2b3C4d5E6f7G8h9I0jK1l2M3n4O5p6Q7r8 end\n",
        ]
        .concat();
        let filler = "plain words with nothing to find at all, just text.\n".repeat(400);
        let text = format!("{filler}{dense}{filler}");
        (text, filler.len()..filler.len() + dense.len())
    }

    #[test]
    fn streamed_redaction_matches_one_shot_wherever_the_blocks_end() {
        let r = Redactor::builder().build().expect("redactor");
        let (text, dense) = sample();
        let one_shot = r.redact(&text).into_owned();
        assert_ne!(one_shot, text);
        // Some replacements reveal more, which only settling in the whole
        // text finds.
        let rewritten = r.rewrite(&text, &r.find(&text), "", false, &mut Session::new());
        assert!(matches!(rewritten, crate::splice::Rewritten::Whole(_)));
        // The first block ends at every position in and before the values
        // (as far back as a cut looks for a gap).
        let back = crate::splice::MAX_BACK + crate::splice::NEAR + 16;
        for block in dense.start - back..dense.end + 16 {
            assert!(streamed(&r, &text, block) == one_shot, "block {block}");
        }
    }

    #[test]
    fn dense_text_is_split_into_clusters_and_streams_the_same() {
        // An address on every line: every neighbourhood touches the next.
        let r = Redactor::builder().build().expect("redactor");
        let mut text = String::new();
        for i in 0..6000u32 {
            text.push_str(&format!(
                "GET /v1/models from 10.{}.{}.{} as u{i}@example.com status=200 peer 9{i}.51.15.47\n",
                i % 200,
                (i / 7) % 250,
                i % 251 + 1
            ));
            if i % 997 == 0 {
                text.push_str(
                    "as call 444444311%2ZA1%444444444444,]4444446444?44444443114%4,]4444446444\n",
                );
            }
        }
        let found = r.find(&text);
        let (_, clusters) = crate::splice::clusters_for_test(&text, &found);
        assert!(clusters > 5, "{clusters} clusters");
        let one_shot = r.redact(&text).into_owned();
        for block in (70_000..200_000).step_by(9_973) {
            assert!(streamed(&r, &text, block) == one_shot, "block {block}");
        }
    }
}
