//! Erasure receipts: what an erasure deleted, anonymised and kept (and
//! until when, under which law), signed with privctl's Ed25519 key so the
//! person, an auditor or a regulator can check it offline, and so any edit
//! is refused.
//!
//! The file is JSON: `{"format", "receipt", "public_key", "signature"}`.
//! The signature covers the format name and the receipt serialised in its
//! one canonical form (its fields in their declared order, compact), so a
//! receipt read back and serialised again gives the bytes that were signed;
//! a changed value, an added or a removed field gives other bytes, or does
//! not read.

use chrono::{DateTime, Utc};
use privctl_audit::{hex, unhex, PublicKey, Signer};
use privctl_policy::model::ErasureAction;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The receipt's format name.
pub const FORMAT: &str = "privctl-erasure-receipt v1";
/// Largest receipt file read.
pub const MAX_RECEIPT: u64 = 1 << 20;

/// What one erasure did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// The organisation.
    pub organisation: String,
    /// SHA-256 of the policy it followed.
    pub policy_sha256: String,
    /// The request's id.
    pub request: i64,
    /// The regime it was made under.
    pub regime: Option<String>,
    /// The identifier the person was named by.
    pub identifier: Option<String>,
    /// The person's key (the user id): what a replay after a restore finds
    /// them by.
    pub subject: String,
    /// When it was made.
    pub requested_at: DateTime<Utc>,
    /// When it was carried out.
    pub completed_at: DateTime<Utc>,
    /// When the account was recorded as closed (the clock of floors that
    /// count from the end of the relationship), when the policy has one.
    pub account_closed_at: Option<DateTime<Utc>>,
    /// One line per data type.
    pub data_types: Vec<Line>,
    /// Columns of the account row that stays (other kept rows refer to it)
    /// whose identifying values were replaced.
    pub identifiers_replaced: Vec<String>,
    /// Whether the person's vault key was crypto-shredded.
    pub vault_shredded: bool,
}

/// What happened to one data type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Line {
    /// The data type.
    pub data_type: String,
    /// The policy's erasure rule for it (`None`: it has none).
    pub rule: Option<ErasureAction>,
    /// Rows (or files) deleted.
    pub deleted: u64,
    /// Rows anonymised and kept.
    pub anonymised: u64,
    /// Rows deleted after their subject's vault key was shredded.
    pub shredded: u64,
    /// The person's rows still kept as they are.
    pub kept: u64,
    /// Until when the last of them is kept (`None` with rows kept: with no
    /// end, or until what keeps them goes).
    pub kept_until: Option<DateTime<Utc>>,
    /// Why they are kept: the law, the reference, or the note.
    pub why: Vec<String>,
}

/// A receipt and its signature, as written to a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signed {
    /// [`FORMAT`].
    pub format: String,
    /// What was done.
    pub receipt: Receipt,
    /// The signing key, hex (for information: a verifier checks against the
    /// key it trusts, not this one).
    pub public_key: String,
    /// Ed25519 over [`message`], hex.
    pub signature: String,
}

/// The bytes a receipt's signature covers.
pub fn message(receipt: &Receipt) -> Result<Vec<u8>> {
    let mut out = format!("{FORMAT}\n").into_bytes();
    out.extend(serde_json::to_vec(receipt)?);
    Ok(out)
}

/// Signs `receipt`.
pub fn sign(receipt: Receipt, signer: &Signer) -> Result<Signed> {
    let signature = signer.sign(&message(&receipt)?);
    Ok(Signed {
        format: FORMAT.to_owned(),
        receipt,
        public_key: signer.public_hex(),
        signature,
    })
}

/// Reads a receipt file's text and checks its signature against `key`.
pub fn verify(text: &str, key: &PublicKey) -> Result<Signed> {
    let bad = |why: String| Error::Invalid(format!("the receipt {why}"));
    let signed: Signed = serde_json::from_str(text)
        .map_err(|e| bad(format!("is not a privctl erasure receipt ({e})")))?;
    if signed.format != FORMAT {
        return Err(bad(format!(
            "has format \"{}\", not \"{FORMAT}\"",
            privctl_policy::escape_untrusted(&signed.format)
        )));
    }
    if signed.public_key != key.hex() {
        return Err(bad(
            "was signed by another key than the one given".to_owned()
        ));
    }
    let signature = unhex(&signed.signature)
        .ok_or_else(|| bad("has a signature that is not hex".to_owned()))?;
    if !key.verifies(&message(&signed.receipt)?, &signature) {
        return Err(bad(
            "does not match its signature: it was changed after it was signed".to_owned(),
        ));
    }
    Ok(signed)
}

/// The receipt's SHA-256, hex, over the bytes its signature covers.
pub fn digest(receipt: &Receipt) -> Result<String> {
    Ok(hex(ring::digest::digest(
        &ring::digest::SHA256,
        &message(receipt)?,
    )
    .as_ref()))
}

/// Where the receipt of request `id` goes in `dir`.
pub fn path_in(dir: &std::path::Path, id: i64) -> std::path::PathBuf {
    dir.join(format!("erasure-{id}.json"))
}

/// Writes `signed` as `erasure-<request>.json` in `dir` (created when
/// missing; owner-only, as it names the person), replacing an earlier copy
/// of the same receipt whole; returns its path.
pub fn write(signed: &Signed, dir: &std::path::Path) -> Result<std::path::PathBuf> {
    use std::io::Write;
    let shown = privctl_policy::escape_path(dir);
    let io = |source| Error::Io {
        path: shown.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let path = path_in(dir, signed.receipt.request);
    let shown = privctl_policy::escape_path(&path);
    let io = |source| Error::Io {
        path: shown.clone(),
        source,
    };
    if std::fs::symlink_metadata(&path).is_ok_and(|m| !m.is_file()) {
        return Err(Error::Invalid(format!(
            "{} is not a regular file; the receipt was not written there",
            privctl_policy::escape_path(&path)
        )));
    }
    let mut text = serde_json::to_vec_pretty(signed)?;
    text.push(b'\n');
    let mut file = privctl_fsio::AtomicFile::new(&path, Some(0o600)).map_err(io)?;
    file.file_mut().write_all(&text).map_err(io)?;
    file.commit(true).map_err(io)?;
    Ok(path)
}

/// Every receipt (`*.json`) in `dir`, each checked against `key`; the first
/// that does not check out is an error naming its file, so a replay acts on
/// signed receipts only.
pub fn load_dir(
    dir: &std::path::Path,
    key: &PublicKey,
) -> Result<Vec<(std::path::PathBuf, Signed)>> {
    let shown = privctl_policy::escape_path(dir);
    let io = |path: String| move |source| Error::Io { path, source };
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map_err(io(shown.clone()))?
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(io(shown.clone()))?
        .into_iter()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let name = privctl_policy::escape_path(&path);
        let meta = std::fs::symlink_metadata(&path).map_err(io(name.clone()))?;
        if !meta.is_file() {
            return Err(Error::Invalid(format!("{name} is not a regular file")));
        }
        let file = std::fs::File::open(&path).map_err(io(name.clone()))?;
        let bytes = privctl_fsio::read_limited(file, MAX_RECEIPT)
            .map_err(|e| Error::Invalid(format!("{name}: {e}")))?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| Error::Invalid(format!("{name}: the receipt is not UTF-8 text")))?;
        let signed = verify(text, key).map_err(|e| Error::Invalid(format!("{name}: {e}")))?;
        out.push((path, signed));
    }
    Ok(out)
}
