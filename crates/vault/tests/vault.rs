//! The vault on SQLite (always) and PostgreSQL (under scripts/with-postgres):
//! one suite, run against each store. Tests that pin a defect of issue 7
//! say so.

use std::sync::Arc;

use privctl_vault::{Error, IdKind, KeyFile, Keyring, Keys, KycId, Store, Vault};

use crate::common::{databases, rt, unique};

fn pan(v: &str) -> KycId {
    KycId::new(IdKind::Pan, v).expect("valid PAN")
}

fn aadhaar(v: &str) -> KycId {
    KycId::new(IdKind::Aadhaar, v).expect("valid Aadhaar")
}

#[test]
fn put_get_find_on_every_store() {
    rt().block_on(async {
        for db in databases().await {
            let vault = db.vault().await;
            let subject = unique("user");
            let stored = vault
                .put(&subject, &aadhaar("2345 6789 0124"))
                .await
                .expect("put");
            assert!(stored.reference.starts_with("ref_"), "{}", db.name);
            assert_eq!(stored.masked, "XXXX XXXX 0124");
            let (kind, value) = vault.get(&stored.reference).await.expect("get");
            assert_eq!(
                (kind, value.as_str()),
                (IdKind::Aadhaar, "234567890124"),
                "{}",
                db.name
            );
            let found = vault.find(&aadhaar("234567890124")).await.expect("find");
            assert_eq!(found.len(), 1, "{}", db.name);
            assert_eq!(
                (found[0].reference.as_str(), found[0].subject.as_str()),
                (stored.reference.as_str(), subject.as_str())
            );
            assert!(vault
                .find(&aadhaar("999988887779"))
                .await
                .expect("find")
                .is_empty());
        }
    });
}

#[test]
fn rotation_then_rewrap_keeps_every_value_readable() {
    rt().block_on(async {
        for db in databases().await {
            let vault = db.vault().await;
            let mut refs = Vec::new();
            for i in 0..5 {
                let r = vault
                    .put(&unique(&format!("rot{i}")), &pan(&format!("ABCPE123{i}F")))
                    .await
                    .expect("put");
                refs.push(r.reference);
            }
            assert_eq!(vault.rotate().await.expect("rotate"), 2);
            let report = vault.rewrap().await.expect("rewrap");
            assert!(report.rewrapped >= 1, "{}: {report:?}", db.name);
            assert_eq!(
                vault.rewrap().await.expect("again").rewrapped,
                0,
                "rewrap is idempotent"
            );
            vault.retire(1).await.expect("retire");
            assert!(
                !db.key_file().load().expect("keys").has(1),
                "retired version left the key file"
            );
            for (i, r) in refs.iter().enumerate() {
                let (_, v) = vault.get(r).await.expect("readable after rewrap");
                assert_eq!(v.as_str(), format!("ABCPE123{i}F"));
            }
            // Another process, with the file as it is now.
            let again = db.reopen().await;
            assert_eq!(
                again.get(&refs[0]).await.expect("get").1.as_str(),
                "ABCPE1230F"
            );
        }
    });
}

/// Issue 7: the blind-index rows survived a shred, so `vault find` still
/// linked the person to their Aadhaar number; and a later `put` succeeded.
#[test]
fn a_shredded_subject_is_not_found_read_or_added_to() {
    rt().block_on(async {
        for db in databases().await {
            let vault = db.vault().await;
            let gone = unique("gone");
            let kept = unique("kept");
            let r = vault
                .put(&gone, &aadhaar("2345 6789 0124"))
                .await
                .expect("put")
                .reference;
            let r2 = vault
                .put(&gone, &pan("ABCPE1234F"))
                .await
                .expect("put")
                .reference;
            let other = vault
                .put(&kept, &aadhaar("2345 6789 0124"))
                .await
                .expect("put")
                .reference;
            let report = vault.shred(&gone).await.expect("shred");
            assert!(report.had_key, "{}", db.name);
            assert_eq!(report.values, 2);
            assert_eq!(report.moved, 1, "the other member moved to a new group key");
            assert_eq!(report.destroyed_versions, [1]);
            let found = vault.find(&aadhaar("234567890124")).await.expect("find");
            assert_eq!(
                found.iter().map(|f| f.subject.as_str()).collect::<Vec<_>>(),
                [kept.as_str()],
                "{}",
                db.name
            );
            assert!(vault
                .find(&pan("ABCPE1234F"))
                .await
                .expect("find")
                .is_empty());
            for reference in [&r, &r2] {
                assert!(
                    matches!(vault.get(reference).await, Err(Error::ShreddedReference(_))),
                    "{}",
                    db.name
                );
            }
            assert!(matches!(
                vault.put(&gone, &pan("ABCPE1234F")).await,
                Err(Error::Shredded(_))
            ));
            assert_eq!(
                vault.get(&other).await.expect("others unharmed").1.as_str(),
                "234567890124"
            );
            let again = vault
                .shred(&gone)
                .await
                .expect("shredding twice is harmless");
            assert!(!again.had_key);
            // The destroyed master version has left the key file.
            let ring = db.key_file().load().expect("keys");
            assert_eq!(ring.versions(), [2], "{}", db.name);
        }
    });
}

