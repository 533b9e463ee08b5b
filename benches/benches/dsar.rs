//! Data-subject requests at scale on PostgreSQL: one person's erasure end
//! to end, and one heavy person's export, on InfrPool's schema (as
//! `privctl sample` creates it, with the indexes the policy implies) filled
//! with `PRIVCTL_BENCH_ROWS` rows (default 10,000,000) across its seven
//! tables: 200,000 users, their API keys, transactions, wallet events,
//! inference requests (each with a consumer and a supplier), image
//! generations and login hashes. User 1 is a heavy consumer: about 7 % of
//! all inference requests, some 100 MB of JSON at the default size.
//!
//! The erasure is the library call `privctl erase run` makes, for one
//! request past its grace period: reading the person's identifiers, the
//! vault pseudonym, the live schema, the plan, every batch with its audit
//! entry, the receipt and the completion. The export is `privctl export`'s
//! call, to a file, JSON; its rate is the archive's uncompressed bytes over
//! the time, and the process's peak resident memory is read before and
//! after it.
//!
//! ```sh
//! scripts/with-postgres cargo bench -p privctl-benches --bench dsar
//! PRIVCTL_BENCH_ROWS=1000000 scripts/with-postgres cargo bench -p privctl-benches --bench dsar
//! ```

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use privctl_dsar::erase::{run, RunOptions, State};
use privctl_dsar::requests::request_erasure;
use privctl_policy::model::StoreKind;
use privctl_retention::sample::{sample, SampleOptions};
use privctl_retention::Session;
use privctl_store::testing::{fresh_postgres, runtime};
use privctl_store::{Db, Open};
use privctl_vault::{KeyFile, Store, Vault};

fn as_of() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T00:00:00Z")
        .expect("instant")
        .with_timezone(&Utc)
}

