-- The lease that makes one process the writer of a ledger (see lease.go).
-- Times are the database's clock, so the processes' clocks need not agree.
-- epoch grows by one with every acquisition: a commit names the epoch it
-- was made under, and is refused once another process has taken over.
CREATE TABLE writer_leases (
	name       text        NOT NULL PRIMARY KEY,
	owner      text        NOT NULL,
	epoch      bigint      NOT NULL,
	expires_at timestamptz NOT NULL
);
