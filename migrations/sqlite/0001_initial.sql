-- Argus tower schema v1 (SQLite). Never edit once released: add 0002_*.sql.
CREATE TABLE users (
    user_key            INTEGER PRIMARY KEY,
    user_id             BLOB    NOT NULL UNIQUE CHECK (length(user_id) = 33),
    available_slots     INTEGER NOT NULL CHECK (available_slots BETWEEN 0 AND 4294967295),
    subscription_start  INTEGER NOT NULL,
    subscription_expiry INTEGER NOT NULL
);

-- trigger_kind: 0 txid locator (teos), 1 SHA256 hint of txid (lnd), 2 spent outpoint (electrum)
-- payload_kind: 0 encrypted penalty tx, 1 encrypted justice kit, 2 plaintext sweep tx
CREATE TABLE appointments (
    user_key       INTEGER NOT NULL REFERENCES users (user_key) ON DELETE CASCADE,
    locator        BLOB    NOT NULL CHECK (length(locator) = 16),
    trigger_kind   INTEGER NOT NULL,
    payload_kind   INTEGER NOT NULL,
    to_self_delay  INTEGER NOT NULL,
    start_block    INTEGER NOT NULL,
    blob           BLOB    NOT NULL,
    PRIMARY KEY (user_key, locator)
) WITHOUT ROWID;
CREATE INDEX appointments_locator ON appointments (locator);

CREATE TABLE chain_position (
    singleton  INTEGER PRIMARY KEY CHECK (singleton = 1),
    height     INTEGER NOT NULL,
    block_hash BLOB    NOT NULL CHECK (length(block_hash) = 32)
);
