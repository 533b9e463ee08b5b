//! Detectors with no literal to anchor on: numbers (cards, Aadhaar, SSNs,
//! phones, IPv4), emails, IPv6 and MAC addresses, PAN, IBAN, wallets and
//! generic high-entropy secrets. One pass splits the input into words with a
//! byte-class table (a load and an OR per byte) and only words of the right
//! shape reach a pattern or a checksum.

use crate::kind::Builtin;
use crate::scan::{is_alnum, Candidates};
use crate::validate;

const DIGIT: u16 = 1;
const UPPER: u16 = 2;
const LOWER: u16 = 4;
const AT: u16 = 8;
const DOT: u16 = 16;
const DASH: u16 = 32;
const PLUS: u16 = 64;
const SLASH: u16 = 128;
const UNDERSCORE: u16 = 256;
const PERCENT: u16 = 512;

/// Byte classes: 0 separates words.
static CLASS: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = if c.is_ascii_digit() {
            DIGIT
        } else if c.is_ascii_uppercase() {
            UPPER
        } else if c.is_ascii_lowercase() {
            LOWER
        } else {
            match c {
                b'@' => AT,
                b'.' => DOT,
                b'-' => DASH,
                b'+' => PLUS,
                b'/' => SLASH,
                b'_' => UNDERSCORE,
                b'%' => PERCENT,
                _ => 0,
            }
        };
        b += 1;
    }
    t
};

