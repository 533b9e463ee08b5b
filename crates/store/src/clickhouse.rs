//! ClickHouse, over its HTTP interface.
//!
//! A small client on `hyper`, not the official `clickhouse` crate: that
//! crate reads rows as `RowBinaryWithNamesAndTypes` and checks inserts with
//! a `DESCRIBE` setting, neither of which the servers privctl must serve
//! (Debian's 18.16) know. Statements are the store layer's [`Sql`], its
//! values written in as escaped literals ([`Sql::clickhouse_text`]), since
//! servers before 19.11 take no bound parameters; rows come back as
//! `JSONEachRow`, bounded in size. A URL is `clickhouse://user:password@host:port/database`
//! (or `http://`), and prints with its password masked. Errors keep the
//! server's code and message, and name the store, the table and what was
//! being done.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Request, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use privctl_policy::SqlIdent;
use serde_json::{Map, Value as Json};

use crate::sql::{clickhouse_literal, Sql};
use crate::{DbUrl, Error, Result};

/// How long connecting and a first answer may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one statement may run before privctl gives up on it.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(600);

/// The most a result may hold: answers are read whole.
const MAX_RESULT_BYTES: usize = 256 * 1024 * 1024;

/// A server's version, as `version()` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

impl Version {
    /// Whether tables may carry a `TTL` clause (19.6 and later).
    pub fn has_ttl(self) -> bool {
        self >= Version(19, 6, 0)
    }

    /// Whether `ALTER TABLE ... DELETE` mutations exist (18.1 and later,
    /// for plain MergeTree tables).
    pub fn has_mutations(self) -> bool {
        self >= Version(18, 1, 0)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// One open ClickHouse store.
#[derive(Clone)]
pub struct ClickHouse {
    client: Client<HttpConnector, Full<Bytes>>,
    /// `http://host:port/`, no user information.
    endpoint: Uri,
    user: String,
    password: String,
    database: String,
    url: DbUrl,
    name: String,
    version: Version,
}

impl std::fmt::Debug for ClickHouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouse")
            .field("store", &self.name)
            .field("url", &self.url)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// A column of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChColumn {
    /// Its name.
    pub name: String,
    /// Its type, as ClickHouse spells it (`DateTime`, `Nullable(String)`).
    pub ty: String,
}

/// A table of the store's database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChTable {
    /// Its name.
    pub name: String,
    /// Its engine (`MergeTree`).
    pub engine: String,
    /// Its partition key expression (`toYYYYMMDD(timestamp)`), empty for none.
    pub partition_key: String,
    /// Its sorting key expression.
    pub sorting_key: String,
    /// Its engine with every clause (`MergeTree PARTITION BY ... TTL ...`).
    pub engine_full: String,
    /// Its columns, in order.
    pub columns: Vec<ChColumn>,
}

/// An active part's partition, with the time range of its rows where the
/// partition key is a `DateTime` expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChPartition {
    /// The partition's id, as `ALTER TABLE ... DROP PARTITION ID` takes it.
    pub id: String,
    /// Rows in it.
    pub rows: u64,
    /// Its earliest and latest row time (Unix seconds), when known.
    pub min_time: Option<i64>,
    /// See `min_time`.
    pub max_time: Option<i64>,
}

/// The parts of a `clickhouse://` or `http://` URL.
struct Parsed {
    endpoint: Uri,
    user: String,
    password: String,
    database: String,
}

