//! `privctl erase run` and `privctl receipt verify`: a real process killed
//! at several points and run again ends as one uninterrupted run; receipts
//! verify offline and an edited one is refused; bad input changes nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::util::{privctl, repo_root, run};

const AS_OF: &str = "2026-11-23T00:00:00Z";
/// After InfrPool's 72-hour grace period.
const LATER: &str = "2026-11-27T00:00:00Z";

fn policy(name: &str) -> PathBuf {
    repo_root().join("policies").join(format!("{name}.toml"))
}

/// `privctl` working in `dir` (where files stores go), with the audit key
/// and the vault in `keys` beside it, shared by the directories of a test.
fn cmd(dir: &Path) -> Command {
    let keys = dir.parent().expect("a parent").join("keys");
    std::fs::create_dir_all(dir).expect("work dir");
    std::fs::create_dir_all(&keys).expect("keys dir");
    let mut c = privctl();
    c.current_dir(dir)
        .env("PRIVCTL_AUDIT_KEY_FILE", keys.join("audit.key"))
        .env(
            "PRIVCTL_VAULT_DB",
            format!("sqlite:{}", keys.join("vault.db").display()),
        )
        .env("PRIVCTL_VAULT_KEY_FILE", keys.join("vault.keys"))
        .env_remove("PRIVCTL_VAULT_KEYS")
        .env_remove("PRIVCTL_AUDIT_HEAD");
    c
}

fn erase(dir: &Path, name: &str, db: &str, args: &[&str]) -> Command {
    let mut c = cmd(dir);
    c.arg("erase")
        .args(args)
        .arg("--policy")
        .arg(policy(name))
        .args(["--db", db]);
    c
}

/// Every row of every table (privctl's own aside), as text; random
/// replacements (32 hex digits, new on every run) masked so two runs
/// compare.
async fn rows(url: &str) -> Vec<(String, Vec<String>)> {
    rows_as(url, true).await
}

