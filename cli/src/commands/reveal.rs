//! `privctl reveal`: open the sealed tokens the encrypt operator wrote.

use std::io::BufReader;

use anyhow::Context;
use privctl_redact::structured;

use crate::cli::{InputFormat, RevealArgs};
use crate::commands::detectors::rewrite_inputs;
use crate::commands::vault;
use crate::output::{self, Outcome};

pub fn run(args: &RevealArgs) -> anyhow::Result<Outcome> {
    let rt = vault::runtime()?;
    let v = rt
        .block_on(vault::open(&vault::location(&args.vault)))
        .context("opening the vault that sealed the tokens")?;
    let mut opener = v.token_opener();
    let mut revealer = opener.blocking(&rt);
    let data_type = args.data_type.as_deref().unwrap_or_default();
    let total = rewrite_inputs(
        &args.files,
        args.output.as_deref(),
        ("reveal", "revealing"),
        &mut |input, out, tick| {
            let reader = BufReader::with_capacity(1 << 20, input.reader);
            let r = &mut revealer;
            Ok(match args.format {
                InputFormat::Text => structured::reveal_text(reader, out, r, data_type, tick)?,
                InputFormat::Json => structured::reveal_json(reader, out, r, data_type)?,
                InputFormat::Jsonl => structured::reveal_jsonl(reader, out, r, data_type, tick)?,
                InputFormat::Csv => structured::reveal_csv(reader, out, r, data_type)?,
            })
        },
    )?;
    output::note(format_args!(
        "{total} token{} opened",
        if total == 1 { "" } else { "s" }
    ));
    Ok(Outcome::Clean)
}
