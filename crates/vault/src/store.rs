//! The vault's database: SQLite (the embedded default) or PostgreSQL,
//! through sqlx. One set of statements serves both; only the table
//! definitions and the write lock differ. Every statement is constant text
//! (a list of `$n` placeholders at most); values are always bound.
//!
//! Connections, locks and errors come from the shared store layer
//! (`privctl-store`). Writers serialise on one database lock (SQLite's write
//! lock through `BEGIN IMMEDIATE`, a PostgreSQL transaction-level advisory
//! lock), held for one short transaction: a put, a batch of 100 re-wrapped
//! keys, the first half of a shred. Readers take a snapshot transaction.
//!
//! SQLite connections run with `secure_delete`, so a deleted key or blind
//! index is overwritten with zeros in the database file instead of staying
//! in a free page; [`crate::manual`] says what that does and does not cover.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use privctl_store::{Db, Dialect, Lock, Open};

use crate::{Error, Result};

/// The schema version this release writes.
pub(crate) const SCHEMA_VERSION: i64 = 2;

/// A vault's database, on the shared store layer.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
}

/// The state of a group of subjects, as Rust sets it. (A group that reaches
/// [`crate::GROUP_SIZE`] members becomes `full` in the statement that
/// counts them, and takes no new subjects.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GroupState {
    /// New subjects join it.
    Open,
    /// A member was shredded: its subjects are moving to a new group, then
    /// its key is deleted.
    Retiring,
}

impl GroupState {
    fn as_str(self) -> &'static str {
        match self {
            GroupState::Open => "open",
            GroupState::Retiring => "retiring",
        }
    }
}

/// The state of a master key version, as the database records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MasterState {
    /// It may wrap new keys.
    Active,
    /// It is being destroyed: nothing new is wrapped under it.
    Retiring,
    /// Nothing uses it and it has left the key file.
    Retired,
}

impl MasterState {
    fn as_str(self) -> &'static str {
        match self {
            MasterState::Active => "active",
            MasterState::Retiring => "retiring",
            MasterState::Retired => "retired",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "active" => Ok(MasterState::Active),
            "retiring" => Ok(MasterState::Retiring),
            "retired" => Ok(MasterState::Retired),
            other => Err(Error::Corrupt(format!("master key state {other:?}"))),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct MasterRow {
    pub version: u32,
    pub check: String,
    pub state: MasterState,
}

#[derive(Debug, Clone)]
pub(crate) struct GroupRow {
    pub id: i64,
    pub master_version: u32,
    pub wrapped: Vec<u8>,
    pub replaced_by: Option<i64>,
}

#[derive(Debug, Clone)]
pub(crate) struct KeyRow {
    pub id: i64,
    pub subject: String,
    pub group: i64,
    pub wrapped: Vec<u8>,
}

#[derive(Debug, Clone)]
pub(crate) struct ValueRow {
    pub reference: String,
    pub subject: String,
    pub kind: String,
    pub sealed: Vec<u8>,
    pub blind_index: String,
}

#[derive(Debug, Clone)]
pub(crate) struct EpochRow {
    pub purpose: String,
    pub epoch: u64,
    pub master_version: u32,
    pub wrapped: Vec<u8>,
}

/// A key row of the version 1 layout, for migration.
#[derive(Debug, Clone)]
pub(crate) struct LegacyKeyRow {
    pub id: i64,
    pub subject: String,
    pub master_version: Option<i64>,
    pub wrapped: Option<Vec<u8>>,
    pub shredded: bool,
}

/// What the database holds, before the vault looks at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// No vault tables.
    Empty,
    /// privctl 0.1's tables.
    V1,
    /// This release's.
    Current,
}

fn db(operation: &'static str) -> impl Fn(sqlx::Error) -> Error {
    move |source| Error::Database { operation, source }
}

fn version(v: i64, what: &str) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::Corrupt(format!("{what} master key version {v}")))
}

impl Store {
    /// Opens an existing vault database: `sqlite:PATH` (the file must exist)
    /// or `postgres://...`.
    pub async fn open(url: &str) -> Result<Self> {
        Self::connect(url, Open::Existing).await
    }

    /// Opens a vault database, creating a SQLite file (and its directory)
    /// when there is none.
    pub async fn create(url: &str) -> Result<Self> {
        Self::connect(url, Open::Create).await
    }

    async fn connect(url: &str, mode: Open) -> Result<Self> {
        match Db::open("vault", url, mode).await {
            Ok(db) => Ok(Store { db }),
            Err(privctl_store::Error::NoDatabase { path }) => Err(Error::NoDatabase { path }),
            Err(e) => Err(e.into()),
        }
    }

