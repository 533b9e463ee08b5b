//! `privctl detectors`, `privctl completions`, `privctl man`: what privctl
//! knows, generated from its own definitions.

use std::io::Write;

use clap::CommandFactory;
use privctl_redact::Builtin;
use serde_json::json;

use crate::cli::{Cli, CompletionsArgs, DetectorsArgs};
use crate::output::{self, Outcome};

pub fn detectors(args: &DetectorsArgs) -> anyhow::Result<Outcome> {
    let mut text = String::new();
    for b in Builtin::ALL {
        let family = if b.is_secret() { "secret" } else { "personal" };
        let placeholder = format!("[{}]", b.label());
        if args.json {
            let v = json!({
                "kind": b.name(),
                "family": family,
                "validates": b.validation(),
                "default_operator": "placeholder",
                "replacement": placeholder,
            });
            text.push_str(&v.to_string());
            text.push('\n');
        } else {
            text.push_str(&format!(
                "{:<21} {:<8} {:<24} {}\n",
                b.name(),
                family,
                placeholder,
                b.validation()
            ));
        }
    }
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(Outcome::Clean)
}

pub fn completions(args: &CompletionsArgs) -> anyhow::Result<Outcome> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "privctl", &mut buf);
    let mut out = std::io::stdout().lock();
    out.write_all(&buf)?;
    out.flush()?;
    Ok(Outcome::Clean)
}

pub fn man() -> anyhow::Result<Outcome> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut buf)?;
    let mut out = std::io::stdout().lock();
    out.write_all(&buf)?;
    out.flush()?;
    output::note(format_args!(
        "one page for privctl and its commands' summaries; `privctl COMMAND --help` has each in full"
    ));
    Ok(Outcome::Clean)
}
