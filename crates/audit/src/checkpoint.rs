//! Signed checkpoints of the log's head, kept in a file outside the
//! database, and the Ed25519 key that signs them (and, later, erasure
//! receipts).

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use privctl_fsio::{read_limited, AtomicFile};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use zeroize::Zeroizing;

use crate::{hex, unhex, Error, Result};

const KEY_HEADER: &str = "privctl-audit-key v1";
const CHECKPOINT_HEADER: &str = "privctl-audit-checkpoint v1";
/// Key and checkpoint files are small; anything larger is not one.
const MAX_FILE: u64 = 4096;

/// The Ed25519 key privctl signs with. Its private half never leaves the
/// key file and this value; `Debug` shows only the public key.
pub struct Signer {
    pair: Ed25519KeyPair,
    path: PathBuf,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("path", &self.path)
            .field("public_key", &self.public_hex())
            .finish_non_exhaustive()
    }
}

fn shown(path: &Path) -> String {
    privctl_policy::escape_path(path)
}

fn read(path: &Path, what: &'static str) -> Result<Zeroizing<String>> {
    let file = std::fs::File::open(path).map_err(|source| Error::File {
        what,
        path: shown(path),
        source,
    })?;
    let bytes = Zeroizing::new(read_limited(file, MAX_FILE).map_err(|e| Error::Invalid {
        what,
        path: shown(path),
        why: e.to_string(),
    })?);
    let text = std::str::from_utf8(&bytes).map_err(|_| Error::Invalid {
        what,
        path: shown(path),
        why: "it is not UTF-8 text".to_owned(),
    })?;
    Ok(Zeroizing::new(text.to_owned()))
}

impl Signer {
    /// Loads the key at `path`.
    pub fn load(path: &Path) -> Result<Signer> {
        let what = "audit key file";
        let text = read(path, what)?;
        let invalid = |why: &str| Error::Invalid {
            what,
            path: shown(path),
            why: why.to_owned(),
        };
        let mut lines = text.lines();
        if lines.next() != Some(KEY_HEADER) {
            return Err(invalid("its first line is not \"privctl-audit-key v1\""));
        }
        let pkcs8 = Zeroizing::new(
            lines
                .next()
                .and_then(unhex)
                .ok_or_else(|| invalid("its second line is not the key in hex"))?,
        );
        let pair = Ed25519KeyPair::from_pkcs8(&pkcs8)
            .map_err(|_| invalid("it does not hold an Ed25519 key"))?;
        Ok(Signer {
            pair,
            path: path.to_path_buf(),
        })
    }

    /// Loads the key at `path`, creating it (readable by its owner only)
    /// when there is none; says whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(Signer, bool)> {
        if std::fs::symlink_metadata(path).is_ok() {
            let signer = Signer::load(path)?;
            let public = PublicKey::path_for(path);
            if std::fs::symlink_metadata(&public).is_err() {
                signer.public().write(&public)?;
            }
            return Ok((signer, false));
        }
        let what = "audit key file";
        let io = |source| Error::File {
            what,
            path: shown(path),
            source,
        };
        let pkcs8 =
            Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| Error::Invalid {
                what,
                path: shown(path),
                why: "no key could be generated".to_owned(),
            })?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let text = Zeroizing::new(format!("{KEY_HEADER}\n{}\n", hex(pkcs8.as_ref())));
        let mut file = AtomicFile::new(path, Some(0o600)).map_err(io)?;
        file.file_mut().write_all(text.as_bytes()).map_err(io)?;
        match file.commit_new(true) {
            Ok(()) => {
                let signer = Signer::load(path)?;
                signer.public().write(&PublicKey::path_for(path))?;
                Ok((signer, true))
            }
            // Another run created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Ok((Signer::load(path)?, false))
            }
            Err(e) => Err(io(e)),
        }
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.pair.public_key().as_ref().to_vec())
    }

    /// The public key, hex.
    pub fn public_hex(&self) -> String {
        hex(self.pair.public_key().as_ref())
    }

    /// Signs `message`; the signature, hex.
    pub fn sign(&self, message: &[u8]) -> String {
        hex(self.pair.sign(message).as_ref())
    }

    /// A checkpoint of the head `(seq, hash)` at `at`.
    pub fn checkpoint(&self, seq: i64, hash: &str, at: DateTime<Utc>) -> Checkpoint {
        let at = DateTime::from_timestamp(at.timestamp(), 0).unwrap_or(at);
        let key = self.public_hex();
        let signature = self.sign(Checkpoint::message(seq, hash, at, &key).as_bytes());
        Checkpoint {
            seq,
            hash: hash.to_owned(),
            at,
            key,
            signature,
        }
    }
}

