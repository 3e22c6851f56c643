#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine for hostapp: system packages, a running Docker engine,
# the local images the tests and demo jobs use, and a virtualenv with hostapp installed.
# Idempotent: installs only what is missing. Needs root (or sudo) for apt and dockerd.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

PACKAGES=(docker.io dbus dbus-x11 gnome-keyring xvfb xdotool trayer busybox-static debootstrap
          docker-registry iptables libegl1 libgl1 libfontconfig1 libxkbcommon-x11-0 libxcb-cursor0
          libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libdbus-1-3
          desktop-file-utils appstream python3-venv dpkg-dev binutils systemd python3-gi)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Docker engine: use one that answers; else systemd; else start dockerd ourselves.
if ! docker info >/dev/null 2>&1; then
  if [ -d /run/systemd/system ]; then
    $SUDO systemctl start docker
  else
    echo "setup: starting dockerd (no systemd here); log in /tmp/hostapp-dockerd.log"
    # setsid: its own session, so it outlives this script's terminal, process group and CI step.
    $SUDO setsid -f sh -c 'exec dockerd >/tmp/hostapp-dockerd.log 2>&1 </dev/null'
  fi
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { echo "setup: the Docker engine did not start; see /tmp/hostapp-dockerd.log" >&2; exit 1; }
fi

# Python environment.
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.hostapp-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[dev]'
  touch "$stamp"
fi

bash scripts/build-images.sh

# The official Nosana npm clients, the reference tests/nosana checks the Python port against:
# pinned by tests/nosana/oracle/package-lock.json, installed (npm ci) only when the pins changed.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  oracle=build/nosana-oracle
  mkdir -p "$oracle"
  if ! cmp -s tests/nosana/oracle/package-lock.json "$oracle/package-lock.json" \
     || ! cmp -s tests/nosana/oracle/package.json "$oracle/package.json" \
     || [ ! -f "$oracle/node_modules/.hostapp-installed" ]; then
    cp tests/nosana/oracle/package.json tests/nosana/oracle/package-lock.json "$oracle/"
    (cd "$oracle" && npm ci --no-audit --no-fund --loglevel=error)
    touch "$oracle/node_modules/.hostapp-installed"
  fi
else
  echo "setup: node/npm not found: the Nosana conformance tests (tests/nosana) will skip; install Node.js >= 20.18"
fi
echo "setup: ready"