fn parse(url: &DbUrl) -> Result<Parsed> {
    let bad = |why: &str| Error::BadUrl {
        url: url.clone(),
        reason: why.to_owned(),
    };
    let secret = url.secret();
    let rest = secret
        .strip_prefix("clickhouse://")
        .or_else(|| secret.strip_prefix("http://"))
        .ok_or_else(|| bad("a ClickHouse URL starts with clickhouse:// or http://"))?;
    let (userinfo, hostpath) = match rest.rfind('@') {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    let (user, password) = match userinfo {
        Some(u) => match u.split_once(':') {
            Some((user, pass)) => (percent_decode(user), percent_decode(pass)),
            None => (percent_decode(u), String::new()),
        },
        None => ("default".to_owned(), String::new()),
    };
    let (host, path) = match hostpath.find('/') {
        Some(i) => (&hostpath[..i], &hostpath[i + 1..]),
        None => (hostpath, ""),
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    // `host:port`, or `[v6]` / `[v6]:port`.
    if let Some((_, port)) = host.rsplit_once(':').filter(|_| !host.ends_with(']')) {
        if port.parse::<u16>().is_err() {
            return Err(bad("the port is not a number"));
        }
    }
    let database = path.split(['?', '#']).next().unwrap_or("");
    let database = if database.is_empty() {
        "default"
    } else {
        database
    };
    if SqlIdent::new(database).is_err() {
        return Err(bad("the database name must be a plain identifier"));
    }
    let endpoint: Uri = format!("http://{host}/")
        .parse()
        .map_err(|_| bad("the host is not a host[:port]"))?;
    Ok(Parsed {
        endpoint,
        user,
        password,
        database: database.to_owned(),
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    let hex = |b: u8| (b as char).to_digit(16);
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl ClickHouse {
    /// Opens store `name` at `url`, asking the server its version: an
    /// unreachable server is reported at once.
    pub async fn open(name: &str, url: &str) -> Result<ClickHouse> {
        let shown = DbUrl::new(url);
        let p = parse(&shown)?;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            // Shorter than the server's own keep-alive (3 s by default), so
            // a pooled connection is never one the server already closed.
            .pool_idle_timeout(Duration::from_secs(2))
            .build(connector);
        let mut ch = ClickHouse {
            client,
            endpoint: p.endpoint,
            user: p.user,
            password: p.password,
            database: p.database,
            url: shown,
            name: name.to_owned(),
            version: Version(0, 0, 0),
        };
        let mut q = Sql::new();
        q.push("SELECT version() AS v");
        let rows = ch
            .rows_within(&q, "asking the server's version", None, CONNECT_TIMEOUT)
            .await?;
        let text = rows
            .first()
            .and_then(|r| r.get("v"))
            .and_then(Json::as_str)
            .unwrap_or("");
        let mut parts = text.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        ch.version = Version(
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
        );
        Ok(ch)
    }

    /// The store's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its URL, password masked.
    pub fn url(&self) -> &DbUrl {
        &self.url
    }

    /// The server's version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The database the store's tables are in.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// Runs a statement that returns no rows (DDL, `ALTER`, `INSERT ...
    /// SELECT`).
    pub async fn execute(&self, sql: &Sql, operation: &str, table: Option<&str>) -> Result<()> {
        self.send(sql.clickhouse_text(), operation, table, STATEMENT_TIMEOUT)
            .await
            .map(|_| ())
    }

    /// Runs a query and returns its rows as JSON objects (64-bit integers
    /// arrive as strings, as ClickHouse writes them).
    pub async fn rows(
        &self,
        sql: &Sql,
        operation: &str,
        table: Option<&str>,
    ) -> Result<Vec<Map<String, Json>>> {
        self.rows_within(sql, operation, table, STATEMENT_TIMEOUT)
            .await
    }

    async fn rows_within(
        &self,
        sql: &Sql,
        operation: &str,
        table: Option<&str>,
        timeout: Duration,
    ) -> Result<Vec<Map<String, Json>>> {
        let text = format!("{} FORMAT JSONEachRow", sql.clickhouse_text());
        let body = self.send(text, operation, table, timeout).await?;
        let mut out = Vec::new();
        for line in body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let row: Map<String, Json> = serde_json::from_slice(line).map_err(|e| {
                self.err(
                    operation,
                    table,
                    None,
                    format!("the server's answer is not JSON rows: {e}"),
                )
            })?;
            out.push(row);
        }
        Ok(out)
    }

    /// Inserts rows (JSON objects keyed by column) into `table`.
    pub async fn insert(
        &self,
        table: &SqlIdent,
        rows: &[Map<String, Json>],
        operation: &str,
    ) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut text = format!("INSERT INTO {} FORMAT JSONEachRow\n", crate::quote(table));
        for r in rows {
            // Serialising a map of JSON values cannot fail.
            text.push_str(&serde_json::to_string(r).unwrap_or_default());
            text.push('\n');
        }
        self.send(text, operation, Some(table.as_str()), STATEMENT_TIMEOUT)
            .await
            .map(|_| ())
    }

    /// The tables of the store's database, with their columns and keys.
    pub async fn tables(&self) -> Result<Vec<ChTable>> {
        let op = "reading the schema";
        let db = self.database_literal();
        let mut q = Sql::new();
        q.push(
            "SELECT name, engine, engine_full, partition_key, sorting_key FROM system.tables WHERE database = ",
        )
        .bind(db.clone())
        .push(" ORDER BY name");
        let mut tables: Vec<ChTable> = self
            .rows(&q, op, None)
            .await?
            .into_iter()
            .map(|r| ChTable {
                name: text(&r, "name"),
                engine: text(&r, "engine"),
                partition_key: text(&r, "partition_key"),
                sorting_key: text(&r, "sorting_key"),
                engine_full: text(&r, "engine_full"),
                columns: Vec::new(),
            })
            .collect();
        let mut q = Sql::new();
        q.push("SELECT table, name, type FROM system.columns WHERE database = ")
            .bind(db)
            .push(" ORDER BY table");
        for r in self.rows(&q, op, None).await? {
            let t = text(&r, "table");
            if let Some(table) = tables.iter_mut().find(|x| x.name == t) {
                table.columns.push(ChColumn {
                    name: text(&r, "name"),
                    ty: text(&r, "type"),
                });
            }
        }
        Ok(tables)
    }

    /// Up to `limit` rows of `columns` of `table`, each value as text (NULL
    /// as `None`): the first rows the server hands back, never the whole
    /// table.
    pub async fn sample_text(
        &self,
        table: &SqlIdent,
        columns: &[SqlIdent],
        limit: u32,
    ) -> Result<Vec<Vec<Option<String>>>> {
        if columns.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Sql::new();
        q.push("SELECT ");
        for (i, c) in columns.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push("toString(").ident(c).push(") AS ").ident(c);
        }
        q.push(" FROM ")
            .ident(table)
            .push(" LIMIT ")
            .bind(crate::sql::Value::Int(i64::from(limit)));
        Ok(self
            .rows(&q, "sampling values", Some(table.as_str()))
            .await?
            .into_iter()
            .map(|r| {
                columns
                    .iter()
                    .map(|c| {
                        r.get(c.as_str())
                            .and_then(|v| v.as_str())
                            .map(str::to_owned)
                    })
                    .collect()
            })
            .collect())
    }

    /// The active partitions of `table`, with their rows' time range.
    pub async fn partitions(&self, table: &SqlIdent) -> Result<Vec<ChPartition>> {
        let mut q = Sql::new();
        q.push("SELECT partition_id, toString(sum(rows)) AS rows, toString(toUnixTimestamp(min(min_time))) AS lo, toString(toUnixTimestamp(max(max_time))) AS hi FROM system.parts WHERE active AND database = ")
            .bind(self.database_literal())
            .push(" AND table = ")
            .bind(crate::sql::Value::Text(table.as_str().to_owned()))
            .push(" GROUP BY partition_id ORDER BY partition_id");
        let rows = self
            .rows(&q, "reading partitions", Some(table.as_str()))
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let n = |k: &str| text(&r, k).parse::<i64>().ok();
                let lo = n("lo").filter(|t| *t > 0);
                let hi = n("hi").filter(|t| *t > 0);
                ChPartition {
                    id: text(&r, "partition_id"),
                    rows: n("rows").unwrap_or(0).max(0) as u64,
                    min_time: lo,
                    max_time: hi,
                }
            })
            .collect())
    }

    /// Deletes the rows of `table` matching `condition` with an `ALTER
    /// TABLE ... DELETE` mutation carrying `marker` (a literal the server
    /// keeps in the mutation's command, so this mutation can be told from
    /// any other), and waits until `system.mutations` says it is done. Still
    /// not done after `wait` is an error naming the table (it may still
    /// finish: a rerun finds the rows gone).
    pub async fn delete_where(
        &self,
        table: &SqlIdent,
        condition: &Sql,
        marker: &str,
        wait: Duration,
    ) -> Result<()> {
        let op = "deleting rows (ALTER TABLE ... DELETE)";
        let mut sql = Sql::new();
        sql.push("ALTER TABLE ")
            .ident(table)
            .push(" DELETE WHERE ")
            .append(condition)
            .push(" AND (")
            .bind(crate::sql::Value::Text(marker.to_owned()))
            .push(" != '')");
        self.execute(&sql, op, Some(table.as_str())).await?;
        self.wait_for_mutation(table, marker, wait).await
    }

    /// Waits until the mutation of `table` carrying `marker` is done
    /// (others on the table are not waited for).
    pub async fn wait_for_mutation(
        &self,
        table: &SqlIdent,
        marker: &str,
        wait: Duration,
    ) -> Result<()> {
        let op = "waiting for a mutation";
        let started = std::time::Instant::now();
        let mut pause = Duration::from_millis(10);
        loop {
            match self.mutation_marked(table, marker).await? {
                Some(true) => return Ok(()),
                None => {
                    return Err(self.err(
                        op,
                        Some(table.as_str()),
                        None,
                        "the mutation is not in system.mutations".to_owned(),
                    ))
                }
                Some(false) => {}
            }
            if started.elapsed() >= wait {
                return Err(self.err(
                    op,
                    Some(table.as_str()),
                    None,
                    format!("the mutation is not done after {} s; the server may still be applying it, or it failed (see system.mutations and the server's log)", wait.as_secs()),
                ));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    /// Whether the mutation of `table` whose command holds `marker` has
    /// reached the server (`None`: it never did), and if so whether it is
    /// done.
    pub async fn mutation_marked(&self, table: &SqlIdent, marker: &str) -> Result<Option<bool>> {
        let mut q = Sql::new();
        q.push("SELECT toString(min(is_done)) AS done, toString(count()) AS n FROM system.mutations WHERE database = ")
            .bind(self.database_literal())
            .push(" AND table = ")
            .bind(crate::sql::Value::Text(table.as_str().to_owned()))
            .push(" AND position(command, ")
            .bind(crate::sql::Value::Text(marker.to_owned()))
            .push(") > 0");
        let rows = self
            .rows(&q, "looking for a mutation", Some(table.as_str()))
            .await?;
        let row = rows.first();
        let n = row.map(|r| text(r, "n")).unwrap_or_default();
        if n == "0" || n.is_empty() {
            return Ok(None);
        }
        Ok(Some(row.map(|r| text(r, "done")).as_deref() == Some("1")))
    }

    /// Drops partitions of `table` by their ids, in one `ALTER`.
    pub async fn drop_partitions(&self, table: &SqlIdent, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut sql = Sql::new();
        sql.push("ALTER TABLE ").ident(table);
        for (i, id) in ids.iter().enumerate() {
            sql.push(if i == 0 { " " } else { ", " })
                .push("DROP PARTITION ID ")
                .bind(crate::sql::Value::Text(id.clone()));
        }
        self.execute(&sql, "dropping partitions", Some(table.as_str()))
            .await
    }

    /// Drops one partition of `table` by its id.
    pub async fn drop_partition(&self, table: &SqlIdent, id: &str) -> Result<()> {
        let mut sql = Sql::new();
        sql.push("ALTER TABLE ")
            .ident(table)
            .push(" DROP PARTITION ID ")
            .bind(crate::sql::Value::Text(id.to_owned()));
        self.execute(&sql, "dropping a partition", Some(table.as_str()))
            .await
    }

    fn database_literal(&self) -> crate::sql::Value {
        crate::sql::Value::Text(self.database.clone())
    }

    /// The error for a failed statement or a bad answer.
    fn err(
        &self,
        operation: &str,
        table: Option<&str>,
        code: Option<u32>,
        message: String,
    ) -> Error {
        Error::ClickHouse {
            store: self.name.clone(),
            table: table.map(str::to_owned),
            operation: operation.to_owned(),
            code,
            message,
        }
    }

    async fn send(
        &self,
        text: String,
        operation: &str,
        table: Option<&str>,
        timeout: Duration,
    ) -> Result<Bytes> {
        let resp = self.send_raw(text, operation, table, timeout).await?;
        let body = tokio::time::timeout(
            timeout,
            Limited::new(resp.into_body(), MAX_RESULT_BYTES).collect(),
        )
        .await
        .map_err(|_| self.unreachable(format!("no answer within {} s", timeout.as_secs())))?
        .map_err(|e| {
            self.err(
                operation,
                table,
                None,
                format!(
                    "reading the answer failed (at most {} MiB are read): {e}",
                    MAX_RESULT_BYTES >> 20
                ),
            )
        })?
        .to_bytes();
        Ok(body)
    }

    fn unreachable(&self, reason: String) -> Error {
        Error::Unreachable {
            store: self.name.clone(),
            url: self.url.clone(),
            reason,
        }
    }

    /// Sends a statement and returns the server's answer once it said OK
    /// (the server holds the whole result before answering,
    /// `wait_end_of_query`, so an error is never half-way through a body).
    async fn send_raw(
        &self,
        text: String,
        operation: &str,
        table: Option<&str>,
        timeout: Duration,
    ) -> Result<hyper::Response<hyper::body::Incoming>> {
        let uri: Uri = format!(
            "{}?database={}&wait_end_of_query=1",
            self.endpoint, self.database
        )
        .parse()
        .map_err(|_| self.err(operation, table, None, "the URL is not valid".to_owned()))?;
        let mut req = Request::post(uri)
            .header(CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(Full::new(Bytes::from(text)))
            .map_err(|e| self.err(operation, table, None, e.to_string()))?;
        let headers = req.headers_mut();
        // Credentials in headers, never in the URL a proxy might log.
        if let Ok(v) = HeaderValue::from_str(&self.user) {
            headers.insert("X-ClickHouse-User", v);
        }
        if !self.password.is_empty() {
            if let Ok(mut v) = HeaderValue::from_str(&self.password) {
                v.set_sensitive(true);
                headers.insert("X-ClickHouse-Key", v);
            }
        }
        let resp = tokio::time::timeout(timeout, self.client.request(req))
            .await
            .map_err(|_| self.unreachable(format!("no answer within {} s", timeout.as_secs())))?
            .map_err(|e| self.unreachable(error_chain(&e)))?;
        if resp.status() != StatusCode::OK {
            let body =
                tokio::time::timeout(timeout, Limited::new(resp.into_body(), 1 << 20).collect())
                    .await
                    .ok()
                    .and_then(|b| b.ok())
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
            let message = String::from_utf8_lossy(&body);
            let (code, message) = server_error(&message);
            return Err(self.err(operation, table, code, message));
        }
        Ok(resp)
    }

    /// Runs a query and hands back its rows one at a time as they arrive
    /// (`JSONEachRow`), for results too large to hold: a person's
    /// telemetry in an export.
    pub async fn stream(
        &self,
        sql: &Sql,
        operation: &str,
        table: Option<&str>,
    ) -> Result<RowStream<'_>> {
        let text = format!("{} FORMAT JSONEachRow", sql.clickhouse_text());
        let resp = self
            .send_raw(text, operation, table, STATEMENT_TIMEOUT)
            .await?;
        Ok(RowStream {
            ch: self,
            body: resp.into_body(),
            buf: Vec::new(),
            start: 0,
            done: false,
            operation: operation.to_owned(),
            table: table.map(str::to_owned),
        })
    }
}

/// Rows of a query as they arrive ([`ClickHouse::stream`]).
pub struct RowStream<'a> {
    ch: &'a ClickHouse,
    body: hyper::body::Incoming,
    /// Bytes received and not yet handed back, from `start` on.
    buf: Vec<u8>,
    start: usize,
    done: bool,
    operation: String,
    table: Option<String>,
}

impl std::fmt::Debug for RowStream<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowStream")
            .field("store", &self.ch.name)
            .finish_non_exhaustive()
    }
}

