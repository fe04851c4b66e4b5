-- The hub's own wording of each notification, by event; an event without a row uses the built-in text.
CREATE TABLE mail_templates (
    event TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);