/// Issue 7: a put racing a shred could succeed after it. Whatever the
/// interleaving, once the shred has returned no value of the subject opens
/// and no new one can be added.
#[test]
fn a_put_racing_a_shred_never_outlives_it() {
    rt().block_on(async {
        for db in databases().await {
            let first = Arc::new(db.vault().await);
            let subject = unique("racer");
            first
                .put(&subject, &pan("ABCPE1234F"))
                .await
                .expect("first put");
            let mut tasks = Vec::new();
            for i in 0..8 {
                let vault = Arc::new(db.reopen().await);
                let subject = subject.clone();
                tasks.push(tokio::spawn(async move {
                    vault
                        .put(&subject, &pan(&format!("ABCPE123{i}F")))
                        .await
                        .map(|s| s.reference)
                }));
            }
            let shredder = first.clone();
            let s = subject.clone();
            let shred = tokio::spawn(async move { shredder.shred(&s).await });
            let mut stored = Vec::new();
            for t in tasks {
                match t.await.expect("task") {
                    Ok(r) => stored.push(r),
                    Err(Error::Shredded(_)) => {}
                    Err(e) => panic!("{}: unexpected {e}", db.name),
                }
            }
            shred.await.expect("task").expect("shred");
            for r in &stored {
                assert!(
                    matches!(first.get(r).await, Err(Error::ShreddedReference(_))),
                    "{}: {r} outlived the shred",
                    db.name
                );
            }
            assert!(matches!(
                first.put(&subject, &pan("ABCPE1234F")).await,
                Err(Error::Shredded(_))
            ));
        }
    });
}

/// Issue 7: two first puts for the same new subject raced into a raw
/// `UNIQUE constraint failed`.
#[test]
fn first_puts_for_one_new_subject_at_once_both_succeed() {
    rt().block_on(async {
        for db in databases().await {
            let _init = db.vault().await;
            let subject = unique("new");
            let mut tasks = Vec::new();
            for i in 0..6 {
                let vault = db.reopen().await;
                let subject = subject.clone();
                tasks.push(tokio::spawn(async move {
                    vault
                        .put(&subject, &pan(&format!("ABCPE999{i}F")))
                        .await
                        .map(|s| s.reference)
                }));
            }
            let vault = db.reopen().await;
            for (i, t) in tasks.into_iter().enumerate() {
                let r = t
                    .await
                    .expect("task")
                    .unwrap_or_else(|e| panic!("{}: {e}", db.name));
                assert_eq!(
                    vault.get(&r).await.expect("get").1.as_str(),
                    format!("ABCPE999{i}F")
                );
            }
        }
    });
}

#[test]
fn a_ciphertext_moved_to_another_row_does_not_open() {
    rt().block_on(async {
        for db in databases().await {
            let vault = db.vault().await;
            let subject = unique("mover");
            let a = vault
                .put(&subject, &pan("ABCPE1234F"))
                .await
                .expect("put")
                .reference;
            let b = vault
                .put(&subject, &pan("ABCPE9999F"))
                .await
                .expect("put")
                .reference;
            let sealed_a = vault
                .store()
                .sealed_bytes(&a)
                .await
                .expect("read")
                .expect("row");
            vault
                .store()
                .overwrite_sealed(&b, &sealed_a)
                .await
                .expect("move");
            assert!(
                matches!(vault.get(&b).await, Err(Error::Tampered)),
                "{}",
                db.name
            );
            assert_eq!(
                vault.get(&a).await.expect("a still opens").1.as_str(),
                "ABCPE1234F"
            );
            let mut flipped = sealed_a.clone();
            flipped[2] ^= 1;
            vault
                .store()
                .overwrite_sealed(&a, &flipped)
                .await
                .expect("flip");
            assert!(
                matches!(vault.get(&a).await, Err(Error::Tampered)),
                "{}: an edited key id",
                db.name
            );
        }
    });
}

