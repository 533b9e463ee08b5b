//! Exports: one ZIP per request, with an entry per data type and format the
//! policy's `[export]` names (rows streamed from the database, files copied
//! from per-person directories), a `manifest.json` describing each and the
//! SHA-256 of every entry, and a download token signed with privctl's
//! Ed25519 key that expires after the policy's link expiry.

use std::collections::BTreeMap;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use privctl_audit::{hex, unhex, Signer};
use privctl_policy::model::{name_of, Category, ExportFormat, Policy};
use privctl_policy::SqlIdent;
use privctl_store::clickhouse::{ClickHouse, RowStream};
use privctl_store::{Db, Row};
use serde::{Deserialize, Serialize};
use zip::write::SimpleFileOptions;

use crate::discover::{rows_of, Subject};
use crate::{Error, Result};

/// The manifest's format name.
pub const FORMAT: &str = "privctl-export v1";
/// Bytes handed to the compressor at a time.
const CHUNK: usize = 256 << 10;
/// Largest manifest read back.
const MAX_MANIFEST: u64 = 16 << 20;

/// What a request asks of an export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The request it answers, if one was recorded.
    pub request: Option<String>,
    /// When it is made.
    pub now: DateTime<Utc>,
}

/// The archive's `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The organisation.
    pub organisation: String,
    /// SHA-256 of the policy file.
    pub policy_sha256: String,
    /// When it was made.
    pub generated_at: DateTime<Utc>,
    /// Whom it is about: the identifier they were named by.
    pub subject: Subject,
    /// The request it answers.
    pub request: Option<String>,
    /// One per data type exported.
    pub data_types: Vec<ManifestDataType>,
    /// Data types the policy exports that this archive does not hold, and why.
    pub not_included: Vec<String>,
    /// Every entry but the manifest, with its checksum.
    pub entries: Vec<ManifestEntry>,
}

/// One data type in an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestDataType {
    /// Its name in the policy.
    pub name: String,
    /// What it holds.
    pub description: String,
    /// Where it came from (`store.table`, or `store:path`).
    pub source: String,
    /// Rows (or files) exported.
    pub records: u64,
    /// How long it is kept, and from when.
    pub retention: Option<String>,
    /// The laws that keep it longer, when any do.
    pub legal_basis: Vec<String>,
    /// Columns whose values are in the vault and appear masked.
    pub masked: Vec<String>,
    /// Its entries.
    pub entries: Vec<String>,
}

/// One entry and its checksum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Its name in the archive.
    pub name: String,
    /// Its size.
    pub bytes: u64,
    /// SHA-256 of its contents, hex.
    pub sha256: String,
}

fn zip_err(what: &'static str) -> impl Fn(zip::result::ZipError) -> Error {
    move |source| Error::Zip { what, source }
}

/// Writes into the current archive entry, hashing and counting.
struct Hashing<'a, W: Write + Seek> {
    zip: &'a mut zip::ZipWriter<W>,
    ctx: ring::digest::Context,
    bytes: u64,
}

impl<W: Write + Seek> Write for Hashing<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.zip.write(buf)?;
        self.ctx.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.zip.flush()
    }
}

fn io(path: &str) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

struct Writer<W: Write + Seek> {
    zip: zip::ZipWriter<W>,
    entries: Vec<ManifestEntry>,
}

impl<W: Write + Seek> Writer<W> {
    fn start(&mut self, name: &str) -> Result<Hashing<'_, W>> {
        // Deflate's fastest level: rows of a table compress well anyway,
        // and the export runs at the speed the database sends them.
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .compression_level(Some(1))
            .large_file(true);
        self.zip
            .start_file(name, options)
            .map_err(zip_err("could not start an entry"))?;
        Ok(Hashing {
            zip: &mut self.zip,
            ctx: ring::digest::Context::new(&ring::digest::SHA256),
            bytes: 0,
        })
    }

    fn done(&mut self, name: &str, ctx: ring::digest::Context, bytes: u64) {
        self.entries.push(ManifestEntry {
            name: name.to_owned(),
            bytes,
            sha256: hex(ctx.finish().as_ref()),
        });
    }
}

