//! Connections, transactions and locks.

use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyConnection, AnyPool, Connection, Transaction};

use crate::url::sqlite_url;
use crate::{DbUrl, Dialect, Error, Result};

/// How long connecting may take before the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether a missing SQLite file may be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Open {
    /// The database must exist.
    Existing,
    /// A missing SQLite file (and its directory) is created.
    Create,
}

/// The locks writers serialise on: SQLite's one write lock, or on
/// PostgreSQL a transaction-level advisory lock per purpose, so the vault's
/// writers do not queue behind a sweep's bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// The vault's tables.
    Vault,
    /// privctl's own tables: creating and upgrading them, run log, holds.
    Privctl,
    /// The audit log's head: appends take it in whatever transaction they
    /// join, so entries are numbered and chained one at a time.
    Audit,
    /// No lock of privctl's own: the rows a statement touches are locked by
    /// the database (on SQLite, still its one write lock). For batches of a
    /// sweep, which must not queue behind each other's bookkeeping.
    Rows,
}

impl Lock {
    fn advisory_key(self) -> Option<i64> {
        match self {
            Lock::Vault => Some(7_274_813),
            Lock::Privctl => Some(7_274_814),
            Lock::Audit => Some(7_274_815),
            Lock::Rows => None,
        }
    }
}

/// One open store: a pool of connections to one database, with the store's
/// name for messages.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    dialect: Dialect,
    url: DbUrl,
    name: String,
}

