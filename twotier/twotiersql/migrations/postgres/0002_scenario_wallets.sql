-- Scenario sub-wallets, as in migrations/sqlite/0002_scenario_wallets.sql:
-- a wallet of kind 'scenario' names the wallet it was pushed from. Sixteen
-- zero bytes for every other wallet.

ALTER TABLE wallets ADD COLUMN parent bytea NOT NULL DEFAULT '\x00000000000000000000000000000000'::bytea;

CREATE INDEX wallets_parent ON wallets (parent, id);
