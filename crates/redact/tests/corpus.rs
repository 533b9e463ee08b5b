//! Per-kind precision and recall on a generated labelled corpus with
//! near-misses (see privctl-corpus).

use std::collections::BTreeMap;

use privctl_redact::{Builtin, Redactor};

/// Matches findings to labels: same kind, overlapping by at least half of
/// the shorter span, each label used once. Returns (tp, fp, fn) per kind.
pub fn score(
    labels: &[privctl_corpus::Label],
    found: &[privctl_redact::Finding],
) -> BTreeMap<String, (usize, usize, usize)> {
    let mut by_kind: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    for b in Builtin::ALL {
        by_kind.insert(b.name().to_owned(), (0, 0, 0));
    }
    let mut used = vec![false; labels.len()];
    let mut li = 0;
    for f in found {
        while li < labels.len() && labels[li].end <= f.start {
            li += 1;
        }
        let mut hit = false;
        let mut j = li;
        while j < labels.len() && labels[j].start < f.end {
            let l = &labels[j];
            let overlap = f.end.min(l.end).saturating_sub(f.start.max(l.start));
            let shorter = (f.end - f.start).min(l.end - l.start);
            if !used[j] && l.kind == f.kind.name() && overlap * 2 >= shorter {
                used[j] = true;
                hit = true;
                break;
            }
            j += 1;
        }
        let e = by_kind.entry(f.kind.name().to_owned()).or_default();
        if hit {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }
    for (l, u) in labels.iter().zip(&used) {
        if !u {
            by_kind.entry(l.kind.to_owned()).or_default().2 += 1;
        }
    }
    by_kind
}

#[test]
fn every_kind_has_precision_and_recall_of_at_least_098() {
    let corpus = privctl_corpus::generate(2026, 3_000_000, 0.35);
    let r = Redactor::builder().build().expect("default redactor");
    let found = r.find(&corpus.text);
    let scores = score(&corpus.labels, &found);
    let mut report = String::new();
    let mut bad = Vec::new();
    for (kind, (tp, fp, fneg)) in &scores {
        let p = *tp as f64 / (tp + fp).max(1) as f64;
        let rec = *tp as f64 / (tp + fneg).max(1) as f64;
        report.push_str(&format!(
            "{kind:22} tp {tp:5} fp {fp:4} fn {fneg:4}  P {p:.4} R {rec:.4}\n"
        ));
        if tp + fneg < 20 || p < 0.98 || rec < 0.98 {
            bad.push(kind.clone());
        }
    }
    assert!(
        bad.is_empty(),
        "kinds below 0.98 (or too few labels): {bad:?}\n{report}"
    );
}

#[test]
#[ignore = "diagnostic: prints missed and spurious findings"]
fn print_misses() {
    let corpus = privctl_corpus::generate(2026, 3_000_000, 0.35);
    let r = Redactor::builder().build().expect("default redactor");
    let found = r.find(&corpus.text);
    let kind = std::env::var("KIND").unwrap_or_default();
    for l in corpus.labels.iter().filter(|l| l.kind == kind) {
        if !found
            .iter()
            .any(|f| f.kind.name() == l.kind && f.start < l.end && l.start < f.end)
        {
            let line_start = corpus.text[..l.start].rfind('\n').map_or(0, |i| i + 1);
            let line_end = corpus.text[l.end..]
                .find('\n')
                .map_or(corpus.text.len(), |i| l.end + i);
            let others: Vec<_> = found
                .iter()
                .filter(|f| f.start < line_end && f.end > line_start)
                .map(|f| (f.kind.name().to_owned(), &corpus.text[f.start..f.end]))
                .collect();
            println!(
                "MISS {:?} in {:?} found {:?}",
                &corpus.text[l.start..l.end],
                &corpus.text[line_start..line_end],
                others
            );
        }
    }
}
