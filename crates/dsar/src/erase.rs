//! Carrying out erasure requests (`privctl erase run`).
//!
//! Every request whose grace period is over is executed in steps that are
//! each idempotent, so a run killed anywhere and run again ends where one
//! uninterrupted run would:
//! 1. the request is marked started, and the account recorded as closed
//!    (the clock of floors that count from the end of the relationship)
//!    where the policy keeps that in a column and it is empty;
//! 2. the person's erasure plan (retention's planner with "this person's
//!    rows" for "expired rows", children before parents) runs in short
//!    batches, each committing its change and its count together;
//! 3. an account row that must stay because kept rows refer to it has its
//!    identifying columns replaced;
//! 4. the person's vault key is crypto-shredded when the policy says so;
//! 5. a signed receipt is made from what the batches counted and what is
//!    still kept, and the request is marked completed with it, and logged,
//!    in one transaction.
//!
//! A person under a legal hold is not touched: the request records the
//! hold. So does a request that meets a data type under a hold, or data
//! this release cannot act on: what can be done is done, and the request
//! stays open, saying why, until a rerun finds nothing in the way.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use privctl_policy::model::{ErasureAction, EventSource};
use privctl_policy::{ColumnRef, SqlIdent};
use privctl_retention::own::{self, HoldScope, RunKind};
use privctl_retention::plan::{Plan, RowOp, Step, Work};
use privctl_retention::{Options, Report, Session, Target};
use privctl_store::sql::{parse_time_text, time_text, time_to_store, Sql};
use privctl_store::subject::{belongs_to, Identifiers};
use privctl_store::{Db, Lock, Row};
use serde::Serialize;

use crate::receipt::{self, Line, Receipt, Signed};
use crate::requests::{self, Request};
use crate::{Error, Result};

/// How a run goes.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The instant it acts as of (now, but for rehearsals and tests).
    pub now: DateTime<Utc>,
    /// Where each signed receipt is written, before its request is marked
    /// completed (so a completed request always has its file, which a
    /// replay after a restore reads); none: kept in the database only.
    pub receipts: Option<std::path::PathBuf>,
    /// Only plan and count: nothing changes.
    pub dry_run: bool,
    /// Only this request.
    pub request: Option<i64>,
    /// The vault: its pseudonym key for columns the policy pseudonymises,
    /// and crypto-shredding.
    pub vault: Option<Arc<privctl_vault::Vault>>,
    /// Why there is no vault, when opening it failed.
    pub vault_error: Option<String>,
}

/// Where a request stands after a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Carried out; its receipt is signed.
    Completed,
    /// Its grace period runs: nothing touched.
    Waiting,
    /// The person is under a legal hold: nothing touched.
    Held,
    /// Partly done; what stands in the way is in `reason`.
    Incomplete,
    /// An inactivity erasure whose person was active after the notice:
    /// withdrawn, nothing touched.
    Withdrawn,
    /// A dry run's plan.
    Planned,
}

/// One request's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The request, as it stands now.
    pub request: Request,
    /// Where it stands.
    pub state: State,
    /// Why it is not completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What this run did (or, in a dry run, would do), per data type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
    /// The signed receipt, once completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<Signed>,
}

/// The purpose under which erasure pseudonyms are keyed in the vault.
pub const PSEUDONYM_PURPOSE: &str = "erasure";

/// Runs every open erasure request whose grace period is over (or only
/// `options.request`), signing receipts with `signer`.
pub async fn run(
    session: &Session,
    signer: &privctl_audit::Signer,
    options: &RunOptions,
) -> Result<Vec<Outcome>> {
    let home = session.home_db()?;
    if !options.dry_run {
        own::ensure(home).await?;
    }
    let open = requests::open(home, options.now, Some(requests::Right::Erasure)).await?;
    if let Some(id) = options.request {
        if !open.iter().any(|r| r.id == id) {
            return Err(Error::Invalid(format!(
                "there is no open erasure request {id} (see `privctl erase status`)"
            )));
        }
    }
    let holds = own::holds(home, false).await?;
    let mut out = Vec::new();
    for r in open {
        if options.request.is_some_and(|id| id != r.id) {
            continue;
        }
        if let Some(g) = r.grace_until.filter(|g| options.now < *g) {
            out.push(Outcome {
                reason: Some(format!("cancellable until {}", g.to_rfc3339())),
                request: r,
                state: State::Waiting,
                report: None,
                receipt: None,
            });
            continue;
        }
        let held: Vec<String> = holds
            .iter()
            .filter(|h| h.scope == HoldScope::Subject && h.target == r.subject)
            .map(|h| format!("legal hold {} ({})", h.id, h.reason))
            .collect();
        if !held.is_empty() {
            let why = format!("the person is under {}", held.join(", "));
            let request = if options.dry_run {
                r
            } else {
                block(home, r, &why).await?
            };
            out.push(Outcome {
                request,
                state: State::Held,
                reason: Some(why),
                report: None,
                receipt: None,
            });
            continue;
        }
        if r.origin.as_deref() == Some(requests::INACTIVITY) {
            if let Some(seen) = active_since_notice(session, &r).await? {
                let why = format!("active again at {} after the notice", seen.to_rfc3339());
                let request = if options.dry_run {
                    r
                } else {
                    withdraw(home, r, seen, options.now).await?
                };
                out.push(Outcome {
                    request,
                    state: State::Withdrawn,
                    reason: Some(why),
                    report: None,
                    receipt: None,
                });
                continue;
            }
        }
        out.push(execute(session, signer, options, r).await?);
    }
    Ok(out)
}

