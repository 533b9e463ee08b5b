//! What replaces a finding.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use ring::hmac;

use crate::sealing::{format_token, Binding, Sealer, MAX_SEALED_VALUE};
use crate::{Finding, Kind};

/// How a finding is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operator {
    /// A typed placeholder: `[EMAIL]`.
    Placeholder,
    /// Every letter and digit but the last `keep_last` replaced by `*`;
    /// separators kept, so `4111 1111 1111 1111` becomes `**** **** **** 1111`.
    Mask {
        /// Letters and digits left visible at the end.
        keep_last: usize,
    },
    /// A keyed-hash pseudonym, `[EMAIL:3f2a9c1b7d4e]`: the same value under the
    /// same key always gives the same token, so pseudonymised data still joins.
    Pseudonym,
    /// Removed.
    Remove,
    /// A reversible token, `<EMAIL_1>`, numbered per [`crate::Session`]; the
    /// session restores the original in a model's reply.
    Token,
    /// Sealed with the vault's keys, `[EMAIL:sealed:AQAAAAAx…]`: a holder of
    /// the keys can reveal it (see [`crate::sealing`]).
    Encrypt,
}

impl Operator {
    /// From the policy's operator and its parameter. (`encrypt` needs a
    /// [`crate::Sealer`], which the builder asks for.)
    pub fn from_policy(
        op: privctl_policy::model::Operator,
        keep_last: Option<u32>,
    ) -> Result<Self, crate::Error> {
        use privctl_policy::model::Operator as P;
        Ok(match op {
            P::Placeholder => Operator::Placeholder,
            P::Mask => Operator::Mask {
                keep_last: keep_last.unwrap_or(4) as usize,
            },
            P::Pseudonym => Operator::Pseudonym,
            P::Remove => Operator::Remove,
            P::Token => Operator::Token,
            P::Encrypt => Operator::Encrypt,
        })
    }
}

/// The key behind pseudonyms. Its bytes never appear in `Debug` output.
///
/// ```
/// let key = privctl_redact::PseudonymKey::new(b"0123456789abcdef0123456789abcdef").unwrap();
/// assert_eq!(format!("{key:?}"), "PseudonymKey(<redacted>)");
/// ```
#[derive(Clone)]
pub struct PseudonymKey(hmac::Key);

impl PseudonymKey {
    /// A key of at least 16 bytes.
    pub fn new(bytes: &[u8]) -> Result<Self, crate::Error> {
        if bytes.len() < 16 {
            return Err(crate::Error::WeakKey { len: bytes.len() });
        }
        Ok(PseudonymKey(hmac::Key::new(hmac::HMAC_SHA256, bytes)))
    }

    /// A random key for this process only: pseudonyms under it cannot be
    /// linked to any other run's.
    pub fn ephemeral() -> Result<Self, crate::Error> {
        use ring::rand::SecureRandom;
        let mut bytes = [0u8; 32];
        ring::rand::SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| crate::Error::Random)?;
        Ok(PseudonymKey(hmac::Key::new(hmac::HMAC_SHA256, &bytes)))
    }

    fn token(&self, kind: &Kind, value: &[u8]) -> String {
        let mut ctx = hmac::Context::with_key(&self.0);
        ctx.update(kind.name().as_bytes());
        ctx.update(&[0]);
        ctx.update(value);
        let tag = ctx.sign();
        let hex: String = tag.as_ref()[..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("[{}:{hex}]", kind.label())
    }
}

impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PseudonymKey(<redacted>)")
    }
}

/// Reversible prompt tokens for one conversation. The mapping never leaves
/// the process: it has no `Serialize`, and `Debug` shows only its size.
///
/// ```
/// use privctl_redact::{Operator, Redactor, Session};
/// let r = Redactor::builder().operator(Operator::Token).build().unwrap();
/// let mut session = Session::new();
/// let prompt = r.redact_in_session("Mail ana@example.com and ana@example.com", &mut session);
/// assert_eq!(prompt, "Mail <EMAIL_1> and <EMAIL_1>");
/// assert_eq!(session.restore("Sent to <EMAIL_1>."), "Sent to ana@example.com.");
/// ```
#[derive(Default)]
pub struct Session {
    by_value: HashMap<(String, String), String>,
    by_token: HashMap<String, String>,
    counters: HashMap<String, usize>,
    sealer: Option<Arc<dyn Sealer>>,
}

impl Session {
    /// An empty session.
    pub fn new() -> Self {
        Session::default()
    }

