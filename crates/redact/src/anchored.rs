//! Detectors that start at a literal: key prefixes (`AKIA`, `ghp_`, `sk-`),
//! keywords (`password`, `Bearer`, `-----BEGIN`, `://`) and the keywords of a
//! policy's custom detectors. One Aho-Corasick automaton finds every anchor in
//! a single pass (with its SIMD prefilter, text without anchors is skipped at
//! memory speed); the full pattern and validator run only where an anchor is.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::bytes::Regex;

use crate::kind::Builtin;
use crate::scan::{is_alnum, Candidates, CustomDetector};
use crate::validate;

/// What an anchor starts.
#[derive(Debug, Clone, Copy)]
enum Anchor {
    /// A key with a fixed prefix, checked by that kind's anchored pattern.
    Prefix(usize),
    /// `sk-`: an Anthropic key when `ant-` follows, else an OpenAI key (one
    /// anchor for both keeps the automaton's buckets tight).
    Sk {
        openai: Option<usize>,
        anthropic: Option<usize>,
    },
    /// `-----BEGIN ... PRIVATE KEY-----`.
    PemBegin,
    /// The same, base64-encoded (`LS0tLS1CRUdJTi...`), as Kubernetes
    /// secrets and CI variables hold keys.
    Base64Pem,
    /// `scheme://user:pass@host`.
    Scheme,
    /// `Bearer <token>`.
    Bearer,
    /// A custom detector's keyword.
    Custom(usize),
}

struct PrefixDetector {
    kind: Builtin,
    /// Anchored at the start (`\A`).
    pattern: Regex,
}

/// The anchor automaton and the patterns it leads to.
pub(crate) struct Anchored {
    automaton: AhoCorasick,
    anchors: Vec<Anchor>,
    prefixes: Vec<PrefixDetector>,
}

impl std::fmt::Debug for Anchored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Anchored")
            .field("anchors", &self.anchors.len())
            .finish()
    }
}

const PREFIXES: &[(Builtin, &[&str], &str)] = &[
    (
        Builtin::AwsAccessKey,
        // Access key ids: long-term (AKIA), temporary (ASIA) and service
        // keys. Other four-letter prefixes name IAM entities, not secrets.
        &["AKIA", "ASIA", "ABIA", "ACCA"],
        r"\A(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}",
    ),
    (
        Builtin::GithubToken,
        &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
        r"\A(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82})",
    ),
    (
        Builtin::GitlabToken,
        // GitLab's documented token prefixes: personal, project, group and
        // impersonation (glpat), OAuth application secrets (gloas), deploy
        // (gldt), runner authentication (glrt), CI/CD job (glcbt), trigger
        // (glptt), feed (glft), incoming mail (glimt), agent (glagent), SCIM
        // (glsoat), feature-flag client (glffct), and legacy runner
        // registration tokens (GR1348941). Routable tokens carry dotted
        // parts after the random one.
        &[
            "glpat-",
            "gloas-",
            "gldt-",
            "glrt-",
            "glcbt-",
            "glptt-",
            "glft-",
            "glimt-",
            "glagent-",
            "glsoat-",
            "glffct-",
            "GR1348941",
        ],
        r"\A(?:(?:glpat|gloas|gldt|glrt|glcbt|glptt|glft|glimt|glagent|glsoat|glffct)-[A-Za-z0-9_-]{20,300}(?:\.[A-Za-z0-9_-]{1,64}){0,4}|GR1348941[A-Za-z0-9_-]{20,64})",
    ),
    (
        Builtin::AnthropicKey,
        // Anchored by OpenAI's `sk-` (see `Anchor::Sk`).
        &[],
        r"\Ask-ant-(?:api|admin|oat)[0-9]{2}-[A-Za-z0-9_-]{80,120}",
    ),
    (
        Builtin::OpenaiKey,
        &["sk-"],
        r"\Ask-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,200}|[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})",
    ),
    (Builtin::GoogleApiKey, &["AIza"], r"\AAIza[0-9A-Za-z_-]{35}"),
    (
        Builtin::StripeKey,
        // Anchored one byte in (`s` or `r` before), which halves the
        // automaton's literals for these keys.
        &["k_live_", "k_test_"],
        r"\A[sr]k_(?:live|test)_[0-9A-Za-z]{24,99}",
    ),
    (
        Builtin::SlackToken,
        // Bot, user, workspace (legacy xoxa/xoxs), refresh (xoxr, xoxe-),
        // configuration (xoxe.xoxp-) and app-level (xapp-) tokens; one
        // anchor for every `xox` keeps the automaton small.
        &["xox", "xapp-"],
        r"\A(?:xox[abeprs]-[0-9A-Za-z]{1,48}(?:-[0-9A-Za-z]{1,160}){1,4}|xoxe\.xox[bp]-[0-9]-[0-9A-Za-z]{40,300}|xapp-[0-9]-[A-Z0-9]{8,16}-[0-9]{8,16}-[a-z0-9]{32,80})",
    ),
    (
        Builtin::HuggingfaceToken,
        // User access tokens, and the older organisation API tokens:
        // letters only after the prefix.
        &["hf_", "api_org_"],
        r"\A(?:hf|api_org)_[A-Za-z]{34}",
    ),
    (
        Builtin::Jwt,
        &["eyJ"],
        // The signature may be empty: an unsigned (`alg: none`) token.
        r"\AeyJ[A-Za-z0-9_-]{8,2048}\.eyJ[A-Za-z0-9_-]{4,8192}\.(?:[A-Za-z0-9_-]{8,1024})?",
    ),
];

/// The order the automaton receives the built-in literals in. Its SIMD
/// prefilter (Teddy) assigns literals to buckets in the order given, and a
/// bucket whose literals share fingerprint bits passes fewer false
/// candidates: measured on the 100 MB benchmark corpus, this order scans at
/// about 7.0 GB/s and the table order above at 4.4; on Loghub's logs, 8.0
/// and 6.1. (Found by measuring shuffled orders; a literal missing here goes
/// last.)
const LITERAL_ORDER: &[&str] = &[
    "glpat-",
    "k_live_",
    "glffct-",
    "ABIA",
    "GR1348941",
    "://",
    "-----BEGIN ",
    "earer",
    "AIza",
    "xox",
    "glrt-",
    "glimt-",
    "glft-",
    "gho_",
    "ASIA",
    "k_test_",
    "glcbt-",
    "api_org_",
    "gldt-",
    "sk-",
    "glsoat-",
    "github_pat_",
    "EARER",
    "eyJ",
    "glagent-",
    "ghp_",
    "xapp-",
    "glptt-",
    "hf_",
    "ghs_",
    "ACCA",
    "gloas-",
    "AKIA",
    "LS0tLS1CRUdJTi",
    "ghr_",
    "ghu_",
];

