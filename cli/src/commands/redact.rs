//! `privctl redact`: write the input with findings replaced.

use std::io::BufReader;

use anyhow::bail;
use privctl_redact::{structured, Operator, Session};

use crate::cli::{InputFormat, OperatorArg, RedactArgs};
use crate::commands::detectors::{pseudonym_key, rewrite_inputs, Detectors};
use crate::output::{self, Outcome};

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
    let mut session = Session::new();
    let total = rewrite_inputs(
        &args.files,
        args.output.as_deref(),
        ("redact", "redacting"),
        &mut |input, out, tick| {
            Ok(match args.format {
                InputFormat::Text => {
                    let r = detectors.text(&args.detectors)?;
                    r.redact_stream(input.reader, out, &mut session, tick)?
                        .findings
                }
                InputFormat::Json => {
                    structured::redact_json(input.reader, out, detectors.fields(), &mut session)?
                }
                InputFormat::Jsonl => structured::redact_jsonl(
                    BufReader::with_capacity(1 << 20, input.reader),
                    out,
                    detectors.fields(),
                    &mut session,
                    tick,
                )?,
                InputFormat::Csv => {
                    structured::redact_csv(input.reader, out, detectors.fields(), &mut session)?
                }
            })
        },
    )?;
    output::note(format_args!(
        "{total} value{} redacted",
        if total == 1 { "" } else { "s" }
    ));
    Ok(Outcome::Clean)
}
