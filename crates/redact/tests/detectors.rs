//! Every detector's positives and near-misses, from `data/detectors.toml`.

use privctl_redact::{Builtin, Redactor};

fn cases() -> Vec<(String, Vec<String>, Vec<String>)> {
    let src = include_str!("data/detectors.toml");
    let doc: toml::Value = toml::from_str(src).expect("detectors.toml parses");
    doc["case"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            let list = |k: &str| -> Vec<String> {
                c[k].as_array()
                    .expect(k)
                    .iter()
                    .map(|v| v.as_str().expect("string").to_owned())
                    .collect()
            };
            (
                c["kind"].as_str().expect("kind").to_owned(),
                list("found"),
                list("not_found"),
            )
        })
        .collect()
}

#[test]
fn every_kind_has_positive_and_negative_cases() {
    let cases = cases();
    for b in Builtin::ALL {
        let case = cases
            .iter()
            .find(|c| c.0 == b.name())
            .unwrap_or_else(|| panic!("no case for {}", b.name()));
        assert!(!case.1.is_empty() && !case.2.is_empty(), "{}", b.name());
    }
}

#[test]
fn positives_are_found_exactly_and_near_misses_not_at_all() {
    let r = Redactor::builder().build().expect("redactor");
    let mut failures = Vec::new();
    for (kind, found, not_found) in cases() {
        for marked in &found {
            let start = marked.find('«').expect("« marker");
            let end = marked.find('»').expect("» marker") - '«'.len_utf8();
            let text = marked.replace(['«', '»'], "");
            let got: Vec<(String, &str)> = r
                .find(&text)
                .iter()
                .map(|f| (f.kind.name().to_owned(), &text[f.range()]))
                .collect();
            let want = vec![(kind.clone(), &text[start..end])];
            if got != want {
                failures.push(format!(
                    "{kind}: {text:?}\n    got  {got:?}\n    want {want:?}"
                ));
            }
        }
        for text in &not_found {
            let got: Vec<(String, &str)> = r
                .find(text)
                .iter()
                .filter(|f| f.kind.name() == kind)
                .map(|f| (f.kind.name().to_owned(), &text[f.range()]))
                .collect();
            if !got.is_empty() {
                failures.push(format!("{kind} near-miss {text:?} reported {got:?}"));
            }
        }
    }
    let doc: toml::Value = toml::from_str(include_str!("data/detectors.toml")).expect("parses");
    for text in doc["nothing"]["text"].as_array().expect("nothing.text") {
        let text = text.as_str().expect("string");
        let got: Vec<(String, &str)> = r
            .find(text)
            .iter()
            .map(|f| (f.kind.name().to_owned(), &text[f.range()]))
            .collect();
        if !got.is_empty() {
            failures.push(format!("{text:?} must have no finding, got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Card numbers one after another, separated by single spaces, are each
/// found (alone each already was); a run of four-digit groups that cards do
/// not cover whole is not a card.
#[test]
fn runs_of_card_numbers_are_each_found() {
    let r = Redactor::builder().build().expect("redactor");
    let cards = |text: &str| -> Vec<String> {
        r.find(text)
            .iter()
            .filter(|f| f.kind.name() == "credit_card")
            .map(|f| text[f.range()].to_owned())
            .collect()
    };
    assert_eq!(
        cards("test cards: 4111111111111111 5500000000000004 340000000000009 done"),
        ["4111111111111111", "5500000000000004", "340000000000009"]
    );
    assert_eq!(
        cards("4111 1111 1111 1111 5500 0000 0000 0004"),
        ["4111 1111 1111 1111", "5500 0000 0000 0004"]
    );
    assert!(cards("4111 1111 1111 1111 1111").is_empty());
    assert_eq!(
        cards("4111111111111111 4111111111111112"),
        ["4111111111111111"]
    );
}