/// Writes the export of `subject` into `out` and returns its manifest.
#[allow(clippy::too_many_arguments)]
pub async fn export<W: Write + Seek>(
    policy: &Policy,
    policy_sha256: &str,
    dbs: &BTreeMap<String, Db>,
    clickhouse: &BTreeMap<String, ClickHouse>,
    roots: &BTreeMap<String, PathBuf>,
    subject: &Subject,
    options: &ExportOptions,
    out: W,
) -> Result<(Manifest, W)> {
    let mut w = Writer {
        zip: zip::ZipWriter::new(out),
        entries: Vec::new(),
    };
    let mut manifest = Manifest {
        format: FORMAT.to_owned(),
        organisation: policy.organisation.name.clone(),
        policy_sha256: policy_sha256.to_owned(),
        generated_at: options.now,
        subject: subject.clone(),
        request: options.request.clone(),
        data_types: Vec::new(),
        not_included: Vec::new(),
        entries: Vec::new(),
    };
    let Some(spec) = &policy.export else {
        return Err(Error::Invalid("the policy has no [export]".to_owned()));
    };
    let mut snapshots = BTreeMap::new();
    let mut schemas = BTreeMap::new();
    let ids = crate::discover::identifiers(policy, dbs, &subject.key).await?;
    for name in &spec.data_types {
        if name == "manifest" {
            manifest
                .not_included
                .push(format!("{name}: the name is the archive's own manifest"));
            continue;
        }
        let Some(dt) = policy.data_types.get(name) else {
            manifest
                .not_included
                .push(format!("{name}: not a data type of the policy"));
            continue;
        };
        let retention = dt
            .retention
            .as_ref()
            .map(|r| format!("{} from {}", r.period, name_of(&r.from)));
        let legal_basis = policy
            .legal_floors
            .values()
            .filter(|f| f.applies_to.iter().any(|a| a == name))
            .map(|f| f.law.clone())
            .collect();
        let mut entry = ManifestDataType {
            name: name.clone(),
            description: dt.description.clone(),
            source: String::new(),
            records: 0,
            retention,
            legal_basis,
            masked: Vec::new(),
            entries: Vec::new(),
        };
        if let (Some(table), Some(ch)) = (&dt.table, clickhouse.get(&dt.store)) {
            entry.source = format!("{}.{}", dt.store, table);
            let mut columns: Vec<SqlIdent> = dt.columns.keys().cloned().collect();
            for c in dt.timestamp.iter().chain(&dt.anonymised_at) {
                if !columns.contains(c) {
                    columns.push(c.clone());
                }
            }
            let Some(mine) =
                privctl_retention::telemetry::subject_rows(policy, &dt.store, table, &ids)
            else {
                manifest
                    .not_included
                    .push(format!("{name}: table {table} does not reach the subject"));
                continue;
            };
            let masked: Vec<SqlIdent> = if spec.mask_vaulted {
                dt.columns
                    .iter()
                    .filter(|(_, c)| **c == Category::Kyc)
                    .map(|(n, _)| n.clone())
                    .collect()
            } else {
                Vec::new()
            };
            entry.masked = masked.iter().map(|m| m.to_string()).collect();
            let query = clickhouse_query(table, &columns, dt.timestamp.as_ref(), &mine);
            // Streamed into each entry as the server sends the rows, one
            // query per format (ClickHouse has no snapshot to share).
            for format in &spec.formats {
                let file = match format {
                    ExportFormat::Json => format!("{name}.json"),
                    ExportFormat::Csv => format!("{name}.csv"),
                };
                let mut rows = ChRows {
                    rows: ch
                        .stream(&query, "reading the subject's rows", Some(table.as_str()))
                        .await?,
                    row: None,
                };
                entry.records = match format {
                    ExportFormat::Json => {
                        json_entry(&mut w, &file, &columns, &masked, &mut rows).await?
                    }
                    ExportFormat::Csv => {
                        csv_entry(&mut w, &file, &columns, &masked, &mut rows).await?
                    }
                };
                entry.entries.push(file);
            }
            manifest.data_types.push(entry);
            continue;
        }
        if let Some(table) = &dt.table {
            let Some(db) = dbs.get(&dt.store) else {
                manifest.not_included.push(format!(
                    "{name}: store \"{}\" is not open (a ClickHouse store whose URL is not given)",
                    dt.store
                ));
                continue;
            };
            entry.source = format!("{}.{}", dt.store, table);
            // One snapshot per store for the whole export: every data type
            // and format as of the same moment.
            if !snapshots.contains_key(&dt.store) {
                snapshots.insert(dt.store.clone(), db.snapshot().await?);
            }
            let snap: &mut privctl_store::AnyConnection = snapshots
                .get_mut(&dt.store)
                .ok_or_else(|| Error::StoreNotOpen(dt.store.clone()))?;
            let mut columns: Vec<SqlIdent> = dt.columns.keys().cloned().collect();
            for c in dt.timestamp.iter().chain(&dt.anonymised_at) {
                if !columns.contains(c) {
                    columns.push(c.clone());
                }
            }
            let masked: Vec<SqlIdent> = if spec.mask_vaulted {
                dt.columns
                    .iter()
                    .filter(|(_, c)| **c == Category::Kyc)
                    .map(|(n, _)| n.clone())
                    .collect()
            } else {
                Vec::new()
            };
            entry.masked = masked.iter().map(|m| m.to_string()).collect();
            if !schemas.contains_key(&dt.store) {
                schemas.insert(dt.store.clone(), db.schema().await?);
            }
            let schema = schemas
                .get(&dt.store)
                .ok_or_else(|| Error::StoreNotOpen(dt.store.clone()))?;
            let Some(query) = rows_of(policy, schema, &dt.store, table, &columns, &ids) else {
                manifest
                    .not_included
                    .push(format!("{name}: table {table} does not reach the subject"));
                continue;
            };
            for format in &spec.formats {
                let mut rows = SqlRows {
                    rows: query.query().fetch(&mut *snap),
                    row: None,
                    err: db.err("reading the subject's rows", None),
                };
                let (file, n) = match format {
                    ExportFormat::Json => {
                        let file = format!("{name}.json");
                        let n = json_entry(&mut w, &file, &columns, &masked, &mut rows).await?;
                        (file, n)
                    }
                    ExportFormat::Csv => {
                        let file = format!("{name}.csv");
                        let n = csv_entry(&mut w, &file, &columns, &masked, &mut rows).await?;
                        (file, n)
                    }
                };
                entry.records = n;
                entry.entries.push(file);
            }
        } else {
            let Some(root) = roots.get(&dt.store) else {
                manifest
                    .not_included
                    .push(format!("{name}: files store \"{}\" is not open", dt.store));
                continue;
            };
            let per_person = policy.subject.links.iter().any(|l| {
                l.store == dt.store
                    && l.path
                        .as_deref()
                        .is_some_and(|p| p.starts_with("{user_id}"))
            });
            if !per_person {
                manifest.not_included.push(format!(
                    "{name}: its files are not kept per person, so none can be told to be theirs"
                ));
                continue;
            }
            // The key names one directory: nothing else, nothing above.
            let one_part = {
                let mut parts = Path::new(&subject.key).components();
                matches!(
                    (parts.next(), parts.next()),
                    (Some(std::path::Component::Normal(_)), None)
                )
            };
            if !one_part {
                manifest.not_included.push(format!(
                    "{name}: the subject's key is not a plain directory name"
                ));
                continue;
            }
            let dir = root
                .join(dt.path.as_deref().unwrap_or("."))
                .join(&subject.key);
            if std::fs::symlink_metadata(&dir).is_ok_and(|m| !m.is_dir()) {
                manifest.not_included.push(format!(
                    "{name}: the subject's directory is a symbolic link or not a directory"
                ));
                continue;
            }
            entry.source = format!("{}:{}", dt.store, privctl_policy::escape_path(&dir));
            let mut files = Vec::new();
            walk(&dir, &dir, &mut files)?;
            files.sort();
            for (rel, path) in files {
                let file = format!("{name}/{rel}");
                let shown = privctl_policy::escape_path(&path);
                let mut f = std::fs::File::open(&path).map_err(io(&shown))?;
                let mut h = w.start(&file)?;
                {
                    let mut out = std::io::BufWriter::with_capacity(CHUNK, &mut h);
                    std::io::copy(&mut f, &mut out).map_err(io(&shown))?;
                    out.flush().map_err(io(&shown))?;
                }
                let (ctx, bytes) = (h.ctx, h.bytes);
                w.done(&file, ctx, bytes);
                entry.records += 1;
                entry.entries.push(file);
            }
        }
        manifest.data_types.push(entry);
    }
    for (_, tx) in snapshots {
        let _ = tx.rollback().await;
    }
    manifest.entries = std::mem::take(&mut w.entries);
    let text = serde_json::to_vec_pretty(&manifest)?;
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    w.zip
        .start_file("manifest.json", options)
        .map_err(zip_err("could not start the manifest"))?;
    w.zip.write_all(&text).map_err(io("manifest.json"))?;
    let out = w.zip.finish().map_err(zip_err("could not be finished"))?;
    Ok((manifest, out))
}

