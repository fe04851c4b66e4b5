-- Issue 13: an invitation shows whether its mail went out. sent_at is when the last mail was handed to the
-- mail server; send_error says why the last attempt did not go (no mail server configured, or the server's
-- refusal), so the administrator sees it and can resend. revoked_at: the administrator withdrew it.
ALTER TABLE invitations ADD COLUMN sent_at BIGINT;
ALTER TABLE invitations ADD COLUMN send_error TEXT;
ALTER TABLE invitations ADD COLUMN revoked_at BIGINT;
-- A token is made only when the mail is sent: those with one (or accepted) were mailed.
UPDATE invitations SET sent_at = created_at WHERE token_hash IS NOT NULL OR accepted_at IS NOT NULL;
