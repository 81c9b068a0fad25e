#!/bin/sh
# PostgreSQL's first start (docker-entrypoint-initdb.d, docker-compose.yml): a login role for
# optuna-dashboard that can read the study tables and nothing else. The tables do not exist
# yet (the first worker creates them), so SELECT is granted on every table the owner creates.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v ro_role="$DASHBOARD_DB_USER" -v ro_password="$DASHBOARD_DB_PASSWORD" \
    -v owner="$POSTGRES_USER" -v db="$POSTGRES_DB" <<'SQL'
CREATE ROLE :"ro_role" LOGIN PASSWORD :'ro_password';
GRANT CONNECT ON DATABASE :"db" TO :"ro_role";
GRANT USAGE ON SCHEMA public TO :"ro_role";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"ro_role";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT SELECT ON TABLES TO :"ro_role";
SQL
