//! The executor: applies a plan in short batches, each its own transaction,
//! paging through a table on its primary key. Every batch re-checks expiry,
//! floors and holds in the statement that changes rows, so a hold placed
//! mid-sweep is honoured and a rerun after a kill picks up exactly where
//! the last committed batch ended.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use privctl_policy::model::{Anchor, ErasureAction, ExpiryAction};
use privctl_store::{AnyConnection, Db, Dialect, Lock, Row};
use serde::Serialize;

use crate::own;
use crate::plan::{FileWork, Plan, RowOp, RowWork, Work};
use crate::sql::{Sql, Value};
use crate::{Error, Result};

/// How batches are sized and how long they wait for locks.
#[derive(Debug, Clone)]
pub struct Options {
    /// Each batch transaction aims to take about this long; the batch size
    /// adapts to it.
    pub target_batch: Duration,
    /// Rows in the first batch.
    pub first_batch: i64,
    /// Never more rows than this in one batch.
    pub max_batch: i64,
    /// PostgreSQL: a batch waits this long for a row lock, then gives way
    /// and is tried again.
    pub lock_timeout: Duration,
    /// Attempts per batch before the sweep stops with an error.
    pub attempts: u32,
    /// The vault, for data types that expire by crypto-shredding; without
    /// it they are reported as not swept.
    pub vault: Option<std::sync::Arc<privctl_vault::Vault>>,
    /// Why there is no vault, when opening it failed.
    pub vault_error: Option<String>,
    /// What the run is, for the run log and the audit log.
    pub run: own::RunKind,
    /// ClickHouse: how long to wait for a `DELETE` mutation to be done
    /// before the sweep stops with an error (the mutation may still finish;
    /// a rerun finds its rows gone).
    pub mutation_wait: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            target_batch: Duration::from_millis(40),
            first_batch: 1_000,
            max_batch: 50_000,
            lock_timeout: Duration::from_secs(2),
            attempts: 5,
            vault: None,
            vault_error: None,
            run: own::RunKind::Sweep,
            mutation_wait: Duration::from_secs(600),
        }
    }
}

/// Progress of a sweep, for a progress bar.
#[derive(Debug, Clone)]
pub enum Progress {
    /// A data type starts, with how many rows or files it will change.
    Start {
        /// The data type.
        data_type: String,
        /// Rows or files to change.
        total: u64,
    },
    /// Some were changed.
    Advance {
        /// How many.
        n: u64,
    },
}

/// What a sweep did (or, dry, would do).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The run log's id for this run (`None` for a dry run).
    pub run: Option<i64>,
    /// Whether nothing was changed.
    pub dry_run: bool,
    /// The instant it acted as of.
    pub as_of: DateTime<Utc>,
    /// SHA-256 of the policy file.
    pub policy_digest: String,
    /// Per data type.
    pub data_types: Vec<DataTypeReport>,
}

