-- A breach answered with a penalty kit keeps its per-output response (the
-- kit, and each output's status and rung: server/watch/kit_response.h) with
-- its tracker. NULL: one classic penalty.
ALTER TABLE trackers ADD COLUMN kit_state BLOB;
