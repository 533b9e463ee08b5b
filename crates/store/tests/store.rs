//! The store layer on a real SQLite file and, where the tests have a
//! server, a real PostgreSQL database.

use std::error::Error as _;

use privctl_store::testing::{fresh_databases, runtime};
use privctl_store::{Component, Db, Dialect, Lock, Open, TimeKind};

async fn exec(db: &Db, sql: &'static str) {
    sqlx::query(sql)
        .execute(db.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

#[test]
fn introspection_reads_tables_columns_keys_and_indexes() {
    runtime().block_on(async {
        for t in fresh_databases("store_schema").await {
            let db = Db::open("main", &t.url, Open::Create).await.expect("open");
            let ts = match t.dialect {
                Dialect::Sqlite => "TEXT",
                Dialect::Postgres => "TIMESTAMPTZ",
            };
            exec(&db, "CREATE TABLE users (id BIGINT PRIMARY KEY, email TEXT NOT NULL UNIQUE)").await;
            let create = match ts {
                "TEXT" => "CREATE TABLE events (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL REFERENCES users (id), created_at TEXT NOT NULL, note TEXT)",
                _ => "CREATE TABLE events (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL REFERENCES users (id), created_at TIMESTAMPTZ NOT NULL, note TEXT)",
            };
            exec(&db, create).await;
            exec(&db, "CREATE INDEX events_created ON events (created_at)").await;
            let schema = db.schema().await.expect("schema");
            let events = &schema.tables["events"];
            let names: Vec<&str> = events.columns.iter().map(|c| c.name.as_str()).collect();
            assert_eq!(names, ["id", "user_id", "created_at", "note"], "{}", t.url);
            assert_eq!(events.primary_key, ["id"]);
            assert_eq!(events.foreign_keys.len(), 1);
            assert_eq!(events.foreign_keys[0].columns, ["user_id"]);
            assert_eq!(events.foreign_keys[0].references_table, "users");
            assert!(events.is_indexed("created_at"));
            assert!(!events.is_indexed("user_id"), "no index on user_id yet");
            assert!(events.column("user_id").is_some_and(|c| c.not_null));
            assert!(events.column("note").is_some_and(|c| !c.not_null));
            let kind = events.column("created_at").and_then(|c| c.time_kind(t.dialect));
            let want = match t.dialect {
                Dialect::Sqlite => TimeKind::Text,
                Dialect::Postgres => TimeKind::TimestampTz,
            };
            assert_eq!(kind, Some(want));
            assert!(schema.tables["users"].is_unique_on(&["email"]));
            assert!(!schema.tables["users"].is_unique_on(&["email", "id"]));
        }
    });
}

fn steps(_: Dialect) -> &'static [&'static [&'static str]] {
    &[
        &["CREATE TABLE privctl_test_a (id BIGINT PRIMARY KEY)"],
        &["CREATE TABLE privctl_test_b (id BIGINT PRIMARY KEY)"],
    ]
}

fn one_step(_: Dialect) -> &'static [&'static [&'static str]] {
    &[&["CREATE TABLE privctl_test_a (id BIGINT PRIMARY KEY)"]]
}

#[test]
fn own_tables_are_versioned_upgraded_and_created_once_under_a_lock() {
    runtime().block_on(async {
        for t in fresh_databases("store_own").await {
            let db = Db::open("main", &t.url, Open::Create).await.expect("open");
            let old = Component {
                name: "test",
                migrations: one_step,
            };
            let new = Component {
                name: "test",
                migrations: steps,
            };
            assert_eq!(db.component_version(&new).await.expect("version"), None);
            db.ensure(&old).await.expect("version 1");
            assert_eq!(db.component_version(&old).await.expect("v"), Some(1));
            // Eight processes' worth of first runs at once: one upgrade.
            let mut runs = Vec::new();
            for _ in 0..8 {
                let db = Db::open("main", &t.url, Open::Existing)
                    .await
                    .expect("open");
                runs.push(tokio::spawn(async move {
                    let new = Component {
                        name: "test",
                        migrations: steps,
                    };
                    db.ensure(&new).await
                }));
            }
            for r in runs {
                r.await.expect("join").expect("ensure");
            }
            assert_eq!(db.component_version(&new).await.expect("v"), Some(2));
            // An older release refuses the newer tables.
            let err = db
                .ensure(&old)
                .await
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                err.contains("version 2, newer than this release reads (1)"),
                "{err}"
            );
        }
    });
}

#[test]
fn database_errors_name_store_table_and_operation_and_keep_the_source() {
    runtime().block_on(async {
        for t in fresh_databases("store_err").await {
            let db = Db::open("main", &t.url, Open::Create).await.expect("open");
            let err = db
                .write_with(Lock::Rows, async |c| {
                    sqlx::query("DELETE FROM missing_table")
                        .execute(&mut *c)
                        .await
                        .map_err(db.err("deleting expired rows", Some("missing_table")))
                })
                .await
                .expect_err("an error");
            let text = err.to_string();
            assert_eq!(
                text,
                "store main: deleting expired rows on table missing_table failed"
            );
            let source = err.source().map(|s| s.to_string()).unwrap_or_default();
            assert!(source.contains("missing_table"), "{source}");
        }
    });
}

#[test]
fn unreachable_and_unknown_databases_are_named_with_the_password_masked() {
    runtime().block_on(async {
        let err = Db::open(
            "main",
            "postgres://app:s3cr3t@127.0.0.1:1/db",
            Open::Existing,
        )
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(
            err.contains("store main at postgres://app:***@127.0.0.1:1/db"),
            "{err}"
        );
        assert!(!err.contains("s3cr3t"));
        let err = Db::open("main", "sqlite:/nonexistent/x.db", Open::Existing)
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(err, "database /nonexistent/x.db does not exist");
    });
}
