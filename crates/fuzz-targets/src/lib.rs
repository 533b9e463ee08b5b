//! The bodies of privctl's fuzz targets, as plain functions.
//!
//! `fuzz/` (outside the workspace, nightly and cargo-fuzz) wraps each in
//! `fuzz_target!`; this crate's test replays every committed input of every
//! target on the stable toolchain: the seed corpus under
//! `fuzz/corpus/TARGET/` and every input a fuzz run ever crashed on, kept
//! under `fuzz/regressions/TARGET/`. So "no panic on any input" is checked
//! by every `cargo test`, not only when someone fuzzes.
//!
//! Each function panics exactly when its target finds a bug.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::sync::OnceLock;

use privctl_policy::render::{self, FileOutcome, FileReport};
use privctl_redact::{Operator, PseudonymKey, Redactor};
use privctl_vault::keys::SecretKey;
use privctl_vault::{sealed, Keyring};

/// A target's body: panics when it finds a bug.
pub type Body = fn(&[u8]);

/// Every target, by the name `cargo fuzz run` knows it by.
pub const TARGETS: &[(&str, Body)] = &[
    ("policy_check", policy_check),
    ("redact", redact),
    ("sealed_open", sealed_open),
];

/// Any bytes given to the policy checker: it never panics, every location
/// it reports lies inside the input, no message carries a control or
/// bidirectional character, and the machine outputs always render.
pub fn policy_check(data: &[u8]) {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let report = privctl_policy::check_str(src);
    for d in &report.diagnostics {
        if let Some(loc) = &d.location {
            assert!(
                loc.offset + loc.length <= src.len(),
                "location past the end"
            );
            assert!(loc.line >= 1 && loc.column >= 1);
        }
        assert!(
            !d.message.chars().any(privctl_policy::is_unsafe_char),
            "unescaped character in {:?}",
            d.message
        );
        let _ = d.display("fuzz.toml").to_string();
    }
    if report.policy.is_none() {
        assert!(
            report.has_errors(),
            "a policy that did not parse must say why"
        );
    }
    let files = [FileReport {
        path: "fuzz.toml".to_owned(),
        outcome: FileOutcome::Checked(Box::new(report)),
    }];
    let _ = render::to_json(&files).to_string();
    let _ = render::to_sarif(&files).to_string();
}

struct Redactors {
    placeholder: Redactor,
    remove: Redactor,
    pseudonym: Redactor,
}

fn redactors() -> &'static Redactors {
    static R: OnceLock<Redactors> = OnceLock::new();
    R.get_or_init(|| {
        let build = |op: Operator| {
            Redactor::builder()
                .operator(op)
                .pseudonym_key(PseudonymKey::new(&[7; 32]).expect("key"))
                .build()
                .expect("redactor")
        };
        Redactors {
            placeholder: build(Operator::Placeholder),
            remove: build(Operator::Remove),
            pseudonym: build(Operator::Pseudonym),
        }
    })
}

/// Whether `small` is `big` with some bytes left out.
fn is_subsequence(small: &str, big: &str) -> bool {
    let mut rest = big.bytes();
    small.bytes().all(|b| rest.any(|c| c == b))
}

/// Any bytes given to the redactor: no panic; findings are sorted, disjoint
/// and on character boundaries; every finding reported is removed whole, and
/// no piece of four characters of one is left behind;
/// and redacting twice changes nothing more than redacting once, with
/// placeholders and with pseudonyms (whose output must never be detected
/// again).
pub fn redact(data: &[u8]) {
    let r = redactors();
    let _ = r.placeholder.find_bytes(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let found = r.placeholder.find(text);
    let mut last_end = 0;
    for f in &found {
        assert!(
            f.start >= last_end && f.start < f.end && f.end <= text.len(),
            "{f:?}"
        );
        assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
        last_end = f.end;
    }

    // Every finding reported is removed whole: the output of the remove
    // operator is the input with the findings cut out, or less (a second
    // round may remove what a first one revealed), never more. (Counting
    // occurrences of each value instead gives false alarms: text on both
    // sides of a removed finding can join up and spell one again.)
    let removed = r.remove.redact(text);
    let mut expected = String::with_capacity(text.len());
    let mut at = 0;
    for f in &found {
        expected.push_str(&text[at..f.start]);
        at = f.end;
    }
    expected.push_str(&text[at..]);
    assert!(
        is_subsequence(&removed, &expected),
        "redaction kept bytes of a finding it reported"
    );

    // Nothing detected survives: no piece of four characters of a value
    // found is left in the placeholder output.
    let placed = r.placeholder.redact(text);
    let leaked = privctl_redact::leaked_fragments(text, &found, &placed);
    assert!(leaked.is_empty(), "redaction left {leaked:?}");

    for redactor in [&r.placeholder, &r.pseudonym] {
        let once = redactor.redact(text).into_owned();
        let twice = redactor.redact(&once).into_owned();
        assert_eq!(once, twice, "redacting twice changed more");
    }
}

/// Any bytes as a sealed value or key file: parsing and opening never
/// panic, and nothing but the genuine value opens.
pub fn sealed_open(data: &[u8]) {
    let key = SecretKey::from_bytes([42; 32]);
    if let Ok(v) = sealed::SealedValue::parse(data) {
        // Random bytes must never authenticate (2^-128).
        assert!(sealed::open(&key, "ref_fuzz", "pan", &v).is_err());
        let _ = v.key_id();
    }
    // A genuine value with the fuzz input as record and field still round-trips.
    let text = String::from_utf8_lossy(data);
    let mid = text
        .char_indices()
        .nth(text.chars().count() / 2)
        .map_or(text.len(), |(i, _)| i);
    let (record, field) = text.split_at(mid);
    if let Ok(v) = sealed::seal(&key, 7, record, field, data) {
        let opened = sealed::open(&key, record, field, &v);
        assert_eq!(opened.as_deref().map(|p| p.as_slice()).ok(), Some(data));
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(mut ring) = Keyring::parse(s, "fuzz") {
            // Whatever the versions, rotation either adds one or says why.
            let newest = ring.newest();
            match ring.rotate() {
                Ok(v) => assert!(v > newest),
                Err(e) => assert!(matches!(e, privctl_vault::Error::VersionsExhausted)),
            }
            let again =
                Keyring::parse(&ring.to_text(), "fuzz").expect("a keyring's own text parses");
            assert_eq!(again.versions(), ring.versions());
        }
    }
}
