//! InferexAI's KYC records expire by crypto-shredding: five years after an
//! account closed, the subject's PAN and Aadhaar in the vault become
//! unreadable and the rows that referred to them go; everyone else's stay
//! readable, a held subject's included.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use privctl_retention::sample::{sample, SampleOptions, HELD_SUBJECT};
use privctl_retention::{Options, Session};
use privctl_store::testing::{fresh_databases, runtime};
use privctl_store::{Db, Open, Row};
use privctl_vault::{IdKind, KeyFile, KycId, Store, Vault};

const POLICY: &str = include_str!("../../../policies/inferexai.toml");

fn as_of() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T00:00:00Z")
        .expect("instant")
        .with_timezone(&Utc)
}

/// User id to (closed_at, KYC rows).
async fn kyc(db: &Db) -> BTreeMap<i64, (Option<String>, i64)> {
    sqlx::query(
        "SELECT u.id AS id, CAST(u.closed_at AS TEXT) AS closed, \
         (SELECT COUNT(*) FROM kyc_records k WHERE k.user_id = u.id) AS n FROM users u",
    )
    .fetch_all(db.pool())
    .await
    .expect("kyc")
    .iter()
    .map(|r| {
        (
            r.try_get::<i64, _>("id").expect("id"),
            (
                r.try_get::<Option<String>, _>("closed").expect("closed"),
                r.try_get::<i64, _>("n").expect("n"),
            ),
        )
    })
    .collect()
}

fn closed_before(text: &Option<String>, cutoff: DateTime<Utc>) -> bool {
    text.as_deref().is_some_and(|t| {
        let t = t.get(..19).expect("a time");
        let t = chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S")
            .expect("time")
            .and_utc();
        t <= cutoff
    })
}

#[test]
fn expired_kyc_is_crypto_shredded_and_nothing_else() {
    let rt = runtime();
    for db in rt.block_on(fresh_databases("shred")) {
        rt.block_on(async {
            let policy = privctl_policy::check_str(POLICY).policy.expect("policy");
            let s = Session::open(policy, POLICY, Some(&db.url), Open::Create)
                .await
                .expect("open");
            let options = SampleOptions {
                subjects: 80,
                seed: 5,
                as_of: as_of(),
            };
            sample(&s, &options).await.expect("sample");
            let home = s.home_db().expect("home");

            let vault_dir = tempfile::tempdir().expect("vault dir");
            let url = format!("sqlite:{}", vault_dir.path().join("vault.db").display());
            let store = Store::create(&url).await.expect("vault store");
            let vault = Vault::init(store, &KeyFile::new(vault_dir.path().join("vault.keys")))
                .await
                .expect("vault");
            let before = kyc(home).await;
            let mut refs = BTreeMap::new();
            for id in before.keys() {
                let pan = KycId::new(IdKind::Pan, "ABCPE1234F").expect("pan");
                let stored = vault.put(&id.to_string(), &pan).await.expect("put");
                refs.insert(*id, stored.reference);
            }

            // Without the vault: not swept, nothing changed.
            let report = s
                .sweep(
                    as_of(),
                    Some("kyc_records"),
                    false,
                    &Options::default(),
                    &|_| {},
                )
                .await
                .expect("sweep");
            assert!(report.data_types[0].not_supported.is_some());
            assert_eq!(kyc(home).await, before);

            // As if a sweep had been killed after shredding one subject and
            // before deleting their rows: the rerun finishes the job.
            let five: privctl_policy::RetentionPeriod = "5y".parse().expect("period");
            let cutoff = privctl_retention::plan::cutoff(five, as_of()).expect("cutoff");
            let first = before
                .iter()
                .find(|(id, (closed, n))| {
                    closed_before(closed, cutoff) && **id != HELD_SUBJECT && *n > 0
                })
                .map(|(id, _)| *id)
                .expect("an expired subject");
            vault.shred(&first.to_string()).await.expect("shred");
            let vault = Arc::new(vault);
            let options = Options {
                vault: Some(vault.clone()),
                ..Options::default()
            };
            let report = s
                .sweep(as_of(), Some("kyc_records"), false, &options, &|_| {})
                .await
                .expect("sweep");
            let d = &report.data_types[0];
            assert_eq!(d.not_supported, None);

            let after = kyc(home).await;
            let mut shredded_rows = 0;
            let mut shredded_subjects = 0;
            for (id, (closed, n)) in &before {
                let expired = closed_before(closed, cutoff) && *id != HELD_SUBJECT;
                let readable = vault.get(&refs[id]).await.is_ok();
                if expired && *n > 0 {
                    assert!(
                        !readable,
                        "{:?}: subject {id}'s PAN is still readable",
                        db.dialect
                    );
                    assert_eq!(
                        after[id].1, 0,
                        "{:?}: subject {id}'s KYC rows stayed",
                        db.dialect
                    );
                    shredded_rows += n;
                    shredded_subjects += 1;
                } else {
                    assert!(
                        readable,
                        "{:?}: subject {id}'s PAN was shredded",
                        db.dialect
                    );
                    assert_eq!(
                        after[id].1, *n,
                        "{:?}: subject {id}'s KYC rows changed",
                        db.dialect
                    );
                }
            }
            assert!(
                shredded_subjects > 0,
                "the sample closed no account five years ago"
            );
            assert!(before[&HELD_SUBJECT].1 > 0 && closed_before(&before[&HELD_SUBJECT].0, cutoff));
            assert_eq!(d.shredded as i64, shredded_rows);

            let again = s
                .sweep(as_of(), Some("kyc_records"), false, &options, &|_| {})
                .await
                .expect("sweep");
            assert_eq!(again.data_types[0].shredded, 0);
        });
    }
}

