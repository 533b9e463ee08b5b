//! Scan throughput with every detector on a realistic 100 MB corpus (server
//! logs, JSON event lines, chat prompts, config snippets; PII on about one
//! line in twenty), on one thread and on every core, and redaction with the
//! placeholder operator. Numbers are reported in the README.
//!
//! `cargo bench -p privctl-benches --bench redact`
//! (`PRIVCTL_BENCH_MB=16` for a quicker run; `PRIVCTL_BENCH_CORPUS=FILE` to
//! measure on a file instead, such as an older generator's corpus when
//! comparing with an older build).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use privctl_redact::{Redactor, Session};

fn corpus() -> String {
    if let Some(path) = std::env::var_os("PRIVCTL_BENCH_CORPUS") {
        return std::fs::read_to_string(&path).expect("PRIVCTL_BENCH_CORPUS is a UTF-8 file");
    }
    let mb: usize = std::env::var("PRIVCTL_BENCH_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    privctl_corpus::generate(2026, mb * 1_000_000, 0.05).text
}

fn scan(c: &mut Criterion) {
    let text = corpus();
    let redactor = Redactor::builder().build().expect("default redactor");
    let mut group = c.benchmark_group("scan");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(text.len() as u64));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for threads in [1, cores] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool");
        group.bench_function(format!("all_detectors/{threads}_thread"), |b| {
            b.iter(|| pool.install(|| redactor.find(&text).len()))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("redact");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(text.len() as u64));
    for threads in [1, cores] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool");
        group.bench_function(format!("placeholder/{threads}_thread"), |b| {
            b.iter(|| pool.install(|| redactor.redact(&text).len()))
        });
        // Through the streaming path the CLI uses, into a sink that keeps
        // nothing: memory stays bounded whatever the input's size.
        group.bench_function(format!("stream/{threads}_thread"), |b| {
            b.iter(|| {
                pool.install(|| {
                    let mut sink = std::io::sink();
                    redactor
                        .redact_stream(text.as_bytes(), &mut sink, &mut Session::new(), &mut |_| {})
                        .map(|s| s.findings)
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, scan);
criterion_main!(benches);
