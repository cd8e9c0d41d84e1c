-- The API keys and holder tokens, shared by every node on the database.
-- A key is kept by the SHA-256 of its secret, never the secret itself;
-- principal is the JSON of httpapi.Principal. version grows with every
-- change (under the table lock Put takes), so a node learns that the keys
-- changed from one small query.

CREATE TABLE api_keys (
	hash      text   NOT NULL,
	principal jsonb  NOT NULL,
	version   bigint NOT NULL,
	CONSTRAINT api_keys_pkey PRIMARY KEY (hash)
);
