//! What operators expect of a command-line tool: completions and a man page
//! generated from the same definitions as --help, a detector list checked
//! against the contract's canonical kinds, and the same exit codes from
//! every command (0 ok, 1 findings or violations, 2 usage or input errors).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::util::{privctl, repo_root, run};

/// The canonical kinds of SPEC.md section 2: the first list (required) and
/// the one "expected as the product grows".
fn spec_kinds() -> BTreeSet<String> {
    let spec = std::fs::read_to_string(repo_root().join("../shared/SPEC.md"))
        .or_else(|_| std::fs::read_to_string(repo_root().join("cli/tests/data/spec-kinds.txt")))
        .expect("SPEC.md");
    let start = spec
        .find("Canonical detector kinds")
        .expect("the kinds' paragraph");
    let end = start
        + spec[start..]
            .find("Validation (checksums")
            .expect("its end");
    spec[start..end]
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|k| {
            k.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn detectors_json_lists_every_canonical_kind_once() {
    let (code, out, err) = run(privctl().args(["detectors", "--json"]));
    assert_eq!(code, 0, "{err}");
    let rows: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect();
    let kinds: BTreeSet<String> = rows
        .iter()
        .map(|r| r["kind"].as_str().expect("kind").to_owned())
        .collect();
    assert_eq!(kinds.len(), rows.len(), "a kind listed twice");
    let spec = spec_kinds();
    assert!(spec.len() >= 36, "{spec:?}");
    assert_eq!(
        kinds, spec,
        "detectors and SPEC.md's canonical kinds differ"
    );
    for r in &rows {
        assert!(
            matches!(r["family"].as_str(), Some("personal" | "secret")),
            "{r}"
        );
        assert!(r["validates"].as_str().is_some_and(|v| v.len() > 10), "{r}");
        assert_eq!(r["default_operator"], "placeholder", "{r}");
        assert!(
            r["replacement"]
                .as_str()
                .is_some_and(|p| p.starts_with('[')),
            "{r}"
        );
    }
    // The text form has one line per kind too.
    let (code, text, _) = run(privctl().arg("detectors"));
    assert_eq!(code, 0);
    assert_eq!(text.lines().count(), rows.len());
}

#[test]
fn completions_are_generated_for_every_shell_and_name_every_command() {
    for (shell, marker) in [
        ("bash", "complete -F _privctl"),
        ("zsh", "#compdef privctl"),
        ("fish", "complete -c privctl"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let (code, out, err) = run(privctl().args(["completions", shell]));
        assert_eq!(code, 0, "{shell}: {err}");
        assert!(out.contains(marker), "{shell}: {marker} missing");
        for command in [
            "check", "scan", "redact", "reveal", "discover", "sweep", "erase", "vault",
        ] {
            assert!(out.contains(command), "{shell}: {command} missing");
        }
    }
    let (code, _, err) = run(privctl().args(["completions", "tcsh"]));
    assert_eq!(code, 2, "an unknown shell is a usage error: {err}");
}

#[test]
fn the_man_page_is_roff_with_every_command() {
    let (code, out, err) = run(privctl().arg("man"));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with(".ie \\n(.g .ds Aq"),
        "{}",
        &out[..80.min(out.len())]
    );
    assert!(out.contains(".TH privctl 1"));
    for command in [
        "check",
        "discover",
        "redact",
        "reveal",
        "detectors",
        "completions",
    ] {
        assert!(out.contains(command), "{command} missing from the man page");
    }
}

/// Every command named by `privctl --help`.
fn commands() -> Vec<String> {
    let (code, out, _) = run(privctl().arg("--help"));
    assert_eq!(code, 0);
    let list = out
        .split("Commands:")
        .nth(1)
        .and_then(|s| s.split("Options:").next())
        .expect("a command list");
    list.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_command_exits_2_on_a_usage_error_and_on_input_it_cannot_use() {
    let commands = commands();
    assert!(commands.len() >= 20, "{commands:?}");
    let dir = tempfile::tempdir().expect("dir");
    let missing = dir.path().join("missing");
    let missing = missing.to_str().expect("path");
    let db = format!("sqlite:{missing}.db");
    let missing_policy = format!("{missing}.toml");
    for command in &commands {
        // A flag no command has.
        let (code, _, err) = run(privctl().args([command.as_str(), "--no-such-flag"]));
        assert_eq!(code, 2, "{command} --no-such-flag: {err}");
    }
    // Input that cannot be used: a missing file, database or policy. Each
    // command's own way of naming it; every one exits 2 and says what.
    let cases: Vec<Vec<&str>> = vec![
        vec!["check", &missing_policy],
        vec!["scan", missing],
        vec!["redact", missing],
        vec!["reveal", "--vault-db", &db, missing],
        vec!["discover", "--db", &db],
        vec!["vault", "--db", &db, "get", "ref_x"],
        vec!["sweep", "--policy", &missing_policy, "--db", &db],
        vec!["hold", "list", "--policy", &missing_policy, "--db", &db],
        vec!["request", "list", "--policy", &missing_policy, "--db", &db],
        vec!["runs", "--policy", &missing_policy, "--db", &db],
        vec![
            "export",
            "--policy",
            &missing_policy,
            "--db",
            &db,
            "--subject",
            "1",
            "-o",
            missing,
        ],
        vec!["erase", "status", "--policy", &missing_policy, "--db", &db],
        vec!["receipt", "verify", missing],
        vec!["audit", "verify", "--policy", &missing_policy, "--db", &db],
        vec!["sample", "--policy", &missing_policy, "--db", &db],
        vec!["hash", "ip", "--key-file", missing, "10.0.0.1"],
    ];
    for args in &cases {
        let (code, out, err) = run(privctl().args(args).current_dir(dir.path()));
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(!err.trim().is_empty(), "{args:?} said nothing");
    }
}

#[test]
fn findings_and_violations_exit_1_and_clean_runs_exit_0() {
    let dir = tempfile::tempdir().expect("dir");
    let pii = dir.path().join("pii.txt");
    std::fs::write(&pii, "mail ana@example.com\n").expect("write");
    let clean = dir.path().join("clean.txt");
    std::fs::write(&clean, "nothing here\n").expect("write");
    let bad = dir.path().join("bad.toml");
    let policy =
        std::fs::read_to_string(repo_root().join("policies/inferexai.toml")).expect("policy");
    // Keeping KYC records one year breaks PMLA's five.
    std::fs::write(
        &bad,
        policy.replacen("period = \"5y\"", "period = \"1y\"", 1),
    )
    .expect("write");
    let cases: Vec<(Vec<String>, i32)> = vec![
        (
            vec![
                "scan".into(),
                "--fail-on-findings".into(),
                pii.display().to_string(),
            ],
            1,
        ),
        (
            vec![
                "scan".into(),
                "--fail-on-findings".into(),
                clean.display().to_string(),
            ],
            0,
        ),
        (vec!["check".into(), bad.display().to_string()], 1),
        (
            vec![
                "check".into(),
                repo_root().join("policies").display().to_string(),
            ],
            0,
        ),
        (vec!["detectors".into()], 0),
        (vec!["schema".into()], 0),
    ];
    for (args, want) in cases {
        let (code, out, err) = run(privctl().args(&args));
        assert_eq!(code, want, "{args:?}: {out}{err}");
    }
}

#[test]
fn verbosity_flags_and_privctl_log_choose_the_diagnostics_on_stderr() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite:{}", dir.path().join("db.sqlite").display());
    let policy = repo_root().join("policies/inferencehub.toml");
    let (code, _, err) = run(privctl()
        .args(["sample", "--subjects", "3", "--db", &url, "--policy"])
        .arg(&policy)
        .current_dir(dir.path()));
    assert_eq!(code, 0, "{err}");
    let discover = |flags: &[&str], log: Option<&str>| {
        let mut cmd = privctl();
        cmd.args(flags)
            .args(["discover", "--db", &url])
            .env_remove("PRIVCTL_LOG");
        if let Some(l) = log {
            cmd.env("PRIVCTL_LOG", l);
        }
        run(&mut cmd)
    };
    let (code, _, quiet_default) = discover(&[], None);
    assert_eq!(code, 0);
    assert!(
        quiet_default.contains("tables,"),
        "the summary line: {quiet_default}"
    );
    assert!(!quiet_default.contains("discovered"), "{quiet_default}");
    let (_, _, v) = discover(&["-v"], None);
    assert!(v.contains("discovered") && !v.contains("sampled"), "{v}");
    let (_, _, vv) = discover(&["-vv"], None);
    assert!(vv.contains("sampled") && vv.contains("table=users"), "{vv}");
    // Not a terminal: no colour codes, whatever the level.
    assert!(!vv.contains('\u{1b}'), "{vv}");
    let (code, out, q) = discover(&["-q"], None);
    assert_eq!(code, 0);
    assert!(q.is_empty(), "-q: {q}");
    assert!(out.contains("[data_types.users]"));
    let (_, _, exact) = discover(&[], Some("privctl_discover=debug"));
    assert!(exact.contains("sampled"), "{exact}");
    let (code, _, bad) = discover(&[], Some("privctl_discover=loud"));
    assert_eq!(code, 2, "{bad}");
    assert!(bad.contains("PRIVCTL_LOG"), "{bad}");
    let (code, _, err) = run(privctl().args(["-q", "-v", "detectors"]));
    assert_eq!(code, 2, "-q and -v together: {err}");
}
