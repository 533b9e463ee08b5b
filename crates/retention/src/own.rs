//! privctl's own tables for retention: legal holds, deletion requests
//! recorded by hand (the data-subject-request work writes them later), and
//! the run log with one row per batch. Times are whole seconds since 1970
//! UTC in both dialects.

use chrono::{DateTime, Utc};
use privctl_store::{AnyConnection, Component, Db, Dialect, Lock, Row};
use serde::Serialize;

use crate::Result;

fn retention_tables(d: Dialect) -> &'static [&'static [&'static str]] {
    match d {
        Dialect::Sqlite => &[
            &[
            "CREATE TABLE privctl_holds (id INTEGER PRIMARY KEY AUTOINCREMENT, scope TEXT NOT NULL, target TEXT NOT NULL, reason TEXT NOT NULL, created_at BIGINT NOT NULL, released_at BIGINT)",
            "CREATE INDEX privctl_holds_target ON privctl_holds (scope, target)",
            "CREATE TABLE privctl_runs (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, policy_digest TEXT NOT NULL, as_of BIGINT NOT NULL, started_at BIGINT NOT NULL, finished_at BIGINT, report TEXT)",
            "CREATE TABLE privctl_run_batches (run_id BIGINT NOT NULL, data_type TEXT NOT NULL, action TEXT NOT NULL, rows_changed BIGINT NOT NULL, micros BIGINT NOT NULL, at BIGINT NOT NULL)",
            "CREATE INDEX privctl_run_batches_run ON privctl_run_batches (run_id)",
            ],
            &[
                "ALTER TABLE privctl_runs ADD COLUMN request_id BIGINT",
                "CREATE INDEX privctl_runs_request ON privctl_runs (request_id)",
            ],
            &[
                "CREATE TABLE privctl_ch_intents (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id BIGINT NOT NULL, store TEXT NOT NULL, tbl TEXT NOT NULL, data_type TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, expected BIGINT NOT NULL, issued_at BIGINT NOT NULL, done_at BIGINT)",
                "CREATE INDEX privctl_ch_intents_pending ON privctl_ch_intents (store, tbl, done_at)",
            ],
        ],
        Dialect::Postgres => &[
            &[
            "CREATE TABLE privctl_holds (id BIGSERIAL PRIMARY KEY, scope TEXT NOT NULL, target TEXT NOT NULL, reason TEXT NOT NULL, created_at BIGINT NOT NULL, released_at BIGINT)",
            "CREATE INDEX privctl_holds_target ON privctl_holds (scope, target)",
            "CREATE TABLE privctl_runs (id BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL, policy_digest TEXT NOT NULL, as_of BIGINT NOT NULL, started_at BIGINT NOT NULL, finished_at BIGINT, report TEXT)",
            "CREATE TABLE privctl_run_batches (run_id BIGINT NOT NULL, data_type TEXT NOT NULL, action TEXT NOT NULL, rows_changed BIGINT NOT NULL, micros BIGINT NOT NULL, at BIGINT NOT NULL)",
            "CREATE INDEX privctl_run_batches_run ON privctl_run_batches (run_id)",
            ],
            &[
                "ALTER TABLE privctl_runs ADD COLUMN request_id BIGINT",
                "CREATE INDEX privctl_runs_request ON privctl_runs (request_id)",
            ],
            &[
                "CREATE TABLE privctl_ch_intents (id BIGSERIAL PRIMARY KEY, run_id BIGINT NOT NULL, store TEXT NOT NULL, tbl TEXT NOT NULL, data_type TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, expected BIGINT NOT NULL, issued_at BIGINT NOT NULL, done_at BIGINT)",
                "CREATE INDEX privctl_ch_intents_pending ON privctl_ch_intents (store, tbl, done_at)",
            ],
        ],
    }
}

/// Holds and the run log; version 2 ties erasure runs to their request;
/// version 3 records each ClickHouse partition drop and mutation before it
/// is issued, so a run killed while the server carries one out is counted
/// once by the next.
pub const RETENTION: Component = Component {
    name: "retention",
    migrations: retention_tables,
};

