//! Erasure of a sample subject of every seed, on SQLite and PostgreSQL,
//! checked row by row against what the policy says, worked out here apart
//! from the eraser: rows of anyone else are byte-for-byte unchanged; the
//! person's rows are deleted, anonymised by the policy's methods, or kept
//! where a legal floor that overrides erasure has not ended or a kept row
//! still refers to them. Also: nothing is touched during the grace period
//! or after a cancellation; a held person is not touched; a second run
//! changes nothing; the receipt verifies and an edited one does not; the
//! audit log stays intact.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use privctl_dsar::erase::{run, RunOptions, State};
use privctl_dsar::requests::{cancel, request_erasure};
use privctl_dsar::{receipt, resolve};
use privctl_policy::model::{
    Anchor, AnonymiseMethod, ErasureAction, Policy, RequestKind, StoreKind,
};
use privctl_retention::sample::{sample, SampleOptions};
use privctl_retention::Session;
use privctl_store::testing::{fresh_databases, runtime, TestDb};
use privctl_store::{Db, Open, Row};
use privctl_vault::{KeyFile, Store, Vault};

type Record = BTreeMap<String, Option<String>>;
/// Rows by table, each by its primary key's text.
type Snapshot = BTreeMap<String, BTreeMap<String, Record>>;

fn as_of() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T00:00:00Z")
        .expect("instant")
        .with_timezone(&Utc)
}

async fn snapshot(db: &Db) -> Snapshot {
    let schema = db.schema().await.expect("schema");
    let mut out = Snapshot::new();
    for (name, t) in schema
        .tables
        .iter()
        .filter(|(n, _)| !n.starts_with("privctl_"))
    {
        let cols: Vec<String> = t
            .columns
            .iter()
            .map(|c| format!("CAST(\"{}\" AS TEXT)", c.name))
            .collect();
        // Names from the live schema of a database this test made.
        let sql = format!("SELECT {} FROM \"{name}\"", cols.join(", "));
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(db.pool())
            .await
            .expect("rows");
        let mut table = BTreeMap::new();
        for r in rows {
            let rec: Record = t
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    (
                        c.name.clone(),
                        r.try_get::<Option<String>, _>(i).expect("text"),
                    )
                })
                .collect();
            let key = t
                .primary_key
                .iter()
                .map(|k| rec[k].clone().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("|");
            table.insert(key, rec);
        }
        out.insert(name.clone(), table);
    }
    out
}

/// Every file under `dir`, relative, with its contents.
fn files(dir: &std::path::Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(list) = std::fs::read_dir(dir) else {
            return;
        };
        for e in list.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).expect("under").display().to_string();
                out.insert(rel, std::fs::read(&p).expect("read"));
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

/// Whether a row of `table` is about `key`, following every link.
fn about(
    policy: &Policy,
    snap: &Snapshot,
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
        snap[r.table.as_str()].values().any(|p| {
            p.get(r.column.as_str()).and_then(|x| x.as_deref()) == Some(v)
                && about(policy, snap, r.table.as_str(), p, key, depth + 1)
        })
    })
}

/// Every subject key a row is about.
fn subjects_of(policy: &Policy, snap: &Snapshot, table: &str, row: &Record) -> BTreeSet<String> {
    let home = policy.subject_home().expect("home");
    snap[home.table.as_str()]
        .values()
        .filter_map(|u| u[home.column.as_str()].clone())
        .filter(|k| about(policy, snap, table, row, k, 0))
        .collect()
}

/// A time as SQLite or PostgreSQL prints it.
fn time(text: &str) -> DateTime<Utc> {
    let t = text.trim();
    if let Ok(n) = t.parse::<i64>() {
        return DateTime::from_timestamp(n, 0).expect("secs");
    }
    let t = t.replace('T', " ");
    let t = t.trim_end_matches('Z');
    let (t, offset) = match t.rfind(['+', '-']).filter(|i| *i > 10) {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, "+00"),
    };
    assert!(offset == "+00" || offset == "+00:00", "offset {offset}");
    chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight"))
        })
        .expect("time")
        .and_utc()
}

