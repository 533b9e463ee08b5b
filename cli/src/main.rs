//! `privctl`: the command-line face of the privctl crates. It parses
//! arguments, calls into the libraries and maps outcomes to exit codes
//! (0 ok, 1 findings or violations, 2 usage or input errors); it holds no
//! logic of its own.

use std::process::ExitCode;

mod cli;
mod commands;
mod output;
mod progress;

fn main() -> ExitCode {
    let args = <cli::Cli as clap::Parser>::parse();
    if let Err(e) = output::init_diagnostics(args.verbose, args.quiet) {
        return output::finish(Err(e));
    }
    output::finish(commands::run(args))
}
