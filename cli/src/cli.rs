//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Compliance and privacy-rights engine: policy checks, redaction, retention,
/// data-subject requests and a KYC vault, driven by declarative policy files.
#[derive(Debug, Parser)]
#[command(name = "privctl", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// More diagnostics on stderr: -v what each step did, -vv per batch and
    /// table, -vvv everything. PRIVCTL_LOG (e.g.
    /// `privctl_retention=debug,sqlx=warn`) chooses them exactly instead.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Errors only: no diagnostics or summary lines on stderr (check prints
    /// its findings and nothing else).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate policy files: syntax, format, and rules against the law and themselves.
    ///
    /// Exits 0 when clean (warnings allowed), 1 when a policy has errors, 2 when
    /// a file cannot be read or the arguments are wrong.
    Check(CheckArgs),
    /// Print the JSON Schema of the policy format.
    Schema,
    /// Report personal data and secrets without changing anything.
    ///
    /// Prints `file:line:col: kind` per finding (or, with --json, one JSON
    /// object per line with kind, start and end byte offsets into the whole
    /// input, line and column). Values themselves are never printed. Exits 0,
    /// or 1 with --fail-on-findings when something is found; 2 on errors.
    Scan(ScanArgs),
    /// Write the input with personal data and secrets replaced.
    ///
    /// Text is streamed in bounded memory; JSON and JSON Lines are redacted
    /// value by value and CSV cell by cell, with the policy's field rules.
    Redact(RedactArgs),
    /// Draft a policy from a live database: every table a data type, every
    /// column classified from its name, its schema and a sample of its
    /// values, the person's table, identifiers and links found.
    ///
    /// No sampled value is ever written or printed; each guess says what it
    /// saw ("20 of 20 sampled values are email addresses"). The draft has no
    /// retention: `privctl check` lists what to decide. With --policy, only
    /// what that policy does not cover is drafted (the fix for the drift
    /// `check --db` reports).
    Discover(DiscoverArgs),
    /// List every detector: its kind, what it checks before reporting, and
    /// its default operator.
    Detectors(DetectorsArgs),
    /// Print a shell completion script: `privctl completions bash >
    /// /etc/bash_completion.d/privctl` (or zsh, fish, powershell).
    Completions(CompletionsArgs),
    /// Print privctl's man page (roff), generated from the same definitions
    /// as --help: `privctl man > privctl.1`.
    Man,
    /// Open the sealed tokens the encrypt operator wrote, with the vault's
    /// keys.
    ///
    /// A token opens only as the data type, field and kind it was sealed
    /// for, and not at all once its subject was crypto-shredded; a token
    /// that does not open is an error naming it, and nothing is written.
    Reveal(RevealArgs),
    /// The KYC vault: PAN and Aadhaar sealed per subject, found by blind
    /// index, referenced by opaque keys, rotated, rewrapped, crypto-shredded.
    Vault(VaultArgs),
    /// Apply the policy's retention to its stores: delete, anonymise or roll
    /// up what has expired, in short batches, never crossing a legal floor or
    /// hold.
    ///
    /// --dry-run prints per data type what expires and what would happen, and
    /// changes nothing. Exits 0 when done, 1 when the policy has errors, 2 on
    /// a store that cannot be opened or read.
    Sweep(SweepArgs),
    /// Legal holds: a held subject or data type survives every sweep.
    Hold(HoldArgs),
    /// Data-subject requests of every right: `add` records one with its
    /// deadlines, `status` lists the open ones overdue first, `close` marks
    /// one answered.
    Request(RequestArgs),
    /// The run log: what each sweep did, per data type.
    Runs(RunsArgs),
    /// A copy of everything held about one person: a ZIP with an entry per
    /// data type the policy exports, a manifest and checksums, and a signed
    /// download token that expires after the policy's link expiry.
    /// `privctl export verify FILE.zip [--token T]` checks one.
    Export(ExportArgs),
    /// Erasure requests: `request` records one with its regime's deadlines
    /// and the policy's grace period, `cancel` withdraws one within its
    /// grace period, `status` lists open ones, overdue first, `run` carries
    /// out those whose grace period is over and signs a receipt, `receipt`
    /// prints one.
    Erase(EraseArgs),
    /// Erasure receipts: `verify FILE` checks one's signature offline.
    Receipt(ReceiptArgs),
    /// The audit log: `verify` checks every entry's link in the hash chain
    /// and the signed checkpoint of its head (exit 1 naming the first bad
    /// entry); `log` prints the latest entries.
    Audit(AuditArgs),
    /// Create the policy's tables in an empty database and fill them with
    /// realistic rows of many ages (and its files stores with files), to try
    /// a sweep on.
    ///
    /// The schema follows from the policy: columns typed from their names and
    /// categories, foreign keys from the subject links, indexes on link,
    /// timestamp and event columns. The rows are deterministic for a seed,
    /// subject count and --as-of: active, inactive and closed accounts,
    /// deletion requests (some already anonymised), one held subject (user
    /// 7). Refuses a database that already has any of the tables, or a files
    /// root that is not empty. A missing SQLite file is created.
    Sample(SampleArgs),
    /// Keyed pseudonyms of IPs and device fingerprints, and API key digests.
    Hash(HashArgs),
}

