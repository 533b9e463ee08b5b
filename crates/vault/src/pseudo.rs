//! Pseudonymisation: keyed hashes of IP addresses and device fingerprints
//! under epoch keys (one per 90-day window), and API keys kept as SHA-256
//! digests with constant-time verification.

use std::net::IpAddr;

use ring::{digest, hmac};
use subtle::ConstantTimeEq;

use crate::keys::{hex, SecretKey};
use crate::{Error, Result};

/// Seconds in one epoch: 90 days, the rotation the seed policies promise.
pub const EPOCH_SECONDS: u64 = 90 * 24 * 3600;

/// The epoch a Unix time falls in.
pub fn epoch_of(unix_seconds: u64) -> u64 {
    unix_seconds / EPOCH_SECONDS
}

/// An IP address in canonical form (`::ffff:1.2.3.4` as `1.2.3.4`, IPv6
/// compressed and lower case), so one address always hashes the same.
pub fn canonical_ip(raw: &str) -> Result<String> {
    let ip: IpAddr = raw
        .trim()
        .parse()
        .map_err(|_| Error::InvalidIp(raw.to_owned()))?;
    Ok(match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
        IpAddr::V4(v4) => v4.to_string(),
    })
}

/// HMAC-SHA256 of `purpose` and `value` under an epoch key, hex. Destroying
/// the epoch's key makes its hashes unlinkable to any address.
pub fn keyed_hash(epoch_key: &SecretKey, purpose: &str, value: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, epoch_key.bytes());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(purpose.as_bytes());
    ctx.update(&[0]);
    ctx.update(value.as_bytes());
    hex(ctx.sign().as_ref())
}

/// The SHA-256 digest of an API key, hex: all a platform keeps of it.
pub fn api_key_digest(api_key: &str) -> String {
    hex(digest::digest(&digest::SHA256, api_key.as_bytes()).as_ref())
}

/// Whether `api_key` matches `stored_digest`, comparing in constant time so
/// the comparison leaks nothing about how much of the digest matched.
pub fn verify_api_key(api_key: &str, stored_digest: &str) -> bool {
    let computed = api_key_digest(api_key);
    let stored = stored_digest.trim().to_ascii_lowercase();
    computed.len() == stored.len() && bool::from(computed.as_bytes().ct_eq(stored.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ips_are_canonical_before_hashing() {
        assert_eq!(
            canonical_ip("::ffff:203.0.113.7").ok().as_deref(),
            Some("203.0.113.7")
        );
        assert_eq!(
            canonical_ip("2001:DB8:0:0:0:0:0:1").ok().as_deref(),
            Some("2001:db8::1")
        );
        assert!(canonical_ip("999.1.1.1").is_err());
        let k = SecretKey::from_bytes([1; 32]);
        let a = keyed_hash(
            &k,
            "ip",
            &canonical_ip("::ffff:203.0.113.7").unwrap_or_default(),
        );
        let b = keyed_hash(&k, "ip", &canonical_ip("203.0.113.7").unwrap_or_default());
        assert_eq!(a, b);
        assert_ne!(
            a,
            keyed_hash(&SecretKey::from_bytes([2; 32]), "ip", "203.0.113.7")
        );
    }

    #[test]
    fn api_key_digests_verify() {
        let d = api_key_digest("sk_live_abc");
        assert_eq!(
            d,
            "b2817799acd7f3337c32f967a7c4ca32a767c94190298bace3e0447120385c09"
        );
        assert!(verify_api_key("sk_live_abc", &d));
        assert!(verify_api_key("sk_live_abc", &d.to_uppercase()));
        assert!(!verify_api_key("sk_live_abd", &d));
        assert!(!verify_api_key("sk_live_abc", &d[..60]));
        assert_eq!(epoch_of(EPOCH_SECONDS * 3 + 5), 3);
    }
}
