//! The planner: (policy, live schema, now) → a plan, with no database access
//! of its own. A dry run prints the plan; the executor applies it; tests
//! assert on it.

use std::collections::BTreeMap;

use chrono::{DateTime, Months, Utc};
use privctl_policy::model::{
    Anchor, AnonymiseMethod, Category, DataType, ErasureAction, EventSource, ExpiryAction,
    FinancialYear, Policy, StoreKind,
};
use privctl_policy::{ColumnRef, Hop, RetentionPeriod, SqlIdent};
use privctl_store::{Column, Dialect, Schema, Table, TimeKind};
use serde::Serialize;

use crate::sql::{time_of, time_to_store, time_value, Sql, Value};
use crate::Error;

/// What the planner knows about one store.
#[derive(Debug, Clone)]
pub enum StoreInfo {
    /// A database, with its live schema.
    Database {
        /// Its dialect.
        dialect: Dialect,
        /// Its tables.
        schema: Schema,
    },
    /// A directory of files.
    Files {
        /// Its root.
        root: std::path::PathBuf,
    },
    /// A ClickHouse store: its tables and their partitions.
    ClickHouse(crate::telemetry::ChInfo),
    /// A store this release cannot act on.
    Unsupported {
        /// Why.
        reason: String,
    },
}

/// A customer's recorded choice of period and their tier, as text (`None`
/// for NULL).
pub type Choice = (Option<String>, Option<String>);

/// A choice read per customer (`customer.key`): the customer's key, their
/// period and their tier, as text.
pub type KeyedChoice = (String, Option<String>, Option<String>);

/// Choices that apply (each with the condition selecting its rows) and
/// those refused (and why).
type Choices = (Vec<(Sql, RetentionPeriod)>, Vec<String>);

/// Everything the planner reads.
#[derive(Debug)]
pub struct Inputs<'a> {
    /// The policy.
    pub policy: &'a Policy,
    /// Its stores, by name.
    pub stores: &'a BTreeMap<String, StoreInfo>,
    /// The store holding privctl's own tables (holds, requests, run log).
    pub home: &'a str,
    /// Whether those tables exist yet (a dry run on a new database: no holds
    /// and no requests).
    pub own_tables: bool,
    /// The instant the sweep acts as of.
    pub as_of: DateTime<Utc>,
    /// Only this data type, when given.
    pub only: Option<&'a str>,
    /// Data types under a legal hold, with the hold's reason.
    pub held_data_types: &'a BTreeMap<String, String>,
    /// User ids of subjects under a hold.
    pub held_subjects: &'a [String],
    /// Per data type with `retention.customer`: the distinct (period,
    /// tier) choices recorded, as text (`None` for NULL).
    pub customer_choices: &'a BTreeMap<String, Vec<Choice>>,
    /// Per data type whose choices could not be read: why (it is then not
    /// swept).
    pub choice_errors: &'a BTreeMap<String, String>,
    /// Per data type whose choices are read per customer (`customer.key`):
    /// each customer's key, period and tier.
    pub keyed_choices: &'a BTreeMap<String, Vec<KeyedChoice>>,
}

/// A whole sweep, as planned.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The instant it acts as of.
    pub as_of: DateTime<Utc>,
    /// One step per data type, in the policy's order.
    pub steps: Vec<Step>,
}

/// What happens to one data type.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// The data type.
    pub data_type: String,
    /// Its store.
    pub store: String,
    /// Its period, as the policy writes it.
    pub period: String,
    /// What the period counts from.
    pub from: Anchor,
    /// What happens on expiry.
    pub action: ExpiryAction,
    /// Rows whose anchor is at or before this instant have expired (under
    /// the default period; conditional rules have their own).
    pub cutoff: Option<DateTime<Utc>>,
    /// Legal floors that protect it, by name.
    pub floors: Vec<String>,
    /// Customer choices refused (out of bounds, not a period, a tier not
    /// allowed to choose), and why: the default period applies to them.
    pub refused_choices: Vec<String>,
    /// In an erasure: what the policy's erasure rule says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub erasure: Option<ErasureAction>,
    /// In an erasure: the floors that keep rows back, each with the anchor
    /// it counts from, to tell until when.
    #[serde(skip)]
    pub floor_ends: Vec<FloorEnd>,
    /// The work.
    pub work: Work,
}

/// A floor that keeps rows through an erasure, and how to tell its end.
#[derive(Debug, Clone)]
pub struct FloorEnd {
    /// The floor's name.
    pub floor: String,
    /// Each row's anchor.
    pub anchor: Sql,
    /// The anchor's kind of time.
    pub kind: TimeKind,
    /// The floor's period.
    pub period: RetentionPeriod,
    /// The financial year the anchor's year end is found in, when the
    /// floor counts from one.
    pub year: Option<FinancialYear>,
}

impl FloorEnd {
    /// When the floor ends for a row whose anchor holds `anchor`.
    pub fn end_for(&self, anchor: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start = match self.year {
            Some(fy) => year_end_of(fy, self.kind, anchor),
            None => anchor,
        };
        self.period.end_from(start)
    }
}

/// The latest value an anchor of `kind` may hold for its financial year to
/// have ended by `cut`. An instant is placed in its year exactly. A date
/// (`date`) is a day of the organisation's calendar, read as midnight UTC,
/// so it is compared by day. Text may hold either: east of UTC both readings
/// agree, and west of it the bound moves back by the offset, so a date alone
/// is never taken for the year before (an instant in the year's last hours
/// is then kept a year longer, never deleted early).
pub(crate) fn year_ended_bound(
    fy: FinancialYear,
    kind: TimeKind,
    cut: DateTime<Utc>,
) -> DateTime<Utc> {
    let start = fy.start_of_year_holding(cut);
    let offset = chrono::Duration::minutes(fy.utc_offset.minutes().into());
    let bound = match kind {
        TimeKind::Date => start + offset,
        TimeKind::Text if offset < chrono::Duration::zero() => start + offset,
        _ => start,
    };
    bound - chrono::Duration::microseconds(1)
}

/// When the financial year of an anchor of `kind` holding `t` ends, read as
/// [`year_ended_bound`] reads it (a date by its day; text, west of UTC, at
/// its latest).
fn year_end_of(fy: FinancialYear, kind: TimeKind, t: DateTime<Utc>) -> DateTime<Utc> {
    let offset = chrono::Duration::minutes(fy.utc_offset.minutes().into());
    let local = match kind {
        TimeKind::Date => t - offset,
        TimeKind::Text if offset < chrono::Duration::zero() => t - offset,
        _ => t,
    };
    fy.end_of_year_holding(local)
}

/// Each row's anchor: an expression, the kind of time it holds, and the
/// financial year it is read in when a period counts from its year's end.
#[derive(Debug, Clone)]
pub(crate) struct AnchorExpr {
    pub(crate) sql: Sql,
    pub(crate) kind: TimeKind,
    pub(crate) year: Option<FinancialYear>,
}

impl AnchorExpr {
    fn at(sql: Sql, kind: TimeKind) -> AnchorExpr {
        AnchorExpr {
            sql,
            kind,
            year: None,
        }
    }
}

