//! Detector kinds: the canonical names of SPEC.md section 2, and custom kinds
//! a policy defines.

use std::fmt;
use std::sync::Arc;

macro_rules! builtin {
    ($($variant:ident => $name:literal, $label:literal, $priority:literal;)*) => {
        /// A built-in detector kind. Names are part of the product's contract.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Builtin {
            $(#[doc = concat!("`", $name, "`")] $variant,)*
        }

        impl Builtin {
            /// Every built-in kind.
            pub const ALL: &'static [Builtin] = &[$(Builtin::$variant,)*];

            /// The canonical name, e.g. `credit_card`.
            pub fn name(self) -> &'static str {
                match self { $(Builtin::$variant => $name,)* }
            }

            /// The placeholder label, e.g. `CREDIT_CARD`.
            pub fn label(self) -> &'static str {
                match self { $(Builtin::$variant => $label,)* }
            }

            /// Which finding wins when two overlap: the more specific kind.
            pub(crate) fn priority(self) -> u8 {
                match self { $(Builtin::$variant => $priority,)* }
            }

            /// The kind with this canonical name.
            pub fn from_name(name: &str) -> Option<Builtin> {
                match name { $($name => Some(Builtin::$variant),)* _ => None }
            }
        }
    };
}

builtin! {
    Email => "email", "EMAIL", 55;
    Phone => "phone", "PHONE", 40;
    CreditCard => "credit_card", "CREDIT_CARD", 65;
    Iban => "iban", "IBAN", 65;
    UsSsn => "us_ssn", "US_SSN", 60;
    InPan => "in_pan", "IN_PAN", 60;
    InAadhaar => "in_aadhaar", "IN_AADHAAR", 62;
    Ipv4 => "ipv4", "IPV4", 50;
    Ipv6 => "ipv6", "IPV6", 50;
    MacAddress => "mac_address", "MAC_ADDRESS", 50;
    AwsAccessKey => "aws_access_key", "AWS_ACCESS_KEY", 85;
    AwsSecretKey => "aws_secret_key", "AWS_SECRET_KEY", 80;
    GithubToken => "github_token", "GITHUB_TOKEN", 85;
    GitlabToken => "gitlab_token", "GITLAB_TOKEN", 85;
    OpenaiKey => "openai_key", "OPENAI_KEY", 85;
    AnthropicKey => "anthropic_key", "ANTHROPIC_KEY", 86;
    GoogleApiKey => "google_api_key", "GOOGLE_API_KEY", 85;
    StripeKey => "stripe_key", "STRIPE_KEY", 85;
    SlackToken => "slack_token", "SLACK_TOKEN", 85;
    Jwt => "jwt", "JWT", 95;
    PrivateKey => "private_key", "PRIVATE_KEY", 100;
    UrlCredentials => "url_credentials", "URL_CREDENTIALS", 90;
    BearerToken => "bearer_token", "BEARER_TOKEN", 75;
    PasswordAssignment => "password_assignment", "PASSWORD", 30;
    CryptoWallet => "crypto_wallet", "CRYPTO_WALLET", 70;
    HighEntropySecret => "high_entropy_secret", "SECRET", 10;
    InGstin => "in_gstin", "IN_GSTIN", 64;
    UkNino => "uk_nino", "UK_NINO", 60;
    Imei => "imei", "IMEI", 63;
    SendgridKey => "sendgrid_key", "SENDGRID_KEY", 85;
    TwilioKey => "twilio_key", "TWILIO_KEY", 85;
    NpmToken => "npm_token", "NPM_TOKEN", 85;
    HuggingfaceToken => "huggingface_token", "HUGGINGFACE_TOKEN", 85;
    AzureSecret => "azure_secret", "AZURE_SECRET", 85;
    GcpServiceAccount => "gcp_service_account", "GCP_SERVICE_ACCOUNT", 101;
    DbConnectionString => "db_connection_string", "DB_CONNECTION_STRING", 91;
}

/// The kind of a finding: built in, or defined by a policy.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A canonical detector.
    Builtin(Builtin),
    /// A policy's custom detector, by name.
    Custom(Arc<str>),
}

impl Kind {
    /// The name findings report.
    pub fn name(&self) -> &str {
        match self {
            Kind::Builtin(b) => b.name(),
            Kind::Custom(n) => n,
        }
    }

