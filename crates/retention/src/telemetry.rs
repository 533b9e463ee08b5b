//! Retention on ClickHouse stores, in ClickHouse's own idioms: a partition
//! whose every row has expired is dropped whole (`ALTER TABLE ... DROP
//! PARTITION`), and what has expired inside live partitions goes in one
//! `ALTER TABLE ... DELETE` mutation, waited on until `system.mutations`
//! says it is done. A partition holding a row a floor or a hold keeps is
//! never dropped: its expired rows go by the mutation, which spares the
//! kept ones.
//!
//! Rows are selected by their timestamp (`DateTime`): periods count from
//! creation or from a financial year's end; rows are held through the
//! subject map's link to the user id. What ClickHouse cannot be asked
//! without a join across stores (periods counted from an account's
//! closure, customers' own periods) is reported as not supported.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, Utc};
use privctl_policy::model::{
    Anchor, DataType, ErasureAction, ExpiryAction, IdentifierKind, Policy,
};
use privctl_policy::SqlIdent;
use privctl_store::clickhouse::{ChPartition, ChTable, ClickHouse};
use privctl_store::{Db, TimeKind};
use serde::Serialize;

use crate::exec::{DataTypeReport, Options};
use crate::own;
use crate::plan::{cutoff, year_ended_bound, Inputs};
use crate::sql::{Sql, Value};
use crate::{Error, Result};

/// Expiry of rows in one ClickHouse table.
#[derive(Debug, Clone, Serialize)]
pub struct ChWork {
    /// The table.
    pub table: SqlIdent,
    /// Partitions whose every row has expired under the default period:
    /// each is dropped whole, unless a row in it turns out to be kept.
    pub partitions: Vec<ChDrop>,
    /// Rows whose retention has ended.
    #[serde(skip)]
    pub expired: Sql,
    /// Rows every floor has released.
    #[serde(skip)]
    pub released: Sql,
    /// Rows of a held subject, as planned; the run rebuilds it from the
    /// holds in force when it acts.
    #[serde(skip)]
    pub held: Sql,
    /// The columns linking rows to a person's user id, which holds match.
    #[serde(skip)]
    pub hold_columns: Vec<SqlIdent>,
    /// Whether some link reaches rows by another identifier, so that a hold
    /// could not be told on them.
    #[serde(skip)]
    pub hold_unsupported: bool,
    /// Customers' choices refused, and why (their rows keep the default).
    #[serde(skip)]
    pub refused: Vec<String>,
}

/// A partition that may be dropped whole.
#[derive(Debug, Clone, Serialize)]
pub struct ChDrop {
    /// Its id.
    pub id: String,
    /// Its rows.
    pub rows: u64,
}

/// What the planner knows of a ClickHouse store.
#[derive(Debug, Clone)]
pub struct ChInfo {
    /// Its tables.
    pub tables: Vec<ChTable>,
    /// Active partitions of the tables the policy sweeps, by table.
    pub partitions: BTreeMap<String, Vec<ChPartition>>,
}

fn unsupported(name: &str, what: String) -> Error {
    Error::Unsupported {
        data_type: name.to_owned(),
        what,
    }
}

/// Data type `name`'s table and what the server says of it; a table the
/// server lacks is an error naming the store and the table.
fn table_of<'i>(
    name: &str,
    dt: &'i DataType,
    info: &'i ChInfo,
) -> Result<(&'i SqlIdent, &'i ChTable)> {
    let table_name = dt
        .table
        .as_ref()
        .ok_or_else(|| unsupported(name, "a ClickHouse data type without a table".to_owned()))?;
    let table = info
        .tables
        .iter()
        .find(|t| t.name == table_name.as_str())
        .ok_or_else(|| Error::MissingTable {
            store: dt.store.clone(),
            table: table_name.to_string(),
            data_type: name.to_owned(),
        })?;
    Ok((table_name, table))
}

