-- The regional cloud (issue 5): pools of capacity at a site, the CMDB items (hosts, arrays) each pool is made
-- of, and a daily record of what every member is allocated from each pool (the history behind growth trends
-- and the chargeback meters).

CREATE TABLE cloud_pools (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    -- The site (a CMDB item of type site) the pool stands at.
    site_ci TEXT REFERENCES cis (id),
    vcpu BIGINT NOT NULL,
    ram_gb BIGINT NOT NULL,
    storage_gb BIGINT NOT NULL,
    backup_gb BIGINT NOT NULL,
    notes TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);

-- A host or array belongs to one pool at most.
CREATE TABLE cloud_pool_cis (
    ci_id TEXT PRIMARY KEY REFERENCES cis (id),
    pool_id TEXT NOT NULL REFERENCES cloud_pools (id),
    created_at BIGINT NOT NULL
);
CREATE INDEX cloud_pool_cis_pool ON cloud_pool_cis (pool_id);

-- What each organisation was allocated from each pool on a day (the day's last snapshot).
CREATE TABLE cloud_usage (
    pool_id TEXT NOT NULL REFERENCES cloud_pools (id),
    org_id TEXT NOT NULL REFERENCES orgs (id),
    day TEXT NOT NULL,
    vcpu BIGINT NOT NULL,
    ram_gb BIGINT NOT NULL,
    storage_gb BIGINT NOT NULL,
    backup_gb BIGINT NOT NULL,
    PRIMARY KEY (pool_id, day, org_id)
);
CREATE INDEX cloud_usage_day ON cloud_usage (day, org_id);
