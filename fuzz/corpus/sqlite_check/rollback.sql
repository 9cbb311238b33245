-- strata:up
SELECT 1 /* ; */;
rollback transaction to savepoint s;
END TRANSACTION
-- strata:down
-- nothing