pub use privctl_store::requests::REQUESTS;

/// Creates or upgrades every table retention reads.
pub async fn ensure(db: &Db) -> Result<()> {
    db.ensure(&RETENTION).await?;
    db.ensure(&REQUESTS).await?;
    privctl_audit::ensure(db).await?;
    Ok(())
}

/// Whether retention's tables exist at this release's version (a dry run
/// on a new database finds none, and creates none).
pub async fn ready(db: &Db) -> Result<bool> {
    Ok(
        db.component_version(&RETENTION).await? == Some(RETENTION.version(db.dialect()))
            && db.component_version(&REQUESTS).await? == Some(REQUESTS.version(db.dialect()))
            && privctl_audit::ready(db).await?,
    )
}

/// What a hold covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldScope {
    /// One person, by their user id.
    Subject,
    /// A whole data type.
    DataType,
}

impl HoldScope {
    fn as_str(self) -> &'static str {
        match self {
            HoldScope::Subject => "subject",
            HoldScope::DataType => "data_type",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "subject" => Some(HoldScope::Subject),
            "data_type" => Some(HoldScope::DataType),
            _ => None,
        }
    }
}

/// A legal hold.
#[derive(Debug, Clone, Serialize)]
pub struct Hold {
    /// Its id.
    pub id: i64,
    /// What it covers.
    pub scope: HoldScope,
    /// The subject's user id or the data type's name.
    pub target: String,
    /// Why (a case, a regulator's letter).
    pub reason: String,
    /// When it was placed.
    pub created_at: DateTime<Utc>,
    /// When it was released, if it was.
    pub released_at: Option<DateTime<Utc>>,
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

/// A ClickHouse change recorded before it was issued and not yet counted.
#[derive(Debug, Clone)]
pub(crate) struct Intent {
    pub(crate) id: i64,
    pub(crate) run_id: i64,
    pub(crate) data_type: String,
    /// `drop_partition` or `delete`.
    pub(crate) action: String,
    /// The partition's id, or the mutation's marker.
    pub(crate) target: String,
    pub(crate) expected: u64,
}

/// Records that `action` on ClickHouse table `table` of `store` is about
/// to be issued, expecting to change `expected` rows; returns its id.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn add_intent(
    db: &Db,
    run_id: i64,
    store: &str,
    table: &str,
    data_type: &str,
    action: &str,
    target: &str,
    expected: u64,
) -> Result<i64> {
    let op = "recording a ClickHouse change before issuing it";
    let id = db
        .write_with(Lock::Rows, async |c| {
            sqlx::query("INSERT INTO privctl_ch_intents (run_id, store, tbl, data_type, action, target, expected, issued_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id")
                .bind(run_id)
                .bind(store)
                .bind(table)
                .bind(data_type)
                .bind(action)
                .bind(target)
                .bind(i64::try_from(expected).unwrap_or(i64::MAX))
                .bind(Utc::now().timestamp())
                .fetch_one(&mut *c)
                .await
                .and_then(|r| r.try_get::<i64, _>("id"))
                .map_err(db.err(op, Some("privctl_ch_intents")))
        })
        .await?;
    Ok(id)
}

