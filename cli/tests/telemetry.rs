//! Infercast through the binary, its accounts on SQLite or PostgreSQL and
//! its telemetry on a real ClickHouse server: a sweep and an erasure killed
//! (an abort, as `kill -9`) while ClickHouse drops a partition or carries
//! out a mutation, then run again, end as uninterrupted ones in both stores,
//! each change counted once in the run log and on the receipt.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use privctl_store::clickhouse::ClickHouse;
use privctl_store::sql::Sql;
use serde_json::Value;

use crate::util::{privctl, repo_root, run};

/// Midday, so each period's cutoff falls inside a day's partition.
const AS_OF: &str = "2026-11-01T12:00:00Z";

fn policy() -> PathBuf {
    repo_root().join("policies").join("infercast.toml")
}

/// `privctl` in `dir`, with its audit key there and the ClickHouse URL.
fn cmd(dir: &Path, ch: &str) -> Command {
    std::fs::create_dir_all(dir).expect("dir");
    let mut c = privctl();
    c.current_dir(dir)
        .env("PRIVCTL_AUDIT_KEY_FILE", dir.join("audit.key"))
        .env("INFERCAST_CLICKHOUSE_URL", ch)
        .env_remove("PRIVCTL_AUDIT_HEAD");
    c
}

/// Every telemetry row, as text, by table.
async fn telemetry(url: &str) -> BTreeMap<String, Vec<String>> {
    let ch = ClickHouse::open("telemetry", url).await.expect("open");
    let mut out = BTreeMap::new();
    for t in ch.tables().await.expect("tables") {
        let name = privctl_policy::SqlIdent::new(&t.name).expect("name");
        let mut q = Sql::new();
        q.push("SELECT * FROM ").ident(&name);
        let mut rows: Vec<String> = ch
            .rows(&q, "reading", None)
            .await
            .expect("rows")
            .iter()
            .map(|r| serde_json::to_string(r).expect("json"))
            .collect();
        rows.sort();
        out.insert(t.name, rows);
    }
    out
}

/// Rows of a day the usage cutoff falls inside, and of an old day the held
/// person shares with another: so a sweep both drops partitions and runs a
/// mutation.
async fn add_rows(url: &str) {
    let ch = ClickHouse::open("telemetry", url).await.expect("open");
    let rows: Vec<serde_json::Map<String, Value>> = [
        ("2025-11-01 11:00:00", "3"),
        ("2025-11-01 13:00:00", "3"),
        ("2024-03-03 10:00:00", "7"),
        ("2024-03-03 11:00:00", "4"),
    ]
    .iter()
    .map(|(t, u)| {
        serde_json::json!({"timestamp": t, "user_id": u, "organization_id": 1, "model": "m"})
            .as_object()
            .expect("object")
            .clone()
    })
    .collect();
    ch.insert(
        &privctl_policy::SqlIdent::new("usage_metrics").expect("name"),
        &rows,
        "adding rows",
    )
    .await
    .expect("insert");
}

/// Rows changed per data type and action over every run.
fn logged(dir: &Path, ch: &str, db: &str) -> BTreeMap<(String, String), i64> {
    let (code, out, err) = run(cmd(dir, ch)
        .args(["runs", "--json", "--last", "1000", "--policy"])
        .arg(policy())
        .args(["--db", db]));
    assert_eq!(code, 0, "{err}");
    let runs: Value = serde_json::from_str(&out).expect("json");
    let mut totals = BTreeMap::new();
    for r in runs.as_array().expect("runs") {
        for b in r["batches"].as_array().expect("batches") {
            *totals
                .entry((
                    b[0].as_str().expect("dt").to_owned(),
                    b[1].as_str().expect("action").to_owned(),
                ))
                .or_insert(0) += b[2].as_i64().expect("n");
        }
    }
    totals
}

fn aborted(c: &mut Command, fault: &str) -> bool {
    let out = c
        .env("PRIVCTL_FAULT", fault)
        .output()
        .expect("privctl runs");
    out.status.code().is_none()
}

