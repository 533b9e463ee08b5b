//! `privctl redact`: write the input with findings replaced.

use std::io::{BufReader, BufWriter, Write};

use anyhow::{bail, Context};
use privctl_redact::{structured, Operator, Session};

use crate::cli::{InputFormat, OperatorArg, RedactArgs};
use crate::commands::detectors::{open_inputs, pseudonym_key, Detectors};
use crate::output::Outcome;
use crate::progress;

pub fn run(args: &RedactArgs) -> anyhow::Result<Outcome> {
    let op = match args.operator {
        OperatorArg::Placeholder => Operator::Placeholder,
        OperatorArg::Mask => Operator::Mask { keep_last: 4 },
        OperatorArg::Pseudonym => Operator::Pseudonym,
        OperatorArg::Remove => Operator::Remove,
        OperatorArg::Token => Operator::Token,
    };
    let detectors = Detectors::build(
        &args.detectors,
        op,
        pseudonym_key(args.key_file.as_deref())?,
    )?;
    if args.output.is_some() && args.files.len() > 1 {
        bail!("--output takes one input file, not {}", args.files.len());
    }
    // Output goes to a temporary file beside the target and is moved into
    // place only when everything was redacted: bad input changes nothing.
    let mut temp = match &args.output {
        Some(path) => {
            let dir = path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            Some(
                tempfile::NamedTempFile::new_in(dir)
                    .with_context(|| format!("cannot create a file in {}", dir.display()))?,
            )
        }
        None => None,
    };
    let mut session = Session::new();
    let mut total = 0u64;
    {
        let sink: Box<dyn Write> = match &mut temp {
            Some(t) => Box::new(t.as_file_mut()),
            None => Box::new(std::io::stdout().lock()),
        };
        let mut out = BufWriter::new(sink);
        for input in open_inputs(&args.files) {
            let input = input?;
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
    if let (Some(t), Some(path)) = (temp, &args.output) {
        t.persist(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    eprintln!(
        "{total} value{} redacted",
        if total == 1 { "" } else { "s" }
    );
    Ok(Outcome::Clean)
}
