-- Shared-services economics (issue 4): rate cards, agreements and subscriptions, usage metering.
-- Money is integer cents; rates and quantities are decimals kept as text (exact); usage quantities are
-- integer millionths so that totals add up in SQL; dates are YYYY-MM-DD text.

-- A priced offering of a service: how it is charged (model), per what unit, from which meter.
CREATE TABLE rate_cards (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL REFERENCES services (id),
    name TEXT NOT NULL,
    model TEXT NOT NULL,
    unit TEXT NOT NULL,
    -- Per-unit cards charged by usage name their meter; '' charges the subscription's quantity.
    meter TEXT NOT NULL DEFAULT '',
    -- Time and materials: the activity type whose hours it prices ('' for every activity).
    activity TEXT NOT NULL DEFAULT '',
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    UNIQUE (name)
);

-- Prices of a rate card over time: each applies from its date until the next.
CREATE TABLE rates (
    id TEXT PRIMARY KEY,
    rate_card_id TEXT NOT NULL REFERENCES rate_cards (id),
    effective_from TEXT NOT NULL,
    price TEXT NOT NULL,
    overage TEXT,
    note TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    created_by TEXT,
    UNIQUE (rate_card_id, effective_from)
);

-- Inter-municipal agreements.
CREATE TABLE agreements (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs (id),
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    cadence TEXT NOT NULL,
    starts_on TEXT NOT NULL,
    ends_on TEXT,
    renewal TEXT NOT NULL,
    approving_body TEXT NOT NULL DEFAULT '',
    vote_date TEXT,
    notes TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX agreements_org ON agreements (org_id, starts_on);

-- Every change to an agreement or its subscriptions, in order (amendments).
CREATE TABLE agreement_amendments (
    id TEXT PRIMARY KEY,
    agreement_id TEXT NOT NULL REFERENCES agreements (id),
    at INTEGER NOT NULL,
    actor_id TEXT,
    actor_name TEXT NOT NULL,
    summary TEXT NOT NULL,
    before TEXT,
    after TEXT
);
CREATE INDEX agreement_amendments_agreement ON agreement_amendments (agreement_id, at);

-- Documents attached to an agreement (the signed IMA, the vote).
CREATE TABLE agreement_documents (
    id TEXT PRIMARY KEY,
    agreement_id TEXT NOT NULL REFERENCES agreements (id),
    org_id TEXT NOT NULL REFERENCES orgs (id),
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    uploaded_by TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX agreement_documents_agreement ON agreement_documents (agreement_id);

-- What a member takes under an agreement, at which rate card, how many, from when until when.
CREATE TABLE subscriptions (
    id TEXT PRIMARY KEY,
    agreement_id TEXT NOT NULL REFERENCES agreements (id),
    org_id TEXT NOT NULL REFERENCES orgs (id),
    rate_card_id TEXT NOT NULL REFERENCES rate_cards (id),
    quantity TEXT NOT NULL,
    starts_on TEXT NOT NULL,
    ends_on TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX subscriptions_org ON subscriptions (org_id, starts_on);
CREATE INDEX subscriptions_agreement ON subscriptions (agreement_id);

-- Usage: one row per record received, in order of arrival; the same external id counts once. Records are
-- browsed by month (the index on month grows at its end as a month's records arrive, so inserting stays
-- cheap however many members and meters a batch mixes); invoice runs read the totals below.
CREATE TABLE usage_records (
    seq INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL UNIQUE,
    org_id TEXT NOT NULL REFERENCES orgs (id),
    meter TEXT NOT NULL,
    used_on TEXT NOT NULL,
    month TEXT NOT NULL,
    quantity_micros INTEGER NOT NULL CHECK (quantity_micros >= 0),
    source TEXT NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE INDEX usage_records_month ON usage_records (month);

-- Totals per member, meter and month, kept as records arrive: invoice runs read these, not the records.
CREATE TABLE usage_totals (
    org_id TEXT NOT NULL REFERENCES orgs (id),
    meter TEXT NOT NULL,
    month TEXT NOT NULL,
    quantity_micros INTEGER NOT NULL,
    records INTEGER NOT NULL,
    PRIMARY KEY (org_id, meter, month)
);
CREATE INDEX usage_totals_month ON usage_totals (month, org_id);