/// Where the vault lives and its keys.
#[derive(Debug, clap::Args)]
pub struct VaultLocation {
    /// Database URL: sqlite:PATH (the default, a file under .privctl/; `vault
    /// init` creates it) or postgres://...
    #[arg(
        long,
        env = "PRIVCTL_VAULT_DB",
        default_value = "sqlite:.privctl/vault.db",
        global = true
    )]
    pub db: String,
    /// Key file with the master keys and the index key [default:
    /// .privctl/vault.keys]. The keys can come from the environment variable
    /// PRIVCTL_VAULT_KEYS instead, in the same format; privctl never writes
    /// those, so rotate, retire, shred and hash forget need the file.
    #[arg(long, env = "PRIVCTL_VAULT_KEY_FILE", global = true)]
    pub key_file: Option<PathBuf>,
    /// Machine-readable output.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct VaultArgs {
    #[command(flatten)]
    pub location: VaultLocation,
    #[command(subcommand)]
    pub command: VaultCommand,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IdKindArg {
    /// Permanent Account Number.
    Pan,
    /// Aadhaar number.
    Aadhaar,
}

#[derive(Debug, Subcommand)]
pub enum VaultCommand {
    /// Create the key file (owner-only) and the vault's tables.
    Init,
    /// Validate and seal an identifier; prints its reference key.
    Put {
        /// Whose identifier.
        #[arg(long)]
        subject: String,
        /// Which identifier.
        #[arg(long, value_enum)]
        kind: IdKindArg,
        /// The value; read from standard input when absent (keeps it out of shell history).
        value: Option<String>,
    },
    /// Open a value by its reference key (masked unless --reveal).
    Get {
        /// The reference key.
        reference: String,
        /// Print the whole value.
        #[arg(long)]
        reveal: bool,
    },
    /// Find references by value, through the blind index.
    Find {
        /// Which identifier.
        #[arg(long, value_enum)]
        kind: IdKindArg,
        /// The value; read from standard input when absent.
        value: Option<String>,
    },
    /// Add a new master key version (new keys are wrapped under it); with
    /// --retire, forget an old version that no key uses any more.
    Rotate {
        /// Retire this version instead of adding one.
        #[arg(long, value_name = "VERSION")]
        retire: Option<u32>,
    },
    /// Re-wrap every group and epoch key under the newest master version.
    Rewrap,
    /// Crypto-shred a subject: their values and key are destroyed, later
    /// values for them refused, and the master version that wrapped their
    /// key replaced, so no copy of the database opens their data again.
    Shred {
        /// Whose key.
        #[arg(long)]
        subject: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct HashArgs {
    #[command(subcommand)]
    pub command: HashCommand,
}

#[derive(Debug, Subcommand)]
pub enum HashCommand {
    /// HMAC-SHA256 of an IP under the current 90-day epoch key (kept in the vault).
    Ip {
        #[command(flatten)]
        location: VaultLocation,
        /// The address.
        ip: String,
    },
    /// HMAC-SHA256 of a device fingerprint under the current epoch key.
    Device {
        #[command(flatten)]
        location: VaultLocation,
        /// The fingerprint.
        fingerprint: String,
    },
    /// Destroy the epoch keys of past 90-day windows, and the master version
    /// that wrapped them: hashes made under them can no longer be linked to
    /// any address or fingerprint.
    Forget {
        #[command(flatten)]
        location: VaultLocation,
        /// Which hashes: `ip` or `device`.
        #[arg(long, value_parser = ["ip", "device"])]
        purpose: String,
        /// Destroy epochs before this one (default: the current epoch, so
        /// every past window is forgotten).
        #[arg(long, value_name = "EPOCH")]
        before: Option<u64>,
    },
    /// SHA-256 digest of an API key (read from standard input when absent),
    /// or, with --verify, check a key against a stored digest (exit 1 if it does not match).
    Apikey {
        /// The stored digest to check against.
        #[arg(long, value_name = "DIGEST")]
        verify: Option<String>,
        /// The key.
        key: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

/// Which detectors run, from a policy or the command line.
#[derive(Debug, clap::Args)]
pub struct DetectorArgs {
    /// Policy whose [redaction] rules choose detectors and operators.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// With --policy: the data type whose rules apply (default: the rules
    /// that name no data type).
    #[arg(long, value_name = "NAME", requires = "policy")]
    pub data_type: Option<String>,
    /// Without --policy: only these detector kinds (comma-separated).
    #[arg(
        long,
        value_name = "KINDS",
        value_delimiter = ',',
        conflicts_with = "policy"
    )]
    pub kinds: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// Files to scan; standard input when none (or "-").
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// One JSON object per finding, one per line.
    #[arg(long)]
    pub json: bool,
    /// Exit 1 when anything is found (for CI).
    #[arg(long)]
    pub fail_on_findings: bool,
    #[command(flatten)]
    pub detectors: DetectorArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// Plain text of any size, streamed.
    Text,
    /// One JSON document.
    Json,
    /// JSON Lines: one document per line.
    Jsonl,
    /// CSV with a header row.
    Csv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OperatorArg {
    /// `[EMAIL]`
    Placeholder,
    /// `************1111` (last 4 kept)
    Mask,
    /// `[EMAIL:3f2a9c1b7d4e]`, keyed by --key-file or PRIVCTL_PSEUDONYM_KEY
    Pseudonym,
    /// removed
    Remove,
    /// `<EMAIL_1>`, numbered per run
    Token,
    /// `[EMAIL:sealed:AQAAAAAx…]`, sealed with the vault's keys; `privctl
    /// reveal` opens it
    Encrypt,
}

#[derive(Debug, clap::Args)]
pub struct RedactArgs {
    /// Files to redact, written one after another; standard input when none (or "-").
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// How to read the input.
    #[arg(long, value_enum, default_value_t = InputFormat::Text)]
    pub format: InputFormat,
    /// Without --policy: the operator for every finding.
    #[arg(long, value_enum, default_value_t = OperatorArg::Placeholder, conflicts_with = "policy")]
    pub operator: OperatorArg,
    /// Key for the pseudonym operator (at least 16 bytes); or set PRIVCTL_PSEUDONYM_KEY.
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// Write here instead of standard output; the file appears only when the
    /// whole input was redacted.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub detectors: DetectorArgs,
    /// With the encrypt operator: seal under this person's vault key (their
    /// user id), so that crypto-shredding them makes these tokens unreadable
    /// wherever they were copied. Without it, the vault's token key seals.
    #[arg(long, value_name = "ID")]
    pub subject: Option<String>,
    /// The vault whose keys the encrypt operator seals with.
    #[command(flatten)]
    pub vault: VaultUse,
}

#[derive(Debug, clap::Args)]
pub struct DetectorsArgs {
    /// One JSON object per detector.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, clap::Args)]
pub struct DiscoverArgs {
    /// The database: sqlite:PATH, postgres://... or a ClickHouse server's
    /// clickhouse://... (http://...).
    #[arg(long, value_name = "URL")]
    pub db: String,
    /// The store's name in the policy [default: main, or with --policy its
    /// one database store].
    #[arg(long, value_name = "NAME")]
    pub store: Option<String>,
    /// Rows sampled per table (the first the database returns; a large
    /// table is never read whole).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub sample: u32,
    /// An existing policy: draft only the tables and columns it does not
    /// classify.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Write the draft here instead of standard output; the file appears
    /// only when the whole draft was written.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct RevealArgs {
    /// Files whose sealed tokens to open, written one after another;
    /// standard input when none (or "-").
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// How to read the input: a token opens only in the field (JSON path or
    /// CSV column) it was sealed for.
    #[arg(long, value_enum, default_value_t = InputFormat::Text)]
    pub format: InputFormat,
    /// The data type the tokens were sealed for (`redact --data-type`).
    #[arg(long, value_name = "NAME")]
    pub data_type: Option<String>,
    /// Write here instead of standard output; the file appears only when
    /// every token opened.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The vault whose keys sealed the tokens.
    #[command(flatten)]
    pub vault: VaultUse,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Policy files, or directories whose *.toml files are checked.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Shorthand for --format json.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Treat warnings as errors (exit 1 on any finding).
    #[arg(long)]
    pub deny_warnings: bool,
    /// Also check the policy against this live database (one policy file,
    /// with one SQLite or PostgreSQL store; with several, give each its URL
    /// in its url_env variable and pass --db-env instead).
    #[arg(long, value_name = "URL", conflicts_with = "db_env")]
    pub db: Option<String>,
    /// Check the policy against its live databases, each at the URL in its
    /// store's url_env variable.
    #[arg(long)]
    pub db_env: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// `file:line:col: severity: message`, one finding a line.
    Text,
    /// One JSON document with every file and finding.
    Json,
    /// SARIF 2.1.0, for code-scanning UIs.
    Sarif,
}

/// A policy and the database to act on.
#[derive(Debug, clap::Args)]
pub struct PolicyDb {
    /// The policy file.
    #[arg(long)]
    pub policy: PathBuf,
    /// Database URL for a policy with one database store (sqlite:PATH or
    /// postgres://...); otherwise each store's URL comes from its url_env
    /// variable.
    #[arg(long)]
    pub db: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
    /// The Ed25519 key that signs checkpoints of the audit log's head
    /// (created when missing; keep it, and a copy, away from the database).
    #[arg(
        long,
        env = "PRIVCTL_AUDIT_KEY_FILE",
        default_value = ".privctl/audit.key"
    )]
    pub audit_key: PathBuf,
    /// The signed checkpoint of the audit log's head [default:
    /// audit-<database>.head beside the audit key, named after the database].
    #[arg(long, env = "PRIVCTL_AUDIT_HEAD")]
    pub audit_head: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    #[command(flatten)]
    pub target: PolicyDb,
    /// Print what would happen; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Act as of this instant (RFC 3339, e.g. 2026-11-23T00:00:00Z) instead of now.
    #[arg(long)]
    pub as_of: Option<String>,
    /// Only this data type.
    #[arg(long)]
    pub data_type: Option<String>,
    #[command(flatten)]
    pub vault: VaultUse,
}

/// The vault a sweep or an erasure uses, opened only when the policy needs
/// it (crypto-shredding, erasure pseudonyms).
#[derive(Debug, clap::Args)]
pub struct VaultUse {
    /// The vault: sqlite:PATH or postgres://...
    #[arg(
        long,
        env = "PRIVCTL_VAULT_DB",
        default_value = "sqlite:.privctl/vault.db"
    )]
    pub vault_db: String,
    /// The vault's key file [default: .privctl/vault.keys]; or the keys in
    /// PRIVCTL_VAULT_KEYS.
    #[arg(long, env = "PRIVCTL_VAULT_KEY_FILE")]
    pub vault_key_file: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct HoldArgs {
    #[command(subcommand)]
    pub command: HoldCommand,
}

#[derive(Debug, Subcommand)]
pub enum HoldCommand {
    /// Place a hold on a subject (by user id) or a data type.
    Add {
        #[command(flatten)]
        target: PolicyDb,
        /// The subject's user id.
        #[arg(
            long,
            conflicts_with = "data_type",
            required_unless_present = "data_type"
        )]
        subject: Option<String>,
        /// A data type of the policy.
        #[arg(long)]
        data_type: Option<String>,
        /// Why: the case, the letter, the regulator.
        #[arg(long)]
        reason: String,
    },
    /// List holds in force (with --all, released ones too).
    List {
        #[command(flatten)]
        target: PolicyDb,
        /// Include released holds.
        #[arg(long)]
        all: bool,
    },
    /// Release a hold by id.
    Release {
        #[command(flatten)]
        target: PolicyDb,
        /// The hold's id.
        id: i64,
    },
}