/// One data type's part.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DataTypeReport {
    /// The data type.
    pub data_type: String,
    /// Its store.
    pub store: String,
    /// Its period.
    pub period: String,
    /// What it counts from.
    pub from: Option<Anchor>,
    /// Its action.
    pub action: Option<ExpiryAction>,
    /// In an erasure: the policy's erasure rule for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub erasure: Option<ErasureAction>,
    /// The default period's cutoff.
    pub cutoff: Option<DateTime<Utc>>,
    /// Rows or files whose retention has ended (and that the action has not
    /// yet reached).
    pub expired: u64,
    /// Of those, kept because a legal floor has not passed.
    pub kept_by_floor: u64,
    /// Of those, kept because of a legal hold.
    pub kept_by_hold: u64,
    /// Of those, kept because other rows still refer to them (they go once
    /// those do).
    pub kept_referenced: u64,
    /// Rows or files deleted.
    pub deleted: u64,
    /// Rows anonymised.
    pub anonymised: u64,
    /// Rows rolled up into the aggregate (and deleted).
    pub rolled_up: u64,
    /// Rows whose subjects were crypto-shredded in the vault (and deleted).
    pub shredded: u64,
    /// Account rows expired but kept because kept rows refer to them, whose
    /// identifying columns were replaced (a dry run: that would be, at
    /// most: some may go whole once the rows referring to them do).
    #[serde(skip_serializing_if = "is_zero")]
    pub identifiers_replaced: u64,
    /// Dry run: PostgreSQL partitions whose whole range has expired, which
    /// the sweep drops unless a protected row is in one.
    #[serde(skip_serializing_if = "is_zero")]
    pub partitions_droppable: u64,
    /// Partitions detached and dropped whole (their rows are in `deleted`).
    #[serde(skip_serializing_if = "is_zero")]
    pub partitions_dropped: u64,
    /// Why nothing happens, when nothing can.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Subjects not crypto-shredded because the vault cannot name them
    /// (their rows stay).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped_subjects: Vec<String>,
    /// Customer choices of period refused, and why (the default period
    /// applied to those customers).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused_choices: Vec<String>,
    /// What the policy asks here that this release cannot do; nothing of
    /// this data type was changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_supported: Option<String>,
}

/// The open stores a plan acts on.
#[derive(Debug, Clone, Copy)]
pub struct Stores<'a> {
    /// SQLite and PostgreSQL stores, by name.
    pub dbs: &'a BTreeMap<String, Db>,
    /// ClickHouse stores, by name.
    pub clickhouse: &'a BTreeMap<String, privctl_store::clickhouse::ClickHouse>,
    /// The one holding privctl's own tables.
    pub home: &'a Db,
}