/// One erasure to carry out: a request now, or a completed one replayed.
struct Job<'a> {
    /// The request (a replay: the receipt's).
    request: i64,
    /// Whether it replays a completed erasure.
    replay: bool,
    /// Replace a kept account's identifiers only when the run changed rows
    /// (a replay already recorded: the account's values are random already,
    /// and replacing them again would change what another replay found).
    identifiers_if_changed: bool,
    subject: &'a str,
    requested_at: DateTime<Utc>,
    /// The instant it acts as of.
    as_of: DateTime<Utc>,
    /// When the account is recorded as closed where it is not yet.
    closes_at: DateTime<Utc>,
    /// The person's identifiers as read before anything changed; read now
    /// when not known.
    ids: Option<Identifiers>,
}

/// What carrying out a job did.
struct Done {
    plan: Plan,
    report: Report,
    identifiers_replaced: Vec<String>,
    vault_shredded: bool,
    /// When the account is recorded as closed.
    closed_at: Option<DateTime<Utc>>,
    /// What stands in the way of completing it.
    problems: Vec<String>,
}

/// Steps 1 to 4 of an erasure (see the module's documentation).
async fn carry_out(session: &Session, options: &RunOptions, job: &Job<'_>) -> Result<Done> {
    let closed_at = if options.dry_run {
        None
    } else {
        let closed = record_closed(session, job).await?;
        privctl_retention::fault::point("erasure-begun");
        closed
    };
    let ids = match &job.ids {
        Some(ids) => ids.clone(),
        None => crate::discover::identifiers(&session.policy, &session.dbs, job.subject).await?,
    };
    let mut problems: Vec<String> = Vec::new();
    let not_open = || {
        options
            .vault_error
            .as_ref()
            .map(|e| format!(": {e}"))
            .unwrap_or_else(|| " (give --vault-db and its key file)".to_owned())
    };
    let pseudonym = match &options.vault {
        // A dry run counts rows; the value it would write does not matter,
        // and making it could write the vault's epoch key.
        _ if options.dry_run => Some("0".repeat(64)),
        Some(v) => {
            // Keyed under the epoch of the request, so a rerun or a replay
            // writes the same pseudonym while the epoch's key lives.
            let secs = u64::try_from(job.requested_at.timestamp()).unwrap_or(0);
            match v.pseudonym(PSEUDONYM_PURPOSE, job.subject, secs).await {
                Ok((_, p)) => Some(p),
                Err(e) => {
                    problems.push(format!("the vault could not make a pseudonym: {e}"));
                    None
                }
            }
        }
        None => None,
    };
    let pseudonyms = session.policy.data_types.values().any(|d| {
        d.erasure.as_ref().is_some_and(|e| {
            e.anonymise
                .values()
                .any(|m| *m == privctl_policy::model::AnonymiseMethod::Pseudonym)
        })
    });
    if pseudonyms && pseudonym.is_none() && problems.is_empty() {
        problems.push(format!(
            "the policy replaces references with pseudonyms, which the vault keys, and the vault is not open{}",
            not_open()
        ));
    }
    let plan = session
        .plan_erasure(
            job.as_of,
            &Target {
                ids: &ids,
                pseudonym: pseudonym.as_deref(),
            },
        )
        .await?;
    let run_options = Options {
        vault: options.vault.clone(),
        vault_error: options.vault_error.clone(),
        run: if job.replay {
            RunKind::Replay {
                receipt_request: job.request,
                subject: job.subject.to_owned(),
            }
        } else {
            RunKind::Erasure {
                request: job.request,
                subject: job.subject.to_owned(),
            }
        },
        ..Options::default()
    };
    let report = session
        .execute(&plan, options.dry_run, &run_options, &|_| {})
        .await?;
    let mut done = Done {
        plan,
        report,
        identifiers_replaced: Vec::new(),
        vault_shredded: false,
        closed_at,
        problems,
    };
    if options.dry_run {
        return Ok(done);
    }
    let rows_changed: u64 = done
        .report
        .data_types
        .iter()
        .map(|d| d.deleted + d.anonymised + d.shredded)
        .sum();
    if !job.identifiers_if_changed || rows_changed > 0 {
        done.identifiers_replaced = replace_identifiers(session, &done.plan, &ids).await?;
    }
    privctl_retention::fault::point("erasure-replaced");
    if session.policy.erasure.crypto_shred_vault {
        match &options.vault {
            Some(v) => match v.shred(job.subject).await {
                Ok(_) => done.vault_shredded = true,
                Err(e) => done
                    .problems
                    .push(format!("crypto-shredding the vault key failed: {e}")),
            },
            None => done.problems.push(format!(
                "the policy crypto-shreds the person's vault key, and the vault is not open{}",
                not_open()
            )),
        }
    }
    for (step, d) in done.plan.steps.iter().zip(&done.report.data_types) {
        if let Some(why) = &d.not_supported {
            done.problems.push(format!("{}: {why}", d.data_type));
        }
        if let Work::Held { reason } = &step.work {
            done.problems
                .push(format!("{}: the data type is under {reason}", d.data_type));
        }
        if d.kept_by_hold > 0 {
            done.problems.push(format!(
                "{}: {} rows kept by a legal hold",
                d.data_type, d.kept_by_hold
            ));
        }
        if !d.skipped_subjects.is_empty() {
            done.problems.push(format!(
                "{}: the vault cannot name the subject to shred",
                d.data_type
            ));
        }
    }
    Ok(done)
}

