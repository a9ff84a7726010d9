-- A call's row is updated a few times after it is inserted (its effects, milestones, its
-- status): room left on each page lets those updates stay on the page (HOT) when no indexed
-- column changes. Additive: takes effect on pages written from now on.
ALTER TABLE calls SET (fillfactor = 70);
