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
