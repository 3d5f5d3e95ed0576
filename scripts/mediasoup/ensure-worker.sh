#!/usr/bin/env bash
# ensure-worker.sh [MEDIASOUP_VERSION]
#
# Makes sure a mediasoup-worker binary exists for this host, without internet
# access beyond the npm registry and a Debian mirror, and prints its absolute
# path on the LAST line of stdout. Everything else goes to stderr.
#
#   1. $MEDIASOUP_WORKER_BIN set and executable      -> print it, done.
#   2. cached build for <version>-<hash of patch+this script> with its runtime
#      libraries installed                            -> print it, done.
#   3. otherwise build it: Debian build deps, `npm pack mediasoup@<version>`,
#      apply offline-build.patch, libsrtp2 (Debian source, OpenSSL crypto,
#      static), meson + ninja like upstream's release build, then move the
#      binary into the cache atomically.
#
# Environment:
#   MEDIASOUP_WORKER_BIN       use this binary as is (step 1)
#   SWITCHBOARD_CACHE_DIR      cache root (default: $HOME/.cache/switchboard)
#   SWITCHBOARD_BUILD_JOBS     ninja/make parallelism (default: min(nproc, 2))
#   SWITCHBOARD_SRTP           'openssl' (default; falls back to 'system' with a
#                              warning) or 'system' (Debian's libsrtp2-dev, NSS)
#   SWITCHBOARD_FORCE_BUILD=1  ignore MEDIASOUP_WORKER_BIN and the cache, rebuild
#   SWITCHBOARD_KEEP_BUILD_DIR=1  keep the temporary build directory
#
# Exit status: 0 and the path on the last stdout line, or non-zero with an
# "ERROR:" message on stderr.

set -Eeuo pipefail

# The mediasoup version is defined here and only here.
DEFAULT_MEDIASOUP_VERSION="3.27.1"
MS_VERSION="${1:-$DEFAULT_MEDIASOUP_VERSION}"

# All progress output goes to stderr; fd 3 is the real stdout for the result.
exec 3>&1 1>&2

log() { printf '[ensure-worker] %s\n' "$*" >&2; }
warn() { printf '[ensure-worker] WARNING: %s\n' "$*" >&2; }
die() {
  printf '[ensure-worker] ERROR: %s\n' "$*" >&2
  exit 1
}
result() {
  printf '%s\n' "$1" >&3
  exit 0
}

trap 'die "command failed (line $LINENO): $BASH_COMMAND"' ERR

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SCRIPT_PATH="$SCRIPT_DIR/$(basename "${BASH_SOURCE[0]}")"
PATCH_FILE="$SCRIPT_DIR/offline-build.patch"

