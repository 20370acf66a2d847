-- How an operator sets up PostgreSQL roles for the Approval Broker.
--
-- Run once as a superuser, with the two passwords as psql variables:
--
--   psql "postgresql://postgres@db.example.org/postgres?sslmode=verify-full" \
--     -v owner_password="$OWNER_PASSWORD" -v app_password="$APP_PASSWORD" \
--     -f deploy/postgres-roles.sql
--
-- Then, as the owner, create the schema (and again after every upgrade):
--
--   approval-broker migrate --database-url \
--     "postgresql://approval_broker_owner:$OWNER_PASSWORD@db.example.org/approval_broker?sslmode=verify-full"
--
-- and serve as the login role approval_broker, e.g. with
-- APPROVAL_BROKER_DATABASE_URL="postgresql://approval_broker:$APP_PASSWORD@db.example.org/approval_broker?sslmode=verify-full"
-- in the service's environment file (see deploy/approval-broker.service).
--
-- Three roles:
--   approval_broker_owner  LOGIN; owns the database and its tables; used only
--                          by `approval-broker migrate`.
--   approval_broker_app    NOLOGIN group; the migrations grant it what the
--                          broker needs: read/write approvals, append-only
--                          (SELECT, INSERT) on audit_events.
--   approval_broker        LOGIN; member of approval_broker_app; what the
--                          broker serves as. It owns nothing, so it cannot
--                          drop the triggers that keep audit_events
--                          append-only.
--
-- Production authenticates with scram-sha-256 over TLS only, e.g. in
-- pg_hba.conf:
--   hostssl approval_broker approval_broker_owner,approval_broker 10.0.0.0/8 scram-sha-256
-- (The dev/test cluster of scripts/pg.sh trusts 127.0.0.1 instead: it is
-- private to one machine and holds nothing of value.)

\set ON_ERROR_STOP on
SET password_encryption = 'scram-sha-256';

CREATE ROLE approval_broker_owner LOGIN PASSWORD :'owner_password';
CREATE DATABASE approval_broker OWNER approval_broker_owner;

-- The first migration creates this role when it is missing, which would need
-- CREATEROLE; creating it here lets the owner migrate without it.
CREATE ROLE approval_broker_app NOLOGIN;

CREATE ROLE approval_broker LOGIN PASSWORD :'app_password'
  IN ROLE approval_broker_app;

-- Only the broker's roles may connect.
REVOKE CONNECT, TEMPORARY ON DATABASE approval_broker FROM PUBLIC;
GRANT CONNECT ON DATABASE approval_broker TO approval_broker_owner;
GRANT CONNECT ON DATABASE approval_broker TO approval_broker_app;
