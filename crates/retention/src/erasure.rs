//! Planning one person's erasure: the same plan a sweep runs, with "this
//! person's rows" where a sweep has "expired rows", and the policy's
//! erasure rule where a sweep has the retention action. The executor that
//! runs sweeps runs it, in the same short, resumable batches.
//!
//! Per data type, from its `erasure` rule:
//! - `delete` and `keep_until_floor`: the person's rows are deleted, except
//!   those a legal floor that overrides erasure still keeps (until the floor
//!   ends, when the retention sweep deletes them); `keep_until_floor` with no
//!   such floor deletes at once;
//! - `anonymise`: the named columns are overwritten by their methods (a
//!   pseudonym from the vault, so the kept records still join to each other
//!   but to nobody), and `anonymised_at` set where the data type has one;
//!   anonymisation keeps the record, so floors do not hold it back;
//! - `crypto_shred`: the person's vault key is destroyed, then the rows go.
//!
//! Rows other rows still refer to are kept and reported (children go first,
//! so only references from kept rows keep a parent), and a held data type is
//! left whole.

use chrono::{DateTime, Utc};
use privctl_policy::model::{
    Anchor, ErasureAction, ErasureRule, ExpiryAction, LegalFloor, RequestKind, StoreKind,
};
use std::collections::BTreeMap;

use privctl_policy::SqlIdent;
use privctl_store::subject::{belongs_to, belongs_via, Identifiers};

use crate::plan::{
    cutoff, depth, FileWork, FloorEnd, Inputs, Plan, Planner, RowOp, RowWork, Step, StoreInfo, Work,
};
use crate::sql::Sql;
use crate::Error;

/// Whose erasure is planned.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Their identifiers, the home key among them.
    pub ids: &'a Identifiers,
    /// Their pseudonym (hex of a keyed hash), for columns the policy
    /// pseudonymises; `None` when no vault is at hand, and such columns are
    /// then reported as not supported.
    pub pseudonym: Option<&'a str>,
}

/// Plans the erasure of one subject as of `inputs.as_of`.
pub fn plan_erasure(inputs: &Inputs<'_>, target: &Target<'_>) -> Result<Plan, Error> {
    let policy = inputs.policy;
    let key = policy
        .subject_home()
        .and_then(|h| target.ids.get(&h.name))
        .ok_or(Error::Internal("the subject's key"))?;
    let mut steps = Vec::new();
    for (name, dt) in &policy.data_types {
        let floors: Vec<(&String, &LegalFloor)> = policy
            .legal_floors
            .iter()
            .filter(|(_, f)| {
                f.applies_to.iter().any(|a| a == name)
                    && f.overrides.contains(&RequestKind::Erasure)
            })
            .collect();
        let reaches = policy
            .subject
            .links
            .iter()
            .any(|l| l.store == dt.store && (l.table.is_none() || l.table == dt.table))
            || policy
                .subject
                .identifiers
                .iter()
                .any(|i| i.store == dt.store && Some(&i.table) == dt.table.as_ref());
        let Some(rule) = &dt.erasure else {
            if reaches {
                steps.push(step(
                    name,
                    dt,
                    None,
                    &floors,
                    Work::Nothing {
                        reason: "the policy gives it no erasure rule: left as it is".to_owned(),
                    },
                ));
            }
            continue;
        };
        let mut s = step(
            name,
            dt,
            Some(rule.action),
            &floors,
            Work::Nothing {
                reason: String::new(),
            },
        );
        if let Some(reason) = inputs.held_data_types.get(name) {
            s.work = Work::Held {
                reason: reason.clone(),
            };
            steps.push(s);
            continue;
        }
        let store = inputs
            .stores
            .get(&dt.store)
            .ok_or_else(|| Error::UnknownStore(dt.store.clone()))?;
        let work = match store {
            StoreInfo::Files { root } => Ok(files(inputs, dt, root, key)),
            StoreInfo::Database { dialect, schema } => {
                let mut p = Planner {
                    inputs,
                    name,
                    dt,
                    dialect: *dialect,
                    schema,
                    refused: Vec::new(),
                };
                p.erasure_rows(rule, target, &floors)
                    .map(|found| match found {
                        Some((work, ends)) => {
                            s.floor_ends = ends;
                            Work::Rows(Box::new(work))
                        }
                        None => Work::Nothing {
                            reason: "no link of the subject map reaches its table".to_owned(),
                        },
                    })
            }
            // A held person's request does not get this far; their rows are
            // left by the request's block, not by the mutation.
            StoreInfo::ClickHouse(info) => crate::telemetry::plan_erasure(
                inputs,
                name,
                dt,
                info,
                rule.action,
                floors.len(),
                target.ids,
            )
            .map(|found| match found {
                Some(work) => Work::ClickHouse(Box::new(work)),
                None => Work::Nothing {
                    reason: "no link of the subject map reaches its table".to_owned(),
                },
            }),
            StoreInfo::Unsupported { reason } => Ok(Work::NotSupported {
                reason: format!("store \"{}\" is {reason}", dt.store),
            }),
        };
        s.work = match work {
            Ok(w) => w,
            Err(Error::Unsupported { what, .. }) => Work::NotSupported {
                reason: format!("{what} is not supported"),
            },
            Err(e) => return Err(e),
        };
        steps.push(s);
    }
    // Rows that refer to others go first, so a parent can go after them;
    // the person's own row last of all, so a run cut short still finds
    // everything of theirs from it.
    let home = policy.subject_home();
    let is_home = |s: &Step| {
        home.is_some_and(|h| {
            policy
                .data_types
                .get(&s.data_type)
                .is_some_and(|d| d.store == h.store && d.table.as_ref() == Some(&h.table))
        })
    };
    steps.sort_by_key(|s| (is_home(s), std::cmp::Reverse(depth(inputs, s))));
    Ok(Plan {
        as_of: inputs.as_of,
        steps,
    })
}

