//! Issue 7: a subject shredded with privctl 0.1 was not shredded. Its
//! wrapped data key stayed in a free page of the SQLite file, the master
//! key still unwrapped it, and a short script got the plaintext back.
//!
//! The forensic reader here is that attacker: it holds the raw database
//! files (SQLite's file; PostgreSQL's table files and its whole write-ahead
//! log) and a key file, and tries every byte offset as a wrapped key. It is
//! written from the documented formats with ring alone, not with the
//! vault's code. Every test also shows the reader *does* recover what it
//! should (the subjects not shredded), so a reader that found nothing could
//! not pass for a vault that leaks nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use privctl_vault::keys::SecretKey;
use privctl_vault::{sealed, IdKind, KycId, Vault};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use ring::hmac;

use crate::common::{databases, rt, unique, Db};

const WRAPPED: usize = 12 + 32 + 16;

/// Master keys read from key file text, the way an attacker would.
fn masters(key_file_text: &str) -> Vec<(u32, LessSafeKey)> {
    key_file_text
        .lines()
        .filter_map(|l| {
            let parts: Vec<&str> = l.split_whitespace().collect();
            match parts.as_slice() {
                ["master", v, hex] => Some((v.parse().ok()?, cipher(&unhex(hex)))),
                _ => None,
            }
        })
        .collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

fn cipher(key: &[u8]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("32-byte key"))
}

/// Tries `blob` (nonce, ciphertext, tag) as a key wrapped under `under`.
fn open(under: &LessSafeKey, aad: &[u8], blob: &[u8]) -> Option<[u8; 32]> {
    let nonce = Nonce::try_assume_unique_for_key(&blob[..12]).ok()?;
    let mut buf = blob[12..WRAPPED].to_vec();
    let plain = under.open_in_place(nonce, Aad::from(aad), &mut buf).ok()?;
    plain.try_into().ok()
}

fn derive(key: &[u8; 32], label: &[u8]) -> [u8; 32] {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), label);
    tag.as_ref().try_into().expect("32 bytes")
}

/// Every 60-byte window that could hold a wrapped key. PostgreSQL stores a
/// 60-byte `bytea` behind the one-byte header 0x7b, in tables and in its
/// log alike; SQLite files are small enough to try every offset.
fn windows(raw: &[u8], pg: bool) -> Vec<&[u8]> {
    (0..raw.len().saturating_sub(WRAPPED))
        .filter(|&i| !pg || (i > 0 && raw[i - 1] == 0x7b))
        .map(|i| &raw[i..i + WRAPPED])
        .collect()
}

