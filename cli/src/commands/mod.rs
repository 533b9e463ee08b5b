//! One module per verb.

mod catalogue;
mod check;
mod detectors;
mod discover;
mod redact;
mod retention;
mod reveal;
mod scan;
mod schema;
mod vault;

use crate::cli::{Cli, Command};
use crate::output::Outcome;

/// Runs the chosen command.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Schema => schema::run(),
        Command::Scan(args) => scan::run(&args),
        Command::Redact(args) => redact::run(&args),
        Command::Reveal(args) => reveal::run(&args),
        Command::Discover(args) => discover::run(&args),
        Command::Detectors(args) => catalogue::detectors(&args),
        Command::Completions(args) => catalogue::completions(&args),
        Command::Man => catalogue::man(),
        Command::Vault(args) => vault::run(&args),
        Command::Hash(args) => vault::hash(&args),
        Command::Sweep(args) => retention::sweep(&args),
        Command::Hold(args) => retention::hold(&args),
        Command::Request(args) => retention::request(&args),
        Command::Runs(args) => retention::runs(&args),
        Command::Sample(args) => retention::sample(&args),
        Command::Audit(args) => retention::audit(&args),
        Command::Export(args) => retention::export(&args),
        Command::Erase(args) => retention::erase(&args),
        Command::Receipt(args) => retention::receipt(&args),
    }
}
