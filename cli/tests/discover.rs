//! `privctl discover` on the sample databases of the seed policies: the
//! draft is given the database only, never the policy, and is compared with
//! the policy the database was built from. Figures are printed with
//! `--nocapture` and reported in the README.

use std::collections::BTreeSet;
use std::path::Path;

use privctl_policy::model::{Category, Policy, StoreKind, SubjectIdentifier, SubjectLink};
use privctl_store::{Db, Open};

use crate::util::{privctl, repo_root, run};

/// Every value the database holds, as text.
fn every_value(url: &str) -> (Vec<String>, BTreeSet<String>) {
    privctl_store::testing::runtime().block_on(async {
        let db = Db::open("main", url, Open::Existing).await.expect("db");
        let schema = db.schema().await.expect("schema");
        let mut values = Vec::new();
        let mut names = BTreeSet::new();
        // privctl's own tables (holds, runs) are left out of drafts.
        for t in schema
            .tables
            .values()
            .filter(|t| !t.name.starts_with("privctl_"))
        {
            names.insert(t.name.clone());
            let cols: Vec<privctl_policy::SqlIdent> = t
                .columns
                .iter()
                .map(|c| {
                    names.insert(c.name.clone());
                    privctl_policy::SqlIdent::new(&c.name).expect("name")
                })
                .collect();
            let table = privctl_policy::SqlIdent::new(&t.name).expect("name");
            for row in db
                .sample_text(&table, &cols, u32::MAX >> 1)
                .await
                .expect("rows")
            {
                values.extend(row.into_iter().flatten());
            }
        }
        (values, names)
    })
}

/// Whether the draft has the seed's identifier: same kind, table, column.
fn has_identifier(draft: &Policy, id: &SubjectIdentifier) -> bool {
    draft
        .subject
        .identifiers
        .iter()
        .any(|d| d.kind == id.kind && d.table == id.table && d.column == id.column)
}

/// Whether the draft has the seed's link: same table and column, to the
/// same `table.column` or identifier.
fn has_link(draft: &Policy, link: &SubjectLink) -> bool {
    draft.subject.links.iter().any(|d| {
        d.table == link.table
            && d.column == link.column
            && d.references.as_ref().map(ToString::to_string)
                == link.references.as_ref().map(ToString::to_string)
            && d.identifier == link.identifier
    })
}

struct Figures {
    personal: usize,
    matched: usize,
    misses: Vec<String>,
    /// Columns the seed says are not about a person, drafted as if they were.
    over: Vec<String>,
    metadata: usize,
}

/// Columns the seed classifies as about a person (in its SQL stores, or
/// in `only` when given), and how many the draft puts in the same category.
fn compare(seed: &Policy, draft: &Policy) -> Figures {
    compare_store(seed, draft, None)
}

fn compare_store(seed: &Policy, draft: &Policy, only: Option<&str>) -> Figures {
    let mut f = Figures {
        personal: 0,
        matched: 0,
        misses: Vec::new(),
        over: Vec::new(),
        metadata: 0,
    };
    for dt in seed.data_types.values() {
        let sql = match only {
            Some(store) => dt.store == store,
            None => seed
                .stores
                .get(&dt.store)
                .is_some_and(|s| matches!(s.kind, StoreKind::Sqlite | StoreKind::Postgres)),
        };
        let Some(table) = dt.table.as_ref().filter(|_| sql) else {
            continue;
        };
        let drafted = draft
            .data_types
            .values()
            .find(|d| d.table.as_ref() == Some(table));
        for (column, category) in &dt.columns {
            if *category == Category::Metadata {
                f.metadata += 1;
                let got = drafted.and_then(|d| d.columns.get(column));
                if got.is_some_and(|g| *g != Category::Metadata) {
                    f.over.push(format!("{table}.{column}: drafted {got:?}"));
                }
                continue;
            }
            f.personal += 1;
            let got = drafted.and_then(|d| d.columns.get(column));
            if got == Some(category) {
                f.matched += 1;
            } else {
                f.misses
                    .push(format!("{table}.{column}: {category:?}, drafted {got:?}"));
            }
        }
    }
    f
}

fn discover_seed(name: &str, dir: &Path) {
    let url = format!("sqlite:{}", dir.join(format!("{name}.db")).display());
    discover_seed_at(name, dir, &url);
}

