-- The API keys and holder tokens, in keys.db beside the ledger's file. A
-- key is kept by the SHA-256 of its secret (hex), never the secret
-- itself; principal is the JSON of httpapi.Principal. version grows with
-- every change, in the order the changes commit, so a node reads the
-- changes since the last it saw by the index on it.

CREATE TABLE api_keys (
	hash      TEXT PRIMARY KEY,
	principal TEXT NOT NULL,
	version   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE UNIQUE INDEX api_keys_version ON api_keys (version);