#[derive(Debug, clap::Args)]
pub struct RequestArgs {
    #[command(subcommand)]
    pub command: RequestCommand,
}

#[derive(Debug, Subcommand)]
pub enum RequestCommand {
    /// Record a request: the right (access, portability, erasure,
    /// correction, restriction, objection, opt-out-of-sale), whom, and
    /// under which law; its deadlines follow from the regime (an opt-out of
    /// sale: CCPA's 15 business days). Erasures are carried out by `erase
    /// run`; the others are answered by people and closed with `request
    /// close`.
    Add {
        #[command(flatten)]
        target: PolicyDb,
        /// The right exercised.
        right: String,
        /// Whom: KIND=VALUE, KIND an identifier of the policy.
        #[arg(long)]
        subject: String,
        /// The law it is made under: gdpr, ccpa or dpdp.
        #[arg(long)]
        regime: String,
        /// When it was made (RFC 3339) instead of now.
        #[arg(long)]
        at: Option<String>,
        /// A note (the ticket, the channel).
        #[arg(long)]
        note: Option<String>,
    },
    /// Open requests of every right with their deadlines, overdue first.
    Status {
        #[command(flatten)]
        target: PolicyDb,
    },
    /// Close a request that was answered (not an erasure).
    Close {
        #[command(flatten)]
        target: PolicyDb,
        /// The request's id.
        id: i64,
        /// How it was answered.
        #[arg(long)]
        note: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
pub struct SampleArgs {
    #[command(flatten)]
    pub target: PolicyDb,
    /// How many people to generate.
    #[arg(long, default_value_t = 40)]
    pub subjects: u64,
    /// The generator's seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Age rows relative to this instant (RFC 3339) instead of now.
    #[arg(long)]
    pub as_of: Option<String>,
}

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ExportArgs {
    #[command(subcommand)]
    pub command: Option<ExportCommand>,
    #[command(flatten)]
    pub export: ExportRun,
}

#[derive(Debug, clap::Args)]
pub struct ExportRun {
    /// The policy file.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Database URL for a policy with one database store.
    #[arg(long)]
    pub db: Option<String>,
    /// Whom: KIND=VALUE, KIND an identifier of the policy (email=ada@example.com, user_id=42).
    #[arg(long)]
    pub subject: Option<String>,
    /// The archive to write [default: privctl-export-<user id>-<time>.zip].
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// The request this answers (its id or ticket), recorded in the manifest.
    #[arg(long)]
    pub request: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
    /// The Ed25519 key that signs the token and the audit log's head.
    #[arg(
        long,
        env = "PRIVCTL_AUDIT_KEY_FILE",
        default_value = ".privctl/audit.key"
    )]
    pub audit_key: PathBuf,
    /// The signed checkpoint of the audit log's head.
    #[arg(long, env = "PRIVCTL_AUDIT_HEAD")]
    pub audit_head: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Check an archive against its manifest, and a token against its
    /// signature, the archive and its expiry.
    Verify {
        /// The archive.
        archive: PathBuf,
        /// A download token to check too.
        #[arg(long)]
        token: Option<String>,
        /// The key that signed the token.
        #[arg(
            long,
            env = "PRIVCTL_AUDIT_KEY_FILE",
            default_value = ".privctl/audit.key"
        )]
        audit_key: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct EraseArgs {
    #[command(subcommand)]
    pub command: EraseCommand,
}

