//! Text from files and arguments, made safe to print.
//!
//! A policy key, a file name or a subject id can hold control characters
//! (a newline that forges a second finding, an escape sequence that rewrites
//! the terminal) or Unicode bidirectional controls that make a message read
//! differently from what it says (the "Trojan Source" attack). Every message
//! that quotes untrusted text passes it through [`escape_untrusted`] first.

use std::borrow::Cow;
use std::fmt::Write;

/// Whether `c` must not reach a terminal or log as itself: C0 and C1
/// controls (newline and tab included), DEL, and the invisible formatting
/// and bidirectional controls of Unicode.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
}

/// `text` with every unsafe character written as `\u{..}`; borrowed when
/// there is none.
///
/// ```
/// use privctl_policy::escape_untrusted;
/// assert_eq!(escape_untrusted("plain é"), "plain é");
/// assert_eq!(escape_untrusted("a\nb\u{202E}c\u{1b}[2J"), "a\\u{a}b\\u{202e}c\\u{1b}[2J");
/// ```
pub fn escape_untrusted(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_unsafe_char(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A path for a message: lossy UTF-8, unsafe characters escaped.
pub fn escape_path(path: &std::path::Path) -> String {
    escape_untrusted(&path.to_string_lossy()).into_owned()
}
