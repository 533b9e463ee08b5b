//! How a row reaches its subject, as SQL: the expressions retention and
//! data-subject requests share to find whose a row is.

use std::collections::BTreeMap;

use privctl_policy::model::Policy;
use privctl_policy::{ColumnRef, Hop, SqlIdent};

use crate::sql::{Sql, Value};
use crate::Schema;

/// A subject's identifier values by identifier name (`user_id`, `email`):
/// the key of their home row and whatever else the home row holds.
pub type Identifiers = BTreeMap<String, String>;

/// The condition selecting the rows of `table` in `store` that belong to
/// the subject with `ids`; `None` when no link reaches the table.
///
/// Unlike [`subject_keys`] (an expression per row, for sweeps that ask
/// whose each row is), this asks the other way round, in a form indexes
/// serve: `user_id = $1`, or through foreign keys
/// `api_key_id IN (SELECT id FROM api_keys WHERE user_id = $1)`, values
/// bound as the compared column's type. Identifier links into other stores
/// compare the column with the subject's value of that identifier.
pub fn belongs_to(
    policy: &Policy,
    schema: &Schema,
    store: &str,
    table: &SqlIdent,
    ids: &Identifiers,
) -> Option<Sql> {
    or(&conditions(policy, schema, store, table, ids, None))
}

/// [`belongs_to`] through the links on `column` alone: the rows whose
/// `column` is the subject's reference (to overwrite that reference and no
/// other person's in a row about several).
pub fn belongs_via(
    policy: &Policy,
    schema: &Schema,
    store: &str,
    table: &SqlIdent,
    column: &SqlIdent,
    ids: &Identifiers,
) -> Option<Sql> {
    or(&conditions(policy, schema, store, table, ids, Some(column)))
}

fn or(parts: &[Sql]) -> Option<Sql> {
    if parts.is_empty() {
        return None;
    }
    let mut sql = Sql::new();
    sql.push("(");
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            sql.push(" OR ");
        }
        sql.append(p);
    }
    sql.push(")");
    Some(sql)
}

/// One condition per way the subject reaches a row of `table` (only the
/// links on `only`, when given).
fn conditions(
    policy: &Policy,
    schema: &Schema,
    store: &str,
    table: &SqlIdent,
    ids: &Identifiers,
    only: Option<&SqlIdent>,
) -> Vec<Sql> {
    let mut parts: Vec<Sql> = Vec::new();
    let Some(home) = policy.subject_home() else {
        return parts;
    };
    let Some(key) = ids.get(&home.name) else {
        return parts;
    };
    if let Some(own) = policy.subject_path(store, table) {
        if own.hops.is_empty() && only.is_none_or(|c| *c == own.key.column) {
            let mut sql = Sql::new();
            equals(&mut sql, schema, table, table, &own.key.column, key);
            parts.push(sql);
        }
    }
    for link in policy
        .subject
        .links
        .iter()
        .filter(|l| l.store == store && l.table.as_ref() == Some(table))
    {
        let Some(column) = &link.column else { continue };
        if only.is_some_and(|c| c != column) {
            continue;
        }
        if let Some(references) = &link.references {
            let Some(rest) = policy.subject_path(store, &references.table) else {
                continue;
            };
            let mut hops = vec![Hop {
                table: table.clone(),
                column: column.clone(),
                references: references.clone(),
            }];
            hops.extend(rest.hops);
            let mut sql = Sql::new();
            chain(&mut sql, schema, table, &hops, &rest.key, key, 0);
            parts.push(sql);
        } else if let Some(value) = link.identifier.as_ref().and_then(|i| ids.get(i)) {
            let mut sql = Sql::new();
            equals(&mut sql, schema, table, table, column, value);
            parts.push(sql);
        }
    }
    parts
}

/// Whether a declared type holds integers (SQLite's affinity rule, less
/// PostgreSQL's `interval` and `point`).
fn integer_type(declared: &str) -> bool {
    let t = declared.to_ascii_lowercase();
    t.contains("int") && !t.contains("interval") && !t.contains("point")
}

/// Whether a declared type holds text (or, in SQLite, anything).
fn text_type(declared: &str) -> bool {
    let t = declared.to_ascii_lowercase();
    t.is_empty() || t.contains("text") || t.contains("char") || t.contains("clob")
}

