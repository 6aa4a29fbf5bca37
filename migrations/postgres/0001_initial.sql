-- Argus tower schema v1 (PostgreSQL). Never edit once released: add 0002_*.sql.
-- Compact types: fixed-size byte strings as bytea, heights as integer. Users get a
-- 4-byte surrogate key so each appointment row carries 4 bytes, not a 33-byte pubkey.
CREATE TABLE users (
    user_key            integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id             bytea   NOT NULL UNIQUE CHECK (octet_length(user_id) = 33),
    available_slots     bigint  NOT NULL CHECK (available_slots BETWEEN 0 AND 4294967295),
    subscription_start  bigint  NOT NULL,
    subscription_expiry bigint  NOT NULL
);

-- trigger_kind: 0 txid locator (teos), 1 SHA256 hint of txid (lnd), 2 spent outpoint (electrum)
-- payload_kind: 0 encrypted penalty tx, 1 encrypted justice kit, 2 plaintext sweep tx
CREATE TABLE appointments (
    user_key       integer  NOT NULL REFERENCES users (user_key) ON DELETE CASCADE,
    locator        bytea    NOT NULL CHECK (octet_length(locator) = 16),
    trigger_kind   smallint NOT NULL,
    payload_kind   smallint NOT NULL,
    to_self_delay  bigint   NOT NULL,
    start_block    integer  NOT NULL,
    blob           bytea    NOT NULL,
    PRIMARY KEY (user_key, locator)
);
-- The watcher looks appointments up by locator only; a hash index stores a 4-byte
-- hash per row instead of the 16-byte key.
CREATE INDEX appointments_locator ON appointments USING hash (locator);

CREATE TABLE chain_position (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    height     integer NOT NULL,
    block_hash bytea   NOT NULL CHECK (octet_length(block_hash) = 32)
);
