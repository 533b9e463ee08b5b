//! `privctl vault` and `privctl hash` through the real binary: on SQLite,
//! and the concurrency test on PostgreSQL as well under scripts/with-postgres.
//! Tests that pin a defect of issue 7 say so.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::util::{names_in, privctl, run};

struct Env {
    dir: tempfile::TempDir,
    db: String,
}

impl Env {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("dir");
        let db = format!("sqlite:{}", dir.path().join("vault.db").display());
        Env { dir, db }
    }

    fn keys(&self) -> PathBuf {
        self.dir.path().join("keys")
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = privctl();
        c.args(args)
            .env("PRIVCTL_VAULT_DB", &self.db)
            .env("PRIVCTL_VAULT_KEY_FILE", self.keys())
            .env_remove("PRIVCTL_VAULT_KEYS");
        c
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        run(&mut self.cmd(args))
    }

    fn put(&self, subject: &str, kind: &str, value: &str) -> String {
        let (code, out, err) = self.run(&[
            "vault",
            "put",
            "--json",
            "--subject",
            subject,
            "--kind",
            kind,
            value,
        ]);
        assert_eq!(code, 0, "put {subject}: {err}");
        let v: Value = serde_json::from_str(&out).expect("json");
        v["reference"].as_str().expect("reference").to_owned()
    }

    fn key_versions(&self) -> Vec<u32> {
        std::fs::read_to_string(self.keys())
            .expect("key file")
            .lines()
            .filter_map(|l| l.strip_prefix("master "))
            .filter_map(|l| l.split(' ').next()?.parse().ok())
            .collect()
    }
}