/// The longest one row may be.
const MAX_ROW_BYTES: usize = 64 * 1024 * 1024;

impl RowStream<'_> {
    /// The next row, or `None` at the end.
    pub async fn next(&mut self) -> Result<Option<Map<String, Json>>> {
        loop {
            if let Some(pos) = self.buf[self.start..].iter().position(|b| *b == b'\n') {
                let (from, to) = (self.start, self.start + pos);
                self.start = to + 1;
                if to == from {
                    continue;
                }
                let row = self.parse(&self.buf[from..to]);
                return row.map(Some);
            }
            // What is left is the start of a row: keep only that.
            self.buf.drain(..self.start);
            self.start = 0;
            if self.done {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                let line = std::mem::take(&mut self.buf);
                return self.parse(&line).map(Some);
            }
            if self.buf.len() > MAX_ROW_BYTES {
                return Err(self.fail(format!("a row is longer than {} MiB", MAX_ROW_BYTES >> 20)));
            }
            match tokio::time::timeout(STATEMENT_TIMEOUT, self.body.frame()).await {
                Err(_) => return Err(self.ch.unreachable("the answer stopped".to_owned())),
                Ok(None) => self.done = true,
                Ok(Some(Err(e))) => {
                    return Err(self.fail(format!("reading the answer failed: {e}")))
                }
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        self.buf.extend_from_slice(&data);
                    }
                }
            }
        }
    }

    fn parse(&self, line: &[u8]) -> Result<Map<String, Json>> {
        serde_json::from_slice(line)
            .map_err(|e| self.fail(format!("the server's answer is not JSON rows: {e}")))
    }

    fn fail(&self, message: String) -> Error {
        self.ch
            .err(&self.operation, self.table.as_deref(), None, message)
    }
}

