-- Invoices (issue 4): one draft per agreement and period, reviewed, then issued (numbered without gaps and
-- never changed again), voided by a credit note, paid.
CREATE TABLE invoices (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs (id),
    agreement_id TEXT NOT NULL REFERENCES agreements (id),
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    period_start TEXT NOT NULL,
    period_end TEXT NOT NULL,
    period_label TEXT NOT NULL,
    number TEXT UNIQUE,
    credits_invoice_id TEXT REFERENCES invoices (id),
    total_cents INTEGER NOT NULL,
    paid_cents INTEGER NOT NULL DEFAULT 0,
    issued_at INTEGER,
    due_on TEXT,
    void_reason TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX invoices_org ON invoices (org_id, period_start);
CREATE INDEX invoices_agreement ON invoices (agreement_id, period_start, status);

CREATE TABLE invoice_lines (
    id TEXT PRIMARY KEY,
    invoice_id TEXT NOT NULL REFERENCES invoices (id),
    position INTEGER NOT NULL,
    subscription_id TEXT REFERENCES subscriptions (id),
    rate_card_id TEXT REFERENCES rate_cards (id),
    description TEXT NOT NULL,
    quantity TEXT NOT NULL,
    unit_price TEXT NOT NULL,
    amount_cents INTEGER NOT NULL,
    trace TEXT NOT NULL
);
CREATE INDEX invoice_lines_invoice ON invoice_lines (invoice_id, position);

CREATE TABLE payments (
    id TEXT PRIMARY KEY,
    invoice_id TEXT NOT NULL REFERENCES invoices (id),
    org_id TEXT NOT NULL REFERENCES orgs (id),
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
    received_on TEXT NOT NULL,
    method TEXT NOT NULL,
    reference TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    created_by TEXT
);
CREATE INDEX payments_invoice ON payments (invoice_id);

INSERT INTO counters (name, value) VALUES ('invoice', 0);