fn is_word(b: u8) -> bool {
    CLASS[usize::from(b)] != 0
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `x` strictly between `m` and `n` (both at
/// most 128): exact per byte, no carries between them.
const fn between(x: u64, m: u64, n: u64) -> u64 {
    (ONES * (127 + n)).wrapping_sub(x & (ONES * 127))
        & !x
        & ((x & (ONES * 127)) + ONES * (127 - m))
        & HIGHS
}

/// The next digit or `@` at or after `i`, eight bytes per step.
fn next_trigger(hay: &[u8], mut i: usize, hi: usize) -> Option<usize> {
    while i + 8 <= hi {
        let mut chunk = [0u8; 8];
        chunk.copy_from_slice(&hay[i..i + 8]);
        let x = u64::from_le_bytes(chunk);
        let m = between(x, b'0' as u64 - 1, b'9' as u64 + 1)
            | between(x, b'@' as u64 - 1, b'@' as u64 + 1);
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    (i..hi).find(|&j| hay[j].is_ascii_digit() || hay[j] == b'@')
}

/// The most digit groups a run of card numbers is split into.
const MAX_RUN: usize = 40;

/// Words longer than this are blobs (base64 images, minified code), not keys.
pub(crate) const MAX_WORD: usize = 1024;

/// Which shape detectors are on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shapes {
    pub email: bool,
    pub phone: bool,
    pub card: bool,
    pub iban: bool,
    pub ssn: bool,
    pub pan: bool,
    pub aadhaar: bool,
    pub ipv4: bool,
    pub ipv6: bool,
    pub mac: bool,
    pub wallet: bool,
    pub entropy: bool,
    pub gstin: bool,
    pub nino: bool,
    pub imei: bool,
    pub twilio: bool,
    pub sendgrid: bool,
    pub npm: bool,
    pub azure: bool,
}

impl Shapes {
    pub(crate) fn new(enabled: &dyn Fn(Builtin) -> bool) -> Self {
        Shapes {
            email: enabled(Builtin::Email),
            phone: enabled(Builtin::Phone),
            card: enabled(Builtin::CreditCard),
            iban: enabled(Builtin::Iban),
            ssn: enabled(Builtin::UsSsn),
            pan: enabled(Builtin::InPan),
            aadhaar: enabled(Builtin::InAadhaar),
            ipv4: enabled(Builtin::Ipv4),
            ipv6: enabled(Builtin::Ipv6),
            mac: enabled(Builtin::MacAddress),
            wallet: enabled(Builtin::CryptoWallet),
            entropy: enabled(Builtin::HighEntropySecret),
            gstin: enabled(Builtin::InGstin),
            nino: enabled(Builtin::UkNino),
            imei: enabled(Builtin::Imei),
            twilio: enabled(Builtin::TwilioKey),
            sendgrid: enabled(Builtin::SendgridKey),
            npm: enabled(Builtin::NpmToken),
            azure: enabled(Builtin::AzureSecret),
        }
    }

    fn numeric(&self) -> bool {
        self.phone || self.card || self.ssn || self.aadhaar || self.ipv4 || self.imei || self.nino
    }

    /// Scans `hay[lo..hi]`. Every finding of these kinds holds a digit or an
    /// `@`, so the scan jumps from one such byte to the next (eight bytes at
    /// a time) and only looks at the words around them. A word cut by `lo` or
    /// `hi` is skipped: the neighbouring window sees it whole.
    pub(crate) fn scan(&self, hay: &[u8], lo: usize, hi: usize, out: &mut Candidates) {
        let mut done = lo;
        if lo > 0 && is_word(hay[lo - 1]) {
            while done < hi && is_word(hay[done]) {
                done += 1;
            }
        }
        let mut i = done;
        while let Some(t) = next_trigger(hay, i, hi) {
            let mut ws = t;
            while ws > done && is_word(hay[ws - 1]) {
                ws -= 1;
            }
            // `::1` and other addresses that open with colons.
            if ws >= done + 2
                && hay[ws - 1] == b':'
                && hay[ws - 2] == b':'
                && (self.ipv6 || self.mac)
            {
                let next = self.colon_address(hay, done, hi, ws - 2, out).max(t + 1);
                done = next;
                i = next;
                continue;
            }
            let mut we = ws;
            let mut flags = 0u16;
            while we < hi {
                let c = CLASS[usize::from(hay[we])];
                if c == 0 {
                    break;
                }
                flags |= c;
                we += 1;
            }
            if we == hi && hi < hay.len() {
                break;
            }
            let next = self
                .word(hay, hi, ws, we, flags, done, out)
                .max(we)
                .max(t + 1);
            done = next;
            i = next;
        }
    }

    /// Looks at one word; returns where scanning resumes (past the word, or
    /// past a number or address that continued beyond it).
    #[allow(clippy::too_many_arguments)]
    fn word(
        &self,
        hay: &[u8],
        hi: usize,
        ws: usize,
        we: usize,
        flags: u16,
        done: usize,
        out: &mut Candidates,
    ) -> usize {
        let len = we - ws;
        // A short number that nothing continues (`status=200`, `in 35 ms`)
        // is no value of any kind: most numeric words end here.
        if flags == DIGIT && len <= 4 && !continues(hay, we) {
            return we;
        }
        // Addresses with colons: IPv6, MAC, and times that are neither.
        if hay.get(we) == Some(&b':')
            && len <= 4
            && (self.ipv6 || self.mac)
            && hay[ws..we].iter().all(u8::is_ascii_hexdigit)
        {
            // `14:55:47` and nothing after but a fraction or a zone: a time,
            // which is most of what gets here.
            if len == 2 {
                if let Some(end) = time_of_day(hay, hi, ws) {
                    return end;
                }
            }
            return self.colon_address(hay, done, hi, ws, out);
        }
        if len < 4 && flags & DIGIT == 0 {
            return we;
        }
        let first = hay[ws];
        if flags & AT != 0 && self.email {
            emails(hay, ws, we, out);
        }
        let word = trim_end(&hay[ws..we]);
        let wlen = word.len();
        if self.wallet
            && (first == b'1' || first == b'3')
            && (26..=35).contains(&wlen)
            && validate::base58check_address(word)
        {
            out.push(Builtin::CryptoWallet, ws, ws + wlen);
            return we;
        }
        // An IPv4 address that ends an IPv6 one (`::ffff:192.0.2.1`).
        if flags & DOT != 0
            && ws > done + 2
            && hay[ws - 1] == b':'
            && self.ipv6
            && (hay[ws - 2] == b':'
                || hay[..ws - 1].ends_with(b"ffff")
                || hay[..ws - 1].ends_with(b"FFFF"))
        {
            let before = out.items.len();
            let end = self.colon_address(hay, done, hi, ws, out);
            if out.items.len() > before {
                return end;
            }
        }
        let mut number_end = None;
        if flags & DIGIT != 0 && self.numeric() {
            let starts_number = first.is_ascii_digit()
                || (first == b'+' && hay.get(ws + 1).is_some_and(u8::is_ascii_digit))
                || (ws > 0 && hay[ws - 1] == b'(' && first.is_ascii_digit());
            // `AB 12 34 56 C`: a National Insurance number written spaced.
            if self.nino
                && ws >= 3
                && hay[ws - 1] == b' '
                && hay[ws - 2].is_ascii_uppercase()
                && hay[ws - 3].is_ascii_uppercase()
                && first.is_ascii_digit()
            {
                if let Some(end) = spaced_nino(hay, hi, ws) {
                    out.push(Builtin::UkNino, ws - 3, end);
                    return end;
                }
            }
            if starts_number && (ws == 0 || !is_alnum(hay[ws - 1]) || hay[ws - 1] == b'(') {
                let from = if ws > 0 && hay[ws - 1] == b'(' {
                    ws - 1
                } else {
                    ws
                };
                let (mut end, mut found) = self.number(hay, hi, from, out);
                // `(10.1.2.3`: not a phone's area code, the number itself.
                if !found && end <= we && from < ws {
                    (end, found) = self.number_out_of_line(hay, hi, ws, out);
                }
                if end > we || (found && !(end < we && matches!(hay[end], b'/' | b'@' | b'-'))) {
                    return end;
                }
                if found {
                    // More of the word after the number: `0.0.0.0/0.0.0.0`.
                    number_end = Some(end);
                }
            }
            // An address or number right after a `/` or `@` inside the word
            // (`spark://x@10.1.2.3`, `from /10.251.42.84`), and an IPv4
            // address between dashes (`BP-1347369012-10.190.173.170-1444972147527`).
            let dashed = flags & (DASH | DOT) == DASH | DOT && self.ipv4;
            if (flags & (SLASH | AT) != 0 || dashed) && we - ws >= 8 {
                let mut resume = number_end.unwrap_or(ws);
                let marks = &hay[ws..we];
                let dash = if dashed { b'-' } else { b'/' };
                for k in memchr::memchr3_iter(b'/', b'@', dash, marks).map(|k| ws + k) {
                    if k < resume || k + 1 >= we {
                        continue;
                    }
                    let next = hay[k + 1];
                    if hay[k] == b'-' {
                        if dashed
                            && next.is_ascii_digit()
                            && we - k > 7
                            && k > ws
                            && is_alnum(hay[k - 1])
                        {
                            // Right after an address, a range's second one
                            // needs no long groups.
                            let range = number_end == Some(k);
                            if let Some(end) = dashed_ipv4(hay, hi, k + 1, range) {
                                out.push(Builtin::Ipv4, k + 1, end);
                                resume = end;
                            }
                        }
                    } else if next.is_ascii_digit() && worth_a_number(hay, k + 1, we) {
                        resume = self.number_out_of_line(hay, hi, k + 1, out).0;
                    } else if hay[k] == b'@' && next.is_ascii_hexdigit() && (self.ipv6 || self.mac)
                    {
                        // `root@fe80::1`: an IPv6 host after the `@`.
                        let colon =
                            (k + 2..(k + 7).min(hi)).find(|&c| !hay[c - 1].is_ascii_hexdigit());
                        if colon.is_some_and(|c| hay[c - 1] == b':') {
                            resume = self.colon_address(hay, k + 1, hi, k + 1, out);
                        }
                    }
                }
            }
        }
        if number_end.is_some() {
            return we;
        }
        if self.mac && wlen == 17 && flags & DASH != 0 && mac(word, b'-') {
            out.push(Builtin::MacAddress, ws, ws + 17);
            return we;
        }
        // Numbers, dates and addresses end here: every check below needs a
        // letter.
        if flags & (UPPER | LOWER) == 0 {
            return we;
        }
        // An Azure AD client secret: `abc8Q~` and 31 to 34 more characters.
        if self.azure && hay.get(we) == Some(&b'~') {
            if let Some(end) = azure_client_secret(hay, hi, ws, we) {
                out.push(Builtin::AzureSecret, we - 5, end);
                return end;
            }
        }
        if flags & !(UPPER | DIGIT | DOT) == 0 {
            if self.gstin && wlen == 15 && validate::gstin(word) {
                out.push(Builtin::InGstin, ws, ws + 15);
                return we;
            }
            if self.nino && wlen == 9 && validate::nino(word) {
                out.push(Builtin::UkNino, ws, ws + 9);
                return we;
            }
        }
        // (A sentence's full stop after a key is not part of it: the word
        // is tried as read, then trimmed.)
        let keyed = |n: usize| {
            let prefixed = match first {
                b'S' => n == 34 || n == 69,
                b'n' => n == 40,
                _ => false,
            };
            prefixed || (40..=90).contains(&n) && ws > 0 && hay[ws - 1] == b'='
        };
        if keyed(len) || (wlen != len && keyed(wlen)) {
            let found = self.keyed_word(hay, ws, we).or_else(|| {
                (wlen != len)
                    .then(|| self.keyed_word(hay, ws, ws + wlen))
                    .flatten()
            });
            if let Some((kind, end)) = found {
                out.push(kind, ws, end);
                return we.max(end);
            }
        }
        if self.pan && wlen == 10 && flags & !(UPPER | DIGIT | DOT) == 0 && validate::pan(word) {
            out.push(Builtin::InPan, ws, ws + 10);
            return we;
        }
        if self.iban
            && wlen >= 4
            && word[..2].iter().all(u8::is_ascii_uppercase)
            && word[2..4].iter().all(u8::is_ascii_digit)
        {
            if let Some(end) = iban(hay, hi, ws, wlen) {
                out.push(Builtin::Iban, ws, end);
                return end;
            }
        }
        if self.wallet
            && wlen == 42
            && word.starts_with(b"0x")
            && word[2..].iter().all(u8::is_ascii_hexdigit)
        {
            out.push(Builtin::CryptoWallet, ws, ws + 42);
            return we;
        }
        if self.wallet && wlen >= 14 && word.starts_with(b"bc1") && validate::bech32(word) {
            out.push(Builtin::CryptoWallet, ws, ws + wlen);
            return we;
        }
        // A generic secret mixes upper case, lower case and digits, so the
        // word's class flags rule most words out before anything is counted.
        if self.entropy
            && (20..=MAX_WORD).contains(&wlen)
            && flags & (UPPER | LOWER | DIGIT) == UPPER | LOWER | DIGIT
            && flags & (AT | PERCENT | DOT) == 0
        {
            if let Some(end) = high_entropy(hay, ws, wlen) {
                out.push(Builtin::HighEntropySecret, ws, end);
            }
        }
        we
    }

    /// Provider keys whose prefix is part of a word the shape scan already
    /// reads (every one holds digits): Twilio API keys (`SK` and 32 hex
    /// digits), SendGrid keys (`SG.`, 22 and 43 characters), npm tokens
    /// (`npm_` and 36), and Azure storage and Service Bus keys, told by the
    /// name they are assigned to (`AccountKey=`, `SharedAccessKey=`).
    #[cold]
    #[inline(never)]
    fn keyed_word(&self, hay: &[u8], ws: usize, we: usize) -> Option<(Builtin, usize)> {
        let word = &hay[ws..we];
        let wlen = word.len();
        let kind = match wlen {
            34 if self.twilio
                && word.starts_with(b"SK")
                && word[2..]
                    .iter()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b)) =>
            {
                Builtin::TwilioKey
            }
            69 if self.sendgrid
                && word.starts_with(b"SG.")
                && word[25] == b'.'
                && word[3..].iter().enumerate().all(|(i, b)| {
                    i == 22 || b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-')
                }) =>
            {
                Builtin::SendgridKey
            }
            40 if self.npm
                && word.starts_with(b"npm_")
                && word[4..].iter().all(u8::is_ascii_alphanumeric) =>
            {
                Builtin::NpmToken
            }
            40..=90
                if self.azure && ws > 0 && hay[ws - 1] == b'=' && azure_key_name(hay, ws - 1) =>
            {
                Builtin::AzureSecret
            }
            _ => return None,
        };
        let mut end = we;
        if kind == Builtin::AzureSecret {
            while end < hay.len() && end - we < 2 && hay[end] == b'=' {
                end += 1;
            }
        }
        (!validate::placeholder_key(word)).then_some((kind, end))
    }

    /// A run of digit groups (with single separators) from `p`, evaluated as
    /// one value. Returns where the run ends and whether it was a finding.
    #[inline(always)]
    fn number(&self, hay: &[u8], hi: usize, p: usize, out: &mut Candidates) -> (usize, bool) {
        let mut i = p;
        let plus = hay[i] == b'+';
        let paren = hay[i] == b'(';
        if plus || paren {
            i += 1;
        }
        let mut groups: [u8; 8] = [0; 8];
        let mut ngroups = 0usize;
        let mut seps: u8 = 0; // bit 0 space, 1 dash, 2 dot, 3 paren
        let mut first_space_group = usize::MAX;
        let mut digits = 0usize;
        let mut end;
        loop {
            let g = i;
            while i < hi && hay[i].is_ascii_digit() {
                i += 1;
            }
            let n = i - g;
            if n == 0 {
                // A separator not followed by digits ends the run before it.
                end = i;
                break;
            }
            digits += n;
            if ngroups < groups.len() {
                groups[ngroups] = n.min(255) as u8;
            }
            ngroups += 1;
            end = i;
            // Separator, then more digits?
            let (sep_len, bit) = match (hay.get(i), hay.get(i + 1), hay.get(i + 2)) {
                (Some(b')'), Some(b' '), Some(d))
                    if d.is_ascii_digit() && paren && ngroups == 1 =>
                {
                    (2, 8)
                }
                (Some(b')'), Some(d), _) if d.is_ascii_digit() && paren && ngroups == 1 => (1, 8),
                (Some(b' '), Some(d), _) if d.is_ascii_digit() => (1, 1),
                // A dash after dotted groups ends them: `10.0.0.1-10.0.0.9`
                // is a range of two addresses.
                (Some(b'-'), Some(d), _) if d.is_ascii_digit() && seps & 4 == 0 => (1, 2),
                (Some(b'.'), Some(d), _) if d.is_ascii_digit() => (1, 4),
                _ => break,
            };
            if i + sep_len >= hi {
                break;
            }
            if bit == 1 && first_space_group == usize::MAX {
                first_space_group = ngroups;
            }
            seps |= bit;
            i += sep_len;
        }
        if paren && seps & 8 == 0 {
            return (end, false);
        }
        // The value must stand alone: `4111...x` or `1.2.3.4.5x` is something else.
        if end < hay.len() && (is_alnum(hay[end]) || hay[end] == b'_') {
            return (end, false);
        }
        if digits > 19 || ngroups > 8 {
            // Several card numbers in a row, each in its own groups.
            if self.card && seps & !3 == 0 && ngroups <= MAX_RUN {
                let found = self.card_run(hay, p, end, out);
                return (end, found);
            }
            return (end, false);
        }
        let g = &groups[..ngroups];
        let value = &hay[p..end];
        let kind = if seps == 4 {
            if self.ipv4 && ngroups == 4 && validate::ipv4(value) && !after_version(hay, p) {
                Some(Builtin::Ipv4)
            } else if self.phone && g == [3, 3, 4] && nanp(value) {
                Some(Builtin::Phone)
            } else {
                None
            }
        } else if seps & 4 != 0 {
            None
        } else if plus {
            (self.phone && e164(value, digits)).then_some(Builtin::Phone)
        } else if paren {
            (self.phone && g == [3, 3, 4] && nanp(value)).then_some(Builtin::Phone)
        } else {
            self.plain_number(hay, p, value, g, digits, seps)
        };
        match kind {
            Some(k) => {
                out.push(k, p, end);
                (end, true)
            }
            // A card written whole, then another number (`4111111111111111 12`).
            None if self.card
                && seps & !3 == 0
                && ngroups >= 2
                && !plus
                && !paren
                && g.iter().any(|&n| n >= 13) =>
            {
                let found = self.card_run(hay, p, end, out);
                (end, found)
            }
            // `SD 20241 440-600-5124`: a number, then a phone written with
            // its own separators.
            // (Or an address: `8080 10.0.0.1`, `200 512 10.0.0.1`.)
            None if seps & 1 != 0
                && seps != 1
                && ngroups <= 8
                && !plus
                && !paren
                && (seps & 4 != 0
                    || groups[first_space_group.min(8)..ngroups]
                        .iter()
                        .map(|&n| usize::from(n))
                        .sum::<usize>()
                        >= 10) =>
            {
                self.after_first_space(hay, hi, p, end, out)
            }
            None => (end, false),
        }
    }

    /// [`Shapes::number`] for the rarer places a number starts (inside a
    /// word, after a parenthesis, after another number), kept out of line so
    /// the word loop stays small.
    #[inline(never)]
    fn number_out_of_line(
        &self,
        hay: &[u8],
        hi: usize,
        p: usize,
        out: &mut Candidates,
    ) -> (usize, bool) {
        self.number(hay, hi, p, out)
    }

    #[cold]
    #[inline(never)]
    fn after_first_space(
        &self,
        hay: &[u8],
        hi: usize,
        p: usize,
        end: usize,
        out: &mut Candidates,
    ) -> (usize, bool) {
        match (p..end).find(|&k| hay[k] == b' ') {
            Some(space) => {
                let (e, found) = self.number_out_of_line(hay, hi, space + 1, out);
                (e.max(end), found)
            }
            None => (end, false),
        }
    }

    /// A run of digit groups separated by single spaces that is several card
    /// numbers one after another (`4111111111111111 5500000000000004`, or
    /// each in groups of four). A card written as one group is found
    /// whatever its neighbours; cards in groups only when cards cover the
    /// whole run, so a 20-digit number is not a card and a remainder.
    #[cold]
    #[inline(never)]
    fn card_run(&self, hay: &[u8], p: usize, end: usize, out: &mut Candidates) -> bool {
        // The groups again (only runs that may hold cards get here).
        let mut spans: Vec<(usize, usize)> = Vec::new();
        let mut i = p;
        while i < end {
            let g = i;
            while i < end && hay[i].is_ascii_digit() {
                i += 1;
            }
            spans.push((g, i));
            i += 1;
        }
        let mut cards: Vec<(usize, usize, bool)> = Vec::new();
        let mut whole = true;
        let mut gi = 0;
        while gi < spans.len() {
            let mut next = None;
            for take in 1..=(spans.len() - gi).min(5) {
                let part = &spans[gi..gi + take];
                let digits: usize = part.iter().map(|(a, b)| b - a).sum();
                if digits > 19 {
                    break;
                }
                if digits < 13 {
                    continue;
                }
                let g: Vec<u8> = part.iter().map(|(a, b)| (b - a).min(255) as u8).collect();
                let value = &hay[part[0].0..part[take - 1].1];
                if card_grouping(&g) && validate::luhn(value) && card_prefix(value, digits) {
                    next = Some(take);
                    break;
                }
            }
            match next {
                Some(take) => {
                    cards.push((spans[gi].0, spans[gi + take - 1].1, take == 1));
                    gi += take;
                }
                None => {
                    whole = false;
                    gi += 1;
                }
            }
        }
        let mut found = false;
        for (a, b, alone) in cards {
            if alone || whole {
                out.push(Builtin::CreditCard, a, b);
                found = true;
            }
        }
        found
    }

    fn plain_number(
        &self,
        hay: &[u8],
        p: usize,
        value: &[u8],
        g: &[u8],
        digits: usize,
        seps: u8,
    ) -> Option<Builtin> {
        // One kind of separator throughout, as people write numbers.
        if seps == 3 {
            return None;
        }
        if self.aadhaar
            && digits == 12
            && (g == [12] || g == [4, 4, 4])
            && !in_account_groups(hay, p)
            && validate::aadhaar(value)
        {
            return Some(Builtin::InAadhaar);
        }
        if self.card
            && (13..=19).contains(&digits)
            && card_grouping(g)
            && validate::luhn(value)
            && card_prefix(value, digits)
        {
            return Some(Builtin::CreditCard);
        }
        // An IMEI whole (`490154203237518`) or as printed on a device
        // (`49-015420-323751-8`, `49015420 323751 8`).
        if self.imei
            && digits == 15
            && (g == [15] || g == [2, 6, 6, 1] || g == [8, 6, 1])
            && imei_digits(value)
        {
            return Some(Builtin::Imei);
        }
        if self.ssn && digits == 9 {
            if g == [3, 2, 4] && validate::ssn(value) {
                return Some(Builtin::UsSsn);
            }
            if g == [9] && context(hay, p, &[b"ssn", b"social security"]) {
                let mut dashed = value[..3].to_vec();
                dashed.push(b'-');
                dashed.extend_from_slice(&value[3..5]);
                dashed.push(b'-');
                dashed.extend_from_slice(&value[5..]);
                if validate::ssn(&dashed) {
                    return Some(Builtin::UsSsn);
                }
            }
        }
        if self.phone {
            if g == [3, 3, 4] && nanp(value) {
                return Some(Builtin::Phone);
            }
            if g == [1, 3, 3, 4] && value[0] == b'1' && nanp(&value[2..]) {
                return Some(Builtin::Phone);
            }
            let phone_context = || {
                context(
                    hay,
                    p,
                    &[
                        b"phone",
                        b"tel",
                        b"mobile",
                        b"cell",
                        b"call",
                        b"whatsapp",
                        b"sms",
                    ],
                )
            };
            if (g == [10] && (nanp(value) || (b'6'..=b'9').contains(&value[0]))
                || g == [5, 5] && (b'6'..=b'9').contains(&value[0]))
                && phone_context()
            {
                return Some(Builtin::Phone);
            }
        }
        None
    }

    /// IPv6 or MAC from `p` (a hex group or `::`), over `[0-9A-Fa-f:.]`.
    /// The scan reaches an address at a digit that may sit in a later group
    /// (`EA:FC:FE:C0:...`), so it first backs up over hex groups and colons,
    /// no further than `floor` (what was already scanned).
    #[inline(never)]
    fn colon_address(
        &self,
        hay: &[u8],
        floor: usize,
        hi: usize,
        from: usize,
        out: &mut Candidates,
    ) -> usize {
        let mut p = from;
        while p > floor && (hay[p - 1].is_ascii_hexdigit() || hay[p - 1] == b':') {
            p -= 1;
        }
        let mut i = p;
        while i < hi && (hay[i].is_ascii_hexdigit() || hay[i] == b':' || hay[i] == b'.') {
            i += 1;
        }
        let mut end = i;
        while end > p
            && (hay[end - 1] == b'.'
                || (hay[end - 1] == b':' && !(end - p >= 2 && hay[end - 2] == b':')))
        {
            end -= 1;
        }
        if i < hay.len() && (is_alnum(hay[i]) || hay[i] == b'_') {
            return i;
        }
        if p > 0 && (is_alnum(hay[p - 1]) || hay[p - 1] == b':') {
            return i;
        }
        let v = &hay[p..end];
        if self.mac && v.len() == 17 && mac(v, b':') {
            out.push(Builtin::MacAddress, p, end);
        } else if self.ipv6 && ipv6(v) {
            out.push(Builtin::Ipv6, p, end);
        }
        i
    }
}

