//! From one of a person's identifiers to their key, and from their key to
//! their rows in any table the subject map reaches.

use std::collections::BTreeMap;

use privctl_policy::model::{name_of, Policy};
use privctl_policy::SqlIdent;
use privctl_store::sql::{Sql, Value};
use privctl_store::subject::Identifiers;
use privctl_store::{Db, Row, Schema};

use crate::{Error, Result};

/// The person a request is about.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Subject {
    /// The identifier they were named by (`email`).
    pub identifier: String,
    /// Its value.
    pub value: String,
    /// Their key in the subject's home table (the user id), as text.
    pub key: String,
}

/// Finds the person `KIND=VALUE` names (`KIND` an identifier's name or
/// kind, e.g. `email=ada@example.com`, `user_id=42`).
pub async fn resolve(policy: &Policy, dbs: &BTreeMap<String, Db>, arg: &str) -> Result<Subject> {
    let (kind, value) = arg
        .split_once('=')
        .filter(|(k, v)| !k.is_empty() && !v.is_empty())
        .ok_or_else(|| Error::BadSubject(privctl_policy::escape_untrusted(arg).into_owned()))?;
    let ids = &policy.subject.identifiers;
    let id = ids
        .iter()
        .find(|i| i.name == kind)
        .or_else(|| ids.iter().find(|i| name_of(&i.kind) == kind))
        .ok_or_else(|| {
            Error::UnknownIdentifier(
                privctl_policy::escape_untrusted(kind).into_owned(),
                ids.iter()
                    .map(|i| i.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        })?;
    let home = policy
        .subject_home()
        .ok_or_else(|| Error::Invalid("the policy names no subject identifier".to_owned()))?;
    if id.store != home.store || id.table != home.table {
        return Err(Error::Invalid(format!(
            "identifier \"{}\" is outside the subject's own table; finding a subject by it is not supported yet",
            id.name
        )));
    }
    let db = dbs
        .get(&id.store)
        .ok_or_else(|| Error::StoreNotOpen(id.store.clone()))?;
    let mut sql = Sql::new();
    sql.push("SELECT CAST(")
        .ident(&home.column)
        .push(" AS TEXT) AS k FROM ")
        .ident(&home.table)
        .push(" WHERE CAST(")
        .ident(&id.column)
        .push(" AS TEXT) = ")
        .bind(Value::Text(value.to_owned()))
        .push(" LIMIT 2");
    let err = db.err("finding the subject", Some(home.table.as_str()));
    let rows = sql.query().fetch_all(db.pool()).await.map_err(&err)?;
    let shown = privctl_policy::escape_untrusted(value).into_owned();
    match rows.as_slice() {
        [] => Err(Error::NoSubject(id.name.clone(), shown)),
        [one] => Ok(Subject {
            identifier: id.name.clone(),
            value: value.to_owned(),
            key: one
                .try_get::<Option<String>, _>("k")
                .map_err(&err)?
                .ok_or_else(|| Error::NoSubject(id.name.clone(), shown))?,
        }),
        _ => Err(Error::Invalid(format!(
            "{} = \"{shown}\" names more than one subject",
            id.name
        ))),
    }
}

/// Every identifier of the subject with `key` that their home row holds
/// (the key itself included), by identifier name: what links into other
/// stores compare with.
pub async fn identifiers(
    policy: &Policy,
    dbs: &BTreeMap<String, Db>,
    key: &str,
) -> Result<Identifiers> {
    let home = policy
        .subject_home()
        .ok_or_else(|| Error::Invalid("the policy names no subject identifier".to_owned()))?;
    let db = dbs
        .get(&home.store)
        .ok_or_else(|| Error::StoreNotOpen(home.store.clone()))?;
    let mut out = Identifiers::new();
    out.insert(home.name.clone(), key.to_owned());
    let own: Vec<_> = policy
        .subject
        .identifiers
        .iter()
        .filter(|i| i.store == home.store && i.table == home.table && i.name != home.name)
        .collect();
    if own.is_empty() {
        return Ok(out);
    }
    let schema = db.schema().await?;
    let mut sql = Sql::new();
    sql.push("SELECT ");
    for (i, id) in own.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.push("CAST(")
            .ident(&id.column)
            .push(" AS TEXT) AS ")
            .ident(&id.column);
    }
    sql.push(" FROM ").ident(&home.table).push(" WHERE ");
    let mut mine = Identifiers::new();
    mine.insert(home.name.clone(), key.to_owned());
    match privctl_store::subject::belongs_to(policy, &schema, &home.store, &home.table, &mine) {
        Some(cond) => sql.append(&cond),
        None => sql.push("1 = 0"),
    };
    let err = db.err(
        "reading the subject's identifiers",
        Some(home.table.as_str()),
    );
    if let Some(row) = sql.query().fetch_optional(db.pool()).await.map_err(&err)? {
        for id in own {
            if let Some(v) = row
                .try_get::<Option<String>, _>(id.column.as_str())
                .map_err(&err)?
            {
                out.insert(id.name.clone(), v);
            }
        }
    }
    Ok(out)
}

/// `SELECT` of `columns` (as text) of the rows of `table` in `store` that
/// belong to the subject with `ids`, in the order the database returns
/// them (sorting a heavy user's rows costs the database an external sort,
/// and nothing reads an export by its order); `None` when the table does
/// not reach the subject.
pub fn rows_of(
    policy: &Policy,
    schema: &Schema,
    store: &str,
    table: &SqlIdent,
    columns: &[SqlIdent],
    ids: &Identifiers,
) -> Option<Sql> {
    let mine = privctl_store::subject::belongs_to(policy, schema, store, table, ids)?;
    let mut sql = Sql::new();
    sql.push("SELECT ");
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.push("CAST(")
            .column(table, c)
            .push(" AS TEXT) AS ")
            .ident(c);
    }
    sql.push(" FROM ")
        .ident(table)
        .push(" WHERE ")
        .append(&mine);
    Some(sql)
}
