# Sourced by scripts/build-windows.sh and scripts/test-windows.sh: `use_wine_prefix PREFIX` exports the
# Wine settings and creates (or tops up) a 64-bit prefix that runs the Windows build.
#
# Debian 12's Wine 8 needs three things from Debian and this repository, none from elsewhere:
# - Wine's 32-bit half, for Inno Setup (ISCC.exe, every setup.exe it makes and its uninstaller are
#   32-bit programs). `apt-get install wine32:i386` would pull ~150 i386 libraries that must match
#   the host's amd64 versions exactly, so instead: `apt-get download` of wine32:i386, libwine:i386
#   and the few i386 libraries its display and font code loads, unpacked with `dpkg -x` into
#   build/windows-cache/wine-i386/root (nothing installed there), next to a copy of the 64-bit loader
#   so each loader finds the other (Wine looks for wine/wine64 beside itself). The only i386 package
#   installed is libc6:i386 (the 32-bit loader's /lib/ld-linux.so.2; same version as libc6, 3 small
#   packages). Wine 8's other way, the "experimental wow64 mode" of the 64-bit loader, runs 32-bit
#   programs without any of this but fails every text-metrics call (Inno Setup stops with
#   "AnchorOuterPage: BaseUnitX = 0"): 118 GDI/USER calls of Debian's 32-bit win32u.dll reach the
#   Unix side through a table that mode never fills.
# - bcryptprimitives.dll (ProcessPrng, for the Rust extension modules) and icuuc.dll (Qt6Core's
#   codecs): every Windows 10/11 has them in System32, Wine 8 has not. Small stand-ins
#   (installers/windows/wine/*.c), compiled with Debian's mingw-w64 into the prefix only; the
#   installer never ships them.
# - Windows 7+'s per-user Program Files folder (FOLDERID_UserProgramFiles, Inno Setup's {autopf} for
#   a per-user install) is not implemented by Wine 8's shell32; tests install with /ALLUSERS.
# A Windows console program under Wine needs a terminal for its standard streams (redirected, the
# Python interpreter stops with WinError 6): `wine_run` gives it a pseudo-terminal via `script`.
#
# After use_wine_prefix, `wine`, `wineboot`, `winepath` and `wineserver` on PATH are the ones in
# $WINE_ROOT/bin (exported, with WINEPREFIX, for programs started from here, e.g. the tests).

WINE_CACHE=build/windows-cache
# i386 libraries Wine's 32-bit Unix side loads for fonts (FreeType, fontconfig) and the X11 display.
WINE_I386_LIBS="libfreetype6 libfontconfig1 libpng16-16 zlib1g libbrotli1 libexpat1 libx11-6 libxcb1
libxau6 libxdmcp6 libbsd0 libmd0 libxext6 libxrender1 libxrandr2 libxi6 libxfixes3 libxcursor1
libxinerama1 libxcomposite1"

_wine_need() {
  command -v "$1" >/dev/null || { echo "wine-env: $1 not found ($2)" >&2; return 2; }
}