/// Regular files under `dir`, without following symbolic links.
fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<()> {
    let shown = privctl_policy::escape_path(dir);
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(&shown)(e)),
    };
    for e in entries {
        let path = e.map_err(io(&shown))?.path();
        let meta = std::fs::symlink_metadata(&path).map_err(io(&shown))?;
        if meta.is_dir() {
            walk(root, &path, out)?;
        } else if meta.is_file() {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.push((rel, path));
        }
    }
    Ok(())
}

/// The query for the person's rows of a ClickHouse table, every value as
/// text, oldest first.
fn clickhouse_query(
    table: &SqlIdent,
    columns: &[SqlIdent],
    timestamp: Option<&SqlIdent>,
    mine: &privctl_store::sql::Sql,
) -> privctl_store::sql::Sql {
    let mut q = privctl_store::sql::Sql::new();
    q.push("SELECT ");
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.push("toString(").ident(c).push(") AS ").ident(c);
    }
    q.push(" FROM ").ident(table).push(" WHERE ").append(mine);
    if let Some(ts) = timestamp {
        q.push(" ORDER BY ").ident(ts);
    }
    q
}

/// Rows to write into an entry, from a database snapshot or a ClickHouse
/// answer: each value read in place, as text (`None` for NULL).
trait RowSource {
    /// Moves to the next row; `false` at the end.
    async fn advance(&mut self) -> Result<bool>;
    /// The current row's value of column `i` (named `column`).
    fn value(&self, i: usize, column: &SqlIdent) -> Result<Option<&str>>;
}

