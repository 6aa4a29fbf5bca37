-- Electrum watchtower front door (Electrum 4.3.4 lnworker/lnwatcher). An
-- account is a users row (user_id = 0x20-prefixed SHA256 of the username, so
-- it can never be a teos key or a wtwire session) with a password hash
-- (libsodium crypto_pwhash_str); removing the user removes both.
CREATE TABLE electrum_accounts (
    user_key      integer PRIMARY KEY REFERENCES users (user_key) ON DELETE CASCADE,
    username      text    NOT NULL UNIQUE,
    password_hash text    NOT NULL
);
-- The channels a client registered with get_ctn: the funding outpoint and the
-- highest commitment number whose sweeps are stored (-1: none). The sweeps
-- themselves are appointments of the account (trigger_kind 0: the locator of
-- the sweep's prevout txid; payload_kind 2: the plaintext sweep).
CREATE TABLE electrum_channels (
    user_key        integer NOT NULL REFERENCES users (user_key) ON DELETE CASCADE,
    funding_txid    bytea   NOT NULL CHECK (length(funding_txid) = 32),
    funding_vout    bigint  NOT NULL CHECK (funding_vout BETWEEN 0 AND 4294967295),
    funding_address text    NOT NULL,
    max_ctn         bigint  NOT NULL CHECK (max_ctn >= -1),
    PRIMARY KEY (user_key, funding_txid, funding_vout)
);
-- What the chain did to a registered funding outpoint (the watcher's record,
-- kept for the client to read): the transaction that spent it, at which
-- height, how the channel closed (1 cooperative, 2 unilateral, 3 breach) and,
-- for a breach, the tower's sweep of the revoked commitment's to_local.
-- A reorg that removes the spend removes the row.
CREATE TABLE electrum_channel_closes (
    funding_txid  bytea   NOT NULL CHECK (length(funding_txid) = 32),
    funding_vout  bigint  NOT NULL CHECK (funding_vout BETWEEN 0 AND 4294967295),
    closing_txid  bytea   NOT NULL CHECK (length(closing_txid) = 32),
    closed_height integer NOT NULL CHECK (closed_height >= 0),
    close_type    smallint NOT NULL CHECK (close_type BETWEEN 1 AND 3),
    penalty_txid  bytea   CHECK (penalty_txid IS NULL OR length(penalty_txid) = 32),
    PRIMARY KEY (funding_txid, funding_vout)
);
