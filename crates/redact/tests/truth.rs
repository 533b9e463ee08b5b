//! Accuracy on text nobody here wrote: the third-party truth set in
//! `data/truth/`, one file per source (other projects' detector examples,
//! providers' documented formats, public log collections), each case
//! labelled by this crate's kind definitions.
//!
//! In a positive, every value to be found is marked `«kind:value»`. A mark
//! is found when a finding of its kind covers all of it. A negative must
//! have no finding at all. Per source, recall on the marks must be at least
//! 0.97 and at most 1 % of negatives may fire; findings on a positive that
//! cover no mark are counted as false alarms and held to the same 1 %. On
//! every positive, nothing detected may survive redaction.
//!
//! `cargo test -p privctl-redact --test tests truth -- --nocapture` prints
//! the per-source figures the README quotes (with `PRIVCTL_TRUTH_DETAIL=1`,
//! every miss and false alarm too).

use std::path::PathBuf;

use privctl_redact::{leaked_fragments, Finding, Redactor};

struct Mark {
    kind: String,
    start: usize,
    end: usize,
}

/// The text with its marks taken out, and where each value sits in it.
fn unmark(marked: &str) -> Result<(String, Vec<Mark>), String> {
    let mut text = String::with_capacity(marked.len());
    let mut marks = Vec::new();
    let mut rest = marked;
    while let Some(open) = rest.find('«') {
        text.push_str(&rest[..open]);
        let after = &rest[open + '«'.len_utf8()..];
        let close = after.find('»').ok_or("« without »")?;
        let inner = &after[..close];
        let (kind, value) = inner.split_once(':').ok_or("mark without kind:")?;
        if value.is_empty() {
            return Err(format!("empty mark «{inner}»"));
        }
        marks.push(Mark {
            kind: kind.to_owned(),
            start: text.len(),
            end: text.len() + value.len(),
        });
        text.push_str(value);
        rest = &after[close + '»'.len_utf8()..];
    }
    if rest.contains('»') {
        return Err("» without «".to_owned());
    }
    text.push_str(rest);
    Ok((text, marks))
}

#[derive(Default)]
struct Score {
    marks: usize,
    found: usize,
    positives: usize,
    false_alarms: usize,
    negatives: usize,
    fired: usize,
    misses: Vec<String>,
    alarms: Vec<String>,
    leaks: Vec<String>,
}

fn describe(text: &str, found: &[Finding]) -> String {
    let got: Vec<String> = found
        .iter()
        .map(|f| format!("{}:{:?}", f.kind, &text[f.range()]))
        .collect();
    format!("{text:?}\n      found [{}]", got.join(", "))
}

