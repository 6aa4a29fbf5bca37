-- Responder trackers: a triggered appointment whose penalty is being followed
-- to a safe depth. The appointment row stays (a reorg that removes the dispute
-- drops the tracker and the appointment is watched again); both are deleted
-- when the tracker resolves. The tracker keeps what rebroadcasting needs.
CREATE TABLE trackers (
    user_key         INTEGER NOT NULL REFERENCES users (user_key) ON DELETE CASCADE,
    locator          BLOB    NOT NULL CHECK (length(locator) = 16),
    dispute_txid     BLOB    NOT NULL CHECK (length(dispute_txid) = 32),
    dispute_tx       BLOB    NOT NULL,
    penalty_txid     BLOB    NOT NULL CHECK (length(penalty_txid) = 32),
    penalty_tx       BLOB    NOT NULL,
    broadcast_height INTEGER NOT NULL,
    confirmed_height INTEGER,
    blob_size        INTEGER NOT NULL,
    PRIMARY KEY (user_key, locator)
) WITHOUT ROWID;
