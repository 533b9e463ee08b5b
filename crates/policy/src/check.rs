//! Parsing a policy file into a [`Policy`] and a list of located findings.
//!
//! Three passes, each only when the one before it succeeded:
//! 1. TOML syntax, which gives a span for every key and value;
//! 2. the format: types, allowed values, periods and identifiers, with every
//!    unknown key collected rather than the first one alone;
//! 3. meaning: the rules in [`crate::rules`], which compare parts of the
//!    policy with each other and with the law.

use std::ops::Range;

use toml::de::DeTable;

use crate::diagnostic::{Diagnostic, Rule, Severity};
use crate::source::{KeyPath, LineIndex, Segment, SourceMap};
use crate::{escape_untrusted, rules, Policy};

/// The outcome of checking one file.
#[derive(Debug)]
pub struct Report {
    /// The policy, when the file parsed (it may still have findings).
    pub policy: Option<Policy>,
    /// Every finding, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    /// Number of findings of this severity.
    pub fn count(&self, severity: Severity) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .count()
    }

    /// Whether the file has any error.
    pub fn has_errors(&self) -> bool {
        self.count(Severity::Error) > 0
    }
}

/// A finding before it is placed in the file: it names a key path.
#[derive(Debug)]
pub(crate) struct Finding {
    pub severity: Severity,
    pub rule: Rule,
    pub path: KeyPath,
    pub message: String,
    pub hint: Option<String>,
}

/// Checks the text of one policy file.
///
/// ```
/// let report = privctl_policy::check_str("[organisation]\nname = 1\n");
/// assert!(report.has_errors());
/// assert_eq!(report.diagnostics[0].location.as_ref().unwrap().line, 2);
/// ```
pub fn check_str(src: &str) -> Report {
    let lines = LineIndex::new(src);
    let mut diagnostics = Vec::new();
    let doc = match DeTable::parse(src) {
        Ok(doc) => doc,
        Err(err) => {
            diagnostics.push(diagnostic(
                &lines,
                Severity::Error,
                Rule::Syntax,
                err.span(),
                err.message().trim_end().to_owned(),
                None,
            ));
            return Report {
                policy: None,
                diagnostics,
            };
        }
    };
    let map = SourceMap::new(&doc);

    let mut unknown = Vec::new();
    let parsed: Result<Policy, toml::de::Error> = toml::Deserializer::parse(src)
        .and_then(|de| serde_ignored::deserialize(de, |path| unknown.push(ignored_path(&path))));
    for path in unknown {
        let key = match path.0.last() {
            Some(Segment::Key(k)) => k.clone(),
            _ => path.to_string(),
        };
        let parent = KeyPath(path.0[..path.0.len().saturating_sub(1)].to_vec());
        let place = if parent.0.is_empty() {
            "at the top level".to_owned()
        } else {
            format!("in {parent}")
        };
        diagnostics.push(diagnostic(
            &lines,
            Severity::Error,
            Rule::UnknownKey,
            map.locate_key(&path),
            format!("unknown key \"{key}\" {place}"),
            Some("see schema/policy.schema.json for the keys each table takes".to_owned()),
        ));
    }

    let policy = match parsed {
        Ok(policy) => Some(policy),
        Err(err) => {
            let message = err.message().trim_end().to_owned();
            let rule = classify(&message);
            diagnostics.push(diagnostic(
                &lines,
                Severity::Error,
                rule,
                err.span(),
                message,
                None,
            ));
            None
        }
    };

    if let Some(policy) = &policy {
        for f in rules::check(policy, &map) {
            let span = map.locate(&f.path);
            diagnostics.push(diagnostic(
                &lines, f.severity, f.rule, span, f.message, f.hint,
            ));
        }
    }

    diagnostics.sort_by_key(|d| {
        (
            d.location.as_ref().map_or(usize::MAX, |l| l.offset),
            std::cmp::Reverse(d.severity),
        )
    });
    Report {
        policy,
        diagnostics,
    }
}

fn diagnostic(
    lines: &LineIndex<'_>,
    severity: Severity,
    rule: Rule,
    span: Option<Range<usize>>,
    message: String,
    hint: Option<String>,
) -> Diagnostic {
    Diagnostic {
        severity,
        rule,
        message: escape_untrusted(&message).into_owned(),
        hint: hint.map(|h| escape_untrusted(&h).into_owned()),
        location: span.map(|s| lines.locate(s)),
    }
}

/// A finding about `path` in the policy text `src`, placed at that key (or
/// its nearest ancestor): for checks made outside this crate, such as a
/// policy against a live database.
pub fn diagnostic_at(
    src: &str,
    path: &crate::source::KeyPath,
    severity: Severity,
    rule: Rule,
    message: String,
    hint: Option<String>,
) -> Diagnostic {
    let lines = LineIndex::new(src);
    let span = DeTable::parse(src)
        .ok()
        .and_then(|doc| SourceMap::new(&doc).locate(path));
    diagnostic(&lines, severity, rule, span, message, hint)
}

/// Names the rule behind a format error from the message the deserializer
/// gave, which is the only thing it gives.
fn classify(message: &str) -> Rule {
    if message.starts_with("invalid duration") {
        Rule::BadDuration
    } else if message.starts_with("invalid identifier")
        || message.starts_with("invalid column reference")
    {
        Rule::BadIdentifier
    } else if message.starts_with("missing field") {
        Rule::MissingKey
    } else {
        Rule::InvalidValue
    }
}

fn ignored_path(path: &serde_ignored::Path<'_>) -> KeyPath {
    use serde_ignored::Path;
    fn walk(path: &Path<'_>, out: &mut Vec<Segment>) {
        match path {
            Path::Root => {}
            Path::Seq { parent, index } => {
                walk(parent, out);
                out.push(Segment::Index(*index));
            }
            Path::Map { parent, key } => {
                walk(parent, out);
                out.push(Segment::Key(key.clone()));
            }
            Path::Some { parent }
            | Path::NewtypeStruct { parent }
            | Path::NewtypeVariant { parent } => walk(parent, out),
        }
    }
    let mut segs = Vec::new();
    walk(path, &mut segs);
    KeyPath(segs)
}
