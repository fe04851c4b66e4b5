-- Issue 13: every ticket opened rewrote a leaf of each index led by the member, and the 32 openings of a
-- commit land on 32 different leaves: the two below were a page and a half of write-ahead log per ticket
-- each (docs/PERFORMANCE.md, third and fourth passes). Both are redundant with
-- tickets_org_status_queue (org_id, status, sla_due_at, number): a member's queue names its open
-- statuses, and a member's report reads its tickets by member.
DROP INDEX tickets_org_queue;
DROP INDEX tickets_org_created;
