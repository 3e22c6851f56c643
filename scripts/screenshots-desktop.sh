#!/usr/bin/env bash
# Every screenshot in one command, from the real app: Xvfb + trayer (an XEmbed system tray) + the
# app on xcb, on the recorded RTX 4090 (HOSTAPP_FAKE_NVML), earning on the embedded grid.
#
#   bash scripts/screenshots-desktop.sh [OUT_DIR]      (default docs/screenshots)
#   HOSTAPP_SHOTS_EARN_SECONDS=600 bash scripts/screenshots-desktop.sh   (earn longer first; default 180)
#
# scripts/screenshots.py --real runs the app in a throwaway HOSTAPP_HOME: it drives the first-run
# wizard (wizard-*.png, one per step: a new wallet in the real keyring, schedule Always), lets the node
# earn on the embedded grid (real Docker jobs, LiteSVM payouts), then saves every page at the window's
# default size (dashboard.png … settings-advanced.png, tray-menu.png). Then this script takes the X
# screen: desktop-tray.png (the icon in trayer's panel), desktop-tray-menu.png (right-click menu,
# Pause submenu open) and desktop-dashboard.png (the window opened from the menu). Qt 6 on X11 with
# no StatusNotifierWatcher on the session bus docks its QSystemTrayIcon by XEmbed, which trayer hosts.
# Needs Docker and the local images (scripts/build-images.sh); takes about 4 minutes plus the earning.
#
# Installs what is missing (apt-get: xvfb trayer imagemagick xdotool dbus). Everything it starts
# (Xvfb, trayer, the app's D-Bus session) is stopped by PID on exit: other sessions may run Xvfb too.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mkdir -p "${1:-$ROOT/docs/screenshots}" && cd "${1:-$ROOT/docs/screenshots}" && pwd)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
WIDTH=1280
HEIGHT=800

die() {
    echo "screenshots-desktop: $*" >&2
    exit 1
}