/// Suffixes of identifiers whose value is a secret (lowercase).
const SECRET_SUFFIXES: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "pass",
    "pwd",
    "secret",
    "secret_key",
    "secretkey",
    "client_secret",
    "api_key",
    "apikey",
    "api-key",
    "access_key",
    "private_key",
    "token",
    "access_token",
    "auth_token",
    "refresh_token",
    "secret_access_key",
];

/// Values that stand for a secret without being one.
const PLACEHOLDER_VALUES: &[&str] = &[
    "null",
    "none",
    "nil",
    "true",
    "false",
    "undefined",
    "redacted",
    "hidden",
    "secret",
    "password",
    "changeit",
    "example",
    "required",
    "optional",
    "string",
];

/// The longest value a keyword assignment is taken to have: session tokens
/// and signed tokens run to a few kilobytes, and a value cut short would
/// leave its tail behind.
const MAX_VALUE: usize = 8 * 1024;
/// The longest value that runs to the end of its line.
const MAX_LINE_VALUE: usize = 8 * 1024;
/// The longest PEM block searched for.
pub(crate) const MAX_PEM: usize = 16 * 1024;

impl Anchored {
    /// Builds the automaton for the enabled kinds and custom keywords.
    pub(crate) fn new(
        enabled: &dyn Fn(Builtin) -> bool,
        custom: &[CustomDetector],
    ) -> crate::Result<Self> {
        let mut literals: Vec<String> = Vec::new();
        let mut anchors = Vec::new();
        let mut prefixes = Vec::new();
        let (mut openai, mut anthropic) = (None, None);
        for (kind, lits, pattern) in PREFIXES {
            if !enabled(*kind) {
                continue;
            }
            let index = prefixes.len();
            prefixes.push(PrefixDetector {
                kind: *kind,
                // The patterns are constants; a failure is a bug caught by tests.
                pattern: Regex::new(pattern).map_err(|e| crate::Error::Pattern {
                    what: format!("built-in detector {}", kind.name()),
                    message: e.to_string(),
                })?,
            });
            match kind {
                Builtin::OpenaiKey => openai = Some(index),
                Builtin::AnthropicKey => anthropic = Some(index),
                _ => {}
            }
            for lit in *lits {
                if *kind == Builtin::OpenaiKey {
                    continue;
                }
                literals.push((*lit).to_owned());
                anchors.push(Anchor::Prefix(index));
            }
        }
        let mut add = |lits: &[&str], anchor: Anchor| {
            for lit in lits {
                literals.push((*lit).to_owned());
                anchors.push(anchor);
            }
        };
        if enabled(Builtin::PrivateKey) || enabled(Builtin::GcpServiceAccount) {
            add(&["-----BEGIN "], Anchor::PemBegin);
        }
        if enabled(Builtin::PrivateKey) {
            add(&["LS0tLS1CRUdJTi"], Anchor::Base64Pem);
        }
        if enabled(Builtin::UrlCredentials)
            || enabled(Builtin::DbConnectionString)
            || enabled(Builtin::SlackToken)
        {
            add(&["://"], Anchor::Scheme);
        }
        // Keywords are matched in the spellings people use rather than
        // case-insensitively, which would cost the automaton its SIMD prefilter.
        if openai.is_some() || anthropic.is_some() {
            add(&["sk-"], Anchor::Sk { openai, anthropic });
        }
        // `Bearer`, `bearer`, `BEARER` from two literals, the first letter
        // checked after.
        if enabled(Builtin::BearerToken) {
            add(&["earer", "EARER"], Anchor::Bearer);
        }
        // The built-in literals in the order that packs the prefilter's
        // buckets best, then custom keywords in the policy's order.
        let rank = |lit: &str| {
            LITERAL_ORDER
                .iter()
                .position(|l| *l == lit)
                .unwrap_or(LITERAL_ORDER.len())
        };
        let mut order: Vec<usize> = (0..literals.len()).collect();
        order.sort_by_key(|&i| rank(&literals[i]));
        let mut literals: Vec<String> = order.iter().map(|&i| literals[i].clone()).collect();
        let mut anchors: Vec<Anchor> = order.iter().map(|&i| anchors[i]).collect();
        for (i, c) in custom.iter().enumerate() {
            for kw in &c.keywords {
                literals.push(kw.clone());
                anchors.push(Anchor::Custom(i));
            }
        }
        let automaton = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&literals)
            .map_err(|e| crate::Error::Pattern {
                what: "detector keywords".to_owned(),
                message: e.to_string(),
            })?;
        Ok(Anchored {
            automaton,
            anchors,
            prefixes,
        })
    }

    /// Finds anchored detections in `hay[lo..hi]`.
    pub(crate) fn scan(
        &self,
        hay: &[u8],
        lo: usize,
        hi: usize,
        custom: &[CustomDetector],
        enabled: &dyn Fn(Builtin) -> bool,
        out: &mut Candidates,
    ) {
        if enabled(Builtin::PasswordAssignment) || enabled(Builtin::AwsSecretKey) {
            for op in memchr::memchr2_iter(b'=', b':', &hay[lo..hi]) {
                secret_assignment(hay, lo, hi, lo + op, enabled, out);
            }
        }
        for m in self.automaton.find_iter(&hay[lo..hi]) {
            let start = lo + m.start();
            let end = lo + m.end();
            match self.anchors[m.pattern().as_usize()] {
                Anchor::Prefix(i) => {
                    let det = &self.prefixes[i];
                    if det.kind == Builtin::StripeKey {
                        if start > lo && matches!(hay[start - 1], b's' | b'r') {
                            self.prefix(hay, hi, start - 1, det, out);
                        }
                    } else {
                        self.prefix(hay, hi, start, det, out);
                    }
                }
                Anchor::Sk { openai, anthropic } => {
                    let which = if hay[end..hi].starts_with(b"ant-") {
                        anthropic
                    } else {
                        openai
                    };
                    if let Some(i) = which {
                        self.prefix(hay, hi, start, &self.prefixes[i], out);
                    }
                }
                Anchor::PemBegin => pem(hay, lo, hi, start, enabled, out),
                Anchor::Base64Pem => base64_pem(hay, hi, start, out),
                Anchor::Scheme => url(hay, lo, hi, start, enabled, out),
                Anchor::Bearer => {
                    if start > lo && matches!(hay[start - 1], b'B' | b'b') {
                        bearer(hay, hi, start - 1, end, out);
                    }
                }
                Anchor::Custom(i) => {
                    let c = &custom[i];
                    let from = start.saturating_sub(128).max(lo);
                    let to = (end + 512).min(hi);
                    c.find_in(hay, from, to, out);
                }
            }
        }
    }

    fn prefix(
        &self,
        hay: &[u8],
        hi: usize,
        start: usize,
        det: &PrefixDetector,
        out: &mut Candidates,
    ) {
        if start > 0 && is_alnum(hay[start - 1]) {
            return;
        }
        let window = &hay[start..hi.min(start + 12 * 1024)];
        let Some(m) = det.pattern.find(window) else {
            return;
        };
        let end = start + m.end();
        if end < hay.len() && (is_alnum(hay[end]) || hay[end] == b'_' || hay[end] == b'-') {
            return;
        }
        if det.kind == Builtin::Jwt && !validate::jwt(&hay[start..end]) {
            return;
        }
        // `ghp_xxxx...`, `AKIAXXXXXXXXXXXXXXXX`: a placeholder with the
        // prefix, most of it one character.
        if validate::placeholder_key(&hay[start..end]) {
            return;
        }
        // Real Slack tokens run to 40 characters and more; shorter ones with
        // the prefix are examples (`xoxb-test-123`).
        if det.kind == Builtin::SlackToken && end - start < 30 {
            return;
        }
        out.push(det.kind, start, end);
    }
}

