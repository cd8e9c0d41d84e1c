-- The merchant domain's own tables on PostgreSQL, as in
-- migrations/sqlite/0001_merchant.sql. Ids are 16-byte bytea,
-- amounts bigint of the smallest unit, times Unix nanoseconds (0 = unset).

CREATE TABLE requests (
	id                bytea  NOT NULL,
	merchant          bytea  NOT NULL,
	operator          bytea  NOT NULL,
	order_id          text   NOT NULL,
	amount            bigint NOT NULL,
	expires_at        bigint NOT NULL,
	payload           text   NOT NULL,
	status            text   NOT NULL,
	payer             bytea  NOT NULL,
	attempt           bigint NOT NULL,
	paid_at           bigint NOT NULL,
	payment_timestamp bigint NOT NULL,
	created_at        bigint NOT NULL,
	updated_at        bigint NOT NULL,
	CONSTRAINT requests_pkey PRIMARY KEY (id),
	CONSTRAINT requests_merchant_order_id_key UNIQUE (merchant, order_id)
);

CREATE TABLE refunds (
	id          bytea  NOT NULL,
	request     bytea  NOT NULL,
	merchant    bytea  NOT NULL,
	payer       bytea  NOT NULL,
	amount      bigint NOT NULL,
	reason      text   NOT NULL,
	status      text   NOT NULL,
	fail_reason text   NOT NULL,
	timestamp   bigint NOT NULL,
	created_at  bigint NOT NULL,
	updated_at  bigint NOT NULL,
	seq         bigint NOT NULL,
	CONSTRAINT refunds_pkey PRIMARY KEY (id)
);

CREATE INDEX refunds_request ON refunds (request, seq);
