//! A policy against a live schema (`privctl check --db`): every table and
//! column the policy names must exist, every column of a table a data type
//! covers must be classified (new columns fail CI until someone says what
//! they hold), time columns must hold time, and a link or timestamp column
//! without an index is a warning naming the sweep or erasure that would
//! scan its table.

use std::collections::BTreeSet;

use privctl_policy::model::{Anchor, EventSource, Policy};
use privctl_policy::source::{KeyPath, Segment};
use privctl_policy::{ColumnRef, Rule, Severity, SqlIdent};

use crate::{Dialect, Schema};

/// One disagreement between a policy and a database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// Error (the policy cannot be enforced as written) or warning.
    pub severity: Severity,
    /// The rule: `schema-drift` or `unindexed-lookup`.
    pub rule: Rule,
    /// Where in the policy the name is.
    pub path: KeyPath,
    /// A sentence naming the store, table and column.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

fn path(segments: &[&str]) -> KeyPath {
    KeyPath(
        segments
            .iter()
            .map(|s| Segment::Key((*s).to_owned()))
            .collect(),
    )
}

fn indexed(segments: &[&str], i: usize, last: &str) -> KeyPath {
    let mut p = path(segments);
    p.0.push(Segment::Index(i));
    p.0.push(Segment::Key(last.to_owned()));
    p
}

struct Checker<'a> {
    store: &'a str,
    dialect: Dialect,
    schema: &'a Schema,
    out: Vec<Drift>,
}

impl Checker<'_> {
    fn error(&mut self, path: KeyPath, message: String, hint: Option<&str>) {
        self.out.push(Drift {
            severity: Severity::Error,
            rule: Rule::SchemaDrift,
            path,
            message,
            hint: hint.map(str::to_owned),
        });
    }

    /// Whether `table` exists; an error at `at` when it does not.
    fn table(&mut self, table: &SqlIdent, at: KeyPath, who: &str) -> bool {
        if self.schema.tables.contains_key(table.as_str()) {
            return true;
        }
        let store = self.store;
        self.error(
            at,
            format!("store {store}: table \"{table}\" ({who}) does not exist in the database"),
            Some("create it, or correct the name in the policy"),
        );
        false
    }

    /// Whether `table.column` exists (the table is known to); an error at
    /// `at` when it does not.
    fn column(&mut self, table: &SqlIdent, column: &SqlIdent, at: KeyPath, who: &str) -> bool {
        let Some(t) = self.schema.tables.get(table.as_str()) else {
            return false;
        };
        if t.column(column.as_str()).is_some() {
            return true;
        }
        let store = self.store;
        self.error(
            at,
            format!(
                "store {store}: column \"{table}.{column}\" ({who}) does not exist in the database"
            ),
            Some("add the column, or correct the name in the policy"),
        );
        false
    }

    /// A column that must hold a point in time.
    fn time(&mut self, table: &SqlIdent, column: &SqlIdent, at: KeyPath, who: &str) {
        let Some(c) = self
            .schema
            .tables
            .get(table.as_str())
            .and_then(|t| t.column(column.as_str()))
        else {
            return;
        };
        if c.time_kind(self.dialect).is_none() {
            let store = self.store;
            self.error(
                at,
                format!(
                    "store {store}: column \"{table}.{column}\" ({who}) has type {}, which holds no point in time",
                    c.declared_type
                ),
                Some("use a timestamp, a date, an integer of Unix seconds or ISO 8601 text"),
            );
        }
    }

    fn unindexed(&mut self, table: &SqlIdent, column: &SqlIdent, at: KeyPath, what: String) {
        let Some(t) = self.schema.tables.get(table.as_str()) else {
            return;
        };
        if t.column(column.as_str()).is_none() || t.is_indexed(column.as_str()) {
            return;
        }
        let store = self.store;
        self.out.push(Drift {
            severity: Severity::Warning,
            rule: Rule::UnindexedLookup,
            path: at,
            message: format!(
                "store {store}: column \"{table}.{column}\" has no index, so {what} scans table \"{table}\""
            ),
            hint: Some(format!("CREATE INDEX ON \"{table}\" (\"{column}\")")),
        });
    }
}