#[derive(Debug, Subcommand)]
pub enum EraseCommand {
    /// Record an erasure request.
    Request {
        #[command(flatten)]
        target: PolicyDb,
        /// Whom: KIND=VALUE, KIND an identifier of the policy.
        #[arg(long)]
        subject: String,
        /// The law it is made under: gdpr, ccpa or dpdp (one the policy answers under).
        #[arg(long)]
        regime: String,
        /// When it was made (RFC 3339) instead of now.
        #[arg(long)]
        at: Option<String>,
        /// A note (the ticket, the channel).
        #[arg(long)]
        note: Option<String>,
    },
    /// Cancel a request within its grace period.
    Cancel {
        #[command(flatten)]
        target: PolicyDb,
        /// The request's id.
        id: i64,
    },
    /// Open requests with their deadlines, overdue first.
    Status {
        #[command(flatten)]
        target: PolicyDb,
    },
    /// Carry out every request whose grace period is over: delete what may
    /// be deleted, anonymise what the policy keeps, keep what a legal floor
    /// keeps (the sweep deletes it when the floor ends), shred the vault key
    /// where the policy says, and sign a receipt. A held person is not
    /// touched. Killed and run again, it ends where one run would; run
    /// again, it changes nothing more. Exits 1 while a request it reached
    /// cannot be completed (the reason is printed and recorded).
    Run {
        #[command(flatten)]
        target: PolicyDb,
        /// Print what would happen; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Act as of this instant (RFC 3339) instead of now: for rehearsals.
        #[arg(long)]
        as_of: Option<String>,
        /// Only this request.
        #[arg(long)]
        request: Option<i64>,
        /// Where signed receipts are written, one file per request
        /// [default: receipts/ beside the audit key].
        #[arg(long)]
        receipts: Option<PathBuf>,
        #[command(flatten)]
        vault: VaultUse,
    },
    /// After the database was restored from a backup taken before some
    /// erasures: apply each again from its signed receipt (the receipts
    /// directory lives outside the database, so it survives the restore),
    /// touching nobody else. With --restored, the audit log's checkpoint,
    /// which the restored log no longer reaches, is moved to the restored
    /// head, and the log records that it was. Run it again and nothing more
    /// changes.
    Replay {
        #[command(flatten)]
        target: PolicyDb,
        /// Print what would happen; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// The receipts [default: the directory `erase run` writes them to].
        #[arg(long)]
        receipts: Option<PathBuf>,
        /// The database was restored from a backup: accept that its audit
        /// log ends before the signed checkpoint (recorded in the log, the
        /// old checkpoint kept beside the new). Without it a log that does
        /// not reach its checkpoint is refused, as tampering would be.
        #[arg(long)]
        restored: bool,
        #[command(flatten)]
        vault: VaultUse,
    },
    /// DPDP's erasure of inactive accounts: give every person inactive for
    /// the DPDP regime's inactivity_erasure period (by the policy's
    /// last_activity column; closed accounts are retention's) a notice,
    /// recorded as an erasure request whose grace period is the notice
    /// period (48 hours). Sending it is the operator's; `erase run` erases
    /// those still inactive when it has passed and withdraws the rest.
    Inactive {
        #[command(flatten)]
        target: PolicyDb,
        /// Print who would get a notice; record nothing.
        #[arg(long)]
        dry_run: bool,
        /// Act as of this instant (RFC 3339) instead of now.
        #[arg(long)]
        as_of: Option<String>,
    },
    /// Print the signed receipt of a completed request.
    Receipt {
        #[command(flatten)]
        target: PolicyDb,
        /// The request's id.
        id: i64,
    },
}

#[derive(Debug, clap::Args)]
pub struct ReceiptArgs {
    #[command(subcommand)]
    pub command: ReceiptCommand,
}

#[derive(Debug, Subcommand)]
pub enum ReceiptCommand {
    /// Check an erasure receipt's signature offline (exit 1 when it was
    /// changed or signed by another key).
    Verify {
        /// The receipt file.
        file: PathBuf,
        /// The audit key whose public half (<key>.pub) signed it.
        #[arg(
            long,
            env = "PRIVCTL_AUDIT_KEY_FILE",
            default_value = ".privctl/audit.key"
        )]
        audit_key: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the whole chain and the signed checkpoint of its head.
    Verify {
        #[command(flatten)]
        target: PolicyDb,
    },
    /// Print the latest entries, newest first.
    Log {
        #[command(flatten)]
        target: PolicyDb,
        /// How many.
        #[arg(long, default_value_t = 20)]
        last: i64,
    },
}

#[derive(Debug, clap::Args)]
pub struct RunsArgs {
    #[command(flatten)]
    pub target: PolicyDb,
    /// How many of the latest runs.
    #[arg(long, default_value_t = 5)]
    pub last: i64,
}