fn trim_end(w: &[u8]) -> &[u8] {
    let mut n = w.len();
    while n > 0 && matches!(w[n - 1], b'.' | b'-' | b'_') {
        n -= 1;
    }
    &w[..n]
}

/// Whether one of `words` (lowercase) appears in the 40 bytes before `p`.
fn context(hay: &[u8], p: usize, words: &[&[u8]]) -> bool {
    let before = hay[p.saturating_sub(40)..p].to_ascii_lowercase();
    words
        .iter()
        .any(|w| memchr::memmem::find(&before, w).is_some())
}

fn nanp(v: &[u8]) -> bool {
    let d: Vec<u8> = v.iter().copied().filter(u8::is_ascii_digit).collect();
    d.len() == 10
        && d[0] >= b'2'
        && d[3] >= b'2'
        && !(d[1] == b'1' && d[2] == b'1')
        && !(d[4] == b'1' && d[5] == b'1')
}

fn e164(v: &[u8], digits: usize) -> bool {
    (8..=15).contains(&digits) && v.get(1).is_some_and(|d| (b'1'..=b'9').contains(d))
}

fn card_grouping(g: &[u8]) -> bool {
    match g {
        [_] => true,
        [4, 6, 5] | [4, 6, 4] => true,
        _ => g[..g.len() - 1].iter().all(|&n| n == 4) && (1..=4).contains(&g[g.len() - 1]),
    }
}

