//! The `encrypt` operator's tokens: values sealed with the vault's keys,
//! written into the text where they were found, and turned back into values
//! by a holder of the keys.
//!
//! A token reads `[EMAIL:sealed:AQAAAAAx…]`: the label of the detected kind,
//! then the vault's sealed value format (`privctl_vault::sealed`: version,
//! key id, nonce, AES-256-GCM ciphertext and tag) in unpadded URL-safe
//! base64, so it survives JSON, CSV, URLs and log lines unchanged. The
//! ciphertext is bound to the data type, the field (a JSON path with every
//! index written `[*]`, a CSV column, or nothing for plain text) and the
//! label, so a token moved to another field, kind or data type does not
//! open.
//!
//! What a token shows: its label, the key id (0 for the vault's token key,
//! otherwise the data key of the subject it was sealed for, the same for
//! all of that subject's tokens), and the value's length to within 16
//! bytes (the plaintext is padded to a multiple of 16 before sealing). A
//! sealed token is operator output: scanning text never reports it, and
//! redacting text that holds tokens leaves them as they are.

use std::fmt;
use std::ops::Range;
use std::sync::LazyLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use memchr::memmem;

use crate::Result;

/// What separates a token's label from its sealed bytes.
pub const MARK: &str = ":sealed:";
/// The longest value the encrypt operator seals (the longest built-in
/// finding, a PEM block); a longer one (a custom detector's) is replaced by
/// its placeholder instead.
pub const MAX_SEALED_VALUE: usize = 16 * 1024;
/// The longest sealed part a token may hold, in base64 characters: the
/// longest value, padded and framed.
pub const MAX_SEALED_CHARS: usize = (MAX_SEALED_VALUE + 16 + FRAME).div_ceil(3) * 4;
/// The longest label (as for every operator's output).
const MAX_LABEL: usize = 64;

/// What a token is bound to: the ciphertext opens only as the same data
/// type, field and label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding<'a> {
    /// The policy's data type (empty without one).
    pub data_type: &'a str,
    /// The field: a JSON path with indexes written `[*]`
    /// (`messages[*].content`), a CSV column, or empty for plain text.
    pub field: &'a str,
    /// The label of the detected kind (`EMAIL`).
    pub label: &'a str,
}

impl Binding<'_> {
    /// The record and field names the sealed format authenticates: the data
    /// type, and the label and field joined by `/` (labels hold no `/`).
    pub fn record_and_field(&self) -> (String, String) {
        (
            self.data_type.to_owned(),
            format!("{}/{}", self.label, self.field),
        )
    }
}

/// Seals values for the `encrypt` operator: the vault implements it
/// (`privctl_vault::TokenSealer`), holding the keys in memory so that
/// sealing needs no I/O.
pub trait Sealer: Send + Sync + fmt::Debug {
    /// The sealed bytes of `value`, bound to `binding`.
    fn seal(&self, binding: &Binding<'_>, value: &str) -> Result<Vec<u8>>;
}

/// A sealer for redactors that only find (`privctl scan`): a policy that
/// chooses the encrypt operator still builds, and sealing is refused.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanOnly;

impl Sealer for ScanOnly {
    fn seal(&self, _: &Binding<'_>, _: &str) -> Result<Vec<u8>> {
        Err(crate::Error::EncryptNeedsVault)
    }
}

/// Turns the sealed tokens in text back into values.
pub trait Revealer {
    /// `text` with every token opened as `data_type` and `field`; an error
    /// names the first token that does not open, and why.
    fn reveal(&mut self, text: &str, data_type: &str, field: &str) -> Result<String>;
}

/// The token text for `sealed` bytes under `label`.
pub fn format_token(label: &str, sealed: &[u8]) -> String {
    let mut out = String::with_capacity(label.len() + MARK.len() + 2 + sealed.len() * 4 / 3 + 4);
    out.push('[');
    out.push_str(label);
    out.push_str(MARK);
    URL_SAFE_NO_PAD.encode_string(sealed, &mut out);
    out.push(']');
    out
}

/// A sealed token found in text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedToken<'a> {
    /// Where it is, in bytes.
    pub range: Range<usize>,
    /// Its label.
    pub label: &'a str,
    /// Its sealed part, in base64.
    pub sealed: &'a str,
}