/// Checks `policy`'s names in `store` against its live `schema`.
pub fn drift(policy: &Policy, store: &str, dialect: Dialect, schema: &Schema) -> Vec<Drift> {
    let mut c = Checker {
        store,
        dialect,
        schema,
        out: Vec::new(),
    };
    // Data types: tables, classified columns, timestamps, markers, roll-ups.
    for (name, dt) in policy.data_types.iter().filter(|(_, d)| d.store == store) {
        let Some(table) = &dt.table else { continue };
        let who = format!("data type \"{name}\"");
        if !c.table(table, path(&["data_types", name, "table"]), &who) {
            continue;
        }
        for col in dt.columns.keys() {
            c.column(
                table,
                col,
                path(&["data_types", name, "columns", col.as_str()]),
                &who,
            );
        }
        for (key, col) in [
            ("timestamp", &dt.timestamp),
            ("anonymised_at", &dt.anonymised_at),
        ] {
            if let Some(col) = col {
                let at = path(&["data_types", name, key]);
                if c.column(table, col, at.clone(), &who) {
                    c.time(table, col, at, &who);
                }
            }
        }
        if let Some(r) = &dt.retention {
            if let (Some(ts), Anchor::Created | Anchor::FinancialYearEnd) = (&dt.timestamp, r.from)
            {
                c.unindexed(
                    table,
                    ts,
                    path(&["data_types", name, "timestamp"]),
                    format!("each sweep of data type \"{name}\""),
                );
            }
            if let Some(ru) = &r.roll_up {
                let at = path(&["data_types", name, "retention", "roll_up", "into"]);
                if c.table(&ru.into, at, &format!("the roll-up of \"{name}\"")) {
                    for (key, cols) in [("group_by", &ru.group_by), ("sum", &ru.sum)] {
                        for col in cols {
                            let at = path(&["data_types", name, "retention", "roll_up", key]);
                            c.column(table, col, at.clone(), &who);
                            c.column(&ru.into, col, at, &format!("the roll-up of \"{name}\""));
                        }
                    }
                }
            }
            if let Some(choice) = &r.customer {
                for (key, col) in std::iter::once(("period", &choice.period))
                    .chain(choice.tier.as_ref().map(|t| ("tier", t)))
                {
                    let at = path(&["data_types", name, "retention", "customer", key]);
                    let who = format!("the customer's choice for \"{name}\"");
                    if c.table(&col.table, at.clone(), &who) {
                        c.column(&col.table, &col.column, at, &who);
                    }
                }
            }
            for col in r.anonymise.keys() {
                let at = path(&["data_types", name, "retention", "anonymise", col.as_str()]);
                c.column(table, col, at, &who);
            }
        }
    }
    // Unclassified columns of covered tables.
    let covered: BTreeSet<&SqlIdent> = policy
        .data_types
        .values()
        .filter(|d| d.store == store)
        .filter_map(|d| d.table.as_ref())
        .collect();
    for table in covered {
        let Some(t) = schema.tables.get(table.as_str()) else {
            continue;
        };
        let owners: Vec<(&String, _)> = policy
            .data_types
            .iter()
            .filter(|(_, d)| d.store == store && d.table.as_ref() == Some(table))
            .collect();
        for col in &t.columns {
            let known = owners.iter().any(|(_, d)| {
                d.columns.keys().any(|k| k.as_str() == col.name)
                    || d.timestamp.as_ref().is_some_and(|k| k.as_str() == col.name)
                    || d.anonymised_at
                        .as_ref()
                        .is_some_and(|k| k.as_str() == col.name)
            });
            if !known {
                let (owner, _) = owners[0];
                c.error(
                    path(&["data_types", owner, "columns"]),
                    format!(
                        "store {store}: column \"{table}.{}\" is in the database but data type \"{owner}\" does not classify it",
                        privctl_policy::escape_untrusted(&col.name)
                    ),
                    Some(&format!(
                        "say what it holds in [data_types.{owner}.columns], or drop it from the table"
                    )),
                );
            }
        }
    }
    // The subject map.
    for (i, id) in policy.subject.identifiers.iter().enumerate() {
        if id.store != store {
            continue;
        }
        let who = format!("identifier \"{}\"", id.name);
        if c.table(
            &id.table,
            indexed(&["subject", "identifiers"], i, "table"),
            &who,
        ) {
            let at = indexed(&["subject", "identifiers"], i, "column");
            c.column(&id.table, &id.column, at.clone(), &who);
            c.unindexed(
                &id.table,
                &id.column,
                at,
                format!("finding a subject by {} (export, erasure)", id.name),
            );
        }
    }
    for (i, link) in policy.subject.links.iter().enumerate() {
        let (Some(table), Some(col)) = (&link.table, &link.column) else {
            continue;
        };
        if link.store != store {
            continue;
        }
        let who = "a subject link";
        if !c.table(table, indexed(&["subject", "links"], i, "table"), who) {
            continue;
        }
        let at = indexed(&["subject", "links"], i, "column");
        if !c.column(table, col, at.clone(), who) {
            continue;
        }
        let mut what = "export and erasure of each subject".to_owned();
        if let Some(r) = &link.references {
            let rat = indexed(&["subject", "links"], i, "references");
            if c.table(&r.table, rat.clone(), who) {
                c.column(&r.table, &r.column, rat, who);
            }
            let parents: Vec<&String> = policy
                .data_types
                .iter()
                .filter(|(_, d)| d.store == store && d.table.as_ref() == Some(&r.table))
                .filter(|(_, d)| d.retention.is_some())
                .map(|(n, _)| n)
                .collect();
            if let Some(p) = parents.first() {
                what = format!(
                    "{what}, and each sweep of data type \"{p}\" (checking that no row of \"{table}\" still refers to an expired one),"
                );
            }
        }
        c.unindexed(table, col, at, what);
    }
    let events = &policy.subject.events;
    let home = policy.subject_home().map(|h| h.store.as_str());
    let mut event = |key: &str, col: Option<&ColumnRef>| {
        let Some(col) = col else { return };
        if home != Some(store) {
            return;
        }
        let at = path(&["subject", "events", key]);
        let who = format!("the {key} event");
        if c.table(&col.table, at.clone(), &who)
            && c.column(&col.table, &col.column, at.clone(), &who)
        {
            c.time(&col.table, &col.column, at, &who);
        }
    };
    event("last_activity", events.last_activity.as_ref());
    event("account_closed", events.account_closed.as_ref());
    event(
        "deletion_requested",
        events
            .deletion_requested
            .as_ref()
            .and_then(EventSource::column),
    );
    c.out
}