/// Tries `aads` on every window with every key, on both cores.
fn scan(
    windows: &[&[u8]],
    keys: &[(LessSafeKey, Vec<u8>, String)],
) -> BTreeMap<String, Vec<[u8; 32]>> {
    let half = windows.len() / 2 + 1;
    let parts: Vec<Vec<(String, [u8; 32])>> = std::thread::scope(|s| {
        let handles: Vec<_> = windows
            .chunks(half)
            .map(|chunk| {
                s.spawn(move || {
                    let mut out = Vec::new();
                    for w in chunk {
                        for (key, aad, label) in keys {
                            if let Some(k) = open(key, aad, w) {
                                out.push((label.clone(), k));
                            }
                        }
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("scanner"))
            .collect()
    });
    let mut found: BTreeMap<String, Vec<[u8; 32]>> = BTreeMap::new();
    for (label, k) in parts.into_iter().flatten() {
        let e = found.entry(label).or_default();
        if !e.contains(&k) {
            e.push(k);
        }
    }
    found
}

/// What the reader recovers from `raw` with `key_file_text`, trying group
/// ids up to `max_group` and the subject ids it guesses.
struct Recovered {
    data_keys: BTreeMap<String, Vec<[u8; 32]>>,
    epoch_keys: Vec<[u8; 32]>,
}

fn read_v2(
    raw: &[u8],
    pg: bool,
    key_file_text: &str,
    max_group: i64,
    subjects: &[&str],
    epochs: &[(&str, u64)],
) -> Recovered {
    let windows = windows(raw, pg);
    let masters = masters(key_file_text);
    let mut tries = Vec::new();
    for (v, m) in &masters {
        for g in 1..=max_group {
            let mut aad = b"privctl/vault/group-key/v2\0".to_vec();
            aad.extend_from_slice(&v.to_be_bytes());
            aad.extend_from_slice(&g.to_be_bytes());
            tries.push((m.clone(), aad, g.to_string()));
        }
    }
    let groups = scan(&windows, &tries);
    let mut tries = Vec::new();
    for (g, keys) in &groups {
        let g: i64 = g.parse().expect("group id");
        for gk in keys {
            let wrap = cipher(&derive(gk, b"privctl/vault/group/wrap/v2"));
            for s in subjects {
                let mut aad = b"privctl/vault/data-key/v2\0".to_vec();
                aad.extend_from_slice(&g.to_be_bytes());
                aad.extend_from_slice(s.as_bytes());
                tries.push((wrap.clone(), aad, (*s).to_owned()));
            }
        }
    }
    let data_keys = scan(&windows, &tries);
    let mut tries = Vec::new();
    for (v, m) in &masters {
        for (purpose, epoch) in epochs {
            let mut aad = b"privctl/vault/epoch-key/v2\0".to_vec();
            aad.extend_from_slice(&v.to_be_bytes());
            aad.extend_from_slice(&epoch.to_be_bytes());
            aad.extend_from_slice(purpose.as_bytes());
            tries.push((m.clone(), aad, format!("{purpose}:{epoch}")));
        }
    }
    let epoch_keys = scan(&windows, &tries).into_values().flatten().collect();
    Recovered {
        data_keys,
        epoch_keys,
    }
}

/// Whether any recovered key of `subject` opens a copy of their sealed
/// value (as a backup or an export would have kept it).
fn opens(
    rec: &Recovered,
    subject: &str,
    reference: &str,
    field: &str,
    sealed_copy: &[u8],
) -> Option<String> {
    let v = sealed::SealedValue::parse(sealed_copy).ok()?;
    rec.data_keys.get(subject)?.iter().find_map(|k| {
        let plain = sealed::open(&SecretKey::from_bytes(*k), reference, field, &v).ok()?;
        String::from_utf8(plain.to_vec()).ok()
    })
}

fn hash_with(key: &[u8; 32], purpose: &str, value: &str) -> String {
    let mut ctx = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA256, key));
    ctx.update(purpose.as_bytes());
    ctx.update(&[0]);
    ctx.update(value.as_bytes());
    ctx.sign()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn read_all(paths: &[PathBuf]) -> Vec<u8> {
    let mut raw = Vec::new();
    for p in paths {
        if let Ok(bytes) = std::fs::read(p) {
            raw.extend_from_slice(&bytes);
        }
    }
    raw
}

/// The raw files an attacker would copy: SQLite's database and any journal
/// beside it; PostgreSQL's vault table files (after a checkpoint) and its
/// whole write-ahead log.
async fn raw_files(db: &Db) -> Vec<u8> {
    match &db.pg_database {
        None => {
            let p = db.sqlite_path();
            let mut files = vec![p.clone()];
            for suffix in ["-journal", "-wal"] {
                let mut s = p.clone().into_os_string();
                s.push(suffix);
                files.push(PathBuf::from(s));
            }
            read_all(&files)
        }
        Some(_) => {
            sqlx::any::install_default_drivers();
            let pool = sqlx::AnyPool::connect(&db.url).await.expect("connect");
            use sqlx::Row;
            sqlx::query("CHECKPOINT")
                .execute(&pool)
                .await
                .expect("checkpoint (needs a superuser)");
            let dir: String =
                sqlx::query("SELECT setting FROM pg_settings WHERE name = 'data_directory'")
                    .fetch_one(&pool)
                    .await
                    .expect("data directory")
                    .try_get("setting")
                    .expect("setting");
            let dir = PathBuf::from(dir);
            let mut files = Vec::new();
            for table in [
                "privctl_vault_keys",
                "privctl_vault_groups",
                "privctl_vault_epochs",
                "privctl_vault_values",
            ] {
                let rel: String = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT pg_relation_filepath('{table}') AS p"
                )))
                .fetch_one(&pool)
                .await
                .expect("relation path")
                .try_get("p")
                .expect("path");
                files.push(dir.join(rel));
            }
            let wal = dir.join("pg_wal");
            let mut segments: Vec<PathBuf> = std::fs::read_dir(&wal)
                .unwrap_or_else(|e| {
                    panic!("the forensic test reads {} directly: {e}", wal.display())
                })
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            segments.sort();
            files.extend(segments);
            let raw = read_all(&files);
            assert!(
                !raw.is_empty(),
                "no PostgreSQL files were readable under {}",
                dir.display()
            );
            raw
        }
    }
}

