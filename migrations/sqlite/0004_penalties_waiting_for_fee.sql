-- A penalty bitcoind's mempool refused for its fee is kept and retried every
-- block until this height (the dispute's CSV window), instead of being dropped:
-- NULL when the penalty is in the mempool or the chain.
ALTER TABLE trackers ADD COLUMN waiting_for_fee_until INTEGER;
