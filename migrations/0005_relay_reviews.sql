-- 0005_relay_reviews: reviews made through a relay (a chat bot deciding as
-- a linked human).
--
-- The reviewer stays the human's canonical principal; these columns record
-- which relay carried the click and the human's platform identity
-- (e.g. "slack:T0123/U0456"). Both are '' for a direct review, as every
-- review before this migration was.

ALTER TABLE reviews
  ADD COLUMN relay text NOT NULL DEFAULT '',
  ADD COLUMN platform_user text NOT NULL DEFAULT '',
  ADD CONSTRAINT reviews_relay_check
    CHECK ((relay = '') = (platform_user = ''));
