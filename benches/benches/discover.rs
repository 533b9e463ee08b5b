//! `privctl_discover::discover` on a PostgreSQL table of 10,000,000 rows
//! (`PRIVCTL_BENCH_ROWS` to change): sampling reads the first rows the
//! server returns, so the time should not grow with the table. Needs a
//! server (`scripts/with-postgres` sets `PRIVCTL_TEST_POSTGRES_URL`).
//!
//! `scripts/with-postgres cargo bench -p privctl-benches --bench discover`

use criterion::{criterion_group, criterion_main, Criterion};
use privctl_store::testing::{fresh_postgres, runtime};
use privctl_store::{Db, Open};

fn discover(c: &mut Criterion) {
    let rt = runtime();
    let rows: i64 = std::env::var("PRIVCTL_BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000);
    let (pg, db) = rt.block_on(async {
        let pg = fresh_postgres("discover_bench")
            .await
            .expect("a PostgreSQL server: run under scripts/with-postgres");
        let db = Db::open("main", &pg.url, Open::Existing).await.expect("db");
        for sql in [
            "CREATE TABLE users (id BIGINT PRIMARY KEY, email TEXT NOT NULL, display_name TEXT, created_at TIMESTAMPTZ NOT NULL)",
            "CREATE TABLE request_log (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL REFERENCES users (id), ip_address TEXT, model TEXT, input_tokens INT, created_at TIMESTAMPTZ NOT NULL)",
            "INSERT INTO users SELECT g, 'user' || g || '@example.com', 'Person ' || g, now() - g * interval '1 minute' FROM generate_series(1, 100000) g",
        ] {
            sqlx::query(sql).execute(db.pool()).await.expect(sql);
        }
        let start = std::time::Instant::now();
        sqlx::query(
            "INSERT INTO request_log SELECT g, 1 + g % 100000, '10.' || (g % 250) || '.' || (g % 199) || '.' || (1 + g % 250), 'llama-3.1-70b', g % 4000, now() - g * interval '1 second' FROM generate_series(1, $1) g",
        )
        .bind(rows)
        .execute(db.pool())
        .await
        .expect("rows");
        sqlx::query("ANALYZE").execute(db.pool()).await.expect("analyze");
        eprintln!("{rows} rows written in {:.1} s", start.elapsed().as_secs_f64());
        (pg, db)
    });
    let mut group = c.benchmark_group("discover");
    group.sample_size(10);
    group.bench_function(format!("postgres_{rows}_rows"), |b| {
        b.iter(|| {
            rt.block_on(privctl_discover::discover(&db, "main", 50))
                .expect("discover")
        })
    });
    group.finish();
    drop(pg);
}

criterion_group!(benches, discover);
criterion_main!(benches);
