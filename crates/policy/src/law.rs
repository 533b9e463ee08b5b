//! What the law itself requires, independent of any organisation's promises.
//!
//! `check` compares a policy's clocks and floors with these. A promise that is
//! stricter than the law is fine; one that is definitely weaker is an error.
//! A promise that is shorter for some start dates and longer for others (a
//! "30 days" against GDPR's "one month", which is 28 days from 1 February) is
//! accepted: deadlines are always computed as the earlier of the promise and
//! the statute, so the statute still holds.

use crate::RetentionPeriod;

/// A statutory limit with its citation.
#[derive(Debug, Clone, Copy)]
pub struct Statute {
    /// The limit.
    pub period: RetentionPeriod,
    /// Where it comes from.
    pub citation: &'static str,
}

/// GDPR: answer a request within one month (Art. 12(3)).
pub const GDPR_RESPONSE: Statute = Statute {
    period: RetentionPeriod::Months(1),
    citation: "GDPR Art. 12(3)",
};

/// GDPR: the response may be extended by at most two further months.
pub const GDPR_EXTENSION: Statute = Statute {
    period: RetentionPeriod::Months(2),
    citation: "GDPR Art. 12(3)",
};

/// GDPR: notify the supervisory authority of a breach within 72 hours.
pub const GDPR_BREACH: Statute = Statute {
    period: RetentionPeriod::Hours(72),
    citation: "GDPR Art. 33(1)",
};

/// CCPA: respond within 45 calendar days.
pub const CCPA_RESPONSE: Statute = Statute {
    period: RetentionPeriod::Days(45),
    citation: "Cal. Civ. Code §1798.130(a)(2)",
};

/// CCPA: one extension of at most 45 further days.
pub const CCPA_EXTENSION: Statute = Statute {
    period: RetentionPeriod::Days(45),
    citation: "Cal. Civ. Code §1798.130(a)(2)",
};

/// CCPA: acknowledge a request to delete or know within 10 business days.
pub const CCPA_ACKNOWLEDGE_BUSINESS_DAYS: u32 = 10;

/// DPDP: grievances (including rights requests) answered within 90 days.
pub const DPDP_RESPONSE: Statute = Statute {
    period: RetentionPeriod::Days(90),
    citation: "DPDP Rules 2025, r. 14(3)",
};

/// DPDP: large platforms erase personal data after three years without the
/// person approaching them.
pub const DPDP_INACTIVITY: Statute = Statute {
    period: RetentionPeriod::Years(3),
    citation: "DPDP Rules 2025, r. 8(1) and Third Schedule",
};

/// DPDP: the person is told at least 48 hours before such an erasure.
pub const DPDP_INACTIVITY_NOTICE: Statute = Statute {
    period: RetentionPeriod::Hours(48),
    citation: "DPDP Rules 2025, r. 8(2)",
};

/// DPDP: personal data, traffic data and logs of processing kept at least a year.
pub const DPDP_LOG_FLOOR: Statute = Statute {
    period: RetentionPeriod::Years(1),
    citation: "DPDP Rules 2025, r. 8(3)",
};

/// DPDP: a breach is reported to the Board without delay, and in detail
/// within 72 hours of becoming aware of it.
pub const DPDP_BREACH_REPORT: Statute = Statute {
    period: RetentionPeriod::Hours(72),
    citation: "DPDP Rules 2025, r. 7(2)(b)",
};

/// India: cyber incidents reported to CERT-In within six hours of noticing
/// them, whatever data they touch.
pub const CERT_IN_INCIDENT: Statute = Statute {
    period: RetentionPeriod::Hours(6),
    citation: "CERT-In Directions under IT Act s. 70B(6), 28 April 2022, para (ii)",
};

/// DPDP: each affected person is told of a breach without delay.
pub const DPDP_BREACH_SUBJECTS: &str = "DPDP Rules 2025, r. 7(1)";

/// California: affected residents are told of a breach of their personal
/// information in the most expedient time possible.
pub const CCPA_BREACH_SUBJECTS: &str = "Cal. Civ. Code §1798.82(a)";