/// The work a step does.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Work {
    /// Nothing expires (an indefinite period).
    Nothing {
        /// Why.
        reason: String,
    },
    /// The whole data type is under a legal hold.
    Held {
        /// The hold's reason.
        reason: String,
    },
    /// Rows of a table.
    Rows(Box<RowWork>),
    /// Files under a directory.
    Files(FileWork),
    /// Rows of a ClickHouse table.
    ClickHouse(Box<crate::telemetry::ChWork>),
    /// Something the policy asks that this release cannot do: nothing is
    /// changed, and the sweep reports it (and exits 1).
    NotSupported {
        /// What, and why.
        reason: String,
    },
}

/// Expiry of rows in one table.
#[derive(Debug, Clone, Serialize)]
pub struct RowWork {
    /// The table.
    pub table: SqlIdent,
    /// Its primary key, the batches' keyset; for a partitioned table the
    /// key's first column (a range of keys takes every row with those keys,
    /// so a key shared by rows of several partitions is handled whole).
    pub key: SqlIdent,
    /// Whether the key is an integer (else text).
    pub integer_key: bool,
    /// What is done to each row.
    pub op: RowOp,
    /// Rows whose retention has ended.
    #[serde(skip)]
    pub expired: Sql,
    /// Rows every floor has released (`1 = 1` when none applies).
    #[serde(skip)]
    pub released: Sql,
    /// Rows of a held subject (`1 = 0` when none can be).
    #[serde(skip)]
    pub held: Sql,
    /// Rows the action still has to reach (`1 = 1`, or for anonymisation
    /// those not yet anonymised).
    #[serde(skip)]
    pub pending: Sql,
    /// Rows other rows still refer to by foreign key (`1 = 0` when none
    /// can be): never deleted, so a cascade cannot reach rows a floor or a
    /// hold protects.
    #[serde(skip)]
    pub referenced: Sql,
    /// PostgreSQL partitions whose every row is past the retention (their
    /// range ends at or before the cutoff): each is detached and dropped
    /// whole, unless a floor, a hold or a reference protects a row in it,
    /// when the row-wise batches handle it instead.
    pub partitions: Vec<PartitionDrop>,
    /// For the subject's own rows (accounts), deleted on expiry: how an
    /// expired row that must stay because kept rows refer to it stops
    /// saying who it was.
    pub unidentify: Option<Unidentify>,
}

/// How an account row that must stay (kept rows refer to it) stops saying
/// who it was: every column classified as something that tells who
/// someone is (anything but metadata, financial, telemetry and audit data)
/// is emptied where it may be, or in a text column that may not be empty,
/// replaced by `erased-` and the row's key, which is unique as the column
/// may need and says nothing the key does not. The key, the columns other
/// tables refer to and the policy's time columns stay. Done once: a row
/// whose columns are all replaced is not pending.
#[derive(Debug, Clone, Serialize)]
pub struct Unidentify {
    /// The columns replaced, `table.column`.
    pub columns: Vec<String>,
    /// The `SET` list.
    #[serde(skip)]
    pub assignments: Sql,
    /// Rows where some of those columns still hold what they held.
    #[serde(skip)]
    pub pending: Sql,
}

/// Categories whose values say who someone is.
pub fn identifying(c: Category) -> bool {
    !matches!(
        c,
        Category::Metadata | Category::Financial | Category::Telemetry | Category::Audit
    )
}

/// How data type `dt`'s rows stop saying who they were about, when its
/// table is the subject's own (`None` otherwise, or when no column can be
/// replaced).
pub fn unidentify(policy: &Policy, dt: &DataType, schema: &Schema) -> Option<Unidentify> {
    let home = policy.subject_home()?;
    if dt.store != home.store || dt.table.as_ref() != Some(&home.table) {
        return None;
    }
    let table = schema.tables.get(home.table.as_str())?;
    let key = match table.primary_key.as_slice() {
        [k] => SqlIdent::new(k).ok()?,
        _ => return None,
    };
    let referenced: Vec<&str> = schema
        .tables
        .values()
        .flat_map(|t| &t.foreign_keys)
        .filter(|fk| fk.references_table == home.table.as_str())
        .flat_map(|fk| {
            if fk.references_columns.is_empty() {
                table
                    .primary_key
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
            } else {
                fk.references_columns.iter().map(String::as_str).collect()
            }
        })
        // Or by a link of the subject map that the schema does not enforce.
        .chain(policy.subject.links.iter().filter_map(|l| {
            l.references
                .as_ref()
                .filter(|r| l.store == home.store && r.table == home.table)
                .map(|r| r.column.as_str())
        }))
        .collect();
    let events = &policy.subject.events;
    let times: Vec<&SqlIdent> = dt
        .timestamp
        .iter()
        .chain(&dt.anonymised_at)
        .chain(events.account_closed.iter().map(|c| &c.column))
        .chain(events.last_activity.iter().map(|c| &c.column))
        .chain(
            events
                .deletion_requested
                .as_ref()
                .and_then(|e| e.column())
                .map(|c| &c.column),
        )
        .collect();
    let mut columns = Vec::new();
    let mut assignments = Sql::new();
    let mut pending = Sql::new();
    pending.push("(1 = 0");
    for (column, category) in &dt.columns {
        if !identifying(*category)
            || *column == home.column
            || referenced.contains(&column.as_str())
            || times.contains(&column)
            || table.primary_key.iter().any(|k| k == column.as_str())
        {
            continue;
        }
        let Some(col) = table.column(column.as_str()) else {
            continue;
        };
        let text = col.declared_type.contains("text")
            || col.declared_type.contains("char")
            || col.declared_type.is_empty();
        let mut one = Sql::new();
        if !col.not_null {
            one.ident(column).push(" = NULL");
            pending
                .push(" OR ")
                .column(&home.table, column)
                .push(" IS NOT NULL");
        } else if text {
            let mut erased = Sql::new();
            erased
                .push("('erased-' || CAST(")
                .column(&home.table, &key)
                .push(" AS TEXT))");
            one.ident(column).push(" = ").append(&erased);
            pending
                .push(" OR ")
                .column(&home.table, column)
                .push(" <> ")
                .append(&erased);
        } else {
            // NOT NULL and no text: nothing can stand in for it.
            continue;
        }
        if !columns.is_empty() {
            assignments.push(", ");
        }
        assignments.append(&one);
        columns.push(format!("{}.{column}", home.table));
    }
    pending.push(")");
    (!columns.is_empty()).then_some(Unidentify {
        columns,
        assignments,
        pending,
    })
}

/// A partition that may be dropped whole.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionDrop {
    /// The partition's table.
    pub name: SqlIdent,
    /// The exclusive upper bound of its range.
    pub upper: DateTime<Utc>,
}

/// The action on rows.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RowOp {
    /// Rows are deleted.
    Delete,
    /// Columns are overwritten and the time recorded.
    Anonymise {
        /// Columns and methods.
        columns: BTreeMap<String, AnonymiseMethod>,
        /// `SET` list, the time of anonymisation included.
        #[serde(skip)]
        assignments: Sql,
    },
    /// An account row that must stay stops saying who it was (see
    /// [`Unidentify`]).
    Unidentify {
        /// `SET` list.
        #[serde(skip)]
        assignments: Sql,
    },
    /// Rows are summed into buckets of an aggregate table, then deleted, in
    /// one transaction per batch.
    RollUp {
        /// The aggregate table.
        into: SqlIdent,
        /// `INSERT ... SELECT` list up to `FROM`.
        #[serde(skip)]
        insert: Sql,
        /// `GROUP BY ... ON CONFLICT ... DO UPDATE` tail.
        #[serde(skip)]
        tail: Sql,
    },
    /// Each row's subject is crypto-shredded in the vault (their data key
    /// destroyed, so every value sealed for them is unreadable), then the
    /// row is deleted. A subject is shredded only when every row of theirs
    /// in the table has expired and nothing protects it.
    CryptoShred {
        /// The row's subject (its user id), as an expression.
        #[serde(skip)]
        subject: Sql,
    },
}

