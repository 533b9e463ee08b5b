//! Sealed tokens for the redaction engine's `encrypt` operator: values
//! found in text, JSON or CSV are replaced by `[EMAIL:sealed:AQAAAAAx…]`,
//! sealed with the vault's keys in the vault's own authenticated format
//! ([`crate::sealed`]) and bound to the data type, field and kind
//! ([`privctl_redact::sealing`] describes the token). A holder of the keys
//! reveals them.
//!
//! Two kinds of key seal tokens:
//! - a subject's data key (the one that seals their KYC values), when the
//!   sealer is made for a subject: crypto-shredding the subject
//!   ([`Vault::shred`]) destroys it, and their tokens no longer open,
//!   wherever the tokens were copied;
//! - otherwise the vault's token key (key id 0), an epoch key of purpose
//!   `sealed-token` wrapped under the master key like every other key, so
//!   rotation and re-wrapping cover it. Destroying it
//!   (`Vault::forget_epochs(TOKEN_PURPOSE, 1)`) makes every such token
//!   unreadable at once.
//!
//! The plaintext is padded to a multiple of 16 bytes (a `0x80` byte, then
//! zeros) before it is sealed, so a token shows the value's length only to
//! within 16 bytes.

use std::collections::HashMap;
use std::fmt;

use privctl_redact::sealing::{sealed_tokens, Binding, Revealer};
use zeroize::Zeroizing;

use crate::keys::SecretKey;
use crate::sealed::{self, SealedValue};
use crate::{Error, Result, Vault};

/// The epoch-key purpose of the vault's token key.
pub const TOKEN_PURPOSE: &str = "sealed-token";
/// Plaintexts are padded to a multiple of this many bytes.
pub const PAD_TO: usize = 16;
/// The key id of tokens sealed under the vault's token key (data keys
/// count from 1).
const VAULT_KEY_ID: u32 = 0;

/// Seals values for the `encrypt` operator with keys held in memory, so
/// sealing needs no I/O: give it to `privctl_redact::RedactorBuilder::sealer`
/// or `privctl_redact::Session::with_sealer`. `Debug` never shows a key.
///
/// ```
/// # async fn demo(vault: &privctl_vault::Vault) -> privctl_vault::Result<()> {
/// let sealer = vault.token_sealer(Some("user-42")).await?;
/// assert_eq!(format!("{sealer:?}"), "TokenSealer { subject_key: true }");
/// # Ok(()) }
/// ```
pub struct TokenSealer {
    key_id: u32,
    key: SecretKey,
}

impl fmt::Debug for TokenSealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSealer")
            .field("subject_key", &(self.key_id != VAULT_KEY_ID))
            .finish()
    }
}

/// `value`, a `0x80` byte, and zeros up to a multiple of [`PAD_TO`].
fn pad(value: &[u8]) -> Zeroizing<Vec<u8>> {
    let len = (value.len() / PAD_TO + 1) * PAD_TO;
    let mut out = Zeroizing::new(Vec::with_capacity(len));
    out.extend_from_slice(value);
    out.push(0x80);
    out.resize(len, 0);
    out
}

fn unpad(padded: &[u8]) -> Option<&[u8]> {
    let end = padded.iter().rposition(|&b| b != 0)?;
    (padded[end] == 0x80 && padded.len().is_multiple_of(PAD_TO)).then_some(&padded[..end])
}

impl privctl_redact::Sealer for TokenSealer {
    fn seal(&self, binding: &Binding<'_>, value: &str) -> privctl_redact::Result<Vec<u8>> {
        let (record, field) = binding.record_and_field();
        sealed::seal(
            &self.key,
            self.key_id,
            &record,
            &field,
            &pad(value.as_bytes()),
        )
        .map(|v| v.as_bytes().to_vec())
        .map_err(|e| privctl_redact::Error::Seal(Box::new(e)))
    }
}

/// Why a token does not open.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenProblem {
    /// Not a sealed value at all (broken base64 or framing).
    #[error("is not a sealed value ({0})")]
    Malformed(String),
    /// Authentication failed.
    #[error("does not open as data type \"{data_type}\", field \"{field}\": it was changed, or sealed for another data type, field or kind")]
    DoesNotOpen {
        /// The data type asked for.
        data_type: String,
        /// The field asked for.
        field: String,
    },
    /// The vault's token key is gone.
    #[error("was sealed under the vault's token key, which this vault does not hold: it was destroyed (or the token is not from this vault)")]
    TokenKeyGone,
    /// Its subject's data key is gone.
    #[error("was sealed under data key {0}, which this vault no longer holds: its subject was crypto-shredded (or the token is not from this vault)")]
    KeyGone(u32),
}

/// Opens sealed tokens, fetching each key once.
pub struct TokenOpener<'v> {
    vault: &'v Vault,
    keys: HashMap<u32, Option<SecretKey>>,
}

impl fmt::Debug for TokenOpener<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenOpener({} keys)", self.keys.len())
    }
}

