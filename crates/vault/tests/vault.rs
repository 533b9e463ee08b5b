//! The vault on SQLite (always) and PostgreSQL (when
//! `PRIVCTL_TEST_POSTGRES_URL` is set, as `.ci/run` does): one suite, run
//! against each store.

use privctl_vault::{Error, IdKind, Keyring, KycId, Store, Vault};

async fn stores() -> Vec<(String, tempfile::TempDir, Store)> {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("vault.db").display()
    );
    let mut out = vec![(
        "sqlite".to_owned(),
        dir,
        Store::connect(&url).await.expect("sqlite"),
    )];
    if let Ok(admin) = std::env::var("PRIVCTL_TEST_POSTGRES_URL") {
        // A fresh database per test, as each vault owns its store.
        sqlx::any::install_default_drivers();
        let name = unique("vault").replace('-', "_");
        let pool = sqlx::AnyPool::connect(&admin)
            .await
            .expect("postgres admin");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&pool)
            .await
            .expect("create database");
        let url = format!(
            "{}/{name}",
            &admin[..admin.rfind('/').expect("database in URL")]
        );
        let store = Store::connect(&url).await.expect("postgres");
        out.push((
            "postgres".to_owned(),
            tempfile::tempdir().expect("dir"),
            store,
        ));
    }
    out
}