impl SealedToken<'_> {
    /// The sealed bytes; an error if the base64 is broken.
    pub fn sealed_bytes(&self) -> std::result::Result<Vec<u8>, base64::DecodeError> {
        URL_SAFE_NO_PAD.decode(self.sealed)
    }
}

fn is_label_byte(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
}

fn is_b64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// The token around the mark at `mark` in `hay`, if it is one: `[`, a label
/// of capitals, digits, `_` or `-`, the mark, base64, `]`.
fn token_at(hay: &[u8], mark: usize) -> Option<Range<usize>> {
    let floor = mark.saturating_sub(MAX_LABEL + 1);
    let mut open = mark;
    while open > floor && is_label_byte(hay[open - 1]) {
        open -= 1;
    }
    if open == mark || open == 0 || hay[open - 1] != b'[' {
        return None;
    }
    let body = mark + MARK.len();
    let len = hay[body..]
        .iter()
        .take(MAX_SEALED_CHARS + 1)
        .position(|&b| !is_b64(b))?;
    if len > MAX_SEALED_CHARS
        || hay.get(body + len) != Some(&b']')
        || !plausible(&hay[body..body + len])
    {
        return None;
    }
    Some(open - 1..body + len + 1)
}

/// Whether base64 could be a sealed value: its first byte the format
/// version, 1 (`A`, then one of `Q`..`f`), and a 33-byte frame around a
/// plaintext padded to a multiple of 16 bytes. (Text shaped like a token is
/// still left alone by the scanner only under a label it knows.)
fn plausible(b64: &[u8]) -> bool {
    let bytes = b64.len() * 3 / 4;
    b64.len() > 2
        && b64[0] == b'A'
        && matches!(b64[1], b'Q'..=b'Z' | b'a'..=b'f')
        && b64.len() % 4 != 1
        && bytes >= FRAME + 16
        && (bytes - FRAME).is_multiple_of(16)
}

/// Bytes of a sealed value around its (padded) plaintext: version, key id,
/// nonce, tag.
const FRAME: usize = 1 + 4 + 12 + 16;

/// The byte ranges of the sealed tokens that touch `lo..hi` of `hay`
/// (a token may begin before `lo`), in order.
pub(crate) fn token_spans(hay: &[u8], lo: usize, hi: usize) -> Vec<Range<usize>> {
    let from = lo.saturating_sub(MAX_SEALED_CHARS + MAX_LABEL + MARK.len() + 2);
    let mut out: Vec<Range<usize>> = Vec::new();
    static FINDER: LazyLock<memmem::Finder<'static>> =
        LazyLock::new(|| memmem::Finder::new(MARK.as_bytes()));
    for m in FINDER.find_iter(&hay[from..hi]) {
        if let Some(r) = token_at(hay, from + m) {
            if r.end > lo && out.last().is_none_or(|last| last.end <= r.start) {
                out.push(r);
            }
        }
    }
    out
}

/// Every sealed token in `text`, in order.
pub fn sealed_tokens(text: &str) -> Vec<SealedToken<'_>> {
    token_spans(text.as_bytes(), 0, text.len())
        .into_iter()
        .map(|r| {
            let mark = text[r.clone()].find(MARK).map_or(r.start, |m| r.start + m);
            SealedToken {
                label: &text[r.start + 1..mark],
                sealed: &text[mark + MARK.len()..r.end - 1],
                range: r,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_found_whole_and_only_when_well_formed() {
        let mut sealed = vec![0xfbu8; FRAME + 16];
        sealed[..5].copy_from_slice(&[1, 0, 0, 0, 7]);
        let t = format_token("EMAIL", &sealed);
        assert!(t.starts_with("[EMAIL:sealed:AQAAAAf7-"), "{t}");
        let short = format_token("EMAIL", &sealed[..FRAME + 15]);
        let text =
            format!("mail {t}, and [EMAIL:sealed:] [email:sealed:AQID] [X:sealed:A B] {short} {t}");
        let found = sealed_tokens(&text);
        assert_eq!(found.len(), 2);
        assert_eq!(&text[found[0].range.clone()], t);
        assert_eq!(found[0].label, "EMAIL");
        assert_eq!(found[1].sealed_bytes().expect("base64"), sealed);
    }
}