/// Expiry of files in a directory.
#[derive(Debug, Clone, Serialize)]
pub struct FileWork {
    /// The directory swept (the store's root joined with the data type's path).
    pub dir: std::path::PathBuf,
    /// Files modified at or before this instant are deleted.
    pub cutoff: DateTime<Utc>,
    /// Subject directories under a hold, relative to `dir` (from the
    /// policy's `{user_id}/` links); every file when a subject is held and
    /// the directory has no per-subject layout.
    pub held_dirs: Vec<String>,
    /// Whether every file is kept because a subject is held and files
    /// cannot be told apart by subject.
    pub all_held: bool,
    /// Whether `dir` is one subject's own (an erasure): missing, it holds
    /// nothing of theirs; emptied, it is removed.
    pub subject_dir: bool,
}

/// The latest time a row's anchor may hold for a period counted `from` it
/// to have passed by `as_of`: [`cutoff`] itself, or for a financial year's
/// end the last instant of the last financial year that had ended by then.
/// `None` when the period never passes, or when the policy gives no
/// financial year to count in (`check` refuses that).
pub fn cutoff_from(
    period: RetentionPeriod,
    from: Anchor,
    policy: &Policy,
    as_of: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let cut = cutoff(period, as_of)?;
    match from {
        Anchor::FinancialYearEnd => Some(
            policy
                .organisation
                .financial_year?
                .last_instant_ended_by(cut),
        ),
        _ => Some(cut),
    }
}

/// The instant before `as_of` by `period`: an anchor at or before it has
/// expired. Month arithmetic clamps to the end of shorter months.
pub fn cutoff(period: RetentionPeriod, as_of: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match period {
        RetentionPeriod::Hours(n) => as_of.checked_sub_signed(chrono::Duration::hours(n.into())),
        RetentionPeriod::Days(n) => as_of.checked_sub_signed(chrono::Duration::days(n.into())),
        RetentionPeriod::Months(n) => as_of.checked_sub_months(Months::new(n)),
        RetentionPeriod::Years(n) => as_of.checked_sub_months(Months::new(n.checked_mul(12)?)),
        RetentionPeriod::Indefinite => None,
    }
}

/// An expression giving 32 random hex digits, a new value per row.
pub fn random_text(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "lower(hex(randomblob(16)))",
        Dialect::Postgres => "md5(CAST(random() AS TEXT) || CAST(clock_timestamp() AS TEXT))",
    }
}

/// A pseudonym for an integer column: a negative number from the keyed
/// hash's first 60 bits, so it never collides with a real (positive) id.
pub fn integer_pseudonym(hex: &str) -> i64 {
    let head: String = hex.chars().take(15).collect();
    -(i64::from_str_radix(&head, 16).unwrap_or(0)) - 1
}

/// Plans a sweep.
pub fn plan(inputs: &Inputs<'_>) -> Result<Plan, Error> {
    let policy = inputs.policy;
    if let Some(only) = inputs.only {
        if !policy.data_types.contains_key(only) {
            return Err(Error::UnknownDataType(only.to_owned()));
        }
    }
    let mut steps = Vec::new();
    for (name, dt) in &policy.data_types {
        if inputs.only.is_some_and(|o| o != name) {
            continue;
        }
        let Some(retention) = &dt.retention else {
            continue;
        };
        let floors: Vec<String> = policy
            .legal_floors
            .iter()
            .filter(|(_, f)| f.applies_to.iter().any(|a| a == name))
            .map(|(n, _)| n.clone())
            .collect();
        if retention.from == Anchor::FinancialYearEnd
            && policy.organisation.financial_year.is_none()
        {
            return Err(Error::NoSource {
                data_type: name.clone(),
                anchor: "financial_year_end",
            });
        }
        let cut = cutoff_from(retention.period, retention.from, policy, inputs.as_of);
        let mut step = Step {
            data_type: name.clone(),
            store: dt.store.clone(),
            period: retention.period.to_string(),
            from: retention.from,
            action: retention.action,
            cutoff: cut,
            floors,
            refused_choices: Vec::new(),
            erasure: None,
            floor_ends: Vec::new(),
            work: Work::Nothing {
                reason: "kept indefinitely".to_owned(),
            },
        };
        let conditional_ends = retention.rules.iter().any(|r| !r.period.is_indefinite())
            || (retention.configurable
                && retention.customer.is_some()
                && (inputs.customer_choices.contains_key(name)
                    || inputs.keyed_choices.contains_key(name)));
        if cut.is_none() && !conditional_ends {
            steps.push(step);
            continue;
        }
        if let Some(reason) = inputs.held_data_types.get(name) {
            step.work = Work::Held {
                reason: reason.clone(),
            };
            steps.push(step);
            continue;
        }
        let store = inputs
            .stores
            .get(&dt.store)
            .ok_or_else(|| Error::UnknownStore(dt.store.clone()))?;
        let work = match store {
            StoreInfo::Files { root } => plan_files(inputs, name, dt, root, cut).map(Work::Files),
            StoreInfo::Database { dialect, schema } => {
                let mut p = Planner {
                    inputs,
                    name,
                    dt,
                    dialect: *dialect,
                    schema,
                    refused: Vec::new(),
                };
                let work = p.rows().map(|w| Work::Rows(Box::new(w)));
                step.refused_choices = p.refused;
                work
            }
            StoreInfo::ClickHouse(info) => {
                crate::telemetry::plan(inputs, name, dt, info).map(|w| {
                    step.refused_choices = w.refused.clone();
                    Work::ClickHouse(Box::new(w))
                })
            }
            StoreInfo::Unsupported { reason } => Ok(Work::NotSupported {
                reason: format!("store \"{}\" is {reason}", dt.store),
            }),
        };
        step.work = match work {
            Ok(w) => w,
            Err(Error::Unsupported { what, .. }) => Work::NotSupported {
                reason: format!("{what} is not supported"),
            },
            Err(e) => return Err(e),
        };
        steps.push(step);
    }
    // Rows that refer to others go first, so a parent whose children
    // expire in the same sweep can go too.
    steps.sort_by_key(|s| std::cmp::Reverse(depth(inputs, s)));
    Ok(Plan {
        as_of: inputs.as_of,
        steps,
    })
}

/// How many foreign keys deep a step's table sits (0 for a table that
/// refers to none).
pub(crate) fn depth(inputs: &Inputs<'_>, step: &Step) -> usize {
    let Work::Rows(work) = &step.work else {
        return 0;
    };
    let Some(StoreInfo::Database { schema, .. }) = inputs.stores.get(&step.store) else {
        return 0;
    };
    let mut seen = vec![work.table.to_string()];
    fn go(schema: &Schema, table: &str, seen: &mut Vec<String>) -> usize {
        let Some(t) = schema.tables.get(table) else {
            return 0;
        };
        let mut best = 0;
        for fk in &t.foreign_keys {
            if seen.contains(&fk.references_table) || seen.len() > 32 {
                continue;
            }
            seen.push(fk.references_table.clone());
            best = best.max(1 + go(schema, &fk.references_table, seen));
            seen.pop();
        }
        best
    }
    go(schema, work.table.as_str(), &mut seen)
}