fn discover_seed_at(name: &str, dir: &Path, url: &str) {
    let url = url.to_owned();
    let policy_path = repo_root().join(format!("policies/{name}.toml"));
    let (code, _, err) = run(privctl()
        .args(["sample", "--subjects", "30", "--db", &url, "--policy"])
        .arg(&policy_path)
        .current_dir(dir));
    assert_eq!(code, 0, "sample {name}: {err}");
    let draft_path = dir.join(format!("{name}.draft.toml"));
    let (code, stdout, stderr) = run(privctl()
        .args(["discover", "--db", &url, "-o"])
        .arg(&draft_path)
        .current_dir(dir));
    assert_eq!(code, 0, "discover {name}: {stderr}");
    let text = std::fs::read_to_string(&draft_path).expect("draft");
    // A draft has no retention yet, so `check` refuses it; it parses.
    let draft = privctl_policy::check_str(&text)
        .policy
        .expect("the draft parses as a policy");
    let seed = privctl_policy::load(&policy_path).expect("seed");

    let f = compare(&seed, &draft);
    eprintln!(
        "{name}: {} of {} personal-data columns in the seed's category ({:.0} %){}; {} of {} other columns drafted as personal {:?}",
        f.matched,
        f.personal,
        100.0 * f.matched as f64 / f.personal as f64,
        if f.misses.is_empty() { String::new() } else { format!("; missed {:?}", f.misses) },
        f.over.len(),
        f.metadata,
        f.over,
    );
    assert!(f.matched * 10 >= f.personal * 9, "{name}: {:?}", f.misses);

    // Every identifier and every foreign-key link of the subject map.
    for id in &seed.subject.identifiers {
        assert!(
            has_identifier(&draft, id),
            "{name}: identifier {} ({:?}) not found",
            id.column,
            id.kind
        );
    }
    for link in seed.subject.links.iter().filter(|l| l.references.is_some()) {
        assert!(
            has_link(&draft, link),
            "{name}: link {:?}.{:?} not found",
            link.table,
            link.column
        );
    }

    // No value the database holds is written or printed. (Short values,
    // such as a status or a small number, cannot be told from the draft's
    // own words; the names of tables and columns are the schema's.)
    let (values, names) = every_value(&url);
    assert!(values.len() > 500, "{name}: {} values", values.len());
    let all = format!("{text}\n{stdout}\n{stderr}");
    for v in values
        .iter()
        .filter(|v| v.len() >= 8 && !names.contains(*v))
    {
        assert!(
            !all.contains(v.as_str()),
            "{name}: a sampled value was written: {v:?}"
        );
    }
}

#[test]
fn drafts_of_the_seed_databases_classify_their_columns_and_find_their_people() {
    let dir = tempfile::tempdir().expect("dir");
    for name in ["cheapestinference", "inferencehub", "inferexai", "infrpool"] {
        discover_seed(name, dir.path());
    }
}

#[test]
fn with_a_policy_only_what_it_does_not_cover_is_drafted() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite:{}", dir.path().join("db.sqlite").display());
    let policy = repo_root().join("policies/inferexai.toml");
    let (code, _, err) = run(privctl()
        .args(["sample", "--subjects", "5", "--db", &url, "--policy"])
        .arg(&policy)
        .current_dir(dir.path()));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(privctl()
        .args(["discover", "--db", &url, "--policy"])
        .arg(&policy));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Nothing: every table and column is classified."),
        "{out}"
    );
    // Drift: a column and a table nobody classified.
    privctl_store::testing::runtime().block_on(async {
        let db = Db::open("main", &url, Open::Existing).await.expect("db");
        for sql in [
            "ALTER TABLE users ADD COLUMN phone TEXT",
            "UPDATE users SET phone = '+44 20 7946 0' || (100 + id)",
            "CREATE TABLE support_tickets (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id), body TEXT, created_at TIMESTAMP)",
        ] {
            sqlx::query(sql).execute(db.pool()).await.expect(sql);
        }
    });
    let (code, out, err) = run(privctl()
        .args(["discover", "--db", &url, "--policy"])
        .arg(&policy));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("# Add to [data_types.accounts.columns] (table users):"),
        "{out}"
    );
    assert!(out.contains("phone = \"contact\""), "{out}");
    assert!(out.contains("[data_types.support_tickets]"), "{out}");
    assert!(out.contains("body = \"prompt_content\""), "{out}");
    // The new table's way to the person comes with it.
    assert!(
        out.contains(
            "table = \"support_tickets\"\ncolumn = \"user_id\"\nreferences = \"users.id\""
        ),
        "{out}"
    );
    assert!(!out.contains("[data_types.payments]"), "{out}");
    assert!(!out.contains("7946"), "{out}");
}

