-- The CMDB (issue 5): configuration items with type-specific attributes, typed relationships between them,
-- each item's history, and the tickets about an item. An item belongs to a member (or to the hub: the
-- regional infrastructure every member runs on).

CREATE TABLE cis (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs (id),
    department_id TEXT REFERENCES departments (id),
    ci_type TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    -- A JSON object of the type's attributes, checked by domain::cmdb::check_attributes.
    attributes TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    UNIQUE (org_id, ci_type, name)
);
CREATE INDEX cis_list ON cis (org_id, name, id);
CREATE INDEX cis_name ON cis (name, id);

-- "from kind to": the payroll application runs on vm-17. Impact analysis walks them from `to` to `from`.
CREATE TABLE ci_relations (
    id TEXT PRIMARY KEY,
    from_ci TEXT NOT NULL REFERENCES cis (id),
    to_ci TEXT NOT NULL REFERENCES cis (id),
    kind TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (from_ci, to_ci, kind)
);
CREATE INDEX ci_relations_to ON ci_relations (to_ci, from_ci, kind);

-- Every change to an item or its relationships, in order.
CREATE TABLE ci_events (
    id TEXT PRIMARY KEY,
    ci_id TEXT NOT NULL REFERENCES cis (id),
    at INTEGER NOT NULL,
    actor_name TEXT NOT NULL,
    summary TEXT NOT NULL,
    before TEXT,
    after TEXT
);
CREATE INDEX ci_events_ci ON ci_events (ci_id, at);

-- Tickets about an item.
CREATE TABLE ticket_cis (
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    ci_id TEXT NOT NULL REFERENCES cis (id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (ticket_id, ci_id)
);
CREATE INDEX ticket_cis_ci ON ticket_cis (ci_id);