fn plan_files(
    inputs: &Inputs<'_>,
    name: &str,
    dt: &DataType,
    root: &std::path::Path,
    cut: Option<DateTime<Utc>>,
) -> Result<FileWork, Error> {
    let cutoff = cut.ok_or_else(|| Error::Unsupported {
        data_type: name.to_owned(),
        what: "conditional periods on files".to_owned(),
    })?;
    let path = dt.path.as_deref().unwrap_or(".");
    let per_subject = inputs.policy.subject.links.iter().any(|l| {
        l.store == dt.store
            && l.path
                .as_deref()
                .is_some_and(|p| p.starts_with("{user_id}"))
    });
    let linked = inputs
        .policy
        .subject
        .links
        .iter()
        .any(|l| l.store == dt.store);
    Ok(FileWork {
        dir: root.join(path),
        cutoff,
        held_dirs: if per_subject {
            inputs.held_subjects.to_vec()
        } else {
            Vec::new()
        },
        // A store the subject map links to, but not per person, may hold a
        // held subject's files anywhere; a store it does not link to holds
        // nobody's.
        all_held: !inputs.held_subjects.is_empty() && !per_subject && linked,
        subject_dir: false,
    })
}

pub(crate) struct Planner<'a, 'b> {
    pub(crate) inputs: &'a Inputs<'b>,
    pub(crate) name: &'a str,
    pub(crate) dt: &'a DataType,
    pub(crate) dialect: Dialect,
    pub(crate) schema: &'a Schema,
    /// Customer choices refused, for the report.
    pub(crate) refused: Vec<String>,
}