/// `-----BEGIN <label>PRIVATE KEY-----` ... `-----END <label>PRIVATE KEY-----`,
/// and the Google service-account key file around one.
fn pem(
    hay: &[u8],
    lo: usize,
    hi: usize,
    start: usize,
    enabled: &dyn Fn(Builtin) -> bool,
    out: &mut Candidates,
) {
    const BEGIN: &[u8] = b"-----BEGIN ";
    let rest = &hay[start..hi.min(start + MAX_PEM)];
    if !rest.starts_with(BEGIN) {
        return;
    }
    let Some(label_len) = find(&rest[BEGIN.len()..rest.len().min(80)], b"-----") else {
        return;
    };
    let label = &rest[BEGIN.len()..BEGIN.len() + label_len];
    if !(label.ends_with(b"PRIVATE KEY") || label.ends_with(b"PRIVATE KEY BLOCK")) {
        return;
    }
    let mut end_marker = b"-----END ".to_vec();
    end_marker.extend_from_slice(label);
    end_marker.extend_from_slice(b"-----");
    if let Some(at) = find(rest, &end_marker) {
        // An empty block (or one with a line of filler) holds no key.
        let body = &rest[BEGIN.len() + label_len + 5..at];
        let material = body
            .iter()
            .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/'))
            .count();
        if material >= 32 {
            let end = start + at + end_marker.len();
            if enabled(Builtin::PrivateKey) {
                out.push(Builtin::PrivateKey, start, end);
            }
            if enabled(Builtin::GcpServiceAccount) {
                if let Some((a, b)) = service_account_file(hay, lo, hi, start, end) {
                    out.push(Builtin::GcpServiceAccount, a, b);
                }
            }
        }
    }
}

/// What a `://` starts: a database URL with a password (the whole URL), a
/// Slack webhook (the whole URL), or `scheme://user:password@host` (the
/// `user:password` part).
fn url(
    hay: &[u8],
    lo: usize,
    hi: usize,
    sep: usize,
    enabled: &dyn Fn(Builtin) -> bool,
    out: &mut Candidates,
) {
    let mut s = sep;
    while s > lo && (hay[s - 1].is_ascii_alphanumeric() || b"+.-".contains(&hay[s - 1])) {
        s -= 1;
    }
    if sep - s < 2 || !hay[s].is_ascii_alphabetic() {
        return;
    }
    let scheme = &hay[s..sep];
    if enabled(Builtin::SlackToken) && hay[sep + 3..hi].starts_with(b"hooks.slack.com/") {
        if let Some(end) = slack_webhook(hay, hi, sep + 3) {
            out.push(Builtin::SlackToken, s, end);
        }
        return;
    }
    if enabled(Builtin::DbConnectionString) && database_scheme(scheme) {
        if let Some(end) = database_url(hay, hi, sep + 3) {
            // `jdbc:postgresql://`: the whole URL, driver prefix and all.
            let s = if s >= lo + 5 && hay[s - 5..s].eq_ignore_ascii_case(b"jdbc:") {
                s - 5
            } else {
                s
            };
            out.push(Builtin::DbConnectionString, s, end);
            return;
        }
    }
    if !enabled(Builtin::UrlCredentials) {
        return;
    }
    let user_start = sep + 3;
    let mut i = user_start;
    let mut colon = None;
    let limit = hi.min(user_start + MAX_VALUE);
    while i < limit {
        match hay[i] {
            b'@' => break,
            b':' if colon.is_none() => colon = Some(i),
            b'/' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'\\' => {
                return
            }
            b if b.is_ascii_whitespace() || b.is_ascii_control() => return,
            _ => {}
        }
        i += 1;
    }
    if i >= limit || hay[i] != b'@' {
        return;
    }
    let Some(colon) = colon else { return };
    // A password (the user may be empty, as in `redis://:secret@cache`), and
    // a host after the `@`: a name, an address, or an IPv6 literal.
    if colon + 1 == i || i + 1 >= hi || !(hay[i + 1].is_ascii_alphanumeric() || hay[i + 1] == b'[')
    {
        return;
    }
    out.push(Builtin::UrlCredentials, user_start, i);
}

/// `Bearer <token>`: the token.
fn bearer(hay: &[u8], hi: usize, start: usize, end: usize, out: &mut Candidates) {
    if start > 0 && is_alnum(hay[start - 1]) {
        return;
    }
    let mut i = end;
    while i < hi && (hay[i] == b' ' || hay[i] == b'\t') {
        i += 1;
    }
    if i == end {
        return;
    }
    let tok = i;
    while i < hi && (hay[i].is_ascii_alphanumeric() || b"-._~+/".contains(&hay[i])) {
        i += 1;
    }
    // Trailing `=` is base64 padding only when nothing word-like follows;
    // otherwise it is an assignment and the token ends before it (so the
    // answer does not change once what follows has been redacted).
    let mut padded = i;
    while padded < hi && hay[padded] == b'=' {
        padded += 1;
    }
    if padded == hay.len() || !is_alnum(hay[padded]) {
        i = padded;
    }
    // RFC 6750's own example (`mF_9.B5f-4.1JqM`) is 15 characters; shorter
    // than 16 it must mix letters and digits, so `Bearer realm` is no token.
    let t = &hay[tok..i];
    let long_enough = t.len() >= 16
        || (t.len() >= 12
            && t.iter().any(u8::is_ascii_digit)
            && t.iter().any(u8::is_ascii_alphabetic));
    if long_enough && (i >= hay.len() || !is_alnum(hay[i])) {
        out.push(Builtin::BearerToken, tok, i);
    }
}

