//! Integration tests of the `privctl` binary: one test binary, a module per command.

mod check;
mod conventions;
mod discover;
mod erase;
mod retention;
mod reveal;
mod scan;
mod telemetry;
mod util;
mod vault;
