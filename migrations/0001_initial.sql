-- 0001_initial: approvals, the append-only audit log and its chain head.
--
-- Run by `approval-broker migrate` as the database owner (or a superuser), in
-- one transaction. The broker itself runs as a LOGIN role that operators
-- create IN ROLE approval_broker_app; that role may read and write approvals
-- but may only append to the audit log.

-- Roles are cluster-wide: several databases of one cluster may be migrated at
-- the same time, so losing the race to create the role is fine.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'approval_broker_app') THEN
    CREATE ROLE approval_broker_app NOLOGIN;
  END IF;
EXCEPTION
  WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

CREATE TABLE approvals (
  id uuid PRIMARY KEY,
  action text NOT NULL,
  resource text NOT NULL,
  -- Canonical JSON text, byte for byte as the broker computed it: the action
  -- digest covers these bytes, so jsonb (which reorders keys) would not do.
  parameters text NOT NULL,
  justification text NOT NULL,
  requester text NOT NULL,
  idempotency_key text NOT NULL DEFAULT '',
  action_digest text NOT NULL,
  request_fingerprint text NOT NULL,
  state text NOT NULL DEFAULT 'pending',
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  decided_at timestamptz,
  decided_by text NOT NULL DEFAULT '',
  decision_comment text NOT NULL DEFAULT '',
  CONSTRAINT approvals_state_check
    CHECK (state IN ('pending', 'approved', 'denied', 'expired', 'cancelled')),
  CONSTRAINT approvals_decided_at_check
    CHECK ((state = 'pending') = (decided_at IS NULL)),
  CONSTRAINT approvals_expiry_check CHECK (expires_at > created_at)
);

-- Idempotent creates: one approval per (requester, key) when a key is given.
CREATE UNIQUE INDEX approvals_idempotency_idx
  ON approvals (requester, idempotency_key)
  WHERE idempotency_key <> '';
-- List: newest first, keyset-paginated on (created_at, id).
CREATE INDEX approvals_created_idx ON approvals (created_at DESC, id DESC);
CREATE INDEX approvals_state_created_idx
  ON approvals (state, created_at DESC, id DESC);
CREATE INDEX approvals_requester_created_idx
  ON approvals (requester, created_at DESC, id DESC);
-- The expiry sweep only ever looks at pending approvals.
CREATE INDEX approvals_expiry_idx ON approvals (expires_at)
  WHERE state = 'pending';

-- One row per event; hash(n) = SHA-256(hash(n-1) || canonical bytes of n).
-- details holds the canonical JSON exactly as it was hashed.
CREATE TABLE audit_events (
  seq bigint PRIMARY KEY,
  approval_id uuid NOT NULL REFERENCES approvals (id),
  type text NOT NULL,
  actor text NOT NULL,
  occurred_at timestamptz NOT NULL,
  details text NOT NULL,
  prev_hash bytea NOT NULL,
  hash bytea NOT NULL,
  CONSTRAINT audit_events_seq_check CHECK (seq > 0),
  CONSTRAINT audit_events_type_check CHECK (type IN ('created', 'approved',
    'denied', 'expired', 'cancelled', 'decision_refused')),
  CONSTRAINT audit_events_prev_hash_check CHECK (octet_length(prev_hash) = 32),
  CONSTRAINT audit_events_hash_check CHECK (octet_length(hash) = 32)
);
CREATE INDEX audit_events_approval_idx ON audit_events (approval_id, seq);

-- Append-only, enforced by the database itself and not only by grants: even
-- the table owner has to drop or disable these triggers to rewrite history,
-- which the hash chain then exposes.
CREATE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_events_no_update_delete
  BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate
  BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
-- ALWAYS: fire under session_replication_role = replica too.
ALTER TABLE audit_events ENABLE ALWAYS TRIGGER audit_events_no_update_delete;
ALTER TABLE audit_events ENABLE ALWAYS TRIGGER audit_events_no_truncate;

-- The end of the chain. Writers lock this single row (FOR UPDATE) until they
-- commit, which makes seq order the commit order, without gaps.
CREATE TABLE audit_chain_head (
  singleton boolean PRIMARY KEY DEFAULT true,
  last_seq bigint NOT NULL,
  last_hash bytea NOT NULL,
  CONSTRAINT audit_chain_head_singleton_check CHECK (singleton),
  CONSTRAINT audit_chain_head_hash_check CHECK (octet_length(last_hash) = 32)
);
INSERT INTO audit_chain_head (singleton, last_seq, last_hash)
  VALUES (true, 0, decode(repeat('00', 32), 'hex'));

GRANT SELECT, INSERT, UPDATE ON approvals TO approval_broker_app;
GRANT SELECT, INSERT ON audit_events TO approval_broker_app;
GRANT SELECT, UPDATE ON audit_chain_head TO approval_broker_app;
-- schema_migrations is created by the migrator before this file runs.
GRANT SELECT ON schema_migrations TO approval_broker_app;
