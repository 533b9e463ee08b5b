//! Sample databases: a policy's schema, created in an empty database, and
//! filled deterministically with rows of many ages, so that a sweep (and the
//! tests and benchmarks that check one) has something real to act on.
//!
//! The schema follows from the policy alone: every column a data type
//! classifies, typed from its name and category; foreign keys from the
//! subject links; an index on every link, timestamp and event column; a
//! unique key on a roll-up's bucket and groups. The rows come from a seeded
//! generator, so the same policy, seed, subject count and as-of time give the
//! same database: subjects who are active, long inactive, closed long ago or
//! recently, who asked for deletion (some already anonymised), one held
//! subject, and under each of them rows spread from their account's creation
//! to its end, half within twice the data type's period. Values are
//! realistic in shape and fake in substance (documentation IP ranges,
//! `example.com` addresses).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use privctl_policy::model::{
    AnonymiseMethod, Category, DataType, EventSource, ExpiryAction, Policy, StoreKind,
};
use privctl_policy::{ColumnRef, RetentionPeriod, SqlIdent};
use privctl_store::clickhouse::ClickHouse;
use privctl_store::{Db, Dialect, Lock};
use serde::Serialize;
use sqlx::AnyConnection;

use crate::own::{self, HoldScope};
use crate::plan::cutoff_from;
use crate::session::Session;
use crate::sql::{sqlite_text, Sql, Value};
use crate::{Error, Result};

/// What to generate.
#[derive(Debug, Clone)]
pub struct SampleOptions {
    /// How many people (rows of the subject's home table).
    pub subjects: u64,
    /// The generator's seed.
    pub seed: u64,
    /// The time the sample is "now" at: rows are aged relative to it.
    pub as_of: DateTime<Utc>,
}

/// What was generated.
#[derive(Debug, Clone, Serialize)]
pub struct SampleReport {
    /// The as-of time rows are aged from.
    pub as_of: DateTime<Utc>,
    /// The seed.
    pub seed: u64,
    /// Subjects generated.
    pub subjects: u64,
    /// Rows per table, in creation order.
    pub tables: Vec<TableCount>,
    /// Files per files store.
    pub files: Vec<FileCount>,
    /// Deletion requests recorded in privctl's own table.
    pub deletion_requests: u64,
    /// Subjects placed under a legal hold.
    pub held_subjects: Vec<String>,
    /// Data types of stores the sample could not fill, and why.
    pub skipped: Vec<String>,
}

/// Rows created in one table.
#[derive(Debug, Clone, Serialize)]
pub struct TableCount {
    /// The store.
    pub store: String,
    /// The table.
    pub table: String,
    /// Rows inserted.
    pub rows: u64,
}

/// Files created in one files store.
#[derive(Debug, Clone, Serialize)]
pub struct FileCount {
    /// The store.
    pub store: String,
    /// Its root.
    pub root: String,
    /// Files created.
    pub files: u64,
}

/// A column's type in a sample schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    /// A 64-bit integer.
    Integer,
    /// Text.
    Text,
    /// A point in time (`TIMESTAMPTZ`; text on SQLite).
    Timestamp,
    /// A day (`DATE`).
    Date,
}

/// One column of a sample table.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnSpec {
    /// Its name.
    pub name: SqlIdent,
    /// Its type.
    pub ty: ColumnType,
    /// Whether it is `NOT NULL`.
    pub not_null: bool,
}

/// One table of a sample schema.
#[derive(Debug, Clone, Serialize)]
pub struct TableSpec {
    /// Its name.
    pub name: SqlIdent,
    /// Its columns, the key first.
    pub columns: Vec<ColumnSpec>,
    /// Its primary key (empty: none could be told from the policy).
    pub primary_key: Vec<SqlIdent>,
    /// Foreign keys: column, and the column it references.
    pub foreign_keys: Vec<(SqlIdent, ColumnRef)>,
    /// Of those, the columns the database is not told about (an erasure
    /// replaces them with a pseudonym, which names no row).
    pub unconstrained: Vec<SqlIdent>,
    /// Single-column indexes.
    pub indexes: Vec<SqlIdent>,
}

impl TableSpec {
    fn column(&self, name: &str) -> Option<&ColumnSpec> {
        self.columns.iter().find(|c| c.name.as_str() == name)
    }
}

