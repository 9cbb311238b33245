-- header
-- strata:no-transaction
-- strata:up
-- strata:no-transaction
CREATE INDEX CONCURRENTLY i ON {{tables.notes}} (id);
-- strata:down
-- strata:no-transaction
DROP INDEX {{ schema }}.i;
