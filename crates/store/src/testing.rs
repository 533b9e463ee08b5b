//! Fresh databases for tests: a SQLite file always, and a PostgreSQL
//! database when `PRIVCTL_TEST_POSTGRES_URL` names a server (as
//! `scripts/with-postgres` does). Under CI (`PRIVCTL_REQUIRE_SERVERS` set) a
//! missing server is a failure, never a silent skip.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::Dialect;

/// One empty database for one test.
#[derive(Debug)]
pub struct TestDb {
    /// Which database it is.
    pub dialect: Dialect,
    /// Its URL.
    pub url: String,
    /// A directory of its own (the SQLite file lives in it), removed when
    /// the value is dropped.
    pub dir: tempfile::TempDir,
}

/// A two-thread runtime for a test's async body.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

/// A name no other test in any process uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let k = N.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}_{}_{nanos}_{k}", std::process::id())
}

/// The PostgreSQL server's admin URL, if the tests have one. Panics when
/// `PRIVCTL_REQUIRE_SERVERS` is set and there is none.
pub fn postgres_admin() -> Option<String> {
    match std::env::var("PRIVCTL_TEST_POSTGRES_URL") {
        Ok(url) => Some(url),
        Err(_) => {
            assert!(
                std::env::var_os("PRIVCTL_REQUIRE_SERVERS").is_none(),
                "PRIVCTL_REQUIRE_SERVERS is set but PRIVCTL_TEST_POSTGRES_URL is not: run the tests under scripts/with-postgres"
            );
            None
        }
    }
}

/// A fresh, empty SQLite database file (not yet created).
pub fn fresh_sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temporary directory: {e}"));
    let url = format!("sqlite:{}", dir.path().join("test.db").display());
    TestDb {
        dialect: Dialect::Sqlite,
        url,
        dir,
    }
}

/// A fresh, empty PostgreSQL database on the test server, if there is one.
pub async fn fresh_postgres(prefix: &str) -> Option<TestDb> {
    let admin = postgres_admin()?;
    sqlx::any::install_default_drivers();
    let name = unique(prefix).to_ascii_lowercase();
    let pool = sqlx::AnyPool::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("connecting to the test server: {e}"));
    // `name` is made of a prefix chosen by the test and digits.
    assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .unwrap_or_else(|e| panic!("creating a test database: {e}"));
    pool.close().await;
    let base = &admin[..admin.rfind('/').unwrap_or(admin.len())];
    Some(TestDb {
        dialect: Dialect::Postgres,
        url: format!("{base}/{name}"),
        dir: tempfile::tempdir().unwrap_or_else(|e| panic!("temporary directory: {e}")),
    })
}

/// The ClickHouse server's URL, if the tests have one (as
/// `scripts/with-clickhouse` gives). Panics when `PRIVCTL_REQUIRE_SERVERS`
/// is set and there is none.
pub fn clickhouse_server() -> Option<String> {
    match std::env::var("PRIVCTL_TEST_CLICKHOUSE_URL") {
        Ok(url) => Some(url),
        Err(_) => {
            assert!(
                std::env::var_os("PRIVCTL_REQUIRE_SERVERS").is_none(),
                "PRIVCTL_REQUIRE_SERVERS is set but PRIVCTL_TEST_CLICKHOUSE_URL is not: run the tests under scripts/with-clickhouse"
            );
            None
        }
    }
}

/// A fresh, empty ClickHouse database on the test server, as a URL, if
/// there is a server.
pub async fn fresh_clickhouse(prefix: &str) -> Option<String> {
    let server = clickhouse_server()?;
    let name = unique(prefix).to_ascii_lowercase();
    assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    let admin = crate::clickhouse::ClickHouse::open("test", &server)
        .await
        .unwrap_or_else(|e| panic!("connecting to the ClickHouse test server: {e}"));
    let ident = privctl_policy::SqlIdent::new(&name).expect("a plain name");
    let mut sql = crate::sql::Sql::new();
    sql.push("CREATE DATABASE ").ident(&ident);
    admin
        .execute(&sql, "creating a test database", None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let base = server.trim_end_matches('/');
    Some(format!("{base}/{name}"))
}

/// A fresh database on every store this run has: SQLite, and PostgreSQL
/// where a server is given.
pub async fn fresh_databases(prefix: &str) -> Vec<TestDb> {
    let mut out = vec![fresh_sqlite()];
    out.extend(fresh_postgres(prefix).await);
    out
}

/// When the financial year holding `t` ends, found the plain way for test
/// oracles: the first start of a financial year (local midnight on its
/// first day) after `t`, among the calendar years around it.
pub fn financial_year_end(
    fy: &privctl_policy::model::FinancialYear,
    t: chrono::DateTime<chrono::Utc>,
) -> chrono::DateTime<chrono::Utc> {
    use chrono::Datelike;
    let offset = chrono::Duration::minutes(fy.utc_offset.minutes().into());
    let year = t.year();
    (year - 1..=year + 2)
        .filter_map(|y| {
            chrono::NaiveDate::from_ymd_opt(y, fy.starts.month(), fy.starts.day())
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc() - offset)
        })
        .find(|start| *start > t)
        .expect("a financial year starts within a year")
}
