//! The encrypt operator through the real binary: `privctl redact` seals
//! values with the vault's keys and `privctl reveal` opens them, on text,
//! JSON Lines and CSV; tampered, moved and shredded tokens are refused.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::util::{names_in, privctl, repo_root, run};

struct Vault {
    dir: tempfile::TempDir,
}

impl Vault {
    fn new() -> Self {
        let v = Vault {
            dir: tempfile::tempdir().expect("dir"),
        };
        let (code, _, err) = run(&mut v.cmd(&["vault", "init"]));
        assert_eq!(code, 0, "{err}");
        v
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = privctl();
        c.args(args)
            .current_dir(self.dir.path())
            .env(
                "PRIVCTL_VAULT_DB",
                format!("sqlite:{}", self.path("vault.db").display()),
            )
            .env("PRIVCTL_VAULT_KEY_FILE", self.path("vault.keys"))
            .env_remove("PRIVCTL_VAULT_KEYS");
        c
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    /// `privctl ARGS FILE`, which must succeed; its standard output.
    fn ok(&self, args: &[&str], file: &Path) -> String {
        let (code, out, err) = run(self.cmd(args).arg(file));
        assert_eq!(code, 0, "privctl {args:?}: {err}");
        out
    }

    /// `privctl ARGS FILE`, which must fail with exit 2; its standard error.
    fn refused(&self, args: &[&str], file: &Path) -> String {
        let (code, out, err) = run(self.cmd(args).arg(file));
        assert_eq!(code, 2, "privctl {args:?} should fail: {out}{err}");
        err
    }
}

const VALUES: [&str; 4] = [
    "ana@example.com",
    "4111 1111 1111 1111",
    "AKIAIOSFODNN7EXAMPLE",
    "li.wei+test@example.org",
];

fn assert_sealed(out: &str) {
    for v in VALUES {
        assert!(!out.contains(v), "{v} left in {out}");
    }
    assert!(out.contains(":sealed:AQ"), "{out}");
}

#[test]
fn encrypt_round_trips_through_redact_and_reveal_on_text_jsonl_and_csv() {
    let v = Vault::new();
    let enc = ["redact", "--operator", "encrypt"];

    let text = format!(
        "mail {} card {}\nkey {} nothing here\n\n{} end",
        VALUES[0], VALUES[1], VALUES[2], VALUES[3]
    );
    let sealed = v.ok(&enc, &v.write("in.txt", &text));
    assert_sealed(&sealed);
    // Sealing is randomised: the same value gives another token each time.
    assert_ne!(sealed, v.ok(&enc, &v.path("in.txt")));
    // Text that already holds tokens is left as it is.
    let sealed_path = v.write("sealed.txt", &sealed);
    assert_eq!(v.ok(&enc, &sealed_path), sealed);
    assert_eq!(v.ok(&["reveal"], &sealed_path), text);

    let lines = [
        serde_json::json!({"user": {"email": VALUES[0]}, "messages": [{"content": format!("card {}", VALUES[1])}, {"content": VALUES[2]}]}),
        serde_json::json!({"user": {"email": VALUES[3]}, "n": 3, "messages": []}),
    ];
    let jsonl: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let sealed = v.ok(
        &["redact", "--operator", "encrypt", "--format", "jsonl"],
        &v.write("in.jsonl", &jsonl),
    );
    assert_sealed(&sealed);
    let open = v.ok(
        &["reveal", "--format", "jsonl"],
        &v.write("sealed.jsonl", &sealed),
    );
    let got: Vec<Value> = open
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(got, lines);

    let csv = format!(
        "id,email,note\n1,{},\"card {}, thanks\"\n2,{},plain\n",
        VALUES[0], VALUES[1], VALUES[3]
    );
    let sealed = v.ok(
        &["redact", "--operator", "encrypt", "--format", "csv"],
        &v.write("in.csv", &csv),
    );
    assert_sealed(&sealed);
    let open = v.ok(
        &["reveal", "--format", "csv"],
        &v.write("sealed.csv", &sealed),
    );
    assert_eq!(open, csv);
}

#[test]
fn a_policy_field_rule_seals_one_field_bound_to_its_data_type() {
    let v = Vault::new();
    // Infercast's policy, with one rule more: emails in `user.email` of
    // prompt content are sealed; everything else is a placeholder.
    let policy = std::fs::read_to_string(repo_root().join("policies/infercast.toml"))
        .expect("policy")
        .replacen(
            "[[redaction.rules]]\ndata_types = [\"prompt_content\"]",
            "[[redaction.rules]]\ndata_types = [\"prompt_content\"]\nfields = [\"user.email\"]\ndetectors = [\"email\"]\noperator = \"encrypt\"\n\n[[redaction.rules]]\ndata_types = [\"prompt_content\"]",
            1,
        );
    let policy = v.write(
        "policy.toml",
        &policy.replace("#:schema ../schema/", "#:schema ./"),
    );
    let policy = policy.to_str().expect("path");
    let line =
        serde_json::json!({"user": {"email": VALUES[0]}, "prompt": format!("mail {}", VALUES[3])});
    let args = [
        "redact",
        "--format",
        "jsonl",
        "--policy",
        policy,
        "--data-type",
        "prompt_content",
    ];
    let sealed = v.ok(&args, &v.write("in.jsonl", &format!("{line}\n")));
    let doc: Value = serde_json::from_str(sealed.trim()).expect("json");
    assert!(doc["user"]["email"]
        .as_str()
        .expect("email")
        .starts_with("[EMAIL:sealed:AQ"));
    assert_eq!(doc["prompt"], "mail [EMAIL]");
    let sealed_path = v.write("sealed.jsonl", &sealed);
    let open = v.ok(
        &[
            "reveal",
            "--format",
            "jsonl",
            "--data-type",
            "prompt_content",
        ],
        &sealed_path,
    );
    let mut expected = line.clone();
    expected["prompt"] = "mail [EMAIL]".into();
    assert_eq!(
        serde_json::from_str::<Value>(open.trim()).expect("json"),
        expected
    );
    // Sealed for prompt content, it does not open as another data type.
    let err = v.refused(
        &["reveal", "--format", "jsonl", "--data-type", "request_logs"],
        &sealed_path,
    );
    assert!(err.contains("line 1, field user.email"), "{err}");
    assert!(
        err.contains("does not open as data type \"request_logs\", field \"user.email\""),
        "{err}"
    );
}

#[test]
fn tampered_moved_and_shredded_tokens_are_refused_and_nothing_is_written() {
    let v = Vault::new();
    let sealed = v.ok(
        &["redact", "--operator", "encrypt"],
        &v.write("in.txt", &format!("mail {}\n", VALUES[0])),
    );
    let token = sealed
        .trim()
        .strip_prefix("mail ")
        .expect("token")
        .to_owned();

    // One character of the ciphertext changed.
    let body = token.len() - 5;
    let mut tampered = token.clone().into_bytes();
    tampered[body] = if tampered[body] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    let out = v.path("out.txt");
    let out_arg = out.to_str().expect("path");
    let err = v.refused(
        &["reveal", "-o", out_arg],
        &v.write("t.txt", &format!("x {tampered}\n")),
    );
    assert!(err.contains("line 1"), "{err}");
    assert!(
        err.contains("sealed token [EMAIL:sealed:…] at byte 2 does not open"),
        "{err}"
    );
    assert!(!out.exists(), "a refused reveal wrote its output");

    // Relabelled as another kind.
    let relabelled = token.replacen("[EMAIL:", "[PHONE:", 1);
    let err = v.refused(&["reveal"], &v.write("k.txt", &relabelled));
    assert!(
        err.contains("[PHONE:sealed:…] at byte 0 does not open"),
        "{err}"
    );

    // Moved to another field.
    let moved = serde_json::json!({"a": "x", "b": token}).to_string();
    let err = v.refused(
        &["reveal", "--format", "jsonl"],
        &v.write("m.jsonl", &moved),
    );
    assert!(err.contains("field b"), "{err}");
    assert!(err.contains("field \"b\""), "{err}");
    let moved = format!("a,b\n1,{token}\n");
    let err = v.refused(&["reveal", "--format", "csv"], &v.write("m.csv", &moved));
    assert!(err.contains("row 2, field b"), "{err}");

    // Sealed for a subject, then the subject is crypto-shredded.
    let mine = v.ok(
        &["redact", "--operator", "encrypt", "--subject", "user-1"],
        &v.path("in.txt"),
    );
    let theirs = v.ok(
        &["redact", "--operator", "encrypt", "--subject", "user-2"],
        &v.path("in.txt"),
    );
    let mine = v.write("mine.txt", &mine);
    let theirs = v.write("theirs.txt", &theirs);
    assert_eq!(v.ok(&["reveal"], &mine), format!("mail {}\n", VALUES[0]));
    let (code, _, err) = run(&mut v.cmd(&["vault", "shred", "--subject", "user-1"]));
    assert_eq!(code, 0, "{err}");
    let err = v.refused(&["reveal"], &mine);
    assert!(err.contains("crypto-shredded"), "{err}");
    assert_eq!(v.ok(&["reveal"], &theirs), format!("mail {}\n", VALUES[0]));
    // Tokens under the vault's own key outlive the shred.
    assert_eq!(
        v.ok(&["reveal"], &v.path("in.txt")),
        format!("mail {}\n", VALUES[0])
    );
    assert_eq!(
        v.ok(&["reveal"], &v.write("s.txt", &sealed)),
        format!("mail {}\n", VALUES[0])
    );
    // A shredded subject takes no new tokens.
    let err = v.refused(
        &["redact", "--operator", "encrypt", "--subject", "user-1"],
        &v.path("in.txt"),
    );
    assert!(err.contains("user-1"), "{err}");
    assert!(names_in(v.dir.path())
        .iter()
        .all(|n| !n.starts_with(".tmp")));
}

#[test]
fn the_encrypt_operator_without_a_vault_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("dir");
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "mail ana@example.com\n").expect("write");
    let (code, out, err) = run(privctl()
        .args(["redact", "--operator", "encrypt"])
        .arg(&input)
        .current_dir(dir.path())
        .env(
            "PRIVCTL_VAULT_DB",
            format!("sqlite:{}", dir.path().join("none.db").display()),
        )
        .env("PRIVCTL_VAULT_KEY_FILE", dir.path().join("none.keys"))
        .env_remove("PRIVCTL_VAULT_KEYS"));
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty());
    assert!(
        err.contains("opening the vault the encrypt operator seals with"),
        "{err}"
    );
    // --subject without anything to seal is a usage error.
    let (code, _, err) = run(privctl().args(["redact", "--subject", "u1"]).arg(&input));
    assert_eq!(code, 2);
    assert!(err.contains("--subject chooses whose key"), "{err}");
}
