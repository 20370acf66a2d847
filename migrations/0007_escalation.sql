-- 0007_escalation: rules that escalate a pending approval to more reviewer
-- groups (README "Bots and webhooks", escalation).
--
-- The rule's escalation is frozen on the approval at creation, like its
-- quorum, so a policy reload never changes when or to whom an existing
-- approval escalates. escalates_at is created_at + escalate_after (NULL:
-- never), kept as a column so the due sweep reads an index; escalated_at is
-- set once, by the transaction that writes the 'escalated' audit event, and
-- guards the sweep: several brokers on one database escalate each approval
-- once.

ALTER TABLE approvals
  ADD COLUMN escalate_after_us bigint NOT NULL DEFAULT 0,
  -- A JSON array of group names, as the broker wrote it.
  ADD COLUMN escalate_to text NOT NULL DEFAULT '[]',
  ADD COLUMN escalates_at timestamptz,
  ADD COLUMN escalated_at timestamptz,
  ADD CONSTRAINT approvals_escalate_after_check
    CHECK (escalate_after_us >= 0),
  ADD CONSTRAINT approvals_escalates_at_check
    CHECK ((escalates_at IS NULL) = (escalate_after_us = 0)),
  ADD CONSTRAINT approvals_escalated_at_check
    CHECK (escalated_at IS NULL OR escalates_at IS NOT NULL);

-- What the escalation sweep looks for: pending, not yet escalated.
CREATE INDEX approvals_escalation_due_idx ON approvals (escalates_at)
  WHERE state = 'pending' AND escalated_at IS NULL
    AND escalates_at IS NOT NULL;

ALTER TABLE audit_events DROP CONSTRAINT audit_events_type_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_type_check
  CHECK (type IN ('created', 'reviewed', 'approved', 'denied', 'expired',
    'cancelled', 'decision_refused', 'escalated'));
