//! Financial years: the calendar that records laws count in.
//!
//! India's Companies Act keeps books "eight financial years", and its tax
//! laws count from the end of a financial year or a return due after it. A
//! record's financial year is decided in the organisation's own time zone:
//! a payment at 18:45 UTC on 31 March is already in April in India.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, Offset, TimeZone, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// When an organisation's financial year starts, and in which time zone.
///
/// ```
/// use privctl_policy::model::FinancialYear;
/// let india: FinancialYear = toml::from_str("starts = \"04-01\"\nutc_offset = \"+05:30\"").unwrap();
/// let t = "2026-03-31T18:30:00Z".parse().unwrap(); // 1 April, 00:00 in India
/// assert_eq!(india.end_of_year_holding(t).to_rfc3339(), "2027-03-31T18:30:00+00:00");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct FinancialYear {
    /// The first day of each financial year, `MM-DD` (India's is `04-01`).
    pub starts: MonthDay,
    /// The time zone its days are counted in, as an offset from UTC
    /// (India's is `+05:30`).
    pub utc_offset: UtcOffset,
}

impl FinancialYear {
    /// India's: 1 April to 31 March (Companies Act 2013 s.2(41)), in
    /// Indian Standard Time.
    pub const INDIA: FinancialYear = FinancialYear {
        starts: MonthDay { month: 4, day: 1 },
        utc_offset: UtcOffset { minutes: 330 },
    };

    /// The start of the financial year holding `t`.
    pub fn start_of_year_holding(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let offset = self.utc_offset.fixed();
        let local = t.with_timezone(&offset);
        let start = |year: i32| -> Option<DateTime<Utc>> {
            let day = NaiveDate::from_ymd_opt(year, self.starts.month, self.starts.day)?;
            let at = offset
                .from_local_datetime(&day.and_hms_opt(0, 0, 0)?)
                .single()?;
            Some(at.with_timezone(&Utc))
        };
        let year = local.year();
        match start(year) {
            Some(s) if s <= t => s,
            // Before this calendar year's start: the year began last year.
            // Years outside chrono's range cannot hold a record.
            _ => start(year - 1).unwrap_or(DateTime::<Utc>::MIN_UTC),
        }
    }

    /// When the financial year holding `t` ends: the next one's start.
    pub fn end_of_year_holding(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let start = self.start_of_year_holding(t);
        // A year on from the start, at the same local midnight.
        let offset = self.utc_offset.fixed();
        let local = start.with_timezone(&offset).date_naive();
        NaiveDate::from_ymd_opt(local.year() + 1, self.starts.month, self.starts.day)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .and_then(|d| offset.from_local_datetime(&d).single())
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// The latest instant whose financial year has ended by `cut`: a record
    /// at or before it has had its year end at or before `cut`. One
    /// microsecond before the start of the year holding `cut`, the finest
    /// time any supported database keeps.
    pub fn last_instant_ended_by(&self, cut: DateTime<Utc>) -> DateTime<Utc> {
        self.start_of_year_holding(cut) - Duration::microseconds(1)
    }
}

/// A day of the year, `MM-DD`, from the 1st to the 28th of a month so that
/// every year has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthDay {
    month: u32,
    day: u32,
}

impl MonthDay {
    /// The month, 1 to 12.
    pub fn month(self) -> u32 {
        self.month
    }

    /// The day of the month, 1 to 28.
    pub fn day(self) -> u32 {
        self.day
    }
}

/// Why a day of the year or an offset was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidCalendar(String);

impl FromStr for MonthDay {
    type Err = InvalidCalendar;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            InvalidCalendar(format!(
                "invalid day of the year {s:?}: expected MM-DD, such as \"04-01\", with a day from 01 to 28"
            ))
        };
        let (m, d) = s.split_once('-').ok_or_else(bad)?;
        if m.len() != 2 || d.len() != 2 || !(m.bytes().chain(d.bytes())).all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let month: u32 = m.parse().map_err(|_| bad())?;
        let day: u32 = d.parse().map_err(|_| bad())?;
        if !(1..=12).contains(&month) || !(1..=28).contains(&day) {
            return Err(bad());
        }
        Ok(MonthDay { month, day })
    }
}

impl fmt::Display for MonthDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}-{:02}", self.month, self.day)
    }
}

/// An offset from UTC, `+HH:MM` or `-HH:MM`, at most 14 hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcOffset {
    minutes: i32,
}

impl UtcOffset {
    /// Minutes east of UTC.
    pub fn minutes(self) -> i32 {
        self.minutes
    }

    fn fixed(self) -> FixedOffset {
        // In range by construction (at most 14 hours).
        FixedOffset::east_opt(self.minutes * 60).unwrap_or_else(|| Utc.fix())
    }
}

