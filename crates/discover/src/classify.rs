//! One column's category, from what its schema says, its name, and the
//! values sampled from it; with the reason, in words that hold no value.

use privctl_policy::model::Category;
use privctl_redact::{Builtin, Kind, Redactor};

/// What the sample of one column showed.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// Values that were not NULL (or empty).
    pub seen: usize,
    /// The kind most values are wholly made of, and how many are.
    pub dominant: Option<(Builtin, usize)>,
}

impl Evidence {
    /// Runs the detectors over each value: a value counts for a kind when
    /// one finding of that kind covers nearly all of it.
    pub fn of(redactor: &Redactor, values: &[Option<String>]) -> Evidence {
        let mut counts: Vec<(Builtin, usize)> = Vec::new();
        let mut seen = 0;
        for v in values.iter().flatten() {
            let v = v.trim();
            if v.is_empty() {
                continue;
            }
            seen += 1;
            let whole = redactor
                .find(v)
                .into_iter()
                .find(|f| f.len() * 5 >= v.len() * 4);
            if let Some(Kind::Builtin(b)) = whole.map(|f| f.kind) {
                match counts.iter_mut().find(|(k, _)| *k == b) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((b, 1)),
                }
            }
        }
        let dominant = counts.into_iter().max_by_key(|(_, n)| *n);
        Evidence { seen, dominant }
    }

    /// The kind that at least half of the values are.
    fn majority(&self) -> Option<(Builtin, usize)> {
        self.dominant.filter(|(_, n)| *n * 2 >= self.seen && *n > 0)
    }
}

/// A guess and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guess {
    /// The category.
    pub category: Category,
    /// What was seen, without any value: "42 of 50 sampled values are
    /// emails", "a foreign key to users.id".
    pub why: String,
}

fn guess(category: Category, why: impl Into<String>) -> Guess {
    Guess {
        category,
        why: why.into(),
    }
}

/// What a column is, as its table's schema says.
#[derive(Debug, Clone, Copy)]
pub struct Shape<'a> {
    /// The table's name.
    pub table: &'a str,
    /// The column's name.
    pub column: &'a str,
    /// Whether it is the primary key, alone.
    pub primary_key: bool,
    /// The `table.column` it references, if a foreign key.
    pub references: Option<(&'a str, &'a str)>,
    /// Whether it holds points in time.
    pub time: bool,
}

/// The category a detector's kind puts a column in.
fn category_of(kind: Builtin) -> Category {
    use Builtin as B;
    match kind {
        B::Email | B::Phone => Category::Contact,
        B::Ipv4 | B::Ipv6 => Category::IpAddress,
        B::MacAddress | B::Imei => Category::DeviceFingerprint,
        B::InPan | B::InAadhaar | B::InGstin | B::UkNino | B::UsSsn => Category::Kyc,
        B::CreditCard | B::Iban => Category::Financial,
        B::CryptoWallet => Category::Identifier,
        _ => Category::Credential,
    }
}

/// How a kind is named in a sentence, in the plural.
fn plural(kind: Builtin) -> String {
    use Builtin as B;
    match kind {
        B::Email => "email addresses".into(),
        B::Phone => "phone numbers".into(),
        B::Ipv4 => "IPv4 addresses".into(),
        B::Ipv6 => "IPv6 addresses".into(),
        B::CreditCard => "card numbers".into(),
        B::InPan => "PANs".into(),
        B::InAadhaar => "Aadhaar numbers".into(),
        k => format!("{} values", k.name()),
    }
}