/// Whether identifier `raw` ends with `suffix` (in any case) as a
/// word of its own: `db_password`, `dbPassword`, `PASSWORD`, but not
/// `bypass` or `compass`. Long suffixes need no boundary.
fn secret_suffix(raw: &[u8], suffix: &str) -> bool {
    let suffix = suffix.as_bytes();
    let Some(tail) = suffix_match(raw, suffix) else {
        return false;
    };
    if suffix.len() >= 6 {
        return true;
    }
    let at = raw.len() - tail;
    at == 0
        || matches!(raw[at - 1], b'_' | b'-' | b'.')
        || (raw[at].is_ascii_uppercase() && raw[at - 1].is_ascii_lowercase())
}

/// Whether `s` ends with `suffix`, in any case, with `-` and `_` alike,
/// and with a `_` of the suffix optional (`private-key`, `PRIVATE_KEY`,
/// `privateKey`). Returns the length of `s`'s matching tail.
fn suffix_match(s: &[u8], suffix: &[u8]) -> Option<usize> {
    let mut i = s.len();
    let mut j = suffix.len();
    while j > 0 {
        let want = suffix[j - 1];
        let have = if i > 0 { s[i - 1] } else { 0 };
        if want == b'_' {
            if have == b'_' || have == b'-' {
                i -= 1;
            }
            j -= 1;
            continue;
        }
        if i == 0 || have.to_ascii_lowercase() != want {
            return None;
        }
        i -= 1;
        j -= 1;
    }
    Some(s.len() - i)
}

/// Whether `s` ends with `suffix` (see [`suffix_match`]).
fn ends_with_ignore_case(s: &[u8], suffix: &[u8]) -> bool {
    suffix_match(s, suffix).is_some()
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.'
}

/// Type names that stand between a secret's name and its value in typed
/// declarations (`var dbPassword string = "..."`, `password: String = "..."`).
const TYPE_WORDS: &[&str] = &[
    "string",
    "str",
    "&str",
    "char",
    "text",
    "bytes",
    "secretstring",
    "secretstr",
];

fn is_type_word(w: &[u8]) -> bool {
    TYPE_WORDS
        .iter()
        .any(|t| w.eq_ignore_ascii_case(t.as_bytes()))
}

/// Words that may start a line before an assignment: `export KEY=...`,
/// `set KEY=...`, YAML's `- key: ...`.
const LINE_PREFIXES: &[&str] = &["export", "set", "-", "declare", "readonly", "local", "ENV"];

/// Whether the identifier starting at `s` begins its line (after
/// indentation and one of [`LINE_PREFIXES`]): a config line (`.env`, INI,
/// YAML, properties), whose value is the rest of the line.
fn at_line_start(hay: &[u8], s: usize) -> bool {
    let floor = s.saturating_sub(64);
    let mut k = s;
    let back_over_space = |k: &mut usize| {
        while *k > floor && (hay[*k - 1] == b' ' || hay[*k - 1] == b'\t') {
            *k -= 1;
        }
    };
    back_over_space(&mut k);
    if k == 0 || hay[k - 1] == b'\n' {
        return true;
    }
    for p in LINE_PREFIXES {
        let p = p.as_bytes();
        if k >= p.len() && &hay[k - p.len()..k] == p && k < s {
            let mut m = k - p.len();
            back_over_space(&mut m);
            if m == 0 || hay[m - 1] == b'\n' {
                return true;
            }
        }
    }
    false
}

/// The assignment operator whose first `:` or `=` is at `op`: `=`, `:`,
/// `:=`, `::=`, `:::=`, `=>`, and the compound and conditional `?=`, `.=`,
/// `+=`, `?:=`. Returns where it starts and ends; `None` for anything else
/// (`==`, `::`, `!=`) and for the second character of an operator.
fn operator(hay: &[u8], lo: usize, hi: usize, op: usize) -> Option<(usize, usize)> {
    if op > lo && matches!(hay[op - 1], b':' | b'=') {
        return None;
    }
    let start = if op > lo && matches!(hay[op - 1], b'?' | b'.' | b'+') {
        op - 1
    } else {
        op
    };
    let mut end = op;
    while end < hi && end - op < 4 && matches!(hay[end], b':' | b'=') {
        end += 1;
    }
    if end < hi && hay[end] == b'>' && hay[end - 1] == b'=' {
        end += 1;
    }
    matches!(
        &hay[start..end],
        b"=" | b":" | b":=" | b"::=" | b":::=" | b"=>" | b"?=" | b".=" | b"+=" | b"?:="
    )
    .then_some((start, end))
}

/// The name an assignment ending at `e` assigns to: an identifier, past a
/// closing quote, a subscript (`secret[]`, `cfg[token]`), and a type name
/// (`dbPassword string`, `password: String`). Returns its start and end.
fn assigned_name(hay: &[u8], lo: usize, end: usize) -> Option<(usize, usize)> {
    let mut e = end;
    while e > lo && (hay[e - 1] == b' ' || hay[e - 1] == b'\t') {
        e -= 1;
    }
    if e > lo && matches!(hay[e - 1], b'"' | b'\'' | b'`') {
        e -= 1;
    }
    if e > lo && hay[e - 1] == b']' {
        let floor = e.saturating_sub(34).max(lo);
        let open = (floor..e - 1).rev().find(|&k| hay[k] == b'[')?;
        e = open;
    }
    let ident = |e: usize| {
        let mut s = e;
        while s > lo && e - s <= 64 && is_ident(hay[s - 1]) {
            s -= 1;
        }
        s
    };
    let mut s = ident(e);
    if s < e && is_type_word(&hay[s..e]) {
        let mut k = s;
        while k > lo && (hay[k - 1] == b' ' || hay[k - 1] == b'\t') {
            k -= 1;
        }
        if k > lo && hay[k - 1] == b':' {
            k -= 1;
            while k > lo && (hay[k - 1] == b' ' || hay[k - 1] == b'\t') {
                k -= 1;
            }
        }
        if k < s {
            e = k;
            s = ident(e);
        }
    }
    (s < e && e - s <= 64).then_some((s, e))
}

