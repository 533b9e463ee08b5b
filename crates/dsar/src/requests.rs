//! Data-subject requests as records with deadlines: which right, when one
//! is made, under which regime, when it must be answered (and, under CCPA,
//! acknowledged), and for an erasure until when the person may cancel it.
//! Erasures are carried out by [`crate::erase`]; the other rights
//! (correction, restriction, objection, opt-out of sale, access and
//! portability) are recorded, shown with their deadlines, and closed by the
//! operator once answered. Each request, cancellation and closing is an
//! entry in the audit log, in the same transaction.

use chrono::{DateTime, Datelike, Duration, Utc, Weekday};
use privctl_policy::model::{Policy, RegimeClock, RequestKind};
use privctl_store::requests::REQUESTS;
use privctl_store::{Db, Lock, Row};
use serde::Serialize;

use crate::discover::Subject;
use crate::{Error, Result};

/// A right a person exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Right {
    /// A copy of their data (GDPR Art. 15, CCPA right to know, DPDP s.11).
    Access,
    /// Their data in a portable form (GDPR Art. 20).
    Portability,
    /// Erasure (GDPR Art. 17, CCPA deletion, DPDP s.12).
    Erasure,
    /// Rectification (GDPR Art. 16, CCPA correction, DPDP s.12).
    Correction,
    /// Restriction of processing (GDPR Art. 18).
    Restriction,
    /// Objection to processing (GDPR Art. 21).
    Objection,
    /// Opting out of the sale or sharing of personal information (CCPA).
    OptOutOfSale,
}

impl Right {
    /// Every right.
    pub const ALL: [Right; 7] = [
        Right::Access,
        Right::Portability,
        Right::Erasure,
        Right::Correction,
        Right::Restriction,
        Right::Objection,
        Right::OptOutOfSale,
    ];

    /// Its name as recorded (`opt_out_of_sale`).
    pub fn name(self) -> &'static str {
        match self {
            Right::Access => "access",
            Right::Portability => "portability",
            Right::Erasure => "erasure",
            Right::Correction => "correction",
            Right::Restriction => "restriction",
            Right::Objection => "objection",
            Right::OptOutOfSale => "opt_out_of_sale",
        }
    }

    /// The right of that name (`-` and `_` alike).
    pub fn parse(s: &str) -> Option<Right> {
        let s = s.replace('-', "_");
        Right::ALL.into_iter().find(|r| r.name() == s)
    }

    /// Whether the law of `regime` grants it, whatever a policy lists.
    pub fn granted_by(self, regime: &str) -> bool {
        use Right::*;
        match regime {
            "gdpr" => matches!(
                self,
                Access | Portability | Erasure | Correction | Restriction | Objection
            ),
            // Cal. Civ. Code 1798.100-1798.125: know (in a portable form),
            // delete, correct, opt out of sale or sharing.
            "ccpa" => matches!(
                self,
                Access | Portability | Erasure | Correction | OptOutOfSale
            ),
            // DPDP Act 2023 ss.11-12.
            "dpdp" => matches!(self, Access | Correction | Erasure),
            _ => false,
        }
    }

    fn policy_kind(self) -> Option<RequestKind> {
        Some(match self {
            Right::Access => RequestKind::Access,
            Right::Portability => RequestKind::Portability,
            Right::Erasure => RequestKind::Erasure,
            Right::Correction => RequestKind::Correction,
            Right::Restriction => RequestKind::Restriction,
            Right::Objection => RequestKind::Objection,
            Right::OptOutOfSale => return None,
        })
    }
}

