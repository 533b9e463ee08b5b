//! `privctl discover`: a draft policy from a live database.

use std::io::Write;

use anyhow::{bail, Context};
use privctl_fsio::Output;
use privctl_policy::escape_path;
use privctl_policy::model::Category;
use privctl_store::{Db, Open};

use crate::cli::DiscoverArgs;
use crate::output::{self, Outcome};

pub fn run(args: &DiscoverArgs) -> anyhow::Result<Outcome> {
    let policy = match &args.policy {
        Some(path) => Some(privctl_policy::load(path)?),
        None => None,
    };
    let store = match (&args.store, &policy) {
        (Some(s), _) => s.clone(),
        (None, None) => "main".to_owned(),
        (None, Some(p)) => {
            let sql: Vec<&String> = p
                .stores
                .iter()
                .filter(|(_, s)| s.kind.is_tabular())
                .map(|(n, _)| n)
                .collect();
            match sql.as_slice() {
                [one] => (*one).clone(),
                _ => bail!(
                    "the policy has {} database stores; name the one this database is with --store",
                    sql.len()
                ),
            }
        }
    };
    if privctl_policy::SqlIdent::new(&store).is_err() {
        bail!(
            "--store {:?}: a store's name is letters, digits and underscores, starting with a letter",
            privctl_policy::escape_untrusted(&store)
        );
    }
    if let Some(p) = &policy {
        if !p.stores.contains_key(&store) {
            bail!(
                "the policy has no store \"{}\"",
                privctl_policy::escape_untrusted(&store)
            );
        }
    }
    let clickhouse = ["clickhouse://", "http://", "https://"]
        .iter()
        .any(|p| args.db.starts_with(p));
    let draft = crate::commands::vault::runtime()?.block_on(async {
        if clickhouse {
            let ch = privctl_store::clickhouse::ClickHouse::open(&store, &args.db).await?;
            anyhow::Ok(privctl_discover::discover_clickhouse(&ch, &store, args.sample).await?)
        } else {
            let db = Db::open(&store, &args.db, Open::Existing).await?;
            anyhow::Ok(privctl_discover::discover(&db, &store, args.sample).await?)
        }
    })?;
    let text = privctl_discover::render(&draft, policy.as_ref());
    // A whole draft must read back as a policy (its errors are the
    // decisions left to make); anything else is a bug, not a draft.
    if policy.is_none() && privctl_policy::check_str(&text).policy.is_none() {
        bail!("the draft does not parse as a policy; this is a bug in privctl discover\nhint: run with -vv and report it");
    }
    match &args.output {
        Some(path) => {
            let mut o = Output::open(path)
                .with_context(|| format!("cannot write {}", escape_path(path)))?;
            o.writer()
                .write_all(text.as_bytes())
                .with_context(|| format!("cannot write {}", escape_path(path)))?;
            o.commit()
                .with_context(|| format!("cannot write {}", escape_path(path)))?;
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(text.as_bytes())?;
            stdout.flush()?;
        }
    }
    let columns: usize = draft.tables.iter().map(|t| t.columns.len()).sum();
    let personal = draft
        .tables
        .iter()
        .flat_map(|t| &t.columns)
        .filter(|c| c.guess.category != Category::Metadata)
        .count();
    let subject = match &draft.subject {
        Some(s) => format!(
            "people in \"{}\", {} identifier(s), {} link(s)",
            s.table,
            s.identifiers.len(),
            draft.links.len()
        ),
        None => format!(
            "no table of people here, {} link(s) by identifier",
            draft.links.len()
        ),
    };
    output::note(format_args!(
        "{} tables, {columns} columns ({personal} about a person), {subject}",
        draft.tables.len()
    ));
    Ok(Outcome::Clean)
}
