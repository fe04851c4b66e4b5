-- Issue 13: per-seat lines bill the hub's record of a member's active accounts, not the count when the invoice
-- run happens (which the member's administrator controls). One row per organisation and day: the day's
-- highest count, raised by the hub's daily job and whenever an account is created or enabled, and taken
-- before one is disabled; never lowered. An invoice bills the peak over the days of the period.

CREATE TABLE seat_counts (
    org_id TEXT NOT NULL REFERENCES orgs(id),
    -- The hub's calendar day, YYYY-MM-DD.
    day TEXT NOT NULL,
    active_accounts BIGINT NOT NULL,
    recorded_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, day)
);

CREATE INDEX seat_counts_day ON seat_counts (day, org_id);
