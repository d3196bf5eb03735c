-- A bot relaunch records what happened to its message, when it happened:
-- queued (in the outbox), sent (at the time it left), delivered, failed, or
-- not_sent (cancelled before any attempt). Before this, a step was recorded
-- "sent" when it was planned, even if the message never left.

-- The outbox row a bot relaunch is (NULL: a relaunch staff logged).
ALTER TABLE relaunch ADD COLUMN outbox_id INTEGER REFERENCES outbox(id);

-- Link the bot relaunches already recorded to their message: the outbox row
-- of the same case, step and channel (its dedupe key).
UPDATE relaunch SET outbox_id = (
  SELECT o.id FROM outbox o
  WHERE o.dedupe_key = 'case:' || relaunch.case_id || ':step:' || relaunch.step || ':' || relaunch.means)
WHERE automatic = 1;
CREATE INDEX relaunch_outbox ON relaunch(outbox_id) WHERE outbox_id IS NOT NULL;

-- And give them the status and time their message really has.
UPDATE relaunch SET
  result = (SELECT CASE
              WHEN o.status = 'sent' AND o.delivery = 'delivered' THEN 'delivered'
              WHEN o.status = 'sent' AND o.delivery = 'failed' THEN 'failed'
              WHEN o.status = 'sent' THEN 'sent'
              WHEN o.status = 'failed' THEN 'failed'
              WHEN o.status = 'cancelled' AND o.attempts = 0 THEN 'not_sent'
              WHEN o.status = 'cancelled' THEN 'failed'
              ELSE 'queued' END
            FROM outbox o WHERE o.id = relaunch.outbox_id),
  at = COALESCE((SELECT CASE WHEN o.status = 'sent' THEN o.sent_at ELSE o.created_at END
                 FROM outbox o WHERE o.id = relaunch.outbox_id), at),
  comment = COALESCE((SELECT CASE WHEN o.status IN ('failed', 'cancelled') THEN o.last_error
                                  WHEN o.delivery = 'failed' THEN o.delivery_detail
                                  ELSE relaunch.comment END
                      FROM outbox o WHERE o.id = relaunch.outbox_id), comment)
WHERE outbox_id IS NOT NULL;
