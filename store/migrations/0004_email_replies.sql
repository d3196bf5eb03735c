-- Learners' email replies, read from the mailbox relaunch emails name in
-- Reply-To.

-- An email reply finds its learner by the sender's address (when it does
-- not answer one of our messages by In-Reply-To). Addresses are kept in
-- lower case, as the CSV import always did; the API now does too.
UPDATE learner SET email = lower(email) WHERE email <> lower(email);
CREATE INDEX learner_email ON learner(email) WHERE email <> '';

-- An out-of-office answer is stored (staff see it) under its own kind: it is
-- not a reply, not a sign of life. SQLite cannot change a CHECK constraint
-- in place: the table is rebuilt (nothing references it).
CREATE TABLE inbound_message_new (
  id          INTEGER PRIMARY KEY,
  received_at INTEGER NOT NULL,
  channel     TEXT NOT NULL,                   -- sms, matrix, email
  provider    TEXT NOT NULL,                   -- kannel, twilio, http, matrix, imap
  provider_id TEXT NOT NULL,                   -- email: the Message-ID
  sender      TEXT NOT NULL,                   -- E.164 phone, Matrix id, email address (as normalised)
  learner_key INTEGER REFERENCES learner(key), -- NULL: nobody we know
  case_id     INTEGER REFERENCES learner_case(id),
  body        TEXT NOT NULL,
  sent_at     INTEGER,                         -- when the provider says it was sent
  kind        TEXT NOT NULL DEFAULT 'reply' CHECK (kind IN ('reply','opt_out','opt_in','auto_reply')),
  UNIQUE (provider, provider_id)
);
INSERT INTO inbound_message_new (id, received_at, channel, provider, provider_id, sender, learner_key, case_id, body,
                                 sent_at, kind)
  SELECT id, received_at, channel, provider, provider_id, sender, learner_key, case_id, body, sent_at, kind
  FROM inbound_message;
DROP TABLE inbound_message;
ALTER TABLE inbound_message_new RENAME TO inbound_message;
CREATE INDEX inbound_learner ON inbound_message(learner_key, received_at);
CREATE INDEX inbound_case ON inbound_message(case_id);
