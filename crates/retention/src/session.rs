//! Opening what a policy names: its database stores (a URL from each
//! store's `url_env`, or `--db` for a policy with one database store) and
//! its files stores at their paths. The URL's scheme picks the dialect, so a
//! policy written for PostgreSQL can be tried on SQLite.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use privctl_policy::model::{Policy, StoreKind};
use privctl_store::clickhouse::ClickHouse;
use privctl_store::{Db, Open};

use crate::exec::{self, Options, Progress, Report};
use crate::own::{self, HoldScope};
use crate::plan::{self, home_store, Inputs, StoreInfo};
use crate::{Error, Result};

/// Why a policy's stores could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// `--db` given for a policy with several SQL database stores.
    #[error("--db names one database, but the policy has {0} SQLite or PostgreSQL stores ({1}); give each its URL in its url_env variable")]
    AmbiguousDb(usize, String),
    /// No URL for a store.
    #[error("store \"{store}\" has no URL: set {var}{}", if *.single { " or pass --db URL" } else { "" })]
    NoUrl {
        /// The store.
        store: String,
        /// Its variable.
        var: String,
        /// Whether --db would do.
        single: bool,
    },
    /// A files store's root is missing.
    #[error("files store \"{store}\": directory {path} {reason}")]
    FilesRoot {
        /// The store.
        store: String,
        /// Its path.
        path: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The policy names no database for privctl's own tables.
    #[error("the policy has no database store to keep holds and the run log in")]
    NoHome,
    /// The store layer failed.
    #[error(transparent)]
    Store(#[from] privctl_store::Error),
}

/// A policy's stores, open.
#[derive(Debug)]
pub struct Session {
    /// The policy.
    pub policy: Policy,
    /// SHA-256 of the policy file, hex.
    pub digest: String,
    /// Database stores by name.
    pub dbs: BTreeMap<String, Db>,
    /// ClickHouse stores by name.
    pub clickhouse: BTreeMap<String, ClickHouse>,
    /// Files stores' roots by name.
    pub roots: BTreeMap<String, PathBuf>,
    /// Stores that could not be opened, and why: their data types are
    /// reported as not swept.
    pub skipped: BTreeMap<String, String>,
    /// The store holding privctl's own tables.
    pub home: String,
}

/// The policy file's SHA-256, hex.
pub fn digest(text: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

impl Session {
    /// Opens every store of `policy` (its source text `text`, for the
    /// digest). `db` overrides the URL of the one database store. With
    /// `Open::Create`, a missing SQLite file is created (for `sample`).
    pub async fn open(
        policy: Policy,
        text: &str,
        db: Option<&str>,
        mode: Open,
    ) -> Result<Session, OpenError> {
        Self::open_stores(policy, text, db, &BTreeMap::new(), mode, true).await
    }

    /// As [`Session::open`], with URLs for some stores given by name, in
    /// place of their `url_env` variables (for a caller that holds them
    /// itself, and for tests).
    pub async fn open_with_urls(
        policy: Policy,
        text: &str,
        db: Option<&str>,
        urls: &BTreeMap<String, String>,
        mode: Open,
    ) -> Result<Session, OpenError> {
        Self::open_stores(policy, text, db, urls, mode, true).await
    }

    /// Opens only the database stores (for `check --db`): files stores are
    /// left out, so a missing directory does not stop a schema check.
    pub async fn open_databases(
        policy: Policy,
        text: &str,
        db: Option<&str>,
    ) -> Result<Session, OpenError> {
        Self::open_stores(policy, text, db, &BTreeMap::new(), Open::Existing, false).await
    }

    async fn open_stores(
        policy: Policy,
        text: &str,
        db: Option<&str>,
        urls: &BTreeMap<String, String>,
        mode: Open,
        files: bool,
    ) -> Result<Session, OpenError> {
        let databases: Vec<&String> = policy
            .stores
            .iter()
            .filter(|(_, s)| matches!(s.kind, StoreKind::Sqlite | StoreKind::Postgres))
            .map(|(n, _)| n)
            .collect();
        if db.is_some() && databases.len() > 1 {
            let names = databases
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(OpenError::AmbiguousDb(databases.len(), names));
        }
        let home = home_store(&policy).ok_or(OpenError::NoHome)?.to_owned();
        let mut dbs = BTreeMap::new();
        let mut clickhouse = BTreeMap::new();
        let mut roots = BTreeMap::new();
        let mut skipped = BTreeMap::new();
        for (name, store) in &policy.stores {
            match store.kind {
                StoreKind::Files if !files => {}
                StoreKind::Files => {
                    let path = PathBuf::from(store.path.as_deref().unwrap_or("."));
                    if mode == Open::Create {
                        std::fs::create_dir_all(&path).map_err(|_| OpenError::FilesRoot {
                            store: name.clone(),
                            path: privctl_policy::escape_path(&path),
                            reason: "cannot be created",
                        })?;
                    }
                    check_root(name, &path)?;
                    roots.insert(name.clone(), path);
                }
                StoreKind::Clickhouse => {
                    // A policy's ClickHouse store is reached when its URL is
                    // given; without one its data types are reported as not
                    // swept, and the rest of the policy still runs.
                    let var = store.url_env.clone().unwrap_or_default();
                    match urls.get(name).cloned().or_else(|| {
                        (!var.is_empty())
                            .then(|| std::env::var(&var).ok())
                            .flatten()
                            .filter(|u| !u.is_empty())
                    }) {
                        Some(url) => {
                            clickhouse.insert(name.clone(), ClickHouse::open(name, &url).await?);
                        }
                        None => {
                            skipped.insert(
                                name.clone(),
                                format!(
                                    "a ClickHouse store whose URL is not given (set {})",
                                    if var.is_empty() { "its url_env" } else { &var }
                                ),
                            );
                        }
                    }
                }
                StoreKind::Sqlite | StoreKind::Postgres => {
                    let url = match db.or(urls.get(name).map(String::as_str)) {
                        Some(u) => u.to_owned(),
                        None => {
                            let var = store.url_env.clone().unwrap_or_default();
                            let from_env = (!var.is_empty())
                                .then(|| std::env::var(&var).ok())
                                .flatten();
                            let from_path = store
                                .path
                                .as_deref()
                                .filter(|_| store.kind == StoreKind::Sqlite)
                                .map(|p| format!("sqlite:{p}"));
                            match from_env.or(from_path) {
                                Some(u) => u,
                                None => {
                                    return Err(OpenError::NoUrl {
                                        store: name.clone(),
                                        var: if var.is_empty() {
                                            "url_env".to_owned()
                                        } else {
                                            var
                                        },
                                        single: databases.len() == 1,
                                    })
                                }
                            }
                        }
                    };
                    dbs.insert(name.clone(), Db::open(name, &url, mode).await?);
                }
            }
        }
        Ok(Session {
            policy,
            digest: digest(text),
            dbs,
            clickhouse,
            roots,
            skipped,
            home,
        })
    }

    /// The database holding privctl's own tables.
    pub fn home_db(&self) -> Result<&Db> {
        self.dbs
            .get(&self.home)
            .ok_or_else(|| Error::UnknownStore(self.home.clone()))
    }

    /// What the planner reads besides the policy: the live schemas, the
    /// holds in force and (for a sweep) the customers' choices.
    async fn gather(&self, only: Option<&str>, choices_too: bool) -> Result<Gathered> {
        let home = self.home_db()?;
        let own_tables = own::ready(home).await?;
        let holds = own::holds(home, false).await?;
        let held_data_types = holds
            .iter()
            .filter(|h| h.scope == HoldScope::DataType)
            .map(|h| (h.target.clone(), format!("hold {} ({})", h.id, h.reason)))
            .collect();
        let held_subjects: Vec<String> = holds
            .iter()
            .filter(|h| h.scope == HoldScope::Subject)
            .map(|h| h.target.clone())
            .collect();
        let mut stores = BTreeMap::new();
        for (name, db) in &self.dbs {
            stores.insert(
                name.clone(),
                StoreInfo::Database {
                    dialect: db.dialect(),
                    schema: db.schema().await?,
                },
            );
        }
        let mut customer_choices = BTreeMap::new();
        let mut choice_errors = BTreeMap::new();
        let mut keyed_choices = BTreeMap::new();
        for (name, dt) in self.policy.data_types.iter().filter(|_| choices_too) {
            let Some(r) = &dt.retention else { continue };
            let Some(choice) = r.customer.as_ref().filter(|_| r.configurable) else {
                continue;
            };
            if only.is_some_and(|o| o != name) {
                continue;
            }
            if let Some(key) = &choice.key {
                // Read from the database store whose data type covers the
                // choices' table.
                let Some((db, schema)) = self
                    .policy
                    .data_types
                    .values()
                    .filter(|d| d.table.as_ref() == Some(&key.table))
                    .find_map(|d| match (self.dbs.get(&d.store), stores.get(&d.store)) {
                        (Some(db), Some(StoreInfo::Database { schema, .. })) => Some((db, schema)),
                        _ => None,
                    })
                else {
                    choice_errors.insert(
                        name.clone(),
                        format!("no open database store holds table \"{}\"", key.table),
                    );
                    continue;
                };
                match keyed(db, schema, name, key, &choice.period, choice.tier.as_ref()).await {
                    Ok(rows) => {
                        keyed_choices.insert(name.clone(), rows);
                    }
                    Err(e @ Error::TooManyChoices { .. }) => {
                        choice_errors.insert(name.clone(), e.to_string());
                    }
                    Err(e) => return Err(e),
                }
                continue;
            }
            let (Some(db), Some(StoreInfo::Database { schema, .. })) =
                (self.dbs.get(&dt.store), stores.get(&dt.store))
            else {
                continue;
            };
            match choices(db, schema, name, &choice.period, choice.tier.as_ref()).await {
                Ok(pairs) => {
                    customer_choices.insert(name.clone(), pairs);
                }
                // Not a column of choices: this data type is not swept, the
                // others are.
                Err(e @ Error::TooManyChoices { .. }) => {
                    choice_errors.insert(name.clone(), e.to_string());
                }
                Err(e) => return Err(e),
            }
        }
        for (name, root) in &self.roots {
            stores.insert(name.clone(), StoreInfo::Files { root: root.clone() });
        }
        for (name, ch) in &self.clickhouse {
            let tables = ch.tables().await?;
            let mut partitions = BTreeMap::new();
            for dt in self.policy.data_types.values().filter(|d| &d.store == name) {
                let Some(t) = dt.table.as_ref() else { continue };
                if only.is_some_and(|o| {
                    self.policy.data_types.get(o).map(|d| &d.table) != Some(&dt.table)
                }) {
                    continue;
                }
                if tables.iter().any(|x| x.name == t.as_str()) {
                    partitions.insert(t.to_string(), ch.partitions(t).await?);
                }
            }
            stores.insert(
                name.clone(),
                StoreInfo::ClickHouse(crate::telemetry::ChInfo { tables, partitions }),
            );
        }
        for (name, reason) in &self.skipped {
            stores.insert(
                name.clone(),
                StoreInfo::Unsupported {
                    reason: reason.clone(),
                },
            );
        }
        Ok(Gathered {
            stores,
            own_tables,
            held_data_types,
            held_subjects,
            customer_choices,
            choice_errors,
            keyed_choices,
        })
    }

    /// Plans a sweep as of `as_of` (optionally one data type) against the
    /// live schemas and the holds in force.
    pub async fn plan(&self, as_of: DateTime<Utc>, only: Option<&str>) -> Result<plan::Plan> {
        let g = self.gather(only, true).await?;
        plan::plan(&g.inputs(self, as_of, only))
    }

    /// Plans the erasure of one subject as of `as_of` against the live
    /// schemas and the holds in force.
    pub async fn plan_erasure(
        &self,
        as_of: DateTime<Utc>,
        target: &crate::erasure::Target<'_>,
    ) -> Result<plan::Plan> {
        let g = self.gather(None, false).await?;
        crate::erasure::plan_erasure(&g.inputs(self, as_of, None), target)
    }

    /// Runs (or with `dry_run`, counts) a plan.
    pub async fn execute(
        &self,
        plan: &plan::Plan,
        dry_run: bool,
        options: &Options,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<Report> {
        exec::sweep(
            plan,
            exec::Stores {
                dbs: &self.dbs,
                clickhouse: &self.clickhouse,
                home: self.home_db()?,
            },
            &self.digest,
            options,
            dry_run,
            progress,
        )
        .await
    }

    /// Plans and runs (or with `dry_run`, counts) a sweep.
    pub async fn sweep(
        &self,
        as_of: DateTime<Utc>,
        only: Option<&str>,
        dry_run: bool,
        options: &Options,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<Report> {
        let plan = self.plan(as_of, only).await?;
        self.execute(&plan, dry_run, options, progress).await
    }
}

/// Most distinct choices read from one column: customers choose among a
/// few periods; more means the column holds something else.
const MAX_CHOICES: usize = 1000;

/// The distinct (period, tier) choices recorded, as text (`None` for
/// NULL): read together when both columns are in one table, else every
/// period with every tier (the planner's conditions still match each row's
/// own pair). Nothing when a column is missing (the planner reports that).
async fn choices(
    db: &Db,
    schema: &privctl_store::Schema,
    data_type: &str,
    period: &privctl_policy::ColumnRef,
    tier: Option<&privctl_policy::ColumnRef>,
) -> Result<Vec<crate::plan::Choice>> {
    let present = |c: &privctl_policy::ColumnRef| {
        schema
            .tables
            .get(c.table.as_str())
            .is_some_and(|t| t.column(c.column.as_str()).is_some())
    };
    if !present(period) || tier.is_some_and(|t| !present(t)) {
        return Ok(Vec::new());
    }
    let together = tier.filter(|t| t.table == period.table);
    let mut sql = crate::sql::Sql::new();
    sql.push("SELECT DISTINCT CAST(")
        .ident(&period.column)
        .push(" AS TEXT) AS p, ");
    match together {
        Some(t) => {
            sql.push("CAST(").ident(&t.column).push(" AS TEXT) AS t");
        }
        None => {
            sql.push("CAST(NULL AS TEXT) AS t");
        }
    }
    sql.push(" FROM ")
        .ident(&period.table)
        .push(" LIMIT ")
        .bind(crate::sql::Value::Int(MAX_CHOICES as i64 + 1));
    let err = db.err(
        "reading customers' retention choices",
        Some(period.table.as_str()),
    );
    let too_many = || Error::TooManyChoices {
        data_type: data_type.to_owned(),
        column: format!("{}.{}", period.table, period.column),
    };
    let rows = sql.query().fetch_all(db.pool()).await.map_err(&err)?;
    if rows.len() > MAX_CHOICES {
        return Err(too_many());
    }
    let mut pairs: Vec<crate::plan::Choice> = Vec::new();
    for r in &rows {
        let p: Option<String> = privctl_store::Row::try_get(r, "p").map_err(&err)?;
        let t: Option<String> = privctl_store::Row::try_get(r, "t").map_err(&err)?;
        pairs.push((p, t));
    }
    if let Some(t) = tier.filter(|_| together.is_none()) {
        let mut sql = crate::sql::Sql::new();
        sql.push("SELECT DISTINCT CAST(")
            .ident(&t.column)
            .push(" AS TEXT) AS t FROM ")
            .ident(&t.table)
            .push(" LIMIT ")
            .bind(crate::sql::Value::Int(MAX_CHOICES as i64 + 1));
        let tiers: Vec<Option<String>> = sql
            .query()
            .fetch_all(db.pool())
            .await
            .map_err(&err)?
            .iter()
            .map(|r| privctl_store::Row::try_get(r, "t").map_err(&err))
            .collect::<std::result::Result<_, _>>()?;
        if tiers.len() * pairs.len() > MAX_CHOICES {
            return Err(too_many());
        }
        pairs = pairs
            .iter()
            .flat_map(|(p, _)| tiers.iter().map(move |t| (p.clone(), t.clone())))
            .collect();
    }
    Ok(pairs)
}

/// Most customers whose choices are read one by one.
const MAX_KEYED: usize = 100_000;

/// Each customer's key, period and tier, as text, from the table holding
/// them; nothing when a column is missing (the planner reports that).
async fn keyed(
    db: &Db,
    schema: &privctl_store::Schema,
    data_type: &str,
    key: &privctl_policy::ColumnRef,
    period: &privctl_policy::ColumnRef,
    tier: Option<&privctl_policy::ColumnRef>,
) -> Result<Vec<crate::plan::KeyedChoice>> {
    let present = |c: &privctl_policy::ColumnRef| {
        schema
            .tables
            .get(c.table.as_str())
            .is_some_and(|t| t.column(c.column.as_str()).is_some())
    };
    if !present(key) || !present(period) || tier.is_some_and(|t| !present(t)) {
        return Ok(Vec::new());
    }
    let mut sql = crate::sql::Sql::new();
    sql.push("SELECT CAST(")
        .ident(&key.column)
        .push(" AS TEXT) AS k, CAST(")
        .ident(&period.column)
        .push(" AS TEXT) AS p, ");
    match tier {
        Some(t) => {
            sql.push("CAST(").ident(&t.column).push(" AS TEXT) AS t");
        }
        None => {
            sql.push("CAST(NULL AS TEXT) AS t");
        }
    }
    sql.push(" FROM ")
        .ident(&key.table)
        .push(" WHERE ")
        .ident(&period.column)
        .push(" IS NOT NULL LIMIT ")
        .bind(crate::sql::Value::Int(MAX_KEYED as i64 + 1));
    let err = db.err(
        "reading customers' retention choices",
        Some(key.table.as_str()),
    );
    let rows = sql.query().fetch_all(db.pool()).await.map_err(&err)?;
    if rows.len() > MAX_KEYED {
        return Err(Error::TooManyChoices {
            data_type: data_type.to_owned(),
            column: format!("{}.{}", period.table, period.column),
        });
    }
    rows.iter()
        .map(|r| {
            let k: Option<String> = privctl_store::Row::try_get(r, "k").map_err(&err)?;
            let p: Option<String> = privctl_store::Row::try_get(r, "p").map_err(&err)?;
            let t: Option<String> = privctl_store::Row::try_get(r, "t").map_err(&err)?;
            Ok((k.unwrap_or_default(), p, t))
        })
        .collect()
}

fn check_root(store: &str, path: &Path) -> Result<(), OpenError> {
    let err = |reason| OpenError::FilesRoot {
        store: store.to_owned(),
        path: privctl_policy::escape_path(path),
        reason,
    };
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(err("is not a directory")),
        Err(_) => Err(err("does not exist")),
    }
}

/// What [`Session::gather`] read.
struct Gathered {
    stores: BTreeMap<String, StoreInfo>,
    own_tables: bool,
    held_data_types: BTreeMap<String, String>,
    held_subjects: Vec<String>,
    customer_choices: BTreeMap<String, Vec<plan::Choice>>,
    choice_errors: BTreeMap<String, String>,
    keyed_choices: BTreeMap<String, Vec<plan::KeyedChoice>>,
}

impl Gathered {
    fn inputs<'a>(
        &'a self,
        session: &'a Session,
        as_of: DateTime<Utc>,
        only: Option<&'a str>,
    ) -> Inputs<'a> {
        Inputs {
            policy: &session.policy,
            stores: &self.stores,
            home: &session.home,
            own_tables: self.own_tables,
            as_of,
            only,
            held_data_types: &self.held_data_types,
            held_subjects: &self.held_subjects,
            customer_choices: &self.customer_choices,
            choice_errors: &self.choice_errors,
            keyed_choices: &self.keyed_choices,
        }
    }
}
