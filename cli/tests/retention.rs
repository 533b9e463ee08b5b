//! `privctl sample`, `sweep`, `runs` and `check --db` on real SQLite files:
//! the first-run path a new user takes, schema drift, and bad input that
//! must change nothing.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::{privctl, repo_root, run};

const AS_OF: &str = "2026-11-23T00:00:00Z";

fn policy(name: &str) -> PathBuf {
    repo_root().join("policies").join(format!("{name}.toml"))
}

fn url(db: &Path) -> String {
    format!("sqlite:{}", db.display())
}

/// Fills a sample database in `dir` (files stores under it too).
fn sample(dir: &Path, name: &str) -> PathBuf {
    let db = dir.join(format!("{name}.db"));
    let (code, out, err) = run(privctl()
        .current_dir(dir)
        .args(["sample", "--policy"])
        .arg(policy(name))
        .args(["--db", &url(&db), "--as-of", AS_OF, "--subjects", "30"]));
    assert_eq!(code, 0, "{out}{err}");
    db
}

/// The database's bytes (and its journal's), to show nothing changed.
fn bytes(db: &Path) -> Vec<Vec<u8>> {
    ["", "-wal", "-journal"]
        .iter()
        .map(|suffix| {
            let mut p = db.as_os_str().to_owned();
            p.push(suffix);
            std::fs::read(PathBuf::from(p)).unwrap_or_default()
        })
        .collect()
}

fn sweep(dir: &Path, name: &str, db: &str, extra: &[&str]) -> (i32, String, String) {
    run(privctl()
        .current_dir(dir)
        .args(["sweep", "--policy"])
        .arg(policy(name))
        .args(["--db", db, "--as-of", AS_OF])
        .args(extra))
}

fn sql(db: &Path, statements: &[&'static str]) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&url(db))
            .await
            .expect("connect");
        for s in statements {
            sqlx::query(*s).execute(&mut c).await.expect(s);
        }
    });
}