/// [`rows`], random replacements masked or not.
async fn rows_as(url: &str, mask: bool) -> Vec<(String, Vec<String>)> {
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
            .map(|c| format!("CAST(\"{}\" AS TEXT)", c.name))
            .collect();
        // Names from the live schema of a database this test made.
        let sql = format!("SELECT {} FROM \"{name}\"", cols.join(", "));
        let mut got: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(db.pool())
            .await
            .expect("read")
            .iter()
            .map(|r| {
                (0..table.columns.len())
                    .map(|i| {
                        let v: Option<String> = r.try_get(i).expect("text");
                        match v {
                            None => "NULL".to_owned(),
                            Some(v)
                                if mask
                                    && v.len() == 32
                                    && v.bytes().all(|b| b.is_ascii_hexdigit()) =>
                            {
                                "<random>".to_owned()
                            }
                            Some(v) => v,
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect();
        got.sort();
        out.push((name.clone(), got));
    }
    out
}

/// Samples InfrPool into `db`, records an erasure of user 5 (request 10:
/// the sample records nine first) and returns its id.
fn prepare(dir: &Path, db: &str) -> String {
    let (code, out, err) = run(cmd(dir)
        .args(["sample", "--policy"])
        .arg(policy("infrpool"))
        .args(["--db", db, "--as-of", AS_OF, "--subjects", "30"]));
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run(&mut erase(
        dir,
        "infrpool",
        db,
        &[
            "request",
            "--subject",
            "email=user5@example.com",
            "--regime",
            "gdpr",
            "--at",
            AS_OF,
            "--json",
        ],
    ));
    assert_eq!(code, 0, "{out}{err}");
    let r: Value = serde_json::from_str(&out).expect("json");
    r["id"].as_i64().expect("id").to_string()
}

/// Kills `privctl erase run` (an abort, as `kill -9`) before and inside its
/// batches, after they committed, after the identifiers were dealt with and
/// after the receipt was signed, then runs it again: the data ends as after
/// one uninterrupted run (the same vault, so the same pseudonyms), the
/// receipt's counts are the same, a further run changes nothing, and the
/// audit log is one intact chain.
#[test]
fn a_killed_erasure_rerun_ends_as_an_uninterrupted_one() {
    let rt = privctl_store::testing::runtime();
    let reference = rt.block_on(privctl_store::testing::fresh_databases("erase_ref"));
    let killed = rt.block_on(privctl_store::testing::fresh_databases("erase_kill"));
    let top = tempfile::tempdir().expect("dir");
    let (code, out, err) = run(cmd(&top.path().join("init")).args(["vault", "init"]));
    assert_eq!(code, 0, "{out}{err}");
    for (n, (a, b)) in reference.iter().zip(&killed).enumerate() {
        let (da, db) = (
            top.path().join(format!("a{n}")),
            top.path().join(format!("b{n}")),
        );
        let id = prepare(&da, &a.url);
        assert_eq!(prepare(&db, &b.url), id);
        assert_eq!(
            rt.block_on(rows(&a.url)),
            rt.block_on(rows(&b.url)),
            "samples differ"
        );
        let go = |dir: &Path, url: &str| {
            erase(
                dir,
                "infrpool",
                url,
                &["run", "--as-of", LATER, "--request", &id],
            )
        };

        let (code, out, err) = run(&mut go(&da, &a.url));
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("completed"), "{out}");
        let want = rt.block_on(rows(&a.url));
        let receipt = |dir: &Path, url: &str| {
            let (code, out, err) = run(&mut erase(
                dir,
                "infrpool",
                url,
                &["receipt", &id, "--json"],
            ));
            assert_eq!(code, 0, "{out}{err}");
            let v: Value = serde_json::from_str(&out).expect("json");
            v["receipt"]["data_types"].clone()
        };
        let want_receipt = receipt(&da, &a.url);

        let faults = [
            "erasure-begun:1",
            "statement:1",
            "committed:2",
            "statement:4",
            "committed:6",
            "erasure-replaced:1",
            "erasure-receipt:1",
        ];
        let mut aborted = 0;
        for fault in faults {
            let out = go(&db, &b.url)
                .env("PRIVCTL_FAULT", fault)
                .env("PRIVCTL_FAULT_BATCH", "2")
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
        let (code, out, err) = run(&mut go(&db, &b.url));
        assert_eq!(code, 0, "{out}{err}");
        assert_eq!(
            rt.block_on(rows(&b.url)),
            want,
            "{:?}: killed and rerun differs",
            b.dialect
        );
        assert_eq!(
            receipt(&db, &b.url),
            want_receipt,
            "{:?}: the receipt's counts",
            b.dialect
        );

        // Run again: nothing is left to do, and nothing changes.
        let (code, _, err) = run(&mut go(&db, &b.url));
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("no open erasure request"), "{err}");
        assert_eq!(rt.block_on(rows(&b.url)), want);
        let (code, out, err) = run(cmd(&db)
            .args(["audit", "verify", "--policy"])
            .arg(policy("infrpool"))
            .args(["--db", &b.url]));
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("intact, and reaches the checkpoint"), "{out}");
    }
}

/// A completed erasure writes a signed receipt that `receipt verify`
/// accepts offline with the public key alone; a changed count, an added
/// field, or another key is refused (exit 1).
#[test]
fn receipts_verify_and_edits_are_refused() {
    let top = tempfile::tempdir().expect("dir");
    let dir = &top.path().join("w");
    let db = format!("sqlite:{}", dir.join("ip.db").display());
    let (code, out, err) = run(cmd(dir).args(["vault", "init"]));
    assert_eq!(code, 0, "{out}{err}");
    let id = prepare(dir, &db);
    let (code, out, err) = run(&mut erase(
        dir,
        "infrpool",
        &db,
        &["run", "--as-of", LATER, "--request", &id],
    ));
    assert_eq!(code, 0, "{out}{err}");
    let path = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("signed receipt: "))
        .map(PathBuf::from)
        .expect("receipt path");
    let verify = |file: &Path, key: &Path| {
        run(privctl()
            .args(["receipt", "verify"])
            .arg(file)
            .arg("--audit-key")
            .arg(key))
    };
    // The public half is enough.
    let public = dir.join("elsewhere.key");
    std::fs::copy(
        top.path().join("keys/audit.key.pub"),
        dir.join("elsewhere.key.pub"),
    )
    .expect("copy");
    let (code, out, err) = verify(&path, &public);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("a valid receipt of erasure request {id}")),
        "{out}"
    );

    let text = std::fs::read_to_string(&path).expect("receipt");
    let edits = [
        text.replacen("\"deleted\": 4", "\"deleted\": 3", 1),
        text.replacen("\"kept\": 0", "\"kept\": 1", 1),
        text.replacen(
            "\"vault_shredded\": false",
            "\"vault_shredded\": false, \"note\": \"x\"",
            1,
        ),
    ];
    for (i, edited) in edits.iter().enumerate() {
        assert_ne!(edited, &text, "edit {i} changed nothing");
        let f = dir.join(format!("edited{i}.json"));
        std::fs::write(&f, edited).expect("write");
        let (code, _, err) = verify(&f, &public);
        assert_eq!(code, 1, "edit {i} accepted");
        assert!(err.contains("receipt"), "{err}");
    }
    // Another key.
    let other = dir.join("other.key");
    privctl_audit::Signer::load_or_create(&other).expect("another key");
    let (code, _, err) = verify(&path, &other);
    assert_eq!(code, 1);
    assert!(err.contains("another key"), "{err}");
}

