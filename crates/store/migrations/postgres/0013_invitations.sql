-- Issue 13: a member administrator invites by email anyone who is not already one of its people; the
-- person accepts at a link mailed to them (by signing in, or by choosing a name and password). The token is
-- made when the mail is sent and stored only as its SHA-256 hash (NULL until then).
CREATE TABLE invitations (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs (id),
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    token_hash TEXT,
    invited_by TEXT REFERENCES users (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    accepted_at BIGINT,
    accepted_by TEXT REFERENCES users (id)
);
CREATE UNIQUE INDEX invitations_token ON invitations (token_hash);
CREATE INDEX invitations_org ON invitations (org_id, created_at);
