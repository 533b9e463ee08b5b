//! Retention sweep throughput on PostgreSQL: `privctl sweep` (the library
//! call it makes) against a hand-written batched delete loop, on two copies
//! of the same table in the same run.
//!
//! The table is a request log of `PRIVCTL_BENCH_ROWS` rows (default
//! 10,000,000) spread evenly over 180 days, so about half are older than its
//! 90-day retention, each row linked to one of 100,000 users (so privctl's
//! per-row hold check has a subject to look up). The hand-written loop is
//! what an engineer would write first:
//!
//! ```sql
//! DELETE FROM request_log WHERE id IN
//!   (SELECT id FROM request_log WHERE created_at <= $1 LIMIT 10000)
//! ```
//!
//! repeated until it deletes nothing; it checks no floor, hold or reference.
//! privctl's longest batch comes from its run log; the loop's is timed
//! around each statement.
//!
//! ```sh
//! scripts/with-postgres cargo bench -p privctl-benches --bench sweep
//! PRIVCTL_BENCH_ROWS=1000000 scripts/with-postgres cargo bench -p privctl-benches --bench sweep
//! ```

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use privctl_retention::own;
use privctl_retention::{Options, Session};
use privctl_store::testing::{fresh_postgres, runtime};
use privctl_store::{Db, Open};

const POLICY: &str = r#"
version = 1

[organisation]
name = "Bench"
source = "benches/benches/sweep.rs"

[stores.main]
kind = "postgres"
url_env = "PRIVCTL_BENCH_URL"

[[subject.identifiers]]
name = "user_id"
kind = "user_id"
store = "main"
table = "users"
column = "id"

[[subject.links]]
store = "main"
table = "request_log"
column = "user_id"
references = "users.id"

[data_types.accounts]
description = "Users"
store = "main"
table = "users"
timestamp = "created_at"
categories = ["account"]
erasure = { action = "delete" }

[data_types.accounts.columns]
id = "identifier"
created_at = "metadata"

[data_types.accounts.retention]
period = "indefinite"
from = "created"
action = "delete"

[data_types.request_log]
description = "Request metadata"
store = "main"
table = "request_log"
timestamp = "created_at"
categories = ["logs"]
erasure = { action = "delete" }

[data_types.request_log.columns]
id = "identifier"
user_id = "identifier"
model = "metadata"
tokens = "metadata"
status = "metadata"
created_at = "metadata"

[data_types.request_log.retention]
period = "90d"
from = "created"
action = "delete"

[erasure]
cancellable = false

[export]
formats = ["json"]
link_expiry = "24h"
data_types = ["accounts", "request_log"]

[redaction]
prompt_capture = "never"
"#;

fn as_of() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T00:00:00Z")
        .expect("instant")
        .with_timezone(&Utc)
}