#[test]
fn sample_dry_run_sweep_and_the_run_log() {
    let dir = tempfile::tempdir().expect("dir");
    let db = sample(dir.path(), "cheapestinference");
    let u = url(&db);

    let before = bytes(&db);
    let (code, out, err) = sweep(
        dir.path(),
        "cheapestinference",
        &u,
        &["--dry-run", "--json"],
    );
    assert_eq!(code, 0, "{err}");
    let dry: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(dry["run"], Value::Null);
    assert_eq!(bytes(&db), before, "a dry run changed the database");
    let n = |d: &Value, k: &str| d[k].as_u64().expect(k);
    let types = dry["data_types"].as_array().expect("data types");
    let to_do: u64 = types
        .iter()
        .map(|d| {
            n(d, "expired") - n(d, "kept_by_floor") - n(d, "kept_by_hold") - n(d, "kept_referenced")
        })
        .sum();
    // Rows still referred to go in the same run when their referrers do.
    let maybe: u64 = types.iter().map(|d| n(d, "kept_referenced")).sum();
    assert!(to_do > 0, "the sample has nothing expired: {out}");

    let (code, out, err) = sweep(dir.path(), "cheapestinference", &u, &["--json"]);
    assert_eq!(code, 0, "{err}");
    let done: Value = serde_json::from_str(&out).expect("json");
    let changed: u64 = done["data_types"]
        .as_array()
        .expect("data types")
        .iter()
        .map(|d| n(d, "deleted") + n(d, "anonymised") + n(d, "rolled_up"))
        .sum();
    assert!(
        (to_do..=to_do + maybe).contains(&changed),
        "the sweep changed {changed} rows; the dry run said {to_do}, and {maybe} more at most"
    );

    let (code, out, err) = run(privctl()
        .args(["runs", "--policy"])
        .arg(policy("cheapestinference"))
        .args(["--db", &u]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("run 1: as of 2026-11-23T00:00:00+00:00"),
        "{out}"
    );
    assert!(
        out.contains("usage_events") && out.contains("roll_up"),
        "{out}"
    );

    let (code, out, err) = sweep(dir.path(), "cheapestinference", &u, &["--json"]);
    assert_eq!(code, 0, "{err}");
    let again: Value = serde_json::from_str(&out).expect("json");
    for d in again["data_types"].as_array().expect("data types") {
        let changed = n(d, "deleted") + n(d, "anonymised") + n(d, "rolled_up");
        assert_eq!(changed, 0, "a second sweep changed {d}");
    }
}

#[test]
fn sample_refuses_a_database_already_in_use() {
    let dir = tempfile::tempdir().expect("dir");
    let db = sample(dir.path(), "inferencehub");
    let before = bytes(&db);
    let (code, _, err) = run(privctl()
        .args(["sample", "--policy"])
        .arg(policy("inferencehub"))
        .args(["--db", &url(&db)]));
    assert_eq!(code, 2);
    assert!(
        err.contains("table \"") && err.contains("already exists"),
        "{err}"
    );
    assert_eq!(bytes(&db), before);
}

#[test]
fn check_db_catches_schema_drift() {
    let dir = tempfile::tempdir().expect("dir");
    let db = sample(dir.path(), "cheapestinference");
    let check = || {
        run(privctl()
            .arg("check")
            .arg(policy("cheapestinference"))
            .args(["--db", &url(&db)]))
    };
    let (code, out, err) = check();
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("0 errors, 0 warnings"), "{err}");

    sql(
        &db,
        &[
            "ALTER TABLE users ADD COLUMN phone TEXT",
            "DROP INDEX request_log_created_at_idx",
            "ALTER TABLE request_log RENAME COLUMN status_code TO http_status",
            "DROP INDEX api_keys_user_id_idx",
        ],
    );
    let (code, out, err) = check();
    assert_eq!(code, 1, "{out}{err}");
    for want in [
        "error: store main: column \"users.phone\" is in the database but data type \"accounts\" does not classify it",
        "error: store main: column \"request_log.status_code\" (data type \"request_log\") does not exist",
        "error: store main: column \"request_log.http_status\" is in the database but data type \"request_log\" does not classify it",
        "warning: store main: column \"request_log.created_at\" has no index, so each sweep of data type \"request_log\" scans table \"request_log\"",
        "warning: store main: column \"api_keys.user_id\" has no index, so export and erasure of each subject, and each sweep of data type \"accounts\"",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
    // Each finding points into the policy file.
    assert!(
        out.lines()
            .filter(|l| l.contains("error:") || l.contains("warning:"))
            .all(|l| l.contains("cheapestinference.toml:")),
        "{out}"
    );

    let (code, out, _) = run(privctl()
        .arg("check")
        .arg(policy("cheapestinference"))
        .args(["--db", &url(&db), "--json"]));
    assert_eq!(code, 1);
    assert!(
        out.contains("\"schema-drift\"") && out.contains("\"unindexed-lookup\""),
        "{out}"
    );

    sql(&db, &["DROP TABLE request_log"]);
    let (code, out, _) = check();
    assert_eq!(code, 1);
    assert!(
        out.contains("table \"request_log\" (data type \"request_log\") does not exist"),
        "{out}"
    );
}

#[test]
fn an_unreachable_database_is_named_with_its_password_masked() {
    let dir = tempfile::tempdir().expect("dir");
    let (code, out, err) = sweep(
        dir.path(),
        "cheapestinference",
        "postgres://privctl:hunter2@127.0.0.1:1/nowhere?connect_timeout=2",
        &[],
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("main"), "{err}");
    assert!(
        !err.contains("hunter2") && !out.contains("hunter2"),
        "{err}"
    );
    let (code, _, err) = sweep(
        dir.path(),
        "cheapestinference",
        &url(&dir.path().join("none.db")),
        &[],
    );
    assert_eq!(code, 2);
    assert!(err.contains("does not exist"), "{err}");
    assert!(
        !dir.path().join("none.db").exists(),
        "a sweep created a database"
    );
}

#[test]
fn a_missing_table_fails_the_sweep_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let db = sample(dir.path(), "cheapestinference");
    sql(&db, &["DROP TABLE request_log"]);
    let before = bytes(&db);
    let (code, out, err) = sweep(dir.path(), "cheapestinference", &url(&db), &[]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("table \"request_log\" of data type \"request_log\" does not exist"),
        "{err}"
    );
    assert_eq!(bytes(&db), before, "a failed sweep changed the database");
}

