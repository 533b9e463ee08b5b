//! privctl's one audit log. Every request, state change, sweep and erasure
//! action is an entry appended to `privctl_audit` in the database holding
//! privctl's own tables, hash-chained to the one before:
//!
//! ```text
//! hash(n) = SHA-256("privctl-audit-v1" | n | at | kind | subject | body | hash(n-1))
//! ```
//!
//! with each field length-prefixed, so no two entries hash alike by moving
//! bytes between fields. [`verify`] reads the log in order and names the
//! first entry that was edited, removed, inserted or moved. A log cut short
//! at its end is still a valid chain, so after each command privctl writes
//! a [`Checkpoint`] of the head, signed with an Ed25519 key kept outside the
//! database ([`Signer`]); verifying against it finds a tail removed back to
//! before that checkpoint. Entries written after the last checkpoint are
//! covered once the next one is written.
//!
//! What it does not do: stop someone who holds both the database and the
//! signing key from rewriting history (they can re-sign); keep the log
//! anywhere but the database (copy the checkpoints elsewhere for that).

mod checkpoint;

use chrono::{DateTime, Utc};
use privctl_store::{AnyConnection, Component, Db, Dialect, Lock, Row};
use serde::Serialize;

pub use checkpoint::{advance, rebase, Checkpoint, PublicKey, Signer};

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store layer failed.
    #[error(transparent)]
    Store(#[from] privctl_store::Error),
    /// A key or checkpoint file could not be read or written.
    #[error("{what} {path}: {source}")]
    File {
        /// What the file is.
        what: &'static str,
        /// Its path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A key or checkpoint file that is not what privctl writes.
    #[error("{what} {path} is not valid: {why}")]
    Invalid {
        /// What the file is.
        what: &'static str,
        /// Its path.
        path: String,
        /// Why.
        why: String,
    },
    /// A body that does not serialise.
    #[error("an audit entry's body could not be written: {0}")]
    Body(#[from] serde_json::Error),
}

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn tables(d: Dialect) -> &'static [&'static [&'static str]] {
    match d {
        Dialect::Sqlite => &[&[
            "CREATE TABLE privctl_audit (seq BIGINT PRIMARY KEY, at BIGINT NOT NULL, kind TEXT NOT NULL, subject TEXT, body TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL)",
        ]],
        Dialect::Postgres => &[&[
            "CREATE TABLE privctl_audit (seq BIGINT PRIMARY KEY, at BIGINT NOT NULL, kind TEXT NOT NULL, subject TEXT, body TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL)",
        ]],
    }
}

/// The audit log's table.
pub const AUDIT: Component = Component {
    name: "audit",
    migrations: tables,
};

/// The `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Its number, from 1, without gaps.
    pub seq: i64,
    /// When it was written.
    pub at: DateTime<Utc>,
    /// What happened (`sweep.started`, `sweep.batch`, `hold.placed`, ...).
    pub kind: String,
    /// The person it is about, when it is about one.
    pub subject: Option<String>,
    /// The details, JSON text exactly as hashed.
    pub body: String,
    /// The previous entry's hash.
    pub prev: String,
    /// This entry's hash.
    pub hash: String,
}

/// The hash of an entry with these fields, hex.
pub fn entry_hash(
    seq: i64,
    at: i64,
    kind: &str,
    subject: Option<&str>,
    body: &str,
    prev: &str,
) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(b"privctl-audit-v1");
    let mut field = |bytes: &[u8]| {
        ctx.update(&(bytes.len() as u64).to_be_bytes());
        ctx.update(bytes);
    };
    field(&seq.to_be_bytes());
    field(&at.to_be_bytes());
    field(kind.as_bytes());
    match subject {
        None => field(b"\x00"),
        Some(s) => field(format!("\x01{s}").as_bytes()),
    }
    field(body.as_bytes());
    field(prev.as_bytes());
    hex(ctx.finish().as_ref())
}

/// Bytes as lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex back to bytes; `None` for anything that is not whole hex bytes.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Creates or upgrades the audit table.
pub async fn ensure(db: &Db) -> Result<()> {
    db.ensure(&AUDIT).await?;
    Ok(())
}

/// Whether the audit table exists at this release's version.
pub async fn ready(db: &Db) -> Result<bool> {
    Ok(db.component_version(&AUDIT).await? == Some(AUDIT.version(db.dialect())))
}