/// `password=...`, `"api_key": "..."`, `DB_PASSWORD: ...`: the value after
/// the operator at `op`, when the name before it names a secret.
///
/// The value is what the syntax it sits in says it is, all of it: a quoted
/// string whole (any quote, C#'s `@"..."` and Python's `r"..."` included;
/// an unclosed quote, the rest of the line); unquoted, the rest of the line
/// when the assignment begins it (`.env`, INI, YAML, properties), up to
/// `&` or `#` in a URL's query, and otherwise (a `k=v` pair in a log line)
/// up to whitespace. Every `=` and `:` is a candidate, so the cheap checks
/// come first.
#[inline(always)]
fn secret_assignment(
    hay: &[u8],
    lo: usize,
    hi: usize,
    op: usize,
    enabled: &dyn Fn(Builtin) -> bool,
    out: &mut Candidates,
) {
    // Every secret suffix ends in one of a few three-letter tails (any
    // case), and every type word in one of a few others: most `=` and `:`
    // go no further.
    if op < lo + 3 {
        return;
    }
    let mut e = op;
    if matches!(hay[e - 1], b'?' | b'.' | b'+') {
        e -= 1;
    }
    while e > lo && (hay[e - 1] == b' ' || hay[e - 1] == b'\t') {
        e -= 1;
    }
    if e > lo && matches!(hay[e - 1], b'"' | b'\'' | b'`') {
        e -= 1;
    }
    if e < lo + 3 {
        return;
    }
    if hay[e - 1] != b']' {
        let tail = u32::from_le_bytes([hay[e - 3], hay[e - 2], hay[e - 1], 0]) | 0x0020_2020;
        let pass = match tail {
            ORD | SWD | ASE | ASS | PWD | RET | KEY | KEN => true,
            STR => true,
            // `string`, `char`, `text`, `bytes`: the letter before the tail.
            ING => e >= lo + 4 && hay[e - 4] | 0x20 == b'r',
            HAR => e >= lo + 4 && hay[e - 4] | 0x20 == b'c',
            EXT => e >= lo + 4 && hay[e - 4] | 0x20 == b't',
            TES => e >= lo + 4 && hay[e - 4] | 0x20 == b'y',
            _ => false,
        };
        if !pass {
            return;
        }
    }
    assignment_value(hay, lo, hi, op, enabled, out);
}

const fn tail(t: &[u8; 3]) -> u32 {
    u32::from_le_bytes([t[0], t[1], t[2], 0])
}
const ORD: u32 = tail(b"ord");
const SWD: u32 = tail(b"swd");
const ASE: u32 = tail(b"ase");
const ASS: u32 = tail(b"ass");
const PWD: u32 = tail(b"pwd");
const RET: u32 = tail(b"ret");
const KEY: u32 = tail(b"key");
const KEN: u32 = tail(b"ken");
const STR: u32 = tail(b"str");
const ING: u32 = tail(b"ing");
const HAR: u32 = tail(b"har");
const EXT: u32 = tail(b"ext");
const TES: u32 = tail(b"tes");

/// The rest of [`secret_assignment`], for the few operators whose name
/// could be a secret's: kept out of line so the per-operator check stays
/// small.
#[inline(never)]
fn assignment_value(
    hay: &[u8],
    lo: usize,
    hi: usize,
    op: usize,
    enabled: &dyn Fn(Builtin) -> bool,
    out: &mut Candidates,
) {
    let Some((op_start, op_end)) = operator(hay, lo, hi, op) else {
        return;
    };
    let Some((s, e)) = assigned_name(hay, lo, op_start) else {
        return;
    };
    let raw = &hay[s..e];
    if !SECRET_SUFFIXES.iter().any(|suf| secret_suffix(raw, suf)) {
        return;
    }
    // A quoted path (`'/forgot-password' => ...`) names no variable (a
    // command-line switch, `/pass:Hunter22x`, does).
    if s > lo && hay[s - 1] == b'/' && e < hi && matches!(hay[e], b'"' | b'\'' | b'`') {
        return;
    }
    // `"Password:"`: the colon ends a string that opened before the name;
    // it assigns nothing.
    if s > lo
        && matches!(hay[s - 1], b'"' | b'\'')
        && e == op_start
        && op_end < hi
        && hay[op_end] == hay[s - 1]
    {
        return;
    }
    let mut i = op_end;
    while i < hi && (hay[i] == b' ' || hay[i] == b'\t') {
        i += 1;
    }
    if i >= hi {
        return;
    }
    // String prefixes: C#'s verbatim `@"`, Python's `r"`, `b"`, `f"`, `u"`.
    let mut verbatim = false;
    if i + 1 < hi && matches!(hay[i + 1], b'"' | b'\'') {
        if hay[i] == b'@' && hay[i + 1] == b'"' {
            verbatim = true;
            i += 1;
        } else if matches!(
            hay[i],
            b'r' | b'R' | b'b' | b'B' | b'f' | b'F' | b'u' | b'U'
        ) {
            i += 1;
        }
    }
    let line_end = |from: usize| {
        let limit = hi.min(from + MAX_LINE_VALUE);
        let mut j = from;
        while j < limit && hay[j] != b'\n' {
            j += 1;
        }
        while j > from && hay[j - 1].is_ascii_whitespace() {
            j -= 1;
        }
        j
    };
    let (vs, ve) = match hay[i] {
        q @ (b'"' | b'\'' | b'`') => {
            let vs = i + 1;
            let mut j = vs;
            let limit = hi.min(vs + MAX_LINE_VALUE);
            loop {
                if j >= limit || hay[j] == b'\n' {
                    // Unclosed on its line: the rest of the line.
                    break (vs, line_end(vs));
                }
                if hay[j] == q {
                    if verbatim && j + 1 < hi && hay[j + 1] == q {
                        j += 2;
                        continue;
                    }
                    break (vs, j);
                }
                if hay[j] == b'\\' && !verbatim && q != b'`' {
                    j += 1;
                }
                j += 1;
            }
        }
        _ => {
            let vs = i;
            if at_line_start(hay, s) {
                (vs, line_end(vs))
            } else {
                // A URL query's value also ends at `&` or `#`.
                let stops: &[u8] = if s > 0 && matches!(hay[s - 1], b'?' | b'&') {
                    b"&#\"'<>"
                } else {
                    b"\"'<>"
                };
                let mut j = vs;
                while j < hi
                    && j - vs <= MAX_VALUE
                    && !hay[j].is_ascii_whitespace()
                    && !stops.contains(&hay[j])
                {
                    j += 1;
                }
                (vs, j)
            }
        }
    };
    let value = &hay[vs..ve];
    // In a connection string the password is whatever sits there
    // (`Password=myPassword;` too); only templates are not.
    if enabled(Builtin::DbConnectionString)
        && !template(value)
        && ["password", "pwd", "passwd"]
            .iter()
            .any(|n| raw.eq_ignore_ascii_case(n.as_bytes()))
    {
        if let Some((a, b)) = key_value_dsn(hay, lo, hi, s) {
            // The password's own value whole, however its pair was written
            // (`password = x`, `password='a b'`).
            out.push(Builtin::DbConnectionString, a, b.max(ve));
            return;
        }
    }
    if !plausible_secret(value) {
        return;
    }
    let aws = ends_with_ignore_case(raw, b"secret_access_key")
        || (raw.len() >= 3
            && raw[..3].eq_ignore_ascii_case(b"aws")
            && ends_with_ignore_case(raw, b"secret_key"));
    if aws
        && enabled(Builtin::AwsSecretKey)
        && value.len() == 40
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'/' || *b == b'+')
    {
        out.push(Builtin::AwsSecretKey, vs, ve);
    } else if enabled(Builtin::PasswordAssignment) {
        out.push(Builtin::PasswordAssignment, vs, ve);
    }
}

