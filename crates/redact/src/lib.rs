//! Detection and redaction of personal data and secrets in text, logs,
//! prompts, JSON/JSONL and CSV, fast enough to run on everything a platform
//! stores.
//!
//! Build a [`Redactor`] once (from a builder or a policy), share it across
//! threads, and call it per string, buffer or stream:
//!
//! ```
//! use privctl_redact::{Operator, Redactor};
//! let r = Redactor::builder()
//!     .operator_for("in_aadhaar", Operator::Mask { keep_last: 4 })
//!     .build()
//!     .unwrap();
//! let text = "aadhaar 2345 6789 0124, key AKIAIOSFODNN7EXAMPLE";
//! let found = r.find(text);
//! assert_eq!(found[0].kind.name(), "in_aadhaar");
//! assert_eq!(r.redact(text), "aadhaar **** **** 0124, key [AWS_ACCESS_KEY]");
//! ```
//!
//! # How it scans
//! Two detector families share each pass over the input, and no detector
//! makes a pass of its own:
//! * **anchored** detectors start at a literal (`AKIA`, `ghp_`, `sk-ant-`,
//!   `-----BEGIN`, `password`, `Bearer`, `://`, a custom detector's
//!   keywords). One Aho-Corasick automaton finds them all; its SIMD
//!   prefilter skips text without anchors at memory speed, and each
//!   detector's full pattern runs only at an anchor;
//! * **shape** detectors have no literal (card and phone numbers, Aadhaar,
//!   emails, addresses, generic secrets). One loop splits the input into
//!   words with a byte-class table; only words of the right shape reach a
//!   pattern, and every candidate is validated: Luhn and issuer prefixes for
//!   cards, mod-97 for IBANs, Verhoeff for Aadhaar, the holder-type letter
//!   for PAN, the SSA's rules for SSNs, entropy and character classes for
//!   generic secrets (so UUIDs, commit hashes and version strings stay).
//!
//! Overlapping findings resolve to the most specific kind (a JWT inside a
//! `Bearer` header is a `jwt`). Inputs of any size are scanned in windows
//! that see a little context on each side, so a value that straddles two
//! reads or two cores is found whole, and windowed, streamed and one-shot
//! scans agree.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod anchored;
mod finding;
mod kind;
mod leak;
mod operator;
mod policy;
mod redactor;
mod scan;
pub mod sealing;
mod shapes;
mod splice;
pub mod structured;
pub mod validate;

pub use finding::Finding;
pub use kind::{Builtin, Kind};
pub use leak::{leaked_fragments, LEAK_LEN};
pub use operator::{Operator, PseudonymKey, Session};
pub use policy::PolicyRedactor;
pub use redactor::{Position, Redactor, RedactorBuilder, StreamStats};
pub use scan::KindSet;
pub use sealing::{Binding, Revealer, Sealer};

/// Errors from building or running a redactor.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A custom detector or allowlist pattern does not compile.
    #[error("{what} does not compile: {message}")]
    Pattern {
        /// Which pattern.
        what: String,
        /// The compiler's reason.
        message: String,
    },
    /// A detector name is taken.
    #[error("detector name \"{0}\" is already taken")]
    DuplicateDetector(String),
    /// A detector name is unknown.
    #[error("unknown detector \"{0}\"")]
    UnknownDetector(String),
    /// The pseudonym operator is chosen but no key was given.
    #[error("the pseudonym operator needs a key\nhint: pass --key-file FILE or set PRIVCTL_PSEUDONYM_KEY")]
    MissingPseudonymKey,
    /// A pseudonym key is too short.
    #[error("pseudonym key is {len} bytes; at least 16 are needed")]
    WeakKey {
        /// Its length.
        len: usize,
    },
    /// The encrypt operator is chosen but nothing seals.
    #[error("operator \"encrypt\" seals values with the vault's keys, and no vault was given\nhint: pass --vault-db (or set PRIVCTL_VAULT_DB) and the vault's keys")]
    EncryptNeedsVault,
    /// Sealing a value failed.
    #[error("cannot seal a value: {0}")]
    Seal(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A sealed token does not open.
    #[error("{location}")]
    Reveal {
        /// Where: `line N`, `record N, column C`.
        location: String,
        /// Why, from the vault.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The policy names a data type it does not define.
    #[error("data type \"{0}\" is not defined in the policy")]
    UnknownDataType(String),
    /// Input is not UTF-8.
    #[error("input is not UTF-8 (invalid byte at offset {offset})")]
    NotUtf8 {
        /// Byte offset of the first invalid byte.
        offset: u64,
    },
    /// Reading the input failed.
    #[error("cannot read input: {0}")]
    Read(#[source] std::io::Error),
    /// Writing the output failed.
    #[error("cannot write output: {0}")]
    Write(#[source] std::io::Error),
    /// JSON input that does not parse.
    #[error("line {line}: not valid JSON: {message}")]
    Json {
        /// 1-based line (JSONL) or 1 (JSON).
        line: u64,
        /// The parser's reason.
        message: String,
    },
    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// CSV input that does not parse.
    #[error("CSV: {0}")]
    Csv(String),
}

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