/// The schema a policy implies for one database store, parents before the
/// tables that refer to them.
pub fn schema(policy: &Policy, store: &str) -> Result<Vec<TableSpec>> {
    let mut columns: BTreeMap<SqlIdent, BTreeMap<SqlIdent, Category>> = BTreeMap::new();
    let mut times: BTreeSet<(SqlIdent, SqlIdent)> = BTreeSet::new();
    let mut dates: BTreeSet<(SqlIdent, SqlIdent)> = BTreeSet::new();
    let mut rollup_keys: BTreeMap<SqlIdent, Vec<SqlIdent>> = BTreeMap::new();
    let mut fks: BTreeMap<SqlIdent, Vec<(SqlIdent, ColumnRef)>> = BTreeMap::new();
    let mut indexed: BTreeSet<(SqlIdent, SqlIdent)> = BTreeSet::new();
    let mut loose: BTreeSet<(SqlIdent, SqlIdent)> = BTreeSet::new();
    fn mention(
        columns: &mut BTreeMap<SqlIdent, BTreeMap<SqlIdent, Category>>,
        t: &SqlIdent,
        c: &SqlIdent,
        cat: Option<Category>,
    ) {
        let cols = columns.entry(t.clone()).or_default();
        match cat {
            Some(cat) => {
                cols.insert(c.clone(), cat);
            }
            None => {
                cols.entry(c.clone()).or_insert(Category::Metadata);
            }
        }
    }
    for dt in policy.data_types.values().filter(|d| d.store == store) {
        let Some(table) = &dt.table else { continue };
        columns.entry(table.clone()).or_default();
        for (c, cat) in &dt.columns {
            mention(&mut columns, table, c, Some(*cat));
        }
        for c in dt.timestamp.iter().chain(&dt.anonymised_at) {
            mention(&mut columns, table, c, None);
            times.insert((table.clone(), c.clone()));
            indexed.insert((table.clone(), c.clone()));
        }
        if let Some(r) = dt.retention.as_ref().and_then(|r| r.roll_up.as_ref()) {
            let target = policy
                .data_types
                .values()
                .find(|d| d.store == store && d.table.as_ref() == Some(&r.into));
            if let Some(bucket) = target.and_then(|d| d.timestamp.clone()) {
                if r.bucket != RetentionPeriod::Hours(1) {
                    dates.insert((r.into.clone(), bucket.clone()));
                }
                let mut key = vec![bucket];
                key.extend(r.group_by.iter().cloned());
                rollup_keys.insert(r.into.clone(), key);
            }
        }
    }
    // Where customers record their choice of period and their tier.
    let mut choice_columns: BTreeSet<(SqlIdent, SqlIdent)> = BTreeSet::new();
    for dt in policy.data_types.values().filter(|d| d.store == store) {
        if let Some(choice) = dt.retention.as_ref().and_then(|r| r.customer.as_ref()) {
            for c in std::iter::once(&choice.period).chain(&choice.tier) {
                mention(&mut columns, &c.table, &c.column, None);
                choice_columns.insert((c.table.clone(), c.column.clone()));
            }
        }
    }
    for id in policy
        .subject
        .identifiers
        .iter()
        .filter(|i| i.store == store)
    {
        mention(&mut columns, &id.table, &id.column, None);
        indexed.insert((id.table.clone(), id.column.clone()));
    }
    for link in policy.subject.links.iter().filter(|l| l.store == store) {
        let (Some(t), Some(c)) = (&link.table, &link.column) else {
            continue;
        };
        mention(&mut columns, t, c, None);
        indexed.insert((t.clone(), c.clone()));
        // A reference an erasure replaces with a pseudonym names no row
        // then: such a column cannot be a foreign key.
        let pseudonymised = policy.data_types.values().any(|d| {
            d.store == store
                && d.table.as_ref() == Some(t)
                && d.erasure.as_ref().is_some_and(|e| {
                    e.anonymise.get(c) == Some(&privctl_policy::model::AnonymiseMethod::Pseudonym)
                })
        });
        if pseudonymised {
            loose.insert((t.clone(), c.clone()));
        }
        if let Some(r) = &link.references {
            mention(&mut columns, &r.table, &r.column, None);
            fks.entry(t.clone())
                .or_default()
                .push((c.clone(), r.clone()));
        }
    }
    let events = &policy.subject.events;
    let event_columns = events
        .last_activity
        .iter()
        .chain(&events.account_closed)
        .chain(events.deletion_requested.as_ref().and_then(|e| e.column()));
    let home_store = policy.subject_home().map(|h| h.store.as_str());
    for c in event_columns.filter(|_| home_store == Some(store)) {
        mention(&mut columns, &c.table, &c.column, None);
        times.insert((c.table.clone(), c.column.clone()));
        indexed.insert((c.table.clone(), c.column.clone()));
    }
    // Customers' keys (an organisation's id) that rows name in `by`: whole
    // numbers, as the rows' own ids.
    let referenced: BTreeSet<(SqlIdent, SqlIdent)> = fks
        .values()
        .flatten()
        .map(|(_, r)| (r.table.clone(), r.column.clone()))
        .chain(customer_keys(policy))
        .collect();

    let mut specs = Vec::new();
    for (table, cols) in &columns {
        let table_fks = fks.get(table).cloned().unwrap_or_default();
        let is_fk = |c: &SqlIdent| table_fks.iter().any(|(f, _)| f == c);
        let primary_key: Vec<SqlIdent> = if let Some(key) = rollup_keys.get(table) {
            key.clone()
        } else if let Some(id) = cols.keys().find(|c| c.as_str() == "id") {
            vec![id.clone()]
        } else {
            let candidates: Vec<&SqlIdent> = cols
                .iter()
                .filter(|(c, cat)| {
                    **cat == Category::Identifier
                        && !is_fk(c)
                        && !policy
                            .subject
                            .identifiers
                            .iter()
                            .any(|i| i.table == *table && i.column == **c)
                })
                .map(|(c, _)| c)
                .collect();
            match candidates.as_slice() {
                [one] => vec![(*one).clone()],
                _ => Vec::new(),
            }
        };
        let mut out = Vec::new();
        for (c, cat) in cols {
            let key = (table.clone(), c.clone());
            let ty = if dates.contains(&key) {
                ColumnType::Date
            } else if choice_columns.contains(&key) {
                ColumnType::Text
            } else if times.contains(&key) || is_time_name(c.as_str()) {
                ColumnType::Timestamp
            } else if referenced.contains(&key) || is_fk(c) || is_integer_name(c.as_str(), *cat) {
                ColumnType::Integer
            } else {
                ColumnType::Text
            };
            let first_link = table_fks.first().is_some_and(|(f, _)| f == c);
            let is_timestamp = policy.data_types.values().any(|d| {
                d.store == store
                    && d.table.as_ref() == Some(table)
                    && d.timestamp.as_ref() == Some(c)
            });
            // A column some erasure or retention sets to NULL must take it.
            let nulled = policy.data_types.values().any(|d| {
                d.store == store
                    && d.table.as_ref() == Some(table)
                    && (d
                        .erasure
                        .as_ref()
                        .is_some_and(|e| e.anonymise.get(c) == Some(&AnonymiseMethod::Null))
                        || d.retention
                            .as_ref()
                            .is_some_and(|r| r.anonymise.get(c) == Some(&AnonymiseMethod::Null)))
            });
            out.push(ColumnSpec {
                name: c.clone(),
                ty,
                not_null: !nulled
                    && (primary_key.contains(c)
                        || first_link
                        || is_timestamp
                        || rollup_keys.contains_key(table)),
            });
        }
        // Foreign keys must reference a column of the same type.
        out.sort_by_key(|c| {
            (
                primary_key
                    .iter()
                    .position(|k| *k == c.name)
                    .unwrap_or(usize::MAX),
                c.name.clone(),
            )
        });
        let indexes = out
            .iter()
            .filter(|c| {
                indexed.contains(&(table.clone(), c.name.clone()))
                    && primary_key.first() != Some(&c.name)
            })
            .map(|c| c.name.clone())
            .collect();
        specs.push(TableSpec {
            name: table.clone(),
            columns: out,
            primary_key,
            unconstrained: table_fks
                .iter()
                .filter(|(c, _)| loose.contains(&(table.clone(), c.clone())))
                .map(|(c, _)| c.clone())
                .collect(),
            foreign_keys: table_fks,
            indexes,
        });
    }
    order_parents_first(&mut specs);
    Ok(specs)
}

fn order_parents_first(specs: &mut Vec<TableSpec>) {
    let mut done: Vec<TableSpec> = Vec::new();
    let mut rest = std::mem::take(specs);
    while !rest.is_empty() {
        let ready = rest.iter().position(|t| {
            t.foreign_keys.iter().all(|(_, r)| {
                r.table == t.name
                    || done.iter().any(|d| d.name == r.table)
                    || !rest.iter().any(|o| o.name == r.table)
            })
        });
        // A loop of references: take the first and let the database judge.
        let i = ready.unwrap_or(0);
        done.push(rest.remove(i));
    }
    *specs = done;
}

