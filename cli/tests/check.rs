//! `privctl check`: the seed policies pass, and each one broken in many ways
//! fails with the exact location and message (cases in `data/mutations.toml`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::util::{privctl, repo_root, run};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cases {
    case: Vec<Case>,
}

/// One way of breaking a seed policy.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// Seed policy under `policies/`.
    policy: String,
    /// What the case breaks, for failure messages.
    name: String,
    /// Text replaced (must occur exactly once) ...
    #[serde(default)]
    find: Option<String>,
    /// ... by this.
    #[serde(default)]
    replace: String,
    /// Further edits, each made after the one before it, for a breach that
    /// takes changes in more than one place.
    #[serde(default)]
    also: Vec<Edit>,
    /// Text appended to the file.
    #[serde(default)]
    append: Option<String>,
    /// Expected exit code.
    exit: i32,
    /// Expected findings, in output order.
    expect: Vec<Expect>,
}

/// One more replacement in a case's policy.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Edit {
    /// Text replaced (must occur exactly once) ...
    find: String,
    /// ... by this.
    replace: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    /// A string that occurs exactly once in the broken file, with `|` where
    /// the finding must point.
    at: String,
    /// `severity: message`, as printed after `file:line:col: `.
    text: String,
    /// The rule id the JSON and SARIF outputs name.
    rule: String,
}

fn cases() -> Vec<Case> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mutations.toml");
    let src = std::fs::read_to_string(&path).expect("mutations.toml is readable");
    toml::from_str::<Cases>(&src)
        .expect("mutations.toml parses")
        .case
}

fn policy_paths() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo_root().join("policies"))
        .expect("policies/ exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    v
}

/// Line and column (1-based, in characters) of `|` inside the unique
/// occurrence of `at` (with the `|` removed) in `src`.
fn marker_location(src: &str, at: &str) -> Result<(usize, usize), String> {
    let bar = at
        .find('|')
        .ok_or_else(|| format!("`at` has no | marker: {at:?}"))?;
    let needle = at.replacen('|', "", 1);
    let hits: Vec<usize> = src.match_indices(&needle).map(|(i, _)| i).collect();
    if hits.len() != 1 {
        return Err(format!(
            "`at` {needle:?} must occur exactly once in the broken file, found {}",
            hits.len()
        ));
    }
    let offset = hits[0] + bar;
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before[before.rfind('\n').map_or(0, |i| i + 1)..]
        .chars()
        .count()
        + 1;
    Ok((line, col))
}

fn broken_source(case: &Case) -> String {
    let original = std::fs::read_to_string(repo_root().join("policies").join(&case.policy))
        .unwrap_or_else(|e| panic!("{}: policy {}: {e}", case.name, case.policy));
    let mut src = original.clone();
    let edits = case
        .find
        .iter()
        .map(|f| (f.as_str(), case.replace.as_str()))
        .chain(
            case.also
                .iter()
                .map(|e| (e.find.as_str(), e.replace.as_str())),
        );
    for (find, replace) in edits {
        let n = src.matches(find).count();
        assert_eq!(
            n, 1,
            "{}: `find` {find:?} must occur exactly once in {}, found {n}",
            case.name, case.policy
        );
        src = src.replacen(find, replace, 1);
    }
    if let Some(append) = &case.append {
        src.push('\n');
        src.push_str(append);
    }
    assert_ne!(src, original, "{}: the case changes nothing", case.name);
    src
}

/// (line, column, "severity: message") of each diagnostic line of text output.
fn text_findings(stdout: &str, file: &str) -> Vec<(usize, usize, String)> {
    let prefix = format!("{file}:");
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(|rest| {
            let mut parts = rest.splitn(3, ':');
            let line = parts
                .next()
                .and_then(|s| s.parse().ok())
                .expect("line number");
            let col = parts.next().and_then(|s| s.parse().ok()).expect("column");
            let text = parts.next().expect("message").trim_start().to_owned();
            (line, col, text)
        })
        .collect()
}