/// Whether a value after a secret keyword is a secret and not a stand-in for
/// one: placeholders, templates, masks, numbers and our own redactions.
fn plausible_secret(v: &[u8]) -> bool {
    if v.len() < 4 || v.len() > MAX_VALUE {
        return false;
    }
    // (A value of one character repeated is a template's mask.)
    if template(v) {
        return false;
    }
    if v.iter().all(u8::is_ascii_digit) {
        return false;
    }
    if is_type_word(v) || looks_like_code(v) || object_dump(v) || reference(v) {
        return false;
    }
    // `SKXXXXXXXXXXXXXXXX`, `ghp_xxxxxxxx...`: a key's shape filled with one
    // character; `your_api_key_here`, `YOUR-TOKEN`: where one goes.
    if v.len() >= 8 && validate::placeholder_key(v) {
        return false;
    }
    let lower = v.to_ascii_lowercase();
    if (lower.starts_with(b"your") && v.len() > 4 && matches!(v[4], b'_' | b'-' | b'.' | b' '))
        || lower.ends_with(b"_here")
        || lower.ends_with(b"-here")
    {
        return false;
    }
    !PLACEHOLDER_VALUES.iter().any(|p| lower == p.as_bytes())
}

/// An object printed by its class and identity rather than a value:
/// `Token{a64f992`, `android.os.BinderProxy@2bd79ce`, `Secret{...}`.
fn object_dump(v: &[u8]) -> bool {
    let Some(at) = v.iter().position(|&b| b == b'@' || b == b'{') else {
        return false;
    };
    let (class, rest) = (&v[..at], &v[at + 1..]);
    let class_like = !class.is_empty()
        && class[0].is_ascii_alphabetic()
        && class
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'$' | b'_'))
        && (class.iter().any(u8::is_ascii_uppercase) || class.contains(&b'.'));
    let rest = rest.strip_suffix(b"}").unwrap_or(rest);
    class_like && (rest.is_empty() || rest.iter().all(u8::is_ascii_hexdigit) || v[at] == b'{')
}

