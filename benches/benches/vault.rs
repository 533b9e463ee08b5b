//! Vault throughput: values sealed and opened per second on one core, and
//! re-wrapping 1,000,000 data keys under a new master key version.
//!
//! `cargo bench -p privctl-benches --bench vault`

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use privctl_vault::keys::{self, SecretKey};
use privctl_vault::{sealed, Keyring};

fn seal_open(c: &mut Criterion) {
    let key = SecretKey::from_bytes([7; 32]);
    let mut group = c.benchmark_group("vault");
    group.throughput(Throughput::Elements(1));
    group.bench_function("seal_aadhaar", |b| {
        b.iter(|| {
            sealed::seal(
                &key,
                1,
                "ref_abcdefghijklmnopqrstuvwxyz",
                "aadhaar",
                b"234567890124",
            )
            .map(|v| v.as_bytes().len())
        })
    });
    let v = sealed::seal(
        &key,
        1,
        "ref_abcdefghijklmnopqrstuvwxyz",
        "aadhaar",
        b"234567890124",
    )
    .expect("seal");
    group.bench_function("open_aadhaar", |b| {
        b.iter(|| {
            sealed::open(&key, "ref_abcdefghijklmnopqrstuvwxyz", "aadhaar", &v).map(|p| p.len())
        })
    });
    group.finish();
}

fn rewrap(c: &mut Criterion) {
    const N: usize = 1_000_000;
    let mut ring = Keyring::generate().expect("keyring");
    let subjects: Vec<String> = (0..N).map(|i| format!("user-{i}")).collect();
    let wrapped: Vec<_> = subjects
        .iter()
        .map(|s| keys::wrap(&ring, s, &SecretKey::random().expect("key")).expect("wrap"))
        .collect();
    ring.rotate().expect("rotate");
    let mut group = c.benchmark_group("vault");
    group.sample_size(10);
    group.throughput(Throughput::Elements(N as u64));
    group.bench_function("rewrap_1m_data_keys", |b| {
        b.iter_batched(
            || (),
            |()| {
                subjects
                    .iter()
                    .zip(&wrapped)
                    .map(|(s, w)| keys::rewrap(&ring, s, w).map(|n| n.master_version))
                    .filter(Result::is_ok)
                    .count()
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, seal_open, rewrap);
criterion_main!(benches);