fn is_time_name(name: &str) -> bool {
    name.ends_with("_at") || name == "timestamp"
}

fn is_integer_name(name: &str, category: Category) -> bool {
    const WORDS: &[&str] = &[
        "tokens", "micro", "cents", "paise", "amount", "cost", "delta", "earning", "latency",
    ];
    const EXACT: &[&str] = &[
        "requests",
        "width",
        "height",
        "lines_added",
        "lines_removed",
        "rate_limit_rpm",
        "status_code",
        "key_epoch",
    ];
    const TEXT_IDS: &[&str] = &[
        "session", "task", "stripe", "google", "razorpay", "charge", "payment", "customer",
        "firebase", "model",
    ];
    if EXACT.contains(&name) || name.ends_with("_ms") || name.ends_with("_s") {
        return true;
    }
    if name.ends_with("_id") && category == Category::Identifier {
        return !TEXT_IDS.iter().any(|w| name.contains(w));
    }
    matches!(category, Category::Financial | Category::Metadata)
        && WORDS.iter().any(|w| name.contains(w))
        && !name.contains("id")
}

/// A deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }

    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            lo
        } else {
            lo + self.below((hi - lo) as u64 + 1) as i64
        }
    }

    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }

    fn chars(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n)
            .map(|_| alphabet[self.below(alphabet.len() as u64) as usize] as char)
            .collect()
    }

    fn hex(&mut self, n: usize) -> String {
        self.chars(b"0123456789abcdef", n)
    }

    fn alnum(&mut self, n: usize) -> String {
        self.chars(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            n,
        )
    }

    /// A time between `lo` and `hi`.
    fn time(&mut self, lo: DateTime<Utc>, hi: DateTime<Utc>) -> DateTime<Utc> {
        let s = self.between(lo.timestamp(), hi.timestamp());
        DateTime::from_timestamp(s, 0).unwrap_or(hi)
    }
}

const DAY: i64 = 86_400;

/// One person in the sample.
#[derive(Debug, Clone)]
struct Person {
    id: i64,
    created: DateTime<Utc>,
    last_active: DateTime<Utc>,
    closed: Option<DateTime<Utc>>,
    requested: Option<DateTime<Utc>>,
    anonymised: Option<DateTime<Utc>>,
}