/// A JSON field as text (strings as they are, anything else printed).
fn text(row: &Map<String, Json>, key: &str) -> String {
    match row.get(key) {
        Some(Json::String(s)) => s.clone(),
        Some(Json::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// The server's error code and message from an error body (`Code: 60,
/// e.displayText() = DB::Exception: Table default.x doesn't exist., e.what()
/// = DB::Exception`, or the newer `Code: 60. DB::Exception: ...`).
pub fn server_error(body: &str) -> (Option<u32>, String) {
    let body = body.trim();
    let code = body.strip_prefix("Code: ").and_then(|r| {
        let digits: String = r.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    });
    let mut message = body;
    if let Some(i) = message.find("e.displayText() = ") {
        message = &message[i + "e.displayText() = ".len()..];
    } else if let Some(i) = message.find("DB::Exception: ") {
        message = &message[i..];
    }
    if let Some(i) = message.rfind(", e.what() = ") {
        message = &message[..i];
    }
    let message = message.strip_prefix("DB::Exception: ").unwrap_or(message);
    // One line, bounded: a server message can quote a whole statement.
    let mut short: String = message.chars().take(600).collect();
    if short.len() < message.len() {
        short.push('…');
    }
    (code, privctl_policy::escape_untrusted(&short).into_owned())
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// `name` as a ClickHouse string literal, for DDL a test or the sample
/// generator writes.
pub fn literal(name: &str) -> String {
    clickhouse_literal(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_host_user_and_database() {
        let p = parse(&DbUrl::new(
            "clickhouse://app:s%40cret@127.0.0.1:8123/telemetry",
        ))
        .expect("url");
        assert_eq!(p.endpoint.to_string(), "http://127.0.0.1:8123/");
        assert_eq!(
            (p.user.as_str(), p.password.as_str(), p.database.as_str()),
            ("app", "s@cret", "telemetry")
        );
        let p = parse(&DbUrl::new("http://127.0.0.1:8123")).expect("url");
        assert_eq!(
            (p.user.as_str(), p.database.as_str()),
            ("default", "default")
        );
        for bad in [
            "postgres://x@y/z",
            "clickhouse://",
            "clickhouse://h:1/db-name",
            "clickhouse://h:notaport/db",
        ] {
            assert!(parse(&DbUrl::new(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn server_errors_give_code_and_message() {
        let (code, msg) = server_error("Code: 60, e.displayText() = DB::Exception: Table default.nope doesn't exist., e.what() = DB::Exception\n");
        assert_eq!(code, Some(60));
        assert_eq!(msg, "Table default.nope doesn't exist.");
        let (code, msg) = server_error("Code: 62. DB::Exception: Syntax error: failed at position 1. (SYNTAX_ERROR) (version 23.8.1)");
        assert_eq!(code, Some(62));
        assert!(msg.starts_with("Syntax error"), "{msg}");
    }
}