/// Plans the expiry of data type `name`, in a ClickHouse store.
pub(crate) fn plan(
    inputs: &Inputs<'_>,
    name: &str,
    dt: &DataType,
    info: &ChInfo,
) -> Result<ChWork> {
    let retention = dt.retention.as_ref().ok_or(Error::Internal("retention"))?;
    let (table_name, table) = table_of(name, dt, info)?;
    let column = |c: &SqlIdent| -> Result<&str> {
        table
            .columns
            .iter()
            .find(|x| x.name == c.as_str())
            .map(|x| x.ty.as_str())
            .ok_or_else(|| Error::MissingColumn {
                store: dt.store.clone(),
                column: format!("{table_name}.{c}"),
                data_type: name.to_owned(),
            })
    };
    let ts = dt.timestamp.as_ref().ok_or(Error::Internal("timestamp"))?;
    let ty = column(ts)?;
    if !(ty.starts_with("DateTime") || ty.starts_with("Nullable(DateTime")) {
        return Err(Error::NotATime {
            column: format!("{table_name}.{ts}"),
            declared: ty.to_owned(),
        });
    }
    if retention.action != ExpiryAction::Delete {
        return Err(unsupported(
            name,
            format!(
                "{} on expiry in a ClickHouse store",
                privctl_policy::model::name_of(&retention.action)
            ),
        ));
    }
    let choice = retention
        .customer
        .as_ref()
        .filter(|_| retention.configurable);
    if let Some(why) = choice.and_then(|_| inputs.choice_errors.get(name)) {
        return Err(unsupported(
            name,
            format!("retention by customer choice ({why})"),
        ));
    }
    let by = match choice {
        None => None,
        Some(c) => Some(c.by.as_ref().filter(|_| c.key.is_some()).ok_or_else(|| {
            unsupported(
                name,
                "customers' own periods for ClickHouse rows without `by` and `key` (the rows cannot reach the choices through the subject map)".to_owned(),
            )
        })?),
    };
    let policy = inputs.policy;
    // The time a row's anchor may hold for `period` from `from` to have
    // passed: a `DateTime` is an instant.
    let bound = |period, from: Anchor| -> Result<Option<DateTime<Utc>>> {
        let Some(c) = cutoff(period, inputs.as_of) else {
            return Ok(None);
        };
        match from {
            Anchor::Created => Ok(Some(c)),
            Anchor::FinancialYearEnd => {
                let fy = policy
                    .organisation
                    .financial_year
                    .ok_or_else(|| Error::NoSource {
                        data_type: name.to_owned(),
                        anchor: "financial_year_end",
                    })?;
                Ok(Some(year_ended_bound(fy, TimeKind::TimestampTz, c)))
            }
            other => Err(unsupported(
                name,
                format!(
                    "counting from {} for ClickHouse rows (it is recorded in another store)",
                    privctl_policy::model::name_of(&other)
                ),
            )),
        }
    };
    let before = |sql: &mut Sql, t: DateTime<Utc>| {
        sql.push("(")
            .ident(ts)
            .push(" <= toDateTime(")
            .bind(Value::Int(t.timestamp()))
            .push("))");
    };
    let condition = |c: &SqlIdent, values: &[String]| -> Result<Sql> {
        column(c)?;
        Ok(text_in(c, values))
    };

    // Expired: the first conditional rule that matches, else the default.
    let mut expired = Sql::new();
    expired.push("(0");
    let mut earlier: Vec<Sql> = Vec::new();
    for rule in &retention.rules {
        let cond = condition(&rule.column, &rule.equals)?;
        if let Some(t) = bound(rule.period, retention.from)? {
            expired.push(" OR (").append(&cond);
            for e in &earlier {
                expired.push(" AND NOT ").append(e);
            }
            expired.push(" AND ");
            before(&mut expired, t);
            expired.push(")");
        }
        earlier.push(cond);
    }
    // Customers' own periods, by the customer each row names; a choice out
    // of bounds or by a tier not allowed is refused and reported.
    let mut refused = Vec::new();
    let mut chosen_keys: Vec<String> = Vec::new();
    if let (Some(by), Some(c)) = (by, choice) {
        column(by)?;
        let mut groups: BTreeMap<String, (privctl_policy::RetentionPeriod, Vec<String>)> =
            BTreeMap::new();
        for (key, p, t) in inputs
            .keyed_choices
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let Some(p) = p else { continue };
            match crate::plan::choice_allowed(retention, p, t.as_deref(), c.tier.is_some()) {
                Err(why) => refused.push(format!(
                    "customer {}: \"{}\"{}: {why}",
                    privctl_policy::escape_untrusted(key),
                    privctl_policy::escape_untrusted(p),
                    t.as_deref()
                        .map(|t| format!(" (tier \"{}\")", privctl_policy::escape_untrusted(t)))
                        .unwrap_or_default()
                )),
                Ok(period) => {
                    groups
                        .entry(period.to_string())
                        .or_insert_with(|| (period, Vec::new()))
                        .1
                        .push(key.clone());
                }
            }
        }
        let rules = earlier.len();
        for (period, keys) in groups.values() {
            let cond = condition(by, keys)?;
            if let Some(t) = bound(*period, retention.from)? {
                expired.push(" OR (").append(&cond);
                for e in &earlier[..rules] {
                    expired.push(" AND NOT ").append(e);
                }
                expired.push(" AND ");
                before(&mut expired, t);
                expired.push(")");
            }
            chosen_keys.extend(keys.iter().cloned());
        }
        if !chosen_keys.is_empty() {
            earlier.push(condition(by, &chosen_keys)?);
        }
    }
    let default = bound(retention.period, retention.from)?;
    if let Some(t) = default {
        expired.push(" OR (1");
        for e in &earlier {
            expired.push(" AND NOT ").append(e);
        }
        expired.push(" AND ");
        before(&mut expired, t);
        expired.push(")");
    }
    expired.push(")");

    // Released by every floor that applies.
    let mut released = Sql::new();
    released.push("(1");
    let mut floored = false;
    for floor in policy
        .legal_floors
        .values()
        .filter(|f| f.applies_to.iter().any(|a| a == name))
    {
        floored = true;
        released.push(" AND ");
        match bound(floor.period, floor.from)? {
            None => {
                released.push("0");
            }
            Some(t) => before(&mut released, t),
        }
    }
    released.push(")");

    // Held: rows linked to a held person's user id.
    let (hold_columns, hold_unsupported) = user_id_links(policy, &dt.store, table_name);
    for c in &hold_columns {
        column(c)?;
    }
    if hold_unsupported && !inputs.held_subjects.is_empty() {
        return Err(unsupported(
            name,
            "holds on ClickHouse rows linked by anything but the user id".to_owned(),
        ));
    }
    let held = held_rows(&hold_columns, inputs.held_subjects);

    // Partitions whose whole time range has expired under the default
    // period, where no rule or floor can keep a row by its content; a kept
    // (held) row is looked for again just before the drop.
    let mut partitions = Vec::new();
    if retention.rules.is_empty()
        && !floored
        && retention.from == Anchor::Created
        && table.partition_key.contains(ts.as_str())
    {
        if let Some(t) = default {
            for p in info
                .partitions
                .get(table_name.as_str())
                .into_iter()
                .flatten()
            {
                if p.max_time.is_some_and(|m| m <= t.timestamp()) && p.rows > 0 {
                    partitions.push(ChDrop {
                        id: p.id.clone(),
                        rows: p.rows,
                    });
                }
            }
        }
    }
    Ok(ChWork {
        table: table_name.clone(),
        partitions,
        expired,
        released,
        held,
        hold_columns,
        hold_unsupported,
        refused,
    })
}

