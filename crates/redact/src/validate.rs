//! Checksums and structural checks that keep false positives down: a pattern
//! alone says "this looks like a card number"; Luhn says it is one.

/// Luhn (mod 10) over ASCII digits; other bytes are ignored.
///
/// ```
/// assert!(privctl_redact::validate::luhn(b"4111 1111 1111 1111"));
/// assert!(!privctl_redact::validate::luhn(b"4111 1111 1111 1112"));
/// ```
pub fn luhn(s: &[u8]) -> bool {
    let mut sum = 0u32;
    let mut double = false;
    let mut n = 0;
    for &b in s.iter().rev() {
        if !b.is_ascii_digit() {
            continue;
        }
        let mut d = u32::from(b - b'0');
        if double {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
        double = !double;
        n += 1;
    }
    n > 1 && sum.is_multiple_of(10)
}

const VERHOEFF_D: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];

const VERHOEFF_P: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

/// The Verhoeff running check over the digits of `s`, read from the right,
/// each at position `shift + i`; and how many digits there were.
fn verhoeff_fold(s: &[u8], shift: usize) -> (u8, usize) {
    let mut c = 0u8;
    let mut n = 0;
    for (i, &b) in s.iter().rev().filter(|b| b.is_ascii_digit()).enumerate() {
        let d = usize::from(b - b'0');
        c = VERHOEFF_D[usize::from(c)][usize::from(VERHOEFF_P[(i + shift) % 8][d])];
        n += 1;
    }
    (c, n)
}

/// Verhoeff checksum over ASCII digits (the last digit is the check digit);
/// other bytes are ignored.
pub fn verhoeff(s: &[u8]) -> bool {
    let (c, n) = verhoeff_fold(s, 0);
    n > 1 && c == 0
}

/// The Verhoeff check digit that makes `digits` followed by it valid.
pub fn verhoeff_check_digit(digits: &[u8]) -> u8 {
    const INV: [u8; 10] = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9];
    INV[usize::from(verhoeff_fold(digits, 1).0)]
}

/// An Aadhaar number: 12 digits (spaces or dashes between groups allowed), not
/// starting with 0 or 1, with a valid Verhoeff check digit.
pub fn aadhaar(s: &[u8]) -> bool {
    let digits: Vec<u8> = s.iter().copied().filter(u8::is_ascii_digit).collect();
    digits.len() == 12 && digits[0] >= b'2' && verhoeff(&digits)
}

/// A PAN: five letters, four digits, a letter; the fourth letter is the
/// holder type (P person, C company, H HUF, F firm, A AOP, T trust, B BOI,
/// L local authority, J artificial juridical person, G government).
pub fn pan(s: &[u8]) -> bool {
    s.len() == 10
        && s[..5].iter().all(u8::is_ascii_uppercase)
        && b"PCHFATBLJG".contains(&s[3])
        && s[5..9].iter().all(u8::is_ascii_digit)
        && s[9].is_ascii_uppercase()
}

/// An Indian GSTIN: a two-digit state code (01 to 38, 97 for other
/// territory, 99 for the centre), the holder's PAN, an entity number, `Z`,
/// and a check character (GSTN's mod-36 scheme over the first 14).
pub fn gstin(s: &[u8]) -> bool {
    if s.len() != 15 || !s[..2].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let state = (s[0] - b'0') * 10 + (s[1] - b'0');
    if !((1..=38).contains(&state) || state == 97 || state == 99) {
        return false;
    }
    if !pan(&s[2..12]) || !(s[12].is_ascii_digit() && s[12] != b'0' || s[12].is_ascii_uppercase()) {
        return false;
    }
    if s[13] != b'Z' {
        return false;
    }
    gstin_check_char(&s[..14]) == Some(s[14])
}

/// GSTN's check character for the first 14 characters of a GSTIN: each
/// character's value (0-9, then A-Z as 10-35) times 1 or 2 alternately, the
/// quotient and remainder by 36 summed, and (36 - sum mod 36) mod 36.
pub fn gstin_check_char(s: &[u8]) -> Option<u8> {
    const CHARS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut sum = 0u32;
    for (i, &c) in s.iter().enumerate() {
        let v = CHARS.iter().position(|&x| x == c)? as u32;
        let p = v * if i % 2 == 0 { 1 } else { 2 };
        sum += p / 36 + p % 36;
    }
    Some(CHARS[((36 - sum % 36) % 36) as usize])
}