fn step(
    name: &str,
    dt: &privctl_policy::model::DataType,
    erasure: Option<ErasureAction>,
    floors: &[(&String, &LegalFloor)],
    work: Work,
) -> Step {
    Step {
        data_type: name.to_owned(),
        store: dt.store.clone(),
        period: "on erasure".to_owned(),
        from: Anchor::DeletionRequested,
        action: match erasure {
            Some(ErasureAction::Anonymise | ErasureAction::Pseudonymise) => ExpiryAction::Anonymise,
            Some(ErasureAction::CryptoShred) => ExpiryAction::CryptoShred,
            _ => ExpiryAction::Delete,
        },
        cutoff: None,
        floors: floors.iter().map(|(n, _)| (*n).clone()).collect(),
        refused_choices: Vec::new(),
        erasure,
        floor_ends: Vec::new(),
        work,
    }
}

/// A files data type: the subject's own directory, where the subject map
/// keeps files per person (`{user_id}/`); otherwise nothing can be told to
/// be theirs.
fn files(
    inputs: &Inputs<'_>,
    dt: &privctl_policy::model::DataType,
    root: &std::path::Path,
    key: &str,
) -> Work {
    let per_subject = inputs.policy.subject.links.iter().any(|l| {
        l.store == dt.store
            && l.path
                .as_deref()
                .is_some_and(|p| p.starts_with("{user_id}"))
    });
    if !per_subject {
        return Work::Nothing {
            reason: "its files are not kept per person, so none can be told to be theirs"
                .to_owned(),
        };
    }
    let mut parts = std::path::Path::new(key).components();
    if !matches!(
        (parts.next(), parts.next()),
        (Some(std::path::Component::Normal(_)), None)
    ) {
        return Work::NotSupported {
            reason: "the subject's key is not a plain directory name".to_owned(),
        };
    }
    Work::Files(FileWork {
        dir: root.join(dt.path.as_deref().unwrap_or(".")).join(key),
        cutoff: DateTime::<Utc>::MAX_UTC,
        held_dirs: Vec::new(),
        all_held: false,
        subject_dir: true,
    })
}

