//! `privctl reveal`: open the sealed tokens the encrypt operator wrote.

use std::io::{BufReader, BufWriter, Write};

use anyhow::{bail, Context};
use privctl_fsio::Output;
use privctl_policy::escape_path;
use privctl_redact::structured;

use crate::cli::{InputFormat, RevealArgs};
use crate::commands::detectors::open_inputs;
use crate::commands::vault;
use crate::output::{self, Outcome};
use crate::progress;

pub fn run(args: &RevealArgs) -> anyhow::Result<Outcome> {
    if args.output.is_some() && args.files.len() > 1 {
        bail!("--output takes one input file, not {}", args.files.len());
    }
    let inputs = open_inputs(&args.files)?;
    let rt = vault::runtime()?;
    let v = rt
        .block_on(vault::open(&vault::location(&args.vault)))
        .context("opening the vault that sealed the tokens")?;
    let mut opener = v.token_opener();
    let mut revealer = opener.blocking(&rt);
    let data_type = args.data_type.as_deref().unwrap_or_default();
    // As `redact -o`: a regular file appears only when every token opened.
    let mut output = match &args.output {
        Some(path) => Some(
            Output::open(path).with_context(|| format!("cannot write {}", escape_path(path)))?,
        ),
        None => None,
    };
    let mut total = 0u64;
    {
        let sink: Box<dyn Write> = match &mut output {
            Some(o) => Box::new(o.writer()),
            None => Box::new(std::io::stdout().lock()),
        };
        let mut out = BufWriter::with_capacity(1 << 16, sink);
        for input in inputs {
            let name = input.name.clone();
            let bar = progress::bytes(&format!("reveal {name}"), input.len);
            let mut tick = |n: u64| bar.set_position(n);
            let reader = BufReader::with_capacity(1 << 20, input.reader);
            let n = match args.format {
                InputFormat::Text => {
                    structured::reveal_text(reader, &mut out, &mut revealer, data_type, &mut tick)
                }
                InputFormat::Json => {
                    structured::reveal_json(reader, &mut out, &mut revealer, data_type)
                }
                InputFormat::Jsonl => {
                    structured::reveal_jsonl(reader, &mut out, &mut revealer, data_type, &mut tick)
                }
                InputFormat::Csv => {
                    structured::reveal_csv(reader, &mut out, &mut revealer, data_type)
                }
            };
            bar.finish_and_clear();
            total += n.with_context(|| format!("revealing {name}"))?;
        }
        out.flush()?;
    }
    if let (Some(o), Some(path)) = (output, &args.output) {
        o.commit()
            .with_context(|| format!("cannot write {}", escape_path(path)))?;
    }
    output::note(format_args!(
        "{total} token{} opened",
        if total == 1 { "" } else { "s" }
    ));
    Ok(Outcome::Clean)
}
