-- Consumer-presented payment codes, kept by the hash of their digits; the
-- indexes a daily statement reads by (a merchant's paid requests and
-- posted refunds by ledger timestamp), and the one stale claims are found
-- by.

CREATE TABLE payment_codes (
	hash       BLOB    PRIMARY KEY CHECK (length(hash) = 32),
	wallet     BLOB    NOT NULL,
	cap        INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	-- request and merchant are zero-filled while the code is unused.
	request    BLOB    NOT NULL,
	merchant   BLOB    NOT NULL,
	used_at    INTEGER NOT NULL,
	created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX requests_paid ON requests (merchant, payment_timestamp) WHERE status = 'paid';
CREATE INDEX requests_paying ON requests (updated_at) WHERE status = 'paying';
CREATE INDEX refunds_posted ON refunds (merchant, timestamp) WHERE status = 'posted';
