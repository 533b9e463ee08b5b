//! Infercast's telemetry on a real ClickHouse server beside its accounts on
//! SQLite and PostgreSQL: `sample` fills both, and a sweep drops whole
//! expired partitions and deletes the rest by mutation, sparing the held
//! person's rows, row by row as an oracle says.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use privctl_policy::model::Policy;
use privctl_retention::sample::{sample, SampleOptions, HELD_SUBJECT};
use privctl_retention::{Options, Report, Session};
use privctl_store::clickhouse::ClickHouse;
use privctl_store::sql::Sql;
use privctl_store::testing::{fresh_clickhouse, fresh_databases, runtime};
use privctl_store::Open;
use serde_json::{Map, Value as Json};

const POLICY: &str = include_str!("../../../policies/infercast.toml");

/// Midday: each cutoff falls inside a day, so that day's partition is
/// partly expired and goes by mutation, the days before it whole.
fn as_of() -> DateTime<Utc> {
    "2026-11-01T12:00:00Z".parse().expect("instant")
}

fn policy() -> Policy {
    privctl_policy::check_str(POLICY).policy.expect("policy")
}

type Rows = Vec<Map<String, Json>>;

/// Every row of every telemetry table, sorted.
async fn snapshot(ch: &ClickHouse, policy: &Policy) -> BTreeMap<String, Rows> {
    snapshot_without(ch, policy, "").await
}

/// Each organisation's row of the accounts store, by id, as text.
async fn organisations(url: &str) -> BTreeMap<String, BTreeMap<String, Option<String>>> {
    use privctl_store::{Db, Row};
    let db = Db::open("accounts", url, Open::Existing)
        .await
        .expect("open");
    let rows = sqlx::query("SELECT CAST(id AS TEXT) AS id, CAST(tier AS TEXT) AS tier, CAST(usage_retention AS TEXT) AS usage_retention, CAST(request_log_retention AS TEXT) AS request_log_retention, CAST(prompt_retention AS TEXT) AS prompt_retention FROM organizations")
        .fetch_all(db.pool())
        .await
        .expect("organisations");
    rows.iter()
        .map(|r| {
            let get = |c: &str| r.try_get::<Option<String>, _>(c).expect("text");
            let id = get("id").expect("id");
            let rec = [
                "tier",
                "usage_retention",
                "request_log_retention",
                "prompt_retention",
            ]
            .iter()
            .map(|c| ((*c).to_owned(), get(c)))
            .collect();
            (id, rec)
        })
        .collect()
}

fn time(row: &Map<String, Json>, column: &str) -> DateTime<Utc> {
    let text = row[column].as_str().expect("a time");
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .expect("ClickHouse's time")
        .and_utc()
}

fn by_type(report: &Report, name: &str) -> (u64, u64, u64) {
    let d = report
        .data_types
        .iter()
        .find(|d| d.data_type == name)
        .expect("reported");
    assert!(d.not_supported.is_none(), "{name}: {:?}", d.not_supported);
    (d.expired, d.deleted, d.partitions_dropped)
}