#[test]
fn a_policy_with_errors_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let db = sample(dir.path(), "inferencehub");
    let text = std::fs::read_to_string(policy("inferencehub")).expect("policy");
    let broken = text.replacen(
        "period = \"7y\"\nfrom = \"created\"\naction = \"delete\"",
        "period = \"1y\"\nfrom = \"created\"\naction = \"delete\"",
        1,
    );
    assert_ne!(broken, text);
    let copy = dir.path().join("broken.toml");
    std::fs::write(&copy, broken).expect("write");
    let before = bytes(&db);
    let (code, out, err) = run(privctl().args(["sweep", "--policy"]).arg(&copy).args([
        "--db",
        &url(&db),
        "--as-of",
        AS_OF,
    ]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("retention of \"ledger_entries\"") && err.contains("nothing was changed"),
        "{err}"
    );
    assert_eq!(bytes(&db), before);
}

#[test]
fn a_missing_files_root_fails_the_sweep_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let db = sample(dir.path(), "infrpool");
    let images = dir.path().join("var/infrpool/images");
    assert!(images.is_dir());
    std::fs::remove_dir_all(dir.path().join("var/infrpool/logs")).expect("remove logs");
    let listing = |d: &Path| {
        let mut v: Vec<_> = walk(d);
        v.sort();
        v
    };
    let files_before = listing(&images);
    let before = bytes(&db);
    let (code, out, err) = sweep(dir.path(), "infrpool", &url(&db), &[]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("files store \"logs\"") && err.contains("var/infrpool/logs does not exist"),
        "{err}"
    );
    assert_eq!(bytes(&db), before);
    assert_eq!(listing(&images), files_before);
    // A schema check needs no files store.
    let (code, out, err) = run(privctl()
        .current_dir(dir.path())
        .arg("check")
        .arg(policy("infrpool"))
        .args(["--db", &url(&db)]));
    assert_eq!(code, 0, "{out}{err}");
}

fn walk(d: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).expect("dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_sweep_of_a_store_it_cannot_open_says_so_and_exits_1() {
    let dir = tempfile::tempdir().expect("dir");
    let db = sample(dir.path(), "infercast");
    let (code, out, err) = sweep(dir.path(), "infercast", &url(&db), &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("prompt_content")
            && out.contains("NOT SWEPT: store \"telemetry\" is a ClickHouse store"),
        "{out}"
    );
    assert!(out.contains("session_locations"), "{out}");
}

/// Every row of every table of the sample (privctl's own aside), as text.
async fn rows(url: &str) -> Vec<(String, Vec<String>)> {
    use privctl_store::{Db, Open, Row};
    let db = Db::open("main", url, Open::Existing).await.expect("open");
    let schema = db.schema().await.expect("schema");
    let mut out = Vec::new();
    for (name, table) in &schema.tables {
        if name.starts_with("privctl_") {
            continue;
        }
        let cols: Vec<String> = table
            .columns
            .iter()
            .map(|c| format!("COALESCE(CAST(\"{}\" AS TEXT), 'NULL')", c.name))
            .collect();
        // Names from the live schema of a database this test made.
        let sql = format!("SELECT {} FROM \"{name}\"", cols.join(" || '|' || "));
        let mut got: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(db.pool())
            .await
            .expect("read")
            .iter()
            .map(|r| r.try_get::<String, _>(0).expect("text"))
            .collect();
        got.sort();
        out.push((name.clone(), got));
    }
    out
}

/// Rows changed per data type over every run in the run log.
fn logged(url: &str) -> std::collections::BTreeMap<String, i64> {
    let (code, out, err) = run(privctl()
        .args(["runs", "--json", "--last", "1000", "--policy"])
        .arg(policy("cheapestinference"))
        .args(["--db", url]));
    assert_eq!(code, 0, "{err}");
    let runs: Value = serde_json::from_str(&out).expect("json");
    let mut totals = std::collections::BTreeMap::new();
    for r in runs.as_array().expect("runs") {
        for b in r["batches"].as_array().expect("batches") {
            *totals
                .entry(b[0].as_str().expect("dt").to_owned())
                .or_insert(0) += b[2].as_i64().expect("n");
        }
    }
    totals
}