/// The changes to `table` of `store` recorded and never counted by a run of
/// the same kind as `kind` (sweeps, or the same request's erasure): their
/// run was killed while the server carried them out, or before it got them.
pub(crate) async fn pending_intents(
    db: &Db,
    kind: &RunKind,
    store: &str,
    table: &str,
) -> Result<Vec<Intent>> {
    let op = "reading unfinished ClickHouse changes";
    let rows = sqlx::query("SELECT i.id AS id, i.run_id AS run_id, i.data_type AS data_type, i.action AS action, i.target AS target, i.expected AS expected FROM privctl_ch_intents i JOIN privctl_runs r ON r.id = i.run_id WHERE i.store = $1 AND i.tbl = $2 AND i.done_at IS NULL AND r.kind = $3 AND COALESCE(r.request_id, -1) = $4 ORDER BY i.id")
        .bind(store)
        .bind(table)
        .bind(kind.name())
        .bind(kind.request().unwrap_or(-1))
        .fetch_all(db.pool())
        .await
        .map_err(db.err(op, Some("privctl_ch_intents")))?;
    let intents = rows
        .iter()
        .map(|r| {
            Ok(Intent {
                id: r.try_get("id")?,
                run_id: r.try_get("run_id")?,
                data_type: r.try_get("data_type")?,
                action: r.try_get("action")?,
                target: r.try_get("target")?,
                expected: u64::try_from(r.try_get::<i64, _>("expected")?).unwrap_or(0),
            })
        })
        .collect::<std::result::Result<Vec<_>, sqlx::Error>>()
        .map_err(db.err(op, Some("privctl_ch_intents")))?;
    Ok(intents)
}

/// Counts a recorded change: `rows` in the run log of the run that issued
/// it, and the intent marked done, in one transaction; nothing when another
/// run has counted it already.
pub(crate) async fn finish_intent(
    db: &Db,
    intent: &Intent,
    kind: &RunKind,
    rows: u64,
    micros: u64,
) -> Result<()> {
    db.write_with(Lock::Rows, async |c| {
        let marked = sqlx::query(
            "UPDATE privctl_ch_intents SET done_at = $1 WHERE id = $2 AND done_at IS NULL",
        )
        .bind(Utc::now().timestamp())
        .bind(intent.id)
        .execute(&mut *c)
        .await
        .map_err(db.err("counting a ClickHouse change", Some("privctl_ch_intents")))?;
        // Another run (a rerun while this one still waited) counted it.
        if marked.rows_affected() == 0 {
            return Ok(());
        }
        record_batch(
            db,
            c,
            (intent.run_id, kind),
            &intent.data_type,
            &intent.action,
            rows,
            micros,
        )
        .await
    })
    .await
}