async fn execute(
    session: &Session,
    signer: &privctl_audit::Signer,
    options: &RunOptions,
    r: Request,
) -> Result<Outcome> {
    let home = session.home_db()?;
    let now = options.now;
    // The identifiers as they were before the first run changed anything
    // (a rerun would read the random values that replaced them).
    let ids = match stored_identifiers(home, r.id).await? {
        Some(ids) => ids,
        None => crate::discover::identifiers(&session.policy, &session.dbs, &r.subject).await?,
    };
    if !options.dry_run && r.started_at.is_none() {
        mark_started(home, &r, now, &ids).await?;
    }
    let job = Job {
        request: r.id,
        replay: false,
        identifiers_if_changed: false,
        subject: &r.subject,
        requested_at: r.requested_at,
        as_of: now,
        // A rerun closes the account when the first run began, so floors
        // end where they would have.
        closes_at: r.started_at.unwrap_or(now),
        ids: Some(ids),
    };
    let done = carry_out(session, options, &job).await?;
    if options.dry_run {
        return Ok(Outcome {
            request: r,
            state: State::Planned,
            reason: None,
            report: Some(done.report),
            receipt: None,
        });
    }
    if !done.problems.is_empty() {
        let why = done.problems.join("; ");
        let request = block(home, r, &why).await?;
        return Ok(Outcome {
            request,
            state: State::Incomplete,
            reason: Some(why),
            report: Some(done.report),
            receipt: None,
        });
    }
    let Done {
        plan,
        report,
        identifiers_replaced: replaced,
        vault_shredded: shredded,
        closed_at,
        ..
    } = done;
    let receipt = make_receipt(session, &plan, &r, closed_at, replaced, shredded, now).await?;
    let signed = receipt::sign(receipt, signer)?;
    if let Some(dir) = &options.receipts {
        receipt::write(&signed, dir)?;
    }
    privctl_retention::fault::point("erasure-receipt");
    let request = complete(home, r, &signed).await?;
    Ok(Outcome {
        request,
        state: State::Completed,
        reason: None,
        report: Some(report),
        receipt: Some(signed),
    })
}

/// Step 1: the account recorded as closed where the policy keeps that in
/// the subject's own row and it is empty (and the deletion request where it
/// keeps that in a column). Returns when the account is recorded as closed.
async fn record_closed(session: &Session, job: &Job<'_>) -> Result<Option<DateTime<Utc>>> {
    let policy = &session.policy;
    let events = &policy.subject.events;
    let mut closed_at = None;
    if let (Some(home), Some(closed)) = (policy.subject_home(), &events.account_closed) {
        if closed.table == home.table {
            let db = db_of(session, &home.store)?;
            set_event(db, policy, &home.store, closed, job.subject, job.closes_at).await?;
            closed_at = read_event(db, policy, &home.store, closed, job.subject).await?;
        }
    }
    if let (Some(home), Some(EventSource::Column(c))) =
        (policy.subject_home(), &events.deletion_requested)
    {
        if c.table == home.table {
            let db = db_of(session, &home.store)?;
            set_event(db, policy, &home.store, c, job.subject, job.requested_at).await?;
        }
    }
    Ok(closed_at)
}

/// The identifiers recorded when request `id` started, if it has.
async fn stored_identifiers(home: &Db, id: i64) -> Result<Option<Identifiers>> {
    let err = home.err("reading a request", Some("privctl_requests"));
    let text: Option<String> =
        sqlx::query("SELECT identifiers FROM privctl_requests WHERE id = $1")
            .bind(id)
            .fetch_optional(home.pool())
            .await
            .map_err(&err)?
            .map(|r| r.try_get("identifiers"))
            .transpose()
            .map_err(&err)?
            .flatten();
    Ok(match text {
        Some(t) => Some(serde_json::from_str(&t)?),
        None => None,
    })
}

/// The request marked started, once, with the person's identifiers, and
/// logged.
async fn mark_started(home: &Db, r: &Request, now: DateTime<Utc>, ids: &Identifiers) -> Result<()> {
    let ids = serde_json::to_string(ids)?;
    home.write_with(Lock::Privctl, async |c| {
        let err = home.err("starting an erasure", Some("privctl_requests"));
        let n = sqlx::query(
            "UPDATE privctl_requests SET started_at = $1, identifiers = $2 WHERE id = $3 AND started_at IS NULL",
        )
        .bind(now.timestamp())
        .bind(&ids)
        .bind(r.id)
        .execute(&mut *c)
        .await
        .map_err(&err)?
        .rows_affected();
        if n > 0 {
            privctl_audit::append(
                home,
                c,
                "request.started",
                Some(&r.subject),
                &serde_json::json!({ "request": r.id, "as_of": now.to_rfc3339() }),
                Utc::now(),
            )
            .await?;
        }
        Ok::<_, Error>(())
    })
    .await
}

fn db_of<'a>(session: &'a Session, store: &str) -> Result<&'a Db> {
    session
        .dbs
        .get(store)
        .ok_or_else(|| Error::StoreNotOpen(store.to_owned()))
}

