//! Nothing detected survives redaction: on every positive of the detector
//! cases and on the generated corpus, no piece of four or more characters
//! of a detected value is left in the output (see `leaked_fragments`).

use privctl_redact::{leaked_fragments, Redactor};

#[test]
fn no_piece_of_a_detected_value_survives_redaction() {
    let r = Redactor::builder().build().expect("redactor");
    let mut texts: Vec<String> = Vec::new();
    let doc: toml::Value =
        toml::from_str(include_str!("data/detectors.toml")).expect("detectors.toml parses");
    for case in doc["case"].as_array().expect("cases") {
        for t in case["found"].as_array().expect("found") {
            texts.push(t.as_str().expect("string").replace(['«', '»'], ""));
        }
    }
    let corpus = privctl_corpus::generate(7, 400_000, 0.35);
    texts.extend(corpus.text.lines().map(str::to_owned));
    let mut bad = Vec::new();
    for text in &texts {
        let found = r.find(text);
        let out = r.redact(text);
        let leaked = leaked_fragments(text, &found, &out);
        if !leaked.is_empty() {
            bad.push(format!("{text:?} -> {out:?} keeps {leaked:?}"));
        }
    }
    assert!(bad.is_empty(), "{} leaks:\n{}", bad.len(), bad.join("\n"));
}