impl Person {
    /// Until when the account produced data.
    fn end(&self, as_of: DateTime<Utc>) -> DateTime<Utc> {
        [self.closed, self.requested, self.anonymised, Some(as_of)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(as_of)
            .max(self.created)
    }
}

/// The subject id of the held person.
pub const HELD_SUBJECT: i64 = 7;

fn people(n: u64, rng: &mut Rng, as_of: DateTime<Utc>, anonymises: bool) -> Vec<Person> {
    let ago = |s: i64| as_of - Duration::seconds(s);
    (1..=n as i64)
        .map(|id| {
            let profile = id % 10;
            let created = ago(rng.between(2 * DAY, 9 * 365 * DAY));
            let since = (as_of - created).num_seconds();
            let mut p = Person {
                id,
                created,
                last_active: ago(rng.between(0, (20 * DAY).min(since))),
                closed: None,
                requested: None,
                anonymised: None,
            };
            match profile {
                // Long inactive.
                5 => p.last_active = ago(rng.between(since / 2, since)),
                // Closed: some recently, some years ago.
                6 | 7 => {
                    let closed = ago(rng.between(DAY, since));
                    p.closed = Some(closed);
                    p.last_active = ago(rng.between((as_of - closed).num_seconds(), since));
                }
                // Asked for deletion recently: some still in a grace period.
                8 => p.requested = Some(ago(rng.between(3600, (60 * DAY).min(since)))),
                // Asked long ago; anonymised where the policy does that.
                9 => {
                    let requested = ago(rng.between((30 * DAY).min(since), since));
                    p.requested = Some(requested);
                    p.last_active = requested;
                    if anonymises {
                        p.anonymised = Some(requested + Duration::hours(72));
                    }
                }
                _ => {}
            }
            if id == HELD_SUBJECT {
                // Everything about them has expired, and they are held.
                let closed = ago(since.min(6 * 365 * DAY));
                p.created = p.created.min(closed);
                p.closed = Some(closed);
                p.requested = Some(ago(since.min(400 * DAY)).max(closed));
                p.last_active = closed;
            }
            p
        })
        .collect()
}

/// A value to insert.
enum Cell {
    Int(i64),
    Text(String),
    Time(DateTime<Utc>),
    Date(NaiveDate),
    Null,
}

/// Fills the stores of an open session (opened with `Open::Create`):
/// creates the policy's tables in each database store (refusing a store
/// that already has any of them), fills them, records deletion requests and
/// a hold in privctl's own tables, and writes files into each files store
/// (refusing a root that is not empty).
pub async fn sample(session: &Session, options: &SampleOptions) -> Result<SampleReport> {
    let policy = &session.policy;
    let mut rng = Rng(options.seed ^ 0x005E_ED0F_9121_7C71);
    let as_of = options.as_of;
    let home = policy.subject_home().ok_or(Error::Internal("subject"))?;
    let anonymises = policy.data_types.values().any(|d| {
        d.table.as_ref() == Some(&home.table)
            && d.store == home.store
            && d.retention
                .as_ref()
                .is_some_and(|r| r.action == ExpiryAction::Anonymise)
    });
    let people = people(options.subjects, &mut rng, as_of, anonymises);
    let mut report = SampleReport {
        as_of,
        seed: options.seed,
        subjects: options.subjects,
        tables: Vec::new(),
        files: Vec::new(),
        deletion_requests: 0,
        held_subjects: Vec::new(),
        skipped: Vec::new(),
    };
    for (name, store) in &policy.stores {
        if store.kind == StoreKind::Clickhouse && !session.clickhouse.contains_key(name) {
            report.skipped.push(format!(
                "store \"{name}\" is ClickHouse, and its URL is not given (its url_env)"
            ));
        }
    }
    for (store, ch) in &session.clickhouse {
        let existing = ch.tables().await?;
        if let Some(t) = policy
            .data_types
            .values()
            .filter(|d| &d.store == store)
            .filter_map(|d| d.table.as_ref())
            .find(|t| existing.iter().any(|e| e.name == t.as_str()))
        {
            return Err(Error::NotEmpty(format!(
                "store {store}: table \"{t}\" already exists"
            )));
        }
    }
    for (store, root) in &session.roots {
        let listing = std::fs::read_dir(root).map_err(|e| files_error(store, root, e))?;
        if listing.into_iter().next().is_some() {
            return Err(Error::NotEmpty(format!(
                "directory {}",
                privctl_policy::escape_path(root)
            )));
        }
    }
    let mut schemas = BTreeMap::new();
    for (store, db) in &session.dbs {
        let specs = schema(policy, store)?;
        let existing = db.schema().await?;
        if let Some(t) = specs
            .iter()
            .find(|t| existing.tables.contains_key(t.name.as_str()))
        {
            return Err(Error::NotEmpty(format!(
                "store {store}: table \"{}\" already exists",
                t.name
            )));
        }
        schemas.insert(store, specs);
    }
    for (store, db) in &session.dbs {
        let specs = &schemas[store];
        let mut filler = Filler {
            policy,
            store,
            dialect: db.dialect(),
            as_of,
            people: &people,
            rng: &mut rng,
            keys: BTreeMap::new(),
            subjects: options.subjects,
        };
        let counts = db
            .write_with(Lock::Rows, async |c| {
                let mut counts = Vec::new();
                for spec in specs {
                    create(c, db, spec).await?;
                }
                for spec in specs {
                    let n = filler.fill(c, db, spec).await?;
                    counts.push(TableCount {
                        store: store.clone(),
                        table: spec.name.to_string(),
                        rows: n,
                    });
                }
                Ok::<_, Error>(counts)
            })
            .await?;
        report.tables.extend(counts);
    }
    for (store, ch) in &session.clickhouse {
        let counts = fill_clickhouse(
            policy,
            store,
            ch,
            &people,
            &mut rng,
            as_of,
            options.subjects,
        )
        .await?;
        report.tables.extend(counts);
    }
    let home_db = session.home_db()?;
    own::ensure(home_db).await?;
    if matches!(
        policy.subject.events.deletion_requested,
        Some(EventSource::Privctl)
    ) {
        for p in people.iter().filter(|p| p.requested.is_some()) {
            let at = p.requested.unwrap_or(as_of);
            own::add_deletion_request(home_db, &p.id.to_string(), Some("sample"), at).await?;
            report.deletion_requests += 1;
        }
    }
    if people.iter().any(|p| p.id == HELD_SUBJECT) {
        own::add_hold(
            home_db,
            HoldScope::Subject,
            &HELD_SUBJECT.to_string(),
            "sample: litigation hold",
            as_of - Duration::days(30),
        )
        .await?;
        report.held_subjects.push(HELD_SUBJECT.to_string());
    }
    for (store, root) in &session.roots {
        let n = files(policy, store, root, &people, &mut rng, as_of)
            .map_err(|(path, e)| files_error(store, &path, e))?;
        report.files.push(FileCount {
            store: store.clone(),
            root: privctl_policy::escape_path(root),
            files: n,
        });
    }
    Ok(report)
}

/// Creates and fills one ClickHouse store's tables, as telemetry is kept:
/// `MergeTree`, partitioned by the UTC day of the data type's timestamp
/// (`DateTime('UTC')`), ordered by the subject link and time, which is how
/// sweeps and erasures select rows. Each person gets rows over their
/// account's life, half within twice the data type's period.
async fn fill_clickhouse(
    policy: &Policy,
    store: &str,
    ch: &ClickHouse,
    people: &[Person],
    rng: &mut Rng,
    as_of: DateTime<Utc>,
    subjects: u64,
) -> Result<Vec<TableCount>> {
    let mut counts = Vec::new();
    for dt in policy.data_types.values().filter(|d| d.store == store) {
        let (Some(table), Some(ts)) = (&dt.table, &dt.timestamp) else {
            continue;
        };
        let link = policy
            .subject
            .links
            .iter()
            .find(|l| l.store == store && l.table.as_ref() == Some(table))
            .and_then(|l| l.column.clone());
        let mut columns: Vec<(SqlIdent, Category)> = dt
            .columns
            .iter()
            .map(|(c, cat)| (c.clone(), *cat))
            .collect();
        if !columns.iter().any(|(c, _)| c == ts) {
            columns.insert(0, (ts.clone(), Category::Metadata));
        }
        let ty = |name: &SqlIdent, cat: Category| -> &'static str {
            if name == ts {
                "DateTime('UTC')"
            } else if is_time_name(name.as_str()) {
                "Nullable(DateTime('UTC'))"
            } else if is_integer_name(name.as_str(), cat) {
                "Int64"
            } else {
                "String"
            }
        };
        let mut ddl = Sql::new();
        ddl.push("CREATE TABLE ").ident(table).push(" (");
        for (i, (c, cat)) in columns.iter().enumerate() {
            if i > 0 {
                ddl.push(", ");
            }
            ddl.ident(c).push(" ").push(ty(c, *cat));
        }
        ddl.push(") ENGINE = MergeTree PARTITION BY toYYYYMMDD(")
            .ident(ts)
            .push(") ORDER BY (");
        if let Some(l) = &link {
            ddl.ident(l).push(", ");
        }
        ddl.ident(ts).push(")");
        ch.execute(&ddl, "creating a sample table", Some(table.as_str()))
            .await?;
        let period = dt
            .retention
            .as_ref()
            .and_then(|r| cutoff_from(r.period, r.from, policy, as_of))
            .map(|c| (as_of - c).num_seconds())
            .unwrap_or(365 * DAY)
            .max(3600);
        let mut rows: Vec<serde_json::Map<String, serde_json::Value>> = Vec::new();
        let mut n = 0u64;
        for p in people {
            let end = p.end(as_of);
            let recent = (end - Duration::seconds(2 * period)).max(p.created);
            for _ in 0..(4 + rng.below(13)) {
                let at = if rng.percent(50) {
                    rng.time(recent, end)
                } else {
                    rng.time(p.created, end)
                };
                let mut row = serde_json::Map::new();
                for (c, cat) in &columns {
                    let name = c.as_str();
                    let v = if c == ts {
                        serde_json::Value::String(at.format("%Y-%m-%d %H:%M:%S").to_string())
                    } else if link.as_ref() == Some(c) {
                        serde_json::Value::String(p.id.to_string())
                    } else if is_time_name(name) {
                        serde_json::Value::Null
                    } else if is_integer_name(name, *cat) {
                        serde_json::Value::from(integer(rng, name, Some(p), subjects))
                    } else {
                        serde_json::Value::String(text(rng, name, Some(p)))
                    };
                    row.insert(name.to_owned(), v);
                }
                rows.push(row);
                n += 1;
                if rows.len() >= 5000 {
                    ch.insert(table, &rows, "filling a sample table").await?;
                    rows.clear();
                }
            }
        }
        ch.insert(table, &rows, "filling a sample table").await?;
        counts.push(TableCount {
            store: store.to_owned(),
            table: table.to_string(),
            rows: n,
        });
    }
    Ok(counts)
}

