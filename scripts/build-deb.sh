#!/usr/bin/env bash
# Builds dist/hostapp_<version>_<arch>.deb: the PyInstaller one-folder bundle in /opt/hostapp plus
# desktop integration (launcher, icons, AppStream metainfo, autostart template, systemd user unit).
#   bash scripts/build-deb.sh           reuse dist/ when built from the same sources and packages
#   bash scripts/build-deb.sh --force   rebuild anyway
# Prints the path of the .deb on its last line. Needs .venv with pyinstaller and dpkg-deb.
set -euo pipefail
cd "$(dirname "$0")/.."

force=0
[ "${1:-}" = "--force" ] && force=1
PY=.venv/bin/python
APP_ID=io.hostapp.HostApp

if ! "$PY" -c 'import PyInstaller' 2>/dev/null; then
  echo "build-deb: PyInstaller is missing; run: .venv/bin/pip install pyinstaller" >&2
  exit 2
fi
command -v dpkg-deb >/dev/null || { echo "build-deb: dpkg-deb not found (apt-get install dpkg-dev)" >&2; exit 2; }

version=$("$PY" -c 'from importlib.metadata import version; print(version("hostapp"))')
arch=$(dpkg --print-architecture)
deb="dist/hostapp_${version}_${arch}.deb"

# The inputs of the build: our sources, resources, installer files, and the exact Python packages.
source_hash=$(
  {
    find hostapp resources installers pyproject.toml scripts/build-deb.sh -type f \
      -not -path '*/__pycache__/*' -not -name '*.pyc' -print0 | sort -z | xargs -0 sha256sum
    "$PY" -m pip freeze --exclude-editable 2>/dev/null
  } | sha256sum | cut -d' ' -f1
)
stamp="$deb.source-sha256"
if [ "$force" = 0 ] && [ -s "$deb" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$source_hash" ]; then
  echo "build-deb: $deb is up to date (sources $source_hash)" >&2
  echo "$deb"
  exit 0
fi

echo "build-deb: PyInstaller bundle (a few minutes)" >&2
"$PY" -m PyInstaller --noconfirm --log-level WARN --distpath dist/pyinstaller --workpath build/pyinstaller \
  installers/hostapp.spec 2> >(grep -v 'required via ctypes not found' >&2)
bundle=dist/pyinstaller/hostapp
"$bundle/hostapp" --version >/dev/null

root=build/deb/root
rm -rf build/deb
mkdir -p "$root/DEBIAN" "$root/opt" "$root/usr/bin" "$root/usr/share/applications" \
  "$root/usr/share/icons/hicolor/scalable/apps" "$root/usr/share/icons/hicolor/scalable/status" \
  "$root/usr/share/metainfo" "$root/usr/share/hostapp" "$root/usr/lib/systemd/user" "$root/usr/share/doc/hostapp"
cp -a "$bundle" "$root/opt/hostapp"
ln -s /opt/hostapp/hostapp "$root/usr/bin/hostapp"
install -m 0644 "resources/$APP_ID.desktop" "$root/usr/share/applications/$APP_ID.desktop"
install -m 0644 "resources/icons/$APP_ID.svg" "$root/usr/share/icons/hicolor/scalable/apps/$APP_ID.svg"
for state in working waiting paused offline error; do
  install -m 0644 "resources/icons/tray/$state.svg" "$root/usr/share/icons/hicolor/scalable/status/$APP_ID-$state.svg"
done
install -m 0644 "resources/$APP_ID.metainfo.xml" "$root/usr/share/metainfo/$APP_ID.metainfo.xml"
# Not /etc/xdg/autostart: autostart is the user's choice, made in the app (~/.config/autostart).
install -m 0644 "resources/$APP_ID.autostart.desktop" "$root/usr/share/hostapp/$APP_ID.autostart.desktop"
install -m 0644 resources/hostapp-node.service "$root/usr/lib/systemd/user/hostapp-node.service"
install -m 0644 docs/install.md "$root/usr/share/doc/hostapp/install.md"
cat > "$root/usr/share/doc/hostapp/copyright" <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: hostapp
Comment: /opt/hostapp bundles Python, Qt (PySide6, LGPL-3.0) and the Python packages listed in
 /opt/hostapp/_internal/*.dist-info, each under its own license.

Files: *
License: MIT
EOF

# The newest glibc symbol version any bundled binary asks for.
glibc=$(find "$root/opt/hostapp" -type f \( -name '*.so*' -o -name hostapp \) -print0 \
  | xargs -0 objdump -T 2>/dev/null | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)

# Depends: only what the bundle does not carry. PyInstaller leaves out libc and the GL/EGL
# loaders (they must match the system's drivers) and libxcb (the X connection); fontconfig
# brings the system's font configuration and a font. The installer test checks with ldd, in a
# clean Debian, that nothing else is missing.
cat > "$root/DEBIAN/control" <<EOF
Package: hostapp
Version: $version
Architecture: $arch
Maintainer: The HostApp developers <hostapp@users.noreply.github.com>
Installed-Size: $(du -sk "$root" --exclude=DEBIAN | cut -f1)
Section: utils
Priority: optional
Depends: libc6 (>= ${glibc:-2.36}), libgl1, libegl1, libxcb1, libfontconfig1
Recommends: docker.io | docker-ce, gnome-keyring | kwalletmanager, dbus-user-session | dbus-x11
Suggests: nvidia-container-toolkit
Description: share your idle NVIDIA GPU with an AI inference grid
 HostApp sits in the system tray and rents out the graphics card while you do not
 use it: AI inference jobs run in locked-down Docker containers, on your schedule,
 paused when a game starts, and pay per second to a Solana wallet you control.
 .
 Includes the headless node ("hostapp node", systemd user unit hostapp-node.service).
 The Docker engine is needed to run jobs; the NVIDIA driver and NVIDIA Container
 Toolkit are needed to run them on the GPU.
 .
 Removing the package leaves each user's wallet, settings and earnings ledger
 (~/.config/hostapp, ~/.local/share/hostapp) untouched.
EOF
# No maintainer scripts: dpkg triggers of hicolor-icon-theme and desktop-file-utils refresh the
# icon and menu caches, and nothing ever touches home directories (no postrm).

mkdir -p dist
dpkg-deb --build --root-owner-group -Zxz "$root" "$deb.tmp" >&2
mv "$deb.tmp" "$deb"
echo "$source_hash" > "$stamp"
echo "build-deb: built $deb ($(du -h "$deb" | cut -f1))" >&2
echo "$deb"
