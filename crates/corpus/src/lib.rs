//! Deterministic, labelled text of the kind an AI platform stores: server
//! logs, JSON event lines, chat prompts and config snippets, with personal
//! data and secrets at known byte ranges, and near-misses that must not be
//! reported (16-digit order numbers failing Luhn, 12-digit ids failing
//! Verhoeff, UUIDs, commit hashes, version strings, placeholders).
//!
//! The same seed and size always give the same bytes, on every platform and
//! release: the generator uses its own SplitMix64, not a library RNG whose
//! algorithm may change.
//!
//! ```
//! let c = privctl_corpus::generate(7, 20_000, 0.5);
//! assert!(c.text.len() >= 20_000);
//! let first = &c.labels[0];
//! assert!(!c.text[first.start..first.end].is_empty());
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod values;

use std::fmt::Write as _;

pub use values::Rng;

/// A labelled span: a true finding of `kind` at `start..end` (bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// Canonical detector kind.
    pub kind: &'static str,
    /// First byte.
    pub start: usize,
    /// Just past the last byte.
    pub end: usize,
}

/// Generated text and its labels, sorted by start.
#[derive(Debug, Clone, Default)]
pub struct Corpus {
    /// The text.
    pub text: String,
    /// Every true finding in it.
    pub labels: Vec<Label>,
}

impl Corpus {
    /// Labels as JSON Lines (`{"kind":..,"start":..,"end":..}`), the format
    /// the comparison scripts in `benches/compare` read.
    pub fn labels_jsonl(&self) -> String {
        let mut out = String::with_capacity(self.labels.len() * 48);
        for l in &self.labels {
            let _ = writeln!(
                out,
                "{{\"kind\":\"{}\",\"start\":{},\"end\":{}}}",
                l.kind, l.start, l.end
            );
        }
        out
    }
}

/// Builds one line, recording labels relative to the corpus.
struct Line<'a> {
    corpus: &'a mut Corpus,
}

impl Line<'_> {
    fn text(&mut self, s: &str) -> &mut Self {
        self.corpus.text.push_str(s);
        self
    }

    fn label(&mut self, kind: &'static str, value: &str) -> &mut Self {
        let start = self.corpus.text.len();
        self.corpus.text.push_str(value);
        self.corpus.labels.push(Label {
            kind,
            start,
            end: self.corpus.text.len(),
        });
        self
    }

    fn end(&mut self) {
        self.corpus.text.push('\n');
    }
}

/// Generates at least `target_bytes` of text. `density` (0..=1) is the share
/// of lines that carry a labelled value; the rest are plain logs, prose and
/// near-misses.
pub fn generate(seed: u64, target_bytes: usize, density: f64) -> Corpus {
    let mut rng = Rng::new(seed);
    let mut c = Corpus {
        text: String::with_capacity(target_bytes + 4096),
        labels: Vec::new(),
    };
    let threshold = (density.clamp(0.0, 1.0) * 1000.0) as u64;
    while c.text.len() < target_bytes {
        if rng.below(1000) < threshold {
            sensitive_line(&mut rng, &mut c);
        } else {
            plain_line(&mut rng, &mut c);
        }
    }
    c
}

fn timestamp(rng: &mut Rng) -> String {
    format!(
        "2026-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        1 + rng.below(12),
        1 + rng.below(28),
        rng.below(24),
        rng.below(60),
        rng.below(60),
        rng.below(1000)
    )
}

const MODELS: &[&str] = &[
    "llama-3.1-70b",
    "gpt-4o-mini",
    "claude-3-5-sonnet",
    "mixtral-8x7b",
    "qwen2.5-72b",
];
const PATHS: &[&str] = &[
    "/v1/chat/completions",
    "/v1/embeddings",
    "/v1/models",
    "/healthz",
    "/v1/images/generations",
];
const PROSE: &[&str] = &[
    "Can you summarise the following meeting notes for the team?",
    "Write a haiku about distributed systems and eventual consistency.",
    "Explain the difference between a mutex and a semaphore with an example.",
    "Translate this paragraph into French, keeping the technical terms.",
    "Refactor the function below so it does not allocate in the hot loop.",
    "What are the trade-offs of storing embeddings in PostgreSQL with pgvector?",
    "Draft a polite reply declining the invitation, and suggest next month.",
    "List three risks of the migration plan and how to mitigate each one.",
];

