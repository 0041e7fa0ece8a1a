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
  // 2: the other App Runner resources (generic records, data as JSON), tags for every
  // resource by ARN (services' tags move out of their body), and each service's auto scaling
  // configuration (App Runner's provided default for the services that existed).
  `
  CREATE TABLE resources (
    kind        TEXT NOT NULL,
    key         TEXT NOT NULL,
    name        TEXT NOT NULL,
    live        INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (kind, key)
  ) STRICT;
  CREATE INDEX resources_by_name ON resources(kind, name);

  CREATE TABLE tags (
    arn   TEXT PRIMARY KEY,
    body  TEXT NOT NULL
  ) STRICT;

  INSERT INTO tags (arn, body)
    SELECT json_extract(body, '$.arn'), json_extract(body, '$.tags') FROM services
    WHERE json_array_length(json_extract(body, '$.tags')) > 0;
  UPDATE services SET body = json_set(json_remove(body, '$.tags'), '$.autoScalingConfigurationArn',
    substr(json_extract(body, '$.arn'), 1, instr(json_extract(body, '$.arn'), ':service/'))
      || 'autoscalingconfiguration/DefaultConfiguration/1/00000000000000000000000000000001');
  -- Revisions keep the configuration they were made from, so a rollback can restore it.
  UPDATE revisions SET body = json_set(body,
    '$.config', (SELECT json_extract(s.body, '$.config') FROM services s WHERE s.id = revisions.service_id),
    '$.autoScaling', json_object(
      'arn', (SELECT json_extract(s.body, '$.autoScalingConfigurationArn') FROM services s WHERE s.id = revisions.service_id),
      'minSize', 1, 'maxConcurrency', 100, 'maxSize', 25));
  -- A running service serves the revision it runs.
  UPDATE services SET body = json_set(body, '$.servingRevisionId', json_extract(body, '$.revisionId')) WHERE status = 'RUNNING';
  `,
  // 3: access control. Users (names unique without regard to case, as in IAM), their inline
  // policies, and session credentials. Access keys gain their user: the rows already there
  // hold the administrator's key in plaintext and keep user_id NULL until the control plane,
  // which alone has the master key, seals them and gives them their user at start.
  `
  CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL COLLATE NOCASE UNIQUE,
    created_at  INTEGER NOT NULL,
    body        TEXT NOT NULL
  ) STRICT;

  CREATE TABLE user_policies (
    user_id  TEXT NOT NULL REFERENCES users(id),
    name     TEXT NOT NULL COLLATE NOCASE,
    body     TEXT NOT NULL,
    PRIMARY KEY (user_id, name)
  ) STRICT;

  ALTER TABLE access_keys ADD COLUMN user_id TEXT REFERENCES users(id);
  CREATE INDEX access_keys_by_user ON access_keys(user_id);

  CREATE TABLE sessions (
    access_key_id         TEXT PRIMARY KEY,
    parent_access_key_id  TEXT NOT NULL REFERENCES access_keys(access_key_id),
    expires_at            INTEGER NOT NULL,
    body                  TEXT NOT NULL
  ) STRICT;
  CREATE INDEX sessions_by_parent ON sessions(parent_access_key_id);
  `,
  // 4: builds of source-code revisions, each attempt with its commit, result and output.
  `
  CREATE TABLE builds (
    id            TEXT PRIMARY KEY,
    service_id    TEXT NOT NULL REFERENCES services(id),
    revision_id   TEXT NOT NULL REFERENCES revisions(id),
    operation_id  TEXT,
    started_at    INTEGER NOT NULL,
    body          TEXT NOT NULL
  ) STRICT;
  CREATE INDEX builds_by_revision ON builds(revision_id, started_at);
  CREATE INDEX builds_by_operation ON builds(operation_id);
  `,
  // 5: each service's event log (core/service-events.ts). `seq` is the rowid, the cursor
  // ListServiceEvents pages by: a new row takes one above the highest, and trimming never removes
  // a service's newest event, so within a log it only grows (no AUTOINCREMENT needed). A deleted
  // service keeps its log (it explains the deletion); the log goes with the service's row if
  // that is ever purged.
  `
  CREATE TABLE service_events (
    seq         INTEGER PRIMARY KEY,
    service_id  TEXT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    at          INTEGER NOT NULL,
    body        TEXT NOT NULL
  ) STRICT;
  CREATE INDEX service_events_by_service ON service_events(service_id, seq);
  `,
];