/// Bad input to `erase run`: a request that is not open, a policy with
/// errors, an unreachable database: a clear error, a non-zero exit, and
/// the database unchanged.
#[test]
fn erase_run_refuses_bad_input_and_changes_nothing() {
    let top = tempfile::tempdir().expect("dir");
    let dir = &top.path().join("w");
    let file = dir.join("ip.db");
    let db = format!("sqlite:{}", file.display());
    let (code, out, err) = run(cmd(dir).args(["vault", "init"]));
    assert_eq!(code, 0, "{out}{err}");
    prepare(dir, &db);
    let before = std::fs::read(&file).expect("db");

    let (code, _, err) = run(&mut erase(
        dir,
        "infrpool",
        &db,
        &["run", "--as-of", LATER, "--request", "999"],
    ));
    assert_eq!(code, 2);
    assert!(err.contains("no open erasure request 999"), "{err}");

    let broken = dir.join("broken.toml");
    let text = std::fs::read_to_string(policy("infrpool")).expect("policy");
    std::fs::write(
        &broken,
        text.replace("period = \"90d\"", "period = \"ninety days\""),
    )
    .expect("write");
    let (code, _, err) = run(cmd(dir)
        .args(["erase", "run", "--as-of", LATER, "--policy"])
        .arg(&broken)
        .args(["--db", &db]));
    assert_eq!(code, 1);
    assert!(err.contains("has errors; nothing was changed"), "{err}");

    let (code, _, err) = run(&mut erase(
        dir,
        "infrpool",
        "postgres://privctl:secret@127.0.0.1:1/none",
        &["run", "--as-of", LATER],
    ));
    assert_eq!(code, 2);
    assert!(!err.contains("secret"), "{err}");
    assert_eq!(
        std::fs::read(&file).expect("db"),
        before,
        "a refused run changed the database"
    );

    // A dry run changes nothing either.
    let (code, out, err) = run(&mut erase(
        dir,
        "infrpool",
        &db,
        &["run", "--as-of", LATER, "--dry-run"],
    ));
    assert_eq!(
        code, 1,
        "the held subject's request cannot be done: {out}{err}"
    );
    assert!(out.contains("would be carried out"), "{out}");
    assert_eq!(
        std::fs::read(&file).expect("db"),
        before,
        "a dry run changed the database"
    );
}

/// Copies the database at `url` (a backup) or puts a copy back over it (a
/// restore): the SQLite file, or a PostgreSQL database made from another
/// as its template.
async fn copy_database(from: &str, to: &str) {
    if let (Some(f), Some(t)) = (from.strip_prefix("sqlite:"), to.strip_prefix("sqlite:")) {
        for suffix in ["-wal", "-shm", "-journal"] {
            let _ = std::fs::remove_file(format!("{t}{suffix}"));
        }
        std::fs::copy(f, t).expect("copy the database file");
        return;
    }
    let admin = privctl_store::testing::postgres_admin().expect("a test server");
    let name = |u: &str| u.rsplit('/').next().expect("a database name").to_owned();
    let (f, t) = (name(from), name(to));
    for n in [&f, &t] {
        assert!(
            n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "{n}"
        );
    }
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&admin).await.expect("admin");
    // Names checked above, made by the test.
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {t}")))
        .execute(&pool)
        .await
        .expect("drop");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE {t} TEMPLATE {f}"
    )))
    .execute(&pool)
    .await
    .expect("copy");
    pool.close().await;
}

