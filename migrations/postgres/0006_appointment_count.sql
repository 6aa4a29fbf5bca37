-- The number of stored appointments, kept by the store in the transaction
-- that changes it (the inserted minus the removed of each write), so reading
-- it (metrics every second, /info) never counts a table of 10^7 rows.
CREATE TABLE appointment_count (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    appointments bigint  NOT NULL CHECK (appointments >= 0)
);
INSERT INTO appointment_count (singleton, appointments) SELECT true, count(*) FROM appointments;
