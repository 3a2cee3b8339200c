#!/usr/bin/env bash
# Rebuilds the fixture databases the tests copy into their temporary folders. Run from the repository root:
#   bash Fixtures/make-fixtures.sh /tmp/schema.sql
# where the argument holds SQLiteSchema.create (schema version 1). The files are committed; this script
# documents how they were made.
set -euo pipefail
schema=${1:?path to the schema SQL}
cd "$(dirname "$0")"
rm -f sample-v1.sqlite future-schema.sqlite truncated.sqlite not-a-database.sqlite foreign.sqlite

# A database as a user would have it: three circuits and their history, written by schema version 1.
sqlite3 sample-v1.sqlite <<SQL
PRAGMA journal_mode = WAL;
$(cat "$schema")
PRAGMA application_id = 1130984035;
PRAGMA user_version = 1;
INSERT INTO circuits (name, state, generation, requests, successes, failures, consecutive_successes,
                      consecutive_failures, expires_at, probes, override, override_until, override_reason,
                      open_attempts, window, updated_at) VALUES
  ('send-email/acme',   'closed', 3, 120, 118, 2, 40, 0, NULL, '', NULL, NULL, NULL, 0, '', 1795000000000),
  ('send-email/globex', 'open',   8, 0, 0, 0, 0, 0, 1795000060000, '', NULL, NULL, NULL, 2, '', 1795000000000),
  ('billing/initech',   'open',   2, 0, 0, 0, 0, 0, 1795003600000, '', 'forced-open', 1795003600000, 'maintenance', 1, '', 1795000000000);
INSERT INTO transitions (circuit, at, from_state, to_state, generation, reason, actor) VALUES
  ('send-email/globex', 1794999000000, 'closed', 'open', 7, '5 consecutive failures', 'pid 101 on worker-1'),
  ('send-email/globex', 1794999060000, 'open', 'half-open', 8, 'open period ended', 'pid 102 on worker-1'),
  ('send-email/globex', 1795000000000, 'half-open', 'open', 8, 'probe failed', 'pid 102 on worker-1'),
  ('billing/initech',   1795000000000, 'closed', 'open', 2, 'forced open: maintenance', 'pid 7 on ops');
PRAGMA wal_checkpoint(TRUNCATE);
SQL

# The same database as a newer Circuitry would leave it: schema version 99.
cp sample-v1.sqlite future-schema.sqlite
sqlite3 future-schema.sqlite 'PRAGMA user_version = 99; PRAGMA wal_checkpoint(TRUNCATE);'

# A copy cut short after its first two pages.
head -c 8192 sample-v1.sqlite > truncated.sqlite

# Not a database at all.
printf 'These are somebody'"'"'s notes, not a database.\n%.0s' $(seq 1 200) > not-a-database.sqlite

# Another application's database: Circuitry must leave it alone.
sqlite3 foreign.sqlite "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices VALUES (1, 9.5);"
rm -f ./*-wal ./*-shm
ls -l
