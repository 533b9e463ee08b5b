//! `privctl redact FILE > OUT`, the whole process on every core, beside a
//! one-substitution `sed` over the same 100 MB file: what a pipeline pays
//! to redact a log instead of copying it. Needs the release binary
//! (`cargo build --release -p privctl`); numbers are in the README.
//!
//! `cargo bench -p privctl-benches --bench redact_command`
//! (`PRIVCTL_BENCH_CORPUS=FILE` to use a file; `PRIVCTL_BENCH_PRIVCTL=PATH`
//! to time another build of privctl, such as an older one).

use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

fn privctl() -> PathBuf {
    if let Some(p) = std::env::var_os("PRIVCTL_BENCH_PRIVCTL") {
        return PathBuf::from(p);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("benches/ has a parent")
        .to_path_buf();
    let bin = root.join("target/release/privctl");
    assert!(
        bin.exists(),
        "{} is missing\nhint: cargo build --release -p privctl",
        bin.display()
    );
    bin
}

fn run(cmd: &mut Command, out: &PathBuf) {
    let status = cmd
        .stdout(File::create(out).expect("output file"))
        .stderr(Stdio::null())
        .status()
        .expect("the command runs");
    assert!(status.success(), "{cmd:?} failed");
}

fn redact_command(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("dir");
    let corpus = match std::env::var_os("PRIVCTL_BENCH_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => {
            let p = dir.path().join("corpus.txt");
            std::fs::write(&p, privctl_corpus::generate(2026, 100_000_000, 0.05).text)
                .expect("corpus");
            p
        }
    };
    let len = std::fs::metadata(&corpus).expect("corpus").len();
    let out = dir.path().join("out.txt");
    let bin = privctl();
    let mut group = c.benchmark_group("redact_command");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(len));
    // The last run's output is removed before each run, untimed: both
    // commands write a new file, as a pipeline step does.
    let fresh = || {
        let _ = std::fs::remove_file(&out);
    };
    group.bench_function("privctl_redact", |b| {
        b.iter_batched(
            fresh,
            |()| run(Command::new(&bin).arg("redact").arg(&corpus), &out),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("sed", |b| {
        b.iter_batched(
            fresh,
            |()| run(Command::new("sed").arg("s/a/b/").arg(&corpus), &out),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, redact_command);
criterion_main!(benches);