[[ "$MS_VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "invalid mediasoup version '$MS_VERSION' (expected X.Y.Z)"
[[ -f "$PATCH_FILE" ]] || die "patch not found: $PATCH_FILE"

# Debian packages.
BUILD_PKGS=(build-essential pkg-config python3 meson ninja-build patch
  libuv1-dev libssl-dev libabsl-dev libflatbuffers-dev flatbuffers-compiler)
SRTP_SOURCE_PKGS=(dpkg-dev) # apt-get source needs dpkg-source
SRTP_SYSTEM_PKGS=(libsrtp2-dev)
RUNTIME_PKGS=(libuv1 libssl3 libabsl20220623)
SRTP_RUNTIME_PKGS=(libsrtp2-1) # only when linked against Debian's libsrtp2

# ---------------------------------------------------------------------------
# 1. Explicit binary.
# ---------------------------------------------------------------------------
if [[ "${SWITCHBOARD_FORCE_BUILD:-0}" != 1 && -n "${MEDIASOUP_WORKER_BIN:-}" ]]; then
  if [[ -f "$MEDIASOUP_WORKER_BIN" && -x "$MEDIASOUP_WORKER_BIN" ]]; then
    log "using MEDIASOUP_WORKER_BIN=$MEDIASOUP_WORKER_BIN"
    # Absolute (symlinks kept), so that it stays valid from any directory.
    result "$(realpath -s "$MEDIASOUP_WORKER_BIN")"
  fi
  warn "MEDIASOUP_WORKER_BIN=$MEDIASOUP_WORKER_BIN is not an executable file; ignoring it"
fi

# ---------------------------------------------------------------------------
# Cache location: <root>/mediasoup-worker/<version>-<hash>/mediasoup-worker
# ---------------------------------------------------------------------------
BUILD_HASH="$(cat "$PATCH_FILE" "$SCRIPT_PATH" | sha256sum | cut -c1-16)"
CACHE_ROOT="${SWITCHBOARD_CACHE_DIR:-${HOME:-/root}/.cache/switchboard}/mediasoup-worker"
CACHE_DIR="$CACHE_ROOT/$MS_VERSION-$BUILD_HASH"
CACHED_BIN="$CACHE_DIR/mediasoup-worker"

# ---------------------------------------------------------------------------
# Helpers.
# ---------------------------------------------------------------------------
SUDO=()
if [[ "$(id -u)" != 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  fi
fi

pkg_installed() {
  dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'
}

APT_UPDATED=0
apt_update() {
  if [[ "$APT_UPDATED" == 0 ]]; then
    log "apt-get update"
    "${SUDO[@]}" apt-get update -q >&2 || return 1
    APT_UPDATED=1
  fi
}

# apt_install PKG... : installs only the packages that are not installed yet.
apt_install() {
  local missing=() p
  for p in "$@"; do
    pkg_installed "$p" || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  command -v apt-get >/dev/null 2>&1 || die "missing packages (${missing[*]}) and no apt-get on this host"
  if [[ "$(id -u)" != 0 && ${#SUDO[@]} -eq 0 ]]; then
    die "missing Debian packages: ${missing[*]} (run as root or install them: apt-get install ${missing[*]})"
  fi
  log "apt-get install ${missing[*]}"
  if ! DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; then
    # Package lists may be missing or stale: refresh once and retry.
    apt_update || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
      die "apt-get install ${missing[*]} failed"
  fi
}

# Prints the "not found" lines of ldd for a binary (empty when all resolve).
missing_libs() {
  ldd "$1" 2>&1 | grep 'not found' || true
}

# Runtime packages for a built binary (adds libsrtp2-1 if it links Debian's).
runtime_pkgs_for() {
  local pkgs=("${RUNTIME_PKGS[@]}")
  if ldd "$1" 2>/dev/null | grep -q 'libsrtp2\.so'; then
    pkgs+=("${SRTP_RUNTIME_PKGS[@]}")
  fi
  printf '%s\n' "${pkgs[@]}"
}

# A worker started without MEDIASOUP_VERSION exits with 41 ("you don't seem to
# be my real father!"): proof that it loads and runs on this host.
smoke_test() {
  local rc=0
  env -u MEDIASOUP_VERSION "$1" >/dev/null 2>&1 || rc=$?
  [[ "$rc" == 41 ]]
}

# ---------------------------------------------------------------------------
# 2. Cache (under a lock so that concurrent runs build only once).
# ---------------------------------------------------------------------------
mkdir -p "$CACHE_ROOT" 2>/dev/null || true
# A read-only cache (e.g. copied to an air-gapped host) is fine for reuse.
if [[ -d "$CACHE_ROOT" && -w "$CACHE_ROOT" ]]; then
  exec 9>"$CACHE_ROOT/.lock-$MS_VERSION-$BUILD_HASH"
  if ! flock -n 9; then
    log "another ensure-worker.sh is building $MS_VERSION-$BUILD_HASH; waiting for it"
    flock 9
  fi
fi

use_cache() {
  [[ -x "$CACHED_BIN" ]] || return 1
  if [[ -n "$(missing_libs "$CACHED_BIN")" ]]; then
    log "cached worker lacks runtime libraries:"
    missing_libs "$CACHED_BIN" >&2
    local pkgs=()
    mapfile -t pkgs < <(runtime_pkgs_for "$CACHED_BIN")
    # ldd cannot report libsrtp2 if it is not found, so name it by the record.
    if grep -qs '^srtp=system' "$CACHE_DIR/build-info.txt"; then pkgs+=("${SRTP_RUNTIME_PKGS[@]}"); fi
    apt_install "${pkgs[@]}"
    if [[ -n "$(missing_libs "$CACHED_BIN")" ]]; then
      warn "runtime libraries still missing after installing ${pkgs[*]}; rebuilding"
      return 1
    fi
  fi
  if ! smoke_test "$CACHED_BIN"; then
    warn "cached worker $CACHED_BIN does not run on this host; rebuilding"
    return 1
  fi
  if grep -qs '^srtp=system' "$CACHE_DIR/build-info.txt"; then
    warn "cached worker uses Debian's libsrtp2 (NSS crypto, about half the SRTP throughput); rebuild with SWITCHBOARD_FORCE_BUILD=1 to retry the OpenSSL variant"
  fi
  return 0
}

if [[ "${SWITCHBOARD_FORCE_BUILD:-0}" != 1 ]] && use_cache; then
  log "using cached worker ($CACHE_DIR)"
  result "$CACHED_BIN"
fi

# ---------------------------------------------------------------------------
# 3. Build.
# ---------------------------------------------------------------------------
[[ -d "$CACHE_ROOT" && -w "$CACHE_ROOT" ]] || die "cache dir $CACHE_ROOT is not writable (set SWITCHBOARD_CACHE_DIR)"
START_TS=$(date +%s)
JOBS="${SWITCHBOARD_BUILD_JOBS:-$(($(nproc) < 2 ? $(nproc) : 2))}"
WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/switchboard-mediasoup-build.XXXXXX")"
INTERRUPTED=0
cleanup() {
  local rc=$?
  if [[ "$INTERRUPTED" == 0 && ("${SWITCHBOARD_KEEP_BUILD_DIR:-0}" == 1 || $rc -ne 0) ]]; then
    log "build directory kept for inspection: $WORK_DIR"
  else
    rm -rf "$WORK_DIR"
  fi
  if [[ -n "${STAGE_DIR:-}" ]]; then rm -rf "$STAGE_DIR"; fi
}
trap cleanup EXIT
# Long steps run as background children (run_logged) so that a signal is
# handled at once: stop the child, then clean up.
CHILD=""
on_signal() {
  INTERRUPTED=1
  if [[ -n "$CHILD" ]]; then
    kill -TERM "$CHILD" 2>/dev/null || true
    wait "$CHILD" 2>/dev/null || true
  fi
  die "interrupted"
}
trap on_signal INT TERM

# run_logged LOGFILE CMD... : runs CMD with output to LOGFILE, interruptibly.
run_logged() {
  local logfile="$1" rc=0
  shift
  "$@" >"$logfile" 2>&1 &
  CHILD=$!
  wait "$CHILD" || rc=$?
  CHILD=""
  return "$rc"
}

log "building mediasoup-worker $MS_VERSION (key $MS_VERSION-$BUILD_HASH, jobs $JOBS) in $WORK_DIR"

apt_install "${BUILD_PKGS[@]}"
command -v npm >/dev/null 2>&1 || die "npm not found"

# --- mediasoup sources from the npm registry --------------------------------
log "npm pack mediasoup@$MS_VERSION"
# Run from the project dir so that its .npmrc (e.g. a registry mirror) applies.
(cd "$SCRIPT_DIR" && npm pack "mediasoup@$MS_VERSION" --pack-destination "$WORK_DIR" --silent >&2) ||
  die "npm pack mediasoup@$MS_VERSION failed (is the npm registry reachable?)"
TARBALL="$WORK_DIR/mediasoup-$MS_VERSION.tgz"
[[ -f "$TARBALL" ]] || die "npm pack did not produce $TARBALL"
tar -xzf "$TARBALL" -C "$WORK_DIR"
SRC_DIR="$WORK_DIR/package"

log "applying $(basename "$PATCH_FILE")"
(cd "$SRC_DIR" && patch -p1 --batch --forward --no-backup-if-mismatch <"$PATCH_FILE" >&2) ||
  die "offline-build.patch does not apply to mediasoup $MS_VERSION (it was written for $DEFAULT_MEDIASOUP_VERSION)"

# --- libsrtp2 ----------------------------------------------------------------
# Debian's libsrtp2 uses NSS crypto, which roughly halves the SFU's SRTP
# throughput. Rebuild the same Debian source (with Debian's patches) against
# OpenSSL as a static library linked into the worker; the system's libsrtp2 is
# left untouched.
SRTP_PREFIX="$WORK_DIR/libsrtp2-openssl"
SRTP_FLAVOR=""
SRTP_VERSION=""

has_deb_src() {
  grep -rqsE '^[[:space:]]*deb-src[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null && return 0
  grep -rqsE '^[[:space:]]*Types:.*deb-src' /etc/apt/sources.list.d/*.sources 2>/dev/null && return 0
  return 1
}

# Adds deb-src entries mirroring the existing Debian "deb" entries.
add_deb_src() {
  local out="/etc/apt/sources.list.d/switchboard-deb-src" tmp="$WORK_DIR/deb-src" f
  : >"$tmp.sources"
  : >"$tmp.list"
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    # deb822 stanzas of type "deb" served from a Debian archive -> deb-src.
    awk 'BEGIN { RS = ""; FS = "\n" }
      {
        isdeb = 0; isdebian = 0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^Types:/ && $i ~ /[ \t]deb([ \t]|$)/) isdeb = 1
          if ($i ~ /^URIs:/ && $i ~ /debian/) isdebian = 1
        }
        if (isdeb && isdebian) {
          for (i = 1; i <= NF; i++) {
            l = $i
            if (l ~ /^#/) continue
            if (l ~ /^Types:/) l = "Types: deb-src"
            print l
          }
          print ""
        }
      }' "$f" >>"$tmp.sources"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$f" ]] || continue
    grep -E '^[[:space:]]*deb[[:space:]].*debian' "$f" |
      sed -E 's/^([[:space:]]*)deb([[:space:]])/\1deb-src\2/' >>"$tmp.list" || true
  done
  [[ -s "$tmp.sources" || -s "$tmp.list" ]] || return 1
  if [[ -s "$tmp.sources" ]]; then "${SUDO[@]}" cp "$tmp.sources" "$out.sources" || return 1; fi
  if [[ -s "$tmp.list" ]]; then "${SUDO[@]}" cp "$tmp.list" "$out.list" || return 1; fi
  log "added deb-src entries in $out.*"
  APT_UPDATED=0
  apt_update
}

build_srtp_openssl() {
  local d="$WORK_DIR/srtp-src" srcdir
  mkdir -p "$d"
  apt_install "${SRTP_SOURCE_PKGS[@]}"
  if ! has_deb_src; then
    add_deb_src || {
      warn "could not add a deb-src entry"
      return 1
    }
  fi
  # As root, download without the _apt sandbox user (it cannot enter the
  # private temp dir, and apt would only warn and do the same).
  local apt_src=(apt-get source -q)
  [[ "$(id -u)" == 0 ]] && apt_src+=(-o APT::Sandbox::User=root)
  log "apt-get source libsrtp2"
  if ! (cd "$d" && "${apt_src[@]}" libsrtp2 >&2); then
    # The source index may be stale or missing: refresh once and retry.
    apt_update || true
    (cd "$d" && "${apt_src[@]}" libsrtp2 >&2) || {
      warn "apt-get source libsrtp2 failed"
      return 1
    }
  fi
  srcdir="$(find "$d" -mindepth 1 -maxdepth 1 -type d -name 'libsrtp2-*' | head -n1)"
  [[ -n "$srcdir" && -x "$srcdir/configure" ]] || {
    warn "unexpected libsrtp2 source layout in $d"
    return 1
  }
  log "building libsrtp2 ($(basename "$srcdir"), Debian patches applied) with OpenSSL crypto, static"
  # (Explicit && chains: set -e does not apply inside a "|| {...}" context.)
  {
    run_logged "$WORK_DIR/srtp-configure.log" env -C "$srcdir" ./configure \
      --enable-openssl --disable-pcap --prefix="$SRTP_PREFIX" CFLAGS="-O3 -fPIC -D_REENTRANT" &&
      grep -qs '^#define OPENSSL 1' "$srcdir/crypto/include/config.h" "$srcdir/config.h" &&
      run_logged "$WORK_DIR/srtp-make.log" make -C "$srcdir" -j"$JOBS" libsrtp2.a &&
      run_logged "$WORK_DIR/srtp-install.log" make -C "$srcdir" install
  } || {
    warn "libsrtp2 OpenSSL build failed (logs: $WORK_DIR/srtp-*.log)"
    return 1
  }
  local pc="$SRTP_PREFIX/lib/pkgconfig/libsrtp2.pc"
  [[ -f "$SRTP_PREFIX/lib/libsrtp2.a" && -f "$pc" ]] || {
    warn "libsrtp2 install incomplete"
    return 1
  }
  # Link the archive by path (never a shared libsrtp2), libcrypto after it.
  sed -i -E 's|^Libs:.*|Libs: ${libdir}/libsrtp2.a -lcrypto -pthread|' "$pc"
  SRTP_VERSION="$(sed -n 's/^Version: //p' "$pc")"
  export PKG_CONFIG_PATH="$SRTP_PREFIX/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  SRTP_FLAVOR="openssl-static"
}

if [[ "${SWITCHBOARD_SRTP:-openssl}" == system ]]; then
  log "SWITCHBOARD_SRTP=system: using Debian's libsrtp2-dev"
elif ! build_srtp_openssl; then
  warn "falling back to Debian's libsrtp2-dev (NSS crypto): works, but about half the SRTP throughput per worker"
fi
if [[ -z "$SRTP_FLAVOR" ]]; then
  apt_install "${SRTP_SYSTEM_PKGS[@]}"
  SRTP_VERSION="$(pkg-config --modversion libsrtp2)"
  SRTP_FLAVOR="system"
fi

# --- mediasoup-worker (like upstream's release build) -------------------------
log "meson setup (release)"
run_logged "$WORK_DIR/meson-setup.log" \
  meson setup "$SRC_DIR/worker/build" "$SRC_DIR/worker" --buildtype release -Db_ndebug=true || {
  tail -n 30 "$WORK_DIR/meson-setup.log" >&2
  die "meson setup failed (log: $WORK_DIR/meson-setup.log)"
}
log "ninja -j$JOBS mediasoup-worker (takes a few minutes)"
run_logged "$WORK_DIR/ninja.log" ninja -j"$JOBS" -C "$SRC_DIR/worker/build" mediasoup-worker || {
  tail -n 40 "$WORK_DIR/ninja.log" >&2
  die "ninja failed (log: $WORK_DIR/ninja.log)"
}
BUILT_BIN="$SRC_DIR/worker/build/mediasoup-worker"
[[ -x "$BUILT_BIN" ]] || die "build finished but $BUILT_BIN is missing"
if [[ -n "$(missing_libs "$BUILT_BIN")" ]]; then
  missing_libs "$BUILT_BIN" >&2
  die "built worker has unresolved libraries"
fi
if [[ "$SRTP_FLAVOR" == openssl-static ]] && ldd "$BUILT_BIN" | grep -q 'libsrtp2\.so'; then
  die "worker links a shared libsrtp2 although the static OpenSSL one was requested"
fi
smoke_test "$BUILT_BIN" || die "built worker does not run (expected exit 41 without MEDIASOUP_VERSION)"

# --- atomic install into the cache --------------------------------------------
STAGE_DIR="$(mktemp -d "$CACHE_ROOT/.stage-$MS_VERSION-$BUILD_HASH.XXXXXX")"
cp "$BUILT_BIN" "$STAGE_DIR/mediasoup-worker"
chmod 0755 "$STAGE_DIR" "$STAGE_DIR/mediasoup-worker"
ELAPSED=$(($(date +%s) - START_TS))
cat >"$STAGE_DIR/build-info.txt" <<EOF
mediasoup=$MS_VERSION
hash=$BUILD_HASH
srtp=$SRTP_FLAVOR
srtp_version=$SRTP_VERSION
built_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
build_seconds=$ELAPSED
host=$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-unknown}") $(uname -m)
runtime_packages=$(runtime_pkgs_for "$BUILT_BIN" | tr '\n' ' ')
EOF
if [[ -e "$CACHE_DIR" ]]; then
  rm -rf "$CACHE_DIR.old.$$"
  mv "$CACHE_DIR" "$CACHE_DIR.old.$$"
fi
mv -T "$STAGE_DIR" "$CACHE_DIR"
rm -rf "$CACHE_DIR.old.$$"
STAGE_DIR=""

log "built in ${ELAPSED}s (libsrtp2 $SRTP_VERSION, $SRTP_FLAVOR): $CACHED_BIN"
result "$CACHED_BIN"