/// The words of a name: `snake_case`, `kebab-case` and `camelCase` alike.
fn words(name: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        word.push(c.to_ascii_lowercase());
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// Whether a column's name says it identifies someone at an identity
/// provider: an OAuth subject, a Firebase or Auth0 id.
pub fn is_external_auth_id(column: &str) -> bool {
    let w = words(column);
    let has = |x: &str| w.iter().any(|v| v == x);
    let provider = [
        "google", "firebase", "auth0", "oauth", "okta", "cognito", "github", "apple", "sso",
    ]
    .iter()
    .any(|p| has(p));
    (provider && (has("id") || has("uid") || has("sub")))
        || (w.len() > 1 && w.last().is_some_and(|v| v == "sub"))
        || column == "external_auth_id"
}

/// Whether a column's name says it is a customer id at a payment processor.
pub fn is_payment_customer_id(column: &str) -> bool {
    let w = words(column);
    w.iter().any(|v| v == "customer") && w.last().is_some_and(|v| v == "id")
}

/// The category of one column, and why.
pub fn classify(shape: Shape<'_>, evidence: &Evidence) -> Guess {
    if let Some((t, c)) = shape.references {
        return guess(Category::Identifier, format!("a foreign key to {t}.{c}"));
    }
    // What the values are says more than the name, except for values that
    // only look random (a generic secret): a name such as
    // `processor_reference` says better what those are.
    let seen = evidence.majority().map(|(kind, n)| {
        guess(
            category_of(kind),
            format!(
                "{n} of {} sampled values are {}",
                evidence.seen,
                plural(kind)
            ),
        )
    });
    match seen {
        Some(g) if g.category != Category::Credential => return g,
        _ => {}
    }
    if shape.primary_key {
        return guess(Category::Identifier, "the primary key");
    }
    if shape.time {
        return guess(Category::Metadata, "a point in time");
    }
    by_name(shape).or(seen).unwrap_or_else(|| {
        guess(
            Category::Metadata,
            format!(
                "nothing in its name or in its {} sampled values looks personal",
                evidence.seen
            ),
        )
    })
}

/// What a column's name alone suggests.
fn by_name(shape: Shape<'_>) -> Option<Guess> {
    let w = words(shape.column);
    let t = words(shape.table);
    let has = |x: &str| w.iter().any(|v| v == x);
    let any = |xs: &[&str]| xs.iter().any(|x| has(x));
    let named = |what: &str| format!("named like {what}");
    // A setting about data (`prompt_retention`, `log_ttl_days`) is not the
    // data.
    if any(&["retention", "ttl", "period", "days", "enabled"]) {
        return None;
    }
    let hashed = any(&["hash", "hmac", "digest", "hashed"]);
    if any(&["ip", "ipv4", "ipv6"]) || shape.column == "remote_addr" {
        return Some(if hashed {
            guess(Category::IpHash, named("a keyed hash of an IP address"))
        } else {
            guess(Category::IpAddress, named("an IP address"))
        });
    }
    if any(&["device", "fingerprint"]) || shape.column == "user_agent" {
        return Some(if hashed {
            guess(
                Category::DeviceHash,
                named("a keyed hash of a device fingerprint"),
            )
        } else {
            guess(
                Category::DeviceFingerprint,
                named("a device or browser fingerprint"),
            )
        });
    }
    if hashed
        && !any(&[
            "password",
            "passwd",
            "secret",
            "key",
            "token",
            "api",
            "credential",
        ])
    {
        if any(&["email", "phone", "user", "customer"]) {
            return Some(guess(
                Category::Identifier,
                named("a hash of someone's identifier"),
            ));
        }
        if !has("digest") {
            return None;
        }
    }
    if any(&["password", "passwd", "secret"]) || hashed {
        return Some(guess(
            Category::Credential,
            named("a password hash or key digest"),
        ));
    }
    if any(&["pan", "aadhaar", "passport", "ssn", "nino", "gstin", "kyc"]) {
        return Some(guess(Category::Kyc, named("an identity document")));
    }
    if any(&["email", "phone", "mobile", "postal", "street", "address"]) {
        return Some(guess(Category::Contact, named("contact details")));
    }
    if any(&[
        "city",
        "country",
        "region",
        "latitude",
        "longitude",
        "geo",
        "location",
        "postcode",
    ]) {
        return Some(guess(Category::Location, named("a location")));
    }
    let about_content = matches!(
        w.last().map(String::as_str),
        Some("type" | "id" | "length" | "size" | "count" | "encoding" | "version" | "format")
    );
    if !about_content
        && any(&[
            "content",
            "prompt",
            "completion",
            "message",
            "messages",
            "body",
            "transcript",
        ])
    {
        return Some(guess(
            Category::PromptContent,
            named("content a person wrote"),
        ));
    }
    if has("title")
        && t.iter().any(|v| {
            ["github", "gitlab", "pull", "requests", "issues", "repo"].contains(&v.as_str())
        })
    {
        return Some(guess(
            Category::Integration,
            named("an integration's record"),
        ));
    }
    if is_payment_customer_id(shape.column) || is_external_auth_id(shape.column) {
        return Some(guess(
            Category::Identifier,
            named("an account's id elsewhere"),
        ));
    }
    let money = any(&[
        "amount", "cost", "price", "earning", "earnings", "balance", "fee", "fees", "revenue",
        "refund", "payout", "paise", "cents",
    ]) || (any(&["delta", "micros", "micro"]) && any(&["usd", "inr", "eur", "gbp"]));
    let payment_ref = any(&["payment", "charge", "invoice", "transaction"])
        && any(&["id", "ref", "reference"])
        || (has("processor") && any(&["ref", "reference"]));
    if money || payment_ref {
        return Some(guess(Category::Financial, named("money or a payment")));
    }
    if any(&["wallet"]) {
        return Some(guess(Category::Identifier, named("a wallet address")));
    }
    let not_person = [
        "model", "tool", "plan", "product", "price", "currency", "region", "endpoint", "task",
    ];
    if matches!(
        w.last().map(String::as_str),
        Some("id" | "uid" | "guid" | "uuid")
    ) && w.len() > 1
        && !not_person.contains(&w[0].as_str())
    {
        return Some(guess(Category::Identifier, named("an id")));
    }
    const ACCOUNT: [&str; 14] = [
        "name",
        "display_name",
        "username",
        "user_name",
        "full_name",
        "first_name",
        "last_name",
        "nickname",
        "plan",
        "subscription_status",
        "subscription",
        "oauth_provider",
        "avatar_url",
        "bio",
    ];
    if ACCOUNT.contains(&shape.column) {
        return Some(guess(Category::Account, named("account details")));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(column: &str) -> Shape<'_> {
        Shape {
            table: "t",
            column,
            primary_key: false,
            references: None,
            time: false,
        }
    }

    #[test]
    fn names_alone_give_the_usual_categories() {
        let cat = |c: &str| classify(shape(c), &Evidence::default()).category;
        assert_eq!(cat("password_hash"), Category::Credential);
        assert_eq!(cat("key_digest"), Category::Credential);
        assert_eq!(cat("ip_hmac"), Category::IpHash);
        assert_eq!(cat("device_hmac"), Category::DeviceHash);
        assert_eq!(cat("ip_address"), Category::IpAddress);
        assert_eq!(cat("device_info"), Category::DeviceFingerprint);
        assert_eq!(cat("stripe_customer_id"), Category::Identifier);
        assert_eq!(cat("firebase_uid"), Category::Identifier);
        assert_eq!(cat("google_sub"), Category::Identifier);
        assert_eq!(cat("amount_inr_paise"), Category::Financial);
        assert_eq!(cat("razorpay_payment_id"), Category::Financial);
        assert_eq!(cat("model_id"), Category::Metadata);
        assert_eq!(cat("display_name"), Category::Account);
        assert_eq!(cat("input_tokens"), Category::Metadata);
        assert_eq!(cat("prompt_retention"), Category::Metadata);
        assert_eq!(cat("latency_micros"), Category::Metadata);
        assert_eq!(cat("content_type"), Category::Metadata);
        assert_eq!(cat("content_hash"), Category::Metadata);
        assert_eq!(cat("email_hash"), Category::Identifier);
        assert_eq!(cat("sub_total"), Category::Metadata);
        assert_eq!(cat("credit_limit"), Category::Metadata);
        assert_eq!(cat("emailAddress"), Category::Contact);
        assert_eq!(cat("stripeCustomerId"), Category::Identifier);
        assert!(is_external_auth_id("google_sub"));
        assert!(is_payment_customer_id("stripe_customer_id"));
        assert!(!is_external_auth_id("session_id"));
    }
}
