//! Generators of valid values (with their checksums) and of near-misses.

/// SplitMix64: small, fast, and stable forever, so corpora are reproducible.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn chars(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n).map(|_| *self.pick(alphabet) as char).collect()
    }

    fn digits(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| b'0' + self.below(10) as u8).collect()
    }
}

const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const HEX: &[u8] = b"0123456789abcdef";

const FIRST: &[&str] = &[
    "ana", "ravi", "li", "fatima", "john", "priya", "lucas", "amara", "sven", "yuki",
];
const LAST: &[&str] = &[
    "silva", "kumar", "wei", "haddad", "smith", "iyer", "martin", "okafor", "berg", "tanaka",
];
const DOMAINS: &[&str] = &[
    "example.com",
    "mail.co.uk",
    "inferexai.in",
    "gmail.com",
    "proton.me",
    "acme-corp.io",
];

/// A first name.
pub fn first_name(rng: &mut Rng) -> &'static str {
    FIRST[rng.below(FIRST.len() as u64) as usize]
}

/// An email address.
pub fn email(rng: &mut Rng) -> String {
    let first = rng.pick(FIRST);
    let last = rng.pick(LAST);
    match rng.below(3) {
        0 => format!("{first}.{last}@{}", rng.pick(DOMAINS)),
        1 => format!("{first}{}@{}", rng.below(1000), rng.pick(DOMAINS)),
        _ => format!(
            "{first}+{}@{}",
            ["news", "billing", "dev"][rng.below(3) as usize],
            rng.pick(DOMAINS)
        ),
    }
}

/// A phone number in a format people write: E.164, NANP, UK or India.
pub fn phone(rng: &mut Rng) -> String {
    // North American area codes and exchanges start 2-9 and are never N11.
    let mut nxx = || loop {
        let n = 200 + rng.below(800);
        if n % 100 != 11 {
            break n;
        }
    };
    let area = nxx();
    let exch = nxx();
    let line = rng.below(10_000);
    match rng.below(6) {
        0 => format!("+1{area}{exch}{line:04}"),
        1 => format!("+1 {area}-{exch}-{line:04}"),
        2 => format!("({area}) {exch}-{line:04}"),
        3 => format!("{area}-{exch}-{line:04}"),
        4 => format!(
            "+44 20 {:04} {:04}",
            1000 + rng.below(9000),
            rng.below(10_000)
        ),
        _ => format!(
            "+91 {}{:04} {:05}",
            6 + rng.below(4),
            rng.below(10_000),
            rng.below(100_000)
        ),
    }
}

