//! Redacts what a service logs through [`tracing`](https://docs.rs/tracing)
//! before a byte of it is written: install [`RedactingWriter`] once as the
//! writer of a `tracing-subscriber` formatting layer, and every event (its
//! message, its fields, the fields of the spans around it) is redacted by
//! one [`Redactor`], built once and shared by every thread.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use privctl_redact::Redactor;
//! use privctl_redact_tracing::RedactingWriter;
//!
//! let redactor = Arc::new(Redactor::builder().build().unwrap());
//! # let out = Arc::new(Mutex::new(Vec::new()));
//! # let sink = { let out = Arc::clone(&out); move || Capture(Arc::clone(&out)) };
//! # struct Capture(Arc<Mutex<Vec<u8>>>);
//! # impl std::io::Write for Capture {
//! #     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> { self.0.lock().unwrap().extend_from_slice(b); Ok(b.len()) }
//! #     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
//! # }
//! let subscriber = tracing_subscriber::fmt()
//!     .with_writer(RedactingWriter::new(redactor, sink)) // std::io::stdout in a service
//!     .with_ansi(false)
//!     .finish();
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::info!(user = "ana@example.com", "signed in from 203.0.113.9");
//! });
//! # let logged = String::from_utf8(out.lock().unwrap().clone()).unwrap();
//! // ... INFO rust_out: signed in from [IPV4] user="[EMAIL]"
//! # assert!(logged.contains(r#"signed in from [IPV4] user="[EMAIL]""#), "{logged}");
//! ```
//!
//! # What it covers
//! Everything a formatting layer writes through this writer, in any format
//! (full, compact, pretty, JSON): the text is redacted as a whole, line by
//! line, so a value is found whatever field or message carries it. Each
//! event is redacted alone: `<EMAIL_1>` tokens are numbered per event, and
//! the encrypt operator seals with the redactor's sealer.
//!
//! What it does not cover: layers that write elsewhere (an OpenTelemetry
//! exporter sends span fields itself), and text a layer writes through
//! another writer. Redact those at their own sink.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::io::{self, Write};
use std::sync::Arc;

use privctl_policy::model::Policy;
use privctl_redact::{PolicyRedactor, Redactor};
use tracing_core::Metadata;
use tracing_subscriber::fmt::MakeWriter;

/// A [`MakeWriter`] that redacts each event's text before handing it to the
/// writer it wraps.
#[derive(Debug, Clone)]
pub struct RedactingWriter<M> {
    redactor: Arc<Redactor>,
    inner: M,
}

impl<M> RedactingWriter<M> {
    /// Redacts with `redactor` what is written to `inner` (such as
    /// `std::io::stdout`, or a non-blocking appender's writer).
    pub fn new(redactor: Arc<Redactor>, inner: M) -> Self {
        RedactingWriter { redactor, inner }
    }

    /// Redacts with the rules `policy` gives plain text of `data_type` (or
    /// the rules that name no data type). Rules that need a key (the
    /// pseudonym or encrypt operator) are refused here: build their redactor
    /// with `PolicyRedactor::with_sealer(..).into_text()` and use
    /// [`RedactingWriter::new`].
    pub fn from_policy(
        policy: &Policy,
        data_type: Option<&str>,
        inner: M,
    ) -> Result<Self, privctl_redact::Error> {
        let redactor = PolicyRedactor::new(policy, data_type, None)?
            .into_text()
            .ok_or_else(|| {
                privctl_redact::Error::UnknownDataType(format!(
                    "{} (no redaction rule of the policy applies to its plain text)",
                    data_type.unwrap_or("(none)")
                ))
            })?;
        Ok(RedactingWriter::new(Arc::new(redactor), inner))
    }

    /// The redactor, shared.
    pub fn redactor(&self) -> &Arc<Redactor> {
        &self.redactor
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for RedactingWriter<M> {
    type Writer = EventWriter<'a, M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        EventWriter::new(&self.redactor, self.inner.make_writer())
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        EventWriter::new(&self.redactor, self.inner.make_writer_for(meta))
    }
}

/// The writer for one event: complete lines are redacted and written as
/// they come (a formatting layer writes an event in one call, so nothing is
/// copied); a line without its end waits for the rest, and is redacted when
/// the writer is flushed or dropped.
#[derive(Debug)]
pub struct EventWriter<'a, W: Write> {
    redactor: &'a Redactor,
    inner: W,
    pending: Vec<u8>,
}

impl<'a, W: Write> EventWriter<'a, W> {
    fn new(redactor: &'a Redactor, inner: W) -> Self {
        EventWriter {
            redactor,
            inner,
            pending: Vec::new(),
        }
    }

    fn emit(&mut self, bytes: &[u8]) -> io::Result<()> {
        match std::str::from_utf8(bytes) {
            Ok(text) => self.inner.write_all(self.redactor.redact(text).as_bytes()),
            // A formatting layer writes UTF-8; anything else is redacted as
            // text with its invalid bytes replaced.
            Err(_) => {
                let text = String::from_utf8_lossy(bytes);
                self.inner.write_all(self.redactor.redact(&text).as_bytes())
            }
        }
    }

    fn emit_pending(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        self.emit(&pending)
    }
}

impl<W: Write> Write for EventWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(last) = buf.iter().rposition(|&b| b == b'\n') else {
            self.pending.extend_from_slice(buf);
            return Ok(buf.len());
        };
        let (lines, rest) = buf.split_at(last + 1);
        if self.pending.is_empty() {
            self.emit(lines)?;
        } else {
            self.pending.extend_from_slice(lines);
            self.emit_pending()?;
        }
        self.pending.extend_from_slice(rest);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.emit_pending()?;
        self.inner.flush()
    }
}

impl<W: Write> Drop for EventWriter<'_, W> {
    fn drop(&mut self) {
        // A drop cannot report an error; the formatting layer ignores
        // write errors too.
        let _ = self.emit_pending();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_writes_are_redacted_whole() {
        let r = Redactor::builder().build().expect("redactor");
        let mut out = Vec::new();
        {
            let mut w = EventWriter::new(&r, &mut out);
            for piece in ["mail ana@exa", "mple.com now\nkey AKIAIOSF", "ODNN7EXAMPLE"] {
                w.write_all(piece.as_bytes()).expect("write");
            }
        }
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "mail [EMAIL] now\nkey [AWS_ACCESS_KEY]"
        );
    }
}
