-- Detection that costs what changed (issue "one way in, one clock").
--
-- `detect_at` is when a learner must next be examined by a detection pass:
--   0 (or any past instant)  now: new, or something detection reads changed;
--   a future instant         the earliest moment one of the policies' thresholds
--                            is crossed, if nothing changes before;
--   NULL                     never, until something changes: the learner has an
--                            active case, or no policy can fire for them.
-- A pass reads only learners with detect_at <= now (the partial index), so a
-- pass when nothing changed reads nothing. The triggers below make every
-- writer (import, API, Moodle, replies, staff commands, another process) mark
-- the learner due, so no code path can forget to.
ALTER TABLE learner ADD COLUMN detect_at INTEGER DEFAULT 0;
CREATE INDEX learner_detect_at ON learner(detect_at) WHERE detect_at IS NOT NULL;

-- What detection reads of a learner: cohort (which policies apply), start
-- date and first seen (the reference without activity), status, and the
-- latest activity per source.
CREATE TRIGGER learner_detect_changed AFTER UPDATE OF
  cohort, start_date, status, first_seen, last_lms, last_lesson, last_booking, last_visit, last_call,
  last_message, last_email, last_staff ON learner
  WHEN OLD.cohort IS NOT NEW.cohort OR OLD.start_date IS NOT NEW.start_date OR OLD.status IS NOT NEW.status
    OR OLD.first_seen IS NOT NEW.first_seen OR OLD.last_lms IS NOT NEW.last_lms OR OLD.last_lesson IS NOT NEW.last_lesson
    OR OLD.last_booking IS NOT NEW.last_booking OR OLD.last_visit IS NOT NEW.last_visit
    OR OLD.last_call IS NOT NEW.last_call OR OLD.last_message IS NOT NEW.last_message
    OR OLD.last_email IS NOT NEW.last_email OR OLD.last_staff IS NOT NEW.last_staff
BEGIN
  UPDATE learner SET detect_at = 0 WHERE key = NEW.key;
END;

-- A case that opens takes the learner out of detection; one that ends puts
-- them back (another policy may fire, or the same one for a new episode).
CREATE TRIGGER case_opened_detect AFTER INSERT ON learner_case
  WHEN NEW.state IN ('open', 'claimed', 'in_progress')
BEGIN
  UPDATE learner SET detect_at = NULL WHERE key = NEW.learner_key;
END;

CREATE TRIGGER case_ended_detect AFTER UPDATE OF state ON learner_case
  WHEN OLD.state IN ('open', 'claimed', 'in_progress') AND NEW.state NOT IN ('open', 'claimed', 'in_progress')
BEGIN
  UPDATE learner SET detect_at = 0 WHERE key = NEW.learner_key;
END;