/// Kills `privctl sweep` (an abort, as `kill -9`: no destructor, no
/// commit) inside and between batches, including between a SQLite roll-up's
/// aggregate insert and its delete of the detail rows, then reruns it: the
/// database ends exactly as after one uninterrupted sweep, and the run log's
/// counts over all runs add up to the uninterrupted run's.
#[test]
fn a_killed_sweep_rerun_ends_as_an_uninterrupted_one() {
    let rt = privctl_store::testing::runtime();
    let reference = rt.block_on(privctl_store::testing::fresh_databases("kill_ref"));
    let killed = rt.block_on(privctl_store::testing::fresh_databases("kill_run"));
    for (a, b) in reference.iter().zip(&killed) {
        let dir = tempfile::tempdir().expect("dir");
        for db in [a, b] {
            let (code, out, err) = run(privctl()
                .current_dir(dir.path())
                .args(["sample", "--policy"])
                .arg(policy("cheapestinference"))
                .args(["--db", &db.url, "--as-of", AS_OF, "--subjects", "30"]));
            assert_eq!(code, 0, "{out}{err}");
        }
        assert_eq!(
            rt.block_on(rows(&a.url)),
            rt.block_on(rows(&b.url)),
            "samples differ"
        );

        let (code, _, err) = sweep(dir.path(), "cheapestinference", &a.url, &[]);
        assert_eq!(code, 0, "{err}");
        let want = rt.block_on(rows(&a.url));
        let want_log = logged(&a.url);

        // Request logs go first (about 40 batches of 7), then the roll-up.
        let faults = [
            "statement:1",
            "committed:5",
            "rollup-inserted:1",
            "committed:2",
            "rollup-inserted:3",
            "statement:4",
            "rollup-inserted:2",
        ];
        let mut aborted = 0;
        for fault in faults {
            let out = privctl()
                .current_dir(dir.path())
                .args(["sweep", "--policy"])
                .arg(policy("cheapestinference"))
                .args(["--db", &b.url, "--as-of", AS_OF])
                .env("PRIVCTL_FAULT", fault)
                .env("PRIVCTL_FAULT_BATCH", "7")
                .output()
                .expect("privctl runs");
            if out.status.code().is_none() {
                aborted += 1;
            }
        }
        assert_eq!(
            aborted,
            faults.len(),
            "{:?}: not every run was killed",
            b.dialect
        );
        let (code, _, err) = sweep(dir.path(), "cheapestinference", &b.url, &[]);
        assert_eq!(code, 0, "{err}");

        assert_eq!(
            rt.block_on(rows(&b.url)),
            want,
            "{:?}: killed and rerun differs",
            b.dialect
        );
        assert_eq!(logged(&b.url), want_log, "{:?}: run log counts", b.dialect);
        // The audit log stayed one intact chain through every kill.
        let (code, out, err) = run(privctl()
            .current_dir(dir.path())
            .args(["audit", "verify", "--policy"])
            .arg(policy("cheapestinference"))
            .args(["--db", &b.url]));
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("intact, and reaches the checkpoint"), "{out}");
    }
}

/// `privctl audit verify` after a sweep: intact; an entry edited or the
/// checkpoint edited: exit 1 naming it; no key: the end is unchecked, exit 1.
#[test]
fn audit_verify_finds_tampering() {
    let dir = tempfile::tempdir().expect("dir");
    let db = sample(dir.path(), "cheapestinference");
    let (code, _, err) = sweep(dir.path(), "cheapestinference", &url(&db), &[]);
    assert_eq!(code, 0, "{err}");
    let verify = || {
        run(privctl()
            .current_dir(dir.path())
            .args(["audit", "verify", "--policy"])
            .arg(policy("cheapestinference"))
            .args(["--db", &url(&db)]))
    };
    let (code, out, err) = verify();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("intact, and reaches the checkpoint"), "{out}");

    let heads: Vec<PathBuf> = std::fs::read_dir(dir.path().join(".privctl"))
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "head"))
        .collect();
    assert_eq!(heads.len(), 1, "{heads:?}");
    let head = std::fs::read_to_string(&heads[0]).expect("head");
    std::fs::write(&heads[0], head.replacen("seq ", "seq 1", 1)).expect("edit");
    let (code, _, err) = verify();
    assert_eq!(code, 1);
    assert!(err.contains("it was edited"), "{err}");
    std::fs::write(&heads[0], &head).expect("restore");

    sql(&db, &["UPDATE privctl_audit SET body = '{}' WHERE seq = 5"]);
    let (code, out, _) = verify();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("TAMPERED at entry 5: entry 5 was changed"),
        "{out}"
    );
    // A command that writes to the log refuses to sign over it.
    let (code, _, err) = run(privctl()
        .current_dir(dir.path())
        .args(["request", "add", "erasure", "--subject", "user_id=3"])
        .args(["--regime", "gdpr", "--policy"])
        .arg(policy("cheapestinference"))
        .args(["--db", &url(&db)]));
    assert_eq!(code, 0, "{err}");
    sql(&db, &["DELETE FROM privctl_audit WHERE seq > 1"]);
    let (code, _, err) = run(privctl()
        .current_dir(dir.path())
        .args(["request", "add", "erasure", "--subject", "user_id=4"])
        .args(["--regime", "gdpr", "--policy"])
        .arg(policy("cheapestinference"))
        .args(["--db", &url(&db)]));
    assert_eq!(code, 1);
    assert!(err.contains("no longer in the log as written"), "{err}");

    // A verifier needs only the public key.
    std::fs::remove_file(dir.path().join(".privctl/audit.key")).expect("remove key");
    let (code, out, _) = verify();
    assert_eq!(code, 1);
    assert!(out.contains("entries were removed from its end"), "{out}");
    std::fs::remove_file(dir.path().join(".privctl/audit.key.pub")).expect("remove public key");
    let (code, out, _) = verify();
    assert_eq!(code, 1);
    assert!(out.contains("its end is unchecked: no audit key"), "{out}");
}