#[test]
fn killed_sweeps_and_erasures_across_both_stores_rerun_to_the_same_end() {
    let rt = privctl_store::testing::runtime();
    let reference = rt.block_on(privctl_store::testing::fresh_databases("tele_ref"));
    let killed = rt.block_on(privctl_store::testing::fresh_databases("tele_kill"));
    let top = tempfile::tempdir().expect("dir");
    for (n, (a, b)) in reference.iter().zip(&killed).enumerate() {
        let (Some(cha), Some(chb)) = (
            rt.block_on(privctl_store::testing::fresh_clickhouse("tele_ref")),
            rt.block_on(privctl_store::testing::fresh_clickhouse("tele_kill")),
        ) else {
            return;
        };
        let (da, db) = (
            top.path().join(format!("a{n}")),
            top.path().join(format!("b{n}")),
        );
        for (dir, ch, url) in [(&da, &cha, &a.url), (&db, &chb, &b.url)] {
            let (code, out, err) = run(cmd(dir, ch)
                .args(["sample", "--policy"])
                .arg(policy())
                .args(["--db", url, "--as-of", AS_OF, "--subjects", "25"]));
            assert_eq!(code, 0, "{out}{err}");
            rt.block_on(add_rows(ch));
        }
        assert_eq!(
            rt.block_on(telemetry(&cha)),
            rt.block_on(telemetry(&chb)),
            "samples differ"
        );
        let sweep = |dir: &Path, ch: &str, url: &str| {
            let mut c = cmd(dir, ch);
            c.args(["sweep", "--policy"])
                .arg(policy())
                .args(["--db", url, "--as-of", AS_OF]);
            c
        };

        // The sweep, whole, then killed and rerun.
        let (code, out, err) = run(&mut sweep(&da, &cha, &a.url));
        assert_eq!(code, 0, "{out}{err}");
        let want = rt.block_on(telemetry(&cha));
        let want_log = logged(&da, &cha, &a.url);
        assert!(
            want_log
                .keys()
                .any(|(_, action)| action == "drop_partition")
                && want_log
                    .keys()
                    .any(|(dt, action)| dt == "usage_metrics" && action == "delete"),
            "{want_log:?}"
        );
        let faults = [
            "clickhouse-intent:1",
            "partition-dropped:2",
            "clickhouse-intent:3",
            "mutation-done:1",
        ];
        for fault in faults {
            assert!(
                aborted(&mut sweep(&db, &chb, &b.url), fault),
                "{:?}: {fault} did not stop the sweep",
                b.dialect
            );
        }
        let (code, out, err) = run(&mut sweep(&db, &chb, &b.url));
        assert_eq!(code, 0, "{out}{err}");
        assert_eq!(
            rt.block_on(telemetry(&chb)),
            want,
            "{:?}: telemetry",
            b.dialect
        );
        assert_eq!(
            logged(&db, &chb, &b.url),
            want_log,
            "{:?}: counted once",
            b.dialect
        );

        // An erasure spanning both stores, whole, then killed and rerun.
        let request = |dir: &Path, ch: &str, url: &str| -> String {
            let (code, out, err) = run(cmd(dir, ch)
                .args(["erase", "request", "--policy"])
                .arg(policy())
                .args([
                    "--db",
                    url,
                    "--subject",
                    "user_id=5",
                    "--regime",
                    "gdpr",
                    "--at",
                    AS_OF,
                    "--json",
                ]));
            assert_eq!(code, 0, "{out}{err}");
            let v: Value = serde_json::from_str(&out).expect("json");
            v["id"].as_i64().expect("id").to_string()
        };
        let ida = request(&da, &cha, &a.url);
        let idb = request(&db, &chb, &b.url);
        let erase = |dir: &Path, ch: &str, url: &str, id: &str| {
            let mut c = cmd(dir, ch);
            c.args(["erase", "run", "--policy"]).arg(policy()).args([
                "--db",
                url,
                "--as-of",
                AS_OF,
                "--request",
                id,
            ]);
            c
        };
        let (code, out, err) = run(&mut erase(&da, &cha, &a.url, &ida));
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("completed"), "{out}");
        let want = rt.block_on(telemetry(&cha));
        let receipt = |dir: &Path, ch: &str, url: &str, id: &str| {
            let (code, out, err) = run(cmd(dir, ch)
                .args(["erase", "receipt", id, "--json", "--policy"])
                .arg(policy())
                .args(["--db", url]));
            assert_eq!(code, 0, "{out}{err}");
            let v: Value = serde_json::from_str(&out).expect("json");
            v["receipt"]["data_types"].clone()
        };
        let want_receipt = receipt(&da, &cha, &a.url, &ida);
        for fault in ["clickhouse-intent:1", "mutation-done:1"] {
            assert!(
                aborted(&mut erase(&db, &chb, &b.url, &idb), fault),
                "{:?}: {fault} did not stop the erasure",
                b.dialect
            );
        }
        let (code, out, err) = run(&mut erase(&db, &chb, &b.url, &idb));
        assert_eq!(code, 0, "{out}{err}");
        assert_eq!(
            rt.block_on(telemetry(&chb)),
            want,
            "{:?}: erased telemetry",
            b.dialect
        );
        assert_eq!(
            receipt(&db, &chb, &b.url, &idb),
            want_receipt,
            "{:?}: the receipt counts each row once",
            b.dialect
        );
        let (code, out, err) = run(cmd(&db, &chb)
            .args(["audit", "verify", "--policy"])
            .arg(policy())
            .args(["--db", &b.url]));
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("intact, and reaches the checkpoint"), "{out}");
    }
}

