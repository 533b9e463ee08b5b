//! Typed retention periods: `24h`, `72h`, `90d`, `12mo`, `3y`, `indefinite`.
//!
//! Months and years are calendar units, not a fixed number of days: `1mo` after
//! 31 January is 28 or 29 days, after 1 March it is 31. A period is therefore
//! compared with another through the shortest and longest span it can cover
//! ([`RetentionPeriod::min_hours`], [`RetentionPeriod::max_hours`]), so that
//! "is this retention at least its legal floor?" is answered for every start
//! date, not for an average one.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration as ChronoDuration, Months, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How long something is kept, or a deadline: a count of one calendar unit, or
/// `indefinite`.
///
/// ```
/// use privctl_policy::RetentionPeriod;
/// let p: RetentionPeriod = "90d".parse().unwrap();
/// assert_eq!(p.to_string(), "90d");
/// assert!("12mo".parse::<RetentionPeriod>().unwrap() >= "365d".parse().unwrap());
/// assert!("90 days".parse::<RetentionPeriod>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetentionPeriod {
    /// A number of hours (`72h`).
    Hours(u32),
    /// A number of days (`90d`).
    Days(u32),
    /// A number of calendar months (`12mo`).
    Months(u32),
    /// A number of calendar years (`3y`).
    Years(u32),
    /// Kept without end (`indefinite`).
    Indefinite,
}

/// Why a period string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration \"{input}\": {reason}")]
pub struct ParseDurationError {
    input: String,
    reason: &'static str,
}

/// Largest count accepted for any unit: 1000 years, far past any legal floor,
/// and small enough that every span fits in an `i64` of hours.
const MAX_YEARS: u32 = 1000;

impl FromStr for RetentionPeriod {
    type Err = ParseDurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| ParseDurationError {
            input: s.to_owned(),
            reason,
        };
        if s == "indefinite" {
            return Ok(RetentionPeriod::Indefinite);
        }
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        let (number, unit) = s.split_at(digits);
        if number.is_empty() {
            return Err(err(
                "expected a whole number followed by h, d, mo or y (e.g. 90d), or \"indefinite\"",
            ));
        }
        if number.len() > 1 && number.starts_with('0') {
            return Err(err("leading zeros are not allowed"));
        }
        let n: u32 = number.parse().map_err(|_| err("the number is too large"))?;
        if n == 0 {
            return Err(err("a period must be longer than zero"));
        }
        let (period, years) = match unit {
            "h" => (RetentionPeriod::Hours(n), n / (24 * 366)),
            "d" => (RetentionPeriod::Days(n), n / 366),
            "mo" => (RetentionPeriod::Months(n), n / 12),
            "y" => (RetentionPeriod::Years(n), n),
            "" => return Err(err("the unit is missing: use h, d, mo or y (e.g. 90d)")),
            _ => return Err(err("unknown unit: use h, d, mo or y (e.g. 90d)")),
        };
        if years > MAX_YEARS {
            return Err(err("periods longer than 1000 years are not accepted"));
        }
        Ok(period)
    }
}

impl fmt::Display for RetentionPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RetentionPeriod::Hours(n) => write!(f, "{n}h"),
            RetentionPeriod::Days(n) => write!(f, "{n}d"),
            RetentionPeriod::Months(n) => write!(f, "{n}mo"),
            RetentionPeriod::Years(n) => write!(f, "{n}y"),
            RetentionPeriod::Indefinite => f.write_str("indefinite"),
        }
    }
}

impl RetentionPeriod {
    /// Whether this is `indefinite`.
    pub fn is_indefinite(self) -> bool {
        self == RetentionPeriod::Indefinite
    }

    /// Whether this period lasts at least as long as `other` whatever the
    /// start date (`12mo` covers `365d`; `30d` does not cover `1mo`).
    pub fn covers(self, other: RetentionPeriod) -> bool {
        matches!(
            self.partial_cmp(&other),
            Some(std::cmp::Ordering::Greater | std::cmp::Ordering::Equal)
        )
    }

    /// This period and a year more, as long as a year whatever the start
    /// (366 days for periods in days or hours); `None` on overflow.
    pub fn plus_a_year(self) -> Option<RetentionPeriod> {
        Some(match self {
            RetentionPeriod::Hours(n) => RetentionPeriod::Hours(n.checked_add(366 * 24)?),
            RetentionPeriod::Days(n) => RetentionPeriod::Days(n.checked_add(366)?),
            RetentionPeriod::Months(n) => RetentionPeriod::Months(n.checked_add(12)?),
            RetentionPeriod::Years(n) => RetentionPeriod::Years(n.checked_add(1)?),
            RetentionPeriod::Indefinite => RetentionPeriod::Indefinite,
        })
    }

    /// The instant this period ends when it starts at `start`, or `None` for
    /// `indefinite`. Month arithmetic clamps to the last day of shorter months,
    /// as a lawyer reads "one month from 31 January".
    pub fn end_from<Tz: TimeZone>(self, start: DateTime<Tz>) -> Option<DateTime<Tz>> {
        match self {
            RetentionPeriod::Hours(n) => start.checked_add_signed(ChronoDuration::hours(n.into())),
            RetentionPeriod::Days(n) => start.checked_add_signed(ChronoDuration::days(n.into())),
            RetentionPeriod::Months(n) => start.checked_add_months(Months::new(n)),
            RetentionPeriod::Years(n) => start.checked_add_months(Months::new(n.checked_mul(12)?)),
            RetentionPeriod::Indefinite => None,
        }
    }