async fn create(c: &mut AnyConnection, db: &Db, spec: &TableSpec) -> Result<()> {
    let dialect = db.dialect();
    let mut sql = Sql::new();
    sql.push("CREATE TABLE ").ident(&spec.name).push(" (");
    let rowid = dialect == Dialect::Sqlite
        && spec.primary_key.len() == 1
        && spec
            .column(spec.primary_key[0].as_str())
            .is_some_and(|c| c.ty == ColumnType::Integer);
    for (i, col) in spec.columns.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.ident(&col.name).push(match (dialect, col.ty) {
            (Dialect::Sqlite, ColumnType::Integer) => " INTEGER",
            (Dialect::Postgres, ColumnType::Integer) => " BIGINT",
            (_, ColumnType::Text) => " TEXT",
            (Dialect::Sqlite, ColumnType::Timestamp) => " TIMESTAMP",
            (Dialect::Postgres, ColumnType::Timestamp) => " TIMESTAMPTZ",
            (_, ColumnType::Date) => " DATE",
        });
        if rowid && spec.primary_key[0] == col.name {
            sql.push(" PRIMARY KEY");
        } else if col.not_null {
            sql.push(" NOT NULL");
        }
        if let Some((_, r)) = spec
            .foreign_keys
            .iter()
            .find(|(f, _)| *f == col.name && !spec.unconstrained.contains(f))
        {
            sql.push(" REFERENCES ")
                .ident(&r.table)
                .push(" (")
                .ident(&r.column)
                .push(")");
        }
    }
    if !rowid && !spec.primary_key.is_empty() {
        sql.push(", PRIMARY KEY (");
        for (i, k) in spec.primary_key.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.ident(k);
        }
        sql.push(")");
    }
    sql.push(")");
    let op = "creating a sample table";
    sql.query()
        .execute(&mut *c)
        .await
        .map_err(db.err(op, Some(spec.name.as_str())))?;
    for col in &spec.indexes {
        let name = SqlIdent::new(&format!("{}_{}_idx", spec.name, col))
            .map_err(|e| Error::UnsafeName(e.to_string()))?;
        let mut sql = Sql::new();
        sql.push("CREATE INDEX ")
            .ident(&name)
            .push(" ON ")
            .ident(&spec.name)
            .push(" (")
            .ident(col)
            .push(")");
        sql.query()
            .execute(&mut *c)
            .await
            .map_err(db.err(op, Some(spec.name.as_str())))?;
    }
    Ok(())
}

/// The columns customers' choices are read by (`customer.key`).
fn customer_keys(policy: &Policy) -> impl Iterator<Item = (SqlIdent, SqlIdent)> + '_ {
    policy
        .data_types
        .values()
        .filter_map(|d| d.retention.as_ref()?.customer.as_ref()?.key.as_ref())
        .map(|k| (k.table.clone(), k.column.clone()))
}

/// Fills tables one by one, remembering each row's key, subject and time
/// so that child rows belong to a parent and fall within its life.
struct Filler<'a> {
    policy: &'a Policy,
    store: &'a str,
    dialect: Dialect,
    as_of: DateTime<Utc>,
    people: &'a [Person],
    rng: &'a mut Rng,
    /// Per table: each row's key, its person's index, and its time.
    keys: BTreeMap<SqlIdent, Vec<(i64, usize, DateTime<Utc>)>>,
    subjects: u64,
}

/// Most values bound in one INSERT.
const MAX_VALUES: usize = 4000;