#[test]
fn infercast_is_drafted_store_by_store_with_its_clickhouse_telemetry() {
    let rt = privctl_store::testing::runtime();
    let Some(ch) = rt.block_on(privctl_store::testing::fresh_clickhouse("discover")) else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite:{}", dir.path().join("accounts.db").display());
    let policy_path = repo_root().join("policies/infercast.toml");
    let (code, _, err) = run(privctl()
        .args(["sample", "--subjects", "30", "--db", &url, "--policy"])
        .arg(&policy_path)
        .env("INFERCAST_CLICKHOUSE_URL", &ch)
        .env("PRIVCTL_AUDIT_KEY_FILE", dir.path().join("audit.key"))
        .current_dir(dir.path()));
    assert_eq!(code, 0, "sample: {err}");
    let seed = privctl_policy::load(&policy_path).expect("seed");
    let mut all = String::new();
    let mut totals = (0, 0);
    for (store, db) in [("accounts", url.as_str()), ("telemetry", ch.as_str())] {
        let (code, text, err) = run(privctl().args(["discover", "--store", store, "--db", db]));
        assert_eq!(code, 0, "discover {store}: {err}");
        let draft = privctl_policy::check_str(&text)
            .policy
            .expect("the draft parses");
        let f = compare_store(&seed, &draft, Some(store));
        eprintln!(
            "infercast {store}: {} of {} personal-data columns in the seed's category; missed {:?}; {} of {} other columns drafted as personal {:?}",
            f.matched, f.personal, f.misses, f.over.len(), f.metadata, f.over
        );
        totals.0 += f.matched;
        totals.1 += f.personal;
        // Every link of this store: foreign keys in the accounts store,
        // the user id in the telemetry store.
        for link in seed.subject.links.iter().filter(|l| l.store == store) {
            assert!(
                has_link(&draft, link),
                "{store}: link {:?}.{:?} not found",
                link.table,
                link.column
            );
        }
        if store == "accounts" {
            for id in &seed.subject.identifiers {
                assert!(
                    has_identifier(&draft, id),
                    "identifier {:?} not found",
                    id.column
                );
            }
        }
        all.push_str(&text);
        all.push_str(&err);
    }
    assert!(totals.0 * 10 >= totals.1 * 9, "{totals:?}");
    // No value of the telemetry (prompts included) is printed.
    let values: Vec<String> = rt.block_on(async {
        let c = privctl_store::clickhouse::ClickHouse::open("t", &ch)
            .await
            .expect("open");
        let mut out = Vec::new();
        for t in c.tables().await.expect("tables") {
            let name = privctl_policy::SqlIdent::new(&t.name).expect("name");
            let cols: Vec<privctl_policy::SqlIdent> = t
                .columns
                .iter()
                .map(|x| privctl_policy::SqlIdent::new(&x.name).expect("name"))
                .collect();
            for row in c.sample_text(&name, &cols, 1_000_000).await.expect("rows") {
                out.extend(row.into_iter().flatten());
            }
        }
        out
    });
    assert!(values.len() > 100);
    for v in values.iter().filter(|v| v.len() >= 8) {
        assert!(
            !all.contains(v.as_str()),
            "a telemetry value was printed: {v:?}"
        );
    }
}

#[test]
fn a_postgresql_database_is_drafted_as_sqlite_is() {
    let rt = privctl_store::testing::runtime();
    let Some(pg) = rt.block_on(privctl_store::testing::fresh_postgres("discover")) else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    discover_seed_at("inferexai", dir.path(), &pg.url);
}

#[test]
fn a_table_whose_values_are_not_text_is_drafted_from_its_names() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite:{}", dir.path().join("db.sqlite").display());
    privctl_store::testing::runtime().block_on(async {
        let db = Db::open("main", &url, Open::Create).await.expect("db");
        for sql in [
            "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, created_at TIMESTAMP)",
            "INSERT INTO users VALUES (1, 'ana@example.com', '2026-01-01 00:00:00')",
            "CREATE TABLE avatars (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id), image BLOB)",
            "INSERT INTO avatars VALUES (1, 1, X'FF00FE')",
        ] {
            sqlx::query(sql).execute(db.pool()).await.expect(sql);
        }
    });
    let (code, out, err) = run(privctl().args(["discover", "--db", &url]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("# Its values could not be read as text"),
        "{out}"
    );
    assert!(out.contains("[data_types.avatars]"), "{out}");
    assert!(out.contains("user_id = \"identifier\""), "{out}");
    assert!(out.contains("email = \"contact\""), "{out}");
}