/// A reference or a call rather than a value: `pw;`, `getenv("PW");`,
/// `config.password;`, `os.environ['DB_PASSWORD']`.
fn looks_like_code(v: &[u8]) -> bool {
    // Names in code hold no digits as passwords do (`hunter2;`, `Passw0rd(1)`
    // stay values).
    let name = |w: &[u8]| {
        !w.is_empty()
            && w.iter()
                .all(|b| b.is_ascii_alphabetic() || *b == b'_' || *b == b'.')
    };
    if let Some(bare) = v.strip_suffix(b";") {
        if name(bare) {
            return true;
        }
    }
    let v = v.strip_suffix(b";").unwrap_or(v);
    let Some(open) = v
        .iter()
        .position(|b| !(b.is_ascii_alphabetic() || *b == b'_' || *b == b'.'))
    else {
        return false;
    };
    let (callee, rest) = v.split_at(open);
    let (close, args) = match rest.first() {
        Some(b'(') => (b')', &rest[1..]),
        Some(b'[') => (b']', &rest[1..]),
        _ => return false,
    };
    let Some(args) = args.strip_suffix(&[close]) else {
        return false;
    };
    // Arguments a call or an index takes: none, a quoted string, a name.
    name(callee) && (args.is_empty() || matches!(args[0], b'"' | b'\'') || name(args))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// URL schemes of databases, caches and queues (before any `+driver`):
/// their URLs are connection strings.
const DATABASE_SCHEMES: &[&str] = &[
    "postgres",
    "postgresql",
    "pgsql",
    "mysql",
    "mysqlx",
    "mariadb",
    "mongodb",
    "redis",
    "rediss",
    "valkey",
    "amqp",
    "amqps",
    "mssql",
    "sqlserver",
    "oracle",
    "clickhouse",
    "cockroachdb",
    "couchdb",
    "cassandra",
    "neo4j",
    "bolt",
    "memcached",
    "snowflake",
    "db2",
    "sqlite",
];

fn database_scheme(scheme: &[u8]) -> bool {
    let base = scheme
        .iter()
        .position(|&b| b == b'+')
        .map_or(scheme, |p| &scheme[..p]);
    DATABASE_SCHEMES
        .iter()
        .any(|d| base.eq_ignore_ascii_case(d.as_bytes()))
}

/// The end of a database URL whose authority starts at `from`, if it holds a
/// password: in its user information (`user:pass@host`) or its query
/// (`?user=u&password=p`). The URL runs to whitespace, a quote or a bracket.
fn database_url(hay: &[u8], hi: usize, from: usize) -> Option<usize> {
    let limit = hi.min(from + 2 * MAX_VALUE);
    let mut end = from;
    let mut bracket = false;
    while end < limit {
        match hay[end] {
            // An IPv6 host, `@[::1]:5432`.
            b'[' if !bracket && (end == from || hay[end - 1] == b'@') => bracket = true,
            b']' if bracket => bracket = false,
            b if b.is_ascii_whitespace() || b"\"'`<>[]{}|\\".contains(&b) => break,
            _ => {}
        }
        end += 1;
    }
    // Parentheses may sit in a password (`Zxcvbnm@12345)`); one that closes
    // a parenthesis opened before the URL does not belong to it.
    while end > from && matches!(hay[end - 1], b'.' | b',' | b';' | b':' | b')') {
        end -= 1;
    }
    let url = &hay[from..end];
    let authority_end = url
        .iter()
        .position(|&b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(url.len());
    let authority = &url[..authority_end];
    if let Some(at) = authority.iter().rposition(|&b| b == b'@') {
        let userinfo = &authority[..at];
        if let Some(colon) = userinfo.iter().position(|&b| b == b':') {
            if colon + 1 < userinfo.len() && at + 1 < authority.len() {
                return Some(end);
            }
        }
    }
    let query = url.iter().position(|&b| b == b'?').map(|q| &url[q + 1..])?;
    query
        .split(|&b| b == b'&' || b == b';')
        .any(|pair| {
            let Some(eq) = pair.iter().position(|&b| b == b'=') else {
                return false;
            };
            let key = &pair[..eq];
            (key.eq_ignore_ascii_case(b"password") || key.eq_ignore_ascii_case(b"pwd"))
                && eq + 1 < pair.len()
        })
        .then_some(end)
}

/// A Slack incoming webhook or workflow trigger URL whose host starts at
/// `from`: `hooks.slack.com/services/T…/B…/<secret>`,
/// `hooks.slack.com/workflows/…` or `/triggers/…`. Returns where it ends.
fn slack_webhook(hay: &[u8], hi: usize, from: usize) -> Option<usize> {
    let limit = hi.min(from + MAX_VALUE);
    let mut end = from;
    while end < limit && (hay[end].is_ascii_alphanumeric() || b"./_-".contains(&hay[end])) {
        end += 1;
    }
    // A sentence's full stop after the URL is not part of it.
    while end > from && matches!(hay[end - 1], b'.' | b'-' | b'_') {
        end -= 1;
    }
    let path = &hay[from + b"hooks.slack.com/".len()..end];
    let mut parts = path.split(|&b| b == b'/');
    let kind = parts.next()?;
    if !matches!(kind, b"services" | b"workflows" | b"triggers") {
        return None;
    }
    let rest: Vec<&[u8]> = parts.filter(|p| !p.is_empty()).collect();
    let secret = rest.last()?;
    // The secret is the last part; documentation writes it as `XXXX…`.
    (rest.len() >= 2
        && secret.len() >= 20
        && secret.iter().all(u8::is_ascii_alphanumeric)
        && !validate::placeholder_key(secret))
    .then_some(end)
}

/// The Google Cloud service-account key file around the private key at
/// `key_start..key_end`: the JSON object (`{` to its `}`) with
/// `"type": "service_account"` in it. Key files hold no nested braces in
/// their strings, so braces are counted, escaped JSON (a key file inside a
/// log's string) included. The object is looked for no further than 1 KiB
/// before the key and [`MAX_PEM`] from its start.
fn service_account_file(
    hay: &[u8],
    lo: usize,
    hi: usize,
    key_start: usize,
    key_end: usize,
) -> Option<(usize, usize)> {
    // No further back than a window's context, so windowed and one-shot
    // scans find the same object.
    let floor = key_start.saturating_sub(crate::scan::CONTEXT).max(lo);
    let open = (floor..key_start).rev().find(|&k| hay[k] == b'{')?;
    if hay[open..key_start].contains(&b'}') {
        return None;
    }
    let limit = hi.min(open + MAX_PEM);
    let mut depth = 0usize;
    let mut close = None;
    for (k, &b) in hay[open..limit].iter().enumerate() {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(open + k + 1);
                    break;
                }
            }
            _ => {}
        }
    }
    let close = close.filter(|&c| c >= key_end)?;
    let object = &hay[open..close];
    let typed = find(object, b"service_account").is_some_and(|at| {
        let before = &object[..at];
        find(before, b"\"type").is_some()
    });
    typed.then_some((open, close))
}

/// Keys that name a database server in a key=value connection string.
const DSN_HOST_KEYS: &[&str] = &[
    "server",
    "data source",
    "datasource",
    "host",
    "hostaddr",
    "hostname",
    "address",
    "addr",
    "network address",
    "dsn",
];

/// The key=value connection string around the password key at `key`:
/// ADO.NET and ODBC's `Server=db;Database=app;User Id=u;Password=p;`
/// (pairs split by `;`, values may hold spaces) or libpq's
/// `host=db user=u password=p dbname=app` (pairs split by spaces). It is a
/// connection string when the run of pairs around the password also names a
/// server; the whole run is the finding. The run stays on its line and
/// inside the quotes around it.
#[cold]
#[inline(never)]
fn key_value_dsn(hay: &[u8], lo: usize, hi: usize, key: usize) -> Option<(usize, usize)> {
    let stop = |b: u8| matches!(b, b'\n' | b'\r' | b'"' | b'\'' | b'`');
    let floor = key.saturating_sub(MAX_LINE_VALUE).max(lo);
    let mut seg_start = key;
    while seg_start > floor && !stop(hay[seg_start - 1]) {
        seg_start -= 1;
    }
    let limit = hi.min(key + MAX_LINE_VALUE);
    let mut seg_end = key;
    while seg_end < limit && !stop(hay[seg_end]) {
        seg_end += 1;
    }
    let semicolons = hay[seg_start..seg_end].contains(&b';');
    let sep: u8 = if semicolons { b';' } else { b' ' };
    let key_char =
        |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (sep == b';' && b == b' ');
    // Pairs as (start, end, key) over the segment.
    let mut pairs: Vec<(usize, usize, Vec<u8>)> = Vec::new();
    let mut i = seg_start;
    while i < seg_end {
        let part_end = (i..seg_end).find(|&k| hay[k] == sep).unwrap_or(seg_end);
        let part = &hay[i..part_end];
        let mut ok = None;
        if let Some(eq) = part.iter().position(|&b| b == b'=') {
            // The key is the key characters right before `=`.
            let mut ks = eq;
            while ks > 0 && key_char(part[ks - 1]) {
                ks -= 1;
            }
            let name: Vec<u8> = part[ks..eq].trim_ascii().to_ascii_lowercase();
            let value = part[eq + 1..].trim_ascii();
            if !name.is_empty() && !value.is_empty() {
                let start = i + ks + (part[ks..eq].len() - part[ks..eq].trim_ascii_start().len());
                ok = Some((start, i + part.trim_ascii_end().len(), name));
            }
        }
        match ok {
            Some(p) => pairs.push(p),
            None => pairs.push((i, i, Vec::new())),
        }
        i = part_end + 1;
    }
    // The run of consecutive pairs that holds the password key.
    let at = pairs
        .iter()
        .position(|p| p.0 <= key && key < p.1.max(p.0 + 1))?;
    let mut first = at;
    while first > 0 && !pairs[first - 1].2.is_empty() {
        first -= 1;
    }
    let mut last = at;
    while last + 1 < pairs.len() && !pairs[last + 1].2.is_empty() {
        last += 1;
    }
    let run = &pairs[first..=last];
    let names_server = run
        .iter()
        .any(|p| DSN_HOST_KEYS.iter().any(|k| p.2 == k.as_bytes()));
    // A trailing `;` belongs to the string (`...;Password=p;`).
    let mut end = run[last - first].1;
    if sep == b';' && end < seg_end && hay[end] == b';' {
        end += 1;
    }
    (names_server && run.len() >= 2).then_some((run[0].0, end))
}

