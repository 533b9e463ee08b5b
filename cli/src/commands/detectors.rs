//! Redactors from `--policy`/`--data-type` or `--kinds`, shared by scan and redact.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use privctl_redact::{Builtin, KindSet, Operator, PolicyRedactor, PseudonymKey, Redactor};

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
    ) -> anyhow::Result<Self> {
        if let Some(path) = &args.policy {
            let policy = privctl_policy::load(path)?;
            let pr = PolicyRedactor::new(&policy, args.data_type.as_deref(), key)
                .with_context(|| format!("policy {}", path.display()))?;
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
                    "unknown detector kind \"{k}\"\nhint: kinds are {}",
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

/// The pseudonym key from `--key-file` or `PRIVCTL_PSEUDONYM_KEY`.
pub fn pseudonym_key(file: Option<&Path>) -> anyhow::Result<Option<PseudonymKey>> {
    if let Some(path) = file {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read key file {}", path.display()))?;
        let trimmed = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
        return Ok(Some(
            PseudonymKey::new(trimmed).with_context(|| format!("key file {}", path.display()))?,
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

/// An input: a file or standard input.
pub struct Input {
    pub name: String,
    pub reader: Box<dyn Read>,
    pub len: Option<u64>,
}

/// Opens the inputs: the files, or standard input when none or `-`.
pub fn open_inputs(files: &[PathBuf]) -> Vec<anyhow::Result<Input>> {
    if files.is_empty() {
        return vec![Ok(stdin())];
    }
    files
        .iter()
        .map(|p| {
            if p.as_os_str() == "-" {
                return Ok(stdin());
            }
            let f = File::open(p).with_context(|| format!("cannot open {}", p.display()))?;
            let len = f.metadata().ok().map(|m| m.len());
            Ok(Input {
                name: p.display().to_string(),
                reader: Box::new(f),
                len,
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
