//! Why the vault is built the way it is, and what crypto-shredding
//! guarantees. (Documentation only: nothing here runs.)
//!
//! # The threat crypto-shredding answers
//!
//! Erasing a person's KYC data is done by destroying the key their values
//! are sealed under: the ciphertexts may live on in backups, replicas or
//! exported tables, but they open with nothing. The promise must hold
//! against someone who later holds **the database file and the key file**
//! (a stolen disk, a subpoenaed backup, an insider), not only against
//! someone who queries the live tables.
//!
//! Deleting a row does not remove it from a database file. SQLite leaves
//! deleted cells in the page's free space and freed pages on the free
//! list; PostgreSQL leaves dead tuples until a vacuum and keeps every
//! change in its write-ahead log (and in archived WAL for as long as the
//! archive is kept). privctl 0.1 deleted a subject's wrapped data key and
//! left the master key that wrapped it alive, so the deleted bytes still
//! opened: a 30-line script recovered the plaintext of every shredded
//! subject from the SQLite file (`tests/data/v1` pins that release's file,
//! and `tests/forensic.rs` recovers it).
//!
//! # The design: destroy the key outside the database
//!
//! Nothing inside the database can be relied on to disappear, so the key
//! whose destruction ends a subject's data must live outside it. Hence:
//!
//! ```text
//! master key (key file, versioned)
//!   └─ wraps group keys          one per group of at most 1,024 subjects
//!        ├─ wrap data keys       one per subject: seals their values
//!        └─ key blind indexes    HMAC of each value, to find it
//! master key
//!   └─ wraps epoch keys          one per 90-day window and purpose (IPs, devices)
//! ```
//!
//! Shredding subject S of group G, in order (each step resumable):
//!
//! 1. One transaction deletes S's values, blind indexes and data key,
//!    remembers S by a keyed tag (so later values for S are refused) and
//!    their references as shredded, and marks G as retiring, and with it
//!    G's replacement if a move out of G had already begun.
//! 2. G's other subjects move to a new group key G′, in batches of 100 per
//!    transaction: each data key is re-wrapped under G′ and each blind index
//!    recomputed under G′'s index key. Then G's key is deleted, and a
//!    master key destruction is marked as due.
//! 3. Under the key file's lock, a new master version N is written to the
//!    key file (flushed to disk), every group and epoch key is re-wrapped
//!    under N, and every older version leaves the key file.
//!
//! Any copy of S's wrapped data key left behind (a free page, a dead tuple,
//! a WAL record, a database backup) is wrapped under G, or, if a move of G's
//! subjects was rolled back midway, under G's replacement, which goes too;
//! every copy of those group keys is wrapped under a version older than N;
//! those versions exist nowhere any more. Every older version goes, not only
//! the one G's row named: a re-wrap rolled back midway can have left G under
//! a newer version in PostgreSQL's dead tuples. (Both cases are tests.) The cost
//! of a shred is bounded by the group size (at most 1,024 data keys and
//! their values re-wrapped, plus one re-wrap per group) rather than growing
//! with the vault; a vault of a million subjects has about a thousand groups.
//!
//! Blind indexes are keyed per group for the same reason: an Aadhaar number
//! has about 10^11 values, so anyone holding an index key can test them all
//! against a leftover index. Keyed by G, a leftover index of S is as dead as
//! G. `hash forget` works the same way: the epoch key rows are deleted and
//! the master version that wrapped them is destroyed.
//!
//! On SQLite the vault also runs with `secure_delete`, so step 1 overwrites
//! S's rows with zeros in the file itself, and a checkpoint empties any
//! write-ahead log after a shred.
//!
//! A vault written by privctl 0.1 is upgraded under the key file's lock:
//! once its keys are shown to open every key in it, the index key (which
//! keyed 0.1's blind indexes, copies of which stay in free pages) is
//! replaced in the key file, the data moves in one transaction, and every
//! master version of 0.1's time is destroyed as in step 3, since 0.1's
//! `shred` and `hash forget` left wrapped keys in the file under them.
//!
//! # What is guaranteed, against whom
//!
//! After `shred` returns (or, if it was interrupted, once it is run again or
//! [`crate::Vault::resume`] completes it, which every `privctl vault`
//! command with a key file does):
//!
//! * Someone holding the database (live, a copy, a backup taken at any time,
//!   PostgreSQL's WAL) **and the current key file** cannot recover S's data
//!   key, S's values from any copy of their ciphertexts, or link S to an
//!   identifier through a blind index. Tested by a forensic reader that
//!   scans every byte of the raw files with the key file, on SQLite and on
//!   PostgreSQL.
//! * Later values for S are refused, also for a `put` racing the shred.
//!
//! Not guaranteed:
//!
//! * A **copy of the key file taken before the shred**, together with a
//!   copy of the database from before the shred (or, on PostgreSQL, WAL
//!   or dead tuples from before it), still opens S's data. Keep key file
//!   backups short-lived, or re-take them after erasures; the tests show
//!   this case too.
//! * Keys given in memory (`PRIVCTL_VAULT_KEYS`) cannot be destroyed by
//!   privctl, so `shred` and `hash forget` refuse to run with them.
//! * Plaintext that left the vault (revealed values, logs of the caller)
//!   and file-system blocks outside the database file (SQLite's deleted
//!   rollback journal, an SSD's remapped blocks) are outside its reach.
//!
//! # Concurrency
//!
//! Writers of the key file hold `FILE.lock`; writers of the vault hold its
//! database lock (SQLite's write lock, a PostgreSQL advisory lock) for one
//! short transaction; the key file lock is always taken first. A master
//! version is written to the key file, flushed, before the database may
//! wrap anything under it; a version being destroyed wraps nothing new; a
//! process holding older keys re-reads the key file. So concurrent
//! rotations, puts and shreds lose nothing, and every value that was not
//! shredded stays readable.
