#!/usr/bin/env bash
# `make soak`: the journey tier (tests/journeys) for an hour instead of two minutes, printing the
# app's RSS and CPU over time.
#
#   bash scripts/soak.sh [PYTEST_ARGS...]
#
# Defaults (override through the environment):
#   HOSTAPP_JOURNEY_SECONDS=3600          how long each journey earns before it pauses and reconciles
#   HOSTAPP_SOAK_SELECT='tray and rtx4090' which journeys (pytest -k): the tray app under Xvfb + trayer,
#                                         window open on Earnings; 'journey' runs all four
#   HOSTAPP_JOURNEY_SHOTS=/tmp/hostapp-journey-shots   screenshots and figures-*.tsv are kept here
#   HOSTAPP_JOURNEY_REPORT_SECONDS        one table row every so often (default: duration / 20)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HOSTAPP_JOURNEY_SECONDS=${HOSTAPP_JOURNEY_SECONDS:-3600}
export HOSTAPP_JOURNEY_SHOTS=${HOSTAPP_JOURNEY_SHOTS:-/tmp/hostapp-journey-shots}
select=${HOSTAPP_SOAK_SELECT:-tray and rtx4090}
mkdir -p "$HOSTAPP_JOURNEY_SHOTS"
echo "soak: journeys '$select', ${HOSTAPP_JOURNEY_SECONDS} s each; figures and screenshots in $HOSTAPP_JOURNEY_SHOTS"
set +e
# -s: the table rows (elapsed, RSS, CPU, earned, state) print as they are sampled.
dbus-run-session -- bash scripts/with-keyring.sh .venv/bin/pytest -s -q -p no:cacheprovider tests/journeys \
    -k "$select" "$@"
rc=$?
set -e
for table in "$HOSTAPP_JOURNEY_SHOTS"/figures-*.tsv; do
    [ -e "$table" ] || continue
    echo "== $table"
    cat "$table"
done
ls "$HOSTAPP_JOURNEY_SHOTS"/*.png 2>/dev/null || true
exit $rc
