//! The policy file's types, one per TOML table.
//!
//! The shape follows SPEC.md section 1: who the data subject is and where their
//! data lives, every data type with its retention, the legal floors that
//! override requests, the erasure workflow, the response clocks of each legal
//! regime, export contents, redaction rules and pseudonymisation. The engines
//! (retention sweeps, exports, erasure, redaction, the vault) read these types
//! and nothing else, so every decision they make is written here first.
//!
//! Unknown keys are not refused by serde itself: the parser collects every one
//! of them with its location (see [`crate::check`]), so a typo is reported
//! together with all the other findings rather than one run at a time.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{ColumnRef, RetentionPeriod, SqlIdent};

pub use crate::calendar::{FinancialYear, InvalidCalendar, MonthDay, UtcOffset};

/// The version of the policy format that this crate reads.
pub const FORMAT_VERSION: u32 = 1;

/// A whole policy file: one organisation's privacy promises, made enforceable.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Policy {
    /// Version of the policy format; this release reads version 1.
    pub version: u32,
    /// Who the policy belongs to and where its promises were read from.
    pub organisation: Organisation,
    /// Where data lives: databases, telemetry stores and file directories, by name.
    #[serde(default)]
    pub stores: BTreeMap<String, Store>,
    /// How a person is identified and which tables hold data about them.
    pub subject: Subject,
    /// Every kind of data kept, by name.
    #[serde(default)]
    pub data_types: BTreeMap<String, DataType>,
    /// Data that law (or a promise as binding) requires to be kept, by name.
    #[serde(default)]
    pub legal_floors: BTreeMap<String, LegalFloor>,
    /// How an erasure request is carried out.
    pub erasure: Erasure,
    /// Response clocks of each legal regime the organisation answers to.
    #[serde(default)]
    pub regimes: Regimes,
    /// Breach notification promises.
    pub breach: Option<Breach>,
    /// What an access or portability export contains.
    pub export: Option<Export>,
    /// Which detectors redact which data, and how.
    #[serde(default)]
    pub redaction: Redaction,
    /// Keyed hashing of network and device identifiers, and secret digests.
    #[serde(default)]
    pub pseudonymisation: Pseudonymisation,
    /// Customer tiers that may configure retention, by name.
    #[serde(default)]
    pub tiers: BTreeMap<String, Tier>,
}

/// Who the policy belongs to.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Organisation {
    /// Trading name.
    pub name: String,
    /// Legal entity, where it differs from the name.
    pub legal_entity: Option<String>,
    /// The document this policy encodes (file, URL, date).
    pub source: Option<String>,
    /// Where data-subject requests are sent.
    pub contact: Option<String>,
    /// When the organisation's financial year starts, for periods counted
    /// from a financial year's end (`from = "financial_year_end"`).
    pub financial_year: Option<FinancialYear>,
}

/// A place where data lives.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Store {
    /// What kind of store it is; this decides how retention is applied.
    pub kind: StoreKind,
    /// What the store is, for people.
    pub description: Option<String>,
    /// Environment variable holding the connection URL. URLs carry
    /// credentials, so they never appear in a policy file.
    pub url_env: Option<String>,
    /// For a `files` store: the directory, relative to the working directory
    /// or absolute. For `sqlite`: the default database file.
    pub path: Option<String>,
}

/// The kinds of store the engines can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StoreKind {
    /// An SQLite database file (the embedded default).
    Sqlite,
    /// A PostgreSQL database.
    Postgres,
    /// A ClickHouse-style telemetry table with TTL expressions.
    Clickhouse,
    /// A directory of files or objects, expired by modification time.
    Files,
}

impl StoreKind {
    /// Whether data in this store lives in tables with columns.
    pub fn is_tabular(self) -> bool {
        !matches!(self, StoreKind::Files)
    }
}

/// The data subject: how a person is identified and where their data is.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Subject {
    /// The ways a person is identified, each at its home column.
    pub identifiers: Vec<SubjectIdentifier>,
    /// Every other table (or directory) that holds data about a person,
    /// joined to an identifier directly or through foreign keys.
    #[serde(default)]
    pub links: Vec<SubjectLink>,
    /// Where the events that retention periods count from are recorded.
    #[serde(default)]
    pub events: SubjectEvents,
}

