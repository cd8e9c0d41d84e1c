-- A one-off request is made for one payment (a static code's, a payment
-- code's charge) and claimed by its payer from the start: refused, it is
-- cancelled rather than opened to other payers.
ALTER TABLE requests ADD COLUMN one_off INTEGER NOT NULL DEFAULT 0;
