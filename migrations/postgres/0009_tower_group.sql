-- Several towers on one database (docs/operations.md, High availability).
--
-- The elected watcher: whoever holds the session advisory lock
-- postgres_leader_lock_key increments the epoch when it takes over; every
-- write of the watcher checks it (FOR SHARE), so a paused former leader
-- cannot write once another has taken over.
CREATE TABLE tower_leader (
    singleton boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    epoch     bigint      NOT NULL,
    holder    text        NOT NULL,
    since     timestamptz NOT NULL DEFAULT now()
);

-- Every write of a user's row moves its version; a tower writes a user only
-- at the version it last read (optimistic concurrency across processes).
-- Rows written before this migration start at 1.
ALTER TABLE users ADD COLUMN version bigint NOT NULL DEFAULT 1;

-- What each tower of a group wrote, for the others' locator indexes and the
-- watcher's late checks. seq is assigned under an exclusive advisory lock
-- held until commit, so rows become visible in seq order. kind: 1 a locator
-- entered the store, 2 one left it, 3 an appointment was stored (user_id set).
-- The watcher prunes rows older than an hour.
CREATE TABLE appointment_feed (
    seq        bigserial   PRIMARY KEY,
    origin     bigint      NOT NULL,
    kind       smallint    NOT NULL,
    loc_hi     bigint      NOT NULL,
    loc_lo     bigint      NOT NULL,
    user_id    bytea,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX appointment_feed_created ON appointment_feed (created_at);