/// A database restored from a backup taken before an erasure: `audit
/// verify` sees that the log no longer reaches its checkpoint; `erase
/// replay` erases the person again from the signed receipt, moves the
/// checkpoint with the restore on the record, and leaves every other row
/// byte for byte as the backup had it; run again, it changes nothing.
#[test]
fn a_restored_backup_is_erased_again_by_replay() {
    let rt = privctl_store::testing::runtime();
    let dbs = rt.block_on(privctl_store::testing::fresh_databases("replay"));
    let backups = rt.block_on(privctl_store::testing::fresh_databases("replay_bak"));
    let top = tempfile::tempdir().expect("dir");
    let (code, out, err) = run(cmd(&top.path().join("init")).args(["vault", "init"]));
    assert_eq!(code, 0, "{out}{err}");
    for (n, (live, bak)) in dbs.iter().zip(&backups).enumerate() {
        let dir = top.path().join(format!("w{n}"));
        let id = prepare(&dir, &live.url);
        rt.block_on(copy_database(&live.url, &bak.url));
        let backup_rows = rt.block_on(rows_as(&live.url, false));

        let (code, out, err) = run(&mut erase(
            &dir,
            "infrpool",
            &live.url,
            &["run", "--as-of", LATER, "--request", &id],
        ));
        assert_eq!(code, 0, "{out}{err}");
        let erased = rt.block_on(rows(&live.url));
        let erased_raw = rt.block_on(rows_as(&live.url, false));
        assert_ne!(erased_raw, backup_rows, "the erasure changed nothing");

        rt.block_on(copy_database(&bak.url, &live.url));
        assert_eq!(
            rt.block_on(rows_as(&live.url, false)),
            backup_rows,
            "the restore"
        );
        let verify = || {
            run(cmd(&dir)
                .args(["audit", "verify", "--policy"])
                .arg(policy("infrpool"))
                .args(["--db", &live.url]))
        };
        let (code, out, err) = verify();
        assert_eq!(code, 1, "a restored log passed as intact: {out}{err}");
        // Not without saying it was a restore: that is what tampering
        // looks like too.
        let (code, _, err) = run(&mut erase(&dir, "infrpool", &live.url, &["replay"]));
        assert_eq!(code, 1);
        assert!(err.contains("--restored"), "{err}");
        assert_eq!(
            rt.block_on(rows_as(&live.url, false)),
            backup_rows,
            "a refused replay changed something"
        );

        let (code, out, err) = run(&mut erase(
            &dir,
            "infrpool",
            &live.url,
            &["replay", "--restored"],
        ));
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("a restore; recorded"), "{out}");
        assert!(
            out.contains(&format!("request {id} (subject 5): erased again")),
            "{out}"
        );
        assert_eq!(
            rt.block_on(rows(&live.url)),
            erased,
            "{:?}: replayed differs from the erasure",
            live.dialect
        );
        // Every row the erasure left alone is byte for byte the backup's.
        let replayed = rt.block_on(rows_as(&live.url, false));
        for ((table, was), (_, now)) in backup_rows.iter().zip(&replayed) {
            let untouched = erased_raw
                .iter()
                .find(|(t, _)| t == table)
                .map(|(_, r)| r)
                .expect("table");
            for row in was.iter().filter(|r| untouched.contains(r)) {
                assert!(
                    now.contains(row),
                    "{:?}: {table}: {row} changed",
                    live.dialect
                );
            }
        }
        let (code, out, err) = verify();
        assert_eq!(code, 0, "{out}{err}");

        let (code, out, err) = run(&mut erase(
            &dir,
            "infrpool",
            &live.url,
            &["replay", "--restored"],
        ));
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("nothing left to erase"), "{out}");
        assert_eq!(
            rt.block_on(rows_as(&live.url, false)),
            replayed,
            "a second replay changed something"
        );
    }
}

