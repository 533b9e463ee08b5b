//! The vault: KYC identifiers sealed per subject, found by blind index,
//! referenced by opaque keys, rotated, rewrapped and crypto-shredded.
//!
//! Every rule about keys lives here, not in a caller: a value is sealed
//! only under keys already stored (the master key durable in its file, the
//! group and data keys in the same transaction as the value); nothing is
//! wrapped under a master version that is being destroyed; a version is
//! retired only when no group key and no epoch key uses it; a shredded
//! subject takes no new values.

use std::future::Future;
use std::sync::{Arc, RwLock};

use sqlx::AnyConnection;
use zeroize::Zeroizing;

use crate::keyfile::{KeyFile, Keys};
use crate::keys::{self, GroupKeys, Keyring, SecretKey, Wrapping};
use crate::kyc::{self, IdKind, KycId};
use crate::sealed::{self, SealedValue};
use crate::store::{EpochRow, GroupRow, GroupState, KeyRow, Layout, MasterState, Store, ValueRow};
use crate::{migrate, Error, Result};

/// Subjects whose data keys one group key wraps. Shredding one of them
/// re-wraps the others (at most this many) under a new group key, so the
/// cost of a shred does not grow with the vault.
pub const GROUP_SIZE: i64 = 1024;
/// Keys moved or re-wrapped per short transaction.
const BATCH: i64 = 100;
/// Master versions at or below this one must be destroyed: set when a
/// key wrapped under it is deleted (a shredded subject's group, a
/// forgotten epoch), cleared once they are.
pub(crate) const DESTROY_THROUGH: &str = "destroy_through";

/// A vault over a store, with its keys.
#[derive(Debug)]
pub struct Vault {
    store: Store,
    keys: RwLock<Arc<Keys>>,
}

/// What `put` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The opaque reference business tables keep.
    pub reference: String,
    /// Masked display of the value.
    pub masked: String,
}

/// A value found by blind index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Found {
    /// Its reference.
    pub reference: String,
    /// Whose it is.
    pub subject: String,
}

/// What `rewrap` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RewrapReport {
    /// Group and epoch keys re-wrapped under the newest master version.
    pub rewrapped: u64,
    /// The newest master version.
    pub newest: u32,
}

/// What `resume` finished.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resumed {
    /// Subjects moved to a new group key.
    pub moved: u64,
    /// Master key versions destroyed.
    pub destroyed_versions: Vec<u32>,
}

/// What `shred` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShredReport {
    /// Whether the subject had a data key.
    pub had_key: bool,
    /// Values of theirs that can no longer be read.
    pub values: u64,
    /// Subjects whose keys moved to a new group key.
    pub moved: u64,
    /// Master key versions destroyed.
    pub destroyed_versions: Vec<u32>,
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A subject id: what the vault binds keys to and business tables use.
pub(crate) fn check_subject(subject: &str) -> Result<()> {
    let reason = if subject.is_empty() {
        "it is empty"
    } else if subject.len() > 255 {
        "it is longer than 255 bytes"
    } else if subject.chars().any(privctl_policy::is_unsafe_char) {
        "it holds control or bidirectional formatting characters"
    } else {
        return Ok(());
    };
    Err(Error::InvalidSubject { reason })
}

fn unwrap_group(ring: &Keyring, g: &GroupRow) -> Result<GroupKeys> {
    let key = keys::unwrap(
        ring.master(g.master_version)?,
        Wrapping::Group {
            version: g.master_version,
            group: g.id,
        },
        &g.wrapped,
    )?;
    Ok(GroupKeys::new(&key))
}

/// A subject's data key, unwrapped from its row under its group's key.
fn open_data_key(gk: &GroupKeys, row: &KeyRow) -> Result<SecretKey> {
    let what = Wrapping::Data {
        group: row.group,
        subject: &row.subject,
    };
    keys::unwrap(&gk.wrap, what, &row.wrapped)
}

/// An epoch key, unwrapped from its row under the master version it names.
fn open_epoch_key(ring: &Keyring, row: &EpochRow) -> Result<SecretKey> {
    keys::unwrap(
        ring.master(row.master_version)?,
        Wrapping::Epoch {
            version: row.master_version,
            purpose: &row.purpose,
            epoch: row.epoch,
        },
        &row.wrapped,
    )
}

fn key_id(id: i64) -> Result<u32> {
    u32::try_from(id).map_err(|_| Error::KeyIdsExhausted)
}

impl Vault {
    /// Opens the vault on `store` with `keys`: creates its tables in an
    /// empty database, upgrades privctl 0.1's tables (which needs the key
    /// file), and refuses keys that are not this vault's (a key file from
    /// another vault is reported as that, not later as tampering). Call
    /// [`Vault::resume`] to finish a shred a killed process left half done.
    pub async fn open(store: Store, keys: Keys) -> Result<Self> {
        let vault = Vault {
            store,
            keys: RwLock::new(Arc::new(keys)),
        };
        vault.prepare().await?;
        Ok(vault)
    }

    /// Finishes what an interrupted shred or `forget_epochs` left undone
    /// (moving a group to a new key, destroying master versions). Shredding
    /// and forgetting do this themselves; call it once after opening with a
    /// key file so an interrupted erasure does not wait for the next one.
    /// Needs the key file when there is anything to destroy.
    pub async fn resume(&self) -> Result<Resumed> {
        let (moved, destroyed_versions) = self.complete_pending().await?;
        Ok(Resumed {
            moved,
            destroyed_versions,
        })
    }

