//! Progress on a terminal for long work; silence in pipes and CI logs.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Inputs smaller than this finish before a bar would be worth drawing.
const MIN_BYTES: u64 = 32 << 20;

/// A byte-count progress bar on stderr, shown only on a terminal and only
/// for inputs of known, large size.
pub fn bytes(label: &str, total: Option<u64>) -> ProgressBar {
    let show = std::io::stderr().is_terminal() && total.is_some_and(|t| t >= MIN_BYTES);
    if !show {
        return ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::new(total.unwrap_or(0));
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(label.to_owned());
    bar
}
