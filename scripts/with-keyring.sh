#!/usr/bin/env bash
# Runs a command against a fresh, unlocked gnome-keyring in the current D-Bus session.
# XDG_DATA_HOME points at a new temp dir: an existing login keyring with another password
# would stay locked.
set -euo pipefail
export XDG_DATA_HOME=${HOSTAPP_TEST_XDG:-$(mktemp -d /tmp/hostapp-keyring.XXXXXX)}
export HOSTAPP_KEYRING_PASSWORD=${HOSTAPP_KEYRING_PASSWORD:-hostapp-test}
eval "$(printf '%s' "$HOSTAPP_KEYRING_PASSWORD" | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL
export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}
set +e
"$@"
rc=$?
set -e
# The daemon exits with this D-Bus session (dbus-run-session); killing by name would also kill
# the daemons of other sessions running in parallel.
# pytest exits 5 when it collected nothing: that is a failure of the suite, not a pass.
exit $rc