/// Issue 7: `vault init` with a new key file over a populated database
/// succeeded, and later reported the wrong key as tampering.
#[test]
fn another_vaults_keys_are_refused_as_such() {
    rt().block_on(async {
        for db in databases().await {
            let vault = db.vault().await;
            vault
                .put(&unique("wk"), &pan("ABCPE1234F"))
                .await
                .expect("put");
            let other_dir = tempfile::tempdir().expect("dir");
            let other = KeyFile::new(other_dir.path().join("other.keys"));
            let err = Vault::init(db.store().await, &other).await.err();
            assert!(
                matches!(err, Some(Error::VaultExists { .. })),
                "{}: {err:?}",
                db.name
            );
            assert!(!other.path().exists(), "a refused init leaves no key file");
            let err = Vault::open(
                db.store().await,
                Keys::given(Keyring::generate().expect("keys")),
            )
            .await
            .err();
            assert!(
                matches!(err, Some(Error::WrongKeys { .. })),
                "{}: {err:?}",
                db.name
            );
            let shown = err.map(|e| e.to_string()).unwrap_or_default();
            assert!(shown.contains("do not belong to this vault"), "{shown}");
        }
    });
}

#[test]
fn epoch_keys_pseudonymise_and_forgetting_them_ends_linkability() {
    rt().block_on(async {
        for db in databases().await {
            let vault = db.vault().await;
            let t = 1_800_000_000;
            let (e1, a) = vault.pseudonym("ip", "203.0.113.7", t).await.expect("hash");
            let (_, b) = vault
                .pseudonym("ip", "203.0.113.7", t + 60)
                .await
                .expect("hash");
            assert_eq!(a, b, "{}: stable within an epoch", db.name);
            let (e2, c) = vault
                .pseudonym(
                    "ip",
                    "203.0.113.7",
                    t + privctl_vault::pseudo::EPOCH_SECONDS,
                )
                .await
                .expect("hash");
            assert_eq!(e2, e1 + 1);
            assert_ne!(a, c, "{}: unlinkable across epochs", db.name);
            let (_, d) = vault
                .pseudonym("device", "203.0.113.7", t)
                .await
                .expect("hash");
            assert_ne!(a, d, "purposes have their own keys");
            assert_eq!(vault.forget_epochs("ip", e2).await.expect("forget"), 1);
            let (_, again) = vault.pseudonym("ip", "203.0.113.7", t).await.expect("hash");
            assert_ne!(
                a, again,
                "{}: a destroyed epoch key is gone for good",
                db.name
            );
            let (_, still) = vault
                .pseudonym(
                    "ip",
                    "203.0.113.7",
                    t + privctl_vault::pseudo::EPOCH_SECONDS,
                )
                .await
                .expect("hash");
            assert_eq!(
                c, still,
                "{}: the epoch not forgotten is unchanged",
                db.name
            );
            assert_eq!(
                db.key_file().load().expect("keys").versions(),
                [2],
                "the version that wrapped it is destroyed"
            );
            assert!(matches!(
                vault.pseudonym("ip", " ", t).await,
                Err(Error::Empty(_))
            ));
        }
    });
}

/// Issue 7: `rotate --retire N` ignored the epoch keys, after which `hash
/// ip` and `rewrap` failed for good. The vault itself refuses.
#[test]
fn a_version_that_wraps_an_epoch_key_is_not_retired() {
    rt().block_on(async {
        for db in databases().await {
            let vault = db.vault().await;
            let (_, before) = vault
                .pseudonym("ip", "203.0.113.7", 1_800_000_000)
                .await
                .expect("hash");
            vault.rotate().await.expect("rotate");
            let err = vault.retire(1).await.err();
            assert!(
                matches!(
                    err,
                    Some(Error::VersionInUse {
                        version: 1,
                        groups: 0,
                        epochs: 1
                    })
                ),
                "{}: {err:?}",
                db.name
            );
            assert!(matches!(vault.retire(2).await, Err(Error::RetireNewest(2))));
            vault.rewrap().await.expect("rewrap");
            vault.retire(1).await.expect("retire after rewrap");
            let (_, after) = vault
                .pseudonym("ip", "203.0.113.7", 1_800_000_000)
                .await
                .expect("hash");
            assert_eq!(before, after, "{}", db.name);
        }
    });
}

