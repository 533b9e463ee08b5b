//! A first policy, drafted from a live database: the hardest step for a
//! new user is classifying every table and column, and a column nobody
//! classified fails `privctl check --db`.
//!
//! [`discover`] reads the live schema through the store layer, samples up
//! to N values of every column (the first rows the database returns: a
//! bounded read, never a scan of a whole table), runs the redaction
//! detectors and column-name hints over them, and finds the person's table,
//! their identifiers and every foreign-key path to them. [`render`] writes
//! the draft as policy TOML: one data type per table with every column
//! classified and the reason in a comment ("20 of 20 sampled values are
//! email addresses"), and no retention, so that `check` points at what a
//! person must decide. No sampled value is ever kept: the evidence holds
//! counts and detector names only.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let db = privctl_store::Db::open("main", "sqlite:app.db", privctl_store::Open::Existing).await?;
//! let draft = privctl_discover::discover(&db, "main", 50).await?;
//! println!("{}", privctl_discover::render(&draft, None));
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod classify;
mod render;

use std::collections::BTreeSet;

use privctl_policy::model::{Category, IdentifierKind, StoreKind};
use privctl_policy::SqlIdent;
use privctl_redact::Redactor;
use privctl_store::clickhouse::ClickHouse;
use privctl_store::{Db, Dialect, Table};

pub use classify::{classify, Evidence, Guess, Shape};
pub use render::render;

/// Errors of discovery.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] privctl_store::Error),
    /// A table or column name that no policy can hold.
    #[error(
        "table {table}: the name {name:?} is not a plain SQL identifier, so no policy can name it"
    )]
    Name {
        /// The table.
        table: String,
        /// The name.
        name: String,
    },
    /// The detectors could not be built.
    #[error(transparent)]
    Redact(#[from] privctl_redact::Error),
}

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One column's guess.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDraft {
    /// Its name.
    pub name: String,
    /// The category and why.
    pub guess: Guess,
}

/// One table, as a data type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDraft {
    /// Its name (also the data type's).
    pub name: String,
    /// Rows sampled.
    pub sampled: usize,
    /// The column rows are dated by, if one is.
    pub timestamp: Option<String>,
    /// Every column, in the table's order.
    pub columns: Vec<ColumnDraft>,
    /// Whether its values could not be read, so only names and schema
    /// were used.
    pub unsampled: bool,
}

impl TableDraft {
    /// The categories of its columns other than metadata, in order.
    pub fn categories(&self) -> Vec<Category> {
        let mut out: Vec<Category> = Vec::new();
        for c in &self.columns {
            if c.guess.category != Category::Metadata && !out.contains(&c.guess.category) {
                out.push(c.guess.category);
            }
        }
        out
    }
}

/// How a person is identified, as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentifierDraft {
    /// Its name in the policy.
    pub name: String,
    /// What it is.
    pub kind: IdentifierKind,
    /// The column of the person's table.
    pub column: String,
}

/// A table's way to the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkDraft {
    /// The referencing table.
    pub table: String,
    /// Its column.
    pub column: String,
    /// What it holds: a `table.column` of this store, or an identifier
    /// (`user_id`) of the store that holds people.
    pub to: LinkTo,
    /// Whether a foreign key enforces it (otherwise the column is named
    /// like the person's id).
    pub enforced: bool,
}

/// What a link's column holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkTo {
    /// A `table.column` of the same store.
    References(String, String),
    /// An identifier of the subject map, across stores.
    Identifier(String),
}

/// The person, as the schema shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectDraft {
    /// The table of people.
    pub table: String,
    /// Why that table.
    pub why: String,
    /// Its identifiers.
    pub identifiers: Vec<IdentifierDraft>,
}

/// What [`discover`] found in one store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// The store's name in the policy.
    pub store: String,
    /// Its kind.
    pub kind: StoreKind,
    /// Tables in name order (privctl's own left out).
    pub tables: Vec<TableDraft>,
    /// The person, if a table of people was found.
    pub subject: Option<SubjectDraft>,
    /// Every table's way to the person: foreign keys (directly or through
    /// other tables), or a column holding their id.
    pub links: Vec<LinkDraft>,
}

