//! `privctl sweep`, `hold`, `request` and `runs`: arguments in, calls into
//! `privctl-retention`, results out.

use std::io::IsTerminal;

use anyhow::Context;
use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use privctl_audit::{advance, Checkpoint, Signer};
use privctl_policy::model::name_of;
use privctl_policy::{check_str, escape_path, escape_untrusted};
use privctl_retention::own::{self, HoldScope};
use privctl_retention::sample::SampleOptions;
use privctl_retention::{Options, Progress, Report, Session};
use privctl_store::Open;
use serde_json::json;

use crate::cli::{
    AuditArgs, AuditCommand, EraseArgs, EraseCommand, ExportArgs, ExportCommand, HoldArgs,
    HoldCommand, PolicyDb, RequestArgs, RequestCommand, RunsArgs, SampleArgs, SweepArgs,
};
use crate::output::{self, Outcome};

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// The policy, checked, or the outcome that ends the command: exit 1 with
/// its errors when it has any.
fn load(target: &PolicyDb) -> anyhow::Result<Result<(privctl_policy::Policy, String), Outcome>> {
    let path = &target.policy;
    let text = privctl_policy::read_source(path)?;
    let report = check_str(&text);
    match report.policy {
        Some(policy) if !report.has_errors() => Ok(Ok((policy, text))),
        _ => {
            let shown = escape_path(path);
            for d in report
                .diagnostics
                .iter()
                .filter(|d| d.severity == privctl_policy::Severity::Error)
            {
                output::problem(d.display(&shown));
            }
            output::problem(format_args!(
                "privctl: policy {shown} has errors; nothing was changed\nhint: run `privctl check {shown}`"
            ));
            Ok(Err(Outcome::Findings))
        }
    }
}

async fn session(target: &PolicyDb, mode: Open) -> anyhow::Result<Result<Session, Outcome>> {
    let (policy, text) = match load(target)? {
        Ok(p) => p,
        Err(o) => return Ok(Err(o)),
    };
    Ok(Ok(
        Session::open(policy, &text, target.db.as_deref(), mode).await?
    ))
}

fn instant(s: &str, what: &str) -> anyhow::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .with_context(|| {
            format!(
                "{what} \"{}\" is not an RFC 3339 instant (e.g. 2026-11-23T00:00:00Z)",
                escape_untrusted(s)
            )
        })
}

pub fn sweep(args: &SweepArgs) -> anyhow::Result<Outcome> {
    let as_of = match &args.as_of {
        Some(s) => instant(s, "--as-of")?,
        None => Utc::now(),
    };
    runtime()?.block_on(async {
        let s = match session(&args.target, Open::Existing).await? {
            Ok(s) => s,
            Err(o) => return Ok(o),
        };
        let bar = if std::io::stderr().is_terminal() && !args.dry_run {
            ProgressBar::new(0)
        } else {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden())
        };
        bar.set_style(
            ProgressStyle::with_template("{msg:24} [{bar:30}] {pos}/{len} rows, {per_sec}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        let progress = |p: Progress| match p {
            Progress::Start { data_type, total } => {
                bar.set_message(data_type);
                bar.set_length(total);
                bar.set_position(0);
            }
            Progress::Advance { n } => bar.inc(n),
        };
        let mut options = Options::default();
        let shreds = s.policy.data_types.iter().any(|(name, d)| {
            args.data_type.as_ref().is_none_or(|only| only == name)
                && d.retention
                    .as_ref()
                    .is_some_and(|r| r.action == privctl_policy::model::ExpiryAction::CryptoShred)
        });
        if shreds && !args.dry_run {
            (options.vault, options.vault_error) = vault_for(&args.vault, true).await;
        }
        let report = s
            .sweep(
                as_of,
                args.data_type.as_deref(),
                args.dry_run,
                &options,
                &progress,
            )
            .await?;
        bar.finish_and_clear();
        let chained = args.dry_run || checkpoint(&s, &args.target).await?;
        let value = serde_json::to_value(&report)?;
        let incomplete =
            !chained || report.data_types.iter().any(|d| d.not_supported.is_some());
        Ok(match output::emit(args.target.json, &value, &summary(&report)) {
            Ok(()) if incomplete => Outcome::Findings,
            Ok(()) => Outcome::Clean,
            Err(e) if args.dry_run => return Err(e.into()),
            Err(e) => {
                output::problem(format_args!(
                    "privctl: error: the sweep finished (run {}), but writing its summary failed ({e})",
                    report.run.unwrap_or_default()
                ));
                Outcome::InputError
            }
        })
    })
}

/// Opens the vault a sweep or an erasure needs; or why it could not be.
/// `shreds`: crypto-shredding rewrites the key file, so keys from the
/// environment will not do.
async fn vault_for(
    v: &crate::cli::VaultUse,
    shreds: bool,
) -> (Option<std::sync::Arc<privctl_vault::Vault>>, Option<String>) {
    if shreds && std::env::var_os("PRIVCTL_VAULT_KEYS").is_some() && v.vault_key_file.is_none() {
        return (
            None,
            Some("crypto-shredding rewrites the key file; PRIVCTL_VAULT_KEYS cannot be rewritten (give --vault-key-file)".to_owned()),
        );
    }
    let loc = crate::cli::VaultLocation {
        db: v.vault_db.clone(),
        key_file: v.vault_key_file.clone(),
        json: false,
    };
    match crate::commands::vault::open(&loc).await {
        Ok(v) => (Some(std::sync::Arc::new(v)), None),
        Err(e) => {
            let why = format!("{e:#}");
            let first = why.lines().next().unwrap_or_default();
            (None, Some(output::safe(&first)))
        }
    }
}