impl<'a> Planner<'a, '_> {
    pub(crate) fn table(&self, t: &SqlIdent) -> Result<&'a Table, Error> {
        self.schema
            .tables
            .get(t.as_str())
            .ok_or_else(|| Error::MissingTable {
                store: self.dt.store.clone(),
                table: t.to_string(),
                data_type: self.name.to_owned(),
            })
    }

    pub(crate) fn column(&self, t: &SqlIdent, c: &SqlIdent) -> Result<&Column, Error> {
        self.table(t)?
            .column(c.as_str())
            .ok_or_else(|| Error::MissingColumn {
                store: self.dt.store.clone(),
                column: format!("{t}.{c}"),
                data_type: self.name.to_owned(),
            })
    }

    pub(crate) fn time_kind(&self, t: &SqlIdent, c: &SqlIdent) -> Result<TimeKind, Error> {
        let column = self.column(t, c)?;
        column
            .time_kind(self.dialect)
            .ok_or_else(|| Error::NotATime {
                column: format!("{t}.{c}"),
                declared: column.declared_type.clone(),
            })
    }

    fn rows(&mut self) -> Result<RowWork, Error> {
        let dt = self.dt;
        let retention = dt.retention.as_ref().ok_or(Error::Internal("retention"))?;
        let table_name = dt.table.as_ref().ok_or_else(|| Error::Unsupported {
            data_type: self.name.to_owned(),
            what: "a tabular data type without a table".to_owned(),
        })?;
        let table = self.table(table_name)?;
        let (key, integer_key) = self.key(table_name)?;

        // Expired: first matching conditional rule, else the default period.
        let anchor = self.anchor(retention.from)?;
        let mut expired = Sql::new();
        let mut earlier: Vec<Sql> = Vec::new();
        let mut parts = 0;
        expired.push("(");
        for rule in &retention.rules {
            let cond = self.condition(table_name, &rule.column, &rule.equals)?;
            if let Some(c) = cutoff(rule.period, self.inputs.as_of) {
                if parts > 0 {
                    expired.push(" OR ");
                }
                expired.push("(").append(&cond);
                for e in &earlier {
                    expired.push(" AND NOT ").append(e);
                }
                expired.push(" AND ");
                self.before(&mut expired, &anchor, c);
                expired.push(")");
                parts += 1;
            }
            earlier.push(cond);
        }
        // Customers' choices exclude each other (one value each), so each
        // needs only the rules before it; the default needs them all.
        let (chosen, refused) = self.choices(table_name)?;
        self.refused = refused;
        let rules = earlier.len();
        for (cond, period) in chosen {
            if let Some(c) = cutoff(period, self.inputs.as_of) {
                if parts > 0 {
                    expired.push(" OR ");
                }
                expired.push("(").append(&cond);
                for e in &earlier[..rules] {
                    expired.push(" AND NOT ").append(e);
                }
                expired.push(" AND ");
                self.before(&mut expired, &anchor, c);
                expired.push(")");
                parts += 1;
            }
            earlier.push(cond);
        }
        if let Some(c) = cutoff(retention.period, self.inputs.as_of) {
            if parts > 0 {
                expired.push(" OR ");
            }
            expired.push("(1 = 1");
            for e in &earlier {
                expired.push(" AND NOT ").append(e);
            }
            expired.push(" AND ");
            self.before(&mut expired, &anchor, c);
            expired.push(")");
            parts += 1;
        }
        if parts == 0 {
            expired.push("1 = 0");
        }
        expired.push(")");

        // Released by every floor that applies.
        let mut released = Sql::new();
        released.push("(1 = 1");
        for floor in self
            .inputs
            .policy
            .legal_floors
            .values()
            .filter(|f| f.applies_to.iter().any(|a| a == self.name))
        {
            released.push(" AND ");
            match cutoff(floor.period, self.inputs.as_of) {
                None => {
                    released.push("1 = 0");
                }
                Some(c) => {
                    let a = self.anchor(floor.from)?;
                    self.before(&mut released, &a, c);
                }
            }
        }
        released.push(")");

        let held = self.held(table_name)?;
        let mut pending = Sql::new();
        let op = match retention.action {
            ExpiryAction::Delete => {
                pending.push("1 = 1");
                RowOp::Delete
            }
            ExpiryAction::Anonymise => {
                let marker = dt
                    .anonymised_at
                    .as_ref()
                    .ok_or_else(|| Error::Unsupported {
                        data_type: self.name.to_owned(),
                        what: "anonymisation without an anonymised_at column".to_owned(),
                    })?;
                self.time_kind(table_name, marker)?;
                pending.ident(marker).push(" IS NULL");
                self.anonymise(table_name, &retention.anonymise, None, &BTreeMap::new())?
            }
            ExpiryAction::RollUp => {
                pending.push("1 = 1");
                self.roll_up(table_name)?
            }
            ExpiryAction::CryptoShred => {
                // Shredding destroys every value the vault keeps for the
                // subject: only safe when this data type is the only one
                // keeping vault values, and its rows are about one person.
                let others: Vec<&str> = self
                    .inputs
                    .policy
                    .data_types
                    .iter()
                    .filter(|(n, d)| {
                        n.as_str() != self.name
                            && (d.categories.contains(&Category::Kyc)
                                || d.columns.values().any(|c| *c == Category::Kyc))
                    })
                    .map(|(n, _)| n.as_str())
                    .collect();
                if !others.is_empty() {
                    return Err(Error::Unsupported {
                        data_type: self.name.to_owned(),
                        what: format!(
                            "crypto_shred while other data types ({}) also keep vault values (shredding a subject destroys all of them)",
                            others.join(", ")
                        ),
                    });
                }
                if self.subject_keys(table_name).len() > 1 {
                    return Err(Error::Unsupported {
                        data_type: self.name.to_owned(),
                        what: "crypto_shred of rows about several subjects".to_owned(),
                    });
                }
                pending.push("1 = 1");
                let subject = self
                    .subject_key(table_name)
                    .map_err(|_| Error::Unsupported {
                        data_type: self.name.to_owned(),
                        what:
                            "crypto_shred of rows that do not reach their subject through the links"
                                .to_owned(),
                    })?;
                RowOp::CryptoShred { subject }
            }
        };
        let referenced = match op {
            RowOp::Anonymise { .. } => {
                let mut none = Sql::new();
                none.push("(1 = 0)");
                none
            }
            _ => self.referenced(table_name, table)?,
        };
        let partitions = self.droppable(table, &op)?;
        let unidentify = match op {
            RowOp::Delete | RowOp::CryptoShred { .. } => {
                unidentify(self.inputs.policy, dt, self.schema)
            }
            _ => None,
        };
        Ok(RowWork {
            table: table_name.clone(),
            key,
            integer_key,
            op,
            expired,
            released,
            held,
            pending,
            referenced,
            partitions,
            unidentify,
        })
    }

    /// The batches' keyset: one key column, or the first of a partitioned
    /// table's key, which must include the partition column (its first is
    /// the row's id); and whether it is an integer.
    pub(crate) fn key(&self, table_name: &SqlIdent) -> Result<(SqlIdent, bool), Error> {
        let table = self.table(table_name)?;
        let key = match table.primary_key.as_slice() {
            [k] => SqlIdent::new(k).map_err(|e| Error::UnsafeName(e.to_string()))?,
            [k, ..] if table.range_partitioned_on.is_some() => {
                SqlIdent::new(k).map_err(|e| Error::UnsafeName(e.to_string()))?
            }
            _ => {
                return Err(Error::NoKey {
                    table: table_name.to_string(),
                    data_type: self.name.to_owned(),
                })
            }
        };
        let integer_key = table
            .column(key.as_str())
            .is_some_and(|c| c.declared_type.contains("int"));
        Ok((key, integer_key))
    }

    /// The anonymisation of `columns` by their methods, the time recorded
    /// in the data type's `anonymised_at` when it has one. A pseudonym is
    /// `pseudonym` (hex of a keyed hash, from the vault), written as text,
    /// or as a negative integer in an integer column so it never names a
    /// real row; without one, pseudonymisation is not supported here.
    pub(crate) fn anonymise(
        &self,
        table_name: &SqlIdent,
        columns: &BTreeMap<SqlIdent, AnonymiseMethod>,
        pseudonym: Option<&str>,
        guards: &BTreeMap<SqlIdent, Sql>,
    ) -> Result<RowOp, Error> {
        let mut set = Sql::new();
        for (i, (column, method)) in columns.iter().enumerate() {
            let declared = self.column(table_name, column)?.declared_type.clone();
            if i > 0 {
                set.push(", ");
            }
            set.ident(column).push(" = ");
            // Overwritten only where the guard holds (the reference is the
            // subject's), else left as it is.
            let guard = guards.get(column);
            if let Some(g) = guard {
                set.push("CASE WHEN ").append(g).push(" THEN ");
            }
            match method {
                AnonymiseMethod::Null => {
                    set.push("NULL");
                }
                AnonymiseMethod::Placeholder => {
                    set.bind(Value::Text("[REDACTED]".to_owned()));
                }
                AnonymiseMethod::Random => {
                    set.push(random_text(self.dialect));
                }
                AnonymiseMethod::Pseudonym => {
                    let Some(p) = pseudonym else {
                        return Err(Error::Unsupported {
                            data_type: self.name.to_owned(),
                            what: "pseudonym anonymisation without the vault's pseudonym key (an erasure with the vault open applies it; a retention sweep cannot)".to_owned(),
                        });
                    };
                    let table = self.table(table_name)?;
                    if let Some(fk) = table
                        .foreign_keys
                        .iter()
                        .find(|f| f.columns.iter().any(|c| c == column.as_str()))
                    {
                        return Err(Error::Unsupported {
                            data_type: self.name.to_owned(),
                            what: format!(
                                "a pseudonym in {table_name}.{column}, a foreign key to {} (the pseudonym names no row there: drop the constraint, or anonymise another way)",
                                fk.references_table
                            ),
                        });
                    }
                    if declared.contains("int") {
                        set.bind(Value::Int(integer_pseudonym(p)));
                    } else {
                        set.bind(Value::Text(p.to_owned()));
                    }
                }
            }
            if guard.is_some() {
                set.push(" ELSE ").ident(column).push(" END");
            }
        }
        if let Some(marker) = &self.dt.anonymised_at {
            let kind = self.time_kind(table_name, marker)?;
            if !columns.is_empty() {
                set.push(", ");
            }
            set.ident(marker).push(" = ");
            time_to_store(&mut set, self.dialect, kind, self.inputs.as_of);
        }
        Ok(RowOp::Anonymise {
            columns: columns.iter().map(|(c, m)| (c.to_string(), *m)).collect(),
            assignments: set,
        })
    }

    /// Partitions of a PostgreSQL table range-partitioned on the data
    /// type's timestamp whose range ends at or before the cutoff, when rows
    /// expire by deletion from their creation and no conditional rule
    /// applies.
    fn droppable(&self, table: &Table, op: &RowOp) -> Result<Vec<PartitionDrop>, Error> {
        let Some(retention) = &self.dt.retention else {
            return Ok(Vec::new());
        };
        let (Some(ts), Some(cut)) = (
            self.dt.timestamp.as_ref(),
            cutoff(retention.period, self.inputs.as_of),
        ) else {
            return Ok(Vec::new());
        };
        if self.dialect != Dialect::Postgres
            || !matches!(op, RowOp::Delete)
            || retention.from != Anchor::Created
            || !retention.rules.is_empty()
            || retention.customer.is_some()
            || table.range_partitioned_on.as_deref() != Some(ts.as_str())
        {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for p in table.partitions.iter().filter(|p| p.leaf) {
            let (Some(upper), Ok(name)) = (
                p.upper.as_deref().and_then(partition_bound),
                SqlIdent::new(&p.name),
            ) else {
                continue;
            };
            if upper <= cut {
                out.push(PartitionDrop { name, upper });
            }
        }
        Ok(out)
    }

    /// Rows of `table` that a foreign key of any table still points at.
    pub(crate) fn referenced(&self, name: &SqlIdent, table: &Table) -> Result<Sql, Error> {
        let safe = |n: &str| SqlIdent::new(n).map_err(|e| Error::UnsafeName(e.to_string()));
        let mut sql = Sql::new();
        sql.push("(1 = 0");
        for child in self.schema.tables.values() {
            for fk in child
                .foreign_keys
                .iter()
                .filter(|f| f.references_table == name.as_str())
            {
                let parent_cols: Vec<&String> = if fk.references_columns.is_empty() {
                    table.primary_key.iter().collect()
                } else {
                    fk.references_columns.iter().collect()
                };
                if parent_cols.len() != fk.columns.len() {
                    continue;
                }
                // The child under an alias of its own, so a table that
                // refers to itself does not shadow the row being checked.
                let child_name = safe(&child.name)?;
                let alias = safe("privctl_child")?;
                sql.push(" OR EXISTS (SELECT 1 FROM ")
                    .ident(&child_name)
                    .push(" AS ")
                    .ident(&alias)
                    .push(" WHERE ");
                for (i, (c, p)) in fk.columns.iter().zip(parent_cols).enumerate() {
                    if i > 0 {
                        sql.push(" AND ");
                    }
                    sql.column(&alias, &safe(c)?)
                        .push(" = ")
                        .column(name, &safe(p)?);
                }
                sql.push(")");
            }
        }
        sql.push(")");
        Ok(sql)
    }

    /// Appends `anchor <= cutoff`, false when the anchor is NULL.
    /// Whether a period counted from `anchor` has passed: the anchor at or
    /// before `cut` (the time the period's own start would have to be at
    /// or before), or for a financial year's end, in a year that had ended
    /// by `cut`.
    pub(crate) fn before(&self, sql: &mut Sql, anchor: &AnchorExpr, cut: DateTime<Utc>) {
        let cut = match anchor.year {
            Some(fy) => year_ended_bound(fy, anchor.kind, cut),
            None => cut,
        };
        sql.push("(");
        sql.append(&anchor.sql).push(" IS NOT NULL AND ");
        time_of(sql, self.dialect, anchor.kind, &anchor.sql);
        sql.push(" <= ");
        time_value(sql, self.dialect, anchor.kind, cut);
        sql.push(")");
    }

    /// `column IN (values)`, never NULL, values bound as the column's type.
    fn condition(
        &self,
        table: &SqlIdent,
        column: &SqlIdent,
        values: &[String],
    ) -> Result<Sql, Error> {
        let integer = self.column(table, column)?.declared_type.contains("int");
        let mut sql = Sql::new();
        sql.push("COALESCE(").column(table, column).push(" IN (");
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            if integer {
                let n = v.parse::<i64>().map_err(|_| Error::BadConditionValue {
                    data_type: self.name.to_owned(),
                    column: column.to_string(),
                    value: v.clone(),
                })?;
                sql.bind(Value::Int(n));
            } else {
                sql.bind(Value::Text(v.clone()));
            }
        }
        if values.is_empty() {
            sql.push("NULL");
        }
        sql.push("), 1 = 0)");
        Ok(sql)
    }

    /// An expression reading `c` for each row of `table`, through the
    /// subject map.
    fn reach(&self, table: &SqlIdent, c: &ColumnRef) -> Result<Sql, Error> {
        self.column(&c.table, &c.column)?;
        let unreachable = || Error::Unreachable {
            data_type: self.name.to_owned(),
            table: c.table.to_string(),
        };
        let path = self
            .inputs
            .policy
            .subject_path(&self.dt.store, table)
            .ok_or_else(unreachable)?;
        let hops = path.hops_to(table, &c.table).ok_or_else(unreachable)?;
        Ok(self.through(table, hops, c))
    }

    /// The customer choices of this data type that may apply, each with
    /// the condition that selects its rows; the refused ones, and why.
    fn choices(&self, table: &SqlIdent) -> Result<Choices, Error> {
        let Some(r) = &self.dt.retention else {
            return Ok((Vec::new(), Vec::new()));
        };
        let Some(choice) = r.customer.as_ref().filter(|_| r.configurable) else {
            return Ok((Vec::new(), Vec::new()));
        };
        if let Some(why) = self.inputs.choice_errors.get(self.name) {
            return Err(Error::Unsupported {
                data_type: self.name.to_owned(),
                what: format!("retention by customer choice ({why})"),
            });
        }
        if let (Some(by), Some(_)) = (&choice.by, &choice.key) {
            return self.keyed_choices(table, r, by, choice.tier.is_some());
        }
        let period = self.reach(table, &choice.period)?;
        let tier = choice
            .tier
            .as_ref()
            .map(|t| self.reach(table, t))
            .transpose()?;
        let mut ok = Vec::new();
        let mut refused = Vec::new();
        let recorded = self
            .inputs
            .customer_choices
            .get(self.name)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for (p, t) in recorded {
            let Some(p) = p else { continue };
            let shown = match t {
                Some(t) => format!(
                    "\"{}\" (tier \"{}\")",
                    privctl_policy::escape_untrusted(p),
                    privctl_policy::escape_untrusted(t)
                ),
                None => format!("\"{}\"", privctl_policy::escape_untrusted(p)),
            };
            match choice_allowed(r, p, t.as_deref(), tier.is_some()) {
                Err(why) => refused.push(format!("{shown}: {why}")),
                Ok(chosen) => {
                    let mut cond = Sql::new();
                    cond.push("COALESCE((CAST(")
                        .append(&period)
                        .push(" AS TEXT) = ")
                        .bind(Value::Text(p.clone()));
                    // The tier matters only where the retention names tiers
                    // (then `choice_allowed` has required one).
                    if let (Some(tier), false) = (&tier, r.tiers.is_empty()) {
                        cond.push(" AND CAST(").append(tier).push(" AS TEXT) = ");
                        cond.bind(Value::Text(t.clone().unwrap_or_default()));
                    }
                    cond.push("), 1 = 0)");
                    ok.push((cond, chosen));
                }
            }
        }
        Ok((ok, refused))
    }

    /// Choices read per customer (`customer.by` and `customer.key`): the
    /// rows whose `by` column names a customer who chose a period allowed,
    /// grouped by period; the others refused.
    fn keyed_choices(
        &self,
        table: &SqlIdent,
        retention: &privctl_policy::model::Retention,
        by: &SqlIdent,
        tier_recorded: bool,
    ) -> Result<Choices, Error> {
        self.column(table, by)?;
        let mut groups: BTreeMap<String, (RetentionPeriod, Vec<String>)> = BTreeMap::new();
        let mut refused = Vec::new();
        for (key, p, t) in self
            .inputs
            .keyed_choices
            .get(self.name)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let Some(p) = p else { continue };
            match choice_allowed(retention, p, t.as_deref(), tier_recorded) {
                Err(why) => refused.push(format!(
                    "customer {}: \"{}\": {why}",
                    privctl_policy::escape_untrusted(key),
                    privctl_policy::escape_untrusted(p)
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
        let ok = groups
            .into_values()
            .map(|(period, keys)| {
                let mut cond = Sql::new();
                cond.push("COALESCE(CAST(")
                    .column(table, by)
                    .push(" AS TEXT) IN (");
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        cond.push(", ");
                    }
                    cond.bind(Value::Text(k));
                }
                cond.push("), 1 = 0)");
                (cond, period)
            })
            .collect();
        Ok((ok, refused))
    }

    /// The expression giving each row's anchor, with its time kind.
    pub(crate) fn anchor(&self, anchor: Anchor) -> Result<AnchorExpr, Error> {
        let dt = self.dt;
        let table = dt.table.as_ref().ok_or(Error::Internal("table"))?;
        let events = &self.inputs.policy.subject.events;
        let column_anchor = |c: &ColumnRef| -> Result<AnchorExpr, Error> {
            let kind = self.time_kind(&c.table, &c.column)?;
            Ok(AnchorExpr::at(self.reach(table, c)?, kind))
        };
        match anchor {
            Anchor::Created | Anchor::FinancialYearEnd => {
                let ts = dt.timestamp.as_ref().ok_or(Error::Internal("timestamp"))?;
                let mut sql = Sql::new();
                sql.column(table, ts);
                let mut expr = AnchorExpr::at(sql, self.time_kind(table, ts)?);
                if anchor == Anchor::FinancialYearEnd {
                    expr.year = Some(self.inputs.policy.organisation.financial_year.ok_or_else(
                        || Error::NoSource {
                            data_type: self.name.to_owned(),
                            anchor: "financial_year_end",
                        },
                    )?);
                }
                Ok(expr)
            }
            Anchor::Anonymised => {
                let c = dt.anonymised_at.as_ref().ok_or_else(|| Error::NoSource {
                    data_type: self.name.to_owned(),
                    anchor: "anonymised",
                })?;
                let mut sql = Sql::new();
                sql.column(table, c);
                Ok(AnchorExpr::at(sql, self.time_kind(table, c)?))
            }
            Anchor::LastActivity => column_anchor(events.last_activity.as_ref().ok_or_else(
                || Error::NoSource {
                    data_type: self.name.to_owned(),
                    anchor: "last_activity",
                },
            )?),
            Anchor::AccountClosed => column_anchor(events.account_closed.as_ref().ok_or_else(
                || Error::NoSource {
                    data_type: self.name.to_owned(),
                    anchor: "account_closed",
                },
            )?),
            Anchor::DeletionRequested => match &events.deletion_requested {
                None => Err(Error::NoSource {
                    data_type: self.name.to_owned(),
                    anchor: "deletion_requested",
                }),
                Some(EventSource::Column(c)) => column_anchor(c),
                Some(EventSource::Privctl) => {
                    let mut sql = Sql::new();
                    if !self.inputs.own_tables || self.inputs.home != dt.store {
                        // No request has been recorded where these rows can see it.
                        sql.push("CAST(NULL AS BIGINT)");
                        return Ok(AnchorExpr::at(sql, TimeKind::UnixSeconds));
                    }
                    let key = self.subject_key(table)?;
                    sql.push("(SELECT MIN(r.requested_at) FROM privctl_requests r WHERE r.kind = 'erasure' AND r.cancelled_at IS NULL AND r.subject = CAST(")
                        .append(&key)
                        .push(" AS TEXT))");
                    Ok(AnchorExpr::at(sql, TimeKind::UnixSeconds))
                }
            },
        }
    }

    /// The subject's key for each row of `table`, through the links.
    pub(crate) fn subject_key(&self, table: &SqlIdent) -> Result<Sql, Error> {
        let path = self
            .inputs
            .policy
            .subject_path(&self.dt.store, table)
            .ok_or_else(|| Error::Unreachable {
                data_type: self.name.to_owned(),
                table: "the subject's table".to_owned(),
            })?;
        Ok(self.through(table, &path.hops, &path.key))
    }

    /// Every subject a row of `table` is about (see
    /// [`privctl_store::subject::subject_keys`]).
    fn subject_keys(&self, table: &SqlIdent) -> Vec<Sql> {
        privctl_store::subject::subject_keys(self.inputs.policy, &self.dt.store, table)
    }

    /// An expression reading `target` for each row of `table` (see
    /// [`privctl_store::subject::through`]).
    fn through(&self, table: &SqlIdent, hops: &[Hop], target: &ColumnRef) -> Sql {
        privctl_store::subject::through(table, hops, target)
    }

    /// Rows whose subject is under a hold.
    pub(crate) fn held(&self, table: &SqlIdent) -> Result<Sql, Error> {
        let mut sql = Sql::new();
        let reachable = self
            .inputs
            .policy
            .subject_path(&self.dt.store, table)
            .is_some();
        if !self.inputs.own_tables || self.inputs.home != self.dt.store || !reachable {
            if !self.inputs.held_subjects.is_empty() && self.about_people(table) && !reachable {
                // Data about people that SQL cannot join to a subject here:
                // kept whole while anyone is held.
                sql.push("(1 = 1)");
            } else {
                sql.push("(1 = 0)");
            }
            return Ok(sql);
        }
        // Every link out of the table leads to a subject (a request has a
        // consumer and a supplier): a hold on any of them keeps the row.
        sql.push("(1 = 0");
        for key in self.subject_keys(table) {
            sql.push(" OR EXISTS (SELECT 1 FROM privctl_holds h WHERE h.scope = 'subject' AND h.released_at IS NULL AND h.target = CAST(")
                .append(&key)
                .push(" AS TEXT))");
        }
        sql.push(")");
        Ok(sql)
    }

    fn about_people(&self, table: &SqlIdent) -> bool {
        self.inputs
            .policy
            .subject
            .links
            .iter()
            .any(|l| l.store == self.dt.store && l.table.as_ref() == Some(table))
    }

    fn roll_up(&self, table_name: &SqlIdent) -> Result<RowOp, Error> {
        let retention = self
            .dt
            .retention
            .as_ref()
            .ok_or(Error::Internal("retention"))?;
        let r = retention
            .roll_up
            .as_ref()
            .ok_or(Error::Internal("roll_up"))?;
        let into = self.table(&r.into)?;
        let bucket_col = self
            .inputs
            .policy
            .data_types
            .values()
            .find(|d| d.store == self.dt.store && d.table.as_ref() == Some(&r.into))
            .and_then(|d| d.timestamp.clone())
            .ok_or_else(|| Error::Unsupported {
                data_type: self.name.to_owned(),
                what: format!(
                    "a roll-up into \"{}\", which no data type with a timestamp column covers",
                    r.into
                ),
            })?;
        let mut key_cols: Vec<&str> = vec![bucket_col.as_str()];
        key_cols.extend(r.group_by.iter().map(|g| g.as_str()));
        if !into.is_unique_on(&key_cols) {
            return Err(Error::RollUpNeedsUnique {
                table: r.into.to_string(),
                columns: key_cols.join(", "),
            });
        }
        for c in r.group_by.iter().chain(&r.sum) {
            self.column(table_name, c)?;
            self.column(&r.into, c)?;
        }
        let ts = self
            .dt
            .timestamp
            .as_ref()
            .ok_or(Error::Internal("timestamp"))?;
        let src_kind = self.time_kind(table_name, ts)?;
        let dst = into
            .column(bucket_col.as_str())
            .ok_or(Error::Internal("bucket"))?;
        let date_only = dst.declared_type == "date";
        let unit = match r.bucket {
            RetentionPeriod::Hours(1) => "hour",
            RetentionPeriod::Days(1) => "day",
            RetentionPeriod::Months(1) => "month",
            RetentionPeriod::Years(1) => "year",
            other => {
                return Err(Error::Unsupported {
                    data_type: self.name.to_owned(),
                    what: format!("roll-up buckets of {other} (1h, 1d, 1mo and 1y are)"),
                })
            }
        };
        let mut bucket = Sql::new();
        match self.dialect {
            Dialect::Sqlite => {
                let format = match (unit, date_only) {
                    ("hour", _) => "strftime('%Y-%m-%d %H:00:00', ",
                    ("day", true) => "strftime('%Y-%m-%d', ",
                    ("day", false) => "strftime('%Y-%m-%d 00:00:00', ",
                    ("month", true) => "strftime('%Y-%m-01', ",
                    ("month", false) => "strftime('%Y-%m-01 00:00:00', ",
                    (_, true) => "strftime('%Y-01-01', ",
                    _ => "strftime('%Y-01-01 00:00:00', ",
                };
                bucket.push(format).column(table_name, ts);
                if src_kind == TimeKind::UnixSeconds {
                    bucket.push(", 'unixepoch'");
                }
                bucket.push(")");
            }
            Dialect::Postgres => {
                bucket.push(match unit {
                    "hour" => "date_trunc('hour', ",
                    "day" => "date_trunc('day', ",
                    "month" => "date_trunc('month', ",
                    _ => "date_trunc('year', ",
                });
                let mut col = Sql::new();
                col.column(table_name, ts);
                match src_kind {
                    TimeKind::UnixSeconds => {
                        bucket.push("to_timestamp(").append(&col).push(")");
                    }
                    kind => time_of(&mut bucket, self.dialect, kind, &col),
                }
                bucket.push(")");
            }
        }
        let mut insert = Sql::new();
        insert
            .push("INSERT INTO ")
            .ident(&r.into)
            .push(" (")
            .ident(&bucket_col);
        for c in r.group_by.iter().chain(&r.sum) {
            insert.push(", ").ident(c);
        }
        insert.push(") SELECT ").append(&bucket);
        for g in &r.group_by {
            insert.push(", ").column(table_name, g);
        }
        for s in &r.sum {
            insert
                .push(", COALESCE(SUM(")
                .column(table_name, s)
                .push("), 0)");
        }
        let mut tail = Sql::new();
        tail.push(" GROUP BY ").append(&bucket);
        for g in &r.group_by {
            tail.push(", ").column(table_name, g);
        }
        tail.push(" ON CONFLICT (").ident(&bucket_col);
        for g in &r.group_by {
            tail.push(", ").ident(g);
        }
        tail.push(")");
        if r.sum.is_empty() {
            tail.push(" DO NOTHING");
        } else {
            tail.push(" DO UPDATE SET ");
            for (i, s) in r.sum.iter().enumerate() {
                if i > 0 {
                    tail.push(", ");
                }
                tail.ident(s)
                    .push(" = ")
                    .column(&r.into, s)
                    .push(" + excluded.")
                    .ident(s);
            }
        }
        Ok(RowOp::RollUp {
            into: r.into.clone(),
            insert,
            tail,
        })
    }
}

