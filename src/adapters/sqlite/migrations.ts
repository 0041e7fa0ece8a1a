/**
 * @module
 * Versioned schema migrations. Each entry moves the schema from version i to i+1; the version
 * lives in SQLite's `user_version`. Append only: never edit a migration that has shipped.
 */

export const MIGRATIONS: readonly string[] = [
  // 1: services, their revisions and operations, the installation's metadata, access keys.
  `
  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) STRICT;

  CREATE TABLE services (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    status      TEXT NOT NULL,
    deleted_at  INTEGER,
    body        TEXT NOT NULL
  ) STRICT;
  -- A name is unique among services not yet deleted (App Runner's rule).
  CREATE UNIQUE INDEX services_live_name ON services(name) WHERE status <> 'DELETED';

  CREATE TABLE revisions (
    id          TEXT PRIMARY KEY,
    service_id  TEXT NOT NULL REFERENCES services(id),
    number      INTEGER NOT NULL,
    body        TEXT NOT NULL,
    UNIQUE (service_id, number)
  ) STRICT;

  CREATE TABLE operations (
    id          TEXT PRIMARY KEY,
    service_id  TEXT NOT NULL REFERENCES services(id),
    status      TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    body        TEXT NOT NULL
  ) STRICT;
  CREATE INDEX operations_by_service ON operations(service_id, started_at);

  CREATE TABLE access_keys (
    access_key_id TEXT PRIMARY KEY,
    body          TEXT NOT NULL
  ) STRICT;
  `,
];