    /// The shortest span, in hours, this period can cover for any start date;
    /// `None` for `indefinite`.
    pub fn min_hours(self) -> Option<i64> {
        self.span_hours().map(|(min, _)| min)
    }

    /// The longest span, in hours, this period can cover for any start date;
    /// `None` for `indefinite`.
    pub fn max_hours(self) -> Option<i64> {
        self.span_hours().map(|(_, max)| max)
    }

    fn span_hours(self) -> Option<(i64, i64)> {
        let hours = match self {
            RetentionPeriod::Hours(n) => i64::from(n),
            RetentionPeriod::Days(n) => i64::from(n) * 24,
            RetentionPeriod::Indefinite => return None,
            RetentionPeriod::Months(_) | RetentionPeriod::Years(_) => {
                return Some(calendar_span_hours(self));
            }
        };
        Some((hours, hours))
    }
}

/// Shortest and longest span of a month- or year-based period over every start
/// day of eight years from 1896. Which starts give the extremes depends on the
/// day of the month and on leap days, and those eight years hold every month
/// shape, leap years and the non-leap 1900 among them.
fn calendar_span_hours(period: RetentionPeriod) -> (i64, i64) {
    let mut min = i64::MAX;
    let mut max = i64::MIN;
    let Some(first) = NaiveDate::from_ymd_opt(1896, 1, 1) else {
        return (0, 0);
    };
    for offset in 0..(8 * 366) {
        let Some(day) = first.checked_add_signed(ChronoDuration::days(offset)) else {
            continue;
        };
        let start = Utc.from_utc_datetime(&day.and_time(chrono::NaiveTime::MIN));
        if let Some(end) = period.end_from(start) {
            let hours = (end - start).num_hours();
            min = min.min(hours);
            max = max.max(hours);
        }
    }
    (min, max)
}

impl PartialOrd for RetentionPeriod {
    /// `a < b` when `a` is shorter than `b` for every start date; two periods
    /// that overlap (`30d` and `1mo`) are unordered.
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        use std::cmp::Ordering;
        match (self.span_hours(), other.span_hours()) {
            (None, None) => Some(Ordering::Equal),
            (None, Some(_)) => Some(Ordering::Greater),
            (Some(_), None) => Some(Ordering::Less),
            (Some((amin, amax)), Some((bmin, bmax))) => {
                if amin == bmin && amax == bmax {
                    Some(Ordering::Equal)
                } else if amax <= bmin {
                    Some(Ordering::Less)
                } else if amin >= bmax {
                    Some(Ordering::Greater)
                } else {
                    None
                }
            }
        }
    }
}

impl Serialize for RetentionPeriod {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RetentionPeriod {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for RetentionPeriod {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RetentionPeriod".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A period: a whole number and a unit (h, d, mo, y), e.g. \"72h\", \"90d\", \"12mo\", \"7y\"; or \"indefinite\".",
            "pattern": "^(indefinite|[1-9][0-9]*(h|d|mo|y))$"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> RetentionPeriod {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn parses_every_unit() {
        assert_eq!(p("24h"), RetentionPeriod::Hours(24));
        assert_eq!(p("90d"), RetentionPeriod::Days(90));
        assert_eq!(p("12mo"), RetentionPeriod::Months(12));
        assert_eq!(p("3y"), RetentionPeriod::Years(3));
        assert_eq!(p("indefinite"), RetentionPeriod::Indefinite);
    }

    #[test]
    fn refuses_malformed_periods() {
        for bad in [
            "",
            "d",
            "90",
            "90 d",
            "90days",
            "-1d",
            "0d",
            "007d",
            "1.5y",
            "5Y",
            "12m",
            "forever",
            "99999999999d",
            "1001y",
            " 90d",
        ] {
            assert!(
                bad.parse::<RetentionPeriod>().is_err(),
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn display_round_trips() {
        for s in ["1h", "72h", "30d", "1mo", "18mo", "5y", "indefinite"] {
            assert_eq!(p(s).to_string(), s);
        }
    }

    #[test]
    fn calendar_spans_cover_short_and_long_months() {
        assert_eq!(p("1mo").min_hours(), Some(28 * 24));
        assert_eq!(p("1mo").max_hours(), Some(31 * 24));
        assert_eq!(p("1y").min_hours(), Some(365 * 24));
        assert_eq!(p("1y").max_hours(), Some(366 * 24));
        assert_eq!(p("indefinite").min_hours(), None);
    }

    #[test]
    fn ordering_is_safe_for_every_start_date() {
        assert!(p("12mo") >= p("365d"));
        assert!(p("5y") > p("4y"));
        assert!(p("72h") < p("4d"));
        assert!(p("indefinite") > p("1000y"));
        // 30 days is longer than February and shorter than March: unordered.
        assert_eq!(p("30d").partial_cmp(&p("1mo")), None);
        assert!(p("364d") < p("1y"));
    }

    #[test]
    fn months_clamp_to_month_end() {
        let start = Utc
            .with_ymd_and_hms(2026, 1, 31, 12, 0, 0)
            .single()
            .unwrap_or_else(|| panic!("valid date"));
        let end = p("1mo").end_from(start).unwrap_or_else(|| panic!("finite"));
        assert_eq!(
            end.date_naive(),
            NaiveDate::from_ymd_opt(2026, 2, 28).unwrap_or_default()
        );
    }
}