impl FromStr for UtcOffset {
    type Err = InvalidCalendar;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            InvalidCalendar(format!(
                "invalid UTC offset {s:?}: expected +HH:MM or -HH:MM, such as \"+05:30\", at most 14 hours"
            ))
        };
        let b = s.as_bytes();
        if b.len() != 6
            || !matches!(b[0], b'+' | b'-')
            || b[3] != b':'
            || ![1, 2, 4, 5].iter().all(|&i| b[i].is_ascii_digit())
        {
            return Err(bad());
        }
        let h: i32 = s[1..3].parse().map_err(|_| bad())?;
        let m: i32 = s[4..6].parse().map_err(|_| bad())?;
        if m >= 60 || h * 60 + m > 14 * 60 {
            return Err(bad());
        }
        let minutes = h * 60 + m;
        Ok(UtcOffset {
            minutes: if b[0] == b'-' { -minutes } else { minutes },
        })
    }
}

impl fmt::Display for UtcOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.minutes < 0 { '-' } else { '+' };
        let m = self.minutes.abs();
        write!(f, "{sign}{:02}:{:02}", m / 60, m % 60)
    }
}

macro_rules! text_type {
    ($t:ty, $name:literal, $description:literal, $pattern:literal) => {
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d)?
                    .parse()
                    .map_err(serde::de::Error::custom)
            }
        }

        impl JsonSchema for $t {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                $name.into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "description": $description,
                    "pattern": $pattern
                })
            }
        }
    };
}

text_type!(
    MonthDay,
    "MonthDay",
    "A day of the year, MM-DD, with a day from 01 to 28 (every year has it).",
    "^(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])$"
);
text_type!(
    UtcOffset,
    "UtcOffset",
    "An offset from UTC, +HH:MM or -HH:MM, at most 14 hours.",
    "^[+-][0-1][0-9]:[0-5][0-9]$"
);

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    #[test]
    fn india_years_turn_at_midnight_in_india() {
        let fy = FinancialYear::INDIA;
        // 23:59:59 on 31 March in India, then midnight on 1 April.
        let last = t("2026-03-31T18:29:59Z");
        let first = t("2026-03-31T18:30:00Z");
        assert_eq!(fy.start_of_year_holding(last), t("2025-03-31T18:30:00Z"));
        assert_eq!(fy.end_of_year_holding(last), first);
        assert_eq!(fy.start_of_year_holding(first), first);
        assert_eq!(fy.end_of_year_holding(first), t("2027-03-31T18:30:00Z"));
        // January belongs to the year that began the April before.
        assert_eq!(
            fy.end_of_year_holding(t("2027-01-15T00:00:00Z")),
            t("2027-03-31T18:30:00Z")
        );
    }

    #[test]
    fn a_year_has_ended_for_records_before_the_start_of_the_cut_s_year() {
        let fy = FinancialYear::INDIA;
        let cut = t("2026-09-01T00:00:00Z");
        let last = fy.last_instant_ended_by(cut);
        assert_eq!(last, t("2026-03-31T18:29:59.999999Z"));
        assert!(fy.end_of_year_holding(last) <= cut);
        assert!(fy.end_of_year_holding(last + Duration::microseconds(1)) > cut);
    }

    #[test]
    fn west_of_utc_and_the_calendar_year() {
        let fy = FinancialYear {
            starts: "01-01".parse().expect("day"),
            utc_offset: "-05:00".parse().expect("offset"),
        };
        // 02:00 UTC on 1 January is still 31 December in New York.
        let t0 = t("2027-01-01T02:00:00Z");
        assert_eq!(fy.end_of_year_holding(t0), t("2027-01-01T05:00:00Z"));
    }

    #[test]
    fn refuses_malformed_days_and_offsets() {
        for bad in [
            "4-01", "04-1", "13-01", "00-10", "02-29", "04-31", "0401", "04/01", "+4-01",
        ] {
            assert!(bad.parse::<MonthDay>().is_err(), "{bad}");
        }
        for bad in [
            "05:30", "+5:30", "+05:60", "+15:00", "+14:01", "+05-30", "+0530", "Z",
        ] {
            assert!(bad.parse::<UtcOffset>().is_err(), "{bad}");
        }
        for (good, shown) in [
            ("+05:30", "+05:30"),
            ("-03:00", "-03:00"),
            ("+14:00", "+14:00"),
            ("-00:00", "+00:00"),
        ] {
            assert_eq!(
                good.parse::<UtcOffset>().expect("offset").to_string(),
                shown
            );
        }
        assert_eq!(
            "04-06".parse::<MonthDay>().expect("day").to_string(),
            "04-06"
        );
    }
}