fn summary(r: &Report) -> String {
    let mut out = String::new();
    let head = if r.dry_run {
        "dry run, nothing changed"
    } else {
        "sweep done"
    };
    out.push_str(&format!(
        "{head}: as of {}, policy sha256 {}{}\n",
        r.as_of.to_rfc3339(),
        &r.policy_digest[..12.min(r.policy_digest.len())],
        r.run.map(|id| format!(", run {id}")).unwrap_or_default()
    ));
    for d in &r.data_types {
        let name = |v: Option<String>| v.unwrap_or_default();
        let (action, from) = (
            name(d.action.as_ref().map(name_of)),
            name(d.from.as_ref().map(name_of)),
        );
        out.push_str(&format!(
            "  {:<22} {:>10} from {:<18} ",
            d.data_type, d.period, from
        ));
        if let Some(note) = &d.note {
            out.push_str(&format!("{note}\n"));
            continue;
        }
        if let Some(what) = &d.not_supported {
            out.push_str(&format!("NOT SWEPT: {what}\n"));
            continue;
        }
        let will = d.expired - d.kept_by_floor - d.kept_by_hold - d.kept_referenced;
        if r.dry_run {
            out.push_str(&format!("{will} expired to {action}"));
        } else {
            let done = d.deleted + d.anonymised + d.rolled_up + d.shredded;
            out.push_str(&format!("{done} {}", past(&action)));
        }
        if d.partitions_droppable > 0 {
            out.push_str(&format!(
                " ({} whole partitions to drop unless a kept row is in one)",
                d.partitions_droppable
            ));
        }
        if d.partitions_dropped > 0 {
            out.push_str(&format!(
                " ({} whole partitions dropped)",
                d.partitions_dropped
            ));
        }
        if d.kept_by_floor > 0 {
            out.push_str(&format!(", {} kept by a legal floor", d.kept_by_floor));
        }
        if d.kept_by_hold > 0 {
            out.push_str(&format!(", {} kept by a hold", d.kept_by_hold));
        }
        if d.kept_referenced > 0 && r.dry_run {
            // Rows referring to them may expire in the same run, which
            // sweeps them first: counting that would mean running it.
            out.push_str(&format!(
                ", {} still referred to by other rows (those go in this run only if every row referring to them does)",
                d.kept_referenced
            ));
        } else if d.kept_referenced > 0 {
            out.push_str(&format!(
                ", {} kept while other rows refer to them",
                d.kept_referenced
            ));
        }
        if d.identifiers_replaced > 0 && r.dry_run {
            out.push_str(&format!(
                ", at most {} of them to have their identifiers replaced",
                d.identifiers_replaced
            ));
        } else if d.identifiers_replaced > 0 {
            out.push_str(&format!(
                ", {} of them with their identifiers replaced",
                d.identifiers_replaced
            ));
        }
        out.push('\n');
        if !d.skipped_subjects.is_empty() {
            out.push_str(&format!(
                "  {:<22} not shredded, their rows kept (the vault cannot name them): {}\n",
                "",
                d.skipped_subjects.join(", ")
            ));
        }
        for c in &d.refused_choices {
            out.push_str(&format!(
                "  {:<22} customer choice {c}: refused, the default period applies\n",
                ""
            ));
        }
    }
    out.trim_end().to_owned()
}

fn past(action: &str) -> &'static str {
    match action {
        "delete" => "deleted",
        "anonymise" => "anonymised",
        "roll_up" => "rolled up",
        "crypto_shred" => "crypto-shredded",
        _ => "changed",
    }
}

pub fn hold(args: &HoldArgs) -> anyhow::Result<Outcome> {
    let target = match &args.command {
        HoldCommand::Add { target, .. }
        | HoldCommand::List { target, .. }
        | HoldCommand::Release { target, .. } => target,
    };
    runtime()?.block_on(async {
        let s = match session(target, Open::Existing).await? {
            Ok(s) => s,
            Err(o) => return Ok(o),
        };
        let db = s.home_db()?;
        let json = target.json;
        let target_of = target;
        match &args.command {
            HoldCommand::Add {
                subject,
                data_type,
                reason,
                ..
            } => {
                let (scope, target) = match (subject, data_type) {
                    (Some(s), _) => (HoldScope::Subject, s.clone()),
                    (None, Some(d)) => {
                        if !s.policy.data_types.contains_key(d) {
                            anyhow::bail!(
                                "data type \"{}\" is not defined in the policy",
                                escape_untrusted(d)
                            );
                        }
                        (HoldScope::DataType, d.clone())
                    }
                    (None, None) => anyhow::bail!("name a --subject or a --data-type to hold"),
                };
                if reason.trim().is_empty() {
                    anyhow::bail!("a hold needs a --reason");
                }
                let id = own::add_hold(db, scope, &target, reason, Utc::now()).await?;
                let chained = checkpoint(&s, target_of).await?;
                output::emit(
                    json,
                    &json!({ "hold": id }),
                    &format!(
                        "hold {id} placed on {} {}",
                        if scope == HoldScope::Subject {
                            "subject"
                        } else {
                            "data type"
                        },
                        escape_untrusted(&target)
                    ),
                )?;
                Ok(chained_outcome(chained))
            }
            HoldCommand::List { all, .. } => {
                let holds = own::holds(db, *all).await?;
                let mut text = String::new();
                for h in &holds {
                    text.push_str(&format!(
                        "{:>4}  {:<9} {:<24} {}  {}{}\n",
                        h.id,
                        if h.scope == HoldScope::Subject {
                            "subject"
                        } else {
                            "data_type"
                        },
                        escape_untrusted(&h.target),
                        h.created_at.to_rfc3339(),
                        escape_untrusted(&h.reason),
                        h.released_at
                            .map(|t| format!(" (released {})", t.to_rfc3339()))
                            .unwrap_or_default()
                    ));
                }
                if holds.is_empty() {
                    text.push_str("no holds");
                }
                output::emit(json, &serde_json::to_value(&holds)?, text.trim_end())?;
                Ok(Outcome::Clean)
            }
            HoldCommand::Release { id, .. } => {
                if own::release_hold(db, *id, Utc::now()).await? {
                    let chained = checkpoint(&s, target_of).await?;
                    output::emit(
                        json,
                        &json!({ "released": id }),
                        &format!("hold {id} released"),
                    )?;
                    Ok(chained_outcome(chained))
                } else {
                    anyhow::bail!("no hold in force has id {id}")
                }
            }
        }
    })
}