impl Filler<'_> {
    fn data_type(&self, table: &SqlIdent) -> Option<&DataType> {
        self.policy
            .data_types
            .values()
            .find(|d| d.store == self.store && d.table.as_ref() == Some(table))
    }

    async fn fill(&mut self, c: &mut AnyConnection, db: &Db, spec: &TableSpec) -> Result<u64> {
        let home = self
            .policy
            .subject_home()
            .ok_or(Error::Internal("subject"))?;
        let is_home = home.store == self.store && home.table == spec.name;
        let is_target = self.policy.data_types.values().any(|d| {
            d.retention
                .as_ref()
                .and_then(|r| r.roll_up.as_ref())
                .is_some_and(|r| r.into == spec.name && d.store == self.store)
        });
        if is_target {
            // Aggregates are what sweeps produce; the sample starts with none.
            return Ok(0);
        }
        // (parent key, person index, window start) for each row to make.
        let mut plan: Vec<(Option<i64>, usize, DateTime<Utc>)> = Vec::new();
        // A table customers' choices are read from by key: one row per
        // customer, keyed 1.. as the rows that name them are.
        let customers = customer_keys(self.policy).any(|(t, _)| t == spec.name);
        if customers {
            let orgs = (self.subjects / 5).max(1) as usize;
            plan.extend((0..orgs).map(|i| {
                (
                    None,
                    i % self.people.len().max(1),
                    self.as_of - Duration::days(400),
                )
            }));
        } else if is_home {
            plan.extend((0..self.people.len()).map(|i| (None, i, self.people[i].created)));
        } else if let Some((_, parent)) = spec.foreign_keys.first() {
            let parents = self.keys.get(&parent.table).cloned().unwrap_or_default();
            let fan_out = self
                .policy
                .subject
                .links
                .iter()
                .any(|l| l.references.as_ref().is_some_and(|r| r.table == spec.name));
            for (key, person, since) in parents {
                let n = if fan_out {
                    1 + self.rng.below(3)
                } else {
                    2 + self.rng.below(11)
                };
                plan.extend((0..n).map(|_| (Some(key), person, since)));
            }
        } else {
            for _ in 0..self.subjects.max(1) * 3 {
                let i = self.rng.below(self.people.len().max(1) as u64) as usize;
                let since = self
                    .people
                    .get(i)
                    .map(|p| p.created)
                    .unwrap_or(self.as_of - Duration::days(365));
                plan.push((None, i, since));
            }
        }
        let dt = self.data_type(&spec.name).cloned();
        let timestamp = dt.as_ref().and_then(|d| d.timestamp.clone());
        let period = dt
            .as_ref()
            .and_then(|d| d.retention.as_ref())
            .and_then(|r| cutoff_from(r.period, r.from, self.policy, self.as_of))
            .map(|c| (self.as_of - c).num_seconds())
            .unwrap_or(365 * DAY);
        let per_row = spec.columns.len().max(1);
        let rows_per_insert = (MAX_VALUES / per_row).clamp(1, 500);
        let mut buffer: Vec<Vec<Cell>> = Vec::new();
        let mut keys = Vec::new();
        let mut count = 0u64;
        for (n, (parent, person, since)) in plan.into_iter().enumerate() {
            let p = self.people.get(person).cloned();
            let end = p.as_ref().map(|p| p.end(self.as_of)).unwrap_or(self.as_of);
            let since = since.min(end);
            // Half the rows within twice the period, the rest over the
            // whole life of the account.
            let recent = (end - Duration::seconds(2 * period)).max(since);
            let at = if is_home {
                since
            } else if self.rng.percent(50) {
                self.rng.time(recent, end)
            } else {
                self.rng.time(since, end)
            };
            let key = (n + 1) as i64;
            let mut row = Vec::with_capacity(per_row);
            for col in &spec.columns {
                let cell = self.value(
                    spec,
                    col,
                    key,
                    parent,
                    p.as_ref(),
                    at,
                    timestamp.as_ref(),
                    dt.as_ref(),
                );
                row.push(cell);
            }
            self.pre_anonymise(spec, dt.as_ref(), p.as_ref(), at, period, &mut row);
            keys.push((key, person, at));
            buffer.push(row);
            if buffer.len() >= rows_per_insert {
                count += self.insert(c, db, spec, &mut buffer).await?;
            }
        }
        count += self.insert(c, db, spec, &mut buffer).await?;
        self.keys.insert(spec.name.clone(), keys);
        Ok(count)
    }

    /// Rows whose anonymisation fell due more than a week ago were
    /// anonymised by an earlier sweep, half of them (the rest are overdue).
    fn pre_anonymise(
        &mut self,
        spec: &TableSpec,
        dt: Option<&DataType>,
        person: Option<&Person>,
        at: DateTime<Utc>,
        period: i64,
        row: &mut [Cell],
    ) {
        let Some(dt) = dt else { return };
        let (Some(marker), Some(r)) = (&dt.anonymised_at, &dt.retention) else {
            return;
        };
        let home = self.policy.subject_home();
        let is_home = home.is_some_and(|h| h.store == self.store && h.table == spec.name);
        let due = if is_home {
            person.and_then(|p| p.anonymised)
        } else if r.action == ExpiryAction::Anonymise {
            let due = at + Duration::seconds(period);
            (due < self.as_of - Duration::days(7) && self.rng.percent(50)).then_some(due)
        } else {
            // Anonymised when its subject was (e.g. on erasure).
            person.and_then(|p| p.anonymised)
        };
        let Some(due) = due else { return };
        for (i, col) in spec.columns.iter().enumerate() {
            if col.name == *marker {
                row[i] = Cell::Time(due);
            } else if r.action == ExpiryAction::Anonymise {
                match r.anonymise.get(&col.name) {
                    Some(AnonymiseMethod::Null) => row[i] = Cell::Null,
                    Some(AnonymiseMethod::Placeholder) => {
                        row[i] = Cell::Text("[REDACTED]".to_owned())
                    }
                    Some(AnonymiseMethod::Random) => row[i] = Cell::Text(self.rng.hex(32)),
                    Some(AnonymiseMethod::Pseudonym) | None => {}
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn value(
        &mut self,
        spec: &TableSpec,
        col: &ColumnSpec,
        key: i64,
        parent: Option<i64>,
        person: Option<&Person>,
        at: DateTime<Utc>,
        timestamp: Option<&SqlIdent>,
        dt: Option<&DataType>,
    ) -> Cell {
        let name = col.name.as_str();
        let events = &self.policy.subject.events;
        let is_event =
            |e: Option<&ColumnRef>| e.is_some_and(|e| e.table == spec.name && e.column == col.name);
        if spec.primary_key.len() == 1 && spec.primary_key[0] == col.name {
            return match col.ty {
                ColumnType::Integer => Cell::Int(key),
                _ => Cell::Text(format!("{}-{}", self.rng.hex(8), self.rng.hex(12))),
            };
        }
        if let Some((_, r)) = spec.foreign_keys.iter().find(|(f, _)| *f == col.name) {
            if spec
                .foreign_keys
                .first()
                .is_some_and(|(f, _)| *f == col.name)
            {
                return parent.map(Cell::Int).unwrap_or(Cell::Null);
            }
            let n = self.keys.get(&r.table).map(|k| k.len()).unwrap_or(0) as u64;
            return match n {
                0 => Cell::Null,
                n => Cell::Int(1 + self.rng.below(n) as i64),
            };
        }
        if timestamp == Some(&col.name) {
            return if col.ty == ColumnType::Date {
                Cell::Date(at.date_naive())
            } else {
                Cell::Time(at)
            };
        }
        if is_event(events.account_closed.as_ref()) {
            return person
                .and_then(|p| p.closed)
                .map(Cell::Time)
                .unwrap_or(Cell::Null);
        }
        if is_event(events.last_activity.as_ref()) {
            return person
                .map(|p| Cell::Time(p.last_active))
                .unwrap_or(Cell::Null);
        }
        if is_event(events.deletion_requested.as_ref().and_then(|e| e.column())) {
            return person
                .and_then(|p| p.requested)
                .map(Cell::Time)
                .unwrap_or(Cell::Null);
        }
        if dt.and_then(|d| d.anonymised_at.as_ref()) == Some(&col.name) {
            return Cell::Null;
        }
        for dt in self.policy.data_types.values() {
            let Some(r) = &dt.retention else { continue };
            let Some(choice) = &r.customer else { continue };
            if choice.period.table == spec.name && choice.period.column == col.name {
                // Mostly no choice; some in bounds, some not.
                let options = ["30d", "180d", "1y", "2y", "7d", "10y", "soon"];
                return if self.rng.percent(50) {
                    Cell::Null
                } else {
                    Cell::Text(self.rng.pick(&options).to_owned())
                };
            }
            if choice
                .tier
                .as_ref()
                .is_some_and(|t| t.table == spec.name && t.column == col.name)
            {
                let mut tiers: Vec<&str> = r.tiers.iter().map(String::as_str).collect();
                tiers.push("free");
                return Cell::Text(self.rng.pick(&tiers).to_owned());
            }
        }
        let rng = &mut *self.rng;
        match col.ty {
            ColumnType::Timestamp => {
                if name == "deleted_at" {
                    return person
                        .and_then(|p| p.requested)
                        .map(Cell::Time)
                        .unwrap_or(Cell::Null);
                }
                if rng.percent(20) {
                    Cell::Null
                } else {
                    Cell::Time((at + Duration::seconds(rng.between(60, 5 * DAY))).min(self.as_of))
                }
            }
            ColumnType::Date => Cell::Date(at.date_naive()),
            ColumnType::Integer => Cell::Int(integer(rng, name, person, self.subjects)),
            ColumnType::Text => Cell::Text(text(rng, name, person)),
        }
    }

    async fn insert(
        &mut self,
        c: &mut AnyConnection,
        db: &Db,
        spec: &TableSpec,
        rows: &mut Vec<Vec<Cell>>,
    ) -> Result<u64> {
        if rows.is_empty() {
            return Ok(0);
        }
        let mut sql = Sql::new();
        sql.push("INSERT INTO ").ident(&spec.name).push(" (");
        for (i, col) in spec.columns.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.ident(&col.name);
        }
        sql.push(") VALUES ");
        for (r, row) in rows.iter().enumerate() {
            sql.push(if r == 0 { "(" } else { ", (" });
            for (i, cell) in row.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                match (cell, self.dialect) {
                    (Cell::Null, _) => {
                        sql.push("NULL");
                    }
                    (Cell::Int(v), _) => {
                        sql.bind(Value::Int(*v));
                    }
                    (Cell::Text(t), _) => {
                        sql.bind(Value::Text(t.clone()));
                    }
                    (Cell::Time(t), Dialect::Sqlite) => {
                        sql.bind(Value::Text(sqlite_text(*t)));
                    }
                    (Cell::Time(t), Dialect::Postgres) => {
                        sql.push("CAST(")
                            .bind(Value::Text(t.to_rfc3339()))
                            .push(" AS TIMESTAMPTZ)");
                    }
                    (Cell::Date(d), Dialect::Sqlite) => {
                        sql.bind(Value::Text(d.to_string()));
                    }
                    (Cell::Date(d), Dialect::Postgres) => {
                        sql.push("CAST(")
                            .bind(Value::Text(d.to_string()))
                            .push(" AS DATE)");
                    }
                }
            }
            sql.push(")");
        }
        let n = sql
            .query()
            .execute(&mut *c)
            .await
            .map_err(db.err("filling a sample table", Some(spec.name.as_str())))?
            .rows_affected();
        rows.clear();
        Ok(n)
    }
}

fn integer(rng: &mut Rng, name: &str, person: Option<&Person>, subjects: u64) -> i64 {
    let has = |w: &str| name.contains(w);
    if has("tokens") {
        rng.between(10, 4000)
    } else if name == "requests" {
        rng.between(1, 50)
    } else if name == "status_code" {
        [200, 200, 200, 200, 400, 429, 500][rng.below(7) as usize]
    } else if name == "width" || name == "height" {
        [512, 768, 1024][rng.below(3) as usize]
    } else if has("lines") {
        rng.between(0, 800)
    } else if name == "rate_limit_rpm" {
        [60, 600, 6000][rng.below(3) as usize]
    } else if name == "key_epoch" {
        rng.between(1, 4)
    } else if has("delta") {
        rng.between(-500_000, 500_000)
    } else if name.ends_with("_ms") {
        rng.between(20, 8000)
    } else if name.ends_with("_s") {
        rng.between(60, 200_000)
    } else if name == "organization_id" {
        let orgs = (subjects / 5).max(1) as i64;
        person.map(|p| 1 + p.id % orgs).unwrap_or(1)
    } else if name.ends_with("_id") {
        rng.between(1, subjects.max(1) as i64)
    } else {
        rng.between(1, 1_000_000)
    }
}

fn text(rng: &mut Rng, name: &str, person: Option<&Person>) -> String {
    let id = person.map(|p| p.id).unwrap_or(0);
    match name {
        "email" => format!("user{id}@example.com"),
        "name" | "display_name" => format!(
            "{} {}",
            rng.pick(&["Asha", "Ben", "Chen", "Dara", "Emeka", "Farah", "Goran", "Hana"]),
            rng.pick(&["Rao", "Okafor", "Schmidt", "Silva", "Tanaka", "Novak", "Haddad"])
        ),
        "password_hash" => format!("$2b$12${}", rng.alnum(53)),
        "google_sub" | "google_id" => format!("1{}", rng.chars(b"0123456789", 20)),
        "firebase_uid" => rng.alnum(28),
        "stripe_customer_id" => format!("cus_{}", rng.alnum(14)),
        "stripe_charge_id" => format!("ch_{}", rng.alnum(24)),
        "razorpay_payment_id" => format!("pay_{}", rng.alnum(14)),
        "processor_reference" => format!("pi_{}", rng.alnum(24)),
        "processor" => rng.pick(&["stripe", "nowpayments"]).to_owned(),
        "oauth_provider" => rng.pick(&["google", "github", "email"]).to_owned(),
        "subscription_status" => rng
            .pick(&["active", "canceled", "past_due", "trialing"])
            .to_owned(),
        "plan" => rng.pick(&["free", "pro", "scale"]).to_owned(),
        "key_digest" | "key_hash" | "ip_hmac" | "device_hmac" => rng.hex(64),
        "pan_ref" | "aadhaar_ref" => format!("vault:{}", rng.hex(24)),
        "model" | "model_id" => rng
            .pick(&[
                "llama-3.1-8b-instruct",
                "llama-3.3-70b-instruct",
                "mistral-small-24b",
                "qwen2.5-coder-32b",
                "deepseek-v3",
            ])
            .to_owned(),
        "status" => rng
            .pick(&["succeeded", "succeeded", "succeeded", "failed", "pending"])
            .to_owned(),
        "ip_address" => match rng.below(3) {
            0 => format!("203.0.113.{}", rng.between(1, 254)),
            1 => format!("198.51.100.{}", rng.between(1, 254)),
            _ => format!("2001:db8::{:x}", rng.between(1, 0xffff)),
        },
        "city" => rng
            .pick(&[
                "Bengaluru",
                "Berlin",
                "São Paulo",
                "Austin",
                "Lagos",
                "Tokyo",
            ])
            .to_owned(),
        "country" => rng.pick(&["IN", "DE", "BR", "US", "NG", "JP"]).to_owned(),
        "device_info" => rng
            .pick(&[
                "Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0",
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) Safari/605.1.15",
                "python-requests/2.32.3",
                "okhttp/4.12.0",
            ])
            .to_owned(),
        "title" => format!(
            "{} {}",
            rng.pick(&["Fix", "Add", "Refactor", "Speed up", "Document"]),
            rng.pick(&["token counting", "retry loop", "batch API", "rate limiter"])
        ),
        "action" => rng
            .pick(&["member.invite", "key.create", "key.revoke", "org.update"])
            .to_owned(),
        "target" => format!("org/{}", rng.between(1, 50)),
        "kind" => rng.pick(&["topup", "spend", "refund", "payout"]).to_owned(),
        "reason" => rng.pick(&["top-up", "usage", "refund"]).to_owned(),
        "label" => rng.pick(&["default", "ci", "prod"]).to_owned(),
        "tool" => rng.pick(&["cursor", "claude-code", "cline"]).to_owned(),
        "endpoint" => rng
            .pick(&["/v1/chat/completions", "/v1/embeddings", "/v1/images"])
            .to_owned(),
        "supply_type" => rng.pick(&["gpu", "cpu"]).to_owned(),
        "session_id" => format!("{}-{}", rng.hex(8), rng.hex(4)),
        "content" => "Summarise this changelog for the release notes: [EMAIL] reported".to_owned(),
        _ => format!("{name}-{}", rng.alnum(8)),
    }
}