impl Vault {
    /// A sealer for tokens: under `subject`'s data key (made on first use;
    /// refused for a crypto-shredded subject), or with none, under the
    /// vault's token key.
    pub async fn token_sealer(&self, subject: Option<&str>) -> Result<TokenSealer> {
        match subject {
            None => Ok(TokenSealer {
                key_id: VAULT_KEY_ID,
                key: self.epoch_key(TOKEN_PURPOSE, 0).await?,
            }),
            Some(subject) => {
                crate::vault::check_subject(subject)?;
                let (id, key) = self
                    .with_keys(|keys| async move {
                        self.store()
                            .write_with(async |c| {
                                let (id, key, _) = self.data_key(c, &keys.keyring, subject).await?;
                                Ok((id, key))
                            })
                            .await
                    })
                    .await?;
                Ok(TokenSealer {
                    key_id: u32::try_from(id).map_err(|_| Error::KeyIdsExhausted)?,
                    key,
                })
            }
        }
    }

    /// An opener for sealed tokens.
    pub fn token_opener(&self) -> TokenOpener<'_> {
        TokenOpener {
            vault: self,
            keys: HashMap::new(),
        }
    }
}

impl<'v> TokenOpener<'v> {
    /// `text` with every sealed token in it opened as `data_type` and
    /// `field` (empty for plain text); the first token that does not open
    /// is an error naming it by label and byte offset.
    pub async fn reveal(&mut self, text: &str, data_type: &str, field: &str) -> Result<String> {
        let tokens = sealed_tokens(text);
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for t in &tokens {
            let fail = |problem| Error::Token {
                label: t.label.to_owned(),
                offset: t.range.start,
                problem,
            };
            let bytes = t
                .sealed_bytes()
                .map_err(|e| fail(TokenProblem::Malformed(e.to_string())))?;
            let sealed = SealedValue::parse(&bytes)
                .map_err(|e| fail(TokenProblem::Malformed(e.to_string())))?;
            let id = sealed.key_id();
            if !self.keys.contains_key(&id) {
                // Read only: revealing never makes a key.
                let key = match id {
                    VAULT_KEY_ID => self.vault.existing_epoch_key(TOKEN_PURPOSE, 0).await?,
                    id => self.vault.data_key_by_id(i64::from(id)).await?,
                };
                self.keys.insert(id, key);
            }
            let Some(Some(key)) = self.keys.get(&id) else {
                return Err(fail(match id {
                    VAULT_KEY_ID => TokenProblem::TokenKeyGone,
                    id => TokenProblem::KeyGone(id),
                }));
            };
            let binding = Binding {
                data_type,
                field,
                label: t.label,
            };
            let (record, field_name) = binding.record_and_field();
            let does_not_open = || {
                fail(TokenProblem::DoesNotOpen {
                    data_type: data_type.to_owned(),
                    field: field.to_owned(),
                })
            };
            let padded =
                sealed::open(key, &record, &field_name, &sealed).map_err(|_| does_not_open())?;
            let value = unpad(&padded).ok_or_else(does_not_open)?;
            let value = std::str::from_utf8(value).map_err(|_| does_not_open())?;
            out.push_str(&text[at..t.range.start]);
            out.push_str(value);
            at = t.range.end;
        }
        out.push_str(&text[at..]);
        Ok(out)
    }

    /// A [`Revealer`] for `privctl_redact::structured`'s JSON, JSON Lines,
    /// CSV and text readers, driving this opener on `runtime` (which must
    /// not be the one the caller runs on).
    pub fn blocking<'o>(
        &'o mut self,
        runtime: &'o tokio::runtime::Runtime,
    ) -> BlockingOpener<'o, 'v> {
        BlockingOpener {
            opener: self,
            runtime,
        }
    }
}

/// A [`TokenOpener`] for synchronous callers (see [`TokenOpener::blocking`]).
#[derive(Debug)]
pub struct BlockingOpener<'o, 'v> {
    opener: &'o mut TokenOpener<'v>,
    runtime: &'o tokio::runtime::Runtime,
}

impl Revealer for BlockingOpener<'_, '_> {
    fn reveal(
        &mut self,
        text: &str,
        data_type: &str,
        field: &str,
    ) -> privctl_redact::Result<String> {
        self.runtime
            .block_on(self.opener.reveal(text, data_type, field))
            .map_err(|e| privctl_redact::Error::Reveal {
                location: String::new(),
                source: Box::new(e),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_hides_all_but_the_length_in_blocks_and_round_trips() {
        for n in 0..64 {
            let v = vec![b'a'; n];
            let p = pad(&v);
            assert_eq!(p.len(), (n / PAD_TO + 1) * PAD_TO);
            assert_eq!(unpad(&p), Some(&v[..]));
        }
        // Values that end in NUL or 0x80 bytes survive.
        for v in [&b"ab\0"[..], b"\x80", b"\0\0\x80\0"] {
            assert_eq!(unpad(&pad(v)), Some(v));
        }
        assert_eq!(unpad(&[0; 16]), None);
        assert_eq!(unpad(&[1; 16]), None);
    }
}
