-- Where the customer is served: an installation order reads the account's address back to the
-- caller for confirmation and keeps the confirmed text on the ticket (the account's address
-- may change later; the order was for this one). A spoken address is the ticket's recording.
-- Additive: an older instance running beside a newer one during a rolling deploy ignores both.
ALTER TABLE accounts ADD COLUMN address TEXT;
ALTER TABLE tickets ADD COLUMN address TEXT;
