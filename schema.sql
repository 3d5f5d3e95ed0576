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

-- ---- Room control: settings, per-user room state, raised hands, whiteboard ----
ALTER TABLE rooms ADD COLUMN IF NOT EXISTS max_participants integer;
ALTER TABLE rooms ADD COLUMN IF NOT EXISTS empty_timeout integer;
ALTER TABLE rooms ADD COLUMN IF NOT EXISTS lobby boolean NOT NULL DEFAULT false;
ALTER TABLE rooms ADD COLUMN IF NOT EXISTS recording_allowed boolean NOT NULL DEFAULT true;
ALTER TABLE rooms ADD COLUMN IF NOT EXISTS locked boolean NOT NULL DEFAULT false;
ALTER TABLE rooms ADD COLUMN IF NOT EXISTS deleted_at timestamptz;

-- What the room remembers about a user beyond one connection: a role given by
-- a host (overrides the token's on rejoin) and a kick ban.
CREATE TABLE IF NOT EXISTS room_users (
  room          text NOT NULL REFERENCES rooms(name) ON DELETE CASCADE,
  user_id       text NOT NULL,
  role          text CHECK (role IN ('host', 'moderator', 'speaker', 'viewer')),
  banned_until  timestamptz,
  PRIMARY KEY (room, user_id)
);

-- Raise-hand queue: FIFO by seq, one entry per user (a reconnect keeps its place).
CREATE TABLE IF NOT EXISTS room_hands (
  room            text NOT NULL REFERENCES rooms(name) ON DELETE CASCADE,
  user_id         text NOT NULL,
  display_name    text NOT NULL DEFAULT '',
  raised_at       timestamptz NOT NULL DEFAULT now(),
  seq             bigserial,
  PRIMARY KEY (room, user_id)
);

CREATE TABLE IF NOT EXISTS whiteboard_strokes (
  seq             bigserial PRIMARY KEY,
  room            text NOT NULL REFERENCES rooms(name) ON DELETE CASCADE,
  participant_id  text NOT NULL,
  user_id         text NOT NULL,
  stroke          jsonb NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS whiteboard_strokes_room ON whiteboard_strokes (room, seq);

-- ---- In-call chat: the messages of a room's call (docs/protocol.md, "In-call chat").
-- A new call starts an empty chat; rows stay after the call ends (REST reads them).
-- Deleted messages keep their row (deleted_at, deleted_by) and leave every read.
CREATE TABLE IF NOT EXISTS room_chat_messages (
  id              bigserial PRIMARY KEY,
  room            text NOT NULL REFERENCES rooms(name) ON DELETE CASCADE,
  call_id         uuid NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
  participant_id  text NOT NULL,
  user_id         text NOT NULL,
  display_name    text NOT NULL DEFAULT '',
  text            text NOT NULL,
  reply_to        bigint,
  sent_at         timestamptz NOT NULL DEFAULT now(),
  deleted_at      timestamptz,
  deleted_by      text
);
CREATE INDEX IF NOT EXISTS room_chat_messages_call ON room_chat_messages (call_id, id) WHERE deleted_at IS NULL;

-- ---- Webhooks: the outbox. One row per event and receiver URL;
-- delivered in id order per (url, room), claimed with a lease so several
-- nodes sharing this database never deliver the same row at once.
CREATE TABLE IF NOT EXISTS webhook_outbox (
  id               bigserial PRIMARY KEY,
  event_id         uuid NOT NULL,
  url              text NOT NULL,
  room             text NOT NULL,
  event            text NOT NULL,
  body             text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  locked_until     timestamptz,
  locked_by        text,
  delivered_at     timestamptz,
  failed_at        timestamptz,
  last_error       text
);
CREATE INDEX IF NOT EXISTS webhook_outbox_pending ON webhook_outbox (url, room, id) WHERE delivered_at IS NULL AND failed_at IS NULL;

-- ---- Recording: one row per recording of a room's call, one per
-- file it produced (a participant's segment, or a composite segment).
-- status: recording -> processing (ffmpeg finalized, probing/uploading) -> ready,
-- or failed (ffmpeg crashed, storage error: `error` says why; files written so far stay).
CREATE TABLE IF NOT EXISTS recordings (
  id              uuid PRIMARY KEY,
  room            text NOT NULL,
  call_id         uuid,
  node_id         text,
  mode            text NOT NULL CHECK (mode IN ('tracks', 'composite')),
  status          text NOT NULL CHECK (status IN ('recording', 'processing', 'ready', 'failed')),
  started_by      text,                        -- user id, 'api' or 'auto'
  started_at      timestamptz NOT NULL DEFAULT now(),
  ended_at        timestamptz,
  end_reason      text,
  error           text,
  storage         text NOT NULL CHECK (storage IN ('local', 's3')),
  location        text NOT NULL,               -- directory or s3://bucket/prefix of its files
  size_bytes      bigint NOT NULL DEFAULT 0,
  duration_seconds double precision,
  -- Who may fetch it besides the API key: user ids (empty = the backend only), and whether room staff may.
  access          jsonb NOT NULL DEFAULT '{"users": [], "room_staff": true}',
  retention_days  integer,                     -- null: kept until deleted
  expires_at      timestamptz,
  metadata        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS recordings_room ON recordings (room, started_at DESC);
CREATE INDEX IF NOT EXISTS recordings_expiry ON recordings (expires_at) WHERE expires_at IS NOT NULL;
-- At most one recording in progress per room.
CREATE UNIQUE INDEX IF NOT EXISTS recordings_one_active_per_room ON recordings (room) WHERE status = 'recording';

CREATE TABLE IF NOT EXISTS recording_files (
  id              uuid PRIMARY KEY,
  recording_id    uuid NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
  kind            text NOT NULL CHECK (kind IN ('participant', 'composite')),
  participant_id  text,
  user_id         text,
  seq             integer NOT NULL DEFAULT 0,  -- segment number within the participant (or composite)
  status          text NOT NULL CHECK (status IN ('recording', 'processing', 'ready', 'failed')),
  key             text NOT NULL,               -- path relative to the recording's location
  content_type    text NOT NULL,
  tracks          jsonb NOT NULL DEFAULT '[]', -- [{kind, source, codec, producer_id}]
  size_bytes      bigint NOT NULL DEFAULT 0,
  duration_seconds double precision,
  probe           jsonb,                        -- ffprobe summary: streams with codec, frames, duration
  started_at      timestamptz NOT NULL DEFAULT now(),
  ended_at        timestamptz,
  error           text
);
CREATE INDEX IF NOT EXISTS recording_files_recording ON recording_files (recording_id, started_at);
-- ---- Live streaming: HLS streams of a room, their chat ----
-- One row per go-live. preparing (ffmpeg started, no segment yet) -> live
-- (first segment written) -> ended (stopped, room closed) or failed (ffmpeg
-- died). Viewer counts are written while live and once more at the end.
CREATE TABLE IF NOT EXISTS live_streams (
  id                 uuid PRIMARY KEY,
  room               text NOT NULL REFERENCES rooms(name) ON DELETE CASCADE,
  call_id            uuid REFERENCES calls(id) ON DELETE SET NULL,
  node_id            text,
  status             text NOT NULL CHECK (status IN ('preparing', 'live', 'ended', 'failed')),
  layout             text NOT NULL,
  participant_id     text,
  started_by         text,
  created_at         timestamptz NOT NULL DEFAULT now(),
  live_at            timestamptz,
  ended_at           timestamptz,
  end_reason         text,
  error              text,
  viewers_current    integer NOT NULL DEFAULT 0,
  viewers_peak       integer NOT NULL DEFAULT 0,
  viewers_total      integer NOT NULL DEFAULT 0,
  reactions          jsonb NOT NULL DEFAULT '{}',
  pinned_message_id  bigint
);
-- At most one stream per room that is not over: two starts cannot both win.
CREATE UNIQUE INDEX IF NOT EXISTS live_streams_one_open_per_room ON live_streams (room) WHERE status IN ('preparing', 'live');
CREATE INDEX IF NOT EXISTS live_streams_room_created ON live_streams (room, created_at DESC);

CREATE TABLE IF NOT EXISTS live_chat_messages (
  id            bigserial PRIMARY KEY,
  stream_id     uuid NOT NULL REFERENCES live_streams(id) ON DELETE CASCADE,
  user_id       text NOT NULL,
  display_name  text NOT NULL DEFAULT '',
  text          text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  deleted_at    timestamptz,
  deleted_by    text
);
CREATE INDEX IF NOT EXISTS live_chat_messages_stream ON live_chat_messages (stream_id, id);

-- ---- Calls: ringing users (docs/calls.md) ----
-- A call-invite opens its room's call in `ringing`; the first accept makes it
-- active. Who was rung, and what each invitee did, is one row per invitee.
ALTER TABLE calls DROP CONSTRAINT IF EXISTS calls_status_check;
ALTER TABLE calls ADD CONSTRAINT calls_status_check CHECK (status IN ('pending', 'ringing', 'active', 'ended'));
ALTER TABLE calls ADD COLUMN IF NOT EXISTS call_type text CHECK (call_type IN ('direct', 'group'));
ALTER TABLE calls ADD COLUMN IF NOT EXISTS initiator_id text;
ALTER TABLE calls ADD COLUMN IF NOT EXISTS media text CHECK (media IN ('audio', 'video'));
CREATE INDEX IF NOT EXISTS calls_initiator ON calls (initiator_id, created_at DESC) WHERE initiator_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS call_invitees (
  call_id      uuid NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
  user_id      text NOT NULL,
  invited_by   text NOT NULL,
  status       text NOT NULL CHECK (status IN ('invited', 'ringing', 'accepted', 'declined', 'missed', 'cancelled')),
  invited_at   timestamptz NOT NULL,
  answered_at  timestamptz,           -- accepted or declined
  ended_at     timestamptz,           -- the ringing ended: answered, missed or cancelled
  PRIMARY KEY (call_id, user_id)
);
CREATE INDEX IF NOT EXISTS call_invitees_user ON call_invitees (user_id, invited_at DESC);