/// `(toString(c) IN (values))`, compared as text whatever the column's
/// type; never true for no values.
fn text_in(c: &SqlIdent, values: &[String]) -> Sql {
    let mut sql = Sql::new();
    sql.push("(toString(").ident(c).push(") IN (");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(Value::Text(v.clone()));
    }
    if values.is_empty() {
        sql.push("NULL");
    }
    sql.push("))");
    sql
}

/// The columns of `table` the subject map links to a person's user id
/// (which holds match), and whether some link reaches its rows by another
/// identifier.
fn user_id_links(policy: &Policy, store: &str, table: &SqlIdent) -> (Vec<SqlIdent>, bool) {
    let mut columns = Vec::new();
    let mut other = false;
    for l in policy
        .subject
        .links
        .iter()
        .filter(|l| l.store == store && l.table.as_ref() == Some(table))
    {
        let by_user_id = l
            .identifier
            .as_deref()
            .and_then(|i| policy.subject.identifiers.iter().find(|x| x.name == i))
            .is_some_and(|i| i.kind == IdentifierKind::UserId);
        match l.column.as_ref().filter(|_| by_user_id) {
            Some(c) => columns.push(c.clone()),
            None => other = true,
        }
    }
    (columns, other)
}

/// The rows whose `columns` hold one of the `held` user ids.
fn held_rows(columns: &[SqlIdent], held: &[String]) -> Sql {
    let mut sql = Sql::new();
    sql.push("(0");
    if !held.is_empty() {
        for c in columns {
            sql.push(" OR ").append(&text_in(c, held));
        }
    }
    sql.push(")");
    sql
}

