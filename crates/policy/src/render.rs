//! `check`'s results for machines: a JSON document and SARIF 2.1.0 for
//! code-scanning UIs. Both carry exactly the findings the text form prints.

use serde_json::{json, Value};

use crate::{Diagnostic, Report, Rule, Severity};

/// What became of one file given to `check`.
#[derive(Debug)]
pub enum FileOutcome {
    /// It was read and checked.
    Checked(Box<Report>),
    /// It could not be read (missing, unreadable, not UTF-8).
    Unreadable(String),
}

/// One file given to `check` and what became of it.
#[derive(Debug)]
pub struct FileReport {
    /// The path as the user gave it.
    pub path: String,
    /// The outcome.
    pub outcome: FileOutcome,
}

impl FileReport {
    /// The file's findings (none when it was unreadable).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match &self.outcome {
            FileOutcome::Checked(r) => &r.diagnostics,
            FileOutcome::Unreadable(_) => &[],
        }
    }
}

/// Totals over a run, as the summary line and the JSON report give them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// Files checked.
    pub files: usize,
    /// Errors found.
    pub errors: usize,
    /// Warnings found.
    pub warnings: usize,
    /// Files that could not be read.
    pub unreadable: usize,
}

/// Counts findings and unreadable files.
pub fn totals(files: &[FileReport]) -> Totals {
    let mut t = Totals {
        files: files.len(),
        ..Totals::default()
    };
    for f in files {
        match &f.outcome {
            FileOutcome::Unreadable(_) => t.unreadable += 1,
            FileOutcome::Checked(r) => {
                t.errors += r.count(Severity::Error);
                t.warnings += r.count(Severity::Warning);
            }
        }
    }
    t
}

/// The JSON report: every file with its status, and every finding with its file.
pub fn to_json(files: &[FileReport]) -> Value {
    let t = totals(files);
    let file_entries: Vec<Value> = files
        .iter()
        .map(|f| match &f.outcome {
            FileOutcome::Checked(r) => json!({
                "path": f.path,
                "status": if r.has_errors() { "invalid" } else { "ok" },
                "errors": r.count(Severity::Error),
                "warnings": r.count(Severity::Warning),
            }),
            FileOutcome::Unreadable(why) => json!({
                "path": f.path,
                "status": "unreadable",
                "error": why,
            }),
        })
        .collect();
    let mut findings = Vec::new();
    for f in files {
        for d in f.diagnostics() {
            let mut v = serde_json::to_value(d).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut v {
                map.insert("file".to_owned(), Value::String(f.path.clone()));
            }
            findings.push(v);
        }
    }
    json!({
        "files": file_entries,
        "diagnostics": findings,
        "summary": {
            "files": t.files,
            "errors": t.errors,
            "warnings": t.warnings,
            "unreadable": t.unreadable,
        },
    })
}

/// The SARIF 2.1.0 log of a run.
pub fn to_sarif(files: &[FileReport]) -> Value {
    let rules: Vec<Value> = Rule::ALL
        .iter()
        .map(|r| {
            json!({
                "id": r.id(),
                "shortDescription": { "text": r.summary() },
            })
        })
        .collect();
    let mut results = Vec::new();
    let mut notifications = Vec::new();
    for f in files {
        if let FileOutcome::Unreadable(why) = &f.outcome {
            notifications.push(json!({
                "level": "error",
                "message": { "text": why },
                "locations": [{ "physicalLocation": { "artifactLocation": { "uri": uri(&f.path) } } }],
            }));
        }
        for d in f.diagnostics() {
            let mut text = d.message.clone();
            if let Some(h) = &d.hint {
                text.push_str("\nhint: ");
                text.push_str(h);
            }
            let mut physical = json!({ "artifactLocation": { "uri": uri(&f.path) } });
            if let Some(loc) = &d.location {
                physical["region"] = json!({
                    "startLine": loc.line,
                    "startColumn": loc.column,
                    "endLine": loc.end_line,
                    "endColumn": loc.end_column,
                    "charOffset": loc.offset,
                    "charLength": loc.length,
                });
            }
            results.push(json!({
                "ruleId": d.rule.id(),
                "ruleIndex": Rule::ALL.iter().position(|r| *r == d.rule),
                "level": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
                "message": { "text": text },
                "locations": [{ "physicalLocation": physical }],
            }));
        }
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "privctl",
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "informationUri": "https://example.invalid/privctl",
                    "rules": rules,
                }
            },
            "invocations": [{
                "executionSuccessful": notifications.is_empty(),
                "toolExecutionNotifications": notifications,
            }],
            "results": results,
        }],
    })
}

/// A relative URI for a path: forward slashes, spaces and other unsafe
/// bytes percent-encoded.
fn uri(path: &str) -> String {
    let path = path.replace('\\', "/");
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
