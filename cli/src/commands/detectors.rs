//! Redactors from `--policy`/`--data-type` or `--kinds`, shared by scan and redact.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use privctl_fsio::{read_limited, Output};
use privctl_policy::{escape_path, escape_untrusted};
use privctl_redact::{Builtin, KindSet, Operator, PolicyRedactor, PseudonymKey, Redactor, Sealer};

use crate::cli::DetectorArgs;

/// The detectors chosen on the command line.
pub enum Detectors {
    /// From a policy: text rules and field rules.
    Policy(PolicyRedactor),
    /// From `--kinds` (or every kind) with one operator.
    Plain(Redactor),
}

impl Detectors {
    pub fn build(
        args: &DetectorArgs,
        op: Operator,
        key: Option<PseudonymKey>,
        sealer: Option<Arc<dyn Sealer>>,
    ) -> anyhow::Result<Self> {
        if let Some(path) = &args.policy {
            let policy = privctl_policy::load(path)?;
            let pr = PolicyRedactor::with_sealer(&policy, args.data_type.as_deref(), key, sealer)
                .with_context(|| format!("policy {}", escape_path(path)))?;
            return Ok(Detectors::Policy(pr));
        }
        let mut kinds = KindSet::none();
        if args.kinds.is_empty() {
            kinds = KindSet::all();
        }
        for k in &args.kinds {
            match Builtin::from_name(k.trim()) {
                Some(b) => kinds.insert(b),
                None => bail!(
                    "unknown detector kind \"{}\"\nhint: kinds are {}",
                    escape_untrusted(k),
                    Builtin::ALL
                        .iter()
                        .map(|b| b.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
        let mut b = Redactor::builder().kinds(kinds).operator(op);
        if let Some(k) = key {
            b = b.pseudonym_key(k);
        }
        if let Some(s) = sealer {
            b = b.sealer(s);
        }
        Ok(Detectors::Plain(b.build()?))
    }

    /// The redactor for plain text.
    pub fn text(&self, args: &DetectorArgs) -> anyhow::Result<&Redactor> {
        match self {
            Detectors::Plain(r) => Ok(r),
            Detectors::Policy(p) => p.text().with_context(|| {
                format!(
                    "no redaction rule of the policy applies to plain text{}\nhint: rules that list `fields` apply to --format json, jsonl or csv; pick a data type with --data-type",
                    args.data_type.as_deref().map(|d| format!(" of data type \"{d}\"")).unwrap_or_default()
                )
            }),
        }
    }

    pub fn fields(&self) -> &dyn privctl_redact::structured::FieldRedactors {
        match self {
            Detectors::Plain(r) => r,
            Detectors::Policy(p) => p,
        }
    }
}

/// The largest pseudonym key file read: a key is 16 to a few hundred bytes.
const MAX_KEY_FILE: u64 = 4096;

/// The pseudonym key from `--key-file` or `PRIVCTL_PSEUDONYM_KEY`.
pub fn pseudonym_key(file: Option<&Path>) -> anyhow::Result<Option<PseudonymKey>> {
    if let Some(path) = file {
        let f = File::open(path)
            .with_context(|| format!("cannot read key file {}", escape_path(path)))?;
        let bytes = read_limited(f, MAX_KEY_FILE)
            .with_context(|| format!("cannot read key file {}", escape_path(path)))?;
        let trimmed = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
        return Ok(Some(
            PseudonymKey::new(trimmed)
                .with_context(|| format!("key file {}", escape_path(path)))?,
        ));
    }
    match std::env::var_os("PRIVCTL_PSEUDONYM_KEY") {
        Some(v) => {
            let v = v.into_encoded_bytes();
            Ok(Some(
                PseudonymKey::new(&v).context("PRIVCTL_PSEUDONYM_KEY")?,
            ))
        }
        None => Ok(None),
    }
}

/// Rewrites one input to an output, reporting progress; returns what it
/// counted.
pub type RewriteInput<'a> =
    dyn FnMut(Input, &mut dyn Write, &mut dyn FnMut(u64)) -> anyhow::Result<u64> + 'a;

/// Rewrites every input into `-o PATH` or standard output, in order, with
/// `each` (given the input, the output and a progress callback; it returns
/// what it counted); returns the total. `verb` names the work in progress
/// bars and errors (`("redact", "redacting")`).
///
/// A regular file (or a new one) is written beside the target and moved
/// into place only when every input was done: bad input changes nothing,
/// and an interrupted run leaves no temporary file. A FIFO or a device is
/// written in place, never replaced.
pub fn rewrite_inputs(
    files: &[PathBuf],
    output: Option<&Path>,
    verb: (&str, &str),
    each: &mut RewriteInput<'_>,
) -> anyhow::Result<u64> {
    if output.is_some() && files.len() > 1 {
        bail!("--output takes one input file, not {}", files.len());
    }
    let inputs = open_inputs(files)?;
    let mut target = match output {
        Some(path) => Some(
            Output::open(path).with_context(|| format!("cannot write {}", escape_path(path)))?,
        ),
        None => None,
    };
    let mut total = 0u64;
    {
        let sink: Box<dyn Write> = match &mut target {
            Some(o) => Box::new(o.writer()),
            None => Box::new(std::io::stdout().lock()),
        };
        // Large enough that the many short pieces of a redacted stream
        // (text between findings, replacements) leave in few system calls.
        let mut out = BufWriter::with_capacity(1 << 20, sink);
        for input in inputs {
            let name = input.name.clone();
            let bar = crate::progress::bytes(&format!("{} {name}", verb.0), input.len);
            let mut tick = |n: u64| bar.set_position(n);
            let n = each(input, &mut out, &mut tick);
            bar.finish_and_clear();
            total += n.with_context(|| format!("{} {name}", verb.1))?;
        }
        out.flush()?;
    }
    if let (Some(o), Some(path)) = (target, output) {
        o.commit()
            .with_context(|| format!("cannot write {}", escape_path(path)))?;
    }
    Ok(total)
}

/// An input: a file or standard input.
pub struct Input {
    /// How messages name it (escaped for printing).
    pub name: String,
    pub reader: Box<dyn Read>,
    pub len: Option<u64>,
}

/// Opens the inputs: the files, or standard input when none or `-`.
/// Standard input can be read once only: `-` given twice is a usage error,
/// not a command that waits for ever.
pub fn open_inputs(files: &[PathBuf]) -> anyhow::Result<Vec<Input>> {
    if files.is_empty() {
        return Ok(vec![stdin()]);
    }
    if files.iter().filter(|p| p.as_os_str() == "-").count() > 1 {
        bail!("standard input (\"-\") is given more than once; it can be read only once");
    }
    files
        .iter()
        .map(|p| {
            if p.as_os_str() == "-" {
                return Ok(stdin());
            }
            let f = File::open(p).with_context(|| format!("cannot open {}", escape_path(p)))?;
            let meta = f.metadata().ok();
            if meta.as_ref().is_some_and(|m| m.is_dir()) {
                bail!("cannot read {}: it is a directory", escape_path(p));
            }
            Ok(Input {
                name: escape_path(p),
                reader: Box::new(f),
                len: meta.filter(|m| m.is_file()).map(|m| m.len()),
            })
        })
        .collect()
}

fn stdin() -> Input {
    Input {
        name: "-".to_owned(),
        reader: Box::new(std::io::stdin().lock()),
        len: None,
    }
}