#[test]
fn telemetry_expires_by_partition_and_by_mutation_and_spares_the_held() {
    runtime().block_on(async {
        for db in fresh_databases("telemetry").await {
            let Some(ch_url) = fresh_clickhouse("telemetry").await else {
                return;
            };
            let urls = BTreeMap::from([("telemetry".to_owned(), ch_url.clone())]);
            let s = Session::open_with_urls(policy(), POLICY, Some(&db.url), &urls, Open::Create)
                .await
                .expect("open");
            let report = sample(
                &s,
                &SampleOptions {
                    subjects: 30,
                    seed: 5,
                    as_of: as_of(),
                },
            )
            .await
            .expect("sample");
            assert!(
                report
                    .tables
                    .iter()
                    .any(|t| t.store == "telemetry" && t.rows > 0),
                "{report:?}"
            );
            let ch = ClickHouse::open("telemetry", &ch_url).await.expect("ch");
            let policy = policy();
            // Usage is kept 365 days: its cutoff falls at midday on 1
            // November 2025, inside that day's partition; and an old day
            // holds a row of the held person beside another's.
            let extra: Rows = [
                ("2025-11-01 11:00:00", "3"),
                ("2025-11-01 13:00:00", "3"),
                ("2024-03-03 10:00:00", "7"),
                ("2024-03-03 11:00:00", "4"),
            ]
            .iter()
            .map(|(t, u)| {
                serde_json::json!({"timestamp": t, "user_id": u, "organization_id": 1, "model": "m"})
                    .as_object()
                    .expect("object")
                    .clone()
            })
            .collect();
            ch.insert(
                &privctl_policy::SqlIdent::new("usage_metrics").expect("name"),
                &extra,
                "adding rows",
            )
            .await
            .expect("extra rows");
            let before = snapshot(&ch, &policy).await;

            // Each organisation's recorded choices, as text.
            let orgs = organisations(&db.url).await;
            let mut accepted = 0;

            // What each row's fate must be: gone when its period (its
            // organisation's choice where allowed, else the default) has
            // passed, unless it is the held person's.
            let mut want: BTreeMap<String, Rows> = BTreeMap::new();
            let mut expired: BTreeMap<String, u64> = BTreeMap::new();
            for dt in policy
                .data_types
                .values()
                .filter(|d| d.store == "telemetry")
            {
                let table = dt.table.as_ref().expect("table").to_string();
                let ts = dt.timestamp.as_ref().expect("ts").as_str();
                let r = dt.retention.as_ref().expect("retention");
                let choice = r.customer.as_ref().expect("organisations choose");
                let period_of = |org: &str| {
                    let rec = orgs.get(org)?;
                    let p = rec.get(choice.period.column.as_str())?.as_deref()?;
                    let tier = rec.get("tier").cloned().flatten();
                    privctl_retention::plan::choice_allowed(r, p, tier.as_deref(), choice.tier.is_some())
                        .ok()
                };
                let mut keep = Vec::new();
                for row in &before[&table] {
                    let org = row["organization_id"].as_str().unwrap_or_default().to_owned();
                    let period = match period_of(&org) {
                        Some(p) => {
                            accepted += 1;
                            p
                        }
                        None => r.period,
                    };
                    let cut = privctl_retention::plan::cutoff(period, as_of()).expect("finite");
                    let gone = time(row, ts) <= cut;
                    if gone {
                        *expired.entry(table.clone()).or_default() += 1;
                    }
                    let held = row["user_id"].as_str() == Some(&HELD_SUBJECT.to_string());
                    if !gone || held {
                        keep.push(row.clone());
                    }
                }
                want.insert(table, keep);
            }

            assert!(accepted > 0, "some rows keep their organisation's own period");
            let dry = s
                .sweep(as_of(), None, true, &Options::default(), &|_| {})
                .await
                .expect("dry run");
            assert!(
                dry.data_types.iter().any(|d| !d.refused_choices.is_empty()),
                "some organisations' choices are refused: {:?}",
                dry.data_types.iter().map(|d| &d.refused_choices).collect::<Vec<_>>()
            );
            for dt in policy
                .data_types
                .values()
                .filter(|d| d.store == "telemetry")
            {
                let name = policy
                    .data_types
                    .iter()
                    .find(|(_, d)| d.table == dt.table)
                    .map(|(n, _)| n.clone())
                    .expect("name");
                let table = dt.table.as_ref().expect("table").to_string();
                assert_eq!(
                    by_type(&dry, &name).0,
                    expired.get(&table).copied().unwrap_or(0),
                    "{name}: expired rows counted"
                );
            }
            assert_eq!(
                snapshot(&ch, &policy).await,
                before,
                "a dry run changes nothing"
            );

            let swept = s
                .sweep(as_of(), None, false, &Options::default(), &|_| {})
                .await
                .expect("sweep");
            let after = snapshot(&ch, &policy).await;
            let mut dropped = 0;
            for (name, dt) in policy
                .data_types
                .iter()
                .filter(|(_, d)| d.store == "telemetry")
            {
                let table = dt.table.as_ref().expect("table").to_string();
                assert_eq!(after[&table], want[&table], "{name} on {:?}", db.dialect);
                let (_, deleted, parts) = by_type(&swept, name);
                assert_eq!(
                    deleted as usize,
                    before[&table].len() - want[&table].len(),
                    "{name}: rows deleted, counted"
                );
                dropped += parts;
            }
            assert!(dropped > 0, "whole expired days are dropped as partitions");
            // The run log has both, each with its rows.
            let runs = privctl_retention::own::runs(s.home_db().expect("home"), 1)
                .await
                .expect("runs");
            let logged = |action: &str| -> i64 {
                runs[0]
                    .batches
                    .iter()
                    .filter(|b| b.1 == action && policy.data_types[&b.0].store == "telemetry")
                    .map(|b| b.2)
                    .sum()
            };
            assert!(logged("drop_partition") > 0, "{:?}", runs[0].batches);
            assert!(
                logged("delete") > 0,
                "rows in live partitions go by mutation: {:?}",
                runs[0].batches
            );

            // Again: nothing left to do.
            let again = s
                .sweep(as_of(), None, false, &Options::default(), &|_| {})
                .await
                .expect("again");
            for (name, _) in policy
                .data_types
                .iter()
                .filter(|(_, d)| d.store == "telemetry")
            {
                assert_eq!(
                    by_type(&again, name).1,
                    0,
                    "{name}: a rerun deletes nothing"
                );
            }
            assert_eq!(snapshot(&ch, &policy).await, after);
        }
    });
}

