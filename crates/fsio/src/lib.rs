//! Files the way a privacy tool must treat them.
//!
//! * **Bounded reads.** Every input has a size that fits what it is (a
//!   policy, a key file, one identifier on stdin); [`read_limited`] stops one
//!   byte past the limit instead of reading `/dev/zero` until memory runs out.
//! * **Replace only regular files, and only whole.** [`AtomicFile`] writes
//!   beside its target and moves the result into place on
//!   [`AtomicFile::commit`]; until then the target is untouched. On Linux the
//!   temporary file is unnamed (`O_TMPFILE`), so a run that is killed, even
//!   by `SIGKILL`, leaves nothing behind: no half-written output, and no
//!   stray copy of a key file.
//! * **Write anything else in place.** [`Output::open`] replaces a regular
//!   file (through a symbolic link, the link stays and its target is
//!   replaced) or creates a new one, but writes a FIFO, a terminal or a device
//!   such as `/dev/null` in place: renaming over them would swap a system
//!   file for a regular one.
//!
//! ```
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("out.txt");
//! let mut out = privctl_fsio::Output::open(&path).unwrap();
//! std::io::Write::write_all(out.writer(), b"redacted").unwrap();
//! assert!(!path.exists(), "nothing appears before commit");
//! out.commit().unwrap();
//! assert_eq!(std::fs::read(&path).unwrap(), b"redacted");
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Errors of a bounded read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The input is larger than the limit.
    #[error("it is larger than {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// Reading failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Reads all of `reader`, refusing more than `limit` bytes.
///
/// ```
/// use privctl_fsio::{read_limited, ReadError};
/// assert_eq!(read_limited(&b"abc"[..], 3).unwrap(), b"abc");
/// assert!(matches!(read_limited(std::io::repeat(0), 1 << 10), Err(ReadError::TooLarge { .. })));
/// ```
pub fn read_limited(reader: impl Read, limit: u64) -> Result<Vec<u8>, ReadError> {
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge { limit });
    }
    Ok(bytes)
}

/// A file being written that replaces `target` only when committed.
#[derive(Debug)]
pub struct AtomicFile {
    target: PathBuf,
    dir: PathBuf,
    temp: Temp,
}

#[derive(Debug)]
enum Temp {
    /// Linux: an unnamed file in the target's directory.
    #[cfg(target_os = "linux")]
    Unnamed(File),
    /// Elsewhere, or on file systems without `O_TMPFILE`: a named one,
    /// removed when dropped.
    Named(tempfile::NamedTempFile),
}

impl AtomicFile {
    /// Starts a file that will replace (or create) `target`, with `mode`'s
    /// permission bits on Unix (the umask applies to new files only when
    /// `mode` is `None`).
    pub fn new(target: &Path, mode: Option<u32>) -> io::Result<Self> {
        let dir = target
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let temp = Self::temp_in(&dir, &temp_prefix(target), mode)?;
        Ok(AtomicFile {
            target: target.to_path_buf(),
            dir,
            temp,
        })
    }

    #[cfg(target_os = "linux")]
    fn temp_in(dir: &Path, prefix: &str, mode: Option<u32>) -> io::Result<Temp> {
        use rustix::fs::{Mode, OFlags, CWD};
        let flags = OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC;
        match rustix::fs::openat(
            CWD,
            dir,
            flags,
            Mode::from_bits_truncate(mode.unwrap_or(0o666)),
        ) {
            Ok(fd) => {
                let file = File::from(fd);
                if let Some(mode) = mode {
                    // O_TMPFILE's mode is masked by the umask: set it exactly.
                    use std::os::unix::fs::PermissionsExt;
                    file.set_permissions(std::fs::Permissions::from_mode(mode))?;
                }
                Ok(Temp::Unnamed(file))
            }
            // The file system has no unnamed files: fall back to a named one.
            Err(e)
                if e == rustix::io::Errno::OPNOTSUPP
                    || e == rustix::io::Errno::ISDIR
                    || e == rustix::io::Errno::INVAL =>
            {
                Self::named_in(dir, prefix, mode)
            }
            Err(e) => Err(e.into()),
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn temp_in(dir: &Path, prefix: &str, mode: Option<u32>) -> io::Result<Temp> {
        Self::named_in(dir, prefix, mode)
    }

    fn named_in(dir: &Path, prefix: &str, mode: Option<u32>) -> io::Result<Temp> {
        let mut builder = tempfile::Builder::new();
        builder.prefix(prefix).suffix(".tmp");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(mode.unwrap_or(0o600)));
        }
        #[cfg(not(unix))]
        let _ = mode;
        Ok(Temp::Named(builder.tempfile_in(dir)?))
    }

    /// The file to write to.
    pub fn file_mut(&mut self) -> &mut File {
        match &mut self.temp {
            #[cfg(target_os = "linux")]
            Temp::Unnamed(f) => f,
            Temp::Named(t) => t.as_file_mut(),
        }
    }

