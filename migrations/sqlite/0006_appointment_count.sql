-- The number of stored appointments, kept by the store in the transaction
-- that changes it (the inserted minus the removed of each write), so reading
-- it (metrics every second, /info) never counts the whole table.
CREATE TABLE appointment_count (
    singleton    INTEGER PRIMARY KEY CHECK (singleton = 1),
    appointments INTEGER NOT NULL CHECK (appointments >= 0)
);
INSERT INTO appointment_count (singleton, appointments) SELECT 1, count(*) FROM appointments;
