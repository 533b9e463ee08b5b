//! What the law itself requires, independent of any organisation's promises.
//!
//! `check` compares a policy's clocks and floors with these. A promise that is
//! stricter than the law is fine; one that is definitely weaker is an error.
//! A promise that is shorter for some start dates and longer for others (a
//! "30 days" against GDPR's "one month", which is 28 days from 1 February) is
//! accepted: deadlines are always computed as the earlier of the promise and
//! the statute, so the statute still holds.

use crate::model::Anchor;
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

/// A record-keeping floor the law sets, with the event it counts from.
#[derive(Debug, Clone, Copy)]
pub struct LawFloor {
    /// The minimum period.
    pub period: RetentionPeriod,
    /// The event it counts from, as the format can say it.
    pub from: Anchor,
    /// Where it comes from, and how the period was read.
    pub citation: &'static str,
}

/// India: identity (KYC) records kept five years after the business
/// relationship ends.
pub const INDIA_KYC_RECORDS: LawFloor = LawFloor {
    period: RetentionPeriod::Years(5),
    from: Anchor::AccountClosed,
    citation: "Prevention of Money-laundering Act 2002 s.12(1)(e) with s.12(4); PML (Maintenance of Records) Rules 2005 r.10",
};

/// India: books of account kept eight financial years (Companies Act 2013
/// s.128(5)), counted from the end of the financial year they belong to, in
/// India's financial year (1 April to 31 March, s.2(41)). This is the
/// longest of the records laws: GST records are kept 72 months from the
/// due date of the year's annual return, 31 December after the year ends
/// (CGST Act 2017 s.36 with s.44 and r.80: 81 months from the year's end),
/// and the Income-tax Act 2025 asks no longer.
pub const INDIA_FINANCIAL_RECORDS: LawFloor = LawFloor {
    period: RetentionPeriod::Years(8),
    from: Anchor::FinancialYearEnd,
    citation: "Companies Act 2013 s.128(5) (eight financial years, the longest); CGST Act 2017 s.36 (72 months from the annual return's due date, 31 December after the financial year)",
};

/// India's financial year, which the records laws above count in.
pub const INDIA_FINANCIAL_YEAR: (crate::model::FinancialYear, &str) = (
    crate::model::FinancialYear::INDIA,
    "Companies Act 2013 s.2(41): the financial year ends on 31 March",
);

#[cfg(test)]
mod tests {
    use super::*;

    fn days(p: RetentionPeriod) -> (i64, i64) {
        (
            p.min_hours().expect("finite") / 24,
            p.max_hours().expect("finite") / 24,
        )
    }

    #[test]
    fn gdpr() {
        assert_eq!(days(GDPR_RESPONSE.period), (28, 31), "one month");
        assert_eq!(days(GDPR_EXTENSION.period), (59, 62), "two months");
        assert_eq!(GDPR_BREACH.period, RetentionPeriod::Hours(72));
        for s in [GDPR_RESPONSE, GDPR_EXTENSION, GDPR_BREACH] {
            assert!(s.citation.starts_with("GDPR Art."), "{}", s.citation);
        }
    }

    #[test]
    fn ccpa() {
        assert_eq!(CCPA_RESPONSE.period, RetentionPeriod::Days(45));
        assert_eq!(CCPA_EXTENSION.period, RetentionPeriod::Days(45));
        assert_eq!(CCPA_ACKNOWLEDGE_BUSINESS_DAYS, 10);
        assert!(CCPA_RESPONSE.citation.contains("1798.130"));
        assert!(CCPA_BREACH_SUBJECTS.contains("1798.82"));
    }

    #[test]
    fn dpdp_and_india() {
        assert_eq!(DPDP_RESPONSE.period, RetentionPeriod::Days(90));
        assert_eq!(DPDP_INACTIVITY.period, RetentionPeriod::Years(3));
        assert_eq!(DPDP_INACTIVITY_NOTICE.period, RetentionPeriod::Hours(48));
        assert_eq!(DPDP_LOG_FLOOR.period, RetentionPeriod::Years(1));
        assert_eq!(DPDP_BREACH_REPORT.period, RetentionPeriod::Hours(72));
        assert_eq!(CERT_IN_INCIDENT.period, RetentionPeriod::Hours(6));
        for s in [
            DPDP_RESPONSE,
            DPDP_INACTIVITY,
            DPDP_INACTIVITY_NOTICE,
            DPDP_LOG_FLOOR,
            DPDP_BREACH_REPORT,
        ] {
            assert!(
                s.citation.starts_with("DPDP Rules 2025, r."),
                "{}",
                s.citation
            );
        }
        assert!(CERT_IN_INCIDENT.citation.contains("70B"));
        // PMLA from the end of the relationship; the financial floor is
        // eight financial years from the year's end, which covers GST's 72
        // months from 31 December after it (81 months).
        assert_eq!(INDIA_KYC_RECORDS.from, Anchor::AccountClosed);
        assert!(INDIA_KYC_RECORDS.citation.contains("s.12(1)(e)"));
        assert_eq!(INDIA_FINANCIAL_RECORDS.from, Anchor::FinancialYearEnd);
        assert!(INDIA_FINANCIAL_RECORDS
            .period
            .covers(RetentionPeriod::Months(9 + 72)));
        assert!(INDIA_FINANCIAL_RECORDS.citation.contains("s.128(5)"));
        assert!(INDIA_FINANCIAL_RECORDS.citation.contains("s.36"));
        let (year, why) = INDIA_FINANCIAL_YEAR;
        assert_eq!(
            (year.starts.to_string(), year.utc_offset.to_string()),
            ("04-01".into(), "+05:30".into())
        );
        assert!(why.contains("s.2(41)"));
    }
}