/// `check --db` reads a ClickHouse store too: a column the policy names that
/// the table lacks, and one the table has that nobody classified, are
/// schema drift naming the store and table; an 18.16 server is said to have
/// no TTL to compare.
#[test]
fn check_db_reads_the_clickhouse_store() {
    let rt = privctl_store::testing::runtime();
    let Some(ch) = rt.block_on(privctl_store::testing::fresh_clickhouse("tele_check")) else {
        return;
    };
    let top = tempfile::tempdir().expect("dir");
    let db = format!("sqlite:{}", top.path().join("accounts.db").display());
    let (code, out, err) = run(cmd(top.path(), &ch)
        .args(["sample", "--policy"])
        .arg(policy())
        .args(["--db", &db, "--as-of", AS_OF, "--subjects", "5"]));
    assert_eq!(code, 0, "{out}{err}");
    let check = || {
        run(cmd(top.path(), &ch)
            .arg("check")
            .arg(policy())
            .args(["--db", &db]))
    };
    let (code, out, err) = check();
    assert_eq!(code, 0, "{out}{err}");
    rt.block_on(async {
        let c = ClickHouse::open("telemetry", &ch).await.expect("open");
        let mut s = Sql::new();
        s.push("ALTER TABLE request_logs DROP COLUMN latency_ms, ADD COLUMN client_ip String");
        c.execute(&s, "test", None).await.expect("alter");
    });
    let (code, out, err) = check();
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("error: store telemetry: column \"request_logs.latency_ms\" (data type \"request_logs\") does not exist in the database"),
        "{out}"
    );
    assert!(
        out.contains("error: store telemetry: column \"request_logs.client_ip\" is in the database but data type \"request_logs\" does not classify it"),
        "{out}"
    );
    if version_of(&rt, &ch) < (19, 6) {
        assert!(err.contains("has no table TTL to compare"), "{err}");
    }
}

/// The server's major and minor version.
fn version_of(rt: &tokio::runtime::Runtime, url: &str) -> (u32, u32) {
    rt.block_on(async {
        let v = ClickHouse::open("telemetry", url)
            .await
            .expect("open")
            .version();
        (v.0, v.1)
    })
}
