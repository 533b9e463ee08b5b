//! KYC identifiers: validation before sealing, masked display, blind
//! indexes, and the opaque reference keys business tables hold instead of
//! Aadhaar numbers (UIDAI's Aadhaar Data Vault rule).

use std::fmt;

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::keys::{hex, SecretKey};
use crate::{Error, Result};

/// The kinds of identifier the vault holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKind {
    /// India's Permanent Account Number.
    Pan,
    /// India's Aadhaar number.
    Aadhaar,
}

impl IdKind {
    /// The name used in field names and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            IdKind::Pan => "pan",
            IdKind::Aadhaar => "aadhaar",
        }
    }

    /// From the CLI name.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "pan" => Ok(IdKind::Pan),
            "aadhaar" => Ok(IdKind::Aadhaar),
            other => Err(Error::UnknownKind(other.to_owned())),
        }
    }
}

/// A validated identifier in normal form (PAN upper case; Aadhaar 12 digits),
/// zeroed on drop; `Debug` and `Display` show only the last four characters.
///
/// ```
/// use privctl_vault::{IdKind, KycId};
/// let id = KycId::new(IdKind::Aadhaar, "2345 6789 0124").unwrap();
/// assert_eq!(format!("{id}"), "XXXX XXXX 0124");
/// assert_eq!(format!("{id:?}"), "KycId(aadhaar, XXXX XXXX 0124)");
/// assert!(KycId::new(IdKind::Aadhaar, "2345 6789 0123").is_err());
/// ```
pub struct KycId {
    kind: IdKind,
    value: Zeroizing<String>,
}

impl KycId {
    /// Validates and normalises: PAN needs five letters, four digits, a
    /// letter, and a holder-type fourth letter; Aadhaar needs 12 digits, not
    /// starting with 0 or 1, with a valid Verhoeff check digit.
    pub fn new(kind: IdKind, raw: &str) -> Result<Self> {
        let compact: Zeroizing<String> =
            Zeroizing::new(raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect());
        let value = match kind {
            IdKind::Pan => {
                let upper = Zeroizing::new(compact.to_ascii_uppercase());
                if !privctl_redact::validate::pan(upper.as_bytes()) {
                    return Err(Error::InvalidId {
                        kind,
                        reason: "a PAN is five letters, four digits and a letter, and its fourth letter is the holder type (P, C, H, F, A, T, B, L, J or G)",
                    });
                }
                upper
            }
            IdKind::Aadhaar => {
                let b = compact.as_bytes();
                if b.len() != 12 || !b.iter().all(u8::is_ascii_digit) {
                    return Err(Error::InvalidId {
                        kind,
                        reason: "an Aadhaar number is 12 digits",
                    });
                }
                if b[0] < b'2' {
                    return Err(Error::InvalidId {
                        kind,
                        reason: "an Aadhaar number never starts with 0 or 1",
                    });
                }
                if !privctl_redact::validate::verhoeff(b) {
                    return Err(Error::InvalidId {
                        kind,
                        reason: "the Verhoeff check digit does not match",
                    });
                }
                compact
            }
        };
        Ok(KycId { kind, value })
    }

    /// Which identifier.
    pub fn kind(&self) -> IdKind {
        self.kind
    }

    /// The normalised value. Handle with care.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// The display form with all but the last four characters hidden.
    pub fn masked(&self) -> String {
        mask(self.kind, &self.value)
    }
}

/// All but the last four characters as `X` (Aadhaar grouped in fours).
pub fn mask(kind: IdKind, value: &str) -> String {
    let n = value.chars().count();
    let masked: String = value
        .chars()
        .enumerate()
        .map(|(i, c)| if i + 4 < n { 'X' } else { c })
        .collect();
    match kind {
        IdKind::Aadhaar if masked.len() == 12 => {
            format!("{} {} {}", &masked[..4], &masked[4..8], &masked[8..])
        }
        _ => masked,
    }
}

impl fmt::Display for KycId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for KycId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KycId({}, {})", self.kind.name(), self.masked())
    }
}

/// The blind index of an identifier: HMAC-SHA256 under the index key of
/// its kind and normal form, hex. Equal values give equal indexes, so a
/// record is found without decrypting anything; without the key the index
/// reveals nothing.
pub fn blind_index(index_key: &SecretKey, id: &KycId) -> String {
    blind_index_of(index_key, id.kind, &id.value)
}

/// [`blind_index`] of a stored value in normal form.
pub(crate) fn blind_index_of(index_key: &SecretKey, kind: IdKind, normal: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, index_key.bytes());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(kind.name().as_bytes());
    ctx.update(&[0]);
    ctx.update(normal.as_bytes());
    hex(ctx.sign().as_ref())
}

/// A new opaque reference key (`ref_` and 26 base32 characters, 128 random
/// bits): what business tables store instead of the number.
pub fn new_reference() -> Result<String> {
    const B32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut bytes = [0u8; 17];
    SystemRandom::new()
        .fill(&mut bytes[..16])
        .map_err(|_| Error::Random)?;
    let mut out = String::from("ref_");
    let mut acc = 0u32;
    let mut bits = 0;
    for b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 && out.len() < 30 {
            bits -= 5;
            out.push(B32[((acc >> bits) & 31) as usize] as char);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_identifiers_are_refused_with_a_reason() {
        let msg = |k, v| {
            KycId::new(k, v)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert_eq!(msg(IdKind::Pan, "ABCXE1234F"), "invalid pan: a PAN is five letters, four digits and a letter, and its fourth letter is the holder type (P, C, H, F, A, T, B, L, J or G)");
        assert_eq!(
            msg(IdKind::Aadhaar, "1234 5678 9012"),
            "invalid aadhaar: an Aadhaar number never starts with 0 or 1"
        );
        assert_eq!(
            msg(IdKind::Aadhaar, "2345 6789 012"),
            "invalid aadhaar: an Aadhaar number is 12 digits"
        );
        assert_eq!(
            msg(IdKind::Aadhaar, "2345 6789 0123"),
            "invalid aadhaar: the Verhoeff check digit does not match"
        );
        assert_eq!(
            KycId::new(IdKind::Pan, "abcpe1234f")
                .map(|p| p.expose().to_owned())
                .ok()
                .as_deref(),
            Some("ABCPE1234F")
        );
    }

    #[test]
    fn references_are_opaque_and_distinct() {
        let a = new_reference().unwrap_or_default();
        let b = new_reference().unwrap_or_default();
        assert_eq!(a.len(), 30);
        assert_ne!(a, b);
    }
}