/// An Ed25519 public key, to check checkpoints and tokens without being
/// able to make them. Written beside the key file as `<key>.pub`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey(Vec<u8>);

const PUB_HEADER: &str = "privctl-audit-public-key v1";

impl PublicKey {
    /// Reads a public key file.
    pub fn load(path: &Path) -> Result<PublicKey> {
        let what = "audit public key file";
        let text = read(path, what)?;
        let invalid = |why: &str| Error::Invalid {
            what,
            path: shown(path),
            why: why.to_owned(),
        };
        let mut lines = text.lines();
        if lines.next() != Some(PUB_HEADER) {
            return Err(invalid(
                "its first line is not \"privctl-audit-public-key v1\"",
            ));
        }
        let key = lines
            .next()
            .and_then(unhex)
            .filter(|k| k.len() == 32)
            .ok_or_else(|| invalid("its second line is not a 32-byte key in hex"))?;
        Ok(PublicKey(key))
    }

    /// The key, hex.
    pub fn hex(&self) -> String {
        hex(&self.0)
    }

    /// Whether `signature` (raw bytes) signs `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.0)
            .verify(message, signature)
            .is_ok()
    }

    /// The public key file's path for the key file at `key`.
    pub fn path_for(key: &Path) -> PathBuf {
        let mut p = key.as_os_str().to_owned();
        p.push(".pub");
        PathBuf::from(p)
    }

    fn write(&self, path: &Path) -> Result<()> {
        let what = "audit public key file";
        let io = |source| Error::File {
            what,
            path: shown(path),
            source,
        };
        let mut file = AtomicFile::new(path, Some(0o644)).map_err(io)?;
        file.file_mut()
            .write_all(format!("{PUB_HEADER}\n{}\n", self.hex()).as_bytes())
            .map_err(io)?;
        file.commit(true).map_err(io)
    }
}

/// A signed statement that the log's entry `seq` had hash `hash` at `at`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Checkpoint {
    /// The head's number.
    pub seq: i64,
    /// The head's hash.
    pub hash: String,
    /// When it was signed.
    pub at: DateTime<Utc>,
    /// The signer's public key, hex.
    pub key: String,
    /// The signature, hex.
    pub signature: String,
}

impl Checkpoint {
    fn message(seq: i64, hash: &str, at: DateTime<Utc>, key: &str) -> String {
        format!(
            "{CHECKPOINT_HEADER}\nseq {seq}\nhash {hash}\nat {}\nkey {key}\n",
            at.to_rfc3339()
        )
    }