/// A line with no personal data: logs, prompts and near-misses.
fn plain_line(rng: &mut Rng, c: &mut Corpus) {
    let ts = timestamp(rng);
    let mut l = Line { corpus: c };
    match rng.below(10) {
        0..=3 => {
            let s = format!(
                "{ts} INFO  gateway request_id={} method=POST path={} status={} latency_ms={} tokens_in={} tokens_out={} model={}",
                values::uuid(rng),
                rng.pick(PATHS),
                [200, 200, 200, 201, 429, 500][rng.below(6) as usize],
                rng.below(4000),
                rng.below(8000),
                rng.below(2000),
                rng.pick(MODELS),
            );
            l.text(&s).end();
        }
        4..=5 => {
            let s = format!(
                "{{\"ts\":\"{ts}\",\"level\":\"info\",\"event\":\"completion\",\"model\":\"{}\",\"prompt_tokens\":{},\"completion_tokens\":{},\"cost_usd\":0.{:04}}}",
                rng.pick(MODELS),
                rng.below(9000),
                rng.below(3000),
                rng.below(10000),
            );
            l.text(&s).end();
        }
        6..=7 => {
            let s = format!(
                "{{\"role\":\"user\",\"content\":\"{} {}\"}}",
                rng.pick(PROSE),
                rng.pick(PROSE)
            );
            l.text(&s).end();
        }
        _ => {
            let s = near_miss(rng);
            l.text(&format!("{ts} DEBUG ")).text(&s).end();
        }
    }
}

/// Values that look like findings and are not.
fn near_miss(rng: &mut Rng) -> String {
    match rng.below(20) {
        0 => format!("order_number={}", values::luhn_failing(rng, 16)),
        1 => format!("shipment id {}", values::verhoeff_failing(rng)),
        2 => format!(
            "deploying version v{}.{}.{} (build {}.{}.{}.{}.{})",
            rng.below(5),
            rng.below(20),
            rng.below(50),
            rng.below(9),
            rng.below(9),
            rng.below(9),
            rng.below(9),
            rng.below(9)
        ),
        3 => format!(
            "trace_id={} span={}",
            values::uuid(rng),
            values::hex(rng, 16)
        ),
        4 => format!("commit {} merged into main", values::hex(rng, 40)),
        5 => format!("sha256:{}", values::hex(rng, 64)),
        6 => format!(
            "elapsed {:02}:{:02}:{:02} at {}",
            rng.below(24),
            rng.below(60),
            rng.below(60),
            values::uuid(rng).to_uppercase()
        ),
        7 => "mail bounced for user@localhost; see icon@2x.png in the template".to_owned(),
        8 => format!("pan check failed for {}", values::pan_bad_holder(rng)),
        9 => format!("iban rejected: {}", values::iban_bad_checksum(rng)),
        10 => format!(
            "invalid ssn {}-{:02}-{:04}",
            ["000", "666", "900"][rng.below(3) as usize],
            1 + rng.below(98),
            1 + rng.below(9998)
        ),
        11 => "password=******** password: <redacted> DB_PASSWORD=${DB_PASSWORD} token=[REDACTED]"
            .to_owned(),
        12 => format!(
            "tokens={} max_tokens={} input_tokens: {}",
            rng.below(9000),
            rng.below(9000),
            rng.below(9000)
        ),
        13 => "task-force risk-free desk-lamp AKIAshort ghp_short sk-too-short".to_owned(),
        14 => "getUserAccountSettingsForOrganization updateBillingSubscriptionStatus".to_owned(),
        15 => "/usr/local/lib/python3.11/site-packages/torch/nn/modules/linear.py".to_owned(),
        16 => format!(
            "peer 999.{}.{}.{} unreachable, retry in {}.{}s",
            rng.below(255),
            rng.below(255),
            rng.below(255),
            rng.below(9),
            rng.below(9)
        ),
        17 => format!(
            "invoice INV-{}-{:06} total {}.{:02} EUR",
            2026,
            rng.below(999_999),
            rng.below(5000),
            rng.below(100)
        ),
        18 => format!("std::io::Error in a::b at offset 0x{}", values::hex(rng, 8)),
        _ => format!(
            "{} items, page {} of {}",
            rng.below(100_000),
            rng.below(100),
            rng.below(100)
        ),
    }
}

