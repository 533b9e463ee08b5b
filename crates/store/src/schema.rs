//! The live schema, read from the database's own catalogue.

use std::collections::BTreeMap;

use sqlx::{AnyConnection, Row};

use crate::{Db, Dialect, Result};

/// Every table of the database (PostgreSQL: of the current schema), by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schema {
    /// Tables by name. Partitions of a partitioned table are not listed on
    /// their own; their parent is.
    pub tables: BTreeMap<String, Table>,
}

/// One table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    /// Its name.
    pub name: String,
    /// Columns in declaration order.
    pub columns: Vec<Column>,
    /// Primary key columns, in key order; empty when it has none.
    pub primary_key: Vec<String>,
    /// Foreign keys.
    pub foreign_keys: Vec<ForeignKey>,
    /// Indexes, the primary key's and unique constraints' included.
    pub indexes: Vec<Index>,
    /// PostgreSQL: the column a table is range-partitioned on, when it is
    /// partitioned by range on one column.
    pub range_partitioned_on: Option<String>,
    /// PostgreSQL: its partitions, when it is partitioned.
    pub partitions: Vec<Partition>,
}

/// One partition of a partitioned table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// Its table's name.
    pub name: String,
    /// Whether it holds rows itself (not partitioned again).
    pub leaf: bool,
    /// The bound as the catalogue prints it (`FOR VALUES FROM (...) TO
    /// (...)`, `DEFAULT`).
    pub bound: String,
    /// The exclusive upper bound of a range partition on one column, as the
    /// literal's text (`2026-01-02 00:00:00+00`); `None` for `MAXVALUE`, a
    /// default partition or anything else.
    pub upper: Option<String>,
}

/// The upper literal of `FOR VALUES FROM ('a') TO ('b')`.
fn range_upper(bound: &str) -> Option<String> {
    let to = bound.rsplit_once(" TO (")?.1.strip_suffix(')')?;
    let inner = to.strip_prefix('\'')?.strip_suffix('\'')?;
    (!inner.contains('\'')).then(|| inner.to_owned())
}

/// The column of `RANGE (col)`.
fn range_column(keydef: &str) -> Option<String> {
    let col = keydef.strip_prefix("RANGE (")?.strip_suffix(')')?;
    let col = col.trim_matches('"');
    col.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        .then(|| col.to_owned())
}

/// One column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its type as the database declares it (lower case).
    pub declared_type: String,
    /// Whether it refuses NULL.
    pub not_null: bool,
}

/// A foreign key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKey {
    /// Referencing columns.
    pub columns: Vec<String>,
    /// Referenced table.
    pub references_table: String,
    /// Referenced columns (SQLite: empty when the key names the primary key
    /// implicitly).
    pub references_columns: Vec<String>,
}

/// An index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    /// Its name.
    pub name: String,
    /// Indexed columns, in order (expressions left out).
    pub columns: Vec<String>,
    /// Whether it enforces uniqueness.
    pub unique: bool,
}

/// How a column holds a point in time, which decides how a cutoff is bound
/// and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeKind {
    /// Text, `YYYY-MM-DD HH:MM:SS` in UTC (SQLite's own form) or ISO 8601
    /// with a `T`.
    Text,
    /// Whole seconds since 1970 UTC.
    UnixSeconds,
    /// PostgreSQL `timestamp with time zone`.
    TimestampTz,
    /// PostgreSQL `timestamp` (read as UTC).
    Timestamp,
    /// PostgreSQL `date`.
    Date,
}

impl Column {
    /// How this column holds time, or `None` for a type that holds none.
    pub fn time_kind(&self, dialect: Dialect) -> Option<TimeKind> {
        let t = self.declared_type.as_str();
        match dialect {
            Dialect::Sqlite => Some(if t.contains("int") {
                TimeKind::UnixSeconds
            } else {
                TimeKind::Text
            }),
            Dialect::Postgres => match t {
                "timestamp with time zone" => Some(TimeKind::TimestampTz),
                "timestamp without time zone" => Some(TimeKind::Timestamp),
                "date" => Some(TimeKind::Date),
                "bigint" | "integer" => Some(TimeKind::UnixSeconds),
                "text" => Some(TimeKind::Text),
                _ if t.starts_with("character varying") => Some(TimeKind::Text),
                _ if t.starts_with("timestamp(") && t.ends_with("with time zone") => {
                    Some(TimeKind::TimestampTz)
                }
                _ if t.starts_with("timestamp(") => Some(TimeKind::Timestamp),
                _ => None,
            },
        }
    }
}