/// Where a subject's life events are recorded: the sources of the
/// `last_activity`, `account_closed` and `deletion_requested` anchors. Each
/// column is reached from a data type's rows through the subject map, so
/// every row counts from its own subject's event; a subject whose event has
/// not happened (a NULL) is not expired by it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct SubjectEvents {
    /// Column holding the subject's last activity (e.g. `users.last_active_at`).
    pub last_activity: Option<ColumnRef>,
    /// Column holding when the account was closed (e.g. `users.closed_at`).
    pub account_closed: Option<ColumnRef>,
    /// Where deletion requests are recorded: `"privctl"` for privctl's own
    /// request records (`privctl erase request`), or a column the application
    /// sets (e.g. `users.deletion_requested_at`).
    pub deletion_requested: Option<EventSource>,
}

/// Where an event is recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum EventSource {
    /// privctl's own records (`privctl_requests`, in the store holding the
    /// subject's identifiers).
    Privctl,
    /// A column the application sets.
    Column(ColumnRef),
}

impl EventSource {
    /// The column, when the application records the event.
    pub fn column(&self) -> Option<&ColumnRef> {
        match self {
            EventSource::Privctl => None,
            EventSource::Column(c) => Some(c),
        }
    }
}

impl TryFrom<String> for EventSource {
    type Error = crate::InvalidColumnRef;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        if s == "privctl" {
            Ok(EventSource::Privctl)
        } else {
            s.parse().map(EventSource::Column)
        }
    }
}

impl From<EventSource> for String {
    fn from(e: EventSource) -> String {
        match e {
            EventSource::Privctl => "privctl".to_owned(),
            EventSource::Column(c) => c.to_string(),
        }
    }
}

impl JsonSchema for EventSource {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "EventSource".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "\"privctl\" for privctl's own request records, or a column written table.column.",
            "pattern": "^(privctl|[A-Za-z_][A-Za-z0-9_]{0,62}\\.[A-Za-z_][A-Za-z0-9_]{0,62})$"
        })
    }
}

/// One way of identifying a person.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct SubjectIdentifier {
    /// Name used by requests (`--subject email=...`).
    pub name: String,
    /// What kind of identifier it is.
    pub kind: IdentifierKind,
    /// Store holding it.
    pub store: String,
    /// Table holding it.
    pub table: SqlIdent,
    /// Column holding it.
    pub column: SqlIdent,
}

/// Kinds of identifier a person can be found by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierKind {
    /// The platform's own user id; the key every link leads to.
    UserId,
    /// An email address.
    Email,
    /// An id issued by an external identity provider (OAuth subject, Firebase UID).
    ExternalAuthId,
    /// A customer id at a payment processor.
    PaymentCustomerId,
}

/// A table or directory that holds data about a person.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct SubjectLink {
    /// Store holding it.
    pub store: String,
    /// Table (for tabular stores).
    pub table: Option<SqlIdent>,
    /// Column that refers to the subject or to another linked table.
    pub column: Option<SqlIdent>,
    /// What `column` refers to, as `table.column` in the same store: an
    /// identifier's home or another link's table, so data reached through
    /// foreign keys is found.
    pub references: Option<ColumnRef>,
    /// The subject identifier whose value `column` holds, for data in another
    /// store than the identifier's home (a telemetry table keyed by user id).
    pub identifier: Option<String>,
    /// For a `files` store: the path under the store, with `{identifier}`
    /// placeholders (e.g. `{user_id}/`).
    pub path: Option<String>,
}

/// One kind of data the organisation keeps.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct DataType {
    /// What this data is, for people.
    pub description: String,
    /// Store it lives in.
    pub store: String,
    /// Table, for tabular stores.
    pub table: Option<SqlIdent>,
    /// Path under a `files` store.
    pub path: Option<String>,
    /// Column that retention counts from, for tabular stores. Files count
    /// from their modification time.
    pub timestamp: Option<SqlIdent>,
    /// What it contains.
    #[serde(default)]
    pub categories: Vec<Category>,
    /// Every column of the table, classified. A live-schema check fails on
    /// a column missing here.
    #[serde(default)]
    pub columns: BTreeMap<SqlIdent, Category>,
    /// Column where privctl records when it anonymised a row (by retention
    /// or erasure): rows with a value are not anonymised again, and a
    /// retention `from = "anonymised"` counts from it.
    pub anonymised_at: Option<SqlIdent>,
    /// How long it is kept and what happens then.
    pub retention: Option<Retention>,
    /// What an erasure request does to it.
    pub erasure: Option<ErasureRule>,
}