fn one_subject(
    policy: &privctl_policy::Policy,
    store: &str,
    table: &SqlIdent,
    schema: &privctl_store::Schema,
    key: &str,
) -> Result<Sql> {
    let home = policy
        .subject_home()
        .ok_or_else(|| Error::Invalid("the policy names no subject identifier".to_owned()))?;
    let mut ids = Identifiers::new();
    ids.insert(home.name.clone(), key.to_owned());
    belongs_to(policy, schema, store, table, &ids)
        .ok_or_else(|| Error::Invalid(format!("table {table} does not reach the subject")))
}

/// Sets the subject's event column `c` to `t` where it is empty.
async fn set_event(
    db: &Db,
    policy: &privctl_policy::Policy,
    store: &str,
    c: &ColumnRef,
    key: &str,
    t: DateTime<Utc>,
) -> Result<()> {
    let schema = db.schema().await?;
    let kind = time_kind(db, &schema, c)?;
    let mine = one_subject(policy, store, &c.table, &schema, key)?;
    let mut sql = Sql::new();
    sql.push("UPDATE ")
        .ident(&c.table)
        .push(" SET ")
        .ident(&c.column)
        .push(" = ");
    time_to_store(&mut sql, db.dialect(), kind, t);
    sql.push(" WHERE ")
        .append(&mine)
        .push(" AND ")
        .column(&c.table, &c.column)
        .push(" IS NULL");
    db.write_with(Lock::Rows, async |conn| {
        sql.query()
            .execute(&mut *conn)
            .await
            .map_err(db.err("recording the account as closed", Some(c.table.as_str())))?;
        Ok::<_, Error>(())
    })
    .await
}

async fn read_event(
    db: &Db,
    policy: &privctl_policy::Policy,
    store: &str,
    c: &ColumnRef,
    key: &str,
) -> Result<Option<DateTime<Utc>>> {
    let schema = db.schema().await?;
    let kind = time_kind(db, &schema, c)?;
    let mine = one_subject(policy, store, &c.table, &schema, key)?;
    let mut column = Sql::new();
    column.column(&c.table, &c.column);
    let mut sql = Sql::new();
    sql.push("SELECT ");
    time_text(&mut sql, db.dialect(), kind, &column);
    sql.push(" AS t FROM ")
        .ident(&c.table)
        .push(" WHERE ")
        .append(&mine);
    let err = db.err("reading when the account closed", Some(c.table.as_str()));
    let row = sql.query().fetch_optional(db.pool()).await.map_err(&err)?;
    Ok(match row {
        Some(row) => row
            .try_get::<Option<String>, _>("t")
            .map_err(&err)?
            .and_then(|t| parse_time_text(&t)),
        None => None,
    })
}

fn time_kind(
    db: &Db,
    schema: &privctl_store::Schema,
    c: &ColumnRef,
) -> Result<privctl_store::TimeKind> {
    schema
        .tables
        .get(c.table.as_str())
        .and_then(|t| t.column(c.column.as_str()))
        .and_then(|col| col.time_kind(db.dialect()))
        .ok_or_else(|| {
            Error::Invalid(format!(
                "store {}: column {}.{} does not exist or holds no time",
                db.name(),
                c.table,
                c.column
            ))
        })
}

