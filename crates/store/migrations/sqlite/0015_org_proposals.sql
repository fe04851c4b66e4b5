-- Issue 13: the figures invoices are computed from (an organisation's population) are the hub's record. A
-- member proposes a change with its reason and source; the hub accepts (the organisation is updated in the
-- same transaction) or rejects it with a note. Both steps are audited on the organisation.

CREATE TABLE org_proposals (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    field TEXT NOT NULL,
    -- The value on record when proposed (NULL when there was none), and the proposed one.
    current_value INTEGER,
    proposed_value INTEGER NOT NULL,
    reason TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'pending',
    proposed_by TEXT REFERENCES users(id),
    proposed_by_label TEXT NOT NULL,
    proposed_at INTEGER NOT NULL,
    decided_by_label TEXT,
    decided_at INTEGER,
    decision_note TEXT NOT NULL DEFAULT '',
    version INTEGER NOT NULL DEFAULT 1
);

CREATE INDEX org_proposals_org ON org_proposals (org_id, proposed_at);
CREATE INDEX org_proposals_status ON org_proposals (status, proposed_at);
