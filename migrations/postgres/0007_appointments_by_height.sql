-- Appointments at scale (issue #12). The locator is two bigints (its first
-- and last 8 bytes, big-endian, signed), the row laid out without padding
-- (21 rows a page with a 320-byte blob), and the table partitioned by
-- start_block in ranges of 144 blocks (about a day): new appointments go to
-- the newest partition, so only its indexes are written, and the full-page
-- images every checkpoint forces stay small. Two indexes, both narrow:
-- loc_hi (the watcher's lookups; 20 bytes an entry) and user_key (deleting a
-- user's appointments; B-tree deduplication makes it a few bytes a row).
-- Uniqueness of (user, locator) is kept by the tower, which knows whether a
-- write is new (docs/architecture.md, "store"): a unique index would have to
-- include start_block and could not enforce it across partitions anyway.
-- Partitions are created by the store as heights advance (appointments_h<first block>).
CREATE TABLE appointments_by_height (
    loc_hi        bigint   NOT NULL,
    loc_lo        bigint   NOT NULL,
    user_key      integer  NOT NULL REFERENCES users (user_key) ON DELETE CASCADE,
    start_block   integer  NOT NULL,
    to_self_delay bigint   NOT NULL,
    trigger_kind  smallint NOT NULL,
    payload_kind  smallint NOT NULL,
    blob          bytea    NOT NULL
) PARTITION BY RANGE (start_block);

DO $$
DECLARE first integer;
BEGIN
    FOR first IN SELECT DISTINCT start_block / 144 * 144 FROM appointments LOOP
        EXECUTE format('CREATE TABLE appointments_h%s PARTITION OF appointments_by_height FOR VALUES FROM (%s) TO (%s)',
                       first, first, first + 144);
    END LOOP;
END $$;

INSERT INTO appointments_by_height (loc_hi, loc_lo, user_key, start_block, to_self_delay, trigger_kind, payload_kind, blob)
SELECT ('x' || encode(substring(locator FROM 1 FOR 8), 'hex'))::bit(64)::bigint,
       ('x' || encode(substring(locator FROM 9 FOR 8), 'hex'))::bit(64)::bigint,
       user_key, start_block, to_self_delay, trigger_kind, payload_kind, blob
FROM appointments;

DROP TABLE appointments;
ALTER TABLE appointments_by_height RENAME TO appointments;
CREATE INDEX appointments_locator ON appointments (loc_hi);
CREATE INDEX appointments_user ON appointments (user_key);