    /// Moves the written file into place. With `durable`, its data and the
    /// directory entry reach the disk before this returns (for keys: nothing
    /// may be sealed under a key that a crash could still lose).
    pub fn commit(self, durable: bool) -> io::Result<()> {
        self.finish(durable, true)
    }

    /// Like [`AtomicFile::commit`], but only if `target` does not exist yet:
    /// two processes creating the same file cannot both succeed, and an
    /// existing file is never replaced (`ErrorKind::AlreadyExists`).
    pub fn commit_new(self, durable: bool) -> io::Result<()> {
        self.finish(durable, false)
    }

    fn finish(self, durable: bool, replace: bool) -> io::Result<()> {
        let AtomicFile { target, dir, temp } = self;
        match temp {
            #[cfg(target_os = "linux")]
            Temp::Unnamed(file) => {
                if durable {
                    file.sync_all()?;
                }
                if replace {
                    link_and_rename(&file, &target)?;
                } else {
                    link(&file, &target)?;
                }
            }
            Temp::Named(t) => {
                if durable {
                    t.as_file().sync_all()?;
                }
                if replace {
                    t.persist(&target).map_err(|e| e.error)?;
                } else {
                    t.persist_noclobber(&target).map_err(|e| e.error)?;
                }
            }
        }
        if durable {
            sync_dir(&dir)?;
        }
        Ok(())
    }
}

/// Gives the unnamed file the name `path`; fails if it exists.
#[cfg(target_os = "linux")]
fn link(file: &File, path: &Path) -> io::Result<()> {
    use rustix::fs::{AtFlags, CWD};
    use std::os::fd::AsRawFd;
    let proc_path = format!("/proc/self/fd/{}", file.as_raw_fd());
    rustix::fs::linkat(CWD, proc_path.as_str(), CWD, path, AtFlags::SYMLINK_FOLLOW)?;
    Ok(())
}