/// A line with one or two labelled values in a realistic setting.
fn sensitive_line(rng: &mut Rng, c: &mut Corpus) {
    let ts = timestamp(rng);
    let mut l = Line { corpus: c };
    match rng.below(38) {
        0 => {
            l.text(&format!("{ts} INFO  auth login ok user="))
                .label("email", &values::email(rng))
                .text(" client_ip=")
                .label("ipv4", &values::ipv4(rng))
                .end();
        }
        1 => {
            l.text("{\"role\":\"user\",\"content\":\"Please call me back on ")
                .label("phone", &values::phone(rng))
                .text(" tomorrow morning.\"}")
                .end();
        }
        2 => {
            l.text(&format!(
                "{{\"ts\":\"{ts}\",\"event\":\"payment\",\"card\":\""
            ))
            .label("credit_card", &values::card(rng))
            .text("\",\"amount\":1299}")
            .end();
        }
        3 => {
            l.text("Wire the refund to IBAN ")
                .label("iban", &values::iban(rng))
                .text(" before Friday.")
                .end();
        }
        4 => {
            l.text("{\"role\":\"user\",\"content\":\"My SSN is ")
                .label("us_ssn", &values::ssn(rng))
                .text(", is it safe to share?\"}")
                .end();
        }
        5 => {
            l.text(&format!("{ts} INFO  kyc verified pan="))
                .label("in_pan", &values::pan(rng))
                .text(" status=ok")
                .end();
        }
        6 => {
            l.text("{\"role\":\"user\",\"content\":\"mera aadhaar number ")
                .label("in_aadhaar", &values::aadhaar(rng))
                .text(" hai, KYC update karo\"}")
                .end();
        }
        7 => {
            l.text(&format!("{ts} WARN  rate limited client="))
                .label("ipv6", &values::ipv6(rng))
                .text(" path=/v1/chat/completions")
                .end();
        }
        8 => {
            l.text(&format!("{ts} INFO  device registered mac="))
                .label("mac_address", &values::mac(rng))
                .end();
        }
        9 => {
            l.text("aws_access_key_id = ")
                .label("aws_access_key", &values::aws_access_key(rng))
                .end();
        }
        10 => {
            l.text("aws_secret_access_key = ")
                .label("aws_secret_key", &values::base64ish(rng, 40))
                .end();
        }
        11 => {
            // A token inside a URL's userinfo is reported as the URL's
            // credentials, which covers the user name as well.
            if rng.below(2) == 0 {
                let token = values::github(rng);
                l.text("git remote set-url origin https://")
                    .label("url_credentials", &format!("x-access-token:{token}"))
                    .text("@github.com/acme/app.git")
                    .end();
            } else {
                l.text("GITHUB_TOKEN=")
                    .label("github_token", &values::github(rng))
                    .end();
            }
        }
        12 => {
            l.text("export GITLAB_TOKEN=")
                .label("gitlab_token", &values::gitlab(rng))
                .end();
        }
        13 => {
            l.text("{\"role\":\"user\",\"content\":\"why does my key ")
                .label("openai_key", &values::openai(rng))
                .text(" return 401?\"}")
                .end();
        }
        14 => {
            l.text("ANTHROPIC_API_KEY=")
                .label("anthropic_key", &values::anthropic(rng))
                .end();
        }
        15 => {
            l.text("const mapsKey = \"")
                .label("google_api_key", &values::google(rng))
                .text("\";")
                .end();
        }
        16 => {
            l.text("stripe.api_key = '")
                .label("stripe_key", &values::stripe(rng))
                .text("'")
                .end();
        }
        17 => {
            l.text(&format!("{ts} ERROR slack post failed token="))
                .label("slack_token", &values::slack(rng))
                .end();
        }
        18 => {
            l.text("curl -H 'Authorization: Bearer ")
                .label("jwt", &values::jwt(rng))
                .text("' https://api.example.com/v1/me")
                .end();
        }
        19 => {
            l.text("{\"key_pem\":\"")
                .label("private_key", &values::pem(rng, "\\n"))
                .text("\"}")
                .end();
        }
        20 => {
            l.text("HTTPS_PROXY=http://")
                .label("url_credentials", &values::url_credentials(rng))
                .text("@proxy.internal:3128")
                .end();
        }
        21 => {
            l.text(&format!(
                "{ts} DEBUG upstream headers: Authorization: Bearer "
            ))
            .label("bearer_token", &{
                let n = 24 + rng.below(24) as usize;
                values::base64url(rng, n)
            })
            .end();
        }
        22 => {
            let (pre, post) = [
                ("password=", ""),
                ("{\"password\": \"", "\"}"),
                ("DB_PASSWORD: ", ""),
                ("smtp_pass = \"", "\""),
            ][rng.below(4) as usize];
            l.text(pre)
                .label("password_assignment", &values::password(rng))
                .text(post)
                .end();
        }
        23 => {
            l.text("Send the payout to ")
                .label("crypto_wallet", &values::wallet(rng))
                .text(" please")
                .end();
        }
        24 => {
            l.text(&format!("{ts} INFO  webhook signed X-Signature: "))
                .label("high_entropy_secret", &{
                    let n = 32 + rng.below(17) as usize;
                    values::base62_secret(rng, n)
                })
                .end();
        }
        25 => {
            // A multi-line PEM block, as in a config file.
            let pem = values::pem(rng, "\n");
            l.text("# deploy key\n").label("private_key", &pem).end();
        }
        27 => {
            l.text(&format!("{ts} INFO  einvoice issued supplier_gstin="))
                .label("in_gstin", &values::gstin(rng))
                .text(" status=ok")
                .end();
        }
        28 => {
            l.text("{\"role\":\"user\",\"content\":\"my national insurance number is ")
                .label("uk_nino", &values::uk_nino(rng))
                .text(", can you fill in the form?\"}")
                .end();
        }
        29 => {
            l.text(&format!("{ts} INFO  device enrolled imei="))
                .label("imei", &values::imei(rng))
                .text(" model=SM-G991B")
                .end();
        }
        30 => {
            l.text("SENDGRID_API_KEY=")
                .label("sendgrid_key", &values::sendgrid(rng))
                .end();
        }
        31 => {
            l.text("twilio:\n  api_key_sid: ")
                .label("twilio_key", &values::twilio(rng))
                .end();
        }
        32 => {
            l.text("//registry.npmjs.org/:_authToken=")
                .label("npm_token", &values::npm(rng))
                .end();
        }
        33 => {
            l.text(
                "{\"role\":\"user\",\"content\":\"from huggingface_hub import login; login(\\\"",
            )
            .label("huggingface_token", &values::huggingface(rng))
            .text("\\\") fails, why?\"}")
            .end();
        }
        34 => {
            if rng.below(2) == 0 {
                l.text("AZURE_CLIENT_SECRET=")
                    .label("azure_secret", &values::azure_client_secret(rng))
                    .end();
            } else {
                l.text("DefaultEndpointsProtocol=https;AccountName=acmelogs;AccountKey=")
                    .label("azure_secret", &values::azure_account_key(rng))
                    .text(";EndpointSuffix=core.windows.net")
                    .end();
            }
        }
        35 => {
            l.text("GOOGLE_CREDENTIALS='")
                .label("gcp_service_account", &values::gcp_service_account(rng))
                .text("'")
                .end();
        }
        36 => {
            l.text(&format!("{ts} ERROR pool: cannot connect dsn=\""))
                .label("db_connection_string", &values::db_connection_string(rng))
                .text("\" retrying")
                .end();
        }
        37 => {
            l.text("SLACK_WEBHOOK_URL=")
                .label("slack_token", &values::slack_webhook(rng))
                .end();
        }
        _ => {
            l.text("{\"role\":\"user\",\"content\":\"I'm ")
                .text(values::first_name(rng))
                .text(", reach me at ")
                .label("email", &values::email(rng))
                .text(" or ")
                .label("phone", &values::phone(rng))
                .text(".\"}")
                .end();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_bytes() {
        let a = generate(42, 50_000, 0.3);
        let b = generate(42, 50_000, 0.3);
        assert_eq!(a.text, b.text);
        assert_eq!(a.labels, b.labels);
        assert_ne!(a.text, generate(43, 50_000, 0.3).text);
    }

    #[test]
    fn labels_are_in_bounds_and_ordered() {
        let c = generate(1, 200_000, 0.5);
        let mut last = 0;
        for l in &c.labels {
            assert!(l.start >= last && l.end > l.start && l.end <= c.text.len());
            assert!(c.text.is_char_boundary(l.start) && c.text.is_char_boundary(l.end));
            last = l.end;
        }
        let kinds: std::collections::BTreeSet<&str> = c.labels.iter().map(|l| l.kind).collect();
        assert_eq!(kinds.len(), 36, "every kind appears: {kinds:?}");
    }
}
