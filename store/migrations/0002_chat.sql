-- Staff chat (Mattermost, Matrix): one outbox row per destination room, sent
-- in order per room; one thread per case and room; escalation of alerts
-- nobody claimed.

-- Sends begun, committed before each attempt: a row with started > 0 and
-- still pending may already be on the server (a crash, a timeout), so the
-- adapter looks for it before sending again (Mattermost) or reuses its
-- idempotency key (Matrix txnId).
ALTER TABLE outbox ADD COLUMN started INTEGER NOT NULL DEFAULT 0;
CREATE INDEX outbox_pending_order ON outbox(channel, id) WHERE status = 'pending';

-- The first post of a case in a room is its thread root; later posts of the
-- case in that room go under it. Reactions and buttons on a root find the case.
CREATE TABLE chat_thread (
  network        TEXT NOT NULL,        -- mattermost, matrix
  destination    TEXT NOT NULL,        -- channel id, room id
  case_id        INTEGER NOT NULL REFERENCES learner_case(id),
  root_remote_id TEXT NOT NULL,        -- post id, event id
  root_outbox_id INTEGER NOT NULL REFERENCES outbox(id),
  created_at     INTEGER NOT NULL,
  PRIMARY KEY (network, destination, case_id)
) WITHOUT ROWID;
CREATE INDEX chat_thread_root ON chat_thread(network, root_remote_id);

-- An alert waiting to be claimed: when `due` passes (business time) and the
-- case is still unclaimed, it is posted to the next role of the chain.
CREATE TABLE escalation (
  case_id INTEGER PRIMARY KEY REFERENCES learner_case(id),
  role    TEXT NOT NULL,               -- the role the alert is with now
  level   INTEGER NOT NULL DEFAULT 0,  -- escalations so far
  due     INTEGER NOT NULL
);
CREATE INDEX escalation_due ON escalation(due);
