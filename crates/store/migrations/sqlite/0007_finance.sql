-- Hub finance (issue 4): what each service costs the hub per fiscal year (cost pools), what a member would
-- pay to run a service alone (standalone benchmarks, by size band, with their sources), and credits granted
-- to members, which the next invoice run of their period carries. Money is integer cents.

CREATE TABLE cost_pools (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL REFERENCES services (id),
    -- Fiscal years are named by the calendar year they end in (FY2027 = July 2026 to June 2027).
    fiscal_year INTEGER NOT NULL,
    category TEXT NOT NULL,
    description TEXT NOT NULL,
    amount_cents INTEGER NOT NULL CHECK (amount_cents >= 0),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX cost_pools_year ON cost_pools (fiscal_year, service_id);

CREATE TABLE standalone_benchmarks (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL REFERENCES services (id),
    size_band TEXT NOT NULL,
    staff_cents INTEGER NOT NULL CHECK (staff_cents >= 0),
    licences_cents INTEGER NOT NULL CHECK (licences_cents >= 0),
    hardware_cents INTEGER NOT NULL CHECK (hardware_cents >= 0),
    source TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    UNIQUE (service_id, size_band)
);

CREATE TABLE billing_credits (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs (id),
    agreement_id TEXT NOT NULL REFERENCES agreements (id),
    -- YYYY-MM: the invoice of the agreement's period containing this month carries the credit.
    month TEXT NOT NULL,
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
    reason TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT
);
CREATE INDEX billing_credits_month ON billing_credits (month, agreement_id);

-- The file of an agreement's document (the signed IMA, the minutes of the vote), kept like a ticket's files.
ALTER TABLE agreement_documents ADD COLUMN data BLOB NOT NULL DEFAULT X'';