async fn exec(db: &Db, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(db.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Peak resident memory of this process so far, in MiB.
fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Fills the sample schema with `rows` rows in all; returns how many, and
/// how many users.
async fn fill(db: &Db, rows: i64) -> (i64, i64) {
    exec(
        db,
        "TRUNCATE users, api_keys, transactions, wallet_events, inference_requests, image_generations, login_hashes CASCADE",
    )
    .await;
    let users = 200_000.min(rows / 50).max(1000);
    let share = |n: i64| rows * n / 100;
    // Shares of the rows per table: requests half, the rest spread.
    let (keys, tx, wallet, requests, images, logins) = (
        share(4),
        share(15),
        share(15),
        share(50),
        share(10),
        rows - users - share(4) - share(15) - share(15) - share(50) - share(10),
    );
    // Counts computed here; no input reaches the text.
    let statements = [
        format!("INSERT INTO users (id, created_at, display_name, email, firebase_uid, oauth_provider, stripe_customer_id) \
                 SELECT i, TIMESTAMPTZ '2024-01-01 00:00:00+00' + (i % 600) * INTERVAL '1 day', 'User ' || i, 'user' || i || '@example.com', \
                 md5(CAST(i AS TEXT)), 'google', 'cus_' || i FROM generate_series(CAST(1 AS BIGINT), {users}) AS i"),
        format!("INSERT INTO api_keys (id, created_at, key_digest, label, user_id) \
                 SELECT 'key_' || i, TIMESTAMPTZ '2025-01-01 00:00:00+00' + (i % 600) * INTERVAL '1 hour', md5('k' || i) || md5('K' || i), 'default', \
                 1 + (i * 7919) % {users} FROM generate_series(CAST(1 AS BIGINT), {keys}) AS i"),
        format!("INSERT INTO transactions (id, amount_micro_usd, created_at, kind, stripe_charge_id, user_id) \
                 SELECT 'tx_' || i, i % 5000000, TIMESTAMPTZ '2025-01-01 00:00:00+00' + (i % 40000) * INTERVAL '10 minutes', \
                 (ARRAY['charge','refund','payout'])[1 + i % 3], 'ch_' || md5(CAST(i AS TEXT)), 1 + (i * 104729) % {users} \
                 FROM generate_series(CAST(1 AS BIGINT), {tx}) AS i"),
        format!("INSERT INTO wallet_events (id, created_at, delta_micro_usd, reason, user_id) \
                 SELECT 'we_' || i, TIMESTAMPTZ '2025-01-01 00:00:00+00' + (i % 40000) * INTERVAL '10 minutes', i % 100000 - 50000, \
                 (ARRAY['top_up','spend','payout'])[1 + i % 3], 1 + (i * 15485863) % {users} \
                 FROM generate_series(CAST(1 AS BIGINT), {wallet}) AS i"),
        // One row in fourteen is user 1's: the heavy consumer.
        format!("INSERT INTO inference_requests (task_id, consumer_cost_micro_usd, consumer_id, created_at, model_id, status, supplier_earning_micro_usd, supplier_id, supply_type, tokens_in, tokens_out, total_ms, ttft_ms) \
                 SELECT 'task_' || i, i % 90000, CASE WHEN i % 14 = 0 THEN 1 ELSE 1 + (i * 7919) % {users} END, \
                 TIMESTAMPTZ '2026-08-25 00:00:00+00' + (i % 7776000) * INTERVAL '1 second', \
                 (ARRAY['llama-3.1-8b-instruct','qwen2.5-72b-instruct','deepseek-v3'])[1 + i % 3], \
                 CASE WHEN i % 50 = 0 THEN 'error' ELSE 'ok' END, i % 70000, 1 + (i * 104729) % {users}, \
                 (ARRAY['community','datacenter'])[1 + i % 2], i % 4000, i % 1500, 200 + i % 9000, 50 + i % 700 \
                 FROM generate_series(CAST(1 AS BIGINT), {requests}) AS i"),
        format!("INSERT INTO image_generations (id, cost_micro_usd, created_at, height, model_id, user_id, width) \
                 SELECT 'img_' || i, i % 40000, TIMESTAMPTZ '2026-08-25 00:00:00+00' + (i % 7776000) * INTERVAL '1 second', 1024, 'flux-schnell', \
                 1 + (i * 15485863) % {users}, 1024 FROM generate_series(CAST(1 AS BIGINT), {images}) AS i"),
        format!("INSERT INTO login_hashes (id, created_at, device_hmac, ip_hmac, key_epoch, user_id) \
                 SELECT 'lh_' || i, TIMESTAMPTZ '2026-08-25 00:00:00+00' + (i % 7776000) * INTERVAL '1 second', md5('d' || i) || md5('D' || i), \
                 md5('i' || i) || md5('I' || i), 228, 1 + (i * 7919) % {users} FROM generate_series(CAST(1 AS BIGINT), {logins}) AS i"),
    ];
    for sql in &statements {
        exec(db, sql).await;
    }
    exec(db, "VACUUM ANALYZE").await;
    (
        users + keys + tx + wallet + requests + images + logins,
        users,
    )
}

fn main() {
    let rows: i64 = std::env::var("PRIVCTL_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let rt = runtime();
    rt.block_on(async {
        let Some(pg) = fresh_postgres("bench_dsar").await else {
            eprintln!("dsar bench: needs PostgreSQL (run it under scripts/with-postgres)");
            return;
        };
        let path = format!("{}/../policies/infrpool.toml", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(path).expect("policy");
        let mut policy = privctl_policy::check_str(&text).policy.expect("policy");
        let files = tempfile::tempdir().expect("files");
        for s in policy.stores.values_mut() {
            if s.kind == StoreKind::Files {
                s.path = Some(files.path().join(s.path.as_deref().unwrap_or(".")).display().to_string());
            }
        }
        let session = Session::open(policy.clone(), &text, Some(&pg.url), Open::Create)
            .await
            .expect("session");
        sample(
            &session,
            &SampleOptions {
                subjects: 1,
                seed: 1,
                as_of: as_of(),
            },
        )
        .await
        .expect("schema");
        let home = session.home_db().expect("home");
        let t = Instant::now();
        let (filled, users) = fill(home, rows).await;
        println!("filled {filled} rows in {:.1} s", t.elapsed().as_secs_f64());

        let keys = tempfile::tempdir().expect("keys");
        let url = format!("sqlite:{}", keys.path().join("vault.db").display());
        let vault = Arc::new(
            Vault::init(
                Store::create(&url).await.expect("vault store"),
                &KeyFile::new(keys.path().join("vault.keys")),
            )
            .await
            .expect("vault"),
        );
        let (signer, _) = privctl_audit::Signer::load_or_create(&keys.path().join("audit.key"))
            .expect("audit key");

        // Erasures of ordinary users, one at a time.
        let mut times = Vec::new();
        for (n, user) in (1..=5).map(|k| 1 + users * k / 6).enumerate() {
            let subject = privctl_dsar::resolve(&policy, &session.dbs, &format!("user_id={user}"))
                .await
                .expect("subject");
            let r = request_erasure(&policy, home, &subject, "gdpr", as_of(), None)
                .await
                .expect("request");
            let options = RunOptions {
                now: as_of() + Duration::days(4),
                receipts: Some(keys.path().join("receipts")),
                dry_run: false,
                request: Some(r.id),
                vault: Some(vault.clone()),
                vault_error: None,
            };
            let t = Instant::now();
            let out = run(&session, &signer, &options).await.expect("erase");
            let took = t.elapsed();
            assert_eq!(out[0].state, State::Completed, "{:?}", out[0].reason);
            let changed: u64 = out[0]
                .report
                .as_ref()
                .map(|r| r.data_types.iter().map(|d| d.deleted + d.anonymised).sum())
                .unwrap_or(0);
            println!(
                "erasure {}: user {user}, {changed} rows deleted or anonymised, {:.1} ms end to end",
                n + 1,
                took.as_secs_f64() * 1000.0
            );
            times.push(took.as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "erasure: median {:.1} ms, slowest {:.1} ms (the first includes the vault's first pseudonym key)",
            times[times.len() / 2],
            times[times.len() - 1]
        );

        // The heavy consumer's export.
        let subject = privctl_dsar::resolve(&policy, &session.dbs, "user_id=1")
            .await
            .expect("subject");
        let out = tempfile::tempdir().expect("out");
        let file = out.path().join("export.zip");
        let before = peak_mib();
        let t = Instant::now();
        let done = privctl_dsar::export_to_file(
            &policy,
            &session.digest,
            &session.dbs,
            &session.clickhouse,
            &session.roots,
            home,
            &subject,
            &privctl_dsar::ExportOptions {
                request: None,
                now: as_of(),
            },
            &file,
            &signer,
        )
        .await
        .expect("export");
        let took = t.elapsed().as_secs_f64();
        let after = peak_mib();
        let bytes: u64 = done.manifest.entries.iter().map(|e| e.bytes).sum();
        let records: u64 = done.manifest.data_types.iter().map(|d| d.records).sum();
        let zipped = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        // The floor: the same rows of the heaviest table read through the
        // same driver and thrown away.
        let t = Instant::now();
        let mut n = 0u64;
        {
            use futures_util::TryStreamExt;
            use privctl_store::Row;
            let mut rows = sqlx::query(
                "SELECT CAST(task_id AS TEXT), CAST(consumer_cost_micro_usd AS TEXT), CAST(consumer_id AS TEXT), CAST(created_at AS TEXT), \
                 CAST(model_id AS TEXT), CAST(status AS TEXT), CAST(supplier_earning_micro_usd AS TEXT), CAST(supplier_id AS TEXT), \
                 CAST(supply_type AS TEXT), CAST(tokens_in AS TEXT), CAST(tokens_out AS TEXT), CAST(total_ms AS TEXT), CAST(ttft_ms AS TEXT) \
                 FROM inference_requests WHERE consumer_id = 1 OR supplier_id = 1",
            )
            .fetch(home.pool());
            while let Some(r) = rows.try_next().await.expect("row") {
                let _: Option<String> = r.try_get(0).expect("text");
                n += 1;
            }
        }
        println!(
            "the database alone: {n} inference requests read in {:.2} s",
            t.elapsed().as_secs_f64()
        );
        println!(
            "export: user 1, {records} records, {:.1} MB of JSON ({:.1} MB zipped) in {took:.2} s: {:.0} MB/s; peak memory {before:.0} MiB before, {after:.0} MiB after",
            bytes as f64 / 1e6,
            zipped as f64 / 1e6,
            bytes as f64 / 1e6 / took
        );
    });
}
