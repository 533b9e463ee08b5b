//! `privctl vault ...` and `privctl hash ...`: arguments in, library calls,
//! results out. Every rule about keys lives in `privctl-vault`.

use std::path::PathBuf;

use anyhow::{bail, Context};
use privctl_fsio::{read_limited, ReadError};
use privctl_vault::keyfile::MAX_KEY_FILE_BYTES;
use privctl_vault::{pseudo, IdKind, KeyFile, Keyring, Keys, KycId, Store, Vault};
use serde_json::{json, Value};

use crate::cli::{HashArgs, HashCommand, IdKindArg, VaultArgs, VaultCommand, VaultLocation};
use crate::output::{self, Outcome};

/// The largest value read from standard input: an identifier, an API key or
/// a fingerprint is far shorter.
const MAX_STDIN_VALUE: u64 = 4096;
const DEFAULT_KEY_FILE: &str = ".privctl/vault.keys";

fn kind(k: IdKindArg) -> IdKind {
    match k {
        IdKindArg::Pan => IdKind::Pan,
        IdKindArg::Aadhaar => IdKind::Aadhaar,
    }
}

/// The value given, or standard input (bounded, trimmed), refusing empty.
fn value_or_stdin(v: &Option<String>, what: &str) -> anyhow::Result<String> {
    let value = match v {
        Some(v) => v.trim().to_owned(),
        None => {
            let bytes =
                read_limited(std::io::stdin().lock(), MAX_STDIN_VALUE).map_err(|e| match e {
                    ReadError::TooLarge { limit } => anyhow::anyhow!(
                        "standard input holds more than {limit} bytes; a {what} is much shorter"
                    ),
                    e => anyhow::Error::new(e)
                        .context(format!("reading the {what} from standard input")),
                })?;
            String::from_utf8(bytes)
                .with_context(|| format!("the {what} on standard input is not UTF-8 text"))?
                .trim()
                .to_owned()
        }
    };
    if value.is_empty() {
        bail!("the {what} is empty");
    }
    Ok(value)
}

/// The keys: from PRIVCTL_VAULT_KEYS (never written back) or a key file.
fn keys(loc: &VaultLocation) -> anyhow::Result<Keys> {
    match std::env::var_os("PRIVCTL_VAULT_KEYS") {
        Some(_) if loc.key_file.is_some() => bail!(
            "the keys are given twice, in PRIVCTL_VAULT_KEYS and as a key file (--key-file or PRIVCTL_VAULT_KEY_FILE)\nhint: use one"
        ),
        Some(text) => {
            let text = zeroize::Zeroizing::new(
                text.into_string()
                    .map_err(|_| anyhow::anyhow!("PRIVCTL_VAULT_KEYS is not UTF-8 text"))?,
            );
            if text.len() as u64 > MAX_KEY_FILE_BYTES {
                bail!("PRIVCTL_VAULT_KEYS is larger than {} KiB", MAX_KEY_FILE_BYTES >> 10);
            }
            Ok(Keys::given(Keyring::parse(&text, "PRIVCTL_VAULT_KEYS")?))
        }
        None => Ok(Keys::from_file(key_file_path(loc))?),
    }
}

fn key_file_path(loc: &VaultLocation) -> PathBuf {
    loc.key_file
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_KEY_FILE))
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Opens the vault and, with a key file, finishes any crypto-shred a killed
/// process left half done. If that fails, the command still runs (reading
/// must not depend on it), and says so.
pub(crate) async fn open(loc: &VaultLocation) -> anyhow::Result<Vault> {
    let store = Store::open(&loc.db).await?;
    let keys = keys(loc)?;
    let from_file = keys.key_file().is_some();
    let vault = Vault::open(store, keys).await?;
    if from_file {
        match vault.resume().await {
            Ok(r) if r.moved > 0 || !r.destroyed_versions.is_empty() => output::note(format_args!(
                "privctl: finished an interrupted crypto-shred ({} subject(s) moved to a new group key, {} master key version(s) destroyed)",
                r.moved,
                r.destroyed_versions.len()
            )),
            Ok(_) => {}
            Err(e) => output::problem(format_args!(
                "privctl: warning: an interrupted crypto-shred could not be finished: {}\nhint: fix the cause and run the shred again",
                output::safe(&format!("{:#}", anyhow::Error::from(e)))
            )),
        }
    }
    Ok(vault)
}

