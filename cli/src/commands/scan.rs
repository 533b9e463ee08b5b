//! `privctl scan`: report findings, change nothing.

use std::io::Write;

use anyhow::Context;
use privctl_redact::{Operator, PseudonymKey};

use crate::cli::ScanArgs;
use crate::commands::detectors::{open_inputs, Detectors};
use crate::output::{self, Outcome};
use crate::progress;

pub fn run(args: &ScanArgs) -> anyhow::Result<Outcome> {
    // Scanning replaces nothing, so any pseudonym rule gets a throwaway key.
    let detectors = Detectors::build(
        &args.detectors,
        Operator::Placeholder,
        Some(PseudonymKey::ephemeral()?),
        // Scanning replaces nothing, so nothing is sealed either.
        Some(std::sync::Arc::new(privctl_redact::sealing::ScanOnly)),
    )?;
    let redactor = detectors.text(&args.detectors)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut total = 0u64;
    let mut files = 0usize;
    for input in open_inputs(&args.files)? {
        let bar = progress::bytes(&format!("scan {}", input.name), input.len);
        let name = input.name.clone();
        let stats =
            redactor.scan_stream(input.reader, &mut |n| bar.set_position(n), &mut |f, pos| {
                let r = if args.json {
                    let obj = serde_json::json!({
                        "file": name,
                        "kind": f.kind.name(),
                        "start": f.start,
                        "end": f.end,
                        "line": pos.line,
                        "column": pos.column,
                    });
                    writeln!(out, "{obj}")
                } else {
                    writeln!(out, "{name}:{}:{}: {}", pos.line, pos.column, f.kind.name())
                };
                // A closed stdout surfaces as this error's source, which
                // `output::finish` recognises as a broken pipe.
                r.map_err(privctl_redact::Error::Write)
            });
        bar.finish_and_clear();
        let stats = stats.with_context(|| format!("scanning {name}"))?;
        total += stats.findings;
        files += 1;
    }
    out.flush()?;
    output::note(format_args!(
        "{total} finding{} in {files} input{}",
        if total == 1 { "" } else { "s" },
        if files == 1 { "" } else { "s" }
    ));
    Ok(if total > 0 && args.fail_on_findings {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}
