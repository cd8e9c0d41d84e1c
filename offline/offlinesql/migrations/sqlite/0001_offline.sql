-- The offline domain's own tables, in offline.db beside the ledger's
-- file. Ids are 16-byte blobs, hashes 32-byte blobs, amounts integers of
-- the smallest unit, times Unix nanoseconds (0 = unset). Counters and
-- sequence numbers (Go uint64) are 8-byte big-endian blobs: blobs compare
-- byte by byte, so they sort as the numbers do over the whole uint64
-- range, where an INTEGER would turn the upper half negative. Byte
-- fields are stored as given, an absent one as the empty blob.

CREATE TABLE offline_keys (
	id         BLOB PRIMARY KEY, -- the key id (offline.KeyID)
	operator   BLOB NOT NULL,
	public     BLOB NOT NULL,
	private    BLOB NOT NULL, -- a seed or the whole key, as given; empty where only the public half is known
	created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE offline_devices (
	id           BLOB PRIMARY KEY,
	wallet       BLOB NOT NULL,
	operator     BLOB NOT NULL,
	key          BLOB NOT NULL,
	per_payment  INTEGER NOT NULL,
	balance      INTEGER NOT NULL,
	payments     INTEGER NOT NULL,
	state        TEXT NOT NULL,
	reason       TEXT NOT NULL,
	certificate  BLOB NOT NULL,
	cert_expires INTEGER NOT NULL,
	loaded       INTEGER NOT NULL,
	unloaded     INTEGER NOT NULL,
	spent        INTEGER NOT NULL,
	returned     INTEGER NOT NULL,
	advanced     INTEGER NOT NULL,
	vouchers     BLOB NOT NULL,
	acked        BLOB NOT NULL,
	return_at    INTEGER NOT NULL,
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL,
	version      INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX offline_devices_operator ON offline_devices (operator, id);
CREATE INDEX offline_devices_decommissioned ON offline_devices (return_at, id) WHERE state = 'decommissioned';

CREATE TABLE offline_loads (
	id         BLOB PRIMARY KEY,
	device     BLOB NOT NULL,
	amount     INTEGER NOT NULL,
	status     TEXT NOT NULL,
	problem    TEXT NOT NULL,
	seq        BLOB NOT NULL, -- zero until done
	voucher    BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- One voucher per sequence number of a device: the device's version
-- already orders its loads; this catches a bug that would not.
CREATE UNIQUE INDEX offline_loads_vouchers ON offline_loads (device, seq) WHERE status = 'done';
CREATE INDEX offline_loads_pending ON offline_loads (created_at, id) WHERE status = 'pending';

CREATE TABLE offline_tokens (
	hash         BLOB PRIMARY KEY,
	payer        BLOB NOT NULL,
	counter      BLOB NOT NULL,
	prev         BLOB NOT NULL,
	payee        BLOB NOT NULL,
	payee_wallet BLOB NOT NULL,
	amount       INTEGER NOT NULL,
	kind         INTEGER NOT NULL,
	status       TEXT NOT NULL,
	source       TEXT NOT NULL,
	fraud_case   BLOB NOT NULL, -- zero id when none
	problem      TEXT NOT NULL,
	raw          BLOB NOT NULL,
	uploaded_at  INTEGER NOT NULL,
	settled_at   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Not unique: a device that double-spent signed two tokens of one counter.
CREATE INDEX offline_tokens_payer ON offline_tokens (payer, counter);
CREATE INDEX offline_tokens_pending ON offline_tokens (uploaded_at, payer, counter, hash) WHERE status = 'pending';

CREATE TABLE offline_cases (
	id         BLOB PRIMARY KEY,
	device     BLOB NOT NULL,
	operator   BLOB NOT NULL,
	wallet     BLOB NOT NULL,
	findings   TEXT NOT NULL, -- a JSON array of strings
	tokens     BLOB NOT NULL, -- the tokens' hashes, 32 bytes each, end to end
	advanced   INTEGER NOT NULL,
	recovered  INTEGER NOT NULL,
	refused    INTEGER NOT NULL,
	status     TEXT NOT NULL,
	note       TEXT NOT NULL,
	opened_at  INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	version    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX offline_cases_operator ON offline_cases (operator, id);

-- Each operator's latest revocation list only.
CREATE TABLE offline_revocations (
	operator  BLOB PRIMARY KEY,
	seq       BLOB NOT NULL,
	issued_at INTEGER NOT NULL,
	devices   BLOB NOT NULL, -- the revoked devices' ids, 16 bytes each, end to end
	key_id    BLOB NOT NULL,
	raw       BLOB NOT NULL
) STRICT, WITHOUT ROWID;

-- The caps each operator certifies its devices with, where it set its own.
CREATE TABLE offline_caps (
	operator    BLOB PRIMARY KEY,
	per_payment INTEGER NOT NULL,
	balance     INTEGER NOT NULL,
	payments    INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