/// Places a hold; returns its id.
pub async fn add_hold(
    db: &Db,
    scope: HoldScope,
    target: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<i64> {
    ensure(db).await?;
    let id = db
        .write_with(Lock::Privctl, async |c| {
            let r = sqlx::query("INSERT INTO privctl_holds (scope, target, reason, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
                .bind(scope.as_str())
                .bind(target)
                .bind(reason)
                .bind(now.timestamp())
                .fetch_one(&mut *c)
                .await
                .map_err(db.err("placing a hold", Some("privctl_holds")))?;
            let id = r
                .try_get::<i64, _>("id")
                .map_err(db.err("placing a hold", Some("privctl_holds")))?;
            let subject = (scope == HoldScope::Subject).then_some(target);
            privctl_audit::append(
                db,
                c,
                "hold.placed",
                subject,
                &serde_json::json!({ "hold": id, "scope": scope.as_str(), "target": target, "reason": reason }),
                now,
            )
            .await?;
            Ok::<_, crate::Error>(id)
        })
        .await?;
    Ok(id)
}

/// Releases a hold; returns whether an active hold had that id.
pub async fn release_hold(db: &Db, id: i64, now: DateTime<Utc>) -> Result<bool> {
    ensure(db).await?;
    let n = db
        .write_with(Lock::Privctl, async |c| {
            let n = sqlx::query(
                "UPDATE privctl_holds SET released_at = $1 WHERE id = $2 AND released_at IS NULL",
            )
            .bind(now.timestamp())
            .bind(id)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
            .map_err(db.err("releasing a hold", Some("privctl_holds")))?;
            if n > 0 {
                privctl_audit::append(
                    db,
                    c,
                    "hold.released",
                    None,
                    &serde_json::json!({ "hold": id }),
                    now,
                )
                .await?;
            }
            Ok::<_, crate::Error>(n)
        })
        .await?;
    Ok(n > 0)
}

/// Every hold, active ones first; none when the tables do not exist yet.
pub async fn holds(db: &Db, include_released: bool) -> Result<Vec<Hold>> {
    if !ready(db).await? {
        return Ok(Vec::new());
    }
    let op = "reading holds";
    let rows = sqlx::query("SELECT id, scope, target, reason, created_at, released_at FROM privctl_holds ORDER BY released_at IS NOT NULL, id")
        .fetch_all(db.pool())
        .await
        .map_err(db.err(op, Some("privctl_holds")))?;
    let mut out = Vec::new();
    for r in rows {
        let get = || -> Result<Hold, sqlx::Error> {
            let scope: String = r.try_get("scope")?;
            Ok(Hold {
                id: r.try_get("id")?,
                scope: HoldScope::parse(&scope).unwrap_or(HoldScope::Subject),
                target: r.try_get("target")?,
                reason: r.try_get("reason")?,
                created_at: at(r.try_get("created_at")?),
                released_at: r.try_get::<Option<i64>, _>("released_at")?.map(at),
            })
        };
        let hold = get().map_err(db.err(op, Some("privctl_holds")))?;
        if include_released || hold.released_at.is_none() {
            out.push(hold);
        }
    }
    Ok(out)
}

/// Records a deletion request for a subject (by user id); returns its id.
pub async fn add_deletion_request(
    db: &Db,
    subject: &str,
    note: Option<&str>,
    at: DateTime<Utc>,
) -> Result<i64> {
    ensure(db).await?;
    let id = db
        .write_with(Lock::Privctl, async |c| {
            let r = sqlx::query("INSERT INTO privctl_requests (kind, subject, requested_at, note) VALUES ('erasure', $1, $2, $3) RETURNING id")
                .bind(subject)
                .bind(at.timestamp())
                .bind(note)
                .fetch_one(&mut *c)
                .await
                .map_err(db.err("recording a request", Some("privctl_requests")))?;
            let id = r
                .try_get::<i64, _>("id")
                .map_err(db.err("recording a request", Some("privctl_requests")))?;
            privctl_audit::append(
                db,
                c,
                "request.recorded",
                Some(subject),
                &serde_json::json!({ "request": id, "kind": "erasure", "requested_at": at.timestamp(), "note": note }),
                Utc::now(),
            )
            .await?;
            Ok::<_, crate::Error>(id)
        })
        .await?;
    Ok(id)
}

/// What a run does: a retention sweep, or one erasure request carried out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RunKind {
    /// A retention sweep.
    #[default]
    Sweep,
    /// An erasure.
    Erasure {
        /// The request it carries out.
        request: i64,
        /// Whose (their key).
        subject: String,
    },
    /// A completed erasure applied again after a restore.
    Replay {
        /// The request of the receipt it follows (in the database the
        /// erasure ran on; the restored one may use the number for another).
        receipt_request: i64,
        /// Whose (their key).
        subject: String,
    },
}

impl RunKind {
    fn name(&self) -> &'static str {
        match self {
            RunKind::Sweep => "sweep",
            RunKind::Erasure { .. } => "erasure",
            RunKind::Replay { .. } => "replay",
        }
    }

    /// The request whose totals the run counts towards.
    fn request(&self) -> Option<i64> {
        match self {
            RunKind::Erasure { request, .. } => Some(*request),
            RunKind::Sweep | RunKind::Replay { .. } => None,
        }
    }

    fn subject(&self) -> Option<&str> {
        match self {
            RunKind::Sweep => None,
            RunKind::Erasure { subject, .. } | RunKind::Replay { subject, .. } => Some(subject),
        }
    }

    /// The audit entry's kind for `event` (`started`, `batch`, `finished`).
    fn entry(&self, event: &str) -> String {
        format!("{}.{event}", self.name())
    }

    /// The audit entry's body, the request named for an erasure.
    fn body(&self, mut body: serde_json::Value) -> serde_json::Value {
        if let Some(map) = body.as_object_mut() {
            match self {
                RunKind::Sweep => {}
                RunKind::Erasure { request, .. } => {
                    map.insert("request".to_owned(), (*request).into());
                }
                RunKind::Replay {
                    receipt_request, ..
                } => {
                    map.insert("receipt_request".to_owned(), (*receipt_request).into());
                }
            }
        }
        body
    }
}