/// Applies `plan` (or with `dry_run`, only counts what it would do) to
/// `stores`, which holds every store the plan names.
pub async fn sweep(
    plan: &Plan,
    stores: Stores<'_>,
    policy_digest: &str,
    options: &Options,
    dry_run: bool,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Report> {
    let Stores {
        dbs,
        clickhouse,
        home,
    } = stores;
    let run = if dry_run {
        None
    } else {
        own::ensure(home).await?;
        Some(own::start_run(home, policy_digest, plan.as_of, Utc::now(), &options.run).await?)
    };
    let mut report = Report {
        run,
        dry_run,
        as_of: plan.as_of,
        policy_digest: policy_digest.to_owned(),
        data_types: Vec::new(),
    };
    for step in &plan.steps {
        let mut r = DataTypeReport {
            data_type: step.data_type.clone(),
            store: step.store.clone(),
            period: step.period.clone(),
            from: Some(step.from),
            action: Some(step.action),
            erasure: step.erasure,
            cutoff: step.cutoff,
            refused_choices: step.refused_choices.clone(),
            ..DataTypeReport::default()
        };
        match &step.work {
            Work::Nothing { reason } => r.note = Some(reason.clone()),
            Work::NotSupported { reason } => r.not_supported = Some(reason.clone()),
            Work::Held { reason } => {
                r.note = Some(format!(
                    "the whole data type is under a legal hold: {reason}"
                ));
            }
            Work::Rows(work)
                if matches!(work.op, RowOp::CryptoShred { .. })
                    && options.vault.is_none()
                    && !dry_run =>
            {
                r.not_supported = Some(match &options.vault_error {
                    Some(e) => {
                        format!("crypto_shred needs the vault, which could not be opened: {e}")
                    }
                    None => "crypto_shred needs the vault (--vault-db and its key file)".to_owned(),
                });
            }
            Work::Rows(work) => {
                let db = dbs
                    .get(&step.store)
                    .ok_or_else(|| Error::UnknownStore(step.store.clone()))?;
                count_rows(db, work, &mut r).await?;
                r.partitions_droppable = if dry_run {
                    work.partitions.len() as u64
                } else {
                    0
                };
                if !dry_run {
                    let to_do = r.expired - r.kept_by_floor - r.kept_by_hold - r.kept_referenced;
                    progress(Progress::Start {
                        data_type: step.data_type.clone(),
                        total: to_do,
                    });
                    let same = db.url() == home.url();
                    let log = run.map(|id| (home, id, same));
                    let (parts, in_parts) =
                        drop_partitions(db, work, &step.data_type, options, log, progress).await?;
                    r.partitions_dropped = parts;
                    let (rows, skipped) =
                        run_rows(db, work, &step.data_type, options, log, progress).await?;
                    r.skipped_subjects = skipped;
                    let done = in_parts + rows;
                    match work.op {
                        RowOp::Delete => r.deleted = done,
                        RowOp::Anonymise { .. } => r.anonymised = done,
                        RowOp::RollUp { .. } => r.rolled_up = done,
                        RowOp::CryptoShred { .. } => r.shredded = done,
                        RowOp::Unidentify { .. } => r.identifiers_replaced = done,
                    }
                    // Counted before the run, rows still referred to then
                    // went once the rows referring to them did: what stays
                    // referred to is what was not done.
                    if !matches!(work.op, RowOp::Anonymise { .. }) {
                        r.kept_referenced = r.kept_referenced.min(
                            r.expired
                                .saturating_sub(r.kept_by_floor + r.kept_by_hold + done),
                        );
                    }
                }
                // Accounts that stay only because kept rows refer to them
                // stop saying who they were: after the rows, so one whose
                // last referring row went this run is deleted instead.
                if let Some(rest) = unidentify_work(work) {
                    r.identifiers_replaced = if dry_run {
                        db.count_where(
                            &rest.table,
                            &eligible(&rest),
                            "counting accounts to unidentify",
                        )
                        .await?
                    } else {
                        let same = db.url() == home.url();
                        let log = run.map(|id| (home, id, same));
                        run_rows(db, &rest, &step.data_type, options, log, &|_| {})
                            .await?
                            .0
                    };
                }
            }
            Work::ClickHouse(work) => {
                let ch = clickhouse
                    .get(&step.store)
                    .ok_or_else(|| Error::UnknownStore(step.store.clone()))?;
                crate::telemetry::run(
                    ch,
                    work,
                    &step.data_type,
                    options,
                    (home, run),
                    dry_run,
                    &mut r,
                )
                .await?;
            }
            Work::Files(work) => {
                let (expired, held) = files(work, &step.store, true)?;
                r.expired = expired;
                r.kept_by_hold = held;
                if !dry_run {
                    progress(Progress::Start {
                        data_type: step.data_type.clone(),
                        total: expired - held,
                    });
                    let (deleted, _) = files(work, &step.store, false)?;
                    progress(Progress::Advance { n: deleted });
                    r.deleted = deleted;
                    if let Some(id) = run {
                        home.write_with(Lock::Rows, async |c| {
                            own::record_batch(
                                home,
                                c,
                                (id, &options.run),
                                &step.data_type,
                                "delete_files",
                                deleted,
                                0,
                            )
                            .await
                        })
                        .await?;
                    }
                }
            }
        }
        report.data_types.push(r);
    }
    if let Some(id) = run {
        let text = serde_json::to_string(&report).unwrap_or_default();
        own::finish_run(home, id, &text, Utc::now(), &options.run).await?;
    }
    Ok(report)
}

/// The pass over rows of `work` kept only because others refer to them,
/// replacing what says who they were.
fn unidentify_work(work: &RowWork) -> Option<RowWork> {
    let u = work.unidentify.as_ref()?;
    let mut expired = Sql::new();
    expired
        .append(&work.expired)
        .push(" AND ")
        .append(&work.referenced);
    let mut none = Sql::new();
    none.push("(1 = 0)");
    Some(RowWork {
        table: work.table.clone(),
        key: work.key.clone(),
        integer_key: work.integer_key,
        op: RowOp::Unidentify {
            assignments: u.assignments.clone(),
        },
        expired,
        released: work.released.clone(),
        held: work.held.clone(),
        pending: u.pending.clone(),
        referenced: none,
        partitions: Vec::new(),
        unidentify: None,
    })
}

fn eligible(work: &RowWork) -> Sql {
    let mut sql = Sql::new();
    sql.append(&work.expired)
        .push(" AND ")
        .append(&work.released)
        .push(" AND NOT ")
        .append(&work.held)
        .push(" AND ")
        .append(&work.pending)
        .push(" AND NOT ")
        .append(&work.referenced);
    sql
}

async fn count_rows(db: &Db, work: &RowWork, r: &mut DataTypeReport) -> Result<()> {
    let mut sql = Sql::new();
    sql.push("SELECT CAST(COUNT(*) AS BIGINT) AS expired, CAST(COALESCE(SUM(CASE WHEN ")
        .append(&work.released)
        .push(" THEN 0 ELSE 1 END), 0) AS BIGINT) AS by_floor, CAST(COALESCE(SUM(CASE WHEN ")
        .append(&work.released)
        .push(" AND ")
        .append(&work.held)
        .push(" THEN 1 ELSE 0 END), 0) AS BIGINT) AS by_hold, CAST(COALESCE(SUM(CASE WHEN ")
        .append(&work.released)
        .push(" AND NOT ")
        .append(&work.held)
        .push(" AND ")
        .append(&work.referenced)
        .push(" THEN 1 ELSE 0 END), 0) AS BIGINT) AS referenced FROM ")
        .ident(&work.table)
        .push(" WHERE ")
        .append(&work.expired)
        .push(" AND ")
        .append(&work.pending);
    let err = db.err("counting expired rows", Some(work.table.as_str()));
    let row = sql.query().fetch_one(db.pool()).await.map_err(&err)?;
    let get = |name: &str| -> Result<u64> {
        let n: i64 = row.try_get(name).map_err(&err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    r.expired = get("expired")?;
    r.kept_by_floor = get("by_floor")?;
    r.kept_by_hold = get("by_hold")?;
    r.kept_referenced = get("referenced")?;
    Ok(())
}

/// The keyset position: after which key the next batch starts.
fn key_range(work: &RowWork, sql: &mut Sql, lo: &Option<Value>, hi: Option<&Value>) {
    sql.push("(1 = 1");
    if let Some(lo) = lo {
        sql.push(" AND ")
            .column(&work.table, &work.key)
            .push(" > ")
            .bind(lo.clone());
    }
    if let Some(hi) = hi {
        sql.push(" AND ")
            .column(&work.table, &work.key)
            .push(" <= ")
            .bind(hi.clone());
    }
    sql.push(")");
}

async fn run_rows(
    db: &Db,
    work: &RowWork,
    data_type: &str,
    options: &Options,
    log: Option<(&Db, i64, bool)>,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<(u64, Vec<String>)> {
    let eligible = eligible(work);
    let table = work.table.as_str();
    let action = match work.op {
        RowOp::Delete => "delete",
        RowOp::Anonymise { .. } => "anonymise",
        RowOp::RollUp { .. } => "roll_up",
        RowOp::CryptoShred { .. } => "crypto_shred",
        RowOp::Unidentify { .. } => "replace_identifiers",
    };
    let mut lo: Option<Value> = None;
    let mut skipped: Vec<String> = Vec::new();
    let fixed = crate::fault::batch();
    let mut size = fixed.unwrap_or(options.first_batch).max(1);
    let mut total = 0u64;
    loop {
        // The batch's last key: read outside the transaction, so the write
        // holds its locks only for the change itself.
        let mut select = Sql::new();
        select
            .push("SELECT ")
            .column(&work.table, &work.key)
            .push(" AS k FROM ")
            .ident(&work.table)
            .push(" WHERE ");
        key_range(work, &mut select, &lo, None);
        select
            .push(" AND ")
            .append(&eligible)
            .push(" ORDER BY ")
            .column(&work.table, &work.key)
            .push(" LIMIT ")
            .bind(Value::Int(size));
        let rows = select
            .query()
            .fetch_all(db.pool())
            .await
            .map_err(db.err("finding expired rows", Some(table)))?;
        let Some(last) = rows.last() else {
            break;
        };
        let hi = if work.integer_key {
            Value::Int(
                last.try_get("k")
                    .map_err(db.err("finding expired rows", Some(table)))?,
            )
        } else {
            Value::Text(
                last.try_get("k")
                    .map_err(db.err("finding expired rows", Some(table)))?,
            )
        };
        let mut range = Sql::new();
        key_range(work, &mut range, &lo, Some(&hi));
        range.push(" AND ").append(&eligible);
        if let RowOp::CryptoShred { subject } = &work.op {
            let vault = options.vault.as_deref().ok_or(Error::Internal("vault"))?;
            let shredded = shred(db, work, subject, &range, vault, &mut skipped).await?;
            if shredded.is_empty() {
                lo = Some(hi);
                continue;
            }
            // Only the rows of subjects now shredded.
            range
                .push(" AND CAST(")
                .append(subject)
                .push(" AS TEXT) IN (");
            for (i, s) in shredded.into_iter().enumerate() {
                if i > 0 {
                    range.push(", ");
                }
                range.bind(Value::Text(s));
            }
            range.push(")");
        }
        let statement = change(db.dialect(), work, &range);
        let (changed, micros) = retrying(db, table, options, async |c| {
            let started = Instant::now();
            let mut changed = 0u64;
            for (i, (sql, counts)) in statement.iter().enumerate() {
                let err = db.err("changing expired rows", Some(table));
                if *counts == Counted::Rows {
                    let row = sql.query().fetch_one(&mut *c).await.map_err(&err)?;
                    let n: i64 = row.try_get("n").map_err(&err)?;
                    changed = u64::try_from(n).unwrap_or(0);
                } else {
                    let done = sql.query().execute(&mut *c).await.map_err(&err)?;
                    if *counts == Counted::Affected {
                        changed = done.rows_affected();
                    }
                }
                crate::fault::point("statement");
                if i == 0 && matches!(work.op, RowOp::RollUp { .. }) {
                    crate::fault::point("rollup-inserted");
                }
            }
            let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            if let Some((home, run, true)) = log {
                own::record_batch(
                    home,
                    c,
                    (run, &options.run),
                    data_type,
                    action,
                    changed,
                    micros,
                )
                .await?;
            }
            Ok((changed, micros))
        })
        .await?;
        crate::fault::point("committed");
        if let Some((home, run, false)) = log {
            home.write_with(Lock::Rows, async |c| {
                own::record_batch(
                    home,
                    c,
                    (run, &options.run),
                    data_type,
                    action,
                    changed,
                    micros,
                )
                .await
            })
            .await?;
        }
        total += changed;
        progress(Progress::Advance { n: changed });
        let took = Duration::from_micros(micros);
        if fixed.is_none() && took < options.target_batch / 2 {
            size = (size * 2).min(options.max_batch);
        } else if fixed.is_none() && took > options.target_batch {
            size = (size / 2).max(100);
        }
        lo = Some(hi);
    }
    Ok((total, skipped))
}

/// Runs `f` in a write transaction (on PostgreSQL with the lock timeout),
/// again after a pause when it timed out waiting for a lock, up to the
/// attempts allowed.
async fn retrying<T>(
    db: &Db,
    table: &str,
    options: &Options,
    f: impl AsyncFn(&mut AnyConnection) -> Result<T>,
) -> Result<T> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = db
            .write_with(Lock::Rows, async |c| {
                if db.dialect() == Dialect::Postgres {
                    let ms = options.lock_timeout.as_millis().clamp(1, 600_000);
                    // A whole number of milliseconds: no input reaches it.
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SET LOCAL lock_timeout = {ms}"
                    )))
                    .execute(&mut *c)
                    .await
                    .map_err(db.err("setting the lock timeout", Some(table)))?;
                }
                f(c).await
            })
            .await;
        match result {
            Ok(v) => return Ok(v),
            Err(e) if attempt < options.attempts && is_lock_timeout(&e) => {
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            }
            Err(e) if is_lock_timeout(&e) => {
                return Err(Error::Locked {
                    store: db.name().to_owned(),
                    table: table.to_owned(),
                    tries: attempt,
                })
            }
            Err(e) => return Err(e),
        }
    }
}

