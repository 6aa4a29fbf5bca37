-- Responder trackers: a triggered appointment whose penalty is being followed
-- to a safe depth. The appointment row stays (a reorg that removes the dispute
-- drops the tracker and the appointment is watched again); both are deleted
-- when the tracker resolves. The tracker keeps what rebroadcasting needs.
CREATE TABLE trackers (
    user_key         integer  NOT NULL REFERENCES users (user_key) ON DELETE CASCADE,
    locator          bytea    NOT NULL CHECK (octet_length(locator) = 16),
    dispute_txid     bytea    NOT NULL CHECK (octet_length(dispute_txid) = 32),
    dispute_tx       bytea    NOT NULL,
    penalty_txid     bytea    NOT NULL CHECK (octet_length(penalty_txid) = 32),
    penalty_tx       bytea    NOT NULL,
    broadcast_height integer  NOT NULL,
    confirmed_height integer,
    blob_size        integer  NOT NULL,
    PRIMARY KEY (user_key, locator)
);
