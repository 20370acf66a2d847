-- Closes the double-post window on Slack: before chat.postMessage,
-- approval-chat commits here that it is about to post an approval (where and
-- when). A restart that finds an intent but no recorded message looks the
-- message up in the channel's history (by its metadata) before posting again.
-- Rows are only ever added: the first intent's time bounds the look-up.
CREATE TABLE approval_chat.post_intents (
  platform text NOT NULL,
  approval_id text NOT NULL,
  channel text NOT NULL,
  intended_at timestamptz NOT NULL,
  PRIMARY KEY (platform, approval_id)
);

GRANT SELECT, INSERT ON approval_chat.post_intents TO approval_chat_app;
