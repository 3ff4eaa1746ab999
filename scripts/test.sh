#!/usr/bin/env bash
# Runs every check Runway has: formatting, go vet, staticcheck (when
# installed), and the whole Go test suite (unit, emulator integration, seed
# golden tests) with -race, against the Firestore and Pub/Sub emulators
# started once for the whole run. .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/preflight.sh
source scripts/lib/preflight.sh
require_go
require_emulators

echo "== gofmt"
unformatted=$(gofmt -l .)
[ -z "$unformatted" ] || die "these files need gofmt -w: $unformatted"

echo "== go vet"
go vet ./...

# staticcheck at a pinned version, built into .runway/bin from the Go module
# proxy the first time; without the proxy, a staticcheck on PATH is used.
staticcheck_version=v0.8.2
staticcheck=.runway/bin/staticcheck-$staticcheck_version
mkdir -p .runway/bin
if [ ! -x "$staticcheck" ]; then
  GOBIN=$PWD/.runway/bin go install "honnef.co/go/tools/cmd/staticcheck@$staticcheck_version" 2>/dev/null &&
    mv .runway/bin/staticcheck "$staticcheck" ||
    staticcheck=$(command -v staticcheck || true)
fi
if [ -n "$staticcheck" ]; then
  echo "== staticcheck"
  "$staticcheck" ./...
else
  echo "== staticcheck: not installed and the module proxy could not build it, skipped (go install honnef.co/go/tools/cmd/staticcheck@$staticcheck_version)"
fi

if command -v terraform >/dev/null; then
  echo "== terraform fmt"
  terraform fmt -check -recursive terraform
else
  echo "== terraform fmt: terraform not installed; the Go tests check the files against hclwrite.Format instead"
fi

echo "== go test (with the emulators)"
mkdir -p .runway
go build -o .runway/bin/emulators ./scripts/emulators
# Every test project is recorded, so that the last step can check that each
# composite index the whole suite's queries used is declared in Terraform.
projects=$PWD/.runway/test-projects.txt
: >"$projects"
.runway/bin/emulators -logs .runway/logs -- bash -c "
  RUNWAY_TEST_PROJECTS_FILE='$projects' go test -race -count=1 $* ./... &&
  echo '== every Firestore index the suite used is declared in terraform/firestore.tf' &&
  RUNWAY_INDEX_CHECK_PROJECTS='$projects' go test -count=1 -run TestIndexesCoverTheQueries ./terraform/ &&
  scripts/fuzz.sh ${FUZZ_SCALE:-1}"