/// Issuer prefixes and lengths of the major card networks.
fn card_prefix(v: &[u8], len: usize) -> bool {
    let d: Vec<u32> = v
        .iter()
        .filter(|b| b.is_ascii_digit())
        .map(|b| u32::from(b - b'0'))
        .collect();
    let p = |n: usize| d[..n].iter().fold(0u32, |a, &x| a * 10 + x);
    match d[0] {
        4 => matches!(len, 13 | 16 | 19),
        5 => {
            (51..=55).contains(&p(2)) && len == 16
                || matches!(p(4), 5018 | 5020 | 5038) && len >= 12
        }
        2 => (2221..=2720).contains(&p(4)) && len == 16,
        3 => {
            (matches!(p(2), 34 | 37) && len == 15)
                || ((3528..=3589).contains(&p(4)) && (16..=19).contains(&len))
                || (((300..=305).contains(&p(3)) || matches!(p(2), 36 | 38 | 39))
                    && (14..=19).contains(&len))
        }
        6 => {
            (p(4) == 6011
                || p(2) == 65
                || (644..=649).contains(&p(3))
                || p(2) == 62
                || matches!(p(4), 6304 | 6759 | 6761 | 6762 | 6763))
                && (16..=19).contains(&len)
        }
        _ => false,
    }
}

