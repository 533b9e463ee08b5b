//! `privctl check FILE...`: validate policies, print findings, exit 0/1/2.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use privctl_policy::escape_path;
use privctl_policy::render::{self, FileOutcome, FileReport};

use crate::cli::{CheckArgs, Format};
use crate::output::{self, Outcome};

pub fn run(args: &CheckArgs) -> anyhow::Result<Outcome> {
    let format = if args.json { Format::Json } else { args.format };
    let files: Vec<FileReport> = expand(&args.files)
        .into_iter()
        .map(|item| match item {
            Ok(path) => check_file(&path),
            Err((path, why)) => FileReport {
                path: escape_path(&path),
                outcome: FileOutcome::Unreadable(why),
            },
        })
        .collect();

    let mut out = std::io::stdout().lock();
    match format {
        Format::Text => print_text(&mut out, &files, args.quiet)?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &render::to_json(&files))?;
            writeln!(out)?;
        }
        Format::Sarif => {
            serde_json::to_writer_pretty(&mut out, &render::to_sarif(&files))?;
            writeln!(out)?;
        }
    }
    out.flush()?;

    let t = render::totals(&files);
    Ok(if t.unreadable > 0 {
        Outcome::InputError
    } else if t.errors > 0 || (args.deny_warnings && t.warnings > 0) {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

/// Files as given, and directories as their `*.toml` files in name order.
/// A `.toml` entry that cannot be a policy (a dangling or looping symbolic
/// link, a FIFO, a device) is reported, never skipped in silence.
fn expand(args: &[PathBuf]) -> Vec<Result<PathBuf, (PathBuf, String)>> {
    let mut out = Vec::new();
    for arg in args {
        if !arg.is_dir() {
            out.push(Ok(arg.clone()));
            continue;
        }
        match toml_files(arg) {
            Ok(files) if files.is_empty() => out.push(Err((
                arg.clone(),
                format!("directory {} holds no .toml files", escape_path(arg)),
            ))),
            Ok(files) => out.extend(files),
            Err(e) => out.push(Err((arg.clone(), format!("{e:#}")))),
        }
    }
    out
}

type Entry = Result<PathBuf, (PathBuf, String)>;

fn toml_files(dir: &Path) -> anyhow::Result<Vec<Entry>> {
    let mut files = Vec::new();
    let listing =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", escape_path(dir)))?;
    for entry in listing {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        // `metadata` follows symbolic links: a dangling or looping link
        // fails here, where `is_file` would only say "no".
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => files.push(Ok(path)),
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                let why = format!(
                    "cannot read policy {}: it is not a regular file",
                    escape_path(&path)
                );
                files.push(Err((path, why)));
            }
            Err(e) => {
                let what = if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_symlink()) {
                    "it is a symbolic link that leads nowhere readable"
                } else {
                    "it cannot be read"
                };
                let why = format!("cannot read policy {}: {what} ({e})", escape_path(&path));
                files.push(Err((path, why)));
            }
        }
    }
    fn path(e: &Entry) -> &Path {
        match e {
            Ok(p) | Err((p, _)) => p,
        }
    }
    files.sort_by(|a, b| path(a).cmp(path(b)));
    Ok(files)
}

fn check_file(path: &Path) -> FileReport {
    let outcome = match privctl_policy::read_source(path) {
        Ok(src) => FileOutcome::Checked(Box::new(privctl_policy::check_str(&src))),
        Err(e) => FileOutcome::Unreadable(e.to_string()),
    };
    FileReport {
        path: escape_path(path),
        outcome,
    }
}

fn print_text(out: &mut impl Write, files: &[FileReport], quiet: bool) -> anyhow::Result<()> {
    for f in files {
        match &f.outcome {
            FileOutcome::Unreadable(why) => output::note(format_args!("privctl: error: {why}")),
            FileOutcome::Checked(r) => {
                for d in &r.diagnostics {
                    writeln!(out, "{}", d.display(&f.path))?;
                }
            }
        }
    }
    if !quiet {
        let t = render::totals(files);
        let checked = t.files - t.unreadable;
        let mut summary = format!(
            "checked {checked} file{}: {} error{}, {} warning{}",
            plural(checked),
            t.errors,
            plural(t.errors),
            t.warnings,
            plural(t.warnings)
        );
        if t.unreadable > 0 {
            summary.push_str(&format!(", {} unreadable", t.unreadable));
        }
        output::note(summary);
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
