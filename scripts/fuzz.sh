#!/usr/bin/env bash
# Runs every fuzz target: request decoding and validation of every action,
# token verification, configuration definitions, durations, and JSON objects
# stored in the Firestore emulator (a few hundred: each is four round trips).
#
#   scripts/fuzz.sh [SCALE]   each target runs SCALE times its base budget
#
# scripts/test.sh runs it at scale 1 (a few seconds a target), scripts/soak.sh
# at 30 (one to three minutes a target). The budgets count executions, not seconds: Go 1.26's
# fuzz coordinator can fail a time-limited run with a spurious "context
# deadline exceeded" on a busy machine (golang/go#75804, fixed in Go 1.27).
# Needs the emulators' variables set (FuzzVerify's package starts them
# otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:-1}
targets=(
  # name              package           executions at scale 1
  "FuzzEndpoint       ./shared/api/     40000"
  "FuzzParseDuration  ./shared/api/     40000"
  "FuzzVerify         ./shared/auth/    10000"
  "FuzzParse          ./shared/configs/ 40000"
  "FuzzStoredObjects  ./shared/store/   100"
)
for target in "${targets[@]}"; do
  read -r name pkg execs <<<"$target"
  budget=$((execs * scale))
  echo "== fuzz $name ($budget executions)"
  go test -run='^$' -fuzz="^${name}\$" -fuzztime="${budget}x" "$pkg"
done