/// Issue 7: `vault rotate` with keys from PRIVCTL_VAULT_KEYS wrote them over
/// an unrelated key file. Keys given in memory are never written anywhere,
/// and what needs a key file says so.
#[test]
fn keys_given_in_memory_are_never_written() {
    rt().block_on(async {
        for db in databases().await {
            let vault = db.vault().await;
            let before = std::fs::read(db.key_path()).expect("key file");
            let ring = db.key_file().load().expect("keys");
            let given = Vault::open(db.store().await, Keys::given(ring))
                .await
                .expect("open");
            let r = given
                .put(&unique("env"), &pan("ABCPE1234F"))
                .await
                .expect("put works");
            assert_eq!(
                given.get(&r.reference).await.expect("get").1.as_str(),
                "ABCPE1234F"
            );
            assert!(
                matches!(given.rotate().await, Err(Error::KeysReadOnly { .. })),
                "{}",
                db.name
            );
            assert!(matches!(
                given.retire(1).await,
                Err(Error::KeysReadOnly { .. })
            ));
            assert!(matches!(
                given.shred("x").await,
                Err(Error::KeysReadOnly { .. })
            ));
            assert!(matches!(
                given.forget_epochs("ip", 1).await,
                Err(Error::KeysReadOnly { .. })
            ));
            assert_eq!(std::fs::read(db.key_path()).expect("key file"), before);
            // Once the file's owner rotates and destroys version 1, keys
            // given in memory are stale, and say so.
            let x = unique("x");
            vault.put(&x, &pan("ABCPE1234F")).await.expect("put");
            vault.shred(&x).await.expect("shred");
            // Several connections in the pool, so the next write may run
            // on another one than the write before it. (The reads fail:
            // these keys cannot open the re-wrapped group.)
            let _ = tokio::join!(
                given.get(&r.reference),
                given.get(&r.reference),
                given.get(&r.reference)
            );
            let err = given.put(&unique("late"), &pan("ABCPE1234F")).await.err();
            assert!(
                matches!(
                    err,
                    Some(Error::StaleKeys { .. } | Error::UnknownMasterVersion(_))
                ),
                "{}: {err:?}",
                db.name
            );
            // A write that failed has released the vault's lock before
            // returning: the same vault writes again without waiting.
            let again = tokio::time::timeout(
                std::time::Duration::from_secs(60),
                given.put(&unique("later"), &pan("ABCPE1234F")),
            )
            .await;
            assert!(
                again.is_ok(),
                "{}: a second write waited on the first one's lock",
                db.name
            );
        }
    });
}

#[test]
fn subjects_must_be_printable_and_bounded() {
    rt().block_on(async {
        for db in databases().await {
            let vault = db.vault().await;
            for bad in ["", "a\nb", "x\u{202e}y", &"s".repeat(256)] {
                assert!(
                    matches!(
                        vault.put(bad, &pan("ABCPE1234F")).await,
                        Err(Error::InvalidSubject { .. })
                    ),
                    "{bad:?}"
                );
            }
        }
    });
}

/// Issue 7: `--db sqlite:PATH` for a new file failed with SQLite's "(code:
/// 14) unable to open database file", and an unreachable PostgreSQL said
/// "pool timed out" after 30 s instead of why.
#[test]
fn connections_fail_with_their_reason() {
    rt().block_on(async {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("new/dir/vault.db");
        let url = format!("sqlite:{}", path.display());
        let err = Store::open(&url)
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("does not exist") && err.contains("privctl vault init"),
            "{err}"
        );
        assert!(!path.exists(), "opening changes nothing");
        Store::create(&url)
            .await
            .expect("create makes the file and its directory");
        assert!(path.exists());

        let err = Store::open("postgres://nobody:s3cr3t@127.0.0.1:1/vault")
            .await
            .expect_err("refused");
        let chain = format!(
            "{err} / {}",
            std::error::Error::source(&err)
                .map(|s| s.to_string())
                .unwrap_or_default()
        );
        assert!(
            chain.contains(
                "cannot connect to store vault at postgres://nobody:***@127.0.0.1:1/vault"
            ),
            "{chain}"
        );
        assert!(chain.to_lowercase().contains("refused"), "{chain}");
        assert!(!chain.contains("s3cr3t"), "{chain}");
        let err = Store::open("mysql://x/y")
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("must start with sqlite: or postgres://"),
            "{err}"
        );
    });
}