/// An unreachable server, or a table the policy names that the server
/// lacks: an error naming the store and the table, and nothing changed.
#[test]
fn bad_stores_are_refused_with_the_store_and_table_named() {
    runtime().block_on(async {
        let Some(ch_url) = fresh_clickhouse("telemetry_bad").await else {
            return;
        };
        let db = privctl_store::testing::fresh_sqlite();
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
            l.local_addr().expect("addr").port()
        };
        let closed = BTreeMap::from([(
            "telemetry".to_owned(),
            format!("clickhouse://default:pw@127.0.0.1:{port}/default"),
        )]);
        let e = Session::open_with_urls(policy(), POLICY, Some(&db.url), &closed, Open::Create)
            .await
            .expect_err("unreachable");
        let shown = e.to_string();
        assert!(
            shown.contains("store telemetry") && shown.contains("default:***@"),
            "{shown}"
        );

        let urls = BTreeMap::from([("telemetry".to_owned(), ch_url.clone())]);
        let s = Session::open_with_urls(policy(), POLICY, Some(&db.url), &urls, Open::Create)
            .await
            .expect("open");
        sample(
            &s,
            &SampleOptions {
                subjects: 12,
                seed: 2,
                as_of: as_of(),
            },
        )
        .await
        .expect("sample");
        let ch = ClickHouse::open("telemetry", &ch_url).await.expect("ch");
        let mut drop = Sql::new();
        drop.push("DROP TABLE request_logs");
        ch.execute(&drop, "test", None).await.expect("drop");
        let policy = policy();
        let before = snapshot_without(&ch, &policy, "request_logs").await;
        let e = s
            .sweep(as_of(), None, false, &Options::default(), &|_| {})
            .await
            .expect_err("a missing table");
        assert_eq!(
            e.to_string(),
            "store telemetry: table \"request_logs\" of data type \"request_logs\" does not exist"
        );
        assert_eq!(snapshot_without(&ch, &policy, "request_logs").await, before);
        let runs = privctl_retention::own::runs(s.home_db().expect("home"), 5)
            .await
            .expect("runs");
        assert!(runs.is_empty(), "no run recorded: {runs:?}");
    });
}

/// Every row of every telemetry table but `skip`, sorted.
async fn snapshot_without(ch: &ClickHouse, policy: &Policy, skip: &str) -> BTreeMap<String, Rows> {
    let mut out = BTreeMap::new();
    for dt in policy
        .data_types
        .values()
        .filter(|d| d.store == "telemetry")
    {
        let table = dt.table.as_ref().expect("table");
        if table.as_str() == skip {
            continue;
        }
        let mut q = Sql::new();
        q.push("SELECT * FROM ").ident(table);
        let mut rows = ch.rows(&q, "snapshot", None).await.expect("rows");
        rows.sort_by_key(|r| serde_json::to_string(r).unwrap_or_default());
        out.insert(table.to_string(), rows);
    }
    out
}