/// A UK National Insurance number, `AB123456C` with spaces removed: two
/// prefix letters HMRC allocates (neither D, F, I, Q, U nor V, the second
/// not O, and not BG, GB, KN, NK, NT, TN or ZZ), six digits, suffix A to D.
pub fn nino(s: &[u8]) -> bool {
    if s.len() != 9 {
        return false;
    }
    let (a, b) = (s[0], s[1]);
    let bad = |c: u8| b"DFIQUV".contains(&c);
    a.is_ascii_uppercase()
        && b.is_ascii_uppercase()
        && !bad(a)
        && !bad(b)
        && b != b'O'
        && !matches!(
            &s[..2],
            b"BG" | b"GB" | b"KN" | b"NK" | b"NT" | b"TN" | b"ZZ"
        )
        && s[2..8].iter().all(u8::is_ascii_digit)
        && (b'A'..=b'D').contains(&s[8])
}

/// An IMEI's 15 digits: a reporting body that allocates type codes (the
/// first two digits) and the Luhn check digit.
pub fn imei(digits: &[u8]) -> bool {
    digits.len() == 15
        && matches!(
            &digits[..2],
            b"01"
                | b"30"
                | b"33"
                | b"35"
                | b"44"
                | b"45"
                | b"49"
                | b"50"
                | b"51"
                | b"52"
                | b"53"
                | b"54"
                | b"86"
                | b"91"
                | b"98"
                | b"99"
        )
        && luhn(digits)
}

/// Whether a key found by its prefix is a placeholder: most of it the
/// character in its middle (`ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`,
/// `AKIAXXXXXXXXXXXXXXXX`).
pub(crate) fn placeholder_key(v: &[u8]) -> bool {
    let c = v[v.len() / 2];
    v.iter().filter(|&&b| b == c).count() * 2 >= v.len()
}

/// A US SSN in `AAA-GG-SSSS` form, with the SSA's rules: area not 000, 666
/// or 900-999, group not 00, serial not 0000, and not the numbers published in
/// advertising (078-05-1120, 219-09-9999).
pub fn ssn(s: &[u8]) -> bool {
    if s.len() != 11 || s[3] != s[6] || !(s[3] == b'-' || s[3] == b' ') {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| s[r].iter().all(u8::is_ascii_digit);
    if !(digits(0..3) && digits(4..6) && digits(7..11)) {
        return false;
    }
    let area = &s[0..3];
    area != b"000"
        && area != b"666"
        && area[0] != b'9'
        && &s[4..6] != b"00"
        && &s[7..11] != b"0000"
        && s != b"078-05-1120"
        && s != b"219-09-9999"
}

/// IBAN lengths by country (ISO 13616 registry).
const IBAN_LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NL", 18),
    (b"NO", 15),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"SA", 24),
    (b"SC", 31),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
    // Added to the SWIFT registry since 2021.
    (b"BI", 27),
    (b"DJ", 27),
    (b"FK", 18),
    (b"HN", 28),
    (b"LY", 25),
    (b"MN", 20),
    (b"NI", 28),
    (b"OM", 23),
    (b"RU", 33),
    (b"SD", 18),
    (b"SO", 23),
    (b"YE", 30),
];

/// An IBAN (spaces allowed between groups): a known country, its length, and
/// the ISO 7064 mod-97 check.
///
/// ```
/// assert!(privctl_redact::validate::iban(b"GB82 WEST 1234 5698 7654 32"));
/// assert!(!privctl_redact::validate::iban(b"GB82 WEST 1234 5698 7654 33"));
/// ```
pub fn iban(s: &[u8]) -> bool {
    let compact: Vec<u8> = s.iter().copied().filter(|b| *b != b' ').collect();
    if compact.len() < 15 || !compact.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let Some(&(_, len)) = IBAN_LENGTHS.iter().find(|(cc, _)| cc[..] == compact[..2]) else {
        return false;
    };
    if compact.len() != len || !compact[2..4].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut rem = 0u32;
    for &b in compact[4..].iter().chain(&compact[..4]) {
        match b {
            b'0'..=b'9' => rem = (rem * 10 + u32::from(b - b'0')) % 97,
            b'A'..=b'Z' => rem = (rem * 100 + u32::from(b - b'A' + 10)) % 97,
            _ => return false,
        }
    }
    rem == 1
}

