//! Exports of a sample subject of every seed, on SQLite and PostgreSQL: the archive holds
//! exactly the rows (and files) that are theirs, found here apart from the
//! exporter by following every link in Rust; the manifest's checksums hold;
//! a changed, added or removed entry and a changed, expired or misdirected
//! token are refused.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Cursor, Read, Write};

use chrono::{DateTime, Duration, Utc};
use privctl_dsar::{export, resolve, token, verify_token, verify_zip, ExportOptions};
use privctl_policy::model::{Category, Policy, StoreKind};
use privctl_retention::sample::{sample, SampleOptions};
use privctl_retention::Session;
use privctl_store::testing::{fresh_databases, runtime};
use privctl_store::{Db, Open, Row};

type Record = BTreeMap<String, Option<String>>;

fn as_of() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T00:00:00Z")
        .expect("instant")
        .with_timezone(&Utc)
}

async fn all_rows(db: &Db, table: &str) -> Vec<Record> {
    let schema = db.schema().await.expect("schema");
    let t = &schema.tables[table];
    let cols: Vec<String> = t
        .columns
        .iter()
        .map(|c| format!("CAST(\"{}\" AS TEXT)", c.name))
        .collect();
    // Names from the live schema of a database this test made.
    let sql = format!("SELECT {} FROM \"{table}\"", cols.join(", "));
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(db.pool())
        .await
        .expect("rows")
        .iter()
        .map(|r| {
            t.columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    (
                        c.name.clone(),
                        r.try_get::<Option<String>, _>(i).expect("text"),
                    )
                })
                .collect()
        })
        .collect()
}

/// Whether a row of `table` is about `key`, following every link.
fn about(
    policy: &Policy,
    tables: &BTreeMap<String, Vec<Record>>,
    table: &str,
    row: &Record,
    key: &str,
    depth: usize,
) -> bool {
    let home = policy.subject_home().expect("home");
    if home.table.as_str() == table {
        return row[home.column.as_str()].as_deref() == Some(key);
    }
    policy.subject.links.iter().any(|l| {
        let (Some(t), Some(c), Some(r)) = (&l.table, &l.column, &l.references) else {
            return false;
        };
        if t.as_str() != table || depth > 8 {
            return false;
        }
        let Some(v) = row.get(c.as_str()).and_then(|v| v.as_deref()) else {
            return false;
        };
        tables[r.table.as_str()].iter().any(|p| {
            p.get(r.column.as_str()).and_then(|x| x.as_deref()) == Some(v)
                && about(policy, tables, r.table.as_str(), p, key, depth + 1)
        })
    })
}

fn entry(zip: &[u8], name: &str) -> Vec<u8> {
    let mut a = zip::ZipArchive::new(Cursor::new(zip)).expect("zip");
    let mut f = a.by_name(name).expect(name);
    let mut out = Vec::new();
    f.read_to_end(&mut out).expect("read");
    out
}

/// The archive rewritten with `name` changed by `edit` (or left out).
fn rewrite(zip: &[u8], name: &str, edit: Option<&dyn Fn(Vec<u8>) -> Vec<u8>>) -> Vec<u8> {
    let mut a = zip::ZipArchive::new(Cursor::new(zip)).expect("zip");
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..a.len() {
        let mut f = a.by_index(i).expect("entry");
        let n = f.name().to_owned();
        let mut body = Vec::new();
        f.read_to_end(&mut body).expect("read");
        if n == name {
            match edit {
                None => continue,
                Some(e) => body = e(body),
            }
        }
        w.start_file(n, zip::write::SimpleFileOptions::default())
            .expect("start");
        w.write_all(&body).expect("write");
    }
    w.finish().expect("finish").into_inner()
}