fn mac(v: &[u8], sep: u8) -> bool {
    v.len() == 17
        && v.chunks(3).all(|c| {
            c[0].is_ascii_hexdigit() && c[1].is_ascii_hexdigit() && (c.len() == 2 || c[2] == sep)
        })
}

fn ipv6(v: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(v) else {
        return false;
    };
    let colons = v.iter().filter(|&&b| b == b':').count();
    if colons < 2 || !v.iter().any(u8::is_ascii_digit) {
        return false;
    }
    // Without `::` an address writes all its groups: seven colons, or six
    // before an IPv4 tail. A time (`14:55:47.123`) has two.
    if colons < 6 && memchr::memmem::find(v, b"::").is_none() {
        return false;
    }
    // `a::b` is common in code; an address has three groups or a long one.
    let groups = s.split(':').filter(|g| !g.is_empty()).count();
    if groups < 3 && !s.split(':').any(|g| g.len() >= 3) && s != "::1" {
        return false;
    }
    s.parse::<std::net::Ipv6Addr>().is_ok()
}

fn emails(hay: &[u8], ws: usize, we: usize, out: &mut Candidates) {
    let mut from = ws;
    while let Some(off) = memchr::memchr(b'@', &hay[from..we]) {
        let at = from + off;
        from = at + 1;
        let mut s = at;
        while s > ws && (hay[s - 1].is_ascii_alphanumeric() || b"._%+-".contains(&hay[s - 1])) {
            s -= 1;
        }
        while s < at && hay[s] == b'.' {
            s += 1;
        }
        let mut e = at + 1;
        while e < we && (hay[e].is_ascii_alphanumeric() || hay[e] == b'.' || hay[e] == b'-') {
            e += 1;
        }
        while e > at + 1 && (hay[e - 1] == b'.' || hay[e - 1] == b'-') {
            e -= 1;
        }
        if s < at && hay[at - 1] != b'.' && domain(&hay[at + 1..e]) && !url_userinfo(hay, at) {
            out.push(Builtin::Email, s, e);
        }
    }
}