/// Step 3: where the account's own data type is deleted on erasure but its
/// row stays (kept rows refer to it), its identifying columns are replaced
/// as a sweep replaces them in an expired account that must stay
/// ([`privctl_retention::plan::unidentify`]).
async fn replace_identifiers(
    session: &Session,
    plan: &Plan,
    ids: &Identifiers,
) -> Result<Vec<String>> {
    let policy = &session.policy;
    let Some(home) = policy.subject_home() else {
        return Ok(Vec::new());
    };
    let Some((step, dt)) = plan.steps.iter().find_map(|s| {
        let dt = policy.data_types.get(&s.data_type)?;
        (dt.store == home.store && dt.table.as_ref() == Some(&home.table)).then_some((s, dt))
    }) else {
        return Ok(Vec::new());
    };
    if !matches!(
        step.erasure,
        Some(ErasureAction::Delete | ErasureAction::KeepUntilFloor | ErasureAction::CryptoShred)
    ) {
        return Ok(Vec::new());
    }
    let Work::Rows(work) = &step.work else {
        return Ok(Vec::new());
    };
    let db = db_of(session, &home.store)?;
    let schema = db.schema().await?;
    let Some(person) = belongs_to(policy, &schema, &home.store, &home.table, ids) else {
        return Ok(Vec::new());
    };
    let Some(u) = privctl_retention::plan::unidentify(policy, dt, &schema) else {
        return Ok(Vec::new());
    };
    // Only a row that stays because others refer to it: one a legal floor
    // keeps stays as it is, and a held one is not touched.
    let mut mine = Sql::new();
    mine.append(&person)
        .push(" AND ")
        .append(&work.released)
        .push(" AND NOT ")
        .append(&work.held);
    let op = "replacing the account's identifiers";
    let err = db.err(op, Some(home.table.as_str()));
    if db.count_where(&work.table, &mine, op).await? == 0 {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new();
    sql.push("UPDATE ")
        .ident(&home.table)
        .push(" SET ")
        .append(&u.assignments)
        .push(" WHERE ")
        .append(&mine)
        .push(" AND ")
        .append(&u.pending);
    db.write_with(Lock::Rows, async |c| {
        sql.query().execute(&mut *c).await.map_err(&err)?;
        Ok::<_, Error>(())
    })
    .await?;
    Ok(u.columns)
}

/// Step 5: the receipt, from what every run of this request counted and
/// what is still kept.
async fn make_receipt(
    session: &Session,
    plan: &Plan,
    r: &Request,
    closed_at: Option<DateTime<Utc>>,
    identifiers_replaced: Vec<String>,
    vault_shredded: bool,
    now: DateTime<Utc>,
) -> Result<Receipt> {
    let home = session.home_db()?;
    let totals = own::request_totals(home, r.id).await?;
    let mut done: BTreeMap<(String, String), u64> = BTreeMap::new();
    for (dt, action, n) in totals {
        *done.entry((dt, action)).or_default() += u64::try_from(n).unwrap_or(0);
    }
    let get = |dt: &str, action: &str| {
        done.get(&(dt.to_owned(), action.to_owned()))
            .copied()
            .unwrap_or(0)
    };
    let mut lines = Vec::new();
    for step in &plan.steps {
        let name = &step.data_type;
        let mut line = Line {
            data_type: name.clone(),
            rule: step.erasure,
            deleted: get(name, "delete") + get(name, "delete_files"),
            anonymised: get(name, "anonymise"),
            shredded: get(name, "crypto_shred"),
            kept: 0,
            kept_until: None,
            why: Vec::new(),
        };
        match &step.work {
            Work::Nothing { reason } => line.why.push(reason.clone()),
            Work::Rows(work) if !matches!(work.op, RowOp::Anonymise { .. }) => {
                kept(session, step, work, &mut line).await?;
            }
            _ => {}
        }
        if line.kept > 0 || !line.why.is_empty() || step.erasure.is_some() {
            lines.push(line);
        }
    }
    lines.sort_by(|a, b| a.data_type.cmp(&b.data_type));
    Ok(Receipt {
        organisation: session.policy.organisation.name.clone(),
        policy_sha256: session.digest.clone(),
        request: r.id,
        regime: r.regime.clone(),
        identifier: r.identifier.clone(),
        subject: r.subject.clone(),
        requested_at: r.requested_at,
        completed_at: DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now),
        account_closed_at: closed_at,
        data_types: lines,
        identifiers_replaced,
        vault_shredded,
    })
}

/// The person's rows of `work` still there, until when the floors keep
/// them, and why.
async fn kept(
    session: &Session,
    step: &Step,
    work: &privctl_retention::plan::RowWork,
    line: &mut Line,
) -> Result<()> {
    let db = db_of(session, &step.store)?;
    let err = db.err("counting what an erasure kept", Some(work.table.as_str()));
    line.kept = db
        .count_where(&work.table, &work.expired, "counting what an erasure kept")
        .await?;
    if line.kept == 0 {
        return Ok(());
    }
    let policy = &session.policy;
    let mut until: Option<DateTime<Utc>> = None;
    let mut forever = false;
    for end in &step.floor_ends {
        let law = policy
            .legal_floors
            .get(&end.floor)
            .map(|f| f.law.clone())
            .unwrap_or_default();
        line.why.push(format!("legal floor {}: {law}", end.floor));
        let mut q = Sql::new();
        q.push("SELECT MAX(");
        time_text(&mut q, db.dialect(), end.kind, &end.anchor);
        q.push(") AS t FROM ")
            .ident(&work.table)
            .push(" WHERE ")
            .append(&work.expired);
        let latest = q
            .query()
            .fetch_one(db.pool())
            .await
            .map_err(&err)?
            .try_get::<Option<String>, _>("t")
            .map_err(&err)?
            .and_then(|t| parse_time_text(&t));
        match latest.and_then(|t| end.end_for(t)) {
            Some(t) => until = Some(until.map_or(t, |u| u.max(t))),
            None => forever = true,
        }
    }
    let mut referenced = Sql::new();
    referenced
        .append(&work.expired)
        .push(" AND ")
        .append(&work.referenced);
    let by_reference = db
        .count_where(&work.table, &referenced, "counting what an erasure kept")
        .await?;
    if by_reference > 0 {
        line.why.push(format!(
            "{by_reference} still referred to by rows that are kept: the retention sweep deletes them once those go"
        ));
        forever = true;
    }
    line.kept_until = if forever { None } else { until };
    Ok(())
}

/// Records why a request cannot go on (once per new reason, in the audit
/// log too).
async fn block(home: &Db, mut r: Request, why: &str) -> Result<Request> {
    if r.blocked.as_deref() == Some(why) {
        return Ok(r);
    }
    home.write_with(Lock::Privctl, async |c| {
        let err = home.err("recording why a request waits", Some("privctl_requests"));
        sqlx::query("UPDATE privctl_requests SET blocked = $1 WHERE id = $2")
            .bind(why)
            .bind(r.id)
            .execute(&mut *c)
            .await
            .map_err(&err)?;
        privctl_audit::append(
            home,
            c,
            "request.blocked",
            Some(&r.subject),
            &serde_json::json!({ "request": r.id, "why": why }),
            Utc::now(),
        )
        .await?;
        Ok::<_, Error>(())
    })
    .await?;
    r.blocked = Some(why.to_owned());
    Ok(r)
}