/// Stores `value` for `subject` and keeps a copy of its ciphertext, as a
/// backup or an export would: (subject, reference, value, sealed bytes).
async fn put_keeping_a_copy<'a>(
    vault: &Vault,
    subject: &str,
    value: &'a str,
) -> (String, String, &'a str, Vec<u8>) {
    let r = vault
        .put(subject, &pan(value))
        .await
        .expect("put")
        .reference;
    let sealed = vault
        .store()
        .sealed_bytes(&r)
        .await
        .expect("read")
        .expect("row");
    (subject.to_owned(), r, value, sealed)
}

fn pan(v: &str) -> KycId {
    KycId::new(IdKind::Pan, v).expect("valid")
}

#[test]
fn a_shredded_subject_is_unrecoverable_from_the_raw_files_with_the_key_file() {
    rt().block_on(async {
        for db in databases().await {
            let vault: Vault = db.vault().await;
            let (kept, gone, later) = (unique("kept"), unique("gone"), unique("later"));
            let t_old = 1_700_000_000;
            let t_now = t_old + 3 * privctl_vault::pseudo::EPOCH_SECONDS;
            let (old_epoch, old_hash) = vault
                .pseudonym("ip", "203.0.113.7", t_old)
                .await
                .expect("hash");
            let mut copies = Vec::new();
            for (subject, value) in [
                (&kept, "ABCPE1234F"),
                (&gone, "ABCPE9999F"),
                (&gone, "AAAPL1234C"),
                (&later, "ABCPE5555F"),
            ] {
                copies.push(put_keeping_a_copy(&vault, subject, value).await);
            }
            let (now_epoch, now_hash) = vault
                .pseudonym("ip", "203.0.113.7", t_now)
                .await
                .expect("hash");
            let backup_of_key_file = std::fs::read_to_string(db.key_path()).expect("key file");

            vault.shred(&gone).await.expect("shred");
            vault
                .forget_epochs("ip", old_epoch + 1)
                .await
                .expect("forget");

            let raw = raw_files(&db).await;
            let pg = db.pg_database.is_some();
            let key_file = std::fs::read_to_string(db.key_path()).expect("key file");
            let subjects = [kept.as_str(), gone.as_str(), later.as_str()];
            let epochs = [("ip", old_epoch), ("ip", now_epoch)];
            let rec = read_v2(&raw, pg, &key_file, 8, &subjects, &epochs);
            for (subject, r, value, sealed) in &copies {
                let got = opens(&rec, subject, r, "pan", sealed);
                if subject == &gone {
                    assert_eq!(
                        got, None,
                        "{}: the shredded subject's value was recovered",
                        db.name
                    );
                } else {
                    assert_eq!(
                        got.as_deref(),
                        Some(*value),
                        "{}: the reader must recover live subjects",
                        db.name
                    );
                }
            }
            let hashes: Vec<String> = rec
                .epoch_keys
                .iter()
                .map(|k| hash_with(k, "ip", "203.0.113.7"))
                .collect();
            assert!(
                hashes.contains(&now_hash),
                "{}: the live epoch key is recovered",
                db.name
            );
            assert!(
                !hashes.contains(&old_hash),
                "{}: the forgotten epoch key was recovered",
                db.name
            );

            // With a copy of the key file from before the shred, the remnants
            // in PostgreSQL's log and dead tuples open again: the documented
            // limit. SQLite's secure_delete leaves no remnant in the file.
            let old = read_v2(&raw, pg, &backup_of_key_file, 8, &subjects, &epochs);
            let (_, r, value, sealed) = &copies[1];
            let got = opens(&old, &gone, r, "pan", sealed);
            let hashes: Vec<String> = old
                .epoch_keys
                .iter()
                .map(|k| hash_with(k, "ip", "203.0.113.7"))
                .collect();
            if pg {
                assert_eq!(
                    got.as_deref(),
                    Some(*value),
                    "postgres: the old key file opens the log's remnants"
                );
                assert!(hashes.contains(&old_hash));
            } else {
                assert_eq!(
                    got, None,
                    "sqlite: secure_delete left a remnant of the shredded key"
                );
                assert!(
                    !hashes.contains(&old_hash),
                    "sqlite: secure_delete left the forgotten epoch key"
                );
            }
        }
    });
}

