//! Fresh databases for each test: a SQLite file always, and a PostgreSQL
//! database when `PRIVCTL_TEST_POSTGRES_URL` names a server (as
//! `scripts/with-postgres` does). Under CI (`PRIVCTL_REQUIRE_SERVERS` set) a
//! missing server fails the test instead of skipping it.

use std::path::PathBuf;

use privctl_vault::{KeyFile, Store, Vault};

pub use privctl_store::testing::{runtime as rt, unique};

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
    if let Some(pg) = privctl_store::testing::fresh_postgres("vault").await {
        let name = pg.url.rsplit('/').next().map(str::to_owned);
        out.push(Db {
            name: "postgres",
            url: pg.url,
            dir: pg.dir,
            pg_database: name,
        });
    }
    out
}