/// Writes sample files into one files store: per-subject directories where
/// the subject map says files are kept per person, files directly under
/// each data type's path otherwise, with modification times spread over
/// twice the data type's period.
fn files(
    policy: &Policy,
    store: &str,
    root: &Path,
    people: &[Person],
    rng: &mut Rng,
    as_of: DateTime<Utc>,
) -> std::result::Result<u64, (PathBuf, std::io::Error)> {
    let per_subject =
        policy.subject.links.iter().any(|l| {
            l.store == store && l.path.as_deref().is_some_and(|p| p.contains("{user_id}"))
        });
    let mut n = 0;
    for dt in policy.data_types.values().filter(|d| d.store == store) {
        let base = root.join(dt.path.as_deref().unwrap_or("."));
        let period = dt
            .retention
            .as_ref()
            .and_then(|r| cutoff_from(r.period, r.from, policy, as_of))
            .map(|c| (as_of - c).num_seconds())
            .unwrap_or(365 * DAY)
            .max(3600);
        let mut dirs: Vec<(PathBuf, Option<&Person>)> = Vec::new();
        if per_subject {
            for p in people
                .iter()
                .filter(|p| p.id % 2 == 1 || p.id == HELD_SUBJECT)
            {
                dirs.push((base.join(p.id.to_string()), Some(p)));
            }
        } else {
            dirs.push((base.clone(), None));
        }
        for (dir, person) in dirs {
            std::fs::create_dir_all(&dir).map_err(|e| (dir.clone(), e))?;
            let count = if person.is_some() {
                1 + rng.below(4)
            } else {
                20
            };
            for i in 0..count {
                let age = rng.between(60, 2 * period);
                let mtime = as_of - Duration::seconds(age);
                let file = dir.join(match person {
                    Some(_) => format!("img-{i:03}-{}.png", rng.hex(6)),
                    None => format!("{}.log", mtime.format("%Y%m%dT%H%M%S")),
                });
                let body = match person {
                    Some(p) => format!("sample image {i} of subject {}\n", p.id),
                    None => format!("{} GET /v1/models 200 12ms\n", mtime.to_rfc3339()),
                };
                write_with_mtime(&file, body.as_bytes(), mtime)?;
                n += 1;
            }
        }
    }
    Ok(n)
}

