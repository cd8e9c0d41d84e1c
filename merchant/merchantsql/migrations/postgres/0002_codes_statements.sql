-- Consumer-presented payment codes and the statement indexes, as in
-- migrations/sqlite/0002_codes_statements.sql.

CREATE TABLE payment_codes (
	hash       bytea  NOT NULL,
	wallet     bytea  NOT NULL,
	cap        bigint NOT NULL,
	expires_at bigint NOT NULL,
	request    bytea  NOT NULL,
	merchant   bytea  NOT NULL,
	used_at    bigint NOT NULL,
	created_at bigint NOT NULL,
	CONSTRAINT payment_codes_pkey PRIMARY KEY (hash)
);

CREATE INDEX requests_paid ON requests (merchant, payment_timestamp) WHERE status = 'paid';
CREATE INDEX requests_paying ON requests (updated_at) WHERE status = 'paying';
CREATE INDEX refunds_posted ON refunds (merchant, timestamp) WHERE status = 'posted';
