//! How the binary ends and speaks: exit codes, errors printed with their
//! causes, and writes to stdout and stderr that never panic.
//!
//! `println!` and `eprintln!` panic when their stream is closed or full; a
//! privacy tool that has just committed a write must not die that way, so
//! every line goes through [`out`] (which returns the error) or [`note`]
//! (which has nowhere left to report one).

use std::fmt::Display;
use std::io::Write;
use std::process::ExitCode;

use privctl_policy::escape_untrusted;

/// What a command concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to report.
    Clean,
    /// Findings or violations (exit 1).
    Findings,
    /// Some input could not be used (exit 2), already reported.
    InputError,
}

/// Writes one line to stdout, returning any error (a closed pipe, a full
/// disk) for the caller to handle.
pub fn out(line: impl Display) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()
}

static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether `-q` asked for errors only.
pub fn quiet() -> bool {
    QUIET.load(std::sync::atomic::Ordering::Relaxed)
}

/// Whether stderr may carry colour: a terminal, and `NO_COLOR` unset or
/// empty (<https://no-color.org>).
pub fn colour() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Sends `tracing` diagnostics to stderr: warnings by default, more with
/// each `-v`, errors only with `-q`; `PRIVCTL_LOG` (filter directives, as
/// `RUST_LOG` takes them) overrides both.
pub fn init_diagnostics(verbose: u8, quiet: bool) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    QUIET.store(quiet, std::sync::atomic::Ordering::Relaxed);
    let filter = match std::env::var("PRIVCTL_LOG") {
        Ok(directives) if !directives.trim().is_empty() => EnvFilter::try_new(&directives)
            .map_err(|e| anyhow::anyhow!("PRIVCTL_LOG={directives:?} is not a filter: {e}\nhint: PRIVCTL_LOG=debug, or privctl_retention=debug,sqlx=warn"))?,
        _ => EnvFilter::new(match (quiet, verbose) {
            (true, _) => "error",
            (false, 0) => "warn",
            (false, 1) => "info",
            (false, 2) => "debug",
            _ => "trace",
        }),
    };
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour())
        .with_target(true)
        .finish();
    // Set once, before any command runs; a second call cannot happen.
    let _ = tracing::subscriber::set_global_default(subscriber);
    Ok(())
}

/// Writes to stderr whatever `-q` says: an error, the reason for an exit
/// code, a warning about safety (an unfinished crypto-shred, a key file
/// just created), a store left unchecked.
pub fn problem(line: impl Display) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Writes one line to stderr (a summary, a note), unless `-q` asked for
/// errors only. If stderr itself is gone there is nowhere left to say so,
/// and the exit code still tells.
pub fn note(line: impl Display) {
    if !quiet() {
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}

/// A command's line of output, as JSON or text.
pub fn emit(json: bool, value: &serde_json::Value, text: &str) -> std::io::Result<()> {
    if json {
        out(value)
    } else {
        out(text)
    }
}

/// Maps a command's result to an exit code, printing an error chain on
/// stderr. A closed stdout (`privctl check ... | head`) is not an error.
pub fn finish(result: anyhow::Result<Outcome>) -> ExitCode {
    match result {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::Findings) => ExitCode::from(1),
        Ok(Outcome::InputError) => ExitCode::from(2),
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            problem(format_args!("privctl: error: {}", safe(&err)));
            for cause in err.chain().skip(1) {
                problem(format_args!("  caused by: {}", safe(cause)));
            }
            ExitCode::from(2)
        }
    }
}

/// A message with every line's control and bidirectional characters
/// escaped: our own messages break lines before a hint, and nothing quoted
/// from input may add a line, move the cursor or reorder the text.
pub fn safe(message: &dyn Display) -> String {
    message
        .to_string()
        .split('\n')
        .map(|line| escape_untrusted(line).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    use std::io::ErrorKind::BrokenPipe;
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == BrokenPipe)
            || cause
                .downcast_ref::<serde_json::Error>()
                .is_some_and(|e| e.io_error_kind() == Some(BrokenPipe))
    })
}
