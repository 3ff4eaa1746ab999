.PHONY: dev test bench

# The local stack: emulators, every function on one port, demo data.
dev:
	scripts/dev.sh

# Every check and test, as CI runs them.
test:
	scripts/test.sh

# The benchmarks against the emulators; writes bench/RESULTS.md.
bench:
	scripts/bench.sh
