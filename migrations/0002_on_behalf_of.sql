-- 0002_on_behalf_of: the human an agent requested an approval for.
--
-- An agent may act on behalf of a person (an OIDC token's RFC 8693 `act`
-- claim, or the broker's on_behalf_of configuration). The approval records
-- that person's canonical principal next to the requester, because they may
-- not decide it either. '' means the requester acted for nobody, which is
-- what every approval made before this migration did.
ALTER TABLE approvals
  ADD COLUMN on_behalf_of text NOT NULL DEFAULT '';

-- The table-level grants of 0001 cover the new column.