/// Rows of a SQL snapshot.
struct SqlRows<'c, E> {
    rows: futures_util::stream::BoxStream<
        'c,
        std::result::Result<privctl_store::AnyRow, sqlx::Error>,
    >,
    row: Option<privctl_store::AnyRow>,
    err: E,
}

impl<E: Fn(sqlx::Error) -> privctl_store::Error> RowSource for SqlRows<'_, E> {
    async fn advance(&mut self) -> Result<bool> {
        self.row = self.rows.try_next().await.map_err(&self.err)?;
        Ok(self.row.is_some())
    }

    fn value(&self, i: usize, _: &SqlIdent) -> Result<Option<&str>> {
        let Some(row) = &self.row else {
            return Ok(None);
        };
        Ok(row.try_get(i).map_err(&self.err)?)
    }
}

/// Rows of a ClickHouse answer (every value selected as text).
struct ChRows<'a> {
    rows: RowStream<'a>,
    row: Option<serde_json::Map<String, serde_json::Value>>,
}

impl RowSource for ChRows<'_> {
    async fn advance(&mut self) -> Result<bool> {
        self.row = self.rows.next().await?;
        Ok(self.row.is_some())
    }

    fn value(&self, _: usize, column: &SqlIdent) -> Result<Option<&str>> {
        Ok(self
            .row
            .as_ref()
            .and_then(|r| r.get(column.as_str()))
            .and_then(|v| v.as_str()))
    }
}