/// A table's `TTL column + INTERVAL` clause, as ClickHouse prints it
/// (`TTL timestamp + toIntervalDay(90)`): the column and the period.
pub fn ttl_of(engine_full: &str) -> Option<(String, privctl_policy::RetentionPeriod)> {
    use privctl_policy::RetentionPeriod as P;
    let at = engine_full.find(" TTL ")?;
    let rest = engine_full[at + 5..].trim_start();
    let (column, rest) = rest.split_once('+')?;
    let column = column
        .trim()
        .trim_matches(|c| c == '`' || c == '"')
        .to_owned();
    let rest = rest.trim_start();
    let open = rest.find('(')?;
    let close = rest[open..].find(')')? + open;
    let n: u32 = rest[open + 1..close].trim().parse().ok()?;
    let period = match &rest[..open] {
        "toIntervalHour" => P::Hours(n),
        "toIntervalDay" => P::Days(n),
        "toIntervalWeek" => P::Days(n.checked_mul(7)?),
        "toIntervalMonth" => P::Months(n),
        "toIntervalQuarter" => P::Months(n.checked_mul(3)?),
        "toIntervalYear" => P::Years(n),
        _ => return None,
    };
    Some((column, period))
}

/// Checks `policy`'s names in ClickHouse store `store` against its live
/// tables: every table and column named exists, every column of a covered
/// table is classified, timestamps hold time; and where the server has
/// table TTL (`ttl` true, 19.6 and later), a TTL that would delete rows
/// before a legal floor ends is an error, one that keeps them longer than
/// the retention a warning.
pub fn clickhouse_drift(
    policy: &Policy,
    store: &str,
    tables: &[crate::clickhouse::ChTable],
    ttl: bool,
) -> Vec<Drift> {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let mut err = |path: KeyPath, message: String, hint: &str| {
        out.push(Drift {
            severity: Severity::Error,
            rule: Rule::SchemaDrift,
            path,
            message,
            hint: Some(hint.to_owned()),
        })
    };
    for (name, dt) in policy.data_types.iter().filter(|(_, d)| d.store == store) {
        let Some(table) = &dt.table else { continue };
        let who = format!("data type \"{name}\"");
        let Some(t) = tables.iter().find(|t| t.name == table.as_str()) else {
            err(
                path(&["data_types", name, "table"]),
                format!("store {store}: table \"{table}\" ({who}) does not exist in the database"),
                "create it, or correct the name in the policy",
            );
            continue;
        };
        let has = |c: &str| t.columns.iter().find(|x| x.name == c);
        for col in dt.columns.keys() {
            if has(col.as_str()).is_none() {
                err(
                    path(&["data_types", name, "columns", col.as_str()]),
                    format!("store {store}: column \"{table}.{col}\" ({who}) does not exist in the database"),
                    "add the column, or correct the name in the policy",
                );
            }
        }
        if let Some(ts) = &dt.timestamp {
            match has(ts.as_str()) {
                None => err(
                    path(&["data_types", name, "timestamp"]),
                    format!("store {store}: column \"{table}.{ts}\" ({who}) does not exist in the database"),
                    "add the column, or correct the name in the policy",
                ),
                Some(c) if !(c.ty.starts_with("DateTime") || c.ty.starts_with("Nullable(DateTime")) => err(
                    path(&["data_types", name, "timestamp"]),
                    format!(
                        "store {store}: column \"{table}.{ts}\" ({who}) has type {}, which holds no point in time",
                        privctl_policy::escape_untrusted(&c.ty)
                    ),
                    "use a DateTime column",
                ),
                Some(_) => {}
            }
        }
        if !dt.columns.is_empty() {
            for c in &t.columns {
                let named = dt.columns.keys().any(|k| k.as_str() == c.name)
                    || dt.timestamp.as_ref().is_some_and(|k| k.as_str() == c.name)
                    || dt
                        .anonymised_at
                        .as_ref()
                        .is_some_and(|k| k.as_str() == c.name);
                if !named {
                    err(
                        path(&["data_types", name, "columns"]),
                        format!(
                            "store {store}: column \"{table}.{}\" is in the database but {who} does not classify it",
                            privctl_policy::escape_untrusted(&c.name)
                        ),
                        "classify it in the data type's columns",
                    );
                }
            }
        }
        let (true, Some((column, ttl))) = (ttl, ttl_of(&t.engine_full)) else {
            continue;
        };
        if dt
            .timestamp
            .as_ref()
            .is_some_and(|ts| ts.as_str() != column)
        {
            continue;
        }
        for (fname, f) in policy
            .legal_floors
            .iter()
            .filter(|(_, f)| f.applies_to.iter().any(|a| a == name))
        {
            // A floor from the year's end runs up to a year past creation.
            let needed = match f.from {
                Anchor::Created => Some(f.period),
                Anchor::FinancialYearEnd => f.period.plus_a_year(),
                _ => None,
            };
            if needed.is_some_and(|n| !ttl.covers(n)) {
                err(
                    path(&["legal_floors", fname, "period"]),
                    format!(
                        "store {store}: table \"{table}\" has TTL {ttl} on {column}, which can delete rows before legal floor \"{fname}\" ({}) ends",
                        f.period
                    ),
                    "lengthen the table's TTL to the floor, or drop it and let privctl's sweeps expire the rows",
                );
            }
        }
        if policy
            .subject
            .links
            .iter()
            .any(|l| l.store == store && l.table.as_ref() == Some(table))
        {
            warnings.push(Drift {
                severity: Severity::Warning,
                rule: Rule::SchemaDrift,
                path: path(&["data_types", name, "table"]),
                message: format!(
                    "store {store}: table \"{table}\" has TTL {ttl} on {column}, which deletes the rows of people under a legal hold too; privctl's sweeps keep them"
                ),
                hint: Some("drop the table's TTL and let privctl's sweeps expire the rows".to_owned()),
            });
        }
        if let Some(r) = dt.retention.as_ref().filter(|r| r.from == Anchor::Created) {
            let longest = r.max.filter(|_| r.configurable).unwrap_or(r.period);
            if !longest.is_indefinite() && !longest.covers(ttl) {
                warnings.push(Drift {
                    severity: Severity::Warning,
                    rule: Rule::SchemaDrift,
                    path: path(&["data_types", name, "retention", "period"]),
                    message: format!(
                        "store {store}: table \"{table}\" has TTL {ttl} on {column}, which keeps rows longer than the retention ({longest}); privctl's sweeps delete them first"
                    ),
                    hint: Some("shorten the table's TTL to the retention, or drop it".to_owned()),
                });
            }
        }
    }
    out.extend(warnings);
    out
}