#[test]
fn seed_policies_pass() {
    let paths = policy_paths();
    assert_eq!(paths.len(), 5, "one policy per seed document");
    let (code, stdout, stderr) = run(privctl().arg("check").args(&paths));
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(stdout, "", "the seed policies have no findings");
    assert!(
        stderr.contains("checked 5 files: 0 errors, 0 warnings"),
        "{stderr}"
    );
}

#[test]
fn every_seed_is_broken_in_at_least_twelve_ways() {
    let cases = cases();
    for path in policy_paths() {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("file name");
        let distinct: BTreeSet<&str> = cases
            .iter()
            .filter(|c| c.policy == name)
            .flat_map(|c| c.expect.iter())
            .filter(|e| e.text.starts_with("error: "))
            .map(|e| e.rule.as_str())
            .collect();
        let n = cases.iter().filter(|c| c.policy == name).count();
        assert!(n >= 12, "{name} has only {n} mutation cases");
        assert!(
            distinct.len() >= 12,
            "{name} breaks only {} distinct rules: {distinct:?}",
            distinct.len()
        );
    }
}

#[test]
fn broken_policies_fail_with_exact_locations_and_messages() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut failures = Vec::new();
    for (i, case) in cases().iter().enumerate() {
        let src = broken_source(case);
        let file = dir.path().join(format!("case{i}-{}", case.policy));
        std::fs::write(&file, &src).expect("write broken policy");
        let shown = file.display().to_string();

        let (code, stdout, stderr) = run(privctl().arg("check").arg(&file));
        let got = text_findings(&stdout, &shown);
        let want: Result<Vec<(usize, usize, String)>, String> = case
            .expect
            .iter()
            .map(|e| marker_location(&src, &e.at).map(|(l, c)| (l, c, e.text.clone())))
            .collect();
        let want = match want {
            Ok(w) => w,
            Err(e) => {
                failures.push(format!("case {:?} ({}): {e}", case.name, case.policy));
                continue;
            }
        };
        if code != case.exit || got != want {
            failures.push(format!(
                "case {:?} ({}): exit {code} (want {})\n  got:  {got:?}\n  want: {want:?}\n  stderr: {stderr}",
                case.name, case.policy, case.exit
            ));
            continue;
        }

        // The machine outputs carry the same findings.
        let (jcode, json, _) = run(privctl().args(["check", "--format", "json"]).arg(&file));
        assert_eq!(jcode, code, "{}: json exit code", case.name);
        let (json_got, rules) = json_findings(&json);
        assert_eq!(
            json_got, got,
            "{}: JSON findings differ from text",
            case.name
        );
        let want_rules: Vec<&str> = case.expect.iter().map(|e| e.rule.as_str()).collect();
        assert_eq!(rules, want_rules, "{}: rule ids", case.name);
        let (scode, sarif, _) = run(privctl().args(["check", "--format", "sarif"]).arg(&file));
        assert_eq!(scode, code, "{}: sarif exit code", case.name);
        assert_eq!(
            sarif_findings(&sarif),
            got,
            "{}: SARIF findings differ from text",
            case.name
        );
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

type Findings = Vec<(usize, usize, String)>;

fn json_findings(out: &str) -> (Findings, Vec<&str>) {
    let v: Value = serde_json::from_str(out).expect("JSON output parses");
    let diags = v["diagnostics"].as_array().expect("diagnostics array");
    let rules = diags
        .iter()
        .map(|d| {
            let id = d["rule"].as_str().expect("rule");
            // Leak-free: look the id up among the SARIF-published ones.
            RULE_IDS.iter().copied().find(|r| *r == id).unwrap_or("?")
        })
        .collect();
    let findings = diags
        .iter()
        .map(|d| {
            (
                d["line"].as_u64().expect("line") as usize,
                d["column"].as_u64().expect("column") as usize,
                format!(
                    "{}: {}",
                    d["severity"].as_str().expect("severity"),
                    d["message"].as_str().expect("message")
                ),
            )
        })
        .collect();
    (findings, rules)
}

const RULE_IDS: &[&str] = &[
    "syntax",
    "unknown-key",
    "missing-key",
    "invalid-value",
    "bad-duration",
    "bad-identifier",
    "unsupported-version",
    "unknown-reference",
    "missing-retention",
    "retention-below-floor",
    "erasure-deletes-protected",
    "missing-erasure",
    "tier-overrides-fixed",
    "tier-out-of-bounds",
    "uncovered-subject-data",
    "contradiction",
    "breaks-law",
    "bad-pattern",
    "duplicate",
    "schema-drift",
    "unindexed-lookup",
];

fn sarif_findings(out: &str) -> Vec<(usize, usize, String)> {
    let v: Value = serde_json::from_str(out).expect("SARIF output parses");
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| r["id"].as_str().expect("rule id"))
        .collect();
    run["results"]
        .as_array()
        .expect("results array")
        .iter()
        .map(|r| {
            let index = r["ruleIndex"].as_u64().expect("ruleIndex") as usize;
            assert_eq!(
                rules[index],
                r["ruleId"].as_str().expect("ruleId"),
                "ruleIndex matches ruleId"
            );
            let region = &r["locations"][0]["physicalLocation"]["region"];
            let text = r["message"]["text"].as_str().expect("message");
            let message = text.split("\nhint: ").next().expect("message line");
            (
                region["startLine"].as_u64().expect("startLine") as usize,
                region["startColumn"].as_u64().expect("startColumn") as usize,
                format!("{}: {message}", r["level"].as_str().expect("level")),
            )
        })
        .collect()
}