/// Whether the `@` at `at` ends a URL's userinfo (`scheme://user:pass@host`):
/// then `pass@host` is the URL's credentials and host, not an email address.
fn url_userinfo(hay: &[u8], at: usize) -> bool {
    let from = at.saturating_sub(256);
    let before = &hay[from..at];
    let token_start = before
        .iter()
        .rposition(u8::is_ascii_whitespace)
        .map_or(0, |i| i + 1);
    let token = &before[token_start..];
    // Userinfo ends the authority's first part: after a path, a query or a
    // fragment has begun (`https://host?email=ana@example.com`), an `@` is
    // data, not the end of credentials.
    match memchr::memmem::rfind(token, b"://") {
        Some(i) => !token[i + 3..]
            .iter()
            .any(|b| matches!(b, b'/' | b'?' | b'#')),
        None => false,
    }
}

const FILE_EXTENSIONS: &[&[u8]] = &[
    b"png", b"jpg", b"jpeg", b"gif", b"svg", b"webp", b"ico", b"css", b"js",
];

fn domain(d: &[u8]) -> bool {
    let labels: Vec<&[u8]> = d.split(|&b| b == b'.').collect();
    if labels.len() < 2
        || labels
            .iter()
            .any(|l| l.is_empty() || l.len() > 63 || l[0] == b'-')
    {
        return false;
    }
    let tld = labels[labels.len() - 1];
    // An internationalised top-level domain in its ASCII form (`xn--p1ai`).
    let idn = tld.len() > 4
        && tld[..4].eq_ignore_ascii_case(b"xn--")
        && tld[4..].iter().all(u8::is_ascii_alphanumeric);
    idn || (tld.len() >= 2
        && tld.iter().all(u8::is_ascii_alphabetic)
        && !FILE_EXTENSIONS.iter().any(|e| tld.eq_ignore_ascii_case(e)))
}

/// An IBAN written compact (`DE89370400440532013000`) or in groups of four
/// (`DE89 3704 0044 0532 0130 00`). Returns its end.
fn iban(hay: &[u8], hi: usize, ws: usize, wlen: usize) -> Option<usize> {
    if wlen >= 15 {
        return validate::iban(&hay[ws..ws + wlen]).then_some(ws + wlen);
    }
    if wlen != 4 {
        return None;
    }
    let mut end = ws + 4;
    let mut ends = [0usize; 12];
    let mut n = 0;
    loop {
        if n < ends.len() {
            ends[n] = end;
            n += 1;
        }
        if end + 1 >= hi || hay[end] != b' ' {
            break;
        }
        let g = end + 1;
        let mut i = g;
        while i < hi && i - g < 4 && (hay[i].is_ascii_uppercase() || hay[i].is_ascii_digit()) {
            i += 1;
        }
        if i == g || (i < hi && is_alnum(hay[i])) {
            break;
        }
        end = i;
        if i - g < 4 || end - ws > 42 {
            break;
        }
    }
    if end - ws > 15 && validate::iban(&hay[ws..end]) {
        return Some(end);
    }
    // Grouped, then a word that is not part of it (`VG96 VPVG ... 8901 X`):
    // the longest run of whole groups that is an IBAN.
    // Only a short last group is taken for such a word.
    let last = n.checked_sub(1).map(|k| ends[k])?;
    (last < end && end - last < 5 && last - ws > 15 && validate::iban(&hay[ws..last]))
        .then_some(last)
}