/// The vault location `VaultUse` names.
pub(crate) fn location(v: &crate::cli::VaultUse) -> VaultLocation {
    VaultLocation {
        db: v.vault_db.clone(),
        key_file: v.vault_key_file.clone(),
        json: false,
    }
}

/// A sealer for the encrypt operator: the subject's data key, or the
/// vault's token key; held in memory, so the vault is closed again.
pub(crate) fn token_sealer(
    v: &crate::cli::VaultUse,
    subject: Option<&str>,
) -> anyhow::Result<std::sync::Arc<dyn privctl_redact::Sealer>> {
    let loc = location(v);
    runtime()?.block_on(async {
        let vault = open(&loc)
            .await
            .context("opening the vault the encrypt operator seals with")?;
        let sealer = vault.token_sealer(subject).await?;
        Ok(std::sync::Arc::new(sealer) as std::sync::Arc<dyn privctl_redact::Sealer>)
    })
}

/// Prints the result of a change that is already committed. If standard
/// output is gone (a closed pipe, a full disk), the result still reaches
/// stderr and the exit code says something failed: the reference of a value
/// just stored must not be lost.
fn committed(json: bool, value: &Value, text: &str) -> Outcome {
    match output::emit(json, value, text) {
        Ok(()) => Outcome::Clean,
        Err(e) => {
            output::problem(format_args!(
                "privctl: error: the change was committed, but writing the result to standard output failed ({e}); the result: {text}"
            ));
            Outcome::InputError
        }
    }
}

pub fn run(args: &VaultArgs) -> anyhow::Result<Outcome> {
    let loc = &args.location;
    runtime()?.block_on(async {
        match &args.command {
            VaultCommand::Init => {
                if std::env::var_os("PRIVCTL_VAULT_KEYS").is_some() {
                    bail!("vault init creates a key file, but PRIVCTL_VAULT_KEYS is set\nhint: unset it to create a new vault's key file");
                }
                let path = key_file_path(loc);
                let store = Store::create(&loc.db).await?;
                let url = store.url().to_string();
                Vault::init(store, &KeyFile::new(&path)).await?;
                let shown = privctl_policy::escape_path(&path);
                Ok(committed(
                    loc.json,
                    &json!({"key_file": shown, "database": url, "master_version": 1}),
                    &format!("created {shown} (master key version 1) for {url}; keep it secret and backed up"),
                ))
            }
            VaultCommand::Put { subject, kind: k, value } => {
                let raw = value_or_stdin(value, "value")?;
                let id = KycId::new(kind(*k), &raw)?;
                let vault = open(loc).await?;
                let stored = vault.put(subject, &id).await?;
                Ok(committed(
                    loc.json,
                    &json!({"reference": stored.reference, "masked": stored.masked, "subject": subject}),
                    &format!("{} {}", stored.reference, stored.masked),
                ))
            }
            VaultCommand::Get { reference, reveal } => {
                let vault = open(loc).await?;
                let (k, value) = vault.get(reference).await?;
                let shown = if *reveal {
                    value.to_string()
                } else {
                    privctl_vault::kyc::mask(k, &value)
                };
                output::emit(
                    loc.json,
                    &json!({"reference": reference, "kind": k.name(), "value": shown}),
                    &shown,
                )?;
                Ok(Outcome::Clean)
            }
            VaultCommand::Find { kind: k, value } => {
                let raw = value_or_stdin(value, "value")?;
                let id = KycId::new(kind(*k), &raw)?;
                let vault = open(loc).await?;
                let found = vault.find(&id).await?;
                let rows: Vec<_> = found
                    .iter()
                    .map(|f| json!({"reference": f.reference, "subject": f.subject}))
                    .collect();
                let text = found
                    .iter()
                    .map(|f| format!("{} {}", f.reference, privctl_policy::escape_untrusted(&f.subject)))
                    .collect::<Vec<_>>()
                    .join("\n");
                if loc.json || !found.is_empty() {
                    output::emit(loc.json, &json!(rows), &text)?;
                }
                Ok(if found.is_empty() { Outcome::Findings } else { Outcome::Clean })
            }
            VaultCommand::Rotate { retire: Some(v) } => {
                let vault = open(loc).await?;
                vault.retire(*v).await?;
                Ok(committed(
                    loc.json,
                    &json!({"retired": v}),
                    &format!("retired master key version {v}"),
                ))
            }
            VaultCommand::Rotate { retire: None } => {
                let vault = open(loc).await?;
                let v = vault.rotate().await?;
                Ok(committed(
                    loc.json,
                    &json!({"master_version": v}),
                    &format!("added master key version {v}; run `privctl vault rewrap` to move existing keys to it"),
                ))
            }
            VaultCommand::Rewrap => {
                let vault = open(loc).await?;
                let report = vault.rewrap().await?;
                Ok(committed(
                    loc.json,
                    &json!({"rewrapped": report.rewrapped, "master_version": report.newest}),
                    &format!(
                        "re-wrapped {} group and epoch key(s) under master key version {}",
                        report.rewrapped, report.newest
                    ),
                ))
            }
            VaultCommand::Shred { subject } => {
                let vault = open(loc).await?;
                let r = vault.shred(subject).await?;
                let shown = privctl_policy::escape_untrusted(subject);
                let destroyed = r
                    .destroyed_versions
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                let text = if r.had_key {
                    format!(
                        "crypto-shredded {shown}: {} value(s) can no longer be read; {} other subject(s) moved to a new group key; master key version(s) {destroyed} destroyed",
                        r.values, r.moved
                    )
                } else {
                    format!("{shown} had nothing in the vault; later values for them will be refused")
                };
                Ok(committed(
                    loc.json,
                    &json!({
                        "subject": subject,
                        "shredded": r.had_key,
                        "values": r.values,
                        "moved": r.moved,
                        "destroyed_master_versions": r.destroyed_versions,
                    }),
                    &text,
                ))
            }
        }
    })
}

