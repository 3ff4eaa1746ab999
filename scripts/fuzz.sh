#!/usr/bin/env bash
# Runs every fuzz target for the given time each (default 5s): request
# decoding and validation of every action, token verification, configuration
# definitions, durations. scripts/test.sh runs it briefly, scripts/soak.sh
# for minutes. Needs the emulators' variables set (FuzzVerify's package
# starts them otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-5s}
targets=(
  "FuzzEndpoint ./shared/api/"
  "FuzzParseDuration ./shared/api/"
  "FuzzVerify ./shared/auth/"
  "FuzzParse ./shared/configs/"
)
for target in "${targets[@]}"; do
  read -r name pkg <<<"$target"
  echo "== fuzz $name ($fuzztime)"
  go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" "$pkg"
done