pub fn request(args: &RequestArgs) -> anyhow::Result<Outcome> {
    use privctl_dsar::requests::{self, Right};
    let target = match &args.command {
        RequestCommand::Add { target, .. }
        | RequestCommand::Status { target }
        | RequestCommand::Close { target, .. } => target,
    };
    runtime()?.block_on(async {
        let s = match session(target, Open::Existing).await? {
            Ok(s) => s,
            Err(o) => return Ok(o),
        };
        let home = s.home_db()?;
        match &args.command {
            RequestCommand::Add {
                right,
                subject,
                regime,
                at,
                note,
                ..
            } => {
                let Some(right) = Right::parse(right) else {
                    anyhow::bail!(
                        "\"{}\" is not a right (give one of: {})",
                        escape_untrusted(right),
                        Right::ALL.map(|r| r.name().replace('_', "-")).join(", ")
                    );
                };
                let made = match at {
                    Some(a) => instant(a, "--at")?,
                    None => Utc::now(),
                };
                let found = privctl_dsar::resolve(&s.policy, &s.dbs, subject).await?;
                let new = requests::NewRequest {
                    right,
                    regime,
                    when: made,
                    note: note.as_deref(),
                    origin: None,
                };
                let (r, warning) = requests::record(&s.policy, home, &found, &new).await?;
                if let Some(w) = warning {
                    output::problem(format_args!("privctl: warning: {w}"));
                }
                let chained = checkpoint(&s, target).await?;
                let text = format!(
                    "{} request {} recorded for {} = {} under {regime}{}",
                    r.kind.replace('_', " "),
                    r.id,
                    found.identifier,
                    escape_untrusted(&found.value),
                    deadlines(&r, Utc::now())
                );
                output::emit(target.json, &serde_json::to_value(&r)?, &text)?;
                Ok(chained_outcome(chained))
            }
            RequestCommand::Status { .. } => {
                let now = Utc::now();
                let open = requests::open(home, now, None).await?;
                output::emit(
                    target.json,
                    &serde_json::to_value(&open)?,
                    &status_text(&open, now, "no open requests"),
                )?;
                Ok(Outcome::Clean)
            }
            RequestCommand::Close { id, note, .. } => {
                let r = requests::close(home, *id, Utc::now(), note.as_deref()).await?;
                let chained = checkpoint(&s, target).await?;
                output::emit(
                    target.json,
                    &serde_json::to_value(&r)?,
                    &format!("{} request {id} closed", r.kind.replace('_', " ")),
                )?;
                Ok(chained_outcome(chained))
            }
        }
    })
}

/// `: due ..., acknowledge by ..., cancellable until ...`.
fn deadlines(r: &privctl_dsar::requests::Request, now: DateTime<Utc>) -> String {
    let mut out = String::new();
    match r.due_at {
        Some(d) if d <= now && r.completed_at.is_none() => {
            out.push_str(&format!(": OVERDUE since {}", d.to_rfc3339()))
        }
        Some(d) => out.push_str(&format!(": due {}", d.to_rfc3339())),
        None => out.push_str(": no deadline recorded"),
    }
    if let Some(a) = r.acknowledge_by {
        out.push_str(&format!(", acknowledge by {}", a.to_rfc3339()));
    }
    if let Some(g) = r.grace_until.filter(|g| *g > now) {
        out.push_str(&format!(", cancellable until {}", g.to_rfc3339()));
    }
    out
}

/// Open requests, one per line, with what holds each up.
fn status_text(open: &[privctl_dsar::requests::Request], now: DateTime<Utc>, none: &str) -> String {
    let mut text = String::new();
    for r in open {
        text.push_str(&format!(
            "{:>5}  {:<15} subject {:<10} {:<5} requested {}{}",
            r.id,
            r.kind.replace('_', " "),
            escape_untrusted(&r.subject),
            r.regime.as_deref().unwrap_or("-"),
            r.requested_at.to_rfc3339(),
            deadlines(r, now)
        ));
        if let Some(o) = &r.origin {
            text.push_str(&format!(" ({o})"));
        }
        if let Some(b) = &r.blocked {
            text.push_str(&format!("\n       waiting: {}", escape_untrusted(b)));
        }
        text.push('\n');
    }
    if open.is_empty() {
        text.push_str(none);
    }
    text.trim_end().to_owned()
}

