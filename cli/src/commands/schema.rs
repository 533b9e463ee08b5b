//! `privctl schema`: the policy format's JSON Schema on stdout.

use std::io::Write;

use crate::output::Outcome;

pub fn run() -> anyhow::Result<Outcome> {
    let schema = privctl_policy::json_schema();
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &schema)?;
    writeln!(out)?;
    Ok(Outcome::Clean)
}
