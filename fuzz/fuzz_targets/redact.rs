//! Any bytes given to the redactor: no panic; findings are sorted, disjoint
//! and on character boundaries; the redacted output no longer holds the
//! values found (beyond copies the input also held outside any finding); and
//! redacting twice changes nothing more than redacting once.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use privctl_redact::{Operator, Redactor};

fn redactors() -> &'static (Redactor, Redactor) {
    static R: OnceLock<(Redactor, Redactor)> = OnceLock::new();
    R.get_or_init(|| {
        let placeholder = Redactor::builder().build().expect("redactor");
        let remove = Redactor::builder().operator(Operator::Remove).build().expect("redactor");
        (placeholder, remove)
    })
}

fn count(hay: &str, needle: &str) -> usize {
    hay.match_indices(needle).count()
}

fuzz_target!(|data: &[u8]| {
    let (placeholder, remove) = redactors();
    let _ = placeholder.find_bytes(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let found = placeholder.find(text);
    let mut last_end = 0;
    for f in &found {
        assert!(f.start >= last_end && f.start < f.end && f.end <= text.len(), "{f:?}");
        assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
        last_end = f.end;
    }

    let removed = remove.redact(text);
    let mut residual = String::with_capacity(text.len());
    let mut at = 0;
    for f in &found {
        residual.push_str(&text[at..f.start]);
        residual.push('\u{0}');
        at = f.end;
    }
    residual.push_str(&text[at..]);
    for f in &found {
        let value = &text[f.range()];
        assert!(
            count(&removed, value) <= count(&residual, value),
            "value {value:?} ({}) survives redaction",
            f.kind
        );
    }

    let once = placeholder.redact(text).into_owned();
    let twice = placeholder.redact(&once).into_owned();
    assert_eq!(once, twice, "redacting twice changed more");
});