impl Table {
    /// The column of that name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Whether some index starts with `column`, so lookups on it do not
    /// scan the table.
    pub fn is_indexed(&self, column: &str) -> bool {
        self.indexes
            .iter()
            .any(|i| i.columns.first().is_some_and(|c| c == column))
            || self.primary_key.first().is_some_and(|c| c == column)
    }

    /// Whether a unique index (or the primary key) covers exactly `columns`,
    /// in any order.
    pub fn is_unique_on(&self, columns: &[&str]) -> bool {
        let same = |cols: &[String]| {
            cols.len() == columns.len() && columns.iter().all(|c| cols.iter().any(|k| k == c))
        };
        same(&self.primary_key) || self.indexes.iter().any(|i| i.unique && same(&i.columns))
    }
}

const PG_COLUMNS: &str = "SELECT CAST(c.relname AS TEXT) AS tbl, CAST(a.attname AS TEXT) AS col, \
    format_type(a.atttypid, a.atttypmod) AS ty, a.attnotnull AS notnull \
    FROM pg_catalog.pg_attribute a \
    JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition \
    AND a.attnum > 0 AND NOT a.attisdropped \
    ORDER BY c.relname, a.attnum";

const PG_INDEXES: &str = "SELECT CAST(t.relname AS TEXT) AS tbl, CAST(i.relname AS TEXT) AS idx, \
    ix.indisunique AS uniq, ix.indisprimary AS pk, CAST(a.attname AS TEXT) AS col \
    FROM pg_catalog.pg_index ix \
    JOIN pg_catalog.pg_class t ON t.oid = ix.indrelid \
    JOIN pg_catalog.pg_class i ON i.oid = ix.indexrelid \
    JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace \
    CROSS JOIN LATERAL unnest(CAST(ix.indkey AS int2[])) WITH ORDINALITY AS k(attnum, ord) \
    JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
    WHERE n.nspname = current_schema() AND NOT t.relispartition \
    ORDER BY t.relname, i.relname, k.ord";

const PG_FOREIGN_KEYS: &str = "SELECT CAST(t.relname AS TEXT) AS tbl, CAST(con.conname AS TEXT) AS name, \
    CAST(ft.relname AS TEXT) AS ftbl, CAST(a.attname AS TEXT) AS col, CAST(fa.attname AS TEXT) AS fcol \
    FROM pg_catalog.pg_constraint con \
    JOIN pg_catalog.pg_class t ON t.oid = con.conrelid \
    JOIN pg_catalog.pg_class ft ON ft.oid = con.confrelid \
    JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace \
    CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(attnum, fattnum, ord) \
    JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
    JOIN pg_catalog.pg_attribute fa ON fa.attrelid = ft.oid AND fa.attnum = k.fattnum \
    WHERE con.contype = 'f' AND n.nspname = current_schema() AND NOT t.relispartition \
    ORDER BY t.relname, con.conname, k.ord";

const PG_PARTITIONED: &str = "SELECT CAST(c.relname AS TEXT) AS tbl, \
    CAST(pg_get_partkeydef(c.oid) AS TEXT) AS keydef \
    FROM pg_catalog.pg_class c \
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
    WHERE n.nspname = current_schema() AND c.relkind = 'p' AND NOT c.relispartition";

const PG_PARTITIONS: &str =
    "SELECT CAST(parent.relname AS TEXT) AS tbl, CAST(c.relname AS TEXT) AS part, \
    c.relkind = 'r' AS leaf, CAST(pg_get_expr(c.relpartbound, c.oid) AS TEXT) AS bound \
    FROM pg_catalog.pg_inherits i \
    JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid \
    JOIN pg_catalog.pg_class parent ON parent.oid = i.inhparent \
    JOIN pg_catalog.pg_namespace n ON n.oid = parent.relnamespace \
    WHERE n.nspname = current_schema() AND parent.relkind = 'p' AND NOT parent.relispartition \
    ORDER BY parent.relname, c.relname";

