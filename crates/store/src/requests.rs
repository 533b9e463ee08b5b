//! The table of data-subject requests, shared by the requests themselves
//! (`privctl erase`, written by privctl-dsar) and the retention periods
//! that count from a deletion request (read by privctl-retention).

use crate::{Component, Dialect};

fn tables(d: Dialect) -> &'static [&'static [&'static str]] {
    match d {
        Dialect::Sqlite => &[
            &[
                "CREATE TABLE privctl_requests (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, subject TEXT NOT NULL, requested_at BIGINT NOT NULL, cancelled_at BIGINT, note TEXT)",
                "CREATE INDEX privctl_requests_subject ON privctl_requests (subject, kind)",
            ],
            &[
                "ALTER TABLE privctl_requests ADD COLUMN regime TEXT",
                "ALTER TABLE privctl_requests ADD COLUMN identifier TEXT",
                "ALTER TABLE privctl_requests ADD COLUMN due_at BIGINT",
                "ALTER TABLE privctl_requests ADD COLUMN extended_due_at BIGINT",
                "ALTER TABLE privctl_requests ADD COLUMN acknowledge_by BIGINT",
                "ALTER TABLE privctl_requests ADD COLUMN grace_until BIGINT",
                "ALTER TABLE privctl_requests ADD COLUMN completed_at BIGINT",
            ],
            &[
                "ALTER TABLE privctl_requests ADD COLUMN started_at BIGINT",
                "ALTER TABLE privctl_requests ADD COLUMN blocked TEXT",
                "ALTER TABLE privctl_requests ADD COLUMN receipt TEXT",
                "ALTER TABLE privctl_requests ADD COLUMN origin TEXT",
                "ALTER TABLE privctl_requests ADD COLUMN identifiers TEXT",
            ],
        ],
        Dialect::Postgres => &[
            &[
                "CREATE TABLE privctl_requests (id BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL, subject TEXT NOT NULL, requested_at BIGINT NOT NULL, cancelled_at BIGINT, note TEXT)",
                "CREATE INDEX privctl_requests_subject ON privctl_requests (subject, kind)",
            ],
            &[
                "ALTER TABLE privctl_requests ADD COLUMN regime TEXT",
                "ALTER TABLE privctl_requests ADD COLUMN identifier TEXT",
                "ALTER TABLE privctl_requests ADD COLUMN due_at BIGINT",
                "ALTER TABLE privctl_requests ADD COLUMN extended_due_at BIGINT",
                "ALTER TABLE privctl_requests ADD COLUMN acknowledge_by BIGINT",
                "ALTER TABLE privctl_requests ADD COLUMN grace_until BIGINT",
                "ALTER TABLE privctl_requests ADD COLUMN completed_at BIGINT",
            ],
            &[
                "ALTER TABLE privctl_requests ADD COLUMN started_at BIGINT",
                "ALTER TABLE privctl_requests ADD COLUMN blocked TEXT",
                "ALTER TABLE privctl_requests ADD COLUMN receipt TEXT",
                "ALTER TABLE privctl_requests ADD COLUMN origin TEXT",
                "ALTER TABLE privctl_requests ADD COLUMN identifiers TEXT",
            ],
        ],
    }
}

/// Data-subject requests: version 1 as retention first wrote them (kind,
/// subject, when, cancelled, note); version 2 adds the regime, the
/// identifier the person was named by, the deadlines and the grace period;
/// version 3 when an erasure started, why it cannot go on (a hold), its
/// signed receipt once done, what started it when not the person, and the
/// person's identifiers while an erasure runs (read before it changes
/// anything, so a rerun finds what the first run found; cleared when done).
pub const REQUESTS: Component = Component {
    name: "requests",
    migrations: tables,
};