fn score_source(r: &Redactor, doc: &toml::Value, file: &str) -> Score {
    let mut s = Score::default();
    let cases = |key: &str| -> Vec<(String, String)> {
        doc.get(key)
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .map(|c| {
                        let text = c["text"].as_str().unwrap_or_else(|| {
                            panic!("{file}: a {key} without text");
                        });
                        let from = c.get("from").and_then(|v| v.as_str()).unwrap_or("");
                        (text.to_owned(), from.to_owned())
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    for (marked, from) in cases("positive") {
        let (text, marks) = unmark(&marked).unwrap_or_else(|e| panic!("{file} {from}: {e}"));
        assert!(
            !marks.is_empty(),
            "{file} {from}: a positive without a mark"
        );
        for m in &marks {
            assert!(
                privctl_redact::Builtin::from_name(&m.kind).is_some(),
                "{file} {from}: unknown kind {}",
                m.kind
            );
        }
        s.positives += 1;
        let found = r.find(&text);
        for m in &marks {
            s.marks += 1;
            let hit = found
                .iter()
                .any(|f| f.kind.name() == m.kind && f.start <= m.start && f.end >= m.end);
            if hit {
                s.found += 1;
            } else {
                s.misses.push(format!(
                    "{from}: {} {:?} in {}",
                    m.kind,
                    &text[m.start..m.end],
                    describe(&text, &found)
                ));
            }
        }
        let stray = found
            .iter()
            .any(|f| !marks.iter().any(|m| f.start < m.end && m.start < f.end));
        if stray {
            s.false_alarms += 1;
            s.alarms
                .push(format!("{from}: {}", describe(&text, &found)));
        }
        let out = r.redact(&text);
        let leaked = leaked_fragments(&text, &found, &out);
        if !leaked.is_empty() {
            s.leaks.push(format!("{from}: {out:?} keeps {leaked:?}"));
        }
    }
    for (text, from) in cases("negative") {
        assert!(
            !text.contains('«') && !text.contains('»'),
            "{file} {from}: a mark in a negative"
        );
        s.negatives += 1;
        let found = r.find(&text);
        if !found.is_empty() {
            s.fired += 1;
            s.alarms
                .push(format!("{from} (negative): {}", describe(&text, &found)));
        }
    }
    s
}

#[test]
fn third_party_truth_set_recall_and_false_alarms_per_source() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/truth");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/data/truth")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "the truth set has its sources");
    let r = Redactor::builder().build().expect("redactor");
    let mut table = String::from(
        "| source | licence | positives | values | recall | negatives | fired | false alarms on positives |\n|---|---|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut failures = Vec::new();
    let mut details = Vec::new();
    let mut all = Score::default();
    for path in &files {
        let file = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let src = std::fs::read_to_string(path).expect("read");
        let doc: toml::Value = toml::from_str(&src).unwrap_or_else(|e| panic!("{file}: {e}"));
        let source = &doc["source"];
        let name = source["name"].as_str().expect("source.name");
        let licence = source["licence"].as_str().expect("source.licence");
        assert!(source["url"].as_str().is_some(), "{file}: source.url");
        let s = score_source(&r, &doc, &file);
        let recall = s.found as f64 / s.marks.max(1) as f64;
        let fired = s.fired as f64 / s.negatives.max(1) as f64;
        let alarms = s.false_alarms as f64 / s.positives.max(1) as f64;
        table.push_str(&format!(
            "| {name} | {licence} | {} | {} | {recall:.3} | {} | {} ({:.1} %) | {} ({:.1} %) |\n",
            s.positives,
            s.marks,
            s.negatives,
            s.fired,
            fired * 100.0,
            s.false_alarms,
            alarms * 100.0
        ));
        let detail = format!(
            "{file}:\n  missed:\n    {}\n  false alarms:\n    {}",
            s.misses.join("\n    "),
            s.alarms.join("\n    ")
        );
        details.push(detail);
        if recall < 0.97 || fired > 0.01 || alarms > 0.01 || !s.leaks.is_empty() {
            failures.push(format!(
                "{file}: recall {recall:.3} ({} of {}), negatives fired {:.1} %, false alarms on positives {:.1} %, {} leak(s)\n  missed:\n    {}\n  false alarms:\n    {}\n  leaks:\n    {}",
                s.found,
                s.marks,
                fired * 100.0,
                alarms * 100.0,
                s.leaks.len(),
                s.misses.join("\n    "),
                s.alarms.join("\n    "),
                s.leaks.join("\n    ")
            ));
        }
        all.marks += s.marks;
        all.found += s.found;
        all.positives += s.positives;
        all.negatives += s.negatives;
        all.fired += s.fired;
        all.false_alarms += s.false_alarms;
    }
    table.push_str(&format!(
        "| **all** | | {} | {} | {:.3} | {} | {} ({:.1} %) | {} ({:.1} %) |\n",
        all.positives,
        all.marks,
        all.found as f64 / all.marks.max(1) as f64,
        all.negatives,
        all.fired,
        all.fired as f64 * 100.0 / all.negatives.max(1) as f64,
        all.false_alarms,
        all.false_alarms as f64 * 100.0 / all.positives.max(1) as f64
    ));
    println!("{table}");
    if std::env::var_os("PRIVCTL_TRUTH_DETAIL").is_some() {
        println!("{}", details.join("\n\n"));
    }
    assert!(failures.is_empty(), "{}\n{table}", failures.join("\n\n"));
}

#[test]
fn marks_are_parsed_exactly() {
    let (text, marks) = unmark("a «email:x@y.io» b «ipv4:10.0.0.1»").expect("parses");
    assert_eq!(text, "a x@y.io b 10.0.0.1");
    assert_eq!(&text[marks[0].start..marks[0].end], "x@y.io");
    assert_eq!(marks[1].kind, "ipv4");
    assert!(unmark("a «email x»").is_err());
    assert!(unmark("a «email:x").is_err());
}