/// Opens a run record; returns its id.
pub(crate) async fn start_run(
    db: &Db,
    digest: &str,
    as_of: DateTime<Utc>,
    now: DateTime<Utc>,
    kind: &RunKind,
) -> Result<i64> {
    let id = db
        .write_with(Lock::Privctl, async |c| {
            let r = sqlx::query("INSERT INTO privctl_runs (kind, policy_digest, as_of, started_at, request_id) VALUES ($1, $2, $3, $4, $5) RETURNING id")
                .bind(kind.name())
                .bind(digest)
                .bind(as_of.timestamp())
                .bind(now.timestamp())
                .bind(kind.request())
                .fetch_one(&mut *c)
                .await
                .map_err(db.err("opening the run log", Some("privctl_runs")))?;
            let id = r
                .try_get::<i64, _>("id")
                .map_err(db.err("opening the run log", Some("privctl_runs")))?;
            privctl_audit::append(
                db,
                c,
                &kind.entry("started"),
                kind.subject(),
                &kind.body(serde_json::json!({ "run": id, "as_of": as_of.to_rfc3339(), "policy_sha256": digest })),
                now,
            )
            .await?;
            Ok::<_, crate::Error>(id)
        })
        .await?;
    Ok(id)
}

/// Records one batch, inside the batch's own transaction.
pub(crate) async fn record_batch(
    db: &Db,
    c: &mut AnyConnection,
    (run, kind): (i64, &RunKind),
    data_type: &str,
    action: &str,
    rows: u64,
    micros: u64,
) -> Result<()> {
    tracing::debug!(run, data_type, action, rows, micros, "batch done");
    sqlx::query("INSERT INTO privctl_run_batches (run_id, data_type, action, rows_changed, micros, at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(run)
        .bind(data_type)
        .bind(action)
        .bind(i64::try_from(rows).unwrap_or(i64::MAX))
        .bind(i64::try_from(micros).unwrap_or(i64::MAX))
        .bind(Utc::now().timestamp())
        .execute(&mut *c)
        .await
        .map_err(db.err("writing the run log", Some("privctl_run_batches")))?;
    privctl_audit::append(
        db,
        c,
        &kind.entry("batch"),
        kind.subject(),
        &kind.body(serde_json::json!({ "run": run, "data_type": data_type, "action": action, "rows": rows })),
        Utc::now(),
    )
    .await?;
    Ok(())
}

/// Closes a run record with its report.
pub(crate) async fn finish_run(
    db: &Db,
    run: i64,
    report: &str,
    now: DateTime<Utc>,
    kind: &RunKind,
) -> Result<()> {
    db.write_with(Lock::Privctl, async |c| {
        sqlx::query("UPDATE privctl_runs SET finished_at = $1, report = $2 WHERE id = $3")
            .bind(now.timestamp())
            .bind(report)
            .bind(run)
            .execute(&mut *c)
            .await
            .map_err(db.err("closing the run log", Some("privctl_runs")))?;
        let report: serde_json::Value =
            serde_json::from_str(report).unwrap_or(serde_json::Value::Null);
        privctl_audit::append(
            db,
            c,
            &kind.entry("finished"),
            kind.subject(),
            &kind.body(serde_json::json!({ "run": run, "report": report })),
            now,
        )
        .await?;
        Ok::<_, crate::Error>(())
    })
    .await
}

/// One run of the log.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    /// Its id.
    pub id: i64,
    /// The policy's SHA-256.
    pub policy_digest: String,
    /// The instant it acted as of.
    pub as_of: DateTime<Utc>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it finished; `None` for a run that was interrupted.
    pub finished_at: Option<DateTime<Utc>>,
    /// Its report (JSON), once finished.
    pub report: Option<serde_json::Value>,
    /// Rows changed per data type and action, from its batches.
    pub batches: Vec<(String, String, i64)>,
    /// The longest batch transaction, in microseconds.
    pub longest_batch_micros: i64,
}