/// Reads the schema of `db`, samples up to `sample` rows of every table,
/// and classifies every column; finds the person's table, identifiers and
/// links.
pub async fn discover(db: &Db, store: &str, sample: u32) -> Result<Draft> {
    let redactor = Redactor::builder().build()?;
    let schema = db.schema().await?;
    let mut tables = Vec::new();
    for table in schema.tables.values() {
        if table.name.starts_with("privctl_") || table.name.starts_with("sqlite_") {
            continue;
        }
        tables.push(discover_table(db, table, sample, &redactor).await?);
    }
    let (subject, links) = match find_subject(&schema, &tables) {
        Some((s, l)) => (Some(s), l),
        None => (None, Vec::new()),
    };
    tracing::info!(
        store,
        tables = tables.len(),
        subject = subject.as_ref().map_or("none", |s| s.table.as_str()),
        "discovered"
    );
    Ok(Draft {
        store: store.to_owned(),
        kind: match db.dialect() {
            Dialect::Sqlite => StoreKind::Sqlite,
            Dialect::Postgres => StoreKind::Postgres,
        },
        tables,
        subject,
        links,
    })
}

/// [`discover`] for a ClickHouse store: tables and columns from its system
/// tables, values by `LIMIT`. ClickHouse has no foreign keys: a column
/// named `user_id` links its table to the person through that identifier
/// of the store that holds people (draft that store too, and merge).
pub async fn discover_clickhouse(ch: &ClickHouse, store: &str, sample: u32) -> Result<Draft> {
    let redactor = Redactor::builder().build()?;
    let mut tables = Vec::new();
    let mut links = Vec::new();
    for t in ch.tables().await? {
        if t.name.starts_with("privctl_") || t.name.starts_with(".inner") {
            continue;
        }
        // Tables that hold rows: a view would run its whole query, and a
        // Kafka or distributed table reads elsewhere.
        let holds_rows =
            t.engine.contains("MergeTree") || t.engine.ends_with("Log") || t.engine == "Memory";
        if !holds_rows {
            tracing::warn!(table = %t.name, engine = %t.engine, "not sampled: it holds no rows of its own");
            continue;
        }
        let name = ident(&t.name, &t.name)?;
        let columns: Vec<SqlIdent> = t
            .columns
            .iter()
            .map(|c| ident(&t.name, &c.name))
            .collect::<Result<_>>()?;
        let rows = ch.sample_text(&name, &columns, sample).await?;
        tracing::debug!(table = %t.name, rows = rows.len(), "sampled");
        let is_time = |ty: &str| {
            let ty = ty
                .trim_start_matches("Nullable(")
                .trim_start_matches("LowCardinality(");
            ty.starts_with("DateTime") || ty.starts_with("Date")
        };
        let mut drafts = Vec::new();
        for (i, c) in t.columns.iter().enumerate() {
            let values: Vec<Option<String>> = rows.iter().map(|r| r[i].clone()).collect();
            let evidence = Evidence::of(&redactor, &values);
            let shape = Shape {
                table: &t.name,
                column: &c.name,
                primary_key: false,
                references: None,
                time: is_time(&c.ty),
            };
            let mut guess = classify(shape, &evidence);
            if c.name == "user_id" {
                guess = Guess {
                    category: Category::Identifier,
                    why: "the person's id (linked by it)".to_owned(),
                };
                links.push(LinkDraft {
                    table: t.name.clone(),
                    column: c.name.clone(),
                    to: LinkTo::Identifier("user_id".to_owned()),
                    enforced: false,
                });
            }
            drafts.push(ColumnDraft {
                name: c.name.clone(),
                guess,
            });
        }
        let times: Vec<&str> = t
            .columns
            .iter()
            .filter(|c| is_time(&c.ty))
            .map(|c| c.name.as_str())
            .collect();
        let timestamp = pick_timestamp(
            &times,
            &[
                "timestamp",
                "created_at",
                "time",
                "event_time",
                "date",
                "day",
            ],
            |_| false,
        );
        tables.push(TableDraft {
            name: t.name.clone(),
            sampled: rows.len(),
            timestamp,
            columns: drafts,
            unsampled: false,
        });
    }
    tracing::info!(store, tables = tables.len(), "discovered");
    Ok(Draft {
        store: store.to_owned(),
        kind: StoreKind::Clickhouse,
        tables,
        subject: None,
        links,
    })
}

fn ident(table: &str, name: &str) -> Result<SqlIdent> {
    SqlIdent::new(name).map_err(|_| Error::Name {
        table: table.to_owned(),
        name: name.to_owned(),
    })
}

