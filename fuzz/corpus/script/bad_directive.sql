-- strata:down
SELECT 1;
-- strata:nope
