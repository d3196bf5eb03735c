-- Learner channels (SMS, email, Matrix): who may be texted, what learners
-- wrote back, and what became of each message sent.

-- A learner's Matrix id (@lea:example.org), for relaunches in a direct room.
ALTER TABLE learner ADD COLUMN matrix_id TEXT NOT NULL DEFAULT '';
-- When the learner opted out of SMS (STOP); 0: not opted out. The consent
-- log below keeps the history; this is the current state, read per send.
ALTER TABLE learner ADD COLUMN sms_opt_out INTEGER NOT NULL DEFAULT 0;
-- Inbound SMS and Matrix messages find their learner by these.
CREATE INDEX learner_phone ON learner(phone) WHERE phone <> '';
CREATE INDEX learner_matrix ON learner(matrix_id) WHERE matrix_id <> '';

-- Every opt-out and opt-in, with the message that caused it (evidence).
CREATE TABLE consent_log (
  id          INTEGER PRIMARY KEY,
  at          INTEGER NOT NULL,
  learner_key INTEGER NOT NULL REFERENCES learner(key),
  channel     TEXT NOT NULL,                   -- sms
  action      TEXT NOT NULL CHECK (action IN ('opt_out','opt_in')),
  via         TEXT NOT NULL,                   -- 'reply' (the learner wrote it), 'provider' (gateway refused: opted out there), 'staff'
  message     TEXT NOT NULL DEFAULT ''         -- the learner's words, or the provider's error
);
CREATE INDEX consent_learner ON consent_log(learner_key, at);

-- What learners wrote, on any channel. (provider, provider_id) is the
-- provider's message id: a webhook delivered twice is stored once.
CREATE TABLE inbound_message (
  id          INTEGER PRIMARY KEY,
  received_at INTEGER NOT NULL,
  channel     TEXT NOT NULL,                   -- sms, matrix, email
  provider    TEXT NOT NULL,                   -- kannel, twilio, http, matrix
  provider_id TEXT NOT NULL,
  sender      TEXT NOT NULL,                   -- E.164 phone, Matrix id (as normalised)
  learner_key INTEGER REFERENCES learner(key), -- NULL: nobody we know
  case_id     INTEGER REFERENCES learner_case(id),
  body        TEXT NOT NULL,
  sent_at     INTEGER,                         -- when the provider says it was sent
  kind        TEXT NOT NULL DEFAULT 'reply' CHECK (kind IN ('reply','opt_out','opt_in')),
  UNIQUE (provider, provider_id)
);
CREATE INDEX inbound_learner ON inbound_message(learner_key, received_at);
CREATE INDEX inbound_case ON inbound_message(case_id);

-- Delivery of learner messages: which gateway took it, and its latest
-- report (progress, delivered, failed). A final report is never replaced by
-- an intermediate one arriving late.
ALTER TABLE outbox ADD COLUMN provider TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN delivery TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN delivery_at INTEGER;
ALTER TABLE outbox ADD COLUMN delivery_detail TEXT NOT NULL DEFAULT '';
CREATE INDEX outbox_remote ON outbox(provider, remote_id) WHERE remote_id <> '';