/// The last `n` runs, newest first.
pub async fn runs(db: &Db, n: i64) -> Result<Vec<RunRecord>> {
    if !ready(db).await? {
        return Ok(Vec::new());
    }
    let op = "reading the run log";
    let rows = sqlx::query("SELECT id, policy_digest, as_of, started_at, finished_at, report FROM privctl_runs ORDER BY id DESC LIMIT $1")
        .bind(n)
        .fetch_all(db.pool())
        .await
        .map_err(db.err(op, Some("privctl_runs")))?;
    let mut out = Vec::new();
    for r in rows {
        let id: i64 = r.try_get("id").map_err(db.err(op, Some("privctl_runs")))?;
        let report: Option<String> = r
            .try_get("report")
            .map_err(db.err(op, Some("privctl_runs")))?;
        let batches = sqlx::query("SELECT data_type, action, CAST(SUM(rows_changed) AS BIGINT) AS n FROM privctl_run_batches WHERE run_id = $1 GROUP BY data_type, action ORDER BY data_type, action")
            .bind(id)
            .fetch_all(db.pool())
            .await
            .map_err(db.err(op, Some("privctl_run_batches")))?
            .iter()
            .map(|b| Ok((b.try_get("data_type")?, b.try_get("action")?, b.try_get("n")?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(db.err(op, Some("privctl_run_batches")))?;
        let longest: i64 = sqlx::query("SELECT CAST(COALESCE(MAX(micros), 0) AS BIGINT) AS m FROM privctl_run_batches WHERE run_id = $1")
            .bind(id)
            .fetch_one(db.pool())
            .await
            .and_then(|r| r.try_get("m"))
            .map_err(db.err(op, Some("privctl_run_batches")))?;
        let get = |name: &str| -> Result<i64, privctl_store::Error> {
            r.try_get(name).map_err(db.err(op, Some("privctl_runs")))
        };
        out.push(RunRecord {
            id,
            policy_digest: r
                .try_get("policy_digest")
                .map_err(db.err(op, Some("privctl_runs")))?,
            as_of: at(get("as_of")?),
            started_at: at(get("started_at")?),
            finished_at: r
                .try_get::<Option<i64>, _>("finished_at")
                .map_err(db.err(op, Some("privctl_runs")))?
                .map(at),
            report: report.and_then(|s| serde_json::from_str(&s).ok()),
            batches,
            longest_batch_micros: longest,
        });
    }
    Ok(out)
}

/// Rows changed per data type and action by every run of erasure request
/// `request`, summed from their batches (a run killed and run again counts
/// each row once: a batch's count commits with its change).
pub async fn request_totals(db: &Db, request: i64) -> Result<Vec<(String, String, i64)>> {
    if !ready(db).await? {
        return Ok(Vec::new());
    }
    let op = "reading the run log";
    sqlx::query("SELECT b.data_type AS data_type, b.action AS action, CAST(SUM(b.rows_changed) AS BIGINT) AS n FROM privctl_run_batches b JOIN privctl_runs r ON r.id = b.run_id WHERE r.request_id = $1 AND r.kind = 'erasure' GROUP BY b.data_type, b.action ORDER BY b.data_type, b.action")
        .bind(request)
        .fetch_all(db.pool())
        .await
        .map_err(db.err(op, Some("privctl_run_batches")))?
        .iter()
        .map(|b| Ok((b.try_get("data_type")?, b.try_get("action")?, b.try_get("n")?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(|e| db.err(op, Some("privctl_run_batches"))(e).into())
}
