//! Fuzz target `sealed_open`: its body is `privctl_fuzz_targets::sealed_open`, which
//! `cargo test` also replays on every committed input.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| privctl_fuzz_targets::sealed_open(data));
