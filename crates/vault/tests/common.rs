//! Fresh databases for each test: a SQLite file always, and a PostgreSQL
//! database when `PRIVCTL_TEST_POSTGRES_URL` names a server (as
//! `scripts/with-postgres` does). Under CI (`PRIVCTL_REQUIRE_SERVERS` set) a
//! missing server fails the test instead of skipping it.

use std::path::PathBuf;

use privctl_vault::{KeyFile, Store, Vault};

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

pub fn unique(prefix: &str) -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let k = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix}_{n}_{k}")
}

/// The PostgreSQL server's admin URL, if the tests have one.
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

/// One database for one test, with a directory for its key file.
pub struct Db {
    pub name: &'static str,
    pub url: String,
    pub dir: tempfile::TempDir,
    /// For PostgreSQL: the database's name on the server.
    pub pg_database: Option<String>,
}

impl Db {
    pub fn key_file(&self) -> KeyFile {
        KeyFile::new(self.key_path())
    }

    pub fn key_path(&self) -> PathBuf {
        self.dir.path().join("vault.keys")
    }

    /// The SQLite file, for tests that read it raw.
    pub fn sqlite_path(&self) -> PathBuf {
        self.dir.path().join("vault.db")
    }

    pub async fn store(&self) -> Store {
        Store::create(&self.url).await.expect("store")
    }

    /// A new vault with its own key file.
    pub async fn vault(&self) -> Vault {
        Vault::init(self.store().await, &self.key_file())
            .await
            .expect("init")
    }

    /// The same vault opened again from its key file (another process).
    pub async fn reopen(&self) -> Vault {
        let keys = privctl_vault::Keys::from_file(self.key_path()).expect("keys");
        Vault::open(Store::open(&self.url).await.expect("store"), keys)
            .await
            .expect("open")
    }
}

/// A fresh database on every store this run has.
pub async fn databases() -> Vec<Db> {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite:{}", dir.path().join("vault.db").display());
    let mut out = vec![Db {
        name: "sqlite",
        url,
        dir,
        pg_database: None,
    }];
    if let Some(admin) = postgres_admin() {
        out.push(postgres_db(&admin).await);
    }
    out
}

pub async fn postgres_db(admin: &str) -> Db {
    sqlx::any::install_default_drivers();
    let name = unique("vault");
    let pool = sqlx::AnyPool::connect(admin).await.expect("postgres admin");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .expect("create database");
    let base = &admin[..admin.rfind('/').expect("database in URL")];
    Db {
        name: "postgres",
        url: format!("{base}/{name}"),
        dir: tempfile::tempdir().expect("dir"),
        pg_database: Some(name),
    }
}