    /// Reads the checkpoint at `path` and checks its signature against
    /// `signer`'s key; `None` when there is no file.
    pub fn read(path: &Path, key: &PublicKey) -> Result<Option<Checkpoint>> {
        let what = "audit checkpoint";
        match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(Error::File {
                    what,
                    path: shown(path),
                    source,
                })
            }
            Ok(_) => {}
        }
        let text = read(path, what)?;
        let invalid = |why: &str| Error::Invalid {
            what,
            path: shown(path),
            why: why.to_owned(),
        };
        let mut fields = std::collections::BTreeMap::new();
        let mut lines = text.lines();
        if lines.next() != Some(CHECKPOINT_HEADER) {
            return Err(invalid(
                "its first line is not \"privctl-audit-checkpoint v1\"",
            ));
        }
        for line in lines {
            let (k, v) = line
                .split_once(' ')
                .ok_or_else(|| invalid("a line is not \"name value\""))?;
            fields.insert(k.to_owned(), v.to_owned());
        }
        let get = |k: &str| {
            fields
                .get(k)
                .cloned()
                .ok_or_else(|| invalid(&format!("it has no \"{k}\" line")))
        };
        let seq: i64 = get("seq")?
            .parse()
            .map_err(|_| invalid("its seq is not a number"))?;
        let at = DateTime::parse_from_rfc3339(&get("at")?)
            .map_err(|_| invalid("its time is not RFC 3339"))?
            .with_timezone(&Utc);
        let c = Checkpoint {
            seq,
            hash: get("hash")?,
            at,
            key: get("key")?,
            signature: get("signature")?,
        };
        if c.key != key.hex() {
            return Err(invalid("it was signed by another key than this audit key"));
        }
        let signature = unhex(&c.signature).ok_or_else(|| invalid("its signature is not hex"))?;
        if !key.verifies(
            Checkpoint::message(c.seq, &c.hash, c.at, &c.key).as_bytes(),
            &signature,
        ) {
            return Err(invalid(
                "its signature does not match its contents: it was edited",
            ));
        }
        Ok(Some(c))
    }

    /// Writes the checkpoint to `path`, whole or not at all.
    pub fn write(&self, path: &Path) -> Result<()> {
        let what = "audit checkpoint";
        let io = |source| Error::File {
            what,
            path: shown(path),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let text = format!(
            "{}signature {}\n",
            Checkpoint::message(self.seq, &self.hash, self.at, &self.key),
            self.signature
        );
        let mut file = AtomicFile::new(path, Some(0o644)).map_err(io)?;
        file.file_mut().write_all(text.as_bytes()).map_err(io)?;
        file.commit(true).map_err(io)
    }
}

/// Takes the lock file beside the checkpoint at `path`: writers of one
/// checkpoint take turns.
fn lock(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(PathBuf::from(lock_path))?;
    lock.lock()?;
    Ok(lock)
}

/// Signs the log's current head into the checkpoint at `path`, after
/// checking the log: from the last checkpoint on when there is one (the
/// entry it names unchanged, every later one following on), the whole log
/// when there is none. A checkpoint never moves back and is never written
/// over a log that does not check out; concurrent writers take turns on a
/// lock file beside it. Returns the new checkpoint, or `None` for an empty
/// log.
pub async fn advance(
    db: &privctl_store::Db,
    signer: &Signer,
    path: &Path,
    now: DateTime<Utc>,
) -> Result<Option<Checkpoint>> {
    let what = "audit checkpoint";
    let io = |source| Error::File {
        what,
        path: shown(path),
        source,
    };
    let lock = lock(path).map_err(io)?;
    let key = signer.public();
    let previous = Checkpoint::read(path, &key)?;
    let refuse = |seq: i64, why: String| Error::Invalid {
        what: "audit log",
        path: shown(path),
        why: format!("entry {seq}: {why}; run `privctl audit verify`"),
    };
    let v = match &previous {
        Some(p) => {
            let same = crate::entry_at(db, p.seq).await?;
            if same.as_deref() != Some(p.hash.as_str()) {
                return Err(refuse(
                    p.seq,
                    format!(
                        "checkpointed at {}, it is no longer in the log as written",
                        p.at.to_rfc3339()
                    ),
                ));
            }
            crate::verify_after(db, Some((p.seq, p.hash.clone())), None).await?
        }
        None => crate::verify(db, None).await?,
    };
    if let Some(problem) = v.problem {
        return Err(refuse(problem.seq, problem.what));
    }
    let Some((seq, hash)) = v.head else {
        return Ok(None);
    };
    if previous.as_ref().is_some_and(|p| p.seq > seq) {
        return Ok(previous);
    }
    let c = signer.checkpoint(seq, &hash, now);
    c.write(path)?;
    drop(lock);
    Ok(Some(c))
}