/// Marks the request completed with its receipt, and logs it, in one
/// transaction.
async fn complete(home: &Db, mut r: Request, signed: &Signed) -> Result<Request> {
    let text = serde_json::to_string(signed)?;
    let digest = receipt::digest(&signed.receipt)?;
    let completed = signed.receipt.completed_at;
    home.write_with(Lock::Privctl, async |c| {
        let err = home.err("completing a request", Some("privctl_requests"));
        let n = sqlx::query("UPDATE privctl_requests SET completed_at = $1, receipt = $2, blocked = NULL, identifiers = NULL WHERE id = $3 AND completed_at IS NULL")
            .bind(completed.timestamp())
            .bind(&text)
            .bind(r.id)
            .execute(&mut *c)
            .await
            .map_err(&err)?
            .rows_affected();
        if n == 0 {
            return Err(Error::Invalid(format!(
                "request {} was completed by another run meanwhile",
                r.id
            )));
        }
        let lines: Vec<serde_json::Value> = signed
            .receipt
            .data_types
            .iter()
            .map(|l| {
                serde_json::json!({
                    "data_type": l.data_type,
                    "deleted": l.deleted,
                    "anonymised": l.anonymised,
                    "shredded": l.shredded,
                    "kept": l.kept,
                    "kept_until": l.kept_until.map(|t| t.to_rfc3339()),
                })
            })
            .collect();
        privctl_audit::append(
            home,
            c,
            "erasure.completed",
            Some(&r.subject),
            &serde_json::json!({
                "request": r.id,
                "receipt_sha256": digest,
                "data_types": lines,
                "identifiers_replaced": signed.receipt.identifiers_replaced,
                "vault_shredded": signed.receipt.vault_shredded,
            }),
            Utc::now(),
        )
        .await?;
        Ok(())
    })
    .await?;
    r.completed_at = Some(completed);
    r.blocked = None;
    Ok(r)
}

/// The signed receipt of completed request `id`.
pub async fn receipt_of(home: &Db, id: i64) -> Result<Signed> {
    let err = home.err("reading a receipt", Some("privctl_requests"));
    let text: Option<String> = sqlx::query("SELECT receipt FROM privctl_requests WHERE id = $1")
        .bind(id)
        .fetch_optional(home.pool())
        .await
        .map_err(&err)?
        .map(|r| r.try_get("receipt"))
        .transpose()
        .map_err(&err)?
        .flatten();
    let text = text.ok_or_else(|| {
        Error::Invalid(format!("request {id} has no receipt (it is not completed)"))
    })?;
    Ok(serde_json::from_str(&text)?)
}

/// What replaying one completed erasure did.
#[derive(Debug, Clone, Serialize)]
pub struct Replayed {
    /// The request the receipt answers.
    pub request: i64,
    /// Whose.
    pub subject: String,
    /// `completed` (applied again, or nothing was left), `held`,
    /// `incomplete` or, in a dry run, `planned`.
    pub state: State,
    /// Why it is not completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What the replay did (or would do), per data type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
}

/// Re-applies completed erasures, each from its signed receipt, to a
/// database restored from a backup taken before them: as of the moment each
/// was completed (so floors decide as they did then), with the account
/// closed when it was, the same pseudonyms while the vault keeps the
/// request's epoch key, and only the person's rows touched. Each is logged
/// as `erasure.replayed`, and its request recorded as completed with the
/// receipt (added where the restored database never had it). Replaying
/// again changes nothing. The receipts must have been checked against the
/// audit key ([`crate::receipt::load_dir`] does).
pub async fn replay(
    session: &Session,
    receipts: &[Signed],
    options: &RunOptions,
) -> Result<Vec<Replayed>> {
    let home = session.home_db()?;
    if !options.dry_run {
        own::ensure(home).await?;
    }
    let holds = own::holds(home, false).await?;
    let mut sorted: Vec<&Signed> = receipts.iter().collect();
    sorted.sort_by_key(|s| (s.receipt.completed_at, s.receipt.request));
    let mut out = Vec::new();
    for signed in sorted {
        let r = &signed.receipt;
        if r.organisation != session.policy.organisation.name {
            return Err(Error::Invalid(format!(
                "the receipt of request {} is {}'s, not {}'s",
                r.request,
                privctl_policy::escape_untrusted(&r.organisation),
                session.policy.organisation.name
            )));
        }
        let mut one = Replayed {
            request: r.request,
            subject: r.subject.clone(),
            state: State::Completed,
            reason: None,
            report: None,
        };
        let held: Vec<String> = holds
            .iter()
            .filter(|h| h.scope == HoldScope::Subject && h.target == r.subject)
            .map(|h| format!("legal hold {} ({})", h.id, h.reason))
            .collect();
        if !held.is_empty() {
            one.state = State::Held;
            one.reason = Some(format!("the person is under {}", held.join(", ")));
            out.push(one);
            continue;
        }
        let text = serde_json::to_string(signed)?;
        let job = Job {
            request: r.request,
            replay: true,
            identifiers_if_changed: replay_recorded(home, &text).await?.is_some(),
            subject: &r.subject,
            requested_at: r.requested_at,
            as_of: r.completed_at,
            closes_at: r.account_closed_at.unwrap_or(r.completed_at),
            ids: None,
        };
        let done = carry_out(session, options, &job).await?;
        let changed: u64 = done
            .report
            .data_types
            .iter()
            .map(|d| d.deleted + d.anonymised + d.shredded)
            .sum::<u64>()
            + done.identifiers_replaced.len() as u64;
        one.report = Some(done.report);
        if options.dry_run {
            one.state = State::Planned;
        } else if !done.problems.is_empty() {
            one.state = State::Incomplete;
            one.reason = Some(done.problems.join("; "));
        } else {
            record_replay(home, signed, changed).await?;
        }
        out.push(one);
    }
    Ok(out)
}