pub fn sample(args: &SampleArgs) -> anyhow::Result<Outcome> {
    let as_of = match &args.as_of {
        Some(s) => instant(s, "--as-of")?,
        None => Utc::now(),
    };
    if args.subjects < 1 {
        anyhow::bail!("--subjects must be at least 1");
    }
    runtime()?.block_on(async {
        let s = match session(&args.target, Open::Create).await? {
            Ok(s) => s,
            Err(o) => return Ok(o),
        };
        let options = SampleOptions {
            subjects: args.subjects,
            seed: args.seed,
            as_of,
        };
        let report = privctl_retention::sample::sample(&s, &options).await?;
        let chained = checkpoint(&s, &args.target).await?;
        let mut text = format!(
            "sample filled as of {} (seed {}, {} subjects)\n",
            report.as_of.to_rfc3339(),
            report.seed,
            report.subjects
        );
        for t in &report.tables {
            text.push_str(&format!(
                "  {:<10} {:<24} {:>8} rows\n",
                t.store, t.table, t.rows
            ));
        }
        for f in &report.files {
            text.push_str(&format!(
                "  {:<10} {:<24} {:>8} files\n",
                f.store, f.root, f.files
            ));
        }
        if report.deletion_requests > 0 {
            text.push_str(&format!(
                "  {} deletion requests recorded\n",
                report.deletion_requests
            ));
        }
        for h in &report.held_subjects {
            text.push_str(&format!("  subject {h} is under a legal hold\n"));
        }
        for k in &report.skipped {
            text.push_str(&format!("  not filled: {k}\n"));
        }
        output::emit(
            args.target.json,
            &serde_json::to_value(&report)?,
            text.trim_end(),
        )?;
        Ok(chained_outcome(chained))
    })
}

pub fn runs(args: &RunsArgs) -> anyhow::Result<Outcome> {
    runtime()?.block_on(async {
        let s = match session(&args.target, Open::Existing).await? {
            Ok(s) => s,
            Err(o) => return Ok(o),
        };
        let runs = own::runs(s.home_db()?, args.last.max(1)).await?;
        let mut text = String::new();
        for r in &runs {
            text.push_str(&format!(
                "run {}: as of {}, policy sha256 {}, {}; longest batch {:.1} ms\n",
                r.id,
                r.as_of.to_rfc3339(),
                &r.policy_digest[..12.min(r.policy_digest.len())],
                match r.finished_at {
                    Some(t) => format!("finished {}", t.to_rfc3339()),
                    None => "interrupted (its batches below were committed)".to_owned(),
                },
                r.longest_batch_micros as f64 / 1000.0
            ));
            for (dt, action, n) in &r.batches {
                text.push_str(&format!("  {dt:<22} {action:<19} {n}\n"));
            }
        }
        if runs.is_empty() {
            text.push_str("no sweeps recorded");
        }
        output::emit(
            args.target.json,
            &serde_json::to_value(&runs)?,
            text.trim_end(),
        )?;
        Ok(Outcome::Clean)
    })
}

fn chained_outcome(chained: bool) -> Outcome {
    if chained {
        Outcome::Clean
    } else {
        Outcome::Findings
    }
}

/// Where erasure receipts of this database go by default: beside the audit
/// key, named after the database like its checkpoint.
fn receipts_dir(target: &PolicyDb, db: &privctl_store::Db) -> std::path::PathBuf {
    let id = privctl_retention::session::digest(&db.url().to_string());
    key_dir(target).join(format!("receipts-{}", &id[..16]))
}

fn key_dir(target: &PolicyDb) -> &std::path::Path {
    target
        .audit_key
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."))
}

/// Where the checkpoint of this database's audit log lives.
fn head_path(target: &PolicyDb, db: &privctl_store::Db) -> std::path::PathBuf {
    target.audit_head.clone().unwrap_or_else(|| {
        // Beside the key, wherever the command runs from.
        let id = privctl_retention::session::digest(&db.url().to_string());
        key_dir(target).join(format!("audit-{}.head", &id[..16]))
    })
}

/// Signs the audit log's head after a command that wrote to it. A log that
/// no longer reaches its last checkpoint is reported, and the command exits
/// 1: its own work is done, but the log was tampered with.
async fn checkpoint(s: &Session, target: &PolicyDb) -> anyhow::Result<bool> {
    let signer = audit_signer(&target.audit_key)?;
    checkpoint_with(s, target, &signer).await
}

/// The audit key, created (and said so) when there is none yet.
fn audit_signer(key: &std::path::Path) -> anyhow::Result<Signer> {
    let (signer, created) = Signer::load_or_create(key)?;
    if created {
        output::problem(format_args!(
            "privctl: created the audit key {}; keep it, and a copy, away from the database",
            escape_path(key)
        ));
    }
    Ok(signer)
}

