//! Where a vault's keys come from, and the only code that writes a key file.
//!
//! Keys come either from a key file, which the vault may rewrite (rotation,
//! retirement, the master destruction that completes a crypto-shred), or
//! are given to it in memory (an environment variable, a secret store),
//! which it never writes anywhere: a keyring is only ever saved to the file
//! it was read from.
//!
//! Writers of a key file take an exclusive lock on `FILE.lock` beside it
//! (beside the file itself when the path is a symbolic link, so every path
//! to one file takes one lock), re-read the file under the lock, and
//! replace it whole through an unnamed temporary file that is flushed to
//! disk before it is renamed into place. So concurrent rotations never lose
//! a version, a key is durable before anything is wrapped under it, and a
//! writer killed at any point leaves neither a torn key file nor, once the
//! next writer has taken the lock, a stray copy of the keys. A key file
//! with several hard links is refused: replacing one name would split it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use privctl_fsio::{read_limited, AtomicFile, ReadError};
use privctl_policy::escape_path;

use crate::keys::Keyring;
use crate::{Error, Result};

/// The largest key file read. One master version takes 75 bytes.
pub const MAX_KEY_FILE_BYTES: u64 = 1 << 20;

/// A key file on disk.
#[derive(Debug, Clone)]
pub struct KeyFile {
    path: PathBuf,
}

/// An exclusive lock on a key file, held while it is read and rewritten.
#[derive(Debug)]
pub(crate) struct KeyFileLock {
    _file: File,
}

impl KeyFile {
    /// The key file at `path` (nothing is read yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        KeyFile { path: path.into() }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn shown(&self) -> String {
        escape_path(&self.path)
    }

    /// Reads and parses the keys: at most [`MAX_KEY_FILE_BYTES`], refusing a
    /// file that group or others may read (as ssh does), since the keys in
    /// it open every value in the vault.
    pub fn load(&self) -> Result<Keyring> {
        let read_err = |source| Error::KeyFileRead {
            path: self.shown(),
            source,
        };
        let file = File::open(&self.path).map_err(read_err)?;
        let meta = file.metadata().map_err(read_err)?;
        if !meta.is_file() {
            return Err(Error::KeyFileRead {
                path: self.shown(),
                source: std::io::Error::other("it is not a regular file"),
            });
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            if meta.nlink() > 1 {
                return Err(Error::KeyFileRead {
                    path: self.shown(),
                    source: std::io::Error::other(format!(
                        "it has {} hard links; rewriting it would split them (keep one name, or use a symbolic link)",
                        meta.nlink()
                    )),
                });
            }
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(Error::KeyFileExposed {
                    path: self.shown(),
                    mode,
                });
            }
        }
        let bytes = read_limited(file, MAX_KEY_FILE_BYTES).map_err(|e| match e {
            ReadError::Io(e) => read_err(e),
            _ => Error::KeyFile {
                origin: format!("key file {}", self.shown()),
                line: 0,
                reason: format!("it is larger than {} KiB", MAX_KEY_FILE_BYTES >> 10),
            },
        })?;
        let text =
            zeroize::Zeroizing::new(String::from_utf8(bytes).map_err(|_| Error::KeyFile {
                origin: format!("key file {}", self.shown()),
                line: 0,
                reason: "it is not UTF-8 text".to_owned(),
            })?);
        Keyring::parse(&text, &format!("key file {}", self.shown()))
    }

    /// Writes a new key file, owner-only and flushed to disk; refuses to
    /// replace one that exists.
    pub fn create(&self, keyring: &Keyring) -> Result<()> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| Error::KeyFileWrite {
                path: self.shown(),
                source,
            })?;
        }
        let mut file = self.temp()?;
        self.fill(&mut file, keyring)?;
        file.commit_new(true).map_err(|source| {
            if source.kind() == std::io::ErrorKind::AlreadyExists {
                Error::KeyFileExists { path: self.shown() }
            } else {
                Error::KeyFileWrite {
                    path: self.shown(),
                    source,
                }
            }
        })
    }

    /// The file itself: through a symbolic link, its target.
    fn real_path(&self) -> PathBuf {
        std::fs::canonicalize(&self.path).unwrap_or_else(|_| self.path.clone())
    }

    /// Takes the writers' lock, waiting (without blocking the async
    /// runtime) until other writers are done. Under it, temporary copies of
    /// the keys that a killed writer left are removed.
    pub(crate) async fn lock(&self) -> Result<KeyFileLock> {
        let real = self.real_path();
        let mut name = real.clone().into_os_string();
        name.push(".lock");
        let lock_path = PathBuf::from(name);
        let mut options = OpenOptions::new();
        options.create(true).truncate(false).write(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let lock_err = |source| Error::KeyFileWrite {
            path: escape_path(&lock_path),
            source,
        };
        let file = options.open(&lock_path).map_err(lock_err)?;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(lock_err(e)),
            }
        }
        privctl_fsio::remove_stale_temps(&real).map_err(|source| Error::KeyFileWrite {
            path: self.shown(),
            source,
        })?;
        Ok(KeyFileLock { _file: file })
    }

    /// Replaces the key file whole with `keyring`, durably, under the lock.
    pub(crate) fn save(&self, keyring: &Keyring, _lock: &KeyFileLock) -> Result<()> {
        let mut file = self.temp()?;
        self.fill(&mut file, keyring)?;
        file.commit(true).map_err(|source| Error::KeyFileWrite {
            path: self.shown(),
            source,
        })
    }

    /// A temporary file beside the real one (through a symbolic link, beside
    /// its target, which is what gets replaced).
    fn temp(&self) -> Result<AtomicFile> {
        AtomicFile::new(&self.real_path(), Some(0o600)).map_err(|source| Error::KeyFileWrite {
            path: self.shown(),
            source,
        })
    }

    fn fill(&self, file: &mut AtomicFile, keyring: &Keyring) -> Result<()> {
        file.file_mut()
            .write_all(keyring.to_text().as_bytes())
            .map_err(|source| Error::KeyFileWrite {
                path: self.shown(),
                source,
            })
    }
}