fn load(seed: &str) -> (Policy, String) {
    let path = format!("{}/../../policies/{seed}.toml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).expect("policy");
    (
        privctl_policy::check_str(&text).policy.expect("policy"),
        text,
    )
}

/// What the erasure of `key` at `at` must leave, row by row, worked out
/// from the policy and the rows before. `closed_at` is when the account is
/// recorded as closed after the erasure began.
fn expected(
    policy: &Policy,
    schema: &privctl_store::Schema,
    before: &Snapshot,
    key: &str,
    at: DateTime<Utc>,
) -> BTreeMap<String, BTreeMap<String, Fate>> {
    let home = policy.subject_home().expect("home");
    let closed_col = policy.subject.events.account_closed.as_ref();
    let closed_at = closed_col.and_then(|c| {
        before[c.table.as_str()]
            .values()
            .find(|u| u[home.column.as_str()].as_deref() == Some(key))
            .map(|u| u[c.column.as_str()].as_deref().map(time).unwrap_or(at))
    });
    let mut fates: BTreeMap<String, BTreeMap<String, Fate>> = BTreeMap::new();
    for (name, dt) in &policy.data_types {
        let Some(table) = &dt.table else { continue };
        let Some(rows) = before.get(table.as_str()) else {
            continue;
        };
        for (pk, row) in rows {
            let mine = about(policy, before, table.as_str(), row, key, 0);
            let fate = match (&dt.erasure, mine) {
                (_, false) | (None, true) => Fate::Same,
                (Some(rule), true) => match rule.action {
                    ErasureAction::Anonymise | ErasureAction::Pseudonymise => {
                        Fate::Anonymised(name.clone())
                    }
                    _ => {
                        let floor_holds = policy.legal_floors.values().any(|f| {
                            if !f.applies_to.contains(name)
                                || !f.overrides.contains(&RequestKind::Erasure)
                            {
                                return false;
                            }
                            let anchor = match f.from {
                                Anchor::Created => row[dt.timestamp.as_ref().expect("ts").as_str()]
                                    .as_deref()
                                    .map(time),
                                Anchor::FinancialYearEnd => row
                                    [dt.timestamp.as_ref().expect("ts").as_str()]
                                .as_deref()
                                .map(|t| {
                                    let fy = policy.organisation.financial_year.expect("year");
                                    privctl_store::testing::financial_year_end(&fy, time(t))
                                }),
                                Anchor::AccountClosed => closed_at,
                                other => panic!("no floor here counts from {other:?}"),
                            };
                            match (anchor, f.period.end_from(anchor.unwrap_or(at))) {
                                (None, _) | (_, None) => true,
                                (Some(_), Some(end)) => end > at,
                            }
                        });
                        if floor_holds {
                            Fate::KeptByFloor
                        } else {
                            Fate::Deleted
                        }
                    }
                },
            };
            fates
                .entry(table.to_string())
                .or_default()
                .insert(pk.clone(), fate);
        }
    }
    // A row still referred to by a row that stays, stays (children go
    // first); to a fixed point, as a kept row keeps its own parents.
    loop {
        let mut changed = false;
        let staying: Vec<(String, Record, Fate)> = fates
            .iter()
            .flat_map(|(t, rows)| {
                rows.iter()
                    .filter(|(_, f)| **f != Fate::Deleted)
                    .map(move |(pk, f)| (t.clone(), before[t][pk].clone(), f.clone()))
            })
            .collect();
        for (child_table, child, fate) in &staying {
            // An anonymised reference no longer refers to anyone.
            let replaced = |c: &str| match fate {
                Fate::Anonymised(name) => policy.data_types[name]
                    .erasure
                    .as_ref()
                    .is_some_and(|e| e.anonymise.keys().any(|k| k.as_str() == c)),
                _ => false,
            };
            for fk in &schema.tables[child_table].foreign_keys {
                if fk.columns.iter().any(|c| replaced(c)) {
                    continue;
                }
                let parent = &fk.references_table;
                let cols = if fk.references_columns.is_empty() {
                    schema.tables[parent].primary_key.clone()
                } else {
                    fk.references_columns.clone()
                };
                let Some(parents) = fates.get_mut(parent) else {
                    continue;
                };
                for (pk, f) in parents.iter_mut().filter(|(_, f)| **f == Fate::Deleted) {
                    let p = &before[parent][pk];
                    let refers = fk
                        .columns
                        .iter()
                        .zip(&cols)
                        .all(|(c, pc)| child[c].is_some() && child[c] == p[pc]);
                    if refers {
                        *f = Fate::KeptReferenced;
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
    fates
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Fate {
    Same,
    Deleted,
    Anonymised(String),
    KeptByFloor,
    KeptReferenced,
}

struct Setup {
    policy: Policy,
    session: Session,
    vault: Arc<Vault>,
    signer: privctl_audit::Signer,
    _dirs: Vec<tempfile::TempDir>,
}

async fn setup(seed: &str, db: &TestDb) -> Setup {
    setup_with(load(seed), db).await
}

async fn setup_with((mut policy, text): (Policy, String), db: &TestDb) -> Setup {
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
    let session = Session::open(policy.clone(), &text, Some(&db.url), Open::Create)
        .await
        .expect("open");
    sample(
        &session,
        &SampleOptions {
            subjects: 30,
            seed: 4,
            as_of: as_of(),
        },
    )
    .await
    .expect("sample");
    let keys = tempfile::tempdir().expect("keys");
    let url = format!("sqlite:{}", keys.path().join("vault.db").display());
    let vault = Vault::init(
        Store::create(&url).await.expect("vault store"),
        &KeyFile::new(keys.path().join("vault.keys")),
    )
    .await
    .expect("vault");
    let (signer, _) =
        privctl_audit::Signer::load_or_create(&keys.path().join("audit.key")).expect("audit key");
    Setup {
        policy,
        session,
        vault: Arc::new(vault),
        signer,
        _dirs: vec![root, keys],
    }
}

fn regime(policy: &Policy) -> &'static str {
    let r = &policy.regimes;
    if r.gdpr.is_some() {
        "gdpr"
    } else if r.ccpa.is_some() {
        "ccpa"
    } else {
        "dpdp"
    }
}

/// The subject (not held, not already erased) with rows in the most tables
/// and none shared with a held subject.
fn pick(policy: &Policy, before: &Snapshot, avoid: &[&str]) -> String {
    let home = policy.subject_home().expect("home");
    let held = "7";
    let mut best: Option<(usize, String)> = None;
    for u in before[home.table.as_str()].values() {
        let Some(key) = u[home.column.as_str()].clone() else {
            continue;
        };
        if key == held || avoid.contains(&key.as_str()) {
            continue;
        }
        if policy.data_types.values().any(|d| {
            d.table.as_ref() == Some(&home.table)
                && d.anonymised_at
                    .as_ref()
                    .is_some_and(|a| u[a.as_str()].is_some())
        }) {
            continue;
        }
        let mut tables = 0;
        let mut shared = false;
        for (t, rows) in before {
            let mut any = false;
            for r in rows.values() {
                if about(policy, before, t, r, &key, 0) {
                    any = true;
                    if subjects_of(policy, before, t, r).contains(held) {
                        shared = true;
                    }
                }
            }
            tables += usize::from(any);
        }
        if !shared && best.as_ref().is_none_or(|(n, _)| tables > *n) {
            best = Some((tables, key));
        }
    }
    best.expect("a subject").1
}

fn options(now: DateTime<Utc>, request: i64, vault: &Arc<Vault>) -> RunOptions {
    RunOptions {
        now,
        receipts: None,
        dry_run: false,
        request: Some(request),
        vault: Some(vault.clone()),
        vault_error: None,
    }
}

async fn check(seed: &str, db: &TestDb) {
    let su = setup(seed, db).await;
    let (policy, s) = (&su.policy, &su.session);
    let home_db = s.home_db().expect("home");
    let schema = home_db.schema().await.expect("schema");
    let images: Vec<std::path::PathBuf> = s.roots.values().cloned().collect();
    let before = snapshot(home_db).await;
    let files_before: Vec<_> = images.iter().map(|d| files(d)).collect();
    let key = pick(policy, &before, &[]);
    let home = policy.subject_home().expect("home");
    let subject = resolve(policy, &s.dbs, &format!("{}={key}", home.name))
        .await
        .expect("resolve");
    let at = as_of();
    let r = request_erasure(policy, home_db, &subject, regime(policy), at, Some("test"))
        .await
        .expect("request");

    // A second person asks and cancels within the grace period, where the
    // policy lets them; elsewhere cancelling is refused.
    let other = pick(policy, &before, &[&key]);
    let other_subject = resolve(policy, &s.dbs, &format!("{}={other}", home.name))
        .await
        .expect("resolve other");
    let r2 = request_erasure(policy, home_db, &other_subject, regime(policy), at, None)
        .await
        .expect("request other");
    let cancelled = cancel(policy, home_db, r2.id, at + Duration::hours(1)).await;
    assert_eq!(
        cancelled.is_ok(),
        policy.erasure.cancellable && policy.erasure.grace_period.is_some(),
        "{seed}: cancel {cancelled:?}"
    );

    // During the grace period nothing is touched.
    if let Some(g) = r.grace_until {
        let out = run(
            s,
            &su.signer,
            &options(g - Duration::seconds(1), r.id, &su.vault),
        )
        .await
        .expect("run in grace");
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].state, State::Waiting, "{seed}");
        assert_eq!(
            snapshot(home_db).await,
            before,
            "{seed}: touched in the grace period"
        );
    }

    // The held person is not touched.
    let held = resolve(policy, &s.dbs, &format!("{}=7", home.name))
        .await
        .expect("held");
    let rh = request_erasure(policy, home_db, &held, regime(policy), at, None)
        .await
        .expect("request held");
    let when = r.grace_until.unwrap_or(at) + Duration::days(1);
    let out = run(s, &su.signer, &options(when, rh.id, &su.vault))
        .await
        .expect("run held");
    assert_eq!(out[0].state, State::Held, "{seed}");
    assert!(out[0]
        .reason
        .as_deref()
        .unwrap_or_default()
        .contains("legal hold"));
    assert_eq!(
        snapshot(home_db).await,
        before,
        "{seed}: a held person was touched"
    );

    // The erasure.
    let out = run(s, &su.signer, &options(when, r.id, &su.vault))
        .await
        .expect("run");
    assert_eq!(out.len(), 1);
    let clickhouse = policy
        .stores
        .values()
        .any(|st| st.kind == StoreKind::Clickhouse);
    if clickhouse {
        // Not complete until the telemetry store can be acted on.
        assert_eq!(out[0].state, State::Incomplete, "{seed}");
        assert!(out[0]
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("ClickHouse"));
    } else {
        assert_eq!(
            out[0].state,
            State::Completed,
            "{seed}: {:?}",
            out[0].reason
        );
    }
    let after = snapshot(home_db).await;
    let fates = expected(policy, &schema, &before, &key, when);
    let pseudonym = su
        .vault
        .pseudonym(
            "erasure",
            &key,
            u64::try_from(at.timestamp()).expect("secs"),
        )
        .await
        .expect("pseudonym")
        .1;
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (table, rows) in &before {
        for (pk, row) in rows {
            let fate = fates
                .get(table)
                .and_then(|f| f.get(pk))
                .cloned()
                .unwrap_or(Fate::Same);
            let now = after.get(table).and_then(|t| t.get(pk));
            let what = format!("{seed} on {:?}: {table} row {pk} ({fate:?})", db.dialect);
            *seen.entry(format!("{fate:?}")).or_default() += 1;
            match &fate {
                Fate::Same | Fate::KeptByFloor => {
                    let now = now.unwrap_or_else(|| panic!("{what} is gone"));
                    // Kept as it was; the person's own row may have been
                    // recorded as closed.
                    let closed = policy.subject.events.account_closed.as_ref().filter(|e| {
                        e.table.as_str() == table
                            && row[home.column.as_str()].as_deref() == Some(key.as_str())
                    });
                    for (c, v) in row {
                        if closed.is_some_and(|e| e.column.as_str() == c) {
                            let want = v.as_deref().map(time).unwrap_or(when);
                            assert_eq!(now[c].as_deref().map(time), Some(want), "{what}: {c}");
                        } else {
                            assert_eq!(&now[c], v, "{what}: {c} changed");
                        }
                    }
                }
                Fate::Deleted => assert!(now.is_none(), "{what} is still there"),
                Fate::KeptReferenced => {
                    let now = now.unwrap_or_else(|| panic!("{what} is gone"));
                    if table == home.table.as_str() {
                        // The account row stays; who it was does not.
                        for id in policy
                            .subject
                            .identifiers
                            .iter()
                            .filter(|i| i.table == home.table && i.column != home.column)
                        {
                            let c = id.column.as_str();
                            assert!(now[c].is_none() || now[c] != row[c], "{what}: {c} kept");
                        }
                    } else {
                        assert_eq!(now, row, "{what} changed");
                    }
                }
                Fate::Anonymised(name) => {
                    let now = now.unwrap_or_else(|| panic!("{what} is gone"));
                    let dt = &policy.data_types[name];
                    let rule = dt.erasure.as_ref().expect("rule");
                    for (c, v) in row {
                        let got = &now[c];
                        match rule.anonymise.iter().find(|(k, _)| k.as_str() == c) {
                            Some((_, AnonymiseMethod::Null)) => {
                                assert_eq!(got, &None, "{what}: {c}")
                            }
                            Some((_, AnonymiseMethod::Placeholder)) => {
                                assert_eq!(got.as_deref(), Some("[REDACTED]"), "{what}: {c}")
                            }
                            Some((_, AnonymiseMethod::Random)) => {
                                let g = got.as_deref().unwrap_or_default();
                                assert!(
                                    g.len() == 32 && Some(g) != v.as_deref(),
                                    "{what}: {c} = {g}"
                                );
                            }
                            Some((_, AnonymiseMethod::Pseudonym)) => {
                                let g = got.as_deref().unwrap_or_default();
                                let head = i64::from_str_radix(&pseudonym[..15], 16).expect("hex");
                                assert!(
                                    g == pseudonym || g == (-head - 1).to_string(),
                                    "{what}: {c} = {g}"
                                );
                            }
                            None if dt.anonymised_at.as_ref().is_some_and(|a| a.as_str() == c) => {
                                assert_eq!(got.as_deref().map(time), Some(when), "{what}: {c}")
                            }
                            None if policy.subject.events.account_closed.as_ref().is_some_and(
                                |e| e.table.as_str() == table && e.column.as_str() == c,
                            ) =>
                            {
                                let want = v.as_deref().map(time).unwrap_or(when);
                                assert_eq!(got.as_deref().map(time), Some(want), "{what}: {c}");
                            }
                            None => assert_eq!(got, v, "{what}: {c} changed"),
                        }
                    }
                }
            }
        }
    }
    assert!(
        seen.get("Deleted").copied().unwrap_or(0) > 0,
        "{seed}: nothing to delete ({seen:?})"
    );
    // Every kind of outcome the policy can lead to was met.
    let count = |prefix: &str| {
        seen.iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, n)| *n)
            .sum::<usize>()
    };
    let anonymises = policy.data_types.values().any(|d| {
        d.erasure
            .as_ref()
            .is_some_and(|e| e.action.replaces_columns())
    });
    assert_eq!(count("Anonymised") > 0, anonymises, "{seed}: {seen:?}");
    let floors_keep = policy.data_types.iter().any(|(n, d)| {
        d.erasure
            .as_ref()
            .is_some_and(|e| !e.action.replaces_columns())
            && policy
                .legal_floors
                .values()
                .any(|f| f.applies_to.contains(n) && f.overrides.contains(&RequestKind::Erasure))
    });
    assert_eq!(count("KeptByFloor") > 0, floors_keep, "{seed}: {seen:?}");
    // The person's files went; everyone else's stayed.
    for (dir, was) in images.iter().zip(&files_before) {
        let now = files(dir);
        for (f, body) in was {
            let theirs = f.split('/').any(|p| p == key);
            let has_per_person = policy.subject.links.iter().any(|l| {
                l.path
                    .as_deref()
                    .is_some_and(|p| p.starts_with("{user_id}"))
            });
            if theirs && has_per_person {
                assert!(!now.contains_key(f), "{seed}: file {f} is still there");
            } else {
                assert_eq!(now.get(f), Some(body), "{seed}: file {f}");
            }
        }
    }

    if !clickhouse {
        // The receipt says what happened, verifies, and an edit is refused.
        let signed = out[0].receipt.clone().expect("receipt");
        let text = serde_json::to_string_pretty(&signed).expect("json");
        receipt::verify(&text, &su.signer.public()).expect("valid receipt");
        let deleted: u64 = signed.receipt.data_types.iter().map(|l| l.deleted).sum();
        let gone = fates
            .values()
            .flat_map(|f| f.values())
            .filter(|f| **f == Fate::Deleted)
            .count() as u64;
        let file_count: u64 = signed
            .receipt
            .data_types
            .iter()
            .filter(|l| policy.data_types[&l.data_type].table.is_none())
            .map(|l| l.deleted)
            .sum();
        assert_eq!(
            deleted - file_count,
            gone,
            "{seed}: receipt's deleted count"
        );
        let kept: u64 = signed.receipt.data_types.iter().map(|l| l.kept).sum();
        let want_kept = fates
            .values()
            .flat_map(|f| f.values())
            .filter(|f| matches!(f, Fate::KeptByFloor | Fate::KeptReferenced))
            .count() as u64;
        assert_eq!(kept, want_kept, "{seed}: receipt's kept count");
        let edited = text.replacen("\"deleted\": ", "\"deleted\": 1", 1);
        let err = receipt::verify(&edited, &su.signer.public()).expect_err("edited");
        assert!(err.to_string().contains("changed"), "{err}");

        // Run again: the request is closed, and nothing changes.
        let err = run(
            s,
            &su.signer,
            &options(when + Duration::days(1), r.id, &su.vault),
        )
        .await
        .expect_err("completed");
        assert!(err.to_string().contains("no open erasure request"), "{err}");
        let dry = RunOptions {
            request: None,
            dry_run: true,
            ..options(when + Duration::days(1), r.id, &su.vault)
        };
        let again = run(s, &su.signer, &dry).await.expect("dry run");
        assert!(
            again.iter().all(|o| o.request.id != r.id),
            "{seed}: request still open"
        );
        assert_eq!(
            snapshot(home_db).await,
            after,
            "{seed}: a dry run changed something"
        );
    }
    let v = privctl_audit::verify(home_db, None).await.expect("verify");
    assert!(v.problem.is_none(), "{seed}: {:?}", v.problem);
}

#[test]
fn erasure_leaves_exactly_what_the_policy_says() {
    let rt = runtime();
    for seed in [
        "cheapestinference",
        "infercast",
        "inferencehub",
        "inferexai",
        "infrpool",
    ] {
        for db in rt.block_on(fresh_databases(&format!("erase_{seed}"))) {
            rt.block_on(check(seed, &db));
        }
    }
}

/// InfrPool with per-request metadata anonymised on erasure, both the
/// consumer's and the supplier's reference pseudonymised: in a request
/// between the erased person and someone else, only the erased person's
/// reference is replaced. With only one of the two in the rule, the other
/// would keep naming them: refused, the request left open saying why.
#[test]
fn in_a_row_about_two_people_only_the_erased_ones_reference_is_replaced() {
    let rt = runtime();
    let base = load("infrpool").1;
    let both = base.replace(
        "[data_types.request_metadata]\ndescription = \"Per request: task, model, tokens, latency, cost and earning, supply type, status\"\nstore = \"main\"\ntable = \"inference_requests\"\ntimestamp = \"created_at\"\ncategories = [\"telemetry\"]\nerasure = { action = \"delete\" }",
        "[data_types.request_metadata]\ndescription = \"Per request: task, model, tokens, latency, cost and earning, supply type, status\"\nstore = \"main\"\ntable = \"inference_requests\"\ntimestamp = \"created_at\"\ncategories = [\"telemetry\"]\nerasure = { action = \"pseudonymise\", anonymise = { consumer_id = \"pseudonym\", supplier_id = \"pseudonym\" } }",
    );
    assert_ne!(both, base, "the policy edit did not apply");
    let one = both.replace(", supplier_id = \"pseudonym\"", "");
    for db in rt.block_on(fresh_databases("erase_shared")) {
        rt.block_on(async {
            let policy = privctl_policy::check_str(&both).policy.expect("policy");
            let su = setup_with((policy, both.clone()), &db).await;
            let (policy, s) = (&su.policy, &su.session);
            let home_db = s.home_db().expect("home");
            let before = snapshot(home_db).await;
            let key = "5";
            let shared: Vec<&Record> = before["inference_requests"]
                .values()
                .filter(|r| {
                    let (c, sup) = (r["consumer_id"].as_deref(), r["supplier_id"].as_deref());
                    (c == Some(key)) != (sup == Some(key)) && c.is_some() && sup.is_some()
                })
                .collect();
            assert!(!shared.is_empty(), "no request between 5 and someone else");
            let subject = resolve(policy, &s.dbs, "user_id=5").await.expect("resolve");
            let at = as_of();
            let r = request_erasure(policy, home_db, &subject, "gdpr", at, None)
                .await
                .expect("request");
            let when = at + Duration::days(4);
            let out = run(s, &su.signer, &options(when, r.id, &su.vault))
                .await
                .expect("run");
            let after = snapshot(home_db).await;
            let rows = &after["inference_requests"];
            for was in &shared {
                let now = &rows[was["task_id"].as_deref().expect("task id")];
                for c in ["consumer_id", "supplier_id"] {
                    if was[c].as_deref() == Some(key) {
                        assert_ne!(now[c], was[c], "{c} still names them");
                        assert!(
                            now[c].as_deref().is_some_and(|v| v.starts_with('-')),
                            "{c}: {:?}",
                            now[c]
                        );
                    } else {
                        assert_eq!(now[c], was[c], "{c}, another person's, changed");
                    }
                }
            }
            let _ = out;

            // One reference kept: refused, nothing of the table touched.
            let policy = privctl_policy::check_str(&one).policy.expect("policy");
            let other = privctl_store::testing::fresh_sqlite();
            let su = setup_with((policy, one.clone()), &other).await;
            let (policy, s) = (&su.policy, &su.session);
            let home_db = s.home_db().expect("home");
            let before = snapshot(home_db).await;
            let subject = resolve(policy, &s.dbs, "user_id=5").await.expect("resolve");
            let r = request_erasure(policy, home_db, &subject, "gdpr", at, None)
                .await
                .expect("request");
            let out = run(s, &su.signer, &options(when, r.id, &su.vault))
                .await
                .expect("run");
            assert_eq!(out[0].state, State::Incomplete);
            let why = out[0].reason.clone().unwrap_or_default();
            assert!(
                why.contains("keeps inference_requests.supplier_id"),
                "{why}"
            );
            assert_eq!(
                snapshot(home_db).await["inference_requests"],
                before["inference_requests"]
            );
        });
    }
}
