//! Inputs of any size in bounded memory: values that straddle reads, blocks
//! and parallel windows are found whole, and every way of scanning agrees.

use std::io::Read;

use privctl_redact::{Finding, Redactor, Session};

/// Hands out the input a few bytes at a time, with sizes that vary.
struct Trickle<'a> {
    data: &'a [u8],
    at: usize,
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.step = (self.step * 7 + 3) % 4093 + 1;
        let n = self.step.min(buf.len()).min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

fn streamed_findings(r: &Redactor, data: &[u8]) -> Vec<(String, usize, usize, u64)> {
    let mut got = Vec::new();
    r.scan_stream(
        Trickle {
            data,
            at: 0,
            step: 1,
        },
        &mut |_| {},
        &mut |f, pos| {
            got.push((f.kind.name().to_owned(), f.start, f.end, pos.line));
            Ok(())
        },
    )
    .expect("scan");
    got
}

/// Newlines in `text`.
fn line_of(text: &str) -> u64 {
    text.bytes().filter(|&b| b == b'\n').count() as u64
}

#[test]
fn streamed_parallel_and_one_shot_scans_agree_across_many_blocks() {
    // Large enough for several stream blocks and parallel windows.
    let corpus = privctl_corpus::generate(77, 13_000_000, 0.3);
    let r = Redactor::builder().build().expect("redactor");
    let one_shot: Vec<Finding> = r.find(&corpus.text);
    let streamed = streamed_findings(&r, corpus.text.as_bytes());
    let mut line = 1;
    let mut at = 0;
    let expected: Vec<(String, usize, usize, u64)> = one_shot
        .iter()
        .map(|f| {
            line += line_of(&corpus.text[at..f.start]);
            at = f.start;
            (f.kind.name().to_owned(), f.start, f.end, line)
        })
        .collect();
    assert_eq!(streamed.len(), expected.len());
    assert_eq!(streamed, expected);
    assert!(one_shot.len() > 10_000);

    let mut out = Vec::new();
    let mut session = Session::new();
    r.redact_stream(
        Trickle {
            data: corpus.text.as_bytes(),
            at: 0,
            step: 1,
        },
        &mut out,
        &mut session,
        &mut |_| {},
    )
    .expect("redact");
    let streamed = String::from_utf8(out).expect("utf-8");
    // Parallel (every core), one thread, and a stream on one thread.
    let parallel = r.redact(&corpus.text).into_owned();
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    let one_shot = one_thread.install(|| r.redact(&corpus.text).into_owned());
    let mut out = Vec::new();
    one_thread
        .install(|| {
            r.redact_stream(
                corpus.text.as_bytes(),
                &mut out,
                &mut Session::new(),
                &mut |_| {},
            )
        })
        .expect("redact");
    assert!(
        streamed == parallel,
        "streamed and parallel redaction differ"
    );
    assert!(
        one_shot == parallel,
        "one-thread and parallel redaction differ"
    );
    assert!(out == parallel.as_bytes(), "one-thread stream differs");
    // Redacted once, nothing is left to find.
    assert!(r.find(&parallel).is_empty());
}

#[test]
fn a_value_at_every_offset_around_a_block_boundary_is_found() {
    let r = Redactor::builder().build().expect("redactor");
    let card = "4111 1111 1111 1111";
    // Blocks are at least 4 MiB; put the card across every offset near that.
    let boundary = 4 << 20;
    for shift in [0usize, 1, 5, 9, 18, 19, 20] {
        let mut text = "x ".repeat((boundary - shift) / 2);
        if text.len() < boundary - shift {
            text.push('x');
        }
        text.push(' ');
        let at = text.len();
        text.push_str(card);
        text.push_str(" tail\n");
        let got = streamed_findings(&r, text.as_bytes());
        assert_eq!(
            got,
            vec![("credit_card".to_owned(), at, at + card.len(), 1)],
            "shift {shift}"
        );
    }
}

#[test]
fn memory_stays_bounded_on_a_large_stream() {
    // 64 MiB through a reader that never holds the whole input: the redactor
    // must finish without buffering it (checked by construction: the output
    // sink counts bytes instead of keeping them).
    struct Endless {
        left: usize,
        line: &'static [u8],
        at: usize,
    }
    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let mut n = 0;
            while n < buf.len() && self.left > 0 {
                buf[n] = self.line[self.at];
                self.at = (self.at + 1) % self.line.len();
                self.left -= 1;
                n += 1;
            }
            Ok(n)
        }
    }
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len() as u64;
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let line: &'static [u8] = b"GET /v1/models status=200 user=ana@example.com latency_ms=12\n";
    let total = 64 << 20;
    let r = Redactor::builder().build().expect("redactor");
    let mut sink = Count(0);
    let stats = r
        .redact_stream(
            Endless {
                left: total,
                line,
                at: 0,
            },
            &mut sink,
            &mut Session::new(),
            &mut |_| {},
        )
        .expect("redact");
    let lines = total / line.len();
    assert_eq!(stats.findings as usize, lines);
    let shrink = "ana@example.com".len() - "[EMAIL]".len();
    assert_eq!(sink.0 as usize, total - lines * shrink);
}

#[test]
fn invalid_utf8_is_refused_with_its_offset() {
    let r = Redactor::builder().build().expect("redactor");
    let mut data = b"fine line\nand then ".to_vec();
    data.push(0xFF);
    let err = r
        .redact_stream(&data[..], Vec::new(), &mut Session::new(), &mut |_| {})
        .expect_err("not UTF-8");
    assert_eq!(
        err.to_string(),
        "input is not UTF-8 (invalid byte at offset 19)"
    );
}
