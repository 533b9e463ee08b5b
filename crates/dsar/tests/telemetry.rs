//! A person's telemetry in ClickHouse (Infercast's usage, request logs and
//! prompts, linked by user id across stores): their export holds exactly
//! their rows, and their erasure deletes exactly those, by mutations whose
//! counts the receipt carries. On SQLite or PostgreSQL beside a real
//! ClickHouse server.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use chrono::{DateTime, Duration, Utc};
use privctl_dsar::erase::{run, RunOptions, State};
use privctl_dsar::requests::request_erasure;
use privctl_dsar::{export, resolve, ExportOptions};
use privctl_policy::model::Policy;
use privctl_retention::sample::{sample, SampleOptions};
use privctl_retention::Session;
use privctl_store::clickhouse::ClickHouse;
use privctl_store::sql::Sql;
use privctl_store::testing::{fresh_clickhouse, fresh_databases, runtime};
use privctl_store::Open;
use serde_json::{Map, Value as Json};

const POLICY: &str = include_str!("../../../policies/infercast.toml");

fn as_of() -> DateTime<Utc> {
    "2026-11-01T12:00:00Z".parse().expect("instant")
}

type Rows = Vec<Map<String, Json>>;

/// Every telemetry table's rows, sorted, by data type.
async fn snapshot(ch: &ClickHouse, policy: &Policy) -> BTreeMap<String, Rows> {
    let mut out = BTreeMap::new();
    for (name, dt) in policy
        .data_types
        .iter()
        .filter(|(_, d)| d.store == "telemetry")
    {
        let mut q = Sql::new();
        q.push("SELECT * FROM ")
            .ident(dt.table.as_ref().expect("table"));
        let mut rows = ch.rows(&q, "snapshot", None).await.expect("rows");
        rows.sort_by_key(|r| serde_json::to_string(r).unwrap_or_default());
        out.insert(name.clone(), rows);
    }
    out
}

fn entry(zip: &[u8], name: &str) -> Vec<u8> {
    let mut a = zip::ZipArchive::new(Cursor::new(zip)).expect("zip");
    let mut f = a.by_name(name).expect(name);
    let mut out = Vec::new();
    f.read_to_end(&mut out).expect("read");
    out
}

fn theirs(row: &Map<String, Json>, key: &str) -> bool {
    row.get("user_id").and_then(Json::as_str) == Some(key)
}

#[test]
fn a_persons_telemetry_is_exported_and_erased_on_clickhouse() {
    runtime().block_on(async {
        for db in fresh_databases("dsar_telemetry").await {
            let Some(ch_url) = fresh_clickhouse("dsar_telemetry").await else {
                return;
            };
            let policy = privctl_policy::check_str(POLICY).policy.expect("policy");
            let urls = BTreeMap::from([("telemetry".to_owned(), ch_url.clone())]);
            let s =
                Session::open_with_urls(policy.clone(), POLICY, Some(&db.url), &urls, Open::Create)
                    .await
                    .expect("open");
            sample(
                &s,
                &SampleOptions {
                    subjects: 20,
                    seed: 9,
                    as_of: as_of(),
                },
            )
            .await
            .expect("sample");
            let ch = ClickHouse::open("telemetry", &ch_url).await.expect("ch");
            let before = snapshot(&ch, &policy).await;
            let key = "5";
            let subject = resolve(&policy, &s.dbs, &format!("user_id={key}"))
                .await
                .expect("resolve");
            let mine: BTreeMap<&String, usize> = before
                .iter()
                .map(|(n, rows)| (n, rows.iter().filter(|r| theirs(r, key)).count()))
                .collect();
            assert!(mine.values().sum::<usize>() > 0, "user {key} has telemetry");

            // The export holds exactly their rows, in JSON and CSV.
            let (manifest, out) = export(
                &policy,
                &s.digest,
                &s.dbs,
                &s.clickhouse,
                &s.roots,
                &subject,
                &ExportOptions {
                    request: None,
                    now: as_of(),
                },
                Cursor::new(Vec::new()),
            )
            .await
            .expect("export");
            let zip = out.into_inner();
            for (name, n) in &mine {
                let rows: Vec<Map<String, Json>> =
                    serde_json::from_slice(&entry(&zip, &format!("{name}.json"))).expect("json");
                assert_eq!(rows.len(), *n, "{name}: their rows exported");
                assert!(rows.iter().all(|r| theirs(r, key)), "{name}: only theirs");
                let csv = entry(&zip, &format!("{name}.csv"));
                assert_eq!(
                    csv.iter().filter(|b| **b == b'\n').count(),
                    n + 1,
                    "{name}.csv"
                );
                let listed = manifest
                    .data_types
                    .iter()
                    .find(|d| &d.name == *name)
                    .expect("in the manifest");
                assert_eq!(listed.records as usize, *n);
                assert_eq!(
                    listed.source,
                    format!(
                        "telemetry.{}",
                        policy.data_types[*name].table.as_ref().expect("table")
                    )
                );
            }
            assert!(
                !manifest
                    .not_included
                    .iter()
                    .any(|n| n.contains("telemetry")),
                "{:?}",
                manifest.not_included
            );

            // Their erasure deletes those rows and nothing else.
            let keys = tempfile::tempdir().expect("keys");
            let (signer, _) =
                privctl_audit::Signer::load_or_create(&keys.path().join("audit.key")).expect("key");
            let home = s.home_db().expect("home");
            let r = request_erasure(&policy, home, &subject, "gdpr", as_of(), None)
                .await
                .expect("request");
            let options = RunOptions {
                now: as_of() + Duration::hours(1),
                receipts: None,
                dry_run: false,
                request: Some(r.id),
                vault: None,
                vault_error: None,
            };
            let outcome = run(&s, &signer, &options).await.expect("run");
            assert_eq!(
                outcome[0].state,
                State::Completed,
                "{:?}",
                outcome[0].reason
            );
            let after = snapshot(&ch, &policy).await;
            for (name, rows) in &before {
                let left: Rows = rows.iter().filter(|r| !theirs(r, key)).cloned().collect();
                assert_eq!(after[name], left, "{name} on {:?}", db.dialect);
            }
            let receipt = &outcome[0].receipt.as_ref().expect("receipt").receipt;
            for (name, n) in &mine {
                let line = receipt
                    .data_types
                    .iter()
                    .find(|l| &l.data_type == *name)
                    .expect("on the receipt");
                assert_eq!(line.deleted as usize, *n, "{name}: counted on the receipt");
            }
            // The request is done: a run of every open request finds none.
            let all = RunOptions {
                request: None,
                ..options
            };
            let again = run(&s, &signer, &all).await.expect("again");
            assert!(again.is_empty(), "{again:?}");
            assert_eq!(snapshot(&ch, &policy).await, after);
        }
    });
}