/// The other rights: recorded with the regime's deadlines (CCPA's
/// acknowledgement for a correction, 15 business days for an opt-out of
/// sale), refused where the law grants no such right, listed overdue first
/// in `request status`, closed by hand; an erasure cannot be closed so.
#[test]
fn other_rights_are_recorded_with_deadlines_and_closed() {
    let top = tempfile::tempdir().expect("dir");
    let dir = &top.path().join("w");
    let db = format!("sqlite:{}", dir.join("hub.db").display());
    let (code, out, err) = run(cmd(dir)
        .args(["sample", "--policy"])
        .arg(policy("inferencehub"))
        .args(["--db", &db, "--as-of", AS_OF, "--subjects", "20"]));
    assert_eq!(code, 0, "{out}{err}");
    let request = |args: &[&str]| {
        run(cmd(dir)
            .arg("request")
            .args(args)
            .arg("--policy")
            .arg(policy("inferencehub"))
            .args(["--db", &db, "--json"]))
    };
    let add = |right: &str, who: &str, regime: &str, at: &str| {
        let (code, out, err) = request(&[
            "add",
            right,
            "--subject",
            who,
            "--regime",
            regime,
            "--at",
            at,
        ]);
        assert_eq!(code, 0, "{right}: {out}{err}");
        serde_json::from_str::<Value>(&out).expect("json")
    };
    // Friday 2026-11-20.
    let correction = add("correction", "user_id=3", "ccpa", "2026-11-20T10:00:00Z");
    assert_eq!(correction["kind"], "correction");
    assert_eq!(correction["due_at"], "2027-01-04T10:00:00Z");
    assert_eq!(correction["acknowledge_by"], "2026-12-04T10:00:00Z");
    assert_eq!(correction["grace_until"], Value::Null);
    let opt_out = add(
        "opt-out-of-sale",
        "user_id=4",
        "ccpa",
        "2026-11-20T10:00:00Z",
    );
    assert_eq!(opt_out["kind"], "opt_out_of_sale");
    assert_eq!(opt_out["due_at"], "2026-12-11T10:00:00Z");
    let restriction = add(
        "restriction",
        "email=user5@example.com",
        "gdpr",
        "2026-10-01T00:00:00Z",
    );
    assert_eq!(restriction["due_at"], "2026-11-01T00:00:00Z");
    let objection = add("objection", "user_id=6", "gdpr", "2026-11-20T00:00:00Z");

    // The law grants no such right: refused, nothing recorded.
    let file = dir.join("hub.db");
    let before = std::fs::read(&file).expect("db");
    let (code, _, err) = request(&[
        "add",
        "restriction",
        "--subject",
        "user_id=3",
        "--regime",
        "ccpa",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("ccpa grants no right of restriction"), "{err}");
    let (code, _, err) = request(&[
        "add",
        "forgetting",
        "--subject",
        "user_id=3",
        "--regime",
        "gdpr",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("is not a right"), "{err}");
    assert_eq!(std::fs::read(&file).expect("db"), before);

    let (code, out, err) = request(&["status"]);
    assert_eq!(code, 0, "{err}");
    let open: Value = serde_json::from_str(&out).expect("json");
    let ours: Vec<i64> = open
        .as_array()
        .expect("array")
        .iter()
        .filter(|r| !r["regime"].is_null())
        .map(|r| r["id"].as_i64().expect("id"))
        .collect();
    let id = |v: &Value| v["id"].as_i64().expect("id");
    // The restriction is overdue; then by deadline.
    assert_eq!(
        ours,
        [
            id(&restriction),
            id(&opt_out),
            id(&objection),
            id(&correction)
        ]
    );

    let (code, out, err) = request(&[
        "close",
        &id(&correction).to_string(),
        "--note",
        "email fixed",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = request(&["close", &id(&correction).to_string()]);
    assert_eq!(code, 2);
    assert!(err.contains("already closed"), "{err}");
    let (code, out, err) = run(&mut erase(
        dir,
        "inferencehub",
        &db,
        &[
            "request",
            "--subject",
            "user_id=8",
            "--regime",
            "gdpr",
            "--json",
        ],
    ));
    assert_eq!(code, 0, "{out}{err}");
    let erasure: Value = serde_json::from_str(&out).expect("json");
    let (code, _, err) = request(&["close", &id(&erasure).to_string()]);
    assert_eq!(code, 2);
    assert!(err.contains("erase run"), "{err}");
    let (code, out, _) = request(&["status"]);
    assert_eq!(code, 0);
    assert!(
        !out.contains(&format!("\"id\":{}", id(&correction))),
        "{out}"
    );
}

/// DPDP's inactivity erasure on InferexAI: people inactive for three years
/// get a notice (an erasure request whose grace period is 48 hours); one of
/// them comes back within it and their request is withdrawn with nothing
/// touched; the others are erased when the notice has passed.
#[test]
fn inactive_accounts_get_a_notice_and_are_erased_unless_they_come_back() {
    let top = tempfile::tempdir().expect("dir");
    let dir = &top.path().join("w");
    let file = dir.join("x.db");
    let db = format!("sqlite:{}", file.display());
    let (code, out, err) = run(cmd(dir)
        .args(["sample", "--policy"])
        .arg(policy("inferexai"))
        .args(["--db", &db, "--as-of", AS_OF, "--subjects", "40"]));
    assert_eq!(code, 0, "{out}{err}");
    let go = |args: &[&str]| run(&mut erase(dir, "inferexai", &db, args));

    let before = std::fs::read(&file).expect("db");
    let (code, out, err) = go(&["inactive", "--as-of", AS_OF, "--dry-run", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let dry: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        std::fs::read(&file).expect("db"),
        before,
        "a dry run recorded something"
    );
    let (code, out, err) = go(&["inactive", "--as-of", AS_OF, "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let done: Value = serde_json::from_str(&out).expect("json");
    let noticed = done["noticed"].as_array().expect("noticed");
    assert!(
        noticed.len() >= 2,
        "too few inactive people in the sample: {out}"
    );
    assert_eq!(noticed.len(), dry["noticed"].as_array().expect("dry").len());
    for r in noticed {
        assert_eq!(r["origin"], "inactivity");
        assert_eq!(r["grace_until"], "2026-11-25T00:00:00Z", "48 hours' notice");
    }
    // A second pass gives nobody a second notice.
    let (code, out, _) = go(&["inactive", "--as-of", "2026-11-24T00:00:00Z", "--json"]);
    assert_eq!(code, 0);
    let again: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        again["noticed"].as_array().expect("noticed").len(),
        0,
        "{out}"
    );

    // The first comes back during the notice.
    let back = noticed[0]["subject"].as_str().expect("subject").to_owned();
    let rt = privctl_store::testing::runtime();
    rt.block_on(async {
        let d = privctl_store::Db::open("main", &db, privctl_store::Open::Existing)
            .await
            .expect("open");
        sqlx::query("UPDATE users SET last_active_at = '2026-11-24 09:00:00' WHERE id = $1")
            .bind(back.parse::<i64>().expect("id"))
            .execute(d.pool())
            .await
            .expect("activity");
    });
    let rows_before = rt.block_on(rows_as(&db, false));
    // Within the notice nothing happens.
    let (code, out, err) = go(&["run", "--as-of", "2026-11-24T12:00:00Z"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("waiting"), "{out}");
    assert_eq!(rt.block_on(rows_as(&db, false)), rows_before);

    let (code, out, err) = go(&["run", "--as-of", "2026-11-26T00:00:00Z", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let outcomes: Value = serde_json::from_str(&out).expect("json");
    for o in outcomes.as_array().expect("outcomes") {
        if o["request"]["origin"] != "inactivity" {
            continue;
        }
        let who = o["request"]["subject"].as_str().expect("subject");
        let want = if who == back {
            "withdrawn"
        } else {
            "completed"
        };
        assert_eq!(o["state"], want, "{who}: {o}");
    }
    // The one who came back is as they were; the others' accounts are not.
    let after = rt.block_on(rows_as(&db, false));
    let users = |rows: &Vec<(String, Vec<String>)>| {
        rows.iter()
            .find(|(t, _)| t == "users")
            .map(|(_, r)| r.clone())
            .expect("users")
    };
    let mine = |rows: Vec<String>, who: &str| {
        rows.into_iter()
            .filter(|r| r.split('|').next() == Some(who))
            .collect::<Vec<_>>()
    };
    assert_eq!(mine(users(&after), &back), mine(users(&rows_before), &back));
    let gone = noticed[1]["subject"].as_str().expect("subject");
    assert_ne!(mine(users(&after), gone), mine(users(&rows_before), gone));
}
