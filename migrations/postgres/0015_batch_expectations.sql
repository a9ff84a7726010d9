-- A step batch written as one statement (src/store/pg_batch.rs) runs in a transaction of its
-- own, committed by the server when the statement ends, and assumes that its steps and
-- reports are new and that the calls it continues exist. The statement checks this at its
-- end through this function, which fails it when it does not hold: the statement is then
-- undone as a whole, and the writer writes the batch again the careful way. Additive: the
-- previous release never calls it.
CREATE OR REPLACE FUNCTION hotline_batch_as_expected(held boolean) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT held THEN
        RAISE EXCEPTION 'the batch met a step or a call written before it'
            USING ERRCODE = 'HLB01';
    END IF;
    RETURN true;
END
$$;
