-- Scenario sub-wallets: a wallet of kind 'scenario' names the wallet it
-- was pushed from, where its money comes from and goes back to. Sixteen
-- zero bytes for every other wallet.

ALTER TABLE wallets ADD COLUMN parent BLOB NOT NULL DEFAULT x'00000000000000000000000000000000';

CREATE INDEX wallets_parent ON wallets (parent, id);