/// An entry of rows as a JSON array of objects in column order, masked
/// columns `[vaulted]`.
async fn json_entry<W: Write + Seek>(
    w: &mut Writer<W>,
    file: &str,
    columns: &[SqlIdent],
    masked: &[SqlIdent],
    rows: &mut impl RowSource,
) -> Result<u64> {
    let mut h = w.start(file)?;
    let mut n = 0u64;
    {
        // Whole chunks to the compressor: it costs per write, not per byte.
        let mut out = std::io::BufWriter::with_capacity(CHUNK, &mut h);
        // Each key once, as JSON text with its colon.
        let keys: Vec<Vec<u8>> = columns
            .iter()
            .map(|c| {
                let mut k = serde_json::to_vec(c.as_str())?;
                k.push(b':');
                Ok(k)
            })
            .collect::<Result<_>>()?;
        out.write_all(b"[").map_err(io(file))?;
        while rows.advance().await? {
            out.write_all(if n == 0 { b"\n{" } else { b",\n{" })
                .map_err(io(file))?;
            // An object with the columns in order, written as it goes, each
            // value read in place from the row.
            for (i, (key, c)) in keys.iter().zip(columns).enumerate() {
                if i > 0 {
                    out.write_all(b",").map_err(io(file))?;
                }
                out.write_all(key).map_err(io(file))?;
                match rows.value(i, c)? {
                    Some(_) if masked.contains(c) => out.write_all(b"\"[vaulted]\""),
                    Some(v) => serde_json::to_writer(&mut out, v).map_err(std::io::Error::from),
                    None => out.write_all(b"null"),
                }
                .map_err(io(file))?;
            }
            out.write_all(b"}").map_err(io(file))?;
            n += 1;
        }
        out.write_all(b"\n]\n").map_err(io(file))?;
        out.flush().map_err(io(file))?;
    }
    let (ctx, bytes) = (h.ctx, h.bytes);
    w.done(file, ctx, bytes);
    Ok(n)
}

/// An entry of rows as CSV with a header, masked columns `[vaulted]`.
async fn csv_entry<W: Write + Seek>(
    w: &mut Writer<W>,
    file: &str,
    columns: &[SqlIdent],
    masked: &[SqlIdent],
    rows: &mut impl RowSource,
) -> Result<u64> {
    let mut h = w.start(file)?;
    let mut n = 0u64;
    {
        let mut csv = csv::WriterBuilder::new()
            .buffer_capacity(CHUNK)
            .from_writer(&mut h);
        let csv_err = |e: csv::Error| Error::Invalid(format!("{file}: {e}"));
        csv.write_record(columns.iter().map(|c| c.as_str()))
            .map_err(csv_err)?;
        while rows.advance().await? {
            let mut record: Vec<&str> = Vec::with_capacity(columns.len());
            for (i, c) in columns.iter().enumerate() {
                record.push(match rows.value(i, c)? {
                    Some(_) if masked.contains(c) => "[vaulted]",
                    Some(v) => v,
                    None => "",
                });
            }
            csv.write_record(&record).map_err(csv_err)?;
            n += 1;
        }
        csv.flush().map_err(io(file))?;
    }
    let (ctx, bytes) = (h.ctx, h.bytes);
    w.done(file, ctx, bytes);
    Ok(n)
}

