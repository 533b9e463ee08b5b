//! The rules about meaning: a policy that parses can still break the law or
//! contradict itself. Each rule reads the parsed [`Policy`] and reports a
//! [`Finding`] at the key path it concerns.

use std::collections::{BTreeMap, BTreeSet};

use crate::check::Finding;
use crate::diagnostic::{Rule, Severity};
use crate::law::{self, Statute};
use crate::model::*;
use crate::source::{KeyPath, SourceMap};
use crate::{detectors, path, ColumnRef, RetentionPeriod, SqlIdent};

/// Runs every rule.
pub(crate) fn check(policy: &Policy, map: &SourceMap) -> Vec<Finding> {
    let mut cx = Context {
        policy,
        map,
        out: Vec::new(),
    };
    cx.version();
    cx.names();
    cx.stores();
    cx.subject();
    cx.data_types();
    cx.anchors();
    cx.floors();
    cx.kyc_everywhere();
    cx.india_floors();
    cx.tiers();
    cx.erasure();
    cx.regimes();
    cx.export();
    cx.redaction();
    cx.pseudonymisation();
    cx.out
}

struct Context<'a> {
    policy: &'a Policy,
    map: &'a SourceMap,
    out: Vec<Finding>,
}

impl<'a> Context<'a> {
    fn error(&mut self, rule: Rule, path: KeyPath, message: String) {
        self.push(Severity::Error, rule, path, message, None);
    }

    fn error_hint(&mut self, rule: Rule, path: KeyPath, message: String, hint: &str) {
        self.push(Severity::Error, rule, path, message, Some(hint.to_owned()));
    }

    fn warn(&mut self, rule: Rule, path: KeyPath, message: String) {
        self.push(Severity::Warning, rule, path, message, None);
    }

    fn push(
        &mut self,
        severity: Severity,
        rule: Rule,
        path: KeyPath,
        message: String,
        hint: Option<String>,
    ) {
        self.out.push(Finding {
            severity,
            rule,
            path,
            message,
            hint,
        });
    }

    fn version(&mut self) {
        if self.policy.version != FORMAT_VERSION {
            self.error(
                Rule::UnsupportedVersion,
                path!["version"],
                format!(
                    "policy format version {} is not supported; this release reads version {FORMAT_VERSION}",
                    self.policy.version
                ),
            );
        }
    }

    /// Names of stores, data types, floors and tiers are used on the command
    /// line and in audit records, so they are plain snake_case.
    fn names(&mut self) {
        let p = self.policy;
        let tables: [(&str, Vec<&String>); 4] = [
            ("stores", p.stores.keys().collect()),
            ("data_types", p.data_types.keys().collect()),
            ("legal_floors", p.legal_floors.keys().collect()),
            ("tiers", p.tiers.keys().collect()),
        ];
        for (table, names) in tables {
            for name in names {
                if !is_snake_name(name) {
                    self.error(
                        Rule::InvalidValue,
                        path![table, name],
                        format!("name \"{name}\" in {table} must be snake_case (lowercase letters, digits, underscores)"),
                    );
                }
            }
        }
    }

    fn stores(&mut self) {
        for (name, store) in &self.policy.stores {
            if store.kind == StoreKind::Files && store.path.is_none() {
                self.error(
                    Rule::MissingKey,
                    path!["stores", name],
                    format!("files store \"{name}\" has no path"),
                );
            }
        }
    }

    fn store_kind(&mut self, name: &str, at: KeyPath) -> Option<StoreKind> {
        match self.policy.stores.get(name) {
            Some(s) => Some(s.kind),
            None => {
                self.error(
                    Rule::UnknownReference,
                    at,
                    format!("store \"{name}\" is not defined in [stores]"),
                );
                None
            }
        }
    }

