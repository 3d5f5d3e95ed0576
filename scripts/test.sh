#!/usr/bin/env bash
# `npm test`: setup, build, then every test file. Media tests must keep their
# traffic on loopback, so the run happens in a private network namespace with
# only `lo` when this user may create one (root, or unprivileged user namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
npx tsc -p tsconfig.json
npx tsc --noEmit -p clients/browser

run=(node dist/test/run.js "$@")
if [ "${SWITCHBOARD_TEST_NETNS:-1}" = 1 ] && unshare -n true 2>/dev/null; then
  exec unshare -n sh -c 'ip link set lo up && exec "$@"' sh "${run[@]}"
elif [ "${SWITCHBOARD_TEST_NETNS:-1}" = 1 ] && unshare -rn true 2>/dev/null; then
  exec unshare -rn sh -c 'ip link set lo up && exec "$@"' sh "${run[@]}"
else
  echo "[test] no private network namespace available: running on the host's loopback" >&2
  exec "${run[@]}"
fi
