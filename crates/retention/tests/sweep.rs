//! Sweeps of the CheapestInference seed policy on a real SQLite file and a
//! real PostgreSQL database: deletion requests, roll-ups, holds, reruns.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use privctl_retention::own::{self, HoldScope};
use privctl_retention::{DataTypeReport, Options, Report, Session};
use privctl_store::testing::{fresh_databases, runtime};
use privctl_store::{Db, Dialect, Open, Row};

/// A report's data types by name.
fn by_type(report: &Report) -> BTreeMap<&str, &DataTypeReport> {
    report
        .data_types
        .iter()
        .map(|d| (d.data_type.as_str(), d))
        .collect()
}

const POLICY: &str = include_str!("../../../policies/cheapestinference.toml");

fn as_of() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
        .expect("instant")
        .with_timezone(&Utc)
}

fn ts(d: Dialect, t: DateTime<Utc>) -> String {
    match d {
        Dialect::Sqlite => t.format("%Y-%m-%d %H:%M:%S").to_string(),
        Dialect::Postgres => t.to_rfc3339(),
    }
}

async fn exec(db: &Db, sql: String) {
    sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
        .execute(db.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn ints(db: &Db, sql: &'static str) -> Vec<i64> {
    sqlx::query(sql)
        .fetch_all(db.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| r.try_get::<i64, _>(0).expect("int"))
        .collect()
}

/// A user's email, subscription status and Stripe customer id ("-" for
/// NULL).
async fn account(db: &Db, id: i64) -> [String; 3] {
    let row = sqlx::query(
        "SELECT email, subscription_status, stripe_customer_id FROM users WHERE id = $1",
    )
    .bind(id)
    .fetch_one(db.pool())
    .await
    .expect("account");
    let get = |c: &str| {
        row.try_get::<Option<String>, _>(c)
            .expect("text")
            .unwrap_or_else(|| "-".to_owned())
    };
    [
        get("email"),
        get("subscription_status"),
        get("stripe_customer_id"),
    ]
}

/// Users 1..=4, each with one API key; usage and request rows 0..200 days
/// old; payments of users 1 and 2.
async fn fill(db: &Db) {
    let d = db.dialect();
    let t = match d {
        Dialect::Sqlite => "TEXT",
        Dialect::Postgres => "TIMESTAMPTZ",
    };
    for ddl in [
        format!("CREATE TABLE users (id BIGINT PRIMARY KEY, email TEXT NOT NULL, subscription_status TEXT, stripe_customer_id TEXT, created_at {t} NOT NULL, deleted_at {t})"),
        format!("CREATE TABLE api_keys (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL REFERENCES users (id), parent_key_id BIGINT, name TEXT, plan TEXT, rate_limit_rpm BIGINT, key_digest TEXT, created_at {t} NOT NULL)"),
        format!("CREATE TABLE usage_events (id BIGINT PRIMARY KEY, api_key_id BIGINT NOT NULL REFERENCES api_keys (id), model TEXT NOT NULL, requests BIGINT NOT NULL, input_tokens BIGINT NOT NULL, output_tokens BIGINT NOT NULL, cost_usd_micros BIGINT NOT NULL, created_at {t} NOT NULL)"),
        format!("CREATE TABLE usage_daily (day {t} NOT NULL, model TEXT NOT NULL, requests BIGINT NOT NULL, input_tokens BIGINT NOT NULL, output_tokens BIGINT NOT NULL, cost_usd_micros BIGINT NOT NULL, PRIMARY KEY (day, model))"),
        format!("CREATE TABLE request_log (id BIGINT PRIMARY KEY, api_key_id BIGINT NOT NULL REFERENCES api_keys (id), model TEXT, input_tokens BIGINT, output_tokens BIGINT, status_code BIGINT, created_at {t} NOT NULL)"),
        format!("CREATE TABLE payments (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL REFERENCES users (id), processor TEXT NOT NULL, processor_reference TEXT, payer_wallet TEXT, amount_usd_cents BIGINT NOT NULL, status TEXT, created_at {t} NOT NULL)"),
    ] {
        exec(db, ddl).await;
    }
    let long_ago = ts(d, as_of() - Duration::days(400));
    for u in 1..=4 {
        exec(db, format!("INSERT INTO users (id, email, created_at) VALUES ({u}, 'u{u}@example.com', '{long_ago}')")).await;
        exec(
            db,
            format!(
                "INSERT INTO api_keys (id, user_id, created_at) VALUES ({u}, {u}, '{long_ago}')"
            ),
        )
        .await;
    }
    // Users 1 and 2 paid 400 days ago, by card and in USDC on Base: kept
    // seven years by the tax floor.
    exec(db, format!("INSERT INTO payments VALUES (1, 1, 'stripe', 'ch_3MmlLrLkdIwHu7ix0snN0B15', NULL, 2000, 'succeeded', '{long_ago}')")).await;
    exec(db, format!("INSERT INTO payments VALUES (2, 2, 'usdc_base', '0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060', '0x71C7656EC7ab88b098defB751B7401B5f6d8976F', 2500, 'confirmed', '{long_ago}')")).await;
    for u in 1..=4 {
        exec(db, format!("UPDATE users SET subscription_status = 'active', stripe_customer_id = 'cus_{u}' WHERE id = {u}")).await;
    }
    for i in 0..200i64 {
        // User 2's usage is all older than 90 days.
        let key = if i < 100 {
            [1, 3, 4][(i % 3) as usize]
        } else {
            i % 4 + 1
        };
        let at = ts(d, as_of() - Duration::days(i) - Duration::hours(1));
        let model = if i % 3 == 0 { "llama" } else { "qwen" };
        exec(
            db,
            format!(
                "INSERT INTO usage_events VALUES ({i}, {key}, '{model}', 1, {i}, 2, {}, '{at}')",
                i * 10
            ),
        )
        .await;
        exec(
            db,
            format!("INSERT INTO request_log VALUES ({i}, {key}, '{model}', 1, 1, 200, '{at}')"),
        )
        .await;
    }
}

#[test]
fn cheapestinference_sweeps_exactly_what_expired_and_a_rerun_changes_nothing() {
    runtime().block_on(async {
        for t in fresh_databases("sweep_ci").await {
            let setup = Db::open("main", &t.url, Open::Create).await.expect("open");
            fill(&setup).await;
            let policy = privctl_policy::check_str(POLICY).policy.expect("policy");
            let s = Session::open(policy, POLICY, Some(&t.url), Open::Existing)
                .await
                .expect("session");
            let db = s.home_db().expect("home");
            // User 2 deleted their account 40 days ago, user 3 10 days ago
            // (inside the 30 days), user 4 40 days ago but is on hold.
            for (u, days) in [(2, 40), (3, 10), (4, 40)] {
                let at = ts(db.dialect(), as_of() - Duration::days(days));
                exec(
                    db,
                    format!("UPDATE users SET deleted_at = '{at}' WHERE id = {u}"),
                )
                .await;
            }
            own::add_hold(
                db,
                HoldScope::Subject,
                "4",
                "litigation hold, case 7",
                as_of(),
            )
            .await
            .expect("hold");
            let sums_before = ints(
                db,
                "SELECT CAST(SUM(cost_usd_micros) AS BIGINT) FROM usage_events",
            )
            .await;

            let dry = s
                .sweep(as_of(), None, true, &Options::default(), &|_| {})
                .await
                .expect("dry");
            let by = by_type(&dry);
            // Ages 90..199 days (110 rows) have expired for usage and logs.
            assert_eq!(by["usage_events"].expired, 110, "{}", t.url);
            assert_eq!(by["request_log"].expired, 110);
            // A quarter of them (28) belong to user 4, who is held.
            assert_eq!(by["request_log"].kept_by_hold, 28);
            assert_eq!(by["usage_events"].kept_by_hold, 28);
            assert_eq!(by["accounts"].expired, 2, "users 2 and 4");
            assert_eq!(by["accounts"].kept_by_hold, 1, "user 4 is held");
            assert_eq!(
                by["accounts"].identifiers_replaced, 1,
                "user 2's account stays for their payment, without them"
            );
            assert_eq!(by["api_keys"].expired, 2);
            assert_eq!(
                ints(db, "SELECT COUNT(*) FROM request_log").await,
                [200],
                "a dry run changes nothing"
            );

            // Small batches, so the keyset pages many times.
            let options = Options {
                first_batch: 7,
                max_batch: 16,
                ..Options::default()
            };
            let report = s
                .sweep(as_of(), None, false, &options, &|_| {})
                .await
                .expect("sweep");
            let by = by_type(&report);
            assert_eq!(by["request_log"].deleted, 82);
            assert_eq!(by["usage_events"].rolled_up, 82);
            // Children first: user 2's usage and logs, then their key go in
            // one sweep. Their payment stays under the tax floor, so their
            // account row stays for it to refer to, saying nobody: what
            // identified them is replaced, the key and times stay.
            assert_eq!(by["api_keys"].deleted, 1);
            assert_eq!(by["accounts"].deleted, 0);
            assert_eq!(by["accounts"].kept_referenced, 1);
            assert_eq!(by["accounts"].identifiers_replaced, 1);
            assert_eq!(
                account(db, 2).await,
                ["erased-2".to_owned(), "-".to_owned(), "-".to_owned()]
            );
            for u in [1, 3, 4] {
                assert_eq!(
                    account(db, u).await,
                    [
                        format!("u{u}@example.com"),
                        "active".to_owned(),
                        format!("cus_{u}")
                    ],
                    "user {u} is active, not yet past 30 days, or held"
                );
            }

            // What is left of the expired rows is exactly user 4's (key 4).
            let left = ints(
                db,
                "SELECT DISTINCT api_key_id FROM request_log WHERE id >= 90",
            )
            .await;
            assert_eq!(left, [4]);
            assert_eq!(ints(db, "SELECT COUNT(*) FROM request_log").await, [118]);
            assert_eq!(ints(db, "SELECT COUNT(*) FROM usage_events").await, [118]);
            // The roll-up's sums equal the detail they replaced.
            let rolled = ints(
                db,
                "SELECT CAST(SUM(cost_usd_micros) AS BIGINT) FROM usage_daily",
            )
            .await;
            let kept = ints(
                db,
                "SELECT CAST(SUM(cost_usd_micros) AS BIGINT) FROM usage_events",
            )
            .await;
            assert_eq!(rolled[0] + kept[0], sums_before[0]);
            assert_eq!(
                ints(db, "SELECT CAST(SUM(requests) AS BIGINT) FROM usage_daily").await,
                [82]
            );
            // One bucket per day and model: one row a day, one model a day.
            assert_eq!(ints(db, "SELECT COUNT(*) FROM usage_daily").await, [82]);
            // User 2's key is gone; user 4's (held) and user 3's (too recent) remain.
            assert_eq!(
                ints(db, "SELECT id FROM api_keys ORDER BY id").await,
                [1, 3, 4]
            );
            assert_eq!(
                ints(db, "SELECT id FROM users ORDER BY id").await,
                [1, 2, 3, 4]
            );

            // The audit record adds up.
            let runs = own::runs(db, 1).await.expect("runs");
            let total: i64 = runs[0].batches.iter().map(|b| b.2).sum();
            assert_eq!(total, 82 + 82 + 1 + 1);
            assert!(runs[0].finished_at.is_some());

            // A second sweep changes nothing.
            let again = s
                .sweep(as_of(), None, false, &options, &|_| {})
                .await
                .expect("again");
            for d in &again.data_types {
                assert_eq!(
                    d.deleted + d.anonymised + d.rolled_up + d.identifiers_replaced,
                    0,
                    "{}: {:?}",
                    t.url,
                    d
                );
            }
            assert_eq!(
                ints(db, "SELECT id FROM users ORDER BY id").await,
                [1, 2, 3, 4]
            );
            assert_eq!(
                ints(db, "SELECT CAST(SUM(requests) AS BIGINT) FROM usage_daily").await,
                [82]
            );
            // Releasing the hold lets user 4's expired rows go.
            own::release_hold(db, 1, as_of()).await.expect("release");
            let after = s
                .sweep(as_of(), None, false, &options, &|_| {})
                .await
                .expect("released");
            let by = by_type(&after);
            assert_eq!(by["request_log"].deleted, 28);
            assert_eq!(by["usage_events"].rolled_up, 28);
            // User 4's recent usage still refers to their key, and the key
            // to the account: both are kept, and said to be; the account
            // without what identified them.
            assert_eq!(by["api_keys"].kept_referenced, 1);
            assert_eq!(
                ints(db, "SELECT id FROM users ORDER BY id").await,
                [1, 2, 3, 4]
            );
            assert_eq!(by["accounts"].identifiers_replaced, 1);
            assert_eq!(
                account(db, 4).await,
                ["erased-4".to_owned(), "-".to_owned(), "-".to_owned()]
            );
            let rolled = ints(
                db,
                "SELECT CAST(SUM(cost_usd_micros) AS BIGINT) FROM usage_daily",
            )
            .await;
            let kept = ints(
                db,
                "SELECT CAST(SUM(cost_usd_micros) AS BIGINT) FROM usage_events",
            )
            .await;
            assert_eq!(rolled[0] + kept[0], sums_before[0]);
        }
    });
}

/// Choices read per customer (`customer.by` and `key`) in a SQL store: each
/// API key records its own request-log period; key 1 keeps its logs a
/// year, key 3's choice is not a period and is refused, the rest keep the
/// default 90 days.
#[test]
fn choices_read_per_customer_select_rows_by_the_customer_they_name() {
    let policy_text = POLICY
        .replacen(
            "key_digest = \"credential\"\n",
            "key_digest = \"credential\"\nlog_retention = \"metadata\"\n",
            1,
        )
        .replacen(
            "[data_types.request_log.retention]\nperiod = \"90d\"\nfrom = \"created\"\naction = \"delete\"\n",
            "[data_types.request_log.retention]\nperiod = \"90d\"\nfrom = \"created\"\naction = \"delete\"\nconfigurable = true\nmin = \"30d\"\nmax = \"2y\"\ncustomer = { period = \"api_keys.log_retention\", key = \"api_keys.id\", by = \"api_key_id\" }\n",
            1,
        );
    assert_ne!(policy_text, POLICY);
    let report = privctl_policy::check_str(&policy_text);
    assert!(
        !report
            .diagnostics
            .iter()
            .any(|d| d.severity == privctl_policy::Severity::Error),
        "{:?}",
        report.diagnostics
    );
    runtime().block_on(async {
        for t in fresh_databases("sweep_keyed").await {
            let setup = Db::open("main", &t.url, Open::Create).await.expect("open");
            fill(&setup).await;
            exec(
                &setup,
                "ALTER TABLE api_keys ADD COLUMN log_retention TEXT".to_owned(),
            )
            .await;
            exec(
                &setup,
                "UPDATE api_keys SET log_retention = '1y' WHERE id = 1".to_owned(),
            )
            .await;
            exec(
                &setup,
                "UPDATE api_keys SET log_retention = 'soon' WHERE id = 3".to_owned(),
            )
            .await;
            let policy = report.policy.clone().expect("policy");
            let s = Session::open(policy, &policy_text, Some(&t.url), Open::Existing)
                .await
                .expect("session");
            let dry = s
                .sweep(
                    as_of(),
                    Some("request_log"),
                    true,
                    &Options::default(),
                    &|_| {},
                )
                .await
                .expect("dry");
            let d = &dry.data_types[0];
            // 110 rows are past 90 days; 29 of them are key 1's, kept a year.
            assert_eq!(d.expired, 81, "{:?}", t.dialect);
            assert_eq!(d.refused_choices.len(), 1, "{:?}", d.refused_choices);
            assert!(
                d.refused_choices[0].contains("\"soon\""),
                "{:?}",
                d.refused_choices
            );
            s.sweep(
                as_of(),
                Some("request_log"),
                false,
                &Options::default(),
                &|_| {},
            )
            .await
            .expect("sweep");
            let db = s.home_db().expect("home");
            // Key 1's 59 rows, up to 200 days old, all stay under its year.
            assert_eq!(
                ints(db, "SELECT COUNT(*) FROM request_log WHERE api_key_id = 1").await,
                [59]
            );
            assert_eq!(
                ints(db, "SELECT COUNT(*) FROM request_log").await,
                [200 - 81]
            );
        }
    });
}
