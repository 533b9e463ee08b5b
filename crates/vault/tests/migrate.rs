//! A vault written by privctl 0.1 (`tests/data/v1`, made with that
//! release's binary) opens with this one: every value still reads, finds
//! and pseudonyms are unchanged, the subject it shredded stays shredded,
//! and the wrong key file changes nothing.

use std::path::Path;

use privctl_vault::{Error, IdKind, Keyring, Keys, KycId, Store, Vault};
use serde_json::Value;

use crate::common::rt;

fn fixture() -> (tempfile::TempDir, String, std::path::PathBuf) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/v1");
    let dir = tempfile::tempdir().expect("dir");
    std::fs::copy(from.join("vault.db"), dir.path().join("vault.db")).expect("copy");
    let keys = dir.path().join("vault.keys");
    std::fs::copy(from.join("vault.keys"), &keys).expect("copy");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let url = format!("sqlite:{}", dir.path().join("vault.db").display());
    (dir, url, keys)
}

fn refs() -> Vec<(String, String, String)> {
    let text = include_str!("data/v1/refs.jsonl");
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("json");
            let s = |k: &str| v[k].as_str().expect(k).to_owned();
            (s("reference"), s("subject"), s("masked"))
        })
        .collect()
}

#[test]
fn a_version_1_vault_upgrades_in_place() {
    rt().block_on(async {
        let (_dir, url, keys) = fixture();
        let v1_keys = std::fs::read_to_string(&keys).expect("keys");
        let vault = Vault::open(
            Store::open(&url).await.expect("store"),
            Keys::from_file(&keys).expect("keys"),
        )
        .await
        .expect("upgrade");
        let resumed = vault.resume().await.expect("resume");
        assert_eq!(
            resumed.destroyed_versions,
            [1, 2],
            "every 0.1 master version is destroyed"
        );
        let now_keys = std::fs::read_to_string(&keys).expect("keys");
        let index = |t: &str| {
            t.lines()
                .find(|l| l.starts_with("index "))
                .map(str::to_owned)
        };
        assert_ne!(
            index(&v1_keys),
            index(&now_keys),
            "the index key of 0.1 is replaced"
        );
        let expected = [
            ("user-1", "234567890124"),
            ("user-1", "ABCPE1234F"),
            ("user-2", "ABCPE9999F"),
            ("user-3", ""),
            ("user-4", "AAAPL1234C"),
        ];
        for ((reference, subject, _), (who, value)) in refs().iter().zip(expected) {
            assert_eq!(subject, who);
            match vault.get(reference).await {
                Ok((_, v)) => assert_eq!(v.as_str(), value, "{reference}"),
                Err(Error::ShreddedReference(_)) => assert_eq!(who, "user-3"),
                Err(e) => panic!("{reference}: {e}"),
            }
        }
        let found = vault
            .find(&KycId::new(IdKind::Aadhaar, "234567890124").expect("valid"))
            .await
            .expect("find");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].subject, "user-1");
        assert!(vault
            .find(&KycId::new(IdKind::Aadhaar, "999988887779").expect("valid"))
            .await
            .expect("find")
            .is_empty());
        assert!(matches!(
            vault
                .put(
                    "user-3",
                    &KycId::new(IdKind::Pan, "ABCPE1234F").expect("valid")
                )
                .await,
            Err(Error::Shredded(_))
        ));
        // The pseudonym of the fixture's epoch (230: it was made on
        // 2026-11-23) is the one 0.1 printed.
        let printed = include_str!("data/v1/ip-hash.txt").trim().to_owned();
        let t = 230 * privctl_vault::pseudo::EPOCH_SECONDS + 3600;
        let (epoch, h) = vault.pseudonym("ip", "203.0.113.7", t).await.expect("hash");
        assert_eq!(
            (epoch, h),
            (230, printed),
            "the upgraded epoch key hashes as before"
        );
        // Upgrading twice is a no-op, and new values work.
        let again = Vault::open(
            Store::open(&url).await.expect("store"),
            Keys::from_file(&keys).expect("keys"),
        )
        .await
        .expect("reopen");
        let r = again
            .put(
                "user-5",
                &KycId::new(IdKind::Pan, "ABCPE7777F").expect("valid"),
            )
            .await
            .expect("put");
        assert_eq!(
            again.get(&r.reference).await.expect("get").1.as_str(),
            "ABCPE7777F"
        );
    });
}

#[test]
fn the_wrong_keys_leave_a_version_1_vault_and_its_key_file_untouched() {
    rt().block_on(async {
        let (dir, url, keys) = fixture();
        let before = std::fs::read(dir.path().join("vault.db")).expect("db");
        // Keys in memory: the upgrade replaces the index key in the key
        // file, so it needs one.
        let given = privctl_vault::KeyFile::new(&keys).load().expect("keys");
        let err = Vault::open(Store::open(&url).await.expect("store"), Keys::given(given))
            .await
            .err();
        assert!(matches!(err, Some(Error::KeysReadOnly { .. })), "{err:?}");
        // Another vault's key file: refused before anything changes.
        let other = dir.path().join("other.keys");
        privctl_vault::KeyFile::new(&other)
            .create(&Keyring::generate().expect("keys"))
            .expect("other key file");
        let other_before = std::fs::read(&other).expect("other");
        let err = Vault::open(
            Store::open(&url).await.expect("store"),
            Keys::from_file(&other).expect("keys"),
        )
        .await
        .err();
        assert!(
            matches!(
                err,
                Some(Error::WrongKeys { .. } | Error::UnknownMasterVersion(_))
            ),
            "{err:?}"
        );
        assert_eq!(
            std::fs::read(&other).expect("other"),
            other_before,
            "the wrong key file is untouched"
        );
        assert_eq!(
            std::fs::read(dir.path().join("vault.db")).expect("db"),
            before,
            "nothing changed"
        );
    });
}