fn luhn_digit(payload: &[u8]) -> u8 {
    let mut sum = 0u32;
    for (i, &b) in payload.iter().rev().enumerate() {
        let mut d = u32::from(b - b'0');
        if i % 2 == 0 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    ((10 - sum % 10) % 10) as u8
}

/// A card number from a real network's range with a valid Luhn digit,
/// compact or grouped by spaces or dashes.
pub fn card(rng: &mut Rng) -> String {
    let (prefix, len): (&str, usize) = *rng.pick(&[
        ("4", 16),
        ("51", 16),
        ("55", 16),
        ("34", 15),
        ("37", 15),
        ("6011", 16),
        ("2221", 16),
    ]);
    let mut d = prefix.as_bytes().to_vec();
    d.extend(rng.digits(len - 1 - prefix.len()));
    let check = luhn_digit(&d);
    d.push(b'0' + check);
    let s = String::from_utf8(d).unwrap_or_default();
    let sep = ["", " ", "-"][rng.below(3) as usize];
    if sep.is_empty() {
        return s;
    }
    if len == 15 {
        format!("{}{sep}{}{sep}{}", &s[..4], &s[4..10], &s[10..])
    } else {
        format!(
            "{}{sep}{}{sep}{}{sep}{}",
            &s[..4],
            &s[4..8],
            &s[8..12],
            &s[12..]
        )
    }
}

/// A 16-digit number whose Luhn check fails.
pub fn luhn_failing(rng: &mut Rng, len: usize) -> String {
    let mut d = rng.digits(len - 1);
    d[0] = b'1' + rng.below(9) as u8;
    let good = luhn_digit(&d);
    d.push(b'0' + (good + 1 + rng.below(9) as u8) % 10);
    String::from_utf8(d).unwrap_or_default()
}

fn iban_check(country: &str, bban: &str) -> String {
    let mut rem = 0u32;
    for b in bban.bytes().chain(country.bytes()).chain(*b"00") {
        match b {
            b'0'..=b'9' => rem = (rem * 10 + u32::from(b - b'0')) % 97,
            _ => rem = (rem * 100 + u32::from(b - b'A' + 10)) % 97,
        }
    }
    format!("{:02}", 98 - rem)
}

fn iban_parts(rng: &mut Rng) -> (String, String) {
    match rng.below(3) {
        0 => (
            "DE".into(),
            String::from_utf8(rng.digits(18)).unwrap_or_default(),
        ),
        1 => (
            "GB".into(),
            format!(
                "{}{}",
                rng.chars(UPPER, 4),
                String::from_utf8(rng.digits(14)).unwrap_or_default()
            ),
        ),
        _ => (
            "NL".into(),
            format!(
                "{}{}",
                rng.chars(UPPER, 4),
                String::from_utf8(rng.digits(10)).unwrap_or_default()
            ),
        ),
    }
}

fn group4(s: &str) -> String {
    s.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A valid IBAN, compact or in groups of four.
pub fn iban(rng: &mut Rng) -> String {
    let (cc, bban) = iban_parts(rng);
    let s = format!("{cc}{}{bban}", iban_check(&cc, &bban));
    if rng.below(2) == 0 {
        s
    } else {
        group4(&s)
    }
}

/// An IBAN whose check digits are wrong.
pub fn iban_bad_checksum(rng: &mut Rng) -> String {
    let (cc, bban) = iban_parts(rng);
    let good: u32 = iban_check(&cc, &bban).parse().unwrap_or(0);
    format!(
        "{cc}{:02}{bban}",
        (good + 1 + rng.below(90) as u32) % 97 + 2
    )
}

/// A valid-looking SSN.
pub fn ssn(rng: &mut Rng) -> String {
    let mut area = 1 + rng.below(899);
    if area == 666 {
        area = 667;
    }
    format!(
        "{area:03}-{:02}-{:04}",
        1 + rng.below(99),
        1 + rng.below(9999)
    )
}

/// A PAN with a real holder-type letter.
pub fn pan(rng: &mut Rng) -> String {
    format!(
        "{}{}{}{}{}",
        rng.chars(UPPER, 3),
        *rng.pick(b"PCHFATBLJG") as char,
        rng.chars(UPPER, 1),
        String::from_utf8(rng.digits(4)).unwrap_or_default(),
        rng.chars(UPPER, 1)
    )
}

/// A PAN-shaped value whose fourth letter is no holder type.
pub fn pan_bad_holder(rng: &mut Rng) -> String {
    format!(
        "{}{}{}{}X",
        rng.chars(UPPER, 3),
        *rng.pick(b"DEIKMNOQRSUVWXYZ") as char,
        rng.chars(UPPER, 1),
        String::from_utf8(rng.digits(4)).unwrap_or_default()
    )
}

// The generator checks its own Verhoeff and Luhn digits rather than calling
// privctl-redact's validators: labels made with the code under test would
// prove nothing about it.
const VD: [[u8; 10]; 10] = [
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
const VP: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];
const VINV: [u8; 10] = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9];

fn verhoeff_digit(d: &[u8]) -> u8 {
    let mut c = 0u8;
    for (i, &b) in d.iter().rev().enumerate() {
        c = VD[usize::from(c)][usize::from(VP[(i + 1) % 8][usize::from(b - b'0')])];
    }
    VINV[usize::from(c)]
}

/// A valid Aadhaar number, compact or in groups of four.
pub fn aadhaar(rng: &mut Rng) -> String {
    let mut d = rng.digits(11);
    d[0] = b'2' + rng.below(8) as u8;
    let c = verhoeff_digit(&d);
    d.push(b'0' + c);
    let s = String::from_utf8(d).unwrap_or_default();
    if rng.below(2) == 0 {
        s
    } else {
        group4(&s)
    }
}

/// A 12-digit id starting 2-9 whose Verhoeff check fails.
pub fn verhoeff_failing(rng: &mut Rng) -> String {
    let mut d = rng.digits(11);
    d[0] = b'2' + rng.below(8) as u8;
    let c = verhoeff_digit(&d);
    d.push(b'0' + (c + 1 + rng.below(9) as u8) % 10);
    String::from_utf8(d).unwrap_or_default()
}

/// A public-looking IPv4 address.
pub fn ipv4(rng: &mut Rng) -> String {
    format!(
        "{}.{}.{}.{}",
        1 + rng.below(223),
        rng.below(256),
        rng.below(256),
        1 + rng.below(254)
    )
}

/// An IPv6 address, full or compressed.
pub fn ipv6(rng: &mut Rng) -> String {
    let g: Vec<String> = (0..8)
        .map(|_| format!("{:x}", rng.below(0x10000)))
        .collect();
    match rng.below(3) {
        0 => g.join(":"),
        1 => format!("2001:db8:{}::{}", g[2], g[7]),
        _ => format!("fe80::{}:{}:{}", g[5], g[6], g[7]),
    }
}

/// A MAC address with colons or dashes.
pub fn mac(rng: &mut Rng) -> String {
    let sep = if rng.below(2) == 0 { ":" } else { "-" };
    (0..6)
        .map(|_| format!("{:02X}", rng.below(256)))
        .collect::<Vec<_>>()
        .join(sep)
}

/// An AWS access key id.
pub fn aws_access_key(rng: &mut Rng) -> String {
    format!(
        "{}{}",
        rng.pick(&["AKIA", "ASIA"]),
        rng.chars(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
    )
}

/// Base64 characters (`+` and `/` included).
pub fn base64ish(rng: &mut Rng, n: usize) -> String {
    rng.chars(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        n,
    )
}

/// Base64url characters.
pub fn base64url(rng: &mut Rng, n: usize) -> String {
    rng.chars(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
        n,
    )
}

/// A GitHub personal access token.
pub fn github(rng: &mut Rng) -> String {
    format!("ghp_{}", rng.chars(ALNUM, 36))
}

/// A GitLab personal access token.
pub fn gitlab(rng: &mut Rng) -> String {
    format!(
        "glpat-{}",
        rng.chars(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
            20
        )
    )
}

/// An OpenAI project key.
pub fn openai(rng: &mut Rng) -> String {
    let n = 48 + rng.below(60) as usize;
    format!("sk-proj-{}", base64url(rng, n))
}

/// An Anthropic API key.
pub fn anthropic(rng: &mut Rng) -> String {
    format!("sk-ant-api03-{}AA", base64url(rng, 93))
}

/// A Google API key.
pub fn google(rng: &mut Rng) -> String {
    format!("AIza{}", base64url(rng, 35))
}

/// A Stripe secret key.
pub fn stripe(rng: &mut Rng) -> String {
    {
        let n = 24 + rng.below(24) as usize;
        format!(
            "{}_{}",
            rng.pick(&["sk_live", "rk_live", "sk_test"]),
            rng.chars(ALNUM, n)
        )
    }
}

/// A Slack bot token.
pub fn slack(rng: &mut Rng) -> String {
    format!(
        "xoxb-{}-{}-{}",
        String::from_utf8(rng.digits(11)).unwrap_or_default(),
        String::from_utf8(rng.digits(12)).unwrap_or_default(),
        rng.chars(ALNUM, 24)
    )
}

fn b64url_encode(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// A signed JWT.
pub fn jwt(rng: &mut Rng) -> String {
    let header = b64url_encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = b64url_encode(
        format!(
            r#"{{"sub":"usr_{}","iat":17{:08}}}"#,
            rng.below(1_000_000),
            rng.below(100_000_000)
        )
        .as_bytes(),
    );
    format!("{header}.{payload}.{}", base64url(rng, 43))
}

/// A PEM private key whose lines are joined by `newline` (`\n`, or the two
/// characters `\` `n` inside a JSON string).
pub fn pem(rng: &mut Rng, newline: &str) -> String {
    let label = *rng.pick(&[
        "RSA PRIVATE KEY",
        "PRIVATE KEY",
        "EC PRIVATE KEY",
        "OPENSSH PRIVATE KEY",
    ]);
    let mut s = format!("-----BEGIN {label}-----");
    for _ in 0..(4 + rng.below(8)) {
        s.push_str(newline);
        s.push_str(&base64ish(rng, 64));
    }
    s.push_str(newline);
    s.push_str(&format!("-----END {label}-----"));
    s
}

/// `user:password` for a connection URL.
pub fn url_credentials(rng: &mut Rng) -> String {
    // A URL carries a password percent-encoded.
    let password: String = password(rng)
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!(
        "{}:{password}",
        rng.pick(&["app", "admin", "svc_reader", "postgres"])
    )
}

/// A password a person might choose.
pub fn password(rng: &mut Rng) -> String {
    let words = [
        "Sunset", "correct", "Horse", "battery", "Tiger", "maple", "Orbit",
    ];
    format!(
        "{}{}{}{}",
        rng.pick(&words),
        rng.below(10_000),
        *rng.pick(b"!#%^&*?") as char,
        rng.pick(&words).to_lowercase()
    )
}

/// A wallet address: Ethereum or Bitcoin bech32.
pub fn wallet(rng: &mut Rng) -> String {
    if rng.below(2) == 0 {
        format!("0x{}", rng.chars(b"0123456789abcdefABCDEF", 40))
    } else {
        bech32_address(rng)
    }
}

const BECH32: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

fn bech32_polymod(values: &[u8]) -> u32 {
    const GEN: [u32; 5] = [
        0x3b6a_57b2,
        0x2650_8e6d,
        0x1ea1_19fa,
        0x3d42_33dd,
        0x2a14_62b3,
    ];
    let mut chk: u32 = 1;
    for &v in values {
        let top = chk >> 25;
        chk = ((chk & 0x1ff_ffff) << 5) ^ u32::from(v);
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

/// A Bitcoin segwit v0 address with a valid bech32 checksum.
pub fn bech32_address(rng: &mut Rng) -> String {
    let mut data: Vec<u8> = vec![0];
    data.extend((0..32).map(|_| rng.below(32) as u8));
    let mut values = vec![3u8, 3, 0, 2, 3];
    values.extend(&data);
    values.extend([0u8; 6]);
    let pm = bech32_polymod(&values) ^ 1;
    let mut s = String::from("bc1");
    for d in &data {
        s.push(BECH32[usize::from(*d)] as char);
    }
    for i in 0..6 {
        s.push(BECH32[((pm >> (5 * (5 - i))) & 31) as usize] as char);
    }
    s
}

/// A random secret of `n` base62 characters with at least two of each class.
pub fn base62_secret(rng: &mut Rng, n: usize) -> String {
    loop {
        let s = rng.chars(ALNUM, n);
        let count = |f: fn(&u8) -> bool| s.bytes().filter(&f).count();
        if count(u8::is_ascii_uppercase) >= 2
            && count(u8::is_ascii_lowercase) >= 2
            && count(u8::is_ascii_digit) >= 2
        {
            return s;
        }
    }
}

/// Lowercase hex.
pub fn hex(rng: &mut Rng, n: usize) -> String {
    rng.chars(HEX, n)
}

/// A random UUID v4.
pub fn uuid(rng: &mut Rng) -> String {
    let h = hex(rng, 32);
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..]
    )
}

/// GSTN's check character over a GSTIN's first 14 characters.
fn gstin_check(s: &[u8]) -> char {
    const CHARS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut sum = 0u32;
    for (i, c) in s.iter().enumerate() {
        let v = CHARS.iter().position(|x| x == c).unwrap_or(0) as u32;
        let p = v * if i % 2 == 0 { 1 } else { 2 };
        sum += p / 36 + p % 36;
    }
    CHARS[((36 - sum % 36) % 36) as usize] as char
}

/// An Indian GSTIN: state code, PAN, entity number, `Z`, check character.
pub fn gstin(rng: &mut Rng) -> String {
    let mut s = format!(
        "{:02}{}{}Z",
        1 + rng.below(37),
        pan(rng),
        *rng.pick(b"123456789ABC") as char
    );
    let check = gstin_check(s.as_bytes());
    s.push(check);
    s
}

/// A UK National Insurance number, compact or spaced as HMRC prints it.
pub fn uk_nino(rng: &mut Rng) -> String {
    const FIRST: &[u8] = b"ABCEGHJKLMNPRSTWXYZ";
    const SECOND: &[u8] = b"ABCEGHJKLMNPRSTWXYZ";
    let (a, b) = loop {
        let (a, b) = (*rng.pick(FIRST) as char, *rng.pick(SECOND) as char);
        if !matches!(
            (a, b),
            ('B', 'G')
                | ('G', 'B')
                | ('K', 'N')
                | ('N', 'K')
                | ('N', 'T')
                | ('T', 'N')
                | ('Z', 'Z')
        ) {
            break (a, b);
        }
    };
    let d = String::from_utf8(rng.digits(6)).unwrap_or_default();
    let suffix = *rng.pick(b"ABCD") as char;
    if rng.below(2) == 0 {
        format!("{a}{b}{d}{suffix}")
    } else {
        format!("{a}{b} {} {} {} {suffix}", &d[..2], &d[2..4], &d[4..])
    }
}

/// An IMEI with a valid Luhn digit, whole or as printed on a device.
pub fn imei(rng: &mut Rng) -> String {
    let mut d = rng
        .pick(&["35", "86", "01", "99", "49"])
        .as_bytes()
        .to_vec();
    d.extend(rng.digits(12));
    let check = luhn_digit(&d);
    d.push(b'0' + check);
    let s = String::from_utf8(d).unwrap_or_default();
    if rng.below(3) == 0 {
        format!("{}-{}-{}-{}", &s[..2], &s[2..8], &s[8..14], &s[14..])
    } else {
        s
    }
}

/// A SendGrid API key.
pub fn sendgrid(rng: &mut Rng) -> String {
    format!("SG.{}.{}", base64url(rng, 22), base64url(rng, 43))
}

/// A Twilio API key SID.
pub fn twilio(rng: &mut Rng) -> String {
    format!("SK{}", hex(rng, 32))
}

/// An npm access token.
pub fn npm(rng: &mut Rng) -> String {
    format!("npm_{}", base62_secret(rng, 36))
}

/// A Hugging Face user access token.
pub fn huggingface(rng: &mut Rng) -> String {
    format!(
        "hf_{}",
        rng.chars(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 34)
    )
}

/// An Azure AD client secret (`abc8Q~` and 34 more).
pub fn azure_client_secret(rng: &mut Rng) -> String {
    format!(
        "{}{}Q~{}",
        rng.chars(ALNUM, 3),
        rng.below(10),
        rng.chars(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_~.-",
            34
        )
    )
}

/// An Azure storage account key (64 bytes, base64).
pub fn azure_account_key(rng: &mut Rng) -> String {
    format!("{}==", base64ish(rng, 86))
}

/// A Google Cloud service-account key file on one line, as a log or an
/// environment variable carries it.
pub fn gcp_service_account(rng: &mut Rng) -> String {
    let project = format!(
        "{}-{}",
        rng.pick(&["acme", "infer", "pool"]),
        rng.below(1000)
    );
    format!(
        r#"{{"type": "service_account", "project_id": "{project}", "private_key_id": "{}", "private_key": "{}\n", "client_email": "deploy@{project}.iam.gserviceaccount.com", "client_id": "{}", "token_uri": "https://oauth2.googleapis.com/token"}}"#,
        hex(rng, 40),
        pem(rng, "\\n")
            .replace("RSA PRIVATE KEY", "PRIVATE KEY")
            .replace("EC PRIVATE KEY", "PRIVATE KEY")
            .replace("OPENSSH PRIVATE KEY", "PRIVATE KEY"),
        String::from_utf8(rng.digits(21)).unwrap_or_default()
    )
}

/// A database connection string with a password: a URL, or key=value pairs
/// (ADO.NET, libpq).
pub fn db_connection_string(rng: &mut Rng) -> String {
    let user = *rng.pick(&["app", "admin", "svc_reader", "postgres"]);
    let pass = url_credentials(rng);
    let pass = &pass[pass.find(':').map_or(0, |c| c + 1)..];
    match rng.below(5) {
        0 => format!("postgres://{user}:{pass}@db.internal:5432/app"),
        1 => format!("mongodb+srv://{user}:{pass}@cluster0.x1y2z.mongodb.net/prod?retryWrites=true"),
        2 => format!("redis://:{pass}@cache.internal:6379/0"),
        3 => format!(
            "Server=tcp:acme.database.windows.net,1433;Initial Catalog=prod;User ID={user};Password={};",
            password(rng)
        ),
        _ => format!(
            "host=db.internal port=5432 dbname=app user={user} password={}",
            base62_secret(rng, 16)
        ),
    }
}

/// A Slack incoming webhook URL.
pub fn slack_webhook(rng: &mut Rng) -> String {
    format!(
        "https://hooks.slack.com/services/T{}/B{}/{}",
        rng.chars(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 10),
        rng.chars(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 10),
        rng.chars(ALNUM, 24)
    )
}