/// Gives the unnamed file a name beside the target, then renames it over
/// the target. Only a crash between the two system calls can leave the
/// named file behind; it is named after the target
/// (`.TARGET.privctl-*.tmp`), so [`remove_stale_temps`] finds it.
#[cfg(target_os = "linux")]
fn link_and_rename(file: &File, target: &Path) -> io::Result<()> {
    let dir = target.parent().unwrap_or(Path::new("."));
    let prefix = temp_prefix(target);
    for attempt in 0..16u32 {
        let name = dir.join(format!(
            "{prefix}{}-{}-{attempt}.tmp",
            std::process::id(),
            nanos()
        ));
        match link(file, &name) {
            Ok(()) => {
                return std::fs::rename(&name, target).inspect_err(|_| {
                    let _ = std::fs::remove_file(&name);
                });
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "could not find a free temporary name",
    ))
}

#[cfg(target_os = "linux")]
fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// The name every temporary file for `target` starts with.
fn temp_prefix(target: &Path) -> String {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(".{name}.privctl-")
}

/// Removes temporary files that commits into `target` left behind when
/// their process died at the wrong moment. Only safe while holding a lock
/// that every writer of `target` takes (a key file's), since another
/// writer's temporary file looks the same. Returns how many it removed.
pub fn remove_stale_temps(target: &Path) -> io::Result<usize> {
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let prefix = temp_prefix(target);
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&prefix) && name.ends_with(".tmp") {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Makes a directory's entries durable (a rename is not, until this).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Where a command writes its output when given a path.
#[derive(Debug)]
pub enum Output {
    /// A regular file (or a new one): written beside it, moved into place
    /// on commit.
    Replace(AtomicFile),
    /// A FIFO, terminal, socket or device: written in place, never replaced.
    InPlace(File),
}

/// Why an output path cannot be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    /// The path is a directory.
    #[error("it is a directory")]
    Directory,
    /// A symbolic link whose target does not exist.
    #[error("it is a symbolic link to {0}, which does not exist")]
    DanglingLink(PathBuf),
    /// The file system refused.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl Output {
    /// Opens `path` for output: a regular file, or a symbolic link to one,
    /// is replaced whole on [`Output::commit`] (the link is kept and its
    /// target replaced); a path that does not exist is created on commit;
    /// anything else is opened and written in place.
    pub fn open(path: &Path) -> Result<Self, OutputError> {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => Err(OutputError::Directory),
            Ok(meta) if meta.is_file() => {
                let target = std::fs::canonicalize(path)?;
                #[cfg(unix)]
                let mode = {
                    use std::os::unix::fs::PermissionsExt;
                    // Permission bits only: never set-user-id or set-group-id.
                    Some(meta.permissions().mode() & 0o777)
                };
                #[cfg(not(unix))]
                let mode = None;
                Ok(Output::Replace(AtomicFile::new(&target, mode)?))
            }
            Ok(_) => Ok(Output::InPlace(OpenOptions::new().write(true).open(path)?)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Ok(link) = std::fs::read_link(path) {
                    return Err(OutputError::DanglingLink(link));
                }
                Ok(Output::Replace(AtomicFile::new(path, None)?))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The file to write to.
    pub fn writer(&mut self) -> &mut File {
        match self {
            Output::Replace(a) => a.file_mut(),
            Output::InPlace(f) => f,
        }
    }

    /// Finishes: moves a replacement into place (refusing if something
    /// other than a regular file has appeared there meanwhile); flushes an
    /// in-place write.
    pub fn commit(self) -> io::Result<()> {
        match self {
            Output::Replace(a) => {
                if let Ok(meta) = std::fs::symlink_metadata(&a.target) {
                    if !meta.is_file() {
                        return Err(io::Error::other(format!(
                            "{} is no longer a regular file; the output was not moved there",
                            a.target.display()
                        )));
                    }
                }
                // Durable: a crash right after must not leave the target
                // empty with its old contents gone.
                a.commit(true)
            }
            Output::InPlace(mut f) => io::Write::flush(&mut f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn an_uncommitted_file_leaves_nothing() {
        let dir = tempfile::tempdir().expect("dir");
        let target = dir.path().join("keys");
        std::fs::write(&target, "old").expect("write");
        let mut f = AtomicFile::new(&target, Some(0o600)).expect("temp");
        f.file_mut().write_all(b"new").expect("write");
        drop(f);
        assert_eq!(
            std::fs::read_to_string(&target).ok().as_deref(),
            Some("old")
        );
        assert_eq!(leftovers(dir.path()), ["keys"]);
    }

    #[test]
    fn a_commit_replaces_whole_with_the_mode_asked() {
        let dir = tempfile::tempdir().expect("dir");
        let target = dir.path().join("keys");
        std::fs::write(&target, "old").expect("write");
        let mut f = AtomicFile::new(&target, Some(0o600)).expect("temp");
        f.file_mut().write_all(b"new").expect("write");
        f.commit(true).expect("commit");
        assert_eq!(
            std::fs::read_to_string(&target).ok().as_deref(),
            Some("new")
        );
        assert_eq!(leftovers(dir.path()), ["keys"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&target).map(|m| m.permissions().mode() & 0o777);
            assert_eq!(mode.ok(), Some(0o600));
        }
    }

    #[test]
    fn stale_temporary_copies_are_found_by_their_target() {
        let dir = tempfile::tempdir().expect("dir");
        let target = dir.path().join("vault.keys");
        std::fs::write(dir.path().join(".vault.keys.privctl-1-2-0.tmp"), "keys").expect("write");
        std::fs::write(dir.path().join(".other.privctl-1-2-0.tmp"), "other").expect("write");
        assert_eq!(remove_stale_temps(&target).expect("clean"), 1);
        assert_eq!(leftovers(dir.path()), [".other.privctl-1-2-0.tmp"]);
    }

    #[test]
    fn commit_new_never_replaces() {
        let dir = tempfile::tempdir().expect("dir");
        let target = dir.path().join("keys");
        let mut f = AtomicFile::new(&target, Some(0o600)).expect("temp");
        f.file_mut().write_all(b"first").expect("write");
        f.commit_new(true).expect("created");
        let mut g = AtomicFile::new(&target, Some(0o600)).expect("temp");
        g.file_mut().write_all(b"second").expect("write");
        let err = g.commit_new(true).err().map(|e| e.kind());
        assert_eq!(err, Some(io::ErrorKind::AlreadyExists));
        assert_eq!(
            std::fs::read_to_string(&target).ok().as_deref(),
            Some("first")
        );
        assert_eq!(leftovers(dir.path()), ["keys"]);
    }

    #[cfg(unix)]
    #[test]
    fn output_through_a_symlink_keeps_the_link_and_the_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let real = dir.path().join("real.log");
        std::fs::write(&real, "old").expect("write");
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        let link = dir.path().join("link.log");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        let mut out = Output::open(&link).expect("open");
        out.writer().write_all(b"new").expect("write");
        out.commit().expect("commit");
        assert!(std::fs::symlink_metadata(&link).is_ok_and(|m| m.is_symlink()));
        assert_eq!(std::fs::read_to_string(&real).ok().as_deref(), Some("new"));
        let mode = std::fs::metadata(&real).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o640));
    }

    #[cfg(unix)]
    #[test]
    fn dangling_links_and_directories_are_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let link = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &link).expect("symlink");
        assert!(matches!(
            Output::open(&link),
            Err(OutputError::DanglingLink(_))
        ));
        assert!(matches!(
            Output::open(dir.path()),
            Err(OutputError::Directory)
        ));
    }

    #[cfg(unix)]
    #[test]
    fn a_character_device_is_written_in_place() {
        let mut out = Output::open(Path::new("/dev/null")).expect("open");
        assert!(matches!(out, Output::InPlace(_)));
        out.writer().write_all(b"gone").expect("write");
        out.commit().expect("commit");
        let meta = std::fs::metadata("/dev/null").expect("meta");
        assert!(!meta.is_file(), "/dev/null is still a device");
    }
}
