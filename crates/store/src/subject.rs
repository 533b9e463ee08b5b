//! How a row reaches its subject, as SQL: the expressions retention and
//! data-subject requests share to find whose a row is.

use privctl_policy::model::Policy;
use privctl_policy::{ColumnRef, Hop, SqlIdent};

use crate::sql::Sql;

/// Every subject a row of `table` is about: one expression per link out
/// of the table (then along the subject map), or the key itself in the
/// subject's own table.
pub fn subject_keys(policy: &Policy, store: &str, table: &SqlIdent) -> Vec<Sql> {
    let mut out = Vec::new();
    let Some(own) = policy.subject_path(store, table) else {
        return out;
    };
    if own.hops.is_empty() {
        out.push(through(table, &[], &own.key));
        return out;
    }
    for link in
        policy.subject.links.iter().filter(|l| {
            l.store == store && l.table.as_ref() == Some(table) && l.references.is_some()
        })
    {
        let (Some(column), Some(references)) = (&link.column, &link.references) else {
            continue;
        };
        let Some(rest) = policy.subject_path(store, &references.table) else {
            continue;
        };
        let mut hops = vec![Hop {
            table: table.clone(),
            column: column.clone(),
            references: references.clone(),
        }];
        hops.extend(rest.hops);
        out.push(through(table, &hops, &rest.key));
    }
    out
}

/// An expression reading `target` for each row of `table`, following
/// `hops` (a correlated subquery; the column itself when no hop).
pub fn through(table: &SqlIdent, hops: &[Hop], target: &ColumnRef) -> Sql {
    let mut sql = Sql::new();
    let Some((first, rest)) = hops.split_first() else {
        sql.column(table, &target.column);
        return sql;
    };
    let last = hops.last().map_or(&first.references, |h| &h.references);
    if rest.is_empty() && last.column == target.column {
        // The reference itself holds the value (e.g. the user id).
        sql.column(table, &first.column);
        return sql;
    }
    sql.push("(SELECT ")
        .column(&target.table, &target.column)
        .push(" FROM ");
    sql.ident(&first.references.table);
    for h in rest {
        sql.push(" JOIN ")
            .ident(&h.references.table)
            .push(" ON ")
            .column(&h.references.table, &h.references.column)
            .push(" = ")
            .column(&h.table, &h.column);
    }
    sql.push(" WHERE ")
        .column(&first.references.table, &first.references.column)
        .push(" = ")
        .column(table, &first.column)
        .push(")");
    sql
}