/// A PEM private key, base64-encoded whole (`LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQo...`
/// is `-----BEGIN RSA PRIVATE KEY-----`): the base64 run, when it decodes to
/// a private key's header and holds key material.
fn base64_pem(hay: &[u8], hi: usize, start: usize, out: &mut Candidates) {
    if start > 0
        && (hay[start - 1].is_ascii_alphanumeric() || matches!(hay[start - 1], b'+' | b'/'))
    {
        return;
    }
    // Within a window's margin, so a window sees the whole of it.
    let limit = hi.min(start + MAX_PEM);
    let b64 = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/');
    let mut end = start;
    let mut material = 0;
    loop {
        while end < limit && b64(hay[end]) {
            end += 1;
            material += 1;
        }
        while end < limit && hay[end] == b'=' {
            end += 1;
        }
        // `base64 key.pem` wraps at 76 columns: the next line goes on.
        let mut next = end;
        if next < limit && hay[next] == b'\r' {
            next += 1;
        }
        if next < limit
            && hay[next] == b'\n'
            && next + 1 < limit
            && b64(hay[next + 1])
            && hay[end - 1] != b'='
        {
            end = next + 1;
            continue;
        }
        break;
    }
    // The header, decoded from its first 120 characters.
    let head_len = (end - start).min(120) / 4 * 4;
    let Some(head) = validate::base64url_decode(&hay[start..start + head_len]) else {
        return;
    };
    let label_end = find(&head[11.min(head.len())..], b"-----").map(|k| k + 11);
    let private = label_end.is_some_and(|k| head[11..k].ends_with(b"PRIVATE KEY"));
    if private && material >= 200 {
        out.push(Builtin::PrivateKey, start, end);
    }
}

/// A stand-in a template or a page fills in later: `${VAR}`, `#{var}`,
/// `{{ var }}`, `<password>`, `[REDACTED]`, `%s`, `(none)`, `****`, the
/// same escaped (`\$_POST[...]`, `&lt;PASSWORD&gt;`).
fn template(v: &[u8]) -> bool {
    let mut v = v;
    while let Some(rest) = v.strip_prefix(b"\\") {
        v = rest;
    }
    if v.len() > 1 && v.iter().all(|&b| b == v[0]) {
        return true;
    }
    // A key block is the PEM detector's to judge; one it did not take holds
    // no key (`-----BEGIN PRIVATE KEY-----\nPRIVATE_KEY\n...`).
    if v.starts_with(b"-----BEGIN ") {
        return true;
    }
    match v.first() {
        None => true,
        Some(b'[' | b'<' | b'{' | b'$' | b'%' | b'(' | b'*') => true,
        Some(b'#') => v.get(1) == Some(&b'{'),
        Some(b'&') => v.starts_with(b"&lt;") || v.starts_with(b"&#"),
        _ => false,
    }
}

/// Objects whose fields a program reads secrets from.
const REFERENCE_ROOTS: &[&str] = &[
    "env",
    "process.env",
    "os.environ",
    "config",
    "settings",
    "self",
    "this",
    "secrets",
    "vars",
    "params",
    "props",
    "options",
    "opts",
    "cfg",
    "context",
    "ctx",
    "ENV",
];

/// A value that points somewhere rather than being a secret: a field read
/// (`env.DB_PASSWORD`, `process.env.API_TOKEN || "x"`), an ARN, a path
/// (`/en/enterprise/auth`), a CSS selector or anchor (`#add-password`).
fn reference(v: &[u8]) -> bool {
    let name = |w: &[u8]| {
        !w.is_empty()
            && w.iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.'))
    };
    let head: &[u8] = v.split(|&b| b == b' ').next().unwrap_or(v);
    if let Some(dot) = head.iter().position(|&b| b == b'.') {
        let root = &head[..dot];
        let rooted = REFERENCE_ROOTS.iter().any(|r| {
            let r = r.as_bytes();
            head.len() > r.len() && head.starts_with(r) && head[r.len()] == b'.'
        });
        if rooted && name(head) && !root.is_empty() {
            return true;
        }
    }
    if v.starts_with(b"arn:") {
        return true;
    }
    // A path is lower case or punctuated (`/en/enterprise-server@3.0/auth`);
    // base64 (`/q8Zx3Lk2Vb9Pn4Ty7Rw1Ms6Hd0Fg5Jc/Ae2Ui8`) is neither.
    if v[0] == b'/'
        && v[1..].contains(&b'/')
        && !v.iter().any(|b| matches!(b, b'+' | b'='))
        && (!v.iter().any(u8::is_ascii_uppercase)
            || v.iter().any(|b| matches!(b, b'.' | b'-' | b'@')))
    {
        return true;
    }
    v[0] == b'#'
        && v.len() > 1
        && v[1..]
            .iter()
            .all(|b| b.is_ascii_lowercase() || matches!(b, b'-' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every built-in literal has its place in [`LITERAL_ORDER`]: one left
    /// out would go last and could loosen the prefilter's buckets unseen.
    #[test]
    fn every_builtin_literal_is_ordered() {
        let mut lits: Vec<&str> = PREFIXES
            .iter()
            .flat_map(|(_, l, _)| l.iter().copied())
            .collect();
        lits.extend(["-----BEGIN ", "LS0tLS1CRUdJTi", "://", "earer", "EARER"]);
        for l in lits {
            assert!(LITERAL_ORDER.contains(&l), "{l} is not in LITERAL_ORDER");
        }
    }

    #[test]
    fn secret_names_match_with_or_without_separators() {
        assert!(secret_suffix(b"privateKey", "private_key"));
        assert!(secret_suffix(b"PRIVATE-KEY", "private_key"));
        assert!(secret_suffix(b"db_password", "password"));
        assert!(!secret_suffix(b"bypass", "pass"));
        assert!(!secret_suffix(b"keyboard", "key"));
    }
}