fn unique(prefix: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{prefix}-{n}")
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn put_get_find_on_every_store() {
    rt().block_on(async {
        for (name, _dir, store) in stores().await {
            let vault = Vault::new(store, Keyring::generate().expect("keys"));
            let subject = unique("user");
            let aadhaar = KycId::new(IdKind::Aadhaar, "2345 6789 0124").expect("valid");
            let stored = vault.put(&subject, &aadhaar).await.expect("put");
            assert!(stored.reference.starts_with("ref_"), "{name}");
            assert_eq!(stored.masked, "XXXX XXXX 0124");
            let (kind, value) = vault.get(&stored.reference).await.expect("get");
            assert_eq!(
                (kind, value.as_str()),
                (IdKind::Aadhaar, "234567890124"),
                "{name}"
            );
            let found = vault
                .find(&KycId::new(IdKind::Aadhaar, "234567890124").expect("valid"))
                .await
                .expect("find");
            assert!(
                found.contains(&(stored.reference.clone(), subject.clone())),
                "{name}"
            );
            let none = vault
                .find(&KycId::new(IdKind::Aadhaar, "999988887779").expect("valid"))
                .await
                .expect("find");
            assert!(none.is_empty());
        }
    });
}

#[test]
fn rotation_then_rewrap_keeps_every_value_readable() {
    rt().block_on(async {
        for (name, _dir, store) in stores().await {
            let mut vault = Vault::new(store, Keyring::generate().expect("keys"));
            let mut refs = Vec::new();
            for i in 0..5 {
                let pan = KycId::new(IdKind::Pan, &format!("ABCPE123{i}F")).expect("pan");
                refs.push(
                    vault
                        .put(&unique(&format!("rot{i}")), &pan)
                        .await
                        .expect("put")
                        .reference,
                );
            }
            let v2 = vault.keyring_mut().rotate().expect("rotate");
            assert_eq!(v2, 2);
            let report = vault.rewrap().await.expect("rewrap");
            assert!(report.rewrapped >= 5, "{name}: {report:?}");
            assert_eq!(
                vault.rewrap().await.expect("again").rewrapped,
                0,
                "rewrap is idempotent"
            );
            vault.keyring_mut().retire(1).expect("retire");
            for (i, r) in refs.iter().enumerate() {
                let (_, v) = vault.get(r).await.expect("readable after rewrap");
                assert_eq!(v.as_str(), format!("ABCPE123{i}F"));
            }
        }
    });
}

#[test]
fn shredded_subjects_cannot_be_read() {
    rt().block_on(async {
        for (name, _dir, store) in stores().await {
            let vault = Vault::new(store, Keyring::generate().expect("keys"));
            let subject = unique("gone");
            let r = vault
                .put(
                    &subject,
                    &KycId::new(IdKind::Pan, "ABCPE1234F").expect("pan"),
                )
                .await
                .expect("put")
                .reference;
            assert!(vault.shred(&subject).await.expect("shred"), "{name}");
            assert!(
                !vault.shred(&subject).await.expect("again"),
                "shredding twice is harmless"
            );
            assert!(
                matches!(vault.get(&r).await, Err(Error::Shredded(_))),
                "{name}"
            );
            assert!(matches!(
                vault
                    .put(
                        &subject,
                        &KycId::new(IdKind::Pan, "ABCPE1234F").expect("pan")
                    )
                    .await,
                Err(Error::Shredded(_))
            ));
        }
    });
}

#[test]
fn a_ciphertext_moved_to_another_row_does_not_open() {
    rt().block_on(async {
        for (name, _dir, store) in stores().await {
            let vault = Vault::new(store, Keyring::generate().expect("keys"));
            let subject = unique("mover");
            let a = vault
                .put(
                    &subject,
                    &KycId::new(IdKind::Pan, "ABCPE1234F").expect("pan"),
                )
                .await
                .expect("put")
                .reference;
            let b = vault
                .put(
                    &subject,
                    &KycId::new(IdKind::Pan, "ABCPE9999F").expect("pan"),
                )
                .await
                .expect("put")
                .reference;
            let row_a = vault.store().value(&a).await.expect("read").expect("row");
            vault
                .store()
                .overwrite_sealed(&b, &row_a.sealed)
                .await
                .expect("move");
            assert!(
                matches!(vault.get(&b).await, Err(Error::Tampered)),
                "{name}"
            );
            assert_eq!(
                vault.get(&a).await.expect("a still opens").1.as_str(),
                "ABCPE1234F"
            );
        }
    });
}

#[test]
fn the_wrong_master_key_is_rejected() {
    rt().block_on(async {
        for (name, dir, store) in stores().await {
            let vault = Vault::new(store.clone(), Keyring::generate().expect("keys"));
            let r = vault
                .put(
                    &unique("wk"),
                    &KycId::new(IdKind::Pan, "ABCPE1234F").expect("pan"),
                )
                .await
                .expect("put")
                .reference;
            let other = Vault::new(store, Keyring::generate().expect("other keys"));
            assert!(
                matches!(other.get(&r).await, Err(Error::Tampered)),
                "{name}"
            );
            drop(dir);
        }
    });
}

#[test]
fn epoch_keys_pseudonymise_and_forgetting_them_ends_linkability() {
    rt().block_on(async {
        for (name, _dir, store) in stores().await {
            let vault = Vault::new(store, Keyring::generate().expect("keys"));
            let t = 1_800_000_000;
            let (e1, a) = vault.pseudonym("ip", "203.0.113.7", t).await.expect("hash");
            let (_, b) = vault
                .pseudonym("ip", "203.0.113.7", t + 60)
                .await
                .expect("hash");
            assert_eq!(a, b, "{name}: stable within an epoch");
            let (e2, c) = vault
                .pseudonym(
                    "ip",
                    "203.0.113.7",
                    t + privctl_vault::pseudo::EPOCH_SECONDS,
                )
                .await
                .expect("hash");
            assert_eq!(e2, e1 + 1);
            assert_ne!(a, c, "{name}: unlinkable across epochs");
            let (_, d) = vault
                .pseudonym("device", "203.0.113.7", t)
                .await
                .expect("hash");
            assert_ne!(a, d, "purposes have their own keys");
            assert_eq!(
                vault
                    .store()
                    .destroy_epochs_before("ip", e2)
                    .await
                    .expect("destroy"),
                1
            );
            let (_, again) = vault.pseudonym("ip", "203.0.113.7", t).await.expect("hash");
            assert_ne!(a, again, "{name}: a destroyed epoch key is gone for good");
        }
    });
}