# Unpacks Wine's 32-bit half into $WINE_CACHE/wine-i386/root (once per Wine version).
_wine_unpack_i386() {
  local dir=$WINE_CACHE/wine-i386 version root stamp name run
  version=$(dpkg-query -W -f '${Version}' libwine 2>/dev/null) || {
    echo "wine-env: Debian's wine not installed (apt-get install wine wine64)" >&2
    return 2
  }
  root=$dir/root
  stamp="layout-2 $version $WINE_I386_LIBS"
  [ -x "$root/usr/lib/wine/wine" ] && [ "$(cat "$dir/stamp" 2>/dev/null)" = "$stamp" ] && return 0
  [ -e /lib/ld-linux.so.2 ] || {
    echo "wine-env: no 32-bit C library; run: dpkg --add-architecture i386 && apt-get update && apt-get install libc6:i386" >&2
    return 2
  }
  echo "wine-env: unpacking Wine's 32-bit half (wine32:i386, libwine:i386 and its i386 libraries)" >&2
  rm -rf "$dir" && mkdir -p "$dir/debs"
  # shellcheck disable=SC2086  # the library list is split on purpose
  (cd "$dir/debs" && apt-get download -q "wine32:i386=$version" "libwine:i386=$version" \
    $(for name in $WINE_I386_LIBS; do printf '%s:i386 ' "$name"; done) 2>&1 | grep -v -e unsandboxed -e '^Get:' >&2) || true
  [ -s "$(ls "$dir"/debs/wine32_*_i386.deb 2>/dev/null | head -1)" ] || {
    echo "wine-env: cannot download wine32:i386; run: dpkg --add-architecture i386 && apt-get update" >&2
    return 2
  }
  for name in "$dir"/debs/*.deb; do dpkg -x "$name" "$root"; done
  rm -rf "$dir/debs"
  # The 64-bit loader next to the 32-bit one: a copy (a link would make it find its files, and with
  # them the alternate loader, under /usr again), its Unix and PE DLLs linked from the system.
  cp "$(readlink -f /usr/lib/wine/wine64)" "$root/usr/lib/wine/wine64"
  mkdir -p "$root/usr/lib/x86_64-linux-gnu"
  ln -sfn /usr/lib/x86_64-linux-gnu/wine "$root/usr/lib/x86_64-linux-gnu/wine"
  ln -sfn /usr/lib/wine/wineserver "$root/usr/lib/wine/wineserver"
  mkdir -p "$root/bin"
  local env='LD_LIBRARY_PATH=$here/usr/lib/i386-linux-gnu:$here/lib/i386-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}'
  for name in wine wineboot winepath; do
    case $name in
      wine) run='"$@"' ;;
      *) run="$name.exe \"\$@\"" ;;
    esac
    printf '#!/bin/sh\n# Wine with its 32-bit half from build/windows-cache (scripts/wine-env.sh).\nhere=$(cd "$(dirname "$0")/.." && pwd)\n%s exec "$here/usr/lib/wine/wine64" %s\n' \
      "$env" "$run" >"$root/bin/$name"
    chmod +x "$root/bin/$name"
  done
  ln -sfn /usr/lib/wine/wineserver "$root/bin/wineserver"
  # For creating prefixes only (use_wine_prefix): the system's wine64 in its experimental wow64 mode,
  # the 32-bit PE DLLs over its own 64-bit Unix side. It can run wineboot's 32-bit half, which fills
  # C:\windows\syswow64, and the 32-bit loader needs those files; the other way round it cannot start.
  mkdir -p "$dir/wow64"
  ln -sfn "$(realpath "$root/usr/lib/i386-linux-gnu/wine/i386-windows")" "$dir/wow64/i386-windows"
  ln -sfn /usr/lib/x86_64-linux-gnu/wine/x86_64-unix "$dir/wow64/x86_64-unix"
  echo "$stamp" >"$dir/stamp"
}

use_wine_prefix() {
  local prefix=$1 name src
  _wine_need x86_64-w64-mingw32-gcc "apt-get install gcc-mingw-w64-x86-64-win32" || return
  _wine_need script "apt-get install util-linux" || return
  [ -x /usr/lib/wine/wine64 ] || { echo "wine-env: wine64 not found (apt-get install wine wine64)" >&2; return 2; }
  _wine_unpack_i386 || return
  mkdir -p "$WINE_CACHE/shims"
  for name in bcryptprimitives icuuc; do
    src=installers/windows/wine/$name.c
    if [ ! -s "$WINE_CACHE/shims/$name.dll" ] || [ "$src" -nt "$WINE_CACHE/shims/$name.dll" ]; then
      x86_64-w64-mingw32-gcc -shared -O2 -s -Wall -o "$WINE_CACHE/shims/$name.dll" "$src" -ladvapi32 || return
    fi
  done
  WINE_ROOT=$(realpath "$WINE_CACHE/wine-i386/root")
  export WINE_ROOT
  case ":$PATH:" in *":$WINE_ROOT/bin:"*) ;; *) export PATH="$WINE_ROOT/bin:$PATH" ;; esac
  export WINEPREFIX=$prefix WINEARCH=win64 WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
  unset WINEDLLPATH WINELOADER
  if [ ! -f "$prefix/system.reg" ]; then
    mkdir -p "$prefix"
    WINEDLLPATH=$(realpath "$WINE_CACHE/wine-i386/wow64") /usr/lib/wine/wine64 wineboot.exe -i >/dev/null 2>&1
    wineserver -w
  fi
  for name in bcryptprimitives icuuc; do
    cp "$WINE_CACHE/shims/$name.dll" "$prefix/drive_c/windows/system32/$name.dll"
  done
}

wine_run() { script -qec "$(printf '%q ' wine "$@")" /dev/null; }
