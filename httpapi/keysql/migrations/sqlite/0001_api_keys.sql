-- The API keys and holder tokens, in keys.db beside the ledger's file. A
-- key is kept by the SHA-256 of its secret (hex), never the secret
-- itself; principal is the JSON of httpapi.Principal. version grows with
-- every change, in the order the changes commit, so a node reads the
-- changes since the last it saw in version order.
--
-- The rows are kept in version order (version is the rowid), so a new key
-- is appended; only the small entry of the index on hash goes to a
-- random page. Keyed by hash, each new key would rewrite a random page of
-- the whole table.

CREATE TABLE api_keys (
	version   INTEGER PRIMARY KEY,
	hash      TEXT NOT NULL UNIQUE,
	principal TEXT NOT NULL
) STRICT;