/// Plans the erasure of one person's rows of data type `name`, in a
/// ClickHouse store: the rows whose link holds their identifier, deleted
/// by a mutation (`delete`, and `keep_until_floor` where no floor that
/// overrides erasure applies); `None` when no link reaches the table or the
/// person has no such identifier.
pub(crate) fn plan_erasure(
    inputs: &Inputs<'_>,
    name: &str,
    dt: &DataType,
    info: &ChInfo,
    action: ErasureAction,
    floors: usize,
    ids: &privctl_store::subject::Identifiers,
) -> Result<Option<ChWork>> {
    if !matches!(
        action,
        ErasureAction::Delete | ErasureAction::KeepUntilFloor
    ) || floors > 0
    {
        return Err(unsupported(
            name,
            format!(
                "{} of ClickHouse rows{}",
                privctl_policy::model::name_of(&action),
                if floors > 0 {
                    " under a floor that overrides erasure"
                } else {
                    ""
                }
            ),
        ));
    }
    let (table_name, table) = table_of(name, dt, info)?;
    let policy = inputs.policy;
    for c in links_of(policy, &dt.store, table_name) {
        if !table.columns.iter().any(|x| x.name == c.as_str()) {
            return Err(Error::MissingColumn {
                store: dt.store.clone(),
                column: format!("{table_name}.{c}"),
                data_type: name.to_owned(),
            });
        }
    }
    let Some(mine) = subject_rows(policy, &dt.store, table_name, ids) else {
        return Ok(None);
    };
    let mut released = Sql::new();
    released.push("(1)");
    // The request was checked for holds before it was planned; the run
    // looks again, for a hold placed since.
    let (hold_columns, _) = user_id_links(policy, &dt.store, table_name);
    Ok(Some(ChWork {
        table: table_name.clone(),
        partitions: Vec::new(),
        expired: mine,
        released,
        held: held_rows(&hold_columns, inputs.held_subjects),
        hold_columns,
        hold_unsupported: false,
        refused: Vec::new(),
    }))
}

/// The columns of `table` the subject map links to a person by an
/// identifier.
fn links_of<'p>(
    policy: &'p Policy,
    store: &'p str,
    table: &'p SqlIdent,
) -> impl Iterator<Item = &'p SqlIdent> + 'p {
    policy
        .subject
        .links
        .iter()
        .filter(move |l| {
            l.store == store && l.table.as_ref() == Some(table) && l.identifier.is_some()
        })
        .filter_map(|l| l.column.as_ref())
}

/// The rows of ClickHouse `table` about the person with identifiers `ids`:
/// those whose link column holds their value of the link's identifier
/// (compared as text, whatever the column's type); `None` when no link
/// reaches the table with an identifier they have.
pub fn subject_rows(
    policy: &Policy,
    store: &str,
    table: &SqlIdent,
    ids: &privctl_store::subject::Identifiers,
) -> Option<Sql> {
    let mut mine = Sql::new();
    mine.push("(0");
    let mut reached = false;
    for l in policy
        .subject
        .links
        .iter()
        .filter(|l| l.store == store && l.table.as_ref() == Some(table))
    {
        let (Some(c), Some(value)) = (
            l.column.as_ref(),
            l.identifier.as_deref().and_then(|i| ids.get(i)),
        ) else {
            continue;
        };
        mine.push(" OR (toString(")
            .ident(c)
            .push(") = ")
            .bind(Value::Text(value.clone()))
            .push(")");
        reached = true;
    }
    mine.push(")");
    reached.then_some(mine)
}