#[cfg(test)]
mod ttl_tests {
    use super::*;
    use privctl_policy::RetentionPeriod as P;

    #[test]
    fn ttl_clauses_as_clickhouse_prints_them() {
        assert_eq!(
            ttl_of("MergeTree PARTITION BY toYYYYMMDD(timestamp) ORDER BY (user_id, timestamp) TTL timestamp + toIntervalDay(90) SETTINGS index_granularity = 8192"),
            Some(("timestamp".to_owned(), P::Days(90)))
        );
        assert_eq!(
            ttl_of("MergeTree ORDER BY ts TTL ts + toIntervalMonth(13)"),
            Some(("ts".to_owned(), P::Months(13)))
        );
        assert_eq!(ttl_of("MergeTree ORDER BY ts"), None);
        assert_eq!(
            ttl_of("MergeTree ORDER BY ts TTL ts + toIntervalDay(x)"),
            None
        );
    }

    fn table(engine_full: &str) -> crate::clickhouse::ChTable {
        let col = |name: &str, ty: &str| crate::clickhouse::ChColumn {
            name: name.to_owned(),
            ty: ty.to_owned(),
        };
        crate::clickhouse::ChTable {
            name: "events".to_owned(),
            engine: "MergeTree".to_owned(),
            partition_key: "toYYYYMMDD(ts)".to_owned(),
            sorting_key: "user_id, ts".to_owned(),
            engine_full: engine_full.to_owned(),
            columns: vec![
                col("ts", "DateTime"),
                col("user_id", "String"),
                col("extra", "String"),
            ],
        }
    }