/// A random-looking key: long, mixed classes, few vowels (not words), high
/// entropy, and not a hash, UUID or path.
fn high_entropy(hay: &[u8], ws: usize, wlen: usize) -> Option<usize> {
    // Stripe's publishable keys are meant to be public.
    if hay[ws..].starts_with(b"pk_live_") || hay[ws..].starts_with(b"pk_test_") {
        return None;
    }
    let w = &hay[ws..ws + wlen];
    let (mut upper, mut lower, mut digit, mut vowels, mut slash) =
        (0usize, 0usize, 0usize, 0usize, 0usize);
    for &b in w {
        match b {
            b'A'..=b'Z' => upper += 1,
            b'a'..=b'z' => lower += 1,
            b'0'..=b'9' => digit += 1,
            b'/' => slash += 1,
            _ => {}
        }
        if b"aeiouAEIOU".contains(&b) {
            vowels += 1;
        }
    }
    if upper < 2 || lower < 2 || digit < 2 {
        return None;
    }
    let letters = upper + lower;
    if vowels * 100 > letters * 40 {
        return None;
    }
    // Paths: several slash-separated parts.
    if slash >= 2 || w[0] == b'/' {
        return None;
    }
    let threshold = (0.8 * (wlen.min(64) as f64).log2()).clamp(3.4, 4.5);
    if validate::entropy(w) < threshold {
        return None;
    }
    // What passes the entropy test but is no secret; the costliest last.
    if identifier_like(w) || alphabet_run(w) || in_public_block(hay, ws, ws + wlen) {
        return None;
    }
    // Base64 padding belongs to the key.
    let mut end = ws + wlen;
    while end < hay.len() && end < ws + wlen + 2 && hay[end] == b'=' {
        end += 1;
    }
    Some(end)
}

/// A name made of `_`- or `-`-separated words and numbers (`Package_for_KB3121255`,
/// `DFSClient_NONMAPREDUCE_1537864556_1`, `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`,
/// `id-Gost28147-89-None-KeyMeshing`):
/// each part letters, digits, or letters then digits, in one case or
/// capitalised.
fn identifier_like(w: &[u8]) -> bool {
    if !w.contains(&b'_') && !w.contains(&b'-') {
        return false;
    }
    w.split(|&b| b == b'_' || b == b'-').all(|part| {
        if part.is_empty() {
            return true;
        }
        let letters = part.iter().take_while(|b| b.is_ascii_alphabetic()).count();
        let (word, rest) = part.split_at(letters);
        // Words change case rarely (`DFSClient`, `Package`, `NONMAPREDUCE`);
        // random letters often.
        let changes = word
            .windows(2)
            .filter(|p| p[0].is_ascii_uppercase() != p[1].is_ascii_uppercase())
            .count();
        changes <= 2 + word.len() / 6 && rest.iter().all(u8::is_ascii_digit)
    })
}

/// An alphabet written out (`ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef...0123456789+/`):
/// most neighbours one apart.
fn alphabet_run(w: &[u8]) -> bool {
    let steps = w
        .windows(2)
        .filter(|p| p[1] == p[0].wrapping_add(1))
        .count();
    steps * 10 >= w.len() * 6
}

/// Whether the word at `at..end` lies inside a PEM block of public material (a PGP public
/// key, a certificate, a public key): base64 there is not a secret.
fn in_public_block(hay: &[u8], at: usize, end: usize) -> bool {
    // Block lines are base64 alone on their line; anything else is not in one.
    let alone = (at == 0 || hay[at - 1] == b'\n')
        && hay
            .get(end)
            .is_none_or(|&b| b == b'\n' || b == b'\r' || b == b'=');
    if !alone {
        return false;
    }
    let from = at.saturating_sub(crate::anchored::MAX_PEM);
    let before = &hay[from..at];
    let Some(begin) = memchr::memmem::rfind(before, b"-----BEGIN ") else {
        return false;
    };
    if memchr::memmem::find(&before[begin..], b"-----END ").is_some() {
        return false;
    }
    let label_end = before[begin..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(before.len(), |n| begin + n);
    let label = &before[begin..label_end];
    memchr::memmem::find(label, b"PUBLIC KEY").is_some()
        || memchr::memmem::find(label, b"CERTIFICATE").is_some()
}

/// Whether the digits at `p` follow one of the four-character groups of an
/// IBAN-like account number (`NL91 ABNA 2345 6789 0124 AB`): a group with a
/// capital letter right before them.
fn in_account_groups(hay: &[u8], p: usize) -> bool {
    let group = |g: &[u8]| {
        g.len() == 4
            && g.iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            && g.iter().any(u8::is_ascii_uppercase)
    };
    p >= 5 && hay[p - 1] == b' ' && group(&hay[p - 5..p - 1]) && (p == 5 || !is_alnum(hay[p - 6]))
}

/// Whether the digits at `at` (after a `/` or `@` inside a word) can start a
/// finding: an IPv4 address (one to three digits, then a dot) or a long
/// number (a card in a path). Dates and short path segments cannot.
fn worth_a_number(hay: &[u8], at: usize, we: usize) -> bool {
    let digits = hay[at..we]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    (digits <= 3 && hay.get(at + digits) == Some(&b'.')) || digits >= 13
}

fn imei_digits(value: &[u8]) -> bool {
    let mut d = [0u8; 15];
    for (slot, &b) in d
        .iter_mut()
        .zip(value.iter().filter(|b| b.is_ascii_digit()))
    {
        *slot = b;
    }
    validate::imei(&d)
}

/// `AB 12 34 56 C` or `AB 123456 C`, from the digits at `ws` (after `AB `):
/// where it ends, if the whole is a valid National Insurance number.
fn spaced_nino(hay: &[u8], hi: usize, ws: usize) -> Option<usize> {
    let p = ws - 3;
    if p > 0 && is_alnum(hay[p - 1]) {
        return None;
    }
    let mut v = [0u8; 9];
    v[0] = hay[p];
    v[1] = hay[p + 1];
    let mut i = ws;
    let mut n = 2;
    while n < 8 {
        if i < hi && hay[i].is_ascii_digit() {
            v[n] = hay[i];
            n += 1;
            i += 1;
        } else if i + 1 < hi && hay[i] == b' ' && hay[i + 1].is_ascii_digit() && n % 2 == 0 {
            i += 1;
        } else {
            return None;
        }
    }
    if i < hi && hay[i] == b' ' {
        i += 1;
    }
    if i >= hi {
        return None;
    }
    v[8] = hay[i];
    let end = i + 1;
    if end < hay.len() && is_alnum(hay[end]) {
        return None;
    }
    validate::nino(&v).then_some(end)
}

/// An Azure AD client secret whose `Q~` follows the word `hay[ws..we]`:
/// three characters, a digit and `Q` before the tilde, 31 to 34 after.
/// Returns where it ends.
fn azure_client_secret(hay: &[u8], hi: usize, ws: usize, we: usize) -> Option<usize> {
    let in_set = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'~' | b'.' | b'-');
    if we < ws + 2 || hay[we - 1] != b'Q' || !hay[we - 2].is_ascii_digit() || we < 5 {
        return None;
    }
    let start = we - 5;
    if !hay[start..we - 2]
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'~' | b'.'))
        || (start > 0 && in_set(hay[start - 1]))
    {
        return None;
    }
    let mut end = we + 1;
    while end < hi && end - we <= 36 && in_set(hay[end]) {
        end += 1;
    }
    // A full stop or dash after the secret ends a sentence, not the secret.
    while end - we - 1 > 34 && matches!(hay[end - 1], b'.' | b'-') {
        end -= 1;
    }
    let tail = end - we - 1;
    ((31..=34).contains(&tail) && !validate::placeholder_key(&hay[we + 1..end])).then_some(end)
}