async fn exec(db: &Db, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(db.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Creates and fills the two tables (with `partitioned`, the request log
/// range-partitioned by day over its 180 days); returns the expired row
/// count.
async fn fill(db: &Db, rows: i64, partitioned: bool) -> i64 {
    exec(
        db,
        "CREATE TABLE users (id BIGINT PRIMARY KEY, created_at TIMESTAMPTZ NOT NULL)",
    )
    .await;
    if partitioned {
        exec(db, "CREATE TABLE request_log (id BIGINT NOT NULL, user_id BIGINT NOT NULL REFERENCES users (id), model TEXT NOT NULL, tokens BIGINT NOT NULL, status TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)").await;
        for day in 0..=180 {
            // Day numbers of a fixed range: no input reaches the text.
            exec(
                db,
                &format!(
                    "CREATE TABLE request_log_d{day:03} PARTITION OF request_log FOR VALUES \
                     FROM (TIMESTAMPTZ '2026-05-27 00:00:00+00' + INTERVAL '{day} days') \
                     TO (TIMESTAMPTZ '2026-05-27 00:00:00+00' + INTERVAL '{} days')",
                    day + 1
                ),
            )
            .await;
        }
    } else {
        exec(db, "CREATE TABLE request_log (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL REFERENCES users (id), model TEXT NOT NULL, tokens BIGINT NOT NULL, status TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL)").await;
    }
    exec(
        db,
        "INSERT INTO users SELECT i, TIMESTAMPTZ '2024-01-01 00:00:00+00' FROM generate_series(1, 100000) AS i",
    )
    .await;
    // Row i is (i mod 180 days + a few seconds) old: even ages, shuffled ids.
    exec(
        db,
        &format!(
            "INSERT INTO request_log SELECT i, 1 + (i * 7919) % 100000, \
             (ARRAY['llama-3.1-8b','qwen2.5-72b','deepseek-v3'])[1 + i % 3], i % 4000, \
             CASE WHEN i % 50 = 0 THEN 'error' ELSE 'ok' END, \
             TIMESTAMPTZ '2026-11-23 00:00:00+00' - ((i * 104729) % (180 * 86400)) * INTERVAL '1 second' \
             FROM generate_series(CAST(1 AS BIGINT), {rows}) AS i"
        ),
    )
    .await;
    for sql in [
        "CREATE INDEX request_log_user_id_idx ON request_log (user_id)",
        "CREATE INDEX request_log_created_at_idx ON request_log (created_at)",
        "VACUUM ANALYZE users",
        "VACUUM ANALYZE request_log",
    ] {
        exec(db, sql).await;
    }
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM request_log WHERE created_at <= TIMESTAMPTZ '2026-08-25 00:00:00+00'",
    )
    .fetch_one(db.pool())
    .await
    .expect("count");
    n
}

fn main() {
    let rows: i64 = std::env::var("PRIVCTL_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let rt = runtime();
    rt.block_on(async {
        let (Some(ours), Some(theirs)) = (
            fresh_postgres("bench_privctl").await,
            fresh_postgres("bench_loop").await,
        ) else {
            eprintln!("sweep bench: needs PostgreSQL (run it under scripts/with-postgres)");
            return;
        };
        let a = Db::open("main", &ours.url, Open::Existing).await.expect("open");
        let b = Db::open("main", &theirs.url, Open::Existing).await.expect("open");
        let t = Instant::now();
        let expired = fill(&a, rows, false).await;
        let expired_b = fill(&b, rows, false).await;
        assert_eq!(expired, expired_b);
        println!(
            "filled 2 x {rows} rows ({expired} expired each) in {:.1} s",
            t.elapsed().as_secs_f64()
        );

        // The hand-written loop.
        let cutoff = "2026-08-25 00:00:00+00";
        let t = Instant::now();
        let mut longest = Duration::ZERO;
        let mut deleted = 0u64;
        loop {
            let s = Instant::now();
            let n = sqlx::query(
                "DELETE FROM request_log WHERE id IN (SELECT id FROM request_log WHERE created_at <= CAST($1 AS TIMESTAMPTZ) LIMIT 10000)",
            )
            .bind(cutoff)
            .execute(b.pool())
            .await
            .expect("delete")
            .rows_affected();
            longest = longest.max(s.elapsed());
            deleted += n;
            if n == 0 {
                break;
            }
        }
        let loop_time = t.elapsed();
        assert_eq!(deleted as i64, expired);
        let loop_rate = deleted as f64 / loop_time.as_secs_f64();
        println!(
            "hand-written loop: {deleted} rows in {:.1} s, {:.0} rows/s, longest batch {:.1} ms",
            loop_time.as_secs_f64(),
            loop_rate,
            longest.as_secs_f64() * 1000.0
        );

        let (ours_rate, longest) = privctl_sweep(&a, &ours.url, expired).await;
        println!(
            "privctl sweep:     {:.0} rows/s, longest batch {longest:.1} ms ({:.0} % of the loop's throughput)",
            ours_rate,
            100.0 * ours_rate / loop_rate
        );
        drop((a, b, ours, theirs));

        // The same expiry on a table partitioned by day.
        let Some(parted) = fresh_postgres("bench_parted").await else {
            return;
        };
        let c = Db::open("main", &parted.url, Open::Existing).await.expect("open");
        let expired_c = fill(&c, rows, true).await;
        assert_eq!(expired_c, expired);
        privctl_sweep(&c, &parted.url, expired).await;
    });
}

/// Runs privctl's sweep with a held subject; prints and returns its rate
/// and longest batch (ms).
async fn privctl_sweep(db: &Db, url: &str, expired: i64) -> (f64, f64) {
    let policy = privctl_policy::check_str(POLICY)
        .policy
        .expect("bench policy");
    let session = Session::open(policy, POLICY, Some(url), Open::Existing)
        .await
        .expect("session");
    // A held subject, so the sweep's hold check has something to find.
    let home = session.home_db().expect("home");
    own::add_hold(home, own::HoldScope::Subject, "42", "bench", as_of())
        .await
        .expect("hold");
    let held: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM request_log WHERE user_id = 42 AND created_at <= TIMESTAMPTZ '2026-08-25 00:00:00+00'",
    )
    .fetch_one(db.pool())
    .await
    .expect("count");
    let t = Instant::now();
    let report = session
        .sweep(as_of(), None, false, &Options::default(), &|_| {})
        .await
        .expect("sweep");
    let took = t.elapsed();
    let done: u64 = report.data_types.iter().map(|d| d.deleted).sum();
    let parts: u64 = report.data_types.iter().map(|d| d.partitions_dropped).sum();
    assert_eq!(done as i64, expired - held);
    let runs = own::runs(home, 1).await.expect("runs");
    let rate = done as f64 / took.as_secs_f64();
    let longest = runs[0].longest_batch_micros as f64 / 1000.0;
    println!(
        "privctl sweep{}: {done} rows in {:.1} s{}",
        if parts > 0 {
            " (partitioned by day)"
        } else {
            ""
        },
        took.as_secs_f64(),
        if parts > 0 {
            format!(", {parts} partitions dropped whole, longest transaction {longest:.1} ms")
        } else {
            String::new()
        }
    );
    (rate, longest)
}