/// A recorded request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Request {
    /// Its id.
    pub id: i64,
    /// The right it exercises (`erasure`, `correction`, ...).
    pub kind: String,
    /// Whose (their key), and by which identifier they were named.
    pub subject: String,
    /// The identifier they were named by (`email`), when recorded.
    pub identifier: Option<String>,
    /// The regime it is made under (`gdpr`, `ccpa`, `dpdp`).
    pub regime: Option<String>,
    /// When it was made.
    pub requested_at: DateTime<Utc>,
    /// When it must be answered.
    pub due_at: Option<DateTime<Utc>>,
    /// The latest it may be answered with an extension, notice given.
    pub extended_due_at: Option<DateTime<Utc>>,
    /// When it must be acknowledged (CCPA).
    pub acknowledge_by: Option<DateTime<Utc>>,
    /// Until when the person may cancel it, nothing touched.
    pub grace_until: Option<DateTime<Utc>>,
    /// When it was cancelled.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// When it was carried out.
    pub completed_at: Option<DateTime<Utc>>,
    /// A note (the ticket, the channel).
    pub note: Option<String>,
    /// When its execution began (the grace period over).
    pub started_at: Option<DateTime<Utc>>,
    /// Why it cannot be carried out yet (a legal hold, a store this release
    /// cannot act on), when the last run found a reason.
    pub blocked: Option<String>,
    /// What started it when not the person (`inactivity`: DPDP's erasure
    /// of inactive accounts).
    pub origin: Option<String>,
}

fn regime<'p>(policy: &'p Policy, name: &str, right: Right) -> Result<&'p RegimeClock> {
    let r = &policy.regimes;
    let found = match name {
        "gdpr" => r.gdpr.as_ref(),
        "ccpa" => r.ccpa.as_ref(),
        "dpdp" => r.dpdp.as_ref(),
        _ => None,
    };
    let known: Vec<&str> = [("gdpr", &r.gdpr), ("ccpa", &r.ccpa), ("dpdp", &r.dpdp)]
        .iter()
        .filter(|(_, c)| c.is_some())
        .map(|(n, _)| *n)
        .collect();
    let clock = found.ok_or_else(|| {
        Error::Invalid(format!(
            "the policy answers no requests under regime \"{}\" (it has: {})",
            privctl_policy::escape_untrusted(name),
            known.join(", ")
        ))
    })?;
    if right == Right::Erasure {
        if !clock.rights.is_empty() && !clock.rights.contains(&RequestKind::Erasure) {
            return Err(Error::Invalid(format!(
                "the policy grants no erasure under regime \"{name}\""
            )));
        }
    } else if !right.granted_by(name) {
        return Err(Error::Invalid(format!(
            "{name} grants no right of {}",
            right.name().replace('_', " ")
        )));
    }
    Ok(clock)
}

/// The origin of DPDP's erasures of inactive accounts.
pub const INACTIVITY: &str = "inactivity";

/// Business days CCPA gives to comply with an opt-out of sale or sharing
/// (Cal. Code Regs. tit. 11, s. 7026(f)).
const OPT_OUT_BUSINESS_DAYS: u32 = 15;