/// Whether a customer may keep this data type for `period` (text from
/// the database), as a customer of `tier`: the period must parse and lie
/// within the retention's `min` and `max` whatever the start date, and where
/// the retention names tiers (and the policy says where the tier is
/// recorded), the customer's tier must be one of them.
pub fn choice_allowed(
    retention: &privctl_policy::model::Retention,
    period: &str,
    tier: Option<&str>,
    tier_recorded: bool,
) -> Result<RetentionPeriod, String> {
    let chosen: RetentionPeriod = period
        .trim()
        .parse()
        .map_err(|_| "not a period".to_owned())?;
    if let Some(min) = retention.min {
        if !chosen.covers(min) {
            return Err(format!("not at least the minimum {min}"));
        }
    }
    if let Some(max) = retention.max {
        if !max.covers(chosen) {
            return Err(format!("not at most the maximum {max}"));
        }
    }
    if !retention.tiers.is_empty() {
        if !tier_recorded {
            return Err("the policy does not say where the customer's tier is recorded".to_owned());
        }
        match tier {
            Some(t) if retention.tiers.iter().any(|x| x == t) => {}
            Some(t) => {
                return Err(format!(
                    "tier \"{}\" may not choose",
                    privctl_policy::escape_untrusted(t)
                ))
            }
            None => return Err("no tier recorded".to_owned()),
        }
    }
    Ok(chosen)
}