/// Detaches and drops each partition of `work` that holds no row a floor,
/// a hold or a reference protects: the check and the drop in one
/// transaction that first locks the partition, so no row can arrive in
/// between. Returns the partitions dropped and the rows they held.
async fn drop_partitions(
    db: &Db,
    work: &RowWork,
    data_type: &str,
    options: &Options,
    log: Option<(&Db, i64, bool)>,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<(u64, u64)> {
    let table = work.table.as_str();
    let eligible = eligible(work);
    let (mut parts, mut rows) = (0, 0);
    for p in &work.partitions {
        let mut lock = Sql::new();
        lock.push("LOCK TABLE ")
            .ident(&p.name)
            .push(" IN EXCLUSIVE MODE");
        // The partition, under its parent's name, so the conditions that
        // name the parent's columns read it.
        let mut check = Sql::new();
        check
            .push("SELECT CAST(COUNT(*) AS BIGINT) AS n, CAST(COALESCE(SUM(CASE WHEN ")
            .append(&eligible)
            .push(" THEN 0 ELSE 1 END), 0) AS BIGINT) AS kept FROM ")
            .ident(&p.name)
            .push(" AS ")
            .ident(&work.table);
        let mut detach = Sql::new();
        detach
            .push("ALTER TABLE ")
            .ident(&work.table)
            .push(" DETACH PARTITION ")
            .ident(&p.name);
        let mut drop = Sql::new();
        drop.push("DROP TABLE ").ident(&p.name);
        let done = retrying(db, table, options, async |c| {
            let started = Instant::now();
            let err = db.err("dropping an expired partition", Some(p.name.as_str()));
            lock.query().execute(&mut *c).await.map_err(&err)?;
            let row = check.query().fetch_one(&mut *c).await.map_err(&err)?;
            let n: i64 = row.try_get("n").map_err(&err)?;
            let kept: i64 = row.try_get("kept").map_err(&err)?;
            if kept > 0 {
                return Ok(None);
            }
            detach.query().execute(&mut *c).await.map_err(&err)?;
            crate::fault::point("statement");
            drop.query().execute(&mut *c).await.map_err(&err)?;
            let n = u64::try_from(n).unwrap_or(0);
            let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            if let Some((home, run, true)) = log {
                own::record_batch(
                    home,
                    c,
                    (run, &options.run),
                    data_type,
                    "drop_partition",
                    n,
                    micros,
                )
                .await?;
            }
            Ok(Some((n, micros)))
        })
        .await?;
        let Some((n, micros)) = done else { continue };
        crate::fault::point("committed");
        if let Some((home, run, false)) = log {
            home.write_with(Lock::Rows, async |c| {
                own::record_batch(
                    home,
                    c,
                    (run, &options.run),
                    data_type,
                    "drop_partition",
                    n,
                    micros,
                )
                .await
            })
            .await?;
        }
        parts += 1;
        rows += n;
        progress(Progress::Advance { n });
    }
    Ok((parts, rows))
}

/// Crypto-shreds in the vault the subjects of the rows in `range` every
/// row of whose in the table may go (no floor, hold, reference or unexpired
/// row keeps one of them); returns those subjects. Shredding before the rows
/// are deleted means a kill in between leaves rows whose values are already
/// unreadable, and the rerun shreds again (a no-op) and deletes them.
async fn shred(
    db: &Db,
    work: &RowWork,
    subject: &Sql,
    range: &Sql,
    vault: &privctl_vault::Vault,
    skipped: &mut Vec<String>,
) -> Result<Vec<String>> {
    let table = work.table.as_str();
    let err = db.err("finding subjects to crypto-shred", Some(table));
    let mut subjects = Sql::new();
    subjects
        .push("SELECT DISTINCT CAST(")
        .append(subject)
        .push(" AS TEXT) AS s FROM ")
        .ident(&work.table)
        .push(" WHERE ")
        .append(range);
    let found: Vec<String> = subjects
        .query()
        .fetch_all(db.pool())
        .await
        .map_err(&err)?
        .iter()
        .map(|r| r.try_get::<Option<String>, _>("s"))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(&err)?
        .into_iter()
        .flatten()
        .collect();
    let mut out = Vec::new();
    for s in found {
        // Rows of theirs that may not go keep them.
        let mut others = Sql::new();
        others
            .push("CAST(")
            .append(subject)
            .push(" AS TEXT) = ")
            .bind(Value::Text(s.clone()))
            .push(" AND NOT COALESCE((")
            .append(&eligible(work))
            .push("), 1 = 0)");
        let n = db
            .count_where(&work.table, &others, "finding subjects to crypto-shred")
            .await?;
        if n > 0 {
            continue;
        }
        match vault.shred(&s).await {
            Ok(_) => {}
            // A subject the vault cannot name (empty, too long, control
            // characters) holds nothing in it: their rows stay, reported.
            Err(privctl_vault::Error::InvalidSubject { .. }) => {
                skipped.push(privctl_policy::escape_untrusted(&s).into_owned());
                continue;
            }
            Err(e) => {
                return Err(Error::Vault {
                    subject: privctl_policy::escape_untrusted(&s).into_owned(),
                    source: Box::new(e),
                })
            }
        }
        crate::fault::point("shredded");
        out.push(s);
    }
    Ok(out)
}

/// How a statement's count is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counted {
    /// Not counted.
    No,
    /// Rows it affected.
    Affected,
    /// The `n` column of the one row it returns.
    Rows,
}