async fn count(ch: &ClickHouse, sql: &Sql, table: &str, operation: &str) -> Result<Vec<u64>> {
    let rows = ch.rows(sql, operation, Some(table)).await?;
    let row = rows.first().ok_or(Error::Internal("a count with no row"))?;
    Ok(row
        .values()
        .map(|v| {
            v.as_str()
                .and_then(|s| s.parse().ok())
                .or_else(|| v.as_u64())
                .unwrap_or(0)
        })
        .collect())
}

/// Counts the changes to `work`'s table that a killed run of the same kind
/// recorded and never counted: a mutation that reached the server is
/// waited on and counted as recorded, one that never did counts nothing
/// (this run deletes its rows); of partitions to drop, the rows of those
/// gone are counted, those still there count nothing.
async fn reconcile(ch: &ClickHouse, work: &ChWork, options: &Options, home: &Db) -> Result<()> {
    let table = work.table.as_str();
    for intent in own::pending_intents(home, &options.run, ch.name(), table).await? {
        let rows = match intent.action.as_str() {
            "delete" => match ch.mutation_marked(&work.table, &intent.target).await? {
                None => 0,
                Some(_) => {
                    ch.wait_for_mutation(&work.table, &intent.target, options.mutation_wait)
                        .await?;
                    intent.expected
                }
            },
            // `id:rows,...`: the rows of those gone.
            _ => {
                let live = ch.partitions(&work.table).await?;
                intent
                    .target
                    .split(',')
                    .filter_map(|p| p.split_once(':'))
                    .filter(|(id, _)| !live.iter().any(|l| l.id == *id))
                    .map(|(_, n)| n.parse::<u64>().unwrap_or(0))
                    .sum()
            }
        };
        own::finish_intent(home, &intent, &options.run, rows, 0).await?;
    }
    Ok(())
}

