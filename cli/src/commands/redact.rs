//! `privctl redact`: write the input with findings replaced.

use std::io::{BufReader, BufWriter, Write};

use anyhow::{bail, Context};
use privctl_fsio::Output;
use privctl_policy::escape_path;
use privctl_redact::{structured, Operator, Session};

use crate::cli::{InputFormat, OperatorArg, RedactArgs};
use crate::commands::detectors::{open_inputs, pseudonym_key, Detectors};
use crate::output::{self, Outcome};
use crate::progress;

/// Whether building the redactor failed for want of a sealer.
fn needs_vault(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<privctl_redact::Error>(),
            Some(privctl_redact::Error::EncryptNeedsVault)
        )
    })
}

pub fn run(args: &RedactArgs) -> anyhow::Result<Outcome> {
    let op = match args.operator {
        OperatorArg::Placeholder => Operator::Placeholder,
        OperatorArg::Mask => Operator::Mask { keep_last: 4 },
        OperatorArg::Pseudonym => Operator::Pseudonym,
        OperatorArg::Remove => Operator::Remove,
        OperatorArg::Token => Operator::Token,
        OperatorArg::Encrypt => Operator::Encrypt,
    };
    let key = pseudonym_key(args.key_file.as_deref())?;
    // The vault is opened only when the encrypt operator is chosen (here or
    // by the policy): its keys are read once, and sealing needs no I/O.
    let detectors = match Detectors::build(&args.detectors, op, key.clone(), None) {
        Err(e) if needs_vault(&e) => {
            let sealer = crate::commands::vault::token_sealer(&args.vault, args.subject.as_deref())?;
            Detectors::build(&args.detectors, op, key, Some(sealer))?
        }
        Err(e) => return Err(e),
        Ok(_) if args.subject.is_some() => bail!(
            "--subject chooses whose key the encrypt operator seals with, and nothing here is encrypted\nhint: choose --operator encrypt, or a policy rule with operator = \"encrypt\""
        ),
        Ok(d) => d,
    };
    if args.output.is_some() && args.files.len() > 1 {
        bail!("--output takes one input file, not {}", args.files.len());
    }
    // A regular file (or a new one) is written beside the target and moved
    // into place only when everything was redacted: bad input changes
    // nothing, and an interrupted run leaves no temporary file. A FIFO or a
    // device is written in place, never replaced.
    let inputs = open_inputs(&args.files)?;
    let mut output = match &args.output {
        Some(path) => Some(
            Output::open(path).with_context(|| format!("cannot write {}", escape_path(path)))?,
        ),
        None => None,
    };
    let mut session = Session::new();
    let mut total = 0u64;
    {
        let sink: Box<dyn Write> = match &mut output {
            Some(o) => Box::new(o.writer()),
            None => Box::new(std::io::stdout().lock()),
        };
        // Large enough that the many short pieces of a redacted stream (text
        // between findings, replacements) leave in few system calls.
        let mut out = BufWriter::with_capacity(1 << 20, sink);
        for input in inputs {
            let name = input.name.clone();
            let bar = progress::bytes(&format!("redact {name}"), input.len);
            let mut tick = |n: u64| bar.set_position(n);
            let n = match args.format {
                InputFormat::Text => {
                    let r = detectors.text(&args.detectors)?;
                    r.redact_stream(input.reader, &mut out, &mut session, &mut tick)
                        .map(|s| s.findings)
                }
                InputFormat::Json => structured::redact_json(
                    input.reader,
                    &mut out,
                    detectors.fields(),
                    &mut session,
                ),
                InputFormat::Jsonl => structured::redact_jsonl(
                    BufReader::with_capacity(1 << 20, input.reader),
                    &mut out,
                    detectors.fields(),
                    &mut session,
                    &mut tick,
                ),
                InputFormat::Csv => {
                    structured::redact_csv(input.reader, &mut out, detectors.fields(), &mut session)
                }
            };
            bar.finish_and_clear();
            total += n.with_context(|| format!("redacting {name}"))?;
        }
        out.flush()?;
    }
    if let (Some(o), Some(path)) = (output, &args.output) {
        o.commit()
            .with_context(|| format!("cannot write {}", escape_path(path)))?;
    }
    output::note(format_args!(
        "{total} value{} redacted",
        if total == 1 { "" } else { "s" }
    ));
    Ok(Outcome::Clean)
}
