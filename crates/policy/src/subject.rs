//! Paths through the subject map: how a row of any table reaches the person
//! it is about, one foreign key at a time. Retention joins along them to a
//! subject's events (account closure, last activity); erasure and export
//! follow them to find everything about a person.

use crate::model::{IdentifierKind, Policy, SubjectIdentifier};
use crate::{ColumnRef, SqlIdent};

/// Longest chain of links followed; a longer one is taken for a loop.
const MAX_HOPS: usize = 16;

/// One step towards the subject: `table.column` holds the value of
/// `references` (a column of the next table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// The table the step starts from.
    pub table: SqlIdent,
    /// Its column holding the reference.
    pub column: SqlIdent,
    /// The referenced column of the next table.
    pub references: ColumnRef,
}

/// A table's way to its subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectPath {
    /// Steps from the table to the subject's home table, in order; empty
    /// for the home table itself.
    pub hops: Vec<Hop>,
    /// The subject's key in the home table (the user id identifier's column).
    pub key: ColumnRef,
}

impl SubjectPath {
    /// Every table on the path, the starting one first and the home last.
    pub fn tables<'a>(&'a self, start: &'a SqlIdent) -> impl Iterator<Item = &'a SqlIdent> {
        std::iter::once(start).chain(self.hops.iter().map(|h| &h.references.table))
    }

    /// The steps up to `table` (none when `table` is the start), or `None`
    /// when the path does not pass through it.
    pub fn hops_to(&self, start: &SqlIdent, table: &SqlIdent) -> Option<&[Hop]> {
        self.tables(start)
            .position(|t| t == table)
            .map(|i| &self.hops[..i])
    }
}

impl Policy {
    /// The identifier every link leads to: the user id, or the first
    /// identifier when the policy names no user id.
    pub fn subject_home(&self) -> Option<&SubjectIdentifier> {
        let ids = &self.subject.identifiers;
        ids.iter()
            .find(|i| i.kind == IdentifierKind::UserId)
            .or_else(|| ids.first())
    }

    /// How rows of `store`.`table` reach their subject through the links,
    /// within one store; `None` when they do not (no link, a link to another
    /// store, or a loop).
    pub fn subject_path(&self, store: &str, table: &SqlIdent) -> Option<SubjectPath> {
        let home = self.subject_home()?;
        if home.store != store {
            return None;
        }
        let key = ColumnRef {
            table: home.table.clone(),
            column: home.column.clone(),
        };
        let mut hops = Vec::new();
        let mut at = table.clone();
        while at != home.table {
            if hops.len() >= MAX_HOPS {
                return None;
            }
            let link = self.subject.links.iter().find(|l| {
                l.store == store && l.table.as_ref() == Some(&at) && l.references.is_some()
            })?;
            let (column, references) = (link.column.clone()?, link.references.clone()?);
            if hops.iter().any(|h: &Hop| h.table == references.table) {
                return None;
            }
            at = references.table.clone();
            hops.push(Hop {
                table: link.table.clone()?,
                column,
                references,
            });
        }
        Some(SubjectPath { hops, key })
    }
}