fn files_error(store: &str, path: &Path, source: std::io::Error) -> Error {
    Error::Files {
        store: store.to_owned(),
        path: privctl_policy::escape_path(path),
        source,
    }
}

fn write_with_mtime(
    path: &Path,
    body: &[u8],
    mtime: DateTime<Utc>,
) -> std::result::Result<(), (PathBuf, std::io::Error)> {
    use std::io::Write;
    let err = |e| (path.to_path_buf(), e);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(err)?;
    f.write_all(body).map_err(err)?;
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime.timestamp().max(0) as u64);
    f.set_modified(t).map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(name: &str) -> Policy {
        let path = format!("{}/../../policies/{name}.toml", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(path).expect("test value");
        privctl_policy::check_str(&text).policy.expect("test value")
    }

    fn idents(xs: &[SqlIdent]) -> Vec<&str> {
        xs.iter().map(|x| x.as_str()).collect()
    }

    #[test]
    fn the_schema_follows_the_policy() {
        let p = policy("cheapestinference");
        let specs = schema(&p, "main").expect("test value");
        let names: Vec<&str> = specs.iter().map(|t| t.name.as_str()).collect();
        let pos = |t: &str| names.iter().position(|n| *n == t).expect("test value");
        assert!(pos("users") < pos("api_keys"));
        assert!(pos("api_keys") < pos("usage_events"));
        let daily = &specs[pos("usage_daily")];
        assert_eq!(idents(&daily.primary_key), ["day", "model"]);
        assert_eq!(
            daily.column("day").expect("test value").ty,
            ColumnType::Date
        );
        let events = &specs[pos("usage_events")];
        assert_eq!(idents(&events.primary_key), ["id"]);
        assert_eq!(
            events.column("api_key_id").expect("test value").ty,
            ColumnType::Integer
        );
        assert_eq!(
            events.column("created_at").expect("test value").ty,
            ColumnType::Timestamp
        );
        assert_eq!(
            events.column("model").expect("test value").ty,
            ColumnType::Text
        );
        assert_eq!(events.foreign_keys[0].1.table.as_str(), "api_keys");
        assert!(events.indexes.iter().any(|i| i.as_str() == "api_key_id"));
        assert!(events.indexes.iter().any(|i| i.as_str() == "created_at"));
        let users = &specs[pos("users")];
        assert_eq!(
            users.column("stripe_customer_id").expect("test value").ty,
            ColumnType::Text
        );
    }

    #[test]
    fn every_seed_table_has_a_key_to_page_on() {
        for name in [
            "cheapestinference",
            "infercast",
            "inferencehub",
            "inferexai",
            "infrpool",
        ] {
            let p = policy(name);
            for (store, s) in &p.stores {
                if !s.kind.is_tabular() || s.kind == StoreKind::Clickhouse {
                    continue;
                }
                for t in schema(&p, store).expect("test value") {
                    assert!(!t.primary_key.is_empty(), "{name}: {} has no key", t.name);
                }
            }
        }
    }

    #[test]
    fn the_generator_is_deterministic() {
        let as_of = DateTime::from_timestamp(1_800_000_000, 0).expect("test value");
        let a = people(30, &mut Rng(1), as_of, true);
        let b = people(30, &mut Rng(1), as_of, true);
        let c = people(30, &mut Rng(2), as_of, true);
        let key = |p: &[Person]| {
            p.iter()
                .map(|p| (p.created, p.closed, p.requested))
                .collect::<Vec<_>>()
        };
        assert_eq!(key(&a), key(&b));
        assert_ne!(key(&a), key(&c));
        let held = &a[HELD_SUBJECT as usize - 1];
        assert!(held.closed.is_some() && held.requested.is_some());
        assert!(a
            .iter()
            .all(|p| p.created <= as_of && p.end(as_of) >= p.created));
    }
}
