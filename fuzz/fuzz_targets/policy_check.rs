//! Fuzz target `policy_check`: its body is `privctl_fuzz_targets::policy_check`, which
//! `cargo test` also replays on every committed input.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| privctl_fuzz_targets::policy_check(data));
