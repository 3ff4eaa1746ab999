#!/usr/bin/env bash
# Runs every check Runway has: formatting, go vet, staticcheck, and the
# whole Go test suite (unit, emulator integration, seed golden tests, the
# board in headless Chromium) with -race, against the Firestore and Pub/Sub
# emulators started once for the whole run. .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/preflight.sh
source scripts/lib/preflight.sh
require_go
require_emulators
require_chromium

echo "== gofmt"
unformatted=$(gofmt -l .)
[ -z "$unformatted" ] || die "these files need gofmt -w: $unformatted"

echo "== go vet"
go vet ./...

# staticcheck at the version pinned by the tool directive of go.mod; it
# fails the run when it cannot be built.
echo "== staticcheck"
go tool staticcheck ./...

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
