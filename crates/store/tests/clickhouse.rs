//! The ClickHouse client against a real server (`scripts/with-clickhouse`
//! starts one; under CI a missing server fails these tests).

use std::time::Duration;

use privctl_policy::SqlIdent;
use privctl_store::clickhouse::{ClickHouse, Version};
use privctl_store::sql::{Sql, Value};
use privctl_store::testing::{fresh_clickhouse, runtime};
use privctl_store::Error;
use serde_json::{json, Map, Value as Json};

fn ident(s: &str) -> SqlIdent {
    SqlIdent::new(s).expect("identifier")
}

async fn open(prefix: &str) -> Option<ClickHouse> {
    let url = fresh_clickhouse(prefix).await?;
    Some(ClickHouse::open("telemetry", &url).await.expect("open"))
}

async fn exec(ch: &ClickHouse, sql: &'static str) {
    let mut s = Sql::new();
    s.push(sql);
    ch.execute(&s, "test setup", None).await.expect(sql);
}

async fn count(ch: &ClickHouse, sql: Sql) -> u64 {
    let rows = ch.rows(&sql, "counting", None).await.expect("count");
    rows[0]["n"]
        .as_str()
        .expect("text")
        .parse()
        .expect("a number")
}

#[test]
fn the_server_is_asked_its_version() {
    runtime().block_on(async {
        let Some(ch) = open("ch_version").await else {
            return;
        };
        let v = ch.version();
        assert!(v >= Version(18, 1, 0), "{v}");
        assert!(v.has_mutations());
        if v < Version(19, 0, 0) {
            assert!(!v.has_ttl(), "{v} has no TTL");
        }
    });
}

/// Values go in as literals (the server takes no parameters): every
/// string that could end a literal or start a comment is stored and found
/// as itself.
#[test]
fn values_are_literals_that_nothing_escapes() {
    runtime().block_on(async {
        let Some(ch) = open("ch_escape").await else {
            return;
        };
        exec(
            &ch,
            "CREATE TABLE t (id UInt64, s String) ENGINE = MergeTree ORDER BY id",
        )
        .await;
        let hostile = [
            "plain",
            "it's",
            "back\\slash",
            "\\'; DROP TABLE t; --",
            "new\nline\ttab\rreturn",
            "nul\0byte",
            "unicode ünïcödé 🔑",
            "'",
            "\\",
            "$1",
            "/* comment",
            "\u{7f}\u{1}\u{1b}[31m",
        ];
        for (i, h) in hostile.iter().enumerate() {
            let mut sql = Sql::new();
            sql.push("INSERT INTO ")
                .ident(&ident("t"))
                .push(" SELECT ")
                .bind(Value::Int(i as i64))
                .push(", ")
                .bind(Value::Text((*h).to_owned()));
            ch.execute(&sql, "inserting", Some("t")).await.expect(h);
        }
        // Inserted as JSON too.
        let rows: Vec<Map<String, Json>> = hostile
            .iter()
            .enumerate()
            .map(|(i, h)| {
                json!({"id": 100 + i, "s": h})
                    .as_object()
                    .expect("object")
                    .clone()
            })
            .collect();
        ch.insert(&ident("t"), &rows, "inserting")
            .await
            .expect("json");
        for (i, h) in hostile.iter().enumerate() {
            let mut q = Sql::new();
            q.push("SELECT toString(count()) AS n FROM t WHERE s = ")
                .bind(Value::Text((*h).to_owned()));
            assert_eq!(count(&ch, q).await, 2, "{h:?}");
            let mut q = Sql::new();
            q.push("SELECT s FROM t WHERE id = ")
                .bind(Value::Int(i as i64));
            let got = ch.rows(&q, "reading", Some("t")).await.expect("read");
            assert_eq!(got[0]["s"], json!(h));
        }
        let mut q = Sql::new();
        q.push("SELECT toString(count()) AS n FROM t");
        assert_eq!(count(&ch, q).await, 2 * hostile.len() as u64);
    });
}

#[test]
fn errors_name_the_store_the_table_and_the_servers_code() {
    runtime().block_on(async {
        let Some(ch) = open("ch_errors").await else {
            return;
        };
        let mut q = Sql::new();
        q.push("SELECT 1 FROM ").ident(&ident("missing"));
        let e = ch
            .rows(&q, "reading usage", Some("missing"))
            .await
            .expect_err("no such table");
        match &e {
            Error::ClickHouse { code, .. } => assert_eq!(*code, Some(60)),
            other => panic!("{other:?}"),
        }
        let shown = e.to_string();
        assert!(
            shown.starts_with("store telemetry: reading usage on table missing failed: "),
            "{shown}"
        );
        assert!(shown.contains("(ClickHouse error 60)"), "{shown}");

        // Nothing listens on the port: said at once, password masked.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
            l.local_addr().expect("addr").port()
        };
        let url = format!("clickhouse://app:hunter2@127.0.0.1:{port}/default");
        let e = ClickHouse::open("telemetry", &url)
            .await
            .expect_err("closed port");
        let shown = e.to_string();
        assert!(matches!(e, Error::Unreachable { .. }), "{shown}");
        assert!(shown.contains("app:***@127.0.0.1"), "{shown}");
        assert!(!shown.contains("hunter2") && !format!("{e:?}").contains("hunter2"));
    });
}