    /// The label placeholders and tokens use (`EMAIL`, `MY_DETECTOR`).
    pub fn label(&self) -> String {
        match self {
            Kind::Builtin(b) => b.label().to_owned(),
            Kind::Custom(n) => n.to_ascii_uppercase(),
        }
    }

    pub(crate) fn priority(&self) -> u8 {
        match self {
            Kind::Builtin(b) => b.priority(),
            // A policy's own detector is specific to it and beats generic ones.
            Kind::Custom(_) => 88,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Builtin {
    /// Whether the kind is a secret (a credential or key) rather than
    /// personal data about someone.
    pub fn is_secret(self) -> bool {
        use Builtin as B;
        !matches!(
            self,
            B::Email
                | B::Phone
                | B::CreditCard
                | B::Iban
                | B::UsSsn
                | B::InPan
                | B::InAadhaar
                | B::Ipv4
                | B::Ipv6
                | B::MacAddress
                | B::CryptoWallet
                | B::InGstin
                | B::UkNino
                | B::Imei
        )
    }

    /// What is checked before a candidate is reported, in a sentence.
    pub fn validation(self) -> &'static str {
        use Builtin as B;
        match self {
            B::Email => "a local part, @ and a domain name with a top-level domain; not the user:password@host of a URL",
            B::Phone => "E.164, North American or Indian formats; bare ten-digit numbers only beside a word like \"phone\"",
            B::CreditCard => "Luhn checksum and the networks' issuer prefixes and lengths",
            B::Iban => "the country's length in the SWIFT registry and the mod-97 checksum",
            B::UsSsn => "the SSA's area, group and serial rules",
            B::InPan => "five letters, four digits, a letter; the fourth letter a valid holder type",
            B::InAadhaar => "twelve digits not starting 0 or 1, Verhoeff checksum",
            B::Ipv4 => "four octets of 0 to 255, not a version number",
            B::Ipv6 => "a well-formed IPv6 address, IPv4-mapped included",
            B::MacAddress => "six hexadecimal pairs with one separator",
            B::AwsAccessKey => "an AKIA/ASIA-style prefix and 16 more characters, not a placeholder",
            B::AwsSecretKey => "40 characters of base64 next to an AWS secret key's name",
            B::GithubToken => "a documented ghp_/gho_/ghu_/ghs_/ghr_/github_pat_ prefix and length",
            B::GitlabToken => "every documented glpat-/gloas-/... prefix and length",
            B::OpenaiKey => "an sk- or sk-proj- prefix and a key's length",
            B::AnthropicKey => "an sk-ant- prefix and a key's length",
            B::GoogleApiKey => "AIza and 35 more characters",
            B::StripeKey => "sk_ or rk_, live or test; publishable pk_ keys are public",
            B::SlackToken => "xoxb-/xoxp-/xapp-/... tokens and webhook URLs",
            B::Jwt => "three base64url parts whose header decodes to JSON with alg",
            B::PrivateKey => "a PEM block (or base64 of one) holding key material",
            B::UrlCredentials => "user:password in a URL's authority",
            B::BearerToken => "a token after Bearer in a header",
            B::PasswordAssignment => "a value assigned to a name like password, secret, key or token, not a placeholder",
            B::CryptoWallet => "bech32 or base58check checksums; Ethereum addresses",
            B::HighEntropySecret => "length, mixed character classes, few vowels and high entropy; not UUIDs, hashes or paths",
            B::InGstin => "state code, PAN and GSTN's mod-36 check character",
            B::UkNino => "HMRC's prefix rules, compact or spaced",
            B::Imei => "a reporting body's prefix and Luhn checksum",
            B::SendgridKey => "SG. and two base64url parts of set lengths",
            B::TwilioKey => "SK and 32 hexadecimal digits",
            B::NpmToken => "npm_ and 36 characters",
            B::HuggingfaceToken => "hf_ or api_org_ and a token's length",
            B::AzureSecret => "Entra ID client secrets, storage AccountKey= and SharedAccessKey= values",
            B::GcpServiceAccount => "a service-account key file's JSON object, whole",
            B::DbConnectionString => "a database, cache or queue URL or key=value string holding a password",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_names_are_the_contract() {
        let names: Vec<&str> = Builtin::ALL.iter().map(|b| b.name()).collect();
        assert_eq!(names, privctl_policy::DETECTOR_KINDS);
        for b in Builtin::ALL {
            assert_eq!(Builtin::from_name(b.name()), Some(*b));
        }
    }
}
