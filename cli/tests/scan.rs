//! `privctl scan` and `privctl redact` through the real binary.

use std::io::Write;
use std::process::Stdio;

use serde_json::Value;

use crate::util::{names_in, privctl, repo_root, run};

fn with_stdin(args: &[&str], input: &[u8], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = privctl();
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn");
    // The command may exit before reading (a usage error): a closed pipe is fine.
    if let Err(e) = child.stdin.take().expect("stdin").write_all(input) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "write stdin: {e}");
    }
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().expect("code"),
        String::from_utf8(out.stdout).expect("utf-8"),
        String::from_utf8(out.stderr).expect("utf-8"),
    )
}

const TEXT: &str =
    "first line\nmail ana@example.com, card 4111 1111 1111 1111\n\nkey AKIAIOSFODNN7EXAMPLE\n";

#[test]
fn scan_json_gives_whole_input_offsets_and_lines_without_values() {
    let (code, out, err) = with_stdin(&["scan", "--json"], TEXT.as_bytes(), &[]);
    assert_eq!(code, 0, "{err}");
    let rows: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let got: Vec<(String, usize, usize, u64, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["kind"].as_str().expect("kind").to_owned(),
                r["start"].as_u64().expect("start") as usize,
                r["end"].as_u64().expect("end") as usize,
                r["line"].as_u64().expect("line"),
                r["column"].as_u64().expect("column"),
            )
        })
        .collect();
    let at = |s: &str| TEXT.find(s).expect("present");
    assert_eq!(
        got,
        vec![
            ("email".to_owned(), at("ana@"), at("ana@") + 15, 2, 6),
            ("credit_card".to_owned(), at("4111"), at("4111") + 19, 2, 28),
            (
                "aws_access_key".to_owned(),
                at("AKIA"),
                at("AKIA") + 20,
                4,
                5
            ),
        ]
    );
    for (r, (_, s, e, _, _)) in rows.iter().zip(&got) {
        assert!(
            !r.to_string().contains(&TEXT[*s..*e]),
            "values are never printed"
        );
    }
    assert_eq!(err.trim(), "3 findings in 1 input");
}

#[test]
fn scan_text_and_exit_codes() {
    let (code, out, _) = with_stdin(&["scan", "--fail-on-findings"], TEXT.as_bytes(), &[]);
    assert_eq!(code, 1);
    assert_eq!(
        out,
        "-:2:6: email\n-:2:28: credit_card\n-:4:5: aws_access_key\n"
    );
    let (code, out, _) = with_stdin(&["scan", "--fail-on-findings"], b"nothing to see\n", &[]);
    assert_eq!((code, out.as_str()), (0, ""));
    let (code, out, _) = with_stdin(&["scan", "--kinds", "email"], TEXT.as_bytes(), &[]);
    assert_eq!((code, out.as_str()), (0, "-:2:6: email\n"));
}

#[test]
fn bad_input_is_refused_with_exit_two() {
    let (code, _, err) = with_stdin(&["scan"], b"ok\n\xff\xfe\n", &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("input is not UTF-8 (invalid byte at offset 3)"),
        "{err}"
    );
    let (code, _, err) = run(privctl().args(["scan", "/nonexistent/file.log"]));
    assert_eq!(code, 2);
    assert!(err.contains("cannot open /nonexistent/file.log"), "{err}");
    let (code, _, err) = with_stdin(&["scan", "--kinds", "emails"], b"x", &[]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown detector kind \"emails\""), "{err}");
    let (code, _, err) = with_stdin(
        &["redact", "--operator", "pseudonym"],
        b"ana@example.com",
        &[],
    );
    assert_eq!(code, 2);
    assert!(err.contains("the pseudonym operator needs a key"), "{err}");
}

#[test]
fn redact_streams_text_and_structured_input() {
    let (code, out, _) = with_stdin(&["redact"], TEXT.as_bytes(), &[]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "first line\nmail [EMAIL], card [CREDIT_CARD]\n\nkey [AWS_ACCESS_KEY]\n"
    );
    let (code, out, _) = with_stdin(
        &["redact", "--format", "jsonl"],
        b"{\"msg\":\"ana@example.com\",\"n\":1}\n{\"msg\":\"none\"}\n",
        &[],
    );
    assert_eq!(code, 0);
    assert_eq!(out, "{\"msg\":\"[EMAIL]\",\"n\":1}\n{\"msg\":\"none\"}\n");
    let key = [("PRIVCTL_PSEUDONYM_KEY", "0123456789abcdef0123456789abcdef")];
    let (_, a, _) = with_stdin(
        &["redact", "--operator", "pseudonym"],
        b"ana@example.com",
        &key,
    );
    let (_, b, _) = with_stdin(
        &["redact", "--operator", "pseudonym"],
        b"ana@example.com",
        &key,
    );
    assert_eq!(a, b);
    assert!(a.starts_with("[EMAIL:"), "{a}");
}

