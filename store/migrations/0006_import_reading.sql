-- Imports (issue 17).
--
-- An invalid phone number in an imported file no longer drops the learner:
-- the learner is imported without it and the raw value is kept here, so
-- staff see in the case view what the file held ("NC", "12345").
ALTER TABLE learner ADD COLUMN phone_rejected TEXT NOT NULL DEFAULT '';

-- "Already imported" was the same bytes at the same reference time, so a
-- file imported again after its mapping was corrected changed nothing. It is
-- now the same bytes read the same way: `reading` is the sha256 of the rows
-- as the import made them (learners, activity per source, rows skipped).
-- Files logged before have no reading: they are told apart by their
-- reference time, and never match a new import (importing one of them once
-- more rewrites the same values). SQLite cannot change a UNIQUE constraint
-- in place: the table is rebuilt (nothing references it).
CREATE TABLE import_log_new (
  id         INTEGER PRIMARY KEY,
  sha256     TEXT NOT NULL,                  -- of the file's bytes
  reading    TEXT NOT NULL,                  -- of what the import made of them
  as_of      INTEGER NOT NULL,
  file_name  TEXT NOT NULL,
  format     TEXT NOT NULL,
  rows       INTEGER NOT NULL,
  at         INTEGER NOT NULL,
  UNIQUE (sha256, reading)
);
INSERT INTO import_log_new (id, sha256, reading, as_of, file_name, format, rows, at)
  SELECT id, sha256, 'as_of:' || as_of, as_of, file_name, format, rows, at FROM import_log;
DROP TABLE import_log;
ALTER TABLE import_log_new RENAME TO import_log;
