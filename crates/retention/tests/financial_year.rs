//! Periods counted from the end of a financial year: InferexAI's payments,
//! kept eight financial years after the Indian financial year (1 April to 31
//! March, Indian Standard Time) they belong to, on a real SQLite file and a
//! real PostgreSQL database, in each kind of time column.

use chrono::{DateTime, Utc};
use privctl_retention::plan::FloorEnd;
use privctl_retention::sample::{sample, SampleOptions};
use privctl_retention::sql::Sql;
use privctl_retention::{Options, Session};
use privctl_store::testing::{fresh_databases, runtime};
use privctl_store::{Db, Dialect, Open, Row, TimeKind};

const POLICY: &str = include_str!("../../../policies/inferexai.toml");

fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("instant")
}

/// Payments, by id, with the instant each was made and whether eight
/// financial years have passed since its year ended by 1 June 2034.
const PAYMENTS: &[(i64, &str, bool)] = &[
    // FY 2024-25 and the last second of FY 2025-26, in India.
    (1, "2024-06-15T10:00:00Z", true),
    (2, "2026-03-31T18:29:59Z", true),
    // Midnight on 1 April 2026 in India, and later in FY 2026-27: their
    // year ends on 31 March 2027, and 2035 is when they go, although
    // eight years from the payment itself have passed for two of them.
    (3, "2026-03-31T18:30:00Z", false),
    (4, "2026-04-01T00:00:00Z", false),
    (5, "2026-05-31T23:59:59Z", false),
    (6, "2027-01-10T12:00:00Z", false),
];

async fn exec(db: &Db, sql: String) {
    sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
        .execute(db.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn ids(db: &Db) -> Vec<i64> {
    sqlx::query("SELECT CAST(id AS BIGINT) FROM payments ORDER BY 1")
        .fetch_all(db.pool())
        .await
        .expect("payments")
        .iter()
        .map(|r| r.try_get::<i64, _>(0).expect("id"))
        .collect()
}

/// The payments table in a kind of time column: the sample's own (text in
/// SQLite, `timestamptz` in PostgreSQL), whole seconds since 1970, or
/// PostgreSQL's `timestamp` with a fraction of a second.
#[derive(Debug, Clone, Copy)]
enum Column {
    AsSampled,
    UnixSeconds,
    PostgresTimestamp,
}

async fn payments(db: &Db, column: Column) {
    let ddl_type = match column {
        Column::AsSampled => None,
        Column::UnixSeconds => Some("BIGINT"),
        Column::PostgresTimestamp => Some("TIMESTAMP"),
    };
    exec(db, "DELETE FROM payments".to_owned()).await;
    if let Some(ty) = ddl_type {
        exec(db, "DROP TABLE payments".to_owned()).await;
        exec(db, format!("CREATE TABLE payments (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL REFERENCES users (id), razorpay_payment_id TEXT, amount_inr_paise BIGINT, status TEXT, created_at {ty} NOT NULL)")).await;
    }
    for &(id, at, _) in PAYMENTS {
        let at = t(at);
        let value = match (column, db.dialect()) {
            (Column::UnixSeconds, _) => at.timestamp().to_string(),
            (Column::PostgresTimestamp, _) => format!("'{}'", at.format("%Y-%m-%d %H:%M:%S")),
            (Column::AsSampled, Dialect::Sqlite) => format!("'{}'", at.format("%Y-%m-%d %H:%M:%S")),
            (Column::AsSampled, Dialect::Postgres) => format!("'{}'", at.to_rfc3339()),
        };
        exec(db, format!("INSERT INTO payments (id, user_id, razorpay_payment_id, amount_inr_paise, status, created_at) VALUES ({id}, 1, 'pay_{id}', 100, 'captured', {value})")).await;
    }
    if matches!(column, Column::PostgresTimestamp) {
        // Half a second before midnight in India: still the old year.
        exec(db, "INSERT INTO payments (id, user_id, razorpay_payment_id, amount_inr_paise, status, created_at) VALUES (7, 1, 'pay_7', 100, 'captured', '2026-03-31 18:29:59.5')".to_owned()).await;
    }
}

#[test]
fn payments_go_eight_financial_years_after_their_year_ends() {
    runtime().block_on(async {
        for db in fresh_databases("financial_year").await {
            let policy = privctl_policy::check_str(POLICY).policy.expect("policy");
            let s = Session::open(policy, POLICY, Some(&db.url), Open::Create)
                .await
                .expect("session");
            let options = SampleOptions {
                subjects: 10,
                seed: 3,
                as_of: t("2034-06-01T00:00:00Z"),
            };
            sample(&s, &options).await.expect("sample");
            let home = s.home_db().expect("home");
            let mut columns = vec![Column::AsSampled, Column::UnixSeconds];
            if db.dialect == Dialect::Postgres {
                columns.push(Column::PostgresTimestamp);
            }
            for column in columns {
                payments(home, column).await;
                // A fresh session reads the live schema again.
                let policy = privctl_policy::check_str(POLICY).policy.expect("policy");
                let s = Session::open(policy, POLICY, Some(&db.url), Open::Existing)
                    .await
                    .expect("session");
                let home = s.home_db().expect("home");
                // One second before midnight in India on 31 March 2034,
                // only FY 2024-25's payment has had eight years since its
                // year ended; at midnight, FY 2025-26's too; later in 2034,
                // nothing more.
                let mut left: Vec<i64> = PAYMENTS.iter().map(|p| p.0).collect();
                if matches!(column, Column::PostgresTimestamp) {
                    left.push(7);
                }
                for (at, gone) in [
                    ("2034-03-31T18:29:59Z", &[1][..]),
                    ("2034-03-31T18:30:00Z", &[2, 7][..]),
                    ("2034-06-01T00:00:00Z", &[][..]),
                ] {
                    let report = s
                        .sweep(t(at), Some("payments"), false, &Options::default(), &|_| {})
                        .await
                        .expect("sweep");
                    let before = left.len();
                    left.retain(|id| !gone.contains(id));
                    let deleted: u64 = report.data_types.iter().map(|d| d.deleted).sum();
                    assert_eq!(
                        deleted,
                        (before - left.len()) as u64,
                        "{:?} {column:?} at {at}",
                        db.dialect
                    );
                    assert_eq!(ids(home).await, left, "{:?} {column:?} at {at}", db.dialect);
                }
                let kept: Vec<i64> = PAYMENTS.iter().filter(|p| !p.2).map(|p| p.0).collect();
                assert_eq!(left, kept);
            }
        }
    });
}

/// An erasure reports until when a floor keeps a row: eight years from the
/// end of the row's financial year, not from the row.
#[test]
fn a_floor_from_a_year_end_ends_eight_years_after_it() {
    let policy = privctl_policy::check_str(POLICY).policy.expect("policy");
    let end = FloorEnd {
        floor: "accounting_records".to_owned(),
        anchor: Sql::new(),
        kind: TimeKind::TimestampTz,
        period: policy.legal_floors["accounting_records"].period,
        year: policy.organisation.financial_year,
    };
    assert_eq!(
        end.end_for(t("2026-05-31T23:59:59Z")),
        Some(t("2035-03-31T18:30:00Z"))
    );
    assert_eq!(
        end.end_for(t("2026-03-31T18:29:59Z")),
        Some(t("2034-03-31T18:30:00Z"))
    );
}
