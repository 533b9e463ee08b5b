//! From privctl 0.1's tables (schema version 1) to this release's, in one
//! transaction under the write lock: all of it or none of it.
//!
//! Version 1 wrapped each subject's data key directly under a master key
//! and keyed every blind index with the index key from the key file. Here
//! each data key moves under a group key and each blind index is recomputed
//! under its group's index key; a subject version 1 shredded becomes a
//! tombstone (later values refused) and its references are remembered as
//! shredded; epoch keys are re-wrapped with this release's associated data.
//! Version 1's shred and `hash forget` left wrapped keys in the file under
//! live master keys, and its blind indexes were keyed by the key file's
//! index key: [`crate::Vault`] replaces the index key before this runs, and
//! every master version of that time is marked for destruction.
//! Unwrapping every key on the way also proves the key file is this
//! vault's: with the wrong one, nothing is changed.

use sqlx::AnyConnection;

use crate::keys::{self, Keyring, SecretKey, Wrapping};
use crate::store::{EpochRow, LegacyKeyRow, Store};
use crate::vault::{group_for_new_subject, now, reindex, GROUP_SIZE};
use crate::{Error, Result};

pub(crate) async fn run(store: &Store, c: &mut AnyConnection, ring: &Keyring) -> Result<()> {
    store.upgrade_tables(c).await?;
    for (v, check) in ring.master_checks() {
        store.add_master(c, v, &check).await?;
    }
    store
        .set_meta(c, "index_check", &ring.index_check())
        .await?;
    let version = ring.newest();
    let at = now();
    for row in store.legacy_keys(c).await? {
        let Some(dk) = legacy_data_key(ring, &row)? else {
            store
                .add_tombstone(c, &keys::subject_tag(ring.index_key(), &row.subject), at)
                .await?;
            for value in store.values_of(c, &row.subject).await? {
                store
                    .add_shredded_ref(c, &value.reference, &value.kind, at)
                    .await?;
            }
            store.delete_values_of(c, &row.subject).await?;
            store.delete_key(c, row.id).await?;
            continue;
        };
        let (group, gk) = group_for_new_subject(store, c, ring, version).await?;
        let w = keys::wrap(
            &gk.wrap,
            Wrapping::Data {
                group,
                subject: &row.subject,
            },
            &dk,
        )?;
        store.move_key(c, row.id, group, &w).await?;
        store.clear_legacy_version(c, row.id).await?;
        store.add_members(c, group, 1, GROUP_SIZE).await?;
        for value in store.values_of(c, &row.subject).await? {
            let blind = reindex(&dk, &gk, &value).map_err(wrong_keys)?;
            store.set_blind_index(c, &value.reference, &blind).await?;
        }
    }
    for mut e in store.epochs(c).await? {
        let key = legacy_epoch_key(ring, &e)?;
        e.master_version = version;
        e.wrapped = keys::wrap(
            ring.master(version)?,
            Wrapping::Epoch {
                version,
                purpose: &e.purpose,
                epoch: e.epoch,
            },
            &key,
        )?;
        store.update_epoch(c, &e).await?;
    }
    // 0.1's shred and `hash forget` left wrapped keys in the file under
    // master keys that are still alive: every version of its time goes.
    store
        .set_meta(c, crate::vault::DESTROY_THROUGH, &version.to_string())
        .await?;
    store
        .set_meta(
            c,
            "schema_version",
            &crate::store::SCHEMA_VERSION.to_string(),
        )
        .await
}

/// Proves `ring` opens every key of a version 1 vault, before anything of
/// it (or of the key file) changes.
pub(crate) async fn check_keys(store: &Store, c: &mut AnyConnection, ring: &Keyring) -> Result<()> {
    for row in store.legacy_keys(c).await? {
        legacy_data_key(ring, &row)?;
    }
    for e in store.epochs(c).await? {
        legacy_epoch_key(ring, &e)?;
    }
    Ok(())
}

/// A version 1 key that does not open with these keys means they are
/// another vault's, not that the vault was tampered with.
fn wrong_keys(e: Error) -> Error {
    match e {
        Error::Tampered => Error::WrongKeys {
            what: "the keys of its version 1 tables".to_owned(),
        },
        other => other,
    }
}

/// A version 1 subject's data key, wrapped under a master version directly;
/// `None` for a subject version 1 shredded.
fn legacy_data_key(ring: &Keyring, row: &LegacyKeyRow) -> Result<Option<SecretKey>> {
    let (Some(wrapped), Some(v), false) = (&row.wrapped, row.master_version, row.shredded) else {
        return Ok(None);
    };
    let v = u32::try_from(v).map_err(|_| Error::Corrupt(format!("master key version {v}")))?;
    let what = Wrapping::LegacyData {
        version: v,
        subject: &row.subject,
    };
    keys::unwrap(ring.master(v)?, what, wrapped)
        .map(Some)
        .map_err(wrong_keys)
}

/// A version 1 epoch key, wrapped as if for the subject `epoch:PURPOSE:N`.
fn legacy_epoch_key(ring: &Keyring, e: &EpochRow) -> Result<SecretKey> {
    let label = format!("epoch:{}:{}", e.purpose, e.epoch);
    let what = Wrapping::LegacyData {
        version: e.master_version,
        subject: &label,
    };
    keys::unwrap(ring.master(e.master_version)?, what, &e.wrapped).map_err(wrong_keys)
}