/// Whether the name assigned at `eq` (an `=`) is an Azure key's:
/// `AccountKey`, `SharedAccessKey`, in a connection string.
fn azure_key_name(hay: &[u8], eq: usize) -> bool {
    [b"AccountKey".as_slice(), b"SharedAccessKey".as_slice()]
        .iter()
        .any(|n| {
            eq >= n.len()
                && hay[eq - n.len()..eq].eq_ignore_ascii_case(n)
                && (eq == n.len() || !is_alnum(hay[eq - n.len() - 1]))
        })
}

/// An IPv4 address at `p` between dashes inside a word: exactly four groups
/// of one to three digits, nothing word-like after but a dash, and at least
/// two groups of two digits or more (so `build-1.2.3.4-rc` stays a version).
fn dashed_ipv4(hay: &[u8], hi: usize, p: usize, range: bool) -> Option<usize> {
    let mut i = p;
    let mut long = 0;
    for g in 0..4 {
        let s = i;
        while i < hi && i - s < 4 && hay[i].is_ascii_digit() {
            i += 1;
        }
        let n = i - s;
        if n == 0 || n > 3 {
            return None;
        }
        long += usize::from(n >= 2);
        if g < 3 {
            if i >= hi || hay[i] != b'.' {
                return None;
            }
            i += 1;
        }
    }
    let after_ok = i >= hay.len()
        || !(is_alnum(hay[i])
            || hay[i] == b'_'
            || (hay[i] == b'.' && hay.get(i + 1).is_some_and(u8::is_ascii_digit)));
    (after_ok && (long >= 2 || range) && validate::ipv4(&hay[p..i])).then_some(i)
}

/// Whether the word before `p` says what follows is a version
/// (`version 0.0.0.6`, `ver. 10.0.1.2`, `v10.1.2.3`): four dotted numbers
/// there are not an address.
fn after_version(hay: &[u8], p: usize) -> bool {
    if p > 0 && matches!(hay[p - 1], b'v' | b'V') && (p < 2 || !is_alnum(hay[p - 2])) {
        return true;
    }
    let mut k = p;
    while k > 0 && matches!(hay[k - 1], b' ' | b':' | b'=' | b'.') && p - k < 3 {
        k -= 1;
    }
    let e = k;
    while k > 0 && hay[k - 1].is_ascii_alphabetic() && e - k < 8 {
        k -= 1;
    }
    let w = &hay[k..e];
    e > k && (w.eq_ignore_ascii_case(b"version") || w.eq_ignore_ascii_case(b"ver"))
}

/// `hh:mm:ss` at `p` (its hour, or its minute when the hour is the end of a
/// longer word such as `2026-11-23T14`), with nothing hex or another colon
/// on either side: a MAC or IPv6 address would go on.
fn time_of_day(hay: &[u8], hi: usize, p: usize) -> Option<usize> {
    let digit = |k: usize| hay[k].is_ascii_digit();
    let edge = |b: u8| !b.is_ascii_hexdigit() && b != b':';
    let at = if p >= 3 && hay[p - 1] == b':' && digit(p - 3) && digit(p - 2) {
        p - 3
    } else {
        p
    };
    (at + 8 < hi
        && (at == 0 || edge(hay[at - 1]))
        && digit(at)
        && digit(at + 1)
        && hay[at + 2] == b':'
        && digit(at + 3)
        && digit(at + 4)
        && hay[at + 5] == b':'
        && digit(at + 6)
        && digit(at + 7)
        && edge(hay[at + 8]))
    .then(|| {
        // And its fraction (`.123`), as the address scan would have taken.
        let mut end = at + 8;
        while end < hi && (hay[end] == b'.' || hay[end].is_ascii_digit()) {
            end += 1;
        }
        end
    })
}

/// Whether the number ending at `we` goes on: a separator a longer number,
/// address, time or date uses, followed by what continues it.
#[inline(always)]
fn continues(hay: &[u8], we: usize) -> bool {
    match hay.get(we) {
        Some(b'.' | b'-' | b':' | b')' | b'/' | b'@' | b'~' | b'%') => true,
        Some(b' ') => hay.get(we + 1).is_some_and(u8::is_ascii_digit),
        _ => false,
    }
}
