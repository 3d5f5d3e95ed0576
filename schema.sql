-- Switchboard database schema. Idempotent: applied at every start, by PGlite
-- (embedded default) and by PostgreSQL (DATABASE_URL) alike.

CREATE TABLE IF NOT EXISTS rooms (
  name        text PRIMARY KEY,
  type        text NOT NULL DEFAULT 'group',
  metadata    jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- A call is one session of a room: pending until a second participant joins,
-- active while people talk, ended when the last one leaves or a host ends it.
CREATE TABLE IF NOT EXISTS calls (
  id          uuid PRIMARY KEY,
  room        text NOT NULL REFERENCES rooms(name) ON DELETE CASCADE,
  node_id     text,
  status      text NOT NULL CHECK (status IN ('pending', 'active', 'ended')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  started_at  timestamptz,
  ended_at    timestamptz,
  end_reason  text,
  recording   boolean NOT NULL DEFAULT false,
  metadata    jsonb NOT NULL DEFAULT '{}'
);
-- At most one open call per room: two nodes racing to open one cannot both win.
CREATE UNIQUE INDEX IF NOT EXISTS calls_one_open_per_room ON calls (room) WHERE status <> 'ended';
CREATE INDEX IF NOT EXISTS calls_room_created ON calls (room, created_at DESC);

CREATE TABLE IF NOT EXISTS participants (
  id            text PRIMARY KEY,            -- the participant_id of the protocol
  call_id       uuid NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
  user_id       text NOT NULL,
  display_name  text NOT NULL DEFAULT '',
  role          text NOT NULL CHECK (role IN ('host', 'moderator', 'speaker', 'viewer')),
  joined_at     timestamptz NOT NULL,
  left_at       timestamptz,
  leave_reason  text,
  client_ip     text,
  metadata      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS participants_call ON participants (call_id);
CREATE INDEX IF NOT EXISTS participants_open ON participants (call_id) WHERE left_at IS NULL;
