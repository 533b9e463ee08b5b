//! A PostgreSQL table range-partitioned on its timestamp: partitions whose
//! whole range has expired are detached and dropped, except one holding a
//! held subject's row, which is swept row by row instead.

use chrono::{DateTime, Utc};
use privctl_retention::{Options, Session};
use privctl_store::testing::{fresh_postgres, runtime};
use privctl_store::{Db, Open, Row};

const POLICY: &str = r#"
version = 1

[organisation]
name = "Partitions"
source = "crates/retention/tests/partitions.rs"

[stores.main]
kind = "postgres"
url_env = "UNUSED_URL"

[[subject.identifiers]]
name = "user_id"
kind = "user_id"
store = "main"
table = "users"
column = "id"

[[subject.links]]
store = "main"
table = "events"
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

[data_types.events]
description = "Events"
store = "main"
table = "events"
timestamp = "created_at"
categories = ["logs"]
erasure = { action = "delete" }

[data_types.events.columns]
id = "identifier"
user_id = "identifier"
created_at = "metadata"

[data_types.events.retention]
period = "90d"
from = "created"
action = "delete"

[erasure]
cancellable = false

[export]
formats = ["json"]
link_expiry = "24h"
data_types = ["accounts", "events"]

[redaction]
prompt_capture = "never"
"#;

async fn exec(db: &Db, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(db.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn strings(db: &Db, sql: &'static str) -> Vec<String> {
    sqlx::query(sql)
        .fetch_all(db.pool())
        .await
        .expect(sql)
        .iter()
        .map(|r| r.try_get::<String, _>(0).expect("text"))
        .collect()
}

#[test]
fn expired_partitions_are_dropped_whole_unless_a_row_in_one_is_held() {
    let rt = runtime();
    rt.block_on(async {
        let Some(pg) = fresh_postgres("partitions").await else {
            return;
        };
        let db = Db::open("main", &pg.url, Open::Existing).await.expect("open");
        exec(&db, "CREATE TABLE users (id BIGINT PRIMARY KEY, created_at TIMESTAMPTZ NOT NULL)").await;
        exec(&db, "INSERT INTO users SELECT i, TIMESTAMPTZ '2025-01-01 00:00:00+00' FROM generate_series(1, 10) AS i").await;
        exec(&db, "CREATE TABLE events (id BIGINT NOT NULL, user_id BIGINT NOT NULL REFERENCES users (id), created_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)").await;
        // Months 2026-01 .. 2026-06 and a default partition.
        for m in 1..=6 {
            exec(
                &db,
                &format!(
                    "CREATE TABLE events_2026_{m:02} PARTITION OF events FOR VALUES FROM ('2026-{m:02}-01 00:00:00+00') TO ('2026-{:02}-01 00:00:00+00')",
                    m + 1
                ),
            )
            .await;
        }
        exec(&db, "CREATE TABLE events_rest PARTITION OF events DEFAULT").await;
        // 10 rows a day from 2026-01-01 to 2026-06-30, users 1..10 in turn;
        // user 3's rows are held, but only those in January fall on user 3
        // (the rest skip them), so one expired partition holds a held row.
        exec(&db, "INSERT INTO events SELECT i, CASE WHEN i % 10 + 1 = 3 AND d >= TIMESTAMPTZ '2026-02-01 00:00:00+00' THEN 4 ELSE i % 10 + 1 END, d \
            FROM (SELECT i, TIMESTAMPTZ '2026-01-01 00:00:00+00' + (i / 10) * INTERVAL '1 day' AS d FROM generate_series(0, 1809) AS i) s").await;
        exec(&db, "INSERT INTO events VALUES (100000, 5, TIMESTAMPTZ '2027-03-01 00:00:00+00')").await;

        let policy = privctl_policy::check_str(POLICY).policy.expect("policy");
        let s = Session::open(policy, POLICY, Some(&pg.url), Open::Existing)
            .await
            .expect("session");
        privctl_retention::own::add_hold(
            s.home_db().expect("home"),
            privctl_retention::HoldScope::Subject,
            "3",
            "test",
            Utc::now(),
        )
        .await
        .expect("hold");
        // 90 days before 2026-07-01 is 2026-04-02: January to March have
        // expired whole; April partly.
        let as_of: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-07-01T00:00:00Z")
            .expect("instant")
            .with_timezone(&Utc);
        let expired: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM events WHERE created_at <= TIMESTAMPTZ '2026-04-02 00:00:00+00'",
        )
        .fetch_one(db.pool())
        .await
        .expect("count");
        let held: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM events WHERE user_id = 3 AND created_at <= TIMESTAMPTZ '2026-04-02 00:00:00+00'",
        )
        .fetch_one(db.pool())
        .await
        .expect("count");
        assert!(held > 0);

        let plan = s.plan(as_of, Some("events")).await.expect("plan");
        let privctl_retention::plan::Work::Rows(work) = &plan.steps[0].work else {
            panic!("rows");
        };
        let names: Vec<&str> = work.partitions.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["events_2026_01", "events_2026_02", "events_2026_03"]);

        let report = s
            .sweep(as_of, Some("events"), false, &Options::default(), &|_| {})
            .await
            .expect("sweep");
        let d = &report.data_types[0];
        assert_eq!(d.partitions_dropped, 2, "{d:?}");
        assert_eq!(d.deleted as i64, expired - held);
        assert_eq!(d.kept_by_hold as i64, held);

        let left = strings(&db, "SELECT CAST(c.relname AS TEXT) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = CAST('events' AS regclass) ORDER BY 1").await;
        assert_eq!(
            left,
            ["events_2026_01", "events_2026_04", "events_2026_05", "events_2026_06", "events_rest"]
        );
        let tables = strings(&db, "SELECT CAST(tablename AS TEXT) FROM pg_tables WHERE tablename LIKE 'events_2026_0%' ORDER BY 1").await;
        assert!(!tables.iter().any(|t| t == "events_2026_02" || t == "events_2026_03"), "{tables:?}");
        let after: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM events WHERE created_at <= TIMESTAMPTZ '2026-04-02 00:00:00+00'",
        )
        .fetch_one(db.pool())
        .await
        .expect("count");
        assert_eq!(after, held, "only the held rows stay");
        let kinds = strings(&db, "SELECT DISTINCT action FROM privctl_run_batches ORDER BY 1").await;
        assert_eq!(kinds, ["delete", "drop_partition"]);

        let again = s
            .sweep(as_of, Some("events"), false, &Options::default(), &|_| {})
            .await
            .expect("sweep");
        assert_eq!(again.data_types[0].deleted, 0);
        assert_eq!(again.data_types[0].partitions_dropped, 0);
    });
}