/// What a data type or a column contains.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Account records: names, settings, plan.
    Account,
    /// Contact details: email, phone, postal address.
    Contact,
    /// Identifiers of a person: user ids, auth ids.
    Identifier,
    /// Payments, invoices, ledgers, wallets.
    Financial,
    /// KYC identity documents (PAN, Aadhaar).
    Kyc,
    /// Usage metrics and operational telemetry.
    Telemetry,
    /// Request, server and access logs.
    Logs,
    /// Audit trails of administrative actions.
    Audit,
    /// Prompts, completions and other content a person wrote or generated.
    PromptContent,
    /// Generated media (images, audio).
    GeneratedContent,
    /// Raw network addresses.
    IpAddress,
    /// Keyed hashes of network addresses.
    IpHash,
    /// Raw device or browser fingerprints.
    DeviceFingerprint,
    /// Keyed hashes of device fingerprints.
    DeviceHash,
    /// Password hashes and API key digests.
    Credential,
    /// Approximate location (city level).
    Location,
    /// Third-party integration metadata (e.g. pull-request titles).
    Integration,
    /// Data that is not about a person: timestamps, counts, model names.
    Metadata,
}

/// How long a data type is kept and what happens when the time is up.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Retention {
    /// How long.
    pub period: RetentionPeriod,
    /// The event the period counts from.
    pub from: Anchor,
    /// What happens when it expires.
    pub action: ExpiryAction,
    /// Columns and how each is anonymised, when `action = "anonymise"`.
    #[serde(default)]
    pub anonymise: BTreeMap<SqlIdent, AnonymiseMethod>,
    /// How rows are rolled up, when `action = "roll_up"`.
    pub roll_up: Option<RollUp>,
    /// Whether a customer may change the period.
    #[serde(default)]
    pub configurable: bool,
    /// Tiers allowed to change it; empty means every tier.
    #[serde(default)]
    pub tiers: Vec<String>,
    /// Shortest period a customer may choose.
    pub min: Option<RetentionPeriod>,
    /// Longest period a customer may choose.
    pub max: Option<RetentionPeriod>,
    /// Where each customer's chosen period is recorded, when customers may
    /// choose one (`configurable`).
    pub customer: Option<CustomerChoice>,
    /// Rows matching a condition kept for a different period (as ClickHouse
    /// `TTL ... WHERE`), first match wins.
    #[serde(default)]
    pub rules: Vec<ConditionalRetention>,
}

/// The event a retention period counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Anchor {
    /// When the record was written.
    Created,
    /// The subject's last activity.
    LastActivity,
    /// When the account (the business relationship) ended.
    AccountClosed,
    /// When the subject asked for erasure.
    DeletionRequested,
    /// When the record was anonymised by an erasure.
    Anonymised,
    /// The end of the financial year in which the record was written
    /// (`[organisation] financial_year`), as records laws count: India's
    /// Companies Act keeps books eight financial years.
    FinancialYearEnd,
}

impl Anchor {
    /// Whether a period counted from `self` always ends no earlier than the
    /// same period counted from `other`, because `self` never happens before
    /// `other`.
    pub fn never_before(self, other: Anchor) -> bool {
        use Anchor::*;
        // Erasure closes the account when it anonymises, after the request,
        // and a request is itself the subject's last activity. A record's
        // financial year ends after it was written; but a period counted
        // from creation may still meet one counted from the year's end if
        // it is a year longer (see `check`).
        self == other
            || other == Created
            || (self == Anonymised
                && matches!(other, DeletionRequested | AccountClosed | LastActivity))
            || (self == AccountClosed && other == LastActivity)
            || (self == DeletionRequested && other == LastActivity)
    }
}