/// Puts three subjects in one group, lets `interrupt` leave the state a
/// killed process would, shreds `victim`, and checks the raw files with the
/// current key file: the victim's value is gone, the others' recovered.
async fn shred_after(db: &Db, interrupt: impl AsyncFnOnce(&Vault, &str, &str)) {
    let vault: Vault = db.vault().await;
    let (first, victim, bystander) = (unique("first"), unique("victim"), unique("bystander"));
    let mut copies = Vec::new();
    for (subject, value) in [
        (&first, "ABCPE1111F"),
        (&victim, "ABCPE2222F"),
        (&bystander, "ABCPE3333F"),
    ] {
        copies.push(put_keeping_a_copy(&vault, subject, value).await);
    }
    interrupt(&vault, &first, &victim).await;
    vault.shred(&victim).await.expect("shred");
    let raw = raw_files(db).await;
    let key_file = std::fs::read_to_string(db.key_path()).expect("key file");
    let subjects = [first.as_str(), victim.as_str(), bystander.as_str()];
    let rec = read_v2(
        &raw,
        db.pg_database.is_some(),
        &key_file,
        12,
        &subjects,
        &[],
    );
    let (_, r, _, sealed) = &copies[1];
    assert_eq!(
        opens(&rec, &victim, r, "pan", sealed),
        None,
        "{}: the victim's value was recovered",
        db.name
    );
    let (_, r, value, sealed) = &copies[2];
    assert_eq!(
        opens(&rec, &bystander, r, "pan", sealed).as_deref(),
        Some(*value),
        "{}: the reader must recover the bystander",
        db.name
    );
}

/// Review of issue 7: a move of the group's members to a new key that was
/// rolled back (a process killed before its commit) leaves the victim's key
/// wrapped under the replacement in PostgreSQL's dead tuples; shredding
/// them must destroy the replacement too.
#[test]
fn a_rolled_back_group_move_leaves_nothing_of_a_subject_shredded_next() {
    rt().block_on(async {
        for db in databases().await {
            shred_after(&db, async |vault: &Vault, first: &str, victim: &str| {
                vault
                    .shred_first_step_for_test(first)
                    .await
                    .expect("first step");
                vault
                    .aborted_move_for_test(victim)
                    .await
                    .expect("aborted move");
            })
            .await;
        }
    });
}

/// Review of issue 7: a re-wrap under a newer master version that was
/// rolled back leaves the group key under that version in PostgreSQL's dead
/// tuples; the destruction after a shred must take every version, not only
/// the one the group's committed row names.
#[test]
fn a_rolled_back_rewrap_leaves_nothing_of_a_subject_shredded_next() {
    rt().block_on(async {
        for db in databases().await {
            shred_after(&db, async |vault: &Vault, _: &str, victim: &str| {
                vault.rotate().await.expect("rotate");
                vault
                    .aborted_rewrap_for_test(victim)
                    .await
                    .expect("aborted rewrap");
            })
            .await;
        }
    });
}

