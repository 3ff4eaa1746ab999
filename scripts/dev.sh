#!/usr/bin/env bash
# Starts Runway's local stack: the Firestore and Pub/Sub emulators, every
# function on one port at the reference's paths, the demo data, and a local
# SMTP server that RUNWAY_SMTP_URL points at, which keeps the alert mail in
# .runway/mail/ (set RUNWAY_SMTP_URL to send through a real relay instead);
# then prints a dev token and a curl to paste. Ctrl-C stops everything.
#
#   RUNWAY_PORT=8080 scripts/dev.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/preflight.sh
source scripts/lib/preflight.sh
require_go
require_emulators

port=${RUNWAY_PORT:-8080}
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  die "port $port is already in use; choose another with RUNWAY_PORT=<port> scripts/dev.sh"
fi

mkdir -p .runway
echo "building ..." >&2
go build -o .runway/bin/ ./scripts/emulators ./scripts/devserver ./scripts/token

export RUNWAY_PROJECT=${RUNWAY_PROJECT:-runway-dev}
export RUNWAY_AUTH_MODE=dev
export RUNWAY_DEV_KEY_FILE=${RUNWAY_DEV_KEY_FILE:-.runway/dev-key.pem}
# Service account tokens made with scripts/token --credentials --audience
# http://127.0.0.1:$port are accepted too (their keys are fetched from Google).
export RUNWAY_AUDIENCES=${RUNWAY_AUDIENCES:-http://127.0.0.1:$port}
echo "starting the emulators ..." >&2
exec .runway/bin/emulators -logs .runway/logs -- .runway/bin/devserver -addr "127.0.0.1:$port"
