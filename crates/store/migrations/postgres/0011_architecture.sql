-- Enterprise architecture (issue 5): the region's technology standards (a ring and a quadrant of the radar,
-- with the terms that find the CMDB items using them), its principles, and exception requests.

CREATE TABLE tech_standards (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    area TEXT NOT NULL,
    ring TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    -- A JSON array of terms: an item whose name or attribute values name one of them uses the technology.
    match_terms TEXT NOT NULL DEFAULT '[]',
    -- What to use instead (for hold and retire).
    instead TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE architecture_principles (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL UNIQUE,
    statement TEXT NOT NULL,
    rationale TEXT NOT NULL DEFAULT '',
    implications TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE architecture_exceptions (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs (id),
    standard_id TEXT NOT NULL REFERENCES tech_standards (id),
    ci_id TEXT REFERENCES cis (id),
    title TEXT NOT NULL,
    reason TEXT NOT NULL,
    risk TEXT NOT NULL,
    mitigation TEXT NOT NULL DEFAULT '',
    -- The end the requester asks for; the reviewer sets `expires_on` when approving.
    requested_until TEXT,
    status TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    decided_by TEXT,
    decided_at BIGINT,
    decision_note TEXT NOT NULL DEFAULT '',
    expires_on TEXT,
    -- A JSON array of the reminders sent, by days before expiry.
    reminders_sent TEXT NOT NULL DEFAULT '[]',
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX architecture_exceptions_org ON architecture_exceptions (org_id, requested_at);
