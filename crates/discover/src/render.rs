//! The draft as policy TOML, each guess with its reason in a comment.

use std::fmt::Write;

use privctl_policy::model::{Category, IdentifierKind, Policy};

use crate::{Draft, LinkTo, TableDraft};

fn name_of<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn category(c: Category) -> String {
    name_of(&c)
}

fn kind(k: IdentifierKind) -> String {
    name_of(&k)
}

/// A TOML basic string.
fn quoted(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// The draft policy; with `existing`, only what it does not cover: tables
/// no data type of that store names, as new data types, and columns of
/// covered tables that their data type does not classify.
pub fn render(draft: &Draft, existing: Option<&Policy>) -> String {
    let mut out = String::new();
    match existing {
        None => whole(draft, &mut out),
        Some(policy) => drift(draft, policy, &mut out),
    }
    out
}

fn whole(draft: &Draft, out: &mut String) {
    let store = &draft.store;
    let env = format!("{}_DATABASE_URL", store.to_ascii_uppercase());
    let _ = write!(
        out,
        "# A draft policy, written by `privctl discover` from store \"{store}\" ({kind}):\n\
         # {n} tables, each column classified from its name, its schema and a sample\n\
         # of its values. No sampled value is written here: only what was seen.\n\
         #\n\
         # Before it enforces anything: check every guess below, name the organisation\n\
         # and the document this policy encodes, and give each data type a retention.\n\
         # `privctl check` lists what is still missing.\n\n\
         version = 1\n\n\
         [organisation]\n\
         name = \"(draft) {store}\"\n\n\
         [stores.{store}]\n\
         kind = \"{kind}\"\n\
         url_env = {env}\n",
        kind = name_of(&draft.kind),
        n = draft.tables.len(),
        env = quoted(&env),
    );
    match &draft.subject {
        None if draft.kind == privctl_policy::model::StoreKind::Clickhouse => out.push_str(
            "\n# People live in another store: draft it too and merge, keeping its\n\
             # [[subject.identifiers]]; these tables link to it by its user_id.\n\
             [subject]\nidentifiers = []\n",
        ),
        None => out.push_str(
            "\n# No table of people was found (one holding email addresses, or named\n\
             # like users or customers): add [[subject.identifiers]] and\n\
             # [[subject.links]] by hand.\n\
             [subject]\nidentifiers = []\n",
        ),
        Some(s) => {
            let _ = write!(
                out,
                "\n# --- The data subject: table \"{}\" ({}).\n\
                 # Every foreign-key path to it is listed below: check each. A path through\n\
                 # something people share (an organisation, a post) would let one person's\n\
                 # erasure reach other people's rows.\n",
                s.table, s.why
            );
            for i in &s.identifiers {
                let _ = write!(
                    out,
                    "\n[[subject.identifiers]]\nname = {}\nkind = \"{}\"\nstore = {}\ntable = {}\ncolumn = {}\n",
                    quoted(&i.name),
                    kind(i.kind),
                    quoted(store),
                    quoted(&s.table),
                    quoted(&i.column),
                );
            }
        }
    }
    for l in &draft.links {
        link(store, l, out);
    }
    out.push_str(
        "\n# --- Erasure: decide whether requests wait a grace period and can be\n\
         # cancelled, and which regimes' clocks apply ([regimes.gdpr], ...).\n\
         [erasure]\n",
    );
    out.push_str("\n# --- Data types: one per table. None has a retention yet.\n");
    for t in &draft.tables {
        data_type(store, &t.name, t, out);
    }
}

fn data_type(store: &str, name: &str, t: &TableDraft, out: &mut String) {
    let cats: Vec<String> = t
        .categories()
        .into_iter()
        .map(|c| quoted(&category(c)))
        .collect();
    let sampled = if t.unsampled {
        "Its values could not be read as text: classified by name and schema only.".to_owned()
    } else {
        format!(
            "{} row{} sampled.",
            t.sampled,
            if t.sampled == 1 { "" } else { "s" }
        )
    };
    let _ = write!(
        out,
        "\n# {sampled}\n[data_types.{}]\ndescription = {}\nstore = {}\ntable = {}\n",
        name,
        quoted(&format!("Table {} (drafted by privctl discover)", t.name)),
        quoted(store),
        quoted(&t.name),
    );
    match &t.timestamp {
        Some(ts) => {
            let _ = writeln!(out, "timestamp = {}", quoted(ts));
        }
        None => out.push_str("# No column holds a point in time: a retention needs one.\n"),
    }
    let _ = writeln!(out, "categories = [{}]", cats.join(", "));
    let _ = write!(out, "\n[data_types.{name}.columns]\n");
    columns(t.columns.iter(), out);
}

fn link(store: &str, l: &crate::LinkDraft, out: &mut String) {
    if !l.enforced {
        out.push_str(match l.to {
            LinkTo::References(..) => {
                "\n# No foreign key: the column is named like the person's id. Check it."
            }
            LinkTo::Identifier(_) => "\n# The column is named like the person's id. Check it.",
        });
    }
    let to = match &l.to {
        LinkTo::References(t, c) => format!("references = {}", quoted(&format!("{t}.{c}"))),
        LinkTo::Identifier(i) => format!("identifier = {}", quoted(i)),
    };
    let _ = write!(
        out,
        "\n[[subject.links]]\nstore = {}\ntable = {}\ncolumn = {}\n{to}\n",
        quoted(store),
        quoted(&l.table),
        quoted(&l.column),
    );
}

fn columns<'a>(cols: impl Iterator<Item = &'a crate::ColumnDraft>, out: &mut String) {
    let cols: Vec<&crate::ColumnDraft> = cols.collect();
    let width = cols
        .iter()
        .map(|c| c.name.len() + category(c.guess.category).len() + 6)
        .max()
        .unwrap_or(0);
    for c in cols {
        let line = format!("{} = {}", c.name, quoted(&category(c.guess.category)));
        // A reason names only the schema; line breaks are kept out of it
        // all the same.
        let why: String = c
            .guess
            .why
            .chars()
            .map(|ch| if ch.is_control() { ' ' } else { ch })
            .collect();
        let _ = writeln!(out, "{line:width$}# {why}");
    }
}

fn drift(draft: &Draft, policy: &Policy, out: &mut String) {
    let store = &draft.store;
    let _ = writeln!(
        out,
        "# What store \"{store}\" holds that the policy does not classify, drafted by\n\
         # `privctl discover`: add it to the policy after checking each guess."
    );
    let mut any = false;
    for t in &draft.tables {
        let covered = policy.data_types.iter().find(|(_, d)| {
            d.store == *store && d.table.as_ref().is_some_and(|x| x.as_str() == t.name)
        });
        match covered {
            None => {
                any = true;
                // A data type of that name may exist for another store.
                let name = if policy.data_types.contains_key(&t.name) {
                    format!("{store}_{}", t.name)
                } else {
                    t.name.clone()
                };
                data_type(store, &name, t, out);
                for l in draft.links.iter().filter(|l| l.table == t.name) {
                    link(store, l, out);
                }
            }
            Some((name, d)) => {
                let missing: Vec<&crate::ColumnDraft> = t
                    .columns
                    .iter()
                    .filter(|c| !d.columns.keys().any(|k| k.as_str() == c.name))
                    .collect();
                if missing.is_empty() {
                    continue;
                }
                any = true;
                let _ = write!(
                    out,
                    "\n# Add to [data_types.{name}.columns] (table {}):\n",
                    t.name
                );
                columns(missing.into_iter(), out);
            }
        }
    }
    if !any {
        let _ = writeln!(out, "\n# Nothing: every table and column is classified.");
    }
}
