//! Fault injection for the kill tests: with the `fault-injection` feature
//! (never in a release build), `PRIVCTL_FAULT=POINT:N[,POINT:N]` aborts the
//! process, as a `kill -9` would, the Nth time it reaches a point, and
//! `PRIVCTL_FAULT_BATCH=N` fixes the batch size so that a small table takes
//! many batches. The points:
//!
//! - `statement`: after a statement that changes rows, inside its batch's
//!   transaction (for a SQLite roll-up, the first is the aggregate insert,
//!   the second the delete of the detail rows);
//! - `rollup-inserted`: after a roll-up batch's first statement, before its
//!   commit (on SQLite the aggregate insert, before the detail delete; on
//!   PostgreSQL the one statement that does both);
//! - `shredded`: after a subject was crypto-shredded in the vault, before
//!   their rows are deleted;
//! - `committed`: after a batch's transaction has committed;
//! - `erasure-begun`: an erasure marked started, the account recorded as
//!   closed, before any row changes;
//! - `erasure-replaced`: after an erasure replaced a kept account's
//!   identifiers or found none to replace, before the vault key is shredded;
//! - `erasure-receipt`: the receipt signed, before the request is marked
//!   completed.
//! - `clickhouse-intent`: a ClickHouse partition drop or mutation recorded,
//!   before it is issued;
//! - `partition-dropped`: a ClickHouse partition dropped, before it is
//!   counted;
//! - `mutation-done`: a ClickHouse mutation done, before it is counted.
//!
//! Without the feature every function here is an empty inline.

#[cfg(feature = "fault-injection")]
mod on {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    static SEEN: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

    /// Aborts here when `PRIVCTL_FAULT` says so.
    pub fn point(name: &str) {
        let Ok(spec) = std::env::var("PRIVCTL_FAULT") else {
            return;
        };
        let Ok(mut seen) = SEEN.lock() else { return };
        let n = seen.entry(name.to_owned()).or_insert(0);
        *n += 1;
        let hit = spec.split(',').any(|part| {
            part.split_once(':')
                .is_some_and(|(p, at)| p == name && at.parse() == Ok(*n))
        });
        if hit {
            std::process::abort();
        }
    }

    /// The fixed batch size `PRIVCTL_FAULT_BATCH` asks for.
    pub fn batch() -> Option<i64> {
        std::env::var("PRIVCTL_FAULT_BATCH").ok()?.parse().ok()
    }
}

#[cfg(feature = "fault-injection")]
pub use on::{batch, point};

/// Aborts here when `PRIVCTL_FAULT` says so (with the feature).
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn point(_name: &str) {}

/// The fixed batch size `PRIVCTL_FAULT_BATCH` asks for (with the feature).
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn batch() -> Option<i64> {
    None
}
