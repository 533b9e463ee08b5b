//! Every seed policy, on a sample database in SQLite and in PostgreSQL,
//! swept at a fixed instant and checked row by row against an oracle that
//! reads the rows into memory and decides each one's fate in Rust, apart
//! from the planner's SQL: which rows are gone, which are anonymised (and
//! how), what was rolled up (each bucket's sums against the detail rows
//! that went into it), and that rows under a floor or a hold, and every row
//! not yet expired, are untouched. A second sweep changes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike, Utc};
use privctl_policy::model::{
    Anchor, AnonymiseMethod, Category, EventSource, ExpiryAction, Policy, StoreKind,
};
use privctl_policy::{RetentionPeriod, SqlIdent};
use privctl_retention::plan::cutoff;
use privctl_retention::sample::{sample, SampleOptions};
use privctl_retention::sql::Sql;
use privctl_retention::{Options, Report, Session};
use privctl_store::testing::{fresh_databases, runtime, TestDb};
use privctl_store::{Db, Open, Row};

fn as_of() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T00:00:00Z")
        .expect("instant")
        .with_timezone(&Utc)
}

type Rows = BTreeMap<String, BTreeMap<String, Option<String>>>;

/// Every row of every table, each value as text, by primary key.
async fn snapshot(db: &Db) -> BTreeMap<String, Rows> {
    let schema = db.schema().await.expect("schema");
    let mut out = BTreeMap::new();
    for (name, table) in &schema.tables {
        if name.starts_with("privctl_") {
            continue;
        }
        let t = SqlIdent::new(name).expect("table name");
        let mut sql = Sql::new();
        sql.push("SELECT ");
        for (i, c) in table.columns.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            let c = SqlIdent::new(&c.name).expect("column name");
            sql.push("CAST(").ident(&c).push(" AS TEXT)");
        }
        sql.push(" FROM ").ident(&t);
        let rows = sql.query().fetch_all(db.pool()).await.expect("read rows");
        let mut by_key = Rows::new();
        for r in rows {
            let mut values = BTreeMap::new();
            for (i, c) in table.columns.iter().enumerate() {
                values.insert(
                    c.name.clone(),
                    r.try_get::<Option<String>, _>(i).expect("text"),
                );
            }
            let key = table
                .primary_key
                .iter()
                .map(|k| values[k].clone().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("|");
            by_key.insert(key, values);
        }
        out.insert(name.clone(), by_key);
    }
    out
}

/// A time as SQLite or PostgreSQL print it.
fn time(s: &str) -> DateTime<Utc> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    }
    if let Ok(t) = DateTime::parse_from_str(&format!("{s}:00"), "%Y-%m-%d %H:%M:%S%:z") {
        return t.with_timezone(&Utc);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return t.with_timezone(&Utc);
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .unwrap_or_else(|e| panic!("time {s}: {e}"))
        .and_utc()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fate {
    /// Not a row: a customer choice the sweep refused.
    Refused,
    Untouched,
    KeptByFloor,
    KeptByHold,
    KeptReferenced,
    Deleted,
    Anonymised,
    RolledUp,
}

struct Oracle<'a> {
    policy: &'a Policy,
    store: &'a str,
    before: &'a BTreeMap<String, Rows>,
    requests: BTreeMap<String, DateTime<Utc>>,
    held: BTreeSet<String>,
}

