//! `privctl check FILE...`: validate policies, print findings, exit 0/1/2.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use privctl_policy::escape_path;
use privctl_policy::render::{self, FileOutcome, FileReport};
use privctl_retention::Session;
use privctl_store::drift::drift;

use crate::cli::{CheckArgs, Format};
use crate::output::{self, Outcome};

pub fn run(args: &CheckArgs) -> anyhow::Result<Outcome> {
    let format = if args.json { Format::Json } else { args.format };
    let live = args.db.is_some() || args.db_env;
    if live && (args.files.len() != 1 || args.files[0].is_dir()) {
        anyhow::bail!("--db and --db-env check one policy file against its databases");
    }
    let mut files: Vec<FileReport> = expand(&args.files)
        .into_iter()
        .map(|item| match item {
            Ok(path) => check_file(&path),
            Err((path, why)) => FileReport {
                path: escape_path(&path),
                outcome: FileOutcome::Unreadable(why),
            },
        })
        .collect();
    if live {
        for f in &mut files {
            if let FileOutcome::Checked(report) = &mut f.outcome {
                against_database(&args.files[0], report, args.db.as_deref())?;
            }
        }
    }

    let mut out = std::io::stdout().lock();
    match format {
        Format::Text => print_text(&mut out, &files, crate::output::quiet())?,
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

/// Adds what the live databases of the policy at `path` disagree with to
/// its report. A database that cannot be opened or read is an error (exit
/// 2); a policy that did not parse is left to its own findings.
fn against_database(
    path: &Path,
    report: &mut privctl_policy::Report,
    db: Option<&str>,
) -> anyhow::Result<()> {
    let Some(policy) = report.policy.clone() else {
        return Ok(());
    };
    let src = privctl_policy::read_source(path)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let found = runtime.block_on(async {
        let session = Session::open_databases(policy, &src, db).await?;
        for (store, why) in &session.skipped {
            output::problem(format_args!(
                "privctl: note: store {store} not checked: it is {why}"
            ));
        }
        let mut found = Vec::new();
        for (store, db) in &session.dbs {
            let schema = db.schema().await?;
            found.extend(drift(&session.policy, store, db.dialect(), &schema));
        }
        for (store, ch) in &session.clickhouse {
            let tables = ch.tables().await?;
            let ttl = ch.version().has_ttl();
            if !ttl {
                output::note(format_args!(
                    "privctl: note: store {store} is ClickHouse {}, which has no table TTL to compare with the policy",
                    ch.version()
                ));
            }
            found.extend(privctl_store::drift::clickhouse_drift(
                &session.policy,
                store,
                &tables,
                ttl,
            ));
        }
        anyhow::Ok(found)
    })?;
    for d in found {
        report.diagnostics.push(privctl_policy::diagnostic_at(
            &src, &d.path, d.severity, d.rule, d.message, d.hint,
        ));
    }
    report
        .diagnostics
        .sort_by_key(|d| d.location.as_ref().map_or(usize::MAX, |l| l.offset));
    Ok(())
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
            FileOutcome::Unreadable(why) => output::problem(format_args!("privctl: error: {why}")),
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