/// `n` business days (Monday to Friday; public holidays are not known)
/// after `at`.
pub fn business_days_after(at: DateTime<Utc>, n: u32) -> DateTime<Utc> {
    let mut t = at;
    let mut left = n;
    while left > 0 {
        t += Duration::days(1);
        if !matches!(t.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    t
}

fn at(secs: Option<i64>) -> Option<DateTime<Utc>> {
    secs.and_then(|s| DateTime::from_timestamp(s, 0))
}

/// Records an erasure request for `subject` under `regime_name`, made at
/// `when`, with its deadlines and grace period from the policy.
pub async fn request_erasure(
    policy: &Policy,
    home: &Db,
    subject: &Subject,
    regime_name: &str,
    when: DateTime<Utc>,
    note: Option<&str>,
) -> Result<Request> {
    let new = NewRequest {
        right: Right::Erasure,
        regime: regime_name,
        when,
        note,
        origin: None,
    };
    record(policy, home, subject, &new).await.map(|(r, _)| r)
}

/// A request to record.
#[derive(Debug, Clone, Copy)]
pub struct NewRequest<'a> {
    /// The right exercised.
    pub right: Right,
    /// The regime it is made under (`gdpr`, `ccpa`, `dpdp`).
    pub regime: &'a str,
    /// When it was made.
    pub when: DateTime<Utc>,
    /// A note (the ticket, the channel).
    pub note: Option<&'a str>,
    /// What started it when not the person (`inactivity`).
    pub origin: Option<&'a str>,
}

/// Records a request of `right` for `subject` under `regime_name`, made at
/// `when`, with the regime's deadlines (for an opt-out of sale, CCPA's 15
/// business days) and, for an erasure, the policy's grace period. Returns
/// it, and a warning when the policy does not list a right the law grants
/// (it is recorded all the same).
pub async fn record(
    policy: &Policy,
    home: &Db,
    subject: &Subject,
    new: &NewRequest<'_>,
) -> Result<(Request, Option<String>)> {
    let NewRequest {
        right,
        regime: regime_name,
        when,
        note,
        origin,
    } = *new;
    let clock = regime(policy, regime_name, right)?;
    let warning = right
        .policy_kind()
        .filter(|k| !clock.rights.is_empty() && !clock.rights.contains(k))
        .map(|_| {
            format!(
                "the policy does not list {} among {regime_name}'s rights; the law grants it, so it is recorded",
                right.name()
            )
        });
    let when = DateTime::from_timestamp(when.timestamp(), 0).unwrap_or(when);
    let (due, extended, acknowledge) = if right == Right::OptOutOfSale {
        (
            Some(business_days_after(when, OPT_OUT_BUSINESS_DAYS)),
            None,
            None,
        )
    } else {
        let due = clock.response.end_from(when);
        let extended = clock
            .extension
            .and_then(|e| due.and_then(|d| e.end_from(d)));
        // CCPA acknowledges requests to know, delete and correct.
        let acknowledge = clock
            .acknowledge_business_days
            .filter(|_| {
                matches!(
                    right,
                    Right::Access | Right::Portability | Right::Erasure | Right::Correction
                )
            })
            .map(|n| business_days_after(when, n));
        (due, extended, acknowledge)
    };
    let grace = match (right, origin) {
        // DPDP: the notice before an inactivity erasure is its grace period.
        (Right::Erasure, Some(INACTIVITY)) => clock
            .inactivity_notice
            .unwrap_or(privctl_policy::RetentionPeriod::Hours(48))
            .end_from(when),
        (Right::Erasure, _) => policy.erasure.grace_period.and_then(|g| g.end_from(when)),
        _ => None,
    };
    home.ensure(&REQUESTS).await?;
    privctl_audit::ensure(home).await?;
    let secs = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp());
    let id = home
        .write_with(Lock::Privctl, async |c| {
            let err = home.err("recording a request", Some("privctl_requests"));
            let r = sqlx::query("INSERT INTO privctl_requests (kind, subject, requested_at, note, regime, identifier, due_at, extended_due_at, acknowledge_by, grace_until, origin) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id")
                .bind(right.name())
                .bind(&subject.key)
                .bind(when.timestamp())
                .bind(note)
                .bind(regime_name)
                .bind(&subject.identifier)
                .bind(secs(due))
                .bind(secs(extended))
                .bind(secs(acknowledge))
                .bind(secs(grace))
                .bind(origin)
                .fetch_one(&mut *c)
                .await
                .map_err(&err)?;
            let id: i64 = r.try_get("id").map_err(&err)?;
            privctl_audit::append(
                home,
                c,
                "request.recorded",
                Some(&subject.key),
                &serde_json::json!({
                    "request": id,
                    "kind": right.name(),
                    "regime": regime_name,
                    "identifier": subject.identifier,
                    "requested_at": when.to_rfc3339(),
                    "due_at": due.map(|t| t.to_rfc3339()),
                    "acknowledge_by": acknowledge.map(|t| t.to_rfc3339()),
                    "grace_until": grace.map(|t| t.to_rfc3339()),
                    "note": note,
                    "origin": origin,
                }),
                Utc::now(),
            )
            .await?;
            Ok::<_, Error>(id)
        })
        .await?;
    let request = Request {
        id,
        kind: right.name().to_owned(),
        subject: subject.key.clone(),
        identifier: Some(subject.identifier.clone()),
        regime: Some(regime_name.to_owned()),
        requested_at: when,
        due_at: due,
        extended_due_at: extended,
        acknowledge_by: acknowledge,
        grace_until: grace,
        cancelled_at: None,
        completed_at: None,
        note: note.map(str::to_owned),
        started_at: None,
        blocked: None,
        origin: origin.map(str::to_owned),
    };
    Ok((request, warning))
}