/// What happens to data when its retention expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExpiryAction {
    /// Rows or files are deleted.
    Delete,
    /// Named columns are anonymised; rows are kept.
    Anonymise,
    /// Rows are aggregated into a roll-up table and the originals deleted.
    RollUp,
    /// The vault keys are destroyed, so sealed values become unreadable.
    CryptoShred,
}

impl ExpiryAction {
    /// Whether the action destroys the data (rather than keeping an anonymised form).
    pub fn destroys(self) -> bool {
        matches!(self, ExpiryAction::Delete | ExpiryAction::CryptoShred)
    }
}

/// Where a customer's own retention choice is recorded. Both columns are
/// reached from the data type's rows through the subject map; or, where the
/// customer is not the person (an organisation choosing for its telemetry),
/// `by` names the column of the data type's rows that holds the customer
/// and `key` the column of the choice's table it matches. A choice outside
/// `min`..`max`, unreadable, or made by a tier not allowed to choose is
/// refused: the default period applies, and the sweep reports it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct CustomerChoice {
    /// Column holding the chosen period as text (`"180d"`); NULL for none.
    pub period: ColumnRef,
    /// Column holding the customer's tier, checked against `tiers`.
    pub tier: Option<ColumnRef>,
    /// Column of the data type's rows holding the customer (with `key`).
    pub by: Option<SqlIdent>,
    /// Column of the choice's table identifying the customer (with `by`).
    pub key: Option<ColumnRef>,
}

/// How one column is anonymised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnonymiseMethod {
    /// Set to NULL.
    Null,
    /// Replaced by a fixed placeholder such as `[REDACTED]`.
    Placeholder,
    /// Replaced by a keyed-hash pseudonym: the same input gives the same token,
    /// so anonymised references still join to each other.
    Pseudonym,
    /// Replaced by a random value unique to this row.
    Random,
}

/// How rows are aggregated before the originals are deleted.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RollUp {
    /// Table the aggregates are written to.
    pub into: SqlIdent,
    /// Columns kept as grouping keys (never a subject reference).
    pub group_by: Vec<SqlIdent>,
    /// Columns summed.
    #[serde(default)]
    pub sum: Vec<SqlIdent>,
    /// Period of each bucket (e.g. `1d`).
    pub bucket: RetentionPeriod,
}

/// A different period for rows that match a condition.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ConditionalRetention {
    /// Column tested.
    pub column: SqlIdent,
    /// Values that select the row (as text; compared as the column's type).
    pub equals: Vec<String>,
    /// Period for matching rows.
    pub period: RetentionPeriod,
}

/// What an erasure request does to one data type.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ErasureRule {
    /// The action.
    pub action: ErasureAction,
    /// Columns and methods, when `action = "anonymise"` or `"pseudonymise"`.
    #[serde(default)]
    pub anonymise: BTreeMap<SqlIdent, AnonymiseMethod>,
}

impl ErasureAction {
    /// Whether the rows are kept with columns replaced (`anonymise`,
    /// `pseudonymise`).
    pub fn replaces_columns(self) -> bool {
        matches!(self, ErasureAction::Anonymise | ErasureAction::Pseudonymise)
    }
}

/// Erasure actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErasureAction {
    /// Deleted when the erasure executes.
    Delete,
    /// Anonymised and kept (its retention then counts on, often from `anonymised`).
    Anonymise,
    /// References replaced by keyed pseudonyms and kept: pseudonymisation,
    /// not anonymisation (the rows stay personal data while the pseudonym key
    /// exists, GDPR Art. 4(5)); carried out as `anonymise` is.
    Pseudonymise,
    /// Kept as is until its legal floor ends, then deleted.
    KeepUntilFloor,
    /// Vault keys destroyed: sealed values become unreadable at once.
    CryptoShred,
}

/// Data that law requires to be kept.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct LegalFloor {
    /// The law or obligation, cited.
    pub law: String,
    /// Whether the floor is a legal obligation or the organisation's own
    /// commitment. Only a statute may keep a person's data against their
    /// erasure (GDPR Art. 17(3)(b)); a commitment can keep the record with
    /// the person removed.
    pub basis: Option<FloorBasis>,
    /// The minimum period.
    pub period: RetentionPeriod,
    /// The event it counts from.
    pub from: Anchor,
    /// Data types it protects.
    pub applies_to: Vec<String>,
    /// Requests it overrides: such a request cannot remove this data before
    /// the floor ends.
    #[serde(default)]
    pub overrides: Vec<RequestKind>,
}