#[test]
fn seal_find_rotate_rewrap_retire_shred() {
    let env = Env::new();
    assert_eq!(env.run(&["vault", "init"]).0, 0);
    let keys = std::fs::read_to_string(env.keys()).expect("key file");
    let (code, out, _) = env.run(&[
        "vault",
        "put",
        "--json",
        "--subject",
        "u1",
        "--kind",
        "aadhaar",
        "2345 6789 0124",
    ]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).expect("json");
    let reference = v["reference"].as_str().expect("reference").to_owned();
    assert_eq!(v["masked"], "XXXX XXXX 0124");
    assert_eq!(
        env.run(&["vault", "get", &reference]).1.trim(),
        "XXXX XXXX 0124"
    );
    assert_eq!(
        env.run(&["vault", "get", "--reveal", &reference]).1.trim(),
        "234567890124"
    );
    let (code, out, _) = env.run(&["vault", "find", "--kind", "aadhaar", "234567890124"]);
    assert_eq!((code, out.trim()), (0, format!("{reference} u1").as_str()));
    assert_eq!(
        env.run(&["vault", "find", "--kind", "aadhaar", "999988887779"])
            .0,
        1,
        "nothing found exits 1"
    );
    assert_eq!(env.run(&["vault", "rotate"]).0, 0);
    let (code, _, err) = env.run(&["vault", "rotate", "--retire", "1"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("master key version 1 still wraps 1 group key(s) and 0 epoch key(s)"),
        "{err}"
    );
    let (_, out, _) = env.run(&["vault", "rewrap"]);
    assert!(
        out.contains("re-wrapped 1 group and epoch key(s) under master key version 2"),
        "{out}"
    );
    assert_eq!(env.run(&["vault", "rotate", "--retire", "1"]).0, 0);
    assert_eq!(env.key_versions(), [2]);
    assert_eq!(
        env.run(&["vault", "get", "--reveal", &reference]).1.trim(),
        "234567890124"
    );
    let (code, out, err) = env.run(&["vault", "shred", "--subject", "u1"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("crypto-shredded u1: 1 value(s) can no longer be read"),
        "{out}"
    );
    assert_eq!(
        env.key_versions(),
        [3],
        "the master version that wrapped u1's group is destroyed"
    );
    let (code, _, err) = env.run(&["vault", "get", &reference]);
    assert_eq!(code, 2);
    assert!(
        err.contains("belonged to a crypto-shredded subject"),
        "{err}"
    );
    let (code, _, _) = env.run(&["vault", "find", "--kind", "aadhaar", "234567890124"]);
    assert_eq!(code, 1, "the blind index is gone with the subject");
    // No command ever printed key material.
    for line in keys.lines().filter(|l| !l.starts_with('#')) {
        let hex = line.rsplit(' ').next().expect("hex");
        for args in [["vault", "rewrap"], ["vault", "rotate"]] {
            let (_, out, err) = env.run(&args);
            assert!(!out.contains(hex) && !err.contains(hex));
        }
    }
}

#[test]
fn invalid_identifiers_and_missing_keys_change_nothing() {
    let env = Env::new();
    let (code, _, err) = env.run(&[
        "vault",
        "put",
        "--subject",
        "u",
        "--kind",
        "pan",
        "ABCXE1234F",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("invalid pan"), "{err}");
    let (code, _, err) = env.run(&["vault", "get", "ref_x"]);
    assert_eq!(code, 2);
    assert!(err.contains("run `privctl vault init`"), "{err}");
    assert!(
        !env.dir.path().join("vault.db").exists(),
        "nothing was created"
    );
    assert_eq!(env.run(&["vault", "init"]).0, 0);
    let (code, _, err) = env.run(&["vault", "init"]);
    assert_eq!(code, 2);
    assert!(err.contains("already"), "{err}");
    let (code, _, err) = env.run(&[
        "vault",
        "put",
        "--subject",
        "u",
        "--kind",
        "aadhaar",
        "2345 6789 0123",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("the Verhoeff check digit does not match"),
        "{err}"
    );
}

#[test]
fn hashes_of_ips_and_api_keys() {
    let env = Env::new();
    assert_eq!(env.run(&["vault", "init"]).0, 0);
    let (_, a, _) = env.run(&["hash", "ip", "::ffff:203.0.113.7"]);
    let (_, b, _) = env.run(&["hash", "ip", "203.0.113.7"]);
    assert_eq!(a, b);
    assert_eq!(a.trim().len(), 64);
    let (code, out, _) = env.run(&["hash", "forget", "--purpose", "ip", "--before", "999999"]);
    assert_eq!(
        (code, out.trim()),
        (0, "destroyed 1 ip epoch key(s) before epoch 999999")
    );
    assert_eq!(
        env.key_versions(),
        [2],
        "forgetting destroys the version that wrapped the epoch key"
    );
    let (_, c, _) = env.run(&["hash", "ip", "203.0.113.7"]);
    assert_ne!(a, c, "a forgotten epoch's hashes are unlinkable");
    let (code, _, err) = env.run(&["hash", "ip", "999.1.1.1"]);
    assert_eq!(code, 2);
    assert!(err.contains("is not an IP address"), "{err}");
    let (_, digest, _) = env.run(&["hash", "apikey", "sk_live_abc"]);
    assert_eq!(
        digest.trim(),
        "b2817799acd7f3337c32f967a7c4ca32a767c94190298bace3e0447120385c09"
    );
    assert_eq!(
        env.run(&["hash", "apikey", "--verify", digest.trim(), "sk_live_abc"])
            .0,
        0
    );
    assert_eq!(
        env.run(&["hash", "apikey", "--verify", digest.trim(), "sk_live_abd"])
            .0,
        1
    );
}

/// Issue 7: a malformed digest given to `hash apikey --verify` was "no
/// match"; empty API keys, fingerprints and subjects were accepted.
#[test]
fn malformed_digests_and_empty_values_are_usage_errors() {
    let env = Env::new();
    assert_eq!(env.run(&["vault", "init"]).0, 0);
    for digest in ["abc", &"z".repeat(64), &"a".repeat(65)] {
        let (code, out, err) = env.run(&["hash", "apikey", "--verify", digest, "sk_live_abc"]);
        assert_eq!(code, 2, "{digest}: {out}{err}");
        assert!(err.contains("64 hexadecimal digits"), "{err}");
    }
    for (args, says) in [
        (vec!["hash", "apikey", ""], "the API key is empty"),
        (
            vec!["hash", "apikey", "--verify", &"a".repeat(64), " "],
            "the API key is empty",
        ),
        (
            vec!["hash", "device", ""],
            "the device fingerprint is empty",
        ),
        (
            vec![
                "vault",
                "put",
                "--subject",
                "",
                "--kind",
                "pan",
                "ABCPE1234F",
            ],
            "invalid subject: it is empty",
        ),
        (
            vec!["vault", "shred", "--subject", ""],
            "invalid subject: it is empty",
        ),
    ] {
        let (code, _, err) = env.run(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// Issue 7: every input is read with a limit that fits it; a value on
/// standard input is a few bytes, not whatever `/dev/zero` gives.
#[test]
fn values_on_standard_input_are_read_with_a_limit() {
    let env = Env::new();
    assert_eq!(env.run(&["vault", "init"]).0, 0);
    for args in [
        vec!["vault", "put", "--subject", "u", "--kind", "pan"],
        vec!["vault", "find", "--kind", "pan"],
        vec!["hash", "apikey"],
    ] {
        let zero = std::fs::File::open("/dev/zero").expect("/dev/zero");
        let (code, _, err) = run(env.cmd(&args).stdin(zero));
        assert_eq!(code, 2, "{args:?}");
        assert!(err.contains("more than 4096 bytes"), "{args:?}: {err}");
    }
}

/// Issue 7: `vault rotate` with keys from PRIVCTL_VAULT_KEYS wrote them over
/// an unrelated `--key-file`, destroying another vault's keys.
#[test]
fn keys_from_the_environment_are_never_written_to_a_key_file() {
    let env = Env::new();
    assert_eq!(env.run(&["vault", "init"]).0, 0);
    let text = std::fs::read_to_string(env.keys()).expect("keys");
    let reference = env.put("u1", "pan", "ABCPE1234F");
    let other = env.dir.path().join("another-vaults.keys");
    std::fs::write(&other, "someone else's keys").expect("write");
    let with_env = |args: &[&str]| {
        let mut c = privctl();
        c.args(args)
            .env("PRIVCTL_VAULT_DB", &env.db)
            .env("PRIVCTL_VAULT_KEYS", &text)
            .env_remove("PRIVCTL_VAULT_KEY_FILE");
        c
    };
    let (code, _, err) = run(with_env(&["vault", "rotate", "--key-file"]).arg(&other));
    assert_eq!(code, 2);
    assert!(err.contains("the keys are given twice"), "{err}");
    for args in [
        vec!["vault", "rotate"],
        vec!["vault", "rotate", "--retire", "1"],
        vec!["vault", "shred", "--subject", "u1"],
        vec!["hash", "forget", "--purpose", "ip"],
    ] {
        let (code, _, err) = run(&mut with_env(&args));
        assert_eq!(code, 2, "{args:?}");
        assert!(
            err.contains("given in memory (PRIVCTL_VAULT_KEYS), which privctl never writes"),
            "{args:?}: {err}"
        );
    }
    let (code, out, _) = run(&mut with_env(&["vault", "get", "--reveal", &reference]));
    assert_eq!(
        (code, out.trim()),
        (0, "ABCPE1234F"),
        "reading with them works"
    );
    assert_eq!(
        std::fs::read_to_string(&other).expect("other"),
        "someone else's keys"
    );
    assert_eq!(std::fs::read_to_string(env.keys()).expect("keys"), text);
}

/// Issue 7: a key file readable by group or others was accepted silently.
#[cfg(unix)]
#[test]
fn a_key_file_others_can_read_is_refused_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    assert_eq!(env.run(&["vault", "init"]).0, 0);
    let mode = std::fs::metadata(env.keys())
        .expect("keys")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "init writes it owner-only");
    std::fs::set_permissions(env.keys(), std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let (code, _, err) = env.run(&["hash", "ip", "203.0.113.7"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("is readable by group or others (mode 644)"),
        "{err}"
    );
    assert!(
        err.contains(&format!("hint: chmod 600 {}", env.keys().display())),
        "{err}"
    );
}

/// Issue 7: `vault init` with a new key file over a populated database
/// succeeded, and later reported the wrong key as tampering.
#[test]
fn init_over_a_populated_database_is_refused() {
    let env = Env::new();
    assert_eq!(env.run(&["vault", "init"]).0, 0);
    env.put("u1", "pan", "ABCPE1234F");
    let fresh = env.dir.path().join("fresh.keys");
    let (code, _, err) = run(env.cmd(&["vault", "init", "--key-file"]).arg(&fresh));
    assert_eq!(code, 2);
    assert!(err.contains("already holds a vault"), "{err}");
    assert!(!fresh.exists());
    // A key file of another vault is named for what it is.
    let other = Env::new();
    assert_eq!(other.run(&["vault", "init"]).0, 0);
    let (code, _, err) = run(env
        .cmd(&["vault", "get", "ref_x", "--key-file"])
        .arg(other.keys()));
    assert_eq!(code, 2);
    assert!(
        err.contains("these keys do not belong to this vault"),
        "{err}"
    );
}

/// Issue 7: `--db sqlite:PATH` for a new file failed with SQLite's "(code:
/// 14) unable to open database file".
#[test]
fn a_new_sqlite_file_is_created_by_init_and_other_commands_say_how() {
    let env = Env::new();
    let nested = env.dir.path().join("new/dir/v.db");
    let url = format!("sqlite:{}", nested.display());
    let (code, _, err) = env.run(&["vault", "get", "ref_x", "--db", &url]);
    assert_eq!(code, 2);
    assert!(
        err.contains("does not exist") && err.contains("privctl vault init"),
        "{err}"
    );
    assert!(!err.contains("code: 14"), "{err}");
    let (code, _, err) = env.run(&["vault", "init", "--db", &url]);
    assert_eq!(code, 0, "{err}");
    assert!(nested.exists());
    let (code, _, err) = env.run(&[
        "vault",
        "get",
        "ref_x",
        "--db",
        "postgres://u:s3cr3t@127.0.0.1:1/v",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("cannot connect to store vault at postgres://u:***@127.0.0.1:1/v"),
        "{err}"
    );
    assert!(
        err.to_lowercase().contains("refused") && !err.contains("s3cr3t"),
        "{err}"
    );
}

/// Issue 7: `vault` and `hash` panicked (exit 101) when stdout was closed or
/// full, after `vault put` had committed: the reference was lost.
#[cfg(unix)]
#[test]
fn output_errors_never_panic_and_a_stored_reference_is_not_lost() {
    let env = Env::new();
    assert_eq!(env.run(&["vault", "init"]).0, 0);
    let reference = env.put("u0", "pan", "ABCPE1234F");
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full")
    };
    let (code, _, err) = run(env
        .cmd(&[
            "vault",
            "put",
            "--subject",
            "u1",
            "--kind",
            "pan",
            "ABCPE9999F",
        ])
        .stdout(full()));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("the change was committed") && err.contains("ref_"),
        "{err}"
    );
    let stored = err
        .split_whitespace()
        .find(|w| w.starts_with("ref_"))
        .expect("reference on stderr");
    assert_eq!(
        env.run(&["vault", "get", "--reveal", stored]).1.trim(),
        "ABCPE9999F"
    );
    for args in [
        vec!["vault", "get", &reference],
        vec!["vault", "find", "--kind", "pan", "ABCPE1234F"],
        vec!["hash", "ip", "203.0.113.7"],
        vec!["hash", "apikey", "k"],
        vec!["vault", "rotate"],
    ] {
        let (code, _, err) = run(env.cmd(&args).stdout(full()));
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    // A closed pipe: reading commands end quietly, as `| head` expects.
    let mut child = env
        .cmd(&["vault", "get", &reference])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    assert_ne!(
        out.status.code(),
        Some(101),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fresh PostgreSQL database for the concurrency test, if the run has a
/// server (and a failure, not a skip, if CI requires one).
fn postgres_database() -> Option<String> {
    let admin = match std::env::var("PRIVCTL_TEST_POSTGRES_URL") {
        Ok(url) => url,
        Err(_) => {
            assert!(
                std::env::var_os("PRIVCTL_REQUIRE_SERVERS").is_none(),
                "PRIVCTL_REQUIRE_SERVERS is set but PRIVCTL_TEST_POSTGRES_URL is not: run under scripts/with-postgres"
            );
            return None;
        }
    };
    let name = format!(
        "cli_{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&admin).await.expect("admin");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&pool)
            .await
            .expect("create database");
    });
    Some(format!(
        "{}/{name}",
        &admin[..admin.rfind('/').expect("database")]
    ))
}

/// Issue 7: concurrent `vault rotate` calls lost versions and made 14 of 40
/// values unreadable for good. Many processes rotate, put, re-wrap, hash and
/// shred at once, some are killed midway; afterwards every value not
/// shredded opens, every shredded one does not, and no copy of the keys is
/// left beside the key file.
#[test]
fn many_processes_at_once_lose_nothing_and_shred_everything_they_should() {
    let mut envs = vec![Env::new()];
    if let Some(url) = postgres_database() {
        let mut pg = Env::new();
        pg.db = url;
        envs.push(pg);
    }
    for env in envs {
        assert_eq!(env.run(&["vault", "init"]).0, 0);
        let pan = |i: usize| format!("ABCPE{:04}F", 1000 + i);
        let mut kept: Vec<(String, String)> = Vec::new();
        let mut doomed: Vec<String> = Vec::new();
        for i in 0..24 {
            let r = env.put(&format!("s{i}"), "pan", &pan(i));
            if i < 8 {
                doomed.push(r);
            } else {
                kept.push((r, pan(i)));
            }
        }
        let spawn = |args: Vec<String>| -> Child {
            env.cmd(&args.iter().map(String::as_str).collect::<Vec<_>>())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        };
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<String>>();
        let mut jobs: Vec<(Vec<String>, Child)> = Vec::new();
        let mut killed: Vec<Child> = Vec::new();
        for round in 0..3 {
            for i in 0..6 {
                let n = round * 6 + i;
                let args = s(&[
                    "vault",
                    "put",
                    "--json",
                    "--subject",
                    &format!("n{n}"),
                    "--kind",
                    "pan",
                    &pan(100 + n),
                ]);
                jobs.push((args.clone(), spawn(args)));
            }
            jobs.push((s(&["vault", "rotate"]), spawn(s(&["vault", "rotate"]))));
            jobs.push((s(&["vault", "rewrap"]), spawn(s(&["vault", "rewrap"]))));
            jobs.push((
                s(&["hash", "ip", "203.0.113.7"]),
                spawn(s(&["hash", "ip", "203.0.113.7"])),
            ));
            for i in 0..2 {
                let who = format!("s{}", round * 2 + i);
                jobs.push((
                    s(&["vault", "shred", "--subject", &who]),
                    spawn(s(&["vault", "shred", "--subject", &who])),
                ));
                // A put racing the shred of the same subject.
                let args = s(&[
                    "vault",
                    "put",
                    "--json",
                    "--subject",
                    &who,
                    "--kind",
                    "pan",
                    &pan(500 + round),
                ]);
                jobs.push((args.clone(), spawn(args)));
            }
            killed.push(spawn(s(&["vault", "rotate"])));
            killed.push(spawn(s(&[
                "vault",
                "shred",
                "--subject",
                &format!("s{}", 6 + round % 2),
            ])));
        }
        std::thread::sleep(std::time::Duration::from_millis(40));
        for mut k in killed {
            let _ = k.kill();
            let _ = k.wait();
        }
        let mut racing_refs = Vec::new();
        for (args, child) in jobs {
            let out = child.wait_with_output().expect("wait");
            let (code, stdout, stderr) = (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            );
            let subject = args
                .iter()
                .position(|a| a == "--subject")
                .map(|i| args[i + 1].clone());
            let racing = args[1] == "put" && subject.as_deref().is_some_and(|s| s.starts_with('s'));
            if racing && code == 2 {
                assert!(
                    stderr.contains("was crypto-shredded"),
                    "{}: {args:?}: {stderr}",
                    env.db
                );
                continue;
            }
            assert_eq!(code, 0, "{}: {args:?}: {stderr}", env.db);
            if args[1] == "put" {
                let v: Value = serde_json::from_str(&stdout).expect("json");
                let r = v["reference"].as_str().expect("reference").to_owned();
                if racing {
                    racing_refs.push(r);
                } else {
                    let i: usize = subject.expect("subject")[1..].parse().expect("n");
                    kept.push((r, pan(100 + i)));
                }
            }
        }
        // The killed shreds, run again, complete.
        for who in ["s6", "s7"] {
            let (code, _, err) = env.run(&["vault", "shred", "--subject", who]);
            assert_eq!(code, 0, "{err}");
        }
        for (r, value) in &kept {
            let (code, out, err) = env.run(&["vault", "get", "--reveal", r]);
            assert_eq!(
                (code, out.trim()),
                (0, value.as_str()),
                "{}: {r}: {err}",
                env.db
            );
        }
        for r in doomed.iter().chain(&racing_refs) {
            let (code, _, err) = env.run(&["vault", "get", r]);
            assert_eq!(code, 2, "{}: {r} outlived its shred", env.db);
            assert!(err.contains("crypto-shredded"), "{err}");
        }
        let (code, out, _) = env.run(&["vault", "find", "--json", "--kind", "pan", &pan(0)]);
        assert_eq!(
            (code, out.trim()),
            (1, "[]"),
            "{}: a shredded subject is found",
            env.db
        );
        let mut left = names_in(env.dir.path());
        left.retain(|n| n != "vault.db" && n != "vault.db-journal");
        assert_eq!(
            left,
            ["keys", "keys.lock"],
            "{}: copies of the keys left behind",
            env.db
        );
    }
}

/// Issue 7: error messages echoed raw control and bidirectional characters
/// from their input, so an argument could forge a line or reorder the text.
#[test]
fn control_and_bidi_characters_in_arguments_are_escaped_in_errors() {
    let env = Env::new();
    assert_eq!(env.run(&["vault", "init"]).0, 0);
    let (code, _, err) = env.run(&["vault", "get", "ref_\u{1b}[2J\u{202e}x\nprivctl: forged"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        !err.contains('\u{1b}') && !err.contains('\u{202e}'),
        "{err:?}"
    );
    assert!(
        err.contains(r"ref_\u{1b}[2J\u{202e}x\u{a}privctl: forged"),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.starts_with("privctl:")).count(),
        1,
        "{err}"
    );
    let (code, _, err) = env.run(&["hash", "ip", "1.2.3.4\u{200f}"]);
    assert_eq!(code, 2);
    assert!(
        err.contains(r#""1.2.3.4\u{200f}" is not an IP address"#),
        "{err}"
    );
}
