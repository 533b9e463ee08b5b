//! privctl's own tables (run log, audit records, holds, requests), each set
//! versioned on its own and created or upgraded under [`Lock::Privctl`], so
//! two first runs at once agree on one result.

use sqlx::{AnyConnection, Row};

use crate::{Db, Dialect, Error, Lock, Result};

/// One set of privctl's own tables.
#[derive(Debug)]
pub struct Component {
    /// Its name in `privctl_components`.
    pub name: &'static str,
    /// Per dialect, the steps from version 0: step `i` takes the tables from
    /// version `i` to `i + 1`. Constant text only.
    pub migrations: fn(Dialect) -> &'static [&'static [&'static str]],
}

impl Component {
    /// The version this release writes.
    pub fn version(&self, dialect: Dialect) -> i64 {
        i64::try_from((self.migrations)(dialect).len()).unwrap_or(i64::MAX)
    }
}

const REGISTRY: &str =
    "CREATE TABLE IF NOT EXISTS privctl_components (name TEXT PRIMARY KEY, version BIGINT NOT NULL)";

impl Db {
    /// The version of `component`'s tables in this database, `None` when it
    /// has none; changes nothing (a dry run calls this).
    pub async fn component_version(&self, component: &Component) -> Result<Option<i64>> {
        self.read_with(async |c| self.read_version(c, component).await)
            .await
    }

    async fn read_version(
        &self,
        c: &mut AnyConnection,
        component: &Component,
    ) -> Result<Option<i64>> {
        if !self.has_table(c, "privctl_components").await? {
            return Ok(None);
        }
        let row = sqlx::query("SELECT version FROM privctl_components WHERE name = $1")
            .bind(component.name)
            .fetch_optional(&mut *c)
            .await
            .map_err(self.err(
                "reading privctl's table versions",
                Some("privctl_components"),
            ))?;
        row.map(|r| r.try_get::<i64, _>("version"))
            .transpose()
            .map_err(self.err(
                "reading privctl's table versions",
                Some("privctl_components"),
            ))
    }

    /// Creates or upgrades `component`'s tables to this release's version.
    /// Tables written by a newer release are refused, not touched.
    pub async fn ensure(&self, component: &Component) -> Result<()> {
        let known = component.version(self.dialect());
        if self.component_version(component).await? == Some(known) {
            return Ok(());
        }
        self.write_with(Lock::Privctl, async |c| {
            let op = "creating privctl's tables";
            sqlx::query(REGISTRY)
                .execute(&mut *c)
                .await
                .map_err(self.err(op, Some("privctl_components")))?;
            let found = self.read_version(c, component).await?.unwrap_or(0);
            if found > known {
                return Err(Error::SchemaTooNew {
                    store: self.name().to_owned(),
                    component: component.name,
                    found,
                    known,
                });
            }
            let steps = (component.migrations)(self.dialect());
            let from = usize::try_from(found).unwrap_or(0);
            for step in steps.iter().skip(from) {
                for statement in *step {
                    sqlx::query(*statement)
                        .execute(&mut *c)
                        .await
                        .map_err(self.err(op, None))?;
                }
            }
            sqlx::query("INSERT INTO privctl_components (name, version) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET version = excluded.version")
                .bind(component.name)
                .bind(known)
                .execute(&mut *c)
                .await
                .map_err(self.err(op, Some("privctl_components")))?;
            Ok(())
        })
        .await
    }

    /// Whether a table of this name exists (in PostgreSQL, in the current
    /// schema).
    pub async fn has_table(&self, c: &mut AnyConnection, table: &str) -> Result<bool> {
        let q = match self.dialect() {
            Dialect::Sqlite => "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = $1",
            Dialect::Postgres => "SELECT COUNT(*) AS n FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = $1",
        };
        let op = "looking for a table";
        let n: i64 = sqlx::query(q)
            .bind(table)
            .fetch_one(&mut *c)
            .await
            .and_then(|r| r.try_get("n"))
            .map_err(self.err(op, Some(table)))?;
        Ok(n > 0)
    }
}
