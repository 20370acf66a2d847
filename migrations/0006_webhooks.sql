-- 0006_webhooks: durable, at-least-once webhook deliveries (README
-- "Webhooks").
--
-- Each configured endpoint has a cursor over the audit log: the broker moves
-- it forward in the same transaction that queues one delivery per matching
-- event, so a restart or crash loses none and queues none twice. Deliveries
-- are claimed with FOR UPDATE SKIP LOCKED and a lease (next_attempt_at moved
-- past the attempt's timeout), so with several replicas each attempt is made
-- by one of them; a replica that dies mid-attempt leaves the delivery due
-- again once its lease runs out.

CREATE TABLE webhook_cursors (
  endpoint text PRIMARY KEY,
  -- Every audit event with seq <= last_seq has been considered.
  last_seq bigint NOT NULL,
  CONSTRAINT webhook_cursors_seq_check CHECK (last_seq >= 0)
);

CREATE TABLE webhook_deliveries (
  endpoint text NOT NULL,
  seq bigint NOT NULL,
  event_type text NOT NULL,
  approval_id uuid NOT NULL,
  -- The exact body sent on every attempt (masked approval, never raw
  -- parameters), so retries carry the same bytes.
  payload text NOT NULL,
  status text NOT NULL DEFAULT 'pending',
  attempts integer NOT NULL DEFAULT 0,
  occurred_at timestamptz NOT NULL,
  enqueued_at timestamptz NOT NULL DEFAULT now(),
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error text NOT NULL DEFAULT '',
  last_http_status integer,
  delivered_at timestamptz,
  PRIMARY KEY (endpoint, seq),
  CONSTRAINT webhook_deliveries_status_check
    CHECK (status IN ('pending', 'delivered', 'failed')),
  CONSTRAINT webhook_deliveries_delivered_check
    CHECK ((status = 'delivered') = (delivered_at IS NOT NULL))
);
-- What each endpoint must send next.
CREATE INDEX webhook_deliveries_due_idx
  ON webhook_deliveries (endpoint, next_attempt_at, seq)
  WHERE status = 'pending';
-- The admin listing: newest first.
CREATE INDEX webhook_deliveries_recent_idx
  ON webhook_deliveries (seq DESC, endpoint);

GRANT SELECT, INSERT, UPDATE ON webhook_cursors TO approval_broker_app;
GRANT SELECT, INSERT, UPDATE ON webhook_deliveries TO approval_broker_app;
