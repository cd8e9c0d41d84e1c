-- The merchant domain's own tables. Ids are 16-byte blobs, amounts
-- integers of the smallest unit, times Unix nanoseconds (0 = unset).

CREATE TABLE requests (
	id                BLOB PRIMARY KEY,
	merchant          BLOB NOT NULL,
	operator          BLOB NOT NULL,
	order_id          TEXT NOT NULL,
	amount            INTEGER NOT NULL,
	expires_at        INTEGER NOT NULL,
	payload           TEXT NOT NULL,
	status            TEXT NOT NULL,
	payer             BLOB NOT NULL,
	attempt           INTEGER NOT NULL,
	paid_at           INTEGER NOT NULL,
	payment_timestamp INTEGER NOT NULL,
	created_at        INTEGER NOT NULL,
	updated_at        INTEGER NOT NULL,
	UNIQUE (merchant, order_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE refunds (
	id          BLOB PRIMARY KEY,
	request     BLOB NOT NULL,
	merchant    BLOB NOT NULL,
	payer       BLOB NOT NULL,
	amount      INTEGER NOT NULL,
	reason      TEXT NOT NULL,
	status      TEXT NOT NULL,
	fail_reason TEXT NOT NULL,
	timestamp   INTEGER NOT NULL,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	seq         INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX refunds_request ON refunds (request, seq);
