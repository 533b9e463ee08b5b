//! `privctl vault` and `privctl hash` through the real binary, on SQLite.

use serde_json::Value;

use crate::util::{privctl, run};

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        Env {
            dir: tempfile::tempdir().expect("dir"),
        }
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let db = format!(
            "sqlite:{}?mode=rwc",
            self.dir.path().join("vault.db").display()
        );
        run(privctl()
            .args(args)
            .env("PRIVCTL_VAULT_DB", db)
            .env("PRIVCTL_VAULT_KEY_FILE", self.dir.path().join("keys"))
            .env_remove("PRIVCTL_VAULT_KEYS"))
    }
}

#[test]
fn seal_find_rotate_rewrap_retire_shred() {
    let env = Env::new();
    assert_eq!(env.run(&["vault", "init"]).0, 0);
    let keys = std::fs::read_to_string(env.dir.path().join("keys")).expect("key file");
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
        err.contains("master key version 1 still wraps 1 data key(s)"),
        "{err}"
    );
    assert!(env
        .run(&["vault", "rewrap"])
        .1
        .contains("re-wrapped 1 data key(s) under master key version 2"));
    assert_eq!(env.run(&["vault", "rotate", "--retire", "1"]).0, 0);
    assert_eq!(
        env.run(&["vault", "get", "--reveal", &reference]).1.trim(),
        "234567890124"
    );
    assert_eq!(env.run(&["vault", "shred", "--subject", "u1"]).0, 0);
    let (code, _, err) = env.run(&["vault", "get", &reference]);
    assert_eq!(code, 2);
    assert!(err.contains("was crypto-shredded"), "{err}");
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
    assert!(err.contains("run `privctl vault init` first"), "{err}");
    assert!(
        !env.dir.path().join("vault.db").exists(),
        "nothing was created"
    );
    assert_eq!(env.run(&["vault", "init"]).0, 0);
    let (code, _, err) = env.run(&["vault", "init"]);
    assert_eq!(code, 2);
    assert!(err.contains("refusing to overwrite keys"), "{err}");
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
    let (_, c, _) = env.run(&["hash", "ip", "203.0.113.7"]);
    assert_ne!(a, c, "a forgotten epoch's hashes are unlinkable");
    let (code, out, _) = env.run(&["hash", "forget", "--purpose", "ip", "--before", "999999"]);
    assert_eq!(
        (code, out.trim()),
        (0, "destroyed 1 ip epoch key(s) before epoch 999999")
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