/// The statements that change one batch (`range` selects its rows).
fn change(dialect: Dialect, work: &RowWork, range: &Sql) -> Vec<(Sql, Counted)> {
    let mut out = Vec::new();
    match &work.op {
        RowOp::Delete | RowOp::CryptoShred { .. } => {
            let mut s = Sql::new();
            s.push("DELETE FROM ")
                .ident(&work.table)
                .push(" WHERE ")
                .append(range);
            out.push((s, Counted::Affected));
        }
        RowOp::Anonymise { assignments, .. } | RowOp::Unidentify { assignments } => {
            let mut s = Sql::new();
            s.push("UPDATE ")
                .ident(&work.table)
                .push(" SET ")
                .append(assignments)
                .push(" WHERE ")
                .append(range);
            out.push((s, Counted::Affected));
        }
        RowOp::RollUp { insert, tail, .. } => match dialect {
            // One statement: exactly the rows deleted are summed.
            Dialect::Postgres => {
                let mut s = Sql::new();
                s.push("WITH ")
                    .ident(&work.table)
                    .push(" AS (DELETE FROM ")
                    .ident(&work.table)
                    .push(" WHERE ")
                    .append(range)
                    .push(" RETURNING *), privctl_summed AS (")
                    .append(insert)
                    .push(" FROM ")
                    .ident(&work.table)
                    .append(tail)
                    .push(" RETURNING 1) SELECT CAST(COUNT(*) AS BIGINT) AS n FROM ")
                    .ident(&work.table);
                out.push((s, Counted::Rows));
            }
            // SQLite: the write lock is held from the first statement, so
            // both see the same rows.
            Dialect::Sqlite => {
                let mut s = Sql::new();
                s.append(insert)
                    .push(" FROM ")
                    .ident(&work.table)
                    .push(" WHERE ")
                    .append(range)
                    .append(tail);
                out.push((s, Counted::No));
                let mut d = Sql::new();
                d.push("DELETE FROM ")
                    .ident(&work.table)
                    .push(" WHERE ")
                    .append(range);
                out.push((d, Counted::Affected));
            }
        },
    }
    out
}

