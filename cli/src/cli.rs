//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Compliance and privacy-rights engine: policy checks, redaction, retention,
/// data-subject requests and a KYC vault, driven by declarative policy files.
#[derive(Debug, Parser)]
#[command(name = "privctl", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate policy files: syntax, format, and rules against the law and themselves.
    ///
    /// Exits 0 when clean (warnings allowed), 1 when a policy has errors, 2 when
    /// a file cannot be read or the arguments are wrong.
    Check(CheckArgs),
    /// Print the JSON Schema of the policy format.
    Schema,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Policy files, or directories whose *.toml files are checked.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Shorthand for --format json.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Treat warnings as errors (exit 1 on any finding).
    #[arg(long)]
    pub deny_warnings: bool,
    /// Print nothing but findings (no summary line).
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// `file:line:col: severity: message`, one finding a line.
    Text,
    /// One JSON document with every file and finding.
    Json,
    /// SARIF 2.1.0, for code-scanning UIs.
    Sarif,
}