impl Db {
    /// Opens the store `name` at `url`; the URL's scheme picks the dialect.
    /// An unreachable server is reported at once with its own error, not as
    /// a pool timeout.
    pub async fn open(name: &str, url: &str, mode: Open) -> Result<Db> {
        sqlx::any::install_default_drivers();
        let shown = DbUrl::new(url);
        let dialect = shown.dialect()?;
        let real = match dialect {
            Dialect::Sqlite => {
                let rest = url.strip_prefix("sqlite:").unwrap_or(url);
                sqlite_url(rest, mode == Open::Create)?
            }
            Dialect::Postgres => shown.secret().to_owned(),
        };
        let connect_err = |source| Error::Connect {
            store: name.to_owned(),
            url: shown.clone(),
            source,
        };
        let probe = tokio::time::timeout(CONNECT_TIMEOUT, AnyConnection::connect(&real))
            .await
            .map_err(|_| Error::ConnectTimeout {
                store: name.to_owned(),
                url: shown.clone(),
                seconds: CONNECT_TIMEOUT.as_secs(),
            })?
            .map_err(connect_err)?;
        let _ = probe.close().await;
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(60))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    match dialect {
                        Dialect::Sqlite => {
                            // Deleted rows are overwritten, not left in free
                            // pages; writers wait for each other instead of
                            // failing at once; foreign keys hold.
                            for pragma in [
                                "PRAGMA secure_delete = ON",
                                "PRAGMA busy_timeout = 60000",
                                "PRAGMA foreign_keys = ON",
                            ] {
                                sqlx::query(pragma).execute(&mut *conn).await?;
                            }
                        }
                        Dialect::Postgres => {
                            // Time arithmetic and buckets in UTC, whatever
                            // the server's default.
                            sqlx::query("SET TIME ZONE 'UTC'")
                                .execute(&mut *conn)
                                .await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect(&real)
            .await
            .map_err(connect_err)?;
        Ok(Db {
            pool,
            dialect,
            url: shown,
            name: name.to_owned(),
        })
    }

    /// Which database this is.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Where it is (password masked when printed).
    pub fn url(&self) -> &DbUrl {
        &self.url
    }

    /// The store's name, as the policy (or the vault) calls it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The pool, for single statements outside a transaction.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A function turning a driver error into this store's error, naming
    /// the operation and the table.
    pub fn err(&self, operation: &str, table: Option<&str>) -> impl Fn(sqlx::Error) -> Error {
        let store = self.name.clone();
        let operation = operation.to_owned();
        let table = table.map(str::to_owned);
        move |source| Error::Database {
            store: store.clone(),
            table: table.clone(),
            operation: operation.clone(),
            source,
        }
    }

    /// Rows of `table` where `cond` holds; errors name `operation`.
    pub async fn count_where(
        &self,
        table: &privctl_policy::SqlIdent,
        cond: &crate::sql::Sql,
        operation: &str,
    ) -> Result<u64> {
        use sqlx::Row;
        let err = self.err(operation, Some(table.as_str()));
        let mut sql = crate::sql::Sql::new();
        sql.push("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM ")
            .ident(table)
            .push(" WHERE ")
            .append(cond);
        let n: i64 = sql
            .query()
            .fetch_one(self.pool())
            .await
            .map_err(&err)?
            .try_get("n")
            .map_err(&err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Up to `limit` rows of `columns` of `table`, each value as text (NULL
    /// as `None`): the first rows the database hands back. `LIMIT` without
    /// an order stops reading after them, so a large table is never read
    /// whole.
    pub async fn sample_text(
        &self,
        table: &privctl_policy::SqlIdent,
        columns: &[privctl_policy::SqlIdent],
        limit: u32,
    ) -> Result<Vec<Vec<Option<String>>>> {
        use sqlx::Row;
        if columns.is_empty() {
            return Ok(Vec::new());
        }
        let err = self.err("sampling values", Some(table.as_str()));
        let mut sql = crate::sql::Sql::new();
        sql.push("SELECT ");
        for (i, c) in columns.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push("CAST(").ident(c).push(" AS TEXT)");
        }
        sql.push(" FROM ")
            .ident(table)
            .push(" LIMIT ")
            .bind(crate::sql::Value::Int(i64::from(limit)));
        let rows = sql.query().fetch_all(self.pool()).await.map_err(&err)?;
        rows.iter()
            .map(|r| {
                (0..columns.len())
                    .map(|i| r.try_get::<Option<String>, _>(i).map_err(&err))
                    .collect()
            })
            .collect()
    }

    /// Runs `f` in a transaction holding `lock`: committed when `f` returns
    /// `Ok`, rolled back at once when it returns `Err`. (A transaction merely
    /// dropped is rolled back only when its connection is next used, and on
    /// PostgreSQL would hold the lock until then.)
    pub async fn write_with<T, E: From<Error>>(
        &self,
        lock: Lock,
        f: impl AsyncFnOnce(&mut AnyConnection) -> Result<T, E>,
    ) -> Result<T, E> {
        let op = "taking the write lock";
        let mut tx = match self.dialect {
            Dialect::Sqlite => self
                .pool
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map_err(self.err(op, None))?,
            Dialect::Postgres => {
                // Read committed whatever the server's default: a writer
                // that waited for a lock must see what was committed while
                // it waited (the audit log's head, above all).
                let mut tx = self
                    .pool
                    .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
                    .await
                    .map_err(self.err(op, None))?;
                if let Some(key) = lock.advisory_key() {
                    if let Err(e) = sqlx::query("SELECT pg_advisory_xact_lock($1)")
                        .bind(key)
                        .execute(&mut *tx)
                        .await
                    {
                        let _ = tx.rollback().await;
                        return Err(self.err(op, None)(e).into());
                    }
                }
                tx
            }
        };
        match f(&mut tx).await {
            Ok(v) => {
                tx.commit().await.map_err(self.err("committing", None))?;
                Ok(v)
            }
            Err(e) => {
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }

    /// Takes `lock` inside a transaction already open on `c` (PostgreSQL:
    /// a transaction-level advisory lock; SQLite's write transaction is
    /// already exclusive), released when that transaction ends.
    pub async fn lock_in(&self, c: &mut AnyConnection, lock: Lock) -> Result<()> {
        if let (Dialect::Postgres, Some(key)) = (self.dialect, lock.advisory_key()) {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(key)
                .execute(&mut *c)
                .await
                .map_err(self.err("taking a lock", None))?;
        }
        Ok(())
    }

    /// Runs `f` in a read-only snapshot, ended at once whatever it returns:
    /// reads in it agree with each other while writers go on.
    pub async fn read_with<T, E: From<Error>>(
        &self,
        f: impl AsyncFnOnce(&mut AnyConnection) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut tx = self.snapshot().await?;
        let out = f(&mut tx).await;
        let _ = tx.rollback().await;
        out
    }

    /// A read-only snapshot to hold across several reads (an export that
    /// reads many tables, several stores at once); roll it back when done.
    pub async fn snapshot(&self) -> Result<Transaction<'static, sqlx::Any>> {
        let op = "starting a read";
        Ok(match self.dialect {
            Dialect::Sqlite => self.pool.begin().await.map_err(self.err(op, None))?,
            Dialect::Postgres => self
                .pool
                .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .await
                .map_err(self.err(op, None))?,
        })
    }
}