impl Oracle<'_> {
    /// The row of `table` whose `column` holds `value`.
    fn find(
        &self,
        table: &str,
        column: &str,
        value: &str,
    ) -> Option<&BTreeMap<String, Option<String>>> {
        self.before
            .get(table)?
            .values()
            .find(|r| r.get(column).and_then(|v| v.as_deref()) == Some(value))
    }

    /// The subject's home row a row of `table` belongs to.
    /// Every subject a row is about, following every link out of its
    /// table (a request has a consumer and a supplier), apart from the
    /// policy's own path-finding.
    fn everyone(
        &self,
        table: &str,
        row: &BTreeMap<String, Option<String>>,
        depth: usize,
    ) -> Vec<String> {
        let home = self.policy.subject_home().expect("home");
        if home.table.as_str() == table {
            return row[home.column.as_str()].clone().into_iter().collect();
        }
        let mut out = Vec::new();
        for l in &self.policy.subject.links {
            let (Some(t), Some(c), Some(r)) = (&l.table, &l.column, &l.references) else {
                continue;
            };
            if l.store != self.store || t.as_str() != table || depth > 8 {
                continue;
            }
            let Some(v) = row.get(c.as_str()).and_then(|v| v.as_deref()) else {
                continue;
            };
            if let Some(parent) = self.find(r.table.as_str(), r.column.as_str(), v) {
                out.extend(self.everyone(r.table.as_str(), parent, depth + 1));
            }
        }
        out
    }

    fn subject(&self, table: &SqlIdent, row: &BTreeMap<String, Option<String>>) -> Option<String> {
        let path = self.policy.subject_path(self.store, table)?;
        let mut row = row.clone();
        for hop in &path.hops {
            let v = row.get(hop.column.as_str())?.clone()?;
            row = self
                .find(
                    hop.references.table.as_str(),
                    hop.references.column.as_str(),
                    &v,
                )?
                .clone();
        }
        row.get(path.key.column.as_str())?.clone()
    }

    /// The value of the subject's column `c` for a row of `table`.
    fn home_value(
        &self,
        table: &SqlIdent,
        row: &BTreeMap<String, Option<String>>,
        c: &privctl_policy::ColumnRef,
    ) -> Option<String> {
        let subject = self.subject(table, row)?;
        let path = self.policy.subject_path(self.store, table)?;
        let home = self.find(path.key.table.as_str(), path.key.column.as_str(), &subject)?;
        home.get(c.column.as_str())?.clone()
    }

    /// The period a row's customer chose, when it is one they may choose.
    fn chosen(
        &self,
        name: &str,
        row: &BTreeMap<String, Option<String>>,
    ) -> Option<RetentionPeriod> {
        let dt = &self.policy.data_types[name];
        let r = dt.retention.as_ref()?;
        let choice = r.customer.as_ref().filter(|_| r.configurable)?;
        assert!(
            choice.tier.is_none() && r.tiers.is_empty(),
            "the oracle knows no tiers"
        );
        let text = self.home_value(dt.table.as_ref()?, row, &choice.period)?;
        let p: RetentionPeriod = text.trim().parse().ok()?;
        let within = r.min.is_none_or(|min| p.covers(min)) && r.max.is_none_or(|max| max.covers(p));
        within.then_some(p)
    }

    fn event(
        &self,
        table: &SqlIdent,
        row: &BTreeMap<String, Option<String>>,
        c: &privctl_policy::ColumnRef,
    ) -> Option<DateTime<Utc>> {
        let subject = self.subject(table, row)?;
        let path = self.policy.subject_path(self.store, table)?;
        let home = self.find(path.key.table.as_str(), path.key.column.as_str(), &subject)?;
        home.get(c.column.as_str())?.as_deref().map(time)
    }

    fn anchor(
        &self,
        name: &str,
        anchor: Anchor,
        row: &BTreeMap<String, Option<String>>,
    ) -> Option<DateTime<Utc>> {
        let dt = &self.policy.data_types[name];
        let table = dt.table.as_ref().expect("table");
        let events = &self.policy.subject.events;
        match anchor {
            Anchor::Created => row[dt.timestamp.as_ref().expect("timestamp").as_str()]
                .as_deref()
                .map(time),
            Anchor::FinancialYearEnd => row[dt.timestamp.as_ref().expect("timestamp").as_str()]
                .as_deref()
                .map(|t| {
                    let fy = self
                        .policy
                        .organisation
                        .financial_year
                        .expect("financial year");
                    privctl_store::testing::financial_year_end(&fy, time(t))
                }),
            Anchor::Anonymised => row[dt.anonymised_at.as_ref().expect("marker").as_str()]
                .as_deref()
                .map(time),
            Anchor::LastActivity => self.event(table, row, events.last_activity.as_ref()?),
            Anchor::AccountClosed => self.event(table, row, events.account_closed.as_ref()?),
            Anchor::DeletionRequested => match events.deletion_requested.as_ref()? {
                EventSource::Column(c) => self.event(table, row, c),
                EventSource::Privctl => self.requests.get(&self.subject(table, row)?).copied(),
            },
        }
    }

    fn passed(&self, period: RetentionPeriod, at: Option<DateTime<Utc>>) -> bool {
        match (cutoff(period, as_of()), at) {
            (Some(c), Some(at)) => at <= c,
            _ => false,
        }
    }

    /// Each row's fate, for the data types of this store, children first.
    fn fates(&self, order: &[String]) -> BTreeMap<String, BTreeMap<String, Fate>> {
        let mut out: BTreeMap<String, BTreeMap<String, Fate>> = BTreeMap::new();
        for name in order {
            let dt = &self.policy.data_types[name];
            let r = dt.retention.as_ref().expect("retention");
            let table = dt.table.as_ref().expect("table");
            let mut fates = BTreeMap::new();
            for (key, row) in &self.before[table.as_str()] {
                // The first rule whose column holds one of its values, else
                // the customer's choice, else the default.
                let rule = r.rules.iter().find(|rule| {
                    row[rule.column.as_str()]
                        .as_deref()
                        .is_some_and(|v| rule.equals.iter().any(|e| e == v))
                });
                let period = match rule {
                    Some(rule) => rule.period,
                    None => self.chosen(name, row).unwrap_or(r.period),
                };
                let expired = self.passed(period, self.anchor(name, r.from, row));
                let floors_passed = self
                    .policy
                    .legal_floors
                    .values()
                    .filter(|f| f.applies_to.iter().any(|a| a == name))
                    .all(|f| self.passed(f.period, self.anchor(name, f.from, row)));
                let held = self
                    .everyone(table.as_str(), row, 0)
                    .iter()
                    .any(|s| self.held.contains(s));
                let pending = match r.action {
                    ExpiryAction::Anonymise => {
                        row[dt.anonymised_at.as_ref().expect("marker").as_str()].is_none()
                    }
                    _ => true,
                };
                let referenced =
                    r.action != ExpiryAction::Anonymise && self.referenced(table, key, row, &out);
                // Rows already anonymised have nothing left to happen.
                let fate = if !expired || !pending {
                    Fate::Untouched
                } else if !floors_passed {
                    Fate::KeptByFloor
                } else if held {
                    Fate::KeptByHold
                } else if referenced {
                    Fate::KeptReferenced
                } else {
                    match r.action {
                        ExpiryAction::Delete => Fate::Deleted,
                        ExpiryAction::Anonymise => Fate::Anonymised,
                        ExpiryAction::RollUp => Fate::RolledUp,
                        ExpiryAction::CryptoShred => Fate::Untouched,
                    }
                };
                fates.insert(key.clone(), fate);
            }
            out.insert(table.to_string(), fates);
        }
        out
    }

    /// Whether a row that survives the sweep still refers to this one.
    fn referenced(
        &self,
        table: &SqlIdent,
        key: &str,
        _row: &BTreeMap<String, Option<String>>,
        decided: &BTreeMap<String, BTreeMap<String, Fate>>,
    ) -> bool {
        self.policy.subject.links.iter().any(|l| {
            let (Some(t), Some(c), Some(r)) = (&l.table, &l.column, &l.references) else {
                return false;
            };
            if l.store != self.store || r.table != *table {
                return false;
            }
            // A column an erasure pseudonymises is no foreign key in the
            // sample schema (a pseudonym names no row).
            let pseudonymised = self.policy.data_types.values().any(|d| {
                d.store == self.store
                    && d.table.as_ref() == Some(t)
                    && d.erasure
                        .as_ref()
                        .is_some_and(|e| e.anonymise.get(c) == Some(&AnonymiseMethod::Pseudonym))
            });
            if pseudonymised {
                return false;
            }
            // A reference the sweep anonymises away refers to no one.
            let nulled_by_sweep = self.policy.data_types.values().any(|d| {
                d.store == self.store
                    && d.table.as_ref() == Some(t)
                    && d.retention
                        .as_ref()
                        .is_some_and(|r| r.anonymise.contains_key(c))
            });
            self.before[t.as_str()].iter().any(|(child_key, child)| {
                let fate = decided.get(t.as_str()).and_then(|f| f.get(child_key));
                child.get(c.as_str()).and_then(|v| v.as_deref()) == Some(key)
                    && !matches!(fate, Some(Fate::Deleted | Fate::RolledUp))
                    && !(nulled_by_sweep && matches!(fate, Some(Fate::Anonymised)))
            })
        })
    }
}

