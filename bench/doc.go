// Package bench holds Runway's benchmarks. Its test file has the token
// verification micro-benchmarks (go test -run '^$' -bench . ./bench/),
// which plain go test does not run; cmd/runwaybench is the harness that
// measures the API against the emulators and writes RESULTS.md. Run both
// with scripts/bench.sh; see README.md.
package bench
