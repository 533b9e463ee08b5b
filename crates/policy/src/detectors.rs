//! The canonical detector kinds. Their names are part of the product's
//! contract (SPEC.md section 2): policies, findings and placeholders use them.

/// Every detector kind the redaction engine provides, by canonical name.
pub const DETECTOR_KINDS: &[&str] = &[
    "email",
    "phone",
    "credit_card",
    "iban",
    "us_ssn",
    "in_pan",
    "in_aadhaar",
    "ipv4",
    "ipv6",
    "mac_address",
    "aws_access_key",
    "aws_secret_key",
    "github_token",
    "gitlab_token",
    "openai_key",
    "anthropic_key",
    "google_api_key",
    "stripe_key",
    "slack_token",
    "jwt",
    "private_key",
    "url_credentials",
    "bearer_token",
    "password_assignment",
    "crypto_wallet",
    "high_entropy_secret",
    "in_gstin",
    "uk_nino",
    "imei",
    "sendgrid_key",
    "twilio_key",
    "npm_token",
    "huggingface_token",
    "azure_secret",
    "gcp_service_account",
    "db_connection_string",
];

/// Whether `name` is a canonical detector kind.
pub fn is_detector_kind(name: &str) -> bool {
    DETECTOR_KINDS.contains(&name)
}