/// `alias.column = value`, the value bound as the column's type (an
/// integer column and a value that is no integer: false).
fn equals(
    sql: &mut Sql,
    schema: &Schema,
    alias: &SqlIdent,
    table: &SqlIdent,
    column: &SqlIdent,
    value: &str,
) {
    // An empty identifier names nobody (it would match every empty cell).
    if value.is_empty() {
        sql.push("(1 = 0)");
        return;
    }
    let declared = schema
        .tables
        .get(table.as_str())
        .and_then(|t| t.column(column.as_str()))
        .map(|c| c.declared_type.as_str())
        .unwrap_or("");
    if integer_type(declared) {
        match value.trim().parse::<i64>() {
            Ok(n) => {
                sql.push("(")
                    .column(alias, column)
                    .push(" = ")
                    .bind(Value::Int(n))
                    .push(")");
            }
            Err(_) => {
                sql.push("(1 = 0)");
            }
        }
    } else if text_type(declared) && !declared.is_empty() {
        sql.push("(")
            .column(alias, column)
            .push(" = ")
            .bind(Value::Text(value.to_owned()))
            .push(")");
    } else {
        // A type compared as text (uuid, numeric; in SQLite a column with
        // no declared type, which may hold integers): correct, if slower.
        sql.push("(CAST(")
            .column(alias, column)
            .push(" AS TEXT) = ")
            .bind(Value::Text(value.to_owned()))
            .push(")");
    }
}

/// The rows of `alias` (a row of `hops[0].table`) whose chain of
/// references in `hops` ends at the subject with `key` in `target`.
fn chain(
    sql: &mut Sql,
    schema: &Schema,
    alias: &SqlIdent,
    hops: &[Hop],
    target: &ColumnRef,
    key: &str,
    depth: usize,
) {
    let Some((h, rest)) = hops.split_first() else {
        equals(sql, schema, alias, &target.table, &target.column, key);
        return;
    };
    if rest.is_empty() && h.references.column == target.column {
        // The reference itself holds the key.
        equals(sql, schema, alias, &h.table, &h.column, key);
        return;
    }
    let Ok(next) = SqlIdent::new(&format!("privctl_hop{depth}")) else {
        sql.push("(1 = 0)");
        return;
    };
    sql.push("(")
        .column(alias, &h.column)
        .push(" IN (SELECT ")
        .column(&next, &h.references.column)
        .push(" FROM ")
        .ident(&h.references.table)
        .push(" AS ")
        .ident(&next)
        .push(" WHERE ");
    chain(sql, schema, &next, rest, target, key, depth + 1);
    sql.push("))");
}

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
    // Each table on the way under an alias of its own, so a link from a
    // table to itself never shadows the outer row.
    let aliases: Vec<SqlIdent> = (0..hops.len())
        .filter_map(|i| SqlIdent::new(&format!("privctl_hop{i}")).ok())
        .collect();
    if aliases.len() != hops.len() {
        sql.push("NULL");
        return sql;
    }
    let last_alias = &aliases[hops.len() - 1];
    sql.push("(SELECT ")
        .column(last_alias, &target.column)
        .push(" FROM ")
        .ident(&first.references.table)
        .push(" AS ")
        .ident(&aliases[0]);
    for (i, h) in rest.iter().enumerate() {
        sql.push(" JOIN ")
            .ident(&h.references.table)
            .push(" AS ")
            .ident(&aliases[i + 1])
            .push(" ON ")
            .column(&aliases[i + 1], &h.references.column)
            .push(" = ")
            .column(&aliases[i], &h.column);
    }
    sql.push(" WHERE ")
        .column(&aliases[0], &first.references.column)
        .push(" = ")
        .column(table, &first.column)
        .push(")");
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ident(s: &str) -> SqlIdent {
        SqlIdent::new(s).expect("ident")
    }

    #[test]
    fn a_table_that_refers_to_itself_does_not_shadow_the_row() {
        // api_keys.parent_key_id -> api_keys.id -> users.id
        let hops = [
            Hop {
                table: ident("api_keys"),
                column: ident("parent_key_id"),
                references: ColumnRef {
                    table: ident("api_keys"),
                    column: ident("id"),
                },
            },
            Hop {
                table: ident("api_keys"),
                column: ident("user_id"),
                references: ColumnRef {
                    table: ident("users"),
                    column: ident("id"),
                },
            },
        ];
        let target = ColumnRef {
            table: ident("users"),
            column: ident("closed_at"),
        };
        let sql = through(&ident("api_keys"), &hops, &target);
        assert_eq!(
            sql.text(),
            "(SELECT \"privctl_hop1\".\"closed_at\" FROM \"api_keys\" AS \"privctl_hop0\" \
             JOIN \"users\" AS \"privctl_hop1\" ON \"privctl_hop1\".\"id\" = \"privctl_hop0\".\"user_id\" \
             WHERE \"privctl_hop0\".\"id\" = \"api_keys\".\"parent_key_id\")"
        );
    }
}