fn is_lock_timeout(e: &Error) -> bool {
    let Error::Store(privctl_store::Error::Database { source, .. }) = e else {
        return false;
    };
    source
        .as_database_error()
        .and_then(|d| d.code())
        // lock_not_available, or a deadlock (a partition's detach waiting
        // for the parent while a writer waits for the partition).
        .is_some_and(|c| c == "55P03" || c == "40P01")
}

/// Walks a files store's directory without following symbolic links:
/// counts (when `dry`) or deletes regular files modified at or before the
/// cutoff, keeping held subjects' directories. Returns (expired or deleted,
/// kept by hold).
fn files(work: &FileWork, store: &str, dry: bool) -> Result<(u64, u64)> {
    let root = &work.dir;
    if work.subject_dir {
        // One person's directory: absent, nothing of theirs is here; a
        // link or a file in its place is refused, never followed.
        match std::fs::symlink_metadata(root) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, 0)),
            Ok(m) if !m.is_dir() => {
                return Err(Error::FilesRoot {
                    store: store.to_owned(),
                    path: privctl_policy::escape_path(root),
                    reason: "the subject's directory is a symbolic link or not a directory"
                        .to_owned(),
                })
            }
            _ => {}
        }
    }
    // The root may itself be a link (to a mounted volume); nothing below it
    // is followed.
    let meta = std::fs::metadata(root).map_err(|e| Error::FilesRoot {
        store: store.to_owned(),
        path: privctl_policy::escape_path(root),
        reason: e.to_string(),
    })?;
    if !meta.is_dir() {
        return Err(Error::FilesRoot {
            store: store.to_owned(),
            path: privctl_policy::escape_path(root),
            reason: "not a directory".to_owned(),
        });
    }
    let mut done = 0;
    let mut held = 0;
    walk(work, store, root, root, dry, &mut done, &mut held)?;
    if work.subject_dir && !dry {
        remove_empty(root);
    }
    Ok((done, held))
}