impl Planner<'_, '_> {
    /// The subject's rows of this data type and what the erasure does to
    /// them; `None` when the subject map does not reach the table.
    fn erasure_rows(
        &mut self,
        rule: &ErasureRule,
        target: &Target<'_>,
        floors: &[(&String, &LegalFloor)],
    ) -> Result<Option<(RowWork, Vec<FloorEnd>)>, Error> {
        if self
            .inputs
            .policy
            .stores
            .get(&self.dt.store)
            .map(|s| s.kind)
            == Some(StoreKind::Files)
        {
            return Err(Error::Internal("a files store planned as a database"));
        }
        let table_name = self.dt.table.as_ref().ok_or_else(|| Error::Unsupported {
            data_type: self.name.to_owned(),
            what: "a tabular data type without a table".to_owned(),
        })?;
        let table = self.table(table_name)?;
        let Some(mine) = belongs_to(
            self.inputs.policy,
            self.schema,
            &self.dt.store,
            table_name,
            target.ids,
        ) else {
            return Ok(None);
        };
        let (key, integer_key) = self.key(table_name)?;
        let mut released = Sql::new();
        let mut ends = Vec::new();
        released.push("(1 = 1");
        if !rule.action.replaces_columns() {
            for (name, floor) in floors {
                released.push(" AND ");
                let anchor = self.anchor(floor.from)?;
                match cutoff(floor.period, self.inputs.as_of) {
                    None => {
                        released.push("1 = 0");
                    }
                    Some(c) => self.before(&mut released, &anchor, c),
                }
                ends.push(FloorEnd {
                    floor: (*name).clone(),
                    anchor: anchor.sql,
                    kind: anchor.kind,
                    period: floor.period,
                    year: anchor.year,
                });
            }
        }
        released.push(")");
        let held = self.held(table_name)?;
        let mut pending = Sql::new();
        let op = match rule.action {
            ErasureAction::Delete | ErasureAction::KeepUntilFloor => {
                pending.push("(1 = 1)");
                RowOp::Delete
            }
            ErasureAction::Anonymise | ErasureAction::Pseudonymise => {
                // Replacing the reference to the person takes the row out of
                // their rows, so it is done once whatever the marker says (a
                // row marked anonymised that still names them is not); else
                // the marker tells what is done.
                let links: Vec<&SqlIdent> = self
                    .inputs
                    .policy
                    .subject
                    .links
                    .iter()
                    .filter(|l| l.store == self.dt.store && l.table.as_ref() == Some(table_name))
                    .filter_map(|l| l.column.as_ref())
                    .collect();
                let unlinks = links.iter().any(|c| rule.anonymise.contains_key(*c));
                if let Some(kept) = links
                    .iter()
                    .find(|c| unlinks && !rule.anonymise.contains_key(**c))
                {
                    return Err(Error::Unsupported {
                        data_type: self.name.to_owned(),
                        what: format!(
                            "an anonymisation that replaces some references to the person but keeps {table_name}.{kept}, which the subject map also links to them"
                        ),
                    });
                }
                // In a row about several people, each reference is replaced
                // only where it is the person's.
                let mut guards = BTreeMap::new();
                for c in links.iter().filter(|c| rule.anonymise.contains_key(**c)) {
                    if let Some(g) = belongs_via(
                        self.inputs.policy,
                        self.schema,
                        &self.dt.store,
                        table_name,
                        c,
                        target.ids,
                    ) {
                        guards.insert((*c).clone(), g);
                    }
                }
                match self.dt.anonymised_at.as_ref().filter(|_| !unlinks) {
                    Some(marker) => {
                        pending.push("(").ident(marker).push(" IS NULL)");
                    }
                    None => {
                        pending.push("(1 = 1)");
                    }
                }
                self.anonymise(table_name, &rule.anonymise, target.pseudonym, &guards)?
            }
            ErasureAction::CryptoShred => {
                pending.push("(1 = 1)");
                RowOp::CryptoShred {
                    subject: self.subject_key(table_name)?,
                }
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
        Ok(Some((
            RowWork {
                table: table_name.clone(),
                key,
                integer_key,
                op,
                expired: mine,
                released,
                held,
                pending,
                referenced,
                partitions: Vec::new(),
                // Erasure replaces the account's identifiers itself, once
                // the person's other rows are done (privctl-dsar).
                unidentify: None,
            },
            ends,
        )))
    }
}