/// Runs (or with `dry_run`, counts) the expiry of one ClickHouse table,
/// filling `r`. Each partition drop and each mutation is recorded before it
/// is issued and counted in the run log once the server has done it, so a
/// run killed in between is counted once, by the next.
pub(crate) async fn run(
    ch: &ClickHouse,
    work: &ChWork,
    data_type: &str,
    options: &Options,
    (home, run_id): (&Db, Option<i64>),
    dry_run: bool,
    r: &mut DataTypeReport,
) -> Result<()> {
    let table = work.table.as_str();
    // The holds in force now: the plan may be minutes old by the time a
    // ClickHouse table's turn comes.
    let holds = own::holds(home, false).await?;
    if let Some(h) = holds
        .iter()
        .find(|h| h.scope == own::HoldScope::DataType && h.target == data_type)
    {
        r.note = Some(format!(
            "the whole data type is under a legal hold: hold {} ({})",
            h.id, h.reason
        ));
        return Ok(());
    }
    let subjects: Vec<String> = holds
        .iter()
        .filter(|h| h.scope == own::HoldScope::Subject)
        .map(|h| h.target.clone())
        .collect();
    if work.hold_unsupported && !subjects.is_empty() {
        r.not_supported =
            Some("holds on ClickHouse rows linked by anything but the user id".to_owned());
        return Ok(());
    }
    let held = held_rows(&work.hold_columns, &subjects);
    // Eligible: expired, released by every floor, held by nobody; a NULL
    // anywhere counts as not eligible.
    let mut eligible = Sql::new();
    eligible
        .push("ifNull(")
        .append(&work.expired)
        .push(" AND ")
        .append(&work.released)
        .push(" AND NOT ")
        .append(&held)
        .push(", 0)");
    if let (Some(_), false) = (run_id, dry_run) {
        reconcile(ch, work, options, home).await?;
    }
    let mut q = Sql::new();
    q.push("SELECT toString(count()) AS a, toString(countIf(NOT ifNull(")
        .append(&work.released)
        .push(", 0))) AS b, toString(countIf(ifNull(")
        .append(&work.released)
        .push(" AND ")
        .append(&held)
        .push(", 0))) AS c FROM ")
        .ident(&work.table)
        .push(" WHERE ifNull(")
        .append(&work.expired)
        .push(", 0)");
    let counts = count(ch, &q, table, "counting expired rows").await?;
    r.expired = counts.first().copied().unwrap_or(0);
    r.kept_by_floor = counts.get(1).copied().unwrap_or(0);
    r.kept_by_hold = counts.get(2).copied().unwrap_or(0);
    if dry_run {
        r.partitions_droppable = work.partitions.len() as u64;
        return Ok(());
    }
    let Some(run_id) = run_id else {
        return Err(Error::Internal("a sweep of ClickHouse rows without a run"));
    };
    let mut deleted = 0u64;
    // A hundred partitions at a time: each one's rows and how many of them
    // are kept (a hold placed since the plan, a row that has not expired
    // after all), in one query; those with none kept dropped by one ALTER,
    // recorded and counted once.
    for chunk in work.partitions.chunks(100) {
        let mut q = Sql::new();
        q.push("SELECT _partition_id AS p, toString(count()) AS n, toString(countIf(NOT ")
            .append(&eligible)
            .push(")) AS k FROM ")
            .ident(&work.table)
            .push(" WHERE _partition_id IN (");
        for (i, p) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind(Value::Text(p.id.clone()));
        }
        q.push(") GROUP BY p");
        let found = ch
            .rows(&q, "checking partitions before dropping them", Some(table))
            .await?;
        let number = |r: &serde_json::Map<String, serde_json::Value>, k: &str| -> u64 {
            r.get(k)
                .and_then(|v| v.as_str())
                .and_then(|s| s.parse().ok())
                .unwrap_or(0)
        };
        let droppable: Vec<(String, u64)> = found
            .iter()
            .filter(|r| number(r, "k") == 0 && number(r, "n") > 0)
            .filter_map(|r| Some((r.get("p")?.as_str()?.to_owned(), number(r, "n"))))
            .collect();
        if droppable.is_empty() {
            continue;
        }
        let rows: u64 = droppable.iter().map(|(_, n)| n).sum();
        let target = droppable
            .iter()
            .map(|(id, n)| format!("{id}:{n}"))
            .collect::<Vec<_>>()
            .join(",");
        let started = Instant::now();
        let id = own::add_intent(
            home,
            run_id,
            ch.name(),
            table,
            data_type,
            "drop_partition",
            &target,
            rows,
        )
        .await?;
        crate::fault::point("clickhouse-intent");
        let ids: Vec<String> = droppable.iter().map(|(id, _)| id.clone()).collect();
        ch.drop_partitions(&work.table, &ids).await?;
        crate::fault::point("partition-dropped");
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let intent = own::Intent {
            id,
            run_id,
            data_type: data_type.to_owned(),
            action: "drop_partition".to_owned(),
            target,
            expected: rows,
        };
        own::finish_intent(home, &intent, &options.run, rows, micros).await?;
        r.partitions_dropped += ids.len() as u64;
        deleted += rows;
    }
    // What is left expired in live partitions: one mutation, marked so a
    // later run can tell whether it reached the server.
    let mut left = Sql::new();
    left.push("SELECT toString(count()) AS n FROM ")
        .ident(&work.table)
        .push(" WHERE ")
        .append(&eligible);
    let n = count(ch, &left, table, "counting expired rows")
        .await?
        .first()
        .copied()
        .unwrap_or(0);
    if n > 0 {
        let started = Instant::now();
        // Hex, so the marker reads the same in `system.mutations`.
        let marker = format!(
            "privctl-run-{run_id}-{}",
            data_type
                .bytes()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        let id = own::add_intent(
            home,
            run_id,
            ch.name(),
            table,
            data_type,
            "delete",
            &marker,
            n,
        )
        .await?;
        crate::fault::point("clickhouse-intent");
        ch.delete_where(&work.table, &eligible, &marker, options.mutation_wait)
            .await?;
        crate::fault::point("mutation-done");
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let intent = own::Intent {
            id,
            run_id,
            data_type: data_type.to_owned(),
            action: "delete".to_owned(),
            target: marker,
            expected: n,
        };
        own::finish_intent(home, &intent, &options.run, n, micros).await?;
        deleted += n;
    }
    r.deleted = deleted;
    Ok(())
}
