-- The job queue under load (issue 13): a claim reads one indexed range whatever the queue's length. Due
-- jobs by run_at and leased jobs by locked_until are separate partial indexes, so finished jobs (kept for
-- a retention period, then purged by id range: ids are UUIDv7) are in neither, and no claim sorts.
DROP INDEX jobs_due;
CREATE INDEX jobs_queued ON jobs (run_at) WHERE status = 'queued';
CREATE INDEX jobs_leased ON jobs (locked_until) WHERE status = 'running';