/// The defect itself, in a file privctl 0.1 wrote: with that release's
/// key file, the reader recovers the Aadhaar number of user-3, whom it
/// "shredded". After the upgrade (which destroys every master version of a
/// vault that shredded anyone), the current key file recovers nothing of
/// theirs from the very same bytes.
#[test]
fn privctl_0_1_left_a_shredded_aadhaar_recoverable_and_the_upgrade_ends_it() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/v1");
    let v1_keys = std::fs::read_to_string(fixture.join("vault.keys")).expect("keys");
    let raw = std::fs::read(fixture.join("vault.db")).expect("db");
    // user-3's Aadhaar, the fourth value of the fixture.
    let line = std::fs::read_to_string(fixture.join("refs.jsonl")).expect("refs");
    let line = line.lines().nth(3).expect("user-3's line");
    assert!(line.contains("\"subject\":\"user-3\""), "{line}");
    let start = line.find("ref_").expect("reference");
    let reference = &line[start..start + 30];

    // Version 1: data keys wrapped under a master version directly.
    let windows = windows(&raw, false);
    let mut tries = Vec::new();
    for (v, m) in masters(&v1_keys) {
        let mut aad = b"privctl/vault/data-key/v1\0".to_vec();
        aad.extend_from_slice(&v.to_be_bytes());
        aad.extend_from_slice(b"user-3");
        tries.push((m, aad, "user-3".to_owned()));
    }
    let rec = Recovered {
        data_keys: scan(&windows, &tries),
        epoch_keys: Vec::new(),
    };
    let sealed_in_file: Vec<&[u8]> = (0..raw.len().saturating_sub(45))
        .filter(|&i| raw[i] == 1)
        .map(|i| &raw[i..i + 45])
        .collect();
    let plain = sealed_in_file
        .iter()
        .find_map(|s| opens(&rec, "user-3", reference, "aadhaar", s));
    assert_eq!(
        plain.as_deref(),
        Some("999988887779"),
        "the 0.1 file leaks the shredded Aadhaar"
    );

    rt().block_on(async {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::copy(fixture.join("vault.db"), dir.path().join("vault.db")).expect("copy");
        let keys = dir.path().join("vault.keys");
        std::fs::write(&keys, &v1_keys).expect("copy keys");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        }
        let url = format!("sqlite:{}", dir.path().join("vault.db").display());
        let store = privctl_vault::Store::open(&url).await.expect("store");
        let vault = Vault::open(store, privctl_vault::Keys::from_file(&keys).expect("keys"))
            .await
            .expect("upgrade");
        vault.resume().await.expect("destroy 0.1's master versions");
        let now_keys = std::fs::read_to_string(&keys).expect("keys");
        assert!(
            !now_keys.contains("master 1 ") && !now_keys.contains("master 2 "),
            "versions 1 and 2 destroyed"
        );
        let mut tries = Vec::new();
        for (v, m) in masters(&now_keys) {
            let mut aad = b"privctl/vault/data-key/v1\0".to_vec();
            aad.extend_from_slice(&v.to_be_bytes());
            aad.extend_from_slice(b"user-3");
            tries.push((m, aad, "user-3".to_owned()));
        }
        assert!(
            scan(&windows, &tries).is_empty(),
            "the current key file opens no 0.1 remnant"
        );
        // 0.1 keyed its blind indexes with the key file's index key, and
        // copies of user-3's stay in free pages: with the old index key
        // they link the person to the number; the upgrade replaced it.
        let blind = |key_file: &str| {
            let hex = key_file
                .lines()
                .find_map(|l| l.strip_prefix("index "))
                .expect("index key")
                .trim()
                .to_owned();
            let key: [u8; 32] = unhex(&hex).try_into().expect("32 bytes");
            hash_with(&key, "aadhaar", "999988887779")
        };
        let upgraded = std::fs::read(dir.path().join("vault.db")).expect("db");
        let contains =
            |hay: &[u8], needle: &str| hay.windows(needle.len()).any(|w| w == needle.as_bytes());
        assert!(
            contains(&upgraded, &blind(&v1_keys)),
            "the 0.1 remnant is in the file (the check can fail)"
        );
        assert!(
            !contains(&upgraded, &blind(&now_keys)),
            "the current index key links user-3 to the number"
        );
    });
}