/// Shannon entropy in bits per byte.
pub fn entropy(s: &[u8]) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in s {
        counts[usize::from(b)] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// A dotted-quad IPv4 address with no leading zeros.
pub fn ipv4(s: &[u8]) -> bool {
    let mut parts = 0;
    for part in s.split(|&b| b == b'.') {
        parts += 1;
        if part.is_empty()
            || part.len() > 3
            || !part.iter().all(u8::is_ascii_digit)
            || (part.len() > 1 && part[0] == b'0')
        {
            return false;
        }
        let v: u32 = part.iter().fold(0, |a, &b| a * 10 + u32::from(b - b'0'));
        if v > 255 {
            return false;
        }
    }
    parts == 4
}

/// Decodes unpadded or padded base64url (or standard base64) text.
pub fn base64url_decode(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for &b in s {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// A JWT: three base64url parts whose first decodes to a JSON header naming
/// an `alg`.
pub fn jwt(s: &[u8]) -> bool {
    let mut parts = s.split(|&b| b == b'.');
    let (Some(header), Some(payload), Some(_sig)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    if parts.next().is_some() || payload.len() < 4 {
        return false;
    }
    // The header is a whole JSON object naming its algorithm (`none`
    // included: an unsigned token is still a token).
    match base64url_decode(header) {
        Some(h) => {
            h.first() == Some(&b'{')
                && h.windows(5).any(|w| w == b"\"alg\"")
                && serde_json::from_slice::<serde_json::Value>(&h)
                    .ok()
                    .is_some_and(|v| v.get("alg").is_some_and(serde_json::Value::is_string))
        }
        None => false,
    }
}

const BECH32_CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/// A Bitcoin bech32 or bech32m address (`bc1...`) with a valid checksum.
pub fn bech32(s: &[u8]) -> bool {
    let lower: Vec<u8> = s.to_ascii_lowercase();
    if s.iter().any(u8::is_ascii_uppercase) && s.iter().any(u8::is_ascii_lowercase) {
        return false;
    }
    let Some(sep) = lower.iter().rposition(|&b| b == b'1') else {
        return false;
    };
    let (hrp, data) = (&lower[..sep], &lower[sep + 1..]);
    if hrp != b"bc" || data.len() < 6 || lower.len() > 90 {
        return false;
    }
    let mut values = Vec::with_capacity(hrp.len() * 2 + 1 + data.len());
    values.extend(hrp.iter().map(|b| b >> 5));
    values.push(0);
    values.extend(hrp.iter().map(|b| b & 31));
    for b in data {
        match BECH32_CHARSET.iter().position(|c| c == b) {
            Some(v) => values.push(v as u8),
            None => return false,
        }
    }
    let mut chk: u32 = 1;
    const GEN: [u32; 5] = [
        0x3b6a_57b2,
        0x2650_8e6d,
        0x1ea1_19fa,
        0x3d42_33dd,
        0x2a14_62b3,
    ];
    for v in values {
        let top = chk >> 25;
        chk = ((chk & 0x1ff_ffff) << 5) ^ u32::from(v);
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk == 1 || chk == 0x2bc8_30a3
}

const BASE58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// A legacy Bitcoin address (`1...` or `3...`): base58check with version byte
/// 0 or 5 and a valid double-SHA-256 checksum.
pub fn base58check_address(s: &[u8]) -> bool {
    if !(26..=35).contains(&s.len()) || !(s[0] == b'1' || s[0] == b'3') {
        return false;
    }
    let mut bytes: Vec<u8> = Vec::with_capacity(25);
    for &c in s {
        let Some(mut carry) = BASE58.iter().position(|&x| x == c).map(|v| v as u32) else {
            return false;
        };
        for b in bytes.iter_mut().rev() {
            carry += u32::from(*b) * 58;
            *b = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let zeros = s.iter().take_while(|&&c| c == b'1').count();
    let mut full = vec![0u8; zeros];
    full.extend(bytes);
    if full.len() != 25 || !(full[0] == 0 || full[0] == 5) {
        return false;
    }
    let first = ring::digest::digest(&ring::digest::SHA256, &full[..21]);
    let second = ring::digest::digest(&ring::digest::SHA256, first.as_ref());
    second.as_ref()[..4] == full[21..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_test_cards_and_rejects_neighbours() {
        for ok in [
            "4111111111111111",
            "5500 0000 0000 0004",
            "3400-0000-0000-009",
            "6011000000000004",
        ] {
            assert!(luhn(ok.as_bytes()), "{ok}");
        }
        for bad in ["4111111111111112", "1234567812345678", "0"] {
            assert!(!luhn(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn verhoeff_matches_its_check_digit() {
        assert!(verhoeff(b"2363"));
        assert!(!verhoeff(b"2364"));
        let base = b"23456789012";
        let check = verhoeff_check_digit(base);
        let mut full = base.to_vec();
        full.push(b'0' + check);
        assert!(verhoeff(&full));
        assert!(aadhaar(&full));
        full[11] = b'0' + (check + 1) % 10;
        assert!(!aadhaar(&full));
    }

    #[test]
    fn aadhaar_never_starts_with_zero_or_one() {
        for first in [b'0', b'1'] {
            let mut d = vec![first];
            d.extend_from_slice(b"2345678901");
            let c = verhoeff_check_digit(&d);
            d.push(b'0' + c);
            assert!(verhoeff(&d));
            assert!(!aadhaar(&d));
        }
    }

    #[test]
    fn pan_holder_type() {
        assert!(pan(b"ABCPE1234F"));
        assert!(pan(b"AAACB1234C"));
        assert!(!pan(b"ABCXE1234F"), "X is no holder type");
        assert!(!pan(b"ABCPE12345"));
        assert!(!pan(b"abcpe1234f"));
    }

    #[test]
    fn gstin_check_character() {
        // GSTN's published examples.
        assert!(gstin(b"27AAPFU0939F1ZV"));
        assert!(gstin(b"29AAGCB7383J1Z4"));
        assert!(!gstin(b"27AAPFU0939F1ZW"), "check character");
        assert!(!gstin(b"40AAPFU0939F1ZV"), "no such state");
        assert!(!gstin(b"27AAXFU0939F1ZV"), "PAN holder type");
    }

    #[test]
    fn nino_prefixes() {
        assert!(nino(b"AB123456C"));
        for bad in [
            "QQ123456C",
            "BG123456A",
            "AO123456A",
            "DA123456A",
            "AB123456E",
        ] {
            assert!(!nino(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn imei_luhn() {
        assert!(imei(b"490154203237518"));
        assert!(!imei(b"490154203237519"));
        assert!(!imei(b"120154203237518"), "no reporting body 12");
    }

    #[test]
    fn ssn_rules() {
        assert!(ssn(b"123-45-6789"));
        for bad in [
            "000-12-3456",
            "666-12-3456",
            "912-34-5678",
            "123-00-4567",
            "123-45-0000",
            "078-05-1120",
            "123-45 6789",
        ] {
            assert!(!ssn(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn iban_mod97() {
        for ok in [
            "DE89370400440532013000",
            "FR1420041010050500013M02606",
            "NL91ABNA0417164300",
            "IN",
        ] {
            if ok == "IN" {
                assert!(!iban(ok.as_bytes()));
                continue;
            }
            assert!(iban(ok.as_bytes()), "{ok}");
        }
        assert!(!iban(b"DE89370400440532013001"));
        assert!(!iban(b"DE8937040044053201300"), "wrong length");
    }

    #[test]
    fn ipv4_shapes() {
        assert!(ipv4(b"192.168.1.20"));
        assert!(ipv4(b"8.8.8.8"));
        for bad in ["256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1..2.3"] {
            assert!(!ipv4(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn jwt_header_must_name_an_algorithm() {
        let t = b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert!(jwt(t));
        assert!(!jwt(b"eyJub3RhbGciOjF9.eyJzdWIiOiIxIn0.abc"));
    }

    #[test]
    fn bitcoin_addresses() {
        assert!(bech32(b"bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"));
        assert!(!bech32(b"bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdp"));
        assert!(base58check_address(b"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"));
        assert!(base58check_address(b"3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"));
        assert!(!base58check_address(b"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3"));
    }

    #[test]
    fn entropy_of_random_and_repetitive_text() {
        assert!(entropy(b"aaaaaaaaaaaaaaaa") < 0.01);
        assert!(entropy(b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY") > 4.0);
    }
}