/// [`checkpoint`] with the key already loaded.
async fn checkpoint_with(s: &Session, target: &PolicyDb, signer: &Signer) -> anyhow::Result<bool> {
    let db = s.home_db()?;
    match advance(db, signer, &head_path(target, db), Utc::now()).await {
        Ok(_) => Ok(true),
        Err(e @ privctl_audit::Error::Invalid { .. }) => {
            output::problem(format_args!("privctl: error: {e}"));
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

pub fn audit(args: &AuditArgs) -> anyhow::Result<Outcome> {
    let target = match &args.command {
        AuditCommand::Verify { target } | AuditCommand::Log { target, .. } => target,
    };
    runtime()?.block_on(async {
        let s = match session(target, Open::Existing).await? {
            Ok(s) => s,
            Err(o) => return Ok(o),
        };
        let db = s.home_db()?;
        match &args.command {
            AuditCommand::Log { last, .. } => {
                let entries = privctl_audit::last(db, (*last).max(1)).await?;
                let mut text = String::new();
                for e in &entries {
                    text.push_str(&format!(
                        "{:>6}  {}  {:<18} {:<10} {}\n",
                        e.seq,
                        e.at.to_rfc3339(),
                        e.kind,
                        escape_untrusted(e.subject.as_deref().unwrap_or("-")),
                        escape_untrusted(&e.body)
                    ));
                }
                if entries.is_empty() {
                    text.push_str("the audit log is empty");
                }
                output::emit(
                    target.json,
                    &serde_json::to_value(&entries)?,
                    text.trim_end(),
                )?;
                Ok(Outcome::Clean)
            }
            AuditCommand::Verify { .. } => {
                let head = head_path(target, db);
                let signer = public_key(&target.audit_key)?;
                let checkpoint = match &signer {
                    Some(key) => match Checkpoint::read(&head, key) {
                        Ok(c) => c,
                        Err(e @ privctl_audit::Error::Invalid { .. }) => {
                            output::problem(format_args!("privctl: error: {e}"));
                            return Ok(Outcome::Findings);
                        }
                        Err(e) => return Err(e.into()),
                    },
                    None => None,
                };
                let v = privctl_audit::verify(db, checkpoint.as_ref()).await?;
                let mut text = format!("audit log: {} entries", v.entries);
                if let Some((seq, hash)) = &v.head {
                    text.push_str(&format!(", head {seq} ({})", &hash[..16.min(hash.len())]));
                }
                let unchecked_end = checkpoint.is_none() && v.entries > 0;
                match (&v.problem, &checkpoint) {
                    (Some(p), _) => {
                        text.push_str(&format!("\nTAMPERED at entry {}: {}", p.seq, p.what));
                    }
                    (None, Some(c)) => text.push_str(&format!(
                        "; intact, and reaches the checkpoint of entry {} signed {}",
                        c.seq,
                        c.at.to_rfc3339()
                    )),
                    (None, None) if unchecked_end => text.push_str(&format!(
                        "; every link intact, but its end is unchecked: no {} at {}",
                        if signer.is_some() {
                            "checkpoint"
                        } else {
                            "audit key"
                        },
                        escape_path(if signer.is_some() {
                            &head
                        } else {
                            &target.audit_key
                        })
                    )),
                    (None, None) => text.push_str("; intact"),
                }
                output::emit(
                    target.json,
                    &json!({ "verification": v, "checkpoint": checkpoint }),
                    &text,
                )?;
                Ok(if v.problem.is_some() || unchecked_end {
                    Outcome::Findings
                } else {
                    Outcome::Clean
                })
            }
        }
    })
}

pub fn export(args: &ExportArgs) -> anyhow::Result<Outcome> {
    if let Some(ExportCommand::Verify {
        archive,
        token,
        audit_key,
        json: as_json,
    }) = &args.command
    {
        return export_verify(archive, token.as_deref(), audit_key, *as_json);
    }
    let run = &args.export;
    let (Some(policy), Some(subject)) = (&run.policy, &run.subject) else {
        anyhow::bail!("privctl export needs --policy FILE and --subject KIND=VALUE (or `export verify FILE.zip`)");
    };
    let target = PolicyDb {
        policy: policy.clone(),
        db: run.db.clone(),
        json: run.json,
        audit_key: run.audit_key.clone(),
        audit_head: run.audit_head.clone(),
    };
    runtime()?.block_on(async {
        let s = match session(&target, Open::Existing).await? {
            Ok(s) => s,
            Err(o) => return Ok(o),
        };
        let found = privctl_dsar::resolve(&s.policy, &s.dbs, subject).await?;
        let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_else(Utc::now);
        let path = run.output.clone().unwrap_or_else(|| {
            std::path::PathBuf::from(format!(
                "privctl-export-{}-{}.zip",
                found
                    .key
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect::<String>(),
                now.format("%Y%m%dT%H%M%SZ")
            ))
        });
        let signer = audit_signer(&target.audit_key)?;
        let options = privctl_dsar::ExportOptions {
            request: run.request.clone(),
            now,
        };
        let done = privctl_dsar::export_to_file(
            &s.policy,
            &s.digest,
            &s.dbs,
            &s.clickhouse,
            &s.roots,
            s.home_db()?,
            &found,
            &options,
            &path,
            &signer,
        )
        .await?;
        let chained = checkpoint_with(&s, &target, &signer).await?;
        let mut text = format!(
            "exported {} = {} to {} (sha256 {})\n",
            found.identifier,
            escape_untrusted(&found.value),
            done.path,
            &done.sha256[..16]
        );
        for d in &done.manifest.data_types {
            text.push_str(&format!("  {:<22} {:>8} records\n", d.name, d.records));
        }
        for n in &done.manifest.not_included {
            text.push_str(&format!("  not included: {n}\n"));
        }
        text.push_str(&format!(
            "download token (valid until {}):\n{}",
            done.expires_at.to_rfc3339(),
            done.token
        ));
        output::emit(run.json, &serde_json::to_value(&done)?, &text)?;
        Ok(chained_outcome(chained))
    })
}

fn export_verify(
    archive: &std::path::Path,
    token: Option<&str>,
    key: &std::path::Path,
    as_json: bool,
) -> anyhow::Result<Outcome> {
    use std::io::Seek;
    let shown = escape_path(archive);
    let mut file =
        std::fs::File::open(archive).with_context(|| format!("cannot read archive {shown}"))?;
    // One handle for the checksum and the check, so they see one file.
    let sha = privctl_dsar::sha256_of(&mut file, &shown)?;
    file.rewind()
        .with_context(|| format!("cannot read archive {shown}"))?;
    let manifest = match privctl_dsar::verify_zip(std::io::BufReader::new(file)) {
        Ok(m) => m,
        Err(e @ privctl_dsar::Error::Invalid(_)) => {
            output::problem(format_args!("privctl: {shown}: {e}"));
            return Ok(Outcome::Findings);
        }
        Err(e) => return Err(e.into()),
    };
    let mut text = format!(
        "{shown}: {} entries match the manifest (export of {} made {})",
        manifest.entries.len(),
        manifest.subject.identifier,
        manifest.generated_at.to_rfc3339()
    );
    let mut claims = None;
    if let Some(t) = token {
        let Some(public) = public_key(key)? else {
            anyhow::bail!(
                "no audit public key at {} to check the token with",
                escape_path(&privctl_audit::PublicKey::path_for(key))
            );
        };
        match privctl_dsar::verify_token(&public, t, &sha, Utc::now()) {
            Ok(c) => {
                text.push_str(&format!(
                    "; the token is valid until {}",
                    c.expires_at.to_rfc3339()
                ));
                claims = Some(c);
            }
            Err(e @ privctl_dsar::Error::Invalid(_)) => {
                output::problem(format_args!("privctl: {e}"));
                return Ok(Outcome::Findings);
            }
            Err(e) => return Err(e.into()),
        }
    }
    output::emit(
        as_json,
        &json!({ "manifest": manifest, "token": claims }),
        &text,
    )?;
    Ok(Outcome::Clean)
}

/// The public half of the audit key: `<key>.pub`, which is all a verifier
/// needs, or derived from the key file itself when only that is here.
fn public_key(key: &std::path::Path) -> anyhow::Result<Option<privctl_audit::PublicKey>> {
    let public = privctl_audit::PublicKey::path_for(key);
    if std::fs::symlink_metadata(&public).is_ok() {
        return Ok(Some(privctl_audit::PublicKey::load(&public)?));
    }
    if std::fs::symlink_metadata(key).is_ok() {
        return Ok(Some(Signer::load(key)?.public()));
    }
    Ok(None)
}

pub fn erase(args: &EraseArgs) -> anyhow::Result<Outcome> {
    let target = match &args.command {
        EraseCommand::Request { target, .. }
        | EraseCommand::Cancel { target, .. }
        | EraseCommand::Status { target }
        | EraseCommand::Run { target, .. }
        | EraseCommand::Replay { target, .. }
        | EraseCommand::Inactive { target, .. }
        | EraseCommand::Receipt { target, .. } => target,
    };
    runtime()?.block_on(async {
        let s = match session(target, Open::Existing).await? {
            Ok(s) => s,
            Err(o) => return Ok(o),
        };
        let home = s.home_db()?;
        let when = |t: Option<DateTime<Utc>>| t.map_or("-".to_owned(), |t| t.to_rfc3339());
        match &args.command {
            EraseCommand::Request {
                subject,
                regime,
                at,
                note,
                ..
            } => {
                let made = match at {
                    Some(a) => instant(a, "--at")?,
                    None => Utc::now(),
                };
                let found = privctl_dsar::resolve(&s.policy, &s.dbs, subject).await?;
                let r = privctl_dsar::requests::request_erasure(
                    &s.policy,
                    home,
                    &found,
                    regime,
                    made,
                    note.as_deref(),
                )
                .await?;
                let chained = checkpoint(&s, target).await?;
                let mut text = format!(
                    "erasure request {} recorded for {} = {} under {}: due {}",
                    r.id,
                    found.identifier,
                    escape_untrusted(&found.value),
                    regime,
                    when(r.due_at)
                );
                if let Some(a) = r.acknowledge_by {
                    text.push_str(&format!(", acknowledge by {}", a.to_rfc3339()));
                }
                if let Some(g) = r.grace_until {
                    text.push_str(&format!(", cancellable until {}", g.to_rfc3339()));
                }
                output::emit(target.json, &serde_json::to_value(&r)?, &text)?;
                Ok(chained_outcome(chained))
            }
            EraseCommand::Cancel { id, .. } => {
                let r = privctl_dsar::requests::cancel(&s.policy, home, *id, Utc::now()).await?;
                let chained = checkpoint(&s, target).await?;
                output::emit(
                    target.json,
                    &serde_json::to_value(&r)?,
                    &format!("erasure request {id} cancelled; nothing was touched"),
                )?;
                Ok(chained_outcome(chained))
            }
            EraseCommand::Status { .. } => {
                let now = Utc::now();
                let open = privctl_dsar::requests::open(
                    home,
                    now,
                    Some(privctl_dsar::requests::Right::Erasure),
                )
                .await?;
                output::emit(
                    target.json,
                    &serde_json::to_value(&open)?,
                    &status_text(&open, now, "no open erasure requests"),
                )?;
                Ok(Outcome::Clean)
            }
            EraseCommand::Receipt { id, .. } => {
                let signed = privctl_dsar::erase::receipt_of(home, *id).await?;
                // Shown only if it still checks out against the audit key.
                let Some(public) = public_key(&target.audit_key)? else {
                    anyhow::bail!(
                        "no audit public key at {} to check the receipt with",
                        escape_path(&privctl_audit::PublicKey::path_for(&target.audit_key))
                    );
                };
                privctl_dsar::receipt::verify(&serde_json::to_string(&signed)?, &public)?;
                let value = serde_json::to_value(&signed)?;
                output::emit(target.json, &value, &serde_json::to_string_pretty(&signed)?)?;
                Ok(Outcome::Clean)
            }
            EraseCommand::Run {
                dry_run,
                as_of,
                request,
                receipts,
                vault,
                ..
            } => {
                let now = match as_of {
                    Some(a) => instant(a, "--as-of")?,
                    None => Utc::now(),
                };
                let now = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
                erase_run(
                    &s,
                    target,
                    *dry_run,
                    now,
                    *request,
                    receipts.as_deref(),
                    vault,
                )
                .await
            }
            EraseCommand::Replay {
                dry_run,
                receipts,
                restored,
                vault,
                ..
            } => {
                erase_replay(
                    &s,
                    target,
                    (*dry_run, *restored),
                    receipts.as_deref(),
                    vault,
                )
                .await
            }
            EraseCommand::Inactive { dry_run, as_of, .. } => {
                let now = match as_of {
                    Some(a) => instant(a, "--as-of")?,
                    None => Utc::now(),
                };
                let now = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
                let found = privctl_dsar::erase::notice_inactive(&s, now, *dry_run).await?;
                let chained = *dry_run || checkpoint(&s, target).await?;
                let mut text = format!(
                    "inactive since {} or earlier: {} {}, {} left alone\n",
                    found.inactive_since.to_rfc3339(),
                    found.noticed.len(),
                    if *dry_run {
                        "would get a notice"
                    } else {
                        "noticed"
                    },
                    found.skipped.len()
                );
                for r in &found.noticed {
                    text.push_str(&format!(
                        "  subject {}: {}erased after {} unless active before then\n",
                        escape_untrusted(&r.subject),
                        if *dry_run {
                            String::new()
                        } else {
                            format!("request {}, ", r.id)
                        },
                        r.grace_until.map(|g| g.to_rfc3339()).unwrap_or_default()
                    ));
                }
                for (who, why) in &found.skipped {
                    text.push_str(&format!(
                        "  subject {}: left alone, {why}\n",
                        escape_untrusted(who)
                    ));
                }
                output::emit(target.json, &serde_json::to_value(&found)?, text.trim_end())?;
                Ok(chained_outcome(chained))
            }
        }
    })
}

async fn erase_run(
    s: &Session,
    target: &PolicyDb,
    dry_run: bool,
    now: DateTime<Utc>,
    request: Option<i64>,
    receipts: Option<&std::path::Path>,
    vault: &crate::cli::VaultUse,
) -> anyhow::Result<Outcome> {
    use privctl_dsar::erase::State;
    let dir = match receipts {
        Some(d) => d.to_path_buf(),
        None => receipts_dir(target, s.home_db()?),
    };
    let mut options = privctl_dsar::erase::RunOptions {
        now,
        receipts: Some(dir.clone()),
        dry_run,
        request,
        vault: None,
        vault_error: None,
    };
    let (needs, shreds) = erasure_vault_use(&s.policy);
    if needs && !dry_run {
        (options.vault, options.vault_error) = vault_for(vault, shreds).await;
    }
    let signer = audit_signer(&target.audit_key)?;
    let outcomes = privctl_dsar::erase::run(s, &signer, &options).await?;

    let mut text = String::new();
    let mut stuck = false;
    for o in &outcomes {
        let r = &o.request;
        let head = format!(
            "request {} (subject {}, {})",
            r.id,
            escape_untrusted(&r.subject),
            r.regime.as_deref().unwrap_or("-")
        );
        match o.state {
            State::Waiting => text.push_str(&format!(
                "{head}: waiting, {}\n",
                o.reason.as_deref().unwrap_or_default()
            )),
            State::Held | State::Incomplete => {
                stuck = true;
                text.push_str(&format!(
                    "{head}: NOT COMPLETED: {}\n",
                    o.reason.as_deref().unwrap_or_default()
                ));
            }
            State::Planned => text.push_str(&format!("{head}: would be carried out\n")),
            State::Withdrawn => text.push_str(&format!(
                "{head}: withdrawn, {}\n",
                o.reason.as_deref().unwrap_or_default()
            )),
            State::Completed => text.push_str(&format!("{head}: completed\n")),
        }
        if let Some(report) = &o.report {
            for d in &report.data_types {
                let rule = d
                    .erasure
                    .as_ref()
                    .map(name_of)
                    .unwrap_or_else(|| "no rule".to_owned());
                let mut line = format!("  {:<22} {:<17}", d.data_type, rule);
                if let Some(n) = &d.note {
                    line.push_str(n);
                } else if let Some(n) = &d.not_supported {
                    line.push_str(&format!("NOT DONE: {n}"));
                } else if dry_run {
                    let will = d.expired - d.kept_by_floor - d.kept_by_hold - d.kept_referenced;
                    line.push_str(&format!("{will} rows to {rule}"));
                    if d.kept_by_floor > 0 {
                        line.push_str(&format!(", {} kept by a legal floor", d.kept_by_floor));
                    }
                } else {
                    line.push_str(&format!(
                        "{} deleted, {} anonymised",
                        d.deleted + d.shredded,
                        d.anonymised
                    ));
                    if d.kept_by_floor > 0 {
                        line.push_str(&format!(", {} kept by a legal floor", d.kept_by_floor));
                    }
                }
                text.push_str(line.trim_end());
                text.push('\n');
            }
        }
        if let Some(signed) = &o.receipt {
            for l in signed.receipt.data_types.iter().filter(|l| l.kept > 0) {
                text.push_str(&format!(
                    "  kept: {} {} rows until {}\n",
                    l.kept,
                    l.data_type,
                    l.kept_until
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_else(|| "what keeps them ends".to_owned())
                ));
            }
            let path = privctl_dsar::receipt::path_in(&dir, signed.receipt.request);
            text.push_str(&format!("  signed receipt: {}\n", escape_path(&path)));
        }
    }
    if outcomes.is_empty() {
        text.push_str("no open erasure requests");
    }
    let chained = dry_run || checkpoint_with(s, target, &signer).await?;
    output::emit(
        target.json,
        &serde_json::to_value(&outcomes)?,
        text.trim_end(),
    )?;
    Ok(if stuck || !chained {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

/// Whether carrying out an erasure under `policy` needs the vault: it
/// shreds keys, or keys pseudonyms; and whether it shreds.
fn erasure_vault_use(policy: &privctl_policy::Policy) -> (bool, bool) {
    use privctl_policy::model::{AnonymiseMethod, ErasureAction};
    let shreds = policy.erasure.crypto_shred_vault
        || policy.data_types.values().any(|d| {
            d.erasure
                .as_ref()
                .is_some_and(|e| e.action == ErasureAction::CryptoShred)
        });
    let pseudonyms = policy.data_types.values().any(|d| {
        d.erasure.as_ref().is_some_and(|e| {
            e.anonymise
                .values()
                .any(|m| *m == AnonymiseMethod::Pseudonym)
        })
    });
    (shreds || pseudonyms, shreds)
}

async fn erase_replay(
    s: &Session,
    target: &PolicyDb,
    (dry_run, restored): (bool, bool),
    receipts: Option<&std::path::Path>,
    vault: &crate::cli::VaultUse,
) -> anyhow::Result<Outcome> {
    use privctl_dsar::erase::State;
    let home = s.home_db()?;
    let dir = match receipts {
        Some(d) => d.to_path_buf(),
        None => receipts_dir(target, home),
    };
    let signer = audit_signer(&target.audit_key)?;
    let loaded = privctl_dsar::receipt::load_dir(&dir, &signer.public())?;
    let mut options = privctl_dsar::erase::RunOptions {
        now: Utc::now(),
        receipts: None,
        dry_run,
        request: None,
        vault: None,
        vault_error: None,
    };
    let (needs, shreds) = erasure_vault_use(&s.policy);
    if needs && !dry_run {
        (options.vault, options.vault_error) = vault_for(vault, shreds).await;
    }
    let mut text = String::new();
    if !dry_run && !restored && !checkpoint_with(s, target, &signer).await? {
        output::note(
            "privctl: nothing was replayed; if the database was restored from a backup, run again with --restored",
        );
        return Ok(Outcome::Findings);
    }
    if !dry_run && restored {
        privctl_audit::ensure(home).await?;
        if let Some(left) =
            privctl_audit::rebase(home, &signer, &head_path(target, home), Utc::now()).await?
        {
            text.push_str(&format!(
                "the audit log no longer reaches its checkpoint of entry {} (signed {}): a restore; recorded, and the checkpoint moved to the restored head\n",
                left.seq,
                left.at.to_rfc3339()
            ));
        }
    }
    let signed: Vec<_> = loaded.into_iter().map(|(_, s)| s).collect();
    let done = privctl_dsar::erase::replay(s, &signed, &options).await?;
    let mut stuck = false;
    for r in &done {
        let changed: u64 = r
            .report
            .as_ref()
            .map(|rep| {
                rep.data_types
                    .iter()
                    .map(|d| d.deleted + d.anonymised + d.shredded)
                    .sum()
            })
            .unwrap_or(0);
        let state = match r.state {
            State::Completed if changed == 0 => "nothing left to erase".to_owned(),
            State::Completed => format!("erased again ({changed} rows)"),
            State::Planned => "would be applied again".to_owned(),
            _ => {
                stuck = true;
                format!("NOT DONE: {}", r.reason.as_deref().unwrap_or_default())
            }
        };
        text.push_str(&format!(
            "request {} (subject {}): {state}\n",
            r.request,
            escape_untrusted(&r.subject)
        ));
    }
    if done.is_empty() {
        text.push_str(&format!("no receipts in {}", escape_path(&dir)));
    }
    let chained = dry_run || checkpoint_with(s, target, &signer).await?;
    output::emit(target.json, &serde_json::to_value(&done)?, text.trim_end())?;
    Ok(if stuck || !chained {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

pub fn receipt(args: &crate::cli::ReceiptArgs) -> anyhow::Result<Outcome> {
    let crate::cli::ReceiptCommand::Verify {
        file,
        audit_key,
        json: as_json,
    } = &args.command;
    let shown = escape_path(file);
    let f = std::fs::File::open(file).with_context(|| format!("cannot read receipt {shown}"))?;
    let bytes = privctl_fsio::read_limited(f, privctl_dsar::receipt::MAX_RECEIPT)
        .with_context(|| format!("cannot read receipt {shown}"))?;
    let Ok(text) = std::str::from_utf8(&bytes) else {
        output::problem(format_args!(
            "privctl: {shown}: the receipt is not UTF-8 text"
        ));
        return Ok(Outcome::Findings);
    };
    let Some(public) = public_key(audit_key)? else {
        anyhow::bail!(
            "no audit public key at {} to check the receipt with",
            escape_path(&privctl_audit::PublicKey::path_for(audit_key))
        );
    };
    match privctl_dsar::receipt::verify(text, &public) {
        Ok(signed) => {
            let r = &signed.receipt;
            output::emit(
                *as_json,
                &serde_json::to_value(&signed)?,
                &format!(
                    "{shown}: a valid receipt of erasure request {} (subject {}), completed {}",
                    r.request,
                    escape_untrusted(&r.subject),
                    r.completed_at.to_rfc3339()
                ),
            )?;
            Ok(Outcome::Clean)
        }
        Err(e @ privctl_dsar::Error::Invalid(_)) => {
            output::problem(format_args!("privctl: {shown}: {e}"));
            Ok(Outcome::Findings)
        }
        Err(e) => Err(e.into()),
    }
}