    const POLICY: &str = r#"
version = 1
[organisation]
name = "T"
[stores.main]
kind = "sqlite"
[stores.ch]
kind = "clickhouse"
url_env = "CH"
[[subject.identifiers]]
name = "user_id"
kind = "user_id"
store = "main"
table = "users"
column = "id"
[[subject.links]]
store = "ch"
table = "events"
column = "user_id"
identifier = "user_id"
[data_types.events]
description = "Events"
store = "ch"
table = "events"
timestamp = "ts"
categories = ["telemetry"]
columns = { ts = "metadata", user_id = "identifier" }
retention = { period = "2y", from = "created", action = "delete" }
[legal_floors.keep]
law = "A test floor"
basis = "statute"
period = "1y"
from = "created"
applies_to = ["events"]
[erasure]
cancellable = false
"#;

    #[test]
    fn ttls_against_floors_and_retentions_where_the_server_has_them() {
        let policy = privctl_policy::check_str(POLICY).policy.expect("policy");
        let messages = |engine: &str, ttl: bool| -> Vec<(Severity, String)> {
            clickhouse_drift(&policy, "ch", &[table(engine)], ttl)
                .into_iter()
                .map(|d| (d.severity, d.message))
                .collect()
        };
        let unclassified = (
            Severity::Error,
            "store ch: column \"events.extra\" is in the database but data type \"events\" does not classify it".to_owned(),
        );
        // Any TTL deletes the rows of held people too.
        let held = |ttl: &str| {
            (
                Severity::Warning,
                format!("store ch: table \"events\" has TTL {ttl} on ts, which deletes the rows of people under a legal hold too; privctl's sweeps keep them"),
            )
        };
        // A TTL shorter than the floor deletes what the floor keeps.
        assert_eq!(
            messages("MergeTree ORDER BY ts TTL ts + toIntervalDay(90)", true),
            [
                unclassified.clone(),
                (Severity::Error, "store ch: table \"events\" has TTL 90d on ts, which can delete rows before legal floor \"keep\" (1y) ends".to_owned()),
                held("90d"),
            ]
        );
        // One longer than the retention keeps what privctl deletes.
        assert_eq!(
            messages("MergeTree ORDER BY ts TTL ts + toIntervalYear(3)", true),
            [
                unclassified.clone(),
                held("3y"),
                (Severity::Warning, "store ch: table \"events\" has TTL 3y on ts, which keeps rows longer than the retention (2y); privctl's sweeps delete them first".to_owned()),
            ]
        );
        // Between the two: only the holds. A server without TTL: nothing
        // to compare.
        assert_eq!(
            messages("MergeTree ORDER BY ts TTL ts + toIntervalMonth(18)", true),
            [unclassified.clone(), held("18mo")]
        );
        assert_eq!(
            messages("MergeTree ORDER BY ts TTL ts + toIntervalDay(90)", false),
            [unclassified]
        );
    }
}