/// A vault's keys and where they came from.
#[derive(Debug, Clone)]
pub struct Keys {
    pub(crate) keyring: Keyring,
    pub(crate) file: Option<KeyFile>,
}

impl Keys {
    /// Keys read from a key file, which the vault rewrites when it rotates,
    /// retires or destroys a master version.
    pub fn from_file(path: impl Into<PathBuf>) -> Result<Self> {
        let file = KeyFile::new(path);
        Ok(Keys {
            keyring: file.load()?,
            file: Some(file),
        })
    }

    /// Keys given in memory (an environment variable, a secret manager).
    /// The vault never writes them anywhere, so operations that must change
    /// the master keys (rotation, retirement, crypto-shredding) are refused.
    pub fn given(keyring: Keyring) -> Self {
        Keys {
            keyring,
            file: None,
        }
    }

    /// The keyring.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// The key file they came from, if any.
    pub fn key_file(&self) -> Option<&KeyFile> {
        self.file.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_can_read_is_refused_with_the_fix() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = KeyFile::new(dir.path().join("vault.keys"));
        let ring = Keyring::generate().unwrap_or_else(|e| panic!("{e}"));
        file.create(&ring).unwrap_or_else(|e| panic!("{e}"));
        assert!(file.load().is_ok());
        std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o644))
            .unwrap_or_else(|e| panic!("{e}"));
        let err = file.load().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            err.contains("readable by group or others (mode 644)"),
            "{err}"
        );
        assert!(err.contains("hint: chmod 600 "), "{err}");
    }

    #[test]
    fn create_refuses_an_existing_file_and_leaves_no_copies() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = KeyFile::new(dir.path().join("vault.keys"));
        let ring = Keyring::generate().unwrap_or_else(|e| panic!("{e}"));
        file.create(&ring).unwrap_or_else(|e| panic!("{e}"));
        let other = Keyring::generate().unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            file.create(&other),
            Err(Error::KeyFileExists { .. })
        ));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            dir.path().join(".vault.keys.privctl-9-9-0.tmp"),
            "a killed writer's copy",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let lock = rt.block_on(file.lock()).unwrap_or_else(|e| panic!("{e}"));
        file.save(&other, &lock).unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let mut names = names;
        names.sort();
        assert_eq!(
            names,
            ["vault.keys", "vault.keys.lock"],
            "the stale copy is gone too"
        );
        let back = file.load().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.to_text(), other.to_text());
    }

    #[cfg(unix)]
    #[test]
    fn a_hard_linked_key_file_is_refused() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = KeyFile::new(dir.path().join("vault.keys"));
        file.create(&Keyring::generate().unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::hard_link(file.path(), dir.path().join("copy.keys"))
            .unwrap_or_else(|e| panic!("{e}"));
        let err = file.load().err().map(|e| {
            format!(
                "{e} {}",
                std::error::Error::source(&e)
                    .map(|s| s.to_string())
                    .unwrap_or_default()
            )
        });
        assert!(err.unwrap_or_default().contains("2 hard links"));
    }

    #[test]
    fn a_key_file_is_read_with_a_limit() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("huge.keys");
        std::fs::write(&path, "#".repeat(2 << 20)).unwrap_or_else(|e| panic!("{e}"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let err = KeyFile::new(&path)
            .load()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("larger than 1024 KiB"), "{err}");
    }
}