    /// Data types that cover a store and table (or, for files, a store).
    fn covering(&self, store: &str, table: Option<&SqlIdent>) -> Vec<&'a String> {
        self.policy
            .data_types
            .iter()
            .filter(|(_, dt)| dt.store == store && (table.is_none() || dt.table.as_ref() == table))
            .map(|(n, _)| n)
            .collect()
    }

    fn subject(&mut self) {
        let subject = &self.policy.subject;
        if subject.identifiers.is_empty() {
            self.error(
                Rule::MissingKey,
                path!["subject"],
                "the subject has no identifiers; a request could not find anyone".to_owned(),
            );
        }
        if !subject
            .identifiers
            .iter()
            .any(|i| i.kind == IdentifierKind::UserId)
        {
            self.error(
                Rule::MissingKey,
                path!["subject", "identifiers"],
                "the subject has no identifier of kind \"user_id\"; links need a key to lead to"
                    .to_owned(),
            );
        }
        let mut seen = BTreeSet::new();
        for (i, id) in subject.identifiers.iter().enumerate() {
            let at = path!["subject", "identifiers", i];
            if !seen.insert(id.name.as_str()) {
                self.error(
                    Rule::Duplicate,
                    at.key("name"),
                    format!("subject identifier \"{}\" is defined twice", id.name),
                );
            }
            if let Some(kind) = self.store_kind(&id.store, at.key("store")) {
                if !kind.is_tabular() {
                    self.error(
                        Rule::Contradiction,
                        at.key("store"),
                        format!(
                            "identifier \"{}\" is in files store \"{}\", which has no columns",
                            id.name, id.store
                        ),
                    );
                }
            }
            self.require_covered(&id.store, &id.table, &id.column, at.key("table"));
        }

        // Tables a link may lead to: identifier homes and other links' tables.
        // A link that holds an identifier's value is a home of its own.
        let homes: BTreeSet<(&str, &str)> = subject
            .identifiers
            .iter()
            .map(|i| (i.store.as_str(), i.table.as_str()))
            .chain(
                subject
                    .links
                    .iter()
                    .filter_map(|l| match (&l.identifier, &l.table) {
                        (Some(_), Some(t)) => Some((l.store.as_str(), t.as_str())),
                        _ => None,
                    }),
            )
            .collect();
        let mut linked: BTreeMap<(&str, &str), Option<&str>> = BTreeMap::new();
        for link in &subject.links {
            if let Some(t) = &link.table {
                let target = link.references.as_ref().map(|r| r.table.as_str());
                linked.insert((link.store.as_str(), t.as_str()), target);
            }
        }

        for (i, link) in subject.links.iter().enumerate() {
            let at = path!["subject", "links", i];
            let Some(kind) = self.store_kind(&link.store, at.key("store")) else {
                continue;
            };
            if !kind.is_tabular() {
                self.files_link(link, &at);
                continue;
            }
            let (Some(table), Some(column)) = (&link.table, &link.column) else {
                self.error(
                    Rule::MissingKey,
                    at.clone(),
                    format!(
                        "link in store \"{}\" needs both table and column",
                        link.store
                    ),
                );
                continue;
            };
            if link.path.is_some() {
                self.error(
                    Rule::Contradiction,
                    at.key("path"),
                    format!("link {table}.{column} is in a tabular store and cannot have a path"),
                );
            }
            match (&link.identifier, link.references.as_ref()) {
                (Some(_), Some(_)) => self.error(
                    Rule::Contradiction,
                    at.key("identifier"),
                    format!("link {table}.{column} gives both identifier and references; use one"),
                ),
                (Some(ident), None) => {
                    if !subject.identifiers.iter().any(|i| &i.name == ident) {
                        self.error(
                            Rule::UnknownReference,
                            at.key("identifier"),
                            format!("link {table}.{column} holds identifier \"{ident}\", which is not a subject identifier"),
                        );
                    }
                }
                (None, None) => self.error(
                    Rule::MissingKey,
                    at.clone(),
                    format!("link {table}.{column} says neither which identifier it holds nor what it references (table.column)"),
                ),
                (None, Some(r)) => self.reference(link, table, column, r, &homes, &linked, &at),
            }
            self.require_covered(&link.store, table, column, at.key("table"));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn reference(
        &mut self,
        link: &SubjectLink,
        table: &SqlIdent,
        column: &SqlIdent,
        r: &ColumnRef,
        homes: &BTreeSet<(&str, &str)>,
        linked: &BTreeMap<(&str, &str), Option<&str>>,
        at: &KeyPath,
    ) {
        let store = link.store.as_str();
        let rt = r.table.as_str();
        if !homes.contains(&(store, rt)) && !linked.contains_key(&(store, rt)) {
            self.error(
                Rule::UnknownReference,
                at.key("references"),
                format!("link {table}.{column} references \"{r}\", which is neither a subject identifier's table nor a linked table in store \"{store}\""),
            );
        } else if !self.column_known(store, r) {
            self.error_hint(
                Rule::UnknownReference,
                at.key("references"),
                format!("link {table}.{column} references \"{r}\", but {rt} has no column \"{}\" in this policy", r.column),
                "reference a subject identifier's column, a link's column, or a column classified in the data type of that table",
            );
        } else if !reaches_home(store, table.as_str(), homes, linked) {
            self.error(
                Rule::Contradiction,
                at.key("references"),
                format!("link {table}.{column} is part of a reference cycle that never reaches a subject identifier"),
            );
        }
    }

    /// Whether the policy knows `r` as a column: a subject identifier's or a
    /// link's column, or one classified by a data type of that table (a data
    /// type that lists no columns is unclassified and accepts any; the live
    /// schema check decides then).
    fn column_known(&self, store: &str, r: &ColumnRef) -> bool {
        let subject = &self.policy.subject;
        subject
            .identifiers
            .iter()
            .any(|i| i.store == store && i.table == r.table && i.column == r.column)
            || subject.links.iter().any(|l| {
                l.store == store
                    && l.table.as_ref() == Some(&r.table)
                    && l.column.as_ref() == Some(&r.column)
            })
            || self.covering(store, Some(&r.table)).iter().any(|n| {
                let dt = &self.policy.data_types[*n];
                dt.columns.is_empty() || dt.columns.contains_key(r.column.as_str())
            })
    }

    fn files_link(&mut self, link: &SubjectLink, at: &KeyPath) {
        let Some(p) = &link.path else {
            self.error(
                Rule::MissingKey,
                at.clone(),
                format!("link in files store \"{}\" has no path", link.store),
            );
            return;
        };
        let names: Vec<&str> = self
            .policy
            .subject
            .identifiers
            .iter()
            .map(|i| i.name.as_str())
            .collect();
        let placeholders = placeholders(p);
        if placeholders.is_empty() {
            self.error(
                Rule::InvalidValue,
                at.key("path"),
                format!("path \"{p}\" has no {{identifier}} placeholder, so it cannot find one person's files"),
            );
        }
        for ph in placeholders {
            if !names.contains(&ph) {
                self.error(
                    Rule::UnknownReference,
                    at.key("path"),
                    format!("path \"{p}\" uses {{{ph}}}, which is not a subject identifier"),
                );
            }
        }
        if self.covering(&link.store, None).is_empty() {
            self.error(
                Rule::UncoveredSubjectData,
                at.key("store"),
                format!(
                    "files linked to the subject in store \"{}\" belong to no data type",
                    link.store
                ),
            );
        }
    }

    /// A subject column must belong to a data type that classifies it.
    fn require_covered(&mut self, store: &str, table: &SqlIdent, column: &SqlIdent, at: KeyPath) {
        let covering = self.covering(store, Some(table));
        if covering.is_empty() {
            self.error_hint(
                Rule::UncoveredSubjectData,
                at,
                format!("subject column {table}.{column} in store \"{store}\" is covered by no data type"),
                "add a [data_types.NAME] with this store and table, and give it a retention",
            );
            return;
        }
        let classified = covering.iter().any(|n| {
            let dt = &self.policy.data_types[*n];
            dt.columns.is_empty() || dt.columns.contains_key(column.as_str())
        });
        if !classified {
            let names = covering
                .iter()
                .map(|n| format!("\"{n}\""))
                .collect::<Vec<_>>()
                .join(", ");
            self.error(
                Rule::UncoveredSubjectData,
                at,
                format!("subject column {table}.{column} is not classified in the columns of data type {names}"),
            );
        }
    }

    fn data_types(&mut self) {
        let mut tables: BTreeMap<(String, String), &String> = BTreeMap::new();
        for (name, dt) in &self.policy.data_types {
            let at = path!["data_types", name];
            if dt.categories.is_empty() {
                self.error(
                    Rule::MissingKey,
                    at.clone(),
                    format!("data type \"{name}\" does not say what it contains (categories)"),
                );
            }
            if let Some(kind) = self.store_kind(&dt.store, at.key("store")) {
                self.location(name, dt, kind, &at);
            }
            let key = (
                dt.store.clone(),
                dt.table
                    .as_ref()
                    .map_or_else(|| dt.path.clone().unwrap_or_default(), |t| t.to_string()),
            );
            if let Some(other) = tables.insert(key, name) {
                let period = |n: &str| {
                    self.policy
                        .data_types
                        .get(n)
                        .and_then(|d| d.retention.as_ref())
                        .map(|r| (r.period, r.from))
                };
                let floored = |n: &str| floors_on(self.policy, n).next().map(|(f, _)| f.clone());
                let differ = period(other) != period(name);
                match (differ, floored(other).or_else(|| floored(name))) {
                    (true, Some(fname)) => self.error(
                        Rule::Contradiction,
                        at.key("table"),
                        format!("data types \"{other}\" and \"{name}\" cover the same place with different retentions; the shorter would delete rows legal floor \"{fname}\" protects"),
                    ),
                    _ => self.warn(
                        Rule::Duplicate,
                        at.key("table"),
                        format!("data types \"{other}\" and \"{name}\" cover the same place; retention applies the shorter"),
                    ),
                }
            }
            match &dt.retention {
                None => self.error_hint(
                    Rule::MissingRetention,
                    at.clone(),
                    format!("data type \"{name}\" has no retention"),
                    "add [data_types.NAME.retention] with period, from and action",
                ),
                Some(r) => self.retention(name, dt, r, &at.key("retention")),
            }
            self.erasure_rule(name, dt, &at);
            self.raw_identifiers(name, dt, &at);
        }
    }

    /// Every anchor a period counts from must have a source the policy
    /// names, and every row must be able to reach it: an event column
    /// through the subject map, an anonymisation through the data type's
    /// own `anonymised_at`.
    fn anchors(&mut self) {
        let events = &self.policy.subject.events;
        for (label, column) in [
            ("last_activity", events.last_activity.as_ref()),
            ("account_closed", events.account_closed.as_ref()),
            (
                "deletion_requested",
                events.deletion_requested.as_ref().and_then(|e| e.column()),
            ),
        ] {
            if let Some(c) = column {
                self.event_column(label, c);
            }
        }
        let mut uses: Vec<(String, Anchor, KeyPath)> = Vec::new();
        for (name, dt) in &self.policy.data_types {
            let at = path!["data_types", name];
            if let Some(r) = &dt.retention {
                uses.push((name.clone(), r.from, at.key("retention").key("from")));
                if r.action == ExpiryAction::Anonymise && dt.anonymised_at.is_none() {
                    self.error_hint(
                        Rule::MissingKey,
                        at.clone(),
                        format!("data type \"{name}\" is anonymised on expiry but has no anonymised_at column to record when"),
                        "add anonymised_at = \"COLUMN\" naming a timestamp column privctl sets; a row with one is not anonymised again",
                    );
                }
                if let Some(choice) = &r.customer {
                    if !r.configurable {
                        self.error(
                            Rule::Contradiction,
                            at.key("retention").key("customer"),
                            format!("retention of \"{name}\" says where customers record their choice, but is not configurable"),
                        );
                    }
                    let cat = at.key("retention").key("customer");
                    match (&choice.by, &choice.key) {
                        (None, None) => {
                            for c in std::iter::once(&choice.period).chain(choice.tier.as_ref()) {
                                self.reaches(name, dt, c, "the customer's choice", cat.clone());
                            }
                        }
                        (Some(by), Some(key)) => {
                            self.known_column(name, dt, by, cat.key("by"));
                            for c in std::iter::once(&choice.period).chain(choice.tier.as_ref()) {
                                if c.table != key.table {
                                    self.error(
                                        Rule::Contradiction,
                                        cat.clone(),
                                        format!("retention of \"{name}\" reads customers' choices by \"{key}\", but \"{c}\" is in another table"),
                                    );
                                }
                            }
                            let home = self.policy.data_types.values().find(|d| {
                                d.table.as_ref() == Some(&key.table)
                                    && self
                                        .policy
                                        .stores
                                        .get(&d.store)
                                        .is_some_and(|s| matches!(s.kind, StoreKind::Sqlite | StoreKind::Postgres))
                            });
                            if home.is_none() {
                                self.error_hint(
                                    Rule::UnknownReference,
                                    cat.key("key"),
                                    format!("retention of \"{name}\" reads customers' choices from table \"{}\", which no data type in a SQLite or PostgreSQL store covers", key.table),
                                    "add a data type for the table holding the choices",
                                );
                            }
                        }
                        _ => self.error(
                            Rule::MissingKey,
                            cat,
                            format!("retention of \"{name}\" names only one of by and key: a choice read per customer needs both"),
                        ),
                    }
                }
            }
            if let Some(col) = &dt.anonymised_at {
                self.known_column(name, dt, col, at.key("anonymised_at"));
            }
        }
        for (floor_name, floor) in &self.policy.legal_floors {
            for dt in &floor.applies_to {
                uses.push((
                    dt.clone(),
                    floor.from,
                    path!["legal_floors", floor_name, "from"],
                ));
            }
        }
        for (name, anchor, at) in uses {
            let Some(dt) = self.policy.data_types.get(&name) else {
                continue;
            };
            let Some(store) = self.policy.stores.get(&dt.store) else {
                // Reported as an unknown store already.
                continue;
            };
            if anchor == Anchor::FinancialYearEnd
                && self.policy.organisation.financial_year.is_none()
            {
                self.error_hint(
                    Rule::MissingKey,
                    at.clone(),
                    format!("data type \"{name}\" counts from the end of a financial year, but [organisation] does not say when the financial year starts"),
                    "add financial_year = { starts = \"MM-DD\", utc_offset = \"+HH:MM\" } to [organisation] (India's: starts = \"04-01\", utc_offset = \"+05:30\")",
                );
            }
            if !store.kind.is_tabular() {
                if !matches!(anchor, Anchor::Created | Anchor::FinancialYearEnd) {
                    self.error(
                        Rule::Contradiction,
                        at,
                        format!("data type \"{name}\" is in a files store, whose files count from their modification time; it cannot count from {}", name_of(&anchor)),
                    );
                }
                continue;
            }
            match anchor {
                Anchor::Created | Anchor::FinancialYearEnd => {}
                Anchor::Anonymised => {
                    if dt.anonymised_at.is_none() {
                        self.error_hint(
                            Rule::MissingKey,
                            at,
                            format!("data type \"{name}\" counts from its anonymisation, but has no anonymised_at column recording when"),
                            "add anonymised_at = \"COLUMN\" to the data type",
                        );
                    }
                }
                Anchor::LastActivity | Anchor::AccountClosed | Anchor::DeletionRequested => {
                    let source = match anchor {
                        Anchor::LastActivity => {
                            events.last_activity.clone().map(EventSource::Column)
                        }
                        Anchor::AccountClosed => {
                            events.account_closed.clone().map(EventSource::Column)
                        }
                        _ => events.deletion_requested.clone(),
                    };
                    let label = name_of(&anchor);
                    match source {
                        None => self.error_hint(
                            Rule::MissingKey,
                            at,
                            format!("data type \"{name}\" counts from {label}, but [subject.events] does not say where that is recorded"),
                            &format!("add {label} = \"TABLE.COLUMN\" to [subject.events]{}", if anchor == Anchor::DeletionRequested { " (or \"privctl\" for privctl's own request records)" } else { "" }),
                        ),
                        Some(EventSource::Column(c)) => self.reaches(&name, dt, &c, &label, at),
                        Some(EventSource::Privctl) => {
                            if let Some(t) = &dt.table {
                                if self.policy.subject_path(&dt.store, t).is_none() {
                                    self.error(
                                        Rule::UnknownReference,
                                        at,
                                        format!("data type \"{name}\" counts from the subject's deletion request, but table \"{t}\" does not reach the subject through [[subject.links]] in its store"),
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// An event column must be a classified column of a table some data
    /// type covers in the subject's home store.
    fn event_column(&mut self, label: &str, c: &ColumnRef) {
        let at = path!["subject", "events", label];
        let Some(home) = self.policy.subject_home() else {
            return;
        };
        let covering = self
            .policy
            .data_types
            .values()
            .find(|dt| dt.store == home.store && dt.table.as_ref() == Some(&c.table));
        match covering {
            None => self.error(
                Rule::UnknownReference,
                at,
                format!("{label} is recorded in table \"{}\", which no data type in store \"{}\" covers", c.table, home.store),
            ),
            Some(dt) if !dt.columns.is_empty() && !dt.columns.contains_key(c.column.as_str()) => {
                self.error(
                    Rule::UnknownReference,
                    at,
                    format!("{label} is recorded in column \"{c}\", which is not among that table's columns"),
                )
            }
            Some(_) => {}
        }
    }

    /// Rows of `dt` must reach the table of `column` through the subject
    /// map, in one store.
    fn reaches(&mut self, name: &str, dt: &DataType, column: &ColumnRef, what: &str, at: KeyPath) {
        let Some(table) = &dt.table else {
            return;
        };
        let reached = self
            .policy
            .subject_path(&dt.store, table)
            .is_some_and(|p| p.hops_to(table, &column.table).is_some());
        if !reached {
            self.error_hint(
                Rule::UnknownReference,
                at,
                format!("data type \"{name}\" needs {what} from \"{column}\", but its table \"{table}\" does not reach \"{}\" through [[subject.links]] in store \"{}\"", column.table, dt.store),
                "link the table towards the subject's home table, or record the event in a table on that path",
            );
        }
    }

    fn location(&mut self, name: &str, dt: &DataType, kind: StoreKind, at: &KeyPath) {
        if kind.is_tabular() {
            if dt.table.is_none() {
                self.error(
                    Rule::MissingKey,
                    at.clone(),
                    format!(
                        "data type \"{name}\" is in a {} store but names no table",
                        name_of(&kind)
                    ),
                );
            }
            if dt.path.is_some() {
                self.error(
                    Rule::Contradiction,
                    at.key("path"),
                    format!("data type \"{name}\" is in a tabular store and cannot have a path"),
                );
            }
            match &dt.timestamp {
                None => self.error(
                    Rule::MissingKey,
                    at.clone(),
                    format!(
                        "data type \"{name}\" has no timestamp column for retention to count from"
                    ),
                ),
                Some(ts) => self.known_column(name, dt, ts, at.key("timestamp")),
            }
        } else {
            if dt.path.is_none() {
                self.error(
                    Rule::MissingKey,
                    at.clone(),
                    format!("data type \"{name}\" is in a files store but has no path"),
                );
            }
            for key in ["table", "timestamp"] {
                let present = match key {
                    "table" => dt.table.is_some(),
                    _ => dt.timestamp.is_some(),
                };
                if present {
                    self.error(
                        Rule::Contradiction,
                        at.key(key),
                        format!("data type \"{name}\" is in a files store, which has no {key}; files count from their modification time"),
                    );
                }
            }
        }
    }

    fn known_column(&mut self, name: &str, dt: &DataType, column: &SqlIdent, at: KeyPath) {
        if !dt.columns.is_empty() && !dt.columns.contains_key(column.as_str()) {
            self.error(
                Rule::UnknownReference,
                at,
                format!("column \"{column}\" is not among the columns of data type \"{name}\""),
            );
        }
    }

    fn retention(&mut self, name: &str, dt: &DataType, r: &Retention, at: &KeyPath) {
        match r.action {
            ExpiryAction::Anonymise if r.anonymise.is_empty() => self.error(
                Rule::Contradiction,
                at.key("action"),
                format!("retention of \"{name}\" anonymises on expiry but names no columns to anonymise"),
            ),
            ExpiryAction::RollUp if r.roll_up.is_none() => self.error(
                Rule::Contradiction,
                at.key("action"),
                format!("retention of \"{name}\" rolls up on expiry but has no [roll_up] saying how"),
            ),
            _ => {}
        }
        if r.action != ExpiryAction::Anonymise && !r.anonymise.is_empty() {
            self.error(
                Rule::Contradiction,
                at.key("anonymise"),
                format!(
                    "retention of \"{name}\" lists columns to anonymise but its action is {}",
                    name_of(&r.action)
                ),
            );
        }
        if r.action != ExpiryAction::RollUp && r.roll_up.is_some() {
            self.error(
                Rule::Contradiction,
                at.key("roll_up"),
                format!(
                    "retention of \"{name}\" describes a roll-up but its action is {}",
                    name_of(&r.action)
                ),
            );
        }
        let is_files = self
            .policy
            .stores
            .get(&dt.store)
            .is_some_and(|s| s.kind == StoreKind::Files);
        if is_files && r.action != ExpiryAction::Delete {
            self.error(
                Rule::Contradiction,
                at.key("action"),
                format!("\"{name}\" is a files store; files can only be deleted on expiry"),
            );
        }
        for col in r.anonymise.keys() {
            self.known_column(name, dt, col, at.key("anonymise").key(col.as_str()));
        }
        if r.action == ExpiryAction::Anonymise && !r.anonymise.is_empty() {
            self.keeps_the_person(name, dt, &r.anonymise, false, at, "retention");
        }
        if let Some(ru) = &r.roll_up {
            let subject_cols = self.subject_columns(&dt.store, dt.table.as_ref());
            for (i, col) in ru.group_by.iter().enumerate() {
                self.known_column(name, dt, col, at.key("roll_up").key("group_by").index(i));
                if subject_cols.contains(col.as_str()) {
                    self.error(
                        Rule::Contradiction,
                        at.key("roll_up").key("group_by").index(i),
                        format!("roll-up of \"{name}\" groups by subject column \"{col}\", so the aggregate still identifies the person"),
                    );
                } else if let Some(cat @ (Category::Identifier | Category::Contact)) =
                    dt.columns.get(col.as_str())
                {
                    self.error(
                        Rule::Contradiction,
                        at.key("roll_up").key("group_by").index(i),
                        format!("roll-up of \"{name}\" groups by \"{col}\", classified {}, so each aggregate still identifies a person (a supplier, a member, a contact)", name_of(cat)),
                    );
                }
            }
            for (i, col) in ru.sum.iter().enumerate() {
                self.known_column(name, dt, col, at.key("roll_up").key("sum").index(i));
            }
        }
        if r.from == Anchor::Anonymised
            && dt
                .erasure
                .as_ref()
                .is_none_or(|e| !e.action.replaces_columns())
        {
            self.error(
                Rule::Contradiction,
                at.key("from"),
                format!("retention of \"{name}\" counts from anonymisation, but erasure never anonymises it"),
            );
        }
        // Configurability and bounds.
        if !r.configurable {
            for key in ["min", "max"] {
                let set = if key == "min" {
                    r.min.is_some()
                } else {
                    r.max.is_some()
                };
                if set {
                    self.error(
                        Rule::Contradiction,
                        at.key(key),
                        format!(
                            "retention of \"{name}\" is not configurable but has a {key} bound"
                        ),
                    );
                }
            }
            if !r.tiers.is_empty() {
                self.error(
                    Rule::Contradiction,
                    at.key("tiers"),
                    format!("retention of \"{name}\" is not configurable but lists tiers that may configure it"),
                );
            }
        }
        if let (Some(min), Some(max)) = (r.min, r.max) {
            if min > max {
                self.error(
                    Rule::Contradiction,
                    at.key("min"),
                    format!("retention of \"{name}\" has min {min} above max {max}"),
                );
            }
        }
        if let Some(min) = r.min {
            if r.period < min {
                self.error(
                    Rule::Contradiction,
                    at.key("period"),
                    format!(
                        "default period {} of \"{name}\" is below its own min {min}",
                        r.period
                    ),
                );
            }
        }
        if let Some(max) = r.max {
            if r.period > max {
                self.error(
                    Rule::Contradiction,
                    at.key("period"),
                    format!(
                        "default period {} of \"{name}\" is above its own max {max}",
                        r.period
                    ),
                );
            }
        }
        for (i, tier) in r.tiers.iter().enumerate() {
            if !self.policy.tiers.contains_key(tier) {
                self.error(
                    Rule::UnknownReference,
                    at.key("tiers").index(i),
                    format!("tier \"{tier}\" is not defined in [tiers]"),
                );
            }
        }
        for (i, rule) in r.rules.iter().enumerate() {
            let rat = at.key("rules").index(i);
            self.known_column(name, dt, &rule.column, rat.key("column"));
            if rule.equals.is_empty() {
                self.error(
                    Rule::InvalidValue,
                    rat.key("equals"),
                    format!(
                        "conditional retention of \"{name}\" on \"{}\" matches no values",
                        rule.column
                    ),
                );
            }
        }
    }

    fn subject_columns(&self, store: &str, table: Option<&SqlIdent>) -> BTreeSet<&'a str> {
        let Some(table) = table else {
            return BTreeSet::new();
        };
        let s = &self.policy.subject;
        let ids = s
            .identifiers
            .iter()
            .filter(|i| i.store == store && &i.table == table)
            .map(|i| i.column.as_str());
        let links = s
            .links
            .iter()
            .filter(|l| l.store == store && l.table.as_ref() == Some(table))
            .filter_map(|l| l.column.as_ref().map(SqlIdent::as_str));
        ids.chain(links).collect()
    }

    fn is_about_subject(&self, dt: &DataType) -> bool {
        let s = &self.policy.subject;
        match &dt.table {
            Some(t) => {
                s.identifiers
                    .iter()
                    .any(|i| i.store == dt.store && &i.table == t)
                    || s.links
                        .iter()
                        .any(|l| l.store == dt.store && l.table.as_ref() == Some(t))
            }
            None => s
                .links
                .iter()
                .any(|l| l.store == dt.store && l.table.is_none()),
        }
    }

    fn erasure_rule(&mut self, name: &str, dt: &DataType, at: &KeyPath) {
        match &dt.erasure {
            None if self.is_about_subject(dt) => self.error_hint(
                Rule::MissingErasure,
                at.clone(),
                format!("data type \"{name}\" holds data about the subject but does not say what erasure does to it"),
                "add erasure = { action = \"delete\" } (or anonymise, keep_until_floor, crypto_shred)",
            ),
            None => {}
            Some(e) => {
                let eat = at.key("erasure");
                if e.action.replaces_columns() && e.anonymise.is_empty() {
                    self.error(
                        Rule::Contradiction,
                        eat.key("action"),
                        format!("erasure of \"{name}\" anonymises but names no columns"),
                    );
                }
                if !e.action.replaces_columns() && !e.anonymise.is_empty() {
                    self.error(
                        Rule::Contradiction,
                        eat.key("anonymise"),
                        format!("erasure of \"{name}\" lists columns to anonymise but its action is {}", name_of(&e.action)),
                    );
                }
                for col in e.anonymise.keys() {
                    self.known_column(name, dt, col, eat.key("anonymise").key(col.as_str()));
                }
                if e.action.replaces_columns() {
                    self.keeps_the_person(name, dt, &e.anonymise, e.action == ErasureAction::Pseudonymise, &eat, "erasure");
                }
                let protected = floors_on(self.policy, name).next().is_some();
                if e.action == ErasureAction::KeepUntilFloor && !protected {
                    self.error(
                        Rule::Contradiction,
                        eat.key("action"),
                        format!("erasure keeps \"{name}\" until its legal floor, but no legal floor applies to it"),
                    );
                } else if e.action == ErasureAction::KeepUntilFloor {
                    let overriding = floors_on(self.policy, name)
                        .any(|(_, f)| f.overrides.contains(&RequestKind::Erasure));
                    if !overriding {
                        self.error_hint(
                            Rule::Contradiction,
                            eat.key("action"),
                            format!("erasure keeps \"{name}\" until its legal floor, but no floor on it overrides erasure, so an erasure deletes it at once"),
                            "anonymise the person out of the kept records instead, or cite the law that requires keeping them (basis = \"statute\", overrides = [\"erasure\"])",
                        );
                    }
                }
            }
        }
    }

    /// An anonymise-and-keep must take the person out: every reference to
    /// the subject and every contact column replaced, and not by a keyed
    /// pseudonym (pseudonymisation keeps personal data while the key exists,
    /// GDPR Art. 4(5) and Recital 26) unless the action says `pseudonymise`.
    fn keeps_the_person(
        &mut self,
        name: &str,
        dt: &DataType,
        methods: &BTreeMap<SqlIdent, AnonymiseMethod>,
        pseudonymise: bool,
        at: &KeyPath,
        what: &str,
    ) {
        let mut links = self.subject_columns(&dt.store, dt.table.as_ref());
        // The account row's own key stays: kept rows refer to it, and with
        // every other identifier replaced it names no one.
        for i in &self.policy.subject.identifiers {
            if i.kind == IdentifierKind::UserId
                && i.store == dt.store
                && dt.table.as_ref() == Some(&i.table)
            {
                links.remove(i.column.as_str());
            }
        }
        for (col, cat) in &dt.columns {
            let personal = links.contains(col.as_str()) || *cat == Category::Contact;
            if personal && !methods.contains_key(col) {
                self.error(
                    Rule::Contradiction,
                    at.key("anonymise"),
                    format!("{what} of \"{name}\" keeps its rows but leaves {name}.{col} ({}) as it was, so they still identify the person",
                        if links.contains(col.as_str()) { "an identifier of or reference to the subject".to_owned() } else { name_of(cat) }),
                );
            }
        }
        let pseudonyms: Vec<&SqlIdent> = methods
            .iter()
            .filter(|(_, m)| **m == AnonymiseMethod::Pseudonym)
            .map(|(c, _)| c)
            .collect();
        if !pseudonymise {
            for col in &pseudonyms {
                self.error_hint(
                    Rule::Contradiction,
                    at.key("anonymise").key(col.as_str()),
                    format!("{what} of \"{name}\" calls a keyed pseudonym of {name}.{col} anonymisation, but it is pseudonymisation: the rows stay personal data while the pseudonym key exists (GDPR Art. 4(5), Recital 26)"),
                    "say so with action = \"pseudonymise\", or anonymise with null, placeholder or random",
                );
            }
        } else if pseudonyms.is_empty() {
            self.error(
                Rule::Contradiction,
                at.key("action"),
                format!(
                    "{what} of \"{name}\" pseudonymises but replaces no column with a pseudonym"
                ),
            );
        }
    }

    /// Raw IPs and fingerprints where the policy promises they are never stored.
    fn raw_identifiers(&mut self, name: &str, dt: &DataType, at: &KeyPath) {
        let ps = &self.policy.pseudonymisation;
        let checks = [
            (Category::IpAddress, ps.ip.as_ref(), "IP addresses"),
            (
                Category::DeviceFingerprint,
                ps.device_fingerprint.as_ref(),
                "device fingerprints",
            ),
        ];
        for (cat, rule, what) in checks {
            let Some(rule) = rule else { continue };
            if rule.store_raw {
                continue;
            }
            if dt.categories.contains(&cat) {
                self.error(
                    Rule::Contradiction,
                    at.key("categories"),
                    format!("data type \"{name}\" holds raw {what}, but pseudonymisation says they are never stored raw"),
                );
            }
            for (col, c) in &dt.columns {
                if *c == cat {
                    self.error(
                        Rule::Contradiction,
                        at.key("columns").key(col.as_str()),
                        format!("column {name}.{col} holds raw {what}, but pseudonymisation says they are never stored raw"),
                    );
                }
            }
        }
    }

    fn floors(&mut self) {
        for (fname, floor) in &self.policy.legal_floors {
            let at = path!["legal_floors", fname];
            match floor.basis {
                None => self.error_hint(
                    Rule::MissingKey,
                    at.clone(),
                    format!("legal floor \"{fname}\" does not say whether a law requires it or the organisation promised it"),
                    "add basis = \"statute\" (citing the law in `law`) or basis = \"commitment\"",
                ),
                Some(FloorBasis::Commitment) if floor.overrides.contains(&RequestKind::Erasure) => {
                    let i = floor.overrides.iter().position(|r| *r == RequestKind::Erasure).unwrap_or(0);
                    self.error_hint(
                        Rule::BreaksLaw,
                        at.key("overrides").index(i),
                        format!("legal floor \"{fname}\" is a commitment, not a law, so it cannot keep a person's data against their erasure (GDPR Art. 17(3)(b) allows only legal obligations)"),
                        "drop \"erasure\" from overrides, and have erasure anonymise the person out of the kept records",
                    );
                }
                _ => {}
            }
            for (i, dname) in floor.applies_to.iter().enumerate() {
                let Some(dt) = self.policy.data_types.get(dname) else {
                    self.error(
                        Rule::UnknownReference,
                        at.key("applies_to").index(i),
                        format!("legal floor \"{fname}\" applies to data type \"{dname}\", which is not defined"),
                    );
                    continue;
                };
                let dat = path!["data_types", dname];
                if let Some(r) = &dt.retention {
                    if let Some(why) = falls_short(r.period, r.from, floor) {
                        self.error_hint(
                            Rule::RetentionBelowFloor,
                            dat.key("retention").key("period"),
                            format!("retention of \"{dname}\" ({} from {}) {why} legal floor \"{fname}\" ({} from {}, {})",
                                r.period, name_of(&r.from), floor.period, name_of(&floor.from), floor.law),
                            "keep it at least as long as the floor, counted from the same event or a later one",
                        );
                    }
                    for (j, rule) in r.rules.iter().enumerate() {
                        if let Some(why) = falls_short(rule.period, r.from, floor) {
                            self.error(
                                Rule::RetentionBelowFloor,
                                dat.key("retention").key("rules").index(j).key("period"),
                                format!("conditional retention of \"{dname}\" ({}) {why} legal floor \"{fname}\" ({})", rule.period, floor.period),
                            );
                        }
                    }
                    if r.configurable && r.min.is_none() {
                        self.error_hint(
                            Rule::RetentionBelowFloor,
                            dat.key("retention").key("configurable"),
                            format!("retention of \"{dname}\" is configurable with no min, so a customer may choose a period below legal floor \"{fname}\" ({} from {}, {})",
                                floor.period, name_of(&floor.from), floor.law),
                            "set min to the floor or above",
                        );
                    }
                    if let Some(min) = r.min {
                        if r.configurable && falls_short(min, r.from, floor).is_some() {
                            self.error(
                                Rule::RetentionBelowFloor,
                                dat.key("retention").key("min"),
                                format!("configurable retention of \"{dname}\" may be set to {min}, below legal floor \"{fname}\" ({})", floor.period),
                            );
                        }
                    }
                }
                if floor.overrides.contains(&RequestKind::Erasure) {
                    self.floor_erasure(fname, floor, dname, dt, &dat);
                }
                self.floor_basis(fname, floor, dname, dt, &at, &dat);
            }
        }
    }

    /// A statute's floor on KYC or financial records is a legal obligation
    /// (GDPR Art. 17(3)(b)): erasure may neither destroy those records nor
    /// unlink them from their customer while it runs.
    fn floor_basis(
        &mut self,
        fname: &str,
        floor: &LegalFloor,
        dname: &str,
        dt: &DataType,
        at: &KeyPath,
        dat: &KeyPath,
    ) {
        if floor.basis != Some(FloorBasis::Statute)
            || !(holds(dt, Category::Kyc) || holds(dt, Category::Financial))
        {
            return;
        }
        let Some(e) = &dt.erasure else { return };
        let overrides = floor.overrides.contains(&RequestKind::Erasure);
        if !overrides && matches!(e.action, ErasureAction::Delete | ErasureAction::CryptoShred) {
            self.error_hint(
                Rule::BreaksLaw,
                at.key("overrides"),
                format!("legal floor \"{fname}\" is a legal obligation on \"{dname}\" ({}), but it does not override erasure, so an erasure request would {} records the law requires to be kept (GDPR Art. 17(3)(b))",
                    floor.law, if e.action == ErasureAction::Delete { "delete" } else { "crypto-shred" }),
                "add \"erasure\" to overrides and set the data type's erasure to keep_until_floor",
            );
        }
        if overrides && e.action.replaces_columns() {
            let links = self.subject_columns(&dt.store, dt.table.as_ref());
            for col in e.anonymise.keys() {
                if links.contains(col.as_str()) {
                    self.error_hint(
                        Rule::ErasureDeletesProtected,
                        dat.key("erasure").key("anonymise").key(col.as_str()),
                        format!("erasure would unlink {dname}.{col} from its customer, but legal floor \"{fname}\" requires the records to be producible for that customer until it ends ({} from {})",
                            floor.period, name_of(&floor.from)),
                        "use action = \"keep_until_floor\": the rows are deleted when the floor ends",
                    );
                }
            }
        }
    }

    /// Under DPDP (an Indian business), KYC and financial records meet the
    /// Indian statutes' floors, whatever floor the policy wrote.
    fn india_floors(&mut self) {
        if self.policy.regimes.dpdp.is_none() {
            return;
        }
        let policy = self.policy;
        let (india, why) = law::INDIA_FINANCIAL_YEAR;
        if let Some(fy) = policy.organisation.financial_year {
            if fy != india {
                self.error(
                    Rule::BreaksLaw,
                    path!["organisation", "financial_year"],
                    format!("the financial year starts {} at UTC{}, but the policy answers to DPDP and India's records laws count in India's financial year, from 1 April in Indian Standard Time (starts = \"04-01\", utc_offset = \"+05:30\"; {why})",
                        fy.starts, fy.utc_offset),
                );
            }
        }
        for (name, dt) in &policy.data_types {
            let law = if holds(dt, Category::Kyc) {
                law::INDIA_KYC_RECORDS
            } else if dt.categories.contains(&Category::Financial) {
                law::INDIA_FINANCIAL_RECORDS
            } else {
                continue;
            };
            let Some(r) = &dt.retention else { continue };
            let floor = LegalFloor {
                law: law.citation.to_owned(),
                basis: Some(FloorBasis::Statute),
                period: law.period,
                from: law.from,
                applies_to: Vec::new(),
                overrides: Vec::new(),
            };
            if let Some(why) = falls_short(r.period, r.from, &floor) {
                self.error(
                    Rule::BreaksLaw,
                    path!["data_types", name, "retention", "period"],
                    format!("retention of \"{name}\" ({} from {}) {why} what Indian law requires of these records: {} from {} ({})",
                        r.period, name_of(&r.from), law.period, name_of(&law.from), law.citation),
                );
            }
        }
    }

    /// KYC data anywhere (by label or column) falls under the floor that
    /// protects KYC data elsewhere in the policy.
    fn kyc_everywhere(&mut self) {
        let policy = self.policy;
        let covered = |n: &str| floors_on(policy, n).next().is_some();
        let Some((fname, protected)) = policy.legal_floors.iter().find_map(|(fname, f)| {
            f.applies_to
                .iter()
                .find(|a| {
                    policy
                        .data_types
                        .get(*a)
                        .is_some_and(|d| holds(d, Category::Kyc))
                })
                .map(|a| (fname, a))
        }) else {
            return;
        };
        for (name, dt) in &policy.data_types {
            if holds(dt, Category::Kyc) && !covered(name) {
                self.error(
                    Rule::RetentionBelowFloor,
                    holds_at(&path!["data_types", name], dt, Category::Kyc),
                    format!("data type \"{name}\" holds KYC data, but no legal floor applies to it, while legal floor \"{fname}\" protects the KYC data in \"{protected}\""),
                );
            }
        }
    }

    fn floor_erasure(
        &mut self,
        fname: &str,
        floor: &LegalFloor,
        dname: &str,
        dt: &DataType,
        dat: &KeyPath,
    ) {
        let Some(e) = &dt.erasure else { return };
        match e.action {
            ErasureAction::Delete | ErasureAction::CryptoShred => self.error_hint(
                Rule::ErasureDeletesProtected,
                dat.key("erasure").key("action"),
                format!("erasure would {} \"{dname}\", which legal floor \"{fname}\" protects from erasure for {} ({})",
                    if e.action == ErasureAction::Delete { "delete" } else { "crypto-shred" }, floor.period, floor.law),
                "use action = \"keep_until_floor\", or \"anonymise\" for the references only",
            ),
            ErasureAction::Anonymise | ErasureAction::Pseudonymise => {
                for col in e.anonymise.keys() {
                    let cat = dt.columns.get(col.as_str());
                    if matches!(cat, Some(Category::Kyc | Category::Financial)) {
                        self.error(
                            Rule::ErasureDeletesProtected,
                            dat.key("erasure").key("anonymise").key(col.as_str()),
                            format!("erasure would anonymise {dname}.{col}, the {} data that legal floor \"{fname}\" protects", category_name(cat)),
                        );
                    }
                }
            }
            ErasureAction::KeepUntilFloor => {}
        }
    }

    fn tiers(&mut self) {
        for (tname, tier) in &self.policy.tiers {
            for (dname, &period) in &tier.retention {
                let at = path!["tiers", tname, "retention", dname];
                let Some(dt) = self.policy.data_types.get(dname) else {
                    self.error(
                        Rule::UnknownReference,
                        at,
                        format!("tier \"{tname}\" sets retention of data type \"{dname}\", which is not defined"),
                    );
                    continue;
                };
                let Some(r) = &dt.retention else { continue };
                if !r.configurable {
                    self.error_hint(
                        Rule::TierOverridesFixed,
                        at,
                        format!("tier \"{tname}\" overrides the retention of \"{dname}\", which is not configurable"),
                        "remove the override, or mark the retention configurable with bounds",
                    );
                    continue;
                }
                if !r.tiers.is_empty() && !r.tiers.contains(tname) {
                    self.error(
                        Rule::TierOverridesFixed,
                        at,
                        format!("tier \"{tname}\" may not configure the retention of \"{dname}\"; only {} may",
                            r.tiers.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(", ")),
                    );
                    continue;
                }
                if let Some(min) = r
                    .min
                    .filter(|&m| period < m || period.partial_cmp(&m).is_none())
                {
                    self.error(
                        Rule::TierOutOfBounds,
                        at.clone(),
                        format!(
                            "tier \"{tname}\" sets \"{dname}\" to {period}, below its min {min}"
                        ),
                    );
                }
                if let Some(max) = r
                    .max
                    .filter(|&m| period > m || period.partial_cmp(&m).is_none())
                {
                    self.error(
                        Rule::TierOutOfBounds,
                        at.clone(),
                        format!(
                            "tier \"{tname}\" sets \"{dname}\" to {period}, above its max {max}"
                        ),
                    );
                }
                for (fname, floor) in floors_on(self.policy, dname) {
                    {
                        if let Some(why) = falls_short(period, r.from, floor) {
                            self.error(
                                Rule::RetentionBelowFloor,
                                at.clone(),
                                format!("tier \"{tname}\" sets \"{dname}\" to {period}, which {why} legal floor \"{fname}\" ({})", floor.period),
                            );
                        }
                    }
                }
            }
        }
    }

    fn erasure(&mut self) {
        let e = &self.policy.erasure;
        if e.cancellable && e.grace_period.is_none() {
            self.error(
                Rule::Contradiction,
                path!["erasure", "cancellable"],
                "erasure is cancellable but has no grace period to cancel in".to_owned(),
            );
        }
        if e.crypto_shred_vault {
            let policy = self.policy;
            for (fname, floor) in &policy.legal_floors {
                if !floor.overrides.contains(&RequestKind::Erasure) {
                    continue;
                }
                for dname in &floor.applies_to {
                    let is_kyc = policy
                        .data_types
                        .get(dname)
                        .is_some_and(|dt| holds(dt, Category::Kyc));
                    if is_kyc {
                        self.error(
                            Rule::ErasureDeletesProtected,
                            path!["erasure", "crypto_shred_vault"],
                            format!("erasure crypto-shreds vault keys, but legal floor \"{fname}\" protects KYC data type \"{dname}\" from erasure"),
                        );
                    }
                }
            }
        }
        let Some(grace) = e.grace_period else { return };
        // Data gone while the request may still be cancelled.
        if e.cancellable {
            for (name, dt) in &self.policy.data_types {
                let Some(r) = &dt.retention else { continue };
                let acts = r.action.destroys() || r.action == ExpiryAction::Anonymise;
                let within = match (r.period.min_hours(), grace.max_hours()) {
                    (Some(p), Some(g)) => p < g,
                    _ => false,
                };
                if r.from == Anchor::DeletionRequested && acts && within {
                    self.error(
                        Rule::Contradiction,
                        path!["data_types", name, "retention", "period"],
                        format!("retention of \"{name}\" {} {} after the deletion request, inside the {grace} grace period in which the request can still be cancelled",
                            if r.action == ExpiryAction::Anonymise { "anonymises it" } else { "deletes it" }, r.period),
                    );
                }
            }
        }
        for (regime, clock) in self.clocks() {
            // The statute's shortest month (28 days from 1 February) binds
            // as well as the policy's own promise.
            let statute = match regime {
                "gdpr" => Some(law::GDPR_RESPONSE),
                "ccpa" => Some(law::CCPA_RESPONSE),
                "dpdp" => Some(law::DPDP_RESPONSE),
                _ => None,
            };
            let shortest = [
                clock.response.min_hours(),
                statute.and_then(|s| s.period.min_hours()),
            ]
            .into_iter()
            .flatten()
            .min();
            let too_long = match (grace.max_hours(), shortest) {
                (Some(g), Some(r)) => g >= r,
                (None, _) => true,
                _ => false,
            };
            if too_long {
                self.error(
                    Rule::Contradiction,
                    path!["erasure", "grace_period"],
                    match statute.filter(|st| st.period.min_hours() < clock.response.min_hours()) {
                        Some(st) => format!("erasure grace period {grace} leaves no time to answer within the {} response deadline: {} ({}) can be as short as {} days", regime.to_uppercase(), st.period, st.citation, st.period.min_hours().unwrap_or(0) / 24),
                        None => format!("erasure grace period {grace} leaves no time to answer within the {} response deadline ({})", regime.to_uppercase(), clock.response),
                    },
                );
            }
        }
    }

    fn clocks(&self) -> Vec<(&'static str, &'a RegimeClock)> {
        let r = &self.policy.regimes;
        [("gdpr", &r.gdpr), ("ccpa", &r.ccpa), ("dpdp", &r.dpdp)]
            .into_iter()
            .filter_map(|(n, c)| c.as_ref().map(|c| (n, c)))
            .collect()
    }

    fn regimes(&mut self) {
        let clocks = self.clocks();
        if clocks.is_empty() {
            self.error(
                Rule::MissingKey,
                path!["regimes"],
                "the policy names no legal regime (gdpr, ccpa, dpdp), so no request deadline can be computed".to_owned(),
            );
        }
        for (name, clock) in clocks {
            let at = path!["regimes", name];
            let (response, extension) = match name {
                "gdpr" => (law::GDPR_RESPONSE, Some(law::GDPR_EXTENSION)),
                "ccpa" => (law::CCPA_RESPONSE, Some(law::CCPA_EXTENSION)),
                _ => (law::DPDP_RESPONSE, None),
            };
            self.within(
                clock.response,
                response,
                at.key("response"),
                "response deadline",
            );
            match (clock.extension, extension) {
                (Some(ext), Some(limit)) => {
                    self.within(ext, limit, at.key("extension"), "extension")
                }
                (Some(_), None) => self.error(
                    Rule::BreaksLaw,
                    at.key("extension"),
                    format!(
                        "{} provides no extension of the response deadline",
                        name.to_uppercase()
                    ),
                ),
                _ => {}
            }
            if name == "ccpa" {
                match clock.acknowledge_business_days {
                    Some(d) if d > law::CCPA_ACKNOWLEDGE_BUSINESS_DAYS => self.error(
                        Rule::BreaksLaw,
                        at.key("acknowledge_business_days"),
                        format!("CCPA requires acknowledging a request within {} business days, not {d} (Cal. Code Regs. tit. 11, §7021)", law::CCPA_ACKNOWLEDGE_BUSINESS_DAYS),
                    ),
                    None => self.error(
                        Rule::BreaksLaw,
                        at.clone(),
                        "CCPA requires acknowledging a request within 10 business days; set acknowledge_business_days".to_owned(),
                    ),
                    _ => {}
                }
            } else if clock.acknowledge_business_days.is_some() {
                self.warn(
                    Rule::Contradiction,
                    at.key("acknowledge_business_days"),
                    format!("{} has no acknowledgement clock; acknowledge_business_days is only enforced for CCPA", name.to_uppercase()),
                );
            }
            if name == "dpdp" {
                if let Some(p) = clock.inactivity_erasure {
                    self.within(
                        p,
                        law::DPDP_INACTIVITY,
                        at.key("inactivity_erasure"),
                        "inactivity erasure",
                    );
                }
                if let Some(n) = clock.inactivity_notice {
                    if !n.covers(law::DPDP_INACTIVITY_NOTICE.period) {
                        self.error(
                            Rule::BreaksLaw,
                            at.key("inactivity_notice"),
                            format!(
                                "inactivity notice {n} is shorter than the {} that {} requires",
                                law::DPDP_INACTIVITY_NOTICE.period,
                                law::DPDP_INACTIVITY_NOTICE.citation
                            ),
                        );
                    }
                }
                if clock.inactivity_erasure.is_some() != clock.inactivity_notice.is_some() {
                    self.error(
                        Rule::MissingKey,
                        at.clone(),
                        "DPDP inactivity erasure and its notice come together; set both inactivity_erasure and inactivity_notice".to_owned(),
                    );
                }
                self.dpdp_logs();
            } else {
                for key in ["inactivity_erasure", "inactivity_notice"] {
                    if self.map.contains(&at.key(key)) {
                        self.warn(
                            Rule::Contradiction,
                            at.key(key),
                            format!(
                                "{key} is a DPDP rule and has no effect under {}",
                                name.to_uppercase()
                            ),
                        );
                    }
                }
            }
        }
        self.breach();
    }

    /// Breach notification under every regime named.
    fn breach(&mut self) {
        let r = &self.policy.regimes;
        let Some(b) = &self.policy.breach else {
            let needs = [
                (r.gdpr.is_some(), "gdpr", "GDPR Art. 33 requires notifying the authority of a breach within 72h"),
                (r.dpdp.is_some(), "dpdp", "DPDP Rules 2025 r. 7 require reporting a breach to the Board and to each affected person, and CERT-In requires reporting incidents within 6h"),
                (r.ccpa.is_some(), "ccpa", "Cal. Civ. Code §1798.82 requires telling affected residents of a breach"),
            ];
            if let Some((_, regime, why)) = needs.into_iter().find(|n| n.0) {
                self.error(
                    Rule::BreaksLaw,
                    path!["regimes", regime],
                    format!("{why}; add [breach]"),
                );
            }
            return;
        };
        if r.gdpr.is_some() {
            self.within(
                b.notify_authority_within,
                law::GDPR_BREACH,
                path!["breach", "notify_authority_within"],
                "breach notification deadline",
            );
        }
        if r.dpdp.is_some() {
            self.within(
                b.notify_authority_within,
                law::DPDP_BREACH_REPORT,
                path!["breach", "notify_authority_within"],
                "breach report to the Data Protection Board",
            );
            match b.notify_cert_in_within {
                Some(p) => self.within(
                    p,
                    law::CERT_IN_INCIDENT,
                    path!["breach", "notify_cert_in_within"],
                    "incident report to CERT-In",
                ),
                None => self.error(
                    Rule::BreaksLaw,
                    path!["breach"],
                    format!("an organisation under DPDP reports cyber incidents to CERT-In within {} ({}); set notify_cert_in_within", law::CERT_IN_INCIDENT.period, law::CERT_IN_INCIDENT.citation),
                ),
            }
        }
        let subjects = [
            (r.dpdp.is_some(), "DPDP", law::DPDP_BREACH_SUBJECTS),
            (r.ccpa.is_some(), "CCPA", law::CCPA_BREACH_SUBJECTS),
        ];
        if !b.notify_subjects {
            if let Some((_, regime, citation)) = subjects.into_iter().find(|s| s.0) {
                self.error(
                    Rule::BreaksLaw,
                    path!["breach"],
                    format!("under {regime} the people a breach affects must be told ({citation}); set notify_subjects = true"),
                );
            }
        }
    }

    /// DPDP keeps the logs of processing, and the traffic data that goes
    /// with them, for at least a year, whatever the data is labelled: a
    /// data type is such a log when its label or any column says it holds
    /// logs, telemetry, audit trails, or network or device identifiers.
    fn dpdp_logs(&mut self) {
        const PROCESSING: [(Category, &str); 7] = [
            (Category::Logs, "logs"),
            (Category::Telemetry, "telemetry"),
            (Category::Audit, "an audit trail"),
            (Category::IpAddress, "IP addresses"),
            (Category::IpHash, "hashed IP addresses"),
            (Category::DeviceFingerprint, "device fingerprints"),
            (Category::DeviceHash, "hashed device fingerprints"),
        ];
        for (name, dt) in &self.policy.data_types {
            let what: Vec<&str> = PROCESSING
                .iter()
                .filter(|(c, _)| holds(dt, *c))
                .map(|(_, w)| *w)
                .collect();
            if what.is_empty() {
                continue;
            }
            let Some(r) = &dt.retention else { continue };
            // Every period any of its rows may be kept: the default, a
            // conditional rule's, and a customer's lowest choice (`None`: a
            // configurable retention with no minimum, any period at all).
            let periods = std::iter::once((
                Some(r.period),
                path!["data_types", name, "retention", "period"],
            ))
            .chain(r.rules.iter().enumerate().map(|(i, rule)| {
                (
                    Some(rule.period),
                    path!["data_types", name, "retention", "rules", i, "period"],
                )
            }))
            .chain(r.configurable.then(|| match r.min {
                Some(min) => (Some(min), path!["data_types", name, "retention", "min"]),
                None => (None, path!["data_types", name, "retention", "configurable"]),
            }));
            for (period, at) in periods {
                let kept = match period {
                    Some(p) if p.covers(law::DPDP_LOG_FLOOR.period) => continue,
                    Some(p) => format!("is kept {p}"),
                    None => "a customer may choose any period, having no min".to_owned(),
                };
                self.error(
                    Rule::BreaksLaw,
                    at,
                    format!(
                        "\"{name}\" holds {}, logs of processing or traffic data that {} keeps at least {} whatever their label, but {kept}",
                        join_and(&what),
                        law::DPDP_LOG_FLOOR.citation,
                        law::DPDP_LOG_FLOOR.period
                    ),
                );
            }
        }
    }

    /// A promised period must not be longer than the statute for every start date.
    fn within(&mut self, promised: RetentionPeriod, statute: Statute, at: KeyPath, what: &str) {
        let longer = match (promised.min_hours(), statute.period.max_hours()) {
            (None, _) => true,
            (Some(p), Some(s)) => p > s,
            (Some(_), None) => false,
        };
        if longer {
            self.error(
                Rule::BreaksLaw,
                at,
                format!(
                    "{what} {promised} is longer than the {} that {} allows",
                    statute.period, statute.citation
                ),
            );
        }
    }

    fn export(&mut self) {
        let Some(export) = &self.policy.export else {
            let r = &self.policy.regimes;
            if r.gdpr.is_some() || r.ccpa.is_some() || r.dpdp.is_some() {
                self.error(
                    Rule::BreaksLaw,
                    path!["regimes"],
                    "every regime named grants a right of access, but the policy has no [export]"
                        .to_owned(),
                );
            }
            return;
        };
        if export.formats.is_empty() {
            self.error(
                Rule::MissingKey,
                path!["export", "formats"],
                "export names no format".to_owned(),
            );
        }
        if export.link_expiry == RetentionPeriod::Indefinite {
            self.error(
                Rule::Contradiction,
                path!["export", "link_expiry"],
                "an export's download link never expires, so anyone who ever sees it can fetch the person's data; give it a lifetime (hours or days)".to_owned(),
            );
        }
        for (i, name) in export.data_types.iter().enumerate() {
            if !self.policy.data_types.contains_key(name) {
                self.error(
                    Rule::UnknownReference,
                    path!["export", "data_types", i],
                    format!("export includes data type \"{name}\", which is not defined"),
                );
            }
        }
        // Every regime grants access (GDPR Art. 15, CCPA §1798.110, DPDP
        // s. 11): what is about the person is theirs to see.
        let regime = {
            let r = &self.policy.regimes;
            [
                (r.gdpr.is_some(), "GDPR Art. 15"),
                (r.ccpa.is_some(), "Cal. Civ. Code §1798.110"),
                (r.dpdp.is_some(), "DPDP Act 2023 s. 11"),
            ]
            .into_iter()
            .find(|g| g.0)
            .map(|g| g.1)
        };
        for (name, dt) in &self.policy.data_types {
            if self.is_about_subject(dt) && !export.data_types.contains(name) {
                match regime {
                    Some(citation) => self.error(
                        Rule::BreaksLaw,
                        path!["export", "data_types"],
                        format!("data type \"{name}\" holds data about the subject but is left out of the export, which the right of access covers ({citation})"),
                    ),
                    None => self.warn(
                        Rule::Contradiction,
                        path!["export", "data_types"],
                        format!("data type \"{name}\" holds data about the subject but is left out of the export"),
                    ),
                }
            }
        }
    }

    fn redaction(&mut self) {
        let red = &self.policy.redaction;
        let mut custom = BTreeSet::new();
        for (i, det) in red.custom.iter().enumerate() {
            let at = path!["redaction", "custom", i];
            if !is_snake_name(&det.name) {
                self.error(
                    Rule::InvalidValue,
                    at.key("name"),
                    format!("custom detector name \"{}\" must be snake_case", det.name),
                );
            }
            if detectors::is_detector_kind(&det.name) || !custom.insert(det.name.as_str()) {
                self.error(
                    Rule::Duplicate,
                    at.key("name"),
                    format!("detector name \"{}\" is already taken", det.name),
                );
            }
            self.pattern(&det.pattern, at.key("pattern"));
            for (j, kw) in det.keywords.iter().enumerate() {
                if kw.is_empty() {
                    self.error(
                        Rule::InvalidValue,
                        at.key("keywords").index(j),
                        format!("custom detector \"{}\" has an empty keyword, which would anchor everywhere", det.name),
                    );
                }
            }
        }
        for (i, p) in red.allowlist.patterns.iter().enumerate() {
            self.pattern(p, path!["redaction", "allowlist", "patterns", i]);
        }
        let known = |d: &str| detectors::is_detector_kind(d) || custom.contains(d);
        for (i, rule) in red.rules.iter().enumerate() {
            let at = path!["redaction", "rules", i];
            if rule.detectors.is_empty() {
                self.error(
                    Rule::MissingKey,
                    at.key("detectors"),
                    "redaction rule names no detectors".to_owned(),
                );
            }
            for (j, d) in rule.detectors.iter().enumerate() {
                if d != "all" && !known(d) {
                    self.error_hint(
                        Rule::UnknownReference,
                        at.key("detectors").index(j),
                        format!("detector \"{d}\" is neither a built-in kind nor a custom detector"),
                        "built-in kinds are listed in SPEC.md section 2 (email, phone, credit_card, in_aadhaar, ...)",
                    );
                }
            }
            for (j, n) in rule.data_types.iter().enumerate() {
                if !self.policy.data_types.contains_key(n) {
                    self.error(
                        Rule::UnknownReference,
                        at.key("data_types").index(j),
                        format!(
                            "redaction rule applies to data type \"{n}\", which is not defined"
                        ),
                    );
                }
            }
            self.operator(rule.operator, rule.keep_last, at);
        }
        for (d, choice) in &red.operators {
            let at = path!["redaction", "operators", d];
            if !known(d) {
                self.error(
                    Rule::UnknownReference,
                    at.clone(),
                    format!("operator chosen for detector \"{d}\", which is neither a built-in kind nor a custom detector"),
                );
            }
            self.operator(choice.operator, choice.keep_last, at);
        }
        // Prompt content against the capture setting.
        for (name, dt) in &self.policy.data_types {
            if !holds(dt, Category::PromptContent) {
                continue;
            }
            match red.prompt_capture {
                PromptCapture::Never => {
                    let at = holds_at(&path!["data_types", name], dt, Category::PromptContent);
                    let what = match only_by_column(dt, Category::PromptContent) {
                        Some(col) => format!("column {name}.{col}"),
                        None => format!("data type \"{name}\""),
                    };
                    self.error(
                        Rule::Contradiction,
                        at,
                        format!("{what} stores prompt content, but prompt capture is \"never\""),
                    );
                }
                PromptCapture::AdminOptIn => {
                    let covered = red
                        .rules
                        .iter()
                        .any(|r| r.data_types.is_empty() || r.data_types.contains(name));
                    if !covered {
                        self.error(
                            Rule::Contradiction,
                            path!["data_types", name],
                            format!("prompt content \"{name}\" is stored but no redaction rule applies to it"),
                        );
                    }
                }
            }
        }
    }

    fn operator(&mut self, op: Operator, keep_last: Option<u32>, at: KeyPath) {
        if op != Operator::Mask && keep_last.is_some() {
            self.error(
                Rule::Contradiction,
                at.key("keep_last"),
                format!(
                    "keep_last only applies to the mask operator, not {}",
                    name_of(&op)
                ),
            );
        }
    }

    fn pattern(&mut self, pattern: &str, at: KeyPath) {
        let built = regex::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .build();
        if let Err(e) = built {
            let first = e.to_string();
            let last = first.lines().last().unwrap_or("invalid pattern").trim();
            let last = last.strip_prefix("error: ").unwrap_or(last);
            self.error(
                Rule::BadPattern,
                at,
                format!("pattern does not compile: {last}"),
            );
        }
    }

    fn pseudonymisation(&mut self) {
        let ps = &self.policy.pseudonymisation;
        for (key, rule) in [
            ("ip", &ps.ip),
            ("device_fingerprint", &ps.device_fingerprint),
        ] {
            let Some(rule) = rule else { continue };
            if rule.key_rotation.is_indefinite() {
                self.error(
                    Rule::InvalidValue,
                    path!["pseudonymisation", key, "key_rotation"],
                    "a hashing key that is never rotated keeps every hash linkable forever"
                        .to_owned(),
                );
            }
        }
    }
}

/// Why retention (period, anchor) does not meet a floor, or `None` when it does.
fn falls_short(period: RetentionPeriod, from: Anchor, floor: &LegalFloor) -> Option<&'static str> {
    if period.is_indefinite() {
        return None;
    }
    // A record is written up to a year before its financial year ends: a
    // period from creation meets one from the year's end if a year longer.
    if (from, floor.from) == (Anchor::Created, Anchor::FinancialYearEnd) {
        return match floor.period.plus_a_year() {
            Some(needed) if period.covers(needed) => None,
            _ => Some("counts from creation, up to a year before the financial year ends, and is not a year longer than"),
        };
    }
    if !from.never_before(floor.from) {
        return Some("counts from an earlier event than");
    }
    if period.covers(floor.period) {
        None
    } else if period.partial_cmp(&floor.period).is_none() {
        Some("may end before")
    } else {
        Some("is shorter than")
    }
}

fn reaches_home(
    store: &str,
    start: &str,
    homes: &BTreeSet<(&str, &str)>,
    linked: &BTreeMap<(&str, &str), Option<&str>>,
) -> bool {
    let mut at = start;
    let mut seen = BTreeSet::new();
    loop {
        if homes.contains(&(store, at)) {
            return true;
        }
        if !seen.insert(at) {
            return false;
        }
        match linked.get(&(store, at)).copied().flatten() {
            Some(next) => at = next,
            None => return false,
        }
    }
}

fn placeholders(path: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        out.push(&after[..close]);
        rest = &after[close + 1..];
    }
    out
}

fn is_snake_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The legal floors that protect data type `name`.
fn floors_on<'p>(
    policy: &'p Policy,
    name: &'p str,
) -> impl Iterator<Item = (&'p String, &'p LegalFloor)> + 'p {
    policy
        .legal_floors
        .iter()
        .filter(move |(_, f)| f.applies_to.iter().any(|a| a == name))
}

/// "a", "a and b", "a, b and c".
fn join_and(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Whether a data type holds `cat`: by its label or by any column's
/// classification (a data type labelled `identifier` with a `kyc` column
/// holds KYC data).
fn holds(dt: &DataType, cat: Category) -> bool {
    dt.categories.contains(&cat) || dt.columns.values().any(|c| *c == cat)
}

/// Where a data type says it holds `cat`: its first column so classified, or
/// its categories.
fn holds_at(dt_path: &KeyPath, dt: &DataType, cat: Category) -> KeyPath {
    match only_by_column(dt, cat) {
        Some(col) => dt_path.key("columns").key(col.as_str()),
        None => dt_path.key("categories"),
    }
}

/// The first column classified `cat`, when the data type's label does not
/// say it holds `cat`.
fn only_by_column(dt: &DataType, cat: Category) -> Option<&SqlIdent> {
    if dt.categories.contains(&cat) {
        return None;
    }
    dt.columns
        .iter()
        .find(|(_, c)| **c == cat)
        .map(|(col, _)| col)
}

fn category_name(c: Option<&Category>) -> &'static str {
    match c {
        Some(Category::Kyc) => "KYC",
        Some(Category::Financial) => "financial",
        _ => "protected",
    }
}

#[cfg(test)]
mod tests {
    use crate::check_str;

    /// A small valid policy the tests below break one rule at a time.
    const BASE: &str = r#"
version = 1
[organisation]
name = "Test"
[stores.db]
kind = "sqlite"
[stores.files]
kind = "files"
path = "var/files"
[[subject.identifiers]]
name = "user_id"
kind = "user_id"
store = "db"
table = "users"
column = "id"
[[subject.links]]
store = "db"
table = "orders"
column = "user_id"
references = "users.id"
[[subject.links]]
store = "db"
table = "order_items"
column = "order_id"
references = "orders.id"
[[subject.links]]
store = "files"
path = "{user_id}/"
[subject.events]
account_closed = "users.closed_at"
[data_types.users]
description = "u"
store = "db"
table = "users"
timestamp = "created_at"
categories = ["account"]
erasure = { action = "delete" }
retention = { period = "30d", from = "account_closed", action = "delete" }
[data_types.orders]
description = "o"
store = "db"
table = "orders"
timestamp = "created_at"
categories = ["financial"]
erasure = { action = "keep_until_floor" }
[data_types.orders.retention]
period = "7y"
from = "created"
action = "delete"
rules = [{ column = "status", equals = ["disputed"], period = "8y" }]
[data_types.order_items]
description = "i"
store = "db"
table = "order_items"
timestamp = "created_at"
categories = ["financial"]
erasure = { action = "delete" }
retention = { period = "7y", from = "created", action = "delete" }
[data_types.uploads]
description = "f"
store = "files"
path = "."
categories = ["generated_content"]
erasure = { action = "delete" }
retention = { period = "24h", from = "created", action = "delete" }
[legal_floors.tax]
law = "tax"
basis = "statute"
period = "7y"
from = "created"
applies_to = ["orders"]
overrides = ["erasure"]
[erasure]
[regimes.gdpr]
response = "1mo"
[breach]
notify_authority_within = "72h"
[export]
formats = ["json"]
link_expiry = "24h"
data_types = ["users", "orders", "order_items", "uploads"]
"#;

    fn messages(src: &str) -> Vec<String> {
        check_str(src)
            .diagnostics
            .into_iter()
            .map(|d| format!("{}: {}", d.severity, d.message))
            .collect()
    }

    fn broken(find: &str, replace: &str) -> Vec<String> {
        assert_eq!(BASE.matches(find).count(), 1, "{find:?} must occur once");
        messages(&BASE.replacen(find, replace, 1))
    }

    #[test]
    fn base_is_clean() {
        assert_eq!(messages(BASE), Vec::<String>::new());
    }

    #[test]
    fn every_anchor_needs_a_source_the_policy_names() {
        assert_eq!(
            broken("[subject.events]\naccount_closed = \"users.closed_at\"\n", ""),
            ["error: data type \"users\" counts from account_closed, but [subject.events] does not say where that is recorded"]
        );
        assert_eq!(
            broken(
                "period = \"7y\", from = \"created\", action = \"delete\" }\n[data_types.uploads]",
                "period = \"7y\", from = \"deletion_requested\", action = \"delete\" }\n[data_types.uploads]"
            ),
            ["error: data type \"order_items\" counts from deletion_requested, but [subject.events] does not say where that is recorded"]
        );
        // Order items reach users through orders: the closure is found.
        assert_eq!(
            broken(
                "period = \"7y\", from = \"created\", action = \"delete\" }\n[data_types.uploads]",
                "period = \"8y\", from = \"account_closed\", action = \"delete\" }\n[data_types.uploads]"
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            broken("account_closed = \"users.closed_at\"", "account_closed = \"accounts.closed_at\""),
            [
                "error: account_closed is recorded in table \"accounts\", which no data type in store \"db\" covers",
                "error: data type \"users\" needs account_closed from \"accounts.closed_at\", but its table \"users\" does not reach \"accounts\" through [[subject.links]] in store \"db\"",
            ]
        );
        assert_eq!(
            broken(
                "retention = { period = \"24h\", from = \"created\"",
                "retention = { period = \"24h\", from = \"account_closed\""
            ),
            ["error: data type \"uploads\" is in a files store, whose files count from their modification time; it cannot count from account_closed"]
        );
    }

    #[test]
    fn anonymisation_is_recorded_in_a_column_of_the_data_type() {
        let anonymised = "period = \"7y\", from = \"created\", action = \"anonymise\", anonymise = { order_id = \"null\" } }\n[data_types.uploads]";
        assert_eq!(
            broken(
                "period = \"7y\", from = \"created\", action = \"delete\" }\n[data_types.uploads]",
                anonymised
            ),
            ["error: data type \"order_items\" is anonymised on expiry but has no anonymised_at column to record when"]
        );
        assert_eq!(
            broken(
                "categories = [\"account\"]",
                "categories = [\"account\"]\nanonymised_at = \"gone_at\"\ncolumns = { id = \"identifier\", created_at = \"metadata\", closed_at = \"metadata\" }"
            ),
            ["error: column \"gone_at\" is not among the columns of data type \"users\""]
        );
        assert_eq!(
            broken(
                "rules = [{ column = \"status\", equals = [\"disputed\"], period = \"8y\" }]",
                "rules = [{ column = \"status\", equals = [\"disputed\"], period = \"8y\" }]\ncustomer = { period = \"users.log_retention\" }"
            ),
            ["error: retention of \"orders\" says where customers record their choice, but is not configurable"]
        );
    }

    #[test]
    fn conditional_rule_below_floor() {
        assert_eq!(
            broken("period = \"8y\"", "period = \"2y\""),
            ["error: conditional retention of \"orders\" (2y) is shorter than legal floor \"tax\" (7y)"]
        );
    }

    #[test]
    fn periods_that_may_end_before_the_floor() {
        // 84 months is 7 years; 2555 days is not, in a leap-year span.
        assert_eq!(
            broken(
                "period = \"7y\"\nfrom = \"created\"\naction = \"delete\"\nrules",
                "period = \"2556d\"\nfrom = \"created\"\naction = \"delete\"\nrules"
            ),
            ["error: retention of \"orders\" (2556d from created) may end before legal floor \"tax\" (7y from created, tax)"]
        );
        assert_eq!(
            broken(
                "period = \"7y\"\nfrom = \"created\"\naction = \"delete\"\nrules",
                "period = \"84mo\"\nfrom = \"created\"\naction = \"delete\"\nrules"
            ),
            Vec::<String>::new()
        );
    }

    #[test]
    fn reference_chains_must_reach_an_identifier() {
        assert_eq!(
            broken("references = \"users.id\"", "references = \"order_items.id\""),
            [
                "error: link orders.user_id is part of a reference cycle that never reaches a subject identifier",
                "error: link order_items.order_id is part of a reference cycle that never reaches a subject identifier",
            ]
        );
    }

    #[test]
    fn file_links_need_a_known_placeholder() {
        assert_eq!(
            broken("path = \"{user_id}/\"", "path = \"{uid}/\""),
            ["error: path \"{uid}/\" uses {uid}, which is not a subject identifier"]
        );
        assert_eq!(
            broken("path = \"{user_id}/\"", "path = \"all/\""),
            ["error: path \"all/\" has no {identifier} placeholder, so it cannot find one person's files"]
        );
    }

    #[test]
    fn files_can_only_be_deleted() {
        assert_eq!(
            broken(
                "retention = { period = \"24h\", from = \"created\", action = \"delete\" }",
                "retention = { period = \"24h\", from = \"created\", action = \"crypto_shred\" }"
            ),
            ["error: \"uploads\" is a files store; files can only be deleted on expiry"]
        );
    }

    #[test]
    fn tiers_below_min_and_floor() {
        let src = BASE
            .replace(
                "period = \"7y\"\nfrom = \"created\"\naction = \"delete\"\nrules",
                "period = \"7y\"\nfrom = \"created\"\naction = \"delete\"\nconfigurable = true\nmin = \"6y\"\nrules",
            )
            + "[tiers.free.retention]\norders = \"1y\"\n";
        assert_eq!(
            messages(&src),
            [
                "error: configurable retention of \"orders\" may be set to 6y, below legal floor \"tax\" (7y)",
                "error: tier \"free\" sets \"orders\" to 1y, below its min 6y",
                "error: tier \"free\" sets \"orders\" to 1y, which is shorter than legal floor \"tax\" (7y)",
            ]
        );
    }

    #[test]
    fn crypto_shredding_kyc_at_erasure_breaks_its_floor() {
        let src = BASE
            .replace("[erasure]\n", "[erasure]\ncrypto_shred_vault = true\n")
            .replace(
                "categories = [\"financial\"]\nerasure = { action = \"keep_until_floor\" }",
                "categories = [\"kyc\"]\nerasure = { action = \"keep_until_floor\" }",
            );
        assert_eq!(
            messages(&src),
            ["error: erasure crypto-shreds vault keys, but legal floor \"tax\" protects KYC data type \"orders\" from erasure"]
        );
    }

    #[test]
    fn unknown_keys_are_all_reported() {
        let src = BASE.replace("name = \"Test\"", "name = \"Test\"\nnmae = 1\nlegal = 2");
        assert_eq!(
            messages(&src),
            [
                "error: unknown key \"nmae\" in organisation",
                "error: unknown key \"legal\" in organisation",
            ]
        );
    }
}
