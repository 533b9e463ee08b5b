//! Integration tests of the `privctl` binary: one test binary, a module per command.

mod check;
mod util;