    /// An empty session whose `encrypt` operator seals with `sealer` rather
    /// than the redactor's own: the keys of the person a request is about,
    /// for one.
    pub fn with_sealer(sealer: Arc<dyn Sealer>) -> Self {
        let mut s = Session::default();
        s.sealer = Some(sealer);
        s
    }

    /// A new session with this one's sealer and no tokens.
    pub(crate) fn fork(&self) -> Self {
        let mut s = Session::default();
        s.sealer = self.sealer.clone();
        s
    }

    pub(crate) fn sealer(&self) -> Option<&Arc<dyn Sealer>> {
        self.sealer.as_ref()
    }

    /// Number of distinct values tokenised.
    pub fn len(&self) -> usize {
        self.by_token.len()
    }

    /// Whether nothing has been tokenised.
    pub fn is_empty(&self) -> bool {
        self.by_token.is_empty()
    }

    fn token(&mut self, kind: &Kind, value: &str) -> String {
        let key = (kind.name().to_owned(), value.to_owned());
        if let Some(t) = self.by_value.get(&key) {
            return t.clone();
        }
        let label = kind.label();
        let n = self.counters.entry(label.clone()).or_insert(0);
        *n += 1;
        let token = format!("<{label}_{n}>");
        self.by_token.insert(token.clone(), value.to_owned());
        self.by_value.insert(key, token.clone());
        token
    }

    /// Puts the original values back into text (a model's reply) wherever a
    /// token of this session appears; other text is untouched.
    pub fn restore(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(open) = rest.find('<') {
            out.push_str(&rest[..open]);
            let after = &rest[open..];
            let close = after.find('>').map(|c| c + 1);
            match close.and_then(|c| self.by_token.get(&after[..c]).map(|v| (c, v))) {
                Some((c, value)) => {
                    out.push_str(value);
                    rest = &after[c..];
                }
                None => {
                    out.push('<');
                    rest = &after[1..];
                }
            }
        }
        out.push_str(rest);
        out
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Session({} values)", self.len())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Overwrite the originals before their memory is freed.
        for v in self.by_token.values_mut() {
            // Refill the same buffer with NULs: no reallocation, so the
            // original bytes are overwritten.
            let n = v.len();
            v.clear();
            v.extend(std::iter::repeat_n('\0', n));
        }
    }
}

/// What the `encrypt` operator seals with, and binds to.
pub(crate) struct Sealing<'a> {
    /// The redactor's sealer, unless the session has its own.
    pub sealer: Option<&'a Arc<dyn Sealer>>,
    pub data_type: &'a str,
    pub field: &'a str,
}

/// Writes the replacement for `finding` (whose text is `value`).
pub(crate) fn replace(
    op: Operator,
    finding: &Finding,
    value: &str,
    key: Option<&PseudonymKey>,
    sealing: &Sealing<'_>,
    session: &mut Session,
    out: &mut String,
) {
    match op {
        Operator::Placeholder => {
            out.push('[');
            out.push_str(&finding.kind.label());
            out.push(']');
        }
        Operator::Mask { keep_last } => {
            let total = value.chars().filter(|c| c.is_alphanumeric()).count();
            let mut seen = 0;
            for c in value.chars() {
                if c.is_alphanumeric() {
                    seen += 1;
                    out.push(if seen + keep_last > total { c } else { '*' });
                } else {
                    out.push(c);
                }
            }
        }
        Operator::Pseudonym => match key {
            Some(k) => out.push_str(&k.token(&finding.kind, value.as_bytes())),
            // The builder refuses a pseudonym operator without a key.
            None => out.push_str(&format!("[{}]", finding.kind.label())),
        },
        Operator::Remove => {}
        Operator::Token => out.push_str(&session.token(&finding.kind, value)),
        Operator::Encrypt => {
            let label = finding.kind.label();
            let binding = Binding {
                data_type: sealing.data_type,
                field: sealing.field,
                label: &label,
            };
            match session.sealer().or(sealing.sealer) {
                // Too long for a token (see `MAX_SEALED_VALUE`).
                _ if value.len() > MAX_SEALED_VALUE => out.push_str(&format!("[{label}]")),
                Some(sealer) => match sealer.seal(&binding, value) {
                    Ok(sealed) => out.push_str(&format_token(&label, &sealed)),
                    // The keys are in memory, so only the system's random
                    // number generator can fail here: the value is still
                    // never written.
                    Err(_) => out.push_str(&format!("[{label}]")),
                },
                // The builder refuses the encrypt operator without a sealer.
                None => out.push_str(&format!("[{label}]")),
            }
        }
    }
}