#[test]
fn unreadable_input_exits_two_and_checks_the_rest() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("latin1.toml");
    std::fs::write(&bad, b"name = \"caf\xe9\"\n").expect("write");
    let missing = dir.path().join("missing.toml");
    let good = repo_root().join("policies/infrpool.toml");
    let (code, stdout, stderr) = run(privctl().arg("check").arg(&bad).arg(&missing).arg(&good));
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stdout, "");
    assert!(
        stderr.contains("is not UTF-8 text (invalid byte at offset 11)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("cannot read policy") && stderr.contains("missing.toml"),
        "{stderr}"
    );
    assert!(
        stderr.contains("checked 1 file: 0 errors, 0 warnings, 2 unreadable"),
        "{stderr}"
    );

    let (code, json, _) = run(privctl().args(["check", "--json"]).arg(&missing));
    assert_eq!(code, 2);
    let v: Value = serde_json::from_str(&json).expect("JSON parses");
    assert_eq!(v["files"][0]["status"], "unreadable");
}

#[test]
fn usage_errors_exit_two() {
    let (code, _, stderr) = run(privctl().arg("check"));
    assert_eq!(code, 2, "{stderr}");
    let (code, _, _) = run(privctl().args(["check", "--format", "yaml", "x.toml"]));
    assert_eq!(code, 2);
}

#[test]
fn a_directory_is_checked_file_by_file() {
    let (code, stdout, stderr) = run(privctl().arg("check").arg(repo_root().join("policies")));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("checked 5 files"), "{stderr}");
}

#[test]
fn warnings_fail_only_when_denied() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = std::fs::read_to_string(repo_root().join("policies/infrpool.toml")).expect("read");
    let src = src.replace(
        "[regimes.gdpr]\n",
        "[regimes.gdpr]\nacknowledge_business_days = 10\n",
    );
    let file = dir.path().join("warn.toml");
    std::fs::write(&file, src).expect("write");
    let (code, stdout, _) = run(privctl().arg("check").arg(&file));
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("warning: GDPR has no acknowledgement clock"),
        "{stdout}"
    );
    let (code, _, _) = run(privctl().args(["check", "--deny-warnings"]).arg(&file));
    assert_eq!(code, 1);
}

#[test]
fn committed_schema_is_current() {
    let (code, stdout, _) = run(privctl().arg("schema"));
    assert_eq!(code, 0);
    let committed = std::fs::read_to_string(repo_root().join("schema/policy.schema.json"))
        .expect("schema/policy.schema.json exists");
    assert_eq!(
        committed, stdout,
        "schema/policy.schema.json is stale: run `cargo run -- schema > schema/policy.schema.json`"
    );
    let v: Value = serde_json::from_str(&stdout).expect("schema is JSON");
    assert_eq!(
        v["additionalProperties"],
        Value::Bool(false),
        "unknown top-level keys are refused"
    );
}