fn now() -> anyhow::Result<u64> {
    Ok(std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs())
}

/// Prints the epoch-keyed hash of `value` for `purpose`.
fn print_pseudonym(
    location: &VaultLocation,
    purpose: &str,
    value: &str,
) -> anyhow::Result<Outcome> {
    let now = now()?;
    let (epoch, h) = runtime()?.block_on(async {
        open(location)
            .await?
            .pseudonym(purpose, value, now)
            .await
            .map_err(anyhow::Error::from)
    })?;
    output::emit(
        location.json,
        &json!({"epoch": epoch, "hmac_sha256": h}),
        &h,
    )?;
    Ok(Outcome::Clean)
}

/// A SHA-256 digest as given to `--verify`: 64 hexadecimal digits.
fn check_digest(digest: &str) -> anyhow::Result<()> {
    let d = digest.trim();
    if d.len() != 64 || !d.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!(
            "--verify takes a SHA-256 digest, 64 hexadecimal digits; this one has {} characters{}",
            d.chars().count(),
            if d.bytes().all(|b| b.is_ascii_hexdigit()) {
                ""
            } else {
                ", not all hexadecimal"
            }
        );
    }
    Ok(())
}

pub fn hash(args: &HashArgs) -> anyhow::Result<Outcome> {
    match &args.command {
        HashCommand::Ip { location, ip } => {
            print_pseudonym(location, "ip", &pseudo::canonical_ip(ip)?)
        }
        HashCommand::Device {
            location,
            fingerprint,
        } => {
            if fingerprint.trim().is_empty() {
                bail!("the device fingerprint is empty");
            }
            print_pseudonym(location, "device", fingerprint.trim())
        }
        HashCommand::Forget {
            location,
            purpose,
            before,
        } => {
            let before = match before {
                Some(b) => *b,
                None => pseudo::epoch_of(now()?),
            };
            let n = runtime()?.block_on(async {
                open(location)
                    .await?
                    .forget_epochs(purpose, before)
                    .await
                    .map_err(anyhow::Error::from)
            })?;
            Ok(committed(
                location.json,
                &json!({"purpose": purpose, "destroyed": n, "before_epoch": before}),
                &format!("destroyed {n} {purpose} epoch key(s) before epoch {before}"),
            ))
        }
        HashCommand::Apikey {
            verify,
            key,
            json: json_out,
        } => {
            if let Some(digest) = verify {
                check_digest(digest)?;
            }
            let key = value_or_stdin(key, "API key")?;
            match verify {
                Some(digest) => {
                    let ok = pseudo::verify_api_key(&key, digest);
                    output::emit(
                        *json_out,
                        &json!({"match": ok}),
                        if ok { "match" } else { "no match" },
                    )?;
                    Ok(if ok {
                        Outcome::Clean
                    } else {
                        Outcome::Findings
                    })
                }
                None => {
                    let d = pseudo::api_key_digest(&key);
                    output::emit(*json_out, &json!({"sha256": d}), &d)?;
                    Ok(Outcome::Clean)
                }
            }
        }
    }
}