pub(crate) const COLUMNS: &str = "id, kind, subject, identifier, regime, requested_at, due_at, extended_due_at, acknowledge_by, grace_until, cancelled_at, completed_at, note, started_at, blocked, origin";

pub(crate) fn request(db: &Db, r: &privctl_store::AnyRow) -> Result<Request> {
    let err = db.err("reading requests", Some("privctl_requests"));
    let get = |c: &str| r.try_get::<Option<i64>, _>(c).map_err(&err);
    Ok(Request {
        id: r.try_get("id").map_err(&err)?,
        kind: r.try_get("kind").map_err(&err)?,
        subject: r.try_get("subject").map_err(&err)?,
        identifier: r.try_get("identifier").map_err(&err)?,
        regime: r.try_get("regime").map_err(&err)?,
        requested_at: at(Some(r.try_get("requested_at").map_err(&err)?)).unwrap_or_default(),
        due_at: at(get("due_at")?),
        extended_due_at: at(get("extended_due_at")?),
        acknowledge_by: at(get("acknowledge_by")?),
        grace_until: at(get("grace_until")?),
        cancelled_at: at(get("cancelled_at")?),
        completed_at: at(get("completed_at")?),
        note: r.try_get("note").map_err(&err)?,
        started_at: at(get("started_at")?),
        blocked: r.try_get("blocked").map_err(&err)?,
        origin: r.try_get("origin").map_err(&err)?,
    })
}

/// Request `id` (of right `only`, when given), read in the transaction on
/// `c`; an error naming it when there is none.
async fn load(
    home: &Db,
    c: &mut privctl_store::AnyConnection,
    id: i64,
    only: Option<Right>,
    op: &'static str,
) -> Result<Request> {
    let err = home.err(op, Some("privctl_requests"));
    // Constant text: the column list above.
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM privctl_requests WHERE id = $1 AND ($2 = '' OR kind = $2)"
    )))
    .bind(id)
    .bind(only.map(Right::name).unwrap_or_default())
    .fetch_optional(&mut *c)
    .await
    .map_err(&err)?
    .ok_or_else(|| {
        Error::Invalid(match only {
            Some(r) => format!("there is no {} request {id}", r.name()),
            None => format!("there is no request {id}"),
        })
    })?;
    request(home, &row)
}

