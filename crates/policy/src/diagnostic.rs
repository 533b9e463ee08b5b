//! Findings of `check`: what is wrong, where, and how bad.

use std::fmt;

use serde::Serialize;

use crate::source::Location;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The policy is usable but something deserves a look.
    Warning,
    /// The policy is wrong: it breaks the law, itself, or the format.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

macro_rules! rules {
    ($($(#[$doc:meta])* $variant:ident => $id:literal, $summary:literal;)*) => {
        /// The rule a finding breaks. Its id is stable: CI configurations and
        /// SARIF viewers refer to it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum Rule {
            $($(#[$doc])* $variant,)*
        }

        impl Rule {
            /// Every rule, in a stable order.
            pub const ALL: &'static [Rule] = &[$(Rule::$variant,)*];

            /// The stable id, e.g. `retention-below-floor`.
            pub fn id(self) -> &'static str {
                match self { $(Rule::$variant => $id,)* }
            }

            /// One sentence on what the rule guards.
            pub fn summary(self) -> &'static str {
                match self { $(Rule::$variant => $summary,)* }
            }
        }
    };
}

rules! {
    /// The file is not valid TOML.
    Syntax => "syntax", "The file must be valid TOML.";
    /// A key the format does not know.
    UnknownKey => "unknown-key", "Every key must be one the policy format defines.";
    /// A required key is absent.
    MissingKey => "missing-key", "Every required key must be present.";
    /// A value of the wrong type or outside its allowed set.
    InvalidValue => "invalid-value", "Values must have the type and one of the values the format allows.";
    /// A period that does not parse.
    BadDuration => "bad-duration", "Periods are a whole number and a unit (h, d, mo, y), or \"indefinite\".";
    /// A table or column name that could not be used safely in SQL.
    BadIdentifier => "bad-identifier", "Table and column names must be plain SQL identifiers.";
    /// A format version this release does not read.
    UnsupportedVersion => "unsupported-version", "The policy's format version must be one this release reads.";
    /// A name that refers to nothing.
    UnknownReference => "unknown-reference", "Names must refer to stores, data types, tiers and detectors the policy defines.";
    /// A data type with no retention.
    MissingRetention => "missing-retention", "Every data type must say how long it is kept.";
    /// A retention shorter than a legal floor on the same data.
    RetentionBelowFloor => "retention-below-floor", "No data may expire before the legal floor that protects it.";
    /// An erasure that would destroy floor-protected data.
    ErasureDeletesProtected => "erasure-deletes-protected", "Erasure must keep data that a legal floor protects from erasure.";
    /// A data type about the subject with no erasure rule.
    MissingErasure => "missing-erasure", "Every data type about a person must say what erasure does to it.";
    /// A tier changes a retention that is not configurable.
    TierOverridesFixed => "tier-overrides-fixed", "A tier may only change a retention marked configurable.";
    /// A tier chooses a period outside the allowed bounds.
    TierOutOfBounds => "tier-out-of-bounds", "A tier's period must lie within the retention's bounds and above its floors.";
    /// A subject column that no data type covers.
    UncoveredSubjectData => "uncovered-subject-data", "Every table or directory holding a person's data must belong to a data type.";
    /// Two rules that cannot both hold.
    Contradiction => "contradiction", "The policy's rules must not contradict each other.";
    /// A promise weaker than the law requires.
    BreaksLaw => "breaks-law", "Response clocks, breach notification and log retention must meet the law of each regime.";
    /// A custom detector or allowlist pattern that does not compile.
    BadPattern => "bad-pattern", "Custom detector and allowlist patterns must be valid regular expressions.";
    /// A name used twice.
    Duplicate => "duplicate", "Names of identifiers, links and detectors must be unique.";
    /// A policy and its live database disagree (`check --db`).
    SchemaDrift => "schema-drift", "Every table and column the policy names must exist, and every column of a covered table must be classified.";
    /// A lookup column with no index (`check --db`).
    UnindexedLookup => "unindexed-lookup", "Link and timestamp columns that sweeps and requests look rows up by should be indexed.";
}

/// One finding, located in its file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// How serious it is.
    pub severity: Severity,
    /// The rule it breaks.
    #[serde(serialize_with = "rule_id")]
    pub rule: Rule,
    /// A plain sentence saying what is wrong.
    pub message: String,
    /// What to do about it, where that is not obvious.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Where, when the finding has a place in the file.
    #[serde(skip_serializing_if = "Option::is_none", flatten)]
    pub location: Option<Location>,
}

fn rule_id<S: serde::Serializer>(rule: &Rule, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(rule.id())
}

impl Diagnostic {
    /// `file:line:col: severity: message`, the form compilers use, so editors
    /// and CI logs link to the place.
    pub fn display<'a>(&'a self, file: &'a str) -> impl fmt::Display + 'a {
        DisplayDiagnostic { diag: self, file }
    }
}

struct DisplayDiagnostic<'a> {
    diag: &'a Diagnostic,
    file: &'a str,
}

impl fmt::Display for DisplayDiagnostic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.diag;
        match &d.location {
            Some(loc) => write!(f, "{}:{}:{}: ", self.file, loc.line, loc.column)?,
            None => write!(f, "{}: ", self.file)?,
        }
        write!(f, "{}: {}", d.severity, d.message)?;
        if let Some(hint) = &d.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}
