-- The agent queue filtered by member and status, sorted by SLA due: served from the index alone
-- whatever the status (a status held by few of a member's tickets, such as resolved, otherwise reads
-- every closed ticket of the member).
CREATE INDEX tickets_org_status_queue ON tickets (org_id, status, sla_due_at, number);
