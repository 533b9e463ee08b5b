//! The audit log on SQLite and PostgreSQL: every way of tampering with it
//! (an entry edited, removed, inserted, moved, its tail cut, the whole chain
//! rewritten) is found, naming the first bad entry.

use chrono::{DateTime, Utc};
use privctl_audit::{advance, entry_hash, record, verify, Checkpoint, Signer};
use privctl_store::testing::{fresh_databases, runtime};
use privctl_store::{Db, Open, Row};
use serde_json::json;

fn t(n: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + n * 60, 0).expect("time")
}

async fn exec(db: &Db, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(db.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// A log of ten entries with a checkpoint of its head.
async fn log(db: &Db, dir: &std::path::Path) -> (Signer, std::path::PathBuf) {
    for i in 1..=10 {
        let subject = (i % 3 == 0).then(|| format!("user-{i}"));
        record(
            db,
            "test.event",
            subject.as_deref(),
            &json!({ "n": i }),
            t(i),
        )
        .await
        .expect("record");
    }
    let (signer, _) = Signer::load_or_create(&dir.join("audit.key")).expect("key");
    let head = dir.join("audit.head");
    advance(db, &signer, &head, t(11))
        .await
        .expect("checkpoint");
    (signer, head)
}

async fn problem(db: &Db, signer: &Signer, head: &std::path::Path) -> Option<(i64, String)> {
    let c = Checkpoint::read(head, &signer.public()).expect("checkpoint");
    verify(db, c.as_ref())
        .await
        .expect("verify")
        .problem
        .map(|p| (p.seq, p.what))
}

async fn hash_of(db: &Db, seq: i64) -> String {
    sqlx::query("SELECT hash FROM privctl_audit WHERE seq = $1")
        .bind(seq)
        .fetch_one(db.pool())
        .await
        .expect("hash")
        .try_get("hash")
        .expect("hash")
}

#[test]
fn every_kind_of_tampering_is_found() {
    let rt = runtime();
    type Tamper = fn(&Db) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>>;
    let cases: Vec<(&str, Tamper, i64, &str)> = vec![
        (
            "edited",
            |db| {
                Box::pin(exec(
                    db,
                    "UPDATE privctl_audit SET body = '{\"n\":40}' WHERE seq = 4",
                ))
            },
            4,
            "entry 4 was changed",
        ),
        (
            "subject edited",
            |db| {
                Box::pin(exec(
                    db,
                    "UPDATE privctl_audit SET subject = 'user-7' WHERE seq = 6",
                ))
            },
            6,
            "entry 6 was changed",
        ),
        (
            "removed",
            |db| Box::pin(exec(db, "DELETE FROM privctl_audit WHERE seq = 4")),
            4,
            "entry 4 is missing",
        ),
        (
            "inserted",
            |db| {
                Box::pin(async move {
                    // Make room after entry 4, then a well-formed entry 5.
                    exec(db, "UPDATE privctl_audit SET seq = -seq WHERE seq >= 5").await;
                    exec(db, "UPDATE privctl_audit SET seq = 1 - seq WHERE seq < 0").await;
                    let prev = hash_of(db, 4).await;
                    let body = "{\"n\":\"forged\"}";
                    let hash = entry_hash(5, 1_800_000_000, "test.event", None, body, &prev);
                    sqlx::query("INSERT INTO privctl_audit (seq, at, kind, subject, body, prev, hash) VALUES (5, 1800000000, 'test.event', NULL, $1, $2, $3)")
                        .bind(body)
                        .bind(&prev)
                        .bind(&hash)
                        .execute(db.pool())
                        .await
                        .expect("insert");
                })
            },
            6,
            "entry 6 does not follow entry 5",
        ),
        (
            "moved",
            |db| {
                Box::pin(async move {
                    exec(db, "UPDATE privctl_audit SET seq = 100 WHERE seq = 4").await;
                    exec(db, "UPDATE privctl_audit SET seq = 4 WHERE seq = 5").await;
                    exec(db, "UPDATE privctl_audit SET seq = 5 WHERE seq = 100").await;
                })
            },
            4,
            "entry 4 does not follow entry 3",
        ),
        (
            "tail cut",
            |db| Box::pin(exec(db, "DELETE FROM privctl_audit WHERE seq > 7")),
            8,
            "entries were removed from its end",
        ),
        (
            "rewritten",
            |db| {
                Box::pin(async move {
                    // Someone without the key edits entry 4 and rehashes
                    // every entry after it: the chain is whole again, but
                    // no longer the one checkpointed.
                    exec(
                        db,
                        "UPDATE privctl_audit SET body = '{\"n\":40}' WHERE seq = 4",
                    )
                    .await;
                    for seq in 4..=10 {
                        let prev = hash_of(db, seq - 1).await;
                        let r = sqlx::query(
                            "SELECT at, kind, subject, body FROM privctl_audit WHERE seq = $1",
                        )
                        .bind(seq)
                        .fetch_one(db.pool())
                        .await
                        .expect("row");
                        let hash = entry_hash(
                            seq,
                            r.try_get("at").expect("at"),
                            &r.try_get::<String, _>("kind").expect("kind"),
                            r.try_get::<Option<String>, _>("subject")
                                .expect("subject")
                                .as_deref(),
                            &r.try_get::<String, _>("body").expect("body"),
                            &prev,
                        );
                        sqlx::query("UPDATE privctl_audit SET prev = $1, hash = $2 WHERE seq = $3")
                            .bind(&prev)
                            .bind(&hash)
                            .bind(seq)
                            .execute(db.pool())
                            .await
                            .expect("rehash");
                    }
                })
            },
            10,
            "entry 10 is not the one checkpointed",
        ),
    ];
    for (name, tamper, seq, what) in cases {
        for test_db in rt.block_on(fresh_databases("audit")) {
            rt.block_on(async {
                let db = Db::open("main", &test_db.url, Open::Create)
                    .await
                    .expect("open");
                let (signer, head) = log(&db, test_db.dir.path()).await;
                assert_eq!(problem(&db, &signer, &head).await, None, "{name}: before");
                tamper(&db).await;
                let found = problem(&db, &signer, &head).await;
                let (at, message) =
                    found.unwrap_or_else(|| panic!("{name} on {:?}: not found", test_db.dialect));
                assert_eq!(at, seq, "{name} on {:?}: {message}", test_db.dialect);
                assert!(message.contains(what), "{name}: {message}");
                // Nor will a new checkpoint paper over it: a writer checks
                // from the last checkpoint on (an edit before it stays
                // visible to `verify` whatever is signed later), and the
                // whole log when there is no checkpoint.
                if matches!(name, "tail cut" | "rewritten") {
                    let err = advance(&db, &signer, &head, t(20))
                        .await
                        .expect_err("advance");
                    assert!(
                        err.to_string().contains("privctl audit verify"),
                        "{name}: {err}"
                    );
                } else {
                    std::fs::remove_file(&head).expect("remove checkpoint");
                    let err = advance(&db, &signer, &head, t(20))
                        .await
                        .expect_err("advance");
                    assert!(
                        err.to_string().contains("privctl audit verify"),
                        "{name}: {err}"
                    );
                }
            });
        }
    }
}

#[test]
fn concurrent_appends_keep_one_chain() {
    let rt = runtime();
    for test_db in rt.block_on(fresh_databases("audit_race")) {
        rt.block_on(async {
            let db = Db::open("main", &test_db.url, Open::Create)
                .await
                .expect("open");
            privctl_audit::ensure(&db).await.expect("ensure");
            let mut tasks = Vec::new();
            for w in 0..4 {
                let db = db.clone();
                tasks.push(tokio::spawn(async move {
                    for i in 0..15 {
                        if w % 2 == 0 {
                            record(&db, "race", None, &json!({ "w": w, "i": i }), t(i))
                                .await
                                .expect("record");
                        } else {
                            // Inside a transaction that holds no lock of
                            // privctl's own, as a sweep's batch does.
                            db.write_with(privctl_store::Lock::Rows, async |c| {
                                privctl_audit::append(
                                    &db,
                                    c,
                                    "race",
                                    None,
                                    &json!({ "w": w, "i": i }),
                                    t(i),
                                )
                                .await
                            })
                            .await
                            .expect("append");
                        }
                    }
                }));
            }
            for task in tasks {
                task.await.expect("task");
            }
            let v = verify(&db, None).await.expect("verify");
            assert_eq!(v.problem, None);
            assert_eq!(v.entries, 60);
        });
    }
}

/// Rows numbered outside the chain are found too.
#[test]
fn entries_outside_the_chain_are_found() {
    let rt = runtime();
    for test_db in rt.block_on(fresh_databases("audit_outside")) {
        rt.block_on(async {
            let db = Db::open("main", &test_db.url, Open::Create)
                .await
                .expect("open");
            let (signer, head) = log(&db, test_db.dir.path()).await;
            exec(&db, "INSERT INTO privctl_audit (seq, at, kind, subject, body, prev, hash) VALUES (0, 0, 'forged', NULL, '{}', 'x', 'y')").await;
            let (seq, what) = problem(&db, &signer, &head).await.expect("found");
            assert_eq!(seq, 0);
            assert!(what.contains("outside it"), "{what}");
        });
    }
}