/// What makes a legal floor binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FloorBasis {
    /// A law or regulation requires it (cite it in `law`).
    Statute,
    /// The organisation promised it; no law requires it.
    Commitment,
}

/// Kinds of data-subject request.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// Access (GDPR Art. 15, CCPA right to know).
    Access,
    /// Portability (GDPR Art. 20).
    Portability,
    /// Erasure (GDPR Art. 17, CCPA deletion).
    Erasure,
    /// Rectification.
    Correction,
    /// Restriction of processing (GDPR Art. 18).
    Restriction,
    /// Objection (GDPR Art. 21).
    Objection,
}

/// The erasure workflow.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Erasure {
    /// Time between the request and its execution, during which the subject
    /// may cancel.
    pub grace_period: Option<RetentionPeriod>,
    /// Whether the request can be cancelled during the grace period.
    #[serde(default)]
    pub cancellable: bool,
    /// Vault keys are crypto-shredded at execution.
    #[serde(default)]
    pub crypto_shred_vault: bool,
}

/// Response clocks per legal regime.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Regimes {
    /// EU/UK GDPR.
    pub gdpr: Option<RegimeClock>,
    /// California CCPA/CPRA.
    pub ccpa: Option<RegimeClock>,
    /// India's Digital Personal Data Protection Act 2023 and Rules 2025.
    pub dpdp: Option<RegimeClock>,
}

/// How fast requests under one regime are answered.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RegimeClock {
    /// Deadline to answer a request.
    pub response: RetentionPeriod,
    /// Longest extension, with notice to the subject.
    pub extension: Option<RetentionPeriod>,
    /// Business days to acknowledge a request (CCPA: 10).
    pub acknowledge_business_days: Option<u32>,
    /// DPDP: erase personal data after this much inactivity.
    pub inactivity_erasure: Option<RetentionPeriod>,
    /// DPDP: notice given before an inactivity erasure.
    pub inactivity_notice: Option<RetentionPeriod>,
    /// Requests the regime grants, for the record.
    #[serde(default)]
    pub rights: Vec<RequestKind>,
}

/// Breach notification.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Breach {
    /// Deadline to notify the supervisory authority.
    pub notify_authority_within: RetentionPeriod,
    /// Affected people are told without undue delay.
    #[serde(default)]
    pub notify_subjects: bool,
    /// Deadline to report an incident to India's CERT-In (six hours).
    pub notify_cert_in_within: Option<RetentionPeriod>,
}

/// What an access or portability export contains.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Export {
    /// File formats inside the archive.
    pub formats: Vec<ExportFormat>,
    /// Data types included.
    pub data_types: Vec<String>,
    /// How long a download link stays valid.
    pub link_expiry: RetentionPeriod,
    /// Vaulted fields appear masked unless the operator asks otherwise.
    #[serde(default = "yes")]
    pub mask_vaulted: bool,
}

fn yes() -> bool {
    true
}

/// Export file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// JSON documents.
    Json,
    /// CSV tables.
    Csv,
}

/// Redaction of personal data and secrets.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Redaction {
    /// Whether prompt content may be captured at all.
    #[serde(default)]
    pub prompt_capture: PromptCapture,
    /// Which detectors run on which data, with which operator.
    #[serde(default)]
    pub rules: Vec<RedactionRule>,
    /// Operators chosen per detector, overriding the rule's operator.
    #[serde(default)]
    pub operators: BTreeMap<String, OperatorChoice>,
    /// Detectors specific to this organisation.
    #[serde(default)]
    pub custom: Vec<CustomDetector>,
    /// Values and patterns never redacted.
    #[serde(default)]
    pub allowlist: Allowlist,
}

/// Whether prompts may be stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PromptCapture {
    /// Prompts and completions are never stored.
    #[default]
    Never,
    /// Off unless an organisation admin enables it.
    AdminOptIn,
}