impl Db {
    /// Reads the live schema, in one snapshot.
    pub async fn schema(&self) -> Result<Schema> {
        self.read_with(async |c| match self.dialect() {
            Dialect::Sqlite => self.sqlite_schema(c).await,
            Dialect::Postgres => self.postgres_schema(c).await,
        })
        .await
    }

    async fn sqlite_schema(&self, c: &mut AnyConnection) -> Result<Schema> {
        let op = "reading the schema";
        let names: Vec<String> = sqlx::query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .fetch_all(&mut *c)
        .await
        .map_err(self.err(op, None))?
        .iter()
        .map(|r| r.try_get("name"))
        .collect::<Result<_, _>>()
        .map_err(self.err(op, None))?;
        let mut schema = Schema::default();
        for name in names {
            let err = self.err(op, Some(&name));
            let mut table = Table {
                name: name.clone(),
                ..Table::default()
            };
            let mut pk: Vec<(i64, String)> = Vec::new();
            for r in sqlx::query(
                "SELECT name, type, \"notnull\" AS nn, pk FROM pragma_table_info($1) ORDER BY cid",
            )
            .bind(&name)
            .fetch_all(&mut *c)
            .await
            .map_err(&err)?
            {
                let col: String = r.try_get("name").map_err(&err)?;
                let ty: String = r.try_get("type").map_err(&err)?;
                let nn: i64 = r.try_get("nn").map_err(&err)?;
                let k: i64 = r.try_get("pk").map_err(&err)?;
                if k > 0 {
                    pk.push((k, col.clone()));
                }
                table.columns.push(Column {
                    name: col,
                    declared_type: ty.to_ascii_lowercase(),
                    not_null: nn != 0,
                });
            }
            pk.sort();
            table.primary_key = pk.into_iter().map(|(_, c)| c).collect();
            let mut fks: BTreeMap<i64, ForeignKey> = BTreeMap::new();
            for r in sqlx::query("SELECT id, \"table\" AS tbl, \"from\" AS col, \"to\" AS fcol FROM pragma_foreign_key_list($1) ORDER BY id, seq")
                .bind(&name)
                .fetch_all(&mut *c)
                .await
                .map_err(&err)?
            {
                let id: i64 = r.try_get("id").map_err(&err)?;
                let ftbl: String = r.try_get("tbl").map_err(&err)?;
                let col: String = r.try_get("col").map_err(&err)?;
                let fcol: Option<String> = r.try_get("fcol").map_err(&err)?;
                let fk = fks.entry(id).or_insert_with(|| ForeignKey {
                    columns: Vec::new(),
                    references_table: ftbl,
                    references_columns: Vec::new(),
                });
                fk.columns.push(col);
                fk.references_columns.extend(fcol);
            }
            table.foreign_keys = fks.into_values().collect();
            let indexes: Vec<(String, bool)> = sqlx::query(
                "SELECT name, \"unique\" AS uniq FROM pragma_index_list($1) ORDER BY name",
            )
            .bind(&name)
            .fetch_all(&mut *c)
            .await
            .map_err(&err)?
            .iter()
            .map(|r| Ok((r.try_get("name")?, r.try_get::<i64, _>("uniq")? != 0)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(&err)?;
            for (index, unique) in indexes {
                let columns: Vec<String> = sqlx::query(
                    "SELECT name FROM pragma_index_info($1) WHERE name IS NOT NULL ORDER BY seqno",
                )
                .bind(&index)
                .fetch_all(&mut *c)
                .await
                .map_err(&err)?
                .iter()
                .map(|r| r.try_get("name"))
                .collect::<Result<_, _>>()
                .map_err(&err)?;
                table.indexes.push(Index {
                    name: index,
                    columns,
                    unique,
                });
            }
            schema.tables.insert(name, table);
        }
        Ok(schema)
    }

    async fn postgres_schema(&self, c: &mut AnyConnection) -> Result<Schema> {
        let op = "reading the schema";
        let err = self.err(op, None);
        let mut schema = Schema::default();
        for r in sqlx::query(PG_COLUMNS)
            .fetch_all(&mut *c)
            .await
            .map_err(&err)?
        {
            let tbl: String = r.try_get("tbl").map_err(&err)?;
            let column = Column {
                name: r.try_get("col").map_err(&err)?,
                declared_type: r
                    .try_get::<String, _>("ty")
                    .map_err(&err)?
                    .to_ascii_lowercase(),
                not_null: r.try_get("notnull").map_err(&err)?,
            };
            schema
                .tables
                .entry(tbl.clone())
                .or_insert_with(|| Table {
                    name: tbl,
                    ..Table::default()
                })
                .columns
                .push(column);
        }
        let mut indexes: BTreeMap<(String, String), (Index, bool)> = BTreeMap::new();
        for r in sqlx::query(PG_INDEXES)
            .fetch_all(&mut *c)
            .await
            .map_err(&err)?
        {
            let tbl: String = r.try_get("tbl").map_err(&err)?;
            let idx: String = r.try_get("idx").map_err(&err)?;
            let unique: bool = r.try_get("uniq").map_err(&err)?;
            let pk: bool = r.try_get("pk").map_err(&err)?;
            let col: String = r.try_get("col").map_err(&err)?;
            indexes
                .entry((tbl, idx.clone()))
                .or_insert_with(|| {
                    (
                        Index {
                            name: idx,
                            columns: Vec::new(),
                            unique,
                        },
                        pk,
                    )
                })
                .0
                .columns
                .push(col);
        }
        for ((tbl, _), (index, pk)) in indexes {
            if let Some(t) = schema.tables.get_mut(&tbl) {
                if pk {
                    t.primary_key = index.columns.clone();
                }
                t.indexes.push(index);
            }
        }
        let mut fks: BTreeMap<(String, String), ForeignKey> = BTreeMap::new();
        for r in sqlx::query(PG_FOREIGN_KEYS)
            .fetch_all(&mut *c)
            .await
            .map_err(&err)?
        {
            let tbl: String = r.try_get("tbl").map_err(&err)?;
            let name: String = r.try_get("name").map_err(&err)?;
            let ftbl: String = r.try_get("ftbl").map_err(&err)?;
            let fk = fks.entry((tbl, name)).or_insert_with(|| ForeignKey {
                columns: Vec::new(),
                references_table: ftbl,
                references_columns: Vec::new(),
            });
            fk.columns.push(r.try_get("col").map_err(&err)?);
            fk.references_columns.push(r.try_get("fcol").map_err(&err)?);
        }
        for ((tbl, _), fk) in fks {
            if let Some(t) = schema.tables.get_mut(&tbl) {
                t.foreign_keys.push(fk);
            }
        }
        for r in sqlx::query(PG_PARTITIONED)
            .fetch_all(&mut *c)
            .await
            .map_err(&err)?
        {
            let tbl: String = r.try_get("tbl").map_err(&err)?;
            let keydef: String = r.try_get("keydef").map_err(&err)?;
            if let Some(t) = schema.tables.get_mut(&tbl) {
                t.range_partitioned_on = range_column(&keydef);
            }
        }
        for r in sqlx::query(PG_PARTITIONS)
            .fetch_all(&mut *c)
            .await
            .map_err(&err)?
        {
            let tbl: String = r.try_get("tbl").map_err(&err)?;
            let bound: String = r.try_get("bound").map_err(&err)?;
            if let Some(t) = schema.tables.get_mut(&tbl) {
                t.partitions.push(Partition {
                    name: r.try_get("part").map_err(&err)?,
                    leaf: r.try_get("leaf").map_err(&err)?,
                    upper: range_upper(&bound),
                    bound,
                });
            }
        }
        Ok(schema)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_bounds_and_keys_are_read() {
        assert_eq!(
            range_upper("FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2026-01-02 00:00:00+00')")
                .as_deref(),
            Some("2026-01-02 00:00:00+00")
        );
        assert_eq!(
            range_upper("FOR VALUES FROM (MINVALUE) TO (MAXVALUE)"),
            None
        );
        assert_eq!(range_upper("DEFAULT"), None);
        assert_eq!(
            range_column("RANGE (created_at)").as_deref(),
            Some("created_at")
        );
        assert_eq!(range_column("RANGE (created_at, id)"), None);
        assert_eq!(range_column("LIST (region)"), None);
    }
}
