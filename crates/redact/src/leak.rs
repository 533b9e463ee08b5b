//! The redaction promise, as a check: after redaction, no piece of four or
//! more characters of any detected value is left in the output (placeholders
//! such as `[PRIVATE_KEY]` aside), unless the same piece is also in the
//! input outside every detected value: then it says nothing about the
//! secret. Tests and the fuzz target apply it; masks that keep the last
//! characters by design are the exception, and callers that use them leave
//! those characters out of `found`.

use crate::Finding;

/// The shortest piece of a secret that counts as leaked.
pub const LEAK_LEN: usize = 4;

/// Every piece of `LEAK_LEN` characters of a value in `found` (findings in
/// `input`) that is still in `output` and is not in the input outside the
/// findings.
pub fn leaked_fragments(input: &str, found: &[Finding], output: &str) -> Vec<String> {
    // The input between findings: what the output may repeat.
    let mut outside: Vec<&str> = Vec::new();
    let mut at = 0;
    for f in found {
        if f.start < at || f.end > input.len() {
            continue;
        }
        outside.push(input.get(at..f.start).unwrap_or(""));
        at = f.end;
    }
    outside.push(input.get(at..).unwrap_or(""));
    // The output between placeholders, so a placeholder and the text beside
    // it (`[IPV6]=/h`) do not spell a piece of a secret.
    let mut pieces: Vec<&str> = vec![output];
    let labels: Vec<String> = crate::Builtin::ALL
        .iter()
        .map(|b| format!("[{}]", b.label()))
        .chain(found.iter().map(|f| format!("[{}]", f.kind.label())))
        .collect();
    for label in &labels {
        pieces = pieces
            .iter()
            .flat_map(|p| p.split(label.as_str()))
            .collect();
    }
    let mut out = Vec::new();
    for f in found {
        let Some(value) = input.get(f.start..f.end) else {
            continue;
        };
        let chars: Vec<(usize, char)> = value.char_indices().collect();
        for w in 0..chars.len().saturating_sub(LEAK_LEN - 1) {
            let from = chars[w].0;
            let to = chars.get(w + LEAK_LEN).map_or(value.len(), |c| c.0);
            let piece = &value[from..to];
            if pieces.iter().any(|p| p.contains(piece))
                && !outside.iter().any(|o| o.contains(piece))
                && !out.iter().any(|p| p == piece)
            {
                out.push(piece.to_owned());
            }
        }
    }
    out
}
