-- Service desk: catalog, SLA policies, assignment groups, tickets with their history, watchers, links,
-- attachments, and the full-text index. Same portable types as 0001 (ids TEXT, instants epoch ms,
-- JSON TEXT, booleans 0/1). Ticket numbers come from a region-wide counter.

CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('ticket', 0);

CREATE TABLE desk_settings (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    priority_matrix TEXT NOT NULL,
    reopen_days BIGINT NOT NULL,
    attachment_max_bytes BIGINT NOT NULL,
    -- Used for tickets without a service (and for services whose policy is gone): set with the first policy.
    default_sla_policy_id TEXT,
    -- A breached ticket moves to this team (functional escalation), when set.
    escalation_team_id TEXT,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
INSERT INTO desk_settings (id, priority_matrix, reopen_days, attachment_max_bytes, updated_at)
VALUES (1, '[["p1","p2","p3"],["p2","p3","p4"],["p3","p4","p4"]]', 7, 10485760, 0);

CREATE TABLE sla_policies (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    coverage TEXT NOT NULL,
    targets TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE teams (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE team_members (
    team_id TEXT NOT NULL REFERENCES teams (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (user_id);

CREATE TABLE services (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL UNIQUE,
    category TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    owner_team_id TEXT REFERENCES teams (id),
    support_hours TEXT NOT NULL,
    sla_policy_id TEXT NOT NULL REFERENCES sla_policies (id),
    active SMALLINT NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE catalog_items (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL REFERENCES services (id),
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    form TEXT NOT NULL,
    cost_cents BIGINT NOT NULL DEFAULT 0 CHECK (cost_cents >= 0),
    active SMALLINT NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    UNIQUE (service_id, name)
);

CREATE TABLE tickets (
    id TEXT PRIMARY KEY,
    number BIGINT NOT NULL UNIQUE,
    org_id TEXT NOT NULL REFERENCES orgs (id),
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    description TEXT NOT NULL,
    requester_id TEXT NOT NULL REFERENCES users (id),
    department_id TEXT REFERENCES departments (id),
    site_id TEXT REFERENCES sites (id),
    service_id TEXT REFERENCES services (id),
    catalog_item_id TEXT REFERENCES catalog_items (id),
    form_answers TEXT,
    category TEXT NOT NULL DEFAULT '',
    impact TEXT NOT NULL,
    urgency TEXT NOT NULL,
    priority TEXT NOT NULL,
    status TEXT NOT NULL,
    is_open SMALLINT NOT NULL DEFAULT 1 CHECK (is_open IN (0, 1)),
    team_id TEXT REFERENCES teams (id),
    assignee_id TEXT REFERENCES users (id),
    source TEXT NOT NULL,
    approval TEXT NOT NULL,
    cost_cents BIGINT NOT NULL DEFAULT 0,
    -- SLA: targets copied from the policy when the ticket opened or its priority changed, the clock's
    -- pauses (JSON), the due instants, the next deadline for queues (9999999999999 when none).
    coverage TEXT NOT NULL,
    response_target_s BIGINT NOT NULL,
    resolution_target_s BIGINT NOT NULL,
    sla_clock TEXT NOT NULL,
    response_due_at BIGINT,
    resolution_due_at BIGINT,
    sla_due_at BIGINT NOT NULL,
    -- The next instant the escalation sweep must look at the ticket (at-risk point or breach).
    sla_check_at BIGINT NOT NULL,
    first_response_at BIGINT,
    resolved_at BIGINT,
    closed_at BIGINT,
    response_breached SMALLINT NOT NULL DEFAULT 0 CHECK (response_breached IN (0, 1)),
    resolution_breached SMALLINT NOT NULL DEFAULT 0 CHECK (resolution_breached IN (0, 1)),
    at_risk SMALLINT NOT NULL DEFAULT 0 CHECK (at_risk IN (0, 1)),
    merged_into_id TEXT REFERENCES tickets (id),
    csat_score BIGINT CHECK (csat_score BETWEEN 1 AND 5),
    csat_comment TEXT,
    reopen_count BIGINT NOT NULL DEFAULT 0,
    public_replies BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX tickets_queue ON tickets (is_open, sla_due_at, number);
CREATE INDEX tickets_org_queue ON tickets (org_id, is_open, sla_due_at, number);
CREATE INDEX tickets_assignee ON tickets (assignee_id, is_open, sla_due_at, number);
CREATE INDEX tickets_requester ON tickets (requester_id, number);
CREATE INDEX tickets_org_created ON tickets (org_id, created_at);
CREATE INDEX tickets_created ON tickets (created_at);
CREATE INDEX tickets_sla_check ON tickets (is_open, sla_check_at);

CREATE TABLE ticket_events (
    id TEXT PRIMARY KEY,
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    org_id TEXT NOT NULL REFERENCES orgs (id),
    at BIGINT NOT NULL,
    actor_id TEXT REFERENCES users (id),
    actor_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    public SMALLINT NOT NULL CHECK (public IN (0, 1)),
    body TEXT,
    data TEXT
);
CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, at, id);

CREATE TABLE ticket_watchers (
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (ticket_id, user_id)
);
CREATE INDEX ticket_watchers_user ON ticket_watchers (user_id, ticket_id);

CREATE TABLE ticket_links (
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    other_id TEXT NOT NULL REFERENCES tickets (id),
    kind TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (ticket_id, other_id)
);
CREATE INDEX ticket_links_other ON ticket_links (other_id);

CREATE TABLE attachments (
    id TEXT PRIMARY KEY,
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    org_id TEXT NOT NULL REFERENCES orgs (id),
    event_id TEXT REFERENCES ticket_events (id),
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    data BYTEA NOT NULL,
    uploaded_by TEXT REFERENCES users (id),
    created_at BIGINT NOT NULL
);
CREATE INDEX attachments_ticket ON attachments (ticket_id, created_at);

-- Time: one person's minutes on one ticket on one date; the ticket's organisation is the one served.
CREATE TABLE time_entries (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    work_date TEXT NOT NULL,
    minutes BIGINT NOT NULL CHECK (minutes > 0 AND minutes <= 1440),
    activity TEXT NOT NULL,
    billable SMALLINT NOT NULL CHECK (billable IN (0, 1)),
    note TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX time_entries_user ON time_entries (user_id, work_date);
CREATE INDEX time_entries_org ON time_entries (org_id, work_date);
CREATE INDEX time_entries_ticket ON time_entries (ticket_id);

-- At most one running timer per person.
CREATE TABLE timers (
    user_id TEXT PRIMARY KEY REFERENCES users (id),
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    started_at BIGINT NOT NULL,
    activity TEXT NOT NULL,
    billable SMALLINT NOT NULL CHECK (billable IN (0, 1))
);

-- Every message the mail gateway took in, and what became of it: a ticket, a reply, triage (an unknown
-- sender or a reply nobody may write), quarantine (unreadable) or ignored (auto-replies, loops). The raw
-- message is kept for triage and quarantine.
CREATE TABLE mail_messages (
    id TEXT PRIMARY KEY,
    message_id TEXT UNIQUE,
    received_at BIGINT NOT NULL,
    from_addr TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    ticket_number BIGINT,
    raw BYTEA,
    resolved_at BIGINT,
    resolved_by TEXT REFERENCES users (id)
);
CREATE INDEX mail_messages_outcome ON mail_messages (outcome, received_at);

-- Ready-made replies the desk inserts into a ticket's reply box.
CREATE TABLE canned_replies (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Knowledge base. `seq` keys the search index (derived: not backed up, rebuilt on restore).
CREATE TABLE kb_articles (
    id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    category TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    visibility TEXT NOT NULL,
    org_id TEXT REFERENCES orgs (id),
    service_id TEXT REFERENCES services (id),
    author_id TEXT REFERENCES users (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX kb_articles_list ON kb_articles (status, visibility, updated_at);
INSERT INTO counters (name, value) VALUES ('kb', 0);

CREATE TABLE ticket_articles (
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    article_id TEXT NOT NULL REFERENCES kb_articles (id),
    PRIMARY KEY (ticket_id, article_id)
);

CREATE TABLE kb_fts (
    seq BIGINT PRIMARY KEY,
    doc TSVECTOR NOT NULL
);
CREATE INDEX kb_fts_doc ON kb_fts USING GIN (doc);

-- Notifications a person has turned off, by event (everything is on by default).
CREATE TABLE notification_optouts (
    user_id TEXT NOT NULL REFERENCES users (id),
    event TEXT NOT NULL,
    PRIMARY KEY (user_id, event)
);

-- Full-text index over subject, description and replies, by ticket number. Derived data: not backed up,
-- rebuilt on restore.
CREATE TABLE ticket_fts (
    number BIGINT PRIMARY KEY,
    doc TSVECTOR NOT NULL
);
CREATE INDEX ticket_fts_doc ON ticket_fts USING GIN (doc);