/// `privctl export` and `export verify`: an archive and token that check
/// out; a changed token refused; an unknown identifier or an unknown person
/// refused with exit 2, leaving the database as it was.
#[test]
fn export_writes_a_verifiable_archive_and_refuses_bad_subjects() {
    let dir = tempfile::tempdir().expect("dir");
    let db = sample(dir.path(), "infrpool");
    let export = |subject: &str| {
        run(privctl()
            .current_dir(dir.path())
            .args(["export", "--policy"])
            .arg(policy("infrpool"))
            .args([
                "--db",
                &url(&db),
                "--subject",
                subject,
                "-o",
                "out.zip",
                "--json",
            ]))
    };
    let before = bytes(&db);
    let (code, _, err) = export("phone=123");
    assert_eq!(code, 2);
    assert!(
        err.contains("\"phone\" is not an identifier of the policy"),
        "{err}"
    );
    let (code, _, err) = export("email=nobody@example.com");
    assert_eq!(code, 2);
    assert!(
        err.contains("no subject has email = \"nobody@example.com\""),
        "{err}"
    );
    assert_eq!(bytes(&db), before, "a refused export changed the database");
    assert!(!dir.path().join("out.zip").exists());

    let (code, out, err) = export("email=user5@example.com");
    assert_eq!(code, 0, "{out}{err}");
    let done: Value = serde_json::from_str(&out).expect("json");
    let token = done["token"].as_str().expect("token").to_owned();
    let types: Vec<&str> = done["manifest"]["data_types"]
        .as_array()
        .expect("types")
        .iter()
        .map(|d| d["name"].as_str().expect("name"))
        .collect();
    assert!(
        types.contains(&"generated_images") && types.contains(&"accounts"),
        "{types:?}"
    );
    let verify = |token: &str| {
        run(privctl()
            .current_dir(dir.path())
            .args(["export", "verify", "out.zip", "--token", token]))
    };
    let (code, out, err) = verify(&token);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("entries match the manifest") && out.contains("the token is valid"),
        "{out}"
    );
    let last = if token.ends_with('0') { "1" } else { "0" };
    let forged = format!("{}{last}", &token[..token.len() - 1]);
    assert_ne!(forged, token);
    let (code, _, err) = verify(&forged);
    assert_eq!(code, 1);
    assert!(
        err.contains("not signed by this key, or was changed"),
        "{err}"
    );
    // The export is in the audit log, which still verifies.
    let (code, out, err) = run(privctl()
        .current_dir(dir.path())
        .args(["audit", "verify", "--policy"])
        .arg(policy("infrpool"))
        .args(["--db", &url(&db)]));
    assert_eq!(code, 0, "{out}{err}");
}