/// Whether a column holds points in time, by its declared type (or, for
/// text, its name).
fn is_time(table: &Table, column: &str) -> bool {
    let Some(c) = table.column(column) else {
        return false;
    };
    let t = c.declared_type.as_str();
    t.contains("timestamp")
        || t.contains("datetime")
        || t == "date"
        || ((t.contains("text") || t.contains("char") || t.is_empty())
            && (column.ends_with("_at") || column == "timestamp"))
}

async fn discover_table(
    db: &Db,
    table: &Table,
    sample: u32,
    redactor: &Redactor,
) -> Result<TableDraft> {
    let name = ident(&table.name, &table.name)?;
    let columns: Vec<SqlIdent> = table
        .columns
        .iter()
        .map(|c| ident(&table.name, &c.name))
        .collect::<Result<_>>()?;
    let started = std::time::Instant::now();
    // A table whose values do not read as text (a BLOB that is not UTF-8)
    // is still drafted, from names and schema alone; the store's error
    // goes to the diagnostics, never into the draft.
    let (rows, unsampled) = match db.sample_text(&name, &columns, sample).await {
        Ok(rows) => (rows, false),
        Err(e) => {
            tracing::warn!(table = %table.name, error = %e, "not sampled: classified by name and schema only");
            (Vec::new(), true)
        }
    };
    tracing::debug!(
        table = %table.name,
        rows = rows.len(),
        micros = started.elapsed().as_micros() as u64,
        "sampled"
    );
    let mut drafts = Vec::new();
    for (i, c) in table.columns.iter().enumerate() {
        let values: Vec<Option<String>> = rows.iter().map(|r| r[i].clone()).collect();
        let evidence = Evidence::of(redactor, &values);
        let references = table.foreign_keys.iter().find_map(|fk| {
            let at = fk.columns.iter().position(|x| *x == c.name)?;
            let target = fk
                .references_columns
                .get(at)
                .cloned()
                .unwrap_or_else(|| "id".to_owned());
            // Only a key to a table with a plain name: names go into the draft.
            (SqlIdent::new(&fk.references_table).is_ok() && SqlIdent::new(&target).is_ok())
                .then(|| (fk.references_table.clone(), target))
        });
        let shape = Shape {
            table: &table.name,
            column: &c.name,
            // A key of several columns (a day and a model) names a row,
            // not a person.
            primary_key: table.primary_key.len() == 1 && table.primary_key[0] == c.name,
            references: references.as_ref().map(|(t, c)| (t.as_str(), c.as_str())),
            time: is_time(table, &c.name),
        };
        drafts.push(ColumnDraft {
            name: c.name.clone(),
            guess: classify(shape, &evidence),
        });
    }
    Ok(TableDraft {
        name: table.name.clone(),
        sampled: rows.len(),
        timestamp: timestamp_of(table),
        columns: drafts,
        unsampled,
    })
}

/// The column rows are dated by: `created_at` (or a name like it), else the
/// first column that holds time and refuses NULL, else the first that holds
/// time.
fn timestamp_of(table: &Table) -> Option<String> {
    let times: Vec<&str> = table
        .columns
        .iter()
        .map(|c| c.name.as_str())
        .filter(|c| is_time(table, c))
        .collect();
    pick_timestamp(
        &times,
        &[
            "created_at",
            "timestamp",
            "created",
            "inserted_at",
            "occurred_at",
            "day",
        ],
        |c| table.column(c).is_some_and(|col| col.not_null),
    )
}

/// Of a table's time columns, the first of `preferred` it has; else the
/// first that is `required` (refuses NULL); else the first.
fn pick_timestamp(
    times: &[&str],
    preferred: &[&str],
    required: impl Fn(&str) -> bool,
) -> Option<String> {
    preferred
        .iter()
        .find(|p| times.contains(p))
        .or_else(|| times.iter().find(|c| required(c)))
        .or(times.first())
        .map(|c| (*c).to_owned())
}

