package main

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// benchLine is one benchmark's metrics over the runs: unit → values.
type benchLine map[string][]float64

// get returns the median of a metric, or NaN.
func (b benchLine) get(unit string) float64 { return median(b[unit]) }

type authFigures struct {
	benchmarks map[string]benchLine
	ratios     map[string][]float64 // verify ÷ floor ns/op, one per run of the test binary
	command    string
	runs       int
}

// authPairs are the verifications and the floor each is compared with.
var authPairs = map[string]string{
	"BenchmarkVerifyNewDevToken":            "BenchmarkFloorEd25519",
	"BenchmarkVerifyDevToken":               "BenchmarkFloorEd25519",
	"BenchmarkVerifyNewServiceAccountToken": "BenchmarkFloorRS256",
	"BenchmarkVerifyServiceAccountToken":    "BenchmarkFloorRS256",
	"BenchmarkVerifyNewGoogleIDToken":       "BenchmarkFloorRS256",
	"BenchmarkVerifyGoogleIDToken":          "BenchmarkFloorRS256",
}

var benchRE = regexp.MustCompile(`^(Benchmark[^\s-]+)(?:-\d+)?\s+(\d+)\s+(.*)$`)

// authSection builds the token verification micro-benchmarks of bench/
// once and runs them o.benchCount times, each run going through every
// benchmark with each floor next to its verifications, so that a ratio
// is taken within one run and the runs alternate over time.
func authSection(ctx context.Context, o options, rep *report) error {
	bin := filepath.Join(o.work, "bench.test")
	build := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, "./bench/")
	build.Dir = o.root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go test -c ./bench/: %v\n%s", err, out)
	}
	args := []string{"-test.run", "^$", "-test.bench", ".", "-test.benchmem", "-test.benchtime", o.benchtime, "-test.count", "1"}
	fig := &authFigures{benchmarks: map[string]benchLine{}, ratios: map[string][]float64{}, runs: o.benchCount,
		command: "go test -c ./bench/ && bench.test " + strings.Join(args, " ")}
	var all strings.Builder
	for i := range o.benchCount {
		log.Printf("auth: run %d of %d of the verification benchmarks", i+1, o.benchCount)
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir = filepath.Join(o.root, "bench")
		out, err := cmd.CombinedOutput()
		all.Write(out)
		if err != nil {
			_ = os.WriteFile(filepath.Join(o.work, "auth-bench.txt"), []byte(all.String()), 0o644)
			return fmt.Errorf("the verification benchmarks: %v\n%s", err, out)
		}
		run := map[string]benchLine{}
		sc := bufio.NewScanner(strings.NewReader(string(out)))
		for sc.Scan() {
			m := benchRE.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			line := benchLine{}
			fields := strings.Fields(m[3])
			for i := 0; i+1 < len(fields); i += 2 {
				if v, err := strconv.ParseFloat(fields[i], 64); err == nil {
					line[fields[i+1]] = append(line[fields[i+1]], v)
				}
			}
			run[m[1]] = line
			if fig.benchmarks[m[1]] == nil {
				fig.benchmarks[m[1]] = benchLine{}
			}
			for unit, v := range line {
				fig.benchmarks[m[1]][unit] = append(fig.benchmarks[m[1]][unit], v...)
			}
		}
		for verify, floor := range authPairs {
			if v, f := run[verify], run[floor]; v != nil && f != nil {
				fig.ratios[verify] = append(fig.ratios[verify], ratio(v.get("ns/op"), f.get("ns/op")))
			}
		}
	}
	_ = os.WriteFile(filepath.Join(o.work, "auth-bench.txt"), []byte(all.String()), 0o644)
	if len(fig.benchmarks) == 0 {
		return fmt.Errorf("no benchmark results in:\n%s", all.String())
	}
	rep.auth = fig
	return nil
}