    /// Which database this is.
    pub fn dialect(&self) -> Dialect {
        self.db.dialect()
    }

    /// Where it is (password masked when printed).
    pub fn url(&self) -> &privctl_store::DbUrl {
        self.db.url()
    }

    /// Runs `f` in a transaction holding the vault's write lock: committed
    /// when `f` returns `Ok`, rolled back at once when it returns `Err`.
    pub(crate) async fn write_with<T>(
        &self,
        f: impl AsyncFnOnce(&mut AnyConnection) -> Result<T>,
    ) -> Result<T> {
        self.db.write_with(Lock::Vault, f).await
    }

    /// Runs `f` in a read-only snapshot, ended at once whatever it returns:
    /// reads in it agree with each other even while keys move between groups.
    pub(crate) async fn read_with<T>(
        &self,
        f: impl AsyncFnOnce(&mut AnyConnection) -> Result<T>,
    ) -> Result<T> {
        self.db.read_with(f).await
    }

    // --- Layout ----------------------------------------------------------

    pub(crate) async fn layout(&self, c: &mut AnyConnection) -> Result<Layout> {
        let q = match self.dialect() {
            Dialect::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'privctl_vault_%'",
            Dialect::Postgres => "SELECT CAST(table_name AS TEXT) AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name LIKE 'privctl_vault_%'",
        };
        let op = "reading the vault's tables";
        let names: Vec<String> = sqlx::query(q)
            .fetch_all(&mut *c)
            .await
            .map_err(db(op))?
            .iter()
            .map(|r| r.try_get::<String, _>("name"))
            .collect::<Result<_, _>>()
            .map_err(db(op))?;
        if names.iter().any(|n| n == "privctl_vault_meta") {
            let v = self.meta(c, "schema_version").await?;
            match v.as_deref().map(str::parse::<i64>) {
                Some(Ok(SCHEMA_VERSION)) => Ok(Layout::Current),
                Some(Ok(n)) if n > SCHEMA_VERSION => Err(Error::SchemaTooNew(n)),
                _ => Err(Error::Corrupt(format!(
                    "schema version {:?}",
                    v.unwrap_or_default()
                ))),
            }
        } else if names.iter().any(|n| n == "privctl_vault_keys") {
            Ok(Layout::V1)
        } else {
            Ok(Layout::Empty)
        }
    }

    fn types(&self) -> (&'static str, &'static str) {
        match self.dialect() {
            Dialect::Sqlite => ("INTEGER PRIMARY KEY AUTOINCREMENT", "BLOB"),
            Dialect::Postgres => ("BIGSERIAL PRIMARY KEY", "BYTEA"),
        }
    }

    /// The tables this release adds to version 1's.
    fn new_tables(&self) -> Vec<String> {
        let (id, blob) = self.types();
        vec![
            "CREATE TABLE IF NOT EXISTS privctl_vault_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)".to_owned(),
            "CREATE TABLE IF NOT EXISTS privctl_vault_masters (version BIGINT PRIMARY KEY, check_value TEXT NOT NULL, state TEXT NOT NULL)".to_owned(),
            format!("CREATE TABLE IF NOT EXISTS privctl_vault_groups (id {id}, master_version BIGINT NOT NULL, wrapped {blob} NOT NULL, members BIGINT NOT NULL, state TEXT NOT NULL, replaced_by BIGINT)"),
            "CREATE TABLE IF NOT EXISTS privctl_vault_shredded_subjects (tag TEXT PRIMARY KEY, shredded_at BIGINT NOT NULL)".to_owned(),
            "CREATE TABLE IF NOT EXISTS privctl_vault_shredded_refs (reference TEXT PRIMARY KEY, kind TEXT NOT NULL, shredded_at BIGINT NOT NULL)".to_owned(),
            "CREATE INDEX IF NOT EXISTS privctl_vault_values_subject ON privctl_vault_values (subject)".to_owned(),
        ]
    }