/// After the database was restored from a backup: the log is intact but
/// ends before the checkpoint. Records that in the log, naming the
/// checkpoint left behind, keeps the old checkpoint file beside the new one
/// (`<path>.before-restore-<seq>`), and checkpoints the new head, so that
/// `verify` passes again and the restore stays on the record. Returns the
/// checkpoint left behind; `None` when the log still reaches its
/// checkpoint (nothing to do). Refused when the entry the checkpoint names
/// exists with another hash (the log was changed, or written to after the
/// restore), or when the log is not intact from its first entry.
pub async fn rebase(
    db: &privctl_store::Db,
    signer: &Signer,
    path: &Path,
    now: DateTime<Utc>,
) -> Result<Option<Checkpoint>> {
    let what = "audit checkpoint";
    let io = |source| Error::File {
        what,
        path: shown(path),
        source,
    };
    let lock = lock(path).map_err(io)?;
    let key = signer.public();
    let Some(previous) = Checkpoint::read(path, &key)? else {
        return Ok(None);
    };
    match crate::entry_at(db, previous.seq).await? {
        Some(h) if h == previous.hash => return Ok(None),
        Some(_) => {
            return Err(Error::Invalid {
                what: "audit log",
                path: shown(path),
                why: format!(
                    "entry {} differs from the one checkpointed at {}: the log was changed, or written to after a restore; a restore is accepted only before anything else is written",
                    previous.seq,
                    previous.at.to_rfc3339()
                ),
            })
        }
        None => {}
    }
    let v = crate::verify(db, None).await?;
    if let Some(problem) = v.problem {
        return Err(Error::Invalid {
            what: "audit log",
            path: shown(path),
            why: format!(
                "entry {}: {}; a restored log must be intact up to its own head",
                problem.seq, problem.what
            ),
        });
    }
    // The checkpoint left behind, kept beside: never over another file or
    // through a link.
    let old = std::fs::read(path).map_err(io)?;
    let mut n = 0;
    loop {
        let mut kept = path.as_os_str().to_owned();
        kept.push(format!(".before-restore-{}", previous.seq));
        if n > 0 {
            kept.push(format!(".{n}"));
        }
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(PathBuf::from(kept))
        {
            Ok(mut f) => {
                f.write_all(&old).map_err(io)?;
                f.sync_all().map_err(io)?;
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 100 => n += 1,
            Err(e) => return Err(io(e)),
        }
    }
    crate::record(
        db,
        "audit.restored",
        None,
        &serde_json::json!({
            "checkpoint_left_behind": {
                "seq": previous.seq,
                "hash": previous.hash,
                "at": previous.at.to_rfc3339(),
            },
            "head_of_restored_log": v.head.as_ref().map(|(seq, hash)| serde_json::json!({ "seq": seq, "hash": hash })),
        }),
        now,
    )
    .await?;
    let v = crate::verify(db, None).await?;
    if let Some((seq, hash)) = v.head {
        signer.checkpoint(seq, &hash, now).write(path)?;
    }
    drop(lock);
    Ok(Some(previous))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_round_trips_and_refuses_edits() {
        let dir = tempfile::tempdir().expect("dir");
        let (signer, created) = Signer::load_or_create(&dir.path().join("k")).expect("key");
        assert!(created);
        let secret = std::fs::read_to_string(dir.path().join("k")).expect("key text");
        let secret = secret.lines().nth(1).expect("key line");
        let debug = format!("{signer:?}");
        // PKCS#8 v2: a 16-byte header, then the 32-byte private seed.
        assert!(debug.contains("public_key") && !debug.contains(&secret[32..96]));
        let (again, created) = Signer::load_or_create(&dir.path().join("k")).expect("key");
        assert!(!created);
        assert_eq!(again.public_hex(), signer.public_hex());
        let path = dir.path().join("head");
        let c = signer.checkpoint(7, "ab", Utc::now());
        c.write(&path).expect("write");
        assert_eq!(
            Checkpoint::read(&path, &signer.public()).expect("read"),
            Some(c)
        );
        let text = std::fs::read_to_string(&path).expect("text");
        std::fs::write(&path, text.replace("seq 7", "seq 9")).expect("edit");
        let err = Checkpoint::read(&path, &signer.public()).expect_err("edited");
        assert!(err.to_string().contains("it was edited"), "{err}");
        let (other, _) = Signer::load_or_create(&dir.path().join("k2")).expect("key");
        std::fs::write(&path, text).expect("restore");
        let err = Checkpoint::read(&path, &other.public()).expect_err("other key");
        assert!(err.to_string().contains("another key"), "{err}");
    }
}
