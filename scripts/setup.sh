#!/usr/bin/env bash
# Idempotent setup for Switchboard on Debian 12 / Node 20: installs what is
# missing and nothing else. Called by `npm start` (--runtime) and `npm test`.
#   --runtime  only what the server needs to run (no test services)
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-full}
log() { printf '[setup] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root to run: $*"; return 1; fi
}

apt_updated=0
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null; then
    log "missing packages ${missing[*]} and no apt-get: install them by hand"; return 1
  fi
  if [ $apt_updated = 0 ]; then
    log "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    apt_updated=1
  fi
  log "installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Runtime: ffmpeg records and streams (FFMPEG_PATH may point elsewhere).
[ -n "${FFMPEG_PATH:-}" ] || apt_install ffmpeg

# Test services: a throwaway PostgreSQL server and Redis per test run (PGlite
# needs nothing), iproute2 for the private network namespace the tests run in,
# Debian's chromium for the browser test (driven by playwright-core), and
# coturn, whose `turnserver` the TURN test starts on loopback (test/support/coturn.ts).
if [ "$mode" != "--runtime" ]; then
  coturn_was_installed=0
  dpkg-query -W -f='${Status}' coturn 2>/dev/null | grep -q 'install ok installed' && coturn_was_installed=1
  apt_install postgresql redis-server iproute2 chromium coturn
  # The package enables (and under systemd starts) its own TURN service with the default
  # /etc/turnserver.conf; the tests need only the binary. Undo that once, right after we
  # installed it: a coturn someone set up on purpose before is left as it is.
  if [ $coturn_was_installed = 0 ] && command -v systemctl >/dev/null; then
    if [ -d /run/systemd/system ]; then as_root systemctl disable --now coturn.service >/dev/null 2>&1 || true
    else as_root systemctl disable coturn.service >/dev/null 2>&1 || true; fi
  fi
  # Janus (Debian's 1.1.2), the anchor of `bench:sfu --baseline janus`: the bench starts it
  # itself with a generated config in a temp dir, so its packaged service is disabled the
  # same way, once, right after we installed it.
  janus_was_installed=0
  dpkg-query -W -f='${Status}' janus 2>/dev/null | grep -q 'install ok installed' && janus_was_installed=1
  apt_install janus
  if [ $janus_was_installed = 0 ] && command -v systemctl >/dev/null; then
    if [ -d /run/systemd/system ]; then as_root systemctl disable --now janus.service >/dev/null 2>&1 || true
    else as_root systemctl disable janus.service >/dev/null 2>&1 || true; fi
  fi
fi

# mediasoup worker: MEDIASOUP_WORKER_BIN if given, else the project's offline
# build from the npm tarball against Debian's libraries (cached; minutes the first time).
# SWITCHBOARD_MEDIASOUP_PREBUILT=1 (hosts with internet) lets mediasoup's own
# postinstall download the official prebuilt instead.
worker_bin=
if [ -n "${MEDIASOUP_WORKER_BIN:-}" ]; then
  worker_bin=$MEDIASOUP_WORKER_BIN
elif [ "${SWITCHBOARD_MEDIASOUP_PREBUILT:-0}" != 1 ]; then
  worker_bin=$(bash scripts/mediasoup/ensure-worker.sh | tail -n1)
fi
# With the variable set, mediasoup's own postinstall (when npm runs it) skips its download.
[ -n "$worker_bin" ] && export MEDIASOUP_WORKER_BIN=$worker_bin

# npm dependencies: reinstall when package-lock.json changed since the last install.
stamp=node_modules/.switchboard-lock-hash
# Only the lock file: package.json edits that change no dependency (scripts) need no reinstall.
want=$(sha256sum package-lock.json | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error >&2
  echo "$want" > "$stamp"
fi

# Carried fix to mediasoup's Node library (scripts/mediasoup/README.md, "Known
# mediasoup bug"): idempotent, and it renames a new file over the old one
# rather than writing into it, so hard-linked copies of node_modules elsewhere
# keep theirs.
node scripts/mediasoup/patch-lib.mjs node_modules

# Where the app finds the worker at run time (sfu/workerBinary.ts reads this;
# without it, mediasoup's prebuilt in node_modules is used).
if [ -n "$worker_bin" ]; then echo "$worker_bin" > node_modules/.switchboard-mediasoup-worker
else rm -f node_modules/.switchboard-mediasoup-worker; fi
