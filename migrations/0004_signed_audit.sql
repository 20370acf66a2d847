-- 0004_signed_audit: every audit event sealed with the broker's key.
--
-- The plain hash chain only shows changes by someone who did not recompute
-- it, and anyone holding the database credentials can. From now on the
-- broker signs each event (Ed25519 over its hash, with signing_key_file,
-- which the database never sees), so events inserted, changed or removed
-- through SQL no longer verify. Events written before this migration stay
-- unsigned; the first signed event after them covers them through its hash.

ALTER TABLE audit_events
  ADD COLUMN key_id text NOT NULL DEFAULT '',
  ADD COLUMN signature bytea,
  ADD CONSTRAINT audit_events_signature_check
    CHECK (signature IS NULL OR octet_length(signature) = 64);

-- New events must be signed. NOT VALID: the constraint holds for every row
-- written from now on, while the unsigned rows from before stay as they were.
-- Only the owner can drop it; the broker's role cannot.
ALTER TABLE audit_events
  ADD CONSTRAINT audit_events_signed_check
    CHECK (signature IS NOT NULL AND key_id <> '') NOT VALID;