/// Issue 7: `check` rescanned the file per finding; 40,000 unknown keys
/// took 19 s in a release build (four and a half minutes in a debug one).
/// Each must still be placed on its own line.
#[test]
fn forty_thousand_findings_are_each_located_on_their_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = std::fs::read_to_string(repo_root().join("policies/infrpool.toml")).expect("read");
    let first_line = src[..src.find("[erasure]\n").expect("erasure")]
        .lines()
        .count()
        + 2;
    let keys: String = (0..40_000).map(|i| format!("k{i} = 1\n")).collect();
    let file = dir.path().join("many.toml");
    std::fs::write(
        &file,
        src.replacen("[erasure]\n", &format!("[erasure]\n{keys}"), 1),
    )
    .expect("write");
    let (code, stdout, stderr) = run(privctl().args(["check", "--quiet"]).arg(&file));
    assert_eq!(code, 1, "{stderr}");
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| !l.starts_with("  hint"))
        .collect();
    assert_eq!(lines.len(), 40_000);
    for (i, line) in [(0, lines[0]), (39_999, lines[39_999])] {
        let at = format!(
            "many.toml:{}:1: error: unknown key \"k{i}\" in erasure",
            first_line + i
        );
        assert!(line.ends_with(&at), "{line} / {at}");
    }
}

/// Issue 7: `check /dev/zero` read 6.8 GB in 30 s. A policy is read up to
/// a limit that fits what it is.
#[test]
fn a_policy_is_read_with_a_size_limit() {
    let (code, _, stderr) = run(privctl().args(["check", "/dev/zero"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("policy /dev/zero is larger than the 4 MiB a policy may be"),
        "{stderr}"
    );
}

/// Issue 7: `check DIR` silently skipped dangling and looping `.toml`
/// symbolic links.
#[cfg(unix)]
#[test]
fn a_directory_reports_dangling_and_looping_links() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(
        repo_root().join("policies/infrpool.toml"),
        dir.path().join("a.toml"),
    )
    .expect("copy");
    std::os::unix::fs::symlink(dir.path().join("gone.toml"), dir.path().join("b.toml"))
        .expect("dangling link");
    std::os::unix::fs::symlink(dir.path().join("c.toml"), dir.path().join("c.toml"))
        .expect("looping link");
    let (code, _, stderr) = run(privctl().arg("check").arg(dir.path()));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("b.toml: it is a symbolic link that leads nowhere readable"),
        "{stderr}"
    );
    assert!(
        stderr.contains("c.toml: it is a symbolic link that leads nowhere readable"),
        "{stderr}"
    );
    assert!(
        stderr.contains("checked 1 file: 0 errors, 0 warnings, 2 unreadable"),
        "{stderr}"
    );
}

/// Issue 7: messages echoed raw control and bidirectional characters from
/// policy files, so a policy could forge findings or reorder what a
/// reviewer reads.
#[test]
fn control_and_bidi_characters_from_a_policy_are_escaped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = std::fs::read_to_string(repo_root().join("policies/infrpool.toml")).expect("read");
    let file = dir.path().join("evil.toml");
    let evil = "\"x\\nevil.toml:1:1: error: forged\\u001b[2J\\u202Egnp.exe\" = 1\n";
    std::fs::write(
        &file,
        src.replacen("[erasure]\n", &format!("[erasure]\n{evil}"), 1),
    )
    .expect("write");
    for format in ["text", "json", "sarif"] {
        let (code, stdout, stderr) = run(privctl().args(["check", "--format", format]).arg(&file));
        assert_eq!(code, 1, "{stderr}");
        for bad in ['\u{1b}', '\u{202e}'] {
            assert!(!stdout.contains(bad), "{format}: {stdout}");
        }
        assert!(
            !stdout.lines().any(|l| l.starts_with("evil.toml:1:1")),
            "{format}: a finding was forged: {stdout}"
        );
    }
    let (_, stdout, _) = run(privctl().arg("check").arg(&file));
    assert!(
        stdout.contains(
            r#"unknown key "x\u{a}evil.toml:1:1: error: forged\u{1b}[2J\u{202e}gnp.exe" in erasure"#
        ),
        "{stdout}"
    );
}