/// Appends an entry inside the transaction open on `c` (which must be a
/// write transaction of `db`), so it commits or rolls back with the change
/// it records. Call it last in the transaction: it takes the log's lock.
/// The table must exist ([`ensure`]).
pub async fn append(
    db: &Db,
    c: &mut AnyConnection,
    kind: &str,
    subject: Option<&str>,
    body: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<Entry> {
    let err = db.err("appending to the audit log", Some("privctl_audit"));
    db.lock_in(c, Lock::Audit).await?;
    let last = sqlx::query("SELECT seq, hash FROM privctl_audit ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *c)
        .await
        .map_err(&err)?;
    let (seq, prev) = match last {
        Some(r) => (
            r.try_get::<i64, _>("seq").map_err(&err)? + 1,
            r.try_get::<String, _>("hash").map_err(&err)?,
        ),
        None => (1, GENESIS.to_owned()),
    };
    let body = serde_json::to_string(body)?;
    let at = now.timestamp();
    let hash = entry_hash(seq, at, kind, subject, &body, &prev);
    sqlx::query("INSERT INTO privctl_audit (seq, at, kind, subject, body, prev, hash) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(seq)
        .bind(at)
        .bind(kind)
        .bind(subject)
        .bind(&body)
        .bind(&prev)
        .bind(&hash)
        .execute(&mut *c)
        .await
        .map_err(&err)?;
    Ok(Entry {
        seq,
        at: DateTime::from_timestamp(at, 0).unwrap_or(now),
        kind: kind.to_owned(),
        subject: subject.map(str::to_owned),
        body,
        prev,
        hash,
    })
}

/// Appends an entry in a transaction of its own (creating the table when
/// missing).
pub async fn record(
    db: &Db,
    kind: &str,
    subject: Option<&str>,
    body: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<Entry> {
    ensure(db).await?;
    db.write_with(Lock::Audit, async |c| {
        append(db, c, kind, subject, body, now).await
    })
    .await
}

fn entry(db: &Db, r: &privctl_store::AnyRow) -> Result<Entry> {
    let err = db.err("reading the audit log", Some("privctl_audit"));
    let at: i64 = r.try_get("at").map_err(&err)?;
    Ok(Entry {
        seq: r.try_get("seq").map_err(&err)?,
        at: DateTime::from_timestamp(at, 0).unwrap_or_default(),
        kind: r.try_get("kind").map_err(&err)?,
        subject: r.try_get("subject").map_err(&err)?,
        body: r.try_get("body").map_err(&err)?,
        prev: r.try_get("prev").map_err(&err)?,
        hash: r.try_get("hash").map_err(&err)?,
    })
}

/// The last `n` entries, newest first (none when the log does not exist).
pub async fn last(db: &Db, n: i64) -> Result<Vec<Entry>> {
    if !ready(db).await? {
        return Ok(Vec::new());
    }
    let rows = sqlx::query("SELECT seq, at, kind, subject, body, prev, hash FROM privctl_audit ORDER BY seq DESC LIMIT $1")
        .bind(n.max(0))
        .fetch_all(db.pool())
        .await
        .map_err(db.err("reading the audit log", Some("privctl_audit")))?;
    rows.iter().map(|r| entry(db, r)).collect()
}

/// The hash of entry `seq`, if there is one.
pub async fn entry_at(db: &Db, seq: i64) -> Result<Option<String>> {
    if !ready(db).await? {
        return Ok(None);
    }
    let row = sqlx::query("SELECT hash FROM privctl_audit WHERE seq = $1")
        .bind(seq)
        .fetch_optional(db.pool())
        .await
        .map_err(db.err("reading the audit log", Some("privctl_audit")))?;
    row.map(|r| r.try_get::<String, _>("hash"))
        .transpose()
        .map_err(db.err("reading the audit log", Some("privctl_audit")))
        .map_err(Error::from)
}

/// The head of the log: its last entry's number and hash.
pub async fn head(db: &Db) -> Result<Option<(i64, String)>> {
    Ok(last(db, 1)
        .await?
        .into_iter()
        .next()
        .map(|e| (e.seq, e.hash)))
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Entries read.
    pub entries: u64,
    /// The last entry's number and hash.
    pub head: Option<(i64, String)>,
    /// The first thing wrong, if anything is.
    pub problem: Option<Problem>,
}

/// The first sign of tampering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The number of the first entry that is not as written.
    pub seq: i64,
    /// What is wrong with it.
    pub what: String,
}

/// Entries read per query while verifying.
const PAGE: i64 = 5000;

/// Reads the whole log in order and checks every link of the chain, and
/// that it still reaches the `checkpoint` (when one is given, already
/// verified against its signature).
pub async fn verify(db: &Db, checkpoint: Option<&Checkpoint>) -> Result<Verification> {
    verify_after(db, None, checkpoint).await
}

/// [`verify`] of the entries after `from` (its number and hash, known
/// good), for a writer extending a checkpoint without rereading the log.
pub(crate) async fn verify_after(
    db: &Db,
    from: Option<(i64, String)>,
    checkpoint: Option<&Checkpoint>,
) -> Result<Verification> {
    let partial = from.is_some();
    let mut v = Verification {
        entries: 0,
        head: from.clone(),
        problem: None,
    };
    let (mut expected, mut prev) = match from {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1i64, GENESIS.to_owned()),
    };
    let mut at_checkpoint: Option<String> = None;
    if ready(db).await? {
        'pages: loop {
            let rows = sqlx::query("SELECT seq, at, kind, subject, body, prev, hash FROM privctl_audit WHERE seq >= $1 ORDER BY seq LIMIT $2")
                .bind(expected)
                .bind(PAGE)
                .fetch_all(db.pool())
                .await
                .map_err(db.err("reading the audit log", Some("privctl_audit")))?;
            if rows.is_empty() {
                break;
            }
            for r in &rows {
                let e = entry(db, r)?;
                // The time as stored, not as converted.
                let at: i64 = r
                    .try_get("at")
                    .map_err(db.err("reading the audit log", Some("privctl_audit")))?;
                let problem = if e.seq != expected {
                    Some(format!(
                        "entry {expected} is missing (the next one is numbered {})",
                        e.seq
                    ))
                } else if e.prev != prev {
                    Some(format!(
                        "entry {} does not follow entry {}: an entry before it was removed, inserted or moved",
                        e.seq,
                        e.seq - 1
                    ))
                } else if entry_hash(e.seq, at, &e.kind, e.subject.as_deref(), &e.body, &e.prev)
                    != e.hash
                {
                    Some(format!("entry {} was changed after it was written", e.seq))
                } else {
                    None
                };
                if let Some(what) = problem {
                    v.problem = Some(Problem {
                        seq: expected,
                        what,
                    });
                    break 'pages;
                }
                if checkpoint.is_some_and(|c| c.seq == e.seq) {
                    at_checkpoint = Some(e.hash.clone());
                }
                prev = e.hash.clone();
                v.head = Some((e.seq, e.hash));
                v.entries += 1;
                expected += 1;
            }
        }
    }
    // Rows numbered outside the chain (0, negative) are not in it.
    if v.problem.is_none() && !partial && ready(db).await? {
        let err = db.err("reading the audit log", Some("privctl_audit"));
        let r = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM privctl_audit")
            .fetch_one(db.pool())
            .await
            .map_err(&err)?;
        let n: i64 = r.try_get("n").map_err(&err)?;
        if u64::try_from(n).unwrap_or(0) != v.entries {
            v.problem = Some(Problem {
                seq: 0,
                what: format!(
                    "the log holds {n} entries but only {} form the chain: entries were added outside it",
                    v.entries
                ),
            });
        }
    }
    if let (None, Some(c)) = (&v.problem, checkpoint) {
        match at_checkpoint {
            None => {
                v.problem = Some(Problem {
                    seq: v.head.as_ref().map_or(1, |(s, _)| s + 1),
                    what: format!(
                        "the log ends at entry {}, but entry {} was written and checkpointed at {}: entries were removed from its end",
                        v.head.as_ref().map_or(0, |(s, _)| *s),
                        c.seq,
                        c.at.to_rfc3339()
                    ),
                });
            }
            Some(h) if h != c.hash => {
                v.problem = Some(Problem {
                    seq: c.seq,
                    what: format!(
                        "entry {} is not the one checkpointed at {}: the log was rewritten",
                        c.seq,
                        c.at.to_rfc3339()
                    ),
                });
            }
            Some(_) => {}
        }
    }
    Ok(v)
}
