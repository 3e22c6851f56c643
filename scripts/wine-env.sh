# Sourced by scripts/build-windows.sh and scripts/test-windows.sh: `use_wine_prefix PREFIX` exports the
# Wine settings and creates (or tops up) a 64-bit prefix that runs the Windows build.
#
# Debian 12's Wine 8 needs three things from the Debian and this repository, none from elsewhere:
# - 32-bit PE DLLs for Inno Setup (ISCC.exe and every setup.exe it makes are 32-bit programs): the
#   PE half of libwine:i386, unpacked with `apt-get download` + `dpkg -x` into build/windows-cache
#   (not installed: wine32:i386 would pin the host's i386 libraries), run by wine64's wow64 mode;
# - bcryptprimitives.dll (ProcessPrng, for the Rust extension modules) and icuuc.dll (Qt6Core's
#   codecs): every Windows 10/11 has them in System32, Wine 8 has not. Small stand-ins
#   (installers/windows/wine/*.c), compiled with Debian's mingw-w64 into the prefix only; the
#   installer never ships them.
# A Windows console program under Wine needs a terminal for its standard streams (redirected, the
# Python interpreter stops with WinError 6): `wine_run` gives it a pseudo-terminal via `script`.

WINE_CACHE=build/windows-cache

_wine_need() {
  command -v "$1" >/dev/null || { echo "wine-env: $1 not found ($2)" >&2; return 2; }
}

use_wine_prefix() {
  local prefix=$1 name src
  _wine_need wine "apt-get install wine wine64" || return
  _wine_need x86_64-w64-mingw32-gcc "apt-get install gcc-mingw-w64-x86-64-win32" || return
  _wine_need script "apt-get install util-linux" || return
  local wow=$WINE_CACHE/wine32/root/usr/lib/i386-linux-gnu/wine
  if [ ! -d "$wow/i386-windows" ]; then
    echo "wine-env: unpacking Debian's libwine:i386 (32-bit PE DLLs for wow64)" >&2
    mkdir -p "$WINE_CACHE/wine32"
    (cd "$WINE_CACHE/wine32" && rm -f libwine_*_i386.deb && apt-get download -q "libwine:i386=$(dpkg-query -W -f '${Version}' libwine)" >&2) || {
      echo "wine-env: cannot download libwine:i386; run: dpkg --add-architecture i386 && apt-get update" >&2
      return 2
    }
    dpkg -x "$WINE_CACHE"/wine32/libwine_*_i386.deb "$WINE_CACHE/wine32/root"
    # wow64 runs the 32-bit PE DLLs over the 64-bit Unix libraries, which Wine looks for beside them.
    rm -rf "$wow/i386-unix"
    ln -sfn "$(dirname "$(command -v wine)")/../lib/x86_64-linux-gnu/wine/x86_64-unix" "$wow/x86_64-unix"
  fi
  mkdir -p "$WINE_CACHE/shims"
  for name in bcryptprimitives icuuc; do
    src=installers/windows/wine/$name.c
    if [ ! -s "$WINE_CACHE/shims/$name.dll" ] || [ "$src" -nt "$WINE_CACHE/shims/$name.dll" ]; then
      x86_64-w64-mingw32-gcc -shared -O2 -s -Wall -o "$WINE_CACHE/shims/$name.dll" "$src" -ladvapi32 || return
    fi
  done
  export WINEPREFIX=$prefix WINEARCH=win64 WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
  WINEDLLPATH=$(realpath "$wow")
  export WINEDLLPATH
  if [ ! -f "$prefix/system.reg" ]; then
    mkdir -p "$prefix"
    wineboot -i >/dev/null 2>&1
    wineserver -w
  fi
  for name in bcryptprimitives icuuc; do
    cp "$WINE_CACHE/shims/$name.dll" "$prefix/drive_c/windows/system32/$name.dll"
  done
}

wine_run() { script -qec "$(printf '%q ' wine "$@")" /dev/null; }
