//! What redacting a service's logs costs per event: the same events
//! formatted by `tracing-subscriber`'s fmt layer into a sink, with and
//! without `privctl_redact_tracing::RedactingWriter` (every detector,
//! placeholders). Numbers are reported in the README.
//!
//! `cargo bench -p privctl-benches --bench tracing`

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use privctl_redact::Redactor;
use privctl_redact_tracing::RedactingWriter;
use tracing::info;

/// A request log line with a user and an address, and one with nothing to
/// find: the two kinds of line a gateway writes most.
fn events(with_values: bool) {
    if with_values {
        info!(
            user = "ana.souza@example.com",
            ip = "203.0.113.9",
            model = "llama-3.1-70b",
            tokens = 1378,
            "completion served"
        );
    } else {
        info!(
            request_id = "05f60211-0afa-4cc4-a94e-8d18d1a29bdf",
            model = "llama-3.1-70b",
            tokens = 1378,
            latency_ms = 2526,
            "completion served"
        );
    }
}

fn per_event(c: &mut Criterion) {
    let redactor = Arc::new(Redactor::builder().build().expect("redactor"));
    let mut group = c.benchmark_group("tracing_event");
    for with_values in [false, true] {
        let case = if with_values { "with_pii" } else { "clean" };
        let plain = tracing_subscriber::fmt()
            .with_writer(std::io::sink)
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(plain, || {
            group.bench_function(BenchmarkId::new("fmt", case), |b| {
                b.iter(|| events(with_values))
            });
        });
        let redacted = tracing_subscriber::fmt()
            .with_writer(RedactingWriter::new(Arc::clone(&redactor), std::io::sink))
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(redacted, || {
            group.bench_function(BenchmarkId::new("fmt_redacted", case), |b| {
                b.iter(|| events(with_values))
            });
        });
    }
    group.finish();
}

criterion_group!(benches, per_event);
criterion_main!(benches);
