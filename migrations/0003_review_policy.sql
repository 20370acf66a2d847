-- 0003_review_policy: policy requirements, append-only reviews, masked
-- previews.
--
-- Every approval now records the policy rule that matched it and what that
-- rule requires; reviews are rows of their own, one per person, never
-- changed; approvals hold only the masked preview of their parameters.

ALTER TABLE approvals
  ADD COLUMN policy_rule text NOT NULL DEFAULT '',
  ADD COLUMN outcome text NOT NULL DEFAULT 'require_approval',
  -- A JSON array of group names, as the broker wrote it; [] = any reviewer.
  ADD COLUMN reviewer_groups text NOT NULL DEFAULT '[]',
  ADD COLUMN approvals_required integer NOT NULL DEFAULT 1,
  ADD COLUMN deny_ends boolean NOT NULL DEFAULT true,
  ADD COLUMN execution_window_us bigint NOT NULL DEFAULT 3600000000,
  ADD CONSTRAINT approvals_outcome_check
    CHECK (outcome IN ('require_approval', 'auto_approve', 'deny')),
  ADD CONSTRAINT approvals_approvals_required_check
    CHECK (approvals_required >= 1),
  ADD CONSTRAINT approvals_execution_window_check
    CHECK (execution_window_us > 0);

-- Parameters were stored in clear before this migration. Only the masked
-- preview may be kept, and SQL cannot mask (the fingerprint key is the
-- broker's): earlier rows lose their parameters. Their action_digest still
-- binds what was approved.
ALTER TABLE approvals RENAME COLUMN parameters TO parameters_preview;
UPDATE approvals
  SET parameters_preview = '{"removed":"recorded before masked previews (migration 0003)"}'
  WHERE parameters_preview <> '{}';

-- One review per person and approval. audit_seq is the review's own audit
-- event, which also orders the reviews.
CREATE TABLE reviews (
  approval_id uuid NOT NULL REFERENCES approvals (id),
  reviewer text NOT NULL,
  verdict text NOT NULL,
  comment text NOT NULL,
  reviewed_at timestamptz NOT NULL,
  audit_seq bigint NOT NULL UNIQUE REFERENCES audit_events (seq),
  PRIMARY KEY (approval_id, reviewer),
  CONSTRAINT reviews_verdict_check CHECK (verdict IN ('approve', 'deny'))
);

-- Reviews are history, like the audit log: never updated or deleted.
CREATE FUNCTION reviews_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'reviews is append-only: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER reviews_no_update_delete
  BEFORE UPDATE OR DELETE ON reviews
  FOR EACH ROW EXECUTE FUNCTION reviews_append_only();
CREATE TRIGGER reviews_no_truncate
  BEFORE TRUNCATE ON reviews
  FOR EACH STATEMENT EXECUTE FUNCTION reviews_append_only();
ALTER TABLE reviews ENABLE ALWAYS TRIGGER reviews_no_update_delete;
ALTER TABLE reviews ENABLE ALWAYS TRIGGER reviews_no_truncate;

ALTER TABLE audit_events DROP CONSTRAINT audit_events_type_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_type_check
  CHECK (type IN ('created', 'reviewed', 'approved', 'denied', 'expired',
    'cancelled', 'decision_refused'));
-- Audit export filters by actor and time.
CREATE INDEX audit_events_actor_idx ON audit_events (actor, seq);
CREATE INDEX audit_events_occurred_idx ON audit_events (occurred_at, seq);

GRANT SELECT, INSERT ON reviews TO approval_broker_app;