/// Files under a directory with their modification times.
fn listing(dir: &Path) -> BTreeMap<PathBuf, DateTime<Utc>> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries {
        let e = e.expect("entry");
        let m = std::fs::symlink_metadata(e.path()).expect("metadata");
        if m.is_dir() {
            out.extend(listing(&e.path()));
        } else {
            out.insert(e.path(), m.modified().expect("mtime").into());
        }
    }
    out
}

fn bucket(t: DateTime<Utc>, b: RetentionPeriod) -> DateTime<Utc> {
    let d = t.date_naive();
    let day = match b {
        RetentionPeriod::Hours(1) => {
            return d.and_hms_opt(t.hour(), 0, 0).expect("hour").and_utc();
        }
        RetentionPeriod::Days(1) => d,
        RetentionPeriod::Months(1) => d.with_day(1).expect("first"),
        _ => d
            .with_day(1)
            .and_then(|d| d.with_month(1))
            .expect("january"),
    };
    day.and_hms_opt(0, 0, 0).expect("midnight").and_utc()
}

async fn sweep(s: &Session) -> Report {
    s.sweep(as_of(), None, false, &Options::default(), &|_| {})
        .await
        .expect("sweep")
}

async fn check_seed(
    seed: &str,
    extra: &str,
    edits: &[(&str, &str)],
    db: &TestDb,
    root: &Path,
) -> BTreeMap<Fate, usize> {
    let path = format!("{}/../../policies/{seed}.toml", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(path).expect("policy") + extra;
    for (from, to) in edits {
        assert!(text.contains(from), "{seed}: no {from:?} to edit");
        text = text.replacen(from, to, 1);
    }
    let report = privctl_policy::check_str(&text);
    let errors: Vec<String> = report
        .diagnostics
        .iter()
        .filter(|d| d.severity == privctl_policy::Severity::Error)
        .map(|d| format!("{:?}", d.rule))
        .collect();
    // Only the floor test's policy has an error, the one it is about.
    let allowed = usize::from(!extra.is_empty());
    assert!(
        errors.len() <= allowed && errors.iter().all(|e| e == "RetentionBelowFloor"),
        "{seed}: {errors:?}"
    );
    let mut policy = report.policy.expect("policy");
    for s in policy.stores.values_mut() {
        if s.kind == StoreKind::Files {
            s.path = Some(
                root.join(s.path.as_deref().unwrap_or("."))
                    .display()
                    .to_string(),
            );
        }
    }
    let mut tally = BTreeMap::new();
    {
        let s = Session::open(policy.clone(), &text, Some(&db.url), Open::Create)
            .await
            .expect("open");
        let options = SampleOptions {
            subjects: 60,
            seed: 11,
            as_of: as_of(),
        };
        let sampled = sample(&s, &options).await.expect("sample");
        let home = s.home_db().expect("home");
        let before = snapshot(home).await;
        let files_before: BTreeMap<String, BTreeMap<PathBuf, DateTime<Utc>>> = s
            .roots
            .iter()
            .map(|(n, r)| (n.clone(), listing(r)))
            .collect();
        let mut requests = BTreeMap::new();
        if matches!(
            policy.subject.events.deletion_requested,
            Some(EventSource::Privctl)
        ) {
            for r in sqlx::query(
                "SELECT subject, requested_at FROM privctl_requests WHERE cancelled_at IS NULL",
            )
            .fetch_all(home.pool())
            .await
            .expect("requests")
            {
                let at =
                    DateTime::from_timestamp(r.try_get::<i64, _>(1).expect("at"), 0).expect("at");
                let e = requests
                    .entry(r.try_get::<String, _>(0).expect("subject"))
                    .or_insert(at);
                *e = (*e).min(at);
            }
        }
        let oracle = Oracle {
            policy: &policy,
            store: &s.home,
            before: &before,
            requests,
            held: sampled.held_subjects.iter().cloned().collect(),
        };
        let plan = s.plan(as_of(), None).await.expect("plan");
        let order: Vec<String> = plan
            .steps
            .iter()
            .filter(|st| {
                st.store == s.home && matches!(st.work, privctl_retention::plan::Work::Rows(_))
            })
            .map(|st| st.data_type.clone())
            .collect();
        let fates = oracle.fates(&order);

        let report = sweep(&s).await;
        let after = snapshot(home).await;

        // Row by row.
        for name in &order {
            let dt = &policy.data_types[name];
            let table = dt.table.as_ref().expect("table").as_str();
            let r = dt.retention.as_ref().expect("retention");
            let reported = report
                .data_types
                .iter()
                .find(|d| &d.data_type == name)
                .expect("reported");
            if reported.not_supported.is_some() {
                // Crypto-shredding without a vault: nothing is touched
                // (tests/shred.rs sweeps it with one).
                assert_eq!(r.action, ExpiryAction::CryptoShred, "{seed} {name}");
                assert_eq!(after[table], before[table], "{seed}: {table} changed");
                continue;
            }
            let (mut gone, mut anonymised, mut unidentified) = (0, 0, 0);
            // An expired account kept only because kept rows refer to it
            // stops saying who it was: what identifies someone is emptied
            // or replaced by `erased-` and its key; its key, the columns
            // links refer to and its times stay.
            let subject_home = policy.subject_home().expect("home");
            let is_home = dt.store == subject_home.store
                && dt.table.as_ref() == Some(&subject_home.table)
                && matches!(r.action, ExpiryAction::Delete | ExpiryAction::CryptoShred);
            let events = &policy.subject.events;
            let stays: BTreeSet<&str> = [Some(&subject_home.column)]
                .into_iter()
                .chain([dt.timestamp.as_ref(), dt.anonymised_at.as_ref()])
                .chain([
                    events.account_closed.as_ref().map(|c| &c.column),
                    events.last_activity.as_ref().map(|c| &c.column),
                ])
                .flatten()
                .map(|c| c.as_str())
                .chain(policy.subject.links.iter().filter_map(|l| {
                    l.references
                        .as_ref()
                        .filter(|r| r.table.as_str() == table)
                        .map(|r| r.column.as_str())
                }))
                .collect();
            let says_who = |c: &str| {
                !stays.contains(c)
                    && dt.columns.get(c).is_some_and(|cat| {
                        !matches!(
                            cat,
                            Category::Metadata
                                | Category::Financial
                                | Category::Telemetry
                                | Category::Audit
                        )
                    })
            };
            for (key, fate) in &fates[table] {
                *tally.entry(*fate).or_insert(0) += 1;
                let old = &before[table][key];
                let new = after[table].get(key);
                let at = format!("{seed} on {:?}: {table} row {key} ({fate:?})", db.dialect);
                match fate {
                    Fate::Deleted | Fate::RolledUp => {
                        assert!(new.is_none(), "{at} is still there");
                        gone += 1;
                    }
                    Fate::Anonymised => {
                        let new = new.unwrap_or_else(|| panic!("{at} is gone"));
                        anonymised += 1;
                        for (c, v) in old {
                            let now = &new[c];
                            let marker = dt.anonymised_at.as_ref().map(|m| m.as_str());
                            match r.anonymise.iter().find(|(k, _)| k.as_str() == c) {
                                Some((_, AnonymiseMethod::Null)) => {
                                    assert_eq!(now, &None, "{at}: {c}")
                                }
                                Some((_, AnonymiseMethod::Placeholder)) => {
                                    assert_eq!(now.as_deref(), Some("[REDACTED]"), "{at}: {c}")
                                }
                                Some((_, AnonymiseMethod::Random)) => {
                                    assert!(now.is_some() && now != v, "{at}: {c} not replaced")
                                }
                                Some((_, AnonymiseMethod::Pseudonym)) => {}
                                None if Some(c.as_str()) == marker => {
                                    assert_eq!(now.as_deref().map(time), Some(as_of()), "{at}: {c}")
                                }
                                None => assert_eq!(now, v, "{at}: {c} changed"),
                            }
                        }
                    }
                    Fate::KeptReferenced if is_home => {
                        let new = new.unwrap_or_else(|| panic!("{at} is gone"));
                        let erased = format!("erased-{key}");
                        let mut changed = false;
                        for (c, v) in old {
                            let now = &new[c];
                            if says_who(c) {
                                assert!(
                                    now.is_none() || now.as_deref() == Some(erased.as_str()),
                                    "{at}: {c} still says who it was: {now:?}"
                                );
                                changed |= now != v;
                            } else {
                                assert_eq!(now, v, "{at}: {c} changed");
                            }
                        }
                        unidentified += u64::from(changed);
                    }
                    _ => assert_eq!(new, Some(old), "{at} changed"),
                }
            }
            assert_eq!(
                reported.identifiers_replaced, unidentified,
                "{seed} {name}: accounts unidentified"
            );
            let d = report
                .data_types
                .iter()
                .find(|d| &d.data_type == name)
                .expect("reported");
            assert_eq!(
                d.deleted + d.rolled_up,
                gone,
                "{seed} {name}: count of rows gone"
            );
            assert_eq!(d.anonymised, anonymised, "{seed} {name}: count anonymised");
            let kept = |f: Fate| fates[table].values().filter(|x| **x == f).count() as u64;
            assert_eq!(
                d.kept_by_floor,
                kept(Fate::KeptByFloor),
                "{seed} {name}: floor"
            );
            assert_eq!(
                d.kept_by_hold,
                kept(Fate::KeptByHold),
                "{seed} {name}: hold"
            );
            *tally.entry(Fate::Refused).or_insert(0) += d.refused_choices.len();
            if d.skipped_subjects.is_empty() {
                assert_eq!(
                    d.kept_referenced,
                    kept(Fate::KeptReferenced),
                    "{seed} {name}: kept while referred to"
                );
            }

            // Roll-ups: each bucket holds exactly the sums of its rows.
            if let (ExpiryAction::RollUp, Some(ru)) = (r.action, &r.roll_up) {
                let ts = dt.timestamp.as_ref().expect("timestamp").as_str();
                let target = policy
                    .data_types
                    .values()
                    .find(|d| d.table.as_ref() == Some(&ru.into))
                    .expect("target data type");
                let bucket_col = target.timestamp.as_ref().expect("bucket").as_str();
                let mut want: BTreeMap<(DateTime<Utc>, Vec<String>), Vec<i64>> = BTreeMap::new();
                for (key, fate) in &fates[table] {
                    if *fate != Fate::RolledUp {
                        continue;
                    }
                    let row = &before[table][key];
                    let b = bucket(time(row[ts].as_deref().expect("time")), ru.bucket);
                    let g = ru
                        .group_by
                        .iter()
                        .map(|c| row[c.as_str()].clone().unwrap_or_default())
                        .collect();
                    let sums = want.entry((b, g)).or_insert_with(|| vec![0; ru.sum.len()]);
                    for (i, c) in ru.sum.iter().enumerate() {
                        sums[i] += row[c.as_str()]
                            .as_deref()
                            .map(|v| v.parse::<i64>().expect("int"))
                            .unwrap_or(0);
                    }
                }
                let mut got = BTreeMap::new();
                for row in after[ru.into.as_str()].values() {
                    let b = time(row[bucket_col].as_deref().expect("bucket"));
                    let g: Vec<String> = ru
                        .group_by
                        .iter()
                        .map(|c| row[c.as_str()].clone().unwrap_or_default())
                        .collect();
                    let sums: Vec<i64> = ru
                        .sum
                        .iter()
                        .map(|c| {
                            row[c.as_str()]
                                .as_deref()
                                .expect("sum")
                                .parse()
                                .expect("int")
                        })
                        .collect();
                    got.insert((b, g), sums);
                }
                assert!(!want.is_empty(), "{seed}: nothing rolled up");
                assert_eq!(got, want, "{seed} on {:?}: roll-up sums", db.dialect);
            }
        }
        // Tables no sweep touches are untouched.
        for (table, rows) in &before {
            if !fates.contains_key(table)
                && !policy.data_types.values().any(|d| {
                    d.retention
                        .as_ref()
                        .and_then(|r| r.roll_up.as_ref())
                        .is_some_and(|r| r.into.as_str() == table)
                })
            {
                assert_eq!(&after[table], rows, "{seed}: {table} changed");
            }
        }

        // Files: expired ones gone, except in a held subject's directory.
        for step in &plan.steps {
            let privctl_retention::plan::Work::Files(work) = &step.work else {
                continue;
            };
            for (path, mtime) in &files_before[&step.store] {
                let Ok(rel) = path.strip_prefix(&work.dir) else {
                    continue;
                };
                let first = rel.components().next().and_then(|c| c.as_os_str().to_str());
                let held = work.all_held
                    || (rel.components().count() > 1
                        && first.is_some_and(|f| work.held_dirs.iter().any(|h| h == f)));
                let gone = *mtime <= work.cutoff && !held;
                assert_eq!(path.exists(), !gone, "{seed}: {}", path.display());
                *tally
                    .entry(if gone {
                        Fate::Deleted
                    } else if held && *mtime <= work.cutoff {
                        Fate::KeptByHold
                    } else {
                        Fate::Untouched
                    })
                    .or_insert(0) += 1;
            }
        }

        // A second sweep changes nothing.
        let files_after: BTreeMap<String, BTreeMap<PathBuf, DateTime<Utc>>> = s
            .roots
            .iter()
            .map(|(n, r)| (n.clone(), listing(r)))
            .collect();
        let again = sweep(&s).await;
        for d in &again.data_types {
            assert_eq!(
                d.deleted + d.anonymised + d.rolled_up,
                0,
                "{seed}: rerun changed {}",
                d.data_type
            );
        }
        assert_eq!(snapshot(home).await, after, "{seed}: rerun changed rows");
        let rerun_files: BTreeMap<String, BTreeMap<PathBuf, DateTime<Utc>>> = s
            .roots
            .iter()
            .map(|(n, r)| (n.clone(), listing(r)))
            .collect();
        assert_eq!(files_after, rerun_files, "{seed}: rerun changed files");
    }
    tally
}

fn run_seed(seed: &str, extra: &str, must: &[Fate]) {
    run_seed_with(seed, extra, &[], must);
}

fn run_seed_with(seed: &str, extra: &str, edits: &[(&str, &str)], must: &[Fate]) {
    let rt = runtime();
    for db in rt.block_on(fresh_databases(&format!("seed_{seed}"))) {
        let root = tempfile::tempdir().expect("files root");
        let tally = rt.block_on(check_seed(seed, extra, edits, &db, root.path()));
        for f in must {
            assert!(
                tally.get(f).copied().unwrap_or(0) > 0,
                "{seed} on {:?}: no row {f:?}: {tally:?}",
                db.dialect
            );
        }
    }
}

#[test]
fn cheapestinference() {
    run_seed(
        "cheapestinference",
        "",
        &[
            Fate::Deleted,
            Fate::RolledUp,
            Fate::KeptByHold,
            Fate::KeptReferenced,
            Fate::Untouched,
        ],
    );
}

#[test]
fn infercast() {
    run_seed(
        "infercast",
        "",
        &[
            Fate::Deleted,
            Fate::Anonymised,
            Fate::KeptByHold,
            Fate::Untouched,
        ],
    );
}

#[test]
fn inferencehub() {
    run_seed(
        "inferencehub",
        "",
        &[Fate::Deleted, Fate::KeptByHold, Fate::Untouched],
    );
}

#[test]
fn inferexai() {
    run_seed(
        "inferexai",
        "",
        &[Fate::Deleted, Fate::KeptByHold, Fate::Untouched],
    );
}

#[test]
fn infrpool() {
    run_seed(
        "infrpool",
        "",
        &[
            Fate::Deleted,
            Fate::Anonymised,
            Fate::KeptByHold,
            Fate::Untouched,
        ],
    );
}

/// No seed has a floor that outlasts its retention: `check` refuses a
/// retention that can end before a floor. The sweep keeps the floor anyway,
/// for a library caller that never ran `check`: a copy of a seed whose
/// accounts go 30 days after a deletion request gets a floor of two years
/// from their creation (the one error `check` reports for it), and the
/// accounts younger than that stay.
#[test]
fn a_floor_from_another_event_keeps_rows() {
    let floor = r#"
[legal_floors.test_floor]
law = "A test floor: accounts kept two years from their creation"
basis = "commitment"
period = "2y"
from = "created"
applies_to = ["accounts"]
overrides = []
"#;
    run_seed(
        "cheapestinference",
        floor,
        &[Fate::KeptByFloor, Fate::Deleted],
    );
}

/// Customers choose their request logs' period within 30 days and a year
/// (`users.log_retention`): a choice in bounds is each row's period, one out
/// of bounds or not a period is refused and the default 90 days applies.
#[test]
fn customer_choices_in_bounds_apply_and_others_are_refused() {
    run_seed_with(
        "cheapestinference",
        "",
        &[
            (
                "[data_types.request_log.retention]\nperiod = \"90d\"\nfrom = \"created\"\naction = \"delete\"\n",
                "[data_types.request_log.retention]\nperiod = \"90d\"\nfrom = \"created\"\naction = \"delete\"\nconfigurable = true\nmin = \"30d\"\nmax = \"1y\"\ncustomer = { period = \"users.log_retention\" }\n",
            ),
            (
                "deleted_at = \"metadata\"\n",
                "deleted_at = \"metadata\"\nlog_retention = \"account\"\n",
            ),
        ],
        &[Fate::Deleted, Fate::KeptByHold, Fate::Untouched, Fate::Refused],
    );
}

/// Conditional rules: request logs of failed requests kept a year, those of
/// one model 30 days, the rest 90; the first rule that matches wins.
#[test]
fn conditional_rules_choose_each_rows_period() {
    run_seed_with(
        "cheapestinference",
        "",
        &[(
            "[data_types.request_log.retention]\nperiod = \"90d\"\nfrom = \"created\"\naction = \"delete\"\n",
            "[data_types.request_log.retention]\nperiod = \"90d\"\nfrom = \"created\"\naction = \"delete\"\nrules = [{ column = \"status_code\", equals = [\"500\", \"429\"], period = \"1y\" }, { column = \"model\", equals = [\"deepseek-v3\"], period = \"30d\" }]\n",
        )],
        &[Fate::Deleted, Fate::KeptByHold, Fate::Untouched],
    );
}