# --- tools ------------------------------------------------------------------------------------
# `import` (ImageMagick) is checked rather than `convert`: some machines have a stand-in `convert`.
missing=()
for pair in Xvfb:xvfb trayer:trayer import:imagemagick xdotool:xdotool dbus-run-session:dbus; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if ((${#missing[@]})); then
    echo "installing ${missing[*]}"
    SUDO=()
    [ "$(id -u)" -eq 0 ] || SUDO=(sudo)
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" \
        >/dev/null || die "could not install ${missing[*]}: install them with apt-get and run again"
fi
[ -x "$PYTHON" ] || die "no Python at $PYTHON: run scripts/setup.sh first (or set PYTHON)"
MAGICK_DIR=$(dirname "$(command -v import)")

# --- cleanup: only what this script started, by PID -------------------------------------------
XVFB_PID="" TRAYER_PID="" APP_SID="" APP_PID="" WORK=""
cleanup() {
    set +e
    if [ -n "$APP_PID" ]; then
        kill -TERM "$APP_PID" 2>/dev/null # the app quits cleanly on SIGTERM: the node stops its job
        for _ in $(seq 600); do kill -0 "$APP_PID" 2>/dev/null || break; sleep 0.1; done
    fi
    # The app runs in its own session (setsid): its group is dbus-run-session, dbus-daemon, the
    # keyring wrapper and Python; gnome-keyring-daemon exits with that bus.
    [ -n "$APP_SID" ] && kill -TERM -- "-$APP_SID" 2>/dev/null
    [ -n "$TRAYER_PID" ] && kill -TERM "$TRAYER_PID" 2>/dev/null
    [ -n "$XVFB_PID" ] && kill -TERM "$XVFB_PID" 2>/dev/null
    wait 2>/dev/null
    [ -n "$WORK" ] && rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
WORK=$(mktemp -d /tmp/hostapp-desktop-shots.XXXXXX)

# --- X server on a free display ---------------------------------------------------------------
for n in $(seq 90 199); do
    [ -e "/tmp/.X$n-lock" ] || [ -e "/tmp/.X11-unix/X$n" ] && continue
    Xvfb ":$n" -screen 0 "${WIDTH}x${HEIGHT}x24" -nolisten tcp -noreset >"$WORK/xvfb.log" 2>&1 &
    XVFB_PID=$!
    for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X$n" ] && break; sleep 0.1; done
    if kill -0 "$XVFB_PID" 2>/dev/null && [ -e "/tmp/.X11-unix/X$n" ]; then
        export DISPLAY=":$n"
        break
    fi
    XVFB_PID="" # another session took this display in between: try the next one
done
[ -n "${DISPLAY:-}" ] && [ -n "$XVFB_PID" ] || die "no free X display between :90 and :199"
echo "Xvfb on $DISPLAY (pid $XVFB_PID)"

# A desktop-like background; `display -window root` sets it and exits.
if [ -x "$MAGICK_DIR/convert" ]; then
    "$MAGICK_DIR/convert" -size "${WIDTH}x${HEIGHT}" "gradient:#33485e-#1d2733" "$WORK/background.png" &&
        { display -window root "$WORK/background.png" >/dev/null 2>&1 || true; }
fi

# --- tray host --------------------------------------------------------------------------------
trayer --edge top --align right --widthtype percent --width 100 --height 24 --transparent true --alpha 0 \
    --tint 0x303030 --SetDockType true --SetPartialStrut true >"$WORK/trayer.log" 2>&1 &
TRAYER_PID=$!
for _ in $(seq 50); do xdotool search --classname '^panel$' >/dev/null 2>&1 && break; sleep 0.1; done
PANEL=$(xdotool search --classname '^panel$' | head -n1) || die "trayer did not start: $(cat "$WORK/trayer.log")"

# --- the app ----------------------------------------------------------------------------------
export QT_QPA_PLATFORM=xcb
export HOSTAPP_HOME="$WORK/home"
export HOSTAPP_FAKE_NVML=${HOSTAPP_FAKE_NVML:-$ROOT/tests/fixtures/nvml/rtx4090.json}
EARN=${HOSTAPP_SHOTS_EARN_SECONDS:-180}
export HOSTAPP_SHOTS_EARN_SECONDS=$EARN
mkdir -p "$HOSTAPP_HOME"
launcher=(dbus-run-session --)
if command -v gnome-keyring-daemon >/dev/null 2>&1; then
    launcher+=(bash "$ROOT/scripts/with-keyring.sh") # a wallet for the demo data, as screenshots.py
fi
setsid "${launcher[@]}" "$PYTHON" "$ROOT/scripts/screenshots.py" --real "$OUT" >"$WORK/app.log" 2>&1 &
APP_SID=$!
LIMIT=$((${EARN%.*} + 420)) # the wizard's checks, the first job, every page: well under 7 minutes
for _ in $(seq $((LIMIT * 10))); do
    grep -q '^ready ' "$WORK/app.log" && break
    kill -0 "$APP_SID" 2>/dev/null || die "the app exited: $(tail -n 20 "$WORK/app.log")"
    sleep 0.1
done
grep -v '^ready ' "$WORK/app.log" | grep -E '\.png$|^screenshots:' || true
APP_PID=$(sed -n 's/^ready \([0-9]*\)$/\1/p' "$WORK/app.log")
[ -n "$APP_PID" ] || die "the app was not ready within $LIMIT s: $(tail -n 20 "$WORK/app.log")"

# The icon: the app's visible window embedded inside trayer's panel.
inside_panel() { # window id -> true if its top-left lies in the panel
    local X Y WIDTH HEIGHT SCREEN WINDOW px py pw ph
    eval "$(xdotool getwindowgeometry --shell "$PANEL")"
    px=$X py=$Y pw=$WIDTH ph=$HEIGHT
    eval "$(xdotool getwindowgeometry --shell "$1")"
    ((X >= px && X < px + pw && Y >= py && Y < py + ph))
}
ICON=""
for _ in $(seq 100); do
    for w in $(xdotool search --onlyvisible --classname '^hostapp$' 2>/dev/null); do
        if inside_panel "$w"; then ICON=$w; break 2; fi
    done
    sleep 0.1
done
[ -n "$ICON" ] || die "the tray icon did not appear in trayer's panel (no XEmbed tray icon?)"
echo "tray icon: window $ICON"
sleep 1 # let both paint

shot() {
    import -window root "$OUT/$1"
    echo "$OUT/$1"
}
shot desktop-tray.png

# --- the menu: right-click the icon, then open the Pause submenu with the keyboard -------------
xdotool mousemove --window "$ICON" 11 20 click 3 # low on the icon: the menu opens below it
sleep 1
xdotool key Down Right # first enabled entry (Pause in state Working) and its submenu
sleep 1
shot desktop-tray-menu.png

# --- the dashboard: the menu's "Open dashboard" (left-click on the icon if that did not open it)
dashboard_window() {
    local w X Y WIDTH HEIGHT SCREEN WINDOW
    for w in $(xdotool search --onlyvisible --name '^hostapp$' 2>/dev/null); do
        eval "$(xdotool getwindowgeometry --shell "$w")"
        if ((WIDTH >= 800)); then
            echo "$w"
            return 0
        fi
    done
    return 1
}
xdotool key Left Down Return # back from the submenu, down to "Open dashboard", choose it
for _ in $(seq 50); do dashboard_window >/dev/null && break; sleep 0.1; done
if ! dashboard_window >/dev/null; then
    echo "the menu did not open the dashboard: left-clicking the icon"
    xdotool key Escape Escape
    xdotool mousemove --window "$ICON" 11 11 click 1
    for _ in $(seq 50); do dashboard_window >/dev/null && break; sleep 0.1; done
    dashboard_window >/dev/null || die "the dashboard window did not open"
fi
xdotool mousemove 1200 700 # pointer off the window (no hover highlight in the picture)
sleep 2
shot desktop-dashboard.png