#[test]
fn redact_with_a_policy_masks_aadhaar() {
    let policy = repo_root().join("policies/inferexai.toml");
    let (code, out, err) = with_stdin(
        &["redact", "--policy", policy.to_str().expect("path")],
        b"aadhaar 2345 6789 0124 for ana@example.com\n",
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "aadhaar **** **** 0124 for [EMAIL]\n");
}

#[test]
fn output_file_appears_only_when_everything_was_redacted() {
    let dir = tempfile::tempdir().expect("dir");
    let good = dir.path().join("good.log");
    let bad = dir.path().join("bad.log");
    std::fs::write(&good, TEXT).expect("write");
    let mut bytes = TEXT.as_bytes().to_vec();
    bytes.push(0xff);
    std::fs::write(&bad, &bytes).expect("write");
    let out = dir.path().join("out.log");
    let (code, _, err) = run(privctl().args(["redact", "-o"]).arg(&out).arg(&bad));
    assert_eq!(code, 2, "{err}");
    assert!(!out.exists(), "no partial output");
    let (code, _, _) = run(privctl().args(["redact", "-o"]).arg(&out).arg(&good));
    assert_eq!(code, 0);
    assert!(std::fs::read_to_string(&out)
        .expect("output")
        .contains("[EMAIL]"));
    let leftovers = std::fs::read_dir(dir.path()).expect("dir").count();
    assert_eq!(leftovers, 3, "no temporary files left behind");
}

/// Issue 7: `redact -o PATH` renamed over whatever was at PATH; as root,
/// `-o /dev/null` replaced the system's `/dev/null` with a regular file. A
/// FIFO is written in place, and a symbolic link keeps pointing at its
/// target, which is replaced whole.
#[cfg(unix)]
#[test]
fn redact_output_replaces_only_regular_files() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().expect("dir");
    let input = dir.path().join("in.log");
    std::fs::write(&input, TEXT).expect("write");

    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).expect("read fifo"))
    };
    let (code, _, err) = run(privctl().args(["redact", "-o"]).arg(&fifo).arg(&input));
    assert_eq!(code, 0, "{err}");
    assert!(reader.join().expect("reader").contains("mail [EMAIL]"));
    let kind = std::fs::symlink_metadata(&fifo).expect("fifo").file_type();
    assert!(kind.is_fifo(), "the FIFO is still a FIFO");

    let real = dir.path().join("real.log");
    std::fs::write(&real, "old").expect("write");
    let link = dir.path().join("link.log");
    std::os::unix::fs::symlink(&real, &link).expect("symlink");
    let (code, _, err) = run(privctl().args(["redact", "-o"]).arg(&link).arg(&input));
    assert_eq!(code, 0, "{err}");
    assert!(std::fs::symlink_metadata(&link).expect("link").is_symlink());
    assert!(std::fs::read_to_string(&real)
        .expect("real")
        .contains("[EMAIL]"));

    let dangling = dir.path().join("dangling.log");
    std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).expect("symlink");
    let (code, _, err) = run(privctl().args(["redact", "-o"]).arg(&dangling).arg(&input));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("which does not exist"), "{err}");
    assert_eq!(
        names_in(dir.path()),
        ["dangling.log", "fifo", "in.log", "link.log", "real.log"]
    );
}

/// Issue 7: an interrupted `redact -o` left a temporary file of the
/// input's size behind. Killed outright mid-stream, it now leaves nothing.
#[cfg(target_os = "linux")]
#[test]
fn a_killed_redaction_leaves_no_temporary_file() {
    use std::process::Stdio;
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("out.log");
    let mut child = privctl()
        .args(["redact", "-o"])
        .arg(&out)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let block = TEXT.repeat(200_000);
    for _ in 0..4 {
        stdin.write_all(block.as_bytes()).expect("feed");
    }
    // The redactor has read and written part of the input by now.
    std::thread::sleep(std::time::Duration::from_millis(300));
    child.kill().expect("kill");
    child.wait().expect("wait");
    drop(stdin);
    assert_eq!(names_in(dir.path()), Vec::<String>::new());
}

/// Issue 7: `scan - -` waited for ever for a second standard input.
#[test]
fn standard_input_named_twice_is_a_usage_error() {
    for verb in ["scan", "redact"] {
        let (code, _, err) = with_stdin(&[verb, "-", "-"], TEXT.as_bytes(), &[]);
        assert_eq!(code, 2, "{verb}: {err}");
        assert!(err.contains("can be read only once"), "{verb}: {err}");
    }
}

/// Issue 7: file names with control characters reach findings escaped.
#[cfg(unix)]
#[test]
fn file_names_are_escaped_in_findings() {
    let dir = tempfile::tempdir().expect("dir");
    let evil = dir.path().join("a\nb\u{202e}.log");
    std::fs::write(&evil, TEXT).expect("write");
    let (code, out, err) = run(privctl().arg("scan").arg(&evil));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(out.contains("a\\u{a}b\\u{202e}.log:2:6: email"), "{out}");
}
