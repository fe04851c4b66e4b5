-- The application portfolio (issue 5): a shared taxonomy of business capabilities, and for each application
-- in the CMDB its portfolio record — capability, users, cost, contract and support dates, the TIME
-- questionnaire's answers and scores, and its retirement plan.

CREATE TABLE capabilities (
    slug TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);

-- The shared taxonomy a region starts with (the hub adds its own).
INSERT INTO capabilities (slug, name, description, created_at) VALUES
    ('permitting', 'Permitting and licensing', 'Building, electrical and plumbing permits; business licences; inspections', 0),
    ('payroll', 'Payroll', 'Pay runs, deductions, time and attendance', 0),
    ('hr', 'Human resources', 'Positions, hiring, benefits, personnel records', 0),
    ('finance', 'Finance and accounting', 'General ledger, budget, purchasing, accounts payable and receivable', 0),
    ('gis', 'GIS and mapping', 'Parcel maps, zoning layers, spatial analysis', 0),
    ('crm-311', 'Constituent requests (CRM/311)', 'Resident requests, service tickets, call centre', 0),
    ('records', 'Records and document management', 'Document imaging, retention, public records requests', 0),
    ('public-safety', 'Public safety (CAD/RMS)', 'Dispatch, police and fire records', 0),
    ('assessing', 'Assessing and property tax', 'Valuation, abatements, tax billing', 0),
    ('utility-billing', 'Utility billing', 'Water and sewer accounts, meter reads, bills', 0),
    ('clerk', 'Clerk, vital records and elections', 'Vital records, dog licences, voter lists, elections', 0),
    ('asset-management', 'Asset and work-order management', 'Public works assets, work orders, fleet', 0),
    ('library', 'Library', 'Catalogue, circulation, patrons', 0),
    ('recreation', 'Recreation and facility booking', 'Programme registration, facility rentals', 0),
    ('student-information', 'Student information', 'Enrolment, grades, attendance', 0),
    ('email', 'Email and collaboration', 'Mail, calendars, shared files, meetings', 0),
    ('website', 'Website and content management', 'The public website, agendas and minutes', 0);

-- One per application item (a CMDB item of type application); the vendor and version stay on the item.
CREATE TABLE app_portfolio (
    ci_id TEXT PRIMARY KEY REFERENCES cis (id),
    capability TEXT REFERENCES capabilities (slug),
    users BIGINT NOT NULL DEFAULT 0,
    annual_cost_cents BIGINT NOT NULL DEFAULT 0,
    contract_end TEXT,
    support_end TEXT,
    -- The questionnaire's answers, a JSON object of question id to 1..5; the scores are their means.
    answers TEXT NOT NULL DEFAULT '{}',
    business_value TEXT,
    technical_condition TEXT,
    quadrant TEXT,
    retire_by TEXT,
    replacement_ci TEXT REFERENCES cis (id),
    plan TEXT NOT NULL DEFAULT '',
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX app_portfolio_capability ON app_portfolio (capability);
