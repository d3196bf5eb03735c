-- relance schema, version 1. Never edit a migration that has landed; add 0002_*.sql.
-- Times are Unix seconds (UTC). NULL or 0 in last_* columns means "never".

CREATE TABLE learner (
  key           INTEGER PRIMARY KEY,
  id            TEXT NOT NULL UNIQUE,          -- the organisation's id
  first_name    TEXT NOT NULL DEFAULT '',
  last_name     TEXT NOT NULL DEFAULT '',
  email         TEXT NOT NULL DEFAULT '',
  phone         TEXT NOT NULL DEFAULT '',      -- E.164
  cohort        TEXT NOT NULL DEFAULT '',
  start_date    TEXT,                          -- YYYY-MM-DD
  language      TEXT NOT NULL DEFAULT 'fr',
  status        TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','dropped_out','archived')),
  first_seen    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL,
  -- latest activity per source (one column each: a detection pass is one scan)
  last_lms      INTEGER NOT NULL DEFAULT 0,
  last_lesson   INTEGER NOT NULL DEFAULT 0,
  last_booking  INTEGER NOT NULL DEFAULT 0,
  last_visit    INTEGER NOT NULL DEFAULT 0,
  last_call     INTEGER NOT NULL DEFAULT 0,
  last_message  INTEGER NOT NULL DEFAULT 0,
  last_email    INTEGER NOT NULL DEFAULT 0,
  last_staff    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX learner_cohort ON learner(cohort);

CREATE TABLE learner_case (
  id            INTEGER PRIMARY KEY,
  learner_key   INTEGER NOT NULL REFERENCES learner(key),
  policy_id     TEXT NOT NULL,
  plan          TEXT NOT NULL,                 -- JSON snapshot of the plan
  state         TEXT NOT NULL CHECK (state IN ('open','claimed','in_progress','resumed','dropped_out','closed')),
  assignee      TEXT NOT NULL DEFAULT '',
  next_step     INTEGER NOT NULL DEFAULT 0,
  relaunches    INTEGER NOT NULL DEFAULT 0,
  answered      INTEGER NOT NULL DEFAULT 0,
  opened_at     INTEGER NOT NULL,
  activity_ref  INTEGER NOT NULL,
  last_step_at  INTEGER,
  next_due      INTEGER,
  closed_at     INTEGER,
  outcome_note  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX case_learner ON learner_case(learner_key, policy_id);
CREATE INDEX case_due ON learner_case(next_due) WHERE next_due IS NOT NULL;
CREATE INDEX case_state ON learner_case(state);

CREATE TABLE relaunch (
  id         INTEGER PRIMARY KEY,
  case_id    INTEGER NOT NULL REFERENCES learner_case(id),
  at         INTEGER NOT NULL,
  actor      TEXT NOT NULL,
  means      TEXT NOT NULL,
  result     TEXT NOT NULL,
  comment    TEXT NOT NULL DEFAULT '',
  step       INTEGER NOT NULL DEFAULT -1,
  automatic  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX relaunch_case ON relaunch(case_id, at);
CREATE INDEX relaunch_at ON relaunch(at);

-- A person must act; overdue when done_at is NULL and due < now.
CREATE TABLE task (
  id        INTEGER PRIMARY KEY,
  case_id   INTEGER NOT NULL REFERENCES learner_case(id),
  step      INTEGER NOT NULL,
  role      TEXT NOT NULL,
  means     TEXT NOT NULL,
  template  TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  due       INTEGER NOT NULL,
  done_at   INTEGER,
  done_by   TEXT
);
CREATE INDEX task_open ON task(due) WHERE done_at IS NULL;

-- Transactional outbox: written in the same transaction as the state change
-- that caused the message. `dedupe_key` makes enqueueing idempotent.
CREATE TABLE outbox (
  id          INTEGER PRIMARY KEY,
  created_at  INTEGER NOT NULL,
  channel     TEXT NOT NULL,                  -- sms, email, matrix, staff
  recipient   TEXT NOT NULL,                  -- phone, email, matrix id, or staff role
  template    TEXT NOT NULL,
  params      TEXT NOT NULL,                  -- JSON object
  case_id     INTEGER REFERENCES learner_case(id),
  learner_key INTEGER REFERENCES learner(key),
  dedupe_key  TEXT NOT NULL UNIQUE,
  not_before  INTEGER NOT NULL,
  status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','sent','failed','cancelled')),
  attempts    INTEGER NOT NULL DEFAULT 0,
  next_attempt INTEGER NOT NULL,
  last_error  TEXT NOT NULL DEFAULT '',
  sent_at     INTEGER,
  remote_id   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outbox_pending ON outbox(channel, next_attempt) WHERE status = 'pending';

-- Append-only journal of every action (audit evidence).
CREATE TABLE journal (
  id          INTEGER PRIMARY KEY,
  at          INTEGER NOT NULL,
  actor       TEXT NOT NULL,
  action      TEXT NOT NULL,
  learner_key INTEGER,
  case_id     INTEGER,
  detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX journal_case ON journal(case_id);
CREATE INDEX journal_learner ON journal(learner_key);
CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal
BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END;
CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END;

-- Inbound deduplication: (source, external id) seen once.
CREATE TABLE inbound_seen (
  source     TEXT NOT NULL,
  ext_id     TEXT NOT NULL,
  at         INTEGER NOT NULL,
  PRIMARY KEY (source, ext_id)
) WITHOUT ROWID;

-- Files already imported (sha256 of the bytes + the reference time).
CREATE TABLE import_log (
  id         INTEGER PRIMARY KEY,
  sha256     TEXT NOT NULL,
  as_of      INTEGER NOT NULL,
  file_name  TEXT NOT NULL,
  format     TEXT NOT NULL,
  rows       INTEGER NOT NULL,
  at         INTEGER NOT NULL,
  UNIQUE (sha256, as_of)
);

-- Small named values: scheduler and poller positions.
CREATE TABLE kv (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
