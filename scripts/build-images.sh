#!/usr/bin/env bash
# Builds the local images hostapp's tests and demo jobs use, when no registry is reachable:
#   hostapp-test/busybox  FROM scratch + Debian's busybox-static (tiny, starts in milliseconds)
#   hostapp/python:3      Debian minbase rootfs (debootstrap) with python3, imported with `docker import`
#   ubuntu:latest         the same rootfs under the name the Nosana job examples ask for
#   hostapp/demo-inference:1  the embedded grid's demo job image (numpy-free, CPU matrix work)
#   hostapp/demo-service:1    the demo service job (an HTTP/WebSocket server, hostapp/services/demo_server.py)
# Each is built only when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${HOSTAPP_IMAGE_CACHE:-/var/cache/hostapp-images}
mkdir -p "$cache"

have() { docker image inspect "$1" >/dev/null 2>&1; }

if ! have hostapp-test/busybox:latest; then
  ctx=$(mktemp -d)
  mkdir -p "$ctx/rootfs/bin" "$ctx/rootfs/tmp" "$ctx/rootfs/etc" "$ctx/rootfs/work"
  cp /bin/busybox "$ctx/rootfs/bin/busybox"
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$ctx/rootfs/bin/$a"; done
  echo "root:x:0:0:root:/root:/bin/sh" > "$ctx/rootfs/etc/passwd"
  echo "nobody:x:65534:65534:nobody:/:/bin/sh" >> "$ctx/rootfs/etc/passwd"
  printf 'FROM scratch\nCOPY rootfs/ /\nCMD ["/bin/sh"]\n' > "$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q -t hostapp-test/busybox:latest "$ctx" >/dev/null 2>&1
  rm -rf "$ctx"
  echo "images: built hostapp-test/busybox"
fi

if ! have hostapp/python:3; then
  tarball="$cache/debian-bookworm-python3.tar"
  if [ ! -s "$tarball" ]; then
    root=$(mktemp -d)
    echo "images: debootstrap of a Debian python3 rootfs (a few minutes, once)"
    debootstrap --variant=minbase --include=python3-minimal,python3 bookworm "$root" \
      "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$cache/debootstrap.log" 2>&1
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$root"
  fi
  docker import -c 'CMD ["/bin/bash"]' -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$tarball" hostapp/python:3 >/dev/null
  echo "images: imported hostapp/python:3"
fi
have ubuntu:latest || docker tag hostapp/python:3 ubuntu:latest

if ! have hostapp/demo-inference:1; then
  ctx=$(mktemp -d)
  cp hostapp/localgrid/demo_job.py "$ctx/demo_job.py"
  printf 'FROM hostapp/python:3\nCOPY demo_job.py /opt/demo_job.py\nENTRYPOINT ["python3", "/opt/demo_job.py"]\n' > "$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q -t hostapp/demo-inference:1 "$ctx" >/dev/null 2>&1
  rm -rf "$ctx"
  echo "images: built hostapp/demo-inference:1"
fi

if ! have hostapp/demo-service:1; then
  ctx=$(mktemp -d)
  cp hostapp/services/demo_server.py "$ctx/demo_server.py"
  printf 'FROM hostapp/python:3\nCOPY demo_server.py /opt/demo_server.py\nENTRYPOINT ["python3", "/opt/demo_server.py"]\n' > "$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q -t hostapp/demo-service:1 "$ctx" >/dev/null 2>&1
  rm -rf "$ctx"
  echo "images: built hostapp/demo-service:1"
fi
