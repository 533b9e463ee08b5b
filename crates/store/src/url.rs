//! Database URLs: which dialect a URL names, and printing one without its
//! password.

use std::fmt;
use std::path::Path;

use privctl_policy::escape_untrusted;

use crate::{Dialect, Error, Result};

/// A database URL whose password never reaches `Display` or `Debug`.
///
/// ```
/// use privctl_store::DbUrl;
/// let url = DbUrl::new("postgres://app:s3cr3t@db.internal:5432/main");
/// assert_eq!(url.to_string(), "postgres://app:***@db.internal:5432/main");
/// assert!(!format!("{url:?}").contains("s3cr3t"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct DbUrl(String);

impl DbUrl {
    /// Wraps a URL.
    pub fn new(url: &str) -> Self {
        DbUrl(url.to_owned())
    }

    /// The dialect its scheme names: `sqlite:` or `postgres://` (also
    /// `postgresql://`).
    pub fn dialect(&self) -> Result<Dialect> {
        if self.0.starts_with("sqlite:") {
            Ok(Dialect::Sqlite)
        } else if self.0.starts_with("postgres://") || self.0.starts_with("postgresql://") {
            Ok(Dialect::Postgres)
        } else {
            Err(Error::UnsupportedUrl { url: self.clone() })
        }
    }

    /// The URL itself, password included: only for the driver.
    pub(crate) fn secret(&self) -> &str {
        &self.0
    }

    fn masked(&self) -> String {
        let url = &self.0;
        let mut shown = match url.find("://") {
            // Whatever stands before the last `@` is userinfo: a password
            // may hold `/`, `?` or `#` unencoded, and is masked whole.
            Some(scheme_end) => {
                let rest = &url[scheme_end + 3..];
                match rest.rfind('@') {
                    Some(at) => {
                        let userinfo = &rest[..at];
                        let user = userinfo.split(':').next().unwrap_or("");
                        let masked = if userinfo.contains(':') {
                            format!("{user}:***")
                        } else {
                            user.to_owned()
                        };
                        format!("{}://{masked}@{}", &url[..scheme_end], &rest[at + 1..])
                    }
                    None => url.clone(),
                }
            }
            None => url.clone(),
        };
        // Passwords can also ride in the query string, more than once.
        let mut from = 0;
        while let Some(i) = shown[from..]
            .find("password=")
            .map(|i| from + i + "password=".len())
        {
            let end = shown[i..].find('&').map_or(shown.len(), |e| i + e);
            shown.replace_range(i..end, "***");
            from = i + 3;
        }
        escape_untrusted(&shown).into_owned()
    }
}

impl fmt::Display for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DbUrl({})", self.masked())
    }
}

/// The driver's URL for `rest` (what follows `sqlite:`): a missing file is
/// refused unless `create`, which also makes its directory.
pub(crate) fn sqlite_url(rest: &str, create: bool) -> Result<String> {
    let (path, params) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let path = path.strip_prefix("//").unwrap_or(path);
    if path.is_empty() || path == ":memory:" {
        return Ok(format!("sqlite:{rest}"));
    }
    let file = Path::new(path);
    let explicit_mode = params.is_some_and(|q| q.split('&').any(|p| p.starts_with("mode=")));
    if create {
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| Error::CreateDir {
                path: privctl_policy::escape_path(dir),
                source,
            })?;
        }
    } else if !explicit_mode && !file.exists() {
        return Err(Error::NoDatabase {
            path: privctl_policy::escape_path(file),
        });
    }
    let mut url = format!("sqlite://{path}");
    let mut params: Vec<&str> = params.map(|q| q.split('&').collect()).unwrap_or_default();
    if create && !explicit_mode {
        params.push("mode=rwc");
    }
    if !params.is_empty() {
        url.push('?');
        url.push_str(&params.join("&"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_mask_passwords_everywhere() {
        for (url, shown) in [
            ("postgres://u:pw@h/db", "postgres://u:***@h/db"),
            ("postgresql://u@h:5432/db", "postgresql://u@h:5432/db"),
            (
                "postgres://h/db?user=u&password=pw&x=1",
                "postgres://h/db?user=u&password=***&x=1",
            ),
            ("postgres://:pw@h", "postgres://:***@h"),
            ("sqlite:.privctl/vault.db", "sqlite:.privctl/vault.db"),
            ("postgres://u:p@ss@h/db", "postgres://u:***@h/db"),
            ("postgres://u:pa/ss@h/db", "postgres://u:***@h/db"),
            (
                "postgres://h/db?password=a&password=b",
                "postgres://h/db?password=***&password=***",
            ),
        ] {
            assert_eq!(DbUrl::new(url).to_string(), shown);
        }
    }

    #[test]
    fn the_scheme_picks_the_dialect() {
        assert_eq!(
            DbUrl::new("sqlite:x.db").dialect().ok(),
            Some(Dialect::Sqlite)
        );
        assert_eq!(
            DbUrl::new("postgresql://h/db").dialect().ok(),
            Some(Dialect::Postgres)
        );
        let err = DbUrl::new("mysql://u:pw@h/db").dialect().err();
        let text = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains("mysql://u:***@h/db"), "{text}");
    }

    #[test]
    fn a_missing_sqlite_file_is_named() {
        let err = sqlite_url("/nonexistent/dir/v.db", false)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("/nonexistent/dir/v.db"), "{err}");
        assert!(err.contains("does not exist"), "{err}");
        assert_eq!(
            sqlite_url("rel/v.db?mode=ro", false).ok().as_deref(),
            Some("sqlite://rel/v.db?mode=ro")
        );
    }
}