/// A subject with some rows expired and some not keeps every value: with
/// KYC expiring two years after verification (and, for this test only, no
/// floor), only subjects all of whose KYC rows are older than that are
/// shredded.
#[test]
fn a_subject_with_rows_still_retained_is_not_shredded() {
    let text = POLICY
        .replacen(
            "period = \"5y\"\nfrom = \"account_closed\"\naction = \"crypto_shred\"",
            "period = \"2y\"\nfrom = \"created\"\naction = \"crypto_shred\"",
            1,
        )
        .replacen("applies_to = [\"kyc_records\"]", "applies_to = []", 1);
    assert_ne!(text, POLICY);
    let rt = runtime();
    let db = privctl_store::testing::fresh_sqlite();
    rt.block_on(async {
        let policy = privctl_policy::check_str(&text).policy.expect("policy");
        let s = Session::open(policy, &text, Some(&db.url), Open::Create)
            .await
            .expect("open");
        let options = SampleOptions {
            subjects: 60,
            seed: 9,
            as_of: as_of(),
        };
        sample(&s, &options).await.expect("sample");
        let home = s.home_db().expect("home");
        let two: privctl_policy::RetentionPeriod = "2y".parse().expect("period");
        let cutoff = privctl_retention::plan::cutoff(two, as_of()).expect("cutoff");
        // Per subject: (rows, rows past two years).
        let mut rows: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
        for r in sqlx::query("SELECT user_id, CAST(verified_at AS TEXT) FROM kyc_records")
            .fetch_all(home.pool())
            .await
            .expect("rows")
        {
            let id: i64 = r.try_get(0).expect("id");
            let at: String = r.try_get(1).expect("at");
            let at = chrono::NaiveDateTime::parse_from_str(&at, "%Y-%m-%d %H:%M:%S")
                .expect("time")
                .and_utc();
            let e = rows.entry(id).or_default();
            e.0 += 1;
            e.1 += i64::from(at <= cutoff);
        }
        let dir = tempfile::tempdir().expect("vault dir");
        let url = format!("sqlite:{}", dir.path().join("vault.db").display());
        let vault = Vault::init(
            Store::create(&url).await.expect("store"),
            &KeyFile::new(dir.path().join("vault.keys")),
        )
        .await
        .expect("vault");
        let mut refs = BTreeMap::new();
        for id in rows.keys() {
            let pan = KycId::new(IdKind::Pan, "ABCPE1234F").expect("pan");
            refs.insert(
                *id,
                vault
                    .put(&id.to_string(), &pan)
                    .await
                    .expect("put")
                    .reference,
            );
        }
        let options = Options {
            vault: Some(Arc::new(vault)),
            ..Options::default()
        };
        s.sweep(as_of(), Some("kyc_records"), false, &options, &|_| {})
            .await
            .expect("sweep");
        let vault = options.vault.as_ref().expect("vault");
        let (mut mixed, mut gone) = (0, 0);
        for (id, (n, old)) in &rows {
            let whole = *old == *n && *id != HELD_SUBJECT;
            let readable = vault.get(&refs[id]).await.is_ok();
            assert_eq!(readable, !whole, "subject {id}: {old} of {n} rows expired");
            mixed += i32::from(*old > 0 && *old < *n);
            gone += i32::from(whole);
        }
        assert!(mixed > 0 && gone > 0, "mixed {mixed}, shredded {gone}");
    });
}
