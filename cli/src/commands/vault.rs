//! `privctl vault ...` and `privctl hash ...`.

use std::io::Read;
use std::path::Path;

use anyhow::{bail, Context};
use privctl_vault::{pseudo, IdKind, Keyring, KycId, Store, Vault};
use serde_json::json;

use crate::cli::{HashArgs, HashCommand, IdKindArg, VaultArgs, VaultCommand, VaultLocation};
use crate::output::Outcome;

fn kind(k: IdKindArg) -> IdKind {
    match k {
        IdKindArg::Pan => IdKind::Pan,
        IdKindArg::Aadhaar => IdKind::Aadhaar,
    }
}

fn value_or_stdin(v: &Option<String>, what: &str) -> anyhow::Result<String> {
    match v {
        Some(v) => Ok(v.clone()),
        None => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .with_context(|| format!("reading the {what} from standard input"))?;
            Ok(s.trim().to_owned())
        }
    }
}

fn load_keys(loc: &VaultLocation) -> anyhow::Result<Keyring> {
    if let Ok(text) = std::env::var("PRIVCTL_VAULT_KEYS") {
        return Keyring::parse(&text).context("PRIVCTL_VAULT_KEYS");
    }
    let text = std::fs::read_to_string(&loc.key_file).with_context(|| {
        format!("cannot read key file {}\nhint: run `privctl vault init` first, or set PRIVCTL_VAULT_KEYS", loc.key_file.display())
    })?;
    Keyring::parse(&text).with_context(|| format!("key file {}", loc.key_file.display()))
}