/// A hold placed after the sweep was planned, before ClickHouse's turn:
/// the person's telemetry is spared, partitions holding it are not dropped.
#[test]
fn a_hold_placed_after_the_plan_is_honoured() {
    runtime().block_on(async {
        let Some(ch_url) = fresh_clickhouse("telemetry_hold").await else {
            return;
        };
        let db = privctl_store::testing::fresh_sqlite();
        let urls = BTreeMap::from([("telemetry".to_owned(), ch_url.clone())]);
        let s = Session::open_with_urls(policy(), POLICY, Some(&db.url), &urls, Open::Create)
            .await
            .expect("open");
        sample(
            &s,
            &SampleOptions {
                subjects: 15,
                seed: 8,
                as_of: as_of(),
            },
        )
        .await
        .expect("sample");
        let ch = ClickHouse::open("telemetry", &ch_url).await.expect("ch");
        let policy = policy();
        let before = snapshot(&ch, &policy).await;
        // Someone not yet held with expired usage rows.
        let cut = privctl_retention::plan::cutoff(
            policy.data_types["usage_metrics"]
                .retention
                .as_ref()
                .expect("r")
                .period,
            as_of(),
        )
        .expect("cut");
        let expired_of = |rows: &Rows, who: &str| {
            rows.iter()
                .filter(|r| r["user_id"].as_str() == Some(who) && time(r, "timestamp") <= cut)
                .count()
        };
        let who = (1..=15)
            .map(|u| u.to_string())
            .find(|u| *u != HELD_SUBJECT.to_string() && expired_of(&before["usage_metrics"], u) > 0)
            .expect("someone with expired usage");
        let plan = s.plan(as_of(), Some("usage_metrics")).await.expect("plan");
        privctl_retention::own::add_hold(
            s.home_db().expect("home"),
            privctl_retention::own::HoldScope::Subject,
            &who,
            "placed after the plan",
            as_of(),
        )
        .await
        .expect("hold");
        let report = s
            .execute(&plan, false, &Options::default(), &|_| {})
            .await
            .expect("sweep");
        let after = snapshot(&ch, &policy).await;
        assert_eq!(
            expired_of(&after["usage_metrics"], &who),
            expired_of(&before["usage_metrics"], &who),
            "user {who}'s expired usage is kept"
        );
        assert!(
            report.data_types[0].kept_by_hold as usize
                >= expired_of(&before["usage_metrics"], &who)
        );
    });
}

/// A legal floor on ClickHouse rows: rows past their retention but inside
/// the floor stay, their partitions are not dropped whole, and rows past
/// both go.
#[test]
fn a_floor_keeps_clickhouse_rows_past_their_retention() {
    runtime().block_on(async {
        let Some(ch_url) = fresh_clickhouse("telemetry_floor").await else {
            return;
        };
        let db = privctl_store::testing::fresh_sqlite();
        // Usage kept 365 days, under a two-year floor (a policy `check`
        // refuses; a library caller gets the floor kept all the same).
        let text = format!(
            "{POLICY}\n[legal_floors.test_floor]\nlaw = \"A test floor: usage kept two years\"\nbasis = \"commitment\"\nperiod = \"2y\"\nfrom = \"created\"\napplies_to = [\"usage_metrics\"]\n"
        );
        let policy = privctl_policy::check_str(&text).policy.expect("policy");
        let urls = BTreeMap::from([("telemetry".to_owned(), ch_url.clone())]);
        let s = Session::open_with_urls(policy.clone(), &text, Some(&db.url), &urls, Open::Create)
            .await
            .expect("open");
        sample(
            &s,
            &SampleOptions {
                subjects: 20,
                seed: 6,
                as_of: as_of(),
            },
        )
        .await
        .expect("sample");
        let ch = ClickHouse::open("telemetry", &ch_url).await.expect("ch");
        let before = snapshot(&ch, &policy).await;
        let floor = privctl_retention::plan::cutoff(privctl_policy::RetentionPeriod::Years(2), as_of())
            .expect("cut");
        let held = HELD_SUBJECT.to_string();
        let old = |rows: &Rows| {
            rows.iter()
                .filter(|r| time(r, "timestamp") <= floor && r["user_id"].as_str() != Some(&held))
                .count()
        };
        assert!(old(&before["usage_metrics"]) > 0, "rows past the floor");
        let report = s
            .sweep(as_of(), Some("usage_metrics"), false, &Options::default(), &|_| {})
            .await
            .expect("sweep");
        let d = &report.data_types[0];
        assert_eq!(d.partitions_dropped, 0, "a floored table goes row by row");
        let after = snapshot(&ch, &policy).await;
        // Only rows past the floor went (and not the held person's).
        assert_eq!(old(&after["usage_metrics"]), 0);
        assert_eq!(
            after["usage_metrics"].len(),
            before["usage_metrics"].len() - old(&before["usage_metrics"])
        );
        assert!(d.kept_by_floor > 0, "rows past 365 days kept by the floor");
    });
}