/// Checks an archive against its manifest: every entry listed, each with
/// the checksum the manifest gives, and no entry unlisted. Returns the
/// manifest.
pub fn verify_zip(reader: impl Read + Seek) -> Result<Manifest> {
    let damaged = |e: zip::result::ZipError| Error::Invalid(format!("the archive is damaged: {e}"));
    let mut archive = zip::ZipArchive::new(reader).map_err(damaged)?;
    let manifest: Manifest = {
        let file = archive
            .by_name("manifest.json")
            .map_err(|_| Error::Invalid("the archive has no manifest.json".to_owned()))?;
        let mut text = Vec::new();
        file.take(MAX_MANIFEST)
            .read_to_end(&mut text)
            .map_err(|e| Error::Invalid(format!("manifest.json is damaged: {e}")))?;
        serde_json::from_slice(&text)
            .map_err(|e| Error::Invalid(format!("manifest.json is not a privctl manifest: {e}")))?
    };
    if manifest.format != FORMAT {
        return Err(Error::Invalid(format!(
            "manifest.json is format \"{}\", not \"{FORMAT}\"",
            privctl_policy::escape_untrusted(&manifest.format)
        )));
    }
    let listed: BTreeMap<&str, &ManifestEntry> = manifest
        .entries
        .iter()
        .map(|e| (e.name.as_str(), e))
        .collect();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).map_err(damaged)?;
        let name = file.name().to_owned();
        if name == "manifest.json" {
            continue;
        }
        let shown = privctl_policy::escape_untrusted(&name).into_owned();
        let want = listed.get(name.as_str()).ok_or_else(|| {
            Error::Invalid(format!(
                "entry {shown} is not in the manifest: it was added"
            ))
        })?;
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        let mut buf = [0u8; 64 * 1024];
        let mut bytes = 0u64;
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|e| Error::Invalid(format!("entry {shown} is damaged: {e}")))?;
            if n == 0 {
                break;
            }
            ctx.update(&buf[..n]);
            bytes += n as u64;
        }
        if bytes != want.bytes || hex(ctx.finish().as_ref()) != want.sha256 {
            return Err(Error::Invalid(format!(
                "entry {shown} does not match its checksum in the manifest: it was changed"
            )));
        }
    }
    for e in &manifest.entries {
        if archive.by_name(&e.name).is_err() {
            return Err(Error::Invalid(format!(
                "entry {} is in the manifest but not in the archive: it was removed",
                privctl_policy::escape_untrusted(&e.name)
            )));
        }
    }
    Ok(manifest)
}

/// What a download token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// SHA-256 of the archive it lets someone download.
    pub zip_sha256: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

const TOKEN_PREFIX: &str = "pdt1";

/// A token for the archive with SHA-256 `zip_sha256`, valid until
/// `expires_at`, signed with `signer`.
pub fn token(signer: &Signer, zip_sha256: &str, expires_at: DateTime<Utc>) -> Result<String> {
    let claims = serde_json::to_vec(&Token {
        zip_sha256: zip_sha256.to_owned(),
        expires_at,
    })?;
    let payload = hex(&claims);
    let signature = signer.sign(format!("{TOKEN_PREFIX}.{payload}").as_bytes());
    Ok(format!("{TOKEN_PREFIX}.{payload}.{signature}"))
}

