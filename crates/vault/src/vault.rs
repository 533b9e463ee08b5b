//! The vault: KYC identifiers sealed per subject, found by blind index,
//! referenced by opaque keys, rotated, rewrapped and crypto-shredded.

use zeroize::Zeroizing;

use crate::keys::{self, Keyring, SecretKey};
use crate::kyc::{self, IdKind, KycId};
use crate::sealed::{self, SealedValue};
use crate::store::{Store, ValueRow};
use crate::{Error, Result};

/// A vault over a store, with its keyring.
#[derive(Debug)]
pub struct Vault {
    store: Store,
    keyring: Keyring,
}

/// What `put` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The opaque reference business tables keep.
    pub reference: String,
    /// Masked display of the value.
    pub masked: String,
}

/// What `rewrap` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RewrapReport {
    /// Data keys re-wrapped under the newest master version.
    pub rewrapped: u64,
    /// The newest master version.
    pub newest: u32,
}

impl Vault {
    /// A vault on `store` with `keyring`.
    pub fn new(store: Store, keyring: Keyring) -> Self {
        Vault { store, keyring }
    }

    /// The keyring (for rotation by the caller, who saves the key file).
    pub fn keyring_mut(&mut self) -> &mut Keyring {
        &mut self.keyring
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    async fn subject_key(&self, subject: &str, create: bool) -> Result<(u32, SecretKey)> {
        match self.store.data_key(subject).await? {
            Some(row) => match row.wrapped {
                Some(w) => Ok((row.id, keys::unwrap(&self.keyring, subject, &w)?)),
                None => Err(Error::Shredded(subject.to_owned())),
            },
            None if create => {
                let key = SecretKey::random()?;
                let wrapped = keys::wrap(&self.keyring, subject, &key)?;
                let id = self.store.insert_data_key(subject, &wrapped).await?;
                Ok((id, key))
            }
            None => Err(Error::NoSuchSubject(subject.to_owned())),
        }
    }

    /// Validates, seals and stores an identifier; returns its reference.
    pub async fn put(&self, subject: &str, id: &KycId) -> Result<Stored> {
        let (key_id, key) = self.subject_key(subject, true).await?;
        let reference = kyc::new_reference()?;
        let sealed = sealed::seal(
            &key,
            key_id,
            &reference,
            id.kind().name(),
            id.expose().as_bytes(),
        )?;
        self.store
            .insert_value(&ValueRow {
                reference: reference.clone(),
                subject: subject.to_owned(),
                kind: id.kind().name().to_owned(),
                sealed: sealed.as_bytes().to_vec(),
                blind_index: kyc::blind_index(self.keyring.index_key(), id),
            })
            .await?;
        Ok(Stored {
            reference,
            masked: id.masked(),
        })
    }

    /// Opens the value behind a reference.
    pub async fn get(&self, reference: &str) -> Result<(IdKind, Zeroizing<String>)> {
        let row = self
            .store
            .value(reference)
            .await?
            .ok_or_else(|| Error::NoSuchReference(reference.to_owned()))?;
        let kind = IdKind::parse(&row.kind)?;
        let sealed = SealedValue::parse(&row.sealed)?;
        let key_row = self
            .store
            .data_key_by_id(sealed.key_id())
            .await?
            .ok_or(Error::Tampered)?;
        if key_row.subject != row.subject {
            return Err(Error::Tampered);
        }
        let wrapped = key_row
            .wrapped
            .ok_or_else(|| Error::Shredded(row.subject.clone()))?;
        let key = keys::unwrap(&self.keyring, &row.subject, &wrapped)?;
        let plain = sealed::open(&key, reference, kind.name(), &sealed)?;
        let text = String::from_utf8(plain.to_vec()).map_err(|_| Error::Tampered)?;
        Ok((kind, Zeroizing::new(text)))
    }

    /// References (and subjects) holding this identifier, found by blind
    /// index without decrypting anything.
    pub async fn find(&self, id: &KycId) -> Result<Vec<(String, String)>> {
        self.store
            .find(
                id.kind().name(),
                &kyc::blind_index(self.keyring.index_key(), id),
            )
            .await
    }

    /// Re-wraps every data key under the newest master version, in batches;
    /// sealed values are not touched.
    pub async fn rewrap(&self) -> Result<RewrapReport> {
        let newest = self.keyring.newest();
        let mut report = RewrapReport {
            rewrapped: 0,
            newest,
        };
        for (purpose, epoch, w) in self.store.epochs_older_than(newest).await? {
            let label = format!("epoch:{purpose}:{epoch}");
            let new = keys::rewrap(&self.keyring, &label, &w)?;
            self.store.update_epoch(&purpose, epoch, &new).await?;
        }
        loop {
            let batch = self.store.keys_older_than(newest, 1000).await?;
            if batch.is_empty() {
                return Ok(report);
            }
            let mut updates = Vec::with_capacity(batch.len());
            for row in batch {
                let Some(w) = row.wrapped else { continue };
                updates.push((row.id, keys::rewrap(&self.keyring, &row.subject, &w)?));
            }
            self.store.update_wrapped(&updates).await?;
            report.rewrapped += updates.len() as u64;
        }
    }

    /// The keyed hash of `value` (an IP, a device fingerprint) for `purpose`
    /// under the key of the epoch `unix_seconds` falls in, creating that key
    /// on first use. Returns the epoch and the hash.
    pub async fn pseudonym(
        &self,
        purpose: &str,
        value: &str,
        unix_seconds: u64,
    ) -> Result<(u64, String)> {
        let epoch = crate::pseudo::epoch_of(unix_seconds);
        let label = format!("epoch:{purpose}:{epoch}");
        let wrapped = match self.store.epoch_key(purpose, epoch).await? {
            Some(w) => w,
            None => {
                let fresh = keys::wrap(&self.keyring, &label, &SecretKey::random()?)?;
                self.store.insert_epoch_key(purpose, epoch, &fresh).await?;
                // Another writer may have won the race: use what is stored.
                self.store.epoch_key(purpose, epoch).await?.unwrap_or(fresh)
            }
        };
        let key = keys::unwrap(&self.keyring, &label, &wrapped)?;
        Ok((epoch, crate::pseudo::keyed_hash(&key, purpose, value)))
    }

    /// Destroys the subject's data key: every value sealed under it becomes
    /// unreadable, wherever copies of the ciphertext are.
    pub async fn shred(&self, subject: &str) -> Result<bool> {
        self.store.shred(subject).await
    }
}