/// Cancels request `id` at `now`: only while its grace period runs and the
/// policy lets requests be cancelled; nothing else changes.
pub async fn cancel(policy: &Policy, home: &Db, id: i64, now: DateTime<Utc>) -> Result<Request> {
    home.ensure(&REQUESTS).await?;
    privctl_audit::ensure(home).await?;
    home.write_with(Lock::Privctl, async |c| {
        let err = home.err("cancelling a request", Some("privctl_requests"));
        let mut r = load(home, c, id, Some(Right::Erasure), "cancelling a request").await?;
        if r.cancelled_at.is_some() {
            return Err(Error::Invalid(format!(
                "request {id} was already cancelled"
            )));
        }
        if r.completed_at.is_some() {
            return Err(Error::Invalid(format!(
                "request {id} was already carried out"
            )));
        }
        if r.started_at.is_some() {
            return Err(Error::Invalid(format!(
                "request {id} is being carried out (since {})",
                r.started_at.map(|t| t.to_rfc3339()).unwrap_or_default()
            )));
        }
        if !policy.erasure.cancellable {
            return Err(Error::Invalid(
                "the policy says erasure requests cannot be cancelled".to_owned(),
            ));
        }
        match r.grace_until {
            Some(g) if now < g => {}
            Some(g) => {
                return Err(Error::Invalid(format!(
                    "request {id}'s grace period ended at {}",
                    g.to_rfc3339()
                )))
            }
            None => {
                return Err(Error::Invalid(format!(
                    "request {id} has no grace period to cancel it in"
                )))
            }
        }
        sqlx::query("UPDATE privctl_requests SET cancelled_at = $1 WHERE id = $2")
            .bind(now.timestamp())
            .bind(id)
            .execute(&mut *c)
            .await
            .map_err(&err)?;
        privctl_audit::append(
            home,
            c,
            "request.cancelled",
            Some(&r.subject),
            &serde_json::json!({ "request": id }),
            now,
        )
        .await?;
        r.cancelled_at = Some(now);
        Ok(r)
    })
    .await
}

/// Open requests (neither cancelled nor carried out), of `only` that right
/// or of every right: those past their deadline first, then by deadline.
pub async fn open(home: &Db, now: DateTime<Utc>, only: Option<Right>) -> Result<Vec<Request>> {
    if home.component_version(&REQUESTS).await? != Some(REQUESTS.version(home.dialect())) {
        return Ok(Vec::new());
    }
    // Constant text: the column list above.
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM privctl_requests WHERE cancelled_at IS NULL AND completed_at IS NULL AND ($1 = '' OR kind = $1)"
    )))
    .bind(only.map(Right::name).unwrap_or_default())
    .fetch_all(home.pool())
    .await
    .map_err(home.err("reading requests", Some("privctl_requests")))?;
    let mut out: Vec<Request> = rows
        .iter()
        .map(|r| request(home, r))
        .collect::<Result<_>>()?;
    out.sort_by_key(|r| {
        let due = r.due_at.unwrap_or(DateTime::<Utc>::MAX_UTC);
        (due > now, due, r.id)
    });
    Ok(out)
}

/// Closes request `id` (not an erasure: `erase run` carries those out) as
/// answered at `now`, with a note of how; logged.
pub async fn close(home: &Db, id: i64, now: DateTime<Utc>, note: Option<&str>) -> Result<Request> {
    home.ensure(&REQUESTS).await?;
    privctl_audit::ensure(home).await?;
    home.write_with(Lock::Privctl, async |c| {
        let err = home.err("closing a request", Some("privctl_requests"));
        let mut r = load(home, c, id, None, "closing a request").await?;
        if r.kind == Right::Erasure.name() {
            return Err(Error::Invalid(format!(
                "request {id} is an erasure: `privctl erase run` carries it out and closes it"
            )));
        }
        if r.cancelled_at.is_some() || r.completed_at.is_some() {
            return Err(Error::Invalid(format!("request {id} is already closed")));
        }
        sqlx::query("UPDATE privctl_requests SET completed_at = $1 WHERE id = $2")
            .bind(now.timestamp())
            .bind(id)
            .execute(&mut *c)
            .await
            .map_err(&err)?;
        privctl_audit::append(
            home,
            c,
            "request.closed",
            Some(&r.subject),
            &serde_json::json!({ "request": id, "kind": r.kind, "note": note }),
            Utc::now(),
        )
        .await?;
        r.completed_at = Some(now);
        Ok(r)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn business_days_skip_weekends() {
        // Friday 2026-11-20: ten business days later is Friday 2026-12-04.
        let fri = DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z")
            .expect("t")
            .with_timezone(&Utc);
        assert_eq!(
            business_days_after(fri, 10).to_rfc3339(),
            "2026-12-04T10:00:00+00:00"
        );
        assert_eq!(business_days_after(fri, 1).weekday(), Weekday::Mon);
        assert_eq!(business_days_after(fri, 0), fri);
    }
}
