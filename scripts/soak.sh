#!/usr/bin/env bash
# The long reliability run: every fuzz target at 30 times its budget in
# scripts/test.sh, then the invariant and fault tests (concurrent launches
# and status changes, concurrent workflow completions, Firestore and Pub/Sub
# outages, a process killed mid-request) three times over with -race: about
# ten minutes on 2 cores. SOAK_FUZZ_SCALE and SOAK_ROUNDS change how long.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/preflight.sh
source scripts/lib/preflight.sh
require_go
require_emulators
mkdir -p .runway
go build -o .runway/bin/emulators ./scripts/emulators
start=$(date +%s)
.runway/bin/emulators -logs .runway/logs -- bash -c "
  scripts/fuzz.sh ${SOAK_FUZZ_SCALE:-30} &&
  echo '== invariants and faults, ${SOAK_ROUNDS:-3} rounds' &&
  go test -race -count=${SOAK_ROUNDS:-3} \
    -run 'Invariants|Outage|Killed|Concurrent|Duplicate|Silent|MarkPublished' \
    . ./functions/daglaunch/ ./functions/workflowtrigger/ ./functions/referenceexecutor/ ./functions/reaper/ ./functions/access/ \
    ./shared/store/"
echo "== soak clean in $(( $(date +%s) - start ))s"
