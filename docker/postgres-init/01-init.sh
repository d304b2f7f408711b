#!/usr/bin/env bash
# First-start initialisation of the compose `postgres` service (postgres:16 image).
#
# The official image runs the files in /docker-entrypoint-initdb.d ONCE, when the data volume
# is empty, against a temporary server that listens on the Unix socket only. Changing this
# file (or a password in .env) has no effect on an existing volume: change roles by hand, or
# recreate the volume (`docker compose down -v` deletes ALL data).
#
# Creates
#   roles      ECOM_PG_USER (pipeline: ingestion + dbt), DAGSTER_PG_USERNAME (Dagster instance
#              storage), SUPERSET_DB_USER (Superset metadata), bi_reader (Superset's read-only
#              login to the warehouse)
#   databases  warehouse (owner: pipeline role), dagster, superset (owned by their roles)
#   schemas    raw, staging, intermediate, marts, quarantine, ops in `warehouse`, owned by the
#              pipeline role
#   grants     bi_reader: CONNECT on warehouse (no other database, no temporary tables), USAGE +
#              SELECT on schema marts only, including tables and views the pipeline role creates
#              there later (default privileges); read-only transactions, a statement timeout
#
# Passwords come from the container environment (docker-compose.yml, from .env): psql reads them
# itself (\getenv), so they are never on a command line, and quotes them (:'var'), so they are
# never spliced in by the shell.

# A subshell: the image *sources* init scripts that lost their executable bit, and these
# shell options must not leak into its entrypoint.
(
set -euo pipefail

: "${ECOM_PG_PASSWORD:?ECOM_PG_PASSWORD must be set}"
: "${DAGSTER_PG_PASSWORD:?DAGSTER_PG_PASSWORD must be set}"
: "${SUPERSET_DB_PASSWORD:?SUPERSET_DB_PASSWORD must be set}"
: "${BI_READER_PASSWORD:?BI_READER_PASSWORD must be set}"

admin_user="${POSTGRES_USER:-postgres}"
admin_db="${POSTGRES_DB:-$admin_user}"

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$admin_user" --dbname "$admin_db" \
    -v pipeline_user="${ECOM_PG_USER:-ecom}" \
    -v dagster_user="${DAGSTER_PG_USERNAME:-dagster}" \
    -v superset_user="${SUPERSET_DB_USER:-superset}" \
    -v bi_reader_statement_timeout="${BI_READER_STATEMENT_TIMEOUT:-60s}" \
    <<'EOSQL'
\getenv pipeline_password ECOM_PG_PASSWORD
\getenv dagster_password DAGSTER_PG_PASSWORD
\getenv superset_password SUPERSET_DB_PASSWORD
\getenv bi_reader_password BI_READER_PASSWORD

-- Roles --------------------------------------------------------------------------------
CREATE ROLE :"pipeline_user" LOGIN PASSWORD :'pipeline_password';
CREATE ROLE :"dagster_user" LOGIN PASSWORD :'dagster_password';
CREATE ROLE :"superset_user" LOGIN PASSWORD :'superset_password';
CREATE ROLE bi_reader LOGIN PASSWORD :'bi_reader_password'
    NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOINHERIT;
-- Defence in depth: even a mistaken grant cannot let Superset write.
ALTER ROLE bi_reader SET default_transaction_read_only = on;
-- No Superset query runs longer than this.
ALTER ROLE bi_reader SET statement_timeout = :'bi_reader_statement_timeout';

-- Databases ----------------------------------------------------------------------------
CREATE DATABASE warehouse OWNER :"pipeline_user";
CREATE DATABASE dagster OWNER :"dagster_user";
CREATE DATABASE superset OWNER :"superset_user";

-- No role connects to a database it has no business in (owners and superusers still can).
REVOKE ALL ON DATABASE warehouse FROM PUBLIC;
REVOKE ALL ON DATABASE dagster FROM PUBLIC;
REVOKE ALL ON DATABASE superset FROM PUBLIC;
REVOKE CONNECT, TEMPORARY ON DATABASE postgres FROM PUBLIC;
REVOKE CONNECT, TEMPORARY ON DATABASE template1 FROM PUBLIC;
-- bi_reader: CONNECT only, so no temporary tables either.
GRANT CONNECT ON DATABASE warehouse TO bi_reader;

-- Warehouse schemas ----------------------------------------------------------------------
\connect warehouse
REVOKE ALL ON SCHEMA public FROM PUBLIC;

CREATE SCHEMA raw AUTHORIZATION :"pipeline_user";
CREATE SCHEMA staging AUTHORIZATION :"pipeline_user";
CREATE SCHEMA intermediate AUTHORIZATION :"pipeline_user";
CREATE SCHEMA marts AUTHORIZATION :"pipeline_user";
CREATE SCHEMA quarantine AUTHORIZATION :"pipeline_user";
CREATE SCHEMA ops AUTHORIZATION :"pipeline_user";

-- bi_reader: marts only, read only.
GRANT USAGE ON SCHEMA marts TO bi_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA marts TO bi_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE :"pipeline_user" IN SCHEMA marts
    GRANT SELECT ON TABLES TO bi_reader;
EOSQL

echo "01-init.sh: roles, databases (warehouse, dagster, superset) and warehouse schemas created"
)
