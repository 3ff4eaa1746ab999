#!/usr/bin/env bash
# Runs Runway's benchmarks against the Firestore and Pub/Sub emulators,
# started once for the run, and writes bench/RESULTS.md: launch latency and
# throughput against the floor of Firestore and Pub/Sub work a launch must
# do, status queries on 10 vs 10,000 runs, token verification, the
# footprint of a function process, and one pass of the Scheduler and of the
# Reaper. See bench/README.md.
#
# Arguments go to the harness (bench/cmd/runwaybench), e.g.
#   scripts/bench.sh -only launch,throughput -out /tmp/RESULTS.md
set -euo pipefail
started=$(date +%s.%N)
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/preflight.sh
source scripts/lib/preflight.sh
require_go
require_emulators

work=.runway/bench
mkdir -p "$work/bin"
echo "== build"
go build -o "$work/bin/emulators" ./scripts/emulators
go build -o "$work/bin/runwaybench" ./bench/cmd/runwaybench

echo "== benchmarks"
"$work/bin/emulators" -logs "$work/logs" -- "$work/bin/runwaybench" -started "$started" "$@"
echo "== done in $(awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.0f", e - s }') s"