#[test]
fn partitions_and_mutations() {
    runtime().block_on(async {
        let Some(ch) = open("ch_parts").await else {
            return;
        };
        exec(
            &ch,
            "CREATE TABLE usage (timestamp DateTime, user_id String, tokens UInt64) ENGINE = MergeTree PARTITION BY toYYYYMMDD(timestamp) ORDER BY (user_id, timestamp)",
        )
        .await;
        exec(
            &ch,
            "INSERT INTO usage VALUES ('2026-01-01 10:00:00', 'u1', 1), ('2026-01-01 11:00:00', 'u2', 2), ('2026-01-02 10:00:00', 'u1', 3), ('2026-01-03 23:59:59', 'u2', 4)",
        )
        .await;
        let tables = ch.tables().await.expect("tables");
        let usage = tables.iter().find(|t| t.name == "usage").expect("usage");
        assert_eq!(usage.partition_key, "toYYYYMMDD(timestamp)");
        assert_eq!(usage.engine, "MergeTree");
        assert_eq!(
            usage
                .columns
                .iter()
                .map(|c| (c.name.as_str(), c.ty.as_str()))
                .collect::<Vec<_>>(),
            [("timestamp", "DateTime"), ("user_id", "String"), ("tokens", "UInt64")]
        );
        let parts = ch.partitions(&ident("usage")).await.expect("parts");
        let ids: Vec<(&str, u64)> = parts.iter().map(|p| (p.id.as_str(), p.rows)).collect();
        assert_eq!(ids, [("20260101", 2), ("20260102", 1), ("20260103", 1)]);
        assert_eq!(parts[2].max_time, Some(1_767_484_799), "2026-01-03 23:59:59 UTC");

        ch.drop_partition(&ident("usage"), "20260101")
            .await
            .expect("drop");
        let mut cond = Sql::new();
        cond.ident(&ident("user_id")).push(" = ").bind(Value::Text("u2".into()));
        ch.delete_where(&ident("usage"), &cond, "privctl-test", Duration::from_secs(60))
            .await
            .expect("mutation");
        let mut q = Sql::new();
        q.push("SELECT toString(sum(tokens)) AS n FROM usage");
        assert_eq!(count(&ch, q).await, 3, "only u1's row of 2 January is left");
    });
}

/// A mutation that fails on the server never reports done: the wait ends
/// with an error naming the store and the table, within the time given.
#[test]
fn a_failing_mutation_is_an_error_naming_the_table() {
    runtime().block_on(async {
        let Some(ch) = open("ch_failing").await else {
            return;
        };
        exec(
            &ch,
            "CREATE TABLE t (id UInt64, s String) ENGINE = MergeTree ORDER BY id",
        )
        .await;
        exec(&ch, "INSERT INTO t VALUES (1, 'a'), (2, 'b')").await;
        // Accepted when issued; throws on every row it reads.
        let mut cond = Sql::new();
        cond.push("throwIf(id > 0) = 0");
        let started = std::time::Instant::now();
        let e = ch
            .delete_where(
                &ident("t"),
                &cond,
                "privctl-test-fail",
                Duration::from_secs(3),
            )
            .await
            .expect_err("the mutation fails");
        assert!(started.elapsed() < Duration::from_secs(30));
        let shown = e.to_string();
        assert!(
            shown.starts_with("store telemetry: ") && shown.contains("on table t failed"),
            "{shown}"
        );
        // Nothing was deleted.
        let mut q = Sql::new();
        q.push("SELECT toString(count()) AS n FROM t");
        assert_eq!(count(&ch, q).await, 2);
    });
}

/// Rows stream one at a time however the answer is cut into frames.
#[test]
fn rows_stream_as_they_arrive() {
    runtime().block_on(async {
        let Some(ch) = open("ch_stream").await else {
            return;
        };
        let mut q = Sql::new();
        q.push("SELECT number AS n, substring('xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 1, number % 50) AS s FROM numbers(")
            .bind(Value::Int(200_000))
            .push(")");
        let mut rows = ch.stream(&q, "streaming", None).await.expect("stream");
        let mut n = 0u64;
        while let Some(row) = rows.next().await.expect("row") {
            assert_eq!(row["n"].as_str().expect("text"), n.to_string());
            assert_eq!(row["s"].as_str().expect("text").len() as u64, n % 50);
            n += 1;
        }
        assert_eq!(n, 200_000);
    });
}
