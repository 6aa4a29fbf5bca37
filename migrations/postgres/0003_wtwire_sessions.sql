-- LND watchtower (wtwire) sessions: the policy CreateSession negotiated and
-- how far the session's StateUpdates went (lnd wtdb.SessionInfo). The session's
-- account is a users row (user_id = session key with 0x10 added to its prefix);
-- its StateUpdates are appointments of that user (trigger_kind 1, payload_kind 1).
CREATE TABLE wtwire_sessions (
    user_key            integer  PRIMARY KEY REFERENCES users (user_key) ON DELETE CASCADE,
    blob_type           integer  NOT NULL CHECK (blob_type BETWEEN 0 AND 65535),
    max_updates         integer  NOT NULL CHECK (max_updates BETWEEN 0 AND 65535),
    reward_base         bigint   NOT NULL CHECK (reward_base BETWEEN 0 AND 4294967295),
    reward_rate         bigint   NOT NULL CHECK (reward_rate BETWEEN 0 AND 4294967295),
    sweep_fee_rate      bigint   NOT NULL CHECK (sweep_fee_rate >= 0),
    last_applied        integer  NOT NULL CHECK (last_applied BETWEEN 0 AND 65535),
    client_last_applied integer  NOT NULL CHECK (client_last_applied BETWEEN 0 AND 65535),
    reward_script       bytea    NOT NULL
);
