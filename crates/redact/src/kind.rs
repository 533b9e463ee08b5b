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
