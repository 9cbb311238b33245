-- strata:no-transaction
-- Listing the newest notes first, without a sort of the whole table. Built
-- concurrently so that a live table is not locked against writes meanwhile,
-- which PostgreSQL only allows outside a transaction.
CREATE INDEX CONCURRENTLY IF NOT EXISTS notes_created_at_idx
    ON notes (created_at);