/// Writes the key file atomically with owner-only permissions.
fn save_keys(path: &Path, keys: &Keyring) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    std::io::Write::write_all(&mut tmp, keys.to_text().as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn ensure_sqlite_dir(url: &str) -> anyhow::Result<()> {
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let path = rest.trim_start_matches("//");
        let path = path.split('?').next().unwrap_or(path);
        if let Some(dir) = Path::new(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
    }
    Ok(())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

async fn open(loc: &VaultLocation) -> anyhow::Result<Vault> {
    let keys = load_keys(loc)?;
    ensure_sqlite_dir(&loc.db)?;
    let store = Store::connect(&loc.db).await?;
    Ok(Vault::new(store, keys))
}

fn print(json_out: bool, value: serde_json::Value, text: String) {
    if let Err(e) = crate::output::emit(json_out, &value, &text) {
        crate::output::note(format_args!(
            "privctl: cannot write to standard output: {e}"
        ));
    }
}

pub fn run(args: &VaultArgs) -> anyhow::Result<Outcome> {
    let loc = &args.location;
    runtime()?.block_on(async {
        match &args.command {
            VaultCommand::Init => {
                if loc.key_file.exists() {
                    bail!("key file {} already exists; refusing to overwrite keys", loc.key_file.display());
                }
                let keys = Keyring::generate()?;
                ensure_sqlite_dir(&loc.db)?;
                Store::connect(&loc.db).await?;
                save_keys(&loc.key_file, &keys)?;
                print(
                    loc.json,
                    json!({"key_file": loc.key_file.display().to_string(), "master_version": 1}),
                    format!("created {} (master key version 1); keep it secret and backed up", loc.key_file.display()),
                );
            }
            VaultCommand::Put { subject, kind: k, value } => {
                let raw = value_or_stdin(value, "value")?;
                let id = KycId::new(kind(*k), &raw)?;
                let vault = open(loc).await?;
                let stored = vault.put(subject, &id).await?;
                print(
                    loc.json,
                    json!({"reference": stored.reference, "masked": stored.masked, "subject": subject}),
                    format!("{} {}", stored.reference, stored.masked),
                );
            }
            VaultCommand::Get { reference, reveal } => {
                let vault = open(loc).await?;
                let (k, value) = vault.get(reference).await?;
                let shown = if *reveal { value.to_string() } else { privctl_vault::kyc::mask(k, &value) };
                print(loc.json, json!({"reference": reference, "kind": k.name(), "value": shown}), shown.clone());
            }
            VaultCommand::Find { kind: k, value } => {
                let raw = value_or_stdin(value, "value")?;
                let id = KycId::new(kind(*k), &raw)?;
                let vault = open(loc).await?;
                let found = vault.find(&id).await?;
                let rows: Vec<_> = found.iter().map(|(r, s)| json!({"reference": r, "subject": s})).collect();
                print(
                    loc.json,
                    json!(rows),
                    found.iter().map(|(r, s)| format!("{r} {s}")).collect::<Vec<_>>().join("\n"),
                );
                if found.is_empty() {
                    return Ok(Outcome::Findings);
                }
            }
            VaultCommand::Rotate { retire } => {
                let mut vault = open(loc).await?;
                match retire {
                    Some(v) => {
                        let in_use = vault.store().keys_per_version().await?;
                        if let Some((_, n)) = in_use.iter().find(|(ver, _)| ver == v) {
                            return Err(privctl_vault::Error::VersionInUse { version: *v, keys: *n }.into());
                        }
                        vault.keyring_mut().retire(*v)?;
                        save_keys(&loc.key_file, vault.keyring_mut())?;
                        print(loc.json, json!({"retired": v}), format!("retired master key version {v}"));
                    }
                    None => {
                        let v = vault.keyring_mut().rotate()?;
                        save_keys(&loc.key_file, vault.keyring_mut())?;
                        print(
                            loc.json,
                            json!({"master_version": v}),
                            format!("added master key version {v}; run `privctl vault rewrap` to move existing data keys to it"),
                        );
                    }
                }
            }
            VaultCommand::Rewrap => {
                let vault = open(loc).await?;
                let report = vault.rewrap().await?;
                print(
                    loc.json,
                    json!({"rewrapped": report.rewrapped, "master_version": report.newest}),
                    format!("re-wrapped {} data key(s) under master key version {}", report.rewrapped, report.newest),
                );
            }
            VaultCommand::Shred { subject } => {
                let vault = open(loc).await?;
                let shredded = vault.shred(subject).await?;
                print(
                    loc.json,
                    json!({"subject": subject, "shredded": shredded}),
                    if shredded {
                        format!("destroyed the data key of {subject}; their sealed values can no longer be read")
                    } else {
                        format!("{subject} had no live data key")
                    },
                );
            }
        }
        Ok(Outcome::Clean)
    })
}

/// Prints the epoch-keyed hash of `value` for `purpose`.
fn print_pseudonym(
    location: &VaultLocation,
    purpose: &str,
    value: &str,
    now: u64,
) -> anyhow::Result<()> {
    let (epoch, h) = runtime()?.block_on(async {
        open(location)
            .await?
            .pseudonym(purpose, value, now)
            .await
            .map_err(anyhow::Error::from)
    })?;
    print(
        location.json,
        json!({"epoch": epoch, "hmac_sha256": h}),
        h.clone(),
    );
    Ok(())
}

pub fn hash(args: &HashArgs) -> anyhow::Result<Outcome> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    match &args.command {
        HashCommand::Ip { location, ip } => {
            print_pseudonym(location, "ip", &pseudo::canonical_ip(ip)?, now)?;
        }
        HashCommand::Device {
            location,
            fingerprint,
        } => {
            print_pseudonym(location, "device", fingerprint.trim(), now)?;
        }
        HashCommand::Forget {
            location,
            purpose,
            before,
        } => {
            let before = before.unwrap_or_else(|| pseudo::epoch_of(now));
            let n = runtime()?.block_on(async {
                open(location)
                    .await?
                    .store()
                    .destroy_epochs_before(purpose, before)
                    .await
                    .map_err(anyhow::Error::from)
            })?;
            print(
                location.json,
                json!({"purpose": purpose, "destroyed": n, "before_epoch": before}),
                format!("destroyed {n} {purpose} epoch key(s) before epoch {before}"),
            );
        }
        HashCommand::Apikey {
            verify,
            key,
            json: json_out,
        } => {
            let key = value_or_stdin(key, "API key")?;
            match verify {
                Some(digest) => {
                    let ok = pseudo::verify_api_key(&key, digest);
                    print(
                        *json_out,
                        json!({"match": ok}),
                        if ok {
                            "match".into()
                        } else {
                            "no match".into()
                        },
                    );
                    if !ok {
                        return Ok(Outcome::Findings);
                    }
                }
                None => {
                    let d = pseudo::api_key_digest(&key);
                    print(*json_out, json!({"sha256": d}), d.clone());
                }
            }
        }
    }
    Ok(Outcome::Clean)
}