/// A range bound as PostgreSQL prints it for a `timestamptz` (in the
/// session's UTC), `timestamp` or `date` column.
fn partition_bound(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_str(&format!("{text}:00"), "%Y-%m-%d %H:%M:%S%.f%:z") {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f") {
        return Some(t.and_utc());
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// Which store holds privctl's own tables: the one holding the subject's
/// identifiers, else the first database store.
pub fn home_store(policy: &Policy) -> Option<&str> {
    policy
        .subject_home()
        .map(|i| i.store.as_str())
        .filter(|s| policy.stores.get(*s).is_some_and(|s| s.kind.is_tabular()))
        .or_else(|| {
            policy
                .stores
                .iter()
                .find(|(_, s)| s.kind != StoreKind::Files)
                .map(|(n, _)| n.as_str())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().expect("instant")
    }

    fn year(starts: &str, offset: &str) -> FinancialYear {
        FinancialYear {
            starts: starts.parse().expect("day"),
            utc_offset: offset.parse().expect("offset"),
        }
    }

    /// Whether an anchor holding `at` has had its financial year end by
    /// `cut`, as the sweep's comparison decides.
    fn ended(fy: FinancialYear, kind: TimeKind, at: &str, cut: &str) -> bool {
        t(at) <= year_ended_bound(fy, kind, t(cut))
    }

    #[test]
    fn dates_are_days_of_the_organisations_calendar() {
        let india = FinancialYear::INDIA;
        let cut = "2026-06-01T00:00:00Z";
        // 31 March is the old year's last day and 1 April the new year's
        // first, in a date column as in an instant at India's midnight.
        assert!(ended(india, TimeKind::Date, "2026-03-31T00:00:00Z", cut));
        assert!(!ended(india, TimeKind::Date, "2026-04-01T00:00:00Z", cut));
        assert!(ended(
            india,
            TimeKind::TimestampTz,
            "2026-03-31T18:29:59Z",
            cut
        ));
        assert!(!ended(
            india,
            TimeKind::TimestampTz,
            "2026-03-31T18:30:00Z",
            cut
        ));
        // West of UTC a date is not taken for the day before.
        let ny = year("01-01", "-05:00");
        let cut = "2027-06-01T00:00:00Z";
        assert!(ended(ny, TimeKind::Date, "2026-12-31T00:00:00Z", cut));
        assert!(!ended(ny, TimeKind::Date, "2027-01-01T00:00:00Z", cut));
        // An instant is placed exactly: 04:59 UTC on 1 January is still 31
        // December in New York.
        assert!(ended(
            ny,
            TimeKind::TimestampTz,
            "2027-01-01T04:59:59Z",
            cut
        ));
        assert!(!ended(
            ny,
            TimeKind::TimestampTz,
            "2027-01-01T05:00:00Z",
            cut
        ));
        // Text may be either: read so that neither reading ends early.
        assert!(!ended(ny, TimeKind::Text, "2027-01-01T00:00:00Z", cut));
        assert!(!ended(ny, TimeKind::Text, "2027-01-01T04:59:59Z", cut));
        assert!(ended(ny, TimeKind::Text, "2026-12-31T23:59:59Z", cut));
    }

    #[test]
    fn a_floors_end_is_read_the_way_the_sweep_reads_its_anchor() {
        let ny = year("01-01", "-05:00");
        let end = |kind, at: &str| {
            FloorEnd {
                floor: "f".to_owned(),
                anchor: Sql::new(),
                kind,
                period: RetentionPeriod::Years(1),
                year: Some(ny),
            }
            .end_for(t(at))
        };
        // The date 1 January 2027 is in the year ending at New York's
        // midnight on 1 January 2028; a year on, 2029.
        assert_eq!(
            end(TimeKind::Date, "2027-01-01T00:00:00Z"),
            Some(t("2029-01-01T05:00:00Z"))
        );
        assert_eq!(
            end(TimeKind::TimestampTz, "2027-01-01T00:00:00Z"),
            Some(t("2028-01-01T05:00:00Z"))
        );
    }
}