    /// Creates a vault: a new key file (owner-only, refused if one exists)
    /// and the tables, refused on a database that already holds a vault.
    pub async fn init(store: Store, key_file: &KeyFile) -> Result<Self> {
        let taken = store
            .write_with(async |c| {
                Ok(match store.layout(c).await? {
                    Layout::Empty => false,
                    Layout::V1 => true,
                    Layout::Current => !store.masters(c).await?.is_empty(),
                })
            })
            .await?;
        if taken {
            return Err(Error::VaultExists {
                url: store.url().clone(),
            });
        }
        let ring = Keyring::generate()?;
        key_file.create(&ring)?;
        let keys = Keys {
            keyring: ring,
            file: Some(key_file.clone()),
        };
        match Vault::open(store, keys).await {
            Ok(v) => Ok(v),
            Err(e) => {
                // Nothing was wrapped under the new keys: take them back, so
                // a retry is not refused for a key file nobody can use.
                let _ = std::fs::remove_file(key_file.path());
                Err(e)
            }
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The keys in use (reloaded from the key file when another process
    /// rotated them).
    pub fn keys(&self) -> Arc<Keys> {
        Arc::clone(&self.keys.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn set_keyring(&self, ring: Keyring) -> Arc<Keys> {
        let mut guard = self.keys.write().unwrap_or_else(|p| p.into_inner());
        let file = guard.file.clone();
        *guard = Arc::new(Keys {
            keyring: ring,
            file,
        });
        Arc::clone(&guard)
    }

    /// Re-reads the key file, when the keys came from one.
    fn reload(&self) -> Result<Option<Arc<Keys>>> {
        let Some(file) = self.keys().file.clone() else {
            return Ok(None);
        };
        let ring = file.load()?;
        Ok(Some(self.set_keyring(ring)))
    }

    fn key_file(&self, operation: &'static str) -> Result<KeyFile> {
        self.keys()
            .file
            .clone()
            .ok_or(Error::KeysReadOnly { operation })
    }

    /// Runs `op` with the current keys and, while they turn out older than
    /// the vault's (other processes rotated), again with the key file
    /// re-read, as long as re-reading it brings newer keys.
    pub(crate) async fn with_keys<T, F, Fut>(&self, op: F) -> Result<T>
    where
        F: Fn(Arc<Keys>) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut tried = self.keys().keyring.master_checks();
        loop {
            match op(self.keys()).await {
                Err(e @ (Error::StaleKeys { .. } | Error::UnknownMasterVersion(_))) => {
                    let Some(fresh) = self.reload()? else {
                        return Err(e);
                    };
                    let checks = fresh.keyring.master_checks();
                    if checks == tried {
                        return Err(e);
                    }
                    tried = checks;
                }
                other => return other,
            }
        }
    }

    // --- Opening -----------------------------------------------------------

    async fn prepare(&self) -> Result<()> {
        // Most opens only need to check the keys: in a read snapshot, so
        // that readers do not queue behind writers for the write lock.
        let (layout, settled) = self
            .store
            .read_with(async |c| {
                let layout = self.store.layout(c).await?;
                if layout != Layout::Current {
                    return Ok((layout, false));
                }
                let ring = &self.keys().keyring;
                self.verify(c, ring).await?;
                Ok((layout, !self.unregistered(c, ring).await?))
            })
            .await?;
        if settled {
            return Ok(());
        }
        if layout == Layout::V1 {
            self.upgrade_v1().await?;
        }
        let keys = self.keys();
        let ring = &keys.keyring;
        self.store
            .write_with(async |c| match self.store.layout(c).await? {
                Layout::Empty => {
                    self.store.create_tables(c).await?;
                    self.register(c, ring).await
                }
                // Upgraded by another process meanwhile, or not at all:
                // either way not under this transaction.
                Layout::V1 => Err(Error::Corrupt(
                    "version 1 tables remain after their upgrade".to_owned(),
                )),
                Layout::Current => {
                    self.verify(c, ring).await?;
                    self.register(c, ring).await
                }
            })
            .await
    }

    /// Upgrades privctl 0.1's tables, under the key file's lock: once the
    /// keys are shown to open every key of the vault, the index key (which
    /// keyed 0.1's blind indexes, copies of which stay in free pages) is
    /// replaced in the key file, the data moves in one transaction, and
    /// every master version of 0.1's time is marked for destruction.
    async fn upgrade_v1(&self) -> Result<()> {
        let file = self.key_file("upgrading a vault written by privctl 0.1")?;
        let lock = file.lock().await?;
        let mut ring = file.load()?;
        let still_v1 = self
            .store
            .read_with(async |c| {
                if self.store.layout(c).await? != Layout::V1 {
                    return Ok(false);
                }
                migrate::check_keys(&self.store, c, &ring).await?;
                Ok(true)
            })
            .await?;
        if still_v1 {
            ring.replace_index_key()?;
            file.save(&ring, &lock)?;
            self.store
                .write_with(async |c| match self.store.layout(c).await? {
                    Layout::V1 => migrate::run(&self.store, c, &ring).await,
                    _ => Ok(()),
                })
                .await?;
        }
        self.set_keyring(ring);
        Ok(())
    }

    /// Refuses keys that are not this vault's.
    async fn verify(&self, c: &mut AnyConnection, ring: &Keyring) -> Result<()> {
        if let Some(check) = self.store.meta(c, "index_check").await? {
            if check != ring.index_check() {
                return Err(Error::WrongKeys {
                    what: "its index key".to_owned(),
                });
            }
        }
        let recorded = self.store.masters(c).await?;
        for (v, check) in ring.master_checks() {
            if let Some(row) = recorded.iter().find(|r| r.version == v) {
                if row.check != check {
                    return Err(Error::WrongKeys {
                        what: format!("its master key version {v}"),
                    });
                }
            }
        }
        Ok(())
    }

    /// Records the keys' check values, and master versions newer than any
    /// the vault knows (the key file holds them, durably).
    pub(crate) async fn register(&self, c: &mut AnyConnection, ring: &Keyring) -> Result<()> {
        if self.store.meta(c, "index_check").await?.is_none() {
            self.store
                .set_meta(c, "index_check", &ring.index_check())
                .await?;
        }
        let newest_known = self.newest_known(c).await?;
        for (v, check) in ring.master_checks() {
            if v > newest_known {
                self.store.add_master(c, v, &check).await?;
            }
        }
        Ok(())
    }

    /// Whether [`Vault::register`] has anything to record for `ring`.
    async fn unregistered(&self, c: &mut AnyConnection, ring: &Keyring) -> Result<bool> {
        Ok(self.store.meta(c, "index_check").await?.is_none()
            || ring.newest() > self.newest_known(c).await?)
    }

    /// The newest master version the vault has recorded, in any state.
    async fn newest_known(&self, c: &mut AnyConnection) -> Result<u32> {
        let masters = self.store.masters(c).await?;
        Ok(masters.iter().map(|r| r.version).max().unwrap_or(0))
    }

    /// The master version new keys are wrapped under: the keyring's newest,
    /// which must be the vault's newest active one. Older keys are stale
    /// (another process rotated, or is destroying that version).
    async fn wrapping_version(&self, c: &mut AnyConnection, ring: &Keyring) -> Result<u32> {
        let masters = self.store.masters(c).await?;
        let newest_active = masters
            .iter()
            .filter(|r| r.state == MasterState::Active)
            .map(|r| r.version)
            .max();
        let v = ring.newest();
        match masters.iter().find(|r| r.version == v) {
            Some(row) if row.state == MasterState::Active && newest_active == Some(v) => Ok(v),
            None if newest_active.is_none_or(|n| n < v) => {
                let check = ring.master_checks().remove(&v).unwrap_or_default();
                self.store.add_master(c, v, &check).await?;
                Ok(v)
            }
            _ => Err(Error::StaleKeys {
                newest: newest_active.unwrap_or(0),
            }),
        }
    }

    async fn group_keys(
        &self,
        c: &mut AnyConnection,
        ring: &Keyring,
        id: i64,
    ) -> Result<GroupKeys> {
        let g = self.store.group(c, id).await?.ok_or_else(|| {
            Error::Corrupt(format!("a data key names group {id}, which does not exist"))
        })?;
        unwrap_group(ring, &g)
    }

    // --- Values ------------------------------------------------------------

    /// Validates, seals and stores an identifier; returns its reference.
    /// Refused for a subject that was crypto-shredded.
    pub async fn put(&self, subject: &str, id: &KycId) -> Result<Stored> {
        check_subject(subject)?;
        self.with_keys(|keys| self.try_put(keys, subject, id)).await
    }

    async fn try_put(&self, keys: Arc<Keys>, subject: &str, id: &KycId) -> Result<Stored> {
        let ring = &keys.keyring;
        self.store
            .write_with(async |c| {
                let (row_id, data_key, group) = self.data_key(c, ring, subject).await?;
                let reference = kyc::new_reference()?;
                let sealed = sealed::seal(
                    &data_key,
                    key_id(row_id)?,
                    &reference,
                    id.kind().name(),
                    id.expose().as_bytes(),
                )?;
                let row = ValueRow {
                    reference: reference.clone(),
                    subject: subject.to_owned(),
                    kind: id.kind().name().to_owned(),
                    sealed: sealed.as_bytes().to_vec(),
                    blind_index: kyc::blind_index(&group.index, id),
                };
                self.store.insert_value(c, &row).await?;
                Ok(Stored {
                    reference,
                    masked: id.masked(),
                })
            })
            .await
    }

    /// The subject's data key (its row id, the key, and its group's keys),
    /// made on first use; refused for a subject that was crypto-shredded.
    /// Call inside a write transaction.
    pub(crate) async fn data_key(
        &self,
        c: &mut AnyConnection,
        ring: &Keyring,
        subject: &str,
    ) -> Result<(i64, SecretKey, GroupKeys)> {
        let tag = keys::subject_tag(ring.index_key(), subject);
        if self.store.is_tombstoned(c, &tag).await? {
            return Err(Error::Shredded(subject.to_owned()));
        }
        Ok(match self.store.key_of(c, subject).await? {
            Some(row) => {
                let gk = self.group_keys(c, ring, row.group).await?;
                (row.id, open_data_key(&gk, &row)?, gk)
            }
            None => {
                let version = self.wrapping_version(c, ring).await?;
                let (group, gk) = group_for_new_subject(&self.store, c, ring, version).await?;
                let dk = SecretKey::random()?;
                let wrapped = keys::wrap(&gk.wrap, Wrapping::Data { group, subject }, &dk)?;
                let id = self.store.insert_key(c, subject, group, &wrapped).await?;
                self.store.add_members(c, group, 1, GROUP_SIZE).await?;
                (id, dk, gk)
            }
        })
    }

    /// The data key with this row id, if the vault still holds it.
    pub(crate) async fn data_key_by_id(&self, id: i64) -> Result<Option<SecretKey>> {
        self.with_keys(|keys| async move {
            let ring = &keys.keyring;
            let found = self
                .store
                .read_with(async |c| match self.store.key_by_id(c, id).await? {
                    Some(row) => {
                        let gk = self.group_keys(c, ring, row.group).await?;
                        Ok(Some((row, gk)))
                    }
                    None => Ok(None),
                })
                .await?;
            found.map(|(row, gk)| open_data_key(&gk, &row)).transpose()
        })
        .await
    }

    /// The key of `purpose`'s `epoch`, made on first use.
    pub(crate) async fn epoch_key(&self, purpose: &str, epoch: u64) -> Result<SecretKey> {
        self.with_keys(|keys| self.try_epoch_key(keys, purpose, epoch))
            .await
    }

    /// The key of `purpose`'s `epoch`, if the vault holds it; nothing is
    /// made or written.
    pub(crate) async fn existing_epoch_key(
        &self,
        purpose: &str,
        epoch: u64,
    ) -> Result<Option<SecretKey>> {
        self.with_keys(|keys| async move {
            let ring = &keys.keyring;
            let row = self
                .store
                .read_with(async |c| self.store.epoch_key(c, purpose, epoch).await)
                .await?;
            row.map(|row| open_epoch_key(ring, &row)).transpose()
        })
        .await
    }

    /// Opens the value behind a reference.
    pub async fn get(&self, reference: &str) -> Result<(IdKind, Zeroizing<String>)> {
        self.with_keys(|keys| self.try_get(keys, reference)).await
    }

    async fn try_get(
        &self,
        keys: Arc<Keys>,
        reference: &str,
    ) -> Result<(IdKind, Zeroizing<String>)> {
        let ring = &keys.keyring;
        let (row, sealed, key_row, gk) = self
            .store
            .read_with(async |c| {
                let Some(row) = self.store.value(c, reference).await? else {
                    return Err(if self.store.is_shredded_ref(c, reference).await? {
                        Error::ShreddedReference(reference.to_owned())
                    } else {
                        Error::NoSuchReference(reference.to_owned())
                    });
                };
                let sealed = SealedValue::parse(&row.sealed)?;
                // The key id in the header is authenticated only once the
                // value opens; until then a wrong one is a changed header.
                let key_row = self
                    .store
                    .key_by_id(c, i64::from(sealed.key_id()))
                    .await?
                    .filter(|k| k.subject == row.subject)
                    .ok_or(Error::Tampered)?;
                let gk = self.group_keys(c, ring, key_row.group).await?;
                Ok((row, sealed, key_row, gk))
            })
            .await?;
        let kind = IdKind::parse(&row.kind)?;
        // `key_row` is the value's subject's (checked above).
        let dk = open_data_key(&gk, &key_row)?;
        let plain = sealed::open(&dk, reference, kind.name(), &sealed)?;
        let text = String::from_utf8(plain.to_vec()).map_err(|_| Error::Tampered)?;
        Ok((kind, Zeroizing::new(text)))
    }

    /// References (and subjects) holding this identifier, found by blind
    /// index without decrypting anything.
    pub async fn find(&self, id: &KycId) -> Result<Vec<Found>> {
        self.with_keys(|keys| self.try_find(keys, id)).await
    }

    async fn try_find(&self, keys: Arc<Keys>, id: &KycId) -> Result<Vec<Found>> {
        let found = self
            .store
            .read_with(async |c| {
                // Each group keys its own blind indexes: one candidate per group.
                let blinds = self
                    .store
                    .groups(c)
                    .await?
                    .iter()
                    .map(|g| {
                        unwrap_group(&keys.keyring, g).map(|gk| kyc::blind_index(&gk.index, id))
                    })
                    .collect::<Result<Vec<_>>>()?;
                self.store.find(c, id.kind().name(), &blinds).await
            })
            .await?;
        Ok(found
            .into_iter()
            .map(|(reference, subject)| Found { reference, subject })
            .collect())
    }

    // --- Pseudonyms ----------------------------------------------------------

    /// The keyed hash of `value` (an IP, a device fingerprint) for `purpose`
    /// under the key of the epoch `unix_seconds` falls in, creating that key
    /// on first use. Returns the epoch and the hash.
    pub async fn pseudonym(
        &self,
        purpose: &str,
        value: &str,
        unix_seconds: u64,
    ) -> Result<(u64, String)> {
        if purpose.is_empty() {
            return Err(Error::Empty("pseudonym purpose"));
        }
        if value.trim().is_empty() {
            return Err(Error::Empty("value to pseudonymise"));
        }
        let epoch = crate::pseudo::epoch_of(unix_seconds);
        let key = self
            .with_keys(|keys| self.try_epoch_key(keys, purpose, epoch))
            .await?;
        Ok((epoch, crate::pseudo::keyed_hash(&key, purpose, value)))
    }

    async fn try_epoch_key(&self, keys: Arc<Keys>, purpose: &str, epoch: u64) -> Result<SecretKey> {
        let ring = &keys.keyring;
        let open = |row: &EpochRow| open_epoch_key(ring, row);
        let existing = self
            .store
            .read_with(async |c| self.store.epoch_key(c, purpose, epoch).await)
            .await?;
        if let Some(row) = existing {
            return open(&row);
        }
        self.store
            .write_with(async |c| {
                if let Some(row) = self.store.epoch_key(c, purpose, epoch).await? {
                    return open(&row);
                }
                let version = self.wrapping_version(c, ring).await?;
                let key = SecretKey::random()?;
                let what = Wrapping::Epoch {
                    version,
                    purpose,
                    epoch,
                };
                let row = crate::store::EpochRow {
                    purpose: purpose.to_owned(),
                    epoch,
                    master_version: version,
                    wrapped: keys::wrap(ring.master(version)?, what, &key)?,
                };
                self.store.insert_epoch(c, &row).await?;
                Ok(key)
            })
            .await
    }

    /// Destroys the epoch keys of `purpose` before `epoch`, so that hashes
    /// made under them can no longer be linked to any value, then destroys
    /// the master version that wrapped them (their copies in free pages,
    /// dead tuples or logs open with nothing left). Needs the key file.
    pub async fn forget_epochs(&self, purpose: &str, epoch: u64) -> Result<u64> {
        self.key_file("forgetting epoch keys")?;
        let n = self
            .store
            .write_with(async |c| {
                let newest_doomed = self
                    .store
                    .epochs(c)
                    .await?
                    .into_iter()
                    .filter(|e| e.purpose == purpose && e.epoch < epoch)
                    .map(|e| e.master_version)
                    .max();
                let n = self.store.delete_epochs_before(c, purpose, epoch).await?;
                if let Some(v) = newest_doomed {
                    self.mark_for_destruction(c, v).await?;
                }
                Ok(n)
            })
            .await?;
        self.complete_pending().await?;
        Ok(n)
    }

    // --- Master keys -----------------------------------------------------------

    /// Adds a new master key version, written durably to the key file before
    /// the vault uses it; returns it. Needs the key file.
    pub async fn rotate(&self) -> Result<u32> {
        let file = self.key_file("rotating the master key")?;
        let lock = file.lock().await?;
        let mut ring = file.load()?;
        self.store
            .read_with(async |c| self.verify(c, &ring).await)
            .await?;
        let v = ring.rotate()?;
        file.save(&ring, &lock)?;
        self.store
            .write_with(async |c| self.register(c, &ring).await)
            .await?;
        self.set_keyring(ring);
        Ok(v)
    }

    /// Re-wraps every group and epoch key under the newest master version,
    /// in short batches; data keys and sealed values are not touched.
    pub async fn rewrap(&self) -> Result<RewrapReport> {
        self.with_keys(|keys| async move {
            let newest = keys.keyring.newest();
            let rewrapped = self.rewrap_below(&keys.keyring, newest).await?;
            Ok(RewrapReport { rewrapped, newest })
        })
        .await
    }

    /// Re-wraps group and epoch keys under a version older than `newest`,
    /// one batch per transaction.
    async fn rewrap_below(&self, ring: &Keyring, newest: u32) -> Result<u64> {
        let mut done = 0u64;
        loop {
            let n = self
                .store
                .write_with(async |c| {
                    if self.wrapping_version(c, ring).await? != newest {
                        return Err(Error::StaleKeys { newest });
                    }
                    let groups = self.store.groups_wrapped_before(c, newest, BATCH).await?;
                    let epochs = self.store.epochs_wrapped_before(c, newest, BATCH).await?;
                    for g in &groups {
                        let key = keys::unwrap(
                            ring.master(g.master_version)?,
                            Wrapping::Group {
                                version: g.master_version,
                                group: g.id,
                            },
                            &g.wrapped,
                        )?;
                        let what = Wrapping::Group {
                            version: newest,
                            group: g.id,
                        };
                        let w = keys::wrap(ring.master(newest)?, what, &key)?;
                        self.store.set_group_wrap(c, g.id, newest, &w).await?;
                    }
                    for e in &epochs {
                        let key = keys::unwrap(
                            ring.master(e.master_version)?,
                            Wrapping::Epoch {
                                version: e.master_version,
                                purpose: &e.purpose,
                                epoch: e.epoch,
                            },
                            &e.wrapped,
                        )?;
                        let what = Wrapping::Epoch {
                            version: newest,
                            purpose: &e.purpose,
                            epoch: e.epoch,
                        };
                        let mut row = e.clone();
                        row.master_version = newest;
                        row.wrapped = keys::wrap(ring.master(newest)?, what, &key)?;
                        self.store.update_epoch(c, &row).await?;
                    }
                    Ok((groups.len() + epochs.len()) as u64)
                })
                .await?;
            if n == 0 {
                return Ok(done);
            }
            done += n;
        }
    }

    /// Forgets a master key version: refused for the newest, and while any
    /// group key or epoch key is still wrapped under it (run
    /// [`Vault::rewrap`] first). Needs the key file.
    pub async fn retire(&self, version: u32) -> Result<()> {
        let file = self.key_file("retiring a master key version")?;
        let lock = file.lock().await?;
        let mut ring = file.load()?;
        if !ring.has(version) {
            return Err(Error::UnknownMasterVersion(version));
        }
        if version == ring.newest() {
            return Err(Error::RetireNewest(version));
        }
        self.store
            .write_with(async |c| {
                self.verify(c, &ring).await?;
                let usage = self.store.usage(c).await?;
                if let Some((_, groups, epochs)) = usage.into_iter().find(|(v, _, _)| *v == version)
                {
                    return Err(Error::VersionInUse {
                        version,
                        groups,
                        epochs,
                    });
                }
                self.store
                    .set_master_state(c, version, MasterState::Retired)
                    .await
            })
            .await?;
        ring.forget(version);
        file.save(&ring, &lock)?;
        self.set_keyring(ring);
        Ok(())
    }

    // --- Crypto-shredding --------------------------------------------------------

    /// Crypto-shreds a subject: their values, blind indexes and data key are
    /// deleted, later values for them are refused, the other subjects of
    /// their group move to a new group key, and every master version is
    /// replaced by a new one in the key file. Afterwards nothing in the
    /// database, its free pages, dead tuples or logs, opened with the key
    /// file, recovers their data key; ciphertexts copied elsewhere are
    /// unreadable ([`crate::manual`] says why, and what is not covered).
    /// Needs the key file. Interrupted, it completes when run again or on
    /// [`Vault::resume`].
    pub async fn shred(&self, subject: &str) -> Result<ShredReport> {
        check_subject(subject)?;
        self.key_file("crypto-shredding")?;
        let mut report = self.shred_first_step(subject).await?;
        let (moved, destroyed) = self.complete_pending().await?;
        report.moved = moved;
        report.destroyed_versions = destroyed;
        Ok(report)
    }

    /// One transaction: the subject's values, blind indexes and data key
    /// deleted, the subject remembered by its tag, their group (and its
    /// replacement, if a move has begun) retiring.
    async fn shred_first_step(&self, subject: &str) -> Result<ShredReport> {
        let keys = self.keys();
        self.store
            .write_with(async |c| {
                let mut report = ShredReport::default();
                let at = now();
                let tag = keys::subject_tag(keys.keyring.index_key(), subject);
                self.store.add_tombstone(c, &tag, at).await?;
                if let Some(row) = self.store.key_of(c, subject).await? {
                    report.had_key = true;
                    for v in self.store.values_of(c, subject).await? {
                        self.store
                            .add_shredded_ref(c, &v.reference, &v.kind, at)
                            .await?;
                    }
                    report.values = self.store.delete_values_of(c, subject).await?;
                    self.store.delete_key(c, row.id).await?;
                    self.store.add_members(c, row.group, -1, GROUP_SIZE).await?;
                    self.store
                        .set_group_state(c, row.group, GroupState::Retiring)
                        .await?;
                    // A move out of their group may have started: a batch
                    // that was rolled back can still hold their key,
                    // wrapped under the replacement, in PostgreSQL's dead
                    // tuples and log. The replacement goes too.
                    let group = self.store.group(c, row.group).await?;
                    if let Some(next) = group.and_then(|g| g.replaced_by) {
                        self.store
                            .set_group_state(c, next, GroupState::Retiring)
                            .await?;
                    }
                }
                Ok(report)
            })
            .await
    }

    async fn mark_for_destruction(&self, c: &mut AnyConnection, version: u32) -> Result<()> {
        let current = self
            .store
            .meta(c, DESTROY_THROUGH)
            .await?
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0);
        if version > current {
            self.store
                .set_meta(c, DESTROY_THROUGH, &version.to_string())
                .await?;
        }
        Ok(())
    }

    /// Finishes what shreds and forgets started: replaces every retiring
    /// group key, then destroys the master versions that wrapped deleted
    /// keys. Returns the subjects moved and the versions destroyed.
    async fn complete_pending(&self) -> Result<(u64, Vec<u32>)> {
        let mut moved = 0;
        let mut destroyed = Vec::new();
        loop {
            moved += self.replace_retiring_groups().await?;
            let through = self
                .store
                .read_with(async |c| self.store.meta(c, DESTROY_THROUGH).await)
                .await?;
            let Some(through) = through else { break };
            destroyed.extend(self.destroy_all_but_new(&through).await?);
        }
        self.drop_retired_from_file().await?;
        if moved > 0 || !destroyed.is_empty() {
            self.store.flush_log().await?;
        }
        destroyed.sort_unstable();
        destroyed.dedup();
        Ok((moved, destroyed))
    }

    /// Moves the subjects of every retiring group to a new group key, then
    /// deletes the old one (recording that its master version must go).
    async fn replace_retiring_groups(&self) -> Result<u64> {
        let mut moved = 0;
        let retiring = self
            .store
            .read_with(async |c| self.store.groups_in_state(c, GroupState::Retiring).await)
            .await?;
        for g in retiring {
            moved += self
                .with_keys(|keys| self.replace_group(keys, g.id))
                .await?;
        }
        Ok(moved)
    }

    async fn replace_group(&self, keys: Arc<Keys>, old: i64) -> Result<u64> {
        let ring = &keys.keyring;
        // The replacement, created once even if several processes finish
        // the same shred.
        let new = self
            .store
            .write_with(async |c| {
                let Some(g) = self.store.group(c, old).await? else {
                    return Ok(None);
                };
                if let Some(id) = g.replaced_by {
                    return Ok(Some(id));
                }
                let version = self.wrapping_version(c, ring).await?;
                let (id, _) = new_group(&self.store, c, ring, version, GroupState::Open).await?;
                self.store.set_replaced_by(c, old, id).await?;
                Ok(Some(id))
            })
            .await?;
        let Some(new) = new else { return Ok(0) };
        let mut moved = 0u64;
        loop {
            let n = self
                .store
                .write_with(async |c| {
                    let Some(g) = self.store.group(c, old).await? else {
                        return Ok(0);
                    };
                    let batch = self.store.keys_in_group(c, old, BATCH).await?;
                    if batch.is_empty() {
                        self.store.delete_group(c, old).await?;
                        self.mark_for_destruction(c, g.master_version).await?;
                        return Ok(0);
                    }
                    let from = unwrap_group(ring, &g)?;
                    let to = self.group_keys(c, ring, new).await?;
                    for k in &batch {
                        let dk = keys::unwrap(
                            &from.wrap,
                            Wrapping::Data {
                                group: old,
                                subject: &k.subject,
                            },
                            &k.wrapped,
                        )?;
                        let what = Wrapping::Data {
                            group: new,
                            subject: &k.subject,
                        };
                        let w = keys::wrap(&to.wrap, what, &dk)?;
                        self.store.move_key(c, k.id, new, &w).await?;
                        // Blind indexes follow the key that makes them.
                        for v in self.store.values_of(c, &k.subject).await? {
                            let blind = reindex(&dk, &to, &v)?;
                            self.store.set_blind_index(c, &v.reference, &blind).await?;
                        }
                    }
                    let n = batch.len() as u64;
                    self.store.add_members(c, new, n as i64, GROUP_SIZE).await?;
                    Ok(n)
                })
                .await?;
            if n == 0 {
                return Ok(moved);
            }
            moved += n;
        }
    }

    /// Destroys every master version there is: a new one takes over in the
    /// key file, every key wrapped under the others is re-wrapped, and they
    /// leave the key file, durably. (All of them, not only those up to the
    /// marker: a re-wrap that was rolled back can have left a group key
    /// under a newer version in PostgreSQL's dead tuples.) Returns the
    /// versions destroyed.
    async fn destroy_all_but_new(&self, marker: &str) -> Result<Vec<u32>> {
        let file = self.key_file("destroying a master key version")?;
        let lock = file.lock().await?;
        let mut ring = file.load()?;
        self.store
            .read_with(async |c| self.verify(c, &ring).await)
            .await?;
        let doomed = ring.versions();
        let newest = ring.rotate()?;
        file.save(&ring, &lock)?;
        self.store
            .write_with(async |c| {
                self.register(c, &ring).await?;
                // Nothing new is wrapped under the old ones from here on.
                for row in self.store.masters(c).await? {
                    if row.version < newest && row.state == MasterState::Active {
                        self.store
                            .set_master_state(c, row.version, MasterState::Retiring)
                            .await?;
                    }
                }
                Ok(())
            })
            .await?;
        self.set_keyring(ring.clone());
        loop {
            self.rewrap_below(&ring, newest).await?;
            let retired = self
                .store
                .write_with(async |c| {
                    if self
                        .store
                        .usage(c)
                        .await?
                        .iter()
                        .any(|(x, _, _)| *x < newest)
                    {
                        return Ok(false);
                    }
                    for row in self.store.masters(c).await? {
                        if row.version < newest && row.state != MasterState::Retired {
                            self.store
                                .set_master_state(c, row.version, MasterState::Retired)
                                .await?;
                        }
                    }
                    Ok(true)
                })
                .await?;
            if retired {
                break;
            }
        }
        for x in &doomed {
            ring.forget(*x);
        }
        file.save(&ring, &lock)?;
        self.set_keyring(ring);
        self.store
            .write_with(async |c| self.store.clear_meta(c, DESTROY_THROUGH, marker).await)
            .await?;
        Ok(doomed)
    }

    /// A key file that still holds versions the vault has retired (a
    /// process stopped between the two writes) loses them now.
    async fn drop_retired_from_file(&self) -> Result<()> {
        let Some(file) = self.keys().file.clone() else {
            return Ok(());
        };
        let retired: Vec<u32> = self
            .store
            .read_with(async |c| self.store.masters(c).await)
            .await?
            .into_iter()
            .filter(|r| r.state == MasterState::Retired)
            .map(|r| r.version)
            .collect();
        if !retired.iter().any(|v| self.keys().keyring.has(*v)) {
            return Ok(());
        }
        let lock = file.lock().await?;
        let mut ring = file.load()?;
        let mut changed = false;
        for v in retired {
            if ring.has(v) && v != ring.newest() {
                ring.forget(v);
                changed = true;
            }
        }
        if changed {
            file.save(&ring, &lock)?;
        }
        self.set_keyring(ring);
        Ok(())
    }
}

/// States a process killed at the wrong moment leaves, for tests that check
/// the vault recovers from them without leaking anything.
#[cfg(feature = "testing")]
impl Vault {
    /// Runs only the first step of a shred, as a process killed right after
    /// it would.
    pub async fn shred_first_step_for_test(&self, subject: &str) -> Result<()> {
        self.shred_first_step(subject).await.map(drop)
    }

    /// Starts moving `subject` to the replacement of their group (creating
    /// it), then rolls the move back, as a process killed before its commit
    /// would: on PostgreSQL the moved key stays in a dead tuple.
    pub async fn aborted_move_for_test(&self, subject: &str) -> Result<()> {
        let keys = self.keys();
        let ring = &keys.keyring;
        let row = self
            .store
            .read_with(async |c| self.store.key_of(c, subject).await)
            .await?
            .ok_or_else(|| Error::Corrupt(format!("no key for {subject}")))?;
        let new = self
            .store
            .write_with(async |c| {
                let g = self.store.group(c, row.group).await?;
                if let Some(id) = g.and_then(|g| g.replaced_by) {
                    return Ok(id);
                }
                let version = self.wrapping_version(c, ring).await?;
                let (id, _) = new_group(&self.store, c, ring, version, GroupState::Open).await?;
                self.store.set_replaced_by(c, row.group, id).await?;
                Ok(id)
            })
            .await?;
        let rolled_back = self
            .store
            .write_with(async |c| {
                let from = self.group_keys(c, ring, row.group).await?;
                let to = self.group_keys(c, ring, new).await?;
                let what = Wrapping::Data {
                    group: row.group,
                    subject,
                };
                let dk = keys::unwrap(&from.wrap, what, &row.wrapped)?;
                let w = keys::wrap(
                    &to.wrap,
                    Wrapping::Data {
                        group: new,
                        subject,
                    },
                    &dk,
                )?;
                self.store.move_key(c, row.id, new, &w).await?;
                Err::<(), _>(Error::Corrupt("killed before the commit".to_owned()))
            })
            .await;
        debug_assert!(rolled_back.is_err());
        Ok(())
    }

    /// Re-wraps `subject`'s group key under the newest master version, then
    /// rolls it back, as a `rewrap` killed before its commit would.
    pub async fn aborted_rewrap_for_test(&self, subject: &str) -> Result<()> {
        let keys = self.keys();
        let ring = &keys.keyring;
        let rolled_back = self
            .store
            .write_with(async |c| {
                let row = self
                    .store
                    .key_of(c, subject)
                    .await?
                    .ok_or_else(|| Error::Corrupt(format!("no key for {subject}")))?;
                let g = self
                    .store
                    .group(c, row.group)
                    .await?
                    .ok_or_else(|| Error::Corrupt("no group".to_owned()))?;
                let key = keys::unwrap(
                    ring.master(g.master_version)?,
                    Wrapping::Group {
                        version: g.master_version,
                        group: g.id,
                    },
                    &g.wrapped,
                )?;
                let newest = ring.newest();
                let what = Wrapping::Group {
                    version: newest,
                    group: g.id,
                };
                let w = keys::wrap(ring.master(newest)?, what, &key)?;
                self.store.set_group_wrap(c, g.id, newest, &w).await?;
                Err::<(), _>(Error::Corrupt("killed before the commit".to_owned()))
            })
            .await;
        debug_assert!(rolled_back.is_err());
        Ok(())
    }
}

/// A group for a new subject: the open one, or a new one whose key is
/// wrapped under `version`.
pub(crate) async fn group_for_new_subject(
    store: &Store,
    c: &mut AnyConnection,
    ring: &Keyring,
    version: u32,
) -> Result<(i64, GroupKeys)> {
    if let Some(g) = store.open_group(c).await? {
        return Ok((g.id, unwrap_group(ring, &g)?));
    }
    new_group(store, c, ring, version, GroupState::Open).await
}

/// A new group with a random key wrapped under master `version`. The row is
/// inserted first: its id is part of the wrapping's associated data.
async fn new_group(
    store: &Store,
    c: &mut AnyConnection,
    ring: &Keyring,
    version: u32,
    state: GroupState,
) -> Result<(i64, GroupKeys)> {
    let id = store.insert_group(c, state).await?;
    let key = SecretKey::random()?;
    let wrapped = keys::wrap(
        ring.master(version)?,
        Wrapping::Group { version, group: id },
        &key,
    )?;
    store.set_group_wrap(c, id, version, &wrapped).await?;
    Ok((id, GroupKeys::new(&key)))
}

/// The blind index of a stored value under another group's index key.
pub(crate) fn reindex(dk: &SecretKey, to: &GroupKeys, v: &ValueRow) -> Result<String> {
    let kind = IdKind::parse(&v.kind)?;
    let sealed = SealedValue::parse(&v.sealed)?;
    let plain = sealed::open(dk, &v.reference, kind.name(), &sealed)?;
    // The value was validated when it was stored; it is indexed as it is,
    // so a later, stricter rule can never stop a shred halfway.
    let text = Zeroizing::new(String::from_utf8(plain.to_vec()).map_err(|_| Error::Tampered)?);
    Ok(kyc::blind_index_of(&to.index, kind, &text))
}