/// Checks a token: its signature against the public `key`, that it is for
/// the archive with SHA-256 `zip_sha256`, and that it has not expired at
/// `now`.
pub fn verify_token(
    key: &privctl_audit::PublicKey,
    token: &str,
    zip_sha256: &str,
    now: DateTime<Utc>,
) -> Result<Token> {
    let bad = |why: &str| Error::Invalid(format!("the token {why}"));
    let mut parts = token.trim().split('.');
    let (Some(TOKEN_PREFIX), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("is not a privctl download token"));
    };
    let signature = unhex(signature).ok_or_else(|| bad("has a signature that is not hex"))?;
    if !key.verifies(format!("{TOKEN_PREFIX}.{payload}").as_bytes(), &signature) {
        return Err(bad("was not signed by this key, or was changed"));
    }
    let claims: Token = unhex(payload)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| bad("does not hold a download claim"))?;
    if claims.zip_sha256 != zip_sha256 {
        return Err(bad("is for another archive"));
    }
    if now >= claims.expires_at {
        return Err(bad(&format!(
            "expired at {}",
            claims.expires_at.to_rfc3339()
        )));
    }
    Ok(claims)
}

/// A finished export.
#[derive(Debug, Clone, Serialize)]
pub struct Exported {
    /// Where the archive is.
    pub path: String,
    /// Its SHA-256.
    pub sha256: String,
    /// Its download token.
    pub token: String,
    /// When the token expires.
    pub expires_at: DateTime<Utc>,
    /// Its manifest.
    pub manifest: Manifest,
    /// The audit entry that records it.
    pub audit_entry: i64,
}

/// SHA-256 of a file, hex.
pub fn file_sha256(path: &Path) -> Result<String> {
    let shown = privctl_policy::escape_path(path);
    let f = std::fs::File::open(path).map_err(io(&shown))?;
    sha256_of(f, &shown)
}

/// SHA-256 of everything `f` yields, hex.
pub fn sha256_of(mut f: impl Read, shown: &str) -> Result<String> {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = [0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(io(shown))?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
    }
    Ok(hex(ctx.finish().as_ref()))
}

/// Answers an access request: exports `subject` into the archive at `path`
/// (written whole or not at all, readable by its owner only), signs a
/// download token valid for the policy's link expiry, and records the
/// export in the audit log of `home`.
#[allow(clippy::too_many_arguments)]
pub async fn export_to_file(
    policy: &Policy,
    policy_sha256: &str,
    dbs: &BTreeMap<String, Db>,
    clickhouse: &BTreeMap<String, ClickHouse>,
    roots: &BTreeMap<String, PathBuf>,
    home: &Db,
    subject: &Subject,
    options: &ExportOptions,
    path: &Path,
    signer: &Signer,
) -> Result<Exported> {
    let shown = privctl_policy::escape_path(path);
    let mut file = privctl_fsio::AtomicFile::new(path, Some(0o600)).map_err(io(&shown))?;
    let (manifest, _) = export(
        policy,
        policy_sha256,
        dbs,
        clickhouse,
        roots,
        subject,
        options,
        file.file_mut(),
    )
    .await?;
    file.commit(true).map_err(io(&shown))?;
    let sha256 = file_sha256(path)?;
    let expiry = policy
        .export
        .as_ref()
        .map(|e| e.link_expiry)
        .unwrap_or(privctl_policy::RetentionPeriod::Hours(24));
    let expires_at = expiry
        .end_from(options.now)
        .unwrap_or(options.now + chrono::Duration::hours(24));
    let token = token(signer, &sha256, expires_at)?;
    let records: BTreeMap<&str, u64> = manifest
        .data_types
        .iter()
        .map(|d| (d.name.as_str(), d.records))
        .collect();
    let recorded = privctl_audit::record(
        home,
        "export.created",
        Some(&subject.key),
        &serde_json::json!({
            "identifier": subject.identifier,
            "request": options.request,
            "zip_sha256": sha256,
            "expires_at": expires_at.to_rfc3339(),
            "records": records,
            "not_included": manifest.not_included,
        }),
        options.now,
    )
    .await;
    let entry = match recorded {
        Ok(e) => e,
        Err(e) => {
            // Unrecorded personal data is not left lying about.
            let _ = std::fs::remove_file(path);
            return Err(e.into());
        }
    };
    Ok(Exported {
        path: shown,
        sha256,
        token,
        expires_at,
        manifest,
        audit_entry: entry.seq,
    })
}
