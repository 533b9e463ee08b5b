//! Vault throughput: values sealed and opened per second on one core, and,
//! through a real SQLite vault, a put and a crypto-shred, the shred at two
//! vault sizes (its cost is bounded by the group of 1,024 subjects it
//! re-wraps, not by the vault).
//!
//! `cargo bench -p privctl-benches --bench vault`

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use privctl_vault::keys::SecretKey;
use privctl_vault::{sealed, IdKind, KeyFile, KycId, Store, Vault};

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

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A SQLite vault (in a temporary directory) holding `n` subjects.
fn vault_with(rt: &tokio::runtime::Runtime, n: usize) -> (tempfile::TempDir, Vault) {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite:{}", dir.path().join("vault.db").display());
    let vault = rt.block_on(async {
        let store = Store::create(&url).await.expect("store");
        let vault = Vault::init(store, &KeyFile::new(dir.path().join("vault.keys")))
            .await
            .expect("init");
        let pan = KycId::new(IdKind::Pan, "ABCPE1234F").expect("pan");
        for i in 0..n {
            vault.put(&format!("user-{i}"), &pan).await.expect("put");
        }
        vault
    });
    (dir, vault)
}

fn store(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("vault_sqlite");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    let (_dir, vault) = vault_with(&rt, 0);
    let pan = KycId::new(IdKind::Pan, "ABCPE1234F").expect("pan");
    let mut next = 0usize;
    group.bench_function("put", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            rt.block_on(async {
                for _ in 0..iters {
                    next += 1;
                    vault.put(&format!("p-{next}"), &pan).await.expect("put");
                }
            });
            start.elapsed()
        })
    });
    for n in [1_000usize, 10_000] {
        let (_dir, vault) = vault_with(&rt, n);
        let mut victim = 0usize;
        group.bench_function(format!("shred_in_a_vault_of_{n}"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                rt.block_on(async {
                    for _ in 0..iters {
                        // Spread over the groups, as real erasures are.
                        let who = (victim * 977) % n;
                        victim += 1;
                        vault.shred(&format!("user-{who}")).await.expect("shred");
                    }
                });
                start.elapsed()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, seal_open, store);
criterion_main!(benches);