/// The table of people: one holding email addresses that the most foreign
/// keys lead to; failing that, the most referenced table named like one.
fn find_subject(
    schema: &privctl_store::Schema,
    tables: &[TableDraft],
) -> Option<(SubjectDraft, Vec<LinkDraft>)> {
    let referenced = |name: &str| {
        schema
            .tables
            .values()
            .flat_map(|t| &t.foreign_keys)
            .filter(|fk| fk.references_table == name)
            .count()
    };
    let has_email = |t: &TableDraft| {
        t.columns
            .iter()
            .any(|c| c.guess.category == Category::Contact && c.guess.why.contains("email"))
    };
    let people = [
        "users",
        "user",
        "accounts",
        "account",
        "customers",
        "customer",
        "members",
        "people",
        "persons",
    ];
    let (subject, why) = tables
        .iter()
        .filter(|t| has_email(t))
        .max_by_key(|t| (referenced(&t.name), std::cmp::Reverse(t.name.clone())))
        .map(|t| {
            (
                t,
                "it holds email addresses, and the most foreign keys lead to it",
            )
        })
        .or_else(|| {
            tables
                .iter()
                .filter(|t| people.contains(&t.name.to_ascii_lowercase().as_str()))
                .max_by_key(|t| referenced(&t.name))
                .map(|t| (t, "it is named like a table of people"))
        })?;
    let table = schema.tables.get(&subject.name)?;
    let key = table.primary_key.first()?.clone();
    let mut identifiers = vec![IdentifierDraft {
        name: "user_id".into(),
        kind: IdentifierKind::UserId,
        column: key.clone(),
    }];
    for c in &subject.columns {
        let kind = if c.guess.category == Category::Contact
            && (c.name == "email" || c.guess.why.contains("email"))
        {
            IdentifierKind::Email
        } else if classify::is_external_auth_id(&c.name) {
            IdentifierKind::ExternalAuthId
        } else if classify::is_payment_customer_id(&c.name) {
            IdentifierKind::PaymentCustomerId
        } else {
            continue;
        };
        if identifiers
            .iter()
            .any(|i| i.kind == kind && kind == IdentifierKind::Email)
        {
            continue;
        }
        identifiers.push(IdentifierDraft {
            name: if kind == IdentifierKind::Email {
                "email".into()
            } else {
                c.name.clone()
            },
            kind,
            column: c.name.clone(),
        });
    }
    // Every foreign key into a linked table, breadth first from the person.
    let mut linked: BTreeSet<String> = BTreeSet::from([subject.name.clone()]);
    let mut links: Vec<LinkDraft> = Vec::new();
    loop {
        let mut added = false;
        for t in schema.tables.values() {
            if t.name.starts_with("privctl_") {
                continue;
            }
            for fk in &t.foreign_keys {
                // A key into its own table (a parent row) leads to no one new.
                if !linked.contains(&fk.references_table)
                    || fk.columns.len() != 1
                    || fk.references_table == t.name
                {
                    continue;
                }
                let column = fk.columns[0].clone();
                if links
                    .iter()
                    .any(|l| l.table == t.name && l.column == column)
                {
                    continue;
                }
                let Some(target) = fk.references_columns.first().cloned().or_else(|| {
                    schema
                        .tables
                        .get(&fk.references_table)
                        .and_then(|r| r.primary_key.first().cloned())
                }) else {
                    continue;
                };
                if SqlIdent::new(&target).is_err() {
                    continue;
                }
                links.push(LinkDraft {
                    table: t.name.clone(),
                    column,
                    to: LinkTo::References(fk.references_table.clone(), target),
                    enforced: true,
                });
                linked.insert(t.name.clone());
                added = true;
            }
        }
        if !added {
            break;
        }
    }
    // Tables no key leads from, whose column is named like the person's id
    // (`user_id`, `customer_id` for `customers`): rows kept after their
    // person was deleted often have no foreign key, by design.
    let singular = match subject.name.as_str() {
        "people" => "person".to_owned(),
        n => n.strip_suffix('s').unwrap_or(n).to_owned(),
    };
    let id_names = [format!("{singular}_id"), "user_id".to_owned()];
    for t in schema.tables.values() {
        if linked.contains(&t.name) || t.name.starts_with("privctl_") {
            continue;
        }
        if let Some(c) = t.columns.iter().find(|c| id_names.contains(&c.name)) {
            links.push(LinkDraft {
                table: t.name.clone(),
                column: c.name.clone(),
                to: LinkTo::References(subject.name.clone(), key.clone()),
                enforced: false,
            });
        }
    }
    Some((
        SubjectDraft {
            table: subject.name.clone(),
            why: why.to_owned(),
            identifiers,
        },
        links,
    ))
}