/// The replayed request recorded as completed with its receipt, and the
/// replay logged, in one transaction; nothing when the request is already
/// recorded so and the replay changed nothing.
/// The request a replay of this receipt (its stored text) was recorded
/// under, if one was.
async fn replay_recorded(home: &Db, text: &str) -> Result<Option<i64>> {
    if home
        .component_version(&privctl_store::requests::REQUESTS)
        .await?
        .is_none()
    {
        return Ok(None);
    }
    let err = home.err("reading requests", Some("privctl_requests"));
    sqlx::query("SELECT id FROM privctl_requests WHERE receipt = $1 AND kind = 'erasure' ORDER BY id LIMIT 1")
        .bind(text)
        .fetch_optional(home.pool())
        .await
        .map_err(&err)?
        .map(|r| r.try_get::<i64, _>("id"))
        .transpose()
        .map_err(|e| err(e).into())
}

async fn record_replay(home: &Db, signed: &Signed, changed: u64) -> Result<()> {
    let r = &signed.receipt;
    let text = serde_json::to_string(signed)?;
    let digest = receipt::digest(r)?;
    let recorded = replay_recorded(home, &text).await?;
    if recorded.is_some() && changed == 0 {
        return Ok(());
    }
    home.write_with(Lock::Privctl, async |c| {
        let err = home.err("recording a replayed erasure", Some("privctl_requests"));
        let row = sqlx::query("SELECT subject FROM privctl_requests WHERE id = $1 AND kind = 'erasure'")
            .bind(r.request)
            .fetch_optional(&mut *c)
            .await
            .map_err(&err)?;
        let same_subject = match &row {
            Some(row) => row.try_get::<String, _>("subject").map_err(&err)? == r.subject,
            None => false,
        };
        let id = if let Some(id) = recorded {
            id
        } else if same_subject {
            sqlx::query("UPDATE privctl_requests SET completed_at = $1, receipt = $2, blocked = NULL, identifiers = NULL, started_at = COALESCE(started_at, $1) WHERE id = $3")
                .bind(r.completed_at.timestamp())
                .bind(&text)
                .bind(r.request)
                .execute(&mut *c)
                .await
                .map_err(&err)?;
            r.request
        } else {
            // The restored database never had this request (or has another
            // under its number): recorded anew.
            let note = format!("replayed after a restore: request {} before it", r.request);
            let row = sqlx::query("INSERT INTO privctl_requests (kind, subject, requested_at, note, regime, identifier, started_at, completed_at, receipt) VALUES ('erasure', $1, $2, $3, $4, $5, $6, $6, $7) RETURNING id")
                .bind(&r.subject)
                .bind(r.requested_at.timestamp())
                .bind(&note)
                .bind(&r.regime)
                .bind(&r.identifier)
                .bind(r.completed_at.timestamp())
                .bind(&text)
                .fetch_one(&mut *c)
                .await
                .map_err(&err)?;
            row.try_get::<i64, _>("id").map_err(&err)?
        };
        privctl_audit::append(
            home,
            c,
            "erasure.replayed",
            Some(&r.subject),
            &serde_json::json!({
                "request": id,
                "receipt_request": r.request,
                "receipt_sha256": digest,
                "rows_changed": changed,
            }),
            Utc::now(),
        )
        .await?;
        Ok::<_, Error>(())
    })
    .await
}

/// What `erase inactive` found and did.
#[derive(Debug, Clone, Serialize)]
pub struct Inactivity {
    /// Accounts last active at or before this instant are inactive.
    pub inactive_since: DateTime<Utc>,
    /// Notices recorded now: erasure requests of origin `inactivity` whose
    /// grace period is the notice (in a dry run, the people who would get one).
    pub noticed: Vec<Request>,
    /// Inactive people left alone: already with an open erasure request, or
    /// under a legal hold (and why).
    pub skipped: Vec<(String, String)>,
    /// Whether nothing was recorded.
    pub dry_run: bool,
}

