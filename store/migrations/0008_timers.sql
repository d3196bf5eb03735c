-- One clock (issue "one way in, one clock").
--
-- Every "later" relance must remember across a restart is a row here: an
-- alert's claim deadline (escalation), the daily digest, and next a form's
-- expiry or a question's timeout. `kind` says what fires, `subject` what it
-- is about (a case id, '' for the digest); one timer per (kind, subject).
-- Re-arming bumps `generation`: a firing taken for an older generation does
-- nothing (the timer was moved or cancelled in between). The scheduler
-- sleeps until MIN(due).
CREATE TABLE timer (
  id          INTEGER PRIMARY KEY,
  kind        TEXT NOT NULL,
  subject     TEXT NOT NULL DEFAULT '',
  due         INTEGER NOT NULL,
  generation  INTEGER NOT NULL DEFAULT 1,
  payload     TEXT NOT NULL DEFAULT '{}',   -- JSON, what the firing needs
  UNIQUE (kind, subject)
);
CREATE INDEX timer_due ON timer(due);

-- The escalation clocks move over; `escalation` stays readable as a view.
INSERT INTO timer (kind, subject, due, payload)
  SELECT 'escalation', CAST(case_id AS TEXT), due, json_object('role', role, 'level', level) FROM escalation;
DROP TABLE escalation;
CREATE VIEW escalation AS
  SELECT CAST(subject AS INTEGER) AS case_id, json_extract(payload, '$.role') AS role,
         json_extract(payload, '$.level') AS level, due
  FROM timer WHERE kind = 'escalation';