    /// Creates the tables of an empty database.
    pub(crate) async fn create_tables(&self, c: &mut AnyConnection) -> Result<()> {
        let (id, blob) = self.types();
        let mut statements = vec![
            format!("CREATE TABLE IF NOT EXISTS privctl_vault_keys (id {id}, subject TEXT NOT NULL UNIQUE, group_id BIGINT NOT NULL, wrapped {blob} NOT NULL)"),
            "CREATE INDEX IF NOT EXISTS privctl_vault_keys_group ON privctl_vault_keys (group_id)".to_owned(),
            format!("CREATE TABLE IF NOT EXISTS privctl_vault_values (reference TEXT PRIMARY KEY, subject TEXT NOT NULL, kind TEXT NOT NULL, sealed {blob} NOT NULL, blind_index TEXT NOT NULL)"),
            "CREATE INDEX IF NOT EXISTS privctl_vault_values_blind ON privctl_vault_values (kind, blind_index)".to_owned(),
            format!("CREATE TABLE IF NOT EXISTS privctl_vault_epochs (purpose TEXT NOT NULL, epoch BIGINT NOT NULL, master_version BIGINT NOT NULL, wrapped {blob} NOT NULL, PRIMARY KEY (purpose, epoch))"),
        ];
        statements.extend(self.new_tables());
        self.run_ddl(c, statements, "creating the vault's tables")
            .await?;
        self.set_meta(c, "schema_version", &SCHEMA_VERSION.to_string())
            .await
    }

    /// Turns version 1's tables into this release's (the data is moved by
    /// [`crate::migrate`] in the same transaction).
    pub(crate) async fn upgrade_tables(&self, c: &mut AnyConnection) -> Result<()> {
        let mut statements = vec![
            "ALTER TABLE privctl_vault_keys ADD COLUMN group_id BIGINT".to_owned(),
            "CREATE INDEX IF NOT EXISTS privctl_vault_keys_group ON privctl_vault_keys (group_id)"
                .to_owned(),
        ];
        statements.extend(self.new_tables());
        self.run_ddl(c, statements, "upgrading the vault's tables")
            .await
    }

    async fn run_ddl(
        &self,
        c: &mut AnyConnection,
        statements: Vec<String>,
        op: &'static str,
    ) -> Result<()> {
        for s in statements {
            // Built from the constants above only: no input reaches this SQL.
            sqlx::query(sqlx::AssertSqlSafe(s))
                .execute(&mut *c)
                .await
                .map_err(db(op))?;
        }
        Ok(())
    }

    // --- Meta ------------------------------------------------------------