/// DPDP's erasure of inactive accounts, first half: every person whose last
/// activity (the policy's `last_activity` column in their own row) is at
/// least the DPDP regime's `inactivity_erasure` before `now`, and whose
/// account is not closed (closed accounts are retention's), gets a notice:
/// an erasure request of origin `inactivity` whose grace period is the
/// notice period (48 hours unless the policy says more). Sending the
/// notice to the person is the operator's; `erase run` erases those still
/// inactive once it has passed, and withdraws the request of anyone active
/// since.
pub async fn notice_inactive(
    session: &Session,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<Inactivity> {
    let policy = &session.policy;
    let dpdp = policy.regimes.dpdp.as_ref().ok_or_else(|| {
        Error::Invalid("the policy answers no requests under DPDP ([regimes.dpdp])".to_owned())
    })?;
    let period = dpdp.inactivity_erasure.ok_or_else(|| {
        Error::Invalid("the policy's DPDP regime sets no inactivity_erasure period".to_owned())
    })?;
    let home = policy
        .subject_home()
        .ok_or_else(|| Error::Invalid("the policy names no subject identifier".to_owned()))?;
    let events = &policy.subject.events;
    let last = events
        .last_activity
        .as_ref()
        .filter(|c| c.table == home.table)
        .ok_or_else(|| {
            Error::Invalid(format!(
                "inactivity is told from the policy's last_activity event, a column of {}; the policy has none there",
                home.table
            ))
        })?;
    let since = privctl_retention::plan::cutoff(period, now)
        .ok_or_else(|| Error::Invalid("an indefinite inactivity period never ends".to_owned()))?;
    let db = db_of(session, &home.store)?;
    let schema = db.schema().await?;
    let kind = time_kind(db, &schema, last)?;
    let mut column = Sql::new();
    column.column(&last.table, &last.column);
    let mut sql = Sql::new();
    sql.push("SELECT CAST(")
        .column(&home.table, &home.column)
        .push(" AS TEXT) AS k FROM ")
        .ident(&home.table)
        .push(" WHERE ")
        .append(&column)
        .push(" IS NOT NULL AND ");
    privctl_store::sql::time_of(&mut sql, db.dialect(), kind, &column);
    sql.push(" <= ");
    privctl_store::sql::time_value(&mut sql, db.dialect(), kind, since);
    if let Some(closed) = events
        .account_closed
        .as_ref()
        .filter(|c| c.table == home.table)
    {
        sql.push(" AND ")
            .column(&closed.table, &closed.column)
            .push(" IS NULL");
    }
    sql.push(" ORDER BY ").column(&home.table, &home.column);
    let err = db.err("finding inactive accounts", Some(home.table.as_str()));
    let keys: Vec<String> = sql
        .query()
        .fetch_all(db.pool())
        .await
        .map_err(&err)?
        .iter()
        .map(|r| r.try_get::<Option<String>, _>("k"))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(&err)?
        .into_iter()
        .flatten()
        .collect();
    let privctl_home = session.home_db()?;
    let open = requests::open(privctl_home, now, Some(requests::Right::Erasure)).await?;
    let holds = own::holds(privctl_home, false).await?;
    let mut out = Inactivity {
        inactive_since: since,
        noticed: Vec::new(),
        skipped: Vec::new(),
        dry_run,
    };
    for key in keys {
        if let Some(r) = open.iter().find(|r| r.subject == key) {
            out.skipped
                .push((key, format!("erasure request {} is open", r.id)));
            continue;
        }
        if let Some(h) = holds
            .iter()
            .find(|h| h.scope == HoldScope::Subject && h.target == key)
        {
            out.skipped
                .push((key, format!("legal hold {} ({})", h.id, h.reason)));
            continue;
        }
        let subject = crate::Subject {
            identifier: home.name.clone(),
            value: key.clone(),
            key,
        };
        let new = requests::NewRequest {
            right: requests::Right::Erasure,
            regime: "dpdp",
            when: now,
            note: Some("erasure for inactivity: notice given"),
            origin: Some(requests::INACTIVITY),
        };
        if dry_run {
            out.noticed.push(Request {
                id: 0,
                kind: "erasure".to_owned(),
                subject: subject.key,
                identifier: Some(subject.identifier),
                regime: Some("dpdp".to_owned()),
                requested_at: now,
                due_at: None,
                extended_due_at: None,
                acknowledge_by: None,
                grace_until: dpdp
                    .inactivity_notice
                    .unwrap_or(privctl_policy::RetentionPeriod::Hours(48))
                    .end_from(now),
                cancelled_at: None,
                completed_at: None,
                note: new.note.map(str::to_owned),
                started_at: None,
                blocked: None,
                origin: Some(requests::INACTIVITY.to_owned()),
            });
            continue;
        }
        let (r, _) = requests::record(policy, privctl_home, &subject, &new).await?;
        out.noticed.push(r);
    }
    Ok(out)
}

/// Whether the person of an inactivity erasure was active after its notice
/// was given: when they were.
async fn active_since_notice(session: &Session, r: &Request) -> Result<Option<DateTime<Utc>>> {
    let policy = &session.policy;
    let (Some(home), Some(last)) = (policy.subject_home(), &policy.subject.events.last_activity)
    else {
        return Ok(None);
    };
    if last.table != home.table {
        return Ok(None);
    }
    let db = db_of(session, &home.store)?;
    let seen = read_event(db, policy, &home.store, last, &r.subject).await?;
    Ok(seen.filter(|t| *t > r.requested_at))
}

/// Withdraws an inactivity erasure whose person came back; logged.
async fn withdraw(
    home: &Db,
    mut r: Request,
    seen: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Request> {
    home.write_with(Lock::Privctl, async |c| {
        let err = home.err("withdrawing a request", Some("privctl_requests"));
        sqlx::query("UPDATE privctl_requests SET cancelled_at = $1 WHERE id = $2 AND cancelled_at IS NULL AND completed_at IS NULL")
            .bind(now.timestamp())
            .bind(r.id)
            .execute(&mut *c)
            .await
            .map_err(&err)?;
        privctl_audit::append(
            home,
            c,
            "request.withdrawn",
            Some(&r.subject),
            &serde_json::json!({ "request": r.id, "why": "active again after the notice", "active_at": seen.to_rfc3339() }),
            Utc::now(),
        )
        .await?;
        Ok::<_, Error>(())
    })
    .await?;
    r.cancelled_at = Some(now);
    Ok(r)
}
