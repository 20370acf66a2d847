-- approval-chat's own state, in its own schema (approval_chat) and role
-- (approval_chat_app); it never touches the broker's tables.
-- Roles are cluster-wide: losing a race to create it (another database of
-- the cluster migrated at the same time) is fine.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'approval_chat_app') THEN
    CREATE ROLE approval_chat_app NOLOGIN;
  END IF;
EXCEPTION
  WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

-- Where the broker stream was last applied up to (DecisionEvent.cursor):
-- a restart resumes after it. One row per stream ('broker').
CREATE TABLE approval_chat.stream_cursors (
  stream text PRIMARY KEY,
  cursor bigint NOT NULL CHECK (cursor >= 0),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- The message posted for an approval on a platform ('slack'; 'teams'
-- next): its channel and message reference (Slack: ts), and the cursor of
-- the last event applied to it.
CREATE TABLE approval_chat.messages (
  platform text NOT NULL,
  approval_id text NOT NULL,
  channel text NOT NULL,
  message_ref text NOT NULL,
  last_cursor bigint NOT NULL CHECK (last_cursor >= 0),
  last_state text NOT NULL,
  posted_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (platform, approval_id)
);

GRANT USAGE ON SCHEMA approval_chat TO approval_chat_app;
GRANT SELECT, INSERT, UPDATE ON approval_chat.stream_cursors,
  approval_chat.messages TO approval_chat_app;
-- approval-chat checks the schema version at start-up.
GRANT SELECT ON approval_chat.schema_migrations TO approval_chat_app;