/// `privctl erase request | cancel | status`: deadlines from the regime,
/// the grace period from the policy, overdue requests first, cancellation
/// only within the grace period and where the policy allows it.
#[test]
fn erasure_requests_are_recorded_with_deadlines_and_cancelled_only_in_grace() {
    let dir = tempfile::tempdir().expect("dir");
    let db = sample(dir.path(), "infrpool");
    let erase = |args: &[&str], name: &str, db: &Path| {
        run(privctl()
            .current_dir(dir.path())
            .arg("erase")
            .args(args)
            .args(["--policy"])
            .arg(policy(name))
            .args(["--db", &url(db), "--json"]))
    };
    let (code, out, err) = erase(
        &[
            "request",
            "--subject",
            "email=user5@example.com",
            "--regime",
            "ccpa",
            "--at",
            "2026-11-20T10:00:00Z",
        ],
        "infrpool",
        &db,
    );
    assert_eq!(code, 0, "{out}{err}");
    let late: Value = serde_json::from_str(&out).expect("json");
    // CCPA: 45 days to answer, 10 business days to acknowledge; InfrPool's
    // grace period is 72 hours.
    assert_eq!(late["due_at"], "2027-01-04T10:00:00Z");
    assert_eq!(late["acknowledge_by"], "2026-12-04T10:00:00Z");
    assert_eq!(late["grace_until"], "2026-11-23T10:00:00Z");
    let (code, out, err) = erase(
        &[
            "request",
            "--subject",
            "email=user6@example.com",
            "--regime",
            "gdpr",
            "--at",
            "2026-01-10T00:00:00Z",
        ],
        "infrpool",
        &db,
    );
    assert_eq!(code, 0, "{out}{err}");
    let overdue: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(overdue["due_at"], "2026-02-10T00:00:00Z");
    let (code, out, err) = erase(
        &["request", "--subject", "user_id=8", "--regime", "gdpr"],
        "infrpool",
        &db,
    );
    assert_eq!(code, 0, "{out}{err}");
    let fresh: Value = serde_json::from_str(&out).expect("json");

    let (code, out, _) = erase(&["status"], "infrpool", &db);
    assert_eq!(code, 0);
    let open: Value = serde_json::from_str(&out).expect("json");
    let ids: Vec<i64> = open
        .as_array()
        .expect("array")
        .iter()
        .filter(|r| !r["regime"].is_null())
        .map(|r| r["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(
        ids,
        // The GDPR month from today ends before the CCPA 45 days from
        // four days ago.
        [
            overdue["id"].as_i64(),
            fresh["id"].as_i64(),
            late["id"].as_i64()
        ]
        .map(|i| i.expect("id")),
        "overdue first, then by deadline"
    );

    // Cancelling: within grace yes, after it no, and nothing changes then.
    let id = fresh["id"].as_i64().expect("id").to_string();
    let (code, _, err) = erase(&["cancel", &id], "infrpool", &db);
    assert_eq!(code, 0, "{err}");
    let before = bytes(&db);
    let old = late["id"].as_i64().expect("id").to_string();
    let (code, _, err) = erase(&["cancel", &old], "infrpool", &db);
    assert_eq!(code, 2);
    assert!(
        err.contains("grace period ended at 2026-11-23T10:00:00+00:00"),
        "{err}"
    );
    let (code, _, err) = erase(&["cancel", &id], "infrpool", &db);
    assert_eq!(code, 2);
    assert!(err.contains("already cancelled"), "{err}");
    let (code, _, err) = erase(
        &["request", "--subject", "user_id=9", "--regime", "lgpd"],
        "infrpool",
        &db,
    );
    assert_eq!(code, 2);
    assert!(err.contains("no requests under regime \"lgpd\""), "{err}");
    assert_eq!(bytes(&db), before, "a refused command changed the database");

    // CheapestInference's policy says requests cannot be cancelled.
    let ci = sample(dir.path(), "cheapestinference");
    let (code, out, err) = erase(
        &["request", "--subject", "user_id=3", "--regime", "gdpr"],
        "cheapestinference",
        &ci,
    );
    assert_eq!(code, 0, "{out}{err}");
    let r: Value = serde_json::from_str(&out).expect("json");
    let (code, _, err) = erase(
        &["cancel", &r["id"].as_i64().expect("id").to_string()],
        "cheapestinference",
        &ci,
    );
    assert_eq!(code, 2);
    assert!(err.contains("cannot be cancelled"), "{err}");
}