async fn check(seed: &str, db: &privctl_store::testing::TestDb) {
    let path = format!("{}/../../policies/{seed}.toml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).expect("policy");
    let mut policy = privctl_policy::check_str(&text).policy.expect("policy");
    let root = tempfile::tempdir().expect("root");
    for s in policy.stores.values_mut() {
        if s.kind == StoreKind::Files {
            s.path = Some(
                root.path()
                    .join(s.path.as_deref().unwrap_or("."))
                    .display()
                    .to_string(),
            );
        }
    }
    let s = Session::open(policy.clone(), &text, Some(&db.url), Open::Create)
        .await
        .expect("open");
    let options = SampleOptions {
        subjects: 30,
        seed: 4,
        as_of: as_of(),
    };
    sample(&s, &options).await.expect("sample");
    let home = s.home_db().expect("home");

    // Subject 5, by email; someone who does not exist; an unknown kind.
    let subject = resolve(&policy, &s.dbs, "email=user5@example.com")
        .await
        .expect("resolve");
    assert_eq!(subject.key, "5");
    let err = resolve(&policy, &s.dbs, "email=nobody@example.com")
        .await
        .expect_err("nobody");
    assert!(err.to_string().contains("no subject has email"), "{err}");
    let err = resolve(&policy, &s.dbs, "phone=123")
        .await
        .expect_err("unknown");
    assert!(
        err.to_string().contains("not an identifier of the policy"),
        "{err}"
    );

    let opts = ExportOptions {
        request: Some("test".to_owned()),
        now: as_of(),
    };
    let (manifest, out) = export(
        &policy,
        &s.digest,
        &s.dbs,
        &s.clickhouse,
        &s.roots,
        &subject,
        &opts,
        Cursor::new(Vec::new()),
    )
    .await
    .expect("export");
    let zip = out.into_inner();
    assert_eq!(verify_zip(Cursor::new(&zip)).expect("verify"), manifest);

    // Row by row, against the database read here.
    let schema = home.schema().await.expect("schema");
    let mut tables = BTreeMap::new();
    for t in schema.tables.keys().filter(|t| !t.starts_with("privctl_")) {
        tables.insert(t.clone(), all_rows(home, t).await);
    }
    let spec = policy.export.as_ref().expect("export");
    let mut rows_seen = 0;
    for name in &spec.data_types {
        let dt = &policy.data_types[name];
        let Some(table) = &dt.table else { continue };
        if manifest
            .not_included
            .iter()
            .any(|n| n.starts_with(&format!("{name}:")))
        {
            // Only a store this release cannot open may be left out.
            assert_eq!(
                policy.stores[&dt.store].kind,
                StoreKind::Clickhouse,
                "{seed}: {name} left out"
            );
            continue;
        }
        let want: BTreeSet<Vec<(String, Option<String>)>> = tables[table.as_str()]
            .iter()
            .filter(|r| about(&policy, &tables, table.as_str(), r, "5", 0))
            .map(|r| {
                dt.columns
                    .iter()
                    .map(|(c, cat)| {
                        let v = r[c.as_str()].clone();
                        let v = if *cat == Category::Kyc && spec.mask_vaulted {
                            v.map(|_| "[vaulted]".to_owned())
                        } else {
                            v
                        };
                        (c.to_string(), v)
                    })
                    .collect()
            })
            .collect();
        let got: Vec<serde_json::Map<String, serde_json::Value>> =
            serde_json::from_slice(&entry(&zip, &format!("{name}.json"))).expect("json");
        let got: BTreeSet<Vec<(String, Option<String>)>> = got
            .iter()
            .map(|o| {
                dt.columns
                    .keys()
                    .map(|c| (c.to_string(), o[c.as_str()].as_str().map(str::to_owned)))
                    .collect()
            })
            .collect();
        assert_eq!(got, want, "{seed} on {:?}: {name}", db.dialect);
        rows_seen += got.len();
    }
    assert!(rows_seen > 10, "{seed}: only {rows_seen} rows exported");
    // Files kept per person: exactly theirs.
    for name in &spec.data_types {
        let dt = &policy.data_types[name];
        if dt.table.is_some() {
            continue;
        }
        let root = &s.roots[&dt.store];
        let dir = root.join(dt.path.as_deref().unwrap_or(".")).join("5");
        let mut want: BTreeSet<String> = BTreeSet::new();
        if let Ok(list) = std::fs::read_dir(&dir) {
            for e in list {
                want.insert(format!(
                    "{name}/{}",
                    e.expect("e").file_name().to_string_lossy()
                ));
            }
        }
        let got: BTreeSet<String> = manifest
            .entries
            .iter()
            .filter(|e| e.name.starts_with(&format!("{name}/")))
            .map(|e| e.name.clone())
            .collect();
        assert_eq!(got, want, "{seed}: files of {name}");
    }

    // Tampering with the archive.
    let first = manifest.entries[0].name.clone();
    let changed = rewrite(
        &zip,
        &first,
        Some(&|mut b: Vec<u8>| {
            b.push(b' ');
            b
        }),
    );
    let err = verify_zip(Cursor::new(&changed)).expect_err("changed");
    assert!(err.to_string().contains("it was changed"), "{err}");
    let added = {
        let mut a = zip::ZipArchive::new(Cursor::new(&zip)).expect("zip");
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for i in 0..a.len() {
            w.raw_copy_file(a.by_index(i).expect("entry"))
                .expect("copy");
        }
        w.start_file("extra.json", zip::write::SimpleFileOptions::default())
            .expect("start");
        w.write_all(b"[]").expect("write");
        w.finish().expect("finish").into_inner()
    };
    let err = verify_zip(Cursor::new(&added)).expect_err("added");
    assert!(err.to_string().contains("it was added"), "{err}");
    let removed = rewrite(&zip, &first, None);
    let err = verify_zip(Cursor::new(&removed)).expect_err("removed");
    assert!(err.to_string().contains("it was removed"), "{err}");

    // Tokens.
    let dir = tempfile::tempdir().expect("keys");
    let (signer, _) = privctl_audit::Signer::load_or_create(&dir.path().join("k")).expect("key");
    let sha = {
        let d = ring::digest::digest(&ring::digest::SHA256, &zip);
        d.as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let t = token(&signer, &sha, as_of() + Duration::hours(24)).expect("token");
    verify_token(&signer.public(), &t, &sha, as_of()).expect("valid");
    let err = verify_token(&signer.public(), &t, &sha, as_of() + Duration::hours(25))
        .expect_err("expired");
    assert!(err.to_string().contains("expired"), "{err}");
    let err = verify_token(&signer.public(), &t, &"0".repeat(64), as_of()).expect_err("other");
    assert!(err.to_string().contains("another archive"), "{err}");
    let forged = t.replacen("pdt1.7b", "pdt1.7c", 1);
    assert_ne!(forged, t);
    assert!(verify_token(&signer.public(), &forged, &sha, as_of()).is_err());
}

#[test]
fn exports_hold_exactly_the_subjects_data() {
    let rt = runtime();
    for seed in [
        "cheapestinference",
        "infercast",
        "inferencehub",
        "inferexai",
        "infrpool",
    ] {
        for db in rt.block_on(fresh_databases(&format!("export_{seed}"))) {
            rt.block_on(check(seed, &db));
        }
    }
}