    pub(crate) async fn meta(&self, c: &mut AnyConnection, name: &str) -> Result<Option<String>> {
        let op = "reading the vault's settings";
        sqlx::query("SELECT value FROM privctl_vault_meta WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *c)
            .await
            .map_err(db(op))?
            .map(|r| r.try_get("value").map_err(db(op)))
            .transpose()
    }

    pub(crate) async fn set_meta(
        &self,
        c: &mut AnyConnection,
        name: &str,
        value: &str,
    ) -> Result<()> {
        sqlx::query("INSERT INTO privctl_vault_meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value")
            .bind(name)
            .bind(value)
            .execute(&mut *c)
            .await
            .map_err(db("writing the vault's settings"))?;
        Ok(())
    }

    /// Deletes a setting only if it still has `value`; returns whether it did.
    pub(crate) async fn clear_meta(
        &self,
        c: &mut AnyConnection,
        name: &str,
        value: &str,
    ) -> Result<bool> {
        let done = sqlx::query("DELETE FROM privctl_vault_meta WHERE name = $1 AND value = $2")
            .bind(name)
            .bind(value)
            .execute(&mut *c)
            .await
            .map_err(db("writing the vault's settings"))?;
        Ok(done.rows_affected() > 0)
    }

    // --- Master versions -------------------------------------------------

    pub(crate) async fn masters(&self, c: &mut AnyConnection) -> Result<Vec<MasterRow>> {
        let op = "reading master key versions";
        let rows = sqlx::query(
            "SELECT version, check_value, state FROM privctl_vault_masters ORDER BY version",
        )
        .fetch_all(&mut *c)
        .await
        .map_err(db(op))?;
        rows.iter()
            .map(|r| {
                Ok(MasterRow {
                    version: version(r.try_get("version").map_err(db(op))?, "recorded")?,
                    check: r.try_get("check_value").map_err(db(op))?,
                    state: MasterState::parse(&r.try_get::<String, _>("state").map_err(db(op))?)?,
                })
            })
            .collect()
    }

    pub(crate) async fn add_master(
        &self,
        c: &mut AnyConnection,
        v: u32,
        check: &str,
    ) -> Result<()> {
        sqlx::query("INSERT INTO privctl_vault_masters (version, check_value, state) VALUES ($1, $2, 'active') ON CONFLICT (version) DO NOTHING")
            .bind(i64::from(v))
            .bind(check)
            .execute(&mut *c)
            .await
            .map_err(db("recording a master key version"))?;
        Ok(())
    }

    pub(crate) async fn set_master_state(
        &self,
        c: &mut AnyConnection,
        v: u32,
        state: MasterState,
    ) -> Result<()> {
        sqlx::query("UPDATE privctl_vault_masters SET state = $1 WHERE version = $2")
            .bind(state.as_str())
            .bind(i64::from(v))
            .execute(&mut *c)
            .await
            .map_err(db("recording a master key version"))?;
        Ok(())
    }

    /// How many group keys and epoch keys each master version wraps.
    pub(crate) async fn usage(&self, c: &mut AnyConnection) -> Result<Vec<(u32, i64, i64)>> {
        let op = "counting keys per master version";
        let mut out: std::collections::BTreeMap<u32, (i64, i64)> = Default::default();
        for (q, epochs) in [
            ("SELECT master_version AS v, COUNT(*) AS n FROM privctl_vault_groups GROUP BY master_version", false),
            ("SELECT master_version AS v, COUNT(*) AS n FROM privctl_vault_epochs GROUP BY master_version", true),
        ] {
            for r in sqlx::query(q).fetch_all(&mut *c).await.map_err(db(op))? {
                let v = version(r.try_get("v").map_err(db(op))?, "used")?;
                let n: i64 = r.try_get("n").map_err(db(op))?;
                let e = out.entry(v).or_default();
                if epochs {
                    e.1 += n;
                } else {
                    e.0 += n;
                }
            }
        }
        Ok(out.into_iter().map(|(v, (g, e))| (v, g, e)).collect())
    }

    // --- Groups ----------------------------------------------------------

    fn group_row(r: &AnyRow) -> Result<GroupRow> {
        let op = "reading a group key";
        let replaced: Option<i64> = r.try_get("replaced_by").map_err(db(op))?;
        Ok(GroupRow {
            id: r.try_get("id").map_err(db(op))?,
            master_version: version(r.try_get("master_version").map_err(db(op))?, "group's")?,
            wrapped: r.try_get("wrapped").map_err(db(op))?,
            replaced_by: replaced,
        })
    }

    pub(crate) async fn open_group(&self, c: &mut AnyConnection) -> Result<Option<GroupRow>> {
        sqlx::query("SELECT id, master_version, wrapped, members, state, replaced_by FROM privctl_vault_groups WHERE state = 'open' ORDER BY id LIMIT 1")
            .fetch_optional(&mut *c)
            .await
            .map_err(db("reading a group key"))?
            .as_ref()
            .map(Self::group_row)
            .transpose()
    }

    pub(crate) async fn group(&self, c: &mut AnyConnection, id: i64) -> Result<Option<GroupRow>> {
        sqlx::query("SELECT id, master_version, wrapped, members, state, replaced_by FROM privctl_vault_groups WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *c)
            .await
            .map_err(db("reading a group key"))?
            .as_ref()
            .map(Self::group_row)
            .transpose()
    }

    pub(crate) async fn groups(&self, c: &mut AnyConnection) -> Result<Vec<GroupRow>> {
        sqlx::query("SELECT id, master_version, wrapped, members, state, replaced_by FROM privctl_vault_groups ORDER BY id")
            .fetch_all(&mut *c)
            .await
            .map_err(db("reading group keys"))?
            .iter()
            .map(Self::group_row)
            .collect()
    }

    pub(crate) async fn groups_in_state(
        &self,
        c: &mut AnyConnection,
        state: GroupState,
    ) -> Result<Vec<GroupRow>> {
        sqlx::query("SELECT id, master_version, wrapped, members, state, replaced_by FROM privctl_vault_groups WHERE state = $1 ORDER BY id")
            .bind(state.as_str())
            .fetch_all(&mut *c)
            .await
            .map_err(db("reading group keys"))?
            .iter()
            .map(Self::group_row)
            .collect()
    }

    /// Group keys wrapped under a master version older than `newest`.
    pub(crate) async fn groups_wrapped_before(
        &self,
        c: &mut AnyConnection,
        newest: u32,
        limit: i64,
    ) -> Result<Vec<GroupRow>> {
        sqlx::query("SELECT id, master_version, wrapped, members, state, replaced_by FROM privctl_vault_groups WHERE master_version < $1 ORDER BY id LIMIT $2")
            .bind(i64::from(newest))
            .bind(limit)
            .fetch_all(&mut *c)
            .await
            .map_err(db("reading group keys"))?
            .iter()
            .map(Self::group_row)
            .collect()
    }

    /// Inserts a group whose key is not wrapped yet (its id is part of the
    /// wrapping's associated data); [`Store::set_group_wrap`] follows in the
    /// same transaction.
    pub(crate) async fn insert_group(
        &self,
        c: &mut AnyConnection,
        state: GroupState,
    ) -> Result<i64> {
        let op = "storing a group key";
        let row = sqlx::query("INSERT INTO privctl_vault_groups (master_version, wrapped, members, state) VALUES (0, $1, 0, $2) RETURNING id")
            .bind(Vec::<u8>::new())
            .bind(state.as_str())
            .fetch_one(&mut *c)
            .await
            .map_err(db(op))?;
        row.try_get("id").map_err(db(op))
    }

    pub(crate) async fn set_group_wrap(
        &self,
        c: &mut AnyConnection,
        id: i64,
        master_version: u32,
        wrapped: &[u8],
    ) -> Result<()> {
        sqlx::query(
            "UPDATE privctl_vault_groups SET master_version = $1, wrapped = $2 WHERE id = $3",
        )
        .bind(i64::from(master_version))
        .bind(wrapped.to_vec())
        .bind(id)
        .execute(&mut *c)
        .await
        .map_err(db("storing a group key"))?;
        Ok(())
    }

    /// Adds `n` (possibly negative) members; a group that reaches `full`
    /// members stops taking new subjects.
    pub(crate) async fn add_members(
        &self,
        c: &mut AnyConnection,
        id: i64,
        n: i64,
        full: i64,
    ) -> Result<()> {
        sqlx::query("UPDATE privctl_vault_groups SET members = members + $1, state = CASE WHEN state = 'open' AND members + $1 >= $2 THEN 'full' ELSE state END WHERE id = $3")
            .bind(n)
            .bind(full)
            .bind(id)
            .execute(&mut *c)
            .await
            .map_err(db("counting a group's members"))?;
        Ok(())
    }

    pub(crate) async fn set_group_state(
        &self,
        c: &mut AnyConnection,
        id: i64,
        state: GroupState,
    ) -> Result<()> {
        sqlx::query("UPDATE privctl_vault_groups SET state = $1 WHERE id = $2")
            .bind(state.as_str())
            .bind(id)
            .execute(&mut *c)
            .await
            .map_err(db("updating a group key"))?;
        Ok(())
    }

    pub(crate) async fn set_replaced_by(
        &self,
        c: &mut AnyConnection,
        id: i64,
        by: i64,
    ) -> Result<()> {
        sqlx::query("UPDATE privctl_vault_groups SET replaced_by = $1 WHERE id = $2")
            .bind(by)
            .bind(id)
            .execute(&mut *c)
            .await
            .map_err(db("updating a group key"))?;
        Ok(())
    }

    pub(crate) async fn delete_group(&self, c: &mut AnyConnection, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM privctl_vault_groups WHERE id = $1")
            .bind(id)
            .execute(&mut *c)
            .await
            .map_err(db("deleting a group key"))?;
        Ok(())
    }

    // --- Data keys -------------------------------------------------------

    fn key_row(r: &AnyRow) -> Result<KeyRow> {
        let op = "reading a data key";
        Ok(KeyRow {
            id: r.try_get("id").map_err(db(op))?,
            subject: r.try_get("subject").map_err(db(op))?,
            group: r.try_get("group_id").map_err(db(op))?,
            wrapped: r.try_get("wrapped").map_err(db(op))?,
        })
    }

    pub(crate) async fn key_of(
        &self,
        c: &mut AnyConnection,
        subject: &str,
    ) -> Result<Option<KeyRow>> {
        sqlx::query(
            "SELECT id, subject, group_id, wrapped FROM privctl_vault_keys WHERE subject = $1",
        )
        .bind(subject)
        .fetch_optional(&mut *c)
        .await
        .map_err(db("reading a data key"))?
        .as_ref()
        .map(Self::key_row)
        .transpose()
    }

    pub(crate) async fn key_by_id(&self, c: &mut AnyConnection, id: i64) -> Result<Option<KeyRow>> {
        sqlx::query("SELECT id, subject, group_id, wrapped FROM privctl_vault_keys WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *c)
            .await
            .map_err(db("reading a data key"))?
            .as_ref()
            .map(Self::key_row)
            .transpose()
    }

    pub(crate) async fn insert_key(
        &self,
        c: &mut AnyConnection,
        subject: &str,
        group: i64,
        wrapped: &[u8],
    ) -> Result<i64> {
        let op = "storing a data key";
        let row = sqlx::query("INSERT INTO privctl_vault_keys (subject, group_id, wrapped) VALUES ($1, $2, $3) RETURNING id")
            .bind(subject)
            .bind(group)
            .bind(wrapped.to_vec())
            .fetch_one(&mut *c)
            .await
            .map_err(db(op))?;
        row.try_get("id").map_err(db(op))
    }

    pub(crate) async fn keys_in_group(
        &self,
        c: &mut AnyConnection,
        group: i64,
        limit: i64,
    ) -> Result<Vec<KeyRow>> {
        sqlx::query("SELECT id, subject, group_id, wrapped FROM privctl_vault_keys WHERE group_id = $1 ORDER BY id LIMIT $2")
            .bind(group)
            .bind(limit)
            .fetch_all(&mut *c)
            .await
            .map_err(db("reading data keys"))?
            .iter()
            .map(Self::key_row)
            .collect()
    }

    pub(crate) async fn move_key(
        &self,
        c: &mut AnyConnection,
        id: i64,
        group: i64,
        wrapped: &[u8],
    ) -> Result<()> {
        sqlx::query("UPDATE privctl_vault_keys SET group_id = $1, wrapped = $2 WHERE id = $3")
            .bind(group)
            .bind(wrapped.to_vec())
            .bind(id)
            .execute(&mut *c)
            .await
            .map_err(db("moving a data key"))?;
        Ok(())
    }

    pub(crate) async fn delete_key(&self, c: &mut AnyConnection, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM privctl_vault_keys WHERE id = $1")
            .bind(id)
            .execute(&mut *c)
            .await
            .map_err(db("deleting a data key"))?;
        Ok(())
    }

    pub(crate) async fn legacy_keys(&self, c: &mut AnyConnection) -> Result<Vec<LegacyKeyRow>> {
        let op = "reading version 1 data keys";
        let rows = sqlx::query("SELECT id, subject, master_version, wrapped, shredded FROM privctl_vault_keys ORDER BY id")
            .fetch_all(&mut *c)
            .await
            .map_err(db(op))?;
        rows.iter()
            .map(|r| {
                Ok(LegacyKeyRow {
                    id: r.try_get("id").map_err(db(op))?,
                    subject: r.try_get("subject").map_err(db(op))?,
                    master_version: r.try_get("master_version").map_err(db(op))?,
                    wrapped: r.try_get("wrapped").map_err(db(op))?,
                    shredded: r.try_get::<i64, _>("shredded").map_err(db(op))? != 0,
                })
            })
            .collect()
    }

    pub(crate) async fn clear_legacy_version(&self, c: &mut AnyConnection, id: i64) -> Result<()> {
        sqlx::query("UPDATE privctl_vault_keys SET master_version = NULL WHERE id = $1")
            .bind(id)
            .execute(&mut *c)
            .await
            .map_err(db("migrating a data key"))?;
        Ok(())
    }

    // --- Values ----------------------------------------------------------

    fn value_row(r: &AnyRow) -> Result<ValueRow> {
        let op = "reading a sealed value";
        Ok(ValueRow {
            reference: r.try_get("reference").map_err(db(op))?,
            subject: r.try_get("subject").map_err(db(op))?,
            kind: r.try_get("kind").map_err(db(op))?,
            sealed: r.try_get("sealed").map_err(db(op))?,
            blind_index: r.try_get("blind_index").map_err(db(op))?,
        })
    }

    pub(crate) async fn insert_value(&self, c: &mut AnyConnection, v: &ValueRow) -> Result<()> {
        sqlx::query("INSERT INTO privctl_vault_values (reference, subject, kind, sealed, blind_index) VALUES ($1, $2, $3, $4, $5)")
            .bind(v.reference.as_str())
            .bind(v.subject.as_str())
            .bind(v.kind.as_str())
            .bind(v.sealed.clone())
            .bind(v.blind_index.as_str())
            .execute(&mut *c)
            .await
            .map_err(db("storing a sealed value"))?;
        Ok(())
    }

    pub(crate) async fn value(
        &self,
        c: &mut AnyConnection,
        reference: &str,
    ) -> Result<Option<ValueRow>> {
        sqlx::query("SELECT reference, subject, kind, sealed, blind_index FROM privctl_vault_values WHERE reference = $1")
            .bind(reference)
            .fetch_optional(&mut *c)
            .await
            .map_err(db("reading a sealed value"))?
            .as_ref()
            .map(Self::value_row)
            .transpose()
    }

    pub(crate) async fn values_of(
        &self,
        c: &mut AnyConnection,
        subject: &str,
    ) -> Result<Vec<ValueRow>> {
        sqlx::query("SELECT reference, subject, kind, sealed, blind_index FROM privctl_vault_values WHERE subject = $1 ORDER BY reference")
            .bind(subject)
            .fetch_all(&mut *c)
            .await
            .map_err(db("reading sealed values"))?
            .iter()
            .map(Self::value_row)
            .collect()
    }

    pub(crate) async fn set_blind_index(
        &self,
        c: &mut AnyConnection,
        reference: &str,
        blind: &str,
    ) -> Result<()> {
        sqlx::query("UPDATE privctl_vault_values SET blind_index = $1 WHERE reference = $2")
            .bind(blind)
            .bind(reference)
            .execute(&mut *c)
            .await
            .map_err(db("re-indexing a sealed value"))?;
        Ok(())
    }

    pub(crate) async fn delete_values_of(
        &self,
        c: &mut AnyConnection,
        subject: &str,
    ) -> Result<u64> {
        let done = sqlx::query("DELETE FROM privctl_vault_values WHERE subject = $1")
            .bind(subject)
            .execute(&mut *c)
            .await
            .map_err(db("deleting sealed values"))?;
        Ok(done.rows_affected())
    }

    /// References and subjects whose blind index is one of `blinds`.
    pub(crate) async fn find(
        &self,
        c: &mut AnyConnection,
        kind: &str,
        blinds: &[String],
    ) -> Result<Vec<(String, String)>> {
        let op = "searching the blind index";
        let mut out = Vec::new();
        for chunk in blinds.chunks(500) {
            let placeholders: Vec<String> =
                (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            // Placeholders only: the values are bound.
            let sql = format!(
                "SELECT reference, subject FROM privctl_vault_values WHERE kind = $1 AND blind_index IN ({}) ORDER BY reference",
                placeholders.join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(kind);
            for b in chunk {
                q = q.bind(b.as_str());
            }
            for r in q.fetch_all(&mut *c).await.map_err(db(op))? {
                out.push((
                    r.try_get("reference").map_err(db(op))?,
                    r.try_get("subject").map_err(db(op))?,
                ));
            }
        }
        out.sort();
        Ok(out)
    }

    // --- Shredded subjects and references --------------------------------

    pub(crate) async fn add_tombstone(
        &self,
        c: &mut AnyConnection,
        tag: &str,
        at: i64,
    ) -> Result<()> {
        sqlx::query("INSERT INTO privctl_vault_shredded_subjects (tag, shredded_at) VALUES ($1, $2) ON CONFLICT (tag) DO NOTHING")
            .bind(tag)
            .bind(at)
            .execute(&mut *c)
            .await
            .map_err(db("recording a shredded subject"))?;
        Ok(())
    }

    pub(crate) async fn is_tombstoned(&self, c: &mut AnyConnection, tag: &str) -> Result<bool> {
        Ok(
            sqlx::query("SELECT tag FROM privctl_vault_shredded_subjects WHERE tag = $1")
                .bind(tag)
                .fetch_optional(&mut *c)
                .await
                .map_err(db("reading shredded subjects"))?
                .is_some(),
        )
    }

    pub(crate) async fn add_shredded_ref(
        &self,
        c: &mut AnyConnection,
        reference: &str,
        kind: &str,
        at: i64,
    ) -> Result<()> {
        sqlx::query("INSERT INTO privctl_vault_shredded_refs (reference, kind, shredded_at) VALUES ($1, $2, $3) ON CONFLICT (reference) DO NOTHING")
            .bind(reference)
            .bind(kind)
            .bind(at)
            .execute(&mut *c)
            .await
            .map_err(db("recording a shredded reference"))?;
        Ok(())
    }

    pub(crate) async fn is_shredded_ref(
        &self,
        c: &mut AnyConnection,
        reference: &str,
    ) -> Result<bool> {
        Ok(
            sqlx::query("SELECT reference FROM privctl_vault_shredded_refs WHERE reference = $1")
                .bind(reference)
                .fetch_optional(&mut *c)
                .await
                .map_err(db("reading shredded references"))?
                .is_some(),
        )
    }

    // --- Epoch keys ------------------------------------------------------

    fn epoch_row(r: &AnyRow) -> Result<EpochRow> {
        let op = "reading an epoch key";
        let epoch: i64 = r.try_get("epoch").map_err(db(op))?;
        Ok(EpochRow {
            purpose: r.try_get("purpose").map_err(db(op))?,
            epoch: u64::try_from(epoch).map_err(|_| Error::Corrupt(format!("epoch {epoch}")))?,
            master_version: version(r.try_get("master_version").map_err(db(op))?, "epoch key's")?,
            wrapped: r.try_get("wrapped").map_err(db(op))?,
        })
    }

    pub(crate) async fn epoch_key(
        &self,
        c: &mut AnyConnection,
        purpose: &str,
        epoch: u64,
    ) -> Result<Option<EpochRow>> {
        sqlx::query("SELECT purpose, epoch, master_version, wrapped FROM privctl_vault_epochs WHERE purpose = $1 AND epoch = $2")
            .bind(purpose)
            .bind(epoch_i64(epoch)?)
            .fetch_optional(&mut *c)
            .await
            .map_err(db("reading an epoch key"))?
            .as_ref()
            .map(Self::epoch_row)
            .transpose()
    }

    pub(crate) async fn epochs(&self, c: &mut AnyConnection) -> Result<Vec<EpochRow>> {
        sqlx::query("SELECT purpose, epoch, master_version, wrapped FROM privctl_vault_epochs ORDER BY purpose, epoch")
            .fetch_all(&mut *c)
            .await
            .map_err(db("reading epoch keys"))?
            .iter()
            .map(Self::epoch_row)
            .collect()
    }

    pub(crate) async fn epochs_wrapped_before(
        &self,
        c: &mut AnyConnection,
        newest: u32,
        limit: i64,
    ) -> Result<Vec<EpochRow>> {
        sqlx::query("SELECT purpose, epoch, master_version, wrapped FROM privctl_vault_epochs WHERE master_version < $1 ORDER BY purpose, epoch LIMIT $2")
            .bind(i64::from(newest))
            .bind(limit)
            .fetch_all(&mut *c)
            .await
            .map_err(db("reading epoch keys"))?
            .iter()
            .map(Self::epoch_row)
            .collect()
    }

    pub(crate) async fn insert_epoch(&self, c: &mut AnyConnection, e: &EpochRow) -> Result<()> {
        sqlx::query("INSERT INTO privctl_vault_epochs (purpose, epoch, master_version, wrapped) VALUES ($1, $2, $3, $4)")
            .bind(e.purpose.as_str())
            .bind(epoch_i64(e.epoch)?)
            .bind(i64::from(e.master_version))
            .bind(e.wrapped.clone())
            .execute(&mut *c)
            .await
            .map_err(db("storing an epoch key"))?;
        Ok(())
    }

    pub(crate) async fn update_epoch(&self, c: &mut AnyConnection, e: &EpochRow) -> Result<()> {
        sqlx::query("UPDATE privctl_vault_epochs SET master_version = $1, wrapped = $2 WHERE purpose = $3 AND epoch = $4")
            .bind(i64::from(e.master_version))
            .bind(e.wrapped.clone())
            .bind(e.purpose.as_str())
            .bind(epoch_i64(e.epoch)?)
            .execute(&mut *c)
            .await
            .map_err(db("re-wrapping an epoch key"))?;
        Ok(())
    }

    pub(crate) async fn delete_epochs_before(
        &self,
        c: &mut AnyConnection,
        purpose: &str,
        epoch: u64,
    ) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM privctl_vault_epochs WHERE purpose = $1 AND epoch < $2")
                .bind(purpose)
                .bind(epoch_i64(epoch)?)
                .execute(&mut *c)
                .await
                .map_err(db("destroying epoch keys"))?;
        Ok(done.rows_affected())
    }

    /// SQLite: runs a checkpoint so a write-ahead log, if the database uses
    /// one, no longer holds pages from before a shred.
    pub(crate) async fn flush_log(&self) -> Result<()> {
        if self.dialect() == Dialect::Sqlite {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(self.db.pool())
                .await
                .map_err(db("checkpointing the database"))?;
        }
        Ok(())
    }

    /// Replaces a sealed value's bytes: for tests that prove a moved or
    /// changed ciphertext no longer opens.
    #[cfg(feature = "testing")]
    pub async fn overwrite_sealed(&self, reference: &str, sealed: &[u8]) -> Result<()> {
        sqlx::query("UPDATE privctl_vault_values SET sealed = $1 WHERE reference = $2")
            .bind(sealed.to_vec())
            .bind(reference)
            .execute(self.db.pool())
            .await
            .map_err(db("writing a sealed value"))?;
        Ok(())
    }

    /// The sealed bytes behind a reference: for tests that keep a copy, as
    /// a backup would, and try it after a shred.
    #[cfg(feature = "testing")]
    pub async fn sealed_bytes(&self, reference: &str) -> Result<Option<Vec<u8>>> {
        let mut c = self
            .db
            .pool()
            .acquire()
            .await
            .map_err(db("reading a sealed value"))?;
        Ok(self.value(&mut c, reference).await?.map(|v| v.sealed))
    }

    /// Runs one statement of test set-up (never used by the vault).
    #[cfg(feature = "testing")]
    pub async fn execute_for_test(&self, sql: &'static str) -> Result<()> {
        sqlx::query(sql)
            .execute(self.db.pool())
            .await
            .map_err(db("running a test statement"))?;
        Ok(())
    }
}

fn epoch_i64(epoch: u64) -> Result<i64> {
    i64::try_from(epoch).map_err(|_| Error::Corrupt(format!("epoch {epoch}")))
}
