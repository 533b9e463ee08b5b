//! Where wrapped keys and sealed values live: SQLite (the embedded default)
//! or PostgreSQL, through sqlx. The same statements serve both; only the
//! table definitions differ. No identifier here comes from user input.

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use crate::keys::WrappedKey;
use crate::{Error, Result};

/// A vault's database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    postgres: bool,
}

/// A subject's data key row.
#[derive(Debug, Clone)]
pub struct DataKeyRow {
    /// The key id sealed values carry.
    pub id: u32,
    /// Whose key.
    pub subject: String,
    /// The wrapped key; `None` once crypto-shredded.
    pub wrapped: Option<WrappedKey>,
}

/// A sealed value row.
#[derive(Debug, Clone)]
pub struct ValueRow {
    /// Opaque reference key business tables hold.
    pub reference: String,
    /// Whose value.
    pub subject: String,
    /// `pan` or `aadhaar`.
    pub kind: String,
    /// The sealed bytes.
    pub sealed: Vec<u8>,
    /// Blind index of the normal form.
    pub blind_index: String,
}

fn db(context: &'static str) -> impl Fn(sqlx::Error) -> Error {
    move |e| Error::Database {
        context,
        message: e.to_string(),
    }
}

impl Store {
    /// Connects to `url` (`sqlite://path?mode=rwc`, `postgres://...`) and
    /// creates the vault's tables if they are missing.
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let postgres = url.starts_with("postgres://") || url.starts_with("postgresql://");
        if !postgres && !url.starts_with("sqlite:") {
            return Err(Error::Database {
                context: "connecting",
                message: "the database URL must start with sqlite: or postgres://".to_owned(),
            });
        }
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .connect(url)
            .await
            .map_err(db("connecting to the vault database"))?;
        let store = Store { pool, postgres };
        store.create_tables().await?;
        Ok(store)
    }

    async fn create_tables(&self) -> Result<()> {
        let (id, blob) = if self.postgres {
            ("BIGSERIAL PRIMARY KEY", "BYTEA")
        } else {
            ("INTEGER PRIMARY KEY AUTOINCREMENT", "BLOB")
        };
        let statements = [
            format!(
                "CREATE TABLE IF NOT EXISTS privctl_vault_keys (id {id}, subject TEXT NOT NULL UNIQUE, master_version BIGINT, wrapped {blob}, shredded BIGINT NOT NULL DEFAULT 0)"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS privctl_vault_values (reference TEXT PRIMARY KEY, subject TEXT NOT NULL, kind TEXT NOT NULL, sealed {blob} NOT NULL, blind_index TEXT NOT NULL)"
            ),
            "CREATE INDEX IF NOT EXISTS privctl_vault_values_blind ON privctl_vault_values (kind, blind_index)".to_owned(),
            format!(
                "CREATE TABLE IF NOT EXISTS privctl_vault_epochs (purpose TEXT NOT NULL, epoch BIGINT NOT NULL, master_version BIGINT NOT NULL, wrapped {blob} NOT NULL, PRIMARY KEY (purpose, epoch))"
            ),
            "CREATE INDEX IF NOT EXISTS privctl_vault_keys_version ON privctl_vault_keys (master_version)".to_owned(),
        ];
        // PostgreSQL races on concurrent CREATE ... IF NOT EXISTS; one
        // connection holding an advisory lock creates the tables.
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db("creating the vault tables"))?;
        if self.postgres {
            sqlx::query("SELECT pg_advisory_lock(7274812)")
                .execute(&mut *conn)
                .await
                .map_err(db("creating the vault tables"))?;
        }
        let mut result = Ok(());
        for s in statements {
            // Built from the constants above only: no input reaches this SQL.
            if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(s))
                .execute(&mut *conn)
                .await
            {
                result = Err(db("creating the vault tables")(e));
                break;
            }
        }
        if self.postgres {
            sqlx::query("SELECT pg_advisory_unlock(7274812)")
                .execute(&mut *conn)
                .await
                .map_err(db("creating the vault tables"))?;
        }
        result
    }

    fn key_row(row: &AnyRow) -> Result<DataKeyRow> {
        let id: i64 = row.try_get("id").map_err(db("reading a data key"))?;
        let subject: String = row.try_get("subject").map_err(db("reading a data key"))?;
        // 0 or 1: the Any driver has no portable boolean.
        let shredded: i64 = row.try_get("shredded").map_err(db("reading a data key"))?;
        let wrapped = if shredded != 0 {
            None
        } else {
            let version: i64 = row
                .try_get("master_version")
                .map_err(db("reading a data key"))?;
            let bytes: Vec<u8> = row.try_get("wrapped").map_err(db("reading a data key"))?;
            Some(WrappedKey {
                master_version: u32::try_from(version).map_err(|_| Error::Tampered)?,
                bytes,
            })
        };
        Ok(DataKeyRow {
            id: u32::try_from(id).map_err(|_| Error::Tampered)?,
            subject,
            wrapped,
        })
    }

    /// The subject's data key row.
    pub async fn data_key(&self, subject: &str) -> Result<Option<DataKeyRow>> {
        let row = sqlx::query("SELECT id, subject, master_version, wrapped, shredded FROM privctl_vault_keys WHERE subject = $1")
            .bind(subject)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a data key"))?;
        row.as_ref().map(Self::key_row).transpose()
    }

    /// The data key row with this id.
    pub async fn data_key_by_id(&self, id: u32) -> Result<Option<DataKeyRow>> {
        let row = sqlx::query("SELECT id, subject, master_version, wrapped, shredded FROM privctl_vault_keys WHERE id = $1")
            .bind(i64::from(id))
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a data key"))?;
        row.as_ref().map(Self::key_row).transpose()
    }

    /// Stores a new subject's wrapped data key; returns its id.
    pub async fn insert_data_key(&self, subject: &str, wrapped: &WrappedKey) -> Result<u32> {
        sqlx::query("INSERT INTO privctl_vault_keys (subject, master_version, wrapped, shredded) VALUES ($1, $2, $3, 0)")
            .bind(subject)
            .bind(i64::from(wrapped.master_version))
            .bind(wrapped.bytes.clone())
            .execute(&self.pool)
            .await
            .map_err(db("storing a data key"))?;
        self.data_key(subject)
            .await?
            .map(|r| r.id)
            .ok_or(Error::Database {
                context: "storing a data key",
                message: "the row vanished".to_owned(),
            })
    }

    /// Replaces wrapped keys (rewrap) in one short transaction, skipping any
    /// shredded meanwhile: a batch commits whole or not at all, so an
    /// interrupted rewrap resumes where it stopped.
    pub async fn update_wrapped(&self, batch: &[(u32, WrappedKey)]) -> Result<()> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(db("rewrapping data keys"))?;
        for (id, wrapped) in batch {
            sqlx::query("UPDATE privctl_vault_keys SET master_version = $1, wrapped = $2 WHERE id = $3 AND shredded = 0")
                .bind(i64::from(wrapped.master_version))
                .bind(wrapped.bytes.clone())
                .bind(i64::from(*id))
                .execute(&mut *tx)
                .await
                .map_err(db("rewrapping data keys"))?;
        }
        tx.commit().await.map_err(db("rewrapping data keys"))?;
        Ok(())
    }

    /// Up to `limit` live keys wrapped under an older master version than `newest`.
    pub async fn keys_older_than(&self, newest: u32, limit: i64) -> Result<Vec<DataKeyRow>> {
        let rows = sqlx::query("SELECT id, subject, master_version, wrapped, shredded FROM privctl_vault_keys WHERE shredded = 0 AND master_version < $1 ORDER BY id LIMIT $2")
            .bind(i64::from(newest))
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(db("listing data keys"))?;
        rows.iter().map(Self::key_row).collect()
    }

    /// How many live data keys each master version wraps.
    pub async fn keys_per_version(&self) -> Result<Vec<(u32, i64)>> {
        let rows = sqlx::query("SELECT master_version, COUNT(*) AS n FROM privctl_vault_keys WHERE shredded = 0 GROUP BY master_version ORDER BY master_version")
            .fetch_all(&self.pool)
            .await
            .map_err(db("counting data keys"))?;
        rows.iter()
            .map(|r| {
                let v: i64 = r
                    .try_get("master_version")
                    .map_err(db("counting data keys"))?;
                let n: i64 = r.try_get("n").map_err(db("counting data keys"))?;
                Ok((u32::try_from(v).map_err(|_| Error::Tampered)?, n))
            })
            .collect()
    }

    /// Destroys a subject's data key; returns whether one was live.
    pub async fn shred(&self, subject: &str) -> Result<bool> {
        let done = sqlx::query("UPDATE privctl_vault_keys SET wrapped = NULL, master_version = NULL, shredded = 1 WHERE subject = $1 AND shredded = 0")
            .bind(subject)
            .execute(&self.pool)
            .await
            .map_err(db("shredding a data key"))?;
        Ok(done.rows_affected() > 0)
    }

    /// Stores a sealed value.
    pub async fn insert_value(&self, v: &ValueRow) -> Result<()> {
        sqlx::query("INSERT INTO privctl_vault_values (reference, subject, kind, sealed, blind_index) VALUES ($1, $2, $3, $4, $5)")
            .bind(v.reference.clone())
            .bind(v.subject.clone())
            .bind(v.kind.clone())
            .bind(v.sealed.clone())
            .bind(v.blind_index.clone())
            .execute(&self.pool)
            .await
            .map_err(db("storing a sealed value"))?;
        Ok(())
    }

    /// The sealed value behind a reference.
    pub async fn value(&self, reference: &str) -> Result<Option<ValueRow>> {
        let row = sqlx::query("SELECT reference, subject, kind, sealed, blind_index FROM privctl_vault_values WHERE reference = $1")
            .bind(reference)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a sealed value"))?;
        row.map(|r| {
            let get = |c: &'static str| {
                r.try_get::<String, _>(c)
                    .map_err(db("reading a sealed value"))
            };
            Ok(ValueRow {
                reference: get("reference")?,
                subject: get("subject")?,
                kind: get("kind")?,
                sealed: r.try_get("sealed").map_err(db("reading a sealed value"))?,
                blind_index: get("blind_index")?,
            })
        })
        .transpose()
    }

    /// References whose blind index matches.
    pub async fn find(&self, kind: &str, blind_index: &str) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT reference, subject FROM privctl_vault_values WHERE kind = $1 AND blind_index = $2 ORDER BY reference")
            .bind(kind)
            .bind(blind_index)
            .fetch_all(&self.pool)
            .await
            .map_err(db("searching the blind index"))?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("reference")
                        .map_err(db("searching the blind index"))?,
                    r.try_get("subject")
                        .map_err(db("searching the blind index"))?,
                ))
            })
            .collect()
    }

    /// The wrapped key of one pseudonymisation epoch, if it exists.
    pub async fn epoch_key(&self, purpose: &str, epoch: u64) -> Result<Option<WrappedKey>> {
        let row = sqlx::query("SELECT master_version, wrapped FROM privctl_vault_epochs WHERE purpose = $1 AND epoch = $2")
            .bind(purpose)
            .bind(epoch as i64)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading an epoch key"))?;
        row.map(|r| {
            let v: i64 = r
                .try_get("master_version")
                .map_err(db("reading an epoch key"))?;
            Ok(WrappedKey {
                master_version: u32::try_from(v).map_err(|_| Error::Tampered)?,
                bytes: r.try_get("wrapped").map_err(db("reading an epoch key"))?,
            })
        })
        .transpose()
    }

    /// Stores an epoch key unless another process stored one first.
    pub async fn insert_epoch_key(
        &self,
        purpose: &str,
        epoch: u64,
        wrapped: &WrappedKey,
    ) -> Result<()> {
        sqlx::query("INSERT INTO privctl_vault_epochs (purpose, epoch, master_version, wrapped) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
            .bind(purpose)
            .bind(epoch as i64)
            .bind(i64::from(wrapped.master_version))
            .bind(wrapped.bytes.clone())
            .execute(&self.pool)
            .await
            .map_err(db("storing an epoch key"))?;
        Ok(())
    }

    /// Epoch keys wrapped under an older master version than `newest`.
    pub async fn epochs_older_than(&self, newest: u32) -> Result<Vec<(String, u64, WrappedKey)>> {
        let rows = sqlx::query("SELECT purpose, epoch, master_version, wrapped FROM privctl_vault_epochs WHERE master_version < $1")
            .bind(i64::from(newest))
            .fetch_all(&self.pool)
            .await
            .map_err(db("listing epoch keys"))?;
        rows.iter()
            .map(|r| {
                let e = db("listing epoch keys");
                let v: i64 = r.try_get("master_version").map_err(&e)?;
                let epoch: i64 = r.try_get("epoch").map_err(&e)?;
                Ok((
                    r.try_get("purpose").map_err(&e)?,
                    u64::try_from(epoch).map_err(|_| Error::Tampered)?,
                    WrappedKey {
                        master_version: u32::try_from(v).map_err(|_| Error::Tampered)?,
                        bytes: r.try_get("wrapped").map_err(&e)?,
                    },
                ))
            })
            .collect()
    }

    /// Replaces an epoch key's wrapping.
    pub async fn update_epoch(
        &self,
        purpose: &str,
        epoch: u64,
        wrapped: &WrappedKey,
    ) -> Result<()> {
        sqlx::query("UPDATE privctl_vault_epochs SET master_version = $1, wrapped = $2 WHERE purpose = $3 AND epoch = $4")
            .bind(i64::from(wrapped.master_version))
            .bind(wrapped.bytes.clone())
            .bind(purpose)
            .bind(epoch as i64)
            .execute(&self.pool)
            .await
            .map_err(db("rewrapping an epoch key"))?;
        Ok(())
    }

    /// Destroys the epoch keys older than `epoch`, ending the linkability of
    /// the hashes made under them; returns how many.
    pub async fn destroy_epochs_before(&self, purpose: &str, epoch: u64) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM privctl_vault_epochs WHERE purpose = $1 AND epoch < $2")
                .bind(purpose)
                .bind(epoch as i64)
                .execute(&self.pool)
                .await
                .map_err(db("destroying epoch keys"))?;
        Ok(done.rows_affected())
    }

    /// Moves a sealed value to another reference: for tests that prove a
    /// moved ciphertext no longer opens.
    #[doc(hidden)]
    pub async fn overwrite_sealed(&self, reference: &str, sealed: &[u8]) -> Result<()> {
        sqlx::query("UPDATE privctl_vault_values SET sealed = $1 WHERE reference = $2")
            .bind(sealed.to_vec())
            .bind(reference)
            .execute(&self.pool)
            .await
            .map_err(db("writing a sealed value"))?;
        Ok(())
    }
}