/// One redaction rule.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RedactionRule {
    /// Data types it applies to; empty means every stream given to `redact`.
    #[serde(default)]
    pub data_types: Vec<String>,
    /// JSON field paths (`messages[*].content`) it is limited to; empty means all.
    #[serde(default)]
    pub fields: Vec<String>,
    /// JSON field paths left alone.
    #[serde(default)]
    pub exclude_fields: Vec<String>,
    /// Detector kinds (canonical or custom names), or `"all"`.
    pub detectors: Vec<String>,
    /// How findings are replaced.
    pub operator: Operator,
    /// For `mask`: how many trailing characters stay visible.
    pub keep_last: Option<u32>,
}

/// An operator and its parameter.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct OperatorChoice {
    /// The operator.
    pub operator: Operator,
    /// For `mask`: how many trailing characters stay visible.
    pub keep_last: Option<u32>,
}

/// Redaction operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    /// A typed placeholder, `[EMAIL]`.
    Placeholder,
    /// All but the last N characters masked.
    Mask,
    /// A keyed-hash pseudonym: same input, same token.
    Pseudonym,
    /// Removed entirely.
    Remove,
    /// Sealed in the vault; reversible by key holders.
    Encrypt,
    /// Reversible prompt tokens (`<EMAIL_1>`) restored from a per-conversation map.
    Token,
}

/// A detector defined by the policy.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct CustomDetector {
    /// Kind name reported in findings.
    pub name: String,
    /// Regular expression (Rust `regex` syntax).
    pub pattern: String,
    /// Literal anchors: the pattern is only tried near one of these.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Validation applied to each candidate.
    #[serde(default)]
    pub validator: Validator,
}

/// Validators a custom detector may use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Validator {
    /// Any match is a finding.
    #[default]
    None,
    /// Luhn checksum (card numbers).
    Luhn,
    /// ISO 13616 mod-97 (IBAN).
    Mod97,
    /// Verhoeff checksum (Aadhaar).
    Verhoeff,
    /// Shannon entropy above the generic-secret threshold.
    Entropy,
}

/// Values never redacted.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Allowlist {
    /// Exact values.
    #[serde(default)]
    pub values: Vec<String>,
    /// Regular expressions matched against the whole finding.
    #[serde(default)]
    pub patterns: Vec<String>,
}

/// Pseudonymisation of identifiers that must not be stored raw.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Pseudonymisation {
    /// IP addresses.
    pub ip: Option<KeyedHashing>,
    /// Device or browser fingerprints.
    pub device_fingerprint: Option<KeyedHashing>,
    /// API keys.
    pub api_keys: Option<Digest>,
    /// Passwords.
    pub passwords: Option<PasswordHashing>,
}

/// Keyed hashing under rotating epoch keys.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct KeyedHashing {
    /// The keyed hash.
    pub algorithm: KeyedHashAlgorithm,
    /// How long one epoch key is used; destroying it ends linkability.
    pub key_rotation: RetentionPeriod,
    /// Whether the raw value may be stored at all.
    #[serde(default)]
    pub store_raw: bool,
}

/// Keyed hash algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyedHashAlgorithm {
    /// HMAC-SHA256.
    HmacSha256,
}

/// Digest-only storage of secrets.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Digest {
    /// The digest.
    pub algorithm: DigestAlgorithm,
}

/// Digest algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DigestAlgorithm {
    /// SHA-256.
    Sha256,
    /// A one-way hash whose algorithm the policy does not name.
    Unspecified,
}

/// Password hashing.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PasswordHashing {
    /// The password hash.
    pub algorithm: PasswordAlgorithm,
}

/// Password hash algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PasswordAlgorithm {
    /// bcrypt.
    Bcrypt,
    /// Argon2id.
    Argon2id,
    /// scrypt.
    Scrypt,
    /// A one-way hash whose algorithm the policy does not name.
    Unspecified,
}

/// A customer tier's retention choices.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Tier {
    /// Periods this tier uses instead of the defaults, by data type.
    #[serde(default)]
    pub retention: BTreeMap<String, RetentionPeriod>,
}

/// The name a value has in the policy file (its serde name: `roll_up`,
/// `deletion_requested`, `external_auth_id`), `?` for a value with none.
pub fn name_of<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::from("?"),
    }
}