/// Removes `dir` and the directories under it once they hold nothing (what
/// is left, a link or a special file, keeps its directory).
fn remove_empty(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_empty(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

fn walk(
    work: &FileWork,
    store: &str,
    root: &Path,
    dir: &Path,
    dry: bool,
    done: &mut u64,
    held: &mut u64,
) -> Result<()> {
    let io = |path: &Path| {
        let path = privctl_policy::escape_path(path);
        let store = store.to_owned();
        move |source| Error::Files {
            store,
            path,
            source,
        }
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .collect::<std::io::Result<_>>()
        .map_err(io(dir))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).map_err(io(&path))?;
        if meta.is_dir() {
            walk(work, store, root, &path, dry, done, held)?;
            continue;
        }
        if !meta.is_file() {
            // Symbolic links and special files are never followed or removed.
            continue;
        }
        let modified: DateTime<Utc> = meta.modified().map_err(io(&path))?.into();
        if modified > work.cutoff {
            continue;
        }
        let rel = path.strip_prefix(root).unwrap_or(&path);
        let subject = rel.components().next().and_then(|c| c.as_os_str().to_str());
        let is_held = work.all_held
            || (rel.components().count() > 1
                && subject.is_some_and(|s| work.held_dirs.iter().any(|h| h == s)));
        if is_held {
            *held += 1;
            if dry {
                *done += 1;
            }
            continue;
        }
        if !dry {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                // Another sweep removed it first: the same end state.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(&path)(e)),
            }
        }
        *done += 1;
    }
    Ok(())
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
